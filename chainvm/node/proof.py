"""eth_getProof (EIP-1186): Merkle proofs of an account and its storage slots.

The state keeps no trie nodes (roots are computed from the key/value sets), so the
trie is rebuilt here with every hashed node recorded, then walked along the key's
path. A proof lists the RLP of each hashed node from the root down; nodes shorter
than 32 bytes are embedded in their parent, as in geth's proofs.
"""

from __future__ import annotations

from typing import Any

from chainvm.crypto import EMPTY_KECCAK, keccak256
from chainvm.encoding.rlp import decode, encode
from chainvm.state.state import State, account_rlp, storage_root
from chainvm.state.trie import EMPTY_TRIE_ROOT


def _nibbles(key: bytes) -> bytes:
    """One nibble (0-15) per byte."""
    return bytes(b for byte in key for b in (byte >> 4, byte & 15))


def _hex_prefix(nibbles: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        first = bytes([(flag + 1) << 4 | nibbles[0]])
        rest = nibbles[1:]
    else:
        first = bytes([flag << 4])
        rest = nibbles
    return first + bytes(rest[i] << 4 | rest[i + 1] for i in range(0, len(rest), 2))


class _Trie:
    def __init__(self, mapping: dict[bytes, bytes]) -> None:
        self.nodes: dict[bytes, Any] = {}
        items = sorted((_nibbles(keccak256(k)), v) for k, v in mapping.items() if v)
        self.root: Any = self._build(items, 0) if items else None

    def _ref(self, node: Any) -> Any:
        encoded = encode(node)
        if len(encoded) < 32:
            return node
        h = keccak256(encoded)
        self.nodes[h] = node
        return h

    def _build(self, items: list[tuple[bytes, bytes]], depth: int) -> Any:
        if len(items) == 1:
            path, value = items[0]
            return [_hex_prefix(path[depth:], True), value]
        first, last = items[0][0], items[-1][0]
        common = depth
        while common < min(len(first), len(last)) and first[common] == last[common]:
            common += 1
        if common > depth:
            return [_hex_prefix(first[depth:common], False),
                    self._ref(self._build(items, common))]
        branch: list[Any] = [b""] * 17
        i, n = 0, len(items)
        while i < n:
            nib = items[i][0][depth]
            j = i + 1
            while j < n and items[j][0][depth] == nib:
                j += 1
            branch[nib] = self._ref(self._build(items[i:j], depth + 1))
            i = j
        return branch

    def proof(self, key: bytes) -> list[str]:
        if self.root is None:
            return []
        path = _nibbles(keccak256(key))
        out = ["0x" + encode(self.root).hex()]
        node: Any = self.root
        pos = 0
        while True:
            if len(node) == 17:
                if pos >= len(path):
                    return out
                child = node[path[pos]]
                pos += 1
            else:
                encoded_path = node[0]
                flag = encoded_path[0] >> 4
                nibs = _nibbles(encoded_path)[1 if flag & 1 else 2:]
                if path[pos:pos + len(nibs)] != nibs or flag >= 2:
                    return out  # a leaf (found or not) or a diverging extension
                pos += len(nibs)
                child = node[1]
            if child == b"":
                return out
            if isinstance(child, bytes) and len(child) == 32 and child in self.nodes:
                node = self.nodes[child]
                out.append("0x" + encode(node).hex())
            else:
                node = child if isinstance(child, list) else decode(child)


def account_proof(state: State, address: bytes, slots: list[int]) -> dict[str, Any]:
    # Read the account and its slots first: a forked state loads them from its remote,
    # and the tries below are built from what is held locally.
    acct = state.accounts.get(address)
    storage = acct.storage if acct is not None else {}
    for slot in slots:
        storage.get(slot, 0)
    accounts = {a: account_rlp(acct) for a, acct in state.accounts.items()}
    state_trie = _Trie(accounts)
    storage_trie = _Trie({k.to_bytes(32, "big"): encode(v) for k, v in storage.items() if v})
    return {
        "address": "0x" + address.hex(),
        "accountProof": state_trie.proof(address),
        "balance": hex(acct.balance if acct else 0),
        "nonce": hex(acct.nonce if acct else 0),
        "codeHash": "0x" + (acct.code_hash if acct else EMPTY_KECCAK).hex(),
        "storageHash": "0x" + (storage_root(storage) if acct else EMPTY_TRIE_ROOT).hex(),
        "storageProof": [
            {"key": hex(slot), "value": hex(storage.get(slot, 0)),
             "proof": storage_trie.proof(slot.to_bytes(32, "big"))}
            for slot in slots],
    }
