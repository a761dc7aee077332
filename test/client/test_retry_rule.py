"""
The retry rule of both client connection classes (``HTTP20Connection`` and
``AsyncHTTP20Connection``, one policy: ``hyper.core.origin``), against
scripted peers on loopback.

- A connection opened for a request answers for itself: a malformed first
  SETTINGS is raised at once, with no second connection and no wait for a
  timeout (``timeout=None`` too).
- A reused connection found dead before the request went out earns one
  retry on a new connection; when that retry fails, the error raised has
  the first failure as its ``__cause__``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from support.listener import Conn, Listener
from support.peer import Peer, PeerConnection, Request
from support.timeouts import TIMEOUT

from hyper import HTTP20Connection
from hyper.aio import AsyncHTTP20Connection
from hyper.common import exceptions as common_exc
from hyper.http20 import exceptions as h2_exc

SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
# A SETTINGS frame of length 5: FRAME_SIZE_ERROR (RFC 9113 6.5).
MALFORMED_SETTINGS = b"\x00\x00\x05\x04\x00\x00\x00\x00\x00" + b"\x00" * 5
# GOAWAY(last stream 0, NO_ERROR): a server shutting down.
GOAWAY_NO_ERROR = b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" + b"\x00" * 8


class Front:
    """One connection class behind the calls a test makes, blocking either way."""

    def __init__(self, kind: str, address: str, timeout: float | None) -> None:
        self.kind = kind
        self._loop: asyncio.AbstractEventLoop | None = None
        self.conn: Any
        if kind == "sync":
            self.conn = HTTP20Connection(address, timeout=timeout)
        else:
            self._loop = asyncio.new_event_loop()
            self.conn = AsyncHTTP20Connection(address, timeout=timeout)

    def _run(self, call: Callable[[], Any]) -> Any:
        if self._loop is None:
            return call()
        return self._loop.run_until_complete(asyncio.wait_for(call(), TIMEOUT))

    def request(self, path: str) -> int:
        return int(self._run(lambda: self.conn.request("GET", path)))

    def body(self, stream_id: int) -> bytes:
        if self._loop is None:
            return bytes(self.conn.getresponse(stream_id).read())

        async def read() -> bytes:
            response = await self.conn.get_response(stream_id)
            return bytes(await response.read())

        return bytes(self._run(read))

    def fetch(self, path: str) -> bytes:
        return self.body(self.request(path))

    def close(self) -> None:
        self.conn.close()
        if self._loop is not None:
            self._loop.run_until_complete(asyncio.sleep(0))  # let the transports close
            self._loop.close()


@pytest.fixture(params=["sync", "async"])
def front_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.contextmanager
def front(kind: str, address: str, timeout: float | None = TIMEOUT) -> Iterator[Front]:
    client = Front(kind, address, timeout)
    try:
        yield client
    finally:
        client.close()


def no_second_connection(conn: PeerConnection) -> None:
    raise AssertionError("the client opened a second connection")


def answer(conn: PeerConnection, request: Request) -> None:
    conn.respond(request.stream_id, body=b"conn %d" % conn.index)


def first_request_then_close(conn: PeerConnection) -> None:
    """A server allowing one stream at a time that takes the first request
    and closes the connection (the Listener closes it when this returns)."""
    conn.handshake({SETTINGS_MAX_CONCURRENT_STREAMS: 1})
    conn.expect_complete_request()


class TestOpenedForTheRequest:
    def test_malformed_first_settings_is_raised_at_once(self, front_kind: str) -> None:
        """No read timeout, and a server that says nothing more: the call
        ends with the FRAME_SIZE_ERROR, on the one connection."""
        done = threading.Event()

        def script(conn: PeerConnection) -> None:
            if conn.index:
                no_second_connection(conn)
            conn.send(MALFORMED_SETTINGS)
            done.wait(TIMEOUT)

        with Peer(script, connections=2) as peer:
            try:
                client = Front(front_kind, peer.address, timeout=None)
                with pytest.raises(h2_exc.FrameSizeError) as info:
                    client.fetch("/")
                client.close()
            finally:
                done.set()
        assert isinstance(info.value, ConnectionError)
        assert peer.accepted == 1

    def test_a_server_opening_with_goaway_is_going_away(self, front_kind: str) -> None:
        """A server shutting down answers the preface with GOAWAY(NO_ERROR)
        and closes (historic hyper took it as a clean shutdown): the
        connection is refused all the same (RFC 9113 3.4), as a
        ConnectionTerminatedError that says so, not a ProtocolError."""

        def script(conn: PeerConnection) -> None:
            if conn.index:
                no_second_connection(conn)
            conn.send(GOAWAY_NO_ERROR)

        with Peer(script, connections=2) as peer:
            refused = pytest.raises(h2_exc.ConnectionTerminatedError)
            with front(front_kind, peer.address) as client, refused as info:
                if front_kind == "sync":
                    client.conn.connect()
                client.fetch("/")
        assert not isinstance(info.value, h2_exc.ProtocolError)
        assert isinstance(info.value, common_exc.ConnectionError)
        assert "GOAWAY(NO_ERROR)" in str(info.value)
        assert "going away" in str(info.value)
        assert peer.accepted == 1

    def test_malformed_first_settings_read_before_sending(self) -> None:
        """Through a tunnel whose 200 arrives with the server's first bytes,
        the check on the new connection reads the bad SETTINGS before the
        request goes out: the error is raised, no second connection made."""
        done = threading.Event()

        def proxy(conn: Conn) -> None:
            conn.read_until(b"\r\n\r\n")
            conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n" + MALFORMED_SETTINGS)
            done.wait(TIMEOUT)

        def second(conn: Conn) -> None:
            raise AssertionError("the client opened a second connection")

        with Listener([proxy, second]) as tunnel:
            conn = HTTP20Connection("example.com", 80, proxy_host=tunnel.address, timeout=None)
            try:
                with pytest.raises(h2_exc.FrameSizeError, match="SETTINGS"):
                    conn.request("GET", "/")
            finally:
                done.set()
                conn.close()
        assert tunnel.accepted == 1


class TestReusedConnection:
    def test_closed_before_the_request_went_out_is_retried_once(self, front_kind: str) -> None:
        """A waits for its response, B for a free stream slot, when the server
        closes the connection: B had not gone out, so it goes on a new
        connection; A may have been taken, so it fails."""

        def script(conn: PeerConnection) -> None:
            if conn.index == 0:
                first_request_then_close(conn)
                return
            conn.handshake()
            answer(conn, conn.expect_complete_request())
            conn.read_until_closed()

        with Peer(script, connections=2) as peer, front(front_kind, peer.address) as client:
            a = client.request("/a")
            b = client.request("/b")
            assert client.body(b) == b"conn 1"
            with pytest.raises(h2_exc.ConnectionTerminatedError):
                client.body(a)
        assert peer.accepted == 2
        assert [r.path for r in peer.conns[1].requests.values()] == [b"/b"]

    def test_a_failed_retry_raises_with_the_first_failure_as_cause(self, front_kind: str) -> None:
        """As above, but the server is gone for good: connecting again is
        refused, and that error carries the closed connection's."""

        with Peer(first_request_then_close) as peer, front(front_kind, peer.address) as client:
            client.request("/a")
            peer.wait_finished(0)
            peer.stop()  # the port refuses from now on
            with pytest.raises(common_exc.ConnectionError) as info:
                client.request("/b")
        error = info.value
        assert f"[Errno {errno.ECONNREFUSED}]" in str(error)
        assert isinstance(error.__cause__, h2_exc.ConnectionTerminatedError)
        assert "closed the connection" in str(error.__cause__)

    def test_idle_connection_closed_then_a_failing_retry_shows_both(self) -> None:
        """The blocking connection reads what arrived while it was idle
        before sending: here the server's close, then a refused connect."""

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            answer(conn, conn.expect_complete_request())

        with Peer(script) as peer, front("sync", peer.address) as client:
            response = client.conn.getresponse(client.request("/"))
            assert response.read() == b"conn 0"
            peer.wait_finished(0)
            peer.stop()
            with pytest.raises(common_exc.ConnectionError) as info:
                client.request("/again")
        assert isinstance(info.value.__cause__, h2_exc.ConnectionLostError)
