"""State of the wrong shape in real vectors: every variant ends with a result (passed or
failed with its reason), never with an internal error.

A deterministic sweep over a few corpus vectors: each actor's head replaced, then each
block a head's CID fields name, by blocks of the wrong kind or length. Before the layout
checks (chainvm/fvm/layouts.py) such runs ended as "internal error: TypeError" and the
like; docs/fvm.md gives the counts from wider random samples.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainvm.fvm.address import Address
from chainvm.fvm.codec import CID, loads
from chainvm.fvm.state import StateTree
from chainvm.fvm.store import MemoryBlockstore, read_car, write_car
from chainvm.fvm.vector import corpus_dir, run_vector_data

VECTORS = [
    "reward/penalties--penalize-bad-nonce-multiple-miners--liftoff.json",
    "reward/penalties--not-penalized-insufficient-balance-to-cover-gas-and-transfer--breeze.json",
    "multisig/basic--ok-propose-and-cancel--actorsv2.json",
    ("extracted/0004-coverage-boost/fil_1_storageminer/DeclareFaults/Ok/"
     "ext-0004-fil_1_storageminer-DeclareFaults-Ok-4.json"),
]
WRONG: list[Any] = [[1, 2], 7]


def _actors(vec: dict[str, Any], store: MemoryBlockstore, root: CID) -> list[Address]:
    """Every actor of a whole state tree; the first message's receiver of a partial one."""
    try:
        return [Address.from_bytes(k) for k, _ in StateTree(store, root).hamt.items()]
    except KeyError:  # an extracted vector holds only the blocks its messages reach
        return [Address.from_bytes(loads(base64.b64decode(vec["apply_messages"][0]["bytes"]))[1])]


def _variants(vec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    car = gzip.decompress(base64.b64decode(vec["car"]))
    root = CID.parse(vec["preconditions"]["state_tree"]["root_cid"]["/"])
    store = MemoryBlockstore()
    read_car(car, store)
    for addr in _actors(vec, store, root):
        act = StateTree(store, root).get_actor(addr)
        if act is None:
            continue
        head = store.get_obj(act.head)
        fields = [j for j, f in enumerate(head) if isinstance(f, CID) and f in store.blocks] \
            if isinstance(head, list) else []
        for where in [None, *fields]:
            for wrong in WRONG:
                mutated = MemoryBlockstore()
                read_car(car, mutated)
                tree = StateTree(mutated, root)
                a = tree.get_actor(addr)
                assert a is not None
                if where is None:
                    a.head = mutated.put_obj(wrong)
                else:
                    a.head = mutated.put_obj([*head[:where], mutated.put_obj(wrong),
                                              *head[where + 1:]])
                tree.set_actor(addr, a)
                new_root = tree.flush()
                out = dict(vec)
                out["car"] = base64.b64encode(
                    gzip.compress(write_car([new_root], mutated.blocks.items()))).decode()
                out["preconditions"] = json.loads(json.dumps(vec["preconditions"]))
                out["preconditions"]["state_tree"]["root_cid"]["/"] = str(new_root)
                yield f"{addr} {'head' if where is None else f'field {where}'} {wrong!r}", out


@pytest.mark.parametrize("name", VECTORS)
def test_wrong_shapes_end_as_results(name: str) -> None:
    corpus = corpus_dir()
    path = corpus / name
    if not path.is_file():
        pytest.skip(f"Filecoin test vectors not found at {corpus}")
    vec = json.loads(Path(path).read_text())
    runs = 0
    for label, mutated in _variants(vec):
        results = run_vector_data(mutated, label)  # an internal error raises here
        assert results and all(r.passed or r.error for r in results), label
        runs += 1
    assert runs >= 8
