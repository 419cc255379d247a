"""Big-integer arithmetic for the precompiles and EXP: GMP through gmpy2 where it imports,
else int.

The alt_bn128 field arithmetic, MODEXP and EXP's large exponents are products,
remainders and modular powers of integers of 254 bits and more. GMP does them about
three times faster than CPython's own integers at 254 bits (a product and a remainder:
36 and 65 ns against 103 and 184 ns on the development machine) and 7-12 times faster
for modular powers of 256 to 8,192 bits. gmpy2's integers (`mpz`) take the same
operators as `int` and compare and hash equal to it, so the arithmetic is written once
over ints: a modulus made `modular` makes every `% P` return an mpz, and what follows
runs on GMP. Without gmpy2 (a platform with no wheel for it) the same code runs on
`int`, with the same results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# gmpy2 is imported on first use (_load): its import takes about 20 ms (it loads
# importlib.metadata), a fifth of a `chainvm run` or `chainvm t8n` process, and most runs
# never reach a large modular power or the alt_bn128 precompiles.
_mpz: Callable[[int], int] | None = None
_powmod: Any = None


def _load() -> None:
    global _mpz, _powmod
    try:
        import gmpy2

        if not hasattr(gmpy2.mpz, "to_bytes"):  # before gmpy2 2.2: results must act as ints
            raise ImportError("gmpy2 older than 2.2")
        _mpz, _powmod = gmpy2.mpz, gmpy2.powmod
    except ImportError:  # no wheel for this platform: plain ints, same results
        _mpz, _powmod = int, pow


def uses_gmp() -> bool:
    """Whether the arithmetic runs on GMP (gmpy2 2.2 or later imports); loads it."""
    if _mpz is None:
        _load()
    return _mpz is not int


def modular(value: int) -> int:
    """`value` as the integer type the arithmetic runs on (gmpy2's mpz where there is one).

    Typed `int`: an mpz takes every operator an int takes, and compares and hashes equal.
    """
    mpz = _mpz
    if mpz is None:
        _load()
        mpz = _mpz
        assert mpz is not None
    return mpz(value)


def powmod(base: int, exponent: int, modulus: int) -> int:
    """`pow(base, exponent, modulus)` as a Python int, for exponent >= 0 and modulus >= 1."""
    fn = _powmod
    if fn is None:
        _load()
        fn = _powmod
    return int(fn(base, exponent, modulus))
