"""Decoding of JSON-RPC parameters, shared by every namespace.

A method declares what each positional parameter is with an annotation from this
module (`Address`, `Quantity`, `BlockRef`, ...); the dispatcher decodes the
parameters before the call and answers -32602 with a message naming the argument
(position and name) when one breaks its rule. Quantities are "0x" plus hex digits
without leading zeros; data is "0x" plus an even number of hex digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from chainvm.encoding.json_input import InputError
from chainvm.encoding.json_input import parse_data as strict_hex
from chainvm.evm.transaction import Authorization
from chainvm.node.devchain import CALL_ARG_BITS, CallArgs, NodeError, check_uint

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# Hex digits only: int(..., 16) alone would also take a sign ("0x-1"), underscores
# and surrounding blanks.
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")
MAX_QUANTITY_DIGITS = 64  # 256 bits


class InvalidParams(NodeError):
    def __init__(self, message: str) -> None:
        super().__init__(message, INVALID_PARAMS)


def parse_quantity(v: Any, what: str = "quantity", bits: int = 256) -> int:
    if not isinstance(v, str) or not v.startswith(("0x", "0X")):
        raise InvalidParams(f"{what}: expected a hex quantity string, got {_show(v)}")
    digits = v[2:]
    if not digits:
        raise InvalidParams(f"{what}: empty hex quantity")
    if len(digits) > 1 and digits[0] == "0":
        raise InvalidParams(f"{what}: hex quantity with leading zero digits")
    if len(digits) > MAX_QUANTITY_DIGITS or not _HEX_DIGITS.fullmatch(digits):
        if _HEX_DIGITS.fullmatch(digits):
            raise InvalidParams(f"{what}: quantity above {bits} bits")
        raise InvalidParams(f"{what}: invalid hex quantity {_show(v)}")
    n = int(digits, 16)
    if n >> bits:
        raise InvalidParams(f"{what}: quantity above {bits} bits")
    return n


def parse_number(v: Any, what: str = "number", bits: int = 64) -> int:
    """A hex quantity, or a plain JSON integer (hardhat-style clients send those)."""
    if isinstance(v, int) and not isinstance(v, bool):
        try:
            return check_uint(v, what, bits)
        except ValueError as exc:
            raise InvalidParams(str(exc)) from None
    return parse_quantity(v, what, bits)


def parse_data(v: Any, what: str = "data", size: int | None = None) -> bytes:
    if not isinstance(v, str) or not v.startswith(("0x", "0X")):
        raise InvalidParams(f"{what}: expected hex data, got {_show(v)}")
    digits = v[2:]
    if len(digits) % 2:
        raise InvalidParams(f"{what}: hex data of odd length")
    try:
        b = strict_hex(v)  # the fixtures' reader: hex digits only, no blanks
    except InputError:
        raise InvalidParams(f"{what}: invalid hex data") from None
    if size is not None and len(b) != size:
        raise InvalidParams(f"{what}: expected {size} bytes, got {len(b)}")
    return b


def parse_address(v: Any, what: str = "address") -> bytes:
    return parse_data(v, what, 20)


def parse_hash(v: Any, what: str = "hash") -> bytes:
    return parse_data(v, what, 32)


def parse_slot(v: Any, what: str = "storage slot") -> int:
    """Storage slots: clients send quantities or 32-byte words; accept both."""
    if isinstance(v, str) and len(v) == 66 and v.startswith(("0x", "0X")):
        return int.from_bytes(parse_data(v, what), "big")
    if isinstance(v, str) and v.startswith(("0x", "0X")) and len(v) <= 66 \
            and _HEX_DIGITS.fullmatch(v[2:]):
        return int(v, 0)
    raise InvalidParams(f"{what}: invalid {_show(v)}")


def parse_bool(v: Any, what: str = "flag") -> bool:
    if not isinstance(v, bool):
        raise InvalidParams(f"{what}: expected true or false, got {_show(v)}")
    return v


def parse_object(v: Any, what: str = "object") -> dict[str, Any]:
    if not isinstance(v, dict):
        raise InvalidParams(f"{what}: expected an object, got {_show(v)}")
    return v


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


# -- block references (tags, numbers, EIP-1898 objects) ---------------------------------------

BLOCK_TAGS = ("latest", "pending", "safe", "finalized", "earliest")


@dataclass(frozen=True)
class BlockId:
    """A block as a request names it: a tag, a number or (EIP-1898) a hash."""

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None

    @property
    def is_head(self) -> bool:
        """Names the head (or the pending block on top of it)."""
        return self.tag in ("latest", "pending", "safe", "finalized")


LATEST = BlockId(tag="latest")
PENDING = BlockId(tag="pending")


def parse_block_id(v: Any, what: str = "block") -> BlockId:
    if v is None:
        return LATEST
    if isinstance(v, str) and v in BLOCK_TAGS:
        return BlockId(tag=v)
    if isinstance(v, dict):
        if v.get("blockHash") is not None:
            if v.get("blockNumber") is not None:
                raise InvalidParams(f"{what}: blockHash and blockNumber both given")
            return BlockId(hash=parse_hash(v["blockHash"], f"{what}: blockHash"))
        if "blockNumber" in v:
            return parse_block_id(v["blockNumber"], what)
        raise InvalidParams(f"{what}: object without blockHash or blockNumber")
    if isinstance(v, str) and v.startswith(("0x", "0X")):
        if len(v) == 66:  # a block hash given bare, as geth's BlockNumberOrHash reads one
            return BlockId(hash=parse_hash(v, what))
        return BlockId(number=parse_quantity(v, what, 64))
    raise InvalidParams(f"{what}: expected a block number or one of "
                        f"{', '.join(BLOCK_TAGS)}, got {_show(v)}")


# -- annotations the dispatcher reads -----------------------------------------------------------


@dataclass(frozen=True)
class Decoder:
    """How the dispatcher turns one JSON value into the method's argument."""

    decode: Callable[[Any, str], Any]


def _raw(v: Any, what: str) -> Any:
    return v


Quantity = Annotated[int, Decoder(parse_quantity)]
Uint64 = Annotated[int, Decoder(lambda v, what: parse_quantity(v, what, 64))]
Number = Annotated[int, Decoder(parse_number)]
Data = Annotated[bytes, Decoder(parse_data)]
Address = Annotated[bytes, Decoder(parse_address)]
Hash = Annotated[bytes, Decoder(parse_hash)]
Slot = Annotated[int, Decoder(parse_slot)]
Bool = Annotated[bool, Decoder(parse_bool)]
Object = Annotated[dict[str, Any], Decoder(parse_object)]
BlockRef = Annotated[BlockId, Decoder(parse_block_id)]
Raw = Annotated[Any, Decoder(_raw)]


# -- transaction objects (eth_call, eth_estimateGas, eth_sendTransaction, debug_traceCall) -----

_CALL_QUANTITIES = tuple(
    (key, attr, CALL_ARG_BITS[attr]) for key, attr in (
        ("gas", "gas"), ("gasPrice", "gas_price"), ("maxFeePerGas", "max_fee_per_gas"),
        ("maxPriorityFeePerGas", "max_priority_fee_per_gas"), ("value", "value"),
        ("nonce", "nonce"), ("type", "tx_type"), ("chainId", "chain_id")))


def parse_call_args(v: Any, what: str = "transaction") -> CallArgs:
    obj = parse_object(v, what)
    args = CallArgs()
    if obj.get("from") is not None:
        args.sender = parse_address(obj["from"], f"{what}: from")
    if obj.get("to") is not None:
        args.to = parse_address(obj["to"], f"{what}: to")
    for key, attr, bits in _CALL_QUANTITIES:
        if obj.get(key) is not None:
            setattr(args, attr, parse_quantity(obj[key], f"{what}: {key}", bits))
    data, payload = obj.get("data"), obj.get("input")
    if data is not None and payload is not None and data != payload:
        raise InvalidParams(f"{what}: both data and input given, and they differ")
    payload = payload if payload is not None else data
    if payload is not None:
        args.data = parse_data(payload, f"{what}: input")
    access_list = obj.get("accessList")
    args.access_list_given = access_list is not None
    if access_list:
        if not isinstance(access_list, list):
            raise InvalidParams(f"{what}: accessList must be an array")
        for i, entry in enumerate(access_list):
            item = parse_object(entry, f"{what}: accessList[{i}]")
            keys = item.get("storageKeys") or []
            if not isinstance(keys, list):
                raise InvalidParams(f"{what}: accessList[{i}].storageKeys must be an array")
            args.access_list.append(
                (parse_address(item.get("address"), f"{what}: accessList[{i}].address"),
                 [parse_hash(k, f"{what}: accessList[{i}].storageKeys") for k in keys]))
    authorizations = obj.get("authorizationList")
    if authorizations:
        if not isinstance(authorizations, list):
            raise InvalidParams(f"{what}: authorizationList must be an array")
        for i, entry in enumerate(authorizations):
            args.authorization_list.append(
                parse_authorization(entry, f"{what}: authorizationList[{i}]"))
    return args


def parse_authorization(v: Any, what: str) -> Authorization:
    """An EIP-7702 authorization as clients send it: chainId, address, nonce, yParity (or
    v), r, s."""
    item = parse_object(v, what)
    parity = item.get("yParity", item.get("v"))
    if parity is None:
        raise InvalidParams(f"{what}: missing yParity")
    y = parse_quantity(parity, f"{what}: yParity", 8)
    if y in (27, 28):  # a legacy-style v
        y -= 27
    return Authorization(parse_quantity(item.get("chainId"), f"{what}: chainId"),
                         parse_address(item.get("address"), f"{what}: address"),
                         parse_quantity(item.get("nonce"), f"{what}: nonce", 64), y,
                         parse_quantity(item.get("r"), f"{what}: r"),
                         parse_quantity(item.get("s"), f"{what}: s"))


CallObject = Annotated[CallArgs, Decoder(parse_call_args)]
