"""Direct calls of the opcode bodies, for the native build. Generated; do not edit.

Written by `python -m chainvm.evm.generate_bodies` from the forks' opcode tables (see that
module for why): `call_body(k, f, s, pc)` runs entry k of ENTRIES, a body and the stack height
above which it overflows (0: it cannot), as the fork table's function for it would.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Final

from chainvm.evm.errors import StackOverflow
from chainvm.evm.instructions.environment import (
    op_balance,
    op_balance_eip2929,
    op_blobhash,
    op_blockhash,
    op_calldatacopy,
    op_codecopy,
    op_extcodecopy,
    op_extcodecopy_eip2929,
    op_extcodehash,
    op_extcodehash_eip2929,
    op_extcodesize,
    op_extcodesize_eip2929,
    op_keccak256,
    op_returndatacopy,
    op_selfbalance,
)
from chainvm.evm.instructions.generated import (
    op_add,
    op_addmod,
    op_address,
    op_and,
    op_basefee,
    op_blobbasefee,
    op_byte,
    op_calldataload,
    op_calldatasize,
    op_caller,
    op_callvalue,
    op_chainid,
    op_clz,
    op_codesize,
    op_coinbase,
    op_difficulty,
    op_div,
    op_eq,
    op_exp,
    op_exp_2,
    op_gaslimit,
    op_gasprice,
    op_gt,
    op_iszero,
    op_jumpdest,
    op_lt,
    op_mload,
    op_mod,
    op_msize,
    op_mstore,
    op_mstore8,
    op_mul,
    op_mulmod,
    op_not,
    op_number,
    op_or,
    op_origin,
    op_pc,
    op_pop,
    op_prevrandao,
    op_push0,
    op_returndatasize,
    op_sar,
    op_sdiv,
    op_sgt,
    op_shl,
    op_shr,
    op_signextend,
    op_sload,
    op_sload_eip2929,
    op_slt,
    op_smod,
    op_stop,
    op_sub,
    op_timestamp,
    op_xor,
)
from chainvm.evm.instructions.stack_memory import (
    op_gas,
    op_jump,
    op_jump_counting,
    op_jumpi,
    op_jumpi_counting,
    op_mcopy,
    op_return,
    op_return_exit,
    op_revert,
    op_revert_exit,
    op_sstore_eip1283,
    op_sstore_eip2200,
    op_sstore_eip2929,
    op_sstore_eip3529,
    op_sstore_frontier,
    op_stop_exit,
    op_tload,
    op_tstore,
)
from chainvm.evm.instructions.system import (
    op_call,
    op_call_exit,
    op_callcode,
    op_callcode_exit,
    op_create,
    op_create2,
    op_create2_exit,
    op_create_exit,
    op_delegatecall,
    op_delegatecall_exit,
    op_selfdestruct,
    op_staticcall,
    op_staticcall_exit,
)

if TYPE_CHECKING:
    from chainvm.evm.frame import Frame


def call_body(k: int, f: Frame, s: list[int], pc: int) -> int:
    if k < 52:
        if k < 26:
            if k < 13:
                if k < 7:
                    if k < 4:
                        if k < 2:
                            return op_balance(f, s, pc)
                        if k < 3:
                            return op_balance_eip2929(f, s, pc)
                        return op_blobhash(f, s, pc)
                    if k < 5:
                        return op_blockhash(f, s, pc)
                    if k < 6:
                        return op_calldatacopy(f, s, pc)
                    return op_codecopy(f, s, pc)
                if k < 10:
                    if k < 8:
                        return op_extcodecopy(f, s, pc)
                    if k < 9:
                        return op_extcodecopy_eip2929(f, s, pc)
                    return op_extcodehash(f, s, pc)
                if k < 11:
                    return op_extcodehash_eip2929(f, s, pc)
                if k < 12:
                    return op_extcodesize(f, s, pc)
                return op_extcodesize_eip2929(f, s, pc)
            if k < 19:
                if k < 16:
                    if k < 14:
                        return op_keccak256(f, s, pc)
                    if k < 15:
                        return op_returndatacopy(f, s, pc)
                    if len(s) > 1023:
                        raise StackOverflow
                    return op_selfbalance(f, s, pc)
                if k < 17:
                    return op_add(f, s, pc)
                if k < 18:
                    return op_addmod(f, s, pc)
                if len(s) > 1023:
                    raise StackOverflow
                return op_address(f, s, pc)
            if k < 22:
                if k < 20:
                    return op_and(f, s, pc)
                if k < 21:
                    if len(s) > 1023:
                        raise StackOverflow
                    return op_basefee(f, s, pc)
                if len(s) > 1023:
                    raise StackOverflow
                return op_blobbasefee(f, s, pc)
            if k < 24:
                if k < 23:
                    return op_byte(f, s, pc)
                return op_calldataload(f, s, pc)
            if k < 25:
                if len(s) > 1023:
                    raise StackOverflow
                return op_calldatasize(f, s, pc)
            if len(s) > 1023:
                raise StackOverflow
            return op_caller(f, s, pc)
        if k < 39:
            if k < 32:
                if k < 29:
                    if k < 27:
                        if len(s) > 1023:
                            raise StackOverflow
                        return op_callvalue(f, s, pc)
                    if k < 28:
                        if len(s) > 1023:
                            raise StackOverflow
                        return op_chainid(f, s, pc)
                    return op_clz(f, s, pc)
                if k < 30:
                    if len(s) > 1023:
                        raise StackOverflow
                    return op_codesize(f, s, pc)
                if k < 31:
                    if len(s) > 1023:
                        raise StackOverflow
                    return op_coinbase(f, s, pc)
                if len(s) > 1023:
                    raise StackOverflow
                return op_difficulty(f, s, pc)
            if k < 35:
                if k < 33:
                    return op_div(f, s, pc)
                if k < 34:
                    return op_eq(f, s, pc)
                return op_exp(f, s, pc)
            if k < 37:
                if k < 36:
                    return op_exp_2(f, s, pc)
                if len(s) > 1023:
                    raise StackOverflow
                return op_gaslimit(f, s, pc)
            if k < 38:
                if len(s) > 1023:
                    raise StackOverflow
                return op_gasprice(f, s, pc)
            return op_gt(f, s, pc)
        if k < 45:
            if k < 42:
                if k < 40:
                    return op_iszero(f, s, pc)
                if k < 41:
                    return op_jumpdest(f, s, pc)
                return op_lt(f, s, pc)
            if k < 43:
                return op_mload(f, s, pc)
            if k < 44:
                return op_mod(f, s, pc)
            if len(s) > 1023:
                raise StackOverflow
            return op_msize(f, s, pc)
        if k < 48:
            if k < 46:
                return op_mstore(f, s, pc)
            if k < 47:
                return op_mstore8(f, s, pc)
            return op_mul(f, s, pc)
        if k < 50:
            if k < 49:
                return op_mulmod(f, s, pc)
            return op_not(f, s, pc)
        if k < 51:
            if len(s) > 1023:
                raise StackOverflow
            return op_number(f, s, pc)
        return op_or(f, s, pc)
    if k < 77:
        if k < 64:
            if k < 58:
                if k < 55:
                    if k < 53:
                        if len(s) > 1023:
                            raise StackOverflow
                        return op_origin(f, s, pc)
                    if k < 54:
                        if len(s) > 1023:
                            raise StackOverflow
                        return op_pc(f, s, pc)
                    return op_pop(f, s, pc)
                if k < 56:
                    if len(s) > 1023:
                        raise StackOverflow
                    return op_prevrandao(f, s, pc)
                if k < 57:
                    if len(s) > 1023:
                        raise StackOverflow
                    return op_push0(f, s, pc)
                if len(s) > 1023:
                    raise StackOverflow
                return op_returndatasize(f, s, pc)
            if k < 61:
                if k < 59:
                    return op_sar(f, s, pc)
                if k < 60:
                    return op_sdiv(f, s, pc)
                return op_sgt(f, s, pc)
            if k < 62:
                return op_shl(f, s, pc)
            if k < 63:
                return op_shr(f, s, pc)
            return op_signextend(f, s, pc)
        if k < 70:
            if k < 67:
                if k < 65:
                    return op_sload(f, s, pc)
                if k < 66:
                    return op_sload_eip2929(f, s, pc)
                return op_slt(f, s, pc)
            if k < 68:
                return op_smod(f, s, pc)
            if k < 69:
                return op_stop(f, s, pc)
            return op_sub(f, s, pc)
        if k < 73:
            if k < 71:
                if len(s) > 1023:
                    raise StackOverflow
                return op_timestamp(f, s, pc)
            if k < 72:
                return op_xor(f, s, pc)
            if len(s) > 1023:
                raise StackOverflow
            return op_gas(f, s, pc)
        if k < 75:
            if k < 74:
                return op_jump(f, s, pc)
            return op_jump_counting(f, s, pc)
        if k < 76:
            return op_jumpi(f, s, pc)
        return op_jumpi_counting(f, s, pc)
    if k < 90:
        if k < 83:
            if k < 80:
                if k < 78:
                    return op_mcopy(f, s, pc)
                if k < 79:
                    return op_return(f, s, pc)
                return op_return_exit(f, s, pc)
            if k < 81:
                return op_revert(f, s, pc)
            if k < 82:
                return op_revert_exit(f, s, pc)
            return op_sstore_eip1283(f, s, pc)
        if k < 86:
            if k < 84:
                return op_sstore_eip2200(f, s, pc)
            if k < 85:
                return op_sstore_eip2929(f, s, pc)
            return op_sstore_eip3529(f, s, pc)
        if k < 88:
            if k < 87:
                return op_sstore_frontier(f, s, pc)
            return op_stop_exit(f, s, pc)
        if k < 89:
            return op_tload(f, s, pc)
        return op_tstore(f, s, pc)
    if k < 96:
        if k < 93:
            if k < 91:
                return op_call(f, s, pc)
            if k < 92:
                return op_call_exit(f, s, pc)
            return op_callcode(f, s, pc)
        if k < 94:
            return op_callcode_exit(f, s, pc)
        if k < 95:
            return op_create(f, s, pc)
        return op_create2(f, s, pc)
    if k < 99:
        if k < 97:
            return op_create2_exit(f, s, pc)
        if k < 98:
            return op_create_exit(f, s, pc)
        return op_delegatecall(f, s, pc)
    if k < 101:
        if k < 100:
            return op_delegatecall_exit(f, s, pc)
        return op_selfdestruct(f, s, pc)
    if k < 102:
        return op_staticcall(f, s, pc)
    return op_staticcall_exit(f, s, pc)


ENTRIES: Final[tuple[tuple[Callable[[Frame, list[int], int], int], int], ...]] = (
    (op_balance, 0),
    (op_balance_eip2929, 0),
    (op_blobhash, 0),
    (op_blockhash, 0),
    (op_calldatacopy, 0),
    (op_codecopy, 0),
    (op_extcodecopy, 0),
    (op_extcodecopy_eip2929, 0),
    (op_extcodehash, 0),
    (op_extcodehash_eip2929, 0),
    (op_extcodesize, 0),
    (op_extcodesize_eip2929, 0),
    (op_keccak256, 0),
    (op_returndatacopy, 0),
    (op_selfbalance, 1023),
    (op_add, 0),
    (op_addmod, 0),
    (op_address, 1023),
    (op_and, 0),
    (op_basefee, 1023),
    (op_blobbasefee, 1023),
    (op_byte, 0),
    (op_calldataload, 0),
    (op_calldatasize, 1023),
    (op_caller, 1023),
    (op_callvalue, 1023),
    (op_chainid, 1023),
    (op_clz, 0),
    (op_codesize, 1023),
    (op_coinbase, 1023),
    (op_difficulty, 1023),
    (op_div, 0),
    (op_eq, 0),
    (op_exp, 0),
    (op_exp_2, 0),
    (op_gaslimit, 1023),
    (op_gasprice, 1023),
    (op_gt, 0),
    (op_iszero, 0),
    (op_jumpdest, 0),
    (op_lt, 0),
    (op_mload, 0),
    (op_mod, 0),
    (op_msize, 1023),
    (op_mstore, 0),
    (op_mstore8, 0),
    (op_mul, 0),
    (op_mulmod, 0),
    (op_not, 0),
    (op_number, 1023),
    (op_or, 0),
    (op_origin, 1023),
    (op_pc, 1023),
    (op_pop, 0),
    (op_prevrandao, 1023),
    (op_push0, 1023),
    (op_returndatasize, 1023),
    (op_sar, 0),
    (op_sdiv, 0),
    (op_sgt, 0),
    (op_shl, 0),
    (op_shr, 0),
    (op_signextend, 0),
    (op_sload, 0),
    (op_sload_eip2929, 0),
    (op_slt, 0),
    (op_smod, 0),
    (op_stop, 0),
    (op_sub, 0),
    (op_timestamp, 1023),
    (op_xor, 0),
    (op_gas, 1023),
    (op_jump, 0),
    (op_jump_counting, 0),
    (op_jumpi, 0),
    (op_jumpi_counting, 0),
    (op_mcopy, 0),
    (op_return, 0),
    (op_return_exit, 0),
    (op_revert, 0),
    (op_revert_exit, 0),
    (op_sstore_eip1283, 0),
    (op_sstore_eip2200, 0),
    (op_sstore_eip2929, 0),
    (op_sstore_eip3529, 0),
    (op_sstore_frontier, 0),
    (op_stop_exit, 0),
    (op_tload, 0),
    (op_tstore, 0),
    (op_call, 0),
    (op_call_exit, 0),
    (op_callcode, 0),
    (op_callcode_exit, 0),
    (op_create, 0),
    (op_create2, 0),
    (op_create2_exit, 0),
    (op_create_exit, 0),
    (op_delegatecall, 0),
    (op_delegatecall_exit, 0),
    (op_selfdestruct, 0),
    (op_staticcall, 0),
    (op_staticcall_exit, 0),
)

# Compiled by mypyc, call_body is not a Python function: only then do the tables number
# their bodies for it (interpreted, a call through the table is cheaper).
NATIVE: Final = not isinstance(call_body, FunctionType)


def numbering() -> dict[tuple[Callable[[Frame, list[int], int], int], int], int]:
    """(body, stack ceiling) -> its k for call_body."""
    return {entry: k for k, entry in enumerate(ENTRIES, 1)}
