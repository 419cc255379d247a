"""Random but meaningful EVM programs and transactions for differential testing.

A generated *case* is a plain JSON-able dict (the same shape as the saved
reproducers in tests/evm/regressions/)::

    {"fork": "Cancun",
     "env": {"coinbase": hex, "number": int, "timestamp": int, "gas_limit": int,
             "difficulty": int, "prev_randao": hex, "base_fee": int, "excess_blob_gas": int},
     "pre": {address_hex: {"nonce": int, "balance": int, "code": hex,
                           "storage": {slot_str: int}, "segments": [hex, ...]}},
     "tx": {"key": hex, "type": int, "to": hex | None, "nonce": int, "gas_limit": int,
            "value": int, "data": hex, "data_segments": [hex, ...] | absent,
            "gas_price": int | None, "max_fee_per_gas": ..., "max_priority_fee_per_gas": ...,
            "access_list": [[address_hex, [int, ...]]], "blob_versioned_hashes": [hex],
            "max_fee_per_blob_gas": int | None,
            "authorization_list": [{"chain_id", "address", "nonce", "y_parity", "r", "s"}]}}

Code is kept as a list of *segments*, each a stack-neutral, position-independent
snippet (jumps are PC-relative), so that the shrinker can drop any segment and
still have a program that runs. The transaction is signed when it is executed
(from "key"), so shrinking a transaction field keeps it valid; authorizations
are signed here, once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from chainvm.crypto import SECP256K1_N, keccak256, private_key_to_address, sign_hash
from chainvm.encoding.rlp import encode
from chainvm.evm.forks import FORK_ORDER

# Fork ordinals (chainvm's order; "Constantinople" and "ConstantinopleFix" both have 1014/1052).
ORD = {name: i for i, name in enumerate(FORK_ORDER)}
HOMESTEAD, EIP150, EIP158, BYZANTIUM = ORD["Homestead"], ORD["EIP150"], ORD["EIP158"], \
    ORD["Byzantium"]
CONSTANTINOPLE, ISTANBUL, BERLIN, LONDON = ORD["Constantinople"], ORD["Istanbul"], \
    ORD["Berlin"], ORD["London"]
PARIS, SHANGHAI, CANCUN, PRAGUE, OSAKA = ORD["Paris"], ORD["Shanghai"], ORD["Cancun"], \
    ORD["Prague"], ORD["Osaka"]

KEYS = [keccak256(b"chainvm-difftest-key-%d" % i) for i in range(6)]
KEY_ADDRESSES = [private_key_to_address(k) for k in KEYS]
CONTRACTS = [bytes.fromhex("c0de" + "00" * 16 + "%04x" % (i + 1)) for i in range(5)]
NOBODY = bytes.fromhex("dead" + "00" * 16 + "beef")  # never in the pre-state
DEFAULT_COINBASE = bytes.fromhex("c014ba5e" + "00" * 16)
DELEGATION_PREFIX = b"\xef\x01\x00"
U256_MAX = (1 << 256) - 1

# ---------------------------------------------------------------------------
# Precomputed valid precompile inputs (checked against py_ecc, ckzg and OpenSSL).

BN_G1 = (1, 2)
BN_2G1 = (0x030644E72E131A029B85045B68181585D97816A916871CA8D3C208C16D87CFD3,
          0x15ED738C0E0A7C92E7845F96B2AE9C0A68A6A449E3538FC7FF3EBF7A5A18A2C4)
BN_3G1 = (0x0769BF9AC56BEA3FF40232BCB1B6BD159315D84715B8E679F2D355961915ABF0,
          0x2AB799BEE0489429554FDB7C8D086475319E63B40B9C5B57CDF1FF3DD9FE2261)
BN_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
# G2 as the precompile wants it: x_im, x_re, y_im, y_re.
BN_G2 = (0x198E9393920D483A7260BFB731FB5D25F1AA493335A9E71297E485B7AEF312C2,
         0x1800DEEF121F1E76426A00665E5C4479674322D4F75EDADD46DEBD5CD992F6ED,
         0x090689D0585FF075EC9E99AD690C3395BC4B313370B38EF355ACDADCD122975B,
         0x12C85EA5DB8C6DEB4AAB71808DCB408FE3D1E7690C43D37B4CE6CC0166FA7DAA)
BLS_P = int("1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffff"
            "ffffaaab", 16)
BLS_G1 = (0x17F1D3A73197D7942695638C4FA9AC0FC3688C4F9774B905A14E3A3F171BAC586C55E83FF97A1AEFFB3AF00ADB22C6BB,
          0x08B3F481E3AAA0F1A09E30ED741D8AE4FCF5E095D5D00AF600DB18CB2C04B3EDD03CC744A2888AE40CAA232946C5E7E1)
BLS_5G1 = (0x10E7791FB972FE014159AA33A98622DA3CDC98FF707965E536D8636B5FCC5AC7A91A8C46E59A00DCA575AF0F18FB13DC,
           0x16BA437EDCC6551E30C10512367494BFB6B01CC6681E8A4C3CD2501832AB5C4ABC40B4578B85CBAFFBF0BCD70D67C6E2)
# G2 as (x.c0, x.c1, y.c0, y.c1).
BLS_G2 = (0x024AA2B2F08F0A91260805272DC51051C6E47AD4FA403B02B4510B647AE3D1770BAC0326A805BBEFD48056C8C121BDB8,
          0x13E02B6052719F607DACD3A088274F65596BD0D09920B61AB5DA61BBDC7F5049334CF11213945D57E5AC7D055D042B7E,
          0x0CE5D527727D6E118CC9CDC6DA2E351AADFD9BAA8CBDD3A76D429A695160D12C923AC9CC3BACA289E193548608B82801,
          0x0606C4A02EA734CC32ACD2B02BC28B99CB3E287E85A763AF267492AB572E99AB3F370D275CEC1DA1AAA9075FF05F79BE)
BLS_7G2 = (0x049CD1DBB2D2C3581E54C088135FEF36505A6823D61B859437BFC79B617030DC8B40E32BAD1FA85B9C0F368AF6D38D3C,
           0x0D0273F6BF31ED37C3B8D68083EC3D8E20B5F2CC170FA24B9B5BE35B34ED013F9A921F1CAD1644D4BDB14674247234C8,
           0x08B7AE4DBF802C17A6648842922C9467E460A71C88D393EE7AF356DA123A2F3619E80C3BDCC8E2B1DA52F8CD9913CCDD,
           0x05ECF93654B7A1885695AAEEB7CAF41B0239DC45E1022BE55D37111AF2AECEF87799638BEC572DE86A7437898EFA7020)
KZG_VALID = bytes.fromhex(
    "0185b3d80aac5bb2d5aa289be2a5e7a6a50009150c838c9a44162d4afb81f054"
    "0000000000000000000000000000000000000000000000000000000000003039"
    "4ee0b44137c8a7ad51649c98fcfc2f478512fbdc00e9bef51f979fdce0599f7e"
    "98cb856dc7ac7656a6c4b50c16ab4c5be3e2be7e6a12e6d99164c985e033cd4dc089d412a39e9809684b7def82f4aed9"
    "b874246ecdf3f7fcbf0d4fee31a1ff8af50c349b4c934580a2b547c445887fe01eea730d40405af61c34497181d7934d")
P256_VALID = bytes.fromhex(
    "1b465a54cf30cfe140fa3a792de14c43f41e4b4565e4536acbc35b7b357faa31"
    "01cf2994090f26e49d9d296dd7945948079687ffffdae58fefa439eef96cade5"
    "2555df7723734018aa5f75c4b4b0f059fcb9c91475b21c402812df0817784b8e"
    "fb50388f29498d0a93ad25ec4c34037b9d3cc3cca4787eb6fedabe2b3003eac8"
    "9f7765ca9d6288e6ff734f5cd08f3a5921cf54b21bb398b50ac0d2577fa07472")

INTERESTING = [0, 1, 2, 3, 7, 31, 32, 33, 255, 256, 0xFFFF, 1 << 63, (1 << 64) - 1, 1 << 128,
               (1 << 255) - 1, 1 << 255, U256_MAX, U256_MAX - 1, SECP256K1_N]


def w32(v: int) -> bytes:
    return (v & U256_MAX).to_bytes(32, "big")


def fp48(v: int) -> bytes:
    """A BLS12-381 field element in the EIP-2537 encoding (64 bytes, 16 zero bytes first)."""
    return v.to_bytes(64, "big")


class Gen:
    """Generation context for one case: the random source, the fork and the accounts."""

    def __init__(self, rng: random.Random, fork: str) -> None:
        self.rng = rng
        self.fork = fork
        self.ord = ORD[fork]
        self.contracts: list[bytes] = []
        self.eoas: list[bytes] = []
        self.delegated: list[bytes] = []
        self.self_index = 0
        self.depth = 0
        # A clean case avoids the common ways to halt exceptionally, so that execution gets
        # far and gas differences stay visible; the others go anywhere.
        self.clean = rng.random() < 0.6

    # -- values ----------------------------------------------------------------

    def value(self) -> int:
        r = self.rng.random()
        if r < 0.45:
            return self.rng.choice(INTERESTING)
        if r < 0.75:
            return self.rng.randrange(0, 300)
        if r < 0.9:
            return self.rng.getrandbits(self.rng.choice((8, 16, 32, 64, 160, 256)))
        return U256_MAX - self.rng.randrange(0, 300)

    def slot(self) -> int:
        return self.rng.randrange(0, 8) if self.rng.random() < 0.85 else self.rng.getrandbits(256)

    def offset(self) -> int:
        r = self.rng.random()
        if r < 0.9 or (self.clean and r < 0.985):
            return self.rng.randrange(0, 320)
        if r < 0.985 or self.clean:
            return self.rng.randrange(0, 0x3000)
        return self.rng.choice((1 << 32, 1 << 64, U256_MAX, 0x100000))

    def length(self) -> int:
        r = self.rng.random()
        if r < 0.85:
            return self.rng.randrange(0, 100)
        if r < 0.985 or self.clean:
            return self.rng.randrange(0, 0x1000)
        return self.rng.choice((1 << 32, U256_MAX, 0x100000))

    def address(self) -> bytes:
        r = self.rng.random()
        pool: list[bytes]
        if r < 0.45 and self.contracts:
            pool = self.contracts
        elif r < 0.6 and self.delegated:
            pool = self.delegated
        elif r < 0.75:
            pool = self.eoas or [NOBODY]
        elif r < 0.9:
            pool = [p.to_bytes(20, "big") for p in self.precompile_numbers()]
        else:
            pool = [NOBODY, DEFAULT_COINBASE, bytes(20), b"\xff" * 20]
        return self.rng.choice(pool)

    def call_target(self) -> bytes:
        """Mostly contracts later in the list, so that call graphs stay shallow."""
        later = [c for i, c in enumerate(self.contracts) if i > self.self_index]
        if later and self.rng.random() < 0.6:
            return self.rng.choice(later)
        return self.address()

    def precompile_numbers(self) -> list[int]:
        n = [1, 2, 3, 4]
        if self.ord >= BYZANTIUM:
            n += [5, 6, 7, 8]
        if self.ord >= ISTANBUL:
            n.append(9)
        if self.ord >= CANCUN:
            n.append(10)
        if self.ord >= PRAGUE:
            n += list(range(0x0B, 0x12))
        if self.ord >= OSAKA:
            n.append(0x100)
        return n

    # -- assembly ---------------------------------------------------------------

    def push(self, v: int) -> bytes:
        v &= U256_MAX
        if v == 0 and self.ord >= SHANGHAI and self.rng.random() < 0.6:
            return b"\x5f"
        n = max(1, (v.bit_length() + 7) // 8)
        if n < 32 and self.rng.random() < 0.05:
            n += 1  # a wider push than needed
        return bytes([0x5F + n]) + v.to_bytes(n, "big")

    def pushes(self, *values: int) -> bytes:
        """Push values so that the first ends on top of the stack."""
        return b"".join(self.push(v) for v in reversed(values))

    def sink(self) -> bytes:
        """Consume the value on top of the stack observably."""
        r = self.rng.random()
        if r < 0.65:
            return self.push(self.slot()) + b"\x55"  # SSTORE
        if r < 0.85:
            return self.push(self.rng.randrange(0, 256)) + b"\x52"  # MSTORE
        return b"\x50"  # POP

    def mem_fill(self, offset: int, data: bytes) -> bytes:
        """MSTORE `data` at `offset` in 32-byte words (padding the last with zeros)."""
        out = b""
        for i in range(0, len(data), 32):
            chunk = data[i:i + 32].ljust(32, b"\x00")
            out += b"\x7f" + chunk + self.push(offset + i) + b"\x52"
        return out


# ---------------------------------------------------------------------------
# Snippets: each returns stack-neutral, position-independent bytecode.

ARITH_BINARY = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0A, 0x0B, 0x10, 0x11, 0x12, 0x13,
                0x14, 0x16, 0x17, 0x18, 0x1A]
ARITH_TERNARY = [0x08, 0x09]
ARITH_UNARY = [0x15, 0x19]
ENV_NULLARY = [0x30, 0x32, 0x33, 0x34, 0x36, 0x38, 0x3A, 0x41, 0x42, 0x43, 0x44, 0x45, 0x58, 0x59,
               0x5A]


def snip_arith(g: Gen) -> bytes:
    ops = list(ARITH_BINARY)
    if g.ord >= CONSTANTINOPLE:
        ops += [0x1B, 0x1C, 0x1D] * 2
    r = g.rng.random()
    if r < 0.15:
        op = g.rng.choice(ARITH_TERNARY)
        code = g.pushes(g.value(), g.value(), g.value()) + bytes([op])
    elif r < 0.3:
        unary = list(ARITH_UNARY) + ([0x1E] * 3 if g.ord >= OSAKA else [])
        code = g.push(g.value()) + bytes([g.rng.choice(unary)])
    else:
        code = g.pushes(g.value(), g.value()) + bytes([g.rng.choice(ops)])
    return code + g.sink()


def snip_env(g: Gen) -> bytes:
    ops = list(ENV_NULLARY)
    if g.ord >= BYZANTIUM:
        ops.append(0x3D)
    if g.ord >= ISTANBUL:
        ops += [0x46, 0x47]
    if g.ord >= LONDON:
        ops.append(0x48)
    if g.ord >= CANCUN:
        ops.append(0x4A)
    r = g.rng.random()
    if r < 0.45:
        code = bytes([g.rng.choice(ops)])
    elif r < 0.6:
        code = g.push(int.from_bytes(g.address(), "big")) + bytes(
            [g.rng.choice([0x31, 0x3B] + ([0x3F] if g.ord >= CONSTANTINOPLE else []))])
    elif r < 0.7:
        code = g.push(g.rng.choice((0, 1, 5, 1000, 999, 744, 745, 1001, 1 << 64))) + b"\x40"
    elif r < 0.8:
        code = g.push(g.rng.choice((0, 1, 4, 31, 32, 64, U256_MAX))) + b"\x35"  # CALLDATALOAD
    elif r < 0.88 and g.ord >= CANCUN:
        code = g.push(g.rng.choice((0, 1, 2, 5, U256_MAX))) + b"\x49"  # BLOBHASH
    elif r < 0.95:
        code = g.push(g.slot()) + b"\x54"  # SLOAD
    else:
        code = g.push(g.offset()) + b"\x51"  # MLOAD
    return code + g.sink()


def snip_keccak(g: Gen) -> bytes:
    off = g.rng.randrange(0, 128) if g.rng.random() < 0.9 else g.offset()
    size = g.rng.choice((0, 1, 32, 64, g.rng.randrange(0, 200))) if g.rng.random() < 0.95 \
        else g.length()
    return g.pushes(off, size) + b"\x20" + g.sink()


def snip_copy(g: Gen) -> bytes:
    choices = [0x37, 0x39, 0x3C]
    if g.ord >= BYZANTIUM:
        choices.append(0x3E)
    if g.ord >= CANCUN:
        choices.append(0x5E)
    op = g.rng.choice(choices)
    dest = g.offset() if g.rng.random() < 0.3 else g.rng.randrange(0, 256)
    src = g.rng.randrange(0, 64) if g.rng.random() < 0.8 else g.value()
    size = g.length() if g.rng.random() < 0.3 else g.rng.randrange(0, 70)
    if op == 0x3C:
        code = g.pushes(int.from_bytes(g.address(), "big"), dest, src, size) + b"\x3c"
    elif op == 0x3E and (g.clean or g.rng.random() < 0.5):
        code = b"\x3d" + g.push(0) + g.push(dest) + b"\x3e"  # copy all the return data
    else:
        code = g.pushes(dest, src, size) + bytes([op])
    code += g.push(dest if dest < 0x10000 else 0) + b"\x51" + g.sink()
    return code


def snip_mem(g: Gen) -> bytes:
    r = g.rng.random()
    off = g.offset()
    if r < 0.5:
        return g.pushes(off, g.value()) + b"\x52"
    if r < 0.8:
        return g.pushes(off, g.value()) + b"\x53"
    return g.push(off) + b"\x51" + g.sink()


def snip_storage(g: Gen) -> bytes:
    r = g.rng.random()
    slot = g.slot()
    if r < 0.5:
        return g.pushes(slot, g.value() if g.rng.random() < 0.7 else 0) + b"\x55"
    if r < 0.75:  # write, then write back zero or another value (refund patterns)
        return (g.pushes(slot, g.value()) + b"\x55"
                + g.pushes(slot, g.rng.choice((0, 0, 1, g.value()))) + b"\x55")
    return g.push(slot) + b"\x54" + g.push(g.slot()) + b"\x55"


def snip_transient(g: Gen) -> bytes:
    if g.ord < CANCUN:
        return snip_storage(g)
    slot = g.slot()
    if g.rng.random() < 0.5:
        return g.pushes(slot, g.value()) + b"\x5d"
    return g.push(slot) + b"\x5c" + g.sink()


def snip_log(g: Gen) -> bytes:
    n = g.rng.randrange(0, 5)
    topics = [g.value() for _ in range(n)]
    off = g.rng.randrange(0, 128) if g.rng.random() < 0.9 else g.offset()
    size = g.rng.randrange(0, 64) if g.rng.random() < 0.9 else g.length()
    pre = g.pushes(g.rng.randrange(0, 128), g.value()) + b"\x52" if g.rng.random() < 0.5 else b""
    return pre + g.pushes(off, size, *topics) + bytes([0xA0 + n])


def _call_gas(g: Gen) -> bytes:
    r = g.rng.random()
    if r < 0.3:
        return b"\x5a"  # GAS: all that is left
    if r < 0.4 and g.ord >= EIP150:
        return g.push(U256_MAX)
    return g.push(g.rng.choice((0, 1, 100, 2300, 2600, 5000, 10000, 30000, 60000, 100000, 300000)))


def call_code(g: Gen, target: bytes, args_off: int, args_size: int, ret_off: int,
              ret_size: int) -> bytes:
    """A call of a random kind from the fork's CALL family; leaves the success flag."""
    kinds = [0xF1, 0xF1, 0xF2]
    if g.ord >= HOMESTEAD:
        kinds.append(0xF4)
    if g.ord >= BYZANTIUM:
        kinds.append(0xFA)
    op = g.rng.choice(kinds)
    code = g.push(ret_size) + g.push(ret_off) + g.push(args_size) + g.push(args_off)
    if op in (0xF1, 0xF2):
        value = 0 if g.rng.random() < 0.6 else g.rng.choice((1, 2, 1000, 10**18, U256_MAX))
        code += g.push(value)
    code += g.push(int.from_bytes(target, "big")) + _call_gas(g) + bytes([op])
    return code


def snip_call(g: Gen) -> bytes:
    target = g.call_target()
    pre = b""
    if g.rng.random() < 0.5:
        pre = g.mem_fill(0, g.rng.randbytes(g.rng.randrange(1, 70)))
    code = pre + call_code(g, target, g.rng.randrange(0, 64), g.rng.randrange(0, 80),
                           g.rng.randrange(0, 128), g.rng.randrange(0, 64))
    code += g.sink()
    if g.ord >= BYZANTIUM and g.rng.random() < 0.5:
        code += b"\x3d" + g.sink()
    return code


def precompile_input(g: Gen, number: int) -> bytes:
    rng = g.rng
    malformed = rng.random() < 0.3
    if number == 1:
        msg = rng.randbytes(32)
        v, r, s = sign_hash(msg, rng.choice(KEYS))
        data = msg + w32(v + 27) + w32(r) + w32(s)
        if malformed:
            data = rng.choice((data[:100], msg + w32(29) + w32(r) + w32(s),
                               msg + w32(v + 27) + w32(0) + w32(s), data + b"\x01"))
        return data
    if number in (2, 3, 4):
        return rng.randbytes(rng.randrange(0, 100))
    if number == 5:
        bsize = rng.choice((0, 1, 2, 32, 33, 64, rng.randrange(0, 100)))
        esize = rng.choice((0, 1, 2, 32, 33, rng.randrange(0, 40)))
        msize = rng.choice((0, 1, 2, 32, 33, 64, rng.randrange(0, 100)))
        if malformed:
            big = rng.choice((1025, 1 << 32, (1 << 256) - 1, (1 << 256) - 96, 1 << 255))
            which = rng.randrange(3)
            if which == 0:
                bsize = big
            elif which == 1:
                esize = big
            else:
                msize = big
        body = rng.randbytes(rng.randrange(0, 120))
        return w32(bsize) + w32(esize) + w32(msize) + body
    if number == 6:
        pts = [BN_G1, BN_2G1, BN_3G1, (0, 0), (BN_P - 1, 7) if malformed else BN_G1]
        a, b = rng.choice(pts), rng.choice(pts)
        data = w32(a[0]) + w32(a[1]) + w32(b[0]) + w32(b[1])
        return data[:rng.randrange(0, 128)] if malformed and rng.random() < 0.3 else data
    if number == 7:
        p = rng.choice([BN_G1, BN_2G1, (0, 0)] + ([(1, 3)] if malformed else []))
        data = w32(p[0]) + w32(p[1]) + w32(g.value())
        return data[:rng.randrange(0, 96)] if malformed and rng.random() < 0.3 else data
    if number == 8:
        bn_g2 = b"".join(w32(x) for x in BN_G2)
        pair = w32(BN_G1[0]) + w32(BN_G1[1]) + bn_g2
        neg = w32(BN_G1[0]) + w32(BN_P - BN_G1[1]) + bn_g2
        # Pairings are slow in both implementations (pure-Python py_ecc in the specs).
        data = rng.choice((b"", b"", b"", pair, pair + neg, pair + pair, neg + pair))
        if malformed:
            data = rng.choice((data + b"\x00", pair[:100], w32(1) + w32(3) + bn_g2))
        return data
    if number == 9:
        rounds = rng.choice((0, 1, 2, 12, rng.randrange(0, 30)))
        data = rounds.to_bytes(4, "big") + rng.randbytes(64 + 128 + 16)
        data += bytes([rng.choice((0, 1))])
        if malformed:
            data = rng.choice((data[:-1], data + b"\x00", data[:-1] + b"\x02"))
        return data
    if number == 10:
        if malformed:
            bad = bytearray(KZG_VALID)
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            return bytes(bad) if rng.random() < 0.7 else KZG_VALID[:rng.randrange(192)]
        return KZG_VALID
    if number == 0x100:
        if malformed:
            bad = bytearray(P256_VALID)
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            return bytes(bad) if rng.random() < 0.7 else P256_VALID[:rng.randrange(160)]
        return P256_VALID
    # BLS12-381 (EIP-2537)
    g1: list[bytes] = [fp48(BLS_G1[0]) + fp48(BLS_G1[1]), fp48(BLS_5G1[0]) + fp48(BLS_5G1[1]), bytes(128)]
    g2: list[bytes] = [b"".join(fp48(x) for x in BLS_G2), b"".join(fp48(x) for x in BLS_7G2), bytes(256)]
    if malformed:
        g1.append(fp48(BLS_G1[0]) + fp48(BLS_G1[1] + 1))
        g1.append(fp48(BLS_P) + fp48(1))
        g2.append(b"".join(fp48(x) for x in BLS_G2[:3]) + fp48(BLS_G2[3] ^ 1))
    scalar = w32(rng.choice((0, 1, 2, 5, g.value())))
    if number == 0x0B:
        data = rng.choice(g1) + rng.choice(g1)
    elif number == 0x0C:
        data = b"".join(rng.choice(g1) + scalar for _ in range(rng.randrange(1, 4)))
    elif number == 0x0D:
        data = rng.choice(g2) + rng.choice(g2)
    elif number == 0x0E:
        data = b"".join(rng.choice(g2) + scalar for _ in range(rng.randrange(1, 3)))
    elif number == 0x0F:
        data = b"".join(rng.choice(g1) + rng.choice(g2) for _ in range(rng.randrange(1, 3)))
    elif number == 0x10:
        data = fp48(rng.randrange(0, BLS_P + (10 if malformed else 0)))
    else:
        data = fp48(rng.randrange(0, BLS_P)) + fp48(rng.randrange(0, BLS_P + (10 if malformed else 0)))
    if malformed and rng.random() < 0.3:
        data = data[:rng.randrange(0, len(data) + 1)] + (b"\x00" if rng.random() < 0.3 else b"")
    return data


def snip_precompile(g: Gen) -> bytes:
    number = g.rng.choice(g.precompile_numbers())
    data = precompile_input(g, number)
    base = 0x100
    code = g.mem_fill(base, data)
    out_off = g.rng.choice((0, 0x20, base))
    code += call_code(g, number.to_bytes(20, "big"), base, len(data), out_off,
                      g.rng.choice((0, 32, 64, 128)))
    code += g.sink() + g.push(out_off) + b"\x51" + g.sink()
    if g.ord >= BYZANTIUM and g.rng.random() < 0.6:
        code += b"\x3d" + g.sink()
    return code


def runtime_code(g: Gen) -> bytes:
    """Code for a contract created at run time."""
    r = g.rng.random()
    if r < 0.1:
        return b""
    if r < 0.15 and g.ord >= LONDON:
        return b"\xef" + g.rng.randbytes(g.rng.randrange(0, 4))  # EIP-3541: rejected
    if r < 0.2:
        return g.rng.randbytes(g.rng.randrange(1, 40))
    saved = g.depth
    g.depth += 1
    segs = program(g, g.rng.randrange(1, 4))
    if g.rng.random() < 0.25:  # self-destruct when called (EIP-6780 decides what is left)
        segs[-1] = g.push(int.from_bytes(g.address(), "big")) + b"\xff"
    g.depth = saved
    return b"".join(segs)


def init_code(g: Gen, runtime: bytes | None = None) -> list[bytes]:
    """Init code as segments: some work, then RETURN the runtime code (or fail)."""
    if runtime is None:
        runtime = runtime_code(g)
    saved = g.depth
    g.depth += 1
    body = program(g, g.rng.randrange(0, 3), terminate=False) if g.depth < 3 else []
    g.depth = saved
    r = g.rng.random()
    if r < 0.08 and g.ord >= BYZANTIUM:
        tail = g.pushes(g.rng.randrange(0, 64), g.rng.randrange(0, 40)) + b"\xfd"
        return body + [tail]
    if r < 0.12:
        return body + [b"\xfe"]
    if r < 0.15:  # too large a contract (EIP-170 from Spurious Dragon)
        return body + [b"\x61\x60\x01\x60\x00\xf3"]
    # CODECOPY(0, start, len); RETURN(0, len) with fixed-width pushes so the length is known.
    n = len(runtime)
    tail_len = 3 + 3 + 2 + 1 + 3 + 2 + 1  # PUSH2 n, PUSH2 start, PUSH1 0, CODECOPY, PUSH2, PUSH1, RET
    start = sum(len(s) for s in body) + tail_len
    tail = (b"\x61" + n.to_bytes(2, "big") + b"\x61" + start.to_bytes(2, "big") + b"\x60\x00\x39"
            + b"\x61" + n.to_bytes(2, "big") + b"\x60\x00\xf3")
    # The runtime sits after the tail; keep it in the last segment so shrinking keeps it attached.
    return body + [tail + runtime]


def snip_create(g: Gen) -> bytes:
    if g.depth >= 2:
        return snip_storage(g)
    segs = init_code(g)
    # Recompute the copy offset: init code is used whole here.
    init = b"".join(segs)
    base = 0x200
    code = g.mem_fill(base, init)
    value = 0 if g.rng.random() < 0.7 else g.rng.choice((1, 10**18, U256_MAX))
    size = len(init) if g.rng.random() < 0.95 else g.rng.choice((0, len(init) + 5, 49153))
    if g.ord >= CONSTANTINOPLE and g.rng.random() < 0.5:
        salt = g.rng.choice((0, 1, g.value()))
        code += g.pushes(value, base, size, salt) + b"\xf5"
    else:
        code += g.pushes(value, base, size) + b"\xf0"
    if g.rng.random() < 0.5:  # call what was created
        code += b"\x80" + g.push(g.slot()) + b"\x55"  # DUP1, SSTORE
        code += g.pushes(0, 0, 0, 0, 0)  # value(0) argsOff argsSize retOff retSize, reversed order
        code += b"\x85" + _call_gas(g) + b"\xf1" + g.sink() + b"\x50"
    else:
        code += g.sink()
    return code


def snip_create_twice(g: Gen) -> bytes:
    """The same creation twice (CREATE2: a collision), maybe calling the first in between.

    Calling the first copy may run its SELFDESTRUCT, which decides (EIP-6780) whether the
    second creation collides.
    """
    if g.depth >= 2:
        return snip_storage(g)
    segs = init_code(g)
    init = b"".join(segs)
    base = 0x200
    code = g.mem_fill(base, init)
    salt = g.rng.choice((0, 1, g.value()))
    use_create2 = g.ord >= CONSTANTINOPLE and g.rng.random() < 0.8

    def create() -> bytes:
        if use_create2:
            return g.pushes(0, base, len(init), salt) + b"\xf5"
        return g.pushes(0, base, len(init)) + b"\xf0"

    code += create()
    if g.rng.random() < 0.7:  # call it: [addr] -> [addr]
        code += g.pushes(0, 0, 0, 0, 0) + b"\x85" + _call_gas(g) + b"\xf1" + g.sink()
    code += g.push(g.slot()) + b"\x55"
    code += create() + g.push(g.slot()) + b"\x55"
    return code


def snip_control(g: Gen) -> bytes:
    r = g.rng.random()
    if r < 0.5:  # conditional skip over a body
        body = b"".join(program(g, g.rng.randrange(1, 3), terminate=False, cheap=True))
        cond = g.push(g.rng.choice((0, 1, g.value())))
        k = 5 + len(body)
        if k < 256:
            jump = b"\x58\x60" + bytes([k]) + b"\x01\x57"
        else:
            k += 1
            jump = b"\x58\x61" + k.to_bytes(2, "big") + b"\x01\x57"
        return cond + jump + body + b"\x5b"
    if r < 0.85:  # a small counted loop
        body = b"".join(program(g, g.rng.randrange(1, 3), terminate=False, cheap=True))
        n = g.rng.randrange(1, 6)
        k = 6 + len(body)
        if k >= 256:
            return body
        return (g.push(n) + b"\x5b" + body + b"\x60\x01\x90\x03\x80" + b"\x58\x60" + bytes([k])
                + b"\x90\x03\x57\x50")
    if g.clean:
        return snip_arith(g)
    # A jump to a bad destination: an exceptional halt.
    return g.push(g.rng.choice((0, 1, 3, 1 << 40))) + b"\x56"


def snip_jump(g: Gen) -> bytes:
    """A forward jump over junk, or (not clean) a jump into PUSH data that holds 0x5b."""
    if g.clean or g.rng.random() < 0.6:
        junk = g.rng.randbytes(g.rng.randrange(0, 12)).replace(b"\x5b", b"\xfe")
        junk = bytes(b if not 0x60 <= b <= 0x7F else 0xFE for b in junk)
        return b"\x58\x60" + bytes([5 + len(junk)]) + b"\x01\x56" + junk + b"\x5b"
    return b"\x58\x60\x06\x01\x56\x60\x5b\x5b"  # lands on the 0x5b inside PUSH1 0x5b


def snip_stack(g: Gen) -> bytes:
    """Deep stacks: DUP/SWAP at depth 16, or (not clean) an overflow past 1024 items."""
    if not g.clean and g.rng.random() < 0.3:
        n = g.rng.choice((1023, 1024, 1025, 1030))
        return g.push(1) * n + b"\x50" * n
    n = g.rng.randrange(16, 20)
    code = b"".join(g.push(g.value()) for _ in range(n))
    code += bytes([0x8F, 0x9F, 0x80 + g.rng.randrange(16), 0x90 + g.rng.randrange(16)])
    code += g.push(g.slot()) + b"\x55"  # store the top
    return code + b"\x50" * n


def snip_raw(g: Gen) -> bytes:
    """Random opcodes with a few pushed operands: anything goes."""
    n = g.rng.randrange(0, 4)
    return b"".join(g.push(g.value()) for _ in range(n)) + bytes([g.rng.randrange(0, 256)])


def terminator(g: Gen) -> bytes:
    r = g.rng.random()
    if g.clean and (g.self_index <= 0 or g.rng.random() < 0.7):
        r *= 0.75  # STOP, RETURN, REVERT or SELFDESTRUCT: no exceptional halt
    if r < 0.25:
        return b"\x00"
    if r < 0.5:
        return g.pushes(g.rng.randrange(0, 64), g.rng.choice((0, 1, 32, 64, 100))) + b"\xf3"
    if r < 0.65 and g.ord >= BYZANTIUM:
        return g.pushes(g.rng.randrange(0, 64), g.rng.choice((0, 1, 32, 64))) + b"\xfd"
    if r < 0.75:
        return g.push(int.from_bytes(g.address(), "big")) + b"\xff"
    if r < 0.8:
        return b"\xfe"
    if r < 0.85:
        return bytes([g.rng.choice((0x0C, 0x21, 0x4F, 0xA5, 0xEF, 0xFB))])
    if r < 0.9:
        return b"\x01"  # stack underflow
    return b""  # fall off the end


SNIPPETS: list[tuple[Callable[[Gen], bytes], float, bool]] = [
    (snip_arith, 3.0, True), (snip_env, 3.0, True), (snip_copy, 1.0, True),
    (snip_mem, 1.0, True), (snip_storage, 2.5, True), (snip_transient, 1.0, True),
    (snip_log, 1.0, True), (snip_call, 2.0, False), (snip_precompile, 1.5, False),
    (snip_create, 1.0, False), (snip_control, 1.0, False), (snip_raw, 0.3, True),
    (snip_jump, 0.4, True), (snip_stack, 0.3, True), (snip_keccak, 0.8, True),
    (snip_create_twice, 0.5, False),
]


def program(g: Gen, n: int, terminate: bool = True, cheap: bool = False) -> list[bytes]:
    table = [(f, w) for f, w, c in SNIPPETS
             if (c or not cheap) and not (g.clean and f is snip_raw)]
    if g.depth >= 3:
        table = [(f, w) for f, w in table
                 if f not in (snip_control, snip_create, snip_create_twice)]
    funcs = [f for f, _ in table]
    weights = [w for _, w in table]
    segs = [g.rng.choices(funcs, weights)[0](g) for _ in range(n)]
    if terminate:
        segs.append(terminator(g))
    return segs


# ---------------------------------------------------------------------------
# Transactions and cases.

def sign_authorization(key: bytes, chain_id: int, address: bytes, nonce: int) -> dict[str, Any]:
    digest = keccak256(b"\x05" + encode([chain_id, address, nonce]))
    y, r, s = sign_hash(digest, key)
    return {"chain_id": chain_id, "address": address.hex(), "nonce": nonce, "y_parity": y,
            "r": r, "s": s}


def _authorizations(g: Gen, pre: dict[str, dict[str, Any]], sender_index: int) -> list[dict]:
    rng = g.rng
    auths = []
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        ki = rng.randrange(len(KEYS))
        authority = KEY_ADDRESSES[ki]
        acct = pre.get(authority.hex())
        nonce = acct["nonce"] if acct else 0
        if ki == sender_index:
            nonce += 1  # the sender's nonce is bumped before authorizations are applied
        r = rng.random()
        if r < 0.1:
            nonce += rng.choice((1, -1 if nonce else 2))
        elif r < 0.13:
            nonce = (1 << 64) - 1
        nonce = min(nonce, (1 << 64) - 1)  # wider would not even decode
        chain_id = 1 if rng.random() < 0.8 else rng.choice((0, 0, 2, (1 << 64) + 1, U256_MAX))
        r = rng.random()
        if r < 0.6 and g.contracts:
            target = rng.choice(g.contracts)
        elif r < 0.7:
            target = bytes(20)
        elif r < 0.8:
            target = rng.choice(g.precompile_numbers()).to_bytes(20, "big")
        else:
            target = rng.choice(KEY_ADDRESSES + [NOBODY])
        auth = sign_authorization(KEYS[ki], chain_id, target, nonce)
        r = rng.random()
        if r < 0.04:
            auth["s"] = SECP256K1_N - auth["s"]
            auth["y_parity"] ^= 1
        elif r < 0.07:
            auth["r"] = 0
        elif r < 0.1:
            auth["y_parity"] = 2
        elif r < 0.14:
            auth["r"] = rng.getrandbits(256) % SECP256K1_N
        auths.append(auth)
    return auths


def _account(nonce: int, balance: int, code: bytes = b"", segments: list[bytes] | None = None,
             storage: dict[int, int] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"nonce": nonce, "balance": balance, "code": code.hex(),
                           "storage": {str(k): v for k, v in (storage or {}).items() if v}}
    if segments is not None:
        out["segments"] = [s.hex() for s in segments]
    return out


def generate_case(fork: str, rng: random.Random) -> dict[str, Any]:
    g = Gen(rng, fork)
    o = g.ord
    pre: dict[str, dict[str, Any]] = {}
    n_contracts = rng.randrange(1, 5)
    g.contracts = CONTRACTS[:n_contracts]
    g.eoas = list(KEY_ADDRESSES)
    sender_index = rng.randrange(3)
    sender = KEY_ADDRESSES[sender_index]
    # EOAs: all keys exist (nonzero balance) except sometimes a few.
    for i, addr in enumerate(KEY_ADDRESSES):
        if i != sender_index and rng.random() < 0.2:
            continue
        nonce = rng.choice((0, 0, 1, 2, 5))
        balance = 10**20 if rng.random() < 0.95 else rng.randrange(1, 10**6)
        code = b""
        if o >= PRAGUE and i != sender_index and rng.random() < 0.3:
            code = DELEGATION_PREFIX + rng.choice(g.contracts + [NOBODY, rng.choice(KEY_ADDRESSES),
                                                                 (1).to_bytes(20, "big")])
            g.delegated.append(addr)
        pre[addr.hex()] = _account(nonce, balance, code)
    if o >= PRAGUE and rng.random() < 0.1:  # a sender already delegated (allowed by 7702)
        pre[sender.hex()]["code"] = (DELEGATION_PREFIX + rng.choice(g.contracts)).hex()
    for i, addr in enumerate(g.contracts):
        g.self_index = i
        segs = program(g, rng.randrange(2, 12))
        storage = {rng.randrange(0, 8): g.value() for _ in range(rng.randrange(0, 4))}
        pre[addr.hex()] = _account(rng.choice((0, 1)), rng.choice((0, 1, 10**18)) or 1,
                                   b"".join(segs), segs, storage)
    g.self_index = -1
    if rng.random() < 0.015:  # EIP-3607: a sender with code
        pre[sender.hex()]["code"] = "6000"
    # Environment.
    base_fee = rng.choice((0, 1, 7, 1000, 10**9)) if o >= LONDON else 0
    excess = rng.choice((0, 0, 0, 1, 10**6, 10**7, 10**8)) if o >= CANCUN else 0
    env: dict[str, Any] = {
        "coinbase": rng.choice([DEFAULT_COINBASE] * 4 + [sender, CONTRACTS[0], NOBODY,
                                                         (1).to_bytes(20, "big")]).hex(),
        "number": rng.choice((1, 1000, 10**6)),
        "timestamp": rng.choice((1000, 10**9)),
        "gas_limit": 30_000_000 if rng.random() < 0.97 else rng.choice((100_000, 2_000_000)),
        "difficulty": 0x20000 if o < PARIS else 0,
        "prev_randao": rng.randbytes(32).hex(),
        "base_fee": base_fee,
        "excess_blob_gas": excess,
    }
    # Transaction.
    types = [0, 0]
    if o >= BERLIN:
        types.append(1)
    if o >= LONDON:
        types += [2, 2]
    if o >= CANCUN:
        types.append(3)
    if o >= PRAGUE:
        types += [4, 4]
    tx_type = rng.choice(types)
    r = rng.random()
    data = b""
    data_segments: list[bytes] | None = None
    if r < 0.72:
        to: bytes | None = g.contracts[0] if rng.random() < 0.75 else rng.choice(g.contracts)
        data = rng.randbytes(rng.choice((0, 0, 4, 36, 100)))
    elif r < 0.82:
        to = None
        data_segments = init_code(g)
        data = b"".join(data_segments)
    elif r < 0.87:
        to = rng.choice(g.eoas + [NOBODY])
    elif r < 0.93:
        number = rng.choice(g.precompile_numbers())
        to = number.to_bytes(20, "big")
        data = precompile_input(g, number)
    else:
        to = rng.choice(g.delegated or g.contracts)
    if rng.random() < 0.1:
        data += bytes(rng.randrange(0, 200))  # zero bytes: cheap intrinsic gas, EIP-7623 floor
    nonce = pre[sender.hex()]["nonce"]
    if rng.random() < 0.04:
        nonce += rng.choice((1, -1 if nonce else 1))
    elif rng.random() < 0.01:
        nonce = (1 << 64) - 1
        pre[sender.hex()]["nonce"] = nonce
    zeros = data.count(0)
    intrinsic = 21000 + 4 * zeros + (16 if o >= ISTANBUL else 68) * (len(data) - zeros)
    if to is None:
        intrinsic += 32000 + 2 * ((len(data) + 31) // 32)
    r = rng.random()
    if r < 0.05:
        gas = intrinsic - rng.randrange(1, 100)
    elif r < 0.12:
        gas = intrinsic + rng.randrange(0, 3000)
    elif r < 0.25:
        gas = intrinsic + rng.randrange(3000, 30_000)
    elif r < 0.7:
        gas = intrinsic + rng.randrange(20_000, 400_000)
    elif r < 0.95:
        gas = intrinsic + rng.randrange(400_000, 3_000_000)
    else:
        gas = rng.choice((env["gas_limit"] + 1, (1 << 24), (1 << 24) + 1, 29_000_000))
    tx: dict[str, Any] = {
        "key": KEYS[sender_index].hex(), "type": tx_type, "to": to.hex() if to else None,
        "nonce": nonce, "gas_limit": max(gas, 0), "value": 0, "data": data.hex(),
        "gas_price": None, "max_fee_per_gas": None, "max_priority_fee_per_gas": None,
        "access_list": [], "blob_versioned_hashes": [], "max_fee_per_blob_gas": None,
        "authorization_list": [],
    }
    if data_segments is not None:
        tx["data_segments"] = [s.hex() for s in data_segments]
    if rng.random() < 0.3:
        tx["value"] = rng.choice((1, 1000, 10**18)) if rng.random() < 0.93 else 10**21
    priority = rng.choice((0, 1, 2, 10**9))
    if tx_type in (0, 1):
        tx["gas_price"] = base_fee + priority if rng.random() < 0.96 else max(base_fee - 1, 0)
    else:
        max_fee = base_fee + priority + rng.choice((0, 0, 5))
        if rng.random() < 0.04:
            max_fee = max(base_fee - 1, 0)
        tx["max_fee_per_gas"] = max_fee
        tx["max_priority_fee_per_gas"] = priority if rng.random() < 0.96 else max_fee + 1
    if tx_type >= 1 and rng.random() < 0.5:
        entries = []
        for _ in range(rng.randrange(0, 4)):
            addr = g.address()
            entries.append([addr.hex(), [g.slot() for _ in range(rng.randrange(0, 3))]])
        tx["access_list"] = entries
    if tx_type == 3:
        limit = 6 if o >= OSAKA else 9 if o >= PRAGUE else 6
        count = rng.choice((1, 1, 2, limit, limit + 1 if rng.random() < 0.2 else 1,
                            0 if rng.random() < 0.2 else 1))
        hashes = [b"\x01" + rng.randbytes(31) for _ in range(count)]
        if hashes and rng.random() < 0.05:
            hashes[0] = b"\x02" + hashes[0][1:]
        tx["blob_versioned_hashes"] = [h.hex() for h in hashes]
        tx["max_fee_per_blob_gas"] = rng.choice((1, 2, 10**3, 10**9))
        if tx["to"] is None and rng.random() < 0.9:
            tx["to"] = g.contracts[0].hex()
    if tx_type == 4:
        tx["authorization_list"] = _authorizations(g, pre, sender_index) \
            if rng.random() < 0.97 else []
        if tx["to"] is None and rng.random() < 0.9:
            tx["to"] = g.contracts[0].hex()
    if rng.random() < 0.15:
        _collision_account(g, pre, tx)
    return {"fork": fork, "env": env, "pre": pre, "tx": tx}


def create_address(sender: bytes, nonce: int) -> bytes:
    return keccak256(encode([sender, nonce]))[12:]


def _collision_account(g: Gen, pre: dict[str, dict[str, Any]], tx: dict[str, Any]) -> None:
    """Put an account where a creation will land: a collision, or only a balance."""
    rng = g.rng
    if tx["to"] is None:
        where = create_address(private_key_to_address(bytes.fromhex(tx["key"])), tx["nonce"])
    else:
        creator = rng.choice(g.contracts)
        where = create_address(creator, pre[creator.hex()]["nonce"])
    kind = rng.choice(("balance", "nonce", "code", "storage"))
    if kind == "balance":
        pre[where.hex()] = _account(0, rng.choice((1, 10**18)))
    elif kind == "nonce":
        pre[where.hex()] = _account(1, 0)
    elif kind == "code":
        pre[where.hex()] = _account(0, 0, b"\x00")
    else:  # EIP-7610: storage alone makes a collision
        pre[where.hex()] = _account(0, 0, storage={1: 1})
