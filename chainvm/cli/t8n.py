"""`chainvm t8n`: the state-transition tool of geth's `evm t8n` and `ethereum-spec-evm t8n`.

Reads an alloc, an env and transactions (files, or one JSON object
`{"alloc", "env", "txs"}` on stdin for the inputs named `stdin`), applies the
block and writes the result, the post alloc and the transactions' RLP body to
files in `--output.basedir`, or, for outputs named `stdout`/`stderr`, as one
JSON object combining them on that stream.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from chainvm.chain.t8n import T8nError, known_fork, transition
from chainvm.chain.transactions import SignedTransaction
from chainvm.cli.common import ArgumentParser, UsageError, parse_int_flag, read_stdin
from chainvm.encoding.json_input import InputError, load_json, read_json_file

_STREAMS = ("stdout", "stderr")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="chainvm t8n",
                            description="Apply a block of transactions to an alloc "
                                        "(geth's evm t8n interface).")
    add = parser.add_argument
    add("--input.alloc", dest="input_alloc", default="alloc.json", metavar="FILE",
        help="pre-state (file, or stdin)")
    add("--input.env", dest="input_env", default="env.json", metavar="FILE",
        help="block environment (file, or stdin)")
    add("--input.txs", dest="input_txs", default="txs.json", metavar="FILE",
        help="transactions: a JSON list, or a JSON string of RLP hex (file, or stdin)")
    add("--input.blobParams", dest="input_blob_params", default=None, metavar="FILE",
        help='blob schedule {"target", "max", "baseFeeUpdateFraction"} (file, or stdin)')
    add("--output.basedir", dest="output_basedir", default=".", metavar="DIR",
        help="folder for the output files and traces")
    add("--output.result", dest="output_result", default="result.json", metavar="NAME",
        help="result file name in basedir, or stdout/stderr")
    add("--output.alloc", dest="output_alloc", default="alloc.json", metavar="NAME",
        help="post-state file name in basedir, or stdout/stderr")
    add("--output.body", dest="output_body", default=None, metavar="NAME",
        help="file name for the RLP of the transactions, or stdout/stderr")
    add("--state.fork", dest="state_fork", default="GrayGlacier", metavar="NAME",
        help="fork name (e.g. Cancun) or transition (e.g. BerlinToLondonAt5)")
    add("--state.reward", dest="state_reward", default=None, metavar="WEI",
        help="proof-of-work block reward; -1 pays none (default: the fork's)")
    add("--state.chainid", dest="state_chainid", default="1", metavar="N", help="chain id")
    add("--trace", action="store_true",
        help="write an EIP-3155 trace per transaction to basedir/trace-INDEX-HASH.jsonl")
    for flag in ("--trace.memory", "--trace.nomemory", "--trace.returndata",
                 "--trace.noreturndata", "--trace.nostack"):
        add(flag, action="store_true", help="accepted for compatibility (no effect)")
    return parser


def _int_flag(text: str, flag: str) -> int:
    if text.strip() == "-1":  # --state.reward -1: pay no reward
        return -1
    return parse_int_flag(text, flag, limit=2**256)


def _read_json(path: str, what: str) -> Any:
    try:
        return read_json_file(path, f"{what}: {path}")
    except InputError as exc:
        raise UsageError(str(exc)) from None


def _read_inputs(args: Any) -> tuple[Any, Any, Any, Any]:
    names = {"alloc": args.input_alloc, "env": args.input_env, "txs": args.input_txs}
    if args.input_blob_params is not None:
        names["blobParams"] = args.input_blob_params
    stdin: dict[str, Any] | None = None
    if "stdin" in names.values():
        try:
            stdin = load_json(read_stdin(), "stdin")
        except InputError as exc:
            raise UsageError(str(exc)) from None
        if not isinstance(stdin, dict):
            raise UsageError("stdin: expected a JSON object with alloc, env and txs")
    values: list[Any] = []
    for key, path in names.items():
        if path == "stdin":
            assert stdin is not None
            if key not in stdin:
                raise UsageError(f"stdin: the JSON object has no {key!r}")
            values.append(stdin[key])
        else:
            values.append(_read_json(path, f"--input.{key}"))
    if len(values) == 3:
        values.append(None)
    return values[0], values[1], values[2], values[3]


def _check_output_paths(paths: dict[str, Path]) -> None:
    """Refuse, before anything runs, an output file that could not be written."""
    for flag, path in paths.items():
        if path.is_dir():
            raise UsageError(f"{flag}: {path} is a folder")
        if not path.parent.is_dir():
            raise UsageError(f"{flag}: {path.parent} is not a folder")


def _write_outputs(values: dict[Path, Any]) -> None:
    """Write every output file or none: each goes to a temporary file beside it, renamed
    into place only once all are written."""
    written: list[tuple[Path, Path]] = []
    try:
        for path, value in values.items():
            # open(), not mkstemp: the file gets the umask's mode, as a direct write would
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "x") as fh:
                written.append((tmp, path))
                json.dump(value, fh, indent=2)
                fh.write("\n")
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException as exc:  # also an interrupt: no temporary file stays behind
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {exc.filename or path} ({exc.strerror})") from None
        raise


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    reward = None if args.state_reward is None else _int_flag(args.state_reward,
                                                              "--state.reward")
    chain_id = _int_flag(args.state_chainid, "--state.chainid")
    if chain_id < 0:
        raise UsageError("--state.chainid must not be negative")
    if reward is not None and reward < -1:
        raise UsageError("--state.reward must be -1 or more")
    if not known_fork(args.state_fork):
        raise UsageError(f"unknown fork {args.state_fork!r}")
    basedir = Path(args.output_basedir)
    outputs = {"--output.result": args.output_result, "--output.alloc": args.output_alloc,
               "--output.body": args.output_body}
    files = {flag: basedir / name for flag, name in outputs.items()
             if name is not None and name not in _STREAMS}
    if files or args.trace:
        try:
            basedir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--output.basedir: cannot create {basedir} "
                             f"({exc.strerror})") from None
    _check_output_paths(files)
    alloc, env, txs, blob_params = _read_inputs(args)
    if args.trace:
        for old in basedir.glob("trace-*.jsonl"):
            old.unlink()

    def open_trace(index: int, tx: SignedTransaction) -> IO[str]:
        return open(basedir / f"trace-{index}-0x{tx.hash.hex()}.jsonl", "w")

    try:
        done = transition(alloc, env, txs, args.state_fork, chain_id,
                          reward, open_trace if args.trace else None, blob_params)
    except T8nError as exc:
        raise UsageError(str(exc)) from None
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:  # unforeseen shape
        raise UsageError(f"bad input: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot write trace: {exc}") from None

    streams: dict[str, dict[str, Any]] = {"stdout": {}, "stderr": {}}
    values: dict[Path, Any] = {}
    for name, key, value in ((args.output_result, "result", done.result),
                             (args.output_alloc, "alloc", done.alloc),
                             (args.output_body, "body", done.body)):
        if name is None:
            continue
        if name in _STREAMS:
            streams[name][key] = value
        else:
            values[basedir / name] = value
    _write_outputs(values)
    for stream_name, combined in streams.items():
        if combined:
            stream = sys.stdout if stream_name == "stdout" else sys.stderr
            json.dump(combined, stream, indent=2)
            stream.write("\n")
            stream.flush()
    return 0

