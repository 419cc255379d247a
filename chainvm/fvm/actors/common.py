"""Parameter decoding and small helpers shared by the builtin actors."""

from __future__ import annotations

from typing import Any

from chainvm.fvm.address import Address
from chainvm.fvm.codec import CID, DecodeError, decode_bigint, dumps, encode_uvarint, loads
from chainvm.fvm.layouts import StateShapeError
from chainvm.fvm.vm import ActorError, Runtime

# Actors v0 and v2 ran on mainnet until about epoch 550,000. A cron or reward epoch further
# behind the current one than this comes from a made-up state, and catching up on it epoch
# by epoch, as the actors do, would not finish (the corpus's largest gap is 148,892).
MAX_CATCH_UP_EPOCHS = 1_000_000

__all__ = [
    "CID",
    "ActorError",
    "Address",
    "DecodeError",
    "Runtime",
    "as_address",
    "as_bool",
    "as_bytes",
    "as_cid",
    "as_int",
    "as_uint",
    "decode_address",
    "decode_bigint",
    "decode_empty",
    "decode_tuple",
    "dumps",
    "int_key",
    "loads",
    "uint_key",
]


def decode_empty(data: bytes) -> None:
    """Methods without parameters accept (and ignore) any input, like
    abi.EmptyValue's no-op unmarshaller."""
    return


def decode_tuple(data: bytes, n: int) -> list[Any]:
    obj = loads(data, allow_trailing=True)
    if not isinstance(obj, list):
        raise DecodeError("cbor input should be of type array")
    if len(obj) != n:
        raise DecodeError("cbor input had wrong number of fields")
    return obj


def as_bytes(v: Any) -> bytes:
    if not isinstance(v, bytes):
        raise DecodeError("expected byte string")
    return v


def as_address(v: Any) -> Address:
    try:
        return Address.from_bytes(as_bytes(v))
    except ValueError as exc:
        raise DecodeError(str(exc)) from exc


def decode_address(data: bytes) -> Address:
    return as_address(loads(data, allow_trailing=True))


def as_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise DecodeError("expected integer")
    return v


def as_uint(v: Any) -> int:
    if as_int(v) < 0:
        raise DecodeError("expected unsigned integer")
    return v


def as_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise DecodeError("expected boolean")
    return v


def as_cid(v: Any) -> CID:
    if not isinstance(v, CID):
        raise DecodeError("expected CID")
    return v


def uint_key(n: int) -> bytes:
    """HAMT key of an unsigned integer (sector numbers, epochs, deal IDs): Go's
    binary.PutUvarint."""
    return encode_uvarint(n)


def int_key(n: int) -> bytes:
    """HAMT key of an integer: Go's binary.PutVarint (zig-zag varint)."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def check_catch_up(rt: Runtime, what: str, since: int) -> None:
    """Refuse a state whose `what` epoch is more than MAX_CATCH_UP_EPOCHS behind."""
    gap = rt.curr_epoch - since
    if gap > MAX_CATCH_UP_EPOCHS:
        raise StateShapeError(f"actor {rt.receiver}: its {what} {since} is {gap} epochs behind "
                              f"the current epoch; at most {MAX_CATCH_UP_EPOCHS} are caught up")
