"""The Python example of docs/fvm.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "fvm.md"


def test_doc_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    if not DOC.is_file():
        pytest.skip("docs/fvm.md not found")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert blocks
    for code in blocks:
        # running the documentation is the point of this test
        exec(compile(code, str(DOC), "exec"), {})  # noqa: S102
    assert capsys.readouterr().out


def test_api_docstring_example() -> None:
    import doctest

    from chainvm.fvm import api

    result = doctest.testmod(api)
    assert result.attempted and not result.failed
