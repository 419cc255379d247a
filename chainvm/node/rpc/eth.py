"""eth_ (and personal_sign): chain, state, blocks, transactions, calls and signing.
Logs and filters are in `logs`."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, ClassVar

from chainvm.chain.block import Block
from chainvm.chain.chain import StoredBlock
from chainvm.chain.transactions import SignedTransaction
from chainvm.crypto import keccak256, sign_hash
from chainvm.evm.env import BlockEnv
from chainvm.evm.forks import Fork
from chainvm.evm.transaction import blob_base_fee
from chainvm.evm.vm import create_address
from chainvm.node.devchain import (
    DEFAULT_TIP,
    NodeError,
    RevertError,
    revert_message,
)
from chainvm.node.rpc.base import Namespace, bounded, immediate, quick
from chainvm.node.rpc.format import d, format_block, format_receipt, format_tx, q
from chainvm.node.rpc.params import (
    LATEST,
    PENDING,
    Address,
    BlockRef,
    Bool,
    CallObject,
    Data,
    Decoder,
    Hash,
    InvalidParams,
    Number,
    Object,
    Quantity,
    Raw,
    Slot,
    parse_address,
    parse_data,
    parse_hash,
    parse_object,
    parse_quantity,
    parse_slot,
)
from chainvm.state.state import State

MAX_FEE_HISTORY_BLOCKS = 1024


def _parse_slots(v: Any, what: str) -> list[tuple[int, bool]]:
    """Storage keys of eth_getProof: each slot, and whether it was given as a 32-byte word
    (geth answers such a key in the same form, any other as a quantity)."""
    if not isinstance(v, list):
        raise InvalidParams(f"{what}: expected an array of storage slots")
    return [(parse_slot(s, f"{what}[{i}]"), len(s) == 66) for i, s in enumerate(v)]


# eth_createAccessList runs the call until its list stops changing (geth has no bound;
# two or three runs are usual: the list warms what it names, which changes no path)
ACCESS_LIST_ROUNDS = 8


def _access_list(start: dict[bytes, set[int]], touched: list[tuple[bytes, set[int]]],
                 exclude: set[bytes]) -> dict[bytes, set[int]]:
    """`start` with `touched` added as geth's access-list tracer adds it: every storage
    slot (its address with it), and the other addresses unless excluded."""
    out = {a: set(keys) for a, keys in start.items()}
    for address, keys in touched:
        if keys:
            out.setdefault(address, set()).update(keys)
        elif address not in exclude:
            out.setdefault(address, set())
    return out


def _tx_at(stored: StoredBlock | None, index: int) -> SignedTransaction | None:
    """Transaction `index` of a block (None without the block or past its end)."""
    if stored is None or index >= len(stored.block.transactions):
        return None
    return stored.block.transactions[index]


def _parse_percentiles(v: Any, what: str) -> list[float]:
    """Reward percentiles: numbers from 0 to 100, each at least the one before."""
    if not isinstance(v, list):
        raise InvalidParams(f"{what}: expected an array of numbers")
    out: list[float] = []
    for i, p in enumerate(v):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 100:
            raise InvalidParams(f"{what}[{i}]: expected a number from 0 to 100, got {p!r}")
        if out and p < out[-1]:
            raise InvalidParams(f"{what}: values must not decrease ({out[-1]} then {p})")
        out.append(float(p))
    return out


Slots = Annotated[list[tuple[int, bool]], Decoder(_parse_slots)]
Percentiles = Annotated[list[float], Decoder(_parse_percentiles)]


# EIP-7966's wait for a sent transaction's receipt, in milliseconds: by default, and at most
# (a request that waits holds a connection, not the chain).
SYNC_TIMEOUT_MS = 2_000
MAX_SYNC_TIMEOUT_MS = 60_000
SYNC_TIMEOUT_CODE = 4
SYNC_METHODS = frozenset({"eth_sendRawTransactionSync", "eth_sendTransactionSync"})


def sync_wait_ms(timeout: int | None) -> int:
    return SYNC_TIMEOUT_MS if timeout is None else min(timeout, MAX_SYNC_TIMEOUT_MS)


class SyncTimeout(NodeError):
    """EIP-7966's error: sent, but no receipt within the wait (its data: the hash). The
    HTTP server first waits that long for a block to mine the transaction (a single
    request's; in a batch, or in process, the answer comes at once)."""

    def __init__(self, tx_hash: str, wait_ms: int) -> None:
        super().__init__("the transaction was added to the pool but was not mined within "
                         f"the {wait_ms} ms timeout", SYNC_TIMEOUT_CODE, tx_hash)


class EthApi(Namespace):
    prefixes = ("eth_", "personal_")
    aliases: ClassVar[dict[str, str]] = {"eth_requestAccounts": "eth_accounts"}

    # -- the node and the chain ------------------------------------------------------------

    @immediate
    def eth_chainId(self) -> str:
        return q(self.dev.chain_id)

    @immediate
    def eth_protocolVersion(self) -> str:
        return q(68)

    @immediate
    def eth_syncing(self) -> bool:
        return False

    @quick
    def eth_mining(self) -> bool:
        return self.dev.automine

    @immediate
    def eth_hashrate(self) -> str:
        return q(0)

    @quick
    def eth_coinbase(self) -> str:
        return d(self.dev.coinbase)

    @immediate
    def eth_accounts(self) -> list[str]:
        """The dev accounts, then the impersonated ones (anvil lists them: clients such as
        ethers' `getSigner(address)` look a sender up here)."""
        extra = sorted(a for a in self.dev.impersonated if a not in self.dev.keys)
        return [d(a) for a in [*self.dev.accounts, *extra]]

    @quick
    def eth_blockNumber(self) -> str:
        return q(self.dev.head.number)

    @quick
    def eth_gasPrice(self) -> str:
        return q(self.dev.gas_price())

    @quick
    def eth_maxPriorityFeePerGas(self) -> str:
        return q(DEFAULT_TIP)

    @quick
    def eth_blobBaseFee(self) -> str:
        return q(self.dev.blob_base_fee())

    def eth_feeHistory(self, count: Number, newest: BlockRef = LATEST,
                       percentiles: Percentiles | None = None) -> dict[str, Any]:
        n = max(1, min(count, MAX_FEE_HISTORY_BLOCKS))
        ref = LATEST if newest.tag == "pending" else newest
        remote = self.dev.remote
        if remote is not None and ref.hash is None and (newest_number := self.number(ref)) \
                <= remote.number:
            # forked, and the range ends at or before the fork block: the remote's blocks,
            # so the remote's answer (as anvil forwards it)
            return remote.fee_history(n, newest_number, percentiles)
        last = self.block(ref).number
        first = max(0, last - n + 1)
        if remote is not None:
            # the local chain starts at the fork block: fewer blocks, as geth gives when
            # older ones are not at hand
            first = max(first, remote.number)
        base_fees, ratios, rewards, blob_fees, blob_ratios = [], [], [], [], []
        for num in range(first, last + 1):
            stored = self.dev.chain.get_block_by_number(num)
            assert stored is not None
            h = stored.header
            base_fees.append(q(h.base_fee or 0))
            ratios.append(h.gas_used / h.gas_limit if h.gas_limit else 0.0)
            blob_fees.append(q(blob_base_fee(h.excess_blob_gas or 0, stored.fork)
                               if h.excess_blob_gas is not None else 0))
            max_blob = stored.fork.blob_max * 131072 if h.blob_gas_used is not None else 0
            blob_ratios.append((h.blob_gas_used or 0) / max_blob if max_blob else 0.0)
            if percentiles:  # (none asked, as `[]`: no reward field, as geth answers)
                tips = sorted(tx.effective_tip(h.base_fee or 0)
                              for tx in stored.block.transactions)
                rewards.append([q(tips[min(len(tips) - 1, int(len(tips) * p / 100))]
                                  if tips else 0) for p in percentiles])
        # ...and the fees of the block after the range: the next block's own when the
        # range ends before the head (they were the head's next fees only at the head)
        after = self.dev.chain.get_block_by_number(last + 1) \
            if last < self.dev.chain.head.number else None
        if after is None:
            base_fees.append(q(self.dev.next_base_fee()))
            blob_fees.append(q(self.dev.blob_base_fee()))
        else:
            h = after.header
            base_fees.append(q(h.base_fee or 0))
            blob_fees.append(q(blob_base_fee(h.excess_blob_gas or 0, after.fork)
                               if h.excess_blob_gas is not None else 0))
        out: dict[str, Any] = {"oldestBlock": q(first), "baseFeePerGas": base_fees,
                               "gasUsedRatio": ratios, "baseFeePerBlobGas": blob_fees,
                               "blobGasUsedRatio": blob_ratios}
        if percentiles:
            out["reward"] = rewards
        return out

    # -- state -------------------------------------------------------------------------------

    @quick
    def eth_getBalance(self, address: Address, block: BlockRef = LATEST) -> str:
        return q(self.state_at(block).balance(address))

    @quick
    def eth_getTransactionCount(self, address: Address, block: BlockRef = LATEST) -> str:
        if block.tag == "pending":
            return q(self.dev.pending_nonce(address))
        return q(self.state_at(block).nonce(address))

    @quick
    def eth_getCode(self, address: Address, block: BlockRef = LATEST) -> str:
        return d(self.state_at(block).code(address))

    @quick
    def eth_getStorageAt(self, address: Address, slot: Slot, block: BlockRef = LATEST) -> str:
        return f"0x{self.state_at(block).get_storage(address, slot):064x}"

    def eth_getProof(self, address: Address, slots: Slots, block: BlockRef = LATEST
                     ) -> dict[str, Any]:
        from chainvm.node.proof import account_proof

        proof = account_proof(self.state_at(block), address, [slot for slot, _ in slots])
        for entry, (slot, as_word) in zip(proof["storageProof"], slots, strict=True):
            if as_word:
                entry["key"] = f"0x{slot:064x}"
        return proof

    # -- blocks ------------------------------------------------------------------------------

    @quick
    def eth_getBlockByNumber(self, block: BlockRef, full: Bool = False
                             ) -> dict[str, Any] | None:
        remote = self.dev.remote
        if remote is not None and block.hash is None and not block.is_head:
            # A forked chain's blocks up to the fork block are the remote's, bodies and all.
            number = 0 if block.tag == "earliest" else block.number
            if number is not None and number <= remote.number:
                return remote.get_block(number, full)  # type: ignore[no-any-return]
        stored = self.maybe_block(block)
        return format_block(self.dev, stored, full) if stored else None

    @quick
    def eth_getBlockByHash(self, block_hash: Hash, full: Bool = False
                           ) -> dict[str, Any] | None:
        stored = self.dev.chain.get_canonical_block(block_hash)
        if stored is None and self.dev.remote is not None:  # forked: a block up to N?
            return self.dev.remote.historic(  # type: ignore[no-any-return]
                "eth_getBlockByHash", ["0x" + block_hash.hex(), full])
        return format_block(self.dev, stored, full) if stored else None

    @quick
    def eth_getBlockTransactionCountByNumber(self, block: BlockRef) -> str | None:
        stored = self.maybe_block(block)
        return q(len(stored.block.transactions)) if stored else None

    @quick
    def eth_getBlockTransactionCountByHash(self, block_hash: Hash) -> str | None:
        stored = self.dev.chain.get_canonical_block(block_hash)
        return q(len(stored.block.transactions)) if stored else None

    def eth_getUncleCountByBlockNumber(self, block: BlockRef) -> str:
        return q(len(self.block(block).block.uncles))

    def eth_getUncleCountByBlockHash(self, block_hash: Hash) -> str | None:
        stored = self.dev.chain.get_canonical_block(block_hash)
        return q(len(stored.block.uncles)) if stored else None

    def eth_getUncleByBlockNumberAndIndex(self, block: BlockRef, index: Quantity
                                          ) -> dict[str, Any] | None:
        stored = self.maybe_block(block)
        return self._uncle(stored, index) if stored is not None else None

    def eth_getUncleByBlockHashAndIndex(self, block_hash: Hash, index: Quantity
                                        ) -> dict[str, Any] | None:
        stored = self.dev.chain.get_canonical_block(block_hash)
        return self._uncle(stored, index) if stored is not None else None

    def _uncle(self, stored: StoredBlock, index: int) -> dict[str, Any] | None:
        """An uncle header as geth shows it: a block without a body (null if none)."""
        uncles = stored.block.uncles
        if index >= len(uncles):
            return None
        header = uncles[index]
        as_block = StoredBlock(Block(header, [], []), stored.total_difficulty, stored.state,
                               [], stored.fork)
        out = format_block(self.dev, as_block, False)
        out.pop("totalDifficulty", None)
        return out

    def eth_getBlockReceipts(self, block: BlockRef) -> list[dict[str, Any]] | None:
        stored = self.maybe_block(block)
        if stored is None:
            return None
        return [format_receipt(self.dev, stored, i) for i in range(len(stored.receipts))]

    # -- transactions -------------------------------------------------------------------------

    @quick
    def eth_getTransactionByHash(self, tx_hash: Hash) -> dict[str, Any] | None:
        found = self.dev.chain.get_transaction(tx_hash)
        if found is not None:
            tx, _receipt, stored, index = found
            return format_tx(self.dev, tx, stored, index)
        entry = self.dev.pool.by_hash.get(tx_hash)
        if entry is None and self.dev.remote is not None:  # forked: in a block up to N?
            return self.dev.remote.historic(  # type: ignore[no-any-return]
                "eth_getTransactionByHash", ["0x" + tx_hash.hex()])
        return format_tx(self.dev, entry.tx, None, None) if entry else None

    @quick
    def eth_getRawTransactionByHash(self, tx_hash: Hash) -> str | None:
        """The transaction's encoding (a typed one with its type byte), mined or pending."""
        found = self.dev.chain.get_transaction(tx_hash)
        if found is not None:
            return d(found[0].encode())
        entry = self.dev.pool.by_hash.get(tx_hash)
        return d(entry.tx.encode()) if entry is not None else None

    def eth_getRawTransactionByBlockNumberAndIndex(self, block: BlockRef, index: Quantity
                                                   ) -> str | None:
        tx = _tx_at(self.maybe_block(block), index)
        return d(tx.encode()) if tx is not None else None

    def eth_getRawTransactionByBlockHashAndIndex(self, block_hash: Hash, index: Quantity
                                                 ) -> str | None:
        tx = _tx_at(self.dev.chain.get_canonical_block(block_hash), index)
        return d(tx.encode()) if tx is not None else None

    @quick
    def eth_getAccount(self, address: Address, block: BlockRef = LATEST) -> dict[str, Any]:
        """geth's account summary: nonce, balance, storage root and code hash."""
        from chainvm.crypto import EMPTY_KECCAK
        from chainvm.state.state import storage_root
        from chainvm.state.trie import EMPTY_TRIE_ROOT

        state = self.state_at(block)
        acct = state.get(address)
        return {"nonce": q(acct.nonce if acct else 0), "balance": q(acct.balance if acct else 0),
                "storageRoot": d(storage_root(acct.storage) if acct else EMPTY_TRIE_ROOT),
                "codeHash": d(acct.code_hash if acct else EMPTY_KECCAK)}

    @quick
    def eth_getAccountInfo(self, address: Address, block: BlockRef = LATEST) -> dict[str, Any]:
        """anvil's account summary: balance, nonce and the code itself (an absent account
        has zeros and no code)."""
        state = self.state_at(block)
        acct = state.get(address)
        return {"balance": q(acct.balance if acct else 0), "nonce": q(acct.nonce if acct else 0),
                "code": d(state.code(address))}

    def eth_getTransactionByBlockNumberAndIndex(self, block: BlockRef, index: Quantity
                                                ) -> dict[str, Any] | None:
        stored = self.maybe_block(block)
        tx = _tx_at(stored, index)
        return format_tx(self.dev, tx, stored, index) if tx is not None else None

    def eth_getTransactionByBlockHashAndIndex(self, block_hash: Hash, index: Quantity
                                              ) -> dict[str, Any] | None:
        stored = self.dev.chain.get_canonical_block(block_hash)
        tx = _tx_at(stored, index)
        return format_tx(self.dev, tx, stored, index) if tx is not None else None

    @quick
    def eth_getTransactionReceipt(self, tx_hash: Hash) -> dict[str, Any] | None:
        found = self.dev.chain.get_transaction(tx_hash)
        if found is None:
            if self.dev.remote is not None and tx_hash not in self.dev.pool.by_hash:
                # Forked: a transaction in a remote block up to N?
                return self.dev.remote.historic(  # type: ignore[no-any-return]
                    "eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
            return None
        _tx, _receipt, stored, index = found
        return format_receipt(self.dev, stored, index)

    def eth_sendTransaction(self, tx: CallObject) -> str:
        if tx.sender is None:
            raise InvalidParams("invalid argument 0: transaction: missing from")
        return d(self.dev.send_transaction(self.check_chain_id(tx)))

    def eth_sendRawTransaction(self, raw: Data) -> str:
        return d(self.dev.add_raw_transaction(raw))

    def eth_sendRawTransactionSync(self, raw: Data, timeout: Number | None = None
                                   ) -> dict[str, Any]:
        """EIP-7966: send, and answer with the receipt. With automine the transaction is
        mined at once; otherwise the HTTP server waits for a block to mine it, up to
        `timeout` milliseconds (`SYNC_TIMEOUT_MS` by default, at most `MAX_SYNC_TIMEOUT_MS`),
        and then answers error 4 with the hash as its data."""
        return self._receipt_now(self.dev.add_raw_transaction(raw), timeout)

    def eth_sendTransactionSync(self, tx: CallObject, timeout: Number | None = None
                                ) -> dict[str, Any]:
        """eth_sendTransaction, answered as eth_sendRawTransactionSync answers (anvil's)."""
        if tx.sender is None:
            raise InvalidParams("invalid argument 0: transaction: missing from")
        return self._receipt_now(self.dev.send_transaction(self.check_chain_id(tx)), timeout)

    def _receipt_now(self, tx_hash: bytes, timeout: int | None) -> dict[str, Any]:
        receipt = self.eth_getTransactionReceipt(tx_hash)
        if receipt is None:
            raise SyncTimeout(d(tx_hash), sync_wait_ms(timeout))
        return receipt

    def eth_config(self) -> dict[str, Any]:
        """EIP-7910: the fork the next block runs under and the forks scheduled after it
        (see `forkconfig`)."""
        from chainvm.node.rpc.forkconfig import eth_config

        dev = self.dev
        env, fork = dev.pending_env()
        genesis = dev.chain.get_block_by_number(0)
        if genesis is not None:
            genesis_hash, genesis_time = genesis.hash, genesis.header.timestamp
        else:  # forked: block 0 is the remote's
            assert dev.chain.older_hash is not None
            genesis_hash, genesis_time = dev.chain.older_hash(0), 0
        return eth_config(dev.config, genesis_hash, genesis_time, fork, env.timestamp)

    def eth_fillTransaction(self, tx: CallObject) -> dict[str, Any]:
        """geth's: the transaction eth_sendTransaction would send, filled (type, nonce, fees,
        gas), unsigned: {"raw": its encoding with a zero signature, "tx": it as an object}.
        Without `from`, the first dev account's, as anvil fills it."""
        req = self.check_chain_id(tx)
        if req.sender is None:
            req = dataclasses.replace(req, sender=self.dev.accounts[0])
        filled = self.dev.fill(req)
        assert req.sender is not None
        filled._sender = req.sender
        filled._sender_known = True
        return {"raw": d(filled.encode()), "tx": format_tx(self.dev, filled, None, None)}

    def eth_getTransactionBySenderAndNonce(self, sender: Address, nonce: Number
                                           ) -> dict[str, Any] | None:
        """The sender's mined transaction with that nonce (anvil's and reth's)."""
        found = self.dev.find_by_sender_and_nonce(sender, nonce)
        if found is None:
            return None
        stored, index = found
        return format_tx(self.dev, stored.block.transactions[index], stored, index)

    def eth_signTransaction(self, tx: CallObject) -> str:
        """The raw transaction eth_sendTransaction would send (filled as it fills one),
        signed with the sender's dev key; nothing is sent (geth's and anvil's)."""
        if tx.sender is None:
            raise InvalidParams("invalid argument 0: transaction: missing from")
        return d(self.dev.sign_transaction(self.check_chain_id(tx)))

    def eth_sendUnsignedTransaction(self, tx: CallObject) -> str:
        """eth_sendTransaction from any sender, dev key or not, without a signature (anvil's;
        the transaction carries a placeholder signature, as an impersonated sender's)."""
        if tx.sender is None:
            raise InvalidParams("invalid argument 0: transaction: missing from")
        return d(self.dev.send_transaction(self.check_chain_id(tx), unsigned=True))

    # -- calls -------------------------------------------------------------------------------

    @bounded
    def eth_call(self, tx: CallObject, block: BlockRef = LATEST, overrides: Raw = None,
                 block_overrides: Raw = None) -> str:
        self.capped(self.check_chain_id(tx))
        state, env, fork = self.overridden_context(tx, block, overrides, block_overrides)
        if not self.options.evm_timeout:
            return d(self.dev.call(tx, state, env, fork))
        # Under a time limit the call may be stopped anywhere: it runs on a copy of the
        # state (not on the head state, undone afterwards, as DevChain.call may).
        result = self.dev.execute(tx, state, env, fork)
        if not result.success:
            if result.error == "execution reverted":
                raise RevertError(result.output, revert_message(result.output))
            raise NodeError(result.error or "execution failed", -32000)
        return d(result.output)

    @bounded
    def eth_estimateGas(self, tx: CallObject, block: BlockRef = PENDING, overrides: Raw = None,
                        block_overrides: Raw = None) -> str:
        # Without a block: the pending block, as anvil estimates (what a send will meet).
        args = self.capped(self.check_chain_id(tx))
        return q(self.dev.estimate_gas(args, *self.overridden_context(args, block, overrides,
                                                                      block_overrides)))

    @bounded
    def eth_createAccessList(self, tx: CallObject, block: BlockRef = LATEST) -> dict[str, Any]:
        """geth's method: run the call with the list found so far as its access list, and
        again with what that run touched, until the list stops changing; gasUsed is the
        last run's, the list applied."""
        from chainvm.node.tracing import AccessListTracer

        self.capped(self.check_chain_id(tx))
        state, env, fork = self.call_context(block)
        sender = tx.sender or bytes(20)
        nonce = (state or self.dev.state()).nonce(sender)
        # The sender, the target and the precompiles are warm anyway: they are listed only
        # for their storage slots, which a list does warm.
        exclude = {sender, tx.to or create_address(sender, nonce), *fork.precompiles}
        found = _access_list({}, [(a, {int.from_bytes(k, "big") for k in keys})
                                  for a, keys in tx.access_list], exclude)
        for _ in range(ACCESS_LIST_ROUNDS):
            listed = [(a, [k.to_bytes(32, "big") for k in sorted(keys)])
                      for a, keys in found.items()]
            tracer = AccessListTracer()
            result = self.dev.execute(dataclasses.replace(tx, access_list=listed), state, env,
                                      fork, tracer=tracer)
            touched = _access_list(found, list(tracer.accessed.items()), exclude)
            if touched == found:
                break
            found = touched
        entries = [{"address": d(a), "storageKeys": [f"0x{k:064x}" for k in sorted(keys)]}
                   for a, keys in found.items()]
        out: dict[str, Any] = {"accessList": entries, "gasUsed": q(result.gas_used)}
        if not result.success:
            out["error"] = result.error
        return out

    # -- signing -----------------------------------------------------------------------------

    def eth_sign(self, address: Address, message: Data) -> str:
        key = self.dev.keys.get(address)
        if key is None:
            raise NodeError("unknown account", -32000)
        digest = keccak256(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode()
                           + message)
        rid, r, s = sign_hash(digest, key)
        return d(r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + rid]))

    def personal_sign(self, message: Data, address: Address) -> str:
        return self.eth_sign(address, message)

    def eth_signTypedData_v4(self, address: Address, typed_data: Raw) -> str:
        """EIP-712: sign the typed data's digest with a dev account's key (r || s || v)."""
        from chainvm.node.typed_data import TypedDataError, typed_data_digest

        key = self.dev.keys.get(address)
        if key is None:
            raise NodeError("unknown account", -32000)
        try:
            digest = typed_data_digest(typed_data)
        except TypedDataError as exc:
            raise InvalidParams(f"invalid argument 1: {exc}") from None
        rid, r, s = sign_hash(digest, key)
        return d(r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + rid]))

    def eth_signTypedData(self, address: Address, typed_data: Raw) -> str:
        return self.eth_signTypedData_v4(address, typed_data)

    # -- eth_simulateV1 --------------------------------------------------------------------

    def eth_simulateV1(self, options: Object, block: BlockRef = LATEST) -> list[dict[str, Any]]:
        """Calls in a row of simulated blocks on `block`'s state, each block with optional
        state and block overrides; nothing is kept. Per call: status, returnData, gasUsed,
        logs and the error (as geth: code 3 for a revert, with its data)."""
        from chainvm.node.rpc.simulate import simulate

        return simulate(self, options, block)


def apply_block_overrides(dev: Any, env: BlockEnv, fork: Fork, raw: Any,
                          where: str) -> tuple[BlockEnv, Fork]:
    """`env` with geth's block overrides for a call (number, time, gasLimit, feeRecipient,
    prevRandao, baseFeePerGas, difficulty; other keys are ignored, as geth ignores them); a
    new number or time also picks the fork those give, as geth's rules follow the
    overridden context. blobBaseFee has no exact excess blob gas behind it here, so it is
    refused rather than approximated."""
    bo = parse_object(raw, where)
    if bo.get("blobBaseFee") is not None:
        raise InvalidParams(f"{where}: blobBaseFee cannot be overridden here")
    changes: dict[str, Any] = {}
    if bo.get("number") is not None:
        changes["number"] = parse_quantity(bo["number"], f"{where}: number", 64)
    if bo.get("time") is not None:
        changes["timestamp"] = parse_quantity(bo["time"], f"{where}: time", 64)
    if bo.get("gasLimit") is not None:
        changes["gas_limit"] = parse_quantity(bo["gasLimit"], f"{where}: gasLimit", 64)
    if bo.get("feeRecipient") is not None:
        changes["coinbase"] = parse_address(bo["feeRecipient"], f"{where}: feeRecipient")
    if bo.get("prevRandao") is not None:
        changes["prev_randao"] = parse_hash(bo["prevRandao"], f"{where}: prevRandao")
    if bo.get("baseFeePerGas") is not None:
        changes["base_fee"] = parse_quantity(bo["baseFeePerGas"], f"{where}: baseFeePerGas")
    if bo.get("difficulty") is not None:
        changes["difficulty"] = parse_quantity(bo["difficulty"], f"{where}: difficulty")
    new_env = dataclasses.replace(env, **changes)
    if "number" in changes or "timestamp" in changes:
        fork = dev.config.fork_at(new_env.number, new_env.timestamp, 0)
    return new_env, fork


def apply_overrides(base: State, overrides: Any,
                    where: str = "invalid argument 2: state overrides") -> State:
    """A copy of `base` with eth_call's state overrides (balance, nonce, code, and the whole
    storage (`state`) or some slots (`stateDiff`) per address), made through the state's
    own setters so the copy's roots stay right."""
    if not isinstance(overrides, dict):
        raise InvalidParams(f"{where}: expected an object")
    state = base.copy()
    for key, o in overrides.items():
        what = f"{where}: {key}"
        a = parse_address(key, what)
        o = parse_object(o, what)
        if "state" in o and "stateDiff" in o:
            raise InvalidParams(f"{what}: state and stateDiff both given")
        if o.get("balance") is not None:
            state.set_balance(a, parse_quantity(o["balance"], f"{what}: balance"))
        if o.get("nonce") is not None:
            state.set_nonce(a, parse_quantity(o["nonce"], f"{what}: nonce", 64))
        if o.get("code") is not None:
            state.set_code(a, parse_data(o["code"], f"{what}: code"))
        for field_name in ("state", "stateDiff"):
            if o.get(field_name) is None:
                continue
            slots = parse_object(o[field_name], f"{what}: {field_name}")
            if field_name == "state":
                account = state.get(a)
                for slot in list(account.storage) if account is not None else []:
                    state.set_storage(a, slot, 0)
            for k, v in slots.items():
                state.set_storage(a, parse_slot(k, f"{what}: {field_name}"),
                                  int.from_bytes(parse_hash(v, f"{what}: {field_name}"), "big"))
    state.begin_transaction()
    return state

