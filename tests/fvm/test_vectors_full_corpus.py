"""The public test-vector corpus beyond the shared archive's sample.

The shared archive holds 687 of the 858 vectors of filecoin-project/test-vectors
(commit 195bc065). The other 171, listed in ``full_corpus_extra.txt``, are run
here when $CHAINVM_FVM_FULL_CORPUS names a copy of that corpus folder, made
outside the repository (it is never committed), e.g.::

    git clone https://github.com/filecoin-project/test-vectors /tmp/tv
    git -C /tmp/tv archive 195bc065 corpus | tar x -C /tmp/fvm-corpus
    CHAINVM_FVM_FULL_CORPUS=/tmp/fvm-corpus/corpus pytest tests/fvm/test_vectors_full_corpus.py

Without the variable every test here is skipped with that instruction; with
it, a listed vector missing from the folder is a failure, not a skip, so a
wrong or partial copy cannot pass quietly. Each vector must pass in every
variant, except that failures of vectors hinted 'incorrect' by the suite's
authors are reported as skips (lotus's conformance runner skips them too).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chainvm.fvm.vector import corpus_dir, run_vector_file

HERE = Path(__file__).parent
ENV_VAR = "CHAINVM_FVM_FULL_CORPUS"
EXTRA = [
    line.strip()
    for line in (HERE / "full_corpus_extra.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def _corpus() -> Path:
    env = os.environ.get(ENV_VAR)
    if not env:
        pytest.skip(
            f"full Filecoin corpus not configured: set {ENV_VAR} to the 'corpus' folder of "
            "filecoin-project/test-vectors@195bc065 (see this module's docstring)"
        )
    root = Path(env)
    if not root.is_dir():
        pytest.fail(f"{ENV_VAR}={env} is not a folder")
    return root


def test_extra_list_is_disjoint_from_archive() -> None:
    assert EXTRA, "full_corpus_extra.txt is empty"
    assert len(EXTRA) == len(set(EXTRA))
    assert all(name.endswith(".json") and not name.startswith("/") for name in EXTRA)
    archive = corpus_dir()
    if not archive.is_dir():
        pytest.skip(f"shared archive corpus not found at {archive}")
    in_archive = [name for name in EXTRA if (archive / name).exists()]
    assert not in_archive, f"already run from the shared archive: {in_archive}"


@pytest.mark.parametrize("name", EXTRA)
def test_full_corpus_vector(name: str) -> None:
    path = _corpus() / name
    assert path.is_file(), f"{name} missing from {path.parent}: not the full corpus?"
    results = run_vector_file(path, name)
    assert results
    failures = [r for r in results if not r.passed]
    if failures and "incorrect" in (json.loads(path.read_text()).get("hints") or []):
        pytest.skip(
            "hinted 'incorrect' by the suite's authors and fails: "
            + "; ".join(f"[{r.variant}] {r.error}" for r in failures)
        )
    assert not failures, "; ".join(f"[{r.variant}] {r.error}" for r in failures)
