"""The block builder: packs transactions onto the head and seals the block (no proof of work).

Transactions are tried in the order given (from the pool: best tip first,
each sender's in nonce order); one that no longer fits or became invalid is
skipped, and the block is sealed with every root, the bloom and the gas used
computed from the execution. System calls, withdrawals and requests follow
the fork of the new block.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chainvm.chain.block import (
    EMPTY_OMMERS_HASH,
    EMPTY_ROOT,
    Block,
    Header,
    Withdrawal,
    ommers_hash,
    receipts_root,
    transactions_root,
    withdrawals_root,
)
from chainvm.chain.chain import Chain
from chainvm.chain.config import ChainConfig
from chainvm.chain.mpool import TxPool
from chainvm.chain.processing import (
    ELASTICITY_MULTIPLIER,
    BodyResult,
    SenderExemption,
    block_bloom,
    calc_base_fee,
    calc_difficulty,
    calc_excess_blob_gas,
    requests_hash,
    run_body,
)
from chainvm.chain.transactions import SignedTransaction
from chainvm.state.state import State


@dataclass
class BuildOptions:
    coinbase: bytes = bytes(20)
    timestamp: int | None = None  # default: parent's + 12
    gas_limit: int | None = None  # default: the parent's (doubled at the London transition)
    base_fee: int | None = None  # default: EIP-1559's from the parent (London and later)
    extra_data: bytes = b""
    prev_randao: bytes = bytes(32)
    parent_beacon_block_root: bytes = bytes(32)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    uncles: list[Header] = field(default_factory=list)


@dataclass
class BuiltBlock:
    block: Block
    skipped: list[tuple[SignedTransaction, str]]
    # The execution that produced the block (post state, receipts, per-transaction
    # results): `Chain.import_built` stores it without running the block again.
    result: BodyResult | None = None
    parent_hash: bytes = b""


def build_block(chain: Chain, transactions: Iterable[SignedTransaction] | TxPool,
                options: BuildOptions | None = None, parent_hash: bytes | None = None,
                exempt: SenderExemption | None = None) -> BuiltBlock:
    """Build and seal a block on `parent_hash` (default: the head); it is not imported.
    `exempt`: transactions whose sender may have code (see `processing.apply_as_eoa`)."""
    opts = options or BuildOptions()
    parent = chain.blocks[parent_hash] if parent_hash is not None else chain.head
    ph = parent.header
    config = chain.config
    number = ph.number + 1
    timestamp = opts.timestamp if opts.timestamp is not None else ph.timestamp + 12
    fork = config.fork_at(number, timestamp, parent.total_difficulty)
    merged = config.merged(parent.total_difficulty)
    gas_limit = opts.gas_limit
    if gas_limit is None:
        gas_limit = ph.gas_limit
        if fork.rules.eip1559 and not parent.fork.rules.eip1559:
            gas_limit *= ELASTICITY_MULTIPLIER
    header = Header(
        parent_hash=ph.hash, ommers_hash=EMPTY_OMMERS_HASH, coinbase=opts.coinbase,
        state_root=EMPTY_ROOT, transactions_root=EMPTY_ROOT, receipts_root=EMPTY_ROOT,
        bloom=bytes(256), difficulty=0, number=number, gas_limit=gas_limit, gas_used=0,
        timestamp=timestamp, extra_data=opts.extra_data,
        mix_hash=opts.prev_randao if merged else bytes(32), nonce=bytes(8))
    uncles = [] if merged else list(opts.uncles)
    if not merged:
        header.difficulty = calc_difficulty(config, fork, header, ph)
    if fork.rules.eip1559:
        header.base_fee = calc_base_fee(ph, parent.fork.rules.eip1559) \
            if opts.base_fee is None else opts.base_fee
    if fork.rules.eip4895:
        header.withdrawals_root = EMPTY_ROOT
    if fork.rules.eip4844:
        header.blob_gas_used = 0
        header.excess_blob_gas = calc_excess_blob_gas(fork, ph, parent.fork)
        header.parent_beacon_block_root = opts.parent_beacon_block_root
    withdrawals = list(opts.withdrawals) if fork.rules.eip4895 else None
    if isinstance(transactions, TxPool):
        pool = transactions
        pool.base_fee = header.base_fee or 0
        txs: Iterable[SignedTransaction] = pool.ordered()
    else:
        txs = transactions
    result = run_body(config, fork, header, txs, uncles, withdrawals, parent.state,
                      chain.ancestor_hashes(parent), skip_invalid=True, exempt=exempt)
    header.ommers_hash = ommers_hash(uncles)
    header.state_root = result.state.state_root()
    header.transactions_root = transactions_root(result.included)
    header.receipts_root = receipts_root(result.receipts)
    header.bloom = block_bloom(result.receipts)
    header.gas_used = result.gas_used
    if withdrawals is not None:
        header.withdrawals_root = withdrawals_root(withdrawals)
    if fork.rules.eip4844:
        header.blob_gas_used = result.blob_gas_used
    if fork.rules.eip7685:
        header.requests_hash = requests_hash(result.requests)
    header._hash = None
    skipped = [(tx, reason) for _index, tx, reason in result.skipped]
    return BuiltBlock(Block(header, result.included, uncles, withdrawals), skipped,
                      result, ph.hash)


def make_genesis(config: ChainConfig, state: State, gas_limit: int = 30_000_000,
                 timestamp: int = 0, difficulty: int = 0x20000, extra_data: bytes = b"",
                 base_fee: int = 1_000_000_000) -> Block:
    """A genesis block over `state`, with the header fields its fork requires."""
    fork = config.fork_at(0, timestamp, -1)
    header = Header(
        parent_hash=bytes(32), ommers_hash=EMPTY_OMMERS_HASH, coinbase=bytes(20),
        state_root=state.state_root(), transactions_root=EMPTY_ROOT, receipts_root=EMPTY_ROOT,
        bloom=bytes(256), difficulty=difficulty, number=0, gas_limit=gas_limit, gas_used=0,
        timestamp=timestamp, extra_data=extra_data, mix_hash=bytes(32), nonce=bytes(8))
    withdrawals: list[Withdrawal] | None = None
    if fork.rules.eip1559:
        header.base_fee = base_fee
    if fork.rules.eip4895:
        header.withdrawals_root = EMPTY_ROOT
        withdrawals = []
    if fork.rules.eip4844:
        header.blob_gas_used = 0
        header.excess_blob_gas = 0
        header.parent_beacon_block_root = bytes(32)
    if fork.rules.eip7685:
        header.requests_hash = requests_hash([])
    return Block(header, [], [], withdrawals)
