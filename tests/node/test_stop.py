"""A graceful stop (SIGTERM) ends the connections that wait on their clients.

aiohttp's stop first stops reading every connection, then waits up to 60 s for each
handler still at work: one waiting for the rest of a body, or an open WebSocket, held
the stop that long (docs/node.md, "A graceful stop under a stress mix")."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from chainvm.node import server as server_module
from chainvm.node.devchain import DevChain
from chainvm.node.server import Node, NodeServer

# Only to fail rather than hang: aiohttp's own wait was 60 s.
TIMEOUT = 30


@contextlib.asynccontextmanager
async def _running() -> AsyncIterator[NodeServer]:
    server = NodeServer(DevChain())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        server.dev.close()


async def _headers_then_stop() -> bytes:
    async with _running() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        body = b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}'
        # The headers and half the body: the rest would come in a second write, after the
        # node stopped reading.
        writer.write(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                     b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
        await writer.drain()
        assert server.runner is not None and server.runner.server is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while server.runner.server.requests_count < 1:  # its handler reads the body
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        await asyncio.wait_for(server.stop(), TIMEOUT)
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        return answer


def test_stop_with_a_body_not_whole() -> None:
    answer = asyncio.run(_headers_then_stop())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), answer
    assert "stopping" in json.loads(body)["error"]["message"]


def test_a_handler_that_never_ends_holds_the_stop_a_bounded_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever else may keep a handler waiting on its connection: without the stop hook
    that ends such bodies, the stop still ends once the handler's wait is over (aiohttp
    waited 60 s, then as long again after cancelling it)."""
    async def ends_nothing(_self: Node, _app: object) -> None:
        return None

    monkeypatch.setattr(Node, "stopping", ends_nothing)
    monkeypatch.setattr(server_module, "STOP_HANDLER_TIMEOUT", 0.5)
    answer = asyncio.run(_headers_then_stop())  # (each step fails after TIMEOUT)
    assert not answer.startswith(b"HTTP/1.1 2")


async def _websocket_then_stop() -> aiohttp.WSMessage:
    async with _running() as server, aiohttp.ClientSession() as session, \
            session.ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
        await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                                      "params": ["newHeads"]}))
        assert "result" in json.loads((await ws.receive(timeout=TIMEOUT)).data)
        stop = asyncio.create_task(server.stop())
        message = await ws.receive(timeout=TIMEOUT)
        await asyncio.wait_for(stop, TIMEOUT)
        return message


def test_stop_with_an_open_websocket() -> None:
    message = asyncio.run(_websocket_then_stop())
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == 1001 and message.extra == "the node is stopping"
