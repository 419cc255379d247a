"""debug_: geth's struct-log and call tracers over transactions and calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainvm.evm.transaction import TxResult
from chainvm.node.devchain import NodeError, StepCollector
from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.format import addr_out, d, q
from chainvm.node.rpc.params import LATEST, BlockRef, CallObject, Hash, Raw
from chainvm.node.tracing import CallTracer

Run = Callable[[Any], TxResult]


class DebugApi(Namespace):
    prefixes = ("debug_",)

    def debug_traceTransaction(self, tx_hash: Hash, options: Raw = None) -> Any:
        found = self.dev.chain.get_transaction(tx_hash)
        if found is None:
            raise NodeError("transaction not found", -32000)
        tx, _r, stored, index = found
        top = {"type": "CALL" if tx.to else "CREATE", "from": d(self.dev.sender_of(tx)),
               "to": addr_out(tx.to), "value": q(tx.value), "gas": q(tx.gas_limit),
               "input": d(tx.data)}
        return self._trace(lambda tracer: self.dev.replay(stored, index, tracer), options, top)

    def debug_traceCall(self, tx: CallObject, block: BlockRef = LATEST,
                        options: Raw = None) -> Any:
        self.check_chain_id(tx)
        state = self.call_state(block)
        top = {"type": "CALL" if tx.to else "CREATE", "from": d(tx.sender or bytes(20)),
               "to": addr_out(tx.to), "value": q(tx.value), "input": d(tx.data)}
        return self._trace(lambda tracer: self.dev.execute(tx, state, tracer=tracer), options,
                           top)

    def _trace(self, run: Run, options: Any, top: dict[str, Any]) -> Any:
        opts = options if isinstance(options, dict) else {}
        tracer_name = opts.get("tracer")
        cfg = opts.get("tracerConfig") or {}
        if tracer_name == "callTracer":
            tracer = CallTracer(only_top=bool(cfg.get("onlyTopCall")),
                                with_logs=bool(cfg.get("withLog")))
            result = run(tracer)
            root = tracer.result(result, top)
            root.update({k: v for k, v in top.items() if k in ("from", "gas", "input")})
            return root
        if tracer_name not in (None, "", "structLogger"):
            raise NodeError(f"tracer {tracer_name} not supported (structLogger, callTracer)",
                            -32000)
        collector = StepCollector(memory=bool(opts.get("enableMemory")),
                                  stack=not opts.get("disableStack"),
                                  storage=not opts.get("disableStorage"),
                                  limit=int(opts.get("limit") or 0))
        result = run(collector)
        return {"gas": result.gas_used, "failed": not result.success,
                "returnValue": result.output.hex(), "structLogs": collector.logs}
