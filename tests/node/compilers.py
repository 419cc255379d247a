"""Real compilers for the node tests: solcjs (npm `solc`, standard JSON with evmVersion)
with OpenZeppelin, and Vyper (PyPI `vyper`). Nothing compiled is committed.

The npm packages live outside the repository, in $CHAINVM_NODE_JS (default
~/.cache/chainvm-node-js); when they are missing and `npm` exists, they are installed
there once. Tests skip when a compiler is not available.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOL = HERE / "sol"
NPM_PACKAGES = ["solc@0.8.30", "@openzeppelin/contracts@5", "ethers@6", "viem@2"]
EVM_VERSION = "prague"


def js_dir() -> Path:
    return Path(os.environ.get("CHAINVM_NODE_JS",
                               Path.home() / ".cache" / "chainvm-node-js"))


@functools.lru_cache(maxsize=1)
def node_modules() -> Path | None:
    """The node_modules folder with solc, OpenZeppelin, ethers and viem, or None."""
    if shutil.which("node") is None:
        return None
    root = js_dir()
    modules = root / "node_modules"
    wanted = ["solc", "@openzeppelin/contracts", "ethers", "viem"]
    if all((modules / w).exists() for w in wanted):
        return modules
    if shutil.which("npm") is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    # One installer at a time (pytest-xdist workers share the folder).
    with (root / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all((modules / w).exists() for w in wanted):
            return modules
        if not (root / "package.json").exists():
            (root / "package.json").write_text('{"name": "chainvm-node-js", "private": true}\n')
        try:
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", *NPM_PACKAGES],
                           cwd=root, check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError):
            return None
    return modules if all((modules / w).exists() for w in wanted) else None


def node_env() -> dict[str, str]:
    modules = node_modules()
    assert modules is not None
    return {**os.environ, "NODE_PATH": str(modules)}


@functools.lru_cache(maxsize=1)
def solidity() -> dict[str, dict[str, Any]]:
    """{contract name: {"abi", "bytecode"}} for every .sol file in sol/."""
    sources = {p.name: {"content": p.read_text()} for p in sorted(SOL.glob("*.sol"))}
    request = {"language": "Solidity", "sources": sources,
               "settings": {"evmVersion": EVM_VERSION,
                            "optimizer": {"enabled": True, "runs": 200},
                            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}}
    done = subprocess.run(["node", str(HERE / "js" / "compile.js")], input=json.dumps(request),
                          capture_output=True, text=True, env=node_env(), timeout=300,
                          check=True)
    output = json.loads(done.stdout)
    errors = [e["formattedMessage"] for e in output.get("errors", [])
              if e.get("severity") == "error"]
    if errors:
        raise RuntimeError("solc: " + "\n".join(errors))
    out = {}
    for name in sources:
        for contract, info in output["contracts"][name].items():
            out[contract] = {"abi": info["abi"],
                             "bytecode": bytes.fromhex(info["evm"]["bytecode"]["object"])}
    return out


@functools.cache
def vyper(name: str) -> dict[str, Any]:
    import vyper as vy

    source = (SOL / name).read_text()
    out = vy.compile_code(source, output_formats=["abi", "bytecode"])
    return {"abi": out["abi"], "bytecode": bytes.fromhex(out["bytecode"].removeprefix("0x"))}
