"""Running GeneralStateTests fixtures (the format of ethereum/tests and execution-spec-tests)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainvm.crypto import keccak256, private_key_to_address
from chainvm.encoding.rlp import encode
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.forks import ALIASES, FORKS, get_fork
from chainvm.evm.interpreter import Tracer
from chainvm.evm.transaction import Authorization, Transaction, apply_transaction
from chainvm.state.state import Account, State


class FixtureError(ValueError):
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


def parse_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise FixtureError(f"expected a number, got {value!r}")
    # ethereum/tests marks values wider than 256 bits with "0x:bigint ".
    text = value.strip().removeprefix("0x:bigint ")
    try:
        if text[:2] in ("0x", "0X"):
            digits = text[2:]
            return int(digits, 16) if digits else 0
        return int(text, 10)
    except ValueError:
        raise FixtureError(f"bad number {value!r}") from None


def parse_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise FixtureError(f"expected hex data, got {value!r}")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise FixtureError(f"bad hex data {value[:40]!r}") from None


def parse_address(value: Any) -> bytes:
    raw = parse_bytes(value)
    if len(raw) > 20:
        raise FixtureError(f"bad address {value!r}")
    return raw.rjust(20, b"\x00")


def load_pre_state(pre: dict[str, Any]) -> State:
    accounts: dict[bytes, Account] = {}
    for addr_hex, acct in pre.items():
        storage = {parse_int(k): parse_int(v) for k, v in acct.get("storage", {}).items()}
        accounts[parse_address(addr_hex)] = Account(
            parse_int(acct.get("nonce", "0x0")), parse_int(acct.get("balance", "0x0")),
            parse_bytes(acct.get("code", "0x")), {k: v for k, v in storage.items() if v})
    return State(accounts)


def block_env(env: dict[str, Any]) -> BlockEnv:
    random = env.get("currentRandom")
    return BlockEnv(
        coinbase=parse_address(env["currentCoinbase"]),
        number=parse_int(env["currentNumber"]),
        timestamp=parse_int(env["currentTimestamp"]),
        gas_limit=parse_int(env["currentGasLimit"]),
        difficulty=parse_int(env.get("currentDifficulty", "0x0")),
        prev_randao=parse_int(random).to_bytes(32, "big") if random is not None else bytes(32),
        base_fee=parse_int(env.get("currentBaseFee", "0x0")),
        excess_blob_gas=parse_int(env.get("currentExcessBlobGas", "0x0")),
    )


def build_transaction(tx: dict[str, Any], indexes: dict[str, int]) -> Transaction:
    data_index = indexes["data"]
    sender: bytes
    if "secretKey" in tx:
        sender = private_key_to_address(parse_bytes(tx["secretKey"]))
    elif "sender" in tx:
        sender = parse_address(tx["sender"])
    else:
        raise FixtureError("transaction has neither secretKey nor sender")
    to_field = tx.get("to", "")
    access_lists = tx.get("accessLists")
    access_list_raw = None
    if access_lists is not None and data_index < len(access_lists):
        access_list_raw = access_lists[data_index]
    access_list = [
        (parse_address(entry["address"]), [parse_int(k) for k in entry.get("storageKeys", [])])
        for entry in (access_list_raw or [])
    ]
    authorizations = [
        Authorization(parse_int(a["chainId"]), parse_address(a["address"]), parse_int(a["nonce"]),
                      parse_int(a.get("yParity", a.get("v", "0x0"))), parse_int(a["r"]),
                      parse_int(a["s"]))
        for a in tx.get("authorizationList") or []
    ]
    if "authorizationList" in tx:
        tx_type = 4
    elif "blobVersionedHashes" in tx:
        tx_type = 3
    elif "maxFeePerGas" in tx:
        tx_type = 2
    elif access_list_raw is not None:
        tx_type = 1
    else:
        tx_type = 0
    return Transaction(
        sender=sender,
        to=parse_address(to_field) if to_field else None,
        nonce=parse_int(tx.get("nonce", "0x0")),
        gas_limit=parse_int(tx["gasLimit"][indexes["gas"]]),
        value=parse_int(tx["value"][indexes["value"]]),
        data=parse_bytes(tx["data"][data_index]),
        tx_type=tx_type,
        gas_price=parse_int(tx["gasPrice"]) if "gasPrice" in tx else None,
        max_fee_per_gas=parse_int(tx["maxFeePerGas"]) if "maxFeePerGas" in tx else None,
        max_priority_fee_per_gas=(parse_int(tx["maxPriorityFeePerGas"])
                                  if "maxPriorityFeePerGas" in tx else None),
        access_list=access_list,
        blob_versioned_hashes=[parse_bytes(h) for h in tx.get("blobVersionedHashes", [])],
        max_fee_per_blob_gas=(parse_int(tx["maxFeePerBlobGas"])
                              if "maxFeePerBlobGas" in tx else None),
        authorization_list=authorizations,
    )


def logs_hash(logs: list) -> bytes:
    return keccak256(encode([log.to_rlp() for log in logs]))


def known_fork(name: str) -> bool:
    return ALIASES.get(name, name) in FORKS


def run_case(name: str, test: dict[str, Any], fork_name: str, index: int,
             tracer: Tracer | None = None) -> CaseResult:
    post = test["post"][fork_name][index]
    try:
        fork = get_fork(fork_name)
    except KeyError:
        return CaseResult(name, fork_name, index, False, "0x", f"unsupported fork {fork_name}")
    state = load_pre_state(test["pre"])
    env = block_env(test["env"])
    expect_exception = post.get("expectException")
    error = None
    try:
        tx = build_transaction(test["transaction"], post["indexes"])
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
    return CaseResult(name, fork_name, index, error is None, root_hex, error)


def iter_cases(data: Any, fork_filter: str | None = None, name_filter: re.Pattern[str] | None = None
               ) -> Iterator[tuple[str, dict[str, Any], str, int]]:
    if not isinstance(data, dict):
        raise FixtureError("a state test file must hold a JSON object of tests")
    for name, test in data.items():
        if not isinstance(test, dict) or "post" not in test or "pre" not in test \
                or "transaction" not in test or "env" not in test:
            raise FixtureError(f"{name}: not a state test (needs env, pre, transaction, post)")
        if name_filter is not None and not name_filter.search(name):
            continue
        for fork_name, posts in test["post"].items():
            if fork_filter is not None and ALIASES.get(fork_filter, fork_filter) != \
                    ALIASES.get(fork_name, fork_name):
                continue
            for index in range(len(posts)):
                yield name, test, fork_name, index


def run_file(path: str | Path, fork_filter: str | None = None,
             name_filter: re.Pattern[str] | None = None, tracer: Tracer | None = None
             ) -> list[CaseResult]:
    with open(path, "rb") as fh:
        try:
            data = json.loads(fh.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FixtureError(f"{path}: invalid JSON ({exc})") from None
    results = []
    for name, test, fork_name, index in iter_cases(data, fork_filter, name_filter):
        try:
            results.append(run_case(name, test, fork_name, index, tracer))
        except FixtureError as exc:
            results.append(CaseResult(name, fork_name, index, False, "0x", f"bad fixture: {exc}"))
        except (KeyError, IndexError, TypeError) as exc:
            results.append(CaseResult(name, fork_name, index, False, "0x",
                                      f"bad fixture: missing or malformed {exc}"))
    return results
