"""Network-version profiles.

Everything that changes between network versions is gathered here instead
of being tested ad hoc in the VM: the actors version (and so the code CIDs
and HAMT flavour), the state-tree version, the price list and the handful of
VM behaviour switches of the reference implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainvm.fvm.codec import CID, code_cid
from chainvm.fvm.gas import CALICO_PRICES, GENESIS_PRICES, PriceList

ACTOR_NAMES = (
    "system",
    "init",
    "cron",
    "account",
    "storagepower",
    "storageminer",
    "storagemarket",
    "paymentchannel",
    "multisig",
    "reward",
    "verifiedregistry",
)

SINGLETONS = frozenset(
    {"system", "init", "reward", "cron", "storagepower", "storagemarket", "verifiedregistry"}
)

CHAOS_CODE = code_cid("fil/1/chaos")


def actor_code(version: int, name: str) -> CID:
    # actors v0 used "fil/1/..." code names; v2 onwards use the version number
    prefix = 1 if version == 0 else version
    return code_cid(f"fil/{prefix}/{name}")


# code CID -> (actors version, actor name) for every builtin actor we know
BUILTIN_CODES: dict[CID, tuple[int, str]] = {
    actor_code(v, n): (v, n) for v in (0, 2) for n in ACTOR_NAMES
}


def code_name(code: CID) -> str | None:
    entry = BUILTIN_CODES.get(code)
    return entry[1] if entry else None


def code_version(code: CID) -> int | None:
    entry = BUILTIN_CODES.get(code)
    return entry[0] if entry else None


# Q.128 per-epoch growth of the reward actor's baseline power: tripling
# yearly until Ignition (network version 3), doubling afterwards
BASELINE_EXPONENT_TRIPLING = 340282722551251692435795578557183609728
BASELINE_EXPONENT_DOUBLING = 340282591298641078465964189926313473653


@dataclass(frozen=True)
class NetworkProfile:
    version: int
    actors_version: int
    state_tree_version: int
    prices: PriceList
    # nv <= 3: the runtime keeps the message's receiver address as sent
    # instead of its ID form
    resolve_receiver_in_runtime: bool
    # exit code of a method whose parameters fail to decode
    param_decode_exit_code: int
    # exit code of an unexpected actor panic
    panic_exit_code: int
    # behaviours inside actor code that the network upgrades changed
    baseline_exponent: int = BASELINE_EXPONENT_DOUBLING
    # block rewards start vesting after 20 days at genesis, at once from Breeze
    reward_vesting_delay: int = 0

    def code(self, name: str) -> CID:
        return actor_code(self.actors_version, name)


MAX_NETWORK_VERSION = 9  # actors v2 end here; v3 changed the HAMT/AMT encodings


def profile_for(nv: int) -> NetworkProfile:
    if nv < 0 or nv > MAX_NETWORK_VERSION:
        raise ValueError(
            f"unsupported network version {nv} (0..{MAX_NETWORK_VERSION}: actors v0 and v2)"
        )
    return NetworkProfile(
        version=nv,
        actors_version=0 if nv <= 3 else 2,
        state_tree_version=0 if nv <= 3 else 1,
        prices=CALICO_PRICES if nv >= 7 else GENESIS_PRICES,
        resolve_receiver_in_runtime=nv > 3,
        param_decode_exit_code=1 if nv < 7 else 21,
        panic_exit_code=1 if nv <= 3 else 4,
        baseline_exponent=BASELINE_EXPONENT_TRIPLING if nv < 3 else BASELINE_EXPONENT_DOUBLING,
        reward_vesting_delay=20 * 2880 if nv < 1 else 0,
    )
