"""Blockchain-test fixtures through the execution specs' own fork code, beside chainvm's runner.

The specs' package (ethereum-execution) ships a state-test runner but none for
blockchain-test files, so this module drives its fork code directly: the fork named by
the fixture's `network` (`ethereum.forks.<fork>`), a `BlockChain` holding the genesis
block (decoded from `genesisRLP` with `ethereum_rlp`, its hash checked against
`genesisBlockHeader`) and the pre-state, then `state_transition` for every block decoded
from its RLP into the fork's `Block`. A case passes as chainvm's runner
(`chainvm.chain.blocktest`) decides it: every block without an expected exception is
imported, every block with one is rejected (an `EthereumException` or an RLP error; the
state is put back as it was before the block), the head is `lastblockhash`, and the
head state root is that of `postState` (or `postStateHash`).

`plan_cases` (parent side) decides which cases both sides run: the specs' `BlockChain`
is a single chain whose state is the head's, so a case whose blocks branch off below
the head (side chains, reorganisations) is skipped, as is one whose network the specs
lack (transition networks such as `BerlinToLondonAt5`, and `Constantinople` with
EIP-1283: the specs' Constantinople is Petersburg) or whose shape the driver does not
read (no `genesisRLP`, a block without `rlp`, a seal engine other than NoProof). Each
skipped case is listed with its reason.

A worker (`--worker chainvm|eels --plan FILE`) runs the planned cases in its own
process and prints one JSON line: the CPU seconds (`time.process_time`) of loading the
files and running the cases, the fork modules and chainvm imported before the clock
starts, and each case's verdict.
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

# Which blocks a fixture expects rejected: read as chainvm's runner reads it, so that both
# sides judge a case by the same expectations.
from chainvm.chain.blocktest import expected_exception

# Fixture network name -> the specs' fork package (`ethereum.forks.<name>`).
NETWORK_FORKS = {
    "Frontier": "frontier", "Homestead": "homestead", "EIP150": "tangerine_whistle",
    "EIP158": "spurious_dragon", "Byzantium": "byzantium", "ConstantinopleFix": "constantinople",
    "Petersburg": "constantinople", "Istanbul": "istanbul", "MuirGlacier": "muir_glacier",
    "Berlin": "berlin", "London": "london", "ArrowGlacier": "arrow_glacier",
    "GrayGlacier": "gray_glacier", "Merge": "paris", "Paris": "paris", "Shanghai": "shanghai",
    "Cancun": "cancun", "Prague": "prague", "Osaka": "osaka",
}


def case_id(rel: str, name: str) -> str:
    return f"{rel}::{name}"


def hexbytes(text: str) -> bytes:
    text = text[2:] if text[:2] in ("0x", "0X") else text
    return bytes.fromhex(text if len(text) % 2 == 0 else "0" + text)


# --------------------------------------------------------------------------------------
# Parent side: which cases both implementations run
# --------------------------------------------------------------------------------------

def skip_reason(test: Any) -> str | None:
    """Why the specs' driver cannot run `test`, or None if it can."""
    if not isinstance(test, dict) or not isinstance(test.get("blocks"), list) \
            or "pre" not in test or "genesisBlockHeader" not in test:
        return "not a blockchain test (needs genesisBlockHeader, pre, blocks)"
    network = str(test.get("network", "?"))
    if network not in NETWORK_FORKS:
        if "To" in network and "At" in network:
            return f"transition network {network} (the driver runs one fork of the specs)"
        return f"network {network} has no fork in the specs"
    if test.get("sealEngine", "NoProof") != "NoProof":
        return f"seal engine {test['sealEngine']} (the driver runs NoProof fixtures only)"
    if "genesisRLP" not in test:
        return "no genesisRLP"
    if any(not isinstance(b, dict) or "rlp" not in b for b in test["blocks"]):
        return "a block without rlp"
    return _branch_reason(test, network)


def _branch_reason(test: dict[str, Any], network: str) -> str | None:
    """A reason when a block's parent is a known block other than the head before it.

    The specs' `BlockChain` keeps one chain and the head's state, so it cannot import
    a block onto an older block; a block whose parent is unknown (a corrupted parent
    hash) is kept: both sides must reject it."""
    from ethereum.crypto.hash import keccak256
    from ethereum_rlp import rlp
    from ethereum_rlp.exceptions import RLPException

    head = hexbytes(test["genesisBlockHeader"]["hash"])
    known = {head}
    for i, entry in enumerate(test["blocks"]):
        try:
            decoded = rlp.decode(hexbytes(entry["rlp"]))
            header = decoded[0]
            parent = bytes(header[0])
            block_hash = bytes(keccak256(rlp.encode(header)))
        except (RLPException, IndexError, TypeError, ValueError):
            continue  # undecodable: an invalid block both sides must reject
        if parent != head and parent in known:
            return f"block {i + 1} branches off below the head (side chain or reorganisation)"
        if expected_exception(entry, network) is None:
            head = block_hash
            known.add(block_hash)
    return None


def plan_cases(root: Path, files: list[str]) -> tuple[list[list[Any]], dict[str, str]]:
    """[[rel, [case names]]] both sides run, and {case id: why skipped} for the rest."""
    run: list[list[Any]] = []
    skipped: dict[str, str] = {}
    for rel in files:
        with open(root / rel, "rb") as fh:
            data = json.loads(fh.read())
        names = []
        for name, test in data.items():
            why = skip_reason(test)
            if why is None:
                names.append(name)
            else:
                skipped[case_id(rel, name)] = why
        if names:
            run.append([rel, names])
    return run, skipped


# --------------------------------------------------------------------------------------
# Worker side: the specs' fork code
# --------------------------------------------------------------------------------------

class EelsFork:
    """One fork package of the specs: its modules, loaded before the clock starts."""

    def __init__(self, name: str) -> None:
        def module(part: str) -> Any:
            return importlib.import_module(f"ethereum.forks.{name}.{part}")

        self.name = name
        self.fork = module("fork")
        self.blocks = module("blocks")
        self.state = module("state")
        self.trie = module("trie")
        self.types = module("fork_types")
        # Pre-merge forks check the ethash seal in validate_header (and for ommers);
        # NoProof fixtures carry no real seal, so that one check is replaced here.
        self.check_seal = getattr(self.fork, "validate_proof_of_work", None)
        if self.check_seal is not None:
            self.fork.validate_proof_of_work = _no_seal_check

    def load_state(self, alloc: dict[str, Any]) -> Any:
        from ethereum_types.bytes import Bytes, Bytes20, Bytes32
        from ethereum_types.numeric import U256, Uint

        state = self.state.State()
        for address_hex, account in alloc.items():
            address = Bytes20(hexbytes(address_hex))
            self.state.set_account(state, address, self.types.Account(
                nonce=Uint(int(account.get("nonce", "0x0"), 16)),
                balance=U256(int(account.get("balance", "0x0"), 16)),
                code=Bytes(hexbytes(account.get("code", "0x")))))
            for key, value in account.get("storage", {}).items():
                self.state.set_storage(state, address, Bytes32(int(key, 16).to_bytes(32, "big")),
                                       U256(int(value, 16)))
        return state

    def copy_state(self, state: Any) -> Any:
        """A copy to put back after a rejected block (state_transition changes the state in
        place and leaves it half-changed when it raises)."""
        out = copy.copy(state)
        out._main_trie = self.trie.copy_trie(state._main_trie)
        out._storage_tries = {a: self.trie.copy_trie(t) for a, t in state._storage_tries.items()}
        out._snapshots = []
        if hasattr(state, "created_accounts"):
            out.created_accounts = set(state.created_accounts)
        return out


def _no_seal_check(header: Any) -> None:
    return None


def eels_run_test(forks: dict[str, EelsFork], test: dict[str, Any]) -> str | None:
    """Run one blockchain test through the specs' fork code: None if it passes, else why."""
    from ethereum.crypto.hash import keccak256
    from ethereum.exceptions import EthereumException
    from ethereum_rlp import rlp
    from ethereum_rlp.exceptions import RLPException
    from ethereum_types.numeric import U64

    network = str(test["network"])
    spec = forks[NETWORK_FORKS[network]]
    state = spec.load_state(test["pre"])
    genesis = rlp.decode_to(spec.blocks.Block, hexbytes(test["genesisRLP"]))
    genesis_hash = bytes(keccak256(rlp.encode(genesis.header)))
    want = hexbytes(test["genesisBlockHeader"]["hash"])
    if genesis_hash != want:
        return f"genesis hash 0x{genesis_hash.hex()}, want 0x{want.hex()}"
    if spec.state.state_root(state) != genesis.header.state_root:
        return "genesis state root does not match the pre state"
    chain_id = int(str(test.get("config", {}).get("chainid", "0x1")), 16)
    chain = spec.fork.BlockChain(blocks=[genesis], state=state, chain_id=U64(chain_id))
    for i, entry in enumerate(test["blocks"]):
        expected = expected_exception(entry, network)
        before = spec.copy_state(chain.state) if expected is not None else None
        try:
            block = rlp.decode_to(spec.blocks.Block, hexbytes(entry["rlp"]))
            spec.fork.state_transition(chain, block)
        except (EthereumException, RLPException) as exc:
            if expected is None:
                return f"block {i + 1}: rejected: {type(exc).__name__}: {exc}"[:300]
            chain.state = before
            continue
        if expected is not None:
            return f"block {i + 1}: imported, but expected {expected}"
    head = bytes(keccak256(rlp.encode(chain.blocks[-1].header)))
    last = hexbytes(test["lastblockhash"])
    if head != last:
        return f"head 0x{head.hex()}, want lastblockhash 0x{last.hex()}"
    root = bytes(spec.state.state_root(chain.state))
    if "postStateHash" in test:
        want = hexbytes(test["postStateHash"])
    elif "postState" in test:
        want = bytes(spec.state.state_root(spec.load_state(test["postState"])))
    else:
        return None
    if root != want:
        return f"post state root 0x{root.hex()}, want 0x{want.hex()}"
    return None


# --------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------

def run_worker(impl: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Run the planned cases with `impl`; CPU seconds of loading the files and running the
    cases (imports done before)."""
    root = Path(plan["root"])
    if impl == "eels":
        forks: dict[str, EelsFork] = {name: EelsFork(name)
                                      for name in sorted(set(plan["forks"]))}

        def run_one(name: str, test: dict[str, Any]) -> str | None:
            return eels_run_test(forks, test)
    elif impl == "chainvm":
        from chainvm.chain.blocktest import run_test

        def run_one(name: str, test: dict[str, Any]) -> str | None:
            return run_test(name, test).error
    else:
        raise SystemExit(f"blocktest_eels: unknown implementation {impl!r}")
    cases: dict[str, dict[str, Any]] = {}
    gc.collect()
    cpu = time.process_time()
    for rel, names in plan["cases"]:
        with open(root / rel, "rb") as fh:
            data = json.loads(fh.read())
        for name in names:
            try:
                why = run_one(name, data[name])
            except Exception as exc:  # noqa: BLE001  (a crash fails its case, the run goes on)
                why = f"crash: {type(exc).__name__}: {exc}"[:300]
            cases[case_id(rel, name)] = {"pass": why is None, "error": why}
    cpu = time.process_time() - cpu
    return {"cpu": cpu, "cases": cases}


def make_plan(root: Path, files: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The worker plan for `files` under `root`, and the skipped cases with their reasons."""
    cases, skipped = plan_cases(root, files)
    forks = set()
    for rel, names in cases:
        with open(root / rel, "rb") as fh:
            data = json.loads(fh.read())
        forks |= {NETWORK_FORKS[str(data[n]["network"])] for n in names}
    return {"root": str(root), "cases": cases, "forks": sorted(forks)}, skipped


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/blocktest_eels.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", choices=("chainvm", "eels"), required=True)
    parser.add_argument("--plan", required=True, help="JSON plan written by make_plan")
    args = parser.parse_args(argv)
    with open(args.plan) as fh:
        plan = json.load(fh)
    print(json.dumps(run_worker(args.worker, plan)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
