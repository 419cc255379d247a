"""Blockchain-test conformance over the shared fixture archives.

A fixed stratified sample runs by default: every SAMPLE_EVERY-th file, in
sorted order, of every folder of every archive. CHAINVM_BLOCK_SAMPLE=1 runs
everything. Failing cases must be listed in known_failures.txt with a reason;
a listed case that passes fails the suite too.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from chainvm.chain.blocktest import run_file
from chainvm.testing.fixtures import ethereum_tests

ARCHIVES = ["blockchain-legacy-constantinople", "blockchain-legacy-cancun", "blockchain-2024"]
SAMPLE_EVERY = int(os.environ.get("CHAINVM_BLOCK_SAMPLE", "4"))
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


def sample_files(root: Path) -> list[Path]:
    by_folder: dict[Path, list[Path]] = defaultdict(list)
    for path in root.rglob("*.json"):
        by_folder[path.parent].append(path)
    chosen: list[Path] = []
    for folder in sorted(by_folder):
        chosen.extend(sorted(by_folder[folder])[::SAMPLE_EVERY])
    return chosen


def _params() -> list[object]:
    params: list[object] = []
    for archive in ARCHIVES:
        root = ethereum_tests(archive)
        if root is None:
            params.append(pytest.param(None, archive, marks=pytest.mark.skip(
                reason=f"fixture archive {archive} not found under ../shared/fixtures")))
            continue
        for path in sample_files(root):
            rel = path.relative_to(root.parent).as_posix()
            params.append(pytest.param(path, rel, id=rel))
    return params


KNOWN = load_known_failures()


@pytest.mark.parametrize("path,rel", _params())
def test_blockchain_fixture_file(path: Path, rel: str) -> None:
    unexpected: list[str] = []
    fixed: list[str] = []
    for result in run_file(path):
        case_id = f"{rel}::{result.name}"
        if result.passed and case_id in KNOWN:
            fixed.append(case_id)
        elif not result.passed and case_id not in KNOWN:
            unexpected.append(f"{case_id} [{result.network}]: {result.error}")
    assert not unexpected, "unexpected failures:\n" + "\n".join(unexpected)
    assert not fixed, "now passing; remove from known_failures.txt:\n" + "\n".join(fixed)


def test_known_failures_have_reasons() -> None:
    for case_id, reason in KNOWN.items():
        assert reason, f"{case_id} has no reason"
