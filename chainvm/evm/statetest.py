"""Running GeneralStateTests fixtures (the format of ethereum/tests and execution-spec-tests)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from chainvm.crypto import keccak256_parts, private_key_to_address
from chainvm.encoding import json_input
from chainvm.encoding.json_input import (
    InputError,
    expect_object,
    parse_data,
    parse_quantity,
    read_json_file,
)
from chainvm.encoding.rlp import encode, list_header, string_header
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.forks import ALIASES, FORKS, get_fork
from chainvm.evm.tracer import Tracer
from chainvm.evm.transaction import (
    Authorization,
    ExcessBlobGasTooLarge,
    Transaction,
    apply_transaction,
)
from chainvm.state.state import Account, Log, State

_T = TypeVar("_T")

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class FixtureError(InputError):
    """A fixture that is not a well-formed state test."""


@dataclass
class CaseResult:
    name: str
    fork: str
    index: int
    passed: bool
    state_root: str
    error: str | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "fork": self.fork, "index": self.index,
                               "pass": self.passed, "stateRoot": self.state_root}
        if self.error:
            out["error"] = self.error
        return out


def parse_int(value: Any, bits: int | None = None, what: str = "") -> int:
    try:
        return parse_quantity(value, what, bits, allow_bigint_marker=True)
    except InputError as exc:
        raise FixtureError(str(exc)) from None


def parse_bytes(value: Any) -> bytes:
    try:
        return parse_data(value)
    except InputError as exc:
        raise FixtureError(str(exc)) from None


def parse_address(value: Any) -> bytes:
    try:
        return json_input.parse_address(value)
    except InputError as exc:
        raise FixtureError(str(exc)) from None


def _object(value: Any, what: str) -> dict[str, Any]:
    try:
        return expect_object(value, what)
    except InputError as exc:
        raise FixtureError(str(exc)) from None


def load_pre_state(pre: dict[str, Any]) -> State:
    accounts: dict[bytes, Account] = {}
    for addr_hex, acct in _object(pre, "pre").items():
        acct = _object(acct, f"pre: {addr_hex}")
        storage_in = _object(acct.get("storage", {}), f"pre: {addr_hex}: storage")
        storage = {}
        if storage_in:
            for k, v in storage_in.items():
                key = parse_int(k)
                value = parse_int(v)
                if value:
                    storage[key] = value
                else:
                    storage.pop(key, None)  # a later spelling of the same slot wins
        accounts[parse_address(addr_hex)] = Account(
            parse_int(acct.get("nonce", "0x0")), parse_int(acct.get("balance", "0x0")),
            parse_bytes(acct.get("code", "0x")), storage)
    return State(accounts)


def block_env(env: dict[str, Any]) -> BlockEnv:
    random = env.get("currentRandom")
    return BlockEnv(
        coinbase=parse_address(env["currentCoinbase"]),
        # (the header's 64-bit fields are 64 bits here too, as in geth's runner; the
        # others are words the block's opcodes push)
        number=parse_int(env["currentNumber"], 64, "env: currentNumber"),
        timestamp=parse_int(env["currentTimestamp"], 64, "env: currentTimestamp"),
        gas_limit=parse_int(env["currentGasLimit"], 64, "env: currentGasLimit"),
        difficulty=parse_int(env.get("currentDifficulty", "0x0"), 256, "env: currentDifficulty"),
        prev_randao=(parse_int(random, 256, "env: currentRandom").to_bytes(32, "big")
                     if random is not None else bytes(32)),
        base_fee=parse_int(env.get("currentBaseFee", "0x0"), 256, "env: currentBaseFee"),
        excess_blob_gas=parse_int(env.get("currentExcessBlobGas", "0x0"), 64,
                                  "env: currentExcessBlobGas"),
    )


def secret_key(value: Any) -> bytes:
    """A secp256k1 private key: 32 bytes, from 1 to the group order minus 1."""
    key = parse_bytes(value)
    if len(key) != 32 or not 0 < int.from_bytes(key, "big") < SECP256K1_ORDER:
        raise FixtureError(f"secretKey: not a valid private key ({len(key)} bytes)")
    return key


@lru_cache(maxsize=64)
def _address_of(key: bytes) -> bytes:
    """The sender of a secret key (fixtures reuse a handful of keys across all their cases,
    and deriving the public key costs as much as running a small case)."""
    return private_key_to_address(key)


class TransactionTemplate:
    """A test's transaction: the fields all its cases share, parsed once, and the indexed
    ones (data, gas limit, value, access list) parsed on first use of each index."""

    def __init__(self, tx: dict[str, Any]) -> None:
        self.tx = tx
        if "secretKey" in tx:
            self.sender = _address_of(secret_key(tx["secretKey"]))
        elif "sender" in tx:
            self.sender = parse_address(tx["sender"])
        else:
            raise FixtureError("transaction has neither secretKey nor sender")
        to_field = tx.get("to", "")
        self.to = parse_address(to_field) if to_field else None
        self.nonce = parse_int(tx.get("nonce", "0x0"))
        self.gas_price = parse_int(tx["gasPrice"]) if "gasPrice" in tx else None
        self.max_fee_per_gas = parse_int(tx["maxFeePerGas"]) if "maxFeePerGas" in tx else None
        self.max_priority_fee_per_gas = (parse_int(tx["maxPriorityFeePerGas"])
                                         if "maxPriorityFeePerGas" in tx else None)
        self.blob_versioned_hashes = [parse_bytes(h) for h in tx.get("blobVersionedHashes", [])]
        self.max_fee_per_blob_gas = (parse_int(tx["maxFeePerBlobGas"])
                                     if "maxFeePerBlobGas" in tx else None)
        self.authorization_list = [
            Authorization(parse_int(a["chainId"]), parse_address(a["address"]),
                          parse_int(a["nonce"]), parse_int(a.get("yParity", a.get("v", "0x0"))),
                          parse_int(a["r"]), parse_int(a["s"]))
            for a in tx.get("authorizationList") or []
        ]
        if "authorizationList" in tx:
            self.tx_type: int | None = 4
        elif "blobVersionedHashes" in tx:
            self.tx_type = 3
        elif "maxFeePerGas" in tx:
            self.tx_type = 2
        else:
            self.tx_type = None  # 1 with an access list for the case's data, else 0
        self._data: dict[int, bytes] = {}
        self._gas: dict[int, int] = {}
        self._value: dict[int, int] = {}
        self._access: dict[int, list[tuple[bytes, list[int]]] | None] = {}

    def _access_list(self, index: int) -> list[tuple[bytes, list[int]]] | None:
        """The access list of data entry `index` (None: the test gives none for it)."""
        if index in self._access:
            return self._access[index]
        access_lists = self.tx.get("accessLists")
        raw = access_lists[index] if access_lists is not None and index < len(access_lists) \
            else None
        access_list = None if raw is None else [
            (parse_address(entry["address"]), [parse_int(k) for k in entry.get("storageKeys", [])])
            for entry in raw
        ]
        self._access[index] = access_list
        return access_list

    def _indexed(self, cache: dict[int, _T], key: str, index: int,
                 parse: Callable[[Any], _T]) -> _T:
        """Entry `index` of the indexed field `key`, parsed on its first use."""
        value = cache.get(index)
        if value is None:
            value = cache[index] = parse(self.tx[key][index])
        return value

    def build(self, indexes: dict[str, int]) -> Transaction:
        data_index = indexes["data"]
        data = self._indexed(self._data, "data", data_index, parse_bytes)
        gas_limit = self._indexed(self._gas, "gasLimit", indexes["gas"], parse_int)
        value = self._indexed(self._value, "value", indexes["value"], parse_int)
        access_list = self._access_list(data_index)
        tx_type = self.tx_type
        if tx_type is None:
            tx_type = 0 if access_list is None else 1
        return Transaction(
            sender=self.sender, to=self.to, nonce=self.nonce, gas_limit=gas_limit, value=value,
            data=data, tx_type=tx_type, gas_price=self.gas_price,
            max_fee_per_gas=self.max_fee_per_gas,
            max_priority_fee_per_gas=self.max_priority_fee_per_gas,
            access_list=access_list if access_list is not None else [],
            blob_versioned_hashes=self.blob_versioned_hashes,
            max_fee_per_blob_gas=self.max_fee_per_blob_gas,
            authorization_list=self.authorization_list,
        )


def build_transaction(tx: dict[str, Any], indexes: dict[str, int]) -> Transaction:
    return TransactionTemplate(tx).build(indexes)


def logs_hash(logs: list[Log]) -> bytes:
    """keccak256 of the RLP list of the logs [address, topics, data], hashed piece by piece:
    a log's data can be megabytes, which joining the encoding would copy three times."""
    pieces: list[bytes] = []
    total = 0
    for log in logs:
        data = log.data
        n = len(data)
        head = encode(log.address) + encode([t.to_bytes(32, "big") for t in log.topics])
        if n != 1 or data[0] >= 0x80:
            head += string_header(n)
        size = len(head) + n
        head = list_header(size) + head
        total += len(head) + n
        pieces += (head, data)
    return keccak256_parts([list_header(total), *pieces])


def known_fork(name: str) -> bool:
    return ALIASES.get(name, name) in FORKS


class PreparedTest:
    """What every case of one test shares, parsed once: the pre-state, with its account
    and storage tries built when more than one case will run on it (each case runs on a
    copy-on-write copy, so its state root re-hashes only the accounts the case changed;
    a test's only case hashes its state once, after the transaction), the block
    environment and the transaction's fields."""

    __slots__ = ("_tx", "env", "pre", "test")

    def __init__(self, test: dict[str, Any], cases: int = 2) -> None:
        self.test = test
        self.pre = load_pre_state(test["pre"])
        if cases > 1:
            self.pre.state_root()
        self.env = block_env(test["env"])
        self._tx: TransactionTemplate | None = None

    def pre_state(self) -> State:
        return self.pre.copy()

    def transaction(self, indexes: dict[str, int]) -> Transaction:
        template = self._tx
        if template is None:  # parsed on the first case's turn, as its own error
            template = self._tx = TransactionTemplate(self.test["transaction"])
        return template.build(indexes)


# The last test prepared: the cases of a test run one after another (run_file, and the
# campaign runner's jobs, one file at a time). It holds the test itself, so that the
# identity check cannot match a new object at a reused address.
_prepared: PreparedTest | None = None


def prepare(test: dict[str, Any], cases: int = 2) -> PreparedTest:
    """The shared part of `test`'s `cases` cases (see PreparedTest), reused while the same
    test object comes back (so a test must not be changed in place between its cases)."""
    global _prepared
    prepared = _prepared
    if prepared is None or prepared.test is not test:
        prepared = _prepared = PreparedTest(test, cases)
    return prepared


def run_case(name: str, test: dict[str, Any], fork_name: str, index: int,
             tracer: Tracer | None = None) -> CaseResult:
    post = test["post"][fork_name][index]
    try:
        fork = get_fork(fork_name)
    except KeyError:
        return CaseResult(name, fork_name, index, False, "0x", f"unsupported fork {fork_name}")
    prepared = prepare(test, len(test["post"][fork_name]))
    state = prepared.pre_state()
    env = prepared.env
    expect_exception = post.get("expectException")
    error = None
    if tracer is not None:
        tracer.begin_case()
    try:
        tx = prepared.transaction(post["indexes"])
        result = apply_transaction(state, fork, env, tx, tracer)
        logs = result.logs
        rejected = None
    except InvalidTransaction as exc:
        rejected = str(exc)
        logs = []
    # geth's runner credits the coinbase with zero after every case: pre-EIP-161 that
    # creates an empty coinbase account, later it deletes an empty one.
    state.begin_transaction()
    state.add_balance(env.coinbase, 0)
    state.finalize_transaction(delete_empty=fork.rules.eip161)
    root = state.state_root()
    root_hex = "0x" + root.hex()
    expected_root = parse_bytes(post["hash"])
    if expect_exception:
        if rejected is None:
            error = f"expected exception {expect_exception}, but the transaction was valid"
        elif root != expected_root:
            error = f"state root mismatch: got {root_hex}, want {post['hash']}"
    elif rejected is not None:
        error = f"unexpected invalid transaction: {rejected}"
    else:
        if root != expected_root:
            error = f"state root mismatch: got {root_hex}, want {post['hash']}"
        elif "logs" in post and logs_hash(logs) != parse_bytes(post["logs"]):
            error = f"logs hash mismatch: got 0x{logs_hash(logs).hex()}, want {post['logs']}"
    if tracer is not None:  # the EIP-3155 summary line: post-state root and verdict
        tracer.end_case(root, error is None, fork_name, rejected)
    return CaseResult(name, fork_name, index, error is None, root_hex, error)


def check_shape(name: str, test: Any, fork: str | None = None) -> list[str]:
    """The post entries of `test` to run (every fork's, or those of `fork` and its aliases),
    after refusing a test whose containers are not of the state-test shape (a
    FixtureError), so that running a case never meets a list where it needs an object.

    Only what runs is checked: a test with no entry for `fork` is not, nor the other forks'
    entries (a legacy file holds a dozen forks)."""
    if not isinstance(test, dict) or "post" not in test or "pre" not in test \
            or "transaction" not in test or "env" not in test:
        raise FixtureError(f"{name}: not a state test (needs env, pre, transaction, post)")
    post_of = _object(test["post"], f"{name}: post")
    if fork is None:
        forks = list(post_of)
    else:
        wanted = ALIASES.get(fork, fork)
        forks = [key for key in post_of if ALIASES.get(key, key) == wanted]
        if not forks:
            return forks
    _object(test["env"], f"{name}: env")
    for address, account in _object(test["pre"], f"{name}: pre").items():
        _object(_object(account, f"{name}: pre: {address}").get("storage", {}),
                f"{name}: pre: {address}: storage")
    tx = _object(test["transaction"], f"{name}: transaction")
    for key in ("data", "gasLimit", "value"):
        if not isinstance(tx.get(key), list) or not tx[key]:
            raise FixtureError(f"{name}: transaction: {key}: expected a non-empty JSON array")
    for fork_name in forks:
        posts = post_of[fork_name]
        if not isinstance(posts, list):
            raise FixtureError(f"{name}: post: {fork_name}: expected a JSON array")
        for i, post in enumerate(posts):
            where = f"{name}: post: {fork_name}[{i}]"
            indexes = _object(_object(post, where).get("indexes"), f"{where}: indexes")
            for key in ("data", "gas", "value"):
                index = indexes.get(key)
                if isinstance(index, bool) or not isinstance(index, int) \
                        or not 0 <= index < len(tx[key if key != "gas" else "gasLimit"]):
                    raise FixtureError(f"{where}: indexes: {key}: no such transaction entry")
            if not isinstance(post.get("hash"), str):
                raise FixtureError(f"{where}: hash: expected a hex string")
    return forks


def iter_cases(data: Any, fork_filter: str | None = None, name_filter: re.Pattern[str] | None = None
               ) -> Iterator[tuple[str, dict[str, Any], str, int]]:
    if not isinstance(data, dict):
        raise FixtureError("a state test file must hold a JSON object of tests")
    for name, test in data.items():
        if name_filter is not None and not name_filter.search(name):
            continue
        for fork_name in check_shape(name, test, fork_filter):
            for index in range(len(test["post"][fork_name])):
                yield name, test, fork_name, index


def load_file(path: str | Path) -> Any:
    """A state-test file's JSON (bounded, see json_input); a FixtureError if unreadable."""
    try:
        return read_json_file(path)
    except InputError as exc:
        raise FixtureError(str(exc)) from None


def run_case_checked(name: str, test: dict[str, Any], fork_name: str, index: int,
                     tracer: Tracer | None = None) -> CaseResult:
    """`run_case`, with malformed values reported as a FixtureError naming the case."""
    try:
        return run_case(name, test, fork_name, index, tracer)
    except InputError as bad_value:
        raise FixtureError(f"{name} ({fork_name} #{index}): {bad_value}") from None
    except ExcessBlobGasTooLarge as too_large:
        raise FixtureError(f"{name} ({fork_name} #{index}): env: currentExcessBlobGas: "
                           f"{too_large}") from None
    except (KeyError, IndexError, TypeError, AttributeError) as missing:
        raise FixtureError(f"{name} ({fork_name} #{index}): missing or malformed "
                           f"{type(missing).__name__}: {missing}") from None


def run_file(path: str | Path, fork_filter: str | None = None,
             name_filter: re.Pattern[str] | None = None, tracer: Tracer | None = None
             ) -> list[CaseResult]:
    """Every case of a file. A malformed file or case raises FixtureError (bad input)."""
    data = load_file(path)
    return [run_case_checked(name, test, fork_name, index, tracer)
            for name, test, fork_name, index in iter_cases(data, fork_filter, name_filter)]
