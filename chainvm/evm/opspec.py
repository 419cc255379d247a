"""One record per opcode, and the per-opcode tuples the executors index.

An `OpSpec` says everything the executors need about an opcode in a fork: its
name, immediate size, stack items popped and pushed, static gas, whether it
ends straight-line code (a halt, a jump, a child frame) or depends on the gas
left, and its body. An opcode whose effect can be written as a few lines of
Python over its operands has an `Inline` template instead of a hand-written
body: the interpreter's body is generated from the template at import, and the
compiled tier (compiler.py) pastes the same template into its blocks, so the
two tiers cannot disagree about what the opcode does.

`OpcodeTables` turns one fork's mapping of opcode -> OpSpec into tuples indexed
by the opcode byte (bodies, static gas, legal stack heights, names).
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainvm.evm.errors import InvalidOpcode, StackOverflow, Stop
from chainvm.evm.instructions.common import (
    SIGN_BIT,
    TWO_256,
    UINT256_MASK,
    charge,
    expand_memory,
    padded_slice,
)
from chainvm.evm.tiering import ENABLED as COMPILED_TIER_ENABLED

if TYPE_CHECKING:
    from chainvm.evm.frame import Frame

Body = Callable[["Frame", list[int], int], int]

STACK_LIMIT = 1024

# Template operands: `a` is the top of the stack, `b` the item below it, `c` the third.
OPERANDS = ("a", "b", "c")

# What a template may name besides its operands and its own temporaries. Both tiers
# evaluate templates with these globals (the compiled tier adds its own to the same dict).
TEMPLATE_GLOBALS: dict[str, object] = {
    "M": UINT256_MASK,
    "SIGN": SIGN_BIT,
    "TWO_256": TWO_256,
    "charge": charge,
    "expand_memory": expand_memory,
    "padded_slice": padded_slice,
    "Stop": Stop,
}
# Locals a template may read: the frame, its memory and the instruction's own pc.
_TEMPLATE_LOCALS = frozenset({"f", "mem", "pc"})
_BUILTINS = frozenset({"int", "len", "pow", "max", "min"})
# Names the generated bodies and blocks use for their own purposes.
_RESERVED = frozenset({"s", "stack", "append", "gas", "jumpdests"}) | _TEMPLATE_LOCALS

_MARKER = re.compile(r"__(op|dot|tmp)_([a-z_0-9]+)__")


class Inline:
    """An opcode's effect as Python source over its operands, shared by both tiers.

    `source` is a few lines of Python; when the opcode pushes a result, the last line
    is the expression pushed. Operands are `a` (top of the stack), `b`, `c`; the lines
    may also use the frame `f`, its memory `mem`, the instruction's `pc`, the names in
    TEMPLATE_GLOBALS and temporaries of their own. Example: ADD is
    ``Inline("op_add", 2, "(a + b) & M")``.
    """

    __slots__ = (
        "_result",
        "_statements",
        "_temporaries",
        "arity",
        "body",
        "name",
        "pushes",
        "source",
        "uses_memory",
    )

    def __init__(self, name: str, arity: int, source: str, pushes: bool = True) -> None:
        self.name = name
        self.arity = arity
        self.pushes = pushes
        self.source = textwrap.dedent(source).strip()
        module = ast.parse(self.source)
        statements = list(module.body)
        result: ast.expr | None = None
        if pushes:
            last = statements.pop() if statements else None
            if not isinstance(last, ast.Expr):
                raise ValueError(f"{name}: a pushing template ends with the expression pushed")
            result = last.value
        operands = set(OPERANDS[:arity])
        temporaries = {node.id for stmt in statements for node in ast.walk(stmt)
                       if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
        if temporaries & (operands | _RESERVED | set(TEMPLATE_GLOBALS)):
            raise ValueError(f"{name}: a template may not assign {sorted(temporaries)}")
        allowed = operands | temporaries | _TEMPLATE_LOCALS | _BUILTINS | set(TEMPLATE_GLOBALS)
        used = {node.id for node in ast.walk(module) if isinstance(node, ast.Name)}
        if used - allowed:
            raise ValueError(f"{name}: unknown names {sorted(used - allowed)} in template")
        self.uses_memory = "mem" in used
        self._temporaries = tuple(sorted(temporaries))
        self._statements = _format_template(statements, operands, temporaries)
        self._result = _format_template([result], operands, temporaries) if result else None
        self.body: Body = _interpreter_body(self, statements, result)

    def expand(self, operands: Sequence[str], fresh: Callable[[], str],
               pc: int) -> tuple[list[str], str | None]:
        """(statements, result expression) with the operands replaced by `operands`
        (source text: local names or constants), temporaries by fresh names and `pc`
        by its value."""
        mapping = dict(zip(OPERANDS, operands, strict=False))
        for name, text in zip(OPERANDS, operands, strict=False):
            mapping["dot_" + name] = f"({text})" if text[0].isdigit() else text
        for name in self._temporaries:
            mapping["tmp_" + name] = fresh()
        mapping["pc"] = str(pc)
        statements = self._statements.format_map(mapping).split("\n") if self._statements else []
        result = self._result.format_map(mapping) if self._result is not None else None
        return statements, result

    def __repr__(self) -> str:
        return f"Inline({self.name}, {self.source!r})"


class _Rename(ast.NodeTransformer):
    """Operands and temporaries become markers; an operand whose attribute is read gets
    its own marker, since a constant needs brackets there (`(5).bit_length()`)."""

    def __init__(self, operands: set[str], temporaries: set[str]) -> None:
        self.operands = operands | {"pc"}
        self.temporaries = temporaries

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        value = node.value
        if isinstance(value, ast.Name) and value.id in self.operands:
            node.value = ast.Name(f"__dot_{value.id}__", value.ctx)
            return node
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.operands:
            return ast.Name(f"__op_{node.id}__", node.ctx)
        if node.id in self.temporaries:
            return ast.Name(f"__tmp_{node.id}__", node.ctx)
        return node


def _unparse_statement(node: ast.AST) -> str:
    """Source of one statement; an `if` with a single simple statement stays on one line
    (the compiled tier compiles a lot of these, and shorter source compiles faster)."""
    if (isinstance(node, ast.If) and not node.orelse and len(node.body) == 1
            and not isinstance(node.body[0], ast.If | ast.For | ast.While | ast.With)):
        return f"if {ast.unparse(node.test)}: {ast.unparse(node.body[0])}"
    return ast.unparse(node)


def _format_template(nodes: Sequence[ast.AST], operands: set[str],
                     temporaries: set[str]) -> str:
    """The nodes' source as a str.format template: {a}, {b}, {c}, {pc}, {tmp_NAME}, and
    {dot_a} where an attribute of `a` is read.

    Operands are replaced by source text that is a name or a constant (a local, a pushed
    value, `s[-1]`), so they need no brackets except before an attribute."""
    renamer = _Rename(operands, temporaries)
    text = "\n".join(_unparse_statement(renamer.visit(_copy(node))) for node in nodes)
    text = text.replace("{", "{{").replace("}", "}}")

    def field(match: re.Match[str]) -> str:
        kind, name = match.groups()
        return f"{{{name}}}" if kind == "op" else f"{{{kind}_{name}}}"

    return _MARKER.sub(field, text)


def _copy(node: ast.AST) -> ast.AST:
    return ast.parse(ast.unparse(node)).body[0]


def _occurrences(nodes: Sequence[ast.AST]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Name):
                counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def _first_evaluated(node: ast.AST, names: set[str],
                     conditional: bool = False) -> tuple[str, bool] | None:
    """(first of `names` that evaluating `node` reads, whether it is always read)."""
    if isinstance(node, ast.Name):
        return (node.id, not conditional) if node.id in names else None
    if isinstance(node, ast.IfExp):  # the test runs first; then one branch or the other
        return (_first_evaluated(node.test, names, conditional)
                or _first_evaluated(node.body, names, True)
                or _first_evaluated(node.orelse, names, True))
    if isinstance(node, ast.BoolOp | ast.Compare):  # later operands may be skipped
        parts = node.values if isinstance(node, ast.BoolOp) else [node.left, *node.comparators]
        for i, part in enumerate(parts):
            found = _first_evaluated(part, names, conditional or i > 1 or
                                     (i > 0 and isinstance(node, ast.BoolOp)))
            if found:
                return found
        return None
    for child in ast.iter_child_nodes(node):  # other nodes evaluate their fields in order
        found = _first_evaluated(child, names, conditional)
        if found:
            return found
    return None


def _interpreter_body(inline: Inline, statements: list[ast.stmt], result: ast.expr | None) -> Body:
    """The interpreter's body for `inline`: operands taken off the stack, the template's
    lines, the result written in the place of the deepest operand."""
    arity = inline.arity
    counts = _occurrences([*statements, *([result] if result else [])])
    names = OPERANDS[:arity]
    lines = [f"def {inline.name}(f, s, pc):"]
    operand_text: dict[str, str] = {}
    in_place = names[-1] if inline.pushes and arity else None
    popped = [n for n in names if n != in_place]
    # Popping inside the expression (s[-1] = (s.pop() + s[-1]) & M) saves a local when
    # the top operand is read once, first and unconditionally.
    pop_inline = (not statements and result is not None and len(popped) == 1
                  and counts.get(popped[0]) == 1
                  and _first_evaluated(result, set(names)) == (popped[0], True))
    for name in popped:
        if pop_inline:
            operand_text[name] = "s.pop()"
        elif counts.get(name):
            lines.append(f"    {name} = s.pop()")
            operand_text[name] = name
        else:
            lines.append("    s.pop()")
    if in_place is not None:
        if counts.get(in_place, 0) == 1:
            operand_text[in_place] = "s[-1]"
        else:
            lines.append(f"    {in_place} = s[-1]")
            operand_text[in_place] = in_place
    if inline.uses_memory:
        lines.append("    mem = f.memory")
    mapping = {**operand_text, **{"dot_" + k: v for k, v in operand_text.items()},
               **{"tmp_" + t: t for t in inline._temporaries}, "pc": "pc"}
    if inline._statements:
        lines.extend("    " + line for line in inline._statements.format_map(mapping).split("\n"))
    if inline._result is not None:
        value = inline._result.format_map(mapping)
        lines.append(f"    s[-1] = {value}" if in_place else f"    s.append({value})")
    lines.append("    return pc + 1")
    namespace: dict[str, object] = {}
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<chainvm {inline.name}>", "exec"), TEMPLATE_GLOBALS, namespace)  # noqa: S102
    body = namespace[inline.name]
    body.__doc__ = f"Generated from the template {inline.source!r}."  # type: ignore[attr-defined]
    return body  # type: ignore[return-value]


@dataclass(frozen=True)
class OpSpec:
    """One opcode in one fork (each fork's table maps opcode bytes to these)."""

    name: str
    body: Body
    gas: int  # static gas, charged before the body runs; the body charges the rest
    pops: int
    pushes: int
    immediate: int = 0  # bytes of immediate data after the opcode (PUSHn)
    # Halts, jumps, or hands a child frame to the driver: straight-line code ends here.
    ends_block: bool = False
    # Its effect depends on the gas left (GAS, EIP-2200's SSTORE sentry, EIP-150's 63/64
    # rule): a compiled block must have charged all static gas before it runs.
    reads_gas: bool = False
    # The template `body` was generated from, for the compiled tier to paste inline.
    inline: Inline | None = None
    # The body the interpreter's fast loop runs instead while the compiled tier is on
    # (JUMP and JUMPI: count loop heads so that hot loops move to the compiled tier).
    counting_body: Body | None = None


def spec(name: str, semantics: Body | Inline, gas: int, pops: int, pushes: int,
         **traits: object) -> OpSpec:
    """An OpSpec from a hand-written body or from a template (the body generated from it)."""
    if isinstance(semantics, Inline):
        if (semantics.arity, semantics.pushes) != (pops, pushes == 1) or pushes > 1:
            raise ValueError(f"{name}: template takes {semantics.arity} and pushes "
                             f"{int(semantics.pushes)}, the spec says {pops} and {pushes}")
        return OpSpec(name, semantics.body, gas, pops, pushes, inline=semantics,
                      **traits)  # type: ignore[arg-type]
    return OpSpec(name, semantics, gas, pops, pushes, **traits)  # type: ignore[arg-type]


def op_undefined(f: Frame, s: list[int], pc: int) -> int:
    """The body of every opcode a fork does not define (and of 0xFE, INVALID)."""
    raise InvalidOpcode(f"invalid opcode 0x{f.code[pc]:02x}")


def _overflow_checked(body: Body, max_height: int) -> Body:
    """Wrap an op that grows the stack with the 1024-item check the fast loops leave out."""

    def checked(f: Frame, s: list[int], pc: int) -> int:
        if len(s) > max_height:
            raise StackOverflow
        return body(f, s, pc)

    checked.__name__ = f"{body.__name__}_checked"
    return checked


class OpcodeTables:
    """One fork's opcode table as tuples indexed by the opcode byte.

    fns           the bodies as specified (the traced loop checks stack heights first)
    fast_fns      for loops without per-step stack checks: ops that grow the stack check
                  the 1024 limit themselves (the cold stepper of the compiled tier)
    loop_fns      the interpreter's fast loop: fast_fns, with each op's counting_body
                  while the compiled tier is on
    static_gas, stack_ranges (legal heights before the op), names, specs (None if undefined)
    block_enders  opcodes after which a compiled block ends (undefined ones included)

    Identity matters: the compiled tier caches translations per OpcodeTables.
    """

    __slots__ = ("block_enders", "fast_fns", "fns", "loop_fns", "name", "names", "specs",
                 "stack_ranges", "static_gas")

    def __init__(self, name: str, table: Mapping[int, OpSpec]) -> None:
        self.name = name
        specs = tuple(table.get(op) for op in range(256))
        self.specs = specs
        fns: list[Body] = []
        fast_fns: list[Body] = []
        loop_fns: list[Body] = []
        stack_ranges: list[range] = []
        for op, s in enumerate(specs):
            if s is None:
                fns.append(op_undefined)
                fast_fns.append(op_undefined)
                loop_fns.append(op_undefined)
                stack_ranges.append(range(1 << 20))  # any height: the body fails anyway
                continue
            fns.append(s.body)
            highest = STACK_LIMIT + s.pops - s.pushes  # legal heights: pops <= h <= highest
            fast = _overflow_checked(s.body, highest) if s.pushes > s.pops else s.body
            fast_fns.append(fast)
            if COMPILED_TIER_ENABLED and s.counting_body is not None:
                loop_fns.append(s.counting_body)
            else:
                loop_fns.append(fast)
            stack_ranges.append(range(s.pops, highest + 1))
        self.fns = tuple(fns)
        self.fast_fns = tuple(fast_fns)
        self.loop_fns = tuple(loop_fns)
        self.stack_ranges = tuple(stack_ranges)
        self.static_gas = tuple(0 if s is None else s.gas for s in specs)
        self.names = tuple(f"opcode 0x{op:02x} not defined" if s is None else s.name
                           for op, s in enumerate(specs))
        self.block_enders = frozenset(op for op, s in enumerate(specs)
                                      if s is None or s.ends_block or s.reads_gas)

    def __repr__(self) -> str:
        return f"OpcodeTables({self.name})"
