"""Raw JSON-RPC over HTTP for the node tests (loopback only, bounded timeouts)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any


def post(url: str, body: bytes, timeout: float = 30) -> tuple[int, Any]:
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.next_id = 0

    def request(self, method: str, *params: Any) -> dict[str, Any]:
        self.next_id += 1
        payload = {"jsonrpc": "2.0", "id": self.next_id, "method": method,
                   "params": list(params)}
        status, reply = post(self.url, json.dumps(payload).encode())
        assert status == 200, (status, reply)
        assert reply["id"] == self.next_id
        return reply

    def __call__(self, method: str, *params: Any) -> Any:
        reply = self.request(method, *params)
        assert "error" not in reply, reply
        return reply["result"]

    def error(self, method: str, *params: Any) -> dict[str, Any]:
        reply = self.request(method, *params)
        assert "error" in reply, reply
        return reply["error"]


def reverting_client(url: str) -> Iterator[Client]:
    """A client for one test whose chain changes are undone after it (evm_snapshot before,
    evm_revert after): the body of a per-test fixture over a module's node."""
    client = Client(url)
    sid = client("evm_snapshot")
    yield client
    assert client("evm_revert", sid) is True
