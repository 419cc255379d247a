"""Per-call cost of an OpenZeppelin ERC-20 `transfer`, side by side.

    python tests/node/bench_erc20.py build ARTIFACT.json     # compile (solcjs), in the
                                                             # chainvm environment
    python tests/node/bench_erc20.py chainvm ARTIFACT.json   # chainvm API and node+web3
    python tests/node/bench_erc20.py others ARTIFACT.json    # eth-tester (web3 +
                                                             # EthereumTesterProvider)
                                                             # and titanoboa, in an
                                                             # environment that has them

Each prints one JSON line per engine: {"engine", "transfer_ms", "call_ms"}.
eth-tester and titanoboa pin versions of the eth-* packages that differ from
chainvm's, so they run in their own virtual environment.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

N = 200


def timed(fn: Callable[[], Any], n: int = N) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1000


def report(engine: str, transfer_ms: float, call_ms: float) -> None:
    print(json.dumps({"engine": engine, "transfer_ms": round(transfer_ms, 3),
                      "call_ms": round(call_ms, 3)}), flush=True)


def web3_flow(engine: str, w3: Any, abi: Any, bytecode: str, n: int) -> None:
    me, alice = w3.eth.accounts[:2]
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(10**24).transact({"from": me}))
    token = w3.eth.contract(address=receipt.contractAddress, abi=abi)

    def transfer() -> None:
        w3.eth.wait_for_transaction_receipt(
            token.functions.transfer(alice, 1).transact({"from": me, "gas": 100_000}))

    report(engine, timed(transfer, n), timed(lambda: token.functions.balanceOf(alice).call(), n))


def run_chainvm(abi: Any, bytecode: str) -> None:
    from web3 import Web3

    from chainvm.node.devchain import DevChain
    from chainvm.node.server import ThreadedNode
    from chainvm.testing.api import TestChain

    for name, chain in (("chainvm API (blocks)", TestChain()),
                        ("chainvm API (fast mode)", TestChain(blocks=False))):
        token = chain.deploy(abi, bytecode, 10**24)
        alice = chain.accounts[1]
        report(name, timed(lambda token=token, alice=alice: token.transfer(alice, 1)),
               timed(lambda token=token, alice=alice: token.balanceOf(alice)))
    with ThreadedNode(DevChain()) as node:
        web3_flow("chainvm node + web3.py", Web3(Web3.HTTPProvider(node.url)), abi, bytecode,
                  50)


def run_others(abi: Any, bytecode: str) -> None:
    from web3 import EthereumTesterProvider, Web3

    web3_flow("eth-tester (py-evm) + web3.py", Web3(EthereumTesterProvider()), abi, bytecode, 50)
    import boa

    address = boa.env.deploy_code(bytecode=bytes.fromhex(bytecode[2:]) + (10**24).to_bytes(
        32, "big"))
    address = address[0] if isinstance(address, tuple) else address
    token = boa.loads_abi(json.dumps(abi), name="Token").at(address)
    alice = "0x" + "00" * 19 + "0a"
    report("titanoboa", timed(lambda: token.transfer(alice, 1)),
           timed(lambda: token.balanceOf(alice)))


def main(argv: list[str]) -> int:
    mode, artifact = argv
    if mode == "build":
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from tests.node import compilers

        token = compilers.solidity()["Token"]
        Path(artifact).write_text(json.dumps({"abi": token["abi"],
                                              "bytecode": "0x" + token["bytecode"].hex()}))
        return 0
    data = json.loads(Path(artifact).read_text())
    (run_chainvm if mode == "chainvm" else run_others)(data["abi"], data["bytecode"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
