"""What the state-test and blockchain-test conformance suites share: the sample of an
archive's files, one pytest parameter per sampled file, and the known-failures list
(a failing case must be listed with a reason; a listed case that passes fails too, so
the list stays honest)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

from chainvm.testing.fixtures import ethereum_tests


def load_known_failures(path: Path) -> dict[str, str]:
    """`case id # reason` lines; blank lines and `#` comments skipped."""
    known: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        case_id, _, reason = line.partition(" # ")
        known[case_id.strip()] = reason.strip()
    return known


def sample_files(root: Path, every: int, slow: frozenset[str] = frozenset()) -> list[Path]:
    """Every `every`-th file, in sorted order, of every folder below `root` (so each folder
    keeps about that share of its cases); in a sample (`every` > 1) a file named in `slow`
    is replaced by the next one of its folder not taken yet."""
    by_folder: dict[Path, list[Path]] = defaultdict(list)
    for path in root.rglob("*.json"):
        by_folder[path.parent].append(path)
    chosen: list[Path] = []
    for folder in sorted(by_folder):
        files = sorted(by_folder[folder])
        if every == 1:  # the whole archive, slow files included
            chosen.extend(files)
            continue
        taken: set[Path] = set()
        for start in range(0, len(files), every):
            for candidate in files[start:] + files[:start]:
                if candidate.name not in slow and candidate not in taken:
                    taken.add(candidate)
                    chosen.append(candidate)
                    break
    return chosen


def file_params(archives: Iterable[str], every: int,
                slow: frozenset[str] = frozenset()) -> list[object]:
    """(path, path relative to the archives' folder) per sampled file; one skipped
    parameter per archive that is not there."""
    params: list[object] = []
    for archive in archives:
        root = ethereum_tests(archive)
        if root is None:
            params.append(pytest.param(None, archive, marks=pytest.mark.skip(
                reason=f"fixture archive {archive} not found under ../shared/fixtures "
                       "(set CHAINVM_FIXTURES)")))
            continue
        for path in sample_files(root, every, slow):
            rel = path.relative_to(root.parent).as_posix()
            params.append(pytest.param(path, rel, id=rel))
    return params


def check_against_known(outcomes: Iterable[tuple[str, bool, str]],
                        known: dict[str, str]) -> None:
    """Fail on a (case id, passed, detail) that fails unlisted or passes listed."""
    unexpected: list[str] = []
    fixed: list[str] = []
    for case_id, passed, detail in outcomes:
        if passed and case_id in known:
            fixed.append(case_id)
        elif not passed and case_id not in known:
            unexpected.append(f"{case_id}{detail}")
    assert not unexpected, "unexpected failures:\n" + "\n".join(unexpected)
    assert not fixed, "now passing; remove from known_failures.txt:\n" + "\n".join(fixed)
