"""Execution traces match lotus's, gas charge by gas charge.

Each vector carries the lotus execution trace of its first variant; every
non-zero gas charge (name and amount), frame by frame including subcalls,
must be reproduced.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chainvm.fvm.codec import CID
from chainvm.fvm.store import MemoryBlockstore, read_car
from chainvm.fvm.types import Message
from chainvm.fvm.vector import corpus_dir, decode_diagnostics, target_list
from chainvm.fvm.vm import VM

Frame = tuple[list[tuple[str, int, int]], list[Any]]


def lotus_frame(t: dict[str, Any]) -> Frame:
    return (
        [(g["Name"], g["tg"], g["sg"]) for g in t["GasCharges"] or [] if g["tg"]],
        [lotus_frame(s) for s in t["Subcalls"] or []],
    )


def our_frame(t: dict[str, Any]) -> Frame:
    # compared through the lotus-shaped JSON export
    return (
        [(g["Name"], g["tg"], g["sg"]) for g in t["GasCharges"] if g["tg"]],
        [our_frame(s) for s in t["Subcalls"] or []],
    )


NAMES = [n for n in target_list() if not n.startswith("extracted/")]


@pytest.mark.parametrize("name", NAMES or ["<no TARGET-M2.txt>"])
def test_trace_matches_lotus(name: str) -> None:
    path = corpus_dir() / name
    if not path.is_file():
        pytest.skip(f"Filecoin test vectors not found at {corpus_dir()}")
    vector = json.loads(path.read_text())
    diag = decode_diagnostics(vector)
    if not diag:
        pytest.skip("vector has no diagnostics")
    store = MemoryBlockstore()
    read_car(base64.b64decode(vector["car"]), store)
    variant = vector["preconditions"]["variants"][0]
    root = CID.parse(vector["preconditions"]["state_tree"]["root_cid"]["/"])
    for i, m in enumerate(vector["apply_messages"]):
        epoch = variant["epoch"] + m.get("epoch_offset", 0)
        vm = VM(store, root, epoch, variant["nv"])
        ret = vm.apply_message(Message.from_bytes(base64.b64decode(m["bytes"])))
        root = vm.flush()
        if ret.trace is None:  # rejected before execution: lotus has no charges either
            assert not lotus_frame(diag[i])[0]
            continue
        ours = json.loads(json.dumps(ret.trace.to_json()))
        assert our_frame(ours) == lotus_frame(diag[i]), f"message {i}"
        assert ours["Msg"]["CID"] == diag[i]["Msg"]["CID"]
