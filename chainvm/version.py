"""The installed chainvm's version, the one source for `--version` and web3_clientVersion."""

from __future__ import annotations

from functools import cache


@cache
def chainvm_version() -> str:
    """The distribution's version (pyproject.toml's, as pip installed it), or "unknown" for a
    source tree on PYTHONPATH that was never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chainvm")
    except PackageNotFoundError:
        return "unknown"
