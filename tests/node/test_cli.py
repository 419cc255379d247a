"""`chainvm node` as a process, and a chain that persists in --datadir."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainvm.node.cli import main
from chainvm.node.devchain import CallArgs, DevChain
from tests.node.helpers import Client

ROOT = Path(__file__).resolve().parents[2]


def start_node(*args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "chainvm.node.cli", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.match(r"Listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1) + "/", lines
    proc.kill()
    raise AssertionError("node did not start: " + "".join(lines))


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def test_cli_banner_and_persistence(tmp_path: Path) -> None:
    pytest.importorskip("lmdb")
    datadir = str(tmp_path / "chain")
    proc, url, lines = start_node("--datadir", datadir, "--accounts", "3", "--chain-id", "1337",
                                  "--balance", "100", "--no-history-contract")
    try:
        banner = "".join(lines)
        assert "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 (100 ETH) key 0xac0974be" in banner
        assert "Mnemonic: test test test" in banner
        rpc = Client(url)
        assert rpc("eth_chainId") == "0x539"
        # No EIP-2935 contract with --no-history-contract (the default has it: test_anvil_flags).
        assert rpc("eth_getCode", "0x0000f90827f1c53a10cb7a02335b175320002935", "latest") == "0x"
        a = rpc("eth_accounts")
        h = rpc("eth_sendTransaction", {"from": a[0], "to": a[1], "value": "0x10"})
        head = rpc("eth_getBlockByNumber", "latest", False)
    finally:
        stop(proc)
    proc, url, lines = start_node("--datadir", datadir)
    try:
        assert "(reopened)" in "".join(lines)
        rpc = Client(url)
        assert rpc("eth_getBlockByNumber", "latest", False) == head
        assert rpc("eth_getTransactionReceipt", h)["status"] == "0x1"
        assert rpc("eth_getBalance", a[1], "latest") == hex(100 * 10**18 + 16)
        rpc("eth_sendTransaction", {"from": a[0], "to": a[1], "value": "0x1"})
        assert rpc("eth_blockNumber") == "0x2"
    finally:
        stop(proc)


def test_interval_mining() -> None:
    proc, url, _ = start_node("--block-time", "0.3", "--accounts", "2")
    try:
        rpc = Client(url)
        a = rpc("eth_accounts")
        h = rpc("eth_sendTransaction", {"from": a[0], "to": a[1], "value": "0x1"})
        deadline = time.monotonic() + 10
        while rpc("eth_getTransactionReceipt", h) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rpc("eth_getTransactionReceipt", h)["status"] == "0x1"
    finally:
        stop(proc)


def test_bad_usage() -> None:
    assert main(["--no-such-flag"]) == 2
    assert main(["--fork", "NoSuchFork", "--port", "0"]) == 2
    assert main(["--block-time", "-1"]) == 2


@pytest.mark.parametrize("args, named", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--port", "abc"], "argument -p/--port: invalid int value: 'abc'"),
    (["--port"], "argument -p/--port: expected one argument"),
])
def test_flags_argparse_refuses_are_one_line(
        args: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse printed its whole usage block (about 12 lines); the other commands say
    what is wrong on one line."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"chainvm node: {named}\n"


@pytest.mark.parametrize("args, named", [
    (["--port", "-5"], "--port"), (["--port", "65536"], "--port"),
    (["--chain-id", "-1"], "--chain-id"), (["--chain-id", "0"], "--chain-id"),
    (["--chain-id", str(1 << 64)], "--chain-id"),
    (["--balance", "inf"], "--balance"), (["--balance", "nan"], "--balance"),
    (["--balance", "1e300"], "--balance"), (["--balance", "1.2e59"], "--balance"),
    (["--block-time", "nan"], "--block-time"), (["--block-time", "inf"], "--block-time"),
    (["--block-time", "1e-300"], "--block-time"), (["--block-time", "0.0009"], "--block-time"),
    (["--accounts", "-1"], "--accounts"), (["--accounts", str(10**9)], "--accounts"),
    (["--fork-url", "http://127.0.0.1:1", "--fork-block-number", str(1 << 64)],
     "--fork-block-number"),
])
def test_values_the_node_cannot_use_are_usage_errors(
        args: list[str], named: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Values argparse accepts but no node can serve with (an unbindable port, a chain id
    or block number past 64 bits, a balance past 2^256 wei or not a number) stop before
    anything starts, with one line naming the flag."""
    from chainvm.node import devchain

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the node started")  # (rather than serving until killed)

    monkeypatch.setattr(devchain, "DevChain", started)
    assert main(["--port", "0", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err and "Traceback" not in err


@pytest.mark.parametrize("mnemonic, why", [
    ("foo bar", "2 words"),
    ("", "0 words"),
    (" ".join(["test"] * 11 + ["junks"]), "'junks' is not in the BIP-39 English word list"),
    (" ".join(["test"] * 12), "checksum"),
])
def test_a_phrase_that_is_no_bip39_mnemonic_is_a_usage_error(
        mnemonic: str, why: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Any phrase was taken ("foo bar"): its seed is a hash of any text, so the node
    served accounts that no wallet derives from the same words (they refuse them)."""
    from chainvm.node import devchain

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the node started")

    monkeypatch.setattr(devchain, "DevChain", started)
    assert main(["--port", "0", "--mnemonic", mnemonic]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainvm node: --mnemonic is not a valid BIP-39 mnemonic: ")
    assert err.count("\n") == 1 and why in err


@pytest.mark.parametrize("mnemonic", [
    None, "test test test test test test test test test test test junk",
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
])
def test_bip39_mnemonics_reach_the_chain(mnemonic: str | None,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from chainvm.node import devchain

    given: list[object] = []

    def started(*_args: object, **kwargs: object) -> None:
        given.append(kwargs["mnemonic"])
        raise ValueError("stop here")  # a usage error (exit 2) after the checks

    monkeypatch.setattr(devchain, "DevChain", started)
    assert main(["--port", "0", *(["--mnemonic", mnemonic] if mnemonic else [])]) == 2
    assert given == [mnemonic or devchain.DEFAULT_MNEMONIC]


def test_devchain_reopen_in_process(tmp_path: Path) -> None:
    pytest.importorskip("lmdb")
    dev = DevChain(datadir=tmp_path / "d", accounts=2)
    a, b = dev.accounts
    dev.send_transaction(CallArgs(sender=a, to=b, value=3))
    who = b"\x77" * 20
    dev.set_balance(who, 10**18)
    dev.impersonate(who)
    h = dev.send_transaction(CallArgs(sender=who, to=b, value=1))
    head = dev.head.hash
    dev.close()
    again = DevChain(datadir=tmp_path / "d", accounts=2)
    assert again.reopened and again.head.hash == head
    assert again.state().balance(b) == 10_000 * 10**18 + 4
    found = again.chain.get_transaction(h)
    assert found is not None and again.sender_of(found[0]) == who
    again.close()


def test_dump_state_on_exit_and_load_state(tmp_path: Path) -> None:
    dump = tmp_path / "state.json"
    stranger = "0x" + "5e" * 20
    proc, url, _lines = start_node("--dump-state", str(dump))
    try:
        rpc = Client(url)
        rpc("anvil_setBalance", stranger, "0x2a")
        rpc("anvil_setCode", stranger, "0x6001")
    finally:
        stop(proc)  # SIGTERM: the node writes the dump as it exits
    assert dump.exists() and not (tmp_path / "state.json.tmp").exists()
    proc, url, _lines = start_node("--load-state", str(dump))
    try:
        rpc = Client(url)
        assert rpc("eth_getBalance", stranger, "latest") == "0x2a"
        assert rpc("eth_getCode", stranger, "latest") == "0x6001"
    finally:
        stop(proc)


def test_load_state_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"accounts": {"0x12": {}}}')
    for path in (str(tmp_path / "missing.json"), str(bad)):
        assert main(["--load-state", path, "--port", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and err.startswith("chainvm node: --load-state")


def _never_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    from chainvm.node import server

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the node started")  # (rather than serving until killed)

    monkeypatch.setattr(server, "NodeServer", started)


def test_load_state_refuses_out_of_range_values(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _never_serve(monkeypatch)
    stranger = "0x" + "5e" * 20
    for account in ({"balance": "-0x5"}, {"balance": hex(2**256)}, {"nonce": 2**64},
                    {"nonce": -1}, {"storage": {"0x1": hex(2**256)}}, {"code": "0xzz"}):
        dump = tmp_path / "dump.json"
        dump.write_text(json.dumps({"accounts": {stranger: account}}))
        assert main(["--load-state", str(dump), "--port", "0"]) == 2, account
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and err.startswith("chainvm node: --load-state"), err


def test_load_state_of_hostile_files_is_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A deep JSON file, a truncated and a corrupted gzip used to end in a traceback
    (RecursionError, EOFError, zlib.error)."""
    _never_serve(monkeypatch)
    good = gzip.compress(json.dumps({"accounts": {"0x" + "5e" * 20: {"balance": "0x1"}}})
                         .encode(), mtime=0)
    corrupted = bytearray(good)
    corrupted[12:14] = bytes([corrupted[12] ^ 0xFF, corrupted[13] ^ 0x55])
    files = {"deep.json": b"[" * 100_000 + b"]" * 100_000, "truncated.gz": good[:-6],
             "corrupted.gz": bytes(corrupted), "bad-crc.gz": good[:-8] + b"\0" * 8,
             "not-utf8.gz": gzip.compress(b"\xff\xfe\xfd")}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        assert main(["--load-state", str(tmp_path / name), "--port", "0"]) == 2, name
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and err.startswith("chainvm node: --load-state"), (name, err)


def test_load_state_of_a_gzip_bomb_is_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.node.test_rpc_clients import gzip_bomb

    _never_serve(monkeypatch)
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip_bomb(256 << 20))  # twice MAX_DUMP_BYTES
    assert main(["--load-state", str(bomb), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unpacks to more than" in err, err


def test_dump_state_path_is_checked_at_start(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory or a path in a missing directory used to fail only at exit, after
    the session, leaving PATH.tmp behind and exiting 0."""
    from chainvm.node import devchain

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the node started")

    monkeypatch.setattr(devchain, "DevChain", started)
    for path in (tmp_path, tmp_path / "missing" / "state.json"):
        assert main(["--dump-state", str(path), "--port", "0"]) == 2, path
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and err.startswith("chainvm node: --dump-state"), err
    assert list(tmp_path.iterdir()) == []


def test_dump_state_that_fails_at_exit_leaves_no_temporary_file(tmp_path: Path) -> None:
    dump = tmp_path / "state.json"
    proc, _url, _lines = start_node("--dump-state", str(dump))
    try:
        dump.mkdir()  # after start-up: the rename at exit fails
    finally:
        stop(proc)
    assert proc.stdout is not None
    rest = proc.stdout.read()
    assert proc.returncode == 1, rest
    assert [line for line in rest.splitlines() if "--dump-state" in line] == [
        f"chainvm node: --dump-state {dump}: cannot write (Is a directory)"], rest
    assert "Traceback" not in rest and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_anvil_flags() -> None:
    """What a script that starts anvil passes: short flags, --hardfork's lower-case names,
    the gas limit, the genesis time, --no-mining and --silent."""
    from tests.node.remotes import free_port, wait_ready

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainvm.node.cli", "-p", str(port), "-a", "3",
         "--hardfork", "prague", "--gas-limit", "40000000", "--timestamp", "1700000000",
         "--no-mining", "--silent", "--auto-impersonate"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(url, proc)
        rpc = Client(url)
        accounts = rpc("eth_accounts")
        assert len(accounts) == 3
        genesis = rpc("eth_getBlockByNumber", "0x0", False)
        assert genesis["gasLimit"] == hex(40_000_000) and genesis["timestamp"] == hex(1700000000)
        assert rpc("anvil_nodeInfo")["hardFork"] == "Prague"
        assert rpc("anvil_getAutomine") is False
        # By default the genesis holds EIP-2935's contract, as anvil's does.
        history = "0x0000f90827f1c53a10cb7a02335b175320002935"
        assert rpc("eth_getCode", history, "latest").startswith("0x3373fffffff")
        tx = rpc("eth_sendTransaction", {"from": accounts[0], "to": accounts[1], "value": "0x1"})
        assert rpc("eth_getTransactionReceipt", tx) is None  # waits for evm_mine
        rpc("evm_mine")
        assert rpc("eth_getTransactionReceipt", tx)["status"] == "0x1"
        stranger = "0x" + "4f" * 20  # --auto-impersonate: a keyless sender may send
        rpc("anvil_setBalance", stranger, "0xffffffffffffffffff")
        assert rpc("eth_sendTransaction", {"from": stranger, "to": accounts[0]}).startswith("0x")
    finally:
        stop(proc)
    out, _err = proc.communicate()
    assert out == ""  # --silent


def test_state_flag_loads_and_dumps(tmp_path: Path) -> None:
    """anvil's --state FILE: start from FILE when it exists, write it on exit."""
    state = tmp_path / "state.json"
    stranger = "0x" + "5f" * 20
    proc, url, _lines = start_node("--state", str(state))
    try:
        Client(url)("anvil_setBalance", stranger, "0x2b")
    finally:
        stop(proc)
    assert state.exists()
    proc, url, _lines = start_node("--state", str(state))
    try:
        assert Client(url)("eth_getBalance", stranger, "latest") == "0x2b"
    finally:
        stop(proc)


@pytest.mark.parametrize("args, named", [
    (["--no-mining", "--block-time", "1"], "--no-mining and --block-time"),
    (["--state", "s.json", "--load-state", "t.json"], "--state is --load-state"),
    (["--gas-limit", "5"], "--gas-limit"), (["--timestamp", "-1"], "--timestamp"),
    (["--gas-limit", str(2**63)], "2^63-1"),  # a header's limit: no block could be mined
    (["--hardfork", "nosuchfork"], "unknown fork"),
])
def test_anvil_flag_mistakes_are_one_line(args: list[str], named: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err, err


def test_banner_names_the_mining_mode() -> None:
    for flags, mode in ((["--no-mining"], "mining off"), ([], "automine"),
                        (["--block-time", "5"], "interval 5.0s")):
        proc, _, lines = start_node("--accounts", "1", *flags)
        stop(proc)
        first = lines[0]
        assert first.startswith("chainvm node: ") and f", {mode}" in first, (flags, first)
        if mode != "automine":
            assert "automine" not in first


def test_load_state_takes_anvil_dump_state_hex_saved_to_a_file(tmp_path: Path) -> None:
    """`cast rpc anvil_dumpState > FILE` saves the hex of gzipped JSON, quoted: such a
    file was refused as invalid JSON."""
    import gzip

    from chainvm.node.dumps import read_dump_file

    dump = {"accounts": {"0x" + "5e" * 20: {"balance": "0x7"}}}
    hexed = "0x" + gzip.compress(json.dumps(dump).encode()).hex()
    for text in (hexed, f'"{hexed}"\n', hexed.upper().replace("0X", "0x")):
        path = tmp_path / "state.hex"
        path.write_text(text)
        assert read_dump_file(path) == dump
    path.write_text(hexed[:-1])
    with pytest.raises(ValueError, match="odd length"):
        read_dump_file(path)


def test_state_flag_errors_name_the_state_flag(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state", str(tmp_path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"chainvm node: --state {tmp_path}: is a directory"), err
