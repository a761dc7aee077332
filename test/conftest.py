"""Shared pytest fixtures for hyper's test suite.

Each section below belongs to one area of the suite; keep additions inside a
section of your own, delimited like the ones here.

Interop tests need real programs (nghttpd, nginx, h2o, curl, ...). Locally a
missing program skips the test. In CI (``.ci/run`` exports
``HYPER_REQUIRE_SERVERS=1``) a missing program fails the test instead, so an
incomplete install can never turn the interop suite into a silent pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
import trustme
from support import servers

if TYPE_CHECKING:
    import ssl

# ---------------------------------------------------------------------------
# Section: external binaries (packaging/CI)
# ---------------------------------------------------------------------------


def _servers_required() -> bool:
    # "0" and the empty string count as unset, so HYPER_REQUIRE_SERVERS=0 relaxes it.
    return os.environ.get("HYPER_REQUIRE_SERVERS", "") not in ("", "0")


def _require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name!r} not found on PATH (installed by .ci/run)"
    if _servers_required():
        pytest.fail(f"{message}; HYPER_REQUIRE_SERVERS is set", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def require_binary() -> Callable[[str], str]:
    """Return a function mapping a program name to its path, or skipping/failing.

    Usage: ``nghttpd = require_binary("nghttpd")``. When the program is missing
    the test fails if ``HYPER_REQUIRE_SERVERS`` is set (CI) and is skipped
    otherwise. Session-scoped, so fixtures of any scope may depend on it.
    """
    return _require_binary


# ---------------------------------------------------------------------------
# End of section: external binaries
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Section: real servers (interop fixtures)
#
# One server of each kind per test module (module scope), all sharing the
# session's CA and docroot (servers.session_pki, servers.session_docroot).
# A module may still define a fixture of the same name to serve differently.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docroot(tmp_path_factory: pytest.TempPathFactory) -> servers.Docroot:
    return servers.session_docroot(tmp_path_factory)


@pytest.fixture(scope="module")
def nginx(require_binary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    yield from servers.serve(require_binary, tmp_path_factory, "nginx", servers.start_nginx)


@pytest.fixture(scope="module")
def h2o(require_binary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    yield from servers.serve(require_binary, tmp_path_factory, "h2o", servers.start_h2o)


@pytest.fixture(scope="module")
def nghttpd(require_binary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    yield from servers.serve(require_binary, tmp_path_factory, "nghttpd", servers.start_nghttpd)


@pytest.fixture
def connection_class():
    # Imported per test, not at module level: the curl fixture tests keep testing the
    # server fixtures even when the client cannot be imported.
    from hyper.http20.connection import HTTP20Connection

    return HTTP20Connection


# ---------------------------------------------------------------------------
# End of section: real servers
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Section: TLS material for the scripted peers (support.peer.Peer, support.h1peer.H1Peer)
#
# One trustme CA per module; ``server_tls(protocols)`` is a server context with
# a certificate for 127.0.0.1 and localhost offering ``protocols`` by ALPN;
# ``client_tls`` is hyper's client context trusting the CA.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> Callable[..., ssl.SSLContext]:
    """Make a server context offering ``protocols`` by ALPN."""
    import ssl

    def make(protocols: tuple[str, ...] = ("h2",)) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        context.set_alpn_protocols(list(protocols))
        return context

    return make


@pytest.fixture(scope="module")
def client_tls(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    from hyper.tls import init_context

    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return init_context(cert_path=str(path))


# ---------------------------------------------------------------------------
# End of section: TLS material for the scripted peers
# ---------------------------------------------------------------------------
