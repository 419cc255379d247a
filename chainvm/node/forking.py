"""Fork mode: a local chain on top of a remote JSON-RPC node's state at one past block.

`RemoteState` reads accounts, code, storage slots and block hashes of a remote node as of
block N (JSON-RPC over HTTP, batched, with timeouts, retries with back-off and respect of
rate limits), keeps what it read in memory and, given a cache directory, in an LMDB
environment keyed by the remote's chain id and N, shared safely by several processes.

`ForkedAccounts` and `ForkedStorage` are the state layer's hook: dict subclasses that a
`State` holds instead of plain dicts. A key missing locally is read from the remote on
first use and then kept; local writes and deletions shadow the remote. A chain that does
not fork holds plain dicts, so its state reads run exactly the code they ran before.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from chainvm.chain.block import Block, Header, Withdrawal
from chainvm.encoding.json_input import InputError, parse_data, parse_quantity, short
from chainvm.node.devchain import NodeError
from chainvm.node.limits import JsonShapeError, load_json
from chainvm.state.state import Account, State

T = TypeVar("T")
RATE_LIMIT_CODES = (429, -32005, -32029)
DEFAULT_TIMEOUT = 15.0
DEFAULT_RETRIES = 4
CACHE_MAP_SIZE = 1 << 34  # sparse file: address space, not disk
# The largest reply body read from the remote: far above any honest answer the fork asks
# for (a 10,000-log eth_getLogs is about 10 MB, code at most a few hundred KB), yet a
# remote cannot make the node hold gigabytes. Larger replies fail the request.
MAX_REPLY_BYTES = 128 * 1024 * 1024
_READ_CHUNK = 1 << 16


class RemoteError(NodeError):
    """The remote node cannot be reached or cannot serve what the fork needs (one line; a
    JSON-RPC server error when it stops a request)."""


# -- JSON-RPC client ---------------------------------------------------------------------------


class JsonRpcClient:
    """A synchronous JSON-RPC client over one kept-alive HTTP(S) connection.

    Connection failures, timeouts, HTTP 429 and 5xx answers and JSON-RPC rate-limit errors
    are retried with exponential back-off (and the server's Retry-After, when it sends
    one); anything else fails at once with a `RemoteError`."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = DEFAULT_RETRIES, backoff: float = 0.2,
                 max_backoff: float = 5.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(f"fork URL {url!r}: expected http:// or https://host[:port]")
        self.url = url
        self.display = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.total_timeout = 2 * timeout  # per request, retries included
        self.requests = 0  # HTTP requests sent (a batch counts once)
        self.calls = 0  # JSON-RPC calls sent (each member of a batch counts)
        self._next_id = 0
        self._conn: http.client.HTTPConnection | None = None
        self._batches = True  # cleared when the server refuses batches

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.https:
                self._conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout,
                    context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout)
        return self._conn

    def _delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return base * (0.5 + random.random() / 2)  # jitter: workers do not retry in step

    def _post(self, payload: Any) -> Any:
        """POST one JSON payload; the decoded reply. Retries transient failures."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        problem = ""
        retry_after: str | None = None
        give_up = time.monotonic() + self.total_timeout
        tried = 0
        reused_failed = False
        for attempt in range(self.retries + 1):
            if attempt and not reused_failed:
                delay = self._delay(attempt - 1, retry_after)
                if time.monotonic() + delay > give_up:
                    break  # a remote that hangs fails in bounded time
                time.sleep(delay)
            retry_after = None
            tried += 1
            reused = self._conn is not None and not reused_failed
            reused_failed = False
            try:
                conn = self._connection()
                if conn.sock is not None:
                    conn.sock.settimeout(self.timeout)  # the last body read may have lowered it
                self.requests += 1
                conn.request("POST", self.path, body, headers)
                resp = conn.getresponse()
                raw = self._read_body(resp, give_up)
            except _TooLarge:
                self.close()  # the rest of the body is not read: the connection is spent
                raise RemoteError(f"fork: remote {self.display} sent a reply over "
                                  f"{MAX_REPLY_BYTES} bytes") from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                problem = _describe(exc)
                # A kept-alive connection the server closed while idle: again at once.
                reused_failed = reused and not isinstance(exc, TimeoutError)
                continue
            if resp.status == 429 or resp.status >= 500:
                retry_after = resp.getheader("Retry-After")
                problem = f"HTTP {resp.status}"
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                continue
            if resp.status != 200:
                raise RemoteError(f"fork: remote {self.display} answered HTTP {resp.status}")
            try:
                # The node's own reader of untrusted JSON: nesting and number lengths
                # bounded (the parser recurses per level), NaN and Infinity refused.
                return load_json(raw)
            except ValueError as exc:  # JSONDecodeError, JsonShapeError, UnicodeDecodeError
                reason = f" ({exc})" if isinstance(exc, JsonShapeError) else ""
                raise RemoteError(f"fork: remote {self.display} sent a reply that is not "
                                  f"JSON{reason}") from None
        raise RemoteError(f"fork: remote {self.display} unreachable ({problem}; "
                          f"{tried} attempts)")

    def _read_body(self, resp: http.client.HTTPResponse, give_up: float) -> bytes:
        """The reply's body: at most MAX_REPLY_BYTES (else `_TooLarge`), and complete by
        `give_up` (else TimeoutError): each read waits for one arrival only, so a remote
        that sends its body a byte at a time cannot stretch the request without end."""
        length = resp.getheader("Content-Length", "")
        if length.isdigit() and int(length) > MAX_REPLY_BYTES:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        sock = self._conn.sock if self._conn is not None else None
        while True:
            if resp.length == 0:  # all of a Content-Length body: done, and the response
                resp.close()  # closed (read1 leaves it open) so the connection is reused
                return b"".join(chunks)
            left = give_up - time.monotonic()
            if left <= 0:
                raise TimeoutError("the reply did not arrive in time")
            if sock is not None:
                sock.settimeout(min(self.timeout, left))
            chunk = resp.read1(_READ_CHUNK)
            if not chunk:
                if resp.length:  # the remote closed before the length it announced
                    raise http.client.IncompleteRead(b"".join(chunks), resp.length)
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise _TooLarge
            chunks.append(chunk)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Run several calls (one HTTP request when the server takes batches); their results
        in order. A JSON-RPC error of any call raises `RemoteError`."""
        if not calls:
            return []
        results: dict[int, Any] = {}
        pending = {self._new_id(): call for call in calls}
        order = list(pending)
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self._delay(attempt - 1))
            payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p}
                       for i, (m, p) in pending.items()]
            self.calls += len(payload)
            if len(payload) == 1 or not self._batches:
                replies = [self._post(item) for item in payload]
            else:
                reply = self._post(payload)
                if not isinstance(reply, list):
                    # Some servers answer a batch with one error: fall back to single calls.
                    self._batches = False
                    replies = [self._post(item) for item in payload]
                else:
                    replies = reply
            limited = False
            asked = set(pending)
            for reply in replies:
                if not isinstance(reply, dict):
                    raise self._malformed(f"a reply that is not an object: {short(reply)}")
                rid, error = reply.get("id"), reply.get("error")
                if rid is None and error is not None:
                    # An error tied to no call: the remote could not take the request.
                    if _rate_limited(error):
                        limited = True
                        continue
                    raise RemoteError(f"fork: remote {self.display}: {_error_text(error)}")
                if type(rid) is not int or rid not in asked:
                    raise self._malformed(f"a reply to an id it was not asked: {short(rid)}")
                if rid not in pending:
                    raise self._malformed(f"two replies with id {rid}")
                method = pending[rid][0]
                if error is None:
                    if "result" not in reply:
                        raise self._malformed(f"a reply to {method} with neither result nor "
                                              "error")
                    results[rid] = reply["result"]
                    del pending[rid]
                elif _rate_limited(error):
                    limited = True
                    asked.discard(rid)  # asked again in the next round
                else:
                    raise RemoteError(f"fork: remote {self.display}: {method}: "
                                      f"{_error_text(error)}")
            if not pending:
                return [results[i] for i in order]
            if not limited:
                raise RemoteError(f"fork: remote {self.display} left {len(pending)} "
                                  "call(s) unanswered")
        raise RemoteError(f"fork: remote {self.display} keeps rate-limiting "
                          f"({self.retries + 1} attempts)")

    def call(self, method: str, params: list[Any]) -> Any:
        return self.batch([(method, params)])[0]

    def _malformed(self, what: str) -> RemoteError:
        return RemoteError(f"fork: remote {self.display} sent {what}")

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id


class _TooLarge(Exception):
    """A reply body over MAX_REPLY_BYTES."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


def _error_text(error: Any) -> str:
    """A JSON-RPC error object's message, as one short line."""
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str):
        return f"malformed error {short(error)}"
    lines = message.strip().splitlines()
    text = lines[0] if lines else "(no message)"
    return text if len(text) <= 200 else text[:200] + "..."


def _rate_limited(error: Any) -> bool:
    if not isinstance(error, dict):
        return False
    message = str(error.get("message", "")).lower()
    return error.get("code") in RATE_LIMIT_CODES or "rate limit" in message \
        or "too many requests" in message


# -- persistent cache ---------------------------------------------------------------------------


class ForkCache:
    """What forks read, in one LMDB environment (safe for several processes: LMDB locks
    its writers across processes; each fetch is written in one transaction).

    Keys: the fork point of (URL, block number) -> chain id and block; under the prefix
    chain id + block number: accounts, storage slots, block hashes and blocks."""

    # LMDB refuses to open one environment twice in a process: forks of one process that
    # share a directory (a re-fork by anvil_reset, several chains in a test) share it.
    _open: ClassVar[dict[str, ForkCache]] = {}
    # Every key starts with the format of what is stored under it. Entries of another
    # format are never read: those written before the remote's answers were checked
    # strictly (format 1, unprefixed keys) may hold values a malformed answer gave.
    FORMAT: ClassVar[bytes] = b"2:"

    def __init__(self, path: str | Path) -> None:
        import lmdb

        Path(path).mkdir(parents=True, exist_ok=True)
        self.path = str(Path(path).resolve())
        self.env = lmdb.open(self.path, map_size=CACHE_MAP_SIZE, max_dbs=0, sync=False,
                             metasync=False, max_readers=512)
        self.disabled = False  # set when the map is full: the fork runs on, uncached
        self.users = 1

    @classmethod
    def open(cls, path: str | Path) -> ForkCache:
        known = cls._open.get(str(Path(path).resolve()))
        if known is not None:
            known.users += 1
            return known
        cache = cls(path)
        cls._open[cache.path] = cache
        return cache

    def close(self) -> None:
        self.users -= 1
        if self.users == 0:
            self._open.pop(self.path, None)
            self.env.close()

    def get(self, key: bytes) -> bytes | None:
        with self.env.begin() as txn:
            value = txn.get(self.FORMAT + key)
        return bytes(value) if value is not None else None

    def put_many(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        if self.disabled:
            return
        import lmdb

        try:
            with self.env.begin(write=True) as txn:
                for key, value in items:
                    txn.put(self.FORMAT + key, value)
        except lmdb.MapFullError:
            self.disabled = True


# -- the remote state ---------------------------------------------------------------------------


def _qty(value: Any, what: str, bits: int = 256) -> int:
    """A JSON-RPC quantity from the remote: "0x" and hex digits only (no sign, spaces or
    underscores, which int() would take), at most `bits` wide."""
    if not isinstance(value, str) or value[:2] != "0x" or not value[2:].isalnum() \
            or not value.isascii():
        raise RemoteError(f"fork: remote sent a malformed {what}: {short(value)}")
    try:
        return parse_quantity(value, "", bits)
    except InputError as exc:
        raise RemoteError(f"fork: remote sent a malformed {what}: {exc}") from None


def _data(value: Any, what: str, size: int | None = None, max_size: int | None = None
          ) -> bytes:
    """JSON-RPC data from the remote: "0x" and pairs of hex digits, nothing else (the
    strict reader: bytes.fromhex alone skips whitespace); `size` bytes exactly, or at
    most `max_size`."""
    if not isinstance(value, str) or value[:2] != "0x":
        raise RemoteError(f"fork: remote sent a malformed {what}: {short(value)}")
    try:
        raw = parse_data(value)
    except InputError:
        raise RemoteError(f"fork: remote sent a malformed {what}: {short(value)} (pairs "
                          "of hex digits after 0x expected)") from None
    if size is not None and len(raw) != size:
        raise RemoteError(f"fork: remote sent a {what} of {len(raw)} bytes (expected {size})")
    if max_size is not None and len(raw) > max_size:
        raise RemoteError(f"fork: remote sent a {what} of {len(raw)} bytes (at most "
                          f"{max_size})")
    return raw


_HEADER_FIELDS: list[tuple[str, str, Any]] = [
    ("parent_hash", "parentHash", 32), ("ommers_hash", "sha3Uncles", 32),
    ("coinbase", "miner", 20), ("state_root", "stateRoot", 32),
    ("transactions_root", "transactionsRoot", 32), ("receipts_root", "receiptsRoot", 32),
    ("bloom", "logsBloom", 256), ("difficulty", "difficulty", int),
    ("number", "number", int), ("gas_limit", "gasLimit", int), ("gas_used", "gasUsed", int),
    ("timestamp", "timestamp", int), ("extra_data", "extraData", None),
    ("mix_hash", "mixHash", 32), ("nonce", "nonce", 8),
]
_OPTIONAL_HEADER_FIELDS: list[tuple[str, str, Any]] = [
    ("base_fee", "baseFeePerGas", int), ("withdrawals_root", "withdrawalsRoot", 32),
    ("blob_gas_used", "blobGasUsed", int), ("excess_blob_gas", "excessBlobGas", int),
    ("parent_beacon_block_root", "parentBeaconBlockRoot", 32),
    ("requests_hash", "requestsHash", 32),
]


# Header quantities of 64 bits (the others, difficulty and base fee, are words).
_U64_HEADER_FIELDS = frozenset(("number", "gas_limit", "gas_used", "timestamp",
                                "blob_gas_used", "excess_blob_gas"))


def header_from_json(block: Any) -> Header:
    """A header from an eth_getBlockByNumber answer; its hash is the one the remote sent
    (a header field this code does not know would otherwise change it)."""
    if not isinstance(block, dict):
        raise RemoteError(f"fork: remote sent a block that is not an object: {short(block)}")
    values: dict[str, Any] = {}
    for name, key, kind in _HEADER_FIELDS + _OPTIONAL_HEADER_FIELDS:
        raw = block.get(key)
        if raw is None:
            if (name, key, kind) in _HEADER_FIELDS and name not in ("mix_hash", "nonce"):
                raise RemoteError(f"fork: remote block has no {key}")
            if name == "mix_hash":
                raw = "0x" + "00" * 32
            elif name == "nonce":
                raw = "0x" + "00" * 8
            else:
                continue
        values[name] = _qty(raw, key, 64 if name in _U64_HEADER_FIELDS else 256) \
            if kind is int else _data(raw, key, kind)
    header = Header(**values)
    header._hash = _data(block.get("hash"), "block hash", 32)
    return header


class RemoteState:
    """A remote node's state as of one block, read on demand and kept."""

    def __init__(self, client: JsonRpcClient, chain_id: int, block: dict[str, Any],
                 cache: ForkCache | None = None) -> None:
        self.client = client
        self.chain_id = chain_id
        self.block = block
        self.header = header_from_json(block)
        self.number = self.header.number
        self.tag = hex(self.number)
        self.cache = cache
        self.prefix = chain_id.to_bytes(8, "big") + self.number.to_bytes(8, "big")
        self.accounts: dict[bytes, tuple[int, int, bytes] | None] = {}
        self.slots: dict[tuple[bytes, int], int] = {}
        self.hashes: dict[int, bytes] = {self.number: self.header.hash,
                                         self.number - 1: self.header.parent_hash}
        self.blocks: dict[tuple[int, bool], Any] = {}
        self._older: dict[int, State] = {}
        # During a speculative pass (see `speculate`), the accounts and slots read that
        # are not held yet: recorded, not fetched, and read as absent / zero.
        self.speculating = False
        self.missed_accounts: set[bytes] = set()
        self.missed_slots: dict[bytes, set[int]] = {}

    def switch_url(self, url: str) -> None:
        """Read from another endpoint of the same chain from now on (anvil_setRpcUrl): a
        failover, or an archive node. Its chain id is checked first; the fork block and
        what was read stay as they are."""
        old = self.client
        client = JsonRpcClient(url, timeout=old.timeout, retries=old.retries)
        try:
            chain_id = int(client.call("eth_chainId", []), 16)
        except (TypeError, ValueError):
            client.close()
            raise RemoteError(f"{client.display}: eth_chainId gave no number") from None
        except BaseException:
            client.close()
            raise
        if chain_id != self.chain_id:
            client.close()
            raise RemoteError(f"{client.display} serves chain {chain_id}, the fork is of "
                              f"chain {self.chain_id}", -32602)
        self.client = client
        old.close()

    @classmethod
    def open(cls, url: str, block_number: int | None = None,
             cache_dir: str | Path | None = None, timeout: float = DEFAULT_TIMEOUT,
             retries: int = DEFAULT_RETRIES) -> RemoteState:
        """Connect to the fork point: the remote's chain id and block `block_number` (its
        latest when None). With a warm cache and a block number, no request is made."""
        if block_number is not None and block_number < 0:
            raise RemoteError(f"fork: block number {block_number} is negative")
        client = JsonRpcClient(url, timeout=timeout, retries=retries)
        cache = None
        if cache_dir is not None:
            import lmdb

            try:
                cache = ForkCache.open(cache_dir)
            except (OSError, lmdb.Error) as exc:
                raise ValueError(f"fork cache {cache_dir}: {exc}") from None
        try:
            return cls._connect(client, url, block_number, cache)
        except BaseException:
            client.close()
            if cache is not None:
                cache.close()
            raise

    @classmethod
    def _connect(cls, client: JsonRpcClient, url: str, block_number: int | None,
                 cache: ForkCache | None) -> RemoteState:
        point_key = b"P" + url.encode() + b"@" + (block_number or 0).to_bytes(8, "big")
        if cache is not None and block_number is not None:
            known = cache.get(point_key)
            if known is not None:
                point = json.loads(known)
                return cls(client, point["chainId"], point["block"], cache)
        if block_number is None:
            chain_hex, block = client.batch([("eth_chainId", []),
                                             ("eth_getBlockByNumber", ["latest", False])])
        else:
            chain_hex, block = client.batch([("eth_chainId", []),
                                             ("eth_getBlockByNumber",
                                              [hex(block_number), False])])
        chain_id = _qty(chain_hex, "chain id", 64)
        if chain_id == 0:
            raise RemoteError(f"fork: remote {client.display} sent chain id 0")
        if block is None:
            latest = client.call("eth_blockNumber", [])
            raise RemoteError(f"fork: remote {client.display} has no block {block_number} "
                              f"(its latest is {_qty(latest, 'block number', 64)})")
        if not isinstance(block, dict):
            raise RemoteError(f"fork: remote {client.display} sent a block that is not an "
                              f"object: {short(block)}")
        block = {k: v for k, v in block.items() if k != "transactions"}
        state = cls(client, chain_id, block, cache)  # the header parsed before it is kept
        if block_number is not None and state.number != block_number:
            raise RemoteError(f"fork: remote {client.display} sent block {state.number} "
                              f"when asked for block {block_number}")
        if cache is not None:
            point = json.dumps({"chainId": chain_id, "block": block}).encode()
            cache.put_many([(b"P" + url.encode() + b"@" + state.number.to_bytes(8, "big"),
                             point)])
        return state

    def close(self) -> None:
        self.client.close()
        if self.cache is not None:
            self.cache.close()

    @property
    def requests(self) -> int:
        return self.client.requests

    def genesis(self) -> Block:
        """Block N as the local chain's first block (header only: its body is remote)."""
        withdrawals: list[Withdrawal] | None = [] if self.header.withdrawals_root else None
        return Block(self.header, [], [], withdrawals)

    # -- accounts ---------------------------------------------------------------------------

    def account(self, address: bytes) -> tuple[int, int, bytes] | None | Unknown:
        """(nonce, balance, code) at block N, or None when the account does not exist;
        UNKNOWN in a speculative pass when it is not held yet."""
        if address in self.accounts:
            return self.accounts[address]
        if self.speculating:
            if self._from_cache_accounts([address]):
                self.missed_accounts.add(address)
                return UNKNOWN
            return self.accounts[address]
        self.prefetch_accounts([address])
        return self.accounts[address]

    def _from_cache_accounts(self, wanted: list[bytes]) -> list[bytes]:
        """Take what the persistent cache holds of `wanted`; the rest."""
        if self.cache is None:
            return wanted
        missing = []
        for address in wanted:
            raw = self.cache.get(self.prefix + b"a" + address)
            if raw is None:
                missing.append(address)
            elif raw == b"":
                self.accounts[address] = None
            else:
                self.accounts[address] = (int.from_bytes(raw[:32], "big"),
                                          int.from_bytes(raw[32:64], "big"), raw[64:])
        return missing

    def prefetch_accounts(self, addresses: Iterable[bytes]) -> None:
        """Read the accounts not known yet: each one's balance, nonce and code in one batch."""
        self.prefetch(addresses, {})

    def prefetch(self, addresses: Iterable[bytes], slots: dict[bytes, set[int]]) -> None:
        """Read the accounts and slots not known yet, all in one batch."""
        wanted = self._from_cache_accounts(
            [a for a in dict.fromkeys(addresses) if a not in self.accounts])
        wanted_slots = [(address, slot) for address, keys in slots.items()
                        for slot in self._from_cache_slots(address, keys)]
        if not wanted and not wanted_slots:
            return
        calls: list[tuple[str, list[Any]]] = []
        for address in wanted:
            hex_address = "0x" + address.hex()
            calls += [("eth_getBalance", [hex_address, self.tag]),
                      ("eth_getTransactionCount", [hex_address, self.tag]),
                      ("eth_getCode", [hex_address, self.tag])]
        calls += [("eth_getStorageAt", ["0x" + address.hex(), hex(slot), self.tag])
                  for address, slot in wanted_slots]
        results = self._fetch(calls)
        # Every value parsed before any is kept: a malformed one leaves nothing half-read.
        accounts = self._take_accounts(wanted, results)
        slot_values = self._take_slots(wanted_slots, results[3 * len(wanted):])
        writes = []
        for address, fields in accounts:
            self.accounts[address] = fields
            writes.append((self.prefix + b"a" + address, b"" if fields is None else
                           fields[0].to_bytes(32, "big") + fields[1].to_bytes(32, "big")
                           + fields[2]))
        for (address, slot), value in slot_values:
            self.slots[(address, slot)] = value
            writes.append((self.prefix + b"s" + address + slot.to_bytes(32, "big"),
                           value.to_bytes(32, "big")))
        if self.cache is not None:
            self.cache.put_many(writes)

    @staticmethod
    def _take_accounts(wanted: list[bytes], results: list[Any]
                       ) -> list[tuple[bytes, tuple[int, int, bytes] | None]]:
        """(address, (nonce, balance, code) or None when absent) of the remote's answers."""
        out = []
        for i, address in enumerate(wanted):
            balance = _qty(results[3 * i], "balance")
            nonce = _qty(results[3 * i + 1], "nonce", 64)
            code = _data(results[3 * i + 2], "code")
            out.append((address, (nonce, balance, code) if (nonce or balance or code)
                        else None))
        return out

    @staticmethod
    def _take_slots(wanted: list[tuple[bytes, int]], results: list[Any]
                    ) -> list[tuple[tuple[bytes, int], int]]:
        """((address, slot), value) of the remote's answers (a word: at most 32 bytes)."""
        return [(key, int.from_bytes(_data(result, "storage value", max_size=32), "big"))
                for key, result in zip(wanted, results, strict=True)]

    # -- storage ----------------------------------------------------------------------------

    def storage(self, address: bytes, slot: int) -> int | None:
        """The slot's value at block N; None in a speculative pass when not held yet."""
        value = self.slots.get((address, slot))
        if value is None:
            if self.speculating:
                if self._from_cache_slots(address, [slot]):
                    self.missed_slots.setdefault(address, set()).add(slot)
                    return None
                return self.slots[(address, slot)]
            self.prefetch({}, {address: {slot}})
            value = self.slots[(address, slot)]
        return value

    def _from_cache_slots(self, address: bytes, slots: Iterable[int]) -> list[int]:
        """Take what the persistent cache holds of these slots; the rest."""
        known = self.slots
        wanted = [s for s in slots if (address, s) not in known]
        if self.cache is None:
            return wanted
        missing = []
        for slot in wanted:
            raw = self.cache.get(self.prefix + b"s" + address + slot.to_bytes(32, "big"))
            if raw is None:
                missing.append(slot)
            else:
                known[(address, slot)] = int.from_bytes(raw, "big")
        return missing

    def prefetch_storage(self, address: bytes, slots: Iterable[int]) -> None:
        """Read the slots of `address` not known yet, in one batch."""
        self.prefetch({}, {address: set(slots)})

    # -- speculative prefetch -----------------------------------------------------------------

    def speculate(self, run: Callable[[], T], passes: int = 16) -> T:
        """`run()` (a read-only execution) with what it needs read in few batches instead
        of one round trip per slot: each pass runs with what is held, reading accounts and
        slots not held yet as absent / zero and recording them; they are then fetched in
        one batch. The first pass that missed nothing read only true values: its outcome
        (result or exception) is the answer. After `passes`, `run()` reads on demand."""
        if self.speculating:
            return run()
        for _ in range(passes):
            self.speculating = True
            self.missed_accounts = set()
            self.missed_slots = {}
            try:
                result = run()
            except Exception:
                if not self.missed_accounts and not self.missed_slots:
                    raise
            else:
                if not self.missed_accounts and not self.missed_slots:
                    return result
            finally:
                self.speculating = False
            self.prefetch(self.missed_accounts, self.missed_slots)
        return run()

    # -- blocks -----------------------------------------------------------------------------

    def block_hash(self, number: int) -> bytes:
        """The hash of remote block `number` (at most N), for BLOCKHASH."""
        if number < 0 or number > self.number:
            return bytes(32)
        known = self.hashes.get(number)
        if known is not None:
            return known
        block = self.get_block(number, False)
        block_hash = _data(block.get("hash"), "block hash", 32) if isinstance(block, dict) \
            else bytes(32)
        self.hashes[number] = block_hash
        return block_hash

    def get_block(self, number: int, full: bool) -> Any:
        """eth_getBlockByNumber of a block at most N, as the remote answers it."""
        key = (number, full)
        if key in self.blocks:
            return self.blocks[key]
        cache_key = self.prefix + b"b" + number.to_bytes(8, "big") + bytes((full,))
        raw = self.cache.get(cache_key) if self.cache is not None else None
        if raw is not None:
            block = json.loads(raw)
        else:
            block = self._fetch([("eth_getBlockByNumber", [hex(number), full])])[0]
            if block is not None:  # null: the remote does not have it
                number_sent = header_from_json(block).number  # a sound header, or RemoteError
                if number_sent != number:
                    raise RemoteError(f"fork: remote {self.client.display} sent block "
                                      f"{number_sent} when asked for block {number}")
            if self.cache is not None and block is not None:
                self.cache.put_many([(cache_key, json.dumps(block).encode())])
        self.blocks[key] = block
        return block

    def historic(self, method: str, params: list[Any]) -> Any:
        """A lookup of something in the remote's chain (a block by hash, a transaction,
        a receipt): its answer when that is in a block up to N, else None; cached."""
        key = self.prefix + b"r" + json.dumps([method, params]).encode()
        raw = self.cache.get(key) if self.cache is not None else None
        if raw is not None:
            return json.loads(raw)
        answer = self._fetch([(method, params)])[0]
        if answer is None:
            return None  # unknown to the remote: may appear later, not cached
        if not isinstance(answer, dict):
            raise RemoteError(f"fork: remote {self.client.display}: {method} answered "
                              f"something other than an object: {short(answer)}")
        number = answer.get("blockNumber", answer.get("number"))
        if number is None or _qty(number, "block number", 64) > self.number:
            answer = None  # pending, or after the fork block: not part of this chain
        if self.cache is not None:
            self.cache.put_many([(key, json.dumps(answer).encode())])
        return answer

    def fee_history(self, count: int, newest: int, percentiles: list[float] | None
                    ) -> dict[str, Any]:
        """eth_feeHistory on the remote for `count` blocks up to `newest` (at most N), as
        anvil forwards it when the range ends before its fork; cached."""
        params: list[Any] = [hex(count), hex(newest)]
        if percentiles is not None:
            params.append(percentiles)
        key = self.prefix + b"f" + json.dumps(params).encode()
        raw = self.cache.get(key) if self.cache is not None else None
        if raw is not None:
            return json.loads(raw)  # type: ignore[no-any-return]
        answer = self._fetch([("eth_feeHistory", params)])[0]
        if not (isinstance(answer, dict) and isinstance(answer.get("baseFeePerGas"), list)
                and isinstance(answer.get("oldestBlock"), str)):
            raise RemoteError(f"fork: remote {self.client.display}: eth_feeHistory answered "
                              f"something other than a fee history: {short(answer)}")
        if self.cache is not None:
            self.cache.put_many([(key, json.dumps(answer).encode())])
        return answer

    def logs(self, criteria: dict[str, Any]) -> list[Any]:
        """eth_getLogs on the remote, for a range that ends at most at N; cached."""
        key = self.prefix + b"l" + json.dumps(criteria, sort_keys=True).encode()
        raw = self.cache.get(key) if self.cache is not None else None
        if raw is not None:
            return json.loads(raw)  # type: ignore[no-any-return]
        answer = self._fetch([("eth_getLogs", [criteria])])[0]
        if not isinstance(answer, list) or not all(isinstance(x, dict) for x in answer):
            raise RemoteError(f"fork: remote {self.client.display}: eth_getLogs answered "
                              "something other than a list of objects")
        if self.cache is not None:
            self.cache.put_many([(key, json.dumps(answer).encode())])
        return answer

    def state_at(self, number: int) -> State:
        """The remote's state at an earlier block `number` (read-only use), read on
        demand like block N's."""
        state = self._older.get(number)
        if state is None:
            block = self.get_block(number, False)
            if not isinstance(block, dict):
                raise RemoteError(f"fork: remote {self.client.display} has no block {number}")
            older = RemoteState(self.client, self.chain_id,
                                {k: v for k, v in block.items() if k != "transactions"},
                                self.cache)
            state = self._older[number] = State(ForkedAccounts(older))
        return state

    def _fetch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        try:
            return self.client.batch(calls)
        except RemoteError as exc:
            text = str(exc)
            lowered = text.lower()
            if any(s in lowered for s in ("missing trie node", "header not found",
                                          "state not available", "pruned",
                                          "state histories", "historical state")):
                raise RemoteError(f"fork: remote {self.client.display} does not serve the "
                                  f"state of block {self.number} (pruned?): "
                                  f"{text.rpartition(': ')[2]}") from None
            raise


# -- the state layer's hook ---------------------------------------------------------------------


class Unknown:
    """What a speculative read of an account not held yet answers."""


UNKNOWN = Unknown()



class ForkedStorage(dict[int, int]):
    """An account's storage: slots not written locally are read from the remote."""

    __slots__ = ("address", "remote", "zero")

    def __init__(self, remote: RemoteState | None, address: bytes,
                 items: dict[int, int] | None = None, zero: set[int] | None = None) -> None:
        super().__init__(items or ())
        self.remote = remote
        self.address = address
        self.zero: set[int] = zero if zero is not None else set()  # known zero locally

    def _load(self, key: int) -> int:
        if self.remote is None or key in self.zero:
            return 0
        value = self.remote.storage(self.address, key)
        if value is None:  # a speculative pass: not held, not kept
            return 0
        if value:
            dict.__setitem__(self, key, value)
        else:
            self.zero.add(key)
        return value

    def get(self, key: int, default: Any = None) -> Any:  # type: ignore[override]
        value = dict.get(self, key)
        if value is None:
            value = self._load(key)
            return value if value else default
        return value

    def __missing__(self, key: int) -> int:
        value = self._load(key)
        if not value:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (isinstance(key, int) and bool(self._load(key)))

    def pop(self, key: int, *default: Any) -> Any:  # type: ignore[override]
        self.zero.add(key)
        return dict.pop(self, key, *default)

    def __delitem__(self, key: int) -> None:
        dict.__delitem__(self, key)
        self.zero.add(key)

    def clear(self) -> None:
        """Every slot zero, the remote's too (a full storage replacement)."""
        dict.clear(self)
        self.remote = None
        self.zero.clear()

    def copy(self) -> ForkedStorage:  # type: ignore[override]
        return ForkedStorage(self.remote, self.address, dict(self), set(self.zero))

    def prefetch(self, slots: Iterable[int]) -> None:
        if self.remote is not None:
            self.remote.prefetch_storage(
                self.address, [s for s in slots if not dict.__contains__(self, s)
                               and s not in self.zero])


class ForkedAccounts(dict[bytes, Account]):
    """A state's accounts: those not known locally are read from the remote."""

    __slots__ = ("gone", "remote")

    def __init__(self, remote: RemoteState, items: dict[bytes, Account] | None = None,
                 gone: set[bytes] | None = None) -> None:
        super().__init__(items or ())
        self.remote = remote
        self.gone: set[bytes] = gone if gone is not None else set()  # absent locally

    def _load(self, address: bytes) -> Account | None:
        if address in self.gone:
            return None
        fields = self.remote.account(address)
        if fields is None:
            self.gone.add(address)
            return None
        if isinstance(fields, Unknown):  # a speculative pass: not held, not kept
            return None
        nonce, balance, code = fields
        acct = Account(nonce, balance, code, ForkedStorage(self.remote, address))
        dict.__setitem__(self, address, acct)
        return acct

    def get(self, address: bytes, default: Any = None) -> Any:  # type: ignore[override]
        acct = dict.get(self, address)
        if acct is None:
            acct = self._load(address)
            return default if acct is None else acct
        return acct

    def __missing__(self, address: bytes) -> Account:
        acct = self._load(address)
        if acct is None:
            raise KeyError(address)
        return acct

    def __contains__(self, address: object) -> bool:
        return dict.__contains__(self, address) or (
            isinstance(address, bytes) and self._load(address) is not None)

    def __setitem__(self, address: bytes, acct: Account) -> None:
        self.gone.discard(address)
        dict.__setitem__(self, address, acct)

    def __delitem__(self, address: bytes) -> None:
        dict.__delitem__(self, address)
        self.gone.add(address)

    def pop(self, address: bytes, *default: Any) -> Any:  # type: ignore[override]
        self.gone.add(address)
        return dict.pop(self, address, *default)

    def derive(self, items: dict[bytes, Account]) -> ForkedAccounts:
        """The accounts of a copied state: `items` locally, the same remote below."""
        return ForkedAccounts(self.remote, items, set(self.gone))

    def prefetch(self, addresses: Iterable[bytes]) -> None:
        self.remote.prefetch_accounts(
            [a for a in addresses if not dict.__contains__(self, a) and a not in self.gone])
