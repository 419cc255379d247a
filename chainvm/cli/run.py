"""`chainvm run`: execute bytecode in an empty state (geth's `evm run`)."""

from __future__ import annotations

import json
import sys

from chainvm.cli.common import (
    ArgumentParser,
    TimeLimitExceeded,
    UsageError,
    parse_hex,
    parse_int_flag,
    positive_seconds,
    time_limit,
)
from chainvm.evm.env import BlockEnv
from chainvm.evm.execution import CALL, Message, execute_message, new_evm, prewarm
from chainvm.evm.forks import FORK_ORDER, get_fork
from chainvm.evm.tracer import Tracer
from chainvm.state.state import Account, State

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
RECEIVER = bytes.fromhex("00000000000000000000000000000000000c0de0")
# Seconds before `run` gives up: any realistic program (30M gas) ends well within it,
# while an endless loop given 2**64 gas would otherwise run for days.
DEFAULT_TIMEOUT = 60


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="chainvm run", description="Execute EVM bytecode.")
    parser.add_argument("--code", required=True, metavar="HEX", help="bytecode to run")
    parser.add_argument("--input", default="", metavar="HEX", help="call data")
    parser.add_argument("--gas", default="10000000", metavar="N", help="gas limit")
    parser.add_argument("--value", default="0", metavar="N", help="call value in wei")
    parser.add_argument("--fork", default="Cancun", help="fork name (default Cancun)")
    parser.add_argument("--trace", action="store_true", help="EIP-3155 trace lines on stderr")
    parser.add_argument("--timeout", default=str(DEFAULT_TIMEOUT), metavar="S",
                        help=f"stop with an error after S seconds (default {DEFAULT_TIMEOUT}; "
                             "0: no limit)")
    args = parser.parse_args(argv)
    code = parse_hex(args.code, "--code")
    data = parse_hex(args.input, "--input")
    gas = parse_int_flag(args.gas, "--gas", limit=2**64)  # a uint64, as in every client
    value = parse_int_flag(args.value, "--value", limit=2**256)
    timeout = positive_seconds(args.timeout, "--timeout")
    try:
        fork = get_fork(args.fork)
    except KeyError:
        raise UsageError(f"unknown fork {args.fork!r} (known: {', '.join(FORK_ORDER)})") from None
    state = State({SENDER: Account(balance=value + 10**18), RECEIVER: Account(code=code)})
    state.begin_transaction()
    tracer = Tracer(sys.stderr) if args.trace else None
    evm = new_evm(state, fork, BlockEnv(), SENDER, tracer=tracer)
    prewarm(evm, (SENDER, RECEIVER))
    try:
        with time_limit(timeout):
            result = execute_message(evm, Message(CALL, SENDER, RECEIVER, value, data, gas))
    except TimeLimitExceeded:
        raise UsageError(f"run: stopped after the time limit of {timeout:g} s "
                         "(--timeout)") from None
    output, gas_left, error = result.output, result.gas_left, result.error
    report = {"output": "0x" + output.hex(), "gasUsed": hex(gas - gas_left)}
    if error:
        report["error"] = error
    if tracer is not None:
        tracer.summary(output, gas - gas_left, error)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0 if error is None else 1
