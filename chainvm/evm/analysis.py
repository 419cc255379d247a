"""One-pass code analysis, cached per code: jump destinations and PUSH immediates."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainvm.evm.compiler import CompiledCode
    from chainvm.evm.opspec import OpcodeTables

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
        # The compiled tier's blocks for this code, per fork's opcode tables (compiler.py).
        self.compiled: dict[OpcodeTables, CompiledCode] = {}


_cache: dict[bytes, CodeAnalysis] = {}
# An analysis takes about ten bytes per byte of code (the PUSH-value list), plus the
# compiled tier's data, so the cache is bounded by the code it holds; a code bigger
# than MAX_CACHED_CODE (only init code before EIP-3860 can be) is analysed each time.
_CACHE_LIMIT = 4096
_CACHE_BYTES = 16 << 20
MAX_CACHED_CODE = 1 << 20
_cached_bytes = 0


def analyse(code: bytes) -> CodeAnalysis:
    """Analysis of `code`, cached by content (bytes hash once, then the hash is cached)."""
    global _cached_bytes
    result = _cache.get(code)
    if result is None:
        result = CodeAnalysis(code)
        size = len(code)
        if size <= MAX_CACHED_CODE:
            if len(_cache) >= _CACHE_LIMIT or _cached_bytes + size > _CACHE_BYTES:
                _cache.clear()
                _cached_bytes = 0
            _cache[code] = result
            _cached_bytes += size
    return result
