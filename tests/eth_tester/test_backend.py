"""ChainvmBackend's answers computed from shortcuts (block sizes, memoized transaction
hashes) against the values computed the long way."""

from __future__ import annotations

import pytest

pytest.importorskip("eth_tester")

from chainvm.crypto import keccak256
from chainvm.eth_tester import GENESIS_GAS_LIMIT, TX_MEMO_SIZE, ChainvmBackend


def _send_mixed(backend: ChainvmBackend, count: int) -> list[bytes]:
    """`count` transactions of each kind (legacy, access list, dynamic fee) from three
    senders into the pending block."""
    a, b, c = backend.get_accounts()[:3]
    hashes = []
    for i in range(count):
        hashes.append(backend.send_transaction(
            {"from": a, "to": c, "gas": 30_000, "value": i, "gas_price": 2 * 10**9}))
        hashes.append(backend.send_transaction(
            {"from": b, "to": c, "gas": 40_000, "value": 1, "gas_price": 2 * 10**9,
             "access_list": ((c, (1, 2)),), "data": bytes(range(i * 7 % 200))}))
        hashes.append(backend.send_transaction(
            {"from": c, "to": a, "gas": 30_000, "value": 5, "data": b"\x01" * (i * 50)}))
    return hashes


@pytest.mark.parametrize("count", [0, 1, 4])
def test_block_size_is_the_encoded_length(count: int) -> None:
    backend = ChainvmBackend()
    sent = _send_mixed(backend, count)
    (block_hash,) = backend.mine_blocks()
    stored = backend.chain.get_block(block_hash)
    assert stored is not None and len(stored.block.transactions) == 3 * count
    block = backend.get_block_by_hash(block_hash, False)
    assert block["size"] == len(stored.block.encode())
    assert block["transactions"] == sent
    assert sent == [keccak256(tx.encode()) for tx in stored.block.transactions]
    full = backend.get_block_by_number(stored.number, True)
    assert [tx["hash"] for tx in full["transactions"]] == sent
    for i, tx_hash in enumerate(sent):
        receipt = backend.get_transaction_receipt(tx_hash)
        assert receipt["transaction_hash"] == tx_hash and receipt["transaction_index"] == i


@pytest.mark.parametrize("count", [1, 3])
def test_block_size_with_withdrawals(count: int) -> None:
    backend = ChainvmBackend()
    address = backend.get_accounts()[4]
    backend.apply_withdrawals([{"index": i, "validator_index": 1000 + i, "address": address,
                                "amount": 10**9 + i} for i in range(count)])
    stored = backend.chain.head
    assert len(stored.block.withdrawals or []) == count
    assert backend.get_block_by_number("latest", False)["size"] == len(stored.block.encode())


def test_pending_transactions_keep_their_hashes() -> None:
    backend = ChainvmBackend()
    sent = _send_mixed(backend, 2)
    pending = backend.get_block_by_number("pending", False)
    assert pending["transactions"] == sent
    for tx_hash in sent:
        assert backend.get_transaction_by_hash(tx_hash)["hash"] == tx_hash
        assert backend.get_transaction_receipt(tx_hash)["block_hash"] is None
    # A replacement (same sender and nonce) takes the place of the first one.
    first = backend.get_transaction_by_hash(sent[0])
    replacement = backend.send_transaction(
        {"from": first["from"], "to": first["to"], "gas": 30_000, "value": 99,
         "gas_price": 3 * 10**9, "nonce": first["nonce"]})
    pending = backend.get_block_by_number("pending", False)
    assert sent[0] not in pending["transactions"] and replacement in pending["transactions"]


def test_transaction_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """More transactions than the memo holds: it keeps the newest only, and the answers
    for the dropped ones (hashes, block sizes, receipts) are computed again, the same."""
    monkeypatch.setattr("chainvm.eth_tester.TX_MEMO_SIZE", 8)
    backend = ChainvmBackend()
    sent = _send_mixed(backend, 4)  # 12 in one pending block: more than the memo holds
    assert len(backend._tx_memo) == 8
    (block_hash,) = backend.mine_blocks()
    a, b = backend.get_accounts()[:2]
    for i in range(20):
        sent.append(backend.send_transaction({"from": a, "to": b, "gas": 21_000, "value": i}))
        backend.mine_blocks()
        assert len(backend._tx_memo) <= 8
    stored = backend.chain.get_block(block_hash)
    assert stored is not None
    assert backend.get_block_by_hash(block_hash, False)["transactions"] == sent[:12]
    assert backend.get_block_by_hash(block_hash, False)["size"] == len(stored.block.encode())
    for tx_hash in sent:
        assert backend.get_transaction_by_hash(tx_hash)["hash"] == tx_hash
        assert backend.get_transaction_receipt(tx_hash)["transaction_hash"] == tx_hash
    assert len(backend._tx_memo) == 8


def test_transaction_memo_holds_a_full_pending_block() -> None:
    """Each new pending transaction asks for the hashes of all the pending ones: the memo
    holds more transfers than fit in a block at eth-tester's gas limit."""
    assert TX_MEMO_SIZE > GENESIS_GAS_LIMIT // 21_000
