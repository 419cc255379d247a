"""`chainvm statetest`: run GeneralStateTests fixtures, like geth's `evm statetest`."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import IO, Any

from chainvm.cli.campaign import (
    Job,
    add_campaign_flags,
    case_timeout_of,
    check_executor_flags,
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
from chainvm.evm.forks import FORK_ORDER
from chainvm.evm.statetest import (
    FixtureError,
    iter_cases,
    known_fork,
    load_file,
    run_case_checked,
)
from chainvm.evm.tracer import Tracer
from chainvm.testing.fixtures import FIXTURES_HELP, sample_state_tests


class StateTestSuite:
    """State-test files as a campaign: a case is (test name, fork, post index)."""

    label = "statetest"

    def __init__(self, fork: str | None = None, pattern: str | None = None) -> None:
        self.fork, self.pattern = fork, pattern

    def load(self, file: str, raw: bytes | None) -> Any:
        if raw is None:
            return load_file(file)
        try:
            return load_json(raw, file)
        except InputError as exc:
            raise FixtureError(str(exc)) from None

    def list_cases(self, file: str, data: Any) -> list[Any]:
        name_filter = re.compile(self.pattern) if self.pattern else None
        try:
            return [(name, fork_name, index)
                    for name, _, fork_name, index in iter_cases(data, self.fork, name_filter)]
        except FixtureError as exc:
            raise FixtureError(f"{file}: {exc}") from None

    def key(self, file: str, case: Any) -> str:
        name, fork, index = case
        return f"{file}::{name}::{fork}::{index}"

    def run_case(self, file: str, data: Any, case: Any, job: Job) -> dict[str, Any]:
        name, fork, index = case
        tracer = Tracer(sys.stderr) if job.options.get("trace") else None
        try:
            return run_case_checked(name, named_test(file, data, name), fork, index, tracer).to_json()
        except FixtureError as exc:
            raise FixtureError(f"{file}: {exc}") from None

    def timeout_record(self, file: str, case: Any, seconds: float) -> dict[str, Any]:
        name, fork, index = case
        return {"name": name, "fork": fork, "index": index, "pass": False, "stateRoot": "0x",
                "error": f"timeout: no result within {seconds:g} s", "timeout": True}

    def passed(self, record: dict[str, Any]) -> bool:
        return bool(record.get("pass"))

    def summary(self, records: list[dict[str, Any]], out: IO[str], table: bool) -> None:
        order = {name: i for i, name in enumerate(FORK_ORDER)}
        summary_by(records, "fork", 20, out, table, lambda fork: order.get(fork, 99))


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
    add_campaign_flags(parser)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.fork and not known_fork(args.fork):
        raise UsageError(f"unknown fork {args.fork!r} (known: {', '.join(FORK_ORDER)})")
    check_run_flags(args)
    suite = StateTestSuite(args.fork, args.run)
    if args.summary:
        return print_summary(suite, args.summary)
    if args.trace and args.ray:
        raise UsageError("--trace writes to this terminal: it cannot run on --ray")
    case_timeout = case_timeout_of(args)
    paths = args.paths
    workers = 1 if args.trace else args.workers
    if not paths:
        check_executor_flags(args, workers)  # (refused before the notice, on one line)
        sample = sample_state_tests()
        sys.stderr.write(f"chainvm statetest: no PATH given, running the sample of "
                         f"ethereum/tests state tests shipped with chainvm ({sample}); "
                         "the full suites: https://github.com/ethereum/tests\n")
        paths = [str(sample)]
    files = collect_json_files(paths)
    if not files:
        raise UsageError("no .json fixtures found under the given paths")
    jobs = plan_files(suite, files, case_timeout, {"trace": args.trace})
    # Traces go to one stderr in order, so a traced run stays in this process.
    return report_results(suite, run_suite(suite, jobs, args, workers))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))


__all__ = ["Path", "main"]
