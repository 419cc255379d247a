"""ChainvmBackend refuses invalid input with eth-tester's own exception types, as
eth-tester's PyEVMBackend does, before anything changes."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("eth_tester")

from eth_tester.exceptions import ValidationError

from chainvm.eth_tester import ChainvmBackend


@pytest.fixture
def backend() -> ChainvmBackend:
    return ChainvmBackend()


def _tx(backend: ChainvmBackend, **fields: Any) -> dict[str, Any]:
    tx = {"from": backend.get_accounts()[0], "to": b"\x11" * 20, "gas": 21000, "value": 1,
          "max_fee_per_gas": 10**10, "max_priority_fee_per_gas": 1}
    tx.update(fields)
    return tx


@pytest.mark.parametrize("fields", [
    {"value": -1}, {"value": 2**256}, {"value": "1"}, {"gas": -1}, {"gas": 2**64},
    {"nonce": -1}, {"nonce": 2**64}, {"max_fee_per_gas": -1},
    {"max_priority_fee_per_gas": 2**256}, {"chain_id": -1},
    {"gas_price": -1, "max_fee_per_gas": None, "max_priority_fee_per_gas": None},
])
def test_numeric_fields_out_of_range_are_refused(backend: ChainvmBackend,
                                                 fields: dict[str, Any]) -> None:
    tx = {k: v for k, v in _tx(backend, **fields).items() if v is not None}
    name = next(iter(fields))
    with pytest.raises(ValidationError, match=name):
        backend.send_transaction(tx)
    with pytest.raises(ValidationError, match=name):
        backend.call(tx)
    with pytest.raises(ValidationError, match=name):
        backend.estimate_gas(tx)
    assert backend.get_block_by_number("pending")["transactions"] == []


def test_deeply_nested_raw_transaction_is_malformed(backend: ChainvmBackend) -> None:
    from eth_tester import EthereumTester

    from chainvm.eth_tester import MalformedTransaction

    with pytest.raises(MalformedTransaction, match="nested too deeply"):
        backend.send_raw_transaction(b"\xc1" * 100_000)
    with pytest.raises(MalformedTransaction):
        EthereumTester(backend=backend).send_raw_transaction("0x" + "c1" * 100_000)
    with pytest.raises(ValidationError, match="expected bytes"):
        backend.send_raw_transaction("0x00")  # type: ignore[arg-type]


@pytest.mark.parametrize("fields", [
    {"to": b"1"}, {"to": b"\x11" * 21}, {"to": "0x" + "11" * 20}, {"from": b"\x01" * 19},
    {"from": 5}, {"data": "0x00"},
])
def test_addresses_and_data_of_the_wrong_shape_are_refused(backend: ChainvmBackend,
                                                           fields: dict[str, Any]) -> None:
    tx = _tx(backend, **fields)
    name = next(iter(fields))
    for send in (backend.send_transaction, backend.call, backend.estimate_gas):
        with pytest.raises(ValidationError, match=name):
            send(tx)
    assert backend.get_block_by_number("pending")["transactions"] == []


def test_missing_keys_are_named(backend: ChainvmBackend) -> None:
    with pytest.raises(ValidationError, match="missing the required keys: 'from/gas'"):
        backend.send_transaction({})
    with pytest.raises(ValidationError, match="missing the required keys: 'gas'"):
        backend.send_transaction({"from": backend.get_accounts()[0]})
    with pytest.raises(ValidationError, match="Missing the keys: 'address/amount"):
        backend.apply_withdrawals([{}])


def test_a_contract_creation_still_takes_an_empty_to(backend: ChainvmBackend) -> None:
    tx_hash = backend.send_transaction(_tx(backend, to=b"", data=b"\x00", gas=100_000,
                                           value=0))
    assert backend.get_transaction_receipt(tx_hash)["contract_address"] is not None


@pytest.mark.parametrize("account", [b"1" * 19, 5, "0x" + "00" * 20, None, b"\x00" * 21])
def test_account_lookups_refuse_what_is_not_an_address(backend: ChainvmBackend,
                                                       account: Any) -> None:
    for lookup in (backend.get_balance, backend.get_nonce, backend.get_code):
        with pytest.raises(ValidationError, match="address"):
            lookup(account)
    with pytest.raises(ValidationError, match="address"):
        backend.get_storage(account, 0)


@pytest.mark.parametrize("call", [
    lambda b: b.get_storage(b.get_accounts()[0], -1),
    lambda b: b.get_storage(b.get_accounts()[0], "x"),
    lambda b: b.revert_to_snapshot(5),
    lambda b: b.revert_to_snapshot(("x",)),
    lambda b: b.revert_to_snapshot((b"\x00" * 32, [], None, 0)),
    lambda b: b.apply_withdrawals([{"index": -1, "validator_index": 0,
                                    "address": b"\x11" * 20, "amount": 1}]),
    lambda b: b.apply_withdrawals([{"index": 0, "validator_index": 0, "address": b"\x11",
                                    "amount": 1}]),
    lambda b: b.apply_withdrawals([{"index": 0, "validator_index": 0,
                                    "address": b"\x11" * 20, "amount": 2**64}]),
    lambda b: b.mine_blocks(-1),
    lambda b: b.mine_blocks("2"),
    lambda b: b.mine_blocks(10**9),  # ran until memory was gone
    lambda b: b.mine_blocks(1, coinbase=b"1"),
    lambda b: b.time_travel(2**70),
    lambda b: b.time_travel("x"),
    lambda b: b.add_account(b""),
    lambda b: b.add_account(bytes(32)),
    lambda b: b.add_account("00" * 31 + "01"),
    lambda b: b.get_block_by_hash("zz"),
    lambda b: b.get_transaction_by_hash(5),
    lambda b: b.get_transaction_receipt("0x00"),
])
def test_other_invalid_arguments_are_validation_errors(backend: ChainvmBackend,
                                                       call: Any) -> None:
    head = backend.get_block_by_number("latest")["hash"]
    with pytest.raises(ValidationError):
        call(backend)
    assert backend.get_block_by_number("latest")["hash"] == head


def test_snapshots_and_withdrawals_still_work(backend: ChainvmBackend) -> None:
    snapshot = backend.take_snapshot()
    backend.apply_withdrawals([{"index": 0, "validator_index": 0, "address": b"\x11" * 20,
                                "amount": 5}])
    assert backend.get_balance(b"\x11" * 20) == 5 * 10**9
    backend.revert_to_snapshot(snapshot)
    assert backend.get_balance(b"\x11" * 20) == 0


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"genesis_parameters": {"gas_limit": 2**63}}, "gas_limit"),  # no block could be mined
    ({"genesis_parameters": {"gas_limit": -1}}, "gas_limit"),
    ({"num_accounts": -1}, "num_accounts"),
    ({"num_accounts": 10**6}, "num_accounts"),  # each derived at start: minutes
    ({"genesis_state": [1]}, "genesis_state"),
    ({"genesis_state": {b"\x01" * 20: 5}}, "expected a dict"),
    ({"genesis_state": {b"\x01" * 20: {"storage": {2**256: 1}}}}, "storage key"),
    ({"genesis_state": {b"\x01" * 20: {"storage": [1]}}}, "storage"),
    ({"genesis_state": {b"\x01" * 20: {"nonce": 2**64}}}, "nonce"),
    ({"genesis_state": {"zz": {}}}, "not hex"),
    ({"genesis_state": {b"\x01" * 20: {"code": "xyz"}}}, "code"),
])
def test_genesis_arguments_are_validated(kwargs: dict[str, Any], word: str) -> None:
    """Each raised OverflowError, AttributeError or InvalidBlock from inside, or was
    accepted (a negative account count, a gas limit no block can have)."""
    with pytest.raises(ValidationError, match=word):
        ChainvmBackend(**kwargs)
