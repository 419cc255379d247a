"""The storage power actor: only its cron and pledge bookkeeping.

State v0: ``[total raw power, total bytes committed, total QA power, total QA
bytes committed, total pledge, this epoch raw power, this epoch QA power,
this epoch pledge, QA power smoothed [position, velocity], miner count,
miners above min power, cron event queue, first cron epoch, last processed
cron epoch, claims, proof validation batch]``; v2 drops the last processed
cron epoch, and its claims lead with the miner's seal proof type. The
methods the storage miner calls are those of actors v0; the v2 paths that
differ stop with a "not implemented" error (docs/fvm.md).
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import (
    DecodeError,
    as_address,
    as_int,
    check_catch_up,
    decode_bigint,
    decode_empty,
    decode_tuple,
    dumps,
    loads,
)
from chainvm.fvm.actors.reward import filter_next, read_estimate
from chainvm.fvm.actors.stubs import stub
from chainvm.fvm.actors.tables import address_text, load_amt, load_hamt
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import encode_bigint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import CRON_ADDR, INIT_ADDR, REWARD_ADDR, ActorImpl, FatalError, Runtime

CONSENSUS_MINER_MIN_MINERS = 3
REWARD_UPDATE_NETWORK_KPI = 4


class _Layout:
    """Field positions, which moved between v0 and v2."""

    def __init__(self, v2: bool) -> None:
        self.cron_queue = 11
        self.first_cron = 12
        self.claims = 13 if v2 else 14
        self.batch = 14 if v2 else 15


def _hamt_version(rt: Runtime) -> int:
    return 0 if rt.profile.actors_version == 0 else 2


def _big(st: list[Any], i: int) -> int:
    return decode_bigint(st[i])


def _current_total_power(st: list[Any]) -> tuple[int, int]:
    if st[10] < CONSENSUS_MINER_MIN_MINERS:
        return _big(st, 1), _big(st, 3)
    return _big(st, 0), _big(st, 2)


MINER_ON_DEFERRED_CRON_EVENT = 12


def _process_deferred_cron(rt: Runtime, lay: _Layout, v2: bool) -> None:
    """Call back every miner whose cron event is due (each event is removed
    from the queue); v0 then strips a failed miner of its power."""
    from chainvm.fvm.address import Address

    now = rt.curr_epoch
    due: list[tuple[Address, bytes]] = []

    def take(st: list[Any]) -> None:
        events = load_hamt(rt, st[lay.cron_queue], "multimap entry", _hamt_version(rt))
        if v2:
            Hamt.load(rt.store, st[lay.claims], version=_hamt_version(rt))
        # an empty queue has nothing at any epoch: no need to walk the range
        if events.root.pointers:
            check_catch_up(rt, "first cron epoch", st[lay.first_cron])
            for epoch in range(st[lay.first_cron], now + 1):
                root = events.get(_epoch_key(epoch))
                if root is None:
                    continue
                if v2:
                    raise FatalError("deferred miner cron events are not implemented for actors v2")
                for _, (miner, payload) in load_amt(rt, root, "cron event").for_each_stored():
                    due.append((Address.from_bytes(miner), payload))
                events.delete(_epoch_key(epoch))
        st[lay.first_cron] = now + 1
        st[lay.cron_queue] = events.flush()

    rt.state_transaction(take)
    failed = []
    for miner, payload in due:
        _ret, code = rt.send(miner, MINER_ON_DEFERRED_CRON_EVENT, payload, 0)
        if code != 0:
            failed.append(miner)
    if not v2:
        def claims(st: list[Any]) -> None:
            table = load_hamt(rt, st[lay.claims], "claim", _hamt_version(rt), address_text)
            for miner in failed:
                claim = table.get(miner.bytes)
                if claim is not None:
                    add_to_claim(
                        rt, st, table, miner, -decode_bigint(claim[0]), -decode_bigint(claim[1])
                    )
            st[lay.claims] = table.flush()

        rt.state_transaction(claims)


def _epoch_key(epoch: int) -> bytes:
    from chainvm.fvm.actors.common import int_key

    return int_key(epoch)


MINER_CONFIRM_SECTOR_PROOFS_VALID = 17


def _process_batch_verifies(rt: Runtime, lay: _Layout) -> None:
    """Verify the epoch's queued seal proofs (the batch is cleared) and tell
    each miner which of its sectors proved; the miners' exit codes are ignored."""
    from chainvm.fvm.address import Address

    miners: list[Address] = []
    infos: dict[Address, list[Any]] = {}

    def take(st: list[Any]) -> None:
        if st[lay.batch] is None:
            return
        batch = load_hamt(rt, st[lay.batch], "multimap entry", _hamt_version(rt), address_text)
        for key, root in batch.items():
            try:
                miner = Address.from_bytes(key)
            except ValueError:
                rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"actor {rt.receiver}: proof validation "
                         f"batch key 0x{key.hex()} is not an address")
            miners.append(miner)
            infos[miner] = [info for _, info in load_amt(rt, root, "seal verify info").for_each_stored()]
        st[lay.batch] = None

    rt.state_transaction(take)
    results = rt.batch_verify_seals(infos)
    for miner in miners:
        seen: set[int] = set()
        proven = []
        for info, ok in zip(infos[miner], results[miner], strict=True):
            number = info[1][1]
            if ok and number not in seen:
                seen.add(number)
                proven.append(number)
        rt.send(miner, MINER_CONFIRM_SECTOR_PROOFS_VALID, dumps([proven]), 0)


def on_epoch_tick_end(rt: Runtime, _: None) -> None:
    rt.validate_caller_is(CRON_ADDR)
    v2 = rt.profile.actors_version >= 2
    lay = _Layout(v2)
    if v2:
        _process_batch_verifies(rt, lay)
        _process_deferred_cron(rt, lay, v2)
    else:
        _process_deferred_cron(rt, lay, v2)
        _process_batch_verifies(rt, lay)

    def update(st: list[Any]) -> list[Any]:
        raw, qa = _current_total_power(st)
        st[7] = st[4]
        st[6] = encode_bigint(qa)
        st[5] = encode_bigint(raw)
        pos, vel = read_estimate(st[8], "smoothed QA power")
        # v2 runs every epoch by construction; v0 measured the gap
        delta = 1 if v2 else rt.curr_epoch - st[13]
        pos, vel = filter_next(pos, vel, qa, delta)
        st[8] = [encode_bigint(pos), encode_bigint(vel)]
        if not v2:
            st[13] = rt.curr_epoch
        return st

    st = rt.state_transaction(update)
    _ret, code = rt.send(REWARD_ADDR, REWARD_UPDATE_NETWORK_KPI, dumps(st[5]), 0)
    if code != 0:
        rt.abort(code, "failed to update network KPI with Reward Actor")


def _decode_amount(data: bytes) -> int:
    return decode_bigint(loads(data, allow_trailing=True))


def update_pledge_total(rt: Runtime, delta: int) -> None:
    rt.validate_caller_type(rt.profile.code("storageminer"))
    v2 = rt.profile.actors_version >= 2
    lay = _Layout(v2)
    caller = rt.caller

    def add(st: list[Any]) -> None:
        if v2:
            claims = Hamt.load(rt.store, st[lay.claims], version=_hamt_version(rt))
            if claims.get(caller.bytes) is None:
                rt.abort(ExitCode.ERR_FORBIDDEN, f"unknown miner {caller} forbidden")
        total = _big(st, 4) + delta
        if v2 and total < 0:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "negative total pledge collateral")
        st[4] = encode_bigint(total)

    rt.state_transaction(add)


def _decode_enroll(data: bytes) -> tuple[int, bytes]:
    epoch, payload = decode_tuple(data, 2)
    if not isinstance(payload, bytes):
        raise DecodeError("payload must be bytes")
    return as_int(epoch), payload


def enroll_cron_event(rt: Runtime, params: tuple[int, bytes]) -> None:
    epoch, payload = params
    rt.validate_caller_type(rt.profile.code("storageminer"))
    miner = rt.caller
    if epoch < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cron event epoch cannot be less than zero")
    lay = _Layout(rt.profile.actors_version >= 2)

    def append(st: list[Any]) -> None:
        # the queue is a multimap: HAMT from epoch key to an AMT of events
        queue = load_hamt(rt, st[lay.cron_queue], "multimap entry", _hamt_version(rt))
        st[lay.first_cron] = min(st[lay.first_cron], epoch)
        key = _epoch_key(epoch)
        root = queue.get(key)
        events = Amt.new(rt.store) if root is None else load_amt(rt, root, "cron event")
        events.set(events.count, [miner.bytes, payload])
        queue.set(key, events.flush())
        st[lay.cron_queue] = queue.flush()

    rt.state_transaction(append)


def _decode_create_miner(data: bytes) -> list[Any]:
    owner, worker, proof, peer, addrs = decode_tuple(data, 5)
    return [as_address(owner), as_address(worker), as_int(proof), peer, addrs or []]


def create_miner(rt: Runtime, params: list[Any]) -> bytes:
    owner, worker, proof, peer, addrs = params
    rt.validate_caller_type(rt.profile.code("account"), rt.profile.code("multisig"))
    ctor = dumps([owner.bytes, worker.bytes, [], proof, peer, addrs])
    exec_params = dumps([rt.profile.code("storageminer"), ctor])
    ret, code = rt.send(INIT_ADDR, 2, exec_params, rt.value_received)
    if code != 0:
        rt.abort(code, "failed to init new actor")
    id_addr, robust = loads(ret)
    v2 = rt.profile.actors_version >= 2
    lay = _Layout(v2)

    def register(st: list[Any]) -> None:
        claims = load_hamt(rt, st[lay.claims], "claim", _hamt_version(rt), address_text)
        claims.set(id_addr, [proof, b"", b""] if v2 else [b"", b""])
        st[9] += 1
        st[lay.claims] = claims.flush()

    rt.state_transaction(register)
    return dumps([id_addr, robust])


CONSENSUS_MINER_MIN_POWER = 10 << 40


def _decode_claimed_power(data: bytes) -> tuple[int, int]:
    raw, qa = decode_tuple(data, 2)
    return decode_bigint(raw), decode_bigint(qa)


def add_to_claim(rt: Runtime, st: list[Any], claims: Hamt, miner: Any, raw: int, qa: int) -> None:
    """Adjust a miner's claim and the network totals; a miner's power counts
    towards the totals only while it is at or above the consensus minimum."""
    old = claims.get(miner.bytes)
    if old is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, f"no claim for actor {miner}")
    old_raw, old_qa = decode_bigint(old[0]), decode_bigint(old[1])
    st[3] = encode_bigint(_big(st, 3) + qa)
    st[1] = encode_bigint(_big(st, 1) + raw)
    new_raw, new_qa = old_raw + raw, old_qa + qa
    prev_below = old_qa < CONSENSUS_MINER_MIN_POWER
    still_below = new_qa < CONSENSUS_MINER_MIN_POWER
    if prev_below and not still_below:
        st[10] += 1
        st[2] = encode_bigint(_big(st, 2) + new_qa)
        st[0] = encode_bigint(_big(st, 0) + new_raw)
    elif not prev_below and still_below:
        st[10] -= 1
        st[2] = encode_bigint(_big(st, 2) - old_qa)
        st[0] = encode_bigint(_big(st, 0) - old_raw)
    elif not prev_below and not still_below:
        st[2] = encode_bigint(_big(st, 2) + qa)
        st[0] = encode_bigint(_big(st, 0) + raw)
    if new_raw < 0 or new_qa < 0 or st[10] < 0:
        raise FatalError("negative claimed power")
    claims.set(miner.bytes, [encode_bigint(new_raw), encode_bigint(new_qa)])


def update_claimed_power(rt: Runtime, params: tuple[int, int]) -> None:
    rt.validate_caller_type(rt.profile.code("storageminer"))
    if rt.profile.actors_version >= 2:
        # v2 claims carry the seal proof type, and the consensus minimum depends on it
        raise FatalError("power claim updates are not implemented for actors v2")
    miner = rt.caller
    lay = _Layout(rt.profile.actors_version >= 2)

    def update(st: list[Any]) -> None:
        claims = load_hamt(rt, st[lay.claims], "claim", _hamt_version(rt), address_text)
        add_to_claim(rt, st, claims, miner, *params)
        st[lay.claims] = claims.flush()

    rt.state_transaction(update)


def on_consensus_fault(rt: Runtime, pledge: int) -> None:
    """Actors v0: a slashed miner's claim, power and pledge leave the totals."""
    rt.validate_caller_type(rt.profile.code("storageminer"))
    if rt.profile.actors_version >= 2:
        raise FatalError("consensus faults are not implemented for actors v2")
    miner = rt.caller
    lay = _Layout(False)

    def remove(st: list[Any]) -> None:
        claims = load_hamt(rt, st[lay.claims], "claim", _hamt_version(rt), address_text)
        claim = claims.get(miner.bytes)
        if claim is None:
            rt.abort(ExitCode.ERR_NOT_FOUND, f"miner {miner} not registered (already slashed?)")
        add_to_claim(rt, st, claims, miner, -decode_bigint(claim[0]), -decode_bigint(claim[1]))
        st[4] = encode_bigint(_big(st, 4) - pledge)
        claims.delete(miner.bytes)
        st[9] -= 1
        st[lay.claims] = claims.flush()

    rt.state_transaction(remove)


MAX_MINER_PROVE_COMMITS_PER_EPOCH = 200
ERR_TOO_MANY_PROVE_COMMITS = 32
GAS_ON_SUBMIT_VERIFY_SEAL = 34721049


def _decode_seal_verify_info(data: bytes) -> Any:
    info = loads(data, allow_trailing=True)
    if not isinstance(info, list) or len(info) != 8:
        raise DecodeError("seal verify info must be an 8-tuple")
    return info


def submit_porep_for_bulk_verify(rt: Runtime, info: Any) -> None:
    """Queue a miner's seal proof for verification at the end of the epoch
    (a multimap: miner address -> AMT of seal verify infos)."""
    rt.validate_caller_type(rt.profile.code("storageminer"))
    miner = rt.caller
    lay = _Layout(rt.profile.actors_version >= 2)
    hv = _hamt_version(rt)

    def add(st: list[Any]) -> None:
        if st[lay.batch] is None:
            batch = Hamt.new(rt.store, version=hv)
        else:
            batch = load_hamt(rt, st[lay.batch], "multimap entry", hv, address_text)
        found = batch.get(miner.bytes)
        proofs = load_amt(rt, found, "seal verify info") if found is not None else None
        if proofs is not None and proofs.count >= MAX_MINER_PROVE_COMMITS_PER_EPOCH:
            rt.abort(ERR_TOO_MANY_PROVE_COMMITS, f"miner {miner} proves too many sectors")
        # Multimap.Add looks the array up again before appending
        found = batch.get(miner.bytes)
        proofs = load_amt(rt, found, "seal verify info") if found is not None else Amt.new(rt.store)
        proofs.set(proofs.count, info)
        batch.set(miner.bytes, proofs.flush())
        st[lay.batch] = batch.flush()
        rt.charge_gas("OnSubmitVerifySeal", GAS_ON_SUBMIT_VERIFY_SEAL)

    rt.state_transaction(add)


def current_total_power(rt: Runtime, _: None) -> bytes:
    """This epoch's raw and quality-adjusted power, pledge and smoothed QA power."""
    rt.validate_caller_any()
    st = rt.state_readonly()
    return dumps([st[5], st[6], st[7], st[8]])


def _build() -> ActorImpl:
    impl = stub("storagepower")
    impl.methods[2] = (create_miner, _decode_create_miner)
    impl.methods[4] = (enroll_cron_event, _decode_enroll)
    impl.methods[5] = (on_epoch_tick_end, decode_empty)
    impl.methods[6] = (update_pledge_total, _decode_amount)
    impl.methods[9] = (current_total_power, decode_empty)
    impl.methods[8] = (submit_porep_for_bulk_verify, _decode_seal_verify_info)
    impl.methods[3] = (update_claimed_power, _decode_claimed_power)
    impl.methods[7] = (on_consensus_fault, _decode_amount)
    return impl


POWER = _build()
