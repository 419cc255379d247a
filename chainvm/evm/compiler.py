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

Everything about an opcode comes from the fork's OpSpecs (chainvm/evm/opspec.py):
static gas and stack items, where blocks end (`ends_block`, `reads_gas`), and its
effect: an opcode with an `Inline` template (arithmetic, MLOAD, MSTORE, ...) has the
template pasted into the block, over local variables; any other calls its body.
What is resolved here at translation time is only the stack's shape (PUSH, DUP,
SWAP) and control flow (JUMP, JUMPI).

The interpreter stays the reference (and runs all traced execution); a
frame switches to compiled blocks when its code is entered often or loops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chainvm.evm.errors import (
    ExceptionalHalt,
    InvalidJump,
    InvalidOpcode,
    OutOfGas,
    Revert,
    StackOverflow,
    StackUnderflow,
    Stop,
)
from chainvm.evm.frame import CALLED, HALTED, CallRequest, Frame
from chainvm.evm.instructions.direct import NATIVE, call_body
from chainvm.evm.opspec import TEMPLATE_GLOBALS
from chainvm.evm.tiering import BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD

if TYPE_CHECKING:
    from chainvm.evm.analysis import CodeAnalysis
    from chainvm.evm.opspec import OpcodeTables

Block = Callable[[Frame, list[int]], int]

# Straight-line code is cut into blocks of at most this many instructions: CPython's
# compiler slows down sharply on very long functions.
MAX_BLOCK_LENGTH = 128
# The stack height up to which a cold step (at most MAX_BLOCK_LENGTH PUSHes and DUPs)
# cannot reach the 1024-item limit.
ROOMY_HEIGHT = 1024 - MAX_BLOCK_LENGTH
# One translated function follows constant jumps and JUMPI fall-throughs through several
# blocks (see _compile_block), up to about this many instructions.
MAX_TRACE_LENGTH = 256

JUMP = 0x56
JUMPI = 0x57
DUP1, DUP16 = 0x80, 0x8F
SWAP1, SWAP16 = 0x90, 0x9F
REVERT = 0xFD
INVALID = 0xFE


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
                # (the method call: CPython 3.11 specialises list.append there, not
                # on a bound method)
                return [f"stack.append({items})"]
            return [f"stack.extend(({items},))"]
        return []

    def flush(self) -> None:
        """Write the symbolic items back (on the straight path) and start afresh."""
        self.lines.extend(self.flush_lines())
        self.sym = []
        self.consumed = 0
        self.loaded = {}


def _stack_bounds(ops: list[int], opcodes: OpcodeTables) -> tuple[int, int]:
    """(items needed at entry, most items added above the entry height)."""
    height = 0
    lowest = 0
    highest = 0
    for op in ops:
        spec = opcodes.specs[op]
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


def _compile_block(start: int, analysis: CodeAnalysis, opcodes: OpcodeTables,
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
        pcs = _scan_block(analysis, opcodes, segment)
        in_trace.add(segment)
        total += len(pcs)
        ops = [code[pc] for pc in pcs]
        need, grow = _stack_bounds(ops, opcodes)
        static = sum(opcodes.static_gas[op] for op in ops)
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
            spec = opcodes.specs[op]
            if spec is None:  # the frame's end, returned (see OpSpec.exit_body)
                lines.append(f"f.error = InvalidOpcode('invalid opcode 0x{op:02x}')")
                lines.append("f.gas = 0")
                lines.append(f"return {HALTED}")
                exited = True
                break
            if spec.immediate:  # PUSH1..PUSH32
                w.sym.append(str(analysis.push_values[pc]))
            elif DUP1 <= op <= DUP16:
                depth = op - 0x7F
                if depth <= len(w.sym):
                    w.sym.append(w.sym[-depth])
                else:  # read the item in place, without taking the ones above it off the stack
                    w.sym.append(w.read(w.consumed + depth - len(w.sym)))
            elif SWAP1 <= op <= SWAP16:
                depth = op - 0x8E
                w.peek(depth)  # load the items down to `depth` into locals; swap the names
                w.sym[-1], w.sym[-depth] = w.sym[-depth], w.sym[-1]
            elif op == JUMP:
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
            elif op == JUMPI and w.sym[-2:-1] == ["0"]:  # never taken: only pops
                w.pop()
                w.pop()
            elif op == JUMPI:
                dest = w.pop()
                cond = w.pop()
                taken = int(dest) if dest.isdigit() and int(dest) in analysis.jumpdests else None
                if (can_extend and taken is not None and taken not in in_trace
                        and _is_failure_path(analysis, opcodes, pc + 1)):
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
            elif spec.exit_body is not None:
                # A halt or a child frame: the body returns it (HALTED, CALLED) to the
                # dispatcher, where the interpreter's body would raise it.
                w.flush()
                fn_name = f"op_{op:02x}"
                env[fn_name] = spec.exit_body
                lines.append(f"return {fn_name}(f, stack, {pc})")
                exited = True
            elif spec.inline is not None:
                # The template, over locals: the same source the interpreter's body has.
                template = spec.inline
                operands = [w.pop() for _ in range(template.arity)]
                statements, result = template.expand(operands, w.fresh, pc)
                lines.extend(statements)
                uses_memory = uses_memory or template.uses_memory
                if result is not None:
                    if not (result.isdigit() or result.isidentifier()):
                        name = w.fresh()
                        lines.append(f"{name} = {result}")
                        result = name
                    w.sym.append(result)
                if spec.ends_block:  # STOP
                    if not (statements and statements[-1].startswith("raise ")):
                        w.flush()
                        lines.append(f"return {pc + 1}")
                    exited = True
            else:
                # Everything else runs the interpreter's body on the real stack.
                w.flush()
                fn_name = f"op_{op:02x}"
                env[fn_name] = opcodes.fns[op]
                if op in opcodes.block_enders:
                    lines.append(f"return {fn_name}(f, stack, {pc})")
                    exited = True
                else:
                    lines.append(f"{fn_name}(f, stack, {pc})")
        if exited or segment is not None:
            continue
        # The block was cut short by its length or by the end of the code: the next
        # entry is there (not followed, so that straight-line code is cut in the same
        # places whichever entry reaches it).
        nxt = pcs[-1] + 1 + _immediate(opcodes, ops[-1]) if pcs else size
        w.flush()
        lines.append(f"return {nxt}" if pcs else f"return {HALTED}")  # the end: STOP
    head = [f"def block_{start}(f, stack):"]
    if uses_memory:  # memory only ever grows in place, so the bytearray can be kept
        head.append("    mem = f.memory")
    if loops:  # the trace jumps back to its own entry: a Python loop, no dispatcher round
        head.append("    while True:")
        lines = ["    " + line for line in lines]
    return "\n".join(head + ["    " + line for line in lines]) + "\n"


def _is_failure_path(analysis: CodeAnalysis, opcodes: OpcodeTables, pc: int) -> bool:
    """Whether the block at pc ends in INVALID or REVERT (an assertion's failure path)."""
    if pc >= analysis.size:
        return False
    pcs = _scan_block(analysis, opcodes, pc)
    return bool(pcs) and analysis.padded[pcs[-1]] in (REVERT, INVALID) and len(pcs) <= 16


def _immediate(opcodes: OpcodeTables, op: int) -> int:
    spec = opcodes.specs[op]
    return 0 if spec is None else spec.immediate


def _build_block(start: int, analysis: CodeAnalysis, opcodes: OpcodeTables) -> Block:
    env: dict[str, object] = {
        **TEMPLATE_GLOBALS, "Stop": Stop, "InvalidJump": InvalidJump, "OutOfGas": OutOfGas,
        "StackUnderflow": StackUnderflow, "StackOverflow": StackOverflow,
        "InvalidOpcode": InvalidOpcode, "jumpdests": analysis.jumpdests,
    }
    source = _compile_block(start, analysis, opcodes, env)
    exec(compile(source, f"<chainvm {opcodes.name} block {start}>", "exec"), env)  # noqa: S102
    return env[f"block_{start}"]  # type: ignore[return-value]


def _scan_block(analysis: CodeAnalysis, opcodes: OpcodeTables, start: int) -> list[int]:
    """Instruction pcs of the block entered at `start`.

    A block runs to a block-ending instruction or an undefined opcode, or stops
    after MAX_BLOCK_LENGTH instructions; a JUMPDEST inside straight-line code is
    only another entry (with its own, overlapping block), so code with many
    JUMPDESTs does not become a chain of one-instruction functions.
    """
    code = analysis.padded
    size = analysis.size
    enders = opcodes.block_enders
    pcs: list[int] = []
    pc = start
    while pc < size:
        op = code[pc]
        pcs.append(pc)
        pc += 1 + _immediate(opcodes, op)
        if op in enders or len(pcs) >= MAX_BLOCK_LENGTH:
            break
    return pcs


class CompiledCode:
    """The compiled tier's view of one code under one fork's opcodes: blocks built on demand.

    `table` has no entry for pc until the code entered at pc has run often enough
    through `cold_step` (see `reaches_needed`); then it holds the translated function.
    """

    __slots__ = ("analysis", "block_for", "cold_step", "opcodes", "reaches", "table")

    def __init__(self, analysis: CodeAnalysis, opcodes: OpcodeTables) -> None:
        self.analysis = analysis
        self.opcodes = opcodes
        size = analysis.size
        # Entry pc -> its block, for the entries reached often enough (a dict: memory in
        # proportion to the hot code, not to the code's size).
        self.table: dict[int, Block] = {}
        # table.get, bound once (the dispatcher binds it at every entry of a frame otherwise)
        self.block_for = self.table.get
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
        static_gas = self.opcodes.static_gas
        # Bodies that check the stack limit themselves and return halts and child frames
        # (exit_fns); JUMP and JUMPI do not count loop heads here (that is the
        # interpreter's loop_fns).
        fns = self.opcodes.exit_fns
        native = NATIVE  # bodies called by number in the native build (see interpreter.execute)
        direct = self.opcodes.direct_exit
        block_at = self.block_at
        reaches_needed = self.reaches_needed
        needed: dict[int, int] = {}
        ends_block = self.opcodes.block_enders
        table = self.table

        def cold_step(f: Frame, stack: list[int], pc: int) -> int:
            while True:  # entry after entry, while they have no block
                n = reaches[pc] + 1
                if n > BLOCK_THRESHOLD:
                    need = needed.get(pc)
                    if need is None:
                        need = needed[pc] = reaches_needed(pc)
                    if n > need:
                        return block_at(pc)(f, stack)
                reaches[pc] = n
                gas = f.gas
                # At most MAX_BLOCK_LENGTH steps, each adding at most one item: below this
                # height no PUSH or DUP here can overflow the stack.
                near_limit = len(stack) > ROOMY_HEIGHT
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
                    if op >= 0x60:  # one comparison per range, as in interpreter.execute
                        if op < 0x80:
                            if near_limit and len(stack) > 1023:
                                raise StackOverflow
                            stack.append(push_values[pc])
                            pc += op - 0x5E
                            continue
                        if op < 0x90:
                            if near_limit and len(stack) > 1023:
                                raise StackOverflow
                            stack.append(stack[0x7F - op])
                            pc += 1
                            continue
                        if op < 0xA0:
                            i = 0x8E - op
                            stack[-1], stack[i] = stack[i], stack[-1]
                            pc += 1
                            continue
                    f.gas = gas
                    if native:
                        k = direct[op]
                        if k:
                            pc = call_body(k, f, stack, pc)
                            if op in ends_block:
                                break
                            gas = f.gas
                            continue
                    if op in ends_block:
                        pc = fns[op](f, stack, pc)
                        break
                    pc = fns[op](f, stack, pc)
                    gas = f.gas
                # The dispatcher's work for the next entry, done here while it is cold
                # too: a halt or a child frame (a negative pc) or a block goes back.
                if pc < 0 or pc in table:
                    return pc

        return cold_step

    def block_at(self, start: int) -> Block:
        """Translate the function entered at `start` and put it in the table."""
        block = _build_block(start, self.analysis, self.opcodes)
        self.table[start] = block
        return block

    def reaches_needed(self, start: int) -> int:
        """Reaches of an entry before it is translated: translation costs about as much as
        interpreting a few hundred instructions, so short blocks must run more often."""
        length = len(_scan_block(self.analysis, self.opcodes, start))
        return min(255, max(BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD // max(length, 1)))


def compiled_for(analysis: CodeAnalysis, opcodes: OpcodeTables) -> CompiledCode:
    """The compiled view of a code under these opcode tables (one per tables object:
    blocks bake in the static gas, so a variant fork never shares another's blocks)."""
    code = analysis.compiled.get(opcodes)
    if code is None:
        code = CompiledCode(analysis, opcodes)
        analysis.compiled[opcodes] = code
    return code


def execute_compiled(f: Frame, code: CompiledCode) -> Frame | None:
    """Run `f` through compiled blocks; same contract as interpreter.execute.

    Halts and child frames mostly come back as a negative pc (HALTED, CALLED: see
    OpSpec.exit_body), which has no block, so only the cold path tests for them; bodies
    without an exit variant, and errors, still raise."""
    stack = f.stack
    pc = f.pc
    get = code.block_for
    cold_step = code.cold_step
    try:
        while True:
            block = get(pc)
            if block is not None:
                pc = block(f, stack)
            elif pc >= 0:
                pc = cold_step(f, stack, pc)
            else:
                break
    except CallRequest as request:
        return request.child
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
    except IndexError:  # a body found too few items (in code not yet in blocks)
        f.error = StackUnderflow()
        f.gas = 0
        return None
    if pc == CALLED:
        child = f.child
        f.child = None  # the parent must not keep its finished child alive
        return child
    return None
