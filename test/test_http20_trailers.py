"""HTTP20Connection sends request trailers after the body, ending the request."""

from __future__ import annotations

import io

import pytest
from peer import TIMEOUT, Peer, PeerConnection, Request, serving

from hyper import HTTP20Connection
from hyper.http20 import exceptions as h2_exc

CHECKSUM = [("x-checksum", "abc123"), ("grpc-status", "0")]
WANTED = [(b"x-checksum", b"abc123"), (b"grpc-status", b"0")]


def answer_trailers(conn: PeerConnection, request: Request) -> None:
    """Answer with the request body, after checking trailers ended it."""
    conn.respond(request.stream_id, body=bytes(request.body))


def _client(peer: Peer) -> HTTP20Connection:
    return HTTP20Connection(peer.address, timeout=TIMEOUT)


class TestRequestTrailers:
    @pytest.mark.parametrize(
        "body",
        [b"payload" * 1000, "text body", io.BytesIO(b"from a file"), [b"it", b"er"], None],
        ids=["bytes", "str", "file", "iterable", "no-body"],
    )
    def test_trailers_follow_the_body_and_end_the_request(self, body: object) -> None:
        with Peer(serving(answer_trailers)) as peer, _client(peer) as conn:
            stream_id = conn.request("POST", "/upload", body=body, trailers=CHECKSUM)
            received = conn.getresponse(stream_id).read()
        request = peer.conns[0].requests[stream_id]
        assert request.trailers == WANTED
        assert request.ended
        assert received == bytes(request.body)

    def test_send_final_with_trailers(self) -> None:
        with Peer(serving(answer_trailers)) as peer, _client(peer) as conn:
            stream_id = conn.putrequest("POST", "/stream")
            conn.endheaders()
            conn.send(b"part1,")
            conn.send(b"part2", final=True, trailers={"x-checksum": "abc123"})
            assert conn.getresponse(stream_id).read() == b"part1,part2"
        assert peer.conns[0].requests[stream_id].trailers == [(b"x-checksum", b"abc123")]

    def test_endheaders_final_with_trailers(self) -> None:
        with Peer(serving(answer_trailers)) as peer, _client(peer) as conn:
            stream_id = conn.putrequest("PUT", "/x")
            conn.endheaders(message_body=b"all", final=True, trailers=CHECKSUM)
            assert conn.getresponse(stream_id).read() == b"all"
        assert peer.conns[0].requests[stream_id].trailers == WANTED

    def test_pseudo_header_in_trailers_is_refused_and_the_stream_freed(self) -> None:
        """Trailers may not carry pseudo-headers (RFC 9113 8.1): the request
        fails before its end is sent, and the stream is reset, not left open."""

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            bad = conn.expect_request()
            conn.wait_for(lambda: bad.reset is not None, "the client's RST_STREAM")
            good = conn.expect_complete_request()
            conn.respond(good.stream_id, body=b"fine")
            conn.read_until_closed()

        with Peer(script) as peer, _client(peer) as conn:
            with pytest.raises(h2_exc.InvalidHeaderError):
                conn.request("POST", "/", body=b"x", trailers=[(":path", "/evil")])
            conn.request("GET", "/after")
            assert conn.getresponse().read() == b"fine"
        assert peer.conns[0].requests[1].trailers is None
