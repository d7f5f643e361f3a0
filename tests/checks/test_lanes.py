"""The test lanes' bookkeeping stays true: every test named slow in tests/conftest.py exists (a
renamed test would otherwise fall back into the quick lane unnoticed)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import SLOW_TESTS

REPO = Path(__file__).resolve().parents[2]


def _tests_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")}


def test_every_slow_entry_names_an_existing_test() -> None:
    missing = []
    for entry in sorted(SLOW_TESTS):
        file, _, test = entry.partition("::")
        path = REPO / file
        if not path.is_file() or (test and test not in _tests_of(path)):
            missing.append(entry)
    assert not missing, f"tests/conftest.py SLOW_TESTS names tests that do not exist: {missing}"
