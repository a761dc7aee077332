"""
The exception bases shared by every part of hyper.

Every exception hyper raises descends from :class:`HyperError`, so one
``except hyper.common.exceptions.HyperError`` catches them all. The names
below are the historic ``hyper.common.exceptions`` ones, and the
``http.client`` ones hyper raises where ``http.client`` would
(:class:`RemoteDisconnected`, :class:`IncompleteRead`, :class:`BadStatusLine`,
:class:`UnknownProtocol`, :class:`NotConnected`, :class:`LineTooLongError`):
each also derives from the ``http.client`` class of its name, so an
``except`` clause written for ``http.client`` catches it.
"""

from __future__ import annotations

import builtins
import http.client
from typing import Any


class HyperError(Exception):
    """The root of every exception hyper raises."""


class InvalidArgumentError(HyperError, ValueError):
    """An argument has a value hyper cannot use: a malformed host, port, URL
    or proxy, a setting out of range, a request h11 refuses to frame. Also a
    ``ValueError``, which is what these raised before."""


class InvalidArgumentTypeError(HyperError, TypeError, ValueError):
    """
    An argument has a type hyper cannot use: a request body that is neither
    bytes, str, a file nor an iterable of bytes, headers that are not a
    mapping or ``(name, value)`` pairs. The message says what was given and
    what is accepted. Both a ``TypeError`` (what the type of an argument
    calls for) and a ``ValueError`` (what historic hyper raised:
    ``request(body=1234)``), so ``except`` clauses of either kind catch it.
    """


class HeaderNotFoundError(HyperError, KeyError):
    """:class:`~hyper.common.headers.HTTPHeaderMap` has no header of that
    name. Also a ``KeyError``, as the mapping protocol expects."""


class SocketError(HyperError, OSError):
    """An error occurred during a socket operation."""


class ConnectionResetError(HyperError, builtins.ConnectionResetError):
    """The connection was closed or reset by the peer unexpectedly."""


class RemoteDisconnected(ConnectionResetError, http.client.RemoteDisconnected):
    """The server closed the connection without a byte of the response, as
    ``http.client`` says (a kept-alive connection it had closed, say: safe to
    send an idempotent request again). Also an ``http.client.RemoteDisconnected``
    (so a ``BadStatusLine``) and a ``ConnectionResetError``."""


class IncompleteRead(ConnectionResetError, http.client.IncompleteRead):
    """
    The connection closed before the response body was complete. ``partial``
    holds the body bytes the failing read had collected, ``expected`` how
    many more the ``Content-Length`` announced (None when it gave none).
    Also an ``http.client.IncompleteRead`` and a ``ConnectionResetError``.
    """

    def __init__(self, message: str, partial: bytes = b"", expected: int | None = None) -> None:
        ConnectionResetError.__init__(self, message)
        self.partial = partial
        self.expected = expected

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        more = "" if self.expected is None else f", {self.expected} more expected"
        return f"{type(self).__name__}({len(self.partial)} bytes read{more})"

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.partial, self.expected))


class NotConnected(HyperError, http.client.NotConnected):
    """A request on a closed connection whose ``auto_open`` is 0 (as
    ``http.client``): call ``connect()`` first. Also an
    ``http.client.NotConnected``."""


class TimeoutError(HyperError, builtins.TimeoutError):
    """A connect or read timed out."""


class InvalidResponseError(HyperError, ValueError):
    """A problem was found with the response that makes it invalid."""


class ChunkedDecodeError(InvalidResponseError):
    """A chunked response body is malformed (a bad chunk size line, or a
    chunk not followed by CRLF)."""


class LineTooLongError(InvalidResponseError, http.client.LineTooLong):
    """A line from the peer (the status line, a header, a chunk size, or the
    whole response head) exceeded the allowed length. Also an
    ``http.client.LineTooLong``."""

    def __init__(self, message: str) -> None:
        InvalidResponseError.__init__(self, message)


class BadStatusLine(InvalidResponseError, http.client.BadStatusLine):
    """The response did not start with an HTTP/1.x status line (``line`` is
    the start of what came instead). Also an ``http.client.BadStatusLine``."""

    def __init__(self, message: str, line: str = "") -> None:
        InvalidResponseError.__init__(self, message)
        self.line = line


class UnknownProtocol(InvalidResponseError, http.client.UnknownProtocol):
    """The status line names an HTTP version other than 1.0 and 1.1
    (``version``). Also an ``http.client.UnknownProtocol``."""

    def __init__(self, message: str, version: str = "") -> None:
        InvalidResponseError.__init__(self, message)
        self.version = version


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
