"""Fork mode against a remote that misbehaves: a scripted local remote (`FakeRemote`)
sends malformed, oversized, slow or inconsistent answers; the fork must answer its own
client with one clear error line, never crash, hang or keep (or cache) a bad value."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chainvm.node import forking
from chainvm.node.forking import JsonRpcClient, RemoteError
from tests.node.remotes import FakeRemote

ACCOUNT = "0x" + "42" * 20


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
