"""evm_, anvil_ and hardhat_: the test extras (mining, time, snapshots, state edits,
impersonation). Most anvil_ methods are served under hardhat_ too."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from chainvm.encoding.json_input import InputError
from chainvm.node.devchain import CallArgs, NodeError
from chainvm.node.dumps import read_dump
from chainvm.node.limits import BLOCKS_LEFT, MAX_BLOCKS_PER_REQUEST, MIN_BLOCK_TIME
from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.format import d, format_block, q
from chainvm.node.rpc.params import (
    Address,
    Bool,
    Data,
    Decoder,
    Hash,
    InvalidParams,
    Number,
    Quantity,
    Raw,
    Slot,
    Uint64,
    parse_call_args,
    parse_data,
    parse_number,
    parse_object,
)


def _parse_seconds(v: Any, what: str) -> float:
    if isinstance(v, float) and 0 <= v < 2**32:
        return v
    return parse_number(v, what, 32)


Seconds = Annotated[float, Decoder(_parse_seconds)]

# Blocks one evm_mine_detailed may mine: every one comes back whole in the answer.
MAX_DETAILED_BLOCKS = 1_000
# Transactions one anvil_reorg may place (more than a 30M-gas block of transfers holds).
MAX_REORG_TRANSACTIONS = 2_000


def _block_count(count: int, what: str) -> int:
    """`count`, charged to the request's blocks (InvalidParams, nothing mined, past them)."""
    if count > MAX_BLOCKS_PER_REQUEST:  # (one call alone; in-process calls count only this)
        raise InvalidParams(f"{what}: at most {MAX_BLOCKS_PER_REQUEST} blocks a call, "
                            f"got {count}")
    left = BLOCKS_LEFT.get()
    if left is not None:
        if count > left:
            raise InvalidParams(f"{what}: at most {MAX_BLOCKS_PER_REQUEST} blocks a request "
                                f"(the calls of a batch share them; {left} left), got {count}")
        BLOCKS_LEFT.set(left - count)
    return count


def _mine_request(options: Any) -> tuple[int, int | None]:
    """evm_mine's argument as (blocks, timestamp of the first): nothing, a timestamp, or
    {"timestamp", "blocks"}."""
    if isinstance(options, dict):
        opts = parse_object(options, "invalid argument 0")
        ts = parse_number(opts["timestamp"], "invalid argument 0: timestamp") \
            if opts.get("timestamp") else None
        blocks = _block_count(parse_number(opts["blocks"], "invalid argument 0: blocks"),
                              "invalid argument 0: blocks") if opts.get("blocks") else 1
        return blocks, ts
    if options is None:
        return 1, None
    if isinstance(options, str):
        return 1, parse_number(options, "invalid argument 0: timestamp")
    raise InvalidParams("invalid argument 0: expected a timestamp or an object")


# anvil_ methods hardhat serves under the same short name.
HARDHAT_TWINS = ("setBalance", "setCode", "setStorageAt", "setNonce", "impersonateAccount",
                 "stopImpersonatingAccount", "mine", "reset", "setAutomine", "dropTransaction",
                 "setCoinbase", "getAutomine", "dumpState", "loadState", "metadata",
                 "setLoggingEnabled", "setNextBlockBaseFeePerGas", "setMinGasPrice",
                 "autoImpersonateAccount", "dropAllTransactions")


class AnvilApi(Namespace):
    prefixes = ("evm_", "anvil_", "hardhat_")
    aliases: ClassVar[dict[str, str]] = {
        **{f"hardhat_{short}": f"anvil_{short}" for short in HARDHAT_TWINS},
        **{f"{prefix}_{short}": f"evm_{short}" for prefix in ("anvil", "hardhat")
           for short in ("snapshot", "revert")},
        "anvil_setIntervalMining": "evm_setIntervalMining", "anvil_setTime": "evm_setTime",
        "anvil_setBlockGasLimit": "evm_setBlockGasLimit", "evm_setAccountNonce": "anvil_setNonce",
        "anvil_increaseTime": "evm_increaseTime",
        "anvil_setNextBlockTimestamp": "evm_setNextBlockTimestamp",
        "anvil_mine_detailed": "evm_mine_detailed"}

    # -- snapshots and mining --------------------------------------------------------------

    def evm_snapshot(self) -> str:
        return q(self.dev.snapshot())

    def evm_revert(self, snapshot_id: Quantity) -> bool:
        return self.dev.revert(snapshot_id)

    def evm_mine(self, options: Raw = None) -> str:
        """Mine one block (a hex timestamp), or {"timestamp", "blocks"}."""
        self.dev.mine(*_mine_request(options))
        return "0x0"

    def evm_mine_detailed(self, options: Raw = None) -> list[dict[str, Any]]:
        """evm_mine, answered with the blocks mined, as anvil's: full transactions, each
        with its `output` (the return or revert data)."""
        blocks, timestamp = _mine_request(options)
        if blocks > MAX_DETAILED_BLOCKS:  # each answered whole: a bounded answer
            raise InvalidParams(f"invalid argument 0: blocks: at most {MAX_DETAILED_BLOCKS} "
                                f"blocks a call are answered in detail, got {blocks}")
        mined = []
        for i in range(blocks):  # one at a time, to read each block's execution results
            stored = self.dev.mine(1, timestamp if i == 0 else None)[0]
            block = format_block(self.dev, stored, True)
            for index, tx in enumerate(block["transactions"]):
                result = self.dev.tx_result(stored, index)
                tx["output"] = d(result.output if result is not None else b"")
            mined.append(block)
        return mined

    def anvil_mine(self, blocks: Quantity | None = None, interval: Quantity | None = None
                   ) -> bool:
        n = _block_count(blocks, "invalid argument 0") if blocks is not None else 1
        ts = None
        step = interval or None  # no interval (or 0: blocks still need increasing times)
        if step is not None:
            ts = self.dev.head.header.timestamp + step
        self.dev.mine(n, ts, step)
        return True

    def evm_setAutomine(self, on: Bool) -> None:
        self.dev.automine = on

    def anvil_setAutomine(self, on: Bool) -> bool:
        self.dev.automine = on
        return True

    def anvil_getAutomine(self) -> bool:
        return self.dev.automine

    def evm_setIntervalMining(self, seconds: Seconds) -> bool:
        """Mine every `seconds` (0: stop); only effective with the HTTP server's miner."""
        if 0 < seconds < MIN_BLOCK_TIME:
            raise InvalidParams(f"invalid argument 0: seconds: {seconds} is below "
                                f"{MIN_BLOCK_TIME} (0 stops interval mining)")
        self.dev.block_time = float(seconds) or None
        if seconds:
            self.dev.automine = False
        return True

    def anvil_getIntervalMining(self) -> float | int | None:
        """The interval of interval mining in seconds (null when off), as anvil answers."""
        interval = self.dev.block_time
        if interval is None:
            return None
        return int(interval) if interval == int(interval) else interval

    # -- time ------------------------------------------------------------------------------

    def anvil_setBlockTimestampInterval(self, seconds: Number) -> bool:
        """Each new block `seconds` after its parent (until removed), as anvil's."""
        try:
            self.dev.set_timestamp_interval(seconds)
        except NodeError as exc:  # named as this method's argument, as evm_increaseTime's
            raise InvalidParams(f"invalid argument 0: {exc}") from None
        return True

    def anvil_removeBlockTimestampInterval(self) -> bool:
        had = self.dev.timestamp_interval is not None
        self.dev.timestamp_interval = None
        return had

    def evm_increaseTime(self, seconds: Number) -> str:
        try:
            return q(self.dev.increase_time(seconds))
        except NodeError as exc:  # the clock's bound, named as this method's argument
            raise InvalidParams(f"invalid argument 0: {exc}") from None

    def evm_setTime(self, timestamp: Number) -> int:
        """Set the clock to `timestamp` (ganache's and anvil's); the move in seconds."""
        try:
            return self.dev.set_time(timestamp)
        except NodeError as exc:
            raise InvalidParams(f"invalid argument 0: {exc}") from None

    def evm_setNextBlockTimestamp(self, timestamp: Number) -> None:
        self.dev.set_next_timestamp(timestamp)

    # -- fees and the block gas limit --------------------------------------------------------

    def anvil_setNextBlockBaseFeePerGas(self, base_fee: Quantity) -> None:
        """The next block's base fee; EIP-1559 derives the later blocks' from it (anvil's).
        eth_gasPrice, calls and the pool see it at once."""
        try:
            self.dev.set_next_block_base_fee(base_fee)
        except NodeError as exc:
            raise InvalidParams(f"anvil_setNextBlockBaseFeePerGas: {exc}") from None

    def evm_setBlockGasLimit(self, gas_limit: Quantity) -> bool:
        """The gas limit of every later block, with no step limit between blocks (anvil's
        and hardhat's); at most the header's 2^63-1."""
        try:
            self.dev.set_block_gas_limit(gas_limit)
        except NodeError as exc:
            raise InvalidParams(f"invalid argument 0: {exc}") from None
        return True

    def hardhat_setPrevRandao(self, value: Hash) -> bool:
        """The next block's PREVRANDAO (hardhat's, which its network helpers call); later
        blocks have zeros again, as this node's blocks have."""
        self.dev.set_next_prev_randao(value)
        return True

    def anvil_setMinGasPrice(self, gas_price: Quantity) -> None:
        """The gas price suggested and filled in on a chain before London (anvil's: it is
        not a floor, a transaction priced lower is still accepted); refused from London on,
        where the base fee sets prices."""
        try:
            self.dev.set_min_gas_price(gas_price)
        except NodeError as exc:
            raise InvalidParams(str(exc)) from None

    # -- state edits -------------------------------------------------------------------------

    def anvil_setBalance(self, address: Address, balance: Quantity) -> bool:
        self.dev.set_balance(address, balance)
        return True

    def anvil_setCode(self, address: Address, code: Data) -> bool:
        self.dev.set_code(address, code)
        return True

    def anvil_setStorageAt(self, address: Address, slot: Slot, value: Hash) -> bool:
        self.dev.set_storage(address, slot, int.from_bytes(value, "big"))
        return True

    def anvil_setNonce(self, address: Address, nonce: Uint64) -> bool:
        self.dev.set_nonce(address, nonce)
        return True

    def anvil_addBalance(self, address: Address, amount: Quantity) -> bool:
        """Add `amount` wei to an account's balance (anvil's); the sum must stay a word."""
        balance = self.dev.state().balance(address) + amount
        if balance >> 256:
            raise InvalidParams("invalid argument 1: the balance would pass 2^256-1")
        self.dev.set_balance(address, balance)
        return True

    def anvil_dealERC20(self, holder: Address, token: Address, amount: Quantity) -> None:
        """Set `holder`'s balance of an ERC-20 token (anvil's, as forge-std's `deal`): the
        slot balanceOf(holder) reads is found and written."""
        self.dev.deal_erc20(holder, token, amount)

    def anvil_setERC20Allowance(self, owner: Address, spender: Address, token: Address,
                                amount: Quantity) -> None:
        """Set what `spender` may move of `owner`'s tokens (anvil's), found as a balance is."""
        self.dev.set_erc20_allowance(owner, spender, token, amount)

    def anvil_setLoggingEnabled(self, on: Bool) -> bool:
        """Accepted for anvil's and hardhat's clients: this node logs no requests."""
        return True

    def anvil_setCoinbase(self, address: Address) -> bool:
        self.dev.coinbase = address
        return True

    def anvil_impersonateAccount(self, address: Address) -> bool:
        self.dev.impersonate(address)
        return True

    def anvil_impersonateSignature(self, signature: Raw, address: Raw = None) -> None:
        """From now on `signature` (r, s and v: 65 bytes) recovers to `address` in ECRECOVER,
        and names the authority of an EIP-7702 authorization whose signature does not
        recover (anvil's). Takes anvil's parameters, one [signature, address] pair, or the
        two as separate parameters."""
        if address is None and isinstance(signature, list) and len(signature) == 2:
            signature, address = signature
        if address is None:
            raise InvalidParams("expected a [signature, address] pair")
        self.dev.impersonate_signature(
            parse_data(signature, "invalid argument 0: signature (r, s, v)", 65),
            parse_data(address, "invalid argument 1: address", 20))

    def anvil_autoImpersonateAccount(self, on: Bool) -> bool:
        """Impersonate every sender that has no dev key (anvil's), until turned off."""
        self.dev.auto_impersonate = on
        return True

    def anvil_stopImpersonatingAccount(self, address: Address) -> bool:
        self.dev.stop_impersonating(address)
        return True

    def anvil_dropTransaction(self, tx_hash: Hash) -> bool:
        return self.dev.pool.remove(tx_hash)

    def anvil_setChainId(self, chain_id: Number) -> None:
        """The chain id of the next blocks, of calls and of the transactions the node fills
        and accepts (anvil's); earlier blocks are replayed and traced with their own."""
        self.dev.set_chain_id(chain_id)

    def anvil_setRpcUrl(self, url: Raw) -> None:
        """A forked chain reads from another endpoint of the same chain (its chain id is
        checked) from now on; the fork block and what was read stay (anvil's)."""
        if not isinstance(url, str):
            raise InvalidParams("invalid argument 0: expected a URL string")
        self.dev.set_rpc_url(url)

    # -- rewriting the chain's last blocks ---------------------------------------------------

    def anvil_rollback(self, depth: Number | None = None) -> None:
        """Drop the last `depth` blocks (default 1) and their transactions (anvil's)."""
        self.dev.rollback(1 if depth is None else depth)

    def anvil_reorg(self, depth: Number, placed: Raw) -> None:
        """Replace the last `depth` blocks with as many new ones holding the transactions
        given as [[transaction, block offset], ...] (anvil's): a transaction is a request
        (filled and signed as eth_sendTransaction) or a raw signed one, its offset 0 for
        the first new block."""
        if not isinstance(placed, list):
            raise InvalidParams("invalid argument 1: expected a list of [transaction, offset]")
        if len(placed) > MAX_REORG_TRANSACTIONS:  # each request is filled (gas estimated)
            raise InvalidParams(f"invalid argument 1: at most {MAX_REORG_TRANSACTIONS} "
                                f"transactions a reorg, got {len(placed)}")
        pairs: list[tuple[CallArgs | bytes, int]] = []
        for i, pair in enumerate(placed):
            what = f"invalid argument 1: entry {i}"
            if not isinstance(pair, list) or len(pair) != 2:
                raise InvalidParams(f"{what}: expected [transaction, offset]")
            tx, offset = pair
            given = parse_data(tx, f"{what}: raw transaction") if isinstance(tx, str) \
                else parse_call_args(tx, f"{what}: transaction")
            if isinstance(given, CallArgs) and given.sender is None:
                raise InvalidParams(f"{what}: transaction: missing from")
            pairs.append((given, parse_number(offset, f"{what}: offset")))
        self.dev.reorg(depth, pairs)

    # -- the pool --------------------------------------------------------------------------

    def anvil_dropAllTransactions(self) -> None:
        """Empty the pool (anvil's)."""
        self.dev.pool.clear()

    def anvil_removePoolTransactions(self, sender: Address) -> None:
        """Drop every pool transaction of `sender` (anvil's)."""
        pool = self.dev.pool
        for entry in list(pool.by_sender.get(sender, {}).values()):
            pool.remove(entry.tx_hash or entry.tx.hash)

    # -- state dumps and node information ------------------------------------------------------

    def anvil_dumpState(self) -> str:
        """The head state as anvil gives it: hex of the gzip of its JSON (accounts with
        nonce, balance, code and storage)."""
        import gzip
        import json

        text = json.dumps(self.dev.dump_state(), separators=(",", ":")).encode()
        return "0x" + gzip.compress(text, mtime=0).hex()

    def anvil_loadState(self, dump: Data) -> bool:
        """Merge a dump (`anvil_dumpState`'s hex, gzipped or plain JSON, at most
        `MAX_DUMP_BYTES` of JSON once unpacked) into the state."""
        self.require_reset_allowed("anvil_loadState")
        try:
            payload = read_dump(dump)
        except InputError as exc:
            raise InvalidParams(f"invalid argument 0: {exc}") from None
        self.dev.load_state(payload)
        return True

    # -- blobs ------------------------------------------------------------------------------

    def anvil_getBlobByHash(self, versioned_hash: Hash) -> str | None:
        """The blob with that versioned hash, from a mined blob transaction's sidecar (null
        if no transaction of the chain carried it), as anvil answers."""
        blob = self.dev.mined_blob(versioned_hash)
        return d(blob) if blob is not None else None

    def anvil_getBlobsByTransactionHash(self, tx_hash: Hash) -> list[str] | None:
        """A mined blob transaction's blobs, in order (null for any other transaction)."""
        blobs = self.dev.mined_blobs(tx_hash)
        return [d(b) for b in blobs] if blobs is not None else None

    def anvil_getGenesisTime(self) -> int:
        """The genesis block's timestamp, a number as anvil answers it (in fork mode, the
        remote chain's block 0)."""
        genesis = self.dev.chain.get_block_by_number(0)
        if genesis is not None:
            return genesis.header.timestamp
        remote = self.dev.remote
        assert remote is not None  # only a forked chain lacks block 0
        return int(remote.get_block(0, False)["timestamp"], 16)

    def anvil_nodeInfo(self) -> dict[str, Any]:
        """anvil's answer, its types included (anvil 1.7.1: the block number and the fees
        as hex, the timestamp and chain id as numbers, the hardfork's name as written)."""
        dev = self.dev
        head = dev.head
        env, fork = dev.pending_env()
        remote = dev.remote
        return {
            "currentBlockNumber": q(head.number),
            "currentBlockTimestamp": head.header.timestamp,
            "currentBlockHash": "0x" + head.hash.hex(),
            "hardFork": fork.name,
            "transactionOrder": "fees",
            "environment": {"baseFee": q(env.base_fee or 0), "chainId": dev.chain_id,
                            "gasLimit": q(env.gas_limit), "gasPrice": q(dev.gas_price())},
            "forkConfig": {"forkUrl": remote.client.display if remote else None,
                           "forkBlockNumber": remote.number if remote else None,
                           "forkRetryBackoff": None},
        }

    def anvil_metadata(self) -> dict[str, Any]:
        """anvil's (and hardhat's) description of the node: client, chain, head, the fork
        it was made from, and the snapshots as {id: [number, hash]}."""
        from chainvm.node.rpc.web3 import client_version

        dev = self.dev
        remote = dev.remote
        snapshots = {}
        for sid, snap in dev.snapshots.items():
            stored = dev.chain.get_block(snap.head_hash)
            snapshots[str(sid)] = [stored.number if stored else None, "0x" + snap.head_hash.hex()]
        return {
            "clientVersion": client_version(),
            "chainId": dev.chain_id,
            "instanceId": "0x" + dev.instance_id.hex(),
            "latestBlockNumber": dev.head.number,
            "latestBlockHash": "0x" + dev.head.hash.hex(),
            "forkedNetwork": None if remote is None else {
                "chainId": remote.chain_id, "forkBlockNumber": remote.number,
                "forkBlockHash": "0x" + remote.header.hash.hex()},
            "snapshots": snapshots,
        }

    def anvil_reset(self, *options: Any) -> bool:
        """Back to genesis; with `forking: {jsonRpcUrl, blockNumber}` a new fork of that
        remote; a forked chain without it becomes a new local chain."""
        forking = options[0].get("forking") if options and isinstance(options[0], dict) \
            else None
        self.require_reset_allowed("anvil_reset")
        if forking is None:
            self.dev.reset()
            return True
        if not isinstance(forking, dict) or not isinstance(forking.get("jsonRpcUrl"), str):
            raise InvalidParams("forking: expected {jsonRpcUrl, blockNumber}")
        raw = forking.get("blockNumber")
        # A plain JSON integer is range-checked too: block numbers are 64-bit.
        number = parse_number(raw, "forking.blockNumber") if raw is not None else None
        self.dev.reset(forking["jsonRpcUrl"], number)
        return True
