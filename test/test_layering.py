"""
Imports point one way (DESIGN.md): one folder per layer, and one rule per
folder saying which folders it may import. Every import counts: at any
depth (inside functions, under ``TYPE_CHECKING``), and ``from package
import name`` counts as an import of the submodule when ``name`` is one.

Historic module paths kept for old code (``hyper.http20.engine``,
``hyper.common.connection``...) are shims: imports and ``__all__`` only,
checked here, and exempt from their folder's rule.

Within and across folders, modules import each other in a DAG: no file
circles, whatever kind of import closes them.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
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
# The modules of drivers/ the asyncio side uses (HTTP/2, HTTP/1.1, and
# opening a connection before knowing which); the blocking drivers are for
# threads. The asyncio side (the front end and its drivers) uses neither them
# nor a thread.
ASYNC_DRIVERS = frozenset(
    {"hyper.drivers.async_h2", "hyper.drivers.async_h1", "hyper.drivers.async_open"}
)

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
ASYNCIO_SIDE = sorted([m for m in MODULES if layer_of(m) == "aio"] + sorted(ASYNC_DRIVERS))


def import_graph() -> dict[str, set[str]]:
    """Each module of hyper (shims included) -> the modules of hyper it
    imports itself. A package's ``__init__`` counts only where it is
    imported by name: counting the parents Python runs first would make
    every module import ``hyper``, and ``hyper`` imports the front ends."""
    return {module: hyper_imports(module) & MODULES.keys() for module in MODULES}


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """
    One cycle per group of modules that reach each other (a strongly
    connected component, Tarjan's algorithm), as a path from the group's
    first module (by name) back to it, shortest first; ``[]`` for a DAG.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in sorted(graph.get(node, ())):
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_cycle_through(graph, group) for group in groups)


def _cycle_through(graph: Mapping[str, set[str]], group: set[str]) -> list[str]:
    """The shortest path from the group's first module back to it (breadth first)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    for node in queue:
        for after in sorted(graph[node] & group):
            if after == start:
                return [*paths[node], start]
            if after not in paths:
                paths[after] = [*paths[node], after]
                queue.append(after)
    raise AssertionError(f"{sorted(group)} is not strongly connected")


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

    @pytest.mark.parametrize("module", ASYNCIO_SIDE)
    def test_asyncio_side_uses_no_blocking_driver(self, module: str) -> None:
        drivers = {name for name in hyper_imports(module) if layer_of(name) == "drivers"}
        assert drivers <= ASYNC_DRIVERS

    @pytest.mark.parametrize("module", ASYNCIO_SIDE)
    def test_asyncio_side_uses_no_thread(self, module: str) -> None:
        assert "threading" not in {name.split(".")[0] for name in imports_of(module)}

    @pytest.mark.parametrize("folder", FOLDERS_WITH_RULES)
    def test_each_folder_says_what_it_is_and_may_import(self, folder: str) -> None:
        init = PACKAGE / folder / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in docstring, init

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


class TestNoCycles:
    def test_hyper_modules_import_each_other_in_a_dag(self) -> None:
        """Module-level, function-level and ``TYPE_CHECKING`` imports all
        count: each closes a circle a reader must hold in mind."""
        assert find_cycles(import_graph()) == []

    def test_every_circle_is_found_and_shown_as_a_path(self) -> None:
        graph = {
            "a": {"b"},
            "b": {"c"},
            "c": {"a", "d"},
            "d": set(),
            "e": {"f"},
            "f": {"e", "a"},
            "g": {"g"},
        }
        assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"], ["g", "g"]]
        assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []

    def test_the_graph_holds_type_checking_imports(self) -> None:
        graph = import_graph()
        guarded: set[tuple[str, str]] = set()
        for module, path in MODULES.items():
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
                    guarded |= {
                        (module, imported.module)
                        for imported in ast.walk(node)
                        if isinstance(imported, ast.ImportFrom)
                        and imported.level == 0
                        and (imported.module or "").startswith("hyper.")
                    }
        if not guarded:
            pytest.skip("no module of hyper imports under TYPE_CHECKING")
        for module, imported in guarded:
            assert imported in graph[module] or any(
                name.startswith(imported + ".") for name in graph[module]
            ), (module, imported)
