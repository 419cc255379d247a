"""Validating and applying a block on top of its parent, for every fork.

`validate_header` checks a header against its parent; `execute_block` runs
the body on a copy of the parent state (system calls, transactions, rewards,
withdrawals, requests) and checks everything the header commits to. Any
failure raises `BlockInvalid` with a reason; the parent state is never
modified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from chainvm.chain.transactions import SignedTransaction, TxInvalid, check_static
from chainvm.crypto import sha256
from chainvm.evm import forks as F
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.forks import Fork
from chainvm.evm.gas import GAS_PER_BLOB
from chainvm.evm.interpreter import Tracer, run
from chainvm.evm.transaction import (
    Transaction,
    TxResult,
    apply_transaction,
    blob_base_fee,
    is_delegation,
)
from chainvm.evm.vm import CALL, EVM, Immediate, message_call
from chainvm.state.state import Account, Log, State

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
DEPOSIT_CONTRACT_ADDRESS = bytes.fromhex("00000000219ab540356cbb839cbe05303d7705fa")
DEPOSIT_EVENT_TOPIC = int("649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5", 16)
WITHDRAWAL_REQUEST_ADDRESS = bytes.fromhex("00000961ef480eb55e80d19ad83579a64c007002")
CONSOLIDATION_REQUEST_ADDRESS = bytes.fromhex("0000bbddc7ce488642fb579f8b00f3a590007251")

ETHER = 10**18
# PUSH1 0 PUSH1 0 RETURN: a system contract that answers nothing (the development
# chain's stand-ins for the EIP-7002 and EIP-7251 request contracts).
RETURN_NOTHING = bytes.fromhex("60006000f3")


class BlockInvalid(Exception):
    """A block that must not be imported; the message says why."""


def block_reward(fork: Fork) -> int:
    if fork.ordinal >= F.CONSTANTINOPLE:
        return 2 * ETHER
    if fork.ordinal >= F.BYZANTIUM:
        return 3 * ETHER
    return 5 * ETHER


# -- header rules ---------------------------------------------------------------------------


def expected_optional_fields(fork: Fork) -> tuple[str, ...]:
    names: list[str] = []
    if fork.ordinal >= F.LONDON:
        names.append("base_fee")
    if fork.ordinal >= F.SHANGHAI:
        names.append("withdrawals_root")
    if fork.ordinal >= F.CANCUN:
        names += ["blob_gas_used", "excess_blob_gas", "parent_beacon_block_root"]
    if fork.ordinal >= F.PRAGUE:
        names.append("requests_hash")
    return tuple(names)


def calc_difficulty(config: ChainConfig, fork: Fork, header: Header, parent: Header) -> int:
    parent_diff = parent.difficulty
    adjust = parent_diff // DIFFICULTY_BOUND_DIVISOR
    delta = header.timestamp - parent.timestamp
    if fork.ordinal >= F.BYZANTIUM:  # EIP-100: uncles count
        uncles_factor = 1 if parent.ommers_hash == EMPTY_OMMERS_HASH else 2
        diff = parent_diff + adjust * max(uncles_factor - delta // 9, -99)
    elif fork.ordinal >= F.HOMESTEAD:  # EIP-2
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
    if parent_fork.ordinal < F.CANCUN:
        return 0
    parent_excess = parent.excess_blob_gas or 0
    parent_used = parent.blob_gas_used or 0
    target = fork.blob_target * GAS_PER_BLOB
    if parent_excess + parent_used < target:
        return 0
    # EIP-7918 (Osaka): while execution gas prices the blob reserve, excess only grows.
    if fork.ordinal >= F.OSAKA and parent.base_fee is not None and \
            BLOB_BASE_COST * parent.base_fee > GAS_PER_BLOB * blob_base_fee(parent_excess, fork):
        return parent_excess + parent_used * (fork.blob_max - fork.blob_target) // fork.blob_max
    return parent_excess + parent_used - target


def validate_header(config: ChainConfig, header: Header, parent: Header, parent_td: int,
                    parent_fork: Fork, fork: Fork) -> None:
    """Check `header` against `parent` (no body, no state). Raises BlockInvalid."""
    present = header.present_optional()
    expected = expected_optional_fields(fork)
    if present != expected:
        raise BlockInvalid(f"header fields do not match {fork.name}: has {list(present)}, "
                           f"want {list(expected)}")
    if header.parent_hash != parent.hash:
        raise BlockInvalid("parent hash mismatch")
    if header.number != parent.number + 1:
        raise BlockInvalid(f"invalid block number {header.number}, parent is {parent.number}")
    if header.timestamp <= parent.timestamp:
        raise BlockInvalid(f"timestamp {header.timestamp} not after parent {parent.timestamp}")
    if len(header.extra_data) > MAX_EXTRA_DATA:
        raise BlockInvalid(f"extra data too long: {len(header.extra_data)} > {MAX_EXTRA_DATA}")
    if header.gas_limit > MAX_GAS_LIMIT:
        raise BlockInvalid(f"gas limit {header.gas_limit} too big")
    if header.gas_used > header.gas_limit:
        raise BlockInvalid(f"gas used {header.gas_used} exceeds gas limit {header.gas_limit}")
    parent_limit = parent.gas_limit
    if fork.ordinal >= F.LONDON and parent_fork.ordinal < F.LONDON:
        parent_limit *= ELASTICITY_MULTIPLIER
    bound = parent_limit // GAS_LIMIT_BOUND_DIVISOR
    if abs(header.gas_limit - parent_limit) >= bound or header.gas_limit < MIN_GAS_LIMIT:
        raise BlockInvalid(f"invalid gas limit {header.gas_limit} (parent {parent.gas_limit})")
    if fork.ordinal >= F.LONDON:
        want = calc_base_fee(parent, parent_fork.ordinal >= F.LONDON)
        if header.base_fee != want:
            raise BlockInvalid(f"invalid base fee {header.base_fee}, want {want}")
    if config.merged(parent_td):
        if header.difficulty != 0:
            raise BlockInvalid("proof-of-stake block with non-zero difficulty")
        if header.nonce != bytes(8):
            raise BlockInvalid("proof-of-stake block with non-zero nonce")
        if header.ommers_hash != EMPTY_OMMERS_HASH:
            raise BlockInvalid("proof-of-stake block with uncles")
    else:
        want = calc_difficulty(config, fork, header, parent)
        if header.difficulty != want:
            raise BlockInvalid(f"invalid difficulty {header.difficulty}, want {want}")
    if config.dao_block is not None and \
            config.dao_block <= header.number < config.dao_block + DAO_EXTRA_RANGE \
            and header.extra_data != DAO_EXTRA_DATA:
        raise BlockInvalid("DAO fork block without the dao-hard-fork extra data")
    if fork.ordinal >= F.CANCUN:
        want = calc_excess_blob_gas(fork, parent, parent_fork)
        if header.excess_blob_gas != want:
            raise BlockInvalid(f"invalid excess blob gas {header.excess_blob_gas}, want {want}")
        if (header.blob_gas_used or 0) > fork.blob_max * GAS_PER_BLOB:
            raise BlockInvalid(f"blob gas used {header.blob_gas_used} above the block maximum")
        if (header.blob_gas_used or 0) % GAS_PER_BLOB:
            raise BlockInvalid("blob gas used is not a multiple of the blob gas per blob")


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
            raise BlockInvalid(f"system contract 0x{address.hex()} has no code")
        return b""
    if code == RETURN_NOTHING:  # no output and no state change: nothing to run
        state.finalize_transaction(delete_empty=True)
        return b""
    evm = EVM(state, fork, env, SYSTEM_ADDRESS, 0)
    if fork.ordinal >= F.BERLIN:
        state.warm_addresses.add(SYSTEM_ADDRESS)
        state.warm_addresses.add(address)
        state.warm_addresses.update(evm.precompiles)
    result = message_call(evm, CALL, SYSTEM_ADDRESS, address, address, 0, data,
                          SYSTEM_CALL_GAS, 0, False)
    if isinstance(result, Immediate):
        success, output = result.success, result.output
    else:
        frame = run(evm, result)
        success = frame.error is None
        output = frame.output if success else b""
    state.finalize_transaction(delete_empty=True)
    if checked and not success:
        raise BlockInvalid(f"system call to 0x{address.hex()} failed")
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
        raise BlockInvalid("deposit event with a bad length")
    # Five dynamic byte fields: offsets, then (length, padded value) each.
    offsets = [int.from_bytes(data[i * 32:(i + 1) * 32], "big") for i in range(5)]
    sizes = (48, 32, 8, 96, 8)
    expected_offsets = (160, 256, 320, 384, 512)
    out = bytearray()
    for offset, size, want in zip(offsets, sizes, expected_offsets):
        if offset != want:
            raise BlockInvalid("deposit event with a bad field offset")
        length = int.from_bytes(data[offset:offset + 32], "big")
        if length != size:
            raise BlockInvalid("deposit event with a bad field size")
        out += data[offset + 32:offset + 32 + size]
    return bytes(out)


def requests_hash(requests: list[bytes]) -> bytes:
    """EIP-7685: sha256 over the sha256 of each non-empty typed request list."""
    acc = bytearray()
    for request in requests:
        if len(request) > 1:
            acc += sha256(request)
    return sha256(bytes(acc))


@dataclass
class BodyResult:
    state: State
    receipts: list[Receipt]
    requests: list[bytes]
    included: list[SignedTransaction]
    skipped: list[tuple[SignedTransaction, str]]
    gas_used: int
    blob_gas_used: int
    results: list[TxResult] = field(default_factory=list)  # per included transaction


# Which transactions may come from an account with code (impersonated senders of a
# development chain): a predicate on the transaction.
SenderExemption = Callable[[SignedTransaction], bool]


def apply_as_eoa(state: State, fork: Fork, env: BlockEnv, tx: Transaction,
                 tracer: Tracer | None = None) -> TxResult:
    """`apply_transaction` for a sender allowed to have code (an impersonated contract):
    the EIP-3607 check sees the sender without code; execution sees its code.

    The transaction check reads the sender with `state.get` before anything else; for
    that one read the state answers a code-less copy of the account.
    """
    sender = tx.sender
    real = state.accounts.get(sender)
    if real is None or not real.code or is_delegation(real.code):
        return apply_transaction(state, fork, env, tx, tracer)
    view = Account(real.nonce, real.balance)
    cls_get = State.get

    def get_once(addr: bytes) -> Account | None:
        state.__dict__.pop("get", None)  # back to the class method
        return view if addr == sender else cls_get(state, addr)

    state.get = get_once  # type: ignore[method-assign]
    try:
        return apply_transaction(state, fork, env, tx, tracer)
    finally:
        state.__dict__.pop("get", None)


def run_body(config: ChainConfig, fork: Fork, header: Header,
             transactions: Iterable[SignedTransaction], uncles: list[Header],
             withdrawals: list[Withdrawal] | None, parent_state: State,
             ancestor_hash: Callable[[int], bytes], skip_invalid: bool = False,
             exempt: SenderExemption | None = None) -> BodyResult:
    """Execute a block body on a copy of `parent_state`.

    Uses from `header` only what the EVM sees (coinbase, number, time, gas
    limit, difficulty or randao, base fee, blob excess, beacon root, parent
    hash). An invalid transaction raises BlockInvalid, or with `skip_invalid`
    (block building) is left out and reported in `skipped`. Transactions for which
    `exempt` is true may have a sender with code (see `apply_as_eoa`).
    """
    ordinal = fork.ordinal
    state = parent_state.copy()
    env = BlockEnv(
        coinbase=header.coinbase, number=header.number, timestamp=header.timestamp,
        gas_limit=header.gas_limit, difficulty=header.difficulty, prev_randao=header.mix_hash,
        base_fee=header.base_fee or 0, chain_id=config.chain_id,
        excess_blob_gas=header.excess_blob_gas or 0,
        parent_beacon_block_root=header.parent_beacon_block_root, block_hash=ancestor_hash)
    delete_empty = ordinal >= F.SPURIOUS_DRAGON

    if config.dao_block is not None and header.number == config.dao_block:
        state.begin_transaction()
        state.add_balance(DAO_REFUND_CONTRACT, 0)
        for address in DAO_ACCOUNTS:  # every listed account exists afterwards, even if empty
            amount = state.balance(address)
            state.sub_balance(address, amount)
            state.add_balance(DAO_REFUND_CONTRACT, amount)
        state.finalize_transaction(delete_empty=False)
    if ordinal >= F.CANCUN:
        system_call(state, fork, env, BEACON_ROOTS_ADDRESS, header.parent_beacon_block_root or b"")
    if ordinal >= F.PRAGUE:
        system_call(state, fork, env, HISTORY_STORAGE_ADDRESS, header.parent_hash)

    receipts: list[Receipt] = []
    results: list[TxResult] = []
    included: list[SignedTransaction] = []
    skipped: list[tuple[SignedTransaction, str]] = []
    cumulative = 0
    blob_gas = 0
    max_blob_gas = fork.blob_max * GAS_PER_BLOB
    for tx in transactions:
        i = len(included)
        try:
            sender = check_static(tx, fork, config.chain_id)
            if tx.gas_limit > header.gas_limit - cumulative:
                raise TxInvalid(f"gas limit reached (block gas left "
                                f"{header.gas_limit - cumulative}, tx wants {tx.gas_limit})")
            tx_blob_gas = len(tx.blob_versioned_hashes) * GAS_PER_BLOB if tx.tx_type == 3 else 0
            if blob_gas + tx_blob_gas > max_blob_gas:
                raise TxInvalid("blob gas above the block maximum")
            evm_tx = tx.to_evm(sender)
            if exempt is not None and state.code(sender) and exempt(tx):
                result = apply_as_eoa(state, fork, env, evm_tx)
            else:
                result = apply_transaction(state, fork, env, evm_tx)
        except (TxInvalid, InvalidTransaction) as exc:
            if skip_invalid:
                skipped.append((tx, str(exc)))
                continue
            raise BlockInvalid(f"transaction {i}: {exc}") from None
        cumulative += result.gas_used
        blob_gas += result.blob_gas_used
        if ordinal >= F.BYZANTIUM:
            status: int | bytes = 1 if result.success else 0
        else:
            status = state.state_root()
        receipts.append(Receipt(tx.tx_type, status, cumulative, result.logs))
        results.append(result)
        included.append(tx)

    if ordinal < F.PARIS:
        _pay_rewards(state, fork, header, uncles, delete_empty)

    if withdrawals:
        state.begin_transaction()
        for w in withdrawals:
            state.add_balance(w.address, w.amount * 10**9)
        state.finalize_transaction(delete_empty=True)

    requests: list[bytes] = []
    if ordinal >= F.PRAGUE:
        requests.append(b"\x00" + _deposit_requests(receipts))
        for kind, address in ((b"\x01", WITHDRAWAL_REQUEST_ADDRESS),
                              (b"\x02", CONSOLIDATION_REQUEST_ADDRESS)):
            requests.append(kind + system_call(state, fork, env, address, b"", checked=True))
    return BodyResult(state, receipts, requests, included, skipped, cumulative, blob_gas,
                      results)


def execute_block(config: ChainConfig, fork: Fork, block: Block, parent_state: State,
                  ancestor_hash: Callable[[int], bytes],
                  exempt: SenderExemption | None = None) -> BodyResult:
    """Run `block` on a copy of `parent_state` and check every commitment of its header."""
    header = block.header
    ordinal = fork.ordinal
    if ordinal >= F.OSAKA:  # EIP-7934
        size = len(block.encode())
        if size > MAX_RLP_BLOCK_SIZE:
            raise BlockInvalid(f"block RLP of {size} bytes exceeds {MAX_RLP_BLOCK_SIZE}")
    if ommers_hash(block.uncles) != header.ommers_hash:
        raise BlockInvalid("uncles hash mismatch")
    if len(block.uncles) > MAX_UNCLES:
        raise BlockInvalid(f"too many uncles: {len(block.uncles)}")
    if transactions_root(block.transactions) != header.transactions_root:
        raise BlockInvalid("transactions root mismatch")
    if ordinal >= F.SHANGHAI:
        if block.withdrawals is None:
            raise BlockInvalid("missing withdrawals in a Shanghai block")
        if withdrawals_root(block.withdrawals) != header.withdrawals_root:
            raise BlockInvalid("withdrawals root mismatch")
    elif block.withdrawals is not None:
        raise BlockInvalid(f"withdrawals in a {fork.name} block")

    result = run_body(config, fork, header, block.transactions, block.uncles, block.withdrawals,
                      parent_state, ancestor_hash, exempt=exempt)

    if ordinal >= F.CANCUN and result.blob_gas_used != header.blob_gas_used:
        raise BlockInvalid(f"blob gas used {header.blob_gas_used}, "
                           f"transactions used {result.blob_gas_used}")
    if result.gas_used != header.gas_used:
        raise BlockInvalid(f"gas used mismatch: header {header.gas_used}, "
                           f"block {result.gas_used}")
    if block_bloom(result.receipts) != header.bloom:
        raise BlockInvalid("logs bloom mismatch")
    if receipts_root(result.receipts) != header.receipts_root:
        raise BlockInvalid("receipts root mismatch")
    if ordinal >= F.PRAGUE and requests_hash(result.requests) != header.requests_hash:
        raise BlockInvalid("requests hash mismatch")
    root = result.state.state_root()
    if root != header.state_root:
        raise BlockInvalid(f"state root mismatch: got 0x{root.hex()}, "
                           f"header 0x{header.state_root.hex()}")
    return result


def block_bloom(receipts: list[Receipt]) -> bytes:
    return or_blooms([r.bloom for r in receipts]) if receipts else bytes(256)


def _pay_rewards(state: State, fork: Fork, header: Header, uncles: list[Header],
                 delete_empty: bool) -> None:
    reward = block_reward(fork)
    state.begin_transaction()
    state.add_balance(header.coinbase, reward + reward // 32 * len(uncles))
    for uncle in uncles:
        state.add_balance(uncle.coinbase, (uncle.number + 8 - header.number) * reward // 8)
    state.finalize_transaction(delete_empty=delete_empty)


__all__ = ["BlockInvalid", "execute_block", "logs_bloom", "validate_header"]
