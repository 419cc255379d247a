"""A call frame: one activation of EVM code (a message call or a contract creation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from chainvm.evm.analysis import analyse, cached_analysis
from chainvm.evm.tiering import ENABLED as COMPILED_TIER_ENABLED
from chainvm.evm.tiering import ENTRY_THRESHOLD

if TYPE_CHECKING:
    from chainvm.evm.compiler import CompiledCode
    from chainvm.evm.vm import EVM

# What kind of result the parent expects from the frame.
KIND_CALL: Final = 0
KIND_CREATE: Final = 1

# What the compiled tier's bodies (OpSpec.exit_body) return instead of the next pc when
# the frame cannot go on: it halted (f.error says how, None for STOP and RETURN), or it
# started a child frame (f.child; f.pc is where it resumes). Returning costs about 3,000
# instructions less than raising Stop or CallRequest through the body and the block.
HALTED: Final = -1
CALLED: Final = -2


class Frame:
    __slots__ = (
        "address",
        "analysis",
        "blocks",
        "calldata",
        "caller",
        "child",
        "code",
        "depth",
        "error",
        "evm",
        "gas",
        "is_static",
        "jumpdests",
        "kind",
        "loop_from",
        "loop_gas",
        "memory",
        "memory_tail",
        "output",
        "pc",
        "push_values",
        "ret_offset",
        "ret_size",
        "return_data",
        "snapshot",
        "stack",
        "start_gas",
        "state",
        "value",
    )
    # Set only by a compiled-tier body that returns CALLED (never read before that).
    child: Frame | None

    def __init__(self, evm: EVM, code: bytes, gas: int, address: bytes, caller: bytes,
                 value: int, calldata: bytes | memoryview, is_static: bool, depth: int, kind: int,
                 snapshot: int) -> None:
        self.evm = evm
        self.state = evm.state
        # The cache's common case inline.
        analysis = cached_analysis(code)
        if analysis is None:
            analysis = analyse(code)
        self.analysis = analysis
        self.code = analysis.padded
        self.jumpdests = analysis.jump_check
        self.push_values = analysis.push_values
        self.stack: list[int] = []
        self.memory = bytearray()
        # Zeros memory holds past the bytearray's end, not yet written (grow_past_end).
        self.memory_tail = 0
        self.gas = gas
        self.start_gas = gas
        self.pc = 0
        self.address = address
        self.caller = caller
        self.value = value
        self.calldata = calldata
        self.is_static = is_static
        self.depth = depth
        self.return_data = b""
        self.output = b""
        self.error: BaseException | None = None
        self.kind = kind
        self.snapshot = snapshot
        self.ret_offset = 0
        self.ret_size = 0
        # The last backward jump's pc and the gas left then (loop heat, tiering.py).
        self.loop_from = -1
        self.loop_gas = gas
        # Compiled tier (see compiler.py): compiled blocks once the code is hot.
        blocks: CompiledCode | None = None
        if COMPILED_TIER_ENABLED and evm.tracer is None:
            entries = analysis.entries + 1
            analysis.entries = entries
            if entries > ENTRY_THRESHOLD:
                # Looked up here first: the function-level import cost about 8,000
                # instructions a frame (CPython 3.11 formats two AttributeErrors in it).
                opcodes = evm.opcodes
                blocks = analysis.compiled.get(opcodes)
                if blocks is None:
                    from chainvm.evm.compiler import compiled_for

                    blocks = compiled_for(analysis, opcodes)
        self.blocks = blocks


class TierUp(Exception):
    """Raised at a loop head by the interpreter when the frame should continue compiled."""


class CallRequest(Exception):
    """Raised by CALL/CREATE opcodes to hand a new frame to the driver loop (no recursion)."""

    __slots__ = ("child",)

    def __init__(self, child: Frame) -> None:
        self.child = child
