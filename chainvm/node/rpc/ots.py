"""ots_: Otterscan's API (level 8, as erigon defines it and anvil serves it), so that an
Otterscan explorer can browse the dev chain, and erigon_getHeaderByNumber, which it calls.

Traces come from re-running a transaction with the call tracer (`DevChain.replay`). The
address searches walk the chain's blocks and match a transaction's sender, recipient and
created contract; internal calls to an address are not indexed (erigon's index has them).
In fork mode only the blocks from the fork block on are the node's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chainvm.chain.chain import StoredBlock
from chainvm.evm.vm import create_address
from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.format import d, format_block, format_receipt, format_tx, q
from chainvm.node.rpc.params import LATEST, Address, BlockRef, Hash, Number
from chainvm.node.tracing import CallTracer

OTS_API_LEVEL = 8
# ots_getInternalOperations' kinds of operation
TRANSFER, SELF_DESTRUCT, CREATE, CREATE2 = 0, 1, 2, 3
# Transactions one search or page may return, whatever the page size asked for.
MAX_PAGE = 1000


def _frames(frame: dict[str, Any], depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    """The call tree's frames in execution order, with their depth."""
    yield frame, depth
    for child in frame.get("calls", []):
        yield from _frames(child, depth + 1)


class OtsApi(Namespace):
    prefixes = ("ots_", "erigon_")

    def ots_getApiLevel(self) -> int:
        return OTS_API_LEVEL

    def ots_hasCode(self, address: Address, block: BlockRef = LATEST) -> bool:
        return bool(self.state_at(block).code(address))

    def erigon_getHeaderByNumber(self, number: Number) -> dict[str, Any] | None:
        """The block's header fields (and transaction hashes), as anvil answers it."""
        stored = self.dev.chain.get_block_by_number(number)
        return format_block(self.dev, stored, False) if stored is not None else None

    # -- one transaction ---------------------------------------------------------------------

    def _trace(self, tx_hash: bytes) -> dict[str, Any] | None:
        found = self.dev.chain.get_transaction(tx_hash)
        if found is None:
            return None
        _tx, _receipt, stored, index = found
        tracer = CallTracer()
        return tracer.result(self.dev.replay(stored, index, tracer))

    def ots_traceTransaction(self, tx_hash: Hash) -> list[dict[str, Any]] | None:
        """Every message of the transaction, flat and in order: type, depth, from, to,
        value (null for a static or delegate call), input and output."""
        root = self._trace(tx_hash)
        if root is None:
            return None
        out = []
        for frame, depth in _frames(root):
            kind = frame.get("type", "CALL")
            value = None if kind in ("STATICCALL", "DELEGATECALL") else frame.get("value", "0x0")
            out.append({"type": kind, "depth": depth, "from": frame["from"],
                        "to": frame.get("to"), "value": value,
                        "input": frame.get("input", "0x"), "output": frame.get("output", "0x")})
        return out

    def ots_getInternalOperations(self, tx_hash: Hash) -> list[dict[str, Any]] | None:
        """The ether moved and the contracts made or destroyed inside the transaction (not
        the transaction's own value): calls with value, CREATE, CREATE2 and SELFDESTRUCT.
        A message that failed moved nothing, nor did anything under it."""
        root = self._trace(tx_hash)
        if root is None:
            return None
        out: list[dict[str, Any]] = []

        def walk(frame: dict[str, Any], top: bool) -> None:
            if "error" in frame:
                return
            kind = frame.get("type", "CALL")
            value = frame.get("value", "0x0")
            if not top:
                op = {"CREATE": CREATE, "CREATE2": CREATE2, "SELFDESTRUCT": SELF_DESTRUCT}.get(
                    kind, TRANSFER if kind in ("CALL", "CALLCODE") and value != "0x0" else None)
                if op is not None:
                    out.append({"type": op, "from": frame["from"], "to": frame.get("to"),
                                "value": value})
            for child in frame.get("calls", []):
                walk(child, False)

        walk(root, True)
        return out

    def ots_getTransactionError(self, tx_hash: Hash) -> str | None:
        """A failed transaction's revert data ("0x" when it has none or succeeded)."""
        found = self.dev.chain.get_transaction(tx_hash)
        if found is None:
            return None
        _tx, receipt, stored, index = found
        if receipt.status_or_root == 1:
            return "0x"
        return d(self.dev.replay(stored, index, None).output)

    def ots_getTransactionBySenderAndNonce(self, sender: Address, nonce: Number
                                           ) -> str | None:
        """The hash of the sender's mined transaction with that nonce."""
        found = self.dev.find_by_sender_and_nonce(sender, nonce)
        if found is None:
            return None
        stored, index = found
        return d(stored.block.transactions[index].hash)

    def ots_getContractCreator(self, address: Address) -> dict[str, Any] | None:
        """The transaction that created the contract at `address`, and the account whose
        CREATE or CREATE2 made it (the sender, for a creation transaction)."""
        if not self.dev.chain.head.state.code(address):
            return None
        # The first block whose state has the code: its transactions hold the creation.
        stored = self.dev.first_block_where(lambda state: bool(state.code(address)))
        if stored is None:
            return None
        for index, tx in enumerate(stored.block.transactions):
            tracer = CallTracer()
            root = tracer.result(self.dev.replay(stored, index, tracer))
            for frame, _depth in _frames(root):
                if frame.get("type") in ("CREATE", "CREATE2") and "error" not in frame \
                        and frame.get("to") == d(address):
                    return {"hash": d(tx.hash), "creator": frame["from"]}
        return None  # installed by a state edit (anvil_setCode, a genesis account)

    # -- blocks ------------------------------------------------------------------------------

    def _details(self, stored: StoredBlock, transactions: list[dict[str, Any]] | None
                 ) -> dict[str, Any]:
        block = format_block(self.dev, stored, False)
        block["transactionCount"] = len(stored.block.transactions)
        if transactions is None:
            block.pop("transactions")
        else:
            block["transactions"] = transactions
        return block

    def _total_fees(self, stored: StoredBlock) -> int:
        total = 0
        for index in range(len(stored.block.transactions)):
            receipt = format_receipt(self.dev, stored, index)
            total += int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
        return total

    def _block_details(self, stored: StoredBlock | None) -> dict[str, Any] | None:
        if stored is None:
            return None
        reward = 0 if self.dev.config.merged(stored.total_difficulty - stored.header.difficulty) \
            else stored.fork.rules.block_reward
        return {"block": self._details(stored, None),
                "issuance": {"blockReward": q(reward), "uncleReward": q(0),
                             "issuance": q(reward)},
                "totalFees": q(self._total_fees(stored))}

    def ots_getBlockDetails(self, number: Number) -> dict[str, Any] | None:
        """The block without its transactions (their count instead), what it issued and
        the fees its transactions paid."""
        return self._block_details(self.dev.chain.get_block_by_number(number))

    def ots_getBlockDetailsByHash(self, block_hash: Hash) -> dict[str, Any] | None:
        return self._block_details(self.dev.chain.get_canonical_block(block_hash))

    def ots_getBlockTransactions(self, number: Number, page: Number, page_size: Number
                                 ) -> dict[str, Any] | None:
        """Page `page` (0: the first) of the block's transactions, `page_size` a page, with
        their receipts."""
        stored = self.dev.chain.get_block_by_number(number)
        if stored is None:
            return None
        size = max(1, min(page_size, MAX_PAGE))
        first = page * size
        indexes = range(first, min(first + size, len(stored.block.transactions)))
        txs = [format_tx(self.dev, stored.block.transactions[i], stored, i) for i in indexes]
        return {"fullblock": self._details(stored, txs),
                "receipts": [format_receipt(self.dev, stored, i) for i in indexes]}

    # -- address history -----------------------------------------------------------------------

    def _first_block_number(self) -> int:
        remote = self.dev.remote
        return remote.number if remote is not None else 0

    def _blocks(self, reverse: bool, start: int | None = None) -> Iterator[StoredBlock]:
        """The canonical blocks the node has, from `start` (default: the head or the first),
        newest first if `reverse`."""
        chain = self.dev.chain
        first, head = self._first_block_number(), chain.head.number
        numbers = range(head if start is None else min(start, head), first - 1, -1) if reverse \
            else range(first if start is None else max(start, first), head + 1)
        for number in numbers:
            stored = chain.get_block_by_number(number)
            if stored is not None:
                yield stored

    def _touches(self, stored: StoredBlock, index: int, address: bytes) -> bool:
        tx = stored.block.transactions[index]
        if tx.to == address:
            return True
        sender = self.dev.sender_of(tx)
        return sender == address or (tx.to is None and create_address(sender, tx.nonce)
                                     == address)

    def _search(self, address: bytes, blocks: Iterator[StoredBlock], last: int,
                page_size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        """Transactions touching `address` from whole blocks in the order given, until at
        least `page_size` are found, newest first; whether the search reached block `last`,
        the end of the blocks in that order."""
        size = max(1, min(page_size, MAX_PAGE))
        txs: list[dict[str, Any]] = []
        receipts: list[dict[str, Any]] = []
        reached = True
        for stored in blocks:
            for index, tx in enumerate(stored.block.transactions):
                if self._touches(stored, index, address):
                    txs.append(format_tx(self.dev, tx, stored, index))
                    receipt = format_receipt(self.dev, stored, index)
                    receipt["timestamp"] = q(stored.header.timestamp)
                    receipts.append(receipt)
            if len(txs) >= size:
                reached = stored.number == last
                break
        for listed in (txs, receipts):  # as Otterscan lists them
            listed.sort(key=lambda t: (int(t["blockNumber"], 16),
                                       int(t["transactionIndex"], 16)), reverse=True)
        return txs, receipts, reached

    def ots_searchTransactionsBefore(self, address: Address, number: Number, page_size: Number
                                     ) -> dict[str, Any]:
        """The address's transactions in blocks before `number` (0: from the head), newest
        first, whole blocks until at least `page_size`."""
        first = self._first_block_number()
        blocks = self._blocks(True, None if number == 0 else number - 1) \
            if number == 0 or number > first else iter(())
        txs, receipts, reached = self._search(address, blocks, first, page_size)
        return {"txs": txs, "receipts": receipts, "firstPage": number == 0,
                "lastPage": reached}

    def ots_searchTransactionsAfter(self, address: Address, number: Number, page_size: Number
                                    ) -> dict[str, Any]:
        """The address's transactions in blocks after `number` (0: from the first), oldest
        blocks searched first, answered newest first as Otterscan lists them."""
        blocks = self._blocks(False, None if number == 0 else number + 1)
        txs, receipts, reached = self._search(address, blocks, self.dev.chain.head.number,
                                              page_size)
        return {"txs": txs, "receipts": receipts, "firstPage": reached,
                "lastPage": number == 0}


__all__ = ["OTS_API_LEVEL", "OtsApi"]
