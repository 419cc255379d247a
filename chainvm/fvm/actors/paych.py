"""The payment channel actor (actors v0 and v2).

State: ``[from, to, to_send, settling_at, min_settle_height, lanes AMT]``
with lane states ``[redeemed, nonce]``. Vouchers are signed by the party
that does not submit them; the signature covers the voucher encoded with a
null signature and is checked by secp256k1 recovery.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import (
    DecodeError,
    as_address,
    as_bytes,
    as_int,
    as_uint,
    decode_bigint,
    decode_empty,
    decode_tuple,
    dumps,
    loads,
)
from chainvm.fvm.actors.multisig import resolve_to_id
from chainvm.fvm.actors.tables import load_amt
from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import encode_bigint
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import ActorError, ActorImpl, Runtime

SETTLE_DELAY = 120 * 12
MAX_LANE = (1 << 63) - 1

S_FROM, S_TO, S_TO_SEND, S_SETTLING_AT, S_MIN_SETTLE, S_LANES = range(6)


def _resolve_account(rt: Runtime, raw: Address) -> Address:
    try:
        resolved = resolve_to_id(rt, raw)
    except ActorError as exc:
        raise ActorError(ExitCode.ERR_ILLEGAL_STATE, f"failed to resolve address {raw}") from exc
    code = rt.get_actor_code(resolved)
    if code is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"no code for address {resolved}")
    if code != rt.profile.code("account"):
        rt.abort(ExitCode.ERR_FORBIDDEN, f"actor {raw} must be an account")
    return resolved


def _decode_ctor(data: bytes) -> tuple[Address, Address]:
    frm, to = decode_tuple(data, 2)
    return as_address(frm), as_address(to)


def constructor(rt: Runtime, params: tuple[Address, Address]) -> None:
    frm, to = params
    rt.validate_caller_type(rt.profile.code("init"))
    to_id = _resolve_account(rt, to)
    from_id = _resolve_account(rt, frm)
    lanes = Amt.new(rt.store).flush()
    rt.state_create([from_id.bytes, to_id.bytes, b"", 0, 0, lanes])


# vouchers ----------------------------------------------------------------------

V_CHANNEL, V_TL_MIN, V_TL_MAX, V_SECRET, V_EXTRA, V_LANE, V_NONCE, V_AMOUNT = range(8)
V_MIN_SETTLE, V_MERGES, V_SIG = 8, 9, 10


def _decode_update(data: bytes) -> tuple[list[Any], bytes]:
    obj = loads(data, allow_trailing=True)
    if not isinstance(obj, list) or len(obj) not in (2, 3):
        raise DecodeError("cbor input had wrong number of fields")
    sv = obj[0]
    if not isinstance(sv, list) or len(sv) != 11:
        raise DecodeError("malformed signed voucher")
    as_address(sv[V_CHANNEL])
    for i in (V_TL_MIN, V_TL_MAX, V_MIN_SETTLE):
        as_int(sv[i])
    for i in (V_LANE, V_NONCE):
        as_uint(sv[i])
    decode_bigint(sv[V_AMOUNT])
    return sv, as_bytes(obj[1])


def update_channel_state(rt: Runtime, params: tuple[list[Any], bytes]) -> None:
    sv, secret = params
    st = rt.state_readonly()
    st_from = Address.from_bytes(st[S_FROM])
    st_to = Address.from_bytes(st[S_TO])
    rt.validate_caller_is(st_from, st_to)
    signer = st_to if rt.caller == st_from else st_from
    sig = sv[V_SIG]
    if sig is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher has no signature")
    signing = list(sv)
    signing[V_SIG] = None
    if not rt.verify_signature(as_bytes(sig), signer, dumps(signing)):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher signature invalid")
    channel = rt.resolve_address(as_address(sv[V_CHANNEL]))
    if channel is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher payment channel address does not resolve")
    if channel != rt.resolve_address(rt.receiver):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher payment channel address does not match")
    if rt.curr_epoch < sv[V_TL_MIN]:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cannot use this voucher yet!")
    if sv[V_TL_MAX] != 0 and rt.curr_epoch > sv[V_TL_MAX]:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "this voucher has expired!")
    amount = decode_bigint(sv[V_AMOUNT])
    if amount < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher amount must be non-negative")
    if sv[V_SECRET] and rt.hash_blake2b(secret) != sv[V_SECRET]:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "incorrect secret!")
    extra = sv[V_EXTRA]
    if extra is not None:
        _ret, code = rt.send(as_address(extra[0]), as_uint(extra[1]), as_bytes(extra[2]), 0)
        if code != 0:
            rt.abort(code, "spend voucher verification failed")

    def update(s: list[Any]) -> None:
        lanes = load_amt(rt, s[S_LANES], "lane state")
        lane_id = sv[V_LANE]
        if lane_id > MAX_LANE:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "lane ID out of range")
        raw = lanes.get(lane_id)
        lane: list[Any]
        if raw is None:
            lane = [b"", 0]
        else:
            lane = list(raw)
            if lane[1] >= sv[V_NONCE]:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher has an outdated nonce")
        redeemed_from_others = 0
        for merge in sv[V_MERGES] or []:
            m_lane, m_nonce = merge
            if m_lane == lane_id:
                rt.abort(
                    ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher cannot merge lanes into its own lane"
                )
            other_raw = lanes.get(m_lane)
            if other_raw is None:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher specifies invalid merge lane")
            other = list(other_raw)
            if other[1] >= m_nonce:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "merged lane in voucher has outdated nonce")
            redeemed_from_others += decode_bigint(other[0])
            other[1] = m_nonce
            lanes.set(m_lane, other)
        lane[1] = sv[V_NONCE]
        delta = amount - (redeemed_from_others + decode_bigint(lane[0]))
        lane[0] = encode_bigint(amount)
        new_send = decode_bigint(s[S_TO_SEND]) + delta
        if new_send < 0:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "voucher would leave channel balance negative")
        if new_send > rt.current_balance():
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "not enough funds in channel to cover voucher")
        s[S_TO_SEND] = encode_bigint(new_send)
        msh = sv[V_MIN_SETTLE]
        if msh != 0:
            if s[S_SETTLING_AT] != 0 and s[S_SETTLING_AT] < msh:
                s[S_SETTLING_AT] = msh
            s[S_MIN_SETTLE] = max(s[S_MIN_SETTLE], msh)
        lanes.set(lane_id, lane)
        s[S_LANES] = lanes.flush()

    rt.state_transaction(update)


def settle(rt: Runtime, _: None) -> None:
    def start(s: list[Any]) -> None:
        rt.validate_caller_is(Address.from_bytes(s[S_FROM]), Address.from_bytes(s[S_TO]))
        if s[S_SETTLING_AT] != 0:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "channel already settling")
        s[S_SETTLING_AT] = max(rt.curr_epoch + SETTLE_DELAY, s[S_MIN_SETTLE])

    rt.state_transaction(start)


def collect(rt: Runtime, _: None) -> None:
    st = rt.state_readonly()
    st_from = Address.from_bytes(st[S_FROM])
    st_to = Address.from_bytes(st[S_TO])
    rt.validate_caller_is(st_from, st_to)
    if st[S_SETTLING_AT] == 0 or rt.curr_epoch < st[S_SETTLING_AT]:
        rt.abort(ExitCode.ERR_FORBIDDEN, "payment channel not settling or settled")
    to_send = decode_bigint(st[S_TO_SEND])
    # the remaining balance goes back to From when the actor is deleted
    _ret, code = rt.send(st_to, 0, b"", to_send)
    if code != 0:
        rt.abort(code, "Failed to send funds to `To`")
    rt.delete_actor(st_from)


PAYCH = ActorImpl(
    "paymentchannel",
    {
        1: (constructor, _decode_ctor),
        2: (update_channel_state, _decode_update),
        3: (settle, decode_empty),
        4: (collect, decode_empty),
    },
)
