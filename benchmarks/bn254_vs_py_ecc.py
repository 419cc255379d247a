"""Timings of the alt_bn128 precompiles against py_ecc (pure Python reference).

Run: .venv/bin/python benchmarks/bn254_vs_py_ecc.py [--quick]

Our side is timed through the precompile entry points (decoding, validation
including the G2 subgroup check, encoding).  The pairing row clears the memo of
prepared G2 points before every call; the row below it shows the repeated-G2 case
(verifying keys), where the Q-only half of the Miller loop is reused.  py_ecc is timed on already decoded
points, so its numbers leave out that work.  bn128 is the plain reference module
(its pairing check is two full pairings); optimized_bn128 (projective coordinates)
is shown too, its pairing check done the way py-evm does it: Miller loops
multiplied, then one final exponentiation.  --quick skips the slow bn128 pairing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from py_ecc import bn128, optimized_bn128

from chainvm.evm.precompiles import bn254
from chainvm.evm.precompiles.bn254 import ec_add, ec_mul, ec_pairing


def best(fn: Callable[[], object], seconds: float = 1.0, max_runs: int = 1000) -> float:
    """Best-of timing in seconds; runs fn until `seconds` elapsed (at least once)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs and (not times or time.perf_counter() - start < seconds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def w(n: object) -> bytes:
    return int(n).to_bytes(32, "big")  # type: ignore[call-overload]


def main() -> None:
    quick = "--quick" in sys.argv
    r = bn128.curve_order
    a, c = 0x1F2E3D4C5B6A79881726354453627180 % r, 2**255 - 19
    p1 = bn128.multiply(bn128.G1, a)
    p2 = bn128.multiply(bn128.G1, c)
    q = bn128.multiply(bn128.G2, c)
    k = 2**256 - 0xBEEF
    neg = bn128.neg(bn128.multiply(bn128.G1, a * c % r))
    assert p1 is not None and p2 is not None and q is not None and neg is not None
    enc_p1 = w(p1[0]) + w(p1[1])
    enc_p2 = w(p2[0]) + w(p2[1])
    x, y = q
    enc_q = w(x.coeffs[1]) + w(x.coeffs[0]) + w(y.coeffs[1]) + w(y.coeffs[0])
    x2, y2 = bn128.G2
    enc_g2 = w(x2.coeffs[1]) + w(x2.coeffs[0]) + w(y2.coeffs[1]) + w(y2.coeffs[0])
    pairing_input = enc_p1 + enc_q + w(neg[0]) + w(neg[1]) + enc_g2
    assert ec_pairing(pairing_input) == w(1)

    o1 = optimized_bn128.multiply(optimized_bn128.G1, a)
    o2 = optimized_bn128.multiply(optimized_bn128.G1, c)
    oq = optimized_bn128.multiply(optimized_bn128.G2, c)
    oneg = optimized_bn128.neg(optimized_bn128.multiply(optimized_bn128.G1, a * c % r))

    def pyecc_pair() -> object:
        # bn128.pairing always applies the final exponentiation
        return bn128.pairing(q, p1) * bn128.pairing(bn128.G2, neg) == bn128.FQ12.one()

    def opt_pair() -> object:
        f = optimized_bn128.pairing(oq, o1, final_exponentiate=False) * optimized_bn128.pairing(
            optimized_bn128.G2, oneg, final_exponentiate=False
        )
        return optimized_bn128.final_exponentiate(f) == optimized_bn128.FQ12.one()

    rows: list[tuple[str, float, float, float]] = []
    rows.append(
        (
            "ECADD",
            best(lambda: ec_add(enc_p1 + enc_p2)),
            best(lambda: bn128.add(p1, p2)),
            best(lambda: optimized_bn128.normalize(optimized_bn128.add(o1, o2))),
        )
    )
    rows.append(
        (
            "ECMUL (256-bit scalar)",
            best(lambda: ec_mul(enc_p1 + w(k))),
            best(lambda: bn128.multiply(p1, k), 2.0, 20),
            best(lambda: optimized_bn128.normalize(optimized_bn128.multiply(o1, k)), 2.0, 20),
        )
    )

    def cold_pairing() -> bytes:
        bn254._g2_prepare.cache_clear()  # G2 points not seen before
        return ec_pairing(pairing_input)

    ours = best(cold_pairing, 2.0)
    warm = best(lambda: ec_pairing(pairing_input), 2.0)
    theirs = float("nan") if quick else best(pyecc_pair, 0.0, 1)
    opt = best(opt_pair, 0.0, 2)
    rows.append(("ECPAIRING (2 pairs)", ours, theirs, opt))
    rows.append(("  same, G2 memoised", warm, theirs, opt))

    print(
        f"{'operation':24} {'chainvm':>11} {'py_ecc':>11} {'ratio':>8} "
        f"{'optimized':>11} {'ratio':>7}"
    )
    for name, t_ours, t_ref, t_opt in rows:
        print(
            f"{name:24} {t_ours * 1e3:9.3f}ms {t_ref * 1e3:9.3f}ms {t_ref / t_ours:7.1f}x "
            f"{t_opt * 1e3:9.3f}ms {t_opt / t_ours:6.1f}x"
        )


if __name__ == "__main__":
    main()
