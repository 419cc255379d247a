"""Random sequences of the dev chain's operations (sends, mining, snapshots and reverts,
rollbacks and reorgs, state edits, fee and gas-limit settings, sync sends), each followed by
the chain's invariants: a block's state roots to its header unless the state was edited in
place while it was the head (as anvil edits it); the recent canonical blocks link; every
transaction in them is found in its block with its receipt; the nonces the node answers are
the state's. With a data dir, the chain reopens to the same head and state. The seeds are
fixed: a failure names the seed and the last operations."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chainvm.node.devchain import DevChain, NodeError
from chainvm.node.rpc import Rpc

STEPS = 300
OPERATIONS = ("send", "send", "send", "mine", "snapshot", "revert", "rollback", "reorg",
              "set balance", "set storage", "automine", "base fee", "gas limit", "time", "sync")


class Walk:
    def __init__(self, seed: int, datadir: Path | None) -> None:
        self.rng = random.Random(seed)
        self.fork = self.rng.choice(["Osaka", "Prague", "Cancun", "London"])
        self.datadir = datadir
        self.open()
        self.accounts: list[str] = self.rpc.call("eth_accounts")
        self.snapshots: list[str] = []
        self.edited: set[bytes] = set()  # blocks whose post state was edited in place
        self.done: list[str] = []

    def open(self) -> None:
        self.dev = DevChain(fork=self.fork, accounts=4, datadir=self.datadir)
        self.rpc = Rpc(self.dev)

    def step(self) -> None:
        rng, call, a = self.rng, self.rpc.call, self.accounts
        op = rng.choice(OPERATIONS)
        self.done.append(op)
        before = self.dev.head.hash
        if op == "send":
            call("eth_sendTransaction", {"from": rng.choice(a), "to": rng.choice(a),
                                         "value": hex(rng.randrange(1, 1000))})
        elif op == "mine":
            call("evm_mine")
        elif op == "snapshot":
            self.snapshots.append(call("evm_snapshot"))
        elif op == "revert" and self.snapshots:
            call("evm_revert", self.snapshots.pop(rng.randrange(len(self.snapshots))))
        elif op == "rollback":
            call("anvil_rollback", rng.randrange(3))
        elif op == "reorg":
            depth = rng.randrange(1, 3)
            call("anvil_reorg", depth, [[{"from": rng.choice(a), "to": rng.choice(a),
                                          "value": "0x1"}, rng.randrange(depth)]
                                        for _ in range(rng.randrange(3))])
        elif op == "set balance":
            call("anvil_setBalance", rng.choice(a), hex(rng.randrange(10**20)))
        elif op == "set storage":
            call("anvil_setStorageAt", rng.choice(a), hex(rng.randrange(4)),
                 "0x" + rng.randbytes(32).hex())
        elif op == "automine":
            call("evm_setAutomine", rng.random() < 0.6)
        elif op == "base fee":
            call("anvil_setNextBlockBaseFeePerGas", hex(rng.randrange(3 * 10**9)))
        elif op == "gas limit":
            call("evm_setBlockGasLimit", hex(rng.choice([21_000, 50_000, 30_000_000])))
        elif op == "time":
            call("evm_setNextBlockTimestamp", self.dev.head.header.timestamp + rng.randrange(1, 3))
        elif op == "sync":
            raw = call("eth_signTransaction", {"from": a[0], "to": a[1], "value": "0x1"})
            call("eth_sendRawTransactionSync", raw)
        if op.startswith("set "):
            self.edited.add(self.dev.head.hash)
        elif self.dev.head.hash != before and op not in ("revert", "rollback"):
            self.edited.discard(self.dev.head.hash)  # just built: the state it makes

    def check(self) -> None:
        dev, call = self.dev, self.rpc.call
        head = dev.head
        if head.hash not in self.edited:
            assert dev.state().state_root() == head.header.state_root
        parent = None
        for number in range(max(0, head.number - 6), head.number + 1):
            block = call("eth_getBlockByNumber", hex(number), True)
            assert parent is None or block["parentHash"] == parent["hash"]
            for tx in block["transactions"]:
                assert call("eth_getTransactionByHash", tx["hash"])["blockHash"] == block["hash"]
                assert call("eth_getTransactionReceipt", tx["hash"])["blockHash"] == block["hash"]
            parent = block
        for account in self.accounts:
            assert int(call("eth_getTransactionCount", account, "latest"), 16) == \
                dev.state().nonce(bytes.fromhex(account[2:]))


def _walk(seed: int, datadir: Path | None = None) -> Walk:
    walk = Walk(seed, datadir)
    for _ in range(STEPS):
        try:
            walk.step()
        except NodeError as exc:  # a refusal (no block fits, a timeout...) is an answer
            assert exc.code != -32603, (seed, walk.done[-8:], exc)
        try:
            walk.check()
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, after {walk.done[-8:]}") from exc
    return walk


@pytest.mark.parametrize("seed", range(12))
def test_random_operations_keep_the_chain_whole(seed: int) -> None:
    _walk(seed)


@pytest.mark.parametrize("seed", range(3))
def test_random_operations_on_a_data_dir_survive_a_restart(seed: int, tmp_path: Path) -> None:
    pytest.importorskip("lmdb")
    walk = _walk(100 + seed, tmp_path)
    head, root = walk.dev.head.hash, walk.dev.state().state_root()
    walk.dev.close()
    walk.open()
    try:
        assert walk.dev.head.hash == head
        assert walk.dev.state().state_root() == root
        walk.check()
    finally:
        walk.dev.close()
