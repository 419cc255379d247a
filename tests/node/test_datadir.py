"""A --datadir chain: opening reads a bounded number of records whatever the chain's
length, everything else is read when asked for, blocks are synced on a timer, and a
node killed with SIGKILL keeps every transaction it acknowledged."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chainvm.chain import chain as chain_module
from chainvm.chain.chain import Chain
from chainvm.chain.transactions import SignedTransaction
from chainvm.crypto import keccak256
from chainvm.node.accounts import dev_keys
from chainvm.node.cli import main
from chainvm.node.devchain import CallArgs, DevChain
from chainvm.node.rpc.dispatch import Rpc
from tests.node.helpers import Client, post
from tests.node.test_cli import start_node

pytest.importorskip("lmdb")


def _grow(datadir: Path, blocks: int) -> tuple[list[bytes], list[int]]:
    """Mine `blocks` one-transfer blocks; the transfers' hashes and b's balance after each."""
    dev = DevChain(accounts=3, datadir=datadir)
    a, b, _ = dev.accounts
    hashes, balances = [], []
    for i in range(blocks):
        hashes.append(dev.send_transaction(CallArgs(sender=a, to=b, value=i + 1)))
        balances.append(dev.state().balance(b))
    dev.close()
    return hashes, balances


def test_open_reads_as_many_records_for_a_chain_ten_times_longer(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(chain_module, "STATE_CHECKPOINT", 16)
    reads = {}
    for blocks in (20, 212):  # the same distance (4) from the last whole state
        datadir = tmp_path / str(blocks)
        hashes, balances = _grow(datadir, blocks)
        again = DevChain(accounts=3, datadir=datadir)
        try:
            reads[blocks] = again.chain.store.reads  # type: ignore[attr-defined]
            assert again.reopened and again.head.number == blocks
            b = again.accounts[1]
            # What was not read at open is read when asked for: old blocks, their
            # receipts, transactions by hash and old states (eth_getBalance at block N).
            rpc = Rpc(again)
            for number in (1, 2, blocks // 2, blocks - 1):
                assert int(rpc.call("eth_getBalance", "0x" + b.hex(), hex(number)), 16) == \
                    balances[number - 1]
                receipt = rpc.call("eth_getTransactionReceipt", "0x" + hashes[number - 1].hex())
                assert receipt["blockNumber"] == hex(number) and receipt["status"] == "0x1"
            old = again.chain.get_block_by_number(3)
            assert old is not None and old.state.state_root() == old.header.state_root
            again.send_transaction(CallArgs(sender=b, to=again.accounts[0], value=1))
            assert again.state().state_root() == again.head.header.state_root
        finally:
            again.close()
    assert reads[20] == reads[212]
    # The head, the configuration, the genesis hash and the records back to the nearest
    # whole state (at most STATE_CHECKPOINT blocks: each a block and a state record).
    assert reads[212] <= 2 * 16 + 4


def test_a_store_without_the_transaction_index_gets_one(tmp_path: Path) -> None:
    hashes, _ = _grow(tmp_path, 3)
    import lmdb

    env = lmdb.open(str(tmp_path), max_dbs=8)
    with env.begin(write=True) as txn:  # as a store written before the index was
        txn.drop(env.open_db(b"txindex", txn=txn), delete=True)
        txn.delete(b"format", db=env.open_db(b"meta", txn=txn))
    env.close()
    chain = Chain.open(tmp_path)
    try:
        for number, tx_hash in enumerate(hashes, 1):
            found = chain.get_transaction(tx_hash)
            assert found is not None and found[2].number == number
    finally:
        chain.close()


def test_sync_policy(tmp_path: Path) -> None:
    from chainvm.chain.store import SYNC_INTERVAL

    def syncers() -> int:
        return sum(t.name == "chainvm-lmdb-sync" for t in threading.enumerate())

    before = syncers()
    timed = DevChain(accounts=2, datadir=tmp_path / "timed")
    assert SYNC_INTERVAL > 0 and not timed.chain.store.env.flags()["sync"]  # type: ignore
    timed.mine()
    assert syncers() == before + 1  # started by the first commit
    timed.close()  # stopped, and the last blocks synced
    assert syncers() == before
    each = DevChain(accounts=2, datadir=tmp_path / "each", sync_interval=0)
    assert each.chain.store.env.flags()["sync"]  # type: ignore[attr-defined]
    each.mine()
    assert syncers() == before
    each.close()


def test_sync_interval_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for args in (["--sync-interval", "1"], ["--sync-interval", "-1", "--datadir", "x"],
                 ["--sync-interval", "nan", "--datadir", "x"],
                 ["--sync-interval", "soon", "--datadir", "x"]):
        assert main(["--port", "0", *args]) == 2
        err = capsys.readouterr().err.strip()  # argparse's usage, then one line
        assert "sync-interval" in err.splitlines()[-1] and "Traceback" not in err


def _signed_transfers(count: int) -> tuple[bytes, list[str]]:
    (sender, key), (to, _) = dev_keys(2)
    txs = []
    for nonce in range(count):
        tx = SignedTransaction(2, nonce=nonce, gas_limit=21000, to=to, value=nonce + 1,
                               data=b"", v=0, r=0, s=0, chain_id=31337,
                               max_priority_fee_per_gas=10**9, max_fee_per_gas=100 * 10**9)
        txs.append("0x" + tx.sign(key).encode().hex())
    return sender, txs


def test_acknowledged_transactions_survive_sigkill(tmp_path: Path) -> None:
    """The node is killed (SIGKILL) while clients send signed transfers; every transfer
    it answered with a hash is in the reopened chain, and the chain is whole. The timer
    sync is made long enough that nothing relies on it: a killed process loses nothing
    of what it committed (the OS keeps it)."""
    datadir = tmp_path / "chain"
    rng = random.Random(14)
    _sender, raws = _signed_transfers(400)
    acknowledged: list[str] = []
    sent = 0
    for _round in range(3):
        proc, url, _ = start_node("--datadir", str(datadir), "--accounts", "2",
                                  "--sync-interval", "3600")
        stop = threading.Event()

        def send(url: str = url, stop: threading.Event = stop) -> None:
            nonlocal sent
            while not stop.is_set() and sent < len(raws):
                try:
                    status, reply = post(url, (
                        '{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction",'
                        f'"params":["{raws[sent]}"]}}').encode(), timeout=10)
                except OSError:
                    return  # killed before it answered: not acknowledged
                if status == 200 and "result" in reply:
                    acknowledged.append(reply["result"])
                    sent += 1

        clients = [threading.Thread(target=send)]
        clients[0].start()
        target = len(acknowledged) + rng.randint(15, 40)
        deadline = time.monotonic() + 60
        while len(acknowledged) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)  # while the client is still sending
        proc.wait()
        stop.set()
        for t in clients:
            t.join(15)
        assert proc.stdout is not None
        proc.stdout.close()
        chain = Chain.open(datadir)
        try:
            head = chain.head
            assert head.state.state_root() == head.header.state_root
            for tx_hash in acknowledged:
                found = chain.get_transaction(bytes.fromhex(tx_hash[2:]))
                assert found is not None and found[1].succeeded, tx_hash
            # The next transfer is the first one not acknowledged (or answered and lost
            # with the killed process: then it is in the chain and is skipped).
            while sent < len(raws) and chain.get_transaction(
                    keccak256(bytes.fromhex(raws[sent][2:]))) is not None:
                sent += 1
        finally:
            chain.close()
    assert len(acknowledged) >= 45
    proc, url, _ = start_node("--datadir", str(datadir))
    try:  # a node started on the killed node's data serves the same chain
        rpc = Client(url)
        assert rpc("eth_getTransactionReceipt", acknowledged[-1])["status"] == "0x1"
    finally:
        proc.terminate()
        proc.wait(10)


def test_dev_keys_derived_from_a_shared_parent_match_the_full_path() -> None:
    """A restart with many accounts derives their common parent key once: the keys are
    those of the whole BIP-32 path, account by account."""
    from chainvm.node.accounts import DEFAULT_MNEMONIC, derive_key, mnemonic_to_seed

    seed = mnemonic_to_seed(DEFAULT_MNEMONIC)
    keys = dev_keys(12)
    assert [key for _, key in keys] == [derive_key(seed, f"m/44'/60'/0'/0/{i}")
                                        for i in range(12)]
    assert keys[0][0].hex() == "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert keys[9][0].hex() == "a0ee7a142d267c1f36714e4a8f75612f20a79720"


def test_reset_and_revert_on_a_reopened_datadir(tmp_path: Path) -> None:
    """anvil_reset and a snapshot's revert on a chain read back lazily: what they drop
    stays dropped after the next restart, and the chain goes on."""
    hashes, _ = _grow(tmp_path, 6)
    dev = DevChain(accounts=3, datadir=tmp_path)
    a, b, _ = dev.accounts
    sid = dev.snapshot()
    kept = dev.send_transaction(CallArgs(sender=b, to=a, value=7))
    dev.revert(sid)
    assert dev.chain.get_transaction(kept) is None and dev.head.number == 6
    dev.close()
    dev = DevChain(accounts=3, datadir=tmp_path)
    assert dev.head.number == 6 and dev.chain.get_transaction(kept) is None
    dev.reset()
    assert dev.head.number == 0 and dev.chain.get_transaction(hashes[0]) is None
    after = dev.send_transaction(CallArgs(sender=a, to=b, value=1))
    dev.close()
    dev = DevChain(accounts=3, datadir=tmp_path)
    try:
        assert dev.head.number == 1 and dev.chain.get_block_by_number(2) is None
        assert dev.chain.get_transaction(hashes[1]) is None
        found = dev.chain.get_transaction(after)
        assert found is not None and found[2].number == 1
        assert dev.state().balance(b) == 10_000 * 10**18 + 1
        assert dev.state().state_root() == dev.head.header.state_root
    finally:
        dev.close()


def test_rollback_and_reorg_on_a_reopened_datadir(tmp_path: Path) -> None:
    """anvil_rollback and anvil_reorg on a chain read back lazily: the new history is what
    the next restart finds."""
    hashes, _ = _grow(tmp_path, 5)
    dev = DevChain(accounts=3, datadir=tmp_path)
    a, _, c = dev.accounts
    dev.rollback(2)
    dev.reorg(1, [(CallArgs(sender=c, to=a, value=9), 0)])
    head = dev.head
    dev.close()
    dev = DevChain(accounts=3, datadir=tmp_path)
    try:
        assert dev.head.hash == head.hash and dev.head.number == 3
        assert dev.chain.get_block_by_number(4) is None
        assert all(dev.chain.get_transaction(h) is None for h in hashes[2:])
        moved = head.block.transactions[0].hash
        found = dev.chain.get_transaction(moved)
        assert found is not None and found[2].number == 3
        assert dev.state().state_root() == dev.head.header.state_root
    finally:
        dev.close()


def test_a_rollback_drops_the_snapshots_taken_on_the_dropped_blocks(tmp_path: Path) -> None:
    """After a rollback and an edit of the new head, a revert to a snapshot taken on the
    dropped blocks would bring back blocks whose states the data dir keeps as changes against
    the edited one (a replay then failed: "nonce too low"). Those snapshots are gone with
    their blocks (found by a random walk with every block replayed after each step)."""
    dev = DevChain(accounts=2, datadir=tmp_path)
    try:
        a, b = dev.accounts
        kept = dev.snapshot()
        for _ in range(6):
            dev.send_transaction(CallArgs(sender=a, to=b, value=1))
        dropped = dev.snapshot()
        dev.rollback(4)
        dev.set_nonce(a, 40)
        assert dev.revert(dropped) is False and dev.head.number == 2
        for number in range(1, 3):
            block = dev.chain.get_block_by_number(number)
            assert block is not None
            dev.replay(block, 0, None)
        assert dev.revert(kept) is True and dev.head.number == 0
    finally:
        dev.close()


def test_a_changed_chain_id_survives_a_restart(tmp_path: Path) -> None:
    """anvil_setChainId on a data dir: the new id is the chain's after a restart, and a
    transaction mined before the change still replays (traces) with its own id."""
    dev = DevChain(accounts=2, datadir=tmp_path)
    a, b = dev.accounts
    before = dev.send_transaction(CallArgs(sender=a, to=b, value=1))
    dev.set_chain_id(5)
    after = dev.send_transaction(CallArgs(sender=a, to=b, value=2))
    dev.close()
    dev = DevChain(accounts=2, datadir=tmp_path)
    try:
        assert dev.chain_id == 5
        rpc = Rpc(dev)
        for tx in (before, after):
            trace = rpc.call("debug_traceTransaction", "0x" + tx.hex(), {"tracer": "callTracer"})
            assert "error" not in trace
    finally:
        dev.close()


def test_a_bad_datadir_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    not_lmdb = tmp_path / "garbage"
    not_lmdb.mkdir()
    (not_lmdb / "data.mdb").write_bytes(bytes(range(256)) * 64)
    for datadir in (a_file, not_lmdb, tmp_path / "missing" / "\0"):
        assert main(["--port", "0", "--datadir", str(datadir)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("chainvm node: "), err


def test_a_datadir_chain_holds_a_bounded_number_of_blocks_in_memory(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Past its memory window a chain in a store drops its blocks (read back when asked
    for, at most READ_CACHE of them kept): every block, receipt, transaction and state
    still answers as it did, before and after a reopen."""
    monkeypatch.setattr(chain_module, "STATE_WINDOW", 4)
    monkeypatch.setattr(chain_module, "STATE_CHECKPOINT", 16)
    monkeypatch.setattr(chain_module, "MEMORY_WINDOW", 10)
    monkeypatch.setattr(chain_module, "READ_CACHE", 12)
    dev = DevChain(accounts=3, datadir=tmp_path)
    a, b, c = dev.accounts
    seen = []
    hashes = []
    for i in range(70):
        hashes.append(dev.send_transaction(CallArgs(sender=a if i % 2 else c, to=b,
                                                    value=i + 1)))
        if i % 9 == 0:
            dev.set_balance(c, 10**20 + i)  # the head's state, edited in place
        state = dev.state()
        seen.append((state.balance(a), state.balance(b), state.balance(c), state.state_root()))
        assert len(dev.chain.blocks) <= 10 + 2
    rpc = Rpc(dev)

    def check(chain_dev: DevChain) -> None:
        for number in range(1, 71):
            stored = chain_dev.chain.get_block_by_number(number)
            assert stored is not None
            state = stored.state
            assert (state.balance(a), state.balance(b), state.balance(c),
                    state.state_root()) == seen[number - 1], number
            found = chain_dev.chain.get_transaction(hashes[number - 1])
            assert found is not None and found[2].number == number and found[1].succeeded
            assert len(chain_dev.chain.blocks) <= 10 + 12 + 2
        assert rpc.call("eth_getBalance", "0x" + b.hex(), "0x5") == hex(seen[4][1])

    check(dev)
    # A state made from the store is kept for the next request, which gets its own copy.
    old = dev.chain.get_block_by_number(3)
    assert old is not None
    first = old.state
    reads = dev.chain.store.reads  # type: ignore[attr-defined]
    second = old.state
    assert dev.chain.store.reads == reads and second is not first  # type: ignore[attr-defined]
    second.set_balance(a, 1)
    assert old.state.balance(a) == first.balance(a) == seen[2][0]
    dev.send_transaction(CallArgs(sender=a, to=b, value=1))  # after reading the old ones
    assert dev.state().state_root() == dev.head.header.state_root
    seen.append((dev.state().balance(a), dev.state().balance(b), dev.state().balance(c),
                 dev.state().state_root()))
    dev.close()
    again = DevChain(accounts=3, datadir=tmp_path)
    try:
        rpc = Rpc(again)
        check(again)
        assert again.head.number == 71
        assert again.state().state_root() == again.head.header.state_root
    finally:
        again.close()


def test_a_datadir_in_use_is_refused(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    """Two chains on one data dir would overwrite each other's head: the second open is
    refused while the first is open (in this process or another), and works after."""
    from chainvm.chain.store import StoreError

    dev = DevChain(accounts=2, datadir=tmp_path)
    with pytest.raises(StoreError, match="in use"):
        Chain.open(tmp_path)
    assert main(["--port", "0", "--datadir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in use by another chain" in err
    dev.mine()
    dev.close()
    dev.close()  # a second close does nothing
    again = DevChain(accounts=2, datadir=tmp_path)
    assert again.reopened and again.head.number == 1
    # The lock file deleted by hand while a chain has the folder open: the data file's
    # own lock still refuses a node of another process (it started on the same
    # environment, and the two overwrote each other's head).
    (tmp_path / "chainvm.lock").unlink()
    other = subprocess.run([sys.executable, "-m", "chainvm.node.cli", "--port", "0",
                            "--datadir", str(tmp_path)], capture_output=True, text=True,
                           timeout=60, check=False)
    assert other.returncode == 2 and "in use by another chain" in other.stderr, other.stderr
    again.close()
    third = DevChain(accounts=2, datadir=tmp_path)
    assert third.head.number == 1
    third.close()
