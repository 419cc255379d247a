"""Helpers the opcode bodies share: word masks, signed views, memory expansion."""

from __future__ import annotations

from struct import Struct
from typing import Final

from chainvm.evm.errors import OutOfGas
from chainvm.evm.frame import Frame
from chainvm.evm.gas import G_COPY, G_MEMORY, G_QUADCOEFFDIV

# Constants are Final so that the native build compiles them in (gas.py says why).
UINT256_MASK: Final = (1 << 256) - 1
SIGN_BIT: Final = 1 << 255
TWO_256: Final = 1 << 256
ADDRESS_MASK: Final = (1 << 160) - 1
# No real gas budget can pay for memory beyond this, so larger sizes are out of gas.
MAX_MEMORY: Final = 1 << 32
ZERO_WORD: Final = bytes(32)

# store_word(mem, offset, word) writes a 32-byte word inside memory. CPython's bytearray
# slice assignment (`mem[o:o + 32] = word`) first copies a bytes value into a new
# bytearray; pack_into writes it directly: 81 against 172 ns per MSTORE with the word's
# to_bytes, timeit on the benchmark machine. The offset is never negative and the word
# always fits (callers grow memory first), so pack_into's own checks never fire.
store_word: Final = Struct("32s").pack_into
# load_word(mem, offset)[0] is the 32-byte word at offset, as bytes: MLOAD's read. The
# slice `mem[o:o + 32]` makes a new bytearray (an object and a separate buffer); unpacking
# makes one bytes object and a 1-tuple: 120 against 151 ns per MLOAD with its from_bytes,
# timeit on the benchmark machine. As for store_word, the word is always inside memory.
load_word: Final = Struct("32s").unpack_from
# int.from_bytes looked up on the class makes a new bound method at every call (it is a
# classmethod); bound once here, a call is 35-50 ns cheaper in the pure package and the
# native build alike (a third of MLOAD's read; docs/performance.md, "`int.from_bytes`
# bound once"). Final: the native build reads it as a C static, not from the module's dict.
from_bytes: Final = int.from_bytes
# int.to_bytes, likewise, for MSTORE's word: `to_bytes(b, 32)` skips the method lookup on
# int's type that `b.to_bytes(32)` makes at every store in the native build, and costs
# the pure package no more (docs/performance.md, "MSTORE's word without a method lookup").
to_bytes: Final = int.to_bytes


def to_address(x: int) -> bytes:
    return (x & ADDRESS_MASK).to_bytes(20, "big")


def charge(f: Frame, amount: int) -> None:
    gas = f.gas - amount
    if gas < 0:
        raise OutOfGas
    f.gas = gas


# The Yellow Paper's memory cost, G_MEMORY * words + words^2 / G_QUADCOEFFDIV, of each
# size in words below len(MEMORY_COSTS): looking two up takes a quarter off an expansion
# under CPython (the five big-int operations cost about twice the lookups), and code that
# grows memory in small steps expands at every step. Grown on demand, doubling up to
# COST_STEP_WORDS and by that many words after, up to COST_TABLE_WORDS (1 MiB of memory,
# two lists of 32,768 ints; larger sizes are computed): the table is built only as far as
# memory has grown, and a memory just past a step pays for at most COST_STEP_WORDS
# entries it does not use (docs/performance.md, "Memory grown a word at a time past
# 128 KiB").
# expand_memory reads it inline rather than through a shared helper: a call is about an
# eighth of an expansion.
MEMORY_COSTS: Final[list[int]] = [0]
COST_TABLE_WORDS: Final = 1 << 15
COST_STEP_WORDS: Final = 1 << 8
# WORD_STEP_COSTS[w] = MEMORY_COSTS[w + 1] - MEMORY_COSTS[w], the cost of growing memory
# of w words by one (grow_for_word's case): one lookup instead of two and a subtraction
# takes about 40% off that growth (callgrind). Grown with MEMORY_COSTS, one entry shorter.
WORD_STEP_COSTS: Final[list[int]] = []


def _grow_memory_costs(words: int) -> None:
    """Extend MEMORY_COSTS past `words`: doubling it up to COST_STEP_WORDS entries, then by
    that many at a time (growth stays rare, and a memory just past the table's end does
    not build as much table again as it has used)."""
    costs = MEMORY_COSTS
    end = min(COST_TABLE_WORDS, max(words + 1, len(costs) + min(len(costs), COST_STEP_WORDS)))
    # (locals and lists: the native build reads imported names from the module's dict at
    # every use, and runs a generator as an object; this is a first run's cost)
    linear = G_MEMORY
    divisor = G_QUADCOEFFDIV
    costs += [linear * w + w * w // divisor for w in range(len(costs), end)]
    WORD_STEP_COSTS.extend([costs[w + 1] - costs[w]
                            for w in range(len(WORD_STEP_COSTS), end - 1)])


# Zeros that expansions copy from, instead of allocating (and zero-filling, or mapping
# fresh pages for) a temporary the size of each expansion. Larger expansions copy it
# chunk by chunk: a small source stays in cache and its pages are mapped once, where a
# source the size of the expansion costs a page fault for every 4 KiB it is read.
ZERO_FILL_BYTES: Final = 1 << 16
ZERO_FILL: Final = memoryview(bytes(ZERO_FILL_BYTES))


def expand_memory(f: Frame, offset: int, size: int) -> None:
    """Grow memory to cover [offset, offset+size) and charge for it; size 0 touches nothing."""
    if size == 0:
        return
    end = offset + size
    mem = f.memory
    old = len(mem)
    if end <= old:
        return
    if f.memory_tail:
        old = fill_memory_tail(f)
        if end <= old:
            return
    charge_memory_growth(f, old, end)
    append_zeros(mem, ((end + 31) & ~31) - old)


def charge_memory_growth(f: Frame, old: int, end: int) -> None:
    """Charge for growing memory from `old` bytes (whole words) to cover `end` bytes."""
    if end > MAX_MEMORY:
        raise OutOfGas
    new_words = (end + 31) >> 5
    old_words = old >> 5
    costs = MEMORY_COSTS
    if new_words < len(costs):
        cost = costs[new_words] - costs[old_words]
    elif new_words < COST_TABLE_WORDS:
        _grow_memory_costs(new_words)
        cost = costs[new_words] - costs[old_words]
    else:
        cost = (G_MEMORY * (new_words - old_words) + new_words * new_words // G_QUADCOEFFDIV
                - old_words * old_words // G_QUADCOEFFDIV)
    gas = f.gas - cost
    if gas < 0:
        raise OutOfGas
    f.gas = gas


def append_zeros(mem: bytearray, grown: int) -> None:
    """Append `grown` zero bytes to memory, copied from ZERO_FILL chunk by chunk."""
    while grown > ZERO_FILL_BYTES:
        mem += ZERO_FILL
        grown -= ZERO_FILL_BYTES
    mem += ZERO_FILL[:grown]


def fill_memory_tail(f: Frame) -> int:
    """Write out the zeros memory holds past its bytearray's end (f.memory_tail, left by
    grow_past_end), before anything reads or writes there; the new length."""
    mem = f.memory
    append_zeros(mem, f.memory_tail)
    f.memory_tail = 0
    return len(mem)


def grow_for_word(f: Frame, offset: int, word: bytes | None = None) -> None:
    """Grow memory to cover the word at `offset` (offset + 32 > len(memory)), charging
    for it, and store `word` there if given (MLOAD's and MSTORE's growth).

    A word that starts within the last word or at the end grows memory by exactly one
    word: charged from WORD_STEP_COSTS (or the formula past it), appended, or the tail
    overwritten, instead of zero-filled by expand_memory and then overwritten (a third
    less work per store, docs/performance.md). Any other word takes expand_memory."""
    mem = f.memory
    if f.memory_tail:
        fill_memory_tail(f)
        if offset + 32 <= len(mem):
            if word is not None:
                store_word(mem, offset, word)
            return
    old = len(mem)
    if old - 32 < offset <= old:
        words = old >> 5  # memory is whole words: it grows to words + 1
        steps = WORD_STEP_COSTS
        if words < len(steps):
            cost = steps[words]
        elif words + 1 < COST_TABLE_WORDS:
            _grow_memory_costs(words + 1)
            cost = steps[words]
        elif old + 32 > MAX_MEMORY:
            raise OutOfGas
        else:
            new = words + 1
            cost = G_MEMORY + new * new // G_QUADCOEFFDIV - words * words // G_QUADCOEFFDIV
        gas = f.gas - cost
        if gas < 0:
            raise OutOfGas
        f.gas = gas
        if word is None:
            mem += ZERO_WORD
        elif offset == old:
            mem += word
        else:
            mem += ZERO_WORD
            store_word(mem, offset, word)
        return
    expand_memory(f, offset, 32)
    if word is not None:
        store_word(mem, offset, word)


def load_past_end(f: Frame, offset: int) -> int:
    """MLOAD's growth (offset + 32 > len(memory)): grow memory to cover the word at
    `offset`, and return the word. One that starts at or past the old end is all zeros
    the growth just added: 0, without reading them back (about two thirds of an MLOAD's
    cost in the native build; memory_grow_mload, docs/performance.md)."""
    fresh = offset >= len(f.memory)
    grow_for_word(f, offset)
    return 0 if fresh else from_bytes(load_word(f.memory, offset)[0])


# Above this many bytes a memory range is read through a memoryview rather than a
# bytearray slice: fresh pages cost more than the copy (about 3.5 us per 4 KiB page
# touched on the benchmark machine); below it the plain slice is faster.
LARGE_MEMORY_RANGE: Final = 4096


def memory_bytes(mem: bytearray, offset: int, size: int) -> bytes:
    """mem[offset:offset+size] as bytes (the range is inside memory), a large range copied
    once through a memoryview instead of into a bytearray slice and again into bytes."""
    if size > LARGE_MEMORY_RANGE:
        return bytes(memoryview(mem)[offset:offset + size])
    return bytes(mem[offset:offset + size])


def grow_past_end(f: Frame, old: int, end: int) -> None:
    """Charge for memory to cover `end` bytes and count the zeros past the bytearray's
    `old` bytes in f.memory_tail, without writing them (a range that reaches more than
    LARGE_MEMORY_RANGE bytes past the end: grown_bytes, KECCAK256). The first growth
    check that reaches past the bytearray writes them out (fill_memory_tail)."""
    logical = old + f.memory_tail
    if end > logical:
        charge_memory_growth(f, logical, end)
        f.memory_tail = ((end + 31) & ~31) - old


def zero_chunks(size: int) -> list[memoryview]:
    """`size` zero bytes as views of ZERO_FILL, for hashing zeros without making them."""
    chunks = [ZERO_FILL] * (size // ZERO_FILL_BYTES)
    if size % ZERO_FILL_BYTES:
        chunks.append(ZERO_FILL[:size % ZERO_FILL_BYTES])
    return chunks


def grown_bytes(f: Frame, offset: int, size: int) -> bytes:
    """Grow memory to cover [offset, offset+size) (charged), then that range as bytes
    (LOG's data, RETURN's and REVERT's output; size > 0).

    When the range reaches more than LARGE_MEMORY_RANGE bytes past the end of memory,
    those bytes are zeros that nothing has read or written: memory's growth is charged
    but not written (grow_past_end), and the range's zeros are made as `bytes(n)`, whose
    pages the kernel maps on first read. Writing them costs a page fault for every 4 KiB,
    twice: once growing memory, once copying the range out (docs/performance.md, "Zeros
    past the end of memory are charged, not written")."""
    mem = f.memory
    old = len(mem)
    end = offset + size
    if end - old <= LARGE_MEMORY_RANGE:
        expand_memory(f, offset, size)
        return memory_bytes(mem, offset, size)
    grow_past_end(f, old, end)
    if offset >= old:
        return bytes(size)
    return memory_bytes(mem, offset, old - offset) + bytes(end - old)


def copy_cost_and_expand(f: Frame, mem_offset: int, size: int) -> None:
    """Memory expansion plus G_COPY per word for the *COPY opcodes."""
    if size:
        expand_memory(f, mem_offset, size)
        charge(f, G_COPY * ((size + 31) >> 5))


def copy_padded(f: Frame, mem_offset: int, data: bytes | memoryview, data_size: int,
                offset: int, size: int) -> None:
    """CALLDATACOPY, CODECOPY, EXTCODECOPY: charge for and grow memory, then write
    data[offset:offset+size] there, zeros read past `data_size` (`data` may go on past it
    with zero bytes only, as analysed code does: it is sliced as it is, not cut first).

    Reading wholly past the end into memory that was all new writes nothing: grown memory
    is zeros already (solc zeroes new arrays by copying from calldatasize() or codesize()
    on, mostly into fresh memory)."""
    if size:
        mem = f.memory
        fresh = mem_offset >= len(mem)
        copy_cost_and_expand(f, mem_offset, size)
        if offset < data_size:
            mem[mem_offset:mem_offset + size] = padded_slice(data, offset, size)
        elif not fresh:
            mem[mem_offset:mem_offset + size] = bytes(size)


def padded_slice(data: bytes | memoryview, start: int, size: int) -> bytes | memoryview:
    """data[start:start+size], zero-padded on the right (reads past the end give zeros).

    `data` may be a view (a large CALL input is a view of the caller's memory); so may
    the result, which callers only read at once or copy."""
    if start >= len(data):
        return bytes(size)
    chunk = data[start:start + size]
    if len(chunk) < size:
        return bytes(chunk) + bytes(size - len(chunk))
    return chunk
