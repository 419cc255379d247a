"""The arguments of the one-case callgrind helpers (first_execute.py, run_case_n.py):
FILE.json FORK INDEX, and N for the helpers that run a case several times; parsed by
the chainvm commands' ArgumentParser, so a wrong one is one line and exit 2."""

from __future__ import annotations

import argparse

from chainvm.cli.common import ArgumentParser


def parse_case_args(prog: str, description: str, argv: list[str],
                    runs: bool = False) -> argparse.Namespace:
    """file, fork, index (and runs), non-negative; raises chainvm's UsageError."""
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument("file", metavar="FILE.json")
    parser.add_argument("fork", metavar="FORK")
    parser.add_argument("index", metavar="INDEX", type=int)
    if runs:
        parser.add_argument("runs", metavar="N", type=int)
    args = parser.parse_args(argv)
    if args.index < 0 or getattr(args, "runs", 0) < 0:
        parser.error("INDEX" + (" and N" if runs else "") + " must not be negative")
    return args
