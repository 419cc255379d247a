"""JSON-RPC over a WebSocket and eth_subscribe (newHeads, logs)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from chainvm.node.devchain import DevChain
from chainvm.node.server import ThreadedNode
from tests.node.contracts import STORE_INIT, VALUE_SET_TOPIC, selector


class _Ws:
    """Calls over one WebSocket; notifications that arrive meanwhile are kept in `notes`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.notes: list[dict[str, Any]] = []

    async def call(self, method: str, *params: Any) -> Any:
        self.next_id += 1
        await self.ws.send_str(json.dumps({"jsonrpc": "2.0", "id": self.next_id,
                                           "method": method, "params": list(params)}))
        while True:
            msg = json.loads((await self.ws.receive(timeout=10)).data)
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg["result"]
            self.notes.append(msg)


async def _flow(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        client = _Ws(ws)
        call, notes = client.call, client.notes
        assert await call("eth_chainId") == "0x7a69"
        me = (await call("eth_accounts"))[0]
        heads = await call("eth_subscribe", "newHeads")
        h = await call("eth_sendTransaction", {"from": me, "data": "0x" + STORE_INIT.hex()})
        store = (await call("eth_getTransactionReceipt", h))["contractAddress"]
        logs = await call("eth_subscribe", "logs", {"address": store,
                                                    "topics": ["0x" + VALUE_SET_TOPIC.hex()]})
        await call("eth_sendTransaction", {"from": me, "to": store, "data": "0x" + selector(
            "set(uint256)").hex() + f"{3:064x}"})
        deadline = asyncio.get_running_loop().time() + 10
        while len(notes) < 3 and asyncio.get_running_loop().time() < deadline:
            notes.append(json.loads((await ws.receive(timeout=10)).data))
        by_sub: dict[str, list[Any]] = {}
        for note in notes:
            assert note["method"] == "eth_subscription"
            by_sub.setdefault(note["params"]["subscription"], []).append(
                note["params"]["result"])
        assert [b["number"] for b in by_sub[heads]] == ["0x1", "0x2"]
        (log,) = by_sub[logs]
        assert log["data"] == "0x" + f"{3:064x}"
        assert await call("eth_unsubscribe", heads) is True
        bad = json.dumps({"jsonrpc": "2.0", "id": 99, "method": "eth_subscribe",
                          "params": ["nope"]})
        await ws.send_str(bad)
        reply = json.loads((await ws.receive(timeout=10)).data)
        assert reply["error"]["code"] == -32602
        await ws.send_str("{broken")
        reply = json.loads((await ws.receive(timeout=10)).data)
        assert reply["error"]["code"] == -32700
        assert await call("eth_blockNumber") == "0x2"


def test_websocket_subscriptions() -> None:
    with ThreadedNode(DevChain()) as node:
        asyncio.run(asyncio.wait_for(_flow(node.url.replace("http", "ws")), 60))


async def _pending_flow(url: str) -> None:
    """newPendingTransactions, as geth and anvil send it: a transaction's hash (or, with
    `true`, the transaction) when it enters the pool, before any block holds it."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        client = _Ws(ws)
        call, notes = client.call, client.notes
        me, other = (await call("eth_accounts"))[:2]
        hashes = await call("eth_subscribe", "newPendingTransactions")
        whole = await call("eth_subscribe", "newPendingTransactions", True)
        heads = await call("eth_subscribe", "newHeads")
        await call("evm_setAutomine", False)
        sent = await call("eth_sendTransaction", {"from": me, "to": other, "value": "0x7"})
        while len(notes) < 2:
            notes.append(json.loads((await ws.receive(timeout=10)).data))
        by_sub = {n["params"]["subscription"]: n["params"]["result"] for n in notes}
        assert by_sub[hashes] == sent
        assert by_sub[whole]["hash"] == sent and by_sub[whole]["value"] == "0x7"
        assert by_sub[whole]["blockHash"] is None and heads not in by_sub  # not mined yet
        await call("evm_mine")
        while len(notes) < 3:
            notes.append(json.loads((await ws.receive(timeout=10)).data))
        assert notes[2]["params"]["subscription"] == heads
        refused = json.dumps({"jsonrpc": "2.0", "id": 8, "method": "eth_subscribe",
                              "params": ["newPendingTransactions", "yes"]})
        await ws.send_str(refused)
        assert json.loads((await ws.receive(timeout=10)).data)["error"]["code"] == -32602


def test_pending_transaction_subscription() -> None:
    with ThreadedNode(DevChain()) as node:
        asyncio.run(asyncio.wait_for(_pending_flow(node.url.replace("http", "ws")), 60))


def test_web3_websocket_provider() -> None:
    """web3.py's AsyncWeb3 + WebSocketProvider: calls and a newHeads subscription."""
    import pytest

    web3 = pytest.importorskip("web3")

    async def flow(url: str) -> None:
        async with web3.AsyncWeb3(web3.WebSocketProvider(url)) as w3:
            assert await w3.eth.chain_id == 31337
            sub = await w3.eth.subscribe("newHeads")
            accounts = await w3.eth.accounts
            await w3.eth.send_transaction({"from": accounts[0], "to": accounts[1], "value": 1})
            async for msg in w3.socket.process_subscriptions():
                assert msg["subscription"] == sub
                assert msg["result"]["number"] == 1
                break

    with ThreadedNode(DevChain()) as node:
        asyncio.run(asyncio.wait_for(flow(node.url.replace("http", "ws")), 60))
