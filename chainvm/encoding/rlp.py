"""Recursive Length Prefix encoding (Ethereum yellow paper, appendix B).

Items are bytes or (nested) lists of items. Decoding is strict: non-canonical
lengths, single bytes wrapped as strings and trailing data raise RLPError.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

RLPItem: TypeAlias = bytes | list["RLPItem"]


class RLPError(ValueError):
    pass


def _length_prefix(length: int, short_base: int) -> bytes:
    if length < 56:
        return bytes([short_base + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([short_base + 55 + len(size)]) + size


# Prefixes of short strings and lists, and the one-byte encodings of 0..127: encoding
# spends its time on these (headers, receipts, transactions are lists of short items).
_STRING_PREFIX: Final = [bytes((0x80 + n,)) for n in range(56)]
_LIST_PREFIX: Final = [bytes((0xC0 + n,)) for n in range(56)]
_SMALL_INT: Final = [b"\x80"] + [bytes((i,)) for i in range(1, 0x80)]


def _encode_int(value: int) -> bytes:
    if value < 0x80:
        if value < 0:
            raise RLPError("cannot encode a negative integer")
        return _SMALL_INT[value]
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    n = len(raw)
    if n < 56:
        return _STRING_PREFIX[n] + raw
    return _length_prefix(n, 0x80) + raw


def string_header(length: int) -> bytes:
    """The prefix of a string of `length` bytes (not for one byte below 0x80, which is
    its own encoding)."""
    return _length_prefix(length, 0x80)


def list_header(length: int) -> bytes:
    """The prefix of a list whose items' encodings take `length` bytes."""
    return _length_prefix(length, 0xC0)


def _encode_list(items: list[Any] | tuple[Any, ...]) -> bytes:
    parts: list[bytes] = []
    append = parts.append
    for x in items:
        t = type(x)
        if t is bytes:
            n = len(x)
            if n == 1 and x[0] < 0x80:
                append(x)
            elif n < 56:
                append(_STRING_PREFIX[n] + x)
            else:
                append(_length_prefix(n, 0x80) + x)
        elif t is int:
            append(_SMALL_INT[x] if 0 <= x < 0x80 else _encode_int(x))
        elif t is list or t is tuple:
            append(_encode_list(x))
        else:
            append(encode(x))
    body = b"".join(parts)
    n = len(body)
    if n < 56:
        return _LIST_PREFIX[n] + body
    return _length_prefix(n, 0xC0) + body


def encode(item: object) -> bytes:
    t = type(item)
    if t is list or t is tuple:
        return _encode_list(item)  # type: ignore[arg-type]
    if t is int:
        return _encode_int(item)  # type: ignore[arg-type]
    if isinstance(item, (bytes, bytearray)):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _length_prefix(len(item), 0x80) + bytes(item)
    if isinstance(item, (list, tuple)):
        return _encode_list(item)
    if isinstance(item, int) and not isinstance(item, bool):
        return _encode_int(int(item))
    raise RLPError(f"cannot encode {type(item).__name__}")


# Lists nest at most this deep. No transaction, block, receipt or trie node nests more
# than a few levels; the bound keeps hostile input from recursing until the stack ends
# (the native build's recursion is C recursion, which no RecursionError stops).
MAX_RLP_DEPTH = 256


def _decode_at(data: bytes, pos: int, depth: int = 0) -> tuple[RLPItem, int]:
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
    if depth >= MAX_RLP_DEPTH:
        raise RLPError(f"lists nested too deeply (more than {MAX_RLP_DEPTH} levels)")
    items: list[RLPItem] = []
    p = start
    while p < end:
        item, p = _decode_at(data, p, depth + 1)
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
