"""dag-cbor, CIDs, varints and big integers."""

from __future__ import annotations

import pytest

from chainvm.fvm.codec import (
    CID,
    DecodeError,
    code_cid,
    decode_bigint,
    decode_uvarint,
    dumps,
    encode_bigint,
    encode_uvarint,
    loads,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65536, "1a00010000"),
        (2**32, "1b0000000100000000"),
        (-1, "20"),
        (-25, "3818"),
        (b"", "40"),
        (b"\x01\x02", "420102"),
        ("a", "6161"),
        ([], "80"),
        ([1, [2]], "82018102"),
        (None, "f6"),
        (True, "f5"),
        (False, "f4"),
    ],
)
def test_canonical_encoding(value: object, encoded: str) -> None:
    assert dumps(value).hex() == encoded
    assert loads(bytes.fromhex(encoded)) == value


def test_map_keys_sorted_length_first() -> None:
    # dag-cbor orders keys by length, then bytes
    assert dumps({"bb": 1, "a": 2, "c": 3}) == bytes.fromhex("a361610261630362626201")


def test_cid_roundtrip_and_links() -> None:
    data = dumps([1, 2, 3])
    cid = CID.for_cbor(data)
    text = str(cid)
    assert text.startswith("bafy2bzace")
    assert CID.parse(text) == cid
    assert CID.from_bytes(cid.bytes) == cid
    # a link is tag 42 over a zero byte and the binary CID
    enc = dumps([cid])
    assert enc[:3] == bytes([0x81, 0xD8, 0x2A])
    assert loads(enc) == [cid]


def test_known_cid_of_empty_array() -> None:
    # lotus's EmptyObjectCid: the CID of an empty CBOR array
    assert str(CID.for_cbor(b"\x80")) == (
        "bafy2bzacebc3bt6cedhoyw34drrmjvazhu4oj25er2ebk4u445pzycvq4ta4a"
    )


def test_code_cid_is_identity() -> None:
    c = code_cid("fil/1/account")
    assert c.bytes == b"\x01\x55\x00\x0dfil/1/account"
    assert CID.from_bytes(c.bytes) == c


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 2**63 - 1])
def test_uvarint_roundtrip(n: int) -> None:
    enc = encode_uvarint(n)
    assert decode_uvarint(enc) == (n, len(enc))


@pytest.mark.parametrize(
    ("n", "encoded"), [(0, ""), (1, "0001"), (256, "000100"), (-1, "0101"), (-258, "010102")]
)
def test_bigint(n: int, encoded: str) -> None:
    assert encode_bigint(n).hex() == encoded
    assert decode_bigint(bytes.fromhex(encoded)) == n


def test_bigint_rejects_bad_sign() -> None:
    with pytest.raises(DecodeError):
        decode_bigint(b"\x02\x01")


def test_loads_rejects_garbage() -> None:
    with pytest.raises(DecodeError):
        loads(b"")
    with pytest.raises(DecodeError):
        loads(b"\x82\x01")


def test_non_utf8_text_roundtrips() -> None:
    # mainnet deal labels are text strings that are not always valid UTF-8
    raw = bytes.fromhex("62a1ff")
    assert dumps(loads(raw)) == raw


@pytest.mark.parametrize(
    "data",
    [
        b"",  # nothing at all
        b"\x01",  # a version and no codec
        b"\x01\x71\xa0\xe4\x02\x20" + b"\x00" * 31,  # a digest one byte short
        b"\x12\x20" + b"\x00" * 5,  # a CIDv0 multihash cut short
        b"\x01\x71\xff",  # a varint that ends mid-way
    ],
)
def test_truncated_cid_bytes_are_a_decode_error(data: bytes) -> None:
    # these used to escape as IndexError, or (CIDv0) to be accepted with a short digest
    with pytest.raises(DecodeError):
        CID.from_bytes(data)


@pytest.mark.parametrize("text", ["b", "x", "b!!!", "bafy"])
def test_cid_text_that_is_not_a_cid(text: str) -> None:
    with pytest.raises(DecodeError):
        CID.parse(text)


def test_cid_constructors_refuse_other_types() -> None:
    with pytest.raises(TypeError, match="string"):
        CID.parse(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        CID.from_bytes("bafy")  # type: ignore[arg-type]


@pytest.mark.parametrize("link", [b"\xd8\x2a\x41\x00", b"\xd8\x2a\x40", b"\xd8\x2a\x42\x00\x01"])
def test_link_with_a_cut_cid_is_a_decode_error(link: bytes) -> None:
    with pytest.raises(DecodeError):
        loads(link)


def test_trailing_bytes_are_a_decode_error() -> None:
    # cbor2 stops after the first item: these used to decode as 0 and [1, 2]
    with pytest.raises(DecodeError, match="trailing"):
        loads(b"\x00\x00")
    with pytest.raises(DecodeError, match="trailing"):
        loads(b"\x82\x01\x02\xff")
    # method parameters, read as the reference VM's unmarshallers read them
    assert loads(b"\x82\x01\x02\xff", allow_trailing=True) == [1, 2]


@pytest.mark.parametrize(("hex_item", "why"), [
    ("f93c00", "float"),  # half-precision 1.0
    ("fb3ff0000000000000", "float"),  # double 1.0
    ("c249010000000000000000", "wider than 64 bits"),  # tag 2: 2^64
    ("c349010000000000000000", "wider than 64 bits"),  # tag 3: -2^64 - 1
    ("f7", "undefined"),
    ("f8ff", "CBORSimpleValue"),
    ("d90102820102", "set"),  # tag 258
    ("c074323031332d30332d32315432303a30343a30305a", "datetime"),  # tag 0
    ("a10102", "map key of type int"),
    ("8201a1f5f6", "map key of type bool"),  # nested: [1, {true: null}]
])
def test_cbor_the_chain_cannot_hold_is_a_decode_error(hex_item: str, why: str) -> None:
    """cbor2 decodes these into floats, sets, dates, bignums and simple values; cbor-gen
    refuses each, so actor state or parameters holding one must not reach actor code
    (where 1.0 would pass for 1 and a 65-bit int for a uint64)."""
    with pytest.raises(DecodeError, match=why):
        loads(bytes.fromhex(hex_item))


def test_cbor_integers_at_the_64_bit_limits_decode() -> None:
    assert loads(bytes.fromhex("1bffffffffffffffff")) == 2**64 - 1
    assert loads(bytes.fromhex("3bffffffffffffffff")) == -(2**64)
    assert loads(bytes.fromhex("83f5f4f6")) == [True, False, None]
