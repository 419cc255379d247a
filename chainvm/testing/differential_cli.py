"""`chainvm difftest`: run generated programs on chainvm and on the execution specs.

    chainvm difftest --fork Prague --count 1000 --seed 1 --workers 2

Prints a JSON summary on stdout (programs run, divergences, oracle failures,
throughput, per fork) and a human summary on stderr. Divergences are shrunk
and saved as reproducers (by default under tests/evm/regressions/). The exit
status is 1 when any divergence was found, else 0.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from chainvm.cli.campaign import Job, add_campaign_flags, case_timeout_of, print_summary, run_suite
from chainvm.cli.common import ArgumentParser, UsageError
from chainvm.encoding.json_input import InputError, expect_object, read_json_file, short
from chainvm.testing.differential import (
    SUPPORTED_FORKS,
    checked_case,
    compare,
    save_regression,
    shrink,
)
from chainvm.testing.program_gen import generate_case

DEFAULT_SAVE_DIR = Path(__file__).resolve().parents[2] / "tests" / "evm" / "regressions"


def case_seed(seed: int, fork: str, index: int) -> str:
    return f"{seed}:{fork}:{index}"


def run_one(job: tuple[str, int, int, str | None, float],
            keep_reproducer: bool = False) -> dict[str, Any]:
    """Generate, run and compare one program; shrink and save it if it diverges.

    With `keep_reproducer` (a worker on another machine) the shrunk case travels back
    in the result under "_reproducer" for the driver to save."""
    fork, seed, index, save_dir, shrink_seconds = job
    start = time.perf_counter()
    case = generate_case(fork, random.Random(case_seed(seed, fork, index)))
    verdict = compare(case)
    out: dict[str, Any] = {"fork": fork, "index": index, "status": verdict.status,
                           "fields": verdict.fields, "valid": verdict.chainvm.valid,
                           "success": verdict.chainvm.success}
    if verdict.status == "oracle_failure":
        out["error"] = (verdict.oracle.error or "").splitlines()[0][:200]
    elif verdict.status == "divergence":
        out["chainvm_error"] = (verdict.chainvm.error or "").splitlines()[0][:200] \
            if verdict.chainvm.error else None
        out["oracle_error"] = verdict.oracle.error
        if save_dir is not None:
            small = shrink(case, verdict.fields, budget_seconds=shrink_seconds) \
                if shrink_seconds > 0 else case
            final = compare(small)
            if final.status != "divergence":  # should not happen: keep the original
                small, final = case, verdict
            note = f"difftest seed {seed} index {index}"
            if keep_reproducer:
                out["_reproducer"] = (small, final, note)
            else:
                out["reproducer"] = str(save_regression(small, final, Path(save_dir), note))
    out["seconds"] = time.perf_counter() - start
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = ArgumentParser(prog="chainvm difftest", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--fork",
                   help="a fork name, a comma-separated list, or 'all' "
                        f"({', '.join(SUPPORTED_FORKS)})")
    p.add_argument("--count", type=int, default=100, help="programs per fork")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--start", type=int, default=0, help="first program index")
    p.add_argument("--save-dir", default=str(DEFAULT_SAVE_DIR),
                   help="where shrunk reproducers go ('' to not save)")
    p.add_argument("--shrink-seconds", type=float, default=60.0,
                   help="time budget to minimise each divergence (0: no shrinking)")
    p.add_argument("--replay", nargs="+", metavar="JSON",
                   help="run saved reproducers instead of generating programs")
    add_campaign_flags(p)
    return p.parse_args(argv)


def resolve_forks(spec: str) -> list[str]:
    if spec == "all":
        return list(SUPPORTED_FORKS)
    forks = [f.strip() for f in spec.split(",") if f.strip()]
    if not forks:  # ",,," would run nothing and report success
        raise UsageError(f"difftest: --fork {short(spec)} names no fork; "
                         f"supported: all, {', '.join(SUPPORTED_FORKS)}")
    aliases = {"TangerineWhistle": "EIP150", "SpuriousDragon": "EIP158",
               "Petersburg": "ConstantinopleFix", "Merge": "Paris"}
    forks = [aliases.get(f, f) for f in forks]
    unknown = [f for f in forks if f not in SUPPORTED_FORKS]
    if unknown:
        raise UsageError(f"difftest: no oracle for fork(s) {', '.join(unknown)}; "
                         f"supported: {', '.join(SUPPORTED_FORKS)}")
    return forks


def _replay_checked(path: str) -> Any:
    """Replay one reproducer; a file that is not one is bad input (UsageError)."""
    try:
        record = read_json_file(path)
        case = checked_case(expect_object(record, path).get("case"), f"{path}: case")
    except InputError as exc:
        raise UsageError(str(exc)) from None
    if case.get("fork") not in SUPPORTED_FORKS:
        raise UsageError(f"{path}: case: no oracle for fork {short(case.get('fork'))}")
    try:
        return compare(case)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: not a difftest reproducer ({type(exc).__name__}: "
                         f"{short(str(exc), 80)})") from None


def replay_files(paths: list[str]) -> int:
    """Run saved reproducers again; prints each verdict as JSON."""
    verdicts = {}
    for path in paths:
        verdict = _replay_checked(path)
        verdicts[path] = verdict.to_json()
        sys.stderr.write(f"{path}: {verdict.status} {', '.join(verdict.fields)}\n")
    json.dump(verdicts, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 1 if any(v["status"] == "divergence" for v in verdicts.values()) else 0


class DiffTestSuite:
    """Generated programs as a campaign: a case is (fork, program index) of one seed."""

    label = "difftest"

    def __init__(self, seed: int = 0, save_dir: str | None = None,
                 shrink_seconds: float = 0.0, remote: bool = False) -> None:
        self.seed, self.save_dir, self.shrink_seconds = seed, save_dir, shrink_seconds
        self.remote = remote

    def load(self, file: str, raw: bytes | None) -> Any:
        return None

    def list_cases(self, file: str, data: Any) -> list[Any]:
        return []

    def key(self, file: str, case: Any) -> str:
        return case_seed(self.seed, case[0], case[1])

    def run_case(self, file: str, data: Any, case: Any, job: Job) -> dict[str, Any]:
        fork, index = case
        return run_one((fork, self.seed, index, self.save_dir, self.shrink_seconds),
                       keep_reproducer=self.remote)

    def collect(self, record: dict[str, Any]) -> dict[str, Any]:
        """In the driver: save a reproducer a remote worker sent back."""
        shipped = record.pop("_reproducer", None)
        if shipped is not None and self.save_dir is not None:
            small, final, note = shipped
            record["reproducer"] = str(save_regression(small, final, Path(self.save_dir), note))
        return record

    def timeout_record(self, file: str, case: Any, seconds: float) -> dict[str, Any]:
        return {"fork": case[0], "index": case[1], "status": "timeout", "fields": [],
                "valid": False, "success": False, "seconds": seconds, "timeout": True}

    def passed(self, record: dict[str, Any]) -> bool:
        return record.get("status") != "divergence"

    def summary(self, records: list[dict[str, Any]], out: IO[str], table: bool) -> None:
        forks = sorted({r["fork"] for r in records},
                       key=lambda f: SUPPORTED_FORKS.index(f) if f in SUPPORTED_FORKS else 99)
        write_report(summarize(records, forks), out, None)


def summarize(results: list[dict[str, Any]], forks: list[str]) -> dict[str, Any]:
    """Counts per fork and the details of every divergence, oracle failure and timeout."""
    per_fork: dict[str, dict[str, Any]] = {}
    for fork in forks:
        mine = [r for r in results if r["fork"] == fork]
        status = Counter(r["status"] for r in mine)
        per_fork[fork] = {
            "programs": len(mine), "ok": status["ok"], "divergences": status["divergence"],
            "oracle_failures": status["oracle_failure"], "timeouts": status["timeout"],
            "valid_transactions": sum(1 for r in mine if r["valid"]),
            "successful": sum(1 for r in mine if r["valid"] and r["success"]),
            "cpu_seconds": round(sum(r["seconds"] for r in mine), 2),
        }
    divergences = sorted(([{k: r.get(k) for k in ("fork", "index", "fields", "chainvm_error",
                                                   "oracle_error", "reproducer")}
                           for r in results if r["status"] == "divergence"]),
                         key=lambda d: (d["fork"], d["index"]))
    failures = sorted(([{k: r.get(k) for k in ("fork", "index", "error")}
                        for r in results if r["status"] == "oracle_failure"]),
                      key=lambda d: (d["fork"], d["index"]))
    timeouts = sorted(({"fork": r["fork"], "index": r["index"]}
                       for r in results if r["status"] == "timeout"),
                      key=lambda d: (d["fork"], d["index"]))
    return {"programs": len(results), "divergences": len(divergences),
            "oracle_failures": len(failures), "timeouts": len(timeouts), "forks": per_fork,
            "divergence_details": divergences, "oracle_failure_details": failures,
            "timeout_details": timeouts}


def write_report(summary: dict[str, Any], err: IO[str], wall: float | None) -> None:
    if wall is not None:
        err.write(f"difftest: {summary['programs']} programs in {wall:.1f} s "
                  f"({summary['programs_per_second']} programs/s, {summary['workers']} "
                  f"worker(s)), {summary['divergences']} divergence(s), "
                  f"{summary['oracle_failures']} oracle failure(s)\n")
    else:
        err.write(f"difftest: {summary['programs']} programs, {summary['divergences']} "
                  f"divergence(s), {summary['oracle_failures']} oracle failure(s)\n")
    for fork, row in summary["forks"].items():
        err.write(f"  {fork:18} {row['programs']:6} programs  {row['divergences']:4} divergent  "
                  f"{row['oracle_failures']:4} oracle failures  "
                  f"{row['valid_transactions']:6} valid txs  {row['successful']:6} succeeded"
                  + (f"  {row['timeouts']} timed out" if row["timeouts"] else "") + "\n")
    for d in summary["divergence_details"][:20]:
        where = f"  -> {d['reproducer']}" if d.get("reproducer") else ""
        err.write(f"  DIVERGENCE {d['fork']} #{d['index']}: {', '.join(d['fields'] or [])}"
                  f"{where}\n")


def require_oracle() -> None:
    """Refuse, before any case runs, a difftest that could not run the execution specs
    (a plain `pip install chainvm` does not bring them): each case would otherwise end
    in the same ImportError, in every worker."""
    try:
        import ethereum.exceptions  # noqa: F401
        import ethereum_types  # noqa: F401
    except ImportError as missing:
        raise UsageError(f"difftest: the execution specs are not installed ({missing}); "
                         "pip install 'chainvm[difftest]'") from None


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.replay:
        require_oracle()
        return replay_files(args.replay)
    if args.summary:
        return print_summary(DiffTestSuite(), args.summary)
    if not args.fork:
        raise UsageError("difftest: --fork is required (or --replay FILE..., --summary FILE)")
    forks = resolve_forks(args.fork)
    require_oracle()
    if args.count < 0 or args.start < 0 or args.workers < 1 \
            or not 0 <= args.shrink_seconds < float("inf"):  # (NaN fails too)
        raise UsageError("difftest: --count, --start and --shrink-seconds must not be "
                         "negative (nor --shrink-seconds NaN or infinite), --workers at "
                         "least 1")
    case_timeout = case_timeout_of(args)
    save_dir = args.save_dir or None
    suite = DiffTestSuite(args.seed, save_dir, args.shrink_seconds, remote=bool(args.ray))
    # One job per fork holding its index range; executors cut it into seed ranges per task.
    jobs = [Job(suite, "", [(fork, i) for i in range(args.start, args.start + args.count)],
                case_timeout=case_timeout) for fork in forks]
    start = time.perf_counter()
    workers = max(1, args.workers)
    results = run_suite(suite, jobs, args, workers)
    wall = time.perf_counter() - start
    summary = {"seed": args.seed, "workers": "ray" if args.ray else workers,
               **summarize(results, forks), "seconds": round(wall, 2),
               "programs_per_second": round(len(results) / wall, 2) if wall else 0.0}
    json.dump(summary, sys.stdout, indent=1)
    sys.stdout.write("\n")
    write_report(summary, sys.stderr, wall)
    return 1 if summary["divergences"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
