"""State-test conformance over the shared fixture archives.

By default a fixed stratified sample runs: within every folder of every
archive, every SAMPLE_EVERY-th file in sorted order (so each folder and each
fork keeps about that share of its cases). CHAINVM_STATE_SAMPLE=1 runs
everything. Failures must be listed in known_failures.txt with a reason; a
listed case that passes fails the suite too, so the list stays honest.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from chainvm.evm.statetest import run_file
from chainvm.testing.fixtures import ethereum_tests

ARCHIVES = ["state-legacy-constantinople", "state-legacy-cancun", "state-2024"]
SAMPLE_EVERY = int(os.environ.get("CHAINVM_STATE_SAMPLE", "4"))
KNOWN_FAILURES_FILE = Path(__file__).with_name("known_failures.txt")


def load_known_failures() -> dict[str, str]:
    known: dict[str, str] = {}
    for line in KNOWN_FAILURES_FILE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        case_id, _, reason = line.partition(" # ")
        known[case_id.strip()] = reason.strip()
    return known


# Files that take more than a minute each on one core (billions of BLAKE2 rounds, tens of
# thousands of calls, minutes-long loops). In the sample each is replaced by the next file
# of its folder, so every folder keeps its share; the full run includes them.
SLOW_FILES = {
    "CALLBlake2f_MaxRounds.json", "loopExp.json", "loopMul.json", "static_Call50000.json",
    "static_Call50000_sha256.json", "static_Call50000_identity.json",
    "static_Call50000_rip160.json", "static_Call50000_ecrec.json",
    "static_Call50000bytesContract50_3.json", "Call50000_sha256.json", "Call50000_ecrec.json",
}


def sample_files(root: Path) -> list[Path]:
    by_folder: dict[Path, list[Path]] = defaultdict(list)
    for path in root.rglob("*.json"):
        by_folder[path.parent].append(path)
    chosen: list[Path] = []
    for folder in sorted(by_folder):
        files = sorted(by_folder[folder])
        if SAMPLE_EVERY == 1:
            chosen.extend(files)
            continue
        taken: set[Path] = set()
        for start in range(0, len(files), SAMPLE_EVERY):
            for candidate in files[start:] + files[:start]:
                if candidate.name not in SLOW_FILES and candidate not in taken:
                    taken.add(candidate)
                    chosen.append(candidate)
                    break
    return chosen


def _params() -> list[object]:
    params: list[object] = []
    for archive in ARCHIVES:
        root = ethereum_tests(archive)
        if root is None:
            params.append(pytest.param(None, archive, marks=pytest.mark.skip(
                reason=f"fixture archive {archive} not found under ../shared/fixtures "
                       "(set CHAINVM_FIXTURES)")))
            continue
        for path in sample_files(root):
            rel = path.relative_to(root.parent).as_posix()
            params.append(pytest.param(path, rel, id=rel))
    return params


KNOWN = load_known_failures()


@pytest.mark.parametrize("path,rel", _params())
def test_state_fixture_file(path: Path, rel: str) -> None:
    unexpected: list[str] = []
    fixed: list[str] = []
    for result in run_file(path):
        case_id = f"{rel}::{result.name}::{result.fork}::{result.index}"
        if result.passed and case_id in KNOWN:
            fixed.append(case_id)
        elif not result.passed and case_id not in KNOWN:
            unexpected.append(f"{case_id}: {result.error}")
    assert not unexpected, "unexpected failures:\n" + "\n".join(unexpected)
    assert not fixed, "now passing; remove from known_failures.txt:\n" + "\n".join(fixed)


def test_known_failures_have_reasons() -> None:
    for case_id, reason in KNOWN.items():
        assert reason, f"{case_id} has no reason"
