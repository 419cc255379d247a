"""Block states share accounts and, past a window, are kept as changes only: every
historical state still answers as it did, and no block's state shows another's writes."""

from __future__ import annotations

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
