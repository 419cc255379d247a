"""JSON-RPC 2.0 methods of the dev node over a `DevChain`, independent of the transport.

`Rpc.handle_body(bytes)` takes a request body (one call or a batch) and returns
the response object (or None when only notifications were sent). Quantities
are "0x" plus lowercase hex without leading zeros ("0x0" for zero); data is
"0x" plus an even number of hex digits. Parameters that break these rules get
-32602 (invalid params).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chainvm.chain.block import Receipt
from chainvm.chain.chain import StoredBlock
from chainvm.chain.transactions import SignedTransaction
from chainvm.evm.vm import create_address
from chainvm.node.devchain import CallRequest, DevChain, NodeError, StepCollector
from chainvm.node.tracing import CallTracer
from chainvm.state.state import Log

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CLIENT_VERSION = "chainvm/0.1/python"


class InvalidParams(NodeError):
    def __init__(self, message: str) -> None:
        super().__init__(message, INVALID_PARAMS)


# -- hex rules ---------------------------------------------------------------------------------


def q(n: int) -> str:
    return hex(n)


def d(b: bytes) -> str:
    return "0x" + b.hex()


def addr_out(a: bytes | None) -> str | None:
    return None if a is None else "0x" + a.hex()


def parse_quantity(v: Any, what: str = "quantity") -> int:
    if not isinstance(v, str) or not v.startswith(("0x", "0X")):
        raise InvalidParams(f"{what}: expected a hex quantity string, got {v!r}")
    digits = v[2:]
    if not digits:
        raise InvalidParams(f"{what}: empty hex quantity")
    if len(digits) > 1 and digits[0] == "0":
        raise InvalidParams(f"{what}: hex quantity with leading zero digits")
    try:
        n = int(digits, 16)
    except ValueError:
        raise InvalidParams(f"{what}: invalid hex quantity {v!r}") from None
    if n >= 1 << 256:
        raise InvalidParams(f"{what}: quantity above 256 bits")
    return n


def parse_data(v: Any, what: str = "data", size: int | None = None) -> bytes:
    if not isinstance(v, str) or not v.startswith(("0x", "0X")):
        raise InvalidParams(f"{what}: expected hex data, got {v!r}")
    digits = v[2:]
    if len(digits) % 2:
        raise InvalidParams(f"{what}: hex data of odd length")
    try:
        b = bytes.fromhex(digits)
    except ValueError:
        raise InvalidParams(f"{what}: invalid hex data") from None
    if size is not None and len(b) != size:
        raise InvalidParams(f"{what}: expected {size} bytes, got {len(b)}")
    return b


def parse_address(v: Any, what: str = "address") -> bytes:
    return parse_data(v, what, 20)


def parse_hash(v: Any, what: str = "hash") -> bytes:
    return parse_data(v, what, 32)


def parse_slot(v: Any) -> int:
    """Storage slots: clients send quantities or 32-byte words; accept both."""
    if isinstance(v, str) and v.startswith("0x") and len(v) == 66:
        return int.from_bytes(parse_data(v, "slot"), "big")
    if isinstance(v, str) and v.startswith("0x"):
        try:
            return int(v, 0)
        except ValueError:
            pass
    raise InvalidParams(f"storage slot: invalid {v!r}")


# -- formatting ----------------------------------------------------------------------------------


@dataclass
class Filter:
    kind: str  # "logs", "blocks", "pending"
    criteria: dict[str, Any] = field(default_factory=dict)
    next_block: int = 0
    pending: list[Any] = field(default_factory=list)


class Rpc:
    def __init__(self, dev: DevChain, max_batch: int = 1000) -> None:
        self.dev = dev
        self.max_batch = max_batch
        self.filters: dict[int, Filter] = {}
        self._next_filter = 1
        self.methods: dict[str, Callable[..., Any]] = {}
        extras: dict[str, Callable[..., Any]] = {}
        for name in dir(self):
            if name.startswith("m_"):
                self.methods[name[2:]] = getattr(self, name)
            elif name.startswith("x_"):
                extras[name[2:]] = getattr(self, name)
        for prefix in ("anvil_", "hardhat_"):
            for short in ("setBalance", "setCode", "setStorageAt", "setNonce",
                          "impersonateAccount", "stopImpersonatingAccount", "mine", "reset",
                          "snapshot", "revert", "setAutomine", "dropTransaction",
                          "setNextBlockBaseFeePerGas", "setCoinbase"):
                target = extras.get(short)
                if target is not None:
                    self.methods[prefix + short] = target
        dev.listeners.append(self._on_block)

    # -- dispatch --------------------------------------------------------------------------------

    def handle_body(self, body: bytes) -> Any:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return error_response(None, PARSE_ERROR, f"parse error: {exc}")
        if isinstance(request, list):
            if not request:
                return error_response(None, INVALID_REQUEST, "empty batch")
            if len(request) > self.max_batch:
                return error_response(None, INVALID_REQUEST,
                                      f"batch too large: {len(request)} > {self.max_batch}")
            out = [r for r in (self.handle_one(item) for item in request) if r is not None]
            return out or None
        return self.handle_one(request)

    def handle_one(self, req: Any) -> dict[str, Any] | None:
        if not isinstance(req, dict):
            return error_response(None, INVALID_REQUEST, "request must be an object")
        rid = req.get("id")
        if rid is not None and not isinstance(rid, (str, int, float)) or isinstance(rid, bool):
            return error_response(None, INVALID_REQUEST, "invalid id")
        notification = "id" not in req
        method = req.get("method")
        if req.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return error_response(rid, INVALID_REQUEST, "invalid request")
        params = req.get("params", [])
        if not isinstance(params, list):
            if isinstance(params, dict) and not params:
                params = []
            else:
                return error_response(rid, INVALID_PARAMS, "params must be an array")
        fn = self.methods.get(method)
        if fn is None:
            response = error_response(rid, METHOD_NOT_FOUND,
                                      f"the method {method} does not exist/is not available")
        else:
            try:
                inspect.signature(fn).bind(*params)
            except TypeError as exc:
                response = error_response(rid, INVALID_PARAMS, f"invalid params: {exc}")
                return None if notification else response
            try:
                result = fn(*params)
                response = {"jsonrpc": "2.0", "id": rid, "result": result}
            except (KeyError, AttributeError, TypeError, ValueError) as exc:
                response = error_response(rid, INVALID_PARAMS, f"invalid params: {exc!r}")
            except NodeError as exc:
                response = error_response(rid, exc.code, str(exc), exc.data)
            except Exception as exc:  # noqa: BLE001 - the node must keep serving
                response = error_response(rid, INTERNAL_ERROR, f"internal error: {exc!r}")
        return None if notification else response

    # -- helpers ---------------------------------------------------------------------------------

    def block_for(self, tag: Any = "latest") -> StoredBlock:
        chain = self.dev.chain
        if isinstance(tag, dict):
            if "blockHash" in tag:
                stored = chain.get_block(parse_hash(tag["blockHash"], "blockHash"))
                if stored is None:
                    raise NodeError("header not found", -32000)
                return stored
            tag = tag.get("blockNumber", "latest")
        if tag in ("latest", "pending", "safe", "finalized", None):
            return chain.head
        if tag == "earliest":
            return chain.get_block_by_number(0)  # type: ignore[return-value]
        number = parse_quantity(tag, "block number")
        stored = chain.get_block_by_number(number)
        if stored is None:
            raise NodeError("header not found", -32000)
        return stored

    def _maybe_block(self, tag: Any) -> StoredBlock | None:
        """The block, or None for a well-formed number or hash that is not known."""
        try:
            return self.block_for(tag)
        except InvalidParams:
            raise
        except NodeError:
            return None

    def number_for(self, tag: Any) -> int:
        if tag in ("latest", "pending", "safe", "finalized", None):
            return self.dev.head.number
        if tag == "earliest":
            return 0
        return parse_quantity(tag, "block number")

    def call_request(self, obj: Any, need_from: bool = False) -> CallRequest:
        if not isinstance(obj, dict):
            raise InvalidParams("transaction object expected")
        req = CallRequest()
        if obj.get("from") is not None:
            req.sender = parse_address(obj["from"], "from")
        elif need_from:
            raise InvalidParams("missing from")
        elif self.dev.accounts:
            req.sender = None
        if obj.get("to") is not None:
            req.to = parse_address(obj["to"], "to")
        for key, attr in (("gas", "gas"), ("gasPrice", "gas_price"),
                          ("maxFeePerGas", "max_fee_per_gas"),
                          ("maxPriorityFeePerGas", "max_priority_fee_per_gas"),
                          ("value", "value"), ("nonce", "nonce"), ("type", "tx_type"),
                          ("chainId", "chain_id")):
            if obj.get(key) is not None:
                setattr(req, attr, parse_quantity(obj[key], key))
        data = obj.get("input", obj.get("data"))
        if data is not None:
            req.data = parse_data(data, "input")
        if obj.get("accessList"):
            req.access_list = [(parse_address(e["address"]),
                                [parse_hash(k) for k in e.get("storageKeys", [])])
                               for e in obj["accessList"]]
        if req.chain_id is not None and req.chain_id != self.dev.chain_id:
            raise NodeError(f"chain id {req.chain_id} does not match {self.dev.chain_id}",
                            -32000)
        return req

    def state_at(self, tag: Any) -> Any:
        return self.block_for(tag).state

    def format_tx(self, tx: SignedTransaction, stored: StoredBlock | None,
                  index: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": q(tx.tx_type), "hash": d(tx.hash), "nonce": q(tx.nonce),
            "blockHash": d(stored.hash) if stored else None,
            "blockNumber": q(stored.number) if stored else None,
            "transactionIndex": q(index) if index is not None else None,
            "from": addr_out(self.dev.sender_of(tx)), "to": addr_out(tx.to),
            "value": q(tx.value), "gas": q(tx.gas_limit), "input": d(tx.data),
            "v": q(tx.v), "r": q(tx.r), "s": q(tx.s),
        }
        if tx.tx_type >= 1 or tx.chain_id is not None:
            out["chainId"] = q(tx.chain_id or 0)
        if tx.tx_type >= 1:
            out["yParity"] = q(tx.v)
            out["accessList"] = [{"address": d(a), "storageKeys": [d(k) for k in keys]}
                                 for a, keys in tx.access_list]
        if tx.tx_type >= 2:
            out["maxFeePerGas"] = q(tx.max_fee_per_gas or 0)
            out["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas or 0)
            base = (stored.header.base_fee or 0) if stored else self.dev.next_base_fee()
            out["gasPrice"] = q(min(tx.max_fee_per_gas or 0,
                                    base + (tx.max_priority_fee_per_gas or 0)))
        else:
            out["gasPrice"] = q(tx.gas_price or 0)
        if tx.tx_type == 3:
            out["maxFeePerBlobGas"] = q(tx.max_fee_per_blob_gas or 0)
            out["blobVersionedHashes"] = [d(h) for h in tx.blob_versioned_hashes]
        if tx.tx_type == 4:
            out["authorizationList"] = [
                {"chainId": q(a.chain_id), "address": d(a.address), "nonce": q(a.nonce),
                 "yParity": q(a.y_parity), "r": q(a.r), "s": q(a.s)}
                for a in tx.authorization_list]
        return out

    def format_log(self, log: Log, stored: StoredBlock, tx_index: int,
                   log_index: int) -> dict[str, Any]:
        return {
            "address": d(log.address), "topics": [f"0x{t:064x}" for t in log.topics],
            "data": d(log.data), "blockNumber": q(stored.number),
            "blockHash": d(stored.hash), "blockTimestamp": q(stored.header.timestamp),
            "transactionHash": d(stored.block.transactions[tx_index].hash),
            "transactionIndex": q(tx_index), "logIndex": q(log_index), "removed": False,
        }

    def format_receipt(self, stored: StoredBlock, index: int) -> dict[str, Any]:
        receipt: Receipt = stored.receipts[index]
        tx = stored.block.transactions[index]
        info = self.dev.receipt_details(stored, index)
        logs = [self.format_log(log, stored, index, info["first_log"] + i)
                for i, log in enumerate(receipt.logs)]
        base = stored.header.base_fee or 0
        if tx.tx_type >= 2:
            price = min(tx.max_fee_per_gas or 0, base + (tx.max_priority_fee_per_gas or 0))
        else:
            price = tx.gas_price or 0
        out: dict[str, Any] = {
            "transactionHash": d(tx.hash), "transactionIndex": q(index),
            "blockHash": d(stored.hash), "blockNumber": q(stored.number),
            "from": addr_out(info["sender"]), "to": addr_out(tx.to),
            "cumulativeGasUsed": q(receipt.cumulative_gas_used), "gasUsed": q(info["gas_used"]),
            "contractAddress": addr_out(info["contract_address"]), "logs": logs,
            "logsBloom": d(receipt.bloom), "type": q(tx.tx_type), "effectiveGasPrice": q(price),
        }
        if isinstance(receipt.status_or_root, int):
            out["status"] = q(receipt.status_or_root)
        else:
            out["root"] = d(receipt.status_or_root)
        if tx.tx_type == 3:
            from chainvm.evm.gas import GAS_PER_BLOB
            from chainvm.evm.transaction import blob_base_fee

            out["blobGasUsed"] = q(len(tx.blob_versioned_hashes) * GAS_PER_BLOB)
            out["blobGasPrice"] = q(blob_base_fee(stored.header.excess_blob_gas or 0,
                                                  stored.fork))
        return out

    def format_block(self, stored: StoredBlock, full: bool) -> dict[str, Any]:
        h = stored.header
        block = stored.block
        out: dict[str, Any] = {
            "number": q(h.number), "hash": d(stored.hash), "parentHash": d(h.parent_hash),
            "nonce": d(h.nonce), "sha3Uncles": d(h.ommers_hash), "logsBloom": d(h.bloom),
            "transactionsRoot": d(h.transactions_root), "stateRoot": d(h.state_root),
            "receiptsRoot": d(h.receipts_root), "miner": d(h.coinbase),
            "difficulty": q(h.difficulty), "totalDifficulty": q(stored.total_difficulty),
            "extraData": d(h.extra_data), "size": q(len(block.encode())),
            "gasLimit": q(h.gas_limit), "gasUsed": q(h.gas_used), "timestamp": q(h.timestamp),
            "mixHash": d(h.mix_hash), "uncles": [d(u.hash) for u in block.uncles],
            "transactions": [self.format_tx(tx, stored, i) if full else d(tx.hash)
                             for i, tx in enumerate(block.transactions)],
        }
        if h.base_fee is not None:
            out["baseFeePerGas"] = q(h.base_fee)
        if h.withdrawals_root is not None:
            out["withdrawalsRoot"] = d(h.withdrawals_root)
            out["withdrawals"] = [
                {"index": q(w.index), "validatorIndex": q(w.validator_index),
                 "address": d(w.address), "amount": q(w.amount)}
                for w in (block.withdrawals or [])]
        if h.blob_gas_used is not None:
            out["blobGasUsed"] = q(h.blob_gas_used)
            out["excessBlobGas"] = q(h.excess_blob_gas or 0)
        if h.parent_beacon_block_root is not None:
            out["parentBeaconBlockRoot"] = d(h.parent_beacon_block_root)
        if h.requests_hash is not None:
            out["requestsHash"] = d(h.requests_hash)
        return out

    # -- logs and filters --------------------------------------------------------------------------

    def log_criteria(self, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise InvalidParams("filter object expected")
        crit: dict[str, Any] = {}
        address = obj.get("address")
        if address is None:
            crit["addresses"] = None
        elif isinstance(address, list):
            crit["addresses"] = {parse_address(a) for a in address}
        else:
            crit["addresses"] = {parse_address(address)}
        topics: list[set[int] | None] = []
        for t in obj.get("topics") or []:
            if t is None:
                topics.append(None)
            elif isinstance(t, list):
                topics.append({int.from_bytes(parse_hash(x, "topic"), "big") for x in t
                               if x is not None} or None)
            else:
                topics.append({int.from_bytes(parse_hash(t, "topic"), "big")})
        crit["topics"] = topics
        if obj.get("blockHash") is not None:
            if obj.get("fromBlock") is not None or obj.get("toBlock") is not None:
                raise InvalidParams("blockHash excludes fromBlock and toBlock")
            crit["block_hash"] = parse_hash(obj["blockHash"], "blockHash")
        else:
            crit["from"] = obj.get("fromBlock", "latest")
            crit["to"] = obj.get("toBlock", "latest")
        return crit

    @staticmethod
    def _matches(log: Log, crit: dict[str, Any]) -> bool:
        addresses = crit["addresses"]
        if addresses is not None and log.address not in addresses:
            return False
        topics = crit["topics"]
        if len(topics) > len(log.topics):
            return False
        return all(want is None or log.topics[i] in want for i, want in enumerate(topics))

    def block_logs(self, stored: StoredBlock, crit: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        log_index = 0
        for ti, receipt in enumerate(stored.receipts):
            for log in receipt.logs:
                if self._matches(log, crit):
                    out.append(self.format_log(log, stored, ti, log_index))
                log_index += 1
        return out

    def _logs(self, crit: dict[str, Any], start: int | None = None) -> list[dict[str, Any]]:
        chain = self.dev.chain
        if "block_hash" in crit:
            stored = chain.get_block(crit["block_hash"])
            if stored is None:
                raise NodeError("unknown block", -32000)
            return self.block_logs(stored, crit)
        lo = self.number_for(crit["from"]) if start is None else start
        hi = min(self.number_for(crit["to"]), chain.head.number)
        if hi - lo > 100_000:
            raise NodeError("query exceeds the maximum block range of 100000", -32005)
        out = []
        for n in range(lo, hi + 1):
            stored = chain.get_block_by_number(n)
            if stored is not None and any(r.logs for r in stored.receipts):
                out.extend(self.block_logs(stored, crit))
        return out

    def _on_block(self, stored: StoredBlock) -> None:
        for f in self.filters.values():
            if f.kind == "blocks":
                f.pending.append(d(stored.hash))
            elif f.kind == "pending":
                f.pending.extend(d(tx.hash) for tx in stored.block.transactions)

    def _new_filter(self, f: Filter) -> str:
        fid = self._next_filter
        self._next_filter += 1
        self.filters[fid] = f
        return q(fid)

    def _filter(self, fid: Any) -> tuple[int, Filter]:
        key = parse_quantity(fid, "filter id")
        f = self.filters.get(key)
        if f is None:
            raise NodeError("filter not found", -32000)
        return key, f

    # ======================================================================================
    # methods: web3_, net_, eth_
    # ======================================================================================

    def m_web3_clientVersion(self) -> str:
        return CLIENT_VERSION

    def m_web3_sha3(self, data: str) -> str:
        from chainvm.crypto import keccak256

        return d(keccak256(parse_data(data)))

    def m_net_version(self) -> str:
        return str(self.dev.chain_id)

    def m_net_listening(self) -> bool:
        return True

    def m_net_peerCount(self) -> str:
        return q(0)

    def m_eth_chainId(self) -> str:
        return q(self.dev.chain_id)

    def m_eth_protocolVersion(self) -> str:
        return q(68)

    def m_eth_syncing(self) -> bool:
        return False

    def m_eth_mining(self) -> bool:
        return self.dev.automine

    def m_eth_hashrate(self) -> str:
        return q(0)

    def m_eth_coinbase(self) -> str:
        return d(self.dev.coinbase)

    def m_eth_accounts(self) -> list[str]:
        return [d(a) for a in self.dev.accounts]

    def m_eth_blockNumber(self) -> str:
        return q(self.dev.head.number)

    def m_eth_gasPrice(self) -> str:
        return q(self.dev.gas_price())

    def m_eth_maxPriorityFeePerGas(self) -> str:
        from chainvm.node.devchain import DEFAULT_TIP

        return q(DEFAULT_TIP)

    def m_eth_blobBaseFee(self) -> str:
        return q(self.dev.blob_base_fee())

    def m_eth_feeHistory(self, count: Any, newest: Any = "latest",
                         percentiles: list[float] | None = None) -> dict[str, Any]:
        n = parse_quantity(count, "blockCount") if isinstance(count, str) else int(count)
        n = max(1, min(n, 1024))
        last = self.block_for(newest).number
        first = max(0, last - n + 1)
        base_fees, ratios, rewards, blob_fees, blob_ratios = [], [], [], [], []
        from chainvm.evm.transaction import blob_base_fee

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
            if percentiles is not None:
                tips = sorted(tx.effective_tip(h.base_fee or 0)
                              for tx in stored.block.transactions)
                rewards.append([q(tips[min(len(tips) - 1, int(len(tips) * p / 100))]
                                  if tips else 0) for p in percentiles])
        base_fees.append(q(self.dev.next_base_fee()))
        blob_fees.append(q(self.dev.blob_base_fee()))
        out: dict[str, Any] = {"oldestBlock": q(first), "baseFeePerGas": base_fees,
                               "gasUsedRatio": ratios, "baseFeePerBlobGas": blob_fees,
                               "blobGasUsedRatio": blob_ratios}
        if percentiles is not None:
            out["reward"] = rewards
        return out

    def m_eth_getBalance(self, address: Any, tag: Any = "latest") -> str:
        return q(self.state_at(tag).balance(parse_address(address)))

    def m_eth_getTransactionCount(self, address: Any, tag: Any = "latest") -> str:
        a = parse_address(address)
        nonce = self.state_at(tag).nonce(a)
        if tag == "pending":
            for entry in self.dev.pool.by_sender.get(a, {}).values():
                nonce = max(nonce, entry.tx.nonce + 1)
        return q(nonce)

    def m_eth_getCode(self, address: Any, tag: Any = "latest") -> str:
        return d(self.state_at(tag).code(parse_address(address)))

    def m_eth_getStorageAt(self, address: Any, slot: Any, tag: Any = "latest") -> str:
        value = self.state_at(tag).get_storage(parse_address(address), parse_slot(slot))
        return f"0x{value:064x}"

    def m_eth_getProof(self, address: Any, slots: list[Any], tag: Any = "latest"
                       ) -> dict[str, Any]:
        from chainvm.node.proof import account_proof

        return account_proof(self.state_at(tag), parse_address(address),
                             [parse_slot(s) for s in slots])

    def m_eth_getBlockByNumber(self, tag: Any, full: bool = False) -> dict[str, Any] | None:
        remote = self.dev.remote
        if remote is not None and tag not in ("latest", "pending", "safe", "finalized"):
            # A forked chain's blocks up to the fork block are the remote's, bodies and all.
            number = remote.number if tag == "earliest" else parse_quantity(tag, "block number")
            if number <= remote.number:
                return remote.get_block(number, bool(full))  # type: ignore[no-any-return]
        stored = self._maybe_block(tag)
        if stored is None:
            return None
        return self.format_block(stored, bool(full))

    def m_eth_getBlockByHash(self, block_hash: Any, full: bool = False) -> dict[str, Any] | None:
        stored = self.dev.chain.get_block(parse_hash(block_hash))
        return self.format_block(stored, bool(full)) if stored else None

    def m_eth_getBlockTransactionCountByNumber(self, tag: Any) -> str | None:
        stored = self._maybe_block(tag)
        return q(len(stored.block.transactions)) if stored else None

    def m_eth_getBlockTransactionCountByHash(self, block_hash: Any) -> str | None:
        stored = self.dev.chain.get_block(parse_hash(block_hash))
        return q(len(stored.block.transactions)) if stored else None

    def m_eth_getUncleCountByBlockNumber(self, tag: Any) -> str:
        return q(len(self.block_for(tag).block.uncles))

    def m_eth_getUncleCountByBlockHash(self, block_hash: Any) -> str | None:
        stored = self.dev.chain.get_block(parse_hash(block_hash))
        return q(len(stored.block.uncles)) if stored else None

    def m_eth_getTransactionByHash(self, tx_hash: Any) -> dict[str, Any] | None:
        h = parse_hash(tx_hash)
        found = self.dev.chain.get_transaction(h)
        if found is not None:
            tx, _receipt, stored, index = found
            return self.format_tx(tx, stored, index)
        entry = self.dev.pool.by_hash.get(h)
        return self.format_tx(entry.tx, None, None) if entry else None

    def m_eth_getTransactionByBlockNumberAndIndex(self, tag: Any, index: Any
                                                  ) -> dict[str, Any] | None:
        stored = self._maybe_block(tag)
        if stored is None:
            return None
        i = parse_quantity(index, "index")
        txs = stored.block.transactions
        return self.format_tx(txs[i], stored, i) if i < len(txs) else None

    def m_eth_getTransactionByBlockHashAndIndex(self, block_hash: Any, index: Any
                                                ) -> dict[str, Any] | None:
        stored = self.dev.chain.get_block(parse_hash(block_hash))
        i = parse_quantity(index, "index")
        if stored is None or i >= len(stored.block.transactions):
            return None
        return self.format_tx(stored.block.transactions[i], stored, i)

    def m_eth_getTransactionReceipt(self, tx_hash: Any) -> dict[str, Any] | None:
        found = self.dev.chain.get_transaction(parse_hash(tx_hash))
        if found is None:
            return None
        _tx, _receipt, stored, index = found
        return self.format_receipt(stored, index)

    def m_eth_getBlockReceipts(self, tag: Any) -> list[dict[str, Any]] | None:
        stored = self._maybe_block(tag)
        if stored is None:
            return None
        return [self.format_receipt(stored, i) for i in range(len(stored.receipts))]

    def m_eth_call(self, obj: Any, tag: Any = "latest", overrides: Any = None) -> str:
        req = self.call_request(obj)
        state = None
        if tag not in ("latest", "pending", None):
            state = self.state_at(tag)
        if overrides:
            state = self._apply_overrides(state or self.dev.state(), overrides)
        return d(self.dev.call(req, state))

    def _apply_overrides(self, base: Any, overrides: Any) -> Any:
        if not isinstance(overrides, dict):
            raise InvalidParams("state overrides must be an object")
        state = base.copy()
        for key, o in overrides.items():
            a = parse_address(key)
            if "balance" in o:
                state.set_balance(a, parse_quantity(o["balance"], "balance"))
            if "nonce" in o:
                state.set_nonce(a, parse_quantity(o["nonce"], "nonce"))
            if "code" in o:
                state.set_code(a, parse_data(o["code"], "code"))
            acct = state.accounts.get(a)
            for field_name, replace in (("state", True), ("stateDiff", False)):
                if field_name in o and acct is not None:
                    if replace:
                        acct.storage.clear()
                    for k, v in o[field_name].items():
                        acct.storage[parse_slot(k)] = int.from_bytes(parse_hash(v), "big")
        state.begin_transaction()
        return state

    def m_eth_estimateGas(self, obj: Any, tag: Any = "latest") -> str:
        return q(self.dev.estimate_gas(self.call_request(obj)))

    def m_eth_createAccessList(self, obj: Any, tag: Any = "latest") -> dict[str, Any]:
        from chainvm.node.tracing import AccessListTracer

        req = self.call_request(obj)
        tracer = AccessListTracer()
        result = self.dev.execute(req, tracer=tracer)
        sender = req.sender or bytes(20)
        exclude = {sender, req.to or create_address(sender, self.dev.state().nonce(sender))}
        exclude.update(a.to_bytes(20, "big") for a in range(1, 0x12))
        entries = [{"address": d(a), "storageKeys": [f"0x{k:064x}" for k in sorted(keys)]}
                   for a, keys in tracer.accessed.items() if a not in exclude]
        out: dict[str, Any] = {"accessList": entries, "gasUsed": q(result.gas_used)}
        if not result.success:
            out["error"] = result.error
        return out

    def m_eth_sendTransaction(self, obj: Any) -> str:
        req = self.call_request(obj, need_from=True)
        return d(self.dev.send_transaction(req))

    def m_eth_sendRawTransaction(self, raw: Any) -> str:
        return d(self.dev.add_raw_transaction(parse_data(raw, "raw transaction")))

    def m_eth_sign(self, address: Any, message: Any) -> str:
        from chainvm.crypto import keccak256, sign_hash

        a = parse_address(address)
        key = self.dev.keys.get(a)
        if key is None:
            raise NodeError("unknown account", -32000)
        msg = parse_data(message, "message")
        digest = keccak256(b"\x19Ethereum Signed Message:\n" + str(len(msg)).encode() + msg)
        rid, r, s = sign_hash(digest, key)
        return d(r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + rid]))

    def m_personal_sign(self, message: Any, address: Any) -> str:
        return self.m_eth_sign(address, message)

    def m_eth_getLogs(self, obj: Any) -> list[dict[str, Any]]:
        return self._logs(self.log_criteria(obj))

    def m_eth_newFilter(self, obj: Any) -> str:
        crit = self.log_criteria(obj)
        start = self.dev.head.number + 1
        if "from" in crit and crit["from"] not in ("latest", "pending", None):
            start = self.number_for(crit["from"])
        return self._new_filter(Filter("logs", crit, start))

    def m_eth_newBlockFilter(self) -> str:
        return self._new_filter(Filter("blocks"))

    def m_eth_newPendingTransactionFilter(self) -> str:
        return self._new_filter(Filter("pending"))

    def m_eth_uninstallFilter(self, fid: Any) -> bool:
        key = parse_quantity(fid, "filter id")
        return self.filters.pop(key, None) is not None

    def m_eth_getFilterChanges(self, fid: Any) -> list[Any]:
        _key, f = self._filter(fid)
        if f.kind != "logs":
            out, f.pending = f.pending, []
            return out
        head = self.dev.head.number
        if f.next_block > head:
            return []
        crit = dict(f.criteria)
        if "block_hash" in crit:
            return []
        logs = self._logs({**crit, "to": q(min(head, self.number_for(crit["to"])))},
                          start=f.next_block)
        f.next_block = head + 1
        return logs

    def m_eth_getFilterLogs(self, fid: Any) -> list[Any]:
        _key, f = self._filter(fid)
        if f.kind != "logs":
            raise NodeError("filter is not a log filter", -32000)
        return self._logs(f.criteria)

    # -- test extras ------------------------------------------------------------------------------

    def m_evm_snapshot(self) -> str:
        return q(self.dev.snapshot())

    def m_evm_revert(self, sid: Any) -> bool:
        return self.dev.revert(parse_quantity(sid, "snapshot id"))

    def m_evm_mine(self, arg: Any = None) -> str:
        ts = None
        if isinstance(arg, str):
            ts = parse_quantity(arg, "timestamp")
        elif isinstance(arg, dict):
            ts = parse_quantity(arg["timestamp"]) if arg.get("timestamp") else None
            blocks = parse_quantity(arg["blocks"]) if arg.get("blocks") else 1
            self.dev.mine(blocks, ts)
            return "0x0"
        self.dev.mine(1, ts)
        return "0x0"

    def m_evm_increaseTime(self, seconds: Any) -> str:
        n = parse_quantity(seconds, "seconds") if isinstance(seconds, str) else int(seconds)
        return q(self.dev.increase_time(n))

    def m_evm_setNextBlockTimestamp(self, ts: Any) -> None:
        n = parse_quantity(ts, "timestamp") if isinstance(ts, str) else int(ts)
        self.dev.set_next_timestamp(n)

    def m_evm_setAutomine(self, on: Any) -> None:
        if not isinstance(on, bool):
            raise InvalidParams("expected a boolean")
        self.dev.automine = on

    def m_evm_setIntervalMining(self, seconds: Any) -> bool:
        """Mine every `seconds` (0: stop); only effective with the HTTP server's miner."""
        n = parse_quantity(seconds, "seconds") if isinstance(seconds, str) else seconds
        if not isinstance(n, (int, float)) or isinstance(n, bool) or n < 0:
            raise InvalidParams("seconds must be a non-negative number")
        self.dev.block_time = float(n) or None
        if n:
            self.dev.automine = False
        return True

    def m_anvil_getAutomine(self) -> bool:
        return self.dev.automine

    def m_hardhat_getAutomine(self) -> bool:
        return self.dev.automine

    def x_setBalance(self, address: Any, value: Any) -> bool:
        self.dev.set_balance(parse_address(address), parse_quantity(value, "balance"))
        return True

    def x_setCode(self, address: Any, code: Any) -> bool:
        self.dev.set_code(parse_address(address), parse_data(code, "code"))
        return True

    def x_setStorageAt(self, address: Any, slot: Any, value: Any) -> bool:
        self.dev.set_storage(parse_address(address), parse_slot(slot),
                             int.from_bytes(parse_hash(value, "value"), "big"))
        return True

    def x_setNonce(self, address: Any, nonce: Any) -> bool:
        self.dev.set_nonce(parse_address(address), parse_quantity(nonce, "nonce"))
        return True

    def x_impersonateAccount(self, address: Any) -> bool:
        self.dev.impersonate(parse_address(address))
        return True

    def x_stopImpersonatingAccount(self, address: Any) -> bool:
        self.dev.stop_impersonating(parse_address(address))
        return True

    def x_mine(self, blocks: Any = None, interval: Any = None) -> bool:
        n = parse_quantity(blocks, "blocks") if blocks is not None else 1
        step = parse_quantity(interval, "interval") if interval is not None else None
        ts = None
        if not step:  # no interval (or 0: blocks still need increasing timestamps)
            step = None
        else:
            ts = self.dev.head.header.timestamp + step
        self.dev.mine(n, ts, step)
        return True

    def x_setAutomine(self, on: Any) -> bool:
        self.m_evm_setAutomine(on)
        return True

    def x_dropTransaction(self, tx_hash: Any) -> bool:
        entry = self.dev.pool.by_hash.get(parse_hash(tx_hash))
        if entry is None:
            return False
        self.dev.pool._drop(entry)
        return True

    def x_setCoinbase(self, address: Any) -> bool:
        self.dev.coinbase = parse_address(address)
        return True

    def x_reset(self, *_args: Any) -> bool:
        """Back to genesis; with `forking: {jsonRpcUrl, blockNumber}` a new fork of that
        remote; a forked chain without it becomes a new local chain."""
        forking = _args[0].get("forking") if _args and isinstance(_args[0], dict) else None
        if forking is not None or self.dev.remote is not None:
            url, number = None, None
            if forking is not None:
                if not isinstance(forking, dict) or not isinstance(
                        forking.get("jsonRpcUrl"), str):
                    raise InvalidParams("forking: expected {jsonRpcUrl, blockNumber}")
                url = forking["jsonRpcUrl"]
                raw = forking.get("blockNumber")
                number = raw if isinstance(raw, int) and not isinstance(raw, bool) else (
                    parse_quantity(raw, "blockNumber") if raw is not None else None)
            self.dev.reset(url, number)
            self.filters.clear()
            return True
        genesis = self.dev.chain.get_block_by_number(0)
        assert genesis is not None
        sid = self.dev.snapshot()
        snap = self.dev.snapshots[sid]
        snap.head_hash = genesis.hash
        snap.state = genesis.state.copy()
        snap.pool = []
        snap.time_offset = 0
        snap.next_timestamp = None
        self.dev.revert(sid)
        self.dev.snapshots.clear()
        return True

    # -- debug -----------------------------------------------------------------------------------

    def _trace(self, run: Callable[[Any], Any], options: Any,
               top: dict[str, Any] | None = None) -> Any:
        opts = options if isinstance(options, dict) else {}
        tracer_name = opts.get("tracer")
        cfg = opts.get("tracerConfig") or {}
        if tracer_name == "callTracer":
            tracer = CallTracer(only_top=bool(cfg.get("onlyTopCall")),
                                with_logs=bool(cfg.get("withLog")))
            result = run(tracer)
            root = tracer.result(result, top)
            if top:
                root.update({k: v for k, v in top.items() if k in ("from", "gas", "input")})
            return root
        if tracer_name not in (None, "", "structLogger"):
            raise NodeError(f"tracer {tracer_name} not supported (structLogger, callTracer)",
                            -32000)
        collector = StepCollector(memory=bool(opts.get("enableMemory")),
                                  stack=not opts.get("disableStack"),
                                  storage=not opts.get("disableStorage"),
                                  limit=int(opts.get("limit") or 0))
        result = run(collector)
        return {"gas": result.gas_used, "failed": not result.success,
                "returnValue": result.output.hex(), "structLogs": collector.logs}

    def m_debug_traceTransaction(self, tx_hash: Any, options: Any = None) -> Any:
        found = self.dev.chain.get_transaction(parse_hash(tx_hash))
        if found is None:
            raise NodeError("transaction not found", -32000)
        tx, _r, stored, index = found
        top = {"type": "CALL" if tx.to else "CREATE", "from": d(self.dev.sender_of(tx)),
               "to": addr_out(tx.to), "value": q(tx.value), "gas": q(tx.gas_limit),
               "input": d(tx.data)}
        return self._trace(lambda tracer: self.dev.replay(stored, index, tracer), options, top)

    def m_debug_traceCall(self, obj: Any, tag: Any = "latest", options: Any = None) -> Any:
        req = self.call_request(obj)
        state = None if tag in ("latest", "pending", None) else self.state_at(tag)
        top = {"type": "CALL" if req.to else "CREATE", "from": d(req.sender or bytes(20)),
               "to": addr_out(req.to), "value": q(req.value), "input": d(req.data)}
        return self._trace(lambda tracer: self.dev.execute(req, state, tracer=tracer), options,
                           top)


def error_response(rid: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": err}
