"""
What a transport is made with: httpx's transport arguments read once, at
construction, into :class:`Options` (no I/O). An argument hyper cannot honour
raises ``ValueError`` here, never later and never silently.
"""

from __future__ import annotations

import base64
import os
import ssl
from typing import Any, NamedTuple

import httpx

from hyper.tls import H2_NPN_PROTOCOLS, SUPPORTED_NPN_PROTOCOLS, default_context

__all__ = ["Options", "ProxySpec", "read_options", "tls_context"]

_HTTP11_ONLY = ("http/1.1",)
# httpx's default Limits (httpx.DEFAULT_LIMITS): what a transport made without
# ``limits`` gets, as httpx's own.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class ProxySpec(NamedTuple):
    """An http:// proxy: where it is and the headers it gets (its
    ``Proxy-Authorization`` included)."""

    host: str
    port: int
    headers: list[tuple[bytes, bytes]]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class Options(NamedTuple):
    """A transport's settings, validated."""

    http1: bool
    http2: bool
    #: None: hyper's shared default context (an assigned ``hyper.tls._context`` wins).
    ssl_context: ssl.SSLContext | None
    proxy: ProxySpec | None
    retries: int
    max_connections: int | None
    max_keepalive: int | None
    keepalive_expiry: float | None
    enable_push: bool
    uds: str | None
    local_address: str | None


def read_options(
    *,
    verify: ssl.SSLContext | str | bool,
    cert: Any,
    trust_env: bool,
    http1: bool,
    http2: bool,
    limits: httpx.Limits,
    proxy: Any,
    uds: str | None,
    local_address: str | None,
    retries: int,
    socket_options: Any,
    enable_push: bool,
) -> Options:
    """
    Read httpx's transport arguments.

    :raises ValueError: neither ``http1`` nor ``http2``; ``socket_options``;
        a proxy that is not ``http://``; ``uds`` with a proxy; a negative
        ``retries``.
    """
    if not (http1 or http2):
        raise ValueError("at least one of http1 and http2 must be True")
    if socket_options:
        raise ValueError(
            "hyper's httpx transports do not take socket_options: hyper sets TCP_NODELAY "
            "itself and has no hook for other socket options"
        )
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries!r}")
    spec = _proxy(proxy)
    if spec is not None and uds is not None:
        raise ValueError("uds and proxy cannot be combined")
    return Options(
        http1=bool(http1),
        http2=bool(http2),
        ssl_context=_context(verify, cert, trust_env),
        proxy=spec,
        retries=int(retries),
        max_connections=limits.max_connections,
        max_keepalive=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        enable_push=bool(enable_push),
        uds=uds,
        local_address=local_address,
    )


def _context(verify: Any, cert: Any, trust_env: bool) -> ssl.SSLContext | None:
    """
    httpx's own rules for ``verify``, ``cert`` and ``trust_env``
    (``httpx.create_ssl_context``), except that its default (verify against
    certifi, no client certificate, no ``SSL_CERT_FILE``/``SSL_CERT_DIR`` to
    honour) is None: hyper's shared default context, which carries the same
    CAs and honours an assigned ``hyper.tls._context``.
    """
    if verify is True and not cert:
        env = trust_env and (os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"))
        if not env:
            return None
    return httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)


def _proxy(proxy: Any) -> ProxySpec | None:
    if proxy is None:
        return None
    if isinstance(proxy, (str, httpx.URL)):
        proxy = httpx.Proxy(url=proxy)
    if not isinstance(proxy, httpx.Proxy):
        raise ValueError(f"proxy must be a URL or an httpx.Proxy, not {type(proxy).__name__}")
    url = proxy.url
    if url.scheme != "http":
        raise ValueError(
            f"hyper's httpx transports reach proxies over http:// only, not {url.scheme}:// "
            "(https:// targets go through a CONNECT tunnel, TLS end to end)"
        )
    if proxy.ssl_context is not None:
        raise ValueError("a proxy's ssl_context means TLS to the proxy, which hyper does not do")
    headers = [(name.lower(), value) for name, value in proxy.headers.raw]
    raw_auth = proxy.raw_auth
    if raw_auth is not None and not any(n == b"proxy-authorization" for n, _ in headers):
        token = base64.b64encode(raw_auth[0] + b":" + raw_auth[1])
        headers.append((b"proxy-authorization", b"Basic " + token))
    return ProxySpec(url.host, url.port or 80, headers)


def tls_context(options: Options, protocols: tuple[str, ...] | list[str]) -> ssl.SSLContext:
    """
    The context a connection of the transport handshakes with, offering
    ``protocols`` through ALPN: hyper's shared default for that offer, or
    the transport's own context with the offer set on it (as httpcore does
    on the context it is given).
    """
    context = options.ssl_context
    if context is None:
        return default_context(list(protocols))
    context.set_alpn_protocols(list(protocols))
    return context


def alpn_offer(http1: bool, http2: bool) -> tuple[str, ...]:
    """What to offer through ALPN for the protocols a transport may speak."""
    if http1 and http2:
        return tuple(SUPPORTED_NPN_PROTOCOLS)
    if http2:
        return tuple(H2_NPN_PROTOCOLS)
    return _HTTP11_ONLY
