"""Signatures as the chain uses them.

A typed signature is one type byte (1 = secp256k1, 2 = BLS) followed by the
signature. secp256k1 signatures are 65 bytes ``r || s || v`` over the
blake2b-256 digest of the data; the signer is checked by recovering the
public key and hashing it into an f1 address. BLS is not available without
a pairing library, so BLS signatures never verify here.
"""

from __future__ import annotations

import hashlib

from chainvm.fvm.address import SECP256K1, Address

SIG_SECP256K1 = 1
SIG_BLS = 2


def secp256k1_recover(sig65: bytes, digest: bytes) -> bytes | None:
    """Uncompressed public key (65 bytes) that produced sig65 over digest."""
    if len(sig65) != 65 or sig65[64] > 3:
        return None
    from coincurve import PublicKey

    try:
        pub = PublicKey.from_signature_and_message(sig65, digest, hasher=None)
    except ValueError:  # coincurve reports unrecoverable signatures this way
        return None
    return pub.format(compressed=False)


def secp256k1_sign(private_key: bytes, data: bytes) -> bytes:
    """Typed secp256k1 signature of data (for tests and the Python API)."""
    from coincurve import PrivateKey

    digest = hashlib.blake2b(data, digest_size=32).digest()
    sig = PrivateKey(private_key).sign_recoverable(digest, hasher=None)
    return bytes([SIG_SECP256K1]) + sig


def secp256k1_address(private_key: bytes) -> Address:
    from coincurve import PrivateKey

    return Address.new_secp256k1(PrivateKey(private_key).public_key.format(compressed=False))


def verify_signature(sig: bytes, signer: Address, data: bytes) -> bool:
    if not sig:
        return False
    if sig[0] == SIG_SECP256K1:
        if signer.protocol != SECP256K1:
            return False
        digest = hashlib.blake2b(data, digest_size=32).digest()
        pub = secp256k1_recover(sig[1:], digest)
        return pub is not None and Address.new_secp256k1(pub) == signer
    return False
