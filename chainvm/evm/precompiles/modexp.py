"""MODEXP (0x05): EIP-198 pricing, EIP-2565 repricing from Berlin."""

from __future__ import annotations

from chainvm.evm.bigint import powmod
from chainvm.evm.errors import PrecompileFailure


def _field(data: bytes, start: int, size: int) -> int:
    """Big-endian integer of data[start:start+size], zero-padded past the end."""
    if start >= len(data) or size == 0:
        return 0
    chunk = data[start:start + size]
    return int.from_bytes(chunk, "big") << (8 * (size - len(chunk)))


def _lengths(data: bytes) -> tuple[int, int, int]:
    return _field(data, 0, 32), _field(data, 32, 32), _field(data, 64, 32)


def _adjusted_exponent_length(data: bytes, base_len: int, exp_len: int) -> int:
    head_len = min(exp_len, 32)
    head = _field(data, 96 + base_len, head_len) if base_len < (1 << 64) else 0
    if exp_len <= 32:
        return head.bit_length() - 1 if head else 0
    return 8 * (exp_len - 32) + (head.bit_length() - 1 if head else 0)


def gas_eip198(data: bytes) -> int:
    base_len, exp_len, mod_len = _lengths(data)
    x = max(base_len, mod_len)
    if x <= 64:
        complexity = x * x
    elif x <= 1024:
        complexity = x * x // 4 + 96 * x - 3072
    else:
        complexity = x * x // 16 + 480 * x - 199680
    adjusted = _adjusted_exponent_length(data, base_len, exp_len)
    return complexity * max(adjusted, 1) // 20


def gas_eip2565(data: bytes) -> int:
    base_len, exp_len, mod_len = _lengths(data)
    words = (max(base_len, mod_len) + 7) >> 3
    complexity = words * words
    adjusted = _adjusted_exponent_length(data, base_len, exp_len)
    return max(200, complexity * max(adjusted, 1) // 3)


def gas_eip7883(data: bytes) -> int:
    base_len, exp_len, mod_len = _lengths(data)
    if base_len > MAX_INPUT_LENGTH or exp_len > MAX_INPUT_LENGTH or mod_len > MAX_INPUT_LENGTH:
        return 0  # rejected by run_eip7823, which burns the call's gas
    longest = max(base_len, mod_len)
    words = (longest + 7) >> 3
    complexity = 2 * words * words if longest > 32 else 16
    head = _field(data, 96 + base_len, min(exp_len, 32))
    if exp_len <= 32:
        iterations = head.bit_length() - 1 if head else 0
    else:  # EIP-7883 doubles the per-byte weight of long exponents (16 instead of 8)
        iterations = 16 * (exp_len - 32) + (head.bit_length() - 1 if head else 0)
    return max(500, complexity * max(iterations, 1))


MAX_INPUT_LENGTH = 1024  # EIP-7823


def run_eip7823(data: bytes) -> bytes:
    base_len, exp_len, mod_len = _lengths(data)
    if base_len > MAX_INPUT_LENGTH or exp_len > MAX_INPUT_LENGTH or mod_len > MAX_INPUT_LENGTH:
        raise PrecompileFailure("modexp: input length above 1024 bytes (EIP-7823)")
    return run(data)


def run(data: bytes) -> bytes:
    base_len, exp_len, mod_len = _lengths(data)
    if base_len == 0 and mod_len == 0:
        return b""
    # Gas has already been charged, so these lengths are affordable.
    base = _field(data, 96, base_len)
    exponent = _field(data, 96 + base_len, exp_len)
    modulus = _field(data, 96 + base_len + exp_len, mod_len)
    if modulus == 0:
        return bytes(mod_len)
    return powmod(base, exponent, modulus).to_bytes(mod_len, "big")  # GMP where installed
