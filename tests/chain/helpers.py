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


def new_chain(network: str = "Cancun", balance: int = 10 * ETHER,
              gas_limit: int = 30_000_000) -> Chain:
    config = config_for_network(network)
    state = State({a: Account(balance=balance) for a in ADDRS})
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
