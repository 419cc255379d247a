"""Prepare one state-test case as benchmarks/run.py's chainvm runner does, then run its
transaction once (a first run, as `run.py --cold` times it) when EXECUTE=1, printing its
gas used and success as JSON.

For callgrind counts of a first run alone (docs/performance.md, "Issue 16"): the
instructions with EXECUTE=1 minus those with EXECUTE=0 are the execution's, without
start-up, fixture parsing and the pre-state. GC_OFF=1 disables the garbage collector
after the set-up, so that a collection falling inside the run does not move the count.

    EXECUTE=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/first_execute.py FILE.json FORK INDEX
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from case_args import parse_case_args
from run import ChainvmRunner

from chainvm.cli.common import UsageError


def parse_args(argv: list[str]) -> tuple[str, str, int]:
    args = parse_case_args("first_execute.py", (
        "Prepare one state-test case as benchmarks/run.py's chainvm runner does; run its "
        "transaction once when EXECUTE=1 (GC_OFF=1: no collection after the set-up)."), argv)
    return args.file, args.fork, args.index


def main(argv: list[str]) -> int:
    try:
        path, fork, index = parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    try:
        with open(path, "rb") as fh:
            test = next(iter(json.loads(fh.read()).values()))
        post = test["post"][fork][index]
    except (OSError, ValueError, StopIteration, KeyError, IndexError, TypeError) as exc:
        sys.stderr.write(f"first_execute.py: {path}: no case {fork}[{index}] ({exc})\n")
        return 2
    runner = ChainvmRunner()
    try:
        runner.prepare(test, fork, post)
    except RuntimeError as exc:
        sys.stderr.write(f"first_execute.py: {exc}\n")
        return 2
    gc.collect()
    if os.environ.get("GC_OFF") == "1":
        gc.disable()
    if os.environ.get("EXECUTE") == "1":
        runner.execute()
        result = runner.result
        print(json.dumps({"gas_used": result.gas_used, "success": result.success}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
