"""`chainvm t8n` against the execution specs' t8n (`ethereum-spec-evm t8n`).

The transitions are built here: an alloc with a few contracts (storage and
logs of the block environment, a revert, a self-destruct, blob and transient
storage opcodes, system-contract stand-ins), and for each fork a block of
several transactions of the types the fork accepts, one of them invalid.
Both tools run in this process (the specs' T8N class directly, so that no
interpreter is started per transition) and every field of the specs' result
and the whole alloc must agree.

Two fields differ by design when a transaction is rejected: the specs keep the
rejected transaction in their transactions trie and key receipts by input
position, while chainvm (like geth) builds both tries from the included
transactions only. For those, `txRoot` and `receiptsRoot` are compared with the
specs' run on the included transactions alone.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chainvm.chain.t8n import transition
from chainvm.chain.transactions import SignedTransaction, decode_body_item
from chainvm.crypto import keccak256, private_key_to_address, sign_hash
from chainvm.encoding.rlp import decode, encode
from chainvm.evm import forks as F
from chainvm.evm.forks import get_fork

KEYS = [bytes([0x10 + i]) * 32 for i in range(4)]
ADDRS = ["0x" + private_key_to_address(k).hex() for k in KEYS]
COINBASE = "0x" + "c0" * 20
ETHER = 10**18


def _a(n: int) -> str:
    return "0x" + n.to_bytes(20, "big").hex()


def _push(value: int) -> str:
    size = max(1, (value.bit_length() + 7) // 8)
    return f"{0x5F + size:02x}" + value.to_bytes(size, "big").hex()


def _sstore(slot: int, value_code: str) -> str:
    return value_code + _push(slot) + "55"


# Contracts (hand-assembled): ENV stores the block environment and logs.
ENV_CODE = "".join([
    _sstore(0, _push(0) + "35"),            # CALLDATALOAD(0)
    _sstore(1, "43"),                       # NUMBER
    _sstore(2, "42"),                       # TIMESTAMP
    _sstore(3, "41"),                       # COINBASE
    _sstore(4, _push(1) + "43" + "03" + "40"),  # BLOCKHASH(NUMBER - 1)
    _sstore(5, "3a"),                       # GASPRICE
    _sstore(6, "44"),                       # DIFFICULTY / PREVRANDAO
    _sstore(7, "45"),                       # GASLIMIT
    "33" + _push(0) + "52",                 # MSTORE(0, CALLER)
    "32" + _push(0xBEEF) + _push(32) + _push(0) + "a2",  # LOG2(0, 32, 0xbeef, ORIGIN)
    "00",
])
REVERT_CODE = _sstore(0, _push(1)) + _push(0) + _push(0) + "fd"
DESTRUCT_CODE = "33ff"  # SELFDESTRUCT(CALLER)
BLOB_CODE = _sstore(0, _push(0) + "49") + _sstore(1, "4a") + \
    _push(7) + _push(1) + "5d" + _sstore(2, _push(1) + "5c") + "00"  # BLOBHASH, BLOBBASEFEE, T*
# Stand-ins for the system contracts (our own bytecode): beacon roots and history store
# their calldata, the withdrawal-request contract returns eight bytes, consolidation none.
BEACON_STANDIN = _sstore(0, _push(0) + "35") + "00"
HISTORY_STANDIN = _sstore(1, _push(0) + "35") + "00"
WITHDRAWAL_STANDIN = _push(0x1122334455667788) + _push(0) + "52" + _push(8) + _push(24) + "f3"
CONSOLIDATION_STANDIN = "00"
DEPOSIT_ADDRESS = "0x00000000219ab540356cbb839cbe05303d7705fa"
DEPOSIT_TOPIC = 0x649BBC62D0E31342AFEA4E5CD82D4049E7E1EE912FC0889AA790803BE39038C5

ENV_ADDR, REVERT_ADDR, DESTRUCT_ADDR, BLOB_ADDR = _a(0xE1), _a(0xE2), _a(0xE3), _a(0xE4)
EMPTY_TARGET = _a(0xDEAD)
INIT_CODE = "6001600055" + "6003601160003960036000f3" + "600100"  # stores, returns 600100


def _deposit_code() -> str:
    """A contract that logs one well-formed DepositEvent (data appended to its code)."""
    fields = [bytes([1]) * 48, bytes([2]) * 32, (32 * 10**9).to_bytes(8, "little"),
              bytes([3]) * 96, (7).to_bytes(8, "little")]
    head = b"".join(o.to_bytes(32, "big") for o in (160, 256, 320, 384, 512))
    tail = b"".join(len(f).to_bytes(32, "big") + f.ljust((len(f) + 31) // 32 * 32, b"\0")
                    for f in fields)
    data = head + tail
    assert len(data) == 576
    prefix_len = 3 + 3 + 2 + 1 + 33 + 3 + 2 + 1 + 1
    code = (_push(len(data)) + "61" + prefix_len.to_bytes(2, "big").hex() + _push(0) + "39"
            + "7f" + DEPOSIT_TOPIC.to_bytes(32, "big").hex() + _push(len(data)) + _push(0)
            + "a1" + "00")
    assert len(code) // 2 == prefix_len
    return code + data.hex()


def make_alloc(fork: str) -> dict[str, Any]:
    ordinal = get_fork(fork).ordinal
    alloc: dict[str, Any] = {
        ADDRS[0]: {"balance": hex(100 * ETHER)},
        ADDRS[1]: {"balance": str(50 * ETHER), "nonce": "3"},  # decimal, as some fillers write
        ADDRS[2]: {"balance": hex(2 * 10**9)},
        ENV_ADDR: {"balance": "0x1", "code": "0x" + ENV_CODE,
                   "storage": {"0x09": "0x1234", "0x0a": "0x0"}},
        REVERT_ADDR: {"balance": "0x0", "nonce": "0x1", "code": "0x" + REVERT_CODE},
        DESTRUCT_ADDR: {"balance": hex(12345), "code": "0x" + DESTRUCT_CODE,
                        "storage": {"0x01": "0x02"}},
    }
    if ordinal >= F.CANCUN:
        alloc[BLOB_ADDR] = {"code": "0x" + BLOB_CODE, "nonce": "0x1"}
        alloc["0x000f3df6d732807ef1319fb7b8bb8522d0beac02"] = {"code": "0x" + BEACON_STANDIN,
                                                               "nonce": "0x1"}
    if ordinal >= F.PRAGUE:
        alloc["0x0000f90827f1c53a10cb7a02335b175320002935"] = {"code": "0x" + HISTORY_STANDIN,
                                                               "nonce": "0x1"}
        alloc["0x00000961ef480eb55e80d19ad83579a64c007002"] = {
            "code": "0x" + WITHDRAWAL_STANDIN, "nonce": "0x1"}
        alloc["0x0000bbddc7ce488642fb579f8b00f3a590007251"] = {
            "code": "0x" + CONSOLIDATION_STANDIN, "nonce": "0x1"}
        alloc[DEPOSIT_ADDRESS] = {"code": "0x" + _deposit_code(), "nonce": "0x1"}
    return alloc


def make_env(fork: str, variant: int) -> dict[str, Any]:
    ordinal = get_fork(fork).ordinal
    number = 4_400_000 + variant if ordinal >= F.BYZANTIUM and variant else 2 + variant
    env: dict[str, Any] = {
        "currentCoinbase": COINBASE, "currentGasLimit": hex(30_000_000),
        "currentNumber": hex(number), "currentTimestamp": hex(1_700_000_000 + variant),
        "blockHashes": {hex(number - 1): "0x" + keccak256(b"parent").hex(),
                        hex(number - 2): "0x" + keccak256(b"grandparent").hex()},
    }
    if ordinal >= F.PARIS:
        env["currentRandom"] = "0x" + keccak256(b"randao").hex()
    elif variant:  # derive the difficulty from the parent
        env["parentDifficulty"] = hex(0x2_0000_0000)
        env["parentTimestamp"] = hex(1_700_000_000 + variant - 7)
        env["parentUncleHash"] = "0x" + keccak256(encode([[b"x"]])).hex()
    else:
        env["currentDifficulty"] = hex(0x20000)
    if ordinal >= F.LONDON:
        if variant:
            env.update(parentBaseFee=hex(1000), parentGasUsed=hex(20_000_000),
                       parentGasLimit=hex(30_000_000))
        else:
            env["currentBaseFee"] = hex(7)
    if ordinal >= F.SHANGHAI:
        env["withdrawals"] = [
            {"index": "0x0", "validatorIndex": "0x5", "address": ADDRS[3], "amount": "0x64"},
            {"index": "0x1", "validatorIndex": "0x6", "address": _a(0x5151), "amount": "0x0"},
            {"index": "0x2", "validatorIndex": "0x7", "address": ENV_ADDR, "amount": "0x3"},
        ]
    if ordinal >= F.CANCUN:
        env["parentBeaconBlockRoot"] = "0x" + keccak256(b"beacon").hex()
        if variant:
            env.update(parentExcessBlobGas=hex(3 * 131072), parentBlobGasUsed=hex(9 * 131072))
            if variant == 1 and ordinal >= F.OSAKA:
                env["parentBaseFee"] = hex(10**12)  # EIP-7918: the reserve price binds
                env["currentBaseFee"] = hex(7)
        else:
            env["currentExcessBlobGas"] = hex(0)
    return env


def _sign_auth(key: bytes, address: str, nonce: int, chain_id: int = 1) -> dict[str, str]:
    target = bytes.fromhex(address[2:])
    digest = keccak256(b"\x05" + encode([chain_id, target, nonce]))
    y, r, s = sign_hash(digest, key)
    return {"chainId": hex(chain_id), "address": address, "nonce": hex(nonce), "v": hex(y),
            "r": hex(r), "s": hex(s)}


def make_txs(fork: str, variant: int) -> list[dict[str, Any]]:
    """A block of transactions; one (the third) is invalid."""
    ordinal = get_fork(fork).ordinal
    price = hex(5000)

    def legacy(key: int, nonce: int, to: str | None, data: str = "0x", value: int = 0,
               gas: int = 200_000, **extra: Any) -> dict[str, Any]:
        tx = {"type": "0x0", "nonce": hex(nonce), "gasPrice": price, "gas": hex(gas),
              "value": hex(value), "input": data, "secretKey": "0x" + KEYS[key].hex(), **extra}
        if to is not None:
            tx["to"] = to
        return tx

    txs = [
        legacy(0, 0, ENV_ADDR, "0x" + "ab" * 32, value=10),
        legacy(1, 3, None, "0x" + INIT_CODE),
        legacy(2, 0, ENV_ADDR, gas=21_000 * 10**3),  # can't pay: rejected
        legacy(0, 1, REVERT_ADDR),
        legacy(0, 2, EMPTY_TARGET, value=0),  # touches an empty account
        legacy(1, 4, DESTRUCT_ADDR, gas=100_000),
    ]
    if variant and ordinal >= F.SPURIOUS_DRAGON:
        txs.append(legacy(2, 0, ENV_ADDR, "0x01", protected=False))  # no EIP-155
    nonce0 = 3
    if ordinal >= F.BERLIN:
        txs.append({"type": "0x1", "chainId": "0x1", "nonce": hex(nonce0), "gasPrice": price,
                    "gas": hex(100_000), "to": ENV_ADDR, "value": "0x0", "input": "0x",
                    "accessList": [{"address": ENV_ADDR, "storageKeys": ["0x" + "00" * 32]}],
                    "secretKey": "0x" + KEYS[0].hex()})
        nonce0 += 1
    if ordinal >= F.LONDON:
        txs.append({"type": "0x2", "chainId": "0x1", "nonce": hex(nonce0),
                    "maxFeePerGas": hex(10_000), "maxPriorityFeePerGas": hex(3),
                    "gas": hex(100_000), "to": ENV_ADDR, "value": "0x5", "input": "0x02",
                    "accessList": [], "secretKey": "0x" + KEYS[0].hex()})
        nonce0 += 1
    if ordinal >= F.CANCUN:
        txs.append({"type": "0x3", "chainId": "0x1", "nonce": hex(nonce0),
                    "maxFeePerGas": hex(10_000), "maxPriorityFeePerGas": hex(1),
                    "gas": hex(100_000), "to": BLOB_ADDR, "value": "0x0", "input": "0x",
                    "accessList": [], "maxFeePerBlobGas": hex(10**9),
                    "blobVersionedHashes": ["0x01" + keccak256(bytes([i])).hex()[2:]
                                            for i in range(2)],
                    "secretKey": "0x" + KEYS[0].hex()})
        nonce0 += 1
    if ordinal >= F.PRAGUE:
        txs.append({"type": "0x4", "chainId": "0x1", "nonce": hex(nonce0),
                    "maxFeePerGas": hex(10_000), "maxPriorityFeePerGas": hex(1),
                    "gas": hex(200_000), "to": ADDRS[3], "value": "0x0", "input": "0x",
                    "accessList": [], "authorizationList": [_sign_auth(KEYS[3], ENV_ADDR, 0)],
                    "secretKey": "0x" + KEYS[0].hex()})
        nonce0 += 1
        txs.append(legacy(0, nonce0, DEPOSIT_ADDRESS))
        nonce0 += 1
    if variant == 0 and ordinal < F.LONDON:
        # a type the fork does not know yet: rejected while decoding or validating
        txs.append({"type": "0x2", "chainId": "0x1", "nonce": hex(nonce0),
                    "maxFeePerGas": hex(10_000), "maxPriorityFeePerGas": hex(3),
                    "gas": hex(100_000), "to": ENV_ADDR, "value": "0x0", "input": "0x",
                    "accessList": [], "secretKey": "0x" + KEYS[0].hex()})
    txs.append(legacy(0, nonce0 + 5, ENV_ADDR))  # nonce too high: rejected
    return txs


@dataclass
class Case:
    name: str
    fork: str
    alloc: dict[str, Any]
    env: dict[str, Any]
    txs: Any
    reward: int | None = None
    blob_params: dict[str, Any] | None = None


FORKS = ["Frontier", "Homestead", "EIP150", "EIP158", "Byzantium", "ConstantinopleFix",
         "Istanbul", "Berlin", "London", "Paris", "Shanghai", "Cancun", "Prague", "Osaka"]


def make_cases() -> list[Case]:
    cases = []
    for fork in FORKS:
        for variant in (0, 1):
            ordinal = get_fork(fork).ordinal
            reward = None
            if ordinal < F.PARIS:
                reward = (-1, 0x1234)[variant] if fork in ("Homestead", "Istanbul") else None
            cases.append(Case(f"{fork}-{variant}", fork, make_alloc(fork),
                              make_env(fork, variant), make_txs(fork, variant), reward))
    # The same block given as RLP (as a .rlp input holds it) instead of JSON.
    london = next(c for c in cases if c.name == "London-0")
    signed = transition(copy.deepcopy(london.alloc), london.env, copy.deepcopy(london.txs),
                        "London").body
    cases.append(Case("London-rlp", "London", london.alloc, london.env, signed))
    # The blob-parameter-only forks (Osaka rules, larger blob schedules).
    for fork in ("BPO1", "BPO2"):
        cases.append(Case(f"{fork}-1", fork, make_alloc(fork), make_env(fork, 1),
                          make_txs(fork, 1)))
    # A block with no transactions, only withdrawals.
    cases.append(Case("Shanghai-empty", "Shanghai", make_alloc("Shanghai"),
                      make_env("Shanghai", 0), []))
    return cases


CASES = make_cases()


# -- the execution specs' t8n, in process ------------------------------------------------------


try:
    import ethereum_spec_tools.evm_tools as specs_tools
    import ethereum_spec_tools.evm_tools.t8n as specs_t8n
except ImportError:  # the execution specs come with the test extras
    specs_tools = specs_t8n = None  # type: ignore[assignment]
needs_specs = pytest.mark.skipif(specs_t8n is None, reason="needs the execution specs")
_PARSER = None
logging.getLogger("T8N").disabled = True  # the specs log each rejection with a traceback
_CACHE: dict[str, Any] = {}


def run_specs(case: Case, txs: Any = None) -> dict[str, Any]:
    global _PARSER
    if _PARSER is None:
        _PARSER = specs_tools.create_parser()
    args = ["t8n", "--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin",
            "--output.result=stdout", "--output.alloc=stdout", f"--state.fork={case.fork}"]
    if case.reward is not None:
        args.append(f"--state.reward={case.reward}")
    stdin = {"alloc": copy.deepcopy(case.alloc), "env": copy.deepcopy(case.env),
             "txs": copy.deepcopy(case.txs if txs is None else txs)}
    if case.blob_params is not None:
        args.append("--input.blobParams=stdin")
        stdin["blobParams"] = case.blob_params
    options, _ = _PARSER.parse_known_args(args)
    out = io.StringIO()
    with specs_t8n.ForkCache() as cache:
        tool = specs_t8n.T8N(options, out, io.StringIO(json.dumps(stdin)), cache)
        assert tool.run() == 0
    return json.loads(out.getvalue())


def run_chainvm(case: Case, txs: Any = None) -> dict[str, Any]:
    done = transition(copy.deepcopy(case.alloc), copy.deepcopy(case.env),
                      copy.deepcopy(case.txs if txs is None else txs), case.fork, 1,
                      case.reward, blob_params=case.blob_params)
    return {"result": done.result, "alloc": done.alloc, "body": done.body}


_RECEIPT_KEYS = ("transactionHash", "succeeded", "post_state", "cumulativeGasUsed", "bloom",
                 "logs")


def compare(case: Case, ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Differences between chainvm's output and the specs' (empty when they agree)."""
    problems = []
    mine, spec = ours["result"], theirs["result"]
    rejected = sorted(r["index"] for r in spec["rejected"])
    if [r["index"] for r in mine["rejected"]] != rejected:
        problems.append(f"rejected {mine['rejected']} vs {spec['rejected']}")
    reference = spec
    if rejected:
        items = case.txs if isinstance(case.txs, list) else decode(bytes.fromhex(case.txs[2:]))
        assert isinstance(items, list)
        kept: Any = [tx for i, tx in enumerate(items) if i not in rejected]
        if isinstance(case.txs, str):
            kept = "0x" + encode(kept).hex()
        reference = run_specs(case, kept)["result"]
    for key, want in spec.items():
        if key == "rejected":
            continue
        if key == "blockException":  # both must report one; the wording is each tool's own
            if key not in mine:
                problems.append(f"no blockException (specs: {want})")
            continue
        if key in ("txRoot", "receiptsRoot"):
            want = reference[key]
        got = mine.get(key, "<missing>")
        if key == "receipts":
            got = [{k: r[k] for k in _RECEIPT_KEYS if k in r} for r in got]
        if got != want:
            problems.append(f"{key}: {str(got)[:300]} vs {str(want)[:300]}")
    if ours["alloc"] != theirs["alloc"]:
        keys = sorted(set(ours["alloc"]) | set(theirs["alloc"]))
        diff = [k for k in keys if ours["alloc"].get(k) != theirs["alloc"].get(k)]
        problems.append("alloc differs at " + ", ".join(
            f"{k}: {ours['alloc'].get(k)} vs {theirs['alloc'].get(k)}" for k in diff))
    return problems


@needs_specs
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_execution_specs(case: Case) -> None:
    ours = run_chainvm(case)
    theirs = run_specs(case)
    assert compare(case, ours, theirs) == []
    result = ours["result"]
    assert result["rejected"] or not case.txs or case.name.endswith("empty")
    # The body holds the decodable transactions given, signed, in block-body form.
    items = decode(bytes.fromhex(ours["body"][2:]))
    assert isinstance(items, list)
    body_txs = [decode_body_item(item) for item in items]
    assert all(isinstance(tx, SignedTransaction) and tx.sender() for tx in body_txs)
    given = len(case.txs) if isinstance(case.txs, list) else len(decode(bytes.fromhex(
        case.txs[2:])))  # type: ignore[arg-type]
    undecodable = [r for r in result["rejected"] if r["error"].startswith("could not decode")]
    assert len(body_txs) == given - len(undecodable)
    body_hashes = ["0x" + tx.hash.hex() for tx in body_txs]
    included = [r["transactionHash"] for r in result["receipts"]]
    assert included == [h for h in body_hashes if h in included]


def test_blob_params_give_the_bpo_forks() -> None:
    """--input.blobParams on Osaka with BPO2's schedule is the BPO2 fork (which the specs
    check above); the specs' own blobParams path re-generates a fork package per schedule,
    far too slow to run here."""
    bpo2 = _case("BPO2-1")
    params = {"target": "0xe", "max": "0x15", "baseFeeUpdateFraction": hex(11684671)}
    osaka = Case("Osaka+params", "Osaka", bpo2.alloc, bpo2.env, bpo2.txs, None, params)
    assert run_chainvm(osaka) == run_chainvm(bpo2)
    assert run_chainvm(osaka)["result"]["currentExcessBlobGas"] != \
        run_chainvm(dataclasses.replace(osaka, blob_params=None))["result"][
            "currentExcessBlobGas"]


def test_cases_cover_what_they_should() -> None:
    forks = {c.fork for c in CASES}
    assert {"Frontier", "Byzantium", "London", "Shanghai", "Cancun", "Prague", "Osaka"} <= forks
    assert all(c.txs for c in CASES if not c.name.endswith("empty"))
    assert any("blobVersionedHashes" in tx for c in CASES if isinstance(c.txs, list)
               for tx in c.txs)


# -- the command line ----------------------------------------------------------------------------


def chainvm(*args: str, stdin: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainvm.cli.main", "t8n", *args],
                          input=stdin, capture_output=True, text=True, check=False, cwd=cwd)


def _case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def test_stdin_to_stdout_matches_in_process() -> None:
    case = _case("Cancun-1")
    stdin = json.dumps({"alloc": case.alloc, "env": case.env, "txs": case.txs})
    out = chainvm("--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin",
                  "--output.result=stdout", "--output.alloc=stdout", "--output.body=stdout",
                  "--state.fork=Cancun", stdin=stdin)
    assert out.returncode == 0, out.stderr
    combined = json.loads(out.stdout)
    assert set(combined) == {"result", "alloc", "body"}
    assert combined == run_chainvm(case)


def test_files_basedir_and_traces(tmp_path: Path) -> None:
    case = _case("Shanghai-0")
    for name, value in (("alloc", case.alloc), ("env", case.env), ("txs", case.txs)):
        (tmp_path / f"{name}.json").write_text(json.dumps(value))
    out_dir = tmp_path / "out"
    out = chainvm(f"--input.alloc={tmp_path / 'alloc.json'}",
                  f"--input.env={tmp_path / 'env.json'}", f"--input.txs={tmp_path / 'txs.json'}",
                  f"--output.basedir={out_dir}", "--output.result=result.json",
                  "--output.alloc=alloc.json", "--output.body=body.rlp",
                  "--state.fork=Shanghai", "--trace")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    expected = run_chainvm(case)
    assert json.loads((out_dir / "result.json").read_text()) == expected["result"]
    assert json.loads((out_dir / "alloc.json").read_text()) == expected["alloc"]
    assert json.loads((out_dir / "body.rlp").read_text()) == expected["body"]
    traces = sorted(out_dir.glob("trace-*.jsonl"))
    assert len(traces) == len(expected["result"]["receipts"])
    rejected = {r["index"] for r in expected["result"]["rejected"]}
    indexes = {int(p.name.split("-")[1]) for p in traces}
    assert not indexes & rejected
    first = traces[0].read_text().splitlines()
    assert json.loads(first[0])["opName"] and "gasUsed" in json.loads(first[-1])
    for path in traces:
        hash_ = path.stem.split("-")[2]
        assert hash_ in {r["transactionHash"] for r in expected["result"]["receipts"]}


def test_ommers_and_reward() -> None:
    case = _case("Byzantium-0")
    env = dict(case.env, ommers=[{"delta": "0x1", "address": _a(0x0A)},
                                 {"delta": "0x3", "address": _a(0x0B)}])
    reward = 3 * ETHER
    with_ommers = transition(copy.deepcopy(case.alloc), env, [], "Byzantium").alloc
    assert int(with_ommers[COINBASE]["balance"], 16) == reward + 2 * (reward // 32)
    assert int(with_ommers[_a(0x0A)]["balance"], 16) == 7 * reward // 8
    assert int(with_ommers[_a(0x0B)]["balance"], 16) == 5 * reward // 8
    none = transition(copy.deepcopy(case.alloc), env, [], "Byzantium", reward=-1).alloc
    assert COINBASE not in none and _a(0x0A) not in none


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--state.fork=NoSuchFork"], None, "unknown fork"),
    (["--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin"], "{not json",
     "invalid JSON"),
    (["--input.alloc=/no/such/alloc.json"], None, "cannot read"),
    (["--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin"], '{"alloc": {}}',
     "no 'env'"),
    (["--state.reward=lots"], None, "expected an integer"),
    (["--no-such-flag"], None, "unrecognized arguments"),
])
def test_bad_input_is_one_line(args: list[str], stdin: str | None, message: str,
                               tmp_path: Path) -> None:
    out = chainvm(*args, f"--output.basedir={tmp_path}", stdin=stdin, cwd=tmp_path)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda c: c.alloc.update({"0xzz": {}}), "alloc"),
    (lambda c: c.env.pop("currentGasLimit"), "currentGasLimit"),
    (lambda c: c.env.update(currentBaseFee="0xnothex"), "currentBaseFee"),
    (lambda c: c.env.pop("currentRandom"), "currentRandom"),
])
def test_bad_documents_are_one_line(mutate: Any, message: str) -> None:
    case = copy.deepcopy(_case("Cancun-0"))
    mutate(case)
    stdin = json.dumps({"alloc": case.alloc, "env": case.env, "txs": case.txs})
    out = chainvm("--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin",
                  "--output.result=stdout", "--output.alloc=stdout", "--state.fork=Cancun",
                  stdin=stdin)
    assert out.returncode != 0 and out.stdout == ""
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_malformed_transaction_is_rejected_not_fatal() -> None:
    case = _case("London-0")
    txs = [{"type": "0x2", "nonce": "0xzz"}, *case.txs]
    result = transition(copy.deepcopy(case.alloc), case.env, txs, "London").result
    assert result["rejected"][0]["index"] == 0
    assert len(result["receipts"]) == len(case.txs) - len(result["rejected"]) + 1



# -- blocks of the blockchain-test fixtures as transitions ----------------------------------------
#
# A block of a valid blockchain test, with the state its parent left, is a transition whose
# answer the fixture knows: the header's state, transactions and receipts roots, gas used,
# bloom and withdrawals root. These blocks also bring uncles, which the specs' t8n cannot
# take (it rewards ommers by a field its env does not read), so they check the ommer rewards.

FIXTURE_ARCHIVES = ("blockchain-legacy-constantinople", "blockchain-legacy-cancun",
                    "blockchain-2024")
PER_FILE = 3
PER_NETWORK = 2


@dataclass
class FixtureBlock:
    name: str
    network: str
    case: Case
    header: dict[str, Any]
    uncles: int


def _interesting(block: Any) -> bool:
    return bool(block.uncles) or bool(block.withdrawals) or len(block.transactions) > 1


def _kind(block: Any) -> str:
    if block.uncles:
        return "uncles"
    if any(tx.tx_type == 3 for tx in block.transactions):
        return "blobs"
    return "block"


def fixture_blocks() -> list[FixtureBlock]:
    from chainvm.chain.block import Block
    from chainvm.chain.blocktest import genesis_of
    from chainvm.chain.chain import Chain
    from chainvm.chain.t8n import dump_alloc
    from chainvm.testing.fixtures import ethereum_tests

    picked: list[FixtureBlock] = []
    taken: dict[tuple[str, str], int] = {}
    for archive in FIXTURE_ARCHIVES:
        root = ethereum_tests(archive)
        if root is None:
            continue
        for path in sorted((root / "ValidBlocks").rglob("*.json")):
            from_file = 0
            for name, test in json.loads(path.read_text()).items():
                if from_file >= PER_FILE:
                    break
                network = str(test.get("network"))
                if "To" in network:
                    continue
                blocks = test["blocks"]
                for k, raw in enumerate(blocks):
                    if any(key.startswith("expectException") for key in raw) or "rlp" not in raw:
                        break
                    block = Block.decode(bytes.fromhex(raw["rlp"][2:]))
                    key = (network, _kind(block))
                    if taken.get(key, 0) >= PER_NETWORK or not _interesting(block):
                        continue
                    try:
                        config, genesis, state = genesis_of(test)
                        chain = Chain.from_genesis(config, genesis, state)
                        for earlier in blocks[:k]:
                            chain.import_block(Block.decode(bytes.fromhex(earlier["rlp"][2:])))
                    except Exception:  # noqa: BLE001 - a chain we cannot replay is skipped
                        break
                    if chain.head_hash != block.header.parent_hash:  # a side chain
                        break
                    picked.append(_as_case(f"{name}#{k}", network, block, chain,
                                           dump_alloc(chain.state())))
                    taken[key] = taken.get(key, 0) + 1
                    from_file += 1
                    break
    return picked


def _as_case(name: str, network: str, block: Any, chain: Any,
             alloc: dict[str, Any]) -> FixtureBlock:
    h = block.header
    fork = get_fork(network)
    env: dict[str, Any] = {
        "currentCoinbase": "0x" + h.coinbase.hex(), "currentGasLimit": hex(h.gas_limit),
        "currentNumber": hex(h.number), "currentTimestamp": hex(h.timestamp),
        "blockHashes": {hex(n): "0x" + chain.get_block_by_number(n).header.hash.hex()
                        for n in range(max(0, h.number - 256), h.number)},
        "ommers": [{"delta": hex(h.number - u.number), "address": "0x" + u.coinbase.hex()}
                   for u in block.uncles],
    }
    if fork.ordinal >= F.PARIS:
        env["currentRandom"] = "0x" + h.mix_hash.hex()
    else:
        env["currentDifficulty"] = hex(h.difficulty)
    if h.base_fee is not None:
        env["currentBaseFee"] = hex(h.base_fee)
    if block.withdrawals is not None:
        env["withdrawals"] = [{"index": hex(w.index), "validatorIndex": hex(w.validator_index),
                               "address": "0x" + w.address.hex(), "amount": hex(w.amount)}
                              for w in block.withdrawals]
    if h.excess_blob_gas is not None:
        env["currentExcessBlobGas"] = hex(h.excess_blob_gas)
    if h.parent_beacon_block_root is not None:
        env["parentBeaconBlockRoot"] = "0x" + h.parent_beacon_block_root.hex()
    txs = "0x" + encode([tx.body_item() for tx in block.transactions]).hex()
    expected = {"stateRoot": h.state_root, "txRoot": h.transactions_root,
                "receiptsRoot": h.receipts_root, "logsBloom": h.bloom, "gasUsed": h.gas_used,
                "withdrawalsRoot": h.withdrawals_root, "blobGasUsed": h.blob_gas_used}
    header = {k: (v if isinstance(v, int) or v is None else "0x" + v.hex())
              for k, v in expected.items()}
    header["gasUsed"] = hex(h.gas_used)
    if h.blob_gas_used is not None:
        header["blobGasUsed"] = hex(h.blob_gas_used)
    return FixtureBlock(name, network, Case(name, network, alloc, env, txs), header,
                        len(block.uncles))


FIXTURE_BLOCKS = fixture_blocks()


@pytest.mark.parametrize("block", FIXTURE_BLOCKS, ids=[b.name for b in FIXTURE_BLOCKS])
def test_fixture_block(block: FixtureBlock) -> None:
    ours = run_chainvm(block.case)
    assert ours["result"]["rejected"] == []
    for key, want in block.header.items():
        if want is not None:
            assert ours["result"][key] == want, key
    # The specs' t8n cannot reward ommers and has no Constantinople (with EIP-1283).
    if specs_t8n is not None and block.uncles == 0 and block.network != "Constantinople":
        assert compare(block.case, ours, run_specs(block.case)) == []


@needs_specs
def test_same_files_as_ethereum_spec_evm(tmp_path: Path) -> None:
    """One transition through both command lines, with the same flags and files."""
    tool = Path(sys.executable).with_name("ethereum-spec-evm")
    if not tool.exists():
        pytest.skip("ethereum-spec-evm is not installed")
    case = _case("Prague-1")
    for name, value in (("alloc", case.alloc), ("env", case.env), ("txs", case.txs)):
        (tmp_path / f"{name}.json").write_text(json.dumps(value))
    outputs = {}
    for label, command in (("specs", [str(tool), "t8n"]),
                           ("chainvm", [sys.executable, "-m", "chainvm.cli.main", "t8n"])):
        out_dir = tmp_path / label
        out_dir.mkdir()
        done = subprocess.run([*command, "--input.alloc=alloc.json", "--input.env=env.json",
                               "--input.txs=txs.json", f"--output.basedir={out_dir}",
                               "--output.result=result.json", "--output.alloc=alloc.json",
                               "--state.fork=Prague", "--state.chainid=1",
                               "--state.reward=-1"],
                              cwd=tmp_path, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        outputs[label] = {"result": json.loads((out_dir / "result.json").read_text()),
                          "alloc": json.loads((out_dir / "alloc.json").read_text())}
    assert compare(case, outputs["chainvm"], outputs["specs"]) == []
    assert outputs["chainvm"]["result"]["requests"]  # a deposit and a withdrawal request


# -- Prague and Osaka state tests as one-transaction blocks -------------------------------------
#
# The state tests of execution-spec-tests carry each case's signed transaction (`txbytes`) and
# its post-state root. As a block (no system contracts in their pre-state, so the EIP-7002
# call reports a block exception in both tools and changes nothing) the post state must be
# the fixture's, the transaction rejected exactly when the fixture expects an exception, and
# everything else equal to the specs' t8n.

STATE_TEST_SAMPLE = 24


@dataclass
class StateCase:
    case: Case
    post_hash: str
    invalid: bool


def state_test_cases() -> list[StateCase]:
    from chainvm.testing.fixtures import ethereum_tests

    root = ethereum_tests("state-osaka-devnet")
    if root is None:
        return []
    entries = []
    for path in sorted(root.rglob("*.json")):
        for name, test in json.loads(path.read_text()).items():
            for fork, posts in sorted(test["post"].items()):
                for i, post in enumerate(posts):
                    if "txbytes" in post:
                        entries.append((f"{name}/{fork}/{i}", fork, test, post))
    forks = sorted({entry[1] for entry in entries})
    chosen = []
    for fork in forks:  # the same number from each fork, spread over its cases
        mine = [e for e in entries if e[1] == fork]
        want = STATE_TEST_SAMPLE // len(forks)
        chosen += mine[::max(1, len(mine) // want)][:want]
    out = []
    for label, fork, test, post in chosen:
        raw = bytes.fromhex(post["txbytes"][2:])
        item = decode(raw) if raw[0] >= 0xC0 else raw
        env = dict(test["env"], withdrawals=[], parentBeaconBlockRoot="0x" + "00" * 32,
                   blockHashes={hex(parse_number(test["env"]["currentNumber"]) - 1):
                                "0x" + keccak256(b"parent").hex()})
        case = Case(label.rsplit("::", 1)[-1], fork, test["pre"], env,
                    "0x" + encode([item]).hex())
        out.append(StateCase(case, post["hash"], "expectException" in post))
    return out


def parse_number(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


STATE_CASES = state_test_cases()


@needs_specs
@pytest.mark.parametrize("sc", STATE_CASES, ids=[s.case.name for s in STATE_CASES])
def test_state_test_as_block(sc: StateCase) -> None:
    ours = run_chainvm(sc.case)
    assert ours["result"]["stateRoot"] == sc.post_hash
    assert bool(ours["result"]["rejected"]) == sc.invalid
    assert compare(sc.case, ours, run_specs(sc.case)) == []


def test_blob_params_from_stdin() -> None:
    case = dataclasses.replace(_case("Osaka-1"),
                               blob_params={"target": 2, "max": 3, "baseFeeUpdateFraction": 99})
    stdin = json.dumps({"alloc": case.alloc, "env": case.env, "txs": case.txs,
                        "blobParams": case.blob_params})
    out = chainvm("--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin",
                  "--input.blobParams=stdin", "--output.result=stdout", "--output.alloc=stdout",
                  "--output.body=stdout", "--state.fork=Osaka", stdin=stdin)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == run_chainvm(case)


@pytest.mark.parametrize("flag", ["--output.result", "--output.alloc", "--output.body"])
@pytest.mark.parametrize("blocker", ["folder", "missing-parent"])
def test_an_output_that_cannot_be_written_leaves_no_output(flag: str, blocker: str,
                                                           tmp_path: Path) -> None:
    # Checked before anything is written: result.json used to be left behind.
    case = _case("Cancun-0")
    out_dir = tmp_path / "out"
    (out_dir / "sub.json").mkdir(parents=True)
    name = "sub.json" if blocker == "folder" else "no-such-folder/x.json"
    others = [f"--output.{k}={k}.json" for k in ("result", "alloc", "body")
              if f"--output.{k}" != flag]
    out = chainvm("--input.alloc=stdin", "--input.env=stdin", "--input.txs=stdin",
                  "--state.fork=Cancun", f"--output.basedir={out_dir}", f"{flag}={name}",
                  *others, stdin=json.dumps({"alloc": case.alloc, "env": case.env,
                                             "txs": case.txs}))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and flag in out.stderr, out.stderr
    assert [p.name for p in out_dir.iterdir()] == ["sub.json"]
    assert not any((out_dir / "sub.json").iterdir())


def test_outputs_are_written_all_or_none(tmp_path: Path) -> None:
    from chainvm.cli.common import UsageError
    from chainvm.cli.t8n import _write_outputs

    # the second cannot be written (its folder went away after the checks)
    with pytest.raises(UsageError, match="cannot write"):
        _write_outputs({tmp_path / "a.json": {"a": 1}, tmp_path / "gone" / "b.json": [2]})
    assert list(tmp_path.iterdir()) == []
    _write_outputs({tmp_path / "a.json": {"a": 1}, tmp_path / "b.json": [2]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    assert json.loads((tmp_path / "b.json").read_text()) == [2]
