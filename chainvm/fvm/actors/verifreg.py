"""The verified registry actor (actors v0 and v2).

State: ``[root key, verifiers HAMT, verified clients HAMT]``; both maps go
from address bytes to a DataCap (a big integer).
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import as_address, decode_address, decode_bigint, decode_tuple
from chainvm.fvm.actors.multisig import resolve_to_id
from chainvm.fvm.actors.tables import check_entry
from chainvm.fvm.address import Address
from chainvm.fvm.codec import encode_bigint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import MARKET_ADDR, SYSTEM_ADDR, ActorImpl, Runtime

MIN_VERIFIED_DEAL_SIZE = 1 << 20


def _map(rt: Runtime, cid: Any) -> Hamt:
    return Hamt.load(rt.store, cid, version=0 if rt.profile.actors_version == 0 else 2)


def constructor(rt: Runtime, root_key: Address) -> None:
    rt.validate_caller_is(SYSTEM_ADDR)
    root = rt.resolve_address(root_key)
    if root is None:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "root should be an ID address")
    assert root is not None
    empty = Hamt.new(rt.store, version=0 if rt.profile.actors_version == 0 else 2).flush()
    rt.state_create([root.bytes, empty, empty])


def _decode_addr_cap(data: bytes) -> tuple[Address, int]:
    a, cap = decode_tuple(data, 2)
    return as_address(a), decode_bigint(cap)


def add_verifier(rt: Runtime, params: tuple[Address, int]) -> None:
    addr, allowance = params
    if allowance < MIN_VERIFIED_DEAL_SIZE:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "allowance below MinVerifiedDealSize")
    verifier = resolve_to_id(rt, addr)
    st = rt.state_readonly()
    rt.validate_caller_is(Address.from_bytes(st[0]))
    if verifier.bytes == st[0]:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "Rootkey cannot be added as verifier")

    def add(s: list[Any]) -> None:
        verifiers = _map(rt, s[1])
        clients = _map(rt, s[2])
        if clients.get(verifier.bytes) is not None:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "a verified client cannot become a verifier")
        verifiers.set(verifier.bytes, encode_bigint(allowance))
        s[1] = verifiers.flush()

    rt.state_transaction(add)


def remove_verifier(rt: Runtime, addr: Address) -> None:
    verifier = resolve_to_id(rt, addr)
    st = rt.state_readonly()
    rt.validate_caller_is(Address.from_bytes(st[0]))

    def remove(s: list[Any]) -> None:
        verifiers = _map(rt, s[1])
        if not verifiers.delete(verifier.bytes):
            rt.abort(ExitCode.ERR_ILLEGAL_STATE, "failed to remove verifier")
        s[1] = verifiers.flush()

    rt.state_transaction(remove)


def add_verified_client(rt: Runtime, params: tuple[Address, int]) -> None:
    addr, allowance = params
    if allowance < MIN_VERIFIED_DEAL_SIZE:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "allowance below MinVerifiedDealSize")
    client = resolve_to_id(rt, addr)
    st = rt.state_readonly()
    if st[0] == client.bytes:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "Rootkey cannot be added as a verified client")
    verifier = rt.caller
    rt.validate_caller_any()

    def add(s: list[Any]) -> None:
        verifiers = _map(rt, s[1])
        clients = _map(rt, s[2])
        raw = verifiers.get(verifier.bytes)
        if raw is None:
            rt.abort(ExitCode.ERR_NOT_FOUND, f"no such verifier {verifier}")
        check_entry(rt, "data cap", f"of verifier {verifier}", raw)
        if verifiers.get(client.bytes) is not None:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "a verifier cannot be a verified client")
        cap = decode_bigint(raw)
        if cap < allowance:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "allowance exceeds the verifier's DataCap")
        verifiers.set(verifier.bytes, encode_bigint(cap - allowance))
        if clients.get(client.bytes) is not None:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, f"verified client already exists: {client}")
        clients.set(client.bytes, encode_bigint(allowance))
        s[1] = verifiers.flush()
        s[2] = clients.flush()

    rt.state_transaction(add)


def use_bytes(rt: Runtime, params: tuple[Address, int]) -> None:
    addr, size = params
    rt.validate_caller_is(MARKET_ADDR)
    client = resolve_to_id(rt, addr)
    if size < MIN_VERIFIED_DEAL_SIZE:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "deal size below MinVerifiedDealSize")

    def use(s: list[Any]) -> None:
        clients = _map(rt, s[2])
        raw = clients.get(client.bytes)
        if raw is None:
            rt.abort(ExitCode.ERR_NOT_FOUND, f"no such verified client {client}")
        check_entry(rt, "data cap", f"of client {client}", raw)
        cap = decode_bigint(raw)
        if size > cap:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "deal size exceeds the client's DataCap")
        left = cap - size
        if left < MIN_VERIFIED_DEAL_SIZE:
            # too little left for any verified deal: drop the client
            clients.delete(client.bytes)
        else:
            clients.set(client.bytes, encode_bigint(left))
        s[2] = clients.flush()

    rt.state_transaction(use)


def restore_bytes(rt: Runtime, params: tuple[Address, int]) -> None:
    addr, size = params
    rt.validate_caller_is(MARKET_ADDR)
    if size < MIN_VERIFIED_DEAL_SIZE:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "deal size below MinVerifiedDealSize")
    client = resolve_to_id(rt, addr)
    st = rt.state_readonly()
    if st[0] == client.bytes:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "Cannot restore allowance for Rootkey")

    def restore(s: list[Any]) -> None:
        verifiers = _map(rt, s[1])
        clients = _map(rt, s[2])
        if verifiers.get(client.bytes) is not None:
            rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "cannot restore allowance to a verifier")
        raw = clients.get(client.bytes)
        if raw is not None:
            check_entry(rt, "data cap", f"of client {client}", raw)
        cap = 0 if raw is None else decode_bigint(raw)
        clients.set(client.bytes, encode_bigint(cap + size))
        s[2] = clients.flush()

    rt.state_transaction(restore)


VERIFREG = ActorImpl(
    "verifiedregistry",
    {
        1: (constructor, decode_address),
        2: (add_verifier, _decode_addr_cap),
        3: (remove_verifier, decode_address),
        4: (add_verified_client, _decode_addr_cap),
        5: (use_bytes, _decode_addr_cap),
        6: (restore_bytes, _decode_addr_cap),
    },
)
