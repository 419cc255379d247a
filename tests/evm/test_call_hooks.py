"""Tracers hear every message through enter/exit, from the frame driver itself."""

from __future__ import annotations

from chainvm.evm.env import BlockEnv
from chainvm.evm.forks import get_fork
from chainvm.evm.transaction import Transaction, apply_transaction
from chainvm.node.tracing import CallTracer
from chainvm.state.state import Account, State

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
A = bytes.fromhex("00000000000000000000000000000000000000aa")
B = bytes.fromhex("00000000000000000000000000000000000000bb")
# A: CALL B (which reverts), then STATICCALL the identity precompile, then STOP.
CODE_A = bytes.fromhex("6000600060006000600073" + B.hex() + "61fffff150"
                       + "600060006000600060046161a8fa5000")
CODE_B = bytes.fromhex("60006000fd")  # REVERT(0, 0)


def test_call_tracer_records_each_message_with_its_result() -> None:
    state = State({SENDER: Account(balance=10**18), A: Account(code=CODE_A),
                   B: Account(code=CODE_B)})
    tracer = CallTracer()
    result = apply_transaction(state, get_fork("Cancun"), BlockEnv(number=1, timestamp=1),
                               Transaction(sender=SENDER, to=A, gas_limit=200_000, gas_price=0),
                               tracer)
    assert result.success
    root = tracer.result(result)
    assert root["type"] == "CALL" and root["to"] == "0x" + A.hex()
    reverted, identity = root["calls"]
    assert reverted["type"] == "CALL" and reverted["to"] == "0x" + B.hex()
    assert reverted["error"] == "execution reverted"
    assert reverted["gas"] == hex(0xFFFF) and int(reverted["gasUsed"], 16) == 6
    assert identity["type"] == "STATICCALL" and identity["to"] == "0x" + "00" * 19 + "04"
    assert "value" not in identity and "error" not in identity
    assert int(identity["gasUsed"], 16) == 15  # the identity precompile's base cost
    assert tracer.stack == []
