"""Building a fresh state tree with the singleton actors in place."""

from __future__ import annotations

from chainvm.fvm.actors.reward import new_state as new_reward_state
from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import CID
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.network import CHAOS_CODE, profile_for
from chainvm.fvm.state import StateTree
from chainvm.fvm.store import MemoryBlockstore
from chainvm.fvm.types import Actor
from chainvm.fvm.vm import (
    BURNT_FUNDS_ADDR,
    CRON_ADDR,
    EMPTY_OBJECT,
    INIT_ADDR,
    MARKET_ADDR,
    POWER_ADDR,
    REWARD_ADDR,
    SYSTEM_ADDR,
    VERIFREG_ADDR,
)

CHAOS_ADDR = Address.new_id(98)
FIRST_NON_SINGLETON_ID = 100
# 1.1 billion FIL sit with the reward actor at genesis on mainnet
REWARD_GENESIS_BALANCE = 1_100_000_000 * 10**18


def build_genesis(
    store: MemoryBlockstore,
    network_version: int = 4,
    network_name: str = "chainvm",
    reward_balance: int = REWARD_GENESIS_BALANCE,
    verifreg_root: Address | None = None,
    with_chaos: bool = False,
) -> CID:
    """Return the root of a state holding system, init, reward, cron, power,
    market, the verified registry and the burnt-funds account (and
    optionally chaos)."""
    profile = profile_for(network_version)
    v2 = profile.actors_version >= 2
    hamt_v = 0 if profile.actors_version == 0 else 2
    store.put_raw(EMPTY_OBJECT)
    tree = StateTree(store, None, version=profile.state_tree_version)

    def put(addr: Address, name: str, state: object, balance: int = 0) -> None:
        head = store.put_obj(state)
        tree.set_actor(addr, Actor(profile.code(name), head, 0, balance))

    put(SYSTEM_ADDR, "system", [])
    empty_map = Hamt.new(store, version=hamt_v).flush()
    put(INIT_ADDR, "init", [empty_map, FIRST_NON_SINGLETON_ID, network_name])
    put(REWARD_ADDR, "reward", new_reward_state(0, v2, network_version), reward_balance)
    # cron ticks the power actor (which updates the reward actor) and the market
    put(CRON_ADDR, "cron", [[[POWER_ADDR.bytes, 5], [MARKET_ADDR.bytes, 9]]])
    empty_array = Amt.new(store).flush()
    power: list[object] = [b""] * 8 + [[b"", b""], 0, 0, empty_map, 0]
    power += [empty_map, None] if v2 else [-1, empty_map, None]
    put(POWER_ADDR, "storagepower", power)
    market = [empty_array, empty_array, empty_map, empty_map, empty_map, 0, empty_map, -1]
    put(MARKET_ADDR, "storagemarket", market + [b"", b"", b""])
    root_key = (verifreg_root or Address.new_id(80)).bytes
    put(VERIFREG_ADDR, "verifiedregistry", [root_key, empty_map, empty_map])
    put(BURNT_FUNDS_ADDR, "account", [BURNT_FUNDS_ADDR.bytes])
    if with_chaos:
        tree.set_actor(CHAOS_ADDR, Actor(CHAOS_CODE, store.put_obj(["", []]), 0, 0))
    return tree.flush()
