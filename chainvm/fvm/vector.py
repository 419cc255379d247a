"""Running filecoin-project/test-vectors files against this VM."""

from __future__ import annotations

import base64
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainvm.fvm.address import BLS, SECP256K1, Address
from chainvm.fvm.codec import CID, DecodeError
from chainvm.fvm.state import StateTree
from chainvm.fvm.store import MemoryBlockstore, read_car
from chainvm.fvm.types import Actor, Message
from chainvm.fvm.vm import TOTAL_FILECOIN, VM, ActorError, FatalError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "CHAINVM_FVM_FIXTURES"
ARCHIVE = PROJECT_ROOT.parent / "shared" / "fixtures" / "filecoin-test-vectors" / "corpus.tar.xz"
TARGET_LIST = ARCHIVE.parent / "TARGET-M2.txt"


def fixtures_dir(extract: bool = True) -> Path:
    """Folder holding ``corpus/``: $CHAINVM_FVM_FIXTURES, else the project's
    git-ignored ``.fixtures/filecoin-test-vectors``, extracted from the shared
    archive on first use."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    folder = PROJECT_ROOT / ".fixtures" / "filecoin-test-vectors"
    if extract and not (folder / "corpus").is_dir() and ARCHIVE.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        # extract beside the target and rename, so that concurrent runs never
        # see a half-extracted corpus
        tmp = Path(tempfile.mkdtemp(prefix=".extracting-", dir=folder))
        try:
            with tarfile.open(ARCHIVE, "r:xz") as tar:
                tar.extractall(tmp, filter="data")
            try:
                (tmp / "corpus").rename(folder / "corpus")
            except OSError:
                if not (folder / "corpus").is_dir():
                    raise
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


def run_vector_data(vector: dict[str, Any], name: str) -> list[VariantResult]:
    cls = vector.get("class")
    pre = vector.get("preconditions", {})
    variants = pre.get("variants") or [{"id": "default", "epoch": pre.get("epoch", 0), "nv": 0}]
    if cls not in ("message", "tipset"):
        return [
            VariantResult(name, v["id"], False, f"unsupported vector class {cls!r}")
            for v in variants
        ]
    store = MemoryBlockstore()
    read_car(_b64(vector["car"]), store)
    pre_root = CID.parse(pre["state_tree"]["root_cid"]["/"])
    post = vector.get("postconditions", {})
    exp_root = CID.parse(post["state_tree"]["root_cid"]["/"])
    exp_receipts = post.get("receipts") or []
    base_fee = int(pre.get("basefee", 100))
    circ = int(pre.get("circ_supply", TOTAL_FILECOIN))
    run = _run_variant if cls == "message" else _run_tipset_variant
    results = [
        run(store, vector, name, v, pre_root, exp_root, exp_receipts, base_fee, circ)
        for v in variants
    ]
    if "incorrect" in (vector.get("hints") or []):
        # lotus's own conformance runner skips these; say so in the error
        for r in results:
            if not r.passed:
                r.error = f"{r.error} (vector is hinted 'incorrect')"
    return results


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


def recorded_randomness(vector: dict[str, Any]) -> Any:
    """Randomness as recorded in the vector. Full records match on kind, tag,
    epoch and entropy; older ones carry only kind and epoch and match on
    those. Anything unrecorded gets the conformance driver's fixed bytes."""
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
        if found is None:
            found = short.get((kind, epoch), FAKE_RANDOMNESS)
        return found

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


def run_vector_file(path: str | Path, display: str | None = None) -> list[VariantResult]:
    p = Path(path)
    name = display or str(p)
    try:
        vector = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        return [VariantResult(name, "", False, f"cannot read vector: {exc}")]
    try:
        return run_vector_data(vector, name)
    except Exception as exc:  # a crash must not take the whole run down
        if os.environ.get("CHAINVM_FVM_DEBUG"):
            raise
        return [VariantResult(name, "", False, f"internal error: {type(exc).__name__}: {exc}")]


def target_list() -> list[str]:
    if not TARGET_LIST.is_file():
        return []
    return [ln.strip() for ln in TARGET_LIST.read_text().splitlines() if ln.strip()]
