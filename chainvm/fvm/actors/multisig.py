"""The multisig actor (actors v0 and v2).

State: ``[signers, threshold, next txn id, initial balance, start epoch,
unlock duration, pending txns HAMT]``; a pending transaction is
``[to, value, method, params, approved]`` keyed by its zig-zag varint ID.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import (
    DecodeError,
    as_address,
    as_bool,
    as_bytes,
    as_int,
    as_uint,
    decode_bigint,
    decode_tuple,
    dumps,
    int_key,
)
from chainvm.fvm.actors.tables import load_hamt, varint_text
from chainvm.fvm.address import ID, Address
from chainvm.fvm.codec import encode_bigint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import INIT_ADDR, ActorError, ActorImpl, Runtime

SIGNERS_MAX = 256

S_SIGNERS, S_THRESHOLD, S_NEXT, S_INITIAL, S_START, S_DURATION, S_PENDING = range(7)


def _hamt_version(rt: Runtime) -> int:
    return 0 if rt.profile.actors_version == 0 else 2


def _signable(rt: Runtime) -> tuple[Any, ...]:
    return (rt.profile.code("account"), rt.profile.code("multisig"))


def resolve_to_id(rt: Runtime, addr: Address) -> Address:
    """Resolve, creating an account by a zero-value send if needed."""
    if addr.protocol == ID:
        return addr
    resolved = rt.resolve_address(addr)
    if resolved is not None:
        return resolved
    _ret, code = rt.send(addr, 0, b"", 0)
    if code != 0:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"failed to resolve address {addr}")
    resolved = rt.resolve_address(addr)
    if resolved is None:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"failed to resolve address {addr}")
    assert resolved is not None
    return resolved


def _signer_bytes(st: list[Any]) -> list[bytes]:
    return list(st[S_SIGNERS] or [])


# constructor ------------------------------------------------------------------


def _decode_ctor(data: bytes) -> tuple[list[Address], int, int, int]:
    obj = _load_array(data)
    if len(obj) not in (3, 4):
        raise DecodeError("cbor input had wrong number of fields")
    signers = [as_address(a) for a in (obj[0] or [])]
    start = as_int(obj[3]) if len(obj) == 4 else 0
    return signers, as_uint(obj[1]), as_int(obj[2]), start


def _load_array(data: bytes) -> list[Any]:
    from chainvm.fvm.codec import loads

    obj = loads(data, allow_trailing=True)
    if not isinstance(obj, list):
        raise DecodeError("cbor input should be of type array")
    return obj


def constructor(rt: Runtime, params: tuple[list[Address], int, int, int]) -> None:
    signers, threshold, unlock_duration, start_epoch = params
    v2 = rt.profile.actors_version >= 2
    rt.validate_caller_is(INIT_ADDR)
    if len(signers) < 1:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "must have at least one signer")
    if v2 and len(signers) > SIGNERS_MAX:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "too many signers")
    resolved: list[Address] = []
    for s in signers:
        r = resolve_to_id(rt, s)
        if r in resolved:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"duplicate signer not allowed: {s}")
        resolved.append(r)
    if threshold > len(signers):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "must not require more approvals than signers")
    if threshold < 1:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "must require at least one approval")
    if v2 and unlock_duration < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "negative unlock duration disallowed")
    pending = Hamt.new(rt.store, version=_hamt_version(rt)).flush()
    initial = 0
    start = 0
    duration = 0
    if unlock_duration != 0:
        duration = unlock_duration
        initial = rt.value_received
        start = start_epoch if v2 else rt.curr_epoch
    rt.state_create(
        [
            [a.bytes for a in resolved],
            threshold,
            0,
            encode_bigint(initial),
            start,
            duration,
            pending,
        ]
    )


# helpers ------------------------------------------------------------------------


def _amount_locked(rt: Runtime, st: list[Any], elapsed: int) -> int:
    duration = st[S_DURATION]
    initial = decode_bigint(st[S_INITIAL])
    if elapsed >= duration:
        return 0
    if rt.profile.actors_version >= 2:
        if elapsed < 0:
            return initial
        # v2 rounds the locked amount up
        remaining = duration - elapsed
        return -((-initial * remaining) // duration)
    unit = initial // duration
    return unit * (duration - elapsed)


def _assert_available(rt: Runtime, st: list[Any], balance: int, amount: int) -> None:
    if amount < 0 or balance < amount:
        rt.abort(ExitCode.ERR_INSUFFICIENT_FUNDS, "insufficient funds")
    locked = _amount_locked(rt, st, rt.curr_epoch - st[S_START])
    if balance - amount < locked:
        rt.abort(ExitCode.ERR_INSUFFICIENT_FUNDS, "insufficient funds unlocked")


def _txn_obj(txn: list[Any]) -> list[Any]:
    return [txn[0], txn[1], txn[2], txn[3], list(txn[4] or [])]


def _proposal_hash(rt: Runtime, txn: list[Any]) -> bytes:
    approved = txn[4] or []
    requester = approved[0] if approved else Address.new_id(0).bytes
    data = dumps([requester, txn[0], txn[1], txn[2], txn[3]])
    return rt.hash_blake2b(data)


def _execute_if_approved(
    rt: Runtime, st: list[Any], txn_id: int, txn: list[Any]
) -> tuple[bool, bytes, int]:
    if len(txn[4] or []) < st[S_THRESHOLD]:
        return False, b"", 0
    value = decode_bigint(txn[1])
    _assert_available(rt, st, rt.current_balance(), value)
    ret, code = rt.send(Address.from_bytes(txn[0]), txn[2], txn[3], value)

    def remove(s: list[Any]) -> None:
        ptx = Hamt.load(rt.store, s[S_PENDING], version=_hamt_version(rt))
        if not ptx.delete(int_key(txn_id)):
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "failed to delete transaction for cleanup")
        s[S_PENDING] = ptx.flush()

    rt.state_transaction(remove)
    return True, ret, code


def _approve(rt: Runtime, txn_id: int, txn: list[Any]) -> tuple[bool, bytes, int]:
    caller = rt.caller.bytes
    for prev in txn[4]:
        if prev == caller:
            rt.abort(ExitCode.ERR_FORBIDDEN, "already approved this message")

    def add(s: list[Any]) -> list[Any]:
        ptx = Hamt.load(rt.store, s[S_PENDING], version=_hamt_version(rt))
        txn[4].append(caller)
        ptx.set(int_key(txn_id), _txn_obj(txn))
        s[S_PENDING] = ptx.flush()
        return s

    st = rt.state_transaction(add)
    return _execute_if_approved(rt, st, txn_id, txn)


def _is_signer(st: list[Any], addr: Address) -> bool:
    return addr.bytes in _signer_bytes(st)


# propose / approve / cancel ----------------------------------------------------------


def _decode_propose(data: bytes) -> tuple[Address, int, int, bytes]:
    to, value, method, params = decode_tuple(data, 4)
    return as_address(to), decode_bigint(value), as_uint(method), as_bytes(params)


def propose(rt: Runtime, params: tuple[Address, int, int, bytes]) -> bytes:
    to, value, method, mparams = params
    rt.validate_caller_type(*_signable(rt))
    proposer = rt.caller
    if value < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "proposed value must be non-negative")

    def put(st: list[Any]) -> tuple[int, list[Any]]:
        if not _is_signer(st, proposer):
            rt.abort(ExitCode.ERR_FORBIDDEN, f"{proposer} is not a signer")
        ptx = Hamt.load(rt.store, st[S_PENDING], version=_hamt_version(rt))
        txn_id = st[S_NEXT]
        st[S_NEXT] = txn_id + 1
        txn = [to.bytes, encode_bigint(value), method, mparams, []]
        ptx.set(int_key(txn_id), _txn_obj(txn))
        st[S_PENDING] = ptx.flush()
        return txn_id, txn

    txn_id, txn = rt.state_transaction(put)
    applied, ret, code = _approve(rt, txn_id, txn)
    return dumps([txn_id, applied, code, ret])


def _decode_txn_id(data: bytes) -> tuple[int, bytes]:
    txn_id, phash = decode_tuple(data, 2)
    return as_int(txn_id), as_bytes(phash) if phash is not None else b""


def _get_txn(rt: Runtime, st: list[Any], txn_id: int, phash: bytes) -> list[Any]:
    ptx = load_hamt(rt, st[S_PENDING], "multisig transaction", _hamt_version(rt), varint_text)
    raw = ptx.get(int_key(txn_id))
    if raw is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, f"no such transaction {txn_id} for approval")
    txn = _txn_obj(raw)
    calculated = _proposal_hash(rt, txn)
    if phash and phash != calculated:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "hash does not match proposal params")
    return txn


def approve(rt: Runtime, params: tuple[int, bytes]) -> bytes:
    txn_id, phash = params
    rt.validate_caller_type(*_signable(rt))
    caller = rt.caller

    def load(st: list[Any]) -> tuple[list[Any], list[Any]]:
        if not _is_signer(st, caller):
            rt.abort(ExitCode.ERR_FORBIDDEN, f"{caller} is not a signer")
        return st, _get_txn(rt, st, txn_id, phash)

    st, txn = rt.state_transaction(load)
    applied, ret, code = _execute_if_approved(rt, st, txn_id, txn)
    if not applied:
        applied, ret, code = _approve(rt, txn_id, txn)
    return dumps([applied, code, ret])


def cancel(rt: Runtime, params: tuple[int, bytes]) -> None:
    txn_id, phash = params
    rt.validate_caller_type(*_signable(rt))
    caller = rt.caller

    def remove(st: list[Any]) -> None:
        if not _is_signer(st, caller):
            rt.abort(ExitCode.ERR_FORBIDDEN, f"{caller} is not a signer")
        ptx = load_hamt(rt, st[S_PENDING], "multisig transaction", _hamt_version(rt),
                        varint_text)
        raw = ptx.get(int_key(txn_id))
        if raw is None:
            rt.abort(ExitCode.ERR_NOT_FOUND, "failed to get transaction for cancel")
        txn = _txn_obj(raw)
        if not txn[4] or txn[4][0] != caller.bytes:
            rt.abort(ExitCode.ERR_FORBIDDEN, "Cannot cancel another signers transaction")
        calculated = _proposal_hash(rt, txn)
        if phash and phash != calculated:
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "hash does not match proposal params")
        ptx.delete(int_key(txn_id))
        st[S_PENDING] = ptx.flush()

    rt.state_transaction(remove)


# signer management (only the wallet itself may call these) ------------------------


def _decode_addr_bool(data: bytes) -> tuple[Address, bool]:
    a, b = decode_tuple(data, 2)
    return as_address(a), as_bool(b)


def add_signer(rt: Runtime, params: tuple[Address, bool]) -> None:
    signer, increase = params
    rt.validate_caller_is(rt.receiver)
    resolved = resolve_to_id(rt, signer)

    def add(st: list[Any]) -> None:
        if _is_signer(st, resolved):
            rt.abort(ExitCode.ERR_FORBIDDEN, f"{resolved} is already a signer")
        if rt.profile.actors_version >= 2 and len(st[S_SIGNERS]) >= SIGNERS_MAX:
            rt.abort(ExitCode.ERR_FORBIDDEN, "cannot add more signers")
        st[S_SIGNERS] = _signer_bytes(st) + [resolved.bytes]
        if increase:
            st[S_THRESHOLD] += 1

    rt.state_transaction(add)


def remove_signer(rt: Runtime, params: tuple[Address, bool]) -> None:
    signer, decrease = params
    rt.validate_caller_is(rt.receiver)
    resolved = resolve_to_id(rt, signer)
    v2 = rt.profile.actors_version >= 2

    def remove(st: list[Any]) -> None:
        signers = _signer_bytes(st)
        if resolved.bytes not in signers:
            rt.abort(ExitCode.ERR_FORBIDDEN, f"{resolved} is not a signer")
        if len(signers) == 1:
            rt.abort(ExitCode.ERR_FORBIDDEN, "cannot remove only signer")
        if not decrease and len(signers) - 1 < st[S_THRESHOLD]:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "can't reduce signers below threshold")
        if decrease:
            if v2 and st[S_THRESHOLD] < 2:
                rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "can't decrease approvals below 1")
            st[S_THRESHOLD] -= 1
        if v2:
            _purge_approvals(rt, st, resolved.bytes)
        st[S_SIGNERS] = [s for s in signers if s != resolved.bytes]

    rt.state_transaction(remove)


def _purge_approvals(rt: Runtime, st: list[Any], signer: bytes) -> None:
    ptx = load_hamt(rt, st[S_PENDING], "multisig transaction", _hamt_version(rt), varint_text)
    changes: list[tuple[bytes, list[Any] | None]] = []
    for key, raw in list(ptx.items()):
        txn = _txn_obj(raw)
        kept = [a for a in txn[4] if a != signer]
        if len(kept) != len(txn[4]):
            txn[4] = kept
            changes.append((key, txn if kept else None))
    for key, updated in changes:
        if updated is None:
            ptx.delete(key)
        else:
            ptx.set(key, updated)
    st[S_PENDING] = ptx.flush()


def _decode_swap(data: bytes) -> tuple[Address, Address]:
    a, b = decode_tuple(data, 2)
    return as_address(a), as_address(b)


def swap_signer(rt: Runtime, params: tuple[Address, Address]) -> None:
    old, new = params
    rt.validate_caller_is(rt.receiver)
    from_id = resolve_to_id(rt, old)
    to_id = resolve_to_id(rt, new)

    def swap(st: list[Any]) -> None:
        signers = _signer_bytes(st)
        if from_id.bytes not in signers:
            rt.abort(ExitCode.ERR_FORBIDDEN, f"{from_id} is not a signer")
        if to_id.bytes in signers:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"{to_id} is already a signer")
        st[S_SIGNERS] = [to_id.bytes if s == from_id.bytes else s for s in signers]
        if rt.profile.actors_version >= 2:
            _purge_approvals(rt, st, from_id.bytes)

    rt.state_transaction(swap)


def _decode_threshold(data: bytes) -> int:
    (n,) = decode_tuple(data, 1)
    return as_uint(n)


def change_threshold(rt: Runtime, threshold: int) -> None:
    rt.validate_caller_is(rt.receiver)

    def change(st: list[Any]) -> None:
        if threshold <= 0 or threshold > len(st[S_SIGNERS]):
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "New threshold value not supported")
        st[S_THRESHOLD] = threshold

    rt.state_transaction(change)


def _decode_lock(data: bytes) -> tuple[int, int, int]:
    start, duration, amount = decode_tuple(data, 3)
    return as_int(start), as_int(duration), decode_bigint(amount)


def lock_balance(rt: Runtime, params: tuple[int, int, int]) -> None:
    start, duration, amount = params
    rt.validate_caller_is(rt.receiver)
    if duration <= 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "unlock duration must be positive")

    def lock(st: list[Any]) -> None:
        if st[S_DURATION] != 0:
            rt.abort(ExitCode.ERR_FORBIDDEN, "modification of unlock disallowed")
        st[S_START] = start
        st[S_DURATION] = duration
        st[S_INITIAL] = encode_bigint(amount)

    rt.state_transaction(lock)


def _v2_only(fn: Any) -> Any:
    def wrapped(rt: Runtime, params: Any) -> Any:
        if rt.profile.actors_version < 2:
            raise ActorError(ExitCode.SYS_ERR_INVALID_METHOD, "no such method")
        return fn(rt, params)

    return wrapped


MULTISIG = ActorImpl(
    "multisig",
    {
        1: (constructor, _decode_ctor),
        2: (propose, _decode_propose),
        3: (approve, _decode_txn_id),
        4: (cancel, _decode_txn_id),
        5: (add_signer, _decode_addr_bool),
        6: (remove_signer, _decode_addr_bool),
        7: (swap_signer, _decode_swap),
        8: (change_threshold, _decode_threshold),
        9: (_v2_only(lock_balance), _decode_lock),
    },
)
