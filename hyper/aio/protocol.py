"""
:class:`H2Protocol`: the asyncio driver, with aioh2's API.

The driver moves bytes between the transport and a sans-IO core
(:class:`hyper.core.server.ServerCore` for a server,
:class:`hyper.core.client_side.ClientSide` over the shared client core for a
client) and waits; it decides no protocol policy and builds no frame.

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
high-water mark, writers wait and the driver stops reading, so a client
that does not read cannot make us buffer without bound (CVE-2019-9517;
grpc-go #2970).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Union, cast

from hyper.aio.exceptions import AIOH2Exception, SendException
from hyper.common._request import authority
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.core.server import Request, ServerCore, ServerLimits
from hyper.core.streams import StreamBuffer, clone_error
from hyper.engine.config import SettingCodes
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import ConnectionError as H2ConnectionError
from hyper.engine.exceptions import StreamResetError
from hyper.engine.window import BaseFlowControlManager, FlowControlManager
from hyper.tls import NPN_PROTOCOL

_Str = Union[str, bytes]
HeadersArg = Union[Mapping[_Str, _Str], Iterable[tuple[_Str, _Str]]]
Headers = list[tuple[str, str]]

_PING = struct.Struct("!Q")
# The most body one send_data step hands the engine before it lets the
# transport say whether it is full: bounds what a client that does not read
# can make us buffer (CVE-2019-9517), in large enough steps to stay cheap.
_SEND_STEP = 256 * 1024


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
    :param enable_push: (client) accept server push (:meth:`recv_push`).
    :param window_manager: the :class:`~hyper.engine.window.BaseFlowControlManager`
        subclass that decides when to give receive window back.
    :param first_stream_id: (client) the first stream id to use.
    """

    def __init__(
        self,
        client_side: bool,
        *,
        concurrency: int = 8,
        functional_timeout: float = 2,
        limits: ServerLimits | None = None,
        enable_push: bool = False,
        window_manager: type[BaseFlowControlManager] | None = None,
        first_stream_id: int = 1,
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
        # Streams with a coroutine parked on them (``stream.waiter``, a list
        # of futures), so a lost connection wakes every one of them.
        self._waiting: set[StreamBuffer] = set()
        self._conn_waiters: list[asyncio.Future[None]] = []
        self._request_waiters: list[asyncio.Future[None]] = []
        self._flush_scheduled = False
        self._unflushed = 0
        self._paused = False
        self._reading_paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._handler: asyncio.Future[Any] | None = None
        self._last_active = 0.0
        self._ping_index = 0
        self._rtt: float | None = None
        #: (server) the server's connection cap and connected callback.
        self._server_slot: Any = None
        self._on_connected: Callable[[H2Protocol], Any] | None = None
        #: (client) why the connection cannot speak HTTP/2 (ALPN), if it cannot.
        self._alpn_problem: str | None = None
        self._lost = False
        self._enable_push = enable_push
        self._window_manager = window_manager or FlowControlManager
        self._first_stream_id = first_stream_id
        self._scheme = "http"
        self._authority = "localhost"
        self._upgrade: tuple[bytes, list[tuple[bytes, bytes]]] | None = None
        if loop is not None:
            self._make_core(loop)

    def _make_core(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._core is not None:
            return
        if self.client_side:
            from hyper.core.client_side import ClientSide

            self._core = ClientSide(
                self._concurrency,
                loop.time,
                enable_push=self._enable_push,
                window_manager=self._window_manager,
                first_stream_id=self._first_stream_id,
            )
        else:
            self._core = ServerCore(
                self._concurrency, self._limits, loop.time, window_manager=self._window_manager
            )

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
                what = f"ALPN chose {chosen!r}" if chosen else "no protocol agreed by ALPN"
                self._alpn_problem = f"the server did not agree to HTTP/2 ({what}, not 'h2')"
                core.fail(H2ConnectionError(self._alpn_problem))
                self._transport.close()
                return
            self._learn_origin(transport, tls)
        if self._upgrade is not None:
            core.start_upgraded(*self._upgrade)
        else:
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
        for stream in list(core.streams.values()):
            self._wake_stream(stream)
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
        self._unflushed = 0
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

    def _wait(self, stream: StreamBuffer | None, conn: bool = False) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self._loop.create_future()  # type: ignore[union-attr]
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

    def _wake_stream(self, stream: StreamBuffer) -> None:
        futures = stream.waiter
        if futures is not None:
            stream.waiter = None
            self._waiting.discard(stream)
            self._wake_list(cast(list[asyncio.Future[None]], futures))

    def _wake(self) -> None:
        core = self._core
        touched = core.touched
        if touched:
            for stream in touched:
                if stream.waiter is not None:
                    self._wake_stream(stream)
            touched.clear()
        if core.conn_changed:
            core.conn_changed = False
            self._wake_conn()
        if self._request_waiters and (core.error is not None or core.requests):
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
        for stream in list(self._waiting):
            self._wake_stream(stream)
        self._wake_conn()
        self._wake_list(self._request_waiters)
        self._request_waiters = []

    async def _writable(self, timeout: float | None = None) -> None:
        while self._paused and not self._lost:
            await self._park(None, True, timeout)

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
            raise AIOH2Exception("a handler is already set")
        if handler is None:
            return
        future = asyncio.ensure_future(handler)
        self._handler = future
        future.add_done_callback(self._handler_done)

    def _handler_done(self, future: asyncio.Future[Any]) -> None:
        failed = False
        if not future.cancelled():
            exc = future.exception()
            if exc is not None:
                failed = True
                # A reset or a lost connection is the network's doing; anything
                # else is a bug in the handler, reported like any task's.
                if not isinstance(exc, (StreamResetError, ConnectionError)):
                    future.get_loop().call_exception_handler(
                        {"message": "hyper.aio handler failed", "exception": exc, "protocol": self}
                    )
        if self._lost or self.client_side:
            return
        self._core.handler_gone(failed)
        self.close_connection()

    def _learn_origin(self, transport: asyncio.BaseTransport, tls: Any) -> None:
        # What start_request fills in when the caller leaves :scheme or
        # :authority out (aioh2's example does).
        port = 0
        host = "localhost"
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            host, port = str(peer[0]), int(peer[1])
        if tls is not None:
            self._scheme = "https"
            host = tls.server_hostname or host
        default = 443 if tls is not None else 80
        self._authority = authority(host, port, default).decode("ascii") if port else host

    # ------------------------------------------------------------------
    # Streams, both sides

    def _stream(self, stream_id: int) -> Request:
        return self._core.get(stream_id)  # type: ignore[no-any-return]

    def _read(self, stream: StreamBuffer, limit: int | None) -> list[bytes]:
        core = self._core
        chunks: list[bytes] = core.read(stream, limit)
        if chunks:
            self._schedule_flush()
        elif stream.is_drained:
            core.finished(stream)
        return chunks

    async def send_data(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        """
        Send body bytes, waiting on flow control and on a full transport
        buffer. Cancelling it leaves nothing of the rest queued. Returning
        means queued for the transport, not delivered.

        :raises SendException: the stream was reset or the connection lost;
            ``data`` holds the bytes not sent.
        """
        sent = [0]
        try:
            await self._send(self._stream(stream_id), data, end_stream, None, sent)
        except (StreamResetError, H2ConnectionError) as exc:
            raise SendException(bytes(data[sent[0] :])) from exc

    async def _send(
        self,
        stream: StreamBuffer,
        data: bytes | memoryview,
        end_stream: bool,
        timeout: float | None,
        sent: list[int],
    ) -> bool:
        """
        Queue ``data`` in steps as windows and the transport allow; count
        progress in ``sent[0]``. False when the peer already answered in
        full and wants no more (RFC 9113 8.1).
        """
        core = self._core
        total = len(data)
        offset = 0
        view: memoryview | None = None
        while True:
            if self._paused:
                await self._writable(timeout)
            if offset < total and core.send_window(stream) == 0:
                await self._park(stream, True, timeout)
                continue
            if offset == 0 and total <= _SEND_STEP:
                chunk: bytes | memoryview = data
            else:
                if view is None:
                    view = memoryview(data)
                chunk = view[offset : offset + _SEND_STEP]
            last = offset + len(chunk) >= total
            taken = core.send_data(stream, chunk, end_stream and last)
            if taken is None:
                self._schedule_flush()
                return False
            offset += taken
            sent[0] = offset
            self._unflushed += taken
            if offset >= total:
                if self._unflushed >= _SEND_STEP:
                    # A caller looping over send_data never yields while the
                    # windows allow: write now, so a full transport pauses the
                    # next call instead of the engine queueing the whole body.
                    self._flush()
                else:
                    self._schedule_flush()
                return True
            # Written now, so a full transport pauses us before the next step.
            self._flush()

    async def _park(
        self, stream: StreamBuffer | None, conn: bool, timeout: float | None
    ) -> None:
        """Wait for news on ``stream`` (and the connection); at most ``timeout`` s."""
        future = self._wait(stream, conn)
        if timeout is None:
            await future
            return
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise HyperTimeoutError(f"nothing arrived within {timeout} s") from None

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
        stream = self._core.find(stream_id)
        if stream is None:
            return
        self._core.reset(stream, error_code)
        self._schedule_flush()
        self._wake_stream(stream)

    async def _body_ready(self, stream: StreamBuffer) -> None:
        core = self._core
        while not core.body_ready(stream):
            await self._wait(stream)

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
            if not core.body_ready(stream):
                await self._body_ready(stream)
            limit = len(stream.chunks[0]) - stream.offset if stream.chunks else None
            chunks = self._read(stream, limit)
            if chunks:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            return b""
        parts: list[bytes] = []
        want = size if size > 0 else None
        while want is None or want > 0:
            if not core.body_ready(stream):
                await self._body_ready(stream)
            chunks = self._read(stream, want)
            if not chunks:
                break
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
            await self._wait(stream, conn=True)
            core.get(stream_id)
        core.send_headers(stream, headers_in(headers), end_stream)
        self._schedule_flush()

    def accept_upgrade(self, settings_header: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        """
        (server) Serve a connection that an HTTP/1.1 ``Upgrade: h2c``
        request switched to HTTP/2 (the 101 is sent): call before
        :meth:`connection_made`. ``headers`` (the request as HTTP/2 fields)
        arrive as stream 1 from :meth:`recv_request`.
        """
        self._upgrade = (settings_header, headers)

    @property
    def can_push(self) -> bool:
        """(server) The client accepts server push (its ENABLE_PUSH)."""
        return bool(self._core.engine.remote_settings[SettingCodes.ENABLE_PUSH])

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
    # Client side

    async def start_request(self, headers: HeadersArg, *, end_stream: bool = False) -> int:
        """
        Send request headers on a new stream and return its id. Waits while
        the server's MAX_CONCURRENT_STREAMS is reached. ``:scheme`` and
        ``:authority`` are filled in when left out.

        :raises ConnectionError: the connection failed, or takes no new
            streams (GOAWAY): open a new one.
        """
        core = self._core
        fields = list(headers_in(headers))
        names = {n if isinstance(n, str) else n.decode("latin-1") for n, _ in fields}
        if ":scheme" not in names:
            fields.append((":scheme", self._scheme))
        if ":authority" not in names and "host" not in names and "Host" not in names:
            fields.append((":authority", self._authority))
        while True:
            await self._writable()
            if core.error is not None:
                raise clone_error(core.error)
            if not core.is_usable or core.can_open_stream():
                break
            await self._wait(None, conn=True)
        opened = core.open_stream(fields, end_stream)
        if opened is None:
            if core.error is not None:
                raise clone_error(core.error)
            raise H2ConnectionError("this connection takes no new streams (GOAWAY)")
        self._schedule_flush()
        return opened[0].stream_id  # type: ignore[no-any-return]

    async def recv_response(self, stream_id: int) -> Headers:
        """
        Wait for the final response headers of ``stream_id`` (1xx
        responses are skipped).

        :raises StreamResetError: the stream was reset (``StreamRefusedError``:
            not processed, safe to retry).
        """
        core = self._core
        stream = self._stream(stream_id)
        while not core.response_ready(stream):
            await self._wait(stream)
        core.check_response(stream)
        return headers_out(stream.headers)

    async def _open_stream(
        self,
        fields: list[tuple[Any, Any]],
        end_stream: bool,
        data: bytes | memoryview | None,
        data_ends: bool,
        timeout: float | None,
        stream_id: int | None = None,
    ) -> tuple[StreamBuffer, int] | None:
        """Open a stream once a slot is free; None if this connection takes no more."""
        core = self._core
        while True:
            if self._paused:
                await self._writable(timeout)
            core.raise_if_failed()
            if not core.is_usable or core.can_open_stream():
                break
            await self._park(None, True, timeout)
        opened: tuple[StreamBuffer, int] | None = core.open_stream(
            fields, end_stream, data, data_ends, stream_id
        )
        if opened is not None:
            self._schedule_flush()
        return opened

    async def _response_ready(self, stream: StreamBuffer, timeout: float | None) -> None:
        """Wait for the final response headers; raise the stream's failure."""
        core = self._core
        while not core.response_ready(stream):
            await self._park(stream, False, timeout)
        core.check_response(stream)

    async def _pushes_ready(self, stream: StreamBuffer, timeout: float | None) -> None:
        core = self._core
        while not core.pushes_ready(stream):
            await self._park(stream, False, timeout)
        self._schedule_flush()  # pushes_ready may give window back

    async def _ping(self, data: bytes, timeout: float | None) -> float:
        """Send a PING and wait for its ACK; the round-trip time."""
        core = self._core
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        core.ping(data)
        sent = loop.time()
        self._schedule_flush()
        try:
            while not core.ping_acked(data):
                core.raise_if_failed()
                await self._park(None, True, timeout)
        finally:
            core.forget_ping(data)
        return loop.time() - sent

    @property
    def is_usable(self) -> bool:
        """(client) New streams may be opened on this connection."""
        return not self._lost and self._core is not None and bool(self._core.is_usable)

    @property
    def is_finished(self) -> bool:
        """The connection has ended and no stream is left on it."""
        return self._core is not None and bool(self._core.is_finished)

    async def recv_trailers(self, stream_id: int) -> Headers:
        """
        Wait for the end of the stream and return its trailers (empty when
        it ended without). Read the body first: unread body holds the
        stream's window, and the trailers come after it.
        """
        stream = self._stream(stream_id)
        while not stream.ended and stream.error is None:
            await self._wait(stream)
        if not stream.ended and stream.error is not None:
            raise clone_error(stream.error)
        return headers_out(stream.trailers)

    async def recv_push(self, stream_id: int) -> tuple[int, Headers] | None:
        """
        Wait for the next push promised on ``stream_id``: ``(promised
        stream id, request headers)``, or None once no more can come (the
        stream ended). Read the pushed response with :meth:`recv_response`
        and :meth:`read_stream` on the promised id. Needs ``enable_push``.
        """
        core = self._core
        stream = self._stream(stream_id)
        while True:
            record = core.next_push(stream)
            if record is None:
                return None
            if record is not False:
                return record.stream.stream_id, headers_out(record.request_headers)
            await self._wait(stream)

    # ------------------------------------------------------------------
    # Connection

    def close_connection(self) -> None:
        """
        Close gracefully: GOAWAY, let the streams already open finish, then
        close the transport.
        """
        if self._lost:
            return
        self._core.close_gracefully()
        self._after_call()
        self._arm_timer()

    def _close_now(self, error_code: int) -> None:
        """Close at once: GOAWAY(``error_code``), every waiter fails."""
        if self._lost:
            return
        self._core.close(error_code)
        self._wake()
        for stream in list(self._core.streams.values()):
            self._wake_stream(stream)
        self._wake_all()
        self._teardown()

    def update_settings(self, new_settings: Mapping[int, int]) -> None:
        """Send SETTINGS (keys are ints or :class:`SettingCodes`)."""
        self._core.update_settings({int(k): int(v) for k, v in new_settings.items()})
        self._schedule_flush()
        self._arm_timer()

    async def wait_functional(self) -> float | None:
        """
        Wait until the connection is known to work: data arrived within
        ``functional_timeout`` seconds, or a PING sent now came back. Returns
        the last measured round-trip time (None if none was measured).

        :raises ConnectionError: the connection failed or was lost.
        """
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        core = self._core
        while loop.time() - self._last_active >= self._functional_timeout:
            self._ping_index = (self._ping_index + 1) & 0xFFFFFFFFFFFFFFFF
            data = _PING.pack(self._ping_index)
            core.ping(data)
            sent = loop.time()
            self._schedule_flush()
            try:
                # No timeout set: every call pings, and waits for the answer.
                deadline = sent + self._functional_timeout if self._functional_timeout else None
                while not core.ping_acked(data):
                    if core.error is not None:
                        raise clone_error(core.error)
                    left = None if deadline is None else deadline - loop.time()
                    if left is not None and left <= 0:
                        break
                    try:
                        await asyncio.wait_for(self._wait(None, conn=True), left)
                    except asyncio.TimeoutError:
                        break
                if core.ping_acked(data):
                    self._rtt = loop.time() - sent
                    return self._rtt
            finally:
                core.forget_ping(data)
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
