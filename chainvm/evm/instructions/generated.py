"""The opcode templates' interpreter bodies, generated ahead of time. Do not edit.

Written by `python -m chainvm.evm.generate_bodies` from the `Inline` templates in
chainvm/evm/instructions (see that module); `opspec.Inline` uses a body from here when its
key matches the template, and generates the body itself otherwise. A template marked
`words` types its stack list[Any] (see `Inline`: an annotation for the native build).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from chainvm.evm.bigint import powmod
from chainvm.evm.errors import Stop
from chainvm.evm.instructions.common import (
    charge,
    expand_memory,
    from_bytes,
    grow_for_word,
    load_past_end,
    load_word,
    padded_slice,
    store_word,
    to_bytes,
)

if TYPE_CHECKING:
    from chainvm.evm.frame import Frame

M: Final = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
SIGN: Final = 0x8000000000000000000000000000000000000000000000000000000000000000
SIGNEXTEND_HIGH: Final[tuple[int, ...]] = (
    0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80,
    0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff8000,
    0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffff800000,
    0xffffffffffffffffffffffffffffffffffffffffffffffffffffffff80000000,
    0xffffffffffffffffffffffffffffffffffffffffffffffffffffff8000000000,
    0xffffffffffffffffffffffffffffffffffffffffffffffffffff800000000000,
    0xffffffffffffffffffffffffffffffffffffffffffffffffff80000000000000,
    0xffffffffffffffffffffffffffffffffffffffffffffffff8000000000000000,
    0xffffffffffffffffffffffffffffffffffffffffffffff800000000000000000,
    0xffffffffffffffffffffffffffffffffffffffffffff80000000000000000000,
    0xffffffffffffffffffffffffffffffffffffffffff8000000000000000000000,
    0xffffffffffffffffffffffffffffffffffffffff800000000000000000000000,
    0xffffffffffffffffffffffffffffffffffffff80000000000000000000000000,
    0xffffffffffffffffffffffffffffffffffff8000000000000000000000000000,
    0xffffffffffffffffffffffffffffffffff800000000000000000000000000000,
    0xffffffffffffffffffffffffffffffff80000000000000000000000000000000,
    0xffffffffffffffffffffffffffffff8000000000000000000000000000000000,
    0xffffffffffffffffffffffffffff800000000000000000000000000000000000,
    0xffffffffffffffffffffffffff80000000000000000000000000000000000000,
    0xffffffffffffffffffffffff8000000000000000000000000000000000000000,
    0xffffffffffffffffffffff800000000000000000000000000000000000000000,
    0xffffffffffffffffffff80000000000000000000000000000000000000000000,
    0xffffffffffffffffff8000000000000000000000000000000000000000000000,
    0xffffffffffffffff800000000000000000000000000000000000000000000000,
    0xffffffffffffff80000000000000000000000000000000000000000000000000,
    0xffffffffffff8000000000000000000000000000000000000000000000000000,
    0xffffffffff800000000000000000000000000000000000000000000000000000,
    0xffffffff80000000000000000000000000000000000000000000000000000000,
    0xffffff8000000000000000000000000000000000000000000000000000000000,
    0xffff800000000000000000000000000000000000000000000000000000000000,
    0xff80000000000000000000000000000000000000000000000000000000000000,
)
SIGNEXTEND_LOW: Final[tuple[int, ...]] = (
    127,
    32767,
    0x7fffff,
    0x7fffffff,
    0x7fffffffff,
    0x7fffffffffff,
    0x7fffffffffffff,
    0x7fffffffffffffff,
    0x7fffffffffffffffff,
    0x7fffffffffffffffffff,
    0x7fffffffffffffffffffff,
    0x7fffffffffffffffffffffff,
    0x7fffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffff,
    0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff,
)
SIGNEXTEND_SIGN: Final[tuple[int, ...]] = (
    128,
    32768,
    0x800000,
    0x80000000,
    0x8000000000,
    0x800000000000,
    0x80000000000000,
    0x8000000000000000,
    0x800000000000000000,
    0x80000000000000000000,
    0x8000000000000000000000,
    0x800000000000000000000000,
    0x80000000000000000000000000,
    0x8000000000000000000000000000,
    0x800000000000000000000000000000,
    0x80000000000000000000000000000000,
    0x8000000000000000000000000000000000,
    0x800000000000000000000000000000000000,
    0x80000000000000000000000000000000000000,
    0x8000000000000000000000000000000000000000,
    0x800000000000000000000000000000000000000000,
    0x80000000000000000000000000000000000000000000,
    0x8000000000000000000000000000000000000000000000,
    0x800000000000000000000000000000000000000000000000,
    0x80000000000000000000000000000000000000000000000000,
    0x8000000000000000000000000000000000000000000000000000,
    0x800000000000000000000000000000000000000000000000000000,
    0x80000000000000000000000000000000000000000000000000000000,
    0x8000000000000000000000000000000000000000000000000000000000,
    0x800000000000000000000000000000000000000000000000000000000000,
    0x80000000000000000000000000000000000000000000000000000000000000,
)
TWO_256: Final = 0x10000000000000000000000000000000000000000000000000000000000000000


def op_add(f: Frame, s: list[Any], pc: int) -> int:
    unwrapped = s.pop() + s[-1]
    s[-1] = unwrapped if unwrapped <= M else unwrapped & M
    return pc + 1


def op_addmod(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s.pop()
    c = s[-1]
    s[-1] = (a + b) % c if c else 0
    return pc + 1


def op_address(f: Frame, s: list[int], pc: int) -> int:
    s.append(from_bytes(f.address))
    return pc + 1


def op_and(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = s.pop() & s[-1]
    return pc + 1


def op_basefee(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.evm.block.base_fee)
    return pc + 1


def op_blobbasefee(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.evm.blob_base_fee)
    return pc + 1


def op_byte(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    s[-1] = (s[-1] >> (248 - (a << 3))) & 0xFF if a < 32 else 0
    return pc + 1


def op_calldataload(f: Frame, s: list[int], pc: int) -> int:
    a = s[-1]
    s[-1] = from_bytes(padded_slice(f.calldata, a, 32)) if a < len(f.calldata) else 0
    return pc + 1


def op_calldatasize(f: Frame, s: list[int], pc: int) -> int:
    s.append(len(f.calldata))
    return pc + 1


def op_caller(f: Frame, s: list[int], pc: int) -> int:
    s.append(from_bytes(f.caller))
    return pc + 1


def op_callvalue(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.value)
    return pc + 1


def op_chainid(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.evm.block.chain_id)
    return pc + 1


def op_clz(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = 256 - s[-1].bit_length()
    return pc + 1


def op_codesize(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.analysis.size)
    return pc + 1


def op_coinbase(f: Frame, s: list[int], pc: int) -> int:
    s.append(from_bytes(f.evm.block.coinbase))
    return pc + 1


def op_difficulty(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.evm.block.difficulty)
    return pc + 1


def op_div(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    s[-1] = a // b if b else 0
    return pc + 1


def op_eq(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = 1 if s.pop() == s[-1] else 0
    return pc + 1


def op_exp(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    if b: charge(f, 10 * ((b.bit_length() + 7) >> 3))
    s[-1] = pow(a, b, TWO_256) if b < 0x100 else powmod(a, b, TWO_256)
    return pc + 1


def op_exp_2(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    if b: charge(f, 50 * ((b.bit_length() + 7) >> 3))
    s[-1] = pow(a, b, TWO_256) if b < 0x100 else powmod(a, b, TWO_256)
    return pc + 1


def op_gaslimit(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.evm.block.gas_limit)
    return pc + 1


def op_gasprice(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.evm.gas_price)
    return pc + 1


def op_gt(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = 1 if s.pop() > s[-1] else 0
    return pc + 1


def op_iszero(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = 0 if s[-1] else 1
    return pc + 1


def op_jumpdest(f: Frame, s: list[int], pc: int) -> int:
    return pc + 1


def op_lt(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = 1 if s.pop() < s[-1] else 0
    return pc + 1


def op_mload(f: Frame, s: list[int], pc: int) -> int:
    a = s[-1]
    mem = f.memory
    if a + 32 > len(mem): word = load_past_end(f, a)
    else: word = from_bytes(load_word(mem, a)[0])
    s[-1] = word
    return pc + 1


def op_mod(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    s[-1] = a % b if b else 0
    return pc + 1


def op_msize(f: Frame, s: list[int], pc: int) -> int:
    mem = f.memory
    s.append(len(mem) + f.memory_tail)
    return pc + 1


def op_mstore(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s.pop()
    mem = f.memory
    if a + 32 > len(mem): grow_for_word(f, a, to_bytes(b, 32))
    else: store_word(mem, a, to_bytes(b, 32))
    return pc + 1


def op_mstore8(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s.pop()
    mem = f.memory
    if a >= len(mem): expand_memory(f, a, 1)
    mem[a] = b & 0xFF
    return pc + 1


def op_mul(f: Frame, s: list[Any], pc: int) -> int:
    unwrapped = s.pop() * s[-1]
    s[-1] = unwrapped if unwrapped <= M else unwrapped & M
    return pc + 1


def op_mulmod(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s.pop()
    c = s[-1]
    s[-1] = (a * b) % c if c else 0
    return pc + 1


def op_not(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = M ^ s[-1]
    return pc + 1


def op_number(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.evm.block.number)
    return pc + 1


def op_or(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = s.pop() | s[-1]
    return pc + 1


def op_origin(f: Frame, s: list[int], pc: int) -> int:
    s.append(from_bytes(f.evm.origin))
    return pc + 1


def op_pc(f: Frame, s: list[int], pc: int) -> int:
    s.append(pc)
    return pc + 1


def op_pop(f: Frame, s: list[Any], pc: int) -> int:
    s.pop()
    return pc + 1


def op_prevrandao(f: Frame, s: list[int], pc: int) -> int:
    s.append(from_bytes(f.evm.block.prev_randao))
    return pc + 1


def op_push0(f: Frame, s: list[int], pc: int) -> int:
    s.append(0)
    return pc + 1


def op_returndatasize(f: Frame, s: list[int], pc: int) -> int:
    s.append(len(f.return_data))
    return pc + 1


def op_sar(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    s[-1] = (b >> a if a < 256 else 0) if b < SIGN else ((b - TWO_256) >> a) & M if a < 256 else M
    return pc + 1


def op_sdiv(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    q = (a if a < SIGN else TWO_256 - a) // (b if b < SIGN else TWO_256 - b) if b else 0
    s[-1] = -q & M if (a ^ b) & SIGN else q
    return pc + 1


def op_sgt(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = 1 if (s.pop() ^ SIGN) > (s[-1] ^ SIGN) else 0
    return pc + 1


def op_shl(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    s[-1] = (s[-1] << a) & M if a < 256 else 0
    return pc + 1


def op_shr(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    s[-1] = s[-1] >> a if a < 256 else 0
    return pc + 1


def op_signextend(f: Frame, s: list[int], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    s[-1] = b if a > 30 else b | SIGNEXTEND_HIGH[a] if b & SIGNEXTEND_SIGN[a] else b & SIGNEXTEND_LOW[a]
    return pc + 1


def op_sload(f: Frame, s: list[int], pc: int) -> int:
    s[-1] = f.state.get_storage(f.address, s[-1])
    return pc + 1


def op_sload_eip2929(f: Frame, s: list[int], pc: int) -> int:
    a = s[-1]
    if f.state.access_slot(f.address, a): charge(f, 2000)
    s[-1] = f.state.get_storage(f.address, a)
    return pc + 1


def op_slt(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = 1 if (s.pop() ^ SIGN) < (s[-1] ^ SIGN) else 0
    return pc + 1


def op_smod(f: Frame, s: list[Any], pc: int) -> int:
    a = s.pop()
    b = s[-1]
    r = (a if a < SIGN else TWO_256 - a) % (b if b < SIGN else TWO_256 - b) if b else 0
    s[-1] = -r & M if a & SIGN else r
    return pc + 1


def op_stop(f: Frame, s: list[int], pc: int) -> int:
    raise Stop
    return pc + 1


def op_sub(f: Frame, s: list[Any], pc: int) -> int:
    unwrapped = s.pop() - s[-1]
    s[-1] = unwrapped if unwrapped >= 0 else unwrapped + TWO_256
    return pc + 1


def op_timestamp(f: Frame, s: list[int], pc: int) -> int:
    s.append(f.evm.block.timestamp)
    return pc + 1


def op_xor(f: Frame, s: list[Any], pc: int) -> int:
    s[-1] = s.pop() ^ s[-1]
    return pc + 1


BODIES: Final[dict[str, Callable[[Frame, list[int], int], int]]] = {
    'op_add\x002\x00True\x00(a + b) & M': op_add,
    'op_addmod\x003\x00True\x00(a + b) % c if c else 0': op_addmod,
    'op_address\x000\x00True\x00from_bytes(f.address)': op_address,
    'op_and\x002\x00True\x00a & b': op_and,
    'op_basefee\x000\x00True\x00f.evm.block.base_fee': op_basefee,
    'op_blobbasefee\x000\x00True\x00f.evm.blob_base_fee': op_blobbasefee,
    'op_byte\x002\x00True\x00(b >> (248 - (a << 3))) & 0xFF if a < 32 else 0': op_byte,
    'op_calldataload\x001\x00True\x00from_bytes(padded_slice(f.calldata, a, 32)) if a < len(f.calldata) else 0': op_calldataload,
    'op_calldatasize\x000\x00True\x00len(f.calldata)': op_calldatasize,
    'op_caller\x000\x00True\x00from_bytes(f.caller)': op_caller,
    'op_callvalue\x000\x00True\x00f.value': op_callvalue,
    'op_chainid\x000\x00True\x00f.evm.block.chain_id': op_chainid,
    'op_clz\x001\x00True\x00256 - a.bit_length()': op_clz,
    'op_codesize\x000\x00True\x00f.analysis.size': op_codesize,
    'op_coinbase\x000\x00True\x00from_bytes(f.evm.block.coinbase)': op_coinbase,
    'op_difficulty\x000\x00True\x00f.evm.block.difficulty': op_difficulty,
    'op_div\x002\x00True\x00a // b if b else 0': op_div,
    'op_eq\x002\x00True\x001 if a == b else 0': op_eq,
    'op_exp\x002\x00True\x00\n        if b: charge(f, 10 * ((b.bit_length() + 7) >> 3))\n        pow(a, b, TWO_256) if b < 0x100 else powmod(a, b, TWO_256)\n    ': op_exp,
    'op_exp\x002\x00True\x00\n        if b: charge(f, 50 * ((b.bit_length() + 7) >> 3))\n        pow(a, b, TWO_256) if b < 0x100 else powmod(a, b, TWO_256)\n    ': op_exp_2,
    'op_gaslimit\x000\x00True\x00f.evm.block.gas_limit': op_gaslimit,
    'op_gasprice\x000\x00True\x00f.evm.gas_price': op_gasprice,
    'op_gt\x002\x00True\x001 if a > b else 0': op_gt,
    'op_iszero\x001\x00True\x000 if a else 1': op_iszero,
    'op_jumpdest\x000\x00False\x00': op_jumpdest,
    'op_lt\x002\x00True\x001 if a < b else 0': op_lt,
    'op_mload\x001\x00True\x00\n    if a + 32 > len(mem): word = load_past_end(f, a)\n    else: word = from_bytes(load_word(mem, a)[0])\n    word\n': op_mload,
    'op_mod\x002\x00True\x00a % b if b else 0': op_mod,
    'op_msize\x000\x00True\x00len(mem) + f.memory_tail': op_msize,
    'op_mstore\x002\x00False\x00\n    if a + 32 > len(mem): grow_for_word(f, a, to_bytes(b, 32))\n    else: store_word(mem, a, to_bytes(b, 32))\n': op_mstore,
    'op_mstore8\x002\x00False\x00\n    if a >= len(mem): expand_memory(f, a, 1)\n    mem[a] = b & 0xFF\n': op_mstore8,
    'op_mul\x002\x00True\x00(a * b) & M': op_mul,
    'op_mulmod\x003\x00True\x00(a * b) % c if c else 0': op_mulmod,
    'op_not\x001\x00True\x00M ^ a': op_not,
    'op_number\x000\x00True\x00f.evm.block.number': op_number,
    'op_or\x002\x00True\x00a | b': op_or,
    'op_origin\x000\x00True\x00from_bytes(f.evm.origin)': op_origin,
    'op_pc\x000\x00True\x00pc': op_pc,
    'op_pop\x001\x00False\x00': op_pop,
    'op_prevrandao\x000\x00True\x00from_bytes(f.evm.block.prev_randao)': op_prevrandao,
    'op_push0\x000\x00True\x000': op_push0,
    'op_returndatasize\x000\x00True\x00len(f.return_data)': op_returndatasize,
    'op_sar\x002\x00True\x00(b >> a if a < 256 else 0) if b < SIGN else ((b - TWO_256) >> a) & M if a < 256 else M': op_sar,
    'op_sdiv\x002\x00True\x00\n    q = (a if a < SIGN else TWO_256 - a) // (b if b < SIGN else TWO_256 - b) if b else 0\n    -q & M if (a ^ b) & SIGN else q\n': op_sdiv,
    'op_sgt\x002\x00True\x001 if (a ^ SIGN) > (b ^ SIGN) else 0': op_sgt,
    'op_shl\x002\x00True\x00(b << a) & M if a < 256 else 0': op_shl,
    'op_shr\x002\x00True\x00b >> a if a < 256 else 0': op_shr,
    'op_signextend\x002\x00True\x00\n    b if a > 30 else b | SIGNEXTEND_HIGH[a] if b & SIGNEXTEND_SIGN[a] else b & SIGNEXTEND_LOW[a]\n': op_signextend,
    'op_sload\x001\x00True\x00f.state.get_storage(f.address, a)': op_sload,
    'op_sload_eip2929\x001\x00True\x00\n    if f.state.access_slot(f.address, a): charge(f, 2000)\n    f.state.get_storage(f.address, a)\n': op_sload_eip2929,
    'op_slt\x002\x00True\x001 if (a ^ SIGN) < (b ^ SIGN) else 0': op_slt,
    'op_smod\x002\x00True\x00\n    r = (a if a < SIGN else TWO_256 - a) % (b if b < SIGN else TWO_256 - b) if b else 0\n    -r & M if a & SIGN else r\n': op_smod,
    'op_stop\x000\x00False\x00raise Stop': op_stop,
    'op_sub\x002\x00True\x00(a - b) & M': op_sub,
    'op_timestamp\x000\x00True\x00f.evm.block.timestamp': op_timestamp,
    'op_xor\x002\x00True\x00a ^ b': op_xor,
}
