"""chainvm: the Ethereum Virtual Machine (Frontier to Osaka) and the Filecoin actor VM.

The Python test API is importable from the package root (`from chainvm import TestChain`);
it is loaded on first use so that importing chainvm stays cheap.
"""

from __future__ import annotations

from typing import Any

_TEST_API = ("Contract", "Event", "TestChain", "TransactionFailed", "TxReceipt")


def __getattr__(name: str) -> Any:
    if name in _TEST_API:
        from chainvm.testing import api

        return getattr(api, name)
    raise AttributeError(f"module 'chainvm' has no attribute {name!r}")
