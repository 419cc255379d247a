"""BIP-39 mnemonics: which phrases are mnemonics (the node refuses others at start)."""

from __future__ import annotations

import hashlib
import random

import pytest

from chainvm.node.accounts import DEFAULT_MNEMONIC, WORDLIST_PATH, mnemonic_problem

# Vectors of BIP-39's reference implementation (trezor/python-mnemonic, vectors.json).
VALID = [
    DEFAULT_MNEMONIC,
    " ".join(["abandon"] * 11 + ["about"]),
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
    " ".join(["abandon"] * 17 + ["agent"]),
    " ".join(["zoo"] * 17 + ["when"]),
    " ".join(["abandon"] * 23 + ["art"]),
    " ".join(["zoo"] * 23 + ["vote"]),
    "  test test test test test test\ttest test test test test junk\n",  # as the seed splits
]


def test_the_word_list_is_bip39s() -> None:
    digest = hashlib.sha256(WORDLIST_PATH.read_bytes()).hexdigest()
    assert digest == "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"


@pytest.mark.parametrize("mnemonic", VALID)
def test_bip39_mnemonics_are_accepted(mnemonic: str) -> None:
    assert mnemonic_problem(mnemonic) is None


@pytest.mark.parametrize("mnemonic, words", [
    ("foo bar", "2 words"),
    ("", "0 words"),
    (" ".join(["abandon"] * 11 + ["about", "about"]), "13 words"),
    (" ".join(["test"] * 11 + ["junks"]), "'junks' is not in"),
    (" ".join(["TEST"] * 11 + ["junk"]), "'TEST' is not in"),
    (" ".join(["test"] * 11 + ["x" * 5000]), "'xxxxxxxxxxxxxxxxxxxx...' is not in"),
    (" ".join(["test"] * 12), "checksum"),
    (" ".join(["abandon"] * 12), "checksum"),
    ("zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong".replace("wrong", "zoo"), "checksum"),
    (" ".join(["zoo"] * 23 + ["art"]), "checksum"),
])
def test_other_phrases_are_refused_saying_why(mnemonic: str, words: str) -> None:
    problem = mnemonic_problem(mnemonic)
    assert problem is not None and words in problem and "\n" not in problem


def test_agrees_with_eth_account() -> None:
    """Random mnemonics of every length, and the same with one word changed."""
    mnemonic_module = pytest.importorskip("eth_account.hdaccount.mnemonic")
    oracle = mnemonic_module.Mnemonic()  # English
    rng = random.Random(7)
    for size in (16, 20, 24, 28, 32) * 40:
        words = oracle.to_mnemonic(rng.randbytes(size)).split()
        assert mnemonic_problem(" ".join(words)) is None
        words[rng.randrange(len(words))] = rng.choice(oracle.wordlist)
        changed = " ".join(words)
        assert (mnemonic_problem(changed) is None) == oracle.is_mnemonic_valid(changed)
