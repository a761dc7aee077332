"""
The server's policy over the sans-IO engine: what each event means for a
request, the concurrency slots, window credit as the application reads,
pushes, graceful shutdown and the server's timers. No socket, event loop or
clock of its own: the driver (:mod:`hyper.aio.protocol`) passes a clock in
and moves the bytes.

Invariants:

- A request holds one of ``concurrency`` slots from its HEADERS until the
  application is done with it: it ended its response (END_STREAM, trailers),
  reset the stream, or a call on the stream reported the client's reset.
  A client reset alone frees nothing, so resetting requests cannot start
  more work than ``concurrency`` at once (Rapid Reset, CVE-2023-44487;
  MadeYouReset, CVE-2025-8671). A request reset before the application
  took it is dropped at once: no work was started for it.
- HEADERS beyond the slots are refused with REFUSED_STREAM: the application
  never sees them, so the client may retry them (RFC 9113 8.7). A client
  that keeps opening streams it was refused is cut off (ENHANCE_YOUR_CALM).
- Request body waits in the request's buffer, bounded by the stream window:
  window is given back only as the application reads (RFC 9113 5.2.2).
  With ``discard_bodies`` (an application that never reads one, such as a
  static file server) nothing is buffered, no window is given back, and every
  DATA frame counts toward the engine's glitch budget.
- Timers, all on the driver's clock: the handshake, the SETTINGS ACK, idle,
  graceful shutdown, a frame (or header block) the client stopped sending
  half-way, and a transport that accepts no bytes (``write_blocked``).
- After the connection failed or was lost, every record carries the error
  and every later call raises it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from hyper.common.exceptions import InvalidArgumentError
from hyper.common.types import Buffer, HeaderInput
from hyper.core.streams import BaseCore, StreamBuffer, clone_error
from hyper.engine.config import EngineConfig, SettingCodes
from hyper.engine.engine import Engine
from hyper.engine.errors import ErrorCodes
from hyper.engine.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    PingAcknowledged,
    RemoteSettingsChanged,
    RequestReceived,
    SettingsAcknowledged,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from hyper.engine.exceptions import (
    ConnectionError,
    ConnectionLostError,
    EnhanceYourCalmError,
    SettingsTimeoutError,
    StreamRefusedError,
    StreamResetError,
    StreamStateError,
)
from hyper.engine.window import BaseFlowControlManager, FlowControlManager

_MAX_STREAM_ID = 2**31 - 1
# The PING between the two GOAWAYs of a graceful shutdown (RFC 9113 6.8).
SHUTDOWN_PING = b"hyperbye"


class ServerLimits:
    """
    What only a server needs to limit, on top of the engine's limits
    (:class:`~hyper.engine.config.EngineConfig`). Pass one to
    :func:`hyper.aio.start_server` (``limits=``); every value may be changed.

    :param handshake_timeout: seconds the client has to send its preface and
        first SETTINGS (slowloris; Twisted #8480 had none).
    :param settings_timeout: seconds the client has to ACK our SETTINGS
        (RFC 9113 6.5.3, SETTINGS_TIMEOUT).
    :param idle_timeout: seconds without a request or body byte, with no
        request in progress, before the connection is closed (GOAWAY).
    :param shutdown_timeout: seconds a graceful close waits for open
        streams before the connection is dropped.
    :param max_connections: connections one server accepts at once; the
        next get GOAWAY and are closed.
    :param max_buffered_body: request body bytes buffered per stream: the
        stream window we advertise (flow control holds the client to it).
    :param max_refused_streams: streams refused in a row (no slot freed in
        between) before the client is cut off with ENHANCE_YOUR_CALM.
    :param send_timeout: seconds the client may accept no byte of what we
        send before the connection is dropped (its transport stays full), and
        (``hyper serve``) a response may wait for flow-control window before
        its stream is reset (CANCEL), as nginx's ``send_timeout``.

    The handshake timeout also bounds a frame, or a header block split over
    CONTINUATION frames, that the client began and stopped sending half-way
    (GOAWAY(NO_ERROR) once it passed).
    """

    def __init__(
        self,
        *,
        handshake_timeout: float = 10.0,
        settings_timeout: float = 10.0,
        idle_timeout: float = 300.0,
        shutdown_timeout: float = 30.0,
        max_connections: int = 1000,
        max_buffered_body: int = 1 << 20,
        max_refused_streams: int = 100,
        send_timeout: float = 30.0,
    ) -> None:
        for name, value in (
            ("handshake_timeout", handshake_timeout),
            ("settings_timeout", settings_timeout),
            ("idle_timeout", idle_timeout),
            ("shutdown_timeout", shutdown_timeout),
            ("send_timeout", send_timeout),
        ):
            if not value > 0:
                raise InvalidArgumentError(f"{name} must be > 0, got {value!r}")
        for name, count in (
            ("max_connections", max_connections),
            ("max_buffered_body", max_buffered_body),
            ("max_refused_streams", max_refused_streams),
        ):
            if not isinstance(count, int) or count < 1:
                raise InvalidArgumentError(f"{name} must be a positive int, got {count!r}")
        self.handshake_timeout = handshake_timeout
        self.settings_timeout = settings_timeout
        self.idle_timeout = idle_timeout
        self.shutdown_timeout = shutdown_timeout
        self.max_connections = max_connections
        self.max_buffered_body = max_buffered_body
        self.max_refused_streams = max_refused_streams
        self.send_timeout = send_timeout


class Request(StreamBuffer):
    """
    One stream the client opened (or one we pushed): its request as it
    arrives, and how far the application got with it.
    """

    __slots__ = ("pushed", "held", "finished", "remote_closed")

    def __init__(self, stream_id: int, pushed: bool = False) -> None:
        super().__init__(stream_id)
        #: We promised this stream (server push); it has no request body.
        self.pushed = pushed
        #: It takes one of the concurrency slots.
        self.held = False
        #: The application ended its side (END_STREAM sent or stream reset).
        self.finished = False
        #: Nothing more arrives: the client ended its side or reset it.
        self.remote_closed = False


class ServerCore(BaseCore[Request]):
    """
    A server connection's policy; one driver calls it from one thread.

    :param concurrency: requests served at once (advertised as
        MAX_CONCURRENT_STREAMS and enforced by slots).
    :param clock: a monotonic clock in seconds (the driver's loop time).
    :param discard_bodies: the application reads no request body: drop
        every DATA payload on arrival, give no window back for it, and count
        each DATA frame toward the glitch budget (what a client floods us
        with then is work for nothing).
    """

    def __init__(
        self,
        concurrency: int,
        limits: ServerLimits,
        clock: Callable[[], float],
        *,
        window_manager: type[BaseFlowControlManager] = FlowControlManager,
        discard_bodies: bool = False,
    ) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidArgumentError(f"concurrency must be a positive int, got {concurrency!r}")
        self.limits = limits
        self.concurrency = concurrency
        self.clock = clock
        config = EngineConfig(
            client_side=False,
            clock=clock,
            max_concurrent_streams=concurrency,
            initial_window_size=limits.max_buffered_body,
            settings_timeout=limits.settings_timeout,
            window_manager=window_manager,
        )
        super().__init__(Engine(config))
        self.streams: dict[int, Request] = {}
        #: Requests the application has not taken yet, oldest first.
        self.requests: deque[Request] = deque()
        #: Streams that got something since the driver last looked.
        self.touched: list[Request] = []
        #: Something connection-wide changed (window, settings, a stream
        #: closed, GOAWAY, failure): slot and window waiters should re-check.
        self.conn_changed = False
        self.settings_seen = False
        self.goaway_received = False
        #: The driver should flush what is queued and close the transport.
        self.wants_teardown = False
        #: 0: serving; 1: first GOAWAY sent, PING out; 2: final GOAWAY sent.
        self.closing = 0
        self._held = 0
        self._refused = 0
        self.discard_bodies = discard_bodies
        #: The client sent a request (once, ever) on this connection.
        self.has_requested = False
        #: The driver should drop the transport without flushing (it accepts
        #: nothing: a close would wait for the buffer to drain forever).
        self.wants_abort = False
        # Since when the transport accepted no more bytes, and since when the
        # client has left a frame half-sent (None: not now).
        self._write_blocked_since: float | None = None
        self._mid_frame_since: float | None = None
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            RequestReceived: self._on_request,
            DataReceived: self._on_data,
            TrailersReceived: self._on_trailers,
            StreamReset: self._on_reset,
            WindowUpdated: self._on_window,
            RemoteSettingsChanged: self._on_settings,
            SettingsAcknowledged: self._on_settings_ack,
            PingAcknowledged: self._on_ping_ack,
            ConnectionTerminated: self._on_goaway,
        }
        now = clock()
        self._started = now
        self._last_active = now
        self._closing_since = 0.0
        self._settings_sent: deque[float] = deque()

    # ------------------------------------------------------------------
    # Bytes

    def start(self) -> None:
        """Queue our SETTINGS (and connection window)."""
        self.engine.initiate_connection()
        self._settings_sent.append(self.clock())

    def start_upgraded(self, settings_header: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        """
        Start after an HTTP/1.1 ``Upgrade: h2c`` request (RFC 7540 3.2): its
        ``HTTP2-Settings`` are the client's first SETTINGS, and the request
        (``headers``, already ended) is stream 1.
        """
        self.engine.initiate_upgrade_connection(settings_header)
        self._settings_sent.append(self.clock())
        self._on_request(RequestReceived(1, headers, True))

    def refuse_connection(self) -> None:
        """Answer a connection over the server's cap: GOAWAY and teardown."""
        self.engine.initiate_connection()
        self.engine.close(ErrorCodes.NO_ERROR, 0, b"connection limit reached")
        self.error = ConnectionError("connection limit reached")
        self.wants_teardown = True

    def data_to_send(self) -> bytes:
        return self.engine.data_to_send()

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; file every event."""
        if self.error is not None:
            return
        try:
            events = self.engine.receive_data(data)
        except ConnectionError as exc:
            self._fail(exc)
            return
        handlers = self._handlers
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
                if self.is_failed:
                    return  # cut off: the rest of the events are moot
        if self.engine.is_mid_frame:
            if self._mid_frame_since is None:
                self._mid_frame_since = self.clock()
        else:
            self._mid_frame_since = None
        if self.closing == 2 and not self.streams:
            self.wants_teardown = True

    def write_blocked(self, blocked: bool) -> None:
        """The transport stopped accepting bytes (True) or takes them again."""
        if not blocked:
            self._write_blocked_since = None
            if self._mid_frame_since is not None:
                # The driver stopped reading meanwhile: a frame left half-read
                # was ours to finish; the client's time starts now.
                self._mid_frame_since = self.clock()
        elif self._write_blocked_since is None:
            self._write_blocked_since = self.clock()

    def lost(self, cause: BaseException | None) -> None:
        """The transport closed or failed: every record fails."""
        if self.error is None:
            message = f"connection lost: {cause}" if cause else "the client closed the connection"
            error = ConnectionLostError(message)
            error.__cause__ = cause
            self._fail(error)
        self.wants_teardown = True

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self.wants_teardown = True
        self.conn_changed = True
        for stream in self.streams.values():
            if stream.error is None:
                stream.error = error
            stream.held = False
            self.touched.append(stream)
        self.requests.clear()
        self.streams.clear()
        self._held = 0

    def close(
        self, error_code: int = ErrorCodes.NO_ERROR, error: BaseException | None = None
    ) -> None:
        """
        Close now (the application's call): GOAWAY(``error_code``) with the
        last stream processed; every request and waiter fails with
        ``error`` (by default a ConnectionLostError saying the server closed
        it). The driver tears down after.
        """
        if self.error is None:
            if self.engine.error is None:
                self.engine.close(error_code)
            if error is None:
                error = ConnectionLostError("the connection was closed by the server")
            self._fail(error)

    def cut_off(self, exc_type: type[ConnectionError], code: int, message: str) -> None:
        """End the connection now with GOAWAY(``code``)."""
        if self.error is None:
            self.engine.close(code, None, message.encode()[:256])
            self._fail(exc_type(message, code))

    # ------------------------------------------------------------------
    # Events

    def _on_request(self, event: RequestReceived) -> None:
        sid = event.stream_id
        if self._held >= self.concurrency:
            # The engine counts streams until they close; a slot also waits
            # for the application. Refused here, it never saw the request.
            self.engine.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
            self._refused += 1
            if self._refused > self.limits.max_refused_streams:
                self.cut_off(
                    EnhanceYourCalmError,
                    ErrorCodes.ENHANCE_YOUR_CALM,
                    "too many streams over the concurrency limit",
                )
            return
        request = Request(sid)
        request.headers = event.headers
        request.held = True
        self._held += 1
        self.has_requested = True
        if event.end_stream:
            request.ended = request.remote_closed = True
        self.streams[sid] = request
        self.requests.append(request)
        self._last_active = self.clock()

    def _on_data(self, event: DataReceived) -> None:
        request = self.streams.get(event.stream_id)
        if request is None:
            return
        data = event.data
        if self.discard_bodies:
            try:
                self.engine.count_glitch("request body nobody reads")
            except ConnectionError as exc:
                self._fail(exc)
                return
        elif data:
            request.chunks.append(data)
            request.buffered += len(data)
        if event.end_stream:
            request.ended = True
            self._remote_close(request)
        self.touched.append(request)

    def _on_trailers(self, event: TrailersReceived) -> None:
        request = self.streams.get(event.stream_id)
        if request is None:
            return
        request.trailers = event.headers
        request.ended = True
        self._remote_close(request)
        self.touched.append(request)

    def _on_reset(self, event: StreamReset) -> None:
        request = self.streams.get(event.stream_id)
        if request is None:
            return
        code = event.error_code
        cls = StreamRefusedError if code == ErrorCodes.REFUSED_STREAM else StreamResetError
        request.error = cls(stream_id=event.stream_id, error_code=code, remote=event.remote)
        request.remote_closed = True
        request.chunks.clear()  # a reset body is never read
        request.offset = 0
        request.buffered = 0
        if not request.claimed and not request.pushed:
            # Never handed to the application: nothing to tell, no work done.
            try:
                self.requests.remove(request)
            except ValueError:
                pass
            self._release(request)
        elif request.finished:
            del self.streams[request.stream_id]
        self.touched.append(request)
        self.conn_changed = True

    def _on_window(self, event: WindowUpdated) -> None:
        if event.stream_id:
            request = self.streams.get(event.stream_id)
            if request is not None:
                self.touched.append(request)
        else:
            self.conn_changed = True

    def _on_settings(self, event: RemoteSettingsChanged) -> None:
        self.settings_seen = True
        self.conn_changed = True

    def _on_settings_ack(self, event: SettingsAcknowledged) -> None:
        if self._settings_sent:
            self._settings_sent.popleft()

    def _on_ping_ack(self, event: PingAcknowledged) -> None:
        if event.data == SHUTDOWN_PING and self.closing == 1:
            self._final_goaway()
        super()._on_ping_ack(event)
        self.conn_changed = True

    def _on_goaway(self, event: ConnectionTerminated) -> None:
        # The client opens nothing more; what it opened still finishes.
        self.goaway_received = True
        if not self.closing:
            self.closing = 2
            self._closing_since = self.clock()
        self.conn_changed = True

    # ------------------------------------------------------------------
    # Slots and records

    def _release(self, request: Request) -> None:
        """The application is done with the request: free its slot."""
        if request.held:
            request.held = False
            self._held -= 1
            self._refused = 0
            self._last_active = self.clock()
            self.conn_changed = True
        request.finished = True
        if request.remote_closed and not request.buffered:
            self.streams.pop(request.stream_id, None)
        if self.closing == 2 and not self.streams:
            self.wants_teardown = True

    def _remote_close(self, request: Request) -> None:
        request.remote_closed = True
        if request.finished and not request.buffered:
            # Kept while body is unread: the application may still read it.
            self.streams.pop(request.stream_id, None)

    def _check(self, request: Request) -> None:
        """Raise the stream's failure; reporting it frees the slot."""
        error = request.error
        if error is not None:
            self._release(request)
            raise clone_error(error)

    def get(self, stream_id: int) -> Request:
        """The record of an open stream; a failure is raised (and reported)."""
        request = self.streams.get(stream_id)
        if request is None:
            if self.error is not None:
                raise clone_error(self.error)
            raise StreamStateError(f"stream {stream_id} is not open")
        self._check(request)
        return request

    def find(self, stream_id: int) -> Request | None:
        """The record of ``stream_id``, if it is still kept."""
        return self.streams.get(stream_id)

    def next_request(self) -> Request | None:
        """Take the oldest request the application has not seen, if any."""
        if self.requests:
            request = self.requests.popleft()
            request.claimed = True
            return request
        if self.error is not None:
            raise clone_error(self.error)
        return None

    @property
    def has_incoming(self) -> bool:
        """A request the application has not taken yet waits (:meth:`next_request`)."""
        return bool(self.requests)

    @property
    def is_failed(self) -> bool:
        """The connection failed or was cut off."""
        return self.error is not None

    @property
    def is_finished(self) -> bool:
        """No stream left and no new one can come."""
        return self.error is not None or (self.closing == 2 and not self.streams)

    @property
    def idle_since(self) -> float | None:
        """When the connection last had a request in progress (clock time),
        or None while one is (or it is closing or failed)."""
        if self._held or self.streams or self.closing or self.error is not None:
            return None
        return self._last_active

    def evict(self) -> None:
        """Close an idle connection to make room for another (a server at
        its connection cap): GOAWAY(NO_ERROR), then teardown. A request in
        flight is above the GOAWAY's last-stream-id: safe to retry."""
        self.cut_off(ConnectionError, ErrorCodes.NO_ERROR, "connection limit reached")

    # ------------------------------------------------------------------
    # Sending

    def send_headers(self, request: Request, headers: HeaderInput, end_stream: bool) -> None:
        """A response (or 1xx, or trailers with ``end_stream``)."""
        self._check(request)
        self.engine.send_headers(request.stream_id, headers, end_stream)
        if end_stream:
            self._release(request)

    def send_trailers(self, request: Request, headers: HeaderInput) -> None:
        """Trailers: end our side with a header block."""
        self.send_headers(request, headers, True)

    def can_start_push(self) -> bool:
        """The client's MAX_CONCURRENT_STREAMS leaves room for a pushed response."""
        engine = self.engine
        return engine.open_outbound_streams < engine.remote_settings[
            SettingCodes.MAX_CONCURRENT_STREAMS
        ]

    def send_window(self, request: Request) -> int:
        """Bytes sendable now; -1 when the stream can no longer send (also
        once the application ended its side)."""
        if request.finished:
            return -1
        return super().send_window(request)

    def send_data(self, request: Request, data: Buffer, end_stream: bool) -> int:
        """Queue what the windows allow now; return how many bytes were taken."""
        self._check(request)
        taken = self.engine.send_data(request.stream_id, data, end_stream)
        if end_stream and taken == len(data):
            self._release(request)
        return taken

    def send_data_in_place(
        self, request: Request, frames: memoryview, size: int, frame_size: int
    ) -> bool:
        """
        :meth:`Engine.send_data_in_place`: True if ``frames`` (``size`` body
        bytes laid out by :func:`~hyper.engine.frames.data_layout`) may go
        out now, after :meth:`data_to_send`; False if the windows do not
        take all of it. Never ends the stream.
        """
        self._check(request)
        return self.engine.send_data_in_place(request.stream_id, frames, size, frame_size)

    def reset(self, request: Request, error_code: int) -> None:
        """The application resets the stream."""
        if self.error is None and not (request.finished and request.remote_closed):
            try:
                self.engine.reset_stream(request.stream_id, error_code)
            except StreamStateError:
                pass  # closed and forgotten by the engine already
        request.remote_closed = True
        if request in self.requests:
            self.requests.remove(request)
        self._release(request)
        self.streams.pop(request.stream_id, None)
        self.conn_changed = True

    def push(self, parent: Request, headers: HeaderInput) -> Request:
        """Promise a response on ``parent``; return the promised stream's record."""
        self._check(parent)
        promised = self.engine.get_next_available_stream_id()
        self.engine.push_stream(parent.stream_id, promised, headers)
        pushed = Request(promised, pushed=True)
        pushed.claimed = pushed.ended = pushed.remote_closed = True
        self.streams[promised] = pushed
        return pushed

    # ------------------------------------------------------------------
    # Reading

    def read(self, request: Request, limit: int | None) -> list[bytes]:
        """
        Take up to ``limit`` buffered body bytes (all for None), giving their
        window back; ``[]`` means the body has ended.
        """
        self._check(request)
        if not request.buffered:
            return []
        chunks = request.consume(self.engine, limit)
        if request.finished and request.remote_closed and not request.buffered:
            self.streams.pop(request.stream_id, None)
        return chunks

    # ------------------------------------------------------------------
    # Settings, shutdown (PINGs: BaseCore)

    def update_settings(self, changes: dict[int, int]) -> None:
        self.engine.update_settings(changes)
        self._settings_sent.append(self.clock())
        value = changes.get(SettingCodes.MAX_CONCURRENT_STREAMS)
        if value is not None:
            self.concurrency = value

    def finished(self, request: Request) -> None:
        """(The client side keeps finished streams answerable by id.)"""

    def close_gracefully(self) -> None:
        """
        Graceful shutdown (RFC 9113 6.8): GOAWAY(2**31-1) and a PING; when
        the PING comes back, GOAWAY with the last stream really opened. The
        streams opened by then finish; the driver tears down after.
        """
        if self.closing or self.error is not None:
            return
        self.closing = 1
        self._closing_since = self.clock()
        self.engine.close(ErrorCodes.NO_ERROR, _MAX_STREAM_ID)
        self.engine.ping(SHUTDOWN_PING)

    def _final_goaway(self) -> None:
        self.closing = 2
        self.engine.close(ErrorCodes.NO_ERROR)
        if not self.streams:
            self.wants_teardown = True

    def handler_gone(self, failed: bool) -> None:
        """
        The connection's handler ended: queued requests are refused (never
        seen, safe to retry). If it failed, the requests it had taken and
        not finished are reset (INTERNAL_ERROR): nobody will answer them.
        """
        while self.requests:
            self.reset(self.requests[0], ErrorCodes.REFUSED_STREAM)
        if failed:
            for request in [r for r in self.streams.values() if not r.finished]:
                self.reset(request, ErrorCodes.INTERNAL_ERROR)

    # ------------------------------------------------------------------
    # Timers

    def next_deadline(self) -> float | None:
        """When :meth:`check_timers` must run next (loop time), if ever."""
        if self.error is not None:
            return None
        limits = self.limits
        deadline = self._last_active + limits.idle_timeout
        if not self.settings_seen:
            deadline = min(deadline, self._started + limits.handshake_timeout)
        if self._settings_sent:
            # The engine fires once its clock is strictly past the limit.
            deadline = min(deadline, self._settings_sent[0] + limits.settings_timeout + 1e-3)
        if self.closing:
            deadline = min(deadline, self._closing_since + limits.shutdown_timeout)
        if self._write_blocked_since is not None:
            deadline = min(deadline, self._write_blocked_since + limits.send_timeout)
        elif self._mid_frame_since is not None:
            deadline = min(deadline, self._mid_frame_since + limits.handshake_timeout)
        return deadline

    def check_timers(self) -> None:
        """Apply every timeout that has passed."""
        if self.error is not None:
            return
        now = self.clock()
        limits = self.limits
        if not self.settings_seen and now >= self._started + limits.handshake_timeout:
            self.cut_off(
                SettingsTimeoutError,
                ErrorCodes.SETTINGS_TIMEOUT,
                f"no preface and SETTINGS within {limits.handshake_timeout} s",
            )
            return
        try:
            self.engine.check_timeouts()
        except ConnectionError as exc:
            self._fail(exc)
            return
        if self.closing and now >= self._closing_since + limits.shutdown_timeout:
            self.cut_off(ConnectionError, ErrorCodes.NO_ERROR, "shutdown timeout")
            return
        blocked = self._write_blocked_since
        if blocked is not None and now >= blocked + limits.send_timeout:
            # The client reads nothing: a GOAWAY could not reach it either.
            self._fail(ConnectionError(f"the client accepted no data for {limits.send_timeout} s"))
            self.wants_abort = True
            return
        mid = self._mid_frame_since
        if mid is not None and blocked is None and now >= mid + limits.handshake_timeout:
            # Slowloris inside HTTP/2: a frame header, or a header block,
            # begun and never finished.
            self.cut_off(
                ConnectionError,
                ErrorCodes.NO_ERROR,
                f"frame not completed within {limits.handshake_timeout} s",
            )
            return
        if self._held or self.streams:
            self._last_active = now
        elif now >= self._last_active + limits.idle_timeout:
            self.cut_off(ConnectionError, ErrorCodes.NO_ERROR, "idle timeout")
