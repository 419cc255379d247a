"""CPU per transfer of the two paths that mine a block per transaction, in process (a
benchmark, not a test): issue 14's node path and issue 17's test API.

Run: .venv/bin/python benchmarks/transfer_cost.py rpc|testchain [--transfers N]
         [--signed M] [--history-contract]

  rpc        a DevChain with 51 dev accounts; per transfer `Rpc.handle_body` of
             eth_sendRawTransaction (a signed 1-wei EIP-1559 transfer, signed beforehand,
             50 senders in turn) then of eth_getTransactionReceipt, both answers
             JSON-encoded as the server does; with --history-contract, EIP-2935's
             history contract in the genesis (`chainvm node --history-contract`)
  testchain  `TestChain()`: the ERC-20 token of the node tests (needs solcjs, as
             benchmarks/erc20.py), `token.transfer(alice, 1)`

After a warm-up (100 transfers, or 50), N transfers are timed with time.process_time
and the CPU per transfer printed. For counts a loaded machine does not move, run it
twice under `valgrind --tool=callgrind --callgrind-out-file=/dev/null` with two values
of N and divide the difference of the "Collected" totals by the difference of the Ns;
for `rpc` give both runs the same --signed M (at least the larger N plus 100), so that
signing the transfers beforehand costs both runs the same.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLIENTS = 50


def rpc_loop(count: int, signed: int, history: bool = False) -> tuple[Callable[[int], None], int]:
    from chainvm.chain.transactions import SignedTransaction
    from chainvm.node.accounts import dev_keys
    from chainvm.node.devchain import DevChain
    from chainvm.node.rpc import Rpc

    warm = 100
    keys = dev_keys(CLIENTS + 1)
    per = -(-max(count + warm, signed) // CLIENTS)
    raws = []
    for nonce in range(per):
        for _address, key in keys[:CLIENTS]:
            tx = SignedTransaction(2, nonce=nonce, gas_limit=21000, to=b"\x42" * 20,
                                   value=1, data=b"", v=0, r=0, s=0, chain_id=31337,
                                   max_priority_fee_per_gas=10**9,
                                   max_fee_per_gas=100 * 10**9)
            raws.append("0x" + tx.sign(key).encode().hex())
    rpc = Rpc(DevChain(accounts=CLIENTS + 1, history_contract=history))

    def body(method: str, *params: str) -> bytes:
        return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": list(params)}).encode()

    bodies = iter([body("eth_sendRawTransaction", raw) for raw in raws])

    def run(n: int) -> None:
        for _ in range(n):
            sent = rpc.handle_body(next(bodies))
            json.dumps(sent, separators=(",", ":"))
            receipt = rpc.handle_body(body("eth_getTransactionReceipt", sent["result"]))
            json.dumps(receipt, separators=(",", ":"))
            if receipt["result"]["status"] != "0x1":
                raise RuntimeError(f"transfer failed: {receipt}")

    return run, warm


def testchain_loop(count: int, signed: int) -> tuple[Callable[[int], None], int]:
    from chainvm.testing.api import TestChain
    from tests.node import compilers

    token_artifact = compilers.solidity()["Token"]
    chain = TestChain()
    token = chain.deploy(token_artifact["abi"], token_artifact["bytecode"], 10**24)
    alice = "0x" + "00" * 19 + "0a"

    def run(n: int) -> None:
        for _ in range(n):
            token.transfer(alice, 1)

    return run, 50


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", choices=("rpc", "testchain"))
    p.add_argument("--transfers", type=int, default=2000)
    p.add_argument("--signed", type=int, default=0,
                   help="rpc: transfers to sign beforehand (default: --transfers + 100)")
    p.add_argument("--history-contract", action="store_true",
                   help="rpc: EIP-2935's history contract in the genesis")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    if args.transfers <= 0 or args.signed < 0:
        print("transfer_cost: --transfers must be positive, --signed not negative",
              file=sys.stderr)
        return 2
    if args.path == "rpc":
        run, warm = rpc_loop(args.transfers, args.signed, args.history_contract)
    else:
        run, warm = testchain_loop(args.transfers, args.signed)
    run(warm)
    start = time.process_time()
    run(args.transfers)
    spent = time.process_time() - start
    print(f"{args.path}: {1000 * spent / args.transfers:.3f} ms CPU per transfer "
          f"({args.transfers} transfers)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
