"""How blocks, transactions, receipts and logs look in JSON-RPC answers."""

from __future__ import annotations

from typing import Any

from chainvm.chain.block import Receipt
from chainvm.chain.chain import StoredBlock
from chainvm.chain.transactions import SignedTransaction
from chainvm.node.devchain import DevChain
from chainvm.state.state import Log


def q(n: int) -> str:
    """A quantity: "0x" plus lowercase hex without leading zeros ("0x0" for zero)."""
    return hex(n)


def d(b: bytes) -> str:
    """Data: "0x" plus two hex digits a byte."""
    return "0x" + b.hex()


def addr_out(a: bytes | None) -> str | None:
    return None if a is None else "0x" + a.hex()


def format_tx(dev: DevChain, tx: SignedTransaction, stored: StoredBlock | None,
              index: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": q(tx.tx_type), "hash": d(tx.hash), "nonce": q(tx.nonce),
        "blockHash": d(stored.hash) if stored else None,
        "blockNumber": q(stored.number) if stored else None,
        # execution-apis#729, as anvil and alloy have it: null while pending
        "blockTimestamp": q(stored.header.timestamp) if stored else None,
        "transactionIndex": q(index) if index is not None else None,
        "from": addr_out(dev.sender_of(tx)), "to": addr_out(tx.to),
        "value": q(tx.value), "gas": q(tx.gas_limit), "input": d(tx.data),
        "v": q(tx.v), "r": q(tx.r), "s": q(tx.s),
    }
    if tx.tx_type >= 1 or tx.chain_id is not None:
        out["chainId"] = q(tx.chain_id or 0)
    if tx.tx_type >= 1:
        out["yParity"] = q(tx.v)
        out["accessList"] = [{"address": d(a), "storageKeys": [d(k) for k in keys]}
                             for a, keys in tx.access_list]
    if tx.tx_type >= 2:
        out["maxFeePerGas"] = q(tx.max_fee_per_gas or 0)
        out["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas or 0)
        base = (stored.header.base_fee or 0) if stored else dev.next_base_fee()
        out["gasPrice"] = q(min(tx.max_fee_per_gas or 0,
                                base + (tx.max_priority_fee_per_gas or 0)))
    else:
        out["gasPrice"] = q(tx.gas_price or 0)
    if tx.tx_type == 3:
        out["maxFeePerBlobGas"] = q(tx.max_fee_per_blob_gas or 0)
        out["blobVersionedHashes"] = [d(h) for h in tx.blob_versioned_hashes]
    if tx.tx_type == 4:
        out["authorizationList"] = [
            {"chainId": q(a.chain_id), "address": d(a.address), "nonce": q(a.nonce),
             "yParity": q(a.y_parity), "r": q(a.r), "s": q(a.s)}
            for a in tx.authorization_list]
    return out


def format_log(log: Log, stored: StoredBlock, tx_index: int, log_index: int) -> dict[str, Any]:
    return {
        "address": d(log.address), "topics": [f"0x{t:064x}" for t in log.topics],
        "data": d(log.data), "blockNumber": q(stored.number),
        "blockHash": d(stored.hash), "blockTimestamp": q(stored.header.timestamp),
        "transactionHash": d(stored.block.transactions[tx_index].hash),
        "transactionIndex": q(tx_index), "logIndex": q(log_index), "removed": False,
    }


def format_receipt(dev: DevChain, stored: StoredBlock, index: int) -> dict[str, Any]:
    receipt: Receipt = stored.receipts[index]
    tx = stored.block.transactions[index]
    info = dev.receipt_details(stored, index)
    logs = [format_log(log, stored, index, info["first_log"] + i)
            for i, log in enumerate(receipt.logs)]
    base = stored.header.base_fee or 0
    if tx.tx_type >= 2:
        price = min(tx.max_fee_per_gas or 0, base + (tx.max_priority_fee_per_gas or 0))
    else:
        price = tx.gas_price or 0
    out: dict[str, Any] = {
        "transactionHash": d(tx.hash), "transactionIndex": q(index),
        "blockHash": d(stored.hash), "blockNumber": q(stored.number),
        "blockTimestamp": q(stored.header.timestamp),  # as geth, anvil and erigon answer
        "from": addr_out(info["sender"]), "to": addr_out(tx.to),
        "cumulativeGasUsed": q(receipt.cumulative_gas_used), "gasUsed": q(info["gas_used"]),
        "contractAddress": addr_out(info["contract_address"]), "logs": logs,
        "logsBloom": d(receipt.bloom), "type": q(tx.tx_type), "effectiveGasPrice": q(price),
    }
    if isinstance(receipt.status_or_root, int):
        out["status"] = q(receipt.status_or_root)
    else:
        out["root"] = d(receipt.status_or_root)
    if tx.tx_type == 3:
        from chainvm.evm.gas import GAS_PER_BLOB
        from chainvm.evm.transaction import blob_base_fee

        out["blobGasUsed"] = q(len(tx.blob_versioned_hashes) * GAS_PER_BLOB)
        out["blobGasPrice"] = q(blob_base_fee(stored.header.excess_blob_gas or 0, stored.fork))
    return out


def format_block(dev: DevChain, stored: StoredBlock, full: bool) -> dict[str, Any]:
    h = stored.header
    block = stored.block
    out: dict[str, Any] = {
        "number": q(h.number), "hash": d(stored.hash), "parentHash": d(h.parent_hash),
        "nonce": d(h.nonce), "sha3Uncles": d(h.ommers_hash), "logsBloom": d(h.bloom),
        "transactionsRoot": d(h.transactions_root), "stateRoot": d(h.state_root),
        "receiptsRoot": d(h.receipts_root), "miner": d(h.coinbase),
        "difficulty": q(h.difficulty), "totalDifficulty": q(stored.total_difficulty),
        "extraData": d(h.extra_data), "size": q(len(block.encode())),
        "gasLimit": q(h.gas_limit), "gasUsed": q(h.gas_used), "timestamp": q(h.timestamp),
        "mixHash": d(h.mix_hash), "uncles": [d(u.hash) for u in block.uncles],
        "transactions": [format_tx(dev, tx, stored, i) if full else d(tx.hash)
                         for i, tx in enumerate(block.transactions)],
    }
    if h.base_fee is not None:
        out["baseFeePerGas"] = q(h.base_fee)
    if h.withdrawals_root is not None:
        out["withdrawalsRoot"] = d(h.withdrawals_root)
        out["withdrawals"] = [
            {"index": q(w.index), "validatorIndex": q(w.validator_index),
             "address": d(w.address), "amount": q(w.amount)}
            for w in (block.withdrawals or [])]
    if h.blob_gas_used is not None:
        out["blobGasUsed"] = q(h.blob_gas_used)
        out["excessBlobGas"] = q(h.excess_blob_gas or 0)
    if h.parent_beacon_block_root is not None:
        out["parentBeaconBlockRoot"] = d(h.parent_beacon_block_root)
    if h.requests_hash is not None:
        out["requestsHash"] = d(h.requests_hash)
    return out


def format_head(dev: DevChain, stored: StoredBlock) -> dict[str, Any]:
    """A header as eth_subscribe("newHeads") sends it: the block without its body."""
    head = format_block(dev, stored, False)
    for key in ("transactions", "uncles", "withdrawals", "size", "totalDifficulty"):
        head.pop(key, None)
    return head
