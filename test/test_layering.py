"""
Imports point one way (DESIGN.md): one folder per layer, and one rule per
folder saying which folders it may import. Every import counts: at any
depth (inside functions, under ``TYPE_CHECKING``), and ``from package
import name`` counts as an import of the submodule when ``name`` is one.

Historic module paths kept for old code (``hyper.http20.engine``,
``hyper.common.connection``...) are shims: imports and ``__all__`` only,
checked here, and exempt from their folder's rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hyper"

# What the sans-IO layers never import: they own no socket, thread, clock or loop.
NO_IO = frozenset({"socket", "ssl", "select", "selectors", "threading", "asyncio", "time"})
FRONT_ENDS = frozenset({"http20", "http11", "aio", "connection"})
BELOW_FRONT_ENDS = frozenset({"drivers", "net", "tls", "core", "engine", "common", "_version"})
EVERYTHING = frozenset({"*"})

# Each layer: the layers it may import (its own included), and the stdlib
# modules it must not. A layer is the first part of a module's name below
# ``hyper`` (a folder, or a top-level module).
RULES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "_version": (frozenset(), frozenset()),
    "common": (frozenset({"common", "_version"}), NO_IO),
    "engine": (frozenset({"engine", "common"}), NO_IO),
    "core": (frozenset({"core", "engine", "common"}), NO_IO),
    "tls": (frozenset({"common"}), frozenset()),
    "net": (frozenset({"net", "tls", "common"}), frozenset()),
    "drivers": (frozenset({"drivers", "net", "tls", "core", "engine", "common"}), frozenset()),
    "http20": (BELOW_FRONT_ENDS | {"http20"}, frozenset()),
    "http11": (BELOW_FRONT_ENDS | {"http11"}, frozenset()),
    "aio": (BELOW_FRONT_ENDS | {"aio"}, frozenset({"threading"})),
    # HTTPConnection: above both blocking versions.
    "connection": (BELOW_FRONT_ENDS | {"connection", "http20", "http11"}, frozenset()),
    # Applications of the front ends.
    "contrib": (EVERYTHING, frozenset()),
    "serve": (EVERYTHING, frozenset()),
    "cli": (EVERYTHING, frozenset()),
    "demo": (EVERYTHING, frozenset()),
    "fuzz": (EVERYTHING, frozenset()),
    "compat": (frozenset(), frozenset()),
    "__main__": (frozenset({"cli"}), frozenset()),
    "": (EVERYTHING, frozenset()),  # hyper/__init__.py: the public names
}
# The one module of drivers/ the asyncio front end uses; the blocking
# drivers are for threads.
BLOCKING_DRIVERS = frozenset({"hyper.drivers.sync_h2", "hyper.drivers.sync_h1"})

SHIMS = frozenset({
    "hyper.http20.engine", "hyper.http20.config", "hyper.http20.events",
    "hyper.http20.errors", "hyper.http20.exceptions", "hyper.http20.window",
    "hyper.common.connection",
})  # fmt: skip
FOLDERS_WITH_RULES = ("engine", "core", "common", "net", "drivers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


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


RULED = sorted(m for m in MODULES if m not in SHIMS)


class TestLayers:
    def test_every_module_has_a_rule(self) -> None:
        assert [m for m in MODULES if layer_of(m) not in RULES] == []

    @pytest.mark.parametrize("module", RULED)
    def test_imports_only_the_layers_its_rule_allows(self, module: str) -> None:
        allowed, _ = RULES[layer_of(module)]
        if allowed == EVERYTHING:
            return
        outside = {
            name for name in hyper_imports(module) if layer_of(name) not in allowed | {""}
        } | {name for name in hyper_imports(module) if name == "hyper"}
        assert outside == set()

    @pytest.mark.parametrize("module", RULED)
    def test_imports_none_of_the_stdlib_its_rule_forbids(self, module: str) -> None:
        _, forbidden = RULES[layer_of(module)]
        assert {name.split(".")[0] for name in imports_of(module)} & forbidden == set()

    @pytest.mark.parametrize("module", [m for m in MODULES if layer_of(m) == "aio"])
    def test_asyncio_front_end_uses_no_blocking_driver(self, module: str) -> None:
        assert hyper_imports(module) & BLOCKING_DRIVERS == set()

    @pytest.mark.parametrize("folder", FOLDERS_WITH_RULES)
    def test_each_folder_says_what_it_is_and_may_import(self, folder: str) -> None:
        init = PACKAGE / folder / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in docstring, init

    @pytest.mark.parametrize("folder", FOLDERS_WITH_RULES)
    def test_a_folders_modules_import_one_another_without_a_cycle(self, folder: str) -> None:
        """Within a layer, imports point one way too (core/: client and server
        -> streams, never back), counting ``TYPE_CHECKING`` imports."""
        prefix = f"hyper.{folder}."
        graph = {
            m: {n for n in hyper_imports(m) if n.startswith(prefix) and n != m}
            for m in MODULES
            if m.startswith(prefix)
        }
        done: set[str] = set()

        def cycle_from(module: str, path: list[str]) -> list[str] | None:
            if module in path:
                return [*path[path.index(module) :], module]
            if module in done:
                return None
            for name in sorted(graph[module]):
                found = cycle_from(name, [*path, module])
                if found:
                    return found
            done.add(module)
            return None

        assert [c for m in sorted(graph) if (c := cycle_from(m, []))] == []

    def test_the_recorder_sees_nested_and_from_imports(self) -> None:
        """The rules are only as good as the recorder: a function-level
        ``from hyper import tls`` is an import of ``hyper.tls``."""
        assert "hyper.tls" in imports_of("hyper.net.connect")


class TestShims:
    @pytest.mark.parametrize("module", sorted(SHIMS))
    def test_a_shim_holds_only_imports_and_all(self, module: str) -> None:
        tree = ast.parse(MODULES[module].read_text())
        kinds = set()
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                kinds.add("docstring")
            elif isinstance(node, ast.ImportFrom):
                kinds.add("import")
            elif (
                isinstance(node, ast.Assign)
                and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"]
            ):
                kinds.add("__all__")
            else:
                kinds.add(type(node).__name__)
        assert kinds == {"docstring", "import", "__all__"}

    @pytest.mark.parametrize("module", sorted(SHIMS))
    def test_a_shim_exports_every_name_it_imports(self, module: str) -> None:
        shim = __import__(module, fromlist=["__all__"])
        tree = ast.parse(MODULES[module].read_text())
        imported = {
            alias.asname or alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        assert imported == set(shim.__all__)
