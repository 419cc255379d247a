"""Every opcode with an `Inline` template, run through both tiers on random and edge operands.

The interpreter runs the body generated from the template; the compiled tier pastes the
template into a translated block. Each case runs in both, with its operands as constants
in the code, taken from the stack, or duplicated (one local for two operands), and with
exactly enough gas and one less. The two tiers must agree on the error, the gas left, the
stack and the memory; and the result must be what a reference model written here from
the Yellow Paper and the EIPs says, so a wrong template fails too (both tiers would
agree on it). No fixtures needed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from chainvm.evm.analysis import CodeAnalysis
from chainvm.evm.compiler import CompiledCode, execute_compiled
from chainvm.evm.env import BlockEnv
from chainvm.evm.errors import StackOverflow
from chainvm.evm.forks import FORK_ORDER, FORKS, Fork
from chainvm.evm.frame import KIND_CALL, Frame
from chainvm.evm.interpreter import execute
from chainvm.evm.opspec import OpSpec
from chainvm.evm.vm import EVM
from chainvm.state.state import State

WORD = 1 << 256
# The context every test frame runs in: distinct values, so that a read of the wrong
# field shows.
ADDRESS = bytes.fromhex("00000000000000000000000000000000000c0de0")
CALLER = bytes.fromhex("ca11e4000000000000000000000000000000ca11")
ORIGIN = bytes.fromhex("0419140000000000000000000000000000000419")
VALUE = 123_456_789
GAS_PRICE = 7_000_000_007
BLOB_BASE_FEE = 17
RETURN_DATA = bytes(range(1, 45))
BLOCK = BlockEnv(coinbase=bytes.fromhex("c014ba5e00000000000000000000000000000001"),
                 number=1_234_567, timestamp=1_700_000_123, gas_limit=31_000_001,
                 difficulty=131_072, prev_randao=bytes(range(100, 132)), base_fee=9,
                 chain_id=31337)

EDGES = [0, 1, 2, 3, 5, 7, 8, 30, 31, 32, 33, 255, 256, 257, 1 << 64, (1 << 128) - 1,
         (1 << 255) - 1, 1 << 255, (1 << 255) + 1, WORD - 1, WORD - 2, WORD - 5, WORD - 256]


def signed(x: int) -> int:
    return x - WORD if x >> 255 else x


def word(x: int) -> int:
    return x % WORD


def _trunc_div(n: int, d: int) -> int:
    """n / d rounded toward zero (the EVM's signed division)."""
    q = abs(n) // abs(d)
    return q if (n < 0) == (d < 0) else -q


def _signextend(a: int, b: int) -> int:
    if a >= 31:
        return b
    bits = 8 * (a + 1)
    low = b % (1 << bits)
    return word(low - (1 << bits) if low >> (bits - 1) else low)


def _clz(a: int) -> int:
    bits = format(a, "0256b")
    return len(bits) - len(bits.lstrip("0"))


# Stack results of the pure opcodes from their operands (a = top of the stack), as the
# Yellow Paper (appendix H) and EIP-145 / EIP-7939 define them.
PURE: dict[str, Callable[..., int]] = {
    "ADD": lambda a, b: word(a + b),
    "MUL": lambda a, b: word(a * b),
    "SUB": lambda a, b: word(a - b),
    "DIV": lambda a, b: 0 if b == 0 else a // b,
    "SDIV": lambda a, b: 0 if b == 0 else word(_trunc_div(signed(a), signed(b))),
    "MOD": lambda a, b: 0 if b == 0 else a % b,
    "SMOD": lambda a, b: 0 if b == 0 else word(
        (1 if signed(a) >= 0 else -1) * (abs(signed(a)) % abs(signed(b)))),
    "ADDMOD": lambda a, b, c: 0 if c == 0 else (a + b) % c,
    "MULMOD": lambda a, b, c: 0 if c == 0 else (a * b) % c,
    "EXP": lambda a, b: pow(a, b, WORD),
    "SIGNEXTEND": _signextend,
    "LT": lambda a, b: int(a < b),
    "GT": lambda a, b: int(a > b),
    "SLT": lambda a, b: int(signed(a) < signed(b)),
    "SGT": lambda a, b: int(signed(a) > signed(b)),
    "EQ": lambda a, b: int(a == b),
    "ISZERO": lambda a: int(a == 0),
    "AND": lambda a, b: a & b,
    "OR": lambda a, b: a | b,
    "XOR": lambda a, b: a ^ b,
    "NOT": lambda a: WORD - 1 - a,
    "BYTE": lambda a, b: b.to_bytes(32, "big")[a] if a < 32 else 0,
    "SHL": lambda a, b: word(b * 2 ** a) if a < 256 else 0,
    "SHR": lambda a, b: b // 2 ** a if a < 256 else 0,
    "SAR": lambda a, b: word(signed(b) // 2 ** min(a, 256)),
    "CLZ": _clz,
}
# Reads of the frame's, transaction's and block's context (Yellow Paper appendix H; EIP-211
# RETURNDATASIZE, EIP-1344 CHAINID, EIP-3198 BASEFEE, EIP-4399 PREVRANDAO, EIP-7516
# BLOBBASEFEE), for the context above and the frame's code and calldata.
def _context(code: bytes, calldata: bytes) -> dict[str, int]:
    return {
        "ADDRESS": int.from_bytes(ADDRESS, "big"), "ORIGIN": int.from_bytes(ORIGIN, "big"),
        "CALLER": int.from_bytes(CALLER, "big"), "CALLVALUE": VALUE,
        "CALLDATASIZE": len(calldata), "CODESIZE": len(code), "GASPRICE": GAS_PRICE,
        "RETURNDATASIZE": len(RETURN_DATA), "COINBASE": int.from_bytes(BLOCK.coinbase, "big"),
        "TIMESTAMP": BLOCK.timestamp, "NUMBER": BLOCK.number, "DIFFICULTY": BLOCK.difficulty,
        "PREVRANDAO": int.from_bytes(BLOCK.prev_randao, "big"), "GASLIMIT": BLOCK.gas_limit,
        "CHAINID": BLOCK.chain_id, "BASEFEE": BLOCK.base_fee, "BLOBBASEFEE": BLOB_BASE_FEE,
    }


CONTEXT = set(_context(b"", b""))
# Opcodes whose effect is on memory or the machine rather than a pure result; their
# reference is in `reference` below.
EFFECTS = {"STOP", "POP", "JUMPDEST", "PC", "PUSH0", "MSIZE", "MLOAD", "MSTORE", "MSTORE8",
           "CALLDATALOAD", "SLOAD", *CONTEXT}
MEMORY_LIMIT = 1 << 24  # more than the test's gas can pay for


def _memory_cost(size: int) -> int:
    words = (size + 31) // 32
    return 3 * words + words * words // 512


def reference(fork: Fork, spec: OpSpec, operands: list[int], memory: bytearray, pc: int,
              code: bytes, calldata: bytes) -> tuple[list[int], int] | None:
    """(results pushed, dynamic gas), updating `memory`; None when the op runs out of gas
    on any budget the test gives it."""
    name = spec.name
    if name in CONTEXT:
        return [_context(code, calldata)[name]], 0
    if name == "CALLDATALOAD":  # 32 bytes from the offset, zeros past the end
        word32 = (calldata[operands[0]:] if operands[0] < len(calldata) else b"")[:32]
        return [int.from_bytes(word32.ljust(32, b"\0"), "big")], 0
    if name in PURE:
        gas = 0
        if name == "EXP" and operands[1]:  # EIP-160 raised the per-byte price from 10 to 50
            per_byte = 50 if FORK_ORDER.index(fork.name) >= FORK_ORDER.index("EIP158") else 10
            gas = per_byte * ((operands[1].bit_length() + 7) // 8)
        return [PURE[name](*operands)], gas
    if name in ("STOP", "POP", "JUMPDEST"):
        return [], 0
    if name == "PC":
        return [pc], 0
    if name == "PUSH0":
        return [0], 0
    if name == "SLOAD":  # the frame's account has no storage; EIP-2929: a first read is cold
        berlin = FORK_ORDER.index(fork.name) >= FORK_ORDER.index("Berlin")
        return [0], 2000 if berlin else 0
    if name == "MSIZE":
        return [len(memory)], 0
    offset = operands[0]
    size = 1 if name == "MSTORE8" else 32
    if offset + size > MEMORY_LIMIT:
        return None
    old = len(memory)
    if offset + size > old:
        memory.extend(bytes(-(-(offset + size) // 32) * 32 - old))
    gas = _memory_cost(len(memory)) - _memory_cost(old)
    if name == "MLOAD":
        return [int.from_bytes(memory[offset:offset + 32], "big")], gas
    if name == "MSTORE":
        memory[offset:offset + 32] = operands[1].to_bytes(32, "big")
    else:
        memory[offset] = operands[1] % 256
    return [], gas


def templated_specs() -> list[tuple[Fork, OpSpec]]:
    """Each distinct templated opcode, with the first fork that has it so."""
    seen: set[tuple[int, int]] = set()
    found = []
    for name in FORK_ORDER:
        fork = FORKS[name]
        for spec in fork.opcodes.specs:
            if spec is not None and spec.inline is not None:
                key = (id(spec.inline), spec.gas)
                if key not in seen:
                    seen.add(key)
                    found.append((fork, spec))
    return found


def _operand(rng: random.Random) -> int:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice(EDGES)
    if kind == 1:
        return WORD - rng.randrange(1, 300)  # a small negative number
    if kind == 2:
        return rng.randrange(300)
    return rng.getrandbits(rng.choice([8, 32, 64, 128, 248, 255, 256]))


def _operands(spec: OpSpec, rng: random.Random) -> list[int]:
    values = [_operand(rng) for _ in range(spec.pops)]
    if spec.name in ("MLOAD", "MSTORE", "MSTORE8", "CALLDATALOAD") and rng.random() < 0.85:
        values[0] = rng.randrange(200)  # mostly offsets within or near the data
    if spec.name == "EXP" and rng.random() < 0.5:
        # small exponents, and either side of 0x100, where the body hands over to GMP
        values[1] = rng.choice([rng.randrange(1 << rng.choice([1, 8, 16])), 0xFF, 0x100])
    return values


def _push32(value: int) -> bytes:
    return b"\x7f" + value.to_bytes(32, "big")


def _program(spec: OpSpec, operands: list[int], mode: str) -> tuple[bytes, list[int]]:
    """(code, initial stack) that puts `operands` (top first) where the op takes them."""
    op = bytes([FORK_OPCODE[spec.name]])
    if mode == "stack":
        return op, operands[::-1]
    if mode == "dup" and len(operands) >= 2:  # a is a copy of b: DUP1 after pushing b
        operands[0] = operands[1]
        return b"".join(_push32(x) for x in operands[:0:-1]) + b"\x80" + op, []
    return b"".join(_push32(x) for x in operands[::-1]) + op, []


FORK_OPCODE = {spec.name: byte for name in FORK_ORDER
               for byte, spec in enumerate(FORKS[name].opcodes.specs) if spec is not None}


def _frame(fork: Fork, code: bytes, stack: list[int], memory: bytes, calldata: bytes,
           gas: int) -> Frame:
    evm = EVM(State(), fork, BLOCK, ORIGIN, GAS_PRICE, blob_base_fee=BLOB_BASE_FEE)
    f = Frame(evm, code, gas, ADDRESS, CALLER, VALUE, calldata, False, 0, KIND_CALL, 0)
    f.return_data = RETURN_DATA
    f.stack.extend(stack)
    f.memory.extend(memory)
    return f


def _run(fork: Fork, code: bytes, stack: list[int], memory: bytes, calldata: bytes, gas: int,
         compiled: bool) -> dict[str, Any]:
    f = _frame(fork, code, stack, memory, calldata, gas)
    if compiled:
        blocks = CompiledCode(f.analysis, fork.opcodes)
        blocks.block_at(0)  # translate now: the code's only block
        assert execute_compiled(f, blocks) is None
    else:
        # Interpreted from start to end: a code's analysis is shared by content, and
        # after a few frames on it a new frame starts in the compiled tier (blocks), or
        # its loops, already warm, tier up at once; a private analysis starts cold.
        f.analysis = CodeAnalysis(code)
        f.blocks = None
        assert execute(f) is None
    error = None if f.error is None else type(f.error).__name__
    if error is not None:  # an exceptional halt discards the stack and memory
        return {"error": error, "gas": f.gas}
    return {"error": None, "gas": f.gas, "stack": list(f.stack), "memory": bytes(f.memory)}


def _check(fork: Fork, spec: OpSpec, operands: list[int], mode: str, memory: bytes,
           calldata: bytes) -> None:
    code, stack = _program(spec, list(operands), mode)
    if mode == "dup" and len(operands) >= 2:
        operands = [operands[1], *operands[1:]]
    plenty = 10**7
    interpreted = _run(fork, code, stack, memory, calldata, plenty, compiled=False)
    compiled = _run(fork, code, stack, memory, calldata, plenty, compiled=True)
    context = (fork.name, spec.name, mode, [hex(x) for x in operands])
    assert interpreted == compiled, context
    expected_memory = bytearray(memory)
    pc = len(code) - 1
    expected = reference(fork, spec, operands, expected_memory, pc, code, calldata)
    if expected is None:
        assert interpreted["error"] == "OutOfGas", context
        return
    results, dynamic_gas = expected
    assert interpreted["error"] is None, context
    assert interpreted["stack"] == results, context
    assert interpreted["memory"] == bytes(expected_memory), context
    used = plenty - interpreted["gas"]
    static = sum(fork.opcodes.static_gas[b] for b in _instructions(code))
    assert used == static + dynamic_gas, context
    # Exactly enough gas, and one less: same outcome in both tiers.
    for gas in (used, used - 1) if used else (used,):
        a = _run(fork, code, stack, memory, calldata, gas, compiled=False)
        b = _run(fork, code, stack, memory, calldata, gas, compiled=True)
        assert a == b, (*context, gas)
        assert (a["error"] is None) == (gas == used), (*context, gas)


def _instructions(code: bytes) -> list[int]:
    ops = []
    pc = 0
    while pc < len(code):
        ops.append(code[pc])
        pc += 33 if code[pc] == 0x7F else 1
    return ops


def test_every_templated_opcode_has_a_reference() -> None:
    names = {spec.name for _, spec in templated_specs()}
    assert names <= set(PURE) | EFFECTS, names - set(PURE) - EFFECTS
    # The arithmetic is all templated: nothing is left hand-written in one tier only.
    assert set(PURE) <= names


@pytest.mark.parametrize(("fork", "spec"), templated_specs(),
                         ids=[f"{fork.name}-{spec.name}" for fork, spec in templated_specs()])
def test_tiers_agree_with_each_other_and_the_reference(fork: Fork, spec: OpSpec) -> None:
    rng = random.Random(f"templates:{fork.name}:{spec.name}")
    # The edge values against each other (for one- and two-operand ops), then random mixes.
    cases: list[list[int]] = []
    if spec.pops == 1:
        cases += [[x] for x in EDGES]
    elif spec.pops == 2:
        cases += [[x, y] for x in EDGES[::2] for y in EDGES[1::2]]
    cases += [_operands(spec, rng) for _ in range(60)]
    for i, operands in enumerate(cases):
        memory = rng.randbytes(32 * rng.randrange(4))
        calldata = rng.randbytes(rng.choice([0, 1, 31, 32, 33, 100]))
        mode = ("constants", "stack", "dup")[i % 3]
        _check(fork, spec, operands, mode, memory, calldata)


def test_template_cache_round_trip(tmp_path: Any, monkeypatch: Any) -> None:
    """A template read back from the cache file is the one generated from its text: same
    lines for the compiled tier and a body computing the same results; a damaged file is
    ignored (generated afresh)."""
    from chainvm.evm import opspec
    from chainvm.evm.instructions import arithmetic

    path = tmp_path / "templates.marshal"
    monkeypatch.setattr(opspec, "_TEMPLATE_CACHE_PATH", None)  # the process's file untouched
    monkeypatch.setattr(opspec, "_TEMPLATE_CACHE", {})
    fresh = opspec.Inline("op_sdiv", 2, arithmetic.SDIV.source)
    opspec.save_template_cache(path, opspec._TEMPLATE_CACHE)
    loaded = opspec.load_template_cache(path)
    assert len(loaded) == 1
    monkeypatch.setattr(opspec, "_TEMPLATE_CACHE", loaded)
    cached = opspec.Inline("op_sdiv", 2, arithmetic.SDIV.source)
    assert cached.body is not fresh.body
    for attr in ("source", "_statements", "_result", "_temporaries", "uses_memory"):
        assert getattr(cached, attr) == getattr(fresh, attr)
    rng = random.Random(16)
    for _ in range(200):
        a, b = rng.choice([0, 1, WORD - 1, 1 << 255]), rng.randrange(WORD)
        s1, s2 = [b, a], [b, a]
        fresh.body(None, s1, 0)  # type: ignore[arg-type]
        cached.body(None, s2, 0)  # type: ignore[arg-type]
        assert s1 == s2
    path.write_bytes(b"\x00garbage")
    assert opspec.load_template_cache(path) == {}
    (key, entry), = loaded.items()
    monkeypatch.setattr(opspec, "_TEMPLATE_CACHE", {key: entry[:3]})  # a damaged entry
    again = opspec.Inline("op_sdiv", 2, arithmetic.SDIV.source)
    assert again._statements == fresh._statements
    assert opspec.load_template_cache(None) == {} and opspec.template_cache_path() is not None
    monkeypatch.setenv("CHAINVM_CACHE_DIR", "")
    assert opspec.template_cache_path() is None


def test_generated_bodies_are_current() -> None:
    """instructions/generated.py is what `python -m chainvm.evm.generate_bodies` writes from
    the templates now, and the forks' tables run its bodies."""
    from chainvm.evm import generate_bodies
    from chainvm.evm.forks import get_fork
    from chainvm.evm.instructions import generated

    assert generate_bodies.module_source() == generate_bodies.TARGET.read_text(), (
        "run python -m chainvm.evm.generate_bodies")
    specs = get_fork("Osaka").opcodes.specs
    templated = [(s, s.inline) for s in specs if s is not None and s.inline is not None]
    assert len(templated) > 40
    for s, inline in templated:
        assert generated.BODIES[inline.key] is s.body, s.name


def test_word_templates_type_their_generated_stack_as_any() -> None:
    """A template marked `words` (operands that are whole words, int arithmetic only) gets
    a list[Any] stack in generated.py, for the native build; the others list[int]. (Read
    from the file's text: a compiled body keeps no annotations.)"""
    from chainvm.evm import generate_bodies
    from chainvm.evm.instructions import arithmetic, stack_memory

    text = generate_bodies.TARGET.read_text()

    def head(name: str, stack: str) -> str:
        return f"def {name}(f: Frame, s: {stack}, pc: int) -> int:"

    for template in (arithmetic.ADD, arithmetic.LT, arithmetic.SAR, stack_memory.POP):
        assert template.words and head(template.name, "list[Any]") in text, template.name
    for template in (arithmetic.SIGNEXTEND, stack_memory.MLOAD, stack_memory.MSTORE):
        assert not template.words and head(template.name, "list[int]") in text, template.name


def test_template_not_in_generated_bodies_is_generated() -> None:
    """A template the generated file lacks gets a body generated at import."""
    from chainvm.evm import opspec
    from chainvm.evm.instructions import generated

    template = opspec.Inline("op_twice", 1, "(a + a) & M")
    assert template.key not in generated.BODIES
    stack = [5, WORD - 1]
    assert template.body(None, stack, 7) == 8  # type: ignore[arg-type]
    assert stack == [5, WORD - 2]


def test_direct_calls_are_current_and_match_the_tables() -> None:
    """instructions/direct.py is what the generator writes now; each of its entries, called
    by number, runs the body the fork tables hold under that key (a pure-Python process
    checks the numbering here; the native build uses it, tests/test_native_build.py)."""
    from chainvm.evm import generate_bodies
    from chainvm.evm.forks import get_fork
    from chainvm.evm.instructions import direct

    assert generate_bodies.direct_source() == generate_bodies.DIRECT_TARGET.read_text(), (
        "run python -m chainvm.evm.generate_bodies")
    number = direct.numbering()
    assert len(number) == len(direct.ENTRIES)
    tables = get_fork("Osaka").opcodes
    found = 0
    for op in range(256):
        for (body, ceiling), fn in ((tables.loop_keys[op], tables.loop_fns[op]),
                                    (tables.exit_keys[op], tables.exit_fns[op])):
            k = number.get((body, ceiling))
            if k is None:
                continue
            found += 1
            # the table's function is the body itself, or the body behind the overflow check
            assert fn is body if not ceiling else fn.__name__ == f"{body.__name__}_checked"
    assert found > 100
    # An overflowing push through call_body fails as the table's checked function does.
    osaka = FORKS["Osaka"]
    k = number[(tables.loop_keys[0x30][0], 1023)]  # ADDRESS
    full = [0] * 1024
    with pytest.raises(StackOverflow):
        direct.call_body(k, _frame(osaka, b"\x30", full, b"", b"", 100), full, 0)
    below = [0] * 1023
    assert direct.call_body(k, _frame(osaka, b"\x30", below, b"", b"", 100), below, 0) == 1
    assert below[-1] == int.from_bytes(ADDRESS)


def test_codecopy_reads_zeros_past_the_end_of_code() -> None:
    """CODECOPY reads the code as if zeros followed it without end: within the code,
    across its end, in the zero bytes the analysis pads it with and past them, in both
    tiers."""
    fork = FORKS["Osaka"]
    rng = random.Random("codecopy")
    for _ in range(60):
        # PUSH2 size PUSH2 offset PUSH1 0 CODECOPY STOP, then filler bytes
        size = rng.choice([1, 31, 32, 33, 40, 70])
        filler = rng.randbytes(rng.randrange(0, 80))
        program_length = 9 + len(filler)
        offset = max(0, program_length + rng.randrange(-45, 60))
        code = (bytes([0x61]) + size.to_bytes(2) + bytes([0x61]) + offset.to_bytes(2)
                + bytes([0x60, 0, 0x39, 0x00]) + filler)
        padded = code + bytes(offset + size)
        want = padded[offset:offset + size] + bytes(-size % 32)
        for compiled in (False, True):
            result = _run(fork, code, [], b"", b"", 10**6, compiled)
            assert result["error"] is None
            assert result["memory"] == want, (offset, size, len(code), compiled)


def test_copies_past_the_end_overwrite_memory_in_use_with_zeros() -> None:
    """CODECOPY and CALLDATACOPY from past the end of their data into memory already in
    use (not fresh, where they may skip writing zeros) write the zeros; into memory
    partly in use too."""
    fork = FORKS["Osaka"]
    old = bytes(range(1, 97))  # three words of non-zero memory
    for op in (0x37, 0x39):  # CALLDATACOPY, CODECOPY
        for mem_offset, size in [(0, 32), (10, 40), (64, 64), (95, 1), (96, 32), (200, 8)]:
            # PUSH1 size PUSH1 0xF0 PUSH1 mem_offset <op> STOP: 0xF0 is past the data
            code = bytes([0x60, size, 0x60, 0xF0, 0x60, mem_offset, op, 0x00])
            want = bytearray(old)
            end = mem_offset + size
            if end > len(want):
                want += bytes(-(-end // 32) * 32 - len(want))
            want[mem_offset:end] = bytes(size)
            for compiled in (False, True):
                result = _run(fork, code, [], old, b"\x01\x02\x03\x04", 10**6, compiled)
                assert result["error"] is None
                assert result["memory"] == bytes(want), (op, mem_offset, size, compiled)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("size", [32, 4096, 4097, 10_000])
def test_keccak256_of_a_range_then_memory_grows(size: int, compiled: bool) -> None:
    """KECCAK256 over memory (a large range is hashed through a view of it) gives the hash
    of those bytes, and memory still grows after it (the view is released)."""
    from chainvm.crypto import keccak256

    fork = FORKS["Cancun"]
    data = bytes(random.Random(size).randrange(256) for _ in range(size + 64))
    # PUSH2 size PUSH1 3 KECCAK256, then MSTORE8 1 at size + 200 (grows memory), STOP
    code = (b"\x61" + size.to_bytes(2, "big") + b"\x60\x03\x20"
            + b"\x60\x01\x61" + (size + 200).to_bytes(2, "big") + b"\x53\x00")
    result = _run(fork, code, [], data, b"", 10_000_000, compiled)
    assert result["error"] is None
    assert result["stack"] == [int.from_bytes(keccak256(data[3:3 + size]))]
    assert result["memory"][:len(data)] == data and len(result["memory"]) >= size + 201
    assert result["memory"][size + 200] == 1
