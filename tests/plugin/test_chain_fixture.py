"""The pytest plugin's `chain` fixture, used with no conftest (the plugin comes from the
`pytest11` entry point of the installed package), and the titanoboa-style API: a Vyper
token deployed from source, `reverts`, `prank` for an unfunded address, `time_travel`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chainvm.testing.api import TestChain, TransactionFailed

pytest.importorskip("vyper")

TOKEN = """
# pragma version ~=0.4.0
event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    amount: uint256

balanceOf: public(HashMap[address, uint256])
totalSupply: public(uint256)
owner: public(address)
unlock_block: public(uint256)

@deploy
def __init__(supply: uint256, lock_blocks: uint256):
    self.balanceOf[msg.sender] = supply
    self.totalSupply = supply
    self.owner = msg.sender
    self.unlock_block = block.number + lock_blocks

@external
def transfer(to: address, amount: uint256) -> bool:
    assert self.balanceOf[msg.sender] >= amount, "insufficient balance"
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    log Transfer(sender=msg.sender, receiver=to, amount=amount)
    return True

@external
def unlock() -> uint256:
    assert block.number >= self.unlock_block, "locked"
    return block.number

@view
@external
def clock() -> (uint256, uint256):
    return block.number, block.timestamp
"""

STRANGER = "0x" + "5e" * 20


def test_fresh_chain_each_test_a(chain: TestChain) -> None:
    # Each test starts from the same genesis, whatever the other tests did.
    assert chain.block_number == 0 and chain.fork == "Osaka"
    chain.loads(TOKEN, 10, 0)
    chain.set_balance(STRANGER, 7)
    assert chain.block_number == 1


def test_fresh_chain_each_test_b(chain: TestChain) -> None:
    assert chain.block_number == 0
    assert chain.balance(STRANGER) == 0
    chain.loads(TOKEN, 10, 0)
    chain.time_travel(blocks=5)


def test_vyper_token_from_source(chain: TestChain) -> None:
    token = chain.loads(TOKEN, 1000, 0, name="Token")
    assert repr(token).startswith(f"<Token at {token.address}")
    assert "transfer" in repr(token)
    assert "TestChain Osaka" in repr(chain)
    alice, bob = chain.accounts[1], chain.accounts[2]
    assert token.transfer(alice, 300) is True
    assert token.balanceOf(alice) == 300
    assert token.balanceOf(chain.accounts[0]) == 700
    receipt = token.transact("transfer", bob, 1)
    assert [e.name for e in receipt.events] == ["Transfer"]
    assert receipt.events[0].args["amount"] == 1


def test_reverts(chain: TestChain) -> None:
    token = chain.loads(TOKEN, 10, 0)
    with chain.reverts("insufficient balance"):
        token.transfer(chain.accounts[1], 11)
    with chain.reverts():
        token.transfer(chain.accounts[1], 11)
    with pytest.raises(AssertionError, match="expected a revert"), \
            chain.reverts("insufficient balance"):
        token.transfer(chain.accounts[1], 1)
    with pytest.raises(AssertionError, match="'locked'"), chain.reverts("locked"):
        token.transfer(chain.accounts[1], 11)
    # The failed transactions left nothing behind.
    assert token.balanceOf(chain.accounts[1]) == 1


def test_prank_unfunded_address(chain: TestChain) -> None:
    token = chain.loads(TOKEN, 100, 0)
    token.transfer(STRANGER, 40)
    assert chain.balance(STRANGER) == 0
    with chain.prank(STRANGER) as who:
        assert who.lower() == STRANGER
        token.transfer(chain.accounts[3], 15)
        with chain.reverts("insufficient balance"):
            token.transfer(chain.accounts[3], 26)
    assert token.balanceOf(STRANGER) == 25
    assert token.balanceOf(chain.accounts[3]) == 15
    assert chain.balance(STRANGER) == 0  # gas was not charged to it
    assert chain.nonce(STRANGER) == 1
    # After the prank, the default sender is back.
    token.transfer(chain.accounts[4], 1)
    assert token.balanceOf(chain.accounts[4]) == 1


def test_prank_contract_address(chain: TestChain) -> None:
    token = chain.loads(TOKEN, 100, 0)
    token.transfer(token.address, 5)
    with chain.prank(token.address):
        token.transfer(chain.accounts[5], 5)
    assert token.balanceOf(chain.accounts[5]) == 5


def test_time_travel_blocks_and_seconds(chain: TestChain) -> None:
    token = chain.loads(TOKEN, 1, 100)  # unlocks at block 1 + 100
    number, timestamp = token.clock()
    with chain.reverts("locked"):
        token.unlock()
    chain.time_travel(blocks=100)
    # The next call sees the new block number and time at once.
    assert token.clock() == [number + 100, timestamp + 1200]
    assert token.unlock() == number + 100
    number, timestamp = token.clock()
    chain.time_travel(seconds=3600)
    assert token.clock() == [number, timestamp + 3600]
    chain.time_travel(seconds=60, blocks=3)
    assert token.clock() == [number + 3, timestamp + 3660]


def test_time_travel_without_blocks_mode() -> None:
    fast = TestChain(blocks=False)
    token = fast.loads(TOKEN, 1, 10)
    number, timestamp = token.clock()
    fast.time_travel(blocks=10, seconds=100)
    assert token.clock() == [number + 10, timestamp + 100]
    assert token.unlock() == number + 10


def test_transaction_failed_carries_reason(chain: TestChain) -> None:
    token = chain.loads(TOKEN, 1, 0)
    with pytest.raises(TransactionFailed) as info:
        token.transfer(chain.accounts[1], 2)
    assert info.value.error == ("Error", ("insufficient balance",))


def test_load_vyper_file(chain: TestChain, tmp_path: Path) -> None:
    source = tmp_path / "Lockable.vy"
    source.write_text(TOKEN)
    token = chain.load(source, 5, 0)
    assert repr(token).startswith("<Lockable at ")
    assert token.totalSupply() == 5


def test_load_solidity_with_solc(chain: TestChain, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`load` of a .sol file runs `solc --combined-json abi,bin FILE` and deploys the
    file's contract; here a stand-in `solc` answers in solc's combined-JSON format with
    the hand-assembled Store contract of the node tests."""
    from tests.node.contracts import STORE_ABI, STORE_INIT

    out = {"contracts": {f"{tmp_path}/Store.sol:Lib": {"abi": [], "bin": ""},
                         f"{tmp_path}/Store.sol:Store": {"abi": STORE_ABI,
                                                         "bin": STORE_INIT.hex()}},
           "version": "stand-in"}
    solc = tmp_path / "solc"
    solc.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    "assert sys.argv[1:3] == ['--combined-json', 'abi,bin']\n"
                    f"print(json.dumps({out!r}))\n")
    solc.chmod(0o755)
    monkeypatch.setenv("CHAINVM_SOLC", str(solc))
    (tmp_path / "Store.sol").write_text("// compiled by the stand-in\n")
    store = chain.load(tmp_path / "Store.sol")
    assert repr(store).startswith("<Store at ")
    store.set(11)
    assert store.get() == 11
    with chain.reverts("Zero"):
        store.set(0)
    with pytest.raises(RuntimeError, match="no contract Nope"):
        chain.load(tmp_path / "Store.sol", name="Nope")
