"""The fixture cache is filled once even when several processes ask at once (pytest-xdist
workers collecting in a fresh clone): none may see another's half-written tree."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chainvm.testing.fixtures import shared_fixtures

READER = """
from chainvm.testing.fixtures import ethereum_tests
root = ethereum_tests("basic")
print(sum(len(p.read_bytes()) > 0 for p in root.rglob("*.json")))
"""


def test_concurrent_extraction_gives_every_process_the_whole_tree(tmp_path: Path) -> None:
    if not (shared_fixtures() / "ethereum-tests" / "basic.tar.xz").exists():
        pytest.skip("shared fixtures not found")
    env = dict(os.environ, CHAINVM_FIXTURE_CACHE=str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, "-c", READER], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    counts = {out.strip() for out, _ in results}
    assert len(counts) == 1 and int(counts.pop()) > 0


def _archive(path: Path, members: list[tuple[str, str, str]]) -> Path:
    """A tar of (name, kind, content or link target) members: kind file, dir or symlink."""
    import io
    import tarfile

    with tarfile.open(path, "w") as tar:
        for name, kind, content in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                data = content.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("filters", [True, False], ids=["with filters", "before 3.11.4"])
def test_extraction_keeps_members_inside_the_folder(tmp_path: Path, monkeypatch,
                                                    filters: bool) -> None:
    """extract_all gives the "data" filter's guarantees also on CPython before 3.11.4
    (no tarfile.data_filter, no filter argument): escaping names and links are refused."""
    import tarfile

    from chainvm.testing.fixtures import extract_all

    if not filters and hasattr(tarfile, "data_filter"):  # a newer CPython playing an older
        monkeypatch.delattr(tarfile, "data_filter")
        real = tarfile.TarFile.extractall

        def old_extractall(self, path=".", members=None, *, numeric_owner=False, **kw):
            assert not kw, "CPython before 3.11.4 takes no filter"
            return real(self, path, members, numeric_owner=numeric_owner,
                        filter="fully_trusted")

        monkeypatch.setattr(tarfile.TarFile, "extractall", old_extractall)
    good = _archive(tmp_path / "good.tar", [("set", "dir", ""), ("set/a.json", "file", "{}"),
                                            ("set/b.json", "symlink", "a.json")])
    with tarfile.open(good) as tar:
        extract_all(tar, tmp_path / "out")
    assert (tmp_path / "out" / "set" / "a.json").read_text() == "{}"
    for members in ([("../escape.json", "file", "{}")],
                    [("set", "dir", ""), ("set/link", "symlink", "/etc/passwd")],
                    [("set", "dir", ""), ("set/up", "symlink", "../../outside")]):
        bad = _archive(tmp_path / "bad.tar", members)
        with tarfile.open(bad) as tar, pytest.raises(tarfile.TarError):
            extract_all(tar, tmp_path / "refused")
    assert not (tmp_path / "escape.json").exists()


def _fixtures_cli(fixtures: Path, cache: Path, name: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CHAINVM_FIXTURES=str(fixtures), CHAINVM_FIXTURE_CACHE=str(cache))
    return subprocess.run([sys.executable, "-m", "chainvm.cli.main", "fixtures", name],
                          env=env, capture_output=True, text=True, check=False, timeout=300)


def _damaged_archives(folder: Path) -> list[str]:
    """Names of damaged archives in `folder`/ethereum-tests, some failing part-way through
    the extraction (a member already written)."""
    import io
    import lzma
    import random
    import tarfile

    def archive(name: str) -> bytes:
        raw = io.BytesIO()
        payload = random.Random(name).randbytes(50_000)  # incompressible: cuts fall in data
        with tarfile.open(fileobj=raw, mode="w:xz") as tar:
            for i in range(4):
                info = tarfile.TarInfo(f"{name}/{i}.json")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        return raw.getvalue()

    truncated, corrupt = archive("truncated"), archive("corrupt")
    middle = len(corrupt) // 2
    damaged = {"garbage": b"not an archive", "empty": b"", "not-a-tar": lzma.compress(b"x" * 99),
               "truncated": truncated[:len(truncated) * 3 // 4],  # EOFError
               "corrupt": corrupt[:middle] + bytes(b ^ 0x55 for b in corrupt[middle:middle + 16])
               + corrupt[middle + 16:]}  # LZMAError
    (folder / "ethereum-tests").mkdir(parents=True)
    for name, raw in damaged.items():
        (folder / "ethereum-tests" / f"{name}.tar.xz").write_bytes(raw)
    return list(damaged)


def test_damaged_archives_are_one_line_errors_and_leave_no_partial_copy(tmp_path: Path) -> None:
    from tests.cli.test_bad_input import assert_one_line_exit_2

    cache = tmp_path / "cache"
    for name in _damaged_archives(tmp_path / "fixtures"):
        out = _fixtures_cli(tmp_path / "fixtures", cache, name)
        assert_one_line_exit_2(out, f"{name}.tar.xz", "cannot extract")
        # only the locks stay: no folder, no marker, no temporary folder
        assert all(p.name.endswith(".lock") for p in cache.iterdir()), list(cache.iterdir())


def test_a_cache_that_is_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    from tests.cli.test_bad_input import assert_one_line_exit_2

    _damaged_archives(tmp_path / "fixtures")
    cache = tmp_path / "cache-file"
    cache.write_text("")
    for where in (cache, cache / "below"):
        assert_one_line_exit_2(_fixtures_cli(tmp_path / "fixtures", where, "empty"),
                               "CHAINVM_FIXTURE_CACHE", "not a folder")
