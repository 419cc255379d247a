"""Gas constants, named as in the yellow paper and the EIPs that set them."""

from __future__ import annotations

G_ZERO = 0
G_JUMPDEST = 1
G_BASE = 2
G_VERYLOW = 3
G_LOW = 5
G_MID = 8
G_HIGH = 10
G_EXP = 10
G_EXPBYTE_FRONTIER = 10
G_EXPBYTE_EIP160 = 50
G_MEMORY = 3
G_QUADCOEFFDIV = 512
G_COPY = 3
G_KECCAK256 = 30
G_KECCAK256_WORD = 6
G_LOG = 375
G_LOGDATA = 8
G_LOGTOPIC = 375
G_BLOCKHASH = 20
G_CREATE = 32000
G_CODEDEPOSIT = 200
G_CALLVALUE = 9000
G_CALLSTIPEND = 2300
G_NEWACCOUNT = 25000
G_SELFDESTRUCT_EIP150 = 5000
R_SELFDESTRUCT = 24000

# SSTORE before EIP-1283/2200.
G_SSET = 20000
G_SRESET = 5000
R_SCLEAR = 15000
R_SCLEAR_EIP3529 = 4800

# EIP-150 repricing.
G_SLOAD_FRONTIER = 50
G_SLOAD_EIP150 = 200
G_SLOAD_EIP1884 = 800
G_BALANCE_FRONTIER = 20
G_BALANCE_EIP150 = 400
G_BALANCE_EIP1884 = 700
G_EXTCODE_FRONTIER = 20
G_EXTCODE_EIP150 = 700
G_EXTCODEHASH = 400
G_CALL_FRONTIER = 40
G_CALL_EIP150 = 700
G_SELFBALANCE = 5

# EIP-1283 (Constantinople) and EIP-2200 (Istanbul) net metering.
G_SSTORE_NOOP_1283 = 200
G_SSTORE_SENTRY = 2300

# EIP-2929 (Berlin).
G_COLD_SLOAD = 2100
G_COLD_ACCOUNT_ACCESS = 2600
G_WARM_ACCESS = 100

# Transactions.
G_TRANSACTION = 21000
G_TXCREATE = 32000
G_TXDATAZERO = 4
G_TXDATANONZERO_FRONTIER = 68
G_TXDATANONZERO_EIP2028 = 16
G_ACCESS_LIST_ADDRESS = 2400
G_ACCESS_LIST_STORAGE_KEY = 1900
G_INITCODE_WORD = 2  # EIP-3860

# EIP-4844.
GAS_PER_BLOB = 1 << 17
BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN = 3338477
MIN_BLOB_BASE_FEE = 1
G_BLOBHASH = 3

MAX_CODE_SIZE = 0x6000  # EIP-170
MAX_INITCODE_SIZE = 2 * MAX_CODE_SIZE  # EIP-3860
STACK_LIMIT = 1024
CALL_DEPTH_LIMIT = 1024


def memory_cost(words: int) -> int:
    return G_MEMORY * words + words * words // G_QUADCOEFFDIV


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
