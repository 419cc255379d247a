"""TransactionTests from the `basic` archive, per fork, plus round-trip checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainvm.chain.transactions import (
    InvalidTransaction,
    SignedTransaction,
    TxDecodeError,
    check_static,
    decode_transaction,
)
from chainvm.crypto import private_key_to_address
from chainvm.evm.forks import ALIASES, FORKS, get_fork
from chainvm.evm.statetest import parse_bytes
from chainvm.testing.fixtures import ethereum_tests


def run_transaction_test(test: dict) -> list[str]:
    """Return a list of mismatches (empty when every fork agrees with the fixture)."""
    problems: list[str] = []
    raw = parse_bytes(test["txbytes"])
    for fork_name, expected in test["result"].items():
        if ALIASES.get(fork_name, fork_name) not in FORKS:
            continue
        fork = get_fork(fork_name)
        try:
            tx = decode_transaction(raw)
            sender = check_static(tx, fork)
            error = None
        except (TxDecodeError, InvalidTransaction) as exc:
            error = str(exc)
        if "exception" in expected:
            if error is None:
                problems.append(f"{fork_name}: accepted, want {expected['exception']}")
            continue
        if error is not None:
            problems.append(f"{fork_name}: rejected ({error})")
            continue
        if "0x" + sender.hex() != expected["sender"].lower():
            problems.append(f"{fork_name}: sender 0x{sender.hex()}, want {expected['sender']}")
        if "0x" + tx.hash.hex() != expected["hash"].lower():
            problems.append(f"{fork_name}: hash 0x{tx.hash.hex()}, want {expected['hash']}")
        if tx.encode() != raw:
            problems.append(f"{fork_name}: re-encoding differs")
    return problems


def _files() -> list[object]:
    root = ethereum_tests("basic")
    if root is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason="basic archive not found"))]
    files = sorted((root / "TransactionTests").rglob("*.json"))
    return [pytest.param(p, id=p.relative_to(root).as_posix()) for p in files]


@pytest.mark.parametrize("path", _files())
def test_transaction_fixture(path: Path) -> None:
    data = json.loads(path.read_text())
    problems = [f"{name}: {p}" for name, test in data.items()
                for p in run_transaction_test(test)]
    assert not problems, "\n".join(problems)


KEY = bytes.fromhex("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8")


@pytest.mark.parametrize("tx_type", [0, 1, 2, 3, 4])
def test_sign_round_trip(tx_type: int) -> None:
    from chainvm.evm.transaction import Authorization

    tx = SignedTransaction(tx_type, nonce=3, gas_limit=90000, to=b"\x11" * 20, value=7,
                           data=b"\x01\x02", v=0, r=0, s=0, chain_id=1)
    if tx_type < 2:
        tx.gas_price = 10
    else:
        tx.max_fee_per_gas, tx.max_priority_fee_per_gas = 10, 2
    if tx_type >= 1:
        tx.access_list = [(b"\x22" * 20, [b"\x00" * 31 + b"\x01"])]
    if tx_type == 3:
        tx.max_fee_per_blob_gas = 5
        tx.blob_versioned_hashes = [b"\x01" + b"\x00" * 31]
    if tx_type == 4:
        tx.authorization_list = [Authorization(1, b"\x33" * 20, 0, 1, 5, 6)]
    tx.sign(KEY)
    again = decode_transaction(tx.encode())
    assert again == tx
    assert again.sender() == private_key_to_address(KEY)
    assert check_static(again, get_fork("Prague")) == private_key_to_address(KEY)


@pytest.mark.parametrize("raw", ["", "c0", "f86c", "05c0", "02c0", "01" + "c9" + "80" * 9])
def test_malformed_rejected(raw: str) -> None:
    with pytest.raises(TxDecodeError):
        decode_transaction(bytes.fromhex(raw))
