"""Otterscan's ots_ API over a small history: a contract that sends ether on and creates a
contract, a reverted call, and plain transfers; shapes and values as anvil 1.7.1 and
erigon answer them (where the two differ, erigon's reading of the API, noted)."""

from __future__ import annotations

from typing import Any

import pytest

from chainvm.node.devchain import DevChain
from chainvm.node.rpc import Rpc
from chainvm.node.rpc.ots import CREATE, TRANSFER

SINK = "0x" + "aa" * 20
REVERTER = "0x" + "bb" * 20
# CALL(gas, SINK, value 1, no data), then CREATE(value 0) of a one-byte contract from the
# init code 0x60016000f3 stored in memory, then STOP
RUNTIME = bytes.fromhex("6000600060006000600173" + "aa" * 20 + "5af150"
                        + "6460016000f3600052" + "6005601b6000f0" + "5000")
INIT = bytes.fromhex(f"60{len(RUNTIME):02x}600c60003960{len(RUNTIME):02x}6000f3") + RUNTIME


@pytest.fixture(scope="module")
def history() -> dict[str, Any]:
    rpc = Rpc(DevChain(fork="Prague", accounts=3))
    me, other, _ = rpc.call("eth_accounts")
    deploy = rpc.call("eth_sendTransaction", {"from": me, "data": "0x" + INIT.hex()})
    contract = rpc.call("eth_getTransactionReceipt", deploy)["contractAddress"]
    poke = rpc.call("eth_sendTransaction", {"from": me, "to": contract, "value": "0x10",
                                            "gas": "0x100000"})
    rpc.call("anvil_setCode", REVERTER, "0x60016000526001601ffd")  # REVERT with 0x01
    failed = rpc.call("eth_sendTransaction", {"from": me, "to": REVERTER, "gas": "0x100000"})
    transfers = [rpc.call("eth_sendTransaction", {"from": other, "to": me, "value": "0x1"})
                 for _ in range(3)]
    return {"rpc": rpc, "me": me, "other": other, "deploy": deploy, "contract": contract,
            "poke": poke, "failed": failed, "transfers": transfers}


def test_level_code_and_headers(history: dict[str, Any]) -> None:
    rpc = history["rpc"]
    assert rpc.call("ots_getApiLevel") == 8
    assert rpc.call("ots_hasCode", history["contract"], "latest") is True
    assert rpc.call("ots_hasCode", history["contract"], "0x0") is False
    assert rpc.call("ots_hasCode", history["me"], "latest") is False
    header = rpc.call("erigon_getHeaderByNumber", 1)
    assert header == rpc.call("eth_getBlockByNumber", "0x1", False)


def test_traces_and_internal_operations(history: dict[str, Any]) -> None:
    rpc, contract = history["rpc"], history["contract"]
    trace = rpc.call("ots_traceTransaction", history["poke"])
    assert [(t["type"], t["depth"], t["from"], t["value"]) for t in trace] == [
        ("CALL", 0, history["me"], "0x10"), ("CALL", 1, contract, "0x1"),
        ("CREATE", 1, contract, "0x0")]
    assert trace[1]["to"] == SINK and trace[0]["input"] == "0x"
    created = trace[2]["to"]
    # erigon's reading: the transaction's own value is not an internal operation (anvil
    # lists it first)
    assert rpc.call("ots_getInternalOperations", history["poke"]) == [
        {"type": TRANSFER, "from": contract, "to": SINK, "value": "0x1"},
        {"type": CREATE, "from": contract, "to": created, "value": "0x0"}]
    assert rpc.call("ots_getTransactionError", history["failed"]) == "0x01"
    assert rpc.call("ots_getTransactionError", history["poke"]) == "0x"
    assert rpc.call("ots_traceTransaction", "0x" + "00" * 32) is None
    assert rpc.call("ots_getContractCreator", contract) == {"hash": history["deploy"],
                                                            "creator": history["me"]}
    assert rpc.call("ots_getContractCreator", created) == {"hash": history["poke"],
                                                           "creator": contract}
    assert rpc.call("ots_getContractCreator", REVERTER) is None  # installed by a state edit
    assert rpc.call("ots_getContractCreator", history["me"]) is None


def test_block_details_and_pages(history: dict[str, Any]) -> None:
    rpc = history["rpc"]
    receipt = rpc.call("eth_getTransactionReceipt", history["poke"])
    number = int(receipt["blockNumber"], 16)
    details = rpc.call("ots_getBlockDetails", number)
    block = rpc.call("eth_getBlockByNumber", receipt["blockNumber"], False)
    assert "transactions" not in details["block"] and details["block"]["transactionCount"] == 1
    assert details["block"]["hash"] == block["hash"]
    assert details["issuance"] == {"blockReward": "0x0", "uncleReward": "0x0",
                                   "issuance": "0x0"}  # after the merge
    fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert details["totalFees"] == hex(fee)
    assert rpc.call("ots_getBlockDetailsByHash", block["hash"]) == details
    page = rpc.call("ots_getBlockTransactions", number, 0, 10)
    assert [t["hash"] for t in page["fullblock"]["transactions"]] == [history["poke"]]
    assert page["receipts"][0]["transactionHash"] == history["poke"]
    assert rpc.call("ots_getBlockTransactions", number, 1, 10)["receipts"] == []
    assert rpc.call("ots_getBlockDetails", 10_000) is None


def test_address_history(history: dict[str, Any]) -> None:
    rpc, me = history["rpc"], history["me"]
    everything = [history["deploy"], history["poke"], history["failed"],
                  *history["transfers"]][::-1]  # newest first
    head = int(rpc.call("eth_blockNumber"), 16)
    first = rpc.call("ots_searchTransactionsBefore", me, 0, 2)
    assert [t["hash"] for t in first["txs"]] == everything[:2]
    assert (first["firstPage"], first["lastPage"]) == (True, False)
    assert first["receipts"][0]["timestamp"] == \
        rpc.call("eth_getBlockByNumber", first["txs"][0]["blockNumber"], False)["timestamp"]
    rest = rpc.call("ots_searchTransactionsBefore", me, head - 1, 100)
    assert [t["hash"] for t in rest["txs"]] == everything[2:]
    assert (rest["firstPage"], rest["lastPage"]) == (False, True)
    oldest = rpc.call("ots_searchTransactionsAfter", me, 0, 2)
    assert [t["hash"] for t in oldest["txs"]] == everything[-2:]  # answered newest first
    assert (oldest["firstPage"], oldest["lastPage"]) == (False, True)
    newest = rpc.call("ots_searchTransactionsAfter", me, head - 1, 1)
    assert [t["hash"] for t in newest["txs"]] == everything[:1]
    assert newest["firstPage"] is True
    assert rpc.call("ots_searchTransactionsBefore", history["contract"], 0, 10)["txs"][-1][
        "hash"] == history["deploy"]  # the creation counts for the created address
    assert rpc.call("ots_getTransactionBySenderAndNonce", me, 1) == history["poke"]
    assert rpc.call("ots_getTransactionBySenderAndNonce", me, 99) is None
