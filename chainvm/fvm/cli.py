"""``chainvm fvm ...`` commands.

``vector [--run REGEX] [--workers N] PATH...`` runs test-vector files (or
every ``*.json`` under directories) and prints a JSON array with one object
per file and variant: ``{"file", "variant", "pass", "error"}``. Human
messages go to stderr. Exit status: 0 if everything passed, 1 on any
failure, 2 on bad usage.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

USAGE = "usage: chainvm fvm vector [--run REGEX] [--workers N] PATH..."

HELP = """usage: chainvm fvm COMMAND [ARGS]

The Filecoin actor VM (network versions 0 to 9, actors v0 and v2).

commands:
  vector [--run REGEX] [--workers N] PATH...
        run filecoin-project/test-vectors files. PATH is a vector file, a
        folder (every *.json below it), a name relative to the corpus
        (transfer/basic--ok--genesis.json) or a .txt list of such names.
        --run REGEX   only files whose path matches REGEX
        --workers N   run N files at a time (default 1)
        Prints a JSON array of {file, variant, pass, error} on stdout.
        Exit status: 0 all passed, 1 any failure, 2 bad usage or input.

The corpus is $CHAINVM_FVM_FIXTURES/corpus if set, else extracted from
$CHAINVM_FIXTURES/filecoin-test-vectors/corpus.tar.xz (default
../shared/fixtures) into the fixture cache ($CHAINVM_FIXTURE_CACHE, default
.fixtures). Set CHAINVM_FVM_DEBUG=1 for tracebacks of internal errors.
"""


class UsageError(Exception):
    pass


def _parse_vector_args(argv: list[str]) -> tuple[re.Pattern[str] | None, int, list[str]]:
    pattern: re.Pattern[str] | None = None
    workers = 1
    paths: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--run", "--workers"):
            if i + 1 >= len(argv):
                raise UsageError(f"{arg} needs a value")
            value = argv[i + 1]
            i += 2
        elif arg.startswith(("--run=", "--workers=")):
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
                pattern = re.compile(value)
            except re.error as exc:
                raise UsageError(f"invalid --run regex: {exc}") from exc
        else:
            try:
                workers = int(value)
            except ValueError:
                raise UsageError(f"--workers must be an integer, got {value!r}") from None
            if workers < 1:
                raise UsageError("--workers must be at least 1")
    if not paths:
        raise UsageError("no PATH given")
    return pattern, workers, paths


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
        else:
            raise UsageError(f"no such file or directory: {raw}")
        if not found:
            raise UsageError(f"no vector files (*.json) in {raw}")
        files.extend(f for f in found if pattern is None or pattern.search(str(f)))
    if not files:
        raise UsageError("no vector file matches --run")
    return files


def _run_one(path: str) -> list[dict[str, object]]:
    """Results of one file; a malformed file raises MalformedVector, which
    stops the run with exit status 2."""
    from chainvm.fvm.vector import MalformedVector, load_vector, run_vector_data

    try:
        results = run_vector_data(load_vector(path), path)
    except MalformedVector as exc:
        raise MalformedVector(f"{path}: {exc}") from None
    except Exception as exc:  # a crash in the VM is this vector's failure
        if os.environ.get("CHAINVM_FVM_DEBUG"):
            raise
        return [
            {"file": path, "variant": "", "pass": False,
             "error": f"internal error: {type(exc).__name__}: {exc}"}
        ]
    return [r.to_json() for r in results]


def cmd_vector(argv: list[str]) -> int:
    try:
        pattern, workers, paths = _parse_vector_args(argv)
        files = _collect(paths, pattern)
    except UsageError as exc:
        print(f"chainvm fvm vector: {exc} ({USAGE})", file=sys.stderr)
        return 2
    from chainvm.fvm.vector import MalformedVector

    results: list[dict[str, object]] = []
    names = [str(f) for f in files]
    try:
        if workers > 1 and len(names) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for batch in pool.map(_run_one, names, chunksize=4):
                    results.extend(batch)
        else:
            for name in names:
                results.extend(_run_one(name))
    except MalformedVector as exc:
        print(f"chainvm fvm vector: malformed vector {exc}", file=sys.stderr)
        return 2
    json.dump(results, sys.stdout, indent=1)
    sys.stdout.write("\n")
    failed = [r for r in results if not r["pass"]]
    for r in failed:
        print(f"FAIL {r['file']} [{r['variant']}]: {r['error']}", file=sys.stderr)
    print(
        f"{len(results) - len(failed)}/{len(results)} vector variants passed ({len(files)} files)",
        file=sys.stderr,
    )
    return 1 if failed else 0


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
