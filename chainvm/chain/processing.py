"""Validating and applying a block on top of its parent, for every fork.

`validate_header` checks a header against its parent; `execute_block` runs
the body on a copy of the parent state (system calls, transactions, rewards,
withdrawals, requests) and checks everything the header commits to. Any
failure raises `InvalidBlock` with a reason; the parent state is never
modified.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from chainvm.chain.block import (
    EMPTY_OMMERS_HASH,
    Block,
    Header,
    Receipt,
    Withdrawal,
    logs_bloom,
    ommers_hash,
    or_blooms,
    receipts_root,
    transactions_root,
    withdrawals_root,
)
from chainvm.chain.config import ChainConfig
from chainvm.chain.dao import DAO_ACCOUNTS, DAO_REFUND_CONTRACT
from chainvm.chain.transactions import SignedTransaction, check_static
from chainvm.crypto import sha256
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidBlock, InvalidTransaction
from chainvm.evm.execution import CALL, Message, execute_message, new_evm, prewarm
from chainvm.evm.forks import Fork
from chainvm.evm.gas import GAS_PER_BLOB
from chainvm.evm.tracer import Tracer
from chainvm.evm.transaction import (
    Transaction,
    TxResult,
    apply_transaction,
    blob_base_fee,
)
from chainvm.state.state import Log, State

GAS_LIMIT_BOUND_DIVISOR = 1024
MIN_GAS_LIMIT = 5000
MAX_GAS_LIMIT = (1 << 63) - 1
MAX_EXTRA_DATA = 32
ELASTICITY_MULTIPLIER = 2
BASE_FEE_CHANGE_DENOMINATOR = 8
INITIAL_BASE_FEE = 1_000_000_000
MIN_DIFFICULTY = 131072
DIFFICULTY_BOUND_DIVISOR = 2048
EXP_DIFFICULTY_PERIOD = 100_000
MAX_UNCLES = 2
UNCLE_GENERATIONS = 7
BLOB_BASE_COST = 1 << 13  # EIP-7918 (Osaka)
MAX_RLP_BLOCK_SIZE = 10_485_760 - 2_097_152  # EIP-7934 (Osaka): 10 MiB less a 2 MiB margin
DAO_EXTRA_DATA = b"dao-hard-fork"
DAO_EXTRA_RANGE = 10

SYSTEM_ADDRESS = bytes.fromhex("fffffffffffffffffffffffffffffffffffffffe")
SYSTEM_CALL_GAS = 30_000_000
BEACON_ROOTS_ADDRESS = bytes.fromhex("000f3df6d732807ef1319fb7b8bb8522d0beac02")
HISTORY_STORAGE_ADDRESS = bytes.fromhex("0000f90827f1c53a10cb7a02335b175320002935")
# EIP-2935's contract as the EIP deploys it: a call from SYSTEM_ADDRESS stores the 32-byte
# input (the parent hash) at slot (number - 1) % 8191; any other call with a 32-byte block
# number answers that block's hash if it is one of the 8191 before the current block, and
# reverts otherwise (another input size included).
HISTORY_STORAGE_CODE = bytes.fromhex(
    "3373fffffffffffffffffffffffffffffffffffffffe14604657602036036042575f35600143038111604257"
    "611fff81430311604257611fff9006545f5260205ff35b5f5ffd5b5f35611fff60014303065500")
DEPOSIT_CONTRACT_ADDRESS = bytes.fromhex("00000000219ab540356cbb839cbe05303d7705fa")
DEPOSIT_EVENT_TOPIC = int("649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5", 16)
WITHDRAWAL_REQUEST_ADDRESS = bytes.fromhex("00000961ef480eb55e80d19ad83579a64c007002")
CONSOLIDATION_REQUEST_ADDRESS = bytes.fromhex("0000bbddc7ce488642fb579f8b00f3a590007251")

ETHER = 10**18
# PUSH1 0 PUSH1 0 RETURN: a system contract that answers nothing (the development
# chain's stand-ins for the EIP-7002 and EIP-7251 request contracts).
RETURN_NOTHING = bytes.fromhex("60006000f3")




def block_reward(fork: Fork) -> int:
    return fork.rules.block_reward


# -- header rules ---------------------------------------------------------------------------


def expected_optional_fields(fork: Fork) -> tuple[str, ...]:
    rules = fork.rules
    names: list[str] = []
    if rules.eip1559:
        names.append("base_fee")
    if rules.eip4895:
        names.append("withdrawals_root")
    if rules.eip4844:
        names += ["blob_gas_used", "excess_blob_gas", "parent_beacon_block_root"]
    if rules.eip7685:
        names.append("requests_hash")
    return tuple(names)


def calc_difficulty(config: ChainConfig, fork: Fork, header: Header, parent: Header) -> int:
    parent_diff = parent.difficulty
    adjust = parent_diff // DIFFICULTY_BOUND_DIVISOR
    delta = header.timestamp - parent.timestamp
    if fork.rules.eip100:  # uncles count
        uncles_factor = 1 if parent.ommers_hash == EMPTY_OMMERS_HASH else 2
        diff = parent_diff + adjust * max(uncles_factor - delta // 9, -99)
    elif fork.rules.eip2:
        diff = parent_diff + adjust * max(1 - delta // 10, -99)
    else:
        diff = parent_diff + adjust if delta < 13 else parent_diff - adjust
    diff = max(diff, MIN_DIFFICULTY)
    fake_number = max(header.number - config.bomb_delay(header.number), 0)
    period = fake_number // EXP_DIFFICULTY_PERIOD
    if period > 1:
        diff += 1 << (period - 2)
    return diff


def calc_base_fee(parent: Header, parent_is_london: bool) -> int:
    if not parent_is_london or parent.base_fee is None:
        return INITIAL_BASE_FEE
    target = parent.gas_limit // ELASTICITY_MULTIPLIER
    base = parent.base_fee
    if parent.gas_used == target:
        return base
    if parent.gas_used > target:
        delta = base * (parent.gas_used - target) // target // BASE_FEE_CHANGE_DENOMINATOR
        return base + max(delta, 1)
    delta = base * (target - parent.gas_used) // target // BASE_FEE_CHANGE_DENOMINATOR
    return max(base - delta, 0)


def calc_excess_blob_gas(fork: Fork, parent: Header, parent_fork: Fork) -> int:
    if not parent_fork.rules.eip4844:
        return 0
    parent_excess = parent.excess_blob_gas or 0
    parent_used = parent.blob_gas_used or 0
    target = fork.blob_target * GAS_PER_BLOB
    if parent_excess + parent_used < target:
        return 0
    # EIP-7918 (Osaka): while execution gas prices the blob reserve, excess only grows.
    if fork.rules.eip7918 and parent.base_fee is not None and \
            BLOB_BASE_COST * parent.base_fee > GAS_PER_BLOB * blob_base_fee(parent_excess, fork):
        return parent_excess + parent_used * (fork.blob_max - fork.blob_target) // fork.blob_max
    return parent_excess + parent_used - target


def validate_header(config: ChainConfig, header: Header, parent: Header, parent_td: int,
                    parent_fork: Fork, fork: Fork, set_by_owner: bool = False) -> None:
    """Check `header` against `parent` (no body, no state). Raises InvalidBlock.

    `set_by_owner`: a dev node's own block, whose base fee and gas limit its user may set
    (anvil's setNextBlockBaseFeePerGas and evm_setBlockGasLimit): those two are not
    derived from the parent's; the 2^63-1 ceiling and every other check still hold."""
    present = header.present_optional()
    expected = expected_optional_fields(fork)
    if present != expected:
        raise InvalidBlock(f"header fields do not match {fork.name}: has {list(present)}, "
                           f"want {list(expected)}")
    if header.parent_hash != parent.hash:
        raise InvalidBlock("parent hash mismatch")
    if header.number != parent.number + 1:
        raise InvalidBlock(f"invalid block number {header.number}, parent is {parent.number}")
    if header.timestamp <= parent.timestamp:
        raise InvalidBlock(f"timestamp {header.timestamp} not after parent {parent.timestamp}")
    if len(header.extra_data) > MAX_EXTRA_DATA:
        raise InvalidBlock(f"extra data too long: {len(header.extra_data)} > {MAX_EXTRA_DATA}")
    if header.gas_limit > MAX_GAS_LIMIT:
        raise InvalidBlock(f"gas limit {header.gas_limit} too big")
    if header.gas_used > header.gas_limit:
        raise InvalidBlock(f"gas used {header.gas_used} exceeds gas limit {header.gas_limit}")
    parent_limit = parent.gas_limit
    if fork.rules.eip1559 and not parent_fork.rules.eip1559:
        parent_limit *= ELASTICITY_MULTIPLIER
    bound = parent_limit // GAS_LIMIT_BOUND_DIVISOR
    if not set_by_owner and (abs(header.gas_limit - parent_limit) >= bound
                             or header.gas_limit < MIN_GAS_LIMIT):
        raise InvalidBlock(f"invalid gas limit {header.gas_limit} (parent {parent.gas_limit})")
    if fork.rules.eip1559 and not set_by_owner:
        want = calc_base_fee(parent, parent_fork.rules.eip1559)
        if header.base_fee != want:
            raise InvalidBlock(f"invalid base fee {header.base_fee}, want {want}")
    if config.merged(parent_td):
        if header.difficulty != 0:
            raise InvalidBlock("proof-of-stake block with non-zero difficulty")
        if header.nonce != bytes(8):
            raise InvalidBlock("proof-of-stake block with non-zero nonce")
        if header.ommers_hash != EMPTY_OMMERS_HASH:
            raise InvalidBlock("proof-of-stake block with uncles")
    else:
        want = calc_difficulty(config, fork, header, parent)
        if header.difficulty != want:
            raise InvalidBlock(f"invalid difficulty {header.difficulty}, want {want}")
    if config.dao_block is not None and \
            config.dao_block <= header.number < config.dao_block + DAO_EXTRA_RANGE \
            and header.extra_data != DAO_EXTRA_DATA:
        raise InvalidBlock("DAO fork block without the dao-hard-fork extra data")
    if fork.rules.eip4844:
        want = calc_excess_blob_gas(fork, parent, parent_fork)
        if header.excess_blob_gas != want:
            raise InvalidBlock(f"invalid excess blob gas {header.excess_blob_gas}, want {want}")
        if (header.blob_gas_used or 0) > fork.blob_max * GAS_PER_BLOB:
            raise InvalidBlock(f"blob gas used {header.blob_gas_used} above the block maximum")
        if (header.blob_gas_used or 0) % GAS_PER_BLOB:
            raise InvalidBlock("blob gas used is not a multiple of the blob gas per blob")


# -- execution ------------------------------------------------------------------------------


def system_call(state: State, fork: Fork, env: BlockEnv, address: bytes, data: bytes,
                checked: bool = False) -> bytes:
    """Call a system contract as the system address (no gas charged, no nonce, no fee).

    A `checked` call (the EIP-7002 and EIP-7251 request contracts) makes the block
    invalid when the contract has no code or the call fails; an unchecked one (EIP-4788,
    EIP-2935) is simply skipped then.
    """
    state.begin_transaction()
    code = state.code(address)
    if not code:
        state.finalize_transaction(delete_empty=True)
        if checked:
            raise InvalidBlock(f"system contract 0x{address.hex()} has no code")
        return b""
    if code == RETURN_NOTHING:  # no output and no state change: nothing to run
        state.finalize_transaction(delete_empty=True)
        return b""
    evm = new_evm(state, fork, env, SYSTEM_ADDRESS)
    prewarm(evm, (SYSTEM_ADDRESS, address))
    result = execute_message(evm, Message(CALL, SYSTEM_ADDRESS, address, 0, data,
                                          SYSTEM_CALL_GAS))
    success = result.success
    output = result.output if success else b""
    state.finalize_transaction(delete_empty=True)
    if checked and not success:
        raise InvalidBlock(f"system call to 0x{address.hex()} failed")
    return output


def _deposit_requests(receipts: list[Receipt]) -> bytes:
    out = bytearray()
    for receipt in receipts:
        for log in receipt.logs:
            if log.address == DEPOSIT_CONTRACT_ADDRESS and log.topics \
                    and log.topics[0] == DEPOSIT_EVENT_TOPIC:
                out += _parse_deposit(log)
    return bytes(out)


def _parse_deposit(log: Log) -> bytes:
    """Take pubkey, withdrawal credentials, amount, signature and index out of the ABI data."""
    data = log.data
    if len(data) != 576:
        raise InvalidBlock("deposit event with a bad length")
    # Five dynamic byte fields: offsets, then (length, padded value) each.
    offsets = [int.from_bytes(data[i * 32:(i + 1) * 32], "big") for i in range(5)]
    sizes = (48, 32, 8, 96, 8)
    expected_offsets = (160, 256, 320, 384, 512)
    out = bytearray()
    for offset, size, want in zip(offsets, sizes, expected_offsets):
        if offset != want:
            raise InvalidBlock("deposit event with a bad field offset")
        length = int.from_bytes(data[offset:offset + 32], "big")
        if length != size:
            raise InvalidBlock("deposit event with a bad field size")
        out += data[offset + 32:offset + 32 + size]
    return bytes(out)


def requests_hash(requests: list[bytes]) -> bytes:
    """EIP-7685: sha256 over the sha256 of each non-empty typed request list."""
    acc = bytearray()
    for request in requests:
        if len(request) > 1:
            acc += sha256(request)
    # A block without requests (nearly every one) has the same hash: kept, not rehashed.
    return sha256(bytes(acc)) if acc else _NO_REQUESTS_HASH


_NO_REQUESTS_HASH = sha256(b"")


@dataclass
class BodyResult:
    state: State
    receipts: list[Receipt]
    requests: list[bytes]
    included: list[SignedTransaction]
    skipped: list[tuple[int, SignedTransaction, str]]  # (index in the body, tx, reason)
    gas_used: int
    blob_gas_used: int
    results: list[TxResult] = field(default_factory=list)  # per included transaction
    block_error: str | None = None  # a failed request system call (EIP-7002, EIP-7251)


# Which transactions may come from an account with code (impersonated senders of a
# development chain): a predicate on the transaction.
SenderExemption = Callable[[SignedTransaction], bool]


def apply_as_eoa(state: State, fork: Fork, env: BlockEnv, tx: Transaction,
                 tracer: Tracer | None = None) -> TxResult:
    """`apply_transaction` for a sender allowed to have code (an impersonated contract):
    the EIP-3607 check is skipped; execution sees its code."""
    return apply_transaction(state, fork, env, tx, tracer, sender_must_be_eoa=False)


# Opens the tracing of transaction `i` of a body: yields its tracer (or None) and a
# function that discards the trace again (called when the transaction is rejected).
TraceScope = Callable[[int, SignedTransaction],
                      AbstractContextManager[tuple[Tracer | None, Callable[[], None]]]]


def apply_body(config: ChainConfig, fork: Fork, env: BlockEnv, state: State,
               transactions: Iterable[SignedTransaction], parent_hash: bytes,
               ommers: Sequence[tuple[bytes, int]] = (),
               withdrawals: Sequence[Withdrawal] | None = None, reward: int | None = None,
               skip_invalid: bool = False, exempt: SenderExemption | None = None,
               trace: TraceScope | None = None) -> BodyResult:
    """Apply a block body to `state` in place: the DAO transfer, the pre-transaction system
    calls, the transactions, the miner's and uncles' rewards, withdrawals and requests.

    The one body of block import, block building, `chainvm t8n` and the dev chain's replay.
    `ommers` are (coinbase, how many blocks older than this one) of the uncles; `reward`
    overrides the fork's block reward (-1: none). An invalid transaction raises
    InvalidBlock, or with `skip_invalid` is left out and reported in `skipped` with its
    index. A failed request system call is reported in `block_error`, not raised.
    Transactions for which `exempt` is true may have a sender with code (`apply_as_eoa`).
    """
    rules = fork.rules
    delete_empty = rules.eip161
    if config.dao_block is not None and env.number == config.dao_block:
        state.begin_transaction()
        state.add_balance(DAO_REFUND_CONTRACT, 0)
        for address in DAO_ACCOUNTS:  # every listed account exists afterwards, even if empty
            amount = state.balance(address)
            state.sub_balance(address, amount)
            state.add_balance(DAO_REFUND_CONTRACT, amount)
        state.finalize_transaction(delete_empty=False)
    if rules.eip4788 and env.parent_beacon_block_root is not None:
        system_call(state, fork, env, BEACON_ROOTS_ADDRESS, env.parent_beacon_block_root)
    if rules.eip2935:
        system_call(state, fork, env, HISTORY_STORAGE_ADDRESS, parent_hash)

    receipts: list[Receipt] = []
    results: list[TxResult] = []
    included: list[SignedTransaction] = []
    skipped: list[tuple[int, SignedTransaction, str]] = []
    cumulative = 0
    blob_gas = 0
    max_blob_gas = fork.blob_max * GAS_PER_BLOB
    for index, tx in enumerate(transactions):
        scope = trace(index, tx) if trace is not None else contextlib.nullcontext(_NO_TRACE)
        with scope as (tracer, discard):
            try:
                sender = check_static(tx, fork, config.chain_id)
                if tx.gas_limit > env.gas_limit - cumulative:
                    raise InvalidTransaction(f"gas limit reached (block gas left "
                                    f"{env.gas_limit - cumulative}, tx wants {tx.gas_limit})")
                tx_blob_gas = len(tx.blob_versioned_hashes) * GAS_PER_BLOB \
                    if tx.tx_type == 3 else 0
                if blob_gas + tx_blob_gas > max_blob_gas:
                    raise InvalidTransaction("blob gas above the block maximum")
                evm_tx = tx.to_evm(sender)
                if exempt is not None and state.code(sender) and exempt(tx):
                    result = apply_as_eoa(state, fork, env, evm_tx, tracer)
                else:
                    result = apply_transaction(state, fork, env, evm_tx, tracer)
            except InvalidTransaction as exc:
                discard()
                if skip_invalid:
                    skipped.append((index, tx, str(exc)))
                    continue
                raise InvalidBlock(f"transaction {len(included)}: {exc}") from None
        cumulative += result.gas_used
        blob_gas += result.blob_gas_used
        status: int | bytes = (1 if result.success else 0) if rules.eip658 \
            else state.state_root()
        receipts.append(Receipt(tx.tx_type, status, cumulative, result.logs))
        results.append(result)
        included.append(tx)

    if not rules.eip3675 and reward != -1:
        amount = rules.block_reward if reward is None else reward
        state.begin_transaction()
        state.add_balance(env.coinbase, amount + amount // 32 * len(ommers))
        for coinbase, age in ommers:
            state.add_balance(coinbase, (8 - age) * amount // 8)
        state.finalize_transaction(delete_empty=delete_empty)

    if withdrawals:
        state.begin_transaction()
        for w in withdrawals:
            state.add_balance(w.address, w.amount * 10**9)
        state.finalize_transaction(delete_empty=True)

    requests: list[bytes] = []
    block_error: str | None = None
    if rules.eip7685:
        try:
            requests.append(b"\x00" + _deposit_requests(receipts))
            for kind, address in ((b"\x01", WITHDRAWAL_REQUEST_ADDRESS),
                                  (b"\x02", CONSOLIDATION_REQUEST_ADDRESS)):
                requests.append(kind + system_call(state, fork, env, address, b"", checked=True))
        except InvalidBlock as exc:
            block_error = str(exc)
    return BodyResult(state, receipts, requests, included, skipped, cumulative, blob_gas,
                      results, block_error)


_NO_TRACE: tuple[Tracer | None, Callable[[], None]] = (None, lambda: None)


def header_env(config: ChainConfig, header: Header,
               ancestor_hash: Callable[[int], bytes]) -> BlockEnv:
    """What the EVM sees of a block: its header's fields and the hashes of its ancestors."""
    return BlockEnv(
        coinbase=header.coinbase, number=header.number, timestamp=header.timestamp,
        gas_limit=header.gas_limit, difficulty=header.difficulty, prev_randao=header.mix_hash,
        base_fee=header.base_fee or 0, chain_id=config.chain_id,
        excess_blob_gas=header.excess_blob_gas or 0,
        parent_beacon_block_root=header.parent_beacon_block_root, block_hash=ancestor_hash)


def run_body(config: ChainConfig, fork: Fork, header: Header,
             transactions: Iterable[SignedTransaction], uncles: list[Header],
             withdrawals: list[Withdrawal] | None, parent_state: State,
             ancestor_hash: Callable[[int], bytes], skip_invalid: bool = False,
             exempt: SenderExemption | None = None) -> BodyResult:
    """`apply_body` for `header`'s block on a copy of `parent_state` (left unchanged);
    raises InvalidBlock where the body makes the block invalid."""
    result = apply_body(config, fork, header_env(config, header, ancestor_hash),
                        parent_state.copy(), transactions, header.parent_hash,
                        [(u.coinbase, header.number - u.number) for u in uncles], withdrawals,
                        skip_invalid=skip_invalid, exempt=exempt)
    if result.block_error is not None:
        raise InvalidBlock(result.block_error)
    return result


def execute_block(config: ChainConfig, fork: Fork, block: Block, parent_state: State,
                  ancestor_hash: Callable[[int], bytes],
                  exempt: SenderExemption | None = None) -> BodyResult:
    """Run `block` on a copy of `parent_state` and check every commitment of its header."""
    header = block.header
    rules = fork.rules
    if rules.eip7934:
        size = len(block.encode())
        if size > MAX_RLP_BLOCK_SIZE:
            raise InvalidBlock(f"block RLP of {size} bytes exceeds {MAX_RLP_BLOCK_SIZE}")
    if ommers_hash(block.uncles) != header.ommers_hash:
        raise InvalidBlock("uncles hash mismatch")
    if len(block.uncles) > MAX_UNCLES:
        raise InvalidBlock(f"too many uncles: {len(block.uncles)}")
    if transactions_root(block.transactions) != header.transactions_root:
        raise InvalidBlock("transactions root mismatch")
    if rules.eip4895:
        if block.withdrawals is None:
            raise InvalidBlock("missing withdrawals in a Shanghai block")
        if withdrawals_root(block.withdrawals) != header.withdrawals_root:
            raise InvalidBlock("withdrawals root mismatch")
    elif block.withdrawals is not None:
        raise InvalidBlock(f"withdrawals in a {fork.name} block")

    result = run_body(config, fork, header, block.transactions, block.uncles, block.withdrawals,
                      parent_state, ancestor_hash, exempt=exempt)

    if rules.eip4844 and result.blob_gas_used != header.blob_gas_used:
        raise InvalidBlock(f"blob gas used {header.blob_gas_used}, "
                           f"transactions used {result.blob_gas_used}")
    if result.gas_used != header.gas_used:
        raise InvalidBlock(f"gas used mismatch: header {header.gas_used}, "
                           f"block {result.gas_used}")
    if block_bloom(result.receipts) != header.bloom:
        raise InvalidBlock("logs bloom mismatch")
    if receipts_root(result.receipts) != header.receipts_root:
        raise InvalidBlock("receipts root mismatch")
    if rules.eip7685 and requests_hash(result.requests) != header.requests_hash:
        raise InvalidBlock("requests hash mismatch")
    root = result.state.state_root()
    if root != header.state_root:
        raise InvalidBlock(f"state root mismatch: got 0x{root.hex()}, "
                           f"header 0x{header.state_root.hex()}")
    return result


def block_bloom(receipts: list[Receipt]) -> bytes:
    return or_blooms([r.bloom for r in receipts]) if receipts else bytes(256)


__all__ = ["InvalidBlock", "apply_body", "execute_block", "logs_bloom", "validate_header"]
