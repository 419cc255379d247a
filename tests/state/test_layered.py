"""Layered storage (chainvm/state/layered.py): a copy's writes over the storage it was
copied from behave as a dict copy would, through chains of copies, and leave the base as
it was; a state's copies share large storages this way."""

from __future__ import annotations

import random

import pytest

from chainvm.state.layered import (
    LAYER_FROM_SLOTS,
    MAX_DEPTH,
    REBASE_DIVISOR,
    LayeredStorage,
    shared_copy,
)
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


def _chain(bottom: dict[int, int], writes: list[int]) -> LayeredStorage:
    """MAX_DEPTH layers over `bottom`, the i-th writing slot writes[i] (if any)."""
    storage: object = bottom
    for depth in range(1, MAX_DEPTH + 1):
        storage = shared_copy(storage)
        assert type(storage) is LayeredStorage and storage.depth == depth
        if depth - 1 < len(writes):
            storage[writes[depth - 1]] = 7
    return storage


def test_chains_are_collapsed_over_their_bottom_dict_and_small_storages_copied() -> None:
    big = {k: 1 for k in range(16 * REBASE_DIVISOR)}
    # Nothing written: the next layer goes over the bottom dict itself.
    storage = _chain(big, [])
    top = shared_copy(storage)
    assert type(top) is LayeredStorage and top.depth == 1 and top.origin is storage
    assert top.base is big and top == big
    # A few slots written: merged into one layer over the bottom dict, which is shared.
    storage = _chain(big, [3, 5000, 3])
    del storage[4]
    top = shared_copy(storage)
    merged = top.base
    assert type(merged) is LayeredStorage and top.depth == 2 and top.origin is storage
    assert merged.base is big and dict(dict.items(merged)) == {3: 7, 5000: 7}
    assert merged.cleared == {4} and top == storage.flat()
    assert big == {k: 1 for k in range(16 * REBASE_DIVISOR)}
    # More than a REBASE_DIVISOR-th of the bottom's slots written: one new dict.
    storage = _chain(big, list(range(1000, 1000 + MAX_DEPTH)))
    for key in range(2000, 2010):
        storage[key] = 9
    top = shared_copy(storage)
    assert top.depth == 1 and type(top.base) is dict and top.base is not big
    assert top == storage.flat() and top.origin is storage
    small = {1: 2}
    assert type(shared_copy(small)) is dict and shared_copy(small) is not small


@pytest.mark.parametrize("seed", range(10))
def test_long_chains_of_copies_behave_as_copies(seed: int) -> None:
    # Enough copies to collapse many times, into merged layers and into new dicts.
    rng = random.Random(seed)
    model = {k: rng.randrange(1, 5) for k in range(LAYER_FROM_SLOTS)}
    kept: list[tuple[object, dict[int, int]]] = []
    storage: object = dict(model)
    for step in range(200):
        storage = shared_copy(storage)
        assert isinstance(storage, LayeredStorage) and storage.depth <= MAX_DEPTH + 1
        writes = rng.choice((0, 1, 1, 2, 40))
        for _ in range(writes):  # a few slots often the same ones, many spread wide
            key = rng.randrange(2 * LAYER_FROM_SLOTS if writes > 2 else 12)
            if rng.random() < 0.7:
                storage[key] = model[key] = rng.randrange(1, 5)
            else:
                assert storage.pop(key, None) == model.pop(key, None)
        if step % 20 == 0:
            kept.append((storage, dict(model)))
        assert dict(storage.items()) == model and len(storage) == len(model)
    for layer, expected in kept:  # no later copy changed an earlier one
        assert dict(layer.items()) == expected and len(layer) == len(expected)
        for key in range(2 * LAYER_FROM_SLOTS):
            assert layer.get(key) == expected.get(key)


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
