"""Keccak-256 of the native build (chainvm/_keccak.c); chainvm.crypto imports it."""

from collections.abc import Iterable
from typing import Final

IMPLEMENTATION: Final[str]  # "bmi2" or "baseline": the permutation chosen at import

def keccak256(data: bytes | bytearray | memoryview, /) -> bytes: ...
def keccak256_parts(parts: Iterable[bytes | bytearray | memoryview], /) -> bytes: ...
