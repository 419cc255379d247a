"""Write chainvm/evm/instructions/generated.py: the opcode templates' interpreter bodies as a
plain module.

The templates (`opspec.Inline`) stay the one source of what a templated opcode does; this
writes out, ahead of time, the bodies that `Inline` otherwise generates at import. As a
module the bodies are byte-compiled like the rest of the package, and an optional native
build (mypyc, see docs/performance.md) compiles them with the interpreter loop that calls
them. `Inline` takes a body from the module only when its key (name, arity, pushes and the
template's text) is there, so a stale file never changes behaviour; a test keeps the file
equal to what this writes.

    python -m chainvm.evm.generate_bodies          # rewrite the file
    python -m chainvm.evm.generate_bodies --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TARGET = Path(__file__).with_name("instructions") / "generated.py"

HEADER = '''"""The opcode templates' interpreter bodies, generated ahead of time. Do not edit.

Written by `python -m chainvm.evm.generate_bodies` from the `Inline` templates in
chainvm/evm/instructions (see that module); `opspec.Inline` uses a body from here when its
key matches the template, and generates the body itself otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

'''


def _int_text(value: int) -> str:
    return hex(value) if value > 0xFFFF else str(value)


def _constant_lines(names: set[str]) -> tuple[list[str], list[str]]:
    """(import lines, constant lines) for the template globals the bodies name."""
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
        elif getattr(value, "__name__", None) == name and hasattr(value, "__module__"):
            imports.setdefault(value.__module__, []).append(name)
        else:
            raise ValueError(f"template constant {name}: cannot write {type(value).__name__}")
    lines = [f"from {module} import {', '.join(sorted(found))}"
             for module, found in sorted(imports.items())]
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
        functions.append(f"def {function}(f: Frame, s: list[int], pc: int) -> int:\n{rest}")
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


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        sys.stderr.write("usage: python -m chainvm.evm.generate_bodies [--check]\n")
        return 2
    text = module_source()
    current = TARGET.read_text() if TARGET.exists() else ""
    if argv == ["--check"]:
        if text != current:
            sys.stderr.write(f"{TARGET} is out of date: run python -m chainvm.evm.generate_bodies\n")
            return 1
        return 0
    if text != current:
        TARGET.write_text(text)
        sys.stderr.write(f"wrote {TARGET}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
