"""ECRECOVER (0x01), SHA256 (0x02), RIPEMD160 (0x03), IDENTITY (0x04), BLAKE2F (0x09)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from chainvm.crypto import ecrecover_address
from chainvm.evm.errors import PrecompileFailure


def _words(data: bytes) -> int:
    return (len(data) + 31) >> 5


def ecrecover_gas(data: bytes) -> int:
    return 3000


def ecrecover(data: bytes) -> bytes:
    data = data[:128].ljust(128, b"\x00")
    v = int.from_bytes(data[32:64], "big")
    if v not in (27, 28):
        return b""
    address = ecrecover_address(data[:32], v - 27, int.from_bytes(data[64:96], "big"),
                                int.from_bytes(data[96:128], "big"))
    if address is None:
        return b""
    return bytes(12) + address


def ecrecover_with_overrides(overrides: Mapping[bytes, bytes]) -> Callable[[bytes], bytes]:
    """ECRECOVER for a dev node's anvil_impersonateSignature: a signature in `overrides`
    (r, s and the last byte of v, 65 bytes, as anvil keys them) recovers to its address;
    any other input is ECRECOVER's. Same gas."""

    def run(data: bytes) -> bytes:
        padded = data[:128].ljust(128, b"\x00")
        address = overrides.get(padded[64:128] + padded[63:64])
        return bytes(12) + address if address is not None else ecrecover(data)

    return run


def sha256_gas(data: bytes) -> int:
    return 60 + 12 * _words(data)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ripemd160_gas(data: bytes) -> int:
    return 600 + 120 * _words(data)


def _ripemd160_digest(data: bytes) -> bytes:
    try:
        return hashlib.new("ripemd160", data).digest()
    except ValueError:  # OpenSSL 3 may not provide it; pycryptodome always does
        from Crypto.Hash import RIPEMD160

        return RIPEMD160.new(data).digest()


def ripemd160(data: bytes) -> bytes:
    return bytes(12) + _ripemd160_digest(data)


def identity_gas(data: bytes) -> int:
    return 15 + 3 * _words(data)


def identity(data: bytes) -> bytes:
    return bytes(data)


def blake2f_gas(data: bytes) -> int:
    # EIP-152: one gas per round; malformed input fails in the run function.
    if len(data) != 213:
        return 0
    return int.from_bytes(data[:4], "big")


# blake2b-py's compression function, imported on the first BLAKE2F call: the import
# costs about 0.6 ms, which every process choosing a fork paid while few ever call 0x09.
_compress: Callable[[bytes], bytes] | None = None


def blake2f(data: bytes) -> bytes:
    global _compress
    if len(data) != 213:
        raise PrecompileFailure("blake2f: input must be 213 bytes")
    if data[212] > 1:
        raise PrecompileFailure("blake2f: final block flag must be 0 or 1")
    if _compress is None:
        from blake2b import decode_and_compress

        _compress = decode_and_compress
    return bytes(_compress(bytes(data)))
