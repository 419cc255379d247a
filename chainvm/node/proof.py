"""eth_getProof: not implemented yet (the state trie keeps no nodes to prove with)."""

from __future__ import annotations

from typing import Any

from chainvm.node.devchain import NodeError


def account_proof(state: Any, address: bytes, slots: list[int]) -> dict[str, Any]:
    raise NodeError("eth_getProof is not supported by this node yet", -32004)
