from chainvm.state.state import Account, Log, State

A = b"\x01" * 20
B = b"\x02" * 20


def test_revert_undoes_everything_in_reverse() -> None:
    state = State({A: Account(nonce=1, balance=100, storage={1: 5})})
    root_before = state.state_root()
    snap = state.snapshot()
    state.add_balance(B, 7)
    state.sub_balance(A, 7)
    state.set_nonce(A, 2)
    state.set_storage(A, 1, 0)
    state.set_storage(A, 2, 9)
    state.set_code(A, b"\x60\x00")
    state.set_transient(A, 3, 4)
    state.access_address(B)
    state.access_slot(A, 1)
    state.add_refund(4800)
    state.add_log(Log(A, (1,), b"x"))
    state.revert(snap)
    assert state.state_root() == root_before
    assert B not in state.accounts
    assert state.get_transient(A, 3) == 0
    assert B not in state.warm_addresses and (A, 1) not in state.warm_slots
    assert state.refund == 0 and state.logs == []


def test_nested_snapshots() -> None:
    state = State({A: Account(balance=10)})
    outer = state.snapshot()
    state.set_storage(A, 1, 1)
    inner = state.snapshot()
    state.set_storage(A, 1, 2)
    state.revert(inner)
    assert state.get_storage(A, 1) == 1
    state.revert(outer)
    assert state.get_storage(A, 1) == 0


def test_original_storage_is_value_at_transaction_start() -> None:
    state = State({A: Account(storage={1: 5})})
    state.begin_transaction()
    state.set_storage(A, 1, 6)
    state.set_storage(A, 1, 7)
    assert state.original_storage(A, 1) == 5
    assert state.get_storage(A, 1) == 7


def test_touched_empty_accounts_are_deleted_after_eip161() -> None:
    state = State({A: Account(), B: Account()})
    state.begin_transaction()
    state.add_balance(A, 0)
    state.finalize_transaction(delete_empty=True)
    assert A not in state.accounts and B in state.accounts


def test_ripemd_touch_survives_revert() -> None:
    ripemd = (3).to_bytes(20, "big")
    state = State({ripemd: Account()})
    state.begin_transaction()
    snap = state.snapshot()
    state.add_balance(ripemd, 0)
    state.revert(snap)
    state.finalize_transaction(delete_empty=True)
    assert ripemd not in state.accounts
