"""eth-tester's own backend suite (`BaseTestBackendDirect`) on ChainvmBackend."""

from __future__ import annotations

import pytest

pytest.importorskip("eth_tester")

from eth_tester import EthereumTester
from eth_tester.utils.backend_testing import BaseTestBackendDirect

from chainvm.eth_tester import ChainvmBackend


@pytest.fixture
def eth_tester() -> EthereumTester:
    return EthereumTester(backend=ChainvmBackend())


class TestChainvmBackendDirect(BaseTestBackendDirect):
    pass
