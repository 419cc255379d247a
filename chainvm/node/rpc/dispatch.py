"""The JSON-RPC 2.0 dispatcher: requests and batches in, responses out.

`Rpc.handle_body(bytes)` takes a request body (one call or a batch) and returns the
response object (or None when only notifications were sent). Methods come from the
namespaces (eth, net/web3, debug, txpool, evm/anvil/hardhat); each positional
parameter is decoded from its annotation before the call, so a bad one is answered
with -32602 naming the argument.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chainvm.node.devchain import DevChain, NodeError
from chainvm.node.limits import (
    BLOCKS_LEFT,
    DEFAULT_MAX_DEPTH,
    MAX_BLOCKS_PER_REQUEST,
    WATCHDOG,
    ExecutionTimeout,
    load_json,
)
from chainvm.node.rpc.base import Namespace, RpcOptions
from chainvm.node.rpc.params import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Decoder,
    InvalidParams,
)


def error_response(rid: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": err}


def valid_id(rid: Any) -> bool:
    """Whether a request id may be echoed: a string, an integer, a finite number or
    null. A number like 1e400 parses to infinity, which JSON cannot carry back."""
    if isinstance(rid, float):
        return math.isfinite(rid)
    return rid is None or isinstance(rid, str | int) and not isinstance(rid, bool)


@dataclass(frozen=True)
class _Param:
    name: str
    decode: Callable[[Any, str], Any] | None
    default: Any  # inspect.Parameter.empty when required


def _decoder(hint: Any) -> Decoder | None:
    """The Decoder in an `Annotated[...]` hint, also inside `X | None`."""
    for candidate in (hint, *typing.get_args(hint)):
        for meta in getattr(candidate, "__metadata__", ()):
            if isinstance(meta, Decoder):
                return meta
    return None


class Method:
    """One served method: the function and how to decode its positional parameters."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name = name
        self.fn = fn
        self.bounded = getattr(fn, "bounded", False)
        self.immediate = getattr(fn, "immediate", False)
        self.quick = self.immediate or getattr(fn, "quick", False)
        hints = typing.get_type_hints(fn, include_extras=True)
        self.params: list[_Param] = []
        self.rest: _Param | None = None  # *args: passed on as they come
        for p in inspect.signature(fn).parameters.values():
            decoder = _decoder(hints.get(p.name))
            param = _Param(p.name, decoder.decode if decoder else None, p.default)
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                self.rest = param
            elif p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                            inspect.Parameter.POSITIONAL_OR_KEYWORD):
                self.params.append(param)

    def bind(self, values: Sequence[Any]) -> list[Any]:
        """The decoded arguments; InvalidParams naming the first bad one."""
        if len(values) > len(self.params) and self.rest is None:
            raise InvalidParams(f"too many arguments, want at most {len(self.params)}")
        out = []
        for i, param in enumerate(self.params):
            value = values[i] if i < len(values) else None
            if value is None and param.default is not inspect.Parameter.empty:
                out.append(param.default)  # absent or null: the default, as geth does
                continue
            if i >= len(values):
                raise InvalidParams(f"missing value for required argument {i} ({param.name})")
            if param.decode is None:
                out.append(value)
                continue
            try:
                out.append(param.decode(value, param.name))
            except InvalidParams as exc:
                raise InvalidParams(f"invalid argument {i}: {exc}") from None
        out.extend(values[len(self.params):])
        return out

    def __call__(self, values: Sequence[Any]) -> Any:
        return self.fn(*self.bind(values))


class Rpc:
    def __init__(self, dev: DevChain, max_batch: int = 1000,
                 options: RpcOptions | None = None,
                 namespaces: Sequence[type[Namespace]] | None = None,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        from chainvm.node.rpc import NAMESPACES

        self.dev = dev
        self.max_batch = max_batch
        self.max_depth = max_depth
        self.options = options or RpcOptions()
        self.watchdog = WATCHDOG
        # The deadline (time.monotonic()) of the body being handled, per thread: the
        # server handles quick lookups on its loop while its worker handles a batch.
        self._body = threading.local()
        self.namespaces = [cls(dev, self.options) for cls in (namespaces or NAMESPACES)]
        self.methods: dict[str, Method] = {}
        for ns in self.namespaces:
            for name, fn in ns.methods().items():
                if name in self.methods:
                    raise ValueError(f"JSON-RPC method {name} defined twice")
                self.methods[name] = Method(name, fn)

    def namespace(self, cls: type[Namespace]) -> Any:
        return next(ns for ns in self.namespaces if isinstance(ns, cls))

    def call(self, method: str, *params: Any) -> Any:
        """Run one method in process (decoded as over the wire); NodeError on failure."""
        fn = self.methods.get(method)
        if fn is None:
            raise NodeError(f"the method {method} does not exist/is not available",
                            METHOD_NOT_FOUND)
        self._body.deadline = time.monotonic() + (self.options.evm_timeout or 0)
        BLOCKS_LEFT.set(None)  # (a call, not a request: only its own count is bounded)
        return self._run(fn, list(params))

    def is_immediate(self, request: Any) -> bool:
        """Whether every call in a parsed body may be answered without the chain."""
        return self._all(request, "immediate")

    def is_quick(self, request: Any) -> bool:
        """Whether every call in a parsed body is a quick lookup (see `base.quick`)."""
        return self._all(request, "quick")

    def _all(self, request: Any, trait: str) -> bool:
        calls = request if isinstance(request, list) and request else [request]
        for call in calls:
            method = call.get("method") if isinstance(call, dict) else None
            fn = self.methods.get(method) if isinstance(method, str) else None
            if fn is None or not getattr(fn, trait):
                return False
            params = call.get("params")
            if trait == "quick" and isinstance(params, list) and "pending" in params:
                return False  # the pending block is built by running the pool's transactions
        return True

    # -- dispatch --------------------------------------------------------------------------

    def handle_body(self, body: bytes) -> Any:
        try:
            request = self.parse(body)
        except ValueError as exc:
            return error_response(None, PARSE_ERROR, f"parse error: {exc}")
        return self.handle_request(request)

    def parse(self, body: bytes | str) -> Any:
        """The request JSON, nesting and numbers bounded; ValueError when it is not."""
        try:
            return load_json(body, self.max_depth)
        except RecursionError:
            raise ValueError("JSON nested too deep") from None

    def handle_request(self, request: Any) -> Any:
        """A parsed body: one call (a response or None) or a batch (a list or None).
        The executions of one body share one time limit, its mining calls one count of
        blocks."""
        self._body.deadline = time.monotonic() + (self.options.evm_timeout or 0)
        BLOCKS_LEFT.set(MAX_BLOCKS_PER_REQUEST)
        if isinstance(request, list):
            if not request:
                return error_response(None, INVALID_REQUEST, "empty batch")
            if len(request) > self.max_batch:
                return error_response(None, INVALID_REQUEST,
                                      f"batch too large: {len(request)} > {self.max_batch}")
            out = [r for r in (self.handle_one(item) for item in request) if r is not None]
            return out or None
        return self.handle_one(request)

    def handle_one(self, req: Any) -> dict[str, Any] | None:
        if not isinstance(req, dict):
            return error_response(None, INVALID_REQUEST, "request must be an object")
        rid = req.get("id")
        if not valid_id(rid):
            return error_response(None, INVALID_REQUEST, "invalid id")
        # Only a valid request without an id is a notification: an invalid one is answered
        # (id null), as JSON-RPC 2.0's own example of `{"jsonrpc": "2.0", "method": 1}` is.
        if req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            return error_response(rid, INVALID_REQUEST, "invalid request")
        notification = "id" not in req
        response = self._respond(rid, req)
        return None if notification else response

    def _respond(self, rid: Any, req: dict[str, Any]) -> dict[str, Any]:
        method = req.get("method")
        if req.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return error_response(rid, INVALID_REQUEST, "invalid request")
        params = req.get("params", [])
        if not isinstance(params, list):
            if isinstance(params, dict) and not params:
                params = []
            else:
                return error_response(rid, INVALID_PARAMS, "params must be an array")
        fn = self.methods.get(method)
        if fn is None:
            return error_response(rid, METHOD_NOT_FOUND,
                                  f"the method {method} does not exist/is not available")
        try:
            return {"jsonrpc": "2.0", "id": rid, "result": self._run(fn, params)}
        except NodeError as exc:
            return error_response(rid, exc.code, str(exc), exc.data)
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            return error_response(rid, INVALID_PARAMS, f"invalid params: {exc!r}")
        except Exception as exc:  # noqa: BLE001 - the node must keep serving
            return error_response(rid, INTERNAL_ERROR, f"internal error: {exc!r}")

    def _run(self, fn: Method, params: list[Any]) -> Any:
        timeout = self.options.evm_timeout
        if not (fn.bounded and timeout):
            return fn(params)
        now = time.monotonic()
        left = getattr(self._body, "deadline", now + timeout) - now
        try:
            if left <= 0:
                raise ExecutionTimeout
            return self.watchdog.run(left, lambda: fn(params))
        except ExecutionTimeout:
            raise NodeError(f"execution aborted (timeout = {timeout:g}s)", -32000) from None
