"""Filecoin addresses: ID (0), secp256k1 (1), actor (2) and BLS (3).

Byte form is a protocol byte followed by the payload (a uvarint for ID
addresses). String form is a network prefix, the protocol digit and either
the decimal ID or base32(payload || blake2b-32 checksum).
"""

from __future__ import annotations

import base64
import builtins
import hashlib

from chainvm.fvm.codec import decode_uvarint, encode_uvarint

ID = 0
SECP256K1 = 1
ACTOR = 2
BLS = 3

PAYLOAD_HASH_LEN = 20
BLS_PUBKEY_LEN = 48
CHECKSUM_LEN = 4
MAX_ID = (1 << 63) - 1


class AddressError(ValueError):
    pass


def _blake2b(data: bytes, size: int) -> bytes:
    return hashlib.blake2b(data, digest_size=size).digest()


class Address:
    __slots__ = ("_bytes", "_hash", "payload", "protocol")

    def __init__(self, protocol: int, payload: bytes) -> None:
        if protocol == ID:
            try:
                value, pos = decode_uvarint(payload)
            except ValueError as exc:
                raise AddressError(f"invalid ID address payload: {exc}") from None
            if pos != len(payload) or value > MAX_ID:
                raise AddressError("invalid ID address payload")
        elif protocol in (SECP256K1, ACTOR):
            if len(payload) != PAYLOAD_HASH_LEN:
                raise AddressError("invalid hash address payload length")
        elif protocol == BLS:
            if len(payload) != BLS_PUBKEY_LEN:
                raise AddressError("invalid BLS address payload length")
        else:
            raise AddressError(f"unknown address protocol {protocol}")
        self.protocol = protocol
        self.payload = bytes(payload)
        self._bytes = bytes([protocol]) + self.payload
        self._hash = hash(self._bytes)

    # constructors ---------------------------------------------------------
    @classmethod
    def new_id(cls, n: int) -> Address:
        if n < 0 or n > MAX_ID:
            raise AddressError("ID out of range")
        return cls(ID, encode_uvarint(n))

    @classmethod
    def new_secp256k1(cls, pubkey: bytes) -> Address:
        return cls(SECP256K1, _blake2b(pubkey, PAYLOAD_HASH_LEN))

    @classmethod
    def new_actor(cls, data: bytes) -> Address:
        return cls(ACTOR, _blake2b(data, PAYLOAD_HASH_LEN))

    @classmethod
    def new_bls(cls, pubkey: bytes) -> Address:
        return cls(BLS, pubkey)

    @classmethod
    def from_bytes(cls, data: bytes) -> Address:
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"an address is read from bytes, not {type(data).__name__}")
        if not data:
            raise AddressError("empty address")
        return cls(data[0], data[1:])

    @classmethod
    def parse(cls, text: str) -> Address:
        if not isinstance(text, str):
            raise TypeError(f"an address is parsed from a string, not {type(text).__name__}")
        if len(text) < 3 or text[0] not in "ft":
            raise AddressError(f"invalid address {text!r}")
        try:
            protocol = int(text[1])
        except ValueError as exc:
            raise AddressError(f"invalid address protocol in {text!r}") from exc
        body = text[2:]
        if protocol == ID:
            if not body.isdigit() or len(body) > 20:
                raise AddressError(f"invalid ID address {text!r}")
            return cls.new_id(int(body))
        if protocol not in (SECP256K1, ACTOR, BLS):
            raise AddressError(f"unknown address protocol in {text!r}")
        padded = body.upper() + "=" * (-len(body) % 8)
        try:
            raw = base64.b32decode(padded)
        except ValueError as exc:
            raise AddressError(f"invalid base32 in {text!r}") from exc
        payload, checksum = raw[:-CHECKSUM_LEN], raw[-CHECKSUM_LEN:]
        addr = cls(protocol, payload)
        if addr.checksum() != checksum:
            raise AddressError(f"bad checksum in {text!r}")
        return addr

    # accessors ------------------------------------------------------------
    @property
    def bytes(self) -> bytes:
        return self._bytes

    @property
    def id(self) -> int:
        if self.protocol != ID:
            raise AddressError("not an ID address")
        return decode_uvarint(self.payload)[0]

    def checksum(self) -> builtins.bytes:
        return _blake2b(self._bytes, CHECKSUM_LEN)

    def to_string(self, network: str = "f") -> str:
        if self.protocol == ID:
            return f"{network}0{self.id}"
        body = base64.b32encode(self.payload + self.checksum()).decode().lower().rstrip("=")
        return f"{network}{self.protocol}{body}"

    def is_pubkey(self) -> bool:
        return self.protocol in (SECP256K1, BLS)

    def to_cbor(self) -> builtins.bytes:
        return self._bytes

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        return f"Address({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Address) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return self._hash
