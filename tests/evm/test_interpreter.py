import subprocess
import sys
from typing import Any

import pytest

from chainvm.evm import interpreter, tiering
from chainvm.evm.analysis import cached_analysis
from chainvm.evm.forks import FORKS
from chainvm.evm.instructions import stack_memory
from tests.helpers import ret_top, run_code

M = 2**256 - 1


def word(x: int) -> str:
    return "7f" + (x & M).to_bytes(32, "big").hex()  # PUSH32 x


def binop(op: str, a: int, b: int) -> int:
    out = run_code(word(b) + word(a) + op + ret_top())
    assert out.success, out.error
    return int.from_bytes(out.output, "big")


@pytest.mark.parametrize("op,a,b,expected", [
    ("01", M, 1, 0),                       # ADD wraps
    ("02", 2**255, 2, 0),                  # MUL wraps
    ("03", 0, 1, M),                       # SUB wraps
    ("04", 7, 0, 0),                       # DIV by zero
    ("05", M, 1, M),                       # SDIV -1/1
    ("05", 2**255, M, 2**255),             # SDIV overflow case
    ("07", (-7) & M, 3, (-1) & M),         # SMOD keeps the dividend's sign
    ("0b", 0, 0x80, M - 0x7F),             # SIGNEXTEND of byte 0x80
    ("12", M, 0, 1),                       # SLT -1 < 0
    ("1a", 31, 0xAB, 0xAB),                # BYTE 31
    ("1b", 256, 1, 0),                     # SHL by 256
    ("1d", 4, (-16) & M, (-1) & M),        # SAR keeps the sign
    ("0a", 2, 256, 0),                     # EXP wraps
])
def test_binary_operations(op: str, a: int, b: int, expected: int) -> None:
    assert binop(op, a, b) == expected


def test_addmod_mulmod_use_full_precision() -> None:
    code = word(7) + word(M) + word(M) + "08" + ret_top()  # (M + M) % 7
    assert int.from_bytes(run_code(code).output, "big") == (2 * M) % 7
    code = word(12) + word(M) + word(M) + "09" + ret_top()
    assert int.from_bytes(run_code(code).output, "big") == (M * M) % 12


def test_static_gas_is_charged_per_instruction() -> None:
    out = run_code("600160020100")  # PUSH1 PUSH1 ADD STOP
    assert out.gas_used == 3 + 3 + 3


def test_memory_expansion_cost() -> None:
    # MSTORE at offset 0 then at 1000: words 1 -> 33, cost 3*w + w*w//512.
    out = run_code("60015f52" + "60016103e85200")
    first = 3 + 2 + 3 + 3
    second = 3 + 3 + 3 + (3 * 33 + 33 * 33 // 512 - 3)
    assert out.gas_used == first + second


def test_stack_underflow_burns_all_gas() -> None:
    out = run_code("01", gas=50_000)
    assert not out.success and out.error == "StackUnderflow"
    assert out.gas_used == 50_000


def test_stack_overflow_at_1025_items() -> None:
    ok = run_code("5f" * 1024 + "00")
    assert ok.success
    over = run_code("5f" * 1025 + "00")
    assert over.error == "StackOverflow"


def test_invalid_jump_and_push_data_jumpdest(loop_paths: None) -> None:
    # Jump into PUSH data that looks like a JUMPDEST must fail.
    out = run_code("6003565b00")  # PUSH1 3 JUMP (byte 3 is 0x5b, but it is code) -> valid
    assert out.success
    out = run_code("600456605b00")  # jump to 4, inside PUSH1 0x5b
    assert out.error == "InvalidJump"


def test_revert_keeps_gas_and_returns_data() -> None:
    out = run_code("602a5f5260205ffd", gas=100_000)  # mstore 42, revert 32 bytes
    assert not out.success and out.error == "Revert"
    assert int.from_bytes(out.output, "big") == 42
    assert out.gas_used < 100


def test_push0_only_from_shanghai() -> None:
    assert run_code("5f00", fork="Shanghai").success
    assert run_code("5f00", fork="Paris").error == "InvalidOpcode"


def _transient_then_call_self(inner_end: str) -> str:
    """Outer frame: TSTORE(1, 5); CALL itself with one byte of calldata; return TLOAD(1).
    Inner frame (calldata present): TSTORE(1, 7), then `inner_end`."""
    outer = ("600560015d"                  # TSTORE(1, 5)
             "5f5f60015f5f305af150"        # CALL(GAS, ADDRESS, 0, 0, 1, 0, 0); POP
             "60015c" + ret_top())         # TLOAD(1), returned
    inner_at = 4 + len(outer) // 2
    return ("36" f"60{inner_at:02x}" "57"  # CALLDATASIZE; JUMPI to the inner part
            + outer + "5b" "600760015d" + inner_end)


def test_transient_storage_is_cleared_by_revert_of_the_frame() -> None:
    # EIP-1153: a frame's TSTOREs are undone when it reverts, like storage writes.
    reverted = run_code(_transient_then_call_self("5f5ffd"), fork="Cancun")  # REVERT(0, 0)
    assert reverted.success
    assert int.from_bytes(reverted.output, "big") == 5
    # The same program whose inner frame stops normally keeps the inner write.
    kept = run_code(_transient_then_call_self("00"), fork="Cancun")
    assert int.from_bytes(kept.output, "big") == 7


def test_mcopy_overlapping() -> None:
    # mem[0..32] = 0x0102..; MCOPY(dest=1, src=0, size=4); return word 0
    code = word(int.from_bytes(bytes(range(1, 33)), "big")) + "5f52" + "60045f60015e" + "5f51" \
        + ret_top()
    out = run_code(code)
    assert out.output[:6] == bytes([1, 1, 2, 3, 4, 6])


DEPTH_PROGRAM = (
    # CALL(gas, address, 0, 0, 0, 0, 32): call self, result word into mem[0:32]
    "6020" "5f" "5f" "5f" "5f" "30" "5a" "f1" "50"
    # return mem[0] + 1
    "5f51" "600101" "5f52" "60205ff3"
)


def test_call_depth_limit_is_1024_without_python_recursion() -> None:
    # Run in a fresh plain interpreter to prove no deep Python stack is needed.
    script = (
        "from tests.helpers import run_code\n"
        f"out = run_code({DEPTH_PROGRAM!r}, gas=10**12)\n"
        "print(int.from_bytes(out.output, 'big'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    # Frames at depths 0..1024 each add one; the call from depth 1024 fails.
    assert int(result.stdout) == 1025


CREATE_DEPTH_PROGRAM = (
    # init code: copy own code to memory and CREATE it again; the deepest CREATE fails.
    "38" "5f" "5f" "39"        # CODECOPY(0, 0, CODESIZE)
    "38" "5f" "5f" "f0" "00"   # CREATE(0, 0, CODESIZE); STOP
)


def test_create_depth_limit_is_1024_without_python_recursion() -> None:
    script = (
        "from tests.helpers import run_code, TARGET, SENDER\n"
        "from chainvm.state.state import Account\n"
        f"out = run_code({CREATE_DEPTH_PROGRAM!r}, gas=10**15)\n"
        "created = [a for a, acct in out.state.accounts.items() if a not in (TARGET, SENDER)]\n"
        "print(len(created))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    # The call frame is depth 0; creations succeed at depths 1..1024.
    assert int(result.stdout) == 1024


def _mark_memory() -> str:
    """Bytecode: MSTORE8 0xaa at 6000 and 0xbb at 100 (sizes around the large-copy path)."""
    return "60aa611770" + "53" + "60bb6064" + "53"


@pytest.mark.parametrize("size", [32, 4096, 4097, 9000])
def test_log_and_return_copy_memory_ranges_of_any_size(size: int) -> None:
    # LOG0 over [100, 100+size), then RETURN (or REVERT) the same range.
    memory = bytearray(max(6001, 100 + size))
    memory[6000], memory[100] = 0xAA, 0xBB
    expected = bytes(memory[100:100 + size])
    span = f"61{size:04x}6064"  # PUSH2 size PUSH1 100
    out = run_code(_mark_memory() + span + "a0" + span + "f3", gas=10_000_000)
    assert out.success and out.output == expected
    assert [log.data for log in out.state.logs] == [expected]
    out = run_code(_mark_memory() + span + "fd", gas=10_000_000)
    assert out.error == "Revert" and out.output == expected


@pytest.mark.parametrize("size", [4096, 4097, 9000])
@pytest.mark.parametrize("offset", [64, 128, 200])
def test_log_and_return_past_the_end_of_memory_read_zeros_and_grow_it(offset: int,
                                                                       size: int) -> None:
    # Memory is 128 bytes (0xbb at 100). A range from 128 or 200 on lies wholly past its
    # end (taken as fresh zeros when large); one from 64 covers the mark and new bytes.
    memory = bytearray(128 + offset + size)
    memory[100] = 0xBB
    expected = bytes(memory[offset:offset + size])
    mark = "60bb6064" + "53"  # MSTORE8 0xbb at 100
    span = f"61{size:04x}61{offset:04x}"  # PUSH2 size PUSH2 offset
    out = run_code(mark + span + "a0" + span + "f3", gas=10_000_000)
    assert out.success and out.output == expected
    assert [log.data for log in out.state.logs] == [expected]
    out = run_code(mark + span + "a0" + "59" + ret_top(), gas=10_000_000)  # LOG0, MSIZE
    assert int.from_bytes(out.output, "big") == (offset + size + 31) // 32 * 32
    out = run_code(mark + span + "fd", gas=10_000_000)
    assert out.error == "Revert" and out.output == expected


def test_a_large_range_past_the_end_of_memory_is_charged_and_written_out_when_reached() -> None:
    from chainvm.evm.instructions import common

    f = _memory_frame(10**9, bytes(64))
    gas = f.gas
    assert common.grown_bytes(f, 100, 100_000) == bytes(100_000)
    words = (100_100 + 31) // 32
    assert gas - f.gas == 3 * words + words * words // 512 - (3 * 2 + 4 // 512)
    assert len(f.memory) == 64 and f.memory_tail == 32 * words - 64  # charged, not written
    # a range inside the logical memory is not charged again, and its zeros are made
    gas = f.gas
    assert common.grown_bytes(f, 32, 50_000) == bytes(50_000) and f.gas == gas
    assert len(f.memory) == 64
    # the first growth check that reaches past the bytearray writes the zeros out
    common.grow_for_word(f, 70_000, b"\x01" * 32)
    assert f.gas == gas and f.memory_tail == 0 and len(f.memory) == 32 * words
    assert f.memory[70_000:70_032] == b"\x01" * 32 and f.memory.count(0) == 32 * words - 32


@pytest.mark.parametrize("offset, size", [(32, 200_000), (100_000, 10_000), (64, 4_097)])
def test_keccak256_past_the_end_of_memory_hashes_zeros_it_does_not_write(offset: int,
                                                                        size: int) -> None:
    from chainvm.crypto import keccak256
    from chainvm.evm.instructions import environment

    def cost(words: int) -> int:
        return 3 * words + words * words // 512

    f = _memory_frame(10**9, b"\x01" * 64)
    gas = f.gas
    stack = [size, offset]
    environment.op_keccak256(f, stack, 0)
    expected = (b"\x01" * 64 + bytes(offset + size))[offset:offset + size]
    assert stack == [int.from_bytes(keccak256(expected), "big")]
    words = (offset + size + 31) // 32
    assert gas - f.gas == cost(words) - cost(2) + 6 * ((size + 31) // 32)
    assert len(f.memory) == 64 and f.memory_tail == 32 * words - 64


def test_memory_expansion_charges_the_yellow_papers_cost_across_the_cost_table() -> None:
    """expand_memory looks small sizes up in a table grown on demand and computes larger
    ones: both must charge C(new) - C(old), C(w) = 3w + w*w // 512, in any order of growth,
    and run out of gas (memory unchanged) when that is more than the frame has."""
    import random

    from chainvm.evm.errors import OutOfGas
    from chainvm.evm.instructions import common

    def cost(words: int) -> int:
        return 3 * words + words * words // 512

    limit = common.COST_TABLE_WORDS
    rng = random.Random("memory-cost")
    for _ in range(200):
        f = _memory_frame(10**12)
        words = 0
        for _ in range(rng.randrange(1, 6)):
            end = rng.choice([rng.randrange(1, 64), rng.randrange(1, 40 * limit)])
            before = f.gas
            common.expand_memory(f, end - 1, 1)
            new = max(words, (end + 31) // 32)
            assert before - f.gas == cost(new) - cost(words)
            assert len(f.memory) == 32 * new and f.memory.count(0) == len(f.memory)
            words = new
    # Past the zeros that expansions copy from (ZERO_FILL), they are copied chunk by chunk:
    # growths of less than, exactly and a few times a chunk, with and without a remainder.
    f = _memory_frame(10**12)
    f.memory += b"\x01" * 64
    chunk = common.ZERO_FILL_BYTES
    for end in (chunk - 32, chunk + 96, 2 * chunk + 96, 5 * chunk + 96 + 32, 9 * chunk):
        before, words = f.gas, len(f.memory) // 32
        common.expand_memory(f, end - 1, 1)
        assert before - f.gas == cost((end + 31) // 32) - cost(words)
        assert len(f.memory) == (end + 31) // 32 * 32
        assert f.memory[:64] == b"\x01" * 64 and f.memory.count(0) == len(f.memory) - 64
    poor = _memory_frame(cost(limit + 1) - 1)
    with pytest.raises(OutOfGas):
        common.expand_memory(poor, 0, 32 * (limit + 1))
    assert poor.memory == bytearray() and poor.gas == cost(limit + 1) - 1


def _memory_frame(gas: int, memory: bytes = b"") -> Any:
    """A frame with `gas` and `memory` (a real one: the native build's memory functions
    take nothing else)."""
    from chainvm.evm.forks import FORKS
    from tests.evm.test_opcode_templates import _frame

    return _frame(FORKS["Cancun"], b"", [], memory, b"", gas)


def _expanded_for_word(gas: int, memory: bytes, offset: int,
                       word: bytes | None = None) -> tuple[int, bytes] | None:
    """(gas, memory) after expand_memory for the word at `offset` and storing `word` there
    (if given); None if that runs out of gas: the reference for growth by a word."""
    from chainvm.evm.errors import OutOfGas
    from chainvm.evm.instructions import common

    f = _memory_frame(gas, memory)
    try:
        common.expand_memory(f, offset, 32)
    except OutOfGas:
        return None
    if word is not None:
        f.memory[offset:offset + 32] = word
    return f.gas, bytes(f.memory)


def test_growth_for_a_word_writes_and_charges_as_expansion_then_store() -> None:
    """grow_for_word (MLOAD and MSTORE past the end of memory) grows by a word without
    expand_memory, appending a stored word or overwriting a tail it overlaps: memory, gas
    and running out of gas must be those of expand_memory followed by the store (if any),
    for words at, just before and past the end, below and above the cost table."""
    import random

    from chainvm.evm.errors import OutOfGas
    from chainvm.evm.instructions import common

    rng = random.Random("growing-store")
    limit = common.COST_TABLE_WORDS
    for _ in range(400):
        words = rng.choice([rng.randrange(0, 8), rng.randrange(limit - 3, limit + 3)])
        memory = rng.randbytes(32 * words)
        old = len(memory)
        offset = max(0, old + rng.choice([-31, -17, -1, 0, 0, 1, 31, 32, 100]))
        word = rng.choice([rng.randbytes(32), None])
        gas = rng.choice([10**9, rng.randrange(0, 200)])
        want = _expanded_for_word(gas, memory, offset, word)
        f = _memory_frame(gas, memory)
        if want is None:
            with pytest.raises(OutOfGas):
                common.grow_for_word(f, offset, word)
            assert (f.gas, bytes(f.memory)) == (gas, memory)  # nothing changed
        else:
            common.grow_for_word(f, offset, word)
            assert (f.gas, bytes(f.memory)) == want


def test_mload_and_mstore_grow_memory_as_expansion_then_access() -> None:
    """MLOAD's and MSTORE's bodies (their templates' interpreter bodies, which grow memory
    through grow_for_word's table lookups) must leave gas, memory and the stack as
    expand_memory followed by the access would, and run out of gas with nothing changed,
    on both sides of the cost table's end and of the exact gas needed."""
    import random

    from chainvm.evm.errors import OutOfGas
    from chainvm.evm.instructions import common
    from chainvm.evm.instructions.stack_memory import MLOAD, MSTORE

    rng = random.Random("growing-access")
    limit = common.COST_TABLE_WORDS
    grown = 0
    for _ in range(300):
        words = rng.choice([rng.randrange(0, 8), rng.randrange(limit - 3, limit + 3)])
        memory = rng.randbytes(32 * words)
        offset = max(0, len(memory) + rng.choice([-31, -17, -1, 0, 0, 1, 31, 32, 100]))
        word = rng.getrandbits(256)
        grows = _expanded_for_word(10**9, memory, offset)
        assert grows is not None
        needed = 10**9 - grows[0]
        gas = rng.choice([10**9, needed, needed - 1, rng.randrange(0, 50)])
        want = _expanded_for_word(gas, memory, offset)
        grown += len(grows[1]) > len(memory)
        for template in (MLOAD, MSTORE):
            f = _memory_frame(gas, memory)
            stack = [word, offset] if template is MSTORE else [offset]
            if want is None:
                with pytest.raises(OutOfGas):
                    template.body(f, stack, 0)  # type: ignore[arg-type]
                assert (f.gas, bytes(f.memory)) == (gas, memory)
                continue
            assert template.body(f, stack, 0) == 1  # type: ignore[arg-type]
            after = bytearray(want[1])
            if template is MSTORE:
                after[offset:offset + 32] = word.to_bytes(32)
                assert stack == []
            else:
                assert stack == [int.from_bytes(after[offset:offset + 32])]
            assert (f.gas, bytes(f.memory)) == (want[0], bytes(after))
    assert grown > 100


def test_store_word_writes_as_a_slice_assignment_does() -> None:
    """store_word (MSTORE's write, Struct.pack_into) leaves memory as `mem[o:o + 32] =
    word` would, at aligned and unaligned offsets up to the last word, and keeps its
    length."""
    import random

    from chainvm.evm.instructions import common

    rng = random.Random("store-word")
    for _ in range(300):
        memory = rng.randbytes(32 * rng.randrange(1, 6))
        offset = rng.randrange(0, len(memory) - 31)
        word = rng.randbytes(32)
        want = bytearray(memory)
        want[offset:offset + 32] = word
        got = bytearray(memory)
        common.store_word(got, offset, word)
        assert got == want


def test_load_word_reads_as_a_slice_does() -> None:
    """load_word (MLOAD's read, Struct.unpack_from) gives the 32 bytes `mem[o:o + 32]`
    holds, at aligned and unaligned offsets up to the last word, and leaves memory alone."""
    import random

    from chainvm.evm.instructions import common

    rng = random.Random("load-word")
    for _ in range(300):
        memory = bytearray(rng.randbytes(32 * rng.randrange(1, 6)))
        offset = rng.randrange(0, len(memory) - 31)
        before = bytes(memory)
        (word,) = common.load_word(memory, offset)
        assert word == bytes(memory[offset:offset + 32])
        assert bytes(memory) == before


@pytest.fixture(params=["as built", "native paths"])
def loop_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test twice: as this package runs, and with the loop's native-build paths (JUMPDEST
    inline, a pushed jump as one step), which the pure package takes with NATIVE set."""
    if request.param == "native paths":
        monkeypatch.setattr(interpreter, "NATIVE", True)


# A destination pushed right before its JUMP or JUMPI (the usual shape of compiled code):
# each instruction's gas, the first error's kind, and all gas gone on any error.
@pytest.mark.parametrize(("code", "gas", "error", "gas_used"), [
    ("600456fe5b00", 1_000_000, None, 3 + 8 + 1),                    # PUSH1 4 JUMP
    ("61000556fe5b00", 1_000_000, None, 3 + 8 + 1),                  # PUSH2 5 JUMP
    ("6001600657fe5b00", 1_000_000, None, 3 + 3 + 10 + 1),           # JUMPI taken
    ("600060065700fe5b00", 1_000_000, None, 3 + 3 + 10),             # not taken (6: no JUMPDEST)
    ("61010456" + "fe" * 256 + "5b00", 50_000, None, 3 + 8 + 1),     # PUSH2 260 JUMP
    ("61000456005b00", 50_000, "InvalidJump", 50_000),               # 4 is STOP
    ("6003575b00", 50_000, "StackUnderflow", 50_000),                # JUMPI without a condition
    ("6003565b00", 10, "OutOfGas", 10),                              # 7 gas left for the JUMP
    ("5f" * 1024 + "6003565b00", 1_000_000, "StackOverflow", 1_000_000),
])
def test_a_pushed_destination_jumps_as_push_then_jump(code: str, gas: int, error: str | None,
                                                      gas_used: int, loop_paths: None) -> None:
    out = run_code(code, gas=gas)
    assert (out.error, out.gas_used) == (error, gas_used)


def test_a_loop_closed_by_a_pushed_jumpi_tiers_up_with_exact_gas(loop_paths: None) -> None:
    # PUSH1 200; loop: JUMPDEST PUSH1 1 SWAP1 SUB DUP1 PUSH1 2 JUMPI; return the counter:
    # the backward JUMPI heats its loop head until the frame goes on compiled.
    code = bytes.fromhex("60c85b6001900380600257" + ret_top())
    out = run_code(code)
    assert out.success
    assert int.from_bytes(out.output, "big") == 0
    assert out.gas_used == 3 + 200 * (1 + 3 + 3 + 3 + 3 + 3 + 10) + (2 + 6 + 3 + 2)
    analysis = cached_analysis(code)
    assert analysis is not None
    if tiering.COMPILE_MODE == "auto":  # a first frame goes compiled only through a hot loop
        assert analysis.heat and analysis.compiled


@pytest.mark.parametrize("fork", sorted(FORKS))
def test_every_fork_has_the_jumps_the_fast_loop_takes_inline(fork: str) -> None:
    # The interpreter's loop runs JUMPDEST inline and a pushed destination's JUMP or JUMPI
    # through jump_after_push, whatever the fork's table holds: a fork that changes these
    # three must change the loop as well.
    table = FORKS[fork].table
    assert table[0x56].body is stack_memory.op_jump
    assert table[0x57].body is stack_memory.op_jumpi
    assert table[0x5B].inline is stack_memory.JUMPDEST
    assert [(table[op].pops, table[op].pushes) for op in (0x56, 0x57, 0x5B)] == \
        [(1, 0), (2, 0), (0, 0)]


@pytest.mark.parametrize(("code", "gas", "error", "gas_used"), [
    ("5b5b5b00", 50_000, None, 3),                                   # JUMPDEST: 1 gas each
    ("5b5b5b00", 2, "OutOfGas", 2),
    ("61ffff56" + "5b00", 50_000, "InvalidJump", 50_000),            # past the end of code
    ("600756" + "5b00" + "5b00", 50_000, "InvalidJump", 50_000),     # 7: the padding
])
def test_jumpdests_and_pushed_jumps_at_the_edges(code: str, gas: int, error: str | None,
                                                 gas_used: int, loop_paths: None) -> None:
    out = run_code(code, gas=gas)
    assert (out.error, out.gas_used) == (error, gas_used)
