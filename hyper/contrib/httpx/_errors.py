"""
The one translation of hyper's exceptions (and the OS's) into httpx's, for
both transports, as httpcore's ``map_exceptions``: one table, read top down,
the first class that matches wins.

Where a failure happened decides some classes, as in httpx: a timeout is a
``ConnectTimeout`` while connecting, a ``WriteTimeout`` while the request
goes out, a ``ReadTimeout`` while its response is awaited or read, and a
``PoolTimeout`` while it waits for a connection or a stream slot. The httpx
exception carries hyper's as its ``__cause__`` and names the request.
Anything that is neither hyper's nor the OS's (an exception from the
caller's own body iterator, say) passes through unchanged.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Union

import httpx

from hyper.common.exceptions import HyperError, InvalidArgumentError, InvalidArgumentTypeError
from hyper.common.exceptions import InvalidResponseError as HyperInvalidResponse
from hyper.common.exceptions import ProxyError as HyperProxyError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.engine.exceptions import (
    ConnectionLostError,
    ConnectionTerminatedError,
    ProtocolError,
    StreamResetError,
)
from hyper.engine.exceptions import LocalProtocolError as HyperLocalProtocolError

__all__ = ["CONNECT", "POOL", "READ", "WRITE", "mapped", "translate"]

# The phases of a request, in the order it goes through them.
POOL, CONNECT, WRITE, READ = range(4)

_Target = Union[type[httpx.HTTPError], tuple[type[httpx.HTTPError], ...]]

_TIMEOUTS = (httpx.PoolTimeout, httpx.ConnectTimeout, httpx.WriteTimeout, httpx.ReadTimeout)
# Waiting for a connection fails the way connecting does.
_NETWORK = (httpx.ConnectError, httpx.ConnectError, httpx.WriteError, httpx.ReadError)

#: (what was raised, what httpx raises: one class, or one per phase).
_TABLE: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], _Target], ...] = (
    ((HyperTimeoutError, socket.timeout, asyncio.TimeoutError), _TIMEOUTS),
    (HyperProxyError, httpx.ProxyError),
    # The request cannot be sent as it is: the caller's fault.
    (
        (HyperLocalProtocolError, InvalidArgumentError, InvalidArgumentTypeError),
        httpx.LocalProtocolError,
    ),
    # The connection went away under the request: a network failure.
    (ConnectionLostError, _NETWORK),
    # The server broke HTTP, reset the stream, or ended the connection
    # (GOAWAY) without answering.
    (
        (ProtocolError, StreamResetError, ConnectionTerminatedError, HyperInvalidResponse),
        httpx.RemoteProtocolError,
    ),
    ((HyperError, OSError), _NETWORK),
)


def translate(exc: BaseException, phase: int, request: httpx.Request) -> httpx.HTTPError | None:
    """The httpx exception for ``exc``, raised in ``phase``; None when it is
    not ours to translate (it is then raised as it is)."""
    if isinstance(exc, httpx.HTTPError):
        return None
    for source, target in _TABLE:
        if isinstance(exc, source):
            cls = target[phase] if isinstance(target, tuple) else target
            message = str(exc) or type(exc).__name__
            if issubclass(cls, httpx.RequestError):
                return cls(message, request=request)
            return cls(message)  # pragma: no cover - every target is a RequestError
    return None


@contextmanager
def mapped(phase: int, request: httpx.Request) -> Iterator[None]:
    """Raise what is raised inside as :func:`translate` says, ``from`` it."""
    try:
        yield
    except Exception as exc:
        error = translate(exc, phase, request)
        if error is None:
            raise
        raise error from exc
