"""Code analysis (chainvm/evm/analysis.py) against a byte-by-byte reference."""

from __future__ import annotations

import random

import pytest

from chainvm.evm.analysis import _COMPILED as COMPILED
from chainvm.evm.analysis import (
    CODE_PADDING,
    CodeAnalysis,
    JumpTable,
    analyse,
    find_jumpdests,
)


def reference(code: bytes) -> tuple[frozenset[int], dict[int, int]]:
    """JUMPDEST positions and PUSH immediates (zero-padded past the end), one byte at a time."""
    padded = code + CODE_PADDING
    jumpdests: set[int] = set()
    pushes: dict[int, int] = {}
    i = 0
    while i < len(code):
        op = code[i]
        if 0x60 <= op <= 0x7F:
            width = op - 0x5F
            pushes[i] = int.from_bytes(padded[i + 1:i + 1 + width], "big")
            i += width
        elif op == 0x5B:
            jumpdests.add(i)
        i += 1
    return frozenset(jumpdests), pushes


def random_code(rng: random.Random, size: int, jumpdest_share: float) -> bytes:
    out = bytearray()
    while len(out) < size:
        r = rng.random()
        if r < jumpdest_share:
            out.append(0x5B)
        elif r < jumpdest_share + 0.3:
            width = rng.choice([1, 1, 2, 4, 20, 32])
            # PUSH data full of the bytes that matter: JUMPDESTs and PUSH opcodes
            out.append(0x5F + width)
            out += bytes(rng.choice([0x5B, 0x60, 0x7F, 0x61, 0x00, 0xFF])
                         for _ in range(width))
        else:
            out.append(rng.randrange(256))
    return bytes(out[:size])  # the last PUSH may be cut short


@pytest.mark.parametrize("share", [0.0, 0.02, 0.2, 0.9])
def test_analysis_matches_the_reference(share: float) -> None:
    rng = random.Random(int(share * 100))
    for size in list(range(40)) + [rng.randrange(40, 3000) for _ in range(60)]:
        code = random_code(rng, size, share)
        jumpdests, pushes = reference(code)
        analysis = CodeAnalysis(code)
        assert analysis.jumpdests == jumpdests, code.hex()
        for pc, value in pushes.items():
            assert analysis.push_values[pc] == value, (code.hex(), pc)


def test_a_code_analysed_again_is_found_in_the_cache_with_its_push_values() -> None:
    """The analysis (and the PUSH immediates decoded so far) is shared by every frame on
    the same code: decoded once, on first use."""
    code = bytes([0x60, 7, 0x62, 1, 2, 3, 0x5B, 0x00]) + random.Random(5).randbytes(40)
    first = analyse(code)
    assert first.push_values[2] == 0x10203 and dict(first.push_values) == {2: 0x10203}
    for _ in range(10):
        assert analyse(code) is first
    assert analyse(bytes(bytearray(code))) is first  # by content, not identity


def test_jumpdests_in_push_data_and_cut_pushes() -> None:
    code = bytes([0x61, 0x5B, 0x5B, 0x5B, 0x7F]) + b"\x5b" * 10  # PUSH32 cut short
    assert find_jumpdests(code + CODE_PADDING, len(code)) == {3}
    assert CodeAnalysis(code).push_values[4] == int.from_bytes(b"\x5b" * 10 + bytes(22), "big")
    assert find_jumpdests(b"\x5b" * 5 + CODE_PADDING, 5) == set(range(5))  # the dense path
    assert find_jumpdests(CODE_PADDING, 0) == frozenset()


@pytest.mark.parametrize("share", [0.0, 0.02, 0.2])
def test_jump_table_agrees_with_the_jumpdests(share: float) -> None:
    """JumpTable (the native build's jump check) answers as the JUMPDEST set does for every
    position, negative ones and ones past the code (huge words too), whether or not the
    code has 0x5B bytes inside PUSH data (two ways of making the table)."""
    rng = random.Random(f"jump table {share}")
    exact = inexact = 0
    for size in list(range(12)) + [rng.randrange(12, 2000) for _ in range(40)]:
        code = random_code(rng, size, share)
        padded = code + CODE_PADDING
        jumpdests, _ = reference(code)
        table = JumpTable(jumpdests, padded)
        if padded.count(0x5B) == len(jumpdests):
            exact += 1
        else:
            inexact += 1
        probes = [-(2**256), -1, *range(len(padded) + 2), 2**63, 2**256 - 1]
        assert [pc in table for pc in probes] == [pc in jumpdests for pc in probes], code.hex()
        # the pure package checks jumps against the set itself, the native build the table
        check = CodeAnalysis(code).jump_check
        assert isinstance(check, JumpTable) if COMPILED else isinstance(check, frozenset)
        assert [pc in check for pc in probes] == [pc in jumpdests for pc in probes]
    assert exact and (inexact or share == 0.0)
