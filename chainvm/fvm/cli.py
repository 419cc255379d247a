"""``chainvm fvm ...`` commands.

``vector [--run REGEX] [--workers N] [campaign flags] PATH...`` runs test-vector
files (or every ``*.json`` under directories) and prints a JSON array with one
object per file and variant: ``{"file", "variant", "pass", "error"}``. Human
messages go to stderr. Exit status: 0 if everything passed, 1 on any failure,
2 on bad usage.

It is a `Suite` of the campaign runner (``chainvm/cli/campaign.py``), like
statetest: a case is one variant of one vector file (key ``PATH::VARIANT``), so
``--jsonl``, ``--resume``, ``--case-timeout``, ``--summary`` and ``--ray`` work per
variant. A worker decodes a file's CAR once for all the variants it runs, and each
variant starts from a store holding only the CAR's blocks.
"""

from __future__ import annotations

import json
import os
import re
import sys
from argparse import Namespace
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from chainvm.cli import common
from chainvm.cli.campaign import (
    DEFAULT_RAY_CHUNK,
    Job,
    plan_files,
    print_summary,
    read_results,
    run_suite,
)
from chainvm.encoding.json_input import InputError

USAGE = ("usage: chainvm fvm vector [--run REGEX] [--workers N] [--jsonl FILE] "
         "[--resume FILE] [--case-timeout S] [--ray auto|ADDRESS] [--ray-chunk N] PATH... "
         "| vector --summary FILE")

HELP = """usage: chainvm fvm COMMAND [ARGS]

The Filecoin actor VM (network versions 0 to 9, actors v0 and v2).

commands:
  vector [--run REGEX] [--workers N] [campaign flags] PATH...
        run filecoin-project/test-vectors files. PATH is a vector file, a
        folder (every *.json below it), a name relative to the corpus
        (transfer/basic--ok--genesis.json) or a .txt list of such names.
        --run REGEX   only files whose path matches REGEX
        --workers N   run N variants at a time, in N processes (default 1)
        Prints a JSON array of {file, variant, pass, error} on stdout.
        Exit status: 0 all passed, 1 any failure, 2 bad usage or input.
      campaign flags (as for chainvm statetest, see docs/campaigns.md); a
      case is one variant of one file, its key PATH::VARIANT:
        --jsonl FILE        append one JSON line per finished variant to FILE
        --resume FILE       skip the variants already in results file FILE
        --case-timeout S    record a timeout for a variant still running
                            after S seconds (default 0: no limit)
        --summary FILE      print the summary of results file FILE (the
                            counts as JSON on stdout, a table per folder on
                            stderr); no PATH, nothing is run
        --ray auto|ADDRESS  run as Ray tasks (needs chainvm[ray])
        --ray-chunk N       variants per Ray task (default CHUNK)

The corpus is $CHAINVM_FVM_FIXTURES/corpus if set, else extracted from
$CHAINVM_FIXTURES/filecoin-test-vectors/corpus.tar.xz (default
../shared/fixtures) into the fixture cache ($CHAINVM_FIXTURE_CACHE, default
.fixtures). Set CHAINVM_FVM_DEBUG=1 for tracebacks of internal errors.
""".replace("CHUNK", str(DEFAULT_RAY_CHUNK))


class UsageError(Exception):
    pass


_VALUE_OPTIONS = ("--run", "--workers", "--jsonl", "--resume", "--case-timeout", "--summary",
                  "--ray", "--ray-chunk")


def _parse_vector_args(argv: list[str]) -> Namespace:
    """The options of ``vector``; the campaign ones under the names `run_suite` reads."""
    args = Namespace(run=None, workers=1, paths=[], jsonl=None, resume=None, case_timeout="0",
                     summary=None, ray=None, ray_chunk=DEFAULT_RAY_CHUNK)
    paths: list[str] = args.paths
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUE_OPTIONS:
            if i + 1 >= len(argv):
                raise UsageError(f"{arg} needs a value")
            value = argv[i + 1]
            i += 2
        elif arg.startswith(tuple(f"{o}=" for o in _VALUE_OPTIONS)):
            arg, value = arg.split("=", 1)
            i += 1
        elif arg == "--":
            paths.extend(argv[i + 1 :])
            break
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option {arg}")
        else:
            paths.append(arg)
            i += 1
            continue
        if arg == "--run":
            try:
                args.run = re.compile(value)
            except re.error as exc:
                raise UsageError(f"invalid --run regex: {exc}") from exc
        elif arg in ("--workers", "--ray-chunk"):
            try:
                number = int(value)
            except ValueError:
                raise UsageError(f"{arg} must be an integer, got {value!r}") from None
            if number < 1:
                raise UsageError(f"{arg} must be at least 1")
            setattr(args, arg[2:].replace("-", "_"), number)
        else:
            setattr(args, arg[2:].replace("-", "_"), value)
    if not paths and args.summary is None:
        raise UsageError("no PATH given")
    return args


def _collect(paths: Iterable[str], pattern: re.Pattern[str] | None) -> list[Path]:
    """Files and directories as given; names relative to the vector corpus
    also work, and a ``.txt`` file is a list of such names (TARGET-M2.txt)."""
    from chainvm.fvm.vector import corpus_dir

    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists() and (corpus_dir() / raw).exists():
            p = corpus_dir() / raw
        if p.is_dir():
            found = sorted(p.rglob("*.json"))
        elif p.is_file() and p.suffix == ".txt":
            try:
                text = p.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"{raw} is not a UTF-8 list of vector names") from None
            except OSError as exc:
                raise UsageError(f"cannot read {raw}: {exc.strerror or exc}") from None
            names = [ln.strip() for ln in text.splitlines() if ln.strip()]
            found = [corpus_dir() / n for n in names if not n.startswith("#")]
            missing = [f for f in found if not f.is_file()]
            if missing:
                raise UsageError(f"vector listed in {raw} not found: {missing[0]}")
        elif p.is_file():
            found = [p]
        elif p.exists():  # a pipe, a socket, a device: no vector, and reading may block
            raise UsageError(f"not a regular file or folder: {raw}")
        else:
            raise UsageError(f"no such file or directory: {raw}")
        if not found:
            raise UsageError(f"no vector files (*.json) in {raw}")
        files.extend(f for f in found if pattern is None or pattern.search(str(f)))
    if not files:
        raise UsageError("no vector file matches --run")
    return files


@dataclass
class _Loaded:
    """A parsed vector file; its CAR is decoded when a worker first runs one of its
    variants (the driver only lists them)."""

    vector: dict[str, Any]
    prepared: Any = None  # chainvm.fvm.vector.PreparedVector


def _malformed(file: str, exc: Exception) -> InputError:
    return InputError(f"malformed vector {file}: {exc}")


class VectorSuite:
    """Test-vector files as a campaign: a case is one variant of a file,
    (index, variant id, name), keyed ``PATH::NAME``; NAME is the variant id, made
    unique with ``#INDEX`` should a file repeat an id."""

    label = "fvm vector"

    def load(self, file: str, raw: bytes | None) -> _Loaded:
        from chainvm.fvm.vector import MalformedVector, load_vector, parse_vector

        try:
            return _Loaded(load_vector(file) if raw is None else parse_vector(raw))
        except MalformedVector as exc:
            raise _malformed(file, exc) from None

    def list_cases(self, file: str, data: _Loaded) -> list[Any]:
        from chainvm.fvm.vector import vector_variants

        ids = [v["id"] for v in vector_variants(data.vector)]
        seen = Counter(ids)
        return [(i, vid, vid if seen[vid] == 1 else f"{vid}#{i}") for i, vid in enumerate(ids)]

    def key(self, file: str, case: Any) -> str:
        return f"{file}::{case[2]}"

    def run_case(self, file: str, data: _Loaded, case: Any, job: Job) -> dict[str, Any]:
        from chainvm.fvm.vector import (
            MalformedVector,
            prepare_vector,
            run_prepared_variant,
            supported_class,
            unsupported_result,
            vector_variants,
        )

        variant = vector_variants(data.vector)[case[0]]
        try:
            if not supported_class(data.vector):
                return unsupported_result(data.vector, file, variant).to_json()
            if data.prepared is None:
                data.prepared = prepare_vector(data.vector)
            return run_prepared_variant(data.prepared, file, variant).to_json()
        except MalformedVector as exc:  # an unreadable CAR: the run stops, exit status 2
            raise _malformed(file, exc) from None
        except Exception as exc:  # a crash in the VM is this variant's failure
            if os.environ.get("CHAINVM_FVM_DEBUG"):
                raise
            return {"file": file, "variant": case[1], "pass": False,
                    "error": f"internal error: {type(exc).__name__}: {exc}"}

    def timeout_record(self, file: str, case: Any, seconds: float) -> dict[str, Any]:
        return {"file": file, "variant": case[1], "pass": False,
                "error": f"timeout: no result within {seconds:g} s", "timeout": True}

    def passed(self, record: dict[str, Any]) -> bool:
        return bool(record.get("pass"))

    def summary(self, records: list[dict[str, Any]], out: IO[str], table: bool) -> None:
        if table:
            _table(records, out)
        else:
            _report(records, out)


def _report(results: list[dict[str, Any]], out: IO[str]) -> None:
    failed = [r for r in results if not r["pass"]]
    for r in failed:
        out.write(f"FAIL {r['file']} [{r['variant']}]: {r['error']}\n")
    files = len({r["file"] for r in results})
    out.write(f"{len(results) - len(failed)}/{len(results)} vector variants passed "
              f"({files} files)\n")
    timeouts = sum(1 for r in results if r.get("timeout"))
    if timeouts:
        out.write(f"{timeouts} variant(s) timed out\n")


def _folders(files: list[str]) -> dict[str, str]:
    """Each file's first folder below the folder common to all (``transfer``,
    ``extracted``, ... for a run over the corpus); "." for files directly in it."""
    parents = {os.path.dirname(f) for f in files}
    try:
        root = os.path.commonpath(parents) if parents and "" not in parents else ""
    except ValueError:  # absolute and relative paths mixed
        root = ""
    folders = {}
    for f in files:
        rel = os.path.relpath(os.path.dirname(f) or ".", root or ".")
        folders[f] = "." if rel == "." else Path(rel).parts[0]
    return folders


def _table(records: list[dict[str, Any]], out: IO[str]) -> None:
    """Files and variants passed per folder of the vectors (transfer, reward, ...)."""
    variants: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    failing_files: dict[str, set[str]] = {}
    all_files: dict[str, set[str]] = {}
    folder_of = _folders([str(r.get("file", "")) for r in records])
    for r in records:
        folder = folder_of[str(r.get("file", ""))]
        variants[folder] += 1
        passed[folder] += bool(r.get("pass"))
        all_files.setdefault(folder, set()).add(str(r.get("file")))
        if not r.get("pass"):
            failing_files.setdefault(folder, set()).add(str(r.get("file")))
    out.write(f"{'folder':<28}{'files':>13}{'passed':>8}{'failed':>8}{'variants':>10}\n")

    def row(name: str, files: int, bad_files: int, ok: int, total: int) -> None:
        out.write(f"{name:<28}{f'{files - bad_files}/{files}':>13}{ok:>8}{total - ok:>8}"
                  f"{total:>10}\n")

    for folder in sorted(variants):
        row(folder, len(all_files[folder]), len(failing_files.get(folder, ())),
            passed[folder], variants[folder])
    row("all", sum(len(f) for f in all_files.values()),
        sum(len(f) for f in failing_files.values()), sum(passed.values()), len(records))
    timeouts = sum(1 for r in records if r.get("timeout"))
    if timeouts:
        out.write(f"{timeouts} variant(s) timed out\n")


SUITE = VectorSuite()

# what each line of a results file holds, and the JSON type of each
_RECORD_FIELDS = (("file", str), ("variant", str), ("pass", bool), ("error", str))


def _check_results_file(path: str) -> None:
    """`--summary FILE` counts results only if every line is one: a JSONL file of other
    objects used to count as 0 cases, all passed (UsageError)."""
    try:
        records = read_results(path)
    except InputError as exc:
        raise common.UsageError(f"--summary: {exc}") from None
    for key, record in records.items():
        for name, kind in _RECORD_FIELDS:
            if not isinstance(record.get(name), kind):
                raise common.UsageError(
                    f"--summary: {path}: record {key[:100]!r} is not a vector result "
                    f"(its {name!r} is not a {kind.__name__})")


def cmd_vector(argv: list[str]) -> int:
    try:
        args = _parse_vector_args(argv)
        files = _collect(args.paths, args.run) if args.summary is None else []
    except UsageError as exc:
        print(f"chainvm fvm vector: {exc} ({USAGE})", file=sys.stderr)
        return 2
    try:
        if args.summary is not None:
            _check_results_file(args.summary)
            return print_summary(SUITE, args.summary)
        case_timeout = common.positive_seconds(args.case_timeout, "--case-timeout")
        jobs = plan_files(SUITE, files, case_timeout, {})
        results = run_suite(SUITE, jobs, args, args.workers)
    except common.UsageError as exc:
        print(f"chainvm fvm vector: {exc}", file=sys.stderr)
        return 2
    json.dump(results, sys.stdout, indent=1)
    sys.stdout.write("\n")
    _report(results, sys.stderr)
    return 0 if all(r["pass"] for r in results) else 1


COMMANDS = {"vector": cmd_vector}


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help", "help") or argv[1:2] in (["-h"], ["--help"]):
        sys.stdout.write(HELP)
        return 0
    cmd = COMMANDS.get(argv[0])
    if cmd is None:
        print(f"chainvm fvm: unknown command {argv[0]!r} ({USAGE})", file=sys.stderr)
        return 2
    try:
        return cmd(argv[1:])
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
