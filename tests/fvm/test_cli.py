"""The ``chainvm fvm vector`` command."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from pathlib import Path

import pytest

from chainvm.fvm.cli import main
from chainvm.fvm.codec import CID, dumps, loads
from chainvm.fvm.store import MAX_CAR_BYTES, MemoryBlockstore, read_car, write_car
from chainvm.fvm.vector import MAX_EPOCH_GAP, corpus_dir

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


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2, 3]", "expected a JSON object"),
        (b'"a string"', "expected a JSON object"),
        (b"\xff\xfe\x00\x01", "invalid JSON"),
        (b'{"class": ' + b"7" * 101 + b"}", "integer literal of 101 digits"),
        (b"[" * 200_000 + b"]" * 200_000, "nested deeper than 256"),
        (b'{"class": "message"}', "'car'"),
        (b'{"class": "message", "car": "", "preconditions": [], "postconditions": {}}',
         "preconditions"),
    ],
)
def test_malformed_vector_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, why: str
) -> None:
    bad = tmp_path / "v.json"
    bad.write_bytes(content)
    line = _one_line_exit_2(["vector", str(bad)], capsys)
    assert why in line and str(bad) in line


def test_malformed_vector_file_with_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text("[]")
    assert "expected a JSON object" in _one_line_exit_2(
        ["vector", "--workers", "2", str(tmp_path)], capsys
    )


TIPSET_VECTOR = "msg_application/duplicates--messages-deduplicated--liftoff.json"


def _set_in(*path: object, value: object) -> object:
    def mutate(doc: dict) -> None:  # type: ignore[type-arg]
        target = doc
        for key in path[:-1]:
            target = target[key]  # type: ignore[index]
        target[path[-1]] = value  # type: ignore[index]
    return mutate


def _two_tipsets_at_one_epoch(doc: dict) -> None:  # type: ignore[type-arg]
    doc["apply_tipsets"].append(dict(doc["apply_tipsets"][0]))


def _recode(raw: str, index: int, value: object) -> str:
    fields = loads(base64.b64decode(raw))
    fields[index] = value
    return base64.b64encode(dumps(fields)).decode()


def _message_field(msg: int, index: int, value: object) -> object:
    def mutate(doc: dict) -> None:  # type: ignore[type-arg]
        entry = doc["apply_messages"][msg]
        entry["bytes"] = _recode(entry["bytes"], index, value)
    return mutate


def _block_message_field(index: int, value: object) -> object:
    def mutate(doc: dict) -> None:  # type: ignore[type-arg]
        msgs = doc["apply_tipsets"][0]["blocks"][0]["messages"]
        msgs[0] = _recode(msgs[0], index, value)
    return mutate


def _no_variants_epoch(epoch: object) -> object:
    def mutate(doc: dict) -> None:  # type: ignore[type-arg]
        del doc["preconditions"]["variants"]
        doc["preconditions"]["epoch"] = epoch
    return mutate


def _trailing_byte_after_message(doc: dict) -> None:  # type: ignore[type-arg]
    entry = doc["apply_messages"][0]
    entry["bytes"] = base64.b64encode(base64.b64decode(entry["bytes"]) + b"\x00").decode()


# Fields the runner reads inside each entry: each defect used to end as a variant's
# "internal error: TypeError" or a bare KeyError (exit 1) instead of a malformed file.
ENTRY_DEFECTS = [
    (VECTOR, _set_in("apply_messages", 0, "epoch_offset", value="1"), "epoch_offset"),
    (VECTOR, _set_in("apply_messages", 0, "bytes", value=None), "apply_messages[0].bytes"),
    (VECTOR, _set_in("apply_messages", 0, "bytes", value="abc"), "apply_messages[0].bytes"),
    (VECTOR, _set_in("preconditions", "basefee", value="A" * 50), "preconditions.basefee"),
    (VECTOR, _set_in("postconditions", "receipts", 0, "exit_code", value=None), "receipts[0]"),
    (VECTOR, _set_in("postconditions", "receipts", 0, "return", value=[1]), "receipts[0].return"),
    (VECTOR, _set_in("randomness", value=[{"on": "x", "ret": ""}]), "randomness[0]"),
    (TIPSET_VECTOR, _set_in("apply_tipsets", 0, "basefee", value=[]), "apply_tipsets[0].basefee"),
    (TIPSET_VECTOR, _set_in("apply_tipsets", 0, "blocks", 0, "miner_addr", value=None),
     "miner_addr"),
    (TIPSET_VECTOR, _set_in("apply_tipsets", 0, "blocks", 0, "messages", value=[3]), "messages"),
    (TIPSET_VECTOR, _set_in("postconditions", "receipts_roots", value={"/": "x"}),
     "receipts_roots"),
    # an empty CID body used to end in a traceback (IndexError) and exit status 1
    (VECTOR, _set_in("preconditions", "state_tree", "root_cid", "/", value="b"),
     "preconditions.state_tree.root_cid"),
    (VECTOR, _set_in("postconditions", "state_tree", "root_cid", "/", value="bae"),
     "postconditions.state_tree.root_cid"),
    # cron runs once per skipped epoch: a gap of 10**7 ran for hours; the corpus skips 11
    (TIPSET_VECTOR, _set_in("apply_tipsets", 0, "epoch_offset", value=MAX_EPOCH_GAP + 1),
     "at most 2880"),
    (TIPSET_VECTOR, _set_in("apply_tipsets", 0, "epoch_offset", value=2**62), "at most 2880"),
    (TIPSET_VECTOR, _set_in("apply_tipsets", 0, "epoch_offset", value=-1),
     "apply_tipsets[0].epoch_offset must be at least 0"),
    (TIPSET_VECTOR, _two_tipsets_at_one_epoch, "apply_tipsets[1].epoch_offset must be at least"),
    # wrong-typed message fields used to end as "internal error: TypeError/OverflowError"
    # (exit 1), or to be accepted; epoch and win_count likewise
    (VECTOR, _message_field(0, 3, b"\x01"), "[0].bytes is not a message: malformed message: nonce"),
    (VECTOR, _message_field(0, 2, 5), "apply_messages[0].bytes is not a message"),
    (VECTOR, _message_field(0, 0, None), "version"),
    (VECTOR, _message_field(0, 9, []), "params"),
    (TIPSET_VECTOR, _block_message_field(5, 1 << 63), "blocks[0].messages[0] is not a message"),
    (VECTOR, _no_variants_epoch("100"), "preconditions.epoch"),
    (TIPSET_VECTOR, _set_in("apply_tipsets", 0, "blocks", 0, "win_count", value=10**30),
     "win_count"),
    (VECTOR, _set_in("preconditions", "variants", 0, "epoch", value=True), "variants"),
    # a message with a byte after it used to be applied as if the byte were not there
    (VECTOR, _trailing_byte_after_message, "trailing bytes"),
]


@pytest.mark.parametrize(("vector", "mutate", "why"), ENTRY_DEFECTS)
def test_malformed_entries_are_the_files_fault(
    vector: str, mutate: object, why: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _need_corpus()
    vec = json.loads((corpus / vector).read_text())
    mutate(vec)  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(vec))
    assert why in _one_line_exit_2(["vector", str(bad)], capsys)


def test_unreadable_car_is_malformed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _need_corpus()
    vec = json.loads((corpus / VECTOR).read_text())
    vec["car"] = "AAAA"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(vec))
    assert "CAR" in _one_line_exit_2(["vector", str(bad)], capsys)


def _car_of(vec: dict) -> bytes:  # type: ignore[type-arg]
    return gzip.decompress(base64.b64decode(vec["car"]))


def _gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    body = b"".join(packer.compress(chunk) for _ in range(size >> 20))
    return body + packer.flush()


def _flip_last_block_byte(car: bytes) -> bytes:
    return car[:-1] + bytes([car[-1] ^ 1])


# Each CAR used to be read without complaint (a cut or altered block), to end as
# "internal error: BadGzipFile/EOFError" (exit 1), or to unpack to gigabytes.
CAR_DEFECTS = [
    (lambda car: gzip.compress(car)[:-9], "gzip data ends"),
    (lambda car: b"\x1f\x8b" + b"\x00" * 30, "bad gzip data"),
    (lambda car: gzip.compress(car) + b"junk", "bytes after the end of the gzip data"),
    (lambda car: gzip.compress(car[:-5]), "runs past the end"),
    (lambda car: gzip.compress(_flip_last_block_byte(car)), "do not hash to its CID"),
    (lambda car: _gzip_bomb(MAX_CAR_BYTES + (1 << 20)), "unpacks to more than 128 MiB"),
]


@pytest.mark.parametrize(("mutate", "why"), CAR_DEFECTS)
def test_defective_car_is_malformed(
    mutate: object, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _need_corpus()
    vec = json.loads((corpus / VECTOR).read_text())
    vec["car"] = base64.b64encode(mutate(_car_of(vec))).decode()  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(vec))
    line = _one_line_exit_2(["vector", str(bad)], capsys)
    assert "not a readable CAR" in line and why in line


# A CAR whose blocks all hash to their CIDs, with a pre-state root (added as a new block)
# that does not load as a state tree. These ended as "internal error: AttributeError"
# (a link that was an int) or as a HamtError failing every variant, exit 1.
BAD_STATE_ROOTS = [
    (7, "malformed HAMT node"),
    ({"a": 1}, "malformed HAMT node"),
    ([1, 2, 3], "a link was expected, found int"),
    ([b"\x01", [{"0": 5}]], "its link is not a CID"),
    ([b"\x01", [{"1": [[b"k"]]}]], "malformed HAMT bucket"),
    ([b"", "pointers"], "malformed HAMT node"),
]


@pytest.mark.parametrize(("root_obj", "why"), BAD_STATE_ROOTS)
def test_state_root_of_the_wrong_shape_is_malformed(
    root_obj: object, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _need_corpus()
    vec = json.loads((corpus / VECTOR).read_text())
    blocks = MemoryBlockstore()
    read_car(_car_of(vec), blocks)
    root = blocks.put_obj(root_obj)
    car = write_car([root], blocks.blocks.items())
    vec["car"] = base64.b64encode(gzip.compress(car)).decode()
    vec["preconditions"]["state_tree"]["root_cid"]["/"] = str(root)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(vec))
    line = _one_line_exit_2(["vector", str(bad)], capsys)
    assert "does not load as a state tree" in line and why in line


def test_state_root_missing_from_the_car_is_malformed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _need_corpus()
    vec = json.loads((corpus / VECTOR).read_text())
    absent = CID.for_cbor(dumps(["not", "in", "the", "car"]))
    vec["preconditions"]["state_tree"]["root_cid"]["/"] = str(absent)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(vec))
    assert "is not in the CAR" in _one_line_exit_2(["vector", str(bad)], capsys)


def test_binary_list_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"\x80\x81\xfe\xff transfer\n")
    assert "UTF-8" in _one_line_exit_2(["vector", str(listing)], capsys)


def test_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no vector files" in _one_line_exit_2(["vector", str(tmp_path)], capsys)


def test_run_filter_matching_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _need_corpus()
    line = _one_line_exit_2(["vector", "--run", "^$", str(corpus / "transfer")], capsys)
    assert "--run" in line


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"], ["vector", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "chainvm fvm" in out and "vector" in out and "--workers" in out
    assert "CHAINVM_FIXTURES" in out


def test_help_through_main_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from chainvm.cli.main import main as chainvm_main

    assert chainvm_main(["fvm", "--help"]) == 0
    assert "--run REGEX" in capsys.readouterr().out


def test_installed_package_finds_corpus_through_chainvm_fixtures(tmp_path: Path) -> None:
    """As after a non-editable install: the package sits alone in a site
    folder (no checkout around it), the working directory is elsewhere, and
    CHAINVM_FIXTURES / CHAINVM_FIXTURE_CACHE say where the corpus is."""
    import os
    import shutil
    import subprocess
    import sys
    import tarfile

    import chainvm

    corpus = _need_corpus()
    fixtures = tmp_path / "fixtures" / "filecoin-test-vectors"
    fixtures.mkdir(parents=True)
    with tarfile.open(fixtures / "corpus.tar.xz", "w:xz") as tar:
        tar.add(corpus / VECTOR, arcname=f"corpus/{VECTOR}")
    site = tmp_path / "site"
    shutil.copytree(
        Path(chainvm.__file__).parent,
        site / "chainvm",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # A native build's compiled modules share one library installed beside the package.
    for shared in Path(chainvm.__file__).parents[1].glob("*__mypyc*"):
        shutil.copy(shared, site / shared.name)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVM_")}
    env.update(
        PYTHONPATH=str(site),
        CHAINVM_FIXTURES=str(tmp_path / "fixtures"),
        CHAINVM_FIXTURE_CACHE=str(tmp_path / "cache"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "chainvm.cli.main", "fvm", "vector", VECTOR],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert all(r["pass"] for r in json.loads(proc.stdout))
    assert (tmp_path / "cache" / "filecoin-test-vectors" / "corpus" / VECTOR).is_file()
    # the older variable still wins when set
    env["CHAINVM_FVM_FIXTURES"] = str(tmp_path / "nowhere")
    proc = subprocess.run(
        [sys.executable, "-m", "chainvm.cli.main", "fvm", "vector", VECTOR],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2 and "no such file" in proc.stderr


# -- campaign flags (--jsonl, --resume, --case-timeout, --summary, --ray) --------------------------


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_has_a_line_per_variant_and_resume_skips_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = _need_corpus()
    vector = str(corpus / VECTOR)
    jsonl = tmp_path / "r.jsonl"
    assert main(["vector", "--jsonl", str(jsonl), vector]) == 0
    expected = json.loads(capsys.readouterr().out)
    lines = _jsonl(jsonl)
    assert [line.pop("key") for line in lines] == [f"{vector}::{r['variant']}" for r in expected]
    assert lines == expected

    # Keep two variants: a resumed run runs the other two only, and prints all four.
    jsonl.write_text("".join(ln + "\n" for ln in jsonl.read_text().splitlines()[:2]))
    import chainvm.fvm.vector as vector_module

    ran: list[str] = []
    real = vector_module.run_prepared_variant

    def counting(prepared: object, name: str, variant: dict[str, object],
                 store: object = None) -> object:
        ran.append(str(variant["id"]))
        return real(prepared, name, variant, store)  # type: ignore[arg-type]

    monkeypatch.setattr(vector_module, "run_prepared_variant", counting)
    assert main(["vector", "--jsonl", str(jsonl), "--resume", str(jsonl), vector]) == 0
    assert json.loads(capsys.readouterr().out) == expected
    assert ran == [r["variant"] for r in expected[2:]]
    assert len(_jsonl(jsonl)) == 4


def test_case_timeout_records_a_timeout_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variant that never ends (here: the VM stuck in a loop on `breeze`) is recorded
    as a timeout; the other variants of the file still run."""
    corpus = _need_corpus()
    import chainvm.fvm.vector as vector_module

    real = vector_module.run_prepared_variant

    def stuck_on_breeze(prepared: object, name: str, variant: dict[str, object],
                        store: object = None) -> object:
        while variant["id"] == "breeze":
            pass
        return real(prepared, name, variant, store)  # type: ignore[arg-type]

    monkeypatch.setattr(vector_module, "run_prepared_variant", stuck_on_breeze)
    jsonl = tmp_path / "r.jsonl"
    rc = main(["vector", "--case-timeout", "0.5", "--jsonl", str(jsonl), str(corpus / VECTOR)])
    out, err = capsys.readouterr()
    assert rc == 1
    results = {r["variant"]: r for r in json.loads(out)}
    assert results["breeze"] == {"file": str(corpus / VECTOR), "variant": "breeze",
                                 "pass": False, "timeout": True,
                                 "error": "timeout: no result within 0.5 s"}
    assert all(r["pass"] for v, r in results.items() if v != "breeze") and len(results) == 4
    assert "1 variant(s) timed out" in err
    recorded = {r["variant"]: r for r in _jsonl(jsonl)}
    assert recorded["breeze"]["timeout"] is True


def test_summary_of_a_results_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text(
        '{"key":"a/x.json::v1","file":"a/x.json","variant":"v1","pass":true,"error":""}\n'
        '{"key":"a/x.json::v2","file":"a/x.json","variant":"v2","pass":false,"error":"e"}\n'
        '{"key":"b/y.json::v1","file":"b/y.json","variant":"v1","pass":false,"error":"t",'
        '"timeout":true}\n'
        '{"key":"b/z.json::v1","file":"b/z.json","variant":"v1","pass":tr')  # cut by a kill
    assert main(["vector", "--summary", str(jsonl)]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == {"cases": 3, "passed": 1, "failed": 2, "timeouts": 1}
    rows = {line.split()[0]: line.split()[1:] for line in err.splitlines()[1:]}
    assert rows["a"] == ["0/1", "1", "1", "2"]
    assert rows["b"] == ["0/1", "0", "1", "1"]
    assert rows["all"] == ["0/2", "1", "2", "3"]
    assert "1 variant(s) timed out" in err


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        # valid JSON of the wrong shape used to count as 0 cases, all passed (exit 0)
        ('{"file":5,"variant":null,"pass":"x"}\n', "not a result record"),
        ('{"key":"a::v","file":5,"variant":"v","pass":true,"error":""}\n', "'file'"),
        ('{"key":"a::v","file":"a","variant":"v","pass":"yes","error":""}\n', "'pass'"),
        ('[1, 2]\n', "not a result record"),
    ],
)
def test_summary_of_records_that_are_not_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, why: str
) -> None:
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text(lines)
    line = _one_line_exit_2(["vector", "--summary", str(jsonl)], capsys)
    assert "--summary" in line and why in line


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--jsonl", "/no/such/dir/r.jsonl"], "--jsonl"),
        (["--jsonl", "DIR"], "--jsonl"),
        (["--resume", "DIR"], "--resume"),
        (["--resume", "BAD"], "--resume"),
        (["--case-timeout", "soon"], "--case-timeout"),
        (["--case-timeout", "-1"], "--case-timeout"),
        (["--summary", "/no/such/results.jsonl"], "--summary"),
        (["--summary", "BAD"], "line 1"),
        (["--ray-chunk", "0"], "--ray-chunk"),
        (["--ray", "not-an-address"], "--ray"),
        (["--jsonl"], "--jsonl"),
    ],
)
def test_bad_campaign_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], why: str
) -> None:
    corpus = _need_corpus()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('not json\n{"key": "x", "pass": true}\n')
    names = {"DIR": str(tmp_path), "BAD": str(bad)}
    argv = ["vector", *[names.get(f, f) for f in flags]]
    if flags != ["--jsonl"]:
        argv.append(str(corpus / VECTOR))
    line = _one_line_exit_2(argv, capsys)
    assert why in line
