"""The miner's proving bookkeeping (actors v0 layouts): deadlines,
partitions, expiration queues and power pairs, read and written through the
charged store in the order the reference actors use.

Layouts (CBOR tuples):

* Deadlines ``[[deadline CID x 48]]``
* Deadline ``[partitions AMT, expiration epochs AMT (bitfields of partition
  numbers), post submissions, early terminations, live sectors, total
  sectors, faulty power]``
* Partition ``[sectors, faults, recoveries, terminated, expirations AMT,
  early terminated AMT, live power, faulty power, recovering power]``
* ExpirationSet ``[on-time sectors, early sectors, on-time pledge, active
  power, faulty power]``
* SectorOnChainInfo ``[number, seal proof, sealed CID, deal IDs, activation,
  expiration, deal weight, verified deal weight, initial pledge, expected day
  reward, expected storage pledge]``
* PowerPair ``[raw, quality-adjusted]``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainvm.fvm import bitfield
from chainvm.fvm.actors.monies import qa_power_for_weight
from chainvm.fvm.actors.tables import load_amt, typed
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import CID, decode_bigint, encode_bigint
from chainvm.fvm.layouts import check_block
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import Runtime


def load_deadlines(rt: Runtime, cid: CID) -> list[CID]:
    """The 48 deadline CIDs of the Deadlines block at `cid`, checked against its layout."""
    block = rt.store_get(cid)
    check_block("deadlines", cid, block, rt.receiver)
    due: list[CID] = block[0]
    return due


def get_partition(rt: Runtime, partitions: Amt, index: int) -> list[Any] | None:
    """Partition `index` of a deadline's partitions AMT (None if absent), checked against
    the partition layout of this actors version (the table is typed here if it was not)."""
    if partitions.check is None:
        typed(rt, partitions, "partition")
    found: list[Any] | None = partitions.get(index)
    return found


def get_sector(rt: Runtime, sectors: Amt, number: int) -> list[Any] | None:
    """Sector `number`'s info in the sectors AMT (None if absent), checked likewise."""
    if sectors.check is None:
        typed(rt, sectors, "sector info")
    found: list[Any] | None = sectors.get(number)
    return found


def load_deadline(rt: Runtime, cid: CID) -> list[Any]:
    """A Deadline block, checked against its layout."""
    block: list[Any] = rt.store_get(cid)
    check_block("deadline", cid, block, rt.receiver)
    return block

EPOCHS_IN_DAY = 2880
WPOST_PROVING_PERIOD = EPOCHS_IN_DAY
WPOST_CHALLENGE_WINDOW = 60
WPOST_CHALLENGE_LOOKBACK = 20
FAULT_DECLARATION_CUTOFF = WPOST_CHALLENGE_LOOKBACK + 50
FAULT_MAX_AGE = WPOST_PROVING_PERIOD * 14

# partition fields
P_SECTORS, P_FAULTS, P_RECOVERIES, P_TERMINATED, P_EXPIRATIONS = 0, 1, 2, 3, 4
P_EARLY_TERMINATED, P_LIVE_POWER, P_FAULTY_POWER, P_RECOVERING_POWER = 5, 6, 7, 8
# deadline fields
D_PARTITIONS, D_EXPIRATIONS, D_POST_SUBMISSIONS, D_EARLY_TERMINATIONS = 0, 1, 2, 3
D_LIVE_SECTORS, D_TOTAL_SECTORS, D_FAULTY_POWER = 4, 5, 6
# expiration set fields
E_ON_TIME, E_EARLY, E_PLEDGE, E_ACTIVE_POWER, E_FAULTY_POWER = 0, 1, 2, 3, 4


class PowerPair:
    __slots__ = ("qa", "raw")

    def __init__(self, raw: int = 0, qa: int = 0) -> None:
        self.raw = raw
        self.qa = qa

    @classmethod
    def decode(cls, obj: Any) -> PowerPair:
        return cls(decode_bigint(obj[0]), decode_bigint(obj[1]))

    def encode(self) -> list[bytes]:
        return [encode_bigint(self.raw), encode_bigint(self.qa)]

    def __add__(self, other: PowerPair) -> PowerPair:
        return PowerPair(self.raw + other.raw, self.qa + other.qa)

    def __sub__(self, other: PowerPair) -> PowerPair:
        return PowerPair(self.raw - other.raw, self.qa - other.qa)

    def __neg__(self) -> PowerPair:
        return PowerPair(-self.raw, -self.qa)

    def is_zero(self) -> bool:
        return self.raw == 0 and self.qa == 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PowerPair) and (self.raw, self.qa) == (other.raw, other.qa)

    def __repr__(self) -> str:
        return f"PowerPair(raw={self.raw}, qa={self.qa})"


def add_power(obj: Any, delta: PowerPair) -> list[bytes]:
    return (PowerPair.decode(obj) + delta).encode()


# quantisation and deadline arithmetic ------------------------------------------


def _go_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def quantize_up(e: int, unit: int, offset: int) -> int:
    """Round ``e`` up to the next epoch congruent to ``offset`` modulo ``unit``
    (Go's truncating division and remainder, as the reference)."""
    off = offset - unit * _go_div(offset, unit)
    rem = (e - off) - unit * _go_div(e - off, unit)
    quot = _go_div(e - off, unit)
    if rem == 0 or e - off < 0:
        return unit * quot + off
    return unit * (quot + 1) + off


@dataclass(frozen=True)
class DeadlineInfo:
    """One occurrence of a proving deadline, seen at ``now``."""

    period_start: int
    index: int
    now: int

    @property
    def open(self) -> int:
        return self.period_start + self.index * WPOST_CHALLENGE_WINDOW

    @property
    def close(self) -> int:
        return self.open + WPOST_CHALLENGE_WINDOW

    @property
    def last(self) -> int:
        return self.close - 1

    @property
    def challenge(self) -> int:
        return self.open - WPOST_CHALLENGE_LOOKBACK

    @property
    def fault_cutoff(self) -> int:
        return self.open - FAULT_DECLARATION_CUTOFF

    def elapsed(self) -> bool:
        return self.now >= self.close

    def is_open(self) -> bool:
        return self.open <= self.now < self.close

    def fault_cutoff_passed(self) -> bool:
        return self.now >= self.fault_cutoff

    def next_not_elapsed(self) -> DeadlineInfo:
        if not self.elapsed():
            return self
        gap = self.now - self.close
        delta = (gap // WPOST_PROVING_PERIOD + 1) * WPOST_PROVING_PERIOD
        return DeadlineInfo(self.period_start + delta, self.index, self.now)

    def quant(self) -> tuple[int, int]:
        """Quantisation of expirations assigned to this deadline."""
        return WPOST_PROVING_PERIOD, self.last


# sectors -----------------------------------------------------------------------


def sector_qa_power(size: int, sector: list[Any]) -> int:
    return qa_power_for_weight(
        size, sector[5] - sector[4], decode_bigint(sector[6]), decode_bigint(sector[7])
    )


def power_for_sectors(size: int, sectors: list[list[Any]]) -> PowerPair:
    total = PowerPair()
    for s in sectors:
        total = total + PowerPair(size, sector_qa_power(size, s))
    return total


def load_sectors(rt: Runtime, sectors: Amt, numbers: set[int]) -> list[list[Any]]:
    """Sector infos in ascending sector number; a missing one aborts."""
    out = []
    for n in sorted(numbers):
        info = get_sector(rt, sectors, n)
        if info is None:
            rt.abort(ExitCode.ERR_NOT_FOUND, f"can't find sector {n}")
        out.append(info)
    return out


# queues --------------------------------------------------------------------------


def add_to_bitfield_queue(
    rt: Runtime, root: CID, quant: tuple[int, int], epoch: int, values: set[int]
) -> CID:
    """Merge ``values`` into the entry of ``epoch`` (quantised up) of an AMT of
    bitfields; nothing is loaded when there is nothing to add."""
    queue = load_amt(rt, root, "bit-field queue entry")
    if values:
        at = quantize_up(epoch, *quant)
        prev = queue.get(at)
        merged = set(values) if prev is None else bitfield.decode(prev) | values
        queue.set(at, bitfield.encode(merged))
    return queue.flush()


def _empty_expiration_set() -> list[Any]:
    return [b"", b"", b"", [b"", b""], [b"", b""]]


def _expiration_set_empty(es: list[Any]) -> bool:
    return not bitfield.decode(es[E_ON_TIME]) and not bitfield.decode(es[E_EARLY])


def _group_by_expiration(
    size: int, sectors: list[list[Any]], quant: tuple[int, int]
) -> list[tuple[int, list[int], PowerPair, int]]:
    groups: dict[int, list[list[Any]]] = {}
    for s in sectors:
        groups.setdefault(quantize_up(s[5], *quant), []).append(s)
    out = []
    for epoch in sorted(groups):
        members = groups[epoch]
        pledge = sum(decode_bigint(s[8]) for s in members)
        out.append((epoch, [s[0] for s in members], power_for_sectors(size, members), pledge))
    return out


def reschedule_as_faults(
    rt: Runtime,
    queue: Amt,
    quant: tuple[int, int],
    new_expiration: int,
    sectors: list[list[Any]],
    size: int,
) -> PowerPair:
    """Sectors turning faulty expire early at ``new_expiration`` unless due
    on time before it; returns the power now faulty."""
    moved: list[int] = []
    expiring = PowerPair()
    rescheduled = PowerPair()
    for epoch, numbers, power, pledge in _group_by_expiration(size, sectors, quant):
        es = queue.get(epoch)
        if es is None:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"missing expected expiration set at {epoch}")
        es = list(es)
        if epoch <= quantize_up(new_expiration, *quant):
            es[E_ACTIVE_POWER] = add_power(es[E_ACTIVE_POWER], -power)
            es[E_FAULTY_POWER] = add_power(es[E_FAULTY_POWER], power)
            expiring = expiring + power
        else:
            es[E_ON_TIME] = bitfield.encode(bitfield.decode(es[E_ON_TIME]) - set(numbers))
            es[E_PLEDGE] = encode_bigint(decode_bigint(es[E_PLEDGE]) - pledge)
            es[E_ACTIVE_POWER] = add_power(es[E_ACTIVE_POWER], -power)
            moved.extend(numbers)
            rescheduled = rescheduled + power
        if _expiration_set_empty(es):
            queue.delete(epoch)
        else:
            queue.set(epoch, es)
    if moved:
        at = quantize_up(new_expiration, *quant)
        es = queue.get(at)
        es = _empty_expiration_set() if es is None else list(es)
        es[E_EARLY] = bitfield.encode(bitfield.decode(es[E_EARLY]) | set(moved))
        es[E_FAULTY_POWER] = add_power(es[E_FAULTY_POWER], rescheduled)
        queue.set(at, es)
    return rescheduled + expiring


# partitions ----------------------------------------------------------------------


def _require_members(rt: Runtime, partition: list[Any], numbers: set[int], code: int) -> None:
    if not numbers <= bitfield.decode(partition[P_SECTORS]):
        rt.abort(code, "not all sectors are assigned to the partition")


def partition_declare_faults(
    rt: Runtime,
    partition: list[Any],
    sectors: Amt,
    numbers: set[int],
    fault_expiration: int,
    size: int,
    quant: tuple[int, int],
) -> tuple[set[int], PowerPair]:
    """Mark sectors faulty (a declared recovery is retracted instead);
    returns the new faults and their power."""
    _require_members(rt, partition, numbers, ExitCode.ERR_ILLEGAL_ARGUMENT)
    recoveries = bitfield.decode(partition[P_RECOVERIES])
    retracted = recoveries & numbers
    new_faults = numbers - retracted
    new_faults -= bitfield.decode(partition[P_TERMINATED])
    faults = bitfield.decode(partition[P_FAULTS])
    new_faults -= faults
    new_power = PowerPair()
    fault_infos = load_sectors(rt, sectors, new_faults)
    if fault_infos:
        queue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
        new_power = reschedule_as_faults(rt, queue, quant, fault_expiration, fault_infos, size)
        partition[P_EXPIRATIONS] = queue.flush()
        partition[P_FAULTS] = bitfield.encode(faults | new_faults)
        partition[P_FAULTY_POWER] = add_power(partition[P_FAULTY_POWER], new_power)
    retracted_infos = load_sectors(rt, sectors, retracted)
    if retracted_infos:
        power = power_for_sectors(size, retracted_infos)
        partition[P_RECOVERIES] = bitfield.encode(recoveries - retracted)
        partition[P_RECOVERING_POWER] = add_power(partition[P_RECOVERING_POWER], -power)
    return new_faults, new_power


def partition_declare_recoveries(
    rt: Runtime, partition: list[Any], sectors: Amt, numbers: set[int], size: int
) -> None:
    """Faulty sectors the miner expects to prove again at the next PoSt."""
    # the deadline wraps the partition's "illegal argument" as illegal state
    _require_members(rt, partition, numbers, ExitCode.ERR_ILLEGAL_STATE)
    current = bitfield.decode(partition[P_RECOVERIES])
    new = (numbers & bitfield.decode(partition[P_FAULTS])) - current
    infos = load_sectors(rt, sectors, new)
    partition[P_RECOVERIES] = bitfield.encode(current | new)
    partition[P_RECOVERING_POWER] = add_power(
        partition[P_RECOVERING_POWER], power_for_sectors(size, infos)
    )


def load_partition(rt: Runtime, partitions: Amt, index: int) -> list[Any]:
    found = get_partition(rt, partitions, index)
    if found is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, f"no such partition {index}")
    return list(found)


def _add_active_sectors(
    queue: Amt, quant: tuple[int, int], sectors: list[list[Any]], size: int
) -> None:
    for epoch, numbers, power, pledge in _group_by_expiration(size, sectors, quant):
        es = queue.get(epoch)
        es = _empty_expiration_set() if es is None else list(es)
        es[E_ON_TIME] = bitfield.encode(bitfield.decode(es[E_ON_TIME]) | set(numbers))
        es[E_PLEDGE] = encode_bigint(decode_bigint(es[E_PLEDGE]) + pledge)
        es[E_ACTIVE_POWER] = add_power(es[E_ACTIVE_POWER], power)
        queue.set(epoch, es)


def reschedule_recovered(
    rt: Runtime, queue: Amt, quant: tuple[int, int], sectors: list[list[Any]], size: int
) -> PowerPair:
    """Recovered sectors get their power back as active; those moved to an
    early (fault) expiration go back to their on-time expiration. The queue
    is walked from its first entry until every sector is found."""
    remaining = {s[0] for s in sectors}
    rescheduled: list[list[Any]] = []
    recovered = PowerPair()
    emptied: list[int] = []
    for epoch, raw in queue.for_each_stored():
        es = list(raw)
        on_time = bitfield.decode(es[E_ON_TIME])
        early = bitfield.decode(es[E_EARLY])
        changed = False
        for s in sectors:
            power = PowerPair(size, sector_qa_power(size, s))
            found = False
            if s[0] in on_time:
                found = True
                es[E_FAULTY_POWER] = add_power(es[E_FAULTY_POWER], -power)
                es[E_ACTIVE_POWER] = add_power(es[E_ACTIVE_POWER], power)
            elif s[0] in early:
                found = True
                early.discard(s[0])
                es[E_EARLY] = bitfield.encode(early)
                es[E_FAULTY_POWER] = add_power(es[E_FAULTY_POWER], -power)
                rescheduled.append(s)
            if found:
                recovered = recovered + power
                remaining.discard(s[0])
                changed = True
        if changed:
            if _expiration_set_empty(es):
                emptied.append(epoch)
            else:
                queue.set(epoch, es)
        if not remaining:
            break
    for epoch in emptied:
        queue.delete(epoch)
    if remaining:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"sectors not found in expiration queue: {remaining}")
    _add_active_sectors(queue, quant, rescheduled, size)
    return recovered


def partition_record_skipped_faults(
    rt: Runtime,
    partition: list[Any],
    sectors: Amt,
    size: int,
    quant: tuple[int, int],
    fault_expiration: int,
    skipped: set[int],
) -> tuple[PowerPair, PowerPair]:
    """Sectors a PoSt skips become faulty (a declared recovery among them is
    retracted); returns (new faulty power, retracted recovery power)."""
    if not skipped:
        return PowerPair(), PowerPair()
    if not skipped <= bitfield.decode(partition[P_SECTORS]):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "skipped faults contains sectors outside partition")
    recoveries = bitfield.decode(partition[P_RECOVERIES])
    retracted = recoveries & skipped
    retracted_power = power_for_sectors(size, load_sectors(rt, sectors, retracted))
    faults = bitfield.decode(partition[P_FAULTS])
    new_faults = skipped - bitfield.decode(partition[P_TERMINATED]) - faults
    infos = load_sectors(rt, sectors, new_faults)
    queue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
    new_power = reschedule_as_faults(rt, queue, quant, fault_expiration, infos, size)
    partition[P_EXPIRATIONS] = queue.flush()
    partition[P_FAULTS] = bitfield.encode(faults | new_faults)
    partition[P_FAULTY_POWER] = add_power(partition[P_FAULTY_POWER], new_power)
    if retracted:
        partition[P_RECOVERIES] = bitfield.encode(recoveries - retracted)
        partition[P_RECOVERING_POWER] = add_power(partition[P_RECOVERING_POWER], -retracted_power)
    return new_power, retracted_power


def partition_recover_faults(
    rt: Runtime, partition: list[Any], sectors: Amt, size: int, quant: tuple[int, int]
) -> PowerPair:
    """Declared recoveries, assumed proven by the PoSt being recorded."""
    recoveries = bitfield.decode(partition[P_RECOVERIES])
    infos = load_sectors(rt, sectors, recoveries)
    queue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
    power = reschedule_recovered(rt, queue, quant, infos, size)
    partition[P_EXPIRATIONS] = queue.flush()
    partition[P_FAULTS] = bitfield.encode(bitfield.decode(partition[P_FAULTS]) - recoveries)
    partition[P_RECOVERIES] = b""
    partition[P_FAULTY_POWER] = add_power(partition[P_FAULTY_POWER], -power)
    partition[P_RECOVERING_POWER] = add_power(partition[P_RECOVERING_POWER], -power)
    return power


@dataclass
class PoStResult:
    new_faulty_power: PowerPair
    retracted_recovery_power: PowerPair
    recovered_power: PowerPair
    sectors: set[int]
    ignored: set[int]

    def power_delta(self) -> PowerPair:
        return self.recovered_power - self.new_faulty_power

    def penalty_power(self) -> PowerPair:
        return self.new_faulty_power + self.retracted_recovery_power


def deadline_record_proven_sectors(
    rt: Runtime,
    deadline: list[Any],
    sectors: Amt,
    size: int,
    quant: tuple[int, int],
    fault_expiration: int,
    posts: list[tuple[int, set[int]]],
) -> PoStResult:
    """Record a window PoSt over some partitions of a deadline (skipping
    partitions already proven this period)."""
    partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
    submitted = bitfield.decode(deadline[D_POST_SUBMISSIONS])
    result = PoStResult(PowerPair(), PowerPair(), PowerPair(), set(), set())
    rescheduled: set[int] = set()
    for index, skipped in posts:
        if index in submitted:
            continue
        partition = load_partition(rt, partitions, index)
        new_faulty, retracted = partition_record_skipped_faults(
            rt, partition, sectors, size, quant, fault_expiration, skipped
        )
        if not new_faulty.is_zero():
            rescheduled.add(index)
        recovered = partition_recover_faults(rt, partition, sectors, size, quant)
        partitions.set(index, partition)
        result.new_faulty_power = result.new_faulty_power + new_faulty
        result.retracted_recovery_power = result.retracted_recovery_power + retracted
        result.recovered_power = result.recovered_power + recovered
        submitted.add(index)
        result.sectors |= bitfield.decode(partition[P_SECTORS])
        result.ignored |= bitfield.decode(partition[P_FAULTS])
        result.ignored |= bitfield.decode(partition[P_TERMINATED])
    deadline[D_POST_SUBMISSIONS] = bitfield.encode(submitted)
    if rescheduled:
        deadline[D_EXPIRATIONS] = add_to_bitfield_queue(
            rt, deadline[D_EXPIRATIONS], quant, fault_expiration, rescheduled
        )
    deadline[D_FAULTY_POWER] = add_power(
        deadline[D_FAULTY_POWER], result.new_faulty_power - result.recovered_power
    )
    deadline[D_PARTITIONS] = partitions.flush()
    return result


# new sectors ---------------------------------------------------------------------


def deadline_is_mutable(period_start: int, index: int, now: int) -> bool:
    """New sectors go only to deadlines at least a challenge window away from opening."""
    info = DeadlineInfo(period_start, index, now).next_not_elapsed()
    return now < info.open - WPOST_CHALLENGE_WINDOW


def assign_deadlines(partition_size: int, loads: dict[int, tuple[int, int]], count: int) -> list[int]:
    """The deadline each of ``count`` new sectors goes to, given each mutable
    deadline's (live, total) sector counts: one at a time to the deadline
    that would end up with the fewest (compact, then total) partitions,
    preferring a non-full one, then the fuller of non-full ones, then the
    fewest live sectors, then the lowest index."""
    state = {i: list(v) for i, v in loads.items()}

    def partitions_after(n: int) -> int:
        return -(-(n + 1) // partition_size)

    def rank(i: int) -> tuple[int, ...]:
        live, total = state[i]
        full_now = total % partition_size == 0
        return (
            partitions_after(live),
            partitions_after(total),
            1 if full_now else 0,
            0 if full_now else -total,
            live,
            i,
        )

    order = []
    for _ in range(count):
        best = min(state, key=rank)
        state[best][0] += 1
        state[best][1] += 1
        order.append(best)
    return order


def _empty_partition(empty_array: CID) -> list[Any]:
    return [b"", b"", b"", b"", empty_array, empty_array, [b"", b""], [b"", b""], [b"", b""]]


def deadline_add_sectors(
    rt: Runtime,
    deadline: list[Any],
    partition_size: int,
    sectors: list[list[Any]],
    size: int,
    quant: tuple[int, int],
) -> PowerPair:
    """Fill the last partition, then new ones; record the partitions'
    expirations in the deadline's queue. Returns the power added."""
    if not sectors:
        return PowerPair()
    deadline[D_LIVE_SECTORS] += len(sectors)
    deadline[D_TOTAL_SECTORS] += len(sectors)
    partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
    index = max(partitions.count - 1, 0)
    remaining = list(sectors)
    new_power = PowerPair()
    updates: dict[int, list[int]] = {}
    while remaining:
        found = get_partition(rt, partitions, index)
        if found is None:
            partition = _empty_partition(Amt.new(rt.store).flush())
        else:
            partition = list(found)
        members = bitfield.decode(partition[P_SECTORS])
        if len(members) >= partition_size:
            index += 1
            continue
        take = min(partition_size - len(members), len(remaining))
        batch, remaining = remaining[:take], remaining[take:]
        queue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
        _add_active_sectors(queue, quant, batch, size)
        partition[P_EXPIRATIONS] = queue.flush()
        numbers = {s[0] for s in batch}
        if numbers & members:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "not all added sectors are new")
        power = power_for_sectors(size, batch)
        partition[P_SECTORS] = bitfield.encode(members | numbers)
        partition[P_LIVE_POWER] = add_power(partition[P_LIVE_POWER], power)
        new_power = new_power + power
        partitions.set(index, partition)
        for s in batch:
            entry = updates.setdefault(s[5], [])
            if not entry or entry[-1] != index:
                entry.append(index)
        index += 1
    deadline[D_PARTITIONS] = partitions.flush()
    queue = load_amt(rt, deadline[D_EXPIRATIONS], "bit-field queue entry")
    epochs = sorted(quantize_up(e, *quant) for e in updates)
    by_epoch: dict[int, set[int]] = {}
    for raw, parts in updates.items():
        by_epoch.setdefault(quantize_up(raw, *quant), set()).update(parts)
    for epoch in epochs:  # once per raw epoch, like the reference
        prev = queue.get(epoch)
        merged = by_epoch[epoch] | (set() if prev is None else bitfield.decode(prev))
        queue.set(epoch, bitfield.encode(merged))
    deadline[D_EXPIRATIONS] = queue.flush()
    return new_power


def assign_sectors_to_deadlines(
    rt: Runtime,
    deadlines_root: CID,
    period_start: int,
    now: int,
    sectors: list[list[Any]],
    partition_size: int,
    size: int,
) -> tuple[CID, PowerPair]:
    """Spread newly proven sectors over the mutable deadlines; returns the
    new deadlines root and the power added."""
    deadlines = list(load_deadlines(rt, deadlines_root))
    sectors = sorted(sectors, key=lambda s: s[0])
    candidates: dict[int, list[Any]] = {}
    for index, cid in enumerate(deadlines):
        dl = list(load_deadline(rt, cid))
        if deadline_is_mutable(period_start, index, now):
            candidates[index] = dl
    loads = {i: (dl[D_LIVE_SECTORS], dl[D_TOTAL_SECTORS]) for i, dl in candidates.items()}
    per_deadline: dict[int, list[list[Any]]] = {}
    for sector, index in zip(
        sectors, assign_deadlines(partition_size, loads, len(sectors)), strict=True
    ):
        per_deadline.setdefault(index, []).append(sector)
    total = PowerPair()
    for index in sorted(per_deadline):
        dl = candidates[index]
        quant = DeadlineInfo(period_start, index, 0).quant()
        total = total + deadline_add_sectors(rt, dl, partition_size, per_deadline[index], size, quant)
        deadlines[index] = rt.store_put(dl)
    return rt.store_put([deadlines]), total


# deadline end ------------------------------------------------------------------------


def pop_bitfield_queue(rt: Runtime, queue: Amt, until: int) -> tuple[set[int], bool]:
    """Remove and merge every entry up to ``until``; (values, modified)."""
    popped: list[int] = []
    values: set[int] = set()
    for epoch, raw in queue.for_each_stored():
        if epoch > until:
            break
        popped.append(epoch)
        values |= bitfield.decode(raw)
    for epoch in popped:
        queue.delete(epoch)
    return values, bool(popped)


def _pop_expiration_queue(queue: Amt, until: int) -> list[Any]:
    on_time: set[int] = set()
    early: set[int] = set()
    active, faulty, pledge = PowerPair(), PowerPair(), 0
    popped = []
    for epoch, es in queue.for_each_stored():
        if epoch > until:
            break
        popped.append(epoch)
        on_time |= bitfield.decode(es[E_ON_TIME])
        early |= bitfield.decode(es[E_EARLY])
        active = active + PowerPair.decode(es[E_ACTIVE_POWER])
        faulty = faulty + PowerPair.decode(es[E_FAULTY_POWER])
        pledge += decode_bigint(es[E_PLEDGE])
    for epoch in popped:
        queue.delete(epoch)
    return [on_time, early, pledge, active, faulty]


def _reschedule_all_as_faults(queue: Amt, quant: tuple[int, int], fault_expiration: int) -> None:
    """A missed PoSt: everything due by the fault expiry turns faulty in
    place; everything due later moves there as early, faulty expirations."""
    moved_epochs: list[int] = []
    moved: set[int] = set()
    moved_power = PowerPair()
    limit = quantize_up(fault_expiration, *quant)
    for epoch, raw in queue.for_each_stored():
        es = list(raw)
        if epoch <= limit:
            es[E_FAULTY_POWER] = add_power(es[E_FAULTY_POWER], PowerPair.decode(es[E_ACTIVE_POWER]))
            es[E_ACTIVE_POWER] = [b"", b""]
            queue.set(epoch, es)
        else:
            moved_epochs.append(epoch)
            moved |= bitfield.decode(es[E_ON_TIME]) | bitfield.decode(es[E_EARLY])
            moved_power = moved_power + PowerPair.decode(es[E_ACTIVE_POWER])
            moved_power = moved_power + PowerPair.decode(es[E_FAULTY_POWER])
    if not moved_epochs:
        return
    at = quantize_up(fault_expiration, *quant)
    found = queue.get(at)
    target = _empty_expiration_set() if found is None else list(found)
    target[E_EARLY] = bitfield.encode(bitfield.decode(target[E_EARLY]) | moved)
    target[E_FAULTY_POWER] = add_power(target[E_FAULTY_POWER], moved_power)
    queue.set(at, target)
    for epoch in moved_epochs:
        queue.delete(epoch)


def deadline_process_end(
    rt: Runtime, deadline: list[Any], quant: tuple[int, int], fault_expiration: int
) -> tuple[PowerPair, PowerPair]:
    """At a deadline's close, every live partition without a PoSt becomes
    entirely faulty; returns (new faulty power, failed recovery power)."""
    partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
    submitted = bitfield.decode(deadline[D_POST_SUBMISSIONS])
    new_faulty, failed_recovery = PowerPair(), PowerPair()
    detected = False
    rescheduled: set[int] = set()
    for index in range(partitions.count):
        if index in submitted:
            continue
        found = get_partition(rt, partitions, index)
        if found is None:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"no partition {index}")
        partition = list(found)
        recovering = PowerPair.decode(partition[P_RECOVERING_POWER])
        live = PowerPair.decode(partition[P_LIVE_POWER])
        faulty = PowerPair.decode(partition[P_FAULTY_POWER])
        if recovering.is_zero() and faulty == live:
            continue
        detected = True
        queue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
        _reschedule_all_as_faults(queue, quant, fault_expiration)
        partition[P_EXPIRATIONS] = queue.flush()
        part_new = live - faulty
        live_sectors = bitfield.decode(partition[P_SECTORS]) - bitfield.decode(
            partition[P_TERMINATED]
        )
        partition[P_FAULTS] = bitfield.encode(live_sectors)
        partition[P_RECOVERIES] = b""
        partition[P_FAULTY_POWER] = live.encode()
        partition[P_RECOVERING_POWER] = [b"", b""]
        if not part_new.is_zero():
            rescheduled.add(index)
        partitions.set(index, partition)
        new_faulty = new_faulty + part_new
        failed_recovery = failed_recovery + recovering
    if detected:
        deadline[D_PARTITIONS] = partitions.flush()
    if rescheduled:
        deadline[D_EXPIRATIONS] = add_to_bitfield_queue(
            rt, deadline[D_EXPIRATIONS], quant, fault_expiration, rescheduled
        )
    deadline[D_FAULTY_POWER] = add_power(deadline[D_FAULTY_POWER], new_faulty)
    deadline[D_POST_SUBMISSIONS] = b""
    return new_faulty, failed_recovery


def deadline_pop_expired(
    rt: Runtime, deadline: list[Any], until: int, quant: tuple[int, int]
) -> list[Any]:
    """Sectors expiring by ``until`` (on time, or early after faults too
    long) leave their partitions: [on-time, early, on-time pledge, active
    power, faulty power]."""
    queue = load_amt(rt, deadline[D_EXPIRATIONS], "bit-field queue entry")
    expired_partitions, modified = pop_bitfield_queue(rt, queue, until)
    total: list[Any] = [set(), set(), 0, PowerPair(), PowerPair()]
    if not modified:
        return total
    deadline[D_EXPIRATIONS] = queue.flush()
    partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
    with_early: list[int] = []
    for index in sorted(expired_partitions):
        found = get_partition(rt, partitions, index)
        if found is None:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"missing expected partition {index}")
        partition = list(found)
        pqueue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
        popped = _pop_expiration_queue(pqueue, until)
        partition[P_EXPIRATIONS] = pqueue.flush()
        expired = popped[0] | popped[1]
        if partition[P_RECOVERIES] != b"" or not PowerPair.decode(
            partition[P_RECOVERING_POWER]
        ).is_zero():
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "unexpected recoveries while processing expirations")
        terminated = bitfield.decode(partition[P_TERMINATED])
        if expired & terminated:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "expiring sectors already terminated")
        partition[P_TERMINATED] = bitfield.encode(terminated | expired)
        partition[P_FAULTS] = bitfield.encode(bitfield.decode(partition[P_FAULTS]) - expired)
        partition[P_LIVE_POWER] = add_power(partition[P_LIVE_POWER], -(popped[3] + popped[4]))
        partition[P_FAULTY_POWER] = add_power(partition[P_FAULTY_POWER], -popped[4])
        # sectors expiring early are recorded for their termination fee
        early_queue = load_amt(rt, partition[P_EARLY_TERMINATED], "bit-field queue entry")
        if popped[1]:
            prev = early_queue.get(until)
            merged = popped[1] | (set() if prev is None else bitfield.decode(prev))
            early_queue.set(until, bitfield.encode(merged))
        partition[P_EARLY_TERMINATED] = early_queue.flush()
        if popped[1]:
            with_early.append(index)
        partitions.set(index, partition)
        total[0] |= popped[0]
        total[1] |= popped[1]
        total[2] += popped[2]
        total[3] = total[3] + popped[3]
        total[4] = total[4] + popped[4]
    deadline[D_PARTITIONS] = partitions.flush()
    if with_early:
        deadline[D_EARLY_TERMINATIONS] = bitfield.encode(
            bitfield.decode(deadline[D_EARLY_TERMINATIONS]) | set(with_early)
        )
    deadline[D_LIVE_SECTORS] -= len(total[0]) + len(total[1])
    deadline[D_FAULTY_POWER] = add_power(deadline[D_FAULTY_POWER], -total[4])
    return total


def partition_replace_sectors(
    rt: Runtime,
    partition: list[Any],
    old: list[list[Any]],
    new: list[list[Any]],
    size: int,
    quant: tuple[int, int],
) -> tuple[PowerPair, int]:
    """Swap sectors for new versions of themselves (an extended expiration):
    they leave their expiration entries and join the new ones; the removed
    ones must be active. Returns (power delta, pledge delta)."""
    queue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
    old_numbers, old_power, old_pledge = _remove_active_sectors(rt, queue, quant, old, size)
    _add_active_sectors(queue, quant, new, size)
    new_power = power_for_sectors(size, new)
    new_pledge = sum(decode_bigint(s[8]) for s in new)
    partition[P_EXPIRATIONS] = queue.flush()
    members = bitfield.decode(partition[P_SECTORS])
    active_now = members - bitfield.decode(partition[P_TERMINATED]) - bitfield.decode(
        partition[P_FAULTS]
    )
    if not old_numbers <= active_now:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, "refusing to replace inactive sectors")
    partition[P_SECTORS] = bitfield.encode((members - old_numbers) | {s[0] for s in new})
    delta = new_power - old_power
    partition[P_LIVE_POWER] = add_power(partition[P_LIVE_POWER], delta)
    return delta, new_pledge - old_pledge


# terminations ---------------------------------------------------------------------


def remove_sectors(
    rt: Runtime,
    queue: Amt,
    quant: tuple[int, int],
    sectors: list[list[Any]],
    faults: set[int],
    recovering: set[int],
    size: int,
) -> tuple[list[Any], PowerPair]:
    """Take sectors out of an expiration queue wherever they are (healthy ones
    at their on-time entry, faulty ones searched from the front); returns the
    removed [on-time, early, pledge, active power, faulty power] and the
    recovering power among them."""
    removed: list[Any] = [set(), set(), 0, PowerPair(), PowerPair()]
    recovering_power = PowerPair()
    healthy = [s for s in sectors if s[0] not in faults]
    faulty = [s for s in sectors if s[0] in faults]
    numbers, power, pledge = _remove_active_sectors(rt, queue, quant, healthy, size)
    removed[0].update(numbers)
    removed[2] += pledge
    removed[3] = removed[3] + power
    remaining = {s[0] for s in faulty}
    emptied = []
    if remaining:
        for epoch, raw in queue.for_each_stored():
            es = list(raw)
            on_time = bitfield.decode(es[E_ON_TIME])
            early = bitfield.decode(es[E_EARLY])
            changed = False
            for s in faulty:
                n = s[0]
                if n in on_time:
                    on_time.discard(n)
                    removed[0].add(n)
                    es[E_PLEDGE] = encode_bigint(decode_bigint(es[E_PLEDGE]) - decode_bigint(s[8]))
                    removed[2] += decode_bigint(s[8])
                elif n in early:
                    early.discard(n)
                    removed[1].add(n)
                else:
                    continue
                power = PowerPair(size, sector_qa_power(size, s))
                es[E_FAULTY_POWER] = add_power(es[E_FAULTY_POWER], -power)
                removed[4] = removed[4] + power
                if n in recovering:
                    recovering_power = recovering_power + power
                remaining.discard(n)
                changed = True
            if changed:
                es[E_ON_TIME] = bitfield.encode(on_time)
                es[E_EARLY] = bitfield.encode(early)
                if _expiration_set_empty(es):
                    emptied.append(epoch)
                else:
                    queue.set(epoch, es)
            if not remaining:
                break
    for epoch in emptied:
        queue.delete(epoch)
    if remaining:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"sectors not found in expiration queue: {remaining}")
    return removed, recovering_power


def _record_early_termination(rt: Runtime, partition: list[Any], epoch: int, numbers: set[int]) -> None:
    queue = load_amt(rt, partition[P_EARLY_TERMINATED], "bit-field queue entry")
    if numbers:
        prev = queue.get(epoch)
        queue.set(epoch, bitfield.encode(numbers | (set() if prev is None else bitfield.decode(prev))))
    partition[P_EARLY_TERMINATED] = queue.flush()


def deadline_terminate_sectors(
    rt: Runtime,
    deadline: list[Any],
    sectors: Amt,
    epoch: int,
    by_partition: dict[int, set[int]],
    size: int,
    quant: tuple[int, int],
) -> PowerPair:
    """Terminate live sectors now; their fees are charged later, when the
    early terminations are processed. Returns the active power lost."""
    partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
    lost = PowerPair()
    early = bitfield.decode(deadline[D_EARLY_TERMINATIONS])
    for index in sorted(by_partition):
        partition = load_partition(rt, partitions, index)
        numbers = by_partition[index]
        live = bitfield.decode(partition[P_SECTORS]) - bitfield.decode(partition[P_TERMINATED])
        if not numbers <= live:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "can only terminate live sectors")
        infos = load_sectors(rt, sectors, numbers)
        queue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
        faults = bitfield.decode(partition[P_FAULTS])
        recoveries = bitfield.decode(partition[P_RECOVERIES])
        removed, removed_recovering = remove_sectors(
            rt, queue, quant, infos, faults, recoveries, size
        )
        partition[P_EXPIRATIONS] = queue.flush()
        gone = removed[0] | removed[1]
        _record_early_termination(rt, partition, epoch, gone)
        partition[P_FAULTS] = bitfield.encode(faults - gone)
        partition[P_RECOVERIES] = bitfield.encode(recoveries - gone)
        partition[P_TERMINATED] = bitfield.encode(bitfield.decode(partition[P_TERMINATED]) | gone)
        partition[P_LIVE_POWER] = add_power(partition[P_LIVE_POWER], -(removed[3] + removed[4]))
        partition[P_FAULTY_POWER] = add_power(partition[P_FAULTY_POWER], -removed[4])
        partition[P_RECOVERING_POWER] = add_power(partition[P_RECOVERING_POWER], -removed_recovering)
        partitions.set(index, partition)
        if gone:
            early.add(index)
            deadline[D_LIVE_SECTORS] -= len(gone)
        deadline[D_FAULTY_POWER] = add_power(deadline[D_FAULTY_POWER], -removed[4])
        lost = lost + removed[3]
    deadline[D_EARLY_TERMINATIONS] = bitfield.encode(early)
    deadline[D_PARTITIONS] = partitions.flush()
    return lost


@dataclass
class TerminationResult:
    sectors: dict[int, set[int]]
    partitions_processed: int = 0
    sectors_processed: int = 0

    def add(self, other: TerminationResult) -> None:
        self.partitions_processed += other.partitions_processed
        self.sectors_processed += other.sectors_processed
        for epoch, numbers in other.sectors.items():
            self.sectors.setdefault(epoch, set()).update(numbers)

    def below_limit(self, max_partitions: int, max_sectors: int) -> bool:
        return self.partitions_processed < max_partitions and self.sectors_processed < max_sectors


def _partition_pop_early(
    rt: Runtime, partition: list[Any], max_sectors: int
) -> tuple[TerminationResult, bool]:
    queue = load_amt(rt, partition[P_EARLY_TERMINATED], "bit-field queue entry")
    result = TerminationResult({}, partitions_processed=1)
    processed: list[int] = []
    remainder: tuple[int, set[int]] | None = None
    for epoch, raw in queue.for_each_stored():
        numbers = sorted(bitfield.decode(raw))
        limit = max_sectors - result.sectors_processed
        if limit < len(numbers):
            take = set(numbers[:limit])
            remainder = (epoch, set(numbers[limit:]))
            result.sectors_processed += limit
        else:
            take = set(numbers)
            processed.append(epoch)
            result.sectors_processed += len(numbers)
        result.sectors[epoch] = take
        if result.sectors_processed >= max_sectors:
            break
    for epoch in processed:
        queue.delete(epoch)
    if remainder is not None:
        queue.set(remainder[0], bitfield.encode(remainder[1]))
    partition[P_EARLY_TERMINATED] = queue.flush()
    return result, queue.count > 0


def pop_early_terminations(
    rt: Runtime, st_deadlines: CID, deadlines_with_early: set[int], max_partitions: int,
    max_sectors: int,
) -> tuple[TerminationResult, CID, set[int]]:
    """Take up to the limits of terminated sectors whose fees are due, over
    the deadlines listed; returns them (by termination epoch), the new
    deadlines root and the deadlines still holding some."""
    result = TerminationResult({})
    deadlines = list(load_deadlines(rt, st_deadlines))
    remaining = set(deadlines_with_early)
    for dl_index in sorted(deadlines_with_early):
        deadline = list(load_deadline(rt, deadlines[dl_index]))
        partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
        dl_result = TerminationResult({})
        finished = []
        for index in sorted(bitfield.decode(deadline[D_EARLY_TERMINATIONS])):
            found = get_partition(rt, partitions, index)
            if found is None:
                finished.append(index)
                continue
            partition = list(found)
            part_result, more = _partition_pop_early(
                rt, partition, max_sectors - result.sectors_processed - dl_result.sectors_processed
            )
            dl_result.add(part_result)
            if not more:
                finished.append(index)
            partitions.set(index, partition)
            if not _combined(result, dl_result).below_limit(max_partitions, max_sectors):
                break
        early = bitfield.decode(deadline[D_EARLY_TERMINATIONS]) - set(finished)
        deadline[D_EARLY_TERMINATIONS] = bitfield.encode(early)
        deadline[D_PARTITIONS] = partitions.flush()
        result.add(dl_result)
        if not early:
            remaining.discard(dl_index)
        deadlines[dl_index] = rt.store_put(deadline)
        if not result.below_limit(max_partitions, max_sectors):
            break
    return result, rt.store_put([deadlines]), remaining


def _combined(a: TerminationResult, b: TerminationResult) -> TerminationResult:
    out = TerminationResult({}, a.partitions_processed, a.sectors_processed)
    out.add(b)
    return out


# compaction ------------------------------------------------------------------------


def _cut(values: set[int], removed: set[int]) -> set[int]:
    """Drop ``removed`` and close the gaps (bitfield.CutBitField)."""
    ordered = sorted(removed)
    out = set()
    for v in values:
        if v in removed:
            continue
        out.add(v - sum(1 for r in ordered if r < v))
    return out


def deadline_remove_partitions(
    rt: Runtime, deadline: list[Any], to_remove: set[int], quant: tuple[int, int]
) -> tuple[set[int], set[int], PowerPair]:
    """Take whole partitions (without faults) out of a deadline, renumbering
    the others; returns their (live, dead) sectors and live power."""
    partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
    count = partitions.count
    if not to_remove:
        return set(), set(), PowerPair()
    if max(to_remove) >= count:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"partition index {max(to_remove)} out of range")
    if bitfield.decode(deadline[D_EARLY_TERMINATIONS]):
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, "cannot remove partitions with early terminations")
    kept = Amt.new(rt.store)
    live: set[int] = set()
    dead: set[int] = set()
    removed_power = PowerPair()
    for index, partition in partitions.for_each_stored():
        if index not in to_remove:
            kept.set(kept.count, partition)
            continue
        if bitfield.decode(partition[P_FAULTS]):
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"cannot remove partition {index}: has faults")
        terminated = bitfield.decode(partition[P_TERMINATED])
        dead |= terminated
        live |= bitfield.decode(partition[P_SECTORS]) - terminated
        removed_power = removed_power + PowerPair.decode(partition[P_LIVE_POWER])
    deadline[D_PARTITIONS] = kept.flush()
    deadline[D_LIVE_SECTORS] -= len(live)
    deadline[D_TOTAL_SECTORS] -= len(live) + len(dead)
    queue = load_amt(rt, deadline[D_EXPIRATIONS], "bit-field queue entry")
    emptied = []
    for epoch, raw in queue.for_each_stored():
        remaining = _cut(bitfield.decode(raw), to_remove)
        if remaining:
            queue.set(epoch, bitfield.encode(remaining))
        else:
            emptied.append(epoch)
    for epoch in emptied:
        queue.delete(epoch)
    deadline[D_EXPIRATIONS] = queue.flush()
    return live, dead, removed_power


def _remove_active_sectors(
    rt: Runtime, queue: Amt, quant: tuple[int, int], sectors: list[list[Any]], size: int
) -> tuple[set[int], PowerPair, int]:
    """Take healthy sectors out of their on-time expiration entries (an entry left with
    negative pledge or active power is an illegal state, as in the actors'
    ExpirationSet.Remove and ExpirationSet.ValidateState)."""
    numbers_out: set[int] = set()
    total_power, total_pledge = PowerPair(), 0
    for epoch, numbers, power, pledge in _group_by_expiration(size, sectors, quant):
        found = queue.get(epoch)
        if found is None:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"missing expected expiration set at {epoch}")
        es = list(found)
        on_time = bitfield.decode(es[E_ON_TIME])
        if not set(numbers) <= on_time:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "sectors not in the expiration set")
        es[E_ON_TIME] = bitfield.encode(on_time - set(numbers))
        pledge_left = decode_bigint(es[E_PLEDGE]) - pledge
        active = PowerPair.decode(es[E_ACTIVE_POWER]) - power
        if active.raw < 0 or active.qa < 0 or pledge_left < 0:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "expiration set would go negative")
        es[E_PLEDGE] = encode_bigint(pledge_left)
        es[E_ACTIVE_POWER] = active.encode()
        if _expiration_set_empty(es):
            queue.delete(epoch)
        else:
            queue.set(epoch, es)
        numbers_out.update(numbers)
        total_power = total_power + power
        total_pledge += pledge
    return numbers_out, total_power, total_pledge


def deadline_reschedule_expirations(
    rt: Runtime,
    deadline: list[Any],
    sectors: Amt,
    expiration: int,
    by_partition: dict[int, set[int]],
    size: int,
    quant: tuple[int, int],
) -> None:
    """Bring the expiration of healthy sectors forward to ``expiration``
    (committed-capacity sectors replaced by new ones)."""
    partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
    rescheduled: set[int] = set()
    for index in sorted(by_partition):
        found = get_partition(rt, partitions, index)
        if found is None:
            continue  # moved by a compaction: only what is found is rescheduled
        partition = list(found)
        active = (
            (by_partition[index] & bitfield.decode(partition[P_SECTORS]))
            - bitfield.decode(partition[P_TERMINATED])
            - bitfield.decode(partition[P_FAULTS])
        )
        infos = load_sectors(rt, sectors, active)
        queue = load_amt(rt, partition[P_EXPIRATIONS], "expiration set")
        if infos:
            numbers, power, pledge = _remove_active_sectors(rt, queue, quant, infos, size)
            at = quantize_up(expiration, *quant)
            prev = queue.get(at)
            es = _empty_expiration_set() if prev is None else list(prev)
            es[E_ON_TIME] = bitfield.encode(bitfield.decode(es[E_ON_TIME]) | numbers)
            es[E_PLEDGE] = encode_bigint(decode_bigint(es[E_PLEDGE]) + pledge)
            es[E_ACTIVE_POWER] = add_power(es[E_ACTIVE_POWER], power)
            queue.set(at, es)
        partition[P_EXPIRATIONS] = queue.flush()
        if not active:
            continue
        rescheduled.add(index)
        partitions.set(index, partition)
    if rescheduled:
        deadline[D_PARTITIONS] = partitions.flush()
        deadline[D_EXPIRATIONS] = add_to_bitfield_queue(
            rt, deadline[D_EXPIRATIONS], quant, expiration, rescheduled
        )
