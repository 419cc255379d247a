"""Generated programs whose LOG, RETURN, REVERT and KECCAK256 ranges reach far past the
end of memory, mixed with the instructions that read, write and measure memory after them.

A range that reaches more than 4 KiB past the end is charged but not written
(grow_past_end, f.memory_tail): these programs check that every later MLOAD, MSTORE,
MSTORE8, MSIZE, KECCAK256, copy, MCOPY and call sees the same memory and pays the same
gas as if it had been. Each observed value is logged as a topic.
"""

from __future__ import annotations

import random
from typing import Any

from chainvm.crypto import private_key_to_address
from chainvm.testing.program_gen import generate_case

TARGET = "c0de000000000000000000000000000000000001"
CANCUN_AND_LATER = ("Cancun", "Prague", "Osaka")


def _push(value: int) -> bytes:
    width = max(1, (value.bit_length() + 7) // 8)
    return bytes([0x5F + width]) + value.to_bytes(width, "big")


def _pushes(*values: int) -> bytes:
    """Push the values so that the first is on top."""
    return b"".join(_push(v) for v in reversed(values))


_OBSERVE = _pushes(0, 0) + b"\xa1"  # LOG1 of nothing, the value on the stack as its topic


def _offset(rng: random.Random) -> int:
    return rng.choice((0, 32, rng.randrange(0, 256), rng.randrange(0, 12_000),
                       rng.randrange(0, 40_000)))


def _size(rng: random.Random) -> int:
    return rng.choice((0, 1, 32, 4_096, 4_097, rng.randrange(0, 200), rng.randrange(0, 30_000)))


def _step(rng: random.Random, cancun: bool) -> bytes:
    kind = rng.randrange(11 if cancun else 10)
    if kind in (0, 1, 2):  # the large range: LOG0 or LOG2 of a span past the end
        topics = rng.choice((0, 2))
        return _pushes(_offset(rng), rng.choice((4_097, 8_192, rng.randrange(0, 40_000))),
                       *([7] * topics)) + bytes([0xA0 + topics])
    if kind == 3:  # MSTORE
        return _pushes(_offset(rng), rng.getrandbits(256)) + b"\x52"
    if kind == 4:  # MSTORE8
        return _pushes(_offset(rng), rng.randrange(256)) + b"\x53"
    if kind == 5:  # MLOAD
        return _push(_offset(rng)) + b"\x51" + _OBSERVE
    if kind == 6:  # MSIZE
        return b"\x59" + _OBSERVE
    if kind == 7:  # KECCAK256
        return _pushes(_offset(rng), _size(rng)) + b"\x20" + _OBSERVE
    if kind == 8:  # CALLDATACOPY of calldata and of zeros past it
        return _pushes(_offset(rng), rng.randrange(0, 40), _size(rng)) + b"\x37"
    if kind == 9:  # the identity precompile, input and output anywhere in memory
        return (_pushes(100_000, 4, 0, _offset(rng), _size(rng), _offset(rng), _size(rng))
                + b"\xf1" + _OBSERVE)
    return _pushes(_offset(rng), _offset(rng), _size(rng)) + b"\x5e"  # MCOPY (EIP-5656)


def memory_code(rng: random.Random, fork: str) -> bytes:
    cancun = fork in CANCUN_AND_LATER
    code = b"".join(_step(rng, cancun) for _ in range(rng.randrange(3, 12)))
    end = rng.randrange(4)
    if end == 0:
        return code + b"\x00"  # STOP
    span = _pushes(_offset(rng), _size(rng))
    if end == 1 or fork in ("Frontier", "Homestead", "TangerineWhistle", "SpuriousDragon"):
        return code + span + b"\xf3"  # RETURN
    if end == 2:
        return code + span + b"\xfd"  # REVERT (EIP-140)
    return code + b"\x59" + _OBSERVE + b"\x00"


def memory_case(fork: str, index: int) -> dict[str, Any]:
    """A valid transaction (program_gen's block and accounts) calling a memory program."""
    rng = random.Random(f"memory-past-the-end:{fork}:{index}")
    case = generate_case(fork, rng)
    case["env"]["gas_limit"] = max(case["env"]["gas_limit"], 30_000_000)
    target = case["pre"][TARGET]
    target.pop("segments", None)  # program_gen's code given in pieces
    target["code"] = memory_code(rng, fork).hex()
    tx = case["tx"]
    sender = case["pre"].setdefault(private_key_to_address(bytes.fromhex(tx["key"])).hex(), {})
    sender.update(nonce=0, balance=10**20, code="", storage={})
    sender.pop("segments", None)
    tx.pop("data_segments", None)
    tx.update(type=0, to=TARGET, nonce=0, value=0, gas_limit=4_000_000, data="ab" * 20,
              gas_price=max(case["env"]["base_fee"], 1), max_fee_per_gas=None,
              max_priority_fee_per_gas=None, access_list=[], authorization_list=[],
              blob_versioned_hashes=[], max_fee_per_blob_gas=None)
    return case
