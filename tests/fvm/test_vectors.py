"""Conformance over the TARGET-M2 test vectors.

The corpus is read from $CHAINVM_FVM_FIXTURES (or the git-ignored
``.fixtures/filecoin-test-vectors``, extracted from ../shared on first use).
Each vector must pass in every variant unless it is listed, with its
reason, in known_failures.txt; a listed vector that passes is an error too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chainvm.fvm.vector import TARGET_LIST, corpus_dir, run_vector_file, target_list
from tests.conformance import load_known_failures

HERE = Path(__file__).parent


KNOWN = load_known_failures(HERE / "known_failures.txt")
TARGETS = target_list()


def _corpus() -> Path:
    corpus = corpus_dir()
    if not corpus.is_dir():
        pytest.skip(
            f"Filecoin test vectors not found at {corpus}: set CHAINVM_FVM_FIXTURES or "
            f"provide {TARGET_LIST.parent}/corpus.tar.xz"
        )
    return corpus


def test_target_list_present() -> None:
    if not TARGETS:
        pytest.skip(f"{TARGET_LIST} not found")
    assert len(TARGETS) == len(set(TARGETS))
    unknown = set(KNOWN) - set(TARGETS)
    assert not unknown, f"known_failures.txt lists vectors outside TARGET-M2: {sorted(unknown)}"


@pytest.mark.parametrize("name", TARGETS or ["<no TARGET-M2.txt>"])
def test_vector(name: str) -> None:
    if not TARGETS:
        pytest.skip(f"{TARGET_LIST} not found")
    corpus = _corpus()
    results = run_vector_file(corpus / name, name)
    failures = [r for r in results if not r.passed]
    if name in KNOWN:
        assert failures, f"{name} is listed as a known failure ({KNOWN[name]}) but now passes"
        return
    assert results
    assert not failures, "; ".join(f"[{r.variant}] {r.error}" for r in failures)
