"""Merkle-Patricia trie roots (yellow paper, appendix D).

Two ways to a root:

- `trie_root(mapping)`: the root of a whole key/value set at once (transactions,
  receipts, withdrawals, and any first root): one sort, then one bottom-up pass.
- `Trie`: a persistent trie for keys of one fixed length (the 32-byte hashed keys of
  the state and storage tries). Nodes are immutable and remember their reference
  (their hash, or their encoding when shorter than 32 bytes), so after a few updates
  only the nodes on the changed paths are encoded and hashed again. An update returns
  a new root node and shares every untouched subtree, so copying a trie is free.

Node encodings are written here directly (RLP of short lists of strings), which is
what every root spends its time on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from chainvm.crypto import keccak256

EMPTY_TRIE_ROOT: Final = keccak256(b"\x80")

_EMPTY_REF: Final = b"\x80"  # an empty branch slot (RLP of b"")


# -- RLP pieces -----------------------------------------------------------------------------


def _rlp_string(data: bytes) -> bytes:
    n = len(data)
    if n == 1 and data[0] < 0x80:
        return data
    if n < 56:
        return bytes((0x80 + n,)) + data
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0xB7 + len(size),)) + size + data


def _rlp_list(payload: bytes) -> bytes:
    n = len(payload)
    if n < 56:
        return bytes((0xC0 + n,)) + payload
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0xF7 + len(size),)) + size + payload


# Nibble paths are strings of lower-case hex digits, one per nibble: `key.hex()`, and
# the compact (hex-prefix) encoding is `bytes.fromhex` of the flag digit(s) plus the path.
_HEX_INDEX: Final = {c: i for i, c in enumerate("0123456789abcdef")}
_HEX_DIGIT: Final = "0123456789abcdef"


def _hex_prefix(path: str, leaf: bool) -> bytes:
    if len(path) % 2:
        return bytes.fromhex(("3" if leaf else "1") + path)
    return bytes.fromhex(("20" if leaf else "00") + path)


# -- nodes ---------------------------------------------------------------------------------


class Leaf:
    __slots__ = ("path", "ref", "value")

    def __init__(self, path: str, value: bytes) -> None:
        self.path = path
        self.value = value
        self.ref: bytes | None = None


class Extension:
    __slots__ = ("child", "path", "ref")

    def __init__(self, path: str, child: Node) -> None:
        self.path = path
        self.child = child
        self.ref: bytes | None = None


class Branch:
    """A branch of a fixed-key-length trie (no value slot is ever used), or, for
    `trie_root` over keys of any length, with `value` set."""

    __slots__ = ("children", "ref", "value")

    def __init__(self, children: list[Node | None], value: bytes = b"") -> None:
        self.children = children
        self.value = value
        self.ref: bytes | None = None


Node = Leaf | Extension | Branch


_STRING_PREFIX: Final = [bytes((0x80 + n,)) for n in range(56)]


def _ref(node: Node) -> bytes:
    """The node as its parent embeds it: the RLP of its hash, or (under 32 bytes) its
    encoding. Computed once per node."""
    ref = node.ref
    if ref is not None:
        return ref
    if type(node) is Leaf:
        path = node.path
        key = bytes.fromhex(("3" + path) if len(path) % 2 else ("20" + path))
        value = node.value
        n = len(value)
        # A key is at most 33 bytes; a one-byte key (flag nibble 2 or 3) is its own RLP.
        payload = (key if len(key) == 1 else _STRING_PREFIX[len(key)] + key) + (
            value if n == 1 and value[0] < 0x80 else
            _STRING_PREFIX[n] + value if n < 56 else _rlp_string(value))
    elif type(node) is Extension:
        path = node.path
        key = bytes.fromhex(("1" + path) if len(path) % 2 else ("00" + path))
        child = node.child
        payload = _rlp_string(key) + (child.ref or _ref(child))
    else:
        assert type(node) is Branch
        # A child's reference is usually known already (only the changed path is new).
        parts = [_EMPTY_REF if c is None else (c.ref or _ref(c)) for c in node.children]
        value = node.value
        parts.append(_rlp_string(value) if value else _EMPTY_REF)
        payload = b"".join(parts)
    n = len(payload)
    if n < 56:
        enc = bytes((0xC0 + n,)) + payload
        if n < 31:
            node.ref = enc
            return enc
    elif n < 256:
        enc = bytes((0xF8, n)) + payload
    else:
        enc = _rlp_list(payload)
    ref = node.ref = b"\xa0" + keccak256(enc)
    return ref


def node_hash(node: Node | None) -> bytes:
    """The root hash of the trie under `node` (the root is hashed even when short)."""
    if node is None:
        return EMPTY_TRIE_ROOT
    ref = _ref(node)
    return ref[1:] if len(ref) == 33 and ref[0] == 0xA0 else keccak256(ref)


def _common(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _join(prefix: str, child: Node) -> Node:
    """`prefix` nibbles followed by `child`, merging paths where the trie must."""
    if type(child) is Leaf:
        return Leaf(prefix + child.path, child.value)
    if type(child) is Extension:
        return Extension(prefix + child.path, child.child)
    return Extension(prefix, child)


def _put(node: Node | None, path: str, value: bytes) -> Node:
    if node is None:
        return Leaf(path, value)
    if type(node) is Branch:
        children = node.children[:]
        i = _HEX_INDEX[path[0]]
        children[i] = _put(children[i], path[1:], value)
        return Branch(children)
    if type(node) is Leaf:
        if node.path == path:
            return node if node.value == value else Leaf(path, value)
        common = _common(node.path, path)
        branch: list[Node | None] = [None] * 16
        branch[_HEX_INDEX[node.path[common]]] = Leaf(node.path[common + 1:], node.value)
        branch[_HEX_INDEX[path[common]]] = Leaf(path[common + 1:], value)
        split: Node = Branch(branch)
        return Extension(path[:common], split) if common else split
    assert type(node) is Extension
    common = _common(node.path, path)
    if common == len(node.path):
        return Extension(node.path, _put(node.child, path[common:], value))
    branch = [None] * 16
    rest = node.path[common + 1:]
    branch[_HEX_INDEX[node.path[common]]] = Extension(rest, node.child) if rest else node.child
    branch[_HEX_INDEX[path[common]]] = Leaf(path[common + 1:], value)
    split = Branch(branch)
    return Extension(path[:common], split) if common else split


def _delete(node: Node | None, path: str) -> Node | None:
    if node is None:
        return None
    if type(node) is Leaf:
        return None if node.path == path else node
    if type(node) is Extension:
        plen = len(node.path)
        if path[:plen] != node.path:
            return node
        child = _delete(node.child, path[plen:])
        if child is node.child:
            return node
        return None if child is None else _join(node.path, child)
    assert type(node) is Branch
    i = _HEX_INDEX[path[0]]
    old = node.children[i]
    new = _delete(old, path[1:])
    if new is old:
        return node
    children = node.children[:]
    children[i] = new
    if new is None:
        left = [j for j in range(16) if children[j] is not None]
        if len(left) == 1:
            j = left[0]
            only = children[j]
            assert only is not None
            return _join(_HEX_DIGIT[j], only)
    return Branch(children)


def _build(items: list[tuple[str, bytes]], lo: int, hi: int, depth: int) -> Node:
    """Nodes for sorted items[lo:hi] (nibble path, value), all sharing `depth` nibbles."""
    if hi - lo == 1:
        path, value = items[lo]
        return Leaf(path[depth:], value)
    first = items[lo][0]
    last = items[hi - 1][0]
    common = depth
    limit = min(len(first), len(last))
    while common < limit and first[common] == last[common]:
        common += 1
    if common > depth:
        return Extension(first[depth:common], _build(items, lo, hi, common))
    children: list[Node | None] = [None] * 16
    value = b""
    i = lo
    if len(first) == depth:  # a key ending here (keys of different lengths)
        value = items[lo][1]
        i += 1
    while i < hi:
        nib = items[i][0][depth]
        j = i + 1
        while j < hi and items[j][0][depth] == nib:
            j += 1
        children[_HEX_INDEX[nib]] = _build(items, i, j, depth + 1)
        i = j
    return Branch(children, value)


def build(items: Iterable[tuple[bytes, bytes]]) -> Node | None:
    """Nodes of a trie holding (key, value) pairs; empty values are left out."""
    sorted_items = sorted((k.hex(), v) for k, v in items if v)
    if not sorted_items:
        return None
    return _build(sorted_items, 0, len(sorted_items), 0)


def trie_root(mapping: Mapping[bytes, bytes]) -> bytes:
    """Root hash of a trie holding `mapping` (empty values are treated as absent)."""
    return node_hash(build(mapping.items()))


def secure_trie_root(mapping: Mapping[bytes, bytes]) -> bytes:
    return node_hash(build((keccak256(k), v) for k, v in mapping.items()))


class Trie:
    """A persistent trie over keys of one fixed length (hashed keys: the state and storage
    tries). `set` and `delete` replace `root` with a new node that shares the rest;
    `copy` is a new handle on the same nodes."""

    __slots__ = ("root",)

    def __init__(self, root: Node | None = None) -> None:
        self.root = root

    @classmethod
    def from_items(cls, items: Iterable[tuple[bytes, bytes]]) -> Trie:
        return cls(build(items))

    def set(self, key: bytes, value: bytes) -> None:
        """Put `value` at `key` (an empty value deletes)."""
        if value:
            self.root = _put(self.root, key.hex(), value)
        else:
            self.root = _delete(self.root, key.hex())

    def delete(self, key: bytes) -> None:
        self.root = _delete(self.root, key.hex())

    def root_hash(self) -> bytes:
        return node_hash(self.root)

    def copy(self) -> Trie:
        return Trie(self.root)
