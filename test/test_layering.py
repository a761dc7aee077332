"""
Imports point one way (DESIGN.md): every module of ``hyper/`` has a layer,
and imports only from its own layer or the ones below, plus the rules
each layer adds. Every import counts: at any depth (inside functions,
under ``TYPE_CHECKING``), and ``from package import name`` counts as an
import of the submodule when ``name`` is one.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hyper"

# Lowest first. A module matches the first pattern that fits it.
LAYERS: list[tuple[str, list[str]]] = [
    ("base", [
        "hyper._version", "hyper.common.exceptions", "hyper.common.util", "hyper.http20.errors",
    ]),
    ("engine", [
        "hyper.http20", "hyper.http20.engine", "hyper.http20._core", "hyper.http20._receiving",
        "hyper.http20._frames", "hyper.http20._stream", "hyper.http20._headers",
        "hyper.http20._hpack_fast", "hyper.http20.config", "hyper.http20.events",
        "hyper.http20.window", "hyper.http20.exceptions",
    ]),
    # What both HTTP versions (and both drivers) share, without I/O.
    ("shared", [
        "hyper.common", "hyper.common.headers", "hyper.common._request",
        "hyper.common.decoder", "hyper.common.response",
    ]),
    ("core", [
        "hyper.http20._client", "hyper.http20._streambuf",
        # The asyncio side's sans-IO policy: the server core, the client core's adapter.
        "hyper.aio._server_core", "hyper.aio._client_side", "hyper.aio.exceptions",
    ]),
    # Blocking sockets: connecting, TLS, error translation.
    ("transport", [
        "hyper.common._transport", "hyper.common._rawio", "hyper.common._tls_socket",
        "hyper.common.connect", "hyper.tls",
    ]),
    ("driver", [
        "hyper.http20._session", "hyper.http20._sockio", "hyper.http11._channel",
        "hyper.aio.protocol",
    ]),
    ("front", [
        "hyper.http20.connection", "hyper.http20.response", "hyper.http20.*",
        "hyper.http11", "hyper.http11.*", "hyper.common.connection",
        "hyper.aio", "hyper.aio.*",
    ]),
    ("app", [
        "hyper", "hyper.__main__", "hyper.cli", "hyper.demo", "hyper.compat",
        # The requests adapter: a pool over hyper.HTTPConnection.
        "hyper.contrib", "hyper.contrib.*",
        "hyper.serve", "hyper.serve.*", "hyper.fuzz", "hyper.fuzz.*",
    ]),
]  # fmt: skip
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}

NO_IO = {"socket", "ssl", "select", "selectors", "threading", "asyncio", "time"}
# hyper.common.connection (HTTPConnection) sits above both versions, at its historic path.
HISTORIC_ABOVE = {"hyper.common.connection"}
FORBIDDEN_STDLIB = {"base": NO_IO, "engine": NO_IO, "shared": NO_IO, "core": NO_IO}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str | None:
    for name, patterns in LAYERS:
        if any(fnmatch.fnmatchcase(module, pattern) for pattern in patterns):
            return name
    return None


def imports_of(module: str) -> set[str]:
    """Every module ``module`` imports (absolute names), at any depth."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


def hyper_imports(module: str) -> set[str]:
    return {name for name in imports_of(module) if name == "hyper" or name.startswith("hyper.")}


class TestLayerAssignment:
    def test_every_module_has_a_layer(self) -> None:
        assert [m for m in MODULES if layer_of(m) is None] == []

    def test_the_table_names_real_modules(self) -> None:
        """A renamed module must not leave a stale exact entry behind."""
        exact = [p for _, patterns in LAYERS for p in patterns if "*" not in p]
        assert [p for p in exact if p not in MODULES] == []


@pytest.mark.parametrize("module", sorted(MODULES))
class TestImportsPointDown:
    def test_imports_only_its_layer_or_below(self, module: str) -> None:
        own = RANK[layer_of(module) or "app"]
        above = {
            name: layer_of(name)
            for name in hyper_imports(module)
            if name in MODULES and RANK[layer_of(name) or "app"] > own
        }
        assert above == {}

    def test_imports_no_io_where_it_must_not(self, module: str) -> None:
        forbidden = FORBIDDEN_STDLIB.get(layer_of(module) or "", set())
        assert {name.split(".")[0] for name in imports_of(module)} & forbidden == set()


class TestLayerRules:
    def test_client_core_imports_only_the_engine_and_shared_helpers(self) -> None:
        allowed = {"base", "engine", "shared", "core"}
        for module in ("hyper.http20._client", "hyper.http20._streambuf"):
            layers = {layer_of(name) for name in hyper_imports(module)}
            assert layers <= allowed, module

    @pytest.mark.parametrize(
        "module", [m for m in MODULES if m.startswith("hyper.common") and m not in HISTORIC_ABOVE]
    )
    def test_common_imports_no_version_package(self, module: str) -> None:
        versions = {
            name for name in hyper_imports(module)
            if name.startswith(("hyper.http20", "hyper.http11"))
        }  # fmt: skip
        assert versions == set()

    @pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("hyper.aio")])
    def test_aio_uses_no_thread_and_no_blocking_driver(self, module: str) -> None:
        names = imports_of(module)
        banned = {"threading", "hyper.http20._session", "hyper.http20._sockio"}
        assert {n for n in names if n in banned or n.split(".")[0] == "threading"} == set()

    def test_the_recorder_sees_nested_and_from_imports(self) -> None:
        """The rules are only as good as the recorder: a function-level
        ``from hyper import tls`` is an import of ``hyper.tls``."""
        assert "hyper.tls" in imports_of("hyper.common.connect")
        assert "hyper.http20._client" in imports_of("hyper.http20._streambuf")  # TYPE_CHECKING
