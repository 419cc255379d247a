import json
import sys

import pytest

from chainvm.encoding.rlp import MAX_RLP_DEPTH, RLPError, decode, decode_int, encode
from chainvm.testing.fixtures import ethereum_tests


def test_round_trips() -> None:
    for item in [b"", b"\x00", b"\x7f", b"\x80", b"a" * 55, b"a" * 56, [], [b"", [b"x"]],
                 [b"a" * 100] * 3]:
        assert decode(encode(item)) == item
    assert encode(0) == b"\x80" and encode(1024) == b"\x82\x04\x00"


def _reference(item: object) -> bytes:
    """The yellow paper's definition, written plainly (no fast paths)."""
    def prefix(length: int, base: int) -> bytes:
        if length < 56:
            return bytes([base + length])
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        return bytes([base + 55 + len(size)]) + size

    if isinstance(item, int):
        return _reference(item.to_bytes((item.bit_length() + 7) // 8, "big"))
    if isinstance(item, (bytes, bytearray)):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return prefix(len(item), 0x80) + bytes(item)
    body = b"".join(_reference(x) for x in item)  # type: ignore[attr-defined]
    return prefix(len(body), 0xC0) + body


def test_lists_of_strings_and_integers_match_the_definition() -> None:
    ints = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 2**64, 2**256 - 1, 2**500]
    strings = [b"", b"\x00", b"\x7f", b"\x80", b"\xff", b"a" * 55, b"a" * 56, b"b" * 1000,
               bytearray(b"\x01"), bytearray(b"xyz")]
    items: list[object] = [[i] for i in ints] + [[s] for s in strings]
    items += [ints, strings, ints + strings, [ints, [strings, [[]]], ()], tuple(ints),
              [b"c" * 30, b"d" * 30], [[b"e" * 60]] * 3]
    for item in items:
        assert encode(item) == _reference(item), item


@pytest.mark.parametrize("bad", [[-1], [True], [None], [[b"x", -5]], ["text"]])
def test_rejects_what_is_not_an_item(bad: list[object]) -> None:
    with pytest.raises(RLPError):
        encode(bad)


@pytest.mark.parametrize("raw", ["81", "8100", "b800", "b837" + "00" * 55, "c1", "c0c0",
                                 "b90000", "f800"])
def test_rejects_malformed(raw: str) -> None:
    with pytest.raises(RLPError):
        decode(bytes.fromhex(raw))


def test_decode_int_rejects_leading_zeros() -> None:
    with pytest.raises(RLPError):
        decode_int(b"\x00\x01")


def _to_item(value: object) -> object:
    if isinstance(value, list):
        return [_to_item(v) for v in value]
    if isinstance(value, int):
        return value
    assert isinstance(value, str)
    if value.startswith("#"):
        return int(value[1:])
    return value.encode()


def _cases() -> list[tuple[str, dict]]:
    folder = ethereum_tests("basic")
    if folder is None:
        return []
    out = []
    for path in sorted(folder.rglob("*.json")):
        if "RLPTests" not in str(path):
            continue
        for name, case in json.loads(path.read_text()).items():
            out.append((f"{path.name}:{name}", case))
    return out


@pytest.mark.parametrize("name,case", _cases() or [pytest.param(
    "", {}, marks=pytest.mark.skip(reason="basic fixtures not found (../shared/fixtures)"))])
def test_rlp_fixtures(name: str, case: dict) -> None:
    expected = bytes.fromhex(case["out"].removeprefix("0x"))
    if case["in"] == "INVALID":
        with pytest.raises(RLPError):
            decode(expected)
    elif case["in"] == "VALID":
        decode(expected)
    else:
        assert encode(_to_item(case["in"])) == expected


@pytest.mark.parametrize("limit", [1000, 10**6])
def test_lists_nested_past_the_depth_bound_are_an_rlp_error(limit: int) -> None:
    """Deep lists are refused by the decoder's own bound, whatever the recursion limit
    (py_ecc, once imported, raises it to 10^6; the native build recurses in C, where a
    RecursionError never comes and the process would crash instead)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        for depth in (MAX_RLP_DEPTH + 1, 2000, 100_000):  # each 0xc1 opens a list
            with pytest.raises(RLPError, match="nested too deeply"):
                decode(b"\xc1" * depth + b"\x80")
        nested: object = b""
        for _ in range(MAX_RLP_DEPTH):  # as deep as allowed: still decoded
            nested = [nested]
        assert decode(encode(nested)) == nested
        with pytest.raises(RLPError, match="nested too deeply"):
            decode(encode([nested]))
    finally:
        sys.setrecursionlimit(old)
