"""Streaming, resumable suite runs (issue 15): --jsonl, --resume, --case-timeout, --summary,
and the Ray executor giving the same results as the local one."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainvm.cli.campaign import JsonlSink, read_results
from chainvm.testing.fixtures import ethereum_tests

GUARD_SECONDS = 600  # against a hang only; no test expects a speed
STATE = ethereum_tests("state-2024")
BLOCKS = ethereum_tests("blockchain-2024")
needs_state = pytest.mark.skipif(STATE is None, reason="state-2024 archive not found")
# Small folders of quick cases: 177 state-test cases in 30 files.
STATE_FOLDERS = ["VMTests/vmArithmeticTest", "stEIP1559", "stExample"]


def chainvm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainvm.cli.main", *args],
                          capture_output=True, text=True, check=False, timeout=GUARD_SECONDS)


@pytest.fixture
def suite_folder(tmp_path: Path) -> Path:
    assert STATE is not None
    root = tmp_path / "suite"
    for folder in STATE_FOLDERS:
        shutil.copytree(STATE / folder, root / folder.replace("/", "_"))
    return root


def _keys(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()
            and line.endswith("}")]


def _kill_after_records(args: list[str], jsonl: Path, records: int) -> None:
    """Start `chainvm ARGS` and kill it hard (SIGKILL) once JSONL holds RECORDS lines:
    well before the end of the run, as a crash or an evicted job would."""
    proc = subprocess.Popen([sys.executable, "-m", "chainvm.cli.main", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and (not jsonl.exists()
                                       or jsonl.read_bytes().count(b"\n") < records):
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=GUARD_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"


@needs_state
def test_killed_run_resumes_to_the_same_results(suite_folder: Path, tmp_path: Path) -> None:
    whole = chainvm("statetest", "--workers", "2", str(suite_folder))
    assert whole.returncode in (0, 1), whole.stderr
    expected = json.loads(whole.stdout)
    assert len(expected) > 100

    jsonl = tmp_path / "results.jsonl"
    _kill_after_records(["statetest", "--jsonl", str(jsonl), str(suite_folder)], jsonl, 10)
    recorded = _keys(jsonl)
    assert 10 <= len(recorded) < len(expected)

    resumed = chainvm("statetest", "--workers", "2", "--jsonl", str(jsonl), "--resume",
                      str(jsonl), str(suite_folder))
    assert resumed.returncode == whole.returncode, resumed.stderr
    assert json.loads(resumed.stdout) == expected
    keys = _keys(jsonl)
    assert len(keys) == len(set(keys)) == len(expected)  # nothing ran twice
    assert keys[:len(recorded)] == recorded

    summary = chainvm("statetest", "--summary", str(jsonl))
    counts = json.loads(summary.stdout)
    assert counts["cases"] == len(expected)
    assert counts["passed"] == sum(1 for r in expected if r["pass"])
    assert "Cancun" in summary.stderr and "all" in summary.stderr


def test_results_file_survives_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "a", "pass": true}\n{"key": "b", "pass": false}\n{"key": "c", "pa')
    assert sorted(read_results(str(path))) == ["a", "b"]
    sink = JsonlSink(str(path))
    sink.write({"key": "c", "pass": True})
    sink.close()
    assert read_results(str(path))["c"] == {"key": "c", "pass": True}
    assert path.read_text().count("\n") == 3
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_results(str(path))
    # Only an unterminated last line that starts a record is a cut one: a lone line that
    # is not JSON, or a whole (terminated) bad last line, is not a results file.
    for text, line in (("not json", 1), ("not json\n", 1), ('{"key": "a"}\n{"key": "b\n', 2),
                       ('{"key": "a"}\nnot json', 2)):
        path.write_text(text)
        with pytest.raises(ValueError, match=f"line {line}"):
            read_results(str(path))
    path.write_text('{"ke')
    assert read_results(str(path)) == {}


ENDLESS_STATE_TEST = {
    "endless": {
        "env": {"currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
                "currentNumber": "0x01", "currentTimestamp": "0x03e8",
                "currentGasLimit": "0x7fffffffffffffff", "currentDifficulty": "0x020000",
                "currentBaseFee": "0x0a"},
        "pre": {"0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b": {
                    "balance": "0xffffffffffffffffffffffffffffffff", "nonce": "0x00",
                    "code": "0x", "storage": {}},
                "0x1000000000000000000000000000000000000000": {
                    "balance": "0x00", "nonce": "0x00", "code": "0x5b600056",  # loop forever
                    "storage": {}}},
        "transaction": {"data": ["0x"], "gasLimit": ["0x7fffffffffffffff"],
                        "gasPrice": "0x0a", "nonce": "0x00",
                        "secretKey": "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e32"
                                     "40065ff2d8",
                        "to": "0x1000000000000000000000000000000000000000", "value": ["0x00"]},
        "post": {"Cancun": [{"hash": "0x" + "00" * 32, "logs": "0x" + "00" * 32,
                             "indexes": {"data": 0, "gas": 0, "value": 0}}]},
    }
}


def test_case_timeout_records_a_timeout(tmp_path: Path) -> None:
    path = tmp_path / "endless.json"
    path.write_text(json.dumps(ENDLESS_STATE_TEST))
    jsonl = tmp_path / "r.jsonl"
    out = chainvm("statetest", "--case-timeout", "1", "--jsonl", str(jsonl), str(path))
    assert out.returncode == 1, out.stderr
    [result] = json.loads(out.stdout)
    assert result["timeout"] is True and not result["pass"] and "timeout" in result["error"]
    assert "timed out" in out.stderr
    assert read_results(str(jsonl))[f"{path}::endless::Cancun::0"]["timeout"] is True


@pytest.mark.parametrize("args", [
    ["statetest", "--case-timeout", "soon", "FIXTURE"],
    ["statetest", "--summary", "/no/such/results.jsonl"],
    ["statetest", "--resume", "/", "FIXTURE"],
    ["statetest", "--jsonl", "/no/such/dir/r.jsonl", "FIXTURE"],
    ["statetest", "--ray-chunk", "0", "--ray", "auto", "FIXTURE"],
    ["statetest", "--ray", "127.0.0.1:1", "FIXTURE"],  # nothing listens: refused at once
    ["statetest", "--ray", "not-an-address", "FIXTURE"],
    ["blocktest", "--case-timeout", "-5", "FIXTURE"],
    ["blocktest"],
    ["statetest", "--workers", "100000", "FIXTURE"],  # a process each would exhaust memory
])
def test_bad_campaign_flags(args: list[str], tmp_path: Path) -> None:
    fixture = tmp_path / "t.json"
    fixture.write_text(json.dumps(ENDLESS_STATE_TEST))
    out = chainvm(*[str(fixture) if a == "FIXTURE" else a for a in args])
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr


# -- Ray ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'chainvm[ray]')")
    # A local cluster in this process, on loopback, with 2 CPUs: small on purpose.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}})
    yield ray
    ray.shutdown()


def _in_process(main: Any, argv: list[str]) -> tuple[int, Any]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
        status = main(argv)
    return status, json.loads(buffer.getvalue())


@needs_state
def test_ray_gives_the_local_results(ray_cluster: Any, tmp_path: Path) -> None:
    from chainvm.cli.statetest import main

    assert STATE is not None
    folder = STATE / "stExample"
    local = _in_process(main, [str(folder)])
    jsonl = tmp_path / "ray.jsonl"
    # Chunks of 2 cases: files are split into several tasks, as big files would be.
    on_ray = _in_process(main, ["--ray", "auto", "--ray-chunk", "2", "--jsonl", str(jsonl),
                                str(folder)])
    assert on_ray == local
    assert len(read_results(str(jsonl))) == len(local[1])


@pytest.mark.skipif(BLOCKS is None, reason="blockchain-2024 archive not found")
def test_ray_blocktest(ray_cluster: Any) -> None:
    from chainvm.chain.cli import main

    assert BLOCKS is not None
    folder = BLOCKS / "InvalidBlocks" / "bc4895-withdrawals"
    assert _in_process(main, ["--ray", "auto", str(folder)]) == _in_process(main, [str(folder)])


def test_ray_difftest_seed_ranges(ray_cluster: Any, tmp_path: Path) -> None:
    pytest.importorskip("ethereum", reason="difftest needs the execution specs")
    from chainvm.testing.differential_cli import main

    argv = ["--fork", "Cancun", "--count", "4", "--seed", "7", "--save-dir", ""]

    def verdicts(extra: list[str]) -> list[tuple[Any, ...]]:
        jsonl = tmp_path / f"d{len(extra)}.jsonl"
        status, summary = _in_process(main, [*argv, *extra, "--jsonl", str(jsonl)])
        assert status == 0 and summary["programs"] == 4
        return sorted((r["key"], r["status"], r["valid"], r["success"])
                      for r in read_results(str(jsonl)).values())

    assert verdicts(["--ray", "auto", "--ray-chunk", "2"]) == verdicts([])


# -- fvm vector -----------------------------------------------------------------------------------


def _fvm_corpus() -> Path | None:
    from chainvm.fvm.vector import corpus_dir

    corpus = corpus_dir()
    return corpus if (corpus / "transfer").is_dir() else None


FVM = _fvm_corpus()
needs_fvm = pytest.mark.skipif(FVM is None, reason="Filecoin test vectors not found")
# The vector its authors hint `incorrect`: all its variants fail (so do ours).
FVM_FAILING = "reward/reward--ok-miners-awarded-no-premiums--genesis.json"


@pytest.fixture
def vector_folder(tmp_path: Path) -> Path:
    """The transfer vectors (32 files, 110 variants) and one failing vector."""
    assert FVM is not None
    root = tmp_path / "vectors"
    shutil.copytree(FVM / "transfer", root / "transfer")
    shutil.copy(FVM / FVM_FAILING, root / "failing.json")
    return root


@needs_fvm
def test_fvm_killed_run_resumes_to_the_same_results(vector_folder: Path, tmp_path: Path) -> None:
    whole = chainvm("fvm", "vector", "--workers", "2", str(vector_folder))
    assert whole.returncode == 1, whole.stderr  # the failing vector
    expected = json.loads(whole.stdout)
    assert len(expected) > 100 and sum(not r["pass"] for r in expected) == 1

    jsonl = tmp_path / "vectors.jsonl"
    _kill_after_records(["fvm", "vector", "--jsonl", str(jsonl), str(vector_folder)], jsonl, 10)
    recorded = _keys(jsonl)
    assert 10 <= len(recorded) < len(expected)
    assert all(k.startswith(str(vector_folder)) and "::" in k for k in recorded)

    resumed = chainvm("fvm", "vector", "--workers", "2", "--jsonl", str(jsonl), "--resume",
                      str(jsonl), str(vector_folder))
    assert resumed.returncode == whole.returncode, resumed.stderr
    assert json.loads(resumed.stdout) == expected
    assert resumed.stderr.splitlines()[-1] == whole.stderr.splitlines()[-1]  # "N/M ... passed"
    keys = _keys(jsonl)
    assert len(keys) == len(set(keys)) == len(expected)  # no variant ran twice
    assert keys[:len(recorded)] == recorded
    assert set(keys) == {f"{r['file']}::{r['variant']}" for r in expected}

    summary = chainvm("fvm", "vector", "--summary", str(jsonl))
    assert summary.returncode == 1
    counts = json.loads(summary.stdout)
    assert counts == {"cases": len(expected), "passed": len(expected) - 1, "failed": 1,
                      "timeouts": 0}
    rows = {line.split()[0]: line.split()[1:] for line in summary.stderr.splitlines()[1:]}
    assert rows["transfer"] == ["32/32", str(len(expected) - 1), "0", str(len(expected) - 1)]
    assert rows["all"] == ["32/33", str(len(expected) - 1), "1", str(len(expected))]


@needs_fvm
def test_fvm_ray_gives_the_local_results(ray_cluster: Any, tmp_path: Path) -> None:
    from chainvm.fvm.cli import main

    assert FVM is not None
    folder = tmp_path / "vectors"
    folder.mkdir()
    for vector in sorted((FVM / "transfer").glob("basic--*--genesis.json"))[:4]:
        shutil.copy(vector, folder / vector.name)  # 4 variants each
    shutil.copy(FVM / FVM_FAILING, folder / "failing.json")
    local = _in_process(main, ["vector", str(folder)])
    assert local[0] == 1 and len(local[1]) > 10
    jsonl = tmp_path / "ray.jsonl"
    # Chunks of 3 variants: a file of 4 is split over two tasks.
    on_ray = _in_process(main, ["vector", "--ray", "auto", "--ray-chunk", "3", "--jsonl",
                                str(jsonl), str(folder)])
    assert on_ray == local
    assert len(read_results(str(jsonl))) == len(local[1])


def test_summary_by_counts_one_line_or_a_table_in_the_given_order() -> None:
    """The statetest and blocktest summaries: one line off a terminal, else a row per
    fork or network (in the order given, else by name), a row for all, and the timeouts."""
    from chainvm.cli.campaign import summary_by

    results = [{"fork": "Cancun", "pass": True}, {"fork": "Berlin", "pass": False},
               {"fork": "Cancun", "pass": False, "timeout": True}]
    line = io.StringIO()
    summary_by(results, "fork", 10, line, table=False)
    assert line.getvalue() == "1 passed, 2 failed (1 timed out)\n"
    rank = {"Berlin": 0, "Cancun": 1}
    for order, first in ((None, "Berlin"), (lambda fork: -rank[fork], "Cancun")):
        table = io.StringIO()
        summary_by(results, "fork", 10, table, table=True, order=order)
        rows = [row.split() for row in table.getvalue().splitlines()]
        assert rows[0] == ["fork", "passed", "failed", "total"]
        assert rows[1][0] == first and rows[3] == ["all", "1", "2", "3"]
        assert rows[4] == ["1", "case(s)", "timed", "out"]
        assert ["Cancun", "1", "1", "2"] in rows and ["Berlin", "0", "1", "1"] in rows


@needs_state
def test_a_second_run_in_one_process_reads_a_rewritten_file_again(tmp_path: Path) -> None:
    """A run keeps the file it last parsed for its next case; a later run in the same
    process (main() called again, as a script or test may) must not take it for the
    file's new content."""
    from chainvm.cli.main import main

    assert STATE is not None
    source = json.loads((STATE / "stExample" / "add11.json").read_text())
    fixture = tmp_path / "case.json"
    results = []
    for name in ("first_name", "second_name"):
        fixture.write_text(json.dumps({name: next(iter(source.values()))}))
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(["statetest", str(fixture)])
        records = json.loads(out.getvalue())
        assert code == 0 and records and all(r["pass"] for r in records)
        results.append({r["name"] for r in records})
    assert results == [{"first_name"}, {"second_name"}]


def test_a_test_gone_from_its_file_is_an_input_error() -> None:
    from chainvm.cli.campaign import named_test
    from chainvm.encoding.json_input import InputError

    assert named_test("f.json", {"a": 1}, "a") == 1
    for data in ({"a": 1}, [], None):
        with pytest.raises(InputError, match=r"^f\.json: test 'b' is no longer in the file"):
            named_test("f.json", data, "b")
