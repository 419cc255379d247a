"""Arithmetic (0x01-0x0b) and comparison/bitwise (0x10-0x1e) opcodes, as templates.

Each is an `Inline`: Python source over its operands (`a` the top of the stack,
`b` the next, `c` the third), from which the interpreter's body is generated and
which the compiled tier pastes into its blocks (see chainvm/evm/opspec.py).
Signed operations read a word as two's complement: a word with SIGN set is
negative, its magnitude TWO_256 - x. Frontier opcodes are the Yellow Paper's
(appendix H); later ones cite their EIP.
"""

from __future__ import annotations

from chainvm.evm.gas import G_EXPBYTE_EIP160, G_EXPBYTE_FRONTIER
from chainvm.evm.opspec import Inline

ADD = Inline("op_add", 2, "(a + b) & M", words=True)
MUL = Inline("op_mul", 2, "(a * b) & M", words=True)
SUB = Inline("op_sub", 2, "(a - b) & M", words=True)
DIV = Inline("op_div", 2, "a // b if b else 0", words=True)
# Quotient of the magnitudes, negated when the signs differ; truncates toward zero.
# (-2**255) / -1 overflows back to -2**255, which q = 2**255 already is.
SDIV = Inline("op_sdiv", 2, """
    q = (a if a < SIGN else TWO_256 - a) // (b if b < SIGN else TWO_256 - b) if b else 0
    -q & M if (a ^ b) & SIGN else q
""", words=True)
MOD = Inline("op_mod", 2, "a % b if b else 0", words=True)
# The remainder takes the sign of the dividend.
SMOD = Inline("op_smod", 2, """
    r = (a if a < SIGN else TWO_256 - a) % (b if b < SIGN else TWO_256 - b) if b else 0
    -r & M if a & SIGN else r
""", words=True)
ADDMOD = Inline("op_addmod", 3, "(a + b) % c if c else 0", words=True)
MULMOD = Inline("op_mulmod", 3, "(a * b) % c if c else 0", words=True)


def exp_template(byte_gas: int) -> Inline:
    """EXP: base a, exponent b, plus `byte_gas` per byte of the exponent. Exponents of 256
    and more go to GMP (evm/bigint.py's powmod): CPython's modular pow divides at each bit
    of the exponent, 84 us for a 256-bit one against GMP's 5 us, for 1,610 gas; below 0x100
    CPython's is the quicker."""
    return Inline("op_exp", 2, f"""
        if b: charge(f, {byte_gas} * ((b.bit_length() + 7) >> 3))
        pow(a, b, TWO_256) if b < 0x100 else powmod(a, b, TWO_256)
    """, words=True)


EXP_FRONTIER = exp_template(G_EXPBYTE_FRONTIER)
EXP_EIP160 = exp_template(G_EXPBYTE_EIP160)  # EIP-160: dearer exponent bytes

# Extends the sign of the low a + 1 bytes of b: bit 8a + 7 is copied into every bit above
# it. From a = 31 on, b is unchanged. The masks for each a < 31 are tables, so a
# SIGNEXTEND costs one comparison and two table reads besides the masking itself.
SIGNEXTEND = Inline("op_signextend", 2, """
    b if a > 30 else b | SIGNEXTEND_HIGH[a] if b & SIGNEXTEND_SIGN[a] else b & SIGNEXTEND_LOW[a]
""", constants={
    "SIGNEXTEND_SIGN": tuple(1 << (8 * i + 7) for i in range(31)),
    "SIGNEXTEND_LOW": tuple((1 << (8 * i + 7)) - 1 for i in range(31)),
    "SIGNEXTEND_HIGH": tuple(((1 << 256) - 1) ^ ((1 << (8 * i + 7)) - 1) for i in range(31)),
})

LT = Inline("op_lt", 2, "1 if a < b else 0", words=True)
GT = Inline("op_gt", 2, "1 if a > b else 0", words=True)
# Flipping the sign bit maps signed order onto unsigned order.
SLT = Inline("op_slt", 2, "1 if (a ^ SIGN) < (b ^ SIGN) else 0", words=True)
SGT = Inline("op_sgt", 2, "1 if (a ^ SIGN) > (b ^ SIGN) else 0", words=True)
EQ = Inline("op_eq", 2, "1 if a == b else 0", words=True)
ISZERO = Inline("op_iszero", 1, "0 if a else 1", words=True)
AND = Inline("op_and", 2, "a & b", words=True)
OR = Inline("op_or", 2, "a | b", words=True)
XOR = Inline("op_xor", 2, "a ^ b", words=True)
NOT = Inline("op_not", 1, "M ^ a", words=True)
# Byte a of b, counting from the most significant.
BYTE = Inline("op_byte", 2, "(b >> (248 - (a << 3))) & 0xFF if a < 32 else 0", words=True)
SHL = Inline("op_shl", 2, "(b << a) & M if a < 256 else 0", words=True)  # EIP-145
SHR = Inline("op_shr", 2, "b >> a if a < 256 else 0", words=True)  # EIP-145
# EIP-145: a negative b shifts in ones (Python's >> on negative ints does), down to -1.
SAR = Inline("op_sar", 2, "(b >> a if a < 256 else 0) if b < SIGN else ((b - TWO_256) >> a) & M"
             " if a < 256 else M", words=True)
CLZ = Inline("op_clz", 1, "256 - a.bit_length()", words=True)  # EIP-7939 (Osaka)
