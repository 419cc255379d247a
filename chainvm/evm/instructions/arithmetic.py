"""Arithmetic (0x00-0x0b) and comparison/bitwise (0x10-0x1d) opcodes."""

from __future__ import annotations

from chainvm.evm.frame import Frame
from chainvm.evm.instructions.common import SIGN_BIT, TWO_256, UINT256_MASK, charge

M = UINT256_MASK


def op_add(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = (s.pop() + s[-1]) & M
    return pc + 1


def op_mul(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = (s.pop() * s[-1]) & M
    return pc + 1


def op_sub(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    s[-1] = (a - s[-1]) & M
    return pc + 1


def op_div(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    s[-1] = a // b if b else 0
    return pc + 1


def op_sdiv(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    if b == 0:
        s[-1] = 0
        return pc + 1
    negative = (a ^ b) & SIGN_BIT
    if a & SIGN_BIT:
        a = TWO_256 - a
    if b & SIGN_BIT:
        b = TWO_256 - b
    q = a // b
    s[-1] = ((TWO_256 - q) & M) if negative else q & M
    return pc + 1


def op_mod(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    s[-1] = a % b if b else 0
    return pc + 1


def op_smod(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    if b == 0:
        s[-1] = 0
        return pc + 1
    negative = a & SIGN_BIT
    if negative:
        a = TWO_256 - a
    if b & SIGN_BIT:
        b = TWO_256 - b
    r = a % b
    s[-1] = ((TWO_256 - r) & M) if negative else r
    return pc + 1


def op_addmod(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s.pop()
    n = s[-1]
    s[-1] = (a + b) % n if n else 0
    return pc + 1


def op_mulmod(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s.pop()
    n = s[-1]
    s[-1] = (a * b) % n if n else 0
    return pc + 1


def _make_exp(byte_gas: int, name: str):  # type: ignore[no-untyped-def]
    def op_exp(f: Frame, s: list[int], pc: int) -> int:
        base = s.pop()
        exponent = s[-1]
        if exponent:
            charge(f, byte_gas * ((exponent.bit_length() + 7) >> 3))
        s[-1] = pow(base, exponent, TWO_256)
        return pc + 1

    op_exp.__name__ = name
    return op_exp


op_exp_frontier = _make_exp(10, "op_exp_frontier")
op_exp_eip160 = _make_exp(50, "op_exp_eip160")  # EIP-160: 50 gas per exponent byte


def op_signextend(f: Frame, s: list[int], pc: int) -> int:
    b = s.pop()
    x = s[-1]
    if b < 31:
        bit = (b << 3) + 7
        mask = (1 << bit) - 1
        s[-1] = (x | (M ^ mask)) if (x >> bit) & 1 else (x & mask)
    return pc + 1


def op_lt(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    s[-1] = 1 if a < s[-1] else 0
    return pc + 1


def op_gt(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    s[-1] = 1 if a > s[-1] else 0
    return pc + 1


def op_slt(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop() ^ SIGN_BIT  # flipping the sign bit maps signed order onto unsigned order
    s[-1] = 1 if a < (s[-1] ^ SIGN_BIT) else 0
    return pc + 1


def op_sgt(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop() ^ SIGN_BIT
    s[-1] = 1 if a > (s[-1] ^ SIGN_BIT) else 0
    return pc + 1


def op_eq(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = 1 if s.pop() == s[-1] else 0
    return pc + 1


def op_iszero(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = 0 if s[-1] else 1
    return pc + 1


def op_and(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = s.pop() & s[-1]
    return pc + 1


def op_or(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = s.pop() | s[-1]
    return pc + 1


def op_xor(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = s.pop() ^ s[-1]
    return pc + 1


def op_not(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = M ^ s[-1]
    return pc + 1


def op_byte(f: Frame, s: list[int], pc: int) -> int:
    i = s.pop()
    s[-1] = (s[-1] >> (248 - (i << 3))) & 0xFF if i < 32 else 0
    return pc + 1


def op_shl(f: Frame, s: list[int], pc: int) -> int:  # EIP-145
    shift = s.pop()
    s[-1] = (s[-1] << shift) & M if shift < 256 else 0
    return pc + 1


def op_shr(f: Frame, s: list[int], pc: int) -> int:  # EIP-145
    shift = s.pop()
    s[-1] = s[-1] >> shift if shift < 256 else 0
    return pc + 1


def op_sar(f: Frame, s: list[int], pc: int) -> int:  # EIP-145
    shift = s.pop()
    value = s[-1]
    if value & SIGN_BIT:
        s[-1] = ((value - TWO_256) >> shift) & M if shift < 256 else M
    else:
        s[-1] = value >> shift if shift < 256 else 0
    return pc + 1


def op_clz(f: Frame, s: list[int], pc: int) -> int:  # EIP-7939 (Osaka)
    s[-1] = 256 - s[-1].bit_length()
    return pc + 1
