"""
The first request on a new connection goes out right behind the preface,
without waiting a round trip for the server's SETTINGS (RFC 9113 3.4); the
initial settings apply until they arrive (6.5.2). If the server then
refuses it (REFUSED_STREAM: not processed, 8.7), hyper sends it again.
"""

from __future__ import annotations

import pytest
from hyperframe.frame import HeadersFrame, SettingsFrame
from peer import TIMEOUT, Peer, PeerConnection

from hyper import HTTP20Connection
from hyper.http20 import exceptions as h2_exc
from hyper.http20.errors import ErrorCodes

MAX_CONCURRENT_STREAMS = 0x3


def _client(peer: Peer) -> HTTP20Connection:
    return HTTP20Connection(peer.address, timeout=TIMEOUT)


def _index(conn: PeerConnection, predicate: object) -> int:
    return next(i for i, f in enumerate(conn.frames) if predicate(f))  # type: ignore[operator]


class TestFirstRequest:
    def test_goes_out_before_the_servers_settings(self) -> None:
        """The server reads the request before it has said anything."""

        def script(conn: PeerConnection) -> None:
            request = conn.expect_complete_request()  # nothing sent by us yet
            conn.handshake()
            conn.respond(request.stream_id, body=b"early")
            conn.read_until_closed()

        with Peer(script) as peer, _client(peer) as conn:
            assert conn.getresponse(conn.request("GET", "/")).read() == b"early"
        assert peer.conns[0].requests[1].ended

    def test_later_requests_wait_for_the_servers_limits(self) -> None:
        """Only the first stream is opened blind: the second goes out after
        the client applied (and acknowledged) the server's SETTINGS, and
        honours its MAX_CONCURRENT_STREAMS of 1."""

        def script(conn: PeerConnection) -> None:
            first = conn.expect_complete_request()
            conn.handshake({MAX_CONCURRENT_STREAMS: 1})
            conn.respond(first.stream_id, body=b"one")
            second = conn.expect_complete_request()
            conn.respond(second.stream_id, body=b"two")
            conn.read_until_closed()

        with Peer(script) as peer, _client(peer) as conn:
            first = conn.request("GET", "/1")
            second = conn.request("GET", "/2")
            assert conn.getresponse(first).read() == b"one"
            assert conn.getresponse(second).read() == b"two"
        frames = peer.conns[0].frames
        acked = _index(peer.conns[0], lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags)
        third = _index(peer.conns[0], lambda f: isinstance(f, HeadersFrame) and f.stream_id == 3)
        assert acked < third, frames

    @pytest.mark.parametrize("body", [None, b"payload" * 100], ids=["get", "post"])
    def test_refused_first_request_is_sent_again(self, body: bytes | None) -> None:
        """The server's limit turns out to be lower than what was open: it
        refuses the stream, which was not processed, so hyper sends the same
        request again and the caller reads its response under its own id."""

        def script(conn: PeerConnection) -> None:
            refused = conn.expect_complete_request()
            conn.handshake({MAX_CONCURRENT_STREAMS: 1})
            conn.send(conn.factory.rst_stream(refused.stream_id, ErrorCodes.REFUSED_STREAM))
            again = conn.expect_complete_request()
            assert again.headers == refused.headers
            assert again.body == refused.body
            conn.respond(again.stream_id, body=b"second time:" + bytes(again.body))
            conn.read_until_closed()

        method = "GET" if body is None else "POST"
        with Peer(script) as peer, _client(peer) as conn:
            stream_id = conn.request(method, "/retry", body=body)
            response = conn.getresponse(stream_id)
            assert response.read() == b"second time:" + (body or b"")
        assert sorted(peer.conns[0].requests) == [1, 3]

    def test_refused_again_is_the_callers_to_retry(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            for _ in range(2):
                request = conn.expect_complete_request()
                conn.send(conn.factory.rst_stream(request.stream_id, ErrorCodes.REFUSED_STREAM))
            conn.read_until_closed()

        with Peer(script) as peer, _client(peer) as conn:
            stream_id = conn.request("GET", "/")
            with pytest.raises(h2_exc.StreamRefusedError, match="safe to retry"):
                conn.getresponse(stream_id)
        assert sorted(peer.conns[0].requests) == [1, 3]

    def test_connect_waits_for_the_servers_settings(self) -> None:
        """An explicit connect() is the whole handshake: a request made after
        it already honours the server's limits (here a 10-byte window)."""

        def script(conn: PeerConnection) -> None:
            conn.handshake({0x4: 10})
            request = conn.expect_request()
            conn.wait_for(lambda: len(request.body) == 10, "the first 10 bytes")
            conn.grant(request.stream_id, 90)
            conn.wait_for(lambda: request.ended, "the rest")
            conn.respond(request.stream_id, body=bytes(request.body))
            conn.read_until_closed()

        with Peer(script) as peer, _client(peer) as conn:
            conn.connect()
            conn.request("POST", "/", body=b"z" * 100)
            assert conn.getresponse().read() == b"z" * 100
        sizes = [len(f.data) for f in peer.conns[0].frames if type(f).__name__ == "DataFrame"]
        assert sizes[0] == 10
