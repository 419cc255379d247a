"""EIP-3155 traces, checked line by line against geth's JSON logger: the EIP's own example
(its gas figures were produced by geth at Istanbul), a call-heavy transaction (frames,
a precompile, a value transfer to an empty account) and the state-test summary line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from chainvm.evm.env import BlockEnv
from chainvm.evm.forks import get_fork
from chainvm.evm.tracer import Tracer
from chainvm.evm.transaction import Transaction, apply_transaction
from chainvm.state.state import Account, State

ROOT = Path(__file__).resolve().parents[2]
# geth's field order (returnData only while the frame holds return data; error when set).
GETH_ORDER = ["pc", "op", "gas", "gasCost", "memSize", "stack", "returnData", "depth",
              "refund", "opName", "error"]

# The EIP's example: `evm --code 604080536040604055604060006040600060025afa6040f3 --json run`,
# as (pc, opName, gas, gasCost, memSize, stack) per line; returnData after the STATICCALL.
EIP_CODE = "604080536040604055604060006040600060025afa6040f3"
EIP_STEPS = [
    (0, "PUSH1", 0x2540BE400, 0x3, 0, []),
    (2, "DUP1", 0x2540BE3FD, 0x3, 0, [0x40]),
    (3, "MSTORE8", 0x2540BE3FA, 0xC, 0, [0x40, 0x40]),
    (4, "PUSH1", 0x2540BE3EE, 0x3, 96, []),
    (6, "PUSH1", 0x2540BE3EB, 0x3, 96, [0x40]),
    (8, "SSTORE", 0x2540BE3E8, 0x4E20, 96, [0x40, 0x40]),
    (9, "PUSH1", 0x2540B95C8, 0x3, 96, []),
    (11, "PUSH1", 0x2540B95C5, 0x3, 96, [0x40]),
    (13, "PUSH1", 0x2540B95C2, 0x3, 96, [0x40, 0x0]),
    (15, "PUSH1", 0x2540B95BF, 0x3, 96, [0x40, 0x0, 0x40]),
    (17, "PUSH1", 0x2540B95BC, 0x3, 96, [0x40, 0x0, 0x40, 0x0]),
    (19, "GAS", 0x2540B95B9, 0x2, 96, [0x40, 0x0, 0x40, 0x0, 0x2]),
    (20, "STATICCALL", 0x2540B95B7, 0x24ABB676C, 96, [0x40, 0x0, 0x40, 0x0, 0x2, 0x2540B95B7]),
    (21, "PUSH1", 0x2540B92A7, 0x3, 96, [0x1]),
    (23, "RETURN", 0x2540B92A4, 0x0, 96, [0x1, 0x40]),
]
SHA256_OF_0x40_PADDED = "0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _check_order(record: dict[str, object]) -> None:
    keys = list(record)
    assert keys == [k for k in GETH_ORDER if k in keys], keys
    for required in ("pc", "op", "gas", "gasCost", "memSize", "stack", "depth", "refund"):
        assert required in keys


def test_eip_example_line_by_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "chainvm.cli.main", "run", "--code", EIP_CODE,
                          "--gas", str(0x2540BE400), "--fork", "Istanbul", "--trace"],
                         check=False, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = _lines(out.stderr)
    steps, summary = lines[:-1], lines[-1]
    assert len(steps) == len(EIP_STEPS)
    for line, (pc, name, gas, cost, mem, stack) in zip(steps, EIP_STEPS):
        _check_order(line)
        assert (line["pc"], line["opName"], line["gas"], line["gasCost"], line["memSize"],
                line["stack"], line["depth"], line["refund"]) == \
            (pc, name, hex(gas), hex(cost), mem, [hex(x) for x in stack], 1, 0)
        if pc >= 21:  # after the STATICCALL the frame holds sha256's output
            assert line["returnData"] == SHA256_OF_0x40_PADDED
        else:
            assert "returnData" not in line
    assert summary == {"output": "40", "gasUsed": "0x515c"}


def _push(value: int, size: int = 1) -> str:
    return f"{0x5F + size:02x}{value:0{2 * size}x}"


CALLEE = bytes(0xB0 for _ in range(20))
EMPTY = bytes(0xE0 for _ in range(20))
SENDER = bytes(0x5E for _ in range(20))
CONTRACT = bytes(0xA0 for _ in range(20))
# The callee returns the word 42.
CALLEE_CODE = "602a60005260206000f3"
# CALL the callee with all gas (a frame), CALL the identity precompile with 1000 gas, CALL
# an empty account with 1 wei and 0 gas (the stipend), then STOP.
CALLER_CODE = (
    _push(32) + _push(0) + _push(0) + _push(0) + _push(0) + _push(int.from_bytes(CALLEE), 20)
    + "5a" + "f1" + "50"
    + _push(32) + _push(32) + _push(32) + _push(0) + _push(0) + _push(4) + _push(1000, 2)
    + "f1" + "50"
    + _push(0) + _push(0) + _push(0) + _push(0) + _push(1) + _push(int.from_bytes(EMPTY), 20)
    + _push(0) + "f1" + "50"
    + "00")


def _trace_calls() -> list[dict[str, object]]:
    state = State({SENDER: Account(balance=10**18),
                   CONTRACT: Account(balance=10, code=bytes.fromhex(CALLER_CODE)),
                   CALLEE: Account(code=bytes.fromhex(CALLEE_CODE))})
    out = io.StringIO()
    tx = Transaction(sender=SENDER, to=CONTRACT, nonce=0, gas_limit=1_000_000, gas_price=1)
    result = apply_transaction(state, get_fork("Osaka"), BlockEnv(), tx, Tracer(out))
    assert result.success
    return _lines(out.getvalue())


def test_call_gas_cost_includes_forwarded_gas() -> None:
    lines = _trace_calls()
    steps = lines[:-1]
    for line in steps:
        _check_order(line)
    calls = [i for i, line in enumerate(steps) if line["opName"] == "CALL"]
    assert len(calls) == 3
    frame_call, precompile_call, value_call = (steps[i] for i in calls)

    # 1. A call that runs a frame: the callee starts with what the CALL forwarded, so
    #    gasCost = cold access (2600) + one word of memory (3) + the callee's gas.
    callee_first = steps[calls[0] + 1]
    assert callee_first["depth"] == 2 and callee_first["pc"] == 0
    forwarded = int(str(callee_first["gas"]), 16)
    assert int(str(frame_call["gasCost"]), 16) == 2600 + 3 + forwarded
    gas_before = int(str(frame_call["gas"]), 16)
    assert forwarded == (gas_before - 2603) - (gas_before - 2603) // 64
    back = steps[calls[0] + 1 + 6]  # the caller's next step after the callee's six
    assert back["depth"] == 1 and back["opName"] == "POP"
    assert back["returnData"] == "0x" + (42).to_bytes(32, "big").hex()

    # 2. The identity precompile with 1000 gas: warm (100) + one word of memory (3) + 1000;
    #    the step after gets back 1000 - 18 (identity: 15 + 3 per word).
    assert int(str(precompile_call["gasCost"]), 16) == 100 + 3 + 1000
    after = steps[calls[1] + 1]
    assert int(str(after["gas"]), 16) == int(str(precompile_call["gas"]), 16) - 1103 + 982
    assert after["returnData"] == "0x" + (42).to_bytes(32, "big").hex()

    # 3. 1 wei to an empty account with 0 gas: cold (2600) + value (9000) + new account
    #    (25000); the stipend (2300) is not part of the cost and comes back unused.
    assert int(str(value_call["gasCost"]), 16) == 2600 + 9000 + 25000
    after = steps[calls[2] + 1]
    assert int(str(after["gas"]), 16) == int(str(value_call["gas"]), 16) - 36600 + 2300
    assert "returnData" not in after  # a call to an account without code returns nothing


def test_statetest_summary_line_has_state_root_and_pass() -> None:
    sample = ROOT / "chainvm" / "data" / "statetests" / "VMTests" / "vmArithmeticTest" / "add.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "chainvm.cli.main", "statetest", "--trace",
                          str(sample)], check=False, capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    summaries = [line for line in _lines(out.stderr) if "stateRoot" in line]
    assert len(summaries) == len(results)
    for summary, result in zip(summaries, results):
        assert list(summary) == ["stateRoot", "output", "gasUsed", "pass", "fork"]
        assert summary["stateRoot"] == result["stateRoot"]
        assert summary["pass"] is True and summary["fork"] == result["fork"]
        assert str(summary["gasUsed"]).startswith("0x")
