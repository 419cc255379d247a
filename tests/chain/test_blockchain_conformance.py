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
from pathlib import Path

import pytest

from chainvm.chain.block import Block, BlockDecodeError, transactions_root
from chainvm.chain.blocktest import expected_exception, genesis_of, run_file
from chainvm.chain.chain import Chain
from chainvm.chain.processing import InvalidBlock
from chainvm.evm.statetest import parse_bytes
from chainvm.testing.fixtures import ethereum_tests
from tests.conformance import check_against_known, file_params, load_known_failures, sample_files

ARCHIVES = ["blockchain-legacy-constantinople", "blockchain-legacy-cancun", "blockchain-2024"]
SAMPLE_EVERY = int(os.environ.get("CHAINVM_BLOCK_SAMPLE", "4"))
KNOWN = load_known_failures(Path(__file__).with_name("known_failures.txt"))


@pytest.mark.parametrize("path,rel", file_params(ARCHIVES, SAMPLE_EVERY))
def test_blockchain_fixture_file(path: Path, rel: str) -> None:
    check_against_known(
        ((f"{rel}::{r.name}", r.passed, f" [{r.network}]: {r.error}") for r in run_file(path)),
        KNOWN)


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
        for path in sample_files(root, SAMPLE_EVERY):
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
