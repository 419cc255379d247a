"""Precompiled contracts: for each address a (gas function, run function) pair.

A run function returns the output or raises PrecompileFailure, which burns
all gas given to the call, like any exceptional halt.
"""

from __future__ import annotations

from collections.abc import Callable

from chainvm.evm.precompiles import basic

GasFn = Callable[[bytes], int]
RunFn = Callable[[bytes], bytes]
Precompile = tuple[GasFn, RunFn]


def _addr(n: int) -> bytes:
    return n.to_bytes(20, "big")


def precompiles_for(ordinal: int) -> dict[bytes, Precompile]:
    """The precompile set of the fork with this ordinal (see chainvm.evm.forks)."""
    from chainvm.evm import forks as F
    from chainvm.evm.precompiles import bn254_gas, kzg, modexp

    table: dict[bytes, Precompile] = {
        _addr(1): (basic.ecrecover_gas, basic.ecrecover),
        _addr(2): (basic.sha256_gas, basic.sha256),
        _addr(3): (basic.ripemd160_gas, basic.ripemd160),
        _addr(4): (basic.identity_gas, basic.identity),
    }
    if ordinal >= F.BYZANTIUM:
        if ordinal >= F.OSAKA:  # EIP-7823 input bounds, EIP-7883 repricing
            table[_addr(5)] = (modexp.gas_eip7883, modexp.run_eip7823)
        elif ordinal >= F.BERLIN:
            table[_addr(5)] = (modexp.gas_eip2565, modexp.run)
        else:
            table[_addr(5)] = (modexp.gas_eip198, modexp.run)
        if ordinal >= F.ISTANBUL:  # EIP-1108 repricing
            table[_addr(6)] = (bn254_gas.add_gas_istanbul, bn254_gas.run_add)
            table[_addr(7)] = (bn254_gas.mul_gas_istanbul, bn254_gas.run_mul)
            table[_addr(8)] = (bn254_gas.pairing_gas_istanbul, bn254_gas.run_pairing)
        else:
            table[_addr(6)] = (bn254_gas.add_gas_byzantium, bn254_gas.run_add)
            table[_addr(7)] = (bn254_gas.mul_gas_byzantium, bn254_gas.run_mul)
            table[_addr(8)] = (bn254_gas.pairing_gas_byzantium, bn254_gas.run_pairing)
    if ordinal >= F.ISTANBUL:
        table[_addr(9)] = (basic.blake2f_gas, basic.blake2f)  # EIP-152
    if ordinal >= F.CANCUN:
        table[_addr(10)] = (kzg.point_evaluation_gas, kzg.point_evaluation)  # EIP-4844
    if ordinal >= F.PRAGUE:  # EIP-2537
        from chainvm.evm.precompiles import bls12_381

        for number, pair in bls12_381.PRECOMPILES.items():
            table[_addr(number)] = pair
    if ordinal >= F.OSAKA:
        from chainvm.evm.precompiles import p256

        table[_addr(0x100)] = (p256.p256verify_gas, p256.p256verify)  # EIP-7951
    return table
