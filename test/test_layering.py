"""The engine stays sans-IO: its modules import no I/O, thread, clock or front-end."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HTTP20 = Path(__file__).resolve().parent.parent / "hyper" / "http20"
ENGINE_MODULES = [
    "engine", "_core", "_receiving", "_frames", "_stream", "_headers", "_hpack_fast",
    "config", "events", "window", "errors", "exceptions",
]  # fmt: skip
FORBIDDEN = {"socket", "ssl", "select", "selectors", "threading", "asyncio", "time"}
FRONT_ENDS = {
    "hyper.http20.connection", "hyper.http20._session", "hyper.http20.response",
    "hyper.http20._sockio", "hyper.http20._streambuf", "hyper.common.connect",
}  # fmt: skip


def imported(module: str) -> set[str]:
    tree = ast.parse((HTTP20 / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


class TestEngineLayering:
    @pytest.mark.parametrize("module", ENGINE_MODULES)
    def test_engine_module_imports_no_io_and_no_front_end(self, module: str) -> None:
        names = imported(module)
        assert not {n.split(".")[0] for n in names} & FORBIDDEN
        assert not names & FRONT_ENDS
