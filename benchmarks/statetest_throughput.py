"""State-test throughput of chainvm against the execution specs (EELS), several forks.

For each (archive, fork) pair, a sample of state-test files spread over the archive
(every k-th file with a post entry for the fork, k chosen so that --files files are
taken) is run by chainvm's runner (`chainvm.evm.statetest.run_file`) and by the specs'
own runner (`ethereum_spec_tools.evm_tools.statetest`), each in its own process, on the
same cases, through the statetests suite worker of benchmarks/run.py. Every case is
verified by its post-state root (and logs hash). The figure is cases per CPU second of
the worker (`time.process_time()`, imports and process start-up excluded) and the
ratio chainvm / EELS of those rates.

    .venv/bin/python benchmarks/statetest_throughput.py --json > result.json

Files in folders known to take minutes per file under the specs (quadratic-complexity
and time-consuming tests) and files over 1 MB are left out of the sample, so that one
file cannot dominate the figure; the list is printed with the result.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SETS = ("state-legacy-constantinople:Byzantium,state-legacy-constantinople:"
                "ConstantinopleFix,state-legacy-cancun:Istanbul,state-legacy-cancun:Berlin,"
                "state-legacy-cancun:London,state-2024:Cancun")
SLOW_FOLDERS = ("stQuadraticComplexityTest", "stTimeConsuming", "stStaticCall",
                "vmPerformance", "stMemoryStressTest", "stAttackTest")
MAX_FILE_BYTES = 1 << 20


def load_run_module() -> Any:
    spec = importlib.util.spec_from_file_location("benchmarks_run", HERE / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks_run"] = module
    spec.loader.exec_module(module)
    return module


def sample_files(root: Path, fork: str, count: int) -> list[str]:
    """`count` files spread evenly over the sorted files of `root` that hold `fork` cases."""
    having: list[str] = []
    for path in sorted(root.rglob("*.json")):
        rel = str(path.relative_to(root))
        if any(part in SLOW_FOLDERS for part in Path(rel).parts) \
                or path.stat().st_size > MAX_FILE_BYTES:
            continue
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
        if any(isinstance(t, dict) and t.get("post", {}).get(fork) for t in data.values()):
            having.append(rel)
    if len(having) <= count:
        return having
    step = len(having) / count
    return [having[int(i * step)] for i in range(count)]


BLOCKTEST_WORKER = """
import json, sys, time
from pathlib import Path
from chainvm.chain.blocktest import run_file
root, files = Path(sys.argv[1]), json.loads(sys.argv[2])
cpu = time.process_time()
results = [r for rel in files for r in run_file(root / rel)]
cpu = time.process_time() - cpu
print(json.dumps({"cpu": cpu, "cases": len(results),
                  "passed": sum(1 for r in results if r.passed),
                  "failed": {r.name: r.error for r in results if not r.passed}}))
"""


def blocktest_row(archive: str, count: int, timeout: float) -> dict[str, Any]:
    """chainvm's blockchain-test runner over `count` files spread over `archive`, in a fresh
    process (CPU seconds after imports). The specs have no blockchain-test runner in their
    package, so chainvm runs alone."""
    import subprocess

    from chainvm.testing.fixtures import ethereum_tests

    root = ethereum_tests(archive)
    if root is None:
        raise SystemExit(f"statetest_throughput: no archive {archive!r}")
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.json")
                   if p.stat().st_size <= MAX_FILE_BYTES)
    if len(files) > count:
        files = [files[int(i * len(files) / count)] for i in range(count)]
    out = subprocess.run([sys.executable, "-c", BLOCKTEST_WORKER, str(root), json.dumps(files)],
                         capture_output=True, text=True, timeout=timeout, check=False)
    lines = out.stdout.strip().splitlines()
    if out.returncode or not lines:
        return {"archive": archive, "error": out.stderr.strip()[-300:], "files": files}
    return {"archive": archive, "files": files, **json.loads(lines[-1])}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/statetest_throughput.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=DEFAULT_SETS,
                        help="comma-separated ARCHIVE:FORK pairs (default: %(default)s)")
    parser.add_argument("--files", type=int, default=6, metavar="N",
                        help="files sampled per pair (default 6)")
    parser.add_argument("--impl", default="chainvm,eels",
                        help="implementations (default chainvm,eels)")
    parser.add_argument("--repeat", type=int, default=1, metavar="R",
                        help="passes per worker; the median CPU time is used (default 1: the "
                             "first pass, chainvm's code caches cold)")
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                        help="seconds one worker may take (default 3600)")
    parser.add_argument("--blocktests", default="blockchain-2024,blockchain-legacy-cancun",
                        metavar="ARCHIVES", help="blockchain-test archives for chainvm's "
                        "blockchain-test throughput (empty: none; default: %(default)s)")
    parser.add_argument("--blocktest-files", type=int, default=40, metavar="N",
                        help="files sampled per blockchain-test archive (default 40)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout, table on stderr")
    args = parser.parse_args(argv)
    run = load_run_module()
    from chainvm.testing.fixtures import ethereum_tests

    impls = [i.strip() for i in args.impl.split(",") if i.strip()]
    if not impls or any(i not in run.STATETEST_DRIVERS for i in impls) or args.files < 1 \
            or args.repeat < 1:
        sys.stderr.write("statetest_throughput: bad --impl, --files or --repeat\n")
        return 2
    progress = run.Progress(True)
    rows: list[dict[str, Any]] = []
    for pair in args.sets.split(","):
        archive, _, fork = pair.partition(":")
        root = ethereum_tests(archive)
        if root is None or not fork:
            sys.stderr.write(f"statetest_throughput: no archive {archive!r} or no fork in "
                             f"{pair!r}\n")
            return 2
        files = sample_files(root, fork, args.files)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump({"root": str(root), "fork": fork, "files": files}, fh)
            plan = Path(fh.name)
        try:
            results = {impl: run.run_suite_worker(impl, "statetests", plan, args.repeat,
                                                  args.timeout, progress) for impl in impls}
        finally:
            plan.unlink()
        row: dict[str, Any] = {"archive": archive, "fork": fork, "files": files}
        for impl, res in results.items():
            cases = res.get("cases") or {}
            row[impl] = {"status": res["status"], "error": res.get("error"),
                         "cases": len(cases),
                         "passed": sum(1 for c in cases.values() if c["pass"]),
                         "cpu": run.median_of(res, "cpu_times"),
                         "max_rss_mib": res.get("max_rss_mib"),
                         "failed": {k: c["error"] for k, c in cases.items() if not c["pass"]}}
        rows.append(row)
    lines = [f"{'archive:fork':42} {'cases':>6} " + " ".join(
        f"{i + ' pass':>12} {i + ' cpu s':>12} {i + ' cases/s':>14}" for i in impls)
        + ("  chainvm/eels" if {"chainvm", "eels"} <= set(impls) else "")]
    totals = {i: [0, 0, 0.0] for i in impls}
    for row in rows:
        cells = []
        for i in impls:
            r = row[i]
            cpu = r["cpu"] or 0.0
            totals[i][0] += r["cases"]
            totals[i][1] += r["passed"]
            totals[i][2] += cpu
            rate = r["cases"] / cpu if cpu else 0.0
            cells.append(f"{r['passed']:>7}/{r['cases']:<4} {cpu:>12.2f} {rate:>14.1f}")
        ratio = ""
        if {"chainvm", "eels"} <= set(impls) and row["chainvm"]["cpu"] and row["eels"]["cpu"]:
            ratio = f"  {row['eels']['cpu'] / row['chainvm']['cpu']:>12.1f}x"
        cases = row[impls[0]]["cases"]
        lines.append(f"{row['archive'] + ':' + row['fork']:42} {cases:>6} "
                     + " ".join(cells) + ratio)
    cells = []
    for i in impls:
        n, ok, cpu = totals[i]
        cells.append(f"{ok:>7}/{n:<4} {cpu:>12.2f} {n / cpu if cpu else 0:>14.1f}")
    ratio = ""
    if {"chainvm", "eels"} <= set(impls) and totals["chainvm"][2] and totals["eels"][2]:
        ratio = f"  {totals['eels'][2] / totals['chainvm'][2]:>12.1f}x"
    lines.append(f"{'total':42} {totals[impls[0]][0]:>6} " + " ".join(cells) + ratio)
    lines.append("cpu s: worker CPU seconds for the sample (process start-up and imports "
                 "excluded); chainvm/eels: EELS CPU / chainvm CPU on the same cases")
    for i in impls:
        peaks = [row[i]["max_rss_mib"] for row in rows if row[i].get("max_rss_mib")]
        if peaks:
            lines.append(f"{i}: peak RSS of a worker {max(peaks):.0f} MiB")
    lines.append(f"left out of the samples: folders {', '.join(SLOW_FOLDERS)}; files over "
                 f"{MAX_FILE_BYTES >> 20} MB")
    for row in rows:
        for i in impls:
            for case, why in list(row[i]["failed"].items())[:5]:
                lines.append(f"FAIL {i} {row['archive']}:{row['fork']} {case}: {why}")
    blocks = [blocktest_row(a.strip(), args.blocktest_files, args.timeout)
              for a in args.blocktests.split(",") if a.strip()]
    for row in blocks:
        if "error" in row:
            lines.append(f"blockchain tests {row['archive']}: chainvm failed: {row['error']}")
            continue
        lines.append(f"blockchain tests {row['archive']} ({len(row['files'])} files): chainvm "
                     f"{row['passed']}/{row['cases']} passed, {row['cpu']:.2f} CPU s, "
                     f"{row['cases'] / row['cpu'] if row['cpu'] else 0:.1f} cases/s "
                     "(the specs' package has no runner for blockchain-test files; its t8n applies "
                     "one block per call)")
        for case, why in list(row["failed"].items())[:5]:
            lines.append(f"FAIL chainvm {row['archive']} {case}: {why}")
    table = "\n".join(lines) + "\n"
    if args.json:
        json.dump({"command": " ".join(["benchmarks/statetest_throughput.py", *argv]),
                   "chainvm_revision": run.chainvm_revision(), "rows": rows,
                   "blocktests": blocks}, sys.stdout,
                  indent=2)
        sys.stdout.write("\n")
        sys.stderr.write(table)
    else:
        sys.stdout.write(table)
    failed = any(row[i]["passed"] != row[i]["cases"] or row[i]["status"] != "ok"
                 for row in rows for i in impls if i == "chainvm") \
        or any("error" in row or row["passed"] != row["cases"] for row in blocks)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
