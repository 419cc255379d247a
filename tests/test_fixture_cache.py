"""The fixture cache is filled once even when several processes ask at once (pytest-xdist
workers collecting in a fresh clone): none may see another's half-written tree."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chainvm.testing.fixtures import shared_fixtures

READER = """
from chainvm.testing.fixtures import ethereum_tests
root = ethereum_tests("basic")
print(sum(len(p.read_bytes()) > 0 for p in root.rglob("*.json")))
"""


def test_concurrent_extraction_gives_every_process_the_whole_tree(tmp_path: Path) -> None:
    if not (shared_fixtures() / "ethereum-tests" / "basic.tar.xz").exists():
        pytest.skip("shared fixtures not found")
    env = dict(os.environ, CHAINVM_FIXTURE_CACHE=str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, "-c", READER], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    counts = {out.strip() for out, _ in results}
    assert len(counts) == 1 and int(counts.pop()) > 0
