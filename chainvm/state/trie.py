"""Merkle-Patricia trie root computation (yellow paper, appendix D).

The EVM only needs roots of whole key/value sets (state, storage, receipts,
transactions), so roots are computed on demand from a mapping rather than by
maintaining a persistent trie: one sort plus one pass that builds each node
bottom-up.
"""

from __future__ import annotations

from collections.abc import Mapping

from chainvm.crypto import keccak256
from chainvm.encoding.rlp import encode

EMPTY_TRIE_ROOT = keccak256(b"\x80")


def _nibbles(key: bytes) -> bytes:
    out = bytearray(len(key) * 2)
    for i, b in enumerate(key):
        out[2 * i] = b >> 4
        out[2 * i + 1] = b & 15
    return bytes(out)


def _hex_prefix(nibbles: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        first = bytes([(flag + 1) << 4 | nibbles[0]])
        rest = nibbles[1:]
    else:
        first = bytes([flag << 4])
        rest = nibbles
    return first + bytes(rest[i] << 4 | rest[i + 1] for i in range(0, len(rest), 2))


def _reference(node: object) -> object:
    """A child is embedded when its encoding is shorter than 32 bytes, else hashed."""
    encoded = encode(node)
    if len(encoded) < 32:
        return node
    return keccak256(encoded)


def _build(items: list[tuple[bytes, bytes]], depth: int) -> object:
    # items: sorted (nibble path, value), all sharing the first `depth` nibbles.
    if len(items) == 1:
        path, value = items[0]
        return [_hex_prefix(path[depth:], True), value]
    first = items[0][0]
    last = items[-1][0]
    # Longest common prefix beyond depth: enough to compare first and last of a sorted list.
    common = depth
    limit = min(len(first), len(last))
    while common < limit and first[common] == last[common]:
        common += 1
    if common > depth:
        child = _build(items, common)
        return [_hex_prefix(first[depth:common], False), _reference(child)]
    branch: list[object] = [b""] * 17
    i = 0
    n = len(items)
    if len(items[0][0]) == depth:
        branch[16] = items[0][1]
        i = 1
    while i < n:
        nib = items[i][0][depth]
        j = i + 1
        while j < n and items[j][0][depth] == nib:
            j += 1
        branch[nib] = _reference(_build(items[i:j], depth + 1))
        i = j
    return branch


def trie_root(mapping: Mapping[bytes, bytes]) -> bytes:
    """Root hash of a trie holding `mapping` (empty values are treated as absent)."""
    items = sorted((_nibbles(k), v) for k, v in mapping.items() if v)
    if not items:
        return EMPTY_TRIE_ROOT
    root = _build(items, 0)
    return keccak256(encode(root))


def secure_trie_root(mapping: Mapping[bytes, bytes]) -> bytes:
    return trie_root({keccak256(k): v for k, v in mapping.items()})
