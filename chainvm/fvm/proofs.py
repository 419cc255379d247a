"""Piece and sector data commitments (CommP / CommD).

A commitment is the root of a binary Merkle tree over 32-byte nodes, each
parent being SHA-256 of its two children with the two top bits of the last
byte cleared (so that it fits the BLS12-381 field: "sha2-256-trunc254").
The unsealed sector CID of a set of pieces is the root over the whole
sector, with every piece at its (size-aligned) offset and zero-filled
space elsewhere, as lotus's ComputeUnsealedSectorCID syscall computes it.
"""

from __future__ import annotations

import hashlib
from functools import cache

from chainvm.fvm.codec import CID

UNSEALED_CID_CODEC = 0xF101  # fil-commitment-unsealed
SHA256_TRUNC254_PADDED = 0x1012
NODE_SIZE = 32

# sector size (bytes) of each registered seal proof, V1 (0-4) and V1_1 (5-9)
SEAL_PROOF_SECTOR_SIZE = {
    0: 2 << 10,
    1: 8 << 20,
    2: 512 << 20,
    3: 32 << 30,
    4: 64 << 30,
    5: 2 << 10,
    6: 8 << 20,
    7: 512 << 20,
    8: 32 << 30,
    9: 64 << 30,
}


class CommitmentError(ValueError):
    pass


def hash_pair(left: bytes, right: bytes) -> bytes:
    digest = bytearray(hashlib.sha256(left + right).digest())
    digest[31] &= 0x3F
    return bytes(digest)


@cache
def zero_commitment(size: int) -> bytes:
    """Root of ``size`` padded bytes of zeros (``size`` a power of two >= 32)."""
    if size == NODE_SIZE:
        return bytes(NODE_SIZE)
    half = zero_commitment(size // 2)
    return hash_pair(half, half)


def piece_commitment(cid: CID) -> bytes:
    if cid.codec != UNSEALED_CID_CODEC or cid.mh_code != SHA256_TRUNC254_PADDED:
        raise CommitmentError(f"{cid} is not a piece commitment")
    if len(cid.digest) != NODE_SIZE:
        raise CommitmentError("piece commitment must be 32 bytes")
    return cid.digest


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def unsealed_sector_commitment(sector_size: int, pieces: list[tuple[CID, int]]) -> CID:
    """CommD of a sector holding ``pieces`` ((piece CID, padded size), in
    order), each placed at the next offset aligned to its size."""
    placed: dict[tuple[int, int], bytes] = {}
    offset = 0
    for cid, size in pieces:
        if not _is_power_of_two(size) or size < 128:
            raise CommitmentError(f"invalid padded piece size {size}")
        offset = -(-offset // size) * size  # zero padding up to alignment
        placed[(offset, size)] = piece_commitment(cid)
        offset += size
    if offset > sector_size:
        raise CommitmentError("pieces do not fit in the sector")

    def root(start: int, size: int) -> bytes:
        found = placed.get((start, size))
        if found is not None:
            return found
        if not any(start <= s < start + size for s, _ in placed):
            return zero_commitment(size)
        if size == NODE_SIZE:
            raise CommitmentError("pieces overlap")
        half = size // 2
        return hash_pair(root(start, half), root(start + half, half))

    return CID(UNSEALED_CID_CODEC, SHA256_TRUNC254_PADDED, root(0, sector_size))
