"""The storage market actor: only its cron tick over an empty deal book.

State: ``[proposals AMT, states AMT, pending proposals HAMT, escrow table
HAMT, locked table HAMT, next deal id, deal ops by epoch HAMT, last cron,
total client locked collateral, total provider locked collateral, total
client storage fee]``. Deal publication and settlement need the miner
actor and are not implemented.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import (
    DecodeError,
    as_address,
    as_cid,
    as_int,
    as_uint,
    decode_address,
    decode_bigint,
    decode_empty,
    decode_tuple,
    dumps,
    int_key,
)
from chainvm.fvm.actors.stubs import stub
from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import encode_bigint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import CRON_ADDR, ActorImpl, FatalError, Runtime


def cron_tick(rt: Runtime, _: None) -> None:
    rt.validate_caller_is(CRON_ADDR)
    hv = 0 if rt.profile.actors_version == 0 else 2
    now = rt.curr_epoch

    def tick(st: list[Any]) -> None:
        # the reference loads every table with write permission and commits
        # them all, in this order, whatever the cron finds
        proposals = Amt.load(rt.store, st[0])
        states = Amt.load(rt.store, st[1])
        pending = Hamt.load(rt.store, st[2], version=hv)
        escrow = Hamt.load(rt.store, st[3], version=hv)
        locked = Hamt.load(rt.store, st[4], version=hv)
        ops = Hamt.load(rt.store, st[6], version=hv)
        if ops.root.pointers:
            for epoch in range(st[7] + 1, now + 1):
                if ops.get(int_key(epoch)) is not None:
                    raise FatalError("market deal cron processing is not implemented")
        st[7] = now
        st[0] = proposals.flush()
        st[1] = states.flush()
        st[2] = pending.flush()
        st[3] = escrow.flush()
        st[4] = locked.flush()
        st[6] = ops.flush()

    rt.state_transaction(tick)


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
    prev = table.get(key.bytes)
    total = (0 if prev is None else decode_bigint(prev)) + amount
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
        escrow = Hamt.load(rt.store, st[3], version=hv)
        locked = Hamt.load(rt.store, st[4], version=hv)
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
    proposals = Amt.load(rt.store, st[0])
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
    proposals = Amt.load(rt.store, st[0])
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


def _build() -> ActorImpl:
    impl = stub("storagemarket")
    impl.methods[2] = (add_balance, decode_address)
    impl.methods[9] = (cron_tick, decode_empty)
    impl.methods[5] = (verify_deals_for_activation, _decode_verify_deals)
    impl.methods[8] = (compute_data_commitment, _decode_data_commitment)
    return impl


MARKET = _build()
