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


# One-byte prefixes of short strings and lists, indexed by length.
_SHORT_STRING = [bytes([0x80 + n]) for n in range(56)]
_SHORT_LIST = [bytes([0xC0 + n]) for n in range(56)]
_SMALL_INT = [b"\x80"] + [bytes([n]) for n in range(1, 128)]  # 0 is the empty string


def encode(item: object) -> bytes:
    kind = type(item)
    if kind is list or kind is tuple:
        # Transactions, headers and trie nodes are lists of byte strings and integers: those
        # are encoded here, without a call each (the hot path of block building).
        parts = []
        for x in item:  # type: ignore[attr-defined]
            t = type(x)
            if t is bytes:
                n = len(x)
                if n == 1 and x[0] < 0x80:
                    parts.append(x)
                elif n < 56:
                    parts.append(_SHORT_STRING[n] + x)
                else:
                    parts.append(_length_prefix(n, 0x80) + x)
            elif t is int and x >= 0:
                if x < 0x80:
                    parts.append(_SMALL_INT[x])
                else:
                    raw = x.to_bytes((x.bit_length() + 7) // 8, "big")
                    n = len(raw)
                    parts.append((_SHORT_STRING[n] if n < 56 else _length_prefix(n, 0x80)) + raw)
            else:
                parts.append(encode(x))
        body = b"".join(parts)
        n = len(body)
        return (_SHORT_LIST[n] if n < 56 else _length_prefix(n, 0xC0)) + body
    if isinstance(item, (bytes, bytearray)):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _length_prefix(len(item), 0x80) + bytes(item)
    if isinstance(item, (list, tuple)):
        return encode(list(item))
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
