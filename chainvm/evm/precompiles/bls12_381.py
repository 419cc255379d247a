"""BLS12-381 precompiles of EIP-2537 (Prague, addresses 0x0b to 0x11).

The curve arithmetic, subgroup checks, multi-scalar multiplication, pairing
and the SSWU map to the curve come from the native `py-arkworks-bls12381`
package; this module does the EIP's byte-level rules itself:

* a base-field element is 64 bytes, big-endian, whose top 16 bytes are zero
  and whose value is below the field modulus p;
* a G1 point is x || y (128 bytes), a G2 point is x || y with each Fp2
  coordinate written c0 || c1 (256 bytes); all zeros is the point at
  infinity, and every other point must lie on its curve;
* points of the two multi-scalar multiplications and of the pairing check
  must be in the prime-order subgroup; the two additions accept any point on
  the curve;
* a scalar is 32 bytes, big-endian, and may exceed the group order.

Every run function raises PrecompileFailure on invalid input, which burns all
gas of the call. A gas function never raises; when the input length is one
the precompile rejects outright, it charges 0, as the execution specs do
(they fail before charging), and the run function then fails.

The library is imported on first use, so chainvm imports without it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

from chainvm.evm.errors import PrecompileFailure

# Base-field modulus and prime group order of BLS12-381.
P = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf"
    "6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)
R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001

FP_SIZE = 64  # encoded base-field element
SCALAR_SIZE = 32
G1_SIZE = 2 * FP_SIZE
G2_SIZE = 4 * FP_SIZE
G1_MSM_ITEM = G1_SIZE + SCALAR_SIZE  # 160
G2_MSM_ITEM = G2_SIZE + SCALAR_SIZE  # 288
PAIRING_ITEM = G1_SIZE + G2_SIZE  # 384

G1ADD_GAS = 375
G1MUL_GAS = 12000
G2ADD_GAS = 600
G2MUL_GAS = 22500
MAP_FP_TO_G1_GAS = 5500
MAP_FP2_TO_G2_GAS = 23800
PAIRING_BASE_GAS = 37700
PAIRING_PER_PAIR_GAS = 32600
MSM_DISCOUNT_DENOMINATOR = 1000

# Per-mille MSM discounts from the EIP, indexed by k - 1; any k beyond the
# table uses its last entry.
# fmt: off
G1_MSM_DISCOUNT: tuple[int, ...] = (
    1000, 949, 848, 797, 764, 750, 738, 728, 719, 712, 705, 698, 692, 687, 682, 677,
    673, 669, 665, 661, 658, 654, 651, 648, 645, 642, 640, 637, 635, 632, 630, 627,
    625, 623, 621, 619, 617, 615, 613, 611, 609, 608, 606, 604, 603, 601, 599, 598,
    596, 595, 593, 592, 591, 589, 588, 586, 585, 584, 582, 581, 580, 579, 577, 576,
    575, 574, 573, 572, 570, 569, 568, 567, 566, 565, 564, 563, 562, 561, 560, 559,
    558, 557, 556, 555, 554, 553, 552, 551, 550, 549, 548, 547, 547, 546, 545, 544,
    543, 542, 541, 540, 540, 539, 538, 537, 536, 536, 535, 534, 533, 532, 532, 531,
    530, 529, 528, 528, 527, 526, 525, 525, 524, 523, 522, 522, 521, 520, 520, 519,
)
G2_MSM_DISCOUNT: tuple[int, ...] = (
    1000, 1000, 923, 884, 855, 832, 812, 796, 782, 770, 759, 749, 740, 732, 724, 717,
    711, 704, 699, 693, 688, 683, 679, 674, 670, 666, 663, 659, 655, 652, 649, 646,
    643, 640, 637, 634, 632, 629, 627, 624, 622, 620, 618, 615, 613, 611, 609, 607,
    606, 604, 602, 600, 598, 597, 595, 593, 592, 590, 589, 587, 586, 584, 583, 582,
    580, 579, 578, 576, 575, 574, 573, 571, 570, 569, 568, 567, 566, 565, 563, 562,
    561, 560, 559, 558, 557, 556, 555, 554, 553, 552, 552, 551, 550, 549, 548, 547,
    546, 545, 545, 544, 543, 542, 541, 541, 540, 539, 538, 537, 537, 536, 535, 535,
    534, 533, 532, 532, 531, 530, 530, 529, 528, 528, 527, 526, 526, 525, 524, 524,
)
# fmt: on

_ZERO_PAD = bytes(FP_SIZE - 48)
_P_BYTES = P.to_bytes(48, "big")
_TRUE_WORD = (1).to_bytes(32, "big")
_FALSE_WORD = bytes(32)


@cache
def _ark() -> ModuleType:
    import py_arkworks_bls12381

    return py_arkworks_bls12381


# --- decoding -------------------------------------------------------------


def _fp(data: bytes, offset: int, what: str) -> bytes:
    """The 48-byte big-endian form of the field element encoded at offset."""
    if data[offset : offset + 16] != _ZERO_PAD:
        raise PrecompileFailure(f"{what}: field element has non-zero top 16 bytes")
    value = data[offset + 16 : offset + FP_SIZE]
    # Equal-length big-endian strings compare like the integers they encode.
    if value >= _P_BYTES:
        raise PrecompileFailure(f"{what}: field element not below the modulus")
    return value


def _g1(data: bytes, offset: int, subgroup: bool, what: str) -> Any:
    raw = _fp(data, offset, what) + _fp(data, offset + FP_SIZE, what)
    try:
        point = _ark().G1Point.from_xy_bytes_unchecked_be(raw)  # on-curve check only
    except ValueError:  # the library rejects off-curve points with ValueError
        raise PrecompileFailure(f"{what}: G1 point not on the curve") from None
    if subgroup and not point.is_in_subgroup():
        raise PrecompileFailure(f"{what}: G1 point not in the subgroup")
    return point


def _g2(data: bytes, offset: int, subgroup: bool, what: str) -> Any:
    raw = b"".join(_fp(data, offset + i * FP_SIZE, what) for i in range(4))
    try:
        point = _ark().G2Point.from_xy_bytes_unchecked_be(raw)  # on-curve check only
    except ValueError:  # the library rejects off-curve points with ValueError
        raise PrecompileFailure(f"{what}: G2 point not on the curve") from None
    if subgroup and not point.is_in_subgroup():
        raise PrecompileFailure(f"{what}: G2 point not in the subgroup")
    return point


def _scalar(data: bytes, offset: int) -> Any:
    # Reducing modulo the group order is exact: MSM points are in the subgroup.
    return _ark().Scalar.from_be_bytes_mod_order(data[offset : offset + SCALAR_SIZE])


# --- encoding -------------------------------------------------------------


def _widen(raw: bytes) -> bytes:
    """Library output (48-byte coordinates) to EIP encoding (64-byte ones)."""
    return b"".join(_ZERO_PAD + raw[i : i + 48] for i in range(0, len(raw), 48))


def _enc_g1(point: Any) -> bytes:
    return _widen(point.to_xy_bytes_be())  # infinity comes out as all zeros


def _enc_g2(point: Any) -> bytes:
    return _widen(point.to_xy_bytes_be())


# --- gas --------------------------------------------------------------------


def _msm_gas(length: int, item: int, per_point: int, table: tuple[int, ...]) -> int:
    k, rest = divmod(length, item)
    if k == 0 or rest:
        return 0
    return k * per_point * table[min(k, len(table)) - 1] // MSM_DISCOUNT_DENOMINATOR


def g1add_gas(data: bytes) -> int:
    return G1ADD_GAS if len(data) == 2 * G1_SIZE else 0


def g2add_gas(data: bytes) -> int:
    return G2ADD_GAS if len(data) == 2 * G2_SIZE else 0


def g1msm_gas(data: bytes) -> int:
    return _msm_gas(len(data), G1_MSM_ITEM, G1MUL_GAS, G1_MSM_DISCOUNT)


def g2msm_gas(data: bytes) -> int:
    return _msm_gas(len(data), G2_MSM_ITEM, G2MUL_GAS, G2_MSM_DISCOUNT)


def pairing_gas(data: bytes) -> int:
    k, rest = divmod(len(data), PAIRING_ITEM)
    if k == 0 or rest:
        return 0
    return PAIRING_PER_PAIR_GAS * k + PAIRING_BASE_GAS


def map_fp_to_g1_gas(data: bytes) -> int:
    return MAP_FP_TO_G1_GAS if len(data) == FP_SIZE else 0


def map_fp2_to_g2_gas(data: bytes) -> int:
    return MAP_FP2_TO_G2_GAS if len(data) == 2 * FP_SIZE else 0


# --- run ------------------------------------------------------------------


def g1add(data: bytes) -> bytes:
    data = bytes(data)
    if len(data) != 2 * G1_SIZE:
        raise PrecompileFailure("g1add: input must be 256 bytes")
    a = _g1(data, 0, False, "g1add")
    b = _g1(data, G1_SIZE, False, "g1add")
    return _enc_g1(a + b)


def g2add(data: bytes) -> bytes:
    data = bytes(data)
    if len(data) != 2 * G2_SIZE:
        raise PrecompileFailure("g2add: input must be 512 bytes")
    a = _g2(data, 0, False, "g2add")
    b = _g2(data, G2_SIZE, False, "g2add")
    return _enc_g2(a + b)


def _check_items(data: bytes, item: int, what: str) -> int:
    k, rest = divmod(len(data), item)
    if k == 0 or rest:
        raise PrecompileFailure(f"{what}: input must be a non-zero multiple of {item} bytes")
    return k


def g1msm(data: bytes) -> bytes:
    data = bytes(data)
    k = _check_items(data, G1_MSM_ITEM, "g1msm")
    points = []
    scalars = []
    for i in range(k):
        at = i * G1_MSM_ITEM
        points.append(_g1(data, at, True, "g1msm"))
        scalars.append(_scalar(data, at + G1_SIZE))
    if k == 1:
        return _enc_g1(points[0] * scalars[0])
    return _enc_g1(_ark().G1Point.multiexp_unchecked(points, scalars))


def g2msm(data: bytes) -> bytes:
    data = bytes(data)
    k = _check_items(data, G2_MSM_ITEM, "g2msm")
    points = []
    scalars = []
    for i in range(k):
        at = i * G2_MSM_ITEM
        points.append(_g2(data, at, True, "g2msm"))
        scalars.append(_scalar(data, at + G2_SIZE))
    if k == 1:
        return _enc_g2(points[0] * scalars[0])
    return _enc_g2(_ark().G2Point.multiexp_unchecked(points, scalars))


def pairing(data: bytes) -> bytes:
    data = bytes(data)
    k = _check_items(data, PAIRING_ITEM, "pairing")
    g1s = []
    g2s = []
    for i in range(k):
        at = i * PAIRING_ITEM
        g1s.append(_g1(data, at, True, "pairing"))
        g2s.append(_g2(data, at + G1_SIZE, True, "pairing"))
    return _TRUE_WORD if _ark().GT.pairing_check(g1s, g2s) else _FALSE_WORD


def map_fp_to_g1(data: bytes) -> bytes:
    data = bytes(data)
    if len(data) != FP_SIZE:
        raise PrecompileFailure("map_fp_to_g1: input must be 64 bytes")
    u = _fp(data, 0, "map_fp_to_g1")
    return _enc_g1(_ark().G1Point.map_from_fp_be(u))


def map_fp2_to_g2(data: bytes) -> bytes:
    data = bytes(data)
    if len(data) != 2 * FP_SIZE:
        raise PrecompileFailure("map_fp2_to_g2: input must be 128 bytes")
    u = _fp(data, 0, "map_fp2_to_g2") + _fp(data, FP_SIZE, "map_fp2_to_g2")  # c0 || c1
    return _enc_g2(_ark().G2Point.map_from_fp2_be(u))


GasFn = Callable[[bytes], int]
RunFn = Callable[[bytes], bytes]

PRECOMPILES: dict[int, tuple[GasFn, RunFn]] = {
    0x0B: (g1add_gas, g1add),
    0x0C: (g1msm_gas, g1msm),
    0x0D: (g2add_gas, g2add),
    0x0E: (g2msm_gas, g2msm),
    0x0F: (pairing_gas, pairing),
    0x10: (map_fp_to_g1_gas, map_fp_to_g1),
    0x11: (map_fp2_to_g2_gas, map_fp2_to_g2),
}
