"""Locating the shared conformance fixtures and extracting their archives once.

The archives live in ../shared/fixtures (relative to the project root) and
are never copied into the project; they are unpacked into a git-ignored
cache, `.fixtures/` at the project root, reused on later runs.
Override the locations with CHAINVM_FIXTURES (the folder holding
`ethereum-tests/`, `evm-benchmarks/`, ...) and CHAINVM_FIXTURE_CACHE.
A small sample of ethereum/tests state tests ships inside the package
(`chainvm/data/statetests`, MIT, see its NOTICE.md) for a bare install.
"""

from __future__ import annotations

import fcntl
import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

from chainvm.encoding.json_input import InputError


def _project_root() -> Path:
    """The source checkout this package runs from, or (when installed) the working directory."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").exists():
        return checkout
    return Path.cwd()


PROJECT_ROOT = _project_root()


def shared_fixtures() -> Path:
    env = os.environ.get("CHAINVM_FIXTURES")
    if env:
        return Path(env)
    return PROJECT_ROOT.parent / "shared" / "fixtures"


def cache_dir() -> Path:
    env = os.environ.get("CHAINVM_FIXTURE_CACHE")
    return Path(env) if env else PROJECT_ROOT / ".fixtures"


def ethereum_tests(name: str) -> Path | None:
    """Folder of the extracted `ethereum-tests/<name>.tar.xz` archive, or None if absent.

    An archive that cannot be read or a cache that cannot be written raises InputError
    (one line), and leaves no partial copy in the cache."""
    target = cache_dir() / name
    marker = cache_dir() / f".{name}.complete"
    if marker.exists() and target.is_dir():
        return target
    archive = shared_fixtures() / "ethereum-tests" / f"{name}.tar.xz"
    if not archive.exists():
        return target if target.is_dir() and any(target.iterdir()) else None
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        # Several processes (pytest-xdist workers) may ask at once: one extracts, the
        # others wait on the lock and then find the marker.
        with open(cache_dir() / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if marker.exists() and target.is_dir():
                return target
            _extract(archive, name, target)
            marker.touch()
    except OSError as exc:  # from the cache: the archive's own errors are named in _extract
        reason = "a file, or in one, not a folder" \
            if isinstance(exc, FileExistsError | NotADirectoryError) else exc.strerror or str(exc)
        raise InputError(f"fixture cache {cache_dir()} ($CHAINVM_FIXTURE_CACHE): cannot "
                         f"write there ({reason})") from None
    return target


def extract_all(tar: tarfile.TarFile, dest: str | Path) -> None:
    """`tar.extractall(dest)` with the "data" filter's guarantees: nothing lands outside
    `dest`, and only files, folders and links within it. CPython before 3.11.4 (which
    `requires-python` admits) has no extraction filters, so there the members are checked
    here first."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = Path(dest).resolve()

    def inside(path: Path) -> bool:
        return path == root or root in path.parents

    for member in tar.getmembers():
        where = (root / member.name).resolve()
        if not inside(where):
            raise tarfile.TarError(f"{member.name}: outside the extraction folder")
        if member.issym() or member.islnk():
            base = where.parent if member.issym() else root
            if not inside((base / member.linkname).resolve()):
                raise tarfile.TarError(f"{member.name}: links outside the extraction folder")
        elif not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"{member.name}: not a file, folder or link")
    tar.extractall(dest)


def _extract(archive: Path, name: str, target: Path) -> None:
    # Extract into a temporary folder, then rename: an interrupted run leaves no half tree.
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        try:
            with tarfile.open(archive) as tar:
                extract_all(tar, tmp)
        # A corrupt, empty or truncated archive fails in tarfile, or, read on past its
        # headers, in the decompressor (EOFError, LZMAError, zlib.error, OSError for bz2).
        except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
            # tarfile's ReadError lists each decompressor it tried: one line says enough.
            reason = "not a tar archive, or a damaged one" \
                if isinstance(exc, tarfile.ReadError) \
                else getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise InputError(f"fixture archive {archive}: cannot extract "
                             f"({reason.splitlines()[0]})") from None
        extracted = Path(tmp) / name
        if not extracted.is_dir():
            raise InputError(f"fixture archive {archive} does not unpack to a folder "
                             f"named {name}")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        extracted.rename(target)


def sample_state_tests() -> Path:
    """The small sample of ethereum/tests state tests shipped inside the package."""
    return Path(__file__).resolve().parents[1] / "data" / "statetests"


FIXTURES_HELP = (
    "Fixture archives (ethereum-tests/NAME.tar.xz) are read from $CHAINVM_FIXTURES "
    "(default: ../shared/fixtures beside the project) and extracted once into "
    "$CHAINVM_FIXTURE_CACHE (default: .fixtures/ in the project). Without them, "
    "`chainvm statetest` with no PATH runs the sample of ethereum/tests shipped with "
    "chainvm; the full suites: https://github.com/ethereum/tests (MIT).")


def missing_archive_message(name: str) -> str:
    """One line saying where an archive was looked for and how to get the data."""
    archive = shared_fixtures() / "ethereum-tests" / f"{name}.tar.xz"
    source = "CHAINVM_FIXTURES" if os.environ.get("CHAINVM_FIXTURES") else \
        "the default; set CHAINVM_FIXTURES to change it"
    return (f"fixture archive {name!r} not found: no {archive} ({source}) and no extracted "
            f"copy in {cache_dir() / name}; put the archive there, or run the state tests "
            "of a clone of https://github.com/ethereum/tests with `chainvm statetest PATH` "
            "(`chainvm statetest` with no PATH runs the bundled sample)")


def benchmarks_dir() -> Path | None:
    path = shared_fixtures() / "evm-benchmarks"
    return path if path.is_dir() else None
