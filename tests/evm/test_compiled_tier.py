"""The compiled tier must agree with the interpreter: run state tests with every block
translated on first use (CHAINVM_COMPILE=always), and with tiny thresholds so that frames
move between the interpreter, cold steps and translated blocks (CHAINVM_COMPILE=mixed),
and require every case to pass. (The default mode, auto, runs the conformance sample.)"""

import json
import os
import subprocess
import sys

import pytest

from chainvm.testing.fixtures import ethereum_tests

FOLDERS = ["VMTests", "stMemoryTest", "stCallCodes", "stCreate2", "stSStoreTest", "stRevertTest",
           "stStackTests", "stShift", "stSelfBalance", "Cancun"]
MIXED_FOLDERS = ["VMTests", "stMemoryTest", "stStackTests", "stRevertTest", "stCallCodes",
                 "stSStoreTest", "Cancun"]


def _run_folder(folder: str, mode: str) -> None:
    root = ethereum_tests("state-2024")
    if root is None or not (root / folder).is_dir():
        pytest.skip("state-2024 fixtures not found")
    env = dict(os.environ, CHAINVM_COMPILE=mode)
    # vmPerformance is the interpreter's stress test; translating each block of its huge
    # loops on first use only measures the translator, so it is left to the full runs.
    paths = [str(p) for p in sorted((root / folder).rglob("*.json"))
             if "vmPerformance" not in p.parts]
    out = subprocess.run([sys.executable, "-m", "chainvm.cli.main", "statetest", *paths],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode in (0, 1), out.stderr
    failures = [r for r in json.loads(out.stdout) if not r["pass"]]
    assert not failures, failures[:5]


@pytest.mark.parametrize("folder", FOLDERS)
def test_compiled_tier_matches_state_tests(folder: str) -> None:
    _run_folder(folder, "always")


@pytest.mark.parametrize("folder", MIXED_FOLDERS)
def test_mixed_tiers_match_state_tests(folder: str) -> None:
    _run_folder(folder, "mixed")
