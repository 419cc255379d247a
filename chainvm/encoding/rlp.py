"""Recursive Length Prefix encoding (Ethereum yellow paper, appendix B).

Items are bytes or (nested) lists of items. Decoding is strict: non-canonical
lengths, single bytes wrapped as strings and trailing data raise RLPError.
"""

from __future__ import annotations

from typing import TypeAlias

RLPItem: TypeAlias = bytes | list["RLPItem"]


class RLPError(ValueError):
    pass


def _length_prefix(length: int, short_base: int) -> bytes:
    if length < 56:
        return bytes([short_base + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([short_base + 55 + len(size)]) + size


def encode(item: object) -> bytes:
    if isinstance(item, (bytes, bytearray)):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _length_prefix(len(item), 0x80) + bytes(item)
    if isinstance(item, (list, tuple)):
        body = b"".join([encode(x) for x in item])
        return _length_prefix(len(body), 0xC0) + body
    if isinstance(item, int) and not isinstance(item, bool):
        if item < 0:
            raise RLPError("cannot encode a negative integer")
        return encode(item.to_bytes((item.bit_length() + 7) // 8, "big"))
    raise RLPError(f"cannot encode {type(item).__name__}")


def _decode_at(data: bytes, pos: int) -> tuple[RLPItem, int]:
    if pos >= len(data):
        raise RLPError("unexpected end of input")
    b0 = data[pos]
    if b0 < 0x80:
        return data[pos:pos + 1], pos + 1
    if b0 < 0xB8:
        length = b0 - 0x80
        start = pos + 1
        end = start + length
        if end > len(data):
            raise RLPError("string longer than input")
        if length == 1 and data[start] < 0x80:
            raise RLPError("single byte below 0x80 must not be prefixed")
        return data[start:end], end
    if b0 < 0xC0:
        ll = b0 - 0xB7
        length, start = _long_length(data, pos, ll)
        end = start + length
        if end > len(data):
            raise RLPError("string longer than input")
        return data[start:end], end
    if b0 < 0xF8:
        length = b0 - 0xC0
        start = pos + 1
    else:
        ll = b0 - 0xF7
        length, start = _long_length(data, pos, ll)
    end = start + length
    if end > len(data):
        raise RLPError("list longer than input")
    items: list[RLPItem] = []
    p = start
    while p < end:
        item, p = _decode_at(data, p)
        items.append(item)
    if p != end:
        raise RLPError("list payload length mismatch")
    return items, end


def _long_length(data: bytes, pos: int, ll: int) -> tuple[int, int]:
    start = pos + 1 + ll
    if start > len(data):
        raise RLPError("length prefix longer than input")
    if data[pos + 1] == 0:
        raise RLPError("length with leading zero")
    length = int.from_bytes(data[pos + 1:start], "big")
    if length < 56:
        raise RLPError("long form used for a short length")
    return length, start


def decode(data: bytes) -> RLPItem:
    item, end = _decode_at(bytes(data), 0)
    if end != len(data):
        raise RLPError("trailing bytes after RLP item")
    return item


def decode_int(raw: RLPItem, max_bits: int = 256) -> int:
    """Decode a canonical unsigned integer (no leading zeros)."""
    if not isinstance(raw, bytes):
        raise RLPError("expected a string for an integer, got a list")
    if raw[:1] == b"\x00":
        raise RLPError("integer with leading zero bytes")
    value = int.from_bytes(raw, "big")
    if value.bit_length() > max_bits:
        raise RLPError(f"integer wider than {max_bits} bits")
    return value
