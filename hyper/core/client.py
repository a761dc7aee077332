"""
The HTTP/2 client's protocol policy, without I/O: one client
:class:`~hyper.engine.engine.Engine` and the per-stream buffers the
response objects read from.

The core owns no socket, thread, lock, clock or event loop. Every method
returns at once; waiting is the driver's job. A driver (the blocking
:mod:`hyper.drivers.sync_h2`, the asyncio :mod:`hyper.aio` client) calls
the core from one thread at a time, feeds it what it reads
(:meth:`ClientCore.receive_data`, :meth:`ClientCore.lost`), writes what
:meth:`ClientCore.data_to_send` returns after every call, and waits until
a predicate (:meth:`response_ready`, :meth:`body_ready`,
:meth:`send_window`, :meth:`can_open_stream`, :attr:`settings_seen`) says
a call can make progress.

What the core decides:

- what each engine event means for a stream: final response, 1xx,
  trailers, reset (a reset after a complete response leaves it standing,
  RFC 9113 8.1), a push (filed on its parent as a
  :class:`~hyper.core.streams.PushRecord`);
- refused streams and GOAWAY: a stream above the server's last-stream-id,
  or reset with REFUSED_STREAM, fails with :class:`StreamRefusedError`
  (safe to retry, 8.7); streams at or below it finish, and once none is
  left the connection closes politely (drain-then-close, 6.8);
- flow control: a stream's window is given back only as the application
  takes its body (:meth:`read`), so an unread stream holds at most its
  window here;
- releasing: a stream the application is done with, still open, is reset
  with CANCEL; a stream whose response object was garbage collected is
  queued by :meth:`abandon` (safe from ``__del__``) and released by the
  next call (:meth:`reap`);
- failure: the first error ends the connection; every unfinished stream
  and every later call gets it (a copy each,
  :func:`~hyper.core.streams.clone_error`);
- the first request goes out before the server's SETTINGS (the initial
  values apply until then, RFC 9113 6.5.2). If the server then refuses it
  (REFUSED_STREAM: it was not processed, 8.7), it is sent again on a new
  stream as soon as a slot is free; the application keeps waiting on the
  id it was given (:meth:`find` follows the move).

``touched`` (when the driver asks for it with ``track_streams=True``)
lists the streams that received something in the last
:meth:`receive_data`, so an event-loop driver wakes only their waiters.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from hyper.common.types import Buffer, RawHeaders
from hyper.core.streams import BaseCore, PushRecord, StreamBuffer, clone_error
from hyper.engine.engine import Engine
from hyper.engine.errors import ErrorCodes, error_name
from hyper.engine.events import (
    ConnectionTerminated,
    DataReceived,
    InformationalResponseReceived,
    PingAcknowledged,
    PushPromiseReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamReset,
    TrailersReceived,
)
from hyper.engine.exceptions import ConnectionError as H2ConnectionError
from hyper.engine.exceptions import (
    ConnectionLostError,
    ConnectionTerminatedError,
    StreamRefusedError,
    StreamResetError,
    StreamStateError,
)
from hyper.engine.stream import StreamState

__all__ = ["ClientCore", "normalize_origin"]


_LAST_STREAM_ID = 2**31 - 1
# Streams opened before the server's SETTINGS arrive. The first request goes
# out with the preface (RFC 9113 3.4 allows it), sparing a round trip on
# every new connection; the rest wait the one round trip for the server's
# limits, so at most this many can be refused for exceeding them.
_EARLY_STREAMS = 1
# The opaque data of PINGs sent only to make the server send something.
WAKE_PING = b"hyper\x00wk"
# The first bytes of a TLS record (handshake or alert, TLS 1.x): a
# plaintext client that reads these is talking to a TLS port.
_TLS_RECORD_STARTS = (b"\x16\x03", b"\x15\x03")


_DEFAULT_PORTS = {b"http": b":80", b"https": b":443"}


def normalize_origin(scheme: bytes, authority: bytes) -> tuple[bytes, bytes]:
    """``(scheme, authority)`` lowercased, without the scheme's default port."""
    scheme, authority = scheme.lower(), authority.lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is not None and authority.endswith(default):
        authority = authority[: -len(default)]
    return scheme, authority


def _split_authority(authority: bytes) -> tuple[bytes, bytes]:
    """``host``, ``port`` of an authority (``b''`` for no port); IPv6 in brackets."""
    if authority.startswith(b"["):
        host, _, rest = authority.partition(b"]")
        return host + b"]", rest[1:] if rest.startswith(b":") else b""
    host, _, port = authority.partition(b":")
    return host, port


def _name_covers(name: bytes, host: bytes) -> bool:
    """A certificate DNS name covers ``host`` (one leading ``*`` label at most)."""
    name = name.lower()
    if name.startswith(b"*."):
        first, _, rest = host.partition(b".")
        return bool(first) and rest == name[2:]
    return name == host


def _promised_origin(headers: RawHeaders) -> tuple[bytes, bytes]:
    fields = dict(headers)
    return normalize_origin(fields.get(b":scheme", b""), fields.get(b":authority", b""))


class ClientCore(BaseCore[StreamBuffer]):
    """
    The client side of one HTTP/2 connection: the engine, the streams'
    buffers, and the policy between them. See the module docstring.

    :param first_stream_id: the first stream id to use; a reconnecting
        front-end continues its numbering so ids stay unique.
    :param track_streams: keep :attr:`touched` up to date.
    """

    def __init__(
        self, engine: Engine, *, first_stream_id: int = 1, track_streams: bool = False
    ) -> None:
        super().__init__(engine)
        self.streams: dict[int, StreamBuffer] = {}
        #: The server's first SETTINGS arrived (its limits are known).
        self.settings_seen = False
        #: The connection ended: the driver should flush and close its transport.
        self.wants_teardown = False
        #: A local action (our END_STREAM or RST_STREAM) freed a stream slot
        #: since the driver last cleared this.
        self.slot_freed = False
        #: Streams that got an event in the last ``receive_data`` (or None).
        self.touched: list[StreamBuffer] | None = [] if track_streams else None
        self.goaway: ConnectionTerminated | None = None
        #: ``(scheme, authority)`` of the connection, set by the front-end
        #: (see :func:`normalize_origin`): a promise for any other origin is
        #: refused (RFC 9113 8.4), unless over TLS the server's certificate
        #: names its host (``cert_names``, the DNS names it covers).
        self.origin: tuple[bytes, bytes] | None = None
        self.cert_names: tuple[bytes, ...] = ()
        self._next_id = first_stream_id
        self._received_any = False
        #: A request went out on this connection (see OriginPolicy.try_again).
        self.is_reused = False
        # Refused early streams waiting for a slot to be sent again, and the
        # ids such streams moved from (old id -> new id).
        self._retry: deque[StreamBuffer] = deque()
        self._moved: dict[int, int] = {}
        # Filled without a lock (``__del__`` of responses and push records),
        # emptied by ``reap`` under the driver's.
        self._abandoned: deque[StreamBuffer] = deque()
        handlers: dict[type, Callable[[Any], None]] = {
            ResponseReceived: self._on_response,
            InformationalResponseReceived: self._on_informational,
            TrailersReceived: self._on_trailers,
            StreamReset: self._on_reset,
            PushPromiseReceived: self._on_push,
            ConnectionTerminated: self._on_goaway,
            PingAcknowledged: self._on_ping_ack,
            RemoteSettingsChanged: self._on_settings,
        }
        self._handlers = handlers

    # ------------------------------------------------------------------
    # The connection

    def start(self, *, upgraded: bool = False) -> None:
        """
        Queue the preface and our SETTINGS, or (``upgraded``: the engine made
        an h2c upgrade, which queued them) adopt stream 1, which carries the
        response to the HTTP/1.1 request that asked for the upgrade.
        """
        if upgraded:
            self.streams[1] = StreamBuffer(1)
            self.is_reused = True
        else:
            self.engine.initiate_connection()

    def data_to_send(self) -> bytes:
        """Every byte queued for the server; write them in this order."""
        return self.engine.data_to_send()

    @property
    def is_usable(self) -> bool:
        """Whether new streams may still be opened on this connection."""
        engine = self.engine
        return (
            self.error is None
            and engine.goaway_received is None
            and not engine.is_closed
            and self._next_id <= _LAST_STREAM_ID
        )

    @property
    def is_finished(self) -> bool:
        """The connection has ended and no stream is left to read."""
        return self.error is not None and not self.streams

    def why_unusable(self) -> BaseException | None:
        """Why no new stream may be opened: the connection's failure, or the
        server's GOAWAY; None if usable or only out of stream ids."""
        if self.error is not None:
            return self.error
        last = self.engine.goaway_received
        if last is not None:
            goaway = self.goaway
            code = error_name(goaway.error_code) if goaway is not None else "NO_ERROR"
            return ConnectionTerminatedError(
                f"the server sent GOAWAY({code}, last stream {last}): "
                "it takes no new streams on this connection",
                goaway.error_code if goaway is not None else None,
            )
        if self.engine.is_closed:
            return H2ConnectionError("the connection was closed by the client")
        return None

    @property
    def next_stream_id(self) -> int:
        """The id the next stream opened here would get."""
        return self._next_id

    @property
    def is_handshake_done(self) -> bool:
        """The server's SETTINGS arrived (its limits govern what we send)
        and it acknowledged ours (ours govern what it sends)."""
        return self.settings_seen and not self.engine.has_unacked_settings

    def check_settings_ack(self) -> None:
        """Fail the connection (GOAWAY SETTINGS_TIMEOUT) if our SETTINGS went
        unacknowledged longer than the engine's ``settings_timeout``
        (RFC 9113 6.5.3); by the engine's clock."""
        if self.error is None:
            try:
                self.engine.check_timeouts()
            except H2ConnectionError as exc:
                self.fail(exc)

    @property
    def max_frame_size(self) -> int:
        """The largest DATA payload the server accepts in one frame."""
        return self.engine.max_outbound_frame_size

    def close(
        self, error_code: int = ErrorCodes.NO_ERROR, error: BaseException | None = None
    ) -> None:
        """Queue GOAWAY and fail every stream (with ``error``, by default a
        ConnectionError saying the client closed it): the client is closing."""
        if self.error is None:
            if not self.engine.is_closed:
                self.engine.close(error_code)
            if error is None:
                error = H2ConnectionError("the connection was closed by the client")
            self.fail(error)

    def lost(self, cause: BaseException | None) -> None:
        """The transport failed (``cause``) or reached EOF (None)."""
        if self.error is not None:
            return
        goaway = self.goaway
        if cause is None:
            if not self._received_any:
                message = (
                    "the server closed the connection without a word: it may not speak "
                    "HTTP/2 here (a plaintext connection to a TLS port, or HTTP/1.1 only?)"
                )
            elif not self.settings_seen:
                message = "the server closed the connection before sending its SETTINGS"
            else:
                message = "the server closed the connection"
        else:
            message = f"the connection to the server failed: {cause}"
        if goaway is not None:
            message += (
                f" after GOAWAY({error_name(goaway.error_code)}, "
                f"last stream {goaway.last_stream_id})"
            )
        error = ConnectionLostError(message)
        error.__cause__ = cause
        self.fail(error)

    def fail(self, error: BaseException) -> None:
        """
        End the connection: every unfinished stream and every later call
        gets ``error``. Sets :attr:`wants_teardown`.
        """
        if self.error is not None:
            return
        self.error = error
        for stream in self.streams.values():
            if not stream.ended and stream.error is None:
                stream.error = error
        self.wants_teardown = True

    # ------------------------------------------------------------------
    # Opening streams and sending

    def can_open_stream(self) -> bool:
        """A stream slot is free under the server's MAX_CONCURRENT_STREAMS
        (before its SETTINGS: while fewer than the early streams are open),
        and no refused stream is waiting to be sent again first."""
        if self._retry:
            return False
        if not self.settings_seen and self.engine.open_outbound_streams >= _EARLY_STREAMS:
            return False
        return self.engine.can_open_stream()

    def resolve(self, stream_id: int) -> int:
        """The id the stream the application knows as ``stream_id`` has now
        (a refused early stream is sent again under a new id)."""
        moved = self._moved
        while stream_id in moved:
            stream_id = moved[stream_id]
        return stream_id

    def find(self, stream_id: int) -> StreamBuffer | None:
        """The buffer of the stream the application knows as ``stream_id``."""
        return self.streams.get(self.resolve(stream_id))

    def reserve_id(self) -> int:
        """Set aside the next stream id (``putrequest``), to open it later."""
        stream_id = self._next_id
        self._next_id += 2
        return stream_id

    def open_stream(
        self,
        headers: list[tuple[Any, Any]],
        end_stream: bool,
        data: Buffer | None = None,
        data_ends: bool = False,
        stream_id: int | None = None,
    ) -> tuple[StreamBuffer, int] | None:
        """
        Send the request headers on a new stream, and as much of ``data`` as
        the windows allow now (ending the stream if ``data_ends`` and it all
        went). Call when :meth:`can_open_stream` or not :attr:`is_usable`.

        :param stream_id: an id from :meth:`reserve_id`; a fresh one is used
            if a higher id went out first (ids must rise, RFC 9113 5.1.1).
        :returns: the stream's buffer and how many bytes of ``data`` were
            taken, or None when this connection opens no more streams
            (GOAWAY received, failed, ids exhausted): open a new one.
        """
        if not self.is_usable:
            return None
        engine = self.engine
        if stream_id is None or stream_id < engine.get_next_available_stream_id():
            stream_id = self._next_id
            self._next_id += 2
        if stream_id > _LAST_STREAM_ID:
            return None
        engine.send_headers(stream_id, headers, end_stream)
        self.is_reused = True
        stream = StreamBuffer(stream_id)
        self.streams[stream_id] = stream
        taken = 0
        if data is not None and len(data):
            taken = engine.send_data(stream_id, data, data_ends)
        if not self.settings_seen:
            if end_stream:
                stream.replay = (headers, None)
            elif data is not None and data_ends and taken == len(data):
                stream.replay = (headers, data)
        return stream, taken

    def send_data(self, stream: StreamBuffer, data: Buffer, end_stream: bool) -> int | None:
        """
        Queue as much of ``data`` as the windows allow now (``end_stream``
        once all of it is taken) and return how much was taken.

        :returns: None when the server already answered in full and closed
            the stream: the rest of the body is not wanted (RFC 9113 8.1).
        :raises StreamResetError: the stream was reset.
        :raises ConnectionError: the connection failed.
        """
        if not self._is_sendable(stream):
            return None
        open_before = self.engine.open_outbound_streams
        taken = self.engine.send_data(stream.stream_id, data, end_stream)
        self._note_slot(open_before)
        return taken

    def send_data_in_place(
        self, stream: StreamBuffer, frames: memoryview, size: int, frame_size: int
    ) -> bool | None:
        """
        :meth:`Engine.send_data_in_place`: True if ``frames`` may go out now
        (after :meth:`data_to_send`), False if the windows do not take it.

        :returns: None when the server already answered in full and closed
            the stream (as :meth:`send_data`).
        """
        if not self._is_sendable(stream):
            return None
        return self.engine.send_data_in_place(stream.stream_id, frames, size, frame_size)

    def send_trailers(self, stream: StreamBuffer, headers: list[tuple[Any, Any]]) -> bool:
        """
        End the request with a trailer block.

        :returns: False when the server already answered in full and closed
            the stream (the trailers are not wanted).
        :raises InvalidHeaderError: a pseudo-header or an invalid field.
        """
        if not self._is_sendable(stream):
            return False
        open_before = self.engine.open_outbound_streams
        self.engine.send_headers(stream.stream_id, headers, end_stream=True)
        self._note_slot(open_before)
        return True

    def _note_slot(self, open_before: int) -> None:
        if self.engine.open_outbound_streams < open_before:
            self.slot_freed = True  # our END_STREAM closed the stream

    def _is_sendable(self, stream: StreamBuffer) -> bool:
        """Whether the stream may still send; False if the server already
        answered in full and closed it.

        :raises: the connection's or the stream's failure (a copy).
        :raises StreamStateError: the stream can no longer send otherwise.
        """
        if self.error is not None:
            raise clone_error(self.error)
        if stream.error is not None:
            raise clone_error(stream.error)
        state = self.engine.stream_state(stream.stream_id)
        if state is StreamState.OPEN or state is StreamState.HALF_CLOSED_REMOTE:
            return True
        if stream.ended:
            return False
        raise StreamStateError(f"stream {stream.stream_id} can no longer send data")

    def wake_ping(self) -> None:
        """Ask the server for a frame (a PING), to wake a blocked reader."""
        if self.error is None and not self.engine.is_closed:
            self.engine.ping(WAKE_PING)

    # ------------------------------------------------------------------
    # Receiving

    def receive_data(self, data: Buffer) -> None:
        """
        Feed bytes read from the transport: file every event into the
        buffer of the stream it belongs to. A connection error fails the
        connection (the engine queued GOAWAY with the right code).
        """
        if not self._received_any:
            self._received_any = True
            if bytes(data[:2]) in _TLS_RECORD_STARTS and not self.settings_seen:
                self.fail(
                    H2ConnectionError(
                        "the server answered with TLS: this is a TLS port; connect with "
                        "secure=True (or an ssl_context)",
                        ErrorCodes.PROTOCOL_ERROR,
                    )
                )
                return
        try:
            events = self.engine.receive_data(data)
        except H2ConnectionError as exc:  # ProtocolError and its kin too
            self.fail(exc)
            return
        streams = self.streams
        handlers = self._handlers
        touched = self.touched
        for event in events:
            if type(event) is DataReceived:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    chunk = event.data
                    if chunk:
                        stream.chunks.append(chunk)
                        stream.buffered += len(chunk)
                    if event.end_stream:
                        stream.ended = True
                    if touched is not None:
                        touched.append(stream)
                continue
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
        if self._abandoned:
            self.reap()
        if self._retry:
            self._send_again()
        self._check_drained()

    def _send_again(self) -> None:
        """Send refused early streams again, under new ids, while slots are free."""
        engine = self.engine
        retry = self._retry
        while retry and self.is_usable and engine.can_open_stream():
            stream = retry.popleft()
            if stream.replay is None or stream.error is not None:
                continue
            headers, data = stream.replay
            old_id = stream.stream_id
            new_id = self._next_id
            self._next_id += 2
            engine.send_headers(new_id, headers, data is None)
            if data is not None:
                taken = engine.send_data(new_id, data, True)
                if taken < len(data):
                    # The server's SETTINGS made the window smaller than the
                    # body: it cannot be sent whole again; the caller retries.
                    engine.reset_stream(new_id, ErrorCodes.CANCEL)
                    stream.error = StreamRefusedError(
                        f"stream {old_id} was refused by the server; safe to retry",
                        old_id,
                        ErrorCodes.REFUSED_STREAM,
                        True,
                    )
                    self._touch(stream)
                    continue
            stream.replay = None  # once: a second refusal is the caller's to retry
            del self.streams[old_id]
            stream.stream_id = new_id
            self.streams[new_id] = stream
            self._moved[old_id] = new_id

    def response_ready(self, stream: StreamBuffer) -> bool:
        """The final response headers (or the stream's failure) are here."""
        return stream.headers is not None or stream.error is not None

    def check_response(self, stream: StreamBuffer) -> None:
        """
        After :meth:`response_ready`: raise the stream's failure if no
        response came (forgetting the stream).

        :raises StreamResetError: ``StreamRefusedError`` if not processed.
        """
        if stream.headers is None and stream.error is not None:
            self._forget(stream)
            raise clone_error(stream.error)

    def read(self, stream: StreamBuffer, limit: int | None) -> list[bytes]:
        """
        Take up to ``limit`` buffered body bytes (all for None) and give
        their window back. Call after :meth:`body_ready`. An empty list
        means the body is complete.

        :raises StreamResetError: the stream was reset mid-body.
        :raises ConnectionError: the connection failed mid-body.
        """
        if stream.buffered:
            out = stream.consume(self.engine, limit)
        elif stream.error is not None:
            self._forget(stream)
            raise clone_error(stream.error)
        else:
            out = []
        if stream.is_drained:
            self._forget(stream)
        return out

    # -- pushes -------------------------------------------------------------

    def pushes_ready(self, stream: StreamBuffer) -> bool:
        """
        A promise not handed out yet arrived, or no more can come. Gives
        the stream's window back for data already buffered (it stays
        buffered), so the server can reach its pushes behind a large body.
        """
        if stream.buffered > stream.preacked:
            self.engine.acknowledge_received_data(
                stream.stream_id, stream.buffered - stream.preacked
            )
            stream.preacked = stream.buffered
        return len(stream.pushes) > stream.pushes_taken or not self._more_pushes(stream)

    def take_pushes(self, stream: StreamBuffer) -> tuple[list[PushRecord], bool]:
        """The promises not handed out yet, and whether more may come."""
        fresh = stream.pushes[stream.pushes_taken :]
        stream.pushes_taken = len(stream.pushes)
        return fresh, self._more_pushes(stream)

    @staticmethod
    def _more_pushes(stream: StreamBuffer) -> bool:
        return not stream.ended and stream.error is None

    # -- pings (BaseCore keeps them) ------------------------------------------

    def forget_ping(self, opaque_data: bytes) -> None:
        """The driver is done waiting for the PING; after GOAWAY, the
        connection closes once it was the last thing in flight."""
        super().forget_ping(opaque_data)
        self._check_drained()

    # ------------------------------------------------------------------
    # Releasing streams

    def release(self, stream: StreamBuffer, error_code: int = ErrorCodes.CANCEL) -> None:
        """
        The application is done with the stream: forget its buffer and, if
        the stream is still open, reset it (``error_code``, CANCEL by
        default) to free its slot.
        """
        if stream in self._retry:
            self._retry.remove(stream)
        stream.chunks.clear()
        stream.buffered = 0
        stream.claimed = True
        if self.error is None:
            stream_id = stream.stream_id
            if self.engine.stream_state(stream_id) is not StreamState.CLOSED:
                self.engine.reset_stream(stream_id, error_code)
                self.slot_freed = True
        self._forget(stream)
        if self._retry:
            self._send_again()

    def abandon(self, stream: StreamBuffer) -> None:
        """Release ``stream`` at the next call (safe from ``__del__``)."""
        self._abandoned.append(stream)

    def reap(self) -> None:
        """Release the streams :meth:`abandon` queued."""
        abandoned = self._abandoned
        while abandoned:
            self.release(abandoned.popleft())

    @property
    def has_abandoned(self) -> bool:
        return bool(self._abandoned)

    def _forget(self, stream: StreamBuffer) -> None:
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
            self._check_drained()

    def _check_drained(self) -> None:
        """After GOAWAY, close once no stream (and no PING) is left."""
        if (
            self.error is None
            and self.engine.goaway_received is not None
            and not self.streams
            and not self._pings
        ):
            goaway = self.goaway
            code = f"{error_name(goaway.error_code)}, " if goaway is not None else ""
            if self.engine.error is None:
                self.engine.close(ErrorCodes.NO_ERROR)
            self.fail(ConnectionTerminatedError(f"the server sent GOAWAY({code}no new streams)"))

    # ------------------------------------------------------------------
    # Event handlers

    def _touch(self, stream: StreamBuffer) -> None:
        if self.touched is not None:
            self.touched.append(stream)

    def _on_response(self, event: ResponseReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.headers = event.headers
            stream.replay = None
            if event.end_stream:
                stream.ended = True
            self._touch(stream)

    def _on_informational(self, event: InformationalResponseReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.informational.append(event.headers)
            self._touch(stream)

    def _on_trailers(self, event: TrailersReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.trailers = event.headers
            stream.ended = True
            self._touch(stream)

    def _on_reset(self, event: StreamReset) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is None or stream.ended:
            return  # a complete response stands; the reset only stops our upload
        if event.error_code == ErrorCodes.REFUSED_STREAM:
            # Not processed: send it again (8.7), unless GOAWAY refused it, which
            # means this connection takes no new streams: the caller retries.
            resend = stream.replay is not None and stream.headers is None
            if resend and self.error is None and self.goaway is None:
                self._retry.append(stream)
                return
            goaway = self.goaway
            if goaway is not None and event.stream_id > goaway.last_stream_id:
                message = (
                    f"stream {event.stream_id} was not processed: the server sent GOAWAY "
                    f"(last stream {goaway.last_stream_id}); safe to retry"
                )
            else:
                message = f"stream {event.stream_id} was refused by the server; safe to retry"
            stream.error = StreamRefusedError(message, event.stream_id, event.error_code, True)
        else:
            stream.error = StreamResetError("", event.stream_id, event.error_code, event.remote)
        self._touch(stream)

    def _on_push(self, event: PushPromiseReceived) -> None:
        parent = self.streams.get(event.parent_stream_id)
        if parent is None:
            # Nobody will ever look at the parent's pushes.
            self.engine.reset_stream(event.stream_id, ErrorCodes.CANCEL)
            return
        if self.origin is not None and not self._is_authoritative(event.headers):
            # RFC 9113 8.4: a push for an origin the server is not known to be
            # authoritative for is a stream error; it never reaches ``pushes``.
            self.engine.reset_stream(event.stream_id, ErrorCodes.PROTOCOL_ERROR)
            return
        pushed = StreamBuffer(event.stream_id)
        self.streams[event.stream_id] = pushed
        parent.pushes.append(PushRecord(event.headers, pushed, self._abandoned))
        self._touch(parent)

    def _is_authoritative(self, headers: RawHeaders) -> bool:
        """May this connection's server push for the promise's origin? (RFC 9113 8.4.)"""
        origin = self.origin
        promised = _promised_origin(headers)
        if promised == origin or origin is None:
            return True
        if promised[0] != b"https" or origin[0] != b"https" or not self.cert_names:
            return False
        host, port = _split_authority(promised[1])
        if port != _split_authority(origin[1])[1]:
            return False
        return any(_name_covers(name, host) for name in self.cert_names)

    def _on_goaway(self, event: ConnectionTerminated) -> None:
        self.goaway = event

    def _on_settings(self, event: RemoteSettingsChanged) -> None:
        self.settings_seen = True

    def __repr__(self) -> str:
        state = "failed" if self.error is not None else "open"
        return f"<ClientCore {state} streams={len(self.streams)}>"
