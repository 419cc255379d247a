"""The HAMT of actors v0/v2 (go-hamt-ipld v1/v2 semantics).

A node is ``[bitfield, pointers]``; the bitfield is a big-endian big integer
(empty bytes when zero) and each pointer is ``{"0": link}`` or
``{"1": [[key, value], ...]}`` with buckets of at most three sorted entries.
Keys are hashed with sha256 and consumed ``bit_width`` bits at a time from
the most significant end.

Every block read and write goes through the store passed in, which for actor
code is the gas-charging runtime store, so the traversal and flush order here
mirror the reference implementation: children are loaded once and cached;
on flush, v0 rewrites every cached child while v2 only rewrites dirty ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from chainvm.fvm.codec import CID

BUCKET_SIZE = 3


class ObjStore(Protocol):
    def get_obj(self, cid: CID) -> Any: ...

    def put_obj(self, obj: Any) -> CID: ...


# what _modify is given to delete a key (None is a value: CBOR null, as sets store)
_DELETE = object()


class HamtError(ValueError):
    pass


class _Pointer:
    __slots__ = ("cache", "dirty", "kvs", "link")

    def __init__(
        self,
        link: CID | None = None,
        kvs: list[list[Any]] | None = None,
        cache: _Node | None = None,
    ) -> None:
        self.link = link
        self.kvs = kvs
        self.cache = cache
        self.dirty = False

    def is_shard(self) -> bool:
        return self.kvs is None


class _Node:
    __slots__ = ("bitfield", "pointers")

    def __init__(self, bitfield: int = 0, pointers: list[_Pointer] | None = None) -> None:
        self.bitfield = bitfield
        self.pointers = pointers if pointers is not None else []

    @classmethod
    def from_obj(cls, obj: Any) -> _Node:
        if not isinstance(obj, list) or len(obj) != 2:
            raise HamtError("malformed HAMT node")
        bits, ptrs = obj
        if not isinstance(bits, bytes) or not isinstance(ptrs, list):
            raise HamtError("malformed HAMT node")
        pointers = []
        for p in ptrs:
            if not isinstance(p, dict) or len(p) != 1:
                raise HamtError("malformed HAMT pointer")
            if "0" in p:
                if not isinstance(p["0"], CID):
                    raise HamtError("malformed HAMT pointer: its link is not a CID")
                pointers.append(_Pointer(link=p["0"]))
            elif "1" in p:
                bucket = p["1"]
                if not isinstance(bucket, list) or not all(
                    isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], bytes)
                    for kv in bucket
                ):
                    raise HamtError("malformed HAMT bucket")
                pointers.append(_Pointer(kvs=[[kv[0], kv[1]] for kv in bucket]))
            else:
                raise HamtError("malformed HAMT pointer")
        return cls(int.from_bytes(bits, "big"), pointers)

    def to_obj(self) -> list[Any]:
        bits = self.bitfield.to_bytes((self.bitfield.bit_length() + 7) // 8, "big")
        ptrs: list[Any] = []
        for p in self.pointers:
            if p.kvs is None:
                if p.link is None:
                    raise HamtError("flushing HAMT node with unflushed child")
                ptrs.append({"0": p.link})
            else:
                ptrs.append({"1": p.kvs})
        return [bits, ptrs]

    def index_for(self, bit: int) -> int:
        return (self.bitfield & ((1 << bit) - 1)).bit_count()


class _HashBits:
    __slots__ = ("consumed", "value")

    def __init__(self, key: bytes, consumed: int = 0) -> None:
        self.value = int.from_bytes(hashlib.sha256(key).digest(), "big")
        self.consumed = consumed

    def next(self, width: int) -> int:
        if self.consumed + width > 256:
            raise HamtError("HAMT hash bits exhausted")
        shift = 256 - self.consumed - width
        self.consumed += width
        return (self.value >> shift) & ((1 << width) - 1)


class Hamt:
    """A HAMT bound to a store. ``version`` 0 re-puts every loaded child on
    flush (go-hamt-ipld v1, used by actors v0); higher versions track dirtiness."""

    def __init__(self, store: ObjStore, root: _Node, bit_width: int = 5, version: int = 0) -> None:
        self.store = store
        self.root = root
        self.bit_width = bit_width
        self.version = version
        # called with (key, value) on every value read (get and items; iter_keys reads no
        # value), as lotus decodes a value when it is read: see chainvm.fvm.actors.tables
        self.check: Callable[[bytes, Any], None] | None = None

    @classmethod
    def new(cls, store: ObjStore, bit_width: int = 5, version: int = 0) -> Hamt:
        return cls(store, _Node(), bit_width, version)

    @classmethod
    def load(cls, store: ObjStore, cid: CID, bit_width: int = 5, version: int = 0) -> Hamt:
        return cls(store, _Node.from_obj(store.get_obj(cid)), bit_width, version)

    # ------------------------------------------------------------------
    def _load_child(self, p: _Pointer) -> _Node:
        if p.cache is None:
            assert p.link is not None
            p.cache = _Node.from_obj(self.store.get_obj(p.link))
        return p.cache

    def get(self, key: bytes) -> Any | None:
        hv = _HashBits(key)
        node = self.root
        while True:
            idx = hv.next(self.bit_width)
            if not (node.bitfield >> idx) & 1:
                return None
            p = node.pointers[node.index_for(idx)]
            if p.is_shard():
                node = self._load_child(p)
                continue
            assert p.kvs is not None
            for k, v in p.kvs:
                if k == key:
                    if self.check is not None:
                        self.check(k, v)
                    return v
            return None

    def set(self, key: bytes, value: Any) -> None:
        self._modify(self.root, _HashBits(key), key, value)

    def delete(self, key: bytes) -> bool:
        try:
            self._modify(self.root, _HashBits(key), key, _DELETE)
        except KeyError:
            return False
        return True

    def _modify(self, node: _Node, hv: _HashBits, key: bytes, value: Any) -> None:
        idx = hv.next(self.bit_width)
        if not (node.bitfield >> idx) & 1:
            if value is _DELETE:
                raise KeyError(key)
            node.bitfield |= 1 << idx
            node.pointers.insert(node.index_for(idx), _Pointer(kvs=[[key, value]]))
            return
        cindex = node.index_for(idx)
        p = node.pointers[cindex]
        if p.is_shard():
            child = self._load_child(p)
            self._modify(child, hv, key, value)
            p.dirty = True
            if value is _DELETE:
                self._clean_child(node, child, cindex)
            return
        kvs = p.kvs
        assert kvs is not None
        if value is _DELETE:
            for i, (k, _) in enumerate(kvs):
                if k == key:
                    if len(kvs) == 1:
                        node.pointers.pop(cindex)
                        node.bitfield &= ~(1 << idx)
                    else:
                        kvs.pop(i)
                    return
            raise KeyError(key)
        for kv in kvs:
            if kv[0] == key:
                kv[1] = value
                return
        if len(kvs) >= BUCKET_SIZE:
            # bucket overflow: push everything one level down into a new shard,
            # which the reference implementation writes out immediately
            sub = _Node()
            self._modify(sub, _HashBits(key, hv.consumed), key, value)
            for k, v in kvs:
                self._modify(sub, _HashBits(k, hv.consumed), k, v)
            link = self.store.put_obj(sub.to_obj())
            node.pointers[cindex] = _Pointer(link=link)
            return
        for i, (k, _) in enumerate(kvs):
            if key < k:
                kvs.insert(i, [key, value])
                return
        kvs.append([key, value])

    def _clean_child(self, node: _Node, child: _Node, cindex: int) -> None:
        n = len(child.pointers)
        if n == 0:
            raise HamtError("incorrectly formed HAMT")
        if n == 1:
            only = child.pointers[0]
            if only.is_shard():
                return
            node.pointers[cindex] = only
            return
        if n <= BUCKET_SIZE:
            collected: list[list[Any]] = []
            for p in child.pointers:
                if p.is_shard():
                    return
                assert p.kvs is not None
                for kv in p.kvs:
                    if len(collected) == BUCKET_SIZE:
                        return
                    collected.append(kv)
            node.pointers[cindex] = _Pointer(kvs=collected)

    # ------------------------------------------------------------------
    def _flush_node(self, node: _Node) -> None:
        for p in node.pointers:
            if p.cache is not None and (self.version == 0 or p.dirty):
                self._flush_node(p.cache)
                p.link = self.store.put_obj(p.cache.to_obj())
                p.dirty = False
                if self.version == 0:
                    p.cache = None

    def flush(self) -> CID:
        """Write dirty nodes and return the root CID (the root is always put)."""
        self._flush_node(self.root)
        return self.store.put_obj(self.root.to_obj())

    def iter_keys(self) -> Iterator[bytes]:
        for key, _value in self._walk(self.root):
            yield key

    def items(self) -> Iterator[tuple[bytes, Any]]:
        check = self.check
        for key, value in self._walk(self.root):
            if check is not None:
                check(key, value)
            yield key, value

    def _walk(self, node: _Node) -> Iterator[tuple[bytes, Any]]:
        for p in node.pointers:
            if p.is_shard():
                yield from self._walk(self._load_child(p))
            else:
                assert p.kvs is not None
                yield from ((k, v) for k, v in p.kvs)
