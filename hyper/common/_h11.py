"""
What both HTTP/1.1 drivers (the blocking channel and the asyncio one) share
about reading a response with ``h11``, without I/O: the head limit, and the
one translation of ``h11``'s ``RemoteProtocolError`` (and of an end of input
where HTTP/1.1 does not allow one) into hyper's exceptions, which are
``http.client``'s too:

- garbage from the peer: :class:`InvalidResponseError`; its
  :class:`LineTooLongError` when the head (or a chunk size line) passes
  :data:`MAX_HEAD` unfinished, :class:`ChunkedDecodeError` for broken chunked
  framing, :class:`BadStatusLine` for a status line that is not one;
- the peer closing where HTTP/1.1 does not allow it: hyper's
  ``ConnectionResetError``, as :class:`RemoteDisconnected` when not a byte of
  the response came and :class:`IncompleteRead` mid-body.
"""

from __future__ import annotations

from typing import Union

import h11

from hyper.common.exceptions import (
    BadStatusLine,
    ChunkedDecodeError,
    HyperError,
    IncompleteRead,
    InvalidResponseError,
    LineTooLongError,
    RemoteDisconnected,
)
from hyper.common.exceptions import ConnectionResetError as HyperResetError

__all__ = ["MAX_HEAD", "Event", "response_error"]

Event = Union[h11.Event, type[h11.PAUSED]]

# The most a response head (status line, headers) or a chunk header may
# take. h11's default, 16 KiB, refuses heads that real servers send (large
# cookies, CSP headers); 64 KiB matches http.client's line limit.
MAX_HEAD = 65536

# h11 says what broke only in its messages (RemoteProtocolError has no codes);
# these prefixes pick hyper's historic classes. An unknown message stays a
# plain InvalidResponseError, so a change in h11's wording loses precision,
# never an error.
_H11_ERRORS: tuple[tuple[str, type[InvalidResponseError]], ...] = (
    ("Receive buffer too long", LineTooLongError),
    ("illegal status line", BadStatusLine),
    ("illegal chunk header", ChunkedDecodeError),
    ("malformed chunk footer", ChunkedDecodeError),
)


def response_error(
    exc: h11.RemoteProtocolError, where: str, *, eof: bool, received: int, eof_in_body: bool
) -> HyperError:
    """
    The exception for ``h11``'s complaint about the response from ``where``:
    ``eof``, the input had ended; ``received``, bytes of this response read;
    ``eof_in_body``, it ended while the body was being read.
    """
    if not eof:
        message = f"invalid HTTP/1.1 response from {where}: {exc}"
        text = str(exc)
        for prefix, error_class in _H11_ERRORS:
            if text.startswith(prefix):
                if error_class is LineTooLongError:
                    message += f" (more than {MAX_HEAD} bytes without the end of a line)"
                if error_class is BadStatusLine:
                    return BadStatusLine(message, text.partition(": ")[2])
                return error_class(message)
        return InvalidResponseError(message)
    if not received:
        return RemoteDisconnected(f"{where} closed the connection without answering")
    if eof_in_body:
        return IncompleteRead(
            f"{where} closed the connection before the response was complete (mid-body)"
        )
    return HyperResetError(
        f"{where} closed the connection before the response was complete ({exc})"
    )
