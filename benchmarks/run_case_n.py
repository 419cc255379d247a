"""Run one case of a state-test file N times through chainvm.evm.statetest.run_case.

For callgrind instruction counts of start-up, a first run and warm runs
(docs/performance.md, "Issue 16"): N=0 is the import alone, N=1 adds the first run,
N=3 two warm runs more.

    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python \\
        benchmarks/run_case_n.py FILE.json FORK INDEX N
"""

from __future__ import annotations

import json
import sys

from case_args import parse_case_args

from chainvm.cli.common import UsageError
from chainvm.evm.statetest import run_case


def parse_args(argv: list[str]) -> tuple[str, str, int, int]:
    args = parse_case_args("run_case_n.py", (
        "Run one state-test case N times through chainvm.evm.statetest.run_case "
        "(callgrind counts: N=0 is the import alone)."), argv, runs=True)
    return args.file, args.fork, args.index, args.runs


def main(argv: list[str]) -> int:
    try:
        path, fork, index, runs = parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    if runs == 0:
        return 0
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
        name = next(iter(data))
        test = data[name]
    except (OSError, ValueError, StopIteration) as exc:
        sys.stderr.write(f"run_case_n.py: {path}: {exc}\n")
        return 2
    entries = test.get("post", {}).get(fork) if isinstance(test, dict) else None
    if not isinstance(entries, list) or not index < len(entries):
        sys.stderr.write(f"run_case_n.py: {name} has no case {fork}[{index}]\n")
        return 2
    for _ in range(runs):
        result = run_case(name, test, fork, index)
        if not result.passed:
            sys.stderr.write(f"run_case_n.py: {name} failed: {result.error}\n")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
