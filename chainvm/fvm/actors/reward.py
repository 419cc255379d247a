"""The reward actor (actors v0 and v2) and its Q.128 fixed-point maths.

State v0: ``[cumsum baseline, cumsum realized, effective network time,
effective baseline power, this epoch reward, smoothed reward [position,
velocity], this epoch baseline power, epoch, total mined]``; v2 replaces the
last field by ``total storage power reward, simple total, baseline total``.

The maths follows the specification: baseline power grows by a fixed Q.128
exponent per epoch, the minted supply is a simple exponential decay plus a
baseline part driven by the effective network time, and e^-x is the
rational polynomial approximation of the actors' math package. The smoothed
reward is an alpha-beta filter.
"""

from __future__ import annotations

from typing import Any

from chainvm.fvm.actors.common import (
    as_address,
    as_int,
    check_catch_up,
    decode_bigint,
    decode_empty,
    decode_tuple,
    dumps,
    loads,
)
from chainvm.fvm.codec import encode_bigint
from chainvm.fvm.network import BASELINE_EXPONENT_DOUBLING, profile_for
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import (
    BURNT_FUNDS_ADDR,
    POWER_ADDR,
    SYSTEM_ADDR,
    ActorImpl,
    ActorPanic,
    Runtime,
)

PRECISION = 128
EXPECTED_LEADERS_PER_EPOCH = 5
MINER_ADD_LOCKED_FUND = 14  # the miner actor's AddLockedFund method (v0)
MINER_APPLY_REWARDS = 14  # ... renamed ApplyRewards in v2, with a penalty
PENALTY_MULTIPLIER = 3  # v2 scales the gas penalty up

# Q.128 floor(e^(ln g / epochs in a year) * 2^128); which one applies is
# part of the network profile
BASELINE_EXPONENT = BASELINE_EXPONENT_DOUBLING


def baseline_exponent(network_version: int) -> int:
    return profile_for(network_version).baseline_exponent


BASELINE_INITIAL_VALUE = 2_888_888_880_000_000_000  # Q.0
LAMBDA = 37396271439864487274534522888786  # Q.128, ln(2) / (6 years of epochs)
EXP_LAM_SUB_ONE = 37396273494747879394193016954629  # Q.128, e^lambda - 1
SIMPLE_TOTAL = 330_000_000 * 10**18
BASELINE_TOTAL = 770_000_000 * 10**18

EXP_NUM_COEF = [
    -648770010757830093818553637600,
    67469480939593786226847644286976,
    -3197587544499098424029388939001856,
    89244641121992890118377641805348864,
    -1579656163641440567800982336819953664,
    17685496037279256458459817590917169152,
    -115682590513835356866803355398940131328,
    340282366920938463463374607431768211456,
]
EXP_DENO_COEF = [
    1225524182432722209606361,
    114095592300906098243859450,
    5665570424063336070530214243,
    194450132448609991765137938448,
    5068267641632683791026134915072,
    104716890604972796896895427629056,
    1748338658439454459487681798864896,
    23704654329841312470660182937960448,
    259380097567996910282699886670381056,
    2250336698853390384720606936038375424,
    14978272436876548034486263159246028800,
    72144088983913131323343765784380833792,
    224599776407103106596571252037123047424,
    340282366920938463463374607431768211456,
]


# alpha-beta filter gains, already in Q.128 (about 9.25e-4 and 2.84e-7)
DEFAULT_ALPHA = 314760000000000000000000000000000000
DEFAULT_BETA = 96640100000000000000000000000000


def quo(a: int, b: int) -> int:
    """go-state-types big.Div: Euclidean division, i.e. floor for the
    positive divisors used here."""
    return a // b


def polyval(coefs: list[int], x: int) -> int:
    res = coefs[0]
    for c in coefs[1:]:
        res = ((res * x) >> PRECISION) + c
    return res


def expneg(x: int) -> int:
    """e^-x for x in Q.128, result in Q.128."""
    return (polyval(EXP_NUM_COEF, x) << PRECISION) // polyval(EXP_DENO_COEF, x)


def init_baseline_power(exponent: int = BASELINE_EXPONENT) -> int:
    return ((BASELINE_INITIAL_VALUE << (2 * PRECISION)) // exponent) >> PRECISION


def baseline_power_from_prev(prev: int, exponent: int = BASELINE_EXPONENT) -> int:
    return (prev * exponent) >> PRECISION


def compute_r_theta(ent: int, baseline_at_ent: int, cum_realized: int, cum_baseline: int) -> int:
    if ent == 0:
        return 0
    diff = quo((cum_baseline - cum_realized) << PRECISION, baseline_at_ent)
    return (ent << PRECISION) - diff


def compute_baseline_supply(theta: int, baseline_total: int) -> int:
    theta_lam = (theta * LAMBDA) >> PRECISION
    return baseline_total * ((1 << PRECISION) - expneg(theta_lam))


def compute_reward(
    epoch: int, prev_theta: int, curr_theta: int, simple_total: int, baseline_total: int
) -> int:
    simple = simple_total * EXP_LAM_SUB_ONE
    epoch_lam = epoch * LAMBDA
    simple = (simple * expneg(epoch_lam)) >> PRECISION
    baseline = compute_baseline_supply(curr_theta, baseline_total) - compute_baseline_supply(
        prev_theta, baseline_total
    )
    return (simple + baseline) >> PRECISION


def read_estimate(raw: Any, what: str) -> tuple[int, int]:
    """A smoothed estimate's position and velocity. Actors v0 hold it behind a pointer,
    which a state may leave nil, and update it without a check: a panic in lotus."""
    if raw is None:
        raise ActorPanic(f"nil {what} estimate")
    return decode_bigint(raw[0]), decode_bigint(raw[1])


def filter_next(position: int, velocity: int, obs: int, delta: int) -> tuple[int, int]:
    """One step of the alpha-beta filter (all Q.128 except obs and delta)."""
    delta_t = delta << PRECISION
    position = position + ((delta_t * velocity) >> PRECISION)
    residual = (obs << PRECISION) - position
    position = position + ((DEFAULT_ALPHA * residual) >> PRECISION)
    velocity = velocity + quo(DEFAULT_BETA * residual, delta_t)
    return position, velocity


# state helpers ----------------------------------------------------------------


class _State:
    def __init__(self, raw: list[Any], v2: bool, exponent: int = BASELINE_EXPONENT) -> None:
        self.raw = raw
        self.v2 = v2
        self.exponent = exponent

    def big(self, i: int) -> int:
        return decode_bigint(self.raw[i])

    def set_big(self, i: int, v: int) -> None:
        self.raw[i] = encode_bigint(v)

    @property
    def simple_total(self) -> int:
        return self.big(9) if self.v2 else SIMPLE_TOTAL

    @property
    def baseline_total(self) -> int:
        return self.big(10) if self.v2 else BASELINE_TOTAL

    def update_to_next_epoch(self, realized: int, epochs: int = 1) -> None:
        """Advance ``epochs`` epochs without minting (null rounds catch-up);
        works on plain integers since the catch-up can span many epochs."""
        r = self.raw
        exp = self.exponent
        baseline = self.big(6)
        cum_realized = self.big(1)
        cum_baseline = self.big(0)
        eff_baseline = self.big(3)
        ent = r[2]
        for _ in range(epochs):
            baseline = (baseline * exp) >> PRECISION
            cum_realized += min(baseline, realized)
            while cum_realized > cum_baseline:
                ent += 1
                eff_baseline = (eff_baseline * exp) >> PRECISION
                cum_baseline += eff_baseline
        r[7] += epochs
        r[2] = ent
        self.set_big(6, baseline)
        self.set_big(1, cum_realized)
        self.set_big(0, cum_baseline)
        self.set_big(3, eff_baseline)

    def theta(self) -> int:
        return compute_r_theta(self.raw[2], self.big(3), self.big(1), self.big(0))

    def update_with_reward(self, realized: int) -> None:
        prev = self.theta()
        self.update_to_next_epoch(realized)
        curr = self.theta()
        self.set_big(
            4, compute_reward(self.raw[7], prev, curr, self.simple_total, self.baseline_total)
        )

    def update_smoothed(self, delta: int) -> None:
        pos, vel = read_estimate(self.raw[5], "smoothed reward")
        pos, vel = filter_next(pos, vel, self.big(4), delta)
        self.raw[5] = [encode_bigint(pos), encode_bigint(vel)]


def new_state(realized_power: int, v2: bool, network_version: int = 4) -> list[Any]:
    exponent = baseline_exponent(network_version)
    init = init_baseline_power(exponent)
    raw: list[Any] = [
        b"",
        b"",
        0,
        encode_bigint(init),
        b"",
        [b"", b""],
        encode_bigint(init),
        -1,
    ]
    raw += [b"", encode_bigint(SIMPLE_TOTAL), encode_bigint(BASELINE_TOTAL)] if v2 else [b""]
    st = _State(raw, v2, exponent)
    st.update_with_reward(realized_power)
    pos = st.big(4) << PRECISION
    st.raw[5] = [encode_bigint(pos), b""]
    return raw


# methods ------------------------------------------------------------------------


def _decode_power(data: bytes) -> int:
    obj = loads(data, allow_trailing=True)
    if obj is None:
        return -1
    return decode_bigint(obj)


def constructor(rt: Runtime, power: int) -> None:
    rt.validate_caller_is(SYSTEM_ADDR)
    v2 = rt.profile.actors_version >= 2
    rt.state_create(new_state(max(power, 0), v2, rt.network_version))


def _decode_award(data: bytes) -> tuple[Any, int, int, int]:
    miner, penalty, gas_reward, wins = decode_tuple(data, 4)
    return as_address(miner), decode_bigint(penalty), decode_bigint(gas_reward), as_int(wins)


def award_block_reward(rt: Runtime, params: tuple[Any, int, int, int]) -> None:
    miner, penalty, gas_reward, wins = params
    rt.validate_caller_is(SYSTEM_ADDR)
    prior = rt.current_balance()
    if penalty < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "negative penalty")
    if gas_reward < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "negative gas reward")
    if prior < gas_reward:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, "actor balance insufficient to pay gas reward")
    if wins <= 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "invalid win count")
    miner_id = rt.resolve_address(miner)
    if miner_id is None:
        rt.abort(ExitCode.ERR_NOT_FOUND, "failed to resolve given owner address")
    assert miner_id is not None
    v2 = rt.profile.actors_version >= 2

    def pay(raw: list[Any]) -> int:
        st = _State(raw, v2)
        block_reward = quo(st.big(4) * wins, EXPECTED_LEADERS_PER_EPOCH)
        total = block_reward + gas_reward
        balance = rt.current_balance()
        if total > balance:
            total = balance
            block_reward = total - gas_reward
        st.set_big(8, st.big(8) + block_reward)
        return total

    total = rt.state_transaction(pay)
    if v2:
        # v2 hands reward and (tripled) penalty to the miner's ApplyRewards,
        # which settles the penalty itself
        apply_params = dumps([encode_bigint(total), encode_bigint(PENALTY_MULTIPLIER * penalty)])
        _ret, code = rt.send(miner_id, MINER_APPLY_REWARDS, apply_params, total)
        if code != 0:
            rt.send(BURNT_FUNDS_ADDR, 0, b"", total)
        return
    penalty = min(penalty, total)
    payable = total - penalty
    _ret, code = rt.send(miner_id, MINER_ADD_LOCKED_FUND, dumps(encode_bigint(payable)), payable)
    if code != 0:
        # the miner is at fault; burn the reward instead of failing the block
        _ret, code = rt.send(BURNT_FUNDS_ADDR, 0, b"", payable)
        if code != 0:
            rt.abort(code, "failed to send unsent reward to the burnt funds actor")
    if penalty > 0:
        _ret, code = rt.send(BURNT_FUNDS_ADDR, 0, b"", penalty)
        if code != 0:
            rt.abort(code, "failed to send penalty to burnt funds actor")


def this_epoch_reward(rt: Runtime, _: None) -> bytes:
    rt.validate_caller_any()
    st = rt.state_readonly()
    if rt.profile.actors_version >= 2:
        return dumps([st[5], st[6]])
    return dumps([st[4], st[5], st[6]])


def update_network_kpi(rt: Runtime, power: int) -> None:
    rt.validate_caller_is(POWER_ADDR)
    if power < 0:
        rt.abort(ExitCode.ERR_ILLEGAL_ARGUMENT, "argument should not be nil")
    v2 = rt.profile.actors_version >= 2

    def update(raw: list[Any]) -> None:
        st = _State(raw, v2, rt.profile.baseline_exponent)
        prev = raw[7]
        if raw[7] < rt.curr_epoch:
            check_catch_up(rt, "epoch", raw[7])
            st.update_to_next_epoch(power, rt.curr_epoch - raw[7])
        st.update_with_reward(power)
        st.update_smoothed(raw[7] - prev)

    rt.state_transaction(update)


REWARD = ActorImpl(
    "reward",
    {
        1: (constructor, _decode_power),
        2: (award_block_reward, _decode_award),
        3: (this_epoch_reward, decode_empty),
        4: (update_network_kpi, _decode_power),
    },
)
