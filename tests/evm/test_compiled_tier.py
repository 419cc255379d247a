"""The compiled tier must agree with the interpreter: run state tests with every block
translated on first use (CHAINVM_COMPILE=always), and with tiny thresholds so that frames
move between the interpreter, cold steps and translated blocks (CHAINVM_COMPILE=mixed),
and require every case to pass. (The default mode, auto, runs the conformance sample.)

Without fixtures, generated programs (chainvm.testing.program_gen, every fork) must give
the same effects (state, gas, logs, output, success; the name of an exceptional halt may
differ, see _effects) with the interpreter alone and in both test modes;
tests/evm/test_opcode_templates.py checks each inlined opcode the same way."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from chainvm.testing.differential import COMPARED
from chainvm.testing.fixtures import ethereum_tests

GENERATED_PER_FORK = 15
# Runs generated cases in a fresh interpreter (the mode is read at import) and prints
# their outcomes, and how many blocks the compiled tier translated.
_GENERATED_SCRIPT = f"""
import json, random
from chainvm.evm import analysis
from chainvm.testing.differential import SUPPORTED_FORKS, run_chainvm
from chainvm.testing.program_gen import generate_case
outcomes = []
for fork in SUPPORTED_FORKS:
    for index in range({GENERATED_PER_FORK}):
        case = generate_case(fork, random.Random(f"tiers:{{fork}}:{{index}}"))
        outcomes.append(run_chainvm(case).to_json())
blocks = sum(len(c.table) for a in analysis._cache.values() for c in a.compiled.values())
print(json.dumps({{"outcomes": outcomes, "blocks": blocks}}))
"""

FOLDERS = ["VMTests", "stMemoryTest", "stCallCodes", "stCreate2", "stSStoreTest", "stRevertTest",
           "stStackTests", "stShift", "stSelfBalance", "Cancun"]
MIXED_FOLDERS = ["VMTests", "stMemoryTest", "stStackTests", "stRevertTest", "stCallCodes",
                 "stSStoreTest", "Cancun"]


def _run_folder(folder: str, mode: str) -> None:
    root = ethereum_tests("state-2024")
    if root is None or not (root / folder).is_dir():
        pytest.skip("state-2024 fixtures not found")
    env = dict(os.environ, CHAINVM_COMPILE=mode)
    # vmPerformance is the interpreter's stress test; translating each block of its huge
    # loops on first use only measures the translator, so it is left to the full runs.
    paths = [str(p) for p in sorted((root / folder).rglob("*.json"))
             if "vmPerformance" not in p.parts]
    out = subprocess.run([sys.executable, "-m", "chainvm.cli.main", "statetest", *paths],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode in (0, 1), out.stderr
    failures = [r for r in json.loads(out.stdout) if not r["pass"]]
    assert not failures, failures[:5]


@pytest.mark.parametrize("folder", FOLDERS)
def test_compiled_tier_matches_state_tests(folder: str) -> None:
    _run_folder(folder, "always")


@pytest.mark.parametrize("folder", MIXED_FOLDERS)
def test_mixed_tiers_match_state_tests(folder: str) -> None:
    _run_folder(folder, "mixed")


def _run_generated(mode: str) -> dict:
    env = dict(os.environ, CHAINVM_COMPILE=mode)
    out = subprocess.run([sys.executable, "-c", _GENERATED_SCRIPT], capture_output=True,
                         text=True, env=env, check=True)
    return json.loads(out.stdout)


def test_generated_programs_agree_across_tiers() -> None:
    runs = {mode: _run_generated(mode) for mode in ("off", "always", "mixed")}
    reference = runs["off"]["outcomes"]
    assert not [o for o in reference if o["crashed"]]
    # The programs are meaningful: most transactions valid, many of them succeed.
    valid = [o for o in reference if o["valid"]]
    assert len(valid) > len(reference) / 2 and sum(o["success"] for o in valid) > len(valid) / 4
    assert runs["off"]["blocks"] == 0
    for mode in ("always", "mixed"):
        assert runs[mode]["blocks"] > 0, f"{mode}: the compiled tier never ran"
        diverged = [(i, a, b) for i, (a, b) in enumerate(zip(reference, runs[mode]["outcomes"],
                                                              strict=True))
                    if _effects(a) != _effects(b)]
        assert not diverged, (mode, diverged[:3])


# The programs of tests/evm/memory_programs.py (memory read and written after ranges past
# its end), as _GENERATED_SCRIPT runs program_gen's.
_MEMORY_SCRIPT = """
import json
from chainvm.testing.differential import SUPPORTED_FORKS, run_chainvm
from tests.evm.memory_programs import memory_case
print(json.dumps([run_chainvm(memory_case(fork, index)).to_json()
                  for fork in SUPPORTED_FORKS for index in range(6)]))
"""


def test_memory_past_the_end_agrees_across_tiers() -> None:
    root = Path(__file__).resolve().parents[2]
    runs = {}
    for mode in ("off", "always", "mixed"):
        env = dict(os.environ, CHAINVM_COMPILE=mode,
                   PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True,
                             text=True, env=env, check=True, cwd=root)
        runs[mode] = [_effects(o) for o in json.loads(out.stdout)]
    assert all(o["valid"] for o in runs["off"])
    assert runs["always"] == runs["off"] and runs["mixed"] == runs["off"]


def _effects(outcome: dict) -> dict:
    """What a case's outcome shows a user: every compared field, and the rejection reason
    of an invalid transaction. An exceptional halt's name is left out: the compiled tier
    charges blocks joined by a constant jump at once (docs/performance.md, "A block
    reached by a constant jump is charged with the block before it"), so a
    run that cannot pay halts out of gas where the interpreter might have found a stack
    underflow first; both halts consume all gas and revert the frame alike."""
    kept = {name: outcome[name] for name in (*COMPARED, "crashed")}
    if not outcome["valid"]:
        kept["error"] = outcome["error"]
    return kept


FOLD_EDGES = [0, 1, 2, 3, 7, 8, 31, 32, 33, 248, 255, 256, 257, 1 << 64, (1 << 255) - 1,
              1 << 255, (1 << 255) + 1, (1 << 256) - 1, (1 << 256) - 256]


def _outcome(source: str, names: dict[str, int]) -> object:
    from chainvm.evm.opspec import TEMPLATE_GLOBALS

    try:
        return eval(source, dict(TEMPLATE_GLOBALS), names)
    except Exception as e:  # noqa: BLE001 (the same failure either way)
        return type(e)


def test_constant_operands_fold_to_the_templates_values() -> None:
    """The translator evaluates the constant parts of pure arithmetic templates
    (compiler._folded: every operand constant; compiler._specialized: some): for every mix
    of constant and variable operands the source it writes has the template's value."""
    import itertools

    from chainvm.evm import compiler
    from chainvm.evm.forks import FORK_ORDER, FORKS
    from chainvm.evm.opspec import OPERANDS

    specialized = 0
    for fork_name in (FORK_ORDER[0], FORK_ORDER[-1]):
        tables = FORKS[fork_name].opcodes
        kinds = compiler._kinds_for(tables)
        for op in range(256):  # (looked up when the translator first needs one)
            kinds.fold_of(op)
        assert kinds.trees, "no template was found pure"
        rng = random.Random(f"fold:{fork_name}")
        for op in kinds.trees:
            template = tables.specs[op].inline
            arity = template.arity
            value_sets = list(itertools.product(FOLD_EDGES, repeat=arity))
            if len(value_sets) > 2000:
                value_sets = rng.sample(value_sets, 2000)
            for values in value_sets:
                expected = _outcome(template.source, dict(zip(OPERANDS, values)))
                for mask in range(1, 1 << arity):  # bit i: operand i is a constant
                    operands = [str(v) if mask >> i & 1 else f"x{i}"
                                for i, v in enumerate(values)]
                    if mask == (1 << arity) - 1:
                        text = compiler._folded(kinds.folds[op], operands)
                    else:
                        text = compiler._specialized(kinds, op, operands)
                        specialized += text is not None
                    if text is None:  # nothing folded: the template is written as it is
                        continue
                    variables = {f"x{i}": v for i, v in enumerate(values) if not mask >> i & 1}
                    assert _outcome(text, variables) == expected, (
                        tables.specs[op].name, values, operands, text)
    assert specialized > 1000


def test_short_blocks_that_jump_on_are_translated_as_soon_as_their_trace() -> None:
    """An entry's translation threshold counts the instructions its trace always runs:
    through JUMPs to pushed JUMPDESTs (followed by the translator), not through a JUMPI."""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS
    from chainvm.evm.instructions.direct import NATIVE
    from chainvm.evm.tiering import BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD

    tables = FORKS["London"].opcodes

    def sure_length(analysis, start: int) -> int:
        return compiler._trace_length(compiler._sure_trace_blocks(analysis, tables, start))

    hops = 100  # JUMPDEST PUSH2 next JUMP, 5 bytes a hop; then JUMPDEST STOP
    chain = b"".join(b"\x5b\x61" + (5 * (i + 1)).to_bytes(2, "big") + b"\x56"
                     for i in range(hops)) + b"\x5b\x00"
    compiled = compiler.CompiledCode(analyse(chain), tables)
    assert sure_length(compiled.analysis, 0) == compiler.MAX_TRACE_LENGTH
    needs = compiled.reaches_needed(0)  # (the first frames' need is in the high half)
    assert needs & 0xFFFF == max(BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD // compiler.MAX_TRACE_LENGTH)
    if not NATIVE:  # the same in the pure build (the native one: see the test below)
        assert needs >> 16 == needs & 0xFFFF
    # The last hops: three blocks of 3 instructions, then JUMPDEST STOP.
    assert sure_length(compiled.analysis, 5 * (hops - 3)) == 3 * 3 + 2
    # A JUMPI (taken or not) ends what is sure; so does a jump to a non-JUMPDEST.
    branch = b"\x5b\x60\x01\x60\x08\x57\x00\x00\x5b\x00"
    assert sure_length(analyse(branch), 0) == 4
    bad = b"\x5b\x60\x05\x56\x00\x00"
    assert sure_length(analyse(bad), 0) == 3
    # A loop counts each block once.
    loop = b"\x5b\x60\x00\x56"
    assert sure_length(analyse(loop), 0) == 3


def test_the_native_build_waits_longer_for_traces_that_write_lines(monkeypatch) -> None:
    """Native build, a code's first frames (it reached the compiled tier by a hot loop): an
    entry needs NATIVE_WRITING_REACHES times the share of its trace's instructions that
    write a line (not PUSH, DUP, SWAP, POP or JUMPDEST). Once more frames run the code,
    and in the pure build, the plain threshold holds; so it does for code writing no line.
    Run pure, both builds' rules are checked (NATIVE patched); run in the native build
    (tests/test_native_build.py), its own."""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS
    from chainvm.evm.instructions.direct import NATIVE
    from chainvm.evm.tiering import BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD, NATIVE_WRITING_REACHES

    tables = FORKS["London"].opcodes
    # 40 times PUSH1 1 ADD (half the instructions write a line), then STOP
    arithmetic = b"\x60\x01" + b"\x60\x01\x01" * 40 + b"\x00"
    # 100 JUMPDESTs then STOP: nothing but the STOP writes a line
    jumpdests = b"\x5b" * 100 + b"\x00"
    assert NATIVE_WRITING_REACHES > 0
    for name, code in (("arithmetic", arithmetic), ("jumpdests", jumpdests)):
        instructions = sum(map(len, compiler._sure_trace_blocks(analyse(code), tables, 0)))
        plain = min(255, max(BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD // instructions))
        writing = 41 if name == "arithmetic" else 1  # the ADDs (or none) and the STOP
        first = min(compiler.MAX_REACHES_NEEDED,
                    max(plain, NATIVE_WRITING_REACHES * writing // instructions))
        assert (first > plain) == (name == "arithmetic")
        for native in ((True,) if NATIVE else (False, True)):
            if not NATIVE:
                monkeypatch.setattr(compiler, "NATIVE", native)
            needs = compiler.CompiledCode(analyse(code), tables).reaches_needed(0)
            assert needs == (first if native else plain) << 16 | plain, (name, native)


def test_a_popped_value_nothing_read_is_not_computed() -> None:
    """MLOAD then POP: the translated block still grows memory (and charges for it) but
    does not read the word; a value a DUP copied, or one read before the POP, stays;
    a value only a dead one read goes with it."""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS

    tables = FORKS["London"].opcodes

    def source(code: bytes) -> str:
        return compiler._compile_block(0, analyse(code), tables, {})

    dead = source(bytes.fromhex("600035515000"))  # PUSH1 0 CALLDATALOAD MLOAD POP STOP
    assert "grow_for_word(f, " in dead and "load_word(mem, " not in dead
    copied = source(bytes.fromhex("60003551805060005500"))  # ... MLOAD DUP1 POP PUSH1 0 SSTORE
    assert "load_word(mem, " in copied
    # ... MLOAD DUP1 PUSH1 1 ADD PUSH1 0 SSTORE POP STOP
    read = source(bytes.fromhex("600035518060010160005550" "00"))
    assert "load_word(mem, " in read
    # a read value: the growth check gives the word past the end, the plain read its else
    assert "= load_past_end(f, " in read and "else: " in read
    chained = source(bytes.fromhex("6000355180600101505000"))  # ... MLOAD DUP1 PUSH1 1 ADD POP POP
    assert "load_word(mem, " not in chained and "+ 1" not in chained


def test_a_constant_stored_to_memory_is_converted_at_translation() -> None:
    """MSTORE of a constant writes bytes made once (named in the block's globals); a
    variable is still converted where it runs."""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS

    env: dict[str, object] = {}
    # PUSH1 0x80 PUSH1 0x40 MSTORE, PUSH1 0 CALLDATALOAD PUSH1 0 MSTORE, STOP
    code = bytes.fromhex("608060405260003560005200")
    source = compiler._compile_block(0, analyse(code), FORKS["London"].opcodes, env)
    assert env["word_80"] == (0x80).to_bytes(32)
    assert ", word_80" in source and source.count("to_bytes(") == 1


def test_a_store_to_covered_memory_is_the_plain_store_alone() -> None:
    """MSTORE's template grows memory in the `if` line and stores in its `else`; where an
    earlier access in the function covers the word, the check goes and the store is left
    unconditional (and the function still compiles)."""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS

    tables = FORKS["London"].opcodes
    # PUSH1 0 CALLDATALOAD PUSH1 0x40 MSTORE, PUSH1 1 CALLDATALOAD PUSH1 0x20 MSTORE, STOP
    code = bytes.fromhex("600035604052600135602052" "00")
    source = compiler._compile_block(0, analyse(code), tables, {})
    lines = [line.strip() for line in source.splitlines()]
    assert sum("grow_for_word" in line for line in lines) == 1  # the first store's
    assert sum(line.startswith("else: store_word(mem, ") for line in lines) == 1
    assert any(line.startswith("store_word(mem, 32, ") for line in lines)
    compile(source, "<test>", "exec")


def test_specialisations_print_the_same_values_as_ast_unparse() -> None:
    """The translator prints a template folded over some constant operands with its own
    bracketing printer (compiler._source_of); evaluated over any operands, its text must
    give what ast.unparse's text of the same tree gives (or fail the same way)."""
    import ast
    import itertools

    from chainvm.evm import compiler
    from chainvm.evm.forks import FORKS
    from chainvm.evm.opspec import OPERANDS, TEMPLATE_GLOBALS

    tables = FORKS["Osaka"].opcodes
    kinds = compiler._kinds_for(tables)
    rng = random.Random(7)
    values = [0, 1, 2, 7, 31, 32, 255, 256, 2**128, 2**255, 2**256 - 1]
    printed = 0
    for op, spec in enumerate(tables.specs):
        if spec is None or spec.inline is None or kinds.fold_of(op) is None:
            continue
        arity = spec.inline.arity
        for mask in itertools.product((False, True), repeat=arity):
            if not any(mask) or all(mask):
                continue
            for _ in range(4):
                constants = {OPERANDS[i]: rng.choice(values) for i in range(arity) if mask[i]}
                folded = [False]
                node = compiler._fold_node(kinds.trees[op].body, constants, folded)[0]
                if not folded[0] or isinstance(node, ast.Constant):
                    continue
                names = {name: f"x_{name}" for name in OPERANDS}
                ours = compiler._source_of(node).format_map(names)
                reference = ast.unparse(ast.fix_missing_locations(node)).format_map(names)
                printed += 1
                for _ in range(10):
                    scope = dict(TEMPLATE_GLOBALS)
                    scope.update({f"x_{name}": rng.choice([*values, rng.getrandbits(256)])
                                  for name in OPERANDS[:arity]})
                    outcomes = []
                    for text in (ours, reference):
                        try:
                            outcomes.append(("value", eval(text, scope)))
                        except Exception as exc:  # noqa: BLE001
                            outcomes.append(("error", type(exc).__name__))
                    assert outcomes[0] == outcomes[1], (spec.name, ours, reference)
    assert printed > 50


def test_blocks_joined_by_a_constant_jump_are_charged_once() -> None:
    """A block reached by a constant JUMP, or by a JUMPI whose condition is a nonzero
    constant, always runs after the one before it: the trace charges their static gas in
    one line. A block after a JUMPI that may fall through keeps its own charge. With any
    gas from too little for the first block to enough for all, both tiers end alike."""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS
    from tests.evm.test_opcode_templates import _run

    fork = FORKS["London"]
    tables = fork.opcodes
    # 0: JUMPDEST PUSH1 4 JUMP                     (1 + 3 + 8 = 12)
    # 4: JUMPDEST PUSH1 1 PUSH1 11 JUMPI INVALID    (1 + 3 + 3 + 10 = 17; always taken)
    # 11: JUMPDEST CALLDATASIZE PUSH1 19 JUMPI      (1 + 2 + 3 + 10 = 16; may fall through)
    # 16: PUSH1 5 STOP                              (3)
    # 19: JUMPDEST PUSH1 2 PUSH1 3 ADD STOP         (1 + 3 + 3 + 3 = 10)
    code = bytes.fromhex("5b600456" "5b6001600b57fe" "5b36601357" "600500" "5b600260030100")
    assert code[16] == 0x60 and code[19] == 0x5B
    source = compiler._compile_block(0, analyse(code), tables, {})
    charges = [line.strip() for line in source.splitlines() if "gas = f.gas - " in line]
    assert charges == ["gas = f.gas - 45", "gas = f.gas - 3"], source
    for calldata in (b"", b"\x01"):
        used = 45 + (10 if calldata else 3)
        assert _run(fork, code, [], b"", calldata, 10**6, compiled=False)["gas"] == 10**6 - used
        for gas in range(10, used + 2):
            interpreted = _run(fork, code, [], b"", calldata, gas, compiled=False)
            compiled = _run(fork, code, [], b"", calldata, gas, compiled=True)
            assert interpreted == compiled, (calldata, gas)
            assert (interpreted["error"] is None) == (gas >= used), (calldata, gas)


def test_a_loops_stack_items_stay_in_locals_between_passes() -> None:
    """A trace that loops to its entry reads the items it changes once, before the loop,
    and `continue` assigns their locals instead of writing the stack; an exit that took
    fewer of them still writes them all, and an item below them that the entry does not
    check is read where it is used. At every gas amount up to enough, the compiled tier
    ends as the interpreter does with plenty, or out of gas. (The expected outcome is
    worked out, not run: after a few frames on a code the interpreter's frames start in
    the compiled tier too.)"""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS
    from tests.evm.test_opcode_templates import _run

    fork = FORKS["London"]
    # 0: JUMPDEST DUP1 ISZERO PUSH1 13 JUMPI       (leave when the counter is zero: the
    #    exit took no item, but the counter changed in the passes before)
    # 6: PUSH1 1 SWAP1 SUB PUSH1 0 JUMP             (count down, loop)
    # 13: JUMPDEST PUSH1 7 ADD STOP
    countdown = bytes.fromhex("5b801560" "0d" "57" "6001900360" "00" "56" "5b60070100")
    # The same, taking DUP2's step from below the counter: 0: ... PUSH1 12 JUMPI,
    # 6: DUP2 SWAP1 SUB PUSH1 0 JUMP, 12: JUMPDEST PUSH1 7 ADD STOP
    stepped = bytes.fromhex("5b801560" "0c" "57" "8190036000" "56" "5b60070100")
    for code, stack, end in ((countdown, [5], [7]), (stepped, [3, 12], [3, 7])):
        source = compiler._compile_block(0, analyse(code), fork.opcodes, {})
        before, _, loop = source.partition("    while True:\n")
        assert loop and "v1 = stack[-1]" in before and "stack[-1]" not in loop, source
        assert "stack[-1:] = [v1]" in loop, source  # the exit writes the counter
        if code is stepped:
            assert "stack[-2]" in loop and "stack[-2]" not in before, source
        plenty = 10**6
        interpreted = _run(fork, code, stack, b"", b"", plenty, compiled=False)
        assert interpreted["stack"] == end
        used = plenty - interpreted["gas"]
        for gas in (*range(1, 60), *range(used - 40, used + 2)):
            expected = ({"error": None, "gas": gas - used, "stack": end, "memory": b""}
                        if gas >= used else {"error": "OutOfGas", "gas": 0})
            assert _run(fork, code, stack, b"", b"", gas, compiled=True) == expected, gas


def test_a_jumpi_tests_the_comparison_itself() -> None:
    """A JUMPI whose condition is ISZERO of a comparison this block made, read nowhere
    else, tests the comparison itself (`if not (5 < v1):`) without writing the 1-or-0
    lines; a condition also left on the stack keeps its line. Both tiers end alike."""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS
    from tests.evm.test_opcode_templates import _run

    fork = FORKS["London"]
    # PUSH1 0 CALLDATALOAD PUSH1 5 LT ISZERO PUSH1 13 JUMPI PUSH1 1 STOP
    # 13: JUMPDEST PUSH1 2 STOP
    direct = bytes.fromhex("60003560051015600d57600100" "5b600200")
    # the same with DUP1 after ISZERO (and the destination at 14)
    kept = bytes.fromhex("6000356005101580600e57600100" "5b600200")
    text = compiler._compile_block(0, analyse(direct), fork.opcodes, {})
    assert " = 1 if " not in text and " = 0 if " not in text and "if not (" in text, text
    text = compiler._compile_block(0, analyse(kept), fork.opcodes, {})
    assert " = 0 if " in text, text
    for code in (direct, kept):
        for x in (3, 5, 9):
            calldata = x.to_bytes(32)
            interpreted = _run(fork, code, [], b"", calldata, 10**6, compiled=False)
            assert _run(fork, code, [], b"", calldata, 10**6, compiled=True) == interpreted
            assert interpreted["stack"][-1] == (2 if x <= 5 else 1), (code.hex(), x)


def test_an_entry_may_need_more_reaches_than_a_byte_counts(monkeypatch) -> None:
    """Reach counts are 16 bits: an entry whose first-frames need is over 255 (the native
    build's rule, NATIVE patched in the pure one) runs through cold steps until it has
    been reached that often, then is translated; the frame ends as interpreted."""
    from chainvm.evm import compiler
    from chainvm.evm.compiler import CompiledCode, execute_compiled
    from chainvm.evm.forks import FORKS
    from chainvm.evm.interpreter import execute
    from tests.evm.test_opcode_templates import _frame

    fork = FORKS["London"]
    monkeypatch.setattr(compiler, "NATIVE_WRITING_REACHES", 4000)
    monkeypatch.setattr(compiler, "NATIVE", True)
    # 0: PUSH2 n; 3: JUMPDEST PUSH1 1 SWAP1 SUB DUP1 PUSH1 3 JUMPI; 12: STOP
    for loops in (600, 1500):
        code = b"\x61" + loops.to_bytes(2, "big") + bytes.fromhex("5b600190038060035700")
        interpreted = _frame(fork, code, [], b"", b"", 10**7)
        assert execute(interpreted) is None and interpreted.error is None
        f = _frame(fork, code, [], b"", b"", 10**7)
        blocks = CompiledCode(f.analysis, fork.opcodes)
        need = blocks.reaches_needed(3) >> 16
        assert 255 < need < 1500, need
        assert execute_compiled(f, blocks) is None and f.error is None
        assert (f.gas, list(f.stack)) == (interpreted.gas, list(interpreted.stack)) == (
            interpreted.gas, [0])
        assert (3 in blocks.table) == (loops > need)
        # (the first pass through 3 is the straight line from 0, not an entry)
        assert blocks.reaches[3] == min(loops - 1, need)


def test_a_template_writes_nothing_when_its_expansion_is_empty() -> None:
    """`Inline.writes_nothing` (what the translator's per-opcode table reads) says what
    expanding the template would: no statement and no pushed value (JUMPDEST, POP)."""
    from chainvm.evm.forks import FORKS
    from chainvm.evm.opspec import OPERANDS

    empty = set()
    for fork in FORKS.values():
        for op, spec in enumerate(fork.opcodes.specs):
            if spec is None or spec.inline is None:
                continue
            template = spec.inline
            expanded = template.expand(OPERANDS[:template.arity], lambda: "t", 0)
            assert template.writes_nothing == (expanded == ([], None)), (fork.name, op)
            if template.writes_nothing:
                empty.add(op)
    assert empty == {0x50, 0x5B}  # POP, JUMPDEST


@pytest.mark.parametrize("code_hex,expected", [
    ("60ab61abcd62abcdef", [0xAB, 0xABCD, 0xABCDEF]),
    ("61ef", [0xEF00]),  # a PUSH2 cut by the code's end reads zeros past it
    ("60", [0]),
    ("62abcd", [0xABCD00]),
])
def test_push_immediates_agree_in_the_interpreter_and_cold_steps(code_hex: str,
                                                                 expected: list[int]) -> None:
    """PUSH1 and PUSH2 read their bytes from the padded code inline (no PushValues miss),
    other PUSHes through PushValues: the interpreter and the compiled tier's cold steps
    push the same values, zeros read past the code's end."""
    from chainvm.evm.compiler import CompiledCode, execute_compiled
    from chainvm.evm.forks import FORKS
    from chainvm.evm.interpreter import execute
    from tests.evm.test_opcode_templates import _frame

    fork = FORKS["London"]
    code = bytes.fromhex(code_hex)
    interpreted = _frame(fork, code, [], b"", b"", 10**6)
    assert execute(interpreted) is None and interpreted.error is None
    stepped = _frame(fork, code, [], b"", b"", 10**6)
    blocks = CompiledCode(stepped.analysis, fork.opcodes)
    assert execute_compiled(stepped, blocks) is None and stepped.error is None
    assert not blocks.table  # run by cold steps, nothing translated
    assert list(interpreted.stack) == list(stepped.stack) == expected
    assert interpreted.gas == stepped.gas == 10**6 - 3 * len(expected)


def test_warming_a_new_block_fails_at_once() -> None:
    """_build_block calls each new block with None for the frame and the stack (to count
    towards CPython 3.11's specialisation): whatever the code, a block must fail at its
    first use of either, or be a halt that uses neither (STOP's exit body), rather than
    run on or return a pc to go on at."""
    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.forks import FORKS
    from chainvm.evm.frame import HALTED

    rng = random.Random("warming")
    tables = FORKS["Cancun"].opcodes
    failed = halted = 0
    # random bytes, and runs of PUSH1/JUMPDEST/STOP-heavy code (blocks with little gas)
    alphabet = bytes([0x00, 0x5B, 0x60, 0x01, 0x56, 0x57, 0x50, 0x80, 0x90, 0xFE, 0xF3])
    for _ in range(300):
        if rng.random() < 0.5:
            code = rng.randbytes(rng.randrange(1, 48))
        else:
            code = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 24)))
        analysis = analyse(code)
        for start in [0, *sorted(analysis.jumpdests)]:
            block = compiler._build_block(start, analysis, tables)
            try:
                pc = block(None, None)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 (the first use of the frame or stack)
                failed += 1
                continue
            assert pc == HALTED, (code.hex(), start, pc)
            halted += 1
    # (in the native build STOP's exit body checks its arguments' types: it fails too)
    assert failed > 300 and failed + halted > 400


@pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                    reason="CPython 3.11's per-function warm-up; 3.12 quickens on creation")
def test_a_new_block_is_specialised_from_its_first_real_call() -> None:
    """On CPython 3.11 a function is quickened (its instructions made adaptive) at its
    eighth call: the calls _build_block makes when warming a block make its first real
    call that one."""
    import dis
    from types import SimpleNamespace

    from chainvm.evm import compiler
    from chainvm.evm.analysis import analyse
    from chainvm.evm.errors import InvalidJump
    from chainvm.evm.forks import FORKS

    # PUSH1 1 PUSH1 2 ADD POP PUSH1 0x20 JUMP (not a destination: the block raises, calling
    # no opcode body, which in the native build would want a real Frame)
    block = compiler._build_block(0, analyse(bytes.fromhex("600160020150602056")),
                                  FORKS["London"].opcodes)
    frame = SimpleNamespace(gas=100, memory=bytearray())
    with pytest.raises(InvalidJump):
        block(frame, [])  # type: ignore[arg-type]
    assert frame.gas == 100 - 3 - 3 - 3 - 2 - 3 - 8
    names = {i.opname for i in dis.get_instructions(block, adaptive=True)}  # type: ignore[call-arg]
    assert "RESUME_QUICK" in names
