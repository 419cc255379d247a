"""The call machinery: message calls, contract creation, and returning results to the caller.

This mirrors geth's evm.Call / CallCode / DelegateCall / StaticCall / Create:
depth limit, balance check, snapshot, value transfer, precompiles, and on
error a revert that burns the gas unless the error is REVERT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from chainvm.crypto import keccak256
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
from chainvm.evm.gas import CALL_DEPTH_LIMIT, G_CODEDEPOSIT, MAX_CODE_SIZE
from chainvm.state.state import State

if TYPE_CHECKING:
    from chainvm.evm.forks import Fork
    from chainvm.evm.tracer import Tracer

# Message kinds (Final, one per line: the native build then compiles them in as numbers
# instead of reading the module's dict at every message)
CALL: Final = 0
CALLCODE: Final = 1
DELEGATECALL: Final = 2
STATICCALL: Final = 3
CREATE: Final = 4
CREATE2: Final = 5
KIND_NAMES: Final = ("CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2")
MAX_NONCE: Final = (1 << 64) - 1  # EIP-2681

DELEGATION_PREFIX: Final = b"\xef\x01\x00"  # EIP-7702 delegation designator


class Immediate:
    """The result of a call that needed no frame (precompile, empty code, early failure)."""

    __slots__ = ("error", "gas_left", "output", "success")

    def __init__(self, success: bool, gas_left: int, output: bytes,
                 error: str | None = None) -> None:
        self.success = success
        self.gas_left = gas_left
        self.output = output
        self.error = error


class EVM:
    """Everything a transaction's frames share: state, fork, block and transaction context."""

    def __init__(self, state: State, fork: Fork, block: BlockEnv, origin: bytes, gas_price: int,
                 blob_hashes: tuple[bytes, ...] = (), blob_base_fee: int = 0,
                 tracer: Tracer | None = None) -> None:
        self.state = state
        self.fork = fork
        self.rules = fork.rules
        # The executors' tables, read per frame: a plain attribute (Fork.opcodes is a
        # cached_property, which CPython 3.11 does not specialise attribute loads for).
        self.opcodes = fork.opcodes
        self.block = block
        self.origin = origin
        self.gas_price = gas_price
        self.blob_hashes = blob_hashes
        self.blob_base_fee = blob_base_fee
        self.tracer = tracer
        self.precompiles = fork.precompiles
        # With a tracer: the gas a frameless call (precompile, no code) gave back.
        self.call_gas_returned = 0

    def code_for_ext(self, addr: bytes) -> bytes:
        return self.state.code(addr)

    def code_hash_for_ext(self, addr: bytes) -> bytes:
        return self.state.code_hash(addr)


def create_address(sender: bytes, nonce: int) -> bytes:
    """keccak256(rlp([sender, nonce]))[12:], the RLP written out: a 20-byte address and a
    nonce of up to 33 bytes always make a list shorter than 56 bytes (about 3,000
    instructions less per CREATE than the general encoder)."""
    if nonce < 0x80:
        tail = bytes((nonce,)) if nonce else b"\x80"
    else:
        raw = nonce.to_bytes((nonce.bit_length() + 7) >> 3, "big")
        tail = bytes((0x80 + len(raw),)) + raw
    # list prefix 0xc0 + (1 + 20 + len(tail)), then the address's string prefix 0x94
    return keccak256(bytes((0xD5 + len(tail), 0x94)) + sender + tail)[12:]


def create2_address(sender: bytes, salt: int, init_code: bytes) -> bytes:
    return keccak256(b"\xff" + sender + salt.to_bytes(32, "big") + keccak256(init_code))[12:]


@dataclass(slots=True)
class Message:
    """One message: what a transaction, a system call or a CALL/CREATE opcode asks to run.

    `target` is the account whose code runs with its storage and balance (ignored for
    creations, whose address comes from the caller's nonce or the CREATE2 salt);
    `code_address` is where the code comes from (CALLCODE, DELEGATECALL), defaulting to
    `target`; `apparent_value` is the CALLVALUE a DELEGATECALL passes on.
    """

    kind: int
    caller: bytes
    target: bytes
    value: int
    data: bytes
    gas: int
    depth: int = 0
    is_static: bool = False
    code_address: bytes | None = None
    apparent_value: int | None = None
    salt: int = 0


def begin_message(evm: EVM, msg: Message) -> Frame | Immediate:
    """Start `msg` (geth's evm.Call / CallCode / DelegateCall / StaticCall / Create).

    Checks the call depth and the caller's balance (and, for a creation, its nonce),
    then snapshots, transfers value and runs a precompile, or returns the frame to run.
    A message that fails these checks returns its gas unspent. A tracer hears of every
    message here (`enter`), and of its end here too when no frame runs (`exit`); the frame
    driver reports the end of the others.

    The opcodes skip the Message: they call `begin_call` and `begin_create` directly.
    """
    if msg.kind >= CREATE:
        return begin_create(evm, msg.kind, msg.caller, msg.value, msg.data, msg.gas,
                            msg.depth, msg.salt)
    value = msg.value
    return begin_call(evm, msg.kind, msg.caller, msg.target,
                      msg.target if msg.code_address is None else msg.code_address, value,
                      value if msg.apparent_value is None else msg.apparent_value,
                      msg.data, msg.gas, msg.depth, msg.is_static)


def _frameless(evm: EVM, gas: int, result: Immediate, created: bytes | None = None
               ) -> Immediate:
    """Report the end of a message that ran no frame to the tracer, if there is one."""
    tracer = evm.tracer
    if tracer is not None:
        tracer.exit(result.output, gas - result.gas_left,
                    None if result.success else (result.error or "execution failed"),
                    created if result.success else None)
    return result


def begin_call(evm: EVM, kind: int, caller: bytes, address: bytes, code_address: bytes,
               value: int, apparent_value: int, data: bytes | memoryview, gas: int,
               depth: int, is_static: bool) -> Frame | Immediate:
    """Start a CALL-family message (see begin_message): `address` is the account whose
    storage and balance the code runs with, `code_address` where the code comes from,
    `value` what moves (CALL) or must be there (CALLCODE), `apparent_value` the CALLVALUE
    the code sees (a DELEGATECALL passes its own on). `data` is a view of the caller's
    memory only for a large input to code that is not a precompile, without a tracer."""
    state = evm.state
    if evm.tracer is not None:
        evm.tracer.enter(KIND_NAMES[kind], caller, address, apparent_value, bytes(data), gas,
                         depth)
    if depth > CALL_DEPTH_LIMIT:
        return _frameless(evm, gas, Immediate(False, gas, b"", "max call depth exceeded"))
    if value and state.balance(caller) < value:
        return _frameless(evm, gas, Immediate(False, gas, b"",
                                              "insufficient balance for transfer"))
    snapshot = state.snapshot()
    if kind == CALL:
        if not state.exists(address):
            if address not in evm.precompiles and evm.rules.eip161 and value == 0:
                # EIP-161: a zero-value call to a non-existent account creates nothing.
                return _frameless(evm, gas, Immediate(True, gas, b""))
            state.add_balance(address, 0)
        if value:
            state.sub_balance(caller, value)
            state.add_balance(address, value)
        else:
            state.touch(address)  # what add_balance of zero does to an existing account
    elif kind == STATICCALL:
        state.add_balance(address, 0)  # a touch, as geth does, for the RIPEMD-160 quirk

    precompile = evm.precompiles.get(code_address)
    if precompile is not None:
        gas_fn, run_fn = precompile
        data = bytes(data)  # already bytes (see the CALL body): the same object
        try:
            cost = gas_fn(data)
            if cost > gas:
                raise PrecompileFailure("out of gas")
            output = run_fn(data)
        except ExceptionalHalt as halt:
            state.revert(snapshot)
            return _frameless(evm, gas, Immediate(False, 0, b"", str(halt)))
        return _frameless(evm, gas, Immediate(True, gas - cost, output))

    code = state.code(code_address)
    if len(code) == 23 and evm.rules.eip7702 and code[:3] == DELEGATION_PREFIX:
        code = state.code(code[3:])  # EIP-7702: the delegate's code runs
    if not code:
        return _frameless(evm, gas, Immediate(True, gas, b""))
    return Frame(evm, code, gas, address, caller, apparent_value, data, is_static, depth,
                 KIND_CALL, snapshot)


def begin_create(evm: EVM, kind: int, caller: bytes, value: int, init_code: bytes, gas: int,
                 depth: int, salt: int = 0) -> Frame | Immediate:
    """Start a CREATE or CREATE2 message (see begin_message)."""
    state = evm.state
    nonce = state.nonce(caller)
    if kind == CREATE2:
        address = create2_address(caller, salt, init_code)
    else:
        address = create_address(caller, nonce)
    if evm.tracer is not None:
        evm.tracer.enter(KIND_NAMES[kind], caller, address, value, init_code, gas, depth)
    if depth > CALL_DEPTH_LIMIT:
        return _frameless(evm, gas, Immediate(False, gas, b"", "max call depth exceeded"))
    if value and state.balance(caller) < value:
        return _frameless(evm, gas, Immediate(False, gas, b"",
                                              "insufficient balance for transfer"))
    if nonce >= MAX_NONCE:  # EIP-2681
        return _frameless(evm, gas, Immediate(False, gas, b"", "nonce uint64 overflow"))
    state.set_nonce(caller, nonce + 1)
    result = _begin_creation(evm, caller, address, value, init_code, gas, depth)
    if isinstance(result, Immediate):
        return _frameless(evm, gas, result, address)
    return result


def _begin_creation(evm: EVM, caller: bytes, address: bytes, value: int, init_code: bytes,
                    gas: int, depth: int) -> Frame | Immediate:
    """Start a contract creation at `address` (the caller's nonce is already bumped)."""
    state = evm.state
    if evm.rules.eip2929:
        state.access_address(address)  # warm even if the creation then fails
    target = state.get(address)
    if target is not None and (target.nonce or target.code or target.storage):
        # Address collision (EIP-684, EIP-7610): the creation fails and burns its gas.
        return Immediate(False, 0, b"", "contract address collision")
    snapshot = state.snapshot()
    state.create_account(address)
    state.touch(address)
    if evm.rules.eip161:
        state.set_nonce(address, 1)
    state.mark_created(address)
    if value:
        state.sub_balance(caller, value)
        state.add_balance(address, value)
    return Frame(evm, init_code, gas, address, caller, value, b"", False, depth, KIND_CREATE,
                 snapshot)


def finish_frame(evm: EVM, f: Frame) -> None:
    """Deposit created code, or revert the frame's changes if it failed."""
    if f.kind == KIND_CREATE and f.error is None:
        code = f.output
        rules = evm.rules
        try:
            if rules.eip170 and len(code) > MAX_CODE_SIZE:
                raise CodeSizeExceeded
            if rules.eip3541 and code[:1] == b"\xef":
                raise InvalidCodePrefix  # EIP-3541
            deposit = G_CODEDEPOSIT * len(code)
            if f.gas < deposit:
                raise CodeStoreOutOfGas
            f.gas -= deposit
            evm.state.set_code(f.address, code)
        except CodeStoreOutOfGas as e:
            if rules.eip2:
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
    """Hand a finished creation's result, or a call's halt, back to the frame that started
    it (`interpreter.run` hands back a call that returned or reverted itself)."""
    parent.gas += child.gas
    error = child.error
    if child.kind == KIND_CREATE and error is None:
        parent.stack.append(int.from_bytes(child.address, "big"))
        parent.return_data = b""
        return
    parent.stack.append(0)
    # A reverted creation's output is return data; a halt leaves none.
    parent.return_data = child.output if isinstance(error, Revert) else b""
