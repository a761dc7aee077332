"""
:class:`hyper.HTTPConnection`: choosing HTTP/2 or HTTP/1.1 through ALPN, the
``Upgrade: h2c`` handshake and prior knowledge, and falling back.

Local peers on 127.0.0.1: the stdlib's ``http.server`` as a real HTTP/1.1-only
server (plaintext and TLS), and scripted peers (``test/support/peer.py``) for HTTP/2
and for upgrades that go wrong on purpose. Real servers (``interop``): nginx's
h2 and HTTP/1.1-only TLS ports, h2o's plaintext port, which accepts
``Upgrade: h2c``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from hyperframe.frame import SettingsFrame
from support import servers
from support.listener import in_thread
from support.peer import Peer, PeerConnection, echo, serving
from support.timeouts import CLIENT_TIMEOUT, SHORT_TIMEOUT, TIMEOUT, wait

import hyper
from hyper import HTTPConnection
from hyper.common import exceptions as common_exc
from hyper.common.connection import UnsupportedOperationError
from hyper.common.util import HTTPVersion
from hyper.http20 import exceptions as h2_exc

SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"


# ---------------------------------------------------------------------------
# An HTTP/1.1-only server: the stdlib's, which ignores Upgrade


class _Seen:
    """A request as the HTTP/1.1 server received it."""

    def __init__(
        self, method: str, path: str, headers: dict[str, str], body: bytes, alpn: str | None
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        #: The protocol ALPN settled on (None in plaintext, or without ALPN).
        self.alpn = alpn


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _H1Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        selected = getattr(self.connection, "selected_alpn_protocol", None)
        alpn = selected() if selected is not None else None
        self.server.seen.append(_Seen(self.command, self.path, headers, body, alpn))
        out = self.path.encode() + b"\n" + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: Any) -> None:
        pass


class _H1Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[_Seen]


@contextlib.contextmanager
def h1_server(tls: ssl.SSLContext | None = None) -> Iterator[_H1Server]:
    """The stdlib HTTP/1.1 server on a free port, answering ``path\\nbody``."""
    server = _H1Server(("127.0.0.1", 0), _Handler)
    server.seen = []
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    with in_thread(server):
        yield server


def _address(server: _H1Server) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


def _client(address: str, **kwargs: Any) -> HTTPConnection:
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    return HTTPConnection(address, **kwargs)


# ---------------------------------------------------------------------------
# Scripted h2c upgrades


def _read_head(sock: socket.socket) -> bytes:
    """Read an HTTP/1.1 request head. The client sends nothing more until it
    has our answer (upgrade requests have no body), so nothing is over-read."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"the client closed before the request head ended: {head!r}")
        head += chunk
    return head


def _head_fields(head: bytes) -> dict[bytes, bytes]:
    lines = head.split(b"\r\n")[1:]
    pairs = [line.split(b":", 1) for line in lines if b":" in line]
    return {name.strip().lower(): value.strip() for name, value in pairs}


def upgrading(
    first_body: bytes = b"upgraded\n",
    after_101: bytes | None = None,
    one_write: bool = True,
    sent: threading.Event | None = None,
) -> Callable[[PeerConnection], None]:
    """
    A peer that answers the HTTP/1.1 upgrade request with 101, then speaks
    HTTP/2: the first response on stream 1 (``first_body``), then ``echo``
    for every later request. ``after_101`` replaces everything after the 101
    (then the connection is held until the client closes it). With
    ``one_write`` the 101, our SETTINGS and the stream 1 response leave in
    one write, so the client finds HTTP/2 bytes behind the 101 it read;
    ``sent`` is set once that write is done.
    """

    def script(conn: PeerConnection) -> None:
        head = _read_head(conn.sock)
        conn.h1_head = head  # type: ignore[attr-defined]
        if after_101 is not None:
            conn.send(SWITCHING + after_101)
            with contextlib.suppress(OSError):
                while conn.sock.recv(65536):
                    pass
            return
        response = conn.factory.headers(1, [(b":status", b"200")]) + conn.factory.data(
            1, first_body, end_stream=True
        )
        if one_write:
            conn.send(SWITCHING + conn.factory.settings({}) + response)
            if sent is not None:
                sent.set()
        else:
            conn.send(SWITCHING)
            conn.send(conn.factory.settings({}))
        conn.wait_for(
            lambda: any(
                isinstance(f, SettingsFrame) and "ACK" not in f.flags for f in conn.frames
            ),
            "the client's SETTINGS",
        )
        if not one_write:
            conn.send(response)
        while (request := conn.next_request()) is not None:
            echo(conn, request)

    return script


def _h1_head(peer: Peer) -> dict[bytes, bytes]:
    return _head_fields(peer.conns[0].h1_head)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------


class TestConstruction:
    def test_package_exports_it(self) -> None:
        assert hyper.HTTPConnection is HTTPConnection
        assert "HTTPConnection" in hyper.__all__

    def test_host_may_carry_the_port(self) -> None:
        conn = HTTPConnection("example.com:8080")
        assert (conn.host, conn.port, conn.secure) == ("example.com", 8080, False)

    def test_version_before_connecting_is_what_is_tried_first(self) -> None:
        assert HTTPConnection("example.com").version is HTTPVersion.http20
        assert HTTPConnection("example.com:80").version is HTTPVersion.http11
        assert HTTPConnection("example.com:80", force_proto="h2").version is HTTPVersion.http20
        tls11 = HTTPConnection("example.com", force_proto="http/1.1")
        assert tls11.version is HTTPVersion.http11

    def test_proxy_host_is_parsed_like_the_connection_classes(self) -> None:
        conn = HTTPConnection("example.com", proxy_host="u:p@proxy.local:3128")
        assert (conn.proxy_host, conn.proxy_port) == ("proxy.local", 3128)
        assert conn.proxy_headers == [(b"Proxy-Authorization", b"Basic dTpw")]

    def test_no_attribute_proxy(self) -> None:
        """Delegation is explicit: an unknown attribute is an AttributeError at once."""
        conn = HTTPConnection("example.com")
        with pytest.raises(AttributeError):
            conn.no_such_thing  # noqa: B018
        assert "__getattr__" not in vars(HTTPConnection)


class TestALPN:
    def test_h2_server_gets_http2(self, server_tls, client_tls) -> None:
        with (
            Peer(serving(echo), tls=server_tls(("h2", "http/1.1"))) as peer,
            _client(peer.address, secure=True, ssl_context=client_tls) as conn,
        ):
            stream_id = conn.request("GET", "/alpn")
            assert conn.version is HTTPVersion.http20
            resp = conn.getresponse(stream_id)
            assert (resp.version, resp.read()) == (HTTPVersion.http20, b"/alpn\n")

    def test_http11_server_gets_http11(self, server_tls, client_tls) -> None:
        with (
            h1_server(tls=server_tls(("http/1.1",))) as server,
            HTTPConnection(
                _address(server), secure=True, ssl_context=client_tls, timeout=CLIENT_TIMEOUT
            ) as conn,
        ):
            conn.connect()
            assert conn.version is HTTPVersion.http11
            for path in ("/one", "/two"):
                assert conn.request("GET", path) is None
                resp = conn.getresponse()
                assert (resp.version, resp.read()) == (
                    HTTPVersion.http11,
                    f"{path}\n".encode(),
                )
        assert [s.path for s in server.seen] == ["/one", "/two"]
        assert "upgrade" not in server.seen[0].headers  # never over TLS

    def test_server_without_alpn_gets_http11(self, server_tls, client_tls, ca) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        with (
            h1_server(tls=context) as server,
            HTTPConnection(
                _address(server), secure=True, ssl_context=client_tls, timeout=CLIENT_TIMEOUT
            ) as conn,
        ):
            conn.request("GET", "/plain-tls")
            assert conn.getresponse().read() == b"/plain-tls\n"
            assert conn.version is HTTPVersion.http11

    def test_force_proto_overrides_alpn(self, server_tls, client_tls) -> None:
        with (
            Peer(serving(echo), tls=server_tls(("http/1.1",))) as peer,
            HTTPConnection(
                peer.address,
                secure=True,
                ssl_context=client_tls,
                force_proto="h2",
                timeout=CLIENT_TIMEOUT,
            ) as conn,
        ):
            assert conn.getresponse(conn.request("GET", "/forced")).read() == b"/forced\n"
            assert conn.version is HTTPVersion.http20

    def test_force_proto_http11_offers_only_http11(self, server_tls, client_tls) -> None:
        """A server that would choose h2 is never offered it: forcing
        HTTP/1.1 means HTTP/1.1 on a connection ALPN agreed to as such, not
        HTTP/1.1 bytes on a connection the server takes for HTTP/2."""
        with (
            h1_server(tls=server_tls(("h2", "http/1.1"))) as server,
            HTTPConnection(
                _address(server),
                secure=True,
                ssl_context=client_tls,
                force_proto="http/1.1",
                timeout=CLIENT_TIMEOUT,
            ) as conn,
        ):
            conn.request("GET", "/forced-1.1")
            assert conn.getresponse().read() == b"/forced-1.1\n"
            assert conn.version is HTTPVersion.http11
        assert [(s.path, s.alpn) for s in server.seen] == [("/forced-1.1", "http/1.1")]

    def test_bad_certificate_is_a_connection_error(self, server_tls) -> None:
        with Peer(serving(echo), tls=server_tls(("h2",))) as peer:
            conn = HTTPConnection(peer.address, secure=True, timeout=CLIENT_TIMEOUT)
            with pytest.raises(common_exc.ConnectionError, match="TLS"):
                conn.connect()

    def test_ping_and_pushes_over_http2(self, server_tls, client_tls) -> None:
        with (
            Peer(serving(echo), tls=server_tls(("h2",))) as peer,
            HTTPConnection(
                peer.address, secure=True, ssl_context=client_tls, timeout=CLIENT_TIMEOUT
            ) as conn,
        ):
            assert conn.ping(b"12345678") >= 0
            stream_id = conn.request("GET", "/")
            assert list(conn.get_pushes(stream_id)) == []
            conn.getresponse(stream_id).read()


class TestPlaintextUpgrade:
    def test_101_switches_to_http2_and_stream_1_carries_the_response(self) -> None:
        with Peer(upgrading()) as peer, _client(peer.address) as conn:
            assert conn.request("GET", "/first", headers={"X-Mine": "1"}) is None
            assert conn.version is HTTPVersion.http11  # not answered yet
            resp = conn.getresponse()
            assert conn.version is HTTPVersion.http20
            assert (resp.stream_id, resp.status, resp.read()) == (1, 200, b"upgraded\n")
            # Later requests multiplex over the upgraded connection.
            a = conn.request("GET", "/a")
            b = conn.request("GET", "/b", body=b"payload")
            assert (a, b) == (3, 5)
            assert conn.getresponse(b).read() == b"/b\npayload"
            assert conn.getresponse(a).read() == b"/a\n"
        fields = _h1_head(peer)
        assert peer.conns[0].h1_head.startswith(b"GET /first HTTP/1.1\r\n")
        assert fields[b"upgrade"] == b"h2c"
        assert fields[b"connection"] == b"Upgrade, HTTP2-Settings"
        assert fields[b"x-mine"] == b"1"
        settings = base64.urlsafe_b64decode(fields[b"http2-settings"] + b"==")
        assert len(settings) % 6 == 0  # a SETTINGS payload (RFC 7540 3.2.1)

    def test_101_alone_then_the_frames(self) -> None:
        """The 101 arrives in a packet of its own; HTTP/2 follows separately."""
        with Peer(upgrading(one_write=False)) as peer, _client(peer.address) as conn:
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"upgraded\n"
            assert conn.getresponse(conn.request("GET", "/next")).read() == b"/next\n"

    def test_another_request_before_reading_settles_the_upgrade(self) -> None:
        with Peer(upgrading()) as peer, _client(peer.address) as conn:
            conn.request("GET", "/first")
            second = conn.request("GET", "/second")
            assert (second, conn.version) == (3, HTTPVersion.http20)
            assert conn.getresponse(1).read() == b"upgraded\n"
            assert conn.getresponse(second).read() == b"/second\n"

    def test_upgrade_response_is_this_threads_even_if_another_settled_it(self) -> None:
        with Peer(upgrading()) as peer, _client(peer.address) as conn:
            conn.request("GET", "/first")
            other: list[bytes] = []
            worker = threading.Thread(
                target=lambda: other.append(conn.getresponse(conn.request("GET", "/other")).read())
            )
            worker.start()
            worker.join(TIMEOUT)
            assert other == [b"/other\n"]
            assert conn.getresponse().read() == b"upgraded\n"

    def test_http11_server_ignores_the_upgrade(self) -> None:
        with h1_server() as server, _client(_address(server)) as conn:
            conn.request("GET", "/one")
            resp = conn.getresponse()
            assert (resp.version, resp.read()) == (HTTPVersion.http11, b"/one\n")
            assert conn.version is HTTPVersion.http11
            conn.request("GET", "/two")
            assert conn.getresponse().read() == b"/two\n"
        first, second = server.seen
        assert first.headers["upgrade"] == "h2c"
        assert "http2-settings" in first.headers
        assert "upgrade" not in second.headers  # declined once: never asked again

    def test_request_with_a_body_goes_without_the_upgrade(self) -> None:
        body = bytes(range(256)) * 64
        with h1_server() as server, _client(_address(server)) as conn:
            conn.request("POST", "/post", body=body)
            assert conn.getresponse().read() == b"/post\n" + body
            conn.request("GET", "/after")  # the first body-less request asks
            assert conn.getresponse().read() == b"/after\n"
        post, after = server.seen
        assert (post.method, post.body) == ("POST", body)
        assert "upgrade" not in post.headers
        assert after.headers["upgrade"] == "h2c"

    def test_callers_connection_header_means_no_upgrade(self) -> None:
        with h1_server() as server, _client(_address(server)) as conn:
            conn.request("GET", "/", headers={"Connection": "close"})
            conn.getresponse().read()
        assert "upgrade" not in server.seen[0].headers

    def test_force_proto_http11_never_asks(self) -> None:
        with (
            h1_server() as server,
            HTTPConnection(
                _address(server), force_proto="http/1.1", timeout=CLIENT_TIMEOUT
            ) as conn,
        ):
            conn.request("GET", "/")
            conn.getresponse().read()
        assert "upgrade" not in server.seen[0].headers

    def test_http11_has_no_ping_and_no_pushes(self) -> None:
        with h1_server() as server, _client(_address(server)) as conn:
            conn.request("GET", "/")
            conn.getresponse().read()
            with pytest.raises(UnsupportedOperationError):
                conn.ping(b"12345678")
            assert list(conn.get_pushes()) == []

    def test_101_then_garbage_fails_with_a_connection_error(self) -> None:
        with Peer(upgrading(after_101=b"this is not HTTP/2 at all\r\n" * 4)) as peer:
            conn = HTTPConnection(peer.address, timeout=CLIENT_TIMEOUT)
            conn.request("GET", "/")
            with pytest.raises(h2_exc.ConnectionError):
                conn.getresponse()
            conn.close()

    def test_101_then_close_fails_with_a_connection_error(self) -> None:
        def script(conn: PeerConnection) -> None:
            _read_head(conn.sock)
            conn.send(SWITCHING)
            conn.close()

        with Peer(script) as peer:
            conn = HTTPConnection(peer.address, timeout=CLIENT_TIMEOUT)
            conn.request("GET", "/")
            with pytest.raises(ConnectionError):
                conn.getresponse()
            conn.close()

    def test_broken_h2c_falls_back_to_http11_on_the_next_connection(self) -> None:
        heads: list[bytes] = []

        def script(conn: PeerConnection) -> None:
            heads.append(_read_head(conn.sock))
            if conn.index == 0:
                conn.send(SWITCHING + b"garbage, not a SETTINGS frame")
                return
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")

        with Peer(script, connections=2) as peer:
            conn = _client(peer.address)
            conn.request("GET", "/")
            with pytest.raises(h2_exc.ConnectionError):
                conn.getresponse()
            conn.close()
            conn.request("GET", "/again")
            resp = conn.getresponse()
            assert (resp.version, resp.read()) == (HTTPVersion.http11, b"ok\n")
            conn.close()
        assert b"upgrade: h2c" in heads[0].lower()
        assert b"upgrade" not in heads[1].lower()

    def test_timeout_waiting_for_the_101_can_be_waited_out(self) -> None:
        go = threading.Event()
        sent = threading.Event()

        def script(conn: PeerConnection) -> None:
            wait(go, "the client's read timeout")
            upgrading(sent=sent)(conn)

        with Peer(script) as peer:
            conn = _client(peer.address, timeout=(CLIENT_TIMEOUT, SHORT_TIMEOUT))
            conn.request("GET", "/slow")
            with pytest.raises(common_exc.TimeoutError):
                conn.getresponse()
            go.set()
            wait(sent, "the 101 and the response")  # so this read has nothing to wait for
            resp = conn.getresponse()
            assert (resp.stream_id, resp.read()) == (1, b"upgraded\n")
            conn.close()

    def test_getresponse_without_a_request(self) -> None:
        with pytest.raises(http.client.ImproperConnectionState):
            _client("127.0.0.1:1").getresponse()

    def test_prior_knowledge(self) -> None:
        with Peer(serving(echo)) as peer, _client(peer.address, force_proto="h2") as conn:
            assert conn.getresponse(conn.request("GET", "/pk")).read() == b"/pk\n"
            assert conn.version is HTTPVersion.http20

    def test_close_then_reuse_negotiates_again(self) -> None:
        with Peer(upgrading(), connections=2) as peer:
            conn = HTTPConnection(peer.address, timeout=CLIENT_TIMEOUT)
            for _ in range(2):
                conn.request("GET", "/")
                assert conn.getresponse().read() == b"upgraded\n"
                conn.close()
        assert len(peer.conns) == 2


class TestLowLevelAPI:
    def test_putrequest_over_http2(self, server_tls, client_tls) -> None:
        with (
            Peer(serving(echo), tls=server_tls(("h2",))) as peer,
            HTTPConnection(
                peer.address, secure=True, ssl_context=client_tls, timeout=CLIENT_TIMEOUT
            ) as conn,
        ):
            stream_id = conn.putrequest("POST", "/low")
            conn.putheader("x-a", "1", stream_id)
            conn.endheaders(b"abc", stream_id=stream_id)
            conn.send(b"def", final=True, stream_id=stream_id)
            assert conn.getresponse(stream_id).read() == b"/low\nabcdef"


# ---------------------------------------------------------------------------
# Real servers


@pytest.mark.interop
class TestNginx:
    def test_h2_port_speaks_http2(self, nginx) -> None:
        with HTTPConnection(
            nginx.authority, secure=True, ssl_context=nginx.ssl_context(), timeout=CLIENT_TIMEOUT
        ) as conn:
            first = conn.request("GET", "/small.txt")
            second = conn.request("GET", "/1k.bin")
            assert conn.version is HTTPVersion.http20
            assert conn.getresponse(second).read() == nginx.docroot.read("1k.bin")
            resp = conn.getresponse(first)
            assert (resp.status, resp.read()) == (200, servers.SMALL_BODY)

    def test_http11_only_port_falls_back(self, nginx) -> None:
        with HTTPConnection(
            f"{nginx.host}:{nginx.ports['h1']}",
            secure=True,
            ssl_context=nginx.ssl_context(),
            timeout=CLIENT_TIMEOUT,
        ) as conn:
            for name in ("small.txt", "1m.bin"):
                conn.request("GET", "/" + name)
                resp = conn.getresponse()
                assert (resp.version, resp.read()) == (
                    HTTPVersion.http11,
                    nginx.docroot.read(name),
                )
            assert conn.version is HTTPVersion.http11

    def test_gzip_is_decoded_either_way(self, nginx) -> None:
        expected = nginx.docroot.read("text.txt")
        for port in (nginx.port, nginx.ports["h1"]):
            with HTTPConnection(
                f"{nginx.host}:{port}",
                secure=True,
                ssl_context=nginx.ssl_context(),
                timeout=CLIENT_TIMEOUT,
            ) as conn:
                stream_id = conn.request("GET", "/text.txt")
                resp = conn.getresponse(stream_id)
                assert resp.headers[b"content-encoding"] == [b"gzip"]
                assert resp.read() == expected


@pytest.mark.interop
class TestH2OUpgrade:
    def _conn(self, h2o: servers.Server) -> HTTPConnection:
        return HTTPConnection(h2o.host, h2o.ports["plain"], timeout=CLIENT_TIMEOUT)

    def test_upgrade_then_multiplexed_requests(self, h2o) -> None:
        with self._conn(h2o) as conn:
            conn.request("GET", "/small.txt")
            resp = conn.getresponse()
            assert (resp.version, resp.stream_id) == (HTTPVersion.http20, 1)
            assert resp.read() == servers.SMALL_BODY
            assert conn.version is HTTPVersion.http20
            names = ["1k.bin", "index.html", "1m.bin", "style.css"]
            ids = [conn.request("GET", "/" + name) for name in names]
            assert ids == [3, 5, 7, 9]
            for name, stream_id in reversed(list(zip(names, ids))):
                assert conn.getresponse(stream_id).read() == h2o.docroot.read(name)

    def test_post_first_goes_over_http11_intact(self, h2o) -> None:
        body = bytes(range(256)) * 4096  # 1 MiB
        with self._conn(h2o) as conn:
            conn.request("POST", "/upload", body=body)
            resp = conn.getresponse()
            assert (resp.version, resp.read()) == (HTTPVersion.http11, b"%d\n" % len(body))
            conn.request("GET", "/small.txt")  # this one asks for the upgrade
            assert conn.getresponse().read() == servers.SMALL_BODY
            assert conn.version is HTTPVersion.http20
            stream_id = conn.request("POST", "/upload", body=body)
            assert conn.getresponse(stream_id).read() == b"%d\n" % len(body)

    def test_threads_share_the_upgraded_connection(self, h2o) -> None:
        with self._conn(h2o) as conn:
            conn.request("GET", "/small.txt")
            assert conn.getresponse().read() == servers.SMALL_BODY
            results = servers.run_concurrent_gets(
                conn, h2o.docroot, ["1k.bin", "small.txt"], total=16, threads=4
            )
            assert len(results) == 16 and all(results.values())

    def test_prior_knowledge_on_the_plaintext_port(self, h2o) -> None:
        with HTTPConnection(
            h2o.host, h2o.ports["plain"], force_proto="h2", timeout=CLIENT_TIMEOUT
        ) as conn:
            stream_id = conn.request("GET", "/small.txt")
            assert conn.getresponse(stream_id).read() == servers.SMALL_BODY
            assert conn.version is HTTPVersion.http20
