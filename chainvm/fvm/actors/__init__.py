"""Builtin actors and the default registry."""

from __future__ import annotations

from chainvm.fvm.network import CHAOS_CODE
from chainvm.fvm.vm import ActorImpl, Registry


def build_registry() -> Registry:
    from chainvm.fvm.actors import (
        basic,
        chaos,
        market,
        miner,
        multisig,
        paych,
        power,
        reward,
        verifreg,
    )

    reg = Registry()
    both = (0, 2)
    reg.register("system", both, basic.SYSTEM)
    reg.register("account", both, basic.ACCOUNT)
    reg.register("init", both, basic.INIT)
    reg.register("cron", both, basic.CRON)
    reg.register("reward", both, reward.REWARD)
    reg.register("multisig", both, multisig.MULTISIG)
    reg.register("paymentchannel", both, paych.PAYCH)
    reg.register("verifiedregistry", both, verifreg.VERIFREG)
    reg.register("storagepower", both, power.POWER)
    reg.register("storagemarket", both, market.MARKET)
    reg.register("storageminer", both, miner.MINER)
    reg.register_code(CHAOS_CODE, chaos.CHAOS)
    return reg


__all__ = ["ActorImpl", "build_registry"]
