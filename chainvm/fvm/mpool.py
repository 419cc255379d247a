"""A message pool: per-sender nonce order, gas-premium priority, replace-by-fee.

Rules (after lotus's mpool, simplified to one node):

* a message is admitted if its gas limit is positive and within the block
  gas limit, its value and fees are non-negative, its fee cap covers its
  premium, and its nonce is not below the sender's state nonce;
* a message with the same sender and nonce as a pending one replaces it
  only if its gas premium is at least 25% higher (and at least 1 higher);
* selection walks each sender's pending messages in nonce order from the
  state nonce (gaps stop a sender's chain), and repeatedly takes the chain
  head with the best effective premium ``min(premium, fee_cap - base_fee)``
  until the block gas limit is reached; messages whose fee cap is below the
  base fee are left for later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chainvm.fvm.address import SECP256K1, Address
from chainvm.fvm.codec import CID
from chainvm.fvm.crypto import verify_signature
from chainvm.fvm.types import Message

BLOCK_GAS_LIMIT = 10_000_000_000
RBF_NUM = 5
RBF_DENOM = 4


class MpoolError(ValueError):
    pass


@dataclass
class _Entry:
    msg: Message
    cid: CID
    signature: bytes | None


def min_replacement_premium(premium: int) -> int:
    return max(premium * RBF_NUM // RBF_DENOM, premium + 1)


class MessagePool:
    def __init__(
        self,
        state_nonce: Callable[[Address], int],
        resolve: Callable[[Address], Address] | None = None,
        block_gas_limit: int = BLOCK_GAS_LIMIT,
    ) -> None:
        """``state_nonce`` gives a sender's nonce in the current head state;
        ``resolve`` maps an address to a canonical key (default: itself)."""
        self.state_nonce = state_nonce
        self.resolve = resolve or (lambda a: a)
        self.block_gas_limit = block_gas_limit
        self.pending: dict[Address, dict[int, _Entry]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.pending.values())

    def add(self, msg: Message, signature: bytes | None = None) -> CID:
        if msg.gas_limit <= 0:
            raise MpoolError("gas limit must be positive")
        if msg.gas_limit > self.block_gas_limit:
            raise MpoolError("gas limit exceeds the block gas limit")
        if msg.value < 0:
            raise MpoolError("negative value")
        if msg.gas_fee_cap < 0 or msg.gas_premium < 0:
            raise MpoolError("negative gas price")
        if msg.gas_fee_cap < msg.gas_premium:
            raise MpoolError("gas fee cap below gas premium")
        # lotus signs the message CID; a secp256k1 sender's signature can be
        # checked without state (BLS cannot be checked here)
        if (
            signature is not None
            and msg.from_.protocol == SECP256K1
            and not verify_signature(signature, msg.from_, msg.cid().bytes)
        ):
            raise MpoolError("invalid signature")
        sender = self.resolve(msg.from_)
        if msg.nonce < self.state_nonce(sender):
            raise MpoolError("nonce already used")
        by_nonce = self.pending.setdefault(sender, {})
        old = by_nonce.get(msg.nonce)
        cid = msg.cid()
        if old is not None:
            if old.cid == cid:
                return cid
            need = min_replacement_premium(old.msg.gas_premium)
            if msg.gas_premium < need:
                raise MpoolError(f"replacement gas premium {msg.gas_premium} below required {need}")
        by_nonce[msg.nonce] = _Entry(msg, cid, signature)
        return cid

    def pending_for(self, addr: Address) -> list[Message]:
        entries = self.pending.get(self.resolve(addr), {})
        return [entries[n].msg for n in sorted(entries)]

    def next_nonce(self, addr: Address) -> int:
        """The nonce a new message from addr should use."""
        sender = self.resolve(addr)
        nonce = self.state_nonce(sender)
        entries = self.pending.get(sender, {})
        while nonce in entries:
            nonce += 1
        return nonce

    def select(self, base_fee: int, gas_limit: int | None = None) -> list[Message]:
        limit = self.block_gas_limit if gas_limit is None else gas_limit
        chains: dict[Address, list[Message]] = {}
        for sender, entries in self.pending.items():
            nonce = self.state_nonce(sender)
            chain = []
            while nonce in entries:
                chain.append(entries[nonce].msg)
                nonce += 1
            if chain:
                chains[sender] = chain
        heads = {s: 0 for s in chains}
        out: list[Message] = []
        used = 0
        while True:
            best: tuple[int, int, Address] | None = None
            for sender, i in heads.items():
                chain = chains[sender]
                if i >= len(chain):
                    continue
                m = chain[i]
                if m.gas_fee_cap < base_fee or used + m.gas_limit > limit:
                    continue
                eff = min(m.gas_premium, m.gas_fee_cap - base_fee)
                # ties go to the message using less gas, then to the sender
                key = (eff, -m.gas_limit, sender)
                if best is None or (key[0], key[1]) > (best[0], best[1]):
                    best = key
            if best is None:
                return out
            sender = best[2]
            m = chains[sender][heads[sender]]
            out.append(m)
            used += m.gas_limit
            heads[sender] += 1

    def remove_included(self, msgs: list[Message]) -> None:
        """Drop messages that made it into a block, and anything now stale."""
        for m in msgs:
            entries = self.pending.get(self.resolve(m.from_))
            if entries is not None:
                entries.pop(m.nonce, None)
        for sender in list(self.pending):
            floor = self.state_nonce(sender)
            entries = self.pending[sender]
            for n in [n for n in entries if n < floor]:
                del entries[n]
            if not entries:
                del self.pending[sender]
