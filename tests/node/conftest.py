"""The Python test API's pytest fixtures, for the tests in this folder."""

from chainvm.testing.api import _chainvm_module_chain, chain  # noqa: F401
