"""Fork mode against a remote that misbehaves: a scripted local remote (`FakeRemote`)
sends malformed, oversized, slow or inconsistent answers; the fork must answer its own
client with one clear error line, never crash, hang or keep (or cache) a bad value."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chainvm.node import forking
from chainvm.node.devchain import DevChain
from chainvm.node.forking import JsonRpcClient, RemoteError
from chainvm.node.rpc import Rpc
from tests.node.remotes import ROOT, FakeRemote

ACCOUNT = "0x" + "42" * 20
SLOAD_0 = "0x5f545f5260205ff3"  # returns SLOAD(0)


@pytest.fixture
def fake() -> Iterator[FakeRemote]:
    remote = FakeRemote()
    yield remote
    remote.stop()


def bounded(work: Callable[[], Any], seconds: float = 20) -> Any:
    """`work()` in a thread; fails the test (instead of hanging it) past `seconds`."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(("ok", work()))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(("raised", exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds}s"
    kind, value = outcome[0]
    if kind == "raised":
        raise value
    return value


def one_line_error(work: Callable[[], Any], *expected: str) -> str:
    with pytest.raises(RemoteError) as info:
        bounded(work)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    for part in expected:
        assert part in message, message
    return message


# -- the reply's body ---------------------------------------------------------------------------


def test_reply_over_the_size_limit_fails(fake: FakeRemote,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forking, "MAX_REPLY_BYTES", 4096)
    client = JsonRpcClient(fake.url, timeout=2)
    fake.raw = lambda body: (200, b'{"big": "' + b"a" * 10_000 + b'"}')  # Content-Length
    one_line_error(lambda: client.call("eth_chainId", []), "over 4096 bytes")
    fake.raw = lambda body: (200, itertools.repeat(b"[" * 1000))  # endless, no length
    one_line_error(lambda: client.call("eth_chainId", []), "over 4096 bytes")
    fake.raw = None  # the client reconnects and goes on
    assert client.call("eth_chainId", []) == hex(31337)
    client.close()


def test_reply_sent_a_byte_at_a_time_fails_in_bounded_time(fake: FakeRemote) -> None:
    """Each byte arrives within the socket timeout, the whole never does: the request's
    total budget (twice the timeout) ends it."""
    def dribble(body: bytes) -> tuple[int, Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            for _ in range(10_000):
                time.sleep(0.05)
                yield b" "
        return 200, chunks()

    fake.raw = dribble
    client = JsonRpcClient(fake.url, timeout=0.3, retries=1)
    started = time.monotonic()
    one_line_error(lambda: client.call("eth_chainId", []), "timed out")
    assert time.monotonic() - started < 5
    client.close()


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"jsonrpc": "2.0", "id": 1, "result": NaN}',
                                  b'{"jsonrpc": "2.0", "id": 1, "result": ' + b"9" * 5000 + b"}",
                                  b"\xff\xfe\x00garbage", b"<html>busy</html>"])
def test_reply_that_is_not_sound_json(fake: FakeRemote, body: bytes) -> None:
    """Deep nesting (a RecursionError in the parser, an internal error to the client),
    NaN, a 5,000-digit number, bytes that are no text: 'not JSON', one line."""
    fake.raw = lambda request: (200, body)
    client = JsonRpcClient(fake.url, timeout=2)
    one_line_error(lambda: client.call("eth_chainId", []), "sent a reply that is not JSON")
    client.close()


# -- the replies of a batch ---------------------------------------------------------------------

CALLS = [("eth_getBalance", [ACCOUNT, "0x5"]), ("eth_getTransactionCount", [ACCOUNT, "0x5"]),
         ("eth_getCode", [ACCOUNT, "0x5"])]


def with_id(reply: dict[str, Any], rid: Any, **fields: Any) -> dict[str, Any]:
    return {**reply, "id": rid, **fields}


@pytest.mark.parametrize(("hook", "expected"), [
    # A second answer to a call, before the true one: it used to be taken.
    (lambda rs: [with_id(rs[0], rs[0]["id"], result="0x99"), *rs], "two replies with id"),
    (lambda rs: [*rs, with_id(rs[0], rs[0]["id"])], "two replies with id"),
    (lambda rs: [*rs, with_id(rs[0], 999)], "an id it was not asked: 999"),
    (lambda rs: [with_id(rs[0], True), *rs[1:]], "an id it was not asked: True"),
    (lambda rs: [with_id(rs[0], str(rs[0]["id"])), *rs[1:]], "an id it was not asked"),
    (lambda rs: [*rs, "x"], "a reply that is not an object: 'x'"),
    (lambda rs: [{"jsonrpc": "2.0", "id": rs[0]["id"]}, *rs[1:]],
     "a reply to eth_getBalance with neither result nor error"),
    (lambda rs: rs[:-1], "left 1 call(s) unanswered"),
    (lambda rs: [with_id(r, None) for r in rs], "an id it was not asked: None"),
])
def test_batch_reply_that_does_not_match_the_calls(fake: FakeRemote, hook: Any,
                                                   expected: str) -> None:
    fake.batch_hook = hook
    client = JsonRpcClient(fake.url, timeout=2)
    one_line_error(lambda: client.batch(CALLS), expected)
    client.close()


@pytest.mark.parametrize(("error", "expected"), [
    ({"code": -32000, "message": "first line\nsecond line"}, "eth_getBalance: first line"),
    ({"code": -32000, "message": "x" * 5000}, "eth_getBalance: " + "x" * 200 + "..."),
    ("just a string", "eth_getBalance: malformed error 'just a string'"),
    ({"code": -32000, "message": ["a", "list"]}, "malformed error"),
])
def test_remote_error_is_one_short_line(fake: FakeRemote, error: Any, expected: str) -> None:
    fake.replies["eth_getBalance"] = lambda request: {"jsonrpc": "2.0", "id": request["id"],
                                                      "error": error}
    client = JsonRpcClient(fake.url, timeout=2)
    message = one_line_error(lambda: client.batch(CALLS), expected)
    assert "second line" not in message and "x" * 201 not in message
    client.close()


# -- the values in the replies --------------------------------------------------------------


class Node:
    """A chain forked from `fake` at its block 5 and its JSON-RPC handler."""

    def __init__(self, fake: FakeRemote, **kwargs: Any) -> None:
        self.dev = DevChain(fork="Prague", fork_url=fake.url, fork_block=5, **kwargs)
        self.rpc = Rpc(self.dev)

    def reply(self, method: str, *params: Any) -> dict[str, Any]:
        reply = bounded(lambda: self.rpc.handle_one(
            {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}))
        assert reply is not None
        return reply  # type: ignore[no-any-return]

    def error(self, method: str, *params: Any) -> str:
        reply = self.reply(method, *params)
        assert "error" in reply, reply
        assert reply["error"]["code"] == -32000, reply
        message: str = reply["error"]["message"]
        assert message.startswith("fork: remote") and "\n" not in message, message
        return message

    def result(self, method: str, *params: Any) -> Any:
        reply = self.reply(method, *params)
        assert "result" in reply, reply
        return reply["result"]

    def close(self) -> None:
        self.dev.close()


BAD_VALUES = [
    # (method the remote answers, what it sends, the fork's method and params)
    ("eth_getBalance", "0x 12", "eth_getBalance", [ACCOUNT, "latest"]),
    ("eth_getBalance", "0x1_2", "eth_getBalance", [ACCOUNT, "latest"]),  # int() takes "_"
    ("eth_getBalance", "0x12 ", "eth_getBalance", [ACCOUNT, "latest"]),  # and spaces
    ("eth_getBalance", "0x-1", "eth_getBalance", [ACCOUNT, "latest"]),
    ("eth_getBalance", 18, "eth_getBalance", [ACCOUNT, "latest"]),
    ("eth_getBalance", hex(2**256), "eth_getBalance", [ACCOUNT, "latest"]),  # OverflowError
    ("eth_getBalance", "0x" + "f" * 5000, "eth_getBalance", [ACCOUNT, "latest"]),
    ("eth_getTransactionCount", hex(2**64), "eth_getTransactionCount", [ACCOUNT, "latest"]),
    ("eth_getCode", "0x 60 01", "eth_getCode", [ACCOUNT, "latest"]),  # was read as 0x6001
    ("eth_getCode", "0x600", "eth_getCode", [ACCOUNT, "latest"]),
    ("eth_getCode", "6001", "eth_getCode", [ACCOUNT, "latest"]),
    ("eth_getStorageAt", "0x 01", "eth_getStorageAt", [ACCOUNT, "0x0", "latest"]),
    ("eth_getStorageAt", "0x" + "01" * 33, "eth_getStorageAt", [ACCOUNT, "0x0", "latest"]),
    ("eth_getStorageAt", None, "eth_getStorageAt", [ACCOUNT, "0x0", "latest"]),
    ("eth_getStorageAt", "0x 01", "eth_call", [{"to": ACCOUNT}, "latest"]),
    ("eth_getStorageAt", "0x" + "01" * 40, "eth_call", [{"to": ACCOUNT}, "latest"]),
    ("eth_getBalance", "0x 1", "eth_getBalance", [ACCOUNT, "0x2"]),  # an older block
]


@pytest.mark.parametrize(("remote_method", "sent", "method", "params"), BAD_VALUES)
def test_malformed_value_is_a_clear_error_and_not_kept(
        fake: FakeRemote, tmp_path: Any, remote_method: str, sent: Any, method: str,
        params: list[Any]) -> None:
    """Each malformed value: a -32000 error naming the remote; nothing of that read is
    kept, in memory or in the cache: once the remote answers well, so does the fork."""
    fake.results.update({"eth_getBalance": "0x1", "eth_getCode": SLOAD_0,
                         "eth_getStorageAt": "0x" + "00" * 31 + "07"})
    node = Node(fake, fork_cache=tmp_path)
    try:
        good = node.result(method, *params)
        node.close()
        fresh = tmp_path / "fresh"
        node = Node(fake, fork_cache=fresh)
        fake.results[remote_method] = sent
        assert "malformed" in node.error(method, *params) or "bytes" in node.error(method,
                                                                                   *params)
        fake.results[remote_method] = {"eth_getBalance": "0x1", "eth_getCode": SLOAD_0,
                                       "eth_getStorageAt": "0x" + "00" * 31 + "07",
                                       "eth_getTransactionCount": "0x0"}[remote_method]
        assert node.result(method, *params) == good  # nothing kept in memory
        node.close()
        node = Node(fake, fork_cache=fresh)
        fake.results[remote_method] = sent
        assert node.result(method, *params) == good  # from the cache: the good value
    finally:
        node.close()


def test_a_malformed_slot_keeps_nothing_of_its_batch(fake: FakeRemote) -> None:
    """An account and a slot read in one batch: the slot's bad value leaves the account
    unread too (the state holds all of a batch or none of it)."""
    fake.results.update({"eth_getBalance": "0x1", "eth_getStorageAt": "0x 07"})
    remote = forking.RemoteState.open(fake.url, 5, timeout=2)
    try:
        address = bytes.fromhex(ACCOUNT[2:])
        with pytest.raises(RemoteError, match="malformed storage value"):
            remote.prefetch([address], {address: {0}})
        assert address not in remote.accounts and not remote.slots
    finally:
        remote.close()


# -- blocks ---------------------------------------------------------------------------------------


def block_with(**fields: Any) -> Callable[[list[Any]], Any]:
    """eth_getBlockByNumber answers with `fields` changed in every block but the fork's."""
    def answer(params: list[Any]) -> Any:
        number = FakeRemote.LATEST if params[0] == "latest" else int(params[0], 16)
        block = FakeRemote.block(number)
        if number == FakeRemote.LATEST:
            return block
        block.update(fields)
        return {k: v for k, v in block.items() if v is not None}
    return answer


BAD_BLOCKS = [
    ({"hash": "0x " + "11" * 31}, "malformed block hash"),
    ({"number": 2}, "malformed number"),
    ({"number": "0x3"}, "sent block 3 when asked for block 2"),
    ({"stateRoot": None}, "block has no stateRoot"),
    ({"timestamp": hex(2**64)}, "does not fit in 64 bits"),
    ({"extraData": "0x 00"}, "malformed extraData"),
]


@pytest.mark.parametrize(("fields", "expected"), BAD_BLOCKS)
@pytest.mark.parametrize(("method", "params"), [
    ("eth_getBlockByNumber", ["0x2", False]),  # served as the remote sent it, and cached
    ("eth_call", [{"to": ACCOUNT}, "0x2"]),
    ("eth_getBalance", [ACCOUNT, "0x2"]),
])
def test_malformed_older_block_is_a_clear_error_and_not_cached(
        fake: FakeRemote, tmp_path: Any, fields: dict[str, Any], expected: str, method: str,
        params: list[Any]) -> None:
    node = Node(fake, fork_cache=tmp_path)
    try:
        fake.results["eth_getBlockByNumber"] = block_with(**fields)
        assert expected in node.error(method, *params)
        del fake.results["eth_getBlockByNumber"]
        assert "result" in node.reply(method, *params)  # nothing kept
        if method == "eth_getBlockByNumber":
            assert node.result(method, *params) == FakeRemote.block(2)
    finally:
        node.close()


@pytest.mark.parametrize("answer", [[1, 2], "a block", 7])
def test_older_block_that_is_not_an_object(fake: FakeRemote, answer: Any) -> None:
    """Was served to the client as the remote sent it (and cached)."""
    node = Node(fake)
    try:
        fake.results["eth_getBlockByNumber"] = answer
        assert "not an object" in node.error("eth_getBlockByNumber", "0x2", False)
    finally:
        node.close()


def test_malformed_logs_and_lookups(fake: FakeRemote) -> None:
    node = Node(fake)
    try:
        fake.results["eth_getLogs"] = [1, "x", None]  # was served (and cached) as sent
        assert "list of objects" in node.error("eth_getLogs",
                                               {"fromBlock": "0x0", "toBlock": "0x5"})
        tx = "0x" + "ab" * 32
        fake.results["eth_getTransactionByHash"] = {"hash": tx, "blockNumber": 1}
        assert "malformed block number" in node.error("eth_getTransactionByHash", tx)
        fake.results["eth_getTransactionByHash"] = {"hash": tx, "blockNumber": "0x 1"}
        assert "malformed block number" in node.error("eth_getTransactionByHash", tx)
        fake.results["eth_getTransactionByHash"] = ["not", "a", "transaction"]
        assert "other than an object" in node.error("eth_getTransactionByHash", tx)
        fake.results["eth_getTransactionByHash"] = {"hash": tx, "blockNumber": "0x1"}
        assert node.result("eth_getTransactionByHash", tx)["blockNumber"] == "0x1"
    finally:
        node.close()


# -- the fork point, at start -------------------------------------------------------------------


START_FAULTS: list[tuple[str, Any, str]] = [
    ("eth_chainId", hex(2**300), "malformed chain id"),  # was a traceback (OverflowError)
    ("eth_chainId", "0x0", "sent chain id 0"),  # was served
    ("eth_getBlockByNumber", dict(FakeRemote.block(5), number=hex(2**70)),
     "does not fit in 64 bits"),  # was a traceback
    ("eth_getBlockByNumber", dict(FakeRemote.block(5), gasLimit=hex(2**300)),
     "malformed gasLimit"),
    ("eth_getBlockByNumber", dict(FakeRemote.block(5), hash="0x " + "11" * 32),
     "malformed block hash"),  # was served, with the hash 0x1111...
    ("eth_getBlockByNumber", FakeRemote.block(3), "sent block 3 when asked for block 5"),
    ("eth_getBlockByNumber", [1], "not an object"),  # was 'has no block None'
]


@pytest.mark.parametrize(("method", "answer", "expected"), START_FAULTS)
def test_bad_fork_point_fails_start_and_is_not_cached(
        fake: FakeRemote, tmp_path: Any, method: str, answer: Any, expected: str) -> None:
    fake.results[method] = answer
    message = one_line_error(lambda: DevChain(fork="Prague", fork_url=fake.url, fork_block=5,
                                              fork_cache=tmp_path), expected)
    assert message.startswith("fork: remote")
    del fake.results[method]
    requests = fake.requests
    node = Node(fake, fork_cache=tmp_path)  # the bad point was not kept: asked again
    try:
        assert fake.requests > requests
        assert node.dev.head.number == 5 and node.dev.chain_id == 31337
    finally:
        node.close()


@pytest.mark.parametrize("fault", ["chain id", "deep", "error lines"])
def test_bad_remote_at_cli_start_is_one_line_exit_1(fake: FakeRemote, fault: str) -> None:
    """As for an unreachable remote: one line on stderr, exit code 1, no traceback."""
    if fault == "chain id":
        fake.results["eth_chainId"] = hex(2**300)
    elif fault == "deep":
        fake.raw = lambda body: (200, b"[" * 100_000 + b"]" * 100_000)
    else:
        fake.replies["eth_chainId"] = lambda request: {
            "jsonrpc": "2.0", "id": request["id"],
            "error": {"code": -32000, "message": "line one\nline two"}}
    done = subprocess.run([sys.executable, "-m", "chainvm.node.cli", "--port", "0",
                           "--fork-url", fake.url], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainvm node: fork: remote"), done.stderr


def test_kept_alive_connection_is_reused(fake: FakeRemote) -> None:
    """One HTTP request per call: the bounded body reader leaves the connection ready for
    the next request (it once left the response open, and every call after the first
    went out twice)."""
    client = JsonRpcClient(fake.url, timeout=2)
    for _ in range(3):
        assert client.call("eth_chainId", []) == hex(31337)
    assert fake.requests == 3 and client.requests == 3
    client.close()


# -- BLOCKHASH at the fork block ------------------------------------------------------------------


def test_blockhash_in_a_call_at_the_fork_block(fake: FakeRemote) -> None:
    """A call at `latest` right after forking runs in block N's context: BLOCKHASH of the
    blocks before N is the remote's (it was zero: block N's parent is not held locally);
    a malformed hash there is a clear error, not a zero."""
    fake.results.update({"eth_getBalance": "0x1",
                         "eth_getCode": "0x60024060005260206000f3"})  # returns BLOCKHASH(2)
    node = Node(fake)
    try:
        assert node.result("eth_call", {"to": ACCOUNT}, "latest") == FakeRemote.block(2)["hash"]
    finally:
        node.close()
    fake.results["eth_getBlockByNumber"] = block_with(hash="0x " + "11" * 31)
    node = Node(fake)
    try:
        assert "malformed block hash" in node.error("eth_call", {"to": ACCOUNT}, "latest")
    finally:
        node.close()


def test_transaction_that_meets_a_bad_remote_leaves_the_chain_as_it_was(
        fake: FakeRemote) -> None:
    node = Node(fake)
    try:
        sender = "0x" + node.dev.accounts[0].hex()
        tx = {"from": sender, "to": ACCOUNT, "value": "0x1"}
        fake.results["eth_getCode"] = "0x 60 01"  # the recipient's code
        assert "malformed code" in node.error("eth_sendTransaction", tx)
        assert node.result("eth_blockNumber") == "0x5" and not len(node.dev.pool)
        assert node.result("eth_getTransactionCount", sender, "latest") == "0x0"
        del fake.results["eth_getCode"]
        node.result("eth_sendTransaction", tx)
        assert node.result("eth_blockNumber") == "0x6"
        assert node.result("eth_getBalance", ACCOUNT, "latest") == "0x1"
    finally:
        node.close()


def test_cache_entries_of_an_earlier_format_are_not_read(fake: FakeRemote,
                                                         tmp_path: Any) -> None:
    """A fork cache holds the remote's answers under keys prefixed by their format. An
    entry written without it (format 1, before answers were checked strictly) may hold
    what a malformed answer gave: it is never read, so the fork asks the remote again."""
    import lmdb

    fake.results["eth_getBalance"] = "0x7"
    node = Node(fake, fork_cache=tmp_path)
    try:
        assert node.result("eth_getBalance", ACCOUNT, "latest") == "0x7"
    finally:
        node.close()
    # Rewrite the cache as format 1 would hold it: the same keys, unprefixed.
    prefix = forking.ForkCache.FORMAT
    env = lmdb.open(str(tmp_path))
    with env.begin(write=True) as txn:
        entries = [(bytes(k), bytes(v)) for k, v in txn.cursor()]
        assert entries and all(k.startswith(prefix) for k, _ in entries)
        for key, value in entries:
            txn.delete(key)
            txn.put(key[len(prefix):], value)
    env.close()
    fake.results["eth_getBalance"] = "0x9"
    asked = len(fake.methods)
    node = Node(fake, fork_cache=tmp_path)
    try:
        assert node.result("eth_getBalance", ACCOUNT, "latest") == "0x9"
        assert "eth_getBalance" in fake.methods[asked:]
    finally:
        node.close()
