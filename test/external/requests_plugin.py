"""
A pytest plugin that runs requests' own test suite with hyper's
:class:`~hyper.contrib.HTTP2Adapter` mounted on every ``requests.Session``
(``http://`` and ``https://``), unmodified (``.ci/run``, "requests' suite"):

    python -m pytest -p external.requests_plugin tests/test_requests.py ...

with ``test/`` on ``PYTHONPATH``, from an unpacked requests sdist.

- Every ``Session`` mounts a fresh ``HTTP2Adapter`` in place of requests'
  ``HTTPAdapter`` (``requests.get`` and friends make their Session inside).
- The suite's ``TARPIT`` (``10.255.255.1``, an address that never answers,
  unreachable here) becomes a local one: a loopback port whose accept queue
  is full, so a connect to it times out as the suite expects.
- The tests hyper still fails are listed, with their reason, in
  ``requests_expected_failures.txt`` beside this file (``docs/contrib.rst``
  mirrors it); each is marked ``xfail(strict=True)``: it must fail, and any
  other failure fails the run.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import requests

from hyper.contrib import HTTP2Adapter

EXPECTED = Path(__file__).with_name("requests_expected_failures.txt")


def expected_failures() -> dict[str, str]:
    """The documented failures: test id (``file::test[param]``) -> reason."""
    failures: dict[str, str] = {}
    for line in EXPECTED.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition("  ")
        failures[test_id.strip()] = reason.strip()
    return failures


class _Tarpit:
    """A loopback port that never completes another TCP handshake: its
    accept queue (backlog 0) is kept full by connections nobody accepts."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=0)
        self.port = self.listener.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(filler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        for sock in [*self.fillers, self.listener]:
            sock.close()


_original_init = requests.Session.__init__
_tarpit: _Tarpit | None = None


def _mounting_init(self: requests.Session, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    adapter = HTTP2Adapter()
    self.mount("https://", adapter)
    self.mount("http://", adapter)


def pytest_configure(config: pytest.Config) -> None:
    global _tarpit
    requests.Session.__init__ = _mounting_init  # type: ignore[method-assign]
    _tarpit = _Tarpit()


def pytest_unconfigure(config: pytest.Config) -> None:
    requests.Session.__init__ = _original_init  # type: ignore[method-assign]
    if _tarpit is not None:
        _tarpit.close()


def _test_id(item: pytest.Item) -> str:
    path = Path(str(item.fspath)).name
    return (
        f"{path}::{item.name}" if item.cls is None else f"{path}::{item.cls.__name__}::{item.name}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    expected = expected_failures()
    seen: set[str] = set()
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "TARPIT") and _tarpit is not None:
            module.TARPIT = _tarpit.url
        test_id = _test_id(item)
        reason = expected.get(test_id)
        if reason is not None:
            seen.add(test_id)
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    missing = sorted(set(expected) - seen)
    if missing:
        raise pytest.UsageError(
            f"{EXPECTED.name} lists tests the suite no longer has: {', '.join(missing)}"
        )


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"hyper: HTTP2Adapter mounted on every requests.Session; tarpit {_tarpit and _tarpit.url}"
    )
