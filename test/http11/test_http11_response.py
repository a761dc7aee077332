"""
Socket-level tests of :class:`hyper.HTTP11Response` against a scripted
HTTP/1.1 server (``test/support/h1peer.py``): status and headers, the
``http.client`` spellings, 1xx, trailers, every body framing, content
decoding and its bounds, and the errors a broken server causes.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
from collections.abc import Iterator
from typing import Any

import h11
import pytest
from support.h1peer import H1Conn, H1Peer, chunked, ok, replying
from support.timeouts import CLIENT_TIMEOUT, SHORT_TIMEOUT, wait

from hyper import HTTP11Connection, HTTP11Response, HTTPHeaderMap
from hyper.common import exceptions as common_exc
from hyper.common.util import HTTPVersion

try:
    import brotli
except ImportError:  # PyPy: brotlicffi, the same API through cffi
    import brotlicffi as brotli

BODY = bytes(range(256)) * 400  # 100 KiB


@contextlib.contextmanager
def response_to(
    *responses: bytes, method: str = "GET", **kwargs: Any
) -> Iterator[tuple[HTTP11Response, HTTP11Connection, H1Peer]]:
    """Serve the first request with ``responses[0]`` (then the rest, in
    turn); yield the first response."""
    with connected(replying(*responses), **kwargs) as (conn, peer):
        conn.request(method, "/")
        yield conn.getresponse(), conn, peer


@contextlib.contextmanager
def connected(script: Any, **kwargs: Any) -> Iterator[tuple[HTTP11Connection, H1Peer]]:
    """A scripted server (accepting up to two connections) and a client of it."""
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    with H1Peer(script, connections=2) as peer, HTTP11Connection(peer.address, **kwargs) as conn:
        yield conn, peer


@contextlib.contextmanager
def scripted_response(script: Any, **kwargs: Any) -> Iterator[tuple[HTTP11Response, H1Peer]]:
    """Run ``script`` as the server; yield the response to one GET."""
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    with H1Peer(script) as peer, HTTP11Connection(peer.address, **kwargs) as conn:
        conn.request("GET", "/")
        yield conn.getresponse(), peer


def after_head(data: bytes, then: Any = None) -> Any:
    """A script: read the request head, send ``data``, run ``then(conn)``, close."""

    def script(conn: H1Conn) -> None:
        conn.read_request()
        conn.send(data)
        if then is not None:
            then(conn)

    return script


class TestStatusAndHeaders:
    def test_attributes(self) -> None:
        response = ok(b"hi", b"Content-Type: text/plain", b"X-Multi: a, b", b"x-multi: c")
        with response_to(response) as (resp, _, _):
            assert resp.status == 200
            assert resp.reason == "OK"
            assert resp.version is HTTPVersion.http11
            assert isinstance(resp.headers, HTTPHeaderMap)
            assert resp.headers[b"x-multi"] == [b"a", b"b", b"c"]
            assert (b"Content-Type", b"text/plain") in list(resp.headers.iter_raw())
            assert resp.trailers == HTTPHeaderMap()
            assert resp.informational == []
            assert resp.read() == b"hi"

    def test_http_client_spellings(self) -> None:
        response = ok(b"hi", b"Content-Type: text/plain", b"X-Multi: a", b"X-Multi: b")
        with response_to(response) as (resp, _, _):
            assert resp.getheader("content-type") == "text/plain"
            assert resp.getheader("X-MULTI") == "a, b"
            assert resp.getheader("missing") is None
            assert resp.getheader("missing", ["x", "y"]) == "x, y"
            assert ("X-Multi", "a") in resp.getheaders()
            assert resp.msg["content-type"] == "text/plain"
            assert resp.msg.get_all("x-multi") == ["a", "b"]
            assert resp.readable()
            assert not resp.isclosed()
            assert resp.read() == b"hi"
            # isclosed(): the body was read; closed (io.IOBase's): close() was called.
            assert resp.isclosed() and not resp.closed

    def test_reason_phrase_may_be_empty(self) -> None:
        with response_to(b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n") as (resp, _, _):
            assert (resp.status, resp.reason) == (404, "")

    def test_1xx_responses_are_skipped_and_kept(self) -> None:
        interim = (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
        )
        with response_to(interim + ok(b"done")) as (resp, _, _):
            assert resp.status == 200
            assert [status for status, _ in resp.informational] == [100, 103]
            assert resp.informational[1][1][b"link"] == [b"</s.css>"]
            assert resp.read() == b"done"

    def test_http10_response(self) -> None:
        with scripted_response(after_head(b"HTTP/1.0 200 OK\r\n\r\nold body")) as (resp, _):
            assert resp.read() == b"old body"


class TestFraming:
    def test_content_length(self) -> None:
        with response_to(ok(BODY)) as (resp, _, _):
            assert resp.read() == BODY

    def test_chunked_with_trailers(self) -> None:
        response = chunked(b"abc", b"defg", trailers=b"X-Checksum: 42\r\nX-More: yes\r\n")
        with response_to(response) as (resp, _, _):
            assert resp.read() == b"abcdefg"
            assert resp.trailers[b"x-checksum"] == [b"42"]
            assert resp.trailers[b"x-more"] == [b"yes"]

    def test_close_delimited(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
        with scripted_response(after_head(head + BODY)) as (resp, _):
            assert resp.read() == BODY

    @pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
    def test_bodiless_status(self, status: bytes) -> None:
        response = b"HTTP/1.1 " + status + b"\r\n\r\n"
        with response_to(response, ok(b"next")) as (resp, conn, peer):
            assert resp.isclosed()  # ended with the head
            assert resp.read() == b""
            conn.request("GET", "/next")
            assert conn.getresponse().read() == b"next"
            assert peer.accepted == 1

    def test_empty_chunked_body(self) -> None:
        with response_to(chunked()) as (resp, _, _):
            assert resp.read() == b""
            assert resp.isclosed()


class TestHead:
    def test_head_response_ends_at_once_and_the_socket_is_reused(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 123456\r\n\r\n"
        with response_to(head, ok(b"after"), method="HEAD") as (resp, conn, peer):
            assert resp.status == 200
            assert resp.headers[b"content-length"] == [b"123456"]
            assert resp.read() == b""
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"after"
            assert peer.accepted == 1


class TestReading:
    def test_bounded_reads(self) -> None:
        with response_to(ok(BODY)) as (resp, _, _):
            pieces = []
            while True:
                piece = resp.read(1000)
                if not piece:
                    break
                assert len(piece) <= 1000
                pieces.append(piece)
            assert b"".join(pieces) == BODY
            assert resp.read(10) == b""

    def test_read_zero_and_negative(self) -> None:
        with response_to(ok(b"abc")) as (resp, _, _):
            assert resp.read(0) == b""
            assert resp.read(-1) == b"abc"

    def test_readinto(self) -> None:
        with response_to(ok(BODY)) as (resp, _, _):
            buffer = bytearray(7000)
            got = bytearray()
            while True:
                count = resp.readinto(buffer)
                if not count:
                    break
                got += buffer[:count]
            assert got == BODY

    def test_iteration_and_read_chunked(self) -> None:
        with response_to(chunked(b"one", b"two", b"three")) as (resp, _, _):
            pieces = list(resp)
            assert b"".join(pieces) == b"onetwothree"
            assert all(pieces)

    def test_read_chunked_of_a_content_length_body(self) -> None:
        with response_to(ok(BODY)) as (resp, _, _):
            assert b"".join(resp.read_chunked()) == BODY

    def test_bytes_not_bytearrays(self) -> None:
        with response_to(chunked(b"abc", b"def")) as (resp, _, _):
            assert type(resp.read(2)) is bytes
            assert all(type(piece) is bytes for piece in resp.read_chunked())

    def test_context_manager_closes(self) -> None:
        with response_to(ok(b"abc")) as (resp, _, _), resp as same:
            assert same is resp
        assert resp.isclosed()
        assert resp.read() == b""

    def test_fileno(self) -> None:
        with response_to(ok(BODY)) as (resp, conn, _):
            assert resp.fileno() >= 0
            assert resp.read() == BODY
            conn.close()
            with pytest.raises(common_exc.SocketError):
                resp.fileno()

    def test_read_timeout_loses_nothing(self) -> None:
        """A read that times out raises TimeoutError; the body is still all there after."""
        head_sent = threading.Event()
        go_on = threading.Event()
        sent = threading.Event()

        def script(conn: H1Conn) -> None:
            conn.read_request()
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY))
            conn.send(BODY[:1000])
            head_sent.set()
            wait(go_on, "the client's read timeout")
            conn.send(BODY[1000:])
            sent.set()
            conn.read_until_closed()

        # Only the read that is meant to time out waits on the short timeout: the
        # others start once the peer has sent what they read.
        with H1Peer(script) as peer, HTTP11Connection(
            peer.address, timeout=(CLIENT_TIMEOUT, SHORT_TIMEOUT)
        ) as conn:
            conn.request("GET", "/")
            wait(head_sent, "the response head")
            resp = conn.getresponse()
            assert resp.read(1000) == BODY[:1000]
            with pytest.raises(common_exc.TimeoutError) as info:
                resp.read()
            assert isinstance(info.value, TimeoutError)
            go_on.set()
            wait(sent, "the rest of the body")  # so this read has nothing to wait for
            assert resp.read() == BODY[1000:]


class TestDecoding:
    def test_gzip(self) -> None:
        data = gzip.compress(BODY)
        with response_to(ok(data, b"Content-Encoding: gzip")) as (resp, _, _):
            assert resp.read() == BODY

    def test_br_chunked(self) -> None:
        data = brotli.compress(BODY)
        response = chunked(data[:100], data[100:], headers=(b"Content-Encoding: br",))
        with response_to(response) as (resp, _, _):
            assert b"".join(resp) == BODY

    def test_decode_content_false_gives_bytes_as_sent(self) -> None:
        data = gzip.compress(BODY)
        with response_to(ok(data, b"Content-Encoding: gzip")) as (resp, _, _):
            assert resp.read(decode_content=False) == data

    def test_bad_gzip_is_a_decoding_error(self) -> None:
        with (
            response_to(ok(b"not gzip at all", b"Content-Encoding: gzip")) as (resp, _, _),
            pytest.raises(common_exc.DecodingError),
        ):
            resp.read()

    def test_bomb_is_bounded_per_read(self) -> None:
        """10 MiB of zeros in about 10 KiB of gzip: each read(64 KiB) holds at most 64 KiB."""
        size = 10 * 1024 * 1024
        bomb = gzip.compress(bytes(size), compresslevel=9)
        assert len(bomb) < 20000
        with response_to(ok(bomb, b"Content-Encoding: gzip")) as (resp, _, _):
            total = 0
            while True:
                piece = resp.read(65536)
                if not piece:
                    break
                assert len(piece) <= 65536
                total += len(piece)
            assert total == size

    def test_bomb_read_chunked_pieces_are_bounded(self) -> None:
        size = 4 * 1024 * 1024
        bomb = gzip.compress(bytes(size), compresslevel=9)
        response = chunked(bomb, headers=(b"Content-Encoding: gzip",))
        with response_to(response) as (resp, _, _):
            sizes = [len(piece) for piece in resp.read_chunked()]
            assert max(sizes) <= 65536
            assert sum(sizes) == size


class TestBrokenServers:
    def test_garbage_status_line(self) -> None:
        with connected(after_head(b"SPDY/3 200 whatever\r\n\r\n")) as (conn, _):
            conn.request("GET", "/")
            with pytest.raises(common_exc.InvalidResponseError) as info:
                conn.getresponse()
            assert isinstance(info.value.__cause__, h11.RemoteProtocolError)

    def test_garbage_chunk_size(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        with scripted_response(after_head(head + b"3\r\nabc\r\nzz\r\n")) as (resp, _):
            with pytest.raises(common_exc.InvalidResponseError) as info:
                resp.read()
            assert isinstance(info.value.__cause__, h11.RemoteProtocolError)

    def test_conflicting_content_lengths(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
        with connected(after_head(head)) as (conn, _):
            conn.request("GET", "/")
            with pytest.raises(common_exc.InvalidResponseError):
                conn.getresponse()

    def test_truncated_content_length_body(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY)
        with scripted_response(after_head(head + BODY[:5000])) as (resp, _):
            with pytest.raises(common_exc.ConnectionResetError) as info:
                resp.read()
            assert isinstance(info.value, ConnectionResetError)
            assert "before the response was complete" in str(info.value)

    def test_truncated_body_in_bounded_reads(self) -> None:
        """The bytes that came are returned, then the truncation raises: never a short body."""
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY)
        with scripted_response(after_head(head + BODY[:5000])) as (resp, _):
            got = b""
            with pytest.raises(common_exc.ConnectionResetError):
                while True:
                    piece = resp.read(1000)
                    assert piece, "a short body ended silently"
                    got += piece
            assert got == BODY[:5000]

    def test_truncated_chunked_body(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        with (
            scripted_response(after_head(head + b"a\r\n0123456789\r\n5\r\nab")) as (resp, _),
            pytest.raises(common_exc.ConnectionResetError),
        ):
            list(resp.read_chunked())

    def test_truncated_gzip_body_with_content_length(self) -> None:
        data = gzip.compress(BODY)
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(
            data
        )
        with (
            scripted_response(after_head(head + data[:100])) as (resp, _),
            pytest.raises(common_exc.ConnectionResetError),
        ):
            resp.read()

    def test_closed_without_answering(self) -> None:
        with connected(after_head(b"")) as (conn, _):
            conn.request("GET", "/")
            with pytest.raises(common_exc.ConnectionResetError) as info:
                conn.getresponse()
            assert "without answering" in str(info.value)

    def test_truncated_head(self) -> None:
        with connected(after_head(b"HTTP/1.1 200 OK\r\nContent-Le")) as (conn, _):
            conn.request("GET", "/")
            with pytest.raises(common_exc.ConnectionResetError):
                conn.getresponse()

    def test_huge_head_is_refused(self) -> None:
        """A head still incomplete after 64 KiB (and one read) is refused."""
        head = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"

        def script(conn: H1Conn) -> None:
            conn.read_request()
            with contextlib.suppress(OSError):  # the client stops reading
                conn.send(head)

        with connected(script) as (conn, _):
            conn.request("GET", "/")
            with pytest.raises(common_exc.InvalidResponseError):
                conn.getresponse()
