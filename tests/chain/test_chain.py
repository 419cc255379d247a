"""The in-memory chain: building, importing, rejecting, reorganising and looking up blocks."""

from __future__ import annotations

import dataclasses

import pytest

from chainvm.chain.block import Block
from chainvm.chain.builder import BuildOptions, build_block
from chainvm.chain.processing import InvalidBlock
from chainvm.state.state import Log

from .helpers import ADDRS, extend, new_chain, transfer

LOG_CODE = bytes.fromhex("60aa60005260206000a000")  # MSTORE 0xaa; LOG0 over 32 bytes; STOP


@pytest.mark.parametrize("network", ["Frontier", "Byzantium", "London", "Paris", "Shanghai",
                                     "Cancun", "Prague", "Osaka"])
def test_build_import_round_trip(network: str) -> None:
    chain = new_chain(network)
    tx_type = 2 if network in ("London", "Paris", "Shanghai", "Cancun", "Prague", "Osaka") else 0
    chain_id = None if network == "Frontier" else 1  # EIP-155 from Spurious Dragon
    txs = [transfer(0, 0, tx_type=tx_type, chain_id=chain_id),
           transfer(1, 0, tx_type=tx_type, chain_id=chain_id)]
    head = extend(chain, txs)
    stored = chain.blocks[head]
    assert chain.head_hash == head and stored.number == 1
    assert Block.decode(stored.block.encode()).hash == head
    assert [r.cumulative_gas_used for r in stored.receipts] == [21000, 42000]
    assert chain.state().balance(b"\x77" * 20) == 2
    found = chain.get_transaction(txs[1].hash)
    assert found is not None and found[3] == 1 and found[2].hash == head


def test_invalid_block_leaves_chain_unchanged() -> None:
    chain = new_chain("Cancun")
    built = build_block(chain, [transfer(0, 0)])
    bad_header = dataclasses.replace(built.block.header, state_root=b"\x01" * 32, _hash=None)
    bad = dataclasses.replace(built.block, header=bad_header)
    before = (chain.head_hash, len(chain.blocks), dict(chain.canonical))
    with pytest.raises(InvalidBlock, match="state root"):
        chain.import_block(bad)
    assert (chain.head_hash, len(chain.blocks), dict(chain.canonical)) == before
    assert chain.state().nonce(ADDRS[0]) == 0
    chain.import_block(built.block)  # the honest block still imports
    assert chain.head.number == 1


def test_wrong_gas_used_and_base_fee_rejected() -> None:
    chain = new_chain("London")
    built = build_block(chain, [transfer(0, 0)])
    for change in ({"gas_used": 20000}, {"base_fee": 7}, {"timestamp": 0}):
        header = dataclasses.replace(built.block.header, _hash=None, **change)
        with pytest.raises(InvalidBlock):
            chain.import_block(dataclasses.replace(built.block, header=header))
    assert chain.head.number == 0


def test_a_dev_nodes_own_base_fee_and_gas_limit() -> None:
    """A block built with a base fee and gas limit of the user's (the dev node's
    anvil_setNextBlockBaseFeePerGas, evm_setBlockGasLimit) is stored when its builder says
    so, and refused like any other block otherwise."""
    chain = new_chain("London")
    parent_limit = chain.head.header.gas_limit
    built = build_block(chain, [transfer(0, 0)], BuildOptions(base_fee=7, gas_limit=21_000))
    assert (built.block.header.base_fee, built.block.header.gas_limit) == (7, 21_000)
    for import_it in (chain.import_block, lambda b: chain.import_built(b, built.result)):
        with pytest.raises(InvalidBlock, match="invalid gas limit"):
            import_it(built.block)
    assert chain.head.number == 0
    stored = chain.import_built(built.block, built.result, set_by_owner=True)
    assert chain.head.hash == stored.hash and parent_limit != 21_000
    too_big = build_block(chain, [], BuildOptions(gas_limit=1 << 63))
    with pytest.raises(InvalidBlock, match="too big"):
        chain.import_built(too_big.block, too_big.result, set_by_owner=True)


def test_proof_of_work_reorg_by_total_difficulty() -> None:
    chain = new_chain("Byzantium")
    genesis = chain.head_hash
    a1 = extend(chain, [transfer(0, 0, tx_type=0)], timestamp=10)
    a2 = extend(chain, [], timestamp=20)
    assert chain.head_hash == a2
    # A side chain with faster blocks gains difficulty and overtakes.
    b1 = extend(chain, [transfer(1, 0, tx_type=0)], parent=genesis, coinbase=b"\x01" * 20,
                timestamp=1)
    assert chain.head_hash == a2
    b2 = extend(chain, [], parent=b1, timestamp=2)
    b3 = extend(chain, [], parent=b2, timestamp=3)
    assert chain.head_hash == b3
    assert chain.canonical[1] == b1 and chain.canonical[3] == b3
    assert chain.get_block_by_number(2).hash == b2  # type: ignore[union-attr]
    assert chain.get_transaction(chain.blocks[a1].block.transactions[0].hash) is None
    # The same transaction in two competing blocks: found in whichever is canonical.
    shared = transfer(2, 0, tx_type=0)
    c4 = extend(chain, [shared], timestamp=4)
    d4 = extend(chain, [shared], parent=b3, coinbase=b"\x05" * 20, timestamp=4)
    assert chain.head_hash == c4
    assert chain.get_transaction(shared.hash)[2].hash == c4  # type: ignore[index]
    d5 = extend(chain, [], parent=d4, timestamp=5)
    assert chain.head_hash == d5
    assert chain.get_transaction(shared.hash)[2].hash == d4  # type: ignore[index]
    assert chain.state().nonce(ADDRS[0]) == 0 and chain.state().nonce(ADDRS[1]) == 1


def test_uncles_rewarded_and_checked() -> None:
    chain = new_chain("Constantinople")
    genesis = chain.head_hash
    main1 = extend(chain, [], timestamp=15)
    side = build_block(chain, [], BuildOptions(coinbase=b"\x02" * 20, timestamp=16),
                       parent_hash=genesis).block
    chain.import_block(side)
    extend(chain, [], parent=main1, coinbase=b"\x03" * 20, timestamp=30, uncles=[side.header])
    state = chain.state()
    assert state.balance(b"\x02" * 20) == 2 * 10**18 * 7 // 8  # uncle at depth 1
    assert state.balance(b"\x03" * 20) == 2 * 10**18 + 2 * 10**18 // 32
    with pytest.raises(InvalidBlock, match="uncle"):  # the same uncle twice in a row
        extend(chain, [], coinbase=b"\x04" * 20, timestamp=45, uncles=[side.header])


def test_logs_and_bloom_lookup() -> None:
    chain = new_chain("Cancun")
    state = chain.head.state
    state.set_code(b"\x55" * 20, LOG_CODE)
    chain.head.header.state_root = state.state_root()
    chain.head.header._hash = None
    # Rebuild the chain on the changed genesis.
    from chainvm.chain.chain import Chain

    chain = Chain.from_genesis(chain.config, chain.head.block, state)
    head = extend(chain, [transfer(0, 0, to=b"\x55" * 20, value=0, gas_limit=60000)])
    logs = chain.logs(0, 1)
    assert len(logs) == 1 and logs[0][0] == 1 and isinstance(logs[0][1], Log)
    assert logs[0][1].address == b"\x55" * 20
    assert chain.blocks[head].header.bloom != bytes(256)
    assert chain.logs(0, 1, address=b"\x66" * 20) == []


def test_system_calls_and_requests_from_prague() -> None:
    from chainvm.chain.processing import requests_hash
    from chainvm.crypto import sha256

    from .helpers import SYSTEM_STANDINS

    beacon, history = list(SYSTEM_STANDINS)[:2]
    chain = new_chain("Prague")
    parent = chain.head_hash
    head = extend(chain, [transfer(0, 0)], parent_beacon_block_root=b"\x42" * 32)
    header = chain.blocks[head].header
    state = chain.state()
    assert state.get_storage(beacon, header.timestamp) == int.from_bytes(b"\x42" * 32, "big")
    assert state.get_storage(history, 0) == int.from_bytes(parent, "big")
    assert header.requests_hash == sha256(sha256(b"\x01\xaa\xbb\xcc\xdd"))
    assert header.requests_hash == requests_hash([b"\x00", b"\x01\xaa\xbb\xcc\xdd", b"\x02"])


def test_missing_request_contract_invalidates_prague_block() -> None:
    chain = new_chain("Prague", system_contracts=False)
    with pytest.raises(InvalidBlock, match="system contract"):
        build_block(chain, [])
    cancun = new_chain("Cancun", system_contracts=False)  # beacon roots call is unchecked
    extend(cancun, [])


def test_deposit_events_become_requests() -> None:
    from chainvm.chain.block import Receipt
    from chainvm.chain.processing import (
        DEPOSIT_CONTRACT_ADDRESS,
        DEPOSIT_EVENT_TOPIC,
        _deposit_requests,
    )

    fields = [b"\x01" * 48, b"\x02" * 32, b"\x03" * 8, b"\x04" * 96, b"\x05" * 8]
    head = b"".join(o.to_bytes(32, "big") for o in (160, 256, 320, 384, 512))
    tail = b""
    for f in fields:
        tail += len(f).to_bytes(32, "big") + f.ljust((len(f) + 31) // 32 * 32, b"\x00")
    log = Log(DEPOSIT_CONTRACT_ADDRESS, (DEPOSIT_EVENT_TOPIC,), head + tail)
    assert len(log.data) == 576
    other = Log(b"\x01" * 20, (DEPOSIT_EVENT_TOPIC,), b"")
    receipt = Receipt(2, 1, 21000, [other, log])
    assert _deposit_requests([receipt]) == b"".join(fields)
    broken = Log(DEPOSIT_CONTRACT_ADDRESS, (DEPOSIT_EVENT_TOPIC,), log.data[:-1])
    with pytest.raises(InvalidBlock, match="deposit"):
        _deposit_requests([Receipt(2, 1, 21000, [broken])])


def _rebody(block: Block, txs: list) -> Block:
    from chainvm.chain.block import transactions_root

    header = dataclasses.replace(block.header, transactions_root=transactions_root(txs),
                                 _hash=None)
    return dataclasses.replace(block, header=header, transactions=txs)


@pytest.mark.parametrize("bad,reason", [
    (lambda: transfer(0, 5), "nonce too high"),
    (lambda: transfer(0, 0, value=10**30), "insufficient funds"),
    (lambda: transfer(0, 0, fee_cap=1), "base fee"),
    (lambda: transfer(0, 0, chain_id=7), "chain id"),
    (lambda: transfer(0, 0, gas_limit=40_000_000), "gas limit"),
])
def test_invalid_transaction_with_a_matching_root_rejects_the_block(bad, reason) -> None:  # type: ignore[no-untyped-def]
    chain = new_chain("Cancun")
    built = build_block(chain, [transfer(1, 0)])
    block = _rebody(built.block, [*built.block.transactions, bad()])
    with pytest.raises(InvalidBlock, match=reason):
        chain.import_block(block)
    assert chain.head.number == 0


def test_osaka_block_size_limit() -> None:
    chain = new_chain("Osaka")
    built = build_block(chain, [])
    huge = transfer(0, 0, data=b"\x01" * 8_400_000, gas_limit=16_000_000)
    with pytest.raises(InvalidBlock, match="EIP-7934|exceeds"):
        chain.import_block(_rebody(built.block, [huge]))


def test_fork_choice_after_the_merge_follows_the_given_head() -> None:
    chain = new_chain("Shanghai")
    genesis = chain.head_hash
    a1 = extend(chain, [transfer(0, 0)])
    b1 = extend(chain, [transfer(1, 0)], parent=genesis, prev_randao=b"\x01" * 32)
    assert chain.head_hash == b1  # a proof-of-stake block becomes the head when imported
    chain.set_head(a1)
    assert chain.head_hash == a1 and chain.canonical[1] == a1
    assert chain.state().nonce(ADDRS[0]) == 1 and chain.state().nonce(ADDRS[1]) == 0
    a2 = extend(chain, [], parent=a1)
    chain.set_head(genesis)
    assert chain.canonical == {0: genesis}
    chain.set_head(a2)
    assert [chain.canonical[n] for n in (1, 2)] == [a1, a2]
    with pytest.raises(KeyError):
        chain.set_head(b"\x00" * 32)


def test_set_code_transaction_in_a_prague_block() -> None:
    from chainvm.chain.transactions import SignedTransaction
    from chainvm.crypto import keccak256, sign_hash
    from chainvm.encoding.rlp import encode
    from chainvm.evm.transaction import Authorization

    from .helpers import KEYS

    chain = new_chain("Prague")
    target = b"\x55" * 20
    digest = keccak256(b"\x05" + encode([1, target, 0]))
    y, r, s = sign_hash(digest, KEYS[2])
    tx = SignedTransaction(4, nonce=0, gas_limit=100_000, to=ADDRS[2], value=0, data=b"",
                           v=0, r=0, s=0, chain_id=1, max_priority_fee_per_gas=1,
                           max_fee_per_gas=10**10,
                           authorization_list=[Authorization(1, target, 0, y, r, s)])
    tx.sign(KEYS[0])
    head = extend(chain, [tx])
    assert chain.state().code(ADDRS[2]) == b"\xef\x01\x00" + target
    assert chain.state().nonce(ADDRS[2]) == 1
    assert Block.decode(chain.blocks[head].block.encode()).hash == head
