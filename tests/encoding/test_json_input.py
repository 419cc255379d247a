"""Hex data of fixtures, dumps and CLI flags: hex digits only."""

from __future__ import annotations

import pytest

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
