"""A development chain on top of `chainvm.chain`: funded dev accounts, mining on demand,
calls, gas estimation, snapshots, impersonation, time travel and tracing.

The JSON-RPC server (`chainvm.node.rpc`) and the Python test API
(`chainvm.testing.api`) both drive a `DevChain`; it is not thread-safe, so the
server runs every request on its one event loop thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coincurve import PrivateKey

from chainvm.chain.blobs import BlobSidecar, decode_pooled, verify_sidecar
from chainvm.chain.block import Receipt
from chainvm.chain.builder import BuildOptions, BuiltBlock, build_block, make_genesis
from chainvm.chain.chain import Chain, StoredBlock
from chainvm.chain.config import ChainConfig, config_for_network
from chainvm.chain.mpool import PoolConfig, PoolError, TxPool
from chainvm.chain.processing import (
    CONSOLIDATION_REQUEST_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    HISTORY_STORAGE_CODE,
    MAX_GAS_LIMIT,
    RETURN_NOTHING,
    WITHDRAWAL_REQUEST_ADDRESS,
    apply_body,
    calc_base_fee,
    header_env,
)
from chainvm.chain.store import SYNC_INTERVAL
from chainvm.chain.transactions import SignedTransaction
from chainvm.crypto import keccak256
from chainvm.encoding.json_input import (
    UINT64_MAX,
    InputError,
    expect_object,
    parse_address,
    parse_data,
    parse_quantity,
    short,
)
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.execution import CALL, Message, execute_message, new_evm, prewarm
from chainvm.evm.gas import G_TRANSACTION
from chainvm.evm.tracer import Tracer
from chainvm.evm.transaction import (
    TX_MAX_GAS_LIMIT,
    Authorization,
    Transaction,
    TxResult,
    apply_transaction,
    blob_base_fee,
    intrinsic_gas,
    is_delegation,
)
from chainvm.evm.vm import create_address
from chainvm.node.accounts import DEFAULT_MNEMONIC, dev_keys
from chainvm.state.state import Account, State

if TYPE_CHECKING:
    from chainvm.evm.forks import Fork
    from chainvm.node.forking import RemoteState

ETHER = 10**18
GWEI = 10**9
DEFAULT_TIP = GWEI
MAX_FEE = 2**256 - 1  # a fee field is a 256-bit word
DEFAULT_GAS_LIMIT = 30_000_000
SENDERS_FILE = "impersonated-senders.txt"


class NodeError(Exception):
    """A request the node refuses; `code` is the JSON-RPC error code."""

    def __init__(self, message: str, code: int = -32000, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


def _unknown_sender(sender: bytes) -> NodeError:
    return NodeError(f"unknown account 0x{sender.hex()} (not a dev account, not impersonated)",
                     -32000)


class RevertError(NodeError):
    """Execution reverted: code 3 with the revert bytes as data (what clients decode)."""

    def __init__(self, output: bytes, reason: str | None = None) -> None:
        message = "execution reverted" + (f": {reason}" if reason else "")
        super().__init__(message, 3, "0x" + output.hex())
        self.output = output


def revert_reason(output: bytes) -> str | None:
    """The string of an Error(string) revert, if it is one."""
    if output[:4] != bytes.fromhex("08c379a0") or len(output) < 68:
        return None
    try:
        length = int.from_bytes(output[36:68], "big")
        return output[68:68 + length].decode("utf-8", "replace")
    except (ValueError, OverflowError):
        return None


# What Solidity's Panic(uint256) codes mean, in the words geth's JSON-RPC errors use for
# them ("execution reverted: assert(false)").
PANIC_REASONS = {
    0x00: "generic panic", 0x01: "assert(false)", 0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero", 0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN", 0x41: "out of memory",
    0x51: "uninitialized function",
}
PANIC_SELECTOR = bytes.fromhex("4e487b71")


def revert_message(output: bytes) -> str | None:
    """The reason a JSON-RPC error gives for a revert, as geth words it: an Error(string)'s
    string, or what a Panic(uint256) code means; None for other revert data."""
    reason = revert_reason(output)
    if reason is not None or output[:4] != PANIC_SELECTOR or len(output) != 36:
        return reason
    code = int.from_bytes(output[4:36], "big")
    return PANIC_REASONS.get(code, f"unknown panic code: {code:#x}")


@dataclass
class CallArgs:
    """A transaction as clients describe it for eth_call / eth_sendTransaction: every
    field but the sender optional (the node fills them)."""

    sender: bytes | None = None
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    access_list: list[tuple[bytes, list[bytes]]] = field(default_factory=list)
    # An access list was given, empty or not: as in geth, a priced transaction with one is
    # an EIP-2930 transaction (type 1), not a legacy one.
    access_list_given: bool = False
    tx_type: int | None = None
    chain_id: int | None = None
    # EIP-7702 authorizations: a set-code transaction (type 4) when not empty.
    authorization_list: list[Authorization] = field(default_factory=list)


# How wide each numeric field of a CallArgs may be, in bits: the JSON-RPC parameters
# (rpc/params.py) and the Python APIs (TestChain, the eth-tester backend) check the same.
CALL_ARG_BITS: dict[str, int] = {
    "gas": 64, "gas_price": 256, "max_fee_per_gas": 256, "max_priority_fee_per_gas": 256,
    "value": 256, "nonce": 64, "tx_type": 8, "chain_id": 256}


def check_uint(value: Any, what: str, bits: int = 256) -> int:
    """`value` if it is an unsigned integer of at most `bits` bits; TypeError when it is
    not an int (a bool is not one), ValueError when it is negative or wider."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what}: expected an int, got {type(value).__name__} "
                        f"{short(value)}")
    if value < 0 or value >> bits:
        raise ValueError(f"{what}: {short(value, 30)} outside 0..2^{bits}-1")
    return value


# Blocks one call of the in-process APIs (TestChain.mine and time_travel, the
# eth-tester backend's mine_blocks) may mine. Each empty block takes about 53 us and
# 1.5 KB of the in-memory chain here, so this is about a minute and 1.5 GB; a count
# like 10**9 is refused before the first block instead of running until memory is gone.
# (The node allows a hundredth of it: any web page can send it requests.)
MAX_BLOCKS_IN_PROCESS = 1_000_000


def check_block_count(value: Any, what: str) -> int:
    """`value` if it is a count of blocks one in-process call may mine."""
    count = check_uint(value, what, 64)
    if count > MAX_BLOCKS_IN_PROCESS:
        raise ValueError(f"{what}: at most {MAX_BLOCKS_IN_PROCESS:,} blocks a call, "
                         f"got {count:,}")
    return count


def check_address(value: Any, what: str) -> bytes:
    """`value` if it is a 20-byte address (bytes); TypeError or ValueError otherwise."""
    if not isinstance(value, bytes):
        raise TypeError(f"{what}: expected a 20-byte address, got {type(value).__name__} "
                        f"{short(value)}")
    if len(value) != 20:
        raise ValueError(f"{what}: expected a 20-byte address, got {len(value)} bytes")
    return value


def check_call_args(req: CallArgs) -> CallArgs:
    """`req` if its fields have the types and ranges a transaction allows (see
    CALL_ARG_BITS); TypeError or ValueError naming the field otherwise. For requests
    built from Python values: JSON-RPC's parse_call_args builds only valid ones."""
    if req.sender is not None:
        check_address(req.sender, "from")
    if req.to is not None:
        check_address(req.to, "to")
    if not isinstance(req.data, bytes):
        raise TypeError(f"data: expected bytes, got {type(req.data).__name__}")
    for name, bits in CALL_ARG_BITS.items():
        value = getattr(req, name)
        if value is not None:
            check_uint(value, name, bits)
    return req


class DevTransaction(SignedTransaction):
    """A transaction the node fills and signs itself. Its encoding, which the pool, the
    block's transactions root and the chain's index all need, is kept once signed (and
    made again if the signature changes)."""

    def encode(self) -> bytes:
        signature = (self.v, self.r, self.s)
        cached = self.__dict__.get("_encoding")
        if cached is not None and cached[0] == signature:
            return cached[1]  # type: ignore[no-any-return]
        data = super().encode()
        self.__dict__["_encoding"] = (signature, data)
        return data

    @property
    def hash(self) -> bytes:
        """The hash of the kept encoding, kept with it."""
        data = self.encode()
        cached = self.__dict__.get("_hash")
        if cached is not None and cached[0] is data:
            return cached[1]  # type: ignore[no-any-return]
        tx_hash = keccak256(data)
        self.__dict__["_hash"] = (data, tx_hash)
        return tx_hash


@dataclass
class Snapshot:
    head_hash: bytes
    state: State
    time_offset: int
    next_timestamp: int | None
    pool: list[SignedTransaction]


class StepCollector(Tracer):
    """Collects geth struct logs (and raw steps for the call tracer)."""

    def __init__(self, memory: bool = False, stack: bool = True, storage: bool = True,
                 limit: int = 0) -> None:
        super().__init__(None)
        self.logs: list[dict[str, Any]] = []
        self.memory = self.wants_memory = memory
        self.stack = stack
        self.storage = storage
        self.limit = limit
        self.output = b""
        self.gas_used = 0
        self.error: str | None = None
        self._storage: dict[int, dict[str, str]] = {}

    def step(self, f: Any, pc: int, op: int, gas: int, cost: int, stack: list[int],
             mem_size: int, refund: int, name: str, error: str | None) -> None:
        if self.limit and len(self.logs) >= self.limit:
            return
        record: dict[str, Any] = {"pc": pc, "op": name, "gas": gas, "gasCost": cost,
                                  "depth": f.depth + 1}
        if refund:
            record["refund"] = refund
        if self.stack:
            record["stack"] = [f"0x{x:x}" for x in stack]
        if self.memory:  # (as it was before the instruction, as geth's struct logs show it)
            mem = self.memory_before
            record["memory"] = [mem[i:i + 32].hex() for i in range(0, len(mem), 32)]
        if self.storage and name in ("SSTORE", "SLOAD") and stack:
            slots = self._storage.setdefault(f.depth, {})
            key = stack[-1]
            if name == "SSTORE" and len(stack) >= 2:
                slots[f"{key:064x}"] = f"{stack[-2]:064x}"
            else:
                slots[f"{key:064x}"] = f"{f.state.get_storage(f.address, key):064x}"
            record["storage"] = dict(slots)
        if error:
            record["error"] = error
        self.logs.append(record)

    def summary(self, output: bytes, gas_used: int, error: str | None) -> None:
        self.output, self.gas_used, self.error = output, gas_used, error


def _call_transaction(req: CallArgs, sender: bytes, nonce: int, gas: int, fork: Fork
                      ) -> Transaction:
    """The transaction a call (eth_call, estimates, traces) runs as: typed as the fields
    given make it and the fork allows, unpriced unless priced."""
    tx_type = 2 if req.max_fee_per_gas is not None else (1 if req.access_list else 0)
    if req.authorization_list and fork.rules.eip7702:
        tx_type = 4  # its authorizations are processed (and their gas counted)
    if not fork.rules.eip2930:
        tx_type = 0
    return Transaction(
        sender=sender, to=req.to, nonce=nonce, gas_limit=gas,
        value=req.value, data=req.data, tx_type=tx_type,
        gas_price=req.gas_price if req.gas_price is not None else (
            None if tx_type == 2 else 0),
        max_fee_per_gas=req.max_fee_per_gas,
        max_priority_fee_per_gas=(req.max_priority_fee_per_gas or 0)
        if tx_type >= 2 else None,
        access_list=[(a, [int.from_bytes(k, "big") for k in keys])
                     for a, keys in req.access_list],
        authorization_list=list(req.authorization_list) if tx_type == 4 else [])


class DevChain:
    """An automining development chain with funded dev accounts."""

    def __init__(self, fork: str = "Osaka", chain_id: int = 31337, accounts: int = 10,
                 balance: int = 10_000 * ETHER, datadir: str | Path | None = None,
                 mnemonic: str = DEFAULT_MNEMONIC, gas_limit: int = DEFAULT_GAS_LIMIT,
                 timestamp: int | None = None, fork_url: str | None = None,
                 fork_block: int | None = None,
                 fork_cache: str | Path | None = None,
                 sync_interval: float = SYNC_INTERVAL, history_contract: bool = False) -> None:
        # (a header's gas limit above 2^63-1 is an invalid block: such a chain could
        # mine nothing)
        if isinstance(gas_limit, bool) or not isinstance(gas_limit, int):
            raise TypeError(f"gas_limit: expected an int, got {type(gas_limit).__name__}")
        if not G_TRANSACTION <= gas_limit <= MAX_GAS_LIMIT:  # (room for one transfer)
            raise ValueError(f"gas_limit: must be between {G_TRANSACTION} and 2^63-1, "
                             f"got {gas_limit}")
        # What anvil_reset needs to start again (forked or local).
        self._init_args: dict[str, Any] = {
            "fork": fork, "chain_id": chain_id, "accounts": accounts, "balance": balance,
            "datadir": datadir, "mnemonic": mnemonic, "gas_limit": gas_limit,
            "timestamp": timestamp, "fork_cache": fork_cache, "sync_interval": sync_interval,
            "history_contract": history_contract}
        # A new chain's genesis holds EIP-2935's block-hash history contract from Prague on,
        # as anvil's does, when asked (`chainvm node` asks unless --no-history-contract;
        # the Python test API does not): every block then runs its system call and writes
        # one of its 8,191 slots, about a third more CPU a block in process (docs/node.md,
        # "Prague system contracts").
        self.history_contract = history_contract
        self.keys: dict[bytes, bytes] = dict(dev_keys(accounts, mnemonic))
        self._key_objects: dict[bytes, PrivateKey] = {}
        self.accounts: list[bytes] = list(self.keys)
        self.mnemonic = mnemonic
        self.reopened = False
        # Fork mode: the chain starts at a remote block and reads what it lacks from there.
        self.remote: RemoteState | None = None
        if fork_url is not None:
            if datadir is not None:
                raise NodeError("fork mode keeps its chain in memory: a data dir cannot be "
                                "combined with a fork URL", -32602)
            from chainvm.node.forking import RemoteState

            self.remote = RemoteState.open(fork_url, fork_block, fork_cache)
            try:
                config = config_for_network(fork, self.remote.chain_id)
                self.chain = Chain.from_genesis(config, self.remote.genesis(),
                                                self._forked_state(config, balance))
            except BaseException:
                self.remote.close()
                raise
            self.chain.older_hash = self.remote.block_hash
        elif datadir is not None:
            config = config_for_network(fork, chain_id)
            # With a data dir, blocks are synced to disk every `sync_interval` seconds (0:
            # each block): see docs/node.md, "Durability".
            try:
                self.chain = Chain.open(datadir, sync_interval=sync_interval)
                self.reopened = True
            except ValueError:
                state, genesis = self._genesis(config, balance, gas_limit, timestamp)
                self.chain = Chain.open(datadir, config, genesis, state,
                                        sync_interval=sync_interval)
        else:
            config = config_for_network(fork, chain_id)
            state, genesis = self._genesis(config, balance, gas_limit, timestamp)
            self.chain = Chain.from_genesis(config, genesis, state)
        self.config: ChainConfig = self.chain.config
        self.automine = True
        self.block_time: float | None = None  # interval mining (the server's miner loop)
        # anvil_setBlockTimestampInterval: each new block this many seconds after its parent
        self.timestamp_interval: int | None = None
        self.time_offset = self._genesis_clock_offset()
        self.next_timestamp: int | None = None
        # anvil_setNextBlockBaseFeePerGas: the next block's base fee (EIP-1559 derives the
        # later ones from it); evm_setBlockGasLimit: the gas limit of every later block
        self.next_block_base_fee: int | None = None
        self.block_gas_limit: int | None = None
        # hardhat_setPrevRandao: the next block's PREVRANDAO (mix hash); zeros otherwise
        self.next_prev_randao: bytes | None = None
        # anvil_setMinGasPrice (chains before London): the gas price the node suggests and
        # fills in, instead of the 1 gwei tip
        self.min_gas_price: int | None = None
        self.coinbase = bytes(20)
        self.impersonated: set[bytes] = set()
        # anvil_impersonateSignature: 65-byte signatures and the addresses they recover to
        self.signature_overrides: dict[bytes, bytes] = {}
        # anvil_autoImpersonateAccount: any sender without a dev key is impersonated
        self.auto_impersonate = False
        self.snapshots: dict[int, Snapshot] = {}
        self._next_snapshot = 1
        # anvil_metadata's instanceId: new for each node and each reset, as hardhat's, so
        # that a client can tell the chain it cached things about is gone
        self.instance_id = secrets.token_bytes(32)
        self._impersonated_txs: dict[bytes, bytes] = {}
        # Senders of impersonated transactions cannot be recovered from their placeholder
        # signatures; with a datadir they are kept in a side file beside the LMDB files.
        self._senders_file = Path(datadir) / SENDERS_FILE if datadir is not None else None
        if self._senders_file is not None and self._senders_file.exists():
            for line in self._senders_file.read_text().splitlines():
                tx_hash, _, sender = line.partition(" ")
                if len(tx_hash) == 64 and len(sender) == 40:
                    self._impersonated_txs[bytes.fromhex(tx_hash)] = bytes.fromhex(sender)
        self.rejected: dict[bytes, str] = {}
        # Impersonated senders may be contracts: their transactions skip the EIP-3607
        # check (sender has no code) in the pool and in blocks; no other transaction does.
        self.chain.exempt = self.is_impersonated_tx
        # The genesis state as made, for anvil_reset: edits made while the genesis block is
        # the head change its state in place (a copy-on-write copy keeps this one apart).
        genesis = self.chain.get_block_by_number(0)
        self._genesis_state = genesis.state.copy() if genesis is not None else None
        head = self.chain.head
        self.pool = TxPool(head.state, head.fork, self.next_base_fee(),
                           PoolConfig(chain_id=self.config.chain_id,
                                      block_gas_limit=head.header.gas_limit,
                                      max_per_sender=1024, reject_below_base_fee=True,
                                      any_sidecar_version=True),
                           exempt=self.is_impersonated_tx)
        # The execution results of the last mined block's transactions (output, error).
        self.last_results: tuple[bytes, list[TxResult]] = (b"", [])
        # The pending block last built (see pending_block) and what it was built from.
        self._pending: tuple[Any, StoredBlock] | None = None
        self.listeners: list[Any] = []  # callables(StoredBlock) run after each new block
        # callables(SignedTransaction) run when a transaction enters the pool, before any
        # block that mines it (pending-transaction filters and subscriptions)
        self.pool_listeners: list[Any] = []
        # Blob transactions' sidecars (EIP-4844: a block holds only the blobs' versioned
        # hashes), by transaction hash: the pool takes a blob transaction back (a revert, a
        # reorg) only with its sidecar, and anvil's blob lookups answer from them. Kept as
        # long as the chain is, as its blocks are.
        self.sidecars: dict[bytes, BlobSidecar] = {}
        # versioned hash -> the transactions that carried that blob (a blob can be sent
        # twice, or in a replacement), in the order they came
        self.blob_carriers: dict[bytes, list[bytes]] = {}

    def _genesis(self, config: ChainConfig, balance: int, gas_limit: int,
                 timestamp: int | None) -> tuple[State, Any]:
        state = State({addr: Account(balance=balance) for addr in self.keys})
        if config.fork_at(0, 0, -1).rules.eip7685 or config.time_forks:
            # Prague blocks must call the EIP-7002 and EIP-7251 request contracts. The dev
            # chain installs stand-ins that return no requests (PUSH1 0 PUSH1 0 RETURN).
            for address in (WITHDRAWAL_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_ADDRESS):
                state.accounts[address] = Account(nonce=1, code=RETURN_NOTHING)
        if self.history_contract and config.fork_at(2**63, 2**63, -1).rules.eip2935:
            # (nonce 0, as in anvil's genesis; a chain scheduled to reach Prague later has
            # it from the start, the contract being inert until its system calls begin)
            state.accounts[HISTORY_STORAGE_ADDRESS] = Account(code=HISTORY_STORAGE_CODE)
        ts = int(time.time()) if timestamp is None else timestamp
        # A chain that starts at the merge or later has no proof of work, its genesis
        # included (difficulty 0, as anvil's and geth --dev's).
        difficulty = 0 if config.fork_at(0, ts, -1).rules.eip3675 else 0x20000
        return state, make_genesis(config, state, gas_limit=gas_limit, timestamp=ts,
                                   difficulty=difficulty)

    def _forked_state(self, config: ChainConfig, balance: int) -> State:
        """The remote's state at the fork block, with the dev accounts funded."""
        from chainvm.node.forking import ForkedAccounts

        assert self.remote is not None
        accounts = ForkedAccounts(self.remote)
        requests = (WITHDRAWAL_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_ADDRESS)
        accounts.prefetch([*self.keys, *requests])  # one batch
        for address in self.keys:
            acct = accounts.get(address) or Account()
            acct.balance = balance
            accounts[address] = acct
        if config.fork_at(self.remote.number, self.remote.header.timestamp, -1).rules.eip7685:
            # A remote without the EIP-7002/7251 request contracts gets the dev chain's
            # stand-ins, or no Prague block could be built on it.
            for address in requests:
                if address not in accounts or not accounts[address].code:
                    accounts[address] = Account(nonce=1, code=RETURN_NOTHING)
        return State(accounts)

    def close(self) -> None:
        self.chain.close()
        if self.remote is not None:
            self.remote.close()

    # -- head and environment ------------------------------------------------------------

    @property
    def head(self) -> StoredBlock:
        return self.chain.head

    @property
    def chain_id(self) -> int:
        return self.config.chain_id

    def config_for(self, stored: StoredBlock) -> ChainConfig:
        """The configuration a block was built under: the chain's, with the chain id its
        transactions were signed for, which anvil_setChainId may have changed since (a
        block with none that name one is taken under today's id)."""
        for tx in stored.block.transactions:
            if tx.chain_id is not None:
                if tx.chain_id == self.config.chain_id:
                    break
                return dataclasses.replace(self.config, chain_id=tx.chain_id)
        return self.config

    def set_chain_id(self, chain_id: int) -> None:
        """anvil_setChainId: the chain id of the next blocks, of calls and of the
        transactions the node fills and accepts; earlier blocks are replayed with theirs
        (`config_for`)."""
        if not 0 < chain_id <= UINT64_MAX:
            raise NodeError(f"chain id {chain_id} outside 1..2^64-1", -32602)
        self.config.chain_id = chain_id
        self.pool.config.chain_id = chain_id
        self.chain.store.save_config(self.config)
        self._pending = None
        self._after_head_change()

    def state(self) -> State:
        return self.chain.head.state

    def next_base_fee(self) -> int:
        head = self.chain.head
        fork = self.config.fork_at(head.number + 1, head.header.timestamp + 1,
                                   head.total_difficulty)
        if not fork.rules.eip1559:
            return 0
        if self.next_block_base_fee is not None:
            return self.next_block_base_fee
        return calc_base_fee(head.header, head.fork.rules.eip1559)

    def next_gas_limit(self) -> int:
        """The gas limit of the next block (the head's unless evm_setBlockGasLimit set one)."""
        limit = self.block_gas_limit
        return self.chain.head.header.gas_limit if limit is None else limit

    def set_next_block_base_fee(self, base_fee: int) -> None:
        """The next block's base fee (anvil_setNextBlockBaseFeePerGas); calls and the pool
        see it at once."""
        _, fork = self.pending_env()
        if not fork.rules.eip1559:
            raise NodeError("the next block has no base fee before London (EIP-1559)", -32602)
        self.next_block_base_fee = base_fee
        self._after_head_change()

    def set_block_gas_limit(self, gas_limit: int) -> None:
        """The gas limit of every later block (evm_setBlockGasLimit), as anvil: any value
        up to the header's 2^63-1, with no step limit from one block to the next."""
        if gas_limit > MAX_GAS_LIMIT:
            raise NodeError(f"gas limit {gas_limit} above the header's 2^63-1", -32602)
        self.block_gas_limit = gas_limit
        self.pool.config.block_gas_limit = gas_limit
        self._pending = None

    def gas_price(self, base_fee: int | None = None) -> int:
        """The gas price eth_gasPrice suggests and an unpriced transaction gets: the next
        block's base fee (`base_fee` if the caller has it) plus a 1 gwei tip, or before
        London the price anvil_setMinGasPrice set."""
        base = self.next_base_fee() if base_fee is None else base_fee
        if self.min_gas_price is not None and not base:
            _, fork = self.pending_env()
            if not fork.rules.eip1559:
                return self.min_gas_price
        # (a base fee set near 2^256 would suggest a price no transaction can carry)
        return min(base + DEFAULT_TIP, MAX_FEE)

    def set_next_prev_randao(self, value: bytes) -> None:
        """hardhat_setPrevRandao: the next block's PREVRANDAO (its header's mix hash)."""
        if not self.config.merged(self.chain.head.total_difficulty):
            raise NodeError("hardhat_setPrevRandao is only available after the merge "
                            "(PREVRANDAO replaced DIFFICULTY there)", -32602)
        self.next_prev_randao = value
        self._pending = None

    def set_min_gas_price(self, gas_price: int) -> None:
        """anvil_setMinGasPrice: the suggested gas price of a chain before London."""
        _, fork = self.pending_env()
        if fork.rules.eip1559:
            raise NodeError("anvil_setMinGasPrice is not supported when EIP-1559 is active",
                            -32602)
        self.min_gas_price = gas_price

    def _next_timestamp(self, consume: bool = True) -> int:
        parent_ts = self.chain.head.header.timestamp
        if self.next_timestamp is not None:
            ts = self.next_timestamp
            if consume:
                self.next_timestamp = None
            return ts
        if self.timestamp_interval is not None:  # anvil_setBlockTimestampInterval
            return parent_ts + self.timestamp_interval
        return max(int(time.time()) + self.time_offset, parent_ts + 1)

    def pending_env(self) -> tuple[BlockEnv, Any]:
        """The block environment (and fork) a call sees: the next block on the head."""
        head = self.chain.head
        number = head.number + 1
        ts = self._next_timestamp(consume=False)
        fork = self.config.fork_at(number, ts, head.total_difficulty)
        excess = 0
        if fork.rules.eip4844:
            from chainvm.chain.processing import calc_excess_blob_gas

            excess = calc_excess_blob_gas(fork, head.header, head.fork)
        env = BlockEnv(
            coinbase=self.coinbase, number=number, timestamp=ts,
            gas_limit=self.next_gas_limit(), difficulty=0 if self.config.merged(
                head.total_difficulty) else head.header.difficulty,
            prev_randao=self.next_prev_randao or bytes(32), base_fee=self.next_base_fee(),
            chain_id=self.chain_id,
            excess_blob_gas=excess, parent_beacon_block_root=bytes(32),
            block_hash=self.chain.ancestor_hashes(head))
        return env, fork

    def block_env(self, stored: StoredBlock, replay: bool = False) -> BlockEnv:
        """A block's context: for a call on it, under the chain's id now; to `replay` its
        transactions, under the id it was built with (anvil_setChainId)."""
        config = self.config_for(stored) if replay else self.config
        parent = self.chain.get_block(stored.header.parent_hash)
        if parent is not None:
            return header_env(config, stored.header, self.chain.ancestor_hashes(parent))
        older, number = self.chain.older_hash, stored.number
        if older is not None:  # a forked chain's first block (N): its ancestors are remote
            return header_env(config, stored.header,
                              lambda n: older(n) if n < number else bytes(32))
        return header_env(config, stored.header, lambda n: bytes(32))

    def blob_base_fee(self) -> int:
        env, fork = self.pending_env()
        return blob_base_fee(env.excess_blob_gas, fork) if fork.rules.eip4844 else 0

    # -- mining ----------------------------------------------------------------------------

    def mine(self, count: int = 1, timestamp: int | None = None,
             interval: int | None = None) -> list[StoredBlock]:
        """Mine `count` blocks from the pool (the first takes the pending transactions)."""
        if timestamp is not None and interval is not None and count > 1 \
                and (timestamp + (count - 1) * interval) >> 64:
            # (refused before the first block: a call mines all its blocks or none)
            raise NodeError(f"the last of {count} blocks would be stamped past 2^64-1")
        out = []
        for i in range(count):
            ts = timestamp
            if ts is not None and interval is not None:
                ts = timestamp + i * interval  # type: ignore[operator]
            elif ts is not None and i > 0:
                ts = None
            out.append(self._mine_one(ts))
        return out

    def _mine_one(self, timestamp: int | None = None) -> StoredBlock:
        head = self.chain.head
        ts = timestamp if timestamp is not None else self._next_timestamp()
        if ts <= head.header.timestamp:
            raise NodeError(f"timestamp {ts} not after the head's {head.header.timestamp}")
        if ts >> 64:  # a header's timestamp is a 64-bit number
            raise NodeError(f"timestamp {ts} above 2^64-1")
        if timestamp is not None:
            self.time_offset = ts - int(time.time())
        opts = self._build_options(ts)
        return self._mine_built(
            lambda: build_block(self.chain, self.pool, opts, exempt=self.is_impersonated_tx))

    def _mine_built(self, build: Callable[[], BuiltBlock]) -> StoredBlock:
        """Build a block on the head with `build` and make it the head."""
        # Forked: what the block touches (system contracts' slots, raw transactions) is
        # read in a few batches; the pass that missed nothing is the block.
        built = self.remote.speculate(build) if self.remote is not None else build()
        assert built.result is not None
        # The block was just executed to build it: stored as is, not run a second time.
        stored = self.chain.import_built(built.block, built.result, set_by_owner=True)
        if self.chain.head_hash != stored.hash:  # rebuilt the same block after a revert
            self.chain.set_head(stored.hash)
            if stored.state is not built.result.state:
                # The known block's state may carry edits made while it was the head
                # (anvil_setStorageAt, setBalance...) that the revert undid: the block just
                # built has the state its transactions make.
                stored.state = built.result.state
                self.chain.save_head_state()
        self.next_block_base_fee = None  # used: the next blocks follow EIP-1559 from it
        self.next_prev_randao = None
        self.last_results = (stored.hash, built.result.results)
        self._after_head_change()
        for tx, reason in built.skipped:
            if "gas limit reached" not in reason and "blob gas above" not in reason \
                    and self.pool.remove(tx.hash):
                self.rejected[tx.hash] = reason
        for listener in list(self.listeners):
            listener(stored)
        return stored

    def pending_block(self) -> StoredBlock:
        """What the `pending` tag names (as anvil): the block the pool would make now on
        the head, with its post state and receipts; built, not imported. Kept until the
        head, the pool or the next block's timestamp changes."""
        head = self.chain.head
        ts = max(self._next_timestamp(consume=False), head.header.timestamp + 1)
        key = (head.hash, ts, frozenset(self.pool.by_hash), self.next_block_base_fee,
               self.block_gas_limit, self.next_prev_randao)
        if self._pending is not None and self._pending[0] == key:
            return self._pending[1]
        opts = self._build_options(ts)

        def build() -> BuiltBlock:
            return build_block(self.chain, self.pool, opts, exempt=self.is_impersonated_tx)

        built = self.remote.speculate(build) if self.remote is not None else build()
        assert built.result is not None
        header = built.block.header
        stored = StoredBlock(built.block, head.total_difficulty + header.difficulty,
                             built.result.state, built.result.receipts,
                             self.config.fork_at(header.number, ts, head.total_difficulty))
        self._pending = (key, stored)
        return stored

    def _build_options(self, timestamp: int) -> BuildOptions:
        """The next block's options: its time, and the user's coinbase, gas limit and base
        fee (None: the builder derives them from the parent)."""
        return BuildOptions(coinbase=self.coinbase, timestamp=timestamp,
                            gas_limit=self.block_gas_limit, base_fee=self.next_block_base_fee,
                            prev_randao=self.next_prev_randao or bytes(32))

    def tx_result(self, stored: StoredBlock, index: int) -> TxResult | None:
        """The execution result (output, error) of a transaction of the last mined block."""
        block_hash, results = self.last_results
        if stored.hash != block_hash or index >= len(results):
            return None
        return results[index]

    def find_by_sender_and_nonce(self, sender: bytes, nonce: int
                                 ) -> tuple[StoredBlock, int] | None:
        """The canonical block and index of `sender`'s transaction with `nonce`: a binary
        search for the first block whose state has the sender's nonce past it, then that
        block's transactions (None if the nonce went by otherwise: an EIP-7702
        authorization, anvil_setNonce, a block before a fork-mode chain's own)."""
        if self.chain.head.state.nonce(sender) <= nonce:
            return None
        stored = self.first_block_where(lambda state: state.nonce(sender) > nonce)
        if stored is None:
            return None
        for index, tx in enumerate(stored.block.transactions):
            if tx.nonce == nonce and self.sender_of(tx) == sender:
                return stored, index
        return None

    def first_block_where(self, holds: Callable[[State], bool]) -> StoredBlock | None:
        """The first of the node's canonical blocks whose post state `holds`, by a binary
        search: `holds` must stay true once it is (a nonce past a value, code deployed),
        and hold at the head."""
        chain = self.chain
        low = self.remote.number if self.remote is not None else 0
        high = chain.head.number
        while low < high:
            mid = (low + high) // 2
            block = chain.get_block_by_number(mid)
            if block is not None and holds(block.state):
                high = mid
            else:
                low = mid + 1
        return chain.get_block_by_number(low)

    def code_by_hash(self, code_hash: bytes, state: State | None = None) -> bytes:
        """The code with `code_hash` among the accounts of `state` (the head's by default);
        empty if none has it."""
        for account in (state or self.state()).accounts.values():
            if account is not None and account.code_hash == code_hash:
                return bytes(account.code)
        return b""

    def set_rpc_url(self, url: str) -> None:
        """anvil_setRpcUrl: a forked chain reads from another endpoint of the same chain."""
        if self.remote is None:
            raise NodeError("not a forked chain: start the node with --fork-url to read from "
                            "a remote", -32602)
        self.remote.switch_url(url)

    def rollback(self, depth: int) -> None:
        """anvil_rollback: drop the last `depth` blocks; their transactions are gone, not
        back in the pool (as anvil). The blocks stay known off the canonical chain; the
        snapshots taken on them are gone with them."""
        ancestor = self._ancestor(depth, "rollback")
        self.set_head(ancestor)
        self._drop_snapshots_above(ancestor.number)

    def reorg(self, depth: int, placed: list[tuple[CallArgs | bytes, int]]) -> None:
        """anvil_reorg: replace the last `depth` blocks with as many new ones, each holding
        the transactions `placed` at its offset (0 = the first new block): requests filled
        and signed as eth_sendTransaction does, or raw signed transactions. The new blocks
        keep the old ones' timestamps; a transaction that is not valid there is left out,
        as a block builder leaves it out."""
        if any(not 0 <= offset < depth for _, offset in placed):
            bad = max(offset for _, offset in placed)
            raise NodeError(f"block offset {bad} of a reorg transaction is past the "
                            f"{depth} new blocks (0 to {depth - 1})", -32602)
        ancestor = self._ancestor(depth, "reorg")
        replaced = [self.chain.get_block_by_number(n)
                    for n in range(ancestor.number + 1, self.head.number + 1)]
        decoded: list[tuple[SignedTransaction | CallArgs, int]] = []
        sidecars: list[tuple[SignedTransaction, BlobSidecar]] = []
        for given, offset in placed:
            if isinstance(given, bytes):
                tx, sidecar = self._decode_raw(given)
                decoded.append((tx, offset))
                if sidecar is not None:
                    sidecars.append((tx, sidecar))
            else:
                sender = given.sender or bytes(20)
                if not self.can_send_as(sender):  # refused before the chain is touched
                    raise _unknown_sender(sender)
                decoded.append((given, offset))
        for tx, sidecar in sidecars:  # (a block needs only the hashes: kept for lookups)
            try:
                verify_sidecar(tx, sidecar)
            except InvalidTransaction as exc:
                raise NodeError(f"invalid transaction: {exc}", -32602) from None
        pool = list(self.pool.ordered())
        original = self.head
        self.set_head(ancestor)
        try:
            for offset, old in enumerate(replaced):
                assert old is not None
                state = self.head.state
                nonces: dict[bytes, int] = {}
                txs = []
                for item, at in decoded:
                    if at != offset:
                        continue
                    if isinstance(item, CallArgs):
                        sender = item.sender or bytes(20)
                        nonce = item.nonce
                        if nonce is None:
                            nonce = nonces.get(sender, state.nonce(sender))
                        nonces[sender] = nonce + 1
                        req = CallArgs(**{**item.__dict__, "nonce": nonce})
                        txs.append(self._signed(self.fill(req), sender))
                    else:
                        txs.append(item)
                self._mine_built(functools.partial(
                    build_block, self.chain, txs, self._build_options(old.header.timestamp),
                    exempt=self.is_impersonated_tx))
        except BaseException:
            self.set_head(original)  # all or nothing: the old blocks are still known
            raise
        else:
            self._drop_snapshots_above(ancestor.number)
            for tx, sidecar in sidecars:
                self._keep_sidecar(tx.hash, tx, sidecar)
        finally:
            self._return_to_pool(pool)  # the pool outlives the reorg, less what is now mined

    def _drop_snapshots_above(self, number: int) -> None:
        """Forget the snapshots taken on blocks above `number` (dropped by a rollback or a
        reorg): reverting to one would bring back blocks whose states, in a data dir kept
        as changes against their parents, no longer follow from the ancestor's state once
        it is edited in place."""
        for sid, snap in list(self.snapshots.items()):
            block = self.chain.get_block(snap.head_hash)
            if block is None or block.number > number:
                del self.snapshots[sid]

    def _ancestor(self, depth: int, what: str) -> StoredBlock:
        head = self.head
        if depth > head.number:
            raise NodeError(f"{what} depth {depth} is more than the chain's {head.number} "
                            "blocks", -32602)
        ancestor = self.chain.get_block_by_number(head.number - depth)
        if ancestor is None:  # forked: the blocks before the fork block are the remote's
            raise NodeError(f"{what} depth {depth} reaches below the fork block", -32602)
        return ancestor

    def set_head(self, stored: StoredBlock) -> None:
        """Make a block of the chain the head, with its state (rollback, reorg)."""
        if stored.hash != self.head.hash:
            self.chain.set_head(stored.hash)
            self._pending = None
            self._after_head_change()

    def undo_head(self, parent_hash: bytes) -> None:
        """Make the head's parent the head again (the block stays known, off the canonical
        chain): a failed transaction of the test API leaves no block behind."""
        if self.chain.head.header.parent_hash != parent_hash:
            raise NodeError("the head is not a child of that block")
        self.chain.set_head(parent_hash)
        self._after_head_change()

    def _after_head_change(self) -> None:
        head = self.chain.head
        fork = self.config.fork_at(head.number + 1, head.header.timestamp + 1,
                                   head.total_difficulty)
        self.pool.reset(head.state, self.next_base_fee(), fork)

    # -- transactions -----------------------------------------------------------------------

    def add_transaction(self, tx: SignedTransaction, sidecar: BlobSidecar | None = None
                        ) -> bytes:
        """Put a signed transaction in the pool (mined at once with automine); a blob
        transaction comes with its sidecar, which the pool verifies."""
        if self._next_timestamp(consume=False) >> 64:
            # The head is at 2^64-1 seconds (or the clock was moved there): no block can
            # hold it, and a hash for a transaction that is never mined would mislead.
            raise NodeError("no block can be mined: the next block's timestamp would be "
                            "past 2^64-1", -32000)
        try:
            tx_hash = self.pool.add(tx, sidecar)
        except (PoolError, InvalidTransaction) as exc:
            raise NodeError(str(exc), -32000) from None
        if sidecar is not None:
            self._keep_sidecar(tx_hash, tx, sidecar)
        for listener in list(self.pool_listeners):
            listener(tx)
        if self.automine:
            try:
                self._mine_one()
            except NodeError:  # no block can be mined (a chain at 2^64-1 seconds, say):
                self.pool.remove(tx_hash)  # the send failed, so nothing of it is kept
                raise
            reason = self.rejected.pop(tx_hash, None)
            if reason is not None:
                raise NodeError(f"transaction rejected: {reason}")
        return tx_hash

    def add_raw_transaction(self, raw: bytes) -> bytes:
        """A signed transaction's network bytes: a blob transaction in its pooled form,
        wrapped with its sidecar (EIP-4844's, or EIP-7594's cell proofs from Osaka)."""
        tx, sidecar = self._decode_raw(raw)
        if tx.encode() == raw:
            # Its encoding is known: kept (the pool, the block's root and the index all
            # need it; each would encode it again).
            tx.__class__ = DevTransaction
            tx.__dict__["_encoding"] = ((tx.v, tx.r, tx.s), raw)
        return self.add_transaction(tx, sidecar)

    @staticmethod
    def _decode_raw(raw: bytes) -> tuple[SignedTransaction, BlobSidecar | None]:
        from chainvm.chain.transactions import TxDecodeError

        try:
            return decode_pooled(raw)
        except TxDecodeError as exc:
            raise NodeError(f"invalid transaction: {exc}", -32602) from None

    def _keep_sidecar(self, tx_hash: bytes, tx: SignedTransaction, sidecar: BlobSidecar
                      ) -> None:
        if tx_hash in self.sidecars:
            return
        self.sidecars[tx_hash] = sidecar
        for versioned in tx.blob_versioned_hashes:
            self.blob_carriers.setdefault(versioned, []).append(tx_hash)

    def _return_to_pool(self, txs: list[SignedTransaction]) -> None:
        """Put transactions back in the pool after the head moved (a revert, a reorg), each
        blob transaction with its sidecar; one no longer valid there is dropped."""
        for tx in txs:
            try:
                self.pool.add(tx, self.sidecars.get(tx.hash) if tx.tx_type == 3 else None)
            except (PoolError, InvalidTransaction):
                pass

    def mined_blobs(self, tx_hash: bytes) -> list[bytes] | None:
        """anvil_getBlobsByTransactionHash: the blobs of a blob transaction of the canonical
        chain (None for any other transaction, or one not mined)."""
        sidecar = self.sidecars.get(tx_hash)
        if sidecar is None or self.chain.get_transaction(tx_hash) is None:
            return None
        return sidecar.blobs

    def mined_blob(self, versioned_hash: bytes) -> bytes | None:
        """anvil_getBlobByHash: the blob with that versioned hash, carried by a transaction
        of the canonical chain (None if none did)."""
        for tx_hash in self.blob_carriers.get(versioned_hash, ()):
            found = self.chain.get_transaction(tx_hash)
            if found is not None:
                return self.sidecars[tx_hash].blobs[
                    found[0].blob_versioned_hashes.index(versioned_hash)]
        return None

    def fill(self, req: CallArgs, pending: tuple[BlockEnv, Any] | None = None
             ) -> SignedTransaction:
        """Build the transaction eth_sendTransaction means: fill type, nonce, fees and gas.
        `pending`: `pending_env()`, when the caller has it already."""
        sender = req.sender
        if sender is None:
            raise NodeError("missing from", -32602)
        nonce = req.nonce if req.nonce is not None else self.pending_nonce(sender)
        env, fork = pending if pending is not None else self.pending_env()
        london = fork.rules.eip1559
        tx_type = req.tx_type
        if tx_type is None and req.authorization_list:
            tx_type = 4
        if tx_type is None:
            if req.gas_price is not None or not london:
                tx_type = 1 if req.access_list or req.access_list_given else 0
            else:
                tx_type = 2
        # What this node can fill and the fork admits (a blob transaction needs its blobs,
        # which eth_sendTransaction does not carry): geth's answer otherwise.
        fillable = {0: True, 1: fork.rules.eip2930, 2: london, 4: fork.rules.eip7702}
        if not fillable.get(tx_type, False):
            raise NodeError("transaction type not supported", -32000)
        base = env.base_fee
        # Before Spurious Dragon (EIP-155) legacy transactions carry no chain id.
        replay_protected = fork.rules.eip155
        tx = DevTransaction(tx_type, nonce=nonce, gas_limit=0, to=req.to, value=req.value,
                               data=req.data, v=0, r=0, s=0,
                               chain_id=self.chain_id if replay_protected else None,
                               access_list=list(req.access_list),
                               authorization_list=list(req.authorization_list))
        if tx_type < 2:
            tx.gas_price = req.gas_price if req.gas_price is not None else self.gas_price(base)
        else:
            tip = req.max_priority_fee_per_gas
            if tip is None:
                tip = DEFAULT_TIP if req.max_fee_per_gas is None else min(
                    DEFAULT_TIP, req.max_fee_per_gas)
            tx.max_priority_fee_per_gas = tip
            tx.max_fee_per_gas = req.max_fee_per_gas if req.max_fee_per_gas is not None \
                else min(2 * base + tip, MAX_FEE)
        if req.gas is not None:
            tx.gas_limit = req.gas
        else:
            est = CallArgs(**{**req.__dict__, "nonce": nonce})
            tx.gas_limit = self.estimate_gas(est)
        return tx

    def sign_and_add(self, tx: SignedTransaction, sender: bytes, unsigned: bool = False
                     ) -> bytes:
        """Sign `tx` with the sender's dev key and add it to the pool; an impersonated
        sender's (or any sender's, `unsigned`: eth_sendUnsignedTransaction) gets a
        placeholder signature instead."""
        return self.add_transaction(self._signed(tx, sender, unsigned))

    def _signed(self, tx: SignedTransaction, sender: bytes, unsigned: bool = False
                ) -> SignedTransaction:
        """`tx` signed as `sign_and_add` signs it."""
        key = self.keys.get(sender)
        if key is not None and sender not in self.impersonated and not unsigned:
            self._sign(tx, key)
            tx._sender = sender  # the key's address: no need to recover it
            tx._sender_known = True
        elif unsigned or self.can_send_as(sender):
            # A placeholder signature unique to the sender; the sender is set, not recovered.
            if tx.tx_type:
                tx.v = 0
            else:
                tx.v = 27 if tx.chain_id is None else 35 + 2 * self.chain_id
            tx.r = int.from_bytes(sender, "big") + 1
            tx.s = 1
            tx._sender = sender
            tx._sender_known = True
            self._impersonated_txs[tx.hash] = sender
            if self._senders_file is not None:
                with self._senders_file.open("a") as out:
                    out.write(f"{tx.hash.hex()} {sender.hex()}\n")
        else:
            raise _unknown_sender(sender)
        return tx

    def can_send_as(self, sender: bytes) -> bool:
        """Whether eth_sendTransaction may send from `sender`: a dev key's account, an
        impersonated one, or any while anvil_autoImpersonateAccount is on."""
        return sender in self.keys or sender in self.impersonated or self.auto_impersonate

    def _sign(self, tx: SignedTransaction, secret: bytes) -> None:
        """`tx.sign(secret)` with the key object kept between transactions."""
        key = self._key_objects.get(secret)
        if key is None:
            key = self._key_objects[secret] = PrivateKey(secret)
        sig = key.sign_recoverable(tx.signing_hash(), hasher=None)
        rid = sig[64]
        if tx.tx_type == 0:
            tx.v = 27 + rid if tx.chain_id is None else 35 + 2 * tx.chain_id + rid
        else:
            tx.v = rid
        tx.r = int.from_bytes(sig[:32], "big")
        tx.s = int.from_bytes(sig[32:64], "big")

    def pending_nonce(self, sender: bytes) -> int:
        """The nonce of the sender's next transaction: the state's, past the run of the
        sender's pooled transactions that follow it without a gap (as geth counts)."""
        nonce = self.state().nonce(sender)
        pooled = self.pool.by_sender.get(sender, {})
        while nonce in pooled:
            nonce += 1
        return nonce

    def send_transaction(self, req: CallArgs,
                         pending: tuple[BlockEnv, Any] | None = None,
                         unsigned: bool = False) -> bytes:
        tx = self.fill(req, pending)
        assert req.sender is not None
        return self.sign_and_add(tx, req.sender, unsigned)

    def sign_transaction(self, req: CallArgs) -> bytes:
        """eth_signTransaction: the transaction eth_sendTransaction would send, filled and
        signed with the sender's dev key, encoded; nothing is sent."""
        assert req.sender is not None
        key = self.keys.get(req.sender)
        if key is None:
            raise NodeError(f"unknown account 0x{req.sender.hex()} (no dev key to sign with)",
                            -32000)
        tx = self.fill(req)
        self._sign(tx, key)
        return tx.encode()

    def is_impersonated_tx(self, tx: SignedTransaction) -> bool:
        return bool(self._impersonated_txs) and tx.hash in self._impersonated_txs

    def sender_of(self, tx: SignedTransaction) -> bytes:
        sender = (self._impersonated_txs.get(tx.hash) if self._impersonated_txs else None) \
            or tx.sender()
        return sender if sender is not None else bytes(20)

    # -- calls --------------------------------------------------------------------------------

    def execute(self, req: CallArgs, state: State | None = None,
                env: BlockEnv | None = None, fork: Any = None,
                tracer: Tracer | None = None, commit: bool = False) -> TxResult:
        """Run a call on a copy of the head state (or `state`); nothing is kept."""
        if self.remote is not None and not self.remote.speculating and not commit:
            # Forked: read what the call touches in a few batches (a traced call after an
            # untraced run that fetched it: the tracer sees one execution).
            remote = self.remote
            if tracer is None:
                return remote.speculate(lambda: self.execute(req, state, env, fork))
            from chainvm.node.forking import RemoteError

            try:
                remote.speculate(lambda: self.execute(req, state, env, fork))
            except RemoteError:
                raise
            except NodeError:
                pass  # the traced run below reports it
        if env is None or fork is None:
            env, fork = self.pending_env()
        work = (state if commit and state is not None else
                (state or self.state()).copy())
        sender = req.sender or bytes(20)
        code = work.code(sender)
        if code and not is_delegation(code):
            work.set_code(sender, b"")  # calls from a contract address (geth allows them)
        priced = req.gas_price is not None or req.max_fee_per_gas is not None
        call_env = env
        if not priced:
            call_env = BlockEnv(**{**env.__dict__, "base_fee": 0})
        gas = req.gas if req.gas is not None else env.gas_limit
        if fork.rules.eip7825:
            gas = min(gas, TX_MAX_GAS_LIMIT)
        tx = _call_transaction(req, sender, work.nonce(sender), gas, fork)
        try:
            return apply_transaction(work, fork, call_env, tx, tracer)
        except InvalidTransaction as exc:
            raise NodeError(str(exc), -32000) from None

    def call_in_place(self, sender: bytes, to: bytes, data: bytes,
                      env: BlockEnv | None = None, fork: Any = None,
                      gas: int | None = None) -> bytes:
        """A zero-value call at gas price 0 on the head state itself, undone through the
        state's journal (no copy of the state). The output, or RevertError."""
        if self.remote is not None and not self.remote.speculating:
            remote = self.remote  # forked: read what the call touches in a few batches
            return remote.speculate(
                lambda: self.call_in_place(sender, to, data, env, fork, gas))
        if env is None or fork is None:
            env, fork = self.pending_env()
        state = self.state()
        if gas is None:
            gas = env.gas_limit
        if fork.rules.eip7825:
            gas = min(gas, TX_MAX_GAS_LIMIT)
        gas -= intrinsic_gas(Transaction(sender=sender, to=to, data=data), fork)
        if gas < 0:
            raise NodeError("intrinsic gas too low", -32000)
        state.begin_transaction()
        snap = state.snapshot()
        try:
            evm = new_evm(state, fork, env, sender)
            prewarm(evm, (sender, to, env.coinbase))
            result = execute_message(evm, Message(CALL, sender, to, 0, data, gas))
        finally:
            state.revert(snap)
            state.begin_transaction()
        if result.success:
            return result.output
        if result.reverted:
            raise RevertError(result.output, revert_message(result.output))
        raise NodeError(f"execution failed: {result.error}", -32000)

    def call(self, req: CallArgs, state: State | None = None, env: BlockEnv | None = None,
             fork: Any = None) -> bytes:
        """eth_call (on the head state with the pending block's context, or on `state` with
        `env` and `fork`): the output, or RevertError."""
        if self.remote is not None and not self.remote.speculating:
            remote = self.remote  # forked: read what the call touches in a few batches
            return remote.speculate(lambda: self.call(req, state, env, fork))
        if state is None and req.to is not None and req.value == 0 and not req.access_list \
                and req.gas_price is None and req.max_fee_per_gas is None:
            code = self.state().code(req.sender or bytes(20))
            if not code or is_delegation(code):
                if env is None or fork is None:
                    env, fork = self.pending_env()
                return self.call_in_place(req.sender or bytes(20), req.to, req.data, env,
                                          fork, req.gas)
        result = self.execute(req, state, env, fork)
        if not result.success:
            if result.error == "execution reverted":
                raise RevertError(result.output, revert_message(result.output))
            raise NodeError(result.error or "execution failed", -32000)
        return result.output

    def estimate_gas(self, req: CallArgs, state: State | None = None,
                     env: BlockEnv | None = None, fork: Any = None) -> int:
        """The least gas `req` succeeds with, on the head state with the pending block's
        environment, or on `state` with `env` and `fork`."""
        if self.remote is not None and not self.remote.speculating:
            remote = self.remote  # forked: read what the call touches in a few batches
            return remote.speculate(lambda: self.estimate_gas(req, state, env, fork))
        if env is None or fork is None:
            env, fork = self.pending_env()
        # (a gas below any transaction's 21,000 is ignored, as geth's estimator ignores it)
        cap = req.gas if req.gas is not None and req.gas >= G_TRANSACTION else env.gas_limit
        if fork.rules.eip7825:
            cap = min(cap, TX_MAX_GAS_LIMIT)
        probe = CallArgs(**{**req.__dict__, "gas": cap})
        result = self.execute(probe, state, env=env, fork=fork)
        if not result.success:
            if result.error == "execution reverted":
                raise RevertError(result.output, revert_message(result.output))
            raise NodeError(f"gas required exceeds allowance ({cap}) or always failing "
                            f"transaction: {result.error}", -32000)
        lo = result.gas_used - 1
        hi = cap
        # Most transactions (a plain transfer: 21000) succeed with exactly the gas they
        # used; the search below is for those that need more up front (the 63/64 rule,
        # refunds, stipends).
        if result.gas_used <= cap and self._succeeds(req, result.gas_used, state, env, fork):
            return result.gas_used

        def ok(gas: int) -> bool:
            try:
                return self.execute(CallArgs(**{**req.__dict__, "gas": gas}), state,
                                    env=env, fork=fork).success
            except NodeError:
                return False

        optimistic = (result.gas_used + 2300) * 64 // 63
        if optimistic < hi and ok(optimistic):
            hi = optimistic
        while hi - lo > 1 and (hi - lo) * 1000 > hi * 15:  # within 1.5%, as geth
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid
        return hi

    def call_intrinsic_gas(self, req: CallArgs, fork: Fork) -> int:
        """The intrinsic gas of the transaction a call runs as (trace_call's top message
        leaves it out, as parity counts)."""
        return intrinsic_gas(_call_transaction(req, req.sender or bytes(20), 0, req.gas or 0,
                                               fork), fork)

    def _succeeds(self, req: CallArgs, gas: int, state: State | None, env: BlockEnv,
                  fork: Any) -> bool:
        try:
            return self.execute(CallArgs(**{**req.__dict__, "gas": gas}), state, env=env,
                                fork=fork).success
        except NodeError:
            return False

    # -- state manipulation (test extras) ------------------------------------------------------

    def set_balance(self, address: bytes, value: int) -> None:
        self.state().set_balance(address, value)
        self._after_state_edit()

    def set_nonce(self, address: bytes, nonce: int) -> None:
        self.state().set_nonce(address, nonce)
        self._after_state_edit()

    def set_code(self, address: bytes, code: bytes) -> None:
        self.state().set_code(address, code)
        self._after_state_edit()

    def deal_erc20(self, holder: bytes, token: bytes, amount: int) -> None:
        """Set `holder`'s balance of an ERC-20 token (anvil_dealERC20, forge-std's `deal`)."""
        call = keccak256(b"balanceOf(address)")[:4] + bytes(12) + holder
        self.set_erc20_word(token, call, amount, "balance")

    def set_erc20_allowance(self, owner: bytes, spender: bytes, token: bytes,
                            amount: int) -> None:
        """Set what `spender` may move of `owner`'s tokens (anvil_setERC20Allowance)."""
        call = (keccak256(b"allowance(address,address)")[:4] + bytes(12) + owner + bytes(12)
                + spender)
        self.set_erc20_word(token, call, amount, "allowance")

    def set_erc20_word(self, token: bytes, call: bytes, amount: int, what: str) -> None:
        """Write `amount` where the token keeps what the view `call` answers (balanceOf,
        allowance), as anvil_dealERC20 and forge-std's `deal` find it: each slot the view
        reads is tried in a copy of the state, and the first one that makes the view answer
        `amount` is written."""
        from chainvm.node.tracing import StorageReadTracer

        reads = StorageReadTracer()
        view = CallArgs(to=token, data=call)
        first = self.execute(view, tracer=reads)
        if not first.success or len(first.output) != 32:
            raise NodeError(f"Unable to set ERC20 {what}: the token's view call failed")
        for address, slot in dict.fromkeys(reads.reads):
            if address != token:
                continue
            trial = self.state().copy()
            trial.set_storage(token, slot, amount)
            result = self.execute(view, trial)
            if result.success and int.from_bytes(result.output, "big") == amount:
                self.set_storage(token, slot, amount)
                return
        raise NodeError(f"Unable to set ERC20 {what}, no slot found")

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        self.state().set_storage(address, slot, value)
        self._after_state_edit()

    def _after_state_edit(self) -> None:
        # The edits apply to the head's post state in place (as anvil does); the next block
        # commits them, and a --datadir store keeps them at once. Clear the journal so no
        # later revert undoes them.
        self.state().begin_transaction()
        self.chain.save_head_state()
        self._after_head_change()

    def impersonate(self, address: bytes) -> None:
        self.impersonated.add(address)

    def fork_of(self, stored: StoredBlock) -> Fork:
        """The fork to run code on `stored` with (a call at it, a replay of it): its own,
        with the signatures anvil_impersonateSignature has set since."""
        hook = self.config.fork_variant
        return stored.fork if hook is None else hook(stored.fork)

    def impersonate_signature(self, signature: bytes, address: bytes) -> None:
        """anvil_impersonateSignature: `signature` (r, s and v, 65 bytes) recovers to
        `address` in ECRECOVER, and names the authority of an EIP-7702 authorization
        whose signature does not recover, in every later block, call, estimate and trace
        (Fork.with_signature_overrides, through the configuration's fork hook)."""
        self.signature_overrides[signature] = address
        if self.config.fork_variant is None:
            overrides = self.signature_overrides
            variants: dict[Fork, Fork] = {}  # by identity: forks compare by identity

            def with_overrides(fork: Fork) -> Fork:
                variant = variants.get(fork)
                if variant is None:
                    variant = variants[fork] = fork.with_signature_overrides(overrides)
                return variant

            self.config.fork_variant = with_overrides
        self._pending = None  # built without the override

    def stop_impersonating(self, address: bytes) -> None:
        self.impersonated.discard(address)

    def increase_time(self, seconds: int) -> int:
        """Move the clock on: the next block is at least `seconds` after the head (blocks
        mined faster than one a second run ahead of the wall clock)."""
        now = int(time.time())
        offset = max(self.time_offset, self.chain.head.header.timestamp - now) + seconds
        if (now + offset) >> 64:  # increases add up: checked on the clock as moved
            raise NodeError("seconds: blocks would be stamped past 2^64-1", -32602)
        self.time_offset = offset
        return offset

    def _genesis_clock_offset(self) -> int:
        """The clock's offset on a new (or reset) chain: with a genesis timestamp given
        (`--timestamp`), the clock starts there and later blocks follow it, as anvil's do;
        otherwise the wall clock. (A reopened data dir keeps its own blocks' times.)"""
        start = self._init_args["timestamp"]
        if start is None or self.remote is not None or self.reopened:
            return 0
        return start - int(time.time())

    def set_timestamp_interval(self, seconds: int) -> None:
        """anvil_setBlockTimestampInterval: each new block `seconds` after its parent. An
        interval that would stamp the next block past 2^64-1 is refused now, as increases
        of the clock are, rather than leaving every later block unminable."""
        if seconds < 1:
            raise NodeError("the interval must be at least 1 second, as block timestamps "
                            "increase", -32602)
        if (self.chain.head.header.timestamp + seconds) >> 64:
            raise NodeError("seconds: blocks would be stamped past 2^64-1", -32602)
        self.timestamp_interval = seconds

    def set_time(self, timestamp: int) -> int:
        """Set the clock: later blocks are stamped from `timestamp` on (still after their
        parents). The clock's move in seconds, as anvil_setTime answers it."""
        if timestamp >> 64:
            raise NodeError("timestamp: blocks would be stamped past 2^64-1", -32602)
        now = int(time.time())
        moved = timestamp - (now + self.time_offset)
        self.time_offset = timestamp - now
        return moved

    def set_next_timestamp(self, timestamp: int) -> None:
        if timestamp <= self.chain.head.header.timestamp:
            raise NodeError(f"timestamp {timestamp} not after the head's "
                            f"{self.chain.head.header.timestamp}", -32602)
        self.next_timestamp = timestamp
        self.time_offset = timestamp - int(time.time())

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot(self) -> int:
        sid = self._next_snapshot
        self._next_snapshot += 1
        self.snapshots[sid] = Snapshot(self.chain.head_hash, self.state().copy(),
                                       self.time_offset, self.next_timestamp,
                                       [e.tx for e in self.pool.by_hash.values()])
        return sid

    def revert(self, sid: int) -> bool:
        snap = self.snapshots.get(sid)
        if snap is None:
            return False
        for later in [k for k in self.snapshots if k >= sid]:
            del self.snapshots[later]
        self.chain.set_head(snap.head_hash)
        self.chain.head.state = snap.state.copy()
        self.chain.save_head_state()
        self.time_offset = snap.time_offset
        self.next_timestamp = snap.next_timestamp
        self.pool.clear()
        self._after_head_change()
        self._return_to_pool(snap.pool)
        return True

    def reset(self, fork_url: str | None = None, fork_block: int | None = None) -> None:
        """Back to the genesis block and state: later blocks, the pool, the clock's offset,
        the block timestamp interval and every snapshot are dropped. With `fork_url`, a
        new chain forked from that remote at `fork_block` (its latest when None); a forked
        chain without it becomes a new local chain."""
        if fork_url is not None or self.remote is not None:
            fresh = DevChain(**self._init_args, fork_url=fork_url, fork_block=fork_block)
            listeners, pool_listeners = self.listeners, self.pool_listeners
            self.close()
            self.__dict__.update(fresh.__dict__)
            self.listeners, self.pool_listeners = listeners, pool_listeners
            return
        genesis = self.chain.get_block_by_number(0)
        assert genesis is not None and self._genesis_state is not None
        self.next_block_base_fee = self.block_gas_limit = self.min_gas_price = None
        self.next_prev_randao = None
        self.timestamp_interval = self.next_timestamp = None
        self.pool.config.block_gas_limit = genesis.header.gas_limit
        self.snapshots[0] = Snapshot(genesis.hash, self._genesis_state.copy(),
                                     self._genesis_clock_offset(), None, [])
        self.revert(0)
        self.snapshots.clear()
        self.sidecars.clear()
        self.blob_carriers.clear()
        self.instance_id = secrets.token_bytes(32)

    # -- state dumps (anvil_dumpState / anvil_loadState, --dump-state / --load-state) --------

    def dump_state(self) -> dict[str, Any]:
        """The head state as JSON (every account: nonce, balance, code, storage) with the
        head block's number and time."""
        head = self.head
        accounts: dict[str, Any] = {}
        for address, account in sorted(self.state().accounts.items()):
            accounts["0x" + address.hex()] = {
                "nonce": account.nonce, "balance": hex(account.balance),
                "code": "0x" + bytes(account.code).hex(),
                "storage": {hex(k): hex(v) for k, v in sorted(account.storage.items()) if v},
            }
        return {"block": {"number": head.number, "timestamp": head.header.timestamp,
                          "hash": "0x" + head.hash.hex()},
                "accounts": accounts}

    def load_state(self, dump: Any) -> None:
        """Write a `dump_state` dump's accounts over the head state (as anvil merges a
        loaded state into the running one; each dumped account gets exactly the dumped
        storage). NodeError for a malformed dump."""
        if not isinstance(dump, dict) or not isinstance(dump.get("accounts"), dict):
            raise NodeError("state dump: expected an object with accounts", -32602)
        # Every field is range-checked before anything is written: a negative balance or
        # a 2^64 nonce taken in would break every later block (and the pool) of the chain.
        parsed: list[tuple[bytes, int, int, bytes, dict[int, int]]] = []
        try:
            for key, entry in dump["accounts"].items():
                what = f"account {short(key, 46)}"
                address = parse_address(key, what)
                fields = expect_object(entry, what)
                storage = {parse_quantity(k, f"{what}: storage key", 256):
                           parse_quantity(v, f"{what}: storage value", 256)
                           for k, v in expect_object(fields.get("storage", {}),
                                                     f"{what}: storage").items()}
                parsed.append((address,
                               parse_quantity(fields.get("nonce", 0), f"{what}: nonce", 64),
                               parse_quantity(fields.get("balance", 0), f"{what}: balance", 256),
                               parse_data(fields.get("code", "0x"), f"{what}: code"),
                               storage))
        except InputError as exc:
            raise NodeError(f"state dump: {exc}", -32602) from None
        state = self.state()
        for address, nonce, balance, code, storage in parsed:  # checked first: all or none
            state.set_nonce(address, nonce)
            state.set_balance(address, balance)
            state.set_code(address, code)
            # The account's storage becomes the dump's: slots set since are cleared.
            account = state.get(address)
            for slot in list(account.storage) if account is not None else []:
                if slot not in storage:
                    state.set_storage(address, slot, 0)
            for slot, value in storage.items():
                state.set_storage(address, slot, value)
        self._after_state_edit()

    # -- lookups --------------------------------------------------------------------------------

    def receipt_details(self, stored: StoredBlock, index: int) -> dict[str, Any]:
        """What a receipt needs beyond the consensus receipt: gas used, contract address,
        first log index."""
        receipts: list[Receipt] = stored.receipts
        prev = receipts[index - 1].cumulative_gas_used if index else 0
        first_log = sum(len(r.logs) for r in receipts[:index])
        tx = stored.block.transactions[index]
        sender = self.sender_of(tx)
        contract = create_address(sender, tx.nonce) if tx.to is None else None
        return {"gas_used": receipts[index].cumulative_gas_used - prev,
                "contract_address": contract, "first_log": first_log, "sender": sender}

    def replay(self, stored: StoredBlock, index: int, tracer: Tracer | None,
               states: list[State] | None = None) -> TxResult:
        """Re-execute transaction `index` of a block on its parent state, tracing it.
        `states`, when given, receives copies of the state just before and just after it."""
        parent = self.chain.get_block(stored.header.parent_hash)
        if parent is None:
            raise NodeError("parent state not available")
        block = stored.block
        for tx in block.transactions[:index + 1]:
            if self.is_impersonated_tx(tx):  # placeholder signatures: the sender is set
                tx._sender = self.sender_of(tx)
                tx._sender_known = True

        work = parent.state.copy()

        @contextlib.contextmanager
        def trace_one(i: int, _tx: SignedTransaction) -> Iterator[tuple[Tracer | None,
                                                                          Callable[[], None]]]:
            if states is not None and i == index:
                states.append(work.copy())
            yield (tracer if i == index else None), lambda: None
            if states is not None and i == index:
                states.append(work.copy())

        body = apply_body(self.config_for(stored), self.fork_of(stored),
                          self.block_env(stored, replay=True),
                          work, block.transactions[:index + 1],
                          stored.header.parent_hash, exempt=self.is_impersonated_tx,
                          trace=trace_one)
        return body.results[index]

