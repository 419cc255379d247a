"""The storage market actor: only its cron tick over an empty deal book.

State: ``[proposals AMT, states AMT, pending proposals HAMT, escrow table
HAMT, locked table HAMT, next deal id, deal ops by epoch HAMT, last cron,
total client locked collateral, total provider locked collateral, total
client storage fee]``. Deal publication and settlement need the miner
actor and are not implemented.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import decode_empty, int_key
from chainvm.fvm.actors.stubs import stub
from chainvm.fvm.amt import Amt
from chainvm.fvm.hamt import Hamt
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


def _build() -> ActorImpl:
    impl = stub("storagemarket")
    impl.methods[9] = (cron_tick, decode_empty)
    return impl


MARKET = _build()
