"""Running BlockchainTests fixtures: import every block, then compare head and state.

A test passes when every block without an expected exception imports, every
block with one is rejected, the head is `lastblockhash` and the head state
matches `postState` (or `postStateHash`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainvm.chain.block import Block, BlockDecodeError, Header, receipts_root
from chainvm.chain.chain import Chain
from chainvm.chain.config import ChainConfig, UnknownNetwork, config_for_network
from chainvm.chain.processing import InvalidBlock
from chainvm.encoding.json_input import (
    InputError,
    expect_list,
    expect_object,
    read_json_file,
    short,
)
from chainvm.encoding.rlp import RLPError
from chainvm.evm.statetest import (
    FixtureError,
    load_pre_state,
    parse_address,
    parse_bytes,
    parse_int,
)
from chainvm.evm.transaction import ExcessBlobGasTooLarge
from chainvm.state.state import State


@dataclass
class BlockTestResult:
    name: str
    network: str
    passed: bool
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "network": self.network, "pass": self.passed,
                "error": self.error}


_HEADER_JSON = [
    ("parentHash", "hash"), ("uncleHash", "hash"), ("coinbase", "address"),
    ("stateRoot", "hash"), ("transactionsTrie", "hash"), ("receiptTrie", "hash"),
    ("bloom", "bytes"), ("difficulty", "int"), ("number", "int"), ("gasLimit", "int"),
    ("gasUsed", "int"), ("timestamp", "int"), ("extraData", "bytes"), ("mixHash", "hash"),
    ("nonce", "bytes"),
]
_OPTIONAL_JSON = [("baseFeePerGas", "int"), ("withdrawalsRoot", "hash"), ("blobGasUsed", "int"),
                  ("excessBlobGas", "int"), ("parentBeaconBlockRoot", "hash"),
                  ("requestsHash", "hash")]


def header_from_json(data: dict[str, Any]) -> Header:
    def value(key: str, kind: str) -> object:
        raw = data[key]
        if kind == "int":
            return parse_int(raw)
        if kind == "address":
            return parse_address(raw)
        return parse_bytes(raw)

    fields = [value(k, kind) for k, kind in _HEADER_JSON]
    for key, kind in _OPTIONAL_JSON:
        if key not in data:
            break
        fields.append(value(key, kind))
    return Header.from_rlp(_to_rlp_items(fields))


def _to_rlp_items(fields: list[object]) -> list[Any]:
    out: list[Any] = []
    for f in fields:
        if isinstance(f, int):
            out.append(f.to_bytes((f.bit_length() + 7) // 8, "big"))
        else:
            out.append(f)
    return out


def expected_exception(block: dict[str, Any], network: str) -> str | None:
    """The exception a fixture expects for a block, or None if it must import."""
    for key in ("expectException", f"expectException{network}", "expectExceptionALL"):
        if key in block:
            return str(block[key])
    if "blockHeader" not in block:  # older fillers mark an invalid block by omitting its header
        return "invalid block (no blockHeader)"
    return None


def run_test(name: str, test: dict[str, Any], datadir: Path | None = None) -> BlockTestResult:
    """Run one test; with `datadir`, in an LMDB store there, reopened and checked at the end.

    A malformed test (bad hex, missing fields) raises FixtureError naming it: bad input,
    not a failing verdict."""
    network = str(test.get("network", "?"))
    try:
        error = _run(test, network, datadir)
    except UnknownNetwork as exc:
        error = f"unsupported network: {exc}"
    except InputError as exc:
        raise FixtureError(f"{name}: {exc}") from None
    except ExcessBlobGasTooLarge as exc:  # a genesis given an excess blob gas no chain reaches
        raise FixtureError(f"{name}: {exc}") from None
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise FixtureError(f"{name}: missing or malformed {type(exc).__name__}: {exc}") \
            from None
    return BlockTestResult(name, network, error is None, error)


def genesis_of(test: dict[str, Any]) -> tuple[ChainConfig, Block, State]:
    """The configuration, genesis block and pre state of a test. Raises FixtureError."""
    config = config_for_network(str(test.get("network", "?")))
    state = load_pre_state(test["pre"])
    if "genesisRLP" in test:
        try:
            genesis = Block.decode(parse_bytes(test["genesisRLP"]))
        except (BlockDecodeError, RLPError) as exc:
            raise FixtureError(f"genesis: bad RLP: {exc}") from None
    else:
        genesis = Block(header_from_json(test["genesisBlockHeader"]), [], [])
    want_genesis = parse_bytes(test["genesisBlockHeader"]["hash"])
    if genesis.hash != want_genesis:
        raise FixtureError(f"genesis hash 0x{genesis.hash.hex()}, want 0x{want_genesis.hex()}")
    if state.state_root() != genesis.header.state_root:
        raise FixtureError("genesis state root does not match the pre state")
    return config, genesis, state


def _run(test: dict[str, Any], network: str, datadir: Path | None = None) -> str | None:
    config, genesis, state = genesis_of(test)
    if datadir is None:
        chain = Chain.from_genesis(config, genesis, state)
    else:
        chain = Chain.open(datadir, config, genesis, state)
        try:
            error = _import_blocks(chain, test, network)
        finally:
            chain.close()
        if error is not None:
            return error
        chain = Chain.open(datadir)  # what survives a restart must pass the same checks
        try:
            return _check_reopened(chain) or _check_end(chain, test)
        finally:
            chain.close()
    return _import_blocks(chain, test, network) or _check_end(chain, test)


def _import_blocks(chain: Chain, test: dict[str, Any], network: str) -> str | None:
    for i, entry in enumerate(test["blocks"]):
        expected = expected_exception(entry, network)
        try:
            block = Block.decode(parse_bytes(entry["rlp"]))
            chain.import_block(block)
        except (BlockDecodeError, InvalidBlock, RLPError) as exc:
            if expected is None:
                return f"block {i + 1}: rejected: {exc}"
            continue
        if expected is not None:
            return f"block {i + 1}: imported, but expected {expected}"
    return None


def _check_reopened(chain: Chain) -> str | None:
    for number in range(chain.head.number + 1):  # read back from the store one by one
        stored = chain.get_block_by_number(number)
        if stored is None:
            return f"reopened store: canonical block {number} missing"
        if number and stored.state.state_root() != stored.header.state_root:
            return f"reopened store: state of block {number} does not match its root"
        if number and receipts_root(stored.receipts) != stored.header.receipts_root:
            return f"reopened store: receipts of block {number} do not match their root"
    return None


def _check_end(chain: Chain, test: dict[str, Any]) -> str | None:
    last = parse_bytes(test["lastblockhash"])
    if chain.head_hash != last:
        return f"head 0x{chain.head_hash.hex()}, want lastblockhash 0x{last.hex()}"
    state = chain.state()
    if "postState" in test:
        return post_state_difference(state, load_pre_state(test["postState"]))
    if "postStateHash" in test:
        root = state.state_root()
        want = parse_bytes(test["postStateHash"])
        if root != want:
            return f"post state root 0x{root.hex()}, want 0x{want.hex()}"
    return None


def post_state_difference(state: State, want: State) -> str | None:
    """The first way `state`'s accounts differ from `want`'s, or None. Account by account
    (as geth's validatePostState): the same check as comparing their roots, as the head
    state's root already matched its header, without building `want`'s tries, and the
    message names what differs."""
    have = state.accounts
    for address, expected in want.accounts.items():
        where = f"post state: account 0x{address.hex()}"
        account = have.get(address)
        if account is None:
            return f"{where} missing"
        for field in ("nonce", "balance"):
            got, wanted = getattr(account, field), getattr(expected, field)
            if got != wanted:
                return f"{where}: {field} {got}, want {wanted}"
        if account.code_hash != expected.code_hash:
            return f"{where}: code of {len(account.code)} bytes differs from the expected " \
                   f"{len(expected.code)}"
        slots = {k: v for k, v in account.storage.items() if v}
        if slots != expected.storage:  # load_pre_state keeps nonzero slots only
            differing = min(k for k in slots.keys() | expected.storage.keys()
                            if slots.get(k, 0) != expected.storage.get(k, 0))
            return (f"{where}: storage slot {hex(differing)} is {hex(slots.get(differing, 0))}, "
                    f"want {hex(expected.storage.get(differing, 0))}")
    extra = [address for address in have if address not in want.accounts]
    if extra:
        return f"post state: account 0x{min(extra).hex()} is not expected ({len(extra)} in all)"
    return None


def check_shape(name: str, test: Any) -> None:
    """Refuse a test whose containers are not of the blockchain-test shape (FixtureError)."""
    if not isinstance(test, dict) or "blocks" not in test or "pre" not in test \
            or "genesisBlockHeader" not in test:
        raise FixtureError(f"{name}: not a blockchain test "
                           "(needs genesisBlockHeader, pre, blocks)")
    # A fork name chainvm does not know is a failing test; one that is no name is bad input.
    if not isinstance(test.get("network", ""), str):
        raise FixtureError(f"{name}: network: expected a fork name, got {short(test['network'])}")
    try:
        expect_object(test["genesisBlockHeader"], f"{name}: genesisBlockHeader")
        for address, account in expect_object(test["pre"], f"{name}: pre").items():
            expect_object(expect_object(account, f"{name}: pre: {address}").get("storage", {}),
                          f"{name}: pre: {address}: storage")
        for i, block in enumerate(expect_list(test["blocks"], f"{name}: blocks")):
            expect_object(block, f"{name}: blocks[{i}]")
        if "postState" in test:
            expect_object(test["postState"], f"{name}: postState")
    except InputError as exc:
        raise FixtureError(str(exc)) from None


def load_file(path: str | Path) -> dict[str, Any]:
    try:
        data = read_json_file(path)
    except InputError as exc:
        raise FixtureError(str(exc)) from None
    return check_file(path, data)


def check_file(path: str | Path, data: Any) -> dict[str, Any]:
    """The tests of a parsed file, each checked for the blockchain-test shape."""
    if not isinstance(data, dict):
        raise FixtureError(f"{path}: a blockchain test file must hold a JSON object of tests")
    for name, test in data.items():
        try:
            check_shape(name, test)
        except FixtureError as exc:
            raise FixtureError(f"{path}: {exc}") from None
    return data


def run_file(path: str | Path, name_filter: re.Pattern[str] | None = None,
             datadir: Path | None = None) -> list[BlockTestResult]:
    """Run the tests of one file; with `datadir`, each in its own store below it."""
    data = load_file(path)
    results = []
    for i, (name, test) in enumerate(data.items()):
        if name_filter is not None and not name_filter.search(name):
            continue
        where = None if datadir is None else datadir / str(i)
        results.append(run_test(name, test, where))
    return results
