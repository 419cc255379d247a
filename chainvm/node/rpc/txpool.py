"""txpool_: what waits in the transaction pool."""

from __future__ import annotations

from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.format import q


class TxpoolApi(Namespace):
    prefixes = ("txpool_",)

    def txpool_status(self) -> dict[str, str]:
        """Counts of pending transactions (ready for the next block) and queued ones
        (behind a nonce gap), as geth reports them."""
        pool = self.dev.pool
        pending = sum(len(run) for run in pool.pending().values())
        return {"pending": q(pending), "queued": q(len(pool) - pending)}
