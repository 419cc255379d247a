"""A writer process for the kill-and-reopen test: imports blocks into a data dir forever.

Run as `python -m tests.chain.store_writer DATADIR`; prints each committed block number.
"""

from __future__ import annotations

import sys

from chainvm.chain.builder import build_block, make_genesis
from chainvm.chain.chain import Chain
from chainvm.chain.config import config_for_network
from chainvm.state.state import Account, State
from tests.chain.helpers import ADDRS, transfer


def genesis_args() -> tuple:
    config = config_for_network("Cancun")
    state = State({a: Account(balance=10**24) for a in ADDRS})
    return config, make_genesis(config, state), state


def main(datadir: str) -> None:
    config, genesis, state = genesis_args()
    chain = Chain.open(datadir, config, genesis, state)
    while True:
        head_state = chain.state()
        txs = [transfer(k, head_state.nonce(ADDRS[k]), to=bytes([chain.head.number % 251 + 1]) * 20)
               for k in range(len(ADDRS))]
        built = build_block(chain, txs)
        chain.import_block(built.block)
        print(chain.head.number, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
