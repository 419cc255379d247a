import json
import subprocess
import sys
from pathlib import Path

import pytest

from chainvm.testing.fixtures import ethereum_tests


def chainvm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainvm.cli.main", *args],
                          capture_output=True, text=True, check=False)


def test_run_prints_output_and_gas() -> None:
    out = chainvm("run", "--code", "60016002015f5260205ff3")
    assert out.returncode == 0
    report = json.loads(out.stdout)
    assert int(report["output"], 16) == 3
    assert report["gasUsed"] == hex(3 + 3 + 3 + 2 + (3 + 3) + 3 + 2)  # MSTORE pays 1 word


def test_run_trace_is_eip3155_on_stderr() -> None:
    out = chainvm("run", "--code", "600100", "--trace")
    lines = [json.loads(line) for line in out.stderr.splitlines()]
    assert lines[0]["opName"] == "PUSH1" and lines[0]["gas"].startswith("0x")
    assert "gasUsed" in lines[-1]


@pytest.mark.parametrize(("args", "prefix"), [(["--version"], "chainvm "), (["-V"], "chainvm "),
                                              (["node", "--version"], "chainvm node ")])
def test_version_is_the_installed_distributions(args: list[str], prefix: str) -> None:
    """`chainvm --version` (and `chainvm node --version`, as `anvil --version`) print the
    version pip installed, one line on stdout, exit 0."""
    from importlib.metadata import version

    out = chainvm(*args)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout == f"{prefix}{version('chainvm')}\n"


@pytest.mark.parametrize("args", [
    ["run", "--code", "zz"],
    ["run", "--code", "00", "--fork", "Nope"],
    ["run"],
    ["statetest", "/definitely/not/here"],
    ["statetest", "--fork", "Nope", "."],
    ["statetest", "--workers", "0", "."],
    ["nosuchcommand"],
])
def test_bad_usage_exits_2_with_one_line(args: list[str]) -> None:
    out = chainvm(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stdout == "" or args == ["nosuchcommand"]


def test_statetest_rejects_malformed_fixture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"t": {"pre": {}}}')
    out = chainvm("statetest", str(bad))
    assert out.returncode == 2 and "not a state test" in out.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    out = chainvm("statetest", str(broken))
    assert out.returncode == 2 and "invalid JSON" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def _vm_tests() -> Path | None:
    root = ethereum_tests("state-2024")
    return None if root is None else root / "VMTests" / "vmArithmeticTest"


@pytest.mark.skipif(_vm_tests() is None, reason="state-2024 fixtures not found")
def test_statetest_json_output_and_filters() -> None:
    folder = _vm_tests()
    assert folder is not None
    out = chainvm("statetest", "--run", "^add$", "--workers", "2", str(folder))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert results and all(r["name"] == "add" and r["pass"] for r in results)
    assert set(results[0]) == {"name", "fork", "index", "pass", "stateRoot"}
    none = chainvm("statetest", "--fork", "Frontier", str(folder / "add.json"))
    assert json.loads(none.stdout) == []


@pytest.mark.skipif(_vm_tests() is None, reason="state-2024 fixtures not found")
def test_statetest_failure_exits_1(tmp_path: Path) -> None:
    folder = _vm_tests()
    assert folder is not None
    data = json.loads((folder / "add.json").read_text())
    for test in data.values():
        for posts in test["post"].values():
            for post in posts:
                post["hash"] = "0x" + "11" * 32
    target = tmp_path / "tampered.json"
    target.write_text(json.dumps(data))
    out = chainvm("statetest", str(target))
    assert out.returncode == 1
    results = json.loads(out.stdout)
    assert not any(r["pass"] for r in results)
    assert "state root mismatch" in results[0]["error"]
