"""Code analysis, cached per code: jump destinations and PUSH immediates.

Much code runs once (init code, a contract called by one transaction), so the
analysis is as cheap as it can be made: jump destinations are found by a regular
expression that steps over PUSH data in C, and PUSH immediates are decoded when an
executor first asks for them (`PushValues`), not for every PUSH of the code.
"""

from __future__ import annotations

import re
from itertools import accumulate
from operator import add
from types import FunctionType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from chainvm.evm.compiler import CompiledCode
    from chainvm.evm.opspec import OpcodeTables

# Trailing zero bytes (STOP) let the loop run off the end without a bounds check,
# and give a PUSH that is cut short by the end of code its zero-padded immediate.
CODE_PADDING: Final = bytes(33)

# The code before a JUMPDEST: whole instructions (a PUSHn with its n data bytes, or one
# byte that is neither a PUSH nor a JUMPDEST), then the JUMPDEST. Matched from an
# instruction boundary, a match ends at the next real JUMPDEST, so the lengths of the
# captured runs give every JUMPDEST's position.
_PUSH_TOKENS = b"|".join(rb"\x%02x[\x00-\xff]{%d}" % (0x5F + width, width)
                         for width in range(1, 33))
_BEFORE_JUMPDEST = re.compile(rb"((?:[^\x5b\x60-\x7f]++|" + _PUSH_TOKENS + rb")*+)\x5b")
# Code with more JUMPDESTs than this share of its bytes is scanned byte by byte (the
# regular expression costs more per JUMPDEST than the plain loop does per byte).
_DENSE_JUMPDESTS: Final = 8


def find_jumpdests(padded: bytes, size: int) -> frozenset[int]:
    """Positions of the JUMPDEST instructions (not PUSH data) in padded[:size]; `padded`
    is the code followed by CODE_PADDING."""
    if _COMPILED or padded.count(0x5B) * _DENSE_JUMPDESTS > size:
        found = []
        i = 0
        while i < size:
            op = padded[i]
            if op == 0x5B:
                found.append(i)
            elif 0x60 <= op <= 0x7F:
                i += op - 0x5F
            i += 1
        return frozenset(found)
    # The JUMPDEST appended after the padding ends the last run (a PUSH cut short by the
    # end of code takes its data from the padding, as it executes); it is not a result.
    runs = _BEFORE_JUMPDEST.findall(padded + b"\x5b")
    runs.pop()
    return frozenset(map(add, accumulate(map(len, runs)), range(len(runs))))


class PushValues(dict[int, int]):
    """PUSH immediates by the PUSH's pc, decoded on first use (executors only ask at real
    instruction boundaries)."""

    __slots__ = ("code",)

    def __init__(self, padded: bytes) -> None:
        super().__init__()
        self.code = padded

    def __missing__(self, pc: int) -> int:
        code = self.code
        op = code[pc]
        # PUSH1 and PUSH2, most PUSHes in compiled code, without a slice and from_bytes
        if op == 0x60:
            value = code[pc + 1]
        elif op == 0x61:
            value = code[pc + 1] << 8 | code[pc + 2]
        else:
            value = int.from_bytes(code[pc + 1:pc + op - 0x5E], "big")
        self[pc] = value
        return value


# Whether this module is the native build's (compiled by mypyc, setup.py): its byte loop
# then takes about 50 instructions a byte, where the regular expression takes about 340
# (callgrind, the 1.9 KB of main/swap_math: 0.66M -> 0.09M instructions, of a first run
# of about 1.6M); interpreted, the loop costs more than the expression except on dense
# JUMPDESTs.
_COMPILED: Final = not isinstance(find_jumpdests, FunctionType)
# Whether frames check jumps with a JumpTable (CodeAnalysis.jump_check).
JUMP_TABLES: Final = _COMPILED


# Byte -> 1 for JUMPDEST's opcode, 0 for any other (bytes.translate's table).
_JUMPDEST_FLAGS: Final = bytes(int(b == 0x5B) for b in range(256))


class JumpTable:
    """A code's JUMPDESTs as one byte a code position (1 for a JUMPDEST), for the jump
    checks of the native build (`CodeAnalysis.jump_check`).

    A destination read off the stack is a new int object, so finding it in a set costs
    its hash and an int comparison with the set's own object, about 350 CPU instructions
    through mypyc's generic calls; this is an index (docs/performance.md, "jump
    destinations by index in the native build"). Interpreted, the set is the faster."""

    __slots__ = ("flags", "jumpdests", "padded")

    def __init__(self, jumpdests: frozenset[int], padded: bytes) -> None:
        self.jumpdests = jumpdests
        self.padded = padded
        # Made at the first check, so that code which never jumps (long straight-line
        # code, say) never pays for it; never empty once made (the padding is in it).
        self.flags = b""

    def __contains__(self, pc: int) -> bool:
        return self.holds(pc)

    def holds(self, pc: int) -> bool:
        """`pc in self`, callable with a C integer in the native build (no int object)."""
        flags = self.flags
        if pc < len(flags):
            return pc >= 0 and flags[pc] != 0
        if len(flags) == 0:
            self._make_flags()
            return self.holds(pc)
        return False

    def _make_flags(self) -> None:
        padded = self.padded
        jumpdests = self.jumpdests
        if padded.count(0x5B) == len(jumpdests):
            # No 0x5B byte in PUSH data (most small codes): every one is a JUMPDEST.
            flags = padded.translate(_JUMPDEST_FLAGS)
        else:
            table = bytearray(len(padded))
            for pc in jumpdests:
                table[pc] = 1
            flags = bytes(table)
        self.flags = flags


class CodeAnalysis:
    """What the executors need to know about a code, computed once per code (see analyse).

    `push_values` is a PushValues (decoded on demand: code run once pays only for the
    PUSHes it executes; the executors read PUSH1 and PUSH2 from the code itself).
    `jump_check` is what the executors test a jump's destination with: `jumpdests`
    itself in the pure package, a JumpTable in the native build."""

    __slots__ = ("compiled", "entries", "heat", "jump_check", "jumpdests", "padded",
                 "push_values", "size")

    def __init__(self, code: bytes) -> None:
        n = len(code)
        self.size = n
        padded = code + CODE_PADDING
        self.padded = padded
        jumpdests = self.jumpdests = find_jumpdests(padded, n)
        self.jump_check: JumpTable | frozenset[int] = (
            JumpTable(jumpdests, padded) if _COMPILED else jumpdests)
        self.push_values = PushValues(padded)
        self.entries = 0  # frames started on this code, for the compiled tier's threshold
        # Backward jumps to each loop head, indexed by its pc (compiled tier, see
        # _count_loop_head): made at the code's first backward jump, so only codes that
        # loop pay for it (8 bytes a code byte, within the cache's 16 MiB of code).
        self.heat: list[int] = []
        # The compiled tier's blocks for this code, per fork's opcode tables (compiler.py).
        self.compiled: dict[OpcodeTables, CompiledCode] = {}


_cache: dict[bytes, CodeAnalysis] = {}
# An analysis holds the code's jump destinations and the PUSH immediates run so far, plus
# the compiled tier's data, so the cache is bounded by the code it holds; a code bigger
# than MAX_CACHED_CODE (only init code before EIP-3860 can be) is analysed each time.
_CACHE_LIMIT: Final = 4096
_CACHE_BYTES: Final = 16 << 20
MAX_CACHED_CODE: Final = 1 << 20
_cached_bytes = 0
# The cache's lookup (the dict is cleared, never replaced): Frame's inline fast path for a
# code found there, without the call of `analyse`.
cached_analysis = _cache.get


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
