"""
:class:`AsyncHTTP20Response` and :class:`AsyncHTTP20Push`: the response
objects of :class:`~hyper.aio.AsyncHTTP20Connection`, in coroutine form.

Content decoding, the header map and the bounded decoded reads are the
blocking client's, shared: a private :class:`~hyper.common.response.BaseResponse`
subclass reads the stream's buffer *without waiting*; when nothing is
buffered it raises :class:`_NeedData` before consuming anything, the async
method waits for the stream (with the per-call timeout) and calls again.
``BaseResponse`` is retry-safe at that point by design (it is what a read
timeout does in the blocking client), so no decoding logic is repeated
here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from hyper.common.headers import HTTPHeaderMap
from hyper.common.response import BaseResponse
from hyper.common.types import RawHeaders
from hyper.common.util import HTTPVersion
from hyper.core.streams import StreamBuffer, split_pseudo, split_status
from hyper.engine.exceptions import StreamStateError

if TYPE_CHECKING:
    from hyper.core.streams import PushRecord
    from hyper.drivers.async_h2 import ClientDriver

__all__ = ["AsyncHTTP20Push", "AsyncHTTP20Response"]


# What one step of read() (all of it) and read_chunked() asks for: large
# enough to take whole socket reads at once, bounded so decoding a bomb
# stays bounded per step.
_READ_STEP = 1 << 20
_CHUNK = 65536


class _NeedData(Exception):
    """Nothing is buffered for the stream yet (never escapes this module)."""


class _Body(BaseResponse):
    """The shared reading surface over one stream buffer, never waiting."""

    version = HTTPVersion.http20
    _lowercase_names = True

    def __init__(self, stream: StreamBuffer, protocol: ClientDriver) -> None:
        self.stream = stream
        self.protocol = protocol
        status, regular = split_status(stream.headers or [])
        super().__init__(status, "", regular)
        self.released = False
        for block in stream.informational:
            info_status, info_regular = split_status(block)
            self.informational.append((info_status, HTTPHeaderMap._from_raw(info_regular)))

    def _next_raw(self, limit: int | None) -> list[bytes]:
        if self._body_done:
            return []
        stream = self.stream
        core = self.protocol.core
        if not core.body_ready(stream):
            raise _NeedData
        try:
            chunks = core.read(stream, limit)
        finally:
            # Window given back; or the stream failed and is forgotten, and the
            # connection (after a GOAWAY) may be done with.
            self.protocol.schedule_flush()
        if not chunks or stream.is_drained:
            self._body_done = True
        return chunks

    def _finish(self) -> None:
        super()._finish()
        self.released = True

    def _release(self) -> None:
        if not self.released:
            self.released = True
            self.protocol.core.release(self.stream)
            self.protocol.schedule_flush()

    def _trailer_fields(self) -> HTTPHeaderMap:
        return HTTPHeaderMap._from_raw(self.stream.trailers or [])

    # _collected: nothing; AsyncHTTP20Response.__del__ abandons the stream.


class AsyncHTTP20Response:
    """
    The response to one request (or one push).

    Attributes: ``status`` (int), ``reason`` (``''``: HTTP/2 has none),
    ``headers`` (:class:`HTTPHeaderMap`, pseudo-headers removed),
    ``trailers``, ``informational`` (1xx responses), ``version``,
    ``stream_id``, ``pushes``. Reads raise :class:`StreamResetError` when
    the stream was reset mid-body and :class:`hyper.common.exceptions.TimeoutError`
    when nothing arrived within the connection's read timeout (the
    response stays readable). :meth:`close` on an unfinished body resets
    the stream (CANCEL).
    """

    version = HTTPVersion.http20

    def __init__(
        self, stream: StreamBuffer, protocol: ClientDriver, timeout: float | None
    ) -> None:
        self._body = body = _Body(stream, protocol)
        self._stream = stream
        self._protocol = protocol
        self._timeout = timeout
        self.status = body.status
        self.reason = body.reason
        self.headers = body.headers
        self.informational = body.informational
        #: The stream this response arrived on.
        self.stream_id = stream.stream_id

    # -- body -----------------------------------------------------------------

    async def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        """
        Read the body: all of it, or up to ``amt`` bytes, as soon as some are
        there (``b''`` only at the end). ``decode_content=False`` gives the
        bytes as sent (no Content-Encoding undone).
        """
        if amt is not None and amt >= 0:
            return await self._read_some(amt, decode_content)
        body = self._body
        parts: list[bytes] = []
        while True:
            # _read_some's loop inline: no coroutine per step of the body.
            try:
                piece = body.read1(_READ_STEP, decode_content)
            except _NeedData:
                await self._protocol.wait(self._stream, False, self._timeout)
                continue
            if not piece:
                return parts[0] if len(parts) == 1 else b"".join(parts)
            parts.append(piece)

    async def _read_some(self, amt: int, decode_content: bool) -> bytes:
        body = self._body
        while True:
            try:
                # read1: what is there (the blocking read(n) would wait to fill n).
                return body.read1(amt, decode_content) if amt else b""
            except _NeedData:
                await self._protocol.wait(self._stream, False, self._timeout)

    async def read_chunked(self, decode_content: bool = True) -> AsyncIterator[bytes]:
        """Yield the body as it arrives, in pieces of at most 64 KiB; never ``b''``."""
        while True:
            piece = await self._read_some(_CHUNK, decode_content)
            if not piece:
                return
            yield piece

    def __aiter__(self) -> AsyncIterator[bytes]:
        """``async for chunk in response``: as :meth:`read_chunked`."""
        return self.read_chunked()

    async def readinto(self, b: Any) -> int:
        """Read up to ``len(b)`` body bytes into the buffer ``b``; 0 at the end."""
        view = memoryview(b).cast("B")
        data = await self.read(len(view))
        view[: len(data)] = data
        return len(data)

    # -- headers, trailers, pushes --------------------------------------------

    def getheader(self, name: str, default: Any = None) -> Any:
        """Header ``name`` as str (several joined with ``', '``), or ``default``."""
        return self._body.getheader(name, default)

    def getheaders(self) -> list[tuple[str, str]]:
        return self._body.getheaders()

    @property
    def msg(self) -> Any:
        """The headers as an ``http.client.HTTPMessage``."""
        return self._body.msg

    @property
    def trailers(self) -> HTTPHeaderMap:
        """
        The trailers that followed the body (empty when none came). Once the
        whole response has arrived, asking before the body was read keeps
        the rest of the body for the reads to come, as the blocking
        response does; a property cannot wait for the rest to arrive, so
        before then this raises: ``await`` :meth:`gettrailers` instead.

        :raises StreamStateError: the body has not all arrived yet.
        """
        try:
            return self._body.trailers
        except _NeedData:
            raise StreamStateError(
                f"the trailers of stream {self.stream_id} follow its body, which has not "
                "all arrived: await response.gettrailers()"
            ) from None

    async def gettrailers(self) -> HTTPHeaderMap:
        """
        The trailers, waiting for the rest of the body first and keeping
        it for the reads to come (as the blocking ``response.trailers``).

        :raises hyper.common.exceptions.TimeoutError: nothing arrived within
            the read timeout (what did is kept; call again to go on).
        """
        body = self._body
        while True:
            try:
                return body.trailers
            except _NeedData:
                await self._protocol.wait(self._stream, False, self._timeout)

    @property
    def pushes(self) -> list[AsyncHTTP20Push]:
        """The pushes promised on this stream so far (all, once the body is read)."""
        return [push_for(record, self._protocol, self._timeout) for record in self._stream.pushes]

    # -- closing ----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._body.closed

    def isclosed(self) -> bool:
        return self._body.closed

    def close(self) -> None:
        """Stop reading; an unfinished body's stream is reset (CANCEL)."""
        self._body.close()

    async def __aenter__(self) -> AsyncHTTP20Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        body = getattr(self, "_body", None)
        if body is not None and not body.released:
            body.released = True
            self._protocol.core.abandon(self._stream)

    def __repr__(self) -> str:
        return f"<AsyncHTTP20Response [{self.status}] stream {self.stream_id}>"


class AsyncHTTP20Push:
    """
    A request the server pushed and, through :meth:`get_response`, its
    response. ``scheme``, ``method``, ``authority`` and ``path`` are the
    promised request's pseudo-headers (bytes); ``request_headers`` the rest.
    """

    def __init__(
        self,
        request_headers: RawHeaders,
        stream: StreamBuffer,
        protocol: ClientDriver,
        timeout: float | None,
    ) -> None:
        pseudo, regular = split_pseudo(request_headers)
        self.scheme: bytes = pseudo.get(b":scheme", b"")
        self.method: bytes = pseudo.get(b":method", b"")
        self.authority: bytes = pseudo.get(b":authority", b"")
        self.path: bytes = pseudo.get(b":path", b"")
        self.request_headers = HTTPHeaderMap._from_raw(regular)
        self.stream_id = stream.stream_id
        self._stream = stream
        self._protocol = protocol
        self._timeout = timeout
        self._response: AsyncHTTP20Response | None = None

    async def get_response(self) -> AsyncHTTP20Response:
        """
        Wait for the pushed response's headers.

        :raises StreamResetError: the push was cancelled or reset.
        """
        if self._response is None:
            await self._protocol.wait_response(self._stream, self._timeout)
            if self._response is None:
                self._stream.claimed = True
                self._response = AsyncHTTP20Response(self._stream, self._protocol, self._timeout)
        return self._response

    getresponse = get_response

    def cancel(self) -> None:
        """Refuse the pushed response: reset its stream (CANCEL)."""
        if self._response is not None:
            self._response.close()
        else:
            self._protocol.core.release(self._stream)
            self._protocol.schedule_flush()

    def __repr__(self) -> str:
        return f"<AsyncHTTP20Push {self.method!r} {self.path!r} stream {self.stream_id}>"


def push_for(record: PushRecord, protocol: ClientDriver, timeout: float | None) -> AsyncHTTP20Push:
    """The one public push object of a record, made on first use."""
    push = record.wrapper
    if not isinstance(push, AsyncHTTP20Push):  # None, or taken by H2Protocol.recv_push
        push = record.wrapper = AsyncHTTP20Push(
            record.request_headers, record.stream, protocol, timeout
        )
    return push
