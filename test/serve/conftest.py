"""
Fixtures of the ``hyper serve`` tests: ``docs`` (the served directory),
``served`` (cleartext, ``-v --push-from-link --push /pushing.html=/text.txt``)
and ``served_tls`` (TLS with a trustme certificate; ``pki`` has its CA).
Each server is stopped with SIGTERM at the end of the module; it must exit 0
with no traceback on its stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import serve_support
from serve_support import Served, make_docroot, start_serve
from support import servers


@pytest.fixture(autouse=True)
def no_server_left_running() -> Iterator[None]:
    """A test's own servers do not outlive it: one a failing test did not
    stop is killed at its teardown (the module's shared ones are stopped,
    and checked, by their fixtures)."""
    since = len(serve_support.STARTED)
    yield
    serve_support.kill_left_running(since)


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_docroot(tmp_path_factory.mktemp("serve"))


def _stopped(served: Served) -> None:
    status = served.stop()
    stderr = served.stderr()
    assert "Traceback" not in stderr, stderr
    assert status == 0, stderr


@pytest.fixture(scope="module")
def served(docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("serve-run")
    (docs / "pushing.html").write_bytes(b"<p>pushes text.txt</p>\n")
    server = start_serve(
        docs, workdir, "-v", "--push-from-link", "--push", "/pushing.html=/text.txt"
    )
    yield server
    _stopped(server)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> servers.PKI:
    return servers.PKI(tmp_path_factory.mktemp("serve-pki"))


@pytest.fixture(scope="module")
def served_tls(
    docs: Path, pki: servers.PKI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("serve-tls")
    server = start_serve(
        docs, workdir, "--cert", str(pki.cert_path), "--key", str(pki.key_path), "--push-from-link"
    )
    yield server
    _stopped(server)
