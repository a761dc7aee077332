"""
A scripted HTTP/2 server on 127.0.0.1 for socket-level tests of the blocking
client: what no real server does on purpose (resets, early GOAWAY, stalls,
garbage, tiny windows, bombs) plus enough ordinary serving to load-test.

``Peer(script)`` listens on port 0 and, in one thread started behind a ready
event, accepts ``connections`` connections in turn and runs ``script(conn)``
on each, where ``conn`` is a :class:`PeerConnection`. The peer reads whole
frames (it loops on ``recv`` until one is complete: one recv is not one
frame), decodes header blocks with its own HPACK decoder, and builds what it
sends with :class:`helpers.FrameFactory` (hyperframe + hpack). It honours
the client's flow-control windows when it sends bodies, so large responses
work as with a real server.

Exceptions raised by a script (failed assertions included) are re-raised by
:meth:`Peer.stop`, so the test fails. Every socket operation has a timeout
(:data:`TIMEOUT`); no sleeps anywhere.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any, Callable

from helpers import PREFACE, FrameFactory
from hpack import Decoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from scripted_server import TIMEOUT, ScriptedServer

_MAX_FRAME = 16384
_DEFAULT_WINDOW = 65535

Headers = list[tuple[bytes, bytes]]


class Request:
    """A request as the peer received it."""

    def __init__(self, stream_id: int, headers: Headers, ended: bool) -> None:
        self.stream_id = stream_id
        self.headers = headers
        self.fields = dict(headers)
        self.body = bytearray()
        self.ended = ended
        self.reset: int | None = None  # RST_STREAM error code from the client
        self.trailers: Headers | None = None  # the trailer block, if one came

    @property
    def method(self) -> bytes:
        return self.fields[b":method"]

    @property
    def path(self) -> bytes:
        return self.fields[b":path"]

    def __repr__(self) -> str:
        return f"<Request {self.stream_id} {self.method!r} {self.path!r}>"


class PeerConnection:
    """One accepted connection, as a script drives it."""

    def __init__(self, sock: socket.socket, index: int) -> None:
        self.sock = sock
        self.index = index
        sock.settimeout(TIMEOUT)
        self.factory = FrameFactory()
        self.decoder = Decoder()
        self.decoder.max_header_list_size = 1 << 20
        self._buf = bytearray()
        self._preface_seen = False
        self._block: tuple[int, bool, list[bytes]] | None = None
        #: Every frame received, in order.
        self.frames: list[Frame] = []
        #: Requests by stream id.
        self.requests: dict[int, Request] = {}
        self._new_requests: list[Request] = []
        self.client_settings: dict[int, int] = {}
        self.closed = False
        #: Give window back as request bodies arrive (like a server that
        #: reads everything at once); tests of upload flow control turn it off
        #: and call :meth:`grant` themselves.
        self.auto_window = True
        # What the client lets us send.
        self.conn_window = 65535
        self.stream_windows: dict[int, int] = {}
        self.initial_window = 65535
        # What we let the client send; a DATA frame beyond it fails the script.
        self.recv_conn_window = 65535
        self.recv_stream_windows: dict[int, int] = {}
        self.local_initial_window = _DEFAULT_WINDOW
        self._settings_acked = False
        self._settings_sent = False
        self._owed: list[bytes] = []

    # -- reading --------------------------------------------------------------

    def _fill(self) -> bool:
        """One recv into the buffer; False at EOF (or a reset)."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        self._buf += data
        return True

    def read_frame(self) -> Frame | None:
        """The next whole frame from the client (None at EOF); SETTINGS and
        PINGs are acknowledged, windows and requests tracked, on the way."""
        if not self._preface_seen:
            while len(self._buf) < len(PREFACE):
                if not self._fill():
                    return None
            if bytes(self._buf[: len(PREFACE)]) != PREFACE:
                raise AssertionError(f"bad client preface {bytes(self._buf[:24])!r}")
            del self._buf[: len(PREFACE)]
            self._preface_seen = True
        while len(self._buf) < 9:
            if not self._fill():
                return None
        frame, length = Frame.parse_frame_header(memoryview(bytes(self._buf[:9])))
        while len(self._buf) < 9 + length:
            if not self._fill():
                return None
        frame.parse_body(memoryview(bytes(self._buf[9 : 9 + length])))
        del self._buf[: 9 + length]
        self.frames.append(frame)
        self._track(frame)
        return frame

    def _track(self, frame: Frame) -> None:
        if isinstance(frame, SettingsFrame):
            if "ACK" not in frame.flags:
                self.client_settings.update(frame.settings)
                if 0x4 in frame.settings:
                    delta = frame.settings[0x4] - self.initial_window
                    self.initial_window = frame.settings[0x4]
                    for sid in self.stream_windows:
                        self.stream_windows[sid] += delta
                self._reply(self.factory.settings(ack=True))
            elif not self._settings_acked:
                # The client applied our SETTINGS now; until then it could
                # send under the default stream window (RFC 9113 6.9.2-6.9.3).
                self._settings_acked = True
                delta = self.local_initial_window - _DEFAULT_WINDOW
                for sid in self.recv_stream_windows:
                    self.recv_stream_windows[sid] += delta
        elif isinstance(frame, PingFrame):
            if "ACK" not in frame.flags:
                self._reply(self.factory.ping(frame.opaque_data, ack=True))
        elif isinstance(frame, WindowUpdateFrame):
            if frame.stream_id == 0:
                self.conn_window += frame.window_increment
            elif frame.stream_id in self.stream_windows:
                self.stream_windows[frame.stream_id] += frame.window_increment
        elif isinstance(frame, HeadersFrame):
            self._block = (frame.stream_id, "END_STREAM" in frame.flags, [frame.data])
            if "END_HEADERS" in frame.flags:
                self._end_block()
        elif isinstance(frame, ContinuationFrame):
            assert self._block is not None, "CONTINUATION without HEADERS"
            self._block[2].append(frame.data)
            if "END_HEADERS" in frame.flags:
                self._end_block()
        elif isinstance(frame, DataFrame):
            size = frame.flow_controlled_length
            self.recv_conn_window -= size
            self.recv_stream_windows[frame.stream_id] -= size
            if self.recv_conn_window < 0 or self.recv_stream_windows[frame.stream_id] < 0:
                raise AssertionError(f"the client overran a flow-control window ({frame})")
            request = self.requests[frame.stream_id]
            request.body += frame.data
            if "END_STREAM" in frame.flags:
                request.ended = True
            if self.auto_window and frame.flow_controlled_length:
                self.grant(frame.stream_id, frame.flow_controlled_length, self._reply)
        elif isinstance(frame, RstStreamFrame):
            request = self.requests.get(frame.stream_id)
            if request is not None:
                request.reset = frame.error_code

    def _end_block(self) -> None:
        assert self._block is not None
        stream_id, ended, parts = self._block
        self._block = None
        headers = self.decoder.decode(b"".join(parts), raw=True)
        request = self.requests.get(stream_id)
        if request is None:
            request = Request(stream_id, headers, ended)
            self.requests[stream_id] = request
            self.stream_windows[stream_id] = self.initial_window
            self.recv_stream_windows[stream_id] = (
                self.local_initial_window if self._settings_acked else _DEFAULT_WINDOW
            )
            self._new_requests.append(request)
        else:  # trailers
            request.trailers = headers
            request.ended = True

    def wait_for(self, predicate: Callable[[], object], what: str = "a condition") -> None:
        """Read frames until ``predicate()`` holds."""
        while not predicate():
            if self.read_frame() is None:
                raise AssertionError(f"the client closed the connection before {what}")

    def next_request(self, complete: bool = True) -> Request | None:
        """The next new request (read to its end if ``complete``), or None
        once the client closed the connection."""
        while not self._new_requests:
            if self.read_frame() is None:
                return None
        request = self._new_requests.pop(0)
        while complete and not request.ended:
            if self.read_frame() is None:
                return None
        return request

    def expect_request(self) -> Request:
        """Read until the headers of a request not returned before arrive."""
        self.wait_for(lambda: self._new_requests, "a new request")
        return self._new_requests.pop(0)

    def expect_complete_request(self) -> Request:
        """As :meth:`expect_request`, then read until its body has ended."""
        request = self.expect_request()
        self.wait_for(lambda: request.ended, f"the end of stream {request.stream_id}")
        return request

    def expect_frame(self, frame_type: type, stream_id: int | None = None) -> Any:
        """Read until a frame of that type (on that stream) arrives."""
        while True:
            frame = self.read_frame()
            if frame is None:
                raise AssertionError(f"the client closed before sending {frame_type.__name__}")
            if isinstance(frame, frame_type) and stream_id in (None, frame.stream_id):
                return frame

    def read_until_closed(self) -> None:
        """Read (and track) frames until the client closes the connection."""
        while self.read_frame() is not None:
            pass

    # -- writing --------------------------------------------------------------

    def send(self, data: bytes) -> None:
        # Whatever a script sends first is its SETTINGS (a preface of its
        # own making, or handshake()'s); replies owed wait behind it.
        self.sock.sendall(data)
        self._settings_sent = True
        if self._owed:
            owed, self._owed = b"".join(self._owed), []
            self.sock.sendall(owed)

    def _reply(self, data: bytes) -> None:
        """Send what reading made necessary (an ACK, window); before our
        SETTINGS went out it waits for them: they must be our first frame (3.4)."""
        if not self._settings_sent:
            self._owed.append(data)
            return
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client is gone (it may close as soon as it is done); the
            # next read reports EOF to the script.
            self.closed = True

    def handshake(self, settings: dict[int, int] | None = None) -> None:
        """Send our SETTINGS and read until the client's SETTINGS arrived."""
        settings = settings or {}
        self.local_initial_window = settings.get(0x4, 65535)
        self.send(self.factory.settings(settings))
        self.wait_for(lambda: any(
            isinstance(f, SettingsFrame) and "ACK" not in f.flags for f in self.frames
        ), "the client's SETTINGS")  # fmt: skip

    def grant(
        self, stream_id: int, size: int, send: Callable[[bytes], None] | None = None
    ) -> None:
        """Give the client ``size`` bytes of window on the stream and the connection."""
        out = self.factory.window_update(0, size)
        self.recv_conn_window += size
        if stream_id:
            out += self.factory.window_update(stream_id, size)
            self.recv_stream_windows[stream_id] += size
        (send or self.send)(out)

    def send_headers(self, stream_id: int, headers: Iterable[tuple[Any, Any]],
                     end_stream: bool = False) -> None:  # fmt: skip
        self.send(self.factory.headers(stream_id, headers, end_stream=end_stream))

    def send_body(self, stream_id: int, body: bytes, end_stream: bool = True) -> None:
        """Send ``body`` in DATA frames as the client's windows allow."""
        view = memoryview(body)
        offset = 0
        while offset < len(view) or (end_stream and offset == len(view) == 0):
            window = min(self.conn_window, self.stream_windows.get(stream_id, 0))
            if window <= 0 and len(view):
                self.wait_for(
                    lambda: min(self.conn_window, self.stream_windows.get(stream_id, 0)) > 0,
                    f"window to send on stream {stream_id}",
                )
                continue
            size = min(window, _MAX_FRAME, len(view) - offset)
            chunk = bytes(view[offset : offset + size])
            offset += size
            last = end_stream and offset == len(view)
            self.send(self.factory.data(stream_id, chunk, end_stream=last))
            self.conn_window -= size
            self.stream_windows[stream_id] = self.stream_windows.get(stream_id, 0) - size
            if len(view) == 0:
                break

    def respond(
        self,
        stream_id: int,
        status: int = 200,
        headers: Iterable[tuple[Any, Any]] = (),
        body: bytes = b"",
        trailers: Iterable[tuple[Any, Any]] | None = None,
    ) -> None:
        """A whole response: headers, body (within windows), trailers."""
        fields = [(b":status", str(status).encode()), *headers]
        if not body and trailers is None:
            self.send_headers(stream_id, fields, end_stream=True)
            return
        self.send_headers(stream_id, fields)
        if body:
            self.send_body(stream_id, body, end_stream=trailers is None)
        if trailers is not None:
            self.send_headers(stream_id, list(trailers), end_stream=True)

    def push(self, parent: int, promised: int, request_headers: Iterable[tuple[Any, Any]]) -> None:
        """Promise ``promised`` on ``parent``; answer it later with :meth:`respond`."""
        self.send(self.factory.push_promise(parent, promised, request_headers))
        self.stream_windows[promised] = self.initial_window

    def goaway(self, last_stream_id: int, error_code: int = 0, debug: bytes = b"") -> None:
        self.send(self.factory.goaway(last_stream_id, error_code, debug))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def goaway_frames(self) -> list[GoAwayFrame]:
        return [f for f in self.frames if isinstance(f, GoAwayFrame)]


Script = Callable[[PeerConnection], None]
Handler = Callable[[PeerConnection, Request], None]


def serving(handler: Handler, settings: dict[int, int] | None = None) -> Script:
    """A script that answers every complete request with ``handler`` until
    the client closes the connection."""

    def script(conn: PeerConnection) -> None:
        conn.handshake(settings)
        while True:
            request = conn.next_request()
            if request is None:
                return
            handler(conn, request)

    return script


def echo(conn: PeerConnection, request: Request) -> None:
    """Answer with the request's path, a newline and its body."""
    conn.respond(request.stream_id, body=bytes(request.path) + b"\n" + bytes(request.body))


class Peer(ScriptedServer):
    """A listening scripted peer; use as a context manager.

    ``script`` runs on each of ``connections`` connections. A failed TLS
    handshake is recorded in ``tls_errors`` (expected when a test provokes it)
    and the peer waits for the next connection.
    """

    thread_name = "test-peer"
    tolerate_tls_errors = True

    def __init__(
        self,
        script: Script,
        *,
        tls: ssl.SSLContext | None = None,
        connections: int = 1,
    ) -> None:
        super().__init__([script] * connections, tls)
        self.script = script
        self.connections = connections
        self.conns: list[PeerConnection] = []

    def __enter__(self) -> Peer:
        self.start()
        return self

    def prepare(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def make_conn(self, sock: socket.socket, index: int) -> PeerConnection:
        return PeerConnection(sock, index)
