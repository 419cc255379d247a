"""The `chainvm` command: dispatches to statetest, run and fvm."""

from __future__ import annotations

import sys
from collections.abc import Callable

from chainvm.cli.common import UsageError

USAGE = """usage: chainvm COMMAND [ARGS]   (chainvm --version: the installed version)

commands:
  statetest   run state-test fixtures (JSON results on stdout)
  blocktest   run blockchain-test fixtures (JSON results on stdout)
  t8n         state-transition tool: apply a block to an alloc (geth's evm t8n interface)
  difftest    differential testing against the execution specs
  node        a JSON-RPC dev node (chainvm node --help)
  run         execute bytecode in an empty state
  fixtures    extract the shared fixture archives into the cache; print their paths
  fvm         the Filecoin VM (fvm vector PATH...)
"""


def _command(name: str) -> Callable[[list[str]], int] | None:
    if name == "statetest":
        from chainvm.cli.statetest import main as statetest_main

        return statetest_main
    if name == "run":
        from chainvm.cli.run import main as run_main

        return run_main
    if name == "blocktest":
        from chainvm.chain.cli import main as blocktest_main

        return blocktest_main
    if name == "t8n":
        from chainvm.cli.t8n import main as t8n_main

        return t8n_main
    if name == "difftest":
        try:
            from chainvm.testing.differential_cli import main as difftest_main
        except ImportError:  # needs the test extras (the execution specs)
            return None
        return difftest_main
    if name == "node":
        from chainvm.node.cli import main as node_main

        return node_main
    if name == "fixtures":
        return _fixtures_main
    if name == "fvm":
        try:
            from chainvm.fvm.cli import main as fvm_main
        except ImportError:
            return None
        return fvm_main
    return None


DEFAULT_ARCHIVES = ["state-legacy-constantinople", "state-legacy-cancun", "state-2024",
                    "state-osaka-devnet"]


def _fixtures_main(argv: list[str]) -> int:
    import json
    import re

    from chainvm.cli.common import ArgumentParser
    from chainvm.encoding.json_input import InputError
    from chainvm.testing.fixtures import FIXTURES_HELP, ethereum_tests, missing_archive_message

    parser = ArgumentParser(
        prog="chainvm fixtures",
        description="Extract fixture archives into the cache; print {name: path} as JSON.",
        epilog=FIXTURES_HELP)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"archive name (default: {', '.join(DEFAULT_ARCHIVES)})")
    args = parser.parse_args(argv)
    paths: dict[str, str] = {}
    for name in args.names or DEFAULT_ARCHIVES:
        # A plain file name: the archive is NAME.tar.xz and its copy cache/NAME, which an
        # extraction replaces, so "../x" must not reach outside either folder.
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise UsageError(f"fixture archive name {name!r}: expected a plain name such as "
                             f"{DEFAULT_ARCHIVES[0]}")
        try:
            path = ethereum_tests(name)
        except InputError as exc:  # an unreadable archive, an unwritable cache
            raise UsageError(str(exc)) from None
        if path is None:
            raise UsageError(missing_archive_message(name))
        paths[name] = str(path)
    json.dump(paths, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    if args[0] in ("-V", "--version", "version"):
        from chainvm.version import chainvm_version

        sys.stdout.write(f"chainvm {chainvm_version()}\n")
        return 0
    handler = _command(args[0])
    if handler is None:
        sys.stderr.write(f"chainvm: unknown command {args[0]!r}\n{USAGE}")
        return 2
    try:
        return handler(args[1:])
    except UsageError as exc:
        sys.stderr.write(f"chainvm: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("chainvm: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
