"""evm_, anvil_ and hardhat_: the test extras (mining, time, snapshots, state edits,
impersonation). Most anvil_ methods are served under hardhat_ too."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from chainvm.node.devchain import NodeError
from chainvm.node.rpc.base import Namespace
from chainvm.node.rpc.format import q
from chainvm.node.rpc.params import (
    Address,
    Bool,
    Data,
    Decoder,
    Hash,
    InvalidParams,
    Number,
    Quantity,
    Raw,
    Slot,
    Uint64,
    parse_number,
    parse_object,
)


def _parse_seconds(v: Any, what: str) -> float:
    if isinstance(v, float) and 0 <= v < 2**32:
        return v
    return parse_number(v, what, 32)


Seconds = Annotated[float, Decoder(_parse_seconds)]

# anvil_ methods hardhat serves under the same short name.
HARDHAT_TWINS = ("setBalance", "setCode", "setStorageAt", "setNonce", "impersonateAccount",
                 "stopImpersonatingAccount", "mine", "reset", "setAutomine", "dropTransaction",
                 "setCoinbase", "getAutomine")


class AnvilApi(Namespace):
    prefixes = ("evm_", "anvil_")
    aliases: ClassVar[dict[str, str]] = {f"hardhat_{short}": f"anvil_{short}" for short in HARDHAT_TWINS}

    # -- snapshots and mining --------------------------------------------------------------

    def evm_snapshot(self) -> str:
        return q(self.dev.snapshot())

    def evm_revert(self, snapshot_id: Quantity) -> bool:
        return self.dev.revert(snapshot_id)

    def evm_mine(self, options: Raw = None) -> str:
        """Mine one block (a hex timestamp), or {"timestamp", "blocks"}."""
        if isinstance(options, dict):
            opts = parse_object(options, "invalid argument 0")
            ts = parse_number(opts["timestamp"], "invalid argument 0: timestamp") \
                if opts.get("timestamp") else None
            blocks = parse_number(opts["blocks"], "invalid argument 0: blocks") \
                if opts.get("blocks") else 1
            self.dev.mine(blocks, ts)
        elif options is None:
            self.dev.mine(1, None)
        elif isinstance(options, str):
            self.dev.mine(1, parse_number(options, "invalid argument 0: timestamp"))
        else:
            raise InvalidParams("invalid argument 0: expected a timestamp or an object")
        return "0x0"

    def anvil_mine(self, blocks: Quantity | None = None, interval: Quantity | None = None
                   ) -> bool:
        n = blocks if blocks is not None else 1
        ts = None
        step = interval or None  # no interval (or 0: blocks still need increasing times)
        if step is not None:
            ts = self.dev.head.header.timestamp + step
        self.dev.mine(n, ts, step)
        return True

    def evm_setAutomine(self, on: Bool) -> None:
        self.dev.automine = on

    def anvil_setAutomine(self, on: Bool) -> bool:
        self.dev.automine = on
        return True

    def anvil_getAutomine(self) -> bool:
        return self.dev.automine

    def evm_setIntervalMining(self, seconds: Seconds) -> bool:
        """Mine every `seconds` (0: stop); only effective with the HTTP server's miner."""
        self.dev.block_time = float(seconds) or None
        if seconds:
            self.dev.automine = False
        return True

    # -- time ------------------------------------------------------------------------------

    def evm_increaseTime(self, seconds: Number) -> str:
        return q(self.dev.increase_time(seconds))

    def evm_setNextBlockTimestamp(self, timestamp: Number) -> None:
        self.dev.set_next_timestamp(timestamp)

    # -- state edits -------------------------------------------------------------------------

    def anvil_setBalance(self, address: Address, balance: Quantity) -> bool:
        self.dev.set_balance(address, balance)
        return True

    def anvil_setCode(self, address: Address, code: Data) -> bool:
        self.dev.set_code(address, code)
        return True

    def anvil_setStorageAt(self, address: Address, slot: Slot, value: Hash) -> bool:
        self.dev.set_storage(address, slot, int.from_bytes(value, "big"))
        return True

    def anvil_setNonce(self, address: Address, nonce: Uint64) -> bool:
        self.dev.set_nonce(address, nonce)
        return True

    def anvil_setCoinbase(self, address: Address) -> bool:
        self.dev.coinbase = address
        return True

    def anvil_impersonateAccount(self, address: Address) -> bool:
        self.dev.impersonate(address)
        return True

    def anvil_stopImpersonatingAccount(self, address: Address) -> bool:
        self.dev.stop_impersonating(address)
        return True

    def anvil_dropTransaction(self, tx_hash: Hash) -> bool:
        return self.dev.pool.remove(tx_hash)

    def anvil_reset(self, *options: Any) -> bool:
        """Back to genesis (forking is not supported; a fork argument is refused)."""
        if options and isinstance(options[0], dict) and options[0].get("forking"):
            raise NodeError("forking from a remote node is not supported", -32000)
        self.dev.reset()
        return True
