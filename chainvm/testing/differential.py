"""Differential testing of chainvm against the Ethereum execution specs (EELS).

A case (see `chainvm.testing.program_gen`) is executed twice: by chainvm's
`apply_transaction`, and by the execution specs' own `process_transaction`
for the same fork, driven in-process. Both results are reduced to an
`Outcome` (validity, post-state root, logs, gas used, success and return data)
and compared. A divergence can be minimised (`shrink`) and saved as a JSON
reproducer that `replay` runs again.

Conventions shared by both sides, so that only real differences show:

* after the transaction (valid or not) the coinbase is credited with zero, as
  geth's state-test runner does: before EIP-158 this creates an empty
  coinbase, from EIP-158 on an empty coinbase is deleted;
* BLOCKHASH(n) is keccak256(str(n)) for the 256 blocks before the current one;
* a contract-creating transaction has return data only when it reverts (the
  specs keep the deployed code, or the code that failed to deposit, as output).

An exception other than an invalid transaction raised inside the specs is an
*oracle failure*; any exception other than InvalidTransaction raised by
chainvm is a divergence (chainvm must never raise).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from chainvm.crypto import keccak256, private_key_to_address, sign_hash
from chainvm.encoding.json_input import (
    InputError,
    expect_list,
    expect_object,
    parse_quantity,
    short,
)
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.forks import get_fork
from chainvm.evm.transaction import Authorization, Transaction, apply_transaction
from chainvm.state.state import Account, State

# chainvm fork name -> execution-specs module. chainvm's "Constantinople" (with EIP-1283)
# never ran on mainnet and has no module in the specs; "ConstantinopleFix" is Petersburg.
ORACLE_MODULES = {
    "Frontier": "frontier", "Homestead": "homestead", "EIP150": "tangerine_whistle",
    "EIP158": "spurious_dragon", "Byzantium": "byzantium", "ConstantinopleFix": "constantinople",
    "Istanbul": "istanbul", "Berlin": "berlin", "London": "london", "Paris": "paris",
    "Shanghai": "shanghai", "Cancun": "cancun", "Prague": "prague", "Osaka": "osaka",
    "BPO1": "bpo1", "BPO2": "bpo2",
}
SUPPORTED_FORKS = list(ORACLE_MODULES)
CHAIN_ID = 1
COMPARED = ("valid", "state_root", "success", "gas_used", "logs", "output")


@dataclass
class Outcome:
    """What one implementation made of a case."""

    valid: bool
    state_root: str = ""
    success: bool = False
    gas_used: int = 0
    logs: list[list[Any]] = field(default_factory=list)
    output: str = ""
    error: str | None = None  # the invalid-transaction reason or the execution error
    crashed: bool = False  # an exception that is neither a result nor a rejection

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Verdict:
    status: str  # "ok", "divergence", "oracle_failure"
    fields: list[str]
    chainvm: Outcome
    oracle: Outcome
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "fields": self.fields, "chainvm": self.chainvm.to_json(),
                "oracle": self.oracle.to_json()}


def block_hash(number: int) -> bytes:
    return keccak256(str(number).encode())


def _h(value: str | None) -> bytes:
    return bytes.fromhex(value) if value else b""


def _code(acct: dict[str, Any]) -> bytes:
    if "segments" in acct:
        return b"".join(bytes.fromhex(s) for s in acct["segments"])
    return _h(acct.get("code"))


def _data(tx: dict[str, Any]) -> bytes:
    if "data_segments" in tx:
        return b"".join(bytes.fromhex(s) for s in tx["data_segments"])
    return _h(tx.get("data"))


# ---------------------------------------------------------------------------
# chainvm

def run_chainvm(case: dict[str, Any]) -> Outcome:
    fork = get_fork(case["fork"])
    accounts = {}
    for addr, acct in case["pre"].items():
        storage = {int(k): v for k, v in acct.get("storage", {}).items() if v}
        accounts[bytes.fromhex(addr)] = Account(acct["nonce"], acct["balance"], _code(acct),
                                                storage)
    state = State(accounts)
    e = case["env"]
    env = BlockEnv(coinbase=bytes.fromhex(e["coinbase"]), number=e["number"],
                   timestamp=e["timestamp"], gas_limit=e["gas_limit"],
                   difficulty=e["difficulty"], prev_randao=bytes.fromhex(e["prev_randao"]),
                   base_fee=e["base_fee"], chain_id=CHAIN_ID,
                   excess_blob_gas=e["excess_blob_gas"],
                   parent_beacon_block_root=bytes(32), block_hash=block_hash)
    t = case["tx"]
    tx = Transaction(
        sender=private_key_to_address(bytes.fromhex(t["key"])),
        to=bytes.fromhex(t["to"]) if t["to"] is not None else None,
        nonce=t["nonce"], gas_limit=t["gas_limit"], value=t["value"], data=_data(t),
        tx_type=t["type"], gas_price=t["gas_price"], max_fee_per_gas=t["max_fee_per_gas"],
        max_priority_fee_per_gas=t["max_priority_fee_per_gas"],
        access_list=[(bytes.fromhex(a), list(keys)) for a, keys in t["access_list"]],
        blob_versioned_hashes=[bytes.fromhex(h) for h in t["blob_versioned_hashes"]],
        max_fee_per_blob_gas=t["max_fee_per_blob_gas"],
        authorization_list=[Authorization(a["chain_id"], bytes.fromhex(a["address"]), a["nonce"],
                                          a["y_parity"], a["r"], a["s"])
                            for a in t["authorization_list"]],
    )
    try:
        result = apply_transaction(state, fork, env, tx)
    except InvalidTransaction as exc:
        out = Outcome(valid=False, error=str(exc))
    except Exception as exc:  # noqa: BLE001  (chainvm must never raise: report it)
        return Outcome(valid=False, crashed=True,
                       error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-4)}")
    else:
        output = result.output
        if tx.to is None and result.error != "execution reverted":
            output = b""  # a creation returns data only when it reverts
        out = Outcome(valid=True, success=result.success, gas_used=result.gas_used,
                      logs=[[lg.address.hex(), [f"{x:064x}" for x in lg.topics], lg.data.hex()]
                            for lg in result.logs],
                      output=output.hex(), error=result.error)
    state.begin_transaction()
    state.add_balance(env.coinbase, 0)
    state.finalize_transaction(delete_empty=fork.rules.eip161)
    out.state_root = state.state_root().hex()
    return out


# ---------------------------------------------------------------------------
# The execution specs

@dataclass
class _OracleFork:
    name: str
    fork: ModuleType
    state: ModuleType
    vm: ModuleType
    txs: ModuleType
    types: ModuleType
    interpreter: ModuleType
    capture: dict[str, Any]


_ORACLES: dict[str, _OracleFork] = {}


def _oracle(fork_name: str) -> _OracleFork:
    cached = _ORACLES.get(fork_name)
    if cached is not None:
        return cached
    base = "ethereum.forks." + ORACLE_MODULES[fork_name]
    mod = _OracleFork(
        fork_name, importlib.import_module(base + ".fork"), importlib.import_module(base + ".state"),
        importlib.import_module(base + ".vm"), importlib.import_module(base + ".transactions"),
        importlib.import_module(base + ".fork_types"),
        importlib.import_module(base + ".vm.interpreter"), {})
    capture = mod.capture
    # Capture the top-level message call's output and frame (for its return data).
    original_call = mod.fork.process_message_call

    def process_message_call(message: Any) -> Any:
        out = original_call(message)
        capture["call"] = out
        return out

    setattr(mod.fork, "process_message_call", process_message_call)  # noqa: B010

    for fname in ("process_message", "process_create_message"):
        original = getattr(mod.interpreter, fname)

        def wrapped(message: Any, _original: Callable[[Any], Any] = original) -> Any:
            evm = _original(message)
            if int(message.depth) == 0:
                capture["evm"] = evm
            return evm

        setattr(mod.interpreter, fname, wrapped)
    _ORACLES[fork_name] = mod
    return mod


def _oracle_tx(o: _OracleFork, t: dict[str, Any], data: bytes) -> Any:
    from ethereum_types.bytes import Bytes, Bytes0, Bytes32
    from ethereum_types.numeric import U8, U64, U256, Uint

    txs = o.txs
    to = o.types.Address(bytes.fromhex(t["to"])) if t["to"] is not None else Bytes0(b"")
    key = bytes.fromhex(t["key"])
    access = tuple(
        txs.Access(account=o.types.Address(bytes.fromhex(a)),
                   slots=tuple(Bytes32(k.to_bytes(32, "big")) for k in keys))
        for a, keys in t["access_list"]) if hasattr(txs, "Access") else ()
    kind = t["type"]
    if kind == 0:
        cls = getattr(txs, "LegacyTransaction", None) or txs.Transaction
        tx = cls(nonce=U256(t["nonce"]), gas_price=Uint(t["gas_price"]), gas=Uint(t["gas_limit"]),
                 to=to, value=U256(t["value"]), data=Bytes(data), v=U256(0), r=U256(0),
                 s=U256(0))
        hasher = getattr(txs, "signing_hash_pre155", None) or txs.signing_hash
        y, r, s = sign_hash(hasher(tx), key)
        return dataclasses.replace(tx, v=U256(27 + y), r=U256(r), s=U256(s))
    common: dict[str, Any] = {
        "chain_id": U64(CHAIN_ID), "nonce": U256(t["nonce"]), "gas": Uint(t["gas_limit"]),
        "to": to, "value": U256(t["value"]), "data": Bytes(data), "access_list": access,
        "y_parity": U256(0), "r": U256(0), "s": U256(0)}
    if kind == 1:
        tx = txs.AccessListTransaction(gas_price=Uint(t["gas_price"]), **common)
        hasher = txs.signing_hash_2930
    else:
        common["max_priority_fee_per_gas"] = Uint(t["max_priority_fee_per_gas"])
        common["max_fee_per_gas"] = Uint(t["max_fee_per_gas"])
        if kind == 2:
            tx = txs.FeeMarketTransaction(**common)
            hasher = txs.signing_hash_1559
        elif kind == 3:
            tx = txs.BlobTransaction(
                max_fee_per_blob_gas=U256(t["max_fee_per_blob_gas"]),
                blob_versioned_hashes=tuple(Bytes32(bytes.fromhex(h))
                                            for h in t["blob_versioned_hashes"]), **common)
            hasher = txs.signing_hash_4844
        else:
            common["nonce"] = U64(t["nonce"])
            auths = tuple(
                o.types.Authorization(chain_id=U256(a["chain_id"]),
                                      address=o.types.Address(bytes.fromhex(a["address"])),
                                      nonce=U64(a["nonce"]), y_parity=U8(a["y_parity"]),
                                      r=U256(a["r"]), s=U256(a["s"]))
                for a in t["authorization_list"])
            tx = txs.SetCodeTransaction(authorizations=auths, **common)
            hasher = txs.signing_hash_7702
    y, r, s = sign_hash(hasher(tx), key)
    return dataclasses.replace(tx, y_parity=U256(y), r=U256(r), s=U256(s))


def run_oracle(case: dict[str, Any]) -> Outcome:
    """Run the case on the execution specs. Raises OracleFailure on an internal exception."""
    from ethereum.exceptions import EthereumException
    from ethereum_types.bytes import Bytes, Bytes32
    from ethereum_types.numeric import U64, U256, Uint

    o = _oracle(case["fork"])
    S = o.state
    state = S.State()
    for addr, acct in case["pre"].items():
        address = o.types.Address(bytes.fromhex(addr))
        S.set_account(state, address, o.types.Account(
            nonce=Uint(acct["nonce"]), balance=U256(acct["balance"]), code=Bytes(_code(acct))))
        for k, v in acct.get("storage", {}).items():
            if v:
                S.set_storage(state, address, Bytes32(int(k).to_bytes(32, "big")), U256(v))
    e = case["env"]
    number = e["number"]
    coinbase = o.types.Address(bytes.fromhex(e["coinbase"]))
    kw: dict[str, Any] = {
        "chain_id": U64(CHAIN_ID), "state": state, "block_gas_limit": Uint(e["gas_limit"]),
        "block_hashes": [block_hash(n) for n in range(max(0, number - 256), number)],
        "coinbase": coinbase, "number": Uint(number), "time": U256(e["timestamp"]),
    }
    fields = {f.name for f in dataclasses.fields(o.vm.BlockEnvironment)}
    if "base_fee_per_gas" in fields:
        kw["base_fee_per_gas"] = Uint(e["base_fee"])
    if "prev_randao" in fields:
        kw["prev_randao"] = Bytes32(bytes.fromhex(e["prev_randao"]))
    if "difficulty" in fields:
        kw["difficulty"] = Uint(e["difficulty"])
    if "excess_blob_gas" in fields:
        kw["excess_blob_gas"] = U64(e["excess_blob_gas"])
    if "parent_beacon_block_root" in fields:
        kw["parent_beacon_block_root"] = Bytes32(bytes(32))
    block_env = o.vm.BlockEnvironment(**kw)
    block_output = o.vm.BlockOutput()
    t = case["tx"]
    o.capture.clear()
    try:
        tx = _oracle_tx(o, t, _data(t))
        o.fork.process_transaction(block_env, block_output, tx, Uint(0))
    except EthereumException as exc:
        out = Outcome(valid=False, error=f"{type(exc).__name__}: {exc}")
        # A rejected transaction leaves the state as it was: rebuild it to be safe.
        if o.capture:
            raise OracleFailure("transaction rejected after execution started") from exc
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/ethereum/" in f.filename]
        where = f" at {'/'.join(Path(frames[-1].filename).parts[-3:])}:{frames[-1].lineno}" \
            if frames else ""
        raise OracleFailure(f"{type(exc).__name__}{where}: {exc}\n"
                            f"{traceback.format_exc(limit=-4)}") from exc
    else:
        call = o.capture["call"]
        evm = o.capture.get("evm")
        output = bytes(getattr(call, "return_data", evm.output if evm is not None else b""))
        success = call.error is None
        if t["to"] is None and type(call.error).__name__ != "Revert":
            output = b""  # a creation returns data only when it reverts
        out = Outcome(valid=True, success=success, gas_used=int(block_output.block_gas_used),
                      logs=[[bytes(lg.address).hex(), [bytes(x).hex() for x in lg.topics],
                             bytes(lg.data).hex()] for lg in call.logs],
                      output=output.hex(),
                      error=None if success else type(call.error).__name__)
    # geth's state-test convention for the coinbase (see the module docstring).
    account = S.get_account_optional(state, coinbase)
    if get_fork(case["fork"]).rules.eip161:
        if account is not None and account == o.types.EMPTY_ACCOUNT:
            S.destroy_account(state, coinbase)
    elif account is None:
        S.set_account(state, coinbase, o.types.EMPTY_ACCOUNT)
    out.state_root = bytes(S.state_root(state)).hex()
    return out


class OracleFailure(Exception):
    """The execution specs raised an internal exception on this case."""


# ---------------------------------------------------------------------------
# Comparing, shrinking, saving

def compare(case: dict[str, Any]) -> Verdict:
    start = time.perf_counter()
    mine = run_chainvm(case)
    try:
        theirs = run_oracle(case)
    except OracleFailure as exc:
        return Verdict("oracle_failure", [], mine, Outcome(valid=False, crashed=True,
                                                           error=str(exc)),
                       time.perf_counter() - start)
    if mine.crashed:
        fields = ["chainvm_exception"]
    elif mine.valid != theirs.valid:
        fields = ["valid"]
    elif not mine.valid:
        fields = ["state_root"] if mine.state_root != theirs.state_root else []
    else:
        fields = [f for f in COMPARED if getattr(mine, f) != getattr(theirs, f)]
    return Verdict("divergence" if fields else "ok", fields, mine, theirs,
                   time.perf_counter() - start)


_DROP = object()


def _candidates(case: dict[str, Any]) -> list[dict[str, Any]]:
    """Smaller variants of a case, roughly biggest cut first."""
    out: list[dict[str, Any]] = []

    def variant(path: tuple[str, ...], key: str | int, value: Any = _DROP) -> None:
        """A copy of `case` with `key` of the container at `path` dropped or set to `value`."""
        c = copy.deepcopy(case)
        container: Any = c
        for part in path:
            container = container[part]
        if value is _DROP:
            del container[key]
        else:
            container[key] = value
        if c != case:
            out.append(c)

    sender = private_key_to_address(bytes.fromhex(case["tx"]["key"])).hex()
    for addr in list(case["pre"]):
        if addr != sender:
            variant(("pre",), addr)
    tx = case["tx"]
    for name in ("authorization_list", "access_list", "blob_versioned_hashes"):
        items = tx[name]
        if name == "blob_versioned_hashes" and len(items) <= 1:
            continue
        if len(items) > 1:
            variant(("tx",), name, items[:len(items) // 2])
        for i in range(len(items)):
            variant(("tx", name), i)
    if "data_segments" in tx:
        for i in range(len(tx["data_segments"])):
            variant(("tx", "data_segments"), i)
    elif tx["data"]:
        variant(("tx",), "data", "")
        variant(("tx",), "data", tx["data"][: len(tx["data"]) // 2 // 2 * 2])
    if tx["value"]:
        variant(("tx",), "value", 0)
    for addr, acct in case["pre"].items():
        segs = acct.get("segments")
        if segs:
            n = len(segs)
            if n > 2:
                variant(("pre", addr), "segments", segs[: n // 2])
                variant(("pre", addr), "segments", segs[n // 2:])
            for i in range(n):
                variant(("pre", addr, "segments"), i)
        for k in list(acct.get("storage", {})):
            variant(("pre", addr, "storage"), k)
    return out


def _sync_code(case: dict[str, Any]) -> dict[str, Any]:
    for acct in case["pre"].values():
        if "segments" in acct:
            acct["code"] = b"".join(bytes.fromhex(s) for s in acct["segments"]).hex()
    tx = case["tx"]
    if "data_segments" in tx:
        tx["data"] = _data(tx).hex()
    return case


def shrink(case: dict[str, Any], fields: list[str], budget_seconds: float = 90.0,
           max_attempts: int = 400) -> dict[str, Any]:
    """Greedily drop parts of `case` while a divergence in one of `fields` persists."""
    wanted = set(fields)
    deadline = time.monotonic() + budget_seconds
    attempts = 0
    current = case
    progress = True
    while progress and attempts < max_attempts and time.monotonic() < deadline:
        progress = False
        for cand in _candidates(current):
            if attempts >= max_attempts or time.monotonic() >= deadline:
                break
            attempts += 1
            verdict = compare(cand)
            if verdict.status == "divergence" and wanted & set(verdict.fields):
                current = cand
                progress = True
                break
    return _sync_code(copy.deepcopy(current))


def case_id(case: dict[str, Any]) -> str:
    return keccak256(json.dumps(case, sort_keys=True).encode()).hex()[:12]


def save_regression(case: dict[str, Any], verdict: Verdict, directory: Path,
                    note: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{case['fork'].lower()}-{'-'.join(verdict.fields) or 'ok'}-{case_id(case)}.json"
    path = directory / name
    record = {"case": case, "found": verdict.to_json(), "note": note}
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


# The widths statetest reads them with: the block header's 64-bit fields, words elsewhere.
# Wider or negative numbers overflow the specs' U64/U256 while a case is set up.
_ENV_BITS = {"number": 64, "timestamp": 64, "gas_limit": 64, "difficulty": 256,
             "base_fee": 256, "excess_blob_gas": 64}
_TX_NUMBERS = ("type", "nonce", "gas_limit", "value")
_TX_OPTIONAL_NUMBERS = ("gas_price", "max_fee_per_gas", "max_priority_fee_per_gas",
                        "max_fee_per_blob_gas")
# (widths as the specs' Authorization holds them: U64 nonce, U8 y_parity)
_AUTH_NUMBERS = {"chain_id": 256, "nonce": 64, "y_parity": 8, "r": 256, "s": 256}
# The fee fields each transaction type needs (the oracle builds the type's own class).
_FEES_OF_TYPE = {0: ("gas_price",), 1: ("gas_price",),
                 2: ("max_fee_per_gas", "max_priority_fee_per_gas"),
                 3: ("max_fee_per_gas", "max_priority_fee_per_gas", "max_fee_per_blob_gas"),
                 4: ("max_fee_per_gas", "max_priority_fee_per_gas")}


def checked_case(case: Any, what: str = "case") -> dict[str, Any]:
    """A copy of a saved case whose numbers are all ints in range (JSON numbers, or hex or
    ASCII decimal strings, converted); an InputError names the first that is not.

    Only numbers are checked: a missing field or a bad hex string is left to `compare`'s
    caller, which sees it as a KeyError or ValueError."""
    case = copy.deepcopy(expect_object(case, what))

    def number(container: dict[str, Any], key: str, where: str, bits: int = 256,
               optional: bool = False) -> None:
        if key in container and not (optional and container[key] is None):
            container[key] = parse_quantity(container[key], f"{where}.{key}", bits)

    for addr, acct in expect_object(case.get("pre", {}), f"{what}.pre").items():
        where = f"{what}.pre.{addr}"
        expect_object(acct, where)
        number(acct, "nonce", where)
        number(acct, "balance", where)
        storage = expect_object(acct.get("storage", {}), f"{where}.storage")
        # keys as decimal strings, as run_chainvm and run_oracle read them
        acct["storage"] = {str(parse_quantity(k, f"{where}.storage key", 256)):
                           parse_quantity(v, f"{where}.storage.{k}", 256)
                           for k, v in storage.items()}
    env = expect_object(case.get("env", {}), f"{what}.env")
    for key, bits in _ENV_BITS.items():
        number(env, key, f"{what}.env", bits)
    tx = expect_object(case.get("tx", {}), f"{what}.tx")
    for key in _TX_NUMBERS:
        number(tx, key, f"{what}.tx")
    for key in _TX_OPTIONAL_NUMBERS:
        number(tx, key, f"{what}.tx", optional=True)
    if "type" in tx:  # (the type's fields null where the oracle needs numbers)
        kind = tx["type"]
        if kind not in _FEES_OF_TYPE:
            raise InputError(f"{what}.tx.type: expected 0 to 4, got {short(kind)}")
        for key in _FEES_OF_TYPE[kind]:
            if key in tx and tx[key] is None:
                raise InputError(f"{what}.tx.{key}: required for a type {kind} transaction")
        if kind == 4 and isinstance(tx.get("nonce"), int) and tx["nonce"] >= 2**64:
            raise InputError(f"{what}.tx.nonce: a type 4 transaction's nonce has 64 bits")
    for i, entry in enumerate(expect_list(tx.get("access_list", []), f"{what}.tx.access_list")):
        where = f"{what}.tx.access_list[{i}]"
        if len(expect_list(entry, where)) != 2:
            raise InputError(f"{where}: expected [address, [storage keys]]")
        entry[1] = [parse_quantity(k, f"{where} key", 256)
                    for k in expect_list(entry[1], f"{where} keys")]
    for i, auth in enumerate(expect_list(tx.get("authorization_list", []),
                                         f"{what}.tx.authorization_list")):
        where = f"{what}.tx.authorization_list[{i}]"
        expect_object(auth, where)
        for key, bits in _AUTH_NUMBERS.items():
            number(auth, key, where, bits)
    return case


def replay(path: Path) -> Verdict:
    record = json.loads(Path(path).read_text())
    return compare(checked_case(record["case"]))
