"""Stack, memory, storage and control-flow opcodes (0x50-0x9f)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

from chainvm.evm import tiering
from chainvm.evm.analysis import JUMP_TABLES, JumpTable
from chainvm.evm.errors import InvalidJump, OutOfGas, Revert, Stop, WriteProtection
from chainvm.evm.frame import HALTED, Frame, TierUp
from chainvm.evm.gas import (
    G_COLD_SLOAD,
    G_COPY,
    G_LOGDATA,
    G_SLOAD_EIP1884,
    G_SRESET,
    G_SSET,
    G_SSTORE_NOOP_1283,
    G_SSTORE_SENTRY,
    G_WARM_ACCESS,
    R_SCLEAR,
    R_SCLEAR_EIP3529,
)
from chainvm.evm.instructions.common import charge, expand_memory, grown_bytes
from chainvm.evm.opspec import Inline
from chainvm.state.state import Log

Op = Callable[[Frame, list[int], int], int]


STOP = Inline("op_stop", 0, "raise Stop", pushes=False)
POP = Inline("op_pop", 1, "", pushes=False, words=True)  # (its item is never converted)
# MLOAD and MSTORE past the end of memory grow it in one call (grow_for_word: a word at
# the end is appended, a stored one without zero-filling it first; MLOAD's load_past_end
# gives 0 for a word that starts at or past the old end, without reading back the zeros).
# Both move the word with a Struct (common.load_word, common.store_word), cheaper than
# slicing. The plain read and store are the growth check's `else` line, which the compiled
# tier keeps alone where an earlier access in the same function already covers the word
# (compiler._uncovered); a load popped unread loses both its reads and keeps its growth
# (compiler._drop_dead_load).
MLOAD = Inline("op_mload", 1, """
    if a + 32 > len(mem): word = load_past_end(f, a)
    else: word = from_bytes(load_word(mem, a)[0])
    word
""")
MSTORE = Inline("op_mstore", 2, """
    if a + 32 > len(mem): grow_for_word(f, a, to_bytes(b, 32))
    else: store_word(mem, a, to_bytes(b, 32))
""", pushes=False)
MSTORE8 = Inline("op_mstore8", 2, """
    if a >= len(mem): expand_memory(f, a, 1)
    mem[a] = b & 0xFF
""", pushes=False)


# SLOAD as templates: a compiled block reads the slot over its locals instead of writing
# its stack items back for a body call (solc's code reads storage in its hot loops).
SLOAD = Inline("op_sload", 1, "f.state.get_storage(f.address, a)")
# EIP-2929: a slot's first read in a transaction is cold, charged as the excess over the
# warm read that the static gas covers.
SLOAD_EIP2929: Inline = Inline("op_sload_eip2929", 1, f"""
    if f.state.access_slot(f.address, a): charge(f, {G_COLD_SLOAD - G_WARM_ACCESS})
    f.state.get_storage(f.address, a)
""")


def op_sstore_frontier(f: Frame, s: list[int], pc: int) -> int:
    if f.is_static:
        raise WriteProtection
    key = s.pop()
    value = s.pop()
    state = f.state
    current = state.get_storage(f.address, key)
    if value and not current:
        charge(f, G_SSET)
    else:
        charge(f, G_SRESET)
        if current and not value:
            state.add_refund(R_SCLEAR)
    state.set_storage(f.address, key, value)
    return pc + 1


def _make_net_sstore(name: str, noop_gas: int, sentry: bool, cold_gas: int, clear_refund: int,
                     reset_gas: int) -> Op:
    """Net gas metering: EIP-1283 (Constantinople), EIP-2200, EIP-2929, EIP-3529.

    noop_gas is the cost of a write that changes nothing or hits a dirty slot;
    reset_gas the cost of changing a clean non-zero slot.
    """
    set_gas = G_SSET

    def op_sstore(f: Frame, s: list[int], pc: int) -> int:
        if f.is_static:
            raise WriteProtection
        if sentry and f.gas <= G_SSTORE_SENTRY:  # EIP-2200: never while only the call stipend is left
            raise OutOfGas
        key = s.pop()
        value = s.pop()
        state = f.state
        address = f.address
        cost = 0
        if cold_gas and state.access_slot(address, key):
            cost = cold_gas
        current = state.get_storage(address, key)
        if current == value:
            cost += noop_gas
        else:
            original = state.original_storage(address, key)
            if original == current:
                if original == 0:
                    cost += set_gas
                else:
                    cost += reset_gas
                    if value == 0:
                        state.add_refund(clear_refund)
            else:
                cost += noop_gas
                if original != 0:
                    if current == 0:
                        state.add_refund(-clear_refund)
                    elif value == 0:
                        state.add_refund(clear_refund)
                if original == value:
                    if original == 0:
                        state.add_refund(set_gas - noop_gas)
                    else:
                        state.add_refund(reset_gas - noop_gas)
        charge(f, cost)
        state.set_storage(address, key, value)
        return pc + 1

    op_sstore.__name__ = name
    return op_sstore


op_sstore_eip1283: Op = _make_net_sstore("op_sstore_eip1283", G_SSTORE_NOOP_1283, False, 0,
                                         R_SCLEAR, G_SRESET)
# EIP-2200: a no-op write costs what SLOAD costs (EIP-1884's price).
op_sstore_eip2200: Op = _make_net_sstore("op_sstore_eip2200", G_SLOAD_EIP1884, True, 0,
                                         R_SCLEAR, G_SRESET)
# EIP-2929: a warm read's price for no-ops, the cold surcharge separately.
op_sstore_eip2929: Op = _make_net_sstore("op_sstore_eip2929", G_WARM_ACCESS, True,
                                         G_COLD_SLOAD, R_SCLEAR, G_SRESET - G_COLD_SLOAD)
op_sstore_eip3529: Op = _make_net_sstore("op_sstore_eip3529", G_WARM_ACCESS, True,
                                         G_COLD_SLOAD, R_SCLEAR_EIP3529, G_SRESET - G_COLD_SLOAD)


# The jumps type the stack list[Any]: the native build then looks the destination up in
# the jump destinations as the int object it is, where a list[int] item would be
# converted to a C integer and boxed again for the lookup (a new object for any
# destination above 256); the return converts it once (see Inline's `words`).
def op_jump(f: Frame, s: list[Any], pc: int) -> int:
    dest = s.pop()
    if dest not in f.jumpdests:
        raise InvalidJump
    return dest


def op_jumpi(f: Frame, s: list[Any], pc: int) -> int:
    dest = s.pop()
    if s.pop():
        if dest not in f.jumpdests:
            raise InvalidJump
        return dest
    return pc + 1


PC = Inline("op_pc", 0, "pc")
MSIZE = Inline("op_msize", 0, "len(mem) + f.memory_tail")
JUMPDEST = Inline("op_jumpdest", 0, "", pushes=False)


def op_gas(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.gas)
    return pc + 1


# The tiering thresholds as Final names of this module: the native build keeps them in C
# statics, where a name imported from the interpreted tiering module is a dict lookup at
# every use (three a backward jump).
LOOP_THRESHOLD: Final = tiering.LOOP_THRESHOLD
LOOP_WORK_CAP: Final = tiering.LOOP_WORK_CAP
LOOP_WORK_GAS: Final = tiering.LOOP_WORK_GAS
COUNT_LOOP_HEADS: Final = tiering.ENABLED


def _count_loop_head(f: Frame, dest: int, pc: int) -> None:
    """Count a backward jump from `pc` to `dest`; a head hot enough moves the frame to the
    compiled tier (TierUp, at dest). Heat is per code, across frames: each jump adds one;
    when the frame's previous backward jump was this same one (an iteration of one loop),
    also one per LOOP_WORK_GAS of gas spent since then (at most LOOP_WORK_CAP), so a long
    loop body (unrolled rounds run a few dozen times) moves after a few iterations instead
    of fifty, while code jumping about (micro/jump_around) counts one per jump."""
    gas = f.gas
    heat = f.analysis.heat
    if not heat:
        # A list, not a dict: the native build's dict get and set of a new int key cost
        # about 800 CPU instructions a jump (micro/jump_around: a third of its frame).
        heat = f.analysis.heat = [0] * f.analysis.size
    n = heat[dest] + 1
    if f.loop_from == pc:
        n += min((f.loop_gas - gas) // LOOP_WORK_GAS, LOOP_WORK_CAP)
    else:
        f.loop_from = pc
    f.loop_gas = gas
    heat[dest] = n
    if n > LOOP_THRESHOLD:
        f.pc = dest
        raise TierUp


def op_jump_counting(f: Frame, s: list[Any], pc: int) -> int:
    """JUMP for the fast loop: backward jumps count their loop heads for the compiled tier."""
    item = s.pop()
    if item not in f.jumpdests:
        raise InvalidJump
    dest: int = item  # (compared as a C integer from here)
    if dest < pc:
        _count_loop_head(f, dest, pc)
    return dest


def jump_after_push(f: Frame, s: list[Any], dest: int, pc: int) -> int:
    """The JUMP or JUMPI at `pc` whose destination the PUSH1 or PUSH2 just before it gave.

    The native build's interpreter loop takes such a pair as one step (most of Solidity's
    branches are `PUSH2 tag JUMPI` or `PUSH2 tag JUMP`), so the destination never goes on
    the stack: a stack that runs empty between blocks pays a list reallocation at every
    push and pop otherwise. As op_jump / op_jumpi, counting backward jumps while the compiled tier is on
    (as op_jump_counting). The loop has charged both instructions' static gas."""
    if f.code[pc] == 0x57 and not s.pop():  # a JUMPI not taken
        return pc + 1
    # The native build's JumpTable is indexed with `dest` as the C integer it is here;
    # `in` would make an int object of it first.
    if not (cast(JumpTable, f.jumpdests).holds(dest) if JUMP_TABLES else dest in f.jumpdests):
        raise InvalidJump
    if COUNT_LOOP_HEADS and dest < pc:
        _count_loop_head(f, dest, pc)
    return dest


def op_jumpi_counting(f: Frame, s: list[Any], pc: int) -> int:
    item = s.pop()
    if s.pop():
        if item not in f.jumpdests:
            raise InvalidJump
        dest: int = item
        if dest < pc:
            _count_loop_head(f, dest, pc)
        return dest
    return pc + 1


def op_tload(f: Frame, s: list[int], pc: int) -> int:  # EIP-1153
    s[-1] = f.state.get_transient(f.address, s[-1])
    return pc + 1


def op_tstore(f: Frame, s: list[int], pc: int) -> int:  # EIP-1153
    if f.is_static:
        raise WriteProtection
    key = s.pop()
    f.state.set_transient(f.address, key, s.pop())
    return pc + 1


def op_mcopy(f: Frame, s: list[int], pc: int) -> int:  # EIP-5656
    dest = s.pop()
    src = s.pop()
    size = s.pop()
    if size:
        expand_memory(f, max(dest, src), size)
        charge(f, G_COPY * ((size + 31) >> 5))
        mem = f.memory
        mem[dest:dest + size] = mem[src:src + size]
    return pc + 1


PUSH0: Inline = Inline("op_push0", 0, "0")  # EIP-3855


def _make_push(width: int) -> Op:
    step = width + 1

    def op_push(f: Frame, s: list[int], pc: int) -> int:
        s.append(f.push_values[pc])
        return pc + step

    op_push.__name__ = f"op_push{width}"
    return op_push


def _make_dup(n: int) -> Op:
    index = -n

    def op_dup(f: Frame, s: list[int], pc: int) -> int:
        s.append(s[index])
        return pc + 1

    op_dup.__name__ = f"op_dup{n}"
    return op_dup


def _make_swap(n: int) -> Op:
    index = -n - 1

    def op_swap(f: Frame, s: list[int], pc: int) -> int:
        s[-1], s[index] = s[index], s[-1]
        return pc + 1

    op_swap.__name__ = f"op_swap{n}"
    return op_swap


PUSH_OPS = [_make_push(w) for w in range(1, 33)]
DUP_OPS = [_make_dup(n) for n in range(1, 17)]
SWAP_OPS = [_make_swap(n) for n in range(1, 17)]


def _make_log(topics: int) -> Op:
    def op_log(f: Frame, s: list[int], pc: int) -> int:
        if f.is_static:
            raise WriteProtection
        offset = s.pop()
        size = s.pop()
        topic_values = tuple(s.pop() for _ in range(topics))
        if size:
            # charged before the growth: an out-of-gas LOG halts either way, and the
            # data is then taken as the growth leaves it
            charge(f, G_LOGDATA * size)
            data = grown_bytes(f, offset, size)
        else:
            data = b""
        f.state.add_log(Log(f.address, topic_values, data))
        return pc + 1

    op_log.__name__ = f"op_log{topics}"
    return op_log


LOG_OPS = [_make_log(n) for n in range(5)]


def op_return(f: Frame, s: list[int], pc: int) -> int:
    op_return_exit(f, s, pc)
    raise Stop


def op_revert(f: Frame, s: list[int], pc: int) -> int:  # EIP-140
    op_return_exit(f, s, pc)  # the output is taken as RETURN takes it
    raise Revert


# The compiled tier's STOP, RETURN and REVERT (OpSpec.exit_body): the frame's end is
# returned, not raised.
def op_stop_exit(f: Frame, s: list[int], pc: int) -> int:
    return HALTED


def op_return_exit(f: Frame, s: list[int], pc: int) -> int:
    offset = s.pop()
    size = s.pop()
    if size:
        f.output = grown_bytes(f, offset, size)
    return HALTED


def op_revert_exit(f: Frame, s: list[int], pc: int) -> int:  # EIP-140
    op_return_exit(f, s, pc)
    f.error = Revert()
    return HALTED
