"""Transaction pool and block builder: ordering, replacement, nonce gaps, limits, invalidation."""

from __future__ import annotations

import pytest

from chainvm.chain.blobs import (
    BlobSidecar,
    decode_pooled,
    encode_pooled,
    make_sidecar,
    versioned_hashes,
)
from chainvm.chain.builder import BuildOptions, build_block
from chainvm.chain.mpool import PoolConfig, PoolError, TxPool
from chainvm.chain.transactions import SignedTransaction

from .helpers import ADDRS, ETHER, KEYS, new_chain, transfer


def make_pool(**config: int) -> tuple[TxPool, object]:
    chain = new_chain("Cancun")
    pool = TxPool(chain.state(), chain.head.fork, base_fee=chain.head.header.base_fee or 0,
                  config=PoolConfig(**config))
    return pool, chain


def test_ordering_by_effective_tip_keeps_nonce_order() -> None:
    pool, _ = make_pool()
    a0 = transfer(0, 0, tip=1)
    a1 = transfer(0, 1, tip=50)
    b0 = transfer(1, 0, tip=5)
    c0 = transfer(2, 0, tip=3, fee_cap=10**9 + 2)  # effective tip capped at 2 by the fee cap
    for tx in (a1, a0, b0, c0):
        pool.add(tx)
    order = list(pool.ordered())
    assert order == [b0, c0, a0, a1]  # a1 pays most but waits for a0


def test_replacement_needs_a_ten_percent_bump() -> None:
    pool, _ = make_pool()
    first = transfer(0, 0, tip=100, fee_cap=10**10)
    pool.add(first)
    with pytest.raises(PoolError, match="underpriced"):
        pool.add(transfer(0, 0, tip=109, fee_cap=11 * 10**9, value=2))
    better = transfer(0, 0, tip=110, fee_cap=11 * 10**9, value=3)
    pool.add(better)
    assert len(pool) == 1 and list(pool.ordered()) == [better]


def test_nonce_gap_queues_until_filled() -> None:
    pool, _ = make_pool()
    pool.add(transfer(0, 2))
    pool.add(transfer(0, 1))
    assert pool.pending() == {} and len(pool.queued()) == 2
    pool.add(transfer(0, 0))
    assert [e.tx.nonce for e in pool.pending()[ADDRS[0]]] == [0, 1, 2]
    assert pool.queued() == []


def test_rejections() -> None:
    pool, _ = make_pool()
    with pytest.raises(PoolError, match="insufficient funds"):
        pool.add(transfer(0, 0, value=100 * ETHER))
    with pytest.raises(PoolError, match="intrinsic gas"):
        pool.add(transfer(0, 0, gas_limit=20000))
    with pytest.raises(PoolError, match="chain id"):
        pool.add(transfer(0, 0, chain_id=5))
    tx = transfer(0, 0)
    pool.add(tx)
    with pytest.raises(PoolError, match="already known"):
        pool.add(tx)


def test_limits_evict_the_cheapest() -> None:
    pool, _ = make_pool(max_total=3, max_per_sender=2)
    pool.add(transfer(0, 0, tip=5))
    pool.add(transfer(0, 1, tip=5))
    with pytest.raises(PoolError, match="too many"):
        pool.add(transfer(0, 2, tip=5))
    pool.add(transfer(1, 0, tip=1))
    with pytest.raises(PoolError, match="pool full"):  # queued behind a gap: evicted first
        pool.add(transfer(2, 5, tip=9))
    assert len(pool) == 3 and all(e.tx.nonce != 5 for e in pool.by_hash.values())
    pool.add(transfer(3, 0, tip=7))  # now the cheapest pending one goes
    tips = sorted(e.tx.max_priority_fee_per_gas for e in pool.by_hash.values())
    assert tips == [5, 5, 7]
    with pytest.raises(PoolError, match="pool full"):
        pool.add(transfer(2, 0, tip=1))


def test_builder_skips_invalidated_and_respects_gas_limit() -> None:
    pool, chain = make_pool()
    # Sender 0 spends almost everything in its first transaction: its second can't pay.
    pool.add(transfer(0, 0, value=10 * ETHER - 21000 * 10**10 * 2, tip=9))
    pool.add(transfer(0, 1, value=1, tip=9))
    for key in (1, 2, 3):
        pool.add(transfer(key, 0, tip=key))
    chain.state().set_balance(ADDRS[0], 10 * ETHER - 21000 * 10**10)  # pool admitted both
    built = build_block(chain, pool, BuildOptions(gas_limit=30_000_000))
    assert len(built.skipped) == 1 and built.skipped[0][0].nonce == 1
    senders = [tx.sender() for tx in built.block.transactions]
    assert senders == [ADDRS[0], ADDRS[3], ADDRS[2], ADDRS[1]]
    chain.import_block(built.block)  # the sealed block validates
    pool.reset(chain.state(), chain.head.header.base_fee or 0)
    assert len(pool) == 0  # included ones dropped, the unaffordable one too


def test_builder_stops_at_the_block_gas_limit() -> None:
    chain = new_chain("Cancun", gas_limit=50_000)  # room for two transfers
    pool = TxPool(chain.state(), chain.head.fork, config=PoolConfig(block_gas_limit=50_000))
    for key in (1, 2, 3):
        pool.add(transfer(key, 0, tip=key))
    built = build_block(chain, pool)
    assert [tx.sender() for tx in built.block.transactions] == [ADDRS[3], ADDRS[2]]
    assert [tx.sender() for tx, _ in built.skipped] == [ADDRS[1]]
    assert "gas limit reached" in built.skipped[0][1]
    chain.import_block(built.block)


def _blob_tx(key: int, nonce: int, sidecar: BlobSidecar) -> SignedTransaction:
    tx = transfer(key, nonce)
    tx.tx_type = 3
    tx.max_fee_per_blob_gas = 10
    tx.blob_versioned_hashes = versioned_hashes(sidecar)
    return tx.sign(KEYS[key])


@pytest.mark.parametrize("network,version", [("Cancun", 0), ("Osaka", 1)])
def test_blob_transaction_keeps_sidecar(network: str, version: int) -> None:
    chain = new_chain(network)
    pool = TxPool(chain.state(), chain.head.fork, base_fee=chain.head.header.base_fee or 0)
    blob = bytes(131072 - 32) + (5).to_bytes(32, "big")
    sidecar = make_sidecar([blob], version)
    tx = _blob_tx(1, 0, sidecar)
    with pytest.raises(PoolError, match="without its sidecar"):
        pool.add(tx)
    wrong = make_sidecar([bytes(131072)], version)
    with pytest.raises(PoolError, match="versioned hashes"):
        pool.add(tx, wrong)
    forged = BlobSidecar(sidecar.blobs, sidecar.commitments, wrong.proofs, version)
    with pytest.raises(PoolError, match="proof"):
        pool.add(tx, forged)
    raw = encode_pooled(tx, sidecar)
    assert decode_pooled(raw) == (tx, sidecar)
    tx_hash = pool.add_raw(raw)
    assert tx_hash == tx.hash and pool.sidecar(tx.hash) == sidecar
    plain = transfer(0, 0)
    pool.add(plain)
    assert pool.sidecar(plain.hash) is None
    # The block carries only the versioned hashes; the builder includes the blob transaction.
    built = build_block(chain, pool)
    assert len(built.block.transactions) == 2 and built.block.header.blob_gas_used == 131072
    chain.import_block(built.block)
