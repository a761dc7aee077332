"""
A pytest plugin that runs CPython's own tests of ``urllib.request`` and
``xmlrpc.client`` with hyper's connections in place of ``http.client``'s:

    python -m pytest -p hyper_stdlib --pyargs test.test_urllib2_localnet test.test_xmlrpc

(with ``test/stdlib`` on ``PYTHONPATH``; ``.ci/run`` runs exactly that). The
tests come from the interpreter's own ``test`` package, unmodified.

What changes is only what a user of hyper would change:

- urllib.request: ``AbstractHTTPHandler.do_open(http_class, req, **kwargs)``
  is given ``hyper.HTTPConnection`` where urllib passes
  ``http.client.HTTPConnection`` (and ``hyper.HTTPSConnection`` for
  ``HTTPSConnection``), with the arguments urllib passes: urllib's documented
  way to pick the connection class (``self.do_open(hyper.HTTPConnection, req)``
  in a handler's ``http_open``).
- xmlrpc.client: the transports' ``make_connection`` builds their connection
  with ``http.client.HTTPConnection(chost)`` and
  ``http.client.HTTPSConnection(chost, None, context=..., **x509)``; the
  ``http`` that module sees has hyper's two classes instead (everything else
  in it, the exceptions xmlrpc catches included, is ``http.client``'s).

The tests still failing with hyper are listed, each with its reason, in
``docs/compat.rst`` between the ``stdlib-xfail`` markers; this plugin reads
that list and marks them ``xfail(strict=True)``, so any other failure, and
any listed test that starts to pass, fails the run. A run in which hyper
opened no connection fails too: then nothing was tested.
"""

from __future__ import annotations

import http.client
import re
import types
import urllib.request
import xmlrpc.client
from pathlib import Path
from typing import Any

import pytest

import hyper

_DOCS = Path(__file__).resolve().parents[2] / "docs" / "compat.rst"
_BEGIN = ".. stdlib-xfail-begin"
_END = ".. stdlib-xfail-end"
# One line per test: "- ``module.py::Class::test``: the reason".
_LINE = re.compile(r"^- ``(?P<test>[^`]+)``: (?P<reason>.+)$")

_opened = {"urllib": 0, "xmlrpc": 0}
# The suite each counter belongs to, and the suites collected.
_SUITES = {"test_urllib2_localnet.py": "urllib", "test_xmlrpc.py": "xmlrpc"}
_collected: set[str] = set()


def expected_failures(path: Path = _DOCS) -> dict[str, str]:
    """The documented failures: ``{"module.py::Class::test": reason}``."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(_BEGIN), text.index(_END)
    failures: dict[str, str] = {}
    current = None
    for line in text[start:end].splitlines()[1:]:
        match = _LINE.match(line)
        if match:
            current = match["test"]
            failures[current] = match["reason"]
        elif current is not None and line.startswith("  ") and line.strip():
            failures[current] += " " + line.strip()
        else:
            current = None
    return failures


class _ClientModule(types.ModuleType):
    """``http.client`` as xmlrpc.client sees it: hyper's connection classes,
    everything else (the exceptions xmlrpc catches) the real module's."""

    def __init__(self) -> None:
        super().__init__("http.client")

    def __getattr__(self, name: str) -> Any:
        return getattr(http.client, name)


def _counting(cls: type, key: str) -> type:
    """``cls`` with every instance counted under ``key``: proof that the
    suite ran on hyper."""

    class Counted(cls):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            _opened[key] += 1
            super().__init__(*args, **kwargs)

    Counted.__name__ = Counted.__qualname__ = cls.__name__
    return Counted


def _mount() -> None:
    urllib_classes = {
        http.client.HTTPConnection: _counting(hyper.HTTPConnection, "urllib"),
        http.client.HTTPSConnection: _counting(hyper.HTTPSConnection, "urllib"),
    }
    do_open = urllib.request.AbstractHTTPHandler.do_open

    def hyper_do_open(self: Any, http_class: Any, req: Any, **http_conn_args: Any) -> Any:
        return do_open(self, urllib_classes.get(http_class, http_class), req, **http_conn_args)

    urllib.request.AbstractHTTPHandler.do_open = hyper_do_open  # type: ignore[method-assign]

    client = _ClientModule()
    client.HTTPConnection = _counting(hyper.HTTPConnection, "xmlrpc")  # type: ignore[attr-defined]
    client.HTTPSConnection = _counting(hyper.HTTPSConnection, "xmlrpc")  # type: ignore[attr-defined]
    xmlrpc.client.http = types.SimpleNamespace(client=client)  # type: ignore[attr-defined]


def _key(item: pytest.Item) -> str:
    """``module.py::Class::test``: the item's name without the interpreter's path."""
    return "::".join((item.path.name, *item.nodeid.split("::")[1:]))


def pytest_configure(config: pytest.Config) -> None:
    _mount()
    config.addinivalue_line("markers", "hyper_stdlib: a CPython test run on hyper")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    failures = expected_failures()
    seen = set()
    for item in items:
        key = _key(item)
        _collected.add(item.path.name)
        reason = failures.get(key)
        if reason is not None:
            seen.add(key)
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    unknown = {key for key in set(failures) - seen if key.partition("::")[0] in _collected}
    if unknown:
        raise pytest.UsageError(
            f"docs/compat.rst lists tests that were not collected: {sorted(unknown)}"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    unused = [
        key for module, key in _SUITES.items() if module in _collected and not _opened[key]
    ]
    if unused:
        print(f"\nhyper_stdlib: no hyper connection was opened by {unused}: not a run on hyper")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
