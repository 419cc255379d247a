"""A Python test API over the dev chain, in process (no HTTP): deploy, call, transact,
decoded results and events, snapshot/revert, state edits, impersonation and time travel.

    from chainvm.testing.api import TestChain

    chain = TestChain()
    token = chain.deploy(abi, bytecode, "Name", 18)
    token.transfer(chain.accounts[1], 10)          # non-view: a mined transaction
    assert token.balanceOf(chain.accounts[1]) == 10  # view: a call
    with chain.snapshot():
        token.transfer(chain.accounts[2], 5)
    # everything since the snapshot is gone here

By default every transaction is mined in a block of its own, executed once (the
block's execution gives the receipt and the return value); a failed transaction raises
TransactionFailed and leaves no block behind. `impersonate` works for contracts too.

ABI encoding uses `eth-abi` (installed with web3), with a fast path for static types.

titanoboa-style helpers: `chain.loads(vyper_source, *args)`, `chain.load(path, *args)`
(Vyper, or Solidity with a `solc`), `with chain.reverts("reason"):`, `with
chain.prank(address):` (any address, funded or not), `chain.time_travel(seconds=...,
blocks=...)`. Osaka is the default fork.

For pytest, installing chainvm registers a plugin (`chainvm.testing.pytest_plugin`)
whose `chain` fixture gives each test a fresh chain; no conftest is needed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainvm.crypto import keccak256
from chainvm.encoding.json_input import parse_data, short
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.transaction import TX_MAX_GAS_LIMIT, Transaction, apply_transaction
from chainvm.node.accounts import MAX_ACCOUNTS, mnemonic_problem
from chainvm.node.accounts import checksum as _checksum
from chainvm.node.devchain import (
    CALL_ARG_BITS,
    ETHER,
    CallArgs,
    DevChain,
    NodeError,
    RevertError,
    check_block_count,
    check_uint,
    revert_message,
    revert_reason,
)
from chainvm.node.tracing import CallTracer

__all__ = ["Contract", "Event", "TestChain", "TransactionFailed", "TransactionNotFound",
           "TxReceipt"]

UINT64_MAX = 2**64 - 1


class TransactionFailed(Exception):
    """A reverted call or transaction; `data` holds the revert bytes, `error` the decoded
    custom error or Error(string) as (name, args) when the ABI knows it."""

    def __init__(self, message: str, data: bytes = b"",
                 error: tuple[str, tuple[Any, ...]] | None = None) -> None:
        super().__init__(message)
        self.data = data
        self.error = error


class TransactionNotFound(KeyError):
    """`receipt` of a transaction hash the chain has not mined (a KeyError, as before,
    with the message as its text)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _revert_names(exc: TransactionFailed) -> set[str]:
    """What `reverts(reason)` may match for a failure: the Error(string) message, the
    custom error's (or Panic's) name."""
    names: set[str] = set()
    if exc.error is not None:
        name, args = exc.error
        names.add(name)
        if name == "Error" and args:
            names.add(str(args[0]))
    else:
        reason = revert_reason(exc.data)
        if reason is not None:
            names.add(reason)
    return names


@functools.lru_cache(maxsize=64)
def _compile_vyper_cached(source: str, path: str | None) -> tuple[str, bytes]:
    import vyper

    kwargs: dict[str, Any] = {"output_formats": ["abi", "bytecode"]}
    if path is not None:
        from vyper.compiler.input_bundle import FilesystemInputBundle

        kwargs["contract_path"] = path
        kwargs["input_bundle"] = FilesystemInputBundle([Path(path).parent, Path.cwd()])
    out = vyper.compile_code(source, **kwargs)
    return json.dumps(out["abi"]), bytes.fromhex(out["bytecode"].removeprefix("0x"))


def compile_vyper(source: str, path: str | Path | None = None
                  ) -> tuple[list[dict[str, Any]], bytes]:
    """(ABI, deployment bytecode) of Vyper source, compiled by the installed `vyper`
    (cached by source)."""
    try:
        import vyper  # noqa: F401
    except ImportError:
        raise RuntimeError("compiling Vyper needs the `vyper` package (pip install vyper)"
                           ) from None
    abi, bytecode = _compile_vyper_cached(source, str(path) if path is not None else None)
    return json.loads(abi), bytecode


def compile_solidity(path: Path, name: str | None = None
                     ) -> tuple[str, list[dict[str, Any]], bytes]:
    """(contract name, ABI, deployment bytecode) of a contract of a Solidity file,
    compiled by `solc` ($CHAINVM_SOLC, else the one on PATH). `name`: which contract
    (default: the file's last one with code)."""
    solc = os.environ.get("CHAINVM_SOLC") or shutil.which("solc")
    if solc is None:
        raise RuntimeError("compiling Solidity needs `solc` on PATH (or CHAINVM_SOLC)")
    done = subprocess.run([solc, "--combined-json", "abi,bin", str(path)],
                          check=False, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"solc failed on {path}: {done.stderr.strip()}")
    contracts = json.loads(done.stdout)["contracts"]
    picked = None
    for key, info in contracts.items():
        contract = key.rpartition(":")[2]
        if (name is None and info.get("bin")) or contract == name:
            picked = (contract, info)
    if picked is None:
        raise RuntimeError(f"{path}: no contract {name or 'with code'}")
    contract, info = picked
    abi = info["abi"] if isinstance(info["abi"], list) else json.loads(info["abi"])
    return contract, abi, bytes.fromhex(info["bin"])


@functools.lru_cache(maxsize=4096)
def checksum(address: bytes) -> str:
    return _checksum(address)


@functools.lru_cache(maxsize=4096)
def _from_hex_address(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not an address: {value}")
    return raw


def to_address(value: str | bytes | bytearray | Contract) -> bytes:
    """An address given as 20 bytes, as hex (checksummed or not) or as a Contract;
    TypeError for anything else, ValueError for the wrong length or bad hex."""
    if isinstance(value, bytes):
        if len(value) != 20:
            raise ValueError(f"address must be 20 bytes, got {len(value)}")
        return value
    if isinstance(value, str):
        try:
            return _from_hex_address(value)
        except ValueError:
            raise ValueError(f"not an address: {short(value)}") from None
    if isinstance(value, (bytearray, memoryview)):
        return to_address(bytes(value))
    if isinstance(value, Contract):
        return value.raw_address
    raise TypeError(f"expected an address (20 bytes or hex), got {type(value).__name__} "
                    f"{short(value)}")


def check_abi(abi: Any) -> list[dict[str, Any]]:
    """`abi` if it is a JSON ABI (a list of dicts, functions, events and errors named,
    their inputs and outputs typed); TypeError or ValueError saying what is wrong."""
    if not isinstance(abi, (list, tuple)):
        raise TypeError(f"abi: expected a list of dicts, got {type(abi).__name__} "
                        f"{short(abi)}")
    for i, item in enumerate(abi):
        if not isinstance(item, dict):
            raise TypeError(f"abi[{i}]: expected a dict, got {type(item).__name__}")
        kind = item.get("type", "function")
        if kind in ("function", "event", "error") and not isinstance(item.get("name"), str):
            raise ValueError(f"abi[{i}]: a {kind} without a name")
        for key in ("inputs", "outputs"):
            params = item.get(key, [])
            if not isinstance(params, list) or not all(
                    isinstance(p, dict) and isinstance(p.get("type"), str) for p in params):
                raise ValueError(f"abi[{i}] ({item.get('name', kind)}): {key} must be a "
                                 "list of dicts with a type")
    return abi if isinstance(abi, list) else list(abi)


def to_bytes(value: str | bytes | bytearray | memoryview, what: str) -> bytes:
    """Bytes given as bytes (or bytearray, memoryview) or as hex, with or without "0x"
    (as `deploy` takes bytecode); TypeError or ValueError naming `what` otherwise."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return parse_data(value, what)  # hex digits only: no blanks (an InputError)
    raise TypeError(f"{what}: expected bytes or a hex string, got {type(value).__name__} "
                    f"{short(value)}")


def _type_str(item: dict[str, Any]) -> str:
    t = item["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type_str(c) for c in item["components"]) + ")" + t[5:]
    return t


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_type_str(i) for i in item.get('inputs', []))})"


def _convert_args(types: list[str], args: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for t, a in zip(types, args):
        if t == "address" and isinstance(a, Contract):
            out.append(a.address)
        elif t == "address" and isinstance(a, bytes):
            out.append(checksum(a))
        else:
            out.append(a)
    return out


def _fix_addresses(types: list[str], values: Any) -> list[Any]:
    """eth-abi decodes addresses in lower case; give them EIP-55 checksums."""
    out: list[Any] = []
    for t, v in zip(types, values):
        if t == "address":
            out.append(checksum(bytes.fromhex(v[2:])))
        elif t.startswith("address[") and isinstance(v, (list, tuple)):
            out.append(type(v)(checksum(bytes.fromhex(x[2:])) for x in v))
        else:
            out.append(v)
    return out


# Fast ABI coding of the common static types (address, uintN, intN, bool, bytesN) with
# the values eth-abi would accept; anything else (or any value out of range) goes to
# eth-abi, which encodes it or raises its usual error.


@functools.lru_cache(maxsize=512)
def _static_kind(t: str) -> tuple[str, int] | None:
    if t == "address" or t == "bool":
        return t, 0
    for prefix in ("uint", "int", "bytes"):
        if t.startswith(prefix) and t[len(prefix):].isdigit():
            size = int(t[len(prefix):])
            if prefix == "bytes" and 1 <= size <= 32:
                return prefix, size
            if prefix != "bytes" and 8 <= size <= 256 and size % 8 == 0:
                return prefix, size
    return None


_ZERO12 = bytes(12)


def _encode_static(types: list[str], args: tuple[Any, ...]) -> bytes | None:
    if len(types) != len(args):
        return None
    out = []
    for t, a in zip(types, args):
        kind = _static_kind(t)
        if kind is None:
            return None
        name, size = kind
        if name == "uint":
            if type(a) is not int or not 0 <= a < 1 << size:
                return None
            out.append(a.to_bytes(32, "big"))
        elif name == "address":
            if isinstance(a, Contract):
                raw = a.raw_address
            elif isinstance(a, bytes) and len(a) == 20:
                raw = a
            elif isinstance(a, str) and len(a) == 42 and a[:2] == "0x":
                try:
                    raw = _from_hex_address(a)
                except ValueError:
                    return None
                body = a[2:]
                if not (body.islower() or body.isupper() or body.isdigit()
                        or checksum(raw) == a):
                    return None
            else:
                return None
            out.append(_ZERO12 + raw)
        elif name == "bool":
            if type(a) is not bool:
                return None
            out.append((1 if a else 0).to_bytes(32, "big"))
        elif name == "int":
            half = 1 << (size - 1)
            if type(a) is not int or not -half <= a < half:
                return None
            out.append((a % (1 << 256)).to_bytes(32, "big"))
        else:  # bytesN
            if not isinstance(a, bytes) or len(a) != size:
                return None
            out.append(a.ljust(32, b"\x00"))
    return b"".join(out)


def _decode_static(types: list[str], data: bytes) -> list[Any] | None:
    if len(data) < 32 * len(types):
        return None
    out: list[Any] = []
    for i, t in enumerate(types):
        kind = _static_kind(t)
        if kind is None:
            return None
        name, size = kind
        word = data[32 * i:32 * i + 32]
        if name == "uint":
            value = int.from_bytes(word, "big")
            if value >> size:
                return None
            out.append(value)
        elif name == "address":
            if word[:12] != _ZERO12:
                return None
            out.append(checksum(word[12:]))
        elif name == "bool":
            value = int.from_bytes(word, "big")
            if value > 1:
                return None
            out.append(bool(value))
        elif name == "int":
            value = int.from_bytes(word, "big", signed=True)
            if not -(1 << (size - 1)) <= value < 1 << (size - 1):
                return None
            out.append(value)
        else:  # bytesN
            if any(word[size:]):
                return None
            out.append(word[:size])
    return out


@dataclass
class Event:
    name: str
    address: str
    args: dict[str, Any]
    topics: list[bytes]
    data: bytes


@dataclass
class TxReceipt:
    tx_hash: bytes
    status: int
    gas_used: int
    block_number: int
    contract_address: str | None
    logs: list[Any]
    return_value: Any = None
    chain: Any = field(default=None, repr=False)
    _events: list[Event] | None = field(default=None, repr=False)

    @property
    def events(self) -> list[Event]:
        """The logs decoded with the ABIs the chain knows (decoded on first access)."""
        if self._events is None:
            self._events = self.chain.decode_logs(self.logs) if self.chain is not None else []
        return self._events


def _is_log(log: Any) -> bool:
    """A receipt's log (the state's or a stored receipt's): address, topics and data."""
    return all(hasattr(log, field) for field in ("address", "topics", "data"))


class Contract:
    """A deployed contract; ABI functions are methods (view/pure: a call; others: a
    transaction returning the decoded return value via a call at the same state first)."""

    def __init__(self, chain: TestChain, address: str | bytes, abi: list[dict[str, Any]],
                 name: str | None = None) -> None:
        self.chain = chain
        self.raw_address = to_address(address)
        self.address = checksum(self.raw_address)
        self.abi = abi = check_abi(abi)
        self.name = name or "Contract"
        self.functions: dict[str, list[dict[str, Any]]] = {}
        self.events: dict[bytes, dict[str, Any]] = {}
        self.errors: dict[bytes, dict[str, Any]] = {}
        self._selectors: dict[int, bytes] = {}
        for item in abi:
            kind = item.get("type")
            if kind == "function":
                self.functions.setdefault(item["name"], []).append(item)
            elif kind == "event":
                self.events[keccak256(_signature(item).encode())] = item
            elif kind == "error":
                self.errors[keccak256(_signature(item).encode())[:4]] = item
        chain._register(self)

    def __repr__(self) -> str:
        functions = ", ".join(sorted(self.__dict__.get("functions", {})))
        return f"<{self.name} at {self.address}: {functions}>"

    def __getattr__(self, name: str) -> Any:
        functions = self.__dict__.get("functions", {})
        if name not in functions:
            raise AttributeError(name)

        def method(*args: Any, sender: str | bytes | None = None, value: int = 0,
                   gas: int | None = None, transact: bool | None = None) -> Any:
            item = self._pick(name, args)
            view = item.get("stateMutability") in ("view", "pure")
            if transact if transact is not None else not view:
                receipt = self.transact(name, *args, sender=sender, value=value, gas=gas,
                                        _item=item)
                return receipt.return_value
            return self.call(name, *args, sender=sender, value=value, _item=item)

        return method

    def _pick(self, name: str, args: tuple[Any, ...]) -> dict[str, Any]:
        overloads = self.functions.get(name)
        if overloads is None:
            raise ValueError(f"the contract has no function {name!r}")
        candidates = [f for f in overloads if len(f.get("inputs", [])) == len(args)]
        if not candidates:
            raise TypeError(f"{name}: no overload takes {len(args)} arguments")
        return candidates[0]

    def encode(self, name: str, *args: Any, _item: dict[str, Any] | None = None) -> bytes:
        from eth_abi import encode

        item = _item or self._pick(name, args)
        key = id(item)
        sel = self._selectors.get(key)
        if sel is None:
            sel = self._selectors[key] = keccak256(_signature(item).encode())[:4]
        types = [_type_str(i) for i in item.get("inputs", [])]
        fast = _encode_static(types, args)
        if fast is not None:
            return sel + fast
        from eth_abi.exceptions import EncodingError, EncodingTypeError

        try:
            return sel + encode(types, _convert_args(types, args))
        except EncodingTypeError as exc:  # (the ValueError and TypeError the API promises)
            raise TypeError(f"{name}: {exc}") from None
        except EncodingError as exc:  # a value out of its type's range
            raise ValueError(f"{name}: {exc}") from None

    def _decode_output(self, item: dict[str, Any], output: bytes) -> Any:
        from eth_abi import decode

        types = [_type_str(o) for o in item.get("outputs", [])]
        if not types:
            return None
        values = _decode_static(types, output)
        if values is None:
            values = _fix_addresses(types, decode(types, output))
        return values[0] if len(values) == 1 else values

    def call(self, name: str, *args: Any, sender: str | bytes | None = None, value: int = 0,
             _item: dict[str, Any] | None = None) -> Any:
        item = _item or self._pick(name, args)
        output = self.chain.call(self.raw_address, self.encode(name, *args, _item=item),
                                 sender=sender, value=value)
        return self._decode_output(item, output)

    def transact(self, name: str, *args: Any, sender: str | bytes | None = None,
                 value: int = 0, gas: int | None = None,
                 _item: dict[str, Any] | None = None) -> TxReceipt:
        item = _item or self._pick(name, args)
        data = self.encode(name, *args, _item=item)
        receipt = self.chain.transact(self.raw_address, data, sender=sender, value=value,
                                      gas=gas)
        # The transaction's own output (None when not mined yet, with automine off).
        if receipt.return_value is not None:
            receipt.return_value = self._decode_output(item, receipt.return_value)
        return receipt

    def decode_error(self, data: bytes) -> tuple[str, tuple[Any, ...]] | None:
        from eth_abi import decode

        item = self.errors.get(data[:4])
        if item is not None:
            types = [_type_str(i) for i in item.get("inputs", [])]
            return item["name"], tuple(_fix_addresses(types, decode(types, data[4:])))
        if data[:4] == bytes.fromhex("08c379a0"):
            return "Error", tuple(decode(["string"], data[4:]))
        if data[:4] == bytes.fromhex("4e487b71"):
            return "Panic", tuple(decode(["uint256"], data[4:]))
        return None

    def decode_log(self, log: Any) -> Event | None:
        from eth_abi import decode

        if not _is_log(log):
            raise TypeError(f"decode_log: expected a log, got {type(log).__name__}")
        if not log.topics:
            return None
        item = self.events.get(log.topics[0].to_bytes(32, "big"))
        if item is None:
            return None
        inputs = item.get("inputs", [])
        indexed = [i for i in inputs if i.get("indexed")]
        plain = [i for i in inputs if not i.get("indexed")]
        args: dict[str, Any] = {}
        for i, topic in zip(indexed, log.topics[1:]):
            t = _type_str(i)
            raw = topic.to_bytes(32, "big")
            dynamic = t in ("string", "bytes") or t.endswith("]") or t.startswith("(")
            args[i["name"]] = raw if dynamic else _fix_addresses([t], decode([t], raw))[0]
        plain_types = [_type_str(i) for i in plain]
        values = _fix_addresses(plain_types, decode(plain_types, log.data)) if plain else []
        for i, v in zip(plain, values):
            args[i["name"]] = v
        return Event(item["name"], checksum(log.address), args,
                     [t.to_bytes(32, "big") for t in log.topics], log.data)


class TestChain:
    """An in-process chain with funded dev accounts (see DevChain for the options)."""

    __test__ = False  # not a pytest test class

    def __init__(self, fork: str = "Osaka", chain_id: int = 31337, accounts: int = 10,
                 balance: int = 10_000 * ETHER, blocks: bool = True, **kwargs: Any) -> None:
        """`blocks=False` is the fast mode: transactions run directly on the head state
        (no signing, pool, block building or import; block number and time move only
        with `mine` and `time_travel`), as titanoboa does. `fork_url=URL,
        fork_block=N` (and `fork_cache=DIR`) fork a remote node's chain at block N, as
        `chainvm node --fork-url` does (docs/node.md, Fork mode).

        Invalid arguments raise TypeError or ValueError: `chain_id` must be 1..2^64-1,
        `accounts` 0..MAX_ACCOUNTS (100,000, as `chainvm node --accounts`), `balance`
        a uint256."""
        check_uint(accounts, "accounts")
        if accounts > MAX_ACCOUNTS:
            raise ValueError(f"accounts: {accounts} is more than {MAX_ACCOUNTS} "
                             "(each is derived and funded at start)")
        if check_uint(chain_id, "chain_id", 64) == 0:
            raise ValueError("chain_id: must be between 1 and 2^64-1")
        check_uint(balance, "balance")
        if not isinstance(blocks, bool):
            raise TypeError(f"blocks: expected True or False, got {type(blocks).__name__}")
        if "mnemonic" in kwargs:  # (as `chainvm node --mnemonic` checks it)
            mnemonic = kwargs["mnemonic"]
            if not isinstance(mnemonic, str):
                raise TypeError(f"mnemonic: expected a str, got {type(mnemonic).__name__}")
            problem = mnemonic_problem(mnemonic)
            if problem is not None:
                raise ValueError(f"mnemonic: not a valid BIP-39 mnemonic: {problem}")
        self.dev = DevChain(fork=fork, chain_id=chain_id, accounts=accounts,
                            balance=balance, **kwargs)
        self.blocks = blocks
        self._env_key: tuple[bytes, int, int | None] | None = None
        self._env: tuple[BlockEnv, Any] | None = None
        self.accounts = [checksum(a) for a in self.dev.accounts]
        self.default_sender: str = self.accounts[0] if self.accounts else checksum(bytes(20))
        self._contracts: dict[bytes, Contract] = {}
        self._pranked: set[bytes] = set()
        self.fork = self.dev.head.fork.name

    def __repr__(self) -> str:
        mode = "blocks" if self.blocks else "no blocks"
        return (f"<TestChain {self.fork} chain_id={self.dev.chain_id} "
                f"block={self.block_number} ({mode}), {len(self._contracts)} contracts>")

    def _register(self, contract: Contract) -> None:
        self._contracts[contract.raw_address] = contract

    # -- state ----------------------------------------------------------------------------

    @property
    def block_number(self) -> int:
        return self.dev.head.number

    @property
    def timestamp(self) -> int:
        return self.dev.head.header.timestamp

    def balance(self, address: str | bytes) -> int:
        return self.dev.state().balance(to_address(address))

    def nonce(self, address: str | bytes) -> int:
        return self.dev.state().nonce(to_address(address))

    def code(self, address: str | bytes) -> bytes:
        return self.dev.state().code(to_address(address))

    def storage(self, address: str | bytes, slot: int) -> int:
        return self.dev.state().get_storage(to_address(address), check_uint(slot, "slot"))

    # The edits check every argument before changing anything: TypeError for a value of
    # the wrong type, ValueError for one out of range (balances, slots and storage values
    # are uint256, nonces uint64).

    def set_balance(self, address: str | bytes, value: int) -> None:
        raw = to_address(address)
        self.dev.set_balance(raw, check_uint(value, "balance"))

    def set_code(self, address: str | bytes, code: bytes | str) -> None:
        """`code`: bytes, or hex (as `deploy` takes bytecode)."""
        raw = to_address(address)
        self.dev.set_code(raw, to_bytes(code, "code"))

    def set_storage(self, address: str | bytes, slot: int, value: int) -> None:
        raw = to_address(address)
        self.dev.set_storage(raw, check_uint(slot, "slot"), check_uint(value, "value"))

    def set_nonce(self, address: str | bytes, nonce: int) -> None:
        raw = to_address(address)
        self.dev.set_nonce(raw, check_uint(nonce, "nonce", 64))

    def deal_erc20(self, token: str | bytes, holder: str | bytes, amount: int) -> None:
        """Set `holder`'s balance of an ERC-20 token, as forge-std's `deal` does: the slot
        the token's balanceOf reads for the holder is found and written. ValueError if the
        token keeps it where no single slot does."""
        self._erc20(self.dev.deal_erc20, to_address(holder), to_address(token),
                    check_uint(amount, "amount"))

    def set_erc20_allowance(self, token: str | bytes, owner: str | bytes,
                            spender: str | bytes, amount: int) -> None:
        """Set what `spender` may move of `owner`'s tokens (found as `deal_erc20` finds a
        balance)."""
        self._erc20(self.dev.set_erc20_allowance, to_address(owner), to_address(spender),
                    to_address(token), check_uint(amount, "amount"))

    @staticmethod
    def _erc20(edit: Any, *args: Any) -> None:
        try:
            edit(*args)
        except NodeError as exc:
            raise ValueError(str(exc)) from None

    @contextlib.contextmanager
    def impersonate(self, address: str | bytes) -> Iterator[str]:
        raw = to_address(address)
        self.dev.impersonate(raw)
        try:
            yield checksum(raw)
        finally:
            self.dev.stop_impersonating(raw)

    @contextlib.contextmanager
    def prank(self, address: str | bytes) -> Iterator[str]:
        """Act as `address` (titanoboa's `prank`): calls and transactions inside come from
        it, whether or not it holds ether (its gas is not charged) or has code."""
        raw = to_address(address)
        was_impersonated = raw in self.dev.impersonated
        previous = self.default_sender
        self.dev.impersonate(raw)
        self._pranked.add(raw)
        self.default_sender = checksum(raw)
        try:
            yield self.default_sender
        finally:
            self.default_sender = previous
            self._pranked.discard(raw)
            if not was_impersonated:
                self.dev.stop_impersonating(raw)

    @contextlib.contextmanager
    def reverts(self, reason: str | None = None) -> Iterator[None]:
        """Expect the block to revert (titanoboa's `reverts`). `reason`: the Error(string)
        message, or the name of the custom error (or "Panic"); None accepts any revert."""
        try:
            yield
        except TransactionFailed as exc:
            if reason is None:
                return
            found = _revert_names(exc)
            if reason not in found:
                raise AssertionError(f"expected a revert with {reason!r}, got {exc}") from exc
            return
        raise AssertionError("expected a revert" + (f" with {reason!r}" if reason else "")
                             + ", nothing reverted")

    def mine(self, blocks: int = 1) -> None:
        self.dev.mine(check_block_count(blocks, "blocks"))

    def time_travel(self, seconds: int | None = None, blocks: int | None = None,
                    block_delta: int = 12) -> None:
        """Move time and the block number on at once (titanoboa's `time_travel`): the
        next call and transaction see `block.number` `blocks` higher and `block.timestamp`
        `seconds` later (default `blocks * block_delta`). The blocks in between are mined
        empty, so the chain stays a valid one."""
        if blocks is None:
            blocks = 0
        for name, number in (("seconds", seconds), ("blocks", blocks),
                             ("block_delta", block_delta)):
            if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
                raise TypeError(f"{name}: expected an int, got {type(number).__name__}")
        if seconds is None:
            seconds = blocks * block_delta
        if seconds < 0 or blocks < 0:
            raise ValueError("time_travel goes forward only")
        check_block_count(blocks, "time_travel: blocks")
        if seconds < blocks:
            raise ValueError(f"{blocks} blocks need at least {blocks} seconds")
        env, _fork = self.pending_env()
        target = env.timestamp + seconds
        if target > UINT64_MAX:  # refused before any block is mined
            raise ValueError(f"time_travel: the timestamp {target} would pass 2^64-1")
        if blocks:
            step = seconds // blocks
            self.dev.mine(blocks, timestamp=env.timestamp, interval=step)
        if target > self.dev.head.header.timestamp:
            self.dev.set_next_timestamp(target)
        self._env = None

    # -- compiling and deploying from source ---------------------------------------------

    def loads(self, source: str, *args: Any, name: str | None = None,
              sender: str | bytes | None = None, value: int = 0) -> Contract:
        """Compile Vyper source with the installed `vyper` and deploy it with `args`."""
        abi, bytecode = compile_vyper(source)
        return self.deploy(abi, bytecode, *args, sender=sender, value=value,
                           name=name or "VyperContract")

    def load(self, path: str | Path, *args: Any, name: str | None = None,
             sender: str | bytes | None = None, value: int = 0) -> Contract:
        """Compile a `.vy` file (Vyper) or `.sol` file (the `solc` on PATH, or
        $CHAINVM_SOLC; `name` picks the contract) and deploy it with `args`."""
        file = Path(path)
        if file.suffix == ".vy":
            abi, bytecode = compile_vyper(file.read_text(), file)
            return self.deploy(abi, bytecode, *args, sender=sender, value=value,
                               name=name or file.stem)
        if file.suffix == ".sol":
            contract, abi, bytecode = compile_solidity(file, name)
            return self.deploy(abi, bytecode, *args, sender=sender, value=value,
                               name=contract)
        raise ValueError(f"{file}: neither .vy nor .sol")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[int]:
        sid = self.dev.snapshot()
        try:
            yield sid
        finally:
            self.dev.revert(sid)

    @contextlib.contextmanager
    def isolated(self) -> Iterator[TestChain]:
        """Everything done inside is undone after: the chain (a snapshot) and this
        object's own settings (default sender, pranks, known contracts)."""
        saved = (self.default_sender, set(self._pranked), dict(self._contracts),
                 set(self.dev.impersonated))
        sid = self.dev.snapshot()
        try:
            yield self
        finally:
            self.dev.revert(sid)
            self.default_sender, self._pranked, self._contracts, impersonated = saved
            self.dev.impersonated = impersonated
            self._env = None

    def take_snapshot(self) -> int:
        return self.dev.snapshot()

    def revert(self, sid: int) -> bool:
        """Back to snapshot `sid` (False if there is no such snapshot, as evm_revert)."""
        if type(sid) is not int:
            raise TypeError(f"revert: a snapshot id is an int, got {type(sid).__name__}")
        return self.dev.revert(sid)

    # -- execution ----------------------------------------------------------------------------

    def _sender(self, sender: str | bytes | None) -> bytes:
        return to_address(sender if sender is not None else self.default_sender)

    def _error(self, exc: NodeError) -> TransactionFailed:
        if isinstance(exc, RevertError):
            decoded = None
            for contract in self._contracts.values():
                decoded = contract.decode_error(exc.output)
                if decoded is not None:
                    break
            name = f" {decoded[0]}{decoded[1]}" if decoded else ""
            return TransactionFailed(f"{exc}{name}", exc.output, decoded)
        return TransactionFailed(str(exc))

    def call(self, to: str | bytes | None, data: bytes = b"", sender: str | bytes | None = None,
             value: int = 0) -> bytes:
        check_uint(value, "value")
        data = to_bytes(data, "data")
        if to is not None and value == 0:
            return self._fast_call(to_address(to), data, self._sender(sender))
        req = CallArgs(sender=self._sender(sender),
                          to=to_address(to) if to is not None else None, value=value, data=data)
        try:
            return self.dev.call(req)
        except NodeError as exc:
            raise self._error(exc) from None

    def transact(self, to: str | bytes | None, data: bytes = b"",
                 sender: str | bytes | None = None, value: int = 0,
                 gas: int | None = None) -> TxReceipt:
        check_uint(value, "value")
        data = to_bytes(data, "data")
        if gas is not None:
            check_uint(gas, "gas", CALL_ARG_BITS["gas"])
        if not self.blocks:
            return self._direct_transact(to, data, self._sender(sender), value, gas)
        pending = self.dev.pending_env()
        if gas is None:
            # No estimate (it costs several executions): the block's limit, capped by
            # EIP-7825 from Osaka. Dev accounts can afford the reservation.
            env, fork = pending
            gas = env.gas_limit if not fork.rules.eip7825 else min(env.gas_limit,
                                                                   TX_MAX_GAS_LIMIT)
        req = CallArgs(sender=self._sender(sender),
                          to=to_address(to) if to is not None else None, value=value, data=data,
                          gas=gas)
        if req.sender in self._pranked:
            return self._pranked_transact(req, pending)
        return self._send(req, pending)

    def _pranked_transact(self, req: CallArgs, pending: tuple[BlockEnv, Any]
                          ) -> TxReceipt:
        """A transaction of a pranked sender: its gas is lent to it for the transaction
        and not charged (the sender may hold nothing), as titanoboa's prank."""
        env, fork = pending
        assert req.sender is not None and req.gas is not None
        price = env.base_fee if fork.rules.eip1559 else 0
        if fork.rules.eip1559:
            req.max_fee_per_gas, req.max_priority_fee_per_gas = price, 0
        else:
            req.gas_price = 0
        credit = req.gas * price
        self._lend(req.sender, credit)
        try:
            receipt = self._send(req, pending)
        except BaseException:
            self._lend(req.sender, -credit)
            raise
        self._lend(req.sender, receipt.gas_used * price - credit)
        return receipt

    def _lend(self, address: bytes, amount: int) -> None:
        if amount:
            self.dev.set_balance(address, self.dev.state().balance(address) + amount)

    def _send(self, req: CallArgs, pending: tuple[BlockEnv, Any]) -> TxReceipt:
        dev = self.dev
        parent, next_timestamp = dev.chain.head_hash, dev.next_timestamp
        try:
            tx_hash = dev.send_transaction(req, pending)
        except NodeError as exc:
            raise self._error(exc) from None
        found = dev.chain.get_transaction(tx_hash)
        if found is None:  # automine off: in the pool
            raise TransactionNotFound(f"transaction 0x{tx_hash.hex()} not mined")
        _tx, _receipt, stored, index = found
        result = dev.tx_result(stored, index)
        if result is not None and not result.success:
            # A failed transaction leaves no block behind (as if it had been refused).
            if len(stored.block.transactions) == 1 and dev.chain.head_hash == stored.hash:
                dev.undo_head(parent)
                dev.next_timestamp = next_timestamp
            if result.error == "execution reverted":
                raise self._error(RevertError(result.output, revert_message(result.output)))
            raise TransactionFailed(f"transaction 0x{tx_hash.hex()} failed: {result.error}")
        out = self._receipt(tx_hash, found)
        if result is not None:
            out.return_value = result.output
        return out

    def pending_env(self) -> tuple[BlockEnv, Any]:
        """The environment of the next block, cached while the head and clock stay."""
        dev = self.dev
        key = (dev.chain.head_hash, dev.time_offset, dev.next_timestamp)
        if key != self._env_key or self._env is None:
            self._env = dev.pending_env()
            self._env_key = key
        return self._env

    def _fast_call(self, to: bytes, data: bytes, sender: bytes) -> bytes:
        env, fork = self.pending_env()
        try:
            return self.dev.call_in_place(sender, to, data, env, fork)
        except NodeError as exc:
            raise self._error(exc) from None

    def _direct_transact(self, to: str | bytes | None, data: bytes, sender: bytes, value: int,
                         gas: int | None) -> TxReceipt:
        env, fork = self.pending_env()
        state = self.dev.state()
        if gas is None:
            gas = env.gas_limit if not fork.rules.eip7825 else min(env.gas_limit,
                                                                   TX_MAX_GAS_LIMIT)
        london = fork.rules.eip1559
        tx = Transaction(sender=sender, to=to_address(to) if to is not None else None,
                         nonce=state.nonce(sender), gas_limit=gas, value=value, data=data,
                         tx_type=2 if london else 0,
                         gas_price=None if london else 0,
                         max_fee_per_gas=env.base_fee if london else None,
                         max_priority_fee_per_gas=0 if london else None)
        # A pranked sender is lent its gas (see _pranked_transact).
        price = env.base_fee if london else 0
        credit = gas * price if sender in self._pranked else 0
        self._lend(sender, credit)
        try:
            result = apply_transaction(state, fork, env, tx)
        except InvalidTransaction as exc:
            self._lend(sender, -credit)
            raise TransactionFailed(str(exc)) from None
        if credit:
            self._lend(sender, result.gas_used * price - credit)
        if not result.success:
            if result.error == "execution reverted":
                raise self._error(RevertError(result.output, revert_message(result.output)))
            raise TransactionFailed(result.error or "execution failed")
        contract = result.contract_address
        out = TxReceipt(b"", 1, result.gas_used, self.dev.head.number,
                        checksum(contract) if contract else None, list(result.logs),
                        chain=self)
        out.return_value = result.output
        return out

    def decode_logs(self, logs: list[Any]) -> list[Event]:
        out = []
        for log in logs:
            if not _is_log(log):
                raise TypeError(f"decode_logs: expected logs, got {type(log).__name__}")
            c = self._contracts.get(log.address)
            event = c.decode_log(log) if c is not None else None
            if event is not None:
                out.append(event)
        return out

    def receipt(self, tx_hash: bytes | str) -> TxReceipt:
        """The receipt of a mined transaction (`tx_hash`: 32 bytes or hex);
        TransactionNotFound (a KeyError) when the chain has not mined it."""
        tx_hash = to_bytes(tx_hash, "tx_hash")
        if len(tx_hash) != 32:
            raise ValueError(f"tx_hash: expected 32 bytes, got {len(tx_hash)}")
        found = self.dev.chain.get_transaction(tx_hash)
        if found is None:
            raise TransactionNotFound(f"transaction 0x{tx_hash.hex()} not mined")
        return self._receipt(tx_hash, found)

    def _receipt(self, tx_hash: bytes, found: tuple[Any, Any, Any, int]) -> TxReceipt:
        _tx, receipt, stored, index = found
        info = self.dev.receipt_details(stored, index)
        status = receipt.status_or_root if isinstance(receipt.status_or_root, int) else 1
        contract = info["contract_address"]
        out = TxReceipt(tx_hash, status, info["gas_used"], stored.number,
                        checksum(contract) if contract and status else None, list(receipt.logs),
                        chain=self)
        if status == 0:
            raise TransactionFailed(f"transaction 0x{tx_hash.hex()} reverted")
        return out

    def deploy(self, abi: list[dict[str, Any]], bytecode: bytes | str, *args: Any,
               sender: str | bytes | None = None, value: int = 0,
               name: str | None = None) -> Contract:
        from eth_abi import encode

        abi = check_abi(abi)
        code = to_bytes(bytecode, "bytecode")
        ctor = next((i for i in abi if i.get("type") == "constructor"), None)
        if ctor is not None:
            types = [_type_str(i) for i in ctor.get("inputs", [])]
            code += encode(types, _convert_args(types, args))
        receipt = self.transact(None, code, sender=sender, value=value)
        assert receipt.contract_address is not None
        contract = Contract(self, receipt.contract_address, abi, name)
        contract.deploy_receipt = receipt  # type: ignore[attr-defined]
        return contract

    def at(self, address: str | bytes, abi: list[dict[str, Any]],
           name: str | None = None) -> Contract:
        return Contract(self, address, abi, name)

    def trace_call(self, to: str | bytes, data: bytes, sender: str | bytes | None = None,
                   value: int = 0) -> dict[str, Any]:
        """geth's call-tracer tree for a call at the head."""
        tracer = CallTracer()
        check_uint(value, "value")
        data = to_bytes(data, "data")
        who = self._sender(sender)
        req = CallArgs(sender=who, to=to_address(to), value=value, data=data)
        result = self.dev.execute(req, tracer=tracer)
        return tracer.result(result, {"type": "CALL", "from": "0x" + who.hex(),
                                      "to": "0x" + to_address(to).hex(), "input": "0x" + data.hex()})

    def gas_profile(self, to: str | bytes, data: bytes, sender: str | bytes | None = None,
                    value: int = 0) -> list[tuple[str, str, str, int, int]]:
        """Gas of a call by (contract, function selector, opcode): rows (address,
        selector, opcode, count, gas), most gas first. The gas of a CALL-family opcode
        includes what it forwards. `print_gas_profile` prints them as a table."""
        from chainvm.node.devchain import StepCollector

        class Profile(StepCollector):
            def __init__(self) -> None:
                super().__init__(stack=False, storage=False)
                self.rows: dict[tuple[bytes, bytes, str], list[int]] = {}

            def step(self, f: Any, pc: int, op: int, gas: int, cost: int, stack: list[int],
                     mem_size: int, refund: int, name: str, error: str | None) -> None:
                key = (f.address, bytes(f.calldata[:4]), name)
                row = self.rows.get(key)
                if row is None:
                    row = self.rows[key] = [0, 0]
                row[0] += 1
                row[1] += cost

        prof = Profile()
        check_uint(value, "value")
        data = to_bytes(data, "data")
        req = CallArgs(sender=self._sender(sender), to=to_address(to), value=value,
                          data=data)
        self.dev.execute(req, tracer=prof)
        rows = [(checksum(bytes(a)), "0x" + sel.hex(), op, c, g)
                for (a, sel, op), (c, g) in prof.rows.items()]
        return sorted(rows, key=lambda r: -r[4])

    def print_gas_profile(self, to: str | bytes, data: bytes, **kwargs: Any) -> None:
        rows = self.gas_profile(to, data, **kwargs)
        print(f"{'contract':42}  {'selector':10}  {'opcode':14} {'count':>7} {'gas':>10}")
        for address, sel, op, count, gas in rows:
            print(f"{address:42}  {sel:10}  {op:14} {count:7d} {gas:10d}")


try:
    import pytest

    @pytest.fixture(scope="module")
    def _chainvm_module_chain() -> TestChain:
        return TestChain()

    @pytest.fixture
    def chain(_chainvm_module_chain: TestChain) -> Iterator[TestChain]:
        """A chain reverted after each test to where the module left it."""
        with _chainvm_module_chain.snapshot():
            yield _chainvm_module_chain
except ImportError:  # pragma: no cover - pytest is optional
    pass
