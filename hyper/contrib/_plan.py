"""
What the requests adapter decides about a request before any I/O
(:meth:`HTTP2Adapter.send <hyper.contrib.HTTP2Adapter.send>` plans, then
performs): the pool it goes to (keyed by everything a connection is made
with), its target, fields and body as they go out, how long it may wait for
a connection, and whether a failed try is made again (:class:`Retries`).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any, Optional
from urllib.parse import urlsplit

from requests.exceptions import InvalidProxyURL, InvalidSchema, InvalidURL
from requests.models import PreparedRequest
from requests.utils import prepend_scheme_if_needed, select_proxy

from hyper.common.exceptions import ProxyError as HyperProxyError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.core.origin import may_send_again

__all__ = [
    "CountedBody",
    "Plan",
    "PoolKey",
    "Retries",
    "connection_key",
    "plan_request",
    "proxy_url",
]

_Timeouts = tuple[Optional[float], Optional[float]]
#: scheme, host, port, proxy, (connect, read) timeouts, verify, cert.
PoolKey = tuple[Any, ...]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 9110 9.2.2: safe to send again when the connection died before any answer.
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))


def _split_timeout(timeout: Any) -> _Timeouts:
    """requests' ``timeout``: None, a number, a ``(connect, read)`` pair, or
    a urllib3 ``Timeout``."""
    if timeout is None:
        return None, None
    if isinstance(timeout, tuple):
        try:
            connect, read = timeout
        except ValueError:
            raise ValueError(
                f"Invalid timeout {timeout}. Pass a (connect, read) timeout tuple, "
                "or a single float to set both timeouts to the same value."
            ) from None
        return _timeout_value("connect", connect), _timeout_value("read", read)
    if hasattr(timeout, "connect_timeout"):
        connect, read = timeout.connect_timeout, timeout.read_timeout
        return (
            connect if isinstance(connect, (int, float)) else None,
            read if isinstance(read, (int, float)) else None,
        )
    value = _timeout_value("connect", timeout)
    return value, _timeout_value("read", timeout)


def _timeout_value(name: str, value: Any) -> float | None:
    """One timeout, checked as urllib3's ``Timeout`` does (requests' users
    and tests expect its words)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Timeout value {name} was {value}, but it must be an int, float or None."
        )
    if value <= 0:
        raise ValueError(
            f"Attempted to set {name} timeout to {value}, but the timeout cannot be "
            "set to a value less than or equal to 0."
        )
    return float(value)


class CountedBody:
    """An upload streamed as an iterable, counting what went out (for metrics)."""

    __slots__ = ("_source", "sent")

    def __init__(self, source: Any) -> None:
        self._source = source
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        source = self._source
        if hasattr(source, "read"):
            while True:
                chunk = source.read(65536)
                if not chunk:
                    return
                if isinstance(chunk, str):
                    chunk = chunk.encode("utf-8")
                self.sent += len(chunk)
                yield chunk
        for chunk in source:
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            self.sent += len(chunk)
            yield chunk


class Plan:
    """What ``send`` decided before any I/O: the pool, and the request as
    it goes on a connection."""

    __slots__ = (
        "key",
        "method",
        "url",
        "path",
        "headers",
        "body",
        "sent",
        "replayable",
        "proxied",
        "wait",
    )

    def __init__(
        self,
        key: PoolKey,
        method: str,
        url: str,
        path: str,
        headers: Any,
        body: Any,
        sent: int | CountedBody | None,
        replayable: bool,
        proxied: bool,
        wait: float | None,
    ) -> None:
        self.key = key
        self.method = method
        self.url = url
        self.path = path
        self.headers = headers
        self.body = body
        # The body's size for the metrics (a CountedBody counts as it goes;
        # None when not known and nobody asks).
        self.sent = sent
        # The body can be sent again (a retry replays it).
        self.replayable = replayable
        self.proxied = proxied
        # How long to wait for a free connection or stream.
        self.wait = wait


def plan_request(
    request: PreparedRequest,
    timeout: Any,
    verify: Any,
    cert: Any,
    proxies: Mapping[str, str] | None,
    counting: bool,
) -> Plan:
    """Everything ``send`` needs to know before any I/O; ``counting``: the
    metrics want the bytes sent."""
    url = request.url or ""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidSchema(f"hyper's adapter serves http and https, not {url!r}")
    if not parts.hostname:
        # A redirect to http://:1/, say: requests' adapter says the same
        # (urllib3's LocationValueError), and no DNS lookup of '' happens.
        raise InvalidURL("No host specified.", request=request)
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as exc:  # a port out of range or not a number
        raise InvalidURL(f"Invalid URL {url!r}: {exc}", request=request) from exc
    proxy = select_proxy(url, dict(proxies)) if proxies else None
    timeouts = _split_timeout(timeout)
    key = _pool_key(scheme, parts.hostname, port, proxy, timeouts, verify, cert)
    body, sent, replayable = _body(request.body, counting)
    return Plan(
        key,
        request.method or "GET",
        url,
        request.path_url,
        _headers(request.headers, scheme, proxy),
        body,
        sent,
        replayable,
        proxy is not None,
        timeouts[0] if timeouts[0] is not None else timeouts[1],
    )


def connection_key(
    host: str,
    port: int | None,
    scheme: str,
    cert: Any,
    verify: Any,
    proxy: str | None,
    timeout: Any,
) -> PoolKey:
    """The pool of ``get_connection``'s arguments (historic hyper's), as
    ``send`` would key a request with the same settings."""
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidSchema(f"hyper's adapter serves http and https, not {scheme!r}")
    if not host:
        raise InvalidURL("No host specified.")
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    return _pool_key(scheme, host, port, proxy, _split_timeout(timeout), verify, cert)


def _pool_key(
    scheme: str,
    host: str,
    port: int,
    proxy: str | None,
    timeouts: _Timeouts,
    verify: Any,
    cert: Any,
) -> PoolKey:
    """Everything a connection is made with (see the module docstring); TLS
    settings only where there is TLS."""
    if scheme != "https":
        return (scheme, host, port, proxy, timeouts, None, None)
    if isinstance(cert, list):
        cert = tuple(cert)
    return (scheme, host, port, proxy, timeouts, verify, cert)


def _body(body: Any, counting: bool) -> tuple[Any, int | CountedBody | None, bool]:
    """(the body to send, its size for the metrics, whether it can be sent
    again). A streamed body is wrapped to count what goes out, when
    ``counting``."""
    replayable = body is None or isinstance(body, (bytes, str))
    if body is None:
        return body, 0, replayable
    if isinstance(body, bytes):
        return body, len(body), replayable
    if not counting:
        return body, None, replayable
    if isinstance(body, str):
        return body, len(body.encode("utf-8")), replayable
    counted = CountedBody(body)
    return counted, counted, replayable


def _headers(headers: Any, scheme: str, proxy: str | None) -> Any:
    """The request's fields as they go out."""
    if proxy is None and scheme == "http" and "connection" in headers:
        # requests always sends "Connection: keep-alive" (HTTP/1.1's
        # default anyway); a Connection field keeps HTTPConnection from
        # asking for the h2c upgrade, so that one goes.
        return [
            (name, value)
            for name, value in headers.items()
            if name.lower() != "connection" or value.lower() != "keep-alive"
        ]
    return headers


def proxy_url(proxy: str | None) -> str | None:
    """The proxy as HTTPConnection takes it: an ``http://`` URL."""
    if proxy is None:
        return None
    proxy = prepend_scheme_if_needed(proxy, "http")
    if urlsplit(proxy).scheme.lower() != "http":
        raise InvalidProxyURL(f"hyper's adapter supports http:// proxies only, not {proxy!r}")
    return proxy


class Retries:
    """
    The retry rule, as a decision: whether a failed try is made again.

    A request the server refused without processing it (a stream above a
    GOAWAY's last-stream-id, or REFUSED_STREAM), or one met by a dead
    connection that had been idle (an idempotent request whose body can be
    sent again), is tried once more. ``max_retries`` adds that many more
    tries for failures to connect and, for such requests, for connections
    lost before any answer. Nothing else is tried again.
    """

    __slots__ = ("replayable", "idempotent", "once", "left")

    def __init__(self, plan: Plan, max_retries: int) -> None:
        self.replayable = plan.replayable
        self.idempotent = plan.method in _IDEMPOTENT
        self.once = True
        self.left = max_retries

    def allow(self, exc: BaseException, connecting: bool, idle: bool) -> bool:
        """
        Whether to try again after ``exc``, raised while ``connecting`` (no
        connection yet) or on a connection that was ``idle`` (it had served
        requests and had none in flight: a failure means it died idle).
        """
        refused = may_send_again(exc, self.replayable, not self.once)
        # RFC 9110 9.2.2: an idempotent request met by a dead connection.
        lost = not connecting and _is_lost(exc) and self.idempotent and self.replayable
        if refused or (self.once and lost and idle):
            self.once = False
            return True
        if self.left > 0 and ((connecting and _is_connect_failure(exc)) or lost):
            self.left -= 1
            return True
        return False


def _is_lost(exc: BaseException) -> bool:
    """The connection failed under the request (not a timeout, not a refusal
    of this one request)."""
    return isinstance(exc, builtins.ConnectionError) and not isinstance(exc, HyperProxyError)


def _is_connect_failure(exc: BaseException) -> bool:
    return isinstance(exc, (builtins.ConnectionError, HyperTimeoutError))
