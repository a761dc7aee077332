"""
What the client core keeps per stream: the response as it arrives.

A :class:`StreamBuffer` is filled by :class:`~hyper.core.client.ClientCore`
as events arrive and drained as the response is read, both by whichever
driver owns the core (under its lock, or on its event loop); nothing here
locks or does I/O. Body bytes wait in
a deque of the chunks the engine produced (no copies, no re-slicing: a
partly read head chunk is tracked by ``offset``), and their total is bounded
by the stream's receive window, because window is given back only as the
application consumes them.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyper.core.client import PushRecord

Headers = list[tuple[bytes, bytes]]


class StreamBuffer:
    """One stream's received response, and whether it has ended or failed."""

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
        #: The final response's header block, pseudo-headers first.
        self.headers: Headers | None = None
        #: 1xx header blocks, in order of arrival.
        self.informational: list[Headers] = []
        #: Body chunks not yet read; ``chunks[0][offset:]`` is the next data.
        self.chunks: deque[bytes] = deque()
        self.offset = 0
        #: Unread body bytes in ``chunks`` (minus ``offset``).
        self.buffered = 0
        #: Unread bytes whose window was already given back (``get_pushes``
        #: with ``capture_all`` drains the window to see the stream's end).
        self.preacked = 0
        #: END_STREAM arrived: no more data, ``trailers`` final.
        self.ended = False
        self.trailers: Headers | None = None
        #: Why the stream failed (reset, refused, connection lost), if it did.
        self.error: BaseException | None = None
        #: Promises the server made on this stream, in order.
        self.pushes: list[PushRecord] = []
        #: How many of ``pushes`` ``get_pushes`` has handed out already.
        self.pushes_taken = 0
        #: A response object owns this stream (getresponse was called), or
        #: it was released.
        self.claimed = False
        #: Free for the driver: what it waits on for this stream, if anything.
        self.waiter: object = None
        #: The request (header block, whole body or None) of a stream opened
        #: before the server's SETTINGS, to send again if it is refused.
        self.replay: tuple[list[tuple[Any, Any]], Any] | None = None

    @property
    def is_drained(self) -> bool:
        """Everything the peer will send on this stream has been read."""
        return self.ended and not self.chunks

    def take(self, limit: int | None) -> list[bytes]:
        """
        Remove and return up to ``limit`` buffered body bytes (all of them for
        None) as a list of chunks; whole chunks are handed over uncopied.
        """
        chunks = self.chunks
        out: list[bytes] = []
        if limit is None or limit >= self.buffered:
            if self.offset:
                head = chunks.popleft()
                out.append(head[self.offset :])
                self.offset = 0
            out.extend(chunks)
            chunks.clear()
            self.buffered = 0
            return out
        want = limit
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
        return out

    def __repr__(self) -> str:
        state = "ended" if self.ended else "open"
        return f"<StreamBuffer {self.stream_id} {state} buffered={self.buffered}>"
