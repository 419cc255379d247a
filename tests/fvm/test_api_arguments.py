"""Wrong argument types at the Python API's entry points are a clear TypeError or
ValueError, not an AttributeError or OverflowError from deep inside."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chainvm.fvm.address import Address
from chainvm.fvm.api import Network
from chainvm.fvm.codec import CID, dumps


@pytest.fixture(scope="module")
def net() -> Network:
    return Network(network_version=4)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda n: n.balance("f0101"), TypeError, "Wallet or an Address"),
        (lambda n: n.balance(5), TypeError, "Wallet or an Address"),
        (lambda n: n.send(n.faucet, b"\x00\x01", 1), TypeError, "Wallet or an Address"),
        (lambda n: n.send("f0100", n.faucet, 1), TypeError, "sender must be a Wallet"),
        (lambda n: n.apply_block(miner="f0101"), TypeError, "Wallet or an Address"),
        (lambda n: n.apply_block(win_count=10**30), ValueError, "win_count"),
        (lambda n: n.apply_block(win_count=0), ValueError, "win_count"),
        (lambda n: n.send(n.faucet, n.faucet, 1.5), TypeError, "value"),
        (lambda n: n.send(n.faucet, n.faucet, -1), ValueError, "value"),
        (lambda n: n.send(n.faucet, n.faucet, 1, gas_limit=0), ValueError, "gas_limit"),
        (lambda n: n.send(n.faucet, n.faucet, 1, premium=-1), ValueError, "premium"),
        (lambda n: n.send(n.faucet, n.faucet, 1, fee_cap=-1), ValueError, "fee_cap"),
        (lambda n: n.send(n.faucet, n.faucet, 1, params="x"), TypeError, "params"),
        (lambda n: n.advance(-5), ValueError, "epochs"),
        (lambda n: n.advance(1.5), TypeError, "epochs"),
        (lambda n: Network(base_fee=-1), ValueError, "base_fee"),
        (lambda n: Network(epoch=2**63), ValueError, "epoch"),
        (lambda n: n.paych_to_send(n.faucet.address), ValueError, "not a paymentchannel"),
        (lambda n: n.worker_of(n.faucet.address), ValueError, "not a miner"),
        (lambda n: Network(network_version="4"), TypeError, "network_version"),
        (lambda n: dumps(2**64), ValueError, "64 bits"),
        (lambda n: dumps(-(2**64) - 1), ValueError, "64 bits"),
        (lambda n: Address.from_bytes(5), TypeError, "bytes"),
        (lambda n: Address.parse(5), TypeError, "string"),
        (lambda n: CID.parse(5), TypeError, "string"),
    ],
)
def test_wrong_argument(
    net: Network, call: Callable[[Network], Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call(net)


def test_the_largest_head_still_encodes() -> None:
    assert dumps(2**64 - 1) == b"\x1b" + b"\xff" * 8
    assert dumps(-(2**64)) == b"\x3b" + b"\xff" * 8


def test_v0_miner_helpers_refuse_what_is_not_a_miner() -> None:
    """IndexError, KeyError and OverflowError came out of these for a non-miner, a
    deadline past the last or a sector number outside int64."""
    net = Network(network_version=3)
    owner = net.create_account(balance=10**22)
    miner, _ = net.create_miner(owner, worker_balance=10**19)
    for call, error, match in (
            (lambda: net.proving_deadline(owner.address), ValueError, "not a storageminer"),
            (lambda: net.sector_location(owner.address, 0), ValueError, "not a storageminer"),
            (lambda: net.submit_window_post(owner, miner, 99, [0]), ValueError, "deadline"),
            (lambda: net.pre_commit_sector(owner, miner, -1, 10**6), ValueError, "sector"),
            (lambda: net.pre_commit_sector(owner, miner, 2**64, 10**6), ValueError, "sector")):
        with pytest.raises(error, match=match):
            call()


def test_a_block_that_fails_leaves_the_epoch() -> None:
    """apply_block moved the epoch on before the tipset applied: a failed block (here,
    a miner address with no actor) left the network an epoch ahead of its state."""
    net = Network(network_version=4)
    epoch, root = net.epoch, net.root
    with pytest.raises(Exception, match="f02"):
        net.apply_block(miner=net.new_wallet().address)
    assert (net.epoch, net.root) == (epoch, root)
    net.apply_block()
    assert net.epoch == epoch + 1
