"""The actor VM: message application, sends, the runtime handed to actors.

This follows the lotus ``chain/vm`` model of the network-version 0-5 era:
``apply_message`` checks and charges the sender, ``_send`` builds a runtime,
charges gas, resolves (or creates) the receiver, transfers value and invokes
the receiver's method through the actor registry. Errors are exceptions
carrying an exit code; every call records its gas charges in a trace.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any, NoReturn

from chainvm.fvm.address import BLS, ID, SECP256K1, Address
from chainvm.fvm.bitfield import BitfieldError
from chainvm.fvm.codec import CID, DecodeError, dumps, loads
from chainvm.fvm.errors import FatalError
from chainvm.fvm.gas import compute_gas_outputs
from chainvm.fvm.layouts import check_block, check_state
from chainvm.fvm.network import (
    BUILTIN_CODES,
    SINGLETONS,
    NetworkProfile,
    code_name,
    profile_for,
)
from chainvm.fvm.state import StateTree
from chainvm.fvm.store import MemoryBlockstore
from chainvm.fvm.types import (
    Actor,
    ApplyRet,
    ExecutionTrace,
    ExitCode,
    GasChargeRecord,
    GasOutputs,
    Message,
    Receipt,
)
from chainvm.fvm.verifier import ConformanceVerifier, Verifier

SYSTEM_ADDR = Address.new_id(0)
INIT_ADDR = Address.new_id(1)
REWARD_ADDR = Address.new_id(2)
CRON_ADDR = Address.new_id(3)
POWER_ADDR = Address.new_id(4)
MARKET_ADDR = Address.new_id(5)
VERIFREG_ADDR = Address.new_id(6)
BURNT_FUNDS_ADDR = Address.new_id(99)

EMPTY_OBJECT = dumps([])
EMPTY_OBJECT_CID = CID.for_cbor(EMPTY_OBJECT)

TOTAL_FILECOIN = 2_000_000_000 * 10**18


class ActorError(Exception):
    """An abort with an exit code; ``fatal`` ones abort the whole block."""

    def __init__(self, code: int, message: str = "", fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal


class ActorPanic(Exception):
    """An uncontrolled panic inside actor code (not an abort)."""


# --------------------------------------------------------------------------
# the actor registry


MethodFn = Callable[["Runtime", Any], bytes | None]
Decoder = Callable[[bytes], Any]


class ActorImpl:
    """An actor's methods: number -> (function, parameter decoder)."""

    def __init__(self, name: str, methods: dict[int, tuple[MethodFn, Decoder]]) -> None:
        self.name = name
        self.methods = methods


class Registry:
    def __init__(self) -> None:
        self.by_name: dict[str, dict[int, ActorImpl]] = {}
        self.extra: dict[CID, ActorImpl] = {}

    def register(self, name: str, versions: tuple[int, ...], impl: ActorImpl) -> None:
        for v in versions:
            self.by_name.setdefault(name, {})[v] = impl

    def register_code(self, code: CID, impl: ActorImpl) -> None:
        self.extra[code] = impl

    def lookup(self, code: CID) -> tuple[int | None, ActorImpl] | None:
        if code in self.extra:
            return None, self.extra[code]
        entry = BUILTIN_CODES.get(code)
        if entry is None:
            return None
        version, name = entry
        impl = self.by_name.get(name, {}).get(version)
        if impl is None:
            return None
        return version, impl


_DEFAULT_REGISTRY: Registry | None = None


def default_registry() -> Registry:
    global _DEFAULT_REGISTRY
    if _DEFAULT_REGISTRY is None:
        from chainvm.fvm.actors import build_registry

        _DEFAULT_REGISTRY = build_registry()
    return _DEFAULT_REGISTRY


# --------------------------------------------------------------------------
# gas-charged store seen by actors


class _CallContext:
    """State shared by every frame of one top-level message."""

    __slots__ = ("actors_created", "gas_available", "gas_used", "origin", "origin_nonce")

    def __init__(self, gas_limit: int, origin: Address, origin_nonce: int) -> None:
        self.gas_used = 0
        self.gas_available = gas_limit
        self.origin = origin
        self.origin_nonce = origin_nonce
        self.actors_created = 0


class RuntimeStore:
    """Block access for actor code; each get and put is charged."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def get_obj(self, cid: CID) -> Any:
        rt = self.rt
        rt.charge(rt.prices.on_ipld_get())
        try:
            data = rt.vm.store.get(cid)
        except KeyError as exc:
            raise ActorError(ExitCode.ERR_NOT_FOUND, f"block {cid} not found", fatal=True) from exc
        return loads(data)

    def put_obj(self, obj: Any) -> CID:
        data = dumps(obj)
        self.rt.charge(self.rt.prices.on_ipld_put(len(data)))
        return self.rt.vm.store.put_raw(data)


class Runtime:
    """What an actor method sees while it runs."""

    def __init__(self, vm: VM, msg: Message, ctx: _CallContext) -> None:
        self.vm = vm
        self.msg = msg
        self.ctx = ctx
        self.prices = vm.profile.prices
        self.trace = ExecutionTrace(msg)
        self.caller_validated = False
        self.allow_internal = True
        caller = vm.state.lookup_id(msg.from_)
        if caller is None:
            raise FatalError(f"resolve msg.From address {msg.from_} failed")
        self.caller = caller
        if vm.profile.resolve_receiver_in_runtime:
            # may stay unresolved until an account is created for it
            self.receiver = vm.state.lookup_id(msg.to) or msg.to
        else:
            self.receiver = msg.to
        self.value_received = msg.value
        self.store = RuntimeStore(self)

    # gas ------------------------------------------------------------------
    def charge(self, charge: GasChargeRecord) -> None:
        ctx = self.ctx
        total = charge.compute + charge.storage
        self.trace.gas_charges.append(charge)
        if ctx.gas_used > ctx.gas_available - total:
            used = ctx.gas_used
            ctx.gas_used = ctx.gas_available
            raise ActorError(
                ExitCode.SYS_ERR_OUT_OF_GAS,
                f"not enough gas: used={used}, available={ctx.gas_available}, attempt={total}",
            )
        ctx.gas_used += total

    # context ----------------------------------------------------------------
    @property
    def network_version(self) -> int:
        return self.vm.profile.version

    @property
    def profile(self) -> NetworkProfile:
        return self.vm.profile

    @property
    def curr_epoch(self) -> int:
        return self.vm.epoch

    @property
    def circ_supply(self) -> int:
        """The circulating supply the VM was given (lotus's TotalFilCircSupply)."""
        return self.vm.circ_supply

    def current_balance(self) -> int:
        act = self.vm.state.get_actor(self.receiver)
        return 0 if act is None else act.balance

    def abort(self, code: int, message: str = "") -> NoReturn:
        # aborting with "success" is a programming error the reference VM
        # treats as fatal to the whole block
        raise ActorError(code, message, fatal=code == 0)

    # caller validation -----------------------------------------------------
    def _validate_once(self) -> None:
        if self.caller_validated:
            self.abort(
                ExitCode.SYS_ERR_ILLEGAL_ACTOR, "Method must validate caller identity exactly once"
            )
        self.caller_validated = True

    def validate_caller_any(self) -> None:
        self._validate_once()

    def validate_caller_is(self, *addrs: Address) -> None:
        self._validate_once()
        if self.caller not in addrs:
            self.abort(ExitCode.SYS_ERR_FORBIDDEN, f"caller {self.caller} is not one of {addrs}")

    def validate_caller_type(self, *codes: CID) -> None:
        self._validate_once()
        code = self.get_actor_code(self.caller)
        if code is None:
            raise ActorError(0, "failed to lookup code cid for caller", fatal=True)
        if code not in codes:
            self.abort(ExitCode.SYS_ERR_FORBIDDEN, f"caller type {code} not allowed")

    # state -------------------------------------------------------------------
    def get_actor_code(self, addr: Address) -> CID | None:
        act = self.vm.state.get_actor(addr)
        return None if act is None else act.code

    def resolve_address(self, addr: Address) -> Address | None:
        return self.vm.state.lookup_id(addr)

    def store_get(self, cid: CID) -> Any:
        return self.store.get_obj(cid)

    def store_put(self, obj: Any) -> CID:
        return self.store.put_obj(obj)

    def state_create(self, obj: Any) -> None:
        cid = self.store_put(obj)
        self._state_commit(EMPTY_OBJECT_CID, cid)

    def state_readonly(self) -> Any:
        act = self.vm.state.get_actor(self.receiver)
        if act is None:
            self.abort(ExitCode.SYS_ERR_ILLEGAL_ARGUMENT, "failed to get actor for readonly state")
        assert act is not None
        st = self.store_get(act.head)
        check_state(act.code, act.head, st, self.receiver)
        return st

    def state_transaction(self, fn: Callable[[Any], Any]) -> Any:
        """Load the state, let ``fn`` mutate it in place, then write it back.
        Returns what ``fn`` returned. Sends are forbidden meanwhile."""
        act = self.vm.state.get_actor(self.receiver)
        if act is None:
            self.abort(ExitCode.SYS_ERR_ILLEGAL_ACTOR, "failed to get actor for transaction")
        assert act is not None
        base = act.head
        st = self.store_get(base)
        check_state(act.code, base, st, self.receiver)
        self.allow_internal = False
        result = fn(st)
        self.allow_internal = True
        cid = self.store_put(st)
        self._state_commit(base, cid)
        return result

    def _state_commit(self, old: CID, new: CID) -> None:
        act = self.vm.state.get_actor(self.receiver)
        if act is None:
            raise ActorError(0, "failed to get actor to commit state", fatal=True)
        if act.head != old:
            raise ActorError(0, "failed to update, inconsistent base reference", fatal=True)
        act.head = new
        self.vm.state.set_actor(self.receiver, act)

    # actor lifecycle -------------------------------------------------------
    def new_actor_address(self) -> Address:
        origin = self.vm.resolve_to_key_addr(self.ctx.origin)
        data = (
            dumps(origin.bytes)
            + struct.pack(">Q", self.ctx.origin_nonce)
            + struct.pack(">Q", self.ctx.actors_created)
        )
        self.ctx.actors_created += 1
        return Address.new_actor(data)

    def create_actor(self, code: CID | None, addr: Address | None) -> None:
        name = code_name(code) if code is not None else None
        if name is None:
            self.abort(ExitCode.SYS_ERR_ILLEGAL_ARGUMENT, "Can only create built-in actors.")
        if name in SINGLETONS:
            self.abort(
                ExitCode.SYS_ERR_ILLEGAL_ARGUMENT, "Can only have one instance of singleton actors."
            )
        if addr is not None and self.vm.state.get_actor(addr) is not None:
            self.abort(ExitCode.SYS_ERR_ILLEGAL_ARGUMENT, "Actor address already exists")
        self.charge(self.prices.on_create_actor())
        if addr is None:
            raise ActorError(0, "creating actor entry: undefined address", fatal=True)
        assert code is not None
        try:
            self.vm.state.set_actor(addr, Actor(code, EMPTY_OBJECT_CID, 0, 0))
        except Exception as exc:
            raise ActorError(0, f"creating actor entry: {exc}", fatal=True) from exc

    def delete_actor(self, beneficiary: Address) -> None:
        self.charge(self.prices.on_delete_actor())
        act = self.vm.state.get_actor(self.receiver)
        if act is None:
            self.abort(ExitCode.SYS_ERR_ILLEGAL_ACTOR, "failed to load actor in delete actor")
        assert act is not None
        if act.balance != 0:
            try:
                self.vm.transfer(self.receiver, beneficiary, act.balance)
            except ActorError as exc:
                raise ActorError(
                    0, f"failed to transfer balance to beneficiary: {exc}", True
                ) from exc
        self.vm.state.delete_actor(self.receiver)

    # sends ---------------------------------------------------------------------
    def send(self, to: Address, method: int, params: bytes, value: int) -> tuple[bytes, int]:
        """Send from this actor; returns (return bytes, exit code)."""
        if not self.allow_internal:
            self.abort(ExitCode.SYS_ERR_ILLEGAL_ACTOR, "runtime.Send() is currently disallowed")
        ret, err = self.internal_send(self.receiver, to, method, value, params)
        if err is not None:
            return b"", err.code
        return ret, 0

    def internal_send(
        self, from_: Address, to: Address, method: int, value: int, params: bytes
    ) -> tuple[bytes, ActorError | None]:
        msg = Message(
            to=to,
            from_=from_,
            method=method,
            value=value,
            params=params,
            gas_limit=self.ctx.gas_available,
        )
        st = self.vm.state
        st.snapshot()
        try:
            ret, err, sub = self.vm._send(msg, self, None)
            if err is not None:
                st.revert()
        finally:
            st.clear_snapshot()
        if sub is not None:
            self.trace.subcalls.append(sub.trace)
        if err is not None and err.fatal:
            raise err
        return ret, err

    # syscalls --------------------------------------------------------------
    def randomness_from_tickets(self, dst: int, epoch: int, entropy: bytes) -> bytes:
        return self.vm.randomness("chain", dst, epoch, entropy)

    def randomness_from_beacon(self, dst: int, epoch: int, entropy: bytes) -> bytes:
        return self.vm.randomness("beacon", dst, epoch, entropy)

    def hash_blake2b(self, data: bytes) -> bytes:
        self.charge(self.prices.on_hashing())
        return hashlib.blake2b(data, digest_size=32).digest()

    def compute_unsealed_sector_cid(self, seal_proof: int, pieces: list[tuple[CID, int]]) -> CID:
        """CommD of a sector of ``seal_proof``'s size holding ``pieces``
        (piece CID, padded size); CommitmentError if they do not fit."""
        self.charge(self.prices.on_compute_unsealed_sector_cid())
        return self.vm.verifier.compute_unsealed_sector_cid(seal_proof, pieces)

    def batch_verify_seals(self, infos: dict[Address, list[Any]]) -> dict[Address, list[bool]]:
        """Seal proofs queued by miners during the epoch, verified at cron."""
        return {m: [self.vm.verifier.verify_seal(i) for i in v] for m, v in infos.items()}

    def verify_post(self, proofs: list[Any], challenged: list[Any], randomness: bytes) -> bool:
        """Window PoSt verification; the caller charges its gas, which
        depends on the proof type and the number of challenged sectors."""
        return self.vm.verifier.verify_post(proofs, challenged, randomness)

    def verify_consensus_fault(self, a: bytes, b: bytes, extra: bytes) -> tuple[Address, int] | None:
        """lotus's VerifyConsensusFault: two distinct blocks by one miner
        that are a double-fork (same height), time-offset (same parents) or,
        with ``extra`` as witness, parent-grinding fault, both signed by the
        receiving miner's worker. Returns (miner, epoch of the later block)
        or None. The worker key is read from the current state (lotus reads
        it at the blocks' lookback, which a single state cannot give)."""
        from chainvm.fvm.codec import loads

        self.charge(self.prices.on_verify_consensus_fault())
        try:
            block_a, block_b = loads(a, allow_trailing=True), loads(b, allow_trailing=True)
            block_c = loads(extra, allow_trailing=True) if extra else None
        except (DecodeError, ValueError):
            return None
        for block in (block_a, block_b, block_c):
            if block is not None and (not isinstance(block, list) or len(block) != 16):
                return None
        if CID.for_cbor(dumps(block_a)) == CID.for_cbor(dumps(block_b)):
            return None
        if block_a[0] != block_b[0] or block_b[7] < block_a[7]:
            return None
        fault = False
        if block_a[7] == block_b[7]:
            fault = True  # double-fork mining
        if block_a[5] == block_b[5] and block_a[7] != block_b[7]:
            fault = True  # time-offset mining
        if block_c is not None:
            c_cid = CID.for_cbor(dumps(block_c))
            a_cid = CID.for_cbor(dumps(block_a))
            if (
                block_a[5] == block_c[5]
                and block_a[7] == block_c[7]
                and c_cid in block_b[5]
                and a_cid not in block_b[5]
            ):
                fault = True  # parent grinding
        if not fault:
            return None
        worker = self._worker_key()
        for block in (block_a, block_b):
            sig = block[13]
            if not isinstance(sig, bytes) or worker is None:
                return None
            unsigned = list(block)
            unsigned[13] = None
            if not self.vm.verifier.verify_signature(sig, worker, dumps(unsigned)):
                return None
        try:
            return Address.from_bytes(block_a[0]), int(block_b[7])
        except (ValueError, TypeError):
            return None

    def _worker_key(self) -> Address | None:
        act = self.vm.state.get_actor(self.receiver)
        if act is None:
            return None
        st = self.store.get_obj(act.head)
        check_state(act.code, act.head, st, self.receiver)
        info = self.store.get_obj(st[0])
        check_block("miner info", st[0], info, self.receiver, self.profile.actors_version)
        try:
            return self.vm.resolve_to_key_addr(Address.from_bytes(info[1]), self.store)
        except ActorError:
            return None

    def charge_gas(self, name: str, compute: int) -> None:
        """A charge an actor makes itself (``rt.ChargeGas``)."""
        self.charge(GasChargeRecord(name, compute * self.prices.compute_gas_multi, 0, 0))

    def verify_signature(self, sig: bytes, signer: Address, data: bytes) -> bool:
        """``sig`` is a typed signature (type byte then data)."""
        if not sig:
            return False
        self.charge(self.prices.on_verify_signature(sig[0]))
        # the reference syscall reads the signer's account state through the
        # gas-charged store
        key_addr = self.vm.resolve_to_key_addr(signer, self.store)
        return self.vm.verifier.verify_signature(sig, key_addr, data)


# --------------------------------------------------------------------------


# (kind "chain" or "beacon", domain separation tag, epoch, entropy) -> 32 bytes
RandomnessSource = Callable[[str, int, int, bytes], bytes]

# what lotus's conformance driver answers for randomness nobody recorded
FAKE_RANDOMNESS = b"i_am_random_____i_am_random_____"


def fake_randomness(kind: str, dst: int, epoch: int, entropy: bytes) -> bytes:
    return FAKE_RANDOMNESS


class VM:
    def __init__(
        self,
        store: MemoryBlockstore,
        state_root: CID,
        epoch: int,
        network_version: int,
        base_fee: int = 100,
        circ_supply: int = TOTAL_FILECOIN,
        registry: Registry | None = None,
        profile: NetworkProfile | None = None,
        randomness: RandomnessSource | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        self.store = store
        self.verifier = verifier or ConformanceVerifier()
        self.randomness = randomness or fake_randomness
        store.put_raw(EMPTY_OBJECT)
        self.state = StateTree(store, state_root)
        self.epoch = epoch
        self.profile = profile or profile_for(network_version)
        self.base_fee = base_fee
        self.circ_supply = circ_supply
        self.registry = registry or default_registry()

    def flush(self) -> CID:
        return self.state.flush()

    # helpers --------------------------------------------------------------
    def resolve_to_key_addr(self, addr: Address, store: Any = None) -> Address:
        if addr.protocol in (SECP256K1, BLS):
            return addr
        act = self.state.get_actor(addr)
        if act is None:
            raise ActorError(0, f"failed to find actor: {addr}", fatal=True)
        if code_name(act.code) != "account":
            raise ActorError(0, f"address {addr} was not for an account actor", fatal=True)
        st = (store or self.store).get_obj(act.head)
        check_state(act.code, act.head, st, addr)
        return Address.from_bytes(st[0])

    def transfer(self, from_: Address, to: Address, amount: int) -> None:
        if from_ == to:
            return
        st = self.state
        from_id = st.lookup_id(from_)
        if from_id is None:
            raise ActorError(0, "transfer failed when resolving sender address", fatal=True)
        to_id = st.lookup_id(to)
        if to_id is None:
            raise ActorError(0, "transfer failed when resolving receiver address", fatal=True)
        if from_id == to_id:
            return
        if amount < 0:
            raise ActorError(ExitCode.SYS_ERR_FORBIDDEN, "attempted to transfer negative value")
        f = st.get_actor(from_id)
        t = st.get_actor(to_id)
        if f is None or t is None:
            raise ActorError(0, "transfer failed when retrieving actors", fatal=True)
        if f.balance < amount:
            raise ActorError(
                ExitCode.SYS_ERR_INSUFFICIENT_FUNDS, "transfer failed when deducting funds"
            )
        f.balance -= amount
        t.balance += amount
        st.set_actor(from_id, f)
        st.set_actor(to_id, t)

    def _try_create_account(self, rt: Runtime, addr: Address) -> tuple[Actor, Address]:
        rt.charge(self.profile.prices.on_create_actor())
        if addr.protocol not in (SECP256K1, BLS):
            kind = "no actor with given ID" if addr.protocol == ID else "no such actor"
            raise ActorError(ExitCode.SYS_ERR_INVALID_RECEIVER, f"{kind}: {addr}")
        st = self.state
        aid = st.register_new_address(addr)
        st.set_actor(aid, Actor(self.profile.code("account"), EMPTY_OBJECT_CID, 0, 0))
        _, err = rt.internal_send(SYSTEM_ADDR, aid, 1, 0, dumps(addr.bytes))
        if err is not None:
            raise err
        act = st.get_actor(aid)
        assert act is not None
        return act, aid

    def invoke(self, actor: Actor, rt: Runtime, method: int, params: bytes) -> bytes:
        entry = self.registry.lookup(actor.code)
        if entry is None:
            raise ActorError(ExitCode.SYS_ERR_ILLEGAL_ACTOR, f"no code for actor {actor.code}")
        version, impl = entry
        if version is not None and version != self.profile.actors_version:
            raise ActorError(ExitCode.SYS_ERR_ILLEGAL_ACTOR, "unsupported actor version")
        m = impl.methods.get(method)
        if m is None:
            raise ActorError(ExitCode.SYS_ERR_INVALID_METHOD, f"no method {method} on actor")
        fn, decode = m
        try:
            decoded = decode(params)
        except (DecodeError, ValueError, TypeError, IndexError) as exc:
            raise ActorError(
                self.profile.param_decode_exit_code, f"failed to decode parameters: {exc}"
            ) from exc
        try:
            ret = fn(rt, decoded)
        except ActorPanic as exc:
            raise ActorError(self.profile.panic_exit_code, f"spec actors failure: {exc}") from exc
        except BitfieldError as exc:
            # a bit field in state whose runs do not read (its version is checked with its
            # layout): go-bitfield reports it where the runs are read, and the actors turn
            # that error into ErrIllegalState (parameters' bit fields are read in decoding)
            raise ActorError(ExitCode.ERR_ILLEGAL_STATE, f"malformed bit field in state: {exc}") \
                from exc
        if not rt.caller_validated:
            raise ActorError(ExitCode.SYS_ERR_ILLEGAL_ACTOR, "Caller MUST be validated")
        return ret or b""

    def _send(
        self, msg: Message, parent: Runtime | None, gas_charge: GasChargeRecord | None
    ) -> tuple[bytes, ActorError | None, Runtime]:
        if parent is None:
            ctx = _CallContext(msg.gas_limit, msg.from_, msg.nonce)
        else:
            ctx = parent.ctx
        rt = Runtime(self, msg, ctx)
        ret = b""
        err: ActorError | None = None
        try:
            if gas_charge is not None:
                rt.charge(gas_charge)
            ret = self._send_inner(rt, msg)
        except ActorError as exc:
            err = exc
            ret = b""
        rt.trace.receipt = Receipt(0 if err is None else err.code, ret, ctx.gas_used)
        if err is not None:
            rt.trace.error = str(err)
        return ret, err, rt

    def _send_inner(self, rt: Runtime, msg: Message) -> bytes:
        to_actor = self.state.get_actor(msg.to)
        if to_actor is None:
            to_actor, aid = self._try_create_account(rt, msg.to)
            if self.profile.resolve_receiver_in_runtime:
                rt.receiver = aid
        rt.charge(self.profile.prices.on_method_invocation(msg.value, msg.method))
        if msg.value != 0:
            self.transfer(msg.from_, msg.to, msg.value)
        if msg.method != 0:
            return self.invoke(to_actor, rt, msg.method, msg.params)
        return b""

    # message application ----------------------------------------------------
    def apply_message(self, msg: Message, chain_length: int | None = None) -> ApplyRet:
        if msg.gas_limit <= 0:
            raise FatalError("message has no (or a negative) gas limit")
        prices = self.profile.prices
        size = msg.chain_length() if chain_length is None else chain_length
        msg_gas = prices.on_chain_message(size)
        msg_gas_cost = msg_gas.total
        if msg_gas_cost > msg.gas_limit:
            out = GasOutputs(miner_penalty=self.base_fee * msg_gas_cost)
            return ApplyRet(
                Receipt(ExitCode.SYS_ERR_OUT_OF_GAS, b"", 0),
                out,
                error="message gas limit does not cover on-chain gas costs",
            )
        st = self.state
        penalty = self.base_fee * msg.gas_limit
        from_actor = st.get_actor(msg.from_)
        if from_actor is None:
            return self._early_fail(ExitCode.SYS_ERR_SENDER_INVALID, penalty, "actor not found")
        if code_name(from_actor.code) != "account":
            return self._early_fail(ExitCode.SYS_ERR_SENDER_INVALID, penalty, "not an account")
        if msg.nonce != from_actor.nonce:
            return self._early_fail(
                ExitCode.SYS_ERR_SENDER_STATE_INVALID, penalty, "actor nonce invalid"
            )
        gas_cost = msg.gas_limit * msg.gas_fee_cap
        if from_actor.balance < gas_cost:
            return self._early_fail(
                ExitCode.SYS_ERR_SENDER_STATE_INVALID, penalty, "actor balance less than needed"
            )
        # move the maximum fee into a transient gas holder and bump the nonce
        if gas_cost < 0:
            raise FatalError("attempted to transfer negative value to gas holder")
        from_actor.balance -= gas_cost
        from_actor.nonce += 1
        st.set_actor(msg.from_, from_actor)
        holder = gas_cost

        st.snapshot()
        try:
            ret, err, rt = self._send(msg, None, msg_gas)
            if err is not None and err.fatal:
                raise FatalError(f"fatal error: {err}")
            if ret:
                try:
                    rt.charge(prices.on_chain_return_value(len(ret)))
                except ActorError as exc:
                    err = exc
                    ret = b""
            code = 0 if err is None else err.code
            if code != 0:
                st.revert()
        finally:
            st.clear_snapshot()

        gas_used = max(rt.ctx.gas_used, 0)
        out = compute_gas_outputs(
            gas_used, msg.gas_limit, self.base_fee, msg.gas_fee_cap, msg.gas_premium, True
        )

        def pay(to: Address, amount: int) -> None:
            nonlocal holder
            if amount < 0:
                raise FatalError("attempted to transfer negative value from gas holder")
            if amount == 0:
                return
            act = st.get_actor(to)
            if act is None:
                raise FatalError(f"gas recipient {to} missing")
            holder -= amount
            act.balance += amount
            st.set_actor(to, act)

        pay(BURNT_FUNDS_ADDR, out.base_fee_burn)
        pay(REWARD_ADDR, out.miner_tip)
        pay(BURNT_FUNDS_ADDR, out.over_estimation_burn)
        pay(msg.from_, out.refund)
        if holder != 0:
            raise FatalError("gas handling math is wrong")
        return ApplyRet(
            Receipt(code, ret, gas_used), out, rt.trace, "" if err is None else str(err)
        )

    def _early_fail(self, code: int, penalty: int, why: str) -> ApplyRet:
        return ApplyRet(Receipt(code, b"", 0), GasOutputs(miner_penalty=penalty), error=why)

    def apply_implicit_message(self, msg: Message) -> ApplyRet:
        """System messages (cron ticks, rewards): no nonce, fee or signature;
        the receipt reports no gas."""
        ret, err, rt = self._send(msg, None, None)
        if err is not None and err.fatal:
            raise FatalError(f"fatal error in implicit message: {err}")
        code = 0 if err is None else err.code
        return ApplyRet(
            Receipt(code, ret, 0), GasOutputs(), rt.trace, "" if err is None else str(err)
        )
