"""
:class:`HTTPTransport`: an ``httpx.BaseTransport`` over hyper's blocking
connections (:class:`~hyper.HTTPConnection`, :class:`~hyper.HTTP20Connection`,
:class:`~hyper.HTTP11Connection`), pooled by :mod:`._pool`.

Which connection class serves an origin follows from the transport's
``http1``/``http2`` and the scheme: over TLS with both, ``HTTPConnection``
(ALPN picks); one of them alone, that version's class; cleartext speaks
HTTP/1.1 (no ``Upgrade: h2c``, as httpcore), or HTTP/2 with prior knowledge
when ``http2`` is the only one allowed.

A connection is made with the connect and read timeouts of the request
that opened it, and carries only requests with those same timeouts (they
are part of its pool key): hyper's blocking connections bound each wait by
one read timeout, shared by the threads on a connection. Writes are bounded
by the read timeout too.

Concurrency: one transport (and the ``httpx.Client`` over it) may be used
from any number of threads; requests to one HTTP/2 origin share its
connection.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any, Union

import httpx

from hyper.common.exceptions import HyperError
from hyper.common.util import HTTPVersion
from hyper.connection import HTTPConnection
from hyper.contrib.httpx._common import (
    check_url,
    connect_delays,
    origin_of,
    request_body,
    response_extensions,
    timeouts_of,
)
from hyper.contrib.httpx._errors import CONNECT, READ, WRITE, translate
from hyper.contrib.httpx._options import DEFAULT_LIMITS, Options, read_options, tls_context
from hyper.contrib.httpx._pool import Changes, Entry, PoolPolicy, Ticket
from hyper.contrib.httpx._trace import Tracer, tracer_for
from hyper.core.origin import may_send_again
from hyper.http11.connection import HTTP11Connection
from hyper.http20.connection import HTTP20Connection

__all__ = ["HTTPTransport"]

_Conn = Union[HTTPConnection, HTTP20Connection, HTTP11Connection]
#: scheme, host, port, connect timeout, read timeout.
_Key = tuple[str, str, int, Any, Any]


class HTTPTransport(httpx.BaseTransport):
    """
    An ``httpx`` transport speaking HTTP/2 through hyper (HTTP/1.1 where
    the server does not)::

        client = httpx.Client(transport=hyper.contrib.httpx.HTTPTransport())

    Takes ``httpx.HTTPTransport``'s arguments, with ``http2`` on by default:

    :param verify: True (certifi's CAs), False, a CA bundle path, or an
        ``ssl.SSLContext``.
    :param cert: a client certificate: a path, or ``(cert, key[, password])``.
    :param trust_env: honour ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``.
    :param http1: may speak HTTP/1.1.
    :param http2: may speak HTTP/2 (over TLS when the server agrees through
        ALPN; over cleartext only when ``http1`` is False: prior knowledge).
    :param limits: an ``httpx.Limits``: ``max_connections`` in all,
        ``max_keepalive_connections`` kept idle, ``keepalive_expiry`` seconds.
    :param proxy: an ``http://`` proxy (a URL or an ``httpx.Proxy``):
        ``https://`` requests tunnel through it (CONNECT), ``http://`` ones
        are forwarded.
    :param retries: how many more times to try connecting after a failure
        to connect.
    :param enable_push: accept server push (off: SETTINGS_ENABLE_PUSH 0).
    :raises ValueError: an argument hyper cannot honour (``uds``,
        ``socket_options``, a non-http proxy).

    Responses carry ``extensions["http_version"]`` (``b"HTTP/2"`` or
    ``b"HTTP/1.1"``), ``reason_phrase`` (HTTP/1.1), ``stream_id`` (HTTP/2)
    and ``trailers`` (filled in once the body has been read).
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
        if uds is not None:
            raise ValueError(
                "hyper's blocking connections cannot use uds; "
                "hyper.contrib.httpx.AsyncHTTPTransport can"
            )
        self._options: Options = read_options(
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            http1=http1,
            http2=http2,
            limits=limits,
            proxy=proxy,
            uds=None,
            local_address=local_address,
            retries=retries,
            socket_options=socket_options,
            enable_push=enable_push,
        )
        self._lock = threading.Lock()
        self._pool: PoolPolicy[_Conn] = PoolPolicy(
            self._make,
            limits.max_connections,
            limits.max_keepalive_connections,
            limits.keepalive_expiry,
        )
        # Releases from a body's __del__ (any thread, maybe one inside
        # _lock): queued, applied by the next request or release.
        self._abandoned: deque[tuple[Entry[_Conn], bool]] = deque()

    # ------------------------------------------------------------------
    # Connections

    def _shares(self, scheme: str) -> bool:
        options = self._options
        if scheme == "https":
            return options.http2
        return options.http2 and not options.http1

    def _make(self, key: _Key) -> _Conn:
        scheme, host, port, connect, read = key
        options = self._options
        secure = scheme == "https"
        common: dict[str, Any] = {"timeout": (connect, read)}
        if options.local_address is not None:
            common["source_address"] = (options.local_address, 0)
        proxy = options.proxy
        if proxy is not None:
            common["proxy_host"] = proxy.host
            common["proxy_port"] = proxy.port
            common["proxy_headers"] = proxy.headers or None
        if secure and options.http1 and options.http2:
            return HTTPConnection(
                host,
                port,
                secure=True,
                ssl_context=options.ssl_context,
                enable_push=options.enable_push,
                **common,
            )
        if options.http2 and (secure or not options.http1):
            return HTTP20Connection(
                host,
                port,
                secure=secure,
                ssl_context=options.ssl_context if secure else None,
                enable_push=options.enable_push,
                **common,
            )
        context = None
        if secure and options.ssl_context is not None:
            context = tls_context(options, ("http/1.1",))
        # HTTP/1.1 was chosen here: no h2c offer (httpx's own Connection
        # header suppresses it today; this does not depend on that).
        return HTTP11Connection(
            host, port, secure=secure, ssl_context=context, force_proto="http/1.1", **common
        )

    def _acquire(self, key: _Key, request: httpx.Request, timeout: float | None) -> Ticket:
        """A connection (``ticket.entry``) for the request, waiting up to the
        pool timeout; ``ticket.fresh``: connect it first."""
        ticket = Ticket(key, self._shares(key[0]))
        pool = self._pool
        earlier = Changes()
        with self._lock:
            if self._abandoned:
                self._apply_abandoned(earlier)
            changes = pool.acquire(ticket, time.monotonic())
            if ticket.entry is None:
                ticket.waker = threading.Event()
        self._act(earlier)
        self._act(changes)
        if ticket.entry is not None:
            return ticket
        if not ticket.waker.wait(timeout):
            with self._lock:
                assigned = ticket.entry is not None  # just now, by a release
                if not assigned:
                    changes = pool.cancel(ticket, time.monotonic())
            if not assigned:
                self._act(changes)
                raise httpx.PoolTimeout(
                    f"no connection or stream came free within {timeout} s", request=request
                )
        return ticket

    @staticmethod
    def _act(changes: Changes) -> None:
        """Do what the pool decided (outside the lock)."""
        for ticket in changes.woken:
            ticket.waker.set()
        for conn in changes.closing:
            _close_quietly(conn)

    def _apply_abandoned(self, changes: Changes) -> None:
        """Apply the queued releases into ``changes`` (``_lock`` held)."""
        queue = self._abandoned
        while queue:
            entry, reusable = queue.popleft()
            done = self._pool.release(entry, time.monotonic(), reusable)
            changes.woken.extend(done.woken)
            changes.closing.extend(done.closing)

    def _release(self, entry: Entry[_Conn], reusable: bool) -> None:
        conn = entry.conn
        earlier = Changes()
        with self._lock:
            if self._abandoned:
                self._apply_abandoned(earlier)
            if not isinstance(conn, HTTP11Connection):
                self._pool.update_limit(entry, conn.peer_max_concurrent_streams)
            changes = self._pool.release(entry, time.monotonic(), reusable)
        self._act(earlier)
        self._act(changes)

    def _abandon(self, entry: Entry[_Conn], reusable: bool) -> None:
        self._abandoned.append((entry, reusable))

    def _connect(self, ticket: Ticket, request: httpx.Request) -> None:
        """Connect a fresh entry's connection, trying ``retries`` more times
        on a failure to connect."""
        entry = ticket.entry
        assert entry is not None
        conn: _Conn = entry.conn
        delays = connect_delays(self._options.retries)
        while True:
            try:
                conn.connect()
                break
            except BaseException as exc:
                error = translate(exc, CONNECT, request) if isinstance(exc, Exception) else None
                delay = next(delays, None) if error is not None else None
                if delay is not None:
                    if delay:
                        time.sleep(delay)  # a backoff between attempts, as httpcore's
                    continue
                with self._lock:
                    changes = self._pool.connect_failed(entry)
                self._act(changes)
                _close_quietly(conn)
                if error is None:
                    raise
                raise error from exc
        http2 = conn.version is HTTPVersion.http20
        limit = (
            conn.peer_max_concurrent_streams if not isinstance(conn, HTTP11Connection) else None
        )
        with self._lock:
            changes = self._pool.connected(entry, http2, limit, time.monotonic())
        self._act(changes)

    # ------------------------------------------------------------------
    # Requests

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its response, the body still to be read
        from ``response.stream``."""
        check_url(request)
        timeouts = timeouts_of(request)
        scheme, host, port = origin_of(request)
        key = (scheme, host, port, timeouts.connect, timeouts.read)
        body, replayable = request_body(request)
        headers = request.headers.raw
        if not replayable:
            # A streamed body: hyper frames it (chunked on HTTP/1.1). httpx's
            # own "Transfer-Encoding: chunked" would tell a connection that
            # follows http.client that the caller chunked the body already.
            headers = [field for field in headers if field[0].lower() != b"transfer-encoding"]
        method = request.method.encode("ascii")
        target = request.url.raw_path
        tracer = tracer_for(request)
        sent_again = False
        while True:
            ticket = self._acquire(key, request, timeouts.pool)
            entry = ticket.entry
            assert entry is not None
            if ticket.fresh:
                self._connect(ticket, request)
            conn: _Conn = entry.conn
            phase = WRITE
            try:
                if tracer is not None:
                    tracer.prefix = "http2" if conn.version is HTTPVersion.http20 else "http11"
                    tracer.step("send_request_headers")
                stream_id = conn.request(method, target, body, headers)
                phase = READ
                if tracer is not None:
                    tracer.sent()
                resp = conn.getresponse(stream_id)
            except BaseException as exc:
                http2 = conn.version is HTTPVersion.http20
                if phase == READ and http2 and stream_id is not None:
                    _forget(conn, stream_id)
                # An HTTP/1.1 exchange cut short leaves its connection unusable.
                self._release(entry, http2)
                if may_send_again(exc, replayable, sent_again):
                    sent_again = True
                    continue
                error = translate(exc, phase, request) if isinstance(exc, Exception) else None
                if error is None:
                    raise
                raise error from exc
            http2 = resp.version is HTTPVersion.http20
            raw_headers = list(resp.headers.iter_raw())
            if tracer is not None:
                tracer.prefix = "http2" if http2 else "http11"
                tracer.head(http2, resp.status, resp.reason, raw_headers)
            trailers: list[tuple[bytes, bytes]] = []
            return httpx.Response(
                status_code=resp.status,
                headers=raw_headers,
                stream=_Body(self, entry, resp, request, http2, trailers, tracer),
                extensions=response_extensions(
                    http2,
                    resp.reason,
                    getattr(resp, "stream_id", None),
                    trailers,
                    _pushes(resp) if http2 and self._options.enable_push else None,
                ),
            )

    def close(self) -> None:
        """Close the idle connections now, and the others once the
        responses being read on them are done (they are not cut off). The
        transport may be used again: later requests open new connections."""
        changes = Changes()
        with self._lock:
            self._apply_abandoned(changes)
            shut = self._pool.shut()
        self._act(changes)
        self._act(shut)


class _Body(httpx.SyncByteStream):
    """A response body read from hyper as httpx iterates it; done (read to
    its end, or closed) once, when its connection goes back to the pool."""

    def __init__(
        self,
        transport: HTTPTransport,
        entry: Entry[_Conn],
        resp: Any,
        request: httpx.Request,
        http2: bool,
        trailers: list[tuple[bytes, bytes]],
        tracer: Tracer | None,
    ) -> None:
        self._transport: HTTPTransport | None = transport
        self._entry = entry
        self._resp = resp
        self._request = request
        self._http2 = http2
        self._trailers = trailers
        self._tracer = tracer

    def __iter__(self) -> Iterator[bytes]:
        resp = self._resp
        tracer = self._tracer
        if tracer is not None:
            tracer.step("receive_response_body")
        try:
            yield from resp.read_chunked(decode_content=False)
        except BaseException as exc:
            if isinstance(exc, GeneratorExit):
                raise  # the caller stopped iterating: close() decides
            self._cut()
            self._done(False)
            error = translate(exc, READ, self._request) if isinstance(exc, Exception) else None
            if error is None:
                raise
            raise error from exc
        if tracer is not None:
            tracer.done("receive_response_body")
        self._trailers.extend(resp.trailers.iter_raw())
        self._done(True)

    def close(self) -> None:
        if self._transport is not None:
            complete = self._resp.isclosed()  # read to its end (closed: only closed)
            if not complete:
                self._cut()
            self._done(complete)

    def _cut(self) -> None:
        """Stop an unfinished body: HTTP/2 resets the stream (CANCEL); HTTP/1.1
        drops the connection rather than read the rest (as httpcore)."""
        if self._http2:
            self._resp.close()
        else:
            self._resp.close(socket_close=True)

    def _done(self, reusable: bool) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            tracer = self._tracer
            if tracer is not None:
                tracer.step("response_closed")
            transport._release(self._entry, reusable or self._http2)
            if tracer is not None:
                tracer.done("response_closed")

    def __del__(self) -> None:
        transport = getattr(self, "_transport", None)
        if transport is not None:
            self._transport = None
            transport._abandon(self._entry, self._http2)


def _forget(conn: Any, stream_id: int) -> None:
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


def _close_quietly(conn: _Conn) -> None:
    try:
        conn.close()
    except Exception:
        pass  # closing is best effort: the connection is dropped either way
