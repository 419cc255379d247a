"""Sector power and pledge maths of the miner actor (actors v0 and v2).

Quantities named ``*_q128`` are fixed point with 128 fractional bits, as the
reference actors keep their smoothed estimates. Go's ``big.Div`` is
Euclidean division; every divisor here is positive, so it is Python's floor
division, and Go's ``Rsh`` on negatives is Python's arithmetic shift.
"""

from __future__ import annotations

from chainvm.fvm.actors.reward import PRECISION, polyval

EPOCHS_IN_DAY = 2880

# ln(x) on [1, 2] as a rational function; coefficients are Q.128
_LN_NUM = [
    261417938209272870992496419296200268025,
    7266615505142943436908456158054846846897,
    32458783941900493142649393804518050491988,
    17078670566130897220338060387082146864806,
    -35150353308172866634071793531642638290419,
    -20351202052858059355702509232125230498980,
    -1563932590352680681114104005183375350999,
]
_LN_DEN = [
    49928077726659937662124949977867279384,
    2508163877009111928787629628566491583994,
    21757751789594546643737445330202599887121,
    53400635271583923415775576342898617051826,
    41248834748603606604000911015235164348839,
    9015227820322455780436733526367238305537,
    340282366920938463463374607431768211456,
]
_LN2_Q128 = 235865763225513294137944142764154484399
# below this squared velocity (2^-50 in Q.128) the denominator is taken as constant
_EPSILON_Q128 = 302231454903657293676544

# sector quality: base, deal and verified-deal multipliers; 20 fractional bits
QUALITY_BASE = 10
DEAL_WEIGHT_MULTIPLIER = 10
VERIFIED_DEAL_WEIGHT_MULTIPLIER = 100
SECTOR_QUALITY_PRECISION = 20

PRE_COMMIT_DEPOSIT_PROJECTION = 20 * EPOCHS_IN_DAY
INITIAL_PLEDGE_PROJECTION = 20 * EPOCHS_IN_DAY
# the initial pledge is capped at 1 FIL per 32 GiB of quality-adjusted power
INITIAL_PLEDGE_MAX_PER_BYTE = 10**18 // (32 << 30)
LOCK_TARGET_NUM, LOCK_TARGET_DEN = 3, 10


def ln_q128(z: int) -> int:
    """Natural log of a positive Q.128 number, in Q.128."""
    k = z.bit_length() - 1 - PRECISION
    x = z >> k if k > 0 else z << -k
    num = polyval(_LN_NUM, x)
    den = polyval(_LN_DEN, x)
    return k * _LN2_Q128 + (num << PRECISION) // den


def estimate(position_q128: int) -> int:
    """The Q.0 value of a filter's position estimate."""
    return position_q128 >> PRECISION


def extrapolated_cum_sum_of_ratio(
    delta: int, start: int, num: tuple[int, int], den: tuple[int, int]
) -> int:
    """Sum over ``delta`` epochs from ``start`` of num(t)/den(t), both
    linearly extrapolated from their (position, velocity) estimates; Q.128."""
    delta_t = delta << PRECISION
    t0 = start << PRECISION
    pos1, vel1 = num
    pos2, vel2 = den
    vel2_sq = (vel2 * vel2) >> PRECISION
    if vel2_sq > _EPSILON_Q128:
        x2a = pos2 + ((t0 * vel2) >> PRECISION)
        x2b = x2a + ((delta_t * vel2) >> PRECISION)
        ln_a, ln_b = ln_q128(x2a), ln_q128(x2b)
        m1 = (vel2 * (pos1 * (ln_b - ln_a))) >> PRECISION
        m2 = (vel1 * (pos2 * (ln_a - ln_b) + vel2 * delta_t)) >> PRECISION
        return (m1 + m2) // vel2_sq
    half = delta_t >> 1
    x1m = pos1 + ((vel1 * (t0 + half)) >> PRECISION)
    return (x1m * delta_t) // pos2


def expected_reward_for_power(
    reward: tuple[int, int], network_qa: tuple[int, int], qa_power: int, days_epochs: int,
    clamp: bool,
) -> int:
    """BR(t): what ``qa_power`` is expected to earn over ``days_epochs``.
    Actors v2 clamp a negative projection at zero (``clamp``)."""
    if estimate(network_qa[0]) == 0:
        return estimate(reward[0])
    ratio = extrapolated_cum_sum_of_ratio(days_epochs, 0, reward, network_qa)
    br = (qa_power * ratio) >> PRECISION
    return max(br, 0) if clamp else br


def quality_for_weight(size: int, duration: int, deal_weight: int, verified_weight: int) -> int:
    space_time = size * duration
    base = (space_time - deal_weight - verified_weight) * QUALITY_BASE
    weighted = (
        base + deal_weight * DEAL_WEIGHT_MULTIPLIER + verified_weight * VERIFIED_DEAL_WEIGHT_MULTIPLIER
    )
    return ((weighted << SECTOR_QUALITY_PRECISION) // space_time) // QUALITY_BASE


def qa_power_for_weight(size: int, duration: int, deal_weight: int, verified_weight: int) -> int:
    quality = quality_for_weight(size, duration, deal_weight, verified_weight)
    return (size * quality) >> SECTOR_QUALITY_PRECISION


def pre_commit_deposit(
    reward: tuple[int, int], network_qa: tuple[int, int], qa_power: int, clamp: bool
) -> int:
    return expected_reward_for_power(
        reward, network_qa, qa_power, PRE_COMMIT_DEPOSIT_PROJECTION, clamp
    )


def initial_pledge(
    qa_power: int,
    baseline_power: int,
    reward: tuple[int, int],
    network_qa: tuple[int, int],
    circulating_supply: int,
    clamp: bool,
) -> int:
    """IP = BR(20 days) + 30% of the circulating supply times the sector's
    share of max(network power, baseline), capped per byte."""
    base = expected_reward_for_power(reward, network_qa, qa_power, INITIAL_PLEDGE_PROJECTION, clamp)
    share_den = max(estimate(network_qa[0]), baseline_power, qa_power)
    additional = (LOCK_TARGET_NUM * circulating_supply * qa_power) // (LOCK_TARGET_DEN * share_den)
    return min(base + additional, INITIAL_PLEDGE_MAX_PER_BYTE * qa_power)


# fault fees: projections of the expected reward, in epochs
DECLARED_FAULT_PROJECTION_V0 = EPOCHS_IN_DAY * 214 // 100
DECLARED_FAULT_PROJECTION_V3 = EPOCHS_IN_DAY * 351 // 100
UNDECLARED_FAULT_PROJECTION_V0 = EPOCHS_IN_DAY * 50 // 10
UNDECLARED_FAULT_PROJECTION_V1 = EPOCHS_IN_DAY * 35 // 10


def declared_fault_penalty(
    reward: tuple[int, int], network_qa: tuple[int, int], qa_power: int, network_version: int
) -> int:
    """FF(t), actors v0: the fee for a declared (or ongoing) fault."""
    period = DECLARED_FAULT_PROJECTION_V3 if network_version >= 3 else DECLARED_FAULT_PROJECTION_V0
    return expected_reward_for_power(reward, network_qa, qa_power, period, clamp=False)


def undeclared_fault_penalty(
    reward: tuple[int, int], network_qa: tuple[int, int], qa_power: int, network_version: int
) -> int:
    """SP(t), actors v0: the fee for a fault detected rather than declared."""
    period = (
        UNDECLARED_FAULT_PROJECTION_V1 if network_version >= 1 else UNDECLARED_FAULT_PROJECTION_V0
    )
    return expected_reward_for_power(reward, network_qa, qa_power, period, clamp=False)


TERMINATION_LIFETIME_CAP_DAYS = 70


def termination_penalty(
    day_reward: int,
    storage_pledge: int,
    age: int,
    reward: tuple[int, int],
    network_qa: tuple[int, int],
    qa_power: int,
    network_version: int,
) -> int:
    """Actors v0: max(SP(t), BR(20 days) + BR(1 day) x age in days, capped at
    70 days; from network version 1 the age counts half)."""
    cap = TERMINATION_LIFETIME_CAP_DAYS * EPOCHS_IN_DAY
    capped_age = min(age // 2 if network_version >= 1 else age, cap)
    return max(
        undeclared_fault_penalty(reward, network_qa, qa_power, network_version),
        storage_pledge + day_reward * capped_age // EPOCHS_IN_DAY,
    )
