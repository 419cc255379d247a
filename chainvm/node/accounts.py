"""Dev accounts: BIP-39 seed from a mnemonic and BIP-32 derivation (m/44'/60'/0'/0/i).

The default mnemonic is the one hardhat and anvil use, so the first account is
0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 everywhere. These keys are public:
never use them for anything of value.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import unicodedata
from pathlib import Path

from coincurve import PublicKey

from chainvm.crypto import SECP256K1_N, private_key_to_address

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_PATH = "m/44'/60'/0'/0"
HARDENED = 0x80000000
# BIP-39's English word list (bitcoin/bips, bip-0039/english.txt; SHA-256 2f5eed53...dbda).
WORDLIST_PATH = Path(__file__).with_name("bip39_english.txt")
MNEMONIC_LENGTHS = (12, 15, 18, 21, 24)


@functools.cache
def _word_indexes() -> dict[str, int]:
    return {word: i for i, word in enumerate(WORDLIST_PATH.read_text("ascii").split())}


def mnemonic_problem(mnemonic: str) -> str | None:
    """Why `mnemonic` is not a BIP-39 mnemonic of the English list (None: it is): its
    words (split at whitespace, as the seed takes them) must number 12, 15, 18, 21 or
    24, each be in the list, and their last bits be the checksum of the others (the
    first bits of the SHA-256 of the entropy)."""
    words = mnemonic.split()
    if len(words) not in MNEMONIC_LENGTHS:
        return f"{len(words)} words; a BIP-39 mnemonic has 12, 15, 18, 21 or 24"
    indexes = _word_indexes()
    for word in words:
        if word not in indexes:
            shown = word if len(word) <= 20 else word[:20] + "..."
            return f"{shown!r} is not in the BIP-39 English word list"
    bits = 0
    for word in words:
        bits = bits << 11 | indexes[word]
    checksum_bits = len(words) // 3  # 11 bits a word: entropy + entropy/32 of checksum
    entropy = (bits >> checksum_bits).to_bytes((len(words) * 11 - checksum_bits) // 8, "big")
    if hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits) \
            != bits & ((1 << checksum_bits) - 1):
        return "its checksum does not match (a word is wrong or out of place)"
    return None


def mnemonic_to_seed(mnemonic: str, passphrase: str = "") -> bytes:
    """BIP-39: PBKDF2-HMAC-SHA512, 2048 rounds, salt "mnemonic" + passphrase (NFKD)."""
    words = unicodedata.normalize("NFKD", " ".join(mnemonic.split()))
    salt = unicodedata.normalize("NFKD", "mnemonic" + passphrase)
    return hashlib.pbkdf2_hmac("sha512", words.encode(), salt.encode(), 2048)


def _parse_path(path: str) -> list[int]:
    parts = path.split("/")
    if parts[0] != "m":
        raise ValueError(f"derivation path must start with m/: {path}")
    out = []
    for part in parts[1:]:
        hardened = part.endswith(("'", "h"))
        index = int(part.rstrip("'h"))
        out.append(index + HARDENED if hardened else index)
    return out


def derive_key(seed: bytes, path: str) -> bytes:
    """BIP-32 private key derivation along `path` from a seed."""
    return _derive(seed, _parse_path(path))[0]


def _derive(seed: bytes, indexes: list[int]) -> tuple[bytes, bytes]:
    """The private key and chain code at `indexes` below the seed's master key."""
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    key, chain_code = digest[:32], digest[32:]
    for index in indexes:
        key, chain_code = _child(key, chain_code, index)
    return key, chain_code


def _child(key: bytes, chain_code: bytes, index: int,
           public: bytes | None = None) -> tuple[bytes, bytes]:
    """BIP-32 child key derivation (`public`: the parent's compressed public key, when
    known, for a non-hardened index)."""
    if index >= HARDENED:
        data = b"\x00" + key + index.to_bytes(4, "big")
    else:
        if public is None:
            public = PublicKey.from_secret(key).format(compressed=True)
        data = public + index.to_bytes(4, "big")
    digest = hmac.new(chain_code, data, hashlib.sha512).digest()
    tweak = int.from_bytes(digest[:32], "big")
    child = (tweak + int.from_bytes(key, "big")) % SECP256K1_N
    if tweak >= SECP256K1_N or child == 0:
        raise ValueError("invalid child key; use the next index")
    return child.to_bytes(32, "big"), digest[32:]


# Dev accounts a node or TestChain derives and funds at start (100,000 take about 5 s
# here); `chainvm node --accounts` and TestChain(accounts=...) refuse more.
MAX_ACCOUNTS = 100_000


def dev_keys(count: int, mnemonic: str = DEFAULT_MNEMONIC,
             path: str = DEFAULT_PATH) -> list[tuple[bytes, bytes]]:
    """(address, private key) of the first `count` accounts below `path` (the parent key
    and its public key derived once: a node restarted with 2,000 accounts derives them
    in a third of the time)."""
    seed = mnemonic_to_seed(mnemonic)
    parent, chain_code = _derive(seed, _parse_path(path))
    public = PublicKey.from_secret(parent).format(compressed=True)
    out = []
    for i in range(count):
        key = _child(parent, chain_code, i, public)[0]
        out.append((private_key_to_address(key), key))
    return out


def checksum(address: bytes) -> str:
    """EIP-55 mixed-case hex."""
    from chainvm.crypto import keccak256

    plain = address.hex()
    digest = keccak256(plain.encode()).hex()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(plain, digest))
