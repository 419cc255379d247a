"""The state-test runner's shared per-test work (issue 16): a test's pre-state, env and
transaction are parsed once and every case runs on a copy-on-write copy, so no case may
see another's changes; the logs hash, the JSON depth check and the quantity parser
took faster paths that must answer as the plain ones did."""

from __future__ import annotations

import random
from typing import Any

import pytest

from chainvm.crypto import keccak256
from chainvm.encoding import json_input
from chainvm.encoding.json_input import InputError, json_depth, parse_quantity
from chainvm.encoding.rlp import encode
from chainvm.evm import statetest
from chainvm.evm.forks import get_fork
from chainvm.evm.statetest import PreparedTest, logs_hash, run_case
from chainvm.evm.transaction import apply_transaction
from chainvm.state.state import Log

SENDER_KEY = "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8"
CONTRACT = "0x" + "cc" * 20
# SSTORE(0, CALLDATALOAD(0)); LOG1 of the first calldata byte, topic 7
CODE = "0x600035600055" + "6001600060076000" + "a1"


def _test() -> dict[str, Any]:
    word = [(i).to_bytes(32, "big").hex() for i in (1, 0, 2)]
    posts = [{"indexes": {"data": d, "gas": 0, "value": v}, "hash": "0x" + "00" * 32,
              "logs": "0x" + "00" * 32} for d in range(3) for v in range(2)]
    return {
        "env": {"currentCoinbase": "0x" + "ba" * 20, "currentNumber": "0x01",
                "currentTimestamp": "0x03e8", "currentGasLimit": "0x05f5e100",
                "currentDifficulty": "0x020000"},
        "pre": {
            CONTRACT: {"balance": "0x00", "nonce": "0x00", "code": CODE,
                       "storage": {"0x00": "0x05", "0x01": "0x07", "0x02": "0x00"}},
            "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b": {
                "balance": "0x0de0b6b3a7640000", "nonce": "0x00", "code": "0x",
                "storage": {}},
        },
        "transaction": {"secretKey": SENDER_KEY, "to": CONTRACT, "nonce": "0x00",
                        "gasPrice": "0x0a", "gasLimit": ["0x0186a0"],
                        "value": ["0x00", "0x01"], "data": ["0x" + w for w in word]},
        "post": {"Berlin": posts},
    }


def _fresh(test: dict[str, Any], index: int) -> str:
    statetest._prepared = None
    return run_case("t", test, "Berlin", index).state_root


def test_cases_of_one_test_see_only_the_pre_state() -> None:
    test = _test()
    fresh = [_fresh(test, i) for i in range(6)]
    assert len(set(fresh)) == 6  # every case leaves a different state
    statetest._prepared = None
    # One prepared test, its cases in an order where each follows a different one.
    for i in (0, 5, 1, 4, 2, 3, 0, 0, 5):
        assert run_case("t", test, "Berlin", i).state_root == fresh[i]
    assert statetest._prepared is not None and statetest._prepared.test is test


@pytest.mark.parametrize("cases", [1, 2])
def test_a_case_root_is_the_full_root_of_its_state(cases: int) -> None:
    # cases=1: the pre-state's tries are not built first (a test's only case), so the
    # post-state root is built whole; the pre-state must still come out unchanged.
    test = _test()
    prepared = PreparedTest(test, cases)
    fork = get_fork("Berlin")
    for post in test["post"]["Berlin"] * 2:
        state = prepared.pre_state()
        apply_transaction(state, fork, prepared.env, prepared.transaction(post["indexes"]))
        assert state.state_root() == state.full_state_root()
    assert prepared.pre.state_root() == prepared.pre.full_state_root()
    assert prepared.pre.accounts[bytes.fromhex("cc" * 20)].storage == {0: 5, 1: 7}


def test_another_test_object_is_prepared_again() -> None:
    first, second = _test(), _test()
    second["pre"][CONTRACT]["storage"]["0x01"] = "0x08"  # a slot no case writes
    statetest._prepared = None
    a = run_case("t", first, "Berlin", 3).state_root
    b = run_case("t", second, "Berlin", 3).state_root
    assert a != b and b == _fresh(second, 3)


def test_transaction_fields_by_index() -> None:
    tx: dict[str, Any] = {
        "secretKey": SENDER_KEY, "to": CONTRACT, "nonce": "0x01", "gasPrice": "0x0a",
        "gasLimit": ["0x5208", "0x0186a0"], "value": ["0x00", "0x02"],
        "data": ["0x", "0x01"],
        "accessLists": [None, [{"address": CONTRACT, "storageKeys": ["0x01"]}]],
    }
    template = statetest.TransactionTemplate(tx)
    plain = template.build({"data": 0, "gas": 1, "value": 1})
    assert (plain.tx_type, plain.access_list, plain.gas_limit, plain.value, plain.data) == \
        (0, [], 100000, 2, b"")
    listed = template.build({"data": 1, "gas": 0, "value": 0})
    assert (listed.tx_type, listed.access_list, listed.gas_limit, listed.data) == \
        (1, [(bytes.fromhex("cc" * 20), [1])], 21000, b"\x01")
    assert statetest.build_transaction(tx, {"data": 1, "gas": 0, "value": 0}) == listed


@pytest.mark.parametrize("data", [b"", b"\x05", b"\x80", b"\x00" * 55, b"\x01" * 56,
                                  bytes(range(256)) * 300])
def test_logs_hash_is_the_hash_of_the_logs_rlp(data: bytes) -> None:
    logs = [Log(b"\x11" * 20, (), data), Log(b"\x22" * 20, (0, 1 << 255, 7), data + b"x")]
    for some in ([], logs[:1], logs):
        assert logs_hash(some) == keccak256(encode([log.to_rlp() for log in some]))


def _depth_by_scanning(raw: bytes) -> int:
    """The reference: one byte at a time, strings as the parser reads them (after an
    unclosed quote, everything is string). A backslash escapes a following backslash or
    quote; outside strings too, where the parser refuses it anyway. Unbalanced closers
    count down, and the depth is the highest one after a bracket."""
    depth = 0
    deepest: int | None = None
    in_string = False
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        i += 1
        if byte == 0x5C:  # backslash
            if i < n and raw[i] in b'\\"':
                i += 1
        elif byte == 0x22:
            in_string = not in_string
        elif not in_string and byte in b"[]{}":
            depth += 1 if byte in b"[{" else -1
            deepest = depth if deepest is None else max(deepest, depth)
    return deepest or 0


@pytest.mark.parametrize("raw", [
    b'{"a": [1, {"b": "[[[{{"}], "c": "]]}"}', b'[[["x"]]]', b'"[[["', b"",
    b'{"a": "\\"[[[", "b": [[]]}', b'[{"k": "v\\\\"}, [[["]"]]]]',
    b'{"x": ' + b"[" * 300 + b"]" * 300 + b"}", b'["\\\\\\"[", [[]]]',
    b"[]" * 50 + b"[[[[]]]]", b"]][[", b"[[[" + b"[]" * 40,
])
def test_json_depth_ignores_strings(raw: bytes) -> None:
    assert json_depth(raw) == _depth_by_scanning(raw)


def test_json_depth_of_random_texts() -> None:
    """Texts built from brackets, quotes, backslashes and filler, balanced or not, with
    strings that hold brackets and escapes: the C-speed passes agree with the scan."""
    rng = random.Random(1616)
    alphabet = [b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b":", b","]
    for _ in range(3000):
        weights = [rng.random() for _ in alphabet]
        raw = b"".join(rng.choices(alphabet, weights, k=rng.randrange(60)))
        if rng.random() < 0.3:  # a deep nest, past the peeling passes
            n = rng.randrange(20, 80)
            raw = b"[" * n + raw + b"]" * n
        assert json_depth(raw) == _depth_by_scanning(raw), raw


def test_json_depth_after_an_unclosed_string() -> None:
    # What follows an unclosed quote is a string to the parser too, which stops there.
    raw = b'[["unterminated ' + b"[" * 1000
    assert json_depth(raw) == 2
    with pytest.raises(InputError, match="invalid JSON"):
        json_input.load_json(raw, "x")


@pytest.mark.parametrize("text, value", [("0x", 0), ("0x00", 0), ("0xff", 255), ("0XfF", 255),
                                         ("0x:bigint 0x10", 16), (" 0x10 ", 16)])
def test_quantities(text: str, value: int) -> None:
    assert parse_quantity(text, allow_bigint_marker=True) == value


@pytest.mark.parametrize("text", ["0x0x4", "0x0X4", "0x_1", "0x1_0", "0x+1", "0x-1", "0x 1",
                                  "0xg", "0x\u0660", "0x" + "f" * 1023])
def test_bad_quantities(text: str) -> None:
    with pytest.raises(InputError):
        parse_quantity(text)


def test_quantity_width() -> None:
    assert parse_quantity("0x" + "f" * 16, bits=64) == (1 << 64) - 1
    with pytest.raises(InputError, match="does not fit in 64 bits"):
        parse_quantity("0x1" + "0" * 16, bits=64)


def test_load_json_depth_limit_with_few_and_many_brackets() -> None:
    limit = json_input.MAX_JSON_DEPTH
    assert json_input.load_json(b"[" * limit + b"]" * limit, "x") is not None
    with pytest.raises(InputError, match="nested deeper"):
        json_input.load_json(b"[" * (limit + 1) + b"]" * (limit + 1), "x")
    wide = b"[" + b",".join([b"[{}]"] * 400) + b"]"  # many brackets, depth 3
    assert len(json_input.load_json(wide, "x")) == 400


def test_a_fork_filter_checks_only_the_entries_it_runs() -> None:
    test = _test()
    test["post"]["London"] = [{"indexes": {"data": 9, "gas": 0, "value": 0}, "hash": "0x00"}]
    cases = list(statetest.iter_cases({"t": test}, "Berlin"))
    assert [(fork, index) for _, _, fork, index in cases] == [("Berlin", i) for i in range(6)]
    with pytest.raises(statetest.FixtureError, match="London.*indexes: data"):
        list(statetest.iter_cases({"t": test}, "London"))
    with pytest.raises(statetest.FixtureError, match="London.*indexes: data"):
        list(statetest.iter_cases({"t": test}))
    with pytest.raises(statetest.FixtureError, match="not a state test"):
        list(statetest.iter_cases({"t": {"post": []}}, "Berlin"))


def test_a_malformed_case_is_a_fixture_error_naming_it() -> None:
    # Both ways a case's values can be bad (a bad hex value, a missing field), each its
    # own error type: the native build gives a caught exception's name one type.
    bad_hex = _test()
    bad_hex["env"]["currentNumber"] = "0xzz"
    with pytest.raises(statetest.FixtureError, match=r"t \(Berlin #0\): .*0xzz"):
        statetest.run_case_checked("t", bad_hex, "Berlin", 0)
    missing = _test()
    del missing["env"]["currentGasLimit"]
    with pytest.raises(statetest.FixtureError, match="missing or malformed KeyError"):
        statetest.run_case_checked("t", missing, "Berlin", 0)


@pytest.mark.parametrize("raw", [b"\xff\xfe garbage", b'{"a": 1' + b"0" * 5000 + b"}"])
def test_load_json_refuses_undecodable_text_and_huge_integers(raw: bytes) -> None:
    with pytest.raises(InputError, match="^x: invalid JSON"):
        json_input.load_json(raw, "x")
