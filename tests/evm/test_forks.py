"""Each built fork against an independent statement of the Yellow Paper and the EIPs.

The tables below are written from the specifications, not from chainvm/evm/forks.py:
the Yellow Paper's Frontier instruction set (appendix H) priced by its fee tiers
(appendix G), then what each fork's EIPs add, rename or reprice. Every fork must define
exactly those opcodes, at those bytes, with those static costs; and the dynamic prices
that EIPs changed are measured by running small programs. A wrong price in forks.py (or
in an opcode body) fails here.
"""

from __future__ import annotations

import dataclasses

import pytest

from chainvm.evm.forks import FORK_ORDER, FORKS, Rules, get_fork
from chainvm.state.state import Account
from tests.helpers import TARGET, run_code

# --- Yellow Paper, appendix H: Frontier's opcodes by byte -------------------------------

_FRONTIER_BYTES: dict[str, int] = {
    "STOP": 0x00, "ADD": 0x01, "MUL": 0x02, "SUB": 0x03, "DIV": 0x04, "SDIV": 0x05,
    "MOD": 0x06, "SMOD": 0x07, "ADDMOD": 0x08, "MULMOD": 0x09, "EXP": 0x0A,
    "SIGNEXTEND": 0x0B, "LT": 0x10, "GT": 0x11, "SLT": 0x12, "SGT": 0x13, "EQ": 0x14,
    "ISZERO": 0x15, "AND": 0x16, "OR": 0x17, "XOR": 0x18, "NOT": 0x19, "BYTE": 0x1A,
    "KECCAK256": 0x20, "ADDRESS": 0x30, "BALANCE": 0x31, "ORIGIN": 0x32, "CALLER": 0x33,
    "CALLVALUE": 0x34, "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36, "CALLDATACOPY": 0x37,
    "CODESIZE": 0x38, "CODECOPY": 0x39, "GASPRICE": 0x3A, "EXTCODESIZE": 0x3B,
    "EXTCODECOPY": 0x3C, "BLOCKHASH": 0x40, "COINBASE": 0x41, "TIMESTAMP": 0x42,
    "NUMBER": 0x43, "DIFFICULTY": 0x44, "GASLIMIT": 0x45, "POP": 0x50, "MLOAD": 0x51,
    "MSTORE": 0x52, "MSTORE8": 0x53, "SLOAD": 0x54, "SSTORE": 0x55, "JUMP": 0x56,
    "JUMPI": 0x57, "PC": 0x58, "MSIZE": 0x59, "GAS": 0x5A, "JUMPDEST": 0x5B,
    "CREATE": 0xF0, "CALL": 0xF1, "CALLCODE": 0xF2, "RETURN": 0xF3, "SELFDESTRUCT": 0xFF,
    **{f"PUSH{n}": 0x5F + n for n in range(1, 33)},
    **{f"DUP{n}": 0x7F + n for n in range(1, 17)},
    **{f"SWAP{n}": 0x8F + n for n in range(1, 17)},
    **{f"LOG{n}": 0xA0 + n for n in range(5)},
}

# --- Yellow Paper, appendix G: the fee tiers and Frontier's static costs -----------------

G_ZERO, G_JUMPDEST, G_BASE, G_VERYLOW, G_LOW, G_MID, G_HIGH = 0, 1, 2, 3, 5, 8, 10
_TIERS: dict[int, str] = {
    # SSTORE and SELFDESTRUCT are priced entirely by what they do (see the dynamic tests).
    G_ZERO: "STOP RETURN SSTORE SELFDESTRUCT",
    G_BASE: "ADDRESS ORIGIN CALLER CALLVALUE CALLDATASIZE CODESIZE GASPRICE COINBASE "
            "TIMESTAMP NUMBER DIFFICULTY GASLIMIT POP PC MSIZE GAS",
    G_VERYLOW: "ADD SUB NOT LT GT SLT SGT EQ ISZERO AND OR XOR BYTE CALLDATALOAD MLOAD "
               "MSTORE MSTORE8 CALLDATACOPY CODECOPY "
               + " ".join(f"PUSH{n}" for n in range(1, 33)) + " "
               + " ".join(f"DUP{n} SWAP{n}" for n in range(1, 17)),
    G_LOW: "MUL DIV SDIV MOD SMOD SIGNEXTEND",
    G_MID: "ADDMOD MULMOD JUMP",
    G_HIGH: "JUMPI",
    G_JUMPDEST: "JUMPDEST",
}
FRONTIER: dict[str, int] = {name: gas for gas, names in _TIERS.items() for name in names.split()}
FRONTIER.update({
    "EXP": 10,  # G_exp
    "KECCAK256": 30,  # G_sha3
    "BALANCE": 20, "EXTCODESIZE": 20, "EXTCODECOPY": 20,  # G_balance, G_extcode
    "BLOCKHASH": 20,  # G_blockhash
    "SLOAD": 50,  # G_sload
    "CREATE": 32000,  # G_create
    "CALL": 40, "CALLCODE": 40,  # G_call
    **{f"LOG{n}": 375 + 375 * n for n in range(5)},  # G_log + n * G_logtopic
})

# --- What each fork's EIPs change: name -> (byte, static gas); None removes -------------

_ADDED_BYTES: dict[str, int] = {
    "DELEGATECALL": 0xF4, "REVERT": 0xFD, "RETURNDATASIZE": 0x3D, "RETURNDATACOPY": 0x3E,
    "STATICCALL": 0xFA, "SHL": 0x1B, "SHR": 0x1C, "SAR": 0x1D, "EXTCODEHASH": 0x3F,
    "CREATE2": 0xF5, "SELFBALANCE": 0x47, "CHAINID": 0x46, "BASEFEE": 0x48,
    "PREVRANDAO": 0x44, "PUSH0": 0x5F, "TLOAD": 0x5C, "TSTORE": 0x5D, "MCOPY": 0x5E,
    "BLOBHASH": 0x49, "BLOBBASEFEE": 0x4A, "CLZ": 0x1E,
}
EIP_CHANGES: dict[str, dict[str, int | None]] = {
    "Homestead": {"DELEGATECALL": 40},  # EIP-7
    # EIP-150: IO-heavy operations repriced.
    "EIP150": {"BALANCE": 400, "EXTCODESIZE": 700, "EXTCODECOPY": 700, "SLOAD": 200,
               "CALL": 700, "CALLCODE": 700, "DELEGATECALL": 700, "SELFDESTRUCT": 5000},
    "EIP158": {},  # EIP-160 changes EXP's per-byte price only (dynamic)
    "Byzantium": {"REVERT": 0,  # EIP-140
                  "RETURNDATASIZE": 2, "RETURNDATACOPY": 3,  # EIP-211
                  "STATICCALL": 700},  # EIP-214
    "Constantinople": {"SHL": 3, "SHR": 3, "SAR": 3,  # EIP-145
                       "EXTCODEHASH": 400,  # EIP-1052
                       "CREATE2": 32000},  # EIP-1014
    "ConstantinopleFix": {},  # EIP-1283 withdrawn (dynamic)
    "Istanbul": {"SLOAD": 800, "BALANCE": 700, "EXTCODEHASH": 700,  # EIP-1884
                 "SELFBALANCE": 5,  # EIP-1884
                 "CHAINID": 2},  # EIP-1344
    # EIP-2929: a warm access costs 100 up front; the cold surcharge is dynamic.
    "Berlin": {name: 100 for name in ("SLOAD", "BALANCE", "EXTCODESIZE", "EXTCODECOPY",
                                      "EXTCODEHASH", "CALL", "CALLCODE", "DELEGATECALL",
                                      "STATICCALL")},
    "London": {"BASEFEE": 2},  # EIP-3198
    "Paris": {"DIFFICULTY": None, "PREVRANDAO": 2},  # EIP-4399: 0x44 renamed
    "Shanghai": {"PUSH0": 2},  # EIP-3855
    "Cancun": {"TLOAD": 100, "TSTORE": 100,  # EIP-1153
               "MCOPY": 3,  # EIP-5656
               "BLOBHASH": 3,  # EIP-4844
               "BLOBBASEFEE": 2},  # EIP-7516
    "Prague": {},
    "Osaka": {"CLZ": 5},  # EIP-7939
    "BPO1": {},
    "BPO2": {},
}


def expected_tables() -> dict[str, dict[str, tuple[int, int]]]:
    """Fork name -> {opcode name: (byte, static gas)}, from the statements above."""
    current = {name: (_FRONTIER_BYTES[name], gas) for name, gas in FRONTIER.items()}
    tables = {"Frontier": dict(current)}
    for fork in FORK_ORDER[1:]:
        for name, gas in EIP_CHANGES[fork].items():
            if gas is None:
                del current[name]
            else:
                byte = current[name][0] if name in current else _ADDED_BYTES[name]
                current[name] = (byte, gas)
        tables[fork] = dict(current)
    return tables


def test_the_statement_covers_every_fork() -> None:
    assert list(EIP_CHANGES) == FORK_ORDER[1:]
    assert set(FRONTIER) == set(_FRONTIER_BYTES)


@pytest.mark.parametrize("name", FORK_ORDER)
def test_fork_defines_exactly_the_specified_opcodes_and_prices(name: str) -> None:
    expected = expected_tables()[name]
    opcodes = FORKS[name].opcodes
    built = {spec.name: (byte, spec.gas) for byte, spec in enumerate(opcodes.specs)
             if spec is not None}
    missing = sorted(set(expected) - set(built))
    extra = sorted(set(built) - set(expected))
    assert not missing and not extra, (name, missing, extra)
    wrong = {op: (built[op], expected[op]) for op in expected if built[op] != expected[op]}
    assert not wrong, f"{name}: (byte, gas) built vs specified: {wrong}"
    # The tuples the interpreter indexes agree with the table.
    for op_name, (byte, gas) in expected.items():
        assert opcodes.static_gas[byte] == gas and opcodes.names[byte] == op_name


def test_tables_are_read_only() -> None:
    fork = get_fork("Osaka")
    with pytest.raises(TypeError):
        fork.table[0x52] = fork.table[0x01]  # type: ignore[index]
    with pytest.raises(TypeError):
        fork.opcodes.static_gas[0x52] = 4  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fork.rules = Rules()  # type: ignore[misc]
    with pytest.raises(TypeError):
        fork.precompiles[bytes(20)] = fork.precompiles[(1).to_bytes(20, "big")]  # type: ignore[index]


def test_blob_schedule_variant_leaves_the_fork_alone() -> None:
    osaka = get_fork("Osaka")
    variant = osaka.with_blob_schedule(2, 12, 1000)
    assert (variant.blob_target, variant.blob_max, variant.max_blobs_per_tx) == (2, 12, 6)
    assert (osaka.blob_target, osaka.blob_max) == (6, 9)
    assert variant.rules == osaka.rules and variant.opcodes.names == osaka.opcodes.names


def test_fork_order_and_parents() -> None:
    previous = None
    for ordinal, name in enumerate(FORK_ORDER):
        fork = FORKS[name]
        assert fork.ordinal == ordinal
        assert fork.parent is previous
        previous = fork


def test_patches_declare_what_they_change() -> None:
    """Each patch names its EIP and lists the opcodes it touches (for a reader of forks.py)."""
    for name in FORK_ORDER[1:]:
        fork = FORKS[name]
        parent = fork.parent
        assert parent is not None
        changed = {op for op in range(256) if fork.table.get(op) != parent.table.get(op)}
        declared: set[int] = set()
        for patch in fork.patches:
            assert patch.eip.startswith("EIP-"), f"{name}: every patch names its EIP"
            declared |= patch.opcodes
        assert changed == declared, f"{name}: changed {sorted(map(hex, changed))}"


def test_blob_schedules() -> None:
    # EIP-4844, EIP-7691 (Prague), EIP-7594's per-transaction cap (Osaka), BPO1/BPO2.
    expected = {"Cancun": (3, 6, 6), "Prague": (6, 9, 9), "Osaka": (6, 9, 6),
                "BPO1": (10, 15, 6), "BPO2": (14, 21, 6)}
    for name, (target, maximum, per_tx) in expected.items():
        fork = FORKS[name]
        assert (fork.blob_target, fork.blob_max, fork.max_blobs_per_tx) == (target, maximum, per_tx)
    assert FORKS["Shanghai"].blob_max == 0


# --- Dynamic prices, measured by running code -------------------------------------------


def _since(fork: str, first: str) -> bool:
    return FORK_ORDER.index(fork) >= FORK_ORDER.index(first)


def _dynamic(fork: str) -> dict[str, int]:
    """The dynamic prices of `fork`, from the EIPs that set them."""
    berlin = _since(fork, "Berlin")
    return {
        "exp_byte": 50 if _since(fork, "EIP158") else 10,  # EIP-160
        # EIP-2929: the first access to a slot or an account in a transaction costs this in
        # all (later ones the warm price, 100); before it, every access the static price.
        "cold_sload": 2100 if berlin else 0,
        "cold_account": 2600 if berlin else 0,
        "sstore_set": 20000,  # zero to non-zero (Yellow Paper; EIP-1283, EIP-2200 keep it)
        # Non-zero to another non-zero: 5000, of which EIP-2929 moves 2100 into the cold
        # surcharge of the first access.
        "sstore_reset": 5000 - 2100 if berlin else 5000,
        "sstore_clear_refund": 4800 if _since(fork, "London") else 15000,  # EIP-3529
    }


def _push(value: int) -> str:
    width = max(1, (value.bit_length() + 7) // 8)
    return f"{0x5F + width:02x}" + value.to_bytes(width, "big").hex()


@pytest.mark.parametrize("fork", FORK_ORDER)
def test_exp_charges_per_exponent_byte(fork: str) -> None:
    # EXP(2, 0x0100): a two-byte exponent.
    out = run_code(_push(0x100) + _push(2) + "0a00", fork=fork)
    assert out.success
    assert out.gas_used == 3 + 3 + 10 + 2 * _dynamic(fork)["exp_byte"]


@pytest.mark.parametrize("fork", FORK_ORDER)
def test_sload_cold_then_warm(fork: str) -> None:
    sload = expected_tables()[fork]["SLOAD"][1]
    out = run_code(_push(7) + "54" + _push(7) + "5400", fork=fork)
    assert out.success
    first = _dynamic(fork)["cold_sload"] or sload
    assert out.gas_used == 3 + first + 3 + sload


@pytest.mark.parametrize("fork", FORK_ORDER)
def test_balance_of_an_untouched_account_cold_then_warm(fork: str) -> None:
    balance = expected_tables()[fork]["BALANCE"][1]
    other = 0xB0B
    out = run_code(_push(other) + "31" + _push(other) + "3100", fork=fork)
    assert out.success
    first = _dynamic(fork)["cold_account"] or balance
    assert out.gas_used == 3 + first + 3 + balance


@pytest.mark.parametrize("fork", FORK_ORDER)
def test_sstore_prices_and_clear_refund(fork: str) -> None:
    prices = _dynamic(fork)
    # slot 0: 0 -> 1 (set); slot 1: 5 -> 0 (clear, refunded); slot 2: 5 -> 9 (reset)
    code = _push(1) + _push(0) + "55" + _push(0) + _push(1) + "55" + _push(9) + _push(2) + "5500"
    accounts = {TARGET: Account(code=bytes.fromhex(code), storage={1: 5, 2: 5})}
    out = run_code(code, fork=fork, accounts=accounts)
    assert out.success
    cold = 3 * prices["cold_sload"]
    assert out.gas_used == 6 * 3 + prices["sstore_set"] + 2 * prices["sstore_reset"] + cold
    assert out.state.refund == prices["sstore_clear_refund"]


# EIP-1283 and EIP-2200 made writing a slot's own value cheap (200, then 800; 100 warm after
# EIP-2929, 2200 with the cold surcharge), cheap enough to run on the 2300-gas call stipend;
# EIP-2200 forbids any SSTORE with only that much gas left.
@pytest.mark.parametrize("fork", ["Constantinople", *FORK_ORDER[FORK_ORDER.index("Istanbul"):]])
def test_sstore_sentry(fork: str) -> None:
    code = _push(1) + _push(0) + "5500"  # SSTORE(0, 1) on a slot that holds 1
    accounts = {TARGET: Account(code=bytes.fromhex(code), storage={0: 1})}
    at_stipend = run_code(code, fork=fork, gas=6 + 2300, accounts=accounts)
    above = run_code(code, fork=fork, gas=6 + 2301, accounts=accounts)
    assert above.success
    assert at_stipend.success == (not _since(fork, "Istanbul"))


@pytest.mark.parametrize("fork", ["Frontier", "Berlin", "Cancun", "Osaka"])
def test_memory_copy_hash_and_log_word_prices(fork: str) -> None:
    """Yellow Paper: memory 3 per word plus words^2/512; copies 3 per word; KECCAK256 6 per
    word; LOG 8 per byte. Unchanged by every fork so far."""
    def memory(words: int) -> int:
        return 3 * words + words * words // 512

    # MSTORE8(32 * 40 - 1, 1): memory grows to 40 words.
    out = run_code(_push(1) + _push(32 * 40 - 1) + "5300", fork=fork)
    assert out.success and out.gas_used == 3 + 3 + 3 + memory(40)
    # CALLDATACOPY(0, 0, 64): two words of memory and of copying.
    out = run_code(_push(64) + _push(0) + _push(0) + "3700", fork=fork)
    assert out.success and out.gas_used == 3 * 3 + 3 + memory(2) + 3 * 2
    # KECCAK256(0, 64)
    out = run_code(_push(64) + _push(0) + "2000", fork=fork)
    assert out.success and out.gas_used == 3 + 3 + 30 + 6 * 2 + memory(2)
    # LOG1(0, 64, topic)
    out = run_code(_push(5) + _push(64) + _push(0) + "a100", fork=fork)
    assert out.success and out.gas_used == 3 * 3 + 375 + 375 + 8 * 64 + memory(2)


# --- Block traits: what the compiled tier must not run past --------------------------

# Instructions after which execution does not simply go on to the next one: halts, jumps,
# and those that hand a child frame to the driver (Yellow Paper; EIP-7 DELEGATECALL, EIP-140
# REVERT, EIP-214 STATICCALL, EIP-1014 CREATE2).
ENDS_BLOCK = {"STOP", "JUMP", "JUMPI", "RETURN", "REVERT", "SELFDESTRUCT", "CREATE", "CREATE2",
              "CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"}
# Instructions whose effect depends on the gas left: GAS itself, the frames that are given
# gas from it (all of it for CREATE in Frontier, 63/64 of it from EIP-150), and from EIP-2200
# SSTORE, which fails when only the call stipend is left.
READS_GAS = {"GAS", "CREATE", "CREATE2", "CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"}


@pytest.mark.parametrize("name", FORK_ORDER)
def test_block_traits(name: str) -> None:
    specs = [s for s in FORKS[name].opcodes.specs if s is not None]
    reads_gas = READS_GAS | ({"SSTORE"} if _since(name, "Istanbul") else set())
    assert {s.name for s in specs if s.ends_block} == {s.name for s in specs} & ENDS_BLOCK
    assert {s.name for s in specs if s.reads_gas} == {s.name for s in specs} & reads_gas
    assert {s.name: s.immediate for s in specs if s.immediate} == \
        {f"PUSH{n}": n for n in range(1, 33)}
