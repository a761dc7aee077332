"""
What both httpx transports decide the same way about one request, without
I/O: the pool key of its origin, its timeouts, the body as hyper takes it,
whether it may be sent again, and the response's extensions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx

__all__ = [
    "Timeouts",
    "check_url",
    "connect_delays",
    "origin_of",
    "request_body",
    "response_extensions",
    "timeouts_of",
]

_SCHEMES = frozenset((b"http", b"https"))
# httpcore's backoff between connect retries: none before the first, then
# 0.5 s doubling (RETRIES_BACKOFF_FACTOR).
_BACKOFF = 0.5


class Timeouts(NamedTuple):
    """A request's ``extensions["timeout"]``; None waits forever."""

    connect: float | None
    read: float | None
    write: float | None
    pool: float | None


_NO_TIMEOUTS = Timeouts(None, None, None, None)


def timeouts_of(request: httpx.Request) -> Timeouts:
    """The request's timeouts (httpx puts them in ``extensions``)."""
    found = request.extensions.get("timeout")
    if not found:
        return _NO_TIMEOUTS
    return Timeouts(found.get("connect"), found.get("read"), found.get("write"), found.get("pool"))


def check_url(request: httpx.Request) -> None:
    """
    :raises httpx.UnsupportedProtocol: not an http(s) URL, or no host (as
        httpcore says it).
    """
    url = request.url
    scheme = url.raw_scheme
    if scheme not in _SCHEMES:
        if not scheme:
            message = "Request URL is missing an 'http://' or 'https://' protocol."
        else:
            message = f"Request URL has an unsupported protocol '{scheme.decode('ascii')}://'."
        raise httpx.UnsupportedProtocol(message, request=request)
    if not url.raw_host:
        raise httpx.UnsupportedProtocol("Request URL is missing a host.", request=request)


def origin_of(request: httpx.Request) -> tuple[str, str, int]:
    """``(scheme, host, port)``, the port filled in for the scheme."""
    url = request.url
    scheme = url.scheme
    port = url.port or (443 if scheme == "https" else 80)
    return scheme, url.host, port


def request_body(request: httpx.Request) -> tuple[Any, bool]:
    """
    The body as hyper's connections take it, and whether it can be sent
    again: a body given as bytes (``content=``, ``json=``, ``data=``) goes as
    bytes (None when empty); anything else streams from ``request.stream``
    (an iterable, or an async iterable for the async transport) and can be
    sent only once.
    """
    stream = request.stream
    if isinstance(stream, httpx.ByteStream):
        data = b"".join(stream)
        return (data or None), True
    return stream, False


def connect_delays(retries: int) -> Iterator[float]:
    """Seconds to wait before each connect attempt past the first: one per
    retry, as httpcore's exponential backoff."""
    for attempt in range(retries):
        yield 0.0 if attempt == 0 else _BACKOFF * 2 ** (attempt - 1)


def response_extensions(
    http2: bool,
    reason: str,
    stream_id: int | None,
    trailers: list[tuple[bytes, bytes]],
    pushes: Any = None,
) -> dict[str, Any]:
    """
    The response's extensions, as httpcore sets them: ``http_version``,
    ``reason_phrase`` (HTTP/1.1 only: HTTP/2 has none, and httpx then
    gives the standard one), ``stream_id`` (HTTP/2); and hyper's
    ``trailers``, a list filled in once the body has been read to its end,
    and (with ``enable_push``) ``pushes``, a function returning the pushes
    promised so far (all of them once the body has been read).
    """
    if http2:
        extensions = {"http_version": b"HTTP/2", "stream_id": stream_id, "trailers": trailers}
        if pushes is not None:
            extensions["pushes"] = pushes
        return extensions
    return {
        "http_version": b"HTTP/1.1",
        "reason_phrase": reason.encode("latin-1", "replace"),
        "trailers": trailers,
    }
