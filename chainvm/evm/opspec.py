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
import atexit
import hashlib
import marshal
import os
import textwrap
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING

from chainvm.evm.bigint import powmod
from chainvm.evm.errors import InvalidOpcode, StackOverflow, Stop
from chainvm.evm.frame import HALTED
from chainvm.evm.instructions.common import (
    SIGN_BIT,
    TWO_256,
    UINT256_MASK,
    charge,
    expand_memory,
    from_bytes,
    grow_for_word,
    load_past_end,
    load_word,
    padded_slice,
    store_word,
    to_bytes,
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
    "powmod": powmod,
    "expand_memory": expand_memory,
    "from_bytes": from_bytes,
    "grow_for_word": grow_for_word,
    "padded_slice": padded_slice,
    "load_past_end": load_past_end,
    "load_word": load_word,
    "store_word": store_word,
    "to_bytes": to_bytes,
    "Stop": Stop,
}
# Locals a template may read: the frame, its memory and the instruction's own pc.
_TEMPLATE_LOCALS = frozenset({"f", "mem", "pc"})
_BUILTINS = frozenset({"int", "len", "pow", "max", "min"})
# Names the generated bodies and blocks use for their own purposes.
_RESERVED = frozenset({"s", "stack", "append", "gas", "jumpdests", "unwrapped"}) | _TEMPLATE_LOCALS

def _load_generated_bodies() -> Mapping[str, Body]:
    """The bodies generated ahead of time from the templates (instructions/generated.py,
    written by `python -m chainvm.evm.generate_bodies`), by template key. A body the file
    lacks (a template changed or added since) is generated at import instead; so is every
    body when the file cannot be imported."""
    try:
        from chainvm.evm.instructions.generated import BODIES
    except ImportError:
        return {}
    return BODIES


_GENERATED_BODIES = _load_generated_bodies()


class Inline:
    """An opcode's effect as Python source over its operands, shared by both tiers.

    `source` is a few lines of Python; when the opcode pushes a result, the last line
    is the expression pushed. Operands are `a` (top of the stack), `b`, `c`; the lines
    may also use the frame `f`, its memory `mem`, the instruction's `pc`, the names in
    TEMPLATE_GLOBALS, `constants` of its own (added to TEMPLATE_GLOBALS: tables, say)
    and temporaries. Example: ADD is ``Inline("op_add", 2, "(a + b) & M", words=True)``.

    `words` marks a template whose operands are usually whole 256-bit words, worked on
    by int arithmetic alone (ADD, AND, LT...). It changes no behaviour: its generated
    body types the stack `list[Any]`, so the native build hands the items to Python's
    int operations as they are rather than converting each to its tagged C integer and
    back, which for a word costs more than it saves (docs/performance.md, "Word
    operands as Python ints in the native build"). Operands used as offsets, counts or
    indexes (memory, SIGNEXTEND's byte number) stay `int`.
    """

    __slots__ = (
        "_result",
        "_statements",
        "_temporaries",
        "arity",
        "body",
        "interpreter_source",
        "key",
        "name",
        "pushes",
        "source",
        "uses_memory",
        "words",
    )

    def __init__(self, name: str, arity: int, source: str, pushes: bool = True,
                 constants: Mapping[str, object] | None = None, words: bool = False) -> None:
        for key, value in (constants or {}).items():
            if TEMPLATE_GLOBALS.setdefault(key, value) is not value:
                raise ValueError(f"{name}: {key} is already a different template constant")
        self.name = name
        self.arity = arity
        self.pushes = pushes
        self.words = words
        # What the ahead-of-time bodies (instructions/generated.py) are looked up by.
        self.key = "\0".join((name, str(arity), str(pushes), source))
        ahead_of_time = _GENERATED_BODIES.get(self.key)
        key = f"{self.key}\0{_globals_names()}"
        cached = _TEMPLATE_CACHE.get(key)
        if cached is not None:  # generated by an earlier process from the same text
            try:
                (self.source, self._statements, self._result, self._temporaries,
                 self.uses_memory, self.interpreter_source, code) = cached
                self.body: Body = ahead_of_time or _body_from_code(self, code)
                return
            except (TypeError, ValueError, KeyError):  # a damaged entry: generate afresh
                pass
        self.source = textwrap.dedent(source).strip()
        module = ast.parse(self.source)
        statements, result = _split(module, name, pushes)
        operands = set(OPERANDS[:arity])
        names: list[ast.Name] = []
        dotted: set[ast.Name] = set()  # operands whose attribute is read: `b.to_bytes(...)`
        for node in ast.walk(module):
            if isinstance(node, ast.Name):
                names.append(node)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                dotted.add(node.value)
        counts = Counter(node.id for node in names)
        temporaries = {node.id for node in names if isinstance(node.ctx, ast.Store)}
        if temporaries & (operands | _RESERVED | set(TEMPLATE_GLOBALS)):
            raise ValueError(f"{name}: a template may not assign {sorted(temporaries)}")
        allowed = operands | temporaries | _TEMPLATE_LOCALS | _BUILTINS | set(TEMPLATE_GLOBALS)
        if set(counts) - allowed:
            raise ValueError(f"{name}: unknown names {sorted(set(counts) - allowed)} in template")
        if result is not None and (result.lineno != result.end_lineno or result.col_offset):
            raise ValueError(f"{name}: the expression pushed must be one whole line")
        self.uses_memory = "mem" in counts
        self._temporaries = tuple(sorted(temporaries))
        fields: dict[ast.Name, str] = {}
        for node in names:
            if node.id in operands:
                fields[node] = "dot_" + node.id if node in dotted else node.id
            elif node.id in temporaries:
                fields[node] = "tmp_" + node.id
            elif node.id == "pc":
                fields[node] = "pc"
        lines = _format_lines(self.source, fields)
        split_at = len(lines) if result is None else result.lineno - 1
        self._statements = "\n".join(lines[:split_at])
        self._result = lines[split_at] if result is not None else None
        self.interpreter_source = _interpreter_source(self, counts, bool(statements), result)
        code = compile(self.interpreter_source, f"<chainvm {name}>", "exec")
        self.body = ahead_of_time or _body_from_code(self, code)
        _TEMPLATE_CACHE[key] = (self.source, self._statements, self._result,
                                self._temporaries, self.uses_memory, self.interpreter_source,
                                code)
        _template_cache_changed()

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

    @property
    def writes_nothing(self) -> bool:
        """Whether `expand` gives no statement and no pushed value (JUMPDEST, POP): read
        from the split template instead of expanding it (the translator asks this of
        every template of a table, in the first frame it translates or weighs)."""
        return not self._statements and self._result is None

    def __repr__(self) -> str:
        return f"Inline({self.name}, {self.source!r})"


def _format_lines(source: str, fields: dict[ast.Name, str]) -> list[str]:
    """The source's lines as str.format templates, each name node in `fields` replaced by
    its field ({a}, {dot_a}, {tmp_NAME}, {pc}), found by its position in the source.

    The compiled tier puts names or constants in place of the operands, so they need no
    brackets, except before an attribute ({dot_a}: `(5).bit_length()`)."""
    by_line: dict[int, list[tuple[int, int, str]]] = {}
    for node, field in fields.items():
        assert node.end_col_offset is not None
        by_line.setdefault(node.lineno, []).append((node.col_offset, node.end_col_offset, field))
    lines = []
    for number, line in enumerate(source.split("\n"), start=1):
        parts = []
        end = 0
        for start, stop, field in sorted(by_line.get(number, ())):
            parts.append(line[end:start].replace("{", "{{").replace("}", "}}"))
            parts.append("{" + field + "}")
            end = stop
        parts.append(line[end:].replace("{", "{{").replace("}", "}}"))
        lines.append("".join(parts))
    return lines


def _split(module: ast.Module, name: str, pushes: bool) -> tuple[list[ast.stmt], ast.expr | None]:
    """(statements, the expression pushed) of a parsed template."""
    statements = list(module.body)
    if not pushes:
        return statements, None
    last = statements.pop() if statements else None
    if isinstance(last, ast.Expr):
        return statements, last.value
    raise ValueError(f"{name}: a pushing template ends with the expression pushed")


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


def _interpreter_source(inline: Inline, counts: Counter[str], has_statements: bool,
                        result: ast.expr | None) -> str:
    """Source of the interpreter's body for `inline`: operands taken off the stack, the
    template's lines, the result written in the place of the deepest operand. `counts`: how
    often the template names each name."""
    arity = inline.arity
    names = OPERANDS[:arity]
    lines = [f"def {inline.name}(f, s, pc):"]
    operand_text: dict[str, str] = {}
    in_place = names[-1] if inline.pushes and arity else None
    popped = [n for n in names if n != in_place]
    # Popping inside the expression (s[-1] = (s.pop() + s[-1]) & M) saves a local when
    # the top operand is read once, first and unconditionally.
    pop_inline = (not has_statements and result is not None and len(popped) == 1
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
        wrap = _wrap_test(result, set(names))
        if wrap is not None and in_place and inline._result.startswith("(") \
                and inline._result.endswith(") & M"):
            # `(a + b) & M` as its sum and a comparison: a sum inside 256 bits, the common
            # case, is then kept as it is instead of going through the mask's digit loop
            # (in the native build a 262-instruction PyNumber_And against a comparison).
            # The compiled tier keeps the template's shorter source, which its compile()
            # pays for by the token.
            inner = inline._result[1:-len(") & M")].format_map(mapping)
            test, wrapped = wrap
            lines.append(f"    {_WRAPPED} = {inner}")
            lines.append(f"    s[-1] = {_WRAPPED} if {test} else {wrapped}")
        else:
            value = inline._result.format_map(mapping)
            lines.append(f"    s[-1] = {value}" if in_place else f"    s.append({value})")
    lines.append("    return pc + 1")
    return "\n".join(lines) + "\n"


# The interpreter bodies' name for a result before it is wrapped to 256 bits.
_WRAPPED = "unwrapped"


def _wrap_test(result: ast.expr | None, operands: set[str]) -> tuple[str, str] | None:
    """For a result `(x + y) & M`, `(x * y) & M` or `(x - y) & M` over operands (words,
    never negative): (the test that the unwrapped value is already a word, the value
    wrapped when it is not). None for any other result."""
    if not (isinstance(result, ast.BinOp) and isinstance(result.op, ast.BitAnd)
            and isinstance(result.right, ast.Name) and result.right.id == "M"
            and isinstance(result.left, ast.BinOp)
            and isinstance(result.left.left, ast.Name) and result.left.left.id in operands
            and isinstance(result.left.right, ast.Name) and result.left.right.id in operands):
        return None
    if isinstance(result.left.op, ast.Sub):  # -2**256 < x - y < 2**256
        return f"{_WRAPPED} >= 0", f"{_WRAPPED} + TWO_256"
    if isinstance(result.left.op, ast.Add | ast.Mult):  # 0 <= x + y, x * y
        return f"{_WRAPPED} <= M", f"{_WRAPPED} & M"
    return None


def _body_from_code(inline: Inline, code: CodeType) -> Body:
    """The body function defined by `code` (the compiled source of _interpreter_source)."""
    namespace: dict[str, object] = {}
    exec(code, TEMPLATE_GLOBALS, namespace)  # noqa: S102
    body = namespace[inline.name]
    body.__doc__ = f"Generated from the template {inline.source!r}."  # type: ignore[attr-defined]
    return body  # type: ignore[return-value]


# The templates' generated parts (lines, temporaries, the body's code object) are kept
# between processes in one marshal file, so that a process does not parse and compile
# every template at import. It is named after the hash of this file and Python's bytecode
# magic number, so a change to the generator or another Python reads another file; a
# missing, unreadable or damaged file only means generating afresh. The directory is
# CHAINVM_CACHE_DIR (empty: no cache), else $XDG_CACHE_HOME/chainvm or ~/.cache/chainvm.
def template_cache_path() -> Path | None:
    configured = os.environ.get("CHAINVM_CACHE_DIR")
    if configured is not None:
        base = Path(configured) if configured else None
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "chainvm"
    if base is None:
        return None
    try:
        digest = hashlib.sha256(Path(__file__).read_bytes() + MAGIC_NUMBER).hexdigest()[:20]
    except OSError:
        return None
    return base / f"templates-{digest}.marshal"


def load_template_cache(path: Path | None) -> dict[str, tuple]:
    if path is None:
        return {}
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def save_template_cache(path: Path | None, entries: dict[str, tuple]) -> None:
    """Write the entries (atomically: another process may be reading); errors are ignored."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(entries))
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass


_globals_seen: list[object] = [0, ""]


def _globals_names() -> str:
    """The names templates may use (part of a cached template's key: they decide which
    templates are valid), recomputed only when constants were added."""
    if _globals_seen[0] != len(TEMPLATE_GLOBALS):
        # (exec adds __builtins__ to the dict the first time it runs a body: not a name)
        names = sorted(name for name in TEMPLATE_GLOBALS if not name.startswith("__"))
        _globals_seen[:] = [len(TEMPLATE_GLOBALS), ",".join(names)]
    return _globals_seen[1]  # type: ignore[return-value]


_TEMPLATE_CACHE_PATH = template_cache_path()
_TEMPLATE_CACHE: dict[str, tuple] = load_template_cache(_TEMPLATE_CACHE_PATH)
_template_cache_dirty = False


def _template_cache_changed() -> None:
    """A template was generated afresh: write the cache when the process ends."""
    global _template_cache_dirty
    if not _template_cache_dirty and _TEMPLATE_CACHE_PATH is not None:
        _template_cache_dirty = True
        atexit.register(save_template_cache, _TEMPLATE_CACHE_PATH, _TEMPLATE_CACHE)


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
    # The body the compiled tier runs instead (halts, the CALL and CREATE families): the
    # same effect, but it returns frame.HALTED or frame.CALLED where `body` raises Stop,
    # Revert or CallRequest (the interpreter's loop cannot test every result cheaply; the
    # compiled tier's dispatcher tests only a pc that has no block).
    exit_body: Body | None = None


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


def op_undefined_exit(f: Frame, s: list[int], pc: int) -> int:
    """op_undefined for the compiled tier (see OpSpec.exit_body)."""
    f.error = InvalidOpcode(f"invalid opcode 0x{f.code[pc]:02x}")
    f.gas = 0
    return HALTED


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
    exit_fns      the compiled tier's: fast_fns, with each op's exit_body (halts and child
                  frames are returned, not raised)
    static_gas, stack_ranges (legal heights before the op), names, specs (None if undefined)
    block_enders  opcodes after which a compiled block ends (undefined ones included)
    block_end_flags  the same as a tuple of bools indexed by the opcode, for the cold
                  stepper's per-instruction test (an index, not a set lookup, in the native
                  build; CPython specialises indexing a tuple too)
    loop_keys, exit_keys   (body, stack ceiling) behind each loop_fns / exit_fns entry: the
                  body before the overflow wrapper, and the height above which it overflows
                  (0: not wrapped); what instructions/direct.py is generated from
    direct_loop, direct_exit   for the native build: the number under which
                  instructions/direct.call_body runs each loop_fns / exit_fns entry without
                  the Python call protocol (0: call the table's function), direct_exit's
                  negated for a block ender; all 0 in the pure-Python package, where the
                  table's call is the cheaper one

    Identity matters: the compiled tier caches translations per OpcodeTables.
    """

    __slots__ = ("block_end_flags", "block_enders", "direct_exit", "direct_loop", "exit_fns",
                 "exit_keys", "fast_fns", "fns", "loop_fns", "loop_keys", "name", "names",
                 "specs", "stack_ranges", "static_gas")

    def __init__(self, name: str, table: Mapping[int, OpSpec]) -> None:
        self.name = name
        specs = tuple(table.get(op) for op in range(256))
        self.specs = specs
        # Each entry of the three runnable tables is (body, stack ceiling): the body,
        # wrapped with the overflow check above the ceiling unless it is 0 (see below).
        fast_keys: list[tuple[Body, int]] = []
        loop_keys: list[tuple[Body, int]] = []
        exit_keys: list[tuple[Body, int]] = []
        stack_ranges: list[range] = []
        fast: tuple[Body, int]
        loop: tuple[Body, int]
        leave: tuple[Body, int]
        for s in specs:
            if s is None:
                fast = loop = (op_undefined, 0)
                leave = (op_undefined_exit, 0)
                stack_ranges.append(range(1 << 20))  # any height: the body fails anyway
            else:
                highest = STACK_LIMIT + s.pops - s.pushes  # legal heights: pops <= h <= highest
                ceiling = highest if s.pushes > s.pops else 0
                fast = (s.body, ceiling)
                loop = ((s.counting_body, 0)
                        if COMPILED_TIER_ENABLED and s.counting_body is not None else fast)
                leave = fast if s.exit_body is None else (s.exit_body, ceiling)
                stack_ranges.append(range(s.pops, highest + 1))
            fast_keys.append(fast)
            loop_keys.append(loop)
            exit_keys.append(leave)
        wrapped: dict[tuple[Body, int], Body] = {}  # one wrapper per body, shared by tables

        def runnable(key: tuple[Body, int]) -> Body:
            body, ceiling = key
            if not ceiling:
                return body
            fn = wrapped.get(key)
            if fn is None:
                fn = wrapped[key] = _overflow_checked(body, ceiling)
            return fn

        self.fns = tuple(body for body, _ in fast_keys)
        self.fast_fns = tuple(map(runnable, fast_keys))
        self.loop_fns = tuple(map(runnable, loop_keys))
        self.exit_fns = tuple(map(runnable, exit_keys))
        self.loop_keys = tuple(loop_keys)
        self.exit_keys = tuple(exit_keys)
        # Imported here: direct.py imports the instruction modules, which import this one.
        from chainvm.evm.instructions.direct import NATIVE, numbering

        self.block_enders = frozenset(op for op, s in enumerate(specs)
                                      if s is None or s.ends_block or s.reads_gas)
        self.block_end_flags = tuple(map(self.block_enders.__contains__, range(256)))
        number = numbering() if NATIVE else {}
        self.direct_loop = tuple(number.get(key, 0) for key in loop_keys)
        # Negative for an opcode that ends a block: the cold step loop learns both from
        # one lookup (docs/performance.md, "cold steps").
        self.direct_exit = tuple(-number.get(key, 0) if op in self.block_enders
                                 else number.get(key, 0) for op, key in enumerate(exit_keys))
        self.stack_ranges = tuple(stack_ranges)
        self.static_gas = tuple(0 if s is None else s.gas for s in specs)
        self.names = tuple(f"opcode 0x{op:02x} not defined" if s is None else s.name
                           for op, s in enumerate(specs))

    def __repr__(self) -> str:
        return f"OpcodeTables({self.name})"
