"""DevChain across forks, and interval mining switched on over RPC."""

from __future__ import annotations

import time

import pytest

from chainvm.node.devchain import CallArgs, DevChain, NodeError
from tests.node.contracts import STORE_INIT


@pytest.mark.parametrize("fork", ["Frontier", "Homestead", "Byzantium", "Berlin", "London",
                                  "Shanghai", "Cancun", "Prague", "Osaka"])
def test_forks(fork: str) -> None:
    dev = DevChain(fork=fork, accounts=2)
    a, b = dev.accounts
    dev.send_transaction(CallArgs(sender=a, to=b, value=1))
    h = dev.send_transaction(CallArgs(sender=a, data=STORE_INIT))
    found = dev.chain.get_transaction(h)
    assert found is not None and dev.head.number == 2
    assert dev.state().code(dev.receipt_details(found[2], found[3])["contract_address"])


def test_interval_mining_over_rpc() -> None:
    pytest.importorskip("aiohttp")
    from chainvm.node.server import ThreadedNode
    from tests.node.helpers import Client

    with ThreadedNode(DevChain(accounts=1)) as node:
        rpc = Client(node.url)
        assert rpc("evm_setIntervalMining", 1) is True
        deadline = time.monotonic() + 10
        while rpc("eth_blockNumber") == "0x0" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rpc("eth_blockNumber") != "0x0"
        assert rpc("evm_setIntervalMining", 0) is True


def test_impersonated_contract_sender_only_skips_the_eoa_check_for_its_transactions() -> None:
    from chainvm.chain.processing import InvalidBlock, execute_block
    from chainvm.node.devchain import NodeError

    dev = DevChain(accounts=2)
    a, b = dev.accounts
    dev.set_code(a, b"\x00")  # `a` now has code (and still its key)
    with pytest.raises(NodeError, match="externally owned"):
        dev.send_transaction(CallArgs(sender=a, to=b, value=1))
    dev.impersonate(a)
    dev.send_transaction(CallArgs(sender=a, to=b, value=1))
    head = dev.head
    parent = dev.chain.blocks[head.header.parent_hash]
    ancestors = dev.chain.ancestor_hashes(parent)
    # Re-executing the block: only with the dev chain's exemption does it pass.
    with pytest.raises(InvalidBlock, match="EOA"):
        execute_block(dev.config, head.fork, head.block, parent.state, ancestors)
    again = execute_block(dev.config, head.fork, head.block, parent.state, ancestors,
                          dev.is_impersonated_tx)
    assert again.state.state_root() == head.header.state_root
    assert dev.state().code(a) == b"\x00" and dev.state().nonce(a) == 1


def test_an_edit_undone_by_a_revert_stays_undone_when_the_same_block_is_mined_again() -> None:
    """After a revert, the same transaction at the same timestamp rebuilds a block with the
    hash of the reverted one; the state edits made while that block was the head (here a
    storage slot) must not come back with it. Found by test_contracts' ERC-20 tests, whose
    token landed at the same address in the same second after anvil_dealERC20."""
    dev = DevChain(accounts=2)
    a, b = dev.accounts
    req = CallArgs(sender=a, to=b, value=1, gas=21_000, max_fee_per_gas=2 * 10**9,
                   max_priority_fee_per_gas=1)
    dev.set_next_timestamp(2_000_000_000)
    sid = dev.snapshot()
    dev.send_transaction(req)
    first = dev.head.hash
    dev.set_storage(b, 1, 7)
    dev.revert(sid)
    dev.set_next_timestamp(2_000_000_000)
    dev.send_transaction(req)
    assert dev.head.hash == first  # the same block, rebuilt
    assert dev.state().get_storage(b, 1) == 0
    assert dev.state().state_root() == dev.head.header.state_root


def test_reset_restores_the_genesis_state_as_made() -> None:
    """Edits made while the genesis block is the head change its state in place; anvil_reset
    goes back to the genesis as made, as anvil's does (found by a random walk over the
    chain's operations)."""
    dev = DevChain(accounts=2)
    a, b = dev.accounts
    funded = dev.state().balance(a)
    dev.set_balance(a, 5)
    dev.set_storage(b, 1, 9)
    dev.send_transaction(CallArgs(sender=b, to=a, value=1))
    dev.reset()
    assert dev.head.number == 0
    assert (dev.state().balance(a), dev.state().get_storage(b, 1)) == (funded, 0)
    assert dev.state().state_root() == dev.head.header.state_root


def test_the_history_contract_answers_block_hashes_past_256_blocks() -> None:
    """EIP-2935: with the history contract in the genesis (the node's CLI asks for it, as
    anvil's Prague genesis has it), a call with a block number answers that block's hash
    for the 8191 blocks before the current one, where BLOCKHASH sees 256; without it (the
    Python test API's default) the address is empty."""
    from chainvm.chain.processing import HISTORY_STORAGE_ADDRESS

    dev = DevChain(fork="Prague", accounts=1, history_contract=True)
    dev.mine(300)

    def history(number: int) -> bytes:
        return dev.call(CallArgs(to=HISTORY_STORAGE_ADDRESS, data=number.to_bytes(32, "big")))

    for number in (0, 1, 43, 299):
        block = dev.chain.get_block_by_number(number)
        assert block is not None and history(number) == block.hash
    genesis = dev.chain.get_block_by_number(0)
    assert genesis is not None
    assert dev.state().get_storage(HISTORY_STORAGE_ADDRESS, 0) \
        == int.from_bytes(genesis.hash, "big")
    # A call runs in the pending block (301): its own number and later ones revert.
    with pytest.raises(NodeError):
        history(301)

    plain = DevChain(fork="Prague", accounts=1)
    assert plain.state().code(HISTORY_STORAGE_ADDRESS) == b""
    # Before Prague there is nothing to install.
    assert DevChain(fork="Cancun", accounts=1, history_contract=True).state().code(
        HISTORY_STORAGE_ADDRESS) == b""


def test_old_blocks_keep_their_states_while_the_history_contract_grows() -> None:
    """Every block writes one slot of the history contract, so each block's state layers
    that storage over its parent's and chains of layers are collapsed again and again
    (chainvm/state/layered.py): the state of every kept block must still be the one its
    header commits to, and hold the hashes it held when it was made."""
    from chainvm.chain.processing import HISTORY_STORAGE_ADDRESS
    from chainvm.state.layered import LayeredStorage

    dev = DevChain(fork="Prague", accounts=1, history_contract=True)
    dev.mine(700)
    head = dev.state().accounts[HISTORY_STORAGE_ADDRESS].storage
    assert type(head) is LayeredStorage
    for number in (1, 255, 256, 257, 300, 511, 600, 693, 698, 699, 700):
        block = dev.chain.get_block_by_number(number)
        assert block is not None
        state = block.state
        assert state.full_state_root() == block.header.state_root, number
        storage = state.accounts[HISTORY_STORAGE_ADDRESS].storage
        assert len(storage) == number  # the hashes of blocks 0 .. number - 1
        parent = dev.chain.get_block_by_number(number - 1)
        assert parent is not None
        assert storage.get(number - 1) == int.from_bytes(parent.hash, "big")
        assert storage.get(number) is None


def test_a_genesis_timestamp_starts_the_clock() -> None:
    """`--timestamp T` (anvil's flag): later blocks follow T, as anvil's do, after a reset
    too; block 1 used to jump to the wall clock."""
    start = 1_700_000_000
    dev = DevChain(timestamp=start, accounts=1)
    dev.mine(1)
    assert 1 <= dev.head.header.timestamp - start <= 5
    dev.increase_time(100)
    dev.mine(1)
    assert 101 <= dev.head.header.timestamp - start <= 110
    dev.reset()
    dev.mine(1)
    assert 1 <= dev.head.header.timestamp - start <= 5
