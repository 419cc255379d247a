"""State-test throughput of chainvm against the execution specs (EELS), several forks.

For each (archive, fork) pair, a sample of state-test files spread over the archive
(every k-th file with a post entry for the fork, k chosen so that --files files are
taken) is run by chainvm's runner (`chainvm.evm.statetest.run_file`) and by the specs'
own runner (`ethereum_spec_tools.evm_tools.statetest`), each in its own process, on the
same cases, through the statetests suite worker of benchmarks/run.py. Every case is
verified by its post-state root (and logs hash). The figure is cases per CPU second of
the worker (`time.process_time()`, process start-up and imports excluded: the modules
an implementation loads on any of the sample's files, found by running them once in a
forked child, are imported before the clock starts) and the ratio chainvm / EELS of
those rates. With --rounds N each pair runs in N fresh workers per implementation, the
implementations taking turns, and its CPU is the median of theirs: a row of a few tens of
milliseconds can take a third longer in one worker than in the next on a shared machine.

    .venv/bin/python benchmarks/statetest_throughput.py --json > result.json

Files in folders known to take minutes per file under the specs (quadratic-complexity
and time-consuming tests) and files over 1 MB are left out of the sample, so that one
file cannot dominate the figure; the list is printed with the result.

Blockchain tests (--blocktests, every file under 1 MB of each archive by default) are run
the same way: chainvm's runner (`chainvm.chain.blocktest`) and the specs' fork code
driven by benchmarks/blocktest_eels.py (the specs' package ships no blockchain-test
runner), each in its own process, on the same cases; the cases that driver cannot run
(transition networks, side chains) are listed as skipped for both.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
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
    if "benchmarks_run" in sys.modules:
        return sys.modules["benchmarks_run"]
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


def load_blocktest_module() -> Any:
    spec = importlib.util.spec_from_file_location("benchmarks_blocktest_eels",
                                                  HERE / "blocktest_eels.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks_blocktest_eels"] = module
    spec.loader.exec_module(module)
    return module


def blocktest_worker(impl: str, plan: Path, timeout: float) -> dict[str, Any]:
    """One implementation's blockchain-test worker (benchmarks/blocktest_eels.py) in its
    own process: {"cpu", "cases"} or {"error"}."""
    import subprocess

    cmd = [sys.executable, str(HERE / "blocktest_eels.py"), "--worker", impl, "--plan", str(plan)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                             env=load_run_module().worker_env())
    except subprocess.TimeoutExpired:
        return {"error": f"the run took over {timeout:g}s"}
    lines = out.stdout.strip().splitlines()
    if out.returncode or not lines:
        return {"error": out.stderr.strip()[-300:] or f"exit status {out.returncode}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def blocktest_row(archive: str, count: int, impls: list[str], timeout: float) -> dict[str, Any]:
    """Blockchain tests of `count` files spread over `archive`: the cases the specs' driver
    can run (benchmarks/blocktest_eels.py) through chainvm's runner and through the specs'
    fork code, each in a fresh process (CPU seconds after imports); the other cases are
    listed as skipped for both."""
    from chainvm.testing.fixtures import ethereum_tests

    root = ethereum_tests(archive)
    if root is None:
        raise SystemExit(f"statetest_throughput: no archive {archive!r}")
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.json")
                   if p.stat().st_size <= MAX_FILE_BYTES)
    if 0 < count < len(files):
        files = [files[int(i * len(files) / count)] for i in range(count)]
    plan, skipped = load_blocktest_module().make_plan(root, files)
    row: dict[str, Any] = {"archive": archive, "files": files,
                           "cases": sum(len(names) for _, names in plan["cases"]),
                           "skipped": skipped}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(plan, fh)
        plan_path = Path(fh.name)
    try:
        for impl in impls:
            res = blocktest_worker(impl, plan_path, timeout)
            if "error" in res:
                row[impl] = {"error": res["error"]}
                continue
            cases = res["cases"]
            row[impl] = {"cases": len(cases), "passed": sum(1 for c in cases.values() if c["pass"]),
                         "cpu": res["cpu"],
                         "failed": {k: c["error"] for k, c in cases.items() if not c["pass"]}}
    finally:
        plan_path.unlink()
    return row


def blocktest_lines(blocks: list[dict[str, Any]], impls: list[str]) -> list[str]:
    """The blockchain-test table: per archive, each side's passes, CPU and rate on the same
    cases, and the ratio; then the skipped cases and the failures."""
    both = {"chainvm", "eels"} <= set(impls)
    lines = [f"{'blockchain tests':42} {'cases':>6} {'skip':>5} " + " ".join(
        f"{i + ' pass':>12} {i + ' cpu s':>12} {i + ' cases/s':>14}" for i in impls)
        + ("  chainvm/eels" if both else "")]
    for row in blocks:
        cells = []
        for i in impls:
            r = row[i]
            if "error" in r:
                cells.append(f"{'error':>12} {'-':>12} {'-':>14}")
                continue
            rate = r["cases"] / r["cpu"] if r["cpu"] else 0.0
            cells.append(f"{r['passed']:>7}/{r['cases']:<4} {r['cpu']:>12.2f} {rate:>14.1f}")
        ratio = ""
        if both and row["chainvm"].get("cpu") and row["eels"].get("cpu"):
            ratio = f"  {row['eels']['cpu'] / row['chainvm']['cpu']:>12.1f}x"
        label = f"{row['archive']} ({len(row['files'])} files)"
        lines.append(f"{label:42} {row['cases']:>6} {len(row['skipped']):>5} "
                     + " ".join(cells) + ratio)
    lines.append("blockchain tests: the same cases on both sides (chainvm.chain.blocktest; the "
                 "specs' fork code driven by benchmarks/blocktest_eels.py), CPU seconds of each "
                 "worker loading the files and running them; skip: cases neither side runs; files "
                 f"over {MAX_FILE_BYTES >> 20} MB left out")
    for row in blocks:
        for i in impls:
            if "error" in row[i]:
                lines.append(f"blockchain tests {row['archive']}: {i} failed: {row[i]['error']}")
        by_reason: dict[str, list[str]] = {}
        for case, why in row["skipped"].items():
            by_reason.setdefault(re.sub(r"block \d+", "a block", why), []).append(
                case.rpartition("::")[2])
        for why, names in by_reason.items():
            lines.append(f"SKIP {row['archive']} {len(names)} cases, {why}: {', '.join(names)}")
        for i in impls:
            for case, why in list(row[i].get("failed", {}).items())[:5]:
                lines.append(f"FAIL {i} {row['archive']} {case}: {why}")
    return lines


def state_lines(rows: list[dict[str, Any]], impls: list[str]) -> list[str]:
    """The state-test table: per archive and fork, each side's passes, CPU and rate."""
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
    return lines


def pair_result(run: Any, workers: list[dict[str, Any]]) -> dict[str, Any]:
    """One implementation's figures for a pair from its workers (one per round): the
    first worker's cases, the median of the workers' CPU times. A worker that failed, or
    whose verdicts differ from the first's, makes the pair's status its own."""
    res = workers[0]
    cases = res.get("cases") or {}
    verdicts = {k: c["pass"] for k, c in cases.items()}
    cpus = [run.median_of(w, "cpu_times") for w in workers]
    status, error = res["status"], res.get("error")
    for w in workers[1:]:
        if w["status"] != "ok" and status == "ok":
            status, error = w["status"], w.get("error")
        elif {k: c["pass"] for k, c in (w.get("cases") or {}).items()} != verdicts \
                and status == "ok":
            status, error = "error", "verdicts differ between rounds"
    known = [c for c in cpus if c is not None]
    return {"status": status, "error": error, "cases": len(cases),
            "passed": sum(1 for c in cases.values() if c["pass"]),
            "cpu": statistics.median(known) if len(known) == len(cpus) else None,
            "cpu_rounds": cpus, "max_rss_mib": res.get("max_rss_mib"),
            "failed": {k: c["error"] for k, c in cases.items() if not c["pass"]}}


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
    parser.add_argument("--rounds", type=int, default=1, metavar="N",
                        help="fresh workers per pair and implementation, the implementations "
                             "taking turns; a pair's CPU is the median of its N workers' "
                             "(default 1)")
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                        help="seconds one worker may take (default 3600)")
    parser.add_argument("--blocktests", default="blockchain-2024,blockchain-legacy-cancun",
                        metavar="ARCHIVES", help="blockchain-test archives, run by chainvm and (with eels "
                        "in --impl) the specs' fork code (empty: none; default: %(default)s)")
    parser.add_argument("--blocktest-files", type=int, default=0, metavar="N",
                        help="files sampled per blockchain-test archive (default 0: every "
                             "file under 1 MB)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout, table on stderr")
    args = parser.parse_args(argv)
    run = load_run_module()
    from chainvm.testing.fixtures import ethereum_tests

    impls = [i.strip() for i in args.impl.split(",") if i.strip()]
    if not impls or any(i not in run.STATETEST_DRIVERS for i in impls) or args.files < 1 \
            or args.repeat < 1 or args.rounds < 1:
        sys.stderr.write("statetest_throughput: bad --impl, --files, --repeat or --rounds\n")
        return 2
    progress = run.Progress(True)
    rows: list[dict[str, Any]] = []
    for pair in [p for p in args.sets.split(",") if p.strip()]:
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
        workers: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
        try:
            for _ in range(args.rounds):
                for impl in impls:
                    workers[impl].append(run.run_suite_worker(impl, "statetests", plan,
                                                              args.repeat, args.timeout,
                                                              progress))
        finally:
            plan.unlink()
        row: dict[str, Any] = {"archive": archive, "fork": fork, "files": files}
        for impl, runs in workers.items():
            row[impl] = pair_result(run, runs)
        rows.append(row)
    lines = state_lines(rows, impls) if rows else []
    block_impls = ["chainvm"] + (["eels"] if "eels" in impls else [])
    blocks = [blocktest_row(a.strip(), args.blocktest_files, block_impls, args.timeout)
              for a in args.blocktests.split(",") if a.strip()]
    if blocks:
        lines.extend(blocktest_lines(blocks, block_impls))
    table = "\n".join(lines) + "\n"
    if args.json:
        json.dump({"command": " ".join(["benchmarks/statetest_throughput.py", *argv]),
                   "chainvm_revision": run.chainvm_revision(),
                   "chainvm_settings": run.chainvm_settings(), "rows": rows,
                   "blocktests": blocks}, sys.stdout,
                  indent=2)
        sys.stdout.write("\n")
        sys.stderr.write(table)
    else:
        sys.stdout.write(table)
    failed = any(row[i]["passed"] != row[i]["cases"] or row[i]["status"] != "ok"
                 for row in rows for i in impls if i == "chainvm") \
        or any("error" in row["chainvm"] or row["chainvm"]["passed"] != row["cases"]
               for row in blocks)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
