"""Hashing and signature helpers shared by the EVM and the chain code."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable

from coincurve import PrivateKey, PublicKey

try:
    # The native build's Keccak-256 (chainvm/_keccak.c, built with CHAINVM_MYPYC=1): the
    # same digests, faster where the CPU has BMI2, and one call per hash.
    from chainvm._keccak import keccak256, keccak256_parts
except ImportError:
    # safe-pysha3: native Keccak-256 (hashlib's sha3_256 is NIST SHA-3, a different hash)
    import sha3

    _keccak = sha3.keccak_256

    def keccak256(data: bytes | bytearray | memoryview, /) -> bytes:
        return _keccak(data).digest()

    def keccak256_parts(parts: Iterable[bytes | bytearray | memoryview], /) -> bytes:
        """keccak256 of the concatenation of `parts`, without building it (for long data)."""
        h = _keccak()
        for part in parts:
            h.update(part)
        return h.digest()


EMPTY_KECCAK = keccak256(b"")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def private_key_to_address(secret: bytes) -> bytes:
    # PublicKey.from_secret, not PrivateKey(secret).public_key: a PrivateKey also builds
    # the keypair Schnorr signing uses, which doubles the cost (20 against 39 us here).
    pub = PublicKey.from_secret(secret).format(compressed=False)
    return keccak256(pub[1:])[12:]


def ecrecover_address(msg_hash: bytes, v: int, r: int, s: int) -> bytes | None:
    """Recover the signer address; v is the recovery id (0 or 1). None when invalid."""
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N) or v not in (0, 1):
        return None
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    try:
        pub = PublicKey.from_signature_and_message(sig, msg_hash, hasher=None)
    except Exception:  # noqa: BLE001 - coincurve raises a bare Exception here
        return None
    return keccak256(pub.format(compressed=False)[1:])[12:]


@functools.lru_cache(maxsize=256)
def _signing_key(secret: bytes) -> PrivateKey:
    # Making a key derives its public key, as long as the signature itself: dev chains and
    # test tools sign with the same few keys over and over.
    return PrivateKey(secret)


def sign_hash(msg_hash: bytes, secret: bytes) -> tuple[int, int, int]:
    """Sign a 32-byte hash; returns (recovery id, r, s) with low s."""
    sig = _signing_key(bytes(secret)).sign_recoverable(msg_hash, hasher=None)
    return sig[64], int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
