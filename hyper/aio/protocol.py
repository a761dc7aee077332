"""
:class:`H2Protocol`: the asyncio driver, with aioh2's API.

The driver moves bytes between the transport and a sans-IO core
(:class:`hyper.aio._server_core.ServerCore` for a server,
:class:`hyper.aio._client_side.ClientSide` over the shared client core for a
client) and waits; it decides no protocol policy and builds no frame.

Waiting: a coroutine that needs something parks a future under its stream
id and, when a connection-wide change could help it (window, a free slot,
transport resumed), in the connection's list. After every read the driver
wakes the waiters of the streams the core touched, and the connection's
list when the core says something connection-wide changed. Woken
coroutines re-check the core; nothing is ever polled.

Writes are coalesced: a call queues frames in the engine and schedules one
flush for the end of the loop iteration, so a burst of responses leaves in
one ``transport.write``. While the transport's buffer is above its
high-water mark, writers wait and the driver stops reading, so a client
that does not read cannot make us buffer without bound (CVE-2019-9517;
grpc-go #2970).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Union, cast

from hyper.aio._server_core import Request, ServerCore, ServerLimits
from hyper.aio.exceptions import SendException
from hyper.common.exceptions import HyperError
from hyper.http20.config import SettingCodes
from hyper.http20.errors import ErrorCodes
from hyper.http20.exceptions import ConnectionError as H2ConnectionError
from hyper.http20.exceptions import StreamResetError
from hyper.tls import NPN_PROTOCOL

_Str = Union[str, bytes]
HeadersArg = Union[Mapping[_Str, _Str], Iterable[tuple[_Str, _Str]]]
Headers = list[tuple[str, str]]

_PING = struct.Struct("!Q")


def headers_in(headers: HeadersArg) -> Iterable[tuple[_Str, _Str]]:
    """A dict or a list of pairs, as the engine takes them."""
    if isinstance(headers, Mapping):
        return list(headers.items())
    return headers


def headers_out(block: Iterable[tuple[bytes, bytes]] | None) -> Headers:
    """Decoded fields as ``(str, str)`` pairs (UTF-8; other bytes survive as
    surrogate escapes)."""
    if not block:
        return []
    return [
        (n.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape"))
        for n, v in block
    ]


class H2Protocol(asyncio.Protocol):
    """
    One HTTP/2 connection, client or server side, as an ``asyncio.Protocol``.

    :param client_side: True for a client, False for a server.
    :param concurrency: (server) requests served at once: advertised as
        MAX_CONCURRENT_STREAMS, and extra streams are refused with
        REFUSED_STREAM. (client) also our advertised limit for pushes.
    :param functional_timeout: seconds of silence after which
        :meth:`wait_functional` sends a PING.
    :param limits: (server) :class:`~hyper.aio.ServerLimits`.
    """

    def __init__(
        self,
        client_side: bool,
        *,
        concurrency: int = 8,
        functional_timeout: float = 2,
        limits: ServerLimits | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.client_side = client_side
        self._concurrency = concurrency
        self._functional_timeout = functional_timeout
        self._limits = limits if limits is not None else ServerLimits()
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._loop: asyncio.AbstractEventLoop | None = loop
        self._core: Any = None
        self._transport: asyncio.Transport | None = None
        self._stream_waiters: dict[int, list[asyncio.Future[None]]] = {}
        self._conn_waiters: list[asyncio.Future[None]] = []
        self._request_waiters: list[asyncio.Future[None]] = []
        self._flush_scheduled = False
        self._paused = False
        self._reading_paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._handler: asyncio.Future[Any] | None = None
        self._last_active = 0.0
        self._ping_index = 0
        self._ping_sent = 0.0
        self._rtt: float | None = None
        #: (server) the server's connection cap and connected callback.
        self._server_slot: Any = None
        self._on_connected: Callable[[H2Protocol], Any] | None = None
        #: (client) why the connection cannot speak HTTP/2 (ALPN), if it cannot.
        self._alpn_problem: str | None = None
        self._lost = False
        if loop is not None:
            self._make_core(loop)

    def _make_core(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._core is not None:
            return
        if self.client_side:
            from hyper.aio._client_side import ClientSide

            self._core = ClientSide(self._concurrency, loop.time)
        else:
            self._core = ServerCore(self._concurrency, self._limits, loop.time)

    # ------------------------------------------------------------------
    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            self._make_core(loop)
        self._last_active = loop.time()
        core = self._core
        slot = self._server_slot
        if slot is not None and not slot.admit(self):
            self._server_slot = None
            core.refuse_connection()
            self._teardown()
            return
        if self.client_side:
            tls = transport.get_extra_info("ssl_object")
            chosen = tls.selected_alpn_protocol() if tls is not None else NPN_PROTOCOL
            if chosen != NPN_PROTOCOL:
                self._alpn_problem = (
                    f"the server did not agree to HTTP/2 (ALPN chose {chosen!r}, not 'h2')"
                )
                core.lost(None)
                self._transport.close()
                return
        core.start()
        self._flush()
        self._arm_timer()
        callback = self._on_connected
        if callback is not None:
            self._on_connected = None
            self.set_handler(callback(self))

    def data_received(self, data: bytes) -> None:
        core = self._core
        core.receive_data(data)
        self._last_active = self._loop.time()  # type: ignore[union-attr]
        self._wake()
        self._flush()
        if core.wants_teardown:
            self._teardown()

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost fails everything

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        core = self._core
        core.lost(exc)
        self._wake()
        self._wake_all()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._handler is not None and not self._handler.done():
            self._handler.cancel()
        if self._server_slot is not None:
            self._server_slot.release(self)
            self._server_slot = None
        self._transport = None

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
    # Moving bytes and waking

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self._core.data_to_send()
        transport = self._transport
        if data and transport is not None and not self._lost:
            transport.write(data)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._after_call)  # type: ignore[union-attr]

    def _after_call(self) -> None:
        self._flush()
        self._wake()
        if self._core.wants_teardown:
            self._teardown()

    def _teardown(self) -> None:
        self._flush()
        transport = self._transport
        if transport is not None:
            transport.close()

    def _wait(self, stream_id: int | None, conn: bool = False) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self._loop.create_future()  # type: ignore[union-attr]
        if stream_id is not None:
            waiters = self._stream_waiters.get(stream_id)
            if waiters is None:
                self._stream_waiters[stream_id] = [future]
            else:
                waiters.append(future)
        if conn:
            self._conn_waiters.append(future)
        return future

    def _wake(self) -> None:
        core = self._core
        touched = core.touched
        if touched:
            waiters = self._stream_waiters
            for stream_id in touched:
                futures = waiters.pop(stream_id, None)
                if futures is not None:
                    for future in futures:
                        if not future.done():
                            future.set_result(None)
            touched.clear()
        if core.conn_changed:
            core.conn_changed = False
            self._wake_conn()
        if self._request_waiters and (core.requests or core.error is not None):
            self._wake_list(self._request_waiters)
            self._request_waiters = []

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
        for futures in self._stream_waiters.values():
            self._wake_list(futures)
        self._stream_waiters.clear()
        self._wake_conn()
        self._wake_list(self._request_waiters)
        self._request_waiters = []

    async def _writable(self) -> None:
        while self._paused and not self._lost:
            await self._wait(None, conn=True)

    # ------------------------------------------------------------------
    # Timers (the core decides; the driver only schedules)

    def _arm_timer(self) -> None:
        deadline = self._core.next_deadline()
        if deadline is None:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)  # type: ignore[union-attr]

    def _on_timer(self) -> None:
        self._timer = None
        core = self._core
        core.check_timers()
        self._wake()
        self._flush()
        if core.wants_teardown:
            self._teardown()
        else:
            self._arm_timer()

    # ------------------------------------------------------------------
    # The handler (server)

    def set_handler(self, handler: Awaitable[Any] | None) -> None:
        """
        Run ``handler`` (a coroutine, task or future) as this connection's
        handler; it is cancelled when the connection is lost. When it ends,
        requests it never took are refused (safe to retry) and the
        connection closes gracefully.
        """
        if self._handler is not None:
            raise RuntimeError("a handler is already set")
        if handler is None:
            return
        future = asyncio.ensure_future(handler)
        self._handler = future
        future.add_done_callback(self._handler_done)

    def _handler_done(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled():
            exc = future.exception()
            if exc is not None and not isinstance(exc, (HyperError, OSError)):
                future.get_loop().call_exception_handler(
                    {"message": "hyper.aio handler failed", "exception": exc, "protocol": self}
                )
        if self._lost or self.client_side:
            return
        self._core.abandon_unclaimed()
        self.close_connection()

    # ------------------------------------------------------------------
    # Streams, both sides

    def _stream(self, stream_id: int) -> Request:
        return self._core.get(stream_id)  # type: ignore[no-any-return]

    async def send_data(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        """
        Send body bytes, waiting on flow control and on a full transport
        buffer. Cancelling it leaves nothing of the rest queued. Returning
        means queued for the transport, not delivered.

        :raises SendException: the stream was reset or the connection lost;
            ``data`` holds the bytes not sent.
        """
        core = self._core
        stream = self._stream(stream_id)
        total = len(data)
        offset = 0
        view: memoryview | None = None
        try:
            while True:
                if self._paused:
                    await self._writable()
                remaining = total - offset
                if remaining and core.send_window(stream) == 0:
                    await self._wait(stream_id, conn=True)
                    continue
                if offset == 0:
                    chunk: bytes | memoryview = data
                else:
                    if view is None:
                        view = memoryview(data)
                    chunk = view[offset:]
                taken = core.send_data(stream, chunk, end_stream)
                self._schedule_flush()
                if taken is None:
                    return  # the peer already answered in full: the rest is unwanted
                offset += taken
                if offset >= total:
                    return
        except (StreamResetError, H2ConnectionError) as exc:
            raise SendException(bytes(data[offset:])) from exc

    async def send_trailers(self, stream_id: int, headers: HeadersArg) -> None:
        """Send trailers, ending our side of the stream."""
        stream = self._stream(stream_id)
        await self._writable()
        self._core.send_trailers(stream, headers_in(headers))
        self._schedule_flush()

    async def end_stream(self, stream_id: int) -> None:
        """End our side of the stream (an empty DATA frame)."""
        stream = self._stream(stream_id)
        await self._writable()
        self._core.send_data(stream, b"", True)
        self._schedule_flush()

    def reset_stream(self, stream_id: int, error_code: int = ErrorCodes.NO_ERROR) -> None:
        """Reset the stream (RST_STREAM with ``error_code``)."""
        stream = self._core.streams.get(stream_id)
        if stream is None:
            return
        self._core.reset(stream, error_code)
        self._schedule_flush()
        self._wake_stream(stream_id)

    def _wake_stream(self, stream_id: int) -> None:
        futures = self._stream_waiters.pop(stream_id, None)
        if futures:
            self._wake_list(futures)

    async def _body_ready(self, stream_id: int, stream: Request) -> None:
        core = self._core
        while not core.body_ready(stream):
            await self._wait(stream_id)

    async def read_stream(self, stream_id: int, size: int | None = None) -> bytes:
        """
        Read body bytes. ``size=None``: the next DATA frame's payload;
        ``-1``: everything until the stream ends; ``n > 0``: exactly ``n``
        bytes, fewer only at the end; ``0``: ``b''``. ``b''`` means the
        stream has ended. Window is given back as bytes are read.

        :raises StreamResetError: the stream was reset.
        :raises ConnectionError: the connection failed or was lost.
        """
        if size == 0:
            return b""
        core = self._core
        stream = self._stream(stream_id)
        if size is None:
            await self._body_ready(stream_id, stream)
            limit = len(stream.chunks[0]) - stream.offset if stream.chunks else None
            chunks = core.read(stream, limit)
            if chunks:
                self._schedule_flush()
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            return b""
        parts: list[bytes] = []
        want = size if size > 0 else None
        while want is None or want > 0:
            await self._body_ready(stream_id, stream)
            chunks = core.read(stream, want)
            if not chunks:
                break
            self._schedule_flush()
            parts.extend(chunks)
            if want is not None:
                want -= len(chunks[0]) if len(chunks) == 1 else sum(map(len, chunks))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # ------------------------------------------------------------------
    # Server side

    async def recv_request(self) -> tuple[int, Headers]:
        """
        Wait for the next request: ``(stream_id, headers)``.

        :raises ConnectionError: the connection failed or was lost.
        """
        core = self._core
        while True:
            request = core.next_request()
            if request is not None:
                return request.stream_id, headers_out(request.headers)
            future = self._loop.create_future()  # type: ignore[union-attr]
            self._request_waiters.append(future)
            await future

    async def start_response(
        self, stream_id: int, headers: HeadersArg, *, end_stream: bool = False
    ) -> None:
        """Send response headers (a 1xx response too) on ``stream_id``."""
        core = self._core
        stream = self._stream(stream_id)
        await self._writable()
        while stream.pushed and not core.can_start_push():
            await self._wait(stream_id, conn=True)
            core.get(stream_id)
        core.send_headers(stream, headers_in(headers), end_stream)
        self._schedule_flush()

    def push(self, stream_id: int, headers: HeadersArg) -> int:
        """
        Promise a pushed response on ``stream_id`` (the request it answers in
        ``headers``); answer it with :meth:`start_response` and
        :meth:`send_data` on the returned stream id.

        :raises LocalProtocolError: the client disabled push.
        """
        pushed = self._core.push(self._stream(stream_id), headers_in(headers))
        self._schedule_flush()
        return pushed.stream_id  # type: ignore[no-any-return]

    # ------------------------------------------------------------------
    # Connection

    def close_connection(self) -> None:
        """
        Close gracefully: GOAWAY, let the streams already open finish, then
        close the transport.
        """
        if self._lost:
            return
        self._core.close()
        self._after_call()
        self._arm_timer()

    def update_settings(self, new_settings: Mapping[int, int]) -> None:
        """Send SETTINGS (keys are ints or :class:`SettingCodes`)."""
        self._core.update_settings({int(k): int(v) for k, v in new_settings.items()})
        self._schedule_flush()
        self._arm_timer()

    async def wait_functional(self) -> float | None:
        """
        Wait until the connection is known to work: data arrived within
        ``functional_timeout`` seconds, or a PING came back. Returns the last
        measured round-trip time (None if none was measured).

        :raises ConnectionError: the connection failed or was lost.
        """
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        core = self._core
        while loop.time() - self._last_active > self._functional_timeout:
            if core.error is not None:
                raise core.error
            self._ping_index = (self._ping_index + 1) & 0xFFFFFFFFFFFFFFFF
            data = _PING.pack(self._ping_index)
            self._ping_sent = loop.time()
            core.ping(data)
            self._schedule_flush()
            deadline = loop.time() + self._functional_timeout
            while data not in core.pings_acked:
                if core.error is not None:
                    raise core.error
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(self._wait(None, conn=True), left)
                except asyncio.TimeoutError:
                    break
            if data in core.pings_acked:
                self._rtt = loop.time() - self._ping_sent
                core.pings_acked.clear()
                return self._rtt
        return self._rtt

    @property
    def functional_timeout(self) -> float:
        """Seconds of silence before :meth:`wait_functional` pings."""
        return self._functional_timeout

    @functional_timeout.setter
    def functional_timeout(self, value: float) -> None:
        self._functional_timeout = value
        self._wake_conn()

    def _local_setting(self, code: int) -> int:
        return self._core.engine.local_settings[code]  # type: ignore[no-any-return]

    @property
    def initial_window_size(self) -> int:
        """Our stream window (INITIAL_WINDOW_SIZE in force); settable."""
        return self._local_setting(SettingCodes.INITIAL_WINDOW_SIZE)

    @initial_window_size.setter
    def initial_window_size(self, value: int) -> None:
        self.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: value})

    @property
    def max_frame_size(self) -> int:
        """The largest frame we accept (MAX_FRAME_SIZE in force); settable."""
        return self._local_setting(SettingCodes.MAX_FRAME_SIZE)

    @max_frame_size.setter
    def max_frame_size(self, value: int) -> None:
        self.update_settings({SettingCodes.MAX_FRAME_SIZE: value})

    @property
    def max_concurrent_streams(self) -> int:
        """Streams the peer may open at once (MAX_CONCURRENT_STREAMS); settable."""
        return self._local_setting(SettingCodes.MAX_CONCURRENT_STREAMS)

    @max_concurrent_streams.setter
    def max_concurrent_streams(self, value: int) -> None:
        self.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: value})
