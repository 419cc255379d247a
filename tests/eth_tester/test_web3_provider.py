"""web3.py through EthereumTesterProvider on ChainvmBackend: an Osaka-only contract."""

from __future__ import annotations

import pytest

pytest.importorskip("eth_tester")
web3 = pytest.importorskip("web3")

from eth_tester import EthereumTester
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3

from chainvm.eth_tester import ChainvmBackend

# Runtime: x = calldata[0:32]; y = CLZ(x) (opcode 0x1E, EIP-7939, new in Osaka);
# storage[0] = y; return y.
CLZ_RUNTIME = bytes.fromhex("6000351e8060005560005260206000f3")
CLZ_INITCODE = bytes.fromhex("601080600b6000396000f3") + CLZ_RUNTIME


def _w3(fork: str = "Osaka") -> Web3:
    return Web3(EthereumTesterProvider(EthereumTester(ChainvmBackend(fork=fork))))


def _deploy(w3: Web3) -> str:
    sender = w3.eth.accounts[0]
    tx_hash = w3.eth.send_transaction({"from": sender, "data": CLZ_INITCODE})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    address = receipt["contractAddress"]
    assert w3.eth.get_code(address) == CLZ_RUNTIME
    return address


def test_osaka_is_the_default_fork() -> None:
    assert ChainvmBackend().fork_name == "Osaka"


def test_clz_contract_through_web3() -> None:
    w3 = _w3()
    assert w3.eth.chain_id == 131277322940537
    address = _deploy(w3)
    for value, expected in ((1, 255), (1 << 255, 0), (0, 256), (0xFFFF, 240)):
        out = w3.eth.call({"to": address, "data": value.to_bytes(32, "big")})
        assert int.from_bytes(out, "big") == expected
    # A transaction: CLZ(2**200) = 55 lands in storage slot 0.
    tx_hash = w3.eth.send_transaction({"from": w3.eth.accounts[1], "to": address,
                                       "data": (1 << 200).to_bytes(32, "big")})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == w3.eth.block_number == 2
    assert int.from_bytes(w3.eth.get_storage_at(address, 0), "big") == 55
    block = w3.eth.get_block("latest")
    assert block["baseFeePerGas"] > 0 and block["requestsHash"]


def test_clz_is_invalid_before_osaka() -> None:
    w3 = _w3("Prague")
    address = _deploy(w3)
    with pytest.raises(TransactionFailed, match="(?i)invalid opcode"):
        w3.eth.call({"to": address, "data": (1).to_bytes(32, "big")})


def test_revert_reason_reaches_web3() -> None:
    w3 = _w3()
    # Runtime: revert with Error("no") (selector 08c379a0).
    reason = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (2).to_bytes(32, "big") \
        + b"no".ljust(32, b"\0")
    runtime = b""
    for i in range(0, len(reason), 32):
        runtime += b"\x7f" + reason[i:i + 32].ljust(32, b"\0") + bytes([0x60, i, 0x52])
    runtime += bytes([0x60, len(reason), 0x60, 0, 0xFD])
    init = bytes([0x60, len(runtime), 0x80, 0x60, 11, 0x60, 0, 0x39, 0x60, 0, 0xF3]) + runtime
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": init}))
    with pytest.raises(TransactionFailed, match="execution reverted: no"):
        w3.eth.call({"to": receipt["contractAddress"], "data": b""})


def test_genesis_parameters_and_vm_configuration() -> None:
    pytest.importorskip("eth")
    from eth.vm.forks import CancunVM

    state = ChainvmBackend.generate_genesis_state(num_accounts=3,
                                                  overrides={"balance": 7 * 10**18})
    params = ChainvmBackend.generate_genesis_params({"gas_limit": 12_345_678,
                                                     "timestamp": 1_700_000_000})
    backend = ChainvmBackend(genesis_parameters=params, genesis_state=state,
                             vm_configuration=((0, CancunVM),))
    assert backend.fork_name == "Cancun"
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    assert len(w3.eth.accounts) == 3
    assert w3.eth.get_balance(w3.eth.accounts[2]) == 7 * 10**18
    genesis = w3.eth.get_block(0)
    assert genesis["gasLimit"] == 12_345_678 and genesis["timestamp"] == 1_700_000_000
    assert "requestsHash" not in genesis  # a Cancun block
    # CLZ is not an opcode in Cancun.
    address = _deploy(w3)
    with pytest.raises(TransactionFailed, match="(?i)invalid opcode"):
        w3.eth.call({"to": address, "data": (1).to_bytes(32, "big")})
