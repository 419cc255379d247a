"""trace_: OpenEthereum's (parity's) flat call traces, as anvil and erigon serve them.

Each message of a transaction is one entry: `action` (what was asked), `result` (gas used
and output, or the created address and code) or `error`, `subtraces` (its direct
children), `traceAddress` (its path from the top message) and the transaction's position.
The top message's gas leaves out the intrinsic gas, as parity counts it.
"""

from __future__ import annotations

from typing import Any

from chainvm.chain.chain import StoredBlock
from chainvm.evm.transaction import intrinsic_gas
from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.format import d, q
from chainvm.node.rpc.params import BlockRef, Hash
from chainvm.node.tracing import CallTracer

_CALL_TYPES = {"CALL": "call", "CALLCODE": "callcode", "DELEGATECALL": "delegatecall",
               "STATICCALL": "staticcall"}


def _error(message: str) -> str:
    return "Reverted" if message == "execution reverted" else message


class TraceApi(Namespace):
    prefixes = ("trace_",)

    def trace_transaction(self, tx_hash: Hash) -> list[dict[str, Any]] | None:
        found = self.dev.chain.get_transaction(tx_hash)
        if found is None:
            return None
        _tx, _receipt, stored, index = found
        return self._traces(stored, index)

    def trace_block(self, block: BlockRef) -> list[dict[str, Any]] | None:
        stored = self.maybe_block(block)
        if stored is None:
            return None
        out: list[dict[str, Any]] = []
        for index in range(len(stored.block.transactions)):
            out.extend(self._traces(stored, index))
        return out

    def _traces(self, stored: StoredBlock, index: int) -> list[dict[str, Any]]:
        tx = stored.block.transactions[index]
        tracer = CallTracer()
        result = self.dev.replay(stored, index, tracer)
        root = tracer.result(result)
        sender = self.dev.sender_of(tx)
        intrinsic = intrinsic_gas(tx.to_evm(sender), stored.fork)
        common = {"blockHash": d(stored.hash), "blockNumber": stored.number,
                  "transactionHash": d(tx.hash), "transactionPosition": index}
        out: list[dict[str, Any]] = []
        self._flatten(root, [], out, common, stored, top_gas=(tx.gas_limit - intrinsic,
                                                               result.gas_used - intrinsic))
        return out

    def _flatten(self, frame: dict[str, Any], path: list[int], out: list[dict[str, Any]],
                 common: dict[str, Any], stored: StoredBlock,
                 top_gas: tuple[int, int] | None = None) -> None:
        children = frame.get("calls", [])
        gas = int(frame.get("gas", "0x0"), 16)
        used = int(frame.get("gasUsed", "0x0"), 16)
        if top_gas is not None:
            gas, used = top_gas
        kind = frame.get("type", "CALL")
        entry: dict[str, Any] = {}
        if kind in ("CREATE", "CREATE2"):
            entry["type"] = "create"
            entry["action"] = {"from": frame["from"], "gas": q(gas),
                               "init": frame.get("input", "0x"),
                               "value": frame.get("value", "0x0"),
                               "creationMethod": kind.lower()}
            if "error" not in frame:
                address = bytes.fromhex(frame["to"][2:])
                entry["result"] = {"address": frame["to"], "gasUsed": q(used),
                                   "code": d(bytes(stored.state.code(address)))}
        elif kind == "SELFDESTRUCT":
            entry["type"] = "suicide"
            entry["action"] = {"address": frame["from"], "refundAddress": frame.get("to"),
                               "balance": frame.get("value", "0x0")}
            entry["result"] = None
        else:
            entry["type"] = "call"
            entry["action"] = {"from": frame["from"], "callType": _CALL_TYPES.get(kind, "call"),
                               "gas": q(gas), "input": frame.get("input", "0x"),
                               "to": frame.get("to"), "value": frame.get("value", "0x0")}
            # a revert keeps its result, the revert data as output, as anvil and reth
            # write it; other failures (out of gas, invalid opcode) have none
            if "error" not in frame or frame["error"] == "execution reverted":
                entry["result"] = {"gasUsed": q(used), "output": frame.get("output", "0x")}
        if "error" in frame:
            entry["error"] = _error(frame["error"])
        entry["subtraces"] = len(children)
        entry["traceAddress"] = list(path)
        entry.update(common)
        out.append(entry)
        for i, child in enumerate(children):
            self._flatten(child, [*path, i], out, common, stored)
