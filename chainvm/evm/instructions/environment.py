"""KECCAK256 (0x20), environment (0x30-0x3f) and block information (0x40-0x4a) opcodes."""

from __future__ import annotations

from typing import Final

from chainvm.crypto import keccak256, keccak256_parts
from chainvm.evm.errors import ReturnDataOutOfBounds
from chainvm.evm.frame import Frame
from chainvm.evm.gas import G_KECCAK256_WORD
from chainvm.evm.instructions.common import (
    LARGE_MEMORY_RANGE,
    charge,
    copy_cost_and_expand,
    copy_padded,
    expand_memory,
    from_bytes,
    grow_past_end,
    to_address,
    zero_chunks,
)
from chainvm.evm.opspec import Inline

G_COLD_EXTRA: Final = 2600 - 100  # EIP-2929: cold account access minus the warm cost in the table


def op_keccak256(f: Frame, s: list[int], pc: int) -> int:
    offset = s.pop()
    size = s[-1]
    if size:
        mem = f.memory
        old = len(mem)
        end = offset + size
        # Zeros far past the end of memory are hashed from a shared zero buffer, and
        # memory's growth is charged, not written (grow_past_end): randomStatetest94's
        # blockchain test hashes 1.57 GB of fresh memory this way.
        past_end = end - old > LARGE_MEMORY_RANGE
        if past_end:
            grow_past_end(f, old, end)
        else:
            expand_memory(f, offset, size)
        charge(f, G_KECCAK256_WORD * ((size + 31) >> 5))
        if past_end:
            parts = zero_chunks(size) if offset >= old else \
                [memoryview(mem)[offset:old], *zero_chunks(end - old)]
            s[-1] = from_bytes(keccak256_parts(parts), "big")
        else:
            # A large range is hashed where it lies, through a view (released when the
            # call returns, so memory can grow again), not copied first.
            data: bytearray | memoryview = memoryview(mem)[offset:end] \
                if size > LARGE_MEMORY_RANGE else mem[offset:end]
            s[-1] = from_bytes(keccak256(data), "big")
    else:
        s[-1] = 0xC5D2460186F7233C927E7DB2DCC703C0E500B653CA82273B7BFAD8045D85A470
    return pc + 1


ADDRESS = Inline("op_address", 0, "from_bytes(f.address)")


def op_balance(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = f.state.balance(to_address(s[-1]))
    return pc + 1


def op_balance_eip2929(f: Frame, s: list[int], pc: int) -> int:
    addr = to_address(s[-1])
    if f.state.access_address(addr):
        charge(f, G_COLD_EXTRA)
    s[-1] = f.state.balance(addr)
    return pc + 1


ORIGIN = Inline("op_origin", 0, "from_bytes(f.evm.origin)")


CALLER = Inline("op_caller", 0, "from_bytes(f.caller)")


CALLVALUE = Inline("op_callvalue", 0, "f.value")


CALLDATALOAD = Inline("op_calldataload", 1,
                      "from_bytes(padded_slice(f.calldata, a, 32)) if a < len(f.calldata) else 0")


CALLDATASIZE = Inline("op_calldatasize", 0, "len(f.calldata)")


def op_calldatacopy(f: Frame, s: list[int], pc: int) -> int:
    mem_offset = s.pop()
    offset = s.pop()
    size = s.pop()
    calldata = f.calldata
    copy_padded(f, mem_offset, calldata, len(calldata), offset, size)
    return pc + 1


CODESIZE = Inline("op_codesize", 0, "f.analysis.size")


def op_codecopy(f: Frame, s: list[int], pc: int) -> int:
    mem_offset = s.pop()
    offset = s.pop()
    size = s.pop()
    # f.code goes on with the zero bytes the analysis pads it with (CODE_PADDING).
    copy_padded(f, mem_offset, f.code, f.analysis.size, offset, size)
    return pc + 1


GASPRICE = Inline("op_gasprice", 0, "f.evm.gas_price")


def op_extcodesize(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = len(f.evm.code_for_ext(to_address(s[-1])))
    return pc + 1


def op_extcodesize_eip2929(f: Frame, s: list[int], pc: int) -> int:
    addr = to_address(s[-1])
    if f.state.access_address(addr):
        charge(f, G_COLD_EXTRA)
    s[-1] = len(f.evm.code_for_ext(addr))
    return pc + 1


def _extcodecopy(f: Frame, s: list[int], cold_check: bool) -> None:
    addr = to_address(s.pop())
    mem_offset = s.pop()
    offset = s.pop()
    size = s.pop()
    if cold_check and f.state.access_address(addr):
        charge(f, G_COLD_EXTRA)
    if size:
        code = f.evm.code_for_ext(addr)
        copy_padded(f, mem_offset, code, len(code), offset, size)


def op_extcodecopy(f: Frame, s: list[int], pc: int) -> int:
    _extcodecopy(f, s, False)
    return pc + 1


def op_extcodecopy_eip2929(f: Frame, s: list[int], pc: int) -> int:
    _extcodecopy(f, s, True)
    return pc + 1


RETURNDATASIZE: Inline = Inline("op_returndatasize", 0, "len(f.return_data)")  # EIP-211


def op_returndatacopy(f: Frame, s: list[int], pc: int) -> int:  # EIP-211
    mem_offset = s.pop()
    offset = s.pop()
    size = s.pop()
    data = f.return_data
    if offset + size > len(data):
        raise ReturnDataOutOfBounds
    if size:
        copy_cost_and_expand(f, mem_offset, size)
        f.memory[mem_offset:mem_offset + size] = data[offset:offset + size]
    return pc + 1


def _extcodehash(f: Frame, addr: bytes) -> int:
    if f.state.is_empty(addr):  # EIP-1052: 0 for non-existent (and, after EIP-161, empty) accounts
        return 0
    return from_bytes(f.evm.code_hash_for_ext(addr), "big")


def op_extcodehash(f: Frame, s: list[int], pc: int) -> int:  # EIP-1052
    s[-1] = _extcodehash(f, to_address(s[-1]))
    return pc + 1


def op_extcodehash_eip2929(f: Frame, s: list[int], pc: int) -> int:
    addr = to_address(s[-1])
    if f.state.access_address(addr):
        charge(f, G_COLD_EXTRA)
    s[-1] = _extcodehash(f, addr)
    return pc + 1


def op_blockhash(f: Frame, s: list[int], pc: int) -> int:
    number = s[-1]
    current = f.evm.block.number
    if current - 256 <= number < current:
        s[-1] = from_bytes(f.evm.block.block_hash(number), "big")
    else:
        s[-1] = 0
    return pc + 1


COINBASE = Inline("op_coinbase", 0, "from_bytes(f.evm.block.coinbase)")


TIMESTAMP = Inline("op_timestamp", 0, "f.evm.block.timestamp")


NUMBER = Inline("op_number", 0, "f.evm.block.number")


DIFFICULTY = Inline("op_difficulty", 0, "f.evm.block.difficulty")


PREVRANDAO: Inline = Inline("op_prevrandao", 0,
                            "from_bytes(f.evm.block.prev_randao)")  # EIP-4399


GASLIMIT = Inline("op_gaslimit", 0, "f.evm.block.gas_limit")


CHAINID: Inline = Inline("op_chainid", 0, "f.evm.block.chain_id")  # EIP-1344


def op_selfbalance(f: Frame, s: list[int], pc: int) -> int:  # EIP-1884
    s.append(f.state.balance(f.address))
    return pc + 1


BASEFEE: Inline = Inline("op_basefee", 0, "f.evm.block.base_fee")  # EIP-3198


def op_blobhash(f: Frame, s: list[int], pc: int) -> int:  # EIP-4844
    index = s[-1]
    hashes = f.evm.blob_hashes
    s[-1] = from_bytes(hashes[index], "big") if index < len(hashes) else 0
    return pc + 1


BLOBBASEFEE: Inline = Inline("op_blobbasefee", 0, "f.evm.blob_base_fee")  # EIP-7516
