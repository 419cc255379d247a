"""Signed transaction envelopes: legacy (with or without EIP-155) and types 1-4.

A transaction travels as bytes: a legacy one is an RLP list, a typed one
(EIP-2718) is one type byte followed by the RLP list of its payload. Inside a
block body a typed transaction is carried as an RLP string holding those bytes.

Decoding is strict: every integer must be canonical and fit its width (64
bits for nonce and gas, 256 for amounts), addresses and storage keys must have
their exact length, and lists must have exactly the expected number of fields.
Anything else raises `TxDecodeError`. Checks that depend on the fork (type
allowed, EIP-155, low-s, intrinsic gas) live in `check_static`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainvm.crypto import SECP256K1_N, ecrecover_address, keccak256, sign_hash
from chainvm.encoding.rlp import RLPError, RLPItem, decode, decode_int, encode
from chainvm.evm.errors import InvalidTransaction
from chainvm.evm.forks import Fork
from chainvm.evm.gas import MAX_INITCODE_SIZE
from chainvm.evm.transaction import Authorization, Transaction, intrinsic_gas

UINT64_MAX = (1 << 64) - 1

# The first fork that accepts each transaction type.

# Field counts of each RLP payload (signature included).
_FIELD_COUNT = {0: 9, 1: 11, 2: 12, 3: 14, 4: 13}


class TxDecodeError(ValueError):
    """Malformed or non-canonical transaction bytes."""


AccessList = list[tuple[bytes, list[bytes]]]


@dataclass
class SignedTransaction:
    tx_type: int
    nonce: int
    gas_limit: int
    to: bytes | None
    value: int
    data: bytes
    v: int  # legacy: the raw v value; typed: the y parity
    r: int
    s: int
    chain_id: int | None = None  # None: a legacy transaction without EIP-155 replay protection
    gas_price: int | None = None
    max_priority_fee_per_gas: int | None = None
    max_fee_per_gas: int | None = None
    access_list: AccessList = field(default_factory=list)
    max_fee_per_blob_gas: int | None = None
    blob_versioned_hashes: list[bytes] = field(default_factory=list)
    authorization_list: list[Authorization] = field(default_factory=list)
    _sender: bytes | None = field(default=None, repr=False, compare=False)
    _sender_known: bool = field(default=False, repr=False, compare=False)

    # -- encoding -----------------------------------------------------------------

    def _unsigned_fields(self) -> list[object]:
        to = self.to if self.to is not None else b""
        access = [[addr, list(keys)] for addr, keys in self.access_list]
        if self.tx_type == 0:
            return [self.nonce, self.gas_price or 0, self.gas_limit, to, self.value, self.data]
        if self.tx_type == 1:
            return [self.chain_id or 0, self.nonce, self.gas_price or 0, self.gas_limit, to,
                    self.value, self.data, access]
        common = [self.chain_id or 0, self.nonce, self.max_priority_fee_per_gas or 0,
                  self.max_fee_per_gas or 0, self.gas_limit, to, self.value, self.data, access]
        if self.tx_type == 2:
            return common
        if self.tx_type == 3:
            return common + [self.max_fee_per_blob_gas or 0, list(self.blob_versioned_hashes)]
        if self.tx_type == 4:
            auths = [[a.chain_id, a.address, a.nonce, a.y_parity, a.r, a.s]
                     for a in self.authorization_list]
            return common + [auths]
        raise InvalidTransaction(f"unknown transaction type {self.tx_type}")

    def payload(self) -> list[object]:
        """The RLP list of the transaction, signature included."""
        return self._unsigned_fields() + [self.v, self.r, self.s]

    def encode(self) -> bytes:
        """Canonical network bytes: an RLP list (legacy) or type byte + RLP (typed)."""
        if self.tx_type == 0:
            return encode(self.payload())
        return bytes([self.tx_type]) + encode(self.payload())

    def body_item(self) -> object:
        """The item a block body holds: the legacy list, or the typed envelope as a string."""
        return self.payload() if self.tx_type == 0 else self.encode()

    @property
    def hash(self) -> bytes:
        return keccak256(self.encode())

    def signing_hash(self) -> bytes:
        fields = self._unsigned_fields()
        if self.tx_type == 0:
            if self.chain_id is not None:
                fields = fields + [self.chain_id, 0, 0]  # EIP-155
            return keccak256(encode(fields))
        return keccak256(bytes([self.tx_type]) + encode(fields))

    # -- signatures -----------------------------------------------------------------

    def recovery_id(self) -> int:
        if self.tx_type != 0:
            return self.v
        if self.v in (27, 28):
            return self.v - 27
        if self.chain_id is not None:
            return self.v - 35 - 2 * self.chain_id
        return -1

    def sender(self) -> bytes | None:
        """The signer's address, or None when the signature does not recover."""
        if not self._sender_known:
            rid = self.recovery_id()
            self._sender = ecrecover_address(self.signing_hash(), rid, self.r, self.s) \
                if rid in (0, 1) else None
            self._sender_known = True
        return self._sender

    def sign(self, secret: bytes) -> SignedTransaction:
        """Set the signature fields from a private key (in place); returns self."""
        rid, r, s = sign_hash(self.signing_hash(), secret)
        if self.tx_type == 0:
            self.v = 27 + rid if self.chain_id is None else 35 + 2 * self.chain_id + rid
        else:
            self.v = rid
        self.r, self.s = r, s
        self._sender_known = False
        return self

    # -- to the EVM -----------------------------------------------------------------

    def to_evm(self, sender: bytes | None = None) -> Transaction:
        who = sender if sender is not None else self.sender()
        if who is None:
            raise InvalidTransaction("invalid signature: sender cannot be recovered")
        return Transaction(
            sender=who, to=self.to, nonce=self.nonce, gas_limit=self.gas_limit,
            value=self.value, data=self.data, tx_type=self.tx_type, gas_price=self.gas_price,
            max_fee_per_gas=self.max_fee_per_gas,
            max_priority_fee_per_gas=self.max_priority_fee_per_gas,
            access_list=[(a, [int.from_bytes(k, "big") for k in keys])
                         for a, keys in self.access_list],
            blob_versioned_hashes=list(self.blob_versioned_hashes),
            max_fee_per_blob_gas=self.max_fee_per_blob_gas,
            authorization_list=list(self.authorization_list),
        )

    def effective_tip(self, base_fee: int) -> int:
        """What the coinbase earns per gas at the given base fee (negative: not includable)."""
        if self.tx_type >= 2:
            fee_cap = self.max_fee_per_gas or 0
            return min(self.max_priority_fee_per_gas or 0, fee_cap - base_fee)
        return (self.gas_price or 0) - base_fee


# -- decoding ---------------------------------------------------------------------------


def _int(item: RLPItem, what: str, bits: int = 256) -> int:
    if not isinstance(item, bytes):
        raise TxDecodeError(f"{what}: expected an integer, got a list")
    try:
        return decode_int(item, bits)
    except RLPError as exc:
        raise TxDecodeError(f"{what}: {exc}") from None


def _bytes(item: RLPItem, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise TxDecodeError(f"{what}: expected a string, got a list")
    return item


def _fixed(item: RLPItem, size: int, what: str) -> bytes:
    raw = _bytes(item, what)
    if len(raw) != size:
        raise TxDecodeError(f"{what}: expected {size} bytes, got {len(raw)}")
    return raw


def _to(item: RLPItem) -> bytes | None:
    raw = _bytes(item, "to")
    if not raw:
        return None
    if len(raw) != 20:
        raise TxDecodeError(f"to: address must be 20 bytes, got {len(raw)}")
    return raw


def _list(item: RLPItem, what: str) -> list[RLPItem]:
    if not isinstance(item, list):
        raise TxDecodeError(f"{what}: expected a list")
    return item


def _access_list(item: RLPItem) -> AccessList:
    out: AccessList = []
    for entry in _list(item, "access list"):
        pair = _list(entry, "access list entry")
        if len(pair) != 2:
            raise TxDecodeError("access list entry: expected [address, storage keys]")
        address = _fixed(pair[0], 20, "access list address")
        keys = [_fixed(k, 32, "access list storage key") for k in _list(pair[1], "storage keys")]
        out.append((address, keys))
    return out


def _authorizations(item: RLPItem) -> list[Authorization]:
    out = []
    for entry in _list(item, "authorization list"):
        t = _list(entry, "authorization")
        if len(t) != 6:
            raise TxDecodeError("authorization: expected 6 fields")
        out.append(Authorization(_int(t[0], "authorization chain id"),
                                 _fixed(t[1], 20, "authorization address"),
                                 _int(t[2], "authorization nonce", 64),
                                 _int(t[3], "authorization y parity", 8),
                                 _int(t[4], "authorization r"), _int(t[5], "authorization s")))
    return out


def from_fields(tx_type: int, f: list[RLPItem]) -> SignedTransaction:
    want = _FIELD_COUNT[tx_type]
    if len(f) != want:
        raise TxDecodeError(f"type {tx_type} transaction: expected {want} fields, got {len(f)}")
    if tx_type == 0:
        v = _int(f[6], "v")
        chain_id = (v - 35) // 2 if v >= 35 else None
        return SignedTransaction(
            0, nonce=_int(f[0], "nonce", 64), gas_price=_int(f[1], "gas price"),
            gas_limit=_int(f[2], "gas limit", 64), to=_to(f[3]), value=_int(f[4], "value"),
            data=_bytes(f[5], "data"), v=v, r=_int(f[7], "r"), s=_int(f[8], "s"),
            chain_id=chain_id)
    chain_id = _int(f[0], "chain id")
    nonce = _int(f[1], "nonce", 64)
    if tx_type == 1:
        return SignedTransaction(
            1, chain_id=chain_id, nonce=nonce, gas_price=_int(f[2], "gas price"),
            gas_limit=_int(f[3], "gas limit", 64), to=_to(f[4]), value=_int(f[5], "value"),
            data=_bytes(f[6], "data"), access_list=_access_list(f[7]),
            v=_int(f[8], "y parity"), r=_int(f[9], "r"), s=_int(f[10], "s"))
    tx = SignedTransaction(
        tx_type, chain_id=chain_id, nonce=nonce,
        max_priority_fee_per_gas=_int(f[2], "max priority fee per gas"),
        max_fee_per_gas=_int(f[3], "max fee per gas"), gas_limit=_int(f[4], "gas limit", 64),
        to=_to(f[5]), value=_int(f[6], "value"), data=_bytes(f[7], "data"),
        access_list=_access_list(f[8]), v=_int(f[-3], "y parity"), r=_int(f[-2], "r"),
        s=_int(f[-1], "s"))
    if tx_type == 3:
        tx.max_fee_per_blob_gas = _int(f[9], "max fee per blob gas")
        tx.blob_versioned_hashes = [_fixed(h, 32, "blob versioned hash")
                                    for h in _list(f[10], "blob versioned hashes")]
        if tx.to is None:
            raise TxDecodeError("blob transaction must have a recipient")
    elif tx_type == 4:
        tx.authorization_list = _authorizations(f[9])
        if tx.to is None:
            raise TxDecodeError("set-code transaction must have a recipient")
    return tx


def decode_transaction(data: bytes) -> SignedTransaction:
    """Decode network bytes (legacy RLP list or typed envelope)."""
    if not data:
        raise TxDecodeError("empty transaction")
    first = data[0]
    try:
        if first >= 0xC0:
            fields = decode(data)
            return from_fields(0, _list(fields, "transaction"))
        if first not in _FIELD_COUNT or first == 0:
            raise TxDecodeError(f"unknown transaction type 0x{first:02x}")
        item = decode(data[1:])
    except RLPError as exc:
        raise TxDecodeError(f"bad RLP: {exc}") from None
    return from_fields(first, _list(item, "typed transaction payload"))


def decode_body_item(item: RLPItem) -> SignedTransaction:
    """Decode one entry of a block body's transaction list."""
    if isinstance(item, list):
        return from_fields(0, item)
    if not item or item[0] >= 0x80:
        raise TxDecodeError("typed transaction in a block must be a type byte plus RLP")
    return decode_transaction(item)


# -- fork and chain rules independent of state --------------------------------------------


def check_static(tx: SignedTransaction, fork: Fork, chain_id: int = 1) -> bytes:
    """Validate what needs no state; returns the sender. Raises InvalidTransaction."""
    rules = fork.rules
    if tx.tx_type not in rules.tx_types:
        raise InvalidTransaction(f"transaction type {tx.tx_type} not supported by {fork.name}")
    if tx.tx_type == 0:
        if tx.v not in (27, 28):
            if not rules.eip155 or tx.v < 35:
                raise InvalidTransaction(f"invalid signature v value {tx.v}")
            if tx.chain_id != chain_id:
                raise InvalidTransaction(f"invalid chain id {tx.chain_id}, want {chain_id}")
    else:
        if tx.chain_id != chain_id:
            raise InvalidTransaction(f"invalid chain id {tx.chain_id}, want {chain_id}")
        if tx.v not in (0, 1):
            raise InvalidTransaction(f"invalid signature y parity {tx.v}")
    if not (0 < tx.r < SECP256K1_N and 0 < tx.s < SECP256K1_N):
        raise InvalidTransaction("invalid signature values r, s")
    if rules.eip2 and tx.s > SECP256K1_N // 2:
        raise InvalidTransaction("invalid signature: s above half the curve order (EIP-2)")
    sender = tx.sender()
    if sender is None:
        raise InvalidTransaction("invalid signature: sender cannot be recovered")
    if tx.nonce >= UINT64_MAX:
        raise InvalidTransaction("nonce has max value (EIP-2681)")
    evm_tx = tx.to_evm(sender)
    needed = intrinsic_gas(evm_tx, fork)
    if needed > tx.gas_limit:
        raise InvalidTransaction(f"intrinsic gas too low: have {tx.gas_limit}, want {needed}")
    if rules.eip3860 and tx.to is None and len(tx.data) > MAX_INITCODE_SIZE:
        raise InvalidTransaction("max initcode size exceeded (EIP-3860)")
    if tx.tx_type >= 2 and (tx.max_priority_fee_per_gas or 0) > (tx.max_fee_per_gas or 0):
        raise InvalidTransaction("max priority fee per gas higher than max fee per gas")
    fee_cap = tx.gas_price if tx.tx_type < 2 else tx.max_fee_per_gas
    if (fee_cap or 0) * tx.gas_limit >= 1 << 256:
        raise InvalidTransaction("gas limit times fee cap overflows 256 bits")
    return sender
