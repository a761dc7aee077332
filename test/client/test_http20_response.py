"""
Socket-level tests of :class:`hyper.HTTP20Response` against scripted peers
(``test/support/peer.py``): status and headers, the ``http.client`` spellings, 1xx,
trailers, every way of reading a body, content decoding and its bounds.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import http.client
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hyperframe.frame import PingFrame, RstStreamFrame
from support.peer import Peer, PeerConnection, Request, serving
from support.timeouts import CLIENT_TIMEOUT, SHORT_TIMEOUT, wait

from hyper import HTTP20Connection, HTTP20Response, HTTPHeaderMap
from hyper.common import exceptions as common_exc
from hyper.common.util import HTTPVersion
from hyper.http20.errors import ErrorCodes

try:
    import brotli
except ImportError:  # PyPy: brotlicffi, the same API through cffi
    import brotlicffi as brotli

BODY = bytes(range(256)) * 400  # 100 KiB: several frames


@contextlib.contextmanager
def response_to(
    handler: Any, method: str = "GET", **kwargs: Any
) -> Iterator[tuple[HTTP20Response, HTTP20Connection, Peer]]:
    """Serve one request with ``handler``; yield the response to it."""
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    with Peer(serving(handler)) as peer, HTTP20Connection(peer.address, **kwargs) as conn:
        yield conn.getresponse(conn.request(method, "/")), conn, peer


def answer(status: int = 200, headers: Any = (), body: bytes = b"", trailers: Any = None) -> Any:
    def handler(conn: PeerConnection, request: Request) -> None:
        conn.respond(request.stream_id, status, headers, body, trailers)

    return handler


def script_after_headers(then: Any) -> Any:
    """A script that sends 200 headers, then runs ``then(conn, stream_id)``."""

    def script(conn: PeerConnection) -> None:
        conn.handshake()
        request = conn.expect_complete_request()
        conn.send_headers(request.stream_id, [(b":status", b"200")])
        then(conn, request.stream_id)
        conn.read_until_closed()

    return script


class TestStatusAndHeaders:
    def test_attributes(self) -> None:
        headers = [(b"content-type", b"text/plain"), (b"x-multi", b"a, b"), (b"x-multi", b"c")]
        with response_to(answer(201, headers, b"hi")) as (response, _, _):
            assert response.status == 201
            assert response.reason == ""
            assert response.version is HTTPVersion.http20
            assert response.stream_id == 1
            assert isinstance(response.headers, HTTPHeaderMap)
            assert response.headers[b"x-multi"] == [b"a", b"b", b"c"]
            assert b":status" not in response.headers
            assert response.read() == b"hi"

    def test_http_client_spellings(self) -> None:
        headers = [(b"content-type", b"text/plain"), (b"x-multi", b"a"), (b"x-multi", b"b")]
        with response_to(answer(200, headers, b"hi")) as (response, _, _):
            assert response.getheader("Content-Type") == "text/plain"
            assert response.getheader("x-multi") == "a, b"
            assert response.getheader("missing") is None
            assert response.getheader("missing", "dflt") == "dflt"
            assert response.getheader("missing", ["x", "y"]) == "x, y"
            assert response.getheaders() == [
                ("content-type", "text/plain"), ("x-multi", "a"), ("x-multi", "b")
            ]  # fmt: skip
            assert isinstance(response.msg, http.client.HTTPMessage)
            assert response.msg["Content-Type"] == "text/plain"
            assert response.msg.get_all("x-multi") == ["a", "b"]
            assert response.readable()
            assert isinstance(response.fileno(), int)
            assert not response.isclosed()
            assert response.read() == b"hi"
            assert response.isclosed() and not response.closed  # closed: close() was called

    def test_informational_responses_are_kept(self) -> None:
        def handler(conn: PeerConnection, request: Request) -> None:
            conn.send_headers(request.stream_id, [(b":status", b"103"), (b"link", b"</a>")])
            conn.send_headers(request.stream_id, [(b":status", b"100")])
            conn.respond(request.stream_id, 200, body=b"final")

        with response_to(handler) as (response, _, _):
            assert response.status == 200
            assert [status for status, _ in response.informational] == [103, 100]
            assert response.informational[0][1][b"link"] == [b"</a>"]
            assert response.read() == b"final"

    def test_trailers_after_the_body(self) -> None:
        trailers = [(b"grpc-status", b"0"), (b"x-digest", b"abc")]
        with response_to(answer(body=BODY, trailers=trailers)) as (response, _, _):
            assert response.read() == BODY
            assert response.trailers[b"grpc-status"] == [b"0"]
            assert response.trailers[b"x-digest"] == [b"abc"]


class TestReading:
    def test_read1_returns_what_is_available(self) -> None:
        """read1(amt) does not wait for amt bytes (read(amt) would, as
        io.BufferedIOBase's): the peer holds the rest back until it sees the
        PING sent after the read."""

        def then(conn: PeerConnection, stream_id: int) -> None:
            conn.send_body(stream_id, b"0123456789", end_stream=False)
            conn.expect_frame(PingFrame)
            conn.send_body(stream_id, b"rest")

        with Peer(script_after_headers(then)) as peer, HTTP20Connection(
            peer.address, timeout=CLIENT_TIMEOUT
        ) as conn:
            response = conn.getresponse(conn.request("GET", "/"))
            assert response.read1(1000) == b"0123456789"
            conn.ping(b"continue")
            assert response.read1(2) == b"re"
            assert response.read1(1000) == b"st"
            assert response.read1(1000) == b""
            assert response.isclosed()

    def test_read_in_small_pieces(self) -> None:
        with response_to(answer(body=BODY)) as (response, _, _):
            pieces = []
            while True:
                piece = response.read(777)
                if not piece:
                    break
                assert len(piece) <= 777
                pieces.append(piece)
            assert b"".join(pieces) == BODY

    def test_read_zero_and_negative(self) -> None:
        with response_to(answer(body=b"abc")) as (response, _, _):
            assert response.read(0) == b""
            assert response.read(-1) == b"abc"
            assert response.read() == b""

    def test_readinto(self) -> None:
        with response_to(answer(body=BODY)) as (response, _, _):
            buffer = bytearray(4096)
            out = bytearray()
            while True:
                count = response.readinto(buffer)
                if not count:
                    break
                out += buffer[:count]
            assert out == BODY

    def test_read_chunked_yields_as_data_arrives(self) -> None:
        with response_to(answer(body=BODY)) as (response, _, _):
            chunks = list(response.read_chunked())
            assert len(chunks) > 1
            assert all(chunks)
            assert b"".join(chunks) == BODY

    def test_iteration(self) -> None:
        with response_to(answer(body=BODY)) as (response, _, _):
            assert b"".join(response) == BODY

    def test_large_body_beyond_the_stream_window(self) -> None:
        body = b"w" * (3 << 20)
        with response_to(answer(body=body)) as (response, _, _):
            assert response.read() == body

    def test_read_timeout_loses_nothing(self) -> None:
        timed_out = threading.Event()
        sent = threading.Event()

        def then(conn: PeerConnection, stream_id: int) -> None:
            conn.send_body(stream_id, b"first,", end_stream=False)
            wait(timed_out, "the client's read timeout")
            conn.send_body(stream_id, b"second")
            sent.set()

        # Only the read that is meant to time out waits on the short timeout.
        with Peer(script_after_headers(then)) as peer, HTTP20Connection(
            peer.address, timeout=(CLIENT_TIMEOUT, SHORT_TIMEOUT)
        ) as conn:
            response = conn.getresponse(conn.request("GET", "/"))
            with pytest.raises(common_exc.TimeoutError):
                response.read()
            timed_out.set()
            wait(sent, "the rest of the body")
            assert response.read() == b"first,second"


class TestClosing:
    def test_close_mid_body_resets_the_stream(self) -> None:
        def then(conn: PeerConnection, stream_id: int) -> None:
            conn.send_body(stream_id, b"x" * 1000, end_stream=False)
            frame = conn.expect_frame(RstStreamFrame, stream_id)
            assert frame.error_code == ErrorCodes.CANCEL

        with Peer(script_after_headers(then)) as peer, HTTP20Connection(
            peer.address, timeout=CLIENT_TIMEOUT
        ) as conn:
            with conn.getresponse(conn.request("GET", "/")) as response:
                assert response.read(10) == b"x" * 10
            assert response.isclosed()
            assert response.read() == b""
            conn.ping(b"flushed!")
        # The peer saw RST_STREAM(CANCEL) (asserted in its script), before the PING.
        frames = peer.conns[0].frames
        kinds = [type(f) for f in frames if isinstance(f, (RstStreamFrame, PingFrame))]
        assert kinds[:2] == [RstStreamFrame, PingFrame]

    def test_close_after_the_body_sends_nothing(self) -> None:
        with response_to(answer(body=b"done")) as (response, conn, peer):
            assert response.read() == b"done"
            response.close()
            conn.ping(b"12345678")
        assert not any(isinstance(f, RstStreamFrame) for f in peer.conns[0].frames)

    def test_garbage_collected_response_frees_its_stream(self) -> None:
        """Dropped unread, the response is reset (CANCEL) by the next operation,
        and its stream slot is free again (the peer allows one at a time)."""

        def script(conn: PeerConnection) -> None:
            conn.handshake({0x3: 1})  # SETTINGS_MAX_CONCURRENT_STREAMS
            request = conn.expect_complete_request()
            conn.send_headers(request.stream_id, [(b":status", b"200")])
            conn.send_body(request.stream_id, b"x" * 100, end_stream=False)
            frame = conn.expect_frame(RstStreamFrame, request.stream_id)
            assert frame.error_code == ErrorCodes.CANCEL
            following = conn.expect_complete_request()
            conn.respond(following.stream_id, body=b"next")
            conn.read_until_closed()

        with Peer(script) as peer, HTTP20Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn:
            conn.getresponse(conn.request("GET", "/"))  # dropped at once, unread
            gc.collect()  # PyPy has no refcounting: its GC finds the garbage
            conn.ping(b"reaped!!")  # any later operation reaps it
            assert conn.getresponse(conn.request("GET", "/next")).read() == b"next"


def _bomb() -> bytes:
    return gzip.compress(b"\0" * (64 << 20), compresslevel=9)


class TestDecoding:
    @pytest.mark.parametrize(
        ("coding", "encode"),
        [
            ("gzip", gzip.compress),
            ("deflate", zlib.compress),
            ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate
            ("br", brotli.compress),
        ],
    )
    def test_decoded_by_default(self, coding: str, encode: Any) -> None:
        headers = [(b"content-encoding", coding.encode())]
        with response_to(answer(headers=headers, body=encode(BODY))) as (response, _, _):
            assert response.read() == BODY

    def test_zstd(self) -> None:
        zstandard = pytest.importorskip("zstandard")
        body = zstandard.ZstdCompressor().compress(BODY)
        headers = [(b"content-encoding", b"zstd")]
        with response_to(answer(headers=headers, body=body)) as (response, _, _):
            assert response.read() == BODY

    def test_decode_content_false_gives_the_bytes_as_sent(self) -> None:
        body = gzip.compress(BODY)
        headers = [(b"content-encoding", b"gzip")]
        with response_to(answer(headers=headers, body=body)) as (response, _, _):
            assert response.read(decode_content=False) == body

    def test_read_chunked_decodes(self) -> None:
        body = gzip.compress(BODY)
        headers = [(b"content-encoding", b"gzip")]
        with response_to(answer(headers=headers, body=body)) as (response, _, _):
            assert b"".join(response.read_chunked()) == BODY

    def test_read_amt_decodes_in_bounded_pieces(self) -> None:
        body = gzip.compress(BODY)
        headers = [(b"content-encoding", b"gzip")]
        with response_to(answer(headers=headers, body=body)) as (response, _, _):
            pieces = []
            while piece := response.read(1000):
                assert len(piece) <= 1000
                pieces.append(piece)
            assert b"".join(pieces) == BODY

    def test_decompression_bomb_is_bounded_per_read(self) -> None:
        """64 MiB of zeros in about 64 KiB of gzip: each read returns at most
        what was asked, whatever the ratio."""
        headers = [(b"content-encoding", b"gzip")]
        with response_to(answer(headers=headers, body=_bomb())) as (response, _, _):
            for _ in range(20):
                assert len(response.read(65536)) <= 65536
            assert max(len(chunk) for chunk in response.read_chunked()) <= 65536

    def test_unknown_coding_is_passed_through(self) -> None:
        headers = [(b"content-encoding", b"x-custom")]
        with response_to(answer(headers=headers, body=b"as-is")) as (response, _, _):
            assert response.read() == b"as-is"

    def test_accept_encoding_is_offered(self) -> None:
        with response_to(answer(body=b"")) as (response, _, peer):
            response.read()
        offered = peer.conns[0].requests[1].fields[b"accept-encoding"]
        assert {b"gzip", b"deflate", b"br"} <= {c.strip() for c in offered.split(b",")}

    def test_corrupt_body_raises_decoding_error(self) -> None:
        headers = [(b"content-encoding", b"gzip")]
        body = b"not gzip at all"
        with response_to(answer(headers=headers, body=body)) as (response, _, _):
            error = pytest.raises(common_exc.DecodingError)
            with error:
                response.read()
