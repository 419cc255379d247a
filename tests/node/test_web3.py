"""web3.py (PyPI `web3`) against the dev node: deploy, transact, events, filters, a custom
error the client decodes, snapshot/revert, impersonation and a traced transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chainvm.node.devchain import DevChain
from chainvm.node.server import ThreadedNode
from tests.node.contracts import STORE_ABI, STORE_INIT, ZERO_ERROR

web3 = pytest.importorskip("web3")
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError


@pytest.fixture(scope="module")
def w3() -> Iterator[Any]:
    with ThreadedNode(DevChain()) as node:
        yield Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))


def test_web3_end_to_end(w3: Any) -> None:
    assert w3.is_connected()
    assert w3.eth.chain_id == 31337
    me, other = w3.eth.accounts[:2]
    factory = w3.eth.contract(abi=STORE_ABI, bytecode=STORE_INIT)
    tx_hash = factory.constructor().transact({"from": me})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt.status == 1 and receipt.to is None and receipt.contractAddress
    store = w3.eth.contract(address=receipt.contractAddress, abi=STORE_ABI)

    log_filter = store.events.ValueSet.create_filter(from_block="latest")
    receipt = w3.eth.wait_for_transaction_receipt(
        store.functions.set(41).transact({"from": me}), timeout=10)
    assert receipt.status == 1
    assert store.functions.get().call() == 41
    (event,) = store.events.ValueSet().process_receipt(receipt)
    assert event.args.who == me and event.args.value == 41
    # eth_getLogs and a filter
    logs = store.events.ValueSet.get_logs(from_block=0)
    assert [e.args.value for e in logs] == [41]
    changes = log_filter.get_new_entries()
    assert [e.args.value for e in changes] == [41]

    # A custom error: web3 sees code 3 with the revert data and raises ContractCustomError.
    with pytest.raises(ContractCustomError) as info:
        store.functions.set(0).transact({"from": me})
    assert ZERO_ERROR.hex() in str(info.value.data)
    with pytest.raises(ContractLogicError, match="no"):
        store.functions.fail(1).call()

    # Snapshot / revert through the raw provider.
    sid = w3.provider.make_request("evm_snapshot", [])["result"]
    w3.eth.wait_for_transaction_receipt(store.functions.set(99).transact({"from": other}))
    assert store.functions.get().call() == 99
    assert w3.provider.make_request("evm_revert", [sid])["result"] is True
    assert store.functions.get().call() == 41

    # Impersonation of an account with no key.
    whale = Web3.to_checksum_address("0x" + "be" * 20)
    w3.provider.make_request("anvil_setBalance", [whale, hex(10**18)])
    w3.provider.make_request("anvil_impersonateAccount", [whale])
    receipt = w3.eth.wait_for_transaction_receipt(
        store.functions.set(7).transact({"from": whale}), timeout=10)
    assert receipt["from"] == whale
    (event,) = store.events.ValueSet().process_receipt(receipt)
    assert event.args.who == whale

    # A plain transfer with legacy pricing and a traced transaction.
    tx_hash = w3.eth.send_transaction({"from": me, "to": other, "value": 5,
                                       "gasPrice": w3.eth.gas_price})
    assert w3.eth.wait_for_transaction_receipt(tx_hash).status == 1
    trace = w3.provider.make_request("debug_traceTransaction",
                                     [receipt.transactionHash.to_0x_hex(),
                                      {"tracer": "callTracer"}])["result"]
    assert trace["to"] == store.address.lower() and trace["from"] == whale.lower()

    # A transaction signed locally by web3 (eth-account), sent raw.
    from eth_account import Account

    key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # account 1
    acct = Account.from_key(key)
    assert acct.address == other
    tx = store.functions.set(123).build_transaction({"from": other,
                                                      "nonce": w3.eth.get_transaction_count(other)})
    signed = acct.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt.status == 1 and store.functions.get().call() == 123
    block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
    assert block.transactions[0]["hash"] == receipt.transactionHash
