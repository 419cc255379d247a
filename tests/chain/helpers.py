"""Small chains for unit tests: funded keys, a genesis, signed transfers."""

from __future__ import annotations

from chainvm.chain.builder import BuildOptions, build_block, make_genesis
from chainvm.chain.chain import Chain
from chainvm.chain.config import config_for_network
from chainvm.chain.transactions import SignedTransaction
from chainvm.crypto import private_key_to_address
from chainvm.state.state import Account, State

KEYS = [bytes([i + 1]) * 32 for i in range(4)]
ADDRS = [private_key_to_address(k) for k in KEYS]
ETHER = 10**18


# Stand-ins for the system contracts (our own bytecode, not the deployed contracts):
# beacon roots stores calldata at slot TIMESTAMP, history stores it at slot NUMBER - 1,
# the withdrawal-request contract returns 0xaabbccdd, the consolidation one returns nothing.
SYSTEM_STANDINS = {
    bytes.fromhex("000f3df6d732807ef1319fb7b8bb8522d0beac02"): "600035425500",
    bytes.fromhex("0000f90827f1c53a10cb7a02335b175320002935"): "600035600143035500",
    bytes.fromhex("00000961ef480eb55e80d19ad83579a64c007002"): "63aabbccdd6000526004601cf3",
    bytes.fromhex("0000bbddc7ce488642fb579f8b00f3a590007251"): "00",
}


def new_chain(network: str = "Cancun", balance: int = 10 * ETHER,
              gas_limit: int = 30_000_000, system_contracts: bool = True) -> Chain:
    config = config_for_network(network)
    state = State({a: Account(balance=balance) for a in ADDRS})
    if system_contracts:
        for address, code in SYSTEM_STANDINS.items():
            state.accounts[address] = Account(nonce=1, code=bytes.fromhex(code))
    genesis = make_genesis(config, state, gas_limit=gas_limit)
    return Chain.from_genesis(config, genesis, state.copy())


def transfer(key: int, nonce: int, to: bytes = b"\x77" * 20, value: int = 1,
             tip: int = 1, fee_cap: int = 10**10, tx_type: int = 2,
             gas_limit: int = 21000, data: bytes = b"",
             chain_id: int | None = 1) -> SignedTransaction:
    tx = SignedTransaction(tx_type, nonce=nonce, gas_limit=gas_limit, to=to, value=value,
                           data=data, v=0, r=0, s=0, chain_id=chain_id)
    if tx_type >= 2:
        tx.max_priority_fee_per_gas, tx.max_fee_per_gas = tip, fee_cap
    else:
        tx.gas_price = fee_cap
    return tx.sign(KEYS[key])


def extend(chain: Chain, txs: list[SignedTransaction], parent: bytes | None = None,
           **options: object) -> bytes:
    built = build_block(chain, txs, BuildOptions(**options), parent_hash=parent)  # type: ignore[arg-type]
    assert not built.skipped, built.skipped
    return chain.import_block(built.block).hash
