"""P256VERIFY (0x100, EIP-7951, Osaka): secp256r1 signature verification through OpenSSL.

Any malformed or invalid input returns empty output (not an error): the
caller pays the fixed price either way.
"""

from __future__ import annotations

from functools import cache
from typing import Any

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_A = P256_P - 3
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
G_P256VERIFY = 6900
_VALID = (1).to_bytes(32, "big")


@cache
def _openssl() -> tuple[Any, ...]:
    """OpenSSL's bindings, imported on the first call (they cost a process that never
    verifies a P-256 signature a tenth of its start-up)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

    return InvalidSignature, ec, encode_dss_signature, ec.ECDSA(Prehashed(hashes.SHA256()))


def p256verify_gas(data: bytes) -> int:
    return G_P256VERIFY


def p256verify(data: bytes) -> bytes:
    if len(data) != 160:
        return b""
    msg_hash = bytes(data[:32])
    r = int.from_bytes(data[32:64], "big")
    s = int.from_bytes(data[64:96], "big")
    x = int.from_bytes(data[96:128], "big")
    y = int.from_bytes(data[128:160], "big")
    if not (0 < r < P256_N and 0 < s < P256_N and x < P256_P and y < P256_P):
        return b""
    if (y * y - (x * x * x + P256_A * x + P256_B)) % P256_P:
        return b""  # not on the curve (this also rejects the (0, 0) encoding of infinity)
    invalid_signature, ec, encode_dss_signature, algorithm = _openssl()
    try:
        key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        key.verify(encode_dss_signature(r, s), msg_hash, algorithm)
    except (invalid_signature, ValueError):
        return b""
    return _VALID
