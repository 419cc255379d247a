"""RLE+ bitfields, the chain's encoding of sets of integers (sector numbers,
partition indexes).

The bit stream is read least-significant bit first within each byte: a
2-bit version (0), the value of the first run, then run lengths, each as
``1`` (a run of one), ``01`` + 4 bits (2 to 15), or ``00`` + a LEB128
varint whose bytes are themselves laid out in the bit stream. Runs
alternate between unset and set bits; a zero-length run, or the end of the
data, ends the set.
"""

from __future__ import annotations

from collections.abc import Iterable


class BitfieldError(ValueError):
    pass


class _BitReader:
    def __init__(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray)):  # a block or field of another type
            raise BitfieldError(f"a bit field is a byte string, not {type(data).__name__}")
        self.value = int.from_bytes(data, "little")
        self.left = len(data) * 8

    def read(self, n: int) -> int:
        # like the reference reader, bits past the end read as zeros
        out = self.value & ((1 << n) - 1)
        self.value >>= n
        self.left -= n
        return out

    def exhausted(self) -> bool:
        return self.value == 0


def decode_runs(data: bytes) -> list[tuple[bool, int]]:
    if not data:
        return []
    r = _BitReader(data)
    if r.read(2) != 0:
        raise BitfieldError("unsupported RLE+ version")
    value = bool(r.read(1))
    runs: list[tuple[bool, int]] = []
    while not r.exhausted():
        if r.read(1):
            length = 1
        elif r.read(1):
            length = r.read(4)
        else:
            length = 0
            shift = 0
            while True:
                byte = r.read(8)
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
                if shift > 63:
                    raise BitfieldError("RLE+ varint too long")
        if length == 0:
            # a zero-length run (often trailing padding) ends the stream
            break
        runs.append((value, length))
        value = not value
    return runs


# A few bytes of RLE+ can name 2**63 bits: expanding them into a set would never finish.
# Set bits past this many are refused (count, ranges, contains and union work on the runs
# and have no such limit); lotus expands its bit fields with a limit too (`All(max)`).
MAX_EXPANDED_BITS = 1 << 22


def decode(data: bytes) -> set[int]:
    runs = decode_runs(data)
    if sum(length for value, length in runs if value) > MAX_EXPANDED_BITS:
        raise BitfieldError(f"bit field sets more than {MAX_EXPANDED_BITS} bits, too many to "
                            "expand")
    out: set[int] = set()
    pos = 0
    for value, length in runs:
        if value:
            out.update(range(pos, pos + length))
        pos += length
    return out


def count(data: bytes) -> int:
    return sum(length for value, length in decode_runs(data) if value)


class _BitWriter:
    def __init__(self) -> None:
        self.value = 0
        self.n = 0

    def write(self, bits: int, n: int) -> None:
        self.value |= (bits & ((1 << n) - 1)) << self.n
        self.n += n

    def bytes(self) -> bytes:
        # trailing zero bytes are dropped: missing bits read as zeros
        return self.value.to_bytes((self.n + 7) // 8, "little").rstrip(b"\x00")


def ranges(data: bytes) -> list[tuple[int, int]]:
    """The set bits as half-open [start, end) ranges, without expanding them."""
    out = []
    pos = 0
    for value, length in decode_runs(data):
        if value:
            out.append((pos, pos + length))
        pos += length
    return out


def contains(data: bytes, n: int) -> bool:
    return any(start <= n < end for start, end in ranges(data))


def last(data: bytes) -> int | None:
    found = ranges(data)
    return found[-1][1] - 1 if found else None


def union(a: bytes, b: bytes) -> bytes:
    """Merge two bitfields run by run (either may hold huge runs)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges(a) + ranges(b)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return encode_ranges(merged)


def encode(values: Iterable[int]) -> bytes:
    items = sorted(set(values))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        spans.append((items[i], items[j] + 1))
        i = j + 1
    return encode_ranges(spans)


def encode_ranges(spans: list[tuple[int, int]]) -> bytes:
    """RLE+ of sorted, disjoint, non-adjacent [start, end) ranges."""
    if not spans:
        return b""
    runs: list[tuple[bool, int]] = []
    pos = 0
    for start, end in spans:
        if start > pos:
            runs.append((False, start - pos))
        runs.append((True, end - start))
        pos = end
    w = _BitWriter()
    w.write(0, 2)
    w.write(1 if runs[0][0] else 0, 1)
    for _, length in runs:
        if length == 1:
            w.write(1, 1)
        elif length < 16:
            w.write(0b10, 2)  # bits "0" then "1", least significant first
            w.write(length, 4)
        else:
            w.write(0, 2)
            while True:
                byte = length & 0x7F
                length >>= 7
                w.write(byte | (0x80 if length else 0), 8)
                if not length:
                    break
    return w.bytes()
