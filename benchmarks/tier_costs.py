"""What one instruction pattern costs interpreted and translated, for the compiled tier's
cost model (docs/performance.md, "what translation is worth in the native build").

Each pattern is copied K times into the body of a loop run N times; the accumulator it
works on is carried from one pass to the next, so a translation cannot drop its work.
The time of a run (`execute_message`, in process) less that of the empty loop, per copy,
is printed for the interpreter alone (`CHAINVM_COMPILE=off`) and for the compiled tier
once the loop is translated (the fastest of the last six of twelve runs):

    .venv/bin/python benchmarks/tier_costs.py            # the build on sys.path
    PYTHONPATH=/tmp/native .venv/bin/python benchmarks/tier_costs.py

The two modes run in child processes (the mode is read once, at import). Wall time, on a
shared machine: compare the two columns of one run, not runs taken at different times.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time

N, K = 200, 40
BIG = "7f" + "ff" * 31 + "fd"  # PUSH32 2^256 - 3
# name -> the body's hex; the accumulator is on top of the stack at each copy's start
PATTERNS = {
    "empty": "",
    "DUP1 SWAP1 POP": "80" "90" "50",
    "PUSH1 ADD": "6007" "01",
    "PUSH1 AND PUSH1 XOR": "6007" "16" "6009" "18",
    "PUSH1 SHL PUSH1 SHR": "6003" "1b" "6005" "1c",
    "PUSH1 LT ISZERO": "6007" "10" "15",
    "PUSH1 SIGNEXTEND": "6003" "0b",
    "PUSH32 MUL": BIG + "02",
    "PUSH32 DUP2 DUP1 MULMOD SWAP1 POP": BIG + "81" "80" "09" "90" "50",
    "PUSH1 MLOAD ADD": "6000" "51" "01",
    "DUP1 PUSH1 MSTORE": "80" "6000" "52",
    "PUSH1 CALLDATALOAD ADD": "6000" "35" "01",
    "PUSH1 SLOAD ADD": "6000" "54" "01",
    "DUP2 PUSH2 JUMPI JUMPDEST": "jumpi",  # a taken JUMPI to the next block, each copy
}


def program(body: str) -> bytes:
    """PUSH1 1 (the accumulator), PUSH2 N (the counter), then the loop at pc 5: the
    accumulator on top, K copies of the body, the counter back on top, decrement, loop."""
    if body == "jumpi":
        copies = "".join("81" "61" + f"{7 + 6 * i + 5:04x}" + "57" "5b" for i in range(K))
    else:
        copies = body * K
    return bytes.fromhex("6001" "61" + f"{N:04x}" + "5b" "90" + copies
                         + "90" "600190038061000557" "00")


def measure() -> dict[str, float]:
    """Seconds per copy of each pattern in this process's mode."""
    from chainvm.cli.run import RECEIVER, SENDER
    from chainvm.evm.env import BlockEnv
    from chainvm.evm.execution import CALL, Message, execute_message, new_evm, prewarm
    from chainvm.evm.forks import get_fork
    from chainvm.state.state import Account, State

    fork = get_fork("Cancun")
    best: dict[str, float] = {}
    for name, body in PATTERNS.items():
        code = program(body)
        times = []
        for _ in range(12):
            state = State({SENDER: Account(balance=10**18), RECEIVER: Account(code=code)})
            state.begin_transaction()
            evm = new_evm(state, fork, BlockEnv(), SENDER)
            prewarm(evm, (SENDER, RECEIVER))
            gc.collect()
            start = time.perf_counter()
            result = execute_message(evm, Message(CALL, SENDER, RECEIVER, 0, b"", 30_000_000))
            times.append(time.perf_counter() - start)
            if result.error is not None:
                raise SystemExit(f"tier_costs: {name}: {result.error}")
        best[name] = min(times[6:])
    empty = best.pop("empty")
    return {name: (t - empty) / (N * K) for name, t in best.items()}


def main(argv: list[str]) -> int:
    import argparse

    from chainvm.cli.common import ArgumentParser, UsageError

    parser = ArgumentParser(prog="tier_costs.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    if args.child:
        json.dump(measure(), sys.stdout)
        return 0
    results = {}
    for mode in ("off", "auto"):
        env = {**os.environ, "CHAINVM_COMPILE": mode}
        out = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True,
                             capture_output=True, text=True).stdout
        results[mode] = json.loads(out)
    from chainvm.evm.instructions.direct import NATIVE

    build = "native" if NATIVE else "pure"
    print(f"{'pattern (' + build + ' build)':40} {'interpreted':>12} {'translated':>12} "
          f"{'saved':>8}   ns a copy")
    for name in results["off"]:
        off, auto = results["off"][name] * 1e9, results["auto"][name] * 1e9
        print(f"{name:40} {off:12.1f} {auto:12.1f} {off - auto:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
