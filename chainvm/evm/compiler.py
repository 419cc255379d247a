"""The compiled tier: hot code translated into one Python function per basic block.

A block runs from an entry (pc 0, a jump destination, or the instruction after
a block-ending one) to a jump, a halt, or an instruction that reads the gas left
or starts a child frame; JUMPDESTs inside it are no-ops. Its function checks the block's
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
from chainvm.evm.frame import BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD, CallRequest, Frame
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
# One translated function follows constant jumps and JUMPI fall-throughs through several
# blocks (see _compile_block), up to about this many instructions.
MAX_TRACE_LENGTH = 256

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


def _plus(name: str, n: int) -> str:
    """Source for name + n, folded when name is a constant."""
    return str(int(name) + n) if name.isdigit() else f"{name} + {n}"


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
        self.loaded: dict[int, str] = {}  # k -> the local holding stack[-k] (until a flush)

    def fresh(self) -> str:
        self.counter += 1
        return f"v{self.counter}"

    def read(self, k: int) -> str:
        """The local holding the real stack's stack[-k], loading it on first use."""
        name = self.loaded.get(k)
        if name is None:
            name = self.fresh()
            self.lines.append(f"{name} = stack[-{k}]")
            self.loaded[k] = name
        return name

    def pop(self) -> str:
        if self.sym:
            return self.sym.pop()
        self.consumed += 1
        return self.read(self.consumed)

    def peek(self, depth: int) -> str:
        """The item `depth` places below the top (1 = top), reading the real stack if needed."""
        while len(self.sym) < depth:
            self.consumed += 1
            self.sym.insert(0, self.read(self.consumed))
        return self.sym[-depth]

    def flush_lines(self) -> list[str]:
        """Source that writes the symbolic items back so that the real stack is exact."""
        items = ", ".join(self.sym)
        if self.consumed:
            if self.sym:
                return [f"stack[-{self.consumed}:] = [{items}]"]
            return [f"del stack[-{self.consumed}:]"]
        if self.sym:
            if len(self.sym) == 1:
                return [f"append({items})"]
            return [f"stack.extend(({items},))"]
        return []

    def flush(self) -> None:
        """Write the symbolic items back (on the straight path) and start afresh."""
        self.lines.extend(self.flush_lines())
        self.sym = []
        self.consumed = 0
        self.loaded = {}


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


def _exit_lines(dest: str, analysis: CodeAnalysis) -> list[str]:
    """Leave the function for jump destination `dest` (a constant or a local's name)."""
    if dest.isdigit():
        return [f"return {dest}" if int(dest) in analysis.jumpdests else "raise InvalidJump"]
    return [f"if {dest} not in jumpdests: raise InvalidJump", f"return {dest}"]


def _compile_block(start: int, analysis: CodeAnalysis, fork: Fork,
                   env: dict[str, object]) -> str:
    """Source of the function entered at `start`: a trace of blocks.

    After a JUMP to a constant destination, or at the fall-through of a JUMPI, the
    trace goes on with the next block in the same function (until MAX_TRACE_LENGTH
    instructions or a block already in the trace): stack items stay in locals across
    the blocks, and each block still checks its stack bounds and charges its static
    gas at its own entry, exactly as if it had been entered from the dispatcher.
    """
    code = analysis.padded
    size = analysis.size
    w = _BlockWriter()
    lines = w.lines
    in_trace: set[int] = set()
    total = 0
    uses_memory = False
    loops = False
    segment: int | None = start
    while segment is not None:
        pcs = _scan_block(analysis, fork, segment)
        in_trace.add(segment)
        total += len(pcs)
        ops = [code[pc] for pc in pcs]
        need, grow = _stack_bounds(ops, fork)
        static = sum(fork.static_gas[op] for op in ops)
        # The real stack is shorter than the trace's view by consumed - len(sym) items.
        shift = w.consumed - len(w.sym)
        if need + shift > 0:
            lines.append(f"if len(stack) < {need + shift}: raise StackUnderflow")
        if grow and 1024 - grow + shift < 1024:
            lines.append(f"if len(stack) > {1024 - grow + shift}: raise StackOverflow")
        if static:
            lines.append(f"gas = f.gas - {static}")
            lines.append("if gas < 0: raise OutOfGas")
            lines.append("f.gas = gas")
        can_extend = total < MAX_TRACE_LENGTH
        segment = None
        exited = False
        for pc, op in zip(pcs, ops, strict=True):
            spec = fork.table.get(op)
            if spec is None:
                lines.append(f"raise InvalidOpcode('invalid opcode 0x{op:02x}')")
                exited = True
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
                    w.sym.append(w.read(w.consumed + depth - len(w.sym)))
            elif 0x90 <= op <= 0x9F:
                depth = op - 0x8E
                w.peek(depth)  # load the items down to `depth` into locals; swap the names
                w.sym[-1], w.sym[-depth] = w.sym[-depth], w.sym[-1]
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
                lines.append(f"{result} = {expr}")
                w.sym.append(result)
            elif op == 0x51:  # MLOAD
                offset = w.pop()
                end = _plus(offset, 32)
                result = w.fresh()
                lines.append(f"if {end} > len(mem): expand_memory(f, {offset}, 32)")
                lines.append(f"{result} = int.from_bytes(mem[{offset}:{end}], 'big')")
                w.sym.append(result)
                uses_memory = True
            elif op == 0x52:  # MSTORE
                offset = w.pop()
                value = w.pop()
                end = _plus(offset, 32)
                lines.append(f"if {end} > len(mem): expand_memory(f, {offset}, 32)")
                lines.append(f"mem[{offset}:{end}] = ({value}).to_bytes(32, 'big')")
                uses_memory = True
            elif op == 0x56:  # JUMP
                dest = w.pop()
                if dest == str(start):  # a loop closing on the function's entry
                    w.flush()
                    lines.append("continue")
                    loops = True
                    exited = True
                elif (can_extend and dest.isdigit() and int(dest) in analysis.jumpdests
                        and int(dest) not in in_trace):
                    segment = int(dest)
                else:
                    w.flush()
                    lines.extend(_exit_lines(dest, analysis))
                    exited = True
            elif op == 0x57 and w.sym[-2:-1] == ["0"]:  # JUMPI never taken: only pops
                w.pop()
                w.pop()
            elif op == 0x57:  # JUMPI
                dest = w.pop()
                cond = w.pop()
                taken = int(dest) if dest.isdigit() and int(dest) in analysis.jumpdests else None
                if (can_extend and taken is not None and taken not in in_trace
                        and _is_failure_path(analysis, fork, pc + 1)):
                    # An assertion: the fall-through fails, so the trace follows the jump.
                    if not (cond.isdigit() and cond != "0"):  # a constant is always taken
                        lines.append(f"if not {cond}:")
                        lines.extend("    " + line
                                     for line in w.flush_lines() + [f"return {pc + 1}"])
                    segment = taken
                    continue
                lines.append(f"if {cond}:")
                if taken == start:
                    lines.extend("    " + line for line in w.flush_lines() + ["continue"])
                    loops = True
                else:
                    lines.extend("    " + line
                                 for line in w.flush_lines() + _exit_lines(dest, analysis))
                if pc + 1 == start:
                    w.flush()
                    lines.append("continue")
                    loops = True
                    exited = True
                elif can_extend and pc + 1 < size and pc + 1 not in in_trace:
                    segment = pc + 1
                else:
                    w.flush()
                    lines.append(f"return {pc + 1}")
                    exited = True
            elif op == 0x00:
                lines.append("raise Stop")
                exited = True
            else:
                # Everything else runs the interpreter's body on the real stack.
                w.flush()
                fn_name = f"op_{op:02x}"
                env[fn_name] = fork.fns[op]
                if op in _ENDS_BLOCK:
                    lines.append(f"return {fn_name}(f, stack, {pc})")
                    exited = True
                else:
                    lines.append(f"{fn_name}(f, stack, {pc})")
        if exited or segment is not None:
            continue
        # The block was cut short by its length or by the end of the code: the next
        # entry is there (not followed, so that straight-line code is cut in the same
        # places whichever entry reaches it).
        nxt = pcs[-1] + (ops[-1] - 0x5E if 0x60 <= ops[-1] <= 0x7F else 1) if pcs else size
        w.flush()
        lines.append(f"return {nxt}" if pcs else "raise Stop")
    head = [f"def block_{start}(f, stack):"]
    if uses_memory:  # memory only ever grows in place, so the bytearray can be kept
        head.append("    mem = f.memory")
    if any("append(" in line for line in lines):
        head.append("    append = stack.append")
    if loops:  # the trace jumps back to its own entry: a Python loop, no dispatcher round
        head.append("    while True:")
        lines = ["    " + line for line in lines]
    return "\n".join(head + ["    " + line for line in lines]) + "\n"


def _is_failure_path(analysis: CodeAnalysis, fork: Fork, pc: int) -> bool:
    """Whether the block at pc ends in INVALID or REVERT (an assertion's failure path)."""
    if pc >= analysis.size:
        return False
    pcs = _scan_block(analysis, fork, pc)
    return bool(pcs) and analysis.padded[pcs[-1]] in (0xFD, 0xFE) and len(pcs) <= 16


def _base_env(analysis: CodeAnalysis) -> dict[str, object]:
    from chainvm.evm.errors import InvalidOpcode

    return {
        "M": M, "SIGN": SIGN, "Stop": Stop, "InvalidJump": InvalidJump, "OutOfGas": OutOfGas,
        "StackUnderflow": StackUnderflow, "StackOverflow": StackOverflow,
        "InvalidOpcode": InvalidOpcode, "expand_memory": expand_memory,
        "jumpdests": analysis.jumpdests, "sdiv": _sdiv, "smod": _smod,
        "signextend": _signextend, "sar": _sar,
    }


def _build_block(start: int, analysis: CodeAnalysis, fork: Fork) -> Block:
    env = _base_env(analysis)
    source = _compile_block(start, analysis, fork, env)
    exec(compile(source, f"<chainvm {fork.name} block {start}>", "exec"), env)  # noqa: S102
    return env[f"block_{start}"]  # type: ignore[return-value]


def _scan_block(analysis: CodeAnalysis, fork: Fork, start: int) -> list[int]:
    """Instruction pcs of the block entered at `start`.

    A block runs to a block-ending instruction or an undefined opcode, or stops
    after MAX_BLOCK_LENGTH instructions; a JUMPDEST inside straight-line code is
    only another entry (with its own, overlapping block), so code with many
    JUMPDESTs does not become a chain of one-instruction functions.
    """
    code = analysis.padded
    size = analysis.size
    pcs: list[int] = []
    pc = start
    while pc < size:
        op = code[pc]
        pcs.append(pc)
        pc += op - 0x5E if 0x60 <= op <= 0x7F else 1
        if op in _ENDS_BLOCK or fork.table.get(op) is None or len(pcs) >= MAX_BLOCK_LENGTH:
            break
    return pcs


class CompiledCode:
    """The compiled tier's view of one code under one fork: blocks built on demand.

    `table` has no entry for pc until the code entered at pc has run often enough
    through `cold_step` (see `reaches_needed`); then it holds the translated function.
    """

    __slots__ = ("analysis", "cold_step", "fork", "reaches", "table")

    def __init__(self, analysis: CodeAnalysis, fork: Fork) -> None:
        self.analysis = analysis
        self.fork = fork
        size = analysis.size
        # Entry pc -> its block, for the entries reached often enough (a dict: memory in
        # proportion to the hot code, not to the code's size).
        self.table: dict[int, Block] = {}
        self.reaches = bytearray(size + 34)  # entry -> times cold_step started there

        self.cold_step = self._cold_stepper()

    def _cold_stepper(self) -> Callable[[Frame, list[int], int], int]:
        """`cold_step(f, stack, pc)`: run from pc through the next block-ending instruction.

        Code reached only a few times is not worth any per-block set-up, so it runs
        here with the interpreter's per-instruction checks; an entry reached often
        enough is translated (`reaches_needed`).
        """
        reaches = self.reaches
        code = self.analysis.padded
        push_values = self.analysis.push_values
        static_gas = self.fork.static_gas
        # The fast loop's bodies, but the jumps that do not count loop heads (those raise
        # TierUp, which only the interpreter's loop expects).
        fns = list(self.fork.fast_fns)
        fns[0x56] = self.fork.fns[0x56]
        fns[0x57] = self.fork.fns[0x57]
        block_at = self.block_at
        reaches_needed = self.reaches_needed
        needed: dict[int, int] = {}
        ends_block = _ENDS_BLOCK

        def cold_step(f: Frame, stack: list[int], pc: int) -> int:
            n = reaches[pc] + 1
            if n > BLOCK_THRESHOLD:
                need = needed.get(pc)
                if need is None:
                    need = needed[pc] = reaches_needed(pc)
                if n > need:
                    return block_at(pc)(f, stack)
            reaches[pc] = n
            gas = f.gas
            # Long straight-line code (thousands of JUMPDESTs, say) is cut where
            # _scan_block cuts it, so that its entries are the same every time.
            steps = MAX_BLOCK_LENGTH
            while True:
                steps -= 1
                if steps < 0:
                    f.gas = gas
                    return pc
                op = code[pc]
                gas -= static_gas[op]
                if gas < 0:
                    raise OutOfGas
                if 0x60 <= op <= 0x9F:
                    if op < 0x80:
                        if len(stack) > 1023:
                            raise StackOverflow
                        stack.append(push_values[pc])
                        pc += op - 0x5E
                    elif op < 0x90:
                        if len(stack) > 1023:
                            raise StackOverflow
                        stack.append(stack[0x7F - op])
                        pc += 1
                    else:
                        i = 0x8E - op
                        stack[-1], stack[i] = stack[i], stack[-1]
                        pc += 1
                    continue
                f.gas = gas
                if op in ends_block:
                    return fns[op](f, stack, pc)
                pc = fns[op](f, stack, pc)
                gas = f.gas

        return cold_step

    def block_at(self, start: int) -> Block:
        """Translate the function entered at `start` and put it in the table."""
        block = _build_block(start, self.analysis, self.fork)
        self.table[start] = block
        return block

    def reaches_needed(self, start: int) -> int:
        """Reaches of an entry before it is translated: translation costs about as much as
        interpreting a few hundred instructions, so short blocks must run more often."""
        length = len(_scan_block(self.analysis, self.fork, start))
        return min(255, max(BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD // max(length, 1)))


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
    get = code.table.get
    cold_step = code.cold_step
    try:
        while True:
            block = get(pc)
            if block is None:
                pc = cold_step(f, stack, pc)
            else:
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
    except IndexError:  # a body found too few items (in code not yet in blocks)
        f.error = StackUnderflow()
        f.gas = 0
    return None
