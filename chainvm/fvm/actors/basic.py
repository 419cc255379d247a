"""System, account, init and cron actors."""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import (
    DecodeError,
    as_address,
    as_bytes,
    as_cid,
    as_uint,
    decode_address,
    decode_empty,
    decode_tuple,
    dumps,
)
from chainvm.fvm.address import BLS, SECP256K1, Address
from chainvm.fvm.codec import CID
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import SYSTEM_ADDR, ActorImpl, Runtime


def hamt_version(rt: Runtime) -> int:
    """go-hamt-ipld flavour of the actors version in force."""
    return 0 if rt.profile.actors_version == 0 else 2


# system ---------------------------------------------------------------------


def system_constructor(rt: Runtime, _: None) -> None:
    rt.validate_caller_is(SYSTEM_ADDR)
    rt.state_create([])


SYSTEM = ActorImpl("system", {1: (system_constructor, decode_empty)})


# account --------------------------------------------------------------------


def account_constructor(rt: Runtime, addr: Address) -> None:
    # created implicitly by the VM when value is sent to a new pubkey address
    rt.validate_caller_is(SYSTEM_ADDR)
    if addr.protocol not in (SECP256K1, BLS):
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "address must use BLS or SECP protocol")
    rt.state_create([addr.bytes])


def account_pubkey_address(rt: Runtime, _: None) -> bytes:
    rt.validate_caller_any()
    st = rt.state_readonly()
    return dumps(st[0])


ACCOUNT = ActorImpl(
    "account",
    {1: (account_constructor, decode_address), 2: (account_pubkey_address, decode_empty)},
)


# init -----------------------------------------------------------------------
# state: [address map (HAMT addr bytes -> id), next id, network name]


def _decode_init_ctor(data: bytes) -> str:
    (name,) = decode_tuple(data, 1)
    if not isinstance(name, str):
        raise DecodeError("network name must be a string")
    return name


def init_constructor(rt: Runtime, network_name: str) -> None:
    rt.validate_caller_is(SYSTEM_ADDR)
    empty = Hamt.new(rt.store, version=hamt_version(rt)).flush()
    rt.state_create([empty, 0, network_name])


def _decode_exec(data: bytes) -> tuple[CID, bytes]:
    code, params = decode_tuple(data, 2)
    return as_cid(code), as_bytes(params)


def _can_exec(rt: Runtime, caller_code: CID, exec_code: CID) -> bool:
    # only the code CIDs of the actors version in force are creatable
    if exec_code == rt.profile.code("storageminer"):
        return caller_code == rt.profile.code("storagepower")
    return exec_code in (rt.profile.code("paymentchannel"), rt.profile.code("multisig"))


def init_exec(rt: Runtime, params: tuple[CID, bytes]) -> bytes:
    code, ctor_params = params
    rt.validate_caller_any()
    caller_code = rt.get_actor_code(rt.caller)
    if caller_code is None:
        raise RuntimeError("no code for caller")
    if not _can_exec(rt, caller_code, code):
        rt.abort(ExitCode.ERR_FORBIDDEN, "caller type cannot exec actor type")
    # a re-org-stable address for outside users, then a fresh ID
    robust = rt.new_actor_address()

    def allocate(st: list[Any]) -> Address:
        amap = Hamt.load(rt.store, st[0], version=hamt_version(rt))
        new_id = st[1]
        st[1] = new_id + 1
        amap.set(robust.bytes, new_id)
        st[0] = amap.flush()
        return Address.new_id(new_id)

    id_addr: Address = rt.state_transaction(allocate)
    rt.create_actor(code, id_addr)
    _ret, exit_code = rt.send(id_addr, 1, ctor_params, rt.value_received)
    if exit_code != 0:
        rt.abort(exit_code, "constructor failed")
    return dumps([id_addr.bytes, robust.bytes])


INIT = ActorImpl("init", {1: (init_constructor, _decode_init_ctor), 2: (init_exec, _decode_exec)})


# cron -----------------------------------------------------------------------
# state: [entries [[receiver, method]]]


def _decode_cron_ctor(data: bytes) -> list[tuple[Address, int]]:
    (entries,) = decode_tuple(data, 1)
    return [(as_address(e[0]), as_uint(e[1])) for e in entries]


def cron_constructor(rt: Runtime, entries: list[tuple[Address, int]]) -> None:
    rt.validate_caller_is(SYSTEM_ADDR)
    rt.state_create([[[a.bytes, m] for a, m in entries]])


def cron_epoch_tick(rt: Runtime, _: None) -> None:
    rt.validate_caller_is(SYSTEM_ADDR)
    st = rt.state_readonly()
    for receiver, method in st[0]:
        # failures of scheduled calls are ignored by design
        rt.send(Address.from_bytes(receiver), method, b"", 0)


CRON = ActorImpl(
    "cron", {1: (cron_constructor, _decode_cron_ctor), 2: (cron_epoch_tick, decode_empty)}
)
