"""debug_: geth's struct-log and call tracers over transactions and calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainvm.evm.transaction import TxResult
from chainvm.node.devchain import NodeError, StepCollector
from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.format import addr_out, d, q
from chainvm.node.rpc.params import LATEST, BlockRef, CallObject, Hash, Raw
from chainvm.node.tracing import CallTracer, PrestateTracer
from chainvm.state.state import State

Run = Callable[..., TxResult]  # (tracer, states=None): states gets pre and post copies


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
        extra = [self.dev.sender_of(tx), stored.header.coinbase]
        if tx.to is not None:
            extra.append(tx.to)

        def run(tracer: Any, states: list[State] | None = None) -> TxResult:
            return self.dev.replay(stored, index, tracer, states)

        return self._trace(run, options, top, extra)

    def debug_traceCall(self, tx: CallObject, block: BlockRef = LATEST,
                        options: Raw = None) -> Any:
        self.check_chain_id(tx)
        state = self.call_state(block)
        top = {"type": "CALL" if tx.to else "CREATE", "from": d(tx.sender or bytes(20)),
               "to": addr_out(tx.to), "value": q(tx.value), "input": d(tx.data)}
        def run(tracer: Any, states: list[State] | None = None) -> TxResult:
            if states is None:
                return self.dev.execute(tx, state, tracer=tracer)
            work = (state or self.dev.state()).copy()
            states.append(work.copy())
            result = self.dev.execute(tx, work, tracer=tracer, commit=True)
            states.append(work)
            return result

        extra = [tx.sender or bytes(20)] + ([tx.to] if tx.to is not None else [])
        return self._trace(run, options, top, extra)

    def _trace(self, run: Run, options: Any, top: dict[str, Any],
               extra: list[bytes] | None = None) -> Any:
        opts = options if isinstance(options, dict) else {}
        tracer_name = opts.get("tracer")
        cfg = opts.get("tracerConfig") or {}
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
        if tracer_name not in (None, "", "structLogger"):
            raise NodeError(f"tracer {tracer_name} not supported (structLogger, callTracer, "
                            "prestateTracer)",
                            -32000)
        collector = StepCollector(memory=bool(opts.get("enableMemory")),
                                  stack=not opts.get("disableStack"),
                                  storage=not opts.get("disableStorage"),
                                  limit=int(opts.get("limit") or 0))
        result = run(collector)
        return {"gas": result.gas_used, "failed": not result.success,
                "returnValue": result.output.hex(), "structLogs": collector.logs}
