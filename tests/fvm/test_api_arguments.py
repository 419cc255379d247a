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
