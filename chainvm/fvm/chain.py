"""Applying blocks: explicit messages, then the block reward and cron ticks.

This mirrors lotus's ApplyBlocks of the same era: every block's messages are
applied in order (a message already applied earlier in the tipset is
skipped), the miner tips and penalties are totalled, the reward actor's
AwardBlockReward runs as an implicit message from the system actor, and one
cron EpochTick runs at the end (plus one per skipped null epoch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import CID, encode_bigint
from chainvm.fvm.codec import dumps as cbor_dumps
from chainvm.fvm.store import MemoryBlockstore
from chainvm.fvm.types import ApplyRet, Message, Receipt
from chainvm.fvm.vm import CRON_ADDR, REWARD_ADDR, SYSTEM_ADDR, TOTAL_FILECOIN, VM, FatalError

AWARD_BLOCK_REWARD = 2
EPOCH_TICK = 2
BLOCK_GAS_LIMIT = 10_000_000_000


@dataclass
class Block:
    miner: Address
    messages: list[Message]
    win_count: int = 1


@dataclass
class TipsetResult:
    state_root: CID
    receipts: list[Receipt]
    receipts_root: CID
    applied: list[ApplyRet] = field(default_factory=list)


def _implicit(vm: VM, to: Address, method: int, params: bytes, epoch: int, limit: int) -> None:
    msg = Message(
        to=to,
        from_=SYSTEM_ADDR,
        nonce=epoch,
        gas_limit=limit,
        method=method,
        params=params,
    )
    ret = vm.apply_implicit_message(msg)
    if ret.receipt.exit_code != 0:
        raise FatalError(f"implicit message to {to} failed with {ret.receipt.exit_code}")


def apply_tipset(
    store: MemoryBlockstore,
    parent_root: CID,
    parent_epoch: int,
    epoch: int,
    network_version: int,
    blocks: list[Block],
    base_fee: int = 100,
    circ_supply: int = TOTAL_FILECOIN,
) -> TipsetResult:
    root = parent_root
    # cron also runs for every null round between the parent and this tipset
    for null_epoch in range(parent_epoch + 1, epoch):
        vm = VM(store, root, null_epoch, network_version, base_fee, circ_supply)
        _implicit(vm, CRON_ADDR, EPOCH_TICK, b"", null_epoch, BLOCK_GAS_LIMIT * 10000)
        root = vm.flush()
    vm = VM(store, root, epoch, network_version, base_fee, circ_supply)
    receipts: list[Receipt] = []
    applied: list[ApplyRet] = []
    seen: set[CID] = set()
    for block in blocks:
        penalty = 0
        gas_reward = 0
        for msg in block.messages:
            cid = msg.cid()
            if cid in seen:
                continue
            seen.add(cid)
            ret = vm.apply_message(msg)
            receipts.append(ret.receipt)
            applied.append(ret)
            gas_reward += ret.gas_outputs.miner_tip
            penalty += ret.gas_outputs.miner_penalty
        params = cbor_dumps(
            [block.miner.bytes, encode_bigint(penalty), encode_bigint(gas_reward), block.win_count]
        )
        _implicit(vm, REWARD_ADDR, AWARD_BLOCK_REWARD, params, epoch, 1 << 30)
    _implicit(vm, CRON_ADDR, EPOCH_TICK, b"", epoch, BLOCK_GAS_LIMIT * 10000)
    root = vm.flush()
    arr = Amt.new(store)
    for i, r in enumerate(receipts):
        arr.set(i, r.to_cbor())
    return TipsetResult(root, receipts, arr.flush(), applied)
