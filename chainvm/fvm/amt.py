"""The AMT (array mapped trie) of actors v0/v2 (go-amt-ipld v2 semantics).

The root is ``[height, count, node]`` and a node ``[bitmap, links, values]``
with a fixed width of 8 and a one-byte bitmap (bit i = 1 << i). Leaves
(height 0) hold values, inner nodes hold links. As in the reference
implementation, every child node loaded (or created) is written back on
flush, and the root is always written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chainvm.fvm.codec import CID
from chainvm.fvm.hamt import ObjStore

WIDTH = 8
MAX_INDEX = (1 << 63) - 1
# No AMT needs to be taller (WIDTH ** MAX_HEIGHT > MAX_INDEX); bounding it keeps a hostile
# root from asking for WIDTH ** height with a huge height.
MAX_HEIGHT = 21


class AmtError(ValueError):
    pass


class _Node:
    __slots__ = ("cache", "links", "values")

    def __init__(self) -> None:
        self.links: dict[int, CID] = {}
        self.values: dict[int, Any] = {}
        self.cache: dict[int, _Node] = {}

    @classmethod
    def from_obj(cls, obj: Any, height: int) -> _Node:
        if not isinstance(obj, list) or len(obj) != 3:
            raise AmtError("malformed AMT node")
        bmap, links, values = obj
        if not isinstance(bmap, bytes) or len(bmap) > 1:
            raise AmtError("malformed AMT node: its bitmap is not one byte")
        if not isinstance(links, list) or not isinstance(values, list):
            raise AmtError("malformed AMT node: links and values must be lists")
        if not all(isinstance(link, CID) for link in links):
            raise AmtError("malformed AMT node: a link is not a CID")
        bits = bmap[0] if bmap else 0
        node = cls()
        idxs = [i for i in range(WIDTH) if bits >> i & 1]
        if height == 0:
            if links or len(values) != len(idxs):
                raise AmtError("malformed AMT leaf")
            node.values = dict(zip(idxs, values, strict=True))
        else:
            if values or len(links) != len(idxs):
                raise AmtError("malformed AMT inner node")
            node.links = dict(zip(idxs, links, strict=True))
        return node

    def empty(self) -> bool:
        return not self.links and not self.values and not self.cache

    def to_obj(self) -> list[Any]:
        keys = sorted(self.values) if self.values else sorted(self.links)
        bits = 0
        for i in keys:
            bits |= 1 << i
        return [
            bytes([bits]),
            [self.links[i] for i in sorted(self.links)],
            [self.values[i] for i in sorted(self.values)],
        ]


def _nodes_for_height(height: int) -> int:
    return WIDTH**height


class Amt:
    def __init__(self, store: ObjStore, height: int, count: int, root: _Node) -> None:
        self.store = store
        self.height = height
        self.count = count
        self.root = root
        # called with (index, value) on every value read (get and the walks), as lotus
        # decodes a value when it is read: see chainvm.fvm.actors.tables
        self.check: Callable[[int, Any], None] | None = None

    @classmethod
    def new(cls, store: ObjStore) -> Amt:
        return cls(store, 0, 0, _Node())

    @classmethod
    def load(cls, store: ObjStore, cid: CID) -> Amt:
        obj = store.get_obj(cid)
        if not isinstance(obj, list) or len(obj) != 3:
            raise AmtError("malformed AMT root")
        height, count, node = obj
        if not (type(height) is int and 0 <= height <= MAX_HEIGHT
                and type(count) is int and count >= 0):
            raise AmtError("malformed AMT root: height and count must be small "
                           "non-negative integers")
        return cls(store, height, count, _Node.from_obj(node, height))

    def _child(self, node: _Node, i: int, height: int, create: bool) -> _Node | None:
        if i in node.cache:
            return node.cache[i]
        if i in node.links:
            child = _Node.from_obj(self.store.get_obj(node.links[i]), height - 1)
        elif create:
            child = _Node()
        else:
            return None
        node.cache[i] = child
        return child

    def get(self, index: int) -> Any | None:
        if index < 0 or index > MAX_INDEX:
            raise AmtError("index out of range")
        if index >= _nodes_for_height(self.height + 1):
            return None
        key = index
        node: _Node | None = self.root
        height = self.height
        while height > 0:
            assert node is not None
            span = _nodes_for_height(height)
            node = self._child(node, index // span, height, False)
            if node is None:
                return None
            index %= span
            height -= 1
        assert node is not None
        value = node.values.get(index)
        if value is not None and self.check is not None:
            self.check(key, value)
        return value

    def set(self, index: int, value: Any) -> None:
        if index < 0 or index > MAX_INDEX:
            raise AmtError("index out of range")
        while index >= _nodes_for_height(self.height + 1):
            if not self.root.empty():
                self._flush_node(self.root, self.height)
                link = self.store.put_obj(self.root.to_obj())
                new_root = _Node()
                new_root.links[0] = link
                self.root = new_root
            self.height += 1
        node = self.root
        height = self.height
        while height > 0:
            span = _nodes_for_height(height)
            child = self._child(node, index // span, height, True)
            assert child is not None
            node = child
            index %= span
            height -= 1
        if index not in node.values:
            self.count += 1
        node.values[index] = value

    def delete(self, index: int) -> bool:
        if index >= _nodes_for_height(self.height + 1):
            return False
        path: list[tuple[_Node, int]] = []
        node: _Node | None = self.root
        height = self.height
        while height > 0:
            assert node is not None
            span = _nodes_for_height(height)
            slot = index // span
            path.append((node, slot))
            node = self._child(node, slot, height, False)
            if node is None:
                return False
            index %= span
            height -= 1
        assert node is not None
        if index not in node.values:
            return False
        del node.values[index]
        self.count -= 1
        # prune emptied children
        for parent, slot in reversed(path):
            child = parent.cache.get(slot)
            if child is not None and child.empty():
                parent.cache.pop(slot, None)
                parent.links.pop(slot, None)
            else:
                break
        # shrink the height while the root only has a first child
        while self.height > 0 and set(self.root.links) | set(self.root.cache) <= {0}:
            if not (self.root.links or self.root.cache):
                self.height = 0
                self.root = _Node()
                break
            child = self._child(self.root, 0, self.height, False)
            assert child is not None
            self.root = child
            self.height -= 1
        return True

    def _flush_node(self, node: _Node, height: int) -> None:
        if height == 0:
            return
        for i in sorted(node.cache):
            child = node.cache[i]
            self._flush_node(child, height - 1)
            node.links[i] = self.store.put_obj(child.to_obj())
        node.cache.clear()

    def flush(self) -> CID:
        self._flush_node(self.root, self.height)
        return self.store.put_obj([self.height, self.count, self.root.to_obj()])

    def for_each_stored(self) -> Iterator[tuple[int, Any]]:
        """Entries in index order the way go-amt-ipld's ForEach visits them:
        every child node below the root is read from the store afresh (and
        charged) through its stored link, bypassing and not filling the
        cache, so a traversal never makes nodes dirty for the next flush."""
        yield from self._walk_stored(self.root, self.height, 0)

    def _walk_stored(self, node: _Node, height: int, offset: int) -> Iterator[tuple[int, Any]]:
        if height == 0:
            for i in sorted(node.values):
                if self.check is not None:
                    self.check(offset + i, node.values[i])
                yield offset + i, node.values[i]
            return
        span = _nodes_for_height(height)
        for i in sorted(node.links):
            child = _Node.from_obj(self.store.get_obj(node.links[i]), height - 1)
            yield from self._walk_stored(child, height - 1, offset + i * span)

    def items(self) -> Iterator[tuple[int, Any]]:
        yield from self._walk(self.root, self.height, 0)

    def _walk(self, node: _Node, height: int, offset: int) -> Iterator[tuple[int, Any]]:
        if height == 0:
            for i in sorted(node.values):
                if self.check is not None:
                    self.check(offset + i, node.values[i])
                yield offset + i, node.values[i]
            return
        span = _nodes_for_height(height)
        for i in sorted(set(node.links) | set(node.cache)):
            child = self._child(node, i, height, False)
            if child is not None:
                yield from self._walk(child, height - 1, offset + i * span)
