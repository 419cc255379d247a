"""`chainvm blocktest`: run BlockchainTests fixtures; a JSON array of results on stdout.

Each result is {"name", "network", "pass", "error"}. Exit status 0 when all
pass, 1 on any failure, 2 on bad usage (unknown flags, missing paths, files
that are not blockchain tests).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import IO, Any

from chainvm.chain.blocktest import check_file, load_file, run_test
from chainvm.cli.campaign import (
    Job,
    add_campaign_flags,
    case_timeout_of,
    check_run_flags,
    named_test,
    plan_files,
    print_summary,
    report_results,
    run_suite,
    summary_by,
)
from chainvm.cli.common import ArgumentParser, UsageError, collect_json_files
from chainvm.encoding.json_input import InputError, load_json
from chainvm.evm.statetest import FixtureError


class BlockTestSuite:
    """Blockchain-test files as a campaign: a case is (test position, test name)."""

    label = "blocktest"

    def __init__(self, pattern: str | None = None) -> None:
        self.pattern = pattern

    def load(self, file: str, raw: bytes | None) -> Any:
        if raw is None:
            return load_file(file)
        try:
            data = load_json(raw, file)
        except InputError as exc:
            raise FixtureError(str(exc)) from None
        return check_file(file, data)

    def list_cases(self, file: str, data: Any) -> list[Any]:
        name_filter = re.compile(self.pattern) if self.pattern else None
        return [(i, name) for i, name in enumerate(data)
                if name_filter is None or name_filter.search(name)]

    def key(self, file: str, case: Any) -> str:
        return f"{file}::{case[1]}"

    def run_case(self, file: str, data: Any, case: Any, job: Job) -> dict[str, Any]:
        position, name = case
        datadir = job.options.get("datadir")
        where = Path(datadir) / str(job.index) / str(position) if datadir else None
        try:
            return run_test(name, named_test(file, data, name), where).to_json()
        except FixtureError as exc:
            raise FixtureError(f"{file}: {exc}") from None

    def timeout_record(self, file: str, case: Any, seconds: float) -> dict[str, Any]:
        return {"name": case[1], "network": "?", "pass": False,
                "error": f"timeout: no result within {seconds:g} s", "timeout": True}

    def passed(self, record: dict[str, Any]) -> bool:
        return bool(record.get("pass"))

    def summary(self, records: list[dict[str, Any]], out: IO[str], table: bool) -> None:
        summary_by(records, "network", 34, out, table)


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
    parser.add_argument("paths", nargs="*", metavar="PATH", help="fixture file or folder")
    add_campaign_flags(parser)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    check_run_flags(args)
    suite = BlockTestSuite(args.run)
    if args.summary:
        return print_summary(suite, args.summary)
    if not args.paths:
        raise UsageError("no fixture paths given (or --summary FILE)")
    case_timeout = case_timeout_of(args)
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
        if args.ray:
            raise UsageError("--datadir is a folder of this machine: it cannot run on --ray")
    jobs = plan_files(suite, files, case_timeout,
                      {"datadir": str(datadir) if datadir else None})
    return report_results(suite, run_suite(suite, jobs, args, args.workers))


def run(argv: list[str]) -> int:
    """Entry point with the shared conventions: one-line errors, exit 2 on bad usage."""
    try:
        return main(argv)
    except UsageError as exc:
        sys.stderr.write(f"chainvm: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
