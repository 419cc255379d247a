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

import ast
import operator
import re
import sys
from array import array
from collections.abc import Callable
from types import CodeType
from typing import TYPE_CHECKING, Any, Final

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
from chainvm.evm.opspec import OPERANDS, TEMPLATE_GLOBALS
from chainvm.evm.tiering import (
    BLOCK_THRESHOLD,
    BLOCK_WORK_THRESHOLD,
    ENTRY_THRESHOLD,
    NATIVE_WRITING_REACHES,
)

if TYPE_CHECKING:
    from chainvm.evm.analysis import CodeAnalysis
    from chainvm.evm.opspec import OpcodeTables

Block = Callable[[Frame, list[int]], int]

# Straight-line code is cut into blocks of at most this many instructions: CPython's
# compiler slows down sharply on very long functions.
MAX_BLOCK_LENGTH: Final = 128
# The stack height up to which a cold step (at most MAX_BLOCK_LENGTH PUSHes and DUPs)
# cannot reach the 1024-item limit.
ROOMY_HEIGHT: Final = 1024 - MAX_BLOCK_LENGTH
# One translated function follows constant jumps and JUMPI fall-throughs through several
# blocks (see _compile_block), up to about this many instructions.
MAX_TRACE_LENGTH: Final = 256
# The most reaches an entry may need before it is translated (its count is 16 bits).
MAX_REACHES_NEEDED: Final = 0xFFF0

# (Final: the native build puts these in the code rather than reading the module's dict)
JUMP: Final = 0x56
JUMPI: Final = 0x57
PUSH1: Final = 0x60
PUSH2: Final = 0x61
DUP1: Final = 0x80
DUP16: Final = 0x8F
SWAP1: Final = 0x90
SWAP16: Final = 0x9F
REVERT: Final = 0xFD
INVALID: Final = 0xFE


class _BlockWriter:
    """Emits one block's source, tracking the stack symbolically."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sym: list[str] = []  # items above the real stack, bottom first
        self.consumed = 0  # real-stack items read into locals and logically popped
        self.counter = 0
        self.loaded: dict[int, str] = {}  # k -> the local holding stack[-k] (until a flush)
        # The current block's pushed values: name -> the line computing it (see
        # _drop_if_dead; cleared per block, whose lines move when its checks go in front).
        self.values: dict[str, int] = {}
        # For a trace that loops (see _carried_loop): every real-stack position read, with
        # its local, and each flush written as a placeholder with the state it writes.
        self.read_at: dict[int, str] = {}
        self.defer = False
        self.flushes: list[tuple[list[str], int, bool]] = []  # (items, consumed, continues)
        self.body_called = False  # a body ran on the real stack and the trace went on

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
            self.read_at[k] = name
        return name

    def bind(self, expression: str) -> str:
        """A fresh local assigned `expression` (a template's pushed value), remembered as
        a value of the block."""
        name = self.fresh()
        self.values[name] = len(self.lines)
        self.lines.append(f"{name} = {expression}")
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

    def flush_lines(self, continues: bool = False) -> list[str]:
        """A line that writes the symbolic items back so that the real stack is exact
        where the trace leaves the function (or, `continues`, loops to its entry). In a
        trace that may loop (`defer`) a placeholder, written out at the end of the
        translation (_flush_text, or _carried_loop's forms when the trace loops); it
        names the items, for _reads."""
        if not self.defer:
            text = _flush_text(self.sym, self.consumed)
            return [text] if text else []
        self.flushes.append((list(self.sym), self.consumed, continues))
        return [f"@flush{len(self.flushes) - 1}@ {' '.join(self.sym)}"]

    def flush(self, continues: bool = False) -> None:
        """Write the symbolic items back where the trace ends, and start afresh."""
        self.lines.extend(self.flush_lines(continues))
        self._written_back()

    def flush_for_body(self) -> None:
        """Write the symbolic items back before a body that runs on the real stack, on
        the trace's straight path (the trace goes on after it)."""
        text = _flush_text(self.sym, self.consumed)
        if text:
            self.lines.append(text)
        self._written_back()
        self.body_called = True

    def _written_back(self) -> None:
        """The real stack is exact again: no symbolic items, nothing read into locals."""
        self.sym.clear()  # (in place: the translator keeps a reference to it)
        self.consumed = 0
        self.loaded = {}


def _flush_text(items: list[str], consumed: int) -> str:
    """Source that makes the real stack's top `consumed` items `items` (bottom first)."""
    names = ", ".join(items)
    if consumed:
        if items:
            return f"stack[-{consumed}:] = [{names}]"
        return f"del stack[-{consumed}:]"
    if items:
        if len(items) == 1:
            # (the method call: CPython 3.11 specialises list.append there, not on a
            # bound method)
            return f"stack.append({names})"
        return f"stack.extend(({names},))"
    return ""


# What the translator does with each opcode (see _compile_block), decided once per opcode
# table: the tests in its loop, in the order they were made per instruction.
_UNDEFINED: Final = 0
_DISCARD: Final = 1
_PUSH: Final = 2
_DUP: Final = 3
_SWAP: Final = 4
_JUMP: Final = 5
_JUMPI: Final = 6
_EXIT: Final = 7
_INLINE: Final = 8
_CALL: Final = 9


class _Kinds:
    """Per-opcode facts the translator reads for every instruction, as bytes indexed by
    the opcode (built once per OpcodeTables, see _kinds_for)."""

    __slots__ = ("folds", "kind", "opcodes", "pops", "pushes", "specialized", "step", "trees")

    def __init__(self, opcodes: OpcodeTables) -> None:
        kind = bytearray(256)
        pops = bytearray(256)
        pushes = bytearray(256)
        step = bytearray(256)
        # The pure arithmetic templates, compiled to evaluate over constant operands, or
        # None for a template that is not one; filled when the translator first meets the
        # op with a constant operand (`fold_of`): a process translates few kinds of them,
        # and parsing every template of every table cost more than the folding saved.
        self.folds: dict[int, CodeType | None] = {}
        self.trees: dict[int, ast.Expression] = {}  # and parsed, for some constant operands
        self.opcodes = opcodes
        # (op, the constant operands or "") -> the template specialised for them, or None
        self.specialized: dict[tuple[int, tuple[str, ...]], str | None] = {}
        for op, spec in enumerate(opcodes.specs):
            step[op] = 1
            if spec is None:
                kind[op] = _UNDEFINED
                continue
            pops[op] = spec.pops
            pushes[op] = spec.pushes
            step[op] = 1 + spec.immediate
            if spec.immediate:  # PUSH1..PUSH32
                kind[op] = _PUSH
            elif DUP1 <= op <= DUP16:
                kind[op] = _DUP
            elif SWAP1 <= op <= SWAP16:
                kind[op] = _SWAP
            elif op == JUMP:
                kind[op] = _JUMP
            elif op == JUMPI:
                kind[op] = _JUMPI
            elif spec.exit_body is not None:
                kind[op] = _EXIT
            elif spec.inline is not None:
                # A template that writes nothing (JUMPDEST, POP) need not be expanded.
                empty = not spec.ends_block and spec.inline.writes_nothing
                kind[op] = _DISCARD if empty else _INLINE
            else:
                kind[op] = _CALL
        self.kind = bytes(kind)
        self.pops = bytes(pops)
        self.pushes = bytes(pushes)
        self.step = bytes(step)

    def fold_of(self, op: int) -> CodeType | None:
        """The compiled pure template of `op` (see _pure_tree), or None; looked up once."""
        if op in self.folds:
            return self.folds[op]
        spec = self.opcodes.specs[op]
        fold = None
        if (spec is not None and spec.inline is not None and spec.inline.pushes
                and not spec.ends_block):
            tree = _pure_tree(spec.inline.source, spec.inline.arity)
            if tree is not None:
                fold = compile(tree, "<chainvm fold>", "eval")
                self.trees[op] = tree
        self.folds[op] = fold
        return fold


# What a foldable template may contain: arithmetic on its operands and integer constants.
_PURE_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.BoolOp,
               ast.Constant, ast.Name, ast.Load, ast.operator, ast.unaryop, ast.cmpop,
               ast.boolop)
_FOLD_GLOBALS: dict[str, object] = {"__builtins__": {}}


def _pure_tree(source: str, arity: int) -> ast.Expression | None:
    """The template parsed, if it is one expression of its operands and of the integer
    TEMPLATE_GLOBALS alone (no call, attribute, subscript, `f`, `mem` or `pc`), so that
    with constant operands its value is the same at translation as at run time."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:  # statements
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _PURE_NODES):
            return None
        if isinstance(node, ast.Constant) and type(node.value) is not int:
            return None
        if isinstance(node, ast.Name) and node.id not in OPERANDS[:arity]:
            value = TEMPLATE_GLOBALS.get(node.id)
            if type(value) is not int:
                return None
            _FOLD_GLOBALS[node.id] = value
    return tree


# Specialisations kept per opcode table: they are keyed by constants, so a long-running
# process would otherwise collect them without end.
MAX_SPECIALIZED = 4096


def _specialized(kinds: _Kinds, op: int, operands: list[str]) -> str | None:
    """The pure template of `op` over `operands` (some constant) with its constant parts
    evaluated (a test decided, a shift amount checked), when that simplifies it; else None."""
    key = (op, tuple(x if x.isdigit() else "" for x in operands))
    cache = kinds.specialized
    if key in cache:
        form = cache[key]
    else:
        constants = {name: int(x) for name, x in zip(OPERANDS, operands, strict=False)
                     if x.isdigit()}
        folded = [False]
        node = _fold_node(kinds.trees[op].body, constants, folded)[0]
        if not folded[0]:
            form = None
        elif isinstance(node, ast.Constant):
            form = str(node.value)
        else:
            form = _source_of(node)
        if len(cache) >= MAX_SPECIALIZED:
            cache.clear()
        cache[key] = form
    if form is None:
        return None
    return form.format_map(dict(zip(OPERANDS, operands, strict=False)))


# Each operator a pure template may use, once: its text (_source_of) and the function that
# evaluates it (_evaluate). Constant parts are evaluated by the operators themselves: a
# compile() of each part cost more than the rest of a translation's folding.
_BINARY_OPERATORS: dict[type, tuple[str, Callable[[Any, Any], object]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul), ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod), ast.Pow: ("**", operator.pow),
    ast.LShift: ("<<", operator.lshift), ast.RShift: (">>", operator.rshift),
    ast.BitOr: ("|", operator.or_), ast.BitXor: ("^", operator.xor),
    ast.BitAnd: ("&", operator.and_),
}
_UNARY_OPERATORS: dict[type, tuple[str, Callable[[Any], object]]] = {
    ast.USub: ("-", operator.neg), ast.UAdd: ("+", operator.pos),
    ast.Invert: ("~", operator.invert), ast.Not: ("not ", operator.not_),
}
_COMPARE_OPERATORS: dict[type, tuple[str, Callable[[Any, Any], object]]] = {
    ast.Lt: ("<", operator.lt), ast.LtE: ("<=", operator.le), ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge), ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne),
}
_OPERATOR_TEXT: dict[type, str] = {
    op: text for table in (_BINARY_OPERATORS, _UNARY_OPERATORS, _COMPARE_OPERATORS)
    for op, (text, _) in table.items()
} | {ast.And: " and ", ast.Or: " or "}


def _source_of(node: ast.expr) -> str:
    """Python source of a folded template (the nodes _pure_tree admits), every compound
    part in brackets, so no precedence need be known: the same value as ast.unparse's
    text, for less (a specialisation is written per new constant operand; with
    ast.unparse a process's first translation took 8% more instructions)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.BinOp):
        return (f"({_source_of(node.left)} {_OPERATOR_TEXT[type(node.op)]} "
                f"{_source_of(node.right)})")
    if isinstance(node, ast.UnaryOp):
        return f"({_OPERATOR_TEXT[type(node.op)]}{_source_of(node.operand)})"
    if isinstance(node, ast.Compare):
        parts = [_source_of(node.left)]
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts += (_OPERATOR_TEXT[type(op)], _source_of(right))
        return "(" + " ".join(parts) + ")"
    if isinstance(node, ast.BoolOp):
        return "(" + _OPERATOR_TEXT[type(node.op)].join(map(_source_of, node.values)) + ")"
    if isinstance(node, ast.IfExp):
        return (f"({_source_of(node.body)} if {_source_of(node.test)} "
                f"else {_source_of(node.orelse)})")
    raise TypeError(f"not a pure template node: {ast.dump(node)}")


def _fold_node(node: ast.expr, constants: dict[str, int],
               folded: list[bool]) -> tuple[ast.expr, object]:
    """(node with its constant parts evaluated and the other operands as {a}, {b}, {c}
    fields; its value if constant, else None). A part whose evaluation raises stays as it
    is (to raise at run time, if it is reached); of an IfExp with a constant test only the
    branch taken is kept (and evaluated), as at run time."""
    if isinstance(node, ast.Name):
        if node.id in constants:
            value = constants[node.id]
            return ast.Constant(value), value
        if node.id in OPERANDS:
            return ast.Name("{" + node.id + "}", ast.Load()), None
        return node, _FOLD_GLOBALS[node.id]  # an integer constant, kept by name
    if isinstance(node, ast.Constant):
        return node, node.value
    if isinstance(node, ast.IfExp):
        test, decided = _fold_node(node.test, constants, folded)
        if decided is not None:
            folded[0] = True
            return _fold_node(node.body if decided else node.orelse, constants, folded)
        body = _fold_node(node.body, constants, folded)[0]
        orelse = _fold_node(node.orelse, constants, folded)[0]
        return ast.IfExp(test, body, orelse), None
    if isinstance(node, ast.BinOp):
        left, lv = _fold_node(node.left, constants, folded)
        right, rv = _fold_node(node.right, constants, folded)
        new: ast.expr = ast.BinOp(left, node.op, right)
        parts = [lv, rv]
    elif isinstance(node, ast.UnaryOp):
        operand, ov = _fold_node(node.operand, constants, folded)
        new = ast.UnaryOp(node.op, operand)
        parts = [ov]
    elif isinstance(node, ast.Compare):
        pairs = [_fold_node(part, constants, folded) for part in [node.left, *node.comparators]]
        new = ast.Compare(pairs[0][0], node.ops, [p[0] for p in pairs[1:]])
        parts = [p[1] for p in pairs]
    elif isinstance(node, ast.BoolOp):
        pairs = [_fold_node(part, constants, folded) for part in node.values]
        new = ast.BoolOp(node.op, [p[0] for p in pairs])
        parts = [p[1] for p in pairs]
    else:  # (_pure_tree admits no other expression)
        raise TypeError(f"not a pure template node: {ast.dump(node)}")
    if any(part is None for part in parts):
        return new, None
    try:
        result = _evaluate(new, parts)
    except (ArithmeticError, MemoryError, ValueError):
        return new, None
    folded[0] = True
    if type(result) is bool or (type(result) is int and result >= 0):
        return ast.Constant(result), result
    return new, result  # (a negative constant stays an expression: `-5 ** 2` is not (-5) ** 2)




def _evaluate(node: ast.expr, parts: list[Any]) -> object:
    """The value of `node` (a BinOp, UnaryOp, Compare or BoolOp) over its parts' values,
    as Python evaluates it."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
        return _BINARY_OPERATORS[type(node.op)][1](parts[0], parts[1])
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPERATORS:
        return _UNARY_OPERATORS[type(node.op)][1](parts[0])
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE_OPERATORS for op in node.ops):
        result: object = True
        for op, left, right in zip(node.ops, parts, parts[1:], strict=False):
            result = _COMPARE_OPERATORS[type(op)][1](left, right)
            if not result:
                break
        return result
    if isinstance(node, ast.BoolOp):
        value = parts[0]
        for part in parts[1:]:
            if (not value) if isinstance(node.op, ast.And) else value:
                break
            value = part
        return value
    return eval(compile(ast.fix_missing_locations(ast.Expression(node)),
                        "<chainvm fold>", "eval"), _FOLD_GLOBALS)


_KINDS: dict[OpcodeTables, _Kinds] = {}


def _kinds_for(opcodes: OpcodeTables) -> _Kinds:
    kinds = _KINDS.get(opcodes)
    if kinds is None:
        kinds = _KINDS[opcodes] = _Kinds(opcodes)
    return kinds


def _folded(fold: CodeType, operands: list[str]) -> str | None:
    """The value of a pure template (see _pure_tree) over constant operands, or None."""
    try:
        value = eval(fold, _FOLD_GLOBALS,
                     dict(zip(OPERANDS, map(int, operands), strict=False)))
    except (ArithmeticError, MemoryError, ValueError):  # left to fail at run time
        return None
    return str(value) if type(value) is int and value >= 0 else None


# The memory templates' growth checks, as the translator sees them (a local's name or a
# constant for the offset): MLOAD's and MSTORE's word (load_past_end and grow_for_word;
# their plain read and store are the check's `else` line) and MSTORE8's byte. Memory
# only grows, so once such a line has run, len(mem) >= offset + size for the rest of the
# function's run.
_MEMORY_CHECK_WORD = re.compile(
    r"if (\w+) \+ 32 > len\(mem\): "
    r"(?:grow_for_word\(f, \1(?:, .+)?\)|\w+ = load_past_end\(f, \1\))\Z")
_MEMORY_CHECK_BYTE = re.compile(r"if (\w+) >= len\(mem\): expand_memory\(f, \1, 1\)\Z")


def _memory_check(line: str) -> tuple[str, int] | None:
    """(offset, size) of a memory growth check, or None for any other line."""
    m = _MEMORY_CHECK_WORD.match(line)
    if m is not None:
        return m[1], 32
    m = _MEMORY_CHECK_BYTE.match(line)
    return (m[1], 1) if m is not None else None


def _covered(line: str, covered: list[int], by_name: dict[str, int]) -> bool:
    """Whether `line` is a memory growth check that one already on the main path implies
    (it is then left out); else records it if it is one. A template's statements are
    written on the main path (its own nested lines are indented: not checks here)."""
    if not line.startswith("if "):
        return False
    check = _memory_check(line)
    if check is None:
        return False
    offset, size = check
    if offset.isdigit():
        end = int(offset) + size
        if end <= covered[0]:
            return True
        covered[0] = end
        return False
    if size <= by_name.get(offset, 0):
        return True
    by_name[offset] = size
    return False


def _uncovered(statements: list[str], covered: list[int], by_name: dict[str, int]) -> list[str]:
    """A memory template's statements without the growth checks that are covered
    (_covered); a covered check's `else` line (MSTORE's plain store) then runs alone."""
    kept: list[str] = []
    dropped = False
    for line in statements:
        if dropped and line.startswith("else: "):
            kept.append(line[6:])
        elif _covered(line, covered, by_name):
            dropped = True
            continue
        else:
            kept.append(line)
        dropped = False
    return kept


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
    the blocks, and each block still checks its stack bounds at its own entry, as if it
    had been entered from the dispatcher. It charges its static gas there too, unless a
    constant jump led to it: then the block that jumped charged it (see gas_groups).
    A trace that comes back to its entry is a Python loop, whose stack items stay in
    locals from one pass to the next where they can (_carried_loop).
    """
    code = analysis.padded
    size = analysis.size
    jumpdests = analysis.jumpdests
    push_values = analysis.push_values
    specs = opcodes.specs
    static_gas = opcodes.static_gas
    enders = opcodes.block_enders
    kinds = _kinds_for(opcodes)
    kind_of = kinds.kind
    pops = kinds.pops
    pushes = kinds.pushes
    step = kinds.step
    folds = kinds.folds
    w = _BlockWriter()
    # Only a trace that may come back to its entry defers its flushes (see flush_lines):
    # one entered at a JUMPI's fall-through (a loop's body, after its condition) or whose
    # code pushes the entry's address as a PUSH1 or PUSH2 somewhere.
    w.defer = (start > 0 and code[start - 1] == JUMPI) or (
        start < 256 and code.find(bytes((PUSH1, start))) >= 0) or (
        code.find(bytes((PUSH2, start >> 8, start & 0xFF))) >= 0)
    lines = w.lines
    sym = w.sym
    in_trace: set[int] = set()
    total = 0  # instructions in the trace's earlier blocks
    # What the checks written so far tell of the real stack's length, where the next
    # block's are written: known_min <= len(stack) <= known_max.
    known_min, known_max = 0, 1024
    # Memory the main path has already grown: up to this constant end, and for offsets in
    # locals, name -> size (see _covered).
    covered = [0]
    covered_by_name: dict[str, int] = {}
    uses_memory = False
    loops = False
    # A block reached by a constant JUMP always runs after the one that jumped, so its
    # static gas is charged with that one's, as a block's own instructions' is (no
    # instruction that reads the gas left is between them: those end blocks). Each
    # group's charge is written with a placeholder for its sum, filled in at the end.
    gas_groups: list[int] = []
    head_need = 0
    segment_at_entry = True
    group_open = False  # the group of the block before may take in the next one's gas
    jumped = False  # the segment being written is reached by a constant JUMP
    segment: int | None = start
    while segment is not None:
        # One pass over the block: its lines are written while its stack bounds and static
        # gas are summed, and the checks of those go in front of them at the end.
        in_trace.add(segment)
        joins_group = jumped and group_open
        jumped = False
        w.values.clear()
        # The real stack is shorter than the trace's view by consumed - len(sym) items.
        shift = w.consumed - len(sym)
        mark = len(lines)
        stack_changed = False
        height = lowest = highest = 0
        static = 0
        count = 0
        pc = segment
        segment = None
        exited = False
        op = 0
        while pc < size:
            op = code[pc]
            count += 1
            static += static_gas[op]
            kind = kind_of[op]
            if kind == _DISCARD:  # JUMPDEST, POP
                if pops[op]:
                    _drop_if_dead(w.pop(), w)
            elif kind == _PUSH:
                sym.append(str(push_values[pc]))
            elif kind == _DUP:
                depth = op - 0x7F
                if depth <= len(sym):
                    sym.append(sym[-depth])
                else:  # read the item in place, without taking the ones above it off the stack
                    sym.append(w.read(w.consumed + depth - len(sym)))
            elif kind == _SWAP:
                depth = op - 0x8E
                w.peek(depth)  # load the items down to `depth` into locals; swap the names
                sym[-1], sym[-depth] = sym[-depth], sym[-1]
            elif kind == _UNDEFINED:  # the frame's end, returned (see OpSpec.exit_body)
                lines.append(f"f.error = InvalidOpcode('invalid opcode 0x{op:02x}')")
                lines.append("f.gas = 0")
                lines.append(f"return {HALTED}")
                exited = True
                break
            elif kind == _JUMP:
                dest = w.pop()
                if dest == str(start):  # a loop closing on the function's entry
                    w.flush(continues=True)
                    lines.append("continue")
                    loops = True
                    exited = True
                elif (total + count < MAX_TRACE_LENGTH and dest.isdigit()
                        and int(dest) in jumpdests and int(dest) not in in_trace):
                    segment = int(dest)
                    jumped = True
                else:
                    w.flush()
                    lines.extend(_exit_lines(dest, analysis))
                    exited = True
            elif kind == _JUMPI and sym[-2:-1] == ["0"]:  # never taken: only pops
                w.pop()
                w.pop()
            elif kind == _JUMPI:
                can_extend = total + count < MAX_TRACE_LENGTH
                dest = w.pop()
                cond = w.pop()
                taken = int(dest) if dest.isdigit() and int(dest) in jumpdests else None
                if (can_extend and taken is not None and taken not in in_trace
                        and _is_failure_path(analysis, opcodes, pc + 1)):
                    # An assertion: the fall-through fails, so the trace follows the jump.
                    if cond.isdigit() and cond != "0":  # a constant: always taken, a JUMP
                        jumped = True
                    else:
                        test, negated = _jump_test(cond, w)
                        lines.append(f"if {test}:" if negated else f"if not {test}:")
                        lines.extend("    " + line
                                     for line in w.flush_lines() + [f"return {pc + 1}"])
                    segment = taken
                else:
                    test, negated = _jump_test(cond, w)
                    lines.append(f"if not {test}:" if negated else f"if {test}:")
                    if taken == start:
                        lines.extend("    " + line
                                     for line in w.flush_lines(continues=True) + ["continue"])
                        loops = True
                    else:
                        lines.extend("    " + line
                                     for line in w.flush_lines() + _exit_lines(dest, analysis))
                    if pc + 1 == start:
                        w.flush(continues=True)
                        lines.append("continue")
                        loops = True
                        exited = True
                    elif can_extend and pc + 1 < size and pc + 1 not in in_trace:
                        segment = pc + 1
                    else:
                        w.flush()
                        lines.append(f"return {pc + 1}")
                        exited = True
            elif kind == _EXIT:
                # A halt or a child frame: the body returns it (HALTED, CALLED) to the
                # dispatcher, where the interpreter's body would raise it.
                w.flush()
                fn_name = f"op_{op:02x}"
                env[fn_name] = specs[op].exit_body  # type: ignore[union-attr]
                lines.append(f"return {fn_name}(f, stack, {pc})")
                exited = True
            elif kind == _INLINE:
                # The template, over locals: the same source the interpreter's body has.
                spec = specs[op]
                assert spec is not None
                template = spec.inline
                assert template is not None
                operands = [w.pop() for _ in range(template.arity)]
                value = None
                constants = 0
                for x in operands:
                    if x.isdigit():
                        constants += 1
                fold = (folds[op] if op in folds else kinds.fold_of(op)) if constants else None
                if fold is not None:
                    if constants == len(operands):
                        value = _folded(fold, operands)
                    elif constants:
                        value = _specialized(kinds, op, operands)
                        if value is not None and not (value.isdigit() or value.isidentifier()):
                            value = w.bind(value)
                if value is not None:  # constant operands: the value, pushed as a constant
                    sym.append(value)
                else:
                    statements, result = template.expand(operands, w.fresh, pc)
                    if template.uses_memory:
                        statements = [_constant_words(line, env) for line in
                                      _uncovered(statements, covered, covered_by_name)]
                    lines.extend(statements)
                    uses_memory = uses_memory or template.uses_memory
                    if result is not None:
                        if not (result.isdigit() or result.isidentifier()):
                            result = w.bind(result)
                        sym.append(result)
                    if spec.ends_block:  # STOP
                        if not (statements and statements[-1].startswith("raise ")):
                            w.flush()
                            lines.append(f"return {pc + 1}")
                        exited = True
            else:
                # Everything else runs the interpreter's body on the real stack.
                fn_name = f"op_{op:02x}"
                env[fn_name] = opcodes.fns[op]
                if op in enders:
                    w.flush()
                    lines.append(f"return {fn_name}(f, stack, {pc})")
                    exited = True
                else:
                    w.flush_for_body()
                    lines.append(f"{fn_name}(f, stack, {pc})")
                    stack_changed = True
            height -= pops[op]
            if height < lowest:  # noqa: PLR1730 (cheaper than min() per instruction)
                lowest = height
            height += pushes[op]
            if height > highest:  # noqa: PLR1730
                highest = height
            pc += step[op]
            if op in enders or count >= MAX_BLOCK_LENGTH:
                break
        total += count
        need = -lowest
        header: list[str] = []
        # A check that an earlier one in the trace already implies is left out: between
        # them the real stack kept its length (only a body called on the main path, which
        # ends the knowledge, changes it; the flushes before exits are off that path).
        if need + shift > known_min:
            header.append(f"if len(stack) < {need + shift}: raise StackUnderflow")
            known_min = need + shift
        if highest and 1024 - highest + shift < known_max:
            header.append(f"if len(stack) > {1024 - highest + shift}: raise StackOverflow")
            known_max = 1024 - highest + shift
        if segment_at_entry:
            head_need = known_min  # what the entry's own check guarantees at each pass
            segment_at_entry = False
        if stack_changed:
            known_min, known_max = 0, 1024
        if joins_group:
            gas_groups[-1] += static
        elif static:
            header.append(f"gas = f.gas - @gas{len(gas_groups)}@")
            header.append("if gas < 0: raise OutOfGas")
            header.append("f.gas = gas")
            gas_groups.append(static)
            group_open = True
        else:
            group_open = False
        lines[mark:mark] = header
        if exited or segment is not None:
            continue
        # The block was cut short by its length or by the end of the code: the next
        # entry is there (not followed, so that straight-line code is cut in the same
        # places whichever entry reaches it).
        w.flush()
        lines.append(f"return {pc}" if count else f"return {HALTED}")  # the end: STOP
    head = [f"def block_{start}(f, stack):"]
    if uses_memory:  # memory only ever grows in place, so the bytearray can be kept
        head.append("    mem = f.memory")
    flushes = [_flush_text(items, consumed) for items, consumed, _ in w.flushes]
    if loops:  # the trace jumps back to its own entry: a Python loop, no dispatcher round
        carried = _carried_loop(w, lines, head_need, flushes) if w.defer else None
        if carried is not None:
            lines, before = carried
            head.extend("    " + line for line in before)
        head.append("    while True:")
        lines = ["    " + line for line in lines]
    source = "\n".join(head + ["    " + line for line in lines]) + "\n"
    if flushes:
        source = _FLUSH_PLACEHOLDER.sub(lambda match: flushes[int(match[1])], source)
    if not gas_groups:
        return source
    return _GAS_PLACEHOLDER.sub(lambda match: str(gas_groups[int(match[1])]), source)


# What the end of a translation fills in (see _compile_block): a gas group's charge, whose
# sum is known only then, and a deferred flush of the symbolic stack (with its names).
_GAS_PLACEHOLDER = re.compile(r"@gas(\d+)@")
_FLUSH_PLACEHOLDER = re.compile(r"@flush(\d+)@[^\n]*")


def _carried_loop(w: _BlockWriter, lines: list[str], head_need: int,
                  flushes: list[str]) -> tuple[list[str], list[str]] | None:
    """A looping trace's stack items carried round the loop in locals, when it can be.

    Each pass of a loop read its items off the real stack and wrote them back before
    `continue`. When no body runs on the real stack in the trace, every `continue` leaves
    the stack as long as it found it, and the positions a `continue` writes are ones the
    entry's own check guarantees, the reads of those positions go before the loop (with
    the entry's stack checks, which then hold for every pass: the length never changes),
    `continue` assigns their locals instead of writing them, and each exit writes them as
    well as its own, since the real stack keeps what it had before the loop. Returns the
    loop's lines and the lines before it (filling `flushes` in), or None to leave the loop
    as it is."""
    if w.body_called:
        return None
    turns = [(items, consumed) for items, consumed, continues in w.flushes if continues]
    if not turns or any(len(items) != consumed for items, consumed in turns):
        return None
    changed = max(consumed for _, consumed in turns)  # positions a pass may change
    if not changed or changed > head_need:
        return None
    local = w.read_at
    for index, (items, consumed, continues) in enumerate(w.flushes):
        if continues:  # position k (1 = top) takes items[-k], all at once
            pairs = [(local[k], items[-k]) for k in range(1, consumed + 1)
                     if local[k] != items[-k]]
            flushes[index] = (", ".join(t for t, _ in pairs) + " = "
                              + ", ".join(v for _, v in pairs)) if pairs else ""
        elif consumed < changed:
            kept = [local[k] for k in range(changed, consumed, -1)]
            flushes[index] = _flush_text(kept + items, changed)
    checks = 0
    while checks < len(lines) and lines[checks].startswith("if len(stack) "):
        checks += 1
    # Positions below the changed ones never change: those the entry's check guarantees
    # are read once too, the others where they are used.
    hoisted = [f"{local[k]} = stack[-{k}]" for k in sorted(local) if k <= head_need]
    reads = set(hoisted)
    return [line for line in lines[checks:] if line not in reads], lines[:checks] + hoisted


# (A literal first, which the regular expression engine scans for: a leading \b made it try
# every position of every line.)
_CONSTANT_WORD = re.compile(r"to_bytes\((\d+), 32\)")


def _constant_words(line: str, env: dict[str, object]) -> str:
    """`line` with each constant's 32-byte form (MSTORE of a pushed value: solc stores
    zeros and constants often) made once, at translation, and named in the block's
    globals, instead of converted at every run."""
    if "to_bytes(" not in line:
        return line

    def name(match: re.Match[str]) -> str:
        value = int(match.group(1))
        if value >> 256:  # (not a word: left to fail where it runs, as it would)
            return match.group(0)
        key = f"word_{value:x}"
        env[key] = value.to_bytes(32)
        return key

    return _CONSTANT_WORD.sub(name, line)


# How far back a dead value's line is looked for (a POP mostly follows its value closely).
_DEAD_LOOKBACK = 4


def _reads(line: str, name: str) -> bool:
    """Whether `line` has the local `name` as a whole word. (A pattern per name, as this
    was, compiled a regular expression for every new name: 4% of a process's first
    translation.)"""
    size = len(name)
    at = line.find(name)
    while at >= 0:
        end = at + size
        if (at == 0 or not (line[at - 1].isalnum() or line[at - 1] == "_")) and (
                end == len(line) or not (line[end].isalnum() or line[end] == "_")):
            return True
        at = line.find(name, end)
    return False


def _drop_if_dead(name: str, w: _BlockWriter) -> None:
    """Remove the line computing `name`, a template's pushed value that a POP just took,
    if nothing read it: an inline template's pushed expression only reads (its effects,
    memory growth or gas, are in its statements, which stay), so its line can go."""
    at = _unread_value_line(name, w)
    w.values.pop(name, None)  # (taken by the POP: never dropped later)
    if at is not None:
        _remove_line(w, at)
    elif name not in w.sym:
        _drop_dead_load(name, w)


# MLOAD's word, read in its statements (see stack_memory.MLOAD): its growth check with the
# load past the end, and the plain read (the check's `else` line, or alone once covered).
_LOAD_PAST_END = re.compile(r"(if (\w+) \+ 32 > len\(mem\): )(\w+) = load_past_end\(f, \2\)\Z")
_PLAIN_LOAD = re.compile(r"(?:else: )?(\w+) = from_bytes\(load_word\(mem, \w+\)\[0\]\)\Z")


def _drop_dead_load(name: str, w: _BlockWriter) -> None:
    """An MLOAD's word that a POP took unread: its read goes and its growth stays (the
    growth check calls grow_for_word instead of load_past_end)."""
    lines = w.lines
    last = len(lines) - 1  # (a POP right after the MLOAD: its read is the last line)
    match = _PLAIN_LOAD.match(lines[last]) if last >= 0 else None
    if match is None or match[1] != name:
        return
    if lines[last].startswith("else: "):
        check = _LOAD_PAST_END.match(lines[last - 1]) if last >= 1 else None
        if check is None or check[3] != name:
            return
        lines[last - 1] = f"{check[1]}grow_for_word(f, {check[2]})"
    _remove_line(w, last)


def _unread_value_line(name: str, w: _BlockWriter) -> int | None:
    """Where the line computing `name`, a value of the current block, is, if nothing reads
    it: not on the symbolic stack, nor in a later line (a value's line is looked for at
    most _DEAD_LOOKBACK lines back); else None."""
    at = w.values.get(name)
    lines = w.lines
    if at is None or at < len(lines) - _DEAD_LOOKBACK or name in w.sym:
        return None
    if any(_reads(line, name) for line in lines[at + 1:]):
        return None
    return at


def _remove_line(w: _BlockWriter, at: int) -> None:
    """Delete line `at`, a value's (it is no longer one); the block's later values move up."""
    del w.lines[at]
    values = w.values
    for other, index in list(values.items()):
        if index == at:
            del values[other]
        elif index > at:
            values[other] = index - 1


# A comparison's or ISZERO's pushed value, as the translator writes its line.
_ONE_IF = re.compile(r"(v\d+) = 1 if (.+) else 0\Z")
_ZERO_IF = re.compile(r"(v\d+) = 0 if (.+) else 1\Z")


def _jump_test(cond: str, w: _BlockWriter) -> tuple[str, bool]:
    """A JUMPI's condition as the test to write, and whether it is negated: where `cond`
    is a comparison's or ISZERO's 1 or 0 (`1 if X else 0`, `0 if X else 1`) that this
    block computed and nothing else reads, its line goes and the test is X (negated for
    ISZERO), followed through ISZEROs of such values (solc's `iszero(lt(i, n))`)."""
    negated = False
    test = cond
    while True:
        at = _unread_value_line(test, w)
        if at is None:
            return test, negated
        line = w.lines[at]
        match = _ONE_IF.match(line) or _ZERO_IF.match(line)
        if match is None or match[1] != test or " if " in match[2] or " else " in match[2]:
            return test, negated
        _remove_line(w, at)
        if line.endswith(" else 1"):
            negated = not negated
        test = match[2]
        if not (test.isidentifier() or test.isdigit()):
            return f"({test})", negated


def _is_failure_path(analysis: CodeAnalysis, opcodes: OpcodeTables, pc: int) -> bool:
    """Whether the block at pc ends in INVALID or REVERT (an assertion's failure path)."""
    if pc >= analysis.size:
        return False
    pcs = _scan_block(analysis, opcodes, pc, 17)  # (a longer block is not one)
    return bool(pcs) and analysis.padded[pcs[-1]] in (REVERT, INVALID) and len(pcs) <= 16


def _build_block(start: int, analysis: CodeAnalysis, opcodes: OpcodeTables) -> Block:
    env: dict[str, object] = {
        **TEMPLATE_GLOBALS, "Stop": Stop, "InvalidJump": InvalidJump, "OutOfGas": OutOfGas,
        "StackUnderflow": StackUnderflow, "StackOverflow": StackOverflow,
        "InvalidOpcode": InvalidOpcode, "jumpdests": analysis.jump_check,
    }
    source = _compile_block(start, analysis, opcodes, env)
    exec(compile(source, f"<chainvm {opcodes.name} block {start}>", "exec"), env)  # noqa: S102
    block: Block = env[f"block_{start}"]  # type: ignore[assignment]
    for _ in range(WARMING_CALLS):
        try:
            block(None, None)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001,S112 (at its first use of the frame or the stack)
            continue
    return block


# CPython 3.11 specialises a function's bytecode (LOAD_ATTR for the frame's slots,
# LOAD_GLOBAL, BINARY_SUBSCR, ...) only once it has been called eight times: a block
# entered once a transaction ran its first eight transactions unspecialised (the steady
# benchmark's warm-up of 15 runs timed memory_grow_mload/0 at 6.95M instructions a run
# instead of 4.0M). _build_block calls a new block seven times with None for the frame
# and the stack: all a block can change is reached through them, and it fails at its
# first use of either (its gas, its stack check, its memory), or is a STOP's halt that
# uses neither (tests/evm/test_compiled_tier.py); its first real call is then the
# eighth, and each instruction specialises on the real frame and stack. CPython 3.12
# quickens code as it is created (python/cpython#98686).
WARMING_CALLS = 7 if sys.version_info[:2] == (3, 11) else 0


def _scan_block(analysis: CodeAnalysis, opcodes: OpcodeTables, start: int,
                limit: int = MAX_BLOCK_LENGTH) -> list[int]:
    """Instruction pcs of the block entered at `start`.

    A block runs to a block-ending instruction or an undefined opcode, or stops
    after MAX_BLOCK_LENGTH instructions; a JUMPDEST inside straight-line code is
    only another entry (with its own, overlapping block), so code with many
    JUMPDESTs does not become a chain of one-instruction functions.
    """
    code = analysis.padded
    size = analysis.size
    enders = opcodes.block_enders
    step = _kinds_for(opcodes).step
    pcs: list[int] = []
    pc = start
    while pc < size:
        op = code[pc]
        pcs.append(pc)
        pc += step[op]
        if op in enders or len(pcs) >= limit:
            break
    return pcs


def _trace_length(blocks: list[list[int]]) -> int:
    """Instructions in a sure trace's blocks (_sure_trace_blocks), up to MAX_TRACE_LENGTH."""
    return min(sum(map(len, blocks)), MAX_TRACE_LENGTH)


def _sure_trace_blocks(analysis: CodeAnalysis, opcodes: OpcodeTables,
                       start: int) -> list[list[int]]:
    """The instruction pcs of each block run on every entry at `start` by the function
    _compile_block writes there: its first block, and on through each JUMP to a pushed
    constant JUMPDEST (which the trace follows), up to MAX_TRACE_LENGTH instructions; a
    JUMPI ends it (either way)."""
    code = analysis.padded
    jumpdests = analysis.jumpdests
    push_values = analysis.push_values
    seen: set[int] = set()
    blocks: list[list[int]] = []
    length = 0
    pc = start
    while length < MAX_TRACE_LENGTH and pc not in seen:
        seen.add(pc)
        pcs = _scan_block(analysis, opcodes, pc)
        blocks.append(pcs)
        length += len(pcs)
        if len(pcs) < 2 or code[pcs[-1]] != JUMP or not 0x60 <= code[pcs[-2]] < 0x80:
            break
        pc = push_values[pcs[-2]]
        if pc not in jumpdests:
            break
    return blocks


# What writes no line in a translation (see _compile_block).
_SILENT_KINDS = frozenset((_DISCARD, _PUSH, _DUP, _SWAP))


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
        # entry -> times cold_step started there (16 bits: see reaches_needed)
        self.reaches = array("H", bytes(2 * (size + 34)))

        self.cold_step = self._cold_stepper()

    def _cold_stepper(self) -> Callable[[Frame, list[int], int], int]:
        """`cold_step(f, stack, pc)`: run from pc through the next block-ending instruction.

        Code reached only a few times is not worth any per-block set-up, so it runs
        here with the interpreter's per-instruction checks; an entry reached often
        enough is translated (`reaches_needed`).
        """
        reaches = self.reaches
        # What the step loop reads at every instruction, unpacked into cold_step's locals
        # at each call: the native build reads a closure's variables from its environment
        # object at every use (a load, a NULL test, an incref and a decref each), which
        # made a cold-stepped instruction about 40 CPU instructions dearer than an
        # interpreted one (docs/performance.md, "Cold steps as cheap as the interpreter").
        # The PUSH values are untyped, as in interpreter.execute: typed int, the native
        # build unboxes each and boxes it again (a new int object past the small-int
        # cache), where untyped it moves the reference.
        push_values: dict[int, Any] = self.analysis.push_values
        # fns: bodies that check the stack limit themselves and return halts and child
        # frames (exit_fns); JUMP and JUMPI do not count loop heads here (that is the
        # interpreter's loop_fns). direct: bodies called by number in the native build
        # (see interpreter.execute).
        opcodes = self.opcodes
        step_context = (self.analysis.padded, push_values, opcodes.static_gas,
                        opcodes.exit_fns, NATIVE, opcodes.direct_exit, opcodes.block_end_flags)
        block_at = self.block_at
        reaches_needed = self.reaches_needed
        needed: dict[int, int] = {}
        table = self.table
        # (locals: the native build reads a module's imported names from its dict)
        block_threshold = BLOCK_THRESHOLD
        entry_threshold = ENTRY_THRESHOLD

        def cold_step(f: Frame, stack: list[int], pc: int) -> int:
            code, push_values, static_gas, fns, native, direct, ends_block = step_context
            items: list[Any] = stack  # (annotations only: see push_values above)
            while True:  # entry after entry, while they have no block
                n = reaches[pc] + 1
                if n > block_threshold:
                    needs = needed.get(pc)
                    if needs is None:
                        needs = needed[pc] = reaches_needed(pc)
                    # (the first frames' need in the high half: see reaches_needed)
                    if n > (needs >> 16 if f.analysis.entries <= entry_threshold
                            else needs & 0xFFFF):
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
                            if op < 0x62:  # (PUSH1 and PUSH2: as in interpreter.execute)
                                stack.append(code[pc + 1] if op == 0x60
                                             else code[pc + 1] << 8 | code[pc + 2])
                            else:
                                items.append(push_values[pc])
                            pc += op - 0x5E
                            continue
                        if op < 0x90:
                            if near_limit and len(stack) > 1023:
                                raise StackOverflow
                            items.append(items[0x7F - op])
                            pc += 1
                            continue
                        if op < 0xA0:
                            i = 0x8E - op
                            items[-1], items[i] = items[i], items[-1]
                            pc += 1
                            continue
                    f.gas = gas
                    if native:
                        # (negative: the body of an opcode that ends the block)
                        k = direct[op]
                        if k > 0:
                            pc = call_body(k, f, stack, pc)
                            gas = f.gas
                            continue
                        if k < 0:
                            pc = call_body(-k, f, stack, pc)
                            break
                    pc = fns[op](f, stack, pc)
                    if ends_block[op]:
                        break
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
        """Reaches of an entry before it is translated: those needed while the code's first
        frames run (analysis.entries <= ENTRY_THRESHOLD: it came to this tier by a hot
        loop) times 65536, plus those needed once more frames have run it (each at most
        MAX_REACHES_NEEDED, so that a count stays within its 16 bits).

        Translation costs about as much as interpreting a few hundred instructions, so
        short blocks must run more often.

        The work counted is the trace's sure part (_sure_trace_blocks): a short block
        that jumps on to a constant destination is translated with the blocks it
        reaches, so it is worth translating as soon as that whole run is.

        In the native build, whose interpreter is faster, an entry of a code in its first
        frames also needs NATIVE_WRITING_REACHES times the share of the trace's
        instructions that write a line: what compile() costs grows with them, what
        translation saves there less (a loop run a few dozen times, sha1's rounds say, ran
        faster interpreted). Code that more frames run keeps the plain threshold: its
        straight-line parts are reached once a frame, and translated pay within a few."""
        blocks = _sure_trace_blocks(self.analysis, self.opcodes, start)
        length = _trace_length(blocks)
        need = min(255, max(BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD // max(length, 1)))
        first = need
        if NATIVE and NATIVE_WRITING_REACHES:
            kind = _kinds_for(self.opcodes).kind
            code = self.analysis.padded
            silent = _SILENT_KINDS
            scanned = writing = 0
            for pcs in blocks:
                scanned += len(pcs)
                for pc in pcs:
                    if kind[code[pc]] not in silent:
                        writing += 1
            first = min(MAX_REACHES_NEEDED,
                        max(need, NATIVE_WRITING_REACHES * writing // max(scanned, 1)))
        return first << 16 | need


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
