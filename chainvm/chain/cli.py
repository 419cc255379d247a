"""`chainvm blocktest`: run BlockchainTests fixtures; a JSON array of results on stdout.

Each result is {"name", "network", "pass", "error"}. Exit status 0 when all
pass, 1 on any failure, 2 on bad usage (unknown flags, missing paths, files
that are not blockchain tests).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from chainvm.chain.blocktest import run_file
from chainvm.cli.common import ArgumentParser, UsageError, collect_json_files, run_jobs
from chainvm.evm.statetest import FixtureError


def _run_one(job: tuple[str, str | None, str | None]) -> tuple[str, Any]:
    path, pattern, datadir = job
    name_filter = re.compile(pattern) if pattern else None
    try:
        results = run_file(path, name_filter, Path(datadir) if datadir else None)
    except FixtureError as exc:
        return "error", str(exc)
    except OSError as exc:
        return "error", f"{path}: cannot read ({exc.strerror})"
    return "ok", [r.to_json() for r in results]


def build_parser() -> ArgumentParser:
    from chainvm.testing.fixtures import FIXTURES_HELP

    parser = ArgumentParser(prog="chainvm blocktest",
                            description="Run blockchain-test fixtures; JSON results on stdout.",
                            epilog=FIXTURES_HELP)
    parser.add_argument("--run", metavar="REGEX", help="only run tests whose name matches")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="run files in N processes")
    parser.add_argument("--datadir", metavar="DIR",
                        help="import each test into an LMDB store below DIR (which must be "
                             "empty or new), reopen it and check what survived")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="fixture file or folder")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.run:
        try:
            re.compile(args.run)
        except re.error as exc:
            raise UsageError(f"--run: bad regular expression: {exc}") from None
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    files = collect_json_files(args.paths)
    if not files:
        raise UsageError("no .json fixtures found under the given paths")
    datadir = None
    if args.datadir:
        datadir = Path(args.datadir)
        if datadir.exists() and (not datadir.is_dir() or any(datadir.iterdir())):
            raise UsageError(f"--datadir {args.datadir}: must be a new or empty folder")
        try:
            import lmdb  # noqa: F401
        except ImportError:
            raise UsageError("--datadir needs the lmdb package (pip install lmdb)") from None
    jobs = [(str(p), args.run, str(datadir / str(i)) if datadir else None)
            for i, p in enumerate(files)]
    results = run_jobs(_run_one, jobs, args.workers, "blocktest")
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    _summary(results)
    return 0 if all(r["pass"] for r in results) else 1


def _summary(results: list[dict[str, Any]]) -> None:
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r in results:
        total[r["network"]] += 1
        passed[r["network"]] += r["pass"]
    n = sum(passed.values())
    if not sys.stderr.isatty():
        sys.stderr.write(f"{n} passed, {len(results) - n} failed\n")
        return
    sys.stderr.write(f"{'network':<34}{'passed':>8}{'failed':>8}{'total':>8}\n")
    for network in sorted(total):
        sys.stderr.write(f"{network:<34}{passed[network]:>8}"
                         f"{total[network] - passed[network]:>8}{total[network]:>8}\n")
    sys.stderr.write(f"{'all':<34}{n:>8}{len(results) - n:>8}{len(results):>8}\n")


def run(argv: list[str]) -> int:
    """Entry point with the shared conventions: one-line errors, exit 2 on bad usage."""
    try:
        return main(argv)
    except UsageError as exc:
        sys.stderr.write(f"chainvm: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
