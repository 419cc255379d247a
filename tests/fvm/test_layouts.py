"""Actor state layouts: a head block of the wrong shape stops the message with one error
naming the actor and the field (lotus fails to decode it, fatally), not with an
IndexError or TypeError from inside actor code."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from chainvm.fvm.actors.reward import read_estimate
from chainvm.fvm.address import Address
from chainvm.fvm.api import FIL, Network
from chainvm.fvm.cli import main
from chainvm.fvm.codec import CID
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.layouts import (
    LAYOUTS,
    STRUCTS,
    StateShapeError,
    check_block,
    check_state,
    entry_problem,
)
from chainvm.fvm.network import actor_code
from chainvm.fvm.state import StateTree
from chainvm.fvm.store import MemoryBlockstore, read_car, write_car
from chainvm.fvm.types import Actor
from chainvm.fvm.vector import corpus_dir
from chainvm.fvm.vm import INIT_ADDR, POWER_ADDR, REWARD_ADDR, ActorPanic, FatalError

NVS = [0, 4]


def _all_heads(store: MemoryBlockstore, root: CID) -> list[tuple[Address, CID, CID, Any]]:
    out = []
    for key, raw in StateTree(store, root).hamt.items():
        act = Actor.from_cbor(raw)
        out.append((Address.from_bytes(key), act.code, act.head, store.get_obj(act.head)))
    return out


@pytest.mark.parametrize("nv", NVS)
def test_genesis_and_api_states_have_their_layouts(nv: int) -> None:
    net = Network(network_version=nv)
    alice = net.create_account(balance=10_000 * FIL)
    net.create_multisig(alice, [alice.address], 1)
    miner, _ = net.create_miner(alice)
    net.apply_block()
    heads = _all_heads(net.store, net.root)
    assert len(heads) >= 10
    for addr, code, head, state in heads:
        check_state(code, head, state, addr)
    # the miner's linked blocks too: a v2 miner's info had 10 fields, not 11, until this
    # check was written
    st = net.actor_state(miner)
    version = 0 if nv <= 3 else 2
    check_block(f"miner info, actors v{version}", st[0], net.store.get_obj(st[0]), miner)
    check_block("vesting funds", st[3], net.store.get_obj(st[3]), miner)
    deadlines = st[11 if version == 0 else 12]
    check_block("deadlines", deadlines, net.store.get_obj(deadlines), miner)
    for cid in net.store.get_obj(deadlines)[0]:
        check_block("deadline", cid, net.store.get_obj(cid), miner)


def test_every_layout_is_listed_for_both_actors_versions() -> None:
    names = {name for _, name in LAYOUTS}
    assert {(v, n) for v in (0, 2) for n in names} == set(LAYOUTS)
    assert len(LAYOUTS[0, "storagepower"]) == 16 and len(LAYOUTS[2, "storagepower"]) == 15
    assert len(LAYOUTS[0, "storageminer"]) == 13 and len(LAYOUTS[2, "storageminer"]) == 14
    assert len(LAYOUTS[0, "reward"]) == 9 and len(LAYOUTS[2, "reward"]) == 11


INIT_CODE = actor_code(2, "init")
HEAD = CID.for_cbor(b"\x80")
GOOD_INIT = [HEAD, 100, "localnet"]

WRONG_INIT = [
    (7, "must be a list of 3 fields, found an integer"),
    ([HEAD, 100], "has 2 fields, its layout 3"),
    ([HEAD, "100", "localnet"], "field 1 (next actor ID) must be a non-negative integer, found a text"),
    ([HEAD, -1, "localnet"], "field 1 (next actor ID) must be a non-negative integer"),
    ([HEAD, True, "localnet"], "must be a non-negative integer, found a boolean"),
    ([b"x", 100, "localnet"], "field 0 (address map) must be a CID, found a byte string"),
    ([HEAD, 100, None], "field 2 (network name) must be a text string, found null"),
]


@pytest.mark.parametrize(("state", "why"), WRONG_INIT)
def test_wrong_init_state(state: Any, why: str) -> None:
    check_state(INIT_CODE, HEAD, GOOD_INIT, INIT_ADDR)
    with pytest.raises(StateShapeError) as info:
        check_state(INIT_CODE, HEAD, state, INIT_ADDR)
    assert str(info.value).startswith(f"actor f01 (init, actors v2): state {HEAD}")
    assert why in str(info.value)
    assert isinstance(info.value, FatalError)


def test_nested_fields_are_checked() -> None:
    cron = actor_code(0, "cron")
    check_state(cron, HEAD, [[[b"\x00\x04", 5]]], "f03")
    for entries in ([[b"\x00\x04", -5]], [[b"", 5]], [[b"\x00\x04"]], 7):
        with pytest.raises(StateShapeError, match=r"field 0 \(entries\)"):
            check_state(cron, HEAD, [entries], "f03")
    msig = actor_code(2, "multisig")
    good = [[b"\x00\x64"], 1, 0, b"", 0, 0, HEAD]
    check_state(msig, HEAD, good, "f0100")
    with pytest.raises(StateShapeError, match=r"field 0 \(signers\) must be a list of addr"):
        check_state(msig, HEAD, [[7], *good[1:]], "f0100")
    with pytest.raises(StateShapeError, match=r"field 3 \(initial balance\) must be a big"):
        check_state(msig, HEAD, [*good[:3], b"\x07\x01", *good[4:]], "f0100")


def test_pointer_fields_admit_null_in_actors_v0_only() -> None:
    """specs-actors v0 keep the smoothed estimates behind pointers (nil is a valid
    encoding, a panic when used); v2 keep them by value."""
    v0 = [b""] * 8 + [None, 0, 0, HEAD, 0, 0, HEAD, None]
    check_state(actor_code(0, "storagepower"), HEAD, v0, POWER_ADDR)
    v2 = [b""] * 8 + [None, 0, 0, HEAD, 0, HEAD, None]
    with pytest.raises(StateShapeError, match=r"field 8 \(this epoch's smoothed QA power\)"):
        check_state(actor_code(2, "storagepower"), HEAD, v2, POWER_ADDR)
    with pytest.raises(ActorPanic, match="nil smoothed QA power estimate"):
        read_estimate(None, "smoothed QA power")
    assert read_estimate([b"\x00\x05", b"\x01\x02"], "x") == (5, -2)


def test_linked_structs() -> None:
    assert len(STRUCTS["miner info, actors v0"]) == 9
    assert len(STRUCTS["miner info, actors v2"]) == 11
    info: list[Any] = [b"\x00\x65", b"\x00\x66", [], None, b"peer", [], 3, 1 << 35, 2349]
    check_block("miner info, actors v0", HEAD, info, "f0101")
    check_block("miner info, actors v2", HEAD, [*info, -1, None], "f0101")
    check_block("miner info, actors v0", HEAD, [*info[:3], [b"\x00\x67", 100], *info[4:]],
                "f0101")
    with pytest.raises(StateShapeError, match=r"actor f0101: miner info, actors v2 \S+ has 9 "):
        check_block("miner info, actors v2", HEAD, info, "f0101")
    with pytest.raises(StateShapeError, match=r"field 3 \(pending worker key\) must be null"):
        check_block("miner info, actors v0", HEAD, [*info[:3], [b"\x00\x67"], *info[4:]],
                    "f0101")
    check_block("deadlines", HEAD, [[HEAD] * 48], "f0101")
    with pytest.raises(StateShapeError, match=r"field 0 \(due\) must be a list of 48 CIDs"):
        check_block("deadlines", HEAD, [[HEAD] * 47], "f0101")
    deadline = [HEAD, HEAD, b"", b"", 0, 0, [b"", b""]]
    check_block("deadline", HEAD, deadline, "f0101")
    with pytest.raises(StateShapeError, match=r"field 6 \(faulty power\) must be a power"):
        check_block("deadline", HEAD, [*deadline[:6], [b""]], "f0101")
    check_block("vesting funds", HEAD, [[[10, b"\x00\x01"], [20, b""]]], "f0101")
    with pytest.raises(StateShapeError, match=r"field 0 \(funds\) must be a list of \[epoch"):
        check_block("vesting funds", HEAD, [[[10, 5]]], "f0101")


def test_table_values() -> None:
    """Values read out of HAMTs and AMTs: partitions and sector infos per actors version,
    and the others' layouts, as `entry_problem` words what is wrong."""
    pair = [b"", b""]
    assert entry_problem("partition, actors v0", [b""] * 4 + [HEAD, HEAD] + [pair] * 3) is None
    assert entry_problem("partition, actors v2", [b""] * 5 + [HEAD, HEAD] + [pair] * 4) is None
    assert entry_problem("partition, actors v2", [b""] * 4 + [HEAD, HEAD] + [pair] * 3) == \
        " has 9 fields, its layout 11"
    sector = [7, 3, HEAD, [1, 2], 10, 20, b"", b"", b"", b"", b""]
    assert entry_problem("sector info, actors v0", sector) is None
    assert entry_problem("sector info, actors v2", [*sector, 0, b""]) is None
    assert entry_problem("sector info, actors v0", [*sector[:3], [-1], *sector[4:]]) == \
        ": field 3 (deal IDs) must be a list of deal IDs, found a list of 1"
    proposal = [HEAD, 2048, False, b"\x00\x65", b"\x00\x66", "", 10, 20, b"", b"", b""]
    assert entry_problem("deal proposal", proposal) is None
    assert entry_problem("deal proposal", [*proposal[:2], 0, *proposal[3:]]) == \
        ": field 2 (verified deal) must be a boolean, found an integer"
    assert entry_problem("deal state", [-1, -1, -1]) is None
    assert entry_problem("balance", b"\x00\x10") is None
    assert entry_problem("balance", 16) == \
        " must be a big integer (a byte string with a sign byte), found an integer"
    assert entry_problem("claim, actors v0", pair) is None
    assert entry_problem("claim, actors v2", [3, *pair]) is None
    assert entry_problem("claim, actors v2", pair) == " has 2 fields, its layout 3"
    assert entry_problem("multimap entry", HEAD) is None
    assert entry_problem("multimap entry", b"") == \
        " must be a CID (the root of its set or array), found a byte string"
    precommit = [3, 5, HEAD, 10, [], 100, False, 0, 0, 0]
    assert entry_problem("pre-committed sector", [precommit, b"", 10, b"", b""]) is None
    assert entry_problem("pre-committed sector", [precommit[:9], b"", 10, b"", b""]) == \
        ": field 0 (info) must be a pre-commit info of 10 fields, found a list of 9"
    assert entry_problem("multisig transaction", [b"\x00\x65", b"", 0, b"", []]) is None
    assert entry_problem("lane state", [b"", 1]) is None
    assert entry_problem("lane state", [b"", -1]) == \
        ": field 1 (nonce) must be a non-negative integer, found an integer"
    assert entry_problem("cron event", [b"\x00\x65", b""]) is None
    assert entry_problem("expiration set", [b"", b"", b"", pair, pair]) is None
    assert entry_problem("bit-field queue entry", b"") is None
    info = [3, [101, 5], [], b"r", b"i", b"p", HEAD, HEAD]
    assert entry_problem("seal verify info", info) is None
    assert entry_problem("data cap", b"") is None


@pytest.mark.parametrize("nv", NVS)
def test_wrong_miner_info_stops_the_message(nv: int) -> None:
    net = Network(network_version=nv)
    alice = net.create_account(balance=10_000 * FIL)
    miner, _ = net.create_miner(alice)
    st = net.actor_state(miner)
    for info in ([b"\x00\x65"], [7] * len(net.store.get_obj(st[0]))):
        _replace_head(net, miner, [net.store.put_obj(info), *st[1:]])
        before = net.root
        with pytest.raises(StateShapeError, match=rf"actor {miner}: miner info, actors v"):
            net.send(alice, miner, 0, 2)  # ControlAddresses reads the info
        assert net.root == before


def test_other_codes_are_not_checked() -> None:
    check_state(CID.for_cbor(b"\x01"), HEAD, 7, "f0999")


def _replace_head(net: Network, addr: Address, state: Any) -> None:
    tree = net.tree()
    act = tree.get_actor(addr)
    assert act is not None
    act.head = net.store.put_obj(state)
    tree.set_actor(addr, act)
    net.root = tree.flush()


@pytest.mark.parametrize("nv", NVS)
def test_wrong_init_state_stops_the_message_and_keeps_the_state(nv: int) -> None:
    net = Network(network_version=nv)
    alice = net.create_account(balance=10 * FIL)
    _replace_head(net, INIT_ADDR, [HEAD, "x", "localnet"])
    before = net.root
    with pytest.raises(StateShapeError, match=r"actor f01 \(init, actors v[02]\).*field 1"):
        net.send(alice, net.new_wallet(), FIL)  # a new address is registered with init
    assert net.root == before


@pytest.mark.parametrize("nv", NVS)
def test_wrong_address_map_entry_stops_the_message(nv: int) -> None:
    net = Network(network_version=nv)
    alice = net.create_account(balance=10 * FIL)
    init_state = net.actor_state(INIT_ADDR)
    amap = Hamt.load(net.store, init_state[0], version=0 if nv <= 3 else 2)
    amap.set(alice.address.bytes, [1, 2])
    _replace_head(net, INIT_ADDR, [amap.flush(), *init_state[1:]])
    before = net.root
    with pytest.raises(StateShapeError, match=rf"address map entry for {alice.address} must be "
                                              r"an actor ID, found a list of 2"):
        net.send(alice, net.new_wallet(), FIL)
    assert net.root == before


@pytest.mark.parametrize("nv", NVS)
def test_wrong_power_state_stops_cron(nv: int) -> None:
    net = Network(network_version=nv)
    _replace_head(net, POWER_ADDR, [b""] * 3)
    before = net.root
    with pytest.raises(StateShapeError, match=r"actor f04 \(storagepower, actors v[02]\): "
                                              r"state \S+ has 3 fields"):
        net.apply_block()
    assert net.root == before


@pytest.mark.parametrize("nv", NVS)
def test_reward_epoch_too_far_behind_is_refused(nv: int) -> None:
    """Catching up 10**15 epochs one by one would never end: such a state is refused."""
    net = Network(network_version=nv)
    st = net.actor_state(REWARD_ADDR)
    _replace_head(net, REWARD_ADDR, [*st[:7], -10**15, *st[8:]])
    before = net.root
    with pytest.raises(StateShapeError, match=r"actor f02: its epoch -1000000000000000 is \d+ "
                                              r"epochs behind the current epoch"):
        net.apply_block()
    assert net.root == before


# The same through the vector command: the variant fails with the one-line error (exit 1,
# as lotus fails it), where it used to end as "internal error: TypeError/IndexError".
VECTOR = "reward/penalties--penalize-bad-nonce-multiple-miners--liftoff.json"


@pytest.mark.parametrize(("actor", "state", "why"), [
    (4, [1, 2], "actor f04 (storagepower, actors v2): state"),
    (3, [[[b"\x00\x04", "two"]]], "actor f03 (cron, actors v2): state"),
    (5, 7, "actor f05 (storagemarket, actors v2): state"),
])
def test_vector_with_a_wrong_head(actor: int, state: Any, why: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    corpus = corpus_dir()
    if not (corpus / VECTOR).is_file():
        pytest.skip(f"Filecoin test vectors not found at {corpus}")
    vec = json.loads((corpus / VECTOR).read_text())
    store = MemoryBlockstore()
    read_car(gzip.decompress(base64.b64decode(vec["car"])), store)
    tree = StateTree(store, CID.parse(vec["preconditions"]["state_tree"]["root_cid"]["/"]))
    act = tree.get_actor(Address.new_id(actor))
    assert act is not None
    act.head = store.put_obj(state)
    tree.set_actor(Address.new_id(actor), act)
    root = tree.flush()
    vec["car"] = base64.b64encode(gzip.compress(write_car([root], store.blocks.items()))).decode()
    vec["preconditions"]["state_tree"]["root_cid"]["/"] = str(root)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(vec))
    assert main(["vector", str(bad)]) == 1
    out, err = capsys.readouterr()
    results = json.loads(out)
    assert results and not any(r["pass"] for r in results)
    for r in results:
        assert r["error"].startswith("StateShapeError: ") and why in r["error"], r["error"]
        assert "\n" not in r["error"]
    assert "Traceback" not in err and "internal error" not in out


@pytest.mark.parametrize("allocated", [b"\x05x", 7])
def test_allocated_sectors_of_the_wrong_shape_stop_the_message(allocated: Any) -> None:
    """A block loaded through the store, as lotus loads it: fatal, like the blocks above."""
    net = Network(network_version=3, epoch=100)
    owner = net.create_account(balance=10_000 * FIL)
    miner, _ = net.create_miner(owner, worker_balance=10 * FIL)
    assert net.send(owner, miner, 1_000 * FIL).receipt.exit_code == 0
    st = net.actor_state(miner)
    _replace_head(net, miner, [*st[:7], net.store.put_obj(allocated), *st[8:]])
    net.advance(1)
    before = net.root
    with pytest.raises(StateShapeError, match=rf"actor {miner}: allocated sectors \S+ must be "
                                              r"a bit field \(RLE\+ bytes of version 0\)"):
        net.pre_commit_sector(owner, miner, 0, expiration=net.epoch + 300 * 2880)
    assert net.root == before
