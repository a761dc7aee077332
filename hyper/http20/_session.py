"""
One HTTP/2 connection over a blocking socket, shared by any number of threads.

There is no background thread. The invariants:

- ``cond`` (a Condition over one Lock) guards the engine, ``streams`` and
  every :class:`StreamBuffer`. No socket I/O happens while it is held.
- At most one thread reads the socket: the one that set ``_reading`` under
  ``cond``. A thread that needs something (response headers, body bytes, send
  window, a stream slot, a PING answer) checks under ``cond``; if it is
  missing and nobody is reading, it becomes the reader: it releases ``cond``,
  ``recv_into``\\ s the preallocated buffer with what is left of *its own*
  deadline as the socket timeout, then, under ``cond`` again, feeds the
  engine, files every event into the buffer of the stream it belongs to (so
  no thread ever loses another's frames), gives up the reader role and wakes
  everyone. Other threads wait on ``cond`` with their own timeouts, and the
  first to wake with nobody reading takes over. Nobody spins or sleeps.
- Bytes the engine queues move to ``_outq`` under ``cond``, so the queue is in
  engine order (the peer's HPACK decoder depends on it). Only the holder of
  ``_write_lock`` pops and writes, and it loops until the queue is empty, so
  bytes queued by a thread that did not get the lock are written by the
  holder. Lock order: ``_write_lock`` before ``cond``, never the reverse.
- The reader gives up its role before it writes and then only *tries* the
  write lock: a write stuck on a peer that is not reading can never stop us
  reading what that peer is sending.
- The socket's timeout is always a positive number (never None or 0), so the
  descriptor stays non-blocking and each recv/send uses the timeout in force
  when it started. Writes use ``send`` in a loop and treat a timeout as "try
  again": a partial write is never abandoned mid-frame, and the connection
  fails only when a write makes no progress for a whole read timeout.
- A stream's receive window is given back only as its body is read, so an
  unread stream holds at most its window (1 MiB by default) here.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Any, Union, cast

from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.http20._sockio import (
    GATHER_TIMEOUT,
    HAVE_FIONREAD,
    ConnectionLostError,
    InputPoller,
    clone_error,
    gather_tls_records,
    write_all,
)
from hyper.http20._streambuf import StreamBuffer
from hyper.http20.engine import Engine
from hyper.http20.errors import ErrorCodes, error_name
from hyper.http20.events import (
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
from hyper.http20.exceptions import ConnectionError as H2ConnectionError
from hyper.http20.exceptions import (
    ConnectionTerminatedError,
    ProtocolError,
    StreamRefusedError,
    StreamResetError,
    StreamStateError,
)
from hyper.http20.response import HTTP20Push

Buffer = Union[bytes, bytearray, memoryview]

# One recv per read step; a full buffer is about 16 DATA frames of 16 KiB.
_READ_SIZE = 256 * 1024
# The socket timeout while no waiting call has a deadline. A reader that
# reaches it without a deadline just reads again; it only exists because the
# timeout must never be None (see the module docstring).
_IDLE_TIMEOUT = 3600.0
# A reader whose deadline is this close to the resting timeout uses that one,
# sparing two syscalls per read; the wait overshoots by at most this much.
_TIMEOUT_SLACK = 0.01
# How long closing waits for a busy writer before giving up on sending GOAWAY.
_CLOSE_TIMEOUT = 1.0
# The timeout of a read step taking in what arrived while the connection was
# idle: the data is there; only an incomplete TLS record could make it wait.
_POLL_TIMEOUT = GATHER_TIMEOUT
# The opaque data of PINGs sent only to make a blocked reader wake up.
_WAKE_PING = b"hyper\x00wk"
_LAST_STREAM_ID = 2**31 - 1
# ``_await``'s default: the session's read timeout.
_READ_TIMEOUT = -1.0
_STATE_CLOSED = "CLOSED"


class Session:
    """
    The socket and engine of one HTTP/2 connection, and the per-stream
    buffers the response objects read from. See the module docstring.

    :param first_stream_id: the first stream id to use; a reconnecting
        ``HTTP20Connection`` continues its numbering so ids stay unique.
    :param read_timeout: seconds any one wait may take; None waits forever.
    """

    def __init__(
        self,
        sock: socket.socket,
        engine: Engine,
        *,
        read_timeout: float | None,
        first_stream_id: int = 1,
    ) -> None:
        self.sock = sock
        self.engine = engine
        self.read_timeout = read_timeout
        self.cond = threading.Condition(threading.Lock())
        self.streams: dict[int, StreamBuffer] = {}
        #: The failure that ended this connection; every later wait raises a copy.
        self.error: BaseException | None = None
        self._write_lock = threading.Lock()
        self._outq: deque[bytes] = deque()
        self._reading = False
        self._buf = bytearray(_READ_SIZE)
        self._view = memoryview(self._buf)
        self._resting = read_timeout if read_timeout else _IDLE_TIMEOUT
        self._gather = HAVE_FIONREAD and isinstance(sock, ssl.SSLSocket)
        self._poller = InputPoller(sock)
        # Threads waiting in open_stream for a free slot.
        self._slot_waiters = 0
        sock.settimeout(self._resting)
        self._next_id = first_stream_id
        self._settings_seen = False
        self._pings: dict[bytes, float | None] = {}
        # Streams whose response object was garbage collected unread: filled
        # without a lock by __del__ (which may run while this thread holds
        # ``cond``), reaped under ``cond`` by the next operation.
        self._abandoned: deque[StreamBuffer] = deque()
        self._teardown_wanted = False
        self._torn_down = False
        self._close_when_read = False
        self._sock_closed = False
        self._goaway: ConnectionTerminated | None = None
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
    # Lifecycle

    def start(
        self, timeout: float | None, *, upgraded: bool = False, received: bytes = b""
    ) -> None:
        """
        Send the preface and our SETTINGS, then wait for the server's
        SETTINGS, so the first requests already honour its limits
        (MAX_CONCURRENT_STREAMS above all). Tears the socket down on failure.

        :param upgraded: the engine already made an h2c upgrade
            (``initiate_upgrade_connection``, which queued the preface): stream
            1 carries the response to the HTTP/1.1 request that asked for it.
        :param received: bytes read past the ``101`` response; HTTP/2 already.
        """
        try:
            with self.cond:
                if upgraded:
                    self.streams[1] = StreamBuffer(1)
                else:
                    self.engine.initiate_connection()
                self._queue_output()
            self._flush(block=True)
            with self.cond:
                for start in range(0, len(received), _READ_SIZE):
                    piece = received[start : start + _READ_SIZE]
                    self._buf[: len(piece)] = piece
                    if self.error is None:
                        self._receive(len(piece))
                self._await(lambda: self._settings_seen, "the server's SETTINGS", timeout)
            self._after()  # the SETTINGS ACK, when the SETTINGS came in ``received``
        except BaseException:
            self.close()
            raise

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
        """The socket is closed (or about to be) and no stream is left."""
        return self.error is not None and not self.streams

    def close(self, error_code: int = ErrorCodes.NO_ERROR) -> None:
        """Send GOAWAY, fail every waiter, close the socket."""
        with self.cond:
            if self.error is None:
                if not self.engine.is_closed:
                    self.engine.close(error_code)
                self._fail(H2ConnectionError("the connection was closed by the client"))
        self._teardown()

    def fileno(self) -> int:
        return self.sock.fileno()

    # ------------------------------------------------------------------
    # Streams: opening and sending

    def reserve_id(self) -> int:
        """Set aside the next stream id (``putrequest``), to open it later."""
        with self.cond:
            stream_id = self._next_id
            self._next_id += 2
            return stream_id

    def open_stream(
        self,
        headers: list[tuple[bytes, bytes]],
        end_stream: bool,
        data: Buffer | None = None,
        data_ends: bool = False,
        stream_id: int | None = None,
    ) -> tuple[StreamBuffer, int] | None:
        """
        Wait for a free stream slot, send the request headers, and as much of
        ``data`` as the windows allow now (ending the stream if ``data_ends``
        and it all went), in one write.

        :param stream_id: an id from :meth:`reserve_id`; a fresh one is used
            if a higher id went out first (ids must rise, RFC 9113 5.1.1).
        :returns: the stream's buffer and how many bytes of ``data`` were
            taken, or None when this connection can open no more streams
            (GOAWAY received, failed, ids exhausted): open a new one.
        :raises TimeoutError: no slot freed up within the read timeout.
        """
        engine = self.engine
        with self.cond:
            if self._abandoned:
                self._reap()
            if not self._reading and self.error is None and self._poller.has_input():
                # Whatever the server sent while we were idle (a GOAWAY, or
                # EOF after an idle timeout) is taken in first, so a dead
                # connection is replaced before a request is lost on it.
                self._read_step(_POLL_TIMEOUT)
            if self.is_usable and not engine.can_open_stream():
                self._slot_waiters += 1
                try:
                    self._await(
                        lambda: not self.is_usable or engine.can_open_stream(),
                        "a free stream slot (the server's MAX_CONCURRENT_STREAMS)",
                    )
                finally:
                    self._slot_waiters -= 1
            if not self.is_usable:
                return None
            if stream_id is None or stream_id < engine.get_next_available_stream_id():
                stream_id = self._next_id
                self._next_id += 2
            if stream_id > _LAST_STREAM_ID:
                return None
            engine.send_headers(stream_id, headers, end_stream)
            stream = StreamBuffer(stream_id)
            self.streams[stream_id] = stream
            taken = 0
            if data is not None and len(data):
                taken = engine.send_data(stream_id, data, data_ends)
            self._queue_output()
        self._after()
        return stream, taken

    def send_data(self, stream: StreamBuffer, data: Buffer, end_stream: bool) -> bool:
        """
        Send all of ``data`` on the stream, waiting for flow-control window as
        needed (each wait bounded by the read timeout), writing as it goes so
        memory stays bounded by the window.

        :returns: False if the server already answered in full and closed the
            stream, so the rest of the body is not wanted (RFC 9113 8.1).
        :raises StreamResetError: the stream was reset before its response.
        :raises TimeoutError: no window opened within the read timeout.
        """
        engine = self.engine
        stream_id = stream.stream_id
        total = len(data)
        view: memoryview | None = None
        offset = 0
        while True:
            with self.cond:
                if not self._can_send(stream):
                    return False
                open_before = engine.open_outbound_streams
                if offset == 0:
                    taken = engine.send_data(stream_id, data, end_stream)
                else:
                    if view is None:
                        view = memoryview(data).cast("B")
                    taken = engine.send_data(stream_id, view[offset:], end_stream)
                offset += taken
                if engine.open_outbound_streams < open_before:
                    self._slot_freed()  # our END_STREAM closed the stream
                self._queue_output()
            self._flush(block=True)
            if offset >= total:
                return True
            with self.cond:
                self._await(
                    lambda: self._send_window(stream_id) != 0 or stream.error is not None,
                    f"flow-control window to send on stream {stream_id}",
                )

    def wait_send_window(self, stream: StreamBuffer) -> int:
        """
        Wait until the stream may send at least one byte; return how many it
        may send now (-1 if it can no longer send at all).
        """
        stream_id = stream.stream_id
        with self.cond:
            self._await(
                lambda: self._send_window(stream_id) != 0 or stream.error is not None,
                f"flow-control window to send on stream {stream_id}",
            )
            return self._send_window(stream_id)

    @property
    def next_stream_id(self) -> int:
        """The id the next stream opened here would get."""
        return self._next_id

    @property
    def max_frame_size(self) -> int:
        return self.engine.max_outbound_frame_size

    def _send_window(self, stream_id: int) -> int:
        try:
            return self.engine.local_flow_control_window(stream_id)
        except StreamStateError:
            return -1

    def _can_send(self, stream: StreamBuffer) -> bool:
        """Raise the stream's or connection's failure; False if the server
        closed the stream after a complete response."""
        if self.error is not None:
            raise clone_error(self.error)
        if stream.error is not None:
            raise clone_error(stream.error)
        if self.engine.stream_state(stream.stream_id) in ("OPEN", "HALF_CLOSED_REMOTE"):
            return True
        if stream.ended:
            return False
        raise StreamStateError(f"stream {stream.stream_id} can no longer send data")

    # ------------------------------------------------------------------
    # Streams: receiving

    def wait_response(self, stream: StreamBuffer) -> None:
        """
        Wait for the final response headers of the stream.

        :raises StreamResetError: the stream was reset (``StreamRefusedError``
            if the server did not process it).
        :raises TimeoutError: nothing arrived within the read timeout.
        """
        with self.cond:
            if self._abandoned:
                self._reap()
            self._await(
                lambda: stream.headers is not None or stream.error is not None,
                f"the response headers on stream {stream.stream_id}",
            )
            error = stream.error if stream.headers is None else None
            if error is not None:
                self._forget(stream)
        self._after()
        if error is not None:
            raise clone_error(error)

    def read(self, stream: StreamBuffer, limit: int | None) -> list[bytes]:
        """
        Wait until the stream has body bytes, then take up to ``limit`` of
        them (all that are buffered for None) and give their window back.
        An empty list means the body is complete.

        :raises StreamResetError: the stream was reset mid-body.
        :raises TimeoutError: nothing arrived within the read timeout.
        """
        with self.cond:
            if self._abandoned:
                self._reap()
            if not stream.buffered and not stream.ended:
                self._await(
                    lambda: stream.buffered or stream.ended or stream.error is not None,
                    f"body data on stream {stream.stream_id}",
                )
            if stream.buffered:
                before = stream.buffered
                out = stream.take(limit)
                size = before - stream.buffered
                if stream.preacked:
                    credit = min(size, stream.preacked)
                    stream.preacked -= credit
                    size -= credit
                if size:
                    self.engine.acknowledge_received_data(stream.stream_id, size)
                    self._queue_output()
            elif stream.error is not None:
                self._forget(stream)
                raise clone_error(stream.error)
            else:
                out = []
            if stream.ended and not stream.chunks:
                self._forget(stream)
        self._after()
        return out

    def next_pushes(self, stream: StreamBuffer, wait: bool) -> tuple[list[HTTP20Push], bool]:
        """
        The promises made on the stream that were not handed out yet, and
        whether more may come. With ``wait``, first wait until there is a new
        one or the stream has ended, giving the stream's window back as data
        arrives so the server can get there (the data stays buffered).
        """
        with self.cond:
            if wait:
                stream_id = stream.stream_id

                def ready() -> bool:
                    if stream.buffered > stream.preacked:
                        self.engine.acknowledge_received_data(
                            stream_id, stream.buffered - stream.preacked
                        )
                        stream.preacked = stream.buffered
                        self._queue_output()
                    return (
                        len(stream.pushes) > stream.pushes_taken
                        or stream.ended
                        or stream.error is not None
                    )

                self._await(ready, f"pushes on stream {stream_id}")
            fresh = stream.pushes[stream.pushes_taken :]
            stream.pushes_taken = len(stream.pushes)
            more = not stream.ended and stream.error is None
        self._after()
        return fresh, more

    def release(self, stream: StreamBuffer) -> None:
        """
        The application is done with the stream: forget its buffer and, if
        the stream is still open, reset it (CANCEL) to free its slot.
        """
        with self.cond:
            self._release_locked(stream)
        self._after()

    def abandon(self, stream: StreamBuffer) -> None:
        """Release ``stream`` later (safe from ``__del__``: takes no lock)."""
        self._abandoned.append(stream)

    def ping(self, opaque_data: bytes) -> float:
        """Send a PING and return the seconds until its ACK arrived."""
        with self.cond:
            if self._abandoned:
                self._reap()
            if self.error is not None:
                raise clone_error(self.error)
            if opaque_data in self._pings:
                raise ValueError("a PING with this opaque data is already in flight")
            self.engine.ping(opaque_data)
            self._pings[opaque_data] = None
            self._queue_output()
            start = monotonic()
        self._flush(block=False)
        with self.cond:
            try:
                self._await(lambda: self._pings[opaque_data] is not None, "the PING ACK")
            finally:
                acked = self._pings.pop(opaque_data)
                self._check_drained()
        self._after()
        return (acked or start) - start

    # ------------------------------------------------------------------
    # Waiting and reading (called with ``cond`` held)

    def _await(
        self,
        ready: Callable[[], object],
        what: str,
        timeout: float | None = _READ_TIMEOUT,
    ) -> None:
        """
        Return once ``ready()`` is true, reading the socket when nobody else
        is. Called and returns with ``cond`` held.

        :raises TimeoutError: not ready within ``timeout`` (the read timeout by
            default); the connection and other streams are unaffected.
        """
        if ready():
            return
        if timeout == _READ_TIMEOUT:
            timeout = self.read_timeout
        deadline = None if timeout is None else monotonic() + timeout
        cond = self.cond
        while True:
            if self.error is not None:
                raise clone_error(self.error)
            remaining: float | None = None
            if deadline is not None:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    raise HyperTimeoutError(f"timed out after {timeout} s waiting for {what}")
            if self._reading:
                cond.wait(remaining)
            else:
                self._read_step(remaining)
            if ready():
                return

    def _read_step(self, timeout: float | None) -> None:
        """
        Be the reader once: one recv outside the lock, then feed the engine,
        dispatch the events and wake everyone. ``cond`` is held on entry and
        on exit (it is released around the recv and the flush).
        """
        cond = self.cond
        sock = self.sock
        self._reading = True
        count = -1
        failure: BaseException | None = None
        cond.release()
        try:
            try:
                if timeout is not None and timeout < self._resting - _TIMEOUT_SLACK:
                    sock.settimeout(timeout)
                    try:
                        count = sock.recv_into(self._buf)
                    finally:
                        sock.settimeout(self._resting)
                else:
                    count = sock.recv_into(self._buf)
                if count > 0 and self._gather:
                    tls_sock = cast(ssl.SSLSocket, sock)  # _gather says so
                    count = gather_tls_records(tls_sock, self._view, count, self._resting)
            except socket.timeout:
                count = -1
            except OSError as exc:  # reset, TLS failure, closed under us
                failure = exc
        finally:
            cond.acquire()
            self._reading = False
            try:
                if self._close_when_read:
                    self._close_socket_locked()
                elif self.error is not None:
                    pass  # failed while we were reading (close(), a writer)
                elif failure is not None or count == 0:
                    self._lost(failure)
                elif count > 0:
                    self._receive(count)
            finally:
                cond.notify_all()
        if self._outq or self._teardown_wanted:
            cond.release()
            try:
                self._after()
            finally:
                cond.acquire()

    def _slot_freed(self) -> None:
        """
        A local action (our END_STREAM, our RST_STREAM) freed a stream slot.
        Threads waiting for one on ``cond`` are woken; but one of them may be
        the reader, blocked in recv for as long as the server stays silent,
        and only input wakes that one: a PING makes the server send some.
        """
        self.cond.notify_all()
        if self._slot_waiters and self._reading and self.error is None:
            self.engine.ping(_WAKE_PING)

    def _receive(self, count: int) -> None:
        try:
            events = self.engine.receive_data(self._view[:count])
        except ProtocolError as exc:
            self._fail(exc)  # the engine queued GOAWAY with the right code
            return
        except H2ConnectionError as exc:
            self._fail(exc)
            return
        streams = self.streams
        handlers = self._handlers
        for event in events:
            if type(event) is DataReceived:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    data = event.data
                    if data:
                        stream.chunks.append(data)
                        stream.buffered += len(data)
                    if event.end_stream:
                        stream.ended = True
                continue
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
        if self._abandoned:
            self._reap()
        self._queue_output()
        self._check_drained()

    # -- event handlers -----------------------------------------------------

    def _on_response(self, event: ResponseReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.headers = event.headers
            if event.end_stream:
                stream.ended = True

    def _on_informational(self, event: InformationalResponseReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.informational.append(event.headers)

    def _on_trailers(self, event: TrailersReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.trailers = event.headers
            stream.ended = True

    def _on_reset(self, event: StreamReset) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is None or stream.ended:
            return  # a complete response stands; the reset only stops our upload
        if event.error_code == ErrorCodes.REFUSED_STREAM:
            if self._goaway is not None and event.stream_id > self._goaway.last_stream_id:
                message = (
                    f"stream {event.stream_id} was not processed: the server sent GOAWAY "
                    f"(last stream {self._goaway.last_stream_id}); safe to retry"
                )
            else:
                message = f"stream {event.stream_id} was refused by the server; safe to retry"
            stream.error = StreamRefusedError(message, event.stream_id, event.error_code, True)
        else:
            stream.error = StreamResetError("", event.stream_id, event.error_code, event.remote)

    def _on_push(self, event: PushPromiseReceived) -> None:
        parent = self.streams.get(event.parent_stream_id)
        if parent is None:
            # Nobody will ever look at the parent's pushes.
            self.engine.reset_stream(event.stream_id, ErrorCodes.CANCEL)
            return
        pushed = StreamBuffer(event.stream_id, pushed=True)
        self.streams[event.stream_id] = pushed
        parent.pushes.append(HTTP20Push(event.headers, self, pushed))

    def _on_goaway(self, event: ConnectionTerminated) -> None:
        self._goaway = event

    def _on_ping_ack(self, event: PingAcknowledged) -> None:
        if event.data in self._pings:
            self._pings[event.data] = monotonic()

    def _on_settings(self, event: RemoteSettingsChanged) -> None:
        self._settings_seen = True

    # ------------------------------------------------------------------
    # Writing

    def _after(self) -> None:
        """After an operation, with no lock held: write what it queued, and
        close the socket if the connection ended meanwhile."""
        if self._outq:
            self._flush(block=False)
        if self._teardown_wanted:
            self._teardown()

    def _queue_output(self) -> None:
        data = self.engine.data_to_send()
        if data:
            self._outq.append(data)

    def _flush(self, block: bool) -> None:
        """Write everything queued, unless (``block=False``) someone else
        holds the write lock, in which case they will write it."""
        queue = self._outq
        lock = self._write_lock
        while queue:
            if not lock.acquire(blocking=block):
                return
            failure: BaseException | None = None
            try:
                while queue and failure is None:
                    if self._sock_closed:
                        queue.clear()
                        break
                    if len(queue) == 1:
                        data = queue.popleft()
                    else:
                        parts = []
                        while queue:
                            parts.append(queue.popleft())
                        data = b"".join(parts)
                    failure = write_all(self.sock, data, self.read_timeout)
            except BaseException as exc:
                # Interrupted (KeyboardInterrupt, say), perhaps mid-frame: the
                # byte stream can no longer be trusted, so the connection ends.
                lock.release()
                with self.cond:
                    self._lost(exc)
                self._teardown()
                raise
            lock.release()
            if failure is not None:
                with self.cond:
                    self._lost(failure)
                self._teardown()
                return

    # ------------------------------------------------------------------
    # Failure and teardown

    def _lost(self, cause: BaseException | None) -> None:
        """The socket failed or reached EOF (``cause`` None)."""
        if self.error is not None:
            return
        goaway = self._goaway
        if cause is None:
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
        self._fail(error)

    def _fail(self, error: BaseException) -> None:
        """
        End the connection: every unfinished stream and every later wait gets
        ``error`` (a copy each). The socket is closed by ``_teardown``, which
        whoever called this runs after releasing ``cond``.
        """
        if self.error is not None:
            return
        self.error = error
        for stream in self.streams.values():
            if not stream.ended and stream.error is None:
                stream.error = error
        self._queue_output()  # the GOAWAY the engine queued, if any
        self._teardown_wanted = True
        self.cond.notify_all()

    def _check_drained(self) -> None:
        """After GOAWAY, close once no stream (and no PING) is left."""
        if (
            self.error is None
            and self.engine.goaway_received is not None
            and not self.streams
            and not self._pings
        ):
            self._drained_after_goaway()

    def _drained_after_goaway(self) -> None:
        """The server sent GOAWAY and every stream is done: close politely."""
        goaway = self._goaway
        code = f"{error_name(goaway.error_code)}, " if goaway is not None else ""
        if self.engine.error is None:
            self.engine.close(ErrorCodes.NO_ERROR)
        self._fail(ConnectionTerminatedError(f"the server sent GOAWAY({code}no new streams)"))

    def _teardown(self) -> None:
        """Write what is queued (GOAWAY) if the socket takes it quickly, then
        close the socket. Call without holding any lock."""
        with self.cond:
            if self._torn_down:
                return
            self._torn_down = True
            self._teardown_wanted = False
        got = self._write_lock.acquire(timeout=_CLOSE_TIMEOUT)
        try:
            if got:
                queue = self._outq
                if queue and not self._sock_closed:
                    write_all(self.sock, b"".join(queue), self.read_timeout)
                queue.clear()
            try:
                # Wakes a reader blocked in recv and a writer blocked in send.
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            if not got:
                self._write_lock.acquire()
                got = True
            with self.cond:
                if self._reading:
                    self._close_when_read = True  # the reader closes it on return
                else:
                    self._close_socket_locked()
        finally:
            if got:
                self._write_lock.release()

    def _close_socket_locked(self) -> None:
        self._close_when_read = False
        if not self._sock_closed:
            self._sock_closed = True
            self.sock.close()
            # A retired session may linger until its streams are read: it
            # needs its receive buffer no more.
            self._buf = bytearray()
            self._view = memoryview(self._buf)

    # ------------------------------------------------------------------
    # Releasing streams (called with ``cond`` held)

    def _forget(self, stream: StreamBuffer) -> None:
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
            self._check_drained()

    def _release_locked(self, stream: StreamBuffer) -> None:
        stream.chunks.clear()
        stream.buffered = 0
        if self.error is None:
            stream_id = stream.stream_id
            if self.engine.stream_state(stream_id) != _STATE_CLOSED:
                self.engine.reset_stream(stream_id, ErrorCodes.CANCEL)
                self._slot_freed()
                self._queue_output()
        self._forget(stream)

    def _reap(self) -> None:
        abandoned = self._abandoned
        while abandoned:
            self._release_locked(abandoned.popleft())

    def __repr__(self) -> str:
        state = "failed" if self.error is not None else "open"
        return f"<Session {state} streams={len(self.streams)}>"
