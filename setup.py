"""Build script: pure Python by default; CHAINVM_MYPYC=1 compiles the EVM's hot modules.

The native build compiles the same sources with mypyc (as black and mypy ship): the
interpreter loop, frames, code analysis, the opcode bodies (hand-written and generated
from the templates, instructions/generated.py), message calls and the compiled tier's
driver; and the per-transaction and per-case work around them: the state transition,
the journaled state, the trie and RLP, JSON input and the state-test runner. The state
types its account table and storages as mappings, not dicts: fork mode hands it dict
subclasses that read a remote on a miss, whose overrides compiled dict access would
bypass. Every other module stays Python, and without CHAINVM_MYPYC the package is the
pure-Python one. The opcode specs that forks.py reads across the instructions' import
cycle are annotated where defined (`PUSH0: Inline = ...`): mypyc's type check of this set
cannot infer them otherwise. mypyc needs mypy at build time:

    pip install 'mypy>=1.10' && CHAINVM_MYPYC=1 pip install --no-build-isolation .

docs/performance.md says what it gives.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup

# The modules compiled in the native build (paths from the project root).
NATIVE_MODULES = [
    "chainvm/encoding/json_input.py",
    "chainvm/encoding/rlp.py",
    "chainvm/evm/analysis.py",
    "chainvm/evm/compiler.py",
    "chainvm/evm/execution.py",
    "chainvm/evm/frame.py",
    "chainvm/evm/interpreter.py",
    "chainvm/evm/statetest.py",
    "chainvm/evm/transaction.py",
    "chainvm/evm/vm.py",
    "chainvm/evm/instructions/common.py",
    "chainvm/evm/instructions/direct.py",
    "chainvm/evm/instructions/environment.py",
    "chainvm/evm/instructions/generated.py",
    "chainvm/evm/instructions/stack_memory.py",
    "chainvm/evm/instructions/system.py",
    "chainvm/state/state.py",
    "chainvm/state/trie.py",
]


def native_extensions() -> list:
    if os.environ.get("CHAINVM_MYPYC", "") in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        sys.exit("CHAINVM_MYPYC=1 needs mypy installed in the build environment "
                 "(pip install mypy, then pip install --no-build-isolation .)")
    # Keccak-256 in C (chainvm/_keccak.c says why); chainvm.crypto falls back to
    # safe-pysha3 without it.
    keccak = Extension("chainvm._keccak", ["chainvm/_keccak.c"],
                       extra_compile_args=[] if sys.platform == "win32" else ["-O3"])
    return [*mypycify(NATIVE_MODULES, opt_level="3"), keccak]


setup(ext_modules=native_extensions())
