"""eth_config (EIP-7910): the dev chain's fork configuration, and the fork hashes
(EIP-6122/EIP-2124) of mainnet's schedule, whose published values the mainnet rows check."""

from __future__ import annotations

import zlib

import pytest

from chainvm.chain.config import mainnet_config
from chainvm.evm.forks import get_fork
from chainvm.node.devchain import DevChain
from chainvm.node.rpc import Rpc
from chainvm.node.rpc.forkconfig import eth_config

MAINNET_GENESIS = bytes.fromhex(
    "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3")
MAINNET_GENESIS_TIME = 1_438_269_973


def test_a_dev_chain_at_osaka() -> None:
    dev = DevChain(fork="Osaka", accounts=1)
    config = Rpc(dev).call("eth_config")
    current = config["current"]
    genesis = dev.chain.get_block_by_number(0)
    assert genesis is not None
    assert current["forkId"] == f"0x{zlib.crc32(genesis.hash):08x}"  # every fork at genesis
    assert (current["activationTime"], current["chainId"]) == (0, "0x7a69")
    assert current["precompiles"]["P256VERIFY"] == "0x" + "00" * 18 + "0100"
    assert current["precompiles"]["ECREC"] == "0x" + "00" * 19 + "01"
    assert len(current["precompiles"]) == 18
    assert sorted(current["systemContracts"]) == [
        "BEACON_ROOTS_ADDRESS", "CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS",
        "DEPOSIT_CONTRACT_ADDRESS", "HISTORY_STORAGE_ADDRESS",
        "WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS"]
    assert set(current["blobSchedule"]) == {"baseFeeUpdateFraction", "max", "target"}
    assert config["next"] is None and config["last"] is None


def test_before_cancun_there_is_no_blob_schedule() -> None:
    current = Rpc(DevChain(fork="Shanghai", accounts=1)).call("eth_config")["current"]
    assert current["blobSchedule"] is None and current["systemContracts"] == {}
    assert "KZG_POINT_EVALUATION" not in current["precompiles"]


@pytest.mark.parametrize(("fork", "now", "current", "upcoming"), [
    ("Shanghai", 1_700_000_000, "0xdce96c2d", ("0x9f3d2254", "0xc376cf8b")),
    ("Cancun", 1_720_000_000, "0x9f3d2254", ("0xc376cf8b", "0xc376cf8b")),
    ("Prague", 1_750_000_000, "0xc376cf8b", None),
])
def test_mainnet_fork_hashes(fork: str, now: int, current: str,
                             upcoming: tuple[str, str] | None) -> None:
    config = eth_config(mainnet_config(), MAINNET_GENESIS, MAINNET_GENESIS_TIME,
                        get_fork(fork), now)
    assert config["current"]["forkId"] == current
    if upcoming is None:
        assert config["next"] is None and config["last"] is None
    else:
        assert (config["next"]["forkId"], config["last"]["forkId"]) == upcoming
        assert config["next"]["activationTime"] > now
