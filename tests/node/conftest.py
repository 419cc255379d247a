"""The Python test API's pytest fixtures for the tests in this folder; without aiohttp
(the server's one dependency) only the in-process tests run."""

import importlib.util

from chainvm.testing.api import _chainvm_module_chain, chain  # noqa: F401

if importlib.util.find_spec("aiohttp") is None:
    collect_ignore = ["test_rpc.py", "test_web3.py", "test_contracts.py", "test_ws.py",
                      "test_cli.py"]
