"""An in-memory block tree with a canonical chain.

Every imported block is kept with its post state, receipts and total
difficulty, so side chains can be extended and become canonical later. Block states
share their accounts (copy-on-write, see `State.copy`); past the newest
`STATE_WINDOW` canonical blocks a state is kept only as its changes against its
parent's (every `STATE_CHECKPOINT`th block keeps its state whole), and is made again
from the nearest whole ancestor when asked for. A chain kept in a store (`Chain.open`)
holds in memory only its newest `MEMORY_WINDOW` canonical blocks and the
`READ_CACHE` blocks it read back last: the others are read from the store when asked
for. Before
the Merge the head is the block with the highest total difficulty (ties keep
the current head); a proof-of-stake block becomes the head when imported, as
the consensus layer would ask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from chainvm.chain.block import Block, Header, Receipt
from chainvm.chain.config import ChainConfig
from chainvm.chain.processing import (
    UNCLE_GENERATIONS,
    BodyResult,
    InvalidBlock,
    SenderExemption,
    execute_block,
    validate_header,
)
from chainvm.chain.store import (
    CHANGES_RECORD,
    SYNC_INTERVAL,
    Commit,
    LmdbStore,
    MemoryStore,
    SlotChanges,
    Store,
    StoreError,
    decode_state,
    decode_state_record,
    parent_hash_of,
    slot_changes,
)
from chainvm.chain.transactions import SignedTransaction
from chainvm.evm.forks import Fork, get_fork
from chainvm.state.state import Account, Log, State

BLOCKHASH_WINDOW = 256
STATE_WINDOW = 128
STATE_CHECKPOINT = 1024
# A chain in a store: canonical blocks older than this many are dropped from memory (more
# than BLOCKHASH_WINDOW, so the BLOCKHASH ancestry of the next block is in memory, and
# than STATE_WINDOW); and at most this many blocks read back from the store are kept.
MEMORY_WINDOW = BLOCKHASH_WINDOW + 1
READ_CACHE = 2048
STORE_STATES = 4  # states made from the store's records, kept for the next requests

_K = TypeVar("_K")
_V = TypeVar("_V")


class StoredBlock:
    """A block with its total difficulty, post state, receipts and fork.

    The state is held whole, or (past the chain's window, or read back from a store) as
    its changes against the parent block's, or as a whole-state record of the store
    not decoded yet; `state` makes it whole on demand. A block read back from a store
    reads its receipts and its state record only when they are asked for, and finds its
    parent through the chain.
    """

    def __init__(self, block: Block, total_difficulty: int, state: State | None,
                 receipts: list[Receipt] | None, fork: Fork) -> None:
        self.block = block
        self.total_difficulty = total_difficulty
        self._receipts = receipts
        self.fork = fork
        self._state: State | None = state
        self.state_token: object = state.token if state is not None else object()
        # When the state is not held whole: its changes against the parent's (and the
        # parent), or a stored whole-state record.
        self._changes: dict[bytes, Account | SlotChanges | None] | None = None
        self._changes_record: bytes | None = None  # a stored change record, not decoded yet
        self._parent: StoredBlock | None = None
        self._record: bytes | None = None
        # Read back from a store (or dropped from memory by the chain): where the receipts
        # and state records are, and the blocks held in memory (the parent may be there).
        self._store: LmdbStore | None = None
        self._blocks: StoreBlocks | None = None

    @classmethod
    def from_store(cls, store: LmdbStore, block: Block, total_difficulty: int, fork: Fork,
                   blocks: StoreBlocks) -> StoredBlock:
        stored = cls(block, total_difficulty, None, None, fork)
        stored._store = store
        stored._blocks = blocks
        return stored

    @property
    def receipts(self) -> list[Receipt]:
        receipts = self._receipts
        if receipts is None:
            assert self._store is not None, "receipts neither kept nor stored"
            receipts = self._receipts = self._store.receipts_of(self.hash)
        return receipts

    @receipts.setter
    def receipts(self, receipts: list[Receipt]) -> None:
        self._receipts = receipts

    def _whole_state(self) -> State | None:
        """This block's state if it is kept whole: held in memory, or a stored whole-state
        record (decoded now, once, and kept). None if it is kept as changes. A block read
        back from a store reads its state record here (once)."""
        if self._state is not None:
            return self._state
        if self._store is not None and self._record is None and self._changes is None \
                and self._changes_record is None:
            record = self._store.state_record(self.hash)
            if record.startswith(CHANGES_RECORD):
                self._changes_record = record  # decoded when the changes are asked for
            else:
                self._record = record
        if self._record is None:
            return None
        state = self._state = decode_state(self._record)  # a checkpoint read back
        state.token = self.state_token
        self._record = None
        return state

    def _parent_in_memory(self) -> StoredBlock | None:
        if self._parent is None and self._blocks is not None:
            return self._blocks.cached(self.header.parent_hash)
        return self._parent

    @property
    def changes(self) -> dict[bytes, Account | SlotChanges | None] | None:
        if self._changes_record is not None:
            self._changes = decode_state_record(self._changes_record)  # type: ignore[assignment]
            self._changes_record = None
        return self._changes

    @changes.setter
    def changes(self, changes: dict[bytes, Account | SlotChanges | None] | None) -> None:
        self._changes = changes
        self._changes_record = None

    @property
    def state(self) -> State:
        """The block's post state, made whole if it is not held whole.

        A state comes from three sources, since memory is only spent on recent blocks:
        a whole state held in memory (the chain's newest `STATE_WINDOW` blocks, every
        `STATE_CHECKPOINT`th block, and any checkpoint decoded from the store); per-block
        changes held in memory (older blocks this process imported); and the records of the
        store (blocks not in memory: whole at checkpoints, changes otherwise). It is made
        from the nearest ancestor kept whole in memory, or, when the walk back leaves the
        blocks in memory, from the store's records alone; with the changes of the blocks
        between applied. States made from the store are kept for the next requests (a few).
        """
        if self._state is not None:
            return self._state
        blocks = self._blocks
        if blocks is not None and self.hash in blocks.states:
            return _same_state(blocks.states[self.hash])
        base, diffs, from_store = self._base_and_changes()
        if not diffs:
            return base  # this block's own checkpoint, decoded
        state = self._with_changes(base, diffs)
        if blocks is not None and from_store:
            blocks.keep_state(self.hash, state)  # each request is given its own copy
            return _same_state(state)
        return state

    @state.setter
    def state(self, state: State) -> None:
        if self._blocks is not None:
            self._blocks.states.pop(self.hash, None)
        self._state = state
        self.state_token = state.token
        self.changes = None
        self._parent = None
        self._record = None

    def _base_and_changes(self) -> tuple[State, list[dict[bytes, Account | SlotChanges | None]], bool]:
        """The nearest whole state at or before this block, the changes of the blocks from
        there to this one (newest first), and whether that base was made from the store's
        records. The walk goes back through the blocks in memory; at the first whose parent
        is in the store only, the parent's state is read from the records alone (no block
        is read into memory)."""
        diffs: list[dict[bytes, Account | SlotChanges | None]] = []
        node = self
        while (base := node._whole_state()) is None:
            changes = node.changes
            assert changes is not None
            diffs.append(changes)
            parent = node._parent_in_memory()
            if parent is None:
                assert node._store is not None, "no whole ancestor state"
                return _read_whole_state(node._store, node.header.parent_hash, object()), \
                    diffs, True
            node = parent
        return base, diffs, False

    def _with_changes(self, base: State, diffs: list[dict[bytes, Account | SlotChanges | None]]) -> State:
        """`base` with `diffs` (newest first) applied: the same contents as this block's
        state, standing for it (its token, its own changes, its parent's state as origin)."""
        state = base.with_changes(reversed(diffs))
        state.token = self.state_token
        state.changed = set(diffs[0])
        parent = self._parent_in_memory()
        state.origin = parent.state_token if parent is not None else None
        return state

    def keep_as_changes(self, parent: StoredBlock) -> bool:
        """Drop the whole state, keeping its changes against `parent`'s; False (nothing
        dropped) unless the state is a copy of the parent's."""
        state = self._state
        if state is None:
            return True
        if state.origin is not parent.state_token or state.journal:
            return False
        # (a new dict already: only its type widens, to the records a store may hold)
        self.changes = cast("dict[bytes, Account | SlotChanges | None]", state.changes())
        self._parent = parent
        self._state = None
        return True

    def changes_for_store(self, parent: StoredBlock | None
                          ) -> dict[bytes, Account | SlotChanges | None] | None:
        """The changes to write for this block's state, or None to write it whole (no
        parent state it is a copy of, or a checkpoint); an account whose storage layers the
        parent's as its slot changes, when the parent's state is held whole."""
        state = self._state
        if state is None or parent is None or self.number % STATE_CHECKPOINT == 0 \
                or state.origin is not parent.state_token:
            return None
        return slot_changes(state.changes(), parent._state)

    @property
    def header(self) -> Header:
        return self.block.header

    @property
    def hash(self) -> bytes:
        return self.block.hash

    @property
    def number(self) -> int:
        return self.block.header.number


def _same_state(state: State) -> State:
    """A copy of `state` that stands for the same block state (its token, origin and
    changes): writing to it changes no other."""
    same = state.copy()
    same.token, same.origin, same.changed = state.token, state.origin, set(state.changed)
    return same


def _read_whole_state(store: LmdbStore, block_hash: bytes, token: object) -> State:
    """A block's state from the store alone: its record and its ancestors' back to the
    nearest whole one, each parent hash read from the block's RLP without decoding it (no
    block is read into the chain). The state is whole (no origin): written whole if it is
    edited in place, and kept whole."""
    diffs: list[dict[bytes, Account | SlotChanges | None]] = []
    while True:
        record = store.state_record(block_hash)
        if not record.startswith(CHANGES_RECORD):
            base = decode_state(record)
            break
        diffs.append(decode_state_record(record))  # type: ignore[arg-type]
        found = store.block(block_hash)
        if found is None:
            raise StoreError(f"corrupt store: block 0x{block_hash.hex()} missing")
        block_hash = parent_hash_of(found[0])
    state = base.with_changes(reversed(diffs)) if diffs else base
    state.token = token
    state.origin = None
    state.changed = set()
    return state


@dataclass
class TxLocation:
    block_hash: bytes
    index: int


class _ReadThrough(dict[_K, _V]):
    """A dict whose `__missing__` reads from a store: `get` and `in` go through it too
    (dict's own skip `__missing__`), for keys of `key_type` only."""

    key_type: type = object

    def get(self, key: _K, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, self.key_type) and self.get(key) is not None  # type: ignore[arg-type]


class StoreBlocks(_ReadThrough[bytes, StoredBlock]):
    """The blocks of a chain kept in a store, in memory: those this process imported (the
    chain drops them past `MEMORY_WINDOW`) and the last `READ_CACHE` read back; any other
    is read from the store when asked for (`len` and iteration see only those in memory).
    `keep(hash)` protects a block read back from being dropped (the head)."""

    key_type = bytes

    def __init__(self, load: Callable[[bytes], StoredBlock | None],
                 keep: Callable[[bytes], bool]) -> None:
        super().__init__()
        self._load = load
        self._keep = keep
        self._read: dict[bytes, None] = {}  # blocks read back, oldest first
        self.states: dict[bytes, State] = {}  # states made from the store, oldest first

    def __missing__(self, block_hash: bytes) -> StoredBlock:
        stored = self._load(block_hash)
        if stored is None:
            raise KeyError(block_hash)
        dict.__setitem__(self, block_hash, stored)
        read = self._read
        read[block_hash] = None
        while len(read) > READ_CACHE:
            oldest = next(iter(read))
            del read[oldest]
            if self._keep(oldest):
                read[oldest] = None  # the head: kept, now the newest
                if len(read) == 1:
                    break
            else:
                dict.pop(self, oldest, None)
        return stored

    def cached(self, block_hash: bytes) -> StoredBlock | None:
        """The block if it is in memory (no store read)."""
        return dict.get(self, block_hash)

    def keep_state(self, block_hash: bytes, state: State) -> None:
        states = self.states
        states[block_hash] = state
        while len(states) > STORE_STATES:
            del states[next(iter(states))]

    def drop(self, block_hash: bytes) -> None:
        """Forget a block (it is in the store)."""
        dict.pop(self, block_hash, None)
        self._read.pop(block_hash, None)


class StoreCanonical(_ReadThrough[int, bytes]):
    """The canonical number -> hash map of a chain kept in a store: the numbers of the
    blocks this process imported are in memory (the chain drops them with their blocks),
    others are read from the store each time (`len` and iteration see only the former).
    A number the store lacks is remembered until it is set (the chain writes the store
    before this map)."""

    key_type = int

    def __init__(self, load: Callable[[int], bytes | None]) -> None:
        super().__init__()
        self._load = load
        self._absent: set[int] = set()

    def __missing__(self, number: int) -> bytes:
        block_hash = None if number in self._absent else self._load(number)
        if block_hash is None:
            if len(self._absent) >= 4096:  # numbers clients asked for: kept bounded
                self._absent.clear()
            self._absent.add(number)
            raise KeyError(number)
        return block_hash

    def __setitem__(self, number: int, block_hash: bytes) -> None:
        self._absent.discard(number)
        dict.__setitem__(self, number, block_hash)

    def pop(self, number: int, default: Any = None) -> Any:  # type: ignore[override]
        self._absent.add(number)
        return dict.pop(self, number, default)

    def drop(self, number: int) -> None:
        """Forget a number held in memory (it is in the store)."""
        dict.pop(self, number, None)


@dataclass
class Chain:
    config: ChainConfig
    blocks: dict[bytes, StoredBlock] = field(default_factory=dict)
    canonical: dict[int, bytes] = field(default_factory=dict)
    head_hash: bytes = b""
    store: Store = field(default_factory=MemoryStore)
    _tx_index: dict[bytes, list[TxLocation]] = field(default_factory=dict)
    # Transactions whose sender may have code (a development chain's impersonated senders).
    exempt: SenderExemption | None = None
    # A forked chain's first block is a remote block N: hashes of blocks before it come
    # from here (chainvm.node.forking.RemoteState.block_hash).
    older_hash: Callable[[int], bytes] | None = None

    @classmethod
    def from_genesis(cls, config: ChainConfig, genesis: Block, state: State) -> Chain:
        header = genesis.header
        fork = config.fork_at(header.number, header.timestamp, -1)
        chain = cls(config)
        stored = StoredBlock(genesis, header.difficulty, state, [], fork)
        chain.blocks[genesis.hash] = stored
        chain.canonical[header.number] = genesis.hash
        chain.head_hash = genesis.hash
        return chain

    @classmethod
    def open(cls, datadir: str | Path, config: ChainConfig | None = None,
             genesis: Block | None = None, state: State | None = None,
             sync_interval: float = SYNC_INTERVAL) -> Chain:
        """Open (or create, from `config`, `genesis` and `state`) a chain stored in LMDB.

        Opening reads the configuration, the head block and what makes its state whole
        (the state records back to the nearest whole one, at most `STATE_CHECKPOINT`),
        whatever the chain's length; other blocks, receipts and states are read when asked
        for. `sync_interval`: see `LmdbStore`."""
        store = LmdbStore(datadir, sync_interval=sync_interval)
        if store.is_empty():
            if config is None or genesis is None or state is None:
                store.close()
                raise ValueError(f"{datadir}: empty data dir and no genesis given")
            chain = cls.from_genesis(config, genesis, state)
            g = chain.head
            store.initialise(config, Commit(genesis.encode(), genesis.hash, g.total_difficulty,
                                            g.fork.name, [], state, {0: genesis.hash},
                                            genesis.hash))
            chain.store = store
            chain._read_from(store)
            return chain
        try:
            chain = cls(store.config(), store=store)
            chain._read_from(store)
            chain.head_hash = store.head()
            head = chain.blocks.get(chain.head_hash)
            if head is None:
                raise ValueError(f"{datadir}: the head block is missing")
            if genesis is not None and chain.canonical.get(0) != genesis.hash:
                raise ValueError(f"{datadir}: holds a chain with another genesis")
            # The head's state is kept whole (and edited in place).
            head._state = _read_whole_state(store, head.hash, head.state_token)
        except BaseException:
            store.close()
            raise
        return chain

    def _read_from(self, store: LmdbStore) -> None:
        """Hold in memory only what `StoreBlocks` and `StoreCanonical` say; read the rest
        from `store`."""
        blocks = StoreBlocks(self._read_block, lambda h: h == self.head_hash)
        canonical = StoreCanonical(store.canonical_hash)
        for block_hash, stored in self.blocks.items():
            dict.__setitem__(blocks, block_hash, stored)
        for number, block_hash in self.canonical.items():
            canonical[number] = block_hash
        self.blocks, self.canonical = blocks, canonical

    def _read_block(self, block_hash: bytes) -> StoredBlock | None:
        store = self.store
        assert isinstance(store, LmdbStore)
        found = store.block(block_hash)
        if found is None:
            return None
        block_rlp, td, fork_name = found
        blocks = self.blocks
        assert isinstance(blocks, StoreBlocks)
        return StoredBlock.from_store(store, Block.decode(block_rlp), td, get_fork(fork_name),
                                      blocks)

    def close(self) -> None:
        self.store.close()

    # -- lookups -----------------------------------------------------------------------------

    @property
    def head(self) -> StoredBlock:
        return self.blocks[self.head_hash]

    def state(self) -> State:
        return self.head.state

    def get_block(self, block_hash: bytes) -> StoredBlock | None:
        return self.blocks.get(block_hash)

    def get_canonical_block(self, block_hash: bytes) -> StoredBlock | None:
        """The block `block_hash` names if it is on the canonical chain (a block a dev node
        reverted, or a side chain's, is not)."""
        stored = self.blocks.get(block_hash)
        if stored is None or self.canonical.get(stored.number) != block_hash:
            return None
        return stored

    def get_block_by_number(self, number: int) -> StoredBlock | None:
        block_hash = self.canonical.get(number)
        return self.blocks.get(block_hash) if block_hash is not None else None

    def get_transaction(self, tx_hash: bytes
                        ) -> tuple[SignedTransaction, Receipt, StoredBlock, int] | None:
        """A canonical transaction with its receipt, block and index."""
        store = self.store
        if isinstance(store, LmdbStore):
            locations = [TxLocation(h, i) for h, i in store.tx_locations(tx_hash)]
        else:
            locations = self._tx_index.get(tx_hash, [])
        for loc in locations:
            stored = self.blocks.get(loc.block_hash)
            if stored is not None and self.canonical.get(stored.number) == stored.hash:
                return (stored.block.transactions[loc.index], stored.receipts[loc.index],
                        stored, loc.index)
        return None

    def logs(self, from_number: int, to_number: int,
             address: bytes | None = None) -> list[tuple[int, Log]]:
        """Canonical logs of blocks in [from_number, to_number], optionally of one address."""
        out: list[tuple[int, Log]] = []
        for number in range(from_number, to_number + 1):
            stored = self.get_block_by_number(number)
            if stored is None:
                break
            for receipt in stored.receipts:
                out.extend((number, log) for log in receipt.logs
                           if address is None or log.address == address)
        return out

    def ancestor_hashes(self, parent: StoredBlock) -> Callable[[int], bytes]:
        cache: dict[int, bytes] = {}

        def lookup(number: int) -> bytes:
            if number in cache:
                return cache[number]
            node: StoredBlock | None = parent
            while node is not None and node.number > number:
                cache[node.number] = node.hash
                node = self.blocks.get(node.header.parent_hash)
            if node is None or node.number != number:
                older = self.older_hash
                return older(number) if older is not None and node is None else bytes(32)
            cache[number] = node.hash
            return node.hash

        return lookup

    # -- import --------------------------------------------------------------------------------

    def import_block(self, block: Block) -> StoredBlock:
        """Validate and execute `block`; store it and update the head. Raises InvalidBlock."""
        known = self.blocks.get(block.hash)
        if known is not None:
            return known
        parent, fork = self._check_header(block)
        self._validate_uncles(block)
        outcome = execute_block(self.config, fork, block, parent.state,
                                self.ancestor_hashes(parent), self.exempt)
        return self._store(block, parent, fork, outcome)

    def import_built(self, block: Block, outcome: BodyResult, set_by_owner: bool = False
                     ) -> StoredBlock:
        """Store a block this process has just built with `build_block` on a block of this
        chain, with the execution that built it (`BuiltBlock.result`): the header is
        checked against its parent, the body is not run again. `set_by_owner`: a dev
        node's block, whose base fee and gas limit may be the user's (`validate_header`)."""
        known = self.blocks.get(block.hash)
        if known is not None:
            return known
        parent, fork = self._check_header(block, set_by_owner)
        return self._store(block, parent, fork, outcome)

    def _check_header(self, block: Block, set_by_owner: bool = False
                      ) -> tuple[StoredBlock, Fork]:
        """The block's parent and fork, after checking its header against the parent."""
        header = block.header
        parent = self.blocks.get(header.parent_hash)
        if parent is None:
            raise InvalidBlock("unknown parent")
        fork = self.config.fork_at(header.number, header.timestamp, parent.total_difficulty)
        validate_header(self.config, header, parent.header, parent.total_difficulty,
                        parent.fork, fork, set_by_owner)
        return parent, fork

    def _store(self, block: Block, parent: StoredBlock, fork: Fork,
               outcome: BodyResult) -> StoredBlock:
        header = block.header
        stored = StoredBlock(block, parent.total_difficulty + header.difficulty,
                             outcome.state, outcome.receipts, fork)
        new_head = self.config.merged(parent.total_difficulty) or \
            stored.total_difficulty > self.head.total_difficulty
        changes = self._canonical_changes(stored) if new_head else {}
        head = stored.hash if new_head else self.head_hash
        # Persist first (one atomic write), then update memory. A store keeps the
        # transaction index; in memory, the chain does.
        if not isinstance(self.store, MemoryStore):
            self.store.commit(Commit(block.encode(), block.hash, stored.total_difficulty,
                                     fork.name, outcome.receipts, outcome.state, changes, head,
                                     stored.changes_for_store(parent),
                                     [tx.hash for tx in block.transactions]))
        else:
            for i, tx in enumerate(block.transactions):
                self._tx_index.setdefault(tx.hash, []).append(TxLocation(block.hash, i))
        self.blocks[block.hash] = stored
        for number, block_hash in changes.items():
            if block_hash is None:
                self.canonical.pop(number, None)
            else:
                self.canonical[number] = block_hash
        self.head_hash = head
        self._thin_state(stored.number - STATE_WINDOW)
        self._forget(stored.number - MEMORY_WINDOW)
        return stored

    def save_head_state(self) -> None:
        """Write the head's state again after edits in place (a dev chain's setBalance...),
        so that a reopened store has them."""
        if isinstance(self.store, MemoryStore):
            return
        head = self.head
        if isinstance(self.blocks, StoreBlocks):
            self.blocks.states.pop(head.hash, None)
        parent = self.blocks.get(head.header.parent_hash)
        self.store.put_state(head.hash, head.state, head.changes_for_store(parent))

    def _thin_state(self, number: int) -> None:
        """Keep the state of canonical block `number` as changes only (see the module)."""
        if number <= 0 or number % STATE_CHECKPOINT == 0:
            return
        stored = self._in_memory(self.canonical.get(number))
        parent = self._in_memory(self.canonical.get(number - 1))
        if stored is not None and parent is not None and \
                stored.header.parent_hash == parent.hash:
            stored.keep_as_changes(parent)

    def _forget(self, number: int) -> None:
        """A chain in a store: drop canonical block `number` from memory. Its child, when
        it keeps only its state's changes, finds it again through the store."""
        blocks, canonical, store = self.blocks, self.canonical, self.store
        if number < 0 or not isinstance(blocks, StoreBlocks) \
                or not isinstance(canonical, StoreCanonical) \
                or not isinstance(store, LmdbStore):
            return
        block_hash = dict.get(canonical, number)
        if block_hash is None or block_hash == self.head_hash:
            return
        old = blocks.cached(block_hash)
        child_hash = dict.get(canonical, number + 1)
        child = blocks.cached(child_hash) if child_hash is not None else None
        if old is not None and child is not None and child._parent is old:
            child._parent = None
            child._store = store
            child._blocks = blocks
        blocks.drop(block_hash)
        canonical.drop(number)

    def _in_memory(self, block_hash: bytes | None) -> StoredBlock | None:
        """A block held in memory (one only in a store is not read: nothing to thin)."""
        if block_hash is None:
            return None
        blocks = self.blocks
        return blocks.cached(block_hash) if isinstance(blocks, StoreBlocks) \
            else blocks.get(block_hash)

    def set_head(self, block_hash: bytes) -> None:
        """Make a known block the head (a consensus-layer fork choice after the Merge)."""
        stored = self.blocks.get(block_hash)
        if stored is None:
            raise KeyError(f"unknown block 0x{block_hash.hex()}")
        changes = self._canonical_changes(stored)
        self.store.commit_head(changes, block_hash)
        if stored._state is None:  # read back or thinned: the head's state is kept whole
            stored._state = stored.state
        if isinstance(self.blocks, StoreBlocks):  # it may be edited in place: not kept
            self.blocks.states.pop(block_hash, None)
        for number, h in changes.items():
            if h is None:
                self.canonical.pop(number, None)
            else:
                self.canonical[number] = h
        self.head_hash = block_hash

    def _canonical_changes(self, stored: StoredBlock) -> dict[int, bytes | None]:
        """Number -> hash updates that make `stored` the head (None: number dropped)."""
        changes: dict[int, bytes | None] = {}
        node: StoredBlock | None = stored
        while node is not None and self.canonical.get(node.number) != node.hash:
            changes[node.number] = node.hash
            node = self.blocks.get(node.header.parent_hash)
        for number in range(stored.number + 1, self.head.number + 1):
            changes[number] = None
        return changes

    def _validate_uncles(self, block: Block) -> None:
        if not block.uncles:
            return
        header = block.header
        ancestors: dict[bytes, StoredBlock] = {}
        included: set[bytes] = {block.hash}
        cursor = header.parent_hash
        for _ in range(UNCLE_GENERATIONS):
            node = self.blocks.get(cursor)
            if node is None:
                break
            ancestors[cursor] = node
            included.update(u.hash for u in node.block.uncles)
            cursor = node.header.parent_hash
        seen: set[bytes] = set()
        for uncle in block.uncles:
            h = uncle.hash
            if h in included or h in seen:
                raise InvalidBlock("duplicate uncle")
            seen.add(h)
            if h in ancestors:
                raise InvalidBlock("uncle is an ancestor")
            uncle_parent = ancestors.get(uncle.parent_hash)
            if uncle_parent is None or uncle.parent_hash == header.parent_hash:
                raise InvalidBlock("uncle's parent is not an ancestor (dangling uncle)")
            fork = self.config.fork_at(uncle.number, uncle.timestamp,
                                       uncle_parent.total_difficulty)
            try:
                validate_header(self.config, uncle, uncle_parent.header,
                                uncle_parent.total_difficulty, uncle_parent.fork, fork)
            except InvalidBlock as exc:
                raise InvalidBlock(f"invalid uncle: {exc}") from None
