"""CPU per transaction of the dev node for a contract with many storage slots, and the
memory a chain of blocks with EIP-2935's history contract keeps (docs/node.md, "Large
contracts" and "Not done yet"; a benchmark, not a test).

Run: .venv/bin/python benchmarks/large_contract.py [--slots 0,5000,20000] [--rounds 3]
         [--transactions 200] [--history-blocks 10000] [--json]

For each SLOTS count, a DevChain in memory deploys a contract whose code stores one slot
from its calldata, fills SLOTS other slots (`anvil_setStorageAt`, then one block), and
then sends ROUNDS rounds of TRANSACTIONS transactions to it through `eth_sendTransaction`
(no gas given: two gas-estimate runs and the block's, each on a copy of the state).
Reported: CPU milliseconds a transaction in each round; the first round at many slots
also builds the contract's storage trie once.

With --history-blocks N, two more DevChains mine N empty blocks each, with and without
the history contract in the genesis, each in a fresh process: the growth of its resident
memory (RSS, /proc/self/statm, after a collection) over those blocks and their CPU
seconds (0 skips this part).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Stores 1 at the slot its calldata names: CALLDATALOAD(0), SSTORE(key, 1), STOP.
STORE_ONE = "600160003555" + "00"
INIT = "6007600c60003960076000f3" + STORE_ONE


def per_transaction_ms(slots: int, rounds: int, transactions: int) -> list[float]:
    from chainvm.node.devchain import DevChain
    from chainvm.node.rpc import Rpc

    rpc = Rpc(DevChain(accounts=2))
    sender = rpc.call("eth_accounts")[0]
    tx = rpc.call("eth_sendTransaction", {"from": sender, "data": "0x" + INIT})
    contract = rpc.call("eth_getTransactionReceipt", tx)["contractAddress"]
    for key in range(slots):
        rpc.call("anvil_setStorageAt", contract, hex(10**6 + key), "0x" + "00" * 31 + "01")
    rpc.call("evm_mine")
    out = []
    for round_ in range(rounds):
        start = time.process_time()
        for i in range(transactions):
            word = (round_ * transactions + i + 7).to_bytes(32, "big").hex()
            rpc.call("eth_sendTransaction", {"from": sender, "to": contract, "data": "0x" + word})
        out.append((time.process_time() - start) / transactions * 1000)
    return out


def history_chain(blocks: int, history: bool) -> dict[str, float]:
    from chainvm.node.devchain import DevChain
    from chainvm.node.rpc import Rpc

    rpc = Rpc(DevChain(accounts=2, history_contract=history))
    rpc.call("evm_mine")
    gc.collect()
    before = rss_mb()
    start = time.process_time()
    for _ in range(blocks):
        rpc.call("evm_mine")
    cpu = time.process_time() - start
    gc.collect()
    return {"cpu_s": cpu, "rss_growth_mb": rss_mb() - before}


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/large_contract.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", default="0,5000,20000", metavar="N,N...")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transactions", type=int, default=200)
    parser.add_argument("--history-blocks", type=int, default=10_000, metavar="N")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    parser.add_argument("--history-worker", choices=("with", "without"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.history_worker:
        result = history_chain(args.history_blocks, args.history_worker == "with")
        print(json.dumps(result))
        return 0
    try:
        counts = [int(x) for x in args.slots.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--slots: expected comma-separated counts, got {args.slots!r}")
    if any(c < 0 for c in counts) or args.rounds < 1 or args.transactions < 1 \
            or args.history_blocks < 0:
        parser.error("counts must not be negative, and --rounds and --transactions positive")
    doc: dict[str, Any] = {"per_transaction_ms": {}, "history": {}}
    for count in counts:
        times = per_transaction_ms(count, args.rounds, args.transactions)
        doc["per_transaction_ms"][str(count)] = times
        print(f"{count:>7} slots: ms a transaction by round "
              + ", ".join(f"{t:.3f}" for t in times), file=sys.stderr)
    if args.history_blocks:
        for kind in ("without", "with"):
            run = subprocess.run([sys.executable, __file__, "--history-worker", kind,
                                  "--history-blocks", str(args.history_blocks)],
                                 capture_output=True, text=True, check=True)
            result = json.loads(run.stdout)
            doc["history"][kind] = result
            print(f"{args.history_blocks} blocks {kind} the history contract: RSS "
                  f"+{result['rss_growth_mb']:.1f} MB, {result['cpu_s']:.2f} CPU s",
                  file=sys.stderr)
    if args.json:
        print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
