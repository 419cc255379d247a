"""Memory and time per block of the dev chain with many accounts (issue 14's state figure;
a benchmark, not a test).

Run: .venv/bin/python benchmarks/node_state_memory.py [--accounts 2000] [--blocks 10000]
         [--transfers-every K] [--datadir] [--json]

A DevChain in memory with ACCOUNTS funded accounts mines BLOCKS blocks (empty, or with
one transfer every K blocks). Reported: resident memory (RSS, from /proc/self/statm)
before and after, its growth per block, and the mean time per block. Then the state of
an old block is asked for (made again from the nearest kept state) and checked
against its header's state root. With --datadir the chain is kept in LMDB in a
temporary folder, and is then reopened by a fresh process: the time `Chain.open` takes
(the dev chain's key derivation, about 0.5 ms an account, aside) and that process's
RSS growth are reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--blocks", type=int, default=10_000)
    p.add_argument("--transfers-every", type=int, default=0)
    p.add_argument("--datadir", action="store_true")
    p.add_argument("--reopen", help=argparse.SUPPRESS)  # the child that times a reopen
    p.add_argument("--json", action="store_true")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    if args.accounts < 2 or args.blocks < 1 or args.transfers_every < 0:
        print("node_state_memory: --accounts >= 2, --blocks >= 1", file=sys.stderr)
        return 2
    import gc
    import subprocess
    import tempfile

    from chainvm.node.devchain import CallArgs, DevChain

    if args.reopen:
        gc.collect()
        start_rss = rss_mb()
        from chainvm.chain.chain import Chain

        t = time.perf_counter()
        chain = Chain.open(args.reopen)  # the chain alone: DevChain also derives its keys
        opened = time.perf_counter() - t
        ok = chain.state().state_root() == chain.head.header.state_root
        print(json.dumps({"reopen_s": round(opened, 2), "head": chain.head.number, "ok": ok,
                          "reopen_rss_growth_mb": round(rss_mb() - start_rss, 1)}))
        chain.close()
        return 0
    tmp = tempfile.TemporaryDirectory() if args.datadir else None
    datadir = tmp.name if tmp is not None else None
    dev = DevChain(accounts=args.accounts, datadir=datadir)
    gc.collect()
    before = rss_mb()
    a, b = dev.accounts[:2]
    start = time.perf_counter()
    for i in range(args.blocks):
        if args.transfers_every and i % args.transfers_every == 0:
            dev.send_transaction(CallArgs(sender=a, to=b, value=1, gas=21000))
        else:
            dev.mine()
    elapsed = time.perf_counter() - start
    gc.collect()
    after = rss_mb()
    old = dev.chain.get_block_by_number(max(1, args.blocks // 2 + 1))
    assert old is not None
    t = time.perf_counter()
    ok = old.state.state_root() == old.header.state_root
    rebuild_ms = (time.perf_counter() - t) * 1000
    out = {"accounts": args.accounts, "blocks": args.blocks,
           "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
           "rss_growth_mb": round(after - before, 1),
           "kb_per_block": round((after - before) * 1024 / args.blocks, 2),
           "ms_per_block": round(1000 * elapsed / args.blocks, 2),
           "old_state_ms": round(rebuild_ms, 1), "old_state_root_ok": ok}
    if tmp is not None:
        dev.close()
        out["datadir_mb"] = round(sum(f.stat().st_size for f in Path(tmp.name).iterdir())
                                  / 2**20, 1)
        child = subprocess.run([sys.executable, __file__, "--accounts", str(args.accounts),
                                "--reopen", tmp.name], capture_output=True, text=True,
                               check=True)
        reopened = json.loads(child.stdout)
        out.update(reopened)
        ok = ok and reopened["ok"] and reopened["head"] == args.blocks
        tmp.cleanup()
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
