"""
The HTTP/1.1 response: :class:`~hyper.common.response.BaseResponse`'s
reading surface over the socket of an
:class:`~hyper.http11.connection.HTTP11Connection`.

The body comes straight off the connection's socket, so while it is being
read the socket belongs to this response. Reading it to its end hands the
socket back for the next request. A response left unread when the next
request is made is read on its behalf first: up to 64 KiB is kept for it
(a closed response's is thrown away), and past that the socket is closed
instead, so the rest of an abandoned download never has to be read.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

import h11

from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import HyperError, IncompleteRead, SocketError
from hyper.common.headers import HTTPHeaderMap
from hyper.common.response import BaseResponse
from hyper.common.types import RawHeaders as Headers
from hyper.common.util import HTTPVersion
from hyper.drivers.sync_h1 import Channel
from hyper.net.transport import DescriptorHold

__all__ = ["HTTP11Response"]

#: The most body bytes read on behalf of an unread response before the next
#: request; past it the socket is closed rather than read on.
DRAIN_LIMIT = 65536

#: Told when a response's body has been read to its end on ``channel``, so
#: the socket can carry the next request (the connection's hook).
_BodyEnded = Callable[["HTTP11Response", Channel], None]


def _keeps_alive(head: h11.Response | h11.InformationalResponse, raw: Headers) -> bool:
    """The server keeps the connection after this response (RFC 9112 9.3)."""
    tokens = {
        token.strip().lower()
        for name, value in raw
        if name.lower() == b"connection"
        for token in value.split(b",")
    }
    if b"close" in tokens:
        return False
    return head.http_version != b"1.0" or b"keep-alive" in tokens


def _content_length(raw: Headers) -> int | None:
    for name, value in raw:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 accepted it, so this never happens
    return None


class HTTP11Response(BaseResponse):
    """
    The response to one HTTP/1.1 request.

    Attributes: ``status`` (int), ``reason`` (str), ``headers``
    (:class:`HTTPHeaderMap`, names as the server spelled them, looked up
    case-insensitively), ``trailers`` (empty unless a chunked body ended
    with some; asked early, it reads the rest of the body first and keeps
    it), ``informational`` (the 1xx responses that came first, as
    ``(status, HTTPHeaderMap)`` pairs) and ``version``
    (``HTTPVersion.http11``). The reading surface is :class:`BaseResponse`'s;
    a read raises :class:`~hyper.common.exceptions.IncompleteRead` (a
    ``ConnectionResetError`` and ``http.client``'s ``IncompleteRead``) when
    the server closed the connection before the body was complete, never a
    short body. ``will_close`` says the server closes the connection after
    this response, ``chunked`` that the body is sent chunked, as in
    ``http.client``.

    While its body is on the socket, the response holds the socket open as
    ``http.client``'s does: closing the connection's ``sock`` then takes
    effect once the body has been read (or the response closed).

    Concurrency: not thread-safe, like its connection.
    """

    version = HTTPVersion.http11
    # The trailers of a chunked body, once it has been read to its end.
    _trailers: HTTPHeaderMap | None = None

    def __init__(
        self,
        head: h11.Response | h11.InformationalResponse,
        informational: list[h11.InformationalResponse],
        channel: Channel | None,
        on_end: _BodyEnded | None,
    ) -> None:
        raw: Headers = list(head.headers.raw_items())
        super().__init__(head.status_code, head.reason.decode("latin-1"), raw)
        for info in informational:
            fields = HTTPHeaderMap._from_raw(info.headers.raw_items())
            self.informational.append((info.status_code, fields))
        self._channel: Channel | None = channel
        self._on_end: _BodyEnded | None = on_end
        # Part of a Data event beyond what a bounded read asked for: the
        # bytes _pending[_pending_pos:].
        self._pending = b""
        self._pending_pos = 0
        # Body read on this response's behalf before another request.
        self._kept: deque[bytes] = deque()
        # Why the rest of the body cannot be read (after _kept runs out).
        self._lost: BaseException | None = None
        # The body ended on the wire (what is kept may still be unread).
        self._ended = False
        # The socket the response came on, for fileno().
        self._sock = channel.sock if channel is not None else None
        # Body bytes taken off the socket, and the Content-Length if any.
        self._received = 0
        self._expected = _content_length(raw)
        self._hold = DescriptorHold(channel.sock) if channel is not None else None
        conn = channel.h11 if channel is not None else None
        if conn is not None:
            self.will_close = conn.their_state is h11.MUST_CLOSE or not _keeps_alive(head, raw)
            self.chunked = any(
                name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
                for name, value in raw
            )

    # ------------------------------------------------------------------
    # Body (the hooks of BaseResponse)

    def _next_raw(self, limit: int | None) -> list[bytes]:
        if self._pending:
            return [self._take_pending(limit)]
        if self._kept:
            return [self._take_kept(limit)]
        channel = self._channel
        if channel is None or self._ended:
            if self._lost is not None:
                raise self._lost
            self._body_done = True
            return []
        try:
            data = self._next_data(channel)
        except IncompleteRead as exc:
            self._let_go()
            if self._expected is not None:
                exc.expected = max(0, self._expected - self._received)
            raise
        if data is None:
            self._body_done = True
            return []
        if limit is not None and len(data) > limit:
            self._pending = data
            self._pending_pos = limit
            return [data[:limit]]
        chunks = [data]
        if limit is None:
            # Whatever else is already parsed goes out in the same call.
            while not self._ended:
                event = channel.buffered_event()
                if event is None:
                    break
                more = self._on_event(event)
                if more:
                    chunks.append(more)
        return chunks

    def _next_data(self, channel: Channel) -> bytes | None:
        """The next non-empty body piece from the socket; None at the end."""
        while not self._ended:
            data = self._on_event(channel.next_event())
            if data:
                return data
        return None

    def _on_event(self, event: object) -> bytes:
        if type(event) is h11.Data:
            data = bytes(event.data)
            self._received += len(data)
            return data
        if type(event) is h11.EndOfMessage:
            if event.headers:
                self._trailers = HTTPHeaderMap._from_raw(event.headers.raw_items())
            self._end_of_body()
            return b""
        # ConnectionClosed after a close-delimited body's end, PAUSED: nothing.
        return b""

    def _trailer_fields(self) -> HTTPHeaderMap:
        trailers = self._trailers
        return HTTPHeaderMap() if trailers is None else trailers

    def _end_of_body(self) -> None:
        self._ended = True
        self._let_go()
        channel, on_end = self._channel, self._on_end
        self._channel = self._on_end = None
        if channel is not None and on_end is not None:
            on_end(self, channel)

    def _take_pending(self, limit: int | None) -> bytes:
        data, pos = self._pending, self._pending_pos
        if limit is None or len(data) - pos <= limit:
            self._pending = b""
            self._pending_pos = 0
            return data[pos:] if pos else data
        self._pending_pos = pos + limit
        return data[pos : pos + limit]

    def _let_go(self) -> None:
        """The body is off the socket: stop holding it open."""
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.release()

    def _take_kept(self, limit: int | None) -> bytes:
        data = self._kept.popleft()
        if limit is not None and len(data) > limit:
            self._kept.appendleft(data[limit:])
            return data[:limit]
        return data

    # ------------------------------------------------------------------
    # The connection's side: HTTP11Connection, which made this response,
    # calls these; the response never calls back but through ``on_end``, so
    # this module need not know the connection's class.

    def _take_buffered(self) -> None:
        """Take the body events already parsed with the head, without
        reading: a bodiless response (HEAD, 204, 304) or a small body that
        arrived whole ends at once, and its socket is free straight away."""
        channel = self._channel
        try:
            while channel is not None and not self._ended:
                event = channel.buffered_event()
                if event is None:
                    return
                data = self._on_event(event)
                if data:
                    self._kept.append(data)
        except HyperError as exc:
            # Garbage after the head: the body's failure, raised by the read
            # that reaches it (the channel is closed already).
            self._channel = self._on_end = None
            self._lost = exc
            return
        if self._ended and not self._kept:
            self._finish()

    def _drain(self, keep: bool) -> None:
        """
        Read the rest of the body off the socket, for the next request:
        keeping it (up to about :data:`DRAIN_LIMIT`) when the response is
        still open, else discarding it. Past the limit the socket is closed,
        and a later read past what was kept raises ``ConnectionError``.
        """
        channel = self._channel
        if channel is None:
            return
        budget = DRAIN_LIMIT
        if self._pending and not keep:
            self._pending = b""
        try:
            while not self._ended:
                data = self._next_data(channel)
                if data is None:
                    return
                if keep:
                    self._kept.append(data)
                budget -= len(data)
                if budget < 0:
                    break
            else:
                return
        except HyperError as exc:
            # The rest could not be read (the server closed mid-body, or is
            # too slow): that is this response's failure, not the next
            # request's.
            lost: BaseException = exc
        else:
            lost = HyperConnectionError(
                f"more than {DRAIN_LIMIT} bytes of this response were unread when the "
                "connection was needed for another request; the rest was not read"
            )
        self._channel = self._on_end = None
        self._let_go()
        channel.close()
        self._lost = lost

    @property
    def _unread_beyond_limit(self) -> bool:
        """True when the body left is known to be more than :data:`DRAIN_LIMIT`."""
        if self._expected is None:
            return False
        return self._expected - self._received > DRAIN_LIMIT

    def _detach(self, reason: str) -> None:
        """The connection closed under the response."""
        if self._channel is not None:
            self._channel = self._on_end = None
            self._lost = HyperConnectionError(reason)
        self._let_go()

    def _release(self) -> None:
        channel = self._channel
        if channel is not None and self._unread_beyond_limit:
            # Too much left to read it for the next request: give up the socket now.
            self._channel = self._on_end = None
            channel.close()
        self._let_go()  # reading is over: a caller's close() of the socket may act
        self._pending = b""
        self._kept.clear()

    # ------------------------------------------------------------------
    # File-like odds and ends

    def close(self, socket_close: bool = False) -> None:
        """
        Stop reading. An unread rest of the body is read and thrown away
        before the next request (at most 64 KiB of it, or the socket is
        closed instead); ``socket_close=True`` closes the socket at once.

        Concurrency: not thread-safe.
        """
        if socket_close and self._channel is not None:
            channel = self._channel
            self._channel = self._on_end = None
            self._let_go()
            channel.close()
        super().close()

    def fileno(self) -> int:
        """The file descriptor of the socket the response came on.

        :raises SocketError: that socket is closed.
        """
        fd = -1 if self._sock is None else self._sock.fileno()
        if fd < 0:
            raise SocketError("the socket this response came on is closed")
        return fd

    def __repr__(self) -> str:
        return f"<HTTP11Response [{self.status}]>"
