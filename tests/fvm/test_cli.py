"""The ``chainvm fvm vector`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainvm.fvm.cli import main
from chainvm.fvm.vector import corpus_dir

VECTOR = "transfer/basic--ok--genesis.json"


def _need_corpus() -> Path:
    corpus = corpus_dir()
    if not (corpus / VECTOR).is_file():
        pytest.skip(f"Filecoin test vectors not found at {corpus}")
    return corpus


def test_vector_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _need_corpus()
    rc = main(["vector", str(corpus / VECTOR)])
    out, err = capsys.readouterr()
    assert rc == 0
    results = json.loads(out)
    assert {r["variant"] for r in results} == {"genesis", "breeze", "smoke", "ignition"}
    assert all(r["pass"] and r["error"] == "" for r in results)
    assert set(results[0]) == {"file", "variant", "pass", "error"}
    assert "passed" in err


def test_vector_run_filter_and_workers(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _need_corpus()
    rc = main(["vector", "--run", "basic--ok", "--workers", "2", str(corpus / "transfer")])
    out, _ = capsys.readouterr()
    assert rc == 0
    files = {Path(r["file"]).name for r in json.loads(out)}
    assert files and all("basic--ok" in f for f in files)


def test_vector_failure_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _need_corpus()
    vec = json.loads((corpus / VECTOR).read_text())
    vec["postconditions"]["receipts"][0]["gas_used"] += 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(vec))
    rc = main(["vector", str(bad)])
    out, err = capsys.readouterr()
    assert rc == 1
    first = json.loads(out)[0]
    assert not first["pass"]
    assert "receipt 0 gas_used" in first["error"]
    assert "FAIL" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["vector"],
        ["vector", "--workers", "0", "x"],
        ["vector", "--run", "(", "x"],
        ["vector", "--bogus", "x"],
        ["vector", "/no/such/path"],
        ["nonsense"],
    ],
)
def test_bad_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
