"""Chain storage: in memory by default, or a persistent LMDB environment under a data dir.

The chain hands the store one `Commit` per imported block: the block with its
total difficulty, fork, receipts and post state, the canonical-number changes
and the new head. `LmdbStore` writes all of it in a single LMDB write
transaction, so a process killed at any moment reopens on the last block whose
commit finished, with nothing half-written. Commits are not synced to disk one by
one: a background thread syncs every `SYNC_INTERVAL` seconds (see `LmdbStore`).

Layout (one LMDB named database each):
  meta       b"config" -> JSON chain configuration; b"head" -> head hash;
             b"format" -> FORMAT
  blocks     hash -> RLP [block RLP, total difficulty, fork name]
  receipts   hash -> RLP [encoded receipt, ...]
  states     hash -> RLP [[address, nonce, balance, code, [[key, value], ...]], ...]
             (the whole post state), or 0x01 + RLP [[address, [] | [nonce, balance, code,
             [[key, value], ...]] | [nonce, balance, code, [[key, value], ...], [key, ...]]],
             ...] (the accounts changed against the parent's post state: [] for a deleted
             account, the whole account, or its slots written and cleared; format 3)
  canonical  number (8 bytes, big endian) -> hash
  txindex    transaction hash + block hash -> index in the block (4 bytes, big endian)

A block's post state is written whole when the chain has no parent state it copied
(genesis, a replaced state) and at checkpoints, else as its changes; reading one
back applies changes from the nearest whole state. Records are read one at a time
when the chain asks for them (`Chain.open` reads the head and its state only). The
map grows when full.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Protocol

from chainvm.chain.block import Block, Receipt
from chainvm.chain.config import ChainConfig
from chainvm.crypto import EMPTY_KECCAK, keccak256
from chainvm.encoding.rlp import RLPItem, decode, decode_int, encode
from chainvm.state.layered import LayeredStorage
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
    changes: dict[bytes, Account | SlotChanges | None] | None = None
    tx_hashes: list[bytes] = field(default_factory=list)  # for the transaction index


class Store(Protocol):
    def commit(self, commit: Commit) -> None: ...

    def put_state(self, block_hash: bytes, state: State,
                  changes: dict[bytes, Account | SlotChanges | None] | None) -> None: ...

    def commit_head(self, canonical: dict[int, bytes | None], head: bytes) -> None: ...

    def save_config(self, config: ChainConfig) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """Keeps nothing beyond what the chain already holds in memory."""

    def commit(self, commit: Commit) -> None:
        return None

    def put_state(self, block_hash: bytes, state: State,
                  changes: dict[bytes, Account | SlotChanges | None] | None) -> None:
        return None

    def commit_head(self, canonical: dict[int, bytes | None], head: bytes) -> None:
        return None

    def save_config(self, config: ChainConfig) -> None:
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


class SlotChanges:
    """An account changed in a block by writing some of its slots: its nonce, balance and
    code, and the slots written and cleared against the parent block's account at the same
    address. Stored instead of the whole account when the account's storage is a layer
    over the parent's (chainvm/state/layered.py), so that a block writing a slot of a large
    contract stores that slot, not the contract's every slot."""

    __slots__ = ("balance", "cleared", "code", "nonce", "written")

    def __init__(self, nonce: int, balance: int, code: bytes, written: list[tuple[int, int]],
                 cleared: list[int]) -> None:
        self.nonce, self.balance, self.code = nonce, balance, code
        self.written, self.cleared = written, cleared

    @classmethod
    def of_layer(cls, acct: Account, layer: LayeredStorage) -> SlotChanges:
        return cls(acct.nonce, acct.balance, acct.code, sorted(dict.items(layer)),
                   sorted(layer.cleared))

    def applied_to(self, previous: Account | None) -> Account:
        if previous is None:
            raise StoreError("corrupt store: slot changes to an account that does not exist")
        # (the previous account is shared by the state being rebuilt: never written again)
        acct = previous.copy(shared=True)
        acct.nonce, acct.balance = self.nonce, self.balance
        if self.code != acct.code:
            acct.code = self.code
            acct.code_hash = keccak256(self.code) if self.code else EMPTY_KECCAK
        storage, dirty = acct.storage, acct.dirty_slots
        for key, value in self.written:
            storage[key] = value
            dirty.add(key)
        for key in self.cleared:
            storage.pop(key, None)
            dirty.add(key)
        return acct


def slot_changes(changes: dict[bytes, Account | None], parent: State | None
                 ) -> dict[bytes, Account | SlotChanges | None]:
    """`changes` with each account whose storage layers the parent state's account of the
    same address given as its slot changes (the rest as they are)."""
    out: dict[bytes, Account | SlotChanges | None] = dict(changes)
    if parent is None:
        return out
    before = parent.accounts
    for address, acct in changes.items():
        if acct is not None and type(acct.storage) is LayeredStorage:
            previous = before.get(address)
            if previous is not None and acct.storage.origin is previous.storage:
                out[address] = SlotChanges.of_layer(acct, acct.storage)
    return out


def _account_item(acct: Account | SlotChanges) -> list[Any]:
    if isinstance(acct, SlotChanges):
        return [acct.nonce, acct.balance, acct.code, [[k, v] for k, v in acct.written],
                acct.cleared]
    storage = [[k, v] for k, v in sorted(acct.storage.items()) if v]
    return [acct.nonce, acct.balance, acct.code, storage]


def encode_changes(changes: dict[bytes, Account | SlotChanges | None]) -> bytes:
    """The changes record: per changed address, [] (deleted), the whole account
    [nonce, balance, code, [[key, value], ...]], or its slot changes [nonce, balance, code,
    [[key, value], ...] written, [key, ...] cleared]."""
    return CHANGES_RECORD + encode([[address, [] if acct is None else _account_item(acct)]
                                    for address, acct in sorted(changes.items())])


def _decode_account(item: RLPItem) -> Account | SlotChanges:
    fields = _as_list(item)
    if len(fields) == 5:
        nonce, balance, code, written, cleared = fields
        assert isinstance(code, bytes)
        return SlotChanges(decode_int(nonce), decode_int(balance), code,
                           [(decode_int(k), decode_int(v))
                            for k, v in (_as_list(s) for s in _as_list(written))],
                           [decode_int(k) for k in _as_list(cleared)])
    nonce, balance, code, storage = fields
    assert isinstance(code, bytes)
    slots = {decode_int(k): decode_int(v) for k, v in (_as_list(s) for s in _as_list(storage))}
    return Account(decode_int(nonce), decode_int(balance), code, slots)


def decode_state_record(data: bytes) -> State | dict[bytes, Account | SlotChanges | None]:
    """A whole state, or the changes against the parent block's state."""
    if not data.startswith(CHANGES_RECORD):
        return decode_state(data)
    changes: dict[bytes, Account | SlotChanges | None] = {}
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
    # The fields by hand, not asdict: that deep-copies every value, a dev node's fork hook
    # (and the node behind it) included.
    return json.dumps({f.name: getattr(config, f.name) for f in fields(config)
                       if f.metadata.get("stored", True)}).encode()


def config_from_json(data: bytes) -> ChainConfig:
    raw: dict[str, Any] = json.loads(data)
    for key in ("number_forks", "time_forks", "bomb_delays"):
        raw[key] = [tuple(x) for x in raw[key]]
    return ChainConfig(**raw)


# -- LMDB -----------------------------------------------------------------------------------------

SYNC_INTERVAL = 0.2  # seconds between syncs to disk (the default; 0: a sync per commit)
# 2: with the transaction index (a store without it gets one when opened); 3: changes
# records may hold slot changes (format 2 records are read as they are)
FORMAT = b"3"


def parent_hash_of(block_rlp: bytes) -> bytes:
    """The parent hash of an encoded block, read from the header's first field without
    decoding the block."""
    pos = _list_payload_start(block_rlp, 0)  # the block's list
    pos = _list_payload_start(block_rlp, pos)  # the header's list
    if block_rlp[pos:pos + 1] != b"\xa0":
        raise StoreError("corrupt block record: no parent hash")
    return block_rlp[pos + 1:pos + 33]


def _list_payload_start(data: bytes, pos: int) -> int:
    if pos >= len(data):
        raise StoreError("corrupt block record: truncated")
    prefix = data[pos]
    if 0xc0 <= prefix <= 0xf7:
        return pos + 1
    if prefix > 0xf7:
        return pos + 1 + (prefix - 0xf7)
    raise StoreError("corrupt block record: expected a list")


LOCK_FILE = "chainvm.lock"


def _lock(path: Path) -> IO[bytes] | None:
    """Hold an exclusive lock on `path` for as long as the returned file is open (the OS
    releases it when the process dies, however it dies). BlockingIOError when another
    open store holds it: two chains writing one environment would each overwrite the
    other's head. None where the OS has no flock."""
    try:
        import fcntl
    except ImportError:
        return None
    handle = open(path, "ab")  # noqa: SIM115 (kept open: it is the lock)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise
    return handle


class _Syncer(threading.Thread):
    """Syncs the environment to disk every `interval` seconds while commits came in, so a
    power loss loses at most that much (a killed process loses nothing: the commits are in
    the OS's page cache)."""

    def __init__(self, env: Any, interval: float) -> None:
        super().__init__(name="chainvm-lmdb-sync", daemon=True)
        self.env = env
        self.interval = interval
        self.dirty = False
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            if self.dirty:
                self.dirty = False  # before the sync: a commit during it marks it again
                self.env.sync(True)


class LmdbStore:
    """A persistent store in an LMDB environment: one write transaction per block, synced to
    disk every `sync_interval` seconds by a background thread (0: every commit synced, as
    LMDB does by default). Records are read one at a time, when asked for; `reads` counts
    them."""

    def __init__(self, path: str | Path, map_size: int = 1 << 32,
                 sync_interval: float = SYNC_INTERVAL) -> None:
        import lmdb  # optional dependency: only needed for a data dir

        every_commit = sync_interval <= 0
        self._lock: IO[bytes] | None = None
        self._data_lock: IO[bytes] | None = None
        env = None
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
            self._lock = _lock(Path(path) / LOCK_FILE)
            env = lmdb.open(str(path), map_size=map_size, max_dbs=8, sync=every_commit,
                            metasync=every_commit)
            # The data file itself locked as well: a lock file deleted by hand while a
            # node runs let a second one open the same environment. (flock, which LMDB's
            # own fcntl locks on lock.mdb do not touch.)
            self._data_lock = _lock(Path(path) / "data.mdb")
            self.env = env
        except (OSError, lmdb.Error) as exc:
            if env is not None:
                env.close()
            if self._lock is not None:
                self._lock.close()
            if isinstance(exc, BlockingIOError):
                raise StoreError(f"{path}: in use by another chain (another node or process "
                                 "has it open)") from None
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StoreError(f"{path}: cannot open the store: {reason}") from None
        self.meta = self.env.open_db(b"meta")
        self.blocks = self.env.open_db(b"blocks")
        self.receipts = self.env.open_db(b"receipts")
        self.states = self.env.open_db(b"states")
        self.canonical = self.env.open_db(b"canonical")
        self.txindex = self.env.open_db(b"txindex")
        self.reads = 0
        self._closed = False
        self._syncer = None if every_commit else _Syncer(self.env, sync_interval)
        if not self.is_empty():
            with self.env.begin() as txn:
                found = txn.get(b"format", db=self.meta)
            if found == b"2":  # its records read as they are; later ones may be format 3's
                self._update(lambda txn: txn.put(b"format", FORMAT, db=self.meta))
            elif found != FORMAT:
                self._update(self._index_transactions)

    def is_empty(self) -> bool:
        with self.env.begin() as txn:
            return txn.get(b"head", db=self.meta) is None

    def initialise(self, config: ChainConfig, genesis: Commit) -> None:
        def write(txn: Any) -> None:
            txn.put(b"config", config_to_json(config), db=self.meta)
            txn.put(b"format", FORMAT, db=self.meta)
            self._write(txn, genesis)

        self._update(write)

    def commit(self, commit: Commit) -> None:
        self._update(lambda txn: self._write(txn, commit))

    def commit_head(self, canonical: dict[int, bytes | None], head: bytes) -> None:
        self._update(lambda txn: self._write_head(txn, canonical, head))

    def save_config(self, config: ChainConfig) -> None:
        """The chain configuration again, changed (a dev node's anvil_setChainId)."""
        self._update(lambda txn: txn.put(b"config", config_to_json(config), db=self.meta))

    def _update(self, write: Callable[[Any], None]) -> None:
        """One write transaction; when the map is full, it is doubled and the write made
        again (LMDB aborts the whole transaction, so nothing is half-written)."""
        import lmdb

        while True:
            try:
                with self.env.begin(write=True) as txn:
                    write(txn)
                break
            except lmdb.MapFullError:
                self.env.set_mapsize(self.env.info()["map_size"] * 2)
        syncer = self._syncer
        if syncer is not None:
            syncer.dirty = True
            if not syncer.is_alive() and not syncer.stopping.is_set():
                syncer.start()

    def _write(self, txn: Any, c: Commit) -> None:
        txn.put(c.block_hash, encode([c.block_rlp, c.total_difficulty, c.fork_name.encode()]),
                db=self.blocks)
        txn.put(c.block_hash, encode([r.encode() for r in c.receipts]), db=self.receipts)
        record = encode_state(c.state) if c.changes is None else encode_changes(c.changes)
        txn.put(c.block_hash, record, db=self.states)
        for index, tx_hash in enumerate(c.tx_hashes):
            txn.put(tx_hash + c.block_hash, index.to_bytes(4, "big"), db=self.txindex)
        self._write_head(txn, c.canonical, c.head)

    def _index_transactions(self, txn: Any) -> None:
        """Write the transaction index of a store made before it had one."""
        for key, value in txn.cursor(db=self.blocks):
            block_rlp = _as_list(decode(bytes(value)))[0]
            assert isinstance(block_rlp, bytes)
            for index, tx in enumerate(Block.decode(block_rlp).transactions):
                txn.put(tx.hash + bytes(key), index.to_bytes(4, "big"), db=self.txindex)
        txn.put(b"format", FORMAT, db=self.meta)

    def put_state(self, block_hash: bytes, state: State,
                  changes: dict[bytes, Account | SlotChanges | None] | None) -> None:
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

    # -- reads (one record each) --

    def _get(self, key: bytes, db: Any) -> bytes | None:
        self.reads += 1
        with self.env.begin(db=db) as txn:
            value = txn.get(key)
        return None if value is None else bytes(value)

    def config(self) -> ChainConfig:
        raw = self._get(b"config", self.meta)
        if raw is None:
            raise StoreError("empty store: no chain configuration")
        return config_from_json(raw)

    def head(self) -> bytes:
        return _required(self._get(b"head", self.meta), "head")

    def canonical_hash(self, number: int) -> bytes | None:
        if number < 0 or number >> 64:
            return None
        return self._get(number.to_bytes(8, "big"), self.canonical)

    def block(self, block_hash: bytes) -> tuple[bytes, int, str] | None:
        """A block's RLP, total difficulty and fork name."""
        raw = self._get(block_hash, self.blocks)
        if raw is None:
            return None
        block_rlp, td, fork_name = _as_list(decode(raw))
        assert isinstance(block_rlp, bytes) and isinstance(fork_name, bytes)
        return block_rlp, decode_int(td), fork_name.decode()

    def receipts_of(self, block_hash: bytes) -> list[Receipt]:
        raw = _as_list(decode(_required(self._get(block_hash, self.receipts), "receipts")))
        return [decode_receipt(r) for r in raw]  # type: ignore[arg-type]

    def state_record(self, block_hash: bytes) -> bytes:
        """A block's state record (see `decode_state_record`)."""
        return _required(self._get(block_hash, self.states), "state")

    def tx_locations(self, tx_hash: bytes) -> list[tuple[bytes, int]]:
        """(block hash, index) of every stored block that holds the transaction."""
        self.reads += 1
        out: list[tuple[bytes, int]] = []
        with self.env.begin(db=self.txindex) as txn:
            cursor = txn.cursor()
            if cursor.set_range(tx_hash):
                for key, value in cursor:
                    if key[:32] != tx_hash:
                        break
                    out.append((bytes(key[32:]), int.from_bytes(value, "big")))
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        syncer = self._syncer
        if syncer is not None:
            syncer.stopping.set()
            if syncer.is_alive():
                syncer.join()
        self.env.sync(True)
        self.env.close()
        for held in (self._data_lock, self._lock):
            if held is not None:
                held.close()  # releases the lock
        self._lock = self._data_lock = None
