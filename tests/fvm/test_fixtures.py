"""Locating (and extracting) the test-vector corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainvm.fvm import vector


def test_env_var_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(vector.ENV_VAR, str(tmp_path))
    assert vector.fixtures_dir() == tmp_path
    assert vector.corpus_dir() == tmp_path / "corpus"


def test_extracts_into_fixture_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not vector.archive_path().is_file():
        pytest.skip(f"{vector.archive_path()} not found")
    monkeypatch.delenv(vector.ENV_VAR, raising=False)
    monkeypatch.setenv("CHAINVM_FIXTURE_CACHE", str(tmp_path / ".fixtures"))
    folder = vector.fixtures_dir()
    assert folder == tmp_path / ".fixtures" / "filecoin-test-vectors"
    assert (folder / "corpus" / "transfer" / "basic--ok--genesis.json").is_file()
    # nothing left over from the extraction
    assert [p.name for p in folder.iterdir()] == ["corpus"]


def test_archive_follows_chainvm_fixtures(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHAINVM_FIXTURES", str(tmp_path))
    assert vector.archive_path() == tmp_path / "filecoin-test-vectors" / "corpus.tar.xz"
    assert vector.target_list_path().parent == tmp_path / "filecoin-test-vectors"
