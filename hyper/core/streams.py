"""
What both cores share, written once for the client and the server: the
per-stream buffer and its read with window credit
(:meth:`StreamBuffer.consume`, under each core's ``read``), the push record,
the copy of a shared failure, and :class:`BaseCore` (PING bookkeeping, the
body-ready predicate, the send window).

A :class:`StreamBuffer` holds what the peer sends on one stream: the
response, for :class:`~hyper.core.client.ClientCore`; the request, for
:class:`~hyper.core.server.ServerCore` (its ``Request`` extends it). A core
fills it as events arrive and drains it as the application reads, both by
whichever driver owns the core (under its lock, or on its event loop);
nothing here locks or does I/O. Body bytes wait in a deque of the chunks
the engine produced (no copies, no re-slicing: a partly read head chunk is
tracked by ``offset``), and their total is bounded by the stream's receive
window, because window is given back only as the application consumes them.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from hyper.common.types import RawHeaders
from hyper.common.util import to_bytestring
from hyper.engine.exceptions import LocalProtocolError, StreamStateError

if TYPE_CHECKING:
    from hyper.engine.engine import Engine
    from hyper.engine.events import PingAcknowledged



def ping_data(opaque_data: str | bytes) -> bytes:
    """A PING's opaque data as bytes, checked before anything is sent (a
    front end checks it before it connects).

    :raises LocalProtocolError: it is not exactly 8 bytes.
    """
    data = to_bytestring(opaque_data)
    if len(data) != 8:
        raise LocalProtocolError("PING data must be exactly 8 bytes")
    return data


def split_pseudo(headers: RawHeaders) -> tuple[dict[bytes, bytes], RawHeaders]:
    """A header block's pseudo-headers (which the engine put first) and the
    regular rest."""
    index = 0
    size = len(headers)
    while index < size and headers[index][0][:1] == b":":
        index += 1
    return dict(headers[:index]), headers[index:]


def split_status(headers: RawHeaders) -> tuple[int, RawHeaders]:
    """A response header block's status and its regular fields. A response
    carries ``:status`` alone, first (the engine checked it: RFC 9113
    8.3.2), so one look usually does: a response's cost, not a field's."""
    if (
        headers
        and headers[0][0] == b":status"
        and (len(headers) == 1 or headers[1][0][:1] != b":")
    ):
        return int(headers[0][1]), headers[1:]
    pseudo, regular = split_pseudo(headers)
    return int(pseudo.get(b":status", b"0")), regular


def clone_error(error: BaseException) -> BaseException:
    """A fresh copy of a shared failure, caused by it, for one more waiter."""
    try:
        clone = copy.copy(error)
    except Exception:
        return error
    if clone is not error:
        clone.__cause__ = error
    return clone


class StreamBuffer:
    """
    One stream's received header blocks and body (a client's response, a
    server's request), and whether it has ended or failed.
    """

    __slots__ = (
        "stream_id",
        "headers",
        "informational",
        "chunks",
        "offset",
        "buffered",
        "preacked",
        "ended",
        "trailers",
        "error",
        "pushes",
        "pushes_taken",
        "claimed",
        "waiter",
        "replay",
    )

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id
        #: The final header block (a response's, or a request's), pseudo-headers first.
        self.headers: RawHeaders | None = None
        #: (client) 1xx header blocks, in order of arrival.
        self.informational: list[RawHeaders] = []
        #: Body chunks not yet read; ``chunks[0][offset:]`` is the next data.
        self.chunks: deque[bytes] = deque()
        self.offset = 0
        #: Unread body bytes in ``chunks`` (minus ``offset``).
        self.buffered = 0
        #: (client) Unread bytes whose window was already given back
        #: (``pushes_ready`` drains the window to see the stream's end).
        self.preacked = 0
        #: END_STREAM arrived: no more data, ``trailers`` final.
        self.ended = False
        self.trailers: RawHeaders | None = None
        #: Why the stream failed (reset, refused, connection lost), if it did.
        self.error: BaseException | None = None
        #: (client) Promises the server made on this stream, in order.
        self.pushes: list[PushRecord] = []
        #: How many of ``pushes`` ``take_pushes`` has handed out already.
        self.pushes_taken = 0
        #: The application owns this stream (a client's response object was
        #: made or the stream released; a server's request was taken).
        self.claimed = False
        #: Free for the driver: what it waits on for this stream, if anything.
        self.waiter: object = None
        #: (client) The request (header block, whole body or None) of a stream
        #: opened before the server's SETTINGS, to send again if it is refused.
        self.replay: tuple[list[tuple[Any, Any]], Any] | None = None

    @property
    def is_drained(self) -> bool:
        """Everything the peer will send on this stream has been read."""
        return self.ended and not self.chunks

    def consume(self, engine: Engine, limit: int | None) -> list[bytes]:
        """
        Remove and return up to ``limit`` buffered body bytes (all of them
        for None) as a list of chunks, whole chunks uncopied, and give their
        window back to ``engine``: the stream's receive window is credited as
        the application consumes, not as data arrives (bytes already credited,
        ``preacked``, are not credited twice).
        """
        chunks = self.chunks
        out: list[bytes] = []
        if limit is None or limit >= self.buffered:
            size = self.buffered
            if self.offset:
                head = chunks.popleft()
                out.append(head[self.offset :])
                self.offset = 0
            out.extend(chunks)
            chunks.clear()
            self.buffered = 0
        else:
            size = want = limit
            while want > 0:
                head = chunks[0]
                start = self.offset
                left = len(head) - start
                if left <= want:
                    out.append(head[start:] if start else head)
                    chunks.popleft()
                    self.offset = 0
                    want -= left
                else:
                    out.append(head[start : start + want])
                    self.offset = start + want
                    want = 0
            self.buffered -= limit
        if self.preacked:
            credit = min(size, self.preacked)
            self.preacked -= credit
            size -= credit
        if size:
            engine.acknowledge_received_data(self.stream_id, size)
        return out

    def __repr__(self) -> str:
        state = "ended" if self.ended else "open"
        return f"<StreamBuffer {self.stream_id} {state} buffered={self.buffered}>"


class PushRecord:
    """
    A promise the server made on a stream: the promised request's header
    block and the buffer its response arrives in. ``wrapper`` is the
    front-end's public object for it, made when first asked for.

    A record nobody wrapped releases its stream when it is dropped (with
    its parent's buffer), so an unwanted push is cancelled, not buffered
    for the connection's lifetime.
    """

    __slots__ = ("request_headers", "stream", "wrapper", "_abandoned")

    def __init__(
        self, request_headers: RawHeaders, stream: StreamBuffer, abandoned: deque[StreamBuffer]
    ) -> None:
        self.request_headers = request_headers
        self.stream = stream
        self.wrapper: Any = None
        self._abandoned = abandoned

    def __del__(self) -> None:
        # May run in any thread, inside any lock: only queue the release.
        if self.wrapper is None and not self.stream.claimed:
            self._abandoned.append(self.stream)


S = TypeVar("S", bound=StreamBuffer)


class BaseCore(Generic[S]):
    """
    What a client core and a server core do alike over their engine, for
    streams of type ``S``: PINGs in flight, the body-ready predicate and
    the send window. Each core adds its role's policy (the client's drain
    after GOAWAY, the server's graceful-shutdown PING) by extending these.

    The one PING rule: a PING whose opaque data is already in flight is
    refused (:class:`LocalProtocolError`), because its ACK could not be told
    apart from the other's (RFC 9113 6.7 echoes the data and nothing else).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: The failure that ended this connection; every later call raises a copy.
        self.error: BaseException | None = None
        # Our PINGs in flight (opaque data -> ACK received), until forgotten.
        self._pings: dict[bytes, bool] = {}

    def raise_if_failed(self) -> None:
        """Raise (a copy of) the connection's failure, if it failed."""
        if self.error is not None:
            raise clone_error(self.error)

    # -- pings --------------------------------------------------------------

    def ping(self, opaque_data: bytes) -> None:
        """
        Queue a PING; :meth:`ping_acked` tells when its ACK came, and
        :meth:`forget_ping` ends the wait.

        :raises LocalProtocolError: a PING with this data is in flight.
        :raises ConnectionError: the connection failed (a copy).
        """
        self.raise_if_failed()
        if opaque_data in self._pings:
            raise LocalProtocolError("a PING with this opaque data is already in flight")
        self.engine.ping(opaque_data)
        self._pings[opaque_data] = False

    def ping_acked(self, opaque_data: bytes) -> bool:
        """The ACK of the PING sent with ``opaque_data`` arrived."""
        return self._pings.get(opaque_data, False)

    def forget_ping(self, opaque_data: bytes) -> None:
        """The driver is done waiting for the PING (answered or not)."""
        self._pings.pop(opaque_data, None)

    def _on_ping_ack(self, event: PingAcknowledged) -> None:
        if event.data in self._pings:
            self._pings[event.data] = True

    # -- streams ------------------------------------------------------------

    def body_ready(self, stream: S) -> bool:
        """``read`` would return without waiting."""
        return bool(stream.buffered) or stream.ended or stream.error is not None

    def send_window(self, stream: S) -> int:
        """Bytes the stream may send now; -1 if it can no longer send."""
        if stream.error is not None:
            return -1
        try:
            return self.engine.local_flow_control_window(stream.stream_id)
        except StreamStateError:
            return -1
