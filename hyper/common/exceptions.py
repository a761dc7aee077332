"""
The exception bases shared by every part of hyper.

Every exception hyper raises descends from :class:`HyperError`, so one
``except hyper.common.exceptions.HyperError`` catches them all. The names
below are the historic ``hyper.common.exceptions`` ones.
"""

from __future__ import annotations

import builtins
from typing import Any


class HyperError(Exception):
    """The root of every exception hyper raises."""


class InvalidArgumentError(HyperError, ValueError):
    """An argument has a value hyper cannot use: a malformed host, port, URL
    or proxy, a setting out of range, a request h11 refuses to frame. Also a
    ``ValueError``, which is what these raised before."""


class InvalidArgumentTypeError(HyperError, TypeError):
    """An argument has a type hyper cannot use (a request body that is
    neither bytes, str, a file nor an iterable of bytes). Also a
    ``TypeError``."""


class HeaderNotFoundError(HyperError, KeyError):
    """:class:`~hyper.common.headers.HTTPHeaderMap` has no header of that
    name. Also a ``KeyError``, as the mapping protocol expects."""


class SocketError(HyperError, OSError):
    """An error occurred during a socket operation."""


class ConnectionResetError(HyperError, builtins.ConnectionResetError):
    """The connection was closed or reset by the peer unexpectedly."""


class TimeoutError(HyperError, builtins.TimeoutError):
    """A connect or read timed out."""


class InvalidResponseError(HyperError, ValueError):
    """A problem was found with the response that makes it invalid."""


class ChunkedDecodeError(InvalidResponseError):
    """A chunked response body is malformed (a bad chunk size line, or a
    chunk not followed by CRLF)."""


class LineTooLongError(InvalidResponseError):
    """A line from the peer (the status line, a header, a chunk size, or the
    whole response head) exceeded the allowed length."""


class DecodingError(InvalidResponseError):
    """A response body could not be decoded (bad gzip/deflate/br/zstd data),
    or decoding it would exceed a configured limit."""


class MissingCertFile(HyperError, FileNotFoundError):
    """The certificate file could not be found."""


class ConnectionError(HyperError, builtins.ConnectionError):
    """An error occurred while connecting to a host, or the connection failed."""


class TLSUpgrade(ConnectionError):
    """
    The TLS handshake of an :class:`~hyper.http11.connection.HTTP11Connection`
    negotiated ``negotiated`` (``'h2'``) through ALPN. ``sock`` is the TLS
    socket: open when :class:`~hyper.connection.HTTPConnection` asked
    for h2 too (it catches this and speaks HTTP/2 on it), already closed when
    an ``HTTP11Connection`` was used alone. A ``ConnectionError`` too, for
    code that only wanted HTTP/1.1.
    """

    def __init__(self, negotiated: str, sock: Any) -> None:
        super().__init__(f"the server chose {negotiated!r} through ALPN, not HTTP/1.1")
        self.negotiated = negotiated
        self.sock = sock

    def __reduce__(self) -> Any:
        return (type(self), (self.negotiated, None))


class HTTPUpgrade(HyperError):
    """
    The server answered ``101 Switching Protocols`` to an ``Upgrade:
    negotiated`` request (``'h2c'``). ``sock`` is the socket, now speaking
    the new protocol, and ``data`` the bytes already read past the 101
    (they belong to the new protocol). Whoever catches it owns the socket
    (:class:`~hyper.connection.HTTPConnection` does, for ``h2c``).
    """

    def __init__(self, negotiated: str, sock: Any, data: bytes = b"") -> None:
        super().__init__(f"the server switched to {negotiated!r}")
        self.negotiated = negotiated
        self.sock = sock
        self.data = data

    def __reduce__(self) -> Any:
        return (type(self), (self.negotiated, None, self.data))


class ProxyError(ConnectionError):
    """A proxy refused or failed the tunnel; ``response`` is its answer."""

    def __init__(self, message: str, response: Any = None) -> None:
        super().__init__(message)
        self.response = response

    def __reduce__(self) -> Any:
        return (type(self), (self.args[0] if self.args else "", self.response))
