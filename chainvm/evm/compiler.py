"""The compiled tier: hot code translated into one Python function per basic block.

A block runs from a block start (pc 0, a JUMPDEST, or the instruction after a
block-ending one) to its last instruction. Its function checks the block's
stack needs and charges its static gas once at entry, keeps stack items in
local variables (PUSH, DUP, SWAP and POP cost nothing at run time), evaluates
pure arithmetic inline and calls the interpreter's opcode bodies for
everything else, writing the live items back to the real stack first.

Why checking at entry is exact: any failure inside a block (out of gas, stack
underflow or overflow) is an exceptional halt, which discards every effect of
the frame and burns its gas, so failing at entry ends identically. The
instructions whose behaviour depends on the gas left (GAS, the CALL and
CREATE families, SSTORE's EIP-2200 sentry) end their block, so all of the
block's static gas has been charged when they run, exactly as in the
interpreter. CALL and CREATE hand a child frame to the driver; the instruction
after them starts a block, where execution resumes.

The interpreter stays the reference (and runs all traced execution); a
frame switches to compiled blocks when its code is entered often or loops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chainvm.evm.errors import (
    ExceptionalHalt,
    InvalidJump,
    OutOfGas,
    Revert,
    StackOverflow,
    StackUnderflow,
    Stop,
)
from chainvm.evm.frame import COMPILE_MODE, CallRequest, Frame
from chainvm.evm.instructions.common import expand_memory

if TYPE_CHECKING:
    from chainvm.evm.analysis import CodeAnalysis
    from chainvm.evm.forks import Fork

Block = Callable[[Frame, list[int]], int]

M = (1 << 256) - 1
SIGN = 1 << 255

# Straight-line code is cut into blocks of at most this many instructions: CPython's
# compiler slows down sharply on very long functions.
MAX_BLOCK_LENGTH = 128
# A block is translated on its next run after this many interpreted ones: code that runs
# once (most of a typical transaction) never pays for translation.
BLOCK_THRESHOLD = 0 if COMPILE_MODE == "always" else 16
BLOCK_WORK_THRESHOLD = 0 if COMPILE_MODE == "always" else 2000

# Instructions after which a block ends.
_ENDS_BLOCK = frozenset({
    0x00, 0x56, 0x57, 0xF3, 0xFD, 0xFE, 0xFF,  # STOP JUMP JUMPI RETURN REVERT INVALID SELFDESTRUCT
    0x5A, 0x55,                                # GAS, SSTORE (read the gas left)
    0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA,        # CREATE and CALL families (child frames)
})

# Pure operations evaluated inline: opcode -> (operands, expression over a, b, c).
# `a` is the top of the stack, `b` the next, `c` the third.
_PURE: dict[int, tuple[int, str]] = {
    0x01: (2, "(a + b) & M"),
    0x02: (2, "(a * b) & M"),
    0x03: (2, "(a - b) & M"),
    0x04: (2, "a // b if b else 0"),
    0x06: (2, "a % b if b else 0"),
    0x08: (3, "(a + b) % c if c else 0"),
    0x09: (3, "(a * b) % c if c else 0"),
    0x10: (2, "1 if a < b else 0"),
    0x11: (2, "1 if a > b else 0"),
    0x12: (2, "1 if (a ^ SIGN) < (b ^ SIGN) else 0"),
    0x13: (2, "1 if (a ^ SIGN) > (b ^ SIGN) else 0"),
    0x14: (2, "1 if a == b else 0"),
    0x15: (1, "0 if a else 1"),
    0x16: (2, "a & b"),
    0x17: (2, "a | b"),
    0x18: (2, "a ^ b"),
    0x19: (1, "M ^ a"),
    0x1A: (2, "(b >> (248 - (a << 3))) & 0xFF if a < 32 else 0"),
    0x1B: (2, "(b << a) & M if a < 256 else 0"),
    0x1C: (2, "b >> a if a < 256 else 0"),
    0x05: (2, "sdiv(a, b)"),
    0x07: (2, "smod(a, b)"),
    0x0B: (2, "signextend(a, b)"),
    0x1D: (2, "sar(a, b)"),
}


def _sdiv(a: int, b: int) -> int:
    if b == 0:
        return 0
    negative = (a ^ b) & SIGN
    a = (1 << 256) - a if a & SIGN else a
    b = (1 << 256) - b if b & SIGN else b
    q = a // b
    return ((1 << 256) - q) & M if negative else q & M


def _smod(a: int, b: int) -> int:
    if b == 0:
        return 0
    negative = a & SIGN
    a = (1 << 256) - a if negative else a
    b = (1 << 256) - b if b & SIGN else b
    r = a % b
    return ((1 << 256) - r) & M if negative else r


def _signextend(a: int, b: int) -> int:
    if a >= 31:
        return b
    bit = (a << 3) + 7
    mask = (1 << bit) - 1
    return (b | (M ^ mask)) if (b >> bit) & 1 else (b & mask)


def _sar(a: int, b: int) -> int:
    if b & SIGN:
        return ((b - (1 << 256)) >> a) & M if a < 256 else M
    return b >> a if a < 256 else 0
# Opcodes whose pure form exists only from some fork on: the table decides availability.
_MIN_ORDINAL = {0x1B: 5, 0x1C: 5}


def _substitute(expr: str, names: list[str]) -> str:
    """Replace the operand letters a, b, c (whole words only) by their value names."""
    import re

    return re.sub(r"\b[abc]\b", lambda m: names["abc".index(m.group())], expr)


class _BlockWriter:
    """Emits one block's source, tracking the stack symbolically."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sym: list[str] = []  # items above the real stack, bottom first
        self.consumed = 0  # real-stack items read into locals and logically popped
        self.counter = 0

    def fresh(self) -> str:
        self.counter += 1
        return f"v{self.counter}"

    def pop(self) -> str:
        if self.sym:
            return self.sym.pop()
        self.consumed += 1
        name = self.fresh()
        self.lines.append(f"{name} = stack[-{self.consumed}]")
        return name

    def peek(self, depth: int) -> str:
        """The item `depth` places below the top (1 = top), reading the real stack if needed."""
        while len(self.sym) < depth:
            self.consumed += 1
            name = self.fresh()
            self.lines.append(f"{name} = stack[-{self.consumed}]")
            self.sym.insert(0, name)
        return self.sym[-depth]

    def flush(self) -> None:
        """Write the symbolic items back so that the real stack is exact."""
        items = ", ".join(self.sym)
        if self.consumed:
            if self.sym:
                self.lines.append(f"stack[-{self.consumed}:] = [{items}]")
            else:
                self.lines.append(f"del stack[-{self.consumed}:]")
        elif self.sym:
            if len(self.sym) == 1:
                self.lines.append(f"append({items})")
            else:
                self.lines.append(f"stack.extend(({items},))")
        self.sym = []
        self.consumed = 0


def _stack_bounds(ops: list[int], fork: Fork) -> tuple[int, int]:
    """(items needed at entry, most items added above the entry height)."""
    height = 0
    lowest = 0
    highest = 0
    for op in ops:
        spec = fork.table.get(op)
        if spec is None:
            break
        lowest = min(lowest, height - spec.pops)
        height += spec.pushes - spec.pops
        highest = max(highest, height)
    return -lowest, highest


def _compile_block(start: int, pcs: list[int], analysis: CodeAnalysis, fork: Fork,
                   env: dict[str, object]) -> str:
    code = analysis.padded
    ops = [code[pc] for pc in pcs]
    need, grow = _stack_bounds(ops, fork)
    static = sum(fork.static_gas[op] for op in ops)
    w = _BlockWriter()
    head = [f"def block_{start}(f, stack):"]
    if need:
        head.append(f"    if len(stack) < {need}: raise StackUnderflow")
    if grow:
        head.append(f"    if len(stack) > {1024 - grow}: raise StackOverflow")
    if static:
        head.append(f"    gas = f.gas - {static}")
        head.append("    if gas < 0: raise OutOfGas")
        head.append("    f.gas = gas")
    head.append("    append = stack.append")
    ends_with_exit = False
    for pc, op in zip(pcs, ops, strict=True):
        spec = fork.table.get(op)
        if spec is None:
            w.lines.append(f"raise InvalidOpcode('invalid opcode 0x{op:02x}')")
            ends_with_exit = True
            break
        if 0x60 <= op <= 0x7F:
            w.sym.append(str(analysis.push_values[pc]))
        elif op == 0x5F:
            w.sym.append("0")
        elif 0x80 <= op <= 0x8F:
            depth = op - 0x7F
            if depth <= len(w.sym):
                w.sym.append(w.sym[-depth])
            else:  # read the item in place, without taking the ones above it off the stack
                name = w.fresh()
                w.lines.append(f"{name} = stack[-{w.consumed + depth - len(w.sym)}]")
                w.sym.append(name)
        elif 0x90 <= op <= 0x9F:
            depth = op - 0x8E
            if depth <= len(w.sym):
                w.sym[-1], w.sym[-depth] = w.sym[-depth], w.sym[-1]
            else:
                w.flush()
                w.lines.append(f"stack[-1], stack[-{depth}] = stack[-{depth}], stack[-1]")
        elif op == 0x50:
            w.pop()
        elif op == 0x5B:
            pass
        elif op == 0x58:
            w.sym.append(str(pc))
        elif op in _PURE and spec.body is fork.fns[op] and \
                fork.ordinal >= _MIN_ORDINAL.get(op, 0):
            arity, expr = _PURE[op]
            names = [w.pop() for _ in range(arity)]
            expr = _substitute(expr, names)
            result = w.fresh()
            w.lines.append(f"{result} = {expr}")
            w.sym.append(result)
        elif op == 0x51:  # MLOAD
            offset = w.pop()
            result = w.fresh()
            w.lines.append(f"if {offset} + 32 > len(f.memory): expand_memory(f, {offset}, 32)")
            w.lines.append(f"{result} = int.from_bytes(f.memory[{offset}:{offset} + 32], 'big')")
            w.sym.append(result)
        elif op == 0x52:  # MSTORE
            offset = w.pop()
            value = w.pop()
            w.lines.append(f"if {offset} + 32 > len(f.memory): expand_memory(f, {offset}, 32)")
            w.lines.append(f"f.memory[{offset}:{offset} + 32] = ({value}).to_bytes(32, 'big')")
        elif op == 0x56:  # JUMP
            dest = w.pop()
            w.flush()
            if dest.isdigit():
                if int(dest) in analysis.jumpdests:
                    w.lines.append(f"return {dest}")
                else:
                    w.lines.append("raise InvalidJump")
            else:
                w.lines.append(f"if {dest} not in jumpdests: raise InvalidJump")
                w.lines.append(f"return {dest}")
            ends_with_exit = True
        elif op == 0x57:  # JUMPI
            dest = w.pop()
            cond = w.pop()
            w.flush()
            w.lines.append(f"if {cond}:")
            if dest.isdigit():
                if int(dest) in analysis.jumpdests:
                    w.lines.append(f"    return {dest}")
                else:
                    w.lines.append("    raise InvalidJump")
            else:
                w.lines.append(f"    if {dest} not in jumpdests: raise InvalidJump")
                w.lines.append(f"    return {dest}")
            w.lines.append(f"return {pc + 1}")
            ends_with_exit = True
        elif op == 0x00:
            w.lines.append("raise Stop")
            ends_with_exit = True
        else:
            # Everything else runs the interpreter's body on the real stack.
            w.flush()
            fn_name = f"op_{op:02x}"
            env[fn_name] = fork.fns[op]
            if op in _ENDS_BLOCK:
                w.lines.append(f"return {fn_name}(f, stack, {pc})")
                ends_with_exit = True
            else:
                w.lines.append(f"{fn_name}(f, stack, {pc})")
    if not ends_with_exit:
        w.flush()
        if pcs:
            last = pcs[-1]
            last_op = code[last]
            w.lines.append(f"return {last + (last_op - 0x5E if 0x60 <= last_op <= 0x7F else 1)}")
        else:
            w.lines.append("raise Stop")
    return "\n".join(head + ["    " + line for line in w.lines]) + "\n"


def _base_env(analysis: CodeAnalysis) -> dict[str, object]:
    from chainvm.evm.errors import InvalidOpcode

    return {
        "M": M, "SIGN": SIGN, "Stop": Stop, "InvalidJump": InvalidJump, "OutOfGas": OutOfGas,
        "StackUnderflow": StackUnderflow, "StackOverflow": StackOverflow,
        "InvalidOpcode": InvalidOpcode, "expand_memory": expand_memory,
        "jumpdests": analysis.jumpdests, "sdiv": _sdiv, "smod": _smod,
        "signextend": _signextend, "sar": _sar,
    }


def _build_block(start: int, pcs: list[int], analysis: CodeAnalysis, fork: Fork) -> Block:
    env = _base_env(analysis)
    source = _compile_block(start, pcs, analysis, fork, env)
    exec(compile(source, f"<chainvm {fork.name} block {start}>", "exec"), env)  # noqa: S102
    return env[f"block_{start}"]  # type: ignore[return-value]


def _block_interpreter(pcs: list[int], analysis: CodeAnalysis, fork: Fork) -> Block:
    """Run a block through the interpreter's bodies, with the compiled block's entry checks."""
    code = analysis.padded
    ops = [code[pc] for pc in pcs]
    need, grow = _stack_bounds(ops, fork)
    static = sum(fork.static_gas[op] for op in ops)
    steps = [(fork.fns[op], pc) for op, pc in zip(ops, pcs, strict=True)]
    limit = 1024 - grow
    end = analysis.size
    if pcs:
        end = pcs[-1] + (ops[-1] - 0x5E if 0x60 <= ops[-1] <= 0x7F else 1)

    def interpret(f: Frame, stack: list[int]) -> int:
        if len(stack) < need:
            raise StackUnderflow
        if len(stack) > limit:
            raise StackOverflow
        gas = f.gas - static
        if gas < 0:
            raise OutOfGas
        f.gas = gas
        next_pc = end
        for fn, pc in steps:
            next_pc = fn(f, stack, pc)
        return next_pc

    return interpret


def _scan_block(analysis: CodeAnalysis, fork: Fork, start: int) -> list[int]:
    """Instruction pcs of the block starting at `start`.

    A block ends before a JUMPDEST, after a block-ending instruction or an undefined
    opcode, or at MAX_BLOCK_LENGTH instructions; starting from any block start the
    cut is the same, so blocks can be found on demand.
    """
    code = analysis.padded
    size = analysis.size
    pcs: list[int] = []
    pc = start
    while pc < size:
        op = code[pc]
        if op == 0x5B and pcs:
            break
        pcs.append(pc)
        pc += op - 0x5E if 0x60 <= op <= 0x7F else 1
        if op in _ENDS_BLOCK or fork.table.get(op) is None or len(pcs) >= MAX_BLOCK_LENGTH:
            break
    return pcs


class CompiledCode:
    """The compiled tier's view of one code under one fork: blocks built on demand.

    `table[pc]` is None until the block starting at pc first runs; then a
    counting wrapper runs it through the interpreter's bodies, and after
    BLOCK_THRESHOLD runs it is replaced by the translated function.
    """

    __slots__ = ("analysis", "fork", "table")

    def __init__(self, analysis: CodeAnalysis, fork: Fork) -> None:
        self.analysis = analysis
        self.fork = fork
        size = analysis.size
        self.table: list[Block | None] = [None] * (size + 34)
        # Past the end of the code every pc is a STOP (a PUSH cut short continues there).
        stop = _build_block(size, [], analysis, fork)
        for pc in range(size, size + 34):
            self.table[pc] = stop

    def block_at(self, start: int) -> Block:
        analysis = self.analysis
        fork = self.fork
        pcs = _scan_block(analysis, fork, start)
        table = self.table
        if BLOCK_THRESHOLD == 0:
            block = _build_block(start, pcs, analysis, fork)
            table[start] = block
            return block
        interpret = _block_interpreter(pcs, analysis, fork)
        # Translation costs about as much as interpreting a few thousand instructions, so
        # short blocks must run more often before they are worth translating.
        runs = max(BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD // max(len(pcs), 1))

        def run_or_compile(f: Frame, stack: list[int]) -> int:
            nonlocal runs
            runs -= 1
            if runs >= 0:
                return interpret(f, stack)
            block = _build_block(start, pcs, analysis, fork)
            table[start] = block
            return block(f, stack)

        table[start] = run_or_compile
        return run_or_compile


def compiled_for(analysis: CodeAnalysis, fork: Fork) -> CompiledCode:
    code = analysis.compiled.get(fork.name)
    if code is None:
        code = CompiledCode(analysis, fork)
        analysis.compiled[fork.name] = code
    return code


def execute_compiled(f: Frame, code: CompiledCode) -> Frame | None:
    """Run `f` through compiled blocks; same contract as interpreter.execute."""
    stack = f.stack
    pc = f.pc
    table = code.table
    try:
        while True:
            block = table[pc]
            if block is None:
                block = code.block_at(pc)
            pc = block(f, stack)
    except CallRequest as request:
        return request.child
    except Stop:
        f.error = None
    except Revert as e:
        f.error = e
    except ExceptionalHalt as e:
        f.error = e
        f.gas = 0
    except IndexError:  # a body found too few items (only reachable through bugs)
        f.error = StackUnderflow()
        f.gas = 0
    return None
