"""Hex data of fixtures, dumps and CLI flags: hex digits only; JSON documents read as\n`json` reads them."""

from __future__ import annotations

import json
import random

import pytest

from chainvm.encoding import json_input
from chainvm.encoding.json_input import InputError, parse_address, parse_data


@pytest.mark.parametrize("text, value", [
    ("", b""), ("0x", b""), ("0x6001", b"\x60\x01"), ("6001", b"\x60\x01"),
    ("0XaBcD", b"\xab\xcd"),
])
def test_hex_data(text: str, value: bytes) -> None:
    assert parse_data(text) == value


@pytest.mark.parametrize("text", [
    "60 01", "0x60 01", " 6001", "6001 ", "0x6001\n", "\t0x6001", "60\r\n01", "60\x0b01",
    "60_01", "0x0x60", "0xabc", "abc", "0xg0", "+601", "0x\u0660\u0661", "60\u00a001",
])
def test_hex_data_with_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="^code: bad hex data"):
        parse_data(text, "code")


def test_addresses_are_strict_too() -> None:
    address = "0x" + "ab" * 20
    assert parse_address(address) == bytes([0xAB]) * 20
    with pytest.raises(InputError):
        parse_address("0x" + "ab " * 18 + "abab")  # 20 bytes once the blanks are skipped


def _random_json(rng: random.Random, depth: int = 0) -> str:
    """A JSON text with what readers disagree on: integers of 1 to 140 digits, floats in
    every notation, escapes (surrogate pairs and lone ones), non-ASCII, any whitespace."""
    space = "".join(rng.choices(" \t\n\r", k=rng.choice((0, 0, 1, 3))))
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        digits = rng.choice((1, 2, 19, 20, 78, 100, 101, 102, 140))
        text = str(rng.randrange(10 ** (digits - 1), 10 ** digits))
        return space + ("-" if rng.random() < 0.3 else "") + text
    if kind == 1:
        return space + rng.choice(("0.5", "-0.0", "1e400", "-1E-400", "1.5e+3", "NaN",
                                   "Infinity", "123456789012345678901234.5", "2.5E10"))
    if kind == 2:
        pieces = rng.choices(["a", "0", "9" * 120, "\\n", '\\"', "\\\\", "\\u00e9",
                              "\\ud83d\\ude00", "\\ud800", "é", "€", ": 1", "[", "{"], k=rng.randrange(6))
        return space + '"' + "".join(pieces) + '"'
    if kind == 3:
        return space + rng.choice(("true", "false", "null"))
    if kind == 4:
        return space + '"0x' + "".join(rng.choices("0123456789abcdef0", k=rng.randrange(300))) + '"'
    if kind in (5, 6):
        items = [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
        return space + "[" + ",".join(items) + space + "]"
    items = [f'"k{rng.randrange(3)}"{space}:{_random_json(rng, depth + 1)}'
             for _ in range(rng.randrange(4))]
    return space + "{" + ",".join(items) + "}" + space


def _read_by_json(raw: bytes) -> tuple[str, str]:
    """What `json` alone makes of a text, integer literals bounded as load_json bounds them."""
    def bounded(text: str) -> int:
        if len(text.lstrip("-")) > json_input.MAX_INT_DIGITS:
            raise ValueError("long")
        return int(text)
    try:
        return "value", repr(json.loads(raw, parse_int=bounded))
    except ValueError:
        return "refused", ""


def test_load_json_reads_every_text_as_json_does() -> None:
    """The fast reader (msgspec) and the checks around it give the objects `json` gives,
    and refuse what load_json refused with `json` alone: on generated documents, some of
    them broken by a deleted, doubled or inserted byte."""
    rng = random.Random(2412)
    fast = 0
    for _ in range(4000):
        raw = _random_json(rng).encode("utf-8", "surrogatepass")
        if rng.random() < 0.25 and raw:
            at = rng.randrange(len(raw))
            raw = rng.choice((raw[:at] + raw[at + 1:], raw[:at] + raw[at:at + 1] + raw[at:],
                              raw[:at] + bytes([rng.randrange(256)]) + raw[at:]))
        try:
            got = "value", repr(json_input.load_json(raw, "x"))
        except InputError:
            got = "refused", ""
        assert got == _read_by_json(raw), raw
        fast += not json_input.may_hold_long_integer(raw)
    assert fast > 2000  # most texts take the fast reader


@pytest.mark.parametrize("before", ["", " ", "[", "[1,", '{"a":', '{"a" :\n\t', "[-", "[ -"])
def test_a_long_integer_literal_is_always_seen(before: str) -> None:
    for digits in (101, 102, 400):
        raw = (before + "7" * digits).encode()
        assert json_input.may_hold_long_integer(raw)
        with pytest.raises(InputError, match=f"integer literal of {digits + before.endswith('-')}"):
            json_input.load_json(raw + b"]" * before.count("[") + b"}" * before.count("{"), "x")
    assert not json_input.may_hold_long_integer(("[" + "7" * 100 + "]").encode())
