"""Block and transaction context visible to the EVM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chainvm.crypto import keccak256


def statetest_block_hash(number: int) -> bytes:
    """The BLOCKHASH convention of geth's state-test runner: keccak of the decimal number."""
    return keccak256(str(number).encode())


@dataclass
class BlockEnv:
    coinbase: bytes = bytes(20)
    number: int = 0
    timestamp: int = 0
    gas_limit: int = 30_000_000
    difficulty: int = 0
    prev_randao: bytes = bytes(32)
    base_fee: int = 0
    chain_id: int = 1
    excess_blob_gas: int = 0
    parent_beacon_block_root: bytes | None = None
    block_hash: Callable[[int], bytes] = field(default=statetest_block_hash)
