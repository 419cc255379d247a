"""Message pool ordering, replacement and selection."""

from __future__ import annotations

import pytest

from chainvm.fvm.address import Address
from chainvm.fvm.mpool import MessagePool, MpoolError, min_replacement_premium
from chainvm.fvm.types import Message

A = Address.new_id(100)
B = Address.new_id(101)
C = Address.new_id(102)


def msg(
    sender: Address, nonce: int, premium: int = 1, fee_cap: int = 1000, gas: int = 1000
) -> Message:
    return Message(
        to=C,
        from_=sender,
        nonce=nonce,
        value=1,
        gas_limit=gas,
        gas_fee_cap=fee_cap,
        gas_premium=premium,
    )


def pool(nonces: dict[Address, int] | None = None, limit: int = 10_000_000_000) -> MessagePool:
    state = nonces or {}
    return MessagePool(lambda a: state.get(a, 0), block_gas_limit=limit)


def test_admission_rules() -> None:
    p = pool({A: 5})
    with pytest.raises(MpoolError):
        p.add(msg(A, 4))  # nonce already used on chain
    with pytest.raises(MpoolError):
        p.add(msg(A, 5, gas=0))
    with pytest.raises(MpoolError):
        p.add(msg(A, 5, premium=10, fee_cap=5))
    with pytest.raises(MpoolError):
        p.add(msg(A, 5, gas=20_000_000_000))
    p.add(msg(A, 5))
    p.add(msg(A, 7))
    assert [m.nonce for m in p.pending_for(A)] == [5, 7]
    assert p.next_nonce(A) == 6
    assert len(p) == 2


def test_replace_by_fee() -> None:
    p = pool()
    p.add(msg(A, 0, premium=100))
    with pytest.raises(MpoolError):
        p.add(msg(A, 0, premium=124))
    p.add(msg(A, 0, premium=125))
    assert p.pending_for(A)[0].gas_premium == 125
    assert min_replacement_premium(0) == 1
    assert min_replacement_premium(3) == 4


def test_selection_respects_nonce_order_and_priority() -> None:
    p = pool()
    # A's second message pays a lot but must wait for its first
    p.add(msg(A, 0, premium=1))
    p.add(msg(A, 1, premium=50))
    p.add(msg(B, 0, premium=10))
    p.add(msg(B, 2, premium=99))  # gap at nonce 1: not selectable
    picked = p.select(base_fee=100)
    assert [(m.from_, m.nonce) for m in picked] == [(B, 0), (A, 0), (A, 1)]


def test_selection_gas_limit_and_base_fee() -> None:
    p = pool(limit=2500)
    p.add(msg(A, 0, premium=5, gas=1000))
    p.add(msg(B, 0, premium=9, gas=1000))
    p.add(msg(C, 0, premium=50, fee_cap=50, gas=10))  # fee cap below base fee
    picked = p.select(base_fee=100)
    assert [m.from_ for m in picked] == [B, A]
    assert p.select(base_fee=100, gas_limit=1500) == [msg(B, 0, premium=9, gas=1000)]


def test_effective_premium_is_capped_by_fee_cap() -> None:
    p = pool()
    p.add(msg(A, 0, premium=100, fee_cap=110))  # effective premium 10
    p.add(msg(B, 0, premium=20, fee_cap=1000))
    assert [m.from_ for m in p.select(base_fee=100)] == [B, A]


def test_remove_included_prunes_stale() -> None:
    nonces = {A: 0}
    p = pool(nonces)
    for n in range(3):
        p.add(msg(A, n))
    chosen = p.select(base_fee=0)
    nonces[A] = 2
    p.remove_included(chosen[:2])
    assert [m.nonce for m in p.pending_for(A)] == [2]


def test_signatures_are_checked_for_secp_senders() -> None:
    from chainvm.fvm.crypto import secp256k1_address, secp256k1_sign

    key = bytes(range(1, 33))
    sender = secp256k1_address(key)
    p = pool()
    m = msg(sender, 0)
    p.add(m, secp256k1_sign(key, m.cid().bytes))
    forged = msg(sender, 1)
    with pytest.raises(MpoolError):
        p.add(forged, secp256k1_sign(bytes(range(2, 34)), forged.cid().bytes))
