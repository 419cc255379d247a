"""Message.from_bytes checks the CBOR type and range of every field."""

from __future__ import annotations

from typing import Any

import pytest

from chainvm.fvm.address import Address
from chainvm.fvm.api import FIL, Network
from chainvm.fvm.codec import DecodeError, RawCbor, dumps
from chainvm.fvm.types import Message

GOOD = Message(
    to=Address.new_id(101), from_=Address.new_id(100), nonce=3, value=10**18,
    gas_limit=1_000_000, gas_fee_cap=200, gas_premium=100, method=2, params=b"\x80",
)


def _with(index: int, value: Any) -> bytes:
    fields = GOOD.to_cbor()
    fields[index] = value
    return dumps(fields)


def test_a_good_message_round_trips() -> None:
    assert Message.from_bytes(GOOD.serialize()) == GOOD


@pytest.mark.parametrize(
    ("index", "value", "field"),
    [
        (0, None, "version"),
        (0, [], "version"),
        (0, -1, "version"),
        (0, True, "version"),
        (1, 5, "to"),
        (1, "t0101", "to"),
        (2, 5, "from"),
        (2, [], "from"),
        (3, b"\x01", "nonce"),
        (3, -1, "nonce"),
        (3, "3", "nonce"),
        (4, 5, "value"),
        (4, b"\x00" + b"\xff" * 200, "value"),
        (5, b"\x01", "gas_limit"),
        (5, 1 << 63, "gas_limit"),
        (5, RawCbor(b"\x3b" + (1 << 63).to_bytes(8, "big")), "gas_limit"),
        (6, 7, "gas_fee_cap"),
        (7, b"\x02\x01", "gas_premium"),
        (8, -1, "method"),
        (8, [2], "method"),
        (9, [], "params"),
        (9, "x", "params"),
    ],
)
def test_a_wrong_field_is_a_decode_error(index: int, value: Any, field: str) -> None:
    # these used to give TypeError/OverflowError deep in the VM, or to be accepted
    with pytest.raises(DecodeError, match=field):
        Message.from_bytes(_with(index, value))


def test_a_bad_address_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="address"):
        Message.from_bytes(_with(1, b"\x09\x00"))


def test_a_message_that_is_not_ten_fields() -> None:
    with pytest.raises(DecodeError):
        Message.from_bytes(dumps([0] * 9))


# A method's parameters of the wrong shape are a parameter decoding failure (the exit code
# lotus gives when cbor-gen refuses them), found before the method runs: SubmitWindowedPoSt's
# proofs were passed on unchecked and failed inside the PoSt verification as a TypeError.
@pytest.mark.parametrize("proofs", [7, [7], [[3]], [[3, "proof"]], [["three", b"proof"]]])
def test_window_post_proofs_of_the_wrong_shape(proofs: Any) -> None:
    from chainvm.fvm.actors.miner import _decode_window_post

    good = [0, [[0, b""]], [[3, b"proof"]], 10, b"rand"]
    assert _decode_window_post(dumps(good))[2] == [[3, b"proof"]]
    with pytest.raises(DecodeError, match="PoSt proof"):
        _decode_window_post(dumps([*good[:2], proofs, *good[3:]]))


def test_window_post_skipped_set_past_what_decode_expands() -> None:
    """A skipped set of 5,000,000 sectors is more than bitfield.decode expands, and more
    than any partition holds: it stands as the impossible member the containment check
    refuses (as lotus refuses it), not as a decoding error."""
    from chainvm.fvm import bitfield
    from chainvm.fvm.actors.miner import _decode_window_post

    huge = bitfield.encode_ranges([(0, 5_000_000)])
    decoded = _decode_window_post(dumps([0, [[0, huge]], [[3, b"proof"]], 10, b"rand"]))
    assert decoded[1] == [(0, {-1})]


@pytest.mark.parametrize(("nv", "params"), [(4, b"\x00\x05"), (0, [b"\x00\x05", b""])])
def test_miner_method_14_refuses_the_other_versions_params(nv: int, params: Any) -> None:
    """Method 14 is ApplyRewards([reward, penalty]) in v2 and AddLockedFund(amount) in v0:
    the other shape is a parameter decoding failure (it was an internal TypeError in v2)."""
    net = Network(network_version=nv)
    alice = net.create_account(balance=10_000 * FIL)
    miner, _ = net.create_miner(alice)
    ret = net.send(alice, miner, 0, 14, dumps(params))
    assert ret.receipt.exit_code == net.profile.param_decode_exit_code
    assert "failed to decode parameters" in ret.error
