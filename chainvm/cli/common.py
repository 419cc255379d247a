"""Conventions every chainvm command shares: JSON on stdout, one-line errors on stderr,
exit 2 for bad usage, progress only when stderr is a terminal."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

from chainvm.encoding.json_input import InputError, parse_data, parse_quantity, short

T = TypeVar("T")


class UsageError(Exception):
    """Bad flags, paths or input: reported on one line, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def collect_json_files(paths: Iterable[str]) -> list[Path]:
    """Expand files and folders (recursively) to a sorted list of .json files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            files.append(path)
        elif path.exists():  # a pipe, a socket, a device: no fixture, and reading may block
            raise UsageError(f"not a regular file or folder: {raw}")
        else:
            raise UsageError(f"no such file or directory: {raw}")
    return files


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield items, drawing a progress bar on stderr only when it is a terminal."""
    if not sys.stderr.isatty() or total == 0:
        yield from items
        return
    width = 30
    for done, item in enumerate(items, 1):
        filled = width * done // total
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
        yield item
    sys.stderr.write("\n")


def parse_hex(text: str, what: str) -> bytes:
    """A hex flag value (with or without 0x); a UsageError if it is not hex."""
    try:
        return parse_data(text, what)
    except InputError as exc:
        raise UsageError(str(exc)) from None


def parse_int_flag(text: str, flag: str, limit: int) -> int:
    """A non-negative integer flag (decimal or 0x hex) below `limit`; else a UsageError."""
    try:
        number = parse_quantity(text, flag)
    except InputError:
        raise UsageError(f"{flag}: expected an integer (decimal or 0x hex, not negative), "
                         f"got {short(text)}") from None
    if number >= limit:
        raise UsageError(f"{flag}: {short(text)} is too large (at most {limit - 1:#x})")
    return number


def read_stdin() -> bytes:
    """All of stdin, as bytes (a text stream without a buffer, as in tests, is encoded)."""
    buffer = getattr(sys.stdin, "buffer", None)
    return buffer.read() if buffer is not None else sys.stdin.read().encode()



class TimeLimitExceeded(BaseException):
    """Raised inside running code when its time limit passes. A BaseException, like
    KeyboardInterrupt, so that no `except Exception` on the way up can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block with TimeLimitExceeded after `seconds` of wall time.

    Uses SIGALRM, so it bounds pure-Python work (the interpreter, both tiers) in the
    main thread; elsewhere (no SIGALRM, another thread) the block runs unbounded.
    None or 0 means no limit.
    """
    usable = (bool(seconds) and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds or 0))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def positive_seconds(text: str, flag: str) -> float:
    """A time limit flag: seconds (may be fractional), 0 for none."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag}: expected seconds, got {short(text)}") from None
    if not 0 <= value < 10**9:  # also refuses nan and inf
        raise UsageError(f"{flag}: expected 0 (no limit) or a positive number of seconds")
    return value
