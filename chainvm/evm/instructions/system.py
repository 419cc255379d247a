"""System opcodes: CREATE/CREATE2, the CALL family and SELFDESTRUCT (0xf0-0xff).

The gas rules that change with the fork (EIP-150's 63/64 rule, EIP-161's
new-account charge, EIP-2929's cold access, EIP-3860's init-code words) are
read from the fork's named rules here rather than duplicated across near-identical
bodies; each rule names its EIP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from chainvm.evm.errors import OutOfGas, Stop, WriteProtection
from chainvm.evm.frame import CALLED, CallRequest, Frame
from chainvm.evm.gas import (
    G_CALLSTIPEND,
    G_CALLVALUE,
    G_COLD_ACCOUNT_ACCESS,
    G_INITCODE_WORD,
    G_KECCAK256_WORD,
    G_NEWACCOUNT,
    G_WARM_ACCESS,
    MAX_INITCODE_SIZE,
    R_SELFDESTRUCT,
)
from chainvm.evm.instructions.common import ADDRESS_MASK, charge, expand_memory, to_address
from chainvm.evm.vm import (
    CALL,
    CALLCODE,
    CREATE,
    CREATE2,
    DELEGATECALL,
    DELEGATION_PREFIX,
    KIND_NAMES,
    STATICCALL,
    Immediate,
    begin_call,
    begin_create,
)

# Input of at least this many bytes is passed to the callee as a view of the caller's
# memory rather than a copy (see the CALL body).
SHARED_CALLDATA: Final = 1 << 16


def _hand_over(f: Frame, child: Frame, pc: int, exits: bool) -> int:
    """Give the child frame to the driver: the compiled tier's exit bodies return CALLED
    (the child in f.child), the interpreter's raise CallRequest."""
    f.pc = pc + 1
    if exits:
        f.child = child
        return CALLED
    raise CallRequest(child)


def _body_name(kind: int, exits: bool) -> str:
    return "op_" + KIND_NAMES[kind].lower() + ("_exit" if exits else "")


def _create_body(kind: int, exits: bool = False) -> Callable[[Frame, list[int], int], int]:
    """The body of CREATE or CREATE2 (one function each, as for the CALL family); with
    `exits`, the compiled tier's (OpSpec.exit_body), which returns CALLED for a child."""
    is_create2 = kind == CREATE2

    def body(f: Frame, s: list[int], pc: int) -> int:
        if f.is_static:
            raise WriteProtection
        value = s.pop()
        offset = s.pop()
        size = s.pop()
        salt = s.pop() if is_create2 else 0
        evm = f.evm
        rules = evm.rules
        if size:
            expand_memory(f, offset, size)
            words = (size + 31) >> 5
            if rules.eip3860:
                if size > MAX_INITCODE_SIZE:
                    raise OutOfGas("max initcode size exceeded")
                charge(f, G_INITCODE_WORD * words)
            if is_create2:
                charge(f, G_KECCAK256_WORD * words)
        init_code = bytes(f.memory[offset:offset + size]) if size else b""
        gas = f.gas
        give = gas - gas // 64 if rules.eip150 else gas  # EIP-150: all but one 64th
        f.gas = gas - give
        f.return_data = b""
        result = begin_create(evm, kind, f.address, value, init_code, give, f.depth + 1, salt)
        if isinstance(result, Immediate):  # refused (gas returned) or a collision (gas lost)
            f.gas += result.gas_left
            s.append(0)
            return pc + 1
        return _hand_over(f, result, pc, exits)

    body.__name__ = body.__qualname__ = _body_name(kind, exits)
    return body


op_create = _create_body(CREATE)
op_create2 = _create_body(CREATE2)  # EIP-1014
op_create_exit = _create_body(CREATE, True)
op_create2_exit = _create_body(CREATE2, True)


def _call_body(kind: int, exits: bool = False) -> Callable[[Frame, list[int], int], int]:
    """The body of one CALL-family opcode (one function per kind, so that a call costs
    one Python frame here, not a dispatcher and a shared body); with `exits`, the compiled
    tier's (OpSpec.exit_body), which returns CALLED for a child frame instead of raising."""
    takes_value = kind == CALL or kind == CALLCODE

    def body(f: Frame, s: list[int], pc: int) -> int:
        gas_requested = s.pop()
        target = (s.pop() & ADDRESS_MASK).to_bytes(20, "big")
        value = s.pop() if takes_value else 0
        in_offset = s.pop()
        in_size = s.pop()
        out_offset = s.pop()
        out_size = s.pop()
        evm = f.evm
        state = f.state
        rules = evm.rules
        # Memory for both regions first: its cost is part of this opcode's charge.
        # (expand_memory does nothing when the region is already there.)
        memory = f.memory
        if in_size and in_offset + in_size > len(memory):
            expand_memory(f, in_offset, in_size)
        if out_size and out_offset + out_size > len(memory):
            expand_memory(f, out_offset, out_size)
        cost = 0
        if rules.eip2929 and state.access_address(target):
            cost = G_COLD_ACCOUNT_ACCESS - G_WARM_ACCESS
        if rules.eip7702:
            code = state.code(target)
            if len(code) == 23 and code[:3] == DELEGATION_PREFIX:  # EIP-7702 delegation
                cost += (G_COLD_ACCOUNT_ACCESS if state.access_address(code[3:])
                         else G_WARM_ACCESS)
        if value:
            if kind == CALL and f.is_static:
                raise WriteProtection
            cost += G_CALLVALUE
        if kind == CALL:
            if rules.eip161:
                if value and state.is_empty(target):
                    cost += G_NEWACCOUNT
            elif not state.exists(target):
                cost += G_NEWACCOUNT
        gas = f.gas - cost
        if gas < 0:
            raise OutOfGas
        if rules.eip150:
            give = gas - gas // 64  # all but one 64th, at most what was asked for
            if gas_requested < give:  # noqa: PLR1730 (min() costs ~1,200 instructions)
                give = gas_requested
        else:
            give = gas_requested
            if give > gas:
                raise OutOfGas
        f.gas = gas - give
        if value:
            give += G_CALLSTIPEND
        f.return_data = b""
        if in_size < SHARED_CALLDATA or evm.tracer is not None or target in evm.precompiles:
            calldata: bytes | memoryview = (
                bytes(memory[in_offset:in_offset + in_size]) if in_size else b"")
        else:
            # The callee reads the caller's memory in place, as geth's does: the caller
            # cannot run until the callee ends, and `run` drops the view then (a view
            # locks the memory's size). 1024 nested calls of 1 MB would copy 1 GB.
            calldata = memoryview(memory)[in_offset:in_offset + in_size]
        if kind == CALL:
            result = begin_call(evm, CALL, f.address, target, target, value, value, calldata,
                                give, f.depth + 1, f.is_static)
        elif kind == STATICCALL:
            result = begin_call(evm, STATICCALL, f.address, target, target, 0, 0, calldata,
                                give, f.depth + 1, True)
        elif kind == DELEGATECALL:
            result = begin_call(evm, DELEGATECALL, f.caller, f.address, target, 0, f.value,
                                calldata, give, f.depth + 1, f.is_static)
        else:
            result = begin_call(evm, CALLCODE, f.address, f.address, target, value, value,
                                calldata, give, f.depth + 1, f.is_static)
        if isinstance(result, Immediate):
            f.gas += result.gas_left
            if evm.tracer is not None:  # the tracer reports the gas forwarded (EIP-3155)
                evm.call_gas_returned = result.gas_left
            if result.success:
                s.append(1)
                output = result.output
                f.return_data = output
                size = out_size
                if size > len(output):  # noqa: PLR1730 (cheaper than min() on CPython 3.11)
                    size = len(output)
                if size:
                    f.memory[out_offset:out_offset + size] = output[:size]
            else:
                s.append(0)
            return pc + 1
        result.ret_offset = out_offset
        result.ret_size = out_size
        return _hand_over(f, result, pc, exits)

    body.__name__ = body.__qualname__ = _body_name(kind, exits)
    return body


op_call = _call_body(CALL)
op_callcode = _call_body(CALLCODE)
op_delegatecall = _call_body(DELEGATECALL)  # EIP-7
op_staticcall = _call_body(STATICCALL)  # EIP-214
op_call_exit = _call_body(CALL, True)
op_callcode_exit = _call_body(CALLCODE, True)
op_delegatecall_exit = _call_body(DELEGATECALL, True)
op_staticcall_exit = _call_body(STATICCALL, True)


def op_selfdestruct(f: Frame, s: list[int], pc: int) -> int:
    if f.is_static:
        raise WriteProtection
    beneficiary = to_address(s.pop())
    evm = f.evm
    state = f.state
    rules = evm.rules
    address = f.address
    balance = state.balance(address)
    cost = 0
    if rules.eip2929 and state.access_address(beneficiary):
        cost += G_COLD_ACCOUNT_ACCESS
    if rules.eip161:
        if balance and state.is_empty(beneficiary):
            cost += G_NEWACCOUNT
    elif rules.eip150 and not state.exists(beneficiary):
        cost += G_NEWACCOUNT
    charge(f, cost)
    if not rules.eip3529 and address not in state.destructed:
        state.add_refund(R_SELFDESTRUCT)  # removed by EIP-3529
    if rules.eip6780 and address not in state.created:
        # only moves the balance unless created in this transaction.
        if beneficiary != address:
            state.sub_balance(address, balance)
            state.add_balance(beneficiary, balance)
        raise Stop
    state.add_balance(beneficiary, balance)
    state.set_balance(address, 0)
    state.mark_destructed(address)
    raise Stop
