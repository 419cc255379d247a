"""Price lists and the gas-outputs / over-estimation-burn computation."""

from __future__ import annotations

from dataclasses import dataclass

from chainvm.fvm.types import GasChargeRecord, GasOutputs

SIG_BLS = 2
SIG_SECP256K1 = 1

GAS_OVERUSE_NUM = 11
GAS_OVERUSE_DENOM = 10


@dataclass(frozen=True)
class PriceList:
    compute_gas_multi: int = 1
    storage_gas_multi: int = 1000

    on_chain_message_compute_base: int = 38863
    on_chain_message_storage_base: int = 36
    on_chain_message_storage_per_byte: int = 1
    on_chain_return_value_per_byte: int = 1

    send_base: int = 29233
    send_transfer_funds: int = 27500
    send_transfer_only_premium: int = 159672
    send_invoke_method: int = -5377

    ipld_get_base: int = 75242
    ipld_put_base: int = 84070
    ipld_put_per_byte: int = 1

    create_actor_compute: int = 1108454
    create_actor_storage: int = 36 + 40
    delete_actor: int = -(36 + 40)

    verify_sig_bls: int = 16598605
    verify_sig_secp256k1: int = 1637292
    hashing_base: int = 31355
    compute_unsealed_sector_cid_base: int = 98647
    verify_seal_base: int = 2000
    verify_consensus_fault: int = 495422

    def _charge(self, name: str, compute: int, storage: int) -> GasChargeRecord:
        return GasChargeRecord(
            name, compute * self.compute_gas_multi, storage * self.storage_gas_multi, storage
        )

    def on_chain_message(self, size: int) -> GasChargeRecord:
        return self._charge(
            "OnChainMessage",
            self.on_chain_message_compute_base,
            self.on_chain_message_storage_base + self.on_chain_message_storage_per_byte * size,
        )

    def on_chain_return_value(self, size: int) -> GasChargeRecord:
        return self._charge("OnChainReturnValue", 0, size * self.on_chain_return_value_per_byte)

    def on_method_invocation(self, value: int, method: int) -> GasChargeRecord:
        gas = self.send_base
        if value != 0:
            gas += self.send_transfer_funds
            if method == 0:
                gas += self.send_transfer_only_premium
        if method != 0:
            gas += self.send_invoke_method
        return self._charge("OnMethodInvocation", gas, 0)

    def on_ipld_get(self) -> GasChargeRecord:
        return self._charge("OnIpldGet", self.ipld_get_base, 0)

    def on_ipld_put(self, size: int) -> GasChargeRecord:
        return self._charge("OnIpldPut", self.ipld_put_base, size * self.ipld_put_per_byte)

    def on_create_actor(self) -> GasChargeRecord:
        return self._charge("OnCreateActor", self.create_actor_compute, self.create_actor_storage)

    def on_delete_actor(self) -> GasChargeRecord:
        return self._charge("OnDeleteActor", 0, self.delete_actor)

    def on_verify_signature(self, sig_type: int) -> GasChargeRecord:
        cost = self.verify_sig_bls if sig_type == SIG_BLS else self.verify_sig_secp256k1
        return self._charge("OnVerifySignature", cost, 0)

    def on_compute_unsealed_sector_cid(self) -> GasChargeRecord:
        return self._charge("OnComputeUnsealedSectorCid", self.compute_unsealed_sector_cid_base, 0)

    def on_verify_consensus_fault(self) -> GasChargeRecord:
        return self._charge("OnVerifyConsensusFault", self.verify_consensus_fault, 0)

    def on_hashing(self) -> GasChargeRecord:
        return self._charge("OnHashing", self.hashing_base, 0)


GENESIS_PRICES = PriceList()
# Calico (network version 7) raised the storage multiplier and repriced
# block reads and writes; no vector of the archive runs at those epochs
CALICO_PRICES = PriceList(storage_gas_multi=1300, ipld_get_base=114617, ipld_put_base=353640)


def compute_over_estimation_burn(gas_used: int, gas_limit: int) -> tuple[int, int]:
    """Return (gas refunded, gas burned) for the unused part of the limit."""
    if gas_used == 0:
        return 0, gas_limit
    over = gas_limit - (GAS_OVERUSE_NUM * gas_used) // GAS_OVERUSE_DENOM
    if over < 0:
        return gas_limit - gas_used, 0
    over = min(over, gas_used)
    # Go's big.Div truncates toward zero; every operand here is non-negative
    to_burn = (gas_limit - gas_used) * over // gas_used
    return gas_limit - gas_used - to_burn, to_burn


def compute_gas_outputs(
    gas_used: int,
    gas_limit: int,
    base_fee: int,
    fee_cap: int,
    premium: int,
    charge_network_fee: bool = True,
) -> GasOutputs:
    out = GasOutputs()
    base_fee_to_pay = base_fee
    if base_fee > fee_cap:
        base_fee_to_pay = fee_cap
        out.miner_penalty = (base_fee - fee_cap) * gas_used
    if charge_network_fee:
        out.base_fee_burn = base_fee_to_pay * gas_used
    miner_tip = premium
    if base_fee_to_pay + miner_tip > fee_cap:
        miner_tip = fee_cap - base_fee_to_pay
    out.miner_tip = miner_tip * gas_limit
    out.gas_refund, out.gas_burned = compute_over_estimation_burn(gas_used, gas_limit)
    if out.gas_burned != 0:
        out.over_estimation_burn = base_fee_to_pay * out.gas_burned
        out.miner_penalty += (base_fee - base_fee_to_pay) * out.gas_burned
    required = gas_limit * fee_cap
    out.refund = required - out.base_fee_burn - out.miner_tip - out.over_estimation_burn
    return out
