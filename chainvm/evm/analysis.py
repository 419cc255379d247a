"""One-pass code analysis, cached per code: jump destinations and PUSH immediates."""

from __future__ import annotations

from typing import Any

# Trailing zero bytes (STOP) let the loop run off the end without a bounds check,
# and give a PUSH that is cut short by the end of code its zero-padded immediate.
CODE_PADDING = bytes(33)


class CodeAnalysis:
    __slots__ = ("compiled", "entries", "heat", "jumpdests", "padded", "push_values", "size")

    def __init__(self, code: bytes) -> None:
        n = len(code)
        self.size = n
        padded = code + CODE_PADDING
        self.padded = padded
        push_values: list[int] = [0] * n
        jumpdests = set()
        i = 0
        while i < n:
            op = padded[i]
            if 0x60 <= op <= 0x7F:
                width = op - 0x5F
                push_values[i] = int.from_bytes(padded[i + 1:i + 1 + width], "big")
                i += width + 1
            else:
                if op == 0x5B:
                    jumpdests.add(i)
                i += 1
        self.jumpdests = frozenset(jumpdests)
        self.push_values = push_values
        self.entries = 0  # frames started on this code, for the compiled tier's threshold
        self.heat: dict[int, int] = {}  # loop head -> backward jumps to it (compiled tier)
        self.compiled: dict[str, Any] = {}  # fork name -> CompiledCode (see compiler.py)


_cache: dict[bytes, CodeAnalysis] = {}
_CACHE_LIMIT = 4096


def analyse(code: bytes) -> CodeAnalysis:
    """Analysis of `code`, cached by content (bytes hash once, then the hash is cached)."""
    result = _cache.get(code)
    if result is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        result = CodeAnalysis(code)
        _cache[code] = result
    return result
