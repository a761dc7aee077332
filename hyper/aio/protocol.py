"""
:class:`H2Protocol`: aioh2's API over the asyncio driver.

The driver (:mod:`hyper.drivers.async_h2`: a :class:`ClientDriver` or a
:class:`ServerDriver`) moves the bytes, wakes the waiters, flushes, and
runs the core's timers; this module turns each aioh2 call into core and
driver calls and a core record into aioh2's return values (stream ids,
``(str, str)`` header pairs, bytes). It uses the driver's public names only.

H2Protocol *holds* its driver rather than inheriting from it: aioh2's users
subclass H2Protocol and add names of their own (``hyper serve``'s
``ServedH2`` adds ``transport`` and ``close_gracefully``), which must not
meet the driver's. It forwards the ``asyncio.Protocol`` callbacks, so a
subclass overriding one and calling ``super()`` keeps working.

Calls common to both roles use the core through
:class:`~hyper.core.interface.StreamCore`; a call of one role only (say
:meth:`start_request`) made on the other raises :class:`AIOH2Exception`.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from hyper.aio.exceptions import AIOH2Exception, SendException
from hyper.common._request import authority
from hyper.common.exceptions import InvalidArgumentError
from hyper.common.types import HeaderFields, Str, StrHeaders
from hyper.core.interface import StreamCore
from hyper.core.server import ServerLimits
from hyper.core.streams import clone_error
from hyper.drivers.async_h2 import ClientDriver, ServerDriver
from hyper.engine.config import SettingCodes
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import ConnectionError as H2ConnectionError
from hyper.engine.exceptions import ConnectionLostError, StreamResetError
from hyper.engine.window import BaseFlowControlManager

_PING = struct.Struct("!Q")


def headers_in(headers: HeaderFields) -> Iterable[tuple[Str, Str]]:
    """A dict or a list of pairs, as the engine takes them."""
    if isinstance(headers, Mapping):
        return list(headers.items())
    return headers


def headers_out(block: Iterable[tuple[bytes, bytes]] | None) -> StrHeaders:
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
        self._functional_timeout = functional_timeout
        #: The driver under this connection (:mod:`hyper.drivers.async_h2`).
        self.driver: ClientDriver | ServerDriver
        if client_side:
            self.driver = ClientDriver(
                concurrency,
                enable_push=enable_push,
                window_manager=window_manager,
                first_stream_id=first_stream_id,
                loop=loop,
            )
        else:
            self.driver = ServerDriver(
                concurrency,
                limits if limits is not None else ServerLimits(),
                window_manager=window_manager,
                loop=loop,
            )
        self._handler: asyncio.Future[Any] | None = None
        self._ping_index = 0
        self._rtt: float | None = None
        self._scheme = "http"
        self._authority = "localhost"

    def _as_client(self, call: str) -> ClientDriver:
        driver = self.driver
        if isinstance(driver, ClientDriver):
            return driver
        raise AIOH2Exception(f"{call} is a client call; this is a server connection")

    def _as_server(self, call: str) -> ServerDriver:
        driver = self.driver
        if isinstance(driver, ServerDriver):
            return driver
        raise AIOH2Exception(f"{call} is a server call; this is a client connection")

    # ------------------------------------------------------------------
    # asyncio.Protocol: the driver's

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.client_side:
            self._learn_origin(transport)
        self.driver.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.driver.data_received(data)

    def eof_received(self) -> bool:
        return self.driver.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.driver.connection_lost(exc)
        if self._handler is not None and not self._handler.done():
            self._handler.cancel()

    def pause_writing(self) -> None:
        self.driver.pause_writing()

    def resume_writing(self) -> None:
        self.driver.resume_writing()

    def _learn_origin(self, transport: asyncio.BaseTransport) -> None:
        # What start_request fills in when the caller leaves :scheme or
        # :authority out (aioh2's example does).
        tls = transport.get_extra_info("ssl_object")
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
        driver = self.driver
        if driver.is_lost or not isinstance(driver, ServerDriver):
            return
        driver.core.handler_gone(failed)
        driver.close_gracefully()

    # ------------------------------------------------------------------
    # Streams, both sides

    def _read(self, core: StreamCore[Any], stream: Any, limit: int | None) -> list[bytes]:
        chunks = core.read(stream, limit)
        if chunks:
            self.driver.schedule_flush()
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
        driver = self.driver
        core: StreamCore[Any] = driver.core
        sent = [0]
        try:
            await driver.send_body(core.get(stream_id), data, end_stream, None, sent)
        except (StreamResetError, H2ConnectionError) as exc:
            raise SendException(bytes(data[sent[0] :])) from exc

    async def send_trailers(self, stream_id: int, headers: HeaderFields) -> None:
        """Send trailers, ending our side of the stream."""
        driver = self.driver
        core: StreamCore[Any] = driver.core
        stream = core.get(stream_id)
        await driver.writable()
        core.send_trailers(stream, list(headers_in(headers)))
        driver.schedule_flush()

    async def end_stream(self, stream_id: int) -> None:
        """End our side of the stream (an empty DATA frame)."""
        driver = self.driver
        core: StreamCore[Any] = driver.core
        stream = core.get(stream_id)
        await driver.writable()
        core.send_data(stream, b"", True)
        driver.schedule_flush()

    def reset_stream(self, stream_id: int, error_code: int = ErrorCodes.NO_ERROR) -> None:
        """Reset the stream (RST_STREAM with ``error_code``)."""
        driver = self.driver
        core: StreamCore[Any] = driver.core
        stream = core.find(stream_id)
        if stream is None:
            return
        core.reset(stream, error_code)
        driver.schedule_flush()
        driver.wake_stream(stream)

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
        driver = self.driver
        core: StreamCore[Any] = driver.core
        stream = core.get(stream_id)
        if size is None:
            while not core.body_ready(stream):
                await driver.waiter(stream)
            limit = len(stream.chunks[0]) - stream.offset if stream.chunks else None
            chunks = self._read(core, stream, limit)
            if chunks:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            return b""
        parts: list[bytes] = []
        want = size if size > 0 else None
        while want is None or want > 0:
            while not core.body_ready(stream):
                await driver.waiter(stream)
            chunks = self._read(core, stream, want)
            if not chunks:
                break
            parts.extend(chunks)
            if want is not None:
                want -= len(chunks[0]) if len(chunks) == 1 else sum(map(len, chunks))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def recv_trailers(self, stream_id: int) -> StrHeaders:
        """
        Wait for the end of the stream and return its trailers (empty when
        it ended without). Read the body first: unread body holds the
        stream's window, and the trailers come after it.
        """
        driver = self.driver
        core: StreamCore[Any] = driver.core
        stream = core.get(stream_id)
        while not stream.ended and stream.error is None:
            await driver.waiter(stream)
        if not stream.ended and stream.error is not None:
            raise clone_error(stream.error)
        return headers_out(stream.trailers)

    # ------------------------------------------------------------------
    # Server side

    async def recv_request(self) -> tuple[int, StrHeaders]:
        """
        Wait for the next request: ``(stream_id, headers)``.

        :raises ConnectionError: the connection failed or was lost.
        """
        driver = self._as_server("recv_request")
        core = driver.core
        while True:
            request = core.next_request()
            if request is not None:
                return request.stream_id, headers_out(request.headers)
            await driver.incoming_waiter()

    async def start_response(
        self, stream_id: int, headers: HeaderFields, *, end_stream: bool = False
    ) -> None:
        """Send response headers (a 1xx response too) on ``stream_id``."""
        driver = self._as_server("start_response")
        core = driver.core
        stream = core.get(stream_id)
        await driver.writable()
        while stream.pushed and not core.can_start_push():
            await driver.waiter(stream, conn=True)
            core.get(stream_id)
        core.send_headers(stream, headers_in(headers), end_stream)
        driver.schedule_flush()

    def accept_upgrade(self, settings_header: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        """
        (server) Serve a connection that an HTTP/1.1 ``Upgrade: h2c``
        request switched to HTTP/2 (the 101 is sent): call before
        :meth:`connection_made`. ``headers`` (the request as HTTP/2 fields)
        arrive as stream 1 from :meth:`recv_request`.
        """
        self._as_server("accept_upgrade").accept_upgrade(settings_header, headers)

    @property
    def can_push(self) -> bool:
        """(server) The client accepts server push (its ENABLE_PUSH)."""
        core: StreamCore[Any] = self.driver.core
        return bool(core.engine.remote_settings[SettingCodes.ENABLE_PUSH])

    def push(self, stream_id: int, headers: HeaderFields) -> int:
        """
        Promise a pushed response on ``stream_id`` (the request it answers in
        ``headers``); answer it with :meth:`start_response` and
        :meth:`send_data` on the returned stream id.

        :raises LocalProtocolError: the client disabled push.
        """
        driver = self._as_server("push")
        core = driver.core
        pushed = core.push(core.get(stream_id), headers_in(headers))
        driver.schedule_flush()
        return pushed.stream_id

    # ------------------------------------------------------------------
    # Client side

    async def start_request(self, headers: HeaderFields, *, end_stream: bool = False) -> int:
        """
        Send request headers on a new stream and return its id. Waits while
        the server's MAX_CONCURRENT_STREAMS is reached. ``:scheme`` and
        ``:authority`` are filled in when left out.

        :raises ConnectionError: the connection failed, or takes no new
            streams (GOAWAY): open a new one.
        """
        driver = self._as_client("start_request")
        fields = list(headers_in(headers))
        names = {n if isinstance(n, str) else n.decode("latin-1") for n, _ in fields}
        if ":scheme" not in names:
            fields.append((":scheme", self._scheme))
        if ":authority" not in names and "host" not in names and "Host" not in names:
            fields.append((":authority", self._authority))
        opened = await driver.open_stream(fields, end_stream)
        if opened is None:
            why = driver.why_unusable()
            if why is not None:
                raise clone_error(why)
            raise H2ConnectionError("this connection has used up its stream ids")
        return opened[0].stream_id

    async def recv_response(self, stream_id: int) -> StrHeaders:
        """
        Wait for the final response headers of ``stream_id`` (1xx
        responses are skipped).

        :raises StreamResetError: the stream was reset (``StreamRefusedError``:
            not processed, safe to retry).
        """
        driver = self._as_client("recv_response")
        stream = driver.core.get(stream_id)
        await driver.wait_response(stream)
        return headers_out(stream.headers)

    @property
    def is_usable(self) -> bool:
        """(client) New streams may be opened on this connection."""
        driver = self.driver
        return isinstance(driver, ClientDriver) and driver.is_usable

    @property
    def is_finished(self) -> bool:
        """The connection has ended and no stream is left on it."""
        return self.driver.is_finished

    async def recv_push(self, stream_id: int) -> tuple[int, StrHeaders] | None:
        """
        Wait for the next push promised on ``stream_id``: ``(promised
        stream id, request headers)``, or None once no more can come (the
        stream ended). Read the pushed response with :meth:`recv_response`
        and :meth:`read_stream` on the promised id. Needs ``enable_push``.
        """
        driver = self._as_client("recv_push")
        core = driver.core
        stream = core.get(stream_id)
        while True:
            record = core.next_push(stream)
            if record is None:
                return None
            if not isinstance(record, bool):  # False: wait for the next promise
                return record.stream.stream_id, headers_out(record.request_headers)
            await driver.waiter(stream)

    # ------------------------------------------------------------------
    # Connection

    def close_connection(self) -> None:
        """
        Close now, as aioh2 did: GOAWAY, then the transport closes; every
        coroutine waiting on this connection, either role (``recv_request``,
        ``recv_response``, ``read_stream``, ``send_data``...), fails at once
        with :class:`~hyper.http20.exceptions.ConnectionLostError`. The
        peer's waiters fail as soon as the close reaches them. For a
        graceful close, :meth:`shutdown`.
        """
        self.driver.close_now(
            ErrorCodes.NO_ERROR,
            ConnectionLostError("the connection was closed by close_connection()"),
        )

    async def shutdown(self, timeout: float | None = None) -> None:
        """
        Close gracefully (RFC 9113 6.8): GOAWAY, no new streams, the streams
        already open finish; returns once the transport is closed. After
        ``timeout`` seconds (None: no limit of its own; a server also stops
        at its ``ServerLimits.shutdown_timeout``) whatever is still open is
        closed as :meth:`close_connection` does.
        """
        driver = self.driver
        driver.close_gracefully()
        closed = asyncio.ensure_future(driver.wait_closed())
        try:
            await asyncio.wait_for(asyncio.shield(closed), timeout)
        except asyncio.TimeoutError:
            self.close_connection()
        finally:
            closed.cancel()

    def reprioritize(
        self,
        stream_id: int,
        depends_on: int | None = None,
        weight: int = 16,
        exclusive: bool = False,
    ) -> None:
        """
        aioh2's call to change a stream's priority: accepted and ignored.
        RFC 9113 (5.3.2) deprecates the RFC 7540 priority scheme, servers
        ignore it (hyper's engine does too), so no PRIORITY frame is sent.

        :raises InvalidArgumentError: ``weight`` outside 1-256, or a stream
            made to depend on itself (what a PRIORITY frame could not carry).
        """
        if not 1 <= weight <= 256:
            raise InvalidArgumentError(f"weight must be 1-256, not {weight}")
        if depends_on == stream_id:
            raise InvalidArgumentError(f"stream {stream_id} cannot depend on itself")

    def update_settings(self, new_settings: Mapping[int, int]) -> None:
        """Send SETTINGS (keys are ints or :class:`SettingCodes`)."""
        driver = self.driver
        core: StreamCore[Any] = driver.core
        core.update_settings({int(k): int(v) for k, v in new_settings.items()})
        driver.schedule_flush()
        driver.arm_timer()

    async def wait_functional(self) -> float | None:
        """
        Wait until the connection is known to work: data arrived within
        ``functional_timeout`` seconds, or a PING sent now came back. Returns
        the last measured round-trip time (None if none was measured).

        :raises ConnectionError: the connection failed or was lost.
        """
        driver = self.driver
        loop = driver.loop
        while loop.time() - driver.last_active >= self._functional_timeout:
            self._ping_index = (self._ping_index + 1) & 0xFFFFFFFFFFFFFFFF
            # No timeout set: every call pings, and waits for the answer.
            try:
                self._rtt = await asyncio.wait_for(
                    driver.ping(_PING.pack(self._ping_index)), self._functional_timeout or None
                )
                return self._rtt
            except asyncio.TimeoutError:
                pass  # no answer in time: still silent? ping again
        return self._rtt

    @property
    def functional_timeout(self) -> float:
        """Seconds of silence before :meth:`wait_functional` pings."""
        return self._functional_timeout

    @functional_timeout.setter
    def functional_timeout(self, value: float) -> None:
        self._functional_timeout = value

    def _local_setting(self, code: int) -> int:
        core: StreamCore[Any] = self.driver.core
        return core.engine.local_settings[code]

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
