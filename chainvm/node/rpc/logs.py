"""eth_getLogs and the filter methods (eth_newFilter, eth_getFilterChanges, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from chainvm.chain.chain import StoredBlock
from chainvm.chain.transactions import SignedTransaction
from chainvm.node.devchain import DevChain, NodeError
from chainvm.node.rpc.base import Namespace, RpcOptions
from chainvm.node.rpc.format import d, format_log, q
from chainvm.node.rpc.params import (
    BlockId,
    Decoder,
    InvalidParams,
    Quantity,
    parse_address,
    parse_block_id,
    parse_hash,
    parse_object,
)
from chainvm.state.state import Log

MAX_LOG_BLOCK_RANGE = 100_000


@dataclass
class LogCriteria:
    """Which logs a filter wants: addresses (None: any), topics per position (None: any),
    and either one block by hash or a range of blocks."""

    addresses: set[bytes] | None
    topics: list[set[int] | None]
    block_hash: bytes | None = None
    first: BlockId = field(default_factory=lambda: BlockId(tag="latest"))
    last: BlockId = field(default_factory=lambda: BlockId(tag="latest"))

    def matches(self, log: Log) -> bool:
        if self.addresses is not None and log.address not in self.addresses:
            return False
        if len(self.topics) > len(log.topics):
            return False
        return all(want is None or log.topics[i] in want for i, want in enumerate(self.topics))


def parse_log_criteria(v: Any, what: str = "filter") -> LogCriteria:
    obj = parse_object(v, what)
    address = obj.get("address")
    addresses: set[bytes] | None
    if address is None:
        addresses = None
    elif isinstance(address, list):  # (an empty list filters nothing, as in geth and anvil)
        addresses = {parse_address(a, f"{what}: address") for a in address} or None
    else:
        addresses = {parse_address(address, f"{what}: address")}
    raw_topics = obj.get("topics") or []
    if not isinstance(raw_topics, list):
        raise InvalidParams(f"{what}: topics must be an array")
    topics: list[set[int] | None] = []
    for t in raw_topics:
        if t is None:
            topics.append(None)
        elif isinstance(t, list):
            topics.append({int.from_bytes(parse_hash(x, f"{what}: topic"), "big") for x in t
                           if x is not None} or None)
        else:
            topics.append({int.from_bytes(parse_hash(t, f"{what}: topic"), "big")})
    crit = LogCriteria(addresses, topics)
    if obj.get("blockHash") is not None:
        if obj.get("fromBlock") is not None or obj.get("toBlock") is not None:
            raise InvalidParams(f"{what}: blockHash excludes fromBlock and toBlock")
        crit.block_hash = parse_hash(obj["blockHash"], f"{what}: blockHash")
    else:
        crit.first = parse_block_id(obj.get("fromBlock"), f"{what}: fromBlock")
        crit.last = parse_block_id(obj.get("toBlock"), f"{what}: toBlock")
        if crit.first.hash is not None or crit.last.hash is not None:
            raise InvalidParams(f"{what}: fromBlock and toBlock take numbers or tags")
    return crit


FilterObject = Annotated[LogCriteria, Decoder(parse_log_criteria)]


def block_logs(stored: StoredBlock, crit: LogCriteria) -> list[dict[str, Any]]:
    """The logs of one block that `crit` matches, formatted."""
    out = []
    log_index = 0
    for ti, receipt in enumerate(stored.receipts):
        for log in receipt.logs:
            if crit.matches(log):
                out.append(format_log(log, stored, ti, log_index))
            log_index += 1
    return out


def _remote_criteria(crit: LogCriteria, **where: str) -> dict[str, Any]:
    """`crit` as an eth_getLogs filter object for a forked chain's remote."""
    out: dict[str, Any] = dict(where)
    if crit.addresses is not None:
        out["address"] = sorted(d(a) for a in crit.addresses)
    if crit.topics:
        out["topics"] = [None if want is None else sorted(f"0x{t:064x}" for t in want)
                         for want in crit.topics]
    return out


@dataclass
class Filter:
    kind: str  # "logs", "blocks", "pending"
    criteria: LogCriteria | None = None
    next_block: int = 0
    pending: list[Any] = field(default_factory=list)


class LogsApi(Namespace):
    prefixes = ("eth_",)

    def __init__(self, dev: DevChain, options: RpcOptions | None = None) -> None:
        super().__init__(dev, options)
        self.filters: dict[int, Filter] = {}
        self._next_filter = 1
        dev.listeners.append(self._on_block)
        dev.pool_listeners.append(self._on_pending)

    def eth_getLogs(self, criteria: FilterObject) -> list[dict[str, Any]]:
        first, last = criteria.first.number, criteria.last.number
        if first is not None and last is not None and first > last:
            # geth's answer to a range given backwards in numbers (with a tag such as
            # "latest" at either end, it answers for what the range holds)
            raise NodeError("invalid block range params", -32000)
        return self._logs(criteria)

    def eth_newFilter(self, criteria: FilterObject) -> str:
        start = self.dev.head.number + 1
        if criteria.first.tag not in ("latest", "pending"):
            start = self.number(criteria.first)
        return self._new_filter(Filter("logs", criteria, start))

    def eth_newBlockFilter(self) -> str:
        return self._new_filter(Filter("blocks"))

    def eth_newPendingTransactionFilter(self) -> str:
        return self._new_filter(Filter("pending"))

    def eth_uninstallFilter(self, filter_id: Quantity) -> bool:
        return self.filters.pop(filter_id, None) is not None

    def eth_getFilterChanges(self, filter_id: Quantity) -> list[Any]:
        f = self._filter(filter_id)
        if f.criteria is None:
            out, f.pending = f.pending, []
            return out
        head = self.dev.head.number
        if f.next_block > head or f.criteria.block_hash is not None:
            return []
        last = min(head, self.number(f.criteria.last))
        logs = self._span_logs(f.criteria, f.next_block, last)
        f.next_block = head + 1
        return logs

    def eth_getFilterLogs(self, filter_id: Quantity) -> list[Any]:
        f = self._filter(filter_id)
        if f.criteria is None:
            raise NodeError("filter is not a log filter", -32000)
        return self._logs(f.criteria)

    # -- helpers ---------------------------------------------------------------------------

    def _logs(self, crit: LogCriteria) -> list[dict[str, Any]]:
        remote = self.dev.remote
        if crit.block_hash is not None:
            stored = self.dev.chain.get_canonical_block(crit.block_hash)
            if remote is not None and (stored.number <= remote.number if stored else (
                    remote.historic("eth_getBlockByHash", [d(crit.block_hash), False])
                    is not None)):  # forked: a block up to N, the remote's
                return remote.logs(_remote_criteria(crit, blockHash=d(crit.block_hash)))
            if stored is None:
                raise NodeError("unknown block", -32000)
            return block_logs(stored, crit)
        return self._span_logs(crit, self.number(crit.first),
                               min(self.number(crit.last), self.dev.head.number))

    def _span_logs(self, crit: LogCriteria, lo: int, hi: int) -> list[dict[str, Any]]:
        """The logs of blocks lo..hi that `crit` matches."""
        remote = self.dev.remote
        if remote is not None and lo <= remote.number:
            # Forked: the logs of blocks up to N are the remote's; the fork's own blocks
            # start at N + 1.
            older = remote.logs(_remote_criteria(crit, fromBlock=q(lo),
                                                 toBlock=q(min(hi, remote.number))))
            return older + self._range_logs(crit, remote.number + 1, hi)
        return self._range_logs(crit, lo, hi)

    def _range_logs(self, crit: LogCriteria, lo: int, hi: int) -> list[dict[str, Any]]:
        if hi - lo > MAX_LOG_BLOCK_RANGE:
            raise NodeError(f"query exceeds the maximum block range of {MAX_LOG_BLOCK_RANGE}",
                            -32005)
        out = []
        for n in range(lo, hi + 1):
            stored = self.dev.chain.get_block_by_number(n)
            if stored is not None and any(r.logs for r in stored.receipts):
                out.extend(block_logs(stored, crit))
        return out

    def _on_block(self, stored: StoredBlock) -> None:
        for f in self.filters.values():
            if f.kind == "blocks":
                f.pending.append(d(stored.hash))

    def _on_pending(self, tx: SignedTransaction) -> None:
        """A pending-transaction filter gets each transaction as it enters the pool (as in
        geth and anvil; with automine off it shows before any block holds it)."""
        for f in self.filters.values():
            if f.kind == "pending":
                f.pending.append(d(tx.hash))

    def _new_filter(self, f: Filter) -> str:
        fid = self._next_filter
        self._next_filter += 1
        self.filters[fid] = f
        return q(fid)

    def _filter(self, filter_id: int) -> Filter:
        f = self.filters.get(filter_id)
        if f is None:
            raise NodeError("filter not found", -32000)
        return f
