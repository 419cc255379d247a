"""The state-transition tool (t8n): apply one block's worth of transactions to an alloc.

This is the engine behind `chainvm t8n`, the interface of geth's `evm t8n` and
the execution specs' `ethereum-spec-evm t8n` that test fillers drive. Inputs
are three JSON documents:

* alloc: `{address: {balance, nonce, code, storage}}` (numbers hex or decimal);
* env: the block environment (`currentCoinbase`, `currentNumber`, ...; the base
  fee, difficulty and excess blob gas either given or derived from `parent*`
  fields), withdrawals, `blockHashes`, `ommers`, `parentBeaconBlockRoot`;
* txs: a list of JSON transactions (signed with v/r/s, or with a `secretKey` to
  sign here) or a hex string holding the RLP list of signed transactions.

The block is executed with chainvm's own block machinery (system calls,
`apply_transaction`, rewards, withdrawals, EIP-7685 requests). A transaction
that cannot be decoded or is invalid is reported in `rejected` and left out of
the block; the others still run. Roots and receipts cover the included
transactions only, as in geth.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from chainvm.chain.block import (
    EMPTY_OMMERS_HASH,
    Header,
    Receipt,
    Withdrawal,
    receipts_root,
    transactions_root,
    withdrawals_root,
)
from chainvm.chain.config import ChainConfig, UnknownNetwork, config_for_network
from chainvm.chain.processing import (
    apply_body,
    block_bloom,
    calc_base_fee,
    calc_difficulty,
    calc_excess_blob_gas,
    requests_hash,
)
from chainvm.chain.transactions import (
    SignedTransaction,
    TxDecodeError,
    decode_body_item,
)
from chainvm.crypto import keccak256
from chainvm.encoding.rlp import RLPError, decode, encode
from chainvm.evm.env import BlockEnv
from chainvm.evm.forks import Fork
from chainvm.evm.statetest import FixtureError, parse_address, parse_bytes, parse_int
from chainvm.evm.tracer import Tracer
from chainvm.evm.transaction import Authorization
from chainvm.state.state import Account, Log, State

_UINT64 = 64
_UINT256 = 256


class T8nError(ValueError):
    """Input the tool cannot work with (reported on one line, no output written)."""


# -- small parsers with context in their messages -------------------------------------------


def _num(value: Any, what: str, bits: int = _UINT256) -> int:
    if isinstance(value, bool):
        raise T8nError(f"{what}: expected a number, got {value!r}")
    try:
        number = parse_int(value)
    except FixtureError as exc:
        raise T8nError(f"{what}: {exc}") from None
    if number < 0 or number.bit_length() > bits:
        raise T8nError(f"{what}: {value!r} does not fit in {bits} bits")
    return number


def _hex(value: Any, what: str) -> bytes:
    try:
        return parse_bytes(value)
    except FixtureError as exc:
        raise T8nError(f"{what}: {exc}") from None


def _fixed(value: Any, size: int, what: str) -> bytes:
    raw = _hex(value, what)
    if len(raw) != size:
        raise T8nError(f"{what}: expected {size} bytes, got {len(raw)}")
    return raw


def _address(value: Any, what: str) -> bytes:
    try:
        return parse_address(value)
    except FixtureError as exc:
        raise T8nError(f"{what}: {exc}") from None


def _word(value: Any, what: str) -> bytes:
    """A 32-byte value given as hex of any length up to 32 bytes (left-padded)."""
    if not isinstance(value, str):
        raise T8nError(f"{what}: expected hex data, got {value!r}")
    digits = value[2:] if value[:2] in ("0x", "0X") else value
    if len(digits) % 2:
        digits = "0" + digits
    raw = _hex(digits, what)
    if len(raw) > 32:
        raise T8nError(f"{what}: longer than 32 bytes")
    return raw.rjust(32, b"\x00")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise T8nError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


# -- fork -----------------------------------------------------------------------------------


def resolve_fork(name: str, number: int, timestamp: int,
                 chain_id: int) -> tuple[ChainConfig, Fork]:
    """The configuration and the fork of a block: a plain fork name or a transition
    name such as "BerlinToLondonAt5" or "ShanghaiToCancunAtTime15k"."""
    try:
        config = config_for_network(name, chain_id)
    except (UnknownNetwork, KeyError):
        raise T8nError(f"unknown fork {name!r}") from None
    return config, config.fork_at(number, timestamp, 0)


def known_fork(name: str) -> bool:
    try:
        config_for_network(name)
    except (UnknownNetwork, KeyError):
        return False
    return True


def with_blob_params(fork: Fork, params: Any) -> Fork:
    """`fork` with another blob schedule: `{"target", "max", "baseFeeUpdateFraction"}`."""
    data = _object(params, "blobParams")
    target = _num(data.get("target"), "blobParams: target", _UINT64)
    maximum = _num(data.get("max"), "blobParams: max", _UINT64)
    fraction = _num(data.get("baseFeeUpdateFraction"), "blobParams: baseFeeUpdateFraction",
                    _UINT64)
    if fraction == 0:
        raise T8nError("blobParams: baseFeeUpdateFraction must not be zero")
    if maximum == 0 or target > maximum:
        raise T8nError("blobParams: need 0 < max and target <= max")
    return fork.with_blob_schedule(target, maximum, fraction)


# -- alloc ----------------------------------------------------------------------------------


def load_alloc(data: Any) -> State:
    alloc = _object(data, "alloc")
    accounts: dict[bytes, Account] = {}
    for key, entry in alloc.items():
        address = _address(key, f"alloc: address {key!r}")
        where = f"alloc: {key}"
        entry = _object(entry, where)
        storage_in = _object(entry.get("storage") or {}, f"{where}: storage")
        storage: dict[int, int] = {}
        for slot, value in storage_in.items():
            number = _num(value, f"{where}: storage value")
            if number:
                storage[_num(slot, f"{where}: storage key")] = number
        accounts[address] = Account(
            _num(entry.get("nonce") or 0, f"{where}: nonce", _UINT64),
            _num(entry.get("balance") or 0, f"{where}: balance"),
            _hex(entry.get("code") or "0x", f"{where}: code"),
            storage)
    return State(accounts)


def dump_alloc(state: State) -> dict[str, Any]:
    """The post state in the alloc format (zero fields left out, storage keys 32 bytes)."""
    out: dict[str, Any] = {}
    for address in sorted(state.accounts):
        account = state.accounts[address]
        entry: dict[str, Any] = {}
        if account.balance:
            entry["balance"] = hex(account.balance)
        if account.nonce:
            entry["nonce"] = hex(account.nonce)
        if account.code:
            entry["code"] = "0x" + account.code.hex()
        storage = {"0x" + k.to_bytes(32, "big").hex(): hex(v)
                   for k, v in sorted(account.storage.items()) if v}
        if storage:
            entry["storage"] = storage
        out["0x" + address.hex()] = entry
    return out


# -- env ------------------------------------------------------------------------------------


@dataclass
class Ommer:
    delta: int  # how many blocks older than the current block
    address: bytes


@dataclass
class Env:
    coinbase: bytes
    gas_limit: int
    number: int
    timestamp: int
    difficulty: int | None
    prev_randao: bytes
    base_fee: int | None
    excess_blob_gas: int | None
    parent_beacon_block_root: bytes | None
    block_hashes: dict[int, bytes]
    parent_hash: bytes
    ommers: list[Ommer]
    withdrawals: list[Withdrawal] | None

    def ancestor_hash(self, number: int) -> bytes:
        return self.block_hashes.get(number, bytes(32))


def _header(**fields: Any) -> Header:
    """A header with only some fields meaningful: the parent in fee and difficulty rules."""
    header = Header(bytes(32), EMPTY_OMMERS_HASH, bytes(20), bytes(32), bytes(32), bytes(32),
                    bytes(256), 0, 0, 0, 0, 0, b"", bytes(32), bytes(8))
    for name, value in fields.items():
        setattr(header, name, value)
    return header


def parse_env(data: Any, config: ChainConfig, fork: Fork) -> Env:
    env = _object(data, "env")
    rules = fork.rules

    def req(key: str) -> Any:
        if key not in env or env[key] is None:
            raise T8nError(f"env: missing {key}")
        return env[key]

    def opt_num(key: str, bits: int = _UINT256) -> int | None:
        value = env.get(key)
        return None if value is None else _num(value, f"env: {key}", bits)

    coinbase = _address(req("currentCoinbase"), "env: currentCoinbase")
    gas_limit = _num(req("currentGasLimit"), "env: currentGasLimit", _UINT64)
    number = _num(req("currentNumber"), "env: currentNumber", _UINT64)
    timestamp = _num(req("currentTimestamp"), "env: currentTimestamp", _UINT64)

    hashes: dict[int, bytes] = {}
    for key, value in _object(env.get("blockHashes") or {}, "env: blockHashes").items():
        where = f"env: blockHashes[{key}]"
        if not isinstance(key, str):
            raise T8nError(f"{where}: bad block number")
        try:
            block = int(key, 16) if key[:2] in ("0x", "0X") else int(key, 10)
        except ValueError:
            raise T8nError(f"{where}: bad block number") from None
        hashes[block] = _fixed(value, 32, where)
    parent_hash = hashes.get(number - 1) if number else None
    if parent_hash is None:
        parent_hash = _fixed(env["parentHash"], 32, "env: parentHash") \
            if env.get("parentHash") is not None else bytes(32)

    ommers = []
    for i, raw in enumerate(env.get("ommers") or []):
        ommer = _object(raw, f"env: ommers[{i}]")
        delta = _num(ommer.get("delta"), f"env: ommers[{i}].delta", _UINT64)
        if not 0 < delta <= 8:
            raise T8nError(f"env: ommers[{i}].delta must be between 1 and 8, got {delta}")
        ommers.append(Ommer(delta, _address(ommer.get("address"), f"env: ommers[{i}].address")))

    difficulty: int | None = None
    prev_randao = bytes(32)
    if rules.eip3675:
        prev_randao = _word(req("currentRandom"), "env: currentRandom")
    else:
        difficulty = opt_num("currentDifficulty")
        if difficulty is None:
            if env.get("parentDifficulty") is None or env.get("parentTimestamp") is None:
                raise T8nError("env: missing currentDifficulty (or parentDifficulty and "
                               "parentTimestamp to derive it)")
            parent = _header(
                difficulty=_num(env["parentDifficulty"], "env: parentDifficulty"),
                timestamp=_num(env["parentTimestamp"], "env: parentTimestamp", _UINT64),
                number=max(number - 1, 0),
                ommers_hash=_fixed(env["parentUncleHash"], 32, "env: parentUncleHash")
                if env.get("parentUncleHash") is not None else EMPTY_OMMERS_HASH)
            if timestamp <= parent.timestamp:
                raise T8nError("env: currentTimestamp must be after parentTimestamp")
            difficulty = calc_difficulty(config, fork, _header(number=number,
                                                               timestamp=timestamp), parent)
        if env.get("currentRandom") is not None:
            prev_randao = _word(env["currentRandom"], "env: currentRandom")

    base_fee: int | None = None
    parent_base_fee = opt_num("parentBaseFee")
    if rules.eip1559:
        base_fee = opt_num("currentBaseFee")
        if base_fee is None:
            used, limit = opt_num("parentGasUsed", _UINT64), opt_num("parentGasLimit", _UINT64)
            if parent_base_fee is None or used is None or limit is None:
                raise T8nError("env: missing currentBaseFee (or parentBaseFee, parentGasUsed "
                               "and parentGasLimit to derive it)")
            base_fee = calc_base_fee(_header(gas_limit=limit, gas_used=used,
                                             base_fee=parent_base_fee), True)

    withdrawals: list[Withdrawal] | None = None
    if rules.eip4895:
        withdrawals = []
        for i, raw in enumerate(env.get("withdrawals") or []):
            w = _object(raw, f"env: withdrawals[{i}]")
            where = f"env: withdrawals[{i}]"
            withdrawals.append(Withdrawal(
                _num(w.get("index"), f"{where}.index", _UINT64),
                _num(w.get("validatorIndex"), f"{where}.validatorIndex", _UINT64),
                _address(w.get("address"), f"{where}.address"),
                _num(w.get("amount"), f"{where}.amount", _UINT64)))

    excess_blob_gas: int | None = None
    beacon_root: bytes | None = None
    if rules.eip4844:
        excess_blob_gas = opt_num("currentExcessBlobGas", _UINT64)
        if excess_blob_gas is None:
            parent = _header(
                excess_blob_gas=opt_num("parentExcessBlobGas", _UINT64) or 0,
                blob_gas_used=opt_num("parentBlobGasUsed", _UINT64) or 0,
                base_fee=parent_base_fee)
            excess_blob_gas = calc_excess_blob_gas(fork, parent, fork)
        if env.get("parentBeaconBlockRoot") is not None:
            beacon_root = _fixed(env["parentBeaconBlockRoot"], 32, "env: parentBeaconBlockRoot")

    return Env(coinbase, gas_limit, number, timestamp, difficulty, prev_randao, base_fee,
               excess_blob_gas, beacon_root, hashes, parent_hash, ommers, withdrawals)


# -- transactions -----------------------------------------------------------------------------


def _tx_type(tx: dict[str, Any]) -> int:
    if tx.get("type") is not None:
        kind = _num(tx["type"], "type", 8)
        if kind > 4:
            raise TxDecodeError(f"unknown transaction type {kind}")
        return kind
    if "authorizationList" in tx:
        return 4
    if "maxFeePerBlobGas" in tx or "blobVersionedHashes" in tx:
        return 3
    if "maxFeePerGas" in tx:
        return 2
    if "accessList" in tx:
        return 1
    return 0


def _signature_value(tx: dict[str, Any], *keys: str) -> int:
    for key in keys:
        if tx.get(key) is not None:
            return _num(tx[key], key)
    return 0


def tx_from_json(raw: Any, chain_id: int, fork: Fork) -> SignedTransaction:
    """A transaction from its JSON form; signed here when it carries a `secretKey`
    and no signature. Raises T8nError or TxDecodeError on malformed input."""
    tx = _object(raw, "transaction")
    kind = _tx_type(tx)
    data = tx.get("input", tx.get("data", "0x"))
    gas = tx.get("gas", tx.get("gasLimit"))
    if gas is None:
        raise T8nError("missing gas")
    to = None if tx.get("to") in (None, "", "0x") else _address(tx["to"], "to")
    access_list = []
    for i, entry in enumerate(tx.get("accessList") or []):
        entry = _object(entry, f"accessList[{i}]")
        access_list.append((_address(entry.get("address"), f"accessList[{i}].address"),
                            [_word(k, f"accessList[{i}].storageKeys")
                             for k in entry.get("storageKeys") or []]))
    v = _signature_value(tx, "v", "yParity", "y_parity")
    if kind:
        v = _signature_value(tx, "yParity", "y_parity", "v")
    r, s = _signature_value(tx, "r"), _signature_value(tx, "s")
    out = SignedTransaction(
        kind, nonce=_num(tx.get("nonce") or 0, "nonce", _UINT64), gas_limit=_num(gas, "gas", _UINT64),
        to=to, value=_num(tx.get("value") or 0, "value"), data=_hex(data, "input"),
        v=v, r=r, s=s, access_list=access_list)
    if kind == 0:
        out.gas_price = _num(tx.get("gasPrice") or 0, "gasPrice")
        if v >= 35:
            out.chain_id = (v - 35) // 2
    else:
        out.chain_id = _num(tx["chainId"], "chainId") if tx.get("chainId") is not None \
            else chain_id
        if kind == 1:
            out.gas_price = _num(tx.get("gasPrice") or 0, "gasPrice")
        else:
            out.max_fee_per_gas = _num(tx.get("maxFeePerGas") or 0, "maxFeePerGas")
            out.max_priority_fee_per_gas = _num(tx.get("maxPriorityFeePerGas") or 0,
                                                "maxPriorityFeePerGas")
    if kind == 3:
        out.max_fee_per_blob_gas = _num(tx.get("maxFeePerBlobGas") or 0, "maxFeePerBlobGas")
        out.blob_versioned_hashes = [_fixed(h, 32, "blobVersionedHashes")
                                     for h in tx.get("blobVersionedHashes") or []]
        if to is None:
            raise TxDecodeError("blob transaction must have a recipient")
    if kind == 4:
        for i, raw_auth in enumerate(tx.get("authorizationList") or []):
            auth = _object(raw_auth, f"authorizationList[{i}]")
            where = f"authorizationList[{i}]"
            parity = auth.get("yParity", auth.get("v"))
            out.authorization_list.append(Authorization(
                _num(auth.get("chainId"), f"{where}.chainId"),
                _address(auth.get("address"), f"{where}.address"),
                _num(auth.get("nonce"), f"{where}.nonce", _UINT64),
                _num(parity, f"{where}.yParity", 8),
                _num(auth.get("r"), f"{where}.r"), _num(auth.get("s"), f"{where}.s")))
        if to is None:
            raise TxDecodeError("set-code transaction must have a recipient")
    if tx.get("secretKey") is not None and v == r == s == 0:
        if kind == 0 and fork.rules.eip155 and tx.get("protected", True):
            out.chain_id = chain_id
        out.sign(_fixed(tx["secretKey"], 32, "secretKey"))
    return out


def parse_txs(data: Any, chain_id: int, fork: Fork) -> list[SignedTransaction | str]:
    """Each input transaction decoded, or the reason it could not be."""
    if data is None:
        return []
    items: list[Any]
    if isinstance(data, str):
        try:
            decoded = decode(_hex(data, "txs"))
        except RLPError as exc:
            raise T8nError(f"txs: bad RLP: {exc}") from None
        if not isinstance(decoded, list):
            raise T8nError("txs: the RLP must be a list of transactions")
        items = decoded
    elif isinstance(data, list):
        items = data
    else:
        raise T8nError("txs: expected a list of transactions or an RLP hex string")
    out: list[SignedTransaction | str] = []
    for item in items:
        try:
            out.append(decode_body_item(item) if isinstance(data, str)
                       else tx_from_json(item, chain_id, fork))
        except (TxDecodeError, T8nError, RLPError, ValueError) as exc:
            out.append(f"could not decode transaction: {exc}")
    return out


# -- the transition ---------------------------------------------------------------------------


@dataclass
class Transition:
    result: dict[str, Any]
    alloc: dict[str, Any]
    body: str
    traces: list[str] = field(default_factory=list)


def _receipt_json(tx: SignedTransaction, receipt: Receipt, index: int, gas_used: int,
                  contract: bytes | None) -> dict[str, Any]:
    out: dict[str, Any] = {"transactionHash": "0x" + tx.hash.hex()}
    if isinstance(receipt.status_or_root, bytes):
        out["post_state"] = "0x" + receipt.status_or_root.hex()
        out["root"] = out["post_state"]
    else:
        out["succeeded"] = receipt.succeeded
        out["status"] = hex(receipt.status_or_root)
    out["cumulativeGasUsed"] = hex(receipt.cumulative_gas_used)
    out["bloom"] = "0x" + receipt.bloom.hex()
    out["logs"] = [_log_json(log) for log in receipt.logs]
    out["type"] = hex(tx.tx_type)
    out["gasUsed"] = hex(gas_used)
    out["transactionIndex"] = hex(index)
    if contract is not None:
        out["contractAddress"] = "0x" + contract.hex()
    return out


def _log_json(log: Log) -> dict[str, Any]:
    return {"address": "0x" + log.address.hex(),
            "topics": ["0x" + t.to_bytes(32, "big").hex() for t in log.topics],
            "data": "0x" + log.data.hex()}


TraceOpener = Callable[[int, SignedTransaction], IO[str]]


def transition(alloc: Any, env_data: Any, txs_data: Any, fork_name: str, chain_id: int = 1,
               reward: int | None = None, trace: TraceOpener | None = None,
               blob_params: Any = None) -> Transition:
    """Apply the block described by `env_data` and `txs_data` to `alloc`.

    `reward` overrides the block reward of a proof-of-work fork (-1: pay none).
    `trace`, when given, opens the file each transaction's EIP-3155 trace goes to.
    `blob_params` replaces the fork's blob schedule (Cancun and later).
    """
    env_obj = _object(env_data, "env")
    number = _num(env_obj.get("currentNumber", 0), "env: currentNumber", _UINT64)
    timestamp = _num(env_obj.get("currentTimestamp", 0), "env: currentTimestamp", _UINT64)
    config, fork = resolve_fork(fork_name, number, timestamp, chain_id)
    if blob_params is not None and fork.rules.eip4844:
        fork = with_blob_params(fork, blob_params)
    state = load_alloc(alloc)
    env = parse_env(env_obj, config, fork)
    parsed = parse_txs(txs_data, chain_id, fork)
    rules = fork.rules

    block_env = BlockEnv(
        coinbase=env.coinbase, number=env.number, timestamp=env.timestamp,
        gas_limit=env.gas_limit, difficulty=env.difficulty or 0, prev_randao=env.prev_randao,
        base_fee=env.base_fee or 0, chain_id=chain_id, excess_blob_gas=env.excess_blob_gas or 0,
        parent_beacon_block_root=env.parent_beacon_block_root, block_hash=env.ancestor_hash)
    # Transactions that did not even decode are rejected up front; the rest go to the body.
    decoded = [(index, tx) for index, tx in enumerate(parsed) if not isinstance(tx, str)]
    rejected: list[dict[str, Any]] = [{"index": index, "error": tx}
                                      for index, tx in enumerate(parsed) if isinstance(tx, str)]

    def trace_scope(i: int, tx: SignedTransaction) -> Any:
        return _trace_file(trace, decoded[i][0], tx)

    outcome = apply_body(config, fork, block_env, state, [tx for _index, tx in decoded],
                         env.parent_hash, [(o.address, o.delta) for o in env.ommers],
                         env.withdrawals, reward=reward, skip_invalid=True,
                         trace=trace_scope if trace is not None else None)
    rejected += [{"index": decoded[i][0], "error": reason}
                 for i, _tx, reason in outcome.skipped]
    rejected.sort(key=lambda entry: entry["index"])
    included, receipts, requests = outcome.included, outcome.receipts, outcome.requests
    cumulative, blob_gas = outcome.gas_used, outcome.blob_gas_used
    block_exception = outcome.block_error
    receipts_json = [_receipt_json(tx, receipt, i, result.gas_used, result.contract_address)
                     for i, (tx, receipt, result)
                     in enumerate(zip(included, receipts, outcome.results))]

    all_logs = [log for r in receipts for log in r.logs]
    out: dict[str, Any] = {
        "stateRoot": "0x" + state.state_root().hex(),
        "txRoot": "0x" + transactions_root(included).hex(),
        "receiptsRoot": "0x" + receipts_root(receipts).hex(),
        "logsHash": "0x" + keccak256(encode([log.to_rlp() for log in all_logs])).hex(),
        "logsBloom": "0x" + block_bloom(receipts).hex(),
        "receipts": receipts_json,
        "rejected": rejected,
        "currentDifficulty": hex(env.difficulty) if env.difficulty is not None else None,
        "gasUsed": hex(cumulative),
        "currentBaseFee": hex(env.base_fee) if env.base_fee is not None else None,
    }
    if env.withdrawals is not None:
        out["withdrawalsRoot"] = "0x" + withdrawals_root(env.withdrawals).hex()
    if env.excess_blob_gas is not None:
        out["currentExcessBlobGas"] = hex(env.excess_blob_gas)
        out["blobGasUsed"] = hex(blob_gas)
    if rules.eip7685:
        present = [r for r in requests if len(r) > 1]
        out["requestsHash"] = "0x" + requests_hash(present).hex()
        out["requests"] = ["0x" + r.hex() for r in present]
    if block_exception is not None:
        out["blockException"] = block_exception
    body = "0x" + encode([tx.body_item() for tx in parsed if not isinstance(tx, str)]).hex()
    return Transition(out, dump_alloc(state), body)


@contextlib.contextmanager
def _trace_file(trace: TraceOpener | None, index: int,
                tx: SignedTransaction) -> Iterator[tuple[Tracer | None, Callable[[], None]]]:
    """A tracer writing to the file `trace` opens for this transaction; `discard` removes
    the file again (a rejected transaction leaves no trace)."""
    if trace is None:
        yield None, lambda: None
        return
    handle = trace(index, tx)
    dropped = False

    def discard() -> None:
        nonlocal dropped
        dropped = True

    try:
        yield Tracer(handle), discard
    finally:
        handle.close()
        name = getattr(handle, "name", None)
        if dropped and isinstance(name, str):
            with contextlib.suppress(OSError):
                os.remove(name)
