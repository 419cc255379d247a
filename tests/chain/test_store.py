"""The LMDB store: reopen after a clean close, and after a writer killed mid-import."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainvm.chain.builder import build_block, make_genesis
from chainvm.chain.chain import Chain
from chainvm.state.state import State

from .helpers import ADDRS, transfer
from .store_writer import genesis_args

pytest.importorskip("lmdb")
ROOT = Path(__file__).resolve().parents[2]


def check_consistent(chain: Chain) -> None:
    head = chain.head
    assert head.state.state_root() == head.header.state_root
    assert chain.get_block_by_number(head.number + 1) is None
    for number in range(head.number + 1):
        stored = chain.get_block_by_number(number)
        assert stored is not None and stored.number == number
        assert stored.state.state_root() == stored.header.state_root, number
        if number:
            assert stored.header.parent_hash == chain.canonical[number - 1]
            assert len(stored.receipts) == len(stored.block.transactions)


def test_reopen_after_close(tmp_path: Path) -> None:
    config, genesis, state = genesis_args()
    chain = Chain.open(tmp_path, config, genesis, state)
    tx = transfer(0, 0)
    chain.import_block(build_block(chain, [tx]).block)
    head = chain.head_hash
    chain.close()
    again = Chain.open(tmp_path)
    assert again.head_hash == head and again.config == config
    found = again.get_transaction(tx.hash)
    assert found is not None and found[1].succeeded
    check_consistent(again)
    again.set_head(genesis.hash)  # a fork choice is persisted too
    again.close()
    third = Chain.open(tmp_path)
    assert third.head_hash == genesis.hash and third.get_block_by_number(0).hash == genesis.hash
    assert third.get_block_by_number(1) is None and third.get_transaction(tx.hash) is None
    assert third.get_block(head) is not None
    third.close()
    other = make_genesis(config, State())
    with pytest.raises(ValueError, match="another genesis"):
        Chain.open(tmp_path, config, other, State())


def test_killed_writer_restarts_on_last_committed_block(tmp_path: Path) -> None:
    rng = random.Random(7)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    last_seen = 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "tests.chain.store_writer", str(tmp_path)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        target = last_seen + rng.randint(2, 5)
        reported = last_seen
        while reported < target:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            reported = int(line)
        time.sleep(rng.uniform(0.0, 0.05))  # land somewhere inside the next import
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        chain = Chain.open(tmp_path)
        check_consistent(chain)
        assert chain.head.number >= reported  # nothing reported as committed was lost
        # The reopened chain goes on: one more block on top of what survived.
        state = chain.state()
        txs = [transfer(k, state.nonce(ADDRS[k]), to=b"\x99" * 20) for k in range(2)]
        chain.import_block(build_block(chain, txs).block)
        last_seen = chain.head.number
        chain.close()
    assert last_seen >= 8


def test_a_full_map_grows_instead_of_failing(tmp_path: Path) -> None:
    """A write that does not fit the LMDB map doubles the map and is made again whole
    (it used to fail every later write with MapFullError)."""
    from chainvm.chain.store import Commit, LmdbStore, decode_state

    config, genesis, _state = genesis_args()
    store = LmdbStore(tmp_path, map_size=64 * 1024)
    start = store.env.info()["map_size"]
    big = State()
    for i in range(200):  # 200 accounts of 1 KiB code: past 64 KiB at once
        big.set_code(i.to_bytes(20, "big"), bytes([i % 256]) * 1024)
    store.initialise(config, Commit(genesis.encode(), genesis.hash, 0, "Cancun", [], big,
                                    {0: genesis.hash}, genesis.hash))
    assert store.env.info()["map_size"] > start
    store.close()
    reopened = LmdbStore(tmp_path)
    assert reopened.head() == genesis.hash
    assert len(decode_state(reopened.state_record(genesis.hash)).accounts) == 200
    reopened.close()


def test_reorgs_across_reopens(tmp_path: Path) -> None:
    """Canonical numbers, transaction lookups and states read back lazily follow fork
    choices made before and after a reopen."""
    config, genesis, state = genesis_args()
    chain = Chain.open(tmp_path, config, genesis, state)
    a_txs = [transfer(0, 0), transfer(0, 1)]
    a1 = chain.import_block(build_block(chain, [a_txs[0]]).block)
    a2 = chain.import_block(build_block(chain, [a_txs[1]]).block)
    chain.close()
    chain = Chain.open(tmp_path)
    b_tx = transfer(1, 0, value=5)
    b1 = chain.import_block(build_block(chain, [b_tx], parent_hash=genesis.hash).block)
    assert chain.head_hash == b1.hash  # proof of stake: the imported block is the head
    assert chain.get_block_by_number(2) is None and chain.get_transaction(a_txs[1].hash) is None
    chain.close()
    chain = Chain.open(tmp_path)
    assert chain.get_block_by_number(1).hash == b1.hash and chain.get_block_by_number(2) is None
    assert chain.get_transaction(a_txs[0].hash) is None
    assert chain.get_transaction(b_tx.hash)[2].hash == b1.hash
    assert chain.head.state.balance(b"\x77" * 20) == 5
    chain.set_head(a2.hash)  # back to the first branch, from blocks never read before
    assert chain.get_transaction(a_txs[1].hash)[2].hash == a2.hash
    assert chain.get_block(a1.hash).state.state_root() == a1.header.state_root
    chain.close()
    chain = Chain.open(tmp_path)
    check_consistent(chain)
    assert chain.head_hash == a2.hash and chain.get_transaction(b_tx.hash) is None
    chain.close()
    # The head's state is kept whole: an edit in place stays (as a dev chain makes them).
    chain = Chain.open(tmp_path)
    chain.set_head(b1.hash)
    chain.head.state.set_balance(b"\x66" * 20, 7)
    assert chain.state().balance(b"\x66" * 20) == 7
    chain.close()


def test_blocktest_check_of_a_reopened_store_reads_every_block(tmp_path: Path) -> None:
    from chainvm.chain.blocktest import _check_reopened
    from chainvm.chain.store import encode_changes

    config, genesis, state = genesis_args()
    chain = Chain.open(tmp_path, config, genesis, state)
    for nonce in range(3):
        chain.import_block(build_block(chain, [transfer(0, nonce)]).block)
    second = chain.get_block_by_number(2).hash
    chain.close()
    chain = Chain.open(tmp_path)
    assert _check_reopened(chain) is None
    with chain.store.env.begin(write=True) as txn:  # type: ignore[attr-defined]
        txn.put(second, encode_changes({}), db=chain.store.states)  # type: ignore[attr-defined]
    chain.close()
    chain = Chain.open(tmp_path)
    assert _check_reopened(chain) == "reopened store: state of block 2 does not match its root"
    chain.close()


def test_an_old_block_made_head_and_edited_is_read_back_edited(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A state made from the store is kept for a few requests; once its block becomes the
    head and its state is edited in place, what is read back later is the edited one."""
    from chainvm.chain import chain as chain_module

    monkeypatch.setattr(chain_module, "STATE_WINDOW", 2)
    monkeypatch.setattr(chain_module, "STATE_CHECKPOINT", 8)
    monkeypatch.setattr(chain_module, "MEMORY_WINDOW", 4)
    monkeypatch.setattr(chain_module, "READ_CACHE", 3)
    config, genesis, state = genesis_args()
    chain = Chain.open(tmp_path, config, genesis, state)
    hashes = [chain.import_block(build_block(chain, [transfer(0, nonce)]).block).hash
              for nonce in range(20)]
    fifth = chain.get_block_by_number(5)
    assert fifth is not None and fifth._state is None  # out of memory, read back
    who = b"\x55" * 20
    assert fifth.state.balance(who) == 0 and fifth.state.balance(who) == 0  # kept
    chain.set_head(fifth.hash)
    chain.head.state.set_balance(who, 7)
    chain.head.state.begin_transaction()
    chain.save_head_state()
    chain.import_block(build_block(chain, [transfer(1, 0)]).block)  # on the edited state
    for block_hash in hashes[8:14]:  # other blocks read back push the fifth out of memory
        assert chain.get_block(block_hash) is not None
    assert chain.blocks.cached(fifth.hash) is None  # type: ignore[attr-defined]
    assert chain.get_block(fifth.hash).state.balance(who) == 7
    assert chain.head.state.balance(who) == 7
    chain.close()


def test_a_large_contract_is_stored_by_its_slots_and_read_back(tmp_path: Path) -> None:
    """Blocks that write and clear several slots of a contract holding 600: each block's
    record holds those slots only (the account's storage layers its parent's, see
    chainvm/state/layered.py), and every block's state reads back from the records alone
    after a reopen, slot for slot."""
    from chainvm.chain.store import decode_state_record, slot_changes
    from chainvm.chain.transactions import SignedTransaction
    from chainvm.state.layered import LayeredStorage
    from chainvm.state.state import Account

    from .helpers import KEYS

    config, _genesis, funded = genesis_args()
    contract = b"\xc0" * 20
    # Stores each (slot, value) pair of its calldata, a value of 0 clearing the slot.
    code = bytes.fromhex("60005b36811015601957803581602001359055604001600256" "5b00")
    state = State({**funded.accounts, contract: Account(
        nonce=1, code=code, storage={k: k + 1 for k in range(600)})})
    genesis = make_genesis(config, state)
    chain = Chain.open(tmp_path, config, genesis, state)
    rng = random.Random(5)
    expected = {k: k + 1 for k in range(600)}
    roots = []
    for nonce in range(12):
        pairs = []
        for _ in range(rng.randrange(2, 6)):
            slot = rng.randrange(700)
            value = rng.choice([0, rng.randrange(1, 2**64)])
            pairs.append((slot, value))
            if value:
                expected[slot] = value
            else:
                expected.pop(slot, None)
        data = b"".join(s.to_bytes(32, "big") + v.to_bytes(32, "big") for s, v in pairs)
        tx = SignedTransaction(2, nonce=nonce, gas_limit=500_000, to=contract, value=0,
                               data=data, v=0, r=0, s=0, chain_id=config.chain_id,
                               max_priority_fee_per_gas=1, max_fee_per_gas=10**10)
        stored = chain.import_block(build_block(chain, [tx.sign(KEYS[0])]).block)
        assert stored.receipts[0].succeeded
        assert dict(stored.state.accounts[contract].storage.items()) == expected
        roots.append((stored.hash, dict(expected)))
        parent = chain.get_block(stored.header.parent_hash)
        assert parent is not None
        if parent.number:  # (a genesis state is written whole)
            record = slot_changes(stored.state.changes(), parent.state)
            assert type(stored.state.accounts[contract].storage) is LayeredStorage
            assert type(record[contract]).__name__ == "SlotChanges"
    chain.close()
    again = Chain.open(tmp_path)
    for block_hash, slots in roots:
        block = again.get_block(block_hash)
        assert block is not None
        assert dict(block.state.accounts[contract].storage.items()) == slots
        assert block.state.state_root() == block.header.state_root
        record = decode_state_record(again.store.state_record(block_hash))  # type: ignore[union-attr]
        assert isinstance(record, dict)
        entry = record[contract]
        assert not isinstance(entry, Account) or block.number == 1, block.number
    check_consistent(again)
    again.close()


def test_a_config_with_a_fork_hook_is_stored_without_it() -> None:
    """A dev node's fork hook (ChainConfig.fork_variant, anvil_impersonateSignature) is
    not part of what the store keeps: the JSON holds the fields alone, and reads back as
    an equal configuration without the hook."""
    from chainvm.chain.config import config_for_network
    from chainvm.chain.store import config_from_json, config_to_json

    config = config_for_network("Cancun")
    seen: list[object] = []

    def hook(fork: object) -> object:
        seen.append(fork)
        return fork

    config.fork_variant = hook  # type: ignore[assignment]
    assert config.fork_at(1, 1, 0).name == "Cancun" and seen
    stored = config_to_json(config)
    assert b"fork_variant" not in stored
    back = config_from_json(stored)
    assert back == config and back.fork_variant is None
