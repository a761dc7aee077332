"""
Historic hyper's public behaviour, the last differences (issue 20): code
written for hyper 0.7/0.8 runs unchanged. Each class is one item, driven
through public API against a real listener: the scripted peers
(``support.peer``, ``support.h1peer``) where the bytes on the wire are the
point, h2o and nghttpd otherwise. Where both client front ends have the
behaviour (the blocking ``HTTP20Connection`` and ``AsyncHTTP20Connection``),
one test runs on both through :class:`Front` (one implementation each,
below the front ends).

The CLI's method (item 9) is tested in ``test/cli/test_cli.py``; a server
opening with GOAWAY (item 7) in ``test/client/test_retry_rule.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from hyperframe.frame import DataFrame
from support import servers
from support.frames import PREFACE
from support.h1peer import H1Conn, H1Peer, chunked, ok
from support.listener import refused_port
from support.peer import Peer, PeerConnection, Request, echo, serving
from support.timeouts import CLIENT_TIMEOUT, SHORT_TIMEOUT, TIMEOUT, wait

from hyper import HTTP11Connection, HTTP20Connection, HTTPConnection
from hyper.aio import AsyncHTTP20Connection
from hyper.common import exceptions as common_exc
from hyper.common.exceptions import HTTPUpgrade, InvalidArgumentTypeError
from hyper.common.util import HTTPVersion
from hyper.drivers.sync_h2 import Session
from hyper.engine.config import EngineConfig
from hyper.engine.engine import Engine
from hyper.http20 import exceptions as h2_exc


class Front:
    """One HTTP/2 client front end behind blocking calls: the blocking
    ``HTTP20Connection`` or ``AsyncHTTP20Connection`` on a loop of its own."""

    def __init__(
        self, kind: str, address: str, timeout: Any = CLIENT_TIMEOUT, **kwargs: Any
    ) -> None:
        self.kind = kind
        self.loop: asyncio.AbstractEventLoop | None = None
        self.conn: Any
        if kind == "async":
            self.loop = asyncio.new_event_loop()
            self.conn = AsyncHTTP20Connection(address, timeout=timeout, **kwargs)
        else:
            cls = {"sync": HTTP20Connection, "http11": HTTP11Connection}.get(kind, HTTPConnection)
            self.conn = cls(address, timeout=timeout, **kwargs)

    def run(self, call: Callable[[], Any]) -> Any:
        """``call()``, awaited when it returns a coroutine (bounded by TIMEOUT)."""
        result = call()
        if self.loop is None or not asyncio.iscoroutine(result):
            return result
        return self.loop.run_until_complete(asyncio.wait_for(result, TIMEOUT))

    def response(self, stream_id: int | None = None) -> Any:
        return self.run(lambda: self.conn.getresponse(stream_id))

    def trailers(self, response: Any) -> Any:
        """What historic code wrote: ``response.trailers`` (awaited
        ``gettrailers()`` for the async response, whose property cannot wait)."""
        if self.loop is None:
            return response.trailers
        return self.run(response.gettrailers)

    def read(self, response: Any, **kwargs: Any) -> bytes:
        return bytes(self.run(lambda: response.read(**kwargs)))

    def close(self) -> None:
        self.conn.close()
        if self.loop is not None:
            self.loop.run_until_complete(asyncio.sleep(0))  # let the transports close
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def front_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.contextmanager
def front(
    kind: str, address: str, timeout: Any = CLIENT_TIMEOUT, **kwargs: Any
) -> Iterator[Front]:
    client = Front(kind, address, timeout, **kwargs)
    try:
        yield client
    finally:
        client.close()


# ---------------------------------------------------------------------------
# Item 1: h2c from HTTP11Connection


def _h2c_declined(conn: H1Conn) -> None:
    """An HTTP/1.1 server that ignores Upgrade: answers each request with its path."""
    while (request := conn.read_request()) is not None:
        conn.send(ok(request.target))


def _switching(seen: threading.Event) -> Callable[[H1Conn], None]:
    """A server that switches to h2c: 101, then its SETTINGS in the same
    write; then it reads the client's HTTP/2 preface (``seen`` set)."""

    def script(conn: H1Conn) -> None:
        conn.read_request()
        switch = (
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        )
        conn.send(switch + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # empty SETTINGS
        while len(conn.buf) < len(PREFACE):
            if not conn._fill():
                raise AssertionError("the client closed instead of speaking HTTP/2")
        assert bytes(conn.buf[: len(PREFACE)]) == PREFACE
        seen.set()

    return script


class TestH2cFromHTTP11Connection:
    def test_first_request_offers_h2c_in_lower_case(self) -> None:
        """The offer is on the wire as historic hyper wrote it (and its test
        peers matched the bytes ``upgrade: h2c``); a server ignoring it
        answers in HTTP/1.1 and the next request asks no more."""
        with (
            H1Peer(_h2c_declined) as peer,
            HTTP11Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn,
        ):
            conn.request("GET", "/first")
            assert conn.getresponse().read() == b"/first"
            conn.request("GET", "/second")
            assert conn.getresponse().read() == b"/second"
        first, second = peer.requests
        assert b"\r\nupgrade: h2c" in first.head
        assert b"\r\nconnection: Upgrade, HTTP2-Settings" in first.head
        assert b"\r\nhttp2-settings: " in first.head
        settings = first.header(b"http2-settings") or b""
        payload = base64.urlsafe_b64decode(settings + b"=" * (-len(settings) % 4))
        assert payload and len(payload) % 6 == 0  # SETTINGS entries (RFC 7540 3.2.1)
        assert b"upgrade" not in second.names()

    def test_101_raises_http_upgrade_carrying_the_socket(self) -> None:
        seen = threading.Event()
        with (
            H1Peer(_switching(seen)) as peer,
            HTTP11Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn,
        ):
            conn.request("GET", "/")
            with pytest.raises(HTTPUpgrade) as info:
                conn.getresponse()
            upgrade = info.value
            assert upgrade.negotiated == "h2c"
            # What came after the 101 is HTTP/2: the server's SETTINGS.
            assert upgrade.data[3:4] == b"\x04"
            assert conn.sock is None  # the socket is the caller's now
            with upgrade.sock:
                upgrade.sock.sendall(PREFACE)
                wait(seen, "the server reading the preface on the handed-over socket")
        assert isinstance(upgrade, common_exc.HyperError)

    def test_h2o_switches_an_http11_connection(self, h2o) -> None:
        address = f"{h2o.host}:{h2o.ports['plain']}"
        with HTTP11Connection(address, timeout=CLIENT_TIMEOUT) as conn:
            conn.request("GET", "/small.txt")
            with pytest.raises(HTTPUpgrade) as info:
                conn.getresponse()
        upgrade = info.value
        with upgrade.sock as sock:
            sock.settimeout(TIMEOUT)
            data = upgrade.data
            while len(data) < 9:
                chunk = sock.recv(65536)
                assert chunk, "h2o closed the upgraded connection"
                data += chunk
        assert upgrade.negotiated == "h2c"
        assert data[3] == 0x4  # h2o speaks HTTP/2 first: its SETTINGS

    @pytest.mark.parametrize(
        "how",
        ["body", "force_proto", "own_connection_header", "putrequest"],
    )
    def test_requests_that_make_no_offer(self, how: str) -> None:
        """A body (it would go whole before the answer), ``force_proto='http/1.1'``,
        a caller's own ``Connection`` field, the putrequest calls: no offer."""
        kwargs = {"force_proto": "http/1.1"} if how == "force_proto" else {}
        with (
            H1Peer(_h2c_declined) as peer,
            HTTP11Connection(peer.address, timeout=CLIENT_TIMEOUT, **kwargs) as conn,
        ):
            if how == "body":
                conn.request("POST", "/", body=b"payload")
            elif how == "own_connection_header":
                conn.request("GET", "/", headers={"Connection": "keep-alive"})
            elif how == "putrequest":
                conn.putrequest("GET", "/")
                conn.endheaders()
            else:
                conn.request("GET", "/")
            conn.getresponse().read()
        assert b"upgrade" not in peer.requests[0].names()

    def test_http_connection_offers_in_lower_case_too(self) -> None:
        with H1Peer(_h2c_declined) as peer, HTTPConnection(peer.address, timeout=TIMEOUT) as conn:
            conn.request("GET", "/x")
            assert conn.getresponse().read() == b"/x"
            assert conn.version is HTTPVersion.http11
        head = peer.requests[0].head
        assert b"\r\nupgrade: h2c\r\n" in head
        assert b"\r\nconnection: Upgrade, HTTP2-Settings\r\n" in head


# ---------------------------------------------------------------------------
# Item 4: putrequest() and putheader() do no I/O


class TestPutrequestDoesNoIO:
    def test_building_a_request_to_an_unreachable_host(self, front_kind: str) -> None:
        """Nothing is dialled until endheaders(), which then fails."""
        with refused_port() as port, front(front_kind, f"127.0.0.1:{port}") as client:
            stream_id = client.run(lambda: client.conn.putrequest("GET", "/later"))
            client.conn.putheader("x-later", "1", stream_id)
            if front_kind == "sync":
                assert client.conn.sock is None  # http.client's "not connected"
            with pytest.raises(common_exc.ConnectionError):
                client.run(lambda: client.conn.endheaders(final=True, stream_id=stream_id))

    def test_the_id_is_the_stream_id_on_the_wire(self, front_kind: str) -> None:
        with Peer(serving(echo)) as peer, front(front_kind, peer.address) as client:
            stream_id = client.run(lambda: client.conn.putrequest("GET", "/put"))
            if front_kind == "sync":
                assert client.conn.sock is None
            client.conn.putheader("x-put", "yes", stream_id)
            client.run(lambda: client.conn.endheaders(final=True, stream_id=stream_id))
            assert client.read(client.response(stream_id)) == b"/put\n"
        (request,) = peer.conns[0].requests.values()
        assert (request.stream_id, request.fields[b"x-put"]) == (stream_id, b"yes")

    def test_a_request_sent_between_keeps_both_ids_working(self, front_kind: str) -> None:
        """putrequest, then a whole request(), then endheaders: stream ids must
        rise, so the first request goes out under a fresh id; both ids the
        caller holds still reach their own responses."""
        with Peer(serving(echo)) as peer, front(front_kind, peer.address) as client:
            early = client.run(lambda: client.conn.putrequest("GET", "/early"))
            between = client.run(lambda: client.conn.request("GET", "/between"))
            client.run(lambda: client.conn.endheaders(final=True, stream_id=early))
            assert client.read(client.response(early)) == b"/early\n"
            assert client.read(client.response(between)) == b"/between\n"
        paths = {r.stream_id: r.path for r in peer.conns[0].requests.values()}
        assert paths[between] == b"/between"
        assert sorted(paths.values()) == [b"/between", b"/early"]
        assert early != between

    def test_ids_reserved_before_connecting_stay_distinct(self, front_kind: str) -> None:
        with Peer(serving(echo)) as peer, front(front_kind, peer.address) as client:
            put = client.conn.putrequest
            ids = [client.run(lambda n=n: put("GET", f"/{n}")) for n in range(3)]
            assert len(set(ids)) == 3
            for stream_id in reversed(ids):
                client.run(lambda s=stream_id: client.conn.endheaders(final=True, stream_id=s))
            bodies = [client.read(client.response(stream_id)) for stream_id in ids]
        assert bodies == [b"/0\n", b"/1\n", b"/2\n"]
        assert peer.accepted == 1


# ---------------------------------------------------------------------------
# Item 5: trailers before the body

# Three times the client's default stream window (1 MiB), random so that
# gzip keeps it as large: reading it all takes WINDOW_UPDATEs, so a
# read-ahead must give window back as it goes.
BIG = os.urandom(3 * 1024 * 1024)
TRAILERS = [(b"x-checksum", b"c0ffee"), (b"grpc-status", b"0")]


def respond_with_trailers(body: bytes, headers: Any = ()) -> Callable[..., None]:
    def handler(conn: PeerConnection, request: Request) -> None:
        conn.respond(request.stream_id, 200, headers, body, trailers=TRAILERS)

    return handler



class TestTrailersBeforeTheBody:
    def test_trailers_then_body(self, front_kind: str) -> None:
        """The trailers read (and keep) the rest of the body first: 3 MiB, more
        than the stream's window, so the read gives window back as it goes."""
        with (
            Peer(serving(respond_with_trailers(BIG))) as peer,
            front(front_kind, peer.address) as client,
        ):
            response = client.response(client.run(lambda: client.conn.request("GET", "/")))
            trailers = client.trailers(response)
            assert trailers[b"x-checksum"] == [b"c0ffee"]
            assert client.read(response) == BIG
            assert client.trailers(response)[b"grpc-status"] == [b"0"]

    def test_the_kept_body_is_decoded_as_each_read_asks(self, front_kind: str) -> None:
        packed = gzip.compress(BIG)
        handler = respond_with_trailers(packed, [(b"content-encoding", b"gzip")])
        with Peer(serving(handler)) as peer, front(front_kind, peer.address) as client:
            decoded = client.response(client.run(lambda: client.conn.request("GET", "/a")))
            assert client.trailers(decoded)[b"x-checksum"] == [b"c0ffee"]
            assert client.read(decoded) == BIG
            raw = client.response(client.run(lambda: client.conn.request("GET", "/b")))
            assert client.trailers(raw)[b"x-checksum"] == [b"c0ffee"]
            assert client.read(raw, decode_content=False) == packed

    def test_nghttpd_trailers_first(self, front_kind: str, nghttpd, docroot) -> None:
        """64 MiB: far more than the windows, so nghttpd's trailers come only
        once the body has been read (and kept)."""
        docroot.ensure("64m.bin")
        tls = {"secure": True, "ssl_context": nghttpd.ssl_context()}
        with front(front_kind, nghttpd.authority, **tls) as client:
            response = client.response(client.run(lambda: client.conn.request("GET", "/64m.bin")))
            trailers = client.trailers(response)
            assert trailers[servers.TRAILER_NAME] == [servers.TRAILER_VALUE.encode()]
            digest, size = servers.sha256_of_stream(lambda n: client.read(response, amt=n))
        assert (digest, size) == (docroot.sha256("64m.bin"), 64 * servers.MiB)

    def test_blocking_gettrailers_and_http11(self) -> None:
        """HTTP/1.1's chunked trailers, through the spelling ``gettrailers()``."""
        response_bytes = chunked(b"first ", b"second", trailers=b"X-Sum: 12\r\n")
        with (
            H1Peer(lambda conn: (conn.read_request(), conn.send(response_bytes))) as peer,
            HTTP11Connection(peer.address, force_proto="http/1.1", timeout=TIMEOUT) as conn,
        ):
            conn.request("GET", "/")
            response = conn.getresponse()
            assert response.gettrailers()[b"x-sum"] == [b"12"]
            assert response.read() == b"first second"

    def test_async_property_cannot_wait_and_says_so(self) -> None:
        """Before the body has all arrived the async ``trailers`` property
        raises (it cannot wait); once the stream ended it reads ahead too."""
        release = threading.Event()

        def handler(conn: PeerConnection, request: Request) -> None:
            conn.send_headers(request.stream_id, [(b":status", b"200")])
            conn.send_body(request.stream_id, b"part", end_stream=False)
            release.wait(TIMEOUT)
            conn.send_body(request.stream_id, b" rest", end_stream=False)
            conn.send_headers(request.stream_id, TRAILERS, end_stream=True)

        with Peer(serving(handler)) as peer, front("async", peer.address) as client:
            try:
                response = client.response(client.run(lambda: client.conn.request("GET", "/")))
                with pytest.raises(h2_exc.StreamStateError, match="gettrailers"):
                    response.trailers  # noqa: B018
            finally:
                release.set()
            assert client.run(response.gettrailers)[b"x-checksum"] == [b"c0ffee"]
            assert response.trailers[b"grpc-status"] == [b"0"]
            assert client.read(response) == b"part rest"


# ---------------------------------------------------------------------------
# Item 6: bad argument types are ValueError and TypeError


class TestBadArgumentTypes:
    @pytest.mark.parametrize("kind", ["sync", "async", "http11", "http"])
    def test_body_and_headers_of_the_wrong_type(self, kind: str) -> None:
        """One exception class, both builtins, saying what was given and what
        is accepted, whichever front end; nothing is sent, the connection
        works on."""

        def echo_h1(conn: H1Conn) -> None:
            while (request := conn.read_request()) is not None:
                conn.send(ok(request.target + b"\n"))

        listener: Any = H1Peer(echo_h1) if kind in ("http11", "http") else Peer(serving(echo))
        with listener as peer, front(kind, peer.address) as client:
            for call, given, accepted in [
                (lambda: client.conn.request("POST", "/", body=1234), "int 1234", "bytes"),
                (lambda: client.conn.request("GET", "/", headers=42), "int 42", "dict"),
            ]:
                with pytest.raises(ValueError) as info:
                    client.run(call)
                error = info.value
                assert isinstance(error, TypeError)
                assert isinstance(error, InvalidArgumentTypeError)
                assert given in str(error) and accepted in str(error)
            stream_id = client.run(lambda: client.conn.request("GET", "/after"))
            assert client.read(client.response(stream_id)) == b"/after\n"

    def test_historic_message_words(self) -> None:
        conn = HTTP20Connection("127.0.0.1:1")  # nothing is dialled for a bad body
        with pytest.raises(ValueError, match="request body must be bytes, str, a file-like"):
            conn.request("POST", "/", body=object())


# ---------------------------------------------------------------------------
# Item 8: connect() completes the handshake

SETTINGS_INITIAL_WINDOW_SIZE = 0x4



def _settings_then(
    settings: dict[int, int], ack: bool, done: threading.Event
) -> Callable[[PeerConnection], None]:
    """Send our SETTINGS; acknowledge the client's only with ``ack``; then
    serve (``ack``) or hold the connection until ``done``."""

    def script(conn: PeerConnection) -> None:
        conn.local_initial_window = settings.get(SETTINGS_INITIAL_WINDOW_SIZE, 65535)
        conn.send(conn.factory.settings(settings))
        if not ack:
            done.wait(TIMEOUT)
            return
        conn.wait_for(lambda: conn.client_settings, "the client's SETTINGS")  # acked on read
        while (request := conn.next_request()) is not None:
            echo(conn, request)

    return script


class TestConnectCompletesTheHandshake:
    def test_the_servers_limits_govern_what_follows(self, front_kind: str) -> None:
        """A 10-byte stream window from the server's SETTINGS: after connect()
        no DATA frame of the upload exceeds it, the first one included."""
        done = threading.Event()
        with (
            Peer(_settings_then({SETTINGS_INITIAL_WINDOW_SIZE: 10}, True, done)) as peer,
            front(front_kind, peer.address) as client,
        ):
            client.run(client.conn.connect)
            stream_id = client.run(lambda: client.conn.request("POST", "/up", body=b"u" * 100))
            assert client.read(client.response(stream_id)) == b"/up\n" + b"u" * 100
        sizes = [len(f.data) for f in peer.conns[0].frames if isinstance(f, DataFrame) and f.data]
        assert sizes and max(sizes) <= 10

    def test_connect_waits_for_the_ack_of_our_settings(self, front_kind: str) -> None:
        """A server that sends its SETTINGS but never acknowledges ours:
        connect() does not return, it times out saying what it waited for."""
        done = threading.Event()
        with Peer(_settings_then({}, False, done)) as peer:
            try:
                with (
                    front(front_kind, peer.address, timeout=SHORT_TIMEOUT) as client,
                    pytest.raises(common_exc.TimeoutError) as info,
                ):
                    client.run(client.conn.connect)
            finally:
                done.set()
        assert "ACK of our" in str(info.value)

    def test_without_a_timeout_a_missing_ack_is_settings_timeout(self) -> None:
        """No timeout and no ACK: the connection fails with SETTINGS_TIMEOUT
        after the engine's settings_timeout (RFC 9113 6.5.3), never hangs."""
        done = threading.Event()
        with Peer(_settings_then({}, False, done)) as peer:
            host, port = peer.address.rsplit(":", 1)
            sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
            config = EngineConfig(client_side=True, clock=time.monotonic, settings_timeout=0.2)
            session = Session(sock, Engine(config), read_timeout=None)
            try:
                session.start(TIMEOUT, wait_settings=False)
                with pytest.raises(h2_exc.SettingsTimeoutError):
                    session.wait_handshake(None)
            finally:
                session.close()
                done.set()

    def test_implicit_connect_keeps_the_one_round_trip_start(self) -> None:
        """request() without connect() sends the request right behind the
        preface: the server sees it before sending anything itself."""

        def script(conn: PeerConnection) -> None:
            conn.wait_for(lambda: conn.requests, "the request before our SETTINGS")
            conn.handshake()
            while (request := conn.next_request()) is not None:
                echo(conn, request)

        with (
            Peer(script) as peer,
            HTTP20Connection(peer.address, timeout=CLIENT_TIMEOUT) as conn,
        ):
            assert conn.getresponse(conn.request("GET", "/fast")).read() == b"/fast\n"

