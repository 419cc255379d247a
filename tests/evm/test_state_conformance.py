"""State-test conformance over the shared fixture archives.

By default a fixed stratified sample runs: within every folder of every
archive, every SAMPLE_EVERY-th file in sorted order (so each folder and each
fork keeps about that share of its cases). CHAINVM_STATE_SAMPLE=1 runs
everything. Failures must be listed in known_failures.txt with a reason; a
listed case that passes fails the suite too, so the list stays honest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chainvm.evm.statetest import run_file
from tests.conformance import check_against_known, file_params, load_known_failures

ARCHIVES = ["state-legacy-constantinople", "state-legacy-cancun", "state-2024"]
SAMPLE_EVERY = int(os.environ.get("CHAINVM_STATE_SAMPLE", "4"))
KNOWN = load_known_failures(Path(__file__).with_name("known_failures.txt"))

# Files that take more than a minute each on one core (billions of BLAKE2 rounds, tens of
# thousands of calls, minutes-long loops). In the sample each is replaced by the next file
# of its folder, so every folder keeps its share; the full run includes them.
SLOW_FILES = frozenset({
    "CALLBlake2f_MaxRounds.json", "loopExp.json", "loopMul.json", "static_Call50000.json",
    "static_Call50000_sha256.json", "static_Call50000_identity.json",
    "static_Call50000_rip160.json", "static_Call50000_ecrec.json",
    "static_Call50000bytesContract50_3.json", "Call50000_sha256.json", "Call50000_ecrec.json",
})


@pytest.mark.parametrize("path,rel", file_params(ARCHIVES, SAMPLE_EVERY, SLOW_FILES))
def test_state_fixture_file(path: Path, rel: str) -> None:
    check_against_known(
        ((f"{rel}::{r.name}::{r.fork}::{r.index}", r.passed, f": {r.error}")
         for r in run_file(path)), KNOWN)


def test_known_failures_have_reasons() -> None:
    for case_id, reason in KNOWN.items():
        assert reason, f"{case_id} has no reason"
