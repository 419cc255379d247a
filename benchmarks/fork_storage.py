"""Reading storage of a forked contract: chainvm's fork mode beside anvil's, on one remote.

Run: .venv/bin/python benchmarks/fork_storage.py [--slots N] [--repeat R] [--json]

The remote is a plain anvil (npm @foundry-rs/anvil, installed on first use as in the
node tests) on a loopback port, with tests/node/sol/ForkProbe.sol deployed and its table
filled with N entries (`table[i] = i + 1`, N distinct storage slots). Each repetition
starts, for each engine in turn, a fresh fork node of that remote at that block:

  chainvm   `chainvm node --fork Prague --fork-url REMOTE --fork-block-number B`
            (no cache dir)
  anvil     `anvil --hardfork prague --fork-url REMOTE --fork-block-number B
            --no-storage-caching`

and times one `eth_call` of `sum(N)` (N SLOADs of slots the fork has never read: the
cold read), then the same call again (warm: everything held). The answer is checked
against N(N+1)/2. Reported: the median over the repetitions of each time, the ratio
chainvm / anvil (below 1: chainvm faster), and the HTTP requests each engine sent to the
remote for the cold call (counted by a proxy in an extra, untimed run).

JSON on stdout with --json (the table on stderr), the table on stdout otherwise.
Exit 0 when every answer was right, 1 otherwise, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eth_abi import encode

from chainvm.crypto import keccak256
from tests.node.compilers import solidity
from tests.node.helpers import Client
from tests.node.remotes import (
    CountingProxy,
    Process,
    anvil_binary,
    free_port,
    start_anvil,
)

DEV0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
FILL_CHUNK = 250  # slots per filling transaction (gas)


def calldata(signature: str, *args: int) -> str:
    return "0x" + (keccak256(signature.encode())[:4]
                   + encode(["uint256"] * len(args), list(args))).hex()


def send(rpc: Client, tx: dict[str, Any]) -> dict[str, Any]:
    tx_hash = rpc("eth_sendTransaction", {"from": DEV0, "gas": hex(25_000_000), **tx})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        receipt = rpc("eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            assert receipt["status"] == "0x1", receipt
            return receipt  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise RuntimeError("the remote did not mine the set-up transaction")


def start_fork(engine: str, remote: str, block: int) -> Process:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    if engine == "chainvm":
        return Process([sys.executable, "-m", "chainvm.node.cli", "--port", str(port),
                        "--fork", "Prague", "--fork-url", remote, "--fork-block-number",
                        str(block)], url)
    binary = anvil_binary()
    assert binary is not None
    return Process([str(binary), "--host", "127.0.0.1", "--port", str(port), "--silent",
                    "--hardfork", "prague", "--fork-url", remote, "--fork-block-number",
                    str(block), "--no-storage-caching"], url)


def timed_call(url: str, probe: str, slots: int) -> tuple[float, int]:
    rpc = Client(url)
    start = time.perf_counter()
    out = rpc("eth_call", {"to": probe, "data": calldata("sum(uint256)", slots)}, "latest")
    elapsed = time.perf_counter() - start
    return elapsed, int(out, 16)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fork_storage.py", description=__doc__.splitlines()[0])
    p.add_argument("--slots", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    if args.slots < 1 or args.repeat < 1:
        print("fork_storage.py: --slots and --repeat must be positive", file=sys.stderr)
        return 2
    if anvil_binary() is None:
        print("fork_storage.py: npm @foundry-rs/anvil is not available", file=sys.stderr)
        return 1
    remote = start_anvil("--gas-limit", "100000000")
    engines = ["chainvm", "anvil"]
    times: dict[str, dict[str, list[float]]] = {e: {"cold": [], "warm": []} for e in engines}
    requests: dict[str, int] = {}
    ok = True
    want = args.slots * (args.slots + 1) // 2
    try:
        rpc = Client(remote.url)
        probe = solidity()["ForkProbe"]
        code = probe["bytecode"] + encode(["uint256"], [7])
        address = send(rpc, {"data": "0x" + code.hex()})["contractAddress"]
        for start in range(0, args.slots, FILL_CHUNK):
            send(rpc, {"to": address, "data": calldata(
                "fill(uint256,uint256)", start, min(FILL_CHUNK, args.slots - start))})
        block = int(rpc("eth_blockNumber"), 16)
        for _ in range(args.repeat):
            for engine in engines:  # one engine at a time, alternating
                node = start_fork(engine, remote.url, block)
                try:
                    for kind in ("cold", "warm"):
                        elapsed, total = timed_call(node.url, address, args.slots)
                        ok &= total == want
                        times[engine][kind].append(elapsed)
                finally:
                    node.stop()
        for engine in engines:  # untimed: the remote requests of a cold call
            proxy = CountingProxy(remote.url)
            node = start_fork(engine, proxy.url, block)
            try:
                proxy.reset()
                ok &= timed_call(node.url, address, args.slots)[1] == want
                requests[engine] = proxy.requests
            finally:
                node.stop()
                proxy.stop()
    finally:
        remote.stop()
    result: dict[str, Any] = {"slots": args.slots, "repeat": args.repeat, "engines": {}}
    for engine in engines:
        result["engines"][engine] = {
            "cold_ms": round(statistics.median(times[engine]["cold"]) * 1000, 2),
            "warm_ms": round(statistics.median(times[engine]["warm"]) * 1000, 2),
            "cold_remote_requests": requests.get(engine)}
    c, a = result["engines"]["chainvm"], result["engines"]["anvil"]
    result["ratio_cold"] = round(c["cold_ms"] / a["cold_ms"], 3)
    result["ratio_warm"] = round(c["warm_ms"] / a["warm_ms"], 3)
    result["correct"] = ok
    lines = [(f"reading {args.slots} storage slots of a forked contract (eth_call), "
              f"median of {args.repeat}"),
             f"{'engine':10} {'cold ms':>10} {'warm ms':>10} {'remote requests (cold)':>24}"]
    for engine in engines:
        r = result["engines"][engine]
        lines.append(f"{engine:10} {r['cold_ms']:10.2f} {r['warm_ms']:10.2f} "
                     f"{r['cold_remote_requests']!s:>24}")
    lines.append(f"chainvm / anvil: cold {result['ratio_cold']}, warm {result['ratio_warm']}"
                 + ("" if ok else "  (WRONG ANSWERS)"))
    table = "\n".join(lines)
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps(result))
    else:
        print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
