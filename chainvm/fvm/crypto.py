"""Signatures as the chain uses them.

A typed signature is one type byte (1 = secp256k1, 2 = BLS) followed by the
signature. secp256k1 signatures are 65 bytes ``r || s || v`` over the
blake2b-256 digest of the data; the signer is checked by recovering the
public key and hashing it into an f1 address. BLS signatures are 96-byte G2
points over the raw data, with the public key (a 48-byte G1 point) in the f3
address: the "basic" BLS scheme (minimal public key size, hash to G2 with the
NUL domain separation tag), checked with a pairing through the project's
BLS12-381 library.
"""

from __future__ import annotations

import hashlib

from chainvm.fvm.address import BLS, SECP256K1, Address

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
    if sig[0] == SIG_BLS:
        if signer.protocol != BLS:
            return False
        return bls_verify(sig[1:], signer.payload, data)
    return False


BLS_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"


def bls_verify(sig96: bytes, pubkey48: bytes, data: bytes) -> bool:
    """e(pk, H(data)) == e(g1, sig), with both points checked to be in their
    prime-order subgroups (decompression does it)."""
    if len(sig96) != 96 or len(pubkey48) != 48:
        return False
    from py_arkworks_bls12381 import GT, G1Point, G2Point

    try:
        pub = G1Point.from_compressed_bytes(pubkey48)
        sig = G2Point.from_compressed_bytes(sig96)
    except (ValueError, TypeError):  # not a point, or not in the subgroup
        return False
    if pub == G1Point.identity():
        return False
    return bool(GT.pairing(pub, G2Point.hash_to_curve(data, BLS_DST)) == GT.pairing(G1Point(), sig))


def bls_sign(secret: int, data: bytes) -> bytes:
    """Typed BLS signature of data (for tests and the Python API)."""
    from py_arkworks_bls12381 import G2Point, Scalar

    point = G2Point.hash_to_curve(data, BLS_DST) * Scalar(secret)
    return bytes([SIG_BLS]) + bytes(point.to_compressed_bytes())


def bls_address(secret: int) -> Address:
    from py_arkworks_bls12381 import G1Point, Scalar

    return Address.new_bls(bytes((G1Point() * Scalar(secret)).to_compressed_bytes()))
