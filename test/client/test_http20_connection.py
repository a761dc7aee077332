"""
Socket-level tests of :class:`hyper.HTTP20Connection` against scripted peers
(``test/support/peer.py``) on loopback: requests and bodies, flow control, the
low-level API, push, resets, GOAWAY, stalls, bad peers, threads, TLS, proxies.
"""

from __future__ import annotations

import contextlib
import errno
import io
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import trustme
from hyperframe.frame import (
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    WindowUpdateFrame,
)
from support.listener import Conn, Listener, refused_port, silent_listener
from support.memory import hyper_growth_per_round
from support.peer import Peer, PeerConnection, Request, echo, serving
from support.timeouts import CLIENT_TIMEOUT, SHORT_TIMEOUT, TIMEOUT, wait

import hyper
from hyper import HTTP20Connection, HTTP20Response, HTTPHeaderMap
from hyper.common import exceptions as common_exc
from hyper.http20 import exceptions as h2_exc
from hyper.http20.errors import ErrorCodes
from hyper.tls import init_context

SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4


@contextlib.contextmanager
def client(
    script: Any, connections: int = 1, **kwargs: Any
) -> Iterator[tuple[HTTP20Connection, Peer]]:
    """A peer running ``script`` and a connection to it, both closed after."""
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    tls = kwargs.pop("peer_tls", None)
    with Peer(script, connections=connections, tls=tls) as peer, HTTP20Connection(
        peer.address, **kwargs
    ) as conn:
        yield conn, peer


def fields(request: Request) -> dict[bytes, bytes]:
    return request.fields


# ---------------------------------------------------------------------------


class TestConstruction:
    def test_host_may_carry_the_port(self) -> None:
        conn = HTTP20Connection("example.com:8443")
        assert (conn.host, conn.port, conn.secure) == ("example.com", 8443, False)

    def test_default_port_is_443_and_secure(self) -> None:
        conn = HTTP20Connection("example.com")
        assert (conn.port, conn.secure) == (443, True)

    def test_default_port_is_left_out_of_the_authority(
        self, ca: trustme.CA, client_tls: ssl.SSLContext
    ) -> None:
        """Through a tunnel to a peer holding example.com's certificate: the CONNECT
        names example.com:443 and the request's :authority is example.com."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("example.com").configure_cert(context)
        context.set_alpn_protocols(["h2"])
        with Peer(serving(echo), tls=context) as peer:
            tunnel, heads = _tunnel(upstream=peer.port)
            with tunnel as proxy, HTTP20Connection(
                "example.com", ssl_context=client_tls, proxy_host=proxy.address,
                timeout=CLIENT_TIMEOUT,
            ) as conn:  # fmt: skip
                assert conn.getresponse(conn.request("GET", "/")).read() == b"/\n"
        assert heads[0].startswith(b"CONNECT example.com:443 HTTP/1.1\r\n")
        request = peer.conns[0].requests[1]
        assert (request.fields[b":authority"], request.fields[b":scheme"]) == (
            b"example.com", b"https"
        )  # fmt: skip

    def test_ipv6_literal_with_port(self) -> None:
        conn = HTTP20Connection("[::1]:8443", secure=True)
        assert (conn.host, conn.port) == ("::1", 8443)

    def test_ipv6_literal_keeps_its_brackets_in_the_authority(self) -> None:
        with Peer(serving(echo)) as peer:
            tunnel, heads = _tunnel(upstream=peer.port)
            with tunnel as proxy, HTTP20Connection(
                "[::1]:8443", secure=False, proxy_host=proxy.address, timeout=CLIENT_TIMEOUT
            ) as conn:
                assert conn.getresponse(conn.request("GET", "/")).read() == b"/\n"
        assert heads[0].startswith(b"CONNECT [::1]:8443 HTTP/1.1\r\n")
        assert peer.conns[0].requests[1].fields[b":authority"] == b"[::1]:8443"

    def test_timeout_may_be_a_connect_read_pair(self) -> None:
        """What each half bounds: TestConnectionErrors, the timeout-pair tests."""
        conn = HTTP20Connection("example.com", timeout=(1.5, 7))
        assert conn.timeout == (1.5, 7)

    def test_package_exports(self) -> None:
        assert hyper.__version__ == "1.0.0.dev0"
        assert set(hyper.__all__) >= {
            "HTTP20Connection", "HTTP20Response", "HTTP20Push", "HTTPHeaderMap", "__version__"
        }  # fmt: skip


class TestRequest:
    def test_get_sends_pseudo_headers_then_defaults(self) -> None:
        with client(serving(echo)) as (conn, peer):
            stream_id = conn.request("GET", "/path?q=1")
            assert conn.getresponse(stream_id).read() == b"/path?q=1\n"
        request = peer.conns[0].requests[stream_id]
        names = [name for name, _ in request.headers]
        assert names[:4] == [b":method", b":scheme", b":authority", b":path"]
        assert request.fields[b":method"] == b"GET"
        assert request.fields[b":scheme"] == b"http"
        assert request.fields[b":authority"] == peer.address.encode()
        assert request.fields[b"user-agent"] == b"hyper/" + hyper.__version__.encode()
        assert b"gzip" in request.fields[b"accept-encoding"]
        assert b"content-length" not in request.fields
        assert request.ended

    def test_repeated_requests_each_send_their_own_fields(self) -> None:
        """Requests without headers reuse one header block per (method, url,
        length); whatever a request adds or changes is its own."""
        with client(serving(echo)) as (conn, peer):
            sent = [
                conn.request("GET", "/a"),
                conn.request("GET", "/a"),
                conn.request("GET", "/a", headers={"x-extra": "1"}),
                conn.request("GET", "/a"),
                conn.request("POST", "/a", body=b"xyz"),
                conn.request("POST", "/a", body=b"xy"),
                conn.request("GET", "a"),
            ]
            bodies = [conn.getresponse(i).read() for i in sent]
            for _ in range(2):  # an invalid URL fails every time
                with pytest.raises(ValueError):
                    conn.request("GET", "http://user@example.net/")
        assert bodies == [b"/a\n"] * 4 + [b"/a\nxyz", b"/a\nxy", b"/a\n"]
        requests = [peer.conns[0].requests[i] for i in sent]
        assert [b"x-extra" in r.fields for r in requests] == [False, False, True] + [False] * 4
        assert [r.fields.get(b"content-length") for r in requests[4:6]] == [b"3", b"2"]
        assert [r.fields[b":method"] for r in requests] == [b"GET"] * 4 + [b"POST"] * 2 + [b"GET"]

    def test_host_header_becomes_authority(self) -> None:
        with client(serving(echo)) as (conn, peer):
            conn.request("GET", "/", headers={"Host": "example.org"})
            conn.getresponse().read()
        request = peer.conns[0].requests[1]
        assert request.fields[b":authority"] == b"example.org"
        assert b"host" not in request.fields

    def test_user_headers_override_defaults(self) -> None:
        headers = [("User-Agent", "mine/1"), ("Accept-Encoding", "identity"), ("x-a", b"1")]
        with client(serving(echo)) as (conn, peer):
            conn.request("GET", "/", headers=headers)
            conn.getresponse().read()
        request = peer.conns[0].requests[1]
        assert request.fields[b"user-agent"] == b"mine/1"
        assert request.fields[b"accept-encoding"] == b"identity"
        assert request.fields[b"x-a"] == b"1"
        assert [n for n, _ in request.headers].count(b"user-agent") == 1

    def test_header_map_is_sent_raw(self) -> None:
        headers = HTTPHeaderMap([("x-list", "a, b"), ("x-list", "c")])
        with client(serving(echo)) as (conn, peer):
            conn.request("GET", "/", headers=headers)
            conn.getresponse().read()
        values = [v for n, v in peer.conns[0].requests[1].headers if n == b"x-list"]
        assert values == [b"a, b", b"c"]

    def test_absolute_url_gives_path_and_authority(self) -> None:
        with client(serving(echo)) as (conn, peer):
            conn.request("GET", "http://example.net/a/b?c")
            assert conn.getresponse().read() == b"/a/b?c\n"
        assert peer.conns[0].requests[1].fields[b":authority"] == b"example.net"

    def test_head_response_has_no_body(self) -> None:
        def handler(conn: PeerConnection, request: Request) -> None:
            conn.respond(request.stream_id, headers=[(b"content-length", b"100")])

        with client(serving(handler)) as (conn, _):
            response = conn.getresponse(conn.request("HEAD", "/"))
            assert response.headers[b"content-length"] == [b"100"]
            assert response.read() == b""

    def test_post_bytes_sets_content_length(self) -> None:
        with client(serving(echo)) as (conn, peer):
            stream_id = conn.request("POST", "/up", body=b"hello world")
            assert conn.getresponse(stream_id).read() == b"/up\nhello world"
        assert peer.conns[0].requests[stream_id].fields[b"content-length"] == b"11"

    def test_str_body_is_utf8_with_its_byte_length(self) -> None:
        with client(serving(echo)) as (conn, peer):
            conn.request("PUT", "/", body="h\u00e9llo")
            assert conn.getresponse().read() == "/\nh\u00e9llo".encode()
        assert peer.conns[0].requests[1].fields[b"content-length"] == b"6"

    def test_empty_body_ends_with_the_headers(self) -> None:
        with client(serving(echo)) as (conn, peer):
            conn.request("POST", "/", body=b"")
            assert conn.getresponse().read() == b"/\n"
        request = peer.conns[0].requests[1]
        assert request.fields[b"content-length"] == b"0"
        assert not any(isinstance(f, DataFrame) for f in peer.conns[0].frames)

    def test_file_body_is_streamed_with_its_length(self, tmp_path: Path) -> None:
        payload = bytes(range(256)) * 1000
        path = tmp_path / "body.bin"
        path.write_bytes(payload)
        with client(serving(echo)) as (conn, peer), path.open("rb") as body:
            body.read(6)  # only what is left is sent
            conn.request("POST", "/", body=body)
            assert conn.getresponse().read() == b"/\n" + payload[6:]
        assert peer.conns[0].requests[1].fields[b"content-length"] == b"%d" % (len(payload) - 6)

    def test_bytesio_body_has_a_length(self) -> None:
        with client(serving(echo)) as (conn, peer):
            conn.request("POST", "/", body=io.BytesIO(b"abc" * 100))
            assert conn.getresponse().read() == b"/\n" + b"abc" * 100
        assert peer.conns[0].requests[1].fields[b"content-length"] == b"300"

    def test_iterable_body_is_sent_without_length(self) -> None:
        def chunks() -> Iterator[bytes]:
            yield b"one,"
            yield b""
            yield b"two,"
            yield b"three"

        with client(serving(echo)) as (conn, peer):
            conn.request("POST", "/", body=chunks())
            assert conn.getresponse().read() == b"/\none,two,three"
        assert b"content-length" not in peer.conns[0].requests[1].fields

    def test_unsupported_body_type_raises_type_error(self) -> None:
        with client(serving(echo)) as (conn, _), pytest.raises(TypeError):
            conn.request("POST", "/", body=12)

    def test_invalid_header_raises_and_connection_stays_usable(self) -> None:
        with client(serving(echo)) as (conn, _):
            with pytest.raises(h2_exc.InvalidHeaderError):
                conn.request("GET", "/", headers={"x-bad": "a\r\nb"})
            conn.request("GET", "/ok")
            assert conn.getresponse().read() == b"/ok\n"

    def test_getresponse_without_request_is_an_error(self) -> None:
        conn = HTTP20Connection("127.0.0.1:1")
        with pytest.raises(h2_exc.StreamStateError):
            conn.getresponse()

    def test_response_cannot_be_taken_twice(self) -> None:
        with client(serving(echo)) as (conn, _):
            stream_id = conn.request("GET", "/")
            response = conn.getresponse(stream_id)
            with pytest.raises(h2_exc.StreamStateError):
                conn.getresponse(stream_id)
            response.read()


class TestUploadFlowControl:
    def _tiny_window_peer(self) -> Any:
        # Stream windows of 1000 bytes; the connection window stays 65535,
        # so a large upload needs both kinds of WINDOW_UPDATE.
        return serving(echo, settings={SETTINGS_INITIAL_WINDOW_SIZE: 1000})

    def test_bytes_upload_completes_as_window_updates_arrive(self) -> None:
        payload = bytes(range(256)) * 1200  # 300 KiB
        with client(self._tiny_window_peer()) as (conn, peer):
            conn.connect()  # the server's SETTINGS (its 1000-byte windows) apply from the start
            conn.request("POST", "/", body=payload)
            assert conn.getresponse().read() == b"/\n" + payload
        frames = [f for f in peer.conns[0].frames if isinstance(f, DataFrame)]
        assert max(len(f.data) for f in frames) <= 1000
        assert sum(len(f.data) for f in frames) == len(payload)

    def test_file_upload_is_read_in_bounded_chunks(self) -> None:
        payload = b"x" * (3 * 1024 * 1024)
        sizes: list[int] = []

        class Recording(io.BytesIO):
            def read(self, size: int | None = -1) -> bytes:
                sizes.append(-1 if size is None else size)
                return super().read(size)

        with client(self._tiny_window_peer()) as (conn, _):
            conn.request("POST", "/", body=Recording(payload))
            assert len(conn.getresponse().read()) == len(payload) + 2
        assert len(sizes) > 3
        assert all(0 < size <= 1024 * 1024 for size in sizes)

    def test_iterable_upload_with_tiny_windows(self) -> None:
        parts = [bytes([i]) * 5000 for i in range(40)]
        with client(self._tiny_window_peer()) as (conn, _):
            conn.request("POST", "/", body=iter(parts))
            assert conn.getresponse().read() == b"/\n" + b"".join(parts)

    def test_file_read_into_its_frames_with_tiny_windows(self, tmp_path: Path) -> None:
        """A plain binary file is read straight into its DATA frames, each
        within the window of the moment (here 1000 bytes at a time)."""
        payload = bytes(range(256)) * 1200  # 300 KiB
        path = tmp_path / "body.bin"
        path.write_bytes(payload)
        with client(self._tiny_window_peer()) as (conn, peer), path.open("rb") as body:
            conn.connect()
            conn.request("POST", "/", body=body)
            assert conn.getresponse().read() == b"/\n" + payload
        frames = [f for f in peer.conns[0].frames if isinstance(f, DataFrame)]
        assert max(len(f.data) for f in frames) <= 1000
        assert sum(len(f.data) for f in frames) == len(payload)

    def test_file_uploads_sharing_the_connection_window_arrive_whole(self, tmp_path: Path) -> None:
        """Four threads upload files at once: the connection's window (65,535
        bytes, given back as the server reads) is what they compete for, so a
        file part read for a window another thread took meanwhile goes out
        later, in order, and every body arrives intact."""
        bodies = [bytes([i]) * 200_000 + bytes(range(256)) * 40 for i in range(4)]
        paths = []
        for i, payload in enumerate(bodies):
            paths.append(tmp_path / f"body{i}.bin")
            paths[-1].write_bytes(payload)
        peer = serving(echo, settings={SETTINGS_INITIAL_WINDOW_SIZE: 1 << 20})

        def upload(conn: HTTP20Connection, i: int) -> bytes:
            with paths[i].open("rb") as body:
                stream_id = conn.request("POST", f"/{i}", body=body)
            return conn.getresponse(stream_id).read()

        with client(peer) as (conn, _), ThreadPoolExecutor(4) as pool:
            conn.connect()
            answers = list(pool.map(lambda i: upload(conn, i), range(4)))
        assert answers == [b"/%d\n" % i + payload for i, payload in enumerate(bodies)]

    def test_upload_waiting_for_window_times_out_alone(self) -> None:
        """A sender blocked on flow control gets TimeoutError and the stream is
        reset (CANCEL) and forgotten: with a single stream slot, the next request
        still gets through, and the connection answers it."""
        answered = threading.Event()

        def script(conn: PeerConnection) -> None:
            conn.auto_window = False
            conn.handshake({SETTINGS_INITIAL_WINDOW_SIZE: 10, SETTINGS_MAX_CONCURRENT_STREAMS: 1})
            upload = conn.expect_request()
            other = conn.next_request()
            assert other is not None
            assert upload.reset == ErrorCodes.CANCEL  # the client gave up on it
            assert len(upload.body) == 10  # and sent nothing beyond the window
            conn.respond(other.stream_id, body=b"other")
            answered.set()
            conn.read_until_closed()

        # Only the wait for window is short; the rest is ordered by the peer.
        with client(script, timeout=(CLIENT_TIMEOUT, SHORT_TIMEOUT)) as (conn, peer):
            conn.connect()  # the 10-byte window applies from the first byte
            with pytest.raises(common_exc.TimeoutError):
                conn.request("POST", "/", body=b"y" * 100)
            other = conn.request("GET", "/other")  # a free slot: nothing to wait for
            wait(answered, "the peer's answer")
            assert conn.getresponse(other).read() == b"other"
        resets = [f for f in peer.conns[0].frames if isinstance(f, RstStreamFrame)]
        assert [(f.stream_id, f.error_code) for f in resets] == [(1, ErrorCodes.CANCEL)]


class TestLowLevelAPI:
    def test_putrequest_putheader_endheaders_send(self) -> None:
        with client(serving(echo)) as (conn, peer):
            stream_id = conn.putrequest("POST", "/low")
            conn.putheader("content-type", "text/plain", stream_id)
            conn.putheader("x-a", "1")
            conn.putheader("X-A", "2", replace=True)
            conn.endheaders()
            conn.send(b"part1,")
            conn.send(b"part2", final=True)
            assert conn.get_response(stream_id).read() == b"/low\npart1,part2"
        request = peer.conns[0].requests[stream_id]
        assert [v for n, v in request.headers if n == b"x-a"] == [b"2"]
        assert request.fields[b"content-type"] == b"text/plain"

    def test_endheaders_with_final_body(self) -> None:
        with client(serving(echo)) as (conn, peer):
            conn.putrequest("PUT", "/x")
            conn.endheaders(message_body=b"all", final=True)
            assert conn.getresponse().read() == b"/x\nall"
        assert peer.conns[0].requests[1].fields[b"content-length"] == b"3"

    def test_interleaved_putrequests_keep_their_ids_usable(self) -> None:
        with client(serving(echo)) as (conn, _):
            first = conn.putrequest("GET", "/first")
            second = conn.putrequest("GET", "/second")
            conn.endheaders(final=True, stream_id=second)
            conn.endheaders(final=True, stream_id=first)  # ids must rise: moved
            assert conn.getresponse(first).read() == b"/first\n"
            assert conn.getresponse(second).read() == b"/second\n"


class TestPush:
    @staticmethod
    def _pushing(conn: PeerConnection) -> None:
        conn.handshake()
        request = conn.expect_complete_request()
        conn.push(request.stream_id, 2, [
            (b":method", b"GET"), (b":scheme", b"http"),
            (b":authority", request.fields[b":authority"]), (b":path", b"/style.css"),
            (b"x-pushed", b"yes"),
        ])  # fmt: skip
        conn.respond(request.stream_id, body=b"page")
        conn.respond(2, headers=[(b"content-type", b"text/css")], body=b"css")
        conn.read_until_closed()

    def test_pushes_are_on_the_response_after_its_body(self) -> None:
        with client(self._pushing, enable_push=True) as (conn, peer):
            response = conn.getresponse(conn.request("GET", "/"))
            assert response.read() == b"page"
            (push,) = response.pushes
            assert (push.method, push.scheme, push.path) == (b"GET", b"http", b"/style.css")
            assert push.authority == peer.address.encode()
            assert push.getrequestheaders()[b"x-pushed"] == [b"yes"]
            pushed = push.getresponse()
            assert pushed.headers[b"content-type"] == [b"text/css"]
            assert pushed.read() == b"css"
            assert push.get_response() is pushed

    def test_get_pushes_capture_all(self) -> None:
        with client(self._pushing, enable_push=True) as (conn, _):
            stream_id = conn.request("GET", "/")
            pushes = list(conn.get_pushes(stream_id, capture_all=True))
            assert [p.path for p in pushes] == [b"/style.css"]
            assert list(conn.get_pushes(stream_id)) == []  # not idempotent
            assert conn.getresponse(stream_id).read() == b"page"
            assert pushes[0].getresponse().read() == b"css"

    def test_cancel_resets_the_pushed_stream(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.push(request.stream_id, 2, [
                (b":method", b"GET"), (b":scheme", b"http"),
                (b":authority", request.fields[b":authority"]), (b":path", b"/big"),
            ])  # fmt: skip
            conn.respond(request.stream_id, body=b"page")
            conn.send_headers(2, [(b":status", b"200")])
            conn.send_body(2, b"z" * 1000, end_stream=False)
            conn.expect_frame(RstStreamFrame, 2)
            following = conn.expect_complete_request()
            conn.respond(following.stream_id, body=b"next")
            conn.read_until_closed()

        with client(script, enable_push=True) as (conn, peer):
            response = conn.getresponse(conn.request("GET", "/"))
            assert response.read() == b"page"
            response.pushes[0].cancel()
            conn.ping(b"syncsync")  # the RST_STREAM went out before this PING
            # The connection goes on serving after the cancelled push.
            assert conn.getresponse(conn.request("GET", "/next")).read() == b"next"
        resets = [f for f in peer.conns[0].frames if isinstance(f, RstStreamFrame)]
        assert [(f.stream_id, f.error_code) for f in resets] == [(2, ErrorCodes.CANCEL)]

    def test_push_refused_when_push_is_disabled(self) -> None:
        """Without enable_push the client says so in SETTINGS."""
        with client(serving(echo)) as (conn, peer):
            conn.connect()
        assert peer.conns[0].client_settings.get(0x2) == 0


class TestStreamErrors:
    def test_reset_stream_fails_only_that_stream(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            first = conn.expect_complete_request()
            second = conn.expect_complete_request()
            conn.send(conn.factory.rst_stream(first.stream_id, ErrorCodes.INTERNAL_ERROR))
            conn.respond(second.stream_id, body=b"fine")
            conn.read_until_closed()

        with client(script) as (conn, _):
            first = conn.request("GET", "/1")
            second = conn.request("GET", "/2")
            with pytest.raises(h2_exc.StreamResetError) as info:
                conn.getresponse(first)
            assert info.value.stream_id == first
            assert info.value.error_code == ErrorCodes.INTERNAL_ERROR
            assert not isinstance(info.value, h2_exc.StreamRefusedError)
            assert conn.getresponse(second).read() == b"fine"

    def test_reset_mid_body_raises_from_read(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake({SETTINGS_MAX_CONCURRENT_STREAMS: 1})
            request = conn.expect_complete_request()
            conn.send_headers(request.stream_id, [(b":status", b"200")])
            conn.send_body(request.stream_id, b"partial", end_stream=False)
            conn.send(conn.factory.rst_stream(request.stream_id, ErrorCodes.CANCEL))
            following = conn.expect_complete_request()
            conn.respond(following.stream_id, body=b"next")
            conn.read_until_closed()

        with client(script) as (conn, _):
            response = conn.getresponse(conn.request("GET", "/"))
            with pytest.raises(h2_exc.StreamResetError):
                response.read()
            # The reset stream is forgotten: its one slot serves the next request.
            assert conn.getresponse(conn.request("GET", "/next")).read() == b"next"

    def test_refused_stream_is_safe_to_retry(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.send(conn.factory.rst_stream(request.stream_id, ErrorCodes.REFUSED_STREAM))
            conn.read_until_closed()

        with client(script) as (conn, _):
            conn.connect()  # not the early request, which is sent again instead
            stream_id = conn.request("GET", "/")
            with pytest.raises(h2_exc.StreamRefusedError, match="safe to retry"):
                conn.getresponse(stream_id)


class TestGoaway:
    def test_streams_above_last_id_are_refused_and_next_request_reconnects(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            if conn.index == 0:
                first = conn.expect_complete_request()
                conn.expect_complete_request()
                conn.goaway(first.stream_id)
                conn.respond(first.stream_id, body=b"one")
            else:
                request = conn.expect_complete_request()
                conn.respond(request.stream_id, body=b"again " + bytes(request.path))
            conn.read_until_closed()

        with client(script, connections=2) as (conn, peer):
            first = conn.request("GET", "/1")
            second = conn.request("GET", "/2")
            with pytest.raises(h2_exc.StreamRefusedError, match="GOAWAY"):
                conn.getresponse(second)
            assert conn.getresponse(first).read() == b"one"
            third = conn.request("GET", "/3")
            assert third > second
            assert conn.getresponse(third).read() == b"again /3"
            assert len(peer.conns) == 2
        # The drained first connection was closed with a GOAWAY of our own.
        assert peer.conns[0].goaway_frames()

    def test_goaway_before_any_request(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            if conn.index == 0:
                conn.goaway(0)
            else:
                request = conn.expect_complete_request()
                conn.respond(request.stream_id, body=b"second connection")
            conn.read_until_closed()

        with client(script, connections=2) as (conn, _):
            conn.connect()
            conn.ping(b"12345678")  # reads the GOAWAY
            assert conn.getresponse(conn.request("GET", "/")).read() == b"second connection"


class TestIdleConnection:
    def test_goaway_received_while_idle_means_a_new_connection(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.respond(request.stream_id, body=b"conn %d" % conn.index)
            if conn.index == 0:
                conn.goaway(request.stream_id)
            conn.read_until_closed()

        with client(script, connections=2) as (conn, _):
            response = conn.getresponse(conn.request("GET", "/"))
            assert response.read() == b"conn 0"
            _wait_readable(response)
            assert conn.getresponse(conn.request("GET", "/")).read() == b"conn 1"

    def test_server_closing_an_idle_connection_means_a_new_connection(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.respond(request.stream_id, body=b"conn %d" % conn.index)
            if conn.index == 0:
                conn.sock.shutdown(socket.SHUT_RDWR)  # an idle timeout, say
            else:
                conn.read_until_closed()

        with client(script, connections=2) as (conn, _):
            response = conn.getresponse(conn.request("GET", "/"))
            assert response.read() == b"conn 0"
            _wait_readable(response)
            assert conn.getresponse(conn.request("GET", "/")).read() == b"conn 1"

    def test_local_reset_frees_a_slot_for_a_thread_blocked_reading(self) -> None:
        """With MAX_CONCURRENT_STREAMS=1, closing a response early frees the
        slot even while the thread waiting for it is blocked in recv."""

        waiter_started = threading.Event()
        waiter_reading = threading.Event()

        def script(conn: PeerConnection) -> None:
            conn.handshake({SETTINGS_MAX_CONCURRENT_STREAMS: 1})
            first = conn.expect_complete_request()
            conn.send_headers(first.stream_id, [(b":status", b"200")])
            conn.send_body(first.stream_id, b"never read to the end", end_stream=False)
            wait(waiter_started, "the second request's thread")
            # Only that thread is inside the connection now, waiting for the
            # slot: its ACK shows it blocked reading.
            conn.ping_client()
            waiter_reading.set()
            second = conn.expect_complete_request()
            assert conn.requests[first.stream_id].reset == ErrorCodes.CANCEL
            conn.respond(second.stream_id, body=b"second")
            conn.read_until_closed()

        # A read timeout longer than the wait below: only the wake-up can
        # finish in time.
        with client(script, timeout=3 * TIMEOUT) as (conn, _):
            first = conn.getresponse(conn.request("GET", "/1"))
            with ThreadPoolExecutor(1) as pool:
                second = pool.submit(lambda: conn.getresponse(conn.request("GET", "/2")).read())
                waiter_started.set()
                wait(waiter_reading, "the second request's read")
                first.close()
                assert second.result(TIMEOUT) == b"second"


def _wait_readable(response: HTTP20Response) -> None:
    """Block until the server's next move reached the socket of the response's
    connection (no sleeping). A closed socket (-1) means the client has seen it."""
    fd = response.fileno()
    if fd >= 0:
        readable, _, _ = select.select([fd], [], [], TIMEOUT)
        assert readable, f"the server made no move within {TIMEOUT} s"


class TestConnectionErrors:
    def test_stalled_response_times_out_and_connection_survives(self) -> None:
        """The read half of a (connect, read) timeout bounds the wait for a response."""
        answered = threading.Event()

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            slow = conn.expect_complete_request()
            fast = conn.expect_complete_request()  # sent after the timeout
            conn.respond(fast.stream_id, body=b"fast")
            conn.respond(slow.stream_id, body=b"slow")
            answered.set()
            conn.read_until_closed()

        with client(script, timeout=(CLIENT_TIMEOUT, SHORT_TIMEOUT)) as (conn, _):
            slow = conn.request("GET", "/slow")
            with pytest.raises(common_exc.TimeoutError) as info:
                conn.getresponse(slow)
            assert isinstance(info.value, TimeoutError)  # the builtin too
            fast = conn.request("GET", "/fast")
            wait(answered, "the peer's answers")  # so no read below has to wait
            assert conn.getresponse(fast).read() == b"fast"
            assert conn.getresponse(slow).read() == b"slow"

    def test_connect_half_of_a_timeout_pair_bounds_the_tls_handshake(self) -> None:
        """A server that accepts TCP but never answers the ClientHello."""
        with silent_listener() as port:
            conn = HTTP20Connection(
                "127.0.0.1", port, secure=True, timeout=(SHORT_TIMEOUT, CLIENT_TIMEOUT)
            )
            with pytest.raises(common_exc.TimeoutError):
                conn.connect()

    def test_garbage_is_a_protocol_error_with_goaway_on_the_wire(self) -> None:
        """Every waiter gets the ProtocolError; GOAWAY(PROTOCOL_ERROR) goes out;
        the next request uses a new connection."""

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            if conn.index == 0:
                conn.expect_complete_request()
                conn.expect_complete_request()
                conn.send(conn.factory.raw_frame(0x0, 0, 0, b"data on stream zero"))
            else:
                request = conn.expect_complete_request()
                conn.respond(request.stream_id, body=b"fresh")
            conn.read_until_closed()

        with client(script, connections=2) as (conn, peer):
            first = conn.request("GET", "/1")
            second = conn.request("GET", "/2")
            with pytest.raises(h2_exc.ProtocolError):
                conn.getresponse(first)
            with pytest.raises(h2_exc.ProtocolError):
                conn.getresponse(second)
            assert conn.getresponse(conn.request("GET", "/3")).read() == b"fresh"
        (goaway,) = peer.conns[0].goaway_frames()
        assert goaway.error_code == ErrorCodes.PROTOCOL_ERROR

    def test_server_that_is_not_http2(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.read_until_closed()

        with client(script) as (conn, _), pytest.raises(h2_exc.ProtocolError):
            conn.connect()

    def test_socket_closed_mid_body(self) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.send_headers(request.stream_id, [(b":status", b"200")])
            conn.send_body(request.stream_id, b"x" * 1000, end_stream=False)
            conn.sock.shutdown(socket.SHUT_RDWR)

        with client(script) as (conn, _):
            response = conn.getresponse(conn.request("GET", "/"))
            with pytest.raises(h2_exc.ConnectionTerminatedError) as info:
                response.read()
            assert isinstance(info.value, ConnectionResetError)
            assert isinstance(info.value, common_exc.ConnectionResetError)
            with pytest.raises(h2_exc.ConnectionTerminatedError):
                response.read()  # and again: the failure sticks

    def test_connection_refused(self) -> None:
        with refused_port() as port:
            conn = HTTP20Connection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
            with pytest.raises(common_exc.ConnectionError) as info:
                conn.connect()
        assert isinstance(info.value, ConnectionError)
        assert info.value.errno == errno.ECONNREFUSED
        assert isinstance(info.value.__cause__, ConnectionRefusedError)

    def test_close_sends_goaway_and_the_object_reconnects(self) -> None:
        with client(serving(echo), connections=2) as (conn, peer):
            assert conn.getresponse(conn.request("GET", "/a")).read() == b"/a\n"
            conn.close()
            assert conn.getresponse(conn.request("GET", "/b")).read() == b"/b\n"
        first = peer.conns[0]
        assert [g.error_code for g in first.goaway_frames()] == [ErrorCodes.NO_ERROR]
        assert first.closed
        assert list(peer.conns[1].requests) == [3]  # ids keep rising

    def test_close_wakes_a_thread_blocked_on_a_response(self) -> None:
        waiter_started = threading.Event()
        waiter_reading = threading.Event()

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            conn.expect_complete_request()  # never answered
            wait(waiter_started, "the waiting thread's start")
            # Only the waiting thread is inside the connection now: its ACK
            # shows it reading, blocked on the response that never comes.
            conn.ping_client()
            waiter_reading.set()
            conn.read_until_closed()

        with client(script) as (conn, peer):
            stream_id = conn.request("GET", "/")
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(conn.getresponse, stream_id)
                waiter_started.set()
                wait(waiter_reading, "the waiting thread's read")
                conn.close()
                with pytest.raises(h2_exc.ConnectionError, match="closed by the client"):
                    waiting.result(TIMEOUT)
        assert [g.error_code for g in peer.conns[0].goaway_frames()] == [ErrorCodes.NO_ERROR]

    def test_ping_returns_round_trip_time(self) -> None:
        with client(serving(echo)) as (conn, peer):
            rtt = conn.ping(b"abcdefgh")
            assert 0 <= rtt < CLIENT_TIMEOUT
        pings = [f for f in peer.conns[0].frames if isinstance(f, PingFrame)]
        assert [p.opaque_data for p in pings] == [b"abcdefgh"]


class TestThreads:
    def test_max_concurrent_streams_1_with_8_threads(self) -> None:
        """Requests wait for the single slot; the peer never sees a second
        request while one is unanswered."""
        violations: list[int] = []

        def handler(conn: PeerConnection, request: Request) -> None:
            # Anything the client already sent must not open another stream.
            while select.select([conn.sock], [], [], 0)[0]:
                before = len(conn.requests)
                if conn.read_frame() is None:
                    break
                if len(conn.requests) > before:
                    violations.append(request.stream_id)
            conn.respond(request.stream_id, body=bytes(request.path))

        script = serving(handler, settings={SETTINGS_MAX_CONCURRENT_STREAMS: 1})
        with client(script) as (conn, _):

            def work(n: int) -> bool:
                ok = True
                for i in range(10):
                    path = f"/{n}/{i}"
                    ok &= conn.getresponse(conn.request("GET", path)).read() == path.encode()
                return ok

            with ThreadPoolExecutor(8) as pool:
                assert all(pool.map(work, range(8)))
        assert violations == []

    def test_8_threads_100_requests_each(self) -> None:
        """...and every stream is released after: the peer's limit of 100 open
        streams then admits 100 requests at once."""

        def handler(conn: PeerConnection, request: Request) -> None:
            size = int(request.path.rsplit(b"/", 1)[1])
            conn.respond(request.stream_id, body=request.path * size)

        script = serving(handler, settings={SETTINGS_MAX_CONCURRENT_STREAMS: 100})
        with client(script) as (conn, _):

            def work(n: int) -> int:
                good = 0
                for i in range(100):
                    path = f"/t{n}/{i * 37 % 400}"
                    body = conn.getresponse(conn.request("GET", path)).read()
                    good += body == path.encode() * int(path.rsplit("/", 1)[1])
                return good

            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(work, range(8))) == [100] * 8
            # A stream left open would make the 100th request wait for a slot
            # (and time out): all 100 are sent before any response is read.
            ids = [conn.request("GET", "/after/1") for _ in range(100)]
            assert [conn.getresponse(i).read() for i in ids] == [b"/after/1"] * 100

    def test_each_waiting_thread_gets_its_response_whatever_the_order(self) -> None:
        """Eight threads wait at once; the server answers half of them, makes
        sure the client read that, then the rest in reverse: whichever thread
        was reading and got its answer first, another takes over for the
        rest (within the read timeout, else this fails)."""
        threads = 8
        rounds = 5

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            for _ in range(rounds):
                requests = [conn.expect_complete_request() for _ in range(threads)]
                for request in requests[::2]:
                    conn.respond(request.stream_id, body=bytes(request.path))
                conn.ping_client()
                for request in requests[1::2][::-1]:
                    conn.respond(request.stream_id, body=bytes(request.path))
            conn.read_until_closed()

        with client(script) as (conn, _):
            for round_ in range(rounds):
                barrier = threading.Barrier(threads)

                def work(n: int, round_: int = round_, barrier: Any = barrier) -> bytes:
                    path = f"/{round_}/{n}"
                    stream_id = conn.request("GET", path)
                    barrier.wait(TIMEOUT)  # every request is out before any wait
                    return conn.getresponse(stream_id).read()

                with ThreadPoolExecutor(threads) as pool:
                    bodies = list(pool.map(work, range(threads)))
                assert bodies == [f"/{round_}/{n}".encode() for n in range(threads)]

    def test_a_thread_gone_off_with_its_response_does_not_hold_up_the_others(self) -> None:
        """Every answer arrives in one write, so one read step satisfies all
        the threads, and they are woken in turn. Each thread, once it has
        its response, stays away from the connection until every thread
        has its own: a thread that kept the turn to itself while away would
        leave the others asleep (the barrier then times out)."""
        threads = 16

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            requests = [conn.expect_complete_request() for _ in range(threads)]
            factory = conn.factory
            conn.send(b"".join(
                factory.headers(r.stream_id, [(b":status", b"200")])
                + factory.data(r.stream_id, bytes(r.path), end_stream=True)
                for r in requests
            ))  # fmt: skip
            conn.read_until_closed()

        with client(script) as (conn, _):
            sent = threading.Barrier(threads)
            answered = threading.Barrier(threads)

            def work(n: int) -> bytes:
                stream_id = conn.request("GET", f"/{n}")
                sent.wait(TIMEOUT)  # every request is out before any wait
                response = conn.getresponse(stream_id)
                answered.wait(TIMEOUT)
                return response.read()

            with ThreadPoolExecutor(threads) as pool:
                bodies = list(pool.map(work, range(threads)))
            assert bodies == [f"/{n}".encode() for n in range(threads)]

    @pytest.mark.parametrize(
        ("exchange", "rounds"),
        [("read", 2000), ("push-read", 500), ("push-cancelled", 500),
         ("closed-mid-body", 500), ("reset-by-server", 500), ("dropped-unread", 500)],
    )  # fmt: skip
    def test_memory_stays_flat_over_many_requests(self, exchange: str, rounds: int) -> None:
        """Memory allocated by hyper's own code (the peer in this process is
        not counted) does not grow with the number of requests, however each
        stream ends: nothing is kept per finished, cancelled or reset stream."""
        one_exchange = _EXCHANGES[exchange]
        with client(serving(_exchange_handler), enable_push=True) as (conn, _):
            # 200 warm-up rounds fill caches and the HPACK tables. The engine remembers
            # the ids of streams that were reset or pushed (about 100 bytes each, up to
            # 65536: within the bound); a request that simply ended leaves nothing.
            growth = hyper_growth_per_round(lambda _: one_exchange(conn), 200, rounds)
            bound = 8 if exchange == "read" else 300
            assert growth < bound, f"{growth:.0f} bytes kept per {exchange} request"

    def test_unread_stream_holds_at_most_its_window(self) -> None:
        big = b"b" * (3 << 20)

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            first = conn.expect_complete_request()
            second = conn.expect_complete_request()
            conn.send_headers(first.stream_id, [(b":status", b"200")])
            conn.send_body(first.stream_id, big[: 1 << 20], end_stream=False)
            conn.respond(second.stream_id, body=b"small")
            conn.send_body(first.stream_id, big[1 << 20 :])  # waits for window
            conn.read_until_closed()

        with client(script) as (conn, peer):
            first = conn.request("GET", "/big")
            second = conn.request("GET", "/small")
            big_response = conn.getresponse(first)
            assert conn.getresponse(second).read() == b"small"
            conn.ping(b"unread!!")  # the client has read all it was sent so far
            assert big_response.read() == big
        # What the peer could send on the unread stream was the client's initial
        # window (at most 1 MiB), and no window came back for it before the
        # application started reading: so at most that much was ever buffered.
        frames = peer.conns[0].frames
        assert peer.conns[0].client_settings.get(SETTINGS_INITIAL_WINDOW_SIZE, 65535) <= 1 << 20
        pings = [i for i, f in enumerate(frames) if isinstance(f, PingFrame)]
        sync = next(i for i in pings if frames[i].opaque_data == b"unread!!")
        assert not [
            f for f in frames[:sync] if isinstance(f, WindowUpdateFrame) and f.stream_id == first
        ]


def _exchange_handler(conn: PeerConnection, request: Request) -> None:
    """Serves the paths of :data:`_EXCHANGES`."""
    sid = request.stream_id
    if request.path == b"/push":
        # Promised for the connection's own origin (RFC 9113 8.4: any other is refused).
        pushed = [
            (b":method", b"GET"), (b":scheme", b"http"),
            (b":authority", request.fields[b":authority"]), (b":path", b"/pushed"),
        ]  # fmt: skip
        promised = conn.promise(sid, pushed)
        conn.respond(sid, body=b"page")
        conn.respond(promised, body=b"pushed")
    elif request.path == b"/partial":
        conn.send_headers(sid, [(b":status", b"200")])
        conn.send_body(sid, b"p" * 100, end_stream=False)
    elif request.path == b"/reset":
        conn.send_headers(sid, [(b":status", b"200")])
        conn.send_body(sid, b"r" * 100, end_stream=False)
        conn.send(conn.factory.rst_stream(sid, ErrorCodes.INTERNAL_ERROR))
    else:
        conn.respond(sid, body=b"body")


def _read(conn: HTTP20Connection) -> None:
    assert conn.getresponse(conn.request("GET", "/")).read() == b"body"


def _push_read(conn: HTTP20Connection) -> None:
    response = conn.getresponse(conn.request("GET", "/push"))
    assert response.read() == b"page"
    (push,) = response.pushes
    assert push.getresponse().read() == b"pushed"


def _push_cancelled(conn: HTTP20Connection) -> None:
    response = conn.getresponse(conn.request("GET", "/push"))
    assert response.read() == b"page"
    response.pushes[0].cancel()


def _closed_mid_body(conn: HTTP20Connection) -> None:
    with conn.getresponse(conn.request("GET", "/partial")) as response:
        assert response.read(5) == b"ppppp"


def _reset_by_server(conn: HTTP20Connection) -> None:
    response = conn.getresponse(conn.request("GET", "/reset"))
    with pytest.raises(h2_exc.StreamResetError):
        response.read()


def _dropped_unread(conn: HTTP20Connection) -> None:
    conn.getresponse(conn.request("GET", "/partial"))  # garbage at once, unread


#: One request each, ending its stream in a different way.
_EXCHANGES = {
    "read": _read,
    "push-read": _push_read,
    "push-cancelled": _push_cancelled,
    "closed-mid-body": _closed_mid_body,
    "reset-by-server": _reset_by_server,
    "dropped-unread": _dropped_unread,
}


class TestTLS:
    def test_get_over_tls_with_alpn(self, server_tls: Any, client_tls: ssl.SSLContext) -> None:
        with client(serving(echo), peer_tls=server_tls(), secure=True,
                    ssl_context=client_tls) as (conn, peer):  # fmt: skip
            assert conn.getresponse(conn.request("GET", "/tls")).read() == b"/tls\n"
        assert peer.conns[0].requests[1].fields[b":scheme"] == b"https"

    def test_large_bodies_both_ways_over_tls(
        self, server_tls: Any, client_tls: ssl.SSLContext
    ) -> None:
        """Several TLS records arrive per read."""
        payload = bytes(range(256)) * (12 * 1024)  # 3 MiB

        def handler(conn: PeerConnection, request: Request) -> None:
            conn.respond(request.stream_id, body=bytes(request.body) + payload)

        with client(serving(handler), peer_tls=server_tls(), secure=True,
                    ssl_context=client_tls) as (conn, _):  # fmt: skip
            conn.request("PUT", "/", body=payload[:300000])
            assert conn.getresponse().read() == payload[:300000] + payload

    def test_server_without_h2_gets_a_clear_error(
        self, server_tls: Any, client_tls: ssl.SSLContext
    ) -> None:
        def script(conn: PeerConnection) -> None:
            conn.read_until_closed()

        with client(script, peer_tls=server_tls(("http/1.1",)), secure=True,
                    ssl_context=client_tls) as (conn, _):  # fmt: skip
            error = pytest.raises(common_exc.ConnectionError, match=r"http/1\.1")
            with error:
                conn.connect()

    def test_untrusted_certificate(self, server_tls: Any) -> None:
        other = trustme.CA()
        context = init_context()
        other.configure_trust(context)

        def script(conn: PeerConnection) -> None:
            raise AssertionError("the handshake should have failed")

        with Peer(script, tls=server_tls()) as peer:
            conn = HTTP20Connection(peer.address, secure=True, ssl_context=context,
                                    timeout=CLIENT_TIMEOUT)  # fmt: skip
            with pytest.raises(common_exc.ConnectionError, match="TLS") as info:
                conn.connect()
            assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        assert peer.tls_errors


def _tunnel(
    answer: bytes | None = None, upstream: int | None = None
) -> tuple[Listener, list[bytes]]:
    """A minimal HTTP CONNECT proxy for one tunnel, and the request heads it reads.

    It answers ``answer`` and closes, or (by default) connects to the target (or
    to port ``upstream`` of 127.0.0.1, whatever the target) and relays both ways
    until each side has closed."""
    heads: list[bytes] = []

    def script(conn: Conn) -> None:
        head = conn.read_until(b"\r\n\r\n")
        heads.append(head)
        if answer is not None:
            conn.send(answer)
            return
        host, port = head.split(b" ")[1].decode().rsplit(":", 1)
        if upstream is not None:
            host, port = "127.0.0.1", str(upstream)
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as server:
            conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")

            def pipe(src: socket.socket, dst: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while data := src.recv(65536):
                        dst.sendall(data)
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=pipe, args=(server, conn.sock), daemon=True)
            back.start()
            pipe(conn.sock, server)
            back.join(TIMEOUT)

    return Listener([script]), heads


class TestProxy:
    def test_request_through_a_connect_tunnel(self) -> None:
        tunnel, heads = _tunnel()
        with Peer(serving(echo)) as peer, tunnel as proxy:
            with HTTP20Connection(peer.address, proxy_host=proxy.address,
                                  proxy_headers={"Proxy-Authorization": "Basic eDp5"},
                                  timeout=CLIENT_TIMEOUT) as conn:  # fmt: skip
                assert conn.getresponse(conn.request("GET", "/via")).read() == b"/via\n"
            proxy.wait_finished()
        (request,) = heads
        assert request.startswith(f"CONNECT {peer.address} HTTP/1.1\r\n".encode())
        assert b"\r\nProxy-Authorization: Basic eDp5\r\n" in request

    def test_proxy_refusing_the_tunnel(self) -> None:
        answer = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"
        tunnel, _ = _tunnel(answer)
        with tunnel as proxy:
            conn = HTTP20Connection("example.com", 80, proxy_host="127.0.0.1",
                                    proxy_port=proxy.port, timeout=CLIENT_TIMEOUT)  # fmt: skip
            with pytest.raises(common_exc.ProxyError, match="407") as info:
                conn.connect()
        assert info.value.response.status == 407
        assert info.value.response.headers[b"proxy-authenticate"] == [b"Basic"]


def test_goaway_frames_helper_sees_headers_frames_too() -> None:
    """Sanity check of the peer: it decodes our header blocks."""
    with client(serving(echo)) as (conn, peer):
        conn.getresponse(conn.request("GET", "/")).read()
    assert any(isinstance(f, HeadersFrame) for f in peer.conns[0].frames)
    assert not any(isinstance(f, GoAwayFrame) and f.error_code for f in peer.conns[0].frames)
