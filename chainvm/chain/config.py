"""Chain configuration: which fork rules a block follows, by number, total difficulty or time.

A configuration is built from a blockchain-test network name: a plain fork
name ("Cancun"), or a transition such as "BerlinToLondonAt5",
"ArrowGlacierToParisAtDiffC0000" (the Merge once the parent's total
difficulty reaches 0xC0000), "ParisToShanghaiAtTime15k" (by timestamp) or
"HomesteadToDaoAt5" (the DAO irregular state change at block 5).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from chainvm.evm.forks import FORK_ORDER, Fork, get_fork

# Difficulty-bomb delays (in blocks) of the glacier forks, by the fork that set them.
BOMB_DELAYS = {
    "Byzantium": 3_000_000, "Constantinople": 5_000_000, "MuirGlacier": 9_000_000,
    "London": 9_700_000, "ArrowGlacier": 10_700_000, "GrayGlacier": 11_400_000,
}

# Fork names that only move the difficulty bomb: the EVM rules of the named fork apply.
_GLACIERS = {"MuirGlacier": "Istanbul", "ArrowGlacier": "London", "GrayGlacier": "London"}


class UnknownNetwork(ValueError):
    pass


@dataclass
class ChainConfig:
    chain_id: int = 1
    # (first block number, fork name), ascending; the first entry starts at 0.
    number_forks: list[tuple[int, str]] = field(default_factory=lambda: [(0, "Frontier")])
    # (first timestamp, fork name), ascending; applies after the Merge.
    time_forks: list[tuple[int, str]] = field(default_factory=list)
    # (first block number, bomb delay), ascending.
    bomb_delays: list[tuple[int, int]] = field(default_factory=list)
    terminal_total_difficulty: int | None = None
    dao_block: int | None = None
    # A dev node's hook on every fork this configuration names (the variant of
    # anvil_impersonateSignature, Fork.with_signature_overrides); not stored, not compared.
    fork_variant: Callable[[Fork], Fork] | None = field(default=None, compare=False, repr=False,
                                                        metadata={"stored": False})

    def fork_at(self, number: int, timestamp: int, parent_td: int) -> Fork:
        fork = self._fork_at(number, timestamp, parent_td)
        return fork if self.fork_variant is None else self.fork_variant(fork)

    def _fork_at(self, number: int, timestamp: int, parent_td: int) -> Fork:
        name = self.number_forks[0][1]
        for start, fork_name in self.number_forks:
            if number >= start:
                name = fork_name
        fork = get_fork(_GLACIERS.get(name, name))
        if self.merged(parent_td) and not fork.rules.eip3675:
            fork = get_fork("Paris")
        for start, fork_name in self.time_forks:
            if timestamp >= start:
                candidate = get_fork(fork_name)
                if candidate.ordinal > fork.ordinal:
                    fork = candidate
        return fork

    def merged(self, parent_td: int) -> bool:
        """Proof of stake rules apply to a block whose parent has reached the terminal TD."""
        ttd = self.terminal_total_difficulty
        return ttd is not None and parent_td >= ttd

    def bomb_delay(self, number: int) -> int:
        delay = 0
        for start, value in self.bomb_delays:
            if number >= start:
                delay = value
        return delay


def _fork_name(text: str) -> str:
    if text in _GLACIERS or text in FORK_ORDER:
        return text
    try:
        return get_fork(text).name
    except KeyError:
        raise UnknownNetwork(f"unknown fork {text!r}") from None


def _delay_for(name: str) -> int | None:
    """The bomb delay in force once `name` is active (None: no delay, Frontier rules)."""
    if name in BOMB_DELAYS:
        return BOMB_DELAYS[name]
    if name in _GLACIERS:
        return BOMB_DELAYS[name]
    rules = get_fork(name).rules
    for eip, delay_name in (("eip3554", "London"), ("eip2384", "MuirGlacier"),
                            ("eip1234", "Constantinople"), ("eip649", "Byzantium")):
        if getattr(rules, eip):
            return BOMB_DELAYS[delay_name]
    return None


def _amount(text: str) -> int:
    if text.lower().endswith("k"):
        return int(text[:-1]) * 1000
    return int(text)


_TRANSITION = re.compile(r"^([A-Za-z0-9]+?)To([A-Za-z0-9]+?)At(Time|Diff)?([0-9A-Fa-fk]+)$")


def config_for_network(network: str, chain_id: int = 1) -> ChainConfig:
    """Build the configuration a blockchain-test network name stands for."""
    config = ChainConfig(chain_id=chain_id)
    m = _TRANSITION.match(network)
    if m is None:
        name = _fork_name(network)
        config.number_forks = [(0, name)]
        _add_delays(config, [(0, name)])
        if _is_proof_of_stake(name):
            config.terminal_total_difficulty = 0
        return config
    first, second, kind, amount = m.groups()
    first = _fork_name(first)
    if second == "Dao":
        config.number_forks = [(0, first)]
        config.dao_block = _amount(amount)
        _add_delays(config, config.number_forks)
        return config
    second = _fork_name(second)
    config.number_forks = [(0, first)]
    if kind == "Diff":
        if second != "Paris":
            raise UnknownNetwork(f"{network}: only the Merge switches by total difficulty")
        config.terminal_total_difficulty = int(amount, 16)
    elif kind == "Time":
        config.time_forks = [(_amount(amount), second)]
        if _is_proof_of_stake(first):
            config.terminal_total_difficulty = 0
    else:
        config.number_forks.append((_amount(amount), second))
    _add_delays(config, config.number_forks)
    return config


def _is_proof_of_stake(name: str) -> bool:
    return get_fork(_GLACIERS.get(name, name)).rules.eip3675


def _add_delays(config: ChainConfig, forks: list[tuple[int, str]]) -> None:
    for start, name in forks:
        delay = _delay_for(name)
        if delay is not None:
            config.bomb_delays.append((start, delay))


# Ethereum mainnet activation points (block numbers, the Merge's terminal total difficulty,
# then timestamps). Osaka and the blob-parameter forks are left to the caller.
MAINNET_NUMBER_FORKS = [
    (0, "Frontier"), (1_150_000, "Homestead"), (2_463_000, "EIP150"), (2_675_000, "EIP158"),
    (4_370_000, "Byzantium"), (7_280_000, "ConstantinopleFix"), (9_069_000, "Istanbul"),
    (9_200_000, "MuirGlacier"), (12_244_000, "Berlin"), (12_965_000, "London"),
    (13_773_000, "ArrowGlacier"), (15_050_000, "GrayGlacier"),
]
MAINNET_TTD = 58_750_000_000_000_000_000_000
MAINNET_TIME_FORKS = [(1_681_338_455, "Shanghai"), (1_710_338_135, "Cancun"),
                      (1_746_612_311, "Prague")]
MAINNET_DAO_BLOCK = 1_920_000


def mainnet_config() -> ChainConfig:
    config = ChainConfig(chain_id=1, number_forks=list(MAINNET_NUMBER_FORKS),
                         time_forks=list(MAINNET_TIME_FORKS),
                         terminal_total_difficulty=MAINNET_TTD, dao_block=MAINNET_DAO_BLOCK)
    _add_delays(config, config.number_forks)
    return config
