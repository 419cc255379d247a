"""The state tree: actors by ID address in a HAMT, with snapshot layers.

Version 0 (network versions 0-3) stores the actors HAMT root directly;
version 1+ stores ``[version, actors, info]``. Reads and writes here are not
charged gas (only the actors' own store accesses are), so the tree keeps a
write-back cache of actors in snapshot layers and writes them into the HAMT
on flush, like lotus.
"""

from __future__ import annotations

from chainvm.fvm.address import ID, Address
from chainvm.fvm.codec import CID
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.layouts import StateShapeError, check_state, describe
from chainvm.fvm.network import code_version
from chainvm.fvm.store import MemoryBlockstore
from chainvm.fvm.types import Actor

INIT_ADDR = Address.new_id(1)


class StateError(Exception):
    pass


class ActorNotFound(StateError):
    pass


_DELETED = None


class StateTree:
    def __init__(self, store: MemoryBlockstore, root: CID | None = None, version: int = 0) -> None:
        self.store = store
        self.info: CID | None = None
        if root is None:
            self.version = version
            self.hamt = Hamt.new(store, version=0 if version == 0 else 2)
            if version > 0:
                # StateInfo0 is an empty struct
                self.info = store.put_obj([])
        else:
            obj = store.get_obj(root)
            if isinstance(obj, list) and len(obj) == 3 and isinstance(obj[0], int):
                self.version = obj[0]
                self.info = obj[2]
                self.hamt = Hamt.load(store, obj[1], version=2)
            else:
                self.version = 0
                self.hamt = Hamt.load(store, root, version=0)
        # each layer maps an ID address to an actor, or None when deleted
        self.layers: list[dict[Address, Actor | None]] = [{}]
        self.resolve_cache: list[dict[Address, Address]] = [{}]

    # snapshots -----------------------------------------------------------
    def snapshot(self) -> None:
        self.layers.append({})
        self.resolve_cache.append({})

    def revert(self) -> None:
        self.layers[-1] = {}
        self.resolve_cache[-1] = {}

    def clear_snapshot(self) -> None:
        top = self.layers.pop()
        self.layers[-1].update(top)
        rtop = self.resolve_cache.pop()
        self.resolve_cache[-1].update(rtop)

    # address resolution -------------------------------------------------
    def lookup_id(self, addr: Address) -> Address | None:
        if addr.protocol == ID:
            return addr
        for layer in reversed(self.resolve_cache):
            if addr in layer:
                return layer[addr]
        init = self.get_actor(INIT_ADDR)
        if init is None:
            raise StateError("init actor missing")
        st = self.store.get_obj(init.head)
        check_state(init.code, init.head, st, INIT_ADDR)
        amap = Hamt.load(self.store, st[0], version=_hamt_version(init.code))
        value = amap.get(addr.bytes)
        if value is None:
            return None
        if type(value) is not int or value < 0:
            raise StateShapeError(f"actor {INIT_ADDR} (init): its address map entry for {addr} "
                                  f"must be an actor ID, found {describe(value)}")
        resolved = Address.new_id(value)
        self.resolve_cache[-1][addr] = resolved
        return resolved

    def register_new_address(self, addr: Address) -> Address:
        """Map a pubkey/actor address to the next free ID via the init actor."""
        init = self.get_actor(INIT_ADDR)
        if init is None:
            raise StateError("init actor missing")
        st = self.store.get_obj(init.head)
        check_state(init.code, init.head, st, INIT_ADDR)
        st = list(st)
        amap = Hamt.load(self.store, st[0], version=_hamt_version(init.code))
        new_id = st[1]
        amap.set(addr.bytes, new_id)
        st[0] = amap.flush()
        st[1] = new_id + 1
        init = init.copy()
        init.head = self.store.put_obj(st)
        self.set_actor(INIT_ADDR, init)
        return Address.new_id(new_id)

    # actors ---------------------------------------------------------------
    def get_actor(self, addr: Address) -> Actor | None:
        """A copy of the actor, or None if there is none."""
        iaddr = self.lookup_id(addr) if addr.protocol != ID else addr
        if iaddr is None:
            return None
        for layer in reversed(self.layers):
            if iaddr in layer:
                act = layer[iaddr]
                return None if act is None else act.copy()
        raw = self.hamt.get(iaddr.bytes)
        if raw is None:
            return None
        act = Actor.from_cbor(raw)
        self.layers[-1][iaddr] = act
        return act.copy()

    def set_actor(self, addr: Address, actor: Actor) -> None:
        iaddr = self.lookup_id(addr)
        if iaddr is None:
            raise ActorNotFound(f"resolution lookup failed for {addr}")
        self.layers[-1][iaddr] = actor.copy()

    def delete_actor(self, addr: Address) -> None:
        iaddr = self.lookup_id(addr)
        if iaddr is None or self.get_actor(iaddr) is None:
            raise ActorNotFound(f"actor {addr} not found")
        self.layers[-1][iaddr] = _DELETED

    def flush(self) -> CID:
        if len(self.layers) != 1:
            raise StateError("flush with snapshots on the stack")
        for addr, act in self.layers[0].items():
            if act is None:
                self.hamt.delete(addr.bytes)
            else:
                self.hamt.set(addr.bytes, act.to_cbor())
        root = self.hamt.flush()
        if self.version == 0:
            return root
        return self.store.put_obj([self.version, root, self.info])

    def all_actors(self) -> dict[Address, Actor]:
        """Every actor (flushes pending writes first); for diffs and tests."""
        self.flush()
        return {Address.from_bytes(k): Actor.from_cbor(v) for k, v in self.hamt.items()}


def _hamt_version(code: CID) -> int:
    v = code_version(code)
    return 0 if v in (None, 0) else 2
