import json

import pytest

from chainvm.state.trie import EMPTY_TRIE_ROOT, secure_trie_root, trie_root
from chainvm.testing.fixtures import ethereum_tests


def test_empty_root() -> None:
    assert trie_root({}) == EMPTY_TRIE_ROOT
    assert EMPTY_TRIE_ROOT.hex() == "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"


def test_known_small_trie() -> None:
    # From the yellow paper's example keys (ethereum/tests trietest "dogs").
    root = trie_root({b"doe": b"reindeer", b"dog": b"puppy", b"dogglesworth": b"cat"})
    assert root.hex() == "8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3"


def _decode(value: str | None) -> bytes:
    if value is None:
        return b""
    if value.startswith("0x"):
        return bytes.fromhex(value[2:])
    return value.encode()


def _trie_cases() -> list[tuple[str, str, dict]]:
    folder = ethereum_tests("basic")
    if folder is None:
        return []
    cases = []
    for path in sorted(folder.rglob("*.json")):
        if "trie" not in path.name.lower():
            continue
        for name, case in json.loads(path.read_text()).items():
            if "root" in case:  # next/prev iteration tests have no root to check
                cases.append((path.name, name, case))
    return cases


@pytest.mark.parametrize("file,name,case", _trie_cases() or [pytest.param(
    "", "", {}, marks=pytest.mark.skip(reason="basic fixtures not found (../shared/fixtures)"))])
def test_trie_fixtures(file: str, name: str, case: dict) -> None:
    pairs = case["in"].items() if isinstance(case["in"], dict) else case["in"]
    mapping: dict[bytes, bytes] = {}
    for key, value in pairs:
        k = _decode(key)
        v = _decode(value)
        if v:
            mapping[k] = v
        else:
            mapping.pop(k, None)
    if "secure" in file.lower():
        root = secure_trie_root(mapping)
    else:
        root = trie_root(mapping)
    assert "0x" + root.hex() == case["root"]
