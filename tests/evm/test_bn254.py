"""alt_bn128 precompiles (EIP-196/197) against py_ecc as an oracle."""

from __future__ import annotations

import math
import random

import pytest
from py_ecc import bn128 as b
from py_ecc import optimized_bn128 as ob

from chainvm.evm.precompiles import bn254 as m
from chainvm.evm.precompiles.bn254 import BN254Error, ec_add, ec_mul, ec_pairing

P = int(m.P)  # the module's is a gmpy2 mpz where gmpy2 is installed; py_ecc takes ints
R = m.R
rng = random.Random(0xB254)

G1Pt = tuple[b.FQ, b.FQ] | None
G2Pt = tuple[b.FQ2, b.FQ2] | None


def w(n: object) -> bytes:
    return int(n).to_bytes(32, "big")  # type: ignore[call-overload]


def enc1(pt: G1Pt) -> bytes:
    if pt is None:
        return bytes(64)
    return w(int(pt[0])) + w(int(pt[1]))


def enc2(pt: G2Pt) -> bytes:
    if pt is None:
        return bytes(128)
    x, y = pt
    return w(x.coeffs[1]) + w(x.coeffs[0]) + w(y.coeffs[1]) + w(y.coeffs[0])


def raw2(x: tuple[int, int], y: tuple[int, int]) -> bytes:
    """EIP-197 encoding of twist coordinates given as (real, imaginary)."""
    return w(x[1]) + w(x[0]) + w(y[1]) + w(y[0])


def rand_g1() -> G1Pt:
    return b.multiply(b.G1, rng.randrange(1, R))


def fp2_sqrt(a: tuple[int, int]) -> tuple[int, int] | None:
    """Square root in Fp2 = Fp[i]/(i^2+1) (p = 3 mod 4), None if a is not a square."""
    a0, a1 = a
    n = (a0 * a0 + a1 * a1) % P
    s = pow(n, (P + 1) // 4, P)
    if s * s % P != n:
        return None
    half = pow(2, -1, P)
    for t in ((a0 + s) * half % P, (a0 - s) * half % P):
        x0 = pow(t, (P + 1) // 4, P)
        if x0 * x0 % P == t and x0:
            x1 = a1 * pow(2 * x0, -1, P) % P
            assert m._f2_sqr((x0, x1)) == (a0 % P, a1 % P)
            return x0, x1
    if a1 == 0:  # a0 a non-square in Fp: sqrt is purely imaginary
        x1 = pow(-a0 % P, (P + 1) // 4, P)
        if x1 * x1 % P == -a0 % P:
            return 0, x1
    return None


def random_twist_point() -> tuple[tuple[int, int], tuple[int, int]]:
    """A point on the twist y^2 = x^3 + 3/(9+i); almost surely outside G2."""
    while True:
        x = (rng.randrange(P), rng.randrange(P))
        r0, r1 = m._f2_add(m._f2_mul(m._f2_sqr(x), x), m._B2)
        y = fp2_sqrt((int(r0), int(r1)))
        if y is not None:
            return x, y


# --------------------------------------------------------------------------- constants


def test_constants() -> None:
    assert P == b.field_modulus and R == b.curve_order
    for j in range(6):
        g = m._f2_pow(m._XI, j * (P * P - 1) // 6)
        assert g == (m._FROB2[j], 0)
    assert pow(m._BETA, 3, P) == 1 and pow(m._LAMBDA, 3, R) == 1
    assert m._g1_mul(1, 2, m._LAMBDA) == (m._BETA, 2)
    assert (m._A1 + m._LAMBDA * m._B1) % R == 0 and (m._A2 + m._LAMBDA * m._B2G) % R == 0
    for _ in range(20):
        k = rng.randrange(R)
        k1, k2 = m._glv_split(k)
        assert (k1 + k2 * m._LAMBDA - k) % R == 0
        assert abs(k1) < 1 << 128 and abs(k2) < 1 << 128


def test_fp12_tower_against_reference() -> None:
    def ref_mul(x: m.F12, y: m.F12) -> m.F12:
        out = [(0, 0)] * 11
        for i in range(6):
            for j in range(6):
                prod = m._f2_mul((x[2 * i], x[2 * i + 1]), (y[2 * j], y[2 * j + 1]))
                out[i + j] = m._f2_add(out[i + j], prod)
        res: list[int] = []
        for k in range(6):
            c = out[k]
            if k + 6 < 11:
                c = m._f2_add(c, m._f2_xi(out[k + 6]))
            res.extend(c)
        return tuple(res)  # type: ignore[return-value]

    x: m.F12 = tuple(rng.randrange(P) for _ in range(12))  # type: ignore[assignment]
    y: m.F12 = tuple(rng.randrange(P) for _ in range(12))  # type: ignore[assignment]
    assert m._f12_mul(x, y) == ref_mul(x, y)
    assert m._f12_sqr(x) == ref_mul(x, x)
    line = (y[0], y[1], y[2], y[3], 0, 0, y[6], y[7], 0, 0, 0, 0)
    assert m._f12_mul_line(x, y[0], y[1], y[2], y[3], y[6], y[7]) == ref_mul(x, line)
    assert m._f12_mul(x, m._f12_inv(x)) == m._ONE12
    # Frobenius maps agree with each other
    assert m._f12_frob(m._f12_frob(x)) == m._f12_frob2(x)
    assert m._f12_frob(m._f12_frob2(x)) == m._f12_frob3(x)
    # cyclotomic squaring on an element of the cyclotomic subgroup
    c = m._f12_mul(m._f12_conj(x), m._f12_inv(x))
    c = m._f12_mul(m._f12_frob2(c), c)
    assert m._f12_cyc_sqr(c) == m._f12_sqr(c)
    assert m._f12_pow_u(c) == pow_ref(c, m.U, ref_mul)


def pow_ref(x: m.F12, e: int, mul: object) -> m.F12:
    r = m._ONE12
    for bit in bin(e)[2:]:
        r = mul(r, r)  # type: ignore[operator]
        if bit == "1":
            r = mul(r, x)  # type: ignore[operator]
    return r


def test_gt_value_matches_py_ecc() -> None:
    a = rng.randrange(1, R)
    q = ob.normalize(ob.multiply(ob.G2, a))
    x, y = q
    qi = ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))
    f = m._final_exp(m._miller_loop([((1, 2), m._g2_prepare(*qi))]))
    # py_ecc: Fp12 = Fp[w]/(w^12 - 18 w^6 + 82) with i = w^6 - 9
    coeffs = [0] * 12
    for k in range(6):
        re, im = f[2 * k], f[2 * k + 1]
        coeffs[k] = (re - 9 * im) % P
        coeffs[k + 6] = im
    assert [int(c) for c in ob.pairing(ob.multiply(ob.G2, a), ob.G1).coeffs] == coeffs


# --------------------------------------------------------------------------- ECADD


def test_add_random() -> None:
    for _ in range(10):
        p1, p2 = rand_g1(), rand_g1()
        assert ec_add(enc1(p1) + enc1(p2)) == enc1(b.add(p1, p2))


def test_add_edge_cases() -> None:
    p1 = rand_g1()
    assert ec_add(b"") == bytes(64)
    assert ec_add(enc1(p1)) == enc1(p1)  # second point padded to infinity
    assert ec_add(bytes(64) + enc1(p1)) == enc1(p1)
    assert ec_add(enc1(p1) + enc1(p1)) == enc1(b.double(p1))
    assert ec_add(enc1(p1) + enc1(b.neg(p1))) == bytes(64)
    assert ec_add(enc1(p1) + enc1(p1) + b"\xff" * 40) == enc1(b.double(p1))  # truncated
    g = enc1(b.G1)
    with pytest.raises(BN254Error):  # padding turns y = 2 into y = 0: off the curve
        ec_add(g + g[:63])
    assert ec_add(g + bytes(10)) == g


@pytest.mark.parametrize(
    "data",
    [
        w(P) + w(0) + bytes(64),  # x == p
        w(1) + w(2 + P) + bytes(64),  # y >= p
        bytes(64) + w(1) + w(3),  # not on curve
        w(0) + w(1) + bytes(64),
        w(1) + w(2) + w(2**256 - 1) + w(2),
    ],
)
def test_add_invalid(data: bytes) -> None:
    with pytest.raises(BN254Error):
        ec_add(data)


# --------------------------------------------------------------------------- ECMUL


def test_mul_random() -> None:
    pt = rand_g1()
    for k in [rng.randrange(2**256) for _ in range(6)] + [rng.randrange(2**64)]:
        assert ec_mul(enc1(pt) + w(k)) == enc1(b.multiply(pt, k % R))


@pytest.mark.parametrize(
    "k",
    [0, 1, 2, 3, 15, 16, 17, R - 1, R, R + 1, 2 * R, 2**256 - 1, 2**255, 2**128 - 1]
    + [m._LAMBDA, R - m._LAMBDA, m._LAMBDA + 1, m._LAMBDA * 3 % R, 31 * m._LAMBDA % R],
)
def test_mul_edge_scalars(k: int) -> None:
    pt = b.multiply(b.G1, 0x1234567)
    assert ec_mul(enc1(pt) + w(k)) == enc1(b.multiply(pt, k % R))


def test_mul_edge_inputs() -> None:
    assert ec_mul(bytes(64) + w(12345)) == bytes(64)
    assert ec_mul(b"") == bytes(64)
    g = enc1(b.G1)
    assert ec_mul(g) == bytes(64)  # scalar padded to zero
    assert ec_mul(g + b"\x02") == enc1(b.multiply(b.G1, 2 << 248))  # right-padded scalar
    assert ec_mul(g + w(5) + b"junk") == enc1(b.multiply(b.G1, 5))
    with pytest.raises(BN254Error):
        ec_mul(w(1) + w(3) + w(1))
    with pytest.raises(BN254Error):
        ec_mul(w(P + 1) + w(2) + w(1))


# --------------------------------------------------------------------------- ECPAIRING

G2_GEN = enc2(b.G2)
TRUE = w(1)
FALSE = w(0)


def test_pairing_empty_and_length() -> None:
    assert ec_pairing(b"") == TRUE
    for n in (1, 191, 193, 383):
        with pytest.raises(BN254Error):
            ec_pairing(bytes(n))
    assert ec_pairing(bytes(192)) == TRUE
    assert ec_pairing(bytes(384)) == TRUE


def test_pairing_bilinearity() -> None:
    a, c = rng.randrange(1, R), rng.randrange(1, R)
    pa = b.multiply(b.G1, a)
    qc = b.multiply(b.G2, c)
    # e(aP, cQ) * e(-acP, Q) == 1
    ok = enc1(pa) + enc2(qc) + enc1(b.neg(b.multiply(b.G1, a * c % R))) + G2_GEN
    assert ec_pairing(ok) == TRUE
    bad = enc1(pa) + enc2(qc) + enc1(b.multiply(b.G1, a * c % R)) + G2_GEN
    assert ec_pairing(bad) == FALSE
    # e(aP, cQ) == e(cP, aQ) through the G2 side as well
    ok2 = enc1(pa) + enc2(qc) + enc1(b.neg(b.multiply(b.G1, c))) + enc2(b.multiply(b.G2, a))
    assert ec_pairing(ok2) == TRUE
    assert ec_pairing(enc1(pa) + enc2(qc)) == FALSE
    # infinity in either slot contributes 1
    assert ec_pairing(bytes(64) + enc2(qc) + ok) == TRUE
    assert ec_pairing(enc1(pa) + bytes(128) + ok) == TRUE
    assert ec_pairing(enc1(pa) + bytes(128)) == TRUE


def test_pairing_three_pairs() -> None:
    a, c, d = (rng.randrange(1, R) for _ in range(3))
    # e(aP, Q) e(cP, Q) e(-(a+c)P, Q) == 1 and with a different third G2 point
    data = (
        enc1(b.multiply(b.G1, a))
        + G2_GEN
        + enc1(b.multiply(b.G1, c))
        + G2_GEN
        + enc1(b.neg(b.multiply(b.G1, (a + c) * d % R)))
        + enc2(b.multiply(b.G2, pow(d, -1, R)))
    )
    assert ec_pairing(data) == TRUE


def test_pairing_invalid_g1() -> None:
    for g1 in (w(1) + w(3), w(P) + w(2), w(1) + w(P + 2)):
        with pytest.raises(BN254Error):
            ec_pairing(g1 + G2_GEN)
        with pytest.raises(BN254Error):
            ec_pairing(g1 + bytes(128))  # still validated next to an infinity


def test_pairing_invalid_g2_coordinates_and_curve() -> None:
    g = enc1(b.G1)
    for i in range(4):
        bad = bytearray(G2_GEN)
        bad[32 * i : 32 * i + 32] = w(P + 1)
        with pytest.raises(BN254Error):
            ec_pairing(g + bytes(bad))
    bad = bytearray(G2_GEN)
    bad[127] ^= 1
    with pytest.raises(BN254Error):
        ec_pairing(g + bytes(bad))
    with pytest.raises(BN254Error):  # swapped real/imaginary order is not on the twist
        x, y = b.G2
        ec_pairing(g + w(x.coeffs[0]) + w(x.coeffs[1]) + w(y.coeffs[0]) + w(y.coeffs[1]))
    with pytest.raises(BN254Error):
        ec_pairing(bytes(64) + bytes(96) + w(1))


# Generic twist arithmetic for the oracle side of the G2 tests.


def j2_mul(pt: m.J2, k: int) -> m.J2:
    acc: m.J2 = ((1, 0), (1, 0), (0, 0))
    for bit in bin(k)[2:]:
        acc = m._j2_dbl(acc)
        if bit == "1":
            acc = m._j2_add(acc, pt)
    return acc


def j2_psi(pt: m.J2) -> m.J2:
    x, y, z = pt
    return (
        m._f2_mul(m._f2_conj(x), m._PSI_X),
        m._f2_mul(m._f2_conj(y), m._PSI_Y),
        m._f2_conj(z),
    )


def j2_affine(pt: m.J2) -> tuple[tuple[int, int], tuple[int, int]]:
    x, y, z = pt
    zi = m._f2_inv(z)
    zi2 = m._f2_sqr(zi)
    return m._f2_mul(x, zi2), m._f2_mul(m._f2_mul(y, zi2), zi)


def test_g2_subgroup_check() -> None:
    cofactor = 2 * P - R
    for _ in range(3):
        x, y = random_twist_point()
        q = (b.FQ2([x[0], x[1]]), b.FQ2([y[0], y[1]]))
        assert b.is_on_curve(q, b.b2)
        jq: m.J2 = (x, y, (1, 0))
        # the twist has r * (2p - r) points: the test's premise
        assert j2_mul(j2_mul(jq, cofactor), R)[2] == (0, 0)
        assert j2_mul(jq, R)[2] != (0, 0)  # not in G2
        with pytest.raises(BN254Error):
            m._g2_prepare(x, y)
        with pytest.raises(BN254Error):
            ec_pairing(enc1(b.G1) + raw2(x, y))
        with pytest.raises(BN254Error):  # also next to an infinite G1 point
            ec_pairing(bytes(64) + raw2(x, y))
        # clearing the cofactor lands in G2, which must be accepted
        ax, ay = j2_affine(j2_mul(jq, cofactor))
        m._g2_prepare(ax, ay)
        assert ec_pairing(enc1(b.G1) + raw2(ax, ay) + enc1(b.neg(b.G1)) + raw2(ax, ay)) == TRUE
        assert ec_pairing(bytes(64) + raw2(ax, ay)) == TRUE


def test_g2_small_order_point_rejected() -> None:
    # the twist cofactor 2p - r = 10069 * (a 241-bit prime): a point of order 10069
    # drives the Miller loop's point arithmetic through its exceptional cases
    cofactor = 2 * P - R
    assert cofactor % 10069 == 0
    while True:
        jq = j2_mul((*random_twist_point(), (1, 0)), R * cofactor // 10069)
        if jq[2] != (0, 0):
            break
    assert j2_mul(jq, 10069)[2] == (0, 0)
    x, y = j2_affine(jq)
    assert m._g2_on_curve(x, y)
    for g1 in (enc1(b.G1), bytes(64)):
        with pytest.raises(BN254Error):
            ec_pairing(g1 + raw2(x, y))


def test_g2_prepare_memoised() -> None:
    m._g2_prepare.cache_clear()
    data = enc1(b.G1) + G2_GEN + enc1(b.neg(b.G1)) + G2_GEN
    assert ec_pairing(data) == TRUE
    assert ec_pairing(data) == TRUE
    info = m._g2_prepare.cache_info()
    assert info.misses == 1 and info.hits == 3
    x, y = random_twist_point()
    for _ in range(2):  # failures are not memoised
        with pytest.raises(BN254Error):
            ec_pairing(enc1(b.G1) + raw2(x, y))
    assert m._g2_prepare.cache_info().currsize == 1


def test_subgroup_test_polynomial() -> None:
    """The number theory behind _g2_check_with_ate."""
    u = m.U
    t = 6 * u * u + 1
    order = R * (2 * P - R)
    poly = [6 * u + 2, 1, -1, 1]
    assert sum(c * pow(P, i, R) for i, c in enumerate(poly)) % R == 0
    while len(poly) > 2:  # reduce modulo X^2 - t X + p
        c = poly.pop()
        poly[-1] += c * t
        poly[-2] -= c * P
    alpha, beta = poly
    degree = alpha * alpha + t * alpha * beta + P * beta * beta
    assert math.gcd(degree, order) == R


def test_psi_characteristic_polynomial() -> None:
    # psi^2 - t psi + p == 0 on the whole twist group, not only on G2
    t = 6 * m.U * m.U + 1
    x, y = random_twist_point()
    q: m.J2 = (x, y, (1, 0))
    lhs = j2_affine(m._j2_add(j2_psi(j2_psi(q)), j2_mul(q, P)))
    assert lhs == j2_affine(j2_mul(j2_psi(q), t))


# EIP-197 vectors as used by go-ethereum's precompile tests (bn256Pairing.json).
_G2STD = (
    "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2"
    "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed"
    "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b"
    "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa"
)
_G2NEG = (
    "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2"
    "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed"
    "275dc4a288d1afb3cbb1ac09187524c7db36395df7be3b99e673b13a075a65ec"
    "1d9befcd05a5323e6da4d435f3b617cdb3af83285c2df711ef39c01571827f9d"
)
_ONE_G1 = "00" * 31 + "01" + "00" * 31 + "02"
_JEFF1_HEAD = (
    "1c76476f4def4bb94541d57ebba1193381ffa7aa76ada664dd31c16024c43f59"
    "3034dd2920f673e204fee2811c678745fc819b55d3e9d294e45c9b03a76aef41"
    "209dd15ebff5d46c4bd888e51a93cf99a7329636c63514396b4a452003a35bf7"
    "04bf11ca01483bfa8b34b43561848d28905960114c8ac04049af4b6315a41678"
    "2bb8324af6cfc93537a2ad1a445cfd0ca2a71acd7ac41fadbf933c2a51be344d"
    "120a2a4cf30c1bf9845f20c6fe39e07ea2cce61f0c9bb048165fe5e4de877550"
    "111e129f1cf1097710d41c4ac70fcdfa5ba2023c6ff1cbeac322de49d1b6df7c"
)
VECTORS = [
    (
        "jeff1",
        _JEFF1_HEAD + "2032c61a830e3c17286de9462bf242fca2883585b93870a73853face6a6bf411" + _G2STD,
        1,
    ),
    (
        "jeff6",
        _JEFF1_HEAD + "103188585e2364128fe25c70558f1560f4f9350baf3959e603cc91486e110936" + _G2STD,
        0,
    ),
    ("one_point", _ONE_G1 + _G2STD, 0),
    ("two_point_match_2", _ONE_G1 + _G2STD + _ONE_G1 + _G2NEG, 1),
    (
        "two_point_match_3",
        _ONE_G1 + "203e205db4f19b37b60121b83a7333706db86431c6d835849957ed8c3928ad79"
        "27dc7234fd11d3e8c36c59277c3e6f149d5cd3cfa9a62aee49f8130962b4b3b9"
        "195e8aa5b7827463722b8c153931579d3505566b4edf48d498e185f0509de152"
        "04bb53b8977e5f92a0bc372742c4830944a59b4fe6b1c0466e2a6dad122b5d2e"
        "030644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd3"
        "1a76dae6d3272396d0cbe61fced2bc532edac647851e3ac53ce1cc9c7e645a83" + _G2STD,
        1,
    ),
    (
        "two_point_match_4",
        "105456a333e6d636854f987ea7bb713dfd0ae8371a72aea313ae0c32c0bf1016"
        "0cf031d41b41557f3e7e3ba0c51bebe5da8e6ecd855ec50fc87efcdeac168bcc"
        "0476be093a6d2b4bbf907172049874af11e1b6267606e00804d3ff0037ec57fd"
        "3010c68cb50161b7d1d96bb71edfec9880171954e56871abf3d93cc94d745fa1"
        "14c059d74e5b6c4ec14ae5864ebe23a71781d86c29fb8fb6cce94f70d3de7a21"
        "01b33461f39d9e887dbb100f170a2345dde3c07e256d1dfa2b657ba5cd030427"
        + _ONE_G1
        + "1a2c3013d2ea92e13c800cde68ef56a294b883f6ac35d25f587c09b1b3c635f7"
        "290158a80cd3d66530f74dc94c94adb88f5cdb481acca997b6e60071f08a115f"
        "2f997f3dbd66a7afe07fe7862ce239edba9e05c5afff7f8a1259c9733b2dfbb9"
        "29d1691530ca701b4a106054688728c9972c8512e9789e9567aae23e302ccd75",
        1,
    ),
]


@pytest.mark.parametrize("name,hexdata,expected", VECTORS, ids=[v[0] for v in VECTORS])
def test_pairing_vectors(name: str, hexdata: str, expected: int) -> None:
    assert ec_pairing(bytes.fromhex(hexdata)) == w(expected)


def test_written_out_frobenius_constants_are_the_derived_ones() -> None:
    from chainvm.evm.precompiles import bn254

    assert (bn254._FROB1, bn254._FROB2, bn254._FROB3) == bn254.frobenius_constants()
    assert bn254._PSI_X == bn254._FROB1[2] and bn254._PSI_Y == bn254._FROB1[3]
