"""The dev node's JSON-RPC methods, by namespace, and the dispatcher that serves them.

- `params`: decoding and checking of parameters (shared by every namespace)
- `format`: blocks, transactions, receipts and logs as JSON
- `base`: `Namespace`, what every group of methods shares (the chain, block lookups)
- `eth`, `logs`: eth_ (state, blocks, transactions, calls, signing; logs and filters)
- `web3`: web3_ and net_;  `debug`: debug_ tracing;  `trace`: parity's trace_;
  `txpool`: txpool_;  `simulate`: eth_simulateV1;  `ots`: Otterscan's ots_
- `anvil`: evm_, anvil_ and hardhat_ test extras
- `dispatch`: `Rpc`, requests and batches in, responses out
"""

from __future__ import annotations

from chainvm.node.rpc.anvil import AnvilApi
from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.debug import DebugApi
from chainvm.node.rpc.dispatch import Rpc, error_response, valid_id
from chainvm.node.rpc.eth import EthApi
from chainvm.node.rpc.logs import LogsApi
from chainvm.node.rpc.ots import OtsApi
from chainvm.node.rpc.params import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    InvalidParams,
)
from chainvm.node.rpc.trace import TraceApi
from chainvm.node.rpc.txpool import TxpoolApi
from chainvm.node.rpc.web3 import Web3Api

# Every namespace the node serves; a method name belongs to exactly one of them.
NAMESPACES: tuple[type[Namespace], ...] = (Web3Api, EthApi, LogsApi, DebugApi, TraceApi,
                                           TxpoolApi, AnvilApi, OtsApi)

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "NAMESPACES",
    "PARSE_ERROR",
    "InvalidParams",
    "Namespace",
    "Rpc",
    "error_response",
    "valid_id",
]
