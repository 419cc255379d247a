"""Message calls started by the opcodes (begin_call, begin_create) and ended by the driver."""

from __future__ import annotations

import gc

import pytest

from chainvm.crypto import keccak256
from chainvm.encoding import rlp
from chainvm.evm.vm import create_address
from chainvm.state.state import Account
from tests.helpers import SENDER, TARGET, run_code

CALLEE = bytes.fromhex("00000000000000000000000000000000000ca11e")
# Returns three words: CALLER, CALLVALUE, ADDRESS.
CONTEXT_CODE = bytes.fromhex("335f52" "34602052" "30604052" "60605ff3")


def _caller_code(op: str, value: int | None) -> str:
    """<op>(GAS, CALLEE, [value,] 0, 0, 0, 96); POP; RETURN(0, 96)."""
    value_arg = "" if value is None else f"60{value:02x}"
    return "6060" "5f" "5f" "5f" + value_arg + "73" + CALLEE.hex() + "5a" + op + "50" \
        + "60605ff3"


@pytest.mark.parametrize("op,value,expected", [
    ("f1", 7, (TARGET, 7, CALLEE)),    # CALL: the callee's own context, value moved
    ("f2", 7, (TARGET, 7, TARGET)),    # CALLCODE: the caller's account, the callee's code
    ("f4", None, (SENDER, 5, TARGET)),  # DELEGATECALL: the caller's caller and value
    ("fa", None, (TARGET, 0, CALLEE)),  # STATICCALL
])
def test_each_call_kind_gives_the_callee_its_context(op: str, value: int | None,
                                                     expected: tuple[bytes, int, bytes]) -> None:
    code = bytes.fromhex(_caller_code(op, value))
    # (run_code's transaction brings 5 wei; TARGET starts with 100 so that CALL can move 7.)
    out = run_code(code, value=5, accounts={TARGET: Account(balance=100, code=code),
                                            CALLEE: Account(code=CONTEXT_CODE)})
    assert out.success, out.error
    words = [out.output[i:i + 32] for i in range(0, 96, 32)]
    caller, value_seen, address = words[0][12:], int.from_bytes(words[1], "big"), words[2][12:]
    assert (caller, value_seen, address) == expected
    moved = 7 if op == "f1" else 0
    assert out.state.balance(CALLEE) == moved
    assert out.state.balance(TARGET) == 105 - moved


@pytest.mark.parametrize("callee_code", ["fe", "5f5ffd"])  # INVALID; REVERT(0, 0)
def test_a_failed_frame_leaves_no_reference_cycle(callee_code: str) -> None:
    # A halt stored on its frame kept its traceback, which holds the executor's Python
    # frame, which holds the EVM frame: a cycle per failed frame, for the cyclic GC.
    call = "5f5f5f5f5f73" + CALLEE.hex() + "611000f150"  # CALL(0x1000, CALLEE, 0...); POP
    gc.collect()
    gc.disable()
    try:
        out = run_code(call * 3 + "5f5ffd",
                       accounts={CALLEE: Account(code=bytes.fromhex(callee_code))})
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert out.error == "Revert"
    assert unreachable == 0


@pytest.mark.parametrize("nonce", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 2**64 - 1, 2**64, 2**263])
def test_create_address_is_the_hash_of_the_rlp_list(nonce: int) -> None:
    sender = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
    assert create_address(sender, nonce) == keccak256(rlp.encode([sender, nonce]))[12:]


def test_create_address_known_value() -> None:
    # The first contract of 0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0 (nonce 0).
    sender = bytes.fromhex("6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0")
    assert create_address(sender, 0).hex() == "cd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"


def _push(value: int) -> str:
    width = max(1, (value.bit_length() + 7) // 8)
    return f"{0x5F + width:02x}" + value.to_bytes(width, "big").hex()


# Returns [CALLDATASIZE, CALLDATALOAD(0), CALLDATALOAD(size - 16) (half past the end),
# keccak256 of CALLDATACOPY(size + 16 bytes: the copy past the end gives zeros)].
INPUT_READER = bytes.fromhex(
    "36" "5f52"                                  # mstore(0, calldatasize)
    "5f35" "602052"                              # mstore(32, calldataload(0))
    "6010" "36" "03" "35" "604052"               # mstore(64, calldataload(size - 16))
    "6010" "36" "01" "5f" "6080" "37"            # calldatacopy(128, 0, size + 16)
    "6010" "36" "01" "6080" "20" "606052"        # mstore(96, keccak256(128, size + 16))
    "60805ff3")                                  # return(0, 128)


@pytest.mark.parametrize("size", [100, 70_000, 300_000])  # a copy; views of the memory
@pytest.mark.parametrize("op", ["f1", "fa", "f4"])
def test_a_large_input_reads_the_same_and_the_caller_grows_memory_after(op: str,
                                                                        size: int) -> None:
    data = bytearray(size)
    data[0], data[5], data[size - 1] = 0xAA, 0xBB, 0xCC
    marks = "".join(_push(byte) + _push(at) + "53" for at, byte in
                    ((0, 0xAA), (5, 0xBB), (size - 1, 0xCC)))
    value = "5f" if op == "f1" else ""
    call = ("6080" + _push(size + 32) + _push(size) + "5f" + value
            + "73" + CALLEE.hex() + "5a" + op + "50")  # op(GAS, CALLEE, [0,] 0, size,
    #                                                      size + 32, 128); POP
    grow = "6001" + _push(3 * size) + "52"  # mstore(3 * size, 1): the memory grows again
    back = "6080" + _push(size + 32) + "f3"  # return what the callee returned
    out = run_code(marks + call + grow + back, gas=30_000_000,
                   accounts={CALLEE: Account(code=INPUT_READER)})
    assert out.success, out.error
    words = [int.from_bytes(out.output[i:i + 32], "big") for i in range(0, 128, 32)]
    padded = bytes(data) + bytes(16)
    assert words == [size, int.from_bytes(padded[:32], "big"),
                     int.from_bytes(padded[size - 16:size + 16], "big"),
                     int.from_bytes(keccak256(padded), "big")]


def test_a_failed_callee_with_a_large_input_lets_the_caller_grow_memory() -> None:
    size = 100_000
    call = "5f5f" + _push(size) + "5f5f73" + CALLEE.hex() + "5af1"  # CALL(GAS, CALLEE, 0, 0, size, 0, 0)
    grow = "6001" + _push(3 * size) + "52" + "5f52" + "60205ff3"  # grow, return the status
    for callee in ("fe", "5f5ffd"):  # INVALID, REVERT
        out = run_code(call + grow, gas=30_000_000,
                       accounts={CALLEE: Account(code=bytes.fromhex(callee))})
        assert out.success and int.from_bytes(out.output, "big") == 0, out.error


@pytest.mark.parametrize("fork_name", ["EIP158", "Byzantium", "London"])
@pytest.mark.parametrize("gas_limit", [21_100, 30_000])  # out of gas in it, or succeeding
def test_an_empty_ripemd160_touched_by_the_transaction_itself_is_deleted(
        fork_name: str, gas_limit: int) -> None:
    """The 2016 consensus quirk keeps the touch of RIPEMD-160 (0x03) through any revert.
    chainvm keeps it through a failed top-level call too, as geth does (its touch of 0x03
    is marked dirty outside the journal), so an empty 0x03 is deleted either way. The
    execution specs drop the touches of a failed top-level frame, keeping 0x03 there: a
    known difference (docs/differential.md), reachable only from a pre-state that holds
    an empty 0x03 before Paris."""
    from chainvm.evm.env import BlockEnv
    from chainvm.evm.forks import get_fork
    from chainvm.evm.transaction import Transaction, apply_transaction
    from chainvm.state.state import State

    ripemd = (3).to_bytes(20, "big")
    state = State({SENDER: Account(balance=10**18), ripemd: Account()})
    tx = Transaction(sender=SENDER, to=ripemd, gas_limit=gas_limit, gas_price=1)
    result = apply_transaction(state, get_fork(fork_name), BlockEnv(number=1, timestamp=1), tx)
    assert result.gas_used == (gas_limit if gas_limit == 21_100 else 21_600)
    assert state.get(ripemd) is None
