"""TestChain refuses invalid input at the call that receives it, with a ValueError or
TypeError naming the argument, and changes nothing when it does."""

from __future__ import annotations

from typing import Any

import pytest

from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.forks import get_fork
from chainvm.evm.transaction import Transaction, apply_transaction
from chainvm.node.devchain import MAX_BLOCKS_IN_PROCESS
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
    (lambda c, a: c.set_code(a, "0x60 00"), ValueError),  # blanks are not hex digits
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


@pytest.mark.parametrize(("address", "error"), [
    (5, TypeError), ([1], TypeError), ("0xzz", ValueError),
    ("0x12", ValueError), ("0x" + "00" * 21, ValueError), (b"\x00" * 19, ValueError),
])
def test_addresses_are_checked_at_every_entry(chain: TestChain, address: Any,
                                              error: type[Exception]) -> None:
    for use in (chain.balance, chain.nonce, chain.code, lambda a: chain.storage(a, 0),
                chain.call, chain.transact, lambda a: chain.call(chain.accounts[1], sender=a),
                lambda a: chain.impersonate(a).__enter__(),
                lambda a: chain.prank(a).__enter__(), lambda a: chain.at(a, [])):
        with pytest.raises(error, match="address"):
            use(address)


def test_bytes_like_addresses_and_contracts_are_addresses(chain: TestChain) -> None:
    with pytest.raises(TypeError, match="address"):
        chain.balance(None)  # type: ignore[arg-type]
    raw = bytes.fromhex(chain.accounts[1][2:])
    assert chain.balance(bytearray(raw)) == chain.balance(raw) == chain.balance(
        chain.accounts[1].lower())
    contract = chain.at(raw, [])
    assert chain.balance(contract) == chain.balance(raw)


@pytest.mark.parametrize(("data", "error"), [(123, TypeError), ("zz", ValueError),
                                             ("0x60 00", ValueError), (None, TypeError)])
def test_call_data_is_bytes_or_hex(chain: TestChain, data: Any,
                                   error: type[Exception]) -> None:
    target = chain.accounts[1]
    for use in (chain.call, chain.transact, chain.trace_call, chain.gas_profile):
        with pytest.raises(error, match="data"):
            use(target, data)  # type: ignore[operator]
    assert chain.call(target, "0x") == chain.call(target, b"") == b""


def test_receipt_of_a_bad_or_unknown_hash(chain: TestChain) -> None:
    from chainvm.testing.api import TransactionNotFound

    with pytest.raises(ValueError, match="32 bytes"):
        chain.receipt("0x00")
    with pytest.raises(TypeError, match="tx_hash"):
        chain.receipt(5)  # type: ignore[arg-type]
    with pytest.raises(TransactionNotFound, match="not mined") as caught:
        chain.receipt(b"\x00" * 32)
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "transaction 0x" + "00" * 32 + " not mined"


def test_receipt_takes_the_hash_as_bytes_or_hex() -> None:
    chain = TestChain()
    tx_hash = chain.transact(chain.accounts[1], value=1).tx_hash
    assert chain.receipt("0x" + tx_hash.hex()).tx_hash == chain.receipt(tx_hash).tx_hash


@pytest.mark.parametrize(("abi", "error", "match"), [
    ("notabi", TypeError, "list of dicts"), (None, TypeError, "list of dicts"),
    ([1, 2], TypeError, r"abi\[0\]"), ([{"type": "function"}], ValueError, "without a name"),
    ([{"type": "event", "inputs": []}], ValueError, "without a name"),
    ([{"type": "function", "name": "f", "inputs": [{"name": "x"}]}], ValueError, "inputs"),
    ([{"type": "function", "name": "f", "outputs": "uint256"}], ValueError, "outputs"),
])
def test_malformed_abis_are_refused_before_deploying(chain: TestChain, abi: Any,
                                                     error: type[Exception],
                                                     match: str) -> None:
    with pytest.raises(error, match=match):
        chain.at(chain.accounts[1], abi)
    with pytest.raises(error, match=match):
        chain.deploy(abi, b"\x00")
    assert chain.nonce(chain.accounts[0]) == 0  # nothing deployed


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"accounts": 10**6}, ValueError, "100000"), ({"accounts": -1}, ValueError, "accounts"),
    ({"accounts": "3"}, TypeError, "accounts"), ({"chain_id": "x"}, TypeError, "chain_id"),
    ({"chain_id": -1}, ValueError, "chain_id"), ({"chain_id": 0}, ValueError, "chain_id"),
    ({"chain_id": 2**64}, ValueError, "chain_id"), ({"balance": -1}, ValueError, "balance"),
    ({"gas_limit": 2**63}, ValueError, "gas_limit"), ({"gas_limit": "x"}, TypeError, "gas_limit"),
    ({"balance": 2**256}, ValueError, "balance"),
    ({"mnemonic": None}, TypeError, "mnemonic"),  # was an AttributeError from inside
    ({"mnemonic": "foo bar"}, ValueError, "BIP-39"),  # as `chainvm node --mnemonic`
    ({"blocks": "no"}, TypeError, "blocks"),  # a truthy string: blocks on
])
def test_constructor_arguments_are_checked(kwargs: dict[str, Any], error: type[Exception],
                                           match: str) -> None:
    with pytest.raises(error, match=match):
        TestChain(**kwargs)


@pytest.mark.parametrize(("move", "error"), [
    (lambda c: c.mine(-1), ValueError), (lambda c: c.mine("2"), TypeError),
    (lambda c: c.mine(1.5), TypeError), (lambda c: c.time_travel("5"), TypeError),
    (lambda c: c.time_travel(2**70), ValueError),
    (lambda c: c.time_travel(blocks=2, block_delta=2**64), ValueError),
    # ran for hours and until memory was gone: each empty block is built and kept
    (lambda c: c.mine(10**9), ValueError),
    (lambda c: c.time_travel(blocks=MAX_BLOCKS_IN_PROCESS + 1), ValueError),
    # read as no blocks ("blocks or 0"), silently
    (lambda c: c.time_travel(blocks=[]), TypeError), (lambda c: c.time_travel(blocks=""), TypeError),
    (lambda c: c.revert("abc"), TypeError), (lambda c: c.revert(None), TypeError),
    (lambda c: c.decode_logs([1]), TypeError),
])
def test_mine_and_time_travel_check_first(chain: TestChain, move: Any,
                                          error: type[Exception]) -> None:
    number, timestamp = chain.block_number, chain.timestamp
    with pytest.raises(error):
        move(chain)
    assert (chain.block_number, chain.timestamp) == (number, timestamp)
    chain.mine(1)
    assert chain.block_number == number + 1


def test_contract_misuse_raises_value_and_type_errors(chain: TestChain) -> None:
    """A KeyError for an unknown function name, eth_abi's own exception types for an
    argument out of its type's range, AttributeError for what is not a log: the API's
    errors are ValueError and TypeError."""
    source = """
# pragma version ^0.4.0
@external
@pure
def f(x: uint8, y: DynArray[uint8, 4]) -> uint8:
    return x
"""
    pytest.importorskip("vyper")
    ct = chain.loads(source)
    assert ct.f(7, [1]) == 7
    with pytest.raises(ValueError, match="no function"):
        ct.encode("nope")
    with pytest.raises(ValueError, match="no function"):
        ct.call("nope")
    with pytest.raises(ValueError, match="f:"):
        ct.f(1, [256])  # a dynamic array: eth_abi's encoder
    with pytest.raises(TypeError, match="f:"):
        ct.f(1, ["x"])
    with pytest.raises(TypeError, match="log"):
        ct.decode_log(None)
