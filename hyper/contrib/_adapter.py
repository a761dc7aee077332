"""
:class:`HTTP2Adapter`: a requests transport adapter over hyper's
:class:`~hyper.HTTPConnection`, HTTP/2 where the server offers it.

``send`` turns a ``PreparedRequest`` into one request on a pooled
connection (see :mod:`hyper.contrib._pool`) and hands back an ordinary
``requests.Response`` whose ``raw`` is a :class:`RawResponse` streaming the
body from hyper. Everything around it (redirects, cookies into the session's
jar, auth, hooks, ``r.elapsed``) stays the session's job, as with requests'
own adapter.

Pools are keyed by everything a connection is made with: scheme, host,
port, proxy, TLS settings (``verify``, ``cert``) and the timeout pair. A
connection made with one set of settings never carries a request made with
another; in particular the read timeout a connection enforces is the
request's own, so it bounds each request's waits on its own stream.

Retries: a request the server refused without processing it (a stream
above a GOAWAY's last-stream-id, or REFUSED_STREAM), or one met by a dead
connection that had been idle (an idempotent request whose body can be sent
again), is retried once on a fresh connection. ``max_retries`` adds that
many more attempts for failures to connect and, for such requests, for
connections lost before any answer. Nothing else is retried.
"""

from __future__ import annotations

import http.client
import logging
import os
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Callable, cast

from requests.adapters import BaseAdapter
from requests.cookies import extract_cookies_to_jar
from requests.exceptions import InvalidProxyURL
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from hyper.common.exceptions import HyperError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.connection import HTTPConnection
from hyper.contrib._errors import send_error
from hyper.contrib._plan import (
    CountedBody,
    Plan,
    PoolKey,
    Retries,
    connection_key,
    plan_request,
    proxy_url,
)
from hyper.contrib._pool import HTTP1, Entry, Pool
from hyper.contrib._raw import RawResponse
from hyper.tls import init_context

__all__ = ["HTTP2Adapter", "HTTP20Adapter"]

_log = logging.getLogger("hyper.contrib")

MetricsCallback = Callable[..., Any]

# HTTP/2 has no reason phrase; r.reason (and raise_for_status) gets the
# standard one instead of ''.
_REASONS = http.client.responses
_PROTOCOLS = {20: "HTTP/2", 11: "HTTP/1.1"}


class _Exchange:
    """One request between ``send`` and the end of its body: hands the
    connection slot back and reports the metrics, once."""

    __slots__ = (
        "adapter",
        "pool",
        "entry",
        "method",
        "url",
        "status",
        "started",
        "stream_id",
        "version",
        "sent",
        "reused",
    )

    def __init__(
        self,
        adapter: HTTP2Adapter,
        pool: Pool | None,
        entry: Entry | None,
        method: str,
        url: str,
        started: float,
        reused: bool,
    ) -> None:
        self.adapter = adapter
        self.pool = pool
        self.entry = entry
        self.method = method
        self.url = url
        self.started = started
        self.reused = reused
        self.status: int | None = None
        self.stream_id: int | None = None
        self.version = 20
        self.sent: int | CountedBody | None = None

    def finish(self, received: int, error: BaseException | None) -> None:
        entry = self.entry
        if self.pool is not None and entry is not None:
            self.pool.release(entry, error is not None and entry.state == HTTP1)
        if self.adapter.metrics_callback is not None:
            self.report(received, error)

    def abandon(self, received: int) -> None:
        if self.pool is not None and self.entry is not None:
            self.pool.abandon(self.entry)
        if self.adapter.metrics_callback is not None:
            self.report(received, None)

    def report(self, received: int | None, error: BaseException | None) -> None:
        callback = self.adapter.metrics_callback
        if callback is None:
            return
        sent = self.sent
        try:
            callback(
                method=self.method,
                url=self.url,
                status=self.status,
                duration=time.perf_counter() - self.started,
                stream_id=self.stream_id,
                protocol=_PROTOCOLS[self.version],
                bytes_sent=sent.sent if isinstance(sent, CountedBody) else sent,
                bytes_received=received,
                connection_reused=self.reused,
                error=error,
            )
        except Exception:
            # A broken callback must never break the request it reports on.
            _log.exception("hyper.contrib: the metrics callback raised")


class HTTP2Adapter(BaseAdapter):
    """
    A requests transport adapter speaking HTTP/2 (HTTP/1.1 where the server
    does not), through pooled :class:`hyper.HTTPConnection` objects.

    :param pool_connections: how many pools (one per origin and set of
        settings: TLS, proxy, timeout) to keep; the least recently used is
        closed past that.
    :param pool_maxsize: the most connections per pool. Past it a request
        waits (within its timeout) for a free stream or connection.
    :param max_concurrent_streams: the most requests at once on one HTTP/2
        connection (never more than the server allows); when every
        connection is that busy a new one opens.
    :param initial_window_size: the receive window advertised per stream.
    :param enable_push: accept server push; pushes are on
        ``response.raw.pushes``.
    :param metrics_callback: called once per request, when its body is done
        (or it failed), with keyword arguments ``method``, ``url``,
        ``status``, ``duration`` (seconds), ``stream_id`` (None on HTTP/1.1),
        ``protocol``, ``bytes_sent``, ``bytes_received`` (body bytes),
        ``connection_reused`` and ``error`` (None on success). What it raises
        is logged, never passed on.
    :param max_retries: more attempts for failures to connect and, for
        idempotent requests whose body can be sent again, for connections
        lost before any answer (an int, or a urllib3 ``Retry`` whose
        ``total`` is used).
    :param kwargs: passed to each :class:`hyper.HTTPConnection` (for example
        ``window_manager``).

    Concurrency: one adapter (and the session it is mounted on) may be used
    from any number of threads.
    """

    def __init__(
        self,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
        max_concurrent_streams: int = 100,
        initial_window_size: int = 65536,
        enable_push: bool = False,
        metrics_callback: MetricsCallback | None = None,
        max_retries: Any = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.pool_connections = pool_connections
        self.pool_maxsize = pool_maxsize
        self.max_concurrent_streams = max_concurrent_streams
        self.initial_window_size = initial_window_size
        self.enable_push = enable_push
        self.metrics_callback = metrics_callback
        total = getattr(max_retries, "total", max_retries)
        self.max_retries = int(total) if isinstance(total, int) else 0
        self._connection_kwargs = kwargs
        self._settings = {
            "pool_connections": pool_connections,
            "pool_maxsize": pool_maxsize,
            "max_concurrent_streams": max_concurrent_streams,
            "initial_window_size": initial_window_size,
            "enable_push": enable_push,
            "metrics_callback": metrics_callback,
            "max_retries": self.max_retries,
            **kwargs,
        }
        self._pools: OrderedDict[PoolKey, Pool] = OrderedDict()
        self._contexts: dict[tuple[Any, Any], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # A pickled session (requests supports that) carries its adapters: the
        # settings travel, the connections do not.
        return dict(self._settings)

    def __setstate__(self, state: dict[str, Any]) -> None:
        HTTP2Adapter.__init__(self, **state)

    # ------------------------------------------------------------------
    # Pools

    def _pool(self, key: PoolKey) -> Pool:
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
        pool = self._new_pool(key)
        evicted: list[Pool] = []
        with self._lock:
            existing = self._pools.get(key)
            if existing is not None:
                return existing  # another thread made it first
            self._pools[key] = pool
            while len(self._pools) > max(1, self.pool_connections):
                evicted.append(self._pools.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return pool

    def _new_pool(self, key: PoolKey) -> Pool:
        scheme, host, port, proxy, timeouts, verify, cert = key
        secure = scheme == "https"
        context = self._tls_context(verify, cert) if secure else None
        proxy_host = proxy_url(proxy)
        options = {
            "secure": secure,
            "ssl_context": context,
            "proxy_host": proxy_host,
            "timeout": None if timeouts == (None, None) else timeouts,
            "enable_push": self.enable_push,
            "initial_window_size": self.initial_window_size,
            **self._connection_kwargs,
        }
        try:
            HTTPConnection(host, port, **options)  # check the arguments once
        except ValueError as exc:
            raise InvalidProxyURL(f"cannot use the proxy {proxy_host!r}: {exc}") from exc

        def factory() -> HTTPConnection:
            return HTTPConnection(host, port, **options)

        return Pool(factory, self.pool_maxsize, self.max_concurrent_streams, secure)

    def _tls_context(self, verify: Any, cert: Any) -> ssl.SSLContext | None:
        """
        The context for ``verify`` and ``cert``. requests' default
        (``verify=True``, no client certificate) gets None: the connection
        then uses hyper's shared default (:func:`hyper.tls.default_context`),
        which honours an assigned ``hyper.tls._context``. Handing the shared
        context over as ``ssl_context`` instead would let each connection set
        its ALPN protocols on the context every front end uses. Any other
        pair gets a context of its own, built once: loading CAs is slow.
        """
        if verify is True and cert is None:
            return None
        key = (verify, cert)
        context = self._contexts.get(key)
        if context is None:
            _check_tls_files(verify, cert)
            if verify is True or verify is False:
                context = init_context(cert=cert)
            else:
                context = init_context(cert_path=verify, cert=cert)
            if verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._contexts[key] = context
        return context

    def get_connection(
        self,
        host: str,
        port: int | None,
        scheme: str,
        cert: Any = None,
        verify: bool | str = True,
        proxy: str | None = None,
        timeout: Any = None,
    ) -> HTTPConnection:
        """
        The pooled connection for this origin and these settings, made but
        not connected if the pool has none yet (historic hyper's call): the
        same object on a second call, and the one ``send`` uses first for a
        request with the same settings. ``port`` None means the scheme's.

        :raises requests.exceptions.InvalidSchema: not ``http`` or ``https``.
        :raises requests.exceptions.InvalidURL: an empty host.
        """
        key = connection_key(host, port, scheme, cert, verify, proxy, timeout)
        return self._pool(key).connection()

    @property
    def connections(self) -> dict[PoolKey, HTTPConnection]:
        """
        The pooled connections, keyed by origin and settings (scheme, host,
        port, proxy, timeouts, verify, cert): a snapshot, empty once the
        adapter is closed. A pool may hold more than one connection to an
        origin (``pool_maxsize``); this shows the first, the one
        :meth:`get_connection` returns.
        """
        with self._lock:
            pools = list(self._pools.items())
        found = {}
        for key, pool in pools:
            live = pool.live_connections()
            if live:
                found[key] = live[0]
        return found

    # ------------------------------------------------------------------
    # Sending: plan the request (no I/O), then perform it

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        """
        Send a ``PreparedRequest`` and return the ``Response``; its body is
        read from the connection as the caller reads it (``stream=True``) or
        by the session before it returns.

        :raises requests.exceptions.ConnectionError: the server could not be
            reached, or the connection failed before the response came.
        :raises requests.exceptions.ConnectTimeout: connecting took longer
            than the connect timeout.
        :raises requests.exceptions.ReadTimeout: no response within the read
            timeout (only this request's stream is reset).
        :raises requests.exceptions.SSLError: the TLS handshake failed (a
            certificate that cannot be verified, say).
        :raises requests.exceptions.ProxyError: the proxy refused the tunnel.

        Each carries hyper's exception as its ``__cause__``.
        """
        started = time.perf_counter()
        plan = plan_request(
            request, timeout, verify, cert, proxies, self.metrics_callback is not None
        )
        pool = self._pool(plan.key)
        entry, fresh, resp = self._perform(pool, plan, request, started)
        exchange = _Exchange(self, pool, entry, plan.method, plan.url, started, not fresh)
        exchange.sent = plan.sent
        # From the response: after an h2c upgrade it is on stream 1, though
        # the request went out as HTTP/1.1.
        exchange.stream_id = getattr(resp, "stream_id", None)
        return self._build_response(request, resp, exchange)

    def _perform(
        self, pool: Pool, plan: Plan, request: PreparedRequest, started: float
    ) -> tuple[Entry, bool, Any]:
        """Make the request, again while the retry rule allows; return the
        connection's entry, whether it was new, and the response."""
        retries = Retries(plan, self.max_retries)
        while True:
            attempt = _Attempt()
            try:
                return _try_once(pool, plan, attempt)
            except BaseException as exc:
                entry = attempt.entry
                if entry is not None:
                    pool.release(entry, entry.state == HTTP1)
                if retries.allow(exc, attempt.entry is None, attempt.idle):
                    continue
                error = self._failed(exc, request, plan, attempt, started)
                if error is None:
                    raise
                raise error from exc

    def _failed(
        self,
        exc: BaseException,
        request: PreparedRequest,
        plan: Plan,
        attempt: _Attempt,
        started: float,
    ) -> BaseException | None:
        """The one place a failure to send becomes requests' exception (None:
        ``exc`` is raised as it is) and is reported to the metrics."""
        error = send_error(exc, request, attempt.entry is None, plan.proxied)
        if self.metrics_callback is not None:
            failed = _Exchange(self, None, None, plan.method, plan.url, started, False)
            failed.sent = plan.sent
            failed.stream_id = attempt.stream_id
            failed.report(None, error or exc)
        return error

    def _build_response(
        self, request: PreparedRequest, resp: Any, exchange: _Exchange
    ) -> Response:
        status = resp.status
        values: dict[str, str] = {}
        first: dict[str, str] = {}
        for name, value in resp.getheaders():
            low = name.lower()
            known = first.get(low)
            if known is None:
                first[low] = name
                values[name] = value
            else:
                values[known] += ", " + value  # as requests joins repeated fields
        headers = CaseInsensitiveDict(values)
        reason = resp.reason or _REASONS.get(status, "")
        has_cookies = "set-cookie" in first
        raw = RawResponse(resp, reason, headers, exchange.stream_id, has_cookies, exchange)
        exchange.status = status
        exchange.version = raw.version

        response = Response()
        response.status_code = status
        response.headers = headers
        response.encoding = get_encoding_from_headers(headers)
        response.raw = raw
        response.reason = reason
        response.url = request.url or ""
        if has_cookies:
            extract_cookies_to_jar(response.cookies, request, raw)
        response.request = request
        # requests types ``connection`` as its own HTTPAdapter; any adapter
        # with ``send`` is what it uses it for (auth handlers resend with it).
        cast(Any, response).connection = self
        return response

    def close(self) -> None:
        """
        Close the pools: idle connections now, busy ones once their last
        response is read or closed (a streamed response outlives its
        Session). The next request opens a fresh pool.
        """
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


def _check_tls_files(verify: Any, cert: Any) -> None:
    """requests' HTTPAdapter's checks, in its words: a CA bundle, client
    certificate or key path that does not exist is an ``OSError``."""
    if isinstance(verify, str) and not os.path.exists(verify):
        raise OSError(
            f"Could not find a suitable TLS CA certificate bundle, invalid path: {verify}"
        )
    if cert is None:
        return
    cert_file, key_file = (cert, None) if isinstance(cert, str) else cert
    if cert_file and not os.path.exists(cert_file):
        raise OSError(f"Could not find the TLS certificate file, invalid path: {cert_file}")
    if key_file and not os.path.exists(key_file):
        raise OSError(f"Could not find the TLS key file, invalid path: {key_file}")


class _Attempt:
    """How far one try went: the connection's entry once it had one, and
    the stream once the request was sent."""

    __slots__ = ("entry", "idle", "stream_id")

    def __init__(self) -> None:
        self.entry: Entry | None = None
        # The connection had served requests and had none in flight: a
        # failure on it means it died while idle.
        self.idle = False
        self.stream_id: int | None = None


def _try_once(pool: Pool, plan: Plan, attempt: _Attempt) -> tuple[Entry, bool, Any]:
    """One try: a connection from the pool, the request on it, the response
    head. A timeout resets only this request's stream."""
    entry, fresh = pool.acquire(plan.wait)
    attempt.entry = entry
    attempt.idle = entry.served > 0 and entry.active == 1
    conn = entry.conn
    # encode_chunked: requests never chunk-encodes a body itself (with its
    # Transfer-Encoding: chunked, http.client's default would say it did).
    stream_id = attempt.stream_id = conn.request(
        plan.method, plan.path, plan.body, plan.headers, encode_chunked=True
    )
    try:
        resp = conn.getresponse(stream_id)
    except HyperTimeoutError:
        if stream_id is not None:
            _reset(conn, stream_id)  # only this stream: the rest carry on
        raise
    pool.started(entry)
    return entry, fresh, resp


def _reset(conn: HTTPConnection, stream_id: int) -> None:
    try:
        conn.reset_stream(stream_id)
    except HyperError:
        pass  # the stream (or its connection) is gone already: nothing to stop


class HTTP20Adapter(HTTP2Adapter):
    """
    The historic name of :class:`HTTP2Adapter`, with its historic
    ``window_manager`` argument (a :class:`~hyper.engine.window.BaseFlowControlManager`
    subclass); other arguments as :class:`HTTP2Adapter`.
    """

    def __init__(self, window_manager: Any = None, **kwargs: Any) -> None:
        if window_manager is not None:
            kwargs["window_manager"] = window_manager
        super().__init__(**kwargs)
