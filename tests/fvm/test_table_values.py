"""Values read out of the actors' HAMTs and AMTs: one of the wrong shape aborts the message
with ErrIllegalState and a line naming the actor, the value and what is wrong (lotus decodes
a table value when it is read, and specs-actors turns a failure into that abort), where it
used to end the run as an internal TypeError or DecodeError inside actor code."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from chainvm.fvm import bitfield
from chainvm.fvm.actors.common import int_key
from chainvm.fvm.actors.tables import address_text, index_text, typed, varint_text
from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.api import FIL, Network
from chainvm.fvm.codec import CID, encode_uvarint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.network import profile_for
from chainvm.fvm.store import MemoryBlockstore
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import MARKET_ADDR, ActorError

NVS = [0, 4]
ILLEGAL_STATE = ExitCode.ERR_ILLEGAL_STATE


def _set_head_field(net: Network, addr: Address, index: int, value: Any) -> None:
    tree = net.tree()
    act = tree.get_actor(addr)
    assert act is not None
    state = list(net.store.get_obj(act.head))
    state[index] = value
    act.head = net.store.put_obj(state)
    tree.set_actor(addr, act)
    net.root = tree.flush()


def _head(net: Network, addr: Address) -> CID:
    act = net.tree().get_actor(addr)
    assert act is not None
    return act.head


def _hamt_version(net: Network) -> int:
    return 0 if net.profile.actors_version == 0 else 2


@pytest.mark.parametrize("nv", NVS)
@pytest.mark.parametrize("lane", [7, [b"", -1], [b"\x00\x01"]])
def test_wrong_lane_state(nv: int, lane: Any) -> None:
    net = Network(network_version=nv)
    alice, bob = net.create_account(balance=100 * FIL), net.create_account(balance=FIL)
    channel, _ = net.create_paych(alice, bob, 10 * FIL)
    voucher = net.paych_voucher(alice, channel, lane=0, nonce=1, amount=FIL)
    assert net.paych_update(bob, channel, voucher).receipt.exit_code == 0
    lanes = Amt.load(net.store, net.actor_state(channel)[5])
    lanes.set(0, lane)
    _set_head_field(net, channel, 5, lanes.flush())
    before = _head(net, channel)
    ret = net.paych_update(bob, channel, net.paych_voucher(alice, channel, 0, 2, 2 * FIL))
    assert ret.receipt.exit_code == ILLEGAL_STATE
    assert f"actor {channel}: lane state 0" in ret.error
    assert _head(net, channel) == before


@pytest.mark.parametrize("nv", NVS)
def test_wrong_multisig_transaction(nv: int) -> None:
    net = Network(network_version=nv)
    alice, bob = net.create_account(balance=100 * FIL), net.create_account(balance=10 * FIL)
    carol = net.create_account()
    msig, _ = net.create_multisig(alice, [alice, bob], 2, value=20 * FIL)
    assert net.multisig_propose(alice, msig, carol, 5 * FIL).receipt.exit_code == 0
    pending = Hamt.load(net.store, net.actor_state(msig)[6], version=_hamt_version(net))
    txn = pending.get(int_key(0))
    pending.set(int_key(0), [txn[0], 5, *txn[2:]])  # the value an integer, not a big integer
    _set_head_field(net, msig, 6, pending.flush())
    before = _head(net, msig)
    ret = net.multisig_approve(bob, msig, 0)
    assert ret.receipt.exit_code == ILLEGAL_STATE
    assert f"actor {msig}: multisig transaction 0: field 1 (value) must be a big" in ret.error
    assert _head(net, msig) == before and net.balance(carol) == 0


def test_wrong_escrow_balance() -> None:
    net = Network(network_version=3)
    client = net.create_account(balance=100 * FIL)
    assert net.market_add_balance(client, client, FIL).receipt.exit_code == 0
    st = net.actor_state(MARKET_ADDR)
    escrow = Hamt.load(net.store, st[3])
    client_id = net.id_of(client)
    assert client_id is not None
    escrow.set(client_id.bytes, 5)
    _set_head_field(net, MARKET_ADDR, 3, escrow.flush())
    before = _head(net, MARKET_ADDR)
    ret = net.market_add_balance(client, client, FIL)
    assert ret.receipt.exit_code == ILLEGAL_STATE
    assert f"balance of {client_id} must be a big integer" in ret.error
    assert _head(net, MARKET_ADDR) == before


def test_wrong_deal_proposal_stops_the_market_cron_only() -> None:
    """The cron actor carries on past a receiver's failure, so the block is applied and
    only the market's tick is undone."""
    from tests.fvm.test_market_deals import published_deal

    net = Network(network_version=3, epoch=100)
    owner, _client, _miner, start, ids = published_deal(net)
    proposals = Amt.load(net.store, net.actor_state(MARKET_ADDR)[0])
    proposal = proposals.get(ids[0])
    proposals.set(ids[0], proposal[:10])
    _set_head_field(net, MARKET_ADDR, 0, proposals.flush())
    last_cron = net.actor_state(MARKET_ADDR)[7]
    net.epoch = start + 2880
    net.apply_block(miner=owner)
    assert net.actor_state(MARKET_ADDR)[7] == last_cron  # the tick was undone


def _pre_committed_sector(net: Network) -> tuple[Any, Address]:
    """A funded miner (actors v0) with sector 0 pre-committed."""
    owner = net.create_account(balance=10_000 * FIL)
    miner, _ = net.create_miner(owner, worker_balance=10 * FIL)
    assert net.send(owner, miner, 1_000 * FIL).receipt.exit_code == 0
    net.advance(1)
    assert net.pre_commit_sector(owner, miner, 0, expiration=net.epoch + 300 * 2880) \
        .receipt.exit_code == 0
    return owner, miner


def _proven_sector(net: Network) -> tuple[Any, Address]:
    """The same with sector 0 proven and active."""
    owner, miner = _pre_committed_sector(net)
    net.advance(151)
    assert net.prove_commit_sector(owner, miner, 0).receipt.exit_code == 0
    net.apply_block(miner=owner)
    return owner, miner


def test_wrong_precommit_and_sector_info() -> None:
    net = Network(network_version=3, epoch=100)
    owner, miner = _pre_committed_sector(net)
    st = net.actor_state(miner)
    precommits = Hamt.load(net.store, st[5])
    good = precommits.get(encode_uvarint(0))
    precommits.set(encode_uvarint(0), [good[0][:9], *good[1:]])
    good_root = st[5]
    _set_head_field(net, miner, 5, precommits.flush())
    net.advance(151)
    before = _head(net, miner)
    ret = net.prove_commit_sector(owner, miner, 0)
    assert ret.receipt.exit_code == ILLEGAL_STATE
    assert f"actor {miner}: pre-committed sector 0: field 0 (info)" in ret.error
    assert _head(net, miner) == before

    # with the pre-commit restored the sector is proven; then its info goes wrong
    _set_head_field(net, miner, 5, good_root)
    assert net.prove_commit_sector(owner, miner, 0).receipt.exit_code == 0
    net.apply_block(miner=owner)
    sectors = Amt.load(net.store, net.actor_state(miner)[8])
    assert sectors.get(0) is not None
    sectors.set(0, [0, 3])
    _set_head_field(net, miner, 8, sectors.flush())
    before = _head(net, miner)
    ret = net.declare_faults(owner, miner, [0])
    assert ret.receipt.exit_code == ILLEGAL_STATE
    assert "sector info 0 has 2 fields, its layout 11" in ret.error
    assert _head(net, miner) == before


def test_bit_field_queue_entry_of_another_rle_version() -> None:
    """go-bitfield's decoder refuses an RLE+ version other than 0: a table value holding
    one fails its read, as any other wrong value."""
    from chainvm.fvm.actors.miner_state import add_to_bitfield_queue

    rt: Any = _Runtime()
    queue = Amt.new(rt.store)
    queue.set(100, bitfield.encode({1}))
    root = queue.flush()
    assert add_to_bitfield_queue(rt, root, (1, 0), 100, {2}) != root
    queue.set(100, b"\x05x")  # version 1
    with pytest.raises(ActorError, match=r"actor f01000: bit-field queue entry 100 must be a "
                                         r"bit field \(RLE\+ bytes of version 0\), found a byte") \
            as err:
        add_to_bitfield_queue(rt, queue.flush(), (1, 0), 100, {2})
    assert err.value.code == ILLEGAL_STATE


def test_malformed_runs_in_a_partition_bit_field_abort_the_message() -> None:
    """The version is right but a run does not read: go-bitfield reports that where the
    runs are read, and the actor aborts with ErrIllegalState."""
    net = Network(network_version=3, epoch=100)
    owner, miner = _proven_sector(net)
    where = net.sector_location(miner, 0)
    assert where is not None
    st = net.actor_state(miner)
    deadlines = net.store.get_obj(st[11])
    deadline = list(net.store.get_obj(deadlines[0][where[0]]))
    partitions = Amt.load(net.store, deadline[0])
    partition = list(partitions.get(where[1]))
    partition[1] = b"\x00" + b"\xff" * 12  # faults: a varint that never ends
    partitions.set(where[1], partition)
    deadline[0] = partitions.flush()
    due = list(deadlines[0])
    due[where[0]] = net.store.put_obj(deadline)
    _set_head_field(net, miner, 11, net.store.put_obj([due]))
    before = _head(net, miner)
    ret = net.declare_faults(owner, miner, [0])
    assert ret.receipt.exit_code == ILLEGAL_STATE
    assert "malformed bit field in state: RLE+ varint too long" in ret.error
    assert _head(net, miner) == before


class _Runtime:
    """What `typed` and the bit-field queue use: the actors version, the receiver, a store
    and abort."""

    receiver = Address.new_id(1000)
    profile = profile_for(0)

    def __init__(self) -> None:
        self.store = MemoryBlockstore()

    def abort(self, code: int, message: str = "") -> NoReturn:
        raise ActorError(code, message)


def test_walks_and_gets_check_values_but_key_walks_do_not() -> None:
    store = MemoryBlockstore()
    rt: Any = _Runtime()
    lanes = Amt.new(store)
    lanes.set(3, [b"", 1])
    lanes.set(900, "wrong")
    lanes = typed(rt, Amt.load(store, lanes.flush()), "lane state")
    assert lanes.get(3) == [b"", 1]
    for walk in (lanes.items, lanes.for_each_stored):
        with pytest.raises(ActorError, match=r"actor f01000: lane state 900 must be a list of 2 "
                                             r"fields, found a text string"):
            list(walk())
    claims = Hamt.new(store)
    claims.set(Address.new_id(5).bytes, [b""])
    claims = typed(rt, Hamt.load(store, claims.flush()), "claim", address_text)
    assert list(claims.iter_keys()) == [Address.new_id(5).bytes]
    with pytest.raises(ActorError, match=r"claim of f05 has 1 fields, its layout 2"):
        claims.get(Address.new_id(5).bytes)
    with pytest.raises(ActorError) as err:
        list(claims.items())
    assert err.value.code == ILLEGAL_STATE
    with pytest.raises(KeyError, match="no table value layout"):
        typed(rt, Amt.new(store), "lanes")


def test_key_texts() -> None:
    assert index_text(12) == "12"
    assert index_text(encode_uvarint(300)) == "300"
    assert index_text(b"\x80") == "under key 0x80"
    assert varint_text(int_key(-3)) == "-3" and varint_text(int_key(7)) == "7"
    assert varint_text(b"\x80") == "under key 0x80"
    assert address_text(Address.new_id(7).bytes) == "of f07"
    assert address_text(b"\x09") == "under key 0x09"


def test_api_miner_helpers_under_actors_v2() -> None:
    net = Network(network_version=4)
    alice = net.create_account(balance=10_000 * FIL)
    miner, _ = net.create_miner(alice)
    assert net.miner_power(miner) == (0, 0)  # a v2 claim leads with the seal proof type
    with pytest.raises(NotImplementedError, match="actors v0 only"):
        net.proving_deadline(miner)

