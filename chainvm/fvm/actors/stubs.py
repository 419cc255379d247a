"""Actors whose methods need proof systems (power, market, miner).

They exist so that their code CIDs are known (plain sends to them work); a
call to any of their methods is reported as unimplemented rather than being
given a made-up result.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.vm import ActorImpl, Decoder, FatalError, MethodFn, Runtime

_METHOD_COUNTS = {"storagepower": 9, "storagemarket": 9, "storageminer": 24}


def stub(name: str) -> ActorImpl:
    def unimplemented(rt: Runtime, _: Any) -> None:
        raise FatalError(f"{name} actor methods are not implemented")

    count = _METHOD_COUNTS[name]
    methods: dict[int, tuple[MethodFn, Decoder]] = {
        n: (unimplemented, lambda data: None) for n in range(1, count + 1)
    }
    return ActorImpl(name, methods)


def stub_named(name: str, count: int) -> ActorImpl:
    _METHOD_COUNTS[name] = count
    return stub(name)
