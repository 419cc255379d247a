"""The one way into EVM execution: build an `EVM`, warm the access set, run a `Message`.

Everything that executes code (the state transition, system calls of block processing,
eth_call on the dev chain, `chainvm run`, the test API and the tests) comes through
`execute_message`; the interpreter's frame loop is started nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainvm.evm.errors import Revert
from chainvm.evm.interpreter import run
from chainvm.evm.vm import (
    CALL,
    CALLCODE,
    CREATE,
    CREATE2,
    DELEGATECALL,
    EVM,
    STATICCALL,
    Immediate,
    Message,
    begin_message,
)

if TYPE_CHECKING:
    from chainvm.evm.env import BlockEnv
    from chainvm.evm.forks import Fork
    from chainvm.evm.tracer import Tracer
    from chainvm.state.state import State

__all__ = ["CALL", "CALLCODE", "CREATE", "CREATE2", "DELEGATECALL", "EVM", "STATICCALL",
           "Message", "MessageResult", "execute_message", "new_evm", "prewarm"]


@dataclass(slots=True)
class MessageResult:
    """How a message ended. `output` is the return or revert data (for a successful
    creation, the deployed code); `error` is None on success, "execution reverted" on
    REVERT, else the halt's description; `created` is a new contract's address; `halt` is
    the exception that stopped the first frame, if one did."""

    success: bool
    gas_left: int
    output: bytes
    error: str | None
    created: bytes | None = None
    halt: BaseException | None = None

    @property
    def reverted(self) -> bool:
        return self.error == "execution reverted"


def new_evm(state: State, fork: Fork, block: BlockEnv, origin: bytes, gas_price: int = 0,
            blob_hashes: tuple[bytes, ...] = (), blob_base_fee: int = 0,
            tracer: Tracer | None = None) -> EVM:
    """The context every frame of one transaction (or system call) shares."""
    return EVM(state, fork, block, origin, gas_price, blob_hashes, blob_base_fee, tracer)


def prewarm(evm: EVM, addresses: Iterable[bytes],
            slots: Iterable[tuple[bytes, int]] = ()) -> None:
    """Warm what a transaction starts with (EIP-2929: sender, recipient, precompiles;
    EIP-2930: its access list); nothing before Berlin."""
    if evm.rules.eip2929:
        evm.state.prewarm(addresses, slots)
        evm.state.prewarm(evm.precompiles)


def execute_message(evm: EVM, msg: Message) -> MessageResult:
    """Run `msg` and every frame it spawns to the end (no Python recursion per call)."""
    started = begin_message(evm, msg)
    if isinstance(started, Immediate):
        return MessageResult(started.success, started.gas_left, started.output,
                             None if started.success else "execution failed")
    frame = run(evm, started)
    error = frame.error
    if error is None:
        created = frame.address if msg.kind >= CREATE else None
        return MessageResult(True, frame.gas, frame.output, None, created)
    if isinstance(error, Revert):
        return MessageResult(False, frame.gas, frame.output, "execution reverted", None, error)
    return MessageResult(False, frame.gas, b"", str(error), None, error)
