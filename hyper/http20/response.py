"""
The HTTP/2 response and server-push objects: ``http.client.HTTPResponse``'s
API (with the historic hyper spellings beside it) over one stream of a
shared :class:`~hyper.http20.connection.HTTP20Connection`.

Bodies stream: a read takes what the connection has buffered for the stream
(at most its receive window) and gives that window back, so the server
sends more only as the application consumes. Content decoding is bounded
per call (``read(amt)`` returns at most ``amt`` decoded bytes, and
``read_chunked`` yields pieces of at most 64 KiB), so a decompression bomb
cannot exhaust memory unless the caller asks for the whole body at once.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from hyper.common.decoder import Decoder, make_decoder
from hyper.common.headers import HTTPHeaderMap
from hyper.common.util import HTTPVersion
from hyper.http20._streambuf import StreamBuffer

if TYPE_CHECKING:
    from hyper.http20._session import Session

__all__ = ["HTTP20Push", "HTTP20Response"]

_T = TypeVar("_T")
Headers = list[tuple[bytes, bytes]]

# The most decoded bytes one step of ``read_chunked`` yields.
_DECODED_CHUNK = 65536


def _split_pseudo(headers: Headers) -> tuple[dict[bytes, bytes], Headers]:
    """Pseudo-headers (which the engine put first) and the regular rest."""
    index = 0
    size = len(headers)
    while index < size and headers[index][0][:1] == b":":
        index += 1
    return dict(headers[:index]), headers[index:]


class HTTP20Response:
    """
    The response to one request (or one server push), read from its stream.

    Attributes: ``status`` (int), ``reason`` (always ``''``: HTTP/2 has no
    reason phrase), ``headers`` (:class:`HTTPHeaderMap`, pseudo-headers
    removed), ``trailers``, ``informational`` (the 1xx responses that came
    first, as ``(status, HTTPHeaderMap)`` pairs), ``version``, ``stream_id``
    and ``pushes``.

    Concurrency: one response is read by one thread at a time; different
    responses on the same connection may be read from any threads at once.
    """

    version = HTTPVersion.http20

    def __init__(self, stream: StreamBuffer, session: Session) -> None:
        self._stream = stream
        self._session = session
        self._released = False
        pseudo, regular = _split_pseudo(stream.headers or [])
        #: The status code returned by the server.
        self.status = int(pseudo.get(b":status", b"0"))
        #: HTTP/2 has no reason phrase: always the empty string.
        self.reason = ""
        #: The response headers, without pseudo-headers.
        self.headers = HTTPHeaderMap._from_raw(regular)
        self._raw_headers = regular
        #: The stream this response arrived on.
        self.stream_id = stream.stream_id
        #: The 1xx responses received before this one, in order.
        self.informational: list[tuple[int, HTTPHeaderMap]] = []
        for block in stream.informational:
            info_pseudo, info_regular = _split_pseudo(block)
            status = int(info_pseudo.get(b":status", b"0"))
            self.informational.append((status, HTTPHeaderMap._from_raw(info_regular)))
        self._decoder: Decoder | None = None
        self._decoder_error: BaseException | None = None
        encodings = [value for name, value in regular if name == b"content-encoding"]
        if encodings:
            try:
                self._decoder = make_decoder(b", ".join(encodings))
            except Exception as exc:
                self._decoder_error = exc
        self._body_done = False  # every raw body byte has been taken
        # Decoded bytes a read() collected before it failed (a timeout, say):
        # handed out first by the next read, so nothing is lost.
        self._carry = b""
        self._closed = False
        self._msg: http.client.HTTPMessage | None = None

    # ------------------------------------------------------------------
    # Body

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        """
        Read the body: all of it, or up to ``amt`` bytes, returned as soon as
        some are available (``b''`` only at the end).

        :param decode_content: undo the ``Content-Encoding`` (gzip, deflate,
            br, zstd); False gives the bytes exactly as sent.
        :raises StreamResetError: the stream was reset mid-body.
        :raises DecodingError: the body is not valid for its encoding.
        :raises TimeoutError: no data arrived within the read timeout (the
            response stays readable).

        Concurrency: thread-safe with respect to other responses; one
        thread at a time per response.
        """
        if self._closed:
            return b""
        decoder = self._get_decoder() if decode_content else None
        if amt is None or amt < 0:
            return self._read_all(decoder)
        if amt == 0:
            return b""
        if self._carry:
            carry = self._carry
            if amt >= len(carry):
                self._carry = b""
                return carry
            self._carry = carry[amt:]
            return carry[:amt]
        if decoder is None:
            chunks = self._next_raw(amt)
            if self._body_done:
                self._finish()
            if not chunks:
                return b""
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._read_decoded(decoder, amt)

    def read_chunked(self, decode_content: bool = True) -> Iterator[bytes]:
        """
        Yield the body as it arrives: each DATA payload as received, or
        (when decoding) decoded pieces of at most 64 KiB. Never yields
        ``b''``.

        Concurrency: as :meth:`read`.
        """
        if self._closed:
            return
        decoder = self._get_decoder() if decode_content else None
        if self._carry:
            carry, self._carry = self._carry, b""
            yield carry
        while True:
            # Output still inside the decoder (from an earlier bounded read)
            # comes out in bounded pieces before more input goes in.
            while decoder is not None and decoder.has_unconsumed_tail:
                out = decoder.decompress(b"", _DECODED_CHUNK)
                if out:
                    yield out
            chunks = self._next_raw(None)
            if not chunks:
                break
            if decoder is None:
                yield from chunks
                continue
            for chunk in chunks:
                out = decoder.decompress(chunk, _DECODED_CHUNK)
                if out:
                    yield out
                while decoder.has_unconsumed_tail:
                    out = decoder.decompress(b"", _DECODED_CHUNK)
                    if out:
                        yield out
        if decoder is not None:
            tail = decoder.flush()
            if tail:
                yield tail
        self._finish()

    def __iter__(self) -> Iterator[bytes]:
        """Iterating a response yields its decoded body as :meth:`read_chunked` does."""
        return self.read_chunked()

    def readinto(self, b: Any) -> int:
        """Read up to ``len(b)`` body bytes into the writable buffer ``b``;
        return how many (0 at the end). Concurrency: as :meth:`read`."""
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        size = len(data)
        view[:size] = data
        return size

    def _get_decoder(self) -> Decoder | None:
        if self._decoder_error is not None:
            raise self._decoder_error
        return self._decoder

    def _next_raw(self, limit: int | None) -> list[bytes]:
        if self._body_done:
            return []
        stream = self._stream
        chunks = self._session.read(stream, limit)
        # Drained (END_STREAM seen, nothing left) is final: no need to ask
        # the session again just to hear "the end".
        if not chunks or (stream.ended and not stream.chunks):
            self._body_done = True
        return chunks

    def _read_all(self, decoder: Decoder | None) -> bytes:
        parts: list[bytes] = []
        if self._carry:
            parts.append(self._carry)
            self._carry = b""
        try:
            if decoder is not None and decoder.has_unconsumed_tail:
                parts.append(decoder.decompress(b""))
            while True:
                chunks = self._next_raw(None)
                if not chunks:
                    break
                if decoder is None:
                    parts.extend(chunks)
                else:
                    for chunk in chunks:
                        parts.append(decoder.decompress(chunk))
            if decoder is not None:
                parts.append(decoder.flush())
        except BaseException:
            self._carry = b"".join(parts)
            raise
        self._finish()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _read_decoded(self, decoder: Decoder, amt: int) -> bytes:
        while True:
            if decoder.has_unconsumed_tail:
                out = decoder.decompress(b"", amt)
                if out:
                    return out
            if self._body_done:
                # Nothing is left inside the decoder (no unconsumed tail), so
                # this only checks the stream ended cleanly.
                out = decoder.flush()
                self._finish()
                return out
            chunks = self._next_raw(amt)
            if chunks:
                out = decoder.decompress(chunks[0] if len(chunks) == 1 else b"".join(chunks), amt)
                if out:
                    return out

    def _finish(self) -> None:
        """The body has been read to its end: the stream is already free."""
        self._body_done = True
        self._closed = True
        self._released = True

    # ------------------------------------------------------------------
    # Headers, trailers, pushes

    @property
    def trailers(self) -> HTTPHeaderMap:
        """The trailers; empty until the body has been read to its end."""
        return HTTPHeaderMap._from_raw(self._stream.trailers or [])

    @property
    def pushes(self) -> list[HTTP20Push]:
        """The resources the server promised on this stream so far; complete
        once the body has been read."""
        return list(self._stream.pushes)

    def getheader(self, name: str, default: Any = None) -> Any:
        """
        The value of header ``name`` as a str, several values joined with
        ``', '``; ``default`` when absent (joined the same way if it is a
        non-str iterable), as ``http.client`` does.
        """
        wanted = name.lower().encode("latin-1") if isinstance(name, str) else name.lower()
        values = [v.decode("latin-1") for n, v in self._raw_headers if n == wanted]
        if values:
            return ", ".join(values)
        if isinstance(default, str) or not hasattr(default, "__iter__"):
            return default
        return ", ".join(default)

    def getheaders(self) -> list[tuple[str, str]]:
        """Every header as a ``(name, value)`` pair of str, as received."""
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._raw_headers]

    @property
    def msg(self) -> http.client.HTTPMessage:
        """The headers as an ``http.client.HTTPMessage``, for code written for
        ``http.client``."""
        if self._msg is None:
            message = http.client.HTTPMessage()
            for name, value in self._raw_headers:
                message[name.decode("latin-1")] = value.decode("latin-1")
            self._msg = message
        return self._msg

    # ------------------------------------------------------------------
    # File-like odds and ends

    @property
    def closed(self) -> bool:
        """True once the body was read to its end or the response closed."""
        return self._closed

    def isclosed(self) -> bool:
        """``http.client`` spelling of :attr:`closed`."""
        return self._closed

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        """The file descriptor of the connection's socket."""
        return self._session.fileno()

    def close(self) -> None:
        """
        Stop reading: if the body is not complete the stream is reset
        (CANCEL), so the server stops sending and the stream's slot and
        buffer are freed at once.

        Concurrency: thread-safe.
        """
        self._closed = True
        if not self._released:
            self._released = True
            self._session.release(self._stream)

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
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

    def __init__(self, request_headers: Headers, session: Session, stream: StreamBuffer) -> None:
        pseudo, regular = _split_pseudo(request_headers)
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
