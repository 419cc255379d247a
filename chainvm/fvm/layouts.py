"""The builtin actors' state layouts (actors v0 and v2), checked where a state is read.

lotus decodes an actor's head block into the actor's state struct (cbor-gen), and a
block of any other shape fails that decoding fatally: the message gets no receipt.
chainvm's actors read their state as the plain CBOR list, by field position. So the
head is checked against its actor's layout where the VM hands a state out (the
runtime's state reads, the init actor's address map, an account's key address), and a
head of the wrong shape stops the message with one error naming the actor and the
field, rather than an IndexError or TypeError somewhere inside actor code.

The blocks a head links to are read where they are used: the HAMT and AMT check their
own nodes, and the structs actors read by position are checked here by name when loaded
(`check_block`: a miner's info, vesting funds, deadlines and deadline blocks;
`check_bit_field_block`: its allocated sector numbers). lotus loads those through the
runtime's store, so a wrong shape is fatal there too.

A value inside a HAMT or AMT is another matter: lotus decodes it only when an actor reads
it, and the actor turns a decoding failure into an abort with ErrIllegalState (specs-actors'
`RequireNoErr(rt, err, exitcode.ErrIllegalState, ...)`), so the message gets a receipt.
`ENTRIES` names the layout of every table value an actor reads (deal proposals and states,
balances, claims, cron events, seal verify infos, multisig transactions, lanes, data caps,
pre-commits, partitions, sector infos, expiration sets, bit-field queues, multimap roots),
and `entry_problem` says
what is wrong with one; `chainvm.fvm.actors.tables` attaches the check to the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainvm.fvm.address import Address
from chainvm.fvm.codec import CID, DecodeError, decode_bigint
from chainvm.fvm.errors import FatalError
from chainvm.fvm.network import BUILTIN_CODES, CHAOS_CODE


class StateShapeError(FatalError):
    """An actor's state (its head, or a block or table entry the actor reads) does not have
    its layout, or holds a value no actor could work through (actors/common.py)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_uint(value: Any) -> bool:
    return _is_int(value) and value >= 0


def _is_bigint(value: Any) -> bool:
    try:
        decode_bigint(value)
    except DecodeError:
        return False
    return True


def _is_address(value: Any) -> bool:
    try:
        Address.from_bytes(value)
    except (ValueError, TypeError):
        return False
    return True


def _pair(first: Callable[[Any], bool], second: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A two-field struct: a list of two whose fields pass `first` and `second`."""
    return lambda value: (isinstance(value, list) and len(value) == 2 and first(value[0])
                          and second(value[1]))


# smoothing.FilterEstimate [position, velocity] and PowerPair [raw, QA]: two big integers
_is_filter = _pair(_is_bigint, _is_bigint)


def _or_null(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(map(check, value))


# A field: its name and what its value must be (the phrase the error uses, the check).
Kind = tuple[str, Callable[[Any], bool]]
Field = tuple[str, Kind]

CID_KIND: Kind = ("a CID", lambda value: isinstance(value, CID))
CID_OR_NULL: Kind = ("a CID or null", _or_null(lambda value: isinstance(value, CID)))
INT: Kind = ("an integer", _is_int)
UINT: Kind = ("a non-negative integer", _is_uint)
BIGINT: Kind = ("a big integer (a byte string with a sign byte)", _is_bigint)
ADDRESS: Kind = ("an address", _is_address)
STRING: Kind = ("a text string", lambda value: isinstance(value, str))
BYTES: Kind = ("a byte string", lambda value: isinstance(value, bytes))  # IDs, payloads
# go-bitfield's decoder takes the bytes and checks the RLE+ version in the first two bits;
# the runs themselves are read when the field is used (a malformed run there is an
# ErrIllegalState abort: see vm.py)
BITFIELD: Kind = ("a bit field (RLE+ bytes of version 0)",
                  lambda value: isinstance(value, bytes) and (not value or value[0] & 3 == 0))
BOOL: Kind = ("a boolean", lambda value: isinstance(value, bool))
FILTER: Kind = ("a filter estimate [position, velocity]", _is_filter)
FILTER_OR_NULL: Kind = ("a filter estimate or null", _or_null(_is_filter))
ADDRESSES: Kind = ("a list of addresses", _list_of(_is_address))
CRON_ENTRIES: Kind = ("a list of [address, method] entries",
                      _list_of(_pair(_is_address, _is_uint)))

_REWARD_V0: list[Field] = [
    ("cumulative baseline", BIGINT), ("cumulative realized", BIGINT),
    ("effective network time", INT), ("effective baseline power", BIGINT),
    ("this epoch's reward", BIGINT), ("this epoch's smoothed reward", FILTER_OR_NULL),
    ("this epoch's baseline power", BIGINT), ("epoch", INT), ("total mined", BIGINT),
]
_REWARD_V2: list[Field] = [
    *_REWARD_V0[:5], ("this epoch's smoothed reward", FILTER), *_REWARD_V0[6:8],
    ("total storage power reward", BIGINT), ("simple total", BIGINT),
    ("baseline total", BIGINT),
]
_POWER_HEAD: list[Field] = [
    ("total raw byte power", BIGINT), ("total bytes committed", BIGINT),
    ("total quality-adjusted power", BIGINT), ("total QA bytes committed", BIGINT),
    ("total pledge collateral", BIGINT), ("this epoch's raw byte power", BIGINT),
    ("this epoch's QA power", BIGINT), ("this epoch's pledge collateral", BIGINT),
]
_POWER_V0: list[Field] = [
    *_POWER_HEAD, ("this epoch's smoothed QA power", FILTER_OR_NULL),
    ("miner count", INT), ("miners above minimum power", INT),
    ("cron event queue", CID_KIND), ("first cron epoch", INT),
    ("last processed cron epoch", INT), ("claims", CID_KIND),
    ("proof validation batch", CID_OR_NULL),
]
_POWER_V2: list[Field] = [
    *_POWER_HEAD, ("this epoch's smoothed QA power", FILTER),
    *_POWER_V0[9:13], *_POWER_V0[14:],
]
_MARKET: list[Field] = [
    ("proposals", CID_KIND), ("states", CID_KIND), ("pending proposals", CID_KIND),
    ("escrow table", CID_KIND), ("locked table", CID_KIND), ("next deal ID", UINT),
    ("deal ops by epoch", CID_KIND), ("last cron", INT),
    ("total client locked collateral", BIGINT),
    ("total provider locked collateral", BIGINT), ("total client storage fee", BIGINT),
]
_MINER_V0: list[Field] = [
    ("info", CID_KIND), ("pre-commit deposits", BIGINT), ("locked funds", BIGINT),
    ("vesting funds", CID_KIND), ("initial pledge requirement", BIGINT),
    ("pre-committed sectors", CID_KIND), ("pre-committed sectors expiry", CID_KIND),
    ("allocated sectors", CID_KIND), ("sectors", CID_KIND),
    ("proving period start", INT), ("current deadline", UINT), ("deadlines", CID_KIND),
    ("early terminations", BITFIELD),
]
_MINER_V2: list[Field] = [
    *_MINER_V0[:4], ("fee debt", BIGINT), ("initial pledge", BIGINT), *_MINER_V0[5:],
]
_MULTISIG: list[Field] = [
    ("signers", ADDRESSES), ("approvals threshold", UINT), ("next transaction ID", INT),
    ("initial balance", BIGINT), ("start epoch", INT), ("unlock duration", INT),
    ("pending transactions", CID_KIND),
]
_PAYCH: list[Field] = [
    ("from", ADDRESS), ("to", ADDRESS), ("to send", BIGINT), ("settling at", INT),
    ("minimum settle height", INT), ("lane states", CID_KIND),
]
_ADDRESSES_OR_NULL: Kind = ("a list of addresses or null", _or_null(_list_of(_is_address)))
_WORKER_CHANGE: Kind = ("null or a pending worker change [address, epoch]",
                        _or_null(_pair(_is_address, _is_int)))
_MINER_INFO_V0: list[Field] = [
    ("owner", ADDRESS), ("worker", ADDRESS), ("control addresses", _ADDRESSES_OR_NULL),
    ("pending worker key", _WORKER_CHANGE), ("peer ID", BYTES),
    ("multiaddresses", ("a list of byte strings or null", _or_null(_list_of(BYTES[1])))),
    ("seal proof type", INT), ("sector size", UINT),
    ("window PoSt partition sectors", UINT),
]
_MINER_INFO_V2: list[Field] = [
    *_MINER_INFO_V0, ("consensus fault elapsed", INT),
    ("pending owner address", ("an address or null", _or_null(_is_address))),
]
_VESTING_FUND: Kind = ("a list of [epoch, amount] entries",
                       _list_of(_pair(_is_int, _is_bigint)))
_SECTOR_INFO_V0: list[Field] = [
    ("sector number", UINT), ("seal proof", INT), ("sealed CID", CID_KIND),
    ("deal IDs", ("a list of deal IDs", _list_of(_is_uint))), ("activation", INT),
    ("expiration", INT), ("deal weight", BIGINT), ("verified deal weight", BIGINT),
    ("initial pledge", BIGINT), ("expected day reward", BIGINT),
    ("expected storage pledge", BIGINT),
]
# The deadlines of a window PoSt proving period (WPoStPeriodDeadlines); defined here, the
# lowest module that needs it, for the miner's code as well as its Deadlines layout.
WPOST_PERIOD_DEADLINES = 48
_DEADLINE_LIST: Kind = (
    f"a list of {WPOST_PERIOD_DEADLINES} CIDs",
    lambda v: isinstance(v, list) and len(v) == WPOST_PERIOD_DEADLINES
    and all(isinstance(c, CID) for c in v),
)
_POWER_PAIR: Kind = ("a power pair [raw, quality-adjusted]", _is_filter)
# blocks linked from a head, by the name check_block is given (the same in v0 and v2
# unless the name says otherwise)
STRUCTS: dict[str, Sequence[Field]] = {
    "miner info, actors v0": _MINER_INFO_V0,
    "miner info, actors v2": _MINER_INFO_V2,
    "vesting funds": [("funds", _VESTING_FUND)],
    "deadlines": [("due", _DEADLINE_LIST)],
    "deadline": [
        ("partitions", CID_KIND), ("expiration epochs", CID_KIND),
        ("PoSt submissions", BITFIELD), ("early terminations", BITFIELD),
        ("live sectors", UINT), ("total sectors", UINT), ("faulty power", _POWER_PAIR),
    ],
}

_PRECOMMIT_INFO: list[Field] = [
    ("seal proof", INT), ("sector number", UINT), ("sealed CID", CID_KIND),
    ("seal randomness epoch", INT), ("deal IDs", ("a list of deal IDs", _list_of(_is_uint))),
    ("expiration", INT), ("replace capacity", BOOL), ("replace sector deadline", UINT),
    ("replace sector partition", UINT), ("replace sector number", UINT),
]
_CLAIM_V0: list[Field] = [("raw byte power", BIGINT), ("quality-adjusted power", BIGINT)]
_ENTRY_STRUCTS: dict[str, Sequence[Field]] = {
    "partition, actors v0": [
        ("sectors", BITFIELD), ("faults", BITFIELD), ("recoveries", BITFIELD),
        ("terminated", BITFIELD), ("expiration epochs", CID_KIND),
        ("early terminated", CID_KIND), ("live power", _POWER_PAIR),
        ("faulty power", _POWER_PAIR), ("recovering power", _POWER_PAIR),
    ],
    "partition, actors v2": [
        ("sectors", BITFIELD), ("unproven", BITFIELD), ("faults", BITFIELD),
        ("recoveries", BITFIELD), ("terminated", BITFIELD), ("expiration epochs", CID_KIND),
        ("early terminated", CID_KIND), ("live power", _POWER_PAIR),
        ("unproven power", _POWER_PAIR), ("faulty power", _POWER_PAIR),
        ("recovering power", _POWER_PAIR),
    ],
    "sector info, actors v0": _SECTOR_INFO_V0,
    "sector info, actors v2": [
        *_SECTOR_INFO_V0, ("replaced sector age", INT), ("replaced day reward", BIGINT),
    ],
    "expiration set": [
        ("on-time sectors", BITFIELD), ("early sectors", BITFIELD), ("on-time pledge", BIGINT),
        ("active power", _POWER_PAIR), ("faulty power", _POWER_PAIR),
    ],
    "pre-committed sector": [
        ("info", (f"a pre-commit info of {len(_PRECOMMIT_INFO)} fields",
                  lambda value: _fields_problem(_PRECOMMIT_INFO, value) is None)),
        ("pre-commit deposit", BIGINT), ("pre-commit epoch", INT), ("deal weight", BIGINT),
        ("verified deal weight", BIGINT),
    ],
    "deal proposal": [
        ("piece CID", CID_KIND), ("piece size", UINT), ("verified deal", BOOL),
        ("client", ADDRESS), ("provider", ADDRESS), ("label", STRING), ("start epoch", INT),
        ("end epoch", INT), ("storage price per epoch", BIGINT),
        ("provider collateral", BIGINT), ("client collateral", BIGINT),
    ],
    "deal state": [
        ("sector start epoch", INT), ("last updated epoch", INT), ("slash epoch", INT),
    ],
    "claim, actors v0": _CLAIM_V0,
    "claim, actors v2": [("seal proof type", INT), *_CLAIM_V0],
    "cron event": [("miner", ADDRESS), ("callback payload", BYTES)],
    "multisig transaction": [
        ("to", ADDRESS), ("value", BIGINT), ("method", UINT), ("params", BYTES),
        ("approved", ADDRESSES),
    ],
    "lane state": [("redeemed", BIGINT), ("nonce", UINT)],
    # proof.SealVerifyInfo, queued by the power actor for the epoch's batch verification
    "seal verify info": [
        ("seal proof", INT), ("sector ID [miner, number]", ("a sector ID [miner, number]",
                                                            _pair(_is_uint, _is_uint))),
        ("deal IDs", ("a list of deal IDs", _list_of(_is_uint))), ("randomness", BYTES),
        ("interactive randomness", BYTES), ("proof", BYTES), ("sealed CID", CID_KIND),
        ("unsealed CID", CID_KIND),
    ],
}
# table values that are not structs
_ENTRY_VALUES: dict[str, Kind] = {
    "balance": BIGINT,
    "data cap": BIGINT,
    "bit-field queue entry": BITFIELD,
    "multimap entry": ("a CID (the root of its set or array)",
                       lambda value: isinstance(value, CID)),
}

_SHARED: dict[str, list[Field]] = {
    "system": [],
    "init": [("address map", CID_KIND), ("next actor ID", UINT), ("network name", STRING)],
    "cron": [("entries", CRON_ENTRIES)],
    "account": [("address", ADDRESS)],
    "storagemarket": _MARKET,
    "multisig": _MULTISIG,
    "paymentchannel": _PAYCH,
    "verifiedregistry": [("root key", ADDRESS), ("verifiers", CID_KIND),
                         ("verified clients", CID_KIND)],
}

# (actors version, actor name) -> the fields of its state, in order
LAYOUTS: dict[tuple[int, str], Sequence[Field]] = {
    **{(v, name): fields for v in (0, 2) for name, fields in _SHARED.items()},
    (0, "reward"): _REWARD_V0, (2, "reward"): _REWARD_V2,
    (0, "storagepower"): _POWER_V0, (2, "storagepower"): _POWER_V2,
    (0, "storageminer"): _MINER_V0, (2, "storageminer"): _MINER_V2,
}

# code -> what the error calls the actor, and its state's fields; the test vectors'
# chaos actor keeps a text value and a list
_BY_CODE: dict[CID, tuple[str, Sequence[Field]]] = {
    code: (f"{name}, actors v{v}", LAYOUTS[v, name]) for code, (v, name) in BUILTIN_CODES.items()
}
_BY_CODE[CHAOS_CODE] = ("chaos", [("value", STRING),
                                  ("unmarshallable", ("a list", _list_of(lambda _: True)))])


# what an error says a value is (bool before int: a bool is an int)
_DESCRIPTIONS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"), (int, "an integer"), (CID, "a CID"), (dict, "a map"),
    (bytes, "a byte string"), (str, "a text string"),
)


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    for kind, words in _DESCRIPTIONS:
        if isinstance(value, kind):
            return words
    return type(value).__name__


def _fields_problem(fields: Sequence[Field], value: Any) -> str | None:
    """What is wrong with `value` as a struct of `fields` (the words that follow its name in
    an error), or None."""
    if not isinstance(value, list):
        return f" must be a list of {len(fields)} fields, found {describe(value)}"
    if len(value) != len(fields):
        return f" has {len(value)} fields, its layout {len(fields)}"
    for i, (item, (field, (what, ok))) in enumerate(zip(value, fields, strict=True)):
        if not ok(item):
            return f": field {i} ({field}) must be {what}, found {describe(item)}"
    return None


def _check_fields(where: str, fields: Sequence[Field], value: Any) -> None:
    problem = _fields_problem(fields, value)
    if problem is not None:
        raise StateShapeError(where + problem)


def check_state(code: CID, head: CID, state: Any, owner: object) -> None:
    """Raise StateShapeError unless `state` (the block at `head`) has the layout of the
    actor whose code is `code` (a builtin actor or the chaos actor; other codes pass).
    `owner` names the actor in the error."""
    entry = _BY_CODE.get(code)
    if entry is not None:
        label, fields = entry
        _check_fields(f"actor {owner} ({label}): state {head}", fields, state)


def check_bit_field_block(kind: str, at: object, block: Any, owner: object) -> None:
    """Raise StateShapeError unless `block` (a miner's allocated sector numbers) is a bit
    field as go-bitfield decodes one."""
    what, ok = BITFIELD
    if not ok(block):
        raise StateShapeError(f"actor {owner}: {kind} {at} must be {what}, "
                              f"found {describe(block)}")


def check_block(kind: str, at: object, block: Any, owner: object,
                version: int | None = None) -> None:
    """Raise StateShapeError unless `block`, read for actor `owner`, has the layout STRUCTS
    names `kind` (with `version`, the one of that actors version). `at` says where it was
    read: its CID, or its place in a table."""
    if version is not None:
        kind = f"{kind}, actors v{version}"
    _check_fields(f"actor {owner}: {kind} {at}", STRUCTS[kind], block)


ENTRIES: frozenset[str] = frozenset(_ENTRY_STRUCTS) | frozenset(_ENTRY_VALUES)


def entry_problem(kind: str, value: Any) -> str | None:
    """What is wrong with `value` as a table value of `kind` (a name in ENTRIES, with
    ", actors vN" where the versions differ), as the words that follow the value's name
    in an error; None when it has its layout."""
    fields = _ENTRY_STRUCTS.get(kind)
    if fields is not None:
        return _fields_problem(fields, value)
    what, ok = _ENTRY_VALUES[kind]
    return None if ok(value) else f" must be {what}, found {describe(value)}"
