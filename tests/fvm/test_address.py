"""Address byte and string forms."""

from __future__ import annotations

import pytest

from chainvm.fvm.address import ACTOR, BLS, ID, SECP256K1, Address, AddressError


def test_id_address() -> None:
    a = Address.new_id(1234)
    assert a.protocol == ID
    assert a.bytes == b"\x00\xd2\x09"
    assert str(a) == "f01234"
    assert Address.parse("f01234") == a
    assert Address.parse("t01234") == a
    assert a.id == 1234


def test_secp_address_from_vectors() -> None:
    # sender of a conformance vector: bytes and string as lotus prints them
    raw = bytes.fromhex("0169e833494c911d6afe2fe13d215e4c5cf7076255")
    a = Address.from_bytes(raw)
    assert a.protocol == SECP256K1
    assert str(a) == "f1nhudgskmseowv7rp4e6scxsmlt3qoysvpn73tuy"
    assert Address.parse(str(a)) == a


def test_actor_and_bls_roundtrip() -> None:
    a = Address.new_actor(b"some data")
    assert a.protocol == ACTOR and len(a.payload) == 20
    assert Address.parse(str(a)) == a
    b = Address.new_bls(bytes(range(48)))
    assert b.protocol == BLS
    assert str(b).startswith("f3")
    assert Address.parse(str(b)) == b
    assert Address.from_bytes(b.bytes) == b


def test_checksum_is_verified() -> None:
    good = "f1nhudgskmseowv7rp4e6scxsmlt3qoysvpn73tuy"
    bad = good[:-1] + ("a" if good[-1] != "a" else "b")
    with pytest.raises(AddressError):
        Address.parse(bad)


@pytest.mark.parametrize(
    "raw", [b"", b"\x04\x00", b"\x01\x00", b"\x03" + b"\x00" * 47, b"\x00\x80"]
)
def test_invalid_bytes(raw: bytes) -> None:
    with pytest.raises(AddressError):
        Address.from_bytes(raw)


@pytest.mark.parametrize("text", ["", "x01", "f9abc", "f0abc", "f1!!!!"])
def test_invalid_strings(text: str) -> None:
    with pytest.raises(AddressError):
        Address.parse(text)
