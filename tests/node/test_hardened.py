"""The node under hostile or careless use (issue 14): whole and bounded requests, bounded
work that does not stop other requests, who may talk to the node, WebSocket errors that
keep the connection, and the pool's answers about nonces and fees."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainvm.chain.transactions import SignedTransaction
from chainvm.node.accounts import dev_keys
from chainvm.node.devchain import DevChain
from chainvm.node.rpc.base import RpcOptions
from chainvm.node.server import ThreadedNode
from tests.node.helpers import Client, post

ENDLESS = "0x5b600056"  # JUMPDEST PUSH1 0 JUMP
# JUMPDEST GAS BALANCE POP PUSH1 0 JUMP: a cold account each round (2600 gas, little CPU)
COSTLY_LOOP = "0x5b5a315060005600"
WRITE_AT_2_GIB = "0x600163800000005200"  # PUSH1 1 PUSH4 0x80000000 MSTORE STOP
LOOP_ADDR = "0x" + "10" * 20
COSTLY_ADDR = "0x" + "11" * 20
MEMORY_ADDR = "0x" + "12" * 20


def _request(url: str, body: bytes, headers: dict[str, str] | None = None,
             method: str = "POST") -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, body if method == "POST" else None,
                                 {"Content-Type": "application/json", **(headers or {})},
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, dict(exc.headers), json.loads(raw) if raw else None


def _call(method: str, *params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                       "params": list(params)}).encode()


@pytest.fixture(scope="module")
def node() -> Iterator[ThreadedNode]:
    # Prague: no EIP-7825 per-transaction cap, so only the node's own limits bound a call.
    with ThreadedNode(DevChain(fork="Prague"),
                      options=RpcOptions(max_trace_bytes=1 << 20)) as n:
        rpc = Client(n.url)
        for address, code in ((LOOP_ADDR, ENDLESS), (COSTLY_ADDR, COSTLY_LOOP),
                              (MEMORY_ADDR, WRITE_AT_2_GIB)):
            assert rpc("anvil_setCode", address, code) is True
        yield n


# -- whole, bounded requests ---------------------------------------------------------------


def test_large_bodies_are_read_whole(node: ThreadedNode) -> None:
    """Bodies of 200 KB and 2 MB (default limit 16 MiB) arrive whole: they used to be
    cut at what one read returned."""
    rpc = Client(node.url)
    for size in (200_000, 2_000_000):
        status, reply = post(node.url, _call("eth_call", {"to": "0x" + "42" * 20,
                                                          "data": "0x" + "00" * size}))
        assert status == 200 and reply["result"] == "0x", reply
    addresses = ["0x" + f"{i:040x}" for i in range(9000)]  # a 390 KB log filter
    status, reply = post(node.url, _call("eth_getLogs", {"address": addresses,
                                                         "fromBlock": "0x0"}))
    assert status == 200 and reply["result"] == []
    assert rpc("eth_chainId") == "0x7a69"


def test_bodies_above_the_limit_get_a_clear_error() -> None:
    with ThreadedNode(DevChain(accounts=1), max_body=100_000) as n:
        status, _headers, reply = _request(n.url, b" " * 100_001)
        assert status == 413 and "--max-body" in reply["error"]["message"]
        # Without a Content-Length (chunked), counted while read.
        chunks = iter([b"[" + b" " * 60_000, b" " * 60_000 + b"]"])
        req = urllib.request.Request(n.url, chunks, {"Content-Type": "application/json",
                                                     "Transfer-Encoding": "chunked"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=60)
        assert info.value.code == 413
        assert Client(n.url)("eth_chainId") == "0x7a69"


@pytest.mark.parametrize("body, words", [
    (b"[" * 200_000 + b"]" * 200_000, "nested deeper"),
    (b'{"jsonrpc":"2.0","id":' + b"7" * 100_000 + b',"method":"eth_chainId"}', "digits"),
    (b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[NaN]}', "NaN"),
])
def test_json_shape_is_bounded_before_parsing(node: ThreadedNode, body: bytes,
                                              words: str) -> None:
    status, reply = post(node.url, body)
    assert status == 200 and reply["error"]["code"] == -32700
    assert words in reply["error"]["message"]


def _strict_json(text: str | bytes) -> Any:
    """JSON as a strict client reads it: NaN and Infinity are errors."""
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in the node's answer: {text[:200]!r}")

    return json.loads(text, parse_constant=refuse)


# Ids the node cannot echo: 1e400 parses to infinity, which JSON cannot carry.
BAD_IDS = [b"1e400", b"-1e999", b"[1]", b"{}", b"true"]


def _with_id(rid: bytes, method: str = "eth_chainId", params: bytes = b"[]") -> bytes:
    return (b'{"jsonrpc":"2.0","id":' + rid + b',"method":"' + method.encode()
            + b'","params":' + params + b"}")


def test_ids_that_json_cannot_echo_are_invalid_requests(node: ThreadedNode) -> None:
    for rid in BAD_IDS:
        req = urllib.request.Request(node.url, _with_id(rid),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            reply = _strict_json(resp.read())
        assert reply["id"] is None and reply["error"]["code"] == -32600, (rid, reply)
    batch = b"[" + _with_id(b"1e400") + b"," + _with_id(b"2") + b"]"
    req = urllib.request.Request(node.url, batch, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        first, second = _strict_json(resp.read())
    assert first["id"] is None and first["error"]["code"] == -32600
    assert second == {"jsonrpc": "2.0", "id": 2, "result": "0x7a69"}
    assert post(node.url, _with_id(b"1.5"))[1]["id"] == 1.5  # a finite number is echoed


def test_an_answer_with_nan_becomes_an_internal_error() -> None:
    from chainvm.node.server import encode

    for rid in (7, float("inf")):
        reply = _strict_json(encode({"jsonrpc": "2.0", "id": rid, "result": float("nan")}))
        assert reply["error"]["code"] == -32603
        assert reply["id"] == (7 if rid == 7 else None)


def test_parameters_are_checked_over_http(node: ThreadedNode) -> None:
    rpc = Client(node.url)
    for method, params in (("eth_getBlockByNumber", ["0x-1", False]),
                           ("eth_getBlockByNumber", ["latest", "yes"]),
                           ("eth_feeHistory", ["0x2", "latest", [90, 10]]),
                           ("anvil_setNonce", ["0x" + "01" * 20, hex(2**64)]),
                           ("evm_setNextBlockTimestamp", [hex(2**64)])):
        err = rpc.error(method, *params)
        assert err["code"] == -32602 and "invalid argument" in err["message"], err


# -- bounded work ------------------------------------------------------------------------------


@pytest.mark.parametrize("method, params", [
    ("hardhat_mine", [hex(2**64)]),
    ("anvil_mine", [hex(100_001)]),
    ("evm_mine", [{"blocks": hex(2**64 - 1)}]),
])
def test_mining_more_blocks_than_a_call_may_is_refused(method: str, params: list[Any]) -> None:
    """A block count like 2^64 held the node (building blocks until memory ran out, no
    other request answered); it is refused at once and nothing is mined."""
    with ThreadedNode(DevChain(accounts=1)) as n:
        rpc = Client(n.url)
        err = rpc.error(method, *params)
        assert err["code"] == -32602 and "blocks a call" in err["message"], err
        assert rpc("eth_blockNumber") == "0x0"
        assert rpc("anvil_mine", "0x3") is True and rpc("eth_blockNumber") == "0x3"


def test_the_calls_of_a_batch_share_the_blocks_a_request_may_mine(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of 100,000-block calls (up to --max-batch of them) held the node for minutes
    and took gigabytes: the calls of one request share its blocks (100,000; 100 here, to
    keep the test short). The next request has its own."""
    from chainvm.node.rpc import anvil, dispatch

    monkeypatch.setattr(dispatch, "MAX_BLOCKS_PER_REQUEST", 100)
    monkeypatch.setattr(anvil, "MAX_BLOCKS_PER_REQUEST", 100)
    with ThreadedNode(DevChain(accounts=1)) as n:
        rpc = Client(n.url)
        batch = [{"jsonrpc": "2.0", "id": i, "method": method, "params": params}
                 for i, (method, params) in enumerate([
                     ("anvil_mine", ["0x3c"]), ("hardhat_mine", ["0x29"]),
                     ("evm_mine", [{"blocks": "0x28"}]), ("anvil_mine", ["0x1"])])]
        status, answers = post(n.url, json.dumps(batch).encode())
        assert status == 200
        assert answers[0]["result"] is True and answers[2]["result"] == "0x0"
        for refused in (answers[1], answers[3]):
            assert refused["error"]["code"] == -32602
            assert "100 blocks a request" in refused["error"]["message"], refused
        assert rpc("eth_blockNumber") == hex(100)
        assert rpc("anvil_mine", hex(100)) is True and rpc("eth_blockNumber") == hex(200)


def test_a_send_that_cannot_be_mined_leaves_nothing_in_the_pool() -> None:
    """With automine, a send whose block cannot be mined (the head at 2^64-1 seconds)
    fails, and the transaction is not left pending behind the error."""
    with ThreadedNode(DevChain(accounts=1)) as n:
        rpc = Client(n.url)
        me = rpc("eth_accounts")[0]
        rpc("evm_setNextBlockTimestamp", hex(2**64 - 1))
        rpc("eth_sendTransaction", {"from": me, "to": me, "value": "0x1"})
        err = rpc.error("eth_sendTransaction", {"from": me, "to": me, "value": "0x1"})
        assert "2^64-1" in err["message"]
        assert rpc("txpool_status") == {"pending": "0x0", "queued": "0x0"}
        assert rpc("eth_getTransactionCount", me, "pending") == "0x1"


def test_a_timestamp_interval_past_2_64_is_refused_and_reset_clears_it() -> None:
    """An interval that would stamp the next block past 2^64-1 left every later block
    unminable (anvil_reset kept it); it is refused as evm_increaseTime refuses such a move,
    and anvil_reset drops an interval set before it."""
    with ThreadedNode(DevChain(accounts=1)) as n:
        rpc = Client(n.url)
        err = rpc.error("anvil_setBlockTimestampInterval", hex(2**64 - 1))
        assert err["code"] == -32602 and "2^64-1" in err["message"], err
        assert rpc("evm_mine") == "0x0" and rpc("eth_blockNumber") == "0x1"
        assert rpc("anvil_setBlockTimestampInterval", 1000) is True
        assert rpc("anvil_reset") is True
        genesis = int(rpc("eth_getBlockByNumber", "0x0", False)["timestamp"], 16)
        rpc("evm_mine")
        stamp = int(rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        assert stamp != genesis + 1000
        assert rpc("anvil_removeBlockTimestampInterval") is False


def test_suggested_fees_stay_within_256_bits() -> None:
    """With the next base fee set to 2^256-1, eth_gasPrice answered 2^256 + 1 gwei - 1 and
    eth_fillTransaction encoded a 33-byte max fee: both stop at 2^256-1."""
    with ThreadedNode(DevChain(accounts=1)) as n:
        rpc = Client(n.url)
        me = rpc("eth_accounts")[0]
        assert rpc("anvil_setNextBlockBaseFeePerGas", hex(2**256 - 1)) is None
        assert rpc("eth_gasPrice") == hex(2**256 - 1)
        tx = {"from": me, "to": me, "gas": "0x5208"}
        filled = rpc("eth_fillTransaction", tx)
        assert filled["tx"]["maxFeePerGas"] == hex(2**256 - 1)
        legacy = rpc("eth_fillTransaction", {**tx, "type": "0x0"})
        assert legacy["tx"]["gasPrice"] == hex(2**256 - 1)


def test_mining_whose_last_stamp_overflows_mines_nothing() -> None:
    with ThreadedNode(DevChain(accounts=1)) as n:
        rpc = Client(n.url)
        assert "2^64-1" in rpc.error("anvil_mine", "0x3", hex(2**63))["message"]
        assert rpc("eth_blockNumber") == "0x0"


def test_calls_are_gas_capped(node: ThreadedNode) -> None:
    """gas 2^64-1 is cut to the 50M cap: the loop runs out of gas; a memory write at
    2^31 runs out of gas before anything is allocated."""
    rpc = Client(node.url)
    huge = hex(2**64 - 1)
    for target in (COSTLY_ADDR, MEMORY_ADDR):
        err = rpc.error("eth_call", {"to": target, "gas": huge})
        assert err["code"] == -32000 and "gas" in err["message"].lower(), err
    err = rpc.error("eth_estimateGas", {"to": COSTLY_ADDR, "gas": huge})
    assert "allowance (30000000)" in err["message"], err  # the block's gas limit


def test_an_endless_call_ends_and_never_blocks_health() -> None:
    options = RpcOptions(gas_cap=0, evm_timeout=3.0)  # no cap: only the time limit ends it
    with ThreadedNode(DevChain(fork="Prague", accounts=1, gas_limit=2**62),
                      options=options) as n:
        rpc = Client(n.url)
        rpc("anvil_setCode", LOOP_ADDR, ENDLESS)
        watchdog = n.server.node.rpc.watchdog
        outcome: dict[str, Any] = {}

        def endless() -> None:
            outcome["reply"] = Client(n.url).request(
                "eth_call", {"to": LOOP_ADDR, "gas": hex(2**62)})

        worker = threading.Thread(target=endless)
        worker.start()
        try:
            while not watchdog.busy and worker.is_alive():
                pass  # until the call runs
            # Health answers come while the call runs, not queued behind it.
            assert rpc("eth_chainId") == "0x7a69"
            assert rpc("web3_clientVersion").startswith("chainvm")
            assert rpc("net_version") == "31337"
            assert watchdog.busy and "reply" not in outcome
        finally:
            worker.join(60)
        assert not worker.is_alive()
        err = outcome["reply"]["error"]
        assert err["code"] == -32000 and "timeout" in err["message"]
        assert rpc("eth_blockNumber") == "0x0"  # and the chain still serves


def test_trace_size_is_limited_with_a_json_error(node: ThreadedNode) -> None:
    rpc = Client(node.url)
    err = rpc.error("debug_traceCall", {"to": LOOP_ADDR, "gas": hex(2_000_000)}, "latest", {})
    assert err["code"] == -32000 and "trace larger than" in err["message"]
    trace = rpc("debug_traceCall", {"to": LOOP_ADDR, "gas": hex(2_000_000)}, "latest",
                {"limit": 10})
    assert len(trace["structLogs"]) == 10 and trace["failed"] is True


@pytest.mark.parametrize("method, path, status", [
    ("GET", "foo", 404), ("POST", "nope", 404), ("DELETE", "a/b?c=d", 404),
    ("PUT", "", 405), ("DELETE", "", 405), ("POST", "health", 405),
])
def test_unknown_paths_and_methods_get_json_errors(node: ThreadedNode, method: str,
                                                   path: str, status: int) -> None:
    """aiohttp's own 404 and 405 were text/plain ("404: Not Found"), which JSON-RPC
    clients fail to parse: now a JSON-RPC error with id null, status and Allow kept."""
    got, headers, reply = _request(node.url + path, _call("eth_chainId"), method=method)
    assert got == status
    assert headers["Content-Type"].startswith("application/json")
    assert reply["jsonrpc"] == "2.0" and reply["id"] is None
    assert reply["error"]["code"] == -32600
    if status == 404:
        assert "no such path" in reply["error"]["message"]
    else:
        assert f"HTTP method {method} not allowed" in reply["error"]["message"]
        assert "POST" in headers["Allow"] or "GET" in headers["Allow"]
    status, _h, reply = _request(node.url, _call("eth_chainId"))  # the routes still work
    assert status == 200 and reply["result"] == "0x7a69"
    status, _h, reply = _request(node.url + "health", b"", method="GET")
    assert status == 200 and reply["ok"] is True


# -- access --------------------------------------------------------------------------------


def test_only_loopback_host_names_are_served(node: ThreadedNode) -> None:
    port = node.server.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]:8545", "LOCALHOST"):
        status, _h, reply = _request(node.url, _call("eth_chainId"), {"Host": host})
        assert status == 200 and reply["result"] == "0x7a69", host
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
        status, _h, reply = _request(node.url, _call("eth_chainId"), {"Host": host})
        assert status == 403 and "--allow-host" in reply["error"]["message"], host
    with ThreadedNode(DevChain(accounts=1), allow_hosts=["node.internal"]) as n:
        status, _h, _r = _request(n.url, _call("eth_chainId"), {"Host": "node.internal:1"})
        assert status == 200


def test_web_pages_need_an_allowed_origin(node: ThreadedNode) -> None:
    rpc = Client(node.url)
    me, other = rpc("eth_accounts")[:2]
    before = rpc("eth_getBalance", other)
    send = _call("eth_sendTransaction", {"from": me, "to": other, "value": "0x1"})
    evil = {"Origin": "https://evil.example"}
    for content_type in ("application/json", "text/plain"):
        status, headers, reply = _request(node.url, send, {**evil, "Content-Type": content_type})
        assert status == 403 and "--cors" in reply["error"]["message"]
        assert "Access-Control-Allow-Origin" not in headers
    status, headers, _ = _request(node.url, b"", {**evil,
                                                  "Access-Control-Request-Method": "POST"},
                                  method="OPTIONS")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert rpc("eth_getBalance", other) == before  # nothing was sent
    status, headers, _ = _request(node.url, _call("eth_chainId"))  # tools send no Origin
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_cors_for_the_origins_given() -> None:
    app = "https://app.example"
    with ThreadedNode(DevChain(accounts=1), cors=[app]) as n:
        status, headers, _ = _request(n.url, b"", {"Origin": app}, method="OPTIONS")
        assert status == 204 and headers["Access-Control-Allow-Origin"] == app
        status, headers, reply = _request(n.url, _call("eth_chainId"),
                                          {"Origin": app, "Content-Type": "text/plain"})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == app
        assert reply["result"] == "0x7a69"
        status, _h, _r = _request(n.url, _call("eth_chainId"), {"Origin": "https://x.example"})
        assert status == 403


def test_reset_of_a_datadir_chain_needs_allow_reset(tmp_path: Path) -> None:
    pytest.importorskip("lmdb")
    dev = DevChain(accounts=2, datadir=tmp_path)
    try:
        with ThreadedNode(dev) as n:
            rpc = Client(n.url)
            rpc("evm_mine")
            dump = rpc("anvil_dumpState")
            for method, params in (("anvil_reset", []), ("hardhat_reset", []),
                                   ("anvil_loadState", [dump])):
                err = rpc.error(method, *params)
                assert err["code"] == -32000 and "--allow-reset" in err["message"], method
            assert rpc("eth_blockNumber") == "0x1"
        with ThreadedNode(dev, options=RpcOptions(allow_reset=True)) as n:
            assert Client(n.url)("anvil_reset") is True
            assert Client(n.url)("eth_blockNumber") == "0x0"
    finally:
        dev.close()


# -- WebSocket -------------------------------------------------------------------------------


def test_websocket_bad_messages_get_errors_and_keep_the_connection(node: ThreadedNode) -> None:
    aiohttp = pytest.importorskip("aiohttp")

    def message(method: str, params: Any) -> str:
        return json.dumps({"jsonrpc": "2.0", "id": 5, "method": method, "params": params})

    cases = [
        ("[" * 100_000, -32700),
        (message("eth_subscribe", 5), -32602),
        (message("eth_subscribe", ["logs", {"address": "0x12"}]), -32602),
        (message("eth_unsubscribe", {"id": "0x1"}), -32602),
        (message("eth_unsubscribe", [{"id": "0x1"}]), -32602),
        (message("eth_getBalance", "0x" + "00" * 20), -32602),  # a string, not an array
        (message("eth_call", [{"to": "0x12"}]), -32602),
    ]

    async def flow(url: str) -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            for text, code in cases:
                await ws.send_str(text)
                reply = json.loads((await ws.receive(timeout=30)).data)
                assert reply["error"]["code"] == code, (text[:60], reply)
            await ws.send_str(message("eth_chainId", []))
            reply = json.loads((await ws.receive(timeout=30)).data)
            assert reply["result"] == "0x7a69"

    asyncio.run(asyncio.wait_for(flow(node.url.replace("http", "ws")), 120))


def test_websocket_message_above_the_limit_is_closed_with_the_reason() -> None:
    """A message larger than --max-body closes the connection with 1009 (aiohttp's own
    close had no reason) and the node serves on."""
    aiohttp = pytest.importorskip("aiohttp")

    async def flow(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                                              "params": [{"data": "0x" + "00" * 60_000}]}))
                msg = await ws.receive(timeout=30)
                assert msg.type == aiohttp.WSMsgType.CLOSE, msg
                assert msg.data == 1009 and "larger than 100000 bytes" in msg.extra, msg
                assert "--max-body" in msg.extra
            async with session.ws_connect(url) as ws:
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 2,
                                              "method": "eth_chainId", "params": []}))
                assert json.loads((await ws.receive(timeout=30)).data)["result"] == "0x7a69"

    with ThreadedNode(DevChain(accounts=1), max_body=100_000) as n:
        asyncio.run(asyncio.wait_for(flow(n.url.replace("http", "ws")), 120))


def test_websocket_ids_that_json_cannot_echo_are_invalid_requests(node: ThreadedNode
                                                                   ) -> None:
    aiohttp = pytest.importorskip("aiohttp")

    async def flow(url: str) -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            for rid in BAD_IDS:
                for method, params in (("eth_chainId", b"[]"),
                                       ("eth_subscribe", b'["newHeads"]')):
                    await ws.send_bytes(_with_id(rid, method, params))
                    reply = _strict_json((await ws.receive(timeout=30)).data)
                    assert reply["id"] is None and reply["error"]["code"] == -32600, \
                        (rid, method, reply)
            await ws.send_bytes(_with_id(b"3"))  # the connection stays
            assert _strict_json((await ws.receive(timeout=30)).data)["result"] == "0x7a69"

    asyncio.run(asyncio.wait_for(flow(node.url.replace("http", "ws")), 120))


def test_websocket_subscriptions_per_connection_are_bounded(
        node: ThreadedNode, monkeypatch: pytest.MonkeyPatch) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    from chainvm.node import server

    monkeypatch.setattr(server, "MAX_SUBSCRIPTIONS", 3)

    async def flow(url: str) -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            async def call(method: str, *params: Any) -> Any:
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                                              "params": list(params)}))
                return json.loads((await ws.receive(timeout=30)).data)

            sids = [(await call("eth_subscribe", "newHeads"))["result"] for _ in range(3)]
            err = (await call("eth_subscribe", "logs", {}))["error"]
            assert err["code"] == -32005 and "at most 3" in err["message"], err
            assert (await call("eth_unsubscribe", sids[0]))["result"] is True
            assert (await call("eth_subscribe", "newHeads"))["result"].startswith("0x")
            async with session.ws_connect(url) as other:  # the bound is per connection
                await other.send_str(json.dumps({"jsonrpc": "2.0", "id": 2,
                                                 "method": "eth_subscribe",
                                                 "params": ["newHeads"]}))
                assert "result" in json.loads((await other.receive(timeout=30)).data)

    asyncio.run(asyncio.wait_for(flow(node.url.replace("http", "ws")), 120))


def _raw_websocket(url: str) -> socket.socket:
    """A WebSocket client that never reads (its receive buffer as small as the kernel
    allows): the handshake, then masked text frames only."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock


def _text_frame(text: str) -> bytes:
    payload, mask = text.encode(), os.urandom(4)
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


def test_websocket_client_that_never_reads_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that reads nothing at all cannot take the close frame: the node drops it.
    (Closing it used to end at once in CancelledError, the connection left half-open and
    its subscriptions attached, notifications computed for it at every block.)"""
    from chainvm.node import server

    # (above what one block sends them, so that the socket fills and the sender waits
    # for it to drain before the backlog overflows)
    monkeypatch.setattr(server, "MAX_WS_BACKLOG", 2 * 1024 * 1024)
    dev = DevChain(accounts=1)
    with ThreadedNode(dev) as n:
        before = len(dev.listeners)
        sock = _raw_websocket(n.url)
        try:
            for i in range(300):
                sock.sendall(_text_frame(json.dumps(
                    {"jsonrpc": "2.0", "id": i, "method": "eth_subscribe",
                     "params": ["newHeads"]})))
            rpc = Client(n.url)
            deadline = time.monotonic() + 60
            while len(dev.listeners) == before and time.monotonic() < deadline:
                time.sleep(0.01)  # (the handler attaches the connection's listeners)
            assert len(dev.listeners) > before
            # A block at a time (~300 KB of notifications, none read), so that the socket
            # fills and the node's sender waits for it to drain when the backlog overflows.
            while len(dev.listeners) > before and time.monotonic() < deadline:
                rpc("anvil_mine", "0x1")
                time.sleep(0.05)
            assert len(dev.listeners) == before, "the connection was kept"
            assert rpc("eth_blockNumber") != "0x0"
        finally:
            sock.close()


def test_websocket_client_that_does_not_read_is_closed_not_buffered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Notifications a client leaves unread wait in a bounded backlog: above it the node
    closes the connection (1008, with the reason) instead of buffering without end."""
    aiohttp = pytest.importorskip("aiohttp")
    from chainvm.node import server

    monkeypatch.setattr(server, "MAX_WS_BACKLOG", 64 * 1024)

    async def flow(url: str, rpc: Client) -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as slow:
            for i in range(100):
                await slow.send_str(json.dumps({"jsonrpc": "2.0", "id": i,
                                                "method": "eth_subscribe",
                                                "params": ["newHeads"]}))
            for _ in range(5):  # ~10 MB of notifications a round, none read meanwhile
                await asyncio.to_thread(rpc, "anvil_mine", "0x64")
                msg = None
                with contextlib.suppress(TimeoutError):
                    while True:  # what the client's buffers hold, then the close
                        msg = await slow.receive(timeout=2)
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                if msg is not None and msg.type != aiohttp.WSMsgType.TEXT:
                    break
            assert msg is not None and msg.type == aiohttp.WSMsgType.CLOSE, msg
            assert msg.data == 1008 and "notifications unread" in msg.extra, msg
            async with session.ws_connect(url) as ws:  # the node serves on
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1,
                                              "method": "eth_chainId", "params": []}))
                assert json.loads((await ws.receive(timeout=30)).data)["result"] == "0x7a69"

    with ThreadedNode(DevChain()) as n:
        asyncio.run(asyncio.wait_for(flow(n.url.replace("http", "ws"), Client(n.url)), 120))


def test_websocket_from_a_foreign_origin_is_refused(node: ThreadedNode) -> None:
    aiohttp = pytest.importorskip("aiohttp")

    async def flow(url: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(url, headers={"Origin": "https://evil.example"}):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(flow(node.url.replace("http", "ws"))) == 403


# -- the pool ----------------------------------------------------------------------------------


def _signed(key: bytes, nonce: int, fee_cap: int) -> str:
    tx = SignedTransaction(2, nonce=nonce, gas_limit=21000, to=b"\x05" * 20, value=1,
                           data=b"", v=0, r=0, s=0, chain_id=31337,
                           max_priority_fee_per_gas=min(fee_cap, 10**9),
                           max_fee_per_gas=fee_cap).sign(key)
    return "0x" + tx.encode().hex()


def test_pending_nonce_stops_at_a_gap_and_underpriced_is_refused() -> None:
    with ThreadedNode(DevChain(accounts=3)) as n:
        rpc = Client(n.url)
        (addr, key), = dev_keys(1)
        who = "0x" + addr.hex()
        h = rpc("eth_sendRawTransaction", _signed(key, 5, 10**11))  # waits behind a gap
        assert rpc("eth_getTransactionByHash", h)["blockNumber"] is None
        assert rpc("eth_getTransactionCount", who, "latest") == "0x0"
        assert rpc("eth_getTransactionCount", who, "pending") == "0x0"  # as geth: not 0x6
        assert rpc("txpool_status") == {"pending": "0x0", "queued": "0x1"}
        rpc("eth_sendRawTransaction", _signed(key, 0, 10**11))
        assert rpc("eth_getTransactionCount", who, "pending") == "0x1"
        base = int(rpc("eth_getBlockByNumber", "pending", False)["baseFeePerGas"], 16)
        err = rpc.error("eth_sendRawTransaction", _signed(key, 1, 1))
        assert err["code"] == -32000 and "base fee" in err["message"], (base, err)
        assert rpc("eth_getTransactionCount", who, "pending") == "0x1"


def test_the_chain_worker_stops_after_the_job_at_hand_has_finished() -> None:
    """A graceful stop closes the store right after the worker's shutdown: shutdown must
    wait for a job still writing (SIGTERM during a send or a mine lost acknowledged
    blocks, or hung)."""
    from chainvm.node.server import ChainWorker

    finished = threading.Event()

    def slow_job() -> None:
        time.sleep(0.3)
        finished.set()

    async def flow() -> None:
        worker = ChainWorker(threading.Lock())
        job = worker.submit(slow_job)
        await asyncio.sleep(0.05)  # the job has started
        worker.shutdown()
        assert finished.is_set() and not worker.thread.is_alive()
        await job

    asyncio.run(flow())
