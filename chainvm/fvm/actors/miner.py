"""The storage miner actor: only reward locking and its vesting table.

State v0: ``[info, precommit deposits, locked funds, vesting funds, initial
pledge requirement, precommitted sectors, precommit expiry, allocated
sectors, sectors, proving period start, current deadline, deadlines, early
terminations]``; v2 inserts the fee debt after the vesting funds. The
vesting table is ``[[[epoch, amount], ...]]`` sorted by epoch. Sector and
proof methods need the proof systems and are not implemented.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Any

from chainvm.fvm import bitfield
from chainvm.fvm.actors.common import (
    DecodeError,
    as_address,
    as_int,
    as_uint,
    decode_bigint,
    decode_empty,
    decode_tuple,
    dumps,
    loads,
    uint_key,
)
from chainvm.fvm.actors.miner_state import (
    D_EXPIRATIONS,
    D_FAULTY_POWER,
    D_PARTITIONS,
    FAULT_MAX_AGE,
    DeadlineInfo,
    PoStResult,
    PowerPair,
    add_power,
    add_to_bitfield_queue,
    assign_sectors_to_deadlines,
    deadline_add_sectors,
    deadline_is_mutable,
    deadline_pop_expired,
    deadline_process_end,
    deadline_record_proven_sectors,
    deadline_remove_partitions,
    deadline_reschedule_expirations,
    deadline_terminate_sectors,
    get_partition,
    get_sector,
    load_deadline,
    load_deadlines,
    load_partition,
    load_sectors,
    partition_declare_faults,
    partition_declare_recoveries,
    partition_replace_sectors,
    pop_bitfield_queue,
    pop_early_terminations,
    quantize_up,
    sector_qa_power,
)
from chainvm.fvm.actors.monies import (
    INITIAL_PLEDGE_PROJECTION,
    declared_fault_penalty,
    expected_reward_for_power,
    initial_pledge,
    pre_commit_deposit,
    qa_power_for_weight,
    termination_penalty,
    undeclared_fault_penalty,
)
from chainvm.fvm.actors.stubs import stub
from chainvm.fvm.actors.tables import load_amt, load_hamt
from chainvm.fvm.address import BLS, Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import CID, encode_bigint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.layouts import WPOST_PERIOD_DEADLINES, check_bit_field_block, check_block
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import (
    BURNT_FUNDS_ADDR,
    INIT_ADDR,
    MARKET_ADDR,
    POWER_ADDR,
    REWARD_ADDR,
    ActorError,
    ActorImpl,
    FatalError,
    Runtime,
)

EPOCHS_IN_HOUR = 120
EPOCHS_IN_DAY = 2880
POWER_UPDATE_PLEDGE_TOTAL = 6


@dataclass(frozen=True)
class VestSpec:
    initial_delay: int
    vest_period: int
    step_duration: int
    quantization: int


REWARD_VESTING_V0 = VestSpec(
    20 * EPOCHS_IN_DAY, 180 * EPOCHS_IN_DAY, EPOCHS_IN_DAY, 12 * EPOCHS_IN_HOUR
)
# from network version 1 (Breeze) rewards start vesting at once
REWARD_VESTING_V1 = VestSpec(0, 180 * EPOCHS_IN_DAY, EPOCHS_IN_DAY, 12 * EPOCHS_IN_HOUR)
REWARD_VESTING_V2 = REWARD_VESTING_V1


def _go_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class _Fields:
    def __init__(self, v2: bool) -> None:
        self.precommit_deposits = 1
        self.locked = 2
        self.vesting = 3
        self.fee_debt = 4 if v2 else None
        self.initial_pledge = 5 if v2 else 4
        self.proving_period_start = 10 if v2 else 9


def _big(st: list[Any], i: int) -> int:
    return decode_bigint(st[i])


def _load_info(rt: Runtime, st: list[Any]) -> list[Any]:
    """The miner's info block (state field 0), checked against its layout."""
    info: list[Any] = rt.store_get(st[0])
    check_block("miner info", st[0], info, rt.receiver, rt.profile.actors_version)
    return info


def _load_vesting(rt: Runtime, st: list[Any]) -> list[list[Any]]:
    """The miner's vesting table (state field 3, in both versions), checked."""
    funds = rt.store_get(st[3])
    check_block("vesting funds", st[3], funds, rt.receiver)
    table: list[list[Any]] = funds[0]
    return table


def unlock_vested(funds: list[list[Any]], epoch: int) -> tuple[list[list[Any]], int]:
    unlocked = 0
    keep_from = 0
    for i, (e, amount) in enumerate(funds):
        if e >= epoch:
            break
        unlocked += decode_bigint(amount)
        keep_from = i + 1
    return funds[keep_from:], unlocked


def add_vesting(
    funds: list[list[Any]], epoch: int, total: int, pps: int, spec: VestSpec
) -> list[list[Any]]:
    by_epoch = {e: i for i, (e, _) in enumerate(funds)}
    funds = [list(f) for f in funds]
    begin = epoch + spec.initial_delay
    vested = 0
    e = begin + spec.step_duration
    while vested < total:
        vest_epoch = quantize_up(e, spec.quantization, pps)
        elapsed = vest_epoch - begin
        target = _go_div(total * elapsed, spec.vest_period) if elapsed < spec.vest_period else total
        this_time = target - vested
        vested = target
        if vest_epoch in by_epoch:
            i = by_epoch[vest_epoch]
            funds[i][1] = encode_bigint(decode_bigint(funds[i][1]) + this_time)
        else:
            funds.append([vest_epoch, encode_bigint(this_time)])
            by_epoch[vest_epoch] = len(funds) - 1
        e += spec.step_duration
    funds.sort(key=lambda f: f[0])
    return funds


def unlock_unvested(funds: list[list[Any]], epoch: int, target: int) -> tuple[list[list[Any]], int]:
    unlocked = 0
    last_remove = -1
    start_remove = 0
    funds = [list(f) for f in funds]
    for i, (e, amount) in enumerate(funds):
        if unlocked >= target:
            break
        if e >= epoch:
            amt = decode_bigint(amount)
            take = min(target - unlocked, amt)
            unlocked += take
            if amt - take == 0:
                last_remove = i
            else:
                funds[i][1] = encode_bigint(amt - take)
        else:
            start_remove = i + 1
    if last_remove != -1:
        funds = funds[:start_remove] + funds[last_remove + 1 :]
    return funds, unlocked


def _add_locked_funds(rt: Runtime, st: list[Any], f: _Fields, amount: int, spec: VestSpec) -> int:
    """Lock ``amount`` in the vesting table; returns what vested meanwhile."""
    funds = _load_vesting(rt, st)
    funds, unlocked = unlock_vested(funds, rt.curr_epoch)
    locked = _big(st, f.locked) - unlocked
    funds = add_vesting(funds, rt.curr_epoch, amount, st[f.proving_period_start], spec)
    st[f.locked] = encode_bigint(locked + amount)
    st[f.vesting] = rt.store_put([funds])
    return unlocked


def _notify_pledge(rt: Runtime, delta: int) -> None:
    if delta != 0:
        _ret, code = rt.send(POWER_ADDR, POWER_UPDATE_PLEDGE_TOTAL, dumps(encode_bigint(delta)), 0)
        if code != 0:
            rt.abort(code, "failed to update total pledge")


def _decode_amount(data: bytes) -> int:
    return decode_bigint(loads(data, allow_trailing=True))


def add_locked_fund(rt: Runtime, amount: int) -> None:
    """v0: lock (part of) a block reward, callable by the reward actor and the
    miner's own addresses."""
    if amount < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cannot lock up a negative amount of funds")
    f = _Fields(False)

    def lock(st: list[Any]) -> int:
        info = _load_info(rt, st)
        allowed = [as_address(a) for a in (info[2] or [])]
        allowed += [as_address(info[0]), as_address(info[1]), REWARD_ADDR]
        rt.validate_caller_is(*allowed)
        unlocked = rt.current_balance() - _big(st, f.locked) - _big(st, f.precommit_deposits)
        if unlocked < amount:
            rt.abort(ExitCode.ERR_INSUFFICIENT_FUNDS, "insufficient funds to lock")
        spec = replace(REWARD_VESTING_V1, initial_delay=rt.profile.reward_vesting_delay)
        return _add_locked_funds(rt, st, f, amount, spec)

    newly_vested = rt.state_transaction(lock)
    _notify_pledge(rt, amount - newly_vested)


def _decode_apply_rewards(data: bytes) -> tuple[int, int]:
    reward, penalty = decode_tuple(data, 2)
    return decode_bigint(reward), decode_bigint(penalty)


def apply_rewards(rt: Runtime, params: tuple[int, int]) -> None:
    """v2: lock the block reward and charge the (tripled) gas penalty as fee debt."""
    reward, penalty = params
    if reward < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cannot lock up a negative amount of funds")
    if penalty < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cannot penalize a negative amount of funds")
    f = _Fields(True)
    fee_debt_at = f.fee_debt
    assert fee_debt_at is not None

    def apply(st: list[Any]) -> tuple[int, int]:
        rt.validate_caller_is(REWARD_ADDR)

        def unlocked_balance() -> int:
            return (
                rt.current_balance()
                - _big(st, f.locked)
                - _big(st, f.precommit_deposits)
                - _big(st, f.initial_pledge)
            )

        if unlocked_balance() < reward:
            rt.abort(ExitCode.ERR_INSUFFICIENT_FUNDS, "insufficient funds to lock")
        newly_vested = _add_locked_funds(rt, st, f, reward, REWARD_VESTING_V2)
        pledge_delta = reward - newly_vested
        debt = _big(st, fee_debt_at) + penalty
        # repay the debt from unvested funds first, then from the balance
        from_vesting = 0
        if debt != 0 and _big(st, f.locked) != 0:
            funds = _load_vesting(rt, st)
            funds, from_vesting = unlock_unvested(funds, rt.curr_epoch, debt)
            st[f.locked] = encode_bigint(_big(st, f.locked) - from_vesting)
            st[f.vesting] = rt.store_put([funds])
        debt -= from_vesting
        from_balance = min(unlocked_balance(), debt)
        debt -= from_balance
        st[fee_debt_at] = encode_bigint(debt)
        return pledge_delta - from_vesting, from_vesting + from_balance

    pledge_delta, to_burn = rt.state_transaction(apply)
    _notify_pledge(rt, pledge_delta)
    if to_burn > 0:
        _ret, code = rt.send(BURNT_FUNDS_ADDR, 0, b"", to_burn)
        if code != 0:
            rt.abort(code, "failed to burn funds")


def _reward_method(rt: Runtime, params: Any) -> None:
    # Method 14 takes a [reward, penalty] pair in v2 (ApplyRewards) and a bare amount in v0
    # (AddLockedFund); the decoder cannot know the version, so the other shape is refused
    # here, before anything runs, as the version's own decoder refuses it.
    v2 = rt.profile.actors_version >= 2
    if isinstance(params, tuple) != v2:
        raise ActorError(rt.profile.param_decode_exit_code,
                         "failed to decode parameters: expected "
                         + ("[reward, penalty]" if v2 else "an amount"))
    if v2:
        apply_rewards(rt, params)
    else:
        add_locked_fund(rt, params)


def _decode_reward_params(data: bytes) -> Any:
    # v0 takes a bare amount, v2 a [reward, penalty] pair
    obj = loads(data, allow_trailing=True)
    if isinstance(obj, list):
        return _decode_apply_rewards(data)
    return decode_bigint(obj)


def control_addresses(rt: Runtime, _: None) -> bytes:
    rt.validate_caller_any()
    st = rt.state_readonly()
    info = _load_info(rt, st)
    return dumps([info[0], info[1], info[2] or []])


def _decode_one(data: bytes) -> Any:
    (value,) = decode_tuple(data, 1)
    return value


def _update_info(rt: Runtime, field: int, value: Any) -> None:
    """Set one MinerInfo field; the owner, worker or a control address may."""

    def update(st: list[Any]) -> None:
        info = _load_info(rt, st)
        allowed = [as_address(a) for a in (info[2] or [])]
        rt.validate_caller_is(*allowed, as_address(info[0]), as_address(info[1]))
        info[field] = value
        st[0] = rt.store_put(info)

    rt.state_transaction(update)


def change_peer_id(rt: Runtime, peer_id: Any) -> None:
    if not isinstance(peer_id, bytes):
        rt.abort(ExitCode.ERR_SERIALIZATION, "peer ID must be bytes")
    _update_info(rt, 4, peer_id)


def change_multiaddrs(rt: Runtime, addrs: Any) -> None:
    if not isinstance(addrs, list) or not all(isinstance(a, bytes) for a in addrs):
        rt.abort(ExitCode.ERR_SERIALIZATION, "multiaddrs must be a list of bytes")
    _update_info(rt, 5, addrs)


def withdraw_balance(rt: Runtime, requested: int) -> None:
    if requested < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "negative fund requested for withdrawal")
    v2 = rt.profile.actors_version >= 2
    f = _Fields(v2)

    def vest(st: list[Any]) -> tuple[int, list[Any], Any]:
        info = _load_info(rt, st)
        rt.validate_caller_is(as_address(info[0]))
        funds = _load_vesting(rt, st)
        funds, unlocked = unlock_vested(funds, rt.curr_epoch)
        st[f.locked] = encode_bigint(_big(st, f.locked) - unlocked)
        st[f.vesting] = rt.store_put([funds])
        return unlocked, st, info[0]

    newly_vested, st, owner = rt.state_transaction(vest)
    available = (
        rt.current_balance()
        - _big(st, f.locked)
        - _big(st, f.precommit_deposits)
        - _big(st, f.initial_pledge)
    )
    amount = min(available, requested)
    _ret, code = rt.send(as_address(owner), 0, b"", amount)
    if code != 0:
        rt.abort(code, "failed to withdraw balance")
    _notify_pledge(rt, -newly_vested)


def _decode_withdraw(data: bytes) -> int:
    (amount,) = decode_tuple(data, 1)
    return decode_bigint(amount)


WORKER_KEY_CHANGE_DELAY = 900  # chain finality
CRON_EVENT_WORKER_KEY_CHANGE = 0
POWER_ENROLL_CRON_EVENT = 4


def _resolve_worker(rt: Runtime, raw: Address) -> Address:
    resolved = rt.resolve_address(raw)
    if resolved is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"unable to resolve address {raw}")
    code = rt.get_actor_code(resolved)
    if code is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"no code for address {resolved}")
    if code != rt.profile.code("account"):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "worker actor type must be an account")
    if raw.protocol != BLS:
        # the worker must hold a BLS key: ask the account for it
        ret, code_ = rt.send(resolved, 2, b"", 0)
        if code_ != 0:
            rt.abort(code_, f"failed to fetch account pubkey from {resolved}")
        if as_address(loads(ret)).protocol != BLS:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "worker account must have a BLS pubkey")
    return resolved


def _resolve_control(rt: Runtime, raw: Address) -> Address:
    resolved = rt.resolve_address(raw)
    if resolved is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"unable to resolve address {raw}")
    code = rt.get_actor_code(resolved)
    if code is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"no code for address {resolved}")
    if code not in (rt.profile.code("account"), rt.profile.code("multisig")):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "control address must be a principal")
    return resolved


def _decode_change_worker(data: bytes) -> tuple[Address, list[Address]]:
    worker, controls = decode_tuple(data, 2)
    return as_address(worker), [as_address(a) for a in (controls or [])]


def change_worker_address(rt: Runtime, params: tuple[Address, list[Address]]) -> None:
    new_worker, new_controls = params

    # addresses are resolved (possibly sending to the worker's account)
    # before the transaction, which forbids sends; the owner check follows
    worker = _resolve_worker(rt, new_worker)
    controls = [_resolve_control(rt, a) for a in new_controls]
    effective = 0

    def update(s: list[Any]) -> None:
        nonlocal effective
        inf = _load_info(rt, s)
        rt.validate_caller_is(as_address(inf[0]))
        inf[2] = [c.bytes for c in controls]
        if worker.bytes != inf[1]:
            effective = rt.curr_epoch + WORKER_KEY_CHANGE_DELAY
            inf[3] = [worker.bytes, effective]
        s[0] = rt.store_put(inf)

    rt.state_transaction(update)
    if effective != 0:
        payload = dumps([CRON_EVENT_WORKER_KEY_CHANGE])
        _ret, code = rt.send(POWER_ADDR, POWER_ENROLL_CRON_EVENT, dumps([effective, payload]), 0)
        if code != 0:
            rt.abort(code, "failed to enroll cron event")


# seal proof types allowed for new miners (32 GiB and 64 GiB, V1) and the
# sector size / window PoSt partition size each implies
SEAL_PROOF_INFO = {3: (32 << 30, 2349), 4: (64 << 30, 2300)}
WPOST_PROVING_PERIOD = EPOCHS_IN_DAY
CRON_EVENT_PROVING_DEADLINE = 1


def _decode_ctor(data: bytes) -> list[Any]:
    owner, worker, controls, proof, peer, addrs = decode_tuple(data, 6)
    return [
        as_address(owner),
        as_address(worker),
        [as_address(a) for a in (controls or [])],
        proof,
        peer,
        addrs or [],
    ]


def next_proving_period_start(epoch: int, offset: int) -> int:
    modulus = epoch % WPOST_PROVING_PERIOD
    progress = modulus - offset if modulus >= offset else WPOST_PROVING_PERIOD - (offset - modulus)
    return epoch - progress + WPOST_PROVING_PERIOD


def constructor(rt: Runtime, params: list[Any]) -> None:
    owner_raw, worker_raw, controls_raw, proof, peer, addrs = params
    rt.validate_caller_is(INIT_ADDR)
    if proof not in SEAL_PROOF_INFO:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"proof type {proof} not allowed for new miners")
    owner = _resolve_control(rt, owner_raw)
    worker = _resolve_worker(rt, worker_raw)
    controls = [_resolve_control(rt, a) for a in controls_raw]
    empty_map = Hamt.new(rt.store, version=0 if rt.profile.actors_version == 0 else 2).flush()
    empty_array = Amt.new(rt.store).flush()
    empty_bitfield = rt.store_put(b"")  # the empty RLE+ bitfield
    deadline = rt.store_put([empty_array, empty_array, b"", b"", 0, 0, [b"", b""]])
    deadlines = rt.store_put([[deadline] * WPOST_PERIOD_DEADLINES])
    vesting = rt.store_put([[]])
    # a pseudo-random proving period offset derived from the miner's address
    seed = dumps(rt.receiver.bytes) + struct.pack(">q", rt.curr_epoch)
    offset = int.from_bytes(rt.hash_blake2b(seed)[:8], "big") % WPOST_PROVING_PERIOD
    period_start = next_proving_period_start(rt.curr_epoch, offset)
    sector_size, partition_sectors = SEAL_PROOF_INFO[proof]
    v2 = rt.profile.actors_version >= 2
    info_fields: list[Any] = [
        owner.bytes,
        worker.bytes,
        [c.bytes for c in controls],
        None,
        peer,
        addrs,
        proof,
        sector_size,
        partition_sectors,
    ]
    if v2:
        # consensus fault elapsed, and no pending owner change: MinerInfo has 11 fields in
        # every actors v2 release (the corpus's v2 miners have them; 10 was a wrong root)
        info_fields += [-1, None]
    info = rt.store_put(info_fields)
    # v2 adds the fee debt after the vesting funds
    debt: list[Any] = [b""] if v2 else []
    rt.state_create(
        [info, b"", b"", vesting, *debt, b"", empty_map, empty_array, empty_bitfield]
        + [empty_array, period_start, 0, deadlines, b""]
    )
    payload = dumps([CRON_EVENT_PROVING_DEADLINE])
    _ret, code = rt.send(POWER_ADDR, POWER_ENROLL_CRON_EVENT, dumps([period_start - 1, payload]), 0)
    if code != 0:
        rt.abort(code, "failed to enroll cron event")


MAX_SECTOR_NUMBER = (1 << 63) - 1
SEAL_PROOF_SIZE = 1920  # bytes of a 32 or 64 GiB seal proof
PRE_COMMIT_CHALLENGE_DELAY = 150


def _decode_prove_commit(data: bytes) -> tuple[int, bytes]:
    number, proof = decode_tuple(data, 2)
    if not isinstance(number, int) or number < 0 or not isinstance(proof, bytes):
        raise ValueError("malformed ProveCommitSector parameters")
    return number, proof


def prove_commit_sector(rt: Runtime, params: tuple[int, bytes]) -> None:
    """Check a pre-committed sector's proof is due, gather what verifying it
    needs (CommD from the market, the seal and interactive randomness) and
    queue it with the power actor, which verifies the epoch's proofs in
    bulk at cron and confirms the valid ones (ConfirmSectorProofsValid)."""
    number, _proof = params
    rt.validate_caller_any()
    if number > MAX_SECTOR_NUMBER:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "sector number greater than maximum")
    f = _Fields(rt.profile.actors_version >= 2)
    st = rt.state_readonly()
    unlocked = rt.current_balance() - _big(st, f.locked) - _big(st, f.precommit_deposits)
    if unlocked < _big(st, f.initial_pledge):
        rt.abort(ExitCode.ERR_INSUFFICIENT_FUNDS, "unlocked balance does not cover pledge")
    precommits = load_hamt(rt, st[f.initial_pledge + 1], "pre-committed sector",
                           version=0 if not f.fee_debt else 2)
    precommit = precommits.get(uint_key(number))
    if precommit is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, f"no pre-committed sector {number}")
    # [info, deposit, pre-commit epoch, deal weight, verified deal weight]
    if rt.profile.actors_version >= 2 and len(_proof) > SEAL_PROOF_SIZE:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "prove-commit proof too large")
    precommit_epoch = precommit[2]
    if rt.curr_epoch > precommit_epoch + MAX_SEAL_DURATION:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"commitment proof for {number} too late")
    if rt.curr_epoch <= precommit_epoch + PRE_COMMIT_CHALLENGE_DELAY:
        rt.abort(ExitCode.ERR_FORBIDDEN, "too early to prove sector")
    if precommit[0][3] < rt.curr_epoch - CHAIN_FINALITY - MAX_SEAL_DURATION:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "seal challenge epoch too old")
    info = precommit[0]
    commd = _send_or_abort(
        rt,
        MARKET_ADDR,
        MARKET_COMPUTE_DATA_COMMITMENT,
        dumps([info[0], info[4]]),
        "request the unsealed sector CID",
    )
    entropy = dumps(rt.receiver.bytes)
    seal_rand = rt.randomness_from_tickets(DST_SEAL_RANDOMNESS, info[3], entropy)
    interactive = rt.randomness_from_beacon(
        DST_INTERACTIVE_SEAL_CHALLENGE_SEED, precommit_epoch + PRE_COMMIT_CHALLENGE_DELAY, entropy
    )
    verify_info = [
        info[0],
        [rt.receiver.id, number],
        info[4],
        seal_rand,
        interactive,
        _proof,
        info[2],
        commd,
    ]
    _send_or_abort(
        rt,
        POWER_ADDR,
        POWER_SUBMIT_POREP_FOR_BULK_VERIFY,
        dumps(verify_info),
        "submit proof for bulk verification",
    )


MARKET_COMPUTE_DATA_COMMITMENT = 8
POWER_SUBMIT_POREP_FOR_BULK_VERIFY = 8
# crypto.DomainSeparationTag values
DST_WINDOWED_POST_CHALLENGE_SEED = 4
DST_SEAL_RANDOMNESS = 5
DST_INTERACTIVE_SEAL_CHALLENGE_SEED = 6


WPOST_CHALLENGE_WINDOW = 60
WPOST_CHALLENGE_LOOKBACK = 20
FAULT_DECLARATION_CUTOFF = WPOST_CHALLENGE_LOOKBACK + 50
ADDRESSED_PARTITIONS_MAX = 200
ADDRESSED_SECTORS_MAX = 10_000
SECTORS_MAX = 32 << 20  # sectors a miner may hold


Declarations = list[tuple[int, int, bytes]]


def _decode_declarations(data: bytes) -> Declarations:
    """[[deadline, partition, sectors bitfield], ...]; the bitfields stay
    encoded until their sizes are checked (a run of 2^60 sectors is a few
    bytes)."""
    (decls,) = decode_tuple(data, 1)
    out = []
    for decl in decls or []:
        if not isinstance(decl, list) or len(decl) != 3 or not isinstance(decl[2], bytes):
            raise DecodeError("declaration must be [deadline, partition, sectors bitfield]")
        bitfield.count(decl[2])  # well-formed RLE+
        out.append((as_uint(decl[0]), as_uint(decl[1]), decl[2]))
    return out


def _check_declarations(rt: Runtime, decls: Declarations) -> dict[int, dict[int, set[int]]]:
    """Group by deadline and partition (DeadlineSectorMap.Add and Check):
    deadlines in range, at most 200 partitions and 10,000 sectors."""
    for dl, _part, _raw in decls:
        if dl >= WPOST_PERIOD_DEADLINES:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid deadline {dl}")
    if any(bitfield.count(raw) > ADDRESSED_SECTORS_MAX for _d, _p, raw in decls):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many sectors")
    grouped: dict[int, dict[int, set[int]]] = {}
    for dl, part, raw in decls:
        grouped.setdefault(dl, {}).setdefault(part, set()).update(bitfield.decode(raw))
    if sum(len(p) for p in grouped.values()) > ADDRESSED_PARTITIONS_MAX:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many partitions")
    if sum(len(n) for p in grouped.values() for n in p.values()) > ADDRESSED_SECTORS_MAX:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many sectors")
    return grouped


def _require_v0(rt: Runtime, what: str) -> None:
    if rt.profile.actors_version >= 2:
        raise FatalError(f"{what} is not implemented for actors v2")


def declare_faults(rt: Runtime, raw: Declarations) -> None:
    """Declare sectors faulty ahead of their deadline: their power is
    removed now and they expire early unless recovered within 14 days."""
    decls = _check_declarations(rt, raw)
    _require_v0(rt, "fault declaration")
    f = _Fields(False)

    def declare(st: list[Any]) -> PowerPair:
        info = _load_info(rt, st)
        _validate_control(rt, info)
        deadlines = load_deadlines(rt, st[STATE_DEADLINES_V0])
        sectors = load_amt(rt, st[STATE_SECTORS], "sector info")
        size = info[7]
        total = PowerPair()
        for dl_index in sorted(decls):
            target = DeadlineInfo(st[f.proving_period_start], dl_index, rt.curr_epoch)
            target = target.next_not_elapsed()
            if target.fault_cutoff_passed():
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"late fault declaration at {dl_index}")
            deadline = list(load_deadline(rt, deadlines[dl_index]))
            fault_expiration = target.last + FAULT_MAX_AGE
            quant = target.quant()
            partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
            with_faults: set[int] = set()
            new_power = PowerPair()
            for part_index in sorted(decls[dl_index]):
                partition = load_partition(rt, partitions, part_index)
                new_faults, power = partition_declare_faults(
                    rt, partition, sectors, decls[dl_index][part_index], fault_expiration,
                    size, quant,
                )
                new_power = new_power + power
                if new_faults:
                    with_faults.add(part_index)
                partitions.set(part_index, partition)
            deadline[D_PARTITIONS] = partitions.flush()
            if with_faults:
                deadline[D_EXPIRATIONS] = add_to_bitfield_queue(
                    rt, deadline[D_EXPIRATIONS], quant, fault_expiration, with_faults
                )
            deadline[D_FAULTY_POWER] = add_power(deadline[D_FAULTY_POWER], new_power)
            deadlines[dl_index] = rt.store_put(deadline)
            total = total + new_power
        st[STATE_DEADLINES_V0] = rt.store_put([deadlines])
        return total

    new_fault_power = rt.state_transaction(declare)
    _request_update_power(rt, -new_fault_power)


def declare_faults_recovered(rt: Runtime, raw: Declarations) -> None:
    """Declare faulty sectors recovered; their power returns when the next
    window PoSt proves them."""
    decls = _check_declarations(rt, raw)
    _require_v0(rt, "recovery declaration")
    f = _Fields(False)

    def declare(st: list[Any]) -> None:
        info = _load_info(rt, st)
        _validate_control(rt, info)
        deadlines = load_deadlines(rt, st[STATE_DEADLINES_V0])
        sectors = load_amt(rt, st[STATE_SECTORS], "sector info")
        for dl_index in sorted(decls):
            target = DeadlineInfo(st[f.proving_period_start], dl_index, rt.curr_epoch)
            if target.next_not_elapsed().fault_cutoff_passed():
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"late recovery declaration at {dl_index}")
            deadline = list(load_deadline(rt, deadlines[dl_index]))
            partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
            for part_index in sorted(decls[dl_index]):
                partition = load_partition(rt, partitions, part_index)
                partition_declare_recoveries(
                    rt, partition, sectors, decls[dl_index][part_index], info[7]
                )
                partitions.set(part_index, partition)
            deadline[D_PARTITIONS] = partitions.flush()
            deadlines[dl_index] = rt.store_put(deadline)
        st[STATE_DEADLINES_V0] = rt.store_put([deadlines])

    rt.state_transaction(declare)


def _validate_control(rt: Runtime, info: list[Any]) -> None:
    """The owner, the worker or a control address may call."""
    allowed = [as_address(a) for a in (info[2] or [])]
    rt.validate_caller_is(*allowed, as_address(info[0]), as_address(info[1]))


POWER_UPDATE_CLAIMED_POWER = 3


def _request_update_power(rt: Runtime, delta: PowerPair) -> None:
    if delta.is_zero():
        return
    params = dumps([encode_bigint(delta.raw), encode_bigint(delta.qa)])
    _send_or_abort(rt, POWER_ADDR, POWER_UPDATE_CLAIMED_POWER, params, "update claimed power")


RANDOMNESS_LENGTH = 32
WPOST_MAX_CHAIN_COMMIT_AGE = WPOST_CHALLENGE_WINDOW
# window PoSt proof type of each seal proof type
WINDOW_POST_PROOF = {3: 8, 4: 9}


DST_POST_CHAIN_COMMIT = 9
# verifying a window PoSt costs flat + per challenged sector, halved (lotus v0 prices)
VERIFY_POST_COST = {8: (748593537, 85639), 9: (748593537, 85639), 7: (123861062, 9226981)}


def _decode_window_post(data: bytes) -> list[Any]:
    dl, partitions, proofs, commit_epoch, commit_rand = decode_tuple(data, 5)
    if not isinstance(commit_rand, bytes):
        raise DecodeError("chain commit randomness must be bytes")
    posts = []
    for entry in partitions or []:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], bytes):
            raise DecodeError("PoSt partition must be [index, skipped bitfield]")
        # a skipped set larger than any partition cannot be inside one: an
        # impossible member stands for it, so that the containment check
        # refuses it as the reference does, without expanding it (nor asking decode
        # for more bits than it expands)
        small = bitfield.count(entry[1]) <= min(SECTORS_MAX, bitfield.MAX_EXPANDED_BITS)
        skipped = bitfield.decode(entry[1]) if small else {-1}
        posts.append((as_uint(entry[0]), skipped))
    if not isinstance(proofs, list | None):
        raise DecodeError("PoSt proofs must be a list")
    for proof in proofs or []:  # PoStProof: [registered proof type, proof bytes]
        if not (isinstance(proof, list) and len(proof) == 2 and type(proof[0]) is int
                and isinstance(proof[1], bytes)):
            raise DecodeError("PoSt proof must be [proof type, proof bytes]")
    return [as_uint(dl), posts, proofs or [], as_int(commit_epoch), commit_rand]


def _unlock_unvested(rt: Runtime, st: list[Any], f: _Fields, target: int) -> int:
    funds = _load_vesting(rt, st)
    funds, unlocked = unlock_unvested(funds, rt.curr_epoch, target)
    st[f.locked] = encode_bigint(_big(st, f.locked) - unlocked)
    st[f.vesting] = rt.store_put([funds])
    return unlocked


def _penalize(rt: Runtime, st: list[Any], f: _Fields, target: int, unlocked: int) -> tuple[int, int]:
    """Take a penalty from unvested rewards first, then the unlocked balance;
    returns (from vesting, from balance)."""
    from_vesting = _unlock_unvested(rt, st, f, target)
    if from_vesting == target:
        return from_vesting, 0
    return from_vesting, min(unlocked, target - from_vesting)


def submit_windowed_post(rt: Runtime, params: list[Any]) -> None:
    """Actors v0: record a window PoSt for the current deadline's partitions
    (skipped sectors become faults, declared recoveries regain power), verify
    it through the PoSt syscall and charge the fault fees due now."""
    dl, posts, proofs, commit_epoch, commit_rand = params
    now = rt.curr_epoch
    nv = rt.network_version
    if dl >= WPOST_PERIOD_DEADLINES:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid deadline {dl}")
    if commit_epoch >= now:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "chain commit epoch must be in the past")
    if commit_epoch < now - WPOST_MAX_CHAIN_COMMIT_AGE:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "chain commit epoch too far in the past")
    _require_v0(rt, "window PoSt")
    if rt.randomness_from_tickets(DST_POST_CHAIN_COMMIT, commit_epoch, b"") != commit_rand:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "post commit randomness mismatched")
    reward = _send_or_abort(rt, REWARD_ADDR, REWARD_THIS_EPOCH_REWARD, b"", "check epoch reward")
    power = _send_or_abort(rt, POWER_ADDR, POWER_CURRENT_TOTAL_POWER, b"", "check current power")
    reward_smoothed = _estimate(reward[1])
    power_smoothed = _estimate(power[3])
    f = _Fields(False)

    def submit(st: list[Any]) -> tuple[PoStResult, int, int]:
        info = _load_info(rt, st)
        _validate_control(rt, info)
        limit = min(ADDRESSED_SECTORS_MAX // info[8], ADDRESSED_PARTITIONS_MAX)
        if len(posts) > limit:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many partitions")
        current = DeadlineInfo(st[f.proving_period_start], st[f.proving_period_start + 1], now)
        deadlines = load_deadlines(rt, st[STATE_DEADLINES_V0])
        if not current.is_open():
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "proving period not yet open")
        if dl != current.index:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid deadline {dl}, expected {current.index}")
        sectors = load_amt(rt, st[STATE_SECTORS], "sector info")
        deadline = list(load_deadline(rt, deadlines[dl]))
        size = info[7]
        result = deadline_record_proven_sectors(
            rt, deadline, sectors, size, current.quant(), current.last + FAULT_MAX_AGE, posts
        )
        proven = result.sectors - result.ignored
        if proven:
            # a fresh load of the sectors; faulty ones are replaced by the
            # first good one, which is loaded first
            table = load_amt(rt, st[STATE_SECTORS], "sector info")
            stand_in = _must_get_sector(rt, table, min(proven))
            challenged = []
            for n in sorted(result.sectors):
                s = stand_in if n in result.ignored else _must_get_sector(rt, table, n)
                challenged.append([s[1], s[0], s[2]])
            _verify_window_post(rt, current.challenge, challenged, proofs)
        penalty_qa = result.penalty_power().qa
        undeclared = declared = 0
        if nv < 3:
            undeclared = undeclared_fault_penalty(
                reward_smoothed, power_smoothed, penalty_qa, nv
            ) - declared_fault_penalty(reward_smoothed, power_smoothed, penalty_qa, nv)
            declared = declared_fault_penalty(
                reward_smoothed, power_smoothed, result.recovered_power.qa, nv
            )
        unlocked = rt.current_balance() - _big(st, f.locked) - _big(st, f.precommit_deposits)
        from_vesting, from_balance = _penalize(rt, st, f, undeclared + declared, unlocked)
        deadlines[dl] = rt.store_put(deadline)
        st[STATE_DEADLINES_V0] = rt.store_put([deadlines])
        return result, from_vesting + from_balance, -from_vesting

    result, penalty, pledge_delta = rt.state_transaction(submit)
    _request_update_power(rt, result.power_delta())
    _burn_funds(rt, penalty)
    _notify_pledge(rt, pledge_delta)


def _verify_window_post(
    rt: Runtime, challenge: int, challenged: list[list[Any]], proofs: list[Any]
) -> None:
    """Draw the challenge randomness and verify the proof through the PoSt
    syscall, charged by proof type and number of challenged sectors."""
    randomness = rt.randomness_from_beacon(
        DST_WINDOWED_POST_CHALLENGE_SEED, challenge, dumps(rt.receiver.bytes)
    )
    proof_type = proofs[0][0] if proofs and isinstance(proofs[0], list) else None
    flat, scale = VERIFY_POST_COST.get(proof_type, VERIFY_POST_COST[7])  # type: ignore[arg-type]
    rt.charge_gas("OnVerifyPost", (flat + len(challenged) * scale) // 2)
    if not rt.verify_post(proofs, challenged, randomness):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "invalid PoSt")


def _must_get_sector(rt: Runtime, sectors: Amt, number: int) -> list[Any]:
    found = get_sector(rt, sectors, number)
    if found is None:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"failed to load sector {number}")
    return list(found)


def _burn_funds(rt: Runtime, amount: int) -> None:
    if amount > 0:
        _ret, code = rt.send(BURNT_FUNDS_ADDR, 0, b"", amount)
        if code != 0:
            rt.abort(code, "failed to burn funds")


CHAIN_FINALITY = 900
MAX_SEAL_DURATION = 10_000  # epochs between pre-commit and proof, 32/64 GiB
SEALED_CID_CODEC = 0xF102  # fil-commitment-sealed
SEALED_CID_HASH = 0xB401  # poseidon-bls12_381-a1-fc1


def _decode_precommit(data: bytes) -> list[Any]:
    fields = decode_tuple(data, 10)
    if not isinstance(fields[2], CID):
        raise DecodeError("sealed CID must be a link")
    for i in (0, 1, 5, 7, 8, 9):
        fields[i] = as_int(fields[i]) if i == 5 else as_uint(fields[i])
    fields[3] = as_int(fields[3])
    if not isinstance(fields[6], bool):
        raise DecodeError("replace capacity must be a boolean")
    if not isinstance(fields[4], list):
        raise DecodeError("deal IDs must be a list")
    fields[4] = [as_uint(d) for d in fields[4]]
    return fields


MIN_SECTOR_EXPIRATION = 180 * EPOCHS_IN_DAY
MAX_SECTOR_EXPIRATION_EXTENSION = 540 * EPOCHS_IN_DAY
SECTOR_MAX_LIFETIME = 5 * 365 * EPOCHS_IN_DAY  # every v1 seal proof
DEAL_LIMIT_DENOMINATOR = 134217728
REWARD_THIS_EPOCH_REWARD = 3
POWER_CURRENT_TOTAL_POWER = 9
MARKET_VERIFY_DEALS_FOR_ACTIVATION = 5


def _validate_expiration(rt: Runtime, activation: int, expiration: int) -> None:
    if expiration - activation < MIN_SECTOR_EXPIRATION:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid expiration {expiration}: too soon")
    if expiration > rt.curr_epoch + MAX_SECTOR_EXPIRATION_EXTENSION:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid expiration {expiration}: too far")
    if expiration - activation > SECTOR_MAX_LIFETIME:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid expiration {expiration}: past lifetime")


def _send_or_abort(rt: Runtime, to: Address, method: int, params: bytes, what: str) -> Any:
    ret, code = rt.send(to, method, params, 0)
    if code != 0:
        rt.abort(code, f"failed to {what}")
    return loads(ret) if ret else None


def _estimate(raw: Any) -> tuple[int, int]:
    """A FilterEstimate [position, velocity], both Q.128."""
    return decode_bigint(raw[0]), decode_bigint(raw[1])


def _load_partition(rt: Runtime, st: list[Any], deadlines_at: int, dl: int, part: int) -> list[Any]:
    deadlines = load_deadlines(rt, st[deadlines_at])
    deadline = load_deadline(rt, deadlines[dl])
    partition = get_partition(rt, load_amt(rt, deadline[0], "partition"), part)
    if partition is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, f"no partition {part}")
    return partition


def _validate_replace_sector(rt: Runtime, st: list[Any], params: list[Any]) -> int:
    """v0: a committed-capacity sector may be replaced by one with deals if
    it has no deals, the same proof, an expiry no later and is healthy;
    returns its initial pledge, the new deposit's lower bound."""
    proof, expiration, dl, part, number = params[0], params[5], params[7], params[8], params[9]
    old = get_sector(rt, load_amt(rt, st[STATE_SECTORS], "sector info"), number)
    if old is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, f"no such sector {number} to replace")
    if old[3]:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"cannot replace sector {number} which has deals")
    if proof != old[1]:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"cannot replace sector {number}: other proof")
    if expiration < old[5]:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"cannot replace sector {number}: sooner expiry")
    partition = _load_partition(rt, st, STATE_DEADLINES_V0, dl, part)
    if number not in bitfield.decode(partition[0]):
        rt.abort(ExitCode.ERR_NOT_FOUND, f"sector {number} not in partition {part}")
    if number in bitfield.decode(partition[1]):
        rt.abort(ExitCode.ERR_FORBIDDEN, f"sector {number} is faulty")
    if number in bitfield.decode(partition[3]):
        rt.abort(ExitCode.ERR_NOT_FOUND, f"sector {number} is terminated")
    return decode_bigint(old[8])


def pre_commit_sector(rt: Runtime, params: list[Any]) -> None:
    """Actors v0: record a sector's pre-commitment and lock its deposit
    (a projection of 20 days of its expected reward)."""
    (proof, number, sealed, rand_epoch, deal_ids, expiration, replace, replace_dl,
     _replace_part, replace_no) = params
    now = rt.curr_epoch
    if proof not in SEAL_PROOF_INFO:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"unsupported seal proof type {proof}")
    if number > MAX_SECTOR_NUMBER:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "sector number out of range")
    if sealed.codec != SEALED_CID_CODEC or sealed.mh_code != SEALED_CID_HASH:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "sealed CID had wrong prefix")
    if rand_epoch >= now:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "seal challenge epoch must be before now")
    if rand_epoch < now - CHAIN_FINALITY - MAX_SEAL_DURATION:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "seal challenge epoch too old")
    if rt.profile.actors_version >= 2:
        raise FatalError("sector pre-commitment is not implemented for actors v2")
    if expiration <= now:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"sector expiration {expiration} must be after now")
    if replace and not deal_ids:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cannot replace sector without committing deals")
    if replace_dl >= WPOST_PERIOD_DEADLINES:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid deadline {replace_dl}")
    if replace_no > MAX_SECTOR_NUMBER:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid sector number {replace_no}")

    reward = _send_or_abort(rt, REWARD_ADDR, REWARD_THIS_EPOCH_REWARD, b"", "check epoch reward")
    power = _send_or_abort(rt, POWER_ADDR, POWER_CURRENT_TOTAL_POWER, b"", "check current power")
    weights = _send_or_abort(
        rt,
        MARKET_ADDR,
        MARKET_VERIFY_DEALS_FOR_ACTIVATION,
        dumps([deal_ids, expiration, now]),
        "verify deals and get deal weight",
    )
    reward_smoothed = _estimate(reward[1])
    power_smoothed = _estimate(power[3])
    deal_weight, verified_weight = decode_bigint(weights[0]), decode_bigint(weights[1])
    f = _Fields(False)

    def commit(st: list[Any]) -> int:
        info = _load_info(rt, st)
        allowed = [as_address(a) for a in (info[2] or [])]
        rt.validate_caller_is(*allowed, as_address(info[0]), as_address(info[1]))
        if proof != info[6]:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "sector seal proof must match the miner's")
        sector_size = info[7]
        if len(deal_ids) > max(256, sector_size // DEAL_LIMIT_DENOMINATOR):
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many deals for sector")
        # allocate the sector number
        # run by run: a compacted (masked) range may be huge
        allocated = _load_allocated(rt, st, STATE_ALLOCATED)
        if bitfield.contains(allocated, number):
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"sector number {number} already allocated")
        st[STATE_ALLOCATED] = rt.store_put(bitfield.union(allocated, bitfield.encode({number})))
        if load_hamt(rt, st[STATE_PRECOMMITS], "pre-committed sector").get(uint_key(number)) is not None:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"sector {number} already pre-committed")
        if load_amt(rt, st[STATE_SECTORS], "sector info").get(number) is not None:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"sector {number} already committed")
        _validate_expiration(rt, now + MAX_SEAL_DURATION, expiration)
        deposit_minimum = 0
        if replace:
            deposit_minimum = _validate_replace_sector(rt, st, params)
        funds = _load_vesting(rt, st)
        funds, newly_vested = unlock_vested(funds, now)
        st[f.locked] = encode_bigint(_big(st, f.locked) - newly_vested)
        st[f.vesting] = rt.store_put([funds])
        available = (
            rt.current_balance()
            - _big(st, f.locked)
            - _big(st, f.precommit_deposits)
            - _big(st, f.initial_pledge)
        )
        qa_power = qa_power_for_weight(sector_size, expiration - now, deal_weight, verified_weight)
        deposit = max(
            pre_commit_deposit(reward_smoothed, power_smoothed, qa_power, clamp=False),
            deposit_minimum,
        )
        if available < deposit:
            rt.abort(ExitCode.ERR_INSUFFICIENT_FUNDS, f"insufficient funds for deposit {deposit}")
        st[f.precommit_deposits] = encode_bigint(_big(st, f.precommit_deposits) + deposit)
        precommits = load_hamt(rt, st[STATE_PRECOMMITS], "pre-committed sector")
        on_chain = [
            list(params), encode_bigint(deposit), now,
            encode_bigint(deal_weight), encode_bigint(verified_weight),
        ]
        precommits.set(uint_key(number), on_chain)
        st[STATE_PRECOMMITS] = precommits.flush()
        # the +1 lets a proof arriving on the last allowed epoch still be confirmed
        expiry = now + MAX_SEAL_DURATION + 1
        st[STATE_PRECOMMIT_EXPIRY] = add_to_bitfield_queue(
            rt,
            st[STATE_PRECOMMIT_EXPIRY],
            (WPOST_CHALLENGE_WINDOW, st[f.proving_period_start]),
            expiry,
            {number},
        )
        return newly_vested

    newly_vested = rt.state_transaction(commit)
    _notify_pledge(rt, -newly_vested)


# v0 state positions (v2: one more, after the fee debt)
STATE_PRECOMMITS = 5
STATE_PRECOMMIT_EXPIRY = 6
STATE_ALLOCATED = 7


def _load_allocated(rt: Runtime, st: list[Any], at: int) -> bytes:
    """The allocated sector numbers: a block holding one bit field, loaded through the
    store as lotus loads it (so a block that is not one is fatal)."""
    block = rt.store_get(st[at])
    check_bit_field_block("allocated sectors", st[at], block, rt.receiver)
    allocated: bytes = block
    return allocated
STATE_SECTORS = 8
STATE_DEADLINES_V0 = 11


MARKET_ACTIVATE_DEALS = 6


def _decode_confirm(data: bytes) -> list[int]:
    (numbers,) = decode_tuple(data, 1)
    if not isinstance(numbers, list):
        raise DecodeError("sector numbers must be a list")
    return [as_uint(n) for n in numbers]


def confirm_sector_proofs_valid(rt: Runtime, numbers: list[int]) -> None:
    """Actors v0, called by the power actor's cron once seal proofs have
    verified: activate each sector's deals, turn its pre-commitment into a
    sector (deposit released, initial pledge locked), assign it to a proving
    deadline and claim its power."""
    rt.validate_caller_is(POWER_ADDR)
    _require_v0(rt, "sector confirmation")
    reward = _send_or_abort(rt, REWARD_ADDR, REWARD_THIS_EPOCH_REWARD, b"", "check epoch reward")
    power = _send_or_abort(rt, POWER_ADDR, POWER_CURRENT_TOTAL_POWER, b"", "check current power")
    circulating = rt.circ_supply
    f = _Fields(False)
    st = rt.state_readonly()
    info = _load_info(rt, st)
    precommits = load_hamt(rt, st[STATE_PRECOMMITS], "pre-committed sector")
    found = [pc for n in numbers if (pc := precommits.get(uint_key(n))) is not None]
    valid = []
    replaced: dict[int, dict[int, set[int]]] = {}
    for pc in found:
        params = dumps([pc[0][4], pc[0][5]])
        _ret, code = rt.send(MARKET_ADDR, MARKET_ACTIVATE_DEALS, params, 0)
        if code != 0:
            continue  # the sector is dropped, the others proceed
        valid.append(pc)
        if pc[0][6]:  # replaces a committed-capacity sector
            replaced.setdefault(pc[0][7], {}).setdefault(pc[0][8], set()).add(pc[0][9])
    if not valid:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "all prove commits failed to validate")
    reward_smoothed, baseline = _estimate(reward[1]), decode_bigint(reward[2])
    power_smoothed = _estimate(power[3])
    now = rt.curr_epoch

    def confirm(st: list[Any]) -> tuple[PowerPair, int, int]:
        # replaced committed-capacity sectors now expire at the end of their
        # deadline's next occurrence (they are still proven until then)
        deadlines = load_deadlines(rt, st[STATE_DEADLINES_V0])
        current = load_amt(rt, st[STATE_SECTORS], "sector info")
        for dl_index in sorted(replaced):
            target = DeadlineInfo(st[f.proving_period_start], dl_index, now).next_not_elapsed()
            deadline = list(load_deadline(rt, deadlines[dl_index]))
            deadline_reschedule_expirations(
                rt, deadline, current, target.last, replaced[dl_index], info[7], target.quant()
            )
            deadlines[dl_index] = rt.store_put(deadline)
        st[STATE_DEADLINES_V0] = rt.store_put([deadlines])
        size = info[7]
        new_sectors = []
        total_pledge = total_deposit = 0
        for pc in valid:
            pinfo = pc[0]
            duration = pinfo[5] - now
            if duration < MIN_SECTOR_EXPIRATION:
                continue
            deal_weight, verified_weight = decode_bigint(pc[3]), decode_bigint(pc[4])
            qa = qa_power_for_weight(size, duration, deal_weight, verified_weight)
            day_reward = expected_reward_for_power(
                reward_smoothed, power_smoothed, qa, EPOCHS_IN_DAY, clamp=False
            )
            storage_pledge = expected_reward_for_power(
                reward_smoothed, power_smoothed, qa, INITIAL_PLEDGE_PROJECTION, clamp=False
            )
            pledge = initial_pledge(
                qa, baseline, reward_smoothed, power_smoothed, circulating, clamp=False
            )
            total_deposit += decode_bigint(pc[1])
            total_pledge += pledge
            new_sectors.append([
                pinfo[1], pinfo[0], pinfo[2], pinfo[4], now, pinfo[5], pc[3], pc[4],
                encode_bigint(pledge), encode_bigint(day_reward), encode_bigint(storage_pledge),
            ])
        sectors = load_amt(rt, st[STATE_SECTORS], "sector info")
        for sector in new_sectors:
            sectors.set(sector[0], sector)
        st[STATE_SECTORS] = sectors.flush()
        table = load_hamt(rt, st[STATE_PRECOMMITS], "pre-committed sector")
        for sector in new_sectors:
            table.delete(uint_key(sector[0]))
        st[STATE_PRECOMMITS] = table.flush()
        st[STATE_DEADLINES_V0], new_power = assign_sectors_to_deadlines(
            rt, st[STATE_DEADLINES_V0], st[f.proving_period_start], now, new_sectors,
            info[8], size,
        )
        funds = _load_vesting(rt, st)
        funds, newly_vested = unlock_vested(funds, now)
        st[f.locked] = encode_bigint(_big(st, f.locked) - newly_vested)
        st[f.vesting] = rt.store_put([funds])
        st[f.precommit_deposits] = encode_bigint(_big(st, f.precommit_deposits) - total_deposit)
        available = (
            rt.current_balance() - _big(st, f.locked) - _big(st, f.precommit_deposits)
            - _big(st, f.initial_pledge)
        )
        if available < total_pledge:
            rt.abort(ExitCode.ERR_INSUFFICIENT_FUNDS, "insufficient funds for initial pledge")
        st[f.initial_pledge] = encode_bigint(_big(st, f.initial_pledge) + total_pledge)
        return new_power, total_pledge, newly_vested

    new_power, total_pledge, newly_vested = rt.state_transaction(confirm)
    _request_update_power(rt, new_power)
    _notify_pledge(rt, total_pledge - newly_vested)


CRON_EVENT_PROCESS_EARLY_TERMINATIONS = 2
STATE_EARLY_TERMINATIONS_V0 = 12


def _decode_cron_payload(data: bytes) -> int:
    (event_type,) = decode_tuple(data, 1)
    return as_int(event_type)


def on_deferred_cron_event(rt: Runtime, event_type: int) -> None:
    """Actors v0: the power actor's cron calls back for the events the miner
    enrolled: the end of each proving deadline, a worker key change."""
    rt.validate_caller_is(POWER_ADDR)
    _require_v0(rt, "the miner's deferred cron")
    if event_type == CRON_EVENT_PROVING_DEADLINE:
        _handle_proving_deadline(rt)
    elif event_type == CRON_EVENT_WORKER_KEY_CHANGE:
        _commit_worker_key_change(rt)
    elif event_type == CRON_EVENT_PROCESS_EARLY_TERMINATIONS and _process_early_terminations(rt):
        _schedule_early_termination_work(rt)


def _commit_worker_key_change(rt: Runtime) -> None:
    def commit(st: list[Any]) -> None:
        info = _load_info(rt, st)
        pending = info[3]
        if pending is None:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "no pending key change")
        if pending[1] > rt.curr_epoch:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "too early for key change")
        info[1] = pending[0]
        info[3] = None
        st[0] = rt.store_put(info)

    rt.state_transaction(commit)


def _handle_proving_deadline(rt: Runtime) -> None:
    """Vest, expire stale pre-commitments (burning their deposits), and once
    the proving period has started close the current deadline: partitions
    without a PoSt turn faulty, fault fees are charged, expired sectors
    leave; then move to the next deadline and enroll its cron event."""
    now = rt.curr_epoch
    nv = rt.network_version
    reward = _send_or_abort(rt, REWARD_ADDR, REWARD_THIS_EPOCH_REWARD, b"", "check epoch reward")
    power = _send_or_abort(rt, POWER_ADDR, POWER_CURRENT_TOTAL_POWER, b"", "check current power")
    reward_smoothed = _estimate(reward[1])
    power_smoothed = _estimate(power[3])
    f = _Fields(False)

    def handle(st: list[Any]) -> tuple[PowerPair, int, int, bool]:
        power_delta = PowerPair()
        penalty = 0
        funds = _load_vesting(rt, st)
        funds, newly_vested = unlock_vested(funds, now)
        st[f.locked] = encode_bigint(_big(st, f.locked) - newly_vested)
        st[f.vesting] = rt.store_put([funds])
        pledge_delta = -newly_vested
        # expire pre-committed sectors whose proof never came
        expiry = load_amt(rt, st[STATE_PRECOMMIT_EXPIRY], "bit-field queue entry")
        expired, modified = pop_bitfield_queue(rt, expiry, now)
        if modified:
            st[STATE_PRECOMMIT_EXPIRY] = expiry.flush()
        burn, stale = 0, []
        for number in sorted(expired):
            found = load_hamt(rt, st[STATE_PRECOMMITS], "pre-committed sector").get(uint_key(number))
            if found is not None:
                stale.append(number)
                burn += decode_bigint(found[1])
        if stale:
            table = load_hamt(rt, st[STATE_PRECOMMITS], "pre-committed sector")
            for number in stale:
                table.delete(uint_key(number))
            st[STATE_PRECOMMITS] = table.flush()
        st[f.precommit_deposits] = encode_bigint(_big(st, f.precommit_deposits) - burn)
        penalty += burn
        had_early = bitfield.decode(st[STATE_EARLY_TERMINATIONS_V0]) != set()
        info = DeadlineInfo(st[f.proving_period_start], st[f.proving_period_start + 1], now)
        if now < info.period_start:
            return power_delta, penalty, pledge_delta, had_early  # before the first period
        deadlines = load_deadlines(rt, st[STATE_DEADLINES_V0])
        deadline = list(load_deadline(rt, deadlines[info.index]))
        quant = info.quant()
        unlocked = rt.current_balance() - _big(st, f.locked) - _big(st, f.precommit_deposits)
        previously_faulty = PowerPair.decode(deadline[D_FAULTY_POWER]).qa
        new_faulty, failed_recovery = deadline_process_end(
            rt, deadline, quant, info.last + FAULT_MAX_AGE
        )
        power_delta = power_delta - new_faulty
        if nv < 3:
            qa = new_faulty.qa + failed_recovery.qa
            target = undeclared_fault_penalty(
                reward_smoothed, power_smoothed, qa, nv
            ) - declared_fault_penalty(reward_smoothed, power_smoothed, qa, nv)
            from_vesting, from_balance = _penalize(rt, st, f, target, unlocked)
            unlocked -= from_balance
            penalty += from_vesting + from_balance
            pledge_delta -= from_vesting
        ongoing = previously_faulty if nv >= 3 else PowerPair.decode(deadline[D_FAULTY_POWER]).qa
        target = declared_fault_penalty(reward_smoothed, power_smoothed, ongoing, nv)
        from_vesting, from_balance = _penalize(rt, st, f, target, unlocked)
        penalty += from_vesting + from_balance
        pledge_delta -= from_vesting
        _on_time, early, on_time_pledge, active, _faulty = deadline_pop_expired(
            rt, deadline, info.last, quant
        )
        pledge_delta -= on_time_pledge
        st[f.initial_pledge] = encode_bigint(_big(st, f.initial_pledge) - on_time_pledge)
        power_delta = power_delta - active
        if early:
            terminations = bitfield.decode(st[STATE_EARLY_TERMINATIONS_V0]) | {info.index}
            st[STATE_EARLY_TERMINATIONS_V0] = bitfield.encode(terminations)
        deadlines[info.index] = rt.store_put(deadline)
        st[STATE_DEADLINES_V0] = rt.store_put([deadlines])
        st[f.proving_period_start + 1] = (info.index + 1) % WPOST_PERIOD_DEADLINES
        if st[f.proving_period_start + 1] == 0:
            st[f.proving_period_start] += WPOST_PROVING_PERIOD
        return power_delta, penalty, pledge_delta, had_early

    power_delta, penalty, pledge_delta, had_early = rt.state_transaction(handle)
    _request_update_power(rt, power_delta)
    _burn_funds(rt, penalty)
    _notify_pledge(rt, pledge_delta)
    st = rt.state_readonly()
    following = DeadlineInfo(st[f.proving_period_start], st[f.proving_period_start + 1], now)
    payload = dumps([CRON_EVENT_PROVING_DEADLINE])
    _send_or_abort(
        rt, POWER_ADDR, POWER_ENROLL_CRON_EVENT, dumps([following.last, payload]),
        "enroll cron event",
    )
    # terminations that just appeared are processed now, the rest by cron
    now_early = bitfield.decode(st[STATE_EARLY_TERMINATIONS_V0])
    if not had_early and now_early and _process_early_terminations(rt):
        _schedule_early_termination_work(rt)


def _decode_check_proven(data: bytes) -> int:
    (number,) = decode_tuple(data, 1)
    return as_uint(number)


def check_sector_proven(rt: Runtime, number: int) -> None:
    rt.validate_caller_any()
    st = rt.state_readonly()
    sectors_at = STATE_SECTORS + (1 if rt.profile.actors_version >= 2 else 0)
    if load_amt(rt, st[sectors_at], "sector info").get(number) is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, f"sector {number} not proven")


def _decode_extensions(data: bytes) -> list[tuple[int, int, bytes, int]]:
    (exts,) = decode_tuple(data, 1)
    if not isinstance(exts, list):
        raise DecodeError("extensions must be a list")
    out = []
    for e in exts:
        if not isinstance(e, list) or len(e) != 4 or not isinstance(e[2], bytes):
            raise DecodeError("extension must be [deadline, partition, sectors, expiration]")
        bitfield.count(e[2])  # well-formed RLE+
        out.append((as_uint(e[0]), as_uint(e[1]), e[2], as_int(e[3])))
    return out


def extend_sector_expiration(rt: Runtime, raw: list[tuple[int, int, bytes, int]]) -> None:
    """Actors v0: push active sectors' expirations later (never earlier,
    within the maximum lifetime); their power is recomputed for the new
    duration."""
    if len(raw) > ADDRESSED_PARTITIONS_MAX:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many declarations")
    for dl, _part, _bits, _exp in raw:
        if dl >= WPOST_PERIOD_DEADLINES:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"deadline {dl} out of range")
    # counted in their encoded form: a huge run is refused without expanding it
    if sum(bitfield.count(bits) for _d, _p, bits, _e in raw) > ADDRESSED_SECTORS_MAX:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many sectors")
    exts = [(dl, part, bitfield.decode(bits), exp) for dl, part, bits, exp in raw]
    _require_v0(rt, "sector expiration extension")
    f = _Fields(False)

    def extend(st: list[Any]) -> tuple[PowerPair, int]:
        info = _load_info(rt, st)
        _validate_control(rt, info)
        deadlines = load_deadlines(rt, st[STATE_DEADLINES_V0])
        order: list[int] = []
        by_deadline: dict[int, list[tuple[int, set[int], int]]] = {}
        for dl, part, numbers, exp in exts:
            if dl not in by_deadline:
                order.append(dl)
            by_deadline.setdefault(dl, []).append((part, numbers, exp))
        sectors = load_amt(rt, st[STATE_SECTORS], "sector info")
        power_delta, pledge_delta = PowerPair(), 0
        for dl in order:
            deadline = list(load_deadline(rt, deadlines[dl]))
            partitions = load_amt(rt, deadline[D_PARTITIONS], "partition")
            quant = DeadlineInfo(st[f.proving_period_start], dl, 0).quant()
            for part, numbers, new_expiration in by_deadline[dl]:
                partition = load_partition(rt, partitions, part)
                old = load_sectors(rt, sectors, numbers)
                new = []
                for sector in old:
                    if new_expiration < sector[5]:
                        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cannot reduce sector expiration")
                    if new_expiration - sector[4] < MIN_SECTOR_EXPIRATION:
                        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "sector lifetime too short")
                    if new_expiration > rt.curr_epoch + MAX_SECTOR_EXPIRATION_EXTENSION:
                        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "expiration too far in the future")
                    if new_expiration - sector[4] > SECTOR_MAX_LIFETIME:
                        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "sector lifetime too long")
                    updated = list(sector)
                    updated[5] = new_expiration
                    new.append(updated)
                for sector in new:
                    sectors.set(sector[0], sector)
                power, pledge = partition_replace_sectors(rt, partition, old, new, info[7], quant)
                power_delta = power_delta + power
                pledge_delta += pledge
                partitions.set(part, partition)
            deadline[D_PARTITIONS] = partitions.flush()
            deadlines[dl] = rt.store_put(deadline)
        st[STATE_SECTORS] = sectors.flush()
        st[STATE_DEADLINES_V0] = rt.store_put([deadlines])
        return power_delta, pledge_delta

    power_delta, pledge_delta = rt.state_transaction(extend)
    _request_update_power(rt, power_delta)
    _notify_pledge(rt, pledge_delta)


MARKET_ON_MINER_SECTORS_TERMINATE = 7


def terminate_sectors(rt: Runtime, raw: Declarations) -> bytes:
    """Actors v0: end live sectors before their expiration; their power goes
    now, their termination fees are charged (and their deals slashed) as the
    early terminations are processed, here and by cron when there are many."""
    decls = _check_declarations(rt, raw)
    _require_v0(rt, "sector termination")
    f = _Fields(False)
    now = rt.curr_epoch

    def terminate(st: list[Any]) -> tuple[PowerPair, bool]:
        had_early = bitfield.decode(st[STATE_EARLY_TERMINATIONS_V0]) != set()
        info = _load_info(rt, st)
        _validate_control(rt, info)
        deadlines = load_deadlines(rt, st[STATE_DEADLINES_V0])
        sectors = load_amt(rt, st[STATE_SECTORS], "sector info")
        lost = PowerPair()
        early = bitfield.decode(st[STATE_EARLY_TERMINATIONS_V0])
        for dl_index in sorted(decls):
            quant = DeadlineInfo(st[f.proving_period_start], dl_index, 0).quant()
            deadline = list(load_deadline(rt, deadlines[dl_index]))
            lost = lost + deadline_terminate_sectors(
                rt, deadline, sectors, now, decls[dl_index], info[7], quant
            )
            early.add(dl_index)
            deadlines[dl_index] = rt.store_put(deadline)
        st[STATE_EARLY_TERMINATIONS_V0] = bitfield.encode(early)
        st[STATE_DEADLINES_V0] = rt.store_put([deadlines])
        return lost, had_early

    lost, had_early = rt.state_transaction(terminate)
    more = _process_early_terminations(rt)
    if more and not had_early:
        _schedule_early_termination_work(rt)
    _request_update_power(rt, -lost)
    return dumps([not more])


def _schedule_early_termination_work(rt: Runtime) -> None:
    payload = dumps([CRON_EVENT_PROCESS_EARLY_TERMINATIONS])
    _send_or_abort(
        rt, POWER_ADDR, POWER_ENROLL_CRON_EVENT, dumps([rt.curr_epoch + 1, payload]),
        "enroll cron event",
    )


def _process_early_terminations(rt: Runtime) -> bool:
    """Charge the termination fees of up to 200 partitions / 10,000 sectors
    of terminated sectors, release their pledge and tell the market to
    slash their deals; True if some remain."""
    reward = _send_or_abort(rt, REWARD_ADDR, REWARD_THIS_EPOCH_REWARD, b"", "check epoch reward")
    power = _send_or_abort(rt, POWER_ADDR, POWER_CURRENT_TOTAL_POWER, b"", "check current power")
    reward_smoothed, power_smoothed = _estimate(reward[1]), _estimate(power[3])
    f = _Fields(False)
    nv = rt.network_version

    def process(st: list[Any]) -> tuple[bool, bool, int, int, list[tuple[int, list[int]]]]:
        with_early = bitfield.decode(st[STATE_EARLY_TERMINATIONS_V0])
        if not with_early:
            return False, False, 0, 0, []
        result, st[STATE_DEADLINES_V0], remaining = pop_early_terminations(
            rt, st[STATE_DEADLINES_V0], with_early, ADDRESSED_PARTITIONS_MAX,
            ADDRESSED_SECTORS_MAX,
        )
        st[STATE_EARLY_TERMINATIONS_V0] = bitfield.encode(remaining)
        more = bool(remaining)
        if not result.sectors:
            return False, more, 0, 0, []
        info = _load_info(rt, st)
        sectors = load_amt(rt, st[STATE_SECTORS], "sector info")
        penalty = total_pledge = 0
        deals: list[tuple[int, list[int]]] = []
        for epoch in sorted(result.sectors):
            infos = load_sectors(rt, sectors, result.sectors[epoch])
            ids: list[int] = []
            for s in infos:
                ids.extend(s[3])
                total_pledge += decode_bigint(s[8])
                penalty += termination_penalty(
                    decode_bigint(s[9]), decode_bigint(s[10]), epoch - s[4], reward_smoothed,
                    power_smoothed, sector_qa_power(info[7], s), nv,
                )
            deals.append((epoch, ids))
        unlocked = rt.current_balance() - _big(st, f.locked) - _big(st, f.precommit_deposits)
        from_vesting, from_balance = _penalize(rt, st, f, penalty, unlocked)
        st[f.initial_pledge] = encode_bigint(_big(st, f.initial_pledge) - total_pledge)
        return True, more, from_vesting + from_balance, -(total_pledge + from_vesting), deals

    did, more, penalty, pledge_delta, deals = rt.state_transaction(process)
    if not did:
        return more
    _burn_funds(rt, penalty)
    _notify_pledge(rt, pledge_delta)
    for epoch, ids in deals:
        if ids:
            _send_or_abort(
                rt, MARKET_ADDR, MARKET_ON_MINER_SECTORS_TERMINATE, dumps([epoch, ids]),
                "terminate deals",
            )
    return more


def _decode_mask(data: bytes) -> bytes:
    (mask,) = decode_tuple(data, 1)
    if not isinstance(mask, bytes):
        raise DecodeError("mask must be a bitfield")
    bitfield.count(mask)  # well-formed RLE+
    return mask


def compact_sector_numbers(rt: Runtime, mask: bytes) -> None:
    """Mark sector numbers as used so they are never allocated (miners mask
    whole ranges to keep the allocation bitfield small)."""
    top = bitfield.last(mask)
    if top is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "invalid mask bitfield: no bits set")
    if top > MAX_SECTOR_NUMBER:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"masked sector number {top} exceeds the maximum")
    at = STATE_ALLOCATED + (1 if rt.profile.actors_version >= 2 else 0)

    def compact(st: list[Any]) -> None:
        info = _load_info(rt, st)
        _validate_control(rt, info)
        st[at] = rt.store_put(bitfield.union(_load_allocated(rt, st, at), mask))

    rt.state_transaction(compact)


def _decode_compact_partitions(data: bytes) -> tuple[int, bytes]:
    dl, partitions = decode_tuple(data, 2)
    if not isinstance(partitions, bytes):
        raise DecodeError("partitions must be a bitfield")
    bitfield.count(partitions)  # well-formed RLE+
    return as_uint(dl), partitions


def compact_partitions(rt: Runtime, params: tuple[int, bytes]) -> None:
    """Actors v0: rebuild some partitions of a deadline that is not about to
    be challenged: terminated sectors are forgotten, live ones packed into
    fewer partitions."""
    dl, raw = params
    if dl >= WPOST_PERIOD_DEADLINES:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid deadline {dl}")
    count = bitfield.count(raw)
    _require_v0(rt, "partition compaction")
    f = _Fields(False)

    def compact(st: list[Any]) -> None:
        info = _load_info(rt, st)
        _validate_control(rt, info)
        if not deadline_is_mutable(st[f.proving_period_start], dl, rt.curr_epoch):
            rt.abort(ExitCode.ERR_FORBIDDEN, f"cannot compact deadline {dl} now")
        if count > min(ADDRESSED_SECTORS_MAX // info[8], ADDRESSED_PARTITIONS_MAX):
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many partitions")
        quant = DeadlineInfo(st[f.proving_period_start], dl, 0).quant()
        deadlines = load_deadlines(rt, st[STATE_DEADLINES_V0])
        deadline = list(load_deadline(rt, deadlines[dl]))
        live, dead, removed_power = deadline_remove_partitions(
            rt, deadline, bitfield.decode(raw), quant
        )
        sectors = load_amt(rt, st[STATE_SECTORS], "sector info")
        for number in sorted(dead):
            sectors.delete(number)
        st[STATE_SECTORS] = sectors.flush()
        moved = load_sectors(rt, load_amt(rt, st[STATE_SECTORS], "sector info"), live)
        new_power = deadline_add_sectors(rt, deadline, info[8], moved, info[7], quant)
        if new_power != removed_power:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "power changed when compacting partitions")
        deadlines[dl] = rt.store_put(deadline)
        st[STATE_DEADLINES_V0] = rt.store_put([deadlines])

    rt.state_transaction(compact)


POWER_ON_CONSENSUS_FAULT = 7
DEALS_PER_TERMINATE_CALL = 8192  # cbor-gen's longest array


def _decode_consensus_fault(data: bytes) -> tuple[bytes, bytes, bytes]:
    a, b, extra = decode_tuple(data, 3)
    if not all(isinstance(x, bytes) for x in (a, b, extra)):
        raise DecodeError("block headers must be bytes")
    return a, b, extra


def reward_for_consensus_slash_report(elapsed: int, collateral: int) -> int:
    """0.1% of the miner's balance, growing by 1.251% an epoch since the
    fault, at most half of it."""
    share = (101251**elapsed * collateral) // (100000**elapsed * 1000)
    return min(share, collateral // 2)


def report_consensus_fault(rt: Runtime, params: tuple[bytes, bytes, bytes]) -> None:
    """Actors v0: a verified consensus fault ends the miner: the reporter is
    paid a share of its balance, its power and pledge leave the power actor,
    its deals are terminated and the rest of its balance is burnt."""
    rt.validate_caller_type(rt.profile.code("account"), rt.profile.code("multisig"))
    _require_v0(rt, "consensus fault reporting")
    reporter = rt.caller
    fault = rt.verify_consensus_fault(*params)
    if fault is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "fault not verified")
    age = rt.curr_epoch - fault[1]
    if age <= 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"invalid fault epoch {fault[1]} ahead of now")
    reward = reward_for_consensus_slash_report(age, rt.current_balance())
    _ret, code = rt.send(reporter, 0, b"", reward)
    if code != 0:
        rt.abort(code, "failed to reward reporter")
    f = _Fields(False)
    st = rt.state_readonly()
    _send_or_abort(
        rt, POWER_ADDR, POWER_ON_CONSENSUS_FAULT, dumps(st[f.locked]),
        "notify power actor on consensus fault",
    )
    st = rt.state_readonly()
    deal_ids: list[int] = []
    for _number, sector in load_amt(rt, st[STATE_SECTORS], "sector info").for_each_stored():
        deal_ids.extend(sector[3])
    while deal_ids:
        chunk, deal_ids = deal_ids[:DEALS_PER_TERMINATE_CALL], deal_ids[DEALS_PER_TERMINATE_CALL:]
        _send_or_abort(
            rt, MARKET_ADDR, MARKET_ON_MINER_SECTORS_TERMINATE, dumps([rt.curr_epoch, chunk]),
            "terminate deals",
        )
    rt.delete_actor(BURNT_FUNDS_ADDR)


def _build() -> ActorImpl:
    impl = stub("storageminer")
    impl.methods[6] = (pre_commit_sector, _decode_precommit)
    impl.methods[5] = (submit_windowed_post, _decode_window_post)
    impl.methods[10] = (declare_faults, _decode_declarations)
    impl.methods[11] = (declare_faults_recovered, _decode_declarations)
    impl.methods[7] = (prove_commit_sector, _decode_prove_commit)
    impl.methods[17] = (confirm_sector_proofs_valid, _decode_confirm)
    impl.methods[12] = (on_deferred_cron_event, _decode_cron_payload)
    impl.methods[8] = (extend_sector_expiration, _decode_extensions)
    impl.methods[9] = (terminate_sectors, _decode_declarations)
    impl.methods[20] = (compact_sector_numbers, _decode_mask)
    impl.methods[19] = (compact_partitions, _decode_compact_partitions)
    impl.methods[15] = (report_consensus_fault, _decode_consensus_fault)
    impl.methods[13] = (check_sector_proven, _decode_check_proven)
    impl.methods[1] = (constructor, _decode_ctor)
    impl.methods[3] = (change_worker_address, _decode_change_worker)
    impl.methods[4] = (change_peer_id, _decode_one)
    impl.methods[16] = (withdraw_balance, _decode_withdraw)
    impl.methods[18] = (change_multiaddrs, _decode_one)
    impl.methods[2] = (control_addresses, decode_empty)
    impl.methods[14] = (_reward_method, _decode_reward_params)
    return impl


MINER = _build()
