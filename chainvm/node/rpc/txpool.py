"""txpool_: what waits in the transaction pool."""

from __future__ import annotations

from typing import Any

from chainvm.chain.mpool import PoolEntry
from chainvm.node.accounts import checksum
from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.format import format_tx, q
from chainvm.node.rpc.params import Address


class TxpoolApi(Namespace):
    prefixes = ("txpool_",)

    def txpool_status(self) -> dict[str, str]:
        """Counts of pending transactions (ready for the next block) and queued ones
        (behind a nonce gap), as geth reports them."""
        pool = self.dev.pool
        pending = sum(len(run) for run in pool.pending().values())
        return {"pending": q(pending), "queued": q(len(pool) - pending)}

    def _grouped(self) -> dict[str, list[PoolEntry]]:
        pool = self.dev.pool
        pending = [e for run in pool.pending().values() for e in run]
        return {"pending": pending, "queued": pool.queued()}

    def txpool_content(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every waiting transaction, by group, sender (checksummed) and nonce (decimal)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for group, entries in self._grouped().items():
            by_sender: dict[str, dict[str, Any]] = {}
            for e in entries:
                by_sender.setdefault(checksum(e.sender), {})[str(e.tx.nonce)] = \
                    format_tx(self.dev, e.tx, None, None)
            out[group] = by_sender
        return out

    def txpool_contentFrom(self, address: Address) -> dict[str, dict[str, Any]]:
        content = self.txpool_content()
        key = checksum(address)
        return {group: senders.get(key, {}) for group, senders in content.items()}

    def txpool_inspect(self) -> dict[str, dict[str, dict[str, str]]]:
        """geth's one-line summaries: `to: value wei + gas gas × price wei`."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for group, entries in self._grouped().items():
            by_sender: dict[str, dict[str, str]] = {}
            for e in entries:
                tx = e.tx
                to = checksum(tx.to) if tx.to is not None else "contract creation"
                price = tx.max_fee_per_gas if tx.tx_type >= 2 else tx.gas_price
                by_sender.setdefault(checksum(e.sender), {})[str(tx.nonce)] = \
                    f"{to}: {tx.value} wei + {tx.gas_limit} gas \u00d7 {price or 0} wei"
            out[group] = by_sender
        return out
