"""Fork mode against real remotes: an anvil from npm and a `chainvm node` process, each with
a contract deployed by the test, behind a counting proxy. The fork must see the remote's
state at block N (not later), keep its own transactions local, cache what it read, and
fail clearly when the remote goes away."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode

from chainvm.crypto import keccak256
from chainvm.encoding.rlp import decode as rlp_decode
from chainvm.node.devchain import CallArgs, DevChain, NodeError
from chainvm.node.forking import ForkCache, RemoteError
from chainvm.node.rpc.dispatch import Rpc
from chainvm.testing.api import TestChain
from tests.node.compilers import node_modules, solidity
from tests.node.helpers import Client
from tests.node.remotes import (
    ROOT,
    CountingProxy,
    Process,
    anvil_binary,
    free_port,
    start_anvil,
    start_chainvm,
)

DEV0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # the public test mnemonic's first key
WHALE = "0x" + "77" * 20  # funded on the remote only
RECIPIENT = "0x" + "55" * 20
ETHER = 10**18


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


def calldata(signature: str, *args: Any) -> str:
    types = signature[signature.index("(") + 1:-1]
    arg_types = [t for t in types.split(",") if t]
    return "0x" + (selector(signature) + encode(arg_types, list(args))).hex()


class Remote:
    """A remote node with ForkProbe deployed and a history: the fork block N, then later
    changes the fork must not see."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.proxy = CountingProxy(process.url)
        self.rpc = Client(process.url)
        probe = solidity()["ForkProbe"]
        code = probe["bytecode"] + encode(["uint256"], [7])
        receipt = self.send({"data": "0x" + code.hex(), "value": hex(5 * ETHER)})
        self.probe = receipt["contractAddress"]
        self.deploy_tx = receipt["transactionHash"]
        self.send({"to": self.probe, "data": calldata("fill(uint256,uint256)", 0, 200)})
        self.send({"to": WHALE, "value": hex(500 * ETHER)})
        self.send({"to": self.probe, "data": calldata("set(uint256)", 42)})
        self.fork_block = int(self.rpc("eth_blockNumber"), 16)
        self.fork_hash = self.rpc("eth_getBlockByNumber", hex(self.fork_block), False)["hash"]
        # Later history the fork must not see.
        self.later_tx = self.send({"to": self.probe,
                                   "data": calldata("set(uint256)", 99)})["transactionHash"]
        self.send({"to": WHALE, "value": hex(1 * ETHER)})
        self.latest = int(self.rpc("eth_blockNumber"), 16)

    def send(self, tx: dict[str, Any]) -> dict[str, Any]:
        tx_hash = self.rpc("eth_sendTransaction", {"from": DEV0, "gas": hex(8_000_000), **tx})
        deadline = time.monotonic() + 30
        receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
        while receipt is None and time.monotonic() < deadline:  # anvil mines in the background
            time.sleep(0.02)
            receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
        assert receipt is not None and receipt["status"] == "0x1", receipt
        return receipt  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.proxy.stop()
        self.process.stop()


def _needs_tools() -> None:
    if node_modules() is None:
        pytest.skip("node / npm packages (solc) not available")


@pytest.fixture(scope="module")
def anvil() -> Iterator[Remote]:
    _needs_tools()
    if anvil_binary() is None:
        pytest.skip("npm @foundry-rs/anvil not available")
    remote = Remote(start_anvil())
    yield remote
    remote.stop()


@pytest.fixture(scope="module")
def chainvm_remote() -> Iterator[Remote]:
    _needs_tools()
    remote = Remote(start_chainvm("--fork", HARDFORK))
    yield remote
    remote.stop()


HARDFORK = "Prague"  # the rules of the remotes (anvil --hardfork prague, chainvm --fork)


def fork_of(remote: Remote, **kwargs: Any) -> DevChain:
    return DevChain(fork=HARDFORK, fork_url=remote.proxy.url, fork_block=remote.fork_block,
                    **kwargs)


def probe_call(dev: DevChain, remote: Remote, signature: str, *args: Any) -> int:
    out = dev.call(CallArgs(sender=dev.accounts[0], to=bytes.fromhex(remote.probe[2:]),
                               data=bytes.fromhex(calldata(signature, *args)[2:])))
    return int(decode(["uint256"], out)[0])


# -- the remote's state at block N ------------------------------------------------------------


@pytest.mark.parametrize("which", ["anvil", "chainvm_remote"])
def test_fork_sees_block_n_not_later(which: str, request: pytest.FixtureRequest) -> None:
    remote: Remote = request.getfixturevalue(which)
    dev = fork_of(remote)
    try:
        assert dev.chain_id == int(remote.rpc("eth_chainId"), 16)
        assert dev.head.number == remote.fork_block
        assert "0x" + dev.head.hash.hex() == remote.fork_hash
        probe = bytes.fromhex(remote.probe[2:])
        state = dev.state()
        assert state.code(probe) == bytes.fromhex(
            remote.rpc("eth_getCode", remote.probe, hex(remote.fork_block))[2:])
        assert state.balance(probe) == 5 * ETHER
        assert probe_call(dev, remote, "value()") == 42  # not the later 99
        assert probe_call(dev, remote, "sum(uint256)", 200) == 200 * 201 // 2
        assert state.balance(bytes.fromhex(WHALE[2:])) == 500 * ETHER  # not 501
        # BLOCKHASH of blocks up to N comes from the remote.
        for number in (remote.fork_block - 1, remote.fork_block - 2):
            out = dev.call(CallArgs(to=probe, data=bytes.fromhex(
                calldata("hashOf(uint256)", number)[2:])))
            assert "0x" + out.hex() == remote.rpc("eth_getBlockByNumber", hex(number),
                                                  False)["hash"]
    finally:
        dev.close()


# -- local work on top of the fork ------------------------------------------------------------


@pytest.fixture(scope="module")
def forked_node(anvil: Remote, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Client, Remote]]:
    """`chainvm node --fork-url <anvil proxy> --fork-block-number N` as a process."""
    port = free_port()
    cache = tmp_path_factory.mktemp("fork-cache")
    node = Process([sys.executable, "-m", "chainvm.node.cli", "--port", str(port),
                    "--fork", HARDFORK, "--fork-url", anvil.proxy.url, "--fork-block-number",
                    str(anvil.fork_block), "--fork-cache", str(cache)],
                   f"http://127.0.0.1:{port}/")
    yield Client(node.url), anvil
    node.stop()


def test_node_call_reads_in_few_batches(forked_node: tuple[Client, Remote]) -> None:
    """eth_call through the node (under its execution time limit) reads what it
    touches in a few batches, not one request per slot."""
    rpc, remote = forked_node
    remote.proxy.reset()
    out = rpc("eth_call", {"to": remote.probe, "data": calldata("sum(uint256)", 180)},
              "latest")
    assert int(out, 16) == 180 * 181 // 2
    assert remote.proxy.requests <= 3


def test_node_serves_the_fork_and_keeps_local_work_local(
        forked_node: tuple[Client, Remote]) -> None:
    rpc, remote = forked_node
    remote_before = (remote.rpc("eth_blockNumber"),
                     remote.rpc("eth_getStorageAt", remote.probe, "0x0", "latest"),
                     remote.rpc("eth_getBalance", WHALE, "latest"))
    assert int(rpc("eth_chainId"), 16) == 31337
    assert int(rpc("eth_blockNumber"), 16) == remote.fork_block
    block_n = rpc("eth_getBlockByNumber", hex(remote.fork_block), False)
    assert block_n["hash"] == remote.fork_hash
    # The local head is block N's header itself: number, hash, time, fees, blob fields.
    head = rpc("eth_getBlockByNumber", "latest", False)
    for key in ("number", "hash", "parentHash", "timestamp", "baseFeePerGas", "gasLimit",
                "blobGasUsed", "excessBlobGas", "stateRoot"):
        assert head[key] == block_n[key], key
    older = rpc("eth_getBlockByNumber", hex(remote.fork_block - 1), False)
    assert older == remote.rpc("eth_getBlockByNumber", hex(remote.fork_block - 1), False)
    assert int(rpc("eth_getStorageAt", remote.probe, "0x0", "latest"), 16) == 42
    # Blocks, transactions and state before the fork block are the remote's; its later
    # history is not part of the fork.
    assert rpc("eth_getBlockByHash", older["hash"], False) == older
    assert rpc("eth_getTransactionReceipt", remote.deploy_tx)["contractAddress"] == \
        remote.probe
    assert rpc("eth_getTransactionByHash", remote.deploy_tx)["hash"] == remote.deploy_tx
    assert rpc("eth_getTransactionReceipt", remote.later_tx) is None
    assert rpc("eth_getTransactionByHash", remote.later_tx) is None
    assert int(rpc("eth_getStorageAt", remote.probe, "0x0",
                   hex(remote.fork_block - 1)), 16) == 7
    assert int(rpc("eth_getBalance", WHALE, hex(remote.fork_block - 1)), 16) == 500 * ETHER
    assert int(rpc("eth_getBalance", WHALE, hex(remote.fork_block - 2)), 16) == 0
    # A call at a block before N runs on the remote's state and header at that block
    # (BLOCKHASH included): the remote's own answer.
    before = hex(remote.fork_block - 1)
    for data in (calldata("value()"), calldata("sum(uint256)", 3),
                 calldata("hashOf(uint256)", remote.fork_block - 2)):
        call = {"to": remote.probe, "data": data}
        assert rpc("eth_call", call, before) == remote.rpc("eth_call", call, before), data
    assert int(rpc("eth_call", {"to": remote.probe, "data": calldata("value()")},
                   before), 16) == 7

    # A log filter from block 0: its first changes and its logs hold the remote's logs
    # up to N, then the fork's own.
    log_filter = rpc("eth_newFilter", {"fromBlock": "0x0", "address": remote.probe})

    # A local transaction: mined locally, with a receipt, a log and a trace.
    tx_hash = rpc("eth_sendTransaction", {"from": DEV0, "to": remote.probe,
                                          "data": calldata("set(uint256)", 1234)})
    receipt = rpc("eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1"
    assert int(receipt["blockNumber"], 16) == remote.fork_block + 1
    assert len(receipt["logs"]) == 1 and receipt["logs"][0]["address"] == remote.probe
    # Logs of blocks up to N are the remote's (its set(42)), then the fork's own.
    logs = rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest",
                               "address": remote.probe})
    remote_logs = remote.rpc("eth_getLogs", {"fromBlock": "0x0",
                                             "toBlock": hex(remote.fork_block),
                                             "address": remote.probe})
    assert len(remote_logs) == 1
    assert logs == remote_logs + [receipt["logs"][0]]
    assert rpc("eth_getFilterChanges", log_filter) == logs
    assert rpc("eth_getFilterChanges", log_filter) == []
    assert rpc("eth_getFilterLogs", log_filter) == logs
    topic = "0x" + keccak256(b"Set(address,uint256)").hex()
    assert rpc("eth_getLogs", {"fromBlock": hex(remote.fork_block + 1),
                               "topics": [topic]}) == [receipt["logs"][0]]
    assert rpc("eth_getLogs", {"blockHash": remote.fork_hash}) == remote_logs
    trace = rpc("debug_traceTransaction", tx_hash, {})
    assert any(step["op"] == "SSTORE" for step in trace["structLogs"])
    assert int(rpc("eth_getStorageAt", remote.probe, "0x0", "latest"), 16) == 1234
    head = rpc("eth_getBlockByNumber", "latest", False)
    assert head["parentHash"] == remote.fork_hash

    # Impersonated sends from a remote whale and from the remote contract itself.
    rpc("anvil_impersonateAccount", WHALE)
    rpc("anvil_impersonateAccount", remote.probe)
    fees = {}
    for sender in (WHALE, remote.probe):
        tx = rpc("eth_sendTransaction", {"from": sender, "to": RECIPIENT,
                                         "value": hex(ETHER)})
        sent = rpc("eth_getTransactionReceipt", tx)
        assert sent["status"] == "0x1"
        fees[sender] = int(sent["gasUsed"], 16) * int(sent["effectiveGasPrice"], 16)
    assert int(rpc("eth_getBalance", RECIPIENT, "latest"), 16) == 2 * ETHER
    probe_balance = 4 * ETHER - fees[remote.probe]
    assert int(rpc("eth_getBalance", remote.probe, "latest"), 16) == probe_balance
    assert int(rpc("eth_getBalance", WHALE, "latest"), 16) == 499 * ETHER - fees[WHALE]

    # Snapshots and reverts.
    sid = rpc("evm_snapshot")
    rpc("eth_sendTransaction", {"from": DEV0, "to": remote.probe,
                                "data": calldata("set(uint256)", 5)})
    assert int(rpc("eth_getStorageAt", remote.probe, "0x0", "latest"), 16) == 5
    assert rpc("evm_revert", sid) is True
    assert int(rpc("eth_getStorageAt", remote.probe, "0x0", "latest"), 16) == 1234

    # eth_getProof for local state: consistent with itself (local roots match nothing
    # remote) and with the values the node holds.
    proof = rpc("eth_getProof", remote.probe, ["0x0", "0x5"], "latest")
    assert int(proof["balance"], 16) == probe_balance
    values = {int(p["key"], 16): int(p["value"], 16) for p in proof["storageProof"]}
    assert values[0] == 1234
    _check_storage_proof(proof)

    # Nothing reached the remote: its chain and state are as they were.
    assert (remote.rpc("eth_blockNumber"),
            remote.rpc("eth_getStorageAt", remote.probe, "0x0", "latest"),
            remote.rpc("eth_getBalance", WHALE, "latest")) == remote_before
    assert not {"eth_sendTransaction", "eth_sendRawTransaction",
                "anvil_impersonateAccount"} & set(remote.proxy.methods)


def _check_storage_proof(proof: dict[str, Any]) -> None:
    """Walk each storage proof from the storage root: every node is the hash its parent
    names, and the leaf holds the value."""
    root = bytes.fromhex(proof["storageHash"][2:])
    for entry in proof["storageProof"]:
        nodes = [bytes.fromhex(n[2:]) for n in entry["proof"]]
        value = int(entry["value"], 16)
        if not value:
            continue
        assert nodes and keccak256(nodes[0]) == root
        for parent, child in itertools.pairwise(nodes):
            assert keccak256(child) in parent or len(child) < 32
        leaf = rlp_decode(nodes[-1])
        assert isinstance(leaf, list) and len(leaf) == 2
        assert int.from_bytes(rlp_decode(leaf[1]), "big") == value  # type: ignore[arg-type]


# -- the cache ----------------------------------------------------------------------------------


def test_warm_cache_makes_no_remote_request(anvil: Remote, tmp_path: Path) -> None:
    def run() -> int:
        anvil.proxy.reset()
        dev = fork_of(anvil, fork_cache=tmp_path)
        try:
            assert probe_call(dev, anvil, "sum(uint256)", 100) == 100 * 101 // 2
            assert probe_call(dev, anvil, "value()") == 42
            probe = bytes.fromhex(anvil.probe[2:])
            out = dev.call(CallArgs(to=probe, data=bytes.fromhex(
                calldata("hashOf(uint256)", anvil.fork_block - 3)[2:])))
            assert out != bytes(32)
        finally:
            dev.close()
        return anvil.proxy.requests

    cold = run()
    assert cold > 0
    assert run() == 0
    # Another process shares the cache (LMDB across processes): still no request.
    script = ("import sys; from chainvm.node.devchain import DevChain; "
              "d = DevChain(fork='Prague', fork_url=sys.argv[1], fork_block=int(sys.argv[2]), "
              "fork_cache=sys.argv[3]); print(d.state().get_storage(bytes.fromhex(sys.argv[4]),"
              " 0)); d.close()")
    anvil.proxy.reset()
    done = subprocess.run([sys.executable, "-c", script, anvil.proxy.url, str(anvil.fork_block),
                           str(tmp_path), anvil.probe[2:]], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
    assert anvil.proxy.requests == 0


def test_set_rpc_url_moves_the_reads_to_another_endpoint(anvil: Remote) -> None:
    """anvil_setRpcUrl: reads not yet made go to the new endpoint (here anvil itself, past
    the counting proxy); an endpoint of another chain or none at all is refused and the
    fork keeps reading from the old one."""
    dev = fork_of(anvil)
    try:
        rpc = Rpc(dev)
        assert probe_call(dev, anvil, "value()") == 42
        anvil.proxy.reset()
        rpc.call("anvil_setRpcUrl", anvil.process.url)
        assert probe_call(dev, anvil, "sum(uint256)", 50) == 50 * 51 // 2  # new slots read
        assert anvil.proxy.requests == 0
        before = dev.remote.client if dev.remote is not None else None
        with pytest.raises(NodeError, match="expected http"):
            rpc.call("anvil_setRpcUrl", "ftp://example")
        with pytest.raises(NodeError):
            rpc.call("anvil_setRpcUrl", f"http://127.0.0.1:{free_port()}/")
        other = start_chainvm("--chain-id", "7")
        try:
            with pytest.raises(NodeError, match="serves chain 7, the fork is of chain 31337"):
                rpc.call("anvil_setRpcUrl", other.url)
        finally:
            other.stop()
        assert dev.remote is not None and dev.remote.client is before
    finally:
        dev.close()
    with pytest.raises(NodeError, match="not a forked chain"):
        Rpc(DevChain(accounts=1)).call("anvil_setRpcUrl", anvil.process.url)


def test_two_forks_in_one_process_share_a_cache_dir(anvil: Remote, tmp_path: Path) -> None:
    first = fork_of(anvil, fork_cache=tmp_path)
    try:
        second = fork_of(anvil, fork_cache=tmp_path)  # LMDB: one environment per process
        second.close()
        assert first.state().get_storage(bytes.fromhex(anvil.probe[2:]), 0) == 42
        first.reset(anvil.proxy.url, anvil.fork_block)  # re-fork: the new chain opens first
        assert first.state().get_storage(bytes.fromhex(anvil.probe[2:]), 0) == 42
    finally:
        first.close()


def test_account_fields_come_in_one_batch(anvil: Remote) -> None:
    dev = fork_of(anvil)
    try:
        anvil.proxy.reset()
        assert dev.state().balance(bytes.fromhex(WHALE[2:])) == 500 * ETHER
        assert anvil.proxy.requests == 1
        assert sorted(anvil.proxy.methods) == ["eth_getBalance", "eth_getCode",
                                               "eth_getTransactionCount"]
    finally:
        dev.close()


def test_call_reads_what_it_touches_in_few_batches(anvil: Remote) -> None:
    """An eth_call over 200 slots never read: speculative passes record what is missing
    and fetch it in one batch per pass, not one request per SLOAD; the answer is exact.
    A traced call runs once untraced to fetch, then traced: the same answer and batches,
    and its trace holds one execution."""
    dev = fork_of(anvil)
    try:
        anvil.proxy.reset()
        assert probe_call(dev, anvil, "sum(uint256)", 200) == 200 * 201 // 2
        assert anvil.proxy.requests <= 3
        assert anvil.proxy.methods.count("eth_getStorageAt") == 200
    finally:
        dev.close()
    traced = fork_of(anvil)
    try:
        anvil.proxy.reset()
        req = CallArgs(sender=traced.accounts[0], to=bytes.fromhex(anvil.probe[2:]),
                       data=bytes.fromhex(calldata("sum(uint256)", 200)[2:]))
        from chainvm.node.devchain import StepCollector

        tracer = StepCollector()
        result = traced.execute(req, tracer=tracer)
        assert int.from_bytes(result.output, "big") == 200 * 201 // 2
        assert anvil.proxy.requests <= 3
        assert sum(step["op"] == "SLOAD" for step in tracer.logs) == 200
    finally:
        traced.close()


# -- TestChain, reset ---------------------------------------------------------------------------


def test_testchain_fork(anvil: Remote) -> None:
    chain = TestChain(fork=HARDFORK, fork_url=anvil.proxy.url, fork_block=anvil.fork_block)
    try:
        probe = chain.at(anvil.probe, solidity()["ForkProbe"]["abi"])
        anvil.proxy.reset()
        assert probe.sum(150) == 150 * 151 // 2  # a view call: speculative batches too
        assert anvil.proxy.requests <= 3
        assert probe.value() == 42
        assert chain.block_number == anvil.fork_block
        probe.set(7)
        assert probe.value() == 7
        with chain.impersonate(WHALE) as whale:
            chain.transact(RECIPIENT, b"", sender=whale, value=3 * ETHER)
        assert chain.balance(RECIPIENT) == 3 * ETHER
        with chain.snapshot():
            probe.set(8)
            assert probe.value() == 8
        assert probe.value() == 7
    finally:
        chain.dev.close()
    assert int(anvil.rpc("eth_getStorageAt", anvil.probe, "0x0", "latest"), 16) == 99


def test_eth_tester_backend_fork(anvil: Remote) -> None:
    eth_tester = pytest.importorskip("eth_tester")
    from chainvm.eth_tester import ChainvmBackend

    tester = eth_tester.EthereumTester(ChainvmBackend(
        fork=HARDFORK, fork_url=anvil.proxy.url, fork_block=anvil.fork_block))
    probe = anvil.probe
    sender = tester.get_accounts()[0]

    def value() -> int:
        out = tester.call({"from": sender, "to": probe, "data": calldata("value()")})
        return int(out, 16) if isinstance(out, str) else int.from_bytes(out, "big")

    assert tester.get_block_by_number("latest")["hash"] == anvil.fork_hash
    assert value() == 42
    assert tester.get_balance(WHALE) == 500 * ETHER
    assert tester.get_balance(sender) > 0  # the genesis accounts are funded on the fork
    tester.send_transaction({"from": sender, "to": probe, "gas": 100_000,
                             "data": calldata("set(uint256)", 5)})
    tester.mine_blocks()
    assert value() == 5
    assert int(anvil.rpc("eth_getStorageAt", probe, "0x0", "latest"), 16) == 99


def test_anvil_reset_refork_and_back(anvil: Remote, chainvm_remote: Remote) -> None:
    from chainvm.node.rpc import Rpc

    dev = DevChain(fork=HARDFORK)
    handler = Rpc(dev)
    try:
        def call(method: str, *params: Any) -> Any:
            reply = handler.handle_one({"jsonrpc": "2.0", "id": 1, "method": method,
                                    "params": list(params)})
            assert reply is not None and "error" not in reply, reply
            return reply["result"]

        assert int(call("eth_blockNumber"), 16) == 0
        call("anvil_reset", {"forking": {"jsonRpcUrl": anvil.proxy.url,
                                         "blockNumber": anvil.fork_block}})
        assert int(call("eth_blockNumber"), 16) == anvil.fork_block
        assert int(call("eth_getStorageAt", anvil.probe, "0x0", "latest"), 16) == 42
        call("anvil_reset", {"forking": {"jsonRpcUrl": chainvm_remote.proxy.url,
                                         "blockNumber": chainvm_remote.fork_block}})
        assert int(call("eth_chainId"), 16) == 31337
        assert call("eth_getBlockByNumber", "latest", False)["hash"] == \
            chainvm_remote.fork_hash
        call("anvil_reset")
        assert int(call("eth_blockNumber"), 16) == 0
        assert call("eth_getCode", anvil.probe, "latest") == "0x"
    finally:
        dev.close()


# -- a remote that fails ------------------------------------------------------------------------


def test_fee_history_across_the_fork_block(anvil: Remote) -> None:
    """Wallets ask for the last few blocks' fees: a range ending at or before the fork block
    is the remote's answer (as anvil forwards it); one ending after it starts at the fork
    block. It used to end in an internal error for any range reaching below the fork."""
    dev = fork_of(anvil)
    try:
        rpc = Rpc(dev)

        def call(method: str, *params: Any) -> Any:
            answer = rpc.handle_one({"jsonrpc": "2.0", "id": 1, "method": method,
                                     "params": list(params)})
            assert answer is not None and "error" not in answer, answer
            return answer["result"]

        n = anvil.fork_block
        assert n >= 3
        expected = anvil.rpc("eth_feeHistory", "0x3", hex(n), [50])
        assert call("eth_feeHistory", "0x3", "latest", [50]) == expected
        assert call("eth_feeHistory", "0x2", hex(n - 1))["oldestBlock"] == hex(n - 2)
        call("evm_mine")
        local = call("eth_feeHistory", "0x10", "latest")
        assert local["oldestBlock"] == hex(n)  # the fork block and the one mined on it
        assert len(local["gasUsedRatio"]) == 2 and len(local["baseFeePerGas"]) == 3
    finally:
        dev.close()


def test_create_access_list_as_anvil_makes_it(anvil: Remote) -> None:
    """geth's eth_createAccessList, which anvil follows: the target's own storage slots are
    listed (a list warms them), and gasUsed is that of a run with the list applied."""
    dev = fork_of(anvil)
    try:
        rpc = Rpc(dev)

        def normalized(answer: dict[str, Any]) -> dict[str, Any]:
            entries = sorted((e["address"], sorted(e["storageKeys"]))
                             for e in answer["accessList"])
            return {"accessList": entries, "gasUsed": answer["gasUsed"]}

        for data in (calldata("set(uint256)", 5), calldata("fill(uint256,uint256)", 0, 3)):
            request = {"from": DEV0, "to": anvil.probe, "data": data}
            want = anvil.rpc("eth_createAccessList", request, hex(anvil.fork_block))
            answer = rpc.handle_one({"jsonrpc": "2.0", "id": 1, "method": "eth_createAccessList",
                                     "params": [request, "latest"]})
            assert answer is not None and "result" in answer, answer
            assert want["accessList"]  # the probe's own slots
            assert normalized(answer["result"]) == normalized(want)
    finally:
        dev.close()


def test_node_info_and_metadata_have_anvils_shape(anvil: Remote) -> None:
    """anvil_nodeInfo and anvil_metadata: the same keys and value types as anvil's own."""
    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, str):
            return "hex" if value.startswith("0x") else "text"
        return type(value).__name__

    rpc = Rpc(DevChain(fork=HARDFORK))
    for method in ("anvil_nodeInfo", "anvil_metadata"):
        answer = rpc.handle_one({"jsonrpc": "2.0", "id": 1, "method": method, "params": []})
        assert answer is not None and "result" in answer, answer
        want = shape(anvil.rpc(method))
        for build_info in ("clientSemver", "clientCommitSha"):  # anvil's build, not the node
            want.pop(build_info, None)
        assert shape(answer["result"]) == want, method


def test_block_not_served_is_one_clear_line(anvil: Remote) -> None:
    with pytest.raises(NodeError) as info:
        DevChain(fork_url=anvil.proxy.url, fork_block=anvil.latest + 1000)
    assert f"has no block {anvil.latest + 1000}" in str(info.value)
    assert "\n" not in str(info.value)


def test_unreachable_remote_cli_one_line() -> None:
    port = free_port()  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "chainvm.node.cli", "--port", "0",
                           "--fork-url", f"http://127.0.0.1:{port}/", "--fork-block-number", "1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0] and "Traceback" not in done.stderr


def test_hanging_remote_fails_in_bounded_time() -> None:
    """A remote that accepts connections and never answers: each attempt times out, the
    retries stop at the request's total budget, and the error says so in one line."""
    import socket

    from chainvm.node.forking import RemoteState

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nothing is ever read
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with pytest.raises(RemoteError) as info:
            RemoteState.open(url, 1, timeout=0.3)
    message = str(info.value)
    assert "unreachable (timed out;" in message and "\n" not in message


def test_bad_fork_flags_exit_2() -> None:
    for args in (["--fork-url", "ftp://example"], ["--fork-block-number", "3"],
                 ["--fork-url", "http://"], ["--fork-url", "http://127.0.0.1:99999/"],
                 ["--fork-url", "http://127.0.0.1:1/", "--fork-cache", "/proc/no-such-dir"],
                 ["--fork-url", "http://127.0.0.1:1/", "--fork-block-number", "-1"]):
        done = subprocess.run([sys.executable, "-m", "chainvm.node.cli", "--port", "0", *args],
                              capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=False)
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_remote_going_away_mid_run(anvil: Remote) -> None:
    proxy = CountingProxy(anvil.process.url)
    dev = DevChain(fork=HARDFORK, fork_url=proxy.url, fork_block=anvil.fork_block)
    try:
        assert dev.remote is not None
        dev.remote.client.retries = 1  # keep the test short: one retry, then the error
        probe = bytes.fromhex(anvil.probe[2:])
        assert dev.state().get_storage(probe, 0) == 42
        proxy.stop()  # the remote goes away
        with pytest.raises(RemoteError) as info:
            dev.state().get_storage(probe, 3)
        message = str(info.value)
        assert "unreachable" in message and "\n" not in message
        # What the fork already holds is still served.
        assert dev.state().get_storage(probe, 0) == 42
        assert probe_call(dev, anvil, "value()") == 42
        # Mining needs slots of the system contracts (EIP-4788, EIP-2935) the fork never
        # read: the same clear error, and the chain stays where it was.
        head = dev.head.hash
        with pytest.raises(NodeError) as mined:
            dev.send_transaction(CallArgs(sender=dev.accounts[0], to=dev.accounts[1],
                                             value=1))
        assert "unreachable" in str(mined.value) and "\n" not in str(mined.value)
        assert dev.head.hash == head
        assert dev.state().balance(dev.accounts[1]) == 10_000 * ETHER
    finally:
        dev.close()


def test_rate_limited_remote_is_retried(anvil: Remote, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    proxy = CountingProxy(anvil.process.url)
    dev = DevChain(fork=HARDFORK, fork_url=proxy.url, fork_block=anvil.fork_block)
    try:
        assert dev.remote is not None
        probe = bytes.fromhex(anvil.probe[2:])
        assert dev.state().code(probe)  # the account is held; its slots are not
        proxy.refuse = 429  # rate limited until it is lifted

        refused_before = proxy.requests

        def lift(*_args: Any) -> None:
            proxy.refuse = 0

        # Lift the refusal from the client's back-off sleep: the next attempt succeeds.
        from chainvm.node import forking

        monkeypatch.setattr(forking.time, "sleep", lift)
        assert dev.state().get_storage(probe, 0) == 42
        monkeypatch.undo()
        assert proxy.requests - refused_before == 2  # one refused, one answered
    finally:
        dev.close()
        proxy.stop()


def test_json_dump_of_cache_point_is_plain(anvil: Remote, tmp_path: Path) -> None:
    """The cache stores the fork point as JSON (chain id and block header fields)."""
    dev = fork_of(anvil, fork_cache=tmp_path)
    dev.close()
    import lmdb

    env = lmdb.open(str(tmp_path), readonly=True, lock=False)
    with env.begin() as txn:
        point_key = ForkCache.FORMAT + b"P"
        points = [json.loads(bytes(v)) for k, v in txn.cursor()
                  if bytes(k).startswith(point_key)]
    env.close()
    assert points and points[0]["chainId"] == 31337
    assert points[0]["block"]["hash"] == anvil.fork_hash


def test_a_local_chain_keeps_plain_dicts() -> None:
    """The fork hook costs a chain that does not fork nothing: its state holds plain
    dicts, before and after blocks and copies, so its reads run the code they always ran."""
    dev = DevChain(fork=HARDFORK)
    try:
        dev.send_transaction(CallArgs(sender=dev.accounts[0], to=dev.accounts[1], value=1))
        for state in (dev.state(), dev.state().copy()):
            assert type(state.accounts) is dict
            assert all(type(acct.storage) is dict for acct in state.accounts.values())
    finally:
        dev.close()


def test_pending_local_transaction_is_not_looked_up_remotely(anvil: Remote) -> None:
    from chainvm.node.rpc import Rpc

    dev = fork_of(anvil)
    try:
        dev.automine = False
        tx_hash = dev.send_transaction(CallArgs(sender=dev.accounts[0], to=dev.accounts[1],
                                                value=1, gas=21_000))
        anvil.proxy.reset()
        reply = Rpc(dev).handle_one({"jsonrpc": "2.0", "id": 1, "params": ["0x" + tx_hash.hex()],
                                     "method": "eth_getTransactionReceipt"})
        assert reply is not None and reply["result"] is None
        assert anvil.proxy.requests == 0
    finally:
        dev.close()


def test_a_block_reads_what_it_touches_in_few_batches(anvil: Remote) -> None:
    """A block is built in speculative passes too: a transaction that reaches the node
    signed (no dry run at sending, as eth_sendRawTransaction) and reads 120 slots never
    read costs a few batches, not a request per slot; and empty blocks, which touch the
    system contracts' ring slots (new each block), one batch each."""
    dev = fork_of(anvil)
    try:
        sender = dev.accounts[0]
        tx = dev.fill(CallArgs(sender=sender, to=bytes.fromhex(anvil.probe[2:]),
                               data=bytes.fromhex(calldata("sum(uint256)", 120)[2:]),
                               gas=3_000_000))
        anvil.proxy.reset()
        dev.sign_and_add(tx, sender)  # automine: the block is built here
        assert anvil.proxy.requests <= 3
        assert anvil.proxy.methods.count("eth_getStorageAt") >= 120
        found = dev.chain.get_transaction(tx.hash)
        assert found is not None
        result = dev.tx_result(found[2], found[3])
        assert result is not None and int.from_bytes(result.output, "big") == 120 * 121 // 2
        for _ in range(3):
            anvil.proxy.reset()
            dev.mine()
            assert anvil.proxy.requests <= 1
    finally:
        dev.close()
