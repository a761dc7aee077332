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


class SocketError(HyperError, OSError):
    """An error occurred during a socket operation."""


class ConnectionResetError(HyperError, builtins.ConnectionResetError):
    """The connection was closed or reset by the peer unexpectedly."""


class TimeoutError(HyperError, builtins.TimeoutError):
    """A connect or read timed out."""


class InvalidResponseError(HyperError, ValueError):
    """A problem was found with the response that makes it invalid."""


class ChunkedDecodeError(InvalidResponseError):
    """An error was encountered while decoding a chunked response."""


class LineTooLongError(InvalidResponseError):
    """A line from the peer exceeded the allowed length."""


class DecodingError(InvalidResponseError):
    """A response body could not be decoded (bad gzip/deflate/br/zstd data),
    or decoding it would exceed a configured limit."""


class MissingCertFile(HyperError, FileNotFoundError):
    """The certificate file could not be found."""


class ConnectionError(HyperError, builtins.ConnectionError):
    """An error occurred while connecting to a host."""


class ProxyError(ConnectionError):
    """A proxy refused or failed the tunnel; ``response`` is its answer."""

    def __init__(self, message: str, response: Any = None) -> None:
        super().__init__(message)
        self.response = response

    def __reduce__(self) -> Any:
        return (type(self), (self.args[0] if self.args else "", self.response))
