"""The plugin is declared where pytest finds it once chainvm is installed."""

import tomllib
from pathlib import Path


def test_pytest11_entry_point_declared() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {
        "chainvm": "chainvm.testing.pytest_plugin"}
