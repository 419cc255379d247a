"""web3_ and net_: who the node is."""

from __future__ import annotations

from typing import ClassVar

from chainvm.crypto import keccak256
from chainvm.node.rpc.base import Namespace, immediate
from chainvm.node.rpc.format import d, q
from chainvm.node.rpc.params import Data
from chainvm.version import chainvm_version


def client_version() -> str:
    """What web3_clientVersion answers, as anvil's "anvil/v1.7.1" and geth's
    "Geth/v1.16.0-stable/linux-amd64/go1.24.4" do (read when asked: the installed
    version's lookup imports importlib.metadata, which nothing else at start-up loads)."""
    return f"chainvm/v{chainvm_version()}/python"


class Web3Api(Namespace):
    prefixes = ("web3_", "net_")
    aliases: ClassVar[dict[str, str]] = {"eth_networkId": "net_version"}  # anvil's name

    @immediate
    def web3_clientVersion(self) -> str:
        return client_version()

    def web3_sha3(self, data: Data) -> str:
        return d(keccak256(data))

    @immediate
    def net_version(self) -> str:
        return str(self.dev.chain_id)

    @immediate
    def net_listening(self) -> bool:
        return True

    @immediate
    def net_peerCount(self) -> str:
        return q(0)
