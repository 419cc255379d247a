"""Blockchain-test conformance over the shared fixture archives.

A fixed stratified sample runs by default: every SAMPLE_EVERY-th file, in
sorted order, of every folder of every archive. CHAINVM_BLOCK_SAMPLE=1 runs
everything. Failing cases must be listed in known_failures.txt with a reason;
a listed case that passes fails the suite too.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from chainvm.chain.block import Block, BlockDecodeError, transactions_root
from chainvm.chain.blocktest import expected_exception, genesis_of, run_file
from chainvm.chain.chain import Chain
from chainvm.chain.processing import InvalidBlock
from chainvm.evm.statetest import parse_bytes
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


def _tx_level(expected: str | None) -> bool:
    return expected is not None and ("TR_" in expected or "TransactionException" in expected)


def _tx_level_params() -> list[object]:
    params: list[object] = []
    for archive in ARCHIVES:
        root = ethereum_tests(archive)
        if root is None:
            continue
        for path in sample_files(root):
            if "InvalidBlocks" in path.parts or "TransitionTests" in path.parts:
                text = path.read_text()
                if "TR_" in text or "TransactionException" in text:
                    rel = path.relative_to(root.parent).as_posix()
                    params.append(pytest.param(path, id=rel))
    return params


@pytest.mark.parametrize("path", _tx_level_params())
def test_invalid_transactions_rejected_for_their_own_reason(path: Path) -> None:
    """Fillers leave an invalid transaction out of the header's transactions root, so such
    a block already fails on that root. Re-rooted over its real body, it must still fail,
    and on a transaction."""
    checked = 0
    for name, test in json.loads(path.read_text()).items():
        network = test["network"]
        config, genesis, state = genesis_of(test)
        chain = Chain.from_genesis(config, genesis, state)
        for entry in test["blocks"]:
            expected = expected_exception(entry, network)
            try:
                block = Block.decode(parse_bytes(entry["rlp"]))
            except BlockDecodeError:
                continue
            if _tx_level(expected):
                header = dataclasses.replace(block.header, _hash=None,
                                             transactions_root=transactions_root(
                                                 block.transactions))
                rerooted = dataclasses.replace(block, header=header)
                with pytest.raises(InvalidBlock, match=r"^transaction \d+: "):
                    chain.import_block(rerooted)
                checked += 1
            try:
                chain.import_block(block)
            except InvalidBlock:
                assert expected is not None, f"{name}: valid block rejected"
    assert checked, "no transaction-level expectation found"
