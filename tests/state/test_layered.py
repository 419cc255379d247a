"""Layered storage (chainvm/state/layered.py): a copy's writes over the storage it was
copied from behave as a dict copy would, through chains of copies, and leave the base as
it was; a state's copies share large storages this way."""

from __future__ import annotations

import random

import pytest

from chainvm.state.layered import LAYER_FROM_SLOTS, MAX_DEPTH, LayeredStorage, shared_copy
from chainvm.state.state import Account, State


def _check(layer: object, model: dict[int, int]) -> None:
    assert isinstance(layer, dict)
    assert dict(layer.items()) == model
    assert len(layer) == len(model) and bool(layer) == bool(model)
    assert sorted(layer) == sorted(model) and sorted(layer.keys()) == sorted(model)
    assert sorted(layer.values()) == sorted(model.values())
    for key in range(40):
        assert (key in layer) == (key in model)
        assert layer.get(key, 0) == model.get(key, 0)
        if key in model:
            assert layer[key] == model[key]
        else:
            with pytest.raises(KeyError):
                layer[key]


@pytest.mark.parametrize("seed", range(20))
def test_layers_behave_as_copies(seed: int) -> None:
    rng = random.Random(seed)
    base = {k: rng.randrange(1, 5) for k in rng.sample(range(40), 20)}
    frozen = dict(base)
    layers: list[tuple[object, dict[int, int]]] = [(base, dict(base))]
    for _ in range(12):
        parent, parent_model = layers[-1]
        layer = shared_copy(parent) if isinstance(parent, LayeredStorage) \
            else LayeredStorage(parent)  # type: ignore[arg-type]
        model = dict(parent_model)
        for _ in range(rng.randrange(1, 15)):
            key = rng.randrange(40)
            op = rng.random()
            if op < 0.5:
                layer[key] = model[key] = rng.randrange(1, 5)
            elif op < 0.8:
                assert layer.pop(key, None) == model.pop(key, None)
            elif op < 0.9 and key in model:
                del layer[key]
                del model[key]
            else:
                assert layer.setdefault(key, 7) == model.setdefault(key, 7)
        _check(layer, model)
        layers.append((layer, model))
    for layer, model in layers:  # no layer changed those below it
        _check(layer, model)
    assert base == frozen


def test_chains_are_flattened_and_small_storages_copied() -> None:
    big = {k: 1 for k in range(LAYER_FROM_SLOTS)}
    storage: object = big
    for depth in range(1, MAX_DEPTH + 1):
        storage = shared_copy(storage)
        assert type(storage) is LayeredStorage and storage.depth == depth
    flat = shared_copy(storage)  # a layer again, over the chain's slots copied into a dict
    assert type(flat) is LayeredStorage and flat.depth == 1 and flat.origin is storage
    assert type(flat.base) is dict and flat.base == big and flat == big
    small = {1: 2}
    assert type(shared_copy(small)) is dict and shared_copy(small) is not small


def test_pickled_and_deep_copied_as_a_dict() -> None:
    import copy
    import pickle

    layer = LayeredStorage({1: 1, 2: 2})
    layer[3] = 3
    del layer[1]
    for twin in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer), copy.copy(layer)):
        assert type(twin) is dict and twin == {2: 2, 3: 3}


def test_pop_and_clear_hide_the_base() -> None:
    layer = LayeredStorage({1: 1, 2: 2})
    assert layer.pop(1) == 1 and 1 not in layer and layer.get(1) is None
    with pytest.raises(KeyError):
        layer.pop(1)
    layer[1] = 5
    assert layer[1] == 5
    layer.clear()
    assert not layer and len(layer) == 0 and dict(layer.items()) == {}
    assert layer == {} and LayeredStorage({3: 4}) == {3: 4}


def test_a_state_copy_layers_a_large_storage_and_keeps_the_parent() -> None:
    address = b"\x01" * 20
    slots = {k: k + 1 for k in range(1000)}
    parent = State({address: Account(nonce=1, code=b"\x00", storage=dict(slots))})
    root = parent.state_root()
    child = parent.copy()
    child.set_storage(address, 5, 0)
    child.set_storage(address, 5000, 9)
    layered = child.accounts[address].storage
    assert type(layered) is LayeredStorage
    assert child.get_storage(address, 5) == 0 and child.get_storage(address, 5000) == 9
    assert child.get_storage(address, 6) == 7
    assert parent.get_storage(address, 5) == 6 and parent.get_storage(address, 5000) == 0
    assert parent.state_root() == root
    # The child's root is that of a state built from its slots outright.
    expected = dict(slots)
    del expected[5]
    expected[5000] = 9
    rebuilt = State({address: Account(nonce=1, code=b"\x00", storage=expected)})
    assert child.state_root() == rebuilt.state_root()
    # A reverted write restores the layer's view, not the parent's storage.
    snap = child.snapshot()
    child.set_storage(address, 6, 0)
    child.revert(snap)
    assert child.get_storage(address, 6) == 7 and parent.get_storage(address, 6) == 7
