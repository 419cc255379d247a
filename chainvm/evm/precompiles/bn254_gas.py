"""alt_bn128 precompiles 0x06-0x08: prices (EIP-196/197, EIP-1108) and error mapping."""

from __future__ import annotations

from chainvm.evm.errors import PrecompileFailure


def add_gas_byzantium(data: bytes) -> int:
    return 500


def add_gas_istanbul(data: bytes) -> int:
    return 150


def mul_gas_byzantium(data: bytes) -> int:
    return 40000


def mul_gas_istanbul(data: bytes) -> int:
    return 6000


def pairing_gas_byzantium(data: bytes) -> int:
    return 100000 + 80000 * (len(data) // 192)


def pairing_gas_istanbul(data: bytes) -> int:
    return 45000 + 34000 * (len(data) // 192)


def _impl():  # type: ignore[no-untyped-def]
    from chainvm.evm.precompiles import bn254

    return bn254


def run_add(data: bytes) -> bytes:
    bn = _impl()
    try:
        return bn.ec_add(data)
    except bn.BN254Error as exc:
        raise PrecompileFailure(f"bn254 add: {exc}") from None


def run_mul(data: bytes) -> bytes:
    bn = _impl()
    try:
        return bn.ec_mul(data)
    except bn.BN254Error as exc:
        raise PrecompileFailure(f"bn254 mul: {exc}") from None


def run_pairing(data: bytes) -> bytes:
    bn = _impl()
    try:
        return bn.ec_pairing(data)
    except bn.BN254Error as exc:
        raise PrecompileFailure(f"bn254 pairing: {exc}") from None
