"""Piece and sector data commitments (CommD)."""

from __future__ import annotations

import pytest

from chainvm.fvm.codec import CID
from chainvm.fvm.proofs import (
    SHA256_TRUNC254_PADDED,
    UNSEALED_CID_CODEC,
    CommitmentError,
    hash_pair,
    unsealed_sector_commitment,
    zero_commitment,
)


def _piece(digest: bytes) -> CID:
    return CID(UNSEALED_CID_CODEC, SHA256_TRUNC254_PADDED, digest)


def test_empty_32gib_sector_is_the_well_known_zero_commd() -> None:
    # the CommD every committed-capacity 32 GiB sector carries on chain
    assert str(unsealed_sector_commitment(32 << 30, [])) == (
        "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"
    )


def test_hash_pair_truncates_to_254_bits() -> None:
    assert all(hash_pair(bytes([i]) * 32, bytes(32))[31] < 0x40 for i in range(32))


def test_pieces_are_aligned_and_zero_padded() -> None:
    a, b = bytes([1]) * 32, bytes([2]) * 32
    # a 128-byte piece, then a 256-byte one: the second starts at 256, with
    # 128 bytes of zero padding between them
    got = unsealed_sector_commitment(1024, [(_piece(a), 128), (_piece(b), 256)])
    left = hash_pair(hash_pair(a, zero_commitment(128)), b)
    want = hash_pair(left, zero_commitment(512))
    assert got.digest == want


def test_a_piece_filling_the_sector_is_its_commd() -> None:
    a = bytes([7]) * 32
    assert unsealed_sector_commitment(2048, [(_piece(a), 2048)]).digest == a


@pytest.mark.parametrize(
    "pieces",
    [
        [(bytes(32), 100)],  # not a power of two
        [(bytes(32), 2048), (bytes(32), 128)],  # does not fit
    ],
)
def test_bad_pieces(pieces: list[tuple[bytes, int]]) -> None:
    with pytest.raises(CommitmentError):
        unsealed_sector_commitment(2048, [(_piece(d), n) for d, n in pieces])


def test_not_a_piece_cid() -> None:
    with pytest.raises(CommitmentError):
        unsealed_sector_commitment(2048, [(CID(0x71, 0x12, bytes(32)), 128)])
