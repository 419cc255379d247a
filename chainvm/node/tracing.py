"""Tracers for the node: geth's call tracer, built on the frame driver's enter/exit hooks
(one frame per message, including calls that run no code), and an access-list collector
built on the step hook."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from chainvm.evm.tracer import Tracer


def _hex_addr(n: int | bytes) -> str:
    if isinstance(n, int):
        n = (n & ((1 << 160) - 1)).to_bytes(20, "big")
    return "0x" + n.hex()


class CallTracer(Tracer):
    """geth's `callTracer`: the tree of messages with their gas, input, output and error."""

    def __init__(self, only_top: bool = False, with_logs: bool = False) -> None:
        super().__init__(None)
        self.only_top = only_top
        self.with_logs = with_logs
        self.stack: list[dict[str, Any]] = []
        self.root: dict[str, Any] | None = None
        self.output = b""
        self.gas_used = 0
        self.error: str | None = None

    def enter(self, kind: str, caller: bytes, to: bytes, value: int, data: bytes, gas: int,
              depth: int) -> None:
        frame: dict[str, Any] = {"type": kind, "from": _hex_addr(caller), "to": _hex_addr(to),
                                 "value": hex(value), "gas": hex(gas),
                                 "input": "0x" + bytes(data).hex()}
        if kind == "STATICCALL":
            frame.pop("value")
        if self.stack:
            self.stack[-1].setdefault("calls", []).append(frame)
        else:
            self.root = frame
        self.stack.append(frame)

    def exit(self, output: bytes, gas_used: int, error: str | None,
             created: bytes | None) -> None:
        frame = self.stack.pop()
        frame["gasUsed"] = hex(gas_used)
        if created is not None:
            frame["to"] = _hex_addr(created)
        if output or error:
            frame["output"] = "0x" + bytes(output).hex()
        if error:
            frame["error"] = error
            _add_revert_reason(frame, error, output)

    def step(self, f: Any, pc: int, op: int, gas: int, cost: int, stack: list[int],
             mem_size: int, refund: int, name: str, error: str | None) -> None:
        # withLog: a LOG that ran (reported after it ran: its log is the state's last),
        # placed among the frame's calls by `position`, as geth's callTracer does
        if self.with_logs and error is None and name.startswith("LOG") and self.stack:
            log = f.state.logs[-1]
            frame = self.stack[-1]
            frame.setdefault("logs", []).append({
                "address": _hex_addr(log.address),
                "topics": [f"0x{topic:064x}" for topic in log.topics],
                "data": "0x" + bytes(log.data).hex(),
                "position": hex(len(frame.get("calls", ())))})

    def summary(self, output: bytes, gas_used: int, error: str | None) -> None:
        self.output, self.gas_used, self.error = output, gas_used, error

    def result(self, tx_result: Any, fallback: dict[str, Any] | None = None) -> dict[str, Any]:
        """The tree, its root completed from the transaction's result (gas used including
        the intrinsic gas, as geth reports it)."""
        root = self.root if self.root is not None else dict(fallback or {"type": "CALL"})
        root["gasUsed"] = hex(tx_result.gas_used)
        if tx_result.output:
            root["output"] = "0x" + tx_result.output.hex()
        if not tx_result.success:
            root["error"] = tx_result.error or "execution failed"
            _add_revert_reason(root, root["error"], tx_result.output or b"")
        if tx_result.contract_address is not None:
            root["type"] = "CREATE"
            root["to"] = "0x" + tx_result.contract_address.hex()
            root.pop("output", None)
        if self.only_top:
            root.pop("calls", None)
        if self.with_logs:
            _drop_failed_logs(root, False)
        return root


def _add_revert_reason(frame: dict[str, Any], error: str, output: bytes) -> None:
    """geth's `revertReason`: an Error(string)'s string, or what a Panic code means."""
    from chainvm.node.devchain import revert_message

    reason = revert_message(bytes(output)) if error == "execution reverted" else None
    if reason is not None:
        frame["revertReason"] = reason


def _drop_failed_logs(frame: dict[str, Any], parent_failed: bool) -> None:
    """The logs of a failed frame, and of every frame under it, were undone: geth's
    callTracer leaves them out."""
    failed = parent_failed or "error" in frame
    if failed:
        frame.pop("logs", None)
    for child in frame.get("calls", ()):
        _drop_failed_logs(child, failed)


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


class PrestateTracer(Tracer):
    """The accounts and storage slots a transaction touches (for geth's `prestateTracer`):
    every message's caller and target, BALANCE/EXTCODE*/SELFDESTRUCT targets, and the slots
    SLOAD/SSTORE read or write."""

    def __init__(self) -> None:
        super().__init__(None)
        self.touched: dict[bytes, set[int]] = {}

    def touch(self, address: bytes) -> None:
        self.touched.setdefault(bytes(address), set())

    def enter(self, kind: str, caller: bytes, to: bytes, value: int, data: bytes, gas: int,
              depth: int) -> None:
        self.touch(caller)
        self.touch(to)

    def exit(self, output: bytes, gas_used: int, error: str | None,
             created: bytes | None) -> None:
        if created is not None:
            self.touch(created)

    def step(self, f: Any, pc: int, op: int, gas: int, cost: int, stack: list[int],
             mem_size: int, refund: int, name: str, error: str | None) -> None:
        if name in ("SLOAD", "SSTORE") and stack:
            self.touched.setdefault(bytes(f.address), set()).add(stack[-1])
        elif name in ("BALANCE", "EXTCODESIZE", "EXTCODECOPY", "EXTCODEHASH", "SELFDESTRUCT"
                      ) and stack:
            self.touch(_addr(stack[-1]))

    def summary(self, output: bytes, gas_used: int, error: str | None) -> None:
        pass

    def _account(self, state: Any, address: bytes, slots: set[int],
                 zero_slots: bool = True) -> dict[str, Any] | None:
        """The account's view (None: no account); `zero_slots` False leaves out slots that
        hold zero, as geth's diff mode does on both sides."""
        if state.get(address) is None:
            return None
        out: dict[str, Any] = {"balance": hex(state.balance(address))}
        nonce = state.nonce(address)
        if nonce:
            out["nonce"] = nonce
        code = bytes(state.code(address))
        if code:
            out["code"] = "0x" + code.hex()
        values = {k: state.get_storage(address, k) for k in sorted(slots)}
        storage = {f"0x{k:064x}": f"0x{v:064x}" for k, v in values.items()
                   if v or zero_slots}
        if storage:
            out["storage"] = storage
        return out

    def prestate(self, pre: Any) -> dict[str, Any]:
        """Every touched account as it was before (geth's default mode)."""
        out = {}
        for address, slots in sorted(self.touched.items()):
            view = self._account(pre, address, slots)
            if view is not None:
                out["0x" + address.hex()] = view
        return out

    def diff(self, pre: Any, post: Any) -> dict[str, Any]:
        """geth's diffMode: `pre` holds the changed accounts as they were (unchanged slots,
        and changed slots that held zero, left out), `post` only what changed (slots now
        zero left out; an account gone from post was deleted)."""
        out_pre: dict[str, Any] = {}
        out_post: dict[str, Any] = {}
        for address, slots in sorted(self.touched.items()):
            changed = {k for k in slots
                       if pre.get_storage(address, k) != post.get_storage(address, k)}
            before = self._account(pre, address, changed, zero_slots=False)
            after = self._account(post, address, changed, zero_slots=False)
            if before == after:
                continue
            key = "0x" + address.hex()
            if before is not None:
                out_pre[key] = before
            if after is not None:
                out_post[key] = {k: v for k, v in after.items()
                                 if before is None or before.get(k) != v}
                if "storage" in out_post[key]:
                    out_post[key]["storage"] = {
                        k: v for k, v in after["storage"].items()
                        if before is None or before.get("storage", {}).get(k) != v}
        return {"pre": out_pre, "post": out_post}


class StorageReadTracer(Tracer):
    """The storage slots SLOAD reads, in order, with the account whose storage it is (the
    proxy's, under a DELEGATECALL): where a token keeps a balance."""

    def __init__(self) -> None:
        super().__init__(None)
        self.reads: list[tuple[bytes, int]] = []

    def enter(self, kind: str, caller: bytes, to: bytes, value: int, data: bytes, gas: int,
              depth: int) -> None:
        pass

    def exit(self, output: bytes, gas_used: int, error: str | None,
             created: bytes | None) -> None:
        pass

    def step(self, f: Any, pc: int, op: int, gas: int, cost: int, stack: list[int],
             mem_size: int, refund: int, name: str, error: str | None) -> None:
        if name == "SLOAD" and stack:
            self.reads.append((bytes(f.address), stack[-1]))

    def summary(self, output: bytes, gas_used: int, error: str | None) -> None:
        pass


class FourByteTracer(Tracer):
    """geth's `4byteTracer`: how often each function selector is called, with the length of
    the arguments after it ("0xa9059cbb-64": 2), over the calls (not creations) to
    accounts that are not precompiles, the top call included."""

    def __init__(self, precompiles: Collection[bytes]) -> None:
        super().__init__(None)
        self.precompiles = precompiles
        self.counts: dict[str, int] = {}

    def enter(self, kind: str, caller: bytes, to: bytes, value: int, data: bytes, gas: int,
              depth: int) -> None:
        if kind in ("CREATE", "CREATE2") or len(data) < 4 or bytes(to) in self.precompiles:
            return
        key = f"0x{bytes(data[:4]).hex()}-{len(data) - 4}"
        self.counts[key] = self.counts.get(key, 0) + 1

    def exit(self, output: bytes, gas_used: int, error: str | None,
             created: bytes | None) -> None:
        pass

    def step(self, f: Any, pc: int, op: int, gas: int, cost: int, stack: list[int],
             mem_size: int, refund: int, name: str, error: str | None) -> None:
        pass

    def summary(self, output: bytes, gas_used: int, error: str | None) -> None:
        pass
