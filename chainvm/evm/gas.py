"""Gas constants, named as in the yellow paper and the EIPs that set them.

Each is Final: the native build (mypyc) compiles a Final constant in where it is used;
any other module-level name it reads from the module's dict at every use."""

from __future__ import annotations

from typing import Final

G_ZERO: Final = 0
G_JUMPDEST: Final = 1
G_BASE: Final = 2
G_VERYLOW: Final = 3
G_LOW: Final = 5
G_MID: Final = 8
G_HIGH: Final = 10
G_EXP: Final = 10
G_EXPBYTE_FRONTIER: Final = 10
G_EXPBYTE_EIP160: Final = 50
G_MEMORY: Final = 3
G_QUADCOEFFDIV: Final = 512
G_COPY: Final = 3
G_KECCAK256: Final = 30
G_KECCAK256_WORD: Final = 6
G_LOG: Final = 375
G_LOGDATA: Final = 8
G_LOGTOPIC: Final = 375
G_BLOCKHASH: Final = 20
G_CREATE: Final = 32000
G_CODEDEPOSIT: Final = 200
G_CALLVALUE: Final = 9000
G_CALLSTIPEND: Final = 2300
G_NEWACCOUNT: Final = 25000
G_SELFDESTRUCT_EIP150: Final = 5000
R_SELFDESTRUCT: Final = 24000

# SSTORE before EIP-1283/2200.
G_SSET: Final = 20000
G_SRESET: Final = 5000
R_SCLEAR: Final = 15000
R_SCLEAR_EIP3529: Final = 4800

# EIP-150 repricing.
G_SLOAD_FRONTIER: Final = 50
G_SLOAD_EIP150: Final = 200
G_SLOAD_EIP1884: Final = 800
G_BALANCE_FRONTIER: Final = 20
G_BALANCE_EIP150: Final = 400
G_BALANCE_EIP1884: Final = 700
G_EXTCODE_FRONTIER: Final = 20
G_EXTCODE_EIP150: Final = 700
G_EXTCODEHASH: Final = 400  # EIP-1052
G_EXTCODEHASH_EIP1884: Final = 700
G_CALL_FRONTIER: Final = 40
G_CALL_EIP150: Final = 700
G_SELFBALANCE: Final = 5

# EIP-1283 (Constantinople) and EIP-2200 (Istanbul) net metering.
G_SSTORE_NOOP_1283: Final = 200
G_SSTORE_SENTRY: Final = 2300

# EIP-2929 (Berlin).
G_COLD_SLOAD: Final = 2100
G_COLD_ACCOUNT_ACCESS: Final = 2600
G_WARM_ACCESS: Final = 100

# Transactions.
G_TRANSACTION: Final = 21000
G_TXCREATE: Final = 32000
G_TXDATAZERO: Final = 4
G_TXDATANONZERO_FRONTIER: Final = 68
G_TXDATANONZERO_EIP2028: Final = 16
G_ACCESS_LIST_ADDRESS: Final = 2400
G_ACCESS_LIST_STORAGE_KEY: Final = 1900
G_INITCODE_WORD: Final = 2  # EIP-3860

# EIP-4844.
GAS_PER_BLOB: Final = 1 << 17
BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN: Final = 3338477
MIN_BLOB_BASE_FEE: Final = 1
G_BLOBHASH: Final = 3

MAX_CODE_SIZE: Final = 0x6000  # EIP-170
MAX_INITCODE_SIZE: Final = 2 * MAX_CODE_SIZE  # EIP-3860
STACK_LIMIT: Final = 1024
CALL_DEPTH_LIMIT: Final = 1024


def fake_exponential(factor: int, numerator: int, denominator: int) -> int:
    """EIP-4844's integer approximation of factor * e ** (numerator / denominator)."""
    i = 1
    output = 0
    accum = factor * denominator
    while accum > 0:
        output += accum
        accum = (accum * numerator) // (denominator * i)
        i += 1
    return output // denominator
