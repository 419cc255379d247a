"""Small builders shared by the unit tests."""

from __future__ import annotations

from chainvm.evm.env import BlockEnv
from chainvm.evm.execution import CALL, Message, execute_message, new_evm, prewarm
from chainvm.evm.forks import get_fork
from chainvm.state.state import Account, State

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
TARGET = bytes.fromhex("00000000000000000000000000000000000c0de0")


class Outcome:
    def __init__(self, success: bool, gas_used: int, output: bytes, error: str | None,
                 state: State) -> None:
        self.success = success
        self.gas_used = gas_used
        self.output = output
        self.error = error
        self.state = state


def run_code(code: bytes | str, fork: str = "Cancun", gas: int = 1_000_000, data: bytes = b"",
             value: int = 0, accounts: dict[bytes, Account] | None = None) -> Outcome:
    if isinstance(code, str):
        code = bytes.fromhex(code)
    state = State({SENDER: Account(balance=10**30), TARGET: Account(code=code),
                   **(accounts or {})})
    state.begin_transaction()
    evm = new_evm(state, get_fork(fork), BlockEnv(number=10, timestamp=1000), SENDER, 1)
    prewarm(evm, (SENDER, TARGET))
    result = execute_message(evm, Message(CALL, SENDER, TARGET, value, data, gas))
    error = None if result.halt is None else type(result.halt).__name__
    return Outcome(result.success, gas - result.gas_left, result.output, error, state)


def ret_top() -> str:
    """Bytecode suffix: return the top of the stack as one word."""
    return "5f52" + "60205ff3"  # PUSH0 MSTORE PUSH1 32 PUSH0 RETURN
