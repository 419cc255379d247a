import hashlib

import pytest

from chainvm.crypto import private_key_to_address, sign_hash
from chainvm.evm.errors import PrecompileFailure
from chainvm.evm.forks import get_fork
from chainvm.evm.precompiles import basic, kzg, modexp


def test_precompile_sets_per_fork() -> None:
    def count(name: str) -> int:
        return len(get_fork(name).precompiles)

    assert count("Frontier") == 4
    assert count("Byzantium") == 8
    assert count("Istanbul") == 9
    assert count("Cancun") == 10


def test_ecrecover_recovers_signer() -> None:
    secret = bytes.fromhex("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8")
    msg = hashlib.sha256(b"chainvm").digest()
    v, r, s = sign_hash(msg, secret)
    data = msg + (27 + v).to_bytes(32, "big") + r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert basic.ecrecover(data) == bytes(12) + private_key_to_address(secret)
    bad_v = msg + (29).to_bytes(32, "big") + r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert basic.ecrecover(bad_v) == b""
    assert basic.ecrecover(b"") == b""


def test_hash_precompiles_and_prices() -> None:
    assert basic.sha256(b"") == hashlib.sha256(b"").digest()
    assert basic.ripemd160(b"").hex() == "0" * 24 + "9c1185a5c5e9fc54612808977ee8f548b2258d31"
    assert basic.identity(b"abc") == b"abc"
    assert basic.sha256_gas(b"x" * 33) == 60 + 24
    assert basic.ripemd160_gas(b"x" * 32) == 720
    assert basic.identity_gas(b"") == 15


def _modexp_input(base: int, exp: int, mod: int, size: int = 32) -> bytes:
    return (size.to_bytes(32, "big") * 3 + base.to_bytes(size, "big") + exp.to_bytes(size, "big")
            + mod.to_bytes(size, "big"))


def test_modexp() -> None:
    data = _modexp_input(3, 0xFFFF, 2**255 - 19)
    assert int.from_bytes(modexp.run(data), "big") == pow(3, 0xFFFF, 2**255 - 19)
    assert modexp.run(_modexp_input(3, 5, 0)) == bytes(32)
    assert modexp.run(bytes(96)) == b""
    # EIP-2565: minimum price 200; EIP-198 price for the same input.
    assert modexp.gas_eip2565(_modexp_input(3, 1, 5)) == 200
    assert modexp.gas_eip198(_modexp_input(3, 0xFFFF, 7)) == 32 * 32 * 15 // 20


def test_modexp_huge_lengths_do_not_allocate() -> None:
    data = (2**255).to_bytes(32, "big") * 3
    assert modexp.gas_eip2565(data) > 2**64  # priced out long before any work


def test_blake2f_eip152_vector() -> None:
    # EIP-152 test vector 5 (12 rounds of BLAKE2b over "abc").
    iv = [0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
          0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179]
    h = [iv[0] ^ 0x01010040] + iv[1:]  # digest length 64, no key
    data = ((12).to_bytes(4, "big") + b"".join(w.to_bytes(8, "little") for w in h)
            + b"abc".ljust(128, b"\x00") + (3).to_bytes(8, "little") + bytes(8) + b"\x01")
    assert basic.blake2f_gas(data) == 12
    assert basic.blake2f(data).hex() == (
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de"
        "4533cc9518d38aa8dbf1925ab92386edd4009923")
    with pytest.raises(PrecompileFailure):
        basic.blake2f(data[:-1] + b"\x02")
    with pytest.raises(PrecompileFailure):
        basic.blake2f(data[:-1])


def test_choosing_a_fork_leaves_the_blake2_library_unimported() -> None:
    """Building a fork's precompile set must not import blake2b-py (it cost every process
    about 0.6 ms); the first BLAKE2F call does. A fresh interpreter, so that other tests'
    imports do not count."""
    import subprocess
    import sys

    script = ("import sys; from chainvm.evm.forks import get_fork; "
              "get_fork('Osaka').precompiles; print('blake2b' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_kzg_point_evaluation() -> None:
    import ckzg

    setup = kzg.trusted_setup()
    blob = b"".join((i * 7919).to_bytes(32, "big") for i in range(4096))
    commitment = ckzg.blob_to_kzg_commitment(blob, setup)
    z = (12345).to_bytes(32, "big")
    proof, y = ckzg.compute_kzg_proof(blob, z, setup)
    data = kzg.kzg_to_versioned_hash(commitment) + z + y + commitment + proof
    out = kzg.point_evaluation(data)
    assert int.from_bytes(out[:32], "big") == 4096
    assert int.from_bytes(out[32:], "big") == kzg.BLS_MODULUS
    wrong_y = (int.from_bytes(y, "big") ^ 1).to_bytes(32, "big")
    with pytest.raises(PrecompileFailure):
        kzg.point_evaluation(data[:64] + wrong_y + data[96:])
    with pytest.raises(PrecompileFailure):
        kzg.point_evaluation(bytes(32) + data[32:])
