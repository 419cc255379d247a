"""Running filecoin-project/test-vectors files against this VM."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import shutil
import struct
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainvm.encoding.json_input import InputError, load_json
from chainvm.fvm.address import BLS, SECP256K1, Address
from chainvm.fvm.codec import CID, DecodeError
from chainvm.fvm.hamt import HamtError
from chainvm.fvm.state import StateTree
from chainvm.fvm.store import BlockNotFound, MemoryBlockstore, read_car
from chainvm.fvm.types import Actor, Message
from chainvm.fvm.vm import TOTAL_FILECOIN, VM, ActorError, FatalError
from chainvm.testing.fixtures import cache_dir, extract_all, shared_fixtures

ENV_VAR = "CHAINVM_FVM_FIXTURES"


def archive_path() -> Path:
    """The shared corpus archive: under $CHAINVM_FIXTURES (like every other
    fixture archive), else ../shared/fixtures beside the checkout or the
    working directory."""
    return shared_fixtures() / "filecoin-test-vectors" / "corpus.tar.xz"


def target_list_path() -> Path:
    return archive_path().parent / "TARGET-M2.txt"


# kept for callers that read them as constants (resolved at import)
ARCHIVE = archive_path()
TARGET_LIST = target_list_path()


def fixtures_dir(extract: bool = True) -> Path:
    """Folder holding ``corpus/``: $CHAINVM_FVM_FIXTURES, else
    ``filecoin-test-vectors`` in the fixture cache ($CHAINVM_FIXTURE_CACHE or
    the git-ignored ``.fixtures``), extracted from the shared archive on
    first use. Nothing is looked up inside the installed package, so this
    works the same after a non-editable install."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    folder = cache_dir() / "filecoin-test-vectors"
    archive = archive_path()
    if extract and not (folder / "corpus").is_dir() and archive.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        # one process extracts while the others wait on the lock; extraction
        # goes beside the target and is renamed, so no run sees half a corpus
        with open(folder.parent / f".{folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / "corpus").is_dir():
                tmp = Path(tempfile.mkdtemp(prefix=".extracting-", dir=folder))
                try:
                    with tarfile.open(archive, "r:xz") as tar:
                        extract_all(tar, tmp)
                    (tmp / "corpus").rename(folder / "corpus")
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    return folder


def corpus_dir() -> Path:
    return fixtures_dir() / "corpus"


@dataclass
class VariantResult:
    file: str
    variant: str
    passed: bool
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "variant": self.variant,
            "pass": self.passed,
            "error": self.error,
        }


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def decode_diagnostics(vector: dict[str, Any]) -> Any:
    """The lotus execution trace stored with a vector (gzipped JSON)."""
    diag = vector.get("diagnostics")
    if not diag:
        return None
    raw = _b64(diag["data"])
    try:
        raw = _b64(raw.decode())
    except (ValueError, UnicodeDecodeError):
        pass
    text = zlib.decompressobj(31).decompress(raw)
    return json.loads(text)


def _actor_diff(store: MemoryBlockstore, expected: CID, got: CID) -> str:
    try:
        exp = StateTree(store, expected).all_actors()
    except (KeyError, DecodeError, ValueError):
        return f"post-state root: expected {expected}, got {got} (expected state not in CAR)"
    act = StateTree(store, got).all_actors()
    for addr in sorted(set(exp) | set(act), key=lambda a: a.bytes):
        e: Actor | None = exp.get(addr)
        g: Actor | None = act.get(addr)
        if e == g:
            continue
        if e is None or g is None:
            return f"actor {addr}: expected {'absent' if e is None else 'present'}, got " + (
                "absent" if g is None else "present"
            )
        for fld in ("code", "nonce", "balance", "head"):
            ev, gv = getattr(e, fld), getattr(g, fld)
            if ev != gv:
                extra = ""
                if fld == "head":
                    try:
                        extra = f" ({store.get_obj(ev)!r} vs {store.get_obj(gv)!r})"
                    except KeyError:
                        pass
                return f"actor {addr} {fld}: expected {ev}, got {gv}{extra}"
    return f"post-state root: expected {expected}, got {got}"


def vector_variants(vector: dict[str, Any]) -> list[dict[str, Any]]:
    """The variants a vector runs in (a vector without any runs once, as "default")."""
    pre = vector.get("preconditions", {})
    variants: list[dict[str, Any]] = pre.get("variants") or [
        {"id": "default", "epoch": pre.get("epoch", 0), "nv": 0}
    ]
    return variants


@dataclass
class PreparedVector:
    """A vector with its CAR decoded, ready to run any of its variants."""

    vector: dict[str, Any]
    blocks: dict[CID, bytes]
    pre_root: CID
    exp_root: CID
    exp_receipts: list[dict[str, Any]]
    base_fee: int
    circ: int

    def fresh_store(self) -> MemoryBlockstore:
        """A store holding the CAR's blocks and nothing a variant wrote."""
        store = MemoryBlockstore()
        store.blocks.update(self.blocks)
        return store


def prepare_vector(vector: dict[str, Any]) -> PreparedVector:
    """Decode the CAR and the roots of a message or tipset vector (MalformedVector if
    the CAR cannot be read)."""
    pre = vector.get("preconditions", {})
    store = MemoryBlockstore()
    try:
        read_car(_b64(vector["car"]), store)
    except (DecodeError, ValueError, KeyError, IndexError) as exc:
        raise MalformedVector(f"'car' is not a readable CAR: {exc}") from None
    pre_root = CID.parse(pre["state_tree"]["root_cid"]["/"])
    _check_state_root(store, pre_root)
    post = vector.get("postconditions", {})
    return PreparedVector(
        vector,
        store.blocks,
        pre_root,
        CID.parse(post["state_tree"]["root_cid"]["/"]),
        post.get("receipts") or [],
        int(pre.get("basefee", 100)),
        int(pre.get("circ_supply", TOTAL_FILECOIN)),
    )


def _check_state_root(store: MemoryBlockstore, root: CID) -> None:
    """The pre-state must load as a state tree (a versioned root or a bare HAMT, and
    the HAMT's root node), as lotus's driver must load it before any message runs:
    otherwise the file is at fault (exit 2). Blocks below the root are read, and
    checked, only as messages reach them; a bad one fails that variant, as in lotus."""
    where = "preconditions.state_tree.root_cid"
    if not store.has(root):
        raise MalformedVector(f"{where}: block {root} is not in the CAR")
    try:
        StateTree(store, root)
    except (BlockNotFound, DecodeError, HamtError) as exc:
        what = f"block {exc.args[0]} is not in the CAR" if isinstance(exc, BlockNotFound) else exc
        raise MalformedVector(f"{where} does not load as a state tree: {what}") from None


def supported_class(vector: dict[str, Any]) -> bool:
    return vector.get("class") in ("message", "tipset")


def unsupported_result(vector: dict[str, Any], name: str, variant: dict[str, Any]) -> VariantResult:
    return VariantResult(name, variant["id"], False,
                         f"unsupported vector class {vector.get('class')!r}")


def run_prepared_variant(
    prepared: PreparedVector, name: str, variant: dict[str, Any],
    store: MemoryBlockstore | None = None,
) -> VariantResult:
    """One variant of a prepared (message or tipset) vector, in `store` (default: a
    fresh store holding only the CAR's blocks, so the result does not depend on which
    variants ran before it)."""
    vector = prepared.vector
    run = _run_variant if vector.get("class") == "message" else _run_tipset_variant
    result = run(store if store is not None else prepared.fresh_store(), vector, name, variant,
                 prepared.pre_root, prepared.exp_root, prepared.exp_receipts,
                 prepared.base_fee, prepared.circ)
    if not result.passed and "incorrect" in (vector.get("hints") or []):
        # lotus's own conformance runner skips these; say so in the error
        result.error = f"{result.error} (vector is hinted 'incorrect')"
    return result


def run_vector_data(vector: dict[str, Any], name: str) -> list[VariantResult]:
    variants = vector_variants(vector)
    if not supported_class(vector):
        return [unsupported_result(vector, name, v) for v in variants]
    prepared = prepare_vector(vector)
    store = prepared.fresh_store()  # shared by the variants, as it always was
    return [run_prepared_variant(prepared, name, v, store) for v in variants]


def _compare_receipt(i: int, exp: dict[str, Any], got: Any, why: str) -> str:
    exp_ret = _b64(exp.get("return") or "")
    for fld, ev, gv in (
        ("exit_code", exp["exit_code"], got.exit_code),
        ("return", exp_ret.hex(), got.return_value.hex()),
        ("gas_used", exp["gas_used"], got.gas_used),
    ):
        if ev != gv:
            detail = f" ({why})" if why else ""
            return f"receipt {i} {fld}: expected {ev}, got {gv}{detail}"
    return ""


def _run_tipset_variant(
    store: MemoryBlockstore,
    vector: dict[str, Any],
    name: str,
    variant: dict[str, Any],
    pre_root: CID,
    exp_root: CID,
    exp_receipts: list[dict[str, Any]],
    base_fee: int,
    circ: int,
) -> VariantResult:
    from chainvm.fvm.chain import Block, apply_tipset

    vid = variant["id"]
    root = pre_root
    prev_epoch = variant["epoch"]
    exp_roots = vector.get("postconditions", {}).get("receipts_roots") or []
    n = 0
    try:
        for t, ts in enumerate(vector.get("apply_tipsets") or []):
            epoch = variant["epoch"] + ts.get("epoch_offset", 0)
            blocks = []
            for b in ts.get("blocks") or []:
                msgs = [Message.from_bytes(_b64(m)) for m in b.get("messages") or []]
                # lotus applies a block's BLS messages before its secp256k1 ones;
                # other senders appear in both lists and are de-duplicated
                bls = [m for m in msgs if m.from_.protocol != SECP256K1]
                secp = [m for m in msgs if m.from_.protocol != BLS]
                blocks.append(
                    Block(Address.parse(b["miner_addr"]), bls + secp, b.get("win_count", 1))
                )
            res = apply_tipset(
                store,
                root,
                prev_epoch,
                epoch,
                variant["nv"],
                blocks,
                int(ts.get("basefee", base_fee)),
                circ,
            )
            prev_epoch = epoch
            root = res.state_root
            for got, ret in zip(res.receipts, res.applied, strict=True):
                if n >= len(exp_receipts):
                    return VariantResult(name, vid, False, f"receipt {n}: not expected")
                err = _compare_receipt(n, exp_receipts[n], got, ret.error)
                if err:
                    return VariantResult(name, vid, False, err)
                n += 1
            if t < len(exp_roots):
                want = CID.parse(exp_roots[t]["/"])
                if want != res.receipts_root:
                    msg = f"tipset {t} receipts root: expected {want}, got {res.receipts_root}"
                    return VariantResult(name, vid, False, msg)
    except (FatalError, ActorError, DecodeError, KeyError, ValueError) as exc:
        return VariantResult(name, vid, False, f"{type(exc).__name__}: {exc}")
    if root != exp_root:
        return VariantResult(name, vid, False, _actor_diff(store, exp_root, root))
    return VariantResult(name, vid, True)


def draw_randomness(base: bytes, dst: int, epoch: int, entropy: bytes) -> bytes:
    """lotus's DrawRandomness over an already-digested base: blake2b-256 of
    the tag and epoch (big-endian int64) around the base and the entropy."""
    data = struct.pack(">q", dst) + base + struct.pack(">q", epoch) + entropy
    return hashlib.blake2b(data, digest_size=32).digest()


def recorded_randomness(vector: dict[str, Any]) -> Any:
    """Randomness as recorded in the vector. Full records match on kind, tag,
    epoch and entropy and hold the answer. Older ones carry only kind and
    epoch and hold the base randomness of that epoch (the ticket digest or
    beacon), from which the answer is drawn with the tag and entropy.
    Anything unrecorded gets the conformance driver's fixed bytes."""
    from chainvm.fvm.vm import FAKE_RANDOMNESS

    full: dict[tuple[str, int, int, bytes], bytes] = {}
    short: dict[tuple[str, int], bytes] = {}
    for rec in vector.get("randomness") or []:
        on = rec["on"]
        if len(on) >= 4:
            full[(on[0], int(on[1]), int(on[2]), _b64(on[3] or ""))] = _b64(rec["ret"])
        else:
            short[(on[0], int(on[1]))] = _b64(rec["ret"])

    def source(kind: str, dst: int, epoch: int, entropy: bytes) -> bytes:
        found = full.get((kind, dst, epoch, entropy))
        if found is not None:
            return found
        base = short.get((kind, epoch))
        if base is not None:
            return draw_randomness(base, dst, epoch, entropy)
        return FAKE_RANDOMNESS

    return source


def _run_variant(
    store: MemoryBlockstore,
    vector: dict[str, Any],
    name: str,
    variant: dict[str, Any],
    pre_root: CID,
    exp_root: CID,
    exp_receipts: list[dict[str, Any]],
    base_fee: int,
    circ: int,
) -> VariantResult:
    vid = variant["id"]
    root = pre_root
    try:
        for i, m in enumerate(vector.get("apply_messages") or []):
            msg = Message.from_bytes(_b64(m["bytes"]))
            epoch = variant["epoch"] + m.get("epoch_offset", 0)
            vm = VM(
                store,
                root,
                epoch,
                variant["nv"],
                base_fee,
                circ,
                randomness=recorded_randomness(vector),
            )
            ret = vm.apply_message(msg)
            root = vm.flush()
            if i >= len(exp_receipts):
                return VariantResult(name, vid, False, f"receipt {i}: not expected")
            err = _compare_receipt(i, exp_receipts[i], ret.receipt, ret.error)
            if err:
                return VariantResult(name, vid, False, err)
    except (FatalError, ActorError, DecodeError, KeyError, ValueError) as exc:
        return VariantResult(name, vid, False, f"{type(exc).__name__}: {exc}")
    if root != exp_root:
        return VariantResult(name, vid, False, _actor_diff(store, exp_root, root))
    return VariantResult(name, vid, True)


# The most epochs one tipset of a vector may skip after the previous one (or after the
# variant's epoch, for the first). Cron runs once for every skipped (null) epoch, about
# a millisecond each, so a gap of 10**7 would run for hours; the corpus skips at most 11.
# A day of 30-second epochs leaves a wide margin.
MAX_EPOCH_GAP = 2880


class MalformedVector(ValueError):
    """A file that is not a test vector at all (as opposed to one that fails)."""


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise MalformedVector(what)


def _check_root(section: Any, name: str) -> None:
    _require(isinstance(section, dict), f"{name} must be an object")
    tree = section.get("state_tree")
    _require(isinstance(tree, dict), f"{name}.state_tree must be an object")
    root = tree.get("root_cid")
    _require(
        isinstance(root, dict) and isinstance(root.get("/"), str),
        f"{name}.state_tree.root_cid must be a {{\"/\": CID}} link",
    )
    try:
        CID.parse(root["/"])
    except (ValueError, DecodeError) as exc:
        raise MalformedVector(f"{name}.state_tree.root_cid: {exc}") from None


def load_vector(path: str | Path) -> dict[str, Any]:
    """Read and shape-check one vector file; MalformedVector says why not."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise MalformedVector(f"cannot read: {exc.strerror or exc}") from None
    return parse_vector(raw)


def parse_vector(raw: bytes) -> dict[str, Any]:
    """Shape-check the content of a vector file; MalformedVector says why not."""
    # (load_json, as every other command reads its JSON: nesting and integer literals
    # bounded before the parser meets them)
    try:
        vector = load_json(raw, "")
    except InputError as exc:
        raise MalformedVector(str(exc)) from None
    _require(isinstance(vector, dict), f"expected a JSON object, got {type(vector).__name__}")
    _require(isinstance(vector.get("class"), str), "missing or non-string 'class'")
    _require(isinstance(vector.get("car"), str), "missing or non-string 'car'")
    _check_root(vector.get("preconditions"), "preconditions")
    _check_root(vector.get("postconditions"), "postconditions")
    variants = vector["preconditions"].get("variants")
    _require(
        variants is None
        or (
            isinstance(variants, list)
            and all(
                isinstance(v, dict)
                and isinstance(v.get("id"), str)
                and _is_int64(v.get("epoch"))
                and _is_int(v.get("nv"))
                for v in variants
            )
        ),
        "preconditions.variants must be a list of {id, epoch, nv}",
    )
    for key in ("apply_messages", "apply_tipsets", "randomness"):
        _require(
            isinstance(vector.get(key) or [], list)
            and all(isinstance(x, dict) for x in vector.get(key) or []),
            f"{key!r} must be a list of objects",
        )
    receipts = vector["postconditions"].get("receipts") or []
    _require(
        isinstance(receipts, list) and all(isinstance(r, dict) for r in receipts),
        "postconditions.receipts must be a list of objects",
    )
    _require(_is_base64(vector["car"]), "'car' is not valid base64")
    _check_entries(vector)
    return vector


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_int64(value: Any) -> bool:
    """An epoch, win count or the like: lotus holds these in an int64."""
    return _is_int(value) and -(1 << 63) <= value < (1 << 63)


def _check_message(raw: str, where: str) -> None:
    """A message the runner will apply must decode (lotus's driver fails the vector
    otherwise): a wrong-typed or out-of-range field is the file's fault."""
    try:
        Message.from_bytes(_b64(raw))
    except ValueError as exc:  # DecodeError and AddressError
        raise MalformedVector(f"{where} is not a message: {exc}") from None


def _is_amount(value: Any) -> bool:
    """A token amount or gas price: an integer, or its decimal digits (lotus's BigInt)."""
    return _is_int(value) or (isinstance(value, str) and value.isascii()
                              and value.isdigit() and len(value) <= 80)


def _check_entries(vector: dict[str, Any]) -> None:
    """The fields the runner reads inside each message, tipset, receipt and randomness
    record: a malformed one is the file's fault (exit 2), not a variant's failure."""
    pre = vector["preconditions"]
    _require(pre.get("epoch") is None or _is_int64(pre["epoch"]),
             "preconditions.epoch must be a 64-bit integer")
    for key in ("basefee", "circ_supply"):
        _require(pre.get(key) is None or _is_amount(pre[key]),
                 f"preconditions.{key} must be an integer")
    for i, m in enumerate(vector.get("apply_messages") or []):
        _require(_is_base64(m.get("bytes")), f"apply_messages[{i}].bytes must be base64")
        _require(_is_int(m.get("epoch_offset", 0)),
                 f"apply_messages[{i}].epoch_offset must be an integer")
        _check_message(m["bytes"], f"apply_messages[{i}].bytes")
    prev_offset = 0
    for t, ts in enumerate(vector.get("apply_tipsets") or []):
        where = f"apply_tipsets[{t}]"
        offset = ts.get("epoch_offset", 0)
        _require(_is_int(offset), f"{where}.epoch_offset must be an integer")
        # the first tipset may run at the variant's epoch, each later one after the last
        least = prev_offset + (1 if t else 0)
        _require(offset >= least, f"{where}.epoch_offset must be at least {least}, got {offset}")
        _require(offset - prev_offset <= MAX_EPOCH_GAP,
                 f"{where}.epoch_offset is {offset - prev_offset} epochs after the previous "
                 f"tipset's (at most {MAX_EPOCH_GAP}: cron runs for each one skipped)")
        prev_offset = offset
        _require(ts.get("basefee") is None or _is_amount(ts["basefee"]),
                 f"{where}.basefee must be an integer")
        blocks = ts.get("blocks") or []
        _require(isinstance(blocks, list) and all(isinstance(b, dict) for b in blocks),
                 f"{where}.blocks must be a list of objects")
        for b, block in enumerate(blocks):
            _require(isinstance(block.get("miner_addr"), str),
                     f"{where}.blocks[{b}].miner_addr must be an address")
            _require(_is_int64(block.get("win_count", 1)),
                     f"{where}.blocks[{b}].win_count must be a 64-bit integer")
            msgs = block.get("messages") or []
            _require(isinstance(msgs, list) and all(_is_base64(x) for x in msgs),
                     f"{where}.blocks[{b}].messages must be a list of base64 strings")
            for k, x in enumerate(msgs):
                _check_message(x, f"{where}.blocks[{b}].messages[{k}]")
    roots = vector["postconditions"].get("receipts_roots") or []
    _require(isinstance(roots, list) and all(
        isinstance(r, dict) and isinstance(r.get("/"), str) for r in roots),
        "postconditions.receipts_roots must be a list of {\"/\": CID} links")
    for i, r in enumerate(vector["postconditions"].get("receipts") or []):
        _require(_is_int(r.get("exit_code")) and _is_int(r.get("gas_used")),
                 f"postconditions.receipts[{i}] needs integer exit_code and gas_used")
        _require(r.get("return") in (None, "") or _is_base64(r["return"]),
                 f"postconditions.receipts[{i}].return must be base64")
    for i, rec in enumerate(vector.get("randomness") or []):
        on = rec.get("on")
        _require(isinstance(on, list) and len(on) >= 2 and isinstance(on[0], str)
                 and all(_is_int(x) for x in on[1:3])
                 and (len(on) < 4 or on[3] in (None, "") or _is_base64(on[3]))
                 and _is_base64(rec.get("ret")),
                 f"randomness[{i}] must be {{on: [kind, tag, epoch, entropy], ret: base64}}")


def run_vector_file(path: str | Path, display: str | None = None) -> list[VariantResult]:
    """Run every variant of a vector file. A malformed file gives a single
    failed result saying so (the CLI uses load_vector to exit 2 instead)."""
    name = display or str(path)
    try:
        vector = load_vector(path)
    except MalformedVector as exc:
        return [VariantResult(name, "", False, f"malformed vector: {exc}")]
    try:
        return run_vector_data(vector, name)
    except MalformedVector as exc:
        return [VariantResult(name, "", False, f"malformed vector: {exc}")]
    except Exception as exc:  # a crash must not take the whole run down
        if os.environ.get("CHAINVM_FVM_DEBUG"):
            raise
        return [VariantResult(name, "", False, f"internal error: {type(exc).__name__}: {exc}")]


def target_list() -> list[str]:
    path = target_list_path()
    if not path.is_file():
        return []
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
