"""Keccak-256: chainvm.crypto's (the native build's C module where built, else
safe-pysha3) against safe-pysha3, on every length around the block size and on data given
in pieces; the C module's own checks when it is built (tests/test_native_build.py runs
this file in the native tree)."""

from __future__ import annotations

import random

import pytest
import sha3

from chainvm import crypto


def _reference(data: bytes) -> bytes:
    return sha3.keccak_256(data).digest()


def test_known_digests() -> None:
    assert crypto.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    assert crypto.EMPTY_KECCAK == crypto.keccak256(b"")


def test_every_length_around_the_block_and_in_pieces() -> None:
    rng = random.Random(136)
    lengths = [*range(3 * 136 + 2), 4095, 4096, 4097, 65_536, 1_000_003]
    for n in lengths:
        data = rng.randbytes(n)
        digest = _reference(data)
        assert crypto.keccak256(data) == digest, n
        assert crypto.keccak256(bytearray(data)) == digest
        assert crypto.keccak256(memoryview(data)[0:n]) == digest
        cuts = sorted(rng.randrange(n + 1) for _ in range(rng.randrange(6)))
        parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
        assert crypto.keccak256_parts(parts) == digest
        assert crypto.keccak256_parts(iter([bytearray(p) for p in parts])) == digest


def test_the_native_module_refuses_what_is_not_bytes() -> None:
    keccak = pytest.importorskip("chainvm._keccak", reason="not the native build")
    assert keccak.IMPLEMENTATION in ("bmi2", "baseline")
    assert crypto.keccak256 is keccak.keccak256
    for value in ("text", 5, None, [b"a"]):
        with pytest.raises(TypeError):
            keccak.keccak256(value)
    with pytest.raises(TypeError):
        keccak.keccak256_parts([b"a", "text"])
    with pytest.raises(TypeError):
        keccak.keccak256_parts(5)
    # a view keeps its bytearray from being resized while it is hashed, and after
    data = bytearray(10_000)
    view = memoryview(data)
    assert keccak.keccak256(view) == _reference(bytes(10_000))
    view.release()
    data += b"x"
    assert keccak.keccak256(data) == _reference(bytes(10_000) + b"x")
