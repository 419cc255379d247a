"""A small Python API over the actor VM.

>>> from chainvm.fvm.api import Network
>>> net = Network(network_version=4)
>>> alice = net.create_account(balance=10**21)
>>> bob = net.create_account()
>>> ret = net.send(alice, bob, 10**18)
>>> ret.receipt.exit_code, net.balance(bob)
(0, 1000000000000000000)

Keys are secp256k1 and derived deterministically from a counter so that
runs are reproducible. Every message goes through ``VM.apply_message``;
``apply_block`` runs the message pool selection, the messages, the block
reward and cron like a block producer would.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chainvm.fvm import bitfield, chain
from chainvm.fvm.actors.miner_state import DeadlineInfo
from chainvm.fvm.address import Address
from chainvm.fvm.amt import Amt
from chainvm.fvm.codec import CID, decode_bigint, dumps, encode_bigint, loads
from chainvm.fvm.crypto import bls_address, secp256k1_address, secp256k1_sign
from chainvm.fvm.genesis import build_genesis
from chainvm.fvm.hamt import Hamt
from chainvm.fvm.mpool import BLOCK_GAS_LIMIT, MessagePool
from chainvm.fvm.network import code_name, profile_for
from chainvm.fvm.state import StateTree
from chainvm.fvm.store import MemoryBlockstore, reachable_blocks, write_car
from chainvm.fvm.types import Actor, ApplyRet, Message
from chainvm.fvm.vm import INIT_ADDR, MARKET_ADDR, POWER_ADDR, VM, fake_randomness

FIL = 10**18
FAUCET_BALANCE = 10**9 * FIL
# order of the BLS12-381 prime subgroup: BLS secret keys are scalars below it
BLS_SUBGROUP_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


@dataclass(frozen=True)
class Wallet:
    address: Address  # the f1 (secp256k1) address
    private_key: bytes

    def __str__(self) -> str:
        return str(self.address)


Target = Wallet | Address


def _addr(x: Target) -> Address:
    """The address of a wallet or address argument; TypeError for anything else (a
    string such as "f0101" is parsed with Address.parse first)."""
    if isinstance(x, Wallet):
        return x.address
    if isinstance(x, Address):
        return x
    raise TypeError(f"expected a Wallet or an Address, got {type(x).__name__}")


def _int(value: Any, what: str, low: int = 0, high: int | None = None) -> int:
    """An int argument in [low, high]: TypeError for another type (bool and float too),
    ValueError out of range, instead of an error from deep inside the VM or the codec."""
    if type(value) is not int:
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"from {low}" + ("" if high is None else f" to {high}")
        raise ValueError(f"{what} must be an int {bound}, got {value}")
    return value


MAX_EPOCH = (1 << 63) - 1  # a chain epoch is an int64
MAX_SECTOR_NUMBER = (1 << 63) - 1  # specs-actors' MaxSectorNumber


def _wallet(x: Wallet) -> Wallet:
    if not isinstance(x, Wallet):
        raise TypeError(f"the sender must be a Wallet (it signs), got {type(x).__name__}")
    return x


class Network:
    def __init__(
        self,
        network_version: int = 4,
        epoch: int = 1,
        base_fee: int = 100,
        seed: bytes = b"chainvm",
    ) -> None:
        if type(network_version) is not int:
            raise TypeError(f"network_version must be an int, got {type(network_version).__name__}")
        self.nv = network_version
        self.profile = profile_for(network_version)
        self.epoch = _int(epoch, "epoch", 0, MAX_EPOCH)
        self.base_fee = _int(base_fee, "base_fee")
        self.store = MemoryBlockstore()
        self.root: CID = build_genesis(self.store, network_version)
        self.seed = seed
        self._keys = 0
        self.receipts: list[ApplyRet] = []
        self.bls_wallets: dict[Address, Wallet] = {}
        self.miner_workers: dict[Address, Wallet] = {}
        self.faucet = self.new_wallet()
        self._fund_faucet()
        self.mpool = MessagePool(self.nonce, self._canonical)

    # keys and accounts -----------------------------------------------------
    def new_wallet(self) -> Wallet:
        self._keys += 1
        key = hashlib.sha256(self.seed + self._keys.to_bytes(8, "big")).digest()
        return Wallet(secp256k1_address(key), key)

    def _fund_faucet(self) -> None:
        # the faucet is created by registering its address and crediting it
        # directly, the way a genesis allocation would
        tree = StateTree(self.store, self.root)
        aid = tree.register_new_address(self.faucet.address)
        head = self.store.put_obj([self.faucet.address.bytes])
        tree.set_actor(aid, Actor(self.profile.code("account"), head, 0, FAUCET_BALANCE))
        self.root = tree.flush()

    def create_account(self, balance: int = 0) -> Wallet:
        """A new secp256k1 account, created on chain by a send from the faucet."""
        w = self.new_wallet()
        ret = self.send(self.faucet, w, balance)
        if ret.receipt.exit_code != 0:
            raise RuntimeError(f"account creation failed: {ret.error}")
        return w

    # state reads --------------------------------------------------------------
    def tree(self) -> StateTree:
        return StateTree(self.store, self.root)

    def actor(self, who: Target) -> Actor | None:
        return self.tree().get_actor(_addr(who))

    def balance(self, who: Target) -> int:
        act = self.actor(who)
        return 0 if act is None else act.balance

    def nonce(self, who: Target) -> int:
        act = self.actor(who)
        return 0 if act is None else act.nonce

    def id_of(self, who: Target) -> Address | None:
        return self.tree().lookup_id(_addr(who))

    def _canonical(self, addr: Address) -> Address:
        return self.id_of(addr) or addr

    def actor_state(self, who: Target) -> Any:
        act = self.actor(who)
        return None if act is None else self.store.get_obj(act.head)

    def _state_of(self, who: Target, kind: str) -> Any:
        """The state of `who`, which must be a builtin actor of `kind` (ValueError)."""
        act = self.actor(who)
        if act is None or code_name(act.code) != kind:
            found = "no actor" if act is None else code_name(act.code) or "another actor"
            raise ValueError(f"{_addr(who)} is not a {kind} actor ({found})")
        return self.store.get_obj(act.head)

    def export_car(self) -> bytes:
        return write_car([self.root], reachable_blocks(self.store, self.root))

    # messages -------------------------------------------------------------------
    def message(
        self,
        sender: Wallet,
        to: Target,
        value: int = 0,
        method: int = 0,
        params: bytes = b"",
        gas_limit: int = 1_000_000_000,
        fee_cap: int | None = None,
        premium: int = 1,
    ) -> Message:
        sender = _wallet(sender)
        if not isinstance(params, bytes):
            raise TypeError(f"params must be bytes, got {type(params).__name__}")
        return Message(
            to=_addr(to),
            from_=sender.address,
            nonce=self.mpool.next_nonce(sender.address),
            value=_int(value, "value"),
            gas_limit=_int(gas_limit, "gas_limit", 1, BLOCK_GAS_LIMIT),
            gas_fee_cap=self.base_fee * 2 if fee_cap is None else _int(fee_cap, "fee_cap"),
            gas_premium=_int(premium, "premium"),
            method=_int(method, "method", 0, (1 << 64) - 1),
            params=params,
        )

    def apply(self, msg: Message) -> ApplyRet:
        vm = VM(self.store, self.root, self.epoch, self.nv, self.base_fee)
        ret = vm.apply_message(msg)
        self.root = vm.flush()
        self.receipts.append(ret)
        return ret

    def send(
        self,
        sender: Wallet,
        to: Target,
        value: int = 0,
        method: int = 0,
        params: bytes = b"",
        **kw: Any,
    ) -> ApplyRet:
        """Sign-free direct application of one message (like the test driver)."""
        return self.apply(self.message(sender, to, value, method, params, **kw))

    def submit(
        self,
        sender: Wallet,
        to: Target,
        value: int = 0,
        method: int = 0,
        params: bytes = b"",
        **kw: Any,
    ) -> CID:
        """Sign a message and put it in the message pool."""
        msg = self.message(sender, to, value, method, params, **kw)
        return self.mpool.add(msg, secp256k1_sign(sender.private_key, msg.cid().bytes))

    def apply_block(self, miner: Target | None = None, win_count: int = 1) -> chain.TipsetResult:
        """Select from the pool, apply at the next epoch with reward and cron."""
        # (a block won no election with a win count of 0: the reward actor refuses it)
        if type(win_count) is not int or not 1 <= win_count < 1 << 63:
            raise ValueError(f"win_count must be an int from 1 to 2**63 - 1, got {win_count!r}")
        block_miner = _addr(miner or self.faucet)
        if self.epoch >= MAX_EPOCH:
            raise ValueError(f"no epoch after {self.epoch}")
        msgs = self.mpool.select(self.base_fee)
        parent = self.epoch
        res = chain.apply_tipset(
            self.store,
            self.root,
            parent,
            parent + 1,
            self.nv,
            [chain.Block(block_miner, msgs, win_count)],
            self.base_fee,
        )
        # (only once the tipset applied: a failed one leaves the epoch and root as they were)
        self.epoch = parent + 1
        self.root = res.state_root
        self.receipts.extend(res.applied)
        self.mpool.remove_included(msgs)
        return res

    def advance(self, epochs: int) -> None:
        """Move the epoch on by `epochs` (null rounds: no block, no cron)."""
        self.epoch += _int(epochs, "epochs", 0, MAX_EPOCH - self.epoch)

    # multisig -------------------------------------------------------------------
    def create_multisig(
        self,
        sender: Wallet,
        signers: list[Target],
        threshold: int,
        value: int = 0,
        unlock_duration: int = 0,
        start_epoch: int = 0,
    ) -> tuple[Address, Address]:
        """Create a multisig through init.Exec; returns (ID, robust) addresses."""
        ctor: list[Any] = [[_addr(s).bytes for s in signers], threshold, unlock_duration]
        if self.profile.actors_version >= 2:
            ctor.append(start_epoch)
        ret = self._exec(sender, "multisig", dumps(ctor), value)
        return ret

    def _exec(self, sender: Wallet, name: str, ctor: bytes, value: int) -> tuple[Address, Address]:
        params = dumps([self.profile.code(name), ctor])
        ret = self.send(sender, INIT_ADDR, value, 2, params)
        if ret.receipt.exit_code != 0:
            raise RuntimeError(f"creating {name} failed ({ret.receipt.exit_code}): {ret.error}")
        id_b, robust_b = loads(ret.receipt.return_value)
        return Address.from_bytes(id_b), Address.from_bytes(robust_b)

    def multisig_propose(
        self,
        sender: Wallet,
        msig: Address,
        to: Target,
        value: int = 0,
        method: int = 0,
        params: bytes = b"",
    ) -> ApplyRet:
        p = dumps([_addr(to).bytes, encode_bigint(value), method, params])
        return self.send(sender, msig, 0, 2, p)

    def multisig_approve(self, sender: Wallet, msig: Address, txn_id: int) -> ApplyRet:
        return self.send(sender, msig, 0, 3, dumps([txn_id, b""]))

    def multisig_cancel(self, sender: Wallet, msig: Address, txn_id: int) -> ApplyRet:
        return self.send(sender, msig, 0, 4, dumps([txn_id, b""]))

    # storage miners ----------------------------------------------------------------
    def create_bls_account(self, balance: int = 0) -> Address:
        """An account behind a BLS key (a miner worker); its key is kept in
        ``self.bls_wallets`` so that the account can send messages."""
        self._keys += 1
        secret = int.from_bytes(
            hashlib.sha256(self.seed + b"bls" + self._keys.to_bytes(8, "big")).digest(), "big"
        ) % BLS_SUBGROUP_ORDER or 1
        addr = bls_address(secret)
        self.bls_wallets[addr] = Wallet(addr, secret.to_bytes(32, "big"))
        ret = self.send(self.faucet, addr, balance)
        if ret.receipt.exit_code != 0:
            raise RuntimeError(f"account creation failed: {ret.error}")
        return addr

    def create_miner(
        self, owner: Wallet, seal_proof: int = 3, worker_balance: int = 0
    ) -> tuple[Address, Address]:
        """A storage miner through the power actor (32 GiB sectors by default),
        with a fresh BLS worker; returns (ID, robust) addresses."""
        worker = self.create_bls_account(worker_balance)
        params = dumps([owner.address.bytes, worker.bytes, seal_proof, b"chainvm", []])
        ret = self.send(owner, POWER_ADDR, 0, 2, params)
        if ret.receipt.exit_code != 0:
            raise RuntimeError(f"creating miner failed ({ret.receipt.exit_code}): {ret.error}")
        id_b, robust_b = loads(ret.receipt.return_value)
        miner = Address.from_bytes(id_b)
        self.miner_workers[miner] = self.bls_wallets[worker]
        return miner, Address.from_bytes(robust_b)

    def worker_of(self, miner: Address) -> Wallet:
        worker = self.miner_workers.get(_addr(miner))
        if worker is None:
            raise ValueError(f"{miner} is not a miner created by this network")
        return worker

    # the storage market and sector life (actors v0: network versions 0-3) ----------
    def market_add_balance(self, sender: Wallet, who: Target, amount: int) -> ApplyRet:
        """Escrow ``amount`` in the market for ``who`` (a client or a miner)."""
        return self.send(sender, MARKET_ADDR, amount, 2, dumps(_addr(who).bytes))

    def market_balance(self, who: Target) -> tuple[int, int]:
        """(escrowed, locked) market balance of ``who``."""
        st = self.actor_state(MARKET_ADDR)
        key = self._canonical(_addr(who)).bytes
        out = []
        for table in (st[3], st[4]):
            found = Hamt.load(self.store, table).get(key)
            out.append(0 if found is None else decode_bigint(found))
        return out[0], out[1]

    def deal_proposal(
        self,
        client: Wallet,
        miner: Address,
        piece_cid: CID,
        piece_size: int,
        start: int,
        end: int,
        price_per_epoch: int = 0,
        provider_collateral: int = 0,
        client_collateral: int = 0,
        label: str = "",
    ) -> list[Any]:
        """A deal proposal signed by the client: [proposal, signature]."""
        proposal = [
            piece_cid, piece_size, False, client.address.bytes, miner.bytes, label, start, end,
            encode_bigint(price_per_epoch), encode_bigint(provider_collateral),
            encode_bigint(client_collateral),
        ]
        return [proposal, secp256k1_sign(client.private_key, dumps(proposal))]

    def publish_deals(self, miner: Address, deals: list[list[Any]]) -> tuple[ApplyRet, list[int]]:
        """The miner's worker publishes signed proposals; returns the deal IDs."""
        ret = self.send(self.worker_of(miner), MARKET_ADDR, 0, 4, dumps([deals]))
        ids = loads(ret.receipt.return_value)[0] if ret.receipt.exit_code == 0 else []
        return ret, ids

    def pre_commit_sector(
        self,
        sender: Wallet,
        miner: Address,
        number: int,
        expiration: int,
        deal_ids: list[int] | None = None,
        seal_proof: int = 3,
        replace: tuple[int, int, int] | None = None,
    ) -> ApplyRet:
        """Pre-commit a sector (the sealed CID is made up: nothing is sealed
        here); the seal randomness is drawn from the previous epoch.
        ``replace`` = (deadline, partition, sector) upgrades a proven
        committed-capacity sector, which then expires early."""
        _int(number, "sector number", 0, MAX_SECTOR_NUMBER)
        sealed = CID(0xF102, 0xB401, hashlib.sha256(miner.bytes + number.to_bytes(8, "big")).digest())
        dl, part, old = replace or (0, 0, 0)
        params = [seal_proof, number, sealed, self.epoch - 1, deal_ids or [], expiration,
                  replace is not None, dl, part, old]
        return self.send(sender, miner, 0, 6, dumps(params))

    def prove_commit_sector(self, sender: Wallet, miner: Address, number: int) -> ApplyRet:
        """Submit a (placeholder) seal proof; the power actor verifies the
        epoch's proofs at cron, which then activates the sector."""
        return self.send(sender, miner, 0, 7, dumps([number, bytes(1920)]))

    def sector_location(self, miner: Address, number: int) -> tuple[int, int] | None:
        """(deadline, partition) a proven sector was assigned to."""
        self._v0_miner_only("sector_location")
        st = self._state_of(miner, "storageminer")
        for dl_index, dl_cid in enumerate(self.store.get_obj(st[11])[0]):
            partitions = Amt.load(self.store, self.store.get_obj(dl_cid)[0])
            for part_index, partition in partitions.items():
                if number in bitfield.decode(partition[0]):
                    return dl_index, part_index
        return None

    def declare_faults(
        self, sender: Wallet, miner: Address, sectors: list[int], recovered: bool = False
    ) -> ApplyRet:
        """Declare proven sectors faulty (or, with ``recovered``, recovered)."""
        grouped: dict[tuple[int, int], set[int]] = {}
        for n in sectors:
            where = self.sector_location(miner, n)
            if where is None:
                raise ValueError(f"sector {n} is not in any partition")
            grouped.setdefault(where, set()).add(n)
        decls = [[d, p, bitfield.encode(ns)] for (d, p), ns in sorted(grouped.items())]
        return self.send(sender, miner, 0, 11 if recovered else 10, dumps([decls]))

    def proving_deadline(self, miner: Address) -> DeadlineInfo:
        """The miner's current proving deadline as its state records it (the
        miner's cron moves it on at each deadline's last epoch)."""
        self._v0_miner_only("proving_deadline")
        st = self._state_of(miner, "storageminer")
        return DeadlineInfo(st[9], st[10], self.epoch)

    def submit_window_post(
        self, sender: Wallet, miner: Address, deadline: int, partitions: list[int]
    ) -> ApplyRet:
        """A window PoSt for whole partitions of the open deadline, with a
        proof of the right shape (one Groth16 proof per 2349 challenged
        sectors; the SNARK itself is not checked here)."""
        self._v0_miner_only("submit_window_post")
        st = self._state_of(miner, "storageminer")
        deadlines = self.store.get_obj(st[11])[0]
        _int(deadline, "deadline", 0, len(deadlines) - 1)
        dl = self.store.get_obj(deadlines[deadline])
        table = Amt.load(self.store, dl[0])
        challenged = 0
        for index in partitions:
            found = table.get(index)
            if found is None:
                raise ValueError(f"no partition {index} in deadline {deadline}")
            challenged += len(bitfield.decode(found[0]))
        proof = [[8, bytes(192 * -(-challenged // 2349))]]
        commit_epoch = self.epoch - 1
        commit_rand = fake_randomness("chain", 9, commit_epoch, b"")
        params = [deadline, [[p, b""] for p in partitions], proof, commit_epoch, commit_rand]
        return self.send(sender, miner, 0, 5, dumps(params))

    def miner_power(self, miner: Address) -> tuple[int, int]:
        """(raw, quality-adjusted) power the power actor credits the miner with."""
        st = self.actor_state(POWER_ADDR)
        v2 = self.profile.actors_version >= 2
        claims = Hamt.load(self.store, st[13 if v2 else 14], version=2 if v2 else 0)
        claim = claims.get(self._canonical(miner).bytes)
        if claim is None:
            return 0, 0
        # actors v2's claim starts with the miner's seal proof type
        raw, qa = claim[1:] if v2 else claim
        return decode_bigint(raw), decode_bigint(qa)

    def _v0_miner_only(self, what: str) -> None:
        """The helpers that read a miner's deadlines know actors v0's layout only, as the
        miner's life here runs under v0 (docs/fvm.md)."""
        if self.profile.actors_version != 0:
            raise NotImplementedError(
                f"{what}: the Python API's miner life runs under actors v0 only (network "
                f"versions 0 to 3), not v{self.profile.actors_version}")

    # payment channels --------------------------------------------------------------
    def create_paych(self, sender: Wallet, to: Target, value: int) -> tuple[Address, Address]:
        ctor = dumps([sender.address.bytes, _addr(to).bytes])
        return self._exec(sender, "paymentchannel", ctor, value)

    def paych_voucher(
        self,
        signer: Wallet,
        channel: Address,
        lane: int,
        nonce: int,
        amount: int,
        min_settle_height: int = 0,
    ) -> list[Any]:
        """A voucher signed by ``signer`` (blake2b-256 of the unsigned form)."""
        sv: list[Any] = [
            channel.bytes,
            0,
            0,
            b"",
            None,
            lane,
            nonce,
            encode_bigint(amount),
            min_settle_height,
            [],
            None,
        ]
        sv[10] = secp256k1_sign(signer.private_key, dumps(sv))
        return sv

    def paych_update(self, sender: Wallet, channel: Address, voucher: list[Any]) -> ApplyRet:
        params: list[Any] = [voucher, b""]
        if self.profile.actors_version == 0:
            params.append(b"")  # v0 carried a (unused) proof field
        return self.send(sender, channel, 0, 2, dumps(params))

    def paych_settle(self, sender: Wallet, channel: Address) -> ApplyRet:
        return self.send(sender, channel, 0, 3)

    def paych_collect(self, sender: Wallet, channel: Address) -> ApplyRet:
        return self.send(sender, channel, 0, 4)

    def paych_to_send(self, channel: Address) -> int:
        st = self._state_of(channel, "paymentchannel")
        return decode_bigint(st[2])
