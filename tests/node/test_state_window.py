"""Block states share accounts and, past a window, are kept as changes only: every
historical state still answers as it did, and no block's state shows another's writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainvm.chain import chain as chain_module
from chainvm.node.devchain import CallArgs, DevChain


def test_old_states_are_thinned_and_made_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain_module, "STATE_WINDOW", 8)
    monkeypatch.setattr(chain_module, "STATE_CHECKPOINT", 16)
    dev = DevChain(accounts=3)
    a, b, c = dev.accounts
    balances = []
    for i in range(60):
        dev.send_transaction(CallArgs(sender=a if i % 2 else c, to=b, value=i + 1))
        if i % 7 == 0:
            dev.set_storage(b, i, i + 1)  # an edit of the head state, in place
        state = dev.state()
        balances.append((state.balance(a), state.balance(b), state.balance(c),
                         state.state_root()))
    head = dev.head.number
    kept = [n for n in range(head + 1) if dev.chain.get_block_by_number(n)._state is not None]
    assert len(kept) < 20 and 16 in kept and 32 in kept and head in kept
    for number in range(1, head + 1):
        stored = dev.chain.get_block_by_number(number)
        state = stored.state
        assert (state.balance(a), state.balance(b), state.balance(c),
                state.state_root()) == balances[number - 1]
        assert state.state_root() == state.full_state_root()
        if (number - 1) % 7:  # not edited after it was mined: its header's root
            assert state.state_root() == stored.header.state_root
    # A state made again is a copy: writing to it changes no other block's state.
    old = dev.chain.get_block_by_number(3)
    again = old.state
    again.set_balance(a, 1)
    assert old.state.balance(a) == balances[2][0]
    assert dev.chain.get_block_by_number(4).state.balance(a) == balances[3][0]


def test_a_datadir_keeps_changes_and_reopens_without_replay(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    pytest.importorskip("lmdb")
    from chainvm.chain.store import CHANGES_RECORD

    monkeypatch.setattr(chain_module, "STATE_WINDOW", 8)
    monkeypatch.setattr(chain_module, "STATE_CHECKPOINT", 16)
    dev = DevChain(accounts=3, datadir=tmp_path)
    a, b, c = dev.accounts
    seen = []
    for i in range(40):
        dev.send_transaction(CallArgs(sender=a if i % 2 else c, to=b, value=i + 1))
        if i % 5 == 0:
            dev.set_balance(c, 10**20 + i)  # edited in place: the store must keep it
        seen.append((dev.state().balance(a), dev.state().balance(b), dev.state().balance(c),
                     dev.state().state_root()))
    sid = dev.snapshot()
    dev.send_transaction(CallArgs(sender=a, to=b, value=5))
    dev.set_balance(a, 3)
    assert dev.revert(sid)  # back to block 40 as the snapshot had it
    head = dev.head.number
    with dev.chain.store.env.begin() as txn:  # type: ignore[attr-defined]
        records = {n: bytes(txn.get(dev.chain.canonical[n], db=dev.chain.store.states))
                   for n in range(head + 1)}
    dev.close()
    assert records[0][:1] != CHANGES_RECORD and records[16][:1] != CHANGES_RECORD
    assert all(records[n].startswith(CHANGES_RECORD) for n in range(1, 16))
    again = DevChain(accounts=3, datadir=tmp_path)
    try:
        assert again.head.number == head
        for number in range(1, head + 1):
            state = again.chain.get_block_by_number(number).state
            assert (state.balance(a), state.balance(b), state.balance(c),
                    state.state_root()) == seen[number - 1], number
        again.send_transaction(CallArgs(sender=a, to=b, value=1))  # and it goes on
        assert again.state().state_root() == again.head.header.state_root
    finally:
        again.close()


def test_a_data_dir_chain_does_not_keep_every_storage_layer(tmp_path: Path) -> None:
    """With EIP-2935's history contract (one of its 8,191 slots written a block), each
    collapse of a storage's layers held the layers before it through `origin`: a
    --datadir node grew ~2.5 KB a block without bound. The layers kept alive stay
    bounded now, and the stored blocks still record slot changes, not whole accounts."""
    import gc

    from chainvm.state.layered import LayeredStorage

    dev = DevChain(datadir=str(tmp_path / "chain"), history_contract=True, accounts=1)
    try:
        def layers() -> int:
            gc.collect()
            return sum(1 for o in gc.get_objects() if type(o) is LayeredStorage)

        dev.mine(600)
        before = layers()
        dev.mine(1200)
        assert layers() - before < 100, (before, layers())
    finally:
        dev.close()
