"""
The exceptions of hyper's HTTP/2 stack.

Who is to blame decides the class:

- :class:`ProtocolError` and its subclasses: the *peer* broke HTTP/2 in a way
  that ends the connection. The engine has already queued a GOAWAY carrying
  ``error_code`` when it raises one. They are :class:`ConnectionError`\\ s too,
  because the connection is unusable afterwards.
- :class:`ConnectionError`: the connection ended (GOAWAY with an error, the
  socket closed or failed). Also :class:`hyper.common.exceptions.ConnectionError`
  and the builtin ``ConnectionError``, so one ``except`` catches a failed
  connection of either HTTP version.
- :class:`ConnectionLostError`: the socket closed or failed under a live
  connection; also a ``ConnectionResetError`` (hyper's and the builtin).
- :class:`StreamResetError`: one stream was reset (by the peer, or by us after
  the peer broke a stream-level rule); other streams carry on.
- :class:`LocalProtocolError`: *you* asked for something HTTP/2 forbids (send
  on a closed stream, too many streams...). Nothing was changed or sent.
"""

from __future__ import annotations

from typing import Any

from hyper.common.exceptions import ConnectionError as _BaseConnectionError
from hyper.common.exceptions import ConnectionResetError as _ResetError
from hyper.common.exceptions import HyperError
from hyper.engine.errors import ErrorCodes, error_name, to_error_code


class HTTP20Error(HyperError):
    """The base class for all of hyper's HTTP/2-related exceptions."""


class ConnectionError(HTTP20Error, _BaseConnectionError):
    """The HTTP/2 connection ended; ``error_code`` says why (when known)."""

    error_code: int = ErrorCodes.NO_ERROR

    def __init__(self, message: str = "", error_code: int | None = None) -> None:
        super().__init__(message)
        if error_code is not None:
            self.error_code = to_error_code(error_code)

    def __reduce__(self) -> Any:
        return (type(self), (self.args[0] if self.args else "", self.error_code))


class ProtocolError(ConnectionError):
    """The remote party violated the HTTP/2 protocol; GOAWAY was queued."""

    error_code: int = ErrorCodes.PROTOCOL_ERROR


class FrameSizeError(ProtocolError):
    """A frame had a length not allowed for its type or above our limit."""

    error_code = ErrorCodes.FRAME_SIZE_ERROR


class FlowControlError(ProtocolError):
    """The peer broke connection-level flow control."""

    error_code = ErrorCodes.FLOW_CONTROL_ERROR


class SettingsTimeoutError(ProtocolError):
    """The peer did not acknowledge our SETTINGS in time (RFC 9113 6.5.3)."""

    error_code = ErrorCodes.SETTINGS_TIMEOUT


class StreamClosedError(ProtocolError):
    """The peer sent a frame on a stream after its own END_STREAM had closed
    it: a connection error of type STREAM_CLOSED (RFC 9113 5.1)."""

    error_code = ErrorCodes.STREAM_CLOSED


class HPACKDecodingError(ProtocolError):
    """A header block could not be decoded; the HPACK state is lost."""

    error_code = ErrorCodes.COMPRESSION_ERROR


class EnhanceYourCalmError(ProtocolError):
    """The peer exceeded a limit (flood, header size, CONTINUATION count...)."""

    error_code = ErrorCodes.ENHANCE_YOUR_CALM


class HeaderListTooLargeError(EnhanceYourCalmError):
    """A header block decoded to more than the header list size limit."""


class ConnectionTerminatedError(ConnectionError):
    """The peer sent GOAWAY with an error code, or the socket closed."""


class ConnectionLostError(ConnectionTerminatedError, _ResetError):
    """
    The socket closed or failed under a live connection. Both an HTTP/2
    :class:`ConnectionTerminatedError` and a ``ConnectionResetError`` (hyper's
    and the builtin), so either ``except`` catches it.
    """


class StreamResetError(HTTP20Error):
    """A stream was reset; ``error_code`` says why and ``remote`` who did it."""

    def __init__(
        self,
        message: str = "",
        stream_id: int = 0,
        error_code: int = ErrorCodes.CANCEL,
        remote: bool = True,
    ) -> None:
        if not message:
            who = "the peer" if remote else "hyper"
            message = f"stream {stream_id} reset by {who}: {error_name(error_code)}"
        super().__init__(message)
        self.stream_id = stream_id
        self.error_code = to_error_code(error_code)
        self.remote = remote

    def __reduce__(self) -> Any:
        return (
            type(self),
            (self.args[0], self.stream_id, self.error_code, self.remote),
        )


class StreamRefusedError(StreamResetError):
    """
    The peer did not process the request: RST_STREAM(REFUSED_STREAM), or the
    stream was above the last-stream-id of a GOAWAY. Safe to retry on a new
    connection, whatever the method (RFC 9113 section 8.7).
    """


class HPACKEncodingError(HTTP20Error):
    """A header could not be encoded for sending (historic name); raised as
    its subclass :class:`InvalidHeaderError`."""


class LocalProtocolError(HTTP20Error, ValueError):
    """The caller asked for something HTTP/2 forbids; nothing was sent."""


class StreamStateError(LocalProtocolError):
    """The stream does not exist or is in a state that forbids the command."""


class TooManyStreamsError(LocalProtocolError):
    """Opening the stream would exceed the peer's MAX_CONCURRENT_STREAMS."""


class NoAvailableStreamIDError(LocalProtocolError):
    """Stream ids are exhausted on this connection; open a new one."""


class InvalidHeaderError(LocalProtocolError, HPACKEncodingError):
    """A header given for sending is invalid (CR/LF/NUL, bad name...)."""
