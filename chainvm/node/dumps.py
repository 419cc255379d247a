"""Reading a state dump (anvil_loadState's argument, a --load-state file): gzipped or
plain JSON, parsed by the hardened reader so that a hostile dump fails with a one-line
InputError instead of a RecursionError, EOFError or zlib.error."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

from chainvm.encoding.json_input import InputError, load_json

GZIP_MAGIC = b"\x1f\x8b"


def read_dump(raw: bytes, what: str = "state dump") -> Any:
    """The JSON of a dump given as bytes (gzipped or not); InputError when it is not one."""
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise InputError(f"{what}: bad gzip data ({_first_line(exc)})") from None
    return load_json(raw, what)


def read_dump_file(path: str | Path, what: str = "state dump") -> Any:
    """`read_dump` of a file; an unreadable file is an InputError too."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})") from None
    return read_dump(raw, what)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
