"""EIP-4844's blob base fee, and the excess blob gas it refuses to compute."""

from __future__ import annotations

import pytest

from chainvm.evm.forks import get_fork
from chainvm.evm.gas import BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN
from chainvm.evm.transaction import (
    MAX_EXCESS_BLOB_GAS_RATIO,
    ExcessBlobGasTooLarge,
    blob_base_fee,
)


def test_blob_base_fee_follows_the_eip_series() -> None:
    fraction = BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN
    assert blob_base_fee(0) == 1
    assert blob_base_fee(fraction) == 2  # e ** 1, rounded down by the integer series
    assert blob_base_fee(10 * fraction) == 22026  # e ** 10 = 22026.47


@pytest.mark.parametrize("fork_name", ["Cancun", "Prague", "Osaka"])
def test_excess_blob_gas_past_the_bound_is_refused(fork_name: str) -> None:
    """One unit of gas past the bound, as for 2 ** 64 - 1, the series (about e * ratio
    steps, each longer than the last) is not started."""
    fork = get_fork(fork_name)
    bound = MAX_EXCESS_BLOB_GAS_RATIO * fork.blob_base_fee_update_fraction
    for excess in (bound + 1, 2 ** 64 - 1):
        with pytest.raises(ExcessBlobGasTooLarge, match="excess blob gas"):
            blob_base_fee(excess, fork)


def test_excess_blob_gas_at_the_bound_is_computed() -> None:
    """At the bound the fee is still computed exactly (far above any uint256 fee cap),
    so every value a chain or a test's blob parameters can reach stays as the EIP says."""
    fee = blob_base_fee(MAX_EXCESS_BLOB_GAS_RATIO * BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN)
    assert fee.bit_length() == 23638  # e ** 16384 = 2 ** 23637.1
