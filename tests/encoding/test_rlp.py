import json

import pytest

from chainvm.encoding.rlp import RLPError, decode, decode_int, encode
from chainvm.testing.fixtures import ethereum_tests


def test_round_trips() -> None:
    for item in [b"", b"\x00", b"\x7f", b"\x80", b"a" * 55, b"a" * 56, [], [b"", [b"x"]],
                 [b"a" * 100] * 3]:
        assert decode(encode(item)) == item
    assert encode(0) == b"\x80" and encode(1024) == b"\x82\x04\x00"


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
