"""The dev node over raw JSON-RPC: formats, methods, test extras, errors, tracing."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from importlib import metadata

import pytest

from chainvm.crypto import keccak256
from chainvm.node.devchain import DevChain
from chainvm.node.server import ThreadedNode
from tests.node.contracts import (
    CALLER_INIT,
    STORE_INIT,
    VALUE_SET_TOPIC,
    ZERO_ERROR,
    selector,
)
from tests.node.helpers import Client, post, reverting_client

QUANTITY = re.compile(r"^0x(0|[1-9a-f][0-9a-f]*)$")
DATA = re.compile(r"^0x([0-9a-f]{2})*$")


@pytest.fixture(scope="module")
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode(DevChain(), max_body=64 * 1024, max_batch=20) as n:
        yield n


@pytest.fixture
def rpc(node: ThreadedNode) -> Iterator[Client]:
    yield from reverting_client(node.url)


def send(rpc: Client, **tx: str) -> dict:
    tx.setdefault("from", rpc("eth_accounts")[0])
    h = rpc("eth_sendTransaction", tx)
    receipt = rpc("eth_getTransactionReceipt", h)
    assert receipt is not None
    return receipt


def deploy_store(rpc: Client) -> str:
    receipt = send(rpc, data="0x" + STORE_INIT.hex())
    assert receipt["status"] == "0x1"
    return receipt["contractAddress"]


def word(n: int) -> str:
    return f"{n:064x}"


def test_identity_and_accounts(rpc: Client) -> None:
    assert rpc("eth_chainId") == "0x7a69"
    assert rpc("net_version") == "31337"
    assert rpc("web3_clientVersion") == f"chainvm/v{metadata.version('chainvm')}/python"
    accounts = rpc("eth_accounts")
    assert accounts[0] == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # standard test mnemonic
    assert len(accounts) == 10
    assert rpc("eth_getBalance", accounts[0], "latest") == hex(10_000 * 10**18)
    assert rpc("eth_syncing") is False
    for method in ("eth_blockNumber", "eth_gasPrice", "eth_maxPriorityFeePerGas",
                   "eth_blobBaseFee"):
        assert QUANTITY.match(rpc(method)), method


def test_block_shape(rpc: Client) -> None:
    block = rpc("eth_getBlockByNumber", "0x0", False)
    assert len(bytes.fromhex(block["logsBloom"][2:])) == 256
    for key in ("number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "size",
                "difficulty"):
        assert QUANTITY.match(block[key]), key
    for key in ("hash", "parentHash", "stateRoot", "extraData", "mixHash", "nonce"):
        assert DATA.match(block[key]), key
    assert rpc("eth_getBlockByHash", block["hash"], False)["number"] == "0x0"
    assert rpc("eth_getBlockByNumber", "0x999", False) is None


def test_transfer_receipt_and_lookups(rpc: Client) -> None:
    a = rpc("eth_accounts")
    before = int(rpc("eth_blockNumber"), 16)
    receipt = send(rpc, to=a[1], value="0x3e8")  # no gas, nonce or fees: the node fills them
    assert receipt["status"] == "0x1"
    assert receipt["gasUsed"] == hex(21000)
    assert receipt["to"] == a[1] and receipt["contractAddress"] is None
    assert int(rpc("eth_blockNumber"), 16) == before + 1  # automine: one block per tx
    tx = rpc("eth_getTransactionByHash", receipt["transactionHash"])
    assert tx["from"] == a[0] and tx["value"] == "0x3e8" and tx["type"] == "0x2"
    assert rpc("eth_getTransactionCount", a[0], "latest") == "0x1"
    num = receipt["blockNumber"]
    assert rpc("eth_getBlockTransactionCountByNumber", num) == "0x1"
    assert rpc("eth_getBlockTransactionCountByHash", receipt["blockHash"]) == "0x1"
    by_index = rpc("eth_getTransactionByBlockNumberAndIndex", num, "0x0")
    assert by_index["hash"] == receipt["transactionHash"]
    by_hash = rpc("eth_getTransactionByBlockHashAndIndex", receipt["blockHash"], "0x0")
    assert by_hash["hash"] == receipt["transactionHash"]
    full = rpc("eth_getBlockByNumber", num, True)
    assert full["transactions"][0]["hash"] == receipt["transactionHash"]
    assert rpc("eth_getTransactionReceipt", "0x" + "00" * 32) is None
    history = rpc("eth_feeHistory", "0x2", "latest", [50])
    assert len(history["baseFeePerGas"]) == 3 and len(history["reward"]) == 2
    # A range ending before the head: its last base fee is the next block's own (it was the
    # fee of the block after the head).
    rpc("evm_mine")
    rpc("evm_mine")
    newest = int(rpc("eth_blockNumber"), 16) - 2
    past = rpc("eth_feeHistory", "0x2", hex(newest), [])
    assert "reward" not in past  # no percentiles asked: no reward, as geth (was [[], []])
    after = rpc("eth_getBlockByNumber", hex(newest + 1), False)
    assert past["baseFeePerGas"][-1] == after["baseFeePerGas"]
    assert past["baseFeePerGas"][:2] == [
        rpc("eth_getBlockByNumber", hex(n), False)["baseFeePerGas"] for n in (newest - 1, newest)]


def test_deploy_call_events_and_revert(rpc: Client) -> None:
    a = rpc("eth_accounts")
    receipt = send(rpc, data="0x" + STORE_INIT.hex())
    assert receipt["to"] is None  # a creation receipt has "to": null
    store = receipt["contractAddress"]
    assert rpc("eth_getCode", store, "latest").startswith("0x6000")
    assert rpc("eth_getAccountInfo", store, "latest") == {
        "balance": "0x0", "nonce": "0x1", "code": rpc("eth_getCode", store, "latest")}
    set5 = "0x" + selector("set(uint256)").hex() + word(5)
    receipt = send(rpc, to=store, data=set5)
    (log,) = receipt["logs"]
    assert log["topics"] == ["0x" + VALUE_SET_TOPIC.hex(), "0x" + "00" * 12 + a[0][2:]]
    assert log["data"] == "0x" + word(5) and log["logIndex"] == "0x0"
    get = "0x" + selector("get()").hex()
    assert rpc("eth_call", {"to": store, "data": get}, "latest") == "0x" + word(5)
    assert rpc("eth_getStorageAt", store, "0x0", "latest") == "0x" + word(5)
    # Custom error: code 3, the revert bytes in data.
    set0 = "0x" + selector("set(uint256)").hex() + word(0)
    err = rpc.error("eth_call", {"to": store, "data": set0}, "latest")
    assert err["code"] == 3 and err["data"] == "0x" + ZERO_ERROR.hex()
    err = rpc.error("eth_estimateGas", {"from": a[0], "to": store, "data": set0})
    assert err["code"] == 3 and err["data"] == "0x" + ZERO_ERROR.hex()
    # Error(string) is decoded into the message too.
    fail = "0x" + selector("fail(uint256)").hex() + word(1)
    err = rpc.error("eth_call", {"to": store, "data": fail}, "latest")
    assert err["code"] == 3 and "no" in err["message"]
    # A reverting transaction with an explicit gas limit is mined with status 0.
    receipt = send(rpc, to=store, data=set0, gas="0x30000")
    assert receipt["status"] == "0x0"
    # Logs: by address and topic, with OR lists and null wildcards.
    logs = rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": store})
    # An empty address list filters nothing (geth, anvil); it matched no log at all.
    assert rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": []}) == \
        rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert logs
    assert len(logs) == 1
    logs = rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [
        None, ["0x" + "00" * 12 + a[0][2:], "0x" + "11" * 32]]})
    assert len(logs) == 1
    assert rpc("eth_getLogs", {"fromBlock": "0x0", "topics": ["0x" + "22" * 32]}) == []
    # a range given backwards is geth's error, not an empty answer
    assert rpc.error("eth_getLogs", {"fromBlock": "0x2", "toBlock": "0x1"}) == {
        "code": -32000, "message": "invalid block range params"}
    by_hash = rpc("eth_getLogs", {"blockHash": logs[0]["blockHash"]})
    assert by_hash == logs


def test_filters(rpc: Client) -> None:
    store = deploy_store(rpc)
    log_filter = rpc("eth_newFilter", {"address": store})
    block_filter = rpc("eth_newBlockFilter")
    assert rpc("eth_getFilterChanges", log_filter) == []
    send(rpc, to=store, data="0x" + selector("set(uint256)").hex() + word(9))
    changes = rpc("eth_getFilterChanges", log_filter)
    assert len(changes) == 1 and changes[0]["data"] == "0x" + word(9)
    assert rpc("eth_getFilterChanges", log_filter) == []
    assert len(rpc("eth_getFilterChanges", block_filter)) == 1
    assert len(rpc("eth_getFilterLogs", log_filter)) == 1
    assert rpc("eth_uninstallFilter", log_filter) is True
    assert rpc("eth_uninstallFilter", log_filter) is False
    assert rpc.error("eth_getFilterChanges", log_filter)["code"] == -32000


# Runtime code returning NUMBER, TIMESTAMP and COINBASE as three words.
BLOCK_CONTEXT_RUNTIME = bytes.fromhex("436000524260205241604052" "60606000f3")
BLOCK_CONTEXT_INIT = bytes([0x60, len(BLOCK_CONTEXT_RUNTIME), 0x60, 12, 0x60, 0, 0x39,
                            0x60, len(BLOCK_CONTEXT_RUNTIME), 0x60, 0, 0xF3]) \
    + BLOCK_CONTEXT_RUNTIME


def test_calls_at_a_block_see_that_blocks_context(rpc: Client) -> None:
    """As anvil and geth: a call at block B runs on B's state with B's header as the block
    context; `latest` is the head block, `pending` the next one."""
    first = send(rpc, data="0x" + BLOCK_CONTEXT_INIT.hex())
    probe = first["contractAddress"]
    deployed_in = int(first["blockNumber"], 16)
    rpc("evm_mine")
    rpc("evm_mine")
    head = int(rpc("eth_blockNumber"), 16)
    for tag, number in ((hex(deployed_in), deployed_in), (hex(head - 1), head - 1),
                        ("latest", head), ("pending", head + 1)):
        out = bytes.fromhex(rpc("eth_call", {"to": probe}, tag)[2:])
        assert int.from_bytes(out[:32], "big") == number, tag
        if tag != "pending":
            block = rpc("eth_getBlockByNumber", tag, False)
            assert int.from_bytes(out[32:64], "big") == int(block["timestamp"], 16), tag
            assert "0x" + out[76:96].hex() == block["miner"], tag
        traced = rpc("debug_traceCall", {"to": probe}, tag, {"tracer": "callTracer"})
        assert traced["output"] == "0x" + out.hex(), tag
    # Before the deployment the probe has no code: a plain transfer's 21000.
    before = hex(deployed_in - 1)
    assert rpc("eth_call", {"to": probe}, before) == "0x"
    assert int(rpc("eth_estimateGas", {"to": probe}, before), 16) == 21000
    # a gas below 21,000 is ignored, as geth's estimator does (it was "intrinsic gas too low")
    assert int(rpc("eth_estimateGas", {"to": probe, "gas": "0x5000"}, before), 16) == 21000
    assert int(rpc("eth_estimateGas", {"to": probe}, "latest"), 16) > 21000


def test_reverted_blocks_are_gone_by_hash_too(rpc: Client) -> None:
    """As anvil unwinds them: a block evm_revert dropped is not served by its hash either.
    Served, it used to send eth_feeHistory into an internal error and trace_block into a
    replay on a state changed since."""
    a = rpc("eth_accounts")
    sid = rpc("evm_snapshot")
    receipt = send(rpc, to=a[2], value="0x1")
    gone = receipt["blockHash"]
    assert rpc("eth_getBlockByHash", gone, False)["hash"] == gone
    assert rpc("evm_revert", sid) is True
    rpc("anvil_setBalance", a[0], "0x10")  # the reverted block could not be replayed now
    assert rpc("eth_getBlockByHash", gone, False) is None
    assert rpc("eth_getBlockTransactionCountByHash", gone) is None
    assert rpc("eth_getTransactionByBlockHashAndIndex", gone, "0x0") is None
    assert rpc("eth_getTransactionReceipt", receipt["transactionHash"]) is None
    for method, params in (("eth_feeHistory", ["0x2", {"blockHash": gone}]),
                           ("eth_getBalance", [a[0], {"blockHash": gone}]),
                           ("eth_getLogs", [{"blockHash": gone}])):
        err = rpc.error(method, *params)
        assert err["code"] == -32000, (method, err)
    assert rpc("trace_block", {"blockHash": gone}) is None


def test_block_overrides(rpc: Client) -> None:
    """geth's fourth eth_call argument (and eth_estimateGas's, debug_traceCall's
    blockOverrides): the block context a call sees."""
    probe = "0x" + "77" * 20

    def context(opcode: int, block_overrides: dict[str, str], **tx: str) -> int:
        code = f"0x{opcode:02x}60005260206000f3"  # OPCODE, MSTORE at 0, RETURN 32 bytes
        out = rpc("eth_call", {"to": probe, **tx}, "latest", {probe: {"code": code}},
                  block_overrides)
        return int(out, 16)

    assert context(0x43, {"number": "0x99"}) == 0x99  # NUMBER
    assert context(0x42, {"time": "0x12345678"}) == 0x12345678  # TIMESTAMP
    assert context(0x41, {"feeRecipient": "0x" + "ab" * 20}) == int("ab" * 20, 16)  # COINBASE
    # BASEFEE: an unpriced call sees 0, as in geth; a priced one the overridden fee
    assert context(0x48, {"baseFeePerGas": "0x7"}, gasPrice="0x7",
                   **{"from": rpc("eth_accounts")[0]}) == 7
    assert context(0x45, {"gasLimit": "0x100000"}) == 0x100000  # GASLIMIT, and the gas within it
    assert context(0x44, {"prevRandao": "0x" + "cd" * 32}) == int("cd" * 32, 16)  # PREVRANDAO
    head = int(rpc("eth_blockNumber"), 16)
    assert context(0x43, {}) == head  # an empty object changes nothing
    err = rpc.error("eth_call", {"to": probe}, "latest", None, {"number": "0xzz"})
    assert err["code"] == -32602 and "block overrides: number" in err["message"]
    assert rpc.error("eth_call", {"to": probe}, "latest", None,
                     {"blobBaseFee": "0x1"})["code"] == -32602
    code = "0x4360005260206000f3"
    assert int(rpc("eth_estimateGas", {"to": probe}, "latest", {probe: {"code": code}},
                   {"number": "0x5"}), 16) > 21000
    trace = rpc("debug_traceCall", {"to": probe}, "latest", {
        "tracer": "callTracer", "stateOverrides": {probe: {"code": code}},
        "blockOverrides": {"number": "0x42"}})
    assert int(trace["output"], 16) == 0x42


def test_pending_transaction_filter_sees_the_pool(rpc: Client) -> None:
    """As in geth and anvil: a transaction shows when it enters the pool, not when mined."""
    a = rpc("eth_accounts")
    pending = rpc("eth_newPendingTransactionFilter")
    rpc("evm_setAutomine", False)
    try:
        sent = rpc("eth_sendTransaction", {"from": a[0], "to": a[1], "value": "0x1"})
        assert rpc("eth_getFilterChanges", pending) == [sent]
        waiting = rpc("eth_getTransactionByHash", sent)
        assert waiting["blockHash"] is None and waiting["blockTimestamp"] is None
        rpc("evm_mine")
        assert rpc("eth_getFilterChanges", pending) == []  # mining it adds nothing
    finally:
        rpc("evm_setAutomine", True)


def test_panics_are_worded_as_geth_words_them(rpc: Client) -> None:
    probe = "0x" + "66" * 20

    def panic(code: int) -> dict:
        # PUSH4 Panic's selector, SHL 224, MSTORE at 0; the code at 4; REVERT 36 bytes
        runtime = f"0x634e487b7160e01b60005260{code:02x}60045260246000fd"
        return rpc.error("eth_call", {"to": probe}, "latest", {probe: {"code": runtime}})

    err = panic(0x11)
    assert err["code"] == 3 and err["message"] == \
        "execution reverted: arithmetic underflow or overflow"
    assert err["data"] == "0x4e487b71" + f"{0x11:064x}"
    assert panic(0x01)["message"] == "execution reverted: assert(false)"
    assert panic(0x99)["message"] == "execution reverted: unknown panic code: 0x99"


def test_a_transaction_type_the_node_cannot_fill_is_geths_error(rpc: Client) -> None:
    """It was an internal error (an InvalidTransaction out of the pool)."""
    a = rpc("eth_accounts")
    for tx_type in ("0x3", "0x9", "0xff"):
        err = rpc.error("eth_sendTransaction", {"from": a[0], "to": a[1], "type": tx_type})
        assert err == {"code": -32000, "message": "transaction type not supported"}, err


def test_transaction_types_as_geth_chooses_them(rpc: Client) -> None:
    a = rpc("eth_accounts")

    def sent_type(**fields: object) -> str:
        h = rpc("eth_sendTransaction", {"from": a[0], "to": a[1], **fields})
        return rpc("eth_getTransactionByHash", h)["type"]

    assert sent_type() == "0x2"
    assert sent_type(gasPrice="0x77359400") == "0x0"
    # an access list, even empty, makes a priced transaction an EIP-2930 one
    assert sent_type(gasPrice="0x77359400", accessList=[]) == "0x1"
    assert sent_type(accessList=[]) == "0x2"


def test_trace_block_by_number_and_hash(rpc: Client) -> None:
    """geth's (and anvil's) debug_traceBlockBy*: each transaction traced, [{txHash, result}]."""
    a = rpc("eth_accounts")
    receipt = send(rpc, to=a[1], value="0x1")
    tx_hash = receipt["transactionHash"]
    options = {"tracer": "callTracer"}
    want = [{"txHash": tx_hash, "result": rpc("debug_traceTransaction", tx_hash, options)}]
    assert rpc("debug_traceBlockByNumber", receipt["blockNumber"], options) == want
    assert rpc("debug_traceBlockByHash", receipt["blockHash"], options) == want
    assert rpc("debug_traceBlockByNumber", "0x0", options) == []  # genesis: no transactions
    assert rpc.error("debug_traceBlockByHash", "0x" + "00" * 32)["code"] == -32000


def test_more_anvil_and_geth_methods(rpc: Client) -> None:
    """Raw transactions, eth_getAccount(Info), anvil_addBalance, the block timestamp interval,
    the interval-mining getter and the logging switch, answered as anvil 1.7.1 answers."""
    a = rpc("eth_accounts")
    receipt = send(rpc, to=a[1], value="0x1")
    tx_hash = receipt["transactionHash"]
    block = rpc("eth_getBlockByHash", receipt["blockHash"], True)
    # blockTimestamp on receipts (geth, anvil, erigon) and mined transactions (anvil)
    assert receipt["blockTimestamp"] == block["timestamp"] \
        == block["transactions"][0]["blockTimestamp"] \
        == rpc("eth_getTransactionByHash", tx_hash)["blockTimestamp"] \
        == rpc("eth_getBlockReceipts", receipt["blockHash"])[0]["blockTimestamp"]
    raw = rpc("eth_getRawTransactionByHash", tx_hash)
    assert raw.startswith("0x02") and rpc("debug_getRawTransaction", tx_hash) == raw
    assert rpc("eth_getRawTransactionByBlockNumberAndIndex", receipt["blockNumber"], "0x0") == raw
    assert rpc("eth_getRawTransactionByBlockHashAndIndex", receipt["blockHash"], "0x0") == raw
    assert rpc("eth_getRawTransactionByHash", "0x" + "00" * 32) is None
    account = rpc("eth_getAccount", a[0], "latest")
    assert account["nonce"] == rpc("eth_getTransactionCount", a[0], "latest")
    assert account["balance"] == rpc("eth_getBalance", a[0], "latest")
    assert account["codeHash"] == "0x" + keccak256(b"").hex()
    # anvil's eth_getAccountInfo: balance, nonce and code, zeros for an absent account
    info = rpc("eth_getAccountInfo", a[0], "latest")
    assert info == {"balance": account["balance"], "nonce": account["nonce"], "code": "0x"}
    assert rpc("eth_getAccountInfo", "0x" + "3d" * 20, "latest") == \
        {"balance": "0x0", "nonce": "0x0", "code": "0x"}
    assert rpc("eth_getAccountInfo", a[0], "0x0")["nonce"] == "0x0"
    stranger = "0x" + "3c" * 20
    assert rpc("anvil_addBalance", stranger, "0x10") is True
    assert rpc("anvil_addBalance", stranger, "0x5") is True
    assert rpc("eth_getBalance", stranger, "latest") == "0x15"
    assert rpc("anvil_setBlockTimestampInterval", 7) is True
    before = int(rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    rpc("evm_mine")
    rpc("evm_mine")
    assert int(rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16) == before + 14
    assert rpc("anvil_removeBlockTimestampInterval") is True
    assert rpc("anvil_removeBlockTimestampInterval") is False
    assert rpc("anvil_getIntervalMining") is None
    assert rpc("anvil_getGenesisTime") == int(
        rpc("eth_getBlockByNumber", "0x0", False)["timestamp"], 16)
    assert rpc("anvil_setLoggingEnabled", False) is True
    assert rpc("hardhat_setLoggingEnabled", True) is True


def test_next_base_fee_and_block_gas_limit(rpc: Client) -> None:
    """anvil_setNextBlockBaseFeePerGas sets the next block's base fee only (EIP-1559 derives
    the next ones from it), evm_setBlockGasLimit every later block's gas limit; both as
    anvil 1.7.1 does, the numbers being those it gave for the same calls."""
    a = rpc("eth_accounts")
    gwei = 10**9

    def head() -> tuple[int, int]:
        block = rpc("eth_getBlockByNumber", "latest", False)
        return int(block["baseFeePerGas"], 16), int(block["gasLimit"], 16)

    limit = head()[1]
    assert rpc("anvil_setNextBlockBaseFeePerGas", "0x1") is None
    assert rpc("eth_gasPrice") == hex(1 + gwei)  # calls and fee suggestions see it at once
    rpc("evm_mine")
    assert head() == (1, limit)
    rpc("evm_mine")
    assert head() == (1, limit)  # an empty block at base fee 1 keeps 1
    assert rpc("hardhat_setNextBlockBaseFeePerGas", hex(5 * gwei)) is None
    receipt = send(rpc, to=a[1], value="0x1")
    block = rpc("eth_getBlockByNumber", receipt["blockNumber"], False)
    assert int(block["baseFeePerGas"], 16) == 5 * gwei
    assert int(receipt["effectiveGasPrice"], 16) == 6 * gwei
    assert rpc("evm_setBlockGasLimit", "0x5208") is True
    assert rpc("eth_estimateGas", {"from": a[0], "to": a[1]}) == "0x5208"
    assert "exceeds block gas limit" in rpc.error(
        "eth_sendTransaction", {"from": a[0], "to": a[1], "gas": "0x5209"})["message"]
    full = send(rpc, to=a[1], value="0x1")  # fills its block: the next base fee rises
    base = int(rpc("eth_getBlockByNumber", full["blockNumber"], False)["baseFeePerGas"], 16)
    rpc("evm_mine")
    assert head() == (base + base // 8, 21_000)
    assert rpc("anvil_setBlockGasLimit", hex(limit)) is True
    rpc("evm_mine")
    assert head()[1] == limit
    assert rpc.error("evm_setBlockGasLimit", hex(1 << 63))["code"] == -32602
    assert rpc.error("anvil_setMinGasPrice", "0x1")["message"] == \
        "anvil_setMinGasPrice is not supported when EIP-1559 is active"


def test_sign_unsigned_sends_pool_removal_and_detailed_mining(rpc: Client) -> None:
    """eth_signTransaction, eth_sendUnsignedTransaction, anvil_removePoolTransactions,
    anvil_dropAllTransactions, evm_mine_detailed and anvil's other names for methods the
    node has, answered as anvil 1.7.1 answered the same calls."""
    a = rpc("eth_accounts")
    assert rpc("eth_requestAccounts") == a
    assert rpc("eth_networkId") == rpc("net_version") == "31337"
    nonce = rpc("eth_getTransactionCount", a[0], "pending")
    raw = rpc("eth_signTransaction", {
        "from": a[0], "to": a[1], "value": "0x1", "gas": "0x5208", "nonce": "0x0",
        "maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x1"})
    # anvil's answer to the same request (same key, deterministic ECDSA)
    assert raw == ("0x02f868827a69800184773594008252089470997970c51812dc3a010c7d01b50e0d17dc79c8"
                   "0180c001a0a47eb869be1e4a07b681e7063df0270355cb7c5a899b179a80cb601de381a8f3"
                   "a044967264754ab0d27600532eb0049fc2d29d8b11f8ec1ce53d2d30b481e53d69")
    assert rpc("eth_getTransactionCount", a[0], "pending") == nonce  # nothing was sent
    stranger = "0x" + "4f" * 20
    assert rpc.error("eth_signTransaction", {"from": stranger, "to": a[1]})["code"] == -32000
    rpc("anvil_setBalance", stranger, hex(10**18))
    sent = rpc("eth_sendUnsignedTransaction", {"from": stranger, "to": a[1], "value": "0x7"})
    receipt = rpc("eth_getTransactionReceipt", sent)
    assert receipt["from"] == stranger and receipt["status"] == "0x1"
    assert rpc("evm_setAccountNonce", stranger, "0x9") is True
    assert rpc("eth_getTransactionCount", stranger, "latest") == "0x9"
    assert rpc("hardhat_autoImpersonateAccount", False) is True
    rpc("anvil_setAutomine", False)
    try:
        hashes = [rpc("eth_sendTransaction", {"from": a[i], "to": a[1], "value": "0x1"})
                  for i in (0, 0, 2)]
        assert rpc("txpool_status")["pending"] == "0x3"
        assert rpc("anvil_removePoolTransactions", a[0]) is None
        assert rpc("txpool_status")["pending"] == "0x1"
        assert rpc("anvil_dropAllTransactions") is None
        assert rpc("txpool_status")["pending"] == "0x0"
        assert all(rpc("eth_getTransactionByHash", h) is None for h in hashes)
        call = rpc("eth_sendTransaction", {"from": a[0], "to": a[1], "value": "0x1"})
        head = int(rpc("eth_blockNumber"), 16)
        mined = rpc("evm_mine_detailed", {"blocks": 2})
        assert [int(b["number"], 16) for b in mined] == [head + 1, head + 2]
        assert [t["hash"] for t in mined[0]["transactions"]] == [call]
        assert mined[0]["transactions"][0]["output"] == "0x" and mined[1]["transactions"] == []
        assert mined == [rpc("eth_getBlockByNumber", b["number"], True) | {
            "transactions": b["transactions"]} for b in mined]
        assert len(rpc("anvil_mine_detailed")) == 1
        assert "at most 1000" in rpc.error("evm_mine_detailed", {"blocks": 1001})["message"]
    finally:
        rpc("anvil_setAutomine", True)


def test_rollback_and_reorg(rpc: Client) -> None:
    """anvil_rollback drops the last blocks and their transactions; anvil_reorg replaces
    them with as many new blocks holding the transactions given at each offset (requests
    or raw ones), as anvil 1.7.1 does; a refused reorg leaves the chain as it was."""
    a = rpc("eth_accounts")
    start = int(rpc("eth_blockNumber"), 16)
    sent = [send(rpc, to=a[1], value=hex(i + 1))["transactionHash"] for i in range(4)]
    balance = rpc("eth_getBalance", a[1], "latest")
    assert rpc("anvil_rollback", 2) is None
    assert int(rpc("eth_blockNumber"), 16) == start + 2
    assert rpc("eth_getTransactionByHash", sent[3]) is None
    assert rpc("eth_getTransactionReceipt", sent[2]) is None
    assert int(rpc("eth_getBalance", a[1], "latest"), 16) == int(balance, 16) - 7
    assert rpc("txpool_status")["pending"] == "0x0"  # dropped, not back in the pool
    assert rpc("anvil_rollback", 0) is None and int(rpc("eth_blockNumber"), 16) == start + 2
    head = int(rpc("eth_blockNumber"), 16)
    assert "more than the chain" in rpc.error("anvil_rollback", head + 1)["message"]

    old = [rpc("eth_getBlockByNumber", hex(n), False) for n in (head - 1, head)]
    raw = rpc("eth_signTransaction", {"from": a[4], "to": a[3], "value": "0x9",
                                      "nonce": rpc("eth_getTransactionCount", a[4], "latest")})
    placed = [[{"from": a[2], "to": a[3], "value": "0x5"}, 0],
              [{"from": a[2], "to": a[3], "value": "0x6"}, 1], [raw, 1],
              [{"from": a[2], "to": a[3], "value": "0x7", "nonce": "0x63"}, 1]]  # invalid: left out
    nonce = int(rpc("eth_getTransactionCount", a[2], "latest"), 16)
    assert rpc("anvil_reorg", 2, placed) is None
    new = [rpc("eth_getBlockByNumber", hex(n), True) for n in (head - 1, head)]
    assert int(rpc("eth_blockNumber"), 16) == head
    assert [b["timestamp"] for b in new] == [b["timestamp"] for b in old]
    assert all(b["hash"] != o["hash"] for b, o in zip(new, old, strict=True))
    assert [[(t["from"], t["value"], int(t["nonce"], 16)) for t in b["transactions"]]
            for b in new] == [[(a[2], "0x5", nonce)], [(a[2], "0x6", nonce + 1), (a[4], "0x9", 0)]]
    assert rpc("eth_getTransactionByHash", old[1]["transactions"][0]) is None
    before = rpc("eth_getBlockByNumber", "latest", False)["hash"]
    for params, words in (([3, [[{"from": a[2], "to": a[3]}, 3]]], "offset 3"),
                          ([head + 1, []], "more than the chain"),
                          ([1, [[{"from": "0x" + "4d" * 20, "to": a[3]}, 0]]], "unknown account"),
                          ([1, [["0x02ff", 0]]], "invalid transaction"),
                          ([1, [["0x00", 0]] * 2001], "at most 2000")):
        assert words in rpc.error("anvil_reorg", *params)["message"]
        assert rpc("eth_getBlockByNumber", "latest", False)["hash"] == before


def test_send_sync_waits_for_the_receipt(node: ThreadedNode, rpc: Client,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """EIP-7966 (and anvil's eth_sendTransactionSync): the receipt as the answer; with
    automine off the request waits, off the chain's thread, for a block that mines the
    transaction, or answers error 4 with the hash once its timeout passes."""
    import threading
    import time

    from chainvm.node import server

    a = rpc("eth_accounts")
    raw = rpc("eth_signTransaction", {"from": a[0], "to": a[1], "value": "0x1"})
    receipt = rpc("eth_sendRawTransactionSync", raw)
    assert receipt["status"] == "0x1" and receipt == rpc(
        "eth_getTransactionReceipt", receipt["transactionHash"])
    assert rpc("eth_sendTransactionSync", {"from": a[0], "to": a[1]})["status"] == "0x1"
    rpc("evm_setAutomine", False)
    try:
        miner = threading.Timer(0.3, lambda: Client(node.url)("evm_mine"))
        miner.start()
        started = time.monotonic()
        waited = rpc("eth_sendTransactionSync", {"from": a[2], "to": a[1]}, "0x2710")
        assert waited["status"] == "0x1" and time.monotonic() - started >= 0.25
        miner.join()
        error = rpc.error("eth_sendTransactionSync", {"from": a[2], "to": a[1]}, 100)
        assert error["code"] == 4 and "100 ms" in error["message"]
        assert rpc("eth_getTransactionByHash", error["data"])["blockHash"] is None  # pooled
        monkeypatch.setattr(server, "MAX_SYNC_WAITERS", 0)  # all the waiters there may be
        started = time.monotonic()
        assert rpc.error("eth_sendTransactionSync", {"from": a[2], "to": a[1]},
                         "0x2710")["code"] == 4
        assert time.monotonic() - started < 5  # answered at once, not after 10 s
    finally:
        rpc("evm_setAutomine", True)


def test_fill_transaction_lookup_by_nonce_and_code_by_hash(rpc: Client) -> None:
    """eth_fillTransaction (geth's), eth_getTransactionBySenderAndNonce (anvil's, reth's)
    and debug_codeByHash (geth's, anvil's), shaped as anvil 1.7.1 answers them."""
    a = rpc("eth_accounts")
    filled = rpc("eth_fillTransaction", {"from": a[0], "to": a[1], "value": "0x1"})
    assert filled["raw"].endswith("c0808080")  # an empty access list, a zero signature
    tx = filled["tx"]
    assert (tx["from"], tx["to"], tx["value"], tx["gas"], tx["nonce"]) == (
        a[0], a[1], "0x1", "0x5208", rpc("eth_getTransactionCount", a[0], "pending"))
    assert tx["blockHash"] is None and tx["r"] == "0x0"
    assert rpc("eth_fillTransaction", {"to": a[1], "value": "0x1"})["tx"]["from"] == a[0]
    sent = [send(rpc, to=a[1], value="0x1")["transactionHash"] for _ in range(3)]
    for hash_ in sent:
        mined = rpc("eth_getTransactionByHash", hash_)
        assert rpc("eth_getTransactionBySenderAndNonce", a[0], mined["nonce"]) == mined
        assert rpc("ots_getTransactionBySenderAndNonce", a[0], mined["nonce"]) == hash_
    assert rpc("eth_getTransactionBySenderAndNonce", a[0], "0xffff") is None
    store = deploy_store(rpc)
    code = rpc("eth_getCode", store, "latest")
    assert rpc("debug_codeByHash", "0x" + keccak256(bytes.fromhex(code[2:])).hex()) == code
    assert rpc("debug_codeByHash", "0x" + "00" * 32) == "0x"


def test_raw_header_block_and_receipts(rpc: Client) -> None:
    """geth's debug_getRawHeader, debug_getRawBlock and debug_getRawReceipts: consensus
    encodings that hash and root to what the block says."""
    from chainvm.chain.block import Block, ordered_trie_root

    a = rpc("eth_accounts")
    receipt = send(rpc, to=a[1], value="0x1")
    block = rpc("eth_getBlockByNumber", receipt["blockNumber"], False)
    header = bytes.fromhex(rpc("debug_getRawHeader", receipt["blockNumber"])[2:])
    assert "0x" + keccak256(header).hex() == block["hash"]
    raw = bytes.fromhex(rpc("debug_getRawBlock", receipt["blockHash"])[2:])
    assert "0x" + Block.decode(raw).hash.hex() == block["hash"]
    receipts = [bytes.fromhex(r[2:]) for r in rpc("debug_getRawReceipts", block["hash"])]
    assert "0x" + ordered_trie_root(receipts).hex() == block["receiptsRoot"]
    assert rpc.error("debug_getRawHeader", "0xffffff")["message"] == "header not found"


def test_set_prev_randao(rpc: Client) -> None:
    """hardhat_setPrevRandao (hardhat's network helpers' setPrevRandao): the next block's
    PREVRANDAO and mix hash, calls on the pending block see it; later blocks have zeros."""
    value = "0x" + "5a" * 32
    assert rpc("hardhat_setPrevRandao", value) is True
    probe = "0x" + "77" * 20  # PREVRANDAO (0x44), MSTORE, RETURN 32 bytes
    assert rpc("eth_call", {"to": probe}, "pending",
               {probe: {"code": "0x4460005260206000f3"}}) == value
    rpc("evm_mine")
    assert rpc("eth_getBlockByNumber", "latest", False)["mixHash"] == value
    rpc("evm_mine")
    assert rpc("eth_getBlockByNumber", "latest", False)["mixHash"] == "0x" + "00" * 32
    with ThreadedNode(DevChain(fork="Berlin")) as berlin:
        assert Client(berlin.url).error("hardhat_setPrevRandao", value)["code"] == -32602


def test_set_chain_id() -> None:
    """anvil_setChainId: eth_chainId, net_version, calls (CHAINID) and the transactions the
    node fills and accepts use the new id at once; a transaction mined before is still
    replayed and traced with the id it was signed for."""
    with ThreadedNode(DevChain()) as fresh:
        rpc = Client(fresh.url)
        a = rpc("eth_accounts")
        probe = "0x" + "66" * 20
        rpc("anvil_setCode", probe, "0x4660005260206000f3")  # CHAINID, MSTORE, RETURN 32
        before = rpc("eth_sendTransaction", {"from": a[0], "to": probe})
        assert rpc("anvil_setChainId", 5) is None
        assert (rpc("eth_chainId"), rpc("net_version")) == ("0x5", "5")
        assert int(rpc("eth_call", {"to": probe}, "latest"), 16) == 5
        after = rpc("eth_sendTransaction", {"from": a[0], "to": probe})
        assert rpc("eth_getTransactionByHash", after)["chainId"] == "0x5"
        assert rpc("eth_getTransactionByHash", before)["chainId"] == "0x7a69"
        for tx in (before, after):  # each replayed with its own id
            trace = rpc("debug_traceTransaction", tx, {"tracer": "callTracer"})
            assert "error" not in trace
        assert "does not match 5" in rpc.error(
            "eth_sendTransaction", {"from": a[0], "to": a[1], "chainId": "0x7a69"})["message"]
        assert rpc.error("anvil_setChainId", 0)["code"] == -32602


def test_min_gas_price_before_london() -> None:
    """anvil_setMinGasPrice on a Berlin chain: the price suggested and filled in (not a
    floor: a lower explicit price is still taken), as anvil 1.7.1 on --hardfork berlin."""
    with ThreadedNode(DevChain(fork="Berlin")) as berlin:
        rpc = Client(berlin.url)
        a = rpc("eth_accounts")
        assert rpc("anvil_setMinGasPrice", "0x77359400") is None
        assert rpc("eth_gasPrice") == "0x77359400"
        cheap = rpc("eth_sendTransaction", {"from": a[0], "to": a[1], "gasPrice": "0x3b9aca00"})
        assert rpc("eth_getTransactionByHash", cheap)["gasPrice"] == "0x3b9aca00"
        filled = rpc("eth_sendTransaction", {"from": a[0], "to": a[1]})
        assert rpc("eth_getTransactionByHash", filled)["gasPrice"] == "0x77359400"
        assert rpc.error("anvil_setNextBlockBaseFeePerGas", "0x1")["code"] == -32602
        assert rpc("evm_setBlockGasLimit", "0x1c9c380") is True


def test_set_time_and_auto_impersonation(rpc: Client) -> None:
    """anvil_setTime/evm_setTime move the clock (the answer: by how much), and
    anvil_autoImpersonateAccount lets any sender without a key send."""
    a = rpc("eth_accounts")
    head = int(rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    target = head + 10_000
    rpc("anvil_setTime", target)
    assert rpc("evm_setTime", target + 100) == 100
    rpc("evm_mine")
    assert int(rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16) >= target + 100
    stranger = "0x" + "4e" * 20
    rpc("anvil_setBalance", stranger, "0xffffffffffffffffff")
    assert rpc.error("eth_sendTransaction", {"from": stranger, "to": a[1]})["code"] == -32000
    assert rpc("anvil_autoImpersonateAccount", True) is True
    try:
        h = rpc("eth_sendTransaction", {"from": stranger, "to": a[1], "value": "0x1"})
        assert rpc("eth_getTransactionReceipt", h)["from"] == stranger
    finally:
        rpc("anvil_autoImpersonateAccount", False)
    assert rpc.error("eth_sendTransaction", {"from": stranger, "to": a[1]})["code"] == -32000


def test_snapshot_revert_and_mining(rpc: Client) -> None:
    a = rpc("eth_accounts")
    start = int(rpc("eth_blockNumber"), 16)
    sid = rpc("evm_snapshot")
    send(rpc, to=a[2], value="0x1")
    rpc("evm_mine")
    rpc("anvil_mine", "0x3")
    assert int(rpc("eth_blockNumber"), 16) == start + 5
    assert rpc("evm_revert", sid) is True
    assert int(rpc("eth_blockNumber"), 16) == start
    assert rpc("eth_getBalance", a[2], "latest") == hex(10_000 * 10**18)
    assert rpc("evm_revert", sid) is False  # a snapshot is used once
    # Automine off: transactions wait for evm_mine.
    rpc("evm_setAutomine", False)
    try:
        h = rpc("eth_sendTransaction", {"from": a[0], "to": a[3], "value": "0x5"})
        assert rpc("eth_getTransactionReceipt", h) is None
        assert rpc("eth_getTransactionByHash", h)["blockHash"] is None
        assert rpc("eth_getTransactionCount", a[0], "pending") == hex(
            int(rpc("eth_getTransactionCount", a[0], "latest"), 16) + 1)
        # `pending` is the block the pool would make now (as anvil): the waiting transfer
        # in it, its state after it; `latest` is still the head.
        head = int(rpc("eth_blockNumber"), 16)
        pending = rpc("eth_getBlockByNumber", "pending", False)
        assert int(pending["number"], 16) == head + 1 and pending["transactions"] == [h]
        assert rpc("eth_getBlockTransactionCountByNumber", "pending") == "0x1"
        assert int(rpc("eth_getBalance", a[3], "pending"), 16) == \
            int(rpc("eth_getBalance", a[3], "latest"), 16) + 5
        assert rpc("eth_getBlockReceipts", "pending")[0]["status"] == "0x1"
        assert rpc("eth_feeHistory", "0x2", "pending") == rpc("eth_feeHistory", "0x2", "latest")
        rpc("evm_mine")
        assert rpc("eth_getTransactionReceipt", h)["status"] == "0x1"
        mined = rpc("eth_getBlockByNumber", "latest", False)
        assert mined["transactions"] == [h] and mined["gasUsed"] == pending["gasUsed"]
        empty = rpc("eth_getBlockByNumber", "pending", False)
        assert int(empty["number"], 16) == head + 2 and empty["transactions"] == []
    finally:
        rpc("evm_setAutomine", True)


def test_time_travel(rpc: Client) -> None:
    head = rpc("eth_getBlockByNumber", "latest", False)
    t0 = int(head["timestamp"], 16)
    rpc("evm_setNextBlockTimestamp", hex(t0 + 1000))
    rpc("evm_mine")
    assert int(rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16) == t0 + 1000
    rpc("evm_increaseTime", hex(3600))
    rpc("evm_mine")
    assert int(rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16) >= t0 + 4600


def test_state_edits_and_impersonation(rpc: Client) -> None:
    who = "0x" + "ab" * 20
    assert rpc("anvil_setBalance", who, hex(5 * 10**18)) is True
    assert rpc("eth_getBalance", who, "latest") == hex(5 * 10**18)
    rpc("hardhat_setNonce", who, "0x7")
    assert rpc("eth_getTransactionCount", who, "latest") == "0x7"
    rpc("anvil_setCode", "0x" + "cd" * 20, "0x602a60005260206000f3")
    assert rpc("eth_call", {"to": "0x" + "cd" * 20}, "latest") == "0x" + word(42)
    rpc("hardhat_setStorageAt", "0x" + "cd" * 20, "0x1", "0x" + word(99))
    assert rpc("eth_getStorageAt", "0x" + "cd" * 20, "0x1", "latest") == "0x" + word(99)
    # Sending from an unknown account fails until it is impersonated.
    err = rpc.error("eth_sendTransaction", {"from": who, "to": "0x" + "01" * 20, "value": "0x1"})
    assert err["code"] == -32000
    rpc("anvil_impersonateAccount", who)
    receipt = send(rpc, **{"from": who, "to": "0x" + "02" * 20, "value": "0x9"})
    assert receipt["status"] == "0x1" and receipt["from"] == who
    assert rpc("eth_getTransactionByHash", receipt["transactionHash"])["from"] == who
    rpc("anvil_stopImpersonatingAccount", who)
    assert rpc("eth_getBalance", "0x" + "02" * 20, "latest") == "0x9"
    assert rpc("eth_getTransactionCount", who, "latest") == "0x8"


def test_impersonating_a_contract(rpc: Client) -> None:
    store = deploy_store(rpc)
    caller = send(rpc, data="0x" + CALLER_INIT.hex())["contractAddress"]
    rpc("anvil_setBalance", caller, hex(10**18))
    tx = {"from": caller, "to": store, "gas": hex(100_000),
          "data": "0x" + (selector("set(uint256)") + (5).to_bytes(32, "big")).hex()}
    rpc("anvil_impersonateAccount", caller)
    receipt = send(rpc, **tx)
    assert receipt["status"] == "0x1" and receipt["from"] == caller
    assert receipt["logs"][0]["topics"][1] == "0x" + "00" * 12 + caller[2:]
    trace = rpc("debug_traceTransaction", receipt["transactionHash"], {})
    assert trace["failed"] is False
    rpc("hardhat_stopImpersonatingAccount", caller)
    assert rpc.error("eth_sendTransaction", tx)["code"] == -32000
    assert rpc("eth_getStorageAt", store, "0x0", "latest") == "0x" + word(5)


def test_raw_transaction_and_sign(rpc: Client) -> None:
    from chainvm.chain.transactions import SignedTransaction
    from chainvm.node.accounts import dev_keys

    (addr, key), = dev_keys(1)
    nonce = int(rpc("eth_getTransactionCount", "0x" + addr.hex(), "latest"), 16)
    tx = SignedTransaction(2, nonce=nonce, gas_limit=21000, to=b"\x05" * 20, value=77,
                           data=b"", v=0, r=0, s=0, chain_id=31337,
                           max_priority_fee_per_gas=10**9, max_fee_per_gas=10**11).sign(key)
    h = rpc("eth_sendRawTransaction", "0x" + tx.encode().hex())
    assert h == "0x" + tx.hash.hex()
    assert rpc("eth_getTransactionReceipt", h)["status"] == "0x1"
    err = rpc.error("eth_sendRawTransaction", "0x" + tx.encode().hex())  # nonce now used
    assert err["code"] == -32000
    assert rpc.error("eth_sendRawTransaction", "0x1234")["code"] == -32602
    sig = rpc("eth_sign", "0x" + addr.hex(), "0x68656c6c6f")
    assert len(sig) == 132


def test_trace_transaction_and_call(rpc: Client) -> None:
    a = rpc("eth_accounts")
    store = deploy_store(rpc)
    caller = send(rpc, data="0x" + CALLER_INIT.hex())["contractAddress"]
    receipt = send(rpc, to=caller, data="0x" + "00" * 12 + store[2:])
    assert receipt["status"] == "0x1"
    trace = rpc("debug_traceTransaction", receipt["transactionHash"], {})
    ops = [s["op"] for s in trace["structLogs"]]
    assert "CALL" in ops and "SSTORE" in ops and "LOG2" in ops
    assert trace["failed"] is False and trace["gas"] == int(receipt["gasUsed"], 16)
    assert trace["returnValue"] == "0x" + "00" * 32  # prefixed, as geth (2025 on) and anvil
    assert {s["depth"] for s in trace["structLogs"]} == {1, 2}
    calls = rpc("debug_traceTransaction", receipt["transactionHash"],
                {"tracer": "callTracer"})
    assert calls["type"] == "CALL" and calls["from"] == a[0] and calls["to"] == caller
    (inner,) = calls["calls"]
    assert inner["type"] == "CALL" and inner["to"] == store and inner["from"] == caller
    assert inner["input"] == "0x" + selector("set(uint256)").hex() + word(7)
    traced = rpc("debug_traceCall", {"from": a[0], "to": store,
                                     "data": "0x" + selector("set(uint256)").hex() + word(0)},
                 "latest", {"tracer": "callTracer"})
    assert traced["error"] == "execution reverted" and traced["output"] == "0x" + ZERO_ERROR.hex()
    access = rpc("eth_createAccessList", {"from": a[0], "to": caller,
                                          "data": "0x" + "00" * 12 + store[2:]})
    assert access["accessList"][0]["address"] == store
    assert access["accessList"][0]["storageKeys"] == ["0x" + word(0)]


def test_struct_logs_show_memory_as_it_was_before_each_step(rpc: Client) -> None:
    """geth's (and anvil's) struct logs show the memory an instruction found: chainvm's
    showed it after the instruction (the whole of it when memory had been empty)."""
    where = "0x" + "6d" * 20
    # MSTORE 0x0b at 0, MSTORE 0x0c at 0, RETURN the word
    assert rpc("anvil_setCode", where, "0x600b600052600c60005260206000f3") is True
    steps = rpc("debug_traceCall", {"to": where}, "latest", {"enableMemory": True})["structLogs"]
    assert [s["op"] for s in steps[:6]] == ["PUSH1", "PUSH1", "MSTORE", "PUSH1", "PUSH1",
                                             "MSTORE"]
    assert steps[2]["memory"] == []
    assert steps[3]["memory"] == ["00" * 31 + "0b"]
    assert steps[5]["memory"] == ["00" * 31 + "0b"]  # the second MSTORE has not run yet
    assert steps[6]["memory"] == ["00" * 31 + "0c"]
    assert "memory" not in rpc("debug_traceCall", {"to": where}, "latest", {})["structLogs"][3]


def test_call_tracer_logs_and_revert_reason(rpc: Client) -> None:
    """callTracer's `withLog` (the frame's logs with their position among its calls) and
    `revertReason`, as geth and anvil give them; withLog was ignored, revertReason absent."""
    topic = "11" * 32
    logger, reverter, undone = "0x" + "6a" * 20, "0x" + "6b" * 20, "0x" + "6c" * 20
    reason = (bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (4).to_bytes(32, "big")
              + b"nope".ljust(32, b"\0"))
    rpc("anvil_setCode", logger, "0x7f" + topic + "60006000a100")  # LOG1, STOP
    # CODECOPY the Error("nope") data after the code, REVERT with it
    rpc("anvil_setCode", reverter, "0x6064600c600039" "60646000fd" + reason.hex())
    rpc("anvil_setCode", undone, "0x60006000a060006000fd")  # LOG0, then REVERT
    config = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}
    logged = rpc("debug_traceCall", {"to": logger}, "latest", config)
    assert logged["logs"] == [{"address": logger, "topics": ["0x" + topic], "data": "0x",
                               "position": "0x0"}]
    assert "logs" not in rpc("debug_traceCall", {"to": logger}, "latest",
                             {"tracer": "callTracer"})
    reverted = rpc("debug_traceCall", {"to": reverter}, "latest", config)
    assert reverted["error"] == "execution reverted" and reverted["revertReason"] == "nope"
    failed = rpc("debug_traceCall", {"to": undone}, "latest", config)
    assert failed["error"] == "execution reverted" and "logs" not in failed
    assert "revertReason" not in failed  # no Error(string) data


def test_bad_requests_keep_the_server_serving(node: ThreadedNode) -> None:
    url = node.url
    rpc = Client(url)
    cases: list[tuple[bytes, int]] = [
        (b"{not json", -32700),
        (b"", -32700),
        (b"[]", -32600),
        (b"42", -32600),
        (b'{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":5}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_nope","params":[]}', -32601),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xzz","latest"]}',
         -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x01",false]}',
         -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x",false]}',
         -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_getCode","params":["0x1234","latest"]}',
         -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[1,2,3]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_call","params":"x"}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x12"}]}', -32602),
    ]
    for body, code in cases * 3:
        status, reply = post(url, body)
        assert status == 200, body
        assert reply["error"]["code"] == code, (body, reply)
    # Oversized body: HTTP 413 with a JSON-RPC error.
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                      "params": [{"data": "0x" + "00" * 40_000}]}).encode()
    status, reply = post(url, big)
    assert status == 413 and reply["error"]["code"] == -32600
    # Batch over the limit, and a batch of mixed good and bad calls.
    call = {"jsonrpc": "2.0", "method": "eth_chainId", "params": []}
    status, reply = post(url, json.dumps([{**call, "id": i} for i in range(21)]).encode())
    assert reply["error"]["code"] == -32600
    batch = [{**call, "id": 1}, {"jsonrpc": "2.0", "id": 2, "method": "nope"}, 7,
             {**call}]  # the last one is a notification: no reply
    status, reply = post(url, json.dumps(batch).encode())
    assert status == 200 and len(reply) == 3
    assert reply[0]["result"] == "0x7a69" and reply[1]["error"]["code"] == -32601
    assert reply[2]["error"]["code"] == -32600
    status, reply = post(url, json.dumps(call).encode())  # a lone notification
    assert status == 204 and reply is None
    # An invalid request without an id is no notification: answered, id null (JSON-RPC
    # 2.0's example), alone and in a batch.
    for invalid in ({}, {"jsonrpc": "2.0", "method": 5}, {"jsonrpc": "1.0", "method": "x"}):
        status, reply = post(url, json.dumps(invalid).encode())
        assert status == 200 and reply["error"]["code"] == -32600 and reply["id"] is None
        status, reply = post(url, json.dumps([invalid, call]).encode())
        assert len(reply) == 1 and reply[0]["error"]["code"] == -32600
    # Deeply nested JSON, bytes that are not UTF-8, and garbage that is not HTTP at all.
    status, reply = post(url, b"[" * 50_000)
    assert reply["error"]["code"] == -32700
    status, reply = post(url, b'{"jsonrpc":"2.0","id":1,"method":"\xff"}')
    assert reply["error"]["code"] == -32700
    host, port = url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"\x00\x01GARBAGE\r\n\r\n")
        assert b" 400 " in sock.recv(100)
    # Still serving.
    assert rpc("eth_chainId") == "0x7a69"
    assert keccak256(b"") .hex() == rpc("web3_sha3", "0x")[2:]


def test_impersonated_signature_recovers_to_its_address() -> None:
    """anvil_impersonateSignature, as anvil 1.7.1 answers it (checked side by side): the
    signature (r, s, v) recovers to the address in ECRECOVER for calls, estimates, mined
    transactions and their traces, whatever the upper bytes of v; and it names the
    authority of an EIP-7702 authorization whose own signature does not recover. Other
    signatures recover as before. anvil's parameters are one [signature, address] pair."""
    from chainvm.chain.transactions import SignedTransaction
    from chainvm.evm.transaction import Authorization

    dev = DevChain()
    with ThreadedNode(dev) as node:
        rpc = Client(node.url)
        ecrecover = "0x" + "00" * 19 + "01"
        r, s = (1).to_bytes(32, "big"), (2).to_bytes(32, "big")
        digest = b"\x11" * 32
        call = {"to": ecrecover, "data": "0x" + (digest + (27).to_bytes(32, "big") + r + s).hex()}
        other = {"to": ecrecover, "data": "0x" + (digest + (28).to_bytes(32, "big") + r + s).hex()}
        genuine, genuine_other = rpc("eth_call", call, "latest"), rpc("eth_call", other, "latest")
        assert int(genuine, 16) != 0  # r = 1, s = 2 recovers to some address
        who = "0x" + "7a" * 20
        assert rpc("anvil_impersonateSignature", ["0x" + (r + s).hex() + "1b", who]) is None
        assert rpc("eth_call", call, "latest") == "0x" + "00" * 12 + who[2:]
        assert rpc("eth_call", other, "latest") == genuine_other  # v = 28: not overridden
        high_v = dict(call, data=call["data"][:66] + "01" + call["data"][68:])
        assert rpc("eth_call", high_v, "latest") == "0x" + "00" * 12 + who[2:]
        assert rpc("eth_estimateGas", call) == rpc("eth_estimateGas", other)
        tx_hash = rpc("eth_sendTransaction", dict(call, **{"from": rpc("eth_accounts")[0]}))
        assert rpc("eth_getTransactionReceipt", tx_hash)["status"] == "0x1"
        traced = rpc("debug_traceTransaction", tx_hash, {"tracer": "callTracer"})
        assert traced["output"] == "0x" + "00" * 12 + who[2:]
        assert rpc("eth_call", call, "0x0") == "0x" + "00" * 12 + who[2:]  # at an older block

        # EIP-7702: an authorization signed (0, 0) recovers to nobody; overridden, it names
        # its authority, whose account then delegates.
        authority = "0x" + "5e" * 20
        rpc("anvil_impersonateSignature", "0x" + "00" * 64 + "1b", authority)  # apart
        sender = bytes.fromhex(rpc("eth_accounts")[0][2:])
        nonce = int(rpc("eth_getTransactionCount", "0x" + sender.hex(), "latest"), 16)
        tx = SignedTransaction(tx_type=4, nonce=nonce, gas_limit=100_000, to=b"\x99" * 20,
                               value=0, data=b"", v=0, r=0, s=0, chain_id=dev.chain_id,
                               max_priority_fee_per_gas=10**9, max_fee_per_gas=10**10,
                               authorization_list=[Authorization(dev.chain_id, b"\x42" * 20,
                                                                 0, 0, 0, 0)])
        tx.sign(dev.keys[sender])
        rpc("eth_sendRawTransaction", "0x" + tx.encode().hex())
        assert rpc("eth_getCode", authority, "latest") == "0xef0100" + "42" * 20
        assert rpc("eth_getTransactionCount", authority, "latest") == "0x1"

        assert rpc.error("anvil_impersonateSignature", "0x1234", who)["code"] == -32602
        assert rpc.error("anvil_impersonateSignature", ["0x" + "00" * 65])["code"] == -32602
