"""dag-cbor encoding, CIDs and the chain's big-integer encoding.

Decoding leans on ``cbor2`` (C accelerated); encoding is done here because the
chain hashes the exact bytes, and Go's cbor-gen always uses the shortest
header, never indefinite lengths and never floats, which is simple to
reproduce and easy to get subtly wrong through a generic library.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import cbor2

# multicodec / multihash codes used by the chain
DAG_CBOR = 0x71
RAW = 0x55
BLAKE2B_256 = 0xB220
IDENTITY = 0x00


def encode_uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class DecodeError(ValueError):
    """Bytes that are not the dag-cbor, CID or big integer they should be."""


def decode_uvarint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """Return (value, new position); DecodeError if the bytes end mid-varint or it
    runs over 64 bits."""
    shift = 0
    value = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


class CID:
    """A content identifier (v1 only; the chain never uses v0 in state)."""

    __slots__ = ("_bytes", "_hash", "codec", "digest", "mh_code")

    def __init__(self, codec: int, mh_code: int, digest: bytes) -> None:
        self.codec = codec
        self.mh_code = mh_code
        self.digest = digest
        self._bytes = (
            b"\x01"
            + encode_uvarint(codec)
            + encode_uvarint(mh_code)
            + encode_uvarint(len(digest))
            + digest
        )
        self._hash = hash(self._bytes)

    @classmethod
    def for_cbor(cls, data: bytes) -> CID:
        return cls(DAG_CBOR, BLAKE2B_256, hashlib.blake2b(data, digest_size=32).digest())

    @classmethod
    def identity(cls, data: bytes, codec: int = RAW) -> CID:
        return cls(codec, IDENTITY, data)

    @classmethod
    def from_bytes(cls, data: bytes) -> CID:
        """The CID in `data`, which holds nothing else; DecodeError if it is not one."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a CID is read from bytes, not {type(data).__name__}")
        cid, pos = cls.read(data, 0)
        if pos != len(data):
            raise DecodeError("trailing bytes after CID")
        return cid

    @classmethod
    def read(cls, data: bytes, pos: int) -> tuple[CID, int]:
        """The CID starting at `pos` and the position after it; DecodeError when the
        bytes there are not a whole CID."""
        n = len(data)
        if pos >= n:
            raise DecodeError("truncated CID")
        if data[pos] == 0x12 and pos + 1 < n and data[pos + 1] == 0x20:
            # CIDv0 (bare sha2-256 multihash); only seen in foreign CAR files
            if pos + 34 > n:
                raise DecodeError("truncated CID")
            return cls(0x70, 0x12, bytes(data[pos + 2 : pos + 34])), pos + 34
        version, pos = decode_uvarint(data, pos)
        if version != 1:
            raise DecodeError(f"unsupported CID version {version}")
        codec, pos = decode_uvarint(data, pos)
        mh_code, pos = decode_uvarint(data, pos)
        length, pos = decode_uvarint(data, pos)
        if pos + length > n:
            raise DecodeError("truncated CID")
        return cls(codec, mh_code, bytes(data[pos : pos + length])), pos + length

    @classmethod
    def parse(cls, text: str) -> CID:
        """A CID from its base32 text form (``bafy...``); DecodeError if it is not one."""
        if not isinstance(text, str):
            raise TypeError(f"a CID is parsed from a string, not {type(text).__name__}")
        if not text.startswith("b"):
            raise DecodeError(f"unsupported multibase in CID {text!r}")
        body = text[1:].upper()
        body += "=" * (-len(body) % 8)
        try:
            raw = base64.b32decode(body)
        except ValueError as exc:
            raise DecodeError(f"invalid base32 in CID {text[:80]!r}: {exc}") from None
        return cls.from_bytes(raw)

    @property
    def bytes(self) -> bytes:
        return self._bytes

    def __str__(self) -> str:
        return "b" + base64.b32encode(self._bytes).decode().lower().rstrip("=")

    def __repr__(self) -> str:
        if self.mh_code == IDENTITY:
            return f"CID(identity:{self.digest!r})"
        return f"CID({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CID) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return self._hash


def code_cid(name: str) -> CID:
    """Actor code CIDs are identity CIDs of strings such as ``fil/1/account``."""
    return CID.identity(name.encode())


# --------------------------------------------------------------------------
# encoding


def _header(major: int, n: int, out: bytearray) -> None:
    m = major << 5
    if n < 24:
        out.append(m | n)
    elif n < 0x100:
        out.append(m | 24)
        out.append(n)
    elif n < 0x10000:
        out.append(m | 25)
        out += n.to_bytes(2, "big")
    elif n < 0x100000000:
        out.append(m | 26)
        out += n.to_bytes(4, "big")
    elif n < 0x10000000000000000:
        out.append(m | 27)
        out += n.to_bytes(8, "big")
    else:
        raise ValueError(f"{n} does not fit a CBOR head (64 bits); encode it as a big integer")


def _encode(obj: Any, out: bytearray) -> None:
    if obj is None:
        out.append(0xF6)
    elif obj is True:
        out.append(0xF5)
    elif obj is False:
        out.append(0xF4)
    elif isinstance(obj, int):
        if obj >= 0:
            _header(0, obj, out)
        else:
            _header(1, -1 - obj, out)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        _header(2, len(obj), out)
        out += obj
    elif isinstance(obj, str):
        raw = obj.encode("utf-8", "surrogateescape")
        _header(3, len(raw), out)
        out += raw
    elif isinstance(obj, (list, tuple)):
        _header(4, len(obj), out)
        for item in obj:
            _encode(item, out)
    elif isinstance(obj, CID):
        out.append(0xD8)
        out.append(42)
        raw = b"\x00" + obj.bytes
        _header(2, len(raw), out)
        out += raw
    elif isinstance(obj, dict):
        # dag-cbor key order: shorter keys first, then bytewise
        items = sorted(obj.items(), key=lambda kv: (len(_key_bytes(kv[0])), _key_bytes(kv[0])))
        _header(5, len(items), out)
        for k, v in items:
            _encode(k, out)
            _encode(v, out)
    elif isinstance(obj, RawCbor):
        out += obj.data
    elif hasattr(obj, "to_cbor"):
        _encode(obj.to_cbor(), out)
    else:
        raise TypeError(f"cannot dag-cbor encode {type(obj).__name__}")


def _key_bytes(k: Any) -> bytes:
    return k.encode() if isinstance(k, str) else bytes(k)


class RawCbor:
    """Already-encoded CBOR spliced verbatim into an encoding."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def dumps(obj: Any) -> bytes:
    out = bytearray()
    _encode(obj, out)
    return bytes(out)


# --------------------------------------------------------------------------
# decoding


def _tag_hook(*args: Any) -> Any:
    # cbor2 versions disagree on the hook's signature: (decoder, tag) in the
    # pure-Python decoder, (tag, immutable) in some C builds
    tag = next(a for a in args if isinstance(a, cbor2.CBORTag))
    if tag.tag == 42:
        value = tag.value
        if not isinstance(value, bytes) or not value or value[0] != 0:
            raise ValueError("malformed CID link")
        return CID.from_bytes(value[1:])
    raise ValueError(f"unsupported CBOR tag {tag.tag}")


# CBOR's own integers are 64-bit (with a sign): a larger one can only come from a bignum
# tag (2, 3), which cbor2 decodes itself, before a tag hook would see it.
_CBOR_INT_LIMIT = 1 << 64
_SCALARS = (bytes, str, bool, CID, type(None))


def _check_dag_cbor(obj: Any) -> None:
    """Refuse what the chain's dag-cbor cannot hold but cbor2 decodes anyway: floats,
    semantic tags cbor2 knows (sets, dates, decimals; bignums past 64 bits, the only
    ones that decode to an int no CBOR integer could be), simple values such as
    undefined, and map keys that are not strings. cbor-gen refuses each of them, so a
    state object or parameter holding one is malformed, not a value to compute with."""
    stack = [obj]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is list:
            stack.extend(item)
        elif kind is dict:
            for key, value in item.items():
                if type(key) is not str:
                    raise DecodeError(f"map key of type {type(key).__name__} (dag-cbor keys "
                                      "are strings)")
                stack.append(value)
        elif kind is int:
            if not -_CBOR_INT_LIMIT <= item < _CBOR_INT_LIMIT:
                raise DecodeError("integer wider than 64 bits (a CBOR bignum tag; the chain "
                                  "writes big integers as byte strings)")
        elif kind not in _SCALARS:
            raise DecodeError(f"{kind.__name__} is not a dag-cbor value")


def loads(data: bytes, allow_trailing: bool = False) -> Any:
    """Decode one complete dag-cbor item; trailing bytes are an error (DecodeError)
    unless `allow_trailing`: actor method parameters, which the reference VM reads
    with cbor-gen's unmarshallers, which stop after the item and never look further."""
    if not data:
        raise DecodeError("empty input")
    fp = io.BytesIO(data)
    try:
        # Go's decoder accepts any bytes in text strings (deal labels on
        # mainnet are not always UTF-8): keep them losslessly
        obj = cbor2.CBORDecoder(
            fp, tag_hook=_tag_hook, str_errors="surrogateescape"  # type: ignore[arg-type]  # stub lags cbor2
        ).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, EOFError) as exc:
        raise DecodeError(str(exc)) from exc
    # the decoder reads no further than the item (cbor2's default read size), so the
    # position says whether bytes follow it, which the chain refuses
    if fp.tell() != len(data) and not allow_trailing:
        raise DecodeError(f"{len(data) - fp.tell()} trailing bytes after the CBOR item")
    _check_dag_cbor(obj)
    return obj


# --------------------------------------------------------------------------
# big integers: empty for zero, else sign byte then big-endian magnitude


def encode_bigint(n: int) -> bytes:
    if n == 0:
        return b""
    sign = b"\x00" if n > 0 else b"\x01"
    mag = abs(n)
    return sign + mag.to_bytes((mag.bit_length() + 7) // 8, "big")


# go-state-types refuses a serialised big integer longer than this
MAX_BIGINT_BYTES = 128


def decode_bigint(data: bytes) -> int:
    if not isinstance(data, (bytes, bytearray)):
        raise DecodeError("big integer must be a byte string")
    if not data:
        return 0
    if len(data) > MAX_BIGINT_BYTES:
        raise DecodeError(f"big integer longer than {MAX_BIGINT_BYTES} bytes")
    if data[0] not in (0, 1):
        raise DecodeError("invalid big integer sign byte")
    # like go-state-types: leading zeros and a bare sign byte are tolerated
    mag = int.from_bytes(data[1:], "big")
    return -mag if data[0] == 1 else mag
