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
