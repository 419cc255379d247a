"""`chainvm node`: the dev node's command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainvm.cli.common import ArgumentParser, UsageError
from chainvm.encoding.json_input import UINT64_MAX
from chainvm.node.accounts import DEFAULT_MNEMONIC, MAX_ACCOUNTS, checksum, mnemonic_problem
from chainvm.node.limits import MIN_BLOCK_TIME
from chainvm.version import chainvm_version

if TYPE_CHECKING:
    from chainvm.node.devchain import DevChain

USAGE_EXIT = 2


class _PrintVersion(argparse.Action):
    """--version: the installed version, looked up only when asked (the lookup imports
    importlib.metadata, which a node's start-up does not otherwise load)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0,
                         help="print the installed version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"chainvm node {chainvm_version()}")
        parser.exit()


def build_parser() -> ArgumentParser:
    # The shared parser: a bad flag is one line, not argparse's usage block.
    p = ArgumentParser(prog="chainvm node",
                       description="A development Ethereum node (JSON-RPC over HTTP).")
    p.add_argument("-V", "--version", action=_PrintVersion)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("-p", "--port", type=int, default=8545, help="0 picks a free port")
    p.add_argument("--datadir", help="persist the chain in LMDB here (default: in memory)")
    p.add_argument("--sync-interval", type=float, default=None, metavar="SECONDS",
                   help="with --datadir: sync written blocks to disk every SECONDS "
                        "(default 0.2; 0: one sync per block). A killed node loses "
                        "nothing either way; a power loss, at most this much")
    p.add_argument("--fork", "--hardfork", dest="fork", default="Osaka",
                   help="fork from genesis (default Osaka; --hardfork is anvil's name for it, "
                        "and takes its lower-case names and 'latest')")
    p.add_argument("--chain-id", type=int, default=31337)
    p.add_argument("-a", "--accounts", type=int, default=10)
    p.add_argument("--balance", type=float, default=10000.0, help="ether per dev account")
    p.add_argument("-b", "--block-time", type=float, default=None,
                   help="mine a block every S seconds instead of one per transaction")
    p.add_argument("--no-mining", action="store_true",
                   help="mine only when asked (evm_mine, anvil_mine), as anvil's flag")
    p.add_argument("--gas-limit", type=int, default=None,
                   help="the blocks' gas limit (default 30000000)")
    p.add_argument("--timestamp", type=int, default=None,
                   help="the genesis block's timestamp (default: now)")
    p.add_argument("-m", "--mnemonic", default=DEFAULT_MNEMONIC)
    p.add_argument("--max-body", type=int, default=16 * 1024 * 1024,
                   help="largest request body in bytes (default 16 MiB)")
    p.add_argument("--max-batch", type=int, default=1000,
                   help="most calls in one batch (default 1000)")
    p.add_argument("--rpc.gascap", dest="gas_cap", type=int, default=50_000_000,
                   help="gas of eth_call, eth_estimateGas and debug_traceCall at most "
                        "(default 50000000; 0: the block's gas limit only)")
    p.add_argument("--rpc.evmtimeout", dest="evm_timeout", type=float, default=5.0,
                   help="seconds one call or trace may run (default 5; 0: no limit)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="serve this Host name besides the loopback ones (repeatable; "
                        "* for any)")
    p.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                   help="let web pages from this origin call the node (repeatable; * for "
                        "any; default none)")
    p.add_argument("--allow-reset", action="store_true",
                   help="allow anvil_reset / anvil_loadState on a --datadir chain")
    p.add_argument("--load-state", metavar="FILE",
                   help="start from a state dump (a --dump-state file, or anvil_dumpState's "
                        "JSON or hex, at most 128 MiB unpacked) written over the genesis state")
    p.add_argument("--dump-state", metavar="FILE",
                   help="on exit, write the head state here as JSON (for --load-state)")
    p.add_argument("--state", metavar="FILE",
                   help="--load-state FILE when it exists, and --dump-state FILE on exit "
                        "(anvil's flag)")
    p.add_argument("--silent", action="store_true",
                   help="print nothing on stdout (errors still go to stderr)")
    p.add_argument("--auto-impersonate", action="store_true",
                   help="let any sender without a dev key send (anvil's flag)")
    p.add_argument("--history-contract", action=argparse.BooleanOptionalAction, default=True,
                   help="EIP-2935's block-hash history contract in a new chain's genesis from "
                        "Prague on, as anvil's and geth --dev's have (default; "
                        "--no-history-contract leaves it out: each block then skips its system "
                        "call, about an eighth more transfers a second; docs/node.md)")
    p.add_argument("-f", "--fork-url", help="fork a remote node's chain: its state is read "
                   "on demand (http:// or https:// JSON-RPC URL)")
    p.add_argument("--fork-block-number", type=int, default=None,
                   help="the remote block to fork at (default: its latest)")
    p.add_argument("--fork-cache", default=None,
                   help="keep what the fork reads in LMDB here, for the next runs")
    return p


def main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:  # its message starts with the prog, "chainvm node"
        print(exc, file=sys.stderr)
        return USAGE_EXIT
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if exc.code in (0, None) else USAGE_EXIT
    from chainvm.chain.store import StoreError
    from chainvm.node.devchain import ETHER, DevChain, NodeError
    from chainvm.node.server import NodeServer, tune_gc

    dump_flag = "--state" if args.state is not None else "--dump-state"
    problem = (_normalize_anvil_flags(args) or _value_problem(args, ETHER)
               or _fork_usage_problem(args) or _sync_usage_problem(args)
               or _mnemonic_usage_problem(args.mnemonic)
               or _dump_path_problem(args.dump_state, dump_flag))
    if problem:
        print(f"chainvm node: {problem}", file=sys.stderr)
        return USAGE_EXIT
    from chainvm.node.rpc.base import RpcOptions

    options = RpcOptions(gas_cap=args.gas_cap, evm_timeout=args.evm_timeout,
                         allow_reset=args.allow_reset)
    try:
        extra: dict[str, object] = {}
        if args.sync_interval is not None:
            extra["sync_interval"] = args.sync_interval
        if args.gas_limit is not None:
            extra["gas_limit"] = args.gas_limit
        if args.timestamp is not None:
            extra["timestamp"] = args.timestamp
        dev = DevChain(fork=args.fork, chain_id=args.chain_id, accounts=args.accounts,
                       balance=int(args.balance * ETHER), datadir=args.datadir,
                       mnemonic=args.mnemonic, fork_url=args.fork_url,
                       fork_block=args.fork_block_number, fork_cache=args.fork_cache,
                       history_contract=args.history_contract,
                       **extra)  # type: ignore[arg-type]
    except (KeyError, ValueError, ImportError, StoreError) as exc:
        print(f"chainvm node: {exc}", file=sys.stderr)
        return USAGE_EXIT
    except NodeError as exc:  # the remote of --fork-url failed
        print(f"chainvm node: {exc}", file=sys.stderr)
        return 1
    if args.load_state:
        try:
            _load_state(dev, args.load_state)
        except (OSError, ValueError, NodeError) as exc:
            print(f"chainvm node: --load-state {args.load_state}: {exc}", file=sys.stderr)
            dev.close()
            return USAGE_EXIT
    if args.no_mining:
        dev.automine = False
    dev.auto_impersonate = args.auto_impersonate
    server = NodeServer(dev, args.host, args.port, block_time=args.block_time,
                        max_body=args.max_body, max_batch=args.max_batch, options=options,
                        allow_hosts=args.allow_host, cors=args.cors)
    if not args.silent:
        _print_banner(dev, args)
    tune_gc()

    async def serve() -> None:
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        # Only now: a SIGTERM sent as soon as this line shows must still end in the dump.
        if not args.silent:
            print(f"Listening on http://{args.host}:{server.port}", flush=True)
        await stop.wait()
        await server.stop()

    status = 0
    try:
        asyncio.run(serve())
    except OSError as exc:
        print(f"chainvm node: {exc}", file=sys.stderr)
        status = 1
    finally:
        if args.dump_state and not _dump_state(dev, args.dump_state):
            status = 1  # the session's state is lost: a script must not take it as written
        dev.close()
    return status


def _load_state(dev: DevChain, path: str) -> None:
    from chainvm.node.dumps import read_dump_file

    dev.load_state(read_dump_file(path))


def _dump_state(dev: DevChain, path: str) -> bool:
    """Write the dump next to its place, then rename: never a half-written file, and no
    temporary one left behind when it fails. Whether the dump was written."""
    import json

    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(json.dumps(dev.dump_state(), indent=1) + "\n")
        tmp.replace(target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        print(f"chainvm node: --dump-state {path}: cannot write ({exc.strerror or exc})",
              file=sys.stderr)
        return False
    print(f"State written to {target}", file=sys.stderr)
    return True


def _dump_path_problem(path: str | None, flag: str = "--dump-state") -> str | None:
    """Why --dump-state could not take its file (None: it can), checked at start: the
    file is written only at exit, when a bad path would lose the session's state."""
    if path is None:
        return None
    target = Path(path)
    if target.is_dir():
        return f"{flag} {path}: is a directory"
    folder = target.parent
    if not folder.is_dir():
        return f"{flag} {path}: no directory {str(folder)!r} to write it in"
    try:  # a file made and removed again: permissions and read-only mounts answer alike
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"{flag} {path}: cannot write in {str(folder)!r} ({exc.strerror or exc})"
    return None


def _normalize_anvil_flags(args: argparse.Namespace) -> str | None:
    """anvil's flags as this node takes them: --hardfork's names in any case ('latest' for
    the default), --state as --load-state (if the file exists) and --dump-state, and the
    combinations that cannot hold. Normalises `args` in place; a problem as one line."""
    from chainvm.evm.forks import FORKS

    if args.fork.lower() == "latest":
        args.fork = "Osaka"
    else:
        names = {name.lower(): name for name in FORKS}
        args.fork = names.get(args.fork.lower(), args.fork)
    if args.state is not None:
        if args.load_state is not None or args.dump_state is not None:
            return "--state is --load-state and --dump-state together: give one or the others"
        if Path(args.state).exists():
            args.load_state = args.state
        args.dump_state = args.state
    if args.no_mining and args.block_time is not None:
        return "--no-mining and --block-time cannot be combined"
    from chainvm.chain.processing import MAX_GAS_LIMIT  # (as the node needs it)
    from chainvm.evm.gas import G_TRANSACTION

    if args.gas_limit is not None and not G_TRANSACTION <= args.gas_limit <= MAX_GAS_LIMIT:
        return "--gas-limit must be between 21000 and 2^63-1 (a header's limit)"
    if args.timestamp is not None and not 0 <= args.timestamp <= UINT64_MAX:
        return "--timestamp must be between 0 and 2^64-1"
    return None


def _value_problem(args: argparse.Namespace, ether: int) -> str | None:
    """What argparse's types let through and the node cannot use (a port that cannot be
    bound, a chain id or block number outside 64 bits, a balance that is not a uint256
    amount of wei, a NaN), as one line; None when all is well."""
    if not 0 <= args.port <= 65535:
        return "--port must be between 0 and 65535 (0 picks a free port)"
    if not 0 < args.chain_id <= UINT64_MAX:
        return "--chain-id must be between 1 and 2^64-1"
    if not 0 <= args.accounts <= MAX_ACCOUNTS:
        return f"--accounts must be between 0 and {MAX_ACCOUNTS}"
    if not (0 <= args.balance * ether < 2.0 ** 256):  # (False for NaN; infinity is above)
        return "--balance must be a non-negative number of ether below 2^256 wei"
    if args.block_time is not None and not (math.isfinite(args.block_time)
                                            and args.block_time >= MIN_BLOCK_TIME):
        return f"--block-time must be a number of seconds, at least {MIN_BLOCK_TIME}"
    if args.fork_block_number is not None and not 0 <= args.fork_block_number <= UINT64_MAX:
        return "--fork-block-number must be between 0 and 2^64-1"
    if args.max_body <= 0 or args.max_batch <= 0 or args.gas_cap < 0 \
            or not 0 <= args.evm_timeout < 1e9:
        return ("--max-body and --max-batch must be positive, --rpc.gascap and "
                "--rpc.evmtimeout not negative")
    return None


def _fork_usage_problem(args: argparse.Namespace) -> str | None:
    if args.fork_url is None:
        if args.fork_block_number is not None or args.fork_cache is not None:
            return "--fork-block-number and --fork-cache need --fork-url"
        return None
    try:
        parts = urllib.parse.urlsplit(args.fork_url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (
            parts.port is None or parts.port > 0)
    except ValueError:
        valid = False
    if not valid:
        return f"--fork-url {args.fork_url!r}: expected http:// or https://host[:port][/path]"
    if args.datadir is not None:
        return "--fork-url keeps the chain in memory: it cannot be combined with --datadir"
    return None


def _sync_usage_problem(args: argparse.Namespace) -> str | None:
    if args.sync_interval is None:
        return None
    if args.datadir is None:
        return "--sync-interval needs --datadir (an in-memory chain writes nothing)"
    if not 0 <= args.sync_interval <= 3600:  # NaN fails too
        return "--sync-interval must be between 0 and 3600 seconds"
    return None


def _mnemonic_usage_problem(mnemonic: str) -> str | None:
    """A phrase that is not a BIP-39 mnemonic ("foo bar", a typo) was taken as one: its
    seed is only a hash of the words, so the node served accounts that no wallet given
    the same words derives (they refuse it)."""
    problem = mnemonic_problem(mnemonic)
    return None if problem is None else f"--mnemonic is not a valid BIP-39 mnemonic: {problem}"


def _print_banner(dev: object, args: argparse.Namespace) -> None:
    from chainvm.node.devchain import DevChain

    assert isinstance(dev, DevChain)
    head = dev.head
    where = f"datadir {args.datadir}" + (" (reopened)" if dev.reopened else "") \
        if args.datadir else "in memory"
    if dev.remote is not None:
        where += f", forked from {dev.remote.client.display} at block #{dev.remote.number}"
    # (from the chain itself: --no-mining and --load-state may have turned automine off)
    mining = f"interval {args.block_time}s" if args.block_time else \
        "automine" if dev.automine else "mining off (evm_mine mines)"
    print(f"chainvm node: chain id {dev.chain_id}, fork {head.fork.name}, {where}, "
          f"{mining}, head #{head.number}")
    print(f"Mnemonic: {dev.mnemonic}")
    print("Derivation path: m/44'/60'/0'/0/i")
    print("Available accounts (public test keys, never use them on a real network):")
    state = dev.state()
    for i, (address, key) in enumerate(dev.keys.items()):
        print(f"({i}) {checksum(address)} ({state.balance(address) / 10**18:g} ETH) "
              f"key 0x{key.hex()}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
