"""Block headers, bodies, withdrawals, receipts, the logs bloom and the per-block tries.

A header is an RLP list that grew over the forks: 15 fields up to Paris, then
base fee (London), withdrawals root (Shanghai), blob gas used, excess blob gas
and parent beacon block root (Cancun) and the requests hash (Prague). Which
optional fields a header carries is checked against the fork in processing;
here a header decodes as long as its fields are well formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainvm.chain.transactions import SignedTransaction, TxDecodeError, decode_body_item
from chainvm.crypto import keccak256
from chainvm.encoding.rlp import RLPError, RLPItem, decode, decode_int, encode
from chainvm.state.state import Log
from chainvm.state.trie import Leaf, node_hash, trie_root

EMPTY_OMMERS_HASH = keccak256(encode([]))
EMPTY_ROOT = keccak256(b"\x80")

# Names of the optional trailing header fields, in order.
OPTIONAL_FIELDS = ("base_fee", "withdrawals_root", "blob_gas_used", "excess_blob_gas",
                   "parent_beacon_block_root", "requests_hash")


class BlockDecodeError(ValueError):
    """Malformed block, header, body or receipt bytes."""


def _int(item: RLPItem, what: str, bits: int = 256) -> int:
    if not isinstance(item, bytes):
        raise BlockDecodeError(f"{what}: expected an integer, got a list")
    try:
        return decode_int(item, bits)
    except RLPError as exc:
        raise BlockDecodeError(f"{what}: {exc}") from None


def _fixed(item: RLPItem, size: int, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise BlockDecodeError(f"{what}: expected a string, got a list")
    if len(item) != size:
        raise BlockDecodeError(f"{what}: expected {size} bytes, got {len(item)}")
    return item


def _list(item: RLPItem, what: str) -> list[RLPItem]:
    if not isinstance(item, list):
        raise BlockDecodeError(f"{what}: expected a list")
    return item


@dataclass
class Header:
    parent_hash: bytes
    ommers_hash: bytes
    coinbase: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    bloom: bytes
    difficulty: int
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: bytes
    mix_hash: bytes
    nonce: bytes
    base_fee: int | None = None
    withdrawals_root: bytes | None = None
    blob_gas_used: int | None = None
    excess_blob_gas: int | None = None
    parent_beacon_block_root: bytes | None = None
    requests_hash: bytes | None = None
    _hash: bytes | None = field(default=None, repr=False, compare=False)
    # (the _hash it goes with, the encoding's length): kept when the hash is made.
    _size: tuple[bytes, int] | None = field(default=None, repr=False, compare=False)

    def fields(self) -> list[object]:
        out: list[object] = [
            self.parent_hash, self.ommers_hash, self.coinbase, self.state_root,
            self.transactions_root, self.receipts_root, self.bloom, self.difficulty, self.number,
            self.gas_limit, self.gas_used, self.timestamp, self.extra_data, self.mix_hash,
            self.nonce]
        optional = [getattr(self, name) for name in OPTIONAL_FIELDS]
        while optional and optional[-1] is None:
            optional.pop()
        if any(v is None for v in optional):
            raise BlockDecodeError("header has a gap in its optional fields")
        return out + optional

    def encode(self) -> bytes:
        return encode(self.fields())

    @property
    def hash(self) -> bytes:
        if self._hash is None:
            data = self.encode()
            self._hash = keccak256(data)
            self._size = (self._hash, len(data))
        return self._hash

    def encoded_size(self) -> int:
        """len(self.encode()), known without encoding again once the hash is made."""
        block_hash = self.hash
        size = self._size
        if size is not None and size[0] is block_hash:
            return size[1]
        length = len(self.encode())
        self._size = (block_hash, length)
        return length

    def present_optional(self) -> tuple[str, ...]:
        return tuple(name for name in OPTIONAL_FIELDS if getattr(self, name) is not None)

    @classmethod
    def from_rlp(cls, item: RLPItem) -> Header:
        f = _list(item, "header")
        if not 15 <= len(f) <= 15 + len(OPTIONAL_FIELDS):
            raise BlockDecodeError(f"header: expected 15 to 21 fields, got {len(f)}")
        header = cls(
            parent_hash=_fixed(f[0], 32, "parent hash"),
            ommers_hash=_fixed(f[1], 32, "ommers hash"),
            coinbase=_fixed(f[2], 20, "coinbase"),
            state_root=_fixed(f[3], 32, "state root"),
            transactions_root=_fixed(f[4], 32, "transactions root"),
            receipts_root=_fixed(f[5], 32, "receipts root"),
            bloom=_fixed(f[6], 256, "logs bloom"),
            difficulty=_int(f[7], "difficulty"),
            number=_int(f[8], "number"),
            gas_limit=_int(f[9], "gas limit", 64),
            gas_used=_int(f[10], "gas used", 64),
            timestamp=_int(f[11], "timestamp", 64),
            extra_data=_bytes(f[12], "extra data"),
            mix_hash=_fixed(f[13], 32, "mix hash"),
            nonce=_fixed(f[14], 8, "nonce"),
        )
        rest = f[15:]
        kinds = [("int", 256), ("hash", 32), ("int", 64), ("int", 64), ("hash", 32), ("hash", 32)]
        for name, raw, (kind, size) in zip(OPTIONAL_FIELDS, rest, kinds):
            value: object = _int(raw, name, size) if kind == "int" else _fixed(raw, size, name)
            setattr(header, name, value)
        return header

    @classmethod
    def decode(cls, data: bytes) -> Header:
        try:
            return cls.from_rlp(decode(data))
        except RLPError as exc:
            raise BlockDecodeError(f"header: bad RLP: {exc}") from None


def _bytes(item: RLPItem, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise BlockDecodeError(f"{what}: expected a string, got a list")
    return item


@dataclass
class Withdrawal:
    index: int
    validator_index: int
    address: bytes
    amount: int  # in gwei

    def fields(self) -> list[object]:
        return [self.index, self.validator_index, self.address, self.amount]

    @classmethod
    def from_rlp(cls, item: RLPItem) -> Withdrawal:
        f = _list(item, "withdrawal")
        if len(f) != 4:
            raise BlockDecodeError(f"withdrawal: expected 4 fields, got {len(f)}")
        return cls(_int(f[0], "withdrawal index", 64), _int(f[1], "validator index", 64),
                   _fixed(f[2], 20, "withdrawal address"), _int(f[3], "withdrawal amount", 64))


@dataclass
class Block:
    header: Header
    transactions: list[SignedTransaction]
    uncles: list[Header]
    withdrawals: list[Withdrawal] | None = None

    @property
    def hash(self) -> bytes:
        return self.header.hash

    def encode(self) -> bytes:
        items: list[object] = [self.header.fields(), [tx.body_item() for tx in self.transactions],
                               [u.fields() for u in self.uncles]]
        if self.withdrawals is not None:
            items.append([w.fields() for w in self.withdrawals])
        return encode(items)

    @classmethod
    def decode(cls, data: bytes) -> Block:
        try:
            item = decode(data)
        except RLPError as exc:
            raise BlockDecodeError(f"block: bad RLP: {exc}") from None
        f = _list(item, "block")
        if len(f) not in (3, 4):
            raise BlockDecodeError(f"block: expected 3 or 4 fields, got {len(f)}")
        header = Header.from_rlp(f[0])
        txs = []
        for i, raw in enumerate(_list(f[1], "transactions")):
            try:
                txs.append(decode_body_item(raw))
            except TxDecodeError as exc:
                raise BlockDecodeError(f"transaction {i}: {exc}") from None
        uncles = [Header.from_rlp(u) for u in _list(f[2], "uncles")]
        withdrawals = None
        if len(f) == 4:
            withdrawals = [Withdrawal.from_rlp(w) for w in _list(f[3], "withdrawals")]
        return cls(header, txs, uncles, withdrawals)


# -- receipts and the bloom ---------------------------------------------------------------


def bloom_add(bloom: bytearray, value: bytes) -> None:
    digest = keccak256(value)
    for i in (0, 2, 4):
        bit = ((digest[i] << 8) | digest[i + 1]) & 2047
        bloom[255 - bit // 8] |= 1 << (bit % 8)


def logs_bloom(logs: list[Log]) -> bytes:
    bloom = bytearray(256)
    for log in logs:
        bloom_add(bloom, log.address)
        for topic in log.topics:
            bloom_add(bloom, topic.to_bytes(32, "big"))
    return bytes(bloom)


def or_blooms(blooms: list[bytes]) -> bytes:
    acc = 0
    for b in blooms:
        acc |= int.from_bytes(b, "big")
    return acc.to_bytes(256, "big")


@dataclass
class Receipt:
    tx_type: int
    status_or_root: int | bytes  # 0/1 from Byzantium, the post-transaction state root before
    cumulative_gas_used: int
    logs: list[Log]
    bloom: bytes = b""

    def __post_init__(self) -> None:
        if not self.bloom:
            self.bloom = logs_bloom(self.logs)

    @property
    def succeeded(self) -> bool:
        return self.status_or_root == 1

    def encode(self) -> bytes:
        body = encode([self.status_or_root, self.cumulative_gas_used, self.bloom,
                       [log.to_rlp() for log in self.logs]])
        return body if self.tx_type == 0 else bytes([self.tx_type]) + body


# -- tries ----------------------------------------------------------------------------------


def ordered_trie_root(values: list[bytes]) -> bytes:
    """Root of a trie keyed by RLP(index), as for transactions, receipts and withdrawals."""
    if not values:
        return EMPTY_ROOT
    if len(values) == 1 and values[0]:
        # One item (a dev chain's block of one transaction): the root is one leaf at
        # RLP(0) = 0x80, nibbles "80".
        return node_hash(Leaf("80", values[0]))
    return trie_root({encode(i): v for i, v in enumerate(values)})


def transactions_root(txs: list[SignedTransaction]) -> bytes:
    return ordered_trie_root([tx.encode() for tx in txs])


def receipts_root(receipts: list[Receipt]) -> bytes:
    return ordered_trie_root([r.encode() for r in receipts])


def withdrawals_root(withdrawals: list[Withdrawal]) -> bytes:
    return ordered_trie_root([encode(w.fields()) for w in withdrawals])


def ommers_hash(uncles: list[Header]) -> bytes:
    if not uncles:  # every block after the Merge
        return EMPTY_OMMERS_HASH
    return keccak256(encode([u.fields() for u in uncles]))
