"""
hyper's clients against hostile servers (the checklist's section 4 items
marked C; docs/security.rst): a scripted peer (``test/peer.py``) does what
no real server does on purpose, and both :class:`hyper.HTTP20Connection`
and :class:`hyper.aio.connection.AsyncHTTP20Connection` must end with a
clear hyper exception within their timeout and bounded memory, never a
hang or a spin. (Engine-level limits have their own tests in
test_engine_limits.py; these drive the public clients over real sockets.)
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import ssl
from collections.abc import Callable
from typing import Any

import pytest

try:
    import tracemalloc
except ImportError:  # PyPy has none: these memory bounds are measured in the CPython run
    tracemalloc = None  # type: ignore[assignment]

try:
    import brotli
except ImportError:  # PyPy: brotlicffi, the same API through cffi
    import brotlicffi as brotli
from hpack import Encoder
from hyperframe.frame import RstStreamFrame
from support.peer import TIMEOUT, Peer, PeerConnection

from hyper import HTTP20Connection
from hyper.aio.connection import AsyncHTTP20Connection
from hyper.common.exceptions import HyperError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.http20 import exceptions as h2_exc
from hyper.http20.errors import ErrorCodes

# The wait under test (a window or a slot that never comes) is the behaviour
# itself, not a synchronisation sleep.
SHORT_TIMEOUT = 0.5
BOMB_SIZE = 64 << 20
MEMORY_BOUND = 8 << 20

try:
    import requests

    from hyper.contrib import HTTP2Adapter
except ImportError:  # requests is an optional extra; the test extra has it
    requests = None  # type: ignore[assignment]

CLIENTS = ["blocking", "async", "adapter"]


def _fetch(kind: str, port: int, path: str = "/", *, timeout: float = TIMEOUT,
           reads: int | None = None, body: bytes | None = None) -> Any:  # fmt: skip
    """GET (or POST ``body``) with one of the clients; the body, or the first ``reads`` reads."""
    method = "GET" if body is None else "POST"
    if kind == "adapter":
        return _fetch_with_requests(method, port, path, timeout, reads, body)
    if kind == "blocking":
        with HTTP20Connection(f"127.0.0.1:{port}", secure=False, timeout=timeout) as conn:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            if reads is None:
                return resp.read()
            return [len(resp.read(65536)) for _ in range(reads)]

    async def run() -> Any:
        async with AsyncHTTP20Connection(f"127.0.0.1:{port}", timeout=timeout) as conn:
            stream_id = await conn.request(method, path, body=body)
            resp = await conn.get_response(stream_id)
            if reads is None:
                return await resp.read()
            return [len(await resp.read(65536)) for _ in range(reads)]

    return asyncio.run(run())


def _fetch_with_requests(
    method: str, port: int, path: str, timeout: float, reads: int | None, body: bytes | None
) -> Any:
    """The same through requests and HTTP2Adapter (prior knowledge, as the peer
    speaks). Its errors must be requests' own carrying hyper's as the cause:
    that cause is raised, for the checks the other clients face."""
    if requests is None:
        pytest.fail("requests is not installed (pip install -e '.[test]')")
    session = requests.Session()
    session.mount("http://", HTTP2Adapter(force_proto="h2"))
    try:
        resp = session.request(
            method, f"http://127.0.0.1:{port}{path}", data=body, timeout=timeout,
            stream=reads is not None,
        )  # fmt: skip
        if reads is None:
            return resp.content
        return [len(resp.raw.read(65536, decode_content=True)) for _ in range(reads)]
    except requests.exceptions.RequestException as exc:
        assert isinstance(exc.__cause__, HyperError), repr(exc)
        raise exc.__cause__ from exc
    finally:
        session.close()


def _serve(script: Callable[[PeerConnection], None], kind: str, **kwargs: Any) -> Any:
    with Peer(script) as peer:
        return _fetch(kind, peer.port, **kwargs)


def _peak(call: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``call`` under tracemalloc: (its result or exception, peak bytes)."""
    if tracemalloc is None:
        pytest.skip("no tracemalloc on PyPy; memory bounds are measured in the CPython run")
    tracemalloc.start()
    try:
        try:
            result: Any = call()
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", CLIENTS)
class TestHostileServers:
    def test_hpack_bomb_is_a_connection_error_with_bounded_memory(self, kind: str) -> None:
        """A11: response headers decoding to 4 MB from a few KB -> HeaderListTooLargeError."""
        encoder = Encoder()
        block = encoder.encode([(":status", "200"), ("x-bomb", "b" * 4000)])
        block += encoder.encode([("x-bomb", "b" * 4000)]) * 1000

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_request()
            conn.send(conn.factory.headers_block(request.stream_id, block, end_stream=True))
            conn.read_until_closed()

        result, peak = _peak(lambda: _serve(script, kind))
        assert isinstance(result, h2_exc.ConnectionError), result
        assert peak < MEMORY_BOUND

    def test_endless_continuation_is_cut_off(self, kind: str) -> None:
        """A10: HEADERS and CONTINUATION frames that never end the block -> a connection
        error after the cap, GOAWAY on the wire, bounded memory."""
        goaways: list[int] = []

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_request()
            sid = request.stream_id
            start = conn.factory.encode([(":status", "200")])
            conn.send(conn.factory.headers_block(sid, start, end_headers=False))
            try:
                for _ in range(1000):
                    conn.sock.sendall(conn.factory.continuation(sid, b"\x40" * 16000, False))
            except OSError:
                pass  # the client hung up: what we expect
            goaways.extend(f.error_code for f in conn.goaway_frames())
            try:
                conn.read_until_closed()
            except OSError:
                pass
            goaways.extend(f.error_code for f in conn.goaway_frames())

        result, peak = _peak(lambda: _serve(script, kind))
        assert isinstance(result, h2_exc.ConnectionError), result
        assert peak < MEMORY_BOUND
        assert goaways and goaways[-1] in (
            ErrorCodes.ENHANCE_YOUR_CALM,
            ErrorCodes.PROTOCOL_ERROR,
        )

    def test_server_that_never_opens_its_window_times_out(self, kind: str) -> None:
        """A19: INITIAL_WINDOW_SIZE=0 forever: an upload ends in TimeoutError, no spin."""

        def script(conn: PeerConnection) -> None:
            conn.handshake({0x4: 0})
            conn.expect_request()
            conn.read_until_closed()

        with pytest.raises(HyperTimeoutError):
            _serve(script, kind, body=b"x" * 100000, timeout=SHORT_TIMEOUT)

    def test_max_concurrent_streams_zero_forever_times_out(self, kind: str) -> None:
        """A19/T9: MAX_CONCURRENT_STREAMS=0 forever: the request times out, no spin."""

        def script(conn: PeerConnection) -> None:
            conn.handshake({0x3: 0})
            conn.read_until_closed()

        with pytest.raises(HyperError) as info:
            _serve(script, kind, timeout=SHORT_TIMEOUT)
        assert isinstance(info.value, (HyperTimeoutError, TimeoutError)), info.value

    def test_body_dribbled_one_byte_per_frame_arrives_whole(self, kind: str) -> None:
        """A1 (the client's side): 20,000 one-byte DATA frames are a slow body,
        not an attack: read whole and correct."""
        body = bytes(range(256)) * 78

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_request()
            sid = request.stream_id
            conn.send_headers(sid, [(b":status", b"200")])
            frames = b"".join(conn.factory.data(sid, body[i : i + 1]) for i in range(len(body)))
            conn.send(frames + conn.factory.data(sid, b"", end_stream=True))
            conn.read_until_closed()

        assert _serve(script, kind) == body

    def test_goaway_storm_ends_cleanly(self, kind: str) -> None:
        """G2/A19: 1,000 GOAWAYs after the response: the response is kept, the client
        closes without error or spin."""

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_request()
            conn.respond(request.stream_id, body=b"kept")
            conn.send(b"".join(conn.factory.goaway(request.stream_id, 0) for _ in range(1000)))
            conn.read_until_closed()

        assert _serve(script, kind) == b"kept"

    @pytest.mark.parametrize("coding", ["gzip", "br"])
    def test_decompression_bomb_is_bounded_per_read(self, kind: str, coding: str) -> None:
        """A17 (CVE-2025-66471, CVE-2026-44432 brotli second read): 64 MiB of zeros
        in a few KB: each read(65536) decodes at most 64 KiB, memory stays bounded."""
        zeros = bytes(BOMB_SIZE)
        bomb = gzip.compress(zeros, 9) if coding == "gzip" else brotli.compress(zeros, quality=9)
        del zeros

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_request()
            try:
                # The client stops after three reads and may close while the
                # bomb is still going out: a broken pipe here is its right.
                conn.respond(request.stream_id, headers=[(b"content-encoding", coding.encode())],
                             body=bomb)  # fmt: skip
                conn.read_until_closed()
            except OSError:
                pass

        sizes, peak = _peak(lambda: _serve(script, kind, reads=3))
        assert sizes == [65536, 65536, 65536], sizes
        assert peak < MEMORY_BOUND


def _promise(conn: PeerConnection, parent: int, promised: int, scheme: bytes, authority: bytes,
             path: bytes = b"/pushed") -> None:  # fmt: skip
    conn.push(parent, promised, [(b":method", b"GET"), (b":scheme", scheme),
                                 (b":authority", authority), (b":path", path)])  # fmt: skip


class TestPushAuthority:
    """RFC 9113 8.4, A18: a client accepts pushes only for origins the server is
    authoritative for; anything else is reset (PROTOCOL_ERROR), never in ``pushes``."""

    @staticmethod
    def _script(
        promises: list[tuple[bytes, bytes | None]],
        resets: dict[int, int],
        headers: bool = True,
    ) -> Callable[[PeerConnection], None]:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            sid = request.stream_id
            own = request.fields[b":authority"]
            port = own.rpartition(b":")[2]
            for index, (scheme, authority) in enumerate(promises):
                promised = 2 * index + 2
                authority = own if authority is None else authority.replace(b"{port}", port)
                _promise(conn, sid, promised, scheme, authority)
                if headers:
                    conn.send_headers(promised, [(b":status", b"200")])
            conn.respond(sid, body=b"page")

            def note_resets() -> None:
                resets.update(
                    (f.stream_id, f.error_code)
                    for f in conn.frames
                    if isinstance(f, RstStreamFrame)
                )

            try:
                # Answer any further request (what the client reset came
                # before it); read every frame up to the close.
                while (more := conn.next_request()) is not None:
                    note_resets()
                    conn.respond(more.stream_id, body=b"next")
            except OSError:
                pass  # TLS: the client's close may come without close_notify
            note_resets()

        return script

    def test_pushes_for_another_origin_are_refused(self) -> None:
        resets: dict[int, int] = {}
        promises: list[tuple[bytes, bytes | None]] = [
            (b"http", None),  # the connection's own origin: accepted
            (b"http", b"evil.example"),
            (b"https", None),  # same host, other scheme
            (b"http", b"127.0.0.1:1"),  # same host, other port
        ]
        with (
            Peer(self._script(promises, resets)) as peer,
            HTTP20Connection(
                peer.address, secure=False, enable_push=True, timeout=TIMEOUT
            ) as conn,
        ):
            resp = conn.getresponse(conn.request("GET", "/"))
            assert resp.read() == b"page"
            assert [p.path for p in resp.pushes] == [b"/pushed"]
            # The next call on the connection sends what reading queued.
            assert conn.getresponse(conn.request("GET", "/next")).read() == b"next"
        assert resets == {4: ErrorCodes.PROTOCOL_ERROR, 6: ErrorCodes.PROTOCOL_ERROR,
                          8: ErrorCodes.PROTOCOL_ERROR}  # fmt: skip

    def test_the_async_client_refuses_other_origins_too(self) -> None:
        resets: dict[int, int] = {}
        promises: list[tuple[bytes, bytes | None]] = [(b"http", None), (b"http", b"evil.example")]

        async def run(port: int) -> list[bytes]:
            async with AsyncHTTP20Connection(
                f"127.0.0.1:{port}", enable_push=True, timeout=TIMEOUT
            ) as conn:
                resp = await conn.get_response(await conn.request("GET", "/"))
                assert await resp.read() == b"page"
                paths = [p.path for p in resp.pushes]
                nxt = await conn.get_response(await conn.request("GET", "/next"))
                assert await nxt.read() == b"next"
                return paths

        with Peer(self._script(promises, resets)) as peer:
            assert asyncio.run(run(peer.port)) == [b"/pushed"]
        assert resets.get(4) == ErrorCodes.PROTOCOL_ERROR

    def test_over_tls_a_name_the_certificate_covers_is_accepted(
        self, server_tls: Callable[..., ssl.SSLContext], client_tls: ssl.SSLContext
    ) -> None:
        """The certificate covers 127.0.0.1 and localhost: a push for
        localhost on a connection to 127.0.0.1 is fine; evil.example is not."""
        resets: dict[int, int] = {}
        promises: list[tuple[bytes, bytes | None]] = [
            (b"https", b"localhost:{port}"),
            (b"https", b"evil.example:{port}"),
        ]
        with Peer(self._script(promises, resets), tls=server_tls()) as peer:
            with HTTP20Connection(peer.address, secure=True, ssl_context=client_tls,
                                  enable_push=True, timeout=TIMEOUT) as conn:  # fmt: skip
                resp = conn.getresponse(conn.request("GET", "/"))
                assert resp.read() == b"page"
                assert [p.authority for p in resp.pushes] == [f"localhost:{peer.port}".encode()]
                assert conn.getresponse(conn.request("GET", "/next")).read() == b"next"
            assert resets == {4: ErrorCodes.PROTOCOL_ERROR}

    def test_unread_pushes_are_cancelled(self) -> None:
        """A push the application never looks at is reset (CANCEL), not buffered."""
        resets: dict[int, int] = {}
        with (
            Peer(self._script([(b"http", None)], resets)) as peer,
            HTTP20Connection(
                peer.address, secure=False, enable_push=True, timeout=TIMEOUT
            ) as conn,
        ):
            resp = conn.getresponse(conn.request("GET", "/"))
            assert resp.read() == b"page"
            del resp  # its pushes were never asked for
            gc.collect()  # PyPy frees it only then (its finalizers run in order,
            gc.collect()  # one object a collection); CPython already has
            # The next call on the connection releases what was dropped.
            assert conn.getresponse(conn.request("GET", "/next")).read() == b"next"
        assert resets == {2: ErrorCodes.CANCEL}

    def test_push_flood_is_bounded_by_the_reserved_cap(self) -> None:
        """A18/U2: 1,000 promises on one request: 200 (the reserved cap) reach
        ``pushes``, every other one is reset, and the response is intact."""
        resets: dict[int, int] = {}
        promises: list[tuple[bytes, bytes | None]] = [(b"http", None)] * 1000
        with (
            Peer(self._script(promises, resets, headers=False)) as peer,
            HTTP20Connection(
                peer.address, secure=False, enable_push=True, timeout=TIMEOUT
            ) as conn,
        ):
            resp = conn.getresponse(conn.request("GET", "/"))
            assert resp.read() == b"page"
            assert len(resp.pushes) == 200
            assert conn.getresponse(conn.request("GET", "/next")).read() == b"next"
        assert len(resets) == 800
        assert set(resets.values()) == {ErrorCodes.REFUSED_STREAM}
