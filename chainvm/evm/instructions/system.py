"""System opcodes: CREATE/CREATE2, the CALL family and SELFDESTRUCT (0xf0-0xff).

The gas rules that change with the fork (EIP-150's 63/64 rule, EIP-161's
new-account charge, EIP-2929's cold access, EIP-3860's init-code words) are
read from the fork ordinal here rather than duplicated across near-identical
bodies; each rule names its EIP.
"""

from __future__ import annotations

from chainvm.evm import forks as F
from chainvm.evm.errors import InvalidOpcode, OutOfGas, Stop, WriteProtection
from chainvm.evm.frame import CallRequest, Frame
from chainvm.evm.gas import (
    CALL_DEPTH_LIMIT,
    G_CALLSTIPEND,
    G_CALLVALUE,
    G_COLD_ACCOUNT_ACCESS,
    G_INITCODE_WORD,
    G_KECCAK256_WORD,
    G_NEWACCOUNT,
    G_WARM_ACCESS,
    MAX_INITCODE_SIZE,
)
from chainvm.evm.instructions.common import charge, expand_memory, to_address
from chainvm.evm.vm import (
    CALL,
    CALLCODE,
    DELEGATECALL,
    STATICCALL,
    Immediate,
    contract_creation,
    create2_address,
    create_address,
    message_call,
)

MAX_NONCE = (1 << 64) - 1


def _create(f: Frame, s: list[int], pc: int, is_create2: bool) -> int:
    if f.is_static:
        raise WriteProtection
    value = s.pop()
    offset = s.pop()
    size = s.pop()
    salt = s.pop() if is_create2 else 0
    evm = f.evm
    ordinal = evm.ordinal
    if size:
        expand_memory(f, offset, size)
        words = (size + 31) >> 5
        if ordinal >= F.SHANGHAI:  # EIP-3860
            if size > MAX_INITCODE_SIZE:
                raise OutOfGas("max initcode size exceeded")
            charge(f, G_INITCODE_WORD * words)
        if is_create2:
            charge(f, G_KECCAK256_WORD * words)
    init_code = bytes(f.memory[offset:offset + size]) if size else b""
    if ordinal >= F.TANGERINE_WHISTLE:
        give = f.gas - f.gas // 64  # EIP-150: all but one 64th
    else:
        give = f.gas
    f.gas -= give
    f.return_data = b""
    state = f.state
    sender = f.address
    nonce = state.nonce(sender)
    if f.depth + 1 > CALL_DEPTH_LIMIT or state.balance(sender) < value or nonce >= MAX_NONCE:
        f.gas += give
        s.append(0)
        return pc + 1
    state.set_nonce(sender, nonce + 1)
    if is_create2:
        address = create2_address(sender, salt, init_code)
    else:
        address = create_address(sender, nonce)
    result = contract_creation(evm, sender, address, value, init_code, give, f.depth + 1)
    if isinstance(result, Immediate):  # collision: the gas given is lost
        s.append(0)
        return pc + 1
    f.pc = pc + 1
    raise CallRequest(result)


def op_create(f: Frame, s: list[int], pc: int) -> int:
    return _create(f, s, pc, False)


def op_create2(f: Frame, s: list[int], pc: int) -> int:  # EIP-1014
    return _create(f, s, pc, True)


def _call(f: Frame, s: list[int], pc: int, kind: int) -> int:
    gas_requested = s.pop()
    target = to_address(s.pop())
    value = s.pop() if kind == CALL or kind == CALLCODE else 0
    in_offset = s.pop()
    in_size = s.pop()
    out_offset = s.pop()
    out_size = s.pop()
    evm = f.evm
    state = f.state
    ordinal = evm.ordinal
    # Memory for both regions first: its cost is part of this opcode's charge.
    if in_size:
        expand_memory(f, in_offset, in_size)
    if out_size:
        expand_memory(f, out_offset, out_size)
    cost = 0
    if ordinal >= F.BERLIN and state.warm_address(target):
        cost += G_COLD_ACCOUNT_ACCESS - G_WARM_ACCESS  # EIP-2929
    code_address = target
    if ordinal >= F.PRAGUE:
        code = state.code(target)
        if len(code) == 23 and code[:3] == b"\xef\x01\x00":  # EIP-7702 delegation
            delegate = code[3:]
            cost += (G_COLD_ACCOUNT_ACCESS if state.warm_address(delegate) else G_WARM_ACCESS)
    if value:
        if kind == CALL and f.is_static:
            raise WriteProtection
        cost += G_CALLVALUE
    if kind == CALL:
        if ordinal >= F.SPURIOUS_DRAGON:
            if value and state.is_empty(target):  # EIP-161
                cost += G_NEWACCOUNT
        elif target not in state.accounts:
            cost += G_NEWACCOUNT
    charge(f, cost)
    if ordinal >= F.TANGERINE_WHISTLE:
        available = f.gas - f.gas // 64  # EIP-150
        give = min(available, gas_requested)
    else:
        give = gas_requested
        if give > f.gas:
            raise OutOfGas
    f.gas -= give
    if value:
        give += G_CALLSTIPEND
    f.return_data = b""
    if f.depth + 1 > CALL_DEPTH_LIMIT or (value and state.balance(f.address) < value):
        f.gas += give
        s.append(0)
        return pc + 1
    calldata = bytes(f.memory[in_offset:in_offset + in_size]) if in_size else b""
    if kind == CALL:
        result = message_call(evm, CALL, f.address, target, code_address, value, calldata, give,
                              f.depth + 1, f.is_static)
    elif kind == CALLCODE:
        result = message_call(evm, CALLCODE, f.address, f.address, code_address, value, calldata,
                              give, f.depth + 1, f.is_static)
    elif kind == DELEGATECALL:
        result = message_call(evm, DELEGATECALL, f.caller, f.address, code_address, 0, calldata,
                              give, f.depth + 1, f.is_static, apparent_value=f.value)
    else:
        result = message_call(evm, STATICCALL, f.address, target, code_address, 0, calldata, give,
                              f.depth + 1, True)
    if isinstance(result, Immediate):
        f.gas += result.gas_left
        if result.success:
            s.append(1)
            output = result.output
            f.return_data = output
            size = min(out_size, len(output))
            if size:
                f.memory[out_offset:out_offset + size] = output[:size]
        else:
            s.append(0)
        return pc + 1
    result.ret_offset = out_offset
    result.ret_size = out_size
    f.pc = pc + 1
    raise CallRequest(result)


def op_call(f: Frame, s: list[int], pc: int) -> int:
    return _call(f, s, pc, CALL)


def op_callcode(f: Frame, s: list[int], pc: int) -> int:
    return _call(f, s, pc, CALLCODE)


def op_delegatecall(f: Frame, s: list[int], pc: int) -> int:  # EIP-7
    return _call(f, s, pc, DELEGATECALL)


def op_staticcall(f: Frame, s: list[int], pc: int) -> int:  # EIP-214
    return _call(f, s, pc, STATICCALL)


def op_invalid(f: Frame, s: list[int], pc: int) -> int:
    raise InvalidOpcode(f"invalid opcode 0x{f.code[pc]:02x}")


def op_selfdestruct(f: Frame, s: list[int], pc: int) -> int:
    if f.is_static:
        raise WriteProtection
    beneficiary = to_address(s.pop())
    evm = f.evm
    state = f.state
    ordinal = evm.ordinal
    address = f.address
    balance = state.balance(address)
    cost = 0
    if ordinal >= F.BERLIN and state.warm_address(beneficiary):
        cost += G_COLD_ACCOUNT_ACCESS  # EIP-2929
    if ordinal >= F.SPURIOUS_DRAGON:
        if balance and state.is_empty(beneficiary):  # EIP-161
            cost += G_NEWACCOUNT
    elif ordinal >= F.TANGERINE_WHISTLE and beneficiary not in state.accounts:  # EIP-150
        cost += G_NEWACCOUNT
    charge(f, cost)
    if ordinal < F.LONDON and address not in state.destructed:
        state.add_refund(24000)  # removed by EIP-3529
    if ordinal >= F.CANCUN and address not in state.created:
        # EIP-6780: only moves the balance unless created in this transaction.
        if beneficiary != address:
            state.sub_balance(address, balance)
            state.add_balance(beneficiary, balance)
        raise Stop
    state.add_balance(beneficiary, balance)
    state.set_balance(address, 0)
    state.mark_destructed(address)
    raise Stop
