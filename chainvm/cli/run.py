"""`chainvm run`: execute bytecode in an empty state (geth's `evm run`)."""

from __future__ import annotations

import json
import sys

from chainvm.cli.common import ArgumentParser, UsageError, parse_hex
from chainvm.evm.env import BlockEnv
from chainvm.evm.execution import CALL, Message, execute_message, new_evm, prewarm
from chainvm.evm.forks import FORK_ORDER, get_fork
from chainvm.evm.interpreter import Tracer
from chainvm.state.state import Account, State

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
RECEIVER = bytes.fromhex("00000000000000000000000000000000000c0de0")


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="chainvm run", description="Execute EVM bytecode.")
    parser.add_argument("--code", required=True, metavar="HEX", help="bytecode to run")
    parser.add_argument("--input", default="", metavar="HEX", help="call data")
    parser.add_argument("--gas", default="10000000", metavar="N", help="gas limit")
    parser.add_argument("--value", default="0", metavar="N", help="call value in wei")
    parser.add_argument("--fork", default="Cancun", help="fork name (default Cancun)")
    parser.add_argument("--trace", action="store_true", help="EIP-3155 trace lines on stderr")
    args = parser.parse_args(argv)
    code = parse_hex(args.code, "--code")
    data = parse_hex(args.input, "--input")
    try:
        gas = int(args.gas, 0)
        value = int(args.value, 0)
    except ValueError:
        raise UsageError("--gas and --value must be integers") from None
    if gas < 0 or value < 0:
        raise UsageError("--gas and --value must not be negative")
    try:
        fork = get_fork(args.fork)
    except KeyError:
        raise UsageError(f"unknown fork {args.fork!r} (known: {', '.join(FORK_ORDER)})") from None
    state = State({SENDER: Account(balance=value + 10**18), RECEIVER: Account(code=code)})
    state.begin_transaction()
    tracer = Tracer(sys.stderr) if args.trace else None
    evm = new_evm(state, fork, BlockEnv(), SENDER, tracer=tracer)
    prewarm(evm, (SENDER, RECEIVER))
    result = execute_message(evm, Message(CALL, SENDER, RECEIVER, value, data, gas))
    output, gas_left, error = result.output, result.gas_left, result.error
    report = {"output": "0x" + output.hex(), "gasUsed": hex(gas - gas_left)}
    if error:
        report["error"] = error
    if tracer is not None:
        tracer.summary(output, gas - gas_left, error)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0 if error is None else 1
