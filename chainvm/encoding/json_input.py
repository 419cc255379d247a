"""Reading untrusted JSON documents and the hex and decimal values inside them.

Every command that takes a JSON file (statetest, blocktest, t8n, difftest --replay)
reads it through `load_json`, and every hex or numeric field through the parsers
here, so that hostile input fails the same way everywhere: an `InputError` with a
one-line message, never a RecursionError, an int-conversion ValueError or a
silently padded value.
"""

from __future__ import annotations

import json
import operator
import re
from itertools import accumulate, count, repeat
from pathlib import Path
from typing import Any

import msgspec

# Fixtures nest fewer than 20 levels; CPython's parser recurses once per level and
# would hit the interpreter's recursion limit (about 1,000) on hostile input.
MAX_JSON_DEPTH = 256
# A JSON integer literal: 2**256 has 78 digits. Longer ones are refused before int()
# (whose own 4,300-digit limit would answer with a ValueError mid-parse).
MAX_INT_DIGITS = 100
# A quantity given as a string (hex or decimal): 1,024 characters is 4,096 bits of hex,
# far beyond any EVM value, yet cheap to convert.
MAX_QUANTITY_CHARS = 1024

UINT64_MAX = 2**64 - 1
UINT256_LIMIT = 2**256


class InputError(ValueError):
    """Input that is not what a command accepts; its message is one line."""


_NOT_BRACKETS_OR_QUOTES = bytes(b for b in range(256) if b not in b'[]{}"')
_OPEN_AS_ONE = bytes.maketrans(b"[{]}", b"\x01\x01\x00\x00")
_OPEN_AS_PARENTHESES = bytes.maketrans(b"[{]}", b"(())")
_PEEL_PASSES = 32  # beyond it, one linear pass (peeling deep nests would be quadratic)
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]*")


def json_depth(raw: bytes) -> int:
    """How deep the brackets of a JSON text nest (strings ignored), in C-speed passes.

    Unbalanced brackets are left to the parser to report.
    """
    if b"\\" in raw:
        # Escapes read left to right: drop escaped backslashes, then escaped quotes, and
        # each remaining quote opens or closes a string.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = raw.translate(None, _NOT_BRACKETS_OR_QUOTES)
    # Most strings hold no bracket, so their two quotes meet in `marks`. If every run
    # of quotes has even length, every bracket has an even number of quotes before it:
    # none lies inside a string.
    skeleton = marks.replace(b'""', b"")
    if b'"' in skeleton:
        # What lies outside strings is every other piece between quotes (after an
        # unclosed quote, the parser too reads the rest as a string).
        skeleton = b"".join(marks.split(b'"')[::2])
    if not skeleton:
        return 0
    # Peeling the innermost pairs takes one pass a level: a few for any real document.
    pairs = skeleton.translate(_OPEN_AS_PARENTHESES)
    for depth in range(1, _PEEL_PASSES + 1):
        peeled = pairs.replace(b"()", b"")
        if not peeled:
            return depth
        if len(peeled) == len(pairs):  # unbalanced
            break
        pairs = peeled
    # Deep or unbalanced: after k brackets, of which `opened` open one, the depth is
    # 2 * opened - k.
    opened = accumulate(skeleton.translate(_OPEN_AS_ONE))
    return max(map(operator.sub, map(operator.mul, opened, repeat(2)), count(1)))


def nested_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether the brackets of a JSON text nest deeper than `limit` (strings ignored). A
    text with no more opening brackets than the limit cannot: most have fewer, and need no
    skeleton at all."""
    return raw.count(b"[") + raw.count(b"{") > limit and json_depth(raw) > limit


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InputError(f"integer literal of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


_DECODER = json.JSONDecoder(parse_int=_bounded_int)

# msgspec reads a document into the same objects as `json` (dicts, lists, str, int of any
# size, float), in about a third of the time, and refuses whatever `json` reads
# differently (NaN, 1e400, a byte-order mark, UTF-16, lone surrogates): those are read
# again by `json`. It cannot be told to refuse long integer literals, so a text that may
# hold one goes to `json` directly: each byte is classed as a digit ('d'), as what may
# stand right before a number's first digit (':', '[', ',', whitespace, '-': 'p') or as
# anything else ('x'), and a literal of more than MAX_INT_DIGITS digits shows as 'p'
# followed by that many 'd' (or as the text's start). A string's digits may match too
# when a space, comma or dash stands before 101 of them (hex never does: its digits
# follow a quote, "0x" or other hex digits); they only cost the slower reader.
_FAST_DECODER = msgspec.json.Decoder()
_CLASSES = bytearray(b"x" * 256)
for _byte in b"0123456789":
    _CLASSES[_byte] = ord("d")
for _byte in b":[,- \t\n\r":
    _CLASSES[_byte] = ord("p")
_BYTE_CLASSES = bytes(_CLASSES)
_LONG_LITERAL = b"p" + b"d" * (MAX_INT_DIGITS + 1)


def may_hold_long_integer(raw: bytes) -> bool:
    """Whether a JSON text may hold an integer literal of more than MAX_INT_DIGITS digits
    (never False when it does)."""
    classes = raw.translate(_BYTE_CLASSES)
    return _LONG_LITERAL in classes or classes.startswith(_LONG_LITERAL[1:])


def load_json(source: bytes | str, what: str) -> Any:
    """Parse a JSON document, refusing deep nesting and huge integer literals.

    `what` names the document (a path, "stdin") in the error message (none when empty).
    """
    raw = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    if nested_deeper_than(raw, MAX_JSON_DEPTH):
        raise InputError(_context(what, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"))
    if not may_hold_long_integer(raw):
        try:
            return _FAST_DECODER.decode(raw)
        except msgspec.MsgspecError:  # read again below: it says why, or reads it as json does
            pass
    try:
        # json.loads(raw, parse_int=...) as it reads bytes, with one decoder for every
        # call instead of a new one each time.
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except InputError as too_large:  # each handler its own name: mypyc types one per function
        raise InputError(_context(what, f"invalid JSON ({too_large})")) from None
    except RecursionError:  # unreachable after the depth check; kept as a last guard
        raise InputError(_context(what, "JSON nested too deeply")) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(_context(what, f"invalid JSON ({message[:200]})")) from None


def read_json_file(path: str | Path, what: str | None = None) -> Any:
    """`load_json` of a file; an unreadable file is an InputError too."""
    name = what or str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return load_json(raw, name)


def _context(what: str, message: str) -> str:
    return f"{what}: {message}" if what else message


def short(value: Any, limit: int = 40) -> str:
    """A value's repr cut to `limit` characters, for one-line messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def parse_quantity(value: Any, what: str = "", bits: int | None = None,
                   allow_bigint_marker: bool = False) -> int:
    """A non-negative integer given as a JSON number, a "0x" hex string or a decimal string.

    `bits` bounds the value (64 for gas and nonces, 256 for words); ethereum/tests
    marks over-wide values with "0x:bigint ", accepted when `allow_bigint_marker`.
    """
    if type(value) is str and value[:2] == "0x":
        # The common form, checked at C speed: only ASCII letters and digits after "0x"
        # and no second "0x" (int() would take a sign, spaces, underscores and a prefix),
        # so int() either takes them all as hex digits or refuses, and the slow path
        # below says why.
        digits = value[2:]
        if digits.isalnum() and digits.isascii() and len(digits) <= MAX_QUANTITY_CHARS - 2 \
                and digits[1:2] not in ("x", "X"):
            try:
                number = int(digits, 16)
            except ValueError:
                pass
            else:
                if bits is not None and number.bit_length() > bits:
                    raise InputError(_context(what, f"{short(value)} does not fit in {bits} bits"))
                return number
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(_context(what, f"expected a number, got {short(value)}"))
    if isinstance(value, str):
        text = value.strip()
        if allow_bigint_marker:
            text = text.removeprefix("0x:bigint ")
        if len(text) > MAX_QUANTITY_CHARS:
            raise InputError(_context(what, f"number of {len(text)} characters is too long"))
        try:
            if text[:2] in ("0x", "0X"):
                digits = text[2:]
                if not _HEX_DIGITS.fullmatch(digits):
                    raise ValueError
                number = int(digits, 16) if digits else 0
            else:
                if not text.isdigit() or not text.isascii():
                    raise ValueError
                number = int(text, 10)
        except ValueError:
            raise InputError(_context(what, f"bad number {short(value)}")) from None
    else:
        number = value
    if number < 0:
        raise InputError(_context(what, f"must not be negative, got {short(value)}"))
    if bits is not None and number.bit_length() > bits:
        raise InputError(_context(what, f"{short(value)} does not fit in {bits} bits"))
    return number


def parse_data(value: Any, what: str = "") -> bytes:
    """Bytes given as hex, with or without "0x": an even number of hex digits and nothing
    else. bytes.fromhex alone skips ASCII whitespace between bytes and around them ("60
    01", " 6001\n"): what it returns must have one byte for every two characters."""
    if not isinstance(value, str):
        raise InputError(_context(what, f"expected hex data, got {short(value)}"))
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = None
    if raw is None or 2 * len(raw) != len(text):
        raise InputError(_context(what, f"bad hex data {short(value)} (an even number of "
                                        "hex digits, 0x optional)"))
    return raw


def parse_fixed(value: Any, size: int, what: str = "") -> bytes:
    """Exactly `size` bytes of hex."""
    raw = parse_data(value, what)
    if len(raw) != size:
        raise InputError(_context(what, f"expected {size} bytes, got {len(raw)}"))
    return raw


def parse_address(value: Any, what: str = "") -> bytes:
    """A 20-byte address; a shorter one is refused rather than padded."""
    return parse_fixed(value, 20, what or "address")


def expect_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{what}: expected a JSON object, got {_kind(value)}")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{what}: expected a JSON array, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
