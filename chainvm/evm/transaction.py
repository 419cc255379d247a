"""The state transition: validate a transaction, buy gas, execute, refund, pay the coinbase.

Follows geth's core/state_transition.go. An invalid transaction raises
InvalidTransaction before any state is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from chainvm.crypto import SECP256K1_N, ecrecover_address, keccak256
from chainvm.encoding.rlp import encode
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.execution import CALL, CREATE, Message, execute_message, new_evm, prewarm
from chainvm.evm.forks import Fork
from chainvm.evm.gas import (
    BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN,
    G_ACCESS_LIST_ADDRESS,
    G_ACCESS_LIST_STORAGE_KEY,
    G_INITCODE_WORD,
    G_TRANSACTION,
    G_TXCREATE,
    G_TXDATANONZERO_EIP2028,
    G_TXDATANONZERO_FRONTIER,
    G_TXDATAZERO,
    GAS_PER_BLOB,
    MAX_INITCODE_SIZE,
    MIN_BLOB_BASE_FEE,
    fake_exponential,
)
from chainvm.evm.tracer import Tracer
from chainvm.evm.vm import DELEGATION_PREFIX, MAX_NONCE
from chainvm.state.state import Log, State

TX_MAX_GAS_LIMIT: Final = 1 << 24  # EIP-7825 (Osaka)
FLOOR_CALLDATA_COST: Final = 10  # EIP-7623
PER_EMPTY_ACCOUNT_COST: Final = 25000  # EIP-7702
PER_AUTH_BASE_COST: Final = 12500
UINT256_MAX: Final = (1 << 256) - 1


@dataclass
class Authorization:
    """An EIP-7702 authorization tuple; the authority is recovered from the signature."""

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int


@dataclass
class Transaction:
    sender: bytes
    to: bytes | None
    nonce: int = 0
    gas_limit: int = 21000
    value: int = 0
    data: bytes = b""
    tx_type: int = 0
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    access_list: list[tuple[bytes, list[int]]] = field(default_factory=list)
    blob_versioned_hashes: list[bytes] = field(default_factory=list)
    max_fee_per_blob_gas: int | None = None
    authorization_list: list[Authorization] = field(default_factory=list)


@dataclass
class TxResult:
    gas_used: int
    success: bool
    output: bytes
    logs: list[Log]
    error: str | None = None
    contract_address: bytes | None = None
    blob_gas_used: int = 0


# fake_exponential's series takes about e * excess / fraction steps on integers that grow
# to 1.44 bits per unit of that ratio: at this ratio the fee is about 2 ** 23600 (no
# uint256 fee cap pays it) and the series a third of a second; excess blob gas near 2 ** 64
# would take it days. A chain raises its excess by at most a few blobs' gas a block, so
# only a hand-written value (a state test's env, t8n's input or blob parameters, a
# genesis) gets past it; it is refused rather than computed.
MAX_EXCESS_BLOB_GAS_RATIO: Final = 16384


class ExcessBlobGasTooLarge(ValueError):
    """Excess blob gas over MAX_EXCESS_BLOB_GAS_RATIO times the fork's update fraction."""


def blob_base_fee(excess_blob_gas: int, fork: Fork | None = None) -> int:
    fraction = fork.blob_base_fee_update_fraction if fork is not None \
        else BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN
    if excess_blob_gas > MAX_EXCESS_BLOB_GAS_RATIO * fraction:
        raise ExcessBlobGasTooLarge(
            f"excess blob gas {excess_blob_gas} is over {MAX_EXCESS_BLOB_GAS_RATIO} times "
            f"the update fraction {fraction}: a blob base fee above e^"
            f"{MAX_EXCESS_BLOB_GAS_RATIO}, which no chain reaches")
    return fake_exponential(MIN_BLOB_BASE_FEE, excess_blob_gas, fraction)


def calldata_floor_gas(tx: Transaction) -> int:
    """EIP-7623 (Prague): the least a transaction pays for its calldata."""
    zeros = tx.data.count(0)
    tokens = zeros + 4 * (len(tx.data) - zeros)
    return G_TRANSACTION + FLOOR_CALLDATA_COST * tokens


def intrinsic_gas(tx: Transaction, fork: Fork) -> int:
    rules = fork.rules
    nonzero_cost = G_TXDATANONZERO_EIP2028 if rules.eip2028 else G_TXDATANONZERO_FRONTIER
    zeros = tx.data.count(0)
    gas = G_TRANSACTION + zeros * G_TXDATAZERO + (len(tx.data) - zeros) * nonzero_cost
    if tx.to is None:
        if rules.eip2:
            gas += G_TXCREATE
        if rules.eip3860:
            gas += G_INITCODE_WORD * ((len(tx.data) + 31) >> 5)
    for _address, keys in tx.access_list:
        gas += G_ACCESS_LIST_ADDRESS + G_ACCESS_LIST_STORAGE_KEY * len(keys)
    gas += PER_EMPTY_ACCOUNT_COST * len(tx.authorization_list)  # EIP-7702
    return gas


def _check_type(tx: Transaction, fork: Fork) -> None:
    if tx.tx_type not in fork.rules.tx_types:
        raise InvalidTransaction(f"transaction type {tx.tx_type} not supported by {fork.name}")


def validate(state: State, fork: Fork, block: BlockEnv, tx: Transaction,
             sender_must_be_eoa: bool = True) -> tuple[int, int]:
    """Check the transaction against the state; returns (effective gas price, intrinsic gas).

    `sender_must_be_eoa=False` lifts the EIP-3607 check, for a development chain's
    impersonated contract senders."""
    _check_type(tx, fork)
    rules = fork.rules
    sender = state.get(tx.sender)
    sender_nonce = sender.nonce if sender is not None else 0
    if tx.nonce >= MAX_NONCE:  # EIP-2681
        raise InvalidTransaction("nonce has max value")
    if tx.nonce != sender_nonce:
        raise InvalidTransaction(
            f"nonce too {'high' if tx.nonce > sender_nonce else 'low'}: "
            f"tx {tx.nonce}, state {sender_nonce}")
    if sender_must_be_eoa and sender is not None and sender.code and not (
            rules.eip7702 and is_delegation(sender.code)):  # EIP-3607, EIP-7702
        raise InvalidTransaction("sender not an EOA")
    if rules.eip7825 and tx.gas_limit > TX_MAX_GAS_LIMIT:
        raise InvalidTransaction(
            f"gas limit {tx.gas_limit} exceeds the transaction maximum {TX_MAX_GAS_LIMIT}")
    if tx.gas_limit > block.gas_limit:
        raise InvalidTransaction("gas limit reached: transaction gas exceeds block gas limit")
    for value in (tx.gas_price, tx.max_fee_per_gas, tx.max_priority_fee_per_gas, tx.value):
        if value is not None and not 0 <= value <= UINT256_MAX:
            raise InvalidTransaction("fee or value negative or above 256 bits")
    if tx.tx_type >= 2:
        max_fee = tx.max_fee_per_gas or 0
        priority = tx.max_priority_fee_per_gas or 0
        if priority > max_fee:
            raise InvalidTransaction("max priority fee per gas higher than max fee per gas")
        if max_fee < block.base_fee:
            raise InvalidTransaction("max fee per gas less than block base fee")
        effective_price = min(max_fee, block.base_fee + priority)
        fee_cap = max_fee
    else:
        gas_price = tx.gas_price or 0
        if rules.eip1559 and gas_price < block.base_fee:
            raise InvalidTransaction("max fee per gas less than block base fee")
        effective_price = gas_price
        fee_cap = gas_price
    if fee_cap * tx.gas_limit > UINT256_MAX:
        raise InvalidTransaction("gas limit times fee cap overflows 256 bits")
    max_cost = tx.gas_limit * fee_cap + tx.value
    if tx.tx_type == 3:
        if tx.to is None:
            raise InvalidTransaction("blob transaction must not create a contract")
        count = len(tx.blob_versioned_hashes)
        if count == 0:
            raise InvalidTransaction("blob transaction without blobs")
        if count > fork.max_blobs_per_tx:
            raise InvalidTransaction(
                f"too many blobs in transaction: {count} > {fork.max_blobs_per_tx}")
        for h in tx.blob_versioned_hashes:
            if h[:1] != b"\x01":
                raise InvalidTransaction("blob versioned hash with unsupported version")
        fee_per_blob_gas = blob_base_fee(block.excess_blob_gas, fork)
        if (tx.max_fee_per_blob_gas or 0) < fee_per_blob_gas:
            raise InvalidTransaction("max fee per blob gas less than block blob gas fee")
        max_cost += count * GAS_PER_BLOB * (tx.max_fee_per_blob_gas or 0)
    balance = sender.balance if sender is not None else 0
    if balance < max_cost:
        raise InvalidTransaction(
            f"insufficient funds for gas * price + value: have {balance}, want {max_cost}")
    if tx.tx_type == 4:
        if tx.to is None:
            raise InvalidTransaction("set-code transaction must not create a contract")
        if not tx.authorization_list:
            raise InvalidTransaction("set-code transaction with an empty authorization list")
    intrinsic = intrinsic_gas(tx, fork)
    needed = max(intrinsic, calldata_floor_gas(tx)) if rules.eip7623 else intrinsic
    if needed > tx.gas_limit:
        raise InvalidTransaction(
            f"intrinsic gas too low: have {tx.gas_limit}, want {needed}")
    if rules.eip3860 and tx.to is None and len(tx.data) > MAX_INITCODE_SIZE:
        raise InvalidTransaction("max initcode size exceeded")
    return effective_price, intrinsic


def is_delegation(code: bytes) -> bool:
    return len(code) == 23 and code[:3] == DELEGATION_PREFIX


def delegation_target(code: bytes) -> bytes | None:
    return code[3:] if is_delegation(code) else None


def authority_of(auth: Authorization) -> bytes | None:
    """The signer of an EIP-7702 authorization, or None if the signature is invalid."""
    if auth.y_parity not in (0, 1) or not (0 < auth.r < SECP256K1_N) \
            or not (0 < auth.s <= SECP256K1_N // 2):
        return None
    digest = keccak256(b"\x05" + encode([auth.chain_id, auth.address, auth.nonce]))
    return ecrecover_address(digest, auth.y_parity, auth.r, auth.s)


def apply_authorizations(state: State, chain_id: int, authorizations: list[Authorization],
                         overrides: Mapping[bytes, bytes] | None = None) -> int:
    """Install EIP-7702 delegations; invalid tuples are skipped. Returns the refund earned.
    `overrides` (a dev node's anvil_impersonateSignature, Fork.signature_overrides) names
    the authority of a tuple whose signature does not recover, by its r, s and 27 + y
    parity, as anvil keys them."""
    refund = 0
    for auth in authorizations:
        if auth.chain_id not in (0, chain_id) or auth.nonce >= MAX_NONCE:
            continue
        authority = authority_of(auth)
        if authority is None and overrides and 0 <= auth.y_parity <= 1 \
                and auth.r <= UINT256_MAX and auth.s <= UINT256_MAX:
            authority = overrides.get(auth.r.to_bytes(32, "big") + auth.s.to_bytes(32, "big")
                                      + bytes((27 + auth.y_parity,)))
        if authority is None:
            continue
        state.access_address(authority)
        account = state.get(authority)
        code = account.code if account is not None else b""
        if code and not is_delegation(code):
            continue
        if (account.nonce if account is not None else 0) != auth.nonce:
            continue
        if account is not None:
            refund += PER_EMPTY_ACCOUNT_COST - PER_AUTH_BASE_COST
        if auth.address == bytes(20):
            state.set_code(authority, b"")
        else:
            state.set_code(authority, DELEGATION_PREFIX + auth.address)
        state.set_nonce(authority, auth.nonce + 1)
        state.touch(authority)
    return refund


def apply_transaction(state: State, fork: Fork, block: BlockEnv, tx: Transaction,
                      tracer: Tracer | None = None,
                      sender_must_be_eoa: bool = True) -> TxResult:
    """Execute `tx` on `state`. Raises InvalidTransaction (leaving state untouched)."""
    effective_price, intrinsic = validate(state, fork, block, tx, sender_must_be_eoa)
    rules = fork.rules
    state.begin_transaction()
    blob_gas = len(tx.blob_versioned_hashes) * GAS_PER_BLOB if tx.tx_type == 3 else 0
    blob_fee_per_gas = blob_base_fee(block.excess_blob_gas, fork) if rules.eip4844 else 0
    # Buy gas (and blob gas, which is burned).
    state.sub_balance(tx.sender, tx.gas_limit * effective_price + blob_gas * blob_fee_per_gas)
    evm = new_evm(state, fork, block, tx.sender, effective_price,
                  tuple(tx.blob_versioned_hashes), blob_fee_per_gas, tracer)
    warm = [tx.sender, *(address for address, _keys in tx.access_list)]
    if tx.to is not None:
        warm.append(tx.to)
    if rules.eip3651:
        warm.append(block.coinbase)
    prewarm(evm, warm, ((address, key) for address, keys in tx.access_list for key in keys))
    gas = tx.gas_limit - intrinsic
    if tx.to is None:
        msg = Message(CREATE, tx.sender, tx.sender, tx.value, tx.data, gas)
    else:
        state.set_nonce(tx.sender, tx.nonce + 1)
        if tx.authorization_list:
            # Outside the call's snapshot: authorizations stand even if execution fails.
            state.refund += apply_authorizations(state, block.chain_id, tx.authorization_list,
                                                 fork.signature_overrides)
        if rules.eip7702:
            delegate = delegation_target(state.code(tx.to))
            if delegate is not None:
                prewarm(evm, (delegate,))
        msg = Message(CALL, tx.sender, tx.to, tx.value, tx.data, gas)
    result = execute_message(evm, msg)
    success, gas_left, error = result.success, result.gas_left, result.error
    # A creation's output is the deployed code, not the transaction's return data.
    output = result.output if tx.to is not None or not success else b""
    gas_used = tx.gas_limit - gas_left
    refund = min(state.refund, gas_used // rules.refund_quotient)
    gas_left += refund
    gas_used -= refund
    if rules.eip7623:  # pay at least the calldata floor
        floor = calldata_floor_gas(tx)
        if gas_used < floor:
            gas_used = floor
            gas_left = tx.gas_limit - floor
    state.add_balance(tx.sender, gas_left * effective_price)
    priority = effective_price - block.base_fee if rules.eip1559 else effective_price
    state.add_balance(block.coinbase, gas_used * priority)
    logs = list(state.logs) if success else []
    state.finalize_transaction(delete_empty=rules.eip161)
    if tracer is not None:
        tracer.summary(output, gas_used, error)
    return TxResult(gas_used, success, output, logs, error, result.created, blob_gas)
