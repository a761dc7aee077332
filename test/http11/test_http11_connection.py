"""
Tests of :class:`hyper.HTTP11Connection`: the request on the wire (headers,
every body kind, validation before sending), keep-alive reuse and when a
new socket is (and is not) opened, unread bodies, proxies, TLS, timeouts,
the ``putrequest`` spelling; against a scripted HTTP/1.1 server
(``test/support/h1peer.py``) and against nginx (interop).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from support import servers
from support.h1peer import H1Conn, H1Peer, H1Request, chunked, ok, replying
from support.listener import silent_listener
from support.timeouts import CLIENT_TIMEOUT, SHORT_TIMEOUT, TIMEOUT, wait

import hyper
from hyper import HTTP11Connection, HTTP11Response
from hyper.common import exceptions as common_exc
from hyper.common.decoder import accept_encoding
from hyper.common.util import HTTPVersion
from hyper.http11.connection import ImproperConnectionStateError
from hyper.http11.response import DRAIN_LIMIT

BODY = bytes(range(256)) * 400  # 100 KiB


@contextlib.contextmanager
def connected(
    script: Any, connections: int = 3, **kwargs: Any
) -> Iterator[tuple[HTTP11Connection, H1Peer]]:
    """A scripted server and a client of it. The server accepts up to
    ``connections`` connections, so a test can count how many were made."""
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    peer = H1Peer(script, connections=connections)
    with peer, HTTP11Connection(peer.address, **kwargs) as conn:
        yield conn, peer


def echo_requests(count: int) -> Any:
    """Answer ``count`` whole requests with their body, then wait for the close."""

    def script(conn: H1Conn) -> None:
        for _ in range(count):
            request = conn.read_request()
            if request is None:
                return
            conn.send(ok(request.body))
        conn.read_until_closed()

    return script


def only_request(peer: H1Peer) -> H1Request:
    (request,) = peer.requests
    return request


class TestPublicSurface:
    def test_exported_from_hyper(self) -> None:
        assert "HTTP11Connection" in hyper.__all__
        assert "HTTP11Response" in hyper.__all__
        assert hyper.HTTP11Connection is HTTP11Connection

    def test_attributes(self) -> None:
        conn = HTTP11Connection("example.com:8080", timeout=(1, 2))
        assert (conn.host, conn.port, conn.secure) == ("example.com", 8080, False)
        assert conn.version is HTTPVersion.http11
        assert conn.timeout == (1, 2)
        assert HTTP11Connection("example.com").port == 80
        assert HTTP11Connection("example.com", 443).secure
        assert HTTP11Connection("[::1]:81").host == "::1"

    def test_unknown_keyword_arguments_are_ignored(self) -> None:
        HTTP11Connection("example.com", enable_push=True, window_manager=None)

    def test_proxy_host_carries_port_and_credentials(self) -> None:
        conn = HTTP11Connection("example.com", proxy_host="user:pw@proxy.local:3128")
        assert (conn.proxy_host, conn.proxy_port) == ("proxy.local", 3128)
        assert conn.proxy_headers is not None

    def test_getresponse_without_request(self) -> None:
        conn = HTTP11Connection("example.com")
        with pytest.raises(ImproperConnectionStateError) as info:
            conn.getresponse()
        assert isinstance(info.value, http.client.ImproperConnectionState)
        assert isinstance(info.value, common_exc.HyperError)


class TestRequestHead:
    def test_default_headers(self) -> None:
        with connected(echo_requests(1)) as (conn, peer):
            conn.request("GET", "/path?q=1")
            assert conn.getresponse().read() == b""
        request = only_request(peer)
        assert (request.method, request.target, request.version) == (
            b"GET",
            b"/path?q=1",
            b"HTTP/1.1",
        )
        assert request.header(b"host") == f"127.0.0.1:{peer.port}".encode()
        assert request.header(b"accept-encoding") == accept_encoding()
        assert request.header(b"user-agent") == b"hyper/" + hyper.__version__.encode()
        assert request.header(b"content-length") is None
        assert request.header(b"transfer-encoding") is None

    def test_callers_headers_win_and_are_not_doubled(self) -> None:
        headers = {"User-Agent": "me", "Accept-Encoding": "identity", "X-Num": 5}
        with connected(echo_requests(1)) as (conn, peer):
            conn.request("GET", "/", headers=headers)
            conn.getresponse().read()
        request = only_request(peer)
        assert request.names().count(b"user-agent") == 1
        assert request.header(b"user-agent") == b"me"
        assert request.header(b"accept-encoding") == b"identity"
        assert request.header(b"x-num") == b"5"

    def test_host_header_of_default_port_has_no_port(self) -> None:
        """Seen by a plain-http proxy, which gets the request in absolute form."""
        peer = H1Peer(echo_requests(1))
        with peer, HTTP11Connection(
            "example.com", proxy_host=peer.address, timeout=CLIENT_TIMEOUT
        ) as conn:
            conn.request("GET", "/")
            conn.getresponse().read()
        request = only_request(peer)
        assert request.target == b"http://example.com/"
        assert request.headers[0] == (b"host", b"example.com")

    def test_absolute_url_goes_in_absolute_form_with_its_host(self) -> None:
        """As http.client sends it (how urllib talks to a plain-http proxy)."""
        with connected(echo_requests(1)) as (conn, peer):
            conn.request("GET", "http://other.example:8000/a/b?c")
            conn.getresponse().read()
        request = only_request(peer)
        assert request.target == b"http://other.example:8000/a/b?c"
        assert request.header(b"host") == b"other.example:8000"

    def test_post_without_body_sends_zero_length(self) -> None:
        with connected(echo_requests(1)) as (conn, peer):
            conn.request("POST", "/")
            conn.getresponse().read()
        assert only_request(peer).header(b"content-length") == b"0"

    def test_invalid_header_raises_before_sending(self) -> None:
        with connected(echo_requests(1), connections=1) as (conn, peer):
            with pytest.raises(ValueError):
                conn.request("GET", "/", headers={"X-Bad": "a\r\nInjected: yes"})
            conn.request("GET", "/fine")
            conn.getresponse().read()
        assert [r.target for r in peer.requests] == [b"/fine"]


class TestRequestBodies:
    def test_bytes(self) -> None:
        with connected(echo_requests(1)) as (conn, peer):
            conn.request("POST", "/", body=BODY)
            assert conn.getresponse().read() == BODY
        assert only_request(peer).header(b"content-length") == b"%d" % len(BODY)

    def test_str_is_utf8(self) -> None:
        with connected(echo_requests(1)) as (conn, _):
            conn.request("POST", "/", body="h\u00e9llo")
            assert conn.getresponse().read() == "h\u00e9llo".encode()

    def test_bytearray_and_memoryview(self) -> None:
        with connected(echo_requests(2)) as (conn, _):
            conn.request("POST", "/", body=bytearray(b"abc"))
            assert conn.getresponse().read() == b"abc"
            conn.request("POST", "/", body=memoryview(BODY))
            assert conn.getresponse().read() == BODY

    def test_file_gets_its_size_and_is_streamed(self, tmp_path: Path) -> None:
        path = tmp_path / "upload.bin"
        data = bytes(range(256)) * 4096 * 3  # 3 MiB
        path.write_bytes(data)
        reads: list[int] = []

        class Recording(io.FileIO):
            def read(self, size: int = -1) -> bytes:
                reads.append(size)
                return super().read(size)

        with connected(echo_requests(1)) as (conn, peer), Recording(path) as body:
            conn.request("PUT", "/file", body=body)
            assert conn.getresponse().read() == data
        assert only_request(peer).header(b"content-length") == b"%d" % len(data)
        assert reads and all(0 < size <= 1 << 20 for size in reads)

    def test_iterable_is_chunked(self) -> None:
        def pieces() -> Iterator[bytes]:
            yield b"first "
            yield b""
            yield "second "
            yield BODY

        with connected(echo_requests(1)) as (conn, peer):
            conn.request("POST", "/", body=pieces())
            assert conn.getresponse().read() == b"first second " + BODY
        request = only_request(peer)
        assert request.header(b"transfer-encoding") == b"chunked"
        assert request.header(b"content-length") is None
        assert request.chunk_sizes[:2] == [6, 7]

    def test_unsupported_body_raises_before_a_byte_is_sent(self) -> None:
        with connected(echo_requests(2), connections=1) as (conn, peer):
            conn.request("GET", "/first")
            conn.getresponse().read()
            with pytest.raises(TypeError):
                conn.request("POST", "/", body=12345)
            conn.request("GET", "/second")
            conn.getresponse().read()
        assert [r.target for r in peer.requests] == [b"/first", b"/second"]
        assert peer.accepted == 1

    def test_bad_item_in_iterable_raises_and_the_socket_is_dropped(self) -> None:
        def script(conn: H1Conn) -> None:
            conn.read_until_closed()

        def pieces() -> Iterator[Any]:
            yield b"ok"
            yield 42

        with connected([script, echo_requests(1)]) as (conn, peer):
            with pytest.raises(TypeError):
                conn.request("POST", "/", body=pieces())
            conn.request("GET", "/after")
            assert conn.getresponse().status == 200
        assert peer.accepted == 2

    def test_declared_length_not_met_is_a_value_error(self) -> None:
        def script(conn: H1Conn) -> None:
            conn.read_until_closed()

        with connected([script]) as (conn, _), pytest.raises(ValueError):
            conn.request("POST", "/", body=iter([b"abc"]), headers={"Content-Length": "10"})

    def test_early_response_is_read_while_uploading(self) -> None:
        """The server answers 413 after the head; the upload still completes and the
        413 is the response."""

        def script(conn: H1Conn) -> None:
            request = conn.read_head()
            assert request is not None
            conn.send(ok(b"too big", b"Connection: close", status=b"413 Payload Too Large"))
            conn.read_body(request)
            conn.read_until_closed()

        with connected(script) as (conn, _):
            conn.request("POST", "/", body=iter([BODY] * 20))
            response = conn.getresponse()
            assert (response.status, response.read()) == (413, b"too big")


class TestKeepAlive:
    def test_one_socket_for_many_requests(self) -> None:
        with connected(echo_requests(5)) as (conn, peer):
            for index in range(5):
                conn.request("POST", f"/{index}", body=b"%d" % index)
                assert conn.getresponse().read() == b"%d" % index
        assert peer.accepted == 1

    def test_iterating_returns_the_socket(self) -> None:
        responses = [chunked(b"a" * 1000, b"b" * 1000), ok(BODY), chunked(b"end")]
        with connected(replying(*responses)) as (conn, peer):
            for _ in responses:
                conn.request("GET", "/")
                list(conn.getresponse())
        assert peer.accepted == 1

    def test_unread_small_body_is_kept_for_its_response(self) -> None:
        with connected(replying(ok(b"x" * 10000), ok(b"second"))) as (conn, peer):
            conn.request("GET", "/1")
            first = conn.getresponse()
            conn.request("GET", "/2")
            second = conn.getresponse()
            assert second.read() == b"second"
            assert first.read() == b"x" * 10000
        assert peer.accepted == 1

    def test_unread_streamed_body_is_drained_before_the_next_request(self) -> None:
        """A chunked body arriving in pieces, unread and closed: read off and thrown away."""
        gate = threading.Event()

        def script(conn: H1Conn) -> None:
            conn.read_request()
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            if not gate.wait(TIMEOUT):
                raise AssertionError("the client never asked for more")
            conn.send(b"6\r\nsecond\r\n0\r\n\r\n")
            conn.read_request()
            conn.send(ok(b"next"))
            conn.read_until_closed()

        with connected(script) as (conn, peer):
            conn.request("GET", "/1")
            first = conn.getresponse()
            assert first.read(5) == b"first"
            first.close()
            gate.set()
            conn.request("GET", "/2")
            assert conn.getresponse().read() == b"next"
            assert first.read() == b""
        assert peer.accepted == 1

    def test_large_unread_body_closes_the_socket_instead(self) -> None:
        big = b"z" * (4 * DRAIN_LIMIT)

        def script(conn: H1Conn) -> None:
            conn.read_request()
            with contextlib.suppress(OSError):
                conn.send(ok(big))
            conn.read_until_closed()

        with connected([script, echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/big")
            conn.getresponse().close()
            conn.request("GET", "/next")
            assert conn.getresponse().status == 200
        assert peer.accepted == 2

    def test_large_unread_open_body_keeps_a_prefix_then_raises(self) -> None:
        """An open response whose rest was given up says so: never a silent short body."""
        big = b"z" * (8 * DRAIN_LIMIT)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        stream = b"".join(
            b"4000\r\n" + big[i : i + 0x4000] + b"\r\n" for i in range(0, len(big), 0x4000)
        )

        def script(conn: H1Conn) -> None:
            conn.read_request()
            with contextlib.suppress(OSError):
                conn.send(head + stream + b"0\r\n\r\n")
            conn.read_until_closed()

        with connected([script, echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/big")
            first = conn.getresponse()
            conn.request("GET", "/next")
            assert conn.getresponse().status == 200
            got = b""
            with pytest.raises(common_exc.ConnectionError):
                while True:
                    piece = first.read(65536)
                    assert piece, "a short body ended silently"
                    got += piece
            assert DRAIN_LIMIT <= len(got) < len(big)
            assert got == big[: len(got)]
        assert peer.accepted == 2

    def test_requests_before_getresponse_are_answered_in_order(self) -> None:
        with connected(echo_requests(3)) as (conn, peer):
            for body in (b"one", b"two", b"three"):
                conn.request("POST", "/", body=body)
            assert [conn.getresponse().read() for _ in range(3)] == [b"one", b"two", b"three"]
        assert peer.accepted == 1

    def test_server_connection_close_is_honoured(self) -> None:
        first = ok(b"bye", b"Connection: close")
        with connected([replying(first, then_close=True), echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"bye"
            conn.request("GET", "/")
            assert conn.getresponse().status == 200
        assert peer.accepted == 2

    def test_client_connection_close_is_honoured(self) -> None:
        with connected([echo_requests(1), echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/", headers={"Connection": "close"})
            conn.getresponse().read()
            conn.request("GET", "/")
            conn.getresponse().read()
        assert peer.accepted == 2

    def test_http10_server_gets_a_new_socket_per_request(self) -> None:
        old = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        scripts = [replying(old, then_close=True), replying(old, then_close=True)]
        with connected(scripts) as (conn, peer):
            for _ in range(2):
                conn.request("GET", "/")
                assert conn.getresponse().read() == b"hi"
        assert peer.accepted == 2


class TestReconnecting:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_server_closed_between_requests(self, method: str) -> None:
        """The idle socket shows EOF: a new one is used before anything is sent,
        whatever the method."""
        with connected([replying(ok(b"1"), then_close=True), echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"1"
            peer.wait_finished(0)
            conn.request(method, "/", body=b"second")
            assert conn.getresponse().read() == b"second"
        assert peer.accepted == 2
        assert [r.body for r in peer.requests] == [b"", b"second"]

    def test_idempotent_request_is_repeated_when_nothing_came_back(self) -> None:
        """The server read the second request and closed without a byte: a GET is
        sent again on a new socket, once."""

        def first(conn: H1Conn) -> None:
            conn.read_request()
            conn.send(ok(b"one"))
            conn.read_request()  # ...and close without answering

        with connected([first, echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"one"
            conn.request("PUT", "/again", body=b"idem")
            assert conn.getresponse().read() == b"idem"
        assert peer.accepted == 2
        assert [r.target for r in peer.requests] == [b"/", b"/again", b"/again"]

    def test_non_idempotent_request_is_not_repeated(self) -> None:
        def first(conn: H1Conn) -> None:
            conn.read_request()
            conn.send(ok(b"one"))
            conn.read_request()

        with connected([first, echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"one"
            conn.request("POST", "/once", body=b"x")
            with pytest.raises(common_exc.ConnectionResetError):
                conn.getresponse()
            conn.request("GET", "/next")
            assert conn.getresponse().status == 200
        assert [r.target for r in peer.requests] == [b"/", b"/once", b"/next"]

    def test_fresh_socket_closed_without_answer_is_not_repeated(self) -> None:
        def silent(conn: H1Conn) -> None:
            conn.read_request()

        with connected([silent, echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/")
            with pytest.raises(common_exc.ConnectionResetError):
                conn.getresponse()
        assert peer.accepted == 1

    def test_close_then_reuse(self) -> None:
        """Closing the connection fails a response still being read, loudly."""

        def streaming(conn: H1Conn) -> None:
            conn.read_request()
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
            conn.read_until_closed()

        with connected([streaming, echo_requests(1)]) as (conn, peer):
            conn.request("GET", "/")
            response = conn.getresponse()
            conn.close()
            assert response.read(3) == b"abc"
            with pytest.raises(common_exc.ConnectionError):
                response.read()
            conn.request("GET", "/")
            assert conn.getresponse().status == 200
        assert peer.accepted == 2


class TestTimeouts:
    def test_read_timeout_then_the_response_arrives(self) -> None:
        go_on = threading.Event()
        sent = threading.Event()

        def script(conn: H1Conn) -> None:
            conn.read_request()
            wait(go_on, "the client's read timeout")
            conn.send(ok(b"late"))
            sent.set()
            conn.read_until_closed()

        with connected(script, timeout=(CLIENT_TIMEOUT, SHORT_TIMEOUT)) as (conn, _):
            conn.request("GET", "/")
            with pytest.raises(common_exc.TimeoutError) as info:
                conn.getresponse()
            assert isinstance(info.value, TimeoutError)
            go_on.set()
            wait(sent, "the late response")  # so this read has nothing to wait for
            assert conn.getresponse().read() == b"late"

    def test_connect_timeout(self) -> None:
        with silent_listener() as port:
            conn = HTTP11Connection("127.0.0.1", port, secure=True, timeout=SHORT_TIMEOUT)
            with pytest.raises(common_exc.TimeoutError):
                conn.request("GET", "/")


class TestPutRequest:
    def test_streamed_body_is_chunked_and_ended_by_getresponse(self) -> None:
        with connected(echo_requests(1)) as (conn, peer):
            conn.putrequest("POST", "/up")
            conn.putheader("X-One", "1")
            conn.putheader("X-One", "2", replace=True)
            conn.endheaders()
            conn.send(b"abc")
            conn.send(b"def")
            assert conn.getresponse().read() == b"abcdef"
        request = only_request(peer)
        assert request.header(b"x-one") == b"2"
        assert request.header(b"transfer-encoding") == b"chunked"

    def test_http_client_style_with_content_length(self) -> None:
        with connected(echo_requests(1)) as (conn, peer):
            conn.putrequest("PUT", "/up")
            conn.putheader("Content-Length", "6")
            conn.endheaders(b"abc")
            conn.send(b"def", final=True)
            assert conn.getresponse().read() == b"abcdef"
        assert only_request(peer).header(b"transfer-encoding") is None

    def test_final_endheaders_gets_a_length(self) -> None:
        with connected(echo_requests(1)) as (conn, peer):
            conn.putrequest("POST", "/")
            conn.endheaders(b"whole", final=True)
            assert conn.getresponse().read() == b"whole"
        assert only_request(peer).header(b"content-length") == b"5"

    def test_next_request_ends_an_open_body(self) -> None:
        with connected(echo_requests(2)) as (conn, peer):
            conn.putrequest("POST", "/")
            conn.endheaders(b"open")
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"open"
            assert conn.getresponse().read() == b""
        assert peer.accepted == 1

    def test_misuse(self) -> None:
        conn = HTTP11Connection("example.com")
        with pytest.raises(ImproperConnectionStateError):
            conn.putheader("a", "b")
        with pytest.raises(ImproperConnectionStateError):
            conn.send(b"x")


class TestProxy:
    def test_http_target_uses_absolute_form_and_proxy_headers(self) -> None:
        with H1Peer(echo_requests(2)) as proxy:
            conn = HTTP11Connection(
                "target.example",
                8000,
                proxy_host=f"user:secret@{proxy.address}",
                proxy_headers={"X-Proxy": "yes"},
                timeout=CLIENT_TIMEOUT,
            )
            with conn:
                conn.request("GET", "/a?b")
                conn.getresponse().read()
                conn.request("GET", "http://target.example:8000/c")
                conn.getresponse().read()
        first, second = proxy.requests
        assert first.target == b"http://target.example:8000/a?b"
        assert second.target == b"http://target.example:8000/c"
        assert first.header(b"host") == b"target.example:8000"
        assert first.header(b"x-proxy") == b"yes"
        assert first.header(b"proxy-authorization") == b"Basic dXNlcjpzZWNyZXQ="
        assert proxy.accepted == 1

    def test_https_target_goes_through_a_tunnel(self, tls: TLSPair) -> None:
        def proxy(conn: H1Conn) -> None:
            request = conn.read_head()
            assert request is not None and request.method == b"CONNECT"
            assert request.target == b"localhost:443"
            conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            inner = H1Conn(tls.server.wrap_socket(conn.sock, server_side=True), 0)
            assert inner.sock.selected_alpn_protocol() == "http/1.1"
            inner.read_request()
            inner.send(ok(b"through the tunnel"))
            inner.read_until_closed()

        with H1Peer(proxy) as peer:
            conn = HTTP11Connection(
                "localhost",
                443,
                ssl_context=tls.client_h11,
                proxy_host=peer.address,
                timeout=CLIENT_TIMEOUT,
            )
            with conn:
                conn.request("GET", "/")
                assert conn.getresponse().read() == b"through the tunnel"


class TLSPair:
    """A trustme CA, a server context (ALPN h2 and http/1.1) and client contexts."""

    def __init__(self) -> None:
        ca = trustme.CA()
        self.server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(self.server)
        self.server.set_alpn_protocols(["h2", "http/1.1"])
        self.client_h11 = ssl.create_default_context()
        ca.configure_trust(self.client_h11)
        self.client_h11.set_alpn_protocols(["http/1.1"])
        self.client_h2 = ssl.create_default_context()
        ca.configure_trust(self.client_h2)
        self.client_h2.set_alpn_protocols(["h2", "http/1.1"])


@pytest.fixture(scope="module")
def tls() -> TLSPair:
    return TLSPair()


class TestTLS:
    def test_https_keep_alive(self, tls: TLSPair) -> None:
        with H1Peer(echo_requests(3), connections=2, tls=tls.server) as peer:
            conn = HTTP11Connection(
                "localhost",
                peer.port,
                secure=True,
                ssl_context=tls.client_h11,
                timeout=CLIENT_TIMEOUT,
            )
            with conn:
                for body in (b"a", BODY, b"c"):
                    conn.request("POST", "/", body=body)
                    assert conn.getresponse().read() == body
        assert peer.accepted == 1

    def test_server_choosing_h2_is_a_clear_error(self, tls: TLSPair) -> None:
        def script(conn: H1Conn) -> None:
            conn.read_until_closed()

        with H1Peer(script, tls=tls.server) as peer:
            conn = HTTP11Connection(
                "localhost",
                peer.port,
                secure=True,
                ssl_context=tls.client_h2,
                timeout=CLIENT_TIMEOUT,
            )
            with pytest.raises(common_exc.ConnectionError, match=r"HTTP/1\.1"):
                conn.request("GET", "/")


# ---------------------------------------------------------------------------
# Interop: nginx over TLS, ALPN http/1.1
# ---------------------------------------------------------------------------


def nginx_h1(server: servers.Server, port_role: str = "h1") -> HTTP11Connection:
    """A connection offering only http/1.1 through ALPN (the main port also speaks h2)."""
    conn: HTTP11Connection = servers.connect(
        HTTP11Connection, server, port=server.ports[port_role], timeout=CLIENT_TIMEOUT
    )
    return conn


@pytest.mark.interop
class TestNginx:
    def test_get_head_and_keep_alive(self, nginx: servers.Server) -> None:
        with nginx_h1(nginx) as conn:
            before = len(servers.nginx_access_log(nginx, "h1"))
            conn.request("GET", "/small.txt")
            first = conn.getresponse()
            assert (first.status, first.read()) == (200, servers.SMALL_BODY)
            conn.request("HEAD", "/1m.bin")
            head = conn.getresponse()
            assert head.status == 200
            assert head.headers[b"content-length"] == [b"%d" % (1 << 20)]
            assert head.read() == b""
            conn.request("GET", "/1m.bin")
            body = conn.getresponse()
            digest = hashlib.sha256(body.read()).hexdigest()
            assert digest == nginx.docroot.sha256("1m.bin")
            conn.request("GET", "/missing")
            assert conn.getresponse().status == 404
        # nginx served all four on one connection, one after the other.
        log = servers.wait_for_nginx_access_log(nginx, before, 4, "h1")
        assert len({serial for serial, _, _, _ in log}) == 1, log
        assert [(n, status) for _, n, status, _ in log] == [(1, 200), (2, 200), (3, 200), (4, 404)]

    def test_post_and_put_then_get(self, nginx: servers.Server) -> None:
        with nginx_h1(nginx, "tls") as conn:
            conn.request("POST", "/post", body=BODY)
            assert conn.getresponse().read() == b"posted\n"
            conn.request("PUT", "/dav/h11/iter.bin", body=iter([BODY, b"tail"]))
            assert conn.getresponse().status in (201, 204)
            conn.request("GET", "/dav/h11/iter.bin")
            assert conn.getresponse().read() == BODY + b"tail"

    def test_gzip_is_decoded(self, nginx: servers.Server) -> None:
        with nginx_h1(nginx) as conn:
            conn.request("GET", "/text.txt")
            response = conn.getresponse()
            assert response.headers[b"content-encoding"] == [b"gzip"]
            assert response.read() == nginx.docroot.read("text.txt")

    def test_default_context_would_be_h2_on_the_main_port(self, nginx: servers.Server) -> None:
        conn = HTTP11Connection(
            nginx.host, nginx.port, secure=True, ssl_context=nginx.ssl_context(), timeout=10
        )
        with pytest.raises(common_exc.ConnectionError, match="'h2'"):
            conn.request("GET", "/small.txt")

    def test_response_type(self, nginx: servers.Server) -> None:
        with nginx_h1(nginx) as conn:
            conn.request("GET", "/small.txt")
            response = conn.getresponse()
            assert isinstance(response, HTTP11Response)
            assert response.version is HTTPVersion.http11
            response.read()
