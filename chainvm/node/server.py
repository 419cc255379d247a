"""The transport: aiohttp; JSON-RPC 2.0 by POST at "/", and over a WebSocket at "/"
(with eth_subscribe for "newHeads", "logs" and "newPendingTransactions").

The chain is not thread-safe: every request that touches it runs on one worker
thread, in arrival order, so that a long one (an eth_call under its time limit)
never stops the event loop; methods that read nothing that changes (eth_chainId,
web3_clientVersion, ...) are answered on the loop at once, and quick lookups
(balances, receipts, blocks) on the loop too when the chain is idle (a lock says so). Bodies are read whole,
to their Content-Length, up to `max_body` bytes (HTTP 413 with a JSON-RPC error
above it); their JSON is bounded in depth and number length before it is parsed.

Access (see docs/node.md, "Who may talk to the node"): only Host names of the loopback
interface (plus `allow_hosts`) are served, against DNS rebinding; requests from web
pages (an Origin header) only from origins in `cors`, which alone
get CORS headers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import json
import queue
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Self

from aiohttp import WSMsgType, web

from chainvm.chain.chain import StoredBlock
from chainvm.chain.transactions import SignedTransaction
from chainvm.node.devchain import DevChain, NodeError
from chainvm.node.rpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    Rpc,
    error_response,
    valid_id,
)
from chainvm.node.rpc.base import RpcOptions
from chainvm.node.rpc.eth import SYNC_METHODS, SYNC_TIMEOUT_CODE, sync_wait_ms
from chainvm.node.rpc.format import format_head, format_tx
from chainvm.node.rpc.logs import LogCriteria, block_logs, parse_log_criteria
from chainvm.node.rpc.params import parse_number

DEFAULT_MAX_BODY = 16 * 1024 * 1024
# Bodies up to this size are parsed on the event loop (so immediate methods need no
# hop to the worker); larger ones are parsed on the worker.
_PARSE_ON_LOOP = 64 * 1024
# Subscriptions one WebSocket connection may hold at once (eth_subscribe beyond it is
# -32005): every one costs the chain's thread work after each block.
MAX_SUBSCRIPTIONS = 1000
# Sync sends (EIP-7966) waiting at once for their blocks: each costs the chain's thread a
# receipt lookup a block; past this many, one answers at once (error 4, its hash) instead.
MAX_SYNC_WAITERS = 1000
LIMIT_EXCEEDED = -32005  # EIP-1474
# Notification bytes one connection may have waiting to be sent (a client that does not
# read); above it the connection is closed with code 1008 and a reason.
MAX_WS_BACKLOG = 64 * 1024 * 1024
WS_CLOSE_POLICY = 1008
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
FORBIDDEN = 403
STOPPING = 503
WS_GOING_AWAY = 1001
# How long a stop waits on closing a WebSocket (its frame written; when its handler was
# busy, aiohttp also waits for the client's answer, which is no longer read): then the
# connection is dropped.
WS_STOP_CLOSE_TIMEOUT = 2.0
# How long a stop waits for a handler still at work (aiohttp waits this long, cancels it,
# and waits as long again; its default is 60 s). A request still being answered then
# loses its answer (a long anvil_mine's: the worker still finishes the job before the
# store closes); a handler stuck on a connection that is no longer read cannot hold the
# stop for minutes (docs/node.md, "A graceful stop under a stress mix").
STOP_HANDLER_TIMEOUT = 10.0


def encode(payload: Any) -> str:
    """A response as JSON text. allow_nan=False: NaN and Infinity are not JSON, and a
    client would fail on the whole response; an answer that cannot be encoded becomes
    an internal error instead."""
    try:
        return json.dumps(payload, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError, MemoryError) as exc:
        rid = payload.get("id") if isinstance(payload, dict) else None
        return json.dumps(error_response(rid if valid_id(rid) else None, INTERNAL_ERROR,
                                         f"internal error: answer not encodable: {exc!r}"),
                          allow_nan=False)


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None
          ) -> web.Response:
    return web.Response(text=encode(payload), status=status, content_type="application/json",
                        headers=headers)


def _error(status: int, code: int, message: str,
           headers: dict[str, str] | None = None) -> web.Response:
    return _json(error_response(None, code, message), status, headers)


def _http_error(request: web.BaseRequest, exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusal (a path that is not served, a method the path does not take)
    as a JSON-RPC error with id null, keeping its status and its Allow header: JSON-RPC
    clients read the body of every answer as JSON."""
    path = request.path if len(request.path) <= 200 else request.path[:200] + "..."
    if isinstance(exc, web.HTTPNotFound):
        message = (f"no such path {path!r}: JSON-RPC is served by POST (or a WebSocket) "
                   "at /")
    elif isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        message = f"HTTP method {request.method} not allowed at {path!r} (allowed: {allowed})"
    else:
        message = f"HTTP {exc.status}: {exc.reason}"
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return _error(exc.status, INVALID_REQUEST, message, headers)


def host_name(host_header: str) -> str:
    """The name of a Host header, without port, lowercase ("[::1]:8545" -> "::1")."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


class Access:
    """Who may talk to the node: Host names (against DNS rebinding) and web origins."""

    def __init__(self, allow_hosts: Iterable[str] = (), cors: Iterable[str] = ()) -> None:
        self.hosts = {host_name(h) if h != "*" else "*" for h in allow_hosts}
        self.origins = {o.rstrip("/") for o in cors}

    def host_allowed(self, request: web.BaseRequest) -> bool:
        host = request.headers.get("Host")
        if host is None:  # HTTP/1.0 clients; browsers always send one
            return True
        name = host_name(host)
        return "*" in self.hosts or name in LOOPBACK_HOSTS or name in self.hosts

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.origins or origin.rstrip("/") in self.origins

    def check(self, request: web.BaseRequest) -> web.Response | None:
        """None when the request may go on, else the refusal."""
        if not self.host_allowed(request):
            return _error(FORBIDDEN, INVALID_REQUEST,
                          f"host {request.headers.get('Host')!r} not allowed (loopback names "
                          "only; add one with --allow-host)")
        # Browsers send an Origin with every cross-origin request (and every POST); tools
        # (curl, web3.py, node's fetch) send none.
        origin = request.headers.get("Origin")
        if origin is not None and not self.origin_allowed(origin):
            return _error(FORBIDDEN, INVALID_REQUEST,
                          f"origin {origin!r} not allowed (add it with --cors)")
        return None

    def cors_headers(self, request: web.BaseRequest) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if origin is None or not self.origin_allowed(origin):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type"}


async def read_body(request: web.Request, max_body: int) -> bytes | None:
    """The whole body, or None when it is larger than `max_body`."""
    length = request.content_length
    if length is not None:
        if length > max_body:
            return None
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            return exc.partial  # the client closed early: a parse error follows
    chunks: list[bytes] = []
    size = 0
    while True:  # chunked transfer: read to the end, counting
        chunk = await request.content.read(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_body:
            return None
        chunks.append(chunk)


class _BodyCut(Exception):
    """A body whose rest will never be read: the node is stopping (see `Node.stopping`)."""


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """On the loop: hand a job's outcome to its awaiting request (unless it went away)."""
    if not future.done():
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class ChainWorker:
    """The chain's one thread: runs jobs in the order given and hands each result back to
    the event loop that asked (one queue put, one wake-up of the loop: what a request that
    mines a block pays for the hop, less than an executor's futures cost)."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.jobs: queue.SimpleQueue[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[..., Any],
                  tuple[Any, ...]] | None] = queue.SimpleQueue()
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="chainvm-chain", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        jobs = self.jobs
        lock = self.lock
        while True:
            job = jobs.get()
            if job is None:
                return
            loop, future, fn, args = job
            if future.cancelled():
                continue
            try:
                with lock:
                    outcome = (True, fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the request
                outcome = (False, exc)
            try:
                loop.call_soon_threadsafe(_settle, future, *outcome)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self.closed:
            future.set_exception(RuntimeError("the chain's worker has stopped"))
        else:
            self.jobs.put((loop, future, fn, args))
        return future

    def shutdown(self) -> None:
        """Stop after the job at hand, and wait for it: jobs not started are cancelled.

        Waiting matters: the node closes its store next, and a store closed under a job
        that is still writing a block (a SIGTERM during a send or a mine) lost blocks the
        node had acknowledged, or hung the stop."""
        self.closed = True
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].call_soon_threadsafe(job[1].cancel)
        self.jobs.put(None)
        if threading.current_thread() is not self.thread:
            self.thread.join()


# Young objects a collection waits for in the node's process (Python's default is 700).
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """For a process that serves the node (the CLI, not the test API's host process):
    what startup made (modules, the genesis state) is frozen out of the collector's
    scans, and young objects are collected every GC_YOUNG_THRESHOLD allocations instead
    of 700. Every mined block leaves a few hundred objects that live on (its block,
    receipts, state and trie nodes), so the defaults made the cyclic collector about a
    tenth of the CPU a transfer costs; cyclic garbage is still collected."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


class Node:
    """The app's state: the chain, its worker thread, the dispatcher and the limits."""

    def __init__(self, dev: DevChain, rpc: Rpc, max_body: int, access: Access) -> None:
        self.dev = dev
        self.rpc = rpc
        self.max_body = max_body
        self.access = access
        # Held by whoever touches the chain: the worker, or the loop for a quick lookup
        # while the worker is idle.
        self.chain_lock = threading.Lock()
        self.worker = ChainWorker(self.chain_lock)
        self.sync_waiters = 0  # sync sends waiting for their blocks (on the loop only)
        # What a stop must end (on the loop only): bodies being read, open WebSockets.
        self.stopped_reading = False  # set when the connections are no longer read
        self.reading: set[Any] = set()  # their requests' `content` streams
        self.sockets: dict[web.WebSocketResponse, web.BaseRequest] = {}

    async def stopping(self, _app: web.Application) -> None:
        """The app's on_shutdown. aiohttp's graceful stop first stops reading every
        connection (its pre_shutdown: whatever arrives afterwards is dropped), then runs
        this, then waits up to 60 s (AppRunner's shutdown_timeout) for each handler still
        at work before it cancels it. A handler waiting on its connection waited those
        60 s for nothing: a body whose rest had not yet arrived (clients often send the
        headers and the body in two writes: a SIGTERM between them, one stop in some
        tens under load, took a minute) and an open WebSocket (whose client keeps it open:
        every stop with one took two minutes). Both end here: the body with an error, the
        WebSocket with a close frame (1001, going away). A handler that a request
        already read starts only after this, its connection is no longer read either: it
        looks at `stopped_reading`."""
        self.stopped_reading = True
        for content in list(self.reading):
            if not content.is_eof():  # not whole, and nothing more will be read
                content.set_exception(_BodyCut())
        await asyncio.gather(*(_close_for_stop(ws, request)
                               for ws, request in list(self.sockets.items())))

    def on_chain(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """`fn(*args)` on the chain's worker thread (await the result)."""
        return self.worker.submit(fn, *args)

    async def handle(self, request: Any) -> Any:
        """A parsed body's answer: at once for what needs no chain, on the loop for quick
        lookups when the chain is idle, else on the chain's thread."""
        if self.rpc.is_immediate(request):
            return self.rpc.handle_request(request)
        if self.rpc.is_quick(request) and self.chain_lock.acquire(blocking=False):
            try:
                return self.rpc.handle_request(request)
            finally:
                self.chain_lock.release()
        response = await self.on_chain(self.rpc.handle_request, request)
        if isinstance(request, dict) and request.get("method") in SYNC_METHODS:
            return await self._await_receipt(request, response)
        return response

    async def _await_receipt(self, request: dict[str, Any], response: Any) -> Any:
        """EIP-7966: a sync send whose transaction was not mined at once (automine off)
        waits here, on the loop and off the chain's thread, for a block that mines it."""
        error = response.get("error") if isinstance(response, dict) else None
        if not isinstance(error, dict) or error.get("code") != SYNC_TIMEOUT_CODE \
                or self.sync_waiters >= MAX_SYNC_WAITERS:
            return response
        params = request.get("params")
        timeout = params[1] if isinstance(params, list) and len(params) > 1 else None
        # (the dispatcher took the timeout already: it is a valid quantity or null)
        wait = sync_wait_ms(None if timeout is None else parse_number(timeout))
        lookup = {"jsonrpc": "2.0", "id": request.get("id"),
                  "method": "eth_getTransactionReceipt", "params": [error["data"]]}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait / 1000
        # Looked up again after each new block only: a waiting request costs the chain's
        # thread one lookup a block, however long it waits.
        mined = asyncio.Event()

        def on_block(_stored: StoredBlock) -> None:  # on the chain's thread
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(mined.set)

        self.dev.listeners.append(on_block)
        self.sync_waiters += 1
        try:
            while True:  # looked up once more first: a block may have come before the listener
                mined.clear()
                found = await self.on_chain(self.rpc.handle_request, lookup)
                if isinstance(found, dict) and found.get("result") is not None:
                    return found
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(mined.wait(), left)
                except TimeoutError:
                    break
        finally:
            self.sync_waiters -= 1
            with contextlib.suppress(ValueError):
                self.dev.listeners.remove(on_block)
        return response

    async def answer(self, body: bytes) -> Any:
        """The JSON-RPC answer to a body (None: notifications only)."""
        if len(body) > _PARSE_ON_LOOP:
            return await self.on_chain(self.rpc.handle_body, body)
        try:
            request = self.rpc.parse(body)
        except ValueError as exc:
            return error_response(None, PARSE_ERROR, f"parse error: {exc}")
        return await self.handle(request)


NODE = web.AppKey("node", Node)


def make_app(dev: DevChain, max_body: int = DEFAULT_MAX_BODY, max_batch: int = 1000,
             block_time: float | None = None, options: RpcOptions | None = None,
             allow_hosts: Iterable[str] = (), cors: Iterable[str] = ()) -> web.Application:
    node = Node(dev, Rpc(dev, max_batch=max_batch, options=options), max_body,
                Access(allow_hosts, cors))

    @web.middleware
    async def guard(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        refusal = node.access.check(request)
        if refusal is not None:
            return refusal
        try:
            response = await handler(request)
        except web.HTTPError as exc:  # 4xx/5xx of aiohttp's (404, 405): JSON too
            response = _http_error(request, exc)
        except web.HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - every answer is JSON, never a bare 500
            response = _error(500, INTERNAL_ERROR, f"internal error: {exc!r}")
        if not isinstance(response, web.WebSocketResponse):
            response.headers.update(node.access.cors_headers(request))
        return response

    app = web.Application(client_max_size=max_body + 1, middlewares=[guard])
    app[NODE] = node
    app.on_shutdown.append(node.stopping)

    async def preflight(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)  # allowed origins only (the guard), CORS added

    async def handle(request: web.Request) -> web.StreamResponse:
        node.reading.add(request.content)
        try:
            if node.stopped_reading and not request.content.is_eof():
                raise _BodyCut
            body = await read_body(request, max_body)
        except _BodyCut:
            # Nothing more is read: aiohttp must not linger (10 s) for the rest of it.
            request.content.feed_eof()
            refusal = _error(STOPPING, -32000, "the node is stopping: the request's body did "
                                               "not arrive whole before it stopped reading")
            refusal.force_close()
            return refusal
        finally:
            node.reading.discard(request.content)
        if body is None:
            return _error(413, INVALID_REQUEST, f"request body above {max_body} bytes "
                                                "(--max-body)")
        if not body.strip():
            return _json(error_response(None, PARSE_ERROR, "empty body"))
        result = await node.answer(body)
        if result is None:
            return web.Response(status=204)
        return _json(result)

    async def health(_request: web.Request) -> web.StreamResponse:
        return _json({"ok": True, "block": dev.head.number})

    async def get_root(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await websocket(request, node)
        return await health(request)

    app.router.add_post("/", handle)
    app.router.add_route("OPTIONS", "/", preflight)
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
                        await node.on_chain(dev.mine, 1)
                    except Exception as exc:  # noqa: BLE001 - keep mining
                        print(f"chainvm node: interval mining failed: {exc!r}")

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        node.worker.shutdown()

    app.cleanup_ctx.append(interval_miner)
    return app


class Subscriptions:
    """eth_subscribe / eth_unsubscribe of one WebSocket connection."""

    def __init__(self, node: Node, push: Callable[[Any], None]) -> None:
        self.node = node
        self.push = push
        # id -> (kind, the logs' criteria, whether pending transactions come whole)
        self.subs: dict[str, tuple[str, LogCriteria | None, bool]] = {}

    def on_block(self, stored: StoredBlock) -> None:
        """Runs on the chain's thread after each new block: its notifications, pushed as
        one list."""
        head = None  # formatted once for all newHeads subscriptions
        notes: list[Any] = []
        for sid, (kind, crit, _full) in list(self.subs.items()):
            if kind == "newHeads":
                if head is None:
                    head = format_head(self.node.dev, stored)
                items = [head]
            elif kind == "logs":
                assert crit is not None
                items = block_logs(stored, crit)
            else:
                continue
            notes.extend({"jsonrpc": "2.0", "method": "eth_subscription",
                          "params": {"subscription": sid, "result": item}} for item in items)
        if notes:
            self.push(notes)

    def on_pending(self, tx: SignedTransaction) -> None:
        """Runs when a transaction enters the pool: its hash (or, subscribed with `true`,
        the transaction as eth_getTransactionByHash shows it) to each
        newPendingTransactions subscription."""
        notes: list[Any] = []
        whole = None
        for sid, (kind, _crit, full) in list(self.subs.items()):
            if kind != "newPendingTransactions":
                continue
            if full and whole is None:
                whole = format_tx(self.node.dev, tx, None, None)
            notes.append({"jsonrpc": "2.0", "method": "eth_subscription",
                          "params": {"subscription": sid,
                                     "result": whole if full else "0x" + tx.hash.hex()}})
        if notes:
            self.push(notes)

    def call(self, req: dict[str, Any]) -> dict[str, Any] | None:
        rid = req.get("id")
        if not valid_id(rid):  # checked as the dispatcher does: these bypass it
            return error_response(None, INVALID_REQUEST, "invalid id")
        if req.get("jsonrpc") != "2.0":
            return error_response(rid, INVALID_REQUEST, "invalid request")
        params = req.get("params", [])
        try:
            if not isinstance(params, list):
                raise NodeError("params must be an array", INVALID_PARAMS)
            result = self._unsubscribe(params) if req["method"] == "eth_unsubscribe" \
                else self._subscribe(params)
        except NodeError as exc:
            response = error_response(rid, exc.code, str(exc), exc.data)
        else:
            response = {"jsonrpc": "2.0", "id": rid, "result": result}
        return None if "id" not in req else response

    def _subscribe(self, params: list[Any]) -> str:
        kind = params[0] if params else None
        crit = None
        full = False
        if kind == "logs":
            if len(params) > 2:
                raise NodeError("too many arguments, want at most 2", INVALID_PARAMS)
            crit = parse_log_criteria(params[1] if len(params) > 1 else {},
                                      "invalid argument 1: filter")
        elif kind == "newHeads":
            if len(params) > 1:
                raise NodeError("newHeads takes no further arguments", INVALID_PARAMS)
        elif kind == "newPendingTransactions":
            # geth's optional second argument: true for whole transactions, not hashes
            if len(params) > 2 or (len(params) == 2 and params[1] is not None
                                   and not isinstance(params[1], bool)):
                raise NodeError("newPendingTransactions takes at most one more argument, "
                                "a boolean (whole transactions)", INVALID_PARAMS)
            full = len(params) == 2 and params[1] is True
        else:
            raise NodeError(f"invalid argument 0: unsupported subscription {kind!r} "
                            "(newHeads, logs, newPendingTransactions)", INVALID_PARAMS)
        if len(self.subs) >= MAX_SUBSCRIPTIONS:
            raise NodeError(f"too many subscriptions on this connection (at most "
                            f"{MAX_SUBSCRIPTIONS}); eth_unsubscribe one first", LIMIT_EXCEEDED)
        sid = "0x" + secrets.token_hex(16)
        self.subs[sid] = (kind, crit, full)
        return sid

    def _unsubscribe(self, params: list[Any]) -> bool:
        if len(params) != 1 or not isinstance(params[0], str):
            raise NodeError("invalid argument 0: expected one subscription id (a string)",
                            INVALID_PARAMS)
        return self.subs.pop(params[0], None) is not None


WS_CLOSE_TOO_BIG = 1009


class _RpcWebSocket(web.WebSocketResponse):
    """aiohttp closes a connection whose message passes `max_msg_size` with 1009 and no
    reason; a client should learn what the limit is and how to raise it."""

    def __init__(self, max_body: int) -> None:
        super().__init__(max_msg_size=max_body)
        self.too_big = f"message larger than {max_body} bytes (the node's --max-body)"

    async def close(self, *, code: int = 1000, message: bytes = b"",
                    drain: bool = True) -> bool:
        if code == WS_CLOSE_TOO_BIG and not message:
            message = self.too_big.encode()
        return await super().close(code=code, message=message, drain=drain)


async def websocket(request: web.Request, node: Node) -> web.WebSocketResponse:
    """JSON-RPC over a WebSocket, plus eth_subscribe ("newHeads", "logs",
    "newPendingTransactions"). A bad
    message gets an error object; the connection stays."""
    ws = _RpcWebSocket(node.max_body)
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    backlog: collections.deque[str] = collections.deque()  # notifications not yet sent
    waiting = 0  # their bytes
    wake = asyncio.Event()
    overflow: list[asyncio.Task[None]] = []

    async def send_backlog() -> None:
        nonlocal waiting
        while True:
            await wake.wait()
            wake.clear()
            while backlog:
                text = backlog.popleft()
                waiting -= len(text)
                await ws.send_str(text)

    async def close_unread() -> None:
        sender.cancel()
        reason = (f"more than {MAX_WS_BACKLOG} bytes of notifications unread: the "
                  "client does not read them")
        try:  # a client that does not read may not take the close frame either
            await asyncio.wait_for(ws.close(code=WS_CLOSE_POLICY, message=reason.encode()), 5)
        except (Exception, asyncio.CancelledError):  # then it is dropped
            # (The sender's cancellation cancels the write-drain future that close()
            # waits on too, so close() can end at once in CancelledError, the socket
            # half-closed behind megabytes the client never reads: the handler then never
            # returned and kept its subscriptions.)
            drop()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        else:
            if request.transport is not None and request.transport.get_write_buffer_size():
                drop()  # the close frame sits behind data the client does not read

    def drop() -> None:
        if request.transport is not None:
            request.transport.abort()

    def enqueue(notes: list[Any]) -> None:  # on the loop
        nonlocal waiting
        if ws.closed or overflow:
            return
        for note in notes:
            text = encode(note)
            backlog.append(text)
            waiting += len(text)
        if waiting > MAX_WS_BACKLOG:
            backlog.clear()
            overflow.append(loop.create_task(close_unread()))
        wake.set()

    def push(notes: list[Any]) -> None:  # from the chain's thread
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(enqueue, notes)

    if node.stopped_reading:  # (a handshake read before the node stopped reading)
        await _close_for_stop(ws, request)
        return ws
    sender = loop.create_task(send_backlog())
    subs = Subscriptions(node, push)
    node.sockets[ws] = request
    node.dev.listeners.append(subs.on_block)
    node.dev.pool_listeners.append(subs.on_pending)
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            reply = await _ws_answer(node, subs, data)
            if reply is not None and not ws.closed:
                await ws.send_str(encode(reply))
    except ConnectionError:  # the client went away while its answer was being sent
        pass
    finally:
        node.sockets.pop(ws, None)
        with contextlib.suppress(ValueError):
            node.dev.listeners.remove(subs.on_block)
        with contextlib.suppress(ValueError):
            node.dev.pool_listeners.remove(subs.on_pending)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        if overflow:
            with contextlib.suppress(asyncio.CancelledError):
                await overflow[0]
    return ws


async def _close_for_stop(ws: web.WebSocketResponse, request: web.BaseRequest) -> None:
    """Close a WebSocket because the node stops. The client's answering close frame is
    not waited for (the connection is no longer read); a client that does not take the
    frame within WS_STOP_CLOSE_TIMEOUT is dropped."""
    try:
        await asyncio.wait_for(ws.close(code=WS_GOING_AWAY, message=b"the node is stopping"),
                               WS_STOP_CLOSE_TIMEOUT)
    except (Exception, asyncio.CancelledError):  # then it is dropped
        if request.transport is not None:
            request.transport.abort()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def _ws_answer(node: Node, subs: Subscriptions, data: bytes) -> Any:
    try:
        request = node.rpc.parse(data)
    except ValueError as exc:
        return error_response(None, PARSE_ERROR, f"parse error: {exc}")
    try:
        if isinstance(request, dict) and request.get("method") in ("eth_subscribe",
                                                                   "eth_unsubscribe"):
            return await node.on_chain(subs.call, request)
        return await node.handle(request)
    except Exception as exc:  # noqa: BLE001 - one bad message must not close the socket
        rid = request.get("id") if isinstance(request, dict) else None
        return error_response(rid, INTERNAL_ERROR, f"internal error: {exc!r}")


class NodeServer:
    """Run the node in the current event loop: `await server.start()`, `.port`, `.stop()`."""

    def __init__(self, dev: DevChain, host: str = "127.0.0.1", port: int = 0,
                 block_time: float | None = None, **kwargs: Any) -> None:
        self.dev = dev
        self.host = host
        self.requested_port = port
        self.app = make_app(dev, block_time=block_time, **kwargs)
        self.node = self.app[NODE]
        self.runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None,
                                    shutdown_timeout=STOP_HANDLER_TIMEOUT)
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
