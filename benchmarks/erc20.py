"""Per-call cost of an OpenZeppelin ERC-20 `transfer` through Python test tools, side by side.

Run: .venv/bin/python benchmarks/erc20.py [--transfers N] [--repeat R] [--only REGEX]
                                          [--peer-venv DIR] [--no-install] [--json] [-v]

The token is tests/node/sol/Token.sol (OpenZeppelin ERC20, `constructor(uint256
supply)` minting to the deployer), compiled with solcjs through tests/node/compilers.py
(npm packages installed once into $CHAINVM_NODE_JS, default ~/.cache/chainvm-node-js).

Engines, each in its own worker process (this file with --worker ENGINE), one at a time:

  chainvm-api       chainvm.testing.api.TestChain(): a mined block per transaction
                    (automine, as eth-tester and anvil do)
  chainvm-api-fast  TestChain(blocks=False): transactions run on the head state
  chainvm-node      the chainvm dev node (HTTP, in a thread) driven by web3.py
  titanoboa         boa.loads_abi(...).at(address), on boa's default environment
  eth-tester        eth_tester.EthereumTester() (py-evm backend), its own API:
                    send_transaction, get_transaction_receipt, call
  eth-tester-web3   web3.py with EthereumTesterProvider
  chainvm-eth-tester-web3  the same, with chainvm's eth-tester backend
                    (EthereumTester(chainvm.eth_tester.ChainvmBackend()))

eth-tester and titanoboa pin versions of the eth-* packages that differ from chainvm's,
so their workers run in a peer virtual environment (default .bench-venv in the
repository, ignored by git through a .gitignore inside it). When it is missing, it is
created with the pinned versions in PEER_PACKAGES from PyPI (--no-install: those
engines are reported absent instead).

Every engine deploys the token (supply 10**24 to its first account) and makes a few
warm-up transfers; then the repetitions go round-robin over the engines (one engine
runs at a time, the others wait in their processes), so that drifts in the load of a
shared machine reach all engines alike. A repetition (gc.collect() first) times N
`transfer(alice, 1)` calls through the engine's contract API, each waiting for its
receipt or result, and N/4 (at least 20) `balanceOf(alice)` calls. Per-call time = elapsed / N. The engine's
final `balanceOf(alice)` must equal the number of transfers it made, or the engine is
reported failed. Engines behind web3.py (HTTP or the eth-tester provider) are slower,
so they time N/4 transfers (at least 20).

Reported: the median over the repetitions of the per-call time (and the lowest), and
the ratio of each engine's median to chainvm-api's. For the two engines behind
web3.py's EthereumTesterProvider, the time inside the backend's methods is timed too, so
each transfer splits into the backend's share and the stack's (web3.py + eth-tester);
reported with ChainvmBackend's ratio to PyEVMBackend (issue 17's figure) and the most
any backend could reach over the same stack (py-evm's transfer / chainvm's stack share). With --json, JSON on stdout and the
table on stderr; without it, the table on stdout. Progress goes to stderr with -v.
Exit status 0 when every engine that ran passed its check, 1 otherwise, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PEER_VENV = ROOT / ".bench-venv"
PEER_PACKAGES = ["eth-tester[py-evm]==0.14.0b1", "py-evm==0.12.1b1", "titanoboa==0.2.8",
                 "web3==8.0.0"]
SUPPLY = 10**24
ALICE = "0x" + "00" * 19 + "0a"
WARMUP = 10
WORKER_TIMEOUT = 900.0


class Engine:
    def __init__(self, name: str, label: str, peer: bool, slow: bool,
                 distributions: tuple[str, ...]) -> None:
        self.name = name
        self.label = label
        self.peer = peer  # runs in the peer venv
        self.slow = slow  # N/4 transfers
        self.distributions = distributions


ENGINES = [
    Engine("chainvm-api", "chainvm TestChain() (a block per transaction)", False, False,
           ("chainvm",)),
    Engine("chainvm-api-fast", "chainvm TestChain(blocks=False) (no blocks)", False, False,
           ("chainvm",)),
    Engine("titanoboa", "titanoboa", True, False, ("titanoboa", "py-evm")),
    Engine("eth-tester", "eth-tester API (py-evm)", True, True, ("eth-tester", "py-evm")),
    Engine("eth-tester-web3", "eth-tester + web3.py (EthereumTesterProvider)", True, True,
           ("eth-tester", "py-evm", "web3")),
    Engine("chainvm-eth-tester-web3",
           "chainvm ChainvmBackend + eth-tester + web3.py (EthereumTesterProvider)", False, True,
           ("chainvm", "eth-tester", "web3")),
    Engine("chainvm-node", "chainvm node + web3.py (HTTP)", False, True, ("chainvm", "web3")),
]
BY_NAME = {e.name: e for e in ENGINES}
BASELINE = "chainvm-api"


# --------------------------------------------------------------------------------------
# Workers: each drives one engine and prints one JSON line
# --------------------------------------------------------------------------------------

class Driver:
    """deploy() once, then transfer() and balance() per call."""

    def deploy(self, abi: list[dict[str, Any]], bytecode: bytes) -> None:
        raise NotImplementedError

    def transfer(self) -> None:
        raise NotImplementedError

    def balance(self) -> int:
        raise NotImplementedError


class ChainvmApi(Driver):
    def __init__(self, blocks: bool) -> None:
        from chainvm.testing.api import TestChain

        self.chain = TestChain(blocks=blocks)

    def deploy(self, abi: list[dict[str, Any]], bytecode: bytes) -> None:
        self.token = self.chain.deploy(abi, bytecode, SUPPLY)

    def transfer(self) -> None:
        self.token.transfer(ALICE, 1)

    def balance(self) -> int:
        return int(self.token.balanceOf(ALICE))


class Titanoboa(Driver):
    def deploy(self, abi: list[dict[str, Any]], bytecode: bytes) -> None:
        import boa

        deployed = boa.env.deploy_code(bytecode=bytecode + SUPPLY.to_bytes(32, "big"))
        address = deployed[0] if isinstance(deployed, tuple) else deployed
        self.token = boa.loads_abi(json.dumps(abi), name="Token").at(address)

    def transfer(self) -> None:
        self.token.transfer(ALICE, 1)

    def balance(self) -> int:
        return int(self.token.balanceOf(ALICE))


class EthTester(Driver):
    """eth-tester's own API: transactions as dicts, calldata encoded with eth-abi per call
    (what a contract wrapper does)."""

    def deploy(self, abi: list[dict[str, Any]], bytecode: bytes) -> None:
        from eth_abi import decode, encode
        from eth_tester import EthereumTester
        from eth_utils import keccak

        self.encode, self.decode = encode, decode
        self.tester = EthereumTester()
        self.me = self.tester.get_accounts()[0]
        tx_hash = self.tester.send_transaction({
            "from": self.me, "gas": 3_000_000,
            "data": "0x" + (bytecode + encode(["uint256"], [SUPPLY])).hex()})
        self.token = self.tester.get_transaction_receipt(tx_hash)["contract_address"]
        self.transfer_selector = keccak(text="transfer(address,uint256)")[:4]
        self.balance_selector = keccak(text="balanceOf(address)")[:4]

    def transfer(self) -> None:
        data = self.transfer_selector + self.encode(["address", "uint256"], [ALICE, 1])
        tx_hash = self.tester.send_transaction({"from": self.me, "to": self.token,
                                                "gas": 100_000, "data": "0x" + data.hex()})
        receipt = self.tester.get_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError("transfer failed")

    def balance(self) -> int:
        data = self.balance_selector + self.encode(["address"], [ALICE])
        out = self.tester.call({"from": self.me, "to": self.token, "data": "0x" + data.hex()})
        raw = bytes.fromhex(out[2:]) if isinstance(out, str) else bytes(out)
        return int(self.decode(["uint256"], raw)[0])


class TimedBackend:
    """Times the calls eth-tester makes into its backend (outermost calls only), so that a
    transfer through web3.py splits into the backend's share and the stack's (web3.py and
    eth-tester). The wrappers cost about a microsecond per call, a few per transfer."""

    def __init__(self, backend: Any) -> None:
        self.seconds = 0.0
        self._inside = False
        for name in dir(type(backend)):
            method = getattr(backend, name, None)
            if not name.startswith("_") and callable(method):
                setattr(backend, name, self._timed(method))

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._inside:
                return method(*args, **kwargs)
            self._inside = True
            start = clock()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += clock() - start
                self._inside = False
        return timed


class Web3Driver(Driver):
    def __init__(self, w3: Any, timed_backend: TimedBackend | None = None) -> None:
        self.w3 = w3
        self.timed_backend = timed_backend

    def deploy(self, abi: list[dict[str, Any]], bytecode: bytes) -> None:
        w3 = self.w3
        self.me = w3.eth.accounts[0]
        factory = w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = w3.eth.wait_for_transaction_receipt(
            factory.constructor(SUPPLY).transact({"from": self.me}))
        self.token = w3.eth.contract(address=receipt.contractAddress, abi=abi)
        self.alice = w3.to_checksum_address(ALICE)

    def transfer(self) -> None:
        tx_hash = self.token.functions.transfer(self.alice, 1).transact(
            {"from": self.me, "gas": 100_000})
        if self.w3.eth.wait_for_transaction_receipt(tx_hash).status != 1:
            raise RuntimeError("transfer failed")

    def balance(self) -> int:
        return int(self.token.functions.balanceOf(self.alice).call())


def make_driver(name: str, stack: list[Any]) -> Driver:
    if name in ("chainvm-api", "chainvm-api-fast"):
        return ChainvmApi(blocks=name == "chainvm-api")
    if name == "titanoboa":
        return Titanoboa()
    if name == "eth-tester":
        return EthTester()
    if name in ("eth-tester-web3", "chainvm-eth-tester-web3"):
        from eth_tester import EthereumTester
        from web3 import EthereumTesterProvider, Web3

        if name == "eth-tester-web3":
            from eth_tester import PyEVMBackend

            backend: Any = PyEVMBackend()
        else:
            from chainvm.eth_tester import ChainvmBackend

            backend = ChainvmBackend()
        timed = TimedBackend(backend)
        return Web3Driver(Web3(EthereumTesterProvider(EthereumTester(backend))), timed)
    if name == "chainvm-node":
        from web3 import Web3

        from chainvm.node.devchain import DevChain
        from chainvm.node.server import ThreadedNode

        node = ThreadedNode(DevChain())
        node.__enter__()
        stack.append(node)
        return Web3Driver(Web3(Web3.HTTPProvider(node.url)))
    raise ValueError(f"unknown engine {name}")


def per_call_ms(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1000


def worker_main(name: str, artifact: Path, transfers: int, calls: int) -> int:
    """Deploy and warm up, print {"ready": ...}; then per "run" line on stdin time one
    repetition and print it; on "finish" (or end of input) check the balance and exit."""
    data = json.loads(artifact.read_text())
    versions: dict[str, str | None] = {}
    for dist in BY_NAME[name].distributions:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None

    def send(**message: Any) -> None:
        print(json.dumps(message), flush=True)

    stack: list[Any] = []
    try:
        driver = make_driver(name, stack)
        driver.deploy(data["abi"], bytes.fromhex(data["bytecode"]))
        for _ in range(WARMUP):
            driver.transfer()
        done = WARMUP
        send(ready=True, versions=versions)
        for line in sys.stdin:
            if line.strip() != "run":
                break
            gc.collect()
            timed = getattr(driver, "timed_backend", None)
            if timed is not None:
                timed.seconds = 0.0
            transfer_ms = per_call_ms(driver.transfer, transfers)
            backend_ms = timed.seconds / transfers * 1000 if timed is not None else None
            done += transfers
            call_ms = per_call_ms(driver.balance, calls)
            send(transfer_ms=transfer_ms, call_ms=call_ms, transfer_backend_ms=backend_ms)
        got = driver.balance()
        send(done=True, error=None if got == done else
             f"balanceOf(alice) is {got} after {done} transfers of 1")
    except Exception as exc:  # noqa: BLE001 - reported, the run goes on
        send(error=f"{type(exc).__name__}: {exc}", versions=versions)
    finally:
        for node in stack:
            node.__exit__(None, None, None)
    return 0


# --------------------------------------------------------------------------------------
# The orchestrator: compile, make the peer venv, run the workers, report
# --------------------------------------------------------------------------------------

def note(verbose: bool, message: str) -> None:
    if verbose:
        print(message, file=sys.stderr, flush=True)


def compile_token() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.node import compilers

    if compilers.node_modules() is None:
        raise RuntimeError("solcjs is not available (needs node and npm, or the packages in "
                           f"{compilers.js_dir()})")
    token = compilers.solidity()["Token"]
    return {"abi": token["abi"], "bytecode": token["bytecode"].hex()}


def peer_python(venv: Path, install: bool, verbose: bool) -> Path | None:
    python = venv / "bin" / "python"

    def ready() -> bool:
        return python.exists() and subprocess.run(
            [str(python), "-c", "import boa, eth_tester, web3"], capture_output=True,
            check=False).returncode == 0

    if ready():
        return python
    if not install:
        return None
    note(verbose, f"creating {venv} with {' '.join(PEER_PACKAGES)}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True,
                   stdout=subprocess.DEVNULL if not verbose else None)
    return python if ready() else None


class Worker:
    """One engine's worker process, driven line by line."""

    def __init__(self, python: Path, engine: Engine, artifact: Path, transfers: int,
                 calls: int) -> None:
        self.engine = engine
        self.result: dict[str, Any] = {"engine": engine.name, "transfers": transfers,
                                       "calls": calls, "transfer_ms": [], "call_ms": [],
                                       "error": None}
        cmd = [str(python), str(Path(__file__).resolve()), "--worker", engine.name,
               "--artifact", str(artifact), "--transfers", str(transfers),
               "--calls", str(calls)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)} if not engine.peer else None
        self.proc: subprocess.Popen[str] | None = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def _read(self) -> dict[str, Any] | None:
        """The worker's next message; None (and the worker stopped) when it failed."""
        proc = self.proc
        if proc is None:
            return None
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            if not line:
                self.fail(f"worker exited ({proc.wait()}) without a result")
                return None
            if line.startswith("{"):
                message: dict[str, Any] = json.loads(line)
                if message.get("error"):
                    self.fail(message["error"])
                    return None
                return message

    def fail(self, error: str) -> None:
        if self.result["error"] is None:
            self.result["error"] = error
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def ready(self) -> None:
        message = self._read()
        if message is not None:
            self.result["versions"] = message.get("versions", {})

    def repetition(self) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        message = self._read()
        if message is not None:
            self.result["transfer_ms"].append(message["transfer_ms"])
            self.result["call_ms"].append(message["call_ms"])
            if message.get("transfer_backend_ms") is not None:
                self.result.setdefault("transfer_backend_ms", []).append(
                    message["transfer_backend_ms"])

    def finish(self) -> dict[str, Any]:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("finish\n")
            self.proc.stdin.flush()
            if self._read() is not None and self.proc is not None:
                self.proc.wait(timeout=60)
                self.proc = None
        return self.result


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def summarise(results: dict[str, dict[str, Any]]) -> None:
    for r in results.values():
        if r.get("transfer_ms"):
            r["transfer_ms_median"] = statistics.median(r["transfer_ms"])
            r["transfer_ms_min"] = min(r["transfer_ms"])
            r["call_ms_median"] = statistics.median(r["call_ms"])
        if r.get("transfer_backend_ms"):
            # Each repetition split into the backend's share and the stack's; medians.
            r["transfer_backend_ms_median"] = statistics.median(r["transfer_backend_ms"])
            r["transfer_stack_ms_median"] = statistics.median(
                t - b for t, b in zip(r["transfer_ms"], r["transfer_backend_ms"]))
    pyevm, ours = results.get("eth-tester-web3", {}), results.get("chainvm-eth-tester-web3", {})
    if pyevm.get("transfer_backend_ms_median") and ours.get("transfer_stack_ms_median"):
        ours["speedup_vs_pyevm_backend"] = \
            pyevm["transfer_ms_median"] / ours["transfer_ms_median"]
        ours["backend_free_ceiling"] = \
            pyevm["transfer_ms_median"] / ours["transfer_stack_ms_median"]
    base = results.get(BASELINE, {}).get("transfer_ms_median")
    base_call = results.get(BASELINE, {}).get("call_ms_median")
    for r in results.values():
        if base and r.get("transfer_ms_median") is not None and not r.get("error"):
            r["transfer_vs_chainvm_api"] = r["transfer_ms_median"] / base
            r["call_vs_chainvm_api"] = r["call_ms_median"] / base_call if base_call else None


def web3_split(results: dict[str, dict[str, Any]]) -> list[str]:
    """Issue 17's ratio (ChainvmBackend against PyEVMBackend per transfer through web3.py),
    each side split into its backend's time and the stack's (web3.py + eth-tester), and
    the most any backend could reach over this stack: py-evm's transfer / the stack's."""
    pyevm, ours = results.get("eth-tester-web3", {}), results.get("chainvm-eth-tester-web3", {})
    if "backend_free_ceiling" not in ours:
        return []
    lines = ["", "per transfer through web3.py + EthereumTesterProvider (medians):"]
    for label, r in (("PyEVMBackend", pyevm), ("ChainvmBackend", ours)):
        lines.append(f"  {label:15s} {r['transfer_ms_median']:7.3f} ms = backend "
                     f"{r['transfer_backend_ms_median']:.3f} + web3.py/eth-tester "
                     f"{r['transfer_stack_ms_median']:.3f}")
    lines.append(f"  ChainvmBackend {ours['speedup_vs_pyevm_backend']:.1f}x faster than "
                 f"PyEVMBackend; a backend taking no time under the same stack would be "
                 f"{ours['backend_free_ceiling']:.1f}x")
    return lines


def render(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    head = ["engine", "N", "transfer ms (median)", "min", "x chainvm-api",
            "balanceOf ms", "x chainvm-api"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for name, r in results.items():
        label = BY_NAME[name].label
        if r.get("error") and not r.get("transfer_ms_median"):
            rows.append([label, "", r["error"][:60], "", "", "", ""])
            continue
        ratio = r.get("transfer_vs_chainvm_api")
        call_ratio = r.get("call_vs_chainvm_api")
        rows.append([label, str(r["transfers"]), f"{r['transfer_ms_median']:.3f}",
                     f"{r['transfer_ms_min']:.3f}", f"{ratio:.2f}" if ratio else "",
                     f"{r['call_ms_median']:.3f}", f"{call_ratio:.2f}" if call_ratio else ""])
        if r.get("error"):
            notes.append(f"{label}: {r['error']}")
        versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items())
        if versions:
            notes.append(f"{label}: {versions}")
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    title = (f"ERC-20 transfer per call, median of {meta['repeat']} repetitions "
             f"({meta['date']}, Python {meta['python']}, chainvm at {meta['commit']})")
    lines = [title, ""]
    lines.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                           for i, (h, w) in enumerate(zip(head, widths))))
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    lines.extend(web3_split(results))
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=200,
                        help="timed transfers per repetition (web3 engines: a quarter)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="regular expression over engine names")
    parser.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV)
    parser.add_argument("--no-install", action="store_true",
                        help="do not create the peer venv (its engines are then absent)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--artifact", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=50, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.transfers < 1 or args.repeat < 1:
        parser.error("--transfers and --repeat must be at least 1")
    if args.worker:
        if args.worker not in BY_NAME or args.artifact is None:
            parser.error("--worker needs a known engine and --artifact")
        return worker_main(args.worker, args.artifact, args.transfers, args.calls)
    engines = [e for e in ENGINES if args.only is None or re.search(args.only, e.name)]
    if not engines:
        parser.error(f"--only {args.only!r} matches no engine "
                     f"({', '.join(BY_NAME)})")
    note(args.verbose, "compiling the token with solcjs")
    try:
        artifact_data = compile_token()
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        print(f"erc20: cannot compile the token: {exc}", file=sys.stderr)
        return 2
    peer: Path | None = None
    if any(e.peer for e in engines):
        try:
            peer = peer_python(args.peer_venv, not args.no_install, args.verbose)
        except (subprocess.SubprocessError, OSError) as exc:
            note(True, f"erc20: peer venv {args.peer_venv} unusable: {exc}")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        artifact = Path(tmp) / "token.json"
        artifact.write_text(json.dumps(artifact_data))
        workers: list[Worker] = []
        for engine in engines:
            python = peer if engine.peer else Path(sys.executable)
            if python is None:
                results[engine.name] = {"engine": engine.name,
                                        "error": f"absent (no peer venv at {args.peer_venv})"}
                continue
            n = max(20, args.transfers // 4) if engine.slow else args.transfers
            calls = max(20, args.transfers // 4)
            workers.append(Worker(python, engine, artifact, n, calls))
        # Set-up one engine at a time, then the repetitions round-robin over the engines
        # (one runs at a time): slow drifts of the machine's load hit every engine alike.
        for worker in workers:
            note(args.verbose, f"setting up {worker.engine.name}")
            worker.ready()
        for rep in range(args.repeat):
            for worker in workers:
                worker.repetition()
                r = worker.result
                if r["transfer_ms"] and len(r["transfer_ms"]) == rep + 1:
                    note(args.verbose, f"{worker.engine.name} {rep + 1}/{args.repeat}: "
                                       f"transfer {r['transfer_ms'][-1]:.3f} ms, "
                                       f"balanceOf {r['call_ms'][-1]:.3f} ms")
        for worker in workers:
            results[worker.engine.name] = worker.finish()
    results = {e.name: results[e.name] for e in engines if e.name in results}
    summarise(results)
    meta = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "commit": git_commit(),
            "repeat": args.repeat, "transfers": args.transfers, "machine": platform.machine(),
            "cpus": os.cpu_count()}
    text = render(results, meta)
    if args.json:
        json.dump({"meta": meta, "engines": results}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        sys.stderr.write(text)
    else:
        sys.stdout.write(text)
    failed = [n for n, r in results.items()
              if r.get("error") and not str(r["error"]).startswith("absent")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
