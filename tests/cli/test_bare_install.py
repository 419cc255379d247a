"""A bare install (no fixture archives anywhere) still runs the main job: `chainvm
statetest` with no PATH runs the state tests shipped in the package; a missing archive
says where it was looked for."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _chainvm(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHAINVM_FIXTURES": str(tmp_path / "none"),
           "CHAINVM_FIXTURE_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "chainvm.cli.main", *args], check=False,
                          cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)


def test_statetest_without_path_runs_the_bundled_sample(tmp_path: Path) -> None:
    out = _chainvm(tmp_path, "statetest", "--workers", "2")
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert len(results) >= 100 and all(r["pass"] for r in results)
    assert "ethereum/tests" in out.stderr


def test_missing_archive_says_where_it_looked(tmp_path: Path) -> None:
    out = _chainvm(tmp_path, "fixtures", "state-2024")
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line
    assert str(tmp_path / "none" / "ethereum-tests" / "state-2024.tar.xz") in line
    assert "https://github.com/ethereum/tests" in line


def test_archive_names_that_are_paths_are_refused(tmp_path: Path) -> None:
    """An archive name is NAME.tar.xz beside the others and cache/NAME, which extraction
    replaces: a name with a path in it must not reach outside either folder."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "kept").write_text("")  # was taken for an extracted copy
    for name in ("../outside", "state-2024/..", ".hidden", ""):
        out = _chainvm(tmp_path, "fixtures", name)
        assert out.returncode == 2 and out.stdout == "", (name, out.stdout)
        assert "plain name" in out.stderr and len(out.stderr.splitlines()) == 1


def test_fixtures_help_names_the_variable(tmp_path: Path) -> None:
    for command in ("fixtures", "statetest", "blocktest"):
        out = _chainvm(tmp_path, command, "--help")
        assert out.returncode == 0
        assert "CHAINVM_FIXTURES" in out.stdout


def test_readme_first_command_needs_nothing_beside_the_clone() -> None:
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"```sh\n(.*?)```", readme, re.DOTALL)
    assert first is not None
    command = first.group(1)
    assert "pip install -q ." in command and "chainvm statetest" in command
    assert "../shared" not in command and ".fixtures" not in command


def test_sample_notice_names_the_licence() -> None:
    notice = (ROOT / "chainvm" / "data" / "statetests" / "NOTICE.md").read_text()
    assert "MIT" in notice and "ethereum/tests" in notice
