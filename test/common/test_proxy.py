"""
Proxies: ``proxy_host`` parsing (port, ``user:password@``), the CONNECT tunnel
and what a refused tunnel raises, for HTTP20Connection, HTTP11Connection and
HTTPConnection.

Scripted proxies on loopback cover the answers a real proxy does not give on
purpose; tinyproxy (``test/support/tinyproxy.py``) is the real proxy, with and without
BasicAuth, in front of nginx (h2 and HTTP/1.1-only TLS ports) and h2o (its
plaintext port).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import servers
from support.listener import Conn, Listener
from support.peer import Peer, echo, serving
from support.timeouts import CLIENT_TIMEOUT
from support.tinyproxy import Proxy, start_tinyproxy

from hyper import HTTP20Connection
from hyper.common.exceptions import ProxyError
from hyper.common.util import HTTPVersion
from hyper.net.connect import split_proxy

# tinyproxy takes only [-a-z0-9._] in BasicAuth credentials.
USER, PASSWORD = "hyper", "s3cret.pass"
# What tinyproxy 1.11 answers to a CONNECT with wrong credentials (see the test).
WRONG_CREDENTIALS_STATUS = 401


def _basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


# ---------------------------------------------------------------------------
# proxy_host parsing


class TestSplitProxy:
    def test_no_proxy(self) -> None:
        assert split_proxy(None, None, {"x": "y"}) == (None, None, {"x": "y"})

    def test_host_and_port(self) -> None:
        assert split_proxy("proxy.local:3128") == ("proxy.local", 3128, None)

    def test_port_defaults_to_8080(self) -> None:
        assert split_proxy("proxy.local") == ("proxy.local", 8080, None)

    def test_separate_port_wins(self) -> None:
        assert split_proxy("proxy.local", 3128) == ("proxy.local", 3128, None)

    def test_ipv6_literal(self) -> None:
        assert split_proxy("[::1]:3128") == ("::1", 3128, None)

    def test_http_scheme_prefix_is_accepted(self) -> None:
        assert split_proxy("http://proxy.local:3128/") == ("proxy.local", 3128, None)

    def test_other_schemes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="http://"):
            split_proxy("socks5://proxy.local:1080")

    def test_userinfo_becomes_basic_auth(self) -> None:
        host, port, headers = split_proxy("user:pa%3Ass@proxy.local:3128")
        assert (host, port) == ("proxy.local", 3128)
        assert headers == [(b"Proxy-Authorization", _basic("user", "pa:ss"))]

    def test_userinfo_keeps_the_callers_headers(self) -> None:
        _, _, headers = split_proxy("u:p@proxy.local", None, {"X-Trace": "1"})
        assert headers == [("X-Trace", "1"), (b"Proxy-Authorization", _basic("u", "p"))]

    def test_explicit_proxy_authorization_wins_over_userinfo(self) -> None:
        mine = {"proxy-authorization": "Bearer t"}
        assert split_proxy("u:p@proxy.local", None, mine) == ("proxy.local", 8080, mine)

    def test_password_may_be_empty(self) -> None:
        _, _, headers = split_proxy("u@proxy.local:1")
        assert headers == [(b"Proxy-Authorization", _basic("u", ""))]

    def test_connection_classes_parse_it_the_same_way(self) -> None:
        conn = HTTP20Connection("example.com", proxy_host="u:p@proxy.local:3128")
        assert (conn.proxy_host, conn.proxy_port) == ("proxy.local", 3128)
        assert conn.proxy_headers == [(b"Proxy-Authorization", _basic("u", "p"))]

    def test_bad_proxy_port_is_refused(self) -> None:
        with pytest.raises(ValueError):
            HTTP20Connection("example.com", proxy_host="proxy.local:99999")


# ---------------------------------------------------------------------------
# Scripted proxies: what a refused tunnel carries


def _refusing_proxy(answer: bytes, close: bool = True) -> tuple[Listener, list[bytes]]:
    """A proxy answering one CONNECT with ``answer`` (closing after it only if
    ``close``), and the request heads it reads."""
    heads: list[bytes] = []

    def script(conn: Conn) -> None:
        heads.append(conn.read_until(b"\r\n\r\n"))
        conn.send(answer)
        if not close:
            # Hold the connection until the client closes it (a reset if it closed
            # with our answer unread).
            conn.read_until_closed()

    return Listener([script]), heads


def _refused(answer: bytes, close: bool = True, **kwargs: object) -> ProxyError:
    proxy, _ = _refusing_proxy(answer, close)
    with proxy:
        conn = HTTP20Connection(
            "example.com", 443, proxy_host=proxy.address, timeout=CLIENT_TIMEOUT, **kwargs
        )
        try:
            with pytest.raises(ProxyError) as info:
                conn.connect()
        finally:
            conn.close()
    return info.value


class TestRefusedTunnel:
    def test_response_carries_status_headers_and_body(self) -> None:
        page = b"<h1>who are you?</h1>"
        error = _refused(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'Proxy-Authenticate: Basic realm="x"\r\n'
            b"Content-Length: %d\r\n\r\n%s" % (len(page), page),
            close=False,
        )
        assert "407" in str(error)
        assert error.response.status == 407
        assert error.response.reason == "Proxy Authentication Required"
        assert error.response.headers[b"proxy-authenticate"] == [b'Basic realm="x"']
        assert error.response.body == page

    def test_body_without_length_is_read_to_the_close(self) -> None:
        error = _refused(b"HTTP/1.0 502 Bad Gateway\r\nConnection: close\r\n\r\nupstream down")
        assert (error.response.status, error.response.body) == (502, b"upstream down")

    def test_chunked_body_is_left_unread(self) -> None:
        error = _refused(
            b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n",
            close=False,
        )
        assert (error.response.status, error.response.body) == (403, b"")

    def test_userinfo_is_sent_as_basic_auth_on_the_connect(self) -> None:
        proxy, heads = _refusing_proxy(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        with proxy:
            conn = HTTP20Connection(
                "example.com",
                443,
                proxy_host=f"u%40x:p@127.0.0.1:{proxy.port}",
                timeout=CLIENT_TIMEOUT,
            )
            with pytest.raises(ProxyError):
                conn.connect()
        (request,) = heads
        assert request.startswith(b"CONNECT example.com:443 HTTP/1.1\r\n")
        assert b"\r\nProxy-Authorization: " + _basic("u@x", "p") + b"\r\n" in request

    def test_proxy_error_pickles_with_its_response(self) -> None:
        import pickle

        error = _refused(b"HTTP/1.1 407 No\r\nContent-Length: 2\r\n\r\nno", close=False)
        again = pickle.loads(pickle.dumps(error))
        assert (again.response.status, again.response.body) == (407, b"no")


# ---------------------------------------------------------------------------
# tinyproxy


@pytest.fixture(scope="module")
def dead_port() -> int:
    """A port nobody listens on (it was free a moment ago), allowed by ConnectPort."""
    return servers.free_ports(1)[0]


def _tinyproxy(
    require_binary, tmp_path_factory, ports: list[int], auth: tuple[str, str] | None
) -> Proxy:
    require_binary("tinyproxy")
    workdir = Path(tmp_path_factory.mktemp("tinyproxy"))
    return start_tinyproxy(workdir, connect_ports=ports, basic_auth=auth)


@pytest.fixture(scope="module")
def allowed_ports(nginx, h2o, dead_port) -> list[int]:
    return [nginx.port, nginx.ports["h1"], h2o.port, h2o.ports["plain"], dead_port]


@pytest.fixture(scope="module")
def proxy(require_binary, tmp_path_factory, allowed_ports) -> Iterator[Proxy]:
    with _tinyproxy(require_binary, tmp_path_factory, allowed_ports, None) as p:
        yield p


@pytest.fixture(scope="module")
def auth_proxy(require_binary, tmp_path_factory, allowed_ports) -> Iterator[Proxy]:
    with _tinyproxy(require_binary, tmp_path_factory, allowed_ports, (USER, PASSWORD)) as p:
        yield p


def _userinfo_proxy(proxy: Proxy, user: str = USER, password: str = PASSWORD) -> str:
    from urllib.parse import quote

    return proxy.authority_with(quote(user, safe=""), quote(password, safe=""))


@pytest.mark.interop
class TestTinyproxyHTTP20:
    """HTTP20Connection through tinyproxy's CONNECT tunnel."""

    def test_https_target_speaks_h2_inside_the_tunnel(self, proxy, nginx) -> None:
        with HTTP20Connection(
            nginx.authority,
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=proxy.authority,
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            first = conn.request("GET", "/small.txt")
            second = conn.request("GET", "/1k.bin")
            assert conn.getresponse(first).read() == servers.SMALL_BODY
            assert conn.getresponse(second).read() == nginx.docroot.read("1k.bin")
        assert f"CONNECT {nginx.authority} HTTP/1.1" in proxy.log()

    def test_credentials_from_userinfo(self, auth_proxy, nginx) -> None:
        with HTTP20Connection(
            nginx.authority,
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=_userinfo_proxy(auth_proxy),
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            assert conn.getresponse(conn.request("GET", "/small.txt")).status == 200

    def test_credentials_from_proxy_headers(self, auth_proxy, h2o) -> None:
        headers = {"Proxy-Authorization": _basic(USER, PASSWORD)}
        with HTTP20Connection(
            h2o.authority,
            secure=True,
            ssl_context=h2o.ssl_context(),
            proxy_host=auth_proxy.host,
            proxy_port=auth_proxy.port,
            proxy_headers=headers,
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            assert conn.getresponse(conn.request("GET", "/small.txt")).read() == (
                servers.SMALL_BODY
            )

    def test_missing_credentials_raise_proxy_error_407(self, auth_proxy, nginx) -> None:
        conn = HTTP20Connection(
            nginx.authority,
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=auth_proxy.authority,
            timeout=CLIENT_TIMEOUT,
        )
        with pytest.raises(ProxyError) as info:
            conn.request("GET", "/small.txt")
        response = info.value.response
        assert response.status == 407
        assert response.headers[b"proxy-authenticate"] == [b'Basic realm="Tinyproxy"']
        assert b"Proxy Authentication Required" in response.body

    def test_wrong_credentials_raise_proxy_error(self, auth_proxy, nginx) -> None:
        conn = HTTP20Connection(
            nginx.authority,
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=_userinfo_proxy(auth_proxy, password="wrong"),
            timeout=CLIENT_TIMEOUT,
        )
        with pytest.raises(ProxyError) as info:
            conn.connect()
        # tinyproxy answers wrong credentials with 401 (its reqs.c, "e401"), missing
        # ones with 407; RFC 9110 15.5.8 would have 407 for both.
        assert info.value.response.status == WRONG_CREDENTIALS_STATUS
        assert b"Unauthorized" in info.value.response.body

    def test_unreachable_target_raises_proxy_error(self, proxy, dead_port) -> None:
        conn = HTTP20Connection(
            "127.0.0.1", dead_port, secure=True, proxy_host=proxy.authority, timeout=CLIENT_TIMEOUT
        )
        with pytest.raises(ProxyError) as info:
            conn.connect()
        # tinyproxy says 500 "Unable to connect" where others say 502 or 503.
        assert info.value.response.status in (500, 502, 503)
        assert b"Unable to connect" in info.value.response.body

    def test_port_the_proxy_forbids_raises_proxy_error_403(self, proxy) -> None:
        forbidden = servers.free_ports(1)[0]
        conn = HTTP20Connection(
            "127.0.0.1", forbidden, secure=True, proxy_host=proxy.authority, timeout=CLIENT_TIMEOUT
        )
        with pytest.raises(ProxyError) as info:
            conn.connect()
        assert info.value.response.status == 403

    def test_prior_knowledge_h2c_through_the_tunnel(self, proxy, h2o) -> None:
        with HTTP20Connection(
            h2o.host,
            h2o.ports["plain"],
            secure=False,
            proxy_host=proxy.authority,
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            assert conn.getresponse(conn.request("GET", "/small.txt")).read() == (
                servers.SMALL_BODY
            )

    def test_proxy_authorization_never_reaches_the_origin(
        self, require_binary, tmp_path_factory
    ) -> None:
        with Peer(serving(echo)) as peer:
            tiny = _tinyproxy(require_binary, tmp_path_factory, [peer.port], (USER, PASSWORD))
            with (
                tiny,
                HTTP20Connection(
                    peer.address,
                    secure=False,
                    proxy_host=_userinfo_proxy(tiny),
                    timeout=CLIENT_TIMEOUT,
                ) as conn,
            ):
                assert conn.getresponse(conn.request("GET", "/x")).read() == b"/x\n"
        names = {name.lower() for name, _ in peer.conns[0].requests[1].headers}
        assert b"proxy-authorization" not in names


@pytest.mark.interop
class TestTinyproxyHTTPConnection:
    """HTTPConnection (and HTTP11Connection) through tinyproxy."""

    def test_https_h2_target(self, proxy, nginx) -> None:
        from hyper import HTTPConnection

        with HTTPConnection(
            nginx.authority,
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=proxy.authority,
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            resp = conn.getresponse(conn.request("GET", "/small.txt"))
            assert (conn.version, resp.read()) == (HTTPVersion.http20, servers.SMALL_BODY)

    def test_https_http11_only_target(self, auth_proxy, nginx) -> None:
        from hyper import HTTPConnection

        with HTTPConnection(
            f"{nginx.host}:{nginx.ports['h1']}",
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=_userinfo_proxy(auth_proxy),
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            for _ in range(2):  # the tunnel is kept alive between requests
                conn.request("GET", "/small.txt")
                resp = conn.getresponse()
                assert resp.read() == servers.SMALL_BODY
            assert conn.version is HTTPVersion.http11
        assert auth_proxy.log().count(f"CONNECT {nginx.host}:{nginx.ports['h1']}") == 1

    def test_http_target_uses_the_absolute_form(self, proxy, h2o) -> None:
        from hyper import HTTPConnection

        with HTTPConnection(
            h2o.host,
            h2o.ports["plain"],
            secure=False,
            proxy_host=proxy.authority,
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            conn.request("GET", "/small.txt?via=proxy")
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (200, servers.SMALL_BODY)
            assert conn.version is HTTPVersion.http11  # no h2c upgrade through a proxy
        target = f"http://{h2o.host}:{h2o.ports['plain']}/small.txt?via=proxy"
        assert f"GET {target} HTTP/1.1" in proxy.log()

    def test_http_target_with_credentials(self, auth_proxy, h2o) -> None:
        """Proxy-Authorization goes on every absolute-form request."""
        from hyper import HTTPConnection

        with HTTPConnection(
            h2o.host,
            h2o.ports["plain"],
            secure=False,
            proxy_host=_userinfo_proxy(auth_proxy),
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            for _ in range(2):
                conn.request("GET", "/small.txt")
                assert conn.getresponse().read() == servers.SMALL_BODY

    def test_http11_connection_takes_userinfo_too(self, auth_proxy, h2o) -> None:
        from hyper import HTTP11Connection

        with HTTP11Connection(
            h2o.host,
            h2o.ports["plain"],
            secure=False,
            proxy_host=_userinfo_proxy(auth_proxy),
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            conn.request("GET", "/small.txt")
            assert conn.getresponse().read() == servers.SMALL_BODY

    def test_http_target_without_credentials_gets_the_407_as_a_response(
        self, auth_proxy, h2o
    ) -> None:
        """No tunnel, so nothing to refuse: the proxy's answer is the response."""
        from hyper import HTTPConnection

        with HTTPConnection(
            h2o.host, h2o.ports["plain"], proxy_host=auth_proxy.authority, timeout=CLIENT_TIMEOUT
        ) as conn:
            conn.request("GET", "/small.txt")
            resp = conn.getresponse()
            assert resp.status == 407
            assert resp.headers[b"proxy-authenticate"] == [b'Basic realm="Tinyproxy"']
            resp.read()

    def test_missing_credentials_raise_proxy_error_407(self, auth_proxy, nginx) -> None:
        from hyper import HTTPConnection

        conn = HTTPConnection(
            nginx.authority,
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=auth_proxy.authority,
            timeout=CLIENT_TIMEOUT,
        )
        with pytest.raises(ProxyError) as info:
            conn.request("GET", "/")
        assert info.value.response.status == 407
        assert b"Proxy Authentication Required" in info.value.response.body

    def test_wrong_credentials_raise_proxy_error(self, auth_proxy, nginx) -> None:
        from hyper import HTTPConnection

        conn = HTTPConnection(
            nginx.authority,
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=_userinfo_proxy(auth_proxy, password="nope"),
            timeout=CLIENT_TIMEOUT,
        )
        with pytest.raises(ProxyError) as info:
            conn.request("GET", "/")
        assert info.value.response.status == WRONG_CREDENTIALS_STATUS

    def test_http11_connection_missing_credentials_on_https(self, auth_proxy, nginx) -> None:
        from hyper import HTTP11Connection

        conn = HTTP11Connection(
            f"{nginx.host}:{nginx.ports['h1']}",
            secure=True,
            ssl_context=nginx.ssl_context(),
            proxy_host=auth_proxy.authority,
            timeout=CLIENT_TIMEOUT,
        )
        with pytest.raises(ProxyError) as info:
            conn.request("GET", "/")
        assert info.value.response.status == 407

    def test_unreachable_target_raises_proxy_error(self, proxy, dead_port) -> None:
        from hyper import HTTPConnection

        conn = HTTPConnection(
            "127.0.0.1", dead_port, secure=True, proxy_host=proxy.authority, timeout=CLIENT_TIMEOUT
        )
        with pytest.raises(ProxyError) as info:
            conn.connect()
        assert info.value.response.status in (500, 502, 503)
