"""The storage market actor: only its cron tick over an empty deal book.

State: ``[proposals AMT, states AMT, pending proposals HAMT, escrow table
HAMT, locked table HAMT, next deal id, deal ops by epoch HAMT, last cron,
total client locked collateral, total provider locked collateral, total
client storage fee]``. Deal publication and settlement need the miner
actor and are not implemented.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import decode_address, decode_bigint, decode_empty, int_key
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


def _build() -> ActorImpl:
    impl = stub("storagemarket")
    impl.methods[2] = (add_balance, decode_address)
    impl.methods[9] = (cron_tick, decode_empty)
    return impl


MARKET = _build()
