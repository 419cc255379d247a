"""`chainvm blocktest` (chainvm/chain/cli.py) and the fixture runner's verdicts."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from chainvm.chain.blocktest import run_test
from chainvm.chain.cli import main, run
from chainvm.cli.common import UsageError
from chainvm.testing.fixtures import ethereum_tests

ROOT = ethereum_tests("blockchain-2024")
pytestmark = pytest.mark.skipif(ROOT is None, reason="blockchain-2024 archive not found")


def _fixture(rel: str) -> Path:
    assert ROOT is not None
    return ROOT / rel


DAO = "TransitionTests/bcHomesteadToDao/DaoTransactions.json"
WRONG_ROOT = "InvalidBlocks/bcInvalidHeaderTest/wrongStateRoot.json"


def test_json_results_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--run", "DaoTransactions_HomesteadToDaoAt5$", str(_fixture(DAO))]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results == [{"name": "DaoTransactions_HomesteadToDaoAt5",
                        "network": "HomesteadToDaoAt5", "pass": True, "error": None}]


def test_workers(capsys: pytest.CaptureFixture[str]) -> None:
    folder = _fixture("InvalidBlocks/bcInvalidHeaderTest")
    assert main(["--workers", "2", str(folder)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) >= 5 and all(r["pass"] for r in results)


@pytest.mark.parametrize("argv", [["--workers", "0", "x"], ["--run", "(", "x"], ["/no/such/path"],
                                  ["--bogus"], []])
def test_bad_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    if argv and argv[-1] == "x":
        argv[-1] = str(_fixture(DAO))
    with pytest.raises(UsageError):
        main(argv)
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainvm: ") and err.count("\n") == 1


def test_not_a_blockchain_test(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"t": {"env": {}, "pre": {}}}))
    assert run([str(path)]) == 2


def _one(rel: str) -> tuple[str, dict]:
    data = json.loads(_fixture(rel).read_text())
    name = next(iter(data))
    return name, data[name]


def test_runner_fails_on_tampered_expectations() -> None:
    name, test = _one(DAO)
    assert run_test(name, test).passed
    bad = copy.deepcopy(test)
    bad["lastblockhash"] = "0x" + "00" * 32
    assert "lastblockhash" in (run_test(name, bad).error or "")
    bad = copy.deepcopy(test)
    bad["postStateHash"] = "0x" + "11" * 32
    assert "post state root" in (run_test(name, bad).error or "")
    bad = copy.deepcopy(test)
    bad["blocks"][0]["expectException"] = "SomethingWrong"
    assert "expected SomethingWrong" in (run_test(name, bad).error or "")
    name, test = _one(WRONG_ROOT)
    assert run_test(name, test).passed
    bad = copy.deepcopy(test)
    address, some = next(iter(bad["postState"].items()))
    balance = int(some["balance"], 16)
    some["balance"] = hex(balance + 1)
    assert run_test(name, bad).error == (f"post state: account {address.lower()}: balance "
                                         f"{balance}, want {balance + 1}")
    bad = copy.deepcopy(test)
    for block in bad["blocks"]:  # now claim every block is valid
        block.pop("expectException", None)
        block.setdefault("blockHeader", {})
    assert "state root mismatch" in (run_test(name, bad).error or "")


def test_datadir_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("lmdb")
    datadir = tmp_path / "data"
    folder = _fixture("TransitionTests/bcHomesteadToDao")
    assert main(["--datadir", str(datadir), str(folder)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results and all(r["pass"] for r in results)
    assert any(datadir.iterdir())
    with pytest.raises(UsageError, match="empty"):  # never mixes with an existing store
        main(["--datadir", str(datadir), str(folder)])


def test_post_state_difference_names_what_differs() -> None:
    from chainvm.chain.blocktest import post_state_difference
    from chainvm.state.state import Account, State

    a, b = bytes([0xAA] * 20), bytes([0xBB] * 20)

    def world(nonce: int = 1, balance: int = 10, code: bytes = b"\x00",
              storage: dict[int, int] | None = None) -> State:
        slots = {1: 5} if storage is None else storage
        return State({a: Account(nonce, balance, code, slots), b: Account(balance=3)})

    want = world()
    assert post_state_difference(world(), want) is None
    assert post_state_difference(world(storage={1: 5, 2: 0}), want) is None  # zero = absent
    where = "post state: account 0x" + a.hex()
    assert post_state_difference(world(nonce=2), want) == f"{where}: nonce 2, want 1"
    assert post_state_difference(world(balance=9), want) == f"{where}: balance 9, want 10"
    assert post_state_difference(world(code=b"\x01\x02"), want) == (
        f"{where}: code of 2 bytes differs from the expected 1")
    assert post_state_difference(world(storage={1: 5, 3: 7}), want) == (
        f"{where}: storage slot 0x3 is 0x7, want 0x0")
    assert post_state_difference(world(storage={}), want) == (
        f"{where}: storage slot 0x1 is 0x0, want 0x5")
    fewer = world()
    del fewer.accounts[b]
    assert post_state_difference(fewer, want) == f"post state: account 0x{b.hex()} missing"
    more = world()
    more.accounts[bytes(20)] = Account()
    assert post_state_difference(more, want) == (
        f"post state: account 0x{bytes(20).hex()} is not expected (1 in all)")
