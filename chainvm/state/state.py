"""Journaled world state.

One undo journal covers accounts, storage, code, transient storage, warm
sets, the refund counter and logs. A snapshot is the journal length;
reverting pops entries in reverse and undoes each. Nothing is copied per
call frame.

State roots are incremental: the state keeps a persistent account trie as of
the last root and the set of addresses changed since (every State method that
changes an account records it, and so does undoing a change); each account
keeps its storage trie and the slots changed since. A root re-hashes only the
changed accounts and slots (`full_state_root` recomputes everything, for
checks). Code that edits `accounts`, an Account or its storage directly, after
a root was taken, must say so with `mark_dirty`.

Copies share their accounts: `copy()` copies the address -> Account table (not the
accounts) and from then on both states copy an account before its first write
(copy-on-write), so a block's state costs a table, not the whole world, and what one
state changes never shows in another. Direct edits of an Account are only for a state
that was never copied (e.g. while building a genesis).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Final, Protocol

from chainvm.crypto import EMPTY_KECCAK, keccak256
from chainvm.encoding.rlp import encode
from chainvm.state.layered import shared_copy
from chainvm.state.trie import EMPTY_TRIE_ROOT, Trie, secure_trie_root

RIPEMD160_ADDRESS: Final = (3).to_bytes(20, "big")

# Fork mode (chainvm.node.forking) hands a State an account table and storages that read
# the remote on a miss: dict subclasses. They are typed as mappings here, not dicts, so
# that a compiled build of this module calls their methods (mypyc reads a `dict` through
# the C dict API, past a subclass's `get`, `in` and `del`).
AccountTable = MutableMapping[bytes, "Account"]
SlotTable = MutableMapping[int, int]

# Journal entry tags (first element of each entry tuple); Final, one per line, so that
# the native build compiles them in (chainvm/evm/gas.py says why).
_BALANCE: Final = 0
_NONCE: Final = 1
_STORAGE: Final = 2
_CODE: Final = 3
_CREATE: Final = 4
_TOUCH: Final = 5
_WARM_ADDR: Final = 6
_WARM_SLOT: Final = 7
_TSTORE: Final = 8
_REFUND: Final = 9
_LOG: Final = 10
_DESTRUCT: Final = 11
_CREATED: Final = 12


# Hashed trie keys of recently written addresses and storage slots (the same few are
# written block after block); cleared when they grow past _KEY_CACHE_SIZE.
_KEY_CACHE_SIZE: Final = 1 << 16
_address_keys: Final[dict[bytes, bytes]] = {}
_slot_keys: Final[dict[int, bytes]] = {}


def address_key(address: bytes) -> bytes:
    """keccak256(address): the account's key in the state trie."""
    key = _address_keys.get(address)
    if key is None:
        if len(_address_keys) >= _KEY_CACHE_SIZE:
            _address_keys.clear()
        key = _address_keys[address] = keccak256(address)
    return key


def slot_key(slot: int) -> bytes:
    """keccak256 of the 32-byte slot number: the slot's key in a storage trie."""
    key = _slot_keys.get(slot)
    if key is None:
        if len(_slot_keys) >= _KEY_CACHE_SIZE:
            _slot_keys.clear()
        key = _slot_keys[slot] = keccak256(slot.to_bytes(32, "big"))
    return key


class AccountChange(Protocol):
    """A change to an account, to apply to the account before it (None if absent)."""

    def applied_to(self, previous: Account | None) -> Account: ...


class Account:
    __slots__ = ("balance", "code", "code_hash", "dirty_slots", "nonce", "storage",
                 "storage_trie")

    def __init__(self, nonce: int = 0, balance: int = 0, code: bytes = b"",
                 storage: SlotTable | None = None) -> None:
        self.nonce = nonce
        self.balance = balance
        self.code = code
        self.code_hash = keccak256(code) if code else EMPTY_KECCAK
        self.storage: SlotTable = storage if storage is not None else {}
        # The storage trie as of the last storage root (None: not built yet) and the
        # slots written since.
        self.storage_trie: Trie | None = None
        self.dirty_slots: set[int] = set()

    def is_empty(self) -> bool:
        """EIP-161: no code, zero nonce and zero balance."""
        return self.nonce == 0 and self.balance == 0 and not self.code

    def copy(self, shared: bool = False) -> Account:
        """A copy to write to. `shared`: this account is never written again (a state
        copies a shared account before writing it), so a large storage is not copied but
        layered under the copy's writes (chainvm/state/layered.py)."""
        acct = Account.__new__(Account)
        acct.nonce = self.nonce
        acct.balance = self.balance
        acct.code = self.code
        acct.code_hash = self.code_hash
        # dict and fork mode's ForkedStorage both copy themselves, keeping their type.
        acct.storage = shared_copy(self.storage) if shared \
            else self.storage.copy()  # type: ignore[attr-defined]
        trie = self.storage_trie
        acct.storage_trie = Trie(trie.root) if trie is not None else None
        acct.dirty_slots = set(self.dirty_slots)
        return acct

    def storage_root(self) -> bytes:
        """The storage root, re-hashing only the slots written since the last one."""
        trie = self.storage_trie
        storage = self.storage
        if trie is None:
            if not storage:  # most accounts: nothing to build
                self.storage_trie = Trie()
                self.dirty_slots.clear()
                return EMPTY_TRIE_ROOT
            trie = self.storage_trie = Trie.from_items(
                [(keccak256(k.to_bytes(32, "big")), _rlp_uint(v)) for k, v in storage.items()
                 if v])
        elif self.dirty_slots:
            get = storage.get
            for key in self.dirty_slots:
                value = get(key, 0)
                trie.set(slot_key(key), _rlp_uint(value) if value else b"")
        self.dirty_slots.clear()
        return trie.root_hash()


class Log:
    __slots__ = ("address", "data", "topics")

    def __init__(self, address: bytes, topics: tuple[int, ...], data: bytes) -> None:
        self.address = address
        self.topics = topics
        self.data = data

    def to_rlp(self) -> list[object]:
        return [self.address, [t.to_bytes(32, "big") for t in self.topics], self.data]


class State:
    """World state plus the per-transaction substate (warm sets, refund, logs...)."""

    def __init__(self, accounts: AccountTable | None = None) -> None:
        self.accounts: AccountTable = accounts if accounts is not None else {}
        self.journal: list[tuple] = []
        # The account trie as of the last root (None: not built yet), and the addresses
        # changed since.
        self.trie: Trie | None = None
        self.dirty: set[bytes] = set()
        # Copy-on-write: the addresses whose Account objects this state alone holds (None:
        # all of them, it was never copied), and those whose entry changed since the copy.
        self._own: set[bytes] | None = None
        self.changed: set[bytes] = set()
        # Identity of this state's contents, and of the state it was copied from (a copy
        # is that state plus `changes()`); tokens, so that no copy keeps its origin alive.
        self.token = object()
        self.origin: object | None = None
        self.begin_transaction()

    # -- transaction scope -------------------------------------------------

    def begin_transaction(self) -> None:
        self.journal.clear()
        self.touched: set[bytes] = set()
        self.warm_addresses: set[bytes] = set()
        self.warm_slots: set[tuple[bytes, int]] = set()
        self.transient: dict[tuple[bytes, int], int] = {}
        self.refund = 0
        self.logs: list[Log] = []
        self.destructed: set[bytes] = set()
        self.created: set[bytes] = set()  # EIP-6780: contracts created in this transaction
        # Storage values as of the transaction's start, recorded on first write (EIP-2200).
        self.original: dict[tuple[bytes, int], int] = {}

    def finalize_transaction(self, delete_empty: bool) -> None:
        """Apply self-destructs and (EIP-161) delete touched empty accounts."""
        accounts = self.accounts
        for addr in self.destructed:
            accounts.pop(addr, None)
            self.dirty.add(addr)
            self.changed.add(addr)
        if delete_empty:
            for addr in self.touched:
                acct = accounts.get(addr)
                if acct is not None and acct.is_empty():
                    del accounts[addr]
                    self.dirty.add(addr)
                    self.changed.add(addr)
        self.journal.clear()

    # -- snapshots ---------------------------------------------------------

    def snapshot(self) -> int:
        return len(self.journal)

    def revert(self, snapshot: int) -> None:
        journal = self.journal
        accounts = self.accounts
        dirty = self.dirty
        while len(journal) > snapshot:
            entry = journal.pop()
            tag = entry[0]
            if tag == _STORAGE:
                _, acct, key, old, addr = entry
                if old:
                    acct.storage[key] = old
                else:
                    acct.storage.pop(key, None)
                acct.dirty_slots.add(key)
                dirty.add(addr)
            elif tag == _BALANCE:
                entry[1].balance = entry[2]
                dirty.add(entry[3])
            elif tag == _NONCE:
                entry[1].nonce = entry[2]
                dirty.add(entry[3])
            elif tag == _WARM_ADDR:
                self.warm_addresses.discard(entry[1])
            elif tag == _WARM_SLOT:
                self.warm_slots.discard(entry[1])
            elif tag == _TOUCH:
                # The 2016 mainnet consensus quirk kept the touch of RIPEMD-160
                # even when its call was reverted; every client replicates it.
                if entry[1] != RIPEMD160_ADDRESS:
                    self.touched.discard(entry[1])
            elif tag == _CREATE:
                _, addr, previous = entry
                if previous is None:
                    accounts.pop(addr, None)
                else:
                    accounts[addr] = previous
                    if self._own is not None:
                        self._own.discard(addr)  # it may be shared: copied again on write
                dirty.add(addr)
            elif tag == _CODE:
                acct = entry[1]
                acct.code = entry[2]
                acct.code_hash = entry[3]
                dirty.add(entry[4])
            elif tag == _TSTORE:
                _, key, old = entry
                if old:
                    self.transient[key] = old
                else:
                    self.transient.pop(key, None)
            elif tag == _REFUND:
                self.refund = entry[1]
            elif tag == _LOG:
                self.logs.pop()
            elif tag == _DESTRUCT:
                self.destructed.discard(entry[1])
            elif tag == _CREATED:
                self.created.discard(entry[1])

    # -- accounts ------------------------------------------------------------

    def get(self, addr: bytes) -> Account | None:
        return self.accounts.get(addr)

    def exists(self, addr: bytes) -> bool:
        return addr in self.accounts

    def is_empty(self, addr: bytes) -> bool:
        acct = self.accounts.get(addr)
        return acct is None or acct.is_empty()

    def _get_or_create(self, addr: bytes) -> Account:
        """The account to write to: created if absent, this state's own copy if shared."""
        acct = self.accounts.get(addr)
        own = self._own
        if acct is None:
            acct = Account()
            self.accounts[addr] = acct
            self.journal.append((_CREATE, addr, None))
            self.dirty.add(addr)
            if own is not None:
                own.add(addr)
                self.changed.add(addr)
        elif own is not None and addr not in own:
            acct = self.accounts[addr] = acct.copy(shared=True)
            own.add(addr)
            self.changed.add(addr)
        return acct

    def create_account(self, addr: bytes) -> Account:
        """Create (or reset, keeping the balance) an account, as for a new contract."""
        previous = self.accounts.get(addr)
        acct = Account(balance=previous.balance if previous is not None else 0)
        self.accounts[addr] = acct
        self.journal.append((_CREATE, addr, previous))
        self.dirty.add(addr)
        if self._own is not None:
            self._own.add(addr)
            self.changed.add(addr)
        return acct

    def touch(self, addr: bytes) -> None:
        if addr not in self.touched:
            self.touched.add(addr)
            self.journal.append((_TOUCH, addr))

    def balance(self, addr: bytes) -> int:
        acct = self.accounts.get(addr)
        return acct.balance if acct is not None else 0

    def add_balance(self, addr: bytes, amount: int) -> None:
        if not amount and addr in self.accounts:
            # A touch (zero-value calls, the coinbase's zero fee): nothing to write, so no
            # copy of a shared account either.
            self.touch(addr)
            return
        acct = self._get_or_create(addr)
        self.touch(addr)
        if amount:
            self.journal.append((_BALANCE, acct, acct.balance, addr))
            acct.balance += amount
            self.dirty.add(addr)

    def sub_balance(self, addr: bytes, amount: int) -> None:
        acct = self._get_or_create(addr)
        self.touch(addr)
        if amount:
            self.journal.append((_BALANCE, acct, acct.balance, addr))
            acct.balance -= amount
            self.dirty.add(addr)

    def set_balance(self, addr: bytes, amount: int) -> None:
        acct = self._get_or_create(addr)
        self.touch(addr)
        self.journal.append((_BALANCE, acct, acct.balance, addr))
        acct.balance = amount
        self.dirty.add(addr)

    def nonce(self, addr: bytes) -> int:
        acct = self.accounts.get(addr)
        return acct.nonce if acct is not None else 0

    def set_nonce(self, addr: bytes, nonce: int) -> None:
        acct = self._get_or_create(addr)
        self.journal.append((_NONCE, acct, acct.nonce, addr))
        acct.nonce = nonce
        self.dirty.add(addr)

    def code(self, addr: bytes) -> bytes:
        acct = self.accounts.get(addr)
        return acct.code if acct is not None else b""

    def code_hash(self, addr: bytes) -> bytes:
        acct = self.accounts.get(addr)
        return acct.code_hash if acct is not None else EMPTY_KECCAK

    def set_code(self, addr: bytes, code: bytes) -> None:
        acct = self._get_or_create(addr)
        self.journal.append((_CODE, acct, acct.code, acct.code_hash, addr))
        acct.code = code
        acct.code_hash = keccak256(code)
        self.dirty.add(addr)

    # -- storage -------------------------------------------------------------

    def get_storage(self, addr: bytes, key: int) -> int:
        acct = self.accounts.get(addr)
        return acct.storage.get(key, 0) if acct is not None else 0

    def original_storage(self, addr: bytes, key: int) -> int:
        original = self.original.get((addr, key))
        if original is None:
            return self.get_storage(addr, key)
        return original

    def set_storage(self, addr: bytes, key: int, value: int) -> None:
        acct = self._get_or_create(addr)
        storage = acct.storage
        old = storage.get(key, 0)
        slot = (addr, key)
        if slot not in self.original:
            self.original[slot] = old
        self.journal.append((_STORAGE, acct, key, old, addr))
        if value:
            storage[key] = value
        else:
            storage.pop(key, None)
        acct.dirty_slots.add(key)
        self.dirty.add(addr)

    def get_transient(self, addr: bytes, key: int) -> int:
        return self.transient.get((addr, key), 0)

    def set_transient(self, addr: bytes, key: int, value: int) -> None:
        slot = (addr, key)
        self.journal.append((_TSTORE, slot, self.transient.get(slot, 0)))
        if value:
            self.transient[slot] = value
        else:
            self.transient.pop(slot, None)

    # -- substate --------------------------------------------------------------

    def prewarm(self, addresses: Iterable[bytes],
                slots: Iterable[tuple[bytes, int]] = ()) -> None:
        """Start a transaction with these accounts and slots warm (EIP-2929, EIP-2930)."""
        self.warm_addresses.update(addresses)
        self.warm_slots.update(slots)

    def access_address(self, addr: bytes) -> bool:
        """Record an access to `addr`; True if it was cold until now (EIP-2929)."""
        if addr in self.warm_addresses:
            return False
        self.warm_addresses.add(addr)
        self.journal.append((_WARM_ADDR, addr))
        return True

    def access_slot(self, addr: bytes, key: int) -> bool:
        """Record an access to a storage slot; True if it was cold until now (EIP-2929)."""
        slot = (addr, key)
        if slot in self.warm_slots:
            return False
        self.warm_slots.add(slot)
        self.journal.append((_WARM_SLOT, slot))
        return True

    def add_refund(self, amount: int) -> None:
        self.journal.append((_REFUND, self.refund))
        self.refund += amount

    def add_log(self, log: Log) -> None:
        self.logs.append(log)
        self.journal.append((_LOG,))

    def mark_destructed(self, addr: bytes) -> None:
        if addr not in self.destructed:
            self.destructed.add(addr)
            self.journal.append((_DESTRUCT, addr))

    def mark_created(self, addr: bytes) -> None:
        if addr not in self.created:
            self.created.add(addr)
            self.journal.append((_CREATED, addr))

    # -- roots -------------------------------------------------------------------

    def mark_dirty(self, addr: bytes, slot: int | None = None) -> None:
        """Record a direct edit of `addr` (its account, or one storage `slot`) for the next
        root. Edits through State methods are recorded by themselves."""
        self.dirty.add(addr)
        if slot is not None:
            acct = self.accounts.get(addr)
            if acct is not None:
                acct.dirty_slots.add(slot)

    def state_root(self) -> bytes:
        """The state root, re-hashing only what changed since the last one."""
        accounts = self.accounts
        trie = self.trie
        if trie is None:
            self.trie = trie = Trie.from_items(
                [(keccak256(addr), account_rlp(acct)) for addr, acct in accounts.items()])
        elif self.dirty:
            for addr in self.dirty:
                acct = accounts.get(addr)
                trie.set(address_key(addr), account_rlp(acct) if acct is not None else b"")
        self.dirty.clear()
        return trie.root_hash()

    def full_state_root(self) -> bytes:
        """The state root computed from scratch (no cached tries): for checks."""
        return secure_trie_root({addr: encode([acct.nonce, acct.balance,
                                               storage_root(acct.storage), acct.code_hash])
                                 for addr, acct in self.accounts.items()})

    def copy(self) -> State:
        """An independent state with the same accounts, shared until either writes one."""
        accounts = self.accounts
        shared = not self.journal
        # Mid-transaction the journal holds accounts that undoing would write to in place:
        # those must not be shared.
        items = dict(accounts) if shared else {a: acct.copy() for a, acct in accounts.items()}
        # A forked state's accounts (chainvm.node.forking) keep their remote below the copy.
        state = State(items if type(accounts) is dict else accounts.derive(items))  # type: ignore[attr-defined]
        if shared:
            state._own = set()
            state.origin = self.token
            self._own = set()
        if self.trie is not None:
            state.trie = Trie(self.trie.root)
        state.dirty = set(self.dirty)
        return state

    def changes(self) -> dict[bytes, Account | None]:
        """The accounts whose entry changed since this state was copied (None: deleted):
        with the state it was copied from, they make this state again."""
        return {a: self.accounts.get(a) for a in self.changed}

    def with_changes(self, changes: Iterable[Mapping[bytes, Account | AccountChange | None]]
                     ) -> State:
        """A copy of this state with `changes()` of its descendants applied in order. An
        entry is an account, None (deleted), or a change to apply to the account before it
        (a stored block's slot-level record, chainvm/chain/store.py)."""
        state = self.copy()
        accounts = state.accounts
        for change in changes:
            for addr, acct in change.items():
                if acct is None:
                    accounts.pop(addr, None)
                elif isinstance(acct, Account):
                    accounts[addr] = acct  # shared: copied on write like the others
                else:
                    accounts[addr] = acct.applied_to(accounts.get(addr))
                state.dirty.add(addr)
        return state

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.accounts)


def storage_root(storage: SlotTable) -> bytes:
    if not storage:
        return EMPTY_TRIE_ROOT
    return secure_trie_root({k.to_bytes(32, "big"): encode(v) for k, v in storage.items() if v})


def _rlp_uint(value: int) -> bytes:
    """RLP of a non-negative integer below 2**256."""
    if value < 0x80:
        return bytes((value,)) if value else b"\x80"
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes((0x80 + len(raw),)) + raw


def account_rlp(acct: Account) -> bytes:
    """RLP [nonce, balance, storage root, code hash] (the payload is 66 to 132 bytes)."""
    payload = b"".join((_rlp_uint(acct.nonce), _rlp_uint(acct.balance), b"\xa0",
                        acct.storage_root(), b"\xa0", acct.code_hash))
    return bytes((0xF8, len(payload))) + payload
