"""Precompiled contracts: for each address a (gas function, run function) pair.

A run function returns the output or raises PrecompileFailure, which burns
all gas given to the call, like any exceptional halt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from chainvm.evm.precompiles import basic

if TYPE_CHECKING:
    from chainvm.evm.forks import Rules

GasFn = Callable[[bytes], int]
RunFn = Callable[[bytes], bytes]
Precompile = tuple[GasFn, RunFn]


def _addr(n: int) -> bytes:
    return n.to_bytes(20, "big")


def precompiles_for(rules: Rules, signature_overrides: Mapping[bytes, bytes] | None = None
                    ) -> dict[bytes, Precompile]:
    """The precompile set of a fork with these rules (see chainvm.evm.forks); with
    `signature_overrides` (Fork.signature_overrides), an ECRECOVER that answers them."""
    from chainvm.evm.precompiles import bn254_gas, kzg, modexp

    table: dict[bytes, Precompile] = {
        _addr(1): (basic.ecrecover_gas, basic.ecrecover if signature_overrides is None
                   else basic.ecrecover_with_overrides(signature_overrides)),
        _addr(2): (basic.sha256_gas, basic.sha256),
        _addr(3): (basic.ripemd160_gas, basic.ripemd160),
        _addr(4): (basic.identity_gas, basic.identity),
    }
    if rules.eip198:
        if rules.eip7823:  # EIP-7823 input bounds, EIP-7883 repricing
            table[_addr(5)] = (modexp.gas_eip7883, modexp.run_eip7823)
        elif rules.eip2565:
            table[_addr(5)] = (modexp.gas_eip2565, modexp.run)
        else:
            table[_addr(5)] = (modexp.gas_eip198, modexp.run)
    if rules.eip196:
        if rules.eip1108:  # EIP-1108 repricing
            table[_addr(6)] = (bn254_gas.add_gas_istanbul, bn254_gas.run_add)
            table[_addr(7)] = (bn254_gas.mul_gas_istanbul, bn254_gas.run_mul)
        else:
            table[_addr(6)] = (bn254_gas.add_gas_byzantium, bn254_gas.run_add)
            table[_addr(7)] = (bn254_gas.mul_gas_byzantium, bn254_gas.run_mul)
    if rules.eip197:
        if rules.eip1108:
            table[_addr(8)] = (bn254_gas.pairing_gas_istanbul, bn254_gas.run_pairing)
        else:
            table[_addr(8)] = (bn254_gas.pairing_gas_byzantium, bn254_gas.run_pairing)
    if rules.eip152:
        table[_addr(9)] = (basic.blake2f_gas, basic.blake2f)
    if rules.eip4844:
        table[_addr(10)] = (kzg.point_evaluation_gas, kzg.point_evaluation)
    if rules.eip2537:
        from chainvm.evm.precompiles import bls12_381

        for number, pair in bls12_381.PRECOMPILES.items():
            table[_addr(number)] = pair
    if rules.eip7951:
        from chainvm.evm.precompiles import p256

        table[_addr(0x100)] = (p256.p256verify_gas, p256.p256verify)
    return table
