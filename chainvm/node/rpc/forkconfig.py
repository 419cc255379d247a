"""eth_config (EIP-7910): the chain's current, next and last fork configurations.

Each configuration names the fork's precompiles and system contracts by EIP-7910's names,
its blob schedule (null before Cancun, which has none), the chain id and its fork hash
(EIP-6122: the CRC32 of the genesis hash and every activation after genesis up to it).
"""

from __future__ import annotations

import zlib
from typing import Any

from chainvm.chain.config import ChainConfig
from chainvm.chain.processing import (
    BEACON_ROOTS_ADDRESS,
    CONSOLIDATION_REQUEST_ADDRESS,
    DEPOSIT_CONTRACT_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    WITHDRAWAL_REQUEST_ADDRESS,
)
from chainvm.evm.forks import Fork, get_fork

PRECOMPILE_NAMES = {
    1: "ECREC", 2: "SHA256", 3: "RIPEMD160", 4: "ID", 5: "MODEXP", 6: "BN254_ADD",
    7: "BN254_MUL", 8: "BN254_PAIRING", 9: "BLAKE2F", 10: "KZG_POINT_EVALUATION",
    11: "BLS12_G1ADD", 12: "BLS12_G1MSM", 13: "BLS12_G2ADD", 14: "BLS12_G2MSM",
    15: "BLS12_PAIRING_CHECK", 16: "BLS12_MAP_FP_TO_G1", 17: "BLS12_MAP_FP2_TO_G2",
    0x100: "P256VERIFY",
}


def _system_contracts(fork: Fork) -> dict[str, str]:
    rules = fork.rules
    named = {}
    if rules.eip4788:
        named["BEACON_ROOTS_ADDRESS"] = BEACON_ROOTS_ADDRESS
    if rules.eip2935:
        named["HISTORY_STORAGE_ADDRESS"] = HISTORY_STORAGE_ADDRESS
    if rules.eip7685:
        named["CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS"] = CONSOLIDATION_REQUEST_ADDRESS
        named["DEPOSIT_CONTRACT_ADDRESS"] = DEPOSIT_CONTRACT_ADDRESS
        named["WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS"] = WITHDRAWAL_REQUEST_ADDRESS
    return {name: "0x" + address.hex() for name, address in sorted(named.items())}


def _fork_config(fork: Fork, activation: int, chain_id: int, fork_hash: int
                 ) -> dict[str, Any]:
    precompiles = {PRECOMPILE_NAMES[n]: "0x" + address.hex()
                   for address in fork.precompiles
                   if (n := int.from_bytes(address, "big")) in PRECOMPILE_NAMES}
    blobs = {"baseFeeUpdateFraction": fork.blob_base_fee_update_fraction,
             "max": fork.blob_max, "target": fork.blob_target} if fork.rules.eip4844 else None
    return {"activationTime": activation, "blobSchedule": blobs, "chainId": hex(chain_id),
            "forkId": f"0x{fork_hash:08x}", "precompiles": dict(sorted(precompiles.items())),
            "systemContracts": _system_contracts(fork)}


def eth_config(config: ChainConfig, genesis_hash: bytes, genesis_time: int,
               current: Fork, now: int) -> dict[str, Any]:
    """{current, next, last} for a chain whose next block has fork `current` at time
    `now`: next and last are the time-scheduled forks still to come (null if none)."""
    fork_hash = zlib.crc32(genesis_hash)
    # EIP-2124: block-number forks after block 0 (the DAO fork's block among them), then
    # time forks after the genesis time; every block-number fork precedes a time fork
    blocks = sorted({start for start, _name in config.number_forks if start > 0}
                    | ({config.dao_block} if config.dao_block else set()))
    for start in blocks:
        fork_hash = zlib.crc32(start.to_bytes(8, "big"), fork_hash)
    activation = 0
    upcoming: list[tuple[Fork, int, int]] = []
    for start, name in config.time_forks:
        if start <= genesis_time:
            continue
        if start <= now:
            fork_hash = zlib.crc32(start.to_bytes(8, "big"), fork_hash)
            activation = start
        else:
            later = upcoming[-1][2] if upcoming else fork_hash
            upcoming.append((get_fork(name), start, zlib.crc32(start.to_bytes(8, "big"), later)))
    chain_id = config.chain_id
    return {"current": _fork_config(current, activation, chain_id, fork_hash),
            "next": _fork_config(*upcoming[0][:2], chain_id, upcoming[0][2])
            if upcoming else None,
            "last": _fork_config(*upcoming[-1][:2], chain_id, upcoming[-1][2])
            if upcoming else None}
