"""
One HTTP/2 connection over a blocking socket, shared by any number of
threads: the blocking driver of a :class:`~hyper.core.client.ClientCore`.

The core makes every protocol decision; this module only moves bytes and
waits. There is no background thread. The invariants:

- ``lock``, a plain ``threading.Lock``, guards the core (its engine and
  every :class:`StreamBuffer`). No socket I/O happens while it is held, and
  nobody waits on it for an event: a waiting thread blocks on a
  ``_Waiter`` of its own (below).
- At most one thread reads the socket: the one that set ``_reading`` under
  ``lock``. A thread that needs something (response headers, body bytes, send
  window, a stream slot, a PING answer) checks under ``lock``; if it is
  missing and nobody is reading, it becomes the reader: it releases ``lock``,
  ``recv_into``\\ s the preallocated buffer with what is left of *its own*
  deadline as the socket timeout, then, under ``lock`` again, feeds the
  core (which files every event into the buffer of the stream it belongs
  to, so no thread ever loses another's frames), gives up the reader role
  and wakes the threads it concerns: those waiting on a stream the step
  touched (``ClientCore.touched``), those waiting on the connection (a
  slot, window, SETTINGS, a PING answer), and one more, who takes over the
  reading if the others are satisfied; everyone when the connection
  failed. Other threads wait with their own timeouts, each on a lock of
  its own (``_Waiter``), and a thread woken with nobody reading takes over.
  Nobody spins or sleeps.
- The threads a read step satisfies are woken one at a time, in a relay:
  they queue in ``_ready`` and one thread at a time holds the baton
  (``_baton``, its thread id), which it passes (wakes the next in
  ``_ready``) when it is about to block (a wait, a recv) and when it
  leaves the wait it was woken from. With the GIL only one of them could
  run at a time anyway; woken all at once, each took its turn at the GIL
  only after a futile wake-up, a sleep on the GIL and another wake-up, and
  the herd fought over the GIL's own mutex (measured with 100 threads on
  one connection: 13-20 futex calls and 9-14 context switches a request;
  with the relay 7-10 and 4-7). Every holder passes on every way out of
  ``_await``, so the relay never stalls behind a thread that went off to
  do something else; failures wake everyone at once.
- Bytes the core queues move to ``_outq`` under ``lock``, so the queue is in
  engine order (the peer's HPACK decoder depends on it). Only the holder of
  ``_write_lock`` pops and writes, and it loops until the queue is empty, so
  bytes queued by a thread that did not get ``_write_lock`` are written by
  the holder. Lock order: ``_write_lock`` before ``lock``, never the reverse.
- The reader gives up its role before it writes and then only *tries* the
  write lock: a write stuck on a peer that is not reading can never stop us
  reading what that peer is sending.
- The socket is non-blocking and used only through its
  :class:`~hyper.net.transport.Transport`, which serialises every call into
  it (OpenSSL allows one thread in an ``SSL`` object at a time) and waits
  with ``poll``, holding no lock: each read waits with the deadline of the
  thread reading; a write is never abandoned mid-frame, and the connection
  fails only when a write makes no progress for a whole read timeout.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable
from threading import get_ident
from time import monotonic
from typing import Any, cast

from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.common.types import Buffer
from hyper.core.client import ClientCore
from hyper.core.streams import PushRecord, StreamBuffer
from hyper.engine.engine import Engine
from hyper.engine.errors import ErrorCodes
from hyper.net.transport import Transport

# One recv per read step; a full buffer is about 16 DATA frames of 16 KiB.
_READ_SIZE = 256 * 1024
# How long closing waits for a busy writer before giving up on sending GOAWAY.
_CLOSE_TIMEOUT = 1.0
# The timeout of a read step taking in what arrived while the connection was
# idle: the data is there; only an incomplete TLS record could make it wait.
_POLL_TIMEOUT = 0.001
# A connection with requests in flight that was read from less than this
# many seconds ago is busy, not idle: a new request does not first check
# whether the server said something (a GOAWAY) meanwhile.
_BUSY_INTERVAL = 1.0
# ``_await``'s default: the session's read timeout.
_READ_TIMEOUT = -1.0


class _Waiter:
    """One waiting thread's wake-up call: a Lock it blocks on, which the
    reader releases (``notify``). Unlike a Condition's wait, being woken
    does not take the connection's lock again by itself."""

    __slots__ = ("_lock", "owner")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        #: The id of the thread waiting on it (it holds the baton once woken).
        self.owner = 0

    def notify(self) -> None:
        self._lock.release()

    def block(self, timeout: float | None) -> bool:
        """Wait for ``notify`` (True), or ``timeout`` seconds (False)."""
        return self._lock.acquire(timeout=-1 if timeout is None else timeout)

    def reset(self) -> None:
        """Forget a ``notify`` that came after a timeout, before reuse."""
        self._lock.acquire(blocking=False)


class Session:
    """
    The socket of one HTTP/2 connection and the :class:`ClientCore` behind
    it, shared by threads. See the module docstring.

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
        self._transport = Transport(sock)
        self.core = ClientCore(engine, first_stream_id=first_stream_id, track_streams=True)
        self.read_timeout = read_timeout
        self.lock = threading.Lock()
        # Threads waiting while another reads, each on its own _Waiter: a
        # read step wakes only those whose stream it touched, the
        # connection-level waiters, and one more to be the next reader.
        # Stream waiters are also listed on their StreamBuffer's ``waiter``.
        self._waiters: dict[_Waiter, StreamBuffer | None] = {}
        self._conn_waiters: list[_Waiter] = []
        self._spare_waiters: list[_Waiter] = []
        # The relay (see the module docstring): satisfied waiters not woken
        # yet, and the id of the thread that wakes the next of them.
        self._ready: deque[_Waiter] = deque()
        self._baton: int | None = None
        self._write_lock = threading.Lock()
        # bytes from the core; the memoryview of a body read into its frames
        self._outq: deque[bytes | memoryview] = deque()
        self._reading = False
        self._last_read = 0.0  # when the last read step ended (monotonic)
        self._buf = bytearray(_READ_SIZE)
        self._view = memoryview(self._buf)
        # Threads waiting in open_stream for a free slot.
        self._slot_waiters = 0
        self._torn_down = False
        self._close_when_read = False
        self._sock_closed = False

    @property
    def error(self) -> BaseException | None:
        """The failure that ended this connection; every later wait raises a copy."""
        return self.core.error

    # ------------------------------------------------------------------
    # Lifecycle

    def start(
        self,
        timeout: float | None,
        *,
        upgraded: bool = False,
        received: bytes = b"",
        wait_settings: bool = True,
    ) -> None:
        """
        Send the preface and our SETTINGS, then (``wait_settings``) wait for
        the server's SETTINGS. Without waiting, the first request goes out
        right behind the preface, a round trip sooner; the core holds the
        others back until the server's limits are known. Tears the socket
        down on failure.

        :param upgraded: the engine already made an h2c upgrade
            (``initiate_upgrade_connection``, which queued the preface): stream
            1 carries the response to the HTTP/1.1 request that asked for it.
        :param received: bytes read past the ``101`` response; HTTP/2 already.
        """
        core = self.core
        try:
            with self.lock:
                core.start(upgraded=upgraded)
                self._queue_output()
            self._flush(block=True)
            with self.lock:
                for start in range(0, len(received), _READ_SIZE):
                    if core.error is None:
                        core.receive_data(received[start : start + _READ_SIZE])
                self._queue_output()
                if wait_settings:
                    self._await(lambda: core.settings_seen, "the server's SETTINGS", timeout)
            self._after()  # the SETTINGS ACK, when the SETTINGS came in ``received``
        except BaseException:
            self.close()
            raise

    def wait_handshake(self, timeout: float | None) -> None:
        """
        Wait until the server's SETTINGS have arrived (its limits are known;
        our ACK goes out at once) and it acknowledged ours. Without a
        ``timeout`` the ACK is waited for at most the engine's
        ``settings_timeout``: then the connection fails with
        SETTINGS_TIMEOUT (RFC 9113 6.5.3) rather than hang.

        :raises TimeoutError: not within ``timeout``.
        :raises SettingsTimeoutError: no ACK within ``settings_timeout``.
        :raises ConnectionError: the connection failed first.
        """
        core = self.core
        deadline = None if timeout is None else monotonic() + timeout
        try:
            with self.lock:
                self._await(lambda: core.settings_seen, "the server's SETTINGS", timeout)
                limit = core.engine.config.settings_timeout
                if deadline is not None:
                    limit = max(0.0, deadline - monotonic())
                try:
                    self._await(
                        lambda: core.is_handshake_done, "the server's ACK of our SETTINGS", limit
                    )
                except HyperTimeoutError:
                    core.check_settings_ack()
                    self._queue_output()
                    core.raise_if_failed()
                    raise
        finally:
            self._after()

    def find(self, stream_id: int) -> StreamBuffer | None:
        """The buffer of the stream known as ``stream_id`` (see ClientCore.find).

        No lock: two dict lookups, each atomic, and entries of the id map are
        never removed; a stream released meanwhile is one released just
        after, which every caller handles."""
        return self.core.find(stream_id)

    @property
    def is_usable(self) -> bool:
        """Whether new streams may still be opened on this connection."""
        return self.core.is_usable

    @property
    def is_finished(self) -> bool:
        """The socket is closed (or about to be) and no stream is left."""
        return self.core.is_finished

    @property
    def is_reused(self) -> bool:
        """A request went out on this connection before."""
        return self.core.is_reused

    def why_unusable(self) -> BaseException | None:
        """Why no new stream may be opened here (see ClientCore.why_unusable)."""
        return self.core.why_unusable()

    def close(self, error_code: int = ErrorCodes.NO_ERROR) -> None:
        """Send GOAWAY, fail every waiter, close the socket."""
        with self.lock:
            self.core.close(error_code)
            self._queue_output()
            self._wake_all()
        self._teardown()

    def fileno(self) -> int:
        return self._transport.fileno()

    @property
    def sock(self) -> socket.socket:
        """The connection's socket (a caller's ``close()`` of it waits for
        the session: see :class:`~hyper.net.transport.DescriptorHold`)."""
        return self._transport.sock

    # ------------------------------------------------------------------
    # Streams: opening and sending

    def reserve_id(self) -> int:
        """Set aside the next stream id (``putrequest``), to open it later."""
        with self.lock:
            return self.core.reserve_id()

    def open_stream(
        self,
        headers: list[tuple[Any, Any]],
        end_stream: bool,
        data: Buffer | None = None,
        data_ends: bool = False,
        stream_id: int | None = None,
    ) -> tuple[StreamBuffer, int] | None:
        """
        Wait for a free stream slot, then open the stream
        (:meth:`ClientCore.open_stream`) and write its first bytes.

        :raises TimeoutError: no slot freed up within the read timeout.
        """
        core = self.core
        with self.lock:
            if core.has_abandoned:
                core.reap()
            if (
                not self._reading
                and core.error is None
                and not (
                    core.engine.open_outbound_streams
                    and monotonic() - self._last_read < _BUSY_INTERVAL
                )
                and self._transport.has_input()
            ):
                # Whatever the server sent while we were idle (a GOAWAY, or
                # EOF after an idle timeout) is taken in first, so a dead
                # connection is replaced before a request is lost on it.
                # With requests in flight and read from lately, the
                # connection is not idle: their responses are read in
                # batches when they are wanted, not one per request.
                self._read_step(_POLL_TIMEOUT)
            if not core.can_open_stream() and core.is_usable:
                self._slot_waiters += 1
                try:
                    self._await(
                        lambda: not core.is_usable or core.can_open_stream(),
                        "a free stream slot (the server's MAX_CONCURRENT_STREAMS)",
                    )
                finally:
                    self._slot_waiters -= 1
            opened = core.open_stream(headers, end_stream, data, data_ends, stream_id)
            self._queue_output()
        self._after()
        return opened

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
        core = self.core
        total = len(data)
        view: memoryview | None = None
        offset = 0
        while True:
            with self.lock:
                if offset == 0:
                    taken = core.send_data(stream, data, end_stream)
                else:
                    if view is None:
                        view = memoryview(data).cast("B")
                    taken = core.send_data(stream, view[offset:], end_stream)
                if taken is None:
                    return False
                offset += taken
                self._queue_output()
            self._flush(block=True)
            if offset >= total:
                return True
            self.wait_send_window(stream)

    def send_frames(
        self, stream: StreamBuffer, frames: memoryview, size: int, frame_size: int
    ) -> bool | None:
        """
        Write DATA frames whose ``size`` payload bytes the caller placed in
        ``frames`` (:func:`~hyper.engine.engine.data_layout` for frames of
        ``frame_size``), uncopied.

        :returns: True once written (``frames`` may be filled again); False
            if the windows do not take all of it now (nothing was sent: use
            :meth:`send_data`); None if the server already answered in full
            and closed the stream.
        :raises StreamResetError: the stream was reset before its response.
        """
        with self.lock:
            self._queue_output()
            taken = self.core.send_data_in_place(stream, frames, size, frame_size)
            if taken:
                self._outq.append(frames)
        if taken:
            self._flush(block=True)
            # Another thread may have taken the frames off the queue and be
            # writing them still: they are out once it lets go of the lock,
            # and only then may the caller fill the buffer again.
            with self._write_lock:
                pass
        return taken

    def send_trailers(self, stream: StreamBuffer, headers: list[tuple[Any, Any]]) -> None:
        """End the stream with trailers (dropped if the server already
        answered in full and closed the stream)."""
        with self.lock:
            self.core.send_trailers(stream, headers)
            self._queue_output()
        self._flush(block=True)

    def wait_send_window(self, stream: StreamBuffer) -> int:
        """
        Wait until the stream may send at least one byte; return how many it
        may send now (-1 if it can no longer send at all).
        """
        core = self.core
        with self.lock:
            self._await(
                lambda: core.send_window(stream) != 0,
                f"flow-control window to send on stream {stream.stream_id}",
            )
            return core.send_window(stream)

    @property
    def next_stream_id(self) -> int:
        """The id the next stream opened here would get."""
        return self.core.next_stream_id

    @property
    def max_frame_size(self) -> int:
        return self.core.max_frame_size

    # ------------------------------------------------------------------
    # Streams: receiving

    def wait_response(self, stream: StreamBuffer) -> None:
        """
        Wait for the final response headers of the stream.

        :raises StreamResetError: the stream was reset (``StreamRefusedError``
            if the server did not process it).
        :raises TimeoutError: nothing arrived within the read timeout.
        """
        core = self.core
        lock = self.lock
        try:
            lock.acquire()
            held = True
            try:
                if core.has_abandoned:
                    core.reap()
                held = self._await(
                    lambda: core.response_ready(stream),
                    "the response headers",
                    stream=stream,
                    done_unlocked=lambda: stream.headers is not None,
                )
                if held:
                    core.check_response(stream)
            finally:
                if held:
                    lock.release()
        finally:
            self._after()

    def read(self, stream: StreamBuffer, limit: int | None) -> list[bytes]:
        """
        Wait until the stream has body bytes, then take up to ``limit`` of
        them (all that are buffered for None) and give their window back.
        An empty list means the body is complete.

        :raises StreamResetError: the stream was reset mid-body.
        :raises TimeoutError: nothing arrived within the read timeout.
        """
        core = self.core
        try:
            with self.lock:
                if core.has_abandoned:
                    core.reap()
                if not core.body_ready(stream):
                    self._await(
                        lambda: core.body_ready(stream),
                        "body data",
                        stream=stream,
                    )
                out = core.read(stream, limit)
                self._queue_output()
        finally:
            self._after()
        return out

    def next_pushes(self, stream: StreamBuffer, wait: bool) -> tuple[list[PushRecord], bool]:
        """
        The promises made on the stream that were not handed out yet, and
        whether more may come. With ``wait``, first wait until there is a new
        one or the stream has ended, giving the stream's window back as data
        arrives so the server can get there (the data stays buffered).
        """
        core = self.core
        with self.lock:
            if wait:

                def ready() -> bool:
                    done = core.pushes_ready(stream)
                    self._queue_output()
                    return done

                self._await(ready, "pushes", stream=stream)
            fresh, more = core.take_pushes(stream)
        self._after()
        return fresh, more

    def release(self, stream: StreamBuffer) -> None:
        """
        The application is done with the stream: forget its buffer and, if
        the stream is still open, reset it (CANCEL) to free its slot.
        """
        with self.lock:
            self.core.release(stream)
            self._queue_output()
        self._after()

    def abandon(self, stream: StreamBuffer) -> None:
        """Release ``stream`` later (safe from ``__del__``: takes no lock)."""
        self.core.abandon(stream)

    def ping(self, opaque_data: bytes) -> float:
        """Send a PING and return the seconds until its ACK arrived."""
        core = self.core
        with self.lock:
            if core.has_abandoned:
                core.reap()
            core.ping(opaque_data)
            self._queue_output()
            start = monotonic()
        self._flush(block=False)
        with self.lock:
            try:
                self._await(lambda: core.ping_acked(opaque_data), "the PING ACK")
                elapsed = monotonic() - start
            finally:
                core.forget_ping(opaque_data)
                self._queue_output()
        self._after()
        return elapsed

    # ------------------------------------------------------------------
    # Waiting and reading (called with ``lock`` held)

    def _await(
        self,
        ready: Callable[[], object],
        what: str,
        timeout: float | None = _READ_TIMEOUT,
        stream: StreamBuffer | None = None,
        done_unlocked: Callable[[], object] | None = None,
    ) -> bool:
        """
        Return once ``ready()`` is true, reading the socket when nobody else
        is. Called with ``lock`` held; returns True with it held, or False
        without it when, woken by a reader, ``done_unlocked()`` was true
        (for what a reader settles before it wakes anyone: response
        headers). ``stream``: what is awaited depends on that stream alone
        (woken only when a read step touched it; ``what`` is then said to be
        on that stream); None: on the connection (woken after every read
        step).

        :raises TimeoutError: not ready within ``timeout`` (the read timeout by
            default); the connection and other streams are unaffected.
        """
        if ready():
            if self._baton is not None:
                self._pass_if_held()
            return True
        if timeout == _READ_TIMEOUT:
            timeout = self.read_timeout
        deadline = None if timeout is None else monotonic() + timeout
        core = self.core
        me = get_ident()
        try:
            while True:
                core.raise_if_failed()
                remaining: float | None = None
                if deadline is not None:
                    remaining = deadline - monotonic()
                    if remaining <= 0:
                        if stream is not None:
                            what = f"{what} on stream {stream.stream_id}"
                        raise HyperTimeoutError(f"timed out after {timeout} s waiting for {what}")
                if self._reading:
                    if self._baton == me:
                        self._pass()
                    # Listed only while waiting: a thread that goes on to read
                    # must never be the one picked to take the reading over.
                    waiter = self._add_waiter(stream, me)
                    self.lock.release()
                    try:
                        woken = waiter.block(remaining)
                    except BaseException:
                        self.lock.acquire()
                        self._remove_waiter(waiter, stream)
                        raise
                    if woken and done_unlocked is not None and done_unlocked():
                        # What it waits on was settled before the reader
                        # queued it: no need for the lock, unless to pass on.
                        self._spare_waiters.append(waiter)
                        if self._baton == me:
                            with self.lock:
                                self._pass_if_held()
                        return False
                    self.lock.acquire()
                    self._remove_waiter(waiter, stream)
                else:
                    self._read_step(remaining, awaiting=True)
                if ready():
                    return True
        finally:
            # Every way out holds ``lock`` here, but the unlocked return
            # above, which passed on already.
            if self._baton == me:
                self._pass()

    def _add_waiter(self, stream: StreamBuffer | None, owner: int) -> _Waiter:
        spare = self._spare_waiters
        if spare:
            waiter = spare.pop()
            waiter.reset()
        else:
            waiter = _Waiter()
        waiter.owner = owner
        self._waiters[waiter] = stream
        if stream is None:
            self._conn_waiters.append(waiter)
        elif stream.waiter is None:
            stream.waiter = [waiter]
        else:
            cast(list[_Waiter], stream.waiter).append(waiter)
        return waiter

    def _remove_waiter(self, waiter: _Waiter, stream: StreamBuffer | None) -> None:
        """After its wait (woken or timed out); the waiter may be reused."""
        if waiter in self._waiters:
            self._unlist(waiter, stream)
        elif self._ready and waiter in self._ready:
            self._ready.remove(waiter)  # timed out while queued in the relay
        self._spare_waiters.append(waiter)

    def _unlist(self, waiter: _Waiter, stream: StreamBuffer | None) -> None:
        del self._waiters[waiter]
        if stream is None:
            self._conn_waiters.remove(waiter)
        else:
            waiters = cast(list[_Waiter], stream.waiter)
            waiters.remove(waiter)
            if not waiters:
                stream.waiter = None

    def _wake(self) -> None:
        """
        After a read step (``lock`` held): queue for the relay the threads
        whose stream it touched, those waiting on the connection, and one
        more, who becomes the reader if the others are satisfied; the
        reader takes the baton if nobody holds it. Everyone at once on
        failure. A queued thread is unlisted at once, so "one more" is
        always one that is still waiting.
        """
        core = self.core
        touched = cast(list[StreamBuffer], core.touched)  # tracked: see __init__
        if core.error is not None or core.wants_teardown:
            touched.clear()
            self._wake_all()
            return
        waiting = self._waiters
        if not waiting:
            touched.clear()
            return
        ready = self._ready
        for stream in touched:
            waiters = stream.waiter
            if waiters is not None:
                stream.waiter = None
                for waiter in cast(list[_Waiter], waiters):
                    del waiting[waiter]
                    ready.append(waiter)
        touched.clear()
        if self._conn_waiters:
            for waiter in self._conn_waiters:
                del waiting[waiter]
                ready.append(waiter)
            self._conn_waiters = []
        if waiting:
            # Somebody must read for the rest once the woken are done.
            waiter, awaited = next(iter(waiting.items()))
            self._unlist(waiter, awaited)
            ready.append(waiter)
        if self._baton is None and ready:
            self._baton = get_ident()

    def _pass(self) -> None:
        """Wake the next thread of the relay, which holds the baton then
        (``lock`` held, by the holder)."""
        ready = self._ready
        if ready:
            waiter = ready.popleft()
            self._baton = waiter.owner
            waiter.notify()
        else:
            self._baton = None

    def _pass_if_held(self) -> None:
        if self._baton == get_ident():
            self._pass()

    def _wake_all(self) -> None:
        for waiter, stream in list(self._waiters.items()):
            if stream is not None:
                stream.waiter = None
            waiter.notify()
        self._waiters.clear()
        self._conn_waiters = []
        ready = self._ready
        while ready:
            ready.popleft().notify()
        self._baton = None

    def _read_step(self, timeout: float | None, awaiting: bool = False) -> None:
        """
        Be the reader once: one recv outside the lock, then feed the core
        and wake everyone. ``lock`` is held on entry and on exit (it is
        released around the recv and the flush). ``awaiting``: called by
        ``_await``, which passes the baton this may give the reader.
        """
        lock = self.lock
        core = self.core
        self._reading = True
        if self._baton is not None:
            self._pass_if_held()  # about to block in recv
        count = -1
        failure: BaseException | None = None
        lock.release()
        try:
            try:
                count = self._transport.recv_into(self._view, timeout)
            except OSError as exc:  # reset, TLS failure, closed under us
                failure = exc
        finally:
            lock.acquire()
            self._reading = False
            self._last_read = monotonic()
            try:
                if self._close_when_read:
                    self._close_socket_locked()
                elif core.error is not None:
                    pass  # failed while we were reading (close(), a writer)
                elif failure is not None or count == 0:
                    core.lost(failure)
                elif count > 0:
                    core.receive_data(self._view[:count])
                self._queue_output()
            finally:
                self._wake()
                if not awaiting and self._baton is not None:
                    self._pass_if_held()
        if self._outq or core.wants_teardown:
            lock.release()
            try:
                self._after()
            finally:
                lock.acquire()

    def _slot_freed(self) -> None:
        """
        A local action (our END_STREAM, our RST_STREAM) freed a stream slot.
        Threads waiting for one (each on its ``_Waiter``) are woken; but one may be
        the reader, blocked in recv for as long as the server stays silent,
        and only input wakes that one: a PING makes the server send some.
        """
        core = self.core
        core.slot_freed = False
        self._wake_all()
        if self._slot_waiters and self._reading:
            core.wake_ping()
            data = core.data_to_send()
            if data:
                self._outq.append(data)

    # ------------------------------------------------------------------
    # Writing

    def _after(self) -> None:
        """After an operation, with no lock held: write what it queued, and
        close the socket if the connection ended meanwhile."""
        if self._outq:
            self._flush(block=False)
        if self.core.wants_teardown:
            self._teardown()

    def _queue_output(self) -> None:
        """Move what the core queued to ``_outq``; wake whoever a freed slot
        or the connection's end concerns. Called with ``lock`` held."""
        core = self.core
        data = core.data_to_send()
        if data:
            self._outq.append(data)
        if core.slot_freed:
            self._slot_freed()
        elif core.wants_teardown:
            self._wake_all()

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
                    failure = self._transport.write_all(data, self.read_timeout)
            except BaseException as exc:
                # Interrupted (KeyboardInterrupt, say), perhaps mid-frame: the
                # byte stream can no longer be trusted, so the connection ends.
                lock.release()
                self._lost(exc)
                self._teardown()
                raise
            lock.release()
            if failure is not None:
                self._lost(failure)
                self._teardown()
                return

    def _lost(self, cause: BaseException) -> None:
        with self.lock:
            self.core.lost(cause)
            self._queue_output()

    # ------------------------------------------------------------------
    # Teardown

    def _teardown(self) -> None:
        """Write what is queued (GOAWAY) if the socket takes it quickly, then
        close the socket. Call without holding any lock."""
        with self.lock:
            if self._torn_down:
                return
            self._torn_down = True
        got = self._write_lock.acquire(timeout=_CLOSE_TIMEOUT)
        try:
            if got:
                queue = self._outq
                if queue and not self._sock_closed:
                    self._transport.write_all(b"".join(queue), self.read_timeout)
                queue.clear()
            # Wakes a reader and a writer waiting on the socket.
            self._transport.shutdown()
            if not got:
                self._write_lock.acquire()
                got = True
            with self.lock:
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
            self._transport.close()
            # A retired session may linger until its streams are read: it
            # needs its receive buffer no more.
            self._buf = bytearray()
            self._view = memoryview(self._buf)

    def __repr__(self) -> str:
        state = "failed" if self.core.error is not None else "open"
        return f"<Session {state} streams={len(self.core.streams)}>"
