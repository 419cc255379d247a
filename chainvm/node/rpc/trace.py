"""trace_: OpenEthereum's (parity's) flat call traces, as anvil and erigon serve them.

Each message of a transaction is one entry: `action` (what was asked), `result` (gas used
and output, or the created address and code) or `error`, `subtraces` (its direct
children), `traceAddress` (its path from the top message) and the transaction's position.
The top message's gas leaves out the intrinsic gas, as parity counts it.
"""

from __future__ import annotations

from typing import Any

from chainvm.chain.chain import StoredBlock
from chainvm.evm.transaction import TxResult, intrinsic_gas
from chainvm.node.rpc.base import Namespace, bounded
from chainvm.node.rpc.format import d, q
from chainvm.node.rpc.params import (
    LATEST,
    BlockRef,
    CallObject,
    Hash,
    InvalidParams,
    Raw,
    parse_address,
    parse_block_id,
    parse_number,
    parse_object,
)
from chainvm.node.tracing import CallTracer, PrestateTracer
from chainvm.state.state import State

# Blocks one trace_filter may replay: each transaction in them is run again.
MAX_FILTER_BLOCKS = 10_000
# Traces one trace_filter may answer without `count` (an answer is held whole).
MAX_FILTER_TRACES = 100_000
# The fields of a trace that place it in the chain (left out of a replay's traces).
_PLACEMENT = ("blockHash", "blockNumber", "transactionHash", "transactionPosition")

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
        return self.flat_traces(stored, index)

    def trace_block(self, block: BlockRef) -> list[dict[str, Any]] | None:
        stored = self.maybe_block(block)
        if stored is None:
            return None
        out: list[dict[str, Any]] = []
        for index in range(len(stored.block.transactions)):
            out.extend(self.flat_traces(stored, index))
        return out

    @bounded
    def trace_filter(self, criteria: Raw) -> list[dict[str, Any]]:
        """The traces of blocks fromBlock..toBlock (default: all) whose sender is in
        fromAddress or whose target is in toAddress (either list absent: no condition on
        it; both absent: every trace), then `after` skipped and `count` kept, as parity,
        reth and anvil filter them."""
        opts = parse_object(criteria, "invalid argument 0")
        head = self.dev.head.number
        first = self._filter_block(opts.get("fromBlock"), "fromBlock", 0)
        last = min(self._filter_block(opts.get("toBlock"), "toBlock", head), head)
        if first > last:
            raise InvalidParams("invalid block range, ensure that to block is greater than "
                                "from block")
        if last - first >= MAX_FILTER_BLOCKS:
            raise InvalidParams(f"block range too large: at most {MAX_FILTER_BLOCKS} blocks")
        senders = self._addresses(opts.get("fromAddress"), "fromAddress")
        targets = self._addresses(opts.get("toAddress"), "toAddress")
        after = parse_number(opts.get("after") or 0, "invalid argument 0: after")
        count = opts.get("count")
        keep = None if count is None else parse_number(count, "invalid argument 0: count")
        out: list[dict[str, Any]] = []
        # enough found: the page asked for, or past what one answer may hold
        enough = after + keep if keep is not None else after + MAX_FILTER_TRACES + 1
        remote = self.dev.remote
        for number in range(max(first, remote.number if remote is not None else 0), last + 1):
            stored = self.dev.chain.get_block_by_number(number)
            if stored is None:
                continue
            for index in range(len(stored.block.transactions)):
                for trace in self.flat_traces(stored, index):
                    if (senders is None and targets is None) or _matches(trace, senders,
                                                                         targets):
                        out.append(trace)
            if len(out) >= enough:
                break
        if keep is None and len(out) - after > MAX_FILTER_TRACES:
            raise InvalidParams(f"more than {MAX_FILTER_TRACES} traces match: narrow the block "
                                "range or the addresses, or page with after and count")
        return out[after:] if keep is None else out[after:after + keep]

    def _filter_block(self, value: Any, what: str, default: int) -> int:
        if value is None:
            return default
        return self.number(parse_block_id(value, f"invalid argument 0: {what}"))

    @staticmethod
    def _addresses(value: Any, what: str) -> set[str] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise InvalidParams(f"invalid argument 0: {what}: expected a list of addresses")
        return {d(parse_address(a, f"invalid argument 0: {what}")) for a in value}

    @bounded
    def trace_call(self, tx: CallObject, kinds: Raw, block: BlockRef = LATEST
                   ) -> dict[str, Any]:
        """reth's, erigon's and OpenEthereum's: a call run on `block`'s state (nothing kept),
        answered as trace_replayTransaction answers (output, `trace`, `stateDiff`)."""
        wanted = _replay_kinds(kinds)
        self.capped(self.check_chain_id(tx))
        state, env, fork = self.call_context(block)
        base = state if state is not None else self.dev.state()
        # One run for each kind asked for (a plain one for the output if none is), each on
        # its own copy of the state, kept as the post state the answer reads.
        traces: list[dict[str, Any]] = []
        state_diff = None
        result = None
        if "trace" in wanted:
            tracer = CallTracer()
            post = base.copy()
            result = self.dev.execute(tx, post, env, fork, tracer=tracer, commit=True)
            root = tracer.result(result, {"type": "CALL" if tx.to else "CREATE",
                                          "from": d(tx.sender or bytes(20))})
            gas = tx.gas if tx.gas is not None else env.gas_limit
            intrinsic = self.dev.call_intrinsic_gas(tx, fork)
            self._flatten(root, [], traces, {}, post,
                          top_gas=(gas - intrinsic, result.gas_used - intrinsic))
        if "stateDiff" in wanted:
            diff = _touching(tx.sender or bytes(20), env.coinbase, tx.to)
            post = base.copy()
            result = self.dev.execute(tx, post, env, fork, tracer=diff, commit=True)
            state_diff = _state_diff(diff, base, post)
        if result is None:
            result = self.dev.execute(tx, base, env, fork)
        return {"output": d(result.output), "stateDiff": state_diff, "trace": traces,
                "vmTrace": None}

    @bounded
    def trace_replayTransaction(self, tx_hash: Hash, kinds: Raw) -> dict[str, Any] | None:
        """The transaction run again: its output and, as asked in `kinds`, its `trace`
        (trace_transaction's, without the block fields) and `stateDiff` (parity's: each
        changed account's balance, nonce, code and slots as "=", {"+": new}, {"-": old} or
        {"*": {"from", "to"}}); `vmTrace` is not served."""
        wanted = _replay_kinds(kinds)
        found = self.dev.chain.get_transaction(tx_hash)
        if found is None:
            return None
        _tx, _receipt, stored, index = found
        replay = self._replay(stored, index, wanted)
        replay.pop("transactionHash")
        return replay

    @bounded
    def trace_replayBlockTransactions(self, block: BlockRef, kinds: Raw
                                      ) -> list[dict[str, Any]] | None:
        """trace_replayTransaction for each transaction of the block, with its hash."""
        wanted = _replay_kinds(kinds)
        stored = self.maybe_block(block)
        if stored is None:
            return None
        return [self._replay(stored, index, wanted)
                for index in range(len(stored.block.transactions))]

    def _replay(self, stored: StoredBlock, index: int, wanted: set[str]) -> dict[str, Any]:
        """One replay for each kind asked for (a plain one for the output if none is)."""
        tx = stored.block.transactions[index]
        traces: list[dict[str, Any]] = []
        state_diff = None
        result = None
        if "trace" in wanted:
            placed, result = self._traced(stored, index)
            traces = [{k: v for k, v in t.items() if k not in _PLACEMENT} for t in placed]
        if "stateDiff" in wanted:
            states: list[State] = []
            diff = _touching(self.dev.sender_of(tx), stored.header.coinbase, tx.to)
            result = self.dev.replay(stored, index, diff, states)
            state_diff = _state_diff(diff, *states)
        if result is None:
            result = self.dev.replay(stored, index, None)
        return {"output": d(result.output), "stateDiff": state_diff, "trace": traces,
                "vmTrace": None, "transactionHash": d(tx.hash)}

    def flat_traces(self, stored: StoredBlock, index: int) -> list[dict[str, Any]]:
        """Transaction `index` of the block as parity's flat traces (trace_transaction's;
        geth's flatCallTracer writes the same)."""
        return self._traced(stored, index)[0]

    def _traced(self, stored: StoredBlock, index: int) -> tuple[list[dict[str, Any]], TxResult]:
        """flat_traces, and the execution they come from."""
        tx = stored.block.transactions[index]
        tracer = CallTracer()
        result = self.dev.replay(stored, index, tracer)
        root = tracer.result(result)
        sender = self.dev.sender_of(tx)
        intrinsic = intrinsic_gas(tx.to_evm(sender), stored.fork)
        common = {"blockHash": d(stored.hash), "blockNumber": stored.number,
                  "transactionHash": d(tx.hash), "transactionPosition": index}
        out: list[dict[str, Any]] = []
        self._flatten(root, [], out, common, stored.state, top_gas=(tx.gas_limit - intrinsic,
                                                               result.gas_used - intrinsic))
        return out, result

    def _flatten(self, frame: dict[str, Any], path: list[int], out: list[dict[str, Any]],
                 common: dict[str, Any], post: State,
                 top_gas: tuple[int, int] | None = None) -> None:
        """One message of the call tree as parity's trace, then its children; `post` is the
        state after the transaction (a created contract's code is read there)."""
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
                                   "code": d(bytes(post.code(address)))}
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
            self._flatten(child, [*path, i], out, common, post)


def _touching(*addresses: bytes | None) -> PrestateTracer:
    """A tracer of the accounts and slots a transaction touches, the given ones among them
    (the sender, the coinbase and the target, which a stateDiff shows when they change)."""
    tracer = PrestateTracer()
    for address in addresses:
        if address is not None:
            tracer.touch(address)
    return tracer


def _matches(trace: dict[str, Any], senders: set[str] | None, targets: set[str] | None
             ) -> bool:
    action = trace["action"]
    if trace["type"] == "suicide":
        sender, target = action.get("address"), action.get("refundAddress")
    elif trace["type"] == "create":
        sender, target = action.get("from"), (trace.get("result") or {}).get("address")
    else:
        sender, target = action.get("from"), action.get("to")
    return bool((senders is not None and sender in senders)
                or (targets is not None and target in targets))


def _replay_kinds(kinds: Any) -> set[str]:
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise InvalidParams("invalid argument 1: expected a list of trace types "
                            "(trace, stateDiff)")
    wanted = set(kinds)
    if "vmTrace" in wanted:
        raise InvalidParams("invalid argument 1: vmTrace is not served (trace, stateDiff); "
                            "debug_traceTransaction has every step")
    unknown = wanted - {"trace", "stateDiff"}
    if unknown:
        raise InvalidParams(f"invalid argument 1: unknown trace type {min(unknown)!r}")
    return wanted


def _change(before: Any, after: Any) -> Any:
    """parity's notation for one field: unchanged, born, died or altered."""
    if before == after:
        return "="
    if before is None:
        return {"+": after}
    if after is None:
        return {"-": before}
    return {"*": {"from": before, "to": after}}


def _fields(state: State, address: bytes) -> tuple[Any, Any, Any]:
    """(balance, nonce, code) of an account as parity writes them; Nones if it is absent."""
    if state.get(address) is None:
        return None, None, None
    return q(state.balance(address)), q(state.nonce(address)), d(bytes(state.code(address)))


def _state_diff(touched: PrestateTracer, pre: State, post: State) -> dict[str, Any]:
    """parity's stateDiff of the accounts the transaction touched that changed."""
    out: dict[str, Any] = {}
    for address, slots in sorted(touched.touched.items()):
        old, new = pre.get(address), post.get(address)
        if old is None and new is None:
            continue
        before, after = _fields(pre, address), _fields(post, address)
        storage = {}
        for slot in sorted(slots):
            was = pre.get_storage(address, slot) if old is not None else None
            now = post.get_storage(address, slot) if new is not None else None
            if was != now:
                storage[f"0x{slot:064x}"] = _change(
                    None if was is None else f"0x{was:064x}",
                    None if now is None else f"0x{now:064x}")
        if before == after and not storage:
            continue
        out[d(address)] = {"balance": _change(before[0], after[0]),
                           "code": _change(before[2], after[2]),
                           "nonce": _change(before[1], after[1]), "storage": storage}
    return out
