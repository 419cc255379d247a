"""Extracted mainnet vectors for every method this VM implements.

Vectors live under ``extracted/<batch>/<actor>/<method>/<outcome>/``; every
vector of an implemented method must pass in every variant. Every method
the corpus extracted is listed (all at network versions 0 to 2, actors v0);
a method added to a future corpus is not selected until it is listed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chainvm.fvm.vector import corpus_dir, run_vector_file

ALL = None
# method -> outcomes covered (None: every outcome)
IMPLEMENTED: dict[str, set[str] | None] = {
    "Send": ALL,
    "Exec": ALL,
    "AddBalance": ALL,
    "AddLockedFund": ALL,
    "ChangeMultiaddrs": ALL,
    "ChangePeerID": ALL,
    "ChangeWorkerAddress": ALL,
    "CreateMiner": ALL,
    "WithdrawBalance": ALL,
    "PreCommitSector": ALL,
    "ProveCommitSector": ALL,
    "DeclareFaults": ALL,
    "DeclareFaultsRecovered": ALL,
    "SubmitWindowedPoSt": ALL,
    "PublishStorageDeals": ALL,
}
# outcomes decided by the VM before the method runs (sender checks, funds
# for gas), whatever the method
VM_OUTCOMES = {"SysErrInsufficientFunds", "SysErrSenderInvalid", "SysErrSenderStateInvalid"}


def _names() -> list[str]:
    root = corpus_dir() / "extracted"
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.rglob("*.json")):
        _batch, _actor, method, outcome = p.relative_to(root).parts[:4]
        outcomes = IMPLEMENTED.get(method, set())
        if outcome in VM_OUTCOMES or (
            method in IMPLEMENTED and (outcomes is None or outcome in outcomes)
        ):
            out.append(str(p.relative_to(corpus_dir())))
    return out


NAMES = _names()


@pytest.mark.parametrize("name", NAMES or ["<corpus not found>"])
def test_extracted_vector(name: str) -> None:
    path: Path = corpus_dir() / name
    if not path.is_file():
        pytest.skip(f"Filecoin test vectors not found at {corpus_dir()}")
    results = run_vector_file(path, name)
    failures = [r for r in results if not r.passed]
    assert results
    assert not failures, "; ".join(f"[{r.variant}] {r.error}" for r in failures)
