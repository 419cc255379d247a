"""Hostile and careless input to every file-reading subcommand (issue 14).

Each case must end with exit status 2, nothing on stdout and exactly one line on
stderr: no traceback, no hang. The documents are built from a valid base, and the
base itself is checked to be accepted, so each case fails for its one defect.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chainvm.testing.fixtures import ethereum_tests

DEEP = "[" * 200_000 + "]" * 200_000
HUGE_INT = "1" * 100_000
SECRET = "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8"
SENDER = "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b"
RECEIVER = "0x1000000000000000000000000000000000000000"
# A guard against a hang (the failure the tests look for), not a speed expectation.
GUARD_SECONDS = 300


def chainvm(*args: str, stdin: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainvm.cli.main", *args], input=stdin,
                          capture_output=True, text=True, check=False, cwd=cwd,
                          timeout=GUARD_SECONDS)


def assert_one_line_exit_2(out: subprocess.CompletedProcess[str], *words: str) -> None:
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.returncode == 2, (out.returncode, out.stderr[-500:])
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainvm"), out.stderr[-500:]
    for word in words:
        assert word in lines[0], lines[0]


# -- documents every subcommand reads, with a defect of the text itself -------------------------

RAW_DEFECTS: dict[str, tuple[str, str]] = {
    "deep-nesting": (DEEP, "nested deeper"),
    "huge-integer": ('{"a": ' + HUGE_INT + "}", "100000 digits"),
    "truncated": ('{"a": [1, 2', "invalid JSON"),
    "binary": ("\udcff\udcfe\x00\x01garbage", "invalid JSON"),
    "empty": ("", "invalid JSON"),
    "top-level-array": ("[1, 2, 3]", ""),
}


def _write_raw(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


def _argv_for(command: str, path: Path) -> list[str]:
    if command == "t8n":
        return ["t8n", f"--input.alloc={path}", "--input.env=/dev/null",
                "--input.txs=/dev/null", f"--output.basedir={path.parent}"]
    if command == "difftest":
        return ["difftest", "--replay", str(path)]
    return [command, str(path)]


@pytest.mark.parametrize("defect", sorted(RAW_DEFECTS))
@pytest.mark.parametrize("command", ["statetest", "blocktest", "t8n", "difftest"])
def test_malformed_json_files(command: str, defect: str, tmp_path: Path) -> None:
    if command == "difftest":
        pytest.importorskip("ethereum", reason="difftest needs the execution specs")
    text, word = RAW_DEFECTS[defect]
    path = tmp_path / "input.json"
    _write_raw(path, text)
    assert_one_line_exit_2(chainvm(*_argv_for(command, path)), word)


@pytest.mark.parametrize("defect", ["deep-nesting", "huge-integer", "binary"])
def test_t8n_stdin(defect: str) -> None:
    text, word = RAW_DEFECTS[defect]
    out = subprocess.run([sys.executable, "-m", "chainvm.cli.main", "t8n",
                          "--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin"],
                         input=text.encode("utf-8", "surrogateescape"), capture_output=True,
                         check=False, timeout=GUARD_SECONDS)
    decoded = subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(),
                                          out.stderr.decode())
    assert_one_line_exit_2(decoded, word)


# -- state tests of a wrong shape ---------------------------------------------------------------


def state_test() -> dict[str, Any]:
    return {"t": {
        "env": {"currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
                "currentNumber": "0x01", "currentTimestamp": "0x03e8",
                "currentGasLimit": "0x01000000", "currentDifficulty": "0x020000",
                "currentBaseFee": "0x0a"},
        "pre": {SENDER: {"balance": "0x0de0b6b3a7640000", "nonce": "0x00", "code": "0x",
                         "storage": {}},
                RECEIVER: {"balance": "0x00", "nonce": "0x00", "code": "0x600160005500",
                           "storage": {"0x00": "0x02"}}},
        "transaction": {"data": ["0x"], "gasLimit": ["0x061a80"], "gasPrice": "0x0a",
                        "nonce": "0x00", "secretKey": SECRET, "to": RECEIVER,
                        "value": ["0x01"]},
        "post": {"Cancun": [{"hash": "0x" + "00" * 32, "logs": "0x" + "00" * 32,
                             "indexes": {"data": 0, "gas": 0, "value": 0}}]},
    }}


def _set(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


STATE_DEFECTS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "post-as-list": (_set("t", "post", value=[]), "post"),
    "pre-as-list": (_set("t", "pre", value=[]), "pre"),
    "storage-as-list": (_set("t", "pre", RECEIVER, "storage", value=["0x01"]), "storage"),
    "account-as-string": (_set("t", "pre", RECEIVER, value="0x00"), RECEIVER),
    "env-as-list": (_set("t", "env", value=[]), "env"),
    "fork-posts-as-object": (_set("t", "post", "Cancun", value={}), "Cancun"),
    "index-out-of-range": (_set("t", "post", "Cancun", 0, "indexes", "data", value=5), "data"),
    "data-as-string": (_set("t", "transaction", "data", value="0x"), "data"),
    "zero-secret-key": (_set("t", "transaction", "secretKey", value="0x" + "00" * 32),
                        "secretKey"),
    "short-secret-key": (_set("t", "transaction", "secretKey", value="0x01"), "secretKey"),
    "short-to-address": (_set("t", "transaction", "to", value="0x1234"), "20 bytes"),
    "huge-decimal-nonce": (_set("t", "transaction", "nonce", value=HUGE_INT), "too long"),
    "negative-balance": (_set("t", "pre", SENDER, "balance", value=-1), "negative"),
    "bad-hex-code": (_set("t", "pre", RECEIVER, "code", value="0xzz"), "hex"),
    "boolean-gas": (_set("t", "transaction", "gasLimit", 0, value=True), "number"),
    "number-over-64-bits": (_set("t", "env", "currentNumber", value=hex(2**64)),
                            "currentNumber"),
    "random-over-256-bits": (_set("t", "env", "currentRandom", value=hex(2**256)),
                             "currentRandom"),
    # a blob base fee whose series would take about 1.5e13 steps (a hang before)
    "excess-blob-gas-no-chain-reaches": (
        _set("t", "env", "currentExcessBlobGas", value=hex(2**64 - 1)), "currentExcessBlobGas"),
}


def test_state_base_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(state_test()))
    out = chainvm("statetest", str(path))
    assert out.returncode == 1 and "Traceback" not in out.stderr  # a wrong root, not bad input
    assert json.loads(out.stdout)[0]["error"].startswith("state root mismatch")


@pytest.mark.parametrize("defect", sorted(STATE_DEFECTS))
def test_statetest_wrong_shapes(defect: str, tmp_path: Path) -> None:
    mutate, word = STATE_DEFECTS[defect]
    doc = state_test()
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert_one_line_exit_2(chainvm("statetest", str(path)), word)


# -- blockchain tests of a wrong shape ----------------------------------------------------------

BLOCK_BASE = "InvalidBlocks/bc4895-withdrawals/amountIs0.json"


def block_test() -> dict[str, Any]:
    root = ethereum_tests("blockchain-2024")
    if root is None:
        pytest.skip("blockchain-2024 archive not found")
    data = json.loads((root / BLOCK_BASE).read_text())
    name = next(iter(data))
    return {"t": data[name]}


def _first_account(doc: dict[str, Any]) -> str:
    return next(iter(doc["t"]["pre"]))


BLOCK_DEFECTS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "pre-as-list": (lambda d: d["t"].update(pre=[]), "pre"),
    "storage-as-list": (lambda d: d["t"]["pre"][_first_account(d)].update(storage=["0x01"]),
                        "storage"),
    "blocks-as-object": (lambda d: d["t"].update(blocks={}), "blocks"),
    "block-as-list": (lambda d: d["t"]["blocks"].__setitem__(0, []), "blocks[0]"),
    "genesis-header-as-list": (lambda d: d["t"].update(genesisBlockHeader=[]),
                               "genesisBlockHeader"),
    "bad-genesis-hex": (lambda d: d["t"]["genesisBlockHeader"].update(hash="0xzz"), "hex"),
    "huge-decimal-balance": (lambda d: d["t"]["pre"][_first_account(d)].update(
        balance=HUGE_INT), "too long"),
    "post-state-as-list": (lambda d: d["t"].update(postState=[]), "postState"),
    # no fork name at all (an unknown name is a failing test, exit 1)
    "network-as-list": (lambda d: d["t"].update(network=[]), "network"),
    "network-as-number": (lambda d: d["t"].update(network=5), "network"),
}


def test_block_base_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(block_test()))
    out = chainvm("blocktest", str(path))
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("defect", sorted(BLOCK_DEFECTS))
def test_blocktest_wrong_shapes(defect: str, tmp_path: Path) -> None:
    mutate, word = BLOCK_DEFECTS[defect]
    doc = block_test()
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert_one_line_exit_2(chainvm("blocktest", str(path)), word)


# -- t8n documents of a wrong shape -------------------------------------------------------------


def t8n_input() -> dict[str, Any]:
    return {"alloc": {SENDER: {"balance": "0x1000000000000000"}},
            "env": {"currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
                    "currentNumber": "1", "currentTimestamp": "1000",
                    "currentGasLimit": "0x1000000", "currentDifficulty": "0x20000"},
            "txs": [{"gas": "0x5208", "gasPrice": "0x1", "nonce": "0x0", "to": RECEIVER,
                     "value": "0x1", "input": "0x", "secretKey": SECRET,
                     "v": "0x0", "r": "0x0", "s": "0x0"}]}


T8N_ARGS = ["t8n", "--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin",
            "--output.result=stdout", "--output.alloc=stdout", "--state.fork=Berlin"]

T8N_DEFECTS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "alloc-as-list": (lambda d: d.update(alloc=[]), "alloc"),
    "storage-as-list": (lambda d: d["alloc"][SENDER].update(storage=["0x01"]), "storage"),
    "env-as-list": (lambda d: d.update(env=[]), "env"),
    "txs-as-object": (lambda d: d.update(txs={}), "txs"),
    "short-alloc-address": (lambda d: d.update(alloc={"0x1234": {}}), "20 bytes"),
    "huge-decimal-balance": (lambda d: d["alloc"][SENDER].update(balance=HUGE_INT),
                             "too long"),
    "balance-over-256-bits": (lambda d: d["alloc"][SENDER].update(balance=hex(2**256)),
                              "256 bits"),
}


def test_t8n_base_is_accepted() -> None:
    out = chainvm(*T8N_ARGS, stdin=json.dumps(t8n_input()))
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["result"]["receipts"]) == 1


@pytest.mark.parametrize("defect", sorted(T8N_DEFECTS))
def test_t8n_wrong_shapes(defect: str) -> None:
    mutate, word = T8N_DEFECTS[defect]
    doc = t8n_input()
    mutate(doc)
    assert_one_line_exit_2(chainvm(*T8N_ARGS, stdin=json.dumps(doc)), word)


def test_t8n_short_to_address_is_rejected_not_padded() -> None:
    # A malformed transaction is left out of the block and reported (t8n's contract with
    # test fillers), where it used to be padded to 0x00..001234 and executed.
    doc = t8n_input()
    doc["txs"][0]["to"] = "0x1234"
    out = chainvm(*T8N_ARGS, stdin=json.dumps(doc))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [r["index"] for r in result["result"]["rejected"]] == [0]
    assert "20 bytes" in result["result"]["rejected"][0]["error"]
    assert result["result"]["receipts"] == []
    assert "0x0000000000000000000000000000000000001234" not in result["alloc"]


# -- flags -------------------------------------------------------------------------------------

ENDLESS_LOOP = "5b600056"  # JUMPDEST PUSH1 0 JUMP


@pytest.mark.parametrize(("args", "word"), [
    (["--gas", str(2**64)], "--gas"),
    (["--gas", str(2**256)], "--gas"),
    (["--gas", hex(2**300)], "--gas"),
    (["--gas", "-1"], "--gas"),
    (["--gas", HUGE_INT], "--gas"),
    (["--value", str(2**256)], "--value"),
    (["--value", hex(2**256 + 1)], "--value"),
    (["--value", "1e18"], "--value"),
    (["--timeout", "nan"], "--timeout"),
    (["--timeout", "-1"], "--timeout"),
    (["--input", "0xabc"], "--input"),
])
def test_run_flags(args: list[str], word: str) -> None:
    assert_one_line_exit_2(chainvm("run", "--code", ENDLESS_LOOP, *args), word)


@pytest.mark.parametrize("flag", ["--code", "--input"])
@pytest.mark.parametrize("text", ["60 01", "0x60 01", "0x6001 ", " 6001", "6001\n",
                                  "60\t01", "60_01", "0x 6001"])
def test_run_hex_with_blanks_is_refused(flag: str, text: str) -> None:
    """bytes.fromhex skips whitespace between and around bytes: "60 01" ran as 0x6001."""
    assert_one_line_exit_2(chainvm("run", "--code", "00", flag, text), flag, "bad hex data")


def test_run_largest_values_are_accepted() -> None:
    out = chainvm("run", "--code", "00", "--gas", str(2**64 - 1), "--value", str(2**256 - 1))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["gasUsed"] == "0x0"


def test_run_endless_loop_stops_at_the_time_limit() -> None:
    out = chainvm("run", "--code", ENDLESS_LOOP, "--gas", str(2**64 - 1), "--timeout", "1")
    assert_one_line_exit_2(out, "time limit", "--timeout")


@pytest.mark.parametrize("args", [
    ["--fork", "Nope"],
    ["--fork", "Cancun", "--count", "-1"],
    ["--fork", "Cancun", "--workers", "0"],
    ["--fork", "Cancun", "--shrink-seconds", "nan"],  # a budget no clock passes
    ["--count", "1"],
    ["--fork", "Cancun", "--bogus"],
    ["--fork", ",,,"],  # no fork at all: ran 0 programs and exited 0
    ["--fork", " "],
])
def test_difftest_flags(args: list[str]) -> None:
    pytest.importorskip("ethereum", reason="difftest needs the execution specs")
    assert_one_line_exit_2(chainvm("difftest", *args))


@pytest.mark.parametrize(("record", "word"), [
    ({"case": []}, "case"),
    ({"case": {"fork": "Nope"}}, "fork"),
    ({"case": {"fork": "Cancun"}}, "reproducer"),
])
def test_difftest_replay_of_a_non_reproducer(record: dict[str, Any], word: str,
                                             tmp_path: Path) -> None:
    pytest.importorskip("ethereum", reason="difftest needs the execution specs")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(copy.deepcopy(record)))
    assert_one_line_exit_2(chainvm("difftest", "--replay", str(path)), word)


def reproducer() -> dict[str, Any]:
    import random

    from chainvm.testing.program_gen import generate_case

    return {"case": generate_case("Prague", random.Random("bad input"))}


def _set_case(part: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(record: dict[str, Any]) -> None:
        case = record["case"]
        if part == "pre":
            case["pre"][next(iter(case["pre"]))][key] = value
        elif part == "storage":  # key: the slot
            case["pre"][next(iter(case["pre"]))]["storage"] = {key: value}
        else:
            case[part][key] = value
    return mutate


def _set_tx(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(record: dict[str, Any]) -> None:
        record["case"]["tx"].update(fields)
    return mutate


# Each would overflow the specs' U64/U256 (a traceback) or be read as another number.
REPLAY_DEFECTS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    **{f"negative-env-{key}": (_set_case("env", key, -1), "negative")
       for key in ("number", "timestamp", "gas_limit", "base_fee", "excess_blob_gas")},
    "env-number-over-64-bits": (_set_case("env", "number", 2**64), "64 bits"),
    "balance-over-256-bits": (_set_case("pre", "balance", 2**300), "balance"),
    "storage-value-over-256-bits": (_set_case("storage", "0", 2**300), "256 bits"),
    "storage-key-over-256-bits": (_set_case("storage", str(2**300), 1), "storage key"),
    "full-width-digit-gas-limit": (_set_case("env", "gas_limit", "\uff11"), "gas_limit"),
    "boolean-tx-value": (_set_case("tx", "value", True), "value"),
    "negative-tx-nonce": (_set_case("tx", "nonce", -1), "nonce"),
    # A fee field the transaction's type needs, null: the oracle met it as int(None).
    "null-priority-fee-of-type-2": (_set_tx(type=2, max_fee_per_gas=10**12,
                                            max_priority_fee_per_gas=None),
                                    "max_priority_fee_per_gas: required for a type 2"),
    "null-gas-price-of-type-0": (_set_tx(type=0, gas_price=None), "gas_price: required"),
    "tx-type-5": (_set_tx(type=5), "tx.type"),
    "type-4-nonce-over-64-bits": (_set_tx(type=4, nonce=2**64, max_fee_per_gas=1,
                                          max_priority_fee_per_gas=1), "64 bits"),
    "authorization-nonce-over-64-bits": (_set_tx(authorization_list=[{
        "chain_id": 1, "address": "00" * 20, "nonce": 2**64, "y_parity": 0, "r": 1, "s": 1}]),
        "nonce"),
    "authorization-y-parity-over-8-bits": (_set_tx(authorization_list=[{
        "chain_id": 1, "address": "00" * 20, "nonce": 0, "y_parity": 256, "r": 1, "s": 1}]),
        "y_parity"),
}


def test_replay_base_is_accepted(tmp_path: Path) -> None:
    pytest.importorskip("ethereum", reason="difftest needs the execution specs")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(reproducer()))
    out = chainvm("difftest", "--replay", str(path))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[str(path)]["status"] == "ok"


@pytest.mark.parametrize("defect", sorted(REPLAY_DEFECTS))
def test_difftest_replay_numbers_out_of_range(defect: str, tmp_path: Path) -> None:
    pytest.importorskip("ethereum", reason="difftest needs the execution specs")
    mutate, word = REPLAY_DEFECTS[defect]
    record = reproducer()
    mutate(record)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    assert_one_line_exit_2(chainvm("difftest", "--replay", str(path)), word)


@pytest.mark.parametrize("args", [["--fork", "Osaka", "--count", "1", "--seed", "1"],
                                  ["--fork", "Osaka", "--count", "1", "--workers", "2"],
                                  ["--replay", "missing.json"]])
def test_difftest_without_the_execution_specs(args: list[str], tmp_path: Path) -> None:
    """A plain install has no execution specs: difftest says how to get them, on one line
    and before running anything, instead of every case (and worker) raising ImportError."""
    blocked = ("import sys; sys.modules['ethereum'] = None; "
               "from chainvm.cli.main import main; sys.exit(main(sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", blocked, "difftest", *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    assert len(out.stderr.splitlines()) == 1 and "chainvm[difftest]" in out.stderr


@pytest.mark.parametrize("command", ["statetest", "blocktest", "fvm"])
def test_paths_that_are_neither_file_nor_folder(command: str, tmp_path: Path) -> None:
    """A pipe or a device is named for what it is (not "no such file"), and never read."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    prefix = ["fvm", "vector"] if command == "fvm" else [command]
    for path in (str(fifo), "/dev/null"):
        assert_one_line_exit_2(chainvm(*prefix, path), "not a regular file or folder", path)


def test_flags_refused_before_the_sample_notice(tmp_path: Path) -> None:
    """With no PATH, statetest says it runs the bundled sample; flags it cannot run with
    are refused before that, so the error is the only line."""
    assert_one_line_exit_2(chainvm("statetest", "--workers", "100000"), "--workers 100000")
    assert_one_line_exit_2(chainvm("statetest", "--jsonl", str(tmp_path)), "--jsonl")
    assert_one_line_exit_2(chainvm("statetest", "--jsonl", str(tmp_path / "no" / "r.jsonl")),
                           "--jsonl")
    assert not (tmp_path / "no").exists()
