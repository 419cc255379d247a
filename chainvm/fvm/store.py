"""Block stores and CARv1 import/export."""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterable
from typing import Any, BinaryIO

from chainvm.fvm.codec import (
    BLAKE2B_256,
    CID,
    IDENTITY,
    DecodeError,
    decode_uvarint,
    dumps,
    encode_uvarint,
    loads,
)

GZIP_MAGIC = b"\x1f\x8b"
# The most bytes a gzipped CAR may unpack to. The largest CAR of the test-vector corpus
# is about 1 MiB unpacked (a mainnet SubmitWindowedPoSt); gzip packs about a thousand
# bytes of padding into one, so without a bound a vector of a megabyte or two unpacks to
# gigabytes. Same bound as the node's gzipped state dumps.
MAX_CAR_BYTES = 128 * 1024 * 1024
SHA2_256 = 0x12


class BlockNotFound(KeyError):
    pass


class MemoryBlockstore:
    """A plain content-addressed map. Objects decoded from it are memoised
    because the VM re-reads the same actor states and HAMT nodes often."""

    def __init__(self) -> None:
        self.blocks: dict[CID, bytes] = {}
        self._decoded: dict[CID, Any] = {}

    def get(self, cid: CID) -> bytes:
        try:
            return self.blocks[cid]
        except (KeyError, TypeError):
            # a decoded object can hold anything where a link belongs (an int, a list)
            if not isinstance(cid, CID):
                raise DecodeError(f"a link was expected, found {type(cid).__name__}") from None
            if cid.mh_code == 0:  # identity CIDs carry their own data
                return cid.digest
            raise BlockNotFound(str(cid)) from None

    def has(self, cid: CID) -> bool:
        return cid in self.blocks

    def put_raw(self, data: bytes) -> CID:
        cid = CID.for_cbor(data)
        self.blocks[cid] = data
        return cid

    def put_block(self, cid: CID, data: bytes) -> None:
        self.blocks[cid] = data

    # object helpers (dag-cbor) -------------------------------------------
    def get_obj(self, cid: CID) -> Any:
        try:
            return self._decoded[cid]
        except KeyError:
            obj = loads(self.get(cid))
            self._decoded[cid] = obj
            return obj

    def put_obj(self, obj: Any) -> CID:
        return self.put_raw(dumps(obj))


# ------------------------------------------------------------------------
# CAR v1: varint(len(header)) header, then varint(len(cid+data)) cid data


def gunzip_bounded(data: bytes, limit: int = MAX_CAR_BYTES, what: str = "CAR") -> bytes:
    """Unpack one gzip member, refusing (DecodeError) bad or truncated gzip data,
    bytes after the member, and output over `limit` bytes: zlib stops at limit + 1,
    so a gzip bomb costs no more memory than that."""
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
    try:
        out = unpacker.decompress(data, limit + 1)
    except zlib.error as exc:
        raise DecodeError(f"bad gzip data: {exc}") from None
    if len(out) > limit:
        raise DecodeError(f"gzipped {what} unpacks to more than {limit // (1024 * 1024)} MiB")
    if not unpacker.eof:
        raise DecodeError("gzip data ends before its end-of-stream marker")
    if unpacker.unused_data:
        raise DecodeError("bytes after the end of the gzip data")
    return out


def read_car(stream: BinaryIO | bytes, store: MemoryBlockstore, verify: bool = True) -> list[CID]:
    """Put the blocks of a CARv1 (gzipped or not) into `store` and return its roots.
    DecodeError if the bytes are not a whole CAR: a bad header, a block running past
    the end, bad gzip data or more than MAX_CAR_BYTES of it, and (with `verify`) a
    block whose bytes do not hash to its CID."""
    data = stream if isinstance(stream, bytes) else stream.read()
    if data[:2] == GZIP_MAGIC:
        data = gunzip_bounded(data)
    hlen, pos = decode_uvarint(data, 0)
    if pos + hlen > len(data):
        raise DecodeError("CAR header runs past the end of the data")
    header = loads(data[pos : pos + hlen])
    pos += hlen
    if not isinstance(header, dict) or header.get("version") != 1:
        raise DecodeError("not a CARv1 file")
    roots = header.get("roots") or []
    if not isinstance(roots, list) or not all(isinstance(r, CID) for r in roots):
        raise DecodeError("CAR header roots must be a list of CIDs")
    n = len(data)
    blocks = store.blocks
    while pos < n:
        length, pos = decode_uvarint(data, pos)
        end = pos + length
        if end > n:
            raise DecodeError(f"CAR block at byte {pos} runs past the end of the data")
        cid, cpos = CID.read(data, pos)
        if cpos > end:
            raise DecodeError(f"CAR block at byte {pos} is shorter than its CID")
        block = bytes(data[cpos:end])
        if verify:
            _verify_block(cid, block)
        blocks[cid] = block
        pos = end
    return list(roots)


def _verify_block(cid: CID, block: bytes) -> None:
    code = cid.mh_code
    if code == BLAKE2B_256:
        digest = hashlib.blake2b(block, digest_size=32).digest()
    elif code == IDENTITY:
        digest = block
    elif code == SHA2_256:
        digest = hashlib.sha256(block).digest()
    else:
        raise DecodeError(f"CAR block {cid}: unsupported multihash 0x{code:x}")
    if digest != cid.digest:
        raise DecodeError(f"CAR block {cid}: its bytes do not hash to its CID")


def write_car(roots: list[CID], blocks: Iterable[tuple[CID, bytes]]) -> bytes:
    out = io.BytesIO()
    header = dumps({"roots": roots, "version": 1})
    out.write(encode_uvarint(len(header)))
    out.write(header)
    for cid, data in blocks:
        raw = cid.bytes
        out.write(encode_uvarint(len(raw) + len(data)))
        out.write(raw)
        out.write(data)
    return out.getvalue()


def reachable_blocks(store: MemoryBlockstore, root: CID) -> list[tuple[CID, bytes]]:
    """Blocks reachable from root, depth first (the order lotus exports)."""
    seen: set[CID] = set()
    out: list[tuple[CID, bytes]] = []
    stack = [root]
    while stack:
        cid = stack.pop()
        if cid in seen or cid.mh_code == 0 or not store.has(cid):
            continue
        seen.add(cid)
        data = store.get(cid)
        out.append((cid, data))
        links: list[CID] = []
        if cid.codec == 0x71:
            _collect_links(loads(data), links)
        stack.extend(reversed(links))
    return out


def _collect_links(obj: Any, out: list[CID]) -> None:
    if isinstance(obj, CID):
        out.append(obj)
    elif isinstance(obj, list):
        for item in obj:
            _collect_links(item, out)
    elif isinstance(obj, dict):
        for item in obj.values():
            _collect_links(item, out)
