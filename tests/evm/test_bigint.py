"""The precompiles' big-integer arithmetic: GMP through gmpy2, and plain ints without it."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from chainvm.evm import bigint
from chainvm.evm.precompiles import bn254, modexp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _modexp_input(base: int, exp: int, mod: int, size: int) -> bytes:
    lengths = b"".join(size.to_bytes(32, "big") for _ in range(3))
    return lengths + b"".join(v.to_bytes(size, "big") for v in (base, exp, mod))


def test_gmp_is_what_the_field_arithmetic_runs_on() -> None:
    """gmpy2 is a dependency: where it is installed, bn254's modulus is an mpz."""
    gmpy2 = pytest.importorskip("gmpy2")
    assert bigint.uses_gmp()
    assert type(bn254.P) is gmpy2.mpz
    assert bn254.P == 21888242871839275222246405745257275088696311157297823662689037894645226208583


@pytest.mark.parametrize("base,exponent,modulus", [
    (0, 0, 1), (5, 0, 1), (0, 0, 7), (0, 5, 7), (7, 0, 7), (2, 10, 1 << 64),
    (3, (1 << 255) - 1, (1 << 255) - 19), ((1 << 600) + 1, 3, 1 << 300),
])
def test_powmod_is_pow(base: int, exponent: int, modulus: int) -> None:
    got = bigint.powmod(base, exponent, modulus)
    assert type(got) is int
    assert got == pow(base, exponent, modulus)


def test_modexp_against_pow_at_random_sizes() -> None:
    rng = random.Random(0x6D70)
    for size in (1, 31, 32, 33, 64, 128, 256, 512):
        for _ in range(3):
            base, exp, mod = (rng.getrandbits(8 * size) for _ in range(3))
            out = modexp.run(_modexp_input(base, exp, mod, size))
            assert out == (pow(base, exp, mod).to_bytes(size, "big") if mod else bytes(size))


def test_gmpy2_loads_only_when_a_large_power_runs_on_it() -> None:
    """gmpy2's import (about 20 ms, a fifth of a `chainvm run`) is left to the first
    large modular power: a program without one never loads it; EXP of a 256-bit
    exponent, in the same process, does. (Left out of the run without gmpy2, as the
    other GMP-only test, by its name.)"""
    probe = (
        "import sys\n"
        "from chainvm.cli.main import main\n"
        "assert main(['run', '--code', '600260030a00']) == 0 and 'gmpy2' not in sys.modules\n"
        "assert main(['run', '--code', '7f' + 'ff' * 32 + '60030a00']) == 0\n"
        "assert 'gmpy2' in sys.modules\n")
    check = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           cwd=ROOT, check=False)
    assert check.returncode == 0, check.stderr


def test_precompile_suites_pass_without_gmpy2(tmp_path: Path) -> None:
    """The fallback: with gmpy2 unimportable, the same tests pass on plain ints."""
    (tmp_path / "gmpy2.py").write_text('raise ImportError("gmpy2 hidden by the test")\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tmp_path), env.get("PYTHONPATH")) if p)
    probe = ("from chainvm.evm import bigint; from chainvm.evm.precompiles import bn254; "
             "assert not bigint.uses_gmp() and type(bn254.P) is int")
    check = subprocess.run(
        [sys.executable, "-c", probe],
        env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    assert check.returncode == 0, check.stderr
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(HERE / "test_bn254.py"), str(HERE / "test_precompiles.py"),
         str(HERE / "test_bigint.py"), "-k", "not without_gmpy2 and not runs_on"],
        env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
