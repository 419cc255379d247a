"""Signature checks for real and the conformance verifier's PoSt shape rule."""

from __future__ import annotations

import pytest

from chainvm.fvm.address import Address
from chainvm.fvm.crypto import SIG_BLS, bls_address, bls_sign, verify_signature
from chainvm.fvm.verifier import ConformanceVerifier, Verifier


def test_bls_against_an_independent_implementation() -> None:
    """py_ecc's G2Basic is the same scheme (minimal public keys, NUL tag)."""
    bls = pytest.importorskip("py_ecc.bls").G2Basic
    secret = 0x1234_5678_9ABC_DEF0
    message = b"filecoin message cid"
    signer = Address.new_bls(bls.SkToPk(secret))
    assert signer == bls_address(secret)
    theirs = bytes([SIG_BLS]) + bls.Sign(secret, message)
    assert verify_signature(theirs, signer, message)
    ours = bls_sign(secret, message)
    assert bls.Verify(signer.payload, message, ours[1:])
    assert ours == theirs


def test_bls_rejections() -> None:
    secret = 77
    good = bls_sign(secret, b"m")
    signer = bls_address(secret)
    assert not verify_signature(good, signer, b"n")
    assert not verify_signature(good, bls_address(78), b"m")
    assert not verify_signature(good[:-1], signer, b"m")  # truncated
    assert not verify_signature(bytes([SIG_BLS]) + bytes(96), signer, b"m")  # not a point
    assert not verify_signature(b"", signer, b"m")


def _challenged(n: int) -> list[list[int]]:
    return [[3, i, 0] for i in range(n)]


@pytest.mark.parametrize(
    ("proofs", "challenged", "ok"),
    [
        ([[8, bytes(192)]], 1, True),
        ([[8, bytes(192)]], 2349, True),
        ([[8, bytes(192)]], 2350, False),  # two partitions need two proofs
        ([[8, bytes(384)]], 2350, True),
        ([[8, bytes(576)]], 4698, False),  # a proof of three for two partitions
        ([[9, bytes(192)]], 2300, True),  # 64 GiB: 2300 sectors per partition
        ([[3, bytes(192)]], 1, False),  # a seal proof type, not a window PoSt
        ([[8, bytes(192)], [8, bytes(192)]], 1, False),
        ([], 1, False),
    ],
)
def test_window_post_shape(proofs: list[list[object]], challenged: int, ok: bool) -> None:
    assert ConformanceVerifier().verify_post(proofs, _challenged(challenged), bytes(32)) is ok
    # the permissive base verifier accepts anything (a seam for tests)
    assert Verifier().verify_post(proofs, _challenged(challenged), bytes(32))
