"""Halts and validity errors.

Exceptional halts consume all gas of the frame; a revert keeps the remaining
gas and returns data; transaction errors never produce a receipt.
"""

from __future__ import annotations


class Halt(Exception):
    """Base of every way a frame stops."""


class Stop(Halt):
    """STOP or RETURN: success."""


class Revert(Halt):
    """REVERT (EIP-140): state rolled back, remaining gas kept."""


class ExceptionalHalt(Halt):
    """Any error that burns all gas of the frame."""

    description = "exceptional halt"

    def __str__(self) -> str:
        return self.args[0] if self.args else self.description


class OutOfGas(ExceptionalHalt):
    description = "out of gas"


class StackUnderflow(ExceptionalHalt):
    description = "stack underflow"


class StackOverflow(ExceptionalHalt):
    description = "stack limit reached 1024"


class InvalidJump(ExceptionalHalt):
    description = "invalid jump destination"


class InvalidOpcode(ExceptionalHalt):
    description = "invalid opcode"


class WriteProtection(ExceptionalHalt):
    description = "write protection"


class ReturnDataOutOfBounds(ExceptionalHalt):
    description = "return data out of bounds"


class CodeSizeExceeded(ExceptionalHalt):
    description = "max code size exceeded"


class InvalidCodePrefix(ExceptionalHalt):
    description = "invalid code: must not begin with 0xef"


class CodeStoreOutOfGas(ExceptionalHalt):
    description = "contract creation code storage out of gas"


class PrecompileFailure(ExceptionalHalt):
    description = "precompile failed"


class ContractCollision(ExceptionalHalt):
    description = "contract address collision"


class InvalidTransaction(Exception):
    """A transaction that cannot be included (malformed for its fork, badly signed, or not
    valid on the state); it changes no state and has no receipt. The message says why."""


class InvalidBlock(Exception):
    """A block that must not be imported; the message says why."""
