"""Write chainvm/evm/instructions/generated.py: the opcode templates' interpreter bodies as a
plain module; and instructions/direct.py, the native build's direct calls of the bodies.

The templates (`opspec.Inline`) stay the one source of what a templated opcode does; this
writes out, ahead of time, the bodies that `Inline` otherwise generates at import. As a
module the bodies are byte-compiled like the rest of the package, and an optional native
build (mypyc, see docs/performance.md) compiles them with the interpreter loop that calls
them. `Inline` takes a body from the module only when its key (name, arity, pushes and the
template's text) is there, so a stale file never changes behaviour; a test keeps the file
equal to what this writes.

direct.py gives every body of every fork's fast tables that is a module-level function of
an instruction module a number, and `call_body(number, f, stack, pc)` calls it by name. Compiled
by mypyc, such a call is a plain C call with the pc as a machine integer; through the table
it goes through Python's call protocol (the pc boxed, the arguments parsed and checked, the
result boxed), about 30% of the native interpreter's instructions on straight-line code
(docs/performance.md). Interpreted, the table's call is the cheaper one, and the tables
use it (OpcodeTables.direct_loop is all 0).

    python -m chainvm.evm.generate_bodies          # rewrite the files
    python -m chainvm.evm.generate_bodies --check  # exit 1 when one is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TARGET = Path(__file__).with_name("instructions") / "generated.py"
DIRECT_TARGET = Path(__file__).with_name("instructions") / "direct.py"

HEADER = '''"""The opcode templates' interpreter bodies, generated ahead of time. Do not edit.

Written by `python -m chainvm.evm.generate_bodies` from the `Inline` templates in
chainvm/evm/instructions (see that module); `opspec.Inline` uses a body from here when its
key matches the template, and generates the body itself otherwise. A template marked
`words` types its stack list[Any] (see `Inline`: an annotation for the native build).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

'''


def _int_text(value: int) -> str:
    return hex(value) if value > 0xFFFF else str(value)


def _constant_lines(names: set[str]) -> tuple[list[str], list[str]]:
    """(import lines, constant lines) for the template globals the bodies name."""
    from chainvm.evm.instructions import common
    from chainvm.evm.opspec import TEMPLATE_GLOBALS

    imports: dict[str, list[str]] = {}
    constants: list[str] = []
    for name in sorted(names):
        value = TEMPLATE_GLOBALS[name]
        if isinstance(value, int):
            constants.append(f"{name}: Final = {_int_text(value)}")
        elif isinstance(value, tuple) and all(isinstance(v, int) for v in value):
            items = "".join(f"    {_int_text(v)},\n" for v in value)
            # tuple[int, ...]: a fixed-length tuple type would make mypyc keep it unboxed
            # and box all of it again for every subscript
            constants.append(f"{name}: Final[tuple[int, ...]] = (\n{items})")
        elif getattr(value, "__name__", None) == name \
                and isinstance(getattr(value, "__module__", None), str):
            imports.setdefault(value.__module__, []).append(name)
        # a helper bound there (store_word; from_bytes, a builtin method of no module)
        elif getattr(common, name, None) is value:
            imports.setdefault(common.__name__, []).append(name)
        else:
            raise ValueError(f"template constant {name}: cannot write {type(value).__name__}")
    lines = []
    for module, found in sorted(imports.items()):
        line = f"from {module} import {', '.join(sorted(found))}"
        if len(line) > 99:  # the project's line length: one name per line, as ruff sorts
            line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in sorted(found)) + ")"
        lines.append(line)
    return lines, constants


def module_source() -> str:
    """The text of generated.py for every template the forks use."""
    import keyword

    from chainvm.evm import forks
    from chainvm.evm.opspec import TEMPLATE_GLOBALS, Inline

    templates: dict[str, Inline] = {}
    for fork in forks.FORK_ORDER:
        for spec in forks.get_fork(fork).opcodes.specs:
            if spec is not None and spec.inline is not None:
                templates.setdefault(spec.inline.key, spec.inline)
    functions: list[str] = []
    entries: list[str] = []
    names_used: set[str] = set()
    taken: dict[str, int] = {}
    for key in sorted(templates):
        template = templates[key]
        count = taken.get(template.name, 0)
        taken[template.name] = count + 1
        function = template.name if count == 0 else f"{template.name}_{count + 1}"
        assert not keyword.iskeyword(function)
        head, _, rest = template.interpreter_source.partition("\n")
        if head != f"def {template.name}(f, s, pc):":
            raise ValueError(f"{template.name}: unexpected body head {head!r}")
        stack = "list[Any]" if template.words else "list[int]"
        functions.append(f"def {function}(f: Frame, s: {stack}, pc: int) -> int:\n{rest}")
        entries.append(f"    {key!r}: {function},")
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", template.interpreter_source))
        names_used.update(words & set(TEMPLATE_GLOBALS))
    imports, constants = _constant_lines(names_used)
    parts = [HEADER, *(line + "\n" for line in imports),
             "\nif TYPE_CHECKING:\n    from chainvm.evm.frame import Frame\n\n",
             *(line + "\n" for line in constants), "\n"]
    for text in functions:
        parts.append("\n" + text + "\n")
    parts.append("\nBODIES: Final[dict[str, Callable[[Frame, list[int], int], int]]] = {\n")
    parts.extend(entry + "\n" for entry in entries)
    parts.append("}\n")
    return "".join(parts)


DIRECT_HEADER = '''"""Direct calls of the opcode bodies, for the native build. Generated; do not edit.

Written by `python -m chainvm.evm.generate_bodies` from the forks' opcode tables (see that
module for why): `call_body(k, f, s, pc)` runs entry k of ENTRIES, a body and the stack height
above which it overflows (0: it cannot), as the fork table's function for it would.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Final

from chainvm.evm.errors import StackOverflow
'''


def direct_entries() -> list[tuple[str, str, int]]:
    """(module, function, stack ceiling) of every body that call_body can reach by name."""
    import importlib

    from chainvm.evm import forks

    found: set[tuple[str, str, int]] = set()
    for fork in forks.FORK_ORDER:
        tables = forks.get_fork(fork).opcodes
        for body, ceiling in tables.loop_keys + tables.exit_keys:
            module, name = body.__module__, body.__name__
            if not module or not module.startswith("chainvm.evm.instructions."):
                continue
            if getattr(importlib.import_module(module), name, None) is not body:
                continue  # made by a factory (LOGn, SWAPn): not importable by name
            found.add((module, name, ceiling))
    return sorted(found)


def _dispatch_lines(entries: list[tuple[str, int]], first: int, indent: str) -> list[str]:
    """A binary search over k in [first, first + len(entries)) ending in each call."""
    if len(entries) == 1:
        alias, ceiling = entries[0]
        lines = []
        if ceiling:
            lines += [f"{indent}if len(s) > {ceiling}:", f"{indent}    raise StackOverflow"]
        return [*lines, f"{indent}return {alias}(f, s, pc)"]
    half = len(entries) // 2
    return ([f"{indent}if k < {first + half}:"]
            + _dispatch_lines(entries[:half], first, indent + "    ")
            + _dispatch_lines(entries[half:], first + half, indent))


def direct_source() -> str:
    """The text of instructions/direct.py."""
    entries = direct_entries()
    names = [name for _, name, _ in entries]
    aliases: list[str] = []
    imports: dict[str, set[str]] = {}
    for module, name, _ in entries:
        short = module.rsplit(".", 1)[1]
        alias = name if names.count(name) == 1 or module.endswith(".generated") else \
            f"{short}_{name}"
        imports.setdefault(module, set()).add(name if alias == name else f"{name} as {alias}")
        aliases.append(alias)
    parts = [DIRECT_HEADER]
    for module in sorted(imports):
        parts.append(f"from {module} import (\n")
        parts.extend(f"    {item},\n" for item in sorted(imports[module]))
        parts.append(")\n")
    parts.append("\nif TYPE_CHECKING:\n    from chainvm.evm.frame import Frame\n\n\n")
    parts.append("def call_body(k: int, f: Frame, s: list[int], pc: int) -> int:\n")
    calls = list(dict.fromkeys(zip(aliases, (c for _, _, c in entries), strict=True)))
    parts.extend(line + "\n" for line in _dispatch_lines(calls, 1, "    "))
    parts.append("\n\nENTRIES: Final[tuple[tuple[Callable[[Frame, list[int], int], int], int], "
                 "...]] = (\n")
    parts.extend(f"    ({alias}, {ceiling}),\n" for alias, ceiling in calls)
    parts.append(")\n")
    parts.append('''
# Compiled by mypyc, call_body is not a Python function: only then do the tables number
# their bodies for it (interpreted, a call through the table is cheaper).
NATIVE: Final = not isinstance(call_body, FunctionType)


def numbering() -> dict[tuple[Callable[[Frame, list[int], int], int], int], int]:
    """(body, stack ceiling) -> its k for call_body."""
    return {entry: k for k, entry in enumerate(ENTRIES, 1)}
''')
    return "".join(parts)


# What direct.py holds while the file is rewritten: the forks' tables, which the generator
# reads, import direct.py, and a stale one may name a body that is gone.
DIRECT_PLACEHOLDER = '''"""Placeholder: run python -m chainvm.evm.generate_bodies."""

from __future__ import annotations

from typing import Final

NATIVE: Final = False
ENTRIES: Final = ()


def call_body(k: int, f: object, s: list[int], pc: int) -> int:
    raise AssertionError("direct.py is a placeholder")


def numbering() -> dict[object, int]:
    return {}
'''


def _direct_importable() -> bool:
    try:
        import chainvm.evm.instructions.direct  # noqa: F401
    except ImportError:
        sys.modules.pop("chainvm.evm.instructions.direct", None)
        return False
    return True


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        sys.stderr.write("usage: python -m chainvm.evm.generate_bodies [--check]\n")
        return 2
    if not _direct_importable():
        if argv == ["--check"]:
            sys.stderr.write(f"{DIRECT_TARGET} is out of date (it names a body that is "
                             "gone): run python -m chainvm.evm.generate_bodies\n")
            return 1
        DIRECT_TARGET.write_text(DIRECT_PLACEHOLDER)
    status = 0
    # generated.py first: direct.py is written from the tables that import it
    for target, source in ((TARGET, module_source), (DIRECT_TARGET, direct_source)):
        text = source()
        current = target.read_text() if target.exists() else ""
        if argv == ["--check"]:
            if text != current:
                sys.stderr.write(f"{target} is out of date: run python -m "
                                 "chainvm.evm.generate_bodies\n")
                status = 1
        elif text != current:
            target.write_text(text)
            sys.stderr.write(f"wrote {target}\n")
            if target == TARGET:
                # This process runs the bodies it generated at import, not the new module's:
                # direct.py is written by a fresh one that imports the new generated.py.
                import subprocess

                return subprocess.run([sys.executable, "-m", "chainvm.evm.generate_bodies"],
                                      check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
