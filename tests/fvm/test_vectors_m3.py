"""The next milestone's vectors: tipsets (messages, block rewards and cron)
and the extracted init.Exec vectors. They must all pass, except vectors the
suite's authors hinted 'incorrect' (lotus skips those too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainvm.fvm.vector import corpus_dir, run_vector_file


def _m3_vectors() -> list[str]:
    corpus = corpus_dir()
    if not corpus.is_dir():
        return []
    names = []
    for pattern in (
        "msg_application/*.json",
        "reward/*.json",
        "extracted/0002-init-actor/**/*.json",
    ):
        for p in sorted(corpus.glob(pattern)):
            vector = json.loads(p.read_text())
            if vector.get("class") == "tipset" or "0002-init-actor" in pattern:
                names.append(str(p.relative_to(corpus)))
    return names


NAMES = _m3_vectors()


@pytest.mark.parametrize("name", NAMES or ["<corpus not found>"])
def test_m3_vector(name: str) -> None:
    path: Path = corpus_dir() / name
    if not path.is_file():
        pytest.skip(f"Filecoin test vectors not found at {corpus_dir()}")
    if "incorrect" in (json.loads(path.read_text()).get("hints") or []):
        pytest.skip("vector hinted 'incorrect' by the test-vector authors")
    results = run_vector_file(path, name)
    failures = [r for r in results if not r.passed]
    assert results
    assert not failures, "; ".join(f"[{r.variant}] {r.error}" for r in failures)
