"""The market's deal state machine (actors v0): a published deal is pending;
activation gives it a state; each cron visit pays the provider for the
epochs elapsed and reschedules it a day later; at its end the collaterals
are released; a deal never activated times out and the provider's
collateral is slashed; a slashed deal pays up to the slash epoch."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from chainvm.fvm.actors import market
from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.api import FIL, Network
from chainvm.fvm.codec import CID, decode_bigint, encode_bigint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.proofs import zero_commitment
from chainvm.fvm.store import MemoryBlockstore
from chainvm.fvm.vm import MARKET_ADDR, ActorError

CLIENT, PROVIDER = Address.new_id(100), Address.new_id(101)
PRICE, CLIENT_COLL, PROVIDER_COLL = 10, 500, 7_000
START, END = 1_000, 1_000 + 200 * 2880


class FakeRuntime:
    def abort(self, code: int, message: str = "") -> NoReturn:
        raise ActorError(code, message)


def _books() -> market._Books:
    store = MemoryBlockstore()
    escrow, locked = Hamt.new(store), Hamt.new(store)
    fee = PRICE * (END - START)
    escrow.set(CLIENT.bytes, encode_bigint(fee + CLIENT_COLL))
    escrow.set(PROVIDER.bytes, encode_bigint(PROVIDER_COLL))
    locked.set(CLIENT.bytes, encode_bigint(fee + CLIENT_COLL))
    locked.set(PROVIDER.bytes, encode_bigint(PROVIDER_COLL))
    return market._Books(FakeRuntime(), escrow, locked, [CLIENT_COLL, PROVIDER_COLL, fee])  # type: ignore[arg-type]


def _proposal() -> list[Any]:
    return [CID(0xF101, 0x1012, bytes(32)), 1 << 20, False, CLIENT.bytes, PROVIDER.bytes, "",
            START, END, encode_bigint(PRICE), encode_bigint(PROVIDER_COLL),
            encode_bigint(CLIENT_COLL)]


def _bal(books: market._Books, table: str, who: Address) -> int:
    found = getattr(books, table).get(who.bytes)
    return 0 if found is None else decode_bigint(found)


def test_payments_then_expiry() -> None:
    books, p = _books(), _proposal()
    state = [START - 10, market.EPOCH_UNDEFINED, market.EPOCH_UNDEFINED]
    # before the start nothing happens
    assert market._settle_deal(books, state, p, START - 1) == (0, market.EPOCH_UNDEFINED, False)
    slashed, nxt, done = market._settle_deal(books, state, p, START + 100)
    assert (slashed, nxt, done) == (0, START + 100 + 2880, False)
    assert _bal(books, "escrow", PROVIDER) == PROVIDER_COLL + 100 * PRICE
    state[1] = START + 100
    slashed, nxt, done = market._settle_deal(books, state, p, END + 5)
    assert done and slashed == 0 and nxt == market.EPOCH_UNDEFINED
    fee = PRICE * (END - START)
    assert _bal(books, "escrow", PROVIDER) == PROVIDER_COLL + fee  # paid in full, no more
    assert _bal(books, "escrow", CLIENT) == CLIENT_COLL
    # everything unlocked: the entries brought to zero are gone
    assert books.locked.get(CLIENT.bytes) is None and books.locked.get(PROVIDER.bytes) is None
    assert books.totals == [0, 0, 0]


def test_slashed_deal_pays_until_the_slash() -> None:
    books, p = _books(), _proposal()
    slash_at = START + 50
    state = [START - 10, market.EPOCH_UNDEFINED, slash_at]
    slashed, _nxt, done = market._settle_deal(books, state, p, START + 2000)
    assert done and slashed == PROVIDER_COLL
    assert _bal(books, "escrow", PROVIDER) == 50 * PRICE  # collateral gone
    assert _bal(books, "escrow", CLIENT) == PRICE * (END - START) + CLIENT_COLL - 50 * PRICE
    assert books.totals == [0, 0, 0]


def test_unlocking_more_than_locked_is_an_illegal_state() -> None:
    books = _books()
    with pytest.raises(ActorError):
        books.unlock(PROVIDER, PROVIDER_COLL + 1, market.PROVIDER_COLLATERAL_TOTAL)


def test_provider_collateral_minimum() -> None:
    circ = 10**9 * FIL
    # network version 1 on: 1% of the supply times the deal's share of raw power
    assert market.provider_collateral_min(1 << 30, False, 1 << 40, 0, 0, circ, 1) == (
        circ * (1 << 30) // (100 * (1 << 40))
    )
    # genesis: 5% times the share of quality-adjusted power
    assert market.provider_collateral_min(1 << 30, False, 0, 1 << 40, 0, circ, 0) == (
        5 * circ * (1 << 30) // (100 * (1 << 40))
    )


def published_deal(net: Network) -> tuple[Any, Any, Address, int, list[int]]:
    """(owner, client, miner, start epoch, deal IDs) after one deal starting 200 epochs
    on is published (both sides 10 FIL in escrow)."""
    owner = net.create_account(balance=1_000 * FIL)
    client = net.create_account(balance=100 * FIL)
    miner, _ = net.create_miner(owner, worker_balance=10 * FIL)
    net.market_add_balance(client, client, 10 * FIL)
    net.market_add_balance(owner, miner, 10 * FIL)
    start = net.epoch + 200
    piece = CID(0xF101, 0x1012, zero_commitment(1 << 20))
    deal = net.deal_proposal(client, miner, piece, 1 << 20, start, start + 200 * 2880,
                             price_per_epoch=1000, provider_collateral=10**15)
    ret, ids = net.publish_deals(miner, [deal])
    assert ret.receipt.exit_code == 0
    return owner, client, miner, start, ids


def test_a_deal_never_activated_times_out() -> None:
    net = Network(network_version=3, epoch=100)
    owner, client, miner, start, ids = published_deal(net)
    burnt_before = net.balance(Address.new_id(99))
    net.epoch = start + 2880  # past any epoch of its start day
    net.apply_block(miner=owner)
    st = net.actor_state(MARKET_ADDR)
    assert st[7] == net.epoch  # last cron
    assert net.market_balance(client) == (10 * FIL, 0)
    assert net.market_balance(miner) == (10 * FIL - 10**15, 0)
    assert net.balance(Address.new_id(99)) - burnt_before >= 10**15
    assert not list(Hamt.load(net.store, st[2]).items())  # no pending proposal left
    assert Amt.load(net.store, st[0]).get(ids[0]) is None  # nor the proposal
