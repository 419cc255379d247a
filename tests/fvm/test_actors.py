"""Builtin actor methods, driven through the VM with the Python API."""

from __future__ import annotations

import pytest

from chainvm.fvm.actors import reward as reward_math
from chainvm.fvm.address import Address
from chainvm.fvm.api import FIL, Network
from chainvm.fvm.codec import dumps, encode_bigint, loads
from chainvm.fvm.genesis import CHAOS_ADDR, build_genesis
from chainvm.fvm.store import MemoryBlockstore
from chainvm.fvm.types import ExitCode, Message
from chainvm.fvm.vm import (
    BURNT_FUNDS_ADDR,
    CRON_ADDR,
    INIT_ADDR,
    REWARD_ADDR,
    SYSTEM_ADDR,
    VERIFREG_ADDR,
    VM,
)

NVS = [0, 4]


@pytest.fixture(params=NVS, ids=lambda nv: f"nv{nv}")
def net(request: pytest.FixtureRequest) -> Network:
    return Network(network_version=request.param)


# account / plain sends ---------------------------------------------------------


def test_send_creates_account_and_charges_gas(net: Network) -> None:
    alice = net.create_account(balance=10 * FIL)
    bob = net.new_wallet()
    before = net.balance(alice)
    ret = net.send(alice, bob, FIL)
    assert ret.receipt.exit_code == 0
    assert net.balance(bob) == FIL
    out = ret.gas_outputs
    assert before - net.balance(alice) == FIL + out.base_fee_burn + out.miner_tip + (
        out.over_estimation_burn
    )
    assert net.id_of(bob) is not None
    assert any(c.name == "OnCreateActor" for c in ret.trace.gas_charges)  # type: ignore[union-attr]
    # the new account remembers its key address
    assert net.actor_state(bob) == [bob.address.bytes]
    ret = net.send(alice, bob, 0, method=2)  # PubkeyAddress
    assert loads(ret.receipt.return_value) == bob.address.bytes


def test_insufficient_balance_and_bad_nonce(net: Network) -> None:
    alice = net.create_account(balance=FIL)
    bob = net.create_account()
    ret = net.send(alice, bob, 2 * FIL)
    assert ret.receipt.exit_code == ExitCode.SYS_ERR_INSUFFICIENT_FUNDS
    msg = net.message(alice, bob, 1)
    msg.nonce += 5
    assert net.apply(msg).receipt.exit_code == ExitCode.SYS_ERR_SENDER_STATE_INVALID
    ghost = net.new_wallet()
    msg = Message(to=bob.address, from_=ghost.address, gas_limit=10**6, gas_fee_cap=200)
    ret = net.apply(msg)
    assert ret.receipt.exit_code == ExitCode.SYS_ERR_SENDER_INVALID
    assert ret.receipt.gas_used == 0


def test_send_to_unknown_id_address_fails(net: Network) -> None:
    alice = net.create_account(balance=FIL)
    ret = net.send(alice, Address.new_id(4242), 1)
    assert ret.receipt.exit_code == ExitCode.SYS_ERR_INVALID_RECEIVER


def test_invalid_method_and_out_of_gas(net: Network) -> None:
    alice = net.create_account(balance=FIL)
    bob = net.create_account()
    assert net.send(alice, bob, 0, method=99).receipt.exit_code == ExitCode.SYS_ERR_INVALID_METHOD
    ret = net.send(alice, bob, 1, gas_limit=300_000)
    assert ret.receipt.exit_code == ExitCode.SYS_ERR_OUT_OF_GAS
    assert ret.receipt.gas_used == 300_000


def test_account_constructor_only_from_system(net: Network) -> None:
    alice = net.create_account(balance=FIL)
    ret = net.send(alice, alice, 0, method=1, params=dumps(alice.address.bytes))
    assert ret.receipt.exit_code == ExitCode.SYS_ERR_FORBIDDEN


# init -----------------------------------------------------------------------------


def test_init_exec_rules(net: Network) -> None:
    alice = net.create_account(balance=10 * FIL)
    mid, robust = net.create_multisig(alice, [alice], 1)
    assert net.id_of(robust) == mid
    assert mid.id >= 100
    # accounts cannot be created through Exec
    params = dumps([net.profile.code("account"), b""])
    assert net.send(alice, INIT_ADDR, 0, 2, params).receipt.exit_code == ExitCode.ERR_FORBIDDEN
    # code of another actors version is not creatable either
    other = 2 if net.profile.actors_version == 0 else 0
    from chainvm.fvm.network import actor_code

    params = dumps([actor_code(other, "multisig"), dumps([[alice.address.bytes], 1, 0])])
    assert net.send(alice, INIT_ADDR, 0, 2, params).receipt.exit_code == ExitCode.ERR_FORBIDDEN


# multisig -------------------------------------------------------------------------


def test_multisig_propose_approve(net: Network) -> None:
    alice = net.create_account(balance=100 * FIL)
    bob = net.create_account(balance=10 * FIL)
    carol = net.create_account()
    _, msig = net.create_multisig(alice, [alice, bob], 2, value=20 * FIL)
    ret = net.multisig_propose(alice, msig, carol, 5 * FIL)
    assert loads(ret.receipt.return_value) == [0, False, 0, b""]
    assert net.multisig_approve(alice, msig, 0).receipt.exit_code == ExitCode.ERR_FORBIDDEN
    ret = net.multisig_approve(bob, msig, 0)
    assert loads(ret.receipt.return_value) == [True, 0, b""]
    assert net.balance(carol) == 5 * FIL
    assert net.balance(msig) == 15 * FIL
    assert net.multisig_approve(bob, msig, 0).receipt.exit_code == ExitCode.ERR_NOT_FOUND
    outsider = net.create_account(balance=FIL)
    ret = net.multisig_propose(outsider, msig, carol, 1)
    assert ret.receipt.exit_code == ExitCode.ERR_FORBIDDEN


def test_multisig_cancel(net: Network) -> None:
    alice = net.create_account(balance=100 * FIL)
    bob = net.create_account(balance=10 * FIL)
    _, msig = net.create_multisig(alice, [alice, bob], 2, value=FIL)
    net.multisig_propose(alice, msig, bob, 1)
    assert net.multisig_cancel(bob, msig, 0).receipt.exit_code == ExitCode.ERR_FORBIDDEN
    assert net.multisig_cancel(alice, msig, 0).receipt.exit_code == 0
    assert net.multisig_approve(bob, msig, 0).receipt.exit_code == ExitCode.ERR_NOT_FOUND


def _self_call(net: Network, msig: Address, signers: list, method: int, params: bytes) -> int:
    first, *rest = signers
    ret = net.multisig_propose(first, msig, msig, 0, method, params)
    txn_id = loads(ret.receipt.return_value)[0]
    for s in rest:
        ret = net.multisig_approve(s, msig, txn_id)
    applied, code, _ = loads(ret.receipt.return_value)[-3:]
    assert applied
    return code


def test_multisig_signer_management(net: Network) -> None:
    alice = net.create_account(balance=100 * FIL)
    bob = net.create_account(balance=10 * FIL)
    carol = net.create_account(balance=FIL)
    # the ID address: before network version 4 the runtime keeps the receiver
    # as sent, so a wallet addressed by its robust address would not
    # recognise itself as the caller of its own signer-management methods
    msig, _ = net.create_multisig(alice, [alice, bob], 2)
    add = dumps([carol.address.bytes, True])
    assert _self_call(net, msig, [alice, bob], 5, add) == 0
    st = net.actor_state(msig)
    assert len(st[0]) == 3 and st[1] == 3
    # adding directly (not through the wallet itself) is forbidden
    assert net.send(alice, msig, 0, 5, add).receipt.exit_code == ExitCode.SYS_ERR_FORBIDDEN
    assert _self_call(net, msig, [alice, bob, carol], 8, dumps([2])) == 0
    assert net.actor_state(msig)[1] == 2
    dave = net.create_account()
    swap = dumps([carol.address.bytes, dave.address.bytes])
    assert _self_call(net, msig, [alice, bob], 7, swap) == 0
    assert net.id_of(dave).bytes in net.actor_state(msig)[0]  # type: ignore[union-attr]
    rm = dumps([dave.address.bytes, False])
    assert _self_call(net, msig, [alice, bob], 6, rm) == 0
    assert len(net.actor_state(msig)[0]) == 2
    # cannot drop below the threshold without decreasing it
    rm = dumps([bob.address.bytes, False])
    assert _self_call(net, msig, [alice, bob], 6, rm) == ExitCode.ERR_ILLEGAL_ARGUMENT


def test_multisig_vesting_lock(net: Network) -> None:
    alice = net.create_account(balance=100 * FIL)
    bob = net.create_account()
    _, msig = net.create_multisig(alice, [alice], 1, value=10 * FIL, unlock_duration=100)
    ret = net.multisig_propose(alice, msig, bob, 5 * FIL)
    # threshold 1 executes at once, but most of the balance is still locked
    assert ret.receipt.exit_code == ExitCode.ERR_INSUFFICIENT_FUNDS
    net.advance(200)
    ret = net.multisig_propose(alice, msig, bob, 5 * FIL)
    assert ret.receipt.exit_code == 0
    assert net.balance(bob) == 5 * FIL


# payment channel ------------------------------------------------------------------------


def test_paych_lifecycle(net: Network) -> None:
    alice = net.create_account(balance=100 * FIL)
    bob = net.create_account(balance=FIL)
    ch, _ = net.create_paych(alice, bob, 10 * FIL)
    v1 = net.paych_voucher(alice, ch, lane=0, nonce=1, amount=2 * FIL)
    assert net.paych_update(bob, ch, v1).receipt.exit_code == 0
    assert net.paych_to_send(ch) == 2 * FIL
    # replaying the same nonce is refused; a voucher signed by the wrong key too
    assert net.paych_update(bob, ch, v1).receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT
    forged = net.paych_voucher(bob, ch, lane=0, nonce=2, amount=9 * FIL)
    assert net.paych_update(bob, ch, forged).receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT
    v2 = net.paych_voucher(alice, ch, lane=1, nonce=1, amount=FIL)
    assert net.paych_update(bob, ch, v2).receipt.exit_code == 0
    assert net.paych_to_send(ch) == 3 * FIL
    too_much = net.paych_voucher(alice, ch, lane=2, nonce=1, amount=20 * FIL)
    assert net.paych_update(bob, ch, too_much).receipt.exit_code == ExitCode.ERR_ILLEGAL_ARGUMENT
    assert net.paych_collect(bob, ch).receipt.exit_code == ExitCode.ERR_FORBIDDEN
    assert net.paych_settle(bob, ch).receipt.exit_code == 0
    assert net.paych_settle(bob, ch).receipt.exit_code == ExitCode.ERR_ILLEGAL_STATE
    net.advance(2000)
    b_before, a_before = net.balance(bob), net.balance(alice)
    ret = net.paych_collect(bob, ch)
    assert ret.receipt.exit_code == 0
    gas = ret.gas_outputs
    assert net.balance(bob) - b_before == 3 * FIL - (
        gas.base_fee_burn + gas.miner_tip + (gas.over_estimation_burn)
    )
    assert net.balance(alice) - a_before == 7 * FIL
    assert net.actor(ch) is None


def test_paych_requires_accounts(net: Network) -> None:
    alice = net.create_account(balance=100 * FIL)
    _, msig = net.create_multisig(alice, [alice], 1)
    with pytest.raises(RuntimeError):
        net.create_paych(alice, msig, FIL)


# verified registry -----------------------------------------------------------------------


def test_verifreg() -> None:
    store = MemoryBlockstore()
    net = Network(network_version=4)
    root = net.create_account(balance=10 * FIL)
    # rebuild the genesis with this root key: simplest is to set it in state
    st = net.actor_state(VERIFREG_ADDR)
    tree = net.tree()
    act = tree.get_actor(VERIFREG_ADDR)
    assert act is not None
    act.head = net.store.put_obj([net.id_of(root).bytes, st[1], st[2]])  # type: ignore[union-attr]
    tree.set_actor(VERIFREG_ADDR, act)
    net.root = tree.flush()
    verifier = net.create_account(balance=FIL)
    client = net.create_account()
    cap = 1 << 30
    params = dumps([verifier.address.bytes, encode_bigint(cap)])
    assert net.send(verifier, VERIFREG_ADDR, 0, 2, params).receipt.exit_code == 8
    assert net.send(root, VERIFREG_ADDR, 0, 2, params).receipt.exit_code == 0
    small = dumps([client.address.bytes, encode_bigint(1)])
    assert net.send(verifier, VERIFREG_ADDR, 0, 4, small).receipt.exit_code == 16
    params = dumps([client.address.bytes, encode_bigint(1 << 25)])
    assert net.send(verifier, VERIFREG_ADDR, 0, 4, params).receipt.exit_code == 0
    st = net.actor_state(VERIFREG_ADDR)
    assert st[0] == net.id_of(root).bytes  # type: ignore[union-attr]
    assert net.send(verifier, VERIFREG_ADDR, 0, 4, params).receipt.exit_code == 16
    rm = dumps(verifier.address.bytes)
    assert net.send(root, VERIFREG_ADDR, 0, 3, rm).receipt.exit_code == 0
    assert net.send(root, VERIFREG_ADDR, 0, 3, rm).receipt.exit_code == 20
    # only the market actor may use data cap
    use = dumps([client.address.bytes, encode_bigint(1 << 20)])
    assert net.send(root, VERIFREG_ADDR, 0, 5, use).receipt.exit_code == 8
    del store


# reward, cron, system ----------------------------------------------------------------


def test_reward_maths() -> None:
    # e^-0 is 1 in Q.128, and baseline power grows every epoch
    one = 1 << 128
    assert abs(reward_math.expneg(0) - one) <= 1
    half = reward_math.expneg(int(0.6931471805599453 * one))
    assert abs(half / one - 0.5) < 1e-12
    b0 = reward_math.baseline_power_from_prev(reward_math.init_baseline_power())
    assert abs(b0 - reward_math.BASELINE_INITIAL_VALUE) <= 1
    st = reward_math.new_state(0, v2=True)
    assert st[7] == 0  # epoch
    reward = int.from_bytes(st[4][1:], "big")
    # roughly 330M FIL * (e^lambda - 1) per epoch from the simple part: ~36 FIL
    assert 30 * FIL < reward < 40 * FIL


def test_award_block_reward_and_cron_via_block(net: Network) -> None:
    alice = net.create_account(balance=10 * FIL)
    bob = net.create_account()
    net.submit(alice, bob, FIL)
    reward_before = net.balance(REWARD_ADDR)
    burnt_before = net.balance(BURNT_FUNDS_ADDR)
    res = net.apply_block(miner=alice)
    assert [r.exit_code for r in res.receipts] == [0]
    assert net.balance(bob) == FIL
    # the miner is an account, so its AddLockedFund call fails and the reward
    # actor burns the payout instead; the gas tip is part of it
    assert net.balance(REWARD_ADDR) < reward_before
    assert net.balance(BURNT_FUNDS_ADDR) > burnt_before


def test_implicit_messages_need_system_caller(net: Network) -> None:
    alice = net.create_account(balance=FIL)
    params = dumps([alice.address.bytes, b"", b"", 1])
    assert net.send(alice, REWARD_ADDR, 0, 2, params).receipt.exit_code == 8
    assert net.send(alice, CRON_ADDR, 0, 2).receipt.exit_code == 8
    assert net.send(alice, SYSTEM_ADDR, 0, 1).receipt.exit_code == 8
    ret = net.send(alice, REWARD_ADDR, 0, 3)
    assert ret.receipt.exit_code == 0 and loads(ret.receipt.return_value)


# chaos actor (test only) ---------------------------------------------------------


@pytest.mark.parametrize("nv", NVS)
def test_chaos_actor(nv: int) -> None:
    store = MemoryBlockstore()
    root = build_genesis(store, nv, with_chaos=True)
    net = Network(network_version=nv)
    net.store, net.root = store, root
    net._fund_faucet()
    alice = net.create_account(balance=FIL)
    # validating twice and not validating at all are both VM violations
    for branch in (0, 1):
        ret = net.send(alice, CHAOS_ADDR, 0, 2, dumps([branch, [], []]))
        assert ret.receipt.exit_code == ExitCode.SYS_ERR_ILLEGAL_ACTOR
    ret = net.send(alice, CHAOS_ADDR, 0, 8, dumps([42, "boom", False]))
    assert ret.receipt.exit_code == 42
    ret = net.send(alice, CHAOS_ADDR, 0, 7, dumps(["v", 1]))  # readonly mutation
    assert ret.receipt.exit_code == 0
    assert net.actor_state(CHAOS_ADDR) == ["", []]
    ret = net.send(alice, CHAOS_ADDR, 0, 7, dumps(["v", 0]))
    assert net.actor_state(CHAOS_ADDR) == ["v", []]
    ret = net.send(alice, CHAOS_ADDR, 0, 9)
    caller, receiver, *_ = loads(ret.receipt.return_value)
    assert caller == net.id_of(alice).bytes  # type: ignore[union-attr]
    assert receiver == CHAOS_ADDR.bytes


def test_vm_direct_use() -> None:
    store = MemoryBlockstore()
    root = build_genesis(store, 4)
    vm = VM(store, root, epoch=10, network_version=4)
    assert vm.state.get_actor(INIT_ADDR) is not None
    assert vm.flush() == root


# storage miner helpers (vesting) ----------------------------------------------


def test_quantize_up_uses_go_semantics() -> None:
    from chainvm.fvm.actors.miner import quantize_up

    assert quantize_up(1000, 1440, 1000) == 1000
    assert quantize_up(1001, 1440, 1000) == 2440
    assert quantize_up(-5, 1440, 1000) == 1000  # truncating division rounds up
    assert quantize_up(0, 10, 3) == 3


def test_vesting_table_adds_and_unlocks() -> None:
    from chainvm.fvm.actors.miner import (
        REWARD_VESTING_V1,
        add_vesting,
        unlock_unvested,
        unlock_vested,
    )
    from chainvm.fvm.codec import decode_bigint

    funds = add_vesting([], 100, 10**6, 0, REWARD_VESTING_V1)
    assert len(funds) == 180
    assert sum(decode_bigint(a) for _, a in funds) == 10**6
    assert [e for e, _ in funds] == sorted(e for e, _ in funds)
    # adding again on the same schedule merges into existing epochs
    both = add_vesting(funds, 100, 10**6, 0, REWARD_VESTING_V1)
    assert len(both) == 180 and sum(decode_bigint(a) for _, a in both) == 2 * 10**6
    rest, unlocked = unlock_vested(both, funds[2][0] + 1)
    assert len(rest) == 177 and unlocked == sum(decode_bigint(a) for _, a in both[:3])
    rest2, taken = unlock_unvested(rest, 0, 12345)
    assert taken == 12345
    assert sum(decode_bigint(a) for _, a in rest2) == sum(decode_bigint(a) for _, a in rest) - 12345


# storage miners through the power actor, rewarded by blocks ---------------------


@pytest.mark.parametrize("nv", [0, 2, 4])
def test_miner_creation_and_block_rewards(nv: int) -> None:
    from chainvm.fvm.vm import POWER_ADDR

    net = Network(network_version=nv)
    alice = net.create_account(balance=100 * FIL)
    miner, robust = net.create_miner(alice)
    assert net.id_of(robust) == miner
    assert net.actor(miner).code == net.profile.code("storageminer")  # type: ignore[union-attr]
    power = net.actor_state(POWER_ADDR)
    assert power[9] == 1  # miner count
    # the constructor enrolled the first proving-deadline cron event
    assert net.actor_state(POWER_ADDR)[11] != net.actor_state(POWER_ADDR)[-2]
    net.submit(alice, net.create_account(), FIL)
    net.apply_block(miner=miner)
    st = net.actor_state(miner)
    locked = decode_bigint_local(st[2])
    # the block reward went to the miner and was locked in its vesting table
    assert locked > 0 and net.balance(miner) >= locked
    assert decode_bigint_local(net.actor_state(POWER_ADDR)[4]) == locked  # total pledge
    # a second block vests nothing yet but adds to the lock
    net.apply_block(miner=miner)
    assert decode_bigint_local(net.actor_state(miner)[2]) > locked
    # the owner can still see the miner's addresses
    ret = net.send(alice, miner, 0, 2)
    owner, worker, controls = loads(ret.receipt.return_value)
    assert worker != owner  # a separate BLS worker key
    assert owner == net.id_of(alice).bytes and controls == []  # type: ignore[union-attr]


def decode_bigint_local(b: bytes) -> int:
    from chainvm.fvm.codec import decode_bigint

    return decode_bigint(b)


def test_state_exports_to_car_and_reloads() -> None:
    from chainvm.fvm.state import StateTree
    from chainvm.fvm.store import read_car

    net = Network(network_version=4)
    alice = net.create_account(balance=3 * FIL)
    car = net.export_car()
    store = MemoryBlockstore()
    assert read_car(car, store) == [net.root]
    tree = StateTree(store, net.root)
    assert tree.get_actor(alice.address).balance == 3 * FIL  # type: ignore[union-attr]
