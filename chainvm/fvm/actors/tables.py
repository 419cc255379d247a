"""The actors' HAMTs and AMTs, each loaded with the layout of its values.

lotus stores a table's values undecoded (cbor-gen's `Deferred`) and decodes one only when an
actor reads it; a value of the wrong shape then fails that read, and the actor aborts with
ErrIllegalState (specs-actors' `RequireNoErr(rt, err, exitcode.ErrIllegalState, ...)`): the
message gets a receipt with exit code 20 and its state changes are dropped. A table loaded
here checks each value as it is read (`get` and the walks, not a walk over keys only) against
its layout in `chainvm.fvm.layouts.ENTRIES` and aborts the same way, naming the actor, the
table's value and what is wrong, where an unchecked value used to end the whole run as an
internal TypeError or IndexError inside actor code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import CID, DecodeError, decode_uvarint
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.layouts import ENTRIES, entry_problem
from chainvm.fvm.types import ExitCode
from chainvm.fvm.vm import Runtime

Table = TypeVar("Table", Amt, Hamt)


def _uvarint(key: bytes) -> int | None:
    """The unsigned varint `key` is wholly made of, or None."""
    try:
        number, end = decode_uvarint(key)
    except (DecodeError, ValueError, IndexError):
        return None
    return number if end == len(key) else None


def index_text(key: Any) -> str:
    """An AMT index, or a HAMT key that is an unsigned varint (sector and epoch keys)."""
    if not isinstance(key, bytes):
        return str(key)
    number = _uvarint(key)
    return str(number) if number is not None else f"under key 0x{key.hex()}"


def varint_text(key: bytes) -> str:
    """A HAMT key that is a signed (zig-zag) varint: multisig transaction IDs."""
    zigzag = _uvarint(key)
    if zigzag is None:
        return f"under key 0x{key.hex()}"
    return str((zigzag >> 1) ^ -(zigzag & 1))


def address_text(key: bytes) -> str:
    """A HAMT key that is an address (balances, claims)."""
    try:
        return f"of {Address.from_bytes(key)}"
    except (ValueError, TypeError):
        return f"under key 0x{key.hex()}"


def _layout(rt: Runtime, kind: str) -> str:
    """The name in ENTRIES of `kind` in this actors version."""
    versioned = f"{kind}, actors v{rt.profile.actors_version}"
    layout = versioned if versioned in ENTRIES else kind
    if layout not in ENTRIES:
        raise KeyError(f"no table value layout named {kind!r}")
    return layout


def _abort_unless_fits(rt: Runtime, layout: str, kind: str, at: str, value: Any) -> None:
    problem = entry_problem(layout, value)
    if problem is not None:
        rt.abort(ExitCode.ERR_ILLEGAL_STATE, f"actor {rt.receiver}: {kind} {at}{problem}")


def check_entry(rt: Runtime, kind: str, at: str, value: Any) -> None:
    """Abort with ErrIllegalState unless `value`, read from a table where lotus decodes it
    at that one read (the verified registry's data caps), has the layout of `kind`."""
    _abort_unless_fits(rt, _layout(rt, kind), kind, at, value)


def typed(rt: Runtime, table: Table, kind: str,
          key_text: Callable[[Any], str] = index_text) -> Table:
    """`table`, its values checked as read against the layout ENTRIES names `kind` (the one of
    this actors version where the versions differ); a wrong one aborts with ErrIllegalState."""
    layout = _layout(rt, kind)

    def check(key: Any, value: Any) -> None:
        _abort_unless_fits(rt, layout, kind, key_text(key), value)

    table.check = check
    return table


def load_amt(rt: Runtime, root: CID, kind: str) -> Amt:
    """The AMT at `root`, its values `kind`."""
    return typed(rt, Amt.load(rt.store, root), kind)


def load_hamt(rt: Runtime, root: CID, kind: str, version: int = 0,
              key_text: Callable[[Any], str] = index_text) -> Hamt:
    """The HAMT at `root` (`version` as Hamt.load takes it), its values `kind`."""
    return typed(rt, Hamt.load(rt.store, root, version=version), kind, key_text)
