"""alt_bn128 (BN254) arithmetic for the precompiles ECADD (0x06), ECMUL (0x07), ECPAIRING (0x08).

EIP-196 defines the two G1 operations, EIP-197 the pairing check.  Everything here
is written over Python integers, and runs on GMP when gmpy2 is installed (the modulus P
is then an mpz, so every reduction yields one; evm/bigint.py):

* G1 (y^2 = x^3 + 3 over Fp): Jacobian coordinates, scalar multiplication through
  the GLV endomorphism (x, y) -> (beta*x, y) and an interleaved width-5 NAF, one
  field inversion at the end.
* G2 (the sextic D-type twist y^2 = x^3 + 3/xi over Fp2 = Fp[i]/(i^2 + 1), xi = 9 + i):
  subgroup membership through the endomorphism psi (untwist-Frobenius-twist), which
  acts on G2 as multiplication by p.  The Miller loop computes T = [6u+2]Q anyway,
  so the exact test T + psi(Q) - psi^2(Q) + psi^3(Q) == O costs a few point
  additions (see _g2_check_with_ate).
* Pairing: optimal ate, Miller loop over 6u+2 in signed binary, all pairs sharing
  one accumulator (one Fp12 squaring per step), homogeneous projective coordinates
  on the twist (no inversions), sparse line multiplication, then one final
  exponentiation: easy part with one Fp12 inversion and Frobenius maps, hard part
  through the addition chain of Scott et al. ("On the final exponentiation for
  calculating pairings on ordinary elliptic curves", 2009) with Granger-Scott
  cyclotomic squarings and width-4 NAF exponentiations by u.  The half of the
  Miller loop that depends on Q only (multiples of Q, line coefficients, the
  subgroup check) is memoised per G2 point, as verifying keys repeat them.

Fp12 is flattened to 12-tuples of ints: six Fp2 coefficients of w^0..w^5 with
w^6 = xi (equivalently Fp6[w]/(w^2 - v), Fp6 = Fp2[v]/(v^3 - xi)).  The hot tower
functions (_f12_mul, _f12_sqr, _f12_cyc_sqr, _f12_mul_line, _dbl_prep, _add_prep)
are straight-line code produced by tracing the textbook
Karatsuba formulas over symbolic integers: products are accumulated unreduced and
reduced once per output (lazy reduction), with a reduction only where a value
feeds another product.  Any factor from a proper subfield (Fp2, Fp6) that the lines pick up is
wiped out by the final exponentiation, so lines are scaled freely.
"""

from __future__ import annotations

import functools

from chainvm.evm.bigint import modular

# The field modulus as the arithmetic's integer type: with gmpy2 installed every `% P`
# gives an mpz and the field arithmetic runs on GMP (evm/bigint.py).
P = modular(21888242871839275222246405745257275088696311157297823662689037894645226208583)
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
U = 4965661367192848881  # BN parameter: P = 36u^4 + 36u^3 + 24u^2 + 6u + 1
ATE = 6 * U + 2

F2 = tuple[int, int]
F12 = tuple[int, int, int, int, int, int, int, int, int, int, int, int]
J1 = tuple[int, int, int]  # Jacobian G1 point, Z == 0 is infinity
J2 = tuple[F2, F2, F2]  # Jacobian G2 point, Z == 0 is infinity


class BN254Error(Exception):
    """Invalid input to an alt_bn128 precompile."""


# --------------------------------------------------------------------------- Fp2
# Elements are (real, imaginary); i^2 = -1.


def _f2_mul(a: F2, b: F2) -> F2:
    a0, a1 = a
    b0, b1 = b
    t0 = a0 * b0
    t1 = a1 * b1
    return (t0 - t1) % P, ((a0 + a1) * (b0 + b1) - t0 - t1) % P


def _f2_sqr(a: F2) -> F2:
    a0, a1 = a
    return (a0 + a1) * (a0 - a1) % P, 2 * a0 * a1 % P


def _f2_add(a: F2, b: F2) -> F2:
    return (a[0] + b[0]) % P, (a[1] + b[1]) % P


def _f2_sub(a: F2, b: F2) -> F2:
    return (a[0] - b[0]) % P, (a[1] - b[1]) % P


def _f2_neg(a: F2) -> F2:
    return -a[0] % P, -a[1] % P


def _f2_conj(a: F2) -> F2:
    return a[0], -a[1] % P


def _f2_inv(a: F2) -> F2:
    a0, a1 = a
    n = pow(a0 * a0 + a1 * a1, -1, P)
    return a0 * n % P, -a1 * n % P


def _f2_xi(a: F2) -> F2:
    """Multiply by xi = 9 + i."""
    a0, a1 = a
    return (9 * a0 - a1) % P, (a0 + 9 * a1) % P


def _f2_pow(a: F2, e: int) -> F2:
    r: F2 = (1, 0)
    for bit in bin(e)[2:]:
        r = _f2_sqr(r)
        if bit == "1":
            r = _f2_mul(r, a)
    return r


_XI: F2 = (9, 1)
_B2: F2 = _f2_mul((3, 0), _f2_inv(_XI))  # twist coefficient b' = 3 / xi
_B3R, _B3I = _f2_mul((3, 0), _B2)  # 3 * b', used by the doubling step

# Frobenius constants: w^(p^k) = gamma_k(j) * w^j with gamma = xi^(j (p^k - 1) / 6).
# Written out because deriving them (`frobenius_constants`) costs about 9 ms, paid by
# every process at its first pairing; tests/evm/test_bn254.py checks them against it.
_FROB1: tuple[F2, ...] = (
    (1,
     0),
    (8376118865763821496583973867626364092589906065868298776909617916018768340080,
     16469823323077808223889137241176536799009286646108169935659301613961712198316),
    (21575463638280843010398324269430826099269044274347216827212613867836435027261,
     10307601595873709700152284273816112264069230130616436755625194854815875713954),
    (2821565182194536844548159561693502659359617185244120367078079554186484126554,
     3505843767911556378687030309984248845540243509899259641013678093033130930403),
    (2581911344467009335267311115468803099551665605076196740867805258568234346338,
     19937756971775647987995932169929341994314640652964949448313374472400716661030),
    (685108087231508774477564247770172212460312782337200605669322048753928464687,
     8447204650696766136447902020341177575205426561248465145919723016860428151883),
)
_FROB2: tuple[int, ...] = (
    1,
    21888242871839275220042445260109153167277707414472061641714758635765020556617,
    21888242871839275220042445260109153167277707414472061641714758635765020556616,
    21888242871839275222246405745257275088696311157297823662689037894645226208582,
    2203960485148121921418603742825762020974279258880205651966,
    2203960485148121921418603742825762020974279258880205651967,
)
_FROB3: tuple[F2, ...] = (
    (1,
     0),
    (11697423496358154304825782922584725312912383441159505038794027105778954184319,
     303847389135065887422783454877609941456349188919719272345083954437860409601),
    (3772000881919853776433695186713858239009073593817195771773381919316419345261,
     2236595495967245188281701248203181795121068902605861227855261137820944008926),
    (19066677689644738377698246183563772429336693972053703295610958340458742082029,
     18382399103927718843559375435273026243156067647398564021675359801612095278180),
    (5324479202449903542726783395506214481928257762400643279780343368557297135718,
     16208900380737693084919495127334387981393726419856888799917914180988844123039),
    (8941241848238582420466759817324047081148088512956452953208002715982955420483,
     10338197737521362862238855242243140895517409139741313354160881284257516364953),
)


def frobenius_constants() -> tuple[tuple[F2, ...], tuple[int, ...], tuple[F2, ...]]:
    """_FROB1, _FROB2 and _FROB3 derived from xi."""
    return (tuple(_f2_pow(_XI, j * (P - 1) // 6) for j in range(6)),
            tuple(_f2_pow(_XI, j * (P * P - 1) // 6)[0] for j in range(6)),
            tuple(_f2_pow(_XI, j * (P**3 - 1) // 6) for j in range(6)))

# psi on the twist: (x, y) -> (conj(x) * xi^((p-1)/3), conj(y) * xi^((p-1)/2))
_PSI_X: F2 = _FROB1[2]
_PSI_Y: F2 = _FROB1[3]

_ONE12: F12 = (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def _naf(k: int) -> list[int]:
    """Signed digits of k (non-adjacent form), most significant first."""
    out: list[int] = []
    while k:
        if k & 1:
            d = 2 - (k & 3)
            k -= d
        else:
            d = 0
        out.append(d)
        k >>= 1
    out.reverse()
    return out


_ATE_NAF = _naf(ATE)


# --------------------------------------------------------------------------- generated hot code
# (straight-line output of the symbolic tracer described in the module docstring)


def _f12_mul(x: F12, y: F12) -> F12:
    a0r, a0i, a1r, a1i, a2r, a2i, a3r, a3i, a4r, a4i, a5r, a5i = x
    b0r, b0i, b1r, b1i, b2r, b2i, b3r, b3i, b4r, b4i, b5r, b5i = y
    t0 = a0r * b0r
    t1 = a0i * b0i
    t2 = t0 - t1
    t3 = a2r + a4r
    t4 = b2r + b4r
    t5 = t3 * t4
    t6 = a2i + a4i
    t7 = b2i + b4i
    t8 = t6 * t7
    t9 = a2r * b2r
    t10 = a2i * b2i
    t11 = t9 - t10
    t12 = a4r * b4r
    t13 = a4i * b4i
    t14 = t12 - t13
    t15 = t5 - t8 - (t11 + t14)
    t16 = (a2r + a2i) * (b2r + b2i) - (t9 + t10)
    t17 = (a4r + a4i) * (b4r + b4i) - (t12 + t13)
    t18 = (t3 + t6) * (t4 + t7) - (t5 + t8) - (t16 + t17)
    t19 = t2 + (9 * t15 - t18)
    t20 = a3r * b3r
    t21 = a3i * b3i
    t22 = t20 - t21
    t23 = a1r + a5r
    t24 = b1r + b5r
    t25 = t23 * t24
    t26 = a1i + a5i
    t27 = b1i + b5i
    t28 = t26 * t27
    t29 = a1r * b1r
    t30 = a1i * b1i
    t31 = t29 - t30
    t32 = a5r * b5r
    t33 = a5i * b5i
    t34 = t32 - t33
    t35 = t22 + (t25 - t28 - (t31 + t34))
    t36 = (a3r + a3i) * (b3r + b3i) - (t20 + t21)
    t37 = (a1r + a1i) * (b1r + b1i) - (t29 + t30)
    t38 = (a5r + a5i) * (b5r + b5i) - (t32 + t33)
    t39 = t36 + ((t23 + t26) * (t24 + t27) - (t25 + t28) - (t37 + t38))
    t40 = (a0r + a0i) * (b0r + b0i) - (t0 + t1)
    t41 = t40 + (t15 + 9 * t18)
    t42 = a0r + a1r
    t43 = b0r + b1r
    t44 = t42 * t43
    t45 = a0i + a1i
    t46 = b0i + b1i
    t47 = t45 * t46
    t48 = t44 - t47
    t49 = a2r + a3r
    t50 = a4r + a5r
    t51 = t49 + t50
    t52 = b2r + b3r
    t53 = b4r + b5r
    t54 = t52 + t53
    t55 = t51 * t54
    t56 = a2i + a3i
    t57 = a4i + a5i
    t58 = t56 + t57
    t59 = b2i + b3i
    t60 = b4i + b5i
    t61 = t59 + t60
    t62 = t58 * t61
    t63 = t49 * t52
    t64 = t56 * t59
    t65 = t63 - t64
    t66 = t50 * t53
    t67 = t57 * t60
    t68 = t66 - t67
    t69 = t55 - t62 - (t65 + t68)
    t70 = (t49 + t56) * (t52 + t59) - (t63 + t64)
    t71 = (t50 + t57) * (t53 + t60) - (t66 + t67)
    t72 = (t51 + t58) * (t54 + t61) - (t55 + t62) - (t70 + t71)
    t73 = a3r + a5r
    t74 = b3r + b5r
    t75 = t73 * t74
    t76 = a3i + a5i
    t77 = b3i + b5i
    t78 = t76 * t77
    t79 = t75 - t78 - (t22 + t34)
    t80 = (t73 + t76) * (t74 + t77) - (t75 + t78) - (t36 + t38)
    t81 = t31 + (9 * t79 - t80)
    t82 = (t42 + t45) * (t43 + t46) - (t44 + t47)
    t83 = t37 + (t79 + 9 * t80)
    t84 = a0r + a2r
    t85 = b0r + b2r
    t86 = t84 * t85
    t87 = a0i + a2i
    t88 = b0i + b2i
    t89 = t87 * t88
    t90 = t86 - t89 - (t2 + t11) + (9 * t14 - t17)
    t91 = (t84 + t87) * (t85 + t88) - (t86 + t89) - (t40 + t16) + (t14 + 9 * t17)
    t92 = t42 + t49
    t93 = t43 + t52
    t94 = t92 * t93
    t95 = t45 + t56
    t96 = t46 + t59
    t97 = t95 * t96
    t98 = a1r + a3r
    t99 = b1r + b3r
    t100 = t98 * t99
    t101 = a1i + a3i
    t102 = b1i + b3i
    t103 = t101 * t102
    t104 = t100 - t103 - (t31 + t22) + (9 * t34 - t38)
    t105 = (t98 + t101) * (t99 + t102) - (t100 + t103) - (t37 + t36) + (t34 + 9 * t38)
    t106 = a0r + a4r
    t107 = b0r + b4r
    t108 = t106 * t107
    t109 = a0i + a4i
    t110 = b0i + b4i
    t111 = t109 * t110
    t112 = t11 + (t108 - t111 - (t2 + t14))
    t113 = t16 + ((t106 + t109) * (t107 + t110) - (t108 + t111) - (t40 + t17))
    t114 = t42 + t50
    t115 = t43 + t53
    t116 = t114 * t115
    t117 = t45 + t57
    t118 = t46 + t60
    t119 = t117 * t118
    return (
        (t19 + (9 * t35 - t39)) % P,
        (t41 + (t35 + 9 * t39)) % P,
        (t48 + (9 * t69 - t72) - (t19 + t81)) % P,
        (t82 + (t69 + 9 * t72) - (t41 + t83)) % P,
        (t90 + t81) % P,
        (t91 + t83) % P,
        (t94 - t97 - (t48 + t65) + (9 * t68 - t71) - (t90 + t104)) % P,
        ((t92 + t95) * (t93 + t96) - (t94 + t97) - (t82 + t70) + (t68 + 9 * t71) - (t91 + t105))
        % P,
        (t112 + t104) % P,
        (t113 + t105) % P,
        (t65 + (t116 - t119 - (t48 + t68)) - (t112 + t35)) % P,
        (t70 + ((t114 + t117) * (t115 + t118) - (t116 + t119) - (t82 + t71)) - (t113 + t39)) % P,
    )


def _f12_sqr(x: F12) -> F12:
    a0r, a0i, a1r, a1i, a2r, a2i, a3r, a3i, a4r, a4i, a5r, a5i = x
    t0 = a0r + a1r
    t1 = a0r + (9 * a5r - a5i)
    t2 = t0 * t1
    t3 = a0i + a1i
    t4 = a0i + (a5r + 9 * a5i)
    t5 = t3 * t4
    t6 = t2 - t5
    t7 = a2r + a3r
    t8 = a4r + a5r
    t9 = t7 + t8
    t10 = a1r + a2r
    t11 = a3r + a4r
    t12 = t10 + t11
    t13 = t9 * t12
    t14 = a2i + a3i
    t15 = a4i + a5i
    t16 = t14 + t15
    t17 = a1i + a2i
    t18 = a3i + a4i
    t19 = t17 + t18
    t20 = t16 * t19
    t21 = t7 * t10
    t22 = t14 * t17
    t23 = t21 - t22
    t24 = t8 * t11
    t25 = t15 * t18
    t26 = t24 - t25
    t27 = t13 - t20 - (t23 + t26)
    t28 = (t7 + t14) * (t10 + t17) - (t21 + t22)
    t29 = (t8 + t15) * (t11 + t18) - (t24 + t25)
    t30 = (t9 + t16) * (t12 + t19) - (t13 + t20) - (t28 + t29)
    t31 = a0r * a1r
    t32 = a0i * a1i
    t33 = t31 - t32
    t34 = a2r + a4r
    t35 = a3r + a5r
    t36 = t34 * t35
    t37 = a2i + a4i
    t38 = a3i + a5i
    t39 = t37 * t38
    t40 = a2r * a3r
    t41 = a2i * a3i
    t42 = t40 - t41
    t43 = a4r * a5r
    t44 = a4i * a5i
    t45 = t43 - t44
    t46 = t36 - t39 - (t42 + t45)
    t47 = (a2r + a2i) * (a3r + a3i) - (t40 + t41)
    t48 = (a4r + a4i) * (a5r + a5i) - (t43 + t44)
    t49 = (t34 + t37) * (t35 + t38) - (t36 + t39) - (t47 + t48)
    t50 = t33 + (9 * t46 - t49)
    t51 = a0r + a4r
    t52 = a1r + a5r
    t53 = t51 * t52
    t54 = a0i + a4i
    t55 = a1i + a5i
    t56 = t54 * t55
    t57 = t42 + (t53 - t56 - (t33 + t45))
    t58 = (a0r + a0i) * (a1r + a1i) - (t31 + t32)
    t59 = t47 + ((t51 + t54) * (t52 + t55) - (t53 + t56) - (t58 + t48))
    t60 = (t0 + t3) * (t1 + t4) - (t2 + t5)
    t61 = t58 + (t46 + 9 * t49)
    t62 = t0 + t7
    t63 = t1 + t10
    t64 = t62 * t63
    t65 = t3 + t14
    t66 = t4 + t17
    t67 = t65 * t66
    t68 = a0r + a2r
    t69 = a1r + a3r
    t70 = t68 * t69
    t71 = a0i + a2i
    t72 = a1i + a3i
    t73 = t71 * t72
    t74 = t70 - t73 - (t33 + t42) + (9 * t45 - t48)
    t75 = (t68 + t71) * (t69 + t72) - (t70 + t73) - (t58 + t47) + (t45 + 9 * t48)
    t76 = t0 + t8
    t77 = t1 + t11
    t78 = t76 * t77
    t79 = t3 + t15
    t80 = t4 + t18
    t81 = t79 * t80
    return (
        (t6 + (9 * t27 - t30) - (t50 + (9 * t57 - t59))) % P,
        (t60 + (t27 + 9 * t30) - (t61 + (t57 + 9 * t59))) % P,
        (t50 + t50) % P,
        (t61 + t61) % P,
        (t64 - t67 - (t6 + t23) + (9 * t26 - t29) - (t50 + t74)) % P,
        ((t62 + t65) * (t63 + t66) - (t64 + t67) - (t60 + t28) + (t26 + 9 * t29) - (t61 + t75)) % P,
        (t74 + t74) % P,
        (t75 + t75) % P,
        (t23 + (t78 - t81 - (t6 + t26)) - (t74 + t57)) % P,
        (t28 + ((t76 + t79) * (t77 + t80) - (t78 + t81) - (t60 + t29)) - (t75 + t59)) % P,
        (t57 + t57) % P,
        (t59 + t59) % P,
    )


def _f12_cyc_sqr(x: F12) -> F12:
    a0r, a0i, a1r, a1i, a2r, a2i, a3r, a3i, a4r, a4i, a5r, a5i = x
    t0 = (a0r + a0i) * (a0r - a0i)
    t1 = (a3r + a3i) * (a3r - a3i)
    t2 = 2 * (a3r * a3i)
    t3 = 2 * (a0r * a0i)
    t4 = a2r + a5r
    t5 = a2i + a5i
    t6 = (a2r + a2i) * (a2r - a2i)
    t7 = (a5r + a5i) * (a5r - a5i)
    t8 = (t4 + t5) * (t4 - t5) - (t6 + t7)
    t9 = 2 * (a2r * a2i)
    t10 = 2 * (a5r * a5i)
    t11 = 2 * (t4 * t5) - (t9 + t10)
    t12 = (a1r + a1i) * (a1r - a1i)
    t13 = (a4r + a4i) * (a4r - a4i)
    t14 = 2 * (a4r * a4i)
    t15 = 2 * (a1r * a1i)
    t16 = a0r + a3r
    t17 = a0i + a3i
    t18 = a1r + a4r
    t19 = a1i + a4i
    return (
        (3 * (t0 + (9 * t1 - t2)) - 2 * a0r) % P,
        (3 * (t3 + (t1 + 9 * t2)) - 2 * a0i) % P,
        (3 * (9 * t8 - t11) + 2 * a1r) % P,
        (3 * (t8 + 9 * t11) + 2 * a1i) % P,
        (3 * (t12 + (9 * t13 - t14)) - 2 * a2r) % P,
        (3 * (t15 + (t13 + 9 * t14)) - 2 * a2i) % P,
        (3 * ((t16 + t17) * (t16 - t17) - (t0 + t1)) + 2 * a3r) % P,
        (3 * (2 * (t16 * t17) - (t3 + t2)) + 2 * a3i) % P,
        (3 * (t6 + (9 * t7 - t10)) - 2 * a4r) % P,
        (3 * (t9 + (t7 + 9 * t10)) - 2 * a4i) % P,
        (3 * ((t18 + t19) * (t18 - t19) - (t12 + t13)) + 2 * a5r) % P,
        (3 * (2 * (t18 * t19) - (t15 + t14)) + 2 * a5i) % P,
    )


def _f12_mul_line(x: F12, c0r: int, c0i: int, c1r: int, c1i: int, c3r: int, c3i: int) -> F12:
    a0r, a0i, a1r, a1i, a2r, a2i, a3r, a3i, a4r, a4i, a5r, a5i = x
    t0 = a0r * c0r
    t1 = a0i * c0i
    t2 = t0 - t1
    t3 = a3r * c3r
    t4 = a3i * c3i
    t5 = t3 - t4
    t6 = a1r + a5r
    t7 = c1r * t6
    t8 = a1i + a5i
    t9 = c1i * t8
    t10 = a1r * c1r
    t11 = a1i * c1i
    t12 = t10 - t11
    t13 = t5 + (t7 - t9 - t12)
    t14 = c3r + c3i
    t15 = (a3r + a3i) * t14 - (t3 + t4)
    t16 = c1r + c1i
    t17 = (a1r + a1i) * t16 - (t10 + t11)
    t18 = t15 + (t16 * (t6 + t8) - (t7 + t9) - t17)
    t19 = c0r + c0i
    t20 = (a0r + a0i) * t19 - (t0 + t1)
    t21 = a0r + a1r
    t22 = c0r + c1r
    t23 = t21 * t22
    t24 = a0i + a1i
    t25 = c0i + c1i
    t26 = t24 * t25
    t27 = t23 - t26
    t28 = a2r + a3r
    t29 = a4r + a5r
    t30 = t28 + t29
    t31 = c3r * t30
    t32 = a2i + a3i
    t33 = a4i + a5i
    t34 = t32 + t33
    t35 = c3i * t34
    t36 = c3r * t28
    t37 = c3i * t32
    t38 = t36 - t37
    t39 = t31 - t35 - t38
    t40 = t14 * (t28 + t32) - (t36 + t37)
    t41 = t14 * (t30 + t34) - (t31 + t35) - t40
    t42 = a3r + a5r
    t43 = c3r * t42
    t44 = a3i + a5i
    t45 = c3i * t44
    t46 = t43 - t45 - t5
    t47 = t14 * (t42 + t44) - (t43 + t45) - t15
    t48 = t12 + (9 * t46 - t47)
    t49 = t22 + t25
    t50 = (t21 + t24) * t49 - (t23 + t26)
    t51 = t17 + (t46 + 9 * t47)
    t52 = a0r + a2r
    t53 = c0r * t52
    t54 = a0i + a2i
    t55 = c0i * t54
    t56 = t53 - t55 - t2
    t57 = t19 * (t52 + t54) - (t53 + t55) - t20
    t58 = t21 + t28
    t59 = c3r + t22
    t60 = t58 * t59
    t61 = t24 + t32
    t62 = c3i + t25
    t63 = t61 * t62
    t64 = a1r + a3r
    t65 = c1r + c3r
    t66 = t64 * t65
    t67 = a1i + a3i
    t68 = c1i + c3i
    t69 = t67 * t68
    t70 = t66 - t69 - (t12 + t5)
    t71 = (t64 + t67) * (t65 + t68) - (t66 + t69) - (t17 + t15)
    t72 = a0r + a4r
    t73 = c0r * t72
    t74 = a0i + a4i
    t75 = c0i * t74
    t76 = t73 - t75 - t2
    t77 = t19 * (t72 + t74) - (t73 + t75) - t20
    t78 = t21 + t29
    t79 = t22 * t78
    t80 = t24 + t33
    t81 = t25 * t80
    return (
        (t2 + (9 * t13 - t18)) % P,
        (t20 + (t13 + 9 * t18)) % P,
        (t27 + (9 * t39 - t41) - (t2 + t48)) % P,
        (t50 + (t39 + 9 * t41) - (t20 + t51)) % P,
        (t56 + t48) % P,
        (t57 + t51) % P,
        (t60 - t63 - (t27 + t38) - (t56 + t70)) % P,
        ((t58 + t61) * (t59 + t62) - (t60 + t63) - (t50 + t40) - (t57 + t71)) % P,
        (t76 + t70) % P,
        (t77 + t71) % P,
        (t38 + (t79 - t81 - t27) - (t76 + t13)) % P,
        (t40 + (t49 * (t78 + t80) - (t79 + t81) - t50) - (t77 + t18)) % P,
    )


def _dbl_prep(xr: int, xi: int, yr: int, yi: int, zr: int, zi: int) -> tuple[int, ...]:
    t0 = xr * yr
    t1 = xi * yi
    t2 = 2 * ((t0 - t1) % P)
    t3 = yr + yi
    t4 = t3 * (yr - yi) % P
    t5 = zr + zi
    t6 = t5 * (zr - zi) % P
    t7 = _B3R * t6
    t8 = 2 * (zr * zi) % P
    t9 = _B3I * t8
    t10 = (t7 - t9) % P
    t11 = 3 * t10
    t12 = t4 - t11
    t13 = t2 * t12
    t14 = xr + xi
    t15 = 2 * ((t14 * t3 - (t0 + t1)) % P)
    t16 = 2 * (yr * yi) % P
    t17 = ((_B3R + _B3I) * (t6 + t8) - (t7 + t9)) % P
    t18 = 3 * t17
    t19 = t16 - t18
    t20 = t15 * t19
    t21 = t4 + t11
    t22 = t16 + t18
    t23 = yr * zr
    t24 = yi * zi
    t25 = (t23 - t24) % P
    t26 = 8 * t4
    t27 = t25 * t26
    t28 = (t3 * t5 - (t23 + t24)) % P
    t29 = 8 * t16
    t30 = t28 * t29
    return (
        (t13 - t20) % P,
        ((t2 + t15) * (t12 + t19) - (t13 + t20)) % P,
        ((t21 + t22) * (t21 - t22) - 12 * ((t10 + t17) * (t10 - t17))) % P,
        (2 * (t21 * t22) - 12 * (2 * (t10 * t17))) % P,
        (t27 - t30) % P,
        ((t26 + t29) * (t25 + t28) - (t27 + t30)) % P,
        2 * t25,
        2 * t28,
        -3 * (t14 * (xr - xi) % P),
        -3 * (2 * (xr * xi) % P),
        t4 - t10,
        t16 - t17,
    )


def _add_prep(
    xr: int, xi: int, yr: int, yi: int, zr: int, zi: int, qxr: int, qxi: int, qyr: int, qyi: int
) -> tuple[int, ...]:
    t0 = zr * qxr
    t1 = zi * qxi
    t2 = (xr - (t0 - t1)) % P
    t3 = zr + zi
    t4 = qxr + qxi
    t5 = (xi - (t3 * t4 - (t0 + t1))) % P
    t6 = t2 + t5
    t7 = t6 * (t2 - t5) % P
    t8 = t2 * t7
    t9 = 2 * (t2 * t5) % P
    t10 = t5 * t9
    t11 = (t8 - t10) % P
    t12 = zr * qyr
    t13 = zi * qyi
    t14 = (yr - (t12 - t13)) % P
    t15 = qyr + qyi
    t16 = (yi - (t15 * t3 - (t12 + t13))) % P
    t17 = t14 + t16
    t18 = t17 * (t14 - t16) % P
    t19 = zr * t18
    t20 = 2 * (t14 * t16) % P
    t21 = zi * t20
    t22 = xr * t7
    t23 = xi * t9
    t24 = (t22 - t23) % P
    t25 = t11 + (t19 - t21) % P - 2 * t24
    t26 = t2 * t25
    t27 = t7 + t9
    t28 = (t6 * t27 - (t8 + t10)) % P
    t29 = (t27 * (xr + xi) - (t22 + t23)) % P
    t30 = t28 + (t3 * (t18 + t20) - (t19 + t21)) % P - 2 * t29
    t31 = t5 * t30
    t32 = t24 - t25
    t33 = t14 * t32
    t34 = t29 - t30
    t35 = t16 * t34
    t36 = yr * t11
    t37 = yi * t28
    t38 = t11 + t28
    t39 = zr * t11
    t40 = zi * t28
    t41 = qxr * t14
    t42 = qxi * t16
    t43 = qyr * t2
    t44 = qyi * t5
    return (
        (t26 - t31) % P,
        (t6 * (t25 + t30) - (t26 + t31)) % P,
        (t33 - t35 - (t36 - t37)) % P,
        (t17 * (t32 + t34) - (t33 + t35) - ((yr + yi) * t38 - (t36 + t37))) % P,
        (t39 - t40) % P,
        (t3 * t38 - (t39 + t40)) % P,
        t2,
        t5,
        -t14,
        -t16,
        (t41 - t42 - (t43 - t44)) % P,
        (t4 * t17 - (t41 + t42) - (t15 * t6 - (t43 + t44))) % P,
    )


# --------------------------------------------------------------------------- Fp12, cold parts


def _f12_conj(x: F12) -> F12:
    """x^(p^6): negate the odd powers of w."""
    a0r, a0i, a1r, a1i, a2r, a2i, a3r, a3i, a4r, a4i, a5r, a5i = x
    return (
        a0r,
        a0i,
        -a1r % P,
        -a1i % P,
        a2r,
        a2i,
        -a3r % P,
        -a3i % P,
        a4r,
        a4i,
        -a5r % P,
        -a5i % P,
    )


def _f12_frob(x: F12) -> F12:
    """x^p."""
    out: list[int] = []
    for j in range(6):
        cr, ci = _FROB1[j]
        ar = x[2 * j]
        ai = -x[2 * j + 1]
        t0 = ar * cr
        t1 = ai * ci
        out.append((t0 - t1) % P)
        out.append(((ar + ai) * (cr + ci) - t0 - t1) % P)
    return tuple(out)  # type: ignore[return-value]


def _f12_frob2(x: F12) -> F12:
    """x^(p^2): the constants lie in Fp."""
    f = _FROB2
    return (
        x[0],
        x[1],
        x[2] * f[1] % P,
        x[3] * f[1] % P,
        x[4] * f[2] % P,
        x[5] * f[2] % P,
        x[6] * f[3] % P,
        x[7] * f[3] % P,
        x[8] * f[4] % P,
        x[9] * f[4] % P,
        x[10] * f[5] % P,
        x[11] * f[5] % P,
    )


def _f12_frob3(x: F12) -> F12:
    """x^(p^3)."""
    out: list[int] = []
    for j in range(6):
        cr, ci = _FROB3[j]
        ar = x[2 * j]
        ai = -x[2 * j + 1]
        t0 = ar * cr
        t1 = ai * ci
        out.append((t0 - t1) % P)
        out.append(((ar + ai) * (cr + ci) - t0 - t1) % P)
    return tuple(out)  # type: ignore[return-value]


def _f6_mul(a: tuple[F2, F2, F2], b: tuple[F2, F2, F2]) -> tuple[F2, F2, F2]:
    a0, a1, a2 = a
    b0, b1, b2 = b
    c0 = _f2_add(_f2_mul(a0, b0), _f2_xi(_f2_add(_f2_mul(a1, b2), _f2_mul(a2, b1))))
    c1 = _f2_add(_f2_add(_f2_mul(a0, b1), _f2_mul(a1, b0)), _f2_xi(_f2_mul(a2, b2)))
    c2 = _f2_add(_f2_add(_f2_mul(a0, b2), _f2_mul(a1, b1)), _f2_mul(a2, b0))
    return c0, c1, c2


def _f6_inv(a: tuple[F2, F2, F2]) -> tuple[F2, F2, F2]:
    a0, a1, a2 = a
    c0 = _f2_sub(_f2_sqr(a0), _f2_xi(_f2_mul(a1, a2)))
    c1 = _f2_sub(_f2_xi(_f2_sqr(a2)), _f2_mul(a0, a1))
    c2 = _f2_sub(_f2_sqr(a1), _f2_mul(a0, a2))
    n = _f2_add(_f2_mul(a0, c0), _f2_xi(_f2_add(_f2_mul(a2, c1), _f2_mul(a1, c2))))
    ni = _f2_inv(n)
    return _f2_mul(c0, ni), _f2_mul(c1, ni), _f2_mul(c2, ni)


def _f12_inv(x: F12) -> F12:
    """Inverse through Fp12 = Fp6[w]/(w^2 - v): 1/(e + o w) = (e - o w) / (e^2 - v o^2)."""
    c = [(x[2 * j], x[2 * j + 1]) for j in range(6)]
    e = (c[0], c[2], c[4])
    o = (c[1], c[3], c[5])
    ee = _f6_mul(e, e)
    oo = _f6_mul(o, o)
    d = (_f2_sub(ee[0], _f2_xi(oo[2])), _f2_sub(ee[1], oo[0]), _f2_sub(ee[2], oo[1]))
    di = _f6_inv(d)
    ne = _f6_mul(e, di)
    no = _f6_mul(o, di)
    no = (_f2_neg(no[0]), _f2_neg(no[1]), _f2_neg(no[2]))
    return (*ne[0], *no[0], *ne[1], *no[1], *ne[2], *no[2])  # type: ignore[return-value]


def _f12_pow_u(x: F12) -> F12:
    """x^u for x in the cyclotomic subgroup (inverse = conjugate), width-4 NAF of u."""
    x2 = _f12_cyc_sqr(x)
    x3 = _f12_mul(x, x2)
    x5 = _f12_mul(x3, x2)
    x7 = _f12_mul(x5, x2)
    pos = (x, x3, x5, x7)
    neg = tuple(_f12_conj(v) for v in pos)
    digits = _U_DIGITS
    d = digits[0]
    r = pos[d >> 1] if d > 0 else neg[-d >> 1]
    for d in digits[1:]:
        r = _f12_cyc_sqr(r)
        if d > 0:
            r = _f12_mul(r, pos[d >> 1])
        elif d < 0:
            r = _f12_mul(r, neg[-d >> 1])
    return r


def _final_exp(f: F12) -> F12:
    """f^((p^12 - 1) / r)."""
    # easy part: f^((p^6 - 1)(p^2 + 1))
    f = _f12_mul(_f12_conj(f), _f12_inv(f))
    f = _f12_mul(_f12_frob2(f), f)
    # hard part: f^((p^4 - p^2 + 1) / r), Scott et al. vectorial addition chain
    fu = _f12_pow_u(f)
    fu2 = _f12_pow_u(fu)
    fu3 = _f12_pow_u(fu2)
    y0 = _f12_mul(_f12_mul(_f12_frob(f), _f12_frob2(f)), _f12_frob3(f))
    y1 = _f12_conj(f)
    y2 = _f12_frob2(fu2)
    y3 = _f12_conj(_f12_frob(fu))
    y4 = _f12_conj(_f12_mul(fu, _f12_frob(fu2)))
    y5 = _f12_conj(fu2)
    y6 = _f12_conj(_f12_mul(fu3, _f12_frob(fu3)))
    t0 = _f12_mul(_f12_mul(_f12_cyc_sqr(y6), y4), y5)
    t1 = _f12_mul(_f12_mul(y3, y5), t0)
    t0 = _f12_mul(t0, y2)
    t1 = _f12_cyc_sqr(_f12_mul(_f12_cyc_sqr(t1), t0))
    t0 = _f12_mul(t1, y1)
    t1 = _f12_mul(t1, y0)
    return _f12_mul(_f12_cyc_sqr(t0), t1)


# --------------------------------------------------------------------------- Miller loop
# The loop is split in two: _g2_prepare walks T through the multiples of Q and
# records, for every step, the line as (A0, A1, C3) with "line at P" equal to
# A0*yP + A1*xP w + C3 w^3; _miller_loop then only evaluates and multiplies lines.
# The Q-only half is memoised (verifying keys reuse the same G2 points call after
# call), which also memoises Q's subgroup check.

Line = tuple[int, int, int, int, int, int]  # A0 (re, im), A1 (re, im), C3 (re, im)


def _psi_affine(q: tuple[F2, F2]) -> tuple[F2, F2]:
    x, y = q
    return _f2_mul(_f2_conj(x), _PSI_X), _f2_mul(_f2_conj(y), _PSI_Y)


def _square_schedule() -> tuple[bool, ...]:
    """For each prepared line, whether the accumulator is squared just before it."""
    out: list[bool] = []
    for i, d in enumerate(_ATE_NAF[1:]):
        out.append(i > 0)  # doubling line (no squaring of the initial 1)
        if d:
            out.append(False)  # addition line
    out += [False, False]  # lines through psi(Q) and -psi^2(Q)
    return tuple(out)


_SQUARE_BEFORE = _square_schedule()


@functools.lru_cache(maxsize=64)
def _g2_prepare(x: F2, y: F2) -> tuple[Line, ...]:
    """The Q-dependent lines of the optimal ate Miller loop for Q = (x, y).

    Q must be on the twist (checked by the caller); raises BN254Error if Q is not in
    G2, found from the [6u+2]Q that the loop computes (see _g2_check_with_ate).
    """
    qxr, qxi = x
    qyr, qyi = y
    nqyr, nqyi = -qyr % P, -qyi % P
    xr, xi, yr, yi, zr, zi = qxr, qxi, qyr, qyi, 1, 0
    lines: list[Line] = []
    for d in _ATE_NAF[1:]:
        s = _dbl_prep(xr, xi, yr, yi, zr, zi)
        xr, xi, yr, yi, zr, zi = s[:6]
        lines.append((s[6], s[7], s[8], s[9], s[10], s[11]))
        if d:
            if d == 1:
                s = _add_prep(xr, xi, yr, yi, zr, zi, qxr, qxi, qyr, qyi)
            else:
                s = _add_prep(xr, xi, yr, yi, zr, zi, qxr, qxi, nqyr, nqyi)
            xr, xi, yr, yi, zr, zi = s[:6]
            lines.append((s[6], s[7], s[8], s[9], s[10], s[11]))
    if not _g2_check_with_ate((x, y), (xr, xi, yr, yi, zr, zi)):
        raise BN254Error("G2 point not in the r-order subgroup")
    (q1xr, q1xi), (q1yr, q1yi) = _psi_affine((x, y))
    (q2xr, q2xi), (q2yr, q2yi) = _psi_affine(((q1xr, q1xi), (q1yr, q1yi)))
    s = _add_prep(xr, xi, yr, yi, zr, zi, q1xr, q1xi, q1yr, q1yi)
    lines.append((s[6], s[7], s[8], s[9], s[10], s[11]))
    xr, xi, yr, yi, zr, zi = s[:6]
    s = _add_prep(xr, xi, yr, yi, zr, zi, q2xr, q2xi, -q2yr % P, -q2yi % P)
    lines.append((s[6], s[7], s[8], s[9], s[10], s[11]))
    return tuple(lines)


def _miller_loop(pairs: list[tuple[tuple[int, int], tuple[Line, ...]]]) -> F12:
    """Product over the pairs of the optimal ate Miller functions at P (P != O)."""
    f = _ONE12
    sqr = _f12_sqr
    mul_line = _f12_mul_line
    for j, square in enumerate(_SQUARE_BEFORE):
        if square:
            f = sqr(f)
        for (px, py), lines in pairs:
            a0r, a0i, a1r, a1i, c3r, c3i = lines[j]
            f = mul_line(f, a0r * py % P, a0i * py % P, a1r * px % P, a1i * px % P, c3r, c3i)
    return f


# --------------------------------------------------------------------------- G1


def _g1_on_curve(x: int, y: int) -> bool:
    return (y * y - x * x * x - 3) % P == 0


def _j1_dbl(p: J1) -> J1:
    x, y, z = p
    if not z or not y:
        return (1, 1, 0)
    a = x * x % P
    b = y * y % P
    c = b * b % P
    d = 2 * ((x + b) * (x + b) - a - c) % P
    e = 3 * a
    x3 = (e * e - 2 * d) % P
    return x3, (e * (d - x3) - 8 * c) % P, 2 * y * z % P


def _j1_add(p: J1, q: J1) -> J1:
    x1, y1, z1 = p
    x2, y2, z2 = q
    if not z1:
        return q
    if not z2:
        return p
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2z2 % P * z2 % P
    s2 = y2 * z1z1 % P * z1 % P
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    if not h:
        if not r:
            return _j1_dbl(p)
        return (1, 1, 0)
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - s1 * hhh) % P, z1 * z2 % P * h % P


def _j1_to_affine(p: J1) -> tuple[int, int]:
    x, y, z = p
    if not z:
        return 0, 0
    zi = pow(z, -1, P)
    zz = zi * zi % P
    return x * zz % P, y * zz % P * zi % P


# GLV: phi(x, y) = (BETA x, y) acts on G1 as multiplication by LAMBDA (both cube roots of 1).
_BETA = 21888242871839275220042445260109153167277707414472061641714758635765020556616
_LAMBDA = 21888242871839275217838484774961031246154997185409878258781734729429964517155


def _glv_basis() -> tuple[tuple[int, int], tuple[int, int]]:
    """Two short vectors (a, b) with a + b*LAMBDA = 0 mod R (extended Euclid, GLV paper)."""
    r0, r1 = R, _LAMBDA
    t0, t1 = 0, 1
    bound = 1 << 127  # ~ sqrt(R)
    while r1 >= bound:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        t0, t1 = t1, t0 - q * t1
    # now r1 < sqrt(R) <= r0; candidates (r1, -t1) and the shorter of (r0, -t0), (r2, -t2)
    q = r0 // r1
    r2, t2 = r0 - q * r1, t0 - q * t1
    v1 = (r1, -t1)
    if r0 * r0 + t0 * t0 <= r2 * r2 + t2 * t2:
        v2 = (r0, -t0)
    else:
        v2 = (r2, -t2)
    return v1, v2


(_A1, _B1), (_A2, _B2G) = _glv_basis()
if _A1 * _B2G - _A2 * _B1 < 0:
    _A2, _B2G = -_A2, -_B2G
_GLV_DET = _A1 * _B2G - _A2 * _B1


def _glv_split(k: int) -> tuple[int, int]:
    """k = k1 + k2 * LAMBDA (mod R) with |k1|, |k2| about sqrt(R)."""
    c1 = (_B2G * k + _GLV_DET // 2) // _GLV_DET
    c2 = (-_B1 * k + _GLV_DET // 2) // _GLV_DET
    return k - c1 * _A1 - c2 * _A2, -c1 * _B1 - c2 * _B2G


def _wnaf(k: int, w: int) -> list[int]:
    """Width-w NAF digits of k >= 0, least significant first."""
    out: list[int] = []
    full = 1 << w
    half = full >> 1
    while k:
        if k & 1:
            d = k & (full - 1)
            if d >= half:
                d -= full
            k -= d
        else:
            d = 0
        out.append(d)
        k >>= 1
    return out


_U_DIGITS: tuple[int, ...] = tuple(reversed(_wnaf(U, 4)))  # most significant first


def _g1_mul(x: int, y: int, k: int) -> tuple[int, int]:
    """[k](x, y) for a point of G1 (not infinity), any k >= 0."""
    k %= R
    if not k:
        return 0, 0
    k1, k2 = _glv_split(k)
    y1 = y
    if k1 < 0:
        k1, y1 = -k1, -y % P
    y2 = y
    if k2 < 0:
        k2, y2 = -k2, -y % P
    # odd multiples 1P..15P of (x, y1), normalised to affine with one inversion
    base: J1 = (x, y1, 1)
    two = _j1_dbl(base)
    jac = [base]
    for _ in range(7):
        jac.append(_j1_add(jac[-1], two))
    # batch inversion of the Z's
    zs = [p[2] for p in jac]
    prefix = [1] * (len(zs) + 1)
    for i, z in enumerate(zs):
        prefix[i + 1] = prefix[i] * z % P
    inv = pow(prefix[-1], -1, P)
    aff: list[tuple[int, int]] = [(0, 0)] * len(zs)
    for i in range(len(zs) - 1, -1, -1):
        zi = inv * prefix[i] % P
        inv = inv * zs[i] % P
        zz = zi * zi % P
        aff[i] = (jac[i][0] * zz % P, jac[i][1] * zz % P * zi % P)
    # table for phi(P') where P' = (x, y2): same x scaled by beta, y's sign flipped if needed
    flip = y1 != y2
    aff2 = [(_BETA * ax % P, (P - ay) % P if flip else ay) for ax, ay in aff]
    d1 = _wnaf(k1, 5)
    d2 = _wnaf(k2, 5)
    n = max(len(d1), len(d2))
    # adds[i]: the affine points (sign applied) to add after the doubling at bit i
    adds: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for digits, table in ((d1, aff), (d2, aff2)):
        for i, d in enumerate(digits):
            if d:
                ax, ay = table[abs(d) >> 1]
                adds[i].append((ax, ay if d > 0 else P - ay))
    # accumulator in Jacobian coordinates, inlined formulas (dbl-2009-l, madd)
    x3, y3, z3 = 1, 1, 0
    for i in range(n - 1, -1, -1):
        if z3:
            a = x3 * x3 % P
            b = y3 * y3 % P
            dd = 4 * x3 * b % P
            e = 3 * a
            nx = (e * e - 2 * dd) % P
            z3 = 2 * y3 * z3 % P
            y3 = (e * (dd - nx) - 8 * b * b) % P
            x3 = nx
        for ax, ay in adds[i]:
            if not z3:
                x3, y3, z3 = ax, ay, 1
                continue
            zz = z3 * z3 % P
            h = ax * zz % P - x3
            r = ay * (zz * z3 % P) % P - y3
            if not h:
                if r:
                    x3, y3, z3 = 1, 1, 0
                else:
                    x3, y3, z3 = _j1_dbl((x3, y3, z3))
                continue
            hh = h * h % P
            hhh = h * hh % P
            v = x3 * hh % P
            nx = (r * r - hhh - 2 * v) % P
            y3 = (r * (v - nx) - y3 * hhh) % P
            z3 = z3 * h % P
            x3 = nx
    return _j1_to_affine((x3, y3, z3))


def _read_g1(data: bytes, off: int) -> tuple[int, int]:
    x = int.from_bytes(data[off : off + 32], "big")
    y = int.from_bytes(data[off + 32 : off + 64], "big")
    if x >= P or y >= P:
        raise BN254Error("G1 coordinate not below the field modulus")
    if (x or y) and not _g1_on_curve(x, y):
        raise BN254Error("G1 point not on curve")
    return x, y


def _enc_g1(x: int, y: int) -> bytes:
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


# --------------------------------------------------------------------------- G2


def _g2_on_curve(x: F2, y: F2) -> bool:
    return _f2_sqr(y) == _f2_add(_f2_mul(_f2_sqr(x), x), _B2)


def _j2_dbl(p: J2) -> J2:
    x, y, z = p
    if z == (0, 0) or y == (0, 0):
        return ((1, 0), (1, 0), (0, 0))
    a = _f2_sqr(x)
    b = _f2_sqr(y)
    c = _f2_sqr(b)
    xb = _f2_add(x, b)
    d = _f2_sub(_f2_sub(_f2_sqr(xb), a), c)
    d = _f2_add(d, d)
    e = (3 * a[0] % P, 3 * a[1] % P)
    x3 = _f2_sub(_f2_sqr(e), _f2_add(d, d))
    c8 = (8 * c[0] % P, 8 * c[1] % P)
    y3 = _f2_sub(_f2_mul(e, _f2_sub(d, x3)), c8)
    yz = _f2_mul(y, z)
    return x3, y3, _f2_add(yz, yz)


def _j2_add(p: J2, q: J2) -> J2:
    x1, y1, z1 = p
    x2, y2, z2 = q
    if z1 == (0, 0):
        return q
    if z2 == (0, 0):
        return p
    z1z1 = _f2_sqr(z1)
    z2z2 = _f2_sqr(z2)
    u1 = _f2_mul(x1, z2z2)
    u2 = _f2_mul(x2, z1z1)
    s1 = _f2_mul(_f2_mul(y1, z2), z2z2)
    s2 = _f2_mul(_f2_mul(y2, z1), z1z1)
    h = _f2_sub(u2, u1)
    r = _f2_sub(s2, s1)
    if h == (0, 0):
        if r == (0, 0):
            return _j2_dbl(p)
        return ((1, 0), (1, 0), (0, 0))
    hh = _f2_sqr(h)
    hhh = _f2_mul(h, hh)
    v = _f2_mul(u1, hh)
    x3 = _f2_sub(_f2_sub(_f2_sqr(r), hhh), _f2_add(v, v))
    y3 = _f2_sub(_f2_mul(r, _f2_sub(v, x3)), _f2_mul(s1, hhh))
    return x3, y3, _f2_mul(_f2_mul(z1, z2), h)


def _g2_check_with_ate(q: tuple[F2, F2], ate_q: tuple[int, ...]) -> bool:
    """Q in G2 iff [6u+2]Q + psi(Q) - psi^2(Q) + psi^3(Q) == O, given ate_q = [6u+2]Q.

    Why the test is exact: psi satisfies psi^2 - t psi + p = 0 (t = 6u^2 + 1).  The
    polynomial a(X) = 6u+2 + X - X^2 + X^3, reduced modulo X^2 - tX + p to
    alpha + beta X, gives the endomorphism a(psi) of degree
    N = alpha^2 + t alpha beta + p beta^2; its kernel on E'(Fp2) is a group whose
    order divides gcd(N, #E'(Fp2)), #E'(Fp2) = r (2p - r), and that gcd is r.  As
    a(p) = 0 mod r and psi acts on G2 as multiplication by p, G2 lies in the
    kernel, which on E'(Fp2) is therefore exactly G2.  (tests/evm/test_bn254.py
    recomputes these numbers.)

    ate_q comes from the Miller loop (homogeneous X/Z, Y/Z).  Its formulas
    only fail, leaving Z == 0 from then on, when some multiple [k]Q with
    1 <= k <= 6u+2 is O, +-Q or of order 2; that cannot happen in G2, so Z == 0
    means "not in G2".
    """
    xr, xi, yr, yi, zr, zi = ate_q
    z = (zr, zi)
    if z == (0, 0):
        return False
    q1 = _psi_affine(q)
    q2 = _psi_affine(q1)
    q3 = _psi_affine(q2)
    one = (1, 0)
    # S = psi^2(Q) - psi(Q) - psi^3(Q) must equal [6u+2]Q
    sx, sy, sz = _j2_add(
        _j2_add((q2[0], q2[1], one), (q1[0], _f2_neg(q1[1]), one)),
        (q3[0], _f2_neg(q3[1]), one),
    )
    if sz == (0, 0):
        return False
    szz = _f2_sqr(sz)
    if _f2_mul((xr, xi), szz) != _f2_mul(sx, z):
        return False
    return _f2_mul((yr, yi), _f2_mul(szz, sz)) == _f2_mul(sy, z)


def _read_g2(data: bytes, off: int) -> tuple[F2, F2] | None:
    """Decode an EIP-197 G2 point (imaginary part first); None for infinity.

    Checks the coordinates and the twist equation; the subgroup is checked by
    _g2_prepare.
    """
    xi = int.from_bytes(data[off : off + 32], "big")
    xr = int.from_bytes(data[off + 32 : off + 64], "big")
    yi = int.from_bytes(data[off + 64 : off + 96], "big")
    yr = int.from_bytes(data[off + 96 : off + 128], "big")
    if xi >= P or xr >= P or yi >= P or yr >= P:
        raise BN254Error("G2 coordinate not below the field modulus")
    if not (xi or xr or yi or yr):
        return None
    x = (xr, xi)
    y = (yr, yi)
    if not _g2_on_curve(x, y):
        raise BN254Error("G2 point not on the twist")
    return x, y


# --------------------------------------------------------------------------- precompiles


def _pad(data: bytes, n: int) -> bytes:
    if len(data) >= n:
        return data[:n]
    return data + bytes(n - len(data))


def ec_add(data: bytes) -> bytes:
    """ECADD (0x06): sum of two G1 points, 64-byte result."""
    data = _pad(data, 128)
    x1, y1 = _read_g1(data, 0)
    x2, y2 = _read_g1(data, 64)
    if not (x1 or y1):
        return _enc_g1(x2, y2)
    if not (x2 or y2):
        return _enc_g1(x1, y1)
    if x1 == x2:
        if y1 != y2:
            return bytes(64)
        lam = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return _enc_g1(x3, (lam * (x1 - x3) - y1) % P)


def ec_mul(data: bytes) -> bytes:
    """ECMUL (0x07): scalar multiple of a G1 point, 64-byte result."""
    data = _pad(data, 96)
    x, y = _read_g1(data, 0)
    k = int.from_bytes(data[64:96], "big")
    if not (x or y):
        return bytes(64)
    return _enc_g1(*_g1_mul(x, y, k))


def ec_pairing(data: bytes) -> bytes:
    """ECPAIRING (0x08): 32-byte 1 if the product of e(P_i, Q_i) is 1, else 0."""
    if len(data) % 192:
        raise BN254Error("pairing input length not a multiple of 192")
    pairs: list[tuple[tuple[int, int], tuple[Line, ...]]] = []
    for off in range(0, len(data), 192):
        p1 = _read_g1(data, off)
        q = _read_g2(data, off + 64)
        if q is None:
            continue
        lines = _g2_prepare(*q)  # raises unless Q is in G2
        if p1[0] or p1[1]:
            pairs.append((p1, lines))
    if not pairs:
        return (1).to_bytes(32, "big")
    return (1 if _final_exp(_miller_loop(pairs)) == _ONE12 else 0).to_bytes(32, "big")
