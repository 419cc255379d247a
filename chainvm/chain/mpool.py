"""The transaction pool: validated transactions waiting for a block.

Per sender, transactions are kept by nonce. Those whose nonces run on without
a gap from the sender's state nonce are *pending* (ready for the next block);
the rest are *queued* until the gap fills. A transaction with a nonce already
in the pool replaces the old one only if both its fee cap and its tip are at
least `price_bump` percent higher. Past the limits, the transaction that pays
the least (queued first) is evicted. Blob transactions keep their sidecar.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chainvm.chain.blobs import (
    WRAPPER_VERSION_CELL_PROOFS,
    BlobSidecar,
    decode_pooled,
    verify_sidecar,
)
from chainvm.chain.transactions import (
    InvalidTransaction,
    SignedTransaction,
    TxDecodeError,
    check_static,
)
from chainvm.evm.forks import Fork
from chainvm.evm.gas import GAS_PER_BLOB
from chainvm.state.state import State


class PoolError(ValueError):
    """A transaction the pool refuses; the message says why."""


@dataclass
class PoolConfig:
    chain_id: int = 1
    price_bump: int = 10  # percent, for a replacement
    max_per_sender: int = 16
    max_total: int = 4096
    block_gas_limit: int = 30_000_000
    require_blob_sidecars: bool = True
    # Refuse a transaction whose fee cap is below the current base fee, instead of keeping
    # it until the base fee falls (a dev chain's sender learns at once why it waits).
    reject_below_base_fee: bool = False
    # Take a blob sidecar of either form whatever the fork (its proofs still verified):
    # a development chain's clients may still send EIP-4844 proofs after Osaka, or cell
    # proofs before it, as anvil takes both.
    any_sidecar_version: bool = False


@dataclass
class PoolEntry:
    tx: SignedTransaction
    sender: bytes
    sidecar: BlobSidecar | None = None
    tx_hash: bytes = b""  # computed once (hashing re-encodes the transaction)


@dataclass
class TxPool:
    state: State
    fork: Fork
    base_fee: int = 0
    config: PoolConfig = field(default_factory=PoolConfig)
    by_sender: dict[bytes, dict[int, PoolEntry]] = field(default_factory=dict)
    by_hash: dict[bytes, PoolEntry] = field(default_factory=dict)
    # Transactions whose sender may have code (a development chain's impersonated senders).
    exempt: Callable[[SignedTransaction], bool] | None = None

    # -- admission -------------------------------------------------------------------------

    def _fee_cap(self, tx: SignedTransaction) -> int:
        return (tx.max_fee_per_gas if tx.tx_type >= 2 else tx.gas_price) or 0

    def _tip_cap(self, tx: SignedTransaction) -> int:
        return (tx.max_priority_fee_per_gas if tx.tx_type >= 2 else tx.gas_price) or 0

    def _max_cost(self, tx: SignedTransaction) -> int:
        cost = tx.gas_limit * self._fee_cap(tx) + tx.value
        if tx.tx_type == 3:
            cost += len(tx.blob_versioned_hashes) * GAS_PER_BLOB * (tx.max_fee_per_blob_gas or 0)
        return cost

    def add(self, tx: SignedTransaction, sidecar: BlobSidecar | None = None) -> bytes:
        """Validate and insert; returns the transaction hash. Raises PoolError."""
        tx_hash = tx.hash
        if tx_hash in self.by_hash:
            raise PoolError("already known")
        try:
            sender = check_static(tx, self.fork, self.config.chain_id)
        except InvalidTransaction as exc:
            raise PoolError(str(exc)) from None
        if tx.gas_limit > self.config.block_gas_limit:
            raise PoolError("exceeds block gas limit")
        if self.config.reject_below_base_fee and self._fee_cap(tx) < self.base_fee:
            raise PoolError(f"max fee per gas less than block base fee: fee cap "
                            f"{self._fee_cap(tx)}, base fee {self.base_fee}")
        if tx.tx_type == 3 and not tx.blob_versioned_hashes:
            raise PoolError("blob transaction without blobs")
        if tx.tx_type == 3 and len(tx.blob_versioned_hashes) > self.fork.max_blobs_per_tx:
            raise PoolError("too many blobs")
        if tx.tx_type == 3:
            self._check_sidecar(tx, sidecar)
        elif sidecar is not None:
            raise PoolError("only blob transactions carry a sidecar")
        account = self.state.get(sender)
        state_nonce = account.nonce if account is not None else 0
        if tx.nonce < state_nonce:
            raise PoolError(f"nonce too low: {tx.nonce} < {state_nonce}")
        if account is not None and account.code and not (
                self.fork.rules.eip7702 and account.code[:3] == b"\xef\x01\x00") \
                and not (self.exempt is not None and self.exempt(tx)):
            raise PoolError("sender is not an externally owned account")
        balance = account.balance if account is not None else 0
        if balance < self._max_cost(tx):
            raise PoolError("insufficient funds for gas * price + value")
        txs = self.by_sender.setdefault(sender, {})
        old = txs.get(tx.nonce)
        if old is not None:
            bump = 100 + self.config.price_bump
            if self._fee_cap(tx) * 100 < self._fee_cap(old.tx) * bump or \
                    self._tip_cap(tx) * 100 < self._tip_cap(old.tx) * bump:
                raise PoolError("replacement transaction underpriced")
            del self.by_hash[old.tx_hash]
        elif len(txs) >= self.config.max_per_sender:
            if not txs:
                del self.by_sender[sender]
            raise PoolError("too many transactions from this sender")
        entry = PoolEntry(tx, sender, sidecar, tx_hash)
        txs[tx.nonce] = entry
        self.by_hash[tx_hash] = entry
        self._evict()
        if tx_hash not in self.by_hash:
            raise PoolError("pool full: transaction priced below every other")
        return tx_hash

    def _check_sidecar(self, tx: SignedTransaction, sidecar: BlobSidecar | None) -> None:
        if sidecar is None:
            if self.config.require_blob_sidecars:
                raise PoolError("blob transaction without its sidecar")
            return
        want = WRAPPER_VERSION_CELL_PROOFS if self.fork.rules.eip7594 else 0
        if sidecar.version != want and not self.config.any_sidecar_version:
            raise PoolError(f"blob sidecar version {sidecar.version}, {self.fork.name} wants {want}")
        try:
            verify_sidecar(tx, sidecar)
        except InvalidTransaction as exc:
            raise PoolError(str(exc)) from None

    def add_raw(self, data: bytes) -> bytes:
        """Decode network bytes (a blob transaction with its sidecar wrapper) and add."""
        try:
            tx, sidecar = decode_pooled(data)
        except TxDecodeError as exc:
            raise PoolError(str(exc)) from None
        return self.add(tx, sidecar)

    def _evict(self) -> None:
        while len(self.by_hash) > self.config.max_total:
            # Queued transactions go first; of a sender's pending run only the last may go,
            # so no gap opens in front of the others.
            candidates = self.queued() or [max(es, key=lambda e: e.tx.nonce)
                                           for es in self.pending().values() if es]
            victim = min(candidates, key=lambda e: (self.effective_tip(e.tx), -e.tx.nonce))
            self._drop(victim)

    def _drop(self, entry: PoolEntry) -> None:
        self.by_hash.pop(entry.tx_hash or entry.tx.hash, None)
        txs = self.by_sender.get(entry.sender)
        if txs is not None:
            txs.pop(entry.tx.nonce, None)
            if not txs:
                del self.by_sender[entry.sender]

    def remove(self, tx_hash: bytes) -> bool:
        """Take a transaction out of the pool; False when it was not there."""
        entry = self.by_hash.get(tx_hash)
        if entry is None:
            return False
        self._drop(entry)
        return True

    def clear(self) -> None:
        self.by_hash.clear()
        self.by_sender.clear()

    # -- views -----------------------------------------------------------------------------

    def effective_tip(self, tx: SignedTransaction) -> int:
        return tx.effective_tip(self.base_fee)

    def _state_nonce(self, sender: bytes) -> int:
        account = self.state.get(sender)
        return account.nonce if account is not None else 0

    def pending(self) -> dict[bytes, list[PoolEntry]]:
        """Per sender, the run of transactions whose nonces follow the state nonce."""
        out: dict[bytes, list[PoolEntry]] = {}
        for sender, txs in self.by_sender.items():
            nonce = self._state_nonce(sender)
            run = []
            while nonce in txs:
                run.append(txs[nonce])
                nonce += 1
            if run:
                out[sender] = run
        return out

    def queued(self) -> list[PoolEntry]:
        """Transactions waiting behind a nonce gap."""
        ready = {e.tx_hash for es in self.pending().values() for e in es}
        return [e for e in self.by_hash.values() if e.tx_hash not in ready]

    def sidecar(self, tx_hash: bytes) -> BlobSidecar | None:
        entry = self.by_hash.get(tx_hash)
        return entry.sidecar if entry is not None else None

    def __len__(self) -> int:
        return len(self.by_hash)

    def ordered(self) -> Iterator[SignedTransaction]:
        """Pending transactions, best effective tip first, each sender's in nonce order.

        Transactions that cannot pay the base fee are left out.
        """
        heads: list[tuple[int, int, bytes]] = []
        runs = self.pending()
        position: dict[bytes, int] = {}
        order = 0
        for sender, run in runs.items():
            tip = self.effective_tip(run[0].tx)
            if tip >= 0:
                heapq.heappush(heads, (-tip, order, sender))
                order += 1
            position[sender] = 0
        while heads:
            _, _, sender = heapq.heappop(heads)
            run = runs[sender]
            i = position[sender]
            yield run[i].tx
            position[sender] = i + 1
            if i + 1 < len(run):
                tip = self.effective_tip(run[i + 1].tx)
                if tip >= 0:
                    heapq.heappush(heads, (-tip, order, sender))
                    order += 1

    # -- after a new head --------------------------------------------------------------------

    def reset(self, state: State, base_fee: int, fork: Fork | None = None) -> None:
        """Adopt a new head state: drop included or stale transactions and unaffordable ones."""
        self.state = state
        self.base_fee = base_fee
        if fork is not None:
            self.fork = fork
        for entry in list(self.by_hash.values()):
            account = state.get(entry.sender)
            nonce = account.nonce if account is not None else 0
            balance = account.balance if account is not None else 0
            if entry.tx.nonce < nonce or balance < self._max_cost(entry.tx):
                self._drop(entry)
