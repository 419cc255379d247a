"""The test-only chaos actor (singleton at f098) used by vm_violations vectors.

It deliberately breaks runtime rules (validating twice, mutating readonly
state, aborting with system exit codes) so that the VM's enforcement shows.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import (
    DecodeError,
    as_address,
    as_bool,
    as_bytes,
    as_cid,
    as_int,
    as_uint,
    decode_address,
    decode_bigint,
    decode_empty,
    decode_tuple,
    dumps,
)
from chainvm.fvm.address import Address
from chainvm.fvm.codec import CID, encode_bigint
from chainvm.fvm.vm import ActorImpl, ActorPanic, Runtime


def constructor(rt: Runtime, _: None) -> None:
    raise ActorPanic("constructor should not be called; the Chaos actor is a singleton actor")


def _decode_caller_validation(data: bytes) -> tuple[int, list[Address], list[CID]]:
    branch, addrs, types = decode_tuple(data, 3)
    return (
        as_int(branch),
        [as_address(a) for a in (addrs or [])],
        [as_cid(c) for c in (types or [])],
    )


def caller_validation(rt: Runtime, args: tuple[int, list[Address], list[CID]]) -> None:
    branch, addrs, types = args
    if branch == 0:
        pass
    elif branch == 1:
        rt.validate_caller_any()
        rt.validate_caller_any()
    elif branch == 2:
        rt.validate_caller_is(*addrs)
    elif branch == 3:
        rt.validate_caller_type(*types)
    else:
        raise ActorPanic("invalid branch passed to CallerValidation")


def _decode_create_actor(data: bytes) -> tuple[CID | None, Address | None]:
    undef_cid, code, undef_addr, addr = decode_tuple(data, 4)
    return (
        None if as_bool(undef_cid) else as_cid(code),
        None if as_bool(undef_addr) else as_address(addr),
    )


def create_actor(rt: Runtime, args: tuple[CID | None, Address | None]) -> None:
    rt.validate_caller_any()
    rt.create_actor(*args)


def resolve_address(rt: Runtime, addr: Address) -> bytes:
    rt.validate_caller_any()
    resolved = rt.resolve_address(addr)
    if resolved is None:
        return dumps([Address.new_id(0).bytes, False])
    return dumps([resolved.bytes, True])


def delete_actor(rt: Runtime, beneficiary: Address) -> None:
    rt.validate_caller_any()
    rt.delete_actor(beneficiary)


def _decode_send(data: bytes) -> tuple[Address, int, int, bytes]:
    to, value, method, params = decode_tuple(data, 4)
    return as_address(to), decode_bigint(value), as_uint(method), as_bytes(params)


def send(rt: Runtime, args: tuple[Address, int, int, bytes]) -> bytes:
    rt.validate_caller_any()
    to, value, method, params = args
    ret, code = rt.send(to, method, params, value)
    return dumps([ret, code])


def _decode_mutate(data: bytes) -> tuple[str, int]:
    value, branch = decode_tuple(data, 2)
    if not isinstance(value, str):
        raise DecodeError("value must be a string")
    return value, as_int(branch)


def mutate_state(rt: Runtime, args: tuple[str, int]) -> None:
    rt.validate_caller_any()
    value, branch = args
    if branch == 0:

        def setv(st: list[Any]) -> None:
            st[0] = value

        rt.state_transaction(setv)
    elif branch == 1:
        st = rt.state_readonly()
        st[0] = value  # illegal, and without effect: nothing is written back
    elif branch == 2:

        def setin(st: list[Any]) -> list[Any]:
            st[0] = value + "-in"
            return st

        st = rt.state_transaction(setin)
        st[0] = value  # illegal, and without effect after the commit
    else:
        raise ActorPanic("unknown mutation type")


def _decode_abort(data: bytes) -> tuple[int, str, bool]:
    code, message, uncontrolled = decode_tuple(data, 3)
    return as_int(code), str(message), as_bool(uncontrolled)


def abort_with(rt: Runtime, args: tuple[int, str, bool]) -> None:
    code, message, uncontrolled = args
    if uncontrolled:
        raise ActorPanic(message)
    rt.abort(code, message)


def inspect_runtime(rt: Runtime, _: None) -> bytes:
    rt.validate_caller_any()
    st = rt.state_readonly()
    return dumps(
        [
            rt.caller.bytes,
            rt.receiver.bytes,
            encode_bigint(rt.value_received),
            rt.curr_epoch,
            encode_bigint(rt.current_balance()),
            st,
        ]
    )


def create_state(rt: Runtime, _: None) -> None:
    rt.validate_caller_any()
    rt.state_create(["", []])


CHAOS = ActorImpl(
    "chaos",
    {
        1: (constructor, decode_empty),
        2: (caller_validation, _decode_caller_validation),
        3: (create_actor, _decode_create_actor),
        4: (resolve_address, decode_address),
        5: (delete_actor, decode_address),
        6: (send, _decode_send),
        7: (mutate_state, _decode_mutate),
        8: (abort_with, _decode_abort),
        9: (inspect_runtime, decode_empty),
        10: (create_state, decode_empty),
    },
)
