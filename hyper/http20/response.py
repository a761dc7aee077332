"""
The HTTP/2 response and server-push objects: ``http.client.HTTPResponse``'s
API (with the historic hyper spellings beside it) over one stream of a
shared :class:`~hyper.http20.connection.HTTP20Connection`.

Bodies stream: a read takes what the connection has buffered for the stream
(at most its receive window) and gives that window back, so the server
sends more only as the application consumes. The reading surface (and its
bounded content decoding) is :class:`hyper.common.response.BaseResponse`,
shared with HTTP/1.1; this module supplies the stream-specific hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from hyper.common.headers import HTTPHeaderMap
from hyper.common.response import BaseResponse
from hyper.common.types import RawHeaders
from hyper.common.util import HTTPVersion
from hyper.core.streams import StreamBuffer, split_pseudo, split_status

if TYPE_CHECKING:
    from hyper.core.streams import PushRecord
    from hyper.drivers.sync_h2 import Session

__all__ = ["HTTP20Push", "HTTP20Response"]



class HTTP20Response(BaseResponse):
    """
    The response to one request (or one server push), read from its stream.

    Attributes: ``status`` (int), ``reason`` (always ``''``: HTTP/2 has no
    reason phrase), ``headers`` (:class:`HTTPHeaderMap`, pseudo-headers
    removed), ``trailers``, ``informational`` (the 1xx responses that came
    first, as ``(status, HTTPHeaderMap)`` pairs), ``version``, ``stream_id``
    and ``pushes``. The reading surface is :class:`BaseResponse`'s; a read
    raises :class:`StreamResetError` when the stream was reset mid-body, and
    :meth:`close` on an unfinished body resets the stream (CANCEL), so the
    server stops sending and the stream's slot and buffer are freed at once.
    ``will_close`` and ``chunked`` are always False: streams end, the
    connection goes on.

    Concurrency: one response is read by one thread at a time; different
    responses on the same connection may be read from any threads at once.
    """

    version = HTTPVersion.http20
    _lowercase_names = True

    def __init__(self, stream: StreamBuffer, session: Session) -> None:
        self._stream = stream
        self._session = session
        self._released = False
        status, regular = split_status(stream.headers or [])
        super().__init__(status, "", regular)
        #: The stream this response arrived on.
        self.stream_id = stream.stream_id
        for block in stream.informational:
            info_status, info_regular = split_status(block)
            self.informational.append((info_status, HTTPHeaderMap._from_raw(info_regular)))

    # ------------------------------------------------------------------
    # Body (the hooks of BaseResponse)

    def _next_raw(self, limit: int | None) -> list[bytes]:
        if self._body_done:
            return []
        stream = self._stream
        chunks = self._session.read(stream, limit)
        # Drained (END_STREAM seen, nothing left) is final: no need to ask
        # the session again just to hear "the end".
        if not chunks or stream.is_drained:
            self._body_done = True
        return chunks

    def _finish(self) -> None:
        """The body has been read to its end: the stream is already free."""
        super()._finish()
        self._released = True

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._session.release(self._stream)

    # ------------------------------------------------------------------
    # Trailers (BaseResponse.trailers reads the body first), pushes

    def _trailer_fields(self) -> HTTPHeaderMap:
        return HTTPHeaderMap._from_raw(self._stream.trailers or [])

    @property
    def pushes(self) -> list[HTTP20Push]:
        """The resources the server promised on this stream so far; complete
        once the body has been read."""
        session = self._session
        return [push_for(record, session) for record in self._stream.pushes]

    # ------------------------------------------------------------------
    # File-like odds and ends

    def fileno(self) -> int:
        """The file descriptor of the connection's socket."""
        return self._session.fileno()

    def _collected(self) -> None:
        # May run inside any thread, even one holding the session's lock:
        # only queue the stream for release (no locking here).
        if not getattr(self, "_released", True):
            self._released = True
            self._session.abandon(self._stream)

    def __repr__(self) -> str:
        return f"<HTTP20Response [{self.status}] stream {self.stream_id}>"


class HTTP20Push:
    """
    A request the server pushed (``PUSH_PROMISE``) and, through
    :meth:`getresponse`, its response.

    ``scheme``, ``method``, ``authority`` and ``path`` are the promised
    request's pseudo-headers (bytes); ``request_headers`` the rest.
    """

    def __init__(
        self, request_headers: RawHeaders, session: Session, stream: StreamBuffer
    ) -> None:
        pseudo, regular = split_pseudo(request_headers)
        #: The scheme of the promised request.
        self.scheme: bytes = pseudo.get(b":scheme", b"")
        #: The method of the promised request (GET or HEAD).
        self.method: bytes = pseudo.get(b":method", b"")
        #: The authority of the promised request (usually host:port).
        self.authority: bytes = pseudo.get(b":authority", b"")
        #: The path of the promised request.
        self.path: bytes = pseudo.get(b":path", b"")
        #: The headers of the promised request, pseudo-headers removed.
        self.request_headers = HTTPHeaderMap._from_raw(regular)
        #: The stream the pushed response arrives on.
        self.stream_id = stream.stream_id
        self._session = session
        self._stream = stream
        self._response: HTTP20Response | None = None
        self._released = False

    def getrequestheaders(self) -> HTTPHeaderMap:
        """The headers of the promised request (historic spelling)."""
        return self.request_headers

    def getresponse(self) -> HTTP20Response:
        """
        Wait for the pushed response's headers and return the response.

        :raises StreamResetError: the push was cancelled or reset.
        :raises TimeoutError: nothing arrived within the read timeout.

        Concurrency: thread-safe.
        """
        if self._response is None:
            self._session.wait_response(self._stream)
            if self._response is None:
                self._stream.claimed = True
                self._released = True  # the response owns the stream now
                self._response = HTTP20Response(self._stream, self._session)
        return self._response

    get_response = getresponse

    def cancel(self) -> None:
        """Refuse the pushed response: reset its stream (CANCEL).
        Concurrency: thread-safe."""
        if self._response is not None:
            self._response.close()
        elif not self._released:
            self._released = True
            self._session.release(self._stream)

    def __del__(self) -> None:
        if not getattr(self, "_released", True):
            self._released = True
            self._session.abandon(self._stream)

    def __repr__(self) -> str:
        return f"<HTTP20Push {self.method!r} {self.path!r} stream {self.stream_id}>"


def push_for(record: PushRecord, session: Session) -> HTTP20Push:
    """The one public :class:`HTTP20Push` of a push record, made on first use
    (it then owns the pushed stream: dropping it unread cancels the push)."""
    push = record.wrapper
    if push is None:
        push = record.wrapper = HTTP20Push(record.request_headers, session, record.stream)
    return cast(HTTP20Push, push)
# ---------------------------------------------------------------------------
# Historic module-level names (hyper 0.7), kept at the end of the module.

from hyper.common.decoder import decompressors as decompressors  # noqa: E402


def strip_headers(headers: HTTPHeaderMap) -> None:
    """Delete every pseudo-header (a name starting with ``:``) from
    ``headers``, in place. hyper's responses never hold any; historic code
    called this on header maps of its own."""
    for name in {name for name, _ in headers.items() if name.startswith(b":")}:
        del headers[name]
