"""The in-process Python test API (chainvm.testing.api)."""

from __future__ import annotations

import pytest

from chainvm.testing.api import TestChain, TransactionFailed
from tests.node.contracts import CALLER_INIT, STORE_ABI, STORE_INIT, selector

pytest.importorskip("eth_abi")


def test_deploy_call_transact_events() -> None:
    chain = TestChain()
    store = chain.deploy(STORE_ABI, STORE_INIT)
    assert store.get() == 0
    assert store.set(5) is None  # a mined transaction (no outputs)
    assert store.get() == 5
    receipt = store.transact("set", 6, sender=chain.accounts[1])
    (event,) = receipt.events
    assert event.name == "ValueSet"
    assert event.args == {"who": chain.accounts[1], "value": 6}
    with pytest.raises(TransactionFailed) as info:
        store.set(0)
    assert info.value.error == ("Zero", ())
    with pytest.raises(TransactionFailed) as info:
        store.fail(1)
    assert info.value.error == ("Error", ("no",))
    assert chain.storage(store.address, 0) == 6


def test_snapshot_state_edits_impersonation_time() -> None:
    chain = TestChain(accounts=2)
    store = chain.deploy(STORE_ABI, STORE_INIT)
    store.set(1)
    number = chain.block_number
    with chain.snapshot():
        store.set(2)
        chain.mine(3)
        assert store.get() == 2
    assert store.get() == 1 and chain.block_number == number
    chain.set_storage(store.address, 0, 77)
    assert store.get() == 77
    chain.set_balance("0x" + "11" * 20, 10**18)
    assert chain.balance("0x" + "11" * 20) == 10**18
    with chain.impersonate("0x" + "11" * 20) as who:
        receipt = store.transact("set", 3, sender=who)
        assert receipt.events[0].args["who"] == who
    with pytest.raises(TransactionFailed):
        store.transact("set", 4, sender="0x" + "11" * 20)
    t0 = chain.timestamp
    chain.time_travel(86_400)
    chain.mine()
    assert chain.timestamp >= t0 + 86_400


def test_traces_and_gas_profile(capsys: pytest.CaptureFixture[str]) -> None:
    chain = TestChain(accounts=1)
    store = chain.deploy(STORE_ABI, STORE_INIT)
    caller = chain.transact(None, CALLER_INIT).contract_address
    assert caller is not None
    data = bytes(12) + store.raw_address
    trace = chain.trace_call(caller, data)
    assert trace["calls"][0]["to"] == store.address.lower()
    rows = chain.gas_profile(caller, data)
    set_selector = "0x" + selector("set(uint256)").hex()
    assert any(op == "SSTORE" and addr == store.address and sel == set_selector
               for addr, sel, op, _, _ in rows)
    chain.print_gas_profile(store.address, selector("set(uint256)") + (9).to_bytes(32, "big"))
    assert "SSTORE" in capsys.readouterr().out


def test_fixture_reverts_between_tests_a(chain: TestChain) -> None:
    chain.set_balance(chain.accounts[5], 1)
    assert chain.balance(chain.accounts[5]) == 1


def test_fixture_reverts_between_tests_b(chain: TestChain) -> None:
    assert chain.balance(chain.accounts[5]) == 10_000 * 10**18


def test_impersonating_a_contract() -> None:
    chain = TestChain(accounts=2)
    store = chain.deploy(STORE_ABI, STORE_INIT)
    caller = chain.transact(None, CALLER_INIT).contract_address
    assert caller is not None and chain.code(caller)
    chain.set_balance(caller, 10**18)
    with pytest.raises(TransactionFailed, match="not impersonated"):
        store.transact("set", 3, sender=caller)
    with chain.impersonate(caller) as who:
        receipt = store.transact("set", 4, sender=who)
        assert receipt.events[0].args["who"] == caller
        # Its code still runs when called (here: by itself, through its own code).
        assert chain.transact(caller, bytes(12) + store.raw_address, sender=who).status == 1
    assert store.get() == 7 and chain.nonce(caller) == 3  # CREATE set nonce 1, then two
    with pytest.raises(TransactionFailed, match="not impersonated"):
        store.transact("set", 5, sender=caller)
    # A dev account given code is not an EOA (EIP-3607): the check stays for all others.
    chain.set_code(chain.accounts[1], b"\x00")
    with pytest.raises(TransactionFailed, match="externally owned"):
        store.transact("set", 6, sender=chain.accounts[1])


def test_failed_transaction_leaves_no_block() -> None:
    chain = TestChain(accounts=1)
    store = chain.deploy(STORE_ABI, STORE_INIT)
    number, nonce = chain.block_number, chain.nonce(chain.accounts[0])
    with pytest.raises(TransactionFailed) as info:
        store.set(0)
    assert info.value.error == ("Zero", ())
    assert chain.block_number == number and chain.nonce(chain.accounts[0]) == nonce
    receipt = store.transact("set", 9)
    assert receipt.block_number == number + 1 and store.get() == 9


def test_state_roots_of_mined_blocks() -> None:
    chain = TestChain(accounts=3)
    store = chain.deploy(STORE_ABI, STORE_INIT)
    for i in range(1, 6):
        store.set(i, sender=chain.accounts[i % 3])
        chain.set_storage(store.address, 1, i)  # an edit in place, committed by the next block
    chain.mine()
    state = chain.dev.state()
    assert chain.dev.head.header.state_root == state.state_root() == state.full_state_root()
