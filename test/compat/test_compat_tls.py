"""TLS the way a new user tries it, against real servers: an ``ssl_context``
means TLS, hyper sets the ALPN it needs on that context, ``hyper.tls._context``
changes the default, and the historic TLSUpgrade/HTTPUpgrade hand-overs."""

from __future__ import annotations

import ssl

import pytest
from support import servers

import hyper.tls
from hyper import HTTP11Connection, HTTP20Connection, HTTPConnection
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import HTTPUpgrade, TLSUpgrade
from hyper.common.util import HTTPVersion

pytestmark = pytest.mark.interop

TIMEOUT = 10.0


def plain_context(server: servers.Server) -> ssl.SSLContext:
    """What a new user builds: the stdlib's default context, no ALPN set."""
    return ssl.create_default_context(cafile=server.ca_path)


class TestSSLContextMeansTLS:
    def test_http20_on_a_tls_port_that_is_not_443(self, nghttpd, docroot) -> None:
        """No ``secure=True`` and no ALPN on the context: HTTP/2 over TLS all the same."""
        with HTTP20Connection(
            nghttpd.authority, ssl_context=plain_context(nghttpd), timeout=TIMEOUT
        ) as conn:
            assert conn.secure
            response = conn.getresponse(conn.request("GET", "/small.txt"))
            assert response.read() == docroot.read("small.txt")

    def test_http11_on_a_tls_port_that_is_not_443(self, nginx, docroot) -> None:
        context = plain_context(nginx)
        address = f"{nginx.host}:{nginx.ports['h1']}"
        with HTTP11Connection(address, ssl_context=context, timeout=TIMEOUT) as conn:
            conn.request("GET", "/small.txt")
            assert conn.getresponse().read() == docroot.read("small.txt")

    def test_secure_false_still_means_plaintext(self, h2o, docroot) -> None:
        address = f"{h2o.host}:{h2o.ports['plain']}"
        with HTTP11Connection(
            address,
            secure=False,
            ssl_context=plain_context(h2o),
            timeout=TIMEOUT,
            force_proto="http/1.1",  # h2o would take the h2c offer
        ) as conn:
            assert not conn.secure
            conn.request("GET", "/small.txt")
            assert conn.getresponse().read() == docroot.read("small.txt")


class TestALPNOnTheGivenContext:
    def test_http_connection_speaks_h2_where_the_server_does(self, nginx) -> None:
        with HTTPConnection(
            nginx.authority, ssl_context=plain_context(nginx), timeout=TIMEOUT
        ) as conn:
            conn.getresponse(conn.request("GET", "/small.txt")).read()
            assert conn.version is HTTPVersion.http20

    def test_http_connection_falls_back_where_the_server_does_not(self, nginx) -> None:
        address = f"{nginx.host}:{nginx.ports['h1']}"
        with HTTPConnection(address, ssl_context=plain_context(nginx), timeout=TIMEOUT) as conn:
            conn.request("GET", "/small.txt")
            conn.getresponse().read()
            assert conn.version is HTTPVersion.http11

    def test_http20_to_an_http11_only_server_says_what_happened(self, nginx) -> None:
        address = f"{nginx.host}:{nginx.ports['h1']}"
        conn = HTTP20Connection(address, ssl_context=plain_context(nginx), timeout=TIMEOUT)
        with pytest.raises(HyperConnectionError, match=r"ALPN \(h2\).*http/1\.1"):
            conn.request("GET", "/")
        conn.close()


class TestDefaultContext:
    def test_assigning_the_module_default_changes_every_connection(
        self, monkeypatch: pytest.MonkeyPatch, nghttpd, nginx, docroot
    ) -> None:
        """``hyper.tls._context`` is the historic way to change the default."""
        monkeypatch.setattr(hyper.tls, "_context", hyper.tls.init_context(nghttpd.ca_path))
        with HTTP20Connection(nghttpd.authority, secure=True, timeout=TIMEOUT) as conn:
            assert conn.getresponse(conn.request("GET", "/small.txt")).read() == (
                docroot.read("small.txt")
            )
        address = f"{nginx.host}:{nginx.ports['h1']}"
        with HTTP11Connection(address, secure=True, timeout=TIMEOUT) as h1:
            h1.request("GET", "/small.txt")
            assert h1.getresponse().read() == docroot.read("small.txt")


class TestHistoricUpgrades:
    def test_http11_alone_meeting_h2_raises_tls_upgrade(self, nghttpd) -> None:
        """A context offering h2 to a server that takes it: TLSUpgrade, a
        ConnectionError, with the socket closed (nobody takes it)."""
        conn = HTTP11Connection(nghttpd.authority, ssl_context=nghttpd.ssl_context())
        with pytest.raises(HyperConnectionError) as info:
            conn.request("GET", "/")
        upgrade = info.value
        assert isinstance(upgrade, TLSUpgrade)
        assert upgrade.negotiated == "h2"
        assert upgrade.sock.fileno() == -1

    def test_101_raises_http_upgrade_carrying_the_socket(self, h2o) -> None:
        address = f"{h2o.host}:{h2o.ports['plain']}"
        conn = HTTP11Connection(address, timeout=TIMEOUT)
        headers = {
            "Upgrade": "h2c",
            "HTTP2-Settings": "AAMAAABkAAQAAP__",
            "Connection": "Upgrade, HTTP2-Settings",
        }
        conn.request("GET", "/small.txt", headers=headers)
        with pytest.raises(HTTPUpgrade) as info:
            conn.getresponse()
        upgrade = info.value
        try:
            assert upgrade.negotiated == "h2c"
            assert upgrade.sock.fileno() != -1  # live: HTTP/2 follows on it
        finally:
            upgrade.sock.close()
        conn.close()

    def test_http_connection_takes_the_h2c_socket(self, h2o, docroot) -> None:
        address = f"{h2o.host}:{h2o.ports['plain']}"
        with HTTPConnection(address, timeout=TIMEOUT) as conn:
            conn.request("GET", "/small.txt")
            response = conn.getresponse()
            assert response.read() == docroot.read("small.txt")
            assert conn.version is HTTPVersion.http20
