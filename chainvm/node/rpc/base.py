"""What every namespace of methods shares: the dev chain it serves and block lookups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from chainvm.chain.chain import StoredBlock
from chainvm.node.devchain import CallArgs, DevChain, NodeError
from chainvm.node.rpc.params import BlockId, InvalidParams
from chainvm.state.state import State


class Namespace:
    """A group of JSON-RPC methods over one `DevChain`.

    Every public method whose name starts with one of `prefixes` is served under its
    own name; `aliases` serves a method under more names (hardhat_ for anvil_). The
    dispatcher decodes each parameter from its annotation (see `params`).
    """

    prefixes: tuple[str, ...] = ()
    aliases: ClassVar[dict[str, str]] = {}

    def __init__(self, dev: DevChain) -> None:
        self.dev = dev

    def methods(self) -> dict[str, Callable[..., Any]]:
        out: dict[str, Callable[..., Any]] = {}
        for name in dir(type(self)):
            if name.startswith(self.prefixes) and callable(getattr(type(self), name)):
                out[name] = getattr(self, name)
        for alias, target in self.aliases.items():
            out[alias] = getattr(self, target)
        return out

    # -- blocks and states ---------------------------------------------------------------

    def block(self, ref: BlockId) -> StoredBlock:
        """The block `ref` names; -32000 "header not found" when there is none."""
        stored = self.maybe_block(ref)
        if stored is None:
            raise NodeError("header not found", -32000)
        return stored

    def maybe_block(self, ref: BlockId) -> StoredBlock | None:
        chain = self.dev.chain
        if ref.hash is not None:
            return chain.get_block(ref.hash)
        if ref.is_head:
            return chain.head
        if ref.tag == "earliest":
            return chain.get_block_by_number(0)
        assert ref.number is not None
        return chain.get_block_by_number(ref.number)

    def number(self, ref: BlockId) -> int:
        """The block number `ref` names (a future number stays as it is)."""
        if ref.number is not None:
            return ref.number
        if ref.tag == "earliest":
            return 0
        if ref.hash is not None:
            return self.block(ref).number
        return self.dev.head.number

    def state_at(self, ref: BlockId) -> State:
        return self.block(ref).state

    def call_state(self, ref: BlockId) -> State | None:
        """The state a call runs on: None for the head (the dev chain's own fast path)."""
        return None if ref.tag in ("latest", "pending") else self.state_at(ref)

    def check_chain_id(self, args: CallArgs) -> CallArgs:
        if args.chain_id is not None and args.chain_id != self.dev.chain_id:
            raise NodeError(f"chain id {args.chain_id} does not match {self.dev.chain_id}",
                            -32000)
        return args


def require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidParams(message)
