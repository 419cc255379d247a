"""Forks as data: each fork's opcode table is its parent's plus patches named by EIP.

A table maps an opcode to an `OpSpec` (chainvm/evm/opspec.py: name, immediate
size, stack items, static gas, block traits, body or template). A fork's table is
read-only once built; the executors index its `opcodes` (an OpcodeTables: tuples
of bodies, static gas and legal stack heights by opcode byte).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any

from chainvm.evm.gas import (
    G_BALANCE_EIP150,
    G_BALANCE_EIP1884,
    G_BALANCE_FRONTIER,
    G_BASE,
    G_BLOBHASH,
    G_BLOCKHASH,
    G_CALL_EIP150,
    G_CALL_FRONTIER,
    G_CREATE,
    G_EXP,
    G_EXTCODE_EIP150,
    G_EXTCODE_FRONTIER,
    G_EXTCODEHASH,
    G_EXTCODEHASH_EIP1884,
    G_HIGH,
    G_JUMPDEST,
    G_KECCAK256,
    G_LOG,
    G_LOGTOPIC,
    G_LOW,
    G_MID,
    G_SELFBALANCE,
    G_SELFDESTRUCT_EIP150,
    G_SLOAD_EIP150,
    G_SLOAD_EIP1884,
    G_SLOAD_FRONTIER,
    G_VERYLOW,
    G_WARM_ACCESS,
    G_ZERO,
)
from chainvm.evm.instructions import arithmetic as A
from chainvm.evm.instructions import environment as E
from chainvm.evm.instructions import stack_memory as S
from chainvm.evm.instructions import system as Y
from chainvm.evm.instructions.common import UINT256_MASK  # noqa: F401  (re-export for users)
from chainvm.evm.opspec import Body, Inline, OpcodeTables, OpSpec, spec

# Fork ordinals, in mainnet order.
FRONTIER = 0
HOMESTEAD = 1
TANGERINE_WHISTLE = 2
SPURIOUS_DRAGON = 3
BYZANTIUM = 4
CONSTANTINOPLE = 5
PETERSBURG = 6
ISTANBUL = 7
BERLIN = 8
LONDON = 9
PARIS = 10
SHANGHAI = 11
CANCUN = 12
PRAGUE = 13
OSAKA = 14
BPO1 = 15
BPO2 = 16

# EIP-4844 blob parameters by fork: (target blobs per block, max per block, base fee update
# fraction), as raised by EIP-7691 (Prague) and the blob-parameter-only forks after Osaka.
BLOB_SCHEDULE = {
    "Cancun": (3, 6, 3338477),
    "Prague": (6, 9, 5007716),
    "Osaka": (6, 9, 5007716),
    "BPO1": (10, 15, 8346193),
    "BPO2": (14, 21, 11684671),
}
MAX_BLOBS_PER_TX_EIP7594 = 6


@dataclass(frozen=True)
class Rules:
    """The behaviours outside the opcode table that a fork has switched on, one flag per EIP.

    Code anywhere in chainvm asks a fork for a named rule (`fork.rules.eip1559`) instead of
    comparing fork ordinals, so one fork's delta is the list of EIPs in `FORK_EIPS` below.
    """

    eip2: bool = False  # Homestead: signatures with low s, creation transactions cost 53000,
    #                     a creation that cannot pay its code deposit fails
    eip150: bool = False  # Tangerine Whistle: calls get at most 63/64 of the gas left
    eip155: bool = False  # Spurious Dragon: replay-protected signatures
    eip161: bool = False  # Spurious Dragon: empty accounts are removed, new contracts start at nonce 1
    eip170: bool = False  # Spurious Dragon: contract code size limit
    eip100: bool = False  # Byzantium: difficulty counts uncles
    eip196: bool = False  # Byzantium: BN254 addition and scalar multiplication precompiles
    eip197: bool = False  # Byzantium: BN254 pairing check precompile
    eip198: bool = False  # Byzantium: MODEXP precompile
    eip649: bool = False  # Byzantium: block reward 3 ether, difficulty bomb delay
    eip658: bool = False  # Byzantium: receipts carry a status code
    eip1234: bool = False  # Constantinople: block reward 2 ether, difficulty bomb delay
    eip152: bool = False  # Istanbul: BLAKE2 F precompile
    eip1108: bool = False  # Istanbul: cheaper BN254 precompiles
    eip2028: bool = False  # Istanbul: 16 gas per non-zero calldata byte
    eip2384: bool = False  # Muir Glacier (folded into Berlin here): difficulty bomb delay
    eip2565: bool = False  # Berlin: MODEXP repricing
    eip2929: bool = False  # Berlin: cold and warm accounts and slots
    eip2930: bool = False  # Berlin: access-list transactions (type 1)
    eip1559: bool = False  # London: base fee, type-2 transactions
    eip3529: bool = False  # London: smaller refunds
    eip3554: bool = False  # London: difficulty bomb delay
    eip3541: bool = False  # London: no new code starting with 0xEF
    eip3675: bool = False  # Paris: proof of stake (no difficulty, uncles or block reward)
    eip3651: bool = False  # Shanghai: the coinbase starts warm
    eip3860: bool = False  # Shanghai: init-code size limit and word gas
    eip4895: bool = False  # Shanghai: withdrawals
    eip4788: bool = False  # Cancun: beacon block root system call
    eip4844: bool = False  # Cancun: blob transactions (type 3), point evaluation precompile
    eip6780: bool = False  # Cancun: SELFDESTRUCT only deletes contracts created in the same tx
    eip2537: bool = False  # Prague: BLS12-381 precompiles
    eip2935: bool = False  # Prague: block hashes in a system contract
    eip7623: bool = False  # Prague: calldata floor cost
    eip7685: bool = False  # Prague: execution requests (EIP-6110, EIP-7002, EIP-7251)
    eip7702: bool = False  # Prague: set-code transactions (type 4), delegations
    eip7594: bool = False  # Osaka: at most 6 blobs per transaction, cell-proof wrappers
    eip7823: bool = False  # Osaka: MODEXP input bounds and repricing (EIP-7883)
    eip7825: bool = False  # Osaka: transaction gas limit cap
    eip7918: bool = False  # Osaka: blob base fee bounded by execution cost
    eip7934: bool = False  # Osaka: RLP block size limit
    eip7951: bool = False  # Osaka: secp256r1 signature verification precompile

    @property
    def refund_quotient(self) -> int:
        """Refunds are capped at gas used divided by this (EIP-3529)."""
        return 5 if self.eip3529 else 2

    @property
    def block_reward(self) -> int:
        """The miner's reward per block in wei (zero under proof of stake)."""
        if self.eip3675:
            return 0
        if self.eip1234:
            return 2 * 10**18
        if self.eip649:
            return 3 * 10**18
        return 5 * 10**18

    @cached_property
    def tx_types(self) -> frozenset[int]:
        """The EIP-2718 transaction types a block of this fork may hold (made once per
        rules: every transaction's checks ask)."""
        types = {0}
        for flag, tx_type in ((self.eip2930, 1), (self.eip1559, 2), (self.eip4844, 3),
                              (self.eip7702, 4)):
            if flag:
                types.add(tx_type)
        return frozenset(types)


# The EIPs each fork switches on (its opcode changes are in PATCHES); a fork has its parent's
# rules plus these.
FORK_EIPS: dict[str, tuple[str, ...]] = {
    "Frontier": (),
    "Homestead": ("eip2",),
    "EIP150": ("eip150",),
    "EIP158": ("eip155", "eip161", "eip170"),
    "Byzantium": ("eip100", "eip196", "eip197", "eip198", "eip649", "eip658"),
    "Constantinople": ("eip1234",),
    "ConstantinopleFix": (),
    "Istanbul": ("eip152", "eip1108", "eip2028"),
    "Berlin": ("eip2384", "eip2565", "eip2929", "eip2930"),
    "London": ("eip1559", "eip3529", "eip3541", "eip3554"),
    "Paris": ("eip3675",),
    "Shanghai": ("eip3651", "eip3860", "eip4895"),
    "Cancun": ("eip4788", "eip4844", "eip6780"),
    "Prague": ("eip2537", "eip2935", "eip7623", "eip7685", "eip7702"),
    "Osaka": ("eip7594", "eip7823", "eip7825", "eip7918", "eip7934", "eip7951"),
    "BPO1": (),
    "BPO2": (),
}
RULE_NAMES = frozenset(f.name for f in fields(Rules))


Table = dict[int, OpSpec]


@dataclass(frozen=True)
class Patch:
    """One EIP's change to the opcode table."""

    eip: str
    apply: Callable[[Table], None]
    opcodes: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True, eq=False)
class Fork:
    """One fork, immutable once built: its opcode table, rules, precompiles and blob
    schedule. Forks compare by identity (each is built once)."""

    name: str
    ordinal: int
    table: Mapping[int, OpSpec]  # read-only once built
    patches: tuple[Patch, ...]
    parent: Fork | None
    rules: Rules = field(default_factory=Rules)
    # (target, max, base fee update fraction) instead of the schedule the fork inherits
    # (t8n's --input.blobParams).
    blob_schedule: tuple[int, int, int] | None = None
    # A dev node's anvil_impersonateSignature: 65-byte signatures (r, s, v) and the address
    # each recovers to, in ECRECOVER and in EIP-7702 authorizations (with_signature_overrides).
    signature_overrides: Mapping[bytes, bytes] | None = None
    # Derived in __post_init__ (the opcode tables and precompiles below on first use):
    blob_target: int = field(init=False, default=0)
    blob_max: int = field(init=False, default=0)
    blob_base_fee_update_fraction: int = field(init=False, default=1)
    max_blobs_per_tx: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        derived: dict[str, Any] = {"table": MappingProxyType(dict(self.table))}
        schedule = self.blob_schedule
        fork: Fork | None = self
        while fork is not None and schedule is None:  # inherit the latest schedule
            schedule = BLOB_SCHEDULE.get(fork.name)
            fork = fork.parent
        if schedule is not None:
            target, maximum, fraction = schedule
            derived.update(blob_target=target, blob_max=maximum,
                           blob_base_fee_update_fraction=fraction,
                           max_blobs_per_tx=min(maximum, MAX_BLOBS_PER_TX_EIP7594)
                           if self.rules.eip7594 else maximum)
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    # A process that runs one fork builds one fork's tables: each of the forks is built
    # at import, their executor tables and precompile sets only when first used.
    # (cached_property stores into the instance's __dict__, past the frozen __setattr__.)
    @cached_property
    def opcodes(self) -> OpcodeTables:
        """The table as tuples indexed by opcode byte (what the executors index)."""
        return OpcodeTables(self.name, self.table)

    @cached_property
    def precompiles(self) -> Mapping[bytes, Any]:
        from chainvm.evm.precompiles import precompiles_for

        return MappingProxyType(precompiles_for(self.rules, self.signature_overrides))

    def with_blob_schedule(self, target: int, maximum: int, fraction: int) -> Fork:
        """This fork with another blob schedule (opcodes and rules unchanged)."""
        return replace(self, blob_schedule=(target, maximum, fraction))

    def with_signature_overrides(self, overrides: Mapping[bytes, bytes]) -> Fork:
        """This fork where the signatures in `overrides` recover to their addresses (a live
        mapping: later entries count too), for a dev node's anvil_impersonateSignature.
        Its opcode tables are this fork's own, so code compiled for one serves both."""
        variant = replace(self, signature_overrides=overrides)
        variant.__dict__["opcodes"] = self.opcodes  # the cached_property's slot
        return variant

    def __repr__(self) -> str:
        return f"Fork({self.name})"


# Traits (see OpSpec): where straight-line code ends, and what reads the gas left.
_ENDS = {"ends_block": True}
_READS_GAS = {"reads_gas": True}
_CHILD_FRAME = {"ends_block": True, "reads_gas": True}  # the CALL and CREATE families


def _frontier_table() -> Table:
    """The Yellow Paper's Frontier instruction set (appendix H) and fee schedule (G)."""
    t: Table = {}

    def op(code: int, name: str, semantics: Body | Inline, gas: int, pops: int, pushes: int,
           **traits: object) -> None:
        t[code] = spec(name, semantics, gas, pops, pushes, **traits)

    op(0x00, "STOP", S.STOP, G_ZERO, 0, 0, exit_body=S.op_stop_exit, **_ENDS)
    op(0x01, "ADD", A.ADD, G_VERYLOW, 2, 1)
    op(0x02, "MUL", A.MUL, G_LOW, 2, 1)
    op(0x03, "SUB", A.SUB, G_VERYLOW, 2, 1)
    op(0x04, "DIV", A.DIV, G_LOW, 2, 1)
    op(0x05, "SDIV", A.SDIV, G_LOW, 2, 1)
    op(0x06, "MOD", A.MOD, G_LOW, 2, 1)
    op(0x07, "SMOD", A.SMOD, G_LOW, 2, 1)
    op(0x08, "ADDMOD", A.ADDMOD, G_MID, 3, 1)
    op(0x09, "MULMOD", A.MULMOD, G_MID, 3, 1)
    op(0x0A, "EXP", A.EXP_FRONTIER, G_EXP, 2, 1)
    op(0x0B, "SIGNEXTEND", A.SIGNEXTEND, G_LOW, 2, 1)
    op(0x10, "LT", A.LT, G_VERYLOW, 2, 1)
    op(0x11, "GT", A.GT, G_VERYLOW, 2, 1)
    op(0x12, "SLT", A.SLT, G_VERYLOW, 2, 1)
    op(0x13, "SGT", A.SGT, G_VERYLOW, 2, 1)
    op(0x14, "EQ", A.EQ, G_VERYLOW, 2, 1)
    op(0x15, "ISZERO", A.ISZERO, G_VERYLOW, 1, 1)
    op(0x16, "AND", A.AND, G_VERYLOW, 2, 1)
    op(0x17, "OR", A.OR, G_VERYLOW, 2, 1)
    op(0x18, "XOR", A.XOR, G_VERYLOW, 2, 1)
    op(0x19, "NOT", A.NOT, G_VERYLOW, 1, 1)
    op(0x1A, "BYTE", A.BYTE, G_VERYLOW, 2, 1)
    op(0x20, "KECCAK256", E.op_keccak256, G_KECCAK256, 2, 1)
    op(0x30, "ADDRESS", E.ADDRESS, G_BASE, 0, 1)
    op(0x31, "BALANCE", E.op_balance, G_BALANCE_FRONTIER, 1, 1)
    op(0x32, "ORIGIN", E.ORIGIN, G_BASE, 0, 1)
    op(0x33, "CALLER", E.CALLER, G_BASE, 0, 1)
    op(0x34, "CALLVALUE", E.CALLVALUE, G_BASE, 0, 1)
    op(0x35, "CALLDATALOAD", E.CALLDATALOAD, G_VERYLOW, 1, 1)
    op(0x36, "CALLDATASIZE", E.CALLDATASIZE, G_BASE, 0, 1)
    op(0x37, "CALLDATACOPY", E.op_calldatacopy, G_VERYLOW, 3, 0)
    op(0x38, "CODESIZE", E.CODESIZE, G_BASE, 0, 1)
    op(0x39, "CODECOPY", E.op_codecopy, G_VERYLOW, 3, 0)
    op(0x3A, "GASPRICE", E.GASPRICE, G_BASE, 0, 1)
    op(0x3B, "EXTCODESIZE", E.op_extcodesize, G_EXTCODE_FRONTIER, 1, 1)
    op(0x3C, "EXTCODECOPY", E.op_extcodecopy, G_EXTCODE_FRONTIER, 4, 0)
    op(0x40, "BLOCKHASH", E.op_blockhash, G_BLOCKHASH, 1, 1)
    op(0x41, "COINBASE", E.COINBASE, G_BASE, 0, 1)
    op(0x42, "TIMESTAMP", E.TIMESTAMP, G_BASE, 0, 1)
    op(0x43, "NUMBER", E.NUMBER, G_BASE, 0, 1)
    op(0x44, "DIFFICULTY", E.DIFFICULTY, G_BASE, 0, 1)
    op(0x45, "GASLIMIT", E.GASLIMIT, G_BASE, 0, 1)
    op(0x50, "POP", S.POP, G_BASE, 1, 0)
    op(0x51, "MLOAD", S.MLOAD, G_VERYLOW, 1, 1)
    op(0x52, "MSTORE", S.MSTORE, G_VERYLOW, 2, 0)
    op(0x53, "MSTORE8", S.MSTORE8, G_VERYLOW, 2, 0)
    op(0x54, "SLOAD", S.SLOAD, G_SLOAD_FRONTIER, 1, 1)
    op(0x55, "SSTORE", S.op_sstore_frontier, G_ZERO, 2, 0)
    op(0x56, "JUMP", S.op_jump, G_MID, 1, 0, counting_body=S.op_jump_counting, **_ENDS)
    op(0x57, "JUMPI", S.op_jumpi, G_HIGH, 2, 0, counting_body=S.op_jumpi_counting, **_ENDS)
    op(0x58, "PC", S.PC, G_BASE, 0, 1)
    op(0x59, "MSIZE", S.MSIZE, G_BASE, 0, 1)
    op(0x5A, "GAS", S.op_gas, G_BASE, 0, 1, **_READS_GAS)
    op(0x5B, "JUMPDEST", S.JUMPDEST, G_JUMPDEST, 0, 0)
    for i in range(32):
        op(0x60 + i, f"PUSH{i + 1}", S.PUSH_OPS[i], G_VERYLOW, 0, 1, immediate=i + 1)
    for i in range(16):
        op(0x80 + i, f"DUP{i + 1}", S.DUP_OPS[i], G_VERYLOW, i + 1, i + 2)
        op(0x90 + i, f"SWAP{i + 1}", S.SWAP_OPS[i], G_VERYLOW, i + 2, i + 2)
    for i in range(5):
        op(0xA0 + i, f"LOG{i}", S.LOG_OPS[i], G_LOG + G_LOGTOPIC * i, i + 2, 0)
    op(0xF0, "CREATE", Y.op_create, G_CREATE, 3, 1, exit_body=Y.op_create_exit, **_CHILD_FRAME)
    op(0xF1, "CALL", Y.op_call, G_CALL_FRONTIER, 7, 1, exit_body=Y.op_call_exit,
       **_CHILD_FRAME)
    op(0xF2, "CALLCODE", Y.op_callcode, G_CALL_FRONTIER, 7, 1, exit_body=Y.op_callcode_exit,
       **_CHILD_FRAME)
    op(0xF3, "RETURN", S.op_return, G_ZERO, 2, 0, exit_body=S.op_return_exit, **_ENDS)
    op(0xFF, "SELFDESTRUCT", Y.op_selfdestruct, G_ZERO, 1, 0, **_ENDS)
    return t


def _set(code: int, name: str, semantics: Body | Inline, gas: int, pops: int, pushes: int,
         **traits: object) -> Patch:
    """Define (or redefine) an opcode."""
    def apply(t: Table) -> None:
        t[code] = spec(name, semantics, gas, pops, pushes, **traits)

    return Patch("", apply, frozenset({code}))


def change_opcode(code: int, **fields: object) -> Patch:
    """Change some fields of an opcode's spec (a trait, say), keeping the rest."""
    def apply(t: Table) -> None:
        t[code] = replace(t[code], **fields)  # type: ignore[arg-type]

    return Patch("", apply, frozenset({code}))


def _regas(codes: dict[int, int],
           bodies: Mapping[int, Body | Inline] | None = None) -> Callable[[Table], None]:
    def apply(t: Table) -> None:
        for code, gas in codes.items():
            old = t[code]
            new = (bodies or {}).get(code)
            if new is None:
                t[code] = replace(old, gas=gas)
            elif isinstance(new, Inline):
                t[code] = replace(old, gas=gas, body=new.body, inline=new, exit_body=None)
            else:
                t[code] = replace(old, gas=gas, body=new, inline=None, exit_body=None)

    return apply


def _patch(eip: str, *parts: Patch | tuple[Callable[[Table], None], set[int]]) -> Patch:
    """Combine table edits into one patch named after its EIP."""
    appliers: list[Callable[[Table], None]] = []
    codes: set[int] = set()
    for part in parts:
        if isinstance(part, Patch):
            appliers.append(part.apply)
            codes |= part.opcodes
        else:
            appliers.append(part[0])
            codes |= part[1]

    def apply(t: Table) -> None:
        for a in appliers:
            a(t)

    return Patch(eip, apply, frozenset(codes))


def _gas(codes: dict[int, int], bodies: Mapping[int, Body | Inline] | None = None) -> tuple:
    return (_regas(codes, bodies), set(codes) | set(bodies or {}))


_BERLIN_BODIES: dict[int, Body | Inline] = {
    0x31: E.op_balance_eip2929,
    0x3B: E.op_extcodesize_eip2929,
    0x3C: E.op_extcodecopy_eip2929,
    0x3F: E.op_extcodehash_eip2929,
    0x54: S.SLOAD_EIP2929,
    0x55: S.op_sstore_eip2929,
}

PATCHES: dict[str, list[Patch]] = {
    "Homestead": [_patch("EIP-7 DELEGATECALL", _set(0xF4, "DELEGATECALL", Y.op_delegatecall, G_CALL_FRONTIER, 6, 1,
                                                   exit_body=Y.op_delegatecall_exit,
                                                   **_CHILD_FRAME))],
    "EIP150": [_patch("EIP-150 gas repricing", _gas({
        0x31: G_BALANCE_EIP150, 0x3B: G_EXTCODE_EIP150, 0x3C: G_EXTCODE_EIP150,
        0x54: G_SLOAD_EIP150, 0xF1: G_CALL_EIP150, 0xF2: G_CALL_EIP150, 0xF4: G_CALL_EIP150,
        0xFF: G_SELFDESTRUCT_EIP150}))],
    "EIP158": [_patch("EIP-160 EXP byte cost", _gas({0x0A: G_EXP}, {0x0A: A.EXP_EIP160}))],
    "Byzantium": [
        _patch("EIP-140 REVERT", _set(0xFD, "REVERT", S.op_revert, G_ZERO, 2, 0,
                                      exit_body=S.op_revert_exit, **_ENDS)),
        _patch("EIP-211 RETURNDATA", _set(0x3D, "RETURNDATASIZE", E.RETURNDATASIZE, G_BASE, 0, 1),
               _set(0x3E, "RETURNDATACOPY", E.op_returndatacopy, G_VERYLOW, 3, 0)),
        _patch("EIP-214 STATICCALL", _set(0xFA, "STATICCALL", Y.op_staticcall, G_CALL_EIP150, 6, 1,
                                                      exit_body=Y.op_staticcall_exit,
                                                      **_CHILD_FRAME)),
    ],
    "Constantinople": [
        _patch("EIP-145 shifts", _set(0x1B, "SHL", A.SHL, G_VERYLOW, 2, 1),
               _set(0x1C, "SHR", A.SHR, G_VERYLOW, 2, 1), _set(0x1D, "SAR", A.SAR, G_VERYLOW, 2, 1)),
        _patch("EIP-1052 EXTCODEHASH", _set(0x3F, "EXTCODEHASH", E.op_extcodehash, G_EXTCODEHASH, 1, 1)),
        _patch("EIP-1014 CREATE2", _set(0xF5, "CREATE2", Y.op_create2, G_CREATE, 4, 1,
                                           exit_body=Y.op_create2_exit, **_CHILD_FRAME)),
        _patch("EIP-1283 SSTORE net metering", _gas({0x55: G_ZERO}, {0x55: S.op_sstore_eip1283})),
    ],
    "ConstantinopleFix": [
        _patch("EIP-1716 remove EIP-1283", _gas({0x55: G_ZERO}, {0x55: S.op_sstore_frontier})),
    ],
    "Istanbul": [
        _patch("EIP-1884 repricing", _gas({0x54: G_SLOAD_EIP1884, 0x31: G_BALANCE_EIP1884,
                                          0x3F: G_EXTCODEHASH_EIP1884}),
               _set(0x47, "SELFBALANCE", E.op_selfbalance, G_SELFBALANCE, 0, 1)),
        _patch("EIP-1344 CHAINID", _set(0x46, "CHAINID", E.CHAINID, G_BASE, 0, 1)),
        _patch("EIP-2200 SSTORE", _gas({0x55: G_ZERO}, {0x55: S.op_sstore_eip2200}),
               change_opcode(0x55, **_READS_GAS)),  # its sentry: no SSTORE with <= 2300 gas left
    ],
    "Berlin": [
        _patch("EIP-2929 cold/warm access",
               _gas({op: G_WARM_ACCESS for op in (0x31, 0x3B, 0x3C, 0x3F, 0x54, 0xF1, 0xF2,
                                                  0xF4, 0xFA)} | {0x55: G_ZERO},
                    _BERLIN_BODIES)),
    ],
    "London": [
        _patch("EIP-3198 BASEFEE", _set(0x48, "BASEFEE", E.BASEFEE, G_BASE, 0, 1)),
        _patch("EIP-3529 refund reduction", _gas({0x55: G_ZERO}, {0x55: S.op_sstore_eip3529})),
    ],
    "Paris": [
        _patch("EIP-4399 PREVRANDAO", _set(0x44, "PREVRANDAO", E.PREVRANDAO, G_BASE, 0, 1)),
    ],
    "Shanghai": [
        _patch("EIP-3855 PUSH0", _set(0x5F, "PUSH0", S.PUSH0, G_BASE, 0, 1)),
    ],
    "Cancun": [
        _patch("EIP-1153 transient storage", _set(0x5C, "TLOAD", S.op_tload, G_WARM_ACCESS, 1, 1),
               _set(0x5D, "TSTORE", S.op_tstore, G_WARM_ACCESS, 2, 0)),
        _patch("EIP-5656 MCOPY", _set(0x5E, "MCOPY", S.op_mcopy, G_VERYLOW, 3, 0)),
        _patch("EIP-4844 BLOBHASH", _set(0x49, "BLOBHASH", E.op_blobhash, G_BLOBHASH, 1, 1)),
        _patch("EIP-7516 BLOBBASEFEE", _set(0x4A, "BLOBBASEFEE", E.BLOBBASEFEE, G_BASE, 0, 1)),
    ],
    "Prague": [],
    "Osaka": [
        _patch("EIP-7939 CLZ", _set(0x1E, "CLZ", A.CLZ, G_LOW, 1, 1)),
    ],
    "BPO1": [],
    "BPO2": [],
}

FORK_ORDER = ["Frontier", "Homestead", "EIP150", "EIP158", "Byzantium", "Constantinople",
              "ConstantinopleFix", "Istanbul", "Berlin", "London", "Paris", "Shanghai", "Cancun",
              "Prague", "Osaka", "BPO1", "BPO2"]

# Other names users and fixtures use for the same forks.
ALIASES = {
    "TangerineWhistle": "EIP150", "SpuriousDragon": "EIP158", "Petersburg": "ConstantinopleFix",
    "Merge": "Paris", "Bellatrix": "Paris",
}


def _build() -> dict[str, Fork]:
    forks: dict[str, Fork] = {}
    table = _frontier_table()
    parent: Fork | None = None
    rules = Rules()
    for ordinal, name in enumerate(FORK_ORDER):
        table = dict(table)
        patches = PATCHES.get(name, [])
        for patch in patches:
            patch.apply(table)
        rules = replace(rules, **{eip: True for eip in FORK_EIPS[name]})
        fork = Fork(name, ordinal, table, tuple(patches), parent, rules)
        forks[name] = fork
        parent = fork
    return forks


FORKS = _build()


def get_fork(name: str) -> Fork:
    """Look a fork up by its fixture name or a common alias; KeyError if unknown.

    The fork's executor tables and precompile set are built here if they were not yet, so
    that a caller choosing a fork pays for them then, not in its first transaction."""
    fork = FORKS[ALIASES.get(name, name)]
    fork.opcodes  # noqa: B018  (built on first use: see Fork.opcodes)
    fork.precompiles  # noqa: B018
    return fork


def patched(fork: Fork, *patches: Patch) -> Fork:
    """A variant of `fork` with more opcode patches (e.g. a planted bug in a test); the
    registered forks are left as they are."""
    table = dict(fork.table)
    for patch in patches:
        patch.apply(table)
    return replace(fork, table=table, patches=(*fork.patches, *patches))
