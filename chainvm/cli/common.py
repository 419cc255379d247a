"""Conventions every chainvm command shares: JSON on stdout, one-line errors on stderr,
exit 2 for bad usage, progress only when stderr is a terminal."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")
J = TypeVar("J")


class UsageError(Exception):
    """Bad flags, paths or input: reported on one line, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def collect_json_files(paths: Iterable[str]) -> list[Path]:
    """Expand files and folders (recursively) to a sorted list of .json files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or directory: {raw}")
    return files


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield items, drawing a progress bar on stderr only when it is a terminal."""
    if not sys.stderr.isatty() or total == 0:
        yield from items
        return
    width = 30
    for done, item in enumerate(items, 1):
        filled = width * done // total
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
        yield item
    sys.stderr.write("\n")


def run_jobs(worker: Callable[[J], tuple[str, Any]], jobs: list[J], workers: int,
             label: str) -> list[dict[str, Any]]:
    """Run one job per fixture file, in `workers` processes when asked, with progress.

    A worker returns ("ok", [result objects]) or ("error", message); an error is a
    usage error (unreadable or malformed input) and stops the command.
    """
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.Pool(min(workers, len(jobs))) as pool:
            outcomes = list(progress(pool.imap(worker, jobs), len(jobs), label))
    else:
        outcomes = list(progress((worker(j) for j in jobs), len(jobs), label))
    results: list[dict[str, Any]] = []
    for kind, payload in outcomes:
        if kind == "error":
            raise UsageError(payload)
        results.extend(payload)
    return results


def parse_hex(text: str, what: str) -> bytes:
    raw = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise UsageError(f"{what}: not valid hex: {text[:40]!r}") from None
