"""
hyper as a drop-in for ``http.client`` (issue 23): the standard library's own
consumers (``urllib.request``, ``xmlrpc.client``) on hyper's connections
against real servers, and each ``http.client`` name the connections and
responses answer to, against the scripted peers (``support.h1peer``,
``support.peer``). CPython's own suites of urllib and xmlrpc run on hyper in a
CI step of their own (``test/stdlib/hyper_stdlib.py``).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import http.client
import io
import json
import shutil
import socket
import threading
import urllib.request
import xmlrpc.client
import xmlrpc.server
from collections.abc import Iterator
from typing import Any

import pytest
from support import servers
from support.h1peer import H1Conn, H1Peer, H1Request, ok
from support.peer import Peer, PeerConnection, Request, serving
from support.timeouts import CLIENT_TIMEOUT, SHORT_TIMEOUT

import hyper
import hyper.http20.exceptions
from hyper import HTTP11Connection, HTTP11Response, HTTP20Connection, HTTP20Response
from hyper.common import exceptions as exc
from hyper.common.util import HTTPVersion

BODY = b"".join(b"line %04d\n" % n for n in range(2000))  # 20 KB of lines


def echo_requests(count: int) -> Any:
    """Answer ``count`` requests with their body, then wait for the close."""

    def script(conn: H1Conn) -> None:
        for _ in range(count):
            request = conn.read_request()
            if request is None:
                return
            conn.send(ok(request.body))
        conn.read_until_closed()

    return script


@contextlib.contextmanager
def h1(script: Any, connections: int = 1, **kwargs: Any) -> Iterator[tuple[Any, H1Peer]]:
    """A scripted HTTP/1.1 server and a plaintext HTTP11Connection to it."""
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    with H1Peer(script, connections=connections) as peer:
        conn = HTTP11Connection(peer.address, **kwargs)
        try:
            yield conn, peer
        finally:
            conn.close()


def only(peer: H1Peer) -> H1Request:
    (request,) = peer.requests
    return request


def h2_recorder(body: bytes = b"ok", headers: Any = ()) -> tuple[Any, list[Request]]:
    """A scripted HTTP/2 handler answering ``body``, and the requests it saw."""
    seen: list[Request] = []

    def handler(conn: PeerConnection, request: Request) -> None:
        seen.append(request)
        conn.respond(request.stream_id, 200, headers, body)

    return serving(handler), seen


# ---------------------------------------------------------------------------
# The standard library's consumers, as quickstart.rst shows them


class HyperHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(hyper.HTTPConnection, req)


class HyperHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(hyper.HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


class HyperTransport(xmlrpc.client.Transport):
    def make_connection(self, host: Any) -> Any:
        if self._connection and host == self._connection[0]:  # type: ignore[attr-defined]
            return self._connection[1]  # type: ignore[attr-defined]
        chost, self._extra_headers, _ = self.get_host_info(host)  # type: ignore[attr-defined]
        self._connection = host, hyper.HTTPConnection(chost)  # type: ignore[attr-defined]
        return self._connection[1]  # type: ignore[attr-defined]


@pytest.fixture
def xmlrpc_server() -> Iterator[str]:
    """Python's own XML-RPC server on loopback; it gzips large responses."""
    server = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
    server.register_function(lambda n: "x" * n, "text")
    server.register_function(pow)
    server.encode_threshold = 100  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/RPC2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(SHORT_TIMEOUT)


@pytest.mark.interop
class TestStandardLibraryConsumers:
    def test_urllib_over_http2(self, nghttpd: servers.Server, docroot: Any) -> None:
        """urllib closes the connection's socket right after getresponse();
        the HTTP/2 stream is read to its end all the same."""
        handler = HyperHTTPSHandler(context=nghttpd.ssl_context())
        opener = urllib.request.build_opener(handler)
        with opener.open(nghttpd.url("/1m.bin"), timeout=CLIENT_TIMEOUT) as resp:
            assert resp.version is HTTPVersion.http20
            assert resp.getcode() == 200 and resp.msg == ""  # urllib set msg to the reason
            assert resp.geturl() == nghttpd.url("/1m.bin")
            assert hashlib.sha256(resp.read()).hexdigest() == docroot.sha256("1m.bin")

    def test_urllib_over_http11_keeps_reading_after_the_socket_is_closed(self) -> None:
        """urllib's sock.close() takes effect once the body is read, as with
        http.client: a response larger than the socket buffers arrives whole."""
        big = BODY * 50  # 1 MB: still on the wire when urllib closes the socket
        with H1Peer(lambda c: (c.read_request(), c.send(ok(big)))) as peer:
            opener = urllib.request.build_opener(HyperHTTPHandler())
            with opener.open(f"http://{peer.address}/x", timeout=CLIENT_TIMEOUT) as resp:
                lines = list(resp)
            assert b"".join(lines) == big and len(lines) == 100_000
            request = only(peer)
            assert request.header(b"connection") == b"close"
            assert b"Host" in [name for name, _ in request.raw_headers]

    def test_xmlrpc_on_hyper_with_gzip_responses(self, xmlrpc_server: str) -> None:
        """xmlrpc asks for gzip itself and un-gzips the body: hyper leaves the
        body as sent. A kept-alive connection serves the next call."""
        proxy = xmlrpc.client.ServerProxy(xmlrpc_server, transport=HyperTransport())
        with proxy:
            assert proxy.text(5000) == "x" * 5000  # gzipped by the server
            assert proxy.pow(2, 10) == 1024


# ---------------------------------------------------------------------------
# Connection arguments and attributes


class TestConnectionArguments:
    @pytest.mark.parametrize("cls", [HTTP11Connection, HTTP20Connection, hyper.HTTPConnection])
    def test_http_client_timeout_sentinel_means_the_socket_default(self, cls: Any) -> None:
        """urllib passes socket._GLOBAL_DEFAULT_TIMEOUT: a stalled server
        times out after socket.getdefaulttimeout()."""

        def stall(conn: H1Conn) -> None:
            conn.read_request()
            conn.read_until_closed()

        before = socket.getdefaulttimeout()
        socket.setdefaulttimeout(SHORT_TIMEOUT / 4)
        try:
            with H1Peer(stall) as peer:
                conn = cls(peer.address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, secure=False)
                if cls is HTTP20Connection:
                    with pytest.raises(exc.TimeoutError):
                        conn.connect()  # no SETTINGS from an HTTP/1.1 server
                else:
                    conn.request("GET", "/")
                    with pytest.raises(exc.TimeoutError):
                        conn.getresponse()
                conn.close()
        finally:
            socket.setdefaulttimeout(before)

    def test_third_positional_number_is_the_timeout(self) -> None:
        """HTTPConnection(host, port, timeout): a stalled server times out."""

        def stall(conn: H1Conn) -> None:
            conn.read_request()
            conn.read_until_closed()

        with H1Peer(stall) as peer:
            host, port = peer.address.rsplit(":", 1)
            conn = HTTP11Connection(host, int(port), SHORT_TIMEOUT / 4)
            assert conn.secure is False
            conn.request("GET", "/")
            with pytest.raises(exc.TimeoutError):
                conn.getresponse()
            conn.close()

    def test_source_address(self) -> None:
        seen = []

        def script(conn: H1Conn) -> None:
            seen.append(conn.sock.getpeername())
            echo_requests(1)(conn)

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            source_port = probe.getsockname()[1]
        with h1(script, source_address=("127.0.0.1", source_port)) as (conn, _):
            conn.request("GET", "/")
            conn.getresponse().read()
        assert seen == [("127.0.0.1", source_port)]

    def test_blocksize_bounds_file_reads(self) -> None:
        sizes: list[int] = []

        class File(io.BytesIO):
            def read(self, size: int | None = -1) -> bytes:
                sizes.append(size if size is not None else -1)
                return super().read(size)

        with h1(echo_requests(1), blocksize=1000) as (conn, _):
            conn.request("PUT", "/", body=File(b"z" * 5000))
            assert conn.getresponse().read() == b"z" * 5000
        assert sizes and max(sizes) == 1000

    def test_https_connection_takes_http_clients_arguments(self, server_tls: Any, ca: Any) -> None:
        context = __import__("ssl").create_default_context()
        ca.configure_trust(context)
        with H1Peer(echo_requests(1), tls=server_tls(("http/1.1",))) as peer:
            host, port = peer.address.rsplit(":", 1)
            conn = hyper.HTTPSConnection(
                host, int(port), None, None, CLIENT_TIMEOUT, context=context
            )
            conn.request("POST", "/", body=b"secret")
            resp = conn.getresponse()
            assert (resp.version, resp.read()) == (HTTPVersion.http11, b"secret")
            assert isinstance(resp, HTTP11Response)
            conn.close()

    def test_https_connection_key_and_cert_files(
        self, server_tls: Any, ca: Any, tmp_path: Any
    ) -> None:
        """http.client's client certificate arguments reach the handshake."""
        import ssl

        server = server_tls(("http/1.1",))
        server.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(server)
        pem = tmp_path / "client.pem"
        ca.issue_cert("client.example").private_key_and_cert_chain_pem.write_to_path(str(pem))
        context = ssl.create_default_context()
        ca.configure_trust(context)
        peers = []

        def script(conn: H1Conn) -> None:
            peers.append(conn.sock.getpeercert())
            echo_requests(1)(conn)

        with H1Peer(script, tls=server) as peer:
            host, port = peer.address.rsplit(":", 1)
            conn = hyper.HTTPSConnection(
                host, int(port), cert_file=str(pem), timeout=CLIENT_TIMEOUT, context=context
            )
            conn.request("GET", "/")
            assert conn.getresponse().read() == b""
            conn.close()
        assert ("DNS", "client.example") in peers[0]["subjectAltName"]

    def test_default_port_and_auto_open(self) -> None:
        assert HTTP11Connection.default_port == 80
        assert HTTP20Connection.default_port == hyper.HTTPSConnection.default_port == 443
        assert HTTP11Connection("example.com").port == 80
        conn = HTTP11Connection("127.0.0.1:1", timeout=SHORT_TIMEOUT)
        conn.auto_open = 0
        with pytest.raises(http.client.NotConnected):
            conn.request("GET", "/")

    @pytest.mark.parametrize("cls", [HTTP11Connection, hyper.HTTPConnection])
    def test_set_tunnel_opens_a_connect_tunnel_even_for_http(self, cls: Any) -> None:
        def proxy(conn: H1Conn) -> None:
            connect = conn.read_head()
            assert connect is not None
            conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            echo_requests(1)(conn)

        with H1Peer(proxy) as peer:
            conn = cls(peer.address, timeout=CLIENT_TIMEOUT, secure=False)
            conn.set_tunnel("example.com", 8080, headers={"Proxy-Authorization": "Basic eA=="})
            conn.request("GET", "/in")
            assert conn.getresponse().read() == b""
            with pytest.raises(RuntimeError):
                conn.set_tunnel("other.example")
            conn.close()
        connect, request = peer.requests
        assert (connect.method, connect.target) == (b"CONNECT", b"example.com:8080")
        assert connect.header(b"proxy-authorization") == b"Basic eA=="
        assert request.target == b"/in"
        assert request.header(b"host") == b"example.com:8080"
        assert request.header(b"proxy-authorization") is None

    def test_set_debuglevel_prints_the_exchange(self, capsys: Any) -> None:
        with h1(echo_requests(1)) as (conn, _):
            conn.set_debuglevel(1)
            conn.request("POST", "/d", body=b"hi")
            conn.getresponse().read()
        out = capsys.readouterr().out
        assert out.startswith("send: b'POST /d HTTP/1.1\\r\\nHost: ")
        assert "reply: 'HTTP/1.1 200 OK\\r\\n'" in out
        assert "header: Content-Length: 2" in out

    def test_set_debuglevel_over_http2(self, capsys: Any) -> None:
        script, _ = h2_recorder()
        with Peer(script) as peer, HTTP20Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn:
            conn.set_debuglevel(1)
            conn.getresponse(conn.request("GET", "/d")).read()
        out = capsys.readouterr().out
        assert "send: 'HEADERS stream 1\\r\\n:method: GET\\r\\n" in out
        assert "reply: 'HTTP/2 200\\r\\n'" in out

    def test_response_class(self) -> None:
        class Mine(HTTP11Response):
            pass

        with h1(echo_requests(1)) as (conn, _):
            conn.response_class = Mine
            conn.request("GET", "/")
            assert type(conn.getresponse()) is Mine

    def test_http2_response_class(self) -> None:
        class Mine(HTTP20Response):
            pass

        script, _ = h2_recorder()
        with Peer(script) as peer, HTTP20Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn:
            conn.response_class = Mine
            assert type(conn.getresponse(conn.request("GET", "/"))) is Mine


class TestSock:
    def test_reflects_the_connection_and_none_is_harmless(self) -> None:
        with h1(echo_requests(2), connections=2) as (conn, peer):
            assert conn.sock is None
            conn.request("GET", "/1")
            assert conn.sock is not None
            resp = conn.getresponse()
            conn.sock.close()  # what urllib does: the response holds the socket
            conn.sock = None
            assert resp.read() == b""
            conn.request("POST", "/2", body=b"again")  # a new socket
            assert conn.getresponse().read() == b"again"
        assert peer.accepted == 2

    def test_http2_sock_close_waits_for_the_streams(self) -> None:
        script, _ = h2_recorder(BODY * 20)
        with Peer(script) as peer, HTTP20Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn:
            resp = conn.getresponse(conn.request("GET", "/"))
            conn.sock.close()
            conn.sock = None
            assert resp.read() == BODY * 20

    def test_a_connect_override_may_set_its_own_socket(self) -> None:
        """The SOCKS libraries' way: connect() sets self.sock."""
        made = []

        class Mine(HTTP11Connection):
            def connect(self) -> None:
                sock = socket.create_connection((self.host, self.port), CLIENT_TIMEOUT)
                made.append(sock)
                self.sock = sock

        with H1Peer(echo_requests(1)) as peer:
            conn = Mine(peer.address, timeout=CLIENT_TIMEOUT)
            conn.request("POST", "/", body=b"via my socket")
            assert conn.getresponse().read() == b"via my socket"
            assert conn.sock is made[0]
            conn.close()


# ---------------------------------------------------------------------------
# Request calls


class TestRequests:
    def test_field_names_keep_their_case_and_host_is_host(self) -> None:
        with h1(echo_requests(1)) as (conn, peer):
            conn.request("POST", "/", body=b"x", headers={"X-CamelCase": "1"})
            conn.getresponse().read()
        names = [name for name, _ in only(peer).raw_headers]
        assert names[0] == b"Host"
        assert {b"X-CamelCase", b"Accept-Encoding", b"User-Agent", b"Content-Length"} <= set(names)

    def test_encode_chunked_true_chunks_the_body(self) -> None:
        with h1(echo_requests(1)) as (conn, peer):
            conn.request(
                "POST",
                "/",
                body=iter([b"ab", b"cd"]),
                headers={"Transfer-Encoding": "chunked"},
                encode_chunked=True,
            )
            assert conn.getresponse().read() == b"abcd"
        assert only(peer).header(b"transfer-encoding") == b"chunked"

    def test_a_body_chunk_encoded_by_the_caller_is_sent_once_framed(self) -> None:
        """http.client's default: with the caller's Transfer-Encoding the
        body is chunk-encoded already (its trailers come along)."""
        framed = [b"4\r\nwiki\r\n5\r\npedia\r", b"\n0\r\nX-Sum: 9\r\n\r\n"]
        with h1(echo_requests(1)) as (conn, peer):
            conn.request("POST", "/", body=iter(framed), headers={"Transfer-Encoding": "chunked"})
            assert conn.getresponse().read() == b"wikipedia"
        assert only(peer).trailers == [(b"X-Sum", b"9")]

    def test_prechunked_over_http2_sends_the_payload_and_trailers(self) -> None:
        script, seen = h2_recorder()
        with Peer(script) as peer, HTTP20Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn:
            conn.putrequest("POST", "/")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            conn.send(b"3\r\nabc\r\n")
            conn.send(b"0\r\nx-sum: 3\r\n\r\n")
            assert conn.getresponse().read() == b"ok"
        assert bytes(seen[0].body) == b"abc"
        assert seen[0].trailers == [(b"x-sum", b"3")]

    def test_http_client_put_calls(self) -> None:
        """putrequest/putheader/endheaders(body), as xmlrpc.client sends."""
        with h1(echo_requests(1)) as (conn, peer):
            conn.putrequest("POST", "/RPC2", skip_accept_encoding=True)
            conn.putheader("X-Folded", "one", "two")
            conn.putheader("Content-Length", 4)
            conn.endheaders(b"body")
            assert conn.getresponse().read() == b"body"
        request = only(peer)
        assert request.header(b"accept-encoding") is None
        assert request.header(b"x-folded") == b"one two"

    def test_http2_getresponse_ends_a_request_left_open(self) -> None:
        """endheaders() then send() then getresponse(): http.client's
        upload of a body of known length, over HTTP/2."""
        script, seen = h2_recorder()
        with Peer(script) as peer, HTTP20Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn:
            conn.putrequest("PUT", "/up")
            conn.putheader("content-type", "text/plain", None)  # historic: stream_id
            conn.putheader("Content-Length", 18)
            conn.endheaders(b"part one, ")
            conn.send(b"part two")
            assert conn.getresponse().read() == b"ok"
        assert bytes(seen[0].body) == b"part one, part two"
        assert seen[0].fields[b"content-type"] == b"text/plain"

    def test_absolute_url_and_query_only_targets_go_as_given(self) -> None:
        with h1(echo_requests(2)) as (conn, peer):
            conn.request("GET", "http://origin.example/a?b")
            conn.getresponse().read()
            conn.request("POST", "?k=v", body=b"")
            conn.getresponse().read()
        first, second = peer.requests
        assert (first.target, first.header(b"host")) == (
            b"http://origin.example/a?b",
            b"origin.example",
        )
        assert second.target == b"?k=v"


# ---------------------------------------------------------------------------
# Responses as io.BufferedIOBase


@contextlib.contextmanager
def h1_response(body: bytes, *headers: bytes) -> Iterator[HTTP11Response]:
    with h1(lambda c: (c.read_request(), c.send(ok(body, *headers)), c.read_until_closed())) as (
        conn,
        _,
    ):
        conn.request("GET", "/")
        yield conn.getresponse()


class TestResponsesAreFiles:
    def test_buffered_io_base_and_the_stdlib_readers(self) -> None:
        with h1_response(b'{"a": [1, 2]}') as resp:
            assert isinstance(resp, io.BufferedIOBase) and resp.readable()
            assert not resp.seekable() and not resp.writable() and not resp.isatty()
            assert json.load(resp) == {"a": [1, 2]}
        with h1_response(b"a,b\r\n1,2\r\n") as resp:
            assert list(csv.reader(io.TextIOWrapper(resp, encoding="utf-8"))) == [
                ["a", "b"],
                ["1", "2"],
            ]
        with h1_response(BODY) as resp:
            out = io.BytesIO()
            shutil.copyfileobj(resp, out)
            assert out.getvalue() == BODY

    def test_iteration_and_readline_go_by_line(self) -> None:
        with h1_response(BODY) as resp:
            assert resp.readline() == b"line 0000\n"
            assert resp.readline(4) == b"line"
            assert resp.readlines(15) == [b" 0001\n", b"line 0002\n"]
            rest = list(resp)
            assert len(rest) == 1997 and rest[-1] == b"line 1999\n"

    def test_read_fills_while_read1_peek_and_readinto1_take_what_is_there(self) -> None:
        with h1_response(b"0123456789") as resp:
            assert resp.peek()[:1] == b"0"
            assert resp.read1(3) == b"012"
            buf = bytearray(4)
            assert resp.readinto1(buf) == 4 and buf == b"3456"
            assert resp.read(10) == b"789"
            assert resp.read(10) == b""
            assert resp.isclosed() and not resp.closed
            resp.close()
            assert resp.closed

    def test_http_client_attributes(self) -> None:
        with h1_response(
            b"hello", b"Content-Type: text/plain; charset=latin-1", b"Connection: close"
        ) as resp:
            assert resp.code == resp.getcode() == resp.status == 200
            assert resp.geturl() is None
            resp.url = "http://example.com/"
            assert resp.geturl() == "http://example.com/"
            assert resp.will_close and not resp.chunked
            assert resp.length == 5
            resp.begin()
            assert resp.read(2) == b"he" and resp.length == 3
            info = resp.info()
            assert isinstance(info, http.client.HTTPMessage)
            assert info["content-type"] == "text/plain; charset=latin-1"
            assert resp.msg is info
            resp.msg = "OK"  # what urllib does
            assert resp.msg == "OK" and resp.info() is info

    def test_headers_keep_the_historic_api_beside_messages_readers(self) -> None:
        with h1_response(
            b"", b"Content-Type: text/html; charset=UTF-8", b"Set-Cookie: a=1", b"Set-Cookie: b=2"
        ) as resp:
            headers = resp.headers
            assert headers["content-type"] == [b"text/html; charset=UTF-8"]  # historic
            assert headers.get_content_charset() == "utf-8"  # email.message.Message's
            assert headers.get_content_type() == "text/html"
            assert headers.get_all("set-cookie") == ["a=1", "b=2"]
            assert resp.info().get_all("Set-Cookie") == ["a=1", "b=2"]
            assert resp.info()["CONTENT-TYPE"] == "text/html; charset=UTF-8"

    def test_skip_accept_encoding_means_the_caller_decodes(self) -> None:
        """http.client's flag (xmlrpc's way to ask for gzip and un-gzip):
        the body stays as sent; otherwise hyper decodes, even with the
        caller's own Accept-Encoding (the historic behaviour)."""
        zipped = gzip.compress(BODY)

        def script(conn: H1Conn) -> None:
            for _ in range(3):
                conn.read_request()
                conn.send(ok(zipped, b"Content-Encoding: gzip"))
            conn.read_until_closed()

        with h1(script) as (conn, _):
            conn.request("GET", "/")
            assert conn.getresponse().read() == BODY
            conn.request("GET", "/", headers={"Accept-Encoding": "gzip"})
            assert conn.getresponse().read() == BODY
            conn.putrequest("GET", "/", skip_accept_encoding=True)
            conn.putheader("Accept-Encoding", "gzip")
            conn.endheaders()
            resp = conn.getresponse()
            assert resp.getheader("content-encoding") == "gzip"
            assert resp.read() == zipped


# ---------------------------------------------------------------------------
# http.client's exceptions


class TestErrors:
    def test_closed_without_answering_is_remote_disconnected(self) -> None:
        with h1(lambda c: (c.read_request(), c.close())) as (conn, _):
            conn.request("GET", "/")
            with pytest.raises(http.client.RemoteDisconnected) as info:
                conn.getresponse()
        assert isinstance(info.value, exc.ConnectionResetError)

    def test_http2_connection_lost_before_the_answer_is_remote_disconnected(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            conn.expect_complete_request()
            conn.close()

        with Peer(script) as peer, HTTP20Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn:
            stream_id = conn.request("GET", "/")
            with pytest.raises(http.client.RemoteDisconnected) as info:
                conn.getresponse(stream_id)
        assert isinstance(info.value, hyper.http20.exceptions.ConnectionLostError)

    def test_cut_body_is_incomplete_read_with_partial(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
        with h1(lambda c: (c.read_request(), c.send(head + b"0123456789"), c.close())) as (
            conn,
            _,
        ):
            conn.request("GET", "/")
            resp = conn.getresponse()
            with pytest.raises(http.client.IncompleteRead) as info:
                resp.read()
        assert (info.value.partial, info.value.expected) == (b"0123456789", 90)
        assert isinstance(info.value, ConnectionResetError)

    @pytest.mark.parametrize(
        ("head", "error"),
        [
            (b"HTTX/1.1 200 OK\r\n\r\n", http.client.BadStatusLine),
            (b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", http.client.UnknownProtocol),
        ],
    )
    def test_bad_status_lines(self, head: bytes, error: type) -> None:
        with h1(lambda c: (c.read_request(), c.send(head), c.read_until_closed())) as (conn, _):
            conn.request("GET", "/")
            with pytest.raises(error) as info:
                conn.getresponse()
        assert isinstance(info.value, exc.InvalidResponseError)
        assert isinstance(info.value, http.client.HTTPException)
