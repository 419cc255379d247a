"""The dispatcher's parameter decoding, in process: each bad parameter is -32602 with a
message naming the argument; state overrides and access lists over the chain's own rules."""

from __future__ import annotations

from typing import Any

import pytest

from chainvm.node.devchain import DevChain, NodeError
from chainvm.node.rpc import INVALID_PARAMS, Rpc


@pytest.fixture(scope="module")
def rpc() -> Rpc:
    return Rpc(DevChain(fork="Osaka", accounts=2))


def _refused(rpc: Rpc, method: str, *params: Any) -> str:
    with pytest.raises(NodeError) as info:
        rpc.call(method, *params)
    assert info.value.code == INVALID_PARAMS, info.value
    return str(info.value)


ZERO = "0x" + "00" * 20


@pytest.mark.parametrize(("method", "params", "named"), [
    ("eth_getBlockByNumber", ["0x-1"], "argument 0: block"),
    ("eth_getBlockByNumber", ["0x 1"], "argument 0: block"),
    ("eth_getBlockByNumber", ["0x01"], "leading zero"),
    ("eth_getBlockByNumber", ["newest"], "argument 0: block"),
    ("eth_getBlockByNumber", ["latest", "yes"], "argument 1: full"),
    ("eth_getBlockByNumber", ["latest", 1], "argument 1: full"),
    ("eth_getBalance", ["0x1234"], "argument 0: address"),
    # bytes.fromhex skips whitespace: these were 20 bytes and 2 bytes of data
    ("eth_getBalance", ["0x" + "00" * 19 + "  00"], "argument 0: address: invalid hex"),
    ("eth_getBalance", [" 0x" + "00" * 20], "argument 0: address"),
    ("eth_call", [{"to": ZERO, "data": "0x60  01"}], "argument 0: tx: input: invalid hex"),
    ("eth_sendRawTransaction", ["0x  02f8"], "argument 0: raw: invalid hex"),
    ("eth_getBalance", [ZERO, "0x1" + "0" * 64], "argument 1: block"),
    ("eth_getStorageAt", [ZERO, "slot"], "argument 1: slot"),
    ("eth_feeHistory", ["0x2", "latest", [50, 10]], "argument 2: percentiles"),
    ("eth_feeHistory", ["0x2", "latest", [150]], "argument 2: percentiles"),
    ("eth_call", [{"to": "0x12"}], "argument 0: tx: to"),
    ("eth_call", [{"gas": "0x" + "f" * 17}], "gas: quantity above 64 bits"),
    ("eth_call", [{"data": "0x00", "input": "0x01"}], "both data and input"),
    ("eth_call", [{"accessList": [{"address": "0x1"}]}], "accessList[0].address"),
    ("anvil_setNonce", [ZERO, hex(2**64)], "argument 1: nonce"),
    ("evm_setNextBlockTimestamp", [2**64], "argument 0: timestamp"),
    ("evm_setNextBlockTimestamp", ["0x" + "1" + "0" * 16], "argument 0: timestamp"),
    ("evm_increaseTime", [-1], "argument 0: seconds"),
    ("evm_increaseTime", [2**64 - 1000], "argument 0: seconds"),
    ("anvil_reset", [{"forking": {"jsonRpcUrl": "http://127.0.0.1:1",
                                  "blockNumber": 2**70}}], "forking.blockNumber"),
    ("anvil_reset", [{"forking": {"jsonRpcUrl": "http://127.0.0.1:1",
                                  "blockNumber": -1}}], "forking.blockNumber"),
    ("evm_setIntervalMining", [1e-9], "argument 0: seconds: 1e-09 is below 0.001"),
    ("evm_setIntervalMining", [0.0009], "argument 0: seconds"),
    ("eth_chainId", [1], "too many arguments"),
    ("eth_getBalance", [], "missing value for required argument 0 (address)"),
])
def test_bad_parameters_are_named(rpc: Rpc, method: str, params: list[Any],
                                  named: str) -> None:
    assert named in _refused(rpc, method, *params)


def test_null_takes_the_default(rpc: Rpc) -> None:
    assert rpc.call("eth_getBlockByNumber", "latest", None)["number"] == "0x0"
    assert rpc.call("eth_getBalance", ZERO, None) == "0x0"


def test_a_bare_block_hash_names_the_block(rpc: Rpc) -> None:
    """geth's BlockNumberOrHash: a 66-character hex string is a hash, not a quantity."""
    genesis = rpc.call("eth_getBlockByNumber", "0x0", False)["hash"]
    account = rpc.call("eth_accounts")[0]
    assert rpc.call("eth_getBalance", account, genesis) == \
        rpc.call("eth_getBalance", account, "0x0")
    assert rpc.call("eth_getBlockReceipts", genesis) == []
    with pytest.raises(NodeError, match="header not found"):
        rpc.call("eth_getBalance", account, "0x" + "00" * 31 + "01")
    assert "invalid hex" in _refused(rpc, "eth_getBalance", account, "0x" + "zz" * 32)


SLOAD_0 = "0x600054" + "60005260206000f3"  # return storage slot 0
SLOAD_1 = "0x600154" + "60005260206000f3"  # return storage slot 1


def test_state_overrides_go_through_the_state(rpc: Rpc) -> None:
    dev = rpc.dev
    target = b"\x77" * 20
    dev.set_code(target, bytes.fromhex(SLOAD_1[2:]))
    dev.set_storage(target, 1, 9)
    root = dev.state().state_root()
    call = {"to": "0x" + target.hex()}
    assert int(rpc.call("eth_call", call), 16) == 9
    # stateDiff keeps the other slots; state replaces the whole storage.
    diff = {"0x" + target.hex(): {"stateDiff": {"0x0": "0x" + "00" * 31 + "05"}}}
    assert int(rpc.call("eth_call", call, "latest", diff), 16) == 9
    whole = {"0x" + target.hex(): {"state": {"0x0": "0x" + "00" * 31 + "05"}}}
    assert int(rpc.call("eth_call", call, "latest", whole), 16) == 0
    with_code = {"0x" + target.hex(): {"code": SLOAD_0, "state": {"0x0": "0x" + "00" * 31 + "05"}}}
    assert int(rpc.call("eth_call", call, "latest", with_code), 16) == 5
    # The head state is untouched.
    assert dev.state().get_storage(target, 1) == 9 and dev.state().state_root() == root


def test_access_lists_leave_out_every_precompile_of_the_fork(rpc: Rpc) -> None:
    """Osaka's P256VERIFY sits at 0x100, past the old 0x01..0x11 range."""
    dev = rpc.dev
    caller = b"\x66" * 20
    # STATICCALL(gas, 0x100, 0, 0, 0, 0) then STATICCALL(gas, 0x4242..., ...); STOP
    other = "42" * 20
    code = bytes.fromhex("6000600060006000610100" + "5afa50"
                         + "60006000600060007342" + other[2:] + "5afa5000")
    dev.set_code(caller, code)
    out = rpc.call("eth_createAccessList", {"to": "0x" + caller.hex()})
    listed = [e["address"] for e in out["accessList"]]
    assert listed == ["0x" + other]


def test_no_block_is_stamped_past_64_bits() -> None:
    rpc = Rpc(DevChain(accounts=1))
    assert rpc.call("evm_setNextBlockTimestamp", 2**64 - 1) is None
    rpc.call("evm_mine")
    with pytest.raises(NodeError, match="above 2"):
        rpc.call("evm_mine")
    assert rpc.call("eth_blockNumber") == "0x1"


def test_interval_mining_takes_a_millisecond_and_zero() -> None:
    rpc = Rpc(DevChain(accounts=1))
    assert rpc.call("evm_setIntervalMining", 0.001) is True
    assert rpc.dev.block_time == 0.001
    assert rpc.call("evm_setIntervalMining", 0) is True
    assert rpc.dev.block_time is None


def test_sends_fail_once_no_block_can_be_mined() -> None:
    """Without automine, a send after a block at 2^64-1 seconds returned a hash and sat
    in the pool for good: no later block can be stamped."""
    rpc = Rpc(DevChain(accounts=1))
    me = "0x" + rpc.dev.accounts[0].hex()
    rpc.call("evm_setAutomine", False)
    rpc.call("evm_setNextBlockTimestamp", 2**64 - 1)
    rpc.call("eth_sendTransaction", {"from": me, "to": ZERO})  # the last block holds it
    rpc.call("evm_mine")
    with pytest.raises(NodeError, match="next block's timestamp would be past 2"):
        rpc.call("eth_sendTransaction", {"from": me, "to": ZERO})
    assert rpc.call("txpool_status") == {"pending": "0x0", "queued": "0x0"}


def test_time_increases_add_up_to_64_bits() -> None:
    """Each increase was checked against the head's time alone, so two of 2^63 moved the
    clock past 2^64-1."""
    rpc = Rpc(DevChain(accounts=1))
    rpc.call("evm_increaseTime", 2**63)
    assert "argument 0: seconds" in _refused(rpc, "evm_increaseTime", 2**63)
    rpc.call("evm_mine")
