"""Side-by-side EVM benchmarks: chainvm against py-evm, the execution specs and pyrevm.

Run: .venv/bin/python benchmarks/run.py [--repeat R] [--timeout S] [--only REGEX]
                                         [--impl chainvm,pyevm,eels,pyrevm] [--json] [-v]

The benchmarks are the state-test fixtures of ipsilon/evm-benchmarks
(shared/fixtures/evm-benchmarks/{main,micro}/*.json, beside the repository).  Every
`post` entry of every fork is one benchmark, named `test` or, when a test has several
entries (data/gas/value indexes), `test/i` with i the entry's position.

Each implementation runs in its own worker process (this file with --worker IMPL),
one implementation at a time, fed one benchmark at a time over a pipe.  For every
repetition the worker builds the pre-state, block environment and transaction
(not timed), runs gc.collect(), then times only the execution of the transaction:

  chainvm  chainvm.evm.transaction.apply_transaction
  pyevm    <Fork>State.apply_transaction (py-evm), transaction decoded from `txbytes`
  eels     ethereum.forks.<fork>.fork.process_transaction (also recovers the sender
           from the signature and files the receipt: a fraction of a millisecond)
  pyrevm   pyrevm.EVM.message_call (revm in Rust; buys no gas and bumps no nonce)

After each timed run (not timed) the result is checked: chainvm, pyevm and eels
compute the post-state root and compare it with the fixture's `hash`.  pyrevm gives
no state root, so its gas used (and success) must equal that of an implementation
whose root matched.  A mismatch is reported instead of a time.

A worker that crashes or exceeds --timeout on one timed run is killed, the benchmark
is marked (crash, or '>S'), and a fresh worker goes on with the next benchmark.
Geometric means of the speed-ups (peer time / chainvm time) cover only benchmarks
both sides completed and checked; the others are listed under the table.

Output follows the chainvm CLI convention: with --json, JSON on stdout and the table
on stderr; without it, the table on stdout.  Progress lines go to stderr when it is
a terminal, or always with -v.  Exit status 0 when chainvm passed every benchmark,
1 when it did not, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

IMPLS = ("chainvm", "pyevm", "eels", "pyrevm")
PEERS = IMPLS[1:]
DISTRIBUTIONS = {"chainvm": "chainvm", "pyevm": "py-evm", "eels": "ethereum-execution",
                 "pyrevm": "pyrevm"}
DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "evm-benchmarks"
GROUPS = ("main", "micro")
# How long a worker may take to start, or to build a pre-state and check a result.
SETUP_SECONDS = 120.0


# --------------------------------------------------------------------------------------
# Fixture helpers shared by the workers
# --------------------------------------------------------------------------------------

def num(value: Any) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text, 16) if text[:2] in ("0x", "0X") else int(text)


def hexbytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)


def address(value: str) -> bytes:
    return hexbytes(value).rjust(20, b"\x00")


def effective_gas_price(tx: dict[str, Any], base_fee: int) -> int:
    if "gasPrice" in tx:
        return num(tx["gasPrice"])
    return min(num(tx["maxFeePerGas"]), base_fee + num(tx["maxPriorityFeePerGas"]))


@dataclass
class Outcome:
    """What one timed run produced, for the check."""

    gas: int
    success: bool
    root: bytes | None  # post-state root, when the implementation gives one


class Runner:
    """One implementation, driven by a worker: prepare() is not timed, execute() is."""

    def prepare(self, test: dict[str, Any], fork: str, post: dict[str, Any]) -> None:
        raise NotImplementedError

    def execute(self) -> None:
        raise NotImplementedError

    def finish(self) -> Outcome:
        raise NotImplementedError


class ChainvmRunner(Runner):
    def __init__(self) -> None:
        from chainvm.evm import forks, statetest, transaction

        self.forks = forks
        self.statetest = statetest
        self.apply_transaction = transaction.apply_transaction
        self.result: Any = None

    def prepare(self, test: dict[str, Any], fork: str, post: dict[str, Any]) -> None:
        st = self.statetest
        try:
            self.fork = self.forks.get_fork(fork)
        except KeyError:
            raise RuntimeError(f"chainvm does not know fork {fork}") from None
        self.state = st.load_pre_state(test["pre"])
        self.env = st.block_env(test["env"])
        self.tx = st.build_transaction(test["transaction"], post["indexes"])
        self.result = None

    def execute(self) -> None:
        self.result = self.apply_transaction(self.state, self.fork, self.env, self.tx)

    def finish(self) -> Outcome:
        state = self.state
        # As chainvm's own state-test runner does: credit the coinbase with zero.
        state.begin_transaction()
        state.add_balance(self.env.coinbase, 0)
        state.finalize_transaction(delete_empty=self.fork.ordinal >= self.forks.SPURIOUS_DRAGON)
        return Outcome(self.result.gas_used, self.result.success, state.state_root())


PYEVM_VMS = {
    "Frontier": "FrontierVM", "Homestead": "HomesteadVM", "EIP150": "TangerineWhistleVM",
    "TangerineWhistle": "TangerineWhistleVM", "EIP158": "SpuriousDragonVM",
    "SpuriousDragon": "SpuriousDragonVM", "Byzantium": "ByzantiumVM",
    "Constantinople": "ConstantinopleVM", "ConstantinopleFix": "PetersburgVM",
    "Petersburg": "PetersburgVM", "Istanbul": "IstanbulVM", "Berlin": "BerlinVM",
    "London": "LondonVM", "Merge": "ParisVM", "Paris": "ParisVM", "Shanghai": "ShanghaiVM",
    "Cancun": "CancunVM", "Prague": "PragueVM",
}


class PyevmRunner(Runner):
    def __init__(self) -> None:
        from eth.constants import BLANK_ROOT_HASH
        from eth.db.atomic import AtomicDB
        from eth.vm import forks
        from eth.vm.execution_context import ExecutionContext

        self.blank_root = BLANK_ROOT_HASH
        self.atomic_db = AtomicDB
        self.vm_forks = forks
        self.execution_context: Any = ExecutionContext

    def build_state(self, fork: str, env: dict[str, Any], pre: dict[str, Any]
                    ) -> tuple[Any, Any]:
        """(VM class, state holding `pre`) for a fixture-style env and pre-state."""
        vm_name = PYEVM_VMS.get(fork)
        if vm_name is None or not hasattr(self.vm_forks, vm_name):
            raise RuntimeError(f"py-evm has no VM for fork {fork}")
        vm = getattr(self.vm_forks, vm_name)
        is_london = vm_name not in ("FrontierVM", "HomesteadVM", "TangerineWhistleVM",
                                    "SpuriousDragonVM", "ByzantiumVM", "ConstantinopleVM",
                                    "PetersburgVM", "IstanbulVM", "BerlinVM")
        random = env.get("currentRandom")
        context = self.execution_context(
            coinbase=address(env["currentCoinbase"]),
            timestamp=num(env["currentTimestamp"]),
            block_number=num(env["currentNumber"]),
            difficulty=num(env.get("currentDifficulty", "0x0")),
            mix_hash=num(random).to_bytes(32, "big") if random is not None else bytes(32),
            gas_limit=num(env["currentGasLimit"]),
            prev_hashes=[hexbytes(env["previousHash"])] if "previousHash" in env else [],
            chain_id=1,
            base_fee_per_gas=num(env.get("currentBaseFee", "0x0")) if is_london else None,
            excess_blob_gas=(num(env.get("currentExcessBlobGas", "0x0"))
                             if vm_name in ("CancunVM", "PragueVM") else None),
        )
        state = vm.get_state_class()(self.atomic_db(), context, self.blank_root)
        for addr_hex, acct in pre.items():
            addr = address(addr_hex)
            state.set_balance(addr, num(acct.get("balance", "0x0")))
            state.set_nonce(addr, num(acct.get("nonce", "0x0")))
            state.set_code(addr, hexbytes(acct.get("code", "0x")))
            for key, value in acct.get("storage", {}).items():
                state.set_storage(addr, num(key), num(value))
        state.persist()
        return vm, state

    def prepare(self, test: dict[str, Any], fork: str, post: dict[str, Any]) -> None:
        vm, state = self.build_state(fork, test["env"], test["pre"])
        if "txbytes" not in post:
            raise RuntimeError("py-evm runner needs the post entry's txbytes")
        self.tx = vm.get_transaction_builder().decode(hexbytes(post["txbytes"]))
        _ = self.tx.sender  # recover the sender now, outside the timed part
        self.vm = vm
        self.state = state
        self.computation: Any = None

    def execute(self) -> None:
        self.computation = self.state.apply_transaction(self.tx)

    def finish(self) -> Outcome:
        comp = self.computation
        used = self.tx.gas - comp.get_gas_remaining()
        refund = self.vm.calculate_net_gas_refund(used, comp.get_gas_refund())
        return Outcome(used - refund, comp.is_success, self.state.make_state_root())


EELS_MODULES = {"EIP150": "tangerine_whistle", "EIP158": "spurious_dragon",
                "ConstantinopleFix": "petersburg", "Merge": "paris"}


def eels_module_name(fork: str) -> str:
    if fork in EELS_MODULES:
        return EELS_MODULES[fork]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", fork).lower()


class EelsRunner(Runner):
    def __init__(self) -> None:
        import ethereum.forks  # noqa: F401
        import ethereum_rlp
        from ethereum_types import bytes as eth_bytes
        from ethereum_types import numeric

        self.rlp = ethereum_rlp
        self.bytes = eth_bytes
        self.numeric = numeric
        self.modules: dict[str, dict[str, Any]] = {}

    def fork_modules(self, fork: str) -> dict[str, Any]:
        import importlib

        if fork not in self.modules:
            base = f"ethereum.forks.{eels_module_name(fork)}"
            try:
                self.modules[fork] = {part: importlib.import_module(f"{base}.{part}") for part in
                                      ("fork", "state", "fork_types", "vm", "transactions",
                                       "trie", "blocks")}
            except ImportError:
                raise RuntimeError(f"the execution specs have no fork {fork}") from None
        return self.modules[fork]

    def build(self, fork: str, env: dict[str, Any], pre: dict[str, Any]
              ) -> tuple[dict[str, Any], Any, Any]:
        """(fork modules, State holding `pre`, BlockEnvironment) for a fixture-style env."""
        import dataclasses

        mods = self.fork_modules(fork)
        st, ft, vm = mods["state"], mods["fork_types"], mods["vm"]
        U256, Uint, U64 = self.numeric.U256, self.numeric.Uint, self.numeric.U64
        Bytes, Bytes32 = self.bytes.Bytes, self.bytes.Bytes32
        if "code" not in {f.name for f in dataclasses.fields(ft.Account)}:
            raise RuntimeError(f"benchmark runner does not build {fork} accounts")
        state = st.State()
        for addr_hex, acct in pre.items():
            addr = ft.Address(address(addr_hex))
            st.set_account(state, addr, ft.Account(
                nonce=Uint(num(acct.get("nonce", "0x0"))),
                balance=U256(num(acct.get("balance", "0x0"))),
                code=Bytes(hexbytes(acct.get("code", "0x")))))
            for key, value in acct.get("storage", {}).items():
                st.set_storage(state, addr, Bytes32(num(key).to_bytes(32, "big")),
                               U256(num(value)))
        random = env.get("currentRandom")
        candidates: dict[str, Any] = {
            "chain_id": U64(1),
            "state": state,
            "block_gas_limit": Uint(num(env["currentGasLimit"])),
            "block_hashes": [Bytes32(hexbytes(env["previousHash"]))] if "previousHash" in env
            else [],
            "coinbase": ft.Address(address(env["currentCoinbase"])),
            "number": Uint(num(env["currentNumber"])),
            "base_fee_per_gas": Uint(num(env.get("currentBaseFee", "0x0"))),
            "time": U256(num(env["currentTimestamp"])),
            "difficulty": Uint(num(env.get("currentDifficulty", "0x0"))),
            "prev_randao": Bytes32(num(random).to_bytes(32, "big") if random else bytes(32)),
            "excess_blob_gas": U64(num(env.get("currentExcessBlobGas", "0x0"))),
            "parent_beacon_block_root": Bytes32(bytes(32)),
        }
        wanted = [f.name for f in dataclasses.fields(vm.BlockEnvironment)]
        missing = [name for name in wanted if name not in candidates]
        if missing:
            raise RuntimeError(f"benchmark runner cannot fill {fork} BlockEnvironment {missing}")
        block_env = vm.BlockEnvironment(**{name: candidates[name] for name in wanted})
        return mods, state, block_env

    def decode(self, mods: dict[str, Any], raw: bytes) -> Any:
        if raw[0] >= 0xC0:
            return self.rlp.decode_to(mods["transactions"].LegacyTransaction, raw)
        return mods["transactions"].decode_transaction(self.bytes.Bytes(raw))

    def prepare(self, test: dict[str, Any], fork: str, post: dict[str, Any]) -> None:
        mods, state, self.block_env = self.build(fork, test["env"], test["pre"])
        self.block_output = mods["vm"].BlockOutput()
        if "txbytes" not in post:
            raise RuntimeError("EELS runner needs the post entry's txbytes")
        self.tx = self.decode(mods, hexbytes(post["txbytes"]))
        self.mods = mods
        self.state = state

    def execute(self) -> None:
        self.mods["fork"].process_transaction(self.block_env, self.block_output, self.tx,
                                              self.numeric.Uint(0))

    def finish(self) -> Outcome:
        mods = self.mods
        receipt = mods["trie"].trie_get(self.block_output.receipts_trie,
                                        self.rlp.encode(self.numeric.Uint(0)))
        if isinstance(receipt, bytes):  # typed receipt: type byte, then RLP
            receipt = self.rlp.decode_to(mods["blocks"].Receipt, receipt[1:])
        success = bool(getattr(receipt, "succeeded", True))
        return Outcome(int(self.block_output.block_gas_used), success,
                       bytes(mods["state"].state_root(self.state)))


PYREVM_SPECS = {
    "Frontier": "FRONTIER", "Homestead": "HOMESTEAD", "EIP150": "TANGERINE",
    "TangerineWhistle": "TANGERINE", "EIP158": "SPURIOUS_DRAGON",
    "SpuriousDragon": "SPURIOUS_DRAGON", "Byzantium": "BYZANTIUM",
    "Constantinople": "CONSTANTINOPLE", "ConstantinopleFix": "PETERSBURG",
    "Petersburg": "PETERSBURG", "Istanbul": "ISTANBUL", "Berlin": "BERLIN",
    "London": "LONDON", "Merge": "MERGE", "Paris": "MERGE", "Shanghai": "SHANGHAI",
    "Cancun": "CANCUN", "Prague": "PRAGUE",
}


class PyrevmRunner(Runner):
    def __init__(self) -> None:
        import pyrevm

        self.pyrevm = pyrevm

    def new_evm(self, fork: str, env: dict[str, Any], pre: dict[str, Any]) -> Any:
        """A pyrevm EVM holding `pre`, for a fixture-style env."""
        pr = self.pyrevm
        spec = PYREVM_SPECS.get(fork)
        if spec is None:
            raise RuntimeError(f"no pyrevm spec id for fork {fork}")
        random = env.get("currentRandom")
        block = pr.BlockEnv(
            number=num(env["currentNumber"]),
            coinbase="0x" + address(env["currentCoinbase"]).hex(),
            timestamp=num(env["currentTimestamp"]),
            difficulty=num(env.get("currentDifficulty", "0x0")),
            prevrandao=num(random).to_bytes(32, "big") if random is not None else None,
            basefee=num(env.get("currentBaseFee", "0x0")),
            gas_limit=num(env["currentGasLimit"]),
        )
        evm = pr.EVM(env=pr.Env(cfg=pr.CfgEnv(chain_id=1), block=block), spec_id=spec)
        for addr_hex, acct in pre.items():
            addr = "0x" + address(addr_hex).hex()
            evm.insert_account_info(addr, pr.AccountInfo(
                nonce=num(acct.get("nonce", "0x0")), code=hexbytes(acct.get("code", "0x"))))
            evm.set_balance(addr, num(acct.get("balance", "0x0")))
            for key, value in acct.get("storage", {}).items():
                evm.insert_account_storage(addr, num(key), num(value))
        return evm

    def prepare(self, test: dict[str, Any], fork: str, post: dict[str, Any]) -> None:
        env = test["env"]
        evm = self.new_evm(fork, env, test["pre"])
        tx = test["transaction"]
        indexes = post["indexes"]
        if not tx.get("to"):
            raise RuntimeError("pyrevm runner handles message calls only")
        if "sender" in tx:
            sender = "0x" + address(tx["sender"]).hex()
        else:
            from chainvm.crypto import private_key_to_address

            sender = "0x" + private_key_to_address(hexbytes(tx["secretKey"])).hex()
        self.call = {
            "caller": sender, "to": "0x" + address(tx["to"]).hex(),
            "calldata": hexbytes(tx["data"][indexes["data"]]),
            "value": num(tx["value"][indexes["value"]]),
            "gas": num(tx["gasLimit"][indexes["gas"]]),
            "gas_price": effective_gas_price(tx, num(env.get("currentBaseFee", "0x0")))}
        self.evm = evm

    def execute(self) -> None:
        self.evm.message_call(**self.call)

    def finish(self) -> Outcome:
        result = self.evm.result
        return Outcome(int(result.gas_used), bool(result.is_success), None)


RUNNERS: dict[str, Callable[[], Runner]] = {
    "chainvm": ChainvmRunner, "pyevm": PyevmRunner, "eels": EelsRunner, "pyrevm": PyrevmRunner,
}


def version_of(impl: str) -> str:
    try:
        return metadata.version(DISTRIBUTIONS[impl])
    except metadata.PackageNotFoundError:
        return "?"


def worker_main(impl: str) -> int:
    """Serve benchmark requests (JSON lines on stdin) with one implementation."""
    # Keep the protocol channel clean: anything the libraries print goes to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(**message: Any) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    try:
        runner = RUNNERS[impl]()
    except Exception as exc:  # noqa: BLE001  (any import failure means 'absent')
        send(ev="absent", error=f"{type(exc).__name__}: {exc}")
        return 0
    send(ev="ready", version=version_of(impl))
    fixtures: dict[str, Any] = {}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            path = request["path"]
            if path not in fixtures:
                with open(path, "rb") as fh:
                    fixtures[path] = json.loads(fh.read())
            test = fixtures[path][request["test"]]
            post = test["post"][request["fork"]][request["index"]]
            outcomes: list[Outcome] = []
            for _ in range(request["repeat"]):
                runner.prepare(test, request["fork"], post)
                gc.collect()
                send(ev="start")
                start = time.perf_counter()
                runner.execute()
                elapsed = time.perf_counter() - start
                send(ev="rep", t=elapsed)
                outcomes.append(runner.finish())
            first = outcomes[0]
            unstable = any((o.gas, o.success, o.root) != (first.gas, first.success, first.root)
                           for o in outcomes)
            send(ev="done", gas=first.gas, success=first.success,
                 root=None if first.root is None else "0x" + first.root.hex(),
                 error="results differ between repetitions" if unstable else None)
        except Exception as exc:  # noqa: BLE001  (report, then serve the next request)
            send(ev="error", error=f"{type(exc).__name__}: {exc}"[:500])
    return 0


# --------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------

@dataclass
class Case:
    group: str
    name: str
    path: Path
    test: str
    fork: str
    index: int
    expected_root: str


@dataclass
class Result:
    status: str  # ok, mismatch, timeout, error, crash, absent, unverified
    times: list[float] = field(default_factory=list)
    gas: int | None = None
    success: bool | None = None
    root: str | None = None
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def counts(self) -> bool:
        return self.status == "ok" and bool(self.times)


def load_cases(root: Path, only: re.Pattern[str] | None) -> list[Case]:
    cases: list[Case] = []
    for group in GROUPS:
        for path in sorted((root / group).glob("*.json")):
            with open(path, "rb") as fh:
                data = json.loads(fh.read())
            for test_name, test in data.items():
                for fork, posts in test["post"].items():
                    for index, post in enumerate(posts):
                        name = test_name if len(posts) == 1 else f"{test_name}/{index}"
                        if len(test["post"]) > 1:
                            name = f"{name}@{fork}"
                        if only is not None and not only.search(f"{group}/{name}"):
                            continue
                        cases.append(Case(group, name, path, test_name, fork, index,
                                          post["hash"].lower()))
    return cases


class Worker:
    """A worker process for one implementation; its protocol lines arrive on a queue."""

    def __init__(self, impl: str) -> None:
        self.impl = impl
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", impl],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
            bufsize=1)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def receive(self, seconds: float) -> dict[str, Any] | None:
        """The next message; None when the worker died; raises queue.Empty on time-out."""
        line = self.lines.get(timeout=seconds)
        return None if line is None else json.loads(line)

    def send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def tail(self) -> str:
        self.log.seek(0)
        text = self.log.read().decode(errors="replace").strip().splitlines()
        return " | ".join(text[-3:])[-400:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


def run_case(worker: Worker, case: Case, repeat: int, timeout: float) -> Result:
    try:
        worker.send({"path": str(case.path), "test": case.test, "fork": case.fork,
                     "index": case.index, "repeat": repeat})
    except (BrokenPipeError, OSError):
        return Result("crash", error=f"worker died: {worker.tail()}")
    result = Result("ok")
    limit = max(SETUP_SECONDS, timeout)
    while True:
        try:
            message = worker.receive(limit)
        except queue.Empty:
            if limit == timeout:
                return Result("timeout", times=result.times, error=f"a run took over {timeout:g}s")
            return Result("timeout", times=result.times, error="set-up or check took too long")
        if message is None:
            code = worker.proc.wait()
            return Result("crash", times=result.times,
                          error=f"worker died (exit status {code}): {worker.tail()}")
        event = message["ev"]
        if event == "start":
            limit = timeout
        elif event == "rep":
            result.times.append(message["t"])
            limit = max(SETUP_SECONDS, timeout)
        elif event == "error":
            return Result("error", times=result.times, error=message["error"])
        elif event == "done":
            result.gas, result.success, result.root = (message["gas"], message["success"],
                                                       message["root"])
            if message["error"]:
                return Result("mismatch", result.times, result.gas, result.success, result.root,
                              message["error"])
            if result.root is not None and result.root.lower() != case.expected_root:
                result.status = "mismatch"
                result.error = f"state root {result.root}, fixture wants {case.expected_root}"
            return result


def verify_without_root(results: dict[str, dict[str, Result]], cases: list[Case]) -> None:
    """Results with no state root (pyrevm) must match the gas of a root-checked result."""
    for case in cases:
        row = results[case.name]
        checked = [r for r in row.values() if r.status == "ok" and r.root is not None]
        for res in row.values():
            if res.status != "ok" or res.root is not None:
                continue
            if not checked:
                res.status = "unverified"
                res.error = "no state root to check against (no root-checked result)"
                continue
            ref = checked[0]
            if (res.gas, res.success) != (ref.gas, ref.success):
                res.status = "mismatch"
                res.error = (f"gas {res.gas} success {res.success}; root-checked result has "
                             f"gas {ref.gas} success {ref.success}")


class Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()


def run_impl(impl: str, cases: list[Case], repeat: int, timeout: float,
             progress: Progress) -> tuple[dict[str, Result], dict[str, Any]]:
    results: dict[str, Result] = {}
    info: dict[str, Any] = {"available": False, "version": None, "error": None}
    worker: Worker | None = None
    for case in cases:
        if worker is None:
            worker = Worker(impl)
            try:
                hello = worker.receive(SETUP_SECONDS)
            except queue.Empty:
                hello = {"ev": "absent", "error": "worker did not start in time"}
            if hello is None:
                hello = {"ev": "absent", "error": f"worker died: {worker.tail()}"}
            if hello["ev"] != "ready":
                worker.stop()
                info["error"] = hello["error"]
                progress(f"{impl}: absent ({hello['error']})")
                for c in cases:
                    results[c.name] = Result("absent", error=hello["error"])
                return results, info
            info["available"], info["version"] = True, hello["version"]
        started = time.perf_counter()
        res = run_case(worker, case, repeat, timeout)
        results[case.name] = res
        shown = f"{res.median:.4f}s" if res.median is not None else "-"
        progress(f"{impl:8} {case.name:32} {res.status:9} median {shown} "
                 f"({time.perf_counter() - started:.1f}s wall){' ' + res.error if res.error else ''}")
        if res.status in ("timeout", "crash"):
            worker.stop()
            worker = None
    if worker is not None:
        worker.stop()
    return results, info


def speedup(mine: Result, theirs: Result) -> float | None:
    """Peer time / chainvm time, when both completed and were checked."""
    if mine.counts and theirs.counts and mine.median and theirs.median is not None:
        return theirs.median / mine.median
    return None


def geomean(values: list[float]) -> float | None:
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(cases: list[Case], results: dict[str, dict[str, Result]], impls: list[str]
              ) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    base_ok = "chainvm" in impls
    for peer in impls:
        if peer == "chainvm" or not base_ok:
            continue
        ratios: list[float] = []
        peer_total = base_total = 0.0
        excluded: list[dict[str, str]] = []
        for case in cases:
            mine, theirs = results[case.name]["chainvm"], results[case.name][peer]
            ratio = speedup(mine, theirs)
            if ratio is not None and mine.median and theirs.median:
                ratios.append(ratio)
                peer_total += theirs.median
                base_total += mine.median
            elif theirs.status != "absent":
                why = theirs.status if not theirs.counts else f"chainvm {mine.status}"
                excluded.append({"benchmark": case.name, "reason": why})
        summary[peer] = {"geomean_speedup": geomean(ratios), "benchmarks": len(ratios),
                         "total_time_ratio": peer_total / base_total if base_total else None,
                         "excluded": excluded}
    return summary


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1e3:.2f}ms"
    return f"{seconds:.2f}s"


def cell(res: Result, timeout: float) -> tuple[str, str]:
    """(time, Mgas/s) cells for one result."""
    if res.status == "ok":
        med = res.median
        mgas = f"{res.gas / med / 1e6:.2f}" if med and res.gas is not None else "-"
        return fmt_time(med), mgas
    label = {"timeout": f">{timeout:g}s", "mismatch": "MISMATCH", "error": "ERROR",
             "crash": "CRASH", "absent": "absent", "unverified": "unverified"}[res.status]
    if res.status == "unverified":
        return fmt_time(res.median) + "?", "-"
    return label, "-"


def render_table(cases: list[Case], results: dict[str, dict[str, Result]], impls: list[str],
                 summary: dict[str, Any], timeout: float) -> str:
    peers = [p for p in impls if p != "chainvm" and "chainvm" in impls]
    header = ["benchmark", "gas"]
    for impl in impls:
        header += [f"{impl} time", "Mgas/s"]
    header += [f"x vs {p}" for p in peers]
    rows: list[list[str]] = []
    for case in cases:
        row = results[case.name]
        gas = next((r.gas for r in row.values() if r.status == "ok" and r.gas is not None), None)
        line = [f"{case.group}/{case.name}", f"{gas:,}" if gas is not None else "-"]
        for impl in impls:
            line += list(cell(row[impl], timeout))
        for peer in peers:
            ratio = speedup(row["chainvm"], row[peer])
            mine = row["chainvm"]
            if ratio is not None:
                line.append(f"{ratio:.2f}")
            elif row[peer].status == "timeout" and mine.counts and mine.median:
                line.append(f">{timeout / mine.median:.0f}")  # a lower bound only
            else:
                line.append("-")
        rows.append(line)
    if peers:
        foot = ["geomean", ""] + [""] * (2 * len(impls))
        foot += [f"{summary[p]['geomean_speedup']:.2f}" if summary[p]["geomean_speedup"]
                 else "-" for p in peers]
        count = ["(benchmarks)", ""] + [""] * (2 * len(impls))
        count += [str(summary[p]["benchmarks"]) for p in peers]
        rows += [foot, count]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))

    out = [fmt(header), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in rows[:len(cases)]]
    if peers:
        out.append("  ".join("-" * w for w in widths))
        out += [fmt(r) for r in rows[len(cases):]]
    out.append("x vs PEER = PEER time / chainvm time (speed-up of chainvm); "
               "time = median of the timed runs")
    for peer in peers:
        s = summary[peer]
        if s["total_time_ratio"]:
            out.append(f"{peer}: total-time ratio over the {s['benchmarks']} common benchmarks "
                       f"{s['total_time_ratio']:.2f}")
        if s["excluded"]:
            listed = ", ".join(f"{e['benchmark']} ({e['reason']})" for e in s["excluded"])
            out.append(f"{peer}: left out of the geomean: {listed}")
    for case in cases:
        for impl in impls:
            res = results[case.name][impl]
            if res.status not in ("ok", "absent", "timeout"):
                out.append(f"note: {impl} {case.group}/{case.name}: {res.status}: {res.error}")
    return "\n".join(out) + "\n"


def chainvm_revision() -> dict[str, Any]:
    """The commit chainvm was measured at, and whether its sources had local changes."""
    repo = str(Path(__file__).resolve().parents[1])

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", repo, *args], check=False, capture_output=True,
                              text=True, timeout=30).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        dirty = git("status", "--porcelain", "--", "chainvm").split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "modified": []}
    return {"commit": commit or None,
            "modified": [line[3:] for line in dirty if line.strip()]}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark chainvm against py-evm, EELS and pyrevm on evm-benchmarks.")
    parser.add_argument("--repeat", type=int, default=3, metavar="R",
                        help="timed runs per benchmark and implementation (median shown)")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S",
                        help="seconds one timed run may take before the worker is killed")
    parser.add_argument("--only", metavar="REGEX",
                        help="only benchmarks whose 'group/name' matches (e.g. 'micro/')")
    parser.add_argument("--impl", default=",".join(IMPLS),
                        help=f"comma-separated implementations (default {','.join(IMPLS)})")
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, metavar="DIR",
                        help="evm-benchmarks folder holding main/ and micro/")
    parser.add_argument("--json", action="store_true",
                        help="JSON on stdout (the table goes to stderr)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="progress lines on stderr even when it is not a terminal")
    parser.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    impls = [i.strip() for i in args.impl.split(",") if i.strip()]
    unknown = [i for i in impls if i not in IMPLS]
    if unknown or not impls:
        parser.error(f"--impl: unknown {unknown} (known: {', '.join(IMPLS)})")
    impls = [i for i in IMPLS if i in impls]  # chainvm first, fixed order
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    try:
        only = re.compile(args.only) if args.only else None
    except re.error as exc:
        parser.error(f"--only: bad regular expression: {exc}")
    if not all((args.fixtures / g).is_dir() for g in GROUPS):
        parser.error(f"no main/ and micro/ under {args.fixtures}")
    cases = load_cases(args.fixtures, only)
    if not cases:
        parser.error("no benchmark matches --only")
    progress = Progress(args.verbose or sys.stderr.isatty())
    started = datetime.datetime.now(datetime.UTC)
    results: dict[str, dict[str, Result]] = {c.name: {} for c in cases}
    infos: dict[str, Any] = {}
    for impl in impls:  # one implementation at a time, never in parallel
        per_case, infos[impl] = run_impl(impl, cases, args.repeat, args.timeout, progress)
        for name, res in per_case.items():
            results[name][impl] = res
    verify_without_root(results, cases)
    summary = summarize(cases, results, impls)
    table = render_table(cases, results, impls, summary, args.timeout)
    if args.json:
        doc = {
            "date": started.isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, "benchmarks/run.py", *argv]),
            "python": platform.python_version(),
            "chainvm_revision": chainvm_revision(),
            "repeat": args.repeat,
            "timeout": args.timeout,
            "implementations": infos,
            "benchmarks": [{
                "name": c.name, "group": c.group, "file": c.path.name, "test": c.test,
                "fork": c.fork, "index": c.index,
                "results": {impl: {
                    "status": r.status, "median": r.median, "times": r.times, "gas": r.gas,
                    "mgas_per_s": (r.gas / r.median / 1e6 if r.gas is not None and r.median
                                   and r.status == "ok" else None),
                    "success": r.success, "state_root": r.root, "error": r.error}
                    for impl, r in results[c.name].items()},
                "speedup": {p: speedup(results[c.name]["chainvm"], results[c.name][p])
                            for p in impls if p != "chainvm" and "chainvm" in impls},
            } for c in cases],
            "summary": summary,
        }
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stderr.write(table)
    else:
        sys.stdout.write(table)
    if "chainvm" in impls and not all(results[c.name]["chainvm"].status == "ok" for c in cases):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
