"""Each fork's table must differ from its parent's exactly where its EIP patches say."""

from chainvm.evm.forks import FORK_ORDER, FORKS


def test_fork_order_and_parents() -> None:
    previous = None
    for ordinal, name in enumerate(FORK_ORDER):
        fork = FORKS[name]
        assert fork.ordinal == ordinal
        assert fork.parent is previous
        previous = fork


def test_tables_differ_from_parent_only_where_patched() -> None:
    for name in FORK_ORDER[1:]:
        fork = FORKS[name]
        parent = fork.parent
        assert parent is not None
        changed = {op for op in range(256) if fork.table.get(op) != parent.table.get(op)}
        declared: set[int] = set()
        for patch in fork.patches:
            assert patch.eip.startswith("EIP-"), f"{name}: every patch names its EIP"
            declared |= patch.opcodes
        assert changed == declared, f"{name}: changed {sorted(map(hex, changed))}"


def test_known_opcode_introductions() -> None:
    introduced = {
        0xF4: "Homestead", 0xFD: "Byzantium", 0xFA: "Byzantium", 0x3D: "Byzantium",
        0x1B: "Constantinople", 0xF5: "Constantinople", 0x3F: "Constantinople",
        0x46: "Istanbul", 0x47: "Istanbul", 0x48: "London", 0x5F: "Shanghai",
        0x5C: "Cancun", 0x5D: "Cancun", 0x5E: "Cancun", 0x49: "Cancun", 0x4A: "Cancun",
        0x1E: "Osaka",
    }
    for opcode, first in introduced.items():
        index = FORK_ORDER.index(first)
        for name in FORK_ORDER:
            present = opcode in FORKS[name].table
            assert present == (FORK_ORDER.index(name) >= index), (hex(opcode), name)


def test_static_gas_of_repriced_opcodes() -> None:
    sload = {"Frontier": 50, "EIP150": 200, "Istanbul": 800, "Berlin": 100}
    for name, gas in sload.items():
        assert FORKS[name].static_gas[0x54] == gas
    assert FORKS["Paris"].names[0x44] == "PREVRANDAO"
    assert FORKS["London"].names[0x44] == "DIFFICULTY"


def test_blob_schedules() -> None:
    # EIP-4844, EIP-7691 (Prague), EIP-7594's per-transaction cap (Osaka), BPO1/BPO2.
    expected = {"Cancun": (3, 6, 6), "Prague": (6, 9, 9), "Osaka": (6, 9, 6),
                "BPO1": (10, 15, 6), "BPO2": (14, 21, 6)}
    for name, (target, maximum, per_tx) in expected.items():
        fork = FORKS[name]
        assert (fork.blob_target, fork.blob_max, fork.max_blobs_per_tx) == (target, maximum, per_tx)
    assert FORKS["Shanghai"].blob_max == 0
