"""When code moves from the interpreter to the compiled tier (compiler.py).

CHAINVM_COMPILE picks the mode, read once at import: "auto" (default: hot code),
"off" (the interpreter only), and two test modes that check the translation against
the interpreter: "always" (every block translated on first use) and "mixed" (tiny
thresholds, so frames move between the interpreter, cold steps and translated blocks
all the time).
"""

from __future__ import annotations

import os
import sys

MODES = ("auto", "off", "always", "mixed")

COMPILE_MODE = os.environ.get("CHAINVM_COMPILE", "auto")
if COMPILE_MODE not in MODES:
    sys.stderr.write(f"chainvm: CHAINVM_COMPILE={COMPILE_MODE!r} is not auto, off, always or "
                     "mixed; using auto\n")
    COMPILE_MODE = "auto"

# Whether frames may run compiled at all (the interpreter's JUMP and JUMPI then count
# loop heads, see OpSpec.counting_body).
ENABLED = COMPILE_MODE != "off"

# (frames on a code before its frames start compiled, reaches of a loop head before an
# interpreted frame switches, reaches of a block entry before it gets a block, and the
# instructions a block should have run cold before it is translated)
ENTRY_THRESHOLD, LOOP_THRESHOLD, BLOCK_THRESHOLD, BLOCK_WORK_THRESHOLD = {
    "auto": (4, 50, 8, 600),
    "off": (0, 0, 0, 0),
    "always": (0, 0, 0, 0),
    "mixed": (1, 1, 2, 6),
}[COMPILE_MODE]

# In the native build (setup.py), which interprets an instruction in about a third of
# the pure build's time while compile() costs the same, an entry also needs this many
# reaches scaled by the share of its trace's instructions that write a line (PUSH, DUP,
# SWAP, POP and JUMPDEST write none: they cost compile() nothing and are what
# translation removes outright); see CompiledCode.reaches_needed and docs/performance.md
# (160 let blake2b_shifts translate 136 traces, 106 of which then ran 20 times or fewer;
# 600 was the best of 160, 600, 1500 and 4000 over the benchmark cases' first runs).
NATIVE_WRITING_REACHES = 600 if COMPILE_MODE == "auto" else 0

# A backward jump heats its loop head by one, and, when it repeats the frame's previous
# backward jump, by one more per LOOP_WORK_GAS of gas spent since then, at most
# LOOP_WORK_CAP more (see _count_loop_head): the threshold is then closer to work done in
# the loop than to iterations.
LOOP_WORK_GAS = 96
LOOP_WORK_CAP = 16
