"""eth_getProof, checked with the `trie` package's proof verifier as an oracle."""

from __future__ import annotations

import pytest

from chainvm.crypto import keccak256
from chainvm.encoding.rlp import decode
from chainvm.node.devchain import DevChain
from chainvm.node.rpc import Rpc

trie = pytest.importorskip("trie")


def test_get_proof_verifies() -> None:
    from trie import HexaryTrie

    dev = DevChain(accounts=5)
    a = dev.accounts[0]
    for i in range(40):
        dev.set_storage(a, i, i * 7 + 1)
    dev.mine()  # commit the edits into a block whose header carries the root
    rpc = Rpc(dev)
    head = rpc.call("eth_getBlockByNumber", "latest", False)
    assert head is not None
    root = bytes.fromhex(head["stateRoot"][2:])
    p = rpc.call("eth_getProof", "0x" + a.hex(), ["0x3", "0x1000"], "latest")
    proof = [decode(bytes.fromhex(n[2:])) for n in p["accountProof"]]
    account = decode(HexaryTrie.get_from_proof(root, keccak256(a), proof))
    assert account[1] == int(p["balance"], 16).to_bytes(len(account[1]), "big")
    storage_hash = bytes.fromhex(p["storageHash"][2:])
    assert account[2] == storage_hash
    found, missing = p["storageProof"]
    value = HexaryTrie.get_from_proof(storage_hash, keccak256((3).to_bytes(32, "big")),
                                      [decode(bytes.fromhex(n[2:])) for n in found["proof"]])
    assert decode(value) == (22).to_bytes(1, "big") and found["value"] == hex(22)
    absent = HexaryTrie.get_from_proof(storage_hash, keccak256((0x1000).to_bytes(32, "big")),
                                       [decode(bytes.fromhex(n[2:])) for n in missing["proof"]])
    assert absent == b"" and missing["value"] == "0x0"
    # An account that does not exist: a proof of absence.
    nobody = b"\x42" * 20
    p = rpc.call("eth_getProof", "0x" + nobody.hex(), [], "latest")
    proof = [decode(bytes.fromhex(n[2:])) for n in p["accountProof"]]
    assert HexaryTrie.get_from_proof(root, keccak256(nobody), proof) == b""


def test_storage_keys_come_back_in_the_form_asked() -> None:
    """As geth answers: a key given as a 32-byte word comes back as one, any other as a
    quantity (anvil's answer for a word is the same)."""
    dev = DevChain(accounts=1)
    rpc = Rpc(dev)
    word = "0x" + "00" * 31 + "03"
    p = rpc.call("eth_getProof", "0x" + dev.accounts[0].hex(), [word, "0x3", "0x03"], "latest")
    assert [e["key"] for e in p["storageProof"]] == [word, "0x3", "0x3"]
