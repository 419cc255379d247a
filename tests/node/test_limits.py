"""The request bounds of chainvm.node.limits: JSON shape before parsing, and the
watchdog that ends time-limited work without touching anything after it."""

from __future__ import annotations

import sys
import threading

import pytest

from chainvm.node.limits import ExecutionTimeout, JsonShapeError, Watchdog, load_json


@pytest.mark.parametrize("body", [
    b"[" * 65 + b"]" * 65,
    b"[" * 1_000_000,  # unbalanced: refused before the parser recurses
    b'{"a":' * 100 + b"1" + b"}" * 100,
    # Brackets inside strings must not hide the real nesting.
    b'["]",' * 100 + b"1" + b"]" * 100,
    b'[' + b'"' + b'\\"]' * 50 + b'",' + b"[" * 70 + b"]" * 70 + b"]",
])
def test_deep_json_is_refused_before_parsing(body: bytes) -> None:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(10**6)  # as py_ecc leaves it: the parser alone would overflow
    try:
        with pytest.raises(JsonShapeError, match="nested deeper"):
            load_json(body)
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.parametrize("body, value", [
    (b"[" * 64 + b"]" * 64, None),
    (b'["[[[[[[", "]]]]"]', ["[[[[[[", "]]]]"]),
    (b'{"id": ' + b"9" * 80 + b"}", {"id": int("9" * 80)}),
    (b"[1.5, -2, 0]", [1.5, -2, 0]),
])
def test_json_within_bounds_parses(body: bytes, value: object) -> None:
    parsed = load_json(body)
    if value is not None:
        assert parsed == value


@pytest.mark.parametrize("body", [b"[" + b"1" * 81 + b"]", b"[1e" + b"1" * 80 + b"]",
                                  b"[NaN]", b"[-Infinity]"])
def test_long_numbers_and_constants_are_refused(body: bytes) -> None:
    with pytest.raises(JsonShapeError):
        load_json(body)


def test_watchdog_interrupts_and_leaves_nothing_behind() -> None:
    watchdog = Watchdog()
    with pytest.raises(ExecutionTimeout):
        watchdog.run(0.05, lambda: [None for _ in iter(int, 1)])
    # Deadlines that pass while the work ends or just after: whatever happens inside
    # run(), nothing reaches the thread once run() is over.
    survived = 0
    for i in range(200):
        try:
            watchdog.run(0.0005, lambda n=2000 + 10 * i: sum(range(n)))
        except ExecutionTimeout:
            pass
        for _ in range(2000):  # code after run(): must never see the exception
            survived += 1
    assert survived == 200 * 2000
    assert not watchdog.busy


def test_watchdog_only_interrupts_its_own_thread() -> None:
    watchdog = Watchdog()
    outcome: dict[str, object] = {}

    def other() -> None:
        outcome["value"] = watchdog.run(60, lambda: sum(range(10**6)))

    thread = threading.Thread(target=other)
    thread.start()
    with pytest.raises(ExecutionTimeout):
        watchdog.run(0.05, lambda: [None for _ in iter(int, 1)])
    thread.join(60)
    assert outcome["value"] == sum(range(10**6))
