"""Chain storage: in memory by default, or a persistent LMDB environment under a data dir.

The chain hands the store one `Commit` per imported block: the block with its
total difficulty, fork, receipts and post state, the canonical-number changes
and the new head. `LmdbStore` writes all of it in a single LMDB write
transaction, so a process killed at any moment reopens on the last block whose
commit finished, with nothing half-written.

Layout (one LMDB named database each):
  meta       b"config" -> JSON chain configuration; b"head" -> head hash
  blocks     hash -> RLP [block RLP, total difficulty, fork name]
  receipts   hash -> RLP [encoded receipt, ...]
  states     hash -> RLP [[address, nonce, balance, code, [[key, value], ...]], ...]
             (the whole post state), or 0x01 + RLP [[address, [] | [nonce, balance, code,
             [[key, value], ...]]], ...] (the accounts changed against the parent's post
             state; [] for a deleted account)
  canonical  number (8 bytes, big endian) -> hash

A block's post state is written whole when the chain has no parent state it copied
(genesis, a replaced state) and at checkpoints, else as its changes; reading one
back applies changes from the nearest whole state. The map grows when full.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chainvm.chain.block import Block, Receipt
from chainvm.chain.config import ChainConfig
from chainvm.encoding.rlp import RLPItem, decode, decode_int, encode
from chainvm.state.state import Account, Log, State


class StoreError(Exception):
    """A record in the store that cannot be read back."""


@dataclass
class Commit:
    block_rlp: bytes
    block_hash: bytes
    total_difficulty: int
    fork_name: str
    receipts: list[Receipt]
    state: State
    canonical: dict[int, bytes | None]  # number -> hash, None to drop
    head: bytes
    # The state as its changes against the parent block's (None: written whole).
    changes: dict[bytes, Account | None] | None = None


@dataclass
class Loaded:
    config: ChainConfig
    # hash -> (block, total difficulty, fork name, receipts, state record: see
    # `decode_state_record`)
    blocks: dict[bytes, tuple[Block, int, str, list[Receipt], bytes]] = field(
        default_factory=dict)
    canonical: dict[int, bytes] = field(default_factory=dict)
    head: bytes = b""


class Store(Protocol):
    def commit(self, commit: Commit) -> None: ...

    def put_state(self, block_hash: bytes, state: State,
                  changes: dict[bytes, Account | None] | None) -> None: ...

    def commit_head(self, canonical: dict[int, bytes | None], head: bytes) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """Keeps nothing beyond what the chain already holds in memory."""

    def commit(self, commit: Commit) -> None:
        return None

    def put_state(self, block_hash: bytes, state: State,
                  changes: dict[bytes, Account | None] | None) -> None:
        return None

    def commit_head(self, canonical: dict[int, bytes | None], head: bytes) -> None:
        return None

    def close(self) -> None:
        return None


# -- serialisation ------------------------------------------------------------------------------


def encode_state(state: State) -> bytes:
    accounts = []
    for address in sorted(state.accounts):
        acct = state.accounts[address]
        storage = [[k, v] for k, v in sorted(acct.storage.items()) if v]
        accounts.append([address, acct.nonce, acct.balance, acct.code, storage])
    return encode(accounts)


CHANGES_RECORD = b"\x01"  # a whole-state record starts with an RLP list prefix (>= 0xc0)


def _account_item(acct: Account) -> list[Any]:
    storage = [[k, v] for k, v in sorted(acct.storage.items()) if v]
    return [acct.nonce, acct.balance, acct.code, storage]


def encode_changes(changes: dict[bytes, Account | None]) -> bytes:
    return CHANGES_RECORD + encode([[address, [] if acct is None else _account_item(acct)]
                                    for address, acct in sorted(changes.items())])


def _decode_account(item: RLPItem) -> Account:
    nonce, balance, code, storage = _as_list(item)
    assert isinstance(code, bytes)
    slots = {decode_int(k): decode_int(v) for k, v in (_as_list(s) for s in _as_list(storage))}
    return Account(decode_int(nonce), decode_int(balance), code, slots)


def decode_state_record(data: bytes) -> State | dict[bytes, Account | None]:
    """A whole state, or the changes against the parent block's state."""
    if not data.startswith(CHANGES_RECORD):
        return decode_state(data)
    changes: dict[bytes, Account | None] = {}
    for item in _as_list(decode(data[1:])):
        address, account = _as_list(item)
        assert isinstance(address, bytes)
        changes[address] = _decode_account(account) if _as_list(account) else None
    return changes


def decode_state(data: bytes) -> State:
    accounts: dict[bytes, Account] = {}
    for item in _as_list(decode(data)):
        address, nonce, balance, code, storage = _as_list(item)
        assert isinstance(address, bytes) and isinstance(code, bytes)
        slots = {decode_int(k): decode_int(v) for k, v in (_as_list(s) for s in _as_list(storage))}
        accounts[address] = Account(decode_int(nonce), decode_int(balance), code, slots)
    return State(accounts)


def decode_receipt(data: bytes) -> Receipt:
    tx_type = 0
    if data and data[0] < 0x80:
        tx_type, data = data[0], data[1:]
    status, cumulative, bloom, logs = _as_list(decode(data))
    assert isinstance(status, bytes) and isinstance(bloom, bytes)
    status_value: int | bytes = status if len(status) == 32 else decode_int(status)
    parsed = []
    for entry in _as_list(logs):
        address, topics, log_data = _as_list(entry)
        assert isinstance(address, bytes) and isinstance(log_data, bytes)
        parsed.append(Log(address, tuple(int.from_bytes(t, "big")  # type: ignore[arg-type]
                                         for t in _as_list(topics)), log_data))
    return Receipt(tx_type, status_value, decode_int(cumulative), parsed, bloom)


def _as_list(item: RLPItem) -> list[RLPItem]:
    if not isinstance(item, list):
        raise StoreError("corrupt store record: expected a list")
    return item


def _required(value: bytes | None, what: str) -> bytes:
    if value is None:
        raise StoreError(f"corrupt store: missing {what} record")
    return bytes(value)


def config_to_json(config: ChainConfig) -> bytes:
    return json.dumps(asdict(config)).encode()


def config_from_json(data: bytes) -> ChainConfig:
    raw: dict[str, Any] = json.loads(data)
    for key in ("number_forks", "time_forks", "bomb_delays"):
        raw[key] = [tuple(x) for x in raw[key]]
    return ChainConfig(**raw)


# -- LMDB -----------------------------------------------------------------------------------------


class LmdbStore:
    """A persistent store in an LMDB environment (one write transaction per block)."""

    def __init__(self, path: str | Path, map_size: int = 1 << 32) -> None:
        import lmdb  # optional dependency: only needed for a data dir

        Path(path).mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(path), map_size=map_size, max_dbs=8, sync=True,
                             metasync=True)
        self.meta = self.env.open_db(b"meta")
        self.blocks = self.env.open_db(b"blocks")
        self.receipts = self.env.open_db(b"receipts")
        self.states = self.env.open_db(b"states")
        self.canonical = self.env.open_db(b"canonical")

    def is_empty(self) -> bool:
        with self.env.begin() as txn:
            return txn.get(b"head", db=self.meta) is None

    def initialise(self, config: ChainConfig, genesis: Commit) -> None:
        def write(txn: Any) -> None:
            txn.put(b"config", config_to_json(config), db=self.meta)
            self._write(txn, genesis)

        self._update(write)

    def commit(self, commit: Commit) -> None:
        self._update(lambda txn: self._write(txn, commit))

    def commit_head(self, canonical: dict[int, bytes | None], head: bytes) -> None:
        self._update(lambda txn: self._write_head(txn, canonical, head))

    def _update(self, write: Callable[[Any], None]) -> None:
        """One write transaction; when the map is full, it is doubled and the write made
        again (LMDB aborts the whole transaction, so nothing is half-written)."""
        import lmdb

        while True:
            try:
                with self.env.begin(write=True) as txn:
                    write(txn)
                return
            except lmdb.MapFullError:
                self.env.set_mapsize(self.env.info()["map_size"] * 2)

    def _write(self, txn: Any, c: Commit) -> None:
        txn.put(c.block_hash, encode([c.block_rlp, c.total_difficulty, c.fork_name.encode()]),
                db=self.blocks)
        txn.put(c.block_hash, encode([r.encode() for r in c.receipts]), db=self.receipts)
        record = encode_state(c.state) if c.changes is None else encode_changes(c.changes)
        txn.put(c.block_hash, record, db=self.states)
        self._write_head(txn, c.canonical, c.head)

    def put_state(self, block_hash: bytes, state: State,
                  changes: dict[bytes, Account | None] | None) -> None:
        """Write a block's post state again (edited in place while it is the head)."""
        record = encode_state(state) if changes is None else encode_changes(changes)
        self._update(lambda txn: txn.put(block_hash, record, db=self.states))

    def _write_head(self, txn: Any, canonical: dict[int, bytes | None], head: bytes) -> None:
        for number, block_hash in canonical.items():
            key = number.to_bytes(8, "big")
            if block_hash is None:
                txn.delete(key, db=self.canonical)
            else:
                txn.put(key, block_hash, db=self.canonical)
        txn.put(b"head", head, db=self.meta)

    def load(self) -> Loaded:
        with self.env.begin() as txn:
            config_raw = txn.get(b"config", db=self.meta)
            if config_raw is None:
                raise StoreError("empty store: no chain configuration")
            loaded = Loaded(config_from_json(bytes(config_raw)))
            loaded.head = _required(txn.get(b"head", db=self.meta), "head")
            for key, value in txn.cursor(db=self.blocks):
                block_rlp, td, fork_name = _as_list(decode(bytes(value)))
                assert isinstance(block_rlp, bytes) and isinstance(fork_name, bytes)
                receipts_raw = _as_list(decode(_required(txn.get(key, db=self.receipts),
                                                         "receipts")))
                receipts = [decode_receipt(r) for r in receipts_raw]  # type: ignore[arg-type]
                state = bytes(_required(txn.get(key, db=self.states), "state"))
                loaded.blocks[bytes(key)] = (Block.decode(block_rlp), decode_int(td),
                                             fork_name.decode(), receipts, state)
            for key, value in txn.cursor(db=self.canonical):
                loaded.canonical[int.from_bytes(key, "big")] = bytes(value)
        return loaded

    def close(self) -> None:
        self.env.close()
