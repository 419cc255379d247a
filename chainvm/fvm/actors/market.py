"""The storage market actor (actors v0; docs/fvm.md lists its methods).

State: ``[proposals AMT, states AMT, pending proposals HAMT, escrow table
HAMT, locked table HAMT, next deal id, deal ops by epoch HAMT, last cron,
total client locked collateral, total provider locked collateral, total
client storage fee]``. The tables are loaded through `actors.tables`, which
checks each value read against its layout.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import (
    DecodeError,
    as_address,
    as_cid,
    as_int,
    as_uint,
    check_catch_up,
    decode_address,
    decode_bigint,
    decode_empty,
    decode_tuple,
    dumps,
    loads,
    uint_key,
)
from chainvm.fvm.actors.stubs import stub
from chainvm.fvm.actors.tables import address_text, load_amt, load_hamt
from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import CID, decode_uvarint, encode_bigint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import (
    BURNT_FUNDS_ADDR,
    CRON_ADDR,
    POWER_ADDR,
    REWARD_ADDR,
    VERIFREG_ADDR,
    ActorImpl,
    FatalError,
    Runtime,
)


class _Books:
    """The balance tables and the running totals a cron tick moves funds in."""

    def __init__(self, rt: Runtime, escrow: Hamt, locked: Hamt, totals: list[int]) -> None:
        self.rt = rt
        self.escrow = escrow
        self.locked = locked
        # client collateral, provider collateral, client storage fee
        self.totals = totals

    def _must_subtract(self, table: Hamt, addr: Address, amount: int) -> None:
        prev = table.get(addr.bytes)
        if amount > (0 if prev is None else decode_bigint(prev)):
            self.rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"couldn't subtract {amount} for {addr}")
        _table_add(table, addr, -amount)

    def unlock(self, addr: Address, amount: int, reason: int) -> None:
        self._must_subtract(self.locked, addr, amount)
        self.totals[reason] -= amount

    def transfer(self, from_: Address, to: Address, amount: int) -> None:
        self._must_subtract(self.escrow, from_, amount)
        self.unlock(from_, amount, FEE)
        _table_add(self.escrow, to, amount)

    def slash(self, addr: Address, amount: int, reason: int) -> None:
        self._must_subtract(self.escrow, addr, amount)
        self.unlock(addr, amount, reason)


CLIENT_COLLATERAL_TOTAL, PROVIDER_COLLATERAL_TOTAL, FEE = 0, 1, 2


def _settle_deal(
    books: _Books, state: list[Any], p: list[Any], now: int
) -> tuple[int, int, bool]:
    """Pay the provider for the epochs elapsed since the last update; at
    the end (or after a slash) release or slash the collaterals. Returns
    (amount slashed, next epoch to process, whether the deal is over)."""
    start, end = p[START], p[END]
    last_updated, slash_epoch = state[1], state[2]
    if start > now:
        return 0, EPOCH_UNDEFINED, False
    client, provider = as_address(p[CLIENT]), as_address(p[PROVIDER])
    price = decode_bigint(p[PRICE])
    pay_end = slash_epoch if slash_epoch != EPOCH_UNDEFINED else min(end, now)
    pay_start = max(start, last_updated) if last_updated != EPOCH_UNDEFINED else start
    payment = (pay_end - pay_start) * price
    if payment > 0:
        books.transfer(client, provider, payment)
    if slash_epoch != EPOCH_UNDEFINED:
        remaining = (end - max(slash_epoch, start)) * price
        books.unlock(client, remaining, FEE)
        books.unlock(client, decode_bigint(p[CLIENT_COLLATERAL]), CLIENT_COLLATERAL_TOTAL)
        slashed = decode_bigint(p[PROVIDER_COLLATERAL])
        books.slash(provider, slashed, PROVIDER_COLLATERAL_TOTAL)
        return slashed, EPOCH_UNDEFINED, True
    if now >= end:
        books.unlock(provider, decode_bigint(p[PROVIDER_COLLATERAL]), PROVIDER_COLLATERAL_TOTAL)
        books.unlock(client, decode_bigint(p[CLIENT_COLLATERAL]), CLIENT_COLLATERAL_TOTAL)
        return 0, EPOCH_UNDEFINED, True
    return 0, now + DEAL_UPDATES_INTERVAL, False


def cron_tick(rt: Runtime, _: None) -> None:
    """Process the deals scheduled for every epoch since the last tick:
    deals never activated by their start time out (the provider's collateral
    is slashed), active ones pay the provider and are rescheduled a day
    later, finished ones release their collateral."""
    rt.validate_caller_is(CRON_ADDR)
    hv = 0 if rt.profile.actors_version == 0 else 2
    now = rt.curr_epoch
    timed_out_verified: list[list[Any]] = []

    def tick(st: list[Any]) -> int:
        # the reference loads every table with write permission and commits
        # them all, in this order, whatever the cron finds
        proposals = load_amt(rt, st[0], "deal proposal")
        states = load_amt(rt, st[1], "deal state")
        pending = Hamt.load(rt.store, st[2], version=hv)
        escrow = load_hamt(rt, st[3], "balance", hv, address_text)
        locked = load_hamt(rt, st[4], "balance", hv, address_text)
        ops = load_hamt(rt, st[6], "multimap entry", hv)
        books = _Books(rt, escrow, locked, [decode_bigint(st[i]) for i in (8, 9, 10)])
        slashed_total = 0
        reschedule: dict[int, list[int]] = {}
        if ops.root.pointers:
            check_catch_up(rt, "last cron epoch", st[7])
            for epoch in range(st[7] + 1, now + 1):
                root = ops.get(uint_key(epoch))
                if root is not None:
                    if hv != 0:
                        raise FatalError("market deal cron is not implemented for actors v2")
                    for key in Hamt.load(rt.store, root, version=hv).iter_keys():
                        deal_id, _pos = decode_uvarint(key)
                        slashed_total += _process_deal(
                            rt, books, proposals, states, pending, deal_id, now, reschedule,
                            timed_out_verified,
                        )
                ops.delete(uint_key(epoch))
        for epoch in sorted(reschedule):
            found = ops.get(uint_key(epoch))
            members = Hamt.new(rt.store, version=hv) if found is None else Hamt.load(rt.store, found)
            for deal_id in reschedule[epoch]:
                members.set(uint_key(deal_id), None)
            ops.set(uint_key(epoch), members.flush())
        st[7] = now
        st[0] = proposals.flush()
        st[1] = states.flush()
        st[8], st[9], st[10] = (encode_bigint(t) for t in books.totals)
        st[4] = locked.flush()
        st[3] = escrow.flush()
        st[2] = pending.flush()
        st[6] = ops.flush()
        return slashed_total

    slashed = rt.state_transaction(tick)
    for p in timed_out_verified:
        params = dumps([p[CLIENT], encode_bigint(p[PIECE_SIZE])])
        rt.send(VERIFREG_ADDR, VERIFREG_RESTORE_BYTES, params, 0)  # failures only logged
    if slashed:
        _ret, code = rt.send(BURNT_FUNDS_ADDR, 0, b"", slashed)
        if code != 0:
            rt.abort(code, "expected send to burnt funds actor to succeed")


def _process_deal(
    rt: Runtime,
    books: _Books,
    proposals: Amt,
    states: Amt,
    pending: Hamt,
    deal_id: int,
    now: int,
    reschedule: dict[int, list[int]],
    timed_out_verified: list[list[Any]],
) -> int:
    proposal = proposals.get(deal_id)
    if proposal is None:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"failed to get deal {deal_id}")
    key = CID.for_cbor(dumps(proposal)).bytes
    state = states.get(deal_id)
    if state is None:
        # never activated: it timed out; the provider's collateral is slashed
        client, provider = as_address(proposal[CLIENT]), as_address(proposal[PROVIDER])
        fee = decode_bigint(proposal[PRICE]) * (proposal[END] - proposal[START])
        books.unlock(client, fee, FEE)
        books.unlock(client, decode_bigint(proposal[CLIENT_COLLATERAL]), CLIENT_COLLATERAL_TOTAL)
        slashed = decode_bigint(proposal[PROVIDER_COLLATERAL])
        books.slash(provider, slashed, PROVIDER_COLLATERAL_TOTAL)
        if proposal[VERIFIED]:
            timed_out_verified.append(proposal)
        proposals.delete(deal_id)
        pending.delete(key)
        return slashed
    state = list(state)
    if state[1] == EPOCH_UNDEFINED:
        pending.delete(key)
    slashed, next_epoch, done = _settle_deal(books, state, proposal, now)
    if done:
        proposals.delete(deal_id)
        states.delete(deal_id)
        return slashed
    state[1] = now
    states.set(deal_id, state)
    reschedule.setdefault(next_epoch, []).append(deal_id)
    return 0


def _escrow_address(rt: Runtime, addr: Address) -> Address:
    nominal = rt.resolve_address(addr)
    if nominal is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"failed to resolve address {addr}")
    code = rt.get_actor_code(nominal)
    if code is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"no code for address {nominal}")
    if code == rt.profile.code("storageminer"):
        # the miner's control addresses are asked for (and charged) even
        # though only the nominal address is needed here
        _ret, exit_code = rt.send(nominal, 2, b"", 0)
        if exit_code != 0:
            rt.abort(exit_code, "failed fetching control addresses")
    return nominal


def _table_add(table: Hamt, key: Address, amount: int) -> None:
    """BalanceTable.Add: an entry brought to zero is removed."""
    found = table.get(key.bytes)
    prev = 0 if found is None else decode_bigint(found)
    total = prev + amount
    if total < 0:
        raise FatalError(f"balance of {key} would go negative")
    if total == 0 and prev != 0:
        table.delete(key.bytes)
    else:
        table.set(key.bytes, encode_bigint(total))


def add_balance(rt: Runtime, addr: Address) -> None:
    value = rt.value_received
    if value <= 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "balance to add must be greater than zero")
    rt.validate_caller_type(rt.profile.code("account"), rt.profile.code("multisig"))
    nominal = _escrow_address(rt, addr)
    hv = 0 if rt.profile.actors_version == 0 else 2

    def add(st: list[Any]) -> None:
        # both balance tables are opened for writing and committed, though
        # only the escrow table changes
        escrow = load_hamt(rt, st[3], "balance", hv, address_text)
        locked = load_hamt(rt, st[4], "balance", hv, address_text)
        _table_add(escrow, nominal, value)
        st[3] = escrow.flush()
        st[4] = locked.flush()

    rt.state_transaction(add)


def deal_weight(proposal: list[Any]) -> int:
    """Space-time of a deal: its duration times its piece size."""
    return (proposal[7] - proposal[6]) * proposal[1]


def _decode_verify_deals(data: bytes) -> tuple[list[int], int, int]:
    deal_ids, sector_expiry, sector_start = decode_tuple(data, 3)
    if not isinstance(deal_ids, list):
        raise DecodeError("deal IDs must be a list")
    return [as_uint(d) for d in deal_ids], as_int(sector_expiry), as_int(sector_start)


def verify_deals_for_activation(rt: Runtime, params: tuple[list[int], int, int]) -> bytes:
    """The deal weights of a sector being pre-committed, after checking that
    every deal exists, belongs to the calling miner, has not started and
    ends within the sector's life."""
    deal_ids, sector_expiry, now = params
    rt.validate_caller_type(rt.profile.code("storageminer"))
    miner = rt.caller
    st = rt.state_readonly()
    proposals = load_amt(rt, st[0], "deal proposal")
    total = verified = 0
    for deal_id in deal_ids:
        proposal = proposals.get(deal_id)
        if proposal is None:
            rt.abort(ExitCode.ERR_NOT_FOUND, f"no such deal {deal_id}")
        if as_address(proposal[4]) != miner:
            rt.abort(ExitCode.ERR_FORBIDDEN, f"deal {deal_id} has another provider")
        if now > proposal[6]:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"deal {deal_id} start epoch has elapsed")
        if proposal[7] > sector_expiry:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"deal {deal_id} ends after the sector")
        if proposal[2]:
            verified += deal_weight(proposal)
        else:
            total += deal_weight(proposal)
    return dumps([encode_bigint(total), encode_bigint(verified)])


def _decode_data_commitment(data: bytes) -> tuple[int, list[int]]:
    sector_type, deal_ids = decode_tuple(data, 2)
    if not isinstance(deal_ids, list):
        raise DecodeError("deal IDs must be a list")
    return as_int(sector_type), [as_uint(d) for d in deal_ids]


def compute_data_commitment(rt: Runtime, params: tuple[int, list[int]]) -> bytes:
    """The unsealed sector CID (CommD) of a sector holding the given deals' pieces."""
    from chainvm.fvm.proofs import CommitmentError

    sector_type, deal_ids = params
    rt.validate_caller_type(rt.profile.code("storageminer"))
    st = rt.state_readonly()
    proposals = load_amt(rt, st[0], "deal proposal")
    pieces = []
    for deal_id in deal_ids:
        proposal = proposals.get(deal_id)
        if proposal is None:
            rt.abort(ExitCode.ERR_NOT_FOUND, f"no such deal {deal_id}")
        pieces.append((as_cid(proposal[0]), as_uint(proposal[1])))
    try:
        commd = rt.compute_unsealed_sector_cid(sector_type, pieces)
    except CommitmentError as exc:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"failed to compute unsealed sector CID: {exc}")
    return dumps(commd)


EPOCHS_IN_DAY = 2880
DEAL_UPDATES_INTERVAL = EPOCHS_IN_DAY
DEAL_MIN_DURATION = 180 * EPOCHS_IN_DAY
DEAL_MAX_DURATION = 540 * EPOCHS_IN_DAY
TOTAL_FILECOIN = 2_000_000_000 * 10**18
PIECE_CID_CODEC = 0xF101  # fil-commitment-unsealed
PIECE_CID_HASH = 0x1012  # sha2-256-trunc254-padded
DST_MARKET_DEAL_CRON_SEED = 8
MINER_CONTROL_ADDRESSES = 2
REWARD_THIS_EPOCH_REWARD = 3
POWER_CURRENT_TOTAL_POWER = 9
VERIFREG_USE_BYTES = 5
VERIFREG_RESTORE_BYTES = 6
# proposal fields
(PIECE_CID, PIECE_SIZE, VERIFIED, CLIENT, PROVIDER, LABEL, START, END, PRICE,
 PROVIDER_COLLATERAL, CLIENT_COLLATERAL) = range(11)


def _decode_publish(data: bytes) -> list[tuple[list[Any], bytes]]:
    (deals,) = decode_tuple(data, 1)
    if not isinstance(deals, list):
        raise DecodeError("deals must be a list")
    out = []
    for d in deals:
        if not isinstance(d, list) or len(d) != 2:
            raise DecodeError("client deal proposal must be [proposal, signature]")
        proposal, sig = d
        if not isinstance(proposal, list) or len(proposal) != 11 or not isinstance(sig, bytes):
            raise DecodeError("malformed deal proposal")
        p = list(proposal)
        p[PIECE_CID] = as_cid(p[PIECE_CID])
        p[PIECE_SIZE] = as_uint(p[PIECE_SIZE])
        if not isinstance(p[VERIFIED], bool) or not isinstance(p[LABEL], str):
            raise DecodeError("malformed deal proposal")
        p[CLIENT] = as_address(p[CLIENT])
        p[PROVIDER] = as_address(p[PROVIDER])
        p[START], p[END] = as_int(p[START]), as_int(p[END])
        for i in (PRICE, PROVIDER_COLLATERAL, CLIENT_COLLATERAL):
            decode_bigint(p[i])
        out.append((p, sig))
    return out


def encode_proposal(p: list[Any]) -> list[Any]:
    out = list(p)
    out[CLIENT] = p[CLIENT].bytes
    out[PROVIDER] = p[PROVIDER].bytes
    return out


def _deal_qa_power(size: int, verified: bool) -> int:
    from chainvm.fvm.actors.monies import (
        DEAL_WEIGHT_MULTIPLIER,
        QUALITY_BASE,
        SECTOR_QUALITY_PRECISION,
        VERIFIED_DEAL_WEIGHT_MULTIPLIER,
    )

    mult = VERIFIED_DEAL_WEIGHT_MULTIPLIER if verified else DEAL_WEIGHT_MULTIPLIER
    quality = (mult << SECTOR_QUALITY_PRECISION) // QUALITY_BASE
    return (quality * size) >> SECTOR_QUALITY_PRECISION


def provider_collateral_min(
    size: int, verified: bool, raw_power: int, qa_power: int, baseline: int, circ: int, nv: int
) -> int:
    """Actors v0: the provider locks at least a share of (5%, from network
    version 1 1%) of the circulating supply, by the deal's share of power."""
    if nv >= 1:
        lock_num, share_num = circ, size
        share_den = max(raw_power, baseline, share_num)
    else:
        lock_num, share_num = 5 * circ, _deal_qa_power(size, verified)
        share_den = max(qa_power, baseline, share_num)
    return (lock_num * share_num) // (100 * share_den)


def _validate_deal(
    rt: Runtime, p: list[Any], sig: bytes, raw_power: int, qa_power: int, baseline: int
) -> None:
    bad = ExitCode.ERR_ILLEGAL_ARGUMENT
    if not rt.verify_signature(sig, p[CLIENT], dumps(encode_proposal(p))):
        rt.abort(bad, "invalid deal proposal: client signature")
    size = p[PIECE_SIZE]
    if size < 128 or size & (size - 1):
        rt.abort(bad, "proposal piece size is invalid")
    cid = p[PIECE_CID]
    if cid.codec != PIECE_CID_CODEC or cid.mh_code != PIECE_CID_HASH or len(cid.digest) != 32:
        rt.abort(bad, "proposal PieceCID had wrong prefix")
    if p[END] <= p[START]:
        rt.abort(bad, "proposal end before proposal start")
    if rt.curr_epoch > p[START]:
        rt.abort(bad, "deal start epoch has already elapsed")
    duration = p[END] - p[START]
    if not DEAL_MIN_DURATION <= duration <= DEAL_MAX_DURATION:
        rt.abort(bad, "deal duration out of bounds")
    if not 0 <= decode_bigint(p[PRICE]) <= TOTAL_FILECOIN:
        rt.abort(bad, "storage price out of bounds")
    low = provider_collateral_min(
        size, p[VERIFIED], raw_power, qa_power, baseline, rt.circ_supply, rt.network_version
    )
    if not low <= decode_bigint(p[PROVIDER_COLLATERAL]) <= TOTAL_FILECOIN:
        rt.abort(bad, "provider collateral out of bounds")
    if not 0 <= decode_bigint(p[CLIENT_COLLATERAL]) <= TOTAL_FILECOIN:
        rt.abort(bad, "client collateral out of bounds")


def _lock_balance(rt: Runtime, locked: Hamt, escrow: Hamt, addr: Address, amount: int) -> None:
    prev = locked.get(addr.bytes)
    prev_locked = 0 if prev is None else decode_bigint(prev)
    found = escrow.get(addr.bytes)
    balance = 0 if found is None else decode_bigint(found)
    if prev_locked + amount > balance:
        rt.abort(ExitCode.ERR_INSUFFICIENT_FUNDS, f"not enough balance to lock for {addr}")
    _table_add(locked, addr, amount)


def publish_storage_deals(rt: Runtime, deals: list[tuple[list[Any], bytes]]) -> bytes:
    """Actors v0: lock the client's and provider's funds for each deal and
    schedule its first cron processing at a random epoch of its start day."""
    rt.validate_caller_type(rt.profile.code("account"), rt.profile.code("multisig"))
    if not deals:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "empty deals parameter")
    if rt.profile.actors_version >= 2:
        raise FatalError("deal publication is not implemented for actors v2")
    provider_raw = deals[0][0][PROVIDER]
    provider = rt.resolve_address(provider_raw)
    if provider is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, f"failed to resolve provider address {provider_raw}")
    code = rt.get_actor_code(provider)
    if code is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"no code for address {provider}")
    if code != rt.profile.code("storageminer"):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "deal provider is not a storage miner")
    ret, exit_code = rt.send(provider, MINER_CONTROL_ADDRESSES, b"", 0)
    if exit_code != 0:
        rt.abort(exit_code, "failed fetching control addresses")
    if as_address(loads(ret)[1]) != rt.caller:
        rt.abort(ExitCode.ERR_FORBIDDEN, f"caller is not provider {provider}")
    ret, exit_code = rt.send(REWARD_ADDR, REWARD_THIS_EPOCH_REWARD, b"", 0)
    if exit_code != 0:
        rt.abort(exit_code, "failed to check epoch baseline power")
    baseline = decode_bigint(loads(ret)[-1])
    ret, exit_code = rt.send(POWER_ADDR, POWER_CURRENT_TOTAL_POWER, b"", 0)
    if exit_code != 0:
        rt.abort(exit_code, "failed to check current power")
    totals = loads(ret)
    raw_power, qa_power = decode_bigint(totals[0]), decode_bigint(totals[1])
    resolved_clients: dict[Address, Address] = {}

    def publish(st: list[Any]) -> list[int]:
        proposals = load_amt(rt, st[0], "deal proposal")
        locked = load_hamt(rt, st[4], "balance", 0, address_text)
        escrow = load_hamt(rt, st[3], "balance", 0, address_text)
        pending = Hamt.load(rt.store, st[2], version=0)
        by_epoch = load_hamt(rt, st[6], "multimap entry", 0)
        totals = [decode_bigint(st[i]) for i in (8, 9, 10)]
        ids: list[int] = []
        for p, sig in deals:
            p = list(p)
            _validate_deal(rt, p, sig, raw_power, qa_power, baseline)
            if p[PROVIDER] not in (provider, provider_raw):
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "deals from different providers")
            client = rt.resolve_address(p[CLIENT])
            if client is None:
                rt.abort(ExitCode.ERR_NOT_FOUND, f"failed to resolve client address {p[CLIENT]}")
            p[PROVIDER] = provider
            resolved_clients[p[CLIENT]] = client
            p[CLIENT] = client
            fee = decode_bigint(p[PRICE]) * (p[END] - p[START])
            client_collateral = decode_bigint(p[CLIENT_COLLATERAL])
            provider_collateral = decode_bigint(p[PROVIDER_COLLATERAL])
            _lock_balance(rt, locked, escrow, client, client_collateral + fee)
            _lock_balance(rt, locked, escrow, provider, provider_collateral)
            totals[0] += client_collateral
            totals[2] += fee
            totals[1] += provider_collateral
            deal_id = st[5]
            st[5] += 1
            stored = encode_proposal(p)
            key = CID.for_cbor(dumps(stored)).bytes
            if pending.get(key) is not None:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cannot publish duplicate deals")
            pending.set(key, stored)
            proposals.set(deal_id, stored)
            rand = rt.randomness_from_beacon(
                DST_MARKET_DEAL_CRON_SEED, rt.curr_epoch - 1, dumps(stored)
            )
            process_at = p[START] + int.from_bytes(rand[:8], "big") % DEAL_UPDATES_INTERVAL
            _set_multimap_put(rt, by_epoch, process_at, deal_id)
            ids.append(deal_id)
        st[0] = proposals.flush()
        st[4] = locked.flush()
        st[8], st[9], st[10] = (encode_bigint(t) for t in totals)
        st[3] = escrow.flush()
        st[2] = pending.flush()
        st[6] = by_epoch.flush()
        return ids

    ids = rt.state_transaction(publish)
    for p, _sig in deals:
        if p[VERIFIED]:
            client = resolved_clients.get(p[CLIENT])
            if client is None:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "could not get resolved client address")
            params = dumps([client.bytes, encode_bigint(p[PIECE_SIZE])])
            _ret, exit_code = rt.send(VERIFREG_ADDR, VERIFREG_USE_BYTES, params, 0)
            if exit_code != 0:
                rt.abort(exit_code, "failed to add verified deal for client")
    return dumps([ids])


def _set_multimap_put(rt: Runtime, table: Hamt, epoch: int, deal_id: int) -> None:
    """Add a deal to the set (a HAMT with null values) kept under an epoch."""
    key = uint_key(epoch)
    root = table.get(key)
    members = Hamt.new(rt.store, version=0) if root is None else Hamt.load(rt.store, root)
    members.set(uint_key(deal_id), None)
    table.set(key, members.flush())


EPOCH_UNDEFINED = -1


def _decode_activate(data: bytes) -> tuple[list[int], int]:
    deal_ids, sector_expiry = decode_tuple(data, 2)
    if not isinstance(deal_ids, list):
        raise DecodeError("deal IDs must be a list")
    return [as_uint(d) for d in deal_ids], as_int(sector_expiry)


def activate_deals(rt: Runtime, params: tuple[list[int], int]) -> None:
    """Actors v0: a proven sector's deals start (deal state
    [sector start, last updated, slash epoch])."""
    deal_ids, sector_expiry = params
    rt.validate_caller_type(rt.profile.code("storageminer"))
    if rt.profile.actors_version >= 2:
        raise FatalError("deal activation is not implemented for actors v2")
    miner = rt.caller
    now = rt.curr_epoch

    def activate(st: list[Any]) -> None:
        proposals = load_amt(rt, st[0], "deal proposal")
        for deal_id in deal_ids:
            proposal = proposals.get(deal_id)
            if proposal is None:
                rt.abort(ExitCode.ERR_NOT_FOUND, f"no such deal {deal_id}")
            if as_address(proposal[PROVIDER]) != miner:
                rt.abort(ExitCode.ERR_FORBIDDEN, f"deal {deal_id} has another provider")
            if now > proposal[START]:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"deal {deal_id} start epoch has elapsed")
            if proposal[END] > sector_expiry:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"deal {deal_id} ends after the sector")
        proposals = load_amt(rt, st[0], "deal proposal")
        states = load_amt(rt, st[1], "deal state")
        pending = Hamt.load(rt.store, st[2], version=0)
        for deal_id in deal_ids:
            if states.get(deal_id) is not None:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"deal {deal_id} already in a sector")
            proposal = proposals.get(deal_id)
            if proposal is None:
                rt.abort(ExitCode.ERR_NOT_FOUND, f"no such deal {deal_id}")
            if pending.get(CID.for_cbor(dumps(proposal)).bytes) is None:
                rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"deal {deal_id} is not pending")
            states.set(deal_id, [now, EPOCH_UNDEFINED, EPOCH_UNDEFINED])
        st[1] = states.flush()

    rt.state_transaction(activate)


def _decode_withdraw(data: bytes) -> tuple[Address, int]:
    who, amount = decode_tuple(data, 2)
    return as_address(who), decode_bigint(amount)


def withdraw_balance(rt: Runtime, params: tuple[Address, int]) -> None:
    """Actors v0: take back escrow not locked in deals; a miner's funds go
    to its owner and only its owner or worker may ask (see below: v0 never
    gets that far)."""
    who, amount = params
    if amount < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"negative amount {amount}")
    rt.validate_caller_type(rt.profile.code("account"), rt.profile.code("multisig"))
    if rt.profile.actors_version >= 2:
        raise FatalError("market withdrawal is not implemented for actors v2")
    nominal = rt.resolve_address(who)
    if nominal is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"failed to resolve address {who}")
    code = rt.get_actor_code(nominal)
    if code is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"no code for address {nominal}")
    recipient, approved = nominal, [nominal]
    if code == rt.profile.code("storageminer"):
        ret, exit_code = rt.send(nominal, MINER_CONTROL_ADDRESSES, b"", 0)
        if exit_code != 0:
            rt.abort(exit_code, "failed fetching control addresses")
        owner, worker = (as_address(a) for a in loads(ret)[:2])
        recipient, approved = owner, [owner, worker]
    # actors v0 validates the caller a second time here, which the runtime
    # refuses (SysErrIllegalActor): under v0 every withdrawal fails at this
    # point, after the control-address query, exactly as on chain
    rt.validate_caller_is(*approved)

    def withdraw(st: list[Any]) -> int:
        locked = load_hamt(rt, st[4], "balance", 0, address_text)
        escrow = load_hamt(rt, st[3], "balance", 0, address_text)
        found = locked.get(nominal.bytes)
        minimum = 0 if found is None else decode_bigint(found)
        found = escrow.get(nominal.bytes)
        prev = 0 if found is None else decode_bigint(found)
        extracted = min(max(0, prev - minimum), amount)
        if extracted > 0:
            _table_add(escrow, nominal, -extracted)
        st[4] = locked.flush()
        st[3] = escrow.flush()
        return extracted

    extracted = rt.state_transaction(withdraw)
    _ret, exit_code = rt.send(recipient, 0, b"", extracted)
    if exit_code != 0:
        rt.abort(exit_code, "failed to send funds")


def _decode_sectors_terminate(data: bytes) -> tuple[int, list[int]]:
    epoch, deal_ids = decode_tuple(data, 2)
    if not isinstance(deal_ids, list):
        raise DecodeError("deal IDs must be a list")
    return as_int(epoch), [as_uint(d) for d in deal_ids]


def on_miner_sectors_terminate(rt: Runtime, params: tuple[int, list[int]]) -> None:
    """Actors v0: mark the deals of terminated sectors slashed at ``epoch``;
    the cron settles them (the provider's collateral is burnt)."""
    epoch, deal_ids = params
    rt.validate_caller_type(rt.profile.code("storageminer"))
    if rt.profile.actors_version >= 2:
        raise FatalError("deal termination is not implemented for actors v2")
    miner = rt.caller

    def terminate(st: list[Any]) -> None:
        proposals = load_amt(rt, st[0], "deal proposal")
        states = load_amt(rt, st[1], "deal state")
        for deal_id in deal_ids:
            proposal = proposals.get(deal_id)
            if proposal is None:
                continue  # already over and deleted
            if as_address(proposal[PROVIDER]) != miner:
                raise FatalError("caller is not the provider of the deal")
            if proposal[END] <= epoch:
                continue  # expired deals are not slashed
            state = states.get(deal_id)
            if state is None:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"no state for deal {deal_id}")
            if state[2] != EPOCH_UNDEFINED:
                continue
            states.set(deal_id, [state[0], state[1], epoch])
        st[1] = states.flush()

    rt.state_transaction(terminate)


def _build() -> ActorImpl:
    impl = stub("storagemarket")
    impl.methods[2] = (add_balance, decode_address)
    impl.methods[9] = (cron_tick, decode_empty)
    impl.methods[5] = (verify_deals_for_activation, _decode_verify_deals)
    impl.methods[8] = (compute_data_commitment, _decode_data_commitment)
    impl.methods[4] = (publish_storage_deals, _decode_publish)
    impl.methods[6] = (activate_deals, _decode_activate)
    impl.methods[3] = (withdraw_balance, _decode_withdraw)
    impl.methods[7] = (on_miner_sectors_terminate, _decode_sectors_terminate)
    return impl


MARKET = _build()
