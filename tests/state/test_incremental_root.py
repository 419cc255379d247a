"""Incremental state roots (cached tries plus dirty sets) against roots from scratch."""

from __future__ import annotations

import random

from chainvm.crypto import keccak256
from chainvm.state.state import Account, State
from chainvm.state.trie import Trie, secure_trie_root, trie_root


def test_persistent_trie_matches_bulk_roots() -> None:
    rnd = random.Random(7)
    for _ in range(40):
        keys = [keccak256(bytes([i])) for i in range(rnd.randint(1, 50))]
        trie = Trie()
        now: dict[bytes, bytes] = {}
        for step in range(150):
            key = rnd.choice(keys)
            value = rnd.choice([b"", bytes([rnd.randint(1, 255)]), rnd.randbytes(40)])
            before = trie.copy()
            old_root = before.root_hash()
            trie.set(key, value)
            if value:
                now[key] = value
            else:
                now.pop(key, None)
            assert before.root_hash() == old_root  # copies are unaffected
            if step % 5 == 0:
                assert trie.root_hash() == trie_root(now)
        assert trie.root_hash() == Trie.from_items(now.items()).root_hash()


def _random_ops(rnd: random.Random, state: State, addrs: list[bytes]) -> None:
    state.begin_transaction()
    snap = state.snapshot()
    for _ in range(rnd.randint(1, 12)):
        addr = rnd.choice(addrs)
        op = rnd.randrange(8)
        if op == 0:
            state.add_balance(addr, rnd.randint(0, 10**20))
        elif op == 1:
            state.sub_balance(addr, min(state.balance(addr), rnd.randint(0, 10**18)))
        elif op == 2:
            state.set_nonce(addr, state.nonce(addr) + 1)
        elif op in (3, 4):
            state.set_storage(addr, rnd.randint(0, 6), rnd.choice([0, 1, rnd.getrandbits(200)]))
        elif op == 5:
            state.set_code(addr, rnd.randbytes(rnd.randint(0, 40)))
        elif op == 6:
            state.mark_destructed(addr)
        else:
            state.create_account(addr)
        state.touch(addr)
    if rnd.random() < 0.3:
        state.revert(snap)
    state.finalize_transaction(delete_empty=rnd.random() < 0.5)


def test_state_root_follows_journal_reverts_copies_and_deletes() -> None:
    rnd = random.Random(11)
    addrs = [bytes([i]) * 20 for i in range(1, 9)]
    for _ in range(30):
        state = State({a: Account(nonce=1, balance=10**18, storage={1: 2})
                       for a in addrs[:4]})
        states = [state]
        for step in range(25):
            current = rnd.choice(states)
            _random_ops(rnd, current, addrs)
            if rnd.random() < 0.5:
                assert current.state_root() == current.full_state_root()
            if rnd.random() < 0.3:
                states.append(current.copy())
            if step % 8 == 0:
                # A root taken in the middle of a transaction, then undone.
                current.begin_transaction()
                snap = current.snapshot()
                current.set_storage(addrs[0], 1, 99)
                current.add_balance(addrs[1], 5)
                current.state_root()
                current.revert(snap)
                current.finalize_transaction(delete_empty=False)
        for s in states:
            assert s.state_root() == s.full_state_root()


def test_direct_edits_need_mark_dirty() -> None:
    addr = b"\x01" * 20
    state = State({addr: Account(balance=1, storage={3: 4})})
    state.state_root()
    state.accounts[addr].storage[3] = 5
    state.mark_dirty(addr, 3)
    state.accounts[b"\x02" * 20] = Account(balance=7)
    state.mark_dirty(b"\x02" * 20)
    assert state.state_root() == state.full_state_root()
    assert state.full_state_root() == secure_trie_root(
        {a: _account_rlp(acct) for a, acct in state.accounts.items()})


def _account_rlp(acct: Account) -> bytes:
    from chainvm.encoding.rlp import encode

    storage = secure_trie_root({k.to_bytes(32, "big"): encode(v)
                                for k, v in acct.storage.items() if v})
    return encode([acct.nonce, acct.balance, storage, acct.code_hash])
