"""The transport: aiohttp; JSON-RPC 2.0 by POST at "/", and over a WebSocket at "/"
(with eth_subscribe for "newHeads" and "logs").

Every request runs on the event loop thread (the chain is not thread-safe, and a
dev node's requests are short). Bodies above `max_body` bytes get HTTP 413 with a
JSON-RPC -32600 error; the connection and the server stay up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import Any, Self

from aiohttp import WSMsgType, web

from chainvm.chain.chain import StoredBlock
from chainvm.node.devchain import DevChain, NodeError
from chainvm.node.rpc import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, Rpc, error_response
from chainvm.node.rpc.format import format_head
from chainvm.node.rpc.logs import LogCriteria, block_logs, parse_log_criteria

DEFAULT_MAX_BODY = 5 * 1024 * 1024


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(payload, separators=(",", ":")), status=status,
                        content_type="application/json")


def make_app(dev: DevChain, max_body: int = DEFAULT_MAX_BODY, max_batch: int = 1000,
             block_time: float | None = None) -> web.Application:
    rpc = Rpc(dev, max_batch=max_batch)
    app = web.Application(client_max_size=max_body + 1)

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=_cors())
        if request.content_length is not None and request.content_length > max_body:
            return _with_cors(_json(error_response(None, INVALID_REQUEST,
                                                   f"request body above {max_body} bytes"),
                                    413))
        try:
            body = await request.content.read(max_body + 1)
        except (web.HTTPRequestEntityTooLarge, ValueError):
            body = b"x" * (max_body + 1)
        if len(body) > max_body:
            return _with_cors(_json(error_response(None, INVALID_REQUEST,
                                                   f"request body above {max_body} bytes"),
                                    413))
        if not body.strip():
            return _with_cors(_json(error_response(None, PARSE_ERROR, "empty body")))
        result = rpc.handle_body(body)
        if result is None:
            return web.Response(status=204, headers=_cors())
        return _with_cors(_json(result))

    async def health(_request: web.Request) -> web.StreamResponse:
        return _json({"ok": True, "block": dev.head.number})

    async def get_root(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await websocket(request, rpc, dev, max_body)
        return await health(request)

    app.router.add_post("/", handle)
    app.router.add_route("OPTIONS", "/", handle)
    app.router.add_get("/", get_root)
    app.router.add_get("/health", health)

    if block_time:
        dev.automine = False
        dev.block_time = block_time

    async def interval_miner(app: web.Application) -> Any:
        async def loop() -> None:
            while True:
                interval = dev.block_time
                await asyncio.sleep(interval or 0.05)
                if interval and dev.block_time:
                    try:
                        dev.mine(1)
                    except Exception as exc:  # noqa: BLE001 - keep mining
                        print(f"chainvm node: interval mining failed: {exc!r}")

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(interval_miner)
    return app


async def websocket(request: web.Request, rpc: Rpc, dev: DevChain,
                    max_body: int) -> web.WebSocketResponse:
    """JSON-RPC over a WebSocket, plus eth_subscribe for "newHeads" and "logs"."""
    ws = web.WebSocketResponse(max_msg_size=max_body)
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    subs: dict[str, tuple[str, LogCriteria | None]] = {}
    pending: set[asyncio.Task[None]] = set()

    def push(payload: Any) -> None:
        task = loop.create_task(ws.send_str(json.dumps(payload, separators=(",", ":"))))
        pending.add(task)
        task.add_done_callback(pending.discard)

    def on_block(stored: StoredBlock) -> None:
        for sid, (kind, crit) in list(subs.items()):
            if kind == "newHeads":
                items = [format_head(dev, stored)]
            else:
                assert crit is not None
                items = block_logs(stored, crit)
            for item in items:
                push({"jsonrpc": "2.0", "method": "eth_subscription",
                      "params": {"subscription": sid, "result": item}})

    def subscription_call(req: dict[str, Any]) -> dict[str, Any]:
        rid = req.get("id")
        params = req.get("params") or []
        if req["method"] == "eth_unsubscribe":
            found = bool(params) and subs.pop(str(params[0]), None) is not None
            return {"jsonrpc": "2.0", "id": rid, "result": found}
        kind = params[0] if params else None
        try:
            if kind == "newHeads":
                crit = None
            elif kind == "logs":
                crit = parse_log_criteria(params[1] if len(params) > 1 else {})
            else:
                return error_response(rid, INVALID_PARAMS,
                                      f"unsupported subscription {kind!r} (newHeads, logs)")
        except NodeError as exc:
            return error_response(rid, exc.code, str(exc))
        sid = "0x" + secrets.token_hex(16)
        subs[sid] = (kind, crit)
        return {"jsonrpc": "2.0", "id": rid, "result": sid}

    dev.listeners.append(on_block)
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            try:
                req = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                req = None
            if isinstance(req, dict) and req.get("method") in ("eth_subscribe",
                                                               "eth_unsubscribe"):
                reply: Any = subscription_call(req)
            else:
                reply = rpc.handle_body(data)
            if reply is not None:
                await ws.send_str(json.dumps(reply, separators=(",", ":")))
    finally:
        dev.listeners.remove(on_block)
    return ws


def _cors() -> dict[str, str]:
    return {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type"}


def _with_cors(resp: web.Response) -> web.Response:
    resp.headers.update(_cors())
    return resp


class NodeServer:
    """Run the node in the current event loop: `await server.start()`, `.port`, `.stop()`."""

    def __init__(self, dev: DevChain, host: str = "127.0.0.1", port: int = 0,
                 block_time: float | None = None, **kwargs: Any) -> None:
        self.dev = dev
        self.host = host
        self.requested_port = port
        self.app = make_app(dev, block_time=block_time, **kwargs)
        self.runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.requested_port)
        await site.start()
        server = site._server
        if server is not None and server.sockets:  # type: ignore[attr-defined]
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


class ThreadedNode:
    """A node on its own event-loop thread (for tests and the Python API): `with
    ThreadedNode(dev) as node: node.url`."""

    def __init__(self, dev: DevChain, host: str = "127.0.0.1", port: int = 0,
                 **kwargs: Any) -> None:
        import threading

        self.server = NodeServer(dev, host, port, **kwargs)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://{self.server.host}:{self.server.port}/"
