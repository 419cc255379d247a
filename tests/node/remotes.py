"""Remote nodes for the fork tests: a real anvil (npm `@foundry-rs/anvil`, which ships the
binary; installed once beside the other npm packages, see compilers.py), a `chainvm node`
process, and a counting HTTP proxy in front of either (loopback only)."""

from __future__ import annotations

import fcntl
import functools
import http.client
import http.server
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any

from tests.node.compilers import js_dir
from tests.node.helpers import Client

ANVIL_PACKAGE = "@foundry-rs/anvil@1.7.1"
ROOT = Path(__file__).resolve().parents[2]


def _find_anvil(modules: Path) -> Path | None:
    for candidate in sorted(modules.glob("@foundry-rs/anvil-*/bin/anvil")):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=1)
def anvil_binary() -> Path | None:
    """The anvil executable from npm, installed on first use; None when npm is missing or
    the registry is out of reach."""
    root = js_dir()
    modules = root / "node_modules"
    found = _find_anvil(modules)
    if found is not None:
        return found
    if shutil.which("npm") is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers share the folder
        found = _find_anvil(modules)
        if found is not None:
            return found
        if not (root / "package.json").exists():
            (root / "package.json").write_text('{"name": "chainvm-node-js", "private": true}\n')
        try:
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", ANVIL_PACKAGE],
                           cwd=root, check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError):
            return None
    return _find_anvil(modules)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes] | subprocess.Popen[str],
               seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the process exited with {proc.returncode}")
        try:
            Client(url)("eth_chainId")
            return
        except (OSError, urllib.error.URLError, AssertionError):
            time.sleep(0.1)
    raise AssertionError(f"{url}: not ready after {seconds}s")


class Process:
    """A node process on a loopback port; stop() kills it (and only it)."""

    def __init__(self, argv: list[str], url: str) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     cwd=ROOT)
        self.url = url
        try:
            wait_ready(url, self.proc)
        except AssertionError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def start_anvil(*extra: str) -> Process:
    binary = anvil_binary()
    assert binary is not None
    port = free_port()
    return Process([str(binary), "--host", "127.0.0.1", "--port", str(port),
                    "--hardfork", "prague", "--silent", *extra], f"http://127.0.0.1:{port}/")


def start_chainvm(*extra: str) -> Process:
    port = free_port()
    return Process([sys.executable, "-m", "chainvm.node.cli", "--port", str(port), *extra],
                   f"http://127.0.0.1:{port}/")


def send_json(handler: http.server.BaseHTTPRequestHandler, status: int, data: bytes) -> None:
    """Answer with a JSON body of known length (the connection kept alive); a client that
    left closes it instead."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        handler.close_connection = True


class CountingProxy:
    """Forwards JSON-RPC POSTs to `upstream` and counts them (requests and the method names
    they carry): what a fork asked its remote, measured from outside the fork."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._upstream = urllib.parse.urlsplit(upstream)
        self._local = threading.local()
        self.requests = 0
        self.methods: list[str] = []
        self.refuse = 0  # when set, the HTTP status every request gets (429: rate limited)
        self.gone = False  # drop every connection without an answer (a remote gone away)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stall

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.gone:
                    self.close_connection = True
                    return
                proxy.requests += 1
                proxy.methods += re.findall(r'"method"\s*:\s*"([^"]+)"', body.decode())
                if proxy.refuse:
                    self._send(proxy.refuse, b"")
                    return
                try:
                    status, data = proxy.forward(body)
                except (OSError, http.client.HTTPException):
                    status, data = 502, b""
                self._send(status, data)

            def _send(self, status: int, data: bytes) -> None:
                send_json(self, status, data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, body: bytes) -> tuple[int, bytes]:
        """POST to the upstream over this thread's kept-alive connection."""
        conn = getattr(self._local, "conn", None)
        for attempt in range(2):
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(
                    self._upstream.hostname, self._upstream.port, timeout=30)
            try:
                conn.request("POST", self._upstream.path or "/", body,
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def reset(self) -> None:
        self.requests = 0
        self.methods = []

    def stop(self) -> None:
        self.gone = True  # kept-alive connections are dropped too
        self.server.shutdown()
        self.server.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that closed its kept-alive connection: nothing to report


class FakeRemote:
    """A scripted JSON-RPC remote on a loopback port, for the fork's handling of a remote
    that misbehaves: a small well-formed chain (chain id 31337, blocks 0..5, every account
    empty) whose answers a test overrides per method.

    `results[method]`: the result to answer (or a callable of the params giving it);
    `replies[method]`: the whole reply object of such a call (a callable of the request);
    `batch_hook`: a callable on the list of replies of a batch, giving what is sent;
    `raw`: a callable of the request body giving (status, body) to send instead, the body
    bytes or an iterable of chunks (sent without a Content-Length, then the connection is
    closed)."""

    LATEST = 5

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.replies: dict[str, Any] = {}
        self.batch_hook: Any = None
        self.raw: Any = None
        self.requests = 0
        self.methods: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests += 1
                status, data = fake.answer(body)
                if not isinstance(data, bytes):  # a stream: no Content-Length, then close
                    self.close_connection = True
                    try:
                        self.send_response(status)
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for chunk in data:
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    except OSError:
                        pass
                    return
                send_json(self, status, data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def block(number: int) -> dict[str, Any]:
        """Block `number` as eth_getBlockByNumber answers it (Prague fields)."""
        return {"number": hex(number), "hash": "0x" + f"{number + 1:064x}",
                "parentHash": "0x" + f"{number:064x}", "sha3Uncles": "0x" + "1d" * 32,
                "miner": "0x" + "00" * 20, "stateRoot": "0x" + "56" * 32,
                "transactionsRoot": "0x" + "56" * 32, "receiptsRoot": "0x" + "56" * 32,
                "logsBloom": "0x" + "00" * 256, "difficulty": "0x0",
                "gasLimit": hex(30_000_000), "gasUsed": "0x0",
                "timestamp": hex(1_700_000_000 + 12 * number), "extraData": "0x",
                "mixHash": "0x" + "00" * 32, "nonce": "0x" + "00" * 8,
                "baseFeePerGas": hex(10**9), "withdrawalsRoot": "0x" + "56" * 32,
                "blobGasUsed": "0x0", "excessBlobGas": "0x0",
                "parentBeaconBlockRoot": "0x" + "00" * 32, "requestsHash": "0x" + "e3" * 32,
                "transactions": [], "uncles": [], "withdrawals": []}

    def result(self, method: str, params: list[Any]) -> Any:
        if method in self.results:
            scripted = self.results[method]
            return scripted(params) if callable(scripted) else scripted
        if method == "eth_chainId":
            return hex(31337)
        if method == "eth_blockNumber":
            return hex(self.LATEST)
        if method == "eth_getBlockByNumber":
            tag = params[0]
            number = self.LATEST if tag == "latest" else int(tag, 16)
            return self.block(number) if number <= self.LATEST else None
        if method in ("eth_getBalance", "eth_getTransactionCount"):
            return "0x0"
        if method == "eth_getCode":
            return "0x"
        if method == "eth_getStorageAt":
            return "0x" + "00" * 32
        if method == "eth_getLogs":
            return []
        return None

    def reply(self, request: Any) -> Any:
        method = request.get("method")
        self.methods.append(method)
        if method in self.replies:
            return self.replies[method](request)
        return {"jsonrpc": "2.0", "id": request.get("id"),
                "result": self.result(method, request.get("params", []))}

    def answer(self, body: bytes) -> tuple[int, Any]:
        if self.raw is not None:
            answered = self.raw(body)
            if answered is not None:
                return answered
        payload = json.loads(body)
        if isinstance(payload, list):
            replies = [self.reply(item) for item in payload]
            if self.batch_hook is not None:
                replies = self.batch_hook(replies)
            return 200, json.dumps(replies).encode()
        return 200, json.dumps(self.reply(payload)).encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
