"""benchmarks/run.py: the side-by-side runner's warm-up runs and its bad-usage exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "benchmarks" / "run.py"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "evm-benchmarks"


def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra_env}
    return subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True,
                          text=True, timeout=300, env=env, check=False)


def test_negative_warmup_is_bad_usage() -> None:
    result = run("--warmup", "-1", "--impl", "chainvm")
    assert result.returncode == 2
    assert "--warmup must not be negative" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="needs ../shared/fixtures/evm-benchmarks")
def test_warmup_runs_are_untimed() -> None:
    result = run("--impl", "chainvm", "--only", "^main/swap_math/0$", "--repeat", "2",
                 "--warmup", "3", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["warmup"] == 3
    (bench,) = doc["benchmarks"]
    chainvm = bench["results"]["chainvm"]
    assert chainvm["status"] == "ok"
    assert len(chainvm["times"]) == 2  # only the timed runs are reported
    assert "warm-up: 3 untimed runs" in result.stderr


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="needs ../shared/fixtures/evm-benchmarks")
def test_results_record_the_chainvm_settings_they_ran_with() -> None:
    """A run with the interpreter alone (CHAINVM_COMPILE=off) says so in its JSON."""
    result = run("--impl", "chainvm", "--only", "^main/swap_math/0$", "--repeat", "1",
                 "--json", CHAINVM_COMPILE="off")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["chainvm_settings"]["CHAINVM_COMPILE"] == "off"


def test_zero_cold_rounds_is_bad_usage() -> None:
    result = run("--cold", "--cold-rounds", "0", "--impl", "chainvm")
    assert result.returncode == 2
    assert "--cold-rounds must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr
    result = run("--cold-rounds", "3", "--impl", "chainvm")  # without --cold
    assert result.returncode == 2
    assert "--cold-rounds applies to --cold runs only" in result.stderr


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="needs ../shared/fixtures/evm-benchmarks")
def test_cold_rounds_time_one_first_run_per_process_taking_turns() -> None:
    """--cold --cold-rounds 2 with two implementations: four processes per case, one timed
    first run in each, the implementations alternating (so drift falls on both alike)."""
    result = run("--impl", "chainvm,pyevm", "--only", "^main/swap_math/[01]$", "--cold",
                 "--cold-rounds", "2", "--json", "-v")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["cold"] is True and doc["cold_rounds"] == 2
    assert [b["name"] for b in doc["benchmarks"]] == ["swap_math/0", "swap_math/1"]
    for bench in doc["benchmarks"]:
        for impl in ("chainvm", "pyevm"):
            assert bench["results"][impl]["status"] == "ok", bench
            assert len(bench["results"][impl]["times"]) == 2  # one per process
    for impl in ("chainvm", "pyevm"):
        assert len(doc["implementations"][impl]["startup_cpu"]) == 4
    order = [line.split()[0] for line in result.stderr.splitlines()
             if line.startswith(("chainvm ", "pyevm "))]
    assert order == ["chainvm", "pyevm"] * 4, result.stderr


FIRST_EXECUTE = ROOT / "benchmarks" / "first_execute.py"


def first_execute(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(FIRST_EXECUTE), *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                       **env}, check=False)


def test_first_execute_bad_usage_exits_2(tmp_path: Path) -> None:
    """benchmarks/first_execute.py (callgrind counts of a first run): a missing argument,
    an unreadable file or a case that is not there is one line on stderr and exit 2."""
    fixture = tmp_path / "one.json"
    fixture.write_text('{"t": {"post": {"London": []}}}')
    for args in ((), (str(tmp_path / "missing.json"), "London", "0"),
                 (str(fixture), "London", "0"), (str(fixture), "Nope", "0"),
                 (str(fixture), "London", "x")):
        result = first_execute(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, args


RUN_CASE_N = ROOT / "benchmarks" / "run_case_n.py"


@pytest.mark.parametrize("script, args", [
    (FIRST_EXECUTE, ("x.json", "London", "-1")), (FIRST_EXECUTE, ("x.json", "London", "0", "1")),
    (RUN_CASE_N, ()), (RUN_CASE_N, ("x.json", "London", "0", "-3")),
    (RUN_CASE_N, ("x.json", "London", "0", "z")), (RUN_CASE_N, ("--bogus",)),
])
def test_callgrind_helpers_refuse_bad_arguments(script: Path, args: tuple[str, ...]) -> None:
    """The two callgrind helpers parse their arguments as the chainvm commands do: a wrong
    one is a line naming the script and exit 2; --help prints the usage."""
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                            text=True, timeout=300, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, (args, result.stderr)
    assert result.stderr.startswith(script.name + ": ") and result.stderr.count("\n") == 1
    helped = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                            text=True, timeout=300, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert helped.returncode == 0 and helped.stdout.startswith("usage: " + script.name)


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="needs ../shared/fixtures/evm-benchmarks")
def test_first_execute_runs_the_case_only_when_asked() -> None:
    path = str(FIXTURES / "main" / "swap_math.json")
    prepared = first_execute(path, "London", "0", GC_OFF="1")
    assert prepared.returncode == 0 and not prepared.stderr and not prepared.stdout
    ran = first_execute(path, "London", "0", EXECUTE="1", GC_OFF="1")
    assert ran.returncode == 0 and not ran.stderr, ran.stderr
    outcome = json.loads(ran.stdout)
    assert outcome["success"] is True and outcome["gas_used"] > 21_000


FULL_SET = ROOT / "benchmarks" / "full_set.sh"


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown option --bogus"),
    (["--steady-runs", "0"], "--steady-runs wants a positive count"),
    (["--steady-runs"], "--steady-runs wants a positive count"),
    (["a", "b"], "one STAMP only"),
    (["../x"], "STAMP must be a plain name"),
])
def test_full_set_bad_usage_exits_2_before_running_anything(args: list[str], message: str
                                                             ) -> None:
    result = subprocess.run(["bash", str(FULL_SET), *args], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"full_set.sh: {message}" + (
        " (see --help)" if args == ["--bogus"] else "")
    assert result.stdout == ""


def test_full_set_help_describes_the_set() -> None:
    result = subprocess.run(["bash", str(FULL_SET), "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("One set of the issue-16 figures")
    assert "--steady-runs N" in result.stdout and "set -e" not in result.stdout


def _runner_module() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmarks_run_under_test", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_modules_loaded_by_finds_what_a_run_imports_in_a_forked_child(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner: Any = _runner_module()
    # Modules of this test's own (any stdlib module may have been imported by an earlier
    # test in the same worker).
    wanted, other = (f"chainvm_probe_{tmp_path.name}_{n}".replace("-", "_") for n in (1, 2))
    for module in (wanted, other):
        (tmp_path / f"{module}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = runner.modules_loaded_by(lambda: __import__(wanted))
    assert wanted in loaded and wanted not in sys.modules  # found in the child only
    missing = "chainvm_probe_module_that_does_not_exist"
    assert runner.import_modules([missing, wanted]) == 1  # a name that is no module is skipped
    assert wanted in sys.modules
    # A first case that fails still reports what it imported before failing.
    assert other in runner.modules_loaded_by(lambda: [__import__(other), 1 / 0])
    for module in (wanted, other):
        sys.modules.pop(module, None)


def test_state_test_workers_import_what_any_file_loads_before_timing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module that only a later file of the sample imports (chainvm loads its alt_bn128
    arithmetic on the first ECMUL) is imported before the clock starts, even when an
    earlier file fails."""
    runner: Any = _runner_module()
    lazy = f"chainvm_probe_{tmp_path.name}_lazy".replace("-", "_")
    (tmp_path / f"{lazy}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[tuple[str, bool]] = []

    class Driver:
        def __init__(self, root: Path, fork: str) -> None:
            pass

        def verify_file(self, rel: str) -> dict[str, dict[str, Any]]:
            seen.append((rel, lazy in sys.modules))
            if rel == "broken.json":
                raise ValueError("a file that fails")
            if rel == "late.json":
                __import__(lazy)
            return {rel: {"pass": True, "gas": None, "rejected": None, "error": None}}

    monkeypatch.setitem(runner.STATETEST_DRIVERS, "probe", Driver)
    plan = {"root": str(tmp_path), "fork": "Cancun",
            "files": ["first.json", "broken.json", "late.json"]}
    result = runner.statetest_worker("probe", plan, 1, lambda message: None)
    try:
        # Only the timed run's calls are seen here (the discovery ran in a forked child),
        # and the module was imported before the first of them.
        assert seen == [("first.json", True), ("broken.json", True), ("late.json", True)]
        assert result["cases"]["late.json"]["pass"]
    finally:
        sys.modules.pop(lazy, None)

def _throughput_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "statetest_throughput_under_test", ROOT / "benchmarks" / "statetest_throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_state_sample_rounds_take_the_median_worker_and_check_the_verdicts() -> None:
    throughput = _throughput_module()
    runner: Any = _runner_module()

    def worker(cpu: float, verdict: bool = True, status: str = "ok") -> dict[str, Any]:
        return {"status": status, "cpu_times": [cpu],
                "cases": {"a": {"pass": True, "error": None},
                          "b": {"pass": verdict, "error": None if verdict else "root"}}}

    one = throughput.pair_result(runner, [worker(0.030), worker(0.041), worker(0.029)])
    assert (one["status"], one["cpu"], one["cpu_rounds"]) == ("ok", 0.030, [0.030, 0.041, 0.029])
    assert (one["cases"], one["passed"]) == (2, 2)
    assert throughput.pair_result(runner, [worker(0.5)])["cpu"] == 0.5
    differ = throughput.pair_result(runner, [worker(0.030), worker(0.031, verdict=False)])
    assert (differ["status"], differ["error"]) == ("error", "verdicts differ between rounds")
    crashed = throughput.pair_result(runner, [worker(0.030), {"status": "crash", "error": "x"}])
    assert (crashed["status"], crashed["cpu"]) == ("crash", None)


def test_state_sample_refuses_zero_rounds(capsys: pytest.CaptureFixture[str]) -> None:
    assert _throughput_module().main(["--rounds", "0", "--blocktests", ""]) == 2
    assert "--rounds" in capsys.readouterr().err

TIER_COSTS = ROOT / "benchmarks" / "tier_costs.py"


def test_tier_costs_patterns_run_their_loop_without_error() -> None:
    """benchmarks/tier_costs.py: every pattern is a valid program (its stack balanced, its
    JUMPIs landing on JUMPDESTs) that runs the whole loop: N passes of K copies."""
    import importlib.util

    from chainvm.cli.run import RECEIVER, SENDER
    from chainvm.evm.env import BlockEnv
    from chainvm.evm.execution import CALL, Message, execute_message, new_evm, prewarm
    from chainvm.evm.forks import get_fork
    from chainvm.state.state import Account, State

    spec = importlib.util.spec_from_file_location("tier_costs", TIER_COSTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gas_of = {}
    for name, body in module.PATTERNS.items():
        state = State({SENDER: Account(balance=10**18),
                       RECEIVER: Account(code=module.program(body))})
        state.begin_transaction()
        evm = new_evm(state, get_fork("Cancun"), BlockEnv(), SENDER)
        prewarm(evm, (SENDER, RECEIVER))
        result = execute_message(evm, Message(CALL, SENDER, RECEIVER, 0, b"", 30_000_000))
        assert result.error is None, (name, result.error)
        gas_of[name] = 30_000_000 - result.gas_left
    # each copy's gas is paid N*K times: at least 3 gas an instruction, 2 at the least
    for name, gas in gas_of.items():
        if name != "empty":
            assert gas - gas_of["empty"] >= 2 * module.N * module.K, name


@pytest.mark.parametrize("args", [("--bogus",), ("extra",)])
def test_tier_costs_bad_usage_exits_2(args: tuple[str, ...]) -> None:
    result = subprocess.run([sys.executable, str(TIER_COSTS), *args], capture_output=True,
                            text=True, timeout=300, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("tier_costs.py: ") and result.stderr.count("\n") == 1


LARGE_CONTRACT = ROOT / "benchmarks" / "large_contract.py"


@pytest.mark.parametrize("args", [("--slots", "x"), ("--rounds", "0"), ("--bogus",)])
def test_large_contract_bad_usage_exits_2(args: tuple[str, ...]) -> None:
    result = subprocess.run([sys.executable, str(LARGE_CONTRACT), *args], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 2 and "large_contract.py: error:" in result.stderr


def test_large_contract_reports_each_count_and_both_chains() -> None:
    result = subprocess.run(
        [sys.executable, str(LARGE_CONTRACT), "--slots", "0,300", "--rounds", "2",
         "--transactions", "3", "--history-blocks", "20", "--json"],
        capture_output=True, text=True, timeout=300, check=True)
    doc = json.loads(result.stdout)
    assert sorted(doc["per_transaction_ms"]) == ["0", "300"]
    assert all(len(times) == 2 and min(times) > 0 for times in doc["per_transaction_ms"].values())
    assert sorted(doc["history"]) == ["with", "without"]
    assert all(run["cpu_s"] > 0 for run in doc["history"].values())
