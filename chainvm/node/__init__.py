"""The dev node: an in-process development chain (`DevChain`), its JSON-RPC server and CLI."""

from chainvm.node.devchain import DevChain, NodeError, RevertError

__all__ = ["DevChain", "NodeError", "RevertError"]
