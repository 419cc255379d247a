"""What every namespace of methods shares: the dev chain it serves and block lookups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from chainvm.chain.chain import StoredBlock
from chainvm.chain.processing import header_env
from chainvm.chain.store import MemoryStore
from chainvm.evm.env import BlockEnv
from chainvm.evm.forks import Fork
from chainvm.node.devchain import CallArgs, DevChain, NodeError
from chainvm.node.rpc.params import BlockId, InvalidParams
from chainvm.state.state import State

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_GAS_CAP = 50_000_000
DEFAULT_EVM_TIMEOUT = 5.0
DEFAULT_MAX_TRACE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RpcOptions:
    """The limits and permissions the methods work under (the node's command line)."""

    # Gas of eth_call, eth_estimateGas, eth_createAccessList and debug_traceCall at most
    # (geth's --rpc.gascap); 0: no cap beyond the block's.
    gas_cap: int = DEFAULT_GAS_CAP
    # Seconds one execution (`bounded` methods) may run (geth's --rpc.evmtimeout); 0: none.
    evm_timeout: float = DEFAULT_EVM_TIMEOUT
    # Size of a struct-log trace at most, in bytes of JSON (estimated while it is built).
    max_trace_bytes: int = DEFAULT_MAX_TRACE_BYTES
    # Whether methods that wipe the chain (anvil_reset, anvil_loadState) may run on a
    # chain persisted in a --datadir.
    allow_reset: bool = False


def bounded(fn: F) -> F:
    """Marks a method that executes EVM code on a state copy and changes nothing else: it
    runs under the time limit (`RpcOptions.evm_timeout`) and may be interrupted anywhere."""
    fn.bounded = True  # type: ignore[attr-defined]
    return fn


def immediate(fn: F) -> F:
    """Marks a method that reads only what never changes (chain id, client version): the
    server answers it at once, without waiting for the chain's other work."""
    fn.immediate = True  # type: ignore[attr-defined]
    return fn


def quick(fn: F) -> F:
    """Marks a lookup that runs no EVM code and little else: the server may answer it on
    the event loop when the chain is idle (saving the hop to the chain's thread)."""
    fn.quick = True  # type: ignore[attr-defined]
    return fn


class Namespace:
    """A group of JSON-RPC methods over one `DevChain`.

    Every public method whose name starts with one of `prefixes` is served under its
    own name; `aliases` serves a method under more names (hardhat_ for anvil_). The
    dispatcher decodes each parameter from its annotation (see `params`).
    """

    prefixes: tuple[str, ...] = ()
    aliases: ClassVar[dict[str, str]] = {}

    def __init__(self, dev: DevChain, options: RpcOptions | None = None) -> None:
        self.dev = dev
        self.options = options or RpcOptions()

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
            return chain.get_canonical_block(ref.hash)
        if ref.tag == "pending":
            return self.dev.pending_block()
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
        remote = self.dev.remote
        if remote is not None and ref.number is not None and ref.number < remote.number:
            return remote.state_at(ref.number)  # forked: a block before the fork block
        return self.block(ref).state

    def call_context(self, ref: BlockId) -> tuple[State | None, BlockEnv, Fork]:
        """What a call at `ref` runs on, as anvil and geth run it: that block's state and
        its own header as the block context (NUMBER, TIMESTAMP, BASEFEE... of that
        block), under that block's fork; `pending`: the next block's context on the head
        state. The state is None for the head (the dev chain's own fast path)."""
        dev = self.dev
        if ref.tag == "pending":
            # On the pending block's state (none: the head's) with the next block's context.
            state = dev.pending_block().state if len(dev.pool) else None
            return (state, *dev.pending_env())
        remote = dev.remote
        if remote is not None and ref.number is not None and ref.number < remote.number:
            # Forked: a block before the fork block is the remote's, header and all.
            from chainvm.node.forking import header_from_json

            block = remote.get_block(ref.number, False)
            if not isinstance(block, dict):
                raise NodeError("header not found", -32000)
            header = header_from_json(block)
            older = dev.chain.older_hash

            def ancestor(n: int) -> bytes:
                return older(n) if older is not None and n < header.number else bytes(32)

            env = header_env(dev.config, header, ancestor)
            fork = dev.config.fork_at(header.number, header.timestamp, 0)
            return remote.state_at(ref.number), env, fork
        stored = self.block(ref)
        state = None if stored is dev.chain.head else stored.state
        return state, dev.block_env(stored), dev.fork_of(stored)

    def overridden_context(self, args: CallArgs, block: BlockId, overrides: Any,
                           block_overrides: Any,
                           where: tuple[str, str] = ("invalid argument 2: state overrides",
                                                     "invalid argument 3: block overrides"),
                           ) -> tuple[State | None, BlockEnv, Fork]:
        """`call_context(block)` with geth's state overrides and block overrides applied
        (`where` begins their errors); a call's gas is held within an overridden block gas
        limit, as within the real one."""
        from chainvm.node.rpc.eth import apply_block_overrides, apply_overrides

        state, env, fork = self.call_context(block)
        if overrides is not None:
            state = apply_overrides(state or self.dev.state(), overrides, where[0])
        if block_overrides is not None:
            env, fork = apply_block_overrides(self.dev, env, fork, block_overrides, where[1])
            if args.gas is not None:
                args.gas = min(args.gas, env.gas_limit)
        return state, env, fork

    def capped(self, args: CallArgs) -> CallArgs:
        """`args` with its gas limited to the block's gas limit and the RPC gas cap (geth's
        --rpc.gascap): what a call may burn is bounded before it starts."""
        # The head's limit, or the next block's if evm_setBlockGasLimit lowered it: a call
        # runs in one of the two.
        limit = min(self.dev.head.header.gas_limit, self.dev.next_gas_limit())
        if self.options.gas_cap:
            limit = min(limit, self.options.gas_cap)
        args.gas = limit if args.gas is None else min(args.gas, limit)
        return args

    def require_reset_allowed(self, method: str) -> None:
        """Refuse `method` on a chain kept in a --datadir unless the node allows resets."""
        if not isinstance(self.dev.chain.store, MemoryStore) and not self.options.allow_reset:
            raise NodeError(f"{method} would discard the chain kept in the data directory; "
                            "start the node with --allow-reset to permit it", -32000)

    def check_chain_id(self, args: CallArgs) -> CallArgs:
        if args.chain_id is not None and args.chain_id != self.dev.chain_id:
            raise NodeError(f"chain id {args.chain_id} does not match {self.dev.chain_id}",
                            -32000)
        return args


def require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidParams(message)
