"""
:class:`AsyncHTTPTransport`: an ``httpx.AsyncBaseTransport`` over hyper's
asyncio HTTP/2 client (:class:`~hyper.aio.AsyncHTTP20Connection`), with
HTTP/1.1 (:mod:`._async_h1`) where ALPN says so or the URL is ``http://``,
pooled by :mod:`._pool`.

A new connection is opened by :mod:`._connect` (TCP or a unix socket, a
proxy's tunnel, TLS offering what the transport may speak); ALPN then picks
which driver takes it over. An HTTP/2 connection reconnects through the same
opener after a GOAWAY.

Timeouts are the request's own (``extensions["timeout"]``), applied to each
wait: connecting, sending, the head, each read of the body (passed to
hyper's connections, which bound each wait with a timer); and the pool
timeout to waiting for a connection or a stream slot. Requests with
different timeouts share connections.

Runs on asyncio (uvloop too); under trio it raises ``RuntimeError`` saying so.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx

from hyper.aio.connection import AsyncHTTP20Connection
from hyper.common.exceptions import HyperError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.contrib.httpx._async_h1 import AsyncH1Connection
from hyper.contrib.httpx._common import (
    check_url,
    connect_delays,
    origin_of,
    request_body,
    response_extensions,
    timeouts_of,
)
from hyper.contrib.httpx._connect import Dial, open_connection
from hyper.contrib.httpx._errors import CONNECT, READ, WRITE, translate
from hyper.contrib.httpx._options import (
    DEFAULT_LIMITS,
    Options,
    alpn_offer,
    read_options,
    tls_context,
)
from hyper.contrib.httpx._pool import Changes, Entry, PoolPolicy, Ticket
from hyper.contrib.httpx._trace import Tracer, tracer_for
from hyper.core.origin import may_send_again
from hyper.drivers.async_open import Handover

__all__ = ["AsyncHTTPTransport"]

_Key = tuple[str, str, int]
# What one read of an HTTP/2 body asks for: what is buffered, up to this.
_READ_STEP = 1 << 20


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "hyper.contrib.httpx.AsyncHTTPTransport runs on asyncio, and no asyncio event "
            "loop is running here (trio?): use httpx's own AsyncHTTPTransport there"
        ) from None


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(HyperTimeoutError("the pool timeout passed"))


def _forget(conn: AsyncHTTP20Connection, stream_id: int) -> None:
    """A request that got no response: its stream reset if still open (a read
    timeout: the server stops) and forgotten (a refused one, so a connection
    draining after GOAWAY can end)."""
    try:
        conn.reset_stream(stream_id)
    except HyperError:
        pass  # already gone with its connection


def _pushes(resp: Any) -> Any:
    """The ``pushes`` extension: the response's pushes, read when called."""
    return lambda: resp.pushes


class _StreamInfo:
    """What httpcore's network stream tells trace callbacks
    (``get_extra_info``), read from the asyncio transport."""

    __slots__ = ("_transport",)

    _KEYS = {"server_addr": "peername", "client_addr": "sockname"}

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def get_extra_info(self, info: str) -> Any:
        if self._transport is None:
            return None
        return self._transport.get_extra_info(self._KEYS.get(info, info))


def _trace_connected(
    tracer: Tracer, handover: Handover, dial: Dial, timeout: float | None
) -> None:
    stream = _StreamInfo(handover.transport)
    tracer.event("connection.connect_tcp.complete", return_value=stream)
    if dial.tls is not None:
        tracer.event(
            "connection.start_tls.started",
            ssl_context=dial.tls,
            server_hostname=dial.host,
            timeout=timeout,
        )
        tracer.event("connection.start_tls.complete", return_value=stream)


class _Slot:
    """A pooled connection: which one it is is known once connected."""

    __slots__ = ("key", "h2", "h1")

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.h2: AsyncHTTP20Connection | None = None
        self.h1: AsyncH1Connection | None = None

    def close(self) -> None:
        if self.h2 is not None:
            self.h2.close()
        if self.h1 is not None:
            self.h1.close()


class AsyncHTTPTransport(httpx.AsyncBaseTransport):
    """
    An ``httpx`` async transport speaking HTTP/2 through hyper (HTTP/1.1
    where the server does not, and for ``http://`` URLs unless ``http1`` is
    False)::

        client = httpx.AsyncClient(transport=hyper.contrib.httpx.AsyncHTTPTransport())

    Takes ``httpx.AsyncHTTPTransport``'s arguments, with ``http2`` on by
    default: ``verify``, ``cert``, ``trust_env``, ``http1``, ``http2``,
    ``limits``, ``proxy`` (``http://`` only: a CONNECT tunnel for
    ``https://`` requests, forwarding for ``http://`` ones), ``uds`` (a unix
    socket path to connect to), ``local_address`` (the address to connect
    from), ``retries`` (more attempts to connect) and ``enable_push``.

    :raises ValueError: an argument hyper cannot honour (``socket_options``,
        a non-http proxy, ``uds`` with a proxy).

    Responses carry ``extensions["http_version"]``, ``reason_phrase``
    (HTTP/1.1), ``stream_id`` (HTTP/2) and ``trailers`` (filled in once the
    body has been read).
    """

    def __init__(
        self,
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        proxy: Any = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Any = None,
        *,
        enable_push: bool = False,
    ) -> None:
        self._options: Options = read_options(
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            http1=http1,
            http2=http2,
            limits=limits,
            proxy=proxy,
            uds=uds,
            local_address=local_address,
            retries=retries,
            socket_options=socket_options,
            enable_push=enable_push,
        )
        self._pool: PoolPolicy[_Slot] = PoolPolicy(
            _Slot,
            limits.max_connections,
            limits.max_keepalive_connections,
            limits.keepalive_expiry,
        )
        # Releases from a body's __del__: applied by the next request or release.
        self._abandoned: deque[tuple[Entry[_Slot], bool]] = deque()

    # ------------------------------------------------------------------
    # The pool

    def _shares(self, scheme: str) -> bool:
        options = self._options
        if scheme == "https":
            return options.http2
        return options.http2 and not options.http1

    async def _acquire(
        self, key: _Key, request: httpx.Request, timeout: float | None, loop: Any
    ) -> Ticket:
        ticket = Ticket(key, self._shares(key[0]))
        pool = self._pool
        if self._abandoned:
            self._apply_abandoned(loop)
        changes = pool.acquire(ticket, loop.time())
        self._act(changes)
        if ticket.entry is not None:
            return ticket
        ticket.waker = waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        except BaseException as exc:
            self._act(pool.cancel(ticket, loop.time()))
            if isinstance(exc, HyperTimeoutError):
                raise httpx.PoolTimeout(
                    f"no connection or stream came free within {timeout} s", request=request
                ) from None
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return ticket

    @staticmethod
    def _act(changes: Changes) -> None:
        for ticket in changes.woken:
            waker = ticket.waker
            if waker is not None and not waker.done():
                waker.set_result(None)
        for slot in changes.closing:
            slot.close()

    def _apply_abandoned(self, loop: Any) -> None:
        queue = self._abandoned
        while queue:
            entry, reusable = queue.popleft()
            self._act(self._pool.release(entry, loop.time(), reusable))

    def _release(self, entry: Entry[_Slot], reusable: bool) -> None:
        loop = asyncio.get_running_loop()
        if self._abandoned:
            self._apply_abandoned(loop)
        slot = entry.conn
        if slot.h2 is not None:
            self._pool.update_limit(entry, slot.h2.peer_max_concurrent_streams)
        self._act(self._pool.release(entry, loop.time(), reusable))

    # ------------------------------------------------------------------
    # Connecting

    def _dial(self, key: _Key, offer: tuple[str, ...] | None) -> Dial:
        scheme, host, port = key
        options = self._options
        proxy = options.proxy
        secure = scheme == "https"
        prior_knowledge = not secure and options.http2 and not options.http1
        return Dial(
            host,
            port,
            tls_context(options, offer) if secure and offer is not None else None,
            proxy,
            tunnel=proxy is not None and (secure or prior_knowledge),
            uds=options.uds,
            local_address=options.local_address,
        )

    async def _connect(
        self,
        ticket: Ticket,
        request: httpx.Request,
        timeout: float | None,
        tracer: Tracer | None,
    ) -> None:
        entry = ticket.entry
        assert entry is not None
        slot: _Slot = entry.conn
        options = self._options
        secure = slot.key[0] == "https"
        dial = self._dial(slot.key, alpn_offer(options.http1, options.http2) if secure else None)
        delays = connect_delays(options.retries)
        try:
            while True:
                try:
                    if tracer is not None:
                        tracer.event(
                            "connection.connect_tcp.started",
                            host=slot.key[1],
                            port=slot.key[2],
                            local_address=options.local_address,
                            timeout=timeout,
                            socket_options=None,
                        )
                    handover = await open_connection(dial, timeout)
                    if tracer is not None:
                        _trace_connected(tracer, handover, dial, timeout)
                    break
                except Exception as exc:
                    delay = next(delays, None)
                    if delay is None or translate(exc, CONNECT, request) is None:
                        raise
                    if delay:
                        await asyncio.sleep(delay)  # a backoff between attempts, as httpcore's
            if secure:
                chosen = handover.selected_alpn
                http2 = chosen == "h2" or (chosen is None and not options.http1)
            else:
                http2 = options.http2 and not options.http1
            if http2:
                await self._start_h2(slot, handover, timeout)
            else:
                self._start_h1(slot, handover, timeout)
        except BaseException as exc:
            self._act(self._pool.connect_failed(entry))
            slot.close()
            error = translate(exc, CONNECT, request) if isinstance(exc, Exception) else None
            if error is None:
                raise
            raise error from exc
        limit = slot.h2.peer_max_concurrent_streams if slot.h2 is not None else None
        loop = asyncio.get_running_loop()
        self._act(self._pool.connected(entry, http2, limit, loop.time()))

    async def _start_h2(self, slot: _Slot, first: Handover, timeout: float | None) -> None:
        scheme, host, port = slot.key
        secure = scheme == "https"
        dial = self._dial(slot.key, ("h2",) if secure else None)
        pending: list[Handover] = [first]

        async def opener() -> Handover:
            # The first connection is the one ALPN chose HTTP/2 on; after a
            # GOAWAY the connection object asks for another.
            if pending:
                return pending.pop()
            return await open_connection(dial, timeout)

        conn = AsyncHTTP20Connection(
            host,
            port,
            secure=secure,
            enable_push=self._options.enable_push,
            opener=opener,
        )
        slot.h2 = conn
        await conn.connect()

    def _start_h1(self, slot: _Slot, first: Handover, timeout: float | None) -> None:
        scheme, host, port = slot.key
        options = self._options
        secure = scheme == "https"
        dial = self._dial(slot.key, ("http/1.1",) if secure else None)
        proxy = options.proxy
        forward = proxy is not None and not secure

        async def opener() -> Handover:
            return await open_connection(dial, timeout)

        authority = f"[{host}]" if ":" in host else host
        if port != (443 if secure else 80):
            authority += f":{port}"
        conn = AsyncH1Connection(
            opener,
            f"{host}:{port}",
            absolute=f"{scheme}://{authority}".encode("idna") if forward else None,
            extra_headers=proxy.headers if forward and proxy is not None else None,
        )
        conn.attach(first)
        slot.h1 = conn

    # ------------------------------------------------------------------
    # Requests

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its response, the body still to be
        read from ``response.stream``."""
        check_url(request)
        loop = _running_loop()
        timeouts = timeouts_of(request)
        key = origin_of(request)
        body, replayable = request_body(request)
        headers = request.headers.raw
        method = request.method.encode("ascii")
        target = request.url.raw_path
        tracer = tracer_for(request)
        push = self._options.enable_push
        sent_again = False
        while True:
            ticket = await self._acquire(key, request, timeouts.pool, loop)
            entry = ticket.entry
            assert entry is not None
            if ticket.fresh:
                await self._connect(ticket, request, timeouts.connect, tracer)
            slot: _Slot = entry.conn
            phase = WRITE
            try:
                h2 = slot.h2
                if tracer is not None:
                    tracer.prefix = "http11" if h2 is None else "http2"
                    tracer.step("send_request_headers")
                if h2 is not None:
                    stream_id = await h2.request(
                        method, target, body, headers, timeout=timeouts.write
                    )
                    phase = READ
                    if tracer is not None:
                        tracer.sent()
                    resp = await h2.get_response(stream_id, timeout=timeouts.read)
                    raw_headers = list(resp.headers.iter_raw())
                    if tracer is not None:
                        tracer.head(True, resp.status, "", raw_headers)
                    trailers: list[tuple[bytes, bytes]] = []
                    return httpx.Response(
                        status_code=resp.status,
                        headers=raw_headers,
                        stream=_H2Body(
                            self, entry, resp, request, timeouts.read, trailers, tracer
                        ),
                        extensions=response_extensions(
                            True, "", stream_id, trailers, _pushes(resp) if push else None
                        ),
                    )
                h1 = slot.h1
                assert h1 is not None
                await h1.send(method, target, headers, body, replayable, timeouts.write)
                phase = READ
                if tracer is not None:
                    tracer.sent()
                head = await h1.receive(timeouts.read)
            except BaseException as exc:
                if phase == READ and h2 is not None:
                    _forget(h2, stream_id)
                self._release(entry, slot.h2 is not None)
                if may_send_again(exc, replayable, sent_again):
                    sent_again = True
                    continue
                error = translate(exc, phase, request) if isinstance(exc, Exception) else None
                if error is None:
                    raise
                raise error from exc
            trailers = []
            reason = head.reason.decode("latin-1")
            raw_headers = list(head.headers.raw_items())
            if tracer is not None:
                tracer.head(False, head.status_code, reason, raw_headers)
            return httpx.Response(
                status_code=head.status_code,
                headers=raw_headers,
                stream=_H1Body(self, entry, h1, request, timeouts.read, trailers, tracer),
                extensions=response_extensions(False, reason, None, trailers),
            )

    async def aclose(self) -> None:
        """Close the idle connections now, and the others once the
        responses being read on them are done (they are not cut off). The
        transport may be used again: later requests open new connections."""
        if not self._pool.entries and not self._abandoned:
            return  # nothing to close (and no loop needed: a client closed under trio)
        self._apply_abandoned(_running_loop())
        self._act(self._pool.shut())


class _Body(httpx.AsyncByteStream):
    """A response body read as httpx iterates it; done (read to its end, or
    closed) once, when its connection goes back to the pool."""

    _http2 = True

    def __init__(
        self,
        transport: AsyncHTTPTransport,
        entry: Entry[_Slot],
        request: httpx.Request,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
        tracer: Tracer | None,
    ) -> None:
        self._transport: AsyncHTTPTransport | None = transport
        self._entry = entry
        self._request = request
        self._timeout = timeout
        self._trailers = trailers
        self._tracer = tracer

    def _done(self, reusable: bool) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            tracer = self._tracer
            if tracer is not None:
                tracer.step("response_closed")
            transport._release(self._entry, reusable)
            if tracer is not None:
                tracer.done("response_closed")

    def _failed(self, exc: BaseException) -> BaseException | None:
        self._cut()
        self._done(self._http2)
        if isinstance(exc, Exception):
            return translate(exc, READ, self._request)
        return None

    def _cut(self) -> None:
        """Stop the body where it is."""

    async def aclose(self) -> None:
        if self._transport is not None:
            self._cut()
            self._done(self._http2)

    def __del__(self) -> None:
        transport = getattr(self, "_transport", None)
        if transport is not None:
            self._transport = None
            transport._abandoned.append((self._entry, self._http2))


class _H2Body(_Body):
    def __init__(
        self,
        transport: AsyncHTTPTransport,
        entry: Entry[_Slot],
        resp: Any,
        request: httpx.Request,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
        tracer: Tracer | None,
    ) -> None:
        super().__init__(transport, entry, request, timeout, trailers, tracer)
        self._resp = resp

    async def __aiter__(self) -> AsyncIterator[bytes]:
        resp = self._resp
        tracer = self._tracer
        if tracer is not None:
            tracer.step("receive_response_body")
        try:
            # Each read waits at most the request's read timeout (the response's own).
            while True:
                chunk = await resp.read(_READ_STEP, decode_content=False)
                if not chunk:
                    break
                yield chunk
        except BaseException as exc:
            error = self._failed(exc)
            if error is None:
                raise
            raise error from exc
        if tracer is not None:
            tracer.done("receive_response_body")
        self._trailers.extend(resp.trailers.iter_raw())
        self._done(True)

    def _cut(self) -> None:
        self._resp.close()  # an unfinished body's stream is reset (CANCEL)


class _H1Body(_Body):
    _http2 = False

    def __init__(
        self,
        transport: AsyncHTTPTransport,
        entry: Entry[_Slot],
        conn: AsyncH1Connection,
        request: httpx.Request,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
        tracer: Tracer | None,
    ) -> None:
        super().__init__(transport, entry, request, timeout, trailers, tracer)
        self._conn = conn
        self._ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        tracer = self._tracer
        if tracer is not None:
            tracer.step("receive_response_body")
        try:
            async for chunk in self._conn.body(self._timeout, self._trailers):
                yield chunk
        except BaseException as exc:
            error = self._failed(exc)
            if error is None:
                raise
            raise error from exc
        if tracer is not None:
            tracer.done("receive_response_body")
        self._ended = True
        self._done(True)

    def _cut(self) -> None:
        # The rest is not read: the connection is dropped (as httpcore).
        if not self._ended:
            self._conn.close()
