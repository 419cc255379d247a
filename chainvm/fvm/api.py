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

from chainvm.fvm import chain
from chainvm.fvm.address import Address
from chainvm.fvm.codec import CID, decode_bigint, dumps, encode_bigint, loads
from chainvm.fvm.crypto import secp256k1_address, secp256k1_sign
from chainvm.fvm.genesis import build_genesis
from chainvm.fvm.mpool import MessagePool
from chainvm.fvm.network import profile_for
from chainvm.fvm.state import StateTree
from chainvm.fvm.store import MemoryBlockstore, reachable_blocks, write_car
from chainvm.fvm.types import Actor, ApplyRet, Message
from chainvm.fvm.vm import INIT_ADDR, POWER_ADDR, VM

FIL = 10**18
FAUCET_BALANCE = 10**9 * FIL


@dataclass(frozen=True)
class Wallet:
    address: Address  # the f1 (secp256k1) address
    private_key: bytes

    def __str__(self) -> str:
        return str(self.address)


Target = Wallet | Address


def _addr(x: Target) -> Address:
    return x.address if isinstance(x, Wallet) else x


class Network:
    def __init__(
        self,
        network_version: int = 4,
        epoch: int = 1,
        base_fee: int = 100,
        seed: bytes = b"chainvm",
    ) -> None:
        self.nv = network_version
        self.profile = profile_for(network_version)
        self.epoch = epoch
        self.base_fee = base_fee
        self.store = MemoryBlockstore()
        self.root: CID = build_genesis(self.store, network_version)
        self.seed = seed
        self._keys = 0
        self.receipts: list[ApplyRet] = []
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
        return Message(
            to=_addr(to),
            from_=sender.address,
            nonce=self.mpool.next_nonce(sender.address),
            value=value,
            gas_limit=gas_limit,
            gas_fee_cap=self.base_fee * 2 if fee_cap is None else fee_cap,
            gas_premium=premium,
            method=method,
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
        msgs = self.mpool.select(self.base_fee)
        parent = self.epoch
        self.epoch += 1
        res = chain.apply_tipset(
            self.store,
            self.root,
            parent,
            self.epoch,
            self.nv,
            [chain.Block(_addr(miner or self.faucet), msgs, win_count)],
            self.base_fee,
        )
        self.root = res.state_root
        self.receipts.extend(res.applied)
        self.mpool.remove_included(msgs)
        return res

    def advance(self, epochs: int) -> None:
        self.epoch += epochs

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
        """An account behind a BLS address (a miner worker key). BLS keys
        cannot sign here, so it can be used as a worker but not as a sender."""
        self._keys += 1
        payload = hashlib.sha512(self.seed + b"bls" + self._keys.to_bytes(8, "big")).digest()
        addr = Address.new_bls(payload[:48])
        ret = self.send(self.faucet, addr, balance)
        if ret.receipt.exit_code != 0:
            raise RuntimeError(f"account creation failed: {ret.error}")
        return addr

    def create_miner(self, owner: Wallet, seal_proof: int = 3) -> tuple[Address, Address]:
        """A storage miner through the power actor (32 GiB sectors by default),
        with a fresh BLS worker; returns (ID, robust) addresses."""
        worker = self.create_bls_account()
        params = dumps([owner.address.bytes, worker.bytes, seal_proof, b"chainvm", []])
        ret = self.send(owner, POWER_ADDR, 0, 2, params)
        if ret.receipt.exit_code != 0:
            raise RuntimeError(f"creating miner failed ({ret.receipt.exit_code}): {ret.error}")
        id_b, robust_b = loads(ret.receipt.return_value)
        return Address.from_bytes(id_b), Address.from_bytes(robust_b)

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
        st = self.actor_state(channel)
        return decode_bigint(st[2])
