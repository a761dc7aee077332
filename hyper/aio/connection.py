"""
:class:`AsyncHTTP20Connection`: ``HTTP20Connection``'s shape in coroutine
form, on the same client core (through the asyncio client driver,
:class:`~hyper.drivers.async_h2.ClientDriver`),
the same request building (:class:`hyper.common._request.RequestDefaults`,
:class:`~hyper.common._request.RequestBody`) and the same response
decoding (:mod:`hyper.aio.response`).

One object stands for "HTTP/2 to this origin". When the server sends
GOAWAY (or the connection fails) the next request opens a new connection;
streams already open on the old one finish there. Stream ids keep rising
across connections, so an id names one request for the object's lifetime.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from hyper.aio.response import AsyncHTTP20Push, AsyncHTTP20Response, push_for
from hyper.common._request import (
    UPLOAD_CHUNK,
    RequestBody,
    RequestDefaults,
    body_chunk,
    header_pairs,
    upload_read_size,
)
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import HyperError, InvalidArgumentError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.common.types import HeadersArg, Str, Timeout
from hyper.common.util import HTTPVersion
from hyper.core.client import normalize_origin
from hyper.core.origin import OriginPolicy
from hyper.core.streams import StreamBuffer, ping_data
from hyper.drivers.async_h2 import ClientDriver
from hyper.drivers.async_open import Handover
from hyper.engine.config import SettingCodes
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import StreamStateError
from hyper.engine.window import BaseFlowControlManager
from hyper.net.connect import ConnectionTarget
from hyper.tls import H2_NPN_PROTOCOLS, default_context

__all__ = ["AsyncHTTP20Connection"]


# Streams the server may push at once (our MAX_CONCURRENT_STREAMS).
_CONCURRENCY = 100


class AsyncHTTP20Connection(ConnectionTarget):
    """
    An HTTP/2 connection to one server for asyncio; any number of tasks may
    make requests and read responses on it at once.

    :param host: ``'example.com'``, ``'example.com:8443'`` or ``'[::1]:8443'``.
    :param port: the port; default 443 (or the one in ``host``).
    :param secure: use TLS; defaults to ``port == 443``. Plaintext speaks
        HTTP/2 with prior knowledge (h2c).
    :param window_manager: the :class:`BaseFlowControlManager` subclass.
    :param enable_push: accept server push (:attr:`AsyncHTTP20Response.pushes`).
    :param ssl_context: the ``ssl.SSLContext`` to use instead of hyper's.
    :param timeout: seconds, or a ``(connect, read)`` pair. The read timeout
        bounds each wait of each call (a response, body bytes, window or a
        stream slot) and raises :class:`hyper.common.exceptions.TimeoutError`
        for that call only: other streams carry on.
    :param opener: opens each connection this object makes instead of a TCP
        connection to ``host:port`` (TLS with ALPN ``h2`` when ``secure``):
        an async callable returning a :class:`hyper.drivers.async_open.Handover`
        connected wherever it likes (a unix socket, through a proxy's tunnel,
        from a local address), TLS done when ``secure``. The connect timeout
        is then the opener's business.
    """

    version = HTTPVersion.http20

    def __init__(
        self,
        host: str,
        port: int | None = None,
        secure: bool | None = None,
        window_manager: type[BaseFlowControlManager] | None = None,
        enable_push: bool = False,
        ssl_context: Any = None,
        timeout: Timeout = None,
        *,
        opener: Callable[[], Awaitable[Handover]] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("proxy_host"):
            raise InvalidArgumentError("AsyncHTTP20Connection does not tunnel through proxies yet")
        super().__init__(host, port, secure, ssl_context, None, None, None, timeout)
        self._window_manager = window_manager
        self._enable_push = enable_push
        self._opener = opener
        self._defaults = RequestDefaults(self.host, self.port, self.secure)
        self._origin: OriginPolicy[ClientDriver] = OriginPolicy(f"{self.host}:{self.port}")
        # Serialises connecting (and the policy's choices that go with it).
        self._connecting: asyncio.Lock | None = None

    # ------------------------------------------------------------------
    # Connecting

    async def connect(self) -> None:
        """
        Connect (TCP, TLS with ALPN ``h2``, preface) unless connected, and
        complete the SETTINGS exchange, as :meth:`HTTP20Connection.connect`:
        return once the server's SETTINGS have arrived (its limits govern
        what is sent after) and it acknowledged ours. A request without
        ``connect()`` first does not wait: it goes out behind the preface.

        :raises ConnectionError: the server is unreachable or does not speak HTTP/2.
        :raises TimeoutError: the handshake took longer than the connect
            timeout (the read timeout when only that is set).
        """
        protocol = await self._usable()
        await protocol.wait_handshake(self._handshake_timeout())

    async def _usable(self) -> ClientDriver:
        protocol = self._origin.current
        if protocol is not None and protocol.is_usable:
            return protocol
        return await self._choose()

    async def _choose(self) -> ClientDriver:
        """The connection new streams go on, connecting if there is none
        (another task may have, while this one waited for the lock)."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            origin = self._origin
            protocol = origin.choose()
            if protocol is None:
                protocol = await self._new_protocol(origin.first_stream_id())
                origin.adopt(protocol)
            return protocol

    async def _new_protocol(self, first_id: int) -> ClientDriver:
        loop = asyncio.get_running_loop()
        protocol = ClientDriver(
            _CONCURRENCY,
            enable_push=self._enable_push,
            window_manager=self._window_manager,
            first_stream_id=first_id,
            loop=loop,
        )
        opener = self._opener
        if opener is not None:
            await self._open_with(opener, protocol)
        else:
            await self._open_tcp(protocol)
        problem = protocol.alpn_problem
        if problem is not None:
            raise HyperConnectionError(f"{self.host}:{self.port}: {problem}")
        if self._enable_push:
            # RFC 9113 8.4: pushes only for this connection's own origin.
            defaults = self._defaults
            protocol.core.origin = normalize_origin(defaults.scheme, defaults.authority)
        return protocol

    async def _open_with(
        self, opener: Callable[[], Awaitable[Handover]], protocol: ClientDriver
    ) -> None:
        try:
            handover = await opener()
        except OSError as exc:
            if isinstance(exc, HyperError):
                raise
            where = f"{self.host}:{self.port}"
            raise HyperConnectionError(f"cannot connect to {where}: {exc}") from exc
        handover.hand_to(protocol)

    async def _open_tcp(self, protocol: ClientDriver) -> None:
        loop = protocol.loop
        tls: Any = None
        if self.secure:
            if self.ssl_context is not None:
                tls = self.ssl_context
            else:
                tls = default_context(H2_NPN_PROTOCOLS)
        connecting = loop.create_connection(
            lambda: protocol,
            self.host,
            self.port,
            ssl=tls,
            server_hostname=self.host if tls is not None else None,
        )
        try:
            await asyncio.wait_for(connecting, self._connect_timeout)
        except asyncio.TimeoutError:
            raise HyperTimeoutError(
                f"connecting to {self.host}:{self.port} took more than {self._connect_timeout} s"
            ) from None
        except OSError as exc:
            where = f"{self.host}:{self.port}"
            raise HyperConnectionError(f"cannot connect to {where}: {exc}") from exc

    # ------------------------------------------------------------------
    # Requests

    async def request(
        self,
        method: Str,
        url: Str,
        body: Any = None,
        headers: HeadersArg = None,
        *,
        trailers: HeadersArg = None,
        timeout: float | None = None,
    ) -> int:
        """
        Send a request and return its stream id (for :meth:`get_response`).

        :param body: bytes, str (UTF-8), a file (``read`` may be a coroutine
            function), an iterable or an async iterable of bytes; streamed
            under flow control, never read whole into memory.
        :param headers: a dict, an :class:`HTTPHeaderMap` or ``(name, value)``
            pairs.
        :param trailers: header fields sent after the body, ending the
            request (gRPC-style status, checksums); a dict or pairs.
        :param timeout: what bounds each wait of this call (a stream slot,
            window) instead of the connection's read timeout (None: that).
        :raises StreamResetError: the server reset the stream while the body
            was being sent.
        :raises TimeoutError: no stream slot or window within the read timeout.
        """
        wait = self._read_timeout if timeout is None else timeout
        fields, plan = self._prepare(method, url, headers, body, True)
        trailer_fields = header_pairs(trailers) if trailers is not None else []
        protocol, stream = await self._start(fields, body, plan, not trailer_fields, None, wait)
        await self._finish(protocol, stream, trailer_fields, wait)
        self._origin.remember(stream.stream_id)
        return stream.stream_id

    async def putrequest(self, method: Str, selector: Str, **kwargs: Any) -> int:
        """
        Start a request whose headers are added with :meth:`putheader` and
        sent by :meth:`endheaders`; returns its stream id (as
        :meth:`HTTP20Connection.putrequest`). No I/O: :meth:`endheaders`
        connects.
        """
        protocol = self._origin.current
        if protocol is not None and protocol.is_usable:
            stream_id: int = protocol.core.reserve_id()
        else:
            if self._connecting is None:
                self._connecting = asyncio.Lock()
            async with self._connecting:  # the policy's ids move only under it
                protocol = self._origin.current
                if protocol is not None and protocol.is_usable:
                    stream_id = protocol.core.reserve_id()
                else:
                    stream_id = self._origin.reserve_id()
        self._origin.put_request(stream_id, method, selector)
        return stream_id

    def putheader(
        self, header: Str, argument: Str, stream_id: int | None = None, replace: bool = False
    ) -> None:
        """Add a header to a request started with :meth:`putrequest`."""
        self._origin.pending_request(stream_id).add_header(header, argument, replace)

    async def endheaders(
        self,
        message_body: Any = None,
        final: bool = False,
        stream_id: int | None = None,
        trailers: HeadersArg = None,
    ) -> None:
        """
        Send the headers of a request started with :meth:`putrequest`, then
        ``message_body`` if given. ``final`` ends the request (after
        ``trailers``, if given); otherwise more body follows with :meth:`send`.
        """
        stream_id, pending = self._origin.take_request(stream_id)
        fields, plan = self._prepare(
            pending.method, pending.url, pending.headers, message_body, final
        )
        trailer_fields = header_pairs(trailers) if final and trailers is not None else []
        wait = self._read_timeout
        protocol, stream = await self._start(
            fields, message_body, plan, final and not trailer_fields, stream_id, wait
        )
        self._origin.opened_as(stream_id, stream.stream_id)
        await self._finish(protocol, stream, trailer_fields, wait)

    async def send(
        self,
        data: Any,
        final: bool = False,
        stream_id: int | None = None,
        trailers: HeadersArg = None,
    ) -> None:
        """
        Send more of a request body (after :meth:`endheaders` without
        ``final``), under flow control; ``final`` ends the request, after
        ``trailers`` if given.
        """
        protocol, stream = self._origin.find(stream_id)
        trailer_fields = header_pairs(trailers) if final and trailers is not None else []
        plan = None if _is_async_body(data) else RequestBody(data)
        wait = self._read_timeout
        await self._upload(protocol, stream, data, plan, 0, final and not trailer_fields, wait)
        await self._finish(protocol, stream, trailer_fields, wait)

    def _prepare(
        self, method: Str, url: Str, headers: HeadersArg, body: Any, final: bool
    ) -> tuple[list[tuple[Any, Any]], RequestBody | None]:
        plan = None if body is None or _is_async_body(body) else RequestBody(body)
        length = plan.length if plan is not None and final else None
        fields = self._defaults.fields(method, url, headers, length)
        return fields, plan

    async def _start(
        self,
        fields: list[tuple[Any, Any]],
        body: Any,
        plan: RequestBody | None,
        ends: bool,
        stream_id: int | None,
        wait: float | None,
    ) -> tuple[ClientDriver, StreamBuffer]:
        """Open the stream and send the body (ending it if ``ends``); ``wait``
        bounds each wait."""
        no_body = body is None or (plan is not None and plan.length == 0)
        data = plan.buffer if plan is not None and plan.buffer else None
        protocol, stream, taken = await self._open(
            fields, no_body and ends, data, ends, stream_id, wait
        )
        try:
            if not no_body:
                await self._upload(protocol, stream, body, plan, taken, ends, wait)
        except BaseException:
            # The caller never learns this stream's id: free it (reset).
            protocol.core.release(stream)
            protocol.schedule_flush()
            raise
        return protocol, stream

    async def _finish(
        self,
        protocol: ClientDriver,
        stream: StreamBuffer,
        trailers: list[tuple[Any, Any]],
        wait: float | None,
    ) -> None:
        if trailers:
            await protocol.writable(wait)
            protocol.core.send_trailers(stream, trailers)
            protocol.schedule_flush()

    async def _open(
        self,
        fields: list[tuple[Any, Any]],
        end_stream: bool,
        data: bytes | memoryview | None,
        data_ends: bool,
        stream_id: int | None,
        wait: float | None,
    ) -> tuple[ClientDriver, StreamBuffer, int]:
        origin = self._origin
        failed: BaseException | None = None
        while True:
            protocol = origin.current
            if protocol is None or not protocol.is_usable:
                if protocol is not None and failed is None:
                    failed = origin.found_dead(protocol)
                try:
                    protocol = await self._choose()
                except BaseException as exc:
                    origin.chain(exc, failed)
                    raise
            opened = await protocol.open_stream(
                fields, end_stream, data, data_ends, wait, stream_id
            )
            if opened is not None:
                stream, taken = opened
                return protocol, stream, taken
            # Dead before our request went out: the policy says whether
            # another connection may take it, or raises.
            failed = origin.try_again(protocol, failed)

    async def _upload(
        self,
        protocol: ClientDriver,
        stream: StreamBuffer,
        body: Any,
        plan: RequestBody | None,
        taken: int,
        ends: bool,
        timeout: float | None,
    ) -> None:
        """Send the body (``taken`` bytes of a buffer already went); END_STREAM if ``ends``."""
        sent = [0]
        send = protocol.send_body
        if plan is not None and plan.buffer is not None:
            rest = plan.buffer
            # What open_stream took went with END_STREAM if it was all of it.
            if taken < len(rest):
                await send(stream, memoryview(rest)[taken:], ends, timeout, sent)
            elif ends and not taken:  # an empty send(b"", final=True)
                await send(stream, b"", True, timeout, sent)
            return
        async for chunk in _chunks(body, plan, protocol, stream):
            if chunk and not await send(stream, chunk, False, timeout, sent):
                return
        if ends:
            await send(stream, b"", True, timeout, sent)

    # ------------------------------------------------------------------
    # Responses

    async def get_response(
        self, stream_id: int | None = None, *, timeout: float | None = None
    ) -> AsyncHTTP20Response:
        """
        Wait for the response to a request (1xx responses are kept on
        ``response.informational``).

        :param stream_id: what :meth:`request` returned; None: the last request.
        :param timeout: what bounds this wait and each wait of the response's
            reads, instead of the connection's read timeout (None: that).
        :raises StreamRefusedError: not processed by the server; safe to retry.
        :raises StreamResetError: the server reset the stream.
        :raises TimeoutError: no response within the read timeout (the
            request stays pending; call again to keep waiting).
        :raises ConnectionError: the connection failed.
        """
        protocol, stream = self._origin.find(stream_id)
        self._origin.claimed(stream_id)
        if stream.claimed:
            raise StreamStateError(f"the response on stream {stream.stream_id} was already taken")
        wait = self._read_timeout if timeout is None else timeout
        await protocol.wait_response(stream, wait)
        stream.claimed = True
        return AsyncHTTP20Response(stream, protocol, wait)

    getresponse = get_response

    def reset_stream(self, stream_id: int) -> None:
        """
        Give up on a request whose response was not taken (after a
        ``get_response`` timed out or failed, say): reset its stream (CANCEL)
        if it is still open, so the server stops, and forget it.
        """
        protocol, stream = self._origin.find(stream_id)
        protocol.core.release(stream)
        protocol.schedule_flush()

    @property
    def peer_max_concurrent_streams(self) -> int | None:
        """The most streams the server lets this connection have open at
        once (its SETTINGS_MAX_CONCURRENT_STREAMS); None until its SETTINGS
        arrived. A hint for pools: ``request()`` itself waits for a slot."""
        protocol = self._origin.current
        if protocol is None or not protocol.core.settings_seen:
            return None
        value: int = protocol.core.engine.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS]
        return value

    async def get_pushes(
        self, stream_id: int | None = None, capture_all: bool = False
    ) -> AsyncIterator[AsyncHTTP20Push]:
        """
        Yield the pushes promised on a stream, each once; with
        ``capture_all``, wait for more until the stream ends.
        """
        protocol, stream = self._origin.find(stream_id)
        core = protocol.core
        while True:
            if capture_all:
                await protocol.wait_pushes(stream, self._read_timeout)
            fresh, more = core.take_pushes(stream)
            for record in fresh:
                yield push_for(record, protocol, self._read_timeout)
            if not capture_all or not more:
                return

    async def ping(self, opaque_data: Str) -> float:
        """Send a PING with 8 bytes of ``opaque_data``; the round-trip time."""
        data = ping_data(opaque_data)
        protocol = await self._usable()
        return await protocol.ping(data, self._read_timeout)

    # ------------------------------------------------------------------
    # Closing

    def close(self, error_code: int | None = None) -> None:
        """
        Close: GOAWAY (``error_code``, default NO_ERROR), fail every waiting
        call, close the transport. The next request connects anew.
        """
        code = ErrorCodes.NO_ERROR if error_code is None else error_code
        for protocol in self._origin.close():
            protocol.close_now(code)

    async def __aenter__(self) -> AsyncHTTP20Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        defaults = self._defaults
        return (
            f"<AsyncHTTP20Connection {defaults.scheme.decode()}://{defaults.authority.decode()}>"
        )


async def _chunks(
    body: Any, plan: RequestBody | None, protocol: ClientDriver, stream: StreamBuffer
) -> AsyncIterator[bytes | memoryview]:
    """A file, iterable or async iterable body, piece by piece."""
    if hasattr(body, "__aiter__"):
        async for chunk in body:
            yield body_chunk(chunk)
        return
    if hasattr(body, "read"):
        read = body.read
        is_coroutine = inspect.iscoroutinefunction(read)
        while True:
            core = protocol.core
            size = upload_read_size(core.send_window(stream), core.max_frame_size)
            chunk = await read(size) if is_coroutine else read(size)
            if not chunk:
                return
            yield body_chunk(chunk)
    if plan is not None:
        for piece in plan.chunks(UPLOAD_CHUNK):
            yield piece


def _is_async_body(body: Any) -> bool:
    """An async iterable, or a file whose ``read`` is a coroutine function."""
    return hasattr(body, "__aiter__") or (
        hasattr(body, "read") and inspect.iscoroutinefunction(body.read)
    )
