"""The checks the VM delegates to its host: signatures and proofs.

lotus gives actors a set of syscalls (VerifySignature, VerifySeal,
BatchVerifySeals, VerifyPoSt, ComputeUnsealedSectorCID,
VerifyConsensusFault); the runtime charges their gas and asks the
``Verifier`` for the answer. Signatures are verified for real (secp256k1
through coincurve, BLS through the BLS12-381 pairing library). There is no
SNARK verifier here, so ``ConformanceVerifier`` accepts the Groth16 proofs
inside seal and window PoSt proofs; it does check a window PoSt's shape:
exactly one proof, of a window PoSt type, holding one 192-byte Groth16
proof per partition of challenged sectors (the real verifier reads exactly
that many and would fail on any other set). Pass another ``Verifier`` to
``VM`` to verify differently.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.address import Address
from chainvm.fvm.codec import CID

GROTH16_PROOF_SIZE = 192
# sectors per window PoSt partition, by registered window PoSt proof type
WINDOW_POST_PARTITION_SECTORS = {5: 2, 6: 2, 7: 2, 8: 2349, 9: 2300}


class Verifier:
    """Accepts every proof; signatures are checked for real."""

    def verify_signature(self, sig: bytes, signer: Address, data: bytes) -> bool:
        """``sig`` is typed (type byte then data); ``signer`` a key address."""
        from chainvm.fvm.crypto import verify_signature

        return verify_signature(sig, signer, data)

    def verify_seal(self, info: list[Any]) -> bool:
        """A SealVerifyInfo tuple (proof type, sector ID, deals, randomness,
        interactive randomness, proof, CommR, CommD)."""
        return True

    def verify_post(self, proofs: list[Any], challenged: list[Any], randomness: bytes) -> bool:
        """``proofs`` are [proof type, bytes] pairs; ``challenged`` the
        [seal proof, sector number, CommR] of every challenged sector."""
        return True

    def compute_unsealed_sector_cid(self, seal_proof: int, pieces: list[tuple[CID, int]]) -> CID:
        from chainvm.fvm.proofs import (
            SEAL_PROOF_SECTOR_SIZE,
            CommitmentError,
            unsealed_sector_commitment,
        )

        size = SEAL_PROOF_SECTOR_SIZE.get(seal_proof)
        if size is None:
            raise CommitmentError(f"unknown seal proof {seal_proof}")
        return unsealed_sector_commitment(size, pieces)


class ConformanceVerifier(Verifier):
    """What the test-vector runner and the Python API use by default."""

    def verify_post(self, proofs: list[Any], challenged: list[Any], randomness: bytes) -> bool:
        if len(proofs) != 1 or not isinstance(proofs[0], list) or len(proofs[0]) != 2:
            return False
        proof_type, data = proofs[0]
        per_partition = WINDOW_POST_PARTITION_SECTORS.get(proof_type)
        if per_partition is None or not isinstance(data, bytes):
            return False
        partitions = -(-len(challenged) // per_partition)
        return len(data) == partitions * GROTH16_PROOF_SIZE
