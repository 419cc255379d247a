"""The interpreter loop and the frame driver.

`execute` runs one frame until it halts or asks for a child frame; `run`
drives a stack of frames without Python recursion, so call depth 1024 needs
no deep interpreter stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainvm.evm.compiler import compiled_for, execute_compiled
from chainvm.evm.errors import (
    ExceptionalHalt,
    OutOfGas,
    Revert,
    StackOverflow,
    StackUnderflow,
    Stop,
)
from chainvm.evm.frame import KIND_CREATE, CallRequest, Frame, TierUp
from chainvm.evm.instructions.direct import NATIVE, call_body
from chainvm.evm.instructions.stack_memory import jump_after_push
from chainvm.evm.vm import finish_frame, resume_parent

if TYPE_CHECKING:
    from chainvm.evm.vm import EVM


def execute(f: Frame) -> Frame | None:
    """Run `f` until it halts (returns None; f.error says how) or calls (returns the child).

    PUSH, DUP and SWAP (about half of all executed instructions) run inline;
    every other opcode is a call through the fork's table (in the native build, JUMPDEST
    inline and pushed jumps as one step too, see `native` below). Gas lives in a
    local and is synced to the frame only around those calls. When a loop head
    gets hot (TierUp, raised by the counting JUMP/JUMPI), the frame goes on in
    the compiled tier from there.

    Stack bounds: a body that finds too few items raises IndexError before it
    has any effect, which is a stack underflow; the only ops that grow the
    stack (PUSH, DUP here, and zero-input ops wrapped by the fork table) check
    the 1024 limit first. This keeps the happy path free of per-step checks.
    """
    opcodes = f.evm.opcodes
    fns = opcodes.loop_fns
    static_gas = opcodes.static_gas
    # The native build calls most bodies by number, without Python's call protocol
    # (instructions/direct.py); interpreted, the table's call is the cheaper one. It also
    # runs JUMPDEST inline and a PUSH1 or PUSH2 with the JUMP or JUMPI after it as one
    # step (jump_after_push): there a destination's trip through the stack list (a list
    # run empty between blocks is reallocated at each push and pop) is most of a jump's
    # cost. Interpreted, the tests on every PUSH and every other op cost about what they
    # save (docs/performance.md, "pushed jumps"). With NATIVE set, the pure package runs
    # the same paths (its direct numbers are all 0), which is how tests reach them.
    native = NATIVE
    direct = opcodes.direct_loop
    code = f.code
    stack = f.stack
    # PUSH, DUP and SWAP move items through untyped names for the stack and the PUSH
    # values: the native build turns an int read from a list[int] into a C integer when
    # it fits in 62 bits and boxes it again when it goes back, a new int object per DUP
    # and two per SWAP; typed list[Any] it moves the reference (annotations only: the
    # pure package runs the same byte code).
    items: list[Any] = stack
    push_values: dict[int, Any] = f.push_values
    pc = f.pc
    gas = f.gas
    try:
        while True:
            op = code[pc]
            gas -= static_gas[op]
            if gas < 0:
                raise OutOfGas
            # One comparison per range (a chained 0x60 <= op <= 0x9F costs 4 more
            # dispatches than `op >= 0x60` for every instruction). The ops below PUSH1
            # come first, so that their jump over the call is short: in the pure package,
            # a jump over the PUSH, DUP and SWAP sections would need an EXTENDED_ARG, and
            # CPython 3.11 then no longer specialises the comparison (+88 CPU instructions
            # a step, callgrind).
            if op < 0x60:
                f.gas = gas
                if native:
                    if op == 0x5B:  # JUMPDEST: its gas, charged above, is all it does
                        pc += 1
                        continue
                    k = direct[op]
                    if k:
                        pc = call_body(k, f, stack, pc)
                        gas = f.gas
                        continue
                pc = fns[op](f, stack, pc)
                gas = f.gas
                continue
            if op < 0x80:  # PUSH1..PUSH32
                if len(stack) > 1023:
                    raise StackOverflow
                # PUSH1 and PUSH2 (most PUSHes) read the code: no PushValues miss.
                if op < 0x62:
                    value = code[pc + 1] if op == 0x60 else code[pc + 1] << 8 | code[pc + 2]
                    pc += op - 0x5E
                    # (The usual case first: its `continue` then jumps back without an
                    # EXTENDED_ARG in the pure package.)
                    if not native or code[pc] & 0xFE != 0x56:
                        stack.append(value)
                        continue
                    # A JUMP or JUMPI to it: one step.
                    gas -= static_gas[code[pc]]
                    if gas < 0:
                        raise OutOfGas
                    f.gas = gas
                    pc = jump_after_push(f, stack, value, pc)
                    continue
                items.append(push_values[pc])
                pc += op - 0x5E
                continue
            if op < 0x90:  # DUP1..DUP16
                if len(stack) > 1023:
                    raise StackOverflow
                items.append(items[0x7F - op])
                pc += 1
                continue
            if op < 0xA0:  # SWAP1..SWAP16
                i = 0x8E - op
                items[-1], items[i] = items[i], items[-1]
                pc += 1
                continue
            # LOG, CREATE, CALL, RETURN and the rest: as the ops below PUSH1 (the same
            # lines: one block for both would cost a comparison on every PUSH, DUP, SWAP).
            f.gas = gas
            if native:
                k = direct[op]
                if k:
                    pc = call_body(k, f, stack, pc)
                    gas = f.gas
                    continue
            pc = fns[op](f, stack, pc)
            gas = f.gas
    except CallRequest as request:
        return request.child
    except TierUp:  # f.pc is the loop head; f.gas and f.stack are exact
        f.blocks = compiled_for(f.analysis, f.evm.opcodes)
    except Stop:
        f.error = None
        return None
    except Revert as e:
        f.error = e
        return None
    except ExceptionalHalt as e:
        f.error = e
        f.gas = 0
        return None
    except IndexError:
        f.error = StackUnderflow()
        f.gas = 0
        return None
    return execute_compiled(f, f.blocks)


# CALL, CALLCODE, DELEGATECALL, STATICCALL: the steps whose gasCost includes forwarded gas.
_CALL_OPS = frozenset((0xF1, 0xF2, 0xF4, 0xFA))


def execute_traced(f: Frame) -> Frame | None:
    """Like `execute`, reporting each step to the EVM's tracer before its effects are lost."""
    opcodes = f.evm.opcodes
    tracer = f.evm.tracer
    assert tracer is not None
    fns = opcodes.fns
    static_gas = opcodes.static_gas
    stack_ranges = opcodes.stack_ranges
    names = opcodes.names
    code = f.code
    stack = f.stack
    pc = f.pc
    state = f.state
    wants_memory = tracer.wants_memory
    while True:
        op = code[pc]
        gas_before = f.gas
        stack_before = list(stack)
        mem_before = len(f.memory) + f.memory_tail
        refund_before = state.refund
        tracer.return_data = f.return_data
        if wants_memory:
            tracer.memory_before = bytes(f.memory) + bytes(f.memory_tail)
        try:
            gas = f.gas - static_gas[op]
            if gas < 0:
                raise OutOfGas
            f.gas = gas
            if len(stack) not in stack_ranges[op]:
                if len(stack) < stack_ranges[op].start:
                    raise StackUnderflow
                raise StackOverflow
            new_pc = fns[op](f, stack, pc)
        except CallRequest as request:
            cost = gas_before - f.gas
            tracer.step(f, pc, op, gas_before, cost, stack_before, mem_before, refund_before,
                        names[op], None)
            return request.child
        except Stop:
            tracer.step(f, pc, op, gas_before, gas_before - f.gas, stack_before, mem_before,
                        refund_before, names[op], None)
            f.error = None
            return None
        except Revert as e:
            tracer.step(f, pc, op, gas_before, gas_before - f.gas, stack_before, mem_before,
                        refund_before, names[op], None)
            f.error = e
            return None
        except ExceptionalHalt as e:
            tracer.step(f, pc, op, gas_before, gas_before - f.gas, stack_before, mem_before,
                        refund_before, names[op], str(e))
            f.error = e
            f.gas = 0
            return None
        cost = gas_before - f.gas
        if op in _CALL_OPS:
            # A call that needed no frame (precompile, no code, early failure) has already
            # given back what the callee left; geth's gasCost counts the gas forwarded.
            cost += f.evm.call_gas_returned
            f.evm.call_gas_returned = 0
        tracer.step(f, pc, op, gas_before, cost, stack_before, mem_before, refund_before,
                    names[op], None)
        pc = new_pc


def run(evm: EVM, root: Frame) -> Frame:
    """Drive `root` and every frame it spawns to completion; returns the finished root."""
    tracing = evm.tracer is not None
    frames = [root]
    f = root
    while True:
        if tracing:
            child = execute_traced(f)
        elif f.blocks is not None:
            child = execute_compiled(f, f.blocks)
        else:
            child = execute(f)
        if child is not None:
            frames.append(child)
            f = child
            continue
        if f.error is not None or f.kind == KIND_CREATE:
            finish_frame(evm, f)  # a code deposit, or the revert of a failed frame
            if f.error is not None:
                # A halt is an outcome, not a Python error: its traceback would only tie the
                # frame into a reference cycle (frame, error, traceback, the executor's
                # Python frame holding the frame) that is left for the cyclic GC to free.
                f.error.__traceback__ = None
        if tracing:
            _report_exit(evm, f)
        frames.pop()
        if f.calldata.__class__ is memoryview:
            f.calldata = b""  # a view of the caller's memory, which may grow again now
        if not frames:
            return f
        parent = frames[-1]
        error = f.error
        if f.kind != KIND_CREATE and (error is None or isinstance(error, Revert)):
            # A call that returned or reverted hands back its output (inline: the common case).
            parent.gas += f.gas
            parent.stack.append(1 if error is None else 0)
            output = f.output
            parent.return_data = output
            size = f.ret_size
            if size and output:
                if size > len(output):  # noqa: PLR1730 (min() costs ~1,200 instructions)
                    size = len(output)
                offset = f.ret_offset
                parent.memory[offset:offset + size] = output[:size]
        else:
            resume_parent(parent, f)
        f = parent


def _report_exit(evm: EVM, f: Frame) -> None:
    assert evm.tracer is not None
    error = f.error
    if error is None:
        evm.tracer.exit(b"" if f.kind == KIND_CREATE else f.output, f.start_gas - f.gas, None,
                        f.address if f.kind == KIND_CREATE else None)
    else:
        reverted = isinstance(error, Revert)
        evm.tracer.exit(f.output if reverted else b"", f.start_gas - f.gas,
                        "execution reverted" if reverted else str(error), None)


__all__ = ["KIND_CREATE", "execute", "execute_traced", "run"]
