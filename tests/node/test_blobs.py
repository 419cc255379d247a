"""Blob transactions (EIP-4844) on the dev node: sent in their pooled form with the sidecar,
mined, and their blobs looked up (anvil's anvil_getBlobByHash and
anvil_getBlobsByTransactionHash), through snapshots, reverts and rollbacks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chainvm.chain.blobs import (
    BYTES_PER_BLOB,
    BlobSidecar,
    encode_pooled,
    make_sidecar,
    versioned_hashes,
)
from chainvm.chain.transactions import SignedTransaction
from chainvm.node.devchain import DevChain
from chainvm.node.server import ThreadedNode
from tests.node.helpers import Client, reverting_client

GWEI = 10**9
BLOB_A = b"\x00\x01" * (BYTES_PER_BLOB // 2)
BLOB_B = b"\x00\x02" * (BYTES_PER_BLOB // 2)


@pytest.fixture(scope="module")
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode(DevChain(fork="Osaka")) as n:
        yield n


@pytest.fixture
def rpc(node: ThreadedNode) -> Iterator[Client]:
    yield from reverting_client(node.url)
    Client(node.url)("evm_setAutomine", True)


def blob_tx(node: ThreadedNode, rpc: Client, blobs: list[bytes], version: int = 1
            ) -> tuple[SignedTransaction, BlobSidecar]:
    dev = node.server.dev
    sender = dev.accounts[0]
    sidecar = make_sidecar(blobs, version)
    tx = SignedTransaction(3, nonce=int(rpc("eth_getTransactionCount", "0x" + sender.hex(),
                                            "pending"), 16),
                           gas_limit=21_000, to=b"\x11" * 20, value=0, data=b"", v=0, r=0, s=0,
                           chain_id=dev.chain_id, max_priority_fee_per_gas=GWEI,
                           max_fee_per_gas=100 * GWEI, max_fee_per_blob_gas=10 * GWEI,
                           blob_versioned_hashes=versioned_hashes(sidecar))
    return tx.sign(dev.keys[sender]), sidecar


def raw(tx: SignedTransaction, sidecar: BlobSidecar) -> str:
    return "0x" + encode_pooled(tx, sidecar).hex()


def test_a_blob_transaction_is_mined_and_its_blobs_found(node: ThreadedNode,
                                                          rpc: Client) -> None:
    tx, sidecar = blob_tx(node, rpc, [BLOB_A, BLOB_B])
    tx_hash = rpc("eth_sendRawTransaction", raw(tx, sidecar))
    assert tx_hash == "0x" + tx.hash.hex()
    receipt = rpc("eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1" and receipt["type"] == "0x3"
    assert int(receipt["blobGasUsed"], 16) == 2 * BYTES_PER_BLOB
    block = rpc("eth_getBlockByNumber", receipt["blockNumber"], False)
    assert int(block["blobGasUsed"], 16) == 2 * BYTES_PER_BLOB
    mined = rpc("eth_getTransactionByHash", tx_hash)
    assert mined["blobVersionedHashes"] == ["0x" + h.hex() for h in tx.blob_versioned_hashes]

    assert rpc("anvil_getBlobsByTransactionHash", tx_hash) == ["0x" + BLOB_A.hex(),
                                                               "0x" + BLOB_B.hex()]
    second = "0x" + tx.blob_versioned_hashes[1].hex()
    assert rpc("anvil_getBlobByHash", second) == "0x" + BLOB_B.hex()
    # Nothing for an unknown blob, a transaction without blobs or an unknown one.
    assert rpc("anvil_getBlobByHash", "0x01" + "00" * 31) is None
    accounts = rpc("eth_accounts")
    plain = rpc("eth_sendTransaction", {"from": accounts[1], "to": accounts[2]})
    assert rpc("anvil_getBlobsByTransactionHash", plain) is None
    assert rpc("anvil_getBlobsByTransactionHash", "0x" + "22" * 32) is None
    assert rpc.error("anvil_getBlobByHash", "0x12")["code"] == -32602


@pytest.mark.parametrize("version", [0, 1])
def test_either_sidecar_form_is_taken_after_osaka(node: ThreadedNode, rpc: Client,
                                                  version: int) -> None:
    # (as anvil takes both: a client may still send EIP-4844's one proof per blob)
    tx, sidecar = blob_tx(node, rpc, [BLOB_A], version)
    tx_hash = rpc("eth_sendRawTransaction", raw(tx, sidecar))
    assert rpc("eth_getTransactionReceipt", tx_hash)["status"] == "0x1"
    assert rpc("anvil_getBlobsByTransactionHash", tx_hash) == ["0x" + BLOB_A.hex()]


def test_blob_transactions_without_a_valid_sidecar_are_refused(node: ThreadedNode,
                                                                rpc: Client) -> None:
    tx, sidecar = blob_tx(node, rpc, [BLOB_A])
    # The canonical form (a block's) has no sidecar to check the blobs against.
    assert "without its sidecar" in rpc.error("eth_sendRawTransaction",
                                              "0x" + tx.encode().hex())["message"]
    bad_proofs = BlobSidecar(sidecar.blobs, sidecar.commitments,
                             [bytes(48)] * len(sidecar.proofs), sidecar.version)
    assert "blob proof" in rpc.error("eth_sendRawTransaction", raw(tx, bad_proofs))["message"]
    _other, other_sidecar = blob_tx(node, rpc, [BLOB_B])
    assert "do not match" in rpc.error("eth_sendRawTransaction",
                                       raw(tx, other_sidecar))["message"]
    bad_wrapper = "0x03" + encode_pooled(tx, sidecar)[1:].hex()[:-2]
    assert rpc.error("eth_sendRawTransaction", bad_wrapper)["code"] == -32602
    assert rpc("eth_getTransactionCount", rpc("eth_accounts")[0], "pending") == "0x0"


def test_a_pooled_blob_transaction_survives_a_revert_with_its_sidecar(
        node: ThreadedNode, rpc: Client) -> None:
    rpc("evm_setAutomine", False)
    tx, sidecar = blob_tx(node, rpc, [BLOB_A])
    tx_hash = rpc("eth_sendRawTransaction", raw(tx, sidecar))
    assert rpc("anvil_getBlobsByTransactionHash", tx_hash) is None  # pending: not mined
    sid = rpc("evm_snapshot")
    rpc("evm_mine")
    assert rpc("anvil_getBlobsByTransactionHash", tx_hash) == ["0x" + BLOB_A.hex()]
    # Back before the block: the transaction is in the pool again, with its blobs.
    assert rpc("evm_revert", sid) is True
    assert rpc("anvil_getBlobsByTransactionHash", tx_hash) is None
    assert tx_hash in [t["hash"] for t in
                       rpc("eth_getBlockByNumber", "pending", True)["transactions"]]
    rpc("evm_mine")
    assert rpc("eth_getTransactionReceipt", tx_hash)["status"] == "0x1"
    assert rpc("anvil_getBlobByHash", "0x" + tx.blob_versioned_hashes[0].hex()) \
        == "0x" + BLOB_A.hex()


def test_a_rolled_back_blob_is_no_longer_found(node: ThreadedNode, rpc: Client) -> None:
    tx, sidecar = blob_tx(node, rpc, [BLOB_B])
    tx_hash = rpc("eth_sendRawTransaction", raw(tx, sidecar))
    versioned = "0x" + tx.blob_versioned_hashes[0].hex()
    assert rpc("anvil_getBlobByHash", versioned) == "0x" + BLOB_B.hex()
    rpc("anvil_rollback", 1)
    assert rpc("anvil_getBlobByHash", versioned) is None
    assert rpc("anvil_getBlobsByTransactionHash", tx_hash) is None
    # A reorg may carry it back, in its pooled form, into a block in place of another.
    rpc("evm_mine")
    rpc("anvil_reorg", 1, [[raw(tx, sidecar), 0]])
    assert rpc("anvil_getBlobByHash", versioned) == "0x" + BLOB_B.hex()
