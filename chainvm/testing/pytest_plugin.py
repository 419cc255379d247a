"""chainvm's pytest plugin, registered through the `pytest11` entry point when chainvm is
installed: a test asks for `chain` and gets a fresh `TestChain` of its own, with no
conftest.

One chain per session is built (the first test that asks); each test runs inside
`TestChain.isolated()`, so everything it does (blocks, state, pranks, time travel,
contracts) is reverted after it, cheaply, and tests never see each other's work.
`--chainvm-fork NAME` picks the fork (default Osaka).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chainvm.testing.api import TestChain

DEFAULT_FORK = "Osaka"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chainvm")
    group.addoption("--chainvm-fork", default=DEFAULT_FORK,
                    help=f"fork of the `chain` fixture's TestChain (default {DEFAULT_FORK})")


def pytest_configure(config: pytest.Config) -> None:
    """An unknown --chainvm-fork stops the session with one line, as any bad option does,
    instead of an error with a traceback in every test that asks for `chain`. (Only a
    fork given on the command line is looked up: the default costs no import.)"""
    fork = config.getoption("--chainvm-fork", DEFAULT_FORK)
    if fork != DEFAULT_FORK:
        from chainvm.chain.config import UnknownNetwork, config_for_network

        try:
            config_for_network(fork)
        except UnknownNetwork as exc:
            raise pytest.UsageError(f"--chainvm-fork: {exc}") from None


@pytest.fixture(scope="session")
def chainvm_session_chain(request: pytest.FixtureRequest) -> TestChain:
    """The session's one TestChain, which `chain` reverts after every test."""
    return TestChain(fork=request.config.getoption("--chainvm-fork"))


@pytest.fixture
def chain(chainvm_session_chain: TestChain) -> Iterator[TestChain]:
    """A fresh chain for this test: funded dev accounts, nothing deployed by other tests."""
    with chainvm_session_chain.isolated() as fresh:
        yield fresh
