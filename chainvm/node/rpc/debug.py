"""debug_: geth's struct-log and call tracers over transactions and calls."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from chainvm.chain.chain import StoredBlock
from chainvm.evm.transaction import TxResult
from chainvm.node.devchain import NodeError, StepCollector
from chainvm.node.rpc.base import Namespace, bounded
from chainvm.node.rpc.format import addr_out, d, q
from chainvm.node.rpc.params import (
    LATEST,
    BlockRef,
    CallObject,
    Hash,
    InvalidParams,
    Raw,
    parse_object,
)
from chainvm.node.tracing import CallTracer, FourByteTracer, PrestateTracer
from chainvm.state.state import State

Run = Callable[..., TxResult]  # (tracer, states=None): states gets pre and post copies

# Bytes of JSON a struct log takes, roughly: the fixed fields, a stack item, a memory
# word, a storage entry.
_LOG_BYTES, _STACK_ITEM_BYTES, _WORD_BYTES, _SLOT_BYTES = 100, 70, 70, 140


class TraceTooLarge(NodeError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"trace larger than {max_bytes} bytes: narrow it with the limit, "
                         "disableStack or disableStorage options, or trace less gas", -32000)


class BoundedStepCollector(StepCollector):
    """The struct logger, stopped with TraceTooLarge once its records pass `max_bytes`
    (they are counted as they are made, before the answer is built)."""

    def __init__(self, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_bytes = max_bytes
        self.size = 0

    def step(self, *args: Any) -> None:
        count = len(self.logs)
        super().step(*args)
        if len(self.logs) == count:
            return
        record = self.logs[-1]
        self.size += (_LOG_BYTES + _STACK_ITEM_BYTES * len(record.get("stack", ()))
                      + _WORD_BYTES * len(record.get("memory", ()))
                      + _SLOT_BYTES * len(record.get("storage", ())))
        if self.size > self.max_bytes:
            self.logs.clear()
            raise TraceTooLarge(self.max_bytes)


class DebugApi(Namespace):
    prefixes = ("debug_",)

    def debug_codeByHash(self, code_hash: Hash, block: BlockRef = LATEST) -> str:
        """The code with that hash among the accounts at `block` ("0x" if none has it), as
        geth and anvil answer."""
        return d(self.dev.code_by_hash(code_hash, self.state_at(block)))

    @bounded
    def debug_traceTransaction(self, tx_hash: Hash, options: Raw = None) -> Any:
        found = self.dev.chain.get_transaction(tx_hash)
        if found is None:
            raise NodeError("transaction not found", -32000)
        _tx, _r, stored, index = found
        return self._trace_mined(stored, index, options)

    def debug_getRawHeader(self, block: BlockRef) -> str:
        """geth's: the block header's RLP."""
        return d(self.block(block).header.encode())

    def debug_getRawBlock(self, block: BlockRef) -> str:
        """geth's: the block's RLP (header, transactions, uncles, withdrawals)."""
        return d(self.block(block).block.encode())

    def debug_getRawReceipts(self, block: BlockRef) -> list[str]:
        """geth's: each receipt's consensus encoding (typed ones with their type byte)."""
        return [d(receipt.encode()) for receipt in self.block(block).receipts]

    def debug_getRawTransaction(self, tx_hash: Hash) -> str | None:
        """geth's: a mined transaction's encoding (null if unknown)."""
        found = self.dev.chain.get_transaction(tx_hash)
        return d(found[0].encode()) if found is not None else None

    @bounded
    def debug_traceBlockByNumber(self, block: BlockRef, options: Raw = None) -> Any:
        """geth's: each transaction of the block traced, as [{txHash, result}]."""
        return self._trace_block(self.block(block), options)

    @bounded
    def debug_traceBlockByHash(self, block_hash: Hash, options: Raw = None) -> Any:
        stored = self.dev.chain.get_canonical_block(block_hash)
        if stored is None:
            raise NodeError(f"block {d(block_hash)} not found", -32000)
        return self._trace_block(stored, options)

    def _trace_block(self, stored: StoredBlock, options: Any) -> list[dict[str, Any]]:
        return [{"txHash": d(tx.hash), "result": self._trace_mined(stored, index, options)}
                for index, tx in enumerate(stored.block.transactions)]

    def _trace_mined(self, stored: StoredBlock, index: int, options: Any) -> Any:
        """Transaction `index` of a mined block, replayed on its parent's state under the
        tracer `options` ask for."""
        tx = stored.block.transactions[index]
        top = {"type": "CALL" if tx.to else "CREATE", "from": d(self.dev.sender_of(tx)),
               "to": addr_out(tx.to), "value": q(tx.value), "gas": q(tx.gas_limit),
               "input": d(tx.data)}
        extra = [self.dev.sender_of(tx), stored.header.coinbase]
        if tx.to is not None:
            extra.append(tx.to)

        def run(tracer: Any, states: list[State] | None = None) -> TxResult:
            return self.dev.replay(stored, index, tracer, states)

        if isinstance(options, dict) and options.get("tracer") == "flatCallTracer":
            # geth's flatCallTracer writes parity's flat traces: trace_transaction's
            from chainvm.node.rpc.trace import TraceApi

            return TraceApi(self.dev, self.options).flat_traces(stored, index)
        return self._trace(run, options, top, extra, stored.fork.precompiles)

    @bounded
    def debug_traceCall(self, tx: CallObject, block: BlockRef = LATEST,
                        options: Raw = None) -> Any:
        self.capped(self.check_chain_id(tx))
        # geth's TraceCallConfig: the trace options plus state and block overrides
        opts = options if isinstance(options, dict) else {}
        state, env, fork = self.overridden_context(
            tx, block, opts.get("stateOverrides"), opts.get("blockOverrides"),
            ("invalid argument 2: stateOverrides", "invalid argument 2: blockOverrides"))
        top = {"type": "CALL" if tx.to else "CREATE", "from": d(tx.sender or bytes(20)),
               "to": addr_out(tx.to), "value": q(tx.value), "input": d(tx.data)}
        def run(tracer: Any, states: list[State] | None = None) -> TxResult:
            if states is None:
                return self.dev.execute(tx, state, env, fork, tracer=tracer)
            work = (state or self.dev.state()).copy()
            states.append(work.copy())
            result = self.dev.execute(tx, work, env, fork, tracer=tracer, commit=True)
            states.append(work)
            return result

        extra = [tx.sender or bytes(20)] + ([tx.to] if tx.to is not None else [])
        return self._trace(run, options, top, extra, fork.precompiles)

    def _trace(self, run: Run, options: Any, top: dict[str, Any],
               extra: list[bytes] | None = None, precompiles: Collection[bytes] = ()) -> Any:
        if options is not None and not isinstance(options, dict):
            raise InvalidParams("invalid argument: trace options: expected an object")
        opts = options or {}
        tracer_name = opts.get("tracer")
        # Checked here: the tracers below read it with .get, which a string or list lacks.
        raw_cfg = opts.get("tracerConfig")
        cfg = {} if raw_cfg is None else parse_object(
            raw_cfg, "invalid argument: trace options: tracerConfig")
        if tracer_name == "prestateTracer":
            prestate = PrestateTracer()
            for address in extra or []:
                prestate.touch(address)
            states: list[State] = []
            run(prestate, states)
            pre, post = states
            if cfg.get("diffMode"):
                return prestate.diff(pre, post)
            return prestate.prestate(pre)
        if tracer_name == "callTracer":
            tracer = CallTracer(only_top=bool(cfg.get("onlyTopCall")),
                                with_logs=bool(cfg.get("withLog")))
            result = run(tracer)
            root = tracer.result(result, top)
            root.update({k: v for k, v in top.items() if k in ("from", "gas", "input")})
            return root
        if tracer_name == "4byteTracer":
            four_bytes = FourByteTracer(precompiles)
            run(four_bytes)
            return four_bytes.counts
        if tracer_name == "noopTracer":
            return {}
        if tracer_name == "muxTracer":  # geth's: each tracer named in the config, one run each
            out = {}
            for name, sub_config in cfg.items():
                if name == "muxTracer":
                    raise InvalidParams("invalid argument: trace options: a muxTracer "
                                        "cannot hold another")
                out[name] = self._trace(run, {"tracer": name, "tracerConfig": sub_config},
                                        top, extra, precompiles)
            return out
        if tracer_name not in (None, "", "structLogger"):
            raise NodeError(f"tracer {tracer_name} not supported (structLogger, callTracer, "
                            "prestateTracer, 4byteTracer, noopTracer, muxTracer; "
                            "flatCallTracer for mined transactions)", -32000)
        limit = opts.get("limit") or 0
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidParams("invalid argument: trace options: limit must be a "
                                "non-negative integer")
        collector = BoundedStepCollector(self.options.max_trace_bytes,
                                         memory=bool(opts.get("enableMemory")),
                                         stack=not opts.get("disableStack"),
                                         storage=not opts.get("disableStorage"), limit=limit)
        result = run(collector)
        # returnValue 0x-prefixed, as geth writes it since 2025 (go-ethereum#31196) and
        # anvil does
        return {"gas": result.gas_used, "failed": not result.success,
                "returnValue": "0x" + result.output.hex(), "structLogs": collector.logs}
