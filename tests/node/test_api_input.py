"""TestChain refuses invalid input at the call that receives it, with a ValueError or
TypeError naming the argument, and changes nothing when it does."""

from __future__ import annotations

from typing import Any

import pytest

from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.forks import get_fork
from chainvm.evm.transaction import Transaction, apply_transaction
from chainvm.state.state import Account, State
from chainvm.testing.api import TestChain

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
TO = bytes.fromhex("00000000000000000000000000000000000000aa")


@pytest.fixture(params=[True, False], ids=["blocks", "no-blocks"])
def chain(request: pytest.FixtureRequest) -> TestChain:
    return TestChain(blocks=request.param)


def _balances(chain: TestChain) -> tuple[int, int]:
    return chain.balance(chain.accounts[0]), chain.balance(chain.accounts[1])


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"value": -10**18}, ValueError), ({"value": -1}, ValueError),
    ({"value": 2**256}, ValueError), ({"value": "1"}, TypeError),
    ({"value": 1.5}, TypeError), ({"value": True}, TypeError),
    ({"gas": -5}, ValueError), ({"gas": 2**64}, ValueError), ({"gas": "21000"}, TypeError),
])
def test_transact_refuses_out_of_range_numbers(chain: TestChain, kwargs: dict[str, Any],
                                               error: type[Exception]) -> None:
    before, number = _balances(chain), chain.block_number
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        chain.transact(chain.accounts[1], **kwargs)
    assert _balances(chain) == before and chain.block_number == number


@pytest.mark.parametrize("value", [-1, 2**256, "1"])
def test_calls_refuse_out_of_range_values(chain: TestChain, value: Any) -> None:
    target = chain.accounts[1]
    for call in (chain.call, chain.trace_call, chain.gas_profile):
        with pytest.raises((ValueError, TypeError), match="value"):
            call(target, b"", value=value)  # type: ignore[operator]


def test_deploy_refuses_a_negative_value(chain: TestChain) -> None:
    with pytest.raises(ValueError, match="value"):
        chain.deploy([], b"\x00", value=-1)
    assert chain.nonce(chain.accounts[0]) == 0


def test_a_transfer_still_moves_value(chain: TestChain) -> None:
    sender, recipient = _balances(chain)
    chain.transact(chain.accounts[1], value=10**18)
    assert chain.balance(chain.accounts[1]) == recipient + 10**18
    assert chain.balance(chain.accounts[0]) < sender - 10**18


def test_the_state_transition_refuses_a_negative_value() -> None:
    state = State({SENDER: Account(balance=10**18)})
    for fields in ({"value": -1, "gas_price": 0}, {"gas_price": -1}):
        tx = Transaction(sender=SENDER, to=TO, gas_limit=21000, **fields)
        with pytest.raises(InvalidTransaction, match="negative"):
            apply_transaction(state, get_fork("Cancun"), BlockEnv(number=1, timestamp=1), tx)
    assert state.balance(SENDER) == 10**18 and state.balance(TO) == 0


@pytest.mark.parametrize(("edit", "error"), [
    (lambda c, a: c.set_balance(a, -1), ValueError),
    (lambda c, a: c.set_balance(a, 2**256), ValueError),
    (lambda c, a: c.set_balance(a, "100"), TypeError),
    (lambda c, a: c.set_balance(a, None), TypeError),
    (lambda c, a: c.set_balance(a, 1.5), TypeError),
    (lambda c, a: c.set_nonce(a, -1), ValueError),
    (lambda c, a: c.set_nonce(a, 2**64), ValueError),
    (lambda c, a: c.set_nonce(a, "1"), TypeError),
    (lambda c, a: c.set_storage(a, -1, 1), ValueError),
    (lambda c, a: c.set_storage(a, 2**256, 1), ValueError),
    (lambda c, a: c.set_storage(a, "0", 1), TypeError),
    (lambda c, a: c.set_storage(a, 0, -1), ValueError),
    (lambda c, a: c.set_storage(a, 0, 2**256), ValueError),
    (lambda c, a: c.set_code(a, 123), TypeError),
    (lambda c, a: c.set_code(a, None), TypeError),
    (lambda c, a: c.set_code(a, "0xzz"), ValueError),
    (lambda c, a: c.storage(a, -1), ValueError),
    (lambda c, a: c.storage(a, "x"), TypeError),
])
def test_state_edits_check_before_they_change_anything(chain: TestChain, edit: Any,
                                                       error: type[Exception]) -> None:
    account = chain.accounts[1]
    before = (chain.balance(account), chain.nonce(account), chain.code(account),
              chain.storage(account, 0))
    with pytest.raises(error):
        edit(chain, account)
    assert (chain.balance(account), chain.nonce(account), chain.code(account),
            chain.storage(account, 0)) == before
    chain.mine(1)  # the state still commits
    chain.transact(account, value=1)


def test_state_edits_at_the_limits(chain: TestChain) -> None:
    account = chain.accounts[1]
    chain.set_balance(account, 2**256 - 1)
    chain.set_nonce(account, 2**64 - 1)
    chain.set_storage(account, 2**256 - 1, 2**256 - 1)
    chain.mine(1)
    assert chain.balance(account) == 2**256 - 1 and chain.nonce(account) == 2**64 - 1
    assert chain.storage(account, 2**256 - 1) == 2**256 - 1


@pytest.mark.parametrize("code", ["6000", "0x6000", b"\x60\x00", bytearray(b"\x60\x00")])
def test_set_code_takes_bytes_or_hex_as_deploy_does(chain: TestChain, code: Any) -> None:
    chain.set_code(chain.accounts[2], code)
    assert chain.code(chain.accounts[2]) == b"\x60\x00"
    chain.mine(1)
