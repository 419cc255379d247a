"""A tiny assembler and the hand-written test contracts (no compiler needed).

`Store`: a one-slot store with an event and a custom error, in the shape solc
would produce for

    contract Store {
        uint256 value;                                 // slot 0
        event ValueSet(address indexed who, uint256 value);
        error Zero();
        function set(uint256 v) external {             // 0x60fe47b1
            if (v == 0) revert Zero();
            value = v;
            emit ValueSet(msg.sender, v);
        }
        function get() external view returns (uint256) { return value; }  // 0x6d4ce63c
        function fail(uint256) external { revert("no"); } // 0x... Error(string)
    }
"""

from __future__ import annotations

from chainvm.crypto import keccak256

OPS = {
    "STOP": 0x00, "ADD": 0x01, "SHL": 0x1B, "SHR": 0x1C, "EQ": 0x14, "ISZERO": 0x15,
    "CALLER": 0x33, "CALLDATALOAD": 0x35, "CODECOPY": 0x39, "MSTORE": 0x52, "SLOAD": 0x54,
    "SSTORE": 0x55, "JUMP": 0x56, "JUMPI": 0x57, "JUMPDEST": 0x5B, "DUP1": 0x80,
    "LOG2": 0xA2, "RETURN": 0xF3, "REVERT": 0xFD, "CALL": 0xF1, "GAS": 0x5A, "POP": 0x50,
}


Item = str | tuple[str, str] | tuple[str, int, int]


def assemble(program: list[Item]) -> bytes:
    """Items: an opcode name, ("push", int, size), ("label", name) or ("ref", name)
    (a PUSH2 of the label's offset)."""
    def size(item: Item) -> int:
        if isinstance(item, str):
            return 1
        if item[0] == "label":
            return 0
        if item[0] == "ref":
            return 3
        return 1 + int(item[2])  # type: ignore[misc]

    labels: dict[str, int] = {}
    pos = 0
    for item in program:
        if isinstance(item, tuple) and item[0] == "label":
            labels[str(item[1])] = pos
        pos += size(item)
    out = bytearray()
    for item in program:
        if isinstance(item, str):
            out.append(OPS[item])
        elif item[0] == "label":
            pass  # a position only; the program writes the JUMPDEST itself
        elif item[0] == "ref":
            out += bytes([0x61]) + labels[str(item[1])].to_bytes(2, "big")
        else:
            value, n = int(item[1]), int(item[2])  # type: ignore[misc]
            out += bytes([0x5F + n]) + value.to_bytes(n, "big")
    return bytes(out)


def push(value: int | bytes, n: int | None = None) -> tuple[str, int, int]:
    if isinstance(value, bytes):
        return ("push", int.from_bytes(value, "big"), len(value))
    return ("push", value, n or max(1, (value.bit_length() + 7) // 8))


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


VALUE_SET_TOPIC = keccak256(b"ValueSet(address,uint256)")
ZERO_ERROR = selector("Zero()")

STORE_RUNTIME = assemble([
    push(0), "CALLDATALOAD", push(0xE0), "SHR",                  # selector
    "DUP1", push(selector("set(uint256)")), "EQ", ("ref", "set"), "JUMPI",
    "DUP1", push(selector("get()")), "EQ", ("ref", "get"), "JUMPI",
    "DUP1", push(selector("fail(uint256)")), "EQ", ("ref", "fail"), "JUMPI",
    push(0), "DUP1", "REVERT",                                  # unknown selector
    ("label", "set"), "JUMPDEST",
    push(4), "CALLDATALOAD",                                    # v
    "DUP1", "ISZERO", ("ref", "zero"), "JUMPI",
    "DUP1", push(0), "SSTORE",                                  # value = v
    push(0), "MSTORE",                                          # mem[0] = v
    "CALLER", push(VALUE_SET_TOPIC), push(0x20), push(0), "LOG2",  # emit ValueSet
    "STOP",
    ("label", "zero"), "JUMPDEST",
    push(ZERO_ERROR), push(0xE0), "SHL", push(0), "MSTORE",   # Zero() selector at mem[0]
    push(4), push(0), "REVERT",
    ("label", "get"), "JUMPDEST",
    push(0), "SLOAD", push(0), "MSTORE", push(0x20), push(0), "RETURN",
    ("label", "fail"), "JUMPDEST",
    # Error("no"): selector, offset 0x20, length 2, "no"
    push(selector("Error(string)")), push(0xE0), "SHL", push(0), "MSTORE",
    push(0x20), push(4), "MSTORE",
    push(2), push(0x24), "MSTORE",
    push(int.from_bytes(b"no", "big") << 240, 32), push(0x44), "MSTORE",
    push(0x64), push(0), "REVERT",
])


def deployer(runtime: bytes) -> bytes:
    """Init code that returns `runtime`: CODECOPY it from after the 13-byte prefix."""
    n = len(runtime)
    init = assemble([push(n, 2), "DUP1", push(13, 2), push(0), "CODECOPY", push(0), "RETURN"])
    assert len(init) == 13
    return init + runtime


STORE_INIT = deployer(STORE_RUNTIME)

STORE_ABI: list[dict[str, object]] = [
    {"type": "function", "name": "set", "stateMutability": "nonpayable",
     "inputs": [{"name": "v", "type": "uint256"}], "outputs": []},
    {"type": "function", "name": "get", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "fail", "stateMutability": "nonpayable",
     "inputs": [{"name": "x", "type": "uint256"}], "outputs": []},
    {"type": "event", "name": "ValueSet", "anonymous": False,
     "inputs": [{"name": "who", "type": "address", "indexed": True},
                {"name": "value", "type": "uint256", "indexed": False}]},
    {"type": "error", "name": "Zero", "inputs": []},
]

# Calls Store.set(7) on the address in calldata[0:32] (to show nested frames in traces).
CALLER_RUNTIME = assemble([
    push(selector("set(uint256)")), push(0xE0), "SHL", push(0), "MSTORE",
    push(7), push(4), "MSTORE",
    push(0), push(0), push(0x24), push(0), push(0),           # out size/off, in size/off, value
    push(0), "CALLDATALOAD", "GAS", "CALL",                    # CALL(gas, addr, ...)
    push(0), "MSTORE", push(0x20), push(0), "RETURN",          # return the success flag
])
CALLER_INIT = deployer(CALLER_RUNTIME)
