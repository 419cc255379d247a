"""A storage miner's life through ``chainvm.fvm.api`` (actors v0), and the
market's deal state machine: publish (funds locked, deal scheduled),
activate (deal state), refusals (bad signature, short escrow, duplicates,
wrong sender)."""

from __future__ import annotations

from typing import Any

import pytest

from chainvm.fvm import bitfield
from chainvm.fvm.amt import Amt
from chainvm.fvm.api import FIL, Network
from chainvm.fvm.codec import CID, decode_bigint, decode_uvarint, encode_bigint, encode_uvarint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.proofs import zero_commitment
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import MARKET_ADDR

SECTOR = 32 << 30
PIECE = CID(0xF101, 0x1012, zero_commitment(1 << 20))


@pytest.fixture
def net() -> Network:
    return Network(network_version=3, epoch=100)


def _setup(net: Network) -> tuple[Any, Any, Any]:
    owner = net.create_account(balance=10_000 * FIL)
    client = net.create_account(balance=1_000 * FIL)
    miner, _ = net.create_miner(owner, worker_balance=10 * FIL)
    assert net.send(owner, miner, 1_000 * FIL).receipt.exit_code == 0
    assert net.market_add_balance(client, client, 10 * FIL).receipt.exit_code == 0
    assert net.market_add_balance(owner, miner, 10 * FIL).receipt.exit_code == 0
    return owner, client, miner


def _deal(net: Network, client: Any, miner: Any, **kw: Any) -> list[Any]:
    start = net.epoch + 2000
    args: dict[str, Any] = {"price_per_epoch": 1000, "provider_collateral": 10**15}
    args.update(kw)
    return net.deal_proposal(client, miner, PIECE, 1 << 20, start, start + 200 * 2880, **args)


def test_a_miners_life(net: Network) -> None:
    owner, client, miner = _setup(net)

    # publish a deal: the client's fee and both collaterals are locked
    ret, ids = net.publish_deals(miner, [_deal(net, client, miner)])
    assert ret.receipt.exit_code == 0 and ids == [0]
    assert net.market_balance(client) == (10 * FIL, 1000 * 200 * 2880)
    assert net.market_balance(miner) == (10 * FIL, 10**15)

    # pre-commit a sector holding it: a deposit is locked
    net.advance(1)
    ret = net.pre_commit_sector(owner, miner, 0, expiration=net.epoch + 300 * 2880, deal_ids=ids)
    assert ret.receipt.exit_code == 0, ret.error
    deposit = decode_bigint(net.actor_state(miner)[1])
    assert deposit > 0

    # prove it after the challenge delay; the power actor's cron verifies the
    # proof and confirms the sector: deal activated, pledge locked, power claimed
    net.advance(151)
    assert net.prove_commit_sector(owner, miner, 0).receipt.exit_code == 0
    assert net.miner_power(miner) == (0, 0)
    net.apply_block(miner=owner)
    st = net.actor_state(miner)
    assert decode_bigint(st[1]) == 0  # deposit released
    assert decode_bigint(st[4]) > 0  # initial pledge
    assert net.miner_power(miner) == (SECTOR, SECTOR)
    deadline, partition = net.sector_location(miner, 0) or (None, None)
    assert deadline is not None and partition == 0
    states = Amt.load(net.store, net.actor_state(MARKET_ADDR)[1])
    assert states.get(0) == [net.epoch, -1, -1]

    # a declared fault takes the power away; a recovery is recorded, and the
    # power comes back with the next window PoSt of that deadline
    ret = net.declare_faults(owner, miner, [0])
    assert ret.receipt.exit_code == 0, ret.error
    assert net.miner_power(miner) == (0, 0)
    ret = net.declare_faults(owner, miner, [0], recovered=True)
    assert ret.receipt.exit_code == 0, ret.error
    dl_cid = net.store.get_obj(net.actor_state(miner)[11])[0][deadline]
    part = Amt.load(net.store, net.store.get_obj(dl_cid)[0]).get(0)
    assert bitfield.decode(part[1]) == {0} and bitfield.decode(part[2]) == {0}

    # the miner's cron, enrolled at creation, fires just before its first
    # proving period; the sector's deadline then opens and takes a PoSt
    period_start = net.actor_state(miner)[9]
    net.epoch = period_start + 60 * deadline - 2
    for _ in range(deadline + 1):
        net.apply_block(miner=owner)
    info = net.proving_deadline(miner)
    assert info.index == deadline
    net.epoch = info.open
    ret = net.submit_window_post(owner, miner, deadline, [partition])
    assert ret.receipt.exit_code == 0, ret.error
    assert net.miner_power(miner) == (SECTOR, SECTOR)  # recovered
    # the deadline closes with its PoSt: nothing turns faulty
    net.epoch = info.last - 1
    net.apply_block(miner=owner)
    assert net.proving_deadline(miner).index == (deadline + 1) % 48
    assert net.miner_power(miner) == (SECTOR, SECTOR)
    # its window has closed (and the next deadline's has not yet opened)
    ret = net.submit_window_post(owner, miner, deadline, [partition])
    assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_STATE
    net.advance(1)  # now the next deadline is open, and it is not this one
    ret = net.submit_window_post(owner, miner, deadline, [partition])
    assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT

    # a whole period later the same deadline passes without a PoSt: the
    # sector is detected faulty and its power removed; meanwhile the deal has
    # started and the market's cron paid the provider
    net.epoch = info.last + 2880 - 48
    for _ in range(48):
        net.apply_block(miner=owner)
    assert net.proving_deadline(miner).period_start == info.period_start + 2880
    assert net.miner_power(miner) == (0, 0)
    paid = net.market_balance(miner)[0] - 10 * FIL
    assert paid > 0 and paid % 1000 == 0
    assert net.market_balance(client)[0] == 10 * FIL - paid


def test_publish_refusals(net: Network) -> None:
    owner, client, miner = _setup(net)
    good = _deal(net, client, miner)

    # only the miner's worker may publish
    ret = net.send(owner, MARKET_ADDR, 0, 4, _params([good]))
    assert ret.receipt.exit_code == ExitCode.ERR_FORBIDDEN

    # a proposal signed over something else is refused
    forged = [list(good[0]), good[1]]
    forged[0][8] = encode_bigint(2000)  # price changed after signing
    ret, _ = net.publish_deals(miner, [forged])
    assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT

    # a client fee beyond its escrow is refused
    ret, _ = net.publish_deals(miner, [_deal(net, client, miner, price_per_epoch=FIL)])
    assert ret.receipt.exit_code == ExitCode.ERR_INSUFFICIENT_FUNDS

    # a deal published once cannot be published again
    ret, ids = net.publish_deals(miner, [good])
    assert ret.receipt.exit_code == 0 and ids == [0]
    ret, _ = net.publish_deals(miner, [good])
    assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT

    # a start epoch already past is refused
    net.advance(2001)
    ret, _ = net.publish_deals(miner, [good])
    assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT


def test_published_deal_is_scheduled_in_its_start_day(net: Network) -> None:
    _owner, client, miner = _setup(net)
    deal = _deal(net, client, miner)
    _ret, ids = net.publish_deals(miner, [deal])
    st = net.actor_state(MARKET_ADDR)
    assert st[5] == 1  # next deal ID
    ops = Hamt.load(net.store, st[6])
    ((key, members),) = list(ops.items())
    epoch, _ = decode_uvarint(key, 0)
    start = deal[0][6]
    assert start <= epoch < start + 2880
    scheduled = [k for k, _ in Hamt.load(net.store, members).items()]
    assert scheduled == [encode_uvarint(ids[0])]
    proposals = Amt.load(net.store, st[0])
    stored = proposals.get(0)
    # the stored proposal names the client and provider by ID address
    assert stored[3][0] == 0 and stored[4][0] == 0


def _params(deals: list[list[Any]]) -> bytes:
    from chainvm.fvm.codec import dumps

    return dumps([deals])


def test_extend_expiration_and_check_proven(net: Network) -> None:
    from chainvm.fvm.codec import dumps

    owner, _client, miner = _setup(net)
    net.advance(1)
    assert net.pre_commit_sector(owner, miner, 3, expiration=net.epoch + 200 * 2880).receipt.exit_code == 0
    net.advance(151)
    assert net.prove_commit_sector(owner, miner, 3).receipt.exit_code == 0
    assert net.send(owner, miner, 0, 13, dumps([3])).receipt.exit_code == ExitCode.ERR_NOT_FOUND
    net.apply_block(miner=owner)
    assert net.send(owner, miner, 0, 13, dumps([3])).receipt.exit_code == 0
    where = net.sector_location(miner, 3)
    assert where is not None
    sector = Amt.load(net.store, net.actor_state(miner)[8]).get(3)
    later = sector[5] + 100 * 2880

    def extend(expiration: int) -> int:
        ext = [[where[0], where[1], bitfield.encode({3}), expiration]]
        return net.send(owner, miner, 0, 8, dumps([ext])).receipt.exit_code

    assert extend(sector[5] - 1) == ExitCode.ERR_ILLEGAL_ARGUMENT  # never earlier
    assert extend(net.epoch + 600 * 2880) == ExitCode.ERR_ILLEGAL_ARGUMENT  # too far
    assert extend(later) == 0
    assert Amt.load(net.store, net.actor_state(miner)[8]).get(3)[5] == later
    assert net.miner_power(miner) == (SECTOR, SECTOR)


def test_market_withdrawal_fails_under_actors_v0(net: Network) -> None:
    """specs-actors v0 validates the caller twice in WithdrawBalance, which
    the runtime refuses: on chain no withdrawal ever succeeded before v2."""
    from chainvm.fvm.codec import dumps, encode_bigint

    _owner, client, _miner = _setup(net)
    params = dumps([client.address.bytes, encode_bigint(FIL)])
    ret = net.send(client, MARKET_ADDR, 0, 3, params)
    assert ret.receipt.exit_code == ExitCode.SYS_ERR_ILLEGAL_ACTOR
    assert net.market_balance(client) == (10 * FIL, 0)


def test_terminate_a_sector_slashes_its_deal(net: Network) -> None:
    from chainvm.fvm.codec import dumps, loads

    owner, client, miner = _setup(net)
    deal = _deal(net, client, miner)
    _ret, ids = net.publish_deals(miner, [deal])
    net.advance(1)
    net.pre_commit_sector(owner, miner, 0, expiration=net.epoch + 300 * 2880, deal_ids=ids)
    net.advance(151)
    net.prove_commit_sector(owner, miner, 0)
    net.apply_block(miner=owner)
    assert net.miner_power(miner) == (SECTOR, SECTOR)
    where = net.sector_location(miner, 0)
    assert where is not None
    ret = net.send(owner, miner, 0, 9, dumps([[[where[0], where[1], bitfield.encode({0})]]]))
    assert ret.receipt.exit_code == 0, ret.error
    assert loads(ret.receipt.return_value) == [True]  # all processed at once
    st = net.actor_state(miner)
    assert net.miner_power(miner) == (0, 0)
    assert decode_bigint(st[4]) == 0  # initial pledge released
    assert st[12] == b""  # no early terminations left to process
    dl_cid = net.store.get_obj(st[11])[0][where[0]]
    part = Amt.load(net.store, net.store.get_obj(dl_cid)[0]).get(where[1])
    assert bitfield.decode(part[3]) == {0}  # terminated
    # the deal is marked slashed; the market's cron burns the provider's collateral
    states = Amt.load(net.store, net.actor_state(MARKET_ADDR)[1])
    assert states.get(ids[0])[2] == net.epoch
    net.epoch = deal[0][6] + 2880
    net.apply_block(miner=owner)
    assert net.market_balance(miner) == (10 * FIL - 10**15, 0)
    assert net.market_balance(client) == (10 * FIL, 0)


@pytest.mark.parametrize("method", [9, 10, 11])
def test_huge_bitfields_are_refused_without_expanding(net: Network, method: int) -> None:
    """A few bytes of RLE+ can name 2^60 sectors: declarations, terminations
    and extensions count them first, as the reference does."""
    from chainvm.fvm.codec import dumps

    owner, _client, miner = _setup(net)
    huge = _run_of(1 << 60)
    ret = net.send(owner, miner, 0, method, dumps([[[0, 0, huge]]]))
    assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT
    ret = net.send(owner, miner, 0, 8, dumps([[[0, 0, huge, net.epoch + 10]]]))
    assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT


def _run_of(length: int) -> bytes:
    """RLE+ of the sectors 0 .. length-1: version 0, starting with ones, one
    varint-length run."""
    bits = [0, 0, 1, 0, 0]
    while True:
        byte = length & 0x7F
        length >>= 7
        byte |= 0x80 if length else 0
        bits += [(byte >> i) & 1 for i in range(8)]
        if not length:
            break
    value = sum(b << i for i, b in enumerate(bits))
    return value.to_bytes((len(bits) + 7) // 8, "little")


def test_compact_sector_numbers(net: Network) -> None:
    from chainvm.fvm.codec import dumps

    owner, _client, miner = _setup(net)
    mask = bitfield.encode_ranges([(0, 1 << 40)])
    assert net.send(owner, miner, 0, 20, dumps([b""])).receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT
    assert net.send(owner, miner, 0, 20, dumps([mask])).receipt.exit_code == 0
    net.advance(1)
    expiration = net.epoch + 200 * 2880
    ret = net.pre_commit_sector(owner, miner, 12345, expiration=expiration)
    assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT  # masked: already allocated
    ret = net.pre_commit_sector(owner, miner, 1 << 40, expiration=expiration)
    assert ret.receipt.exit_code == 0, ret.error
    allocated = net.store.get_obj(net.actor_state(miner)[7])
    assert bitfield.ranges(allocated) == [(0, (1 << 40) + 1)]


def test_compact_partitions_forgets_terminated_sectors(net: Network) -> None:
    from chainvm.fvm.codec import dumps

    owner, _client, miner = _setup(net)
    net.advance(1)
    for n in (1, 2):
        ret = net.pre_commit_sector(owner, miner, n, expiration=net.epoch + 200 * 2880)
        assert ret.receipt.exit_code == 0
    net.advance(151)
    for n in (1, 2):
        assert net.prove_commit_sector(owner, miner, n).receipt.exit_code == 0
    net.apply_block(miner=owner)
    assert net.miner_power(miner) == (2 * SECTOR, 2 * SECTOR)
    dl, part = net.sector_location(miner, 1) or (0, 0)
    assert net.sector_location(miner, 2) == (dl, part)
    ret = net.send(owner, miner, 0, 9, dumps([[[dl, part, bitfield.encode({1})]]]))
    assert ret.receipt.exit_code == 0
    bad = net.send(owner, miner, 0, 19, dumps([dl, bitfield.encode({5})]))
    assert bad.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT  # no partition 5
    ret = net.send(owner, miner, 0, 19, dumps([dl, bitfield.encode({part})]))
    assert ret.receipt.exit_code == 0, ret.error
    sectors = Amt.load(net.store, net.actor_state(miner)[8])
    assert sectors.get(1) is None and sectors.get(2) is not None
    dl_state = net.store.get_obj(net.store.get_obj(net.actor_state(miner)[11])[0][dl])
    partition = Amt.load(net.store, dl_state[0]).get(0)
    assert bitfield.decode(partition[0]) == {2} and partition[3] == b""
    assert (dl_state[4], dl_state[5]) == (1, 1)  # live and total sectors
    assert net.miner_power(miner) == (SECTOR, SECTOR)


def _header(miner: Any, height: int, parents: list[CID], worker_secret: int | None) -> bytes:
    from chainvm.fvm.codec import dumps
    from chainvm.fvm.crypto import bls_sign

    root = CID.for_cbor(dumps([]))
    header: list[Any] = [miner.bytes, [b"ticket"], [1, b"proof"], [], [], parents, b"", height,
                         root, root, root, None, 1_600_000_000 + height, None, 0, b""]
    if worker_secret is not None:
        header[13] = bls_sign(worker_secret, dumps(header))
    return dumps(header)


def test_report_consensus_fault(net: Network) -> None:
    from chainvm.fvm.address import Address
    from chainvm.fvm.codec import dumps
    from chainvm.fvm.vm import POWER_ADDR

    _owner, _client, miner = _setup(net)
    reporter = net.create_account(balance=FIL)
    secret = int.from_bytes(net.worker_of(miner).private_key, "big")
    parent = CID.for_cbor(dumps(["parent"]))
    height = net.epoch - 5
    a = _header(miner, height, [parent], secret)
    b = _header(miner, height, [parent, parent], secret)  # another block, same height
    unsigned = _header(miner, height, [parent, parent], None)
    forged = _header(miner, height, [parent, parent], secret + 1)

    for bad in ([a, a, b""], [a, unsigned, b""], [a, forged, b""]):
        ret = net.send(reporter, miner, 0, 15, dumps(bad))
        assert ret.receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT, bad
    miners_before = net.actor_state(POWER_ADDR)[9]
    balance = net.balance(miner)
    before = net.balance(reporter)
    burnt = net.balance(Address.new_id(99))
    ret = net.send(reporter, miner, 0, 15, dumps([a, b, b""]))
    assert ret.receipt.exit_code == 0, ret.error
    assert net.actor(miner) is None  # the miner is gone
    out = ret.gas_outputs
    fees = out.base_fee_burn + out.miner_tip + out.over_estimation_burn
    paid = net.balance(reporter) - before + fees
    assert paid == balance * 101251**5 // (100000**5 * 1000)
    assert net.balance(Address.new_id(99)) - burnt >= balance - paid
    assert net.actor_state(POWER_ADDR)[9] == miners_before - 1
    assert net.miner_power(miner) == (0, 0)

