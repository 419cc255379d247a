"""eth_simulateV1: calls in a row of simulated blocks, nothing kept.

Each entry of `blockStateCalls` is one block on top of the previous (the first on the
requested block): its `stateOverrides` apply first (as eth_call's), then its `calls` run in
order on one working state, each seeing the effects of those before. `blockOverrides` sets
number, time, gasLimit, feeRecipient, baseFeePerGas and prevRandao; otherwise a block is
the next number, 12 seconds later. Without `validation`, unpriced calls pay no base fee.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainvm.chain.block import logs_bloom
from chainvm.crypto import keccak256
from chainvm.evm.env import BlockEnv
from chainvm.node.devchain import NodeError, revert_message
from chainvm.node.rpc.format import d, q
from chainvm.node.rpc.params import (
    BlockId,
    InvalidParams,
    parse_address,
    parse_call_args,
    parse_hash,
    parse_object,
    parse_quantity,
)

if TYPE_CHECKING:
    from chainvm.node.rpc.base import Namespace

MAX_BLOCKS = 256
BLOCK_INTERVAL = 12


def _call_result(result: Any, block_hash: bytes, number: int, tx_hash: bytes, index: int,
                 first_log: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": q(1 if result.success else 0),
        "returnData": d(result.output),
        "gasUsed": q(result.gas_used),
        "logs": [{"address": d(log.address), "topics": [d(t.to_bytes(32, "big"))
                                                        for t in log.topics],
                  "data": d(log.data), "blockNumber": q(number), "blockHash": d(block_hash),
                  "transactionHash": d(tx_hash), "transactionIndex": q(index),
                  "logIndex": q(first_log + i), "removed": False}
                 for i, log in enumerate(result.logs)],
    }
    if not result.success:
        if result.error == "execution reverted":
            reason = revert_message(result.output)
            out["error"] = {"code": 3, "data": d(result.output),
                            "message": "execution reverted" + (f": {reason}" if reason
                                                               else "")}
        else:
            out["error"] = {"code": -32015, "message": result.error or "execution failed"}
    return out


def simulate(api: Namespace, options: dict[str, Any], block: BlockId) -> list[dict[str, Any]]:
    from chainvm.node.rpc.eth import apply_overrides

    specs = options.get("blockStateCalls")
    if not isinstance(specs, list):
        raise InvalidParams("invalid argument 0: blockStateCalls must be an array")
    if len(specs) > MAX_BLOCKS:
        raise InvalidParams(f"invalid argument 0: at most {MAX_BLOCKS} blocks")
    dev = api.dev
    base = api.block(block)
    state = base.state.copy()
    number, timestamp = base.number, base.header.timestamp
    parent_hash = base.hash
    validation = bool(options.get("validation"))
    hashes: dict[int, bytes] = {}
    ancestors = dev.chain.ancestor_hashes(base)
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(specs):
        what = f"invalid argument 0: blockStateCalls[{i}]"
        spec = parse_object(raw, what)
        if spec.get("stateOverrides") is not None:
            state = apply_overrides(state, spec["stateOverrides"])
        bo = parse_object(spec.get("blockOverrides") or {}, f"{what}.blockOverrides")
        next_number = parse_quantity(bo["number"], f"{what}.number", 64) \
            if bo.get("number") is not None else number + 1
        next_time = parse_quantity(bo["time"], f"{what}.time", 64) \
            if bo.get("time") is not None else timestamp + BLOCK_INTERVAL
        if next_number <= number or next_time <= timestamp:
            raise InvalidParams(f"{what}: block numbers and times must increase")
        if (next_number | next_time) >> 64:  # the defaults add to a 64-bit given value
            raise InvalidParams(f"{what}: block number or time past 2^64-1")
        number, timestamp = next_number, next_time
        fork = dev.config.fork_at(number, timestamp, base.total_difficulty)
        base_fee = dev.next_base_fee() if validation else 0
        if bo.get("baseFeePerGas") is not None:
            base_fee = parse_quantity(bo["baseFeePerGas"], f"{what}.baseFeePerGas")
        gas_limit = parse_quantity(bo["gasLimit"], f"{what}.gasLimit", 64) \
            if bo.get("gasLimit") is not None else base.header.gas_limit
        coinbase = parse_address(bo["feeRecipient"], f"{what}.feeRecipient") \
            if bo.get("feeRecipient") is not None else dev.coinbase
        randao = parse_hash(bo["prevRandao"], f"{what}.prevRandao") \
            if bo.get("prevRandao") is not None else bytes(32)

        def block_hash(n: int, known: dict[int, bytes] = hashes) -> bytes:
            return known.get(n) or ancestors(n)

        env = BlockEnv(coinbase=coinbase, number=number, timestamp=timestamp,
                       gas_limit=gas_limit, difficulty=0, prev_randao=randao,
                       base_fee=base_fee, chain_id=dev.chain_id, excess_blob_gas=0,
                       parent_beacon_block_root=bytes(32), block_hash=block_hash)
        # A simulated block has no consensus hash: one derived from its parent and number.
        this_hash = keccak256(parent_hash + number.to_bytes(8, "big"))
        calls = spec.get("calls") or []
        if not isinstance(calls, list):
            raise InvalidParams(f"{what}.calls must be an array")
        results: list[dict[str, Any]] = []
        all_logs: list[Any] = []
        gas_used = 0
        for j, call in enumerate(calls):
            args = parse_call_args(call, f"{what}.calls[{j}]")
            if args.gas is None:
                args.gas = gas_limit - gas_used
            tx_hash = keccak256(this_hash + j.to_bytes(4, "big"))
            try:
                result = dev.execute(args, state, env, fork, commit=True)
            except NodeError as exc:
                results.append({"status": "0x0", "returnData": "0x", "gasUsed": "0x0",
                                "logs": [], "error": {"code": -38014, "message": str(exc)}})
                continue
            results.append(_call_result(result, this_hash, number, tx_hash, j,
                                        len(all_logs)))
            all_logs.extend(result.logs)
            gas_used += result.gas_used
        hashes[number] = this_hash
        out.append({"number": q(number), "hash": d(this_hash), "parentHash": d(parent_hash),
                    "timestamp": q(timestamp), "gasLimit": q(gas_limit),
                    "gasUsed": q(gas_used), "miner": d(coinbase), "baseFeePerGas": q(base_fee),
                    "stateRoot": d(state.state_root()), "logsBloom": d(logs_bloom(all_logs)),
                    "mixHash": d(randao), "transactions": [], "uncles": [],
                    "calls": results})
        parent_hash = this_hash
    return out
