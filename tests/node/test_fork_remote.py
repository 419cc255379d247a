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
