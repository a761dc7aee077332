"""
The asyncio driver: one HTTP/2 connection's bytes between an asyncio
transport and a sans-IO core, and the waiting. It decides no protocol
policy and builds no frame: the core (typed by
:class:`~hyper.core.interface.DrivenCore`) does both.

:class:`AsyncH2Driver` serves either role; :class:`ClientDriver` (over
:class:`~hyper.core.client_side.ClientSide`) adds ALPN, opening streams and
waiting for responses and pushes; :class:`ServerDriver` (over
:class:`~hyper.core.server.ServerCore`) adds the server's connection cap and
the h2c upgrade. Front ends (``hyper.aio``) use the public names only.

Waiting: a coroutine that needs something parks a future on its stream's
buffer (``StreamBuffer.waiter``) and, when a connection-wide change could
help it (window, a free slot, transport resumed), in the connection's
list. After every read the driver wakes the waiters of the streams the
core touched, and the connection's list when the core says something
connection-wide changed. Woken coroutines re-check the core; nothing is
ever polled.

Writes are coalesced: a call queues frames in the engine and schedules one
flush for the end of the loop iteration, so a burst of responses leaves in
one ``transport.write``. While the transport's buffer is above its
high-water mark, writers wait and the driver stops reading, so a peer
that does not read cannot make us buffer without bound (CVE-2019-9517;
grpc-go #2970).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, cast

from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.common.types import Buffer
from hyper.core.client_side import ClientSide
from hyper.core.interface import DrivenCore
from hyper.core.server import ServerCore, ServerLimits
from hyper.core.streams import StreamBuffer, clone_error
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import ConnectionError as H2ConnectionError
from hyper.engine.window import BaseFlowControlManager, FlowControlManager
from hyper.tls import NPN_PROTOCOL

__all__ = ["Admission", "AsyncH2Driver", "ClientDriver", "ServerDriver", "reset"]

CoreT = TypeVar("CoreT", bound="DrivenCore[Any]")
Clock = Callable[[], float]

# The most body one send_body step hands the engine before it lets the
# transport say whether it is full: bounds what a peer that does not read
# can make us buffer (CVE-2019-9517), in large enough steps to stay cheap.
_SEND_STEP = 256 * 1024
# struct linger {l_onoff = 1, l_linger = 0}: close() sends RST, keeps nothing.
_LINGER_RESET = struct.pack("ii", 1, 0)


def reset(transport: asyncio.Transport) -> None:
    """
    Drop a connection whose peer reads nothing: abort with a TCP reset
    (SO_LINGER 0). A plain close would leave the kernel holding, and
    retrying, a full send buffer (megabytes) for a client that takes nothing.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        except OSError:  # pragma: no cover - not TCP, or gone already
            pass
    transport.abort()


class Admission(Protocol):
    """A server's cap on its live connections, shared by its drivers."""

    def admit(self, connection: object) -> bool:
        """Count ``connection`` in; False when the cap is reached."""

    def release(self, connection: object) -> None:
        """``connection`` is gone."""


class AsyncH2Driver(asyncio.Protocol, Generic[CoreT]):
    """
    One HTTP/2 connection on asyncio, over the core ``make_core(clock)``
    builds (the clock is the loop's time).

    The core and :attr:`loop` are made together: at construction inside a
    running loop (or with ``loop``), else in :meth:`connection_made`.

    Public surface: the ``asyncio.Protocol`` callbacks; writing
    (:meth:`flush`, :meth:`schedule_flush`, :meth:`send_body`,
    :meth:`send_room`, :meth:`wait_send_room`); waiting
    (:meth:`waiter`, :meth:`wait`, :meth:`incoming_waiter`,
    :meth:`writable`) and waking (:meth:`wake_stream`); the core's timers
    (:meth:`arm_timer`); :meth:`ping`; closing (:meth:`close_gracefully`,
    :meth:`close_now`, :meth:`wait_closed`); the state
    (:attr:`core`, :attr:`loop`, :attr:`last_active`, :attr:`is_lost`,
    :attr:`is_finished`, :attr:`alpn_problem`); and
    :meth:`call_when_connected`.

    :param make_core: builds the core from a clock.
    :param loop: the event loop; default: the running one, if any.
    """

    #: The event loop.
    loop: asyncio.AbstractEventLoop
    #: The sans-IO core this driver moves bytes for.
    core: CoreT

    def __init__(
        self,
        make_core: Callable[[Clock], CoreT],
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._make_core = make_core
        self._attached = False
        #: Loop time of the last bytes received (read-only outside the driver).
        self.last_active = 0.0
        self._transport: asyncio.Transport | None = None
        # Streams with a coroutine parked on them (``stream.waiter``, a list
        # of futures), so a lost connection wakes every one of them.
        self._waiting: set[StreamBuffer] = set()
        self._conn_waiters: list[asyncio.Future[None]] = []
        self._incoming_waiters: list[asyncio.Future[None]] = []
        self._flush_scheduled = False
        self._unflushed = 0
        self._paused = False
        self._reading_paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._lost = False
        self._closed_waiters: list[asyncio.Future[None]] = []
        self._alpn_problem: str | None = None
        self._on_connected: Callable[[], object] | None = None
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        if loop is not None:
            self._attach(loop)

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.core = self._make_core(loop.time)
        self._attached = True

    def call_when_connected(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once the connection is up (not if it is turned away)."""
        self._on_connected = callback

    # ------------------------------------------------------------------
    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        if not self._attached:
            self._attach(asyncio.get_running_loop())
        self.last_active = self.loop.time()
        if not self._begin(transport):
            return
        self.flush()
        self.arm_timer()
        callback = self._on_connected
        if callback is not None:
            self._on_connected = None
            callback()

    def _begin(self, transport: asyncio.BaseTransport) -> bool:
        """Start the core; False if the connection was turned away instead."""
        self.core.start()
        return True

    def data_received(self, data: bytes) -> None:
        core = self.core
        core.receive_data(data)
        self.last_active = self.loop.time()
        self._wake()
        self.flush()
        if core.wants_teardown:
            self._teardown()

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost fails everything

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        core = self.core
        core.lost(exc)
        self._wake()
        for stream in list(core.streams.values()):
            self.wake_stream(stream)
        self._wake_all()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None
        self._wake_list(self._closed_waiters)
        self._closed_waiters = []

    def pause_writing(self) -> None:
        self._paused = True
        transport = self._transport
        if transport is not None and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        transport = self._transport
        if transport is not None and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        self._wake_conn()

    # ------------------------------------------------------------------
    # Moving bytes

    def flush(self) -> None:
        """Write what the core has queued, now."""
        self._flush_scheduled = False
        self._unflushed = 0
        data = self.core.data_to_send()
        transport = self._transport
        if data and transport is not None and not self._lost:
            transport.write(data)

    def schedule_flush(self) -> None:
        """Flush at the end of this loop iteration (one write for a burst of calls)."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._after_call)

    def _after_call(self) -> None:
        self.flush()
        self._wake()
        if self.core.wants_teardown:
            self._teardown()

    def _teardown(self) -> None:
        self.flush()
        transport = self._transport
        if transport is not None:
            transport.close()

    def send_room(self, stream: StreamBuffer) -> int:
        """
        Body bytes ``stream`` could hand the engine now without waiting: its
        send window while the transport takes more, 0 while it must wait
        (no window, or the transport is full), -1 once it can no longer send.
        """
        window = self.core.send_window(stream)
        if window > 0 and self._paused:
            return 0
        return window

    async def wait_send_room(self, stream: StreamBuffer, timeout: float | None = None) -> int:
        """
        Wait until :meth:`send_room` is not 0 and return it, at most
        ``timeout`` seconds in all, however much other news wakes it (a
        transport that stays full is the core's send timeout).

        :raises hyper.common.exceptions.TimeoutError: no room within ``timeout``.
        """
        loop = self.loop
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._paused:
                await self.writable()
            room = self.send_room(stream)
            if room:
                return room
            left = None
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    raise HyperTimeoutError(f"no flow-control window within {timeout} s")
            await self.wait(stream, True, left)

    async def send_body(
        self,
        stream: StreamBuffer,
        data: Buffer,
        end_stream: bool,
        timeout: float | None,
        sent: list[int],
    ) -> bool:
        """
        Queue ``data`` on ``stream`` in steps as the windows and the
        transport allow, counting progress in ``sent[0]`` (what went before a
        failure or a cancel). ``timeout`` bounds each wait.

        :returns: False when the peer already answered in full and wants no
            more (RFC 9113 8.1).
        :raises StreamResetError: the stream was reset.
        :raises ConnectionError: the connection failed.
        :raises hyper.common.exceptions.TimeoutError: a wait took longer.
        """
        core = self.core
        total = len(data)
        offset = 0
        view: memoryview | None = None
        while True:
            if self._paused:
                await self.writable(timeout)
            if offset < total and core.send_window(stream) == 0:
                await self.wait(stream, True, timeout)
                continue
            if offset == 0 and total <= _SEND_STEP:
                chunk: Buffer = data
            else:
                if view is None:
                    view = memoryview(data)
                chunk = view[offset : offset + _SEND_STEP]
            last = offset + len(chunk) >= total
            taken = core.send_data(stream, chunk, end_stream and last)
            if taken is None:
                self.schedule_flush()
                return False
            offset += taken
            sent[0] = offset
            self._unflushed += taken
            if offset >= total:
                if self._unflushed >= _SEND_STEP:
                    # A caller looping over send_body never yields while the
                    # windows allow: write now, so a full transport pauses the
                    # next call instead of the engine queueing the whole body.
                    self.flush()
                else:
                    self.schedule_flush()
                return True
            # Written now, so a full transport pauses us before the next step.
            self.flush()

    # ------------------------------------------------------------------
    # Waiting and waking

    def waiter(
        self, stream: StreamBuffer | None = None, conn: bool = False
    ) -> asyncio.Future[None]:
        """
        A future done at the next news on ``stream`` and, with ``conn``, on
        the connection (window, settings, a free slot, the transport
        resumed, failure). The caller re-checks the core when it is done.
        """
        future: asyncio.Future[None] = self.loop.create_future()
        if stream is not None:
            waiters = stream.waiter
            if waiters is None:
                stream.waiter = [future]
                self._waiting.add(stream)
            else:
                cast(list[asyncio.Future[None]], waiters).append(future)
        if conn:
            self._conn_waiters.append(future)
        return future

    async def wait(
        self, stream: StreamBuffer | None = None, conn: bool = False, timeout: float | None = None
    ) -> None:
        """
        Wait for news, as :meth:`waiter`, at most ``timeout`` seconds.

        :raises hyper.common.exceptions.TimeoutError: nothing came in time.
        """
        future = self.waiter(stream, conn)
        if timeout is None:
            await future
            return
        # A timer that fails the future, rather than asyncio.wait_for: no
        # second future, no cancellation (about half the cost per wait).
        timer = self.loop.call_later(timeout, _expire, future, timeout)
        try:
            await future
        finally:
            timer.cancel()

    def incoming_waiter(self) -> asyncio.Future[None]:
        """A future done once the core has a stream the peer opened
        (``has_incoming``) or failed."""
        future: asyncio.Future[None] = self.loop.create_future()
        self._incoming_waiters.append(future)
        return future

    async def writable(self, timeout: float | None = None) -> None:
        """Wait while the transport's buffer is full (backpressure)."""
        while self._paused and not self._lost:
            await self.wait(None, True, timeout)

    def wake_stream(self, stream: StreamBuffer) -> None:
        """Wake every coroutine waiting on ``stream``."""
        futures = stream.waiter
        if futures is not None:
            stream.waiter = None
            self._waiting.discard(stream)
            self._wake_list(cast(list[asyncio.Future[None]], futures))

    def _wake(self) -> None:
        core = self.core
        touched = core.touched
        if touched:
            for stream in touched:
                if stream.waiter is not None:
                    self.wake_stream(stream)
            touched.clear()
        if core.conn_changed:
            core.conn_changed = False
            self._wake_conn()
        if self._incoming_waiters and (core.error is not None or core.has_incoming):
            self._wake_list(self._incoming_waiters)
            self._incoming_waiters = []

    def _wake_conn(self) -> None:
        if self._conn_waiters:
            waiters, self._conn_waiters = self._conn_waiters, []
            self._wake_list(waiters)

    @staticmethod
    def _wake_list(futures: list[asyncio.Future[None]]) -> None:
        for future in futures:
            if not future.done():
                future.set_result(None)

    def _wake_all(self) -> None:
        for stream in list(self._waiting):
            self.wake_stream(stream)
        self._wake_conn()
        self._wake_list(self._incoming_waiters)
        self._incoming_waiters = []

    # ------------------------------------------------------------------
    # Timers (the core decides; the driver only schedules)

    def arm_timer(self) -> None:
        """Schedule the core's next deadline (after a call that may have set one)."""
        deadline = self.core.next_deadline()
        if deadline is None:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        core = self.core
        core.check_timers()
        self._wake()
        self.flush()
        if core.wants_teardown:
            self._teardown()
        else:
            self.arm_timer()

    # ------------------------------------------------------------------
    # The connection

    async def ping(self, data: bytes, timeout: float | None = None) -> float:
        """
        Send a PING with ``data`` (8 bytes) and wait for its ACK; the
        round-trip time in seconds. ``timeout`` bounds each wait.

        :raises ConnectionError: the connection failed.
        :raises hyper.common.exceptions.TimeoutError: no news in time.
        """
        core = self.core
        loop = self.loop
        core.ping(data)
        sent = loop.time()
        self.schedule_flush()
        try:
            while not core.ping_acked(data):
                error = core.error
                if error is not None:
                    raise clone_error(error)
                await self.wait(None, True, timeout)
        finally:
            core.forget_ping(data)
        return loop.time() - sent

    def close_gracefully(self) -> None:
        """GOAWAY; the open streams finish, then the transport closes."""
        if self._lost:
            return
        self.core.close_gracefully()
        self._after_call()
        self.arm_timer()

    def close_now(
        self, error_code: int = ErrorCodes.NO_ERROR, error: BaseException | None = None
    ) -> None:
        """
        Close at once: GOAWAY(``error_code``), every waiter on this side
        fails (with ``error``, or the core's default), the transport closes.
        """
        if self._lost:
            return
        core = self.core
        streams = list(core.streams.values())  # a server core forgets them on failure
        core.close(error_code, error)
        self._wake()
        for stream in streams:
            self.wake_stream(stream)
        self._wake_all()
        self._teardown()

    async def wait_closed(self) -> None:
        """Return once the transport is gone (``connection_lost``)."""
        if self._lost:
            return
        future: asyncio.Future[None] = self.loop.create_future()
        self._closed_waiters.append(future)
        await future

    @property
    def is_lost(self) -> bool:
        """The transport is gone."""
        return self._lost

    @property
    def is_finished(self) -> bool:
        """The connection ended and no stream is left on it."""
        return self._attached and self.core.is_finished

    @property
    def alpn_problem(self) -> str | None:
        """Why the connection cannot speak HTTP/2 (ALPN), if it cannot."""
        return self._alpn_problem


class ClientDriver(AsyncH2Driver[ClientSide]):
    """
    The client's driver. Over TLS, a server that does not choose ``h2`` by
    ALPN fails the connection (:attr:`alpn_problem` says why).

    :param concurrency: our MAX_CONCURRENT_STREAMS (pushes at once).
    :param enable_push: accept server push.
    :param window_manager: the :class:`BaseFlowControlManager` subclass
        (default :class:`FlowControlManager`).
    :param first_stream_id: the first stream id to use.
    """

    def __init__(
        self,
        concurrency: int,
        *,
        enable_push: bool = False,
        window_manager: type[BaseFlowControlManager] | None = None,
        first_stream_id: int = 1,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        manager = window_manager or FlowControlManager

        def make_core(clock: Clock) -> ClientSide:
            return ClientSide(
                concurrency,
                clock,
                enable_push=enable_push,
                window_manager=manager,
                first_stream_id=first_stream_id,
            )

        super().__init__(make_core, loop=loop)

    def _begin(self, transport: asyncio.BaseTransport) -> bool:
        tls = transport.get_extra_info("ssl_object")
        chosen = tls.selected_alpn_protocol() if tls is not None else NPN_PROTOCOL
        if chosen != NPN_PROTOCOL:
            what = f"ALPN chose {chosen!r}" if chosen else "no protocol agreed by ALPN"
            problem = f"the server did not agree to HTTP/2 ({what}, not 'h2')"
            self._alpn_problem = problem
            self.core.fail(H2ConnectionError(problem))
            transport.close()
            return False
        self.core.start()
        return True

    @property
    def is_usable(self) -> bool:
        """New streams may be opened on this connection."""
        return not self._lost and self._attached and self.core.is_usable

    @property
    def next_stream_id(self) -> int:
        """The id the next stream opened here would get."""
        return self.core.next_stream_id

    @property
    def is_reused(self) -> bool:
        """A request went out on this connection before."""
        return self.core.is_reused

    def why_unusable(self) -> BaseException | None:
        """Why no new stream may be opened here (see ClientCore.why_unusable)."""
        if not self._attached:
            return None
        why = self.core.why_unusable()
        if why is None and self._lost:
            why = self.core.error
        return why

    def find(self, stream_id: int) -> StreamBuffer | None:
        """The buffer of the stream the application knows as ``stream_id``."""
        return self.core.find(stream_id)

    async def open_stream(
        self,
        fields: list[tuple[Any, Any]],
        end_stream: bool,
        data: Buffer | None = None,
        data_ends: bool = False,
        timeout: float | None = None,
        stream_id: int | None = None,
    ) -> tuple[StreamBuffer, int] | None:
        """
        Open a stream once a slot is free under the server's
        MAX_CONCURRENT_STREAMS (:meth:`ClientSide.open_stream`'s arguments).

        :returns: the stream and how much of ``data`` went, or None when this
            connection takes no more streams (GOAWAY, failure:
            :meth:`why_unusable`).
        :raises hyper.common.exceptions.TimeoutError: no slot within ``timeout``.
        """
        core = self.core
        while True:
            if self._paused:
                await self.writable(timeout)
            if not core.is_usable:
                return None  # failed, or GOAWAY: the front end's retry rule decides
            if core.can_open_stream():
                break
            await self.wait(None, True, timeout)
        opened = core.open_stream(fields, end_stream, data, data_ends, stream_id)
        if opened is not None:
            self.schedule_flush()
        return opened

    async def wait_handshake(self, timeout: float | None = None) -> None:
        """
        Wait until the server's SETTINGS have arrived and it acknowledged
        ours (:attr:`ClientCore.is_handshake_done`), at most ``timeout``
        seconds in all. Without one the ACK is waited for at most the
        engine's ``settings_timeout``: then the connection fails with
        SETTINGS_TIMEOUT (RFC 9113 6.5.3) rather than hang.

        :raises hyper.common.exceptions.TimeoutError: not within ``timeout``.
        :raises ConnectionError: the connection failed first.
        """
        core = self.core
        loop = self.loop
        deadline = None if timeout is None else loop.time() + timeout
        ack_limit = core.engine.config.settings_timeout
        ack_deadline: float | None = None
        while not core.is_handshake_done:
            core.raise_if_failed()
            now = loop.time()
            if core.settings_seen and ack_deadline is None and ack_limit is not None:
                ack_deadline = now + ack_limit
            wait_until = deadline
            if deadline is None and ack_deadline is not None:
                wait_until = ack_deadline
            remaining = None if wait_until is None else max(0.0, wait_until - now)
            try:
                await self.wait(None, True, remaining)
            except HyperTimeoutError:
                if deadline is None:
                    core.check_settings_ack()
                    self._after_call()  # the GOAWAY out, the transport closed
                    core.raise_if_failed()
                    what = f"the server's ACK of our SETTINGS within {ack_limit} s"
                else:
                    what = f"the server's SETTINGS and its ACK of ours within {timeout} s"
                raise HyperTimeoutError(f"timed out waiting for {what}") from None

    async def wait_response(self, stream: StreamBuffer, timeout: float | None = None) -> None:
        """
        Wait for the stream's final response headers.

        :raises StreamResetError: the stream failed first (``StreamRefusedError``:
            not processed, safe to retry).
        :raises hyper.common.exceptions.TimeoutError: no news within ``timeout``.
        """
        core = self.core
        while not core.response_ready(stream):
            await self.wait(stream, False, timeout)
        try:
            core.check_response(stream)
        except BaseException:
            # The failed stream is forgotten: after a GOAWAY it may have been
            # the last one, and the connection is to be closed now.
            self.schedule_flush()
            raise

    async def wait_pushes(self, stream: StreamBuffer, timeout: float | None = None) -> None:
        """Wait until a promise not taken yet arrived on ``stream``, or none can come."""
        core = self.core
        while not core.pushes_ready(stream):
            await self.wait(stream, False, timeout)
        self.schedule_flush()  # pushes_ready may give window back



class ServerDriver(AsyncH2Driver[ServerCore]):
    """
    The server's driver.

    :param concurrency: requests served at once (MAX_CONCURRENT_STREAMS).
    :param limits: the server's :class:`ServerLimits`.
    :param window_manager: the :class:`BaseFlowControlManager` subclass
        (default :class:`FlowControlManager`).

    A transport that stays full for ``limits.send_timeout`` seconds (the
    client reads nothing) is aborted: a close would wait for it forever.
    """

    def __init__(
        self,
        concurrency: int,
        limits: ServerLimits,
        *,
        window_manager: type[BaseFlowControlManager] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        manager = window_manager or FlowControlManager

        def make_core(clock: Clock) -> ServerCore:
            return ServerCore(concurrency, limits, clock, window_manager=manager)

        self._admission: Admission | None = None
        self._upgrade: tuple[bytes, list[tuple[bytes, bytes]]] | None = None
        super().__init__(make_core, loop=loop)

    def set_admission(self, admission: Admission) -> None:
        """Count this connection against ``admission`` once it is made; over
        the cap, it gets GOAWAY and is closed."""
        self._admission = admission

    def pause_writing(self) -> None:
        super().pause_writing()
        self.core.write_blocked(True)
        self.arm_timer()

    def resume_writing(self) -> None:
        self.core.write_blocked(False)
        super().resume_writing()

    def _teardown(self) -> None:
        transport = self._transport
        if self.core.wants_abort and transport is not None:
            reset(transport)
            return
        super()._teardown()

    def accept_upgrade(self, settings_header: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        """
        Serve a connection that an HTTP/1.1 ``Upgrade: h2c`` request switched
        to HTTP/2: ``settings_header`` is its ``HTTP2-Settings``, ``headers``
        the request, stream 1. Call before :meth:`connection_made`.
        """
        self._upgrade = (settings_header, headers)

    def _begin(self, transport: asyncio.BaseTransport) -> bool:
        admission = self._admission
        if admission is not None and not admission.admit(self):
            self._admission = None
            self.core.refuse_connection()
            self._teardown()
            return False
        if self._upgrade is not None:
            self.core.start_upgraded(*self._upgrade)
        else:
            self.core.start()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._admission is not None:
            self._admission.release(self)
            self._admission = None


def _expire(future: asyncio.Future[None], timeout: float) -> None:
    """A wait's timer ran out: fail the future it waits on."""
    if not future.done():
        future.set_exception(HyperTimeoutError(f"nothing arrived within {timeout} s"))
