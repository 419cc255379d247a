"""Chain types: actors, messages, receipts and exit codes."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from chainvm.fvm.address import Address
from chainvm.fvm.codec import CID, DecodeError, decode_bigint, dumps, encode_bigint, loads


class ExitCode:
    OK = 0
    SYS_ERR_SENDER_INVALID = 1
    SYS_ERR_SENDER_STATE_INVALID = 2
    SYS_ERR_INVALID_METHOD = 3
    SYS_ERR_RESERVED1 = 4
    SYS_ERR_INVALID_RECEIVER = 5
    SYS_ERR_INSUFFICIENT_FUNDS = 6
    SYS_ERR_OUT_OF_GAS = 7
    SYS_ERR_FORBIDDEN = 8
    SYS_ERR_ILLEGAL_ACTOR = 9
    SYS_ERR_ILLEGAL_ARGUMENT = 10
    ERR_ILLEGAL_ARGUMENT = 16
    ERR_NOT_FOUND = 17
    ERR_FORBIDDEN = 18
    ERR_INSUFFICIENT_FUNDS = 19
    ERR_ILLEGAL_STATE = 20
    ERR_SERIALIZATION = 21
    FIRST_ACTOR_SPECIFIC = 32


@dataclass
class Actor:
    code: CID
    head: CID
    nonce: int = 0
    balance: int = 0

    def to_cbor(self) -> list[Any]:
        return [self.code, self.head, self.nonce, encode_bigint(self.balance)]

    @classmethod
    def from_cbor(cls, obj: Any) -> Actor:
        if not isinstance(obj, list) or len(obj) != 4:
            raise DecodeError("malformed actor")
        return cls(obj[0], obj[1], obj[2], decode_bigint(obj[3]))

    def copy(self) -> Actor:
        return Actor(self.code, self.head, self.nonce, self.balance)


@dataclass
class Message:
    to: Address
    from_: Address
    nonce: int = 0
    value: int = 0
    gas_limit: int = 0
    gas_fee_cap: int = 0
    gas_premium: int = 0
    method: int = 0
    params: bytes = b""
    version: int = 0

    def to_cbor(self) -> list[Any]:
        return [
            self.version,
            self.to.bytes,
            self.from_.bytes,
            self.nonce,
            encode_bigint(self.value),
            self.gas_limit,
            encode_bigint(self.gas_fee_cap),
            encode_bigint(self.gas_premium),
            self.method,
            self.params,
        ]

    def serialize(self) -> bytes:
        return dumps(self.to_cbor())

    def cid(self) -> CID:
        return CID.for_cbor(self.serialize())

    @classmethod
    def from_bytes(cls, data: bytes) -> Message:
        """Decode a message; DecodeError (AddressError for a bad address, both
        ValueErrors) unless every field has the CBOR type and range lotus gives it."""
        obj = loads(data)
        if not isinstance(obj, list) or len(obj) != 10:
            raise DecodeError("malformed message: not a list of 10 fields")
        version, to, from_, nonce, value, gas_limit, fee_cap, premium, method, params = obj
        return cls(
            version=_uint64(version, "version"),
            to=Address.from_bytes(_byte_string(to, "to")),
            from_=Address.from_bytes(_byte_string(from_, "from")),
            nonce=_uint64(nonce, "nonce"),
            value=_bigint(value, "value"),
            gas_limit=_int64(gas_limit, "gas_limit"),
            gas_fee_cap=_bigint(fee_cap, "gas_fee_cap"),
            gas_premium=_bigint(premium, "gas_premium"),
            method=_uint64(method, "method"),
            params=_byte_string(params, "params"),
        )

    def chain_length(self) -> int:
        """Size on chain; secp256k1 senders carry a 65-byte signature, which the
        signed-message envelope grows by 69 bytes (array, type byte, header)."""
        n = len(self.serialize())
        if self.from_.protocol == 1:
            n += 69
        return n


UINT64_MAX = (1 << 64) - 1
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def _uint64(value: Any, name: str) -> int:
    if type(value) is not int or not 0 <= value <= UINT64_MAX:
        raise DecodeError(f"malformed message: {name} must be an unsigned 64-bit integer")
    return value


def _int64(value: Any, name: str) -> int:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise DecodeError(f"malformed message: {name} must be a signed 64-bit integer")
    return value


def _byte_string(value: Any, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise DecodeError(f"malformed message: {name} must be a byte string")
    return value


def _bigint(value: Any, name: str) -> int:
    try:
        return decode_bigint(value)
    except DecodeError as exc:
        raise DecodeError(f"malformed message: {name}: {exc}") from None


@dataclass
class Receipt:
    exit_code: int
    return_value: bytes
    gas_used: int

    def to_cbor(self) -> list[Any]:
        return [self.exit_code, self.return_value, self.gas_used]


@dataclass
class GasOutputs:
    base_fee_burn: int = 0
    over_estimation_burn: int = 0
    miner_penalty: int = 0
    miner_tip: int = 0
    refund: int = 0
    gas_refund: int = 0
    gas_burned: int = 0


@dataclass
class GasChargeRecord:
    name: str
    compute: int
    storage: int
    # storage units before the price list's multiplier (lotus reports these)
    storage_units: int = 0

    @property
    def total(self) -> int:
        return self.compute + self.storage


@dataclass
class ExecutionTrace:
    """One call frame, in the shape of lotus's ExecutionTrace."""

    msg: Message
    receipt: Receipt | None = None
    error: str = ""
    gas_charges: list[GasChargeRecord] = field(default_factory=list)
    subcalls: list[ExecutionTrace] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The frame in the shape of lotus's ExecutionTrace JSON."""
        m = self.msg
        rct = self.receipt
        return {
            "Msg": {
                "Version": m.version,
                "To": str(m.to),
                "From": str(m.from_),
                "Nonce": m.nonce,
                "Value": str(m.value),
                "GasLimit": m.gas_limit,
                "GasFeeCap": str(m.gas_fee_cap),
                "GasPremium": str(m.gas_premium),
                "Method": m.method,
                "Params": base64.b64encode(m.params).decode() if m.params else None,
                "CID": {"/": str(m.cid())},
            },
            "MsgRct": None
            if rct is None
            else {
                "ExitCode": rct.exit_code,
                "Return": base64.b64encode(rct.return_value).decode() if rct.return_value else None,
                "GasUsed": rct.gas_used,
            },
            "Error": self.error,
            "GasCharges": [
                {"Name": g.name, "tg": g.total, "cg": g.compute, "sg": g.storage_units}
                for g in self.gas_charges
            ],
            "Subcalls": [s.to_json() for s in self.subcalls] or None,
        }


@dataclass
class ApplyRet:
    receipt: Receipt
    gas_outputs: GasOutputs
    trace: ExecutionTrace | None = None
    error: str = ""
