"""Signed transfers per second through eth_sendRawTransaction, chainvm's node and anvil
side by side (issue 14's throughput figure; a benchmark, not a test).

Run: .venv/bin/python benchmarks/node_throughput.py [--transfers N] [--clients C]
         [--datadir] [--no-history-contract] [--only chainvm|anvil] [--anvil PATH] [--json]

Each engine runs as its own process on a loopback port, automining (one block per
transaction), with C+1 funded dev accounts from the shared test mnemonic (`test test
... junk`, chain id 31337, the default of both). The transfers are signed beforehand:
C senders, N/C each, nonces in order, 1 wei to one recipient, EIP-1559 with a 100 gwei
fee cap. C clients (asyncio, aiohttp, one keep-alive connection each) send one
sender's transfers each, one at a time: eth_sendRawTransaction, then
eth_getTransactionReceipt until the transfer is mined (chainvm answers the send once
its block is mined; anvil answers first and mines after), then the next. First 50 warm-up transfers from the extra
account. Reported: transfers per second over the whole run (first send to last
receipt), median and 99th percentile of the time from send to receipt, and the CPU
time the engine's process spent per transfer (from /proc; less moved by a loaded
machine than the wall clock). The run is checked: each
sender's nonce must be N/C and the recipient's balance N wei, or the engine is
reported failed (exit 1).

--datadir: chainvm keeps the chain in LMDB in a temporary folder (anvil stays in
memory: it has no comparable mode). Both genesis blocks hold EIP-2935's history contract
(the default of both); --no-history-contract leaves it out of chainvm's. anvil is found at --anvil, on PATH, or in the npm
cache the node tests fill ($CHAINVM_NODE_JS, default ~/.cache/chainvm-node-js; npm
package @foundry-rs/anvil); without it only chainvm runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPIENT = b"\x42" * 20
CHAIN_ID = 31337
WARM_UP = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _find_anvil(given: str | None) -> str | None:
    if given:
        return given
    found = shutil.which("anvil")
    if found:
        return found
    cache = Path(os.environ.get("CHAINVM_NODE_JS", Path.home() / ".cache" / "chainvm-node-js"))
    binary = cache / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    return str(binary) if binary.exists() else None


def _sign_all(count: int, clients: int) -> tuple[list[list[str]], list[str], list[bytes]]:
    from chainvm.chain.transactions import SignedTransaction
    from chainvm.node.accounts import dev_keys

    keys = dev_keys(clients + 1)

    def transfer(key: bytes, nonce: int) -> str:
        tx = SignedTransaction(2, nonce=nonce, gas_limit=21000, to=RECIPIENT, value=1,
                               data=b"", v=0, r=0, s=0, chain_id=CHAIN_ID,
                               max_priority_fee_per_gas=10**9, max_fee_per_gas=100 * 10**9)
        return "0x" + tx.sign(key).encode().hex()

    per = count // clients
    batches = [[transfer(key, n) for n in range(per)] for _addr, key in keys[:clients]]
    warm = [transfer(keys[clients][1], n) for n in range(WARM_UP)]
    return batches, warm, [addr for addr, _ in keys[:clients]]


async def _rpc(session: Any, url: str, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    async with session.post(url, json=body) as resp:
        reply = await resp.json(content_type=None)
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


async def _drive(url: str, batches: list[list[str]], warm: list[str],
                 senders: list[bytes]) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for raw in warm:
            await _rpc(session, url, "eth_sendRawTransaction", raw)
        latencies: list[float] = []

        async def client(batch: list[str]) -> None:
            async with aiohttp.ClientSession() as own:  # one keep-alive connection
                for raw in batch:
                    start = time.perf_counter()
                    tx_hash = await _rpc(own, url, "eth_sendRawTransaction", raw)
                    # Mined? (at once on chainvm, whose answer waits for the block; anvil
                    # answers first and mines after)
                    while await _rpc(own, url, "eth_getTransactionReceipt", tx_hash) is None:
                        await asyncio.sleep(0.001)
                    latencies.append(time.perf_counter() - start)

        async def mined() -> list[int]:
            return [int(await _rpc(session, url, "eth_getTransactionCount", "0x" + a.hex(),
                                   "latest"), 16) for a in senders]

        start = time.perf_counter()
        await asyncio.gather(*(client(b) for b in batches))
        wait_until = time.monotonic() + 60
        nonces = await mined()
        while nonces != [len(b) for b in batches] and time.monotonic() < wait_until:
            await asyncio.sleep(0.01)
            nonces = await mined()
        elapsed = time.perf_counter() - start
        balance = int(await _rpc(session, url, "eth_getBalance", "0x" + RECIPIENT.hex(),
                                 "latest"), 16)
    sent = sum(len(b) for b in batches)
    if nonces != [len(b) for b in batches]:
        print(f"not mined: {sum(len(b) for b in batches) - sum(nonces)} transfers",
              file=sys.stderr)
    ok = all(n == len(b) for n, b in zip(nonces, batches, strict=True)) and \
        balance == sent + len(warm)
    latencies.sort()
    return {"transfers": sent, "seconds": round(elapsed, 3),
            "per_second": round(sent / elapsed, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 2),
            "p99_ms": round(1000 * latencies[min(len(latencies) - 1,
                                                  int(len(latencies) * 0.99))], 2),
            "checked": ok}


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                       "params": []}).encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"engine exited with {proc.returncode}")
        try:
            req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("engine did not answer")


def run_engine(name: str, command: list[str], port: int, batches: list[list[str]],
               warm: list[str], senders: list[bytes]) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_ready(url, proc)
        cpu = _cpu_seconds(proc.pid)
        result = asyncio.run(_drive(url, batches, warm, senders))
        # CPU the engine spent (warm-up included): a figure a loaded machine moves less
        # than the wall clock.
        cpu = _cpu_seconds(proc.pid) - cpu
        result["server_cpu_ms_per_transfer"] = round(
            1000 * cpu / (result["transfers"] + len(warm)), 3)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"engine": name, **result}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--transfers", type=int, default=5000)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--datadir", action="store_true", help="chainvm with an LMDB datadir")
    p.add_argument("--no-history-contract", action="store_true",
                   help="chainvm without EIP-2935's history contract in its genesis")
    p.add_argument("--only", choices=("chainvm", "anvil"))
    p.add_argument("--anvil", help="the anvil binary")
    p.add_argument("--json", action="store_true")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    if args.transfers <= 0 or not 0 < args.clients <= args.transfers:
        print("node_throughput: --transfers and --clients must be positive, clients at most "
              "transfers", file=sys.stderr)
        return 2
    batches, warm, senders = _sign_all(args.transfers, args.clients)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "chainvm"):
            port = _free_port()
            command = [sys.executable, "-m", "chainvm.node.cli", "--port", str(port),
                       "--accounts", str(args.clients + 1)]
            if args.datadir:
                command += ["--datadir", str(Path(tmp) / "chain")]
            if args.no_history_contract:
                command.append("--no-history-contract")
            name = "chainvm" + (" --datadir" if args.datadir else "") + (
                " --no-history-contract" if args.no_history_contract else "")
            print(f"running {name} ...", file=sys.stderr)
            results.append(run_engine(name, command, port, batches, warm, senders))
        anvil = _find_anvil(args.anvil)
        if args.only in (None, "anvil"):
            if anvil is None:
                print("anvil not found: skipped", file=sys.stderr)
            else:
                port = _free_port()
                print("running anvil ...", file=sys.stderr)
                results.append(run_engine("anvil", [anvil, "--port", str(port), "--accounts",
                                                    str(args.clients + 1), "--silent"],
                                          port, batches, warm, senders))
    header = f"{'engine':<20} {'tx/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/tx':>10}  checked"
    lines = [header]
    for r in results:
        lines.append(f"{r['engine']:<20} {r['per_second']:>8} {r['p50_ms']:>8} "
                     f"{r['p99_ms']:>8} {r['server_cpu_ms_per_transfer']:>10}  {r['checked']}")
    table = "\n".join(lines)
    meta = {"transfers": args.transfers, "clients": args.clients,
            "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps({**meta, "results": results}, indent=1))
    else:
        print(table)
    return 0 if all(r["checked"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
