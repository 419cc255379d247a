"""Reading a state dump (anvil_loadState's argument, a --load-state file): gzipped or
plain JSON, parsed by the hardened reader so that a hostile dump fails with a one-line
InputError instead of a RecursionError, EOFError or zlib.error."""

from __future__ import annotations

import gzip
import io
import re
import zlib
from pathlib import Path
from typing import Any

from chainvm.encoding.json_input import InputError, load_json

GZIP_MAGIC = b"\x1f\x8b"
# The most JSON a dump may hold, gzipped or not: about a million storage slots as
# --dump-state writes them. Gzip packs a thousand bytes of padding into one, so a body
# of a few MB would otherwise unpack to gigabytes before the parser saw any of it.
MAX_DUMP_BYTES = 128 * 1024 * 1024
_CHUNK = 1024 * 1024
_TOO_LARGE = f"{MAX_DUMP_BYTES // (1024 * 1024)} MiB of JSON"
_HEX = re.compile(rb"[0-9a-fA-F]+")


def read_dump(raw: bytes, what: str = "state dump") -> Any:
    """The JSON of a dump given as bytes (gzipped or not); InputError when it is not one."""
    if raw[:2] == GZIP_MAGIC:
        raw = _gunzip(raw, what)
    if len(raw) > MAX_DUMP_BYTES:
        raise InputError(f"{what}: larger than {_TOO_LARGE}")
    return load_json(raw, what)


def _gunzip(raw: bytes, what: str) -> bytes:
    """Unpack a chunk at a time, stopping as soon as the output passes the bound."""
    parts: list[bytes] = []
    size = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
            while chunk := fh.read(_CHUNK):
                size += len(chunk)
                if size > MAX_DUMP_BYTES:
                    raise InputError(f"{what}: unpacks to more than {_TOO_LARGE}")
                parts.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise InputError(f"{what}: bad gzip data ({_first_line(exc)})") from None
    return b"".join(parts)


def read_dump_file(path: str | Path, what: str = "state dump") -> Any:
    """`read_dump` of a file; an unreadable file is an InputError too."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_DUMP_BYTES + 1)  # gzipped or not, no larger than its JSON
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_DUMP_BYTES:
        raise InputError(f"{what}: larger than {_TOO_LARGE}")
    # anvil_dumpState's answer saved as it is (`cast rpc anvil_dumpState > FILE`): the hex,
    # quoted or not, of the gzipped JSON
    text = raw.strip().strip(b'"')
    if text[:2] == b"0x" and _HEX.fullmatch(text, 2):
        if len(text) % 2:
            raise InputError(f"{what}: hex of odd length")
        raw = bytes.fromhex(text[2:].decode())
    return read_dump(raw, what)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
