"""Every gas constant is named once, in chainvm/evm/gas.py, and used: bodies and tables
say G_SSET rather than 20000, so a search finds every place a price matters."""

from __future__ import annotations

import re
from pathlib import Path

from chainvm.evm import gas

PACKAGE = Path(gas.__file__).resolve().parent.parent


def test_every_gas_constant_is_used() -> None:
    names = [n for n, v in vars(gas).items() if n.isupper() and isinstance(v, int)]
    sources = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py")
                        if p.resolve() != Path(gas.__file__).resolve())
    unused = [n for n in names if not re.search(rf"\b{n}\b", sources)]
    assert names and unused == []
