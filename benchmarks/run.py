"""Side-by-side EVM benchmarks: chainvm against py-evm, the execution specs and pyrevm.

Run: .venv/bin/python benchmarks/run.py [--suite ipsilon,weth9,statetests] [--repeat R]
                                         [--timeout S] [--only REGEX]
                                         [--impl chainvm,pyevm,eels,pyrevm] [--json] [-v]

Three suites; --suite picks any of them (default: ipsilon alone, as before):

  ipsilon     the evm-benchmarks fixtures, one timed transaction each (below)
  weth9       1,000 transfers of a WETH9-style token (benchmarks/contracts/weth9.vy,
              compiled with Vyper at start-up) as separate transactions on one evolving
              state, after an untimed deployment and deposits; checked by the token
              balances every implementation reports afterwards (calls of balanceOf, or
              storage reads for EELS), and the state roots and gas of chainvm, py-evm and
              EELS, which must agree
  statetests  the Cancun cases of the first 100 files (sorted paths) of the state-2024
              archive, each implementation doing the whole per-case work (JSON parsing,
              pre-state, transaction, execution, state root, logs hash) with its own
              state-test code where it has some; cases passed and cases/s are reported

A weth9 or statetests worker runs all repetitions of its suite for one implementation
and reports once (--suite-timeout bounds the whole run); the median repetition is shown.

The ipsilon benchmarks are the state-test fixtures of ipsilon/evm-benchmarks
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

Workers import their implementation with a bytecode cache, as an installed package has:
pip compiles the peers' modules at install time, while chainvm runs from this checkout
(an editable install, no .pyc) and a machine may set PYTHONDONTWRITEBYTECODE.  The
workers run with PYTHONPYCACHEPREFIX=$CHAINVM_CACHE_DIR/pycache (default
~/.cache/chainvm/pycache) and chainvm's modules are compiled into it before the first
worker starts, so a module imported on first use (a precompile, say) is not compiled from
source inside a timed run.

Output follows the chainvm CLI convention: with --json, JSON on stdout and the table
on stderr; without it, the table on stdout.  Progress lines go to stderr when it is
a terminal, or always with -v.  Exit status 0 when chainvm passed every benchmark,
1 when it did not, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import importlib
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
        state.finalize_transaction(delete_empty=self.fork.rules.eip161)
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
            # Straight into the database: EVM.set_balance would also load the account
            # into revm's journal, making it warm for the first transaction.
            evm.insert_account_info(addr, pr.AccountInfo(
                nonce=num(acct.get("nonce", "0x0")), code=hexbytes(acct.get("code", "0x")),
                balance=num(acct.get("balance", "0x0"))))
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
    # CPU seconds the process took to start and import the implementation (the cold view).
    send(ev="ready", version=version_of(impl), cpu=time.process_time())
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
            # Untimed runs first (--warmup): a tiered implementation reaches its steady
            # state (translated loops and entries) before the timed runs.
            for _ in range(request.get("warmup", 0)):
                runner.prepare(test, request["fork"], post)
                send(ev="start")
                runner.execute()
                send(ev="warm")
                runner.finish()
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
# Suite workers: weth9 (token transfers) and statetests (state-test throughput)
# --------------------------------------------------------------------------------------
#
# A suite worker (this file with --worker IMPL --suite NAME --plan FILE) runs the whole
# suite for one implementation and sends one JSON line: its timed repetitions and what
# the check needs.  The plan file is written by the parent: for weth9 the compiled
# contract, accounts and signed transactions; for statetests the fixture paths.

WETH9_FORK = "Cancun"
# The block every WETH9 transaction runs in, in the state-test `env` format, so the
# runners' builders serve both suites.  The gas limit holds all the transfers.
WETH9_ENV = {"currentCoinbase": "0x" + "c0" * 20, "currentNumber": "0x1",
             "currentTimestamp": "0x3e8", "currentGasLimit": "0x3b9aca00",
             "currentBaseFee": "0x7", "currentRandom": "0x" + "00" * 31 + "01",
             "currentExcessBlobGas": "0x0", "currentDifficulty": "0x0"}
WETH9_SENDERS = 4
WETH9_RECIPIENTS = 20
WETH9_DEPOSIT = 10**21
WETH9_GAS_PRICE = 10
WETH9_TX_GAS = 100_000
WETH9_DEPLOY_GAS = 1_000_000
CONTRACTS = Path(__file__).resolve().parent / "contracts"


def selector(signature: str) -> bytes:
    from eth_utils import keccak

    return keccak(text=signature)[:4]


def abi_word(value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return value.rjust(32, b"\x00")
    return value.to_bytes(32, "big")


def max_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def weth9_plan(transfers: int) -> dict[str, Any]:
    """Compile the token, make the accounts, sign every transaction (parent side)."""
    import rlp
    import vyper
    from eth_account import Account
    from eth_utils import keccak, to_checksum_address

    source = (CONTRACTS / "weth9.vy").read_text()
    compiled = vyper.compile_code(source, output_formats=["bytecode", "layout"])
    initcode = hexbytes(compiled["bytecode"])
    balance_slot = compiled["layout"]["storage_layout"]["balanceOf"]["slot"]
    keys = [keccak(text=f"chainvm weth9 sender {i}") for i in range(WETH9_SENDERS)]
    checker_key = keccak(text="chainvm weth9 checker")
    senders = [bytes.fromhex(Account.from_key(k).address[2:]) for k in keys]
    checker = bytes.fromhex(Account.from_key(checker_key).address[2:])
    recipients = [keccak(text=f"chainvm weth9 recipient {i}")[:20]
                  for i in range(WETH9_RECIPIENTS)]
    token = keccak(rlp.encode([senders[0], 0]))[12:]
    nonces = {a: 0 for a in [*senders, checker]}

    def tx(key: bytes, sender: bytes, to: bytes | None, data: bytes, value: int = 0,
           gas: int = WETH9_TX_GAS) -> dict[str, Any]:
        fields: dict[str, Any] = {"nonce": nonces[sender], "gasPrice": WETH9_GAS_PRICE,
                                  "gas": gas, "value": value, "data": data, "chainId": 1}
        if to is not None:
            fields["to"] = to_checksum_address(to)
        raw = Account.sign_transaction(fields, key).raw_transaction
        out = {"sender": sender.hex(), "nonce": nonces[sender],
               "to": to.hex() if to is not None else None, "value": value,
               "data": data.hex(), "gas": gas, "gas_price": WETH9_GAS_PRICE,
               "raw": bytes(raw).hex()}
        nonces[sender] += 1
        return out

    setup = [tx(keys[0], senders[0], None, initcode, gas=WETH9_DEPLOY_GAS)]
    setup += [tx(k, s, token, selector("deposit()"), WETH9_DEPOSIT)
              for k, s in zip(keys, senders)]
    expected = {a: 0 for a in [*senders, *recipients]}
    for s in senders:
        expected[s] += WETH9_DEPOSIT
    calls = []
    for i in range(transfers):
        s = i % WETH9_SENDERS
        # Every 10th transfer goes to another sender, the rest to a rotating recipient.
        target = senders[(s + 1) % WETH9_SENDERS] if i % 10 == 9 else \
            recipients[(i * 7) % WETH9_RECIPIENTS]
        amount = 10**15 + i
        calls.append(tx(keys[s], senders[s], token, selector("transfer(address,uint256)")
                        + abi_word(target) + abi_word(amount)))
        expected[senders[s]] -= amount
        expected[target] += amount
    holders = list(expected)
    queries = [tx(checker_key, checker, token, selector("balanceOf(address)") + abi_word(h))
               for h in holders]
    pre = {"0x" + a.hex(): {"balance": hex(10**24)} for a in [*senders, checker]}
    return {"fork": WETH9_FORK, "env": WETH9_ENV, "pre": pre, "token": token.hex(),
            "balance_slot": balance_slot, "setup": setup, "transfers": calls,
            "queries": queries, "holders": [h.hex() for h in holders],
            "expected": {h.hex(): v for h, v in expected.items()},
            "contract": "benchmarks/contracts/weth9.vy", "initcode_bytes": len(initcode),
            "compiler": f"vyper {vyper.__version__}"}


def balance_key(slot: int, holder: bytes) -> bytes:
    """Storage key of `balanceOf[holder]` in the Vyper layout: keccak(slot . holder)."""
    from eth_utils import keccak

    return keccak(abi_word(slot) + abi_word(holder))


class Weth9Driver:
    """One implementation's WETH9 run: set_up() and check() are not timed, run() is."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan

    def set_up(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        raise NotImplementedError

    def check(self) -> dict[str, Any]:
        """gas (sum over the timed transfers), root, balances, all_success."""
        raise NotImplementedError


class ChainvmWeth9(Weth9Driver):
    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__(plan)
        from chainvm.evm import forks, statetest, transaction

        self.st = statetest
        self.fork = forks.get_fork(plan["fork"])
        self.apply = transaction.apply_transaction
        self.env = statetest.block_env(plan["env"])

        def build(t: dict[str, Any]) -> Any:
            return transaction.Transaction(
                sender=bytes.fromhex(t["sender"]),
                to=bytes.fromhex(t["to"]) if t["to"] is not None else None,
                nonce=t["nonce"], gas_limit=t["gas"], value=t["value"],
                data=bytes.fromhex(t["data"]), tx_type=0, gas_price=t["gas_price"])

        self.setup_txs = [build(t) for t in plan["setup"]]
        self.transfers = [build(t) for t in plan["transfers"]]
        self.queries = [build(t) for t in plan["queries"]]

    def set_up(self) -> None:
        self.state = self.st.load_pre_state(self.plan["pre"])
        for tx in self.setup_txs:
            if not self.apply(self.state, self.fork, self.env, tx).success:
                raise RuntimeError("chainvm: a set-up transaction failed")
        self.results: list[Any] = []

    def run(self) -> None:
        state, fork, env, apply = self.state, self.fork, self.env, self.apply
        results = self.results
        for tx in self.transfers:
            results.append(apply(state, fork, env, tx))

    def check(self) -> dict[str, Any]:
        root = self.state.state_root()
        balances = {}
        for holder, tx in zip(self.plan["holders"], self.queries):
            balances[holder] = int.from_bytes(
                self.apply(self.state, self.fork, self.env, tx).output, "big")
        return {"gas": sum(r.gas_used for r in self.results),
                "all_success": all(r.success for r in self.results),
                "root": root.hex(), "balances": balances}


class PyevmWeth9(Weth9Driver):
    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__(plan)
        self.runner = PyevmRunner()
        vm, _ = self.runner.build_state(plan["fork"], plan["env"], {})
        self.vm = vm
        builder = vm.get_transaction_builder()

        def decode(t: dict[str, Any]) -> Any:
            tx = builder.decode(bytes.fromhex(t["raw"]))
            _ = tx.sender  # recovered (and cached) outside the timed part
            return tx

        self.setup_txs = [decode(t) for t in plan["setup"]]
        self.transfers = [decode(t) for t in plan["transfers"]]
        self.queries = [decode(t) for t in plan["queries"]]

    def set_up(self) -> None:
        _, self.state = self.runner.build_state(self.plan["fork"], self.plan["env"],
                                                self.plan["pre"])
        for tx in self.setup_txs:
            self.state.lock_changes()
            if not self.state.apply_transaction(tx).is_success:
                raise RuntimeError("py-evm: a set-up transaction failed")
        self.computations: list[Any] = []

    def run(self) -> None:
        state, out = self.state, self.computations
        for tx in self.transfers:
            # As py-evm's VM.apply_transaction does: a new transaction starts here.
            state.lock_changes()
            out.append(state.apply_transaction(tx))

    def check(self) -> dict[str, Any]:
        gas = 0
        for tx, comp in zip(self.transfers, self.computations):
            used = tx.gas - comp.get_gas_remaining()
            gas += used - self.vm.calculate_net_gas_refund(used, comp.get_gas_refund())
        root = self.state.make_state_root()
        balances = {}
        for holder, tx in zip(self.plan["holders"], self.queries):
            self.state.lock_changes()
            balances[holder] = int.from_bytes(self.state.apply_transaction(tx).output, "big")
        return {"gas": gas, "all_success": all(c.is_success for c in self.computations),
                "root": bytes(root).hex(), "balances": balances}


class EelsWeth9(Weth9Driver):
    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__(plan)
        self.runner = EelsRunner()
        mods = self.runner.fork_modules(plan["fork"])
        self.mods = mods
        self.setup_txs = [self.runner.decode(mods, bytes.fromhex(t["raw"]))
                          for t in plan["setup"]]
        self.transfers = [self.runner.decode(mods, bytes.fromhex(t["raw"]))
                          for t in plan["transfers"]]

    def set_up(self) -> None:
        Uint = self.runner.numeric.Uint
        _, self.state, self.block_env = self.runner.build(self.plan["fork"], self.plan["env"],
                                                          self.plan["pre"])
        self.block_output = self.mods["vm"].BlockOutput()
        for i, tx in enumerate(self.setup_txs):
            self.mods["fork"].process_transaction(self.block_env, self.block_output, tx,
                                                  Uint(i))
        self.gas_before = int(self.block_output.block_gas_used)

    def run(self) -> None:
        Uint = self.runner.numeric.Uint
        process, block_env, output = (self.mods["fork"].process_transaction, self.block_env,
                                      self.block_output)
        first = len(self.setup_txs)
        for i, tx in enumerate(self.transfers):
            process(block_env, output, tx, Uint(first + i))

    def check(self) -> dict[str, Any]:
        mods = self.mods
        st, ft = mods["state"], mods["fork_types"]
        Bytes32 = self.runner.bytes.Bytes32
        token = ft.Address(bytes.fromhex(self.plan["token"]))
        balances = {h: int(st.get_storage(self.state, token, Bytes32(
            balance_key(self.plan["balance_slot"], bytes.fromhex(h)))))
            for h in self.plan["holders"]}
        succeeded = True
        first = len(self.setup_txs)
        for i in range(len(self.transfers)):
            receipt = mods["trie"].trie_get(self.block_output.receipts_trie,
                                            self.runner.rlp.encode(self.runner.numeric.Uint(
                                                first + i)))
            if isinstance(receipt, bytes):
                receipt = self.runner.rlp.decode_to(mods["blocks"].Receipt, receipt[1:])
            succeeded = succeeded and bool(getattr(receipt, "succeeded", True))
        return {"gas": int(self.block_output.block_gas_used) - self.gas_before,
                "all_success": succeeded, "root": bytes(st.state_root(self.state)).hex(),
                "balances": balances}


class PyrevmWeth9(Weth9Driver):
    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__(plan)
        self.runner = PyrevmRunner()

        def call(t: dict[str, Any]) -> dict[str, Any]:
            return {"caller": "0x" + t["sender"], "to": "0x" + t["to"],
                    "calldata": bytes.fromhex(t["data"]), "value": t["value"],
                    "gas": t["gas"], "gas_price": t["gas_price"]}

        self.deploy = plan["setup"][0]
        self.setup_calls = [call(t) for t in plan["setup"][1:]]
        self.transfers = [call(t) for t in plan["transfers"]]

    def set_up(self) -> None:
        evm = self.runner.new_evm(self.plan["fork"], self.plan["env"], self.plan["pre"])
        token = evm.deploy("0x" + self.deploy["sender"], bytes.fromhex(self.deploy["data"]),
                           gas=self.deploy["gas"])
        if token.lower() != "0x" + self.plan["token"]:
            raise RuntimeError(f"pyrevm deployed the token at {token}")
        for c in self.setup_calls:
            evm.message_call(**c)
        self.evm = evm
        self.gas = 0
        self.succeeded = True

    def run(self) -> None:
        evm = self.evm
        gas = 0
        succeeded = True
        for c in self.transfers:
            evm.message_call(**c)
            result = evm.result
            gas += result.gas_used
            succeeded = succeeded and result.is_success
        self.gas, self.succeeded = gas, succeeded

    def check(self) -> dict[str, Any]:
        token = "0x" + self.plan["token"]
        balances = {h: int.from_bytes(bytes(self.evm.message_call(
            "0x" + h, token, selector("balanceOf(address)") + abi_word(bytes.fromhex(h)),
            is_static=True)), "big") for h in self.plan["holders"]}
        return {"gas": self.gas, "all_success": self.succeeded, "root": None,
                "balances": balances}


WETH9_DRIVERS: dict[str, Callable[[dict[str, Any]], Weth9Driver]] = {
    "chainvm": ChainvmWeth9, "pyevm": PyevmWeth9, "eels": EelsWeth9, "pyrevm": PyrevmWeth9,
}


def weth9_worker(impl: str, plan: dict[str, Any], repeat: int,
                 note: Callable[[str], None]) -> dict[str, Any]:
    driver = WETH9_DRIVERS[impl](plan)
    times: list[float] = []
    cpu_times: list[float] = []
    checks: list[dict[str, Any]] = []
    for rep in range(repeat):
        driver.set_up()
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        driver.run()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
        checks.append(driver.check())
        note(f"{impl} weth9 repetition {rep + 1}/{repeat}: {times[-1]:.2f}s")
    first = checks[0]
    return {"times": times, "cpu_times": cpu_times, **first,
            "error": None if all(c == first for c in checks)
            else "results differ between repetitions"}


# State-test throughput: one function per implementation verifies one file's cases for
# one fork and returns {case id: {"pass", "gas", "rejected", "error"}}.  Everything it
# does is timed: reading and parsing the JSON, building the pre-state, the transaction,
# executing it, the post-state root and the logs hash.

EMPTY_LOGS_HASH = "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"


def case_id(path: str, test: str, index: int) -> str:
    return f"{path}::{test}::{index}"


class StateTestDriver:
    def __init__(self, root: Path, fork: str) -> None:
        self.root = root
        self.fork = fork

    def verify_file(self, rel: str) -> dict[str, dict[str, Any]]:
        raise NotImplementedError


class ChainvmStateTests(StateTestDriver):
    """chainvm's own state-test runner (chainvm.evm.statetest.run_file)."""

    def __init__(self, root: Path, fork: str) -> None:
        super().__init__(root, fork)
        from chainvm.evm.statetest import run_file

        self.run_file = run_file

    def verify_file(self, rel: str) -> dict[str, dict[str, Any]]:
        return {case_id(rel, r.name, r.index): {"pass": r.passed, "gas": None,
                                                "rejected": None, "error": r.error}
                for r in self.run_file(self.root / rel, self.fork)}


def verdict(post: dict[str, Any], rejected: bool, root: bytes, logs_hash: bytes | None
            ) -> str | None:
    """Why a case fails (None when it passes), as chainvm's runner decides."""
    if root.hex() != post["hash"][2:].lower():
        return f"state root 0x{root.hex()}, want {post['hash']}"
    if post.get("expectException"):
        return None if rejected else f"expected {post['expectException']}, tx was valid"
    if rejected:
        return "transaction rejected"
    if "logs" in post and logs_hash is not None and logs_hash.hex() != post["logs"][2:].lower():
        return f"logs hash 0x{logs_hash.hex()}, want {post['logs']}"
    return None


class PyevmStateTests(StateTestDriver):
    """Pre-state as the ipsilon py-evm worker builds it; the transaction from txbytes."""

    def __init__(self, root: Path, fork: str) -> None:
        super().__init__(root, fork)
        import rlp
        from eth_utils import keccak

        self.runner = PyevmRunner()
        self.rlp = rlp
        self.keccak = keccak

    def verify_file(self, rel: str) -> dict[str, dict[str, Any]]:
        with open(self.root / rel, "rb") as fh:
            data = json.loads(fh.read())
        out: dict[str, dict[str, Any]] = {}
        for name, test in data.items():
            for index, post in enumerate(test["post"].get(self.fork, [])):
                vm, state = self.runner.build_state(self.fork, test["env"], test["pre"])
                rejected, gas, logs_hash = False, None, None
                try:
                    tx = vm.get_transaction_builder().decode(hexbytes(post["txbytes"]))
                    comp = state.apply_transaction(tx)
                except Exception:  # noqa: BLE001  (py-evm's ways of rejecting a transaction)
                    rejected = True
                    logs_hash = bytes.fromhex(EMPTY_LOGS_HASH)
                else:
                    used = tx.gas - comp.get_gas_remaining()
                    gas = used - vm.calculate_net_gas_refund(used, comp.get_gas_refund())
                    logs = [[a, [t.to_bytes(32, "big") for t in topics], d]
                            for a, topics, d in comp.get_log_entries()]
                    logs_hash = self.keccak(self.rlp.encode(logs))
                why = verdict(post, rejected, bytes(state.make_state_root()), logs_hash)
                out[case_id(rel, name, index)] = {"pass": why is None, "gas": gas,
                                                  "rejected": rejected, "error": why}
        return out


class EelsStateTests(StateTestDriver):
    """The execution specs' own state-test runner (ethereum_spec_tools evm_tools statetest)."""

    def __init__(self, root: Path, fork: str) -> None:
        super().__init__(root, fork)
        import logging

        from ethereum_spec_tools.evm_tools.statetest import read_test_cases, run_test_case
        from ethereum_spec_tools.evm_tools.t8n import ForkCache

        logging.getLogger("T8N").setLevel(logging.ERROR)  # one warning per rejected tx
        self.read_test_cases = read_test_cases
        self.run_test_case = run_test_case
        self.fork_cache = ForkCache()

    def verify_file(self, rel: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for case in self.read_test_cases(str(self.root / rel)):
            if case.fork_name != self.fork:
                continue
            result = self.run_test_case(case, self.fork_cache)
            rejected = bool(result.rejected)
            why = verdict(case.post, rejected, bytes(result.state_root),
                          bytes(result.logs_hash) if result.logs_hash is not None else None)
            out[case_id(rel, case.key, case.index)] = {
                "pass": why is None, "gas": None if rejected else int(result.gas_used),
                "rejected": rejected, "error": why}
        return out


class PyrevmStateTests(StateTestDriver):
    """revm has no state root here: gas used (or rejection) is compared afterwards."""

    def __init__(self, root: Path, fork: str) -> None:
        super().__init__(root, fork)
        self.runner = PyrevmRunner()

    def verify_file(self, rel: str) -> dict[str, dict[str, Any]]:
        with open(self.root / rel, "rb") as fh:
            data = json.loads(fh.read())
        out: dict[str, dict[str, Any]] = {}
        for name, test in data.items():
            tx = test["transaction"]
            for index, post in enumerate(test["post"].get(self.fork, [])):
                cid = case_id(rel, name, index)
                d = post["indexes"]["data"]
                access = (tx.get("accessLists") or [None] * (d + 1))[d]
                if not tx.get("to") or tx.get("blobVersionedHashes") or access \
                        or tx.get("authorizationList"):
                    out[cid] = {"pass": False, "gas": None, "rejected": None,
                                "error": "unsupported (creation, blob, access list or "
                                         "authorization transaction)"}
                    continue
                evm = self.runner.new_evm(self.fork, test["env"], test["pre"])
                if "sender" in tx:
                    sender = "0x" + address(tx["sender"]).hex()
                else:
                    from chainvm.crypto import private_key_to_address

                    sender = "0x" + private_key_to_address(hexbytes(tx["secretKey"])).hex()
                try:
                    evm.message_call(
                        caller=sender, to="0x" + address(tx["to"]).hex(),
                        calldata=hexbytes(tx["data"][d]),
                        value=num(tx["value"][post["indexes"]["value"]]),
                        gas=num(tx["gasLimit"][post["indexes"]["gas"]]),
                        gas_price=effective_gas_price(
                            tx, num(test["env"].get("currentBaseFee", "0x0"))))
                except RuntimeError:
                    pass  # a failed call raises too; evm.result tells them apart
                result = evm.result
                if result is None:
                    out[cid] = {"pass": False, "gas": None, "rejected": True, "error": None}
                else:
                    out[cid] = {"pass": False, "gas": int(result.gas_used), "rejected": False,
                                "error": None}
        return out


STATETEST_DRIVERS: dict[str, Callable[[Path, str], StateTestDriver]] = {
    "chainvm": ChainvmStateTests, "pyevm": PyevmStateTests, "eels": EelsStateTests,
    "pyrevm": PyrevmStateTests,
}


def modules_loaded_by(run: Callable[[], object]) -> list[str]:
    """The modules `run()` imports, in the order it imports them, found by running it in a
    forked child (so this process keeps none of its other first-time work); [] where
    there is no fork."""
    if not hasattr(os, "fork"):
        return []
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report the new module names, leave without clean-up
        os.close(read_end)
        code = 1
        try:
            before = set(sys.modules)
            with contextlib.suppress(Exception):  # the timed run reports it; imports count
                run()
            with os.fdopen(write_end, "w") as out:
                json.dump([name for name in sys.modules if name not in before], out)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as inp:
        text = inp.read()
    _, status = os.waitpid(pid, 0)
    return json.loads(text) if status == 0 and text else []


def import_modules(names: list[str]) -> int:
    """Import what can be imported by name (extension internals cannot); how many were."""
    done = 0
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112  (a name an extension registered, not a module)
            continue
        done += 1
    return done


def statetest_worker(impl: str, plan: dict[str, Any], repeat: int,
                     note: Callable[[str], None]) -> dict[str, Any]:
    driver = STATETEST_DRIVERS[impl](Path(plan["root"]), plan["fork"])
    # Imports are not the cases' work: the modules an implementation loads on any of the
    # sample's files (the specs load the fork's package and its crypto on the first,
    # 93-280 modules; chainvm loads its alt_bn128 arithmetic on the first ECADD, ECMUL
    # or ECPAIRING) are imported before the clock starts, as the runner's own modules
    # are. They are found by running every file once in a forked child, whose other work
    # this process does not keep.
    files = plan["files"]

    def verify_each() -> None:
        for rel in files:
            with contextlib.suppress(Exception):  # the timed run reports it
                driver.verify_file(rel)

    if files:
        loaded = modules_loaded_by(verify_each)
        note(f"{impl} statetests: {import_modules(loaded)} of {len(loaded)} modules the "
             "sample loads imported before timing")
    times: list[float] = []
    cpu_times: list[float] = []
    runs: list[dict[str, dict[str, Any]]] = []
    for rep in range(repeat):
        cases: dict[str, dict[str, Any]] = {}
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        for rel in plan["files"]:
            try:
                cases.update(driver.verify_file(rel))
            except Exception as exc:  # noqa: BLE001  (a crash in one file fails its cases)
                cases[case_id(rel, "*", 0)] = {"pass": False, "gas": None, "rejected": None,
                                               "error": f"{type(exc).__name__}: {exc}"[:300]}
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
        runs.append(cases)
        note(f"{impl} statetests repetition {rep + 1}/{repeat}: {times[-1]:.1f}s, "
             f"{sum(c['pass'] for c in cases.values())}/{len(cases)} passed")
    first = runs[0]
    same = all({k: (v["pass"], v["gas"]) for k, v in r.items()}
               == {k: (v["pass"], v["gas"]) for k, v in first.items()} for r in runs)
    return {"times": times, "cpu_times": cpu_times, "cases": first,
            "error": None if same else "results differ between repetitions"}


SUITE_WORKERS: dict[str, Callable[[str, dict[str, Any], int, Callable[[str], None]],
                                  dict[str, Any]]] = {
    "weth9": weth9_worker, "statetests": statetest_worker,
}


def suite_worker_main(impl: str, suite: str, plan_path: str, repeat: int) -> int:
    """Run one suite for one implementation; one JSON line on stdout at the end."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def note(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    with open(plan_path) as fh:
        plan = json.load(fh)
    try:
        RUNNERS[impl]()  # the same import check as the ipsilon workers
    except Exception as exc:  # noqa: BLE001
        channel.write(json.dumps({"status": "absent",
                                  "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 0
    try:
        result = SUITE_WORKERS[suite](impl, plan, repeat, note)
        result["status"] = "ok" if result["error"] is None else "mismatch"
    except Exception as exc:  # noqa: BLE001  (reported to the parent)
        import traceback

        traceback.print_exc()
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}
    result["version"] = version_of(impl)
    result["max_rss_mib"] = max_rss_mib()
    channel.write(json.dumps(result) + "\n")
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


def worker_env() -> dict[str, str]:
    """The environment of a worker: this one with a bytecode cache (see the docstring).

    The first call compiles chainvm's modules (wherever the workers will import them
    from: PYTHONPATH is inherited) into the cache, outside any timed region."""
    global _WORKER_ENV
    if _WORKER_ENV is None:
        cache = Path(os.environ.get("CHAINVM_CACHE_DIR") or Path.home() / ".cache" / "chainvm")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")
        subprocess.run([sys.executable, "-c", ("import compileall, os, chainvm; "
                        "compileall.compile_dir(os.path.dirname(chainvm.__file__), quiet=1)")],
                       env=env, check=False, stdout=subprocess.DEVNULL)
        _WORKER_ENV = env
    return _WORKER_ENV


_WORKER_ENV: dict[str, str] | None = None


class Worker:
    """A worker process for one implementation; its protocol lines arrive on a queue."""

    def __init__(self, impl: str) -> None:
        self.impl = impl
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", impl],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
            bufsize=1, env=worker_env())
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


def run_case(worker: Worker, case: Case, repeat: int, timeout: float,
             warmup: int = 0) -> Result:
    try:
        worker.send({"path": str(case.path), "test": case.test, "fork": case.fork,
                     "index": case.index, "repeat": repeat, "warmup": warmup})
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
        elif event == "warm":
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


def merge_rounds(first: Result, later: Result) -> Result:
    """One result from two processes' runs of a case (--cold-rounds): their times together,
    a mismatch when they disagree on the outcome."""
    if later.status != "ok":
        return Result(later.status, first.times + later.times, later.gas, later.success,
                      later.root, later.error)
    merged = Result(first.status, first.times + later.times, first.gas, first.success,
                    first.root, first.error)
    if (later.gas, later.success, later.root) != (first.gas, first.success, first.root):
        merged.status = "mismatch"
        merged.error = "results differ between processes"
    return merged


def run_impl(impl: str, cases: list[Case], repeat: int, timeout: float,
             progress: Progress, cold: bool = False,
             warmup: int = 0) -> tuple[dict[str, Result], dict[str, Any]]:
    """Run the cases on one implementation's worker. `cold`: a fresh worker process for
    each case, so the one timed run is the first execution of its code in that process."""
    results: dict[str, Result] = {}
    info: dict[str, Any] = {"available": False, "version": None, "error": None,
                            "startup_cpu": []}
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
            info["startup_cpu"].append(hello.get("cpu"))
        started = time.perf_counter()
        res = run_case(worker, case, repeat, timeout, warmup)
        results[case.name] = res
        shown = f"{res.median:.4f}s" if res.median is not None else "-"
        progress(f"{impl:8} {case.name:32} {res.status:9} median {shown} "
                 f"({time.perf_counter() - started:.1f}s wall){' ' + res.error if res.error else ''}")
        if cold or res.status in ("timeout", "crash"):
            worker.stop()
            worker = None
    if worker is not None:
        worker.stop()
    return results, info


def run_cold(impls: list[str], cases: list[Case], rounds: int, timeout: float,
             progress: Progress) -> tuple[dict[str, dict[str, Result]], dict[str, Any]]:
    """--cold: each case's first run, in a fresh process per implementation and round (one
    process at a time), the implementations taking turns case by case and round by round,
    so that the machine's drift over minutes falls on all of them alike; each result is
    the median of its `rounds` processes."""
    results: dict[str, dict[str, Result]] = {c.name: {} for c in cases}
    infos: dict[str, Any] = {impl: {"available": False, "version": None, "error": None,
                                    "startup_cpu": []} for impl in impls}
    absent: set[str] = set()
    for case in cases:
        row = results[case.name]
        for _ in range(rounds):
            for impl in impls:
                if impl in absent or (impl in row and row[impl].status != "ok"):
                    continue
                one, info = run_impl(impl, [case], 1, timeout, progress, cold=True)
                if not info["available"]:
                    absent.add(impl)
                    infos[impl]["error"] = info["error"]
                    for c in cases:
                        results[c.name][impl] = Result("absent", error=info["error"])
                    continue
                infos[impl]["available"], infos[impl]["version"] = True, info["version"]
                infos[impl]["startup_cpu"] += info["startup_cpu"]
                res = one[case.name]
                row[impl] = merge_rounds(row[impl], res) if impl in row else res
    return results, infos


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


def render_startup(infos: dict[str, Any]) -> str:
    """Median CPU seconds a worker took to start (interpreter, imports) before its first case."""
    lines = []
    for impl, info in infos.items():
        cpus = [c for c in info.get("startup_cpu", []) if c is not None]
        if cpus:
            lines.append(f"{impl}: start-up CPU (interpreter and imports) median "
                         f"{statistics.median(cpus) * 1000:.0f} ms over {len(cpus)} processes")
    return "\n".join(lines) + ("\n" if lines else "")


# --------------------------------------------------------------------------------------
# Suite drivers (parent side): weth9 and statetests
# --------------------------------------------------------------------------------------

SUITES = ("ipsilon", "weth9", "statetests")


def run_suite_worker(impl: str, suite: str, plan_path: Path, repeat: int, limit: float,
                     progress: Progress) -> dict[str, Any]:
    """One implementation's whole suite run in its own process, killed after `limit` s."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl, "--suite", suite,
           "--plan", str(plan_path), "--repeat", str(repeat)]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=worker_env())
        try:
            out, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return {"status": "timeout", "error": f"the run took over {limit:g}s"}
        log.seek(0)
        tail = log.read().decode(errors="replace")
    for line in tail.splitlines():
        if line.startswith(f"{impl} {suite} repetition"):
            progress(line)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if not lines:
        return {"status": "crash",
                "error": f"worker died (exit status {proc.returncode}): {tail[-300:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    progress(f"{impl:8} {suite}: {result['status']} "
             f"({time.perf_counter() - started:.1f}s wall)")
    return result


def median_of(result: dict[str, Any], key: str = "times") -> float | None:
    times = result.get(key) or []
    return statistics.median(times) if times else None


def ratio(mine: dict[str, Any], theirs: dict[str, Any], key: str) -> float | None:
    """Peer's median / chainvm's median (chainvm's speed-up), when both have one."""
    a, b = median_of(mine, key), median_of(theirs, key)
    return b / a if a and b else None


def run_weth9(impls: list[str], transfers: int, repeat: int, limit: float,
              progress: Progress) -> dict[str, Any]:
    plan = weth9_plan(transfers)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(plan, fh)
        plan_path = Path(fh.name)
    try:
        results = {impl: run_suite_worker(impl, "weth9", plan_path, repeat, limit, progress)
                   for impl in impls}
    finally:
        plan_path.unlink()
    expected = plan["expected"]
    # Roots and gas of the implementations that compute a state root must all agree.
    rooted = [r for r in results.values() if r["status"] == "ok" and r.get("root")]
    for impl, res in results.items():
        if res["status"] != "ok":
            continue
        problems = []
        if res["balances"] != expected:
            wrong = [h for h in expected if res["balances"].get(h) != expected[h]]
            problems.append(f"token balances differ from the expected sums for {len(wrong)} "
                            f"holders")
        if not res["all_success"]:
            problems.append("a transfer failed")
        if res.get("root"):
            others = {r["root"] for r in rooted}
            if len(others) > 1:
                problems.append(f"state roots disagree: {sorted(others)}")
            gases = {r["gas"] for r in rooted}
            if len(gases) > 1:
                problems.append(f"gas totals disagree: {sorted(gases)}")
        if problems:
            res["status"] = "mismatch"
            res["error"] = "; ".join(problems)
    base = results.get("chainvm", {})
    summary = {}
    for impl, res in results.items():
        med = median_of(res)
        ok = res["status"] == "ok" and med
        summary[impl] = {
            "status": res["status"], "error": res.get("error"), "version": res.get("version"),
            "times": res.get("times"), "median": med,
            "calls_per_s": transfers / med if ok and med else None,
            "gas": res.get("gas"), "mgas_per_s": res["gas"] / med / 1e6 if ok and med else None,
            "state_root": res.get("root"), "max_rss_mib": res.get("max_rss_mib"),
            "cpu_times": res.get("cpu_times"), "cpu_median": median_of(res, "cpu_times"),
            "calls_per_cpu_s": (transfers / median_of(res, "cpu_times")
                                if ok and median_of(res, "cpu_times") else None),
            "speedup": (ratio(base, res, "times") if ok and impl != "chainvm"
                        and base.get("status") == "ok" else None),
            "cpu_speedup": (ratio(base, res, "cpu_times") if ok and impl != "chainvm"
                            and base.get("status") == "ok" else None),
        }
    return {"transfers": transfers, "repeat": repeat, "fork": plan["fork"],
            "contract": plan["contract"], "compiler": plan["compiler"],
            "senders": WETH9_SENDERS, "recipients": WETH9_RECIPIENTS,
            "token_holders": len(expected), "results": summary}


def statetest_files(root: Path, fork: str, count: int) -> list[str]:
    """The first `count` files (sorted paths) under root with a post entry for fork."""
    chosen: list[str] = []
    for path in sorted(root.rglob("*.json")):
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
        if any(isinstance(t, dict) and t.get("post", {}).get(fork) for t in data.values()):
            chosen.append(str(path.relative_to(root)))
            if len(chosen) == count:
                break
    return chosen


def run_statetests(impls: list[str], archive: str, fork: str, count: int, repeat: int,
                   limit: float, progress: Progress) -> dict[str, Any]:
    from chainvm.testing.fixtures import ethereum_tests

    root = ethereum_tests(archive)
    if root is None:
        raise SystemExit(f"benchmarks/run.py: fixture archive {archive} not found")
    files = statetest_files(root, fork, count)
    plan = {"root": str(root), "fork": fork, "files": files}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(plan, fh)
        plan_path = Path(fh.name)
    try:
        results = {impl: run_suite_worker(impl, "statetests", plan_path, repeat, limit,
                                          progress) for impl in impls}
    finally:
        plan_path.unlink()
    # pyrevm has no state root: a case passes when its gas used (or its rejection)
    # equals that of a root-checked pass by py-evm or the specs.
    if "pyrevm" in results and results["pyrevm"]["status"] == "ok":
        refs = [results[i]["cases"] for i in ("pyevm", "eels")
                if i in results and results[i]["status"] in ("ok", "mismatch")
                and "cases" in results[i]]
        for cid, case in results["pyrevm"]["cases"].items():
            if case["error"]:
                continue
            ref = next((r[cid] for r in refs if cid in r and r[cid]["pass"]), None)
            if ref is None:
                case["error"] = "unverified: no root-checked pass to compare with"
            elif ref["rejected"] != case["rejected"]:
                case["error"] = ("accepted a transaction the fixture rejects"
                                 if ref["rejected"] else "rejected a valid transaction")
            elif not ref["rejected"] and ref["gas"] != case["gas"]:
                case["error"] = f"gas {case['gas']}, root-checked result has {ref['gas']}"
            else:
                case["pass"] = True
    base = results.get("chainvm", {})
    summary: dict[str, Any] = {}
    for impl, res in results.items():
        med = median_of(res)
        cases = res.get("cases") or {}
        failed = {cid: c["error"] for cid, c in cases.items() if not c["pass"]}
        summary[impl] = {
            "status": res["status"], "error": res.get("error"), "version": res.get("version"),
            "times": res.get("times"), "median": med, "cases": len(cases),
            "passed": len(cases) - len(failed),
            "cases_per_s": len(cases) / med if med and cases else None,
            "max_rss_mib": res.get("max_rss_mib"),
            "cpu_times": res.get("cpu_times"), "cpu_median": median_of(res, "cpu_times"),
            "cases_per_cpu_s": (len(cases) / median_of(res, "cpu_times")
                                if cases and median_of(res, "cpu_times") else None),
            "speedup": ratio(base, res, "times") if impl != "chainvm" else None,
            "cpu_speedup": ratio(base, res, "cpu_times") if impl != "chainvm" else None,
            "failed": failed,
        }
    return {"archive": archive, "fork": fork, "files": len(files), "first_file": files[0],
            "last_file": files[-1], "repeat": repeat, "results": summary}


def merge_saved(docs: list[dict[str, Any]], suite: str) -> dict[str, Any] | None:
    """One suite's results from several saved runs (later runs win per implementation),
    with the ratios to chainvm recomputed; each row notes the commit its run measured."""
    found = [d for d in docs if suite in d]
    if not found:
        return None
    merged: dict[str, Any] = dict(found[-1][suite])
    results: dict[str, Any] = {}
    for run, d in enumerate(found):
        revision = d.get("chainvm_revision") or {}
        for impl, r in d[suite]["results"].items():
            results[impl] = dict(r, chainvm_commit=revision.get("commit"),
                                 repeat=d[suite]["repeat"], run=run)
    base = results.get("chainvm")
    for impl, r in results.items():
        if impl == "chainvm" or base is None:
            continue
        # Wall times of different runs met different loads: only CPU times compare.
        r["speedup"] = ratio(base, r, "times") if r["run"] == base["run"] else None
        r["cpu_speedup"] = ratio(base, r, "cpu_times")
    merged["results"] = {impl: results[impl] for impl in IMPLS if impl in results}
    merged["repeat"] = "/".join(str(results[i]["repeat"]) for i in merged["results"])
    return merged


def render_weth9(doc: dict[str, Any]) -> str:
    head = ["impl", "version", "time", "cpu time", "calls/s", "gas", "Mgas/s", "x (time)",
            "x (cpu)", "check"]
    rows = []
    for impl, r in doc["results"].items():
        # Rates from the CPU time: on a loaded machine the wall time mostly measures
        # the wait for a core (the JSON has the wall-time rates too).
        cpu = r.get("cpu_median") if r["status"] == "ok" else None
        rows.append([impl, version_cell(impl, r), fmt_time(r["median"]), fmt_time(cpu),
                     f"{doc['transfers'] / cpu:,.0f}" if cpu else "-",
                     f"{r['gas']:,}" if r.get("gas") else "-",
                     f"{r['gas'] / cpu / 1e6:.2f}" if cpu and r.get("gas") else "-",
                     f"{r['speedup']:.2f}" if r["speedup"] else "-",
                     f"{r['cpu_speedup']:.2f}" if r.get("cpu_speedup") else "-",
                     r["status"] if r["status"] != "ok" else
                     ("root, balances" if r["state_root"] else "balances")])
    title = (f"WETH9 transfers: {doc['transfers']:,} transfer transactions on one evolving "
             f"state ({doc['contract']}, {doc['compiler']}), median of {doc['repeat']}")
    notes = [f"note: {impl}: {r['error']}" for impl, r in doc["results"].items() if r["error"]]
    return table(title, head, rows, notes)


def render_statetests(doc: dict[str, Any]) -> str:
    head = ["impl", "version", "cases", "passed", "time", "cpu time", "cases/s", "x (time)",
            "x (cpu)"]
    rows = []
    for impl, r in doc["results"].items():
        cpu = r.get("cpu_median")
        rows.append([impl, version_cell(impl, r), str(r["cases"]), str(r["passed"]),
                     fmt_time(r["median"]), fmt_time(cpu),
                     f"{r['cases'] / cpu:.1f}" if cpu and r["cases"] else "-",
                     f"{r['speedup']:.2f}" if r["speedup"] else "-",
                     f"{r['cpu_speedup']:.2f}" if r.get("cpu_speedup") else "-"])
    title = (f"State tests: {doc['fork']} cases of the first {doc['files']} files of "
             f"{doc['archive']} ({doc['first_file']} .. {doc['last_file']}), "
             f"median of {doc['repeat']}")
    notes = []
    for impl, r in doc["results"].items():
        if r["error"]:
            notes.append(f"note: {impl}: {r['status']}: {r['error']}")
        reasons: dict[str, int] = {}
        for why in r["failed"].values():
            key = re.sub(r"0x[0-9a-fA-F]+|\d+", "N", (why or "?"))[:70]
            reasons[key] = reasons.get(key, 0) + 1
        if reasons:
            notes.append(f"{impl} failures: " + ", ".join(f"{k} ({n})" for k, n in
                                                          sorted(reasons.items())))
    return table(title, head, rows, notes)


def version_cell(impl: str, r: dict[str, Any]) -> str:
    version = str(r.get("version") or "-")
    if impl == "chainvm" and r.get("chainvm_commit"):
        version += f" at {r['chainvm_commit']}"
    return version


def table(title: str, head: list[str], rows: list[list[str]], notes: list[str]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))

    out = [title, fmt(head), "  ".join("-" * w for w in widths), *map(fmt, rows)]
    out.append("calls/s, cases/s, Mgas/s: per second of CPU time (median); x = impl median / "
               "chainvm median, of wall time and of CPU time (above 1: chainvm is faster)")
    return "\n".join(out + notes) + "\n"


def chainvm_revision() -> dict[str, Any]:
    """The commit chainvm was measured at, and whether its sources had local changes.

    When the workers import chainvm from elsewhere than this checkout (PYTHONPATH set to
    an exported tree, to measure a fixed commit while the work tree changes), that
    folder is reported, with the commit named in its COMMIT file if it has one.
    """
    import importlib.util

    repo = str(Path(__file__).resolve().parents[1])
    spec = importlib.util.find_spec("chainvm")
    source = Path(spec.origin).resolve().parents[1] if spec and spec.origin else None
    if source is not None and source != Path(repo):
        marker = source / "COMMIT"
        return {"commit": marker.read_text().strip() if marker.exists() else None,
                "modified": [], "source": str(source)}

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


def chainvm_settings() -> dict[str, str]:
    """The CHAINVM_* environment variables the workers inherit (CHAINVM_COMPILE=off, say,
    measures the interpreter alone), so that a saved result says how it was run."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("CHAINVM_")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark chainvm against py-evm, EELS and pyrevm on evm-benchmarks.")
    parser.add_argument("--repeat", type=int, default=3, metavar="R",
                        help="timed runs per benchmark and implementation (median shown)")
    parser.add_argument("--warmup", type=int, default=0, metavar="W",
                        help="ipsilon: untimed runs of each benchmark before its timed runs "
                             "(steady state of a tiered implementation; default 0, ignored "
                             "with --cold)")
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
    parser.add_argument("--suite", default="ipsilon",
                        help="comma-separated benchmark groups: ipsilon (the evm-benchmarks "
                             "fixtures, default), weth9 (token transfers), statetests "
                             "(state-test throughput)")
    parser.add_argument("--weth9-transfers", type=int, default=1000, metavar="N",
                        help="weth9: transfer transactions per timed run (default 1000)")
    parser.add_argument("--statetest-archive", default="state-2024", metavar="NAME",
                        help="statetests: fixture archive (default state-2024)")
    parser.add_argument("--statetest-fork", default="Cancun", metavar="FORK",
                        help="statetests: the fork whose post entries are the cases")
    parser.add_argument("--statetest-files", type=int, default=100, metavar="N",
                        help="statetests: the first N files (sorted paths) with such cases")
    parser.add_argument("--suite-timeout", type=float, default=3600.0, metavar="S",
                        help="weth9/statetests: seconds one implementation's whole run "
                             "(all repetitions) may take (default 3600)")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="print the weth9/statetests tables of saved --json files; with "
                             "several, an implementation's row comes from the last file "
                             "that has it and the ratios are recomputed")
    parser.add_argument("--cold", action="store_true",
                        help="ipsilon: a fresh worker process per benchmark and one timed run "
                             "(the first execution of the code in that process; --repeat is "
                             "ignored); start-up CPU seconds are listed under the table")
    parser.add_argument("--cold-rounds", type=int, default=1, metavar="N",
                        help="with --cold: N fresh processes per benchmark and implementation, "
                             "each timing its first run, the median reported (default 1)")
    parser.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    suites = [x.strip() for x in args.suite.split(",") if x.strip()]
    if args.worker:
        if suites != ["ipsilon"]:
            return suite_worker_main(args.worker, suites[0], args.plan, args.repeat)
        return worker_main(args.worker)
    if args.render:
        for name, render in (("weth9", render_weth9), ("statetests", render_statetests)):
            merged = merge_saved([json.loads(path.read_text()) for path in args.render], name)
            if merged is not None:
                sys.stdout.write(render(merged) + "\n")
        return 0
    if not suites or any(x not in SUITES for x in suites):
        parser.error(f"--suite: choose from {', '.join(SUITES)}")
    if args.weth9_transfers < 1 or args.statetest_files < 1 or args.suite_timeout <= 0:
        parser.error("--weth9-transfers and --statetest-files must be at least 1, "
                     "--suite-timeout positive")
    impls = [i.strip() for i in args.impl.split(",") if i.strip()]
    unknown = [i for i in impls if i not in IMPLS]
    if unknown or not impls:
        parser.error(f"--impl: unknown {unknown} (known: {', '.join(IMPLS)})")
    impls = [i for i in IMPLS if i in impls]  # chainvm first, fixed order
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.cold_rounds < 1:
        parser.error("--cold-rounds must be at least 1")
    if args.cold_rounds != 1 and not args.cold:
        parser.error("--cold-rounds applies to --cold runs only")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    try:
        only = re.compile(args.only) if args.only else None
    except re.error as exc:
        parser.error(f"--only: bad regular expression: {exc}")
    cases: list[Case] = []
    if "ipsilon" in suites:
        if not all((args.fixtures / g).is_dir() for g in GROUPS):
            parser.error(f"no main/ and micro/ under {args.fixtures}")
        cases = load_cases(args.fixtures, only)
        if not cases:
            parser.error("no benchmark matches --only")
    progress = Progress(args.verbose or sys.stderr.isatty())
    started = datetime.datetime.now(datetime.UTC)
    doc: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "benchmarks/run.py", *argv]),
        "python": platform.python_version(),
        "chainvm_revision": chainvm_revision(),
        "chainvm_settings": chainvm_settings(),
        "repeat": args.repeat,
        "warmup": 0 if args.cold else args.warmup,
        "timeout": args.timeout,
    }
    tables: list[str] = []
    chainvm_ok = True
    if "ipsilon" in suites:
        results: dict[str, dict[str, Result]] = {c.name: {} for c in cases}
        infos: dict[str, Any] = {}
        if args.cold:
            results, infos = run_cold(impls, cases, args.cold_rounds, args.timeout, progress)
        else:
            for impl in impls:  # one implementation at a time, never in parallel
                per_case, infos[impl] = run_impl(impl, cases, args.repeat, args.timeout,
                                                 progress, warmup=args.warmup)
                for name, res in per_case.items():
                    results[name][impl] = res
        verify_without_root(results, cases)
        summary = summarize(cases, results, impls)
        table_text = render_table(cases, results, impls, summary, args.timeout)
        if args.warmup and not args.cold:
            table_text += (f"warm-up: {args.warmup} untimed runs of each benchmark before its "
                           "timed runs\n")
        if args.cold:
            table_text += (f"cold: {args.cold_rounds} fresh process(es) per benchmark and "
                           "implementation, one timed run (its first) in each, the median "
                           "shown; the implementations take turns case by case\n")
            table_text += render_startup(infos)
        tables.append(table_text)
        doc["cold"] = args.cold
        if args.cold:
            doc["cold_rounds"] = args.cold_rounds
        doc["implementations"] = infos
        doc["benchmarks"] = [{
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
        } for c in cases]
        doc["summary"] = summary
        chainvm_ok = "chainvm" not in impls or all(
            results[c.name]["chainvm"].status == "ok" for c in cases)
    if "weth9" in suites:
        weth9 = run_weth9(impls, args.weth9_transfers, args.repeat, args.suite_timeout,
                          progress)
        doc["weth9"] = weth9
        tables.append(render_weth9(weth9))
        mine = weth9["results"].get("chainvm")
        chainvm_ok = chainvm_ok and (mine is None or mine["status"] == "ok")
    if "statetests" in suites:
        st = run_statetests(impls, args.statetest_archive, args.statetest_fork,
                            args.statetest_files, args.repeat, args.suite_timeout, progress)
        doc["statetests"] = st
        tables.append(render_statetests(st))
        mine = st["results"].get("chainvm")
        chainvm_ok = chainvm_ok and (mine is None or mine["status"] == "ok")
    table = "\n".join(tables)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stderr.write(table)
    else:
        sys.stdout.write(table)
    return 0 if chainvm_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
