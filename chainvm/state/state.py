"""Journaled world state.

One undo journal covers accounts, storage, code, transient storage, warm
sets, the refund counter and logs. A snapshot is the journal length;
reverting pops entries in reverse and undoes each. Nothing is copied per
call frame.
"""

from __future__ import annotations

from collections.abc import Iterator

from chainvm.crypto import EMPTY_KECCAK, keccak256
from chainvm.encoding.rlp import encode
from chainvm.state.trie import EMPTY_TRIE_ROOT, secure_trie_root

RIPEMD160_ADDRESS = (3).to_bytes(20, "big")

# Journal entry tags (first element of each entry tuple).
_BALANCE, _NONCE, _STORAGE, _CODE, _CREATE, _TOUCH, _WARM_ADDR, _WARM_SLOT = range(8)
_TSTORE, _REFUND, _LOG, _DESTRUCT, _CREATED = range(8, 13)


class Account:
    __slots__ = ("balance", "code", "code_hash", "nonce", "storage")

    def __init__(self, nonce: int = 0, balance: int = 0, code: bytes = b"",
                 storage: dict[int, int] | None = None) -> None:
        self.nonce = nonce
        self.balance = balance
        self.code = code
        self.code_hash = keccak256(code) if code else EMPTY_KECCAK
        self.storage: dict[int, int] = storage if storage is not None else {}

    def is_empty(self) -> bool:
        """EIP-161: no code, zero nonce and zero balance."""
        return self.nonce == 0 and self.balance == 0 and not self.code

    def copy(self) -> Account:
        return Account(self.nonce, self.balance, self.code, dict(self.storage))


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

    def __init__(self, accounts: dict[bytes, Account] | None = None) -> None:
        self.accounts: dict[bytes, Account] = accounts if accounts is not None else {}
        self.journal: list[tuple] = []
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
        if delete_empty:
            for addr in self.touched:
                acct = accounts.get(addr)
                if acct is not None and acct.is_empty():
                    del accounts[addr]
        self.journal.clear()

    # -- snapshots ---------------------------------------------------------

    def snapshot(self) -> int:
        return len(self.journal)

    def revert(self, snapshot: int) -> None:
        journal = self.journal
        accounts = self.accounts
        while len(journal) > snapshot:
            entry = journal.pop()
            tag = entry[0]
            if tag == _STORAGE:
                _, acct, key, old = entry
                if old:
                    acct.storage[key] = old
                else:
                    acct.storage.pop(key, None)
            elif tag == _BALANCE:
                entry[1].balance = entry[2]
            elif tag == _NONCE:
                entry[1].nonce = entry[2]
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
            elif tag == _CODE:
                acct = entry[1]
                acct.code = entry[2]
                acct.code_hash = entry[3]
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
        acct = self.accounts.get(addr)
        if acct is None:
            acct = Account()
            self.accounts[addr] = acct
            self.journal.append((_CREATE, addr, None))
        return acct

    def create_account(self, addr: bytes) -> Account:
        """Create (or reset, keeping the balance) an account, as for a new contract."""
        previous = self.accounts.get(addr)
        acct = Account(balance=previous.balance if previous is not None else 0)
        self.accounts[addr] = acct
        self.journal.append((_CREATE, addr, previous))
        return acct

    def touch(self, addr: bytes) -> None:
        if addr not in self.touched:
            self.touched.add(addr)
            self.journal.append((_TOUCH, addr))

    def balance(self, addr: bytes) -> int:
        acct = self.accounts.get(addr)
        return acct.balance if acct is not None else 0

    def add_balance(self, addr: bytes, amount: int) -> None:
        acct = self._get_or_create(addr)
        self.touch(addr)
        if amount:
            self.journal.append((_BALANCE, acct, acct.balance))
            acct.balance += amount

    def sub_balance(self, addr: bytes, amount: int) -> None:
        acct = self._get_or_create(addr)
        self.touch(addr)
        if amount:
            self.journal.append((_BALANCE, acct, acct.balance))
            acct.balance -= amount

    def set_balance(self, addr: bytes, amount: int) -> None:
        acct = self._get_or_create(addr)
        self.touch(addr)
        self.journal.append((_BALANCE, acct, acct.balance))
        acct.balance = amount

    def nonce(self, addr: bytes) -> int:
        acct = self.accounts.get(addr)
        return acct.nonce if acct is not None else 0

    def set_nonce(self, addr: bytes, nonce: int) -> None:
        acct = self._get_or_create(addr)
        self.journal.append((_NONCE, acct, acct.nonce))
        acct.nonce = nonce

    def code(self, addr: bytes) -> bytes:
        acct = self.accounts.get(addr)
        return acct.code if acct is not None else b""

    def code_hash(self, addr: bytes) -> bytes:
        acct = self.accounts.get(addr)
        return acct.code_hash if acct is not None else EMPTY_KECCAK

    def set_code(self, addr: bytes, code: bytes) -> None:
        acct = self._get_or_create(addr)
        self.journal.append((_CODE, acct, acct.code, acct.code_hash))
        acct.code = code
        acct.code_hash = keccak256(code)

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
        self.journal.append((_STORAGE, acct, key, old))
        if value:
            storage[key] = value
        else:
            storage.pop(key, None)

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

    def warm_address(self, addr: bytes) -> bool:
        """Mark warm; returns True if it was cold (EIP-2929)."""
        if addr in self.warm_addresses:
            return False
        self.warm_addresses.add(addr)
        self.journal.append((_WARM_ADDR, addr))
        return True

    def warm_slot(self, addr: bytes, key: int) -> bool:
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

    def state_root(self) -> bytes:
        return secure_trie_root({addr: account_rlp(acct) for addr, acct in self.accounts.items()})

    def copy(self) -> State:
        return State({a: acct.copy() for a, acct in self.accounts.items()})

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.accounts)


def storage_root(storage: dict[int, int]) -> bytes:
    if not storage:
        return EMPTY_TRIE_ROOT
    return secure_trie_root({k.to_bytes(32, "big"): encode(v) for k, v in storage.items() if v})


def account_rlp(acct: Account) -> bytes:
    return encode([acct.nonce, acct.balance, storage_root(acct.storage), acct.code_hash])
