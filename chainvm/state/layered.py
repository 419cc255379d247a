"""Storage of an account copied on write: the copy's own writes over the storage it was
copied from, instead of a copy of every slot.

A state shares its parent's accounts until it writes one (`State._get_or_create`), and an
account shared that way is never written again: each writer copies it first. Its storage
can therefore serve as the unchanging base of the copy's storage. A contract with many
slots then costs a copy only what the copy writes, not its size (a dev chain copies every
account a block or a gas estimate writes; docs/node.md).

Reads walk the layers, so a chain of copies is collapsed once it is `MAX_DEPTH` layers
deep: its layers are merged into one layer over the bottom dict (what was written since
that dict was made), and the next layer goes over that. The bottom dict itself is copied
with them only once the merged layer holds a sixteenth as many slots (`REBASE_DIVISOR`).
A state kept for every block (the dev chain's) then costs a copy of the slots written
lately, not of every slot, each `MAX_DEPTH` blocks: EIP-2935's history contract, one
slot of 8,191 written a block, grew a 10,000-block chain by 272 MB when every collapse
copied them all (docs/node.md). Small storages are copied outright (`LAYER_FROM_SLOTS`):
for them a dict's copy is cheaper than the slower reads of a layer.

Not compiled in the native build (a dict subclass with its own methods, as fork mode's
ForkedStorage).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from typing import Any

LAYER_FROM_SLOTS = 256
MAX_DEPTH = 8
REBASE_DIVISOR = 16

_MISSING: Any = object()


class LayeredStorage(dict[int, int]):
    """`base` (never written) with this layer's writes (the dict itself) over it, less the
    base's slots this layer removed (`cleared`, a subset of the base's keys)."""

    __slots__ = ("__weakref__", "_origin", "base", "cleared", "depth")

    def __init__(self, base: Mapping[int, int], origin: LayeredStorage | None = None
                 ) -> None:
        super().__init__()
        self.base = base
        # The layers `base` is the collapsed copy of, held weakly: a stored block's slot
        # changes are taken against them while the parent block's state holds them, and
        # a strong reference would keep every earlier collapse's layers alive through each
        # other (a --datadir node grew ~2.5 KB a block with EIP-2935's history contract).
        self._origin = None if origin is None else weakref.ref(origin)
        self.cleared: set[int] = set()
        self.depth: int = base.depth + 1 if isinstance(base, LayeredStorage) else 1

    @property
    def origin(self) -> Mapping[int, int] | None:
        """The storage this one was copied from: `base` itself, or the layers `base` is the
        collapsed copy of (None once nothing else holds them)."""
        return self.base if self._origin is None else self._origin()

    def get(self, key: int, default: Any = None) -> Any:  # type: ignore[override]
        layer = self
        while True:  # down the layers in one frame
            value = dict.get(layer, key, _MISSING)
            if value is not _MISSING:
                return value
            if key in layer.cleared:
                return default
            base = layer.base
            if type(base) is not LayeredStorage:
                return base.get(key, default)
            layer = base

    def __missing__(self, key: int) -> int:
        if key in self.cleared:
            raise KeyError(key)
        return self.base[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (key not in self.cleared and key in self.base)

    def __setitem__(self, key: int, value: int) -> None:
        dict.__setitem__(self, key, value)
        self.cleared.discard(key)

    def __delitem__(self, key: int) -> None:
        if self.pop(key, _MISSING) is _MISSING:
            raise KeyError(key)

    def pop(self, key: int, *default: Any) -> Any:  # type: ignore[override]
        value = dict.pop(self, key, _MISSING)
        if key not in self.cleared and key in self.base:
            if value is _MISSING:
                value = self.base[key]
            self.cleared.add(key)
        if value is _MISSING:
            if default:
                return default[0]
            raise KeyError(key)
        return value

    def layers_and_bottom(self) -> tuple[list[LayeredStorage], Mapping[int, int]]:
        """This layer and the layers below it, top first, and the storage at the bottom."""
        layers: list[LayeredStorage] = []
        storage: Mapping[int, int] = self
        while isinstance(storage, LayeredStorage):
            layers.append(storage)
            storage = storage.base
        return layers, storage

    def flat(self) -> dict[int, int]:
        """The slots as one new dict: the bottom storage copied at C speed, then each
        layer's removals and writes applied from the bottom up (within a layer the two
        are disjoint)."""
        layers, bottom = self.layers_and_bottom()
        flat = dict(bottom)
        for layer in reversed(layers):
            for key in layer.cleared:
                del flat[key]
            flat.update(dict.items(layer))
        return flat

    def __iter__(self) -> Iterator[int]:
        return iter(self.flat())

    def keys(self) -> Any:  # type: ignore[override]
        return self.flat().keys()

    def items(self) -> Any:  # type: ignore[override]
        return self.flat().items()

    def values(self) -> Any:  # type: ignore[override]
        return self.flat().values()

    def __len__(self) -> int:
        base = self.base
        shadowed = sum(1 for key in dict.__iter__(self) if key in base)
        return dict.__len__(self) + len(base) - len(self.cleared) - shadowed

    def __bool__(self) -> bool:
        return dict.__len__(self) > 0 or len(self.base) > len(self.cleared)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self.flat() == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LayeredStorage({self.flat()!r})"

    def copy(self) -> dict[int, int]:  # type: ignore[override]
        return self.flat()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled or deep-copied as the plain dict of its slots (its layers are how this
        # process shares them, nothing another needs).
        return dict, (self.flat(),)

    def setdefault(self, key: int, default: int = 0) -> int:  # type: ignore[override]
        value = self.get(key, _MISSING)
        if value is _MISSING:
            self[key] = value = default
        return value  # type: ignore[no-any-return]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        dict.clear(self)
        self.cleared = set(self.base)

    def popitem(self) -> tuple[int, int]:
        for key in self.flat():
            return key, self.pop(key)
        raise KeyError("popitem(): storage is empty")


def shared_copy(storage: Any) -> Any:
    """Storage for a copy of an account that its state no longer writes: a layer over it
    when it is a large dict or layer, a plain copy otherwise (fork mode's storage copies
    itself)."""
    kind = type(storage)
    if kind is LayeredStorage:
        if storage.depth < MAX_DEPTH:
            return LayeredStorage(storage)
        return LayeredStorage(_collapsed(storage), origin=storage)
    if kind is dict and len(storage) >= LAYER_FROM_SLOTS:
        return LayeredStorage(storage)
    return storage.copy()


def _collapsed(storage: LayeredStorage) -> dict[int, int]:
    """`storage`'s slots as one layer over the dict at the bottom of its chain (the layers'
    writes and removals merged, bottom up), or as one new dict once that layer would hold
    a `REBASE_DIVISOR`th as many slots as the bottom dict."""
    layers, below = storage.layers_and_bottom()
    writes: dict[int, int] = {}
    cleared: set[int] = set()
    for layer in reversed(layers):  # within a layer the removals and writes are disjoint
        for key in layer.cleared:
            writes.pop(key, None)
            if key in below:
                cleared.add(key)
        for key, value in dict.items(layer):
            writes[key] = value
            cleared.discard(key)
    if not writes and not cleared:
        return below  # type: ignore[return-value]  # never written: a base as it is
    if len(writes) + len(cleared) > len(below) // REBASE_DIVISOR:
        return storage.flat()  # (rare: once a sixteenth of the bottom's slots is written)
    merged = LayeredStorage(below)
    dict.update(merged, writes)
    merged.cleared = cleared
    return merged
