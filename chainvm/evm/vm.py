"""The call machinery: message calls, contract creation, and returning results to the caller.

This mirrors geth's evm.Call / CallCode / DelegateCall / StaticCall / Create:
depth limit, balance check, snapshot, value transfer, precompiles, and on
error a revert that burns the gas unless the error is REVERT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainvm.crypto import keccak256
from chainvm.encoding.rlp import encode
from chainvm.evm import forks as F
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import (
    CodeSizeExceeded,
    CodeStoreOutOfGas,
    ExceptionalHalt,
    InvalidCodePrefix,
    PrecompileFailure,
    Revert,
)
from chainvm.evm.frame import KIND_CALL, KIND_CREATE, Frame
from chainvm.evm.gas import G_CODEDEPOSIT, MAX_CODE_SIZE
from chainvm.state.state import State

if TYPE_CHECKING:
    from chainvm.evm.forks import Fork
    from chainvm.evm.interpreter import Tracer

# Call kinds
CALL, CALLCODE, DELEGATECALL, STATICCALL = range(4)

DELEGATION_PREFIX = b"\xef\x01\x00"  # EIP-7702 delegation designator


class Immediate:
    """The result of a call that needed no frame (precompile, empty code, early failure)."""

    __slots__ = ("gas_left", "output", "success")

    def __init__(self, success: bool, gas_left: int, output: bytes) -> None:
        self.success = success
        self.gas_left = gas_left
        self.output = output


class EVM:
    """Everything a transaction's frames share: state, fork, block and transaction context."""

    def __init__(self, state: State, fork: Fork, block: BlockEnv, origin: bytes, gas_price: int,
                 blob_hashes: tuple[bytes, ...] = (), blob_base_fee: int = 0,
                 tracer: Tracer | None = None) -> None:
        self.state = state
        self.fork = fork
        self.ordinal = fork.ordinal
        self.block = block
        self.origin = origin
        self.gas_price = gas_price
        self.blob_hashes = blob_hashes
        self.blob_base_fee = blob_base_fee
        self.tracer = tracer
        self.precompiles = fork.precompiles

    def code_for_ext(self, addr: bytes) -> bytes:
        return self.state.code(addr)

    def code_hash_for_ext(self, addr: bytes) -> bytes:
        return self.state.code_hash(addr)

    def resolve_code(self, addr: bytes) -> tuple[bytes, bytes | None]:
        """Code to execute for `addr`, following an EIP-7702 delegation (Prague on).

        Returns (code, delegate address or None).
        """
        code = self.state.code(addr)
        if self.ordinal >= F.PRAGUE and len(code) == 23 and code[:3] == DELEGATION_PREFIX:
            target = code[3:]
            return self.state.code(target), target
        return code, None


def create_address(sender: bytes, nonce: int) -> bytes:
    return keccak256(encode([sender, nonce]))[12:]


def create2_address(sender: bytes, salt: int, init_code: bytes) -> bytes:
    return keccak256(b"\xff" + sender + salt.to_bytes(32, "big") + keccak256(init_code))[12:]


def message_call(evm: EVM, kind: int, caller: bytes, address: bytes, code_address: bytes,
                 value: int, data: bytes, gas: int, depth: int, is_static: bool,
                 apparent_value: int | None = None) -> Frame | Immediate:
    """Start a message call at `depth` (0 for the transaction itself).

    Depth and balance have already been checked by the caller. Returns the
    child frame to run, or the finished result if no code runs.
    """
    state = evm.state
    snapshot = state.snapshot()
    if kind == CALL:
        if address not in state.accounts:
            if (address not in evm.precompiles and evm.ordinal >= F.SPURIOUS_DRAGON
                    and value == 0):
                # EIP-161: a zero-value call to a non-existent account creates nothing.
                return Immediate(True, gas, b"")
            state.add_balance(address, 0)
        if value:
            state.sub_balance(caller, value)
        state.add_balance(address, value)
    elif kind == STATICCALL:
        state.add_balance(address, 0)  # a touch, as geth does, for the RIPEMD-160 quirk

    precompile = evm.precompiles.get(code_address)
    if precompile is not None:
        gas_fn, run_fn = precompile
        try:
            cost = gas_fn(data)
            if cost > gas:
                raise PrecompileFailure("out of gas")
            output = run_fn(data)
        except ExceptionalHalt:
            state.revert(snapshot)
            return Immediate(False, 0, b"")
        return Immediate(True, gas - cost, output)

    code, _delegate = evm.resolve_code(code_address)
    if not code:
        return Immediate(True, gas, b"")
    frame = Frame(evm, code, gas, address, caller,
                  value if apparent_value is None else apparent_value, data, is_static, depth,
                  KIND_CALL, snapshot, code_address)
    return frame


def contract_creation(evm: EVM, caller: bytes, address: bytes, value: int, init_code: bytes,
                      gas: int, depth: int) -> Frame | Immediate:
    """Start a contract creation at `address` (the caller's nonce is already bumped)."""
    state = evm.state
    if evm.ordinal >= F.BERLIN:
        state.warm_address(address)  # EIP-2929: warm even if the creation then fails
    target = state.accounts.get(address)
    if target is not None and (target.nonce or target.code or target.storage):
        # Address collision (EIP-684, EIP-7610): the creation fails and burns its gas.
        return Immediate(False, 0, b"")
    snapshot = state.snapshot()
    state.create_account(address)
    state.touch(address)
    if evm.ordinal >= F.SPURIOUS_DRAGON:
        state.set_nonce(address, 1)  # EIP-161
    state.mark_created(address)
    if value:
        state.sub_balance(caller, value)
        state.add_balance(address, value)
    frame = Frame(evm, init_code, gas, address, caller, value, b"", False, depth, KIND_CREATE,
                  snapshot, address)
    return frame


def finish_frame(evm: EVM, f: Frame) -> None:
    """Deposit created code, or revert the frame's changes if it failed."""
    if f.kind == KIND_CREATE and f.error is None:
        code = f.output
        ordinal = evm.ordinal
        try:
            if ordinal >= F.SPURIOUS_DRAGON and len(code) > MAX_CODE_SIZE:
                raise CodeSizeExceeded
            if ordinal >= F.LONDON and code[:1] == b"\xef":
                raise InvalidCodePrefix  # EIP-3541
            deposit = G_CODEDEPOSIT * len(code)
            if f.gas < deposit:
                raise CodeStoreOutOfGas
            f.gas -= deposit
            evm.state.set_code(f.address, code)
        except CodeStoreOutOfGas as e:
            if ordinal >= F.HOMESTEAD:
                f.error = e
                f.gas = 0
            # Frontier: the contract exists without code and keeps its gas.
        except ExceptionalHalt as e:
            f.error = e
            f.gas = 0
    if f.error is not None:
        evm.state.revert(f.snapshot)
        if not isinstance(f.error, Revert):
            f.gas = 0


def resume_parent(parent: Frame, child: Frame) -> None:
    """Hand a finished child's result back to the frame that called it."""
    parent.gas += child.gas
    stack = parent.stack
    error = child.error
    if child.kind == KIND_CREATE:
        if error is None:
            stack.append(int.from_bytes(child.address, "big"))
            parent.return_data = b""
        else:
            stack.append(0)
            parent.return_data = child.output if isinstance(error, Revert) else b""
        return
    if error is None:
        stack.append(1)
    else:
        stack.append(0)
        if not isinstance(error, Revert):
            parent.return_data = b""
            return
    output = child.output
    parent.return_data = output
    size = min(child.ret_size, len(output))
    if size:
        offset = child.ret_offset
        parent.memory[offset:offset + size] = output[:size]
