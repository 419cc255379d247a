"""Suite runs and fuzz campaigns that stream, resume and scale out (issue 15).

A command describes its work as a `Suite` (how to list the cases of a file, run one,
name it and summarise results) and hands it to `run_suite`, which

* streams one JSON line per finished case to `--jsonl FILE` (appended, flushed);
* with `--resume FILE`, skips the cases whose key is already in that file, and merges
  their recorded results into the output, so a run killed halfway and resumed prints
  the same JSON array as one that was never interrupted;
* bounds each case by `--case-timeout S`, recording a timeout instead of hanging;
* runs the cases in-process, in `--workers N` local processes, or as Ray tasks
  (`--ray auto|ADDRESS`, the optional extra `chainvm[ray]`);
* prints a summary table from a results file with `--summary FILE`.

The JSON array on stdout (without the `key` field) stays the default output.
A suite must be a module-level, picklable object: workers receive it with each job.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from chainvm.cli.common import (
    ArgumentParser,
    TimeLimitExceeded,
    UsageError,
    positive_seconds,
    progress,
    time_limit,
)
from chainvm.encoding.json_input import InputError, load_json

# Cases per Ray task: a small file is one task, a big file is split so that its cases
# spread over the cluster and a lost worker costs little to redo.
DEFAULT_RAY_CHUNK = 16
# Tasks in flight at once on Ray: enough to keep a large cluster busy, few enough that
# the driver does not hold every file of a suite in the object store at once.
RAY_WINDOW = 512
RAY_RETRIES = 3
RAY_PROBE_SECONDS = 5.0


class Suite(Protocol):
    """What `run_suite` needs to know about one kind of case."""

    label: str

    def load(self, file: str, raw: bytes | None) -> Any:
        """The parsed file (`raw` is its content when shipped to a remote worker)."""

    def list_cases(self, file: str, data: Any) -> list[Any]:
        """The cases of a parsed file to run, as picklable ids. InputError if malformed."""

    def key(self, file: str, case: Any) -> str:
        """A name for the case, unique within the run: what `--resume` matches on."""

    def run_case(self, file: str, data: Any, case: Any, job: Job) -> dict[str, Any]:
        """The case's result record. InputError if its input is malformed."""

    def timeout_record(self, file: str, case: Any, seconds: float) -> dict[str, Any]:
        """The record of a case stopped at the time limit."""

    def passed(self, record: dict[str, Any]) -> bool: ...

    def summary(self, records: list[dict[str, Any]], out: IO[str], table: bool) -> None:
        """Human summary of results (a table, or one line when `table` is false).

        A suite may also define `collect(record) -> record`, run in the driver on each
        record before it is written (e.g. to save a file a remote worker sent back)."""


@dataclass
class Job:
    """Cases of one file (or, for generated cases, of one batch) for one worker."""

    suite: Suite
    file: str
    cases: list[Any]
    raw: Any = None  # the file's bytes (or a Ray reference to them) for remote workers
    index: int = 0  # the file's position in the run (e.g. for per-file data folders)
    case_timeout: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)


_LOADED: tuple[str, Any] | None = None  # the last file a worker parsed, for its next job


def _data_of(job: Job, raw: bytes | None) -> Any:
    global _LOADED
    if _LOADED is not None and _LOADED[0] == job.file and raw is None:
        return _LOADED[1]
    data = job.suite.load(job.file, raw)
    _LOADED = (job.file, data)
    return data


def named_test(file: str, data: Any, name: str) -> Any:
    """The test `name` of a fixture file's data; one no longer there (the file was changed
    after its cases were listed) is an InputError, not a KeyError."""
    if not isinstance(data, dict) or name not in data:
        raise InputError(f"{file}: test {name!r} is no longer in the file (changed during the "
                         "run?)")
    return data[name]


def run_job(job: Job, raw: bytes | None = None) -> tuple[str, Any]:
    """Run a job's cases: ("ok", [records with their key]) or ("error", message)."""
    suite = job.suite
    try:
        data = _data_of(job, raw if raw is not None else
                        job.raw if isinstance(job.raw, bytes) else None)
        records = []
        for case in job.cases:
            try:
                with time_limit(job.case_timeout):
                    record = suite.run_case(job.file, data, case, job)
            except TimeLimitExceeded:
                record = suite.timeout_record(job.file, case, job.case_timeout)
            records.append({"key": suite.key(job.file, case), **record})
    except InputError as exc:
        return "error", str(exc)
    except OSError as exc:
        return "error", f"{job.file}: cannot read ({exc.strerror or exc})"
    return "ok", records


# -- results files ------------------------------------------------------------------------------


def read_results(path: str) -> dict[str, dict[str, Any]]:
    """The records of a JSONL results file by key (a later line wins). A last line cut
    short by a killed run is ignored: a record is written whole with its newline, so
    that line is unterminated, starts a JSON object, and does not parse (no proper
    prefix of an object does). Any other malformed line, or whole JSON that is not a
    record with a string "key", is an InputError."""
    try:
        with open(path, "rb") as fh:
            lines = fh.read().split(b"\n")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    records: dict[str, dict[str, Any]] = {}
    # (split leaves an unterminated last line as the last item, a terminated one as
    # the item before an empty one)
    cut_short = len(lines) - 1 if lines[-1].lstrip().startswith(b"{") else -1
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = load_json(line, f"{path}: line {number + 1}")
        except InputError:
            if number == cut_short:
                continue  # the line a killed run was writing
            raise
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            raise InputError(f"{path}: line {number + 1}: not a result record")
        records[record["key"]] = record
    return records


def _drop_partial_line(path: str) -> None:
    """Cut the unfinished last line a killed run may have left, so appending starts clean."""
    try:
        fh = open(path, "r+b")  # noqa: SIM115
    except FileNotFoundError:
        return
    with fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        step = 1 << 16
        end = size
        while end > 0:  # find the last newline, reading backwards
            start = max(0, end - step)
            fh.seek(start)
            block = fh.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                fh.truncate(start + cut + 1)
                return
            end = start
        fh.truncate(0)


class JsonlSink:
    """Appends records to a results file, one flushed line each."""

    def __init__(self, path: str | None) -> None:
        self.fh: IO[str] | None = None
        if path is None:
            return
        try:
            _drop_partial_line(path)
            self.fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise UsageError(f"--jsonl: cannot write {path} ({exc.strerror})") from None

    def write(self, record: dict[str, Any]) -> None:
        if self.fh is not None:
            self.fh.write(json.dumps(record, separators=(",", ":")) + "\n")
            self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


# -- executors ----------------------------------------------------------------------------------


def _split(jobs: list[Job], size: int) -> list[Job]:
    out = []
    for job in jobs:
        for start in range(0, len(job.cases), size):
            out.append(Job(job.suite, job.file, job.cases[start:start + size], job.raw,
                           job.index, job.case_timeout, job.options))
    return out


def max_local_workers() -> int:
    """Local worker processes a run may ask for: four per CPU (at least 8). Each holds its
    own interpreter and the files it runs (a worker of the whole state suite peaks near
    700 MB), so --workers 10000 would exhaust the machine's memory, not finish sooner."""
    return max(8, 4 * (os.cpu_count() or 1))


def run_local(jobs: list[Job], workers: int) -> Iterator[tuple[str, Any]]:
    """One case per task, so results stream as each case finishes."""
    single = _split(jobs, 1)
    if workers > 1 and len(single) > 1:
        # fork: workers start with the driver's imports (the execution specs for difftest)
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with context.Pool(min(workers, len(single))) as pool:
            yield from pool.imap_unordered(run_job, single)
    else:
        yield from (run_job(job) for job in single)


def _ray_run_job(job: Job, raw: bytes | None) -> tuple[str, Any]:
    return run_job(job, raw)


def _probe(address: str) -> None:
    """Refuse an address nothing answers on: Ray itself retries such a connection for
    minutes before it gives up."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray {address}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_PROBE_SECONDS).close()
    except (OSError, ValueError) as exc:
        raise UsageError(f"--ray {address}: nothing answers there ({exc})") from None


def run_ray(jobs: list[Job], address: str, chunk: int) -> Iterator[tuple[str, Any]]:
    """Files (and chunks of big files) as Ray tasks, retried when a worker dies.

    File contents travel through Ray's object store, so workers need chainvm and
    nothing else: no shared file system.
    """
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs the ray package (pip install 'chainvm[ray]')") from None
    if not ray.is_initialized():
        if address != "auto":
            _probe(address)
        try:
            ray.init(address=None if address == "auto" else address,
                     log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(f"--ray {address}: cannot connect ({exc})") from None
    remote = ray.remote(max_retries=RAY_RETRIES)(_ray_run_job)
    chunks = iter(_split(jobs, chunk))
    current: tuple[str, Any] | None = None  # the file whose content is in the object store
    pending: list[Any] = []
    exhausted = False
    try:
        while not exhausted or pending:
            while not exhausted and len(pending) < RAY_WINDOW:
                job = next(chunks, None)
                if job is None:
                    exhausted = True
                    break
                if job.file and (current is None or current[0] != job.file):
                    try:
                        with open(job.file, "rb") as fh:
                            current = (job.file, ray.put(fh.read()))
                    except OSError as exc:
                        raise UsageError(f"{job.file}: cannot read ({exc.strerror})") from None
                pending.append(remote.remote(job, current[1] if job.file and current else None))
            if not pending:
                break
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                yield ray.get(ref)
    finally:
        for ref in pending:
            ray.cancel(ref)


# -- the command side ---------------------------------------------------------------------------


def add_campaign_flags(parser: ArgumentParser) -> None:
    add = parser.add_argument
    add("--jsonl", metavar="FILE", help="append one JSON line per finished case to FILE")
    add("--resume", metavar="FILE",
        help="skip the cases already in results file FILE (usually the --jsonl file)")
    add("--case-timeout", default="0", metavar="S",
        help="record a timeout for a case still running after S seconds (default 0: none)")
    add("--summary", metavar="FILE",
        help="print the summary of results file FILE (no cases are run)")
    add("--ray", metavar="auto|ADDRESS",
        help="run as Ray tasks: 'auto' joins the local cluster or starts one, ADDRESS "
             "joins a cluster (e.g. ray://head:10001); needs chainvm[ray]")
    add("--ray-chunk", type=int, default=DEFAULT_RAY_CHUNK, metavar="N",
        help=f"cases per Ray task (default {DEFAULT_RAY_CHUNK})")


def print_summary(suite: Suite, path: str) -> int:
    """`--summary FILE`: counts as JSON on stdout, the table on stderr."""
    try:
        records = list(read_results(path).values())
    except InputError as exc:
        raise UsageError(str(exc)) from None
    if not records and not Path(path).exists():
        raise UsageError(f"--summary: no such file: {path}")
    passed = sum(1 for r in records if suite.passed(r))
    json.dump({"cases": len(records), "passed": passed, "failed": len(records) - passed,
               "timeouts": sum(1 for r in records if r.get("timeout"))}, sys.stdout)
    sys.stdout.write("\n")
    suite.summary(records, sys.stderr, table=True)
    return 0 if passed == len(records) else 1


def plan_files(suite: Suite, files: Iterable[Path], case_timeout: float,
               options: dict[str, Any]) -> list[Job]:
    """One job per file with the cases it holds (parsing each file once, here)."""
    jobs = []
    for index, path in enumerate(files):
        file = str(path)
        try:
            cases = suite.list_cases(file, suite.load(file, None))
        except InputError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"{file}: cannot read ({exc.strerror})") from None
        if cases:
            jobs.append(Job(suite, file, cases, None, index, case_timeout, options))
    return jobs


def check_executor_flags(args: Any, workers: int) -> None:
    """The flags `run_suite` would refuse only once it starts running: too many local
    workers, and a --jsonl path that cannot be a file (checked without creating it), so
    that a command can refuse them before it says anything else."""
    if not args.ray and workers > max_local_workers():
        raise UsageError(f"--workers {workers}: at most {max_local_workers()} local "
                         f"processes on this machine (--ray spreads a run wider)")
    if args.jsonl:
        path = Path(args.jsonl)
        why = "Is a directory" if path.is_dir() else \
            "No such file or directory" if not path.parent.is_dir() else None
        if why:
            raise UsageError(f"--jsonl: cannot write {args.jsonl} ({why})")


def run_suite(suite: Suite, jobs: list[Job], args: Any, workers: int) -> list[dict[str, Any]]:
    """Run the jobs with the flags of `add_campaign_flags`; the records in job order
    (resumed ones included), without their keys. Bad input raises UsageError."""
    global _LOADED
    _LOADED = None  # a file parsed by an earlier run in this process may have changed since
    order = [suite.key(job.file, case) for job in jobs for case in job.cases]
    done: dict[str, dict[str, Any]] = {}
    if args.resume:
        try:
            done = read_results(args.resume)
        except InputError as exc:
            raise UsageError(f"--resume: {exc}") from None
    todo = []
    for job in jobs:
        left = [c for c in job.cases if suite.key(job.file, c) not in done]
        if left:
            todo.append(Job(job.suite, job.file, left, job.raw, job.index, job.case_timeout,
                            job.options))
    total = sum(len(job.cases) for job in todo)
    outcomes: Iterator[tuple[str, Any]]
    if not todo:
        outcomes = iter(())
    elif args.ray:
        if args.ray_chunk < 1:
            raise UsageError("--ray-chunk must be at least 1")
        outcomes = run_ray(todo, args.ray, args.ray_chunk)
    else:
        check_executor_flags(args, workers)
        outcomes = run_local(todo, workers)
    sink = JsonlSink(args.jsonl)
    fresh: dict[str, dict[str, Any]] = {}
    try:
        collect = getattr(suite, "collect", None)  # optional driver-side step per record
        for record in progress(_records(outcomes), total, suite.label):
            if collect is not None:
                record = collect(record)
            sink.write(record)
            fresh[record["key"]] = record
    finally:
        sink.close()
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
    merged = {**done, **fresh}
    return [{k: v for k, v in merged[key].items() if k != "key"} for key in order]


def _records(outcomes: Iterable[tuple[str, Any]]) -> Iterator[dict[str, Any]]:
    for kind, payload in outcomes:
        if kind == "error":
            raise UsageError(payload)
        yield from payload


def case_timeout_of(args: Any) -> float:
    return positive_seconds(args.case_timeout, "--case-timeout")


def check_run_flags(args: Any) -> None:
    """--run (a regular expression) and --workers, as the fixture commands take them."""
    if args.run:
        try:
            re.compile(args.run)
        except re.error as exc:
            raise UsageError(f"--run: bad regular expression: {exc}") from None
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")


def report_results(suite: Suite, results: list[dict[str, Any]]) -> int:
    """The fixture commands' ending: the results as a JSON array on stdout, the suite's
    summary on stderr (a table on a terminal), exit status 0 when every case passed."""
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    suite.summary(results, sys.stderr, sys.stderr.isatty())
    return 0 if all(r["pass"] for r in results) else 1


def summary_by(results: list[dict[str, Any]], column: str, width: int, out: IO[str],
               table: bool, order: Callable[[str], Any] | None = None) -> None:
    """Passed and failed counts: one line, or (`table`) a row per value of the results'
    field `column` (sorted by `order`, else by name) and a row for all."""
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r in results:
        total[r[column]] += 1
        passed[r[column]] += r["pass"]
    n = sum(passed.values())
    timeouts = sum(1 for r in results if r.get("timeout"))
    if not table:
        out.write(f"{n} passed, {len(results) - n} failed"
                  + (f" ({timeouts} timed out)" if timeouts else "") + "\n")
        return
    out.write(f"{column:<{width}}{'passed':>8}{'failed':>8}{'total':>8}\n")
    for value in sorted(total, key=order):
        out.write(f"{value:<{width}}{passed[value]:>8}"
                  f"{total[value] - passed[value]:>8}{total[value]:>8}\n")
    out.write(f"{'all':<{width}}{n:>8}{len(results) - n:>8}{len(results):>8}\n")
    if timeouts:
        out.write(f"{timeouts} case(s) timed out\n")
