"""EIP-712 typed structured data: the digest `eth_signTypedData_v4` signs.

digest = keccak256(0x19 0x01 || hashStruct(EIP712Domain, domain) || hashStruct(primaryType,
message)), where hashStruct(T, v) = keccak256(typeHash(T) || the 32-byte encodings of v's
fields in T's order): atomic values as ABI words, `string`/`bytes` as their keccak, arrays
as the keccak of their items' encodings, nested structs as their hashStruct.
"""

from __future__ import annotations

import re
from typing import Any

from chainvm.crypto import keccak256
from chainvm.node.limits import load_json

# The domain fields EIP-712 defines, in the order its type lists them.
DOMAIN_FIELDS = (("name", "string"), ("version", "string"), ("chainId", "uint256"),
                 ("verifyingContract", "address"), ("salt", "bytes32"))

_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


class TypedDataError(ValueError):
    """Typed data that does not follow EIP-712 (missing types, bad values)."""


def _fields(types: dict[str, Any], name: str) -> list[dict[str, str]]:
    fields = types.get(name)
    if not isinstance(fields, list):
        raise TypedDataError(f"type {name!r} is not defined")
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) \
                or not isinstance(f.get("type"), str):
            raise TypedDataError(f"type {name!r}: each field needs a name and a type")
    return fields


def _utf8(text: str, what: str) -> bytes:
    # JSON's \ud800 escapes decode to lone surrogates, which UTF-8 cannot hold.
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise TypedDataError(f"{what}: not valid Unicode (a lone surrogate)") from None


def _base(type_name: str) -> str:
    m = _ARRAY.match(type_name)
    return _base(m.group(1)) if m else type_name


def _dependencies(types: dict[str, Any], name: str, found: set[str]) -> None:
    if name in found or name not in types:
        return
    found.add(name)
    for f in _fields(types, name):
        _dependencies(types, _base(f["type"]), found)


def encode_type(types: dict[str, Any], primary: str) -> str:
    """`Name(type1 field1,...)` of the primary type, then its struct dependencies sorted."""
    deps: set[str] = set()
    _dependencies(types, primary, deps)
    deps.discard(primary)
    out = []
    for name in [primary, *sorted(deps)]:
        members = ",".join(f"{f['type']} {f['name']}" for f in _fields(types, name))
        out.append(f"{name}({members})")
    return "".join(out)


def _int_value(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise TypedDataError(f"{what}: expected a number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.lower().startswith(("0x", "-0x")) else int(value)
        except ValueError:
            pass
    raise TypedDataError(f"{what}: not a number: {value!r}")


def _bytes_value(value: Any, what: str) -> bytes:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    elif isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value)
    raise TypedDataError(f"{what}: not hex bytes: {value!r}")


def encode_value(types: dict[str, Any], type_name: str, value: Any, what: str) -> bytes:
    """The 32-byte word one field contributes to hashStruct."""
    if type_name in types:
        if not isinstance(value, dict):
            raise TypedDataError(f"{what}: expected an object for {type_name}")
        return hash_struct(types, type_name, value, what)
    m = _ARRAY.match(type_name)
    if m:
        if not isinstance(value, list):
            raise TypedDataError(f"{what}: expected an array for {type_name}")
        if m.group(2) and len(value) != int(m.group(2)):
            raise TypedDataError(f"{what}: {type_name} needs {m.group(2)} items")
        return keccak256(b"".join(encode_value(types, m.group(1), v, f"{what}[{i}]")
                                  for i, v in enumerate(value)))
    if type_name == "string":
        if not isinstance(value, str):
            raise TypedDataError(f"{what}: expected a string")
        return keccak256(_utf8(value, what))
    if type_name == "bytes":
        return keccak256(_bytes_value(value, what))
    if type_name == "bool":
        if isinstance(value, str):
            value = {"true": True, "false": False}.get(value, value)
        if not isinstance(value, bool):
            raise TypedDataError(f"{what}: expected a boolean")
        return int(value).to_bytes(32, "big")
    if type_name == "address":
        raw = _bytes_value(value, what)
        if len(raw) != 20:
            raise TypedDataError(f"{what}: an address has 20 bytes")
        return raw.rjust(32, b"\x00")
    for prefix, signed in (("uint", False), ("int", True)):
        if type_name.startswith(prefix) and type_name[len(prefix):].isdigit():
            bits = int(type_name[len(prefix):])
            n = _int_value(value, what)
            low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
            if not low <= n < high:
                raise TypedDataError(f"{what}: {n} out of range for {type_name}")
            return (n % (1 << 256)).to_bytes(32, "big")
    if type_name.startswith("bytes") and type_name[5:].isdigit():
        size = int(type_name[5:])
        raw = _bytes_value(value, what)
        if not 1 <= size <= 32 or len(raw) > size:
            raise TypedDataError(f"{what}: too long for {type_name}")
        return raw.ljust(32, b"\x00")
    raise TypedDataError(f"{what}: unknown type {type_name!r}")


def hash_struct(types: dict[str, Any], name: str, data: dict[str, Any], what: str = "message"
                ) -> bytes:
    words = [keccak256(_utf8(encode_type(types, name), f"type {name!r}"))]
    for f in _fields(types, name):
        if f["name"] not in data:
            raise TypedDataError(f"{what}: missing field {f['name']!r} of {name}")
        words.append(encode_value(types, f["type"], data[f["name"]],
                                  f"{what}.{f['name']}"))
    return keccak256(b"".join(words))


def typed_data_digest(payload: Any) -> bytes:
    """The digest to sign for an EIP-712 payload (an object or its JSON text)."""
    if isinstance(payload, str):
        # The node's bounded parser: the text escaped the body's depth check, and a
        # deeply nested one overflowed json.loads's recursion.
        try:
            payload = load_json(payload.encode("utf-8", "surrogatepass"))
        except ValueError as exc:  # JSONDecodeError, JsonShapeError
            raise TypedDataError(f"typed data is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise TypedDataError("typed data must be an object")
    types = payload.get("types")
    domain = payload.get("domain") or {}
    primary = payload.get("primaryType")
    message = payload.get("message")
    if not isinstance(types, dict) or not isinstance(primary, str) \
            or not isinstance(message, dict) or not isinstance(domain, dict):
        raise TypedDataError("typed data needs types, primaryType, domain and message")
    types = dict(types)
    if "EIP712Domain" not in types:
        types["EIP712Domain"] = [{"name": n, "type": t} for n, t in DOMAIN_FIELDS
                                 if n in domain]
    domain_hash = hash_struct(types, "EIP712Domain", domain, "domain")
    if primary == "EIP712Domain":
        return keccak256(b"\x19\x01" + domain_hash)
    return keccak256(b"\x19\x01" + domain_hash + hash_struct(types, primary, message))
