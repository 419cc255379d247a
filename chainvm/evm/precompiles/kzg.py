"""KZG point evaluation (0x0a, EIP-4844) through ckzg, with the mainnet trusted setup."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from chainvm.evm.errors import PrecompileFailure

FIELD_ELEMENTS_PER_BLOB = 4096
BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
VERSIONED_HASH_VERSION_KZG = 1
_SUCCESS = FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + BLS_MODULUS.to_bytes(32, "big")
_SETUP_PATH = Path(__file__).with_name("kzg_trusted_setup.txt")
_setup: Any = None


def trusted_setup() -> Any:
    """Load the setup on first use: it takes over a second, and most runs never need it."""
    global _setup
    if _setup is None:
        import ckzg

        _setup = ckzg.load_trusted_setup(str(_SETUP_PATH), 0)
    return _setup


def kzg_to_versioned_hash(commitment: bytes) -> bytes:
    return bytes([VERSIONED_HASH_VERSION_KZG]) + hashlib.sha256(commitment).digest()[1:]


def point_evaluation_gas(data: bytes) -> int:
    return 50000


def point_evaluation(data: bytes) -> bytes:
    if len(data) != 192:
        raise PrecompileFailure("point evaluation: input must be 192 bytes")
    versioned_hash = data[:32]
    z = data[32:64]
    y = data[64:96]
    commitment = data[96:144]
    proof = data[144:192]
    if kzg_to_versioned_hash(commitment) != versioned_hash:
        raise PrecompileFailure("point evaluation: versioned hash mismatch")
    import ckzg

    try:
        ok = ckzg.verify_kzg_proof(commitment, z, y, proof, trusted_setup())
    except Exception as exc:  # noqa: BLE001 - ckzg reports malformed input this way
        raise PrecompileFailure(f"point evaluation: {exc}") from None
    if not ok:
        raise PrecompileFailure("point evaluation: proof does not verify")
    return _SUCCESS
