"""Blob sidecars: the blobs, KZG commitments and proofs a blob transaction travels with.

In a block a blob transaction carries only the versioned hashes of its blobs.
Between peers and into the pool it travels wrapped with its sidecar:

  EIP-4844:  0x03 || rlp([tx fields, blobs, commitments, proofs])       one proof per blob
  EIP-7594:  0x03 || rlp([tx fields, 1, blobs, commitments, cell proofs])  128 per blob (Osaka)

`verify_sidecar` checks that the counts agree, that each versioned hash is the
commitment's (sha256 with the version byte 0x01) and that the proofs verify.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainvm.chain.transactions import (
    InvalidTransaction,
    SignedTransaction,
    TxDecodeError,
    from_fields,
)
from chainvm.encoding.rlp import RLPError, decode, encode
from chainvm.evm.precompiles.kzg import kzg_to_versioned_hash, trusted_setup

BYTES_PER_BLOB = 131072
CELLS_PER_EXT_BLOB = 128
WRAPPER_VERSION_CELL_PROOFS = 1


@dataclass
class BlobSidecar:
    blobs: list[bytes]
    commitments: list[bytes]
    proofs: list[bytes]
    version: int = 0  # 0: one blob proof per blob; 1: cell proofs (EIP-7594)


def make_sidecar(blobs: list[bytes], version: int = 0) -> BlobSidecar:
    """Compute commitments and proofs for `blobs`."""
    import ckzg

    setup = trusted_setup()
    commitments = [ckzg.blob_to_kzg_commitment(b, setup) for b in blobs]
    proofs: list[bytes] = []
    for blob, commitment in zip(blobs, commitments):
        if version == WRAPPER_VERSION_CELL_PROOFS:
            proofs.extend(ckzg.compute_cells_and_kzg_proofs(blob, setup)[1])
        else:
            proofs.append(ckzg.compute_blob_kzg_proof(blob, commitment, setup))
    return BlobSidecar(list(blobs), commitments, proofs, version)


def versioned_hashes(sidecar: BlobSidecar) -> list[bytes]:
    return [kzg_to_versioned_hash(c) for c in sidecar.commitments]


def verify_sidecar(tx: SignedTransaction, sidecar: BlobSidecar) -> None:
    """Raise InvalidTransaction unless `sidecar` belongs to `tx` and its proofs verify."""
    import ckzg

    n = len(tx.blob_versioned_hashes)
    if not (len(sidecar.blobs) == len(sidecar.commitments) == n):
        raise InvalidTransaction(f"sidecar has {len(sidecar.blobs)} blobs and "
                        f"{len(sidecar.commitments)} commitments for {n} blob hashes")
    per_blob = CELLS_PER_EXT_BLOB if sidecar.version == WRAPPER_VERSION_CELL_PROOFS else 1
    if len(sidecar.proofs) != n * per_blob:
        raise InvalidTransaction(f"sidecar has {len(sidecar.proofs)} proofs, want {n * per_blob}")
    if any(len(b) != BYTES_PER_BLOB for b in sidecar.blobs):
        raise InvalidTransaction("sidecar blob of the wrong size")
    if any(len(c) != 48 for c in sidecar.commitments) or any(len(p) != 48
                                                             for p in sidecar.proofs):
        raise InvalidTransaction("sidecar commitment or proof of the wrong size")
    if versioned_hashes(sidecar) != tx.blob_versioned_hashes:
        raise InvalidTransaction("blob versioned hashes do not match the sidecar commitments")
    setup = trusted_setup()
    try:
        if sidecar.version == WRAPPER_VERSION_CELL_PROOFS:
            cells: list[bytes] = []
            for blob in sidecar.blobs:
                cells.extend(ckzg.compute_cells(blob, setup))
            commitments = [c for c in sidecar.commitments for _ in range(CELLS_PER_EXT_BLOB)]
            indices = list(range(CELLS_PER_EXT_BLOB)) * n
            ok = ckzg.verify_cell_kzg_proof_batch(commitments, indices, cells, sidecar.proofs,
                                                  setup)
        else:
            ok = ckzg.verify_blob_kzg_proof_batch(b"".join(sidecar.blobs),
                                                  b"".join(sidecar.commitments),
                                                  b"".join(sidecar.proofs), setup)
    except Exception as exc:  # noqa: BLE001 - ckzg reports malformed points this way
        raise InvalidTransaction(f"invalid blob proof: {exc}") from None
    if not ok:
        raise InvalidTransaction("blob proofs do not verify")


def encode_pooled(tx: SignedTransaction, sidecar: BlobSidecar) -> bytes:
    """The network form of a blob transaction with its sidecar."""
    if tx.tx_type != 3:
        raise InvalidTransaction("only blob transactions have sidecars")
    items: list[object] = [tx.payload()]
    if sidecar.version:
        items.append(sidecar.version)
    items += [list(sidecar.blobs), list(sidecar.commitments), list(sidecar.proofs)]
    return b"\x03" + encode(items)


def decode_pooled(data: bytes) -> tuple[SignedTransaction, BlobSidecar | None]:
    """Decode a transaction as received from a peer: a blob one may carry its sidecar."""
    from chainvm.chain.transactions import decode_transaction

    if data[:1] != b"\x03":
        return decode_transaction(data), None
    try:
        item = decode(data[1:])
    except RLPError as exc:
        raise TxDecodeError(f"bad RLP: {exc}") from None
    if not isinstance(item, list) or not item or not isinstance(item[0], list):
        return decode_transaction(data), None
    tx = from_fields(3, item[0])
    rest = item[1:]
    version = 0
    if len(rest) == 4:
        if rest[0] != bytes([WRAPPER_VERSION_CELL_PROOFS]):
            raise TxDecodeError("unknown blob sidecar wrapper version")
        version = WRAPPER_VERSION_CELL_PROOFS
        rest = rest[1:]
    if len(rest) != 3 or not all(isinstance(x, list) for x in rest):
        raise TxDecodeError("blob transaction wrapper: expected blobs, commitments and proofs")
    lists: list[list[bytes]] = []
    for x in rest:
        assert isinstance(x, list)
        if not all(isinstance(e, bytes) for e in x):
            raise TxDecodeError("blob sidecar entries must be strings")
        lists.append([e for e in x if isinstance(e, bytes)])
    return tx, BlobSidecar(lists[0], lists[1], lists[2], version)
