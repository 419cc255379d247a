"""trace_filter, trace_replayTransaction and trace_replayBlockTransactions over a small
history (a creation, two calls that send ether on, a transfer), filtered and paged as
parity, reth and anvil 1.7.1 answer the same requests."""

from __future__ import annotations

from typing import Any

import pytest

from chainvm.node.devchain import DevChain, NodeError
from chainvm.node.rpc import INVALID_PARAMS, Rpc

SINK = "0x" + "aa" * 20
RUNTIME = bytes.fromhex("6000600060006000600173" + "aa" * 20 + "5af15000")  # CALL SINK, 1 wei
INIT = bytes.fromhex(f"60{len(RUNTIME):02x}600c60003960{len(RUNTIME):02x}6000f3") + RUNTIME


@pytest.fixture(scope="module")
def chain() -> dict[str, Any]:
    rpc = Rpc(DevChain(fork="Prague", accounts=4))
    a = rpc.call("eth_accounts")
    deploy = rpc.call("eth_sendTransaction", {"from": a[0], "data": "0x" + INIT.hex()})
    contract = rpc.call("eth_getTransactionReceipt", deploy)["contractAddress"]
    calls = [rpc.call("eth_sendTransaction", {"from": a[1], "to": contract, "value": "0x10",
                                              "gas": "0x100000"}) for _ in range(2)]
    transfer = rpc.call("eth_sendTransaction", {"from": a[2], "to": a[3], "value": "0x1"})
    return {"rpc": rpc, "a": a, "contract": contract, "calls": calls, "transfer": transfer}


def _shape(traces: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(t["blockNumber"], t["action"].get("from"), t["action"].get("to"),
             t["traceAddress"]) for t in traces]


def test_filter_by_blocks_addresses_and_page(chain: dict[str, Any]) -> None:
    rpc, a, contract = chain["rpc"], chain["a"], chain["contract"]
    everything = [(1, a[0], None, []), (2, a[1], contract, []), (2, contract, SINK, [0]),
                  (3, a[1], contract, []), (3, contract, SINK, [0]), (4, a[2], a[3], [])]
    assert _shape(rpc.call("trace_filter", {})) == everything
    assert _shape(rpc.call("trace_filter", {"fromBlock": "0x2", "toBlock": "0x99"})) == \
        everything[1:]
    assert _shape(rpc.call("trace_filter", {"fromAddress": [a[1]]})) == \
        [everything[1], everything[3]]
    assert _shape(rpc.call("trace_filter", {"toAddress": [SINK]})) == \
        [everything[2], everything[4]]
    # both lists: either one matching keeps a trace (parity's default, union)
    assert _shape(rpc.call("trace_filter", {"fromAddress": [a[1]], "toAddress": [SINK]})) == \
        everything[1:5]
    assert _shape(rpc.call("trace_filter", {"after": 1, "count": 2})) == everything[1:3]
    from chainvm.node.rpc import trace as trace_module

    cap = trace_module.MAX_FILTER_TRACES
    try:  # an answer without count holds at most MAX_FILTER_TRACES traces
        trace_module.MAX_FILTER_TRACES = 5
        with pytest.raises(NodeError, match="more than 5 traces match"):
            rpc.call("trace_filter", {})
        assert len(rpc.call("trace_filter", {"after": 1})) == 5
        assert _shape(rpc.call("trace_filter", {"count": 6})) == everything
    finally:
        trace_module.MAX_FILTER_TRACES = cap
    creation = rpc.call("trace_filter", {"toAddress": [contract], "toBlock": "0x1"})
    assert [t["type"] for t in creation] == ["create"]  # a creation's target: the new address
    with pytest.raises(NodeError) as bad:
        rpc.call("trace_filter", {"fromBlock": "0x4", "toBlock": "0x2"})
    assert bad.value.code == INVALID_PARAMS and "invalid block range" in str(bad.value)
    for criteria in ({"fromAddress": "0x12"}, {"toAddress": ["0x12"]}, []):
        with pytest.raises(NodeError) as bad:
            rpc.call("trace_filter", criteria)
        assert bad.value.code == INVALID_PARAMS


def test_replays(chain: dict[str, Any]) -> None:
    rpc, a, contract = chain["rpc"], chain["a"], chain["contract"]
    replay = rpc.call("trace_replayTransaction", chain["calls"][0], ["trace", "stateDiff"])
    assert replay["output"] == "0x" and replay["vmTrace"] is None
    block_fields = {"blockHash", "blockNumber", "transactionHash", "transactionPosition"}
    assert replay["trace"] == [{k: v for k, v in t.items() if k not in block_fields}
                               for t in rpc.call("trace_transaction", chain["calls"][0])]
    diff = replay["stateDiff"]
    assert diff[contract]["balance"] == {"*": {"from": "0x0", "to": "0xf"}}
    assert diff[SINK] == {"balance": {"+": "0x1"}, "code": {"+": "0x"}, "nonce": {"+": "0x0"},
                          "storage": {}}  # it did not exist before: parity's "+"
    assert diff[a[1]]["nonce"] == {"*": {"from": "0x0", "to": "0x1"}}
    assert diff[a[1]]["code"] == "="
    only_trace = rpc.call("trace_replayBlockTransactions", "0x2", ["trace"])
    assert [r["transactionHash"] for r in only_trace] == [chain["calls"][0]]
    assert only_trace[0]["stateDiff"] is None and only_trace[0]["trace"] == replay["trace"]
    assert rpc.call("trace_replayTransaction", "0x" + "00" * 32, ["trace"]) is None
    for kinds in (["vmTrace"], ["nope"], "trace"):
        with pytest.raises(NodeError) as bad:
            rpc.call("trace_replayBlockTransactions", "0x2", kinds)
        assert bad.value.code == INVALID_PARAMS


def test_trace_call(chain: dict[str, Any]) -> None:
    """trace_call (reth's, erigon's): the mined call's request run again on its parent
    block's state gives the mined transaction's traces; nothing is kept."""
    rpc, a, contract = chain["rpc"], chain["a"], chain["contract"]
    request = {"from": a[1], "to": contract, "value": "0x10", "gas": "0x100000"}
    mined = rpc.call("trace_replayTransaction", chain["calls"][0], ["trace"])
    head = rpc.call("eth_blockNumber")
    answer = rpc.call("trace_call", request, ["trace", "stateDiff"], "0x1")
    assert answer["trace"] == mined["trace"] and answer["vmTrace"] is None
    assert answer["stateDiff"][SINK]["balance"] == {"+": "0x1"}
    assert rpc.call("eth_blockNumber") == head  # nothing kept
    assert rpc.call("eth_getBalance", SINK, "latest") == "0x2"  # the two mined calls
    create = rpc.call("trace_call", {"from": a[0], "data": "0x" + INIT.hex()}, ["trace"])
    assert [t["type"] for t in create["trace"]] == ["create"]
    assert create["trace"][0]["result"]["code"] == "0x" + RUNTIME.hex()
    assert create["stateDiff"] is None
    with pytest.raises(NodeError) as bad:
        rpc.call("trace_call", request, ["vmTrace"])
    assert bad.value.code == INVALID_PARAMS
