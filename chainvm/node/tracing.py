"""Tracers built on the interpreter's step hook: geth's call tracer and an access-list
collector. Call frames are recovered from the depth of successive steps: a step one
level deeper opens a frame (its Frame object gives caller, address, value, input); a
step back at the caller's depth closes it (the caller's return-data buffer holds the
callee's output and the top of its stack the success flag or created address). Calls
that run no code (precompiles, plain accounts) are taken from the CALL's stack
arguments."""

from __future__ import annotations

from typing import Any

from chainvm.evm.interpreter import Tracer
from chainvm.evm.vm import CALLCODE, DELEGATECALL, STATICCALL

_CALL_OPS = {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"}
_KIND_NAMES = {CALLCODE: "CALLCODE", DELEGATECALL: "DELEGATECALL", STATICCALL: "STATICCALL"}


def _hex_addr(n: int | bytes) -> str:
    if isinstance(n, int):
        n = (n & ((1 << 160) - 1)).to_bytes(20, "big")
    return "0x" + n.hex()


class CallTracer(Tracer):
    def __init__(self, only_top: bool = False, with_logs: bool = False) -> None:
        super().__init__(None)
        self.only_top = only_top
        self.with_logs = with_logs
        self.stack: list[dict[str, Any]] = []
        self.root: dict[str, Any] | None = None
        self.pending: tuple[str, list[int], int, int, Any] | None = None  # op, stack, gas, depth, f
        self.last_gas: list[int] = []
        self.output = b""
        self.gas_used = 0
        self.error: str | None = None

    def _open(self, f: Any, gas: int) -> None:
        kind = self.pending[0] if self.pending else "CALL"
        frame: dict[str, Any] = {
            "type": kind, "from": _hex_addr(f.caller), "to": _hex_addr(f.address),
            "value": hex(f.value), "gas": hex(gas), "input": "0x" + bytes(f.calldata).hex(),
            "_start_gas": gas,
        }
        if kind == "STATICCALL":
            frame.pop("value")
        self.pending = None
        if self.stack:
            self.stack[-1].setdefault("calls", []).append(frame)
        else:
            self.root = frame
        self.stack.append(frame)
        self.last_gas.append(gas)

    def _close(self, f_parent: Any, stack_top: int) -> None:
        frame = self.stack.pop()
        last = self.last_gas.pop()
        frame["gasUsed"] = hex(max(0, frame["_start_gas"] - last))
        output = bytes(f_parent.return_data)
        if frame["type"] in ("CREATE", "CREATE2"):
            if stack_top:
                frame["to"] = _hex_addr(stack_top)
            output = b"" if stack_top else output
        ok = stack_top != 0
        if output or not ok:
            frame["output"] = "0x" + output.hex()
        if not ok:
            frame["error"] = "execution reverted" if output else "execution failed"

    def step(self, f: Any, pc: int, op: int, gas: int, cost: int, stack: list[int],
             mem_size: int, refund: int, name: str, error: str | None) -> None:
        depth = f.depth
        if not self.stack:
            self._open(f, gas)
        while len(self.stack) - 1 > depth:
            self._close(f, stack[-1] if stack else 0)
        if self.pending is not None:
            pop, pstack, _pgas, pdepth, _pf = self.pending
            if depth == pdepth + 1 and len(self.stack) - 1 == pdepth:
                self._open(f, gas)
            elif depth == pdepth:
                self._immediate(pop, pstack, f, stack)
                self.pending = None
        if self.last_gas:
            self.last_gas[-1] = gas - cost
        if name in _CALL_OPS and not error:
            self.pending = (name, list(stack), gas, depth, f)

    def _immediate(self, op: str, args: list[int], f: Any, stack: list[int]) -> None:
        """A call that ran no code: a precompile, an account without code, or a failure."""
        if op in ("CREATE", "CREATE2"):
            value, to = args[-1], (stack[-1] if stack else 0)
            data = b""
        else:
            to = args[-2]
            value = args[-3] if op in ("CALL", "CALLCODE") else 0
            off, size = (args[-4], args[-5]) if op in ("CALL", "CALLCODE") else (args[-3],
                                                                                   args[-4])
            data = bytes(f.memory[off:off + size]) if size else b""
        frame: dict[str, Any] = {"type": op, "from": _hex_addr(f.address), "to": _hex_addr(to),
                                 "gas": hex(args[-1] if op not in ("CREATE", "CREATE2") else 0),
                                 "gasUsed": "0x0", "input": "0x" + data.hex()}
        if op != "STATICCALL":
            frame["value"] = hex(value)
        out = bytes(f.return_data)
        if out:
            frame["output"] = "0x" + out.hex()
        if stack and stack[-1] == 0:
            frame["error"] = "execution failed"
        if self.stack:
            self.stack[-1].setdefault("calls", []).append(frame)

    def summary(self, output: bytes, gas_used: int, error: str | None) -> None:
        self.output, self.gas_used, self.error = output, gas_used, error

    def result(self, tx_result: Any, fallback: dict[str, Any] | None = None) -> dict[str, Any]:
        while len(self.stack) > 1:
            frame = self.stack.pop()
            frame["gasUsed"] = hex(frame["_start_gas"] - self.last_gas.pop())
        root = self.root if self.root is not None else dict(fallback or {"type": "CALL"})
        root["gasUsed"] = hex(tx_result.gas_used)
        if tx_result.output:
            root["output"] = "0x" + tx_result.output.hex()
        if not tx_result.success:
            root["error"] = tx_result.error or "execution failed"
        if tx_result.contract_address is not None:
            root["type"] = "CREATE"
            root["to"] = "0x" + tx_result.contract_address.hex()
            root.pop("output", None)
        _strip(root)
        if self.only_top:
            root.pop("calls", None)
        return root


def _strip(frame: dict[str, Any]) -> None:
    frame.pop("_start_gas", None)
    for child in frame.get("calls", []):
        _strip(child)


class AccessListTracer(Tracer):
    """The addresses and storage slots a call touches (for eth_createAccessList)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.accessed: dict[bytes, set[int]] = {}

    def step(self, f: Any, pc: int, op: int, gas: int, cost: int, stack: list[int],
             mem_size: int, refund: int, name: str, error: str | None) -> None:
        if name in ("SLOAD", "SSTORE") and stack:
            self.accessed.setdefault(bytes(f.address), set()).add(stack[-1])
        elif name in ("EXTCODESIZE", "EXTCODECOPY", "EXTCODEHASH", "BALANCE", "SELFDESTRUCT"
                      ) and stack:
            self.accessed.setdefault(_addr(stack[-1]), set())
        elif name in ("CALL", "CALLCODE", "DELEGATECALL", "STATICCALL") and len(stack) >= 2:
            self.accessed.setdefault(_addr(stack[-2]), set())

    def summary(self, output: bytes, gas_used: int, error: str | None) -> None:
        pass


def _addr(n: int) -> bytes:
    return (n & ((1 << 160) - 1)).to_bytes(20, "big")
