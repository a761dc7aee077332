"""
The one translation of hyper's exceptions into requests' for the adapter.

Every requests exception raised here carries hyper's exception as its
``__cause__`` (``raise ... from``), so nothing about the failure is lost.
Where it happened decides some classes: a timeout while connecting is a
``ConnectTimeout``, one while waiting for the response a ``ReadTimeout``;
a failure while the body is read after ``send`` returned is a
``ChunkedEncodingError`` (the body was cut short) or a
``ContentDecodingError``, as requests' own adapter reports them.
"""

from __future__ import annotations

import ssl
from typing import Any

from requests import exceptions as rex

from hyper.common.exceptions import DecodingError, HyperError, ProxyError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.engine.exceptions import InvalidHeaderError

__all__ = ["BodyReadTimeout", "body_error", "send_error"]


class BodyReadTimeout(rex.ReadTimeout, rex.ConnectionError):
    """
    The read timeout passed while the body was read. Both a ``ReadTimeout``
    and a ``ConnectionError``: requests' own adapter raises the latter there,
    so code written for either keeps catching it.
    """


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # a cause chain is short; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def send_error(
    exc: BaseException, request: Any, connecting: bool, proxied: bool = False
) -> BaseException | None:
    """
    The requests exception for ``exc``, raised while connecting (``connecting``)
    or while sending the request and waiting for its response; None when
    ``exc`` is not hyper's or the OS's to translate (it is then raised as is).
    ``proxied``: the connection goes through a proxy, so a failure to connect
    that is not the target's TLS is the proxy's (``ProxyError``, as requests
    reports it).
    """
    if isinstance(exc, ProxyError):
        return rex.ProxyError(exc, request=request)
    if isinstance(exc, HyperTimeoutError):
        if connecting:
            return rex.ConnectTimeout(exc, request=request)
        return rex.ReadTimeout(exc, request=request)
    if isinstance(exc, InvalidHeaderError):
        return rex.InvalidHeader(exc, request=request)
    if isinstance(exc, (HyperError, OSError)):
        if _is_tls_failure(exc):
            return rex.SSLError(exc, request=request)
        if connecting and proxied:
            return rex.ProxyError(exc, request=request)
        return rex.ConnectionError(exc, request=request)
    return None


def body_error(exc: BaseException) -> BaseException | None:
    """The requests exception for ``exc``, raised while the body was read;
    None when it is not ours to translate."""
    if isinstance(exc, DecodingError):
        return rex.ContentDecodingError(exc)
    if isinstance(exc, HyperTimeoutError):
        return BodyReadTimeout(exc)
    if isinstance(exc, (HyperError, OSError)):
        if _is_tls_failure(exc):
            return rex.SSLError(exc)
        return rex.ChunkedEncodingError(exc)
    return None
