"""The tracer interface and the EIP-3155 tracer.

Kept apart from the interpreter so that a native build of the interpreter (setup.py) leaves
this class a plain Python class that tracers elsewhere (chainvm/node/tracing.py) subclass.
"""

from __future__ import annotations

import json
import sys
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from chainvm.evm.frame import Frame


class Tracer:
    """EIP-3155 structured traces, one JSON object per line, in the field order and formats
    of geth's JSON logger (`evm --json`, return data on): pc, op, gas, gasCost, memSize,
    stack, returnData (when the frame holds return data), depth, refund, opName, error.
    A CALL-family step's gasCost includes the gas forwarded to the callee, as geth's does.

    The summary line after a transaction is `{"output", "gasUsed", "error"?}` (geth's
    `evm run`); inside a state test (`begin_case`/`end_case`) it is the EIP's
    `{"stateRoot", "output", "gasUsed", "pass", "fork", "error"?}`, written once the case's
    post-state is checked.

    Besides `step` (before each instruction) and `summary` (the transaction's end), a tracer
    hears where each message starts (`enter`, for every CALL-family and CREATE message,
    including those that run no code) and ends (`exit`: output, gas used, error, and the
    address a successful creation made). The EIP-3155 lines need only `step`.
    """

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out if out is not None else sys.stderr
        # The current frame's return-data buffer before the step (set by execute_traced).
        self.return_data = b""
        # A tracer that reports memory sets `wants_memory`: execute_traced then copies the
        # frame's memory into `memory_before` ahead of each step (the step is reported
        # after the instruction ran, when its memory may have changed).
        self.wants_memory = False
        self.memory_before = b""
        self._held: tuple[bytes, int, str | None] | None = None
        self._holding = False

    def enter(self, kind: str, caller: bytes, to: bytes, value: int, data: bytes, gas: int,
              depth: int) -> None:
        """A message starts (depth 0: the transaction's own)."""

    def exit(self, output: bytes, gas_used: int, error: str | None,
             created: bytes | None) -> None:
        """The message entered last ends."""

    def step(self, f: Frame, pc: int, op: int, gas: int, cost: int, stack: list[int],
             mem_size: int, refund: int, name: str, error: str | None) -> None:
        record: dict[str, object] = {
            "pc": pc,
            "op": op,
            "gas": hex(gas),
            "gasCost": hex(cost),
            "memSize": mem_size,
            "stack": [hex(x) for x in stack],
        }
        if self.return_data:
            record["returnData"] = "0x" + bytes(self.return_data).hex()
        record["depth"] = f.depth + 1
        record["refund"] = refund
        record["opName"] = name
        if error:
            record["error"] = error
        self.out.write(json.dumps(record, separators=(",", ":")) + "\n")

    def summary(self, output: bytes, gas_used: int, error: str | None) -> None:
        if self._holding:
            self._held = (output, gas_used, error)
            return
        record: dict[str, object] = {"output": output.hex(), "gasUsed": hex(gas_used)}
        if error:
            record["error"] = error
        self.out.write(json.dumps(record, separators=(",", ":")) + "\n")

    def begin_case(self) -> None:
        """Hold the transaction's summary until `end_case` knows the post-state."""
        self._holding, self._held = True, None

    def end_case(self, state_root: bytes, passed: bool, fork: str,
                 error: str | None = None) -> None:
        output, gas_used, tx_error = self._held or (b"", 0, None)
        self._holding, self._held = False, None
        record: dict[str, object] = {"stateRoot": "0x" + state_root.hex(),
                                     "output": output.hex(), "gasUsed": hex(gas_used),
                                     "pass": passed, "fork": fork}
        if tx_error or error:
            record["error"] = tx_error or error
        self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
