"""The optional native build (setup.py, CHAINVM_MYPYC=1) compiles and runs the same suites.

The package is copied to a temporary directory and built in place there with mypyc; the
bundled state tests, the tests that run every templated opcode and generated programs
through both tiers, the interpreter's, the state-test runner's, the state's and trie's,
fork mode's and the tests of the chain and node code that uses the state most then run
against that copy. Skipped where the build cannot run (no C
compiler, no mypyc, no Python headers): the pure-Python package is the default.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build_prerequisites() -> str | None:
    """Why the native build cannot run here, or None."""
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc is not installed"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    include = sysconfig.get_paths().get("include")
    if not include or not (Path(include) / "Python.h").exists():
        return "no Python headers"
    return None


def build_native_tree(tree: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
    shutil.copytree(ROOT / "chainvm", tree / "chainvm", ignore=ignore)
    shutil.copytree(ROOT / "tests", tree / "tests", ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    env = {**os.environ, "CHAINVM_MYPYC": "1"}
    built = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], check=False,
                           cwd=tree, env=env, capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]


def test_native_build(tmp_path: Path) -> None:
    """One test (the build takes a minute; pytest-xdist would build once per worker for a
    module-scoped fixture): build, then the three checks."""
    reason = _build_prerequisites()
    if reason:
        pytest.skip(f"native build: {reason}")
    build_native_tree(tmp_path)
    check_native_modules_are_compiled(tmp_path)
    check_bundled_state_tests(tmp_path)
    check_tier_and_template_tests(tmp_path)


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CHAINVM_COMPILE"}
    env["PYTHONPATH"] = str(tree)
    return env


def check_native_modules_are_compiled(native_tree: Path) -> None:
    tree = ast.parse((native_tree / "setup.py").read_text())
    modules = next(ast.literal_eval(node.value) for node in tree.body
                   if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                   and node.targets[0].id == "NATIVE_MODULES")
    assert len(modules) >= 8
    probe = ("import importlib, json, sys\n"
             "names = json.loads(sys.argv[1])\n"
             "print(json.dumps({n: importlib.import_module(n).__file__ for n in names}))\n")
    names = [m.removesuffix(".py").replace("/", ".") for m in modules] + ["chainvm._keccak"]
    out = subprocess.run(check=False, args=[sys.executable, "-c", probe, json.dumps(names)], cwd=native_tree,
                         env=_env(native_tree), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    files = json.loads(out.stdout)
    assert all(path.endswith(".so") for path in files.values()), files


def check_bundled_state_tests(native_tree: Path) -> None:
    out = subprocess.run(check=False, args=[sys.executable, "-m", "chainvm", "statetest", "--workers", "1"],
                         cwd=native_tree, env=_env(native_tree), capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout)
    assert len(results) > 100
    assert [r for r in results if not r["pass"]] == []


def check_tier_and_template_tests(native_tree: Path) -> None:
    tests = ["tests/evm/test_opcode_templates.py", "tests/evm/test_compiled_tier.py",
             "tests/evm/test_eip3155.py", "tests/evm/test_call_hooks.py",
             "tests/evm/test_statetest_runner.py", "tests/evm/test_interpreter.py",
             # the code analysis, its compiled JumpTable among it
             "tests/evm/test_analysis.py",
             "tests/state", "tests/node/test_fork.py",
             # the journaled state as the chain and the node use it: copies, changes
             # applied to a copy, stores, proofs
             "tests/chain/test_chain.py", "tests/chain/test_store.py",
             "tests/node/test_devchain.py", "tests/node/test_proof.py",
             "tests/node/test_state_window.py", "tests/test_crypto.py"]
    out = subprocess.run(check=False, args=[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "no:xdist", *tests], cwd=native_tree, env=_env(native_tree),
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:]
