"""Real contracts: an OpenZeppelin ERC-20 and ERC-721 compiled with solcjs and a Vyper
contract, driven through web3.py against the node, through the Python API, and through
ethers and viem (a Node script) when node and the npm packages are available."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainvm.node.devchain import DevChain
from chainvm.node.server import ThreadedNode
from tests.node import compilers

web3 = pytest.importorskip("web3")
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def sol() -> dict[str, dict[str, Any]]:
    if compilers.node_modules() is None:
        pytest.skip("node / npm packages (solc, @openzeppelin/contracts) not available")
    return compilers.solidity()


@pytest.fixture(scope="module")
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode(DevChain()) as n:
        yield n


@pytest.fixture
def w3(node: ThreadedNode) -> Iterator[Any]:
    w = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
    sid = w.provider.make_request("evm_snapshot", [])["result"]
    yield w
    w.provider.make_request("evm_revert", [sid])


def deploy(w3: Any, compiled: dict[str, Any], *args: Any) -> Any:
    factory = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(*args).transact({"from": w3.eth.accounts[0]}), timeout=30)
    assert receipt.status == 1 and receipt.to is None
    return w3.eth.contract(address=receipt.contractAddress, abi=compiled["abi"])


def test_deal_erc20_and_set_allowance(w3: Any, sol: dict[str, dict[str, Any]]) -> None:
    """anvil_dealERC20 and anvil_setERC20Allowance on OpenZeppelin's ERC20: the slots its
    views read are found and written; a token with no such slot is refused, as anvil
    1.7.1 refuses it ("no slot found")."""
    me, alice, bob = w3.eth.accounts[:3]
    token = deploy(w3, sol["Token"], 10**24)

    def rpc(method: str, *params: Any) -> Any:
        return w3.provider.make_request(method, list(params))

    assert rpc("anvil_dealERC20", alice, token.address, hex(12345))["result"] is None
    assert token.functions.balanceOf(alice).call() == 12345
    assert token.functions.balanceOf(me).call() == 10**24  # only alice's slot was written
    assert rpc("anvil_setERC20Allowance", alice, bob, token.address, hex(77))["result"] is None
    assert token.functions.allowance(alice, bob).call() == 77
    w3.eth.wait_for_transaction_receipt(
        token.functions.transferFrom(alice, bob, 70).transact({"from": bob}))
    assert token.functions.balanceOf(bob).call() == 70
    # a contract whose balanceOf answers a constant (PUSH1 5, MSTORE, RETURN 32 bytes)
    constant = "0x" + "22" * 20
    rpc("anvil_setCode", constant, "0x600560005260206000f3")
    error = rpc("anvil_dealERC20", alice, constant, "0x1")["error"]
    assert error["message"] == "Unable to set ERC20 balance, no slot found"
    assert "view call failed" in rpc("anvil_dealERC20", alice, "0x" + "23" * 20,
                                     "0x1")["error"]["message"]


def test_deal_erc20_in_the_python_api(sol: dict[str, dict[str, Any]]) -> None:
    """TestChain.deal_erc20 and set_erc20_allowance, the dev node's methods in the Python
    API (forge-std's deal, for a chain fixture)."""
    from chainvm.testing.api import TestChain

    chain = TestChain(accounts=3)
    me, alice, bob = chain.accounts
    token = chain.deploy(sol["Token"]["abi"], sol["Token"]["bytecode"], 10**24)
    chain.deal_erc20(token.address, alice, 999)
    assert token.balanceOf(alice) == 999 and token.balanceOf(me) == 10**24
    chain.set_erc20_allowance(token.address, alice, bob, 50)
    assert token.allowance(alice, bob) == 50
    constant = "0x" + "22" * 20
    chain.set_code(constant, "0x600560005260206000f3")
    with pytest.raises(ValueError, match="no slot found"):
        chain.deal_erc20(constant, alice, 1)
    with pytest.raises(ValueError):
        chain.deal_erc20(token.address, alice, -1)


def test_erc20_web3(w3: Any, sol: dict[str, dict[str, Any]]) -> None:
    me, alice, bob = w3.eth.accounts[:3]
    token = deploy(w3, sol["Token"], 10**24)
    assert token.functions.symbol().call() == "TST"
    assert token.functions.balanceOf(me).call() == 10**24
    start = w3.eth.block_number
    transfer_filter = token.events.Transfer.create_filter(from_block="latest")
    receipt = w3.eth.wait_for_transaction_receipt(
        token.functions.transfer(alice, 500).transact({"from": me}))
    assert receipt.status == 1
    (event,) = token.events.Transfer().process_receipt(receipt)
    assert (event.args["from"], event.args.to, event.args.value) == (me, alice, 500)
    assert [e.args.value for e in transfer_filter.get_new_entries()] == [500]
    logs = token.events.Transfer.get_logs(from_block=start, argument_filters={"to": alice})
    assert [e.args.value for e in logs] == [500]

    # The custom error ERC20InsufficientBalance(sender, balance, needed), decoded by web3.
    with pytest.raises(ContractCustomError) as info:
        token.functions.transfer(bob, 501).transact({"from": alice})
    selector = Web3.keccak(text="ERC20InsufficientBalance(address,uint256,uint256)")[:4]
    assert str(info.value.data).startswith("0x" + selector.hex())

    # Snapshot / revert.
    sid = w3.provider.make_request("evm_snapshot", [])["result"]
    w3.eth.wait_for_transaction_receipt(token.functions.transfer(bob, 7).transact({"from": me}))
    assert token.functions.balanceOf(bob).call() == 7
    w3.provider.make_request("evm_revert", [sid])
    assert token.functions.balanceOf(bob).call() == 0

    # Impersonation: move tokens out of an address nobody has the key of.
    holder = Web3.to_checksum_address("0x" + "5a" * 20)
    w3.eth.wait_for_transaction_receipt(token.functions.transfer(holder, 99).transact({"from": me}))
    w3.provider.make_request("hardhat_setBalance", [holder, hex(10**18)])
    w3.provider.make_request("hardhat_impersonateAccount", [holder])
    receipt = w3.eth.wait_for_transaction_receipt(
        token.functions.transfer(bob, 90).transact({"from": holder}))
    assert receipt.status == 1 and token.functions.balanceOf(bob).call() == 90
    w3.provider.make_request("hardhat_stopImpersonatingAccount", [holder])

    # A traced transaction: struct logs and the call tracer.
    tx = receipt.transactionHash.to_0x_hex()
    struct = w3.provider.make_request("debug_traceTransaction", [tx, {}])["result"]
    assert struct["failed"] is False and any(s["op"] == "LOG3" for s in struct["structLogs"])
    calls = w3.provider.make_request("debug_traceTransaction",
                                     [tx, {"tracer": "callTracer"}])["result"]
    assert calls["from"] == holder.lower() and calls["to"] == token.address.lower()


def test_erc721_web3(w3: Any, sol: dict[str, dict[str, Any]]) -> None:
    me, alice = w3.eth.accounts[:2]
    nft = deploy(w3, sol["Collectible"])
    w3.eth.wait_for_transaction_receipt(nft.functions.mint(me, 1).transact({"from": me}))
    receipt = w3.eth.wait_for_transaction_receipt(
        nft.functions.transferFrom(me, alice, 1).transact({"from": me}))
    (event,) = nft.events.Transfer().process_receipt(receipt)
    assert event.args.tokenId == 1 and event.args.to == alice
    assert nft.functions.ownerOf(1).call() == alice
    with pytest.raises(ContractCustomError):  # ERC721NonexistentToken(2)
        nft.functions.ownerOf(2).call()
    with pytest.raises(ContractCustomError):  # ERC721InvalidSender(0)... minting id 1 again
        nft.functions.mint(me, 1).transact({"from": me})
    assert nft.functions.supportsInterface("0x80ac58cd").call() is True


def test_vyper_web3(w3: Any) -> None:
    pytest.importorskip("vyper")
    counter = deploy(w3, compilers.vyper("Counter.vy"))
    receipt = w3.eth.wait_for_transaction_receipt(
        counter.functions.bump(3).transact({"from": w3.eth.accounts[0]}))
    (event,) = counter.events.Bumped().process_receipt(receipt)
    assert event.args.value == 3
    assert counter.functions.count().call() == 3
    with pytest.raises(ContractLogicError, match="by must be positive"):
        counter.functions.bump(0).call()


def test_python_api_with_real_contracts(sol: dict[str, dict[str, Any]]) -> None:
    from chainvm.testing.api import TestChain, TransactionFailed

    chain = TestChain()
    token = chain.deploy(sol["Token"]["abi"], sol["Token"]["bytecode"], 10**24)
    alice = chain.accounts[1]
    receipt = token.transact("transfer", alice, 5)
    assert receipt.return_value is True
    assert receipt.events[0].name == "Transfer" and receipt.events[0].args["value"] == 5
    with pytest.raises(TransactionFailed) as info:
        token.transfer(chain.accounts[2], 6, sender=alice)
    assert info.value.error == ("ERC20InsufficientBalance", (alice, 5, 6))
    print()
    print(f"ERC-20 through the Python API, blocks: {per_call_ms(token, alice)}")
    fast = TestChain(blocks=False)
    fast_token = fast.deploy(sol["Token"]["abi"], sol["Token"]["bytecode"], 10**24)
    assert fast_token.transfer(alice, 5) is True
    assert fast_token.balanceOf(alice) == 5
    with pytest.raises(TransactionFailed) as info:
        fast_token.transfer(chain.accounts[2], 6, sender=alice)
    assert info.value.error == ("ERC20InsufficientBalance", (alice, 5, 6))
    with fast.snapshot():
        fast_token.transfer(alice, 1)
        assert fast_token.balanceOf(alice) == 6
    assert fast_token.balanceOf(alice) == 5
    print(f"ERC-20 through the Python API, fast mode: {per_call_ms(fast_token, alice)}")
    pytest.importorskip("vyper")
    vy = compilers.vyper("Counter.vy")
    counter = chain.deploy(vy["abi"], vy["bytecode"])
    assert counter.bump(2) == 2 and counter.count() == 2


def per_call_ms(token: Any, to: str, n: int = 50) -> str:
    t0 = time.perf_counter()
    for _ in range(n):
        token.transfer(to, 1)
    per_tx = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        token.balanceOf(to)
    per_call = (time.perf_counter() - t0) / n
    return f"transfer {per_tx * 1000:.2f} ms, balanceOf {per_call * 1000:.3f} ms"


def test_web3_transfer_speed(w3: Any, sol: dict[str, dict[str, Any]]) -> None:
    me, alice = w3.eth.accounts[:2]
    token = deploy(w3, sol["Token"], 10**24)
    n = 20
    t0 = time.perf_counter()
    for _ in range(n):
        w3.eth.wait_for_transaction_receipt(
            token.functions.transfer(alice, 1).transact({"from": me, "gas": 100_000}))
    per_tx = (time.perf_counter() - t0) / n
    print(f"\nERC-20 transfer through the node with web3.py: {per_tx * 1000:.2f} ms "
          "(send with a gas limit + receipt)")
    assert token.functions.balanceOf(alice).call() == n


def test_ethers_and_viem(node: ThreadedNode, sol: dict[str, dict[str, Any]],
                         tmp_path: Path) -> None:
    artifact = tmp_path / "token.json"
    token = sol["Token"]
    artifact.write_text(json.dumps({"abi": token["abi"],
                                    "bytecode": "0x" + token["bytecode"].hex()}))
    for library in ("ethers", "viem"):
        done = subprocess.run(["node", str(HERE / "js" / "flow.js"), library, node.url,
                               str(artifact)], check=False, capture_output=True, text=True,
                              timeout=180,
                              env=compilers.node_env(), cwd=compilers.js_dir())
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{library}: ok" in done.stdout, done.stdout
