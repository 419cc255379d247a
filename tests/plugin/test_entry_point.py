"""The plugin is declared where pytest finds it once chainvm is installed."""

import tomllib
from pathlib import Path


def test_pytest11_entry_point_declared() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {
        "chainvm": "chainvm.testing.pytest_plugin"}


def test_unknown_fork_option_stops_the_session_with_one_line(tmp_path: Path) -> None:
    """Not an error with a traceback in every test that asks for `chain`: pytest's usage
    error (exit 4), naming the option; a known fork runs the tests."""
    import subprocess
    import sys

    (tmp_path / "test_uses_chain.py").write_text(
        "def test_a(chain):\n    assert chain.fork == 'Cancun'\n")
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           str(tmp_path)]
    bad = subprocess.run([*run, "--chainvm-fork", "Nope"], capture_output=True, text=True,
                         cwd=tmp_path, check=False)
    assert bad.returncode == 4, bad.stdout + bad.stderr
    assert "--chainvm-fork: unknown fork 'Nope'" in bad.stderr and "Traceback" not in bad.stderr
    good = subprocess.run([*run, "--chainvm-fork", "Cancun"], capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
