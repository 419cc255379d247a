"""The RPC methods and behaviour clients (ethers, viem, wallets) rely on, in process:
typed-data and message signing, txpool_, state dumps, node info, impersonated accounts in
eth_accounts, gas estimates (plain transfers, EIP-7702 authorizations), access lists,
parity traces, eth_simulateV1, the prestate tracer and uncle getters."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from chainvm.crypto import keccak256, sign_hash
from chainvm.node.devchain import DevChain
from chainvm.node.rpc import Rpc
from tests.node.contracts import CALLER_INIT, STORE_INIT, selector

MAIL = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                         {"name": "chainId", "type": "uint256"},
                         {"name": "verifyingContract", "type": "address"}],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallets", "type": "address[]"}],
        "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person[]"},
                 {"name": "contents", "type": "string"}, {"name": "nonce", "type": "uint64"},
                 {"name": "tag", "type": "bytes4"}, {"name": "ok", "type": "bool"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "version": "1", "chainId": 31337,
               "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
    "message": {"from": {"name": "Cow", "wallets": ["0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"]},
                "to": [{"name": "Bob", "wallets": []}], "contents": "Hello, Bob!",
                "nonce": "7", "tag": "0x01020304", "ok": True},
}
STRANGER = "0x" + "5e" * 20


class Node:
    def __init__(self, dev: DevChain) -> None:
        self.dev = dev
        self.rpc = Rpc(dev)
        self.accounts = ["0x" + a.hex() for a in dev.accounts]

    def request(self, method: str, *params: Any) -> dict[str, Any]:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": list(params)}).encode()
        out = self.rpc.handle_body(body)
        assert isinstance(out, dict)
        return out

    def __call__(self, method: str, *params: Any) -> Any:
        out = self.request(method, *params)
        assert "error" not in out, out
        return out["result"]

    def send(self, **tx: Any) -> dict[str, Any]:
        tx.setdefault("from", self.accounts[0])
        receipt = self("eth_getTransactionReceipt", self("eth_sendTransaction", tx))
        assert receipt is not None
        return receipt


@pytest.fixture
def node() -> Node:
    return Node(DevChain())


def _recover_typed(data: dict[str, Any], signature: str) -> str:
    return Account.recover_message(encode_typed_data(full_message=data),
                                   signature=bytes.fromhex(signature[2:]))


def test_sign_typed_data_v4_recovers_to_the_signer(node: Node) -> None:
    me = node.accounts[1]
    for payload in (MAIL, json.dumps(MAIL)):  # clients send the JSON text
        signature = node("eth_signTypedData_v4", me, payload)
        assert len(signature) == 132
        assert _recover_typed(MAIL, signature).lower() == me
    # Without an EIP712Domain type, the domain's fields give it.
    bare = {**MAIL, "types": {k: v for k, v in MAIL["types"].items() if k != "EIP712Domain"}}
    assert _recover_typed(MAIL, node("eth_signTypedData_v4", me, bare)).lower() == me
    bad = node.request("eth_signTypedData_v4", me, {**MAIL, "primaryType": "Nope"})
    assert bad["error"]["code"] == -32602 and "Nope" in bad["error"]["message"]
    assert node.request("eth_signTypedData_v4", STRANGER, MAIL)["error"]["code"] == -32000


def test_sign_typed_data_of_bad_text_is_invalid_params(node: Node) -> None:
    """Lone surrogates (JSON's "\\ud800") answered with a UnicodeEncodeError's repr, and
    typed data sent as deeply nested JSON text with -32603 RecursionError."""
    me = node.accounts[1]
    lone = "\ud800"
    mail = {**MAIL, "message": {**MAIL["message"], "contents": lone}}
    renamed = {**MAIL, "types": {**MAIL["types"], "Mail" + lone: MAIL["types"]["Mail"]},
               "primaryType": "Mail" + lone}
    for payload, named in ((mail, "message.contents: not valid Unicode"),
                           (json.dumps(mail), "message.contents: not valid Unicode"),
                           (renamed, "not valid Unicode"),
                           ("[" * 100_000 + "]" * 100_000, "nested deeper")):
        out = node.request("eth_signTypedData_v4", me, payload)
        assert out["error"]["code"] == -32602, out
        assert out["error"]["message"].startswith("invalid argument 1: "), out
        assert named in out["error"]["message"], out


def test_eth_sign_and_personal_sign(node: Node) -> None:
    me = node.accounts[2]
    for sig in (node("eth_sign", me, "0x68656c6c6f"), node("personal_sign", "0x68656c6c6f", me)):
        assert Account.recover_message(encode_defunct(b"hello"),
                                       signature=bytes.fromhex(sig[2:])).lower() == me


def test_txpool_content_inspect_status(node: Node) -> None:
    node("evm_setAutomine", False)
    h1 = node("eth_sendTransaction", {"from": node.accounts[0], "to": node.accounts[1],
                                      "value": "0x5"})
    node("eth_sendTransaction", {"from": node.accounts[0], "data": "0x" + STORE_INIT.hex()})
    gap = {"from": node.accounts[3], "to": node.accounts[1], "nonce": "0x5", "gas": "0x5208"}
    node("eth_sendTransaction", gap)
    assert node("txpool_status") == {"pending": "0x2", "queued": "0x1"}
    content = node("txpool_content")
    sender = Account.from_key(node.dev.keys[node.dev.accounts[0]]).address
    assert list(content["pending"][sender]) == ["0", "1"]
    assert content["pending"][sender]["0"]["hash"] == h1
    assert content["pending"][sender]["0"]["blockHash"] is None
    queued_sender = Account.from_key(node.dev.keys[node.dev.accounts[3]]).address
    assert list(content["queued"][queued_sender]) == ["5"]
    inspect = node("txpool_inspect")["pending"][sender]
    assert inspect["0"].startswith(Account.from_key(node.dev.keys[node.dev.accounts[1]]).address
                                   + ": 5 wei + 21000 gas \u00d7 ")
    assert inspect["1"].startswith("contract creation: 0 wei + ")
    assert node("txpool_contentFrom", node.accounts[0])["pending"].keys() == {"0", "1"}
    node("evm_mine")
    assert node("txpool_status") == {"pending": "0x0", "queued": "0x1"}


def test_dump_and_load_state(node: Node) -> None:
    address = node.send(data="0x" + STORE_INIT.hex())["contractAddress"]
    node.send(to=address, data="0x" + selector("set(uint256)").hex() + f"{42:064x}")
    node("anvil_setBalance", STRANGER, "0x1234")
    dump = node("anvil_dumpState")
    assert node("hardhat_dumpState") == dump
    node("anvil_setBalance", STRANGER, "0x0")
    node("anvil_setStorageAt", address, "0x0", "0x" + "00" * 32)
    other = Node(DevChain())  # a fresh node takes the dump too
    for target in (node, other):
        assert target("anvil_loadState", dump) is True
        assert target("eth_getBalance", STRANGER, "latest") == "0x1234"
        assert int(target("eth_getStorageAt", address, "0x0", "latest"), 16) == 42
        assert target("eth_call", {"to": address, "data": "0x" + selector("get()").hex()}) \
            == "0x" + f"{42:064x}"
    assert node.request("anvil_loadState", "0x1234")["error"]["code"] == -32602


@pytest.mark.parametrize("account", [
    {"balance": "-0x5"}, {"balance": hex(2**256)}, {"balance": -5},
    {"nonce": -1}, {"nonce": 2**64}, {"nonce": "0x" + "f" * 17},
    {"storage": {"-0x1": "0x1"}}, {"storage": {hex(2**256): "0x1"}},
    {"storage": {"0x1": "-0x1"}}, {"storage": {"0x1": hex(2**256)}}, {"storage": ["0x1"]},
    {"code": "0xzz"}, {"code": "0x123"}, "not an object",
    # Falsy values of the wrong type were read as absent: storage wiped, code cleared.
    {"storage": []}, {"storage": 0}, {"storage": ""}, {"storage": None}, {"storage": False},
    {"code": 0}, {"code": []}, {"code": None}, {"code": False},
])
def test_load_state_refuses_out_of_range_dumps_whole(node: Node, account: Any) -> None:
    """One bad field refuses the whole dump and leaves the state as it was: such values
    taken in used to break every later transaction and block of the chain."""
    fine = "0x" + "5f" * 20
    dump = json.dumps({"accounts": {fine: {"balance": "0x7"}, STRANGER: account}})
    error = node.request("anvil_loadState", "0x" + dump.encode().hex())["error"]
    assert error["code"] == -32602 and "\n" not in error["message"], error
    assert node("eth_getBalance", fine, "latest") == "0x0"
    assert node("eth_getBalance", STRANGER, "latest") == "0x0"
    node.send(to=STRANGER, value="0x1")
    node("evm_mine")
    assert node("eth_getBalance", STRANGER, "latest") == "0x1"


def test_load_state_refuses_a_bad_address(node: Node) -> None:
    for key in ("0x12", "0x" + "zz" * 20, "0x" + "12" * 21):
        dump = json.dumps({"accounts": {key: {"balance": "0x1"}}})
        error = node.request("anvil_loadState", "0x" + dump.encode().hex())["error"]
        assert error["code"] == -32602 and "\n" not in error["message"], error


def test_load_state_of_hostile_data_is_invalid_params(node: Node) -> None:
    """A deeply nested dump used to answer -32603 (RecursionError)."""
    good = gzip.compress(b'{"accounts": {}}', mtime=0)
    for dump in (b"[" * 100_000 + b"]" * 100_000, good[:-6], good[:-8] + b"\0" * 8,
                 gzip.compress(b"[" * 100_000)):
        error = node.request("anvil_loadState", "0x" + dump.hex())["error"]
        assert error["code"] == -32602 and "\n" not in error["message"], error
    assert node("anvil_loadState", "0x" + good.hex()) is True


def gzip_bomb(size: int) -> bytes:
    """A gzip of `size` bytes of spaces (a thousandth of that), packed a MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    return b"".join([*(packer.compress(block) for _ in range(size >> 20)), packer.flush()])


def test_load_state_of_a_gzip_bomb_is_refused_early(node: Node) -> None:
    """Half a MB that unpacks to 512 MiB used to be unpacked whole (and decoded again)
    before the parser refused it; now the unpacking stops at MAX_DUMP_BYTES (128 MiB)."""
    bomb = gzip_bomb(512 << 20)
    tracemalloc.start()
    try:
        error = node.request("anvil_loadState", "0x" + bomb.hex())["error"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error["code"] == -32602 and "unpacks to more than" in error["message"], error
    assert peak < 256 << 20, peak


def test_node_info(node: Node) -> None:
    info = node("anvil_nodeInfo")
    assert info["currentBlockNumber"] == "0x0" and info["hardFork"] == "Osaka"
    assert info["environment"]["chainId"] == 31337
    assert info["environment"]["gasLimit"] == hex(30_000_000)
    assert info["currentBlockHash"] == node("eth_getBlockByNumber", "latest", False)["hash"]


def test_metadata(node: Node) -> None:
    meta = node("anvil_metadata")
    assert meta["chainId"] == 31337 and meta["latestBlockNumber"] == 0
    assert meta["forkedNetwork"] is None and meta["snapshots"] == {}
    assert node("hardhat_metadata")["instanceId"] == meta["instanceId"]
    sid = node("evm_snapshot")
    head = node("eth_getBlockByNumber", "latest", False)["hash"]
    assert node("anvil_metadata")["snapshots"] == {str(int(sid, 16)): [0, head]}
    node("anvil_reset")  # a new chain: a new instance, as hardhat tells it
    assert node("anvil_metadata")["instanceId"] != meta["instanceId"]


def test_impersonated_accounts_are_listed(node: Node) -> None:
    assert STRANGER not in node("eth_accounts")
    node("anvil_impersonateAccount", STRANGER)
    assert node("eth_accounts")[-1] == STRANGER
    assert node("eth_accounts")[:10] == node.accounts
    node("anvil_stopImpersonatingAccount", STRANGER)
    assert STRANGER not in node("eth_accounts")


def test_estimate_gas_plain_transfer_is_21000(node: Node) -> None:
    tx = {"from": node.accounts[0], "to": node.accounts[1], "value": "0x1"}
    assert node("eth_estimateGas", tx) == hex(21000)
    node.send(**tx)  # and a send with that estimate goes through
    # A call that needs more than it uses (the 63/64 rule) still gets enough.
    store = node.send(data="0x" + STORE_INIT.hex())["contractAddress"]
    caller = node.send(data="0x" + CALLER_INIT.hex())["contractAddress"]
    call = {"from": node.accounts[0], "to": caller, "data": "0x" + "00" * 12 + store[2:]}
    estimate = int(node("eth_estimateGas", call), 16)
    receipt = node.send(**call, gas=hex(estimate))
    assert receipt["status"] == "0x1"


def _authorization(node: Node, key: bytes, delegate: str, nonce: int) -> dict[str, str]:
    from chainvm.encoding.rlp import encode

    digest = keccak256(b"\x05" + encode([31337, bytes.fromhex(delegate[2:]), nonce]))
    rid, r, s = sign_hash(digest, key)
    return {"chainId": "0x7a69", "address": delegate, "nonce": hex(nonce),
            "yParity": hex(rid), "r": hex(r), "s": hex(s)}


def test_estimate_and_send_with_authorization_list(node: Node) -> None:
    store = node.send(data="0x" + STORE_INIT.hex())["contractAddress"]
    eoa = node.dev.accounts[4]
    auth = _authorization(node, node.dev.keys[eoa], store, node.dev.state().nonce(eoa))
    tx = {"from": node.accounts[0], "to": "0x" + eoa.hex(),
          "data": "0x" + selector("set(uint256)").hex() + f"{9:064x}",
          "authorizationList": [auth]}
    estimate = int(node("eth_estimateGas", tx), 16)
    assert estimate > 21000 + 25000  # the authorization's gas is counted
    receipt = node.send(**tx)
    assert receipt["status"] == "0x1" and receipt["type"] == "0x4"
    assert node("eth_getCode", "0x" + eoa.hex(), "latest") == "0xef0100" + store[2:]
    assert int(node("eth_getStorageAt", "0x" + eoa.hex(), "0x0", "latest"), 16) == 9


def test_create_access_list_lists_the_slots(node: Node) -> None:
    store = node.send(data="0x" + STORE_INIT.hex())["contractAddress"]
    caller = node.send(data="0x" + CALLER_INIT.hex())["contractAddress"]
    out = node("eth_createAccessList", {"from": node.accounts[0], "to": caller,
                                        "data": "0x" + "00" * 12 + store[2:]})
    assert out["accessList"] == [{"address": store, "storageKeys": ["0x" + "00" * 32]}]


def test_trace_transaction_and_block(node: Node) -> None:
    store = node.send(data="0x" + STORE_INIT.hex())["contractAddress"]
    caller = node.send(data="0x" + CALLER_INIT.hex())["contractAddress"]
    receipt = node.send(to=caller, data="0x" + "00" * 12 + store[2:])
    traces = node("trace_transaction", receipt["transactionHash"])
    assert [t["traceAddress"] for t in traces] == [[], [0]]
    top, inner = traces
    assert top["type"] == "call" and top["action"]["to"] == caller
    assert top["subtraces"] == 1 and top["transactionPosition"] == 0
    assert top["blockNumber"] == int(receipt["blockNumber"], 16)
    data = bytes(12) + bytes.fromhex(store[2:])
    intrinsic = 21000 + sum(4 if b == 0 else 16 for b in data)
    assert int(top["result"]["gasUsed"], 16) == int(receipt["gasUsed"], 16) - intrinsic
    assert inner["action"]["to"] == store and inner["action"]["callType"] == "call"
    assert inner["action"]["input"].startswith("0x" + selector("set(uint256)").hex())
    assert node("trace_block", receipt["blockNumber"]) == traces
    creation = node("trace_transaction", node("eth_getBlockByNumber", "0x1", False)
                    ["transactions"][0])
    assert creation[0]["type"] == "create" and creation[0]["result"]["address"] == store
    assert creation[0]["result"]["code"] == node("eth_getCode", store, "latest")
    failed = node.send(to=store, data="0x" + selector("fail(uint256)").hex() + "00" * 32,
                       gas="0x30000")
    (reverted,) = node("trace_transaction", failed["transactionHash"])
    assert reverted["error"] == "Reverted"
    # a revert keeps its result (anvil's and reth's form): the revert data as output
    reason = node.request("eth_call", {"to": store, "data": "0x" + selector(
        "fail(uint256)").hex() + "00" * 32})["error"]["data"]
    assert reverted["result"]["output"] == reason and int(reverted["result"]["gasUsed"], 16) > 0
    assert node("trace_transaction", "0x" + "00" * 32) is None


def test_simulate_v1(node: Node) -> None:
    store = node.send(data="0x" + STORE_INIT.hex())["contractAddress"]
    set5 = "0x" + selector("set(uint256)").hex() + f"{5:064x}"
    get = "0x" + selector("get()").hex()
    blocks = node("eth_simulateV1", {"blockStateCalls": [
        {"calls": [{"from": node.accounts[0], "to": store, "data": set5},
                   {"to": store, "data": get}]},
        {"blockOverrides": {"number": "0x64"},
         "stateOverrides": {STRANGER: {"balance": "0x10"}},
         "calls": [{"to": store, "data": get},
                   {"to": store, "data": "0x" + selector("fail(uint256)").hex() + "00" * 32},
                   {"from": STRANGER, "to": node.accounts[1], "value": "0x3"}]},
    ]}, "latest")
    first, second = blocks
    assert int(first["number"], 16) == 2 and second["number"] == "0x64"
    assert first["calls"][0]["status"] == "0x1" and len(first["calls"][0]["logs"]) == 1
    assert first["calls"][1]["returnData"] == "0x" + f"{5:064x}"
    assert second["calls"][0]["returnData"] == "0x" + f"{5:064x}"  # state carried over
    assert second["calls"][1]["status"] == "0x0" and second["calls"][1]["error"]["code"] == 3
    assert second["calls"][2]["status"] == "0x1"
    # Nothing was kept.
    assert node("eth_call", {"to": store, "data": get}) == "0x" + "00" * 32
    assert node("eth_blockNumber") == "0x1"


@pytest.mark.parametrize("overrides", [{"time": hex(2**64 - 1)}, {"number": hex(2**64 - 1)}])
def test_simulate_v1_block_after_the_last_64_bit_value_is_refused(
        node: Node, overrides: dict[str, str]) -> None:
    """A block after one at 2^64-1 would default to 2^64 (12 s or one number later):
    invalid params naming the block, as a given value past 64 bits is."""
    out = node.request("eth_simulateV1", {"blockStateCalls": [
        {"blockOverrides": overrides, "calls": []}, {"calls": []}]}, "latest")
    assert out["error"]["code"] == -32602
    assert "blockStateCalls[1]: block number or time past 2^64-1" in out["error"]["message"]


def test_prestate_tracer_and_diff_mode(node: Node) -> None:
    store = node.send(data="0x" + STORE_INIT.hex())["contractAddress"]
    node.send(to=store, data="0x" + selector("set(uint256)").hex() + f"{3:064x}")
    receipt = node.send(to=store, data="0x" + selector("set(uint256)").hex() + f"{8:064x}")
    h = receipt["transactionHash"]
    pre = node("debug_traceTransaction", h, {"tracer": "prestateTracer"})
    assert pre[store]["storage"] == {"0x" + "00" * 32: "0x" + f"{3:064x}"}
    assert pre[store]["code"] == node("eth_getCode", store, "latest")
    assert node.accounts[0] in pre
    diff = node("debug_traceTransaction", h, {"tracer": "prestateTracer",
                                              "tracerConfig": {"diffMode": True}})
    assert diff["pre"][store]["storage"] == {"0x" + "00" * 32: "0x" + f"{3:064x}"}
    assert diff["post"][store] == {"storage": {"0x" + "00" * 32: "0x" + f"{8:064x}"}}
    sender_post = diff["post"][node.accounts[0]]
    assert set(sender_post) == {"balance", "nonce"}  # paid gas, nonce moved; code unchanged
    call = node("debug_traceCall", {"from": node.accounts[0], "to": store,
                                    "data": "0x" + selector("set(uint256)").hex() + f"{1:064x}"},
                "latest", {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}})
    assert call["post"][store]["storage"] == {"0x" + "00" * 32: "0x" + f"{1:064x}"}
    # A slot that held zero is left out of pre, one set to zero out of post (geth, anvil):
    # the pre side listed {slot: 0x0}.
    fresh = node.send(data="0x" + STORE_INIT.hex())["contractAddress"]
    data = "0x" + selector("set(uint256)").hex() + f"{5:064x}"
    first = node("debug_traceCall", {"from": node.accounts[0], "to": fresh, "data": data},
                 "latest", {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}})
    assert "storage" not in first["pre"][fresh]
    assert first["post"][fresh]["storage"] == {"0x" + "00" * 32: "0x" + f"{5:064x}"}


def test_four_byte_noop_mux_and_flat_call_tracers(node: Node) -> None:
    """geth's 4byteTracer (selectors and argument lengths of calls, precompiles left out),
    noopTracer, muxTracer (several tracers, one run each) and flatCallTracer (parity's
    flat traces), as anvil 1.7.1 serves them."""
    # memory[0:4] = 0x12345678; CALL 0xaa.. with 8 bytes of it; CALL the identity
    # precompile with the same; STOP
    runtime = bytes.fromhex("631234567860e01b600052" + "60006000600860006000" + "73"
                            + "aa" * 20 + "5af150" + "600060006008600060006004" + "5af150" + "00")
    init = bytes.fromhex(f"60{len(runtime):02x}600c60003960{len(runtime):02x}6000f3") + runtime
    contract = node.send(data="0x" + init.hex())["contractAddress"]
    h = node.send(to=contract, data="0xa9059cbb" + "00" * 64, gas="0x100000")["transactionHash"]
    assert node("debug_traceTransaction", h, {"tracer": "4byteTracer"}) == {
        "0xa9059cbb-64": 1, "0x12345678-4": 1}
    assert node("debug_traceTransaction", h, {"tracer": "noopTracer"}) == {}
    mux = node("debug_traceTransaction", h, {"tracer": "muxTracer", "tracerConfig": {
        "4byteTracer": {}, "callTracer": {"onlyTopCall": True}}})
    assert mux["4byteTracer"] == {"0xa9059cbb-64": 1, "0x12345678-4": 1}
    assert mux["callTracer"]["to"] == contract and "calls" not in mux["callTracer"]
    assert node("debug_traceTransaction", h, {"tracer": "flatCallTracer"}) == \
        node("trace_transaction", h)
    call = {"from": node.accounts[0], "to": contract, "data": "0x01020304"}
    assert node("debug_traceCall", call, "latest", {"tracer": "4byteTracer"}) == {
        "0x01020304-0": 1, "0x12345678-4": 1}
    assert "flatCallTracer for mined transactions" in node.request(
        "debug_traceCall", call, "latest", {"tracer": "flatCallTracer"})["error"]["message"]
    nested = node.request("debug_traceTransaction", h, {"tracer": "muxTracer",
                                                        "tracerConfig": {"muxTracer": {}}})
    assert nested["error"]["code"] == -32602


@pytest.mark.parametrize("config", ["diffMode", 1, [True], False])
@pytest.mark.parametrize("tracer", ["prestateTracer", "callTracer"])
def test_trace_config_that_is_not_an_object_is_invalid_params(
        node: Node, tracer: str, config: Any) -> None:
    """Was -32602 with an AttributeError's repr (or taken as {} when falsy)."""
    h = node.send(to=STRANGER, value="0x1")["transactionHash"]
    options = {"tracer": tracer, "tracerConfig": config}
    for out in (node.request("debug_traceTransaction", h, options),
                node.request("debug_traceCall", {"to": STRANGER}, "latest", options)):
        assert out["error"]["code"] == -32602
        assert out["error"]["message"].startswith(
            "invalid argument: trace options: tracerConfig: expected an object"), out


def test_uncle_getters(node: Node) -> None:
    node("evm_mine")
    assert node("eth_getUncleByBlockNumberAndIndex", "latest", "0x0") is None
    block_hash = node("eth_getBlockByNumber", "latest", False)["hash"]
    assert node("eth_getUncleByBlockHashAndIndex", block_hash, "0x0") is None
    assert node("eth_getUncleByBlockHashAndIndex", "0x" + "11" * 32, "0x0") is None
