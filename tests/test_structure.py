"""The shape of the package (issue: the core reshaped), checked so it cannot drift back.

- no import cycle among chainvm's modules (module-level imports; imports inside functions
  and under TYPE_CHECKING are deliberate breaks);
- at most a handful of fork-ordinal comparisons outside the fork definitions: code asks the
  fork for a named rule (`fork.rules.eip1559`) instead;
- no module outside chainvm/evm builds an EVM or starts a frame itself: they all go through
  `chainvm.evm.execution.execute_message`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "chainvm"
ORDINAL_COMPARISON = re.compile(r"ordinal\s*[<>]=?|[<>]=?\s*(?:F|forks)\.[A-Z][A-Z_]{3,}\b")
STARTS_EXECUTION = re.compile(
    r"(?<![\w.])(EVM|begin_message|begin_call|begin_create|message_call|contract_creation)\(")
# What only chainvm/evm may take from the interpreter and the call machinery.
FRAME_LEVEL = {("chainvm.evm.interpreter", "run"), ("chainvm.evm.interpreter", "execute"),
               ("chainvm.evm.vm", "EVM"), ("chainvm.evm.vm", "begin_message"),
               ("chainvm.evm.vm", "begin_call"), ("chainvm.evm.vm", "begin_create"),
               ("chainvm.evm.frame", "Frame")}
MAX_ORDINAL_COMPARISONS = 12


def _modules() -> dict[str, Path]:
    root = PACKAGE.parent
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        out[name] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        found |= {t for t in targets if t in known and t != name}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_forks_are_asked_for_rules_not_compared_by_ordinal() -> None:
    counts = {}
    for name, path in _modules().items():
        if name == "chainvm.evm.forks" or name.startswith("chainvm.evm.forks."):
            continue
        n = sum(bool(ORDINAL_COMPARISON.search(line)) for line in path.read_text().splitlines())
        if n:
            counts[name] = n
    assert sum(counts.values()) <= MAX_ORDINAL_COMPARISONS, counts


def test_only_the_evm_package_starts_execution() -> None:
    offenders = []
    for name, path in _modules().items():
        if name.startswith(("chainvm.evm.", "chainvm.fvm.")):
            continue  # the FVM has its own machine
        text = path.read_text()
        imported = {(node.module, alias.name) for node in ast.walk(ast.parse(text))
                    if isinstance(node, ast.ImportFrom) for alias in node.names}
        if STARTS_EXECUTION.search(text) or imported & FRAME_LEVEL:
            offenders.append(name)
    assert offenders == []
    assert ORDINAL_COMPARISON.search("if fork.ordinal >= F.PRAGUE:")
    assert STARTS_EXECUTION.search("evm = EVM(state, fork)")
