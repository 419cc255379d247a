"""`chainvm statetest`: run GeneralStateTests fixtures, like geth's `evm statetest`."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from chainvm.cli.common import ArgumentParser, UsageError, collect_json_files, run_jobs
from chainvm.evm.forks import FORK_ORDER
from chainvm.evm.interpreter import Tracer
from chainvm.evm.statetest import FixtureError, known_fork, run_file
from chainvm.testing.fixtures import FIXTURES_HELP, sample_state_tests


def _run_one(job: tuple[str, str | None, str | None, bool]) -> tuple[str, Any]:
    path, fork, pattern, trace = job
    name_filter = re.compile(pattern) if pattern else None
    tracer = Tracer(sys.stderr) if trace else None
    try:
        results = run_file(path, fork, name_filter, tracer)
    except FixtureError as exc:
        return "error", str(exc)
    except OSError as exc:
        return "error", f"{path}: cannot read ({exc.strerror})"
    return "ok", [r.to_json() for r in results]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="chainvm statetest",
                            description="Run state-test fixtures; JSON results on stdout.",
                            epilog=FIXTURES_HELP)
    parser.add_argument("--fork", help="only run cases of this fork (fixture name, e.g. Cancun)")
    parser.add_argument("--run", metavar="REGEX", help="only run tests whose name matches")
    parser.add_argument("--trace", action="store_true", help="EIP-3155 trace lines on stderr")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="run files in N processes")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="fixture file or folder (none: the bundled ethereum/tests sample)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.fork and not known_fork(args.fork):
        raise UsageError(f"unknown fork {args.fork!r} (known: {', '.join(FORK_ORDER)})")
    if args.run:
        try:
            re.compile(args.run)
        except re.error as exc:
            raise UsageError(f"--run: bad regular expression: {exc}") from None
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    paths = args.paths
    if not paths:
        sample = sample_state_tests()
        sys.stderr.write(f"chainvm statetest: no PATH given, running the sample of "
                         f"ethereum/tests state tests shipped with chainvm ({sample}); "
                         "the full suites: https://github.com/ethereum/tests\n")
        paths = [str(sample)]
    files = collect_json_files(paths)
    if not files:
        raise UsageError("no .json fixtures found under the given paths")
    jobs = [(str(p), args.fork, args.run, args.trace) for p in files]
    # Traces go to one stderr in order, so a traced run stays in this process.
    results = run_jobs(_run_one, jobs, 1 if args.trace else args.workers, "statetest")
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    _summary(results)
    return 0 if all(r["pass"] for r in results) else 1


def _summary(results: list[dict[str, Any]]) -> None:
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r in results:
        total[r["fork"]] += 1
        passed[r["fork"]] += r["pass"]
    if not sys.stderr.isatty():
        n = sum(passed.values())
        sys.stderr.write(f"{n} passed, {len(results) - n} failed\n")
        return
    order = {name: i for i, name in enumerate(FORK_ORDER)}
    sys.stderr.write(f"{'fork':<20}{'passed':>8}{'failed':>8}{'total':>8}\n")
    for fork in sorted(total, key=lambda f: order.get(f, 99)):
        sys.stderr.write(f"{fork:<20}{passed[fork]:>8}{total[fork] - passed[fork]:>8}"
                         f"{total[fork]:>8}\n")
    n = sum(passed.values())
    sys.stderr.write(f"{'all':<20}{n:>8}{len(results) - n:>8}{len(results):>8}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))


__all__ = ["Path", "main"]
