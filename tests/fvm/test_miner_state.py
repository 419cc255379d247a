"""The miner's deadline and partition bookkeeping (actors v0), unit by unit.

A sector's life in a partition: active, declared faulty (its power leaves,
it is rescheduled to expire early), declared recovered (recovering power),
proven again by a window PoSt (back on its on-time expiration with active
power); sectors skipped by a PoSt become faults there and then.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from chainvm.fvm import bitfield
from chainvm.fvm.actors import miner_state as ms
from chainvm.fvm.actors.monies import qa_power_for_weight
from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import CID, decode_bigint, encode_bigint
from chainvm.fvm.network import profile_for
from chainvm.fvm.store import MemoryBlockstore
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import ActorError

SIZE = 32 << 30
PARTITION_SECTORS = 2349


class FakeRuntime:
    """Just what the bookkeeping uses: a store, aborts, and (to check the partitions and
    sector infos it reads against their layouts) an actors v0 profile and a receiver."""

    def __init__(self) -> None:
        self.store = MemoryBlockstore()
        self.profile = profile_for(0)
        self.receiver = Address.new_id(1000)

    def abort(self, code: int, message: str = "") -> NoReturn:
        raise ActorError(code, message)


def _sector(number: int, activation: int, expiration: int, pledge: int = 1000) -> list[Any]:
    sealed = CID(0xF102, 0xB401, number.to_bytes(32, "big"))
    return [number, 3, sealed, [], activation, expiration, b"", b"",
            encode_bigint(pledge), b"", b""]


def _power(sectors: list[list[Any]]) -> ms.PowerPair:
    return ms.power_for_sectors(SIZE, sectors)


def _setup(rt: FakeRuntime, sectors: list[list[Any]], quant: tuple[int, int]) -> tuple[Amt, list[Any]]:
    """A sectors AMT and one partition holding ``sectors``, all active."""
    table = Amt.new(rt.store)
    for s in sectors:
        table.set(s[0], s)
    queue = Amt.new(rt.store)
    ms._add_active_sectors(queue, quant, sectors, SIZE)
    live = _power(sectors)
    partition = [bitfield.encode({s[0] for s in sectors}), b"", b"", b"", queue.flush(),
                 Amt.new(rt.store).flush(), live.encode(), [b"", b""], [b"", b""]]
    return table, partition


def _queue(rt: FakeRuntime, partition: list[Any]) -> dict[int, list[Any]]:
    return dict(Amt.load(rt.store, partition[ms.P_EXPIRATIONS]).items())


def test_quantize_up_and_deadline_info() -> None:
    assert ms.quantize_up(100, 60, 10) == 130
    assert ms.quantize_up(130, 60, 10) == 130
    assert ms.quantize_up(-5, 60, 10) == 10  # Go's truncating division rounds up
    info = ms.DeadlineInfo(period_start=1000, index=3, now=1100)
    assert (info.open, info.close, info.last) == (1180, 1240, 1239)
    assert info.challenge == 1160 and info.fault_cutoff == 1110
    assert not info.fault_cutoff_passed() and not info.is_open()
    late = ms.DeadlineInfo(period_start=1000, index=0, now=1100)
    assert late.elapsed()
    nxt = late.next_not_elapsed()
    assert nxt.period_start == 1000 + ms.WPOST_PROVING_PERIOD and not nxt.elapsed()


def test_power_pair_arithmetic_and_encoding() -> None:
    a = ms.PowerPair(3, 30)
    assert a + ms.PowerPair(1, 10) == ms.PowerPair(4, 40)
    assert (-a).encode() == [encode_bigint(-3), encode_bigint(-30)]
    assert ms.PowerPair.decode(a.encode()) == a
    assert ms.PowerPair().is_zero()


def test_sector_power_uses_deal_weights() -> None:
    plain = _sector(1, 0, 600_000)
    assert ms.sector_qa_power(SIZE, plain) == SIZE
    verified = list(plain)
    duration = plain[5] - plain[4]
    verified[7] = encode_bigint(SIZE * duration)  # all space-time verified
    assert ms.sector_qa_power(SIZE, verified) == 10 * SIZE
    assert qa_power_for_weight(SIZE, duration, SIZE * duration // 2, 0) == SIZE


def test_fault_then_recovery_then_post_round_trip() -> None:
    rt = FakeRuntime()
    dl = ms.DeadlineInfo(period_start=0, index=5, now=100)
    quant = dl.quant()
    early, late = _sector(1, 0, 3_000), _sector(2, 0, 600_000)
    sectors = [early, late]
    table, partition = _setup(rt, sectors, quant)
    before = _queue(rt, partition)
    fault_expiration = dl.last + ms.FAULT_MAX_AGE

    new_faults, power = ms.partition_declare_faults(
        rt, partition, table, {1, 2}, fault_expiration, SIZE, quant  # type: ignore[arg-type]
    )
    assert new_faults == {1, 2} and power == _power(sectors)
    assert bitfield.decode(partition[ms.P_FAULTS]) == {1, 2}
    assert ms.PowerPair.decode(partition[ms.P_FAULTY_POWER]) == power
    queue = _queue(rt, partition)
    # sector 1 expires on time before the fault expiry: it stays, its power faulty
    on_time_1 = queue[ms.quantize_up(3_000, *quant)]
    assert bitfield.decode(on_time_1[ms.E_ON_TIME]) == {1}
    assert ms.PowerPair.decode(on_time_1[ms.E_FAULTY_POWER]) == _power([early])
    # sector 2 moves to the fault expiry as an early expiration
    at_fault = queue[ms.quantize_up(fault_expiration, *quant)]
    assert bitfield.decode(at_fault[ms.E_EARLY]) == {2}
    assert ms.quantize_up(600_000, *quant) not in queue

    # declaring the same faults again changes nothing
    again, power2 = ms.partition_declare_faults(
        rt, partition, table, {1, 2}, fault_expiration, SIZE, quant  # type: ignore[arg-type]
    )
    assert again == set() and power2.is_zero()

    ms.partition_declare_recoveries(rt, partition, table, {2}, SIZE)  # type: ignore[arg-type]
    assert bitfield.decode(partition[ms.P_RECOVERIES]) == {2}
    assert ms.PowerPair.decode(partition[ms.P_RECOVERING_POWER]) == _power([late])

    recovered = ms.partition_recover_faults(rt, partition, table, SIZE, quant)  # type: ignore[arg-type]
    assert recovered == _power([late])
    assert bitfield.decode(partition[ms.P_FAULTS]) == {1}
    assert partition[ms.P_RECOVERIES] == b""
    assert ms.PowerPair.decode(partition[ms.P_FAULTY_POWER]) == _power([early])
    queue = _queue(rt, partition)
    assert bitfield.decode(queue[ms.quantize_up(600_000, *quant)][ms.E_ON_TIME]) == {2}
    assert ms.quantize_up(fault_expiration, *quant) not in queue  # emptied and removed

    # recovering sector 1 too restores the queue exactly
    ms.partition_declare_recoveries(rt, partition, table, {1}, SIZE)  # type: ignore[arg-type]
    ms.partition_recover_faults(rt, partition, table, SIZE, quant)  # type: ignore[arg-type]
    assert _queue(rt, partition) == before
    assert ms.PowerPair.decode(partition[ms.P_FAULTY_POWER]).is_zero()


def test_fault_declaration_retracts_a_recovery() -> None:
    rt = FakeRuntime()
    dl = ms.DeadlineInfo(period_start=0, index=0, now=0)
    sectors = [_sector(7, 0, 600_000)]
    table, partition = _setup(rt, sectors, dl.quant())
    ms.partition_declare_faults(rt, partition, table, {7}, 99_999, SIZE, dl.quant())  # type: ignore[arg-type]
    ms.partition_declare_recoveries(rt, partition, table, {7}, SIZE)  # type: ignore[arg-type]
    new, power = ms.partition_declare_faults(
        rt, partition, table, {7}, 99_999, SIZE, dl.quant()  # type: ignore[arg-type]
    )
    assert new == set() and power.is_zero()
    assert partition[ms.P_RECOVERIES] == b""
    assert ms.PowerPair.decode(partition[ms.P_RECOVERING_POWER]).is_zero()


def test_declarations_must_name_partition_members() -> None:
    rt = FakeRuntime()
    dl = ms.DeadlineInfo(period_start=0, index=0, now=0)
    table, partition = _setup(rt, [_sector(1, 0, 600_000)], dl.quant())
    with pytest.raises(ActorError) as exc:
        ms.partition_declare_faults(rt, partition, table, {1, 9}, 99_999, SIZE, dl.quant())  # type: ignore[arg-type]
    assert exc.value.code == ExitCode.ERR_ILLEGAL_ARGUMENT
    with pytest.raises(ActorError):
        ms.partition_declare_recoveries(rt, partition, table, {9}, SIZE)  # type: ignore[arg-type]


def _deadline(rt: FakeRuntime, partitions: list[list[Any]]) -> list[Any]:
    arr = Amt.new(rt.store)
    for i, p in enumerate(partitions):
        arr.set(i, p)
    live = sum(len(bitfield.decode(p[ms.P_SECTORS])) for p in partitions)
    return [arr.flush(), Amt.new(rt.store).flush(), b"", b"", live, live, [b"", b""]]


def test_window_post_records_skipped_faults_and_submissions() -> None:
    rt = FakeRuntime()
    dl = ms.DeadlineInfo(period_start=0, index=2, now=125)
    quant = dl.quant()
    sectors = [_sector(n, 0, 600_000) for n in (10, 11, 12)]
    table, partition = _setup(rt, sectors, quant)
    deadline = _deadline(rt, [partition])
    fault_expiration = dl.last + ms.FAULT_MAX_AGE
    result = ms.deadline_record_proven_sectors(
        rt, deadline, table, SIZE, quant, fault_expiration, [(0, {11})]  # type: ignore[arg-type]
    )
    assert result.new_faulty_power == _power([sectors[1]])
    assert result.power_delta() == -_power([sectors[1]])
    assert result.sectors == {10, 11, 12} and result.ignored == {11}
    assert bitfield.decode(deadline[ms.D_POST_SUBMISSIONS]) == {0}
    assert ms.PowerPair.decode(deadline[ms.D_FAULTY_POWER]) == _power([sectors[1]])
    # the partition is now listed as expiring (early) at the fault expiry
    exp = dict(Amt.load(rt.store, deadline[ms.D_EXPIRATIONS]).items())
    assert bitfield.decode(exp[ms.quantize_up(fault_expiration, *quant)]) == {0}
    # a second PoSt of the same partition in this period is ignored
    again = ms.deadline_record_proven_sectors(
        rt, deadline, table, SIZE, quant, fault_expiration, [(0, {10})]  # type: ignore[arg-type]
    )
    assert again.sectors == set() and again.new_faulty_power.is_zero()
    with pytest.raises(ActorError) as exc:
        ms.deadline_record_proven_sectors(
            rt, deadline, table, SIZE, quant, fault_expiration, [(1, set())]  # type: ignore[arg-type]
        )
    assert exc.value.code == ExitCode.ERR_NOT_FOUND


def test_bitfield_queue_merges_quantized_entries() -> None:
    rt = FakeRuntime()
    root = Amt.new(rt.store).flush()
    root = ms.add_to_bitfield_queue(rt, root, (60, 7), 100, {1, 2})  # type: ignore[arg-type]
    root = ms.add_to_bitfield_queue(rt, root, (60, 7), 127, {3})  # type: ignore[arg-type]
    root = ms.add_to_bitfield_queue(rt, root, (60, 7), 128, set())  # type: ignore[arg-type]
    entries = {k: bitfield.decode(v) for k, v in Amt.load(rt.store, root).items()}
    assert entries == {127: {1, 2, 3}}


def test_pledge_sum_in_expiration_sets() -> None:
    rt = FakeRuntime()
    quant = (ms.WPOST_PROVING_PERIOD, 59)
    sectors = [_sector(1, 0, 600_000, pledge=5), _sector(2, 0, 600_001, pledge=7)]
    _table, partition = _setup(rt, sectors, quant)
    (only,) = _queue(rt, partition).values()
    assert decode_bigint(only[ms.E_PLEDGE]) == 12
    assert bitfield.decode(only[ms.E_ON_TIME]) == {1, 2}


def test_reschedule_expirations_of_replaced_sectors() -> None:
    """A committed-capacity sector replaced by a new one is moved to an
    earlier on-time expiration; faulty or foreign sectors are left alone."""
    rt = FakeRuntime()
    quant = (ms.WPOST_PROVING_PERIOD, 59)
    sectors = [_sector(1, 0, 600_000), _sector(2, 0, 600_000)]
    table, partition = _setup(rt, sectors, quant)
    partition[ms.P_FAULTS] = bitfield.encode({2})
    deadline = _deadline(rt, [partition])
    ms.deadline_reschedule_expirations(
        rt, deadline, table, 3_000, {0: {1, 2, 99}}, SIZE, quant  # type: ignore[arg-type]
    )
    moved = Amt.load(rt.store, deadline[ms.D_PARTITIONS]).get(0)
    assert moved is not None
    queue = dict(Amt.load(rt.store, moved[ms.P_EXPIRATIONS]).items())
    at = ms.quantize_up(3_000, *quant)
    assert bitfield.decode(queue[at][ms.E_ON_TIME]) == {1}
    assert ms.PowerPair.decode(queue[at][ms.E_ACTIVE_POWER]) == _power([sectors[0]])
    assert bitfield.decode(queue[ms.quantize_up(600_000, *quant)][ms.E_ON_TIME]) == {2}
    exp = dict(Amt.load(rt.store, deadline[ms.D_EXPIRATIONS]).items())
    assert bitfield.decode(exp[at]) == {0}


@pytest.mark.parametrize("field", [ms.E_PLEDGE, ms.E_ACTIVE_POWER])
def test_removing_active_sectors_refuses_an_expiration_set_left_negative(field: int) -> None:
    """Taking sectors out of their expiration set (terminations, replacements) aborts
    with an illegal state when the set holds less pledge or active power than they
    carry, as the actors' ExpirationSet.Remove and ValidateState do, instead of
    storing a negative amount."""
    rt = FakeRuntime()
    quant = (ms.WPOST_PROVING_PERIOD, 59)
    sectors = [_sector(1, 0, 600_000, pledge=5)]
    _table, partition = _setup(rt, sectors, quant)
    queue = Amt.load(rt.store, partition[ms.P_EXPIRATIONS])
    ((epoch, entry),) = queue.items()
    entry = list(entry)
    entry[field] = (encode_bigint(4) if field == ms.E_PLEDGE
                    else (_power(sectors) - ms.PowerPair(1, 1)).encode())
    queue.set(epoch, entry)
    partition[ms.P_EXPIRATIONS] = queue.flush()
    with pytest.raises(ActorError) as refused:
        ms._remove_active_sectors(rt, Amt.load(rt.store, partition[ms.P_EXPIRATIONS]),  # type: ignore[arg-type]
                                  quant, sectors, SIZE)
    assert refused.value.code == ExitCode.ERR_ILLEGAL_STATE
    with pytest.raises(ActorError) as replaced:
        ms.partition_replace_sectors(rt, partition, sectors,  # type: ignore[arg-type]
                                     [_sector(2, 0, 700_000)], SIZE, quant)
    assert replaced.value.code == ExitCode.ERR_ILLEGAL_STATE
