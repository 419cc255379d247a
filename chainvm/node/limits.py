"""Bounds on what one request may cost the node: the shape of its JSON before parsing,
and the wall-clock time of an execution (eth_call, eth_estimateGas, debug_trace*).

The time limit interrupts the thread that runs the execution by raising
`ExecutionTimeout` in it (CPython's asynchronous exception), so the interpreter needs
no deadline checks on its hot path. Only work that changes nothing but its own copy
of the state may run under a limit: the exception may land at any bytecode of it.
"""

from __future__ import annotations

import ctypes
import json
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from chainvm.encoding.json_input import nested_deeper_than

T = TypeVar("T")

DEFAULT_MAX_DEPTH = 64
# The shortest interval between mined blocks (--block-time, evm_setIntervalMining): anvil
# takes whole seconds; far below a millisecond the miner would hold the node making blocks.
MIN_BLOCK_TIME = 0.001
DEFAULT_MAX_DIGITS = 80  # 2^256 has 78 decimal digits

# Blocks one request may mine (evm_mine, anvil_mine, hardhat_mine), a batch's calls
# sharing them. Each block is built and kept while the node answers nothing else (about
# 0.1 ms and 6 KB of an in-memory chain on the benchmark machine with the EIP-2935
# history contract `chainvm node` deploys), so a count like 2^64 (a typo, or a page's
# request) is refused instead of holding the node until memory runs out, and so is a
# batch of a thousand calls of 100,000 blocks each.
MAX_BLOCKS_PER_REQUEST = 100_000
# What is left of it for the request this thread is handling (the dispatcher sets it for
# each request body; None outside one: in-process calls count per call).
BLOCKS_LEFT: ContextVar[int | None] = ContextVar("chainvm_blocks_left", default=None)


class JsonShapeError(ValueError):
    """A body nested too deep or carrying too long a number."""


def check_depth(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `max_depth` before the parser recurses into it (its
    recursion is bounded only by the interpreter's recursion limit, which libraries such
    as py_ecc raise far past what a thread's C stack holds). Malformed JSON passes: the
    parser reports it."""
    if nested_deeper_than(body, max_depth):  # the fixture reader's check
        raise JsonShapeError(f"JSON nested deeper than {max_depth} levels")


def _decoder(max_digits: int) -> json.JSONDecoder:
    """The decoder `load_json` uses for `max_digits` (made once: a JSONDecoder builds its
    scanner when made, which json.loads with hooks did for every body)."""
    decoder = _DECODERS.get(max_digits)
    if decoder is not None:
        return decoder

    def bounded_int(digits: str) -> int:
        if len(digits) > max_digits:
            raise JsonShapeError(f"JSON number longer than {max_digits} digits")
        return int(digits)

    def bounded_float(text: str) -> float:
        if len(text) > max_digits:
            raise JsonShapeError(f"JSON number longer than {max_digits} digits")
        return float(text)

    def no_constant(name: str) -> Any:
        raise JsonShapeError(f"{name} is not JSON")

    decoder = _DECODERS[max_digits] = json.JSONDecoder(
        parse_int=bounded_int, parse_float=bounded_float, parse_constant=no_constant)
    return decoder


_DECODERS: dict[int, json.JSONDecoder] = {}


def load_json(body: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH,
              max_digits: int = DEFAULT_MAX_DIGITS) -> Any:
    """json.loads with the nesting and the length of each number bounded (each integer's
    digits are counted before they are converted); NaN and Infinity refused."""
    raw = body.encode() if isinstance(body, str) else body
    check_depth(raw, max_depth)
    # As json.loads decodes bytes (UTF-8, -16 or -32, a UTF-8 BOM allowed).
    return _decoder(max_digits).decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))


class ExecutionTimeout(BaseException):
    """Raised into a thread whose time-limited work ran past its deadline. A
    BaseException, so that no `except Exception` inside the EVM can swallow it."""


_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_async_exc.argtypes = (ctypes.c_ulong, ctypes.c_void_p)


def _raise_in(thread_id: int) -> None:
    _async_exc(thread_id, id(ExecutionTimeout))  # the class lives as long as the module


def _cancel_in(thread_id: int) -> None:
    _async_exc(thread_id, None)  # NULL: clears an exception not delivered yet


class Watchdog:
    """Runs work with a deadline on the calling thread; one helper thread watches the
    deadlines and interrupts the work that passes its own."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: dict[object, tuple[float, int]] = {}  # token -> (deadline, thread)
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """Whether some work runs under a deadline now."""
        return bool(self._deadlines)

    def run(self, seconds: float, work: Callable[[], T]) -> T:
        """`work()`, or ExecutionTimeout once `seconds` have passed."""
        token = object()
        thread_id = threading.get_ident()
        with self._cond:
            self._deadlines[token] = (time.monotonic() + seconds, thread_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="chainvm-watchdog",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        try:
            return work()
        finally:
            with self._cond:
                # Fired or not, nothing may reach this thread after the work: drop the
                # deadline and cancel an exception set but not delivered yet.
                if self._deadlines.pop(token, None) is None:
                    _cancel_in(thread_id)

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, thread_id) in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[token]
                        _raise_in(thread_id)
                wait = min((d for d, _ in self._deadlines.values()), default=now + 60) - now
                self._cond.wait(max(wait, 0.001))


# One watchdog thread serves every dispatcher of the process.
WATCHDOG = Watchdog()
