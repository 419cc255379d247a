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
