"""
The reading surface every hyper response shares, whichever HTTP version
answered: an ``io.BufferedIOBase`` as ``http.client.HTTPResponse`` is, with
the historic hyper spellings beside it.

A subclass supplies the body as raw (still content-encoded) chunks through
two hooks:

- ``_next_raw(limit)`` returns the next chunks of the body, at most
  ``limit`` bytes in all when ``limit`` is not None (None: whatever is
  ready), waiting for at least one byte; an empty list means the body has
  ended (and sets ``_body_done``);
- ``_finish()`` runs once the body has been read to its end (call the base
  version from an override).

Reads follow ``io.BufferedIOBase``: ``read(n)`` and ``readinto`` fill what
they were asked for unless the body ends first (as ``http.client`` and
historic hyper do), ``read1(n)``, ``readinto1`` and :meth:`read_chunked`
return what is there as soon as something is, ``peek`` looks without
taking, ``readline`` and iteration go by line. Decoded bytes a call did not
hand out (the rest of a line, what ``peek`` saw, what a failed read had
collected) wait in one buffer, ``_buf[_pos:]``, and go out first.

Trailers come after the body, so reading :attr:`BaseResponse.trailers` (or
:meth:`~BaseResponse.gettrailers`) before the body's end reads the rest of
the raw body first and keeps it (``_ahead``), as historic hyper did: the
reads that follow hand it out as if it had just arrived (decoded or not, as
each read asks). A subclass supplies the trailers through ``_trailer_fields()``.

Content decoding is bounded per call here, once for both versions:
``read(amt)`` returns at most ``amt`` decoded bytes and ``read_chunked``
yields pieces of at most 64 KiB, so a decompression bomb cannot exhaust
memory unless the caller asks for the whole body at once. A body is
decoded by default unless the caller took charge of content codings with
``putrequest(skip_accept_encoding=True)``, ``http.client``'s flag
(``_decode_default``; see :doc:`compat`).
"""

from __future__ import annotations

import http.client
import io
from collections import deque
from collections.abc import Iterator
from typing import Any, TypeVar

from hyper.common.decoder import Decoder, make_decoder
from hyper.common.headers import HTTPHeaderMap
from hyper.common.types import RawHeaders
from hyper.common.util import HTTPVersion

__all__ = ["BaseResponse", "ResponseHeaders"]

_T = TypeVar("_T")

# The most decoded bytes one step of ``read_chunked`` (and of ``read1``
# without a size, and of a line search) yields.
_DECODED_CHUNK = 65536
_UNSET: Any = object()


def _message(raw_headers: RawHeaders) -> http.client.HTTPMessage:
    message = http.client.HTTPMessage()
    for name, value in raw_headers:
        message[name.decode("latin-1")] = value.decode("latin-1")
    return message


class ResponseHeaders(HTTPHeaderMap):
    """
    A response's :class:`HTTPHeaderMap` (the historic API, unchanged: ``[]``,
    ``get``, ``items``, iteration...) with the reading methods of
    ``email.message.Message`` whose names it does not already use, so code
    written for ``http.client``'s ``response.headers`` (an
    ``HTTPMessage``) keeps working: ``get_all``, ``get_content_type``,
    ``get_content_charset``, ``get_param``... They answer in str, as
    there. ``response.msg`` and ``response.info()`` are the
    ``HTTPMessage`` itself, for the names both use (see :doc:`compat`).
    """

    __slots__ = ()

    def as_message(self) -> http.client.HTTPMessage:
        """The fields as an ``http.client.HTTPMessage`` (a new one each call)."""
        return _message(self._items)

    def get_all(self, name: str, failobj: Any = None) -> Any:
        """Every value of ``name`` as str, as received (``failobj`` if none)."""
        return self.as_message().get_all(name, failobj)

    def get_content_type(self) -> str:
        return self.as_message().get_content_type()

    def get_content_maintype(self) -> str:
        return self.as_message().get_content_maintype()

    def get_content_subtype(self) -> str:
        return self.as_message().get_content_subtype()

    def get_content_charset(self, failobj: Any = None) -> Any:
        return self.as_message().get_content_charset(failobj)

    def get_param(self, param: str, failobj: Any = None, header: str = "content-type") -> Any:
        return self.as_message().get_param(param, failobj, header)

    def get_params(self, failobj: Any = None, header: str = "content-type") -> Any:
        return self.as_message().get_params(failobj, header)

    def get_filename(self, failobj: Any = None) -> Any:
        return self.as_message().get_filename(failobj)

    def get_boundary(self, failobj: Any = None) -> Any:
        return self.as_message().get_boundary(failobj)

    def as_string(self) -> str:
        return self.as_message().as_string()


class BaseResponse(io.BufferedIOBase):
    """
    A response's status, headers and body; see the module docstring for what
    a subclass provides.

    Attributes: ``status`` (int; ``code`` and ``getcode()`` too),
    ``reason`` (str), ``headers`` (:class:`ResponseHeaders`, an
    :class:`HTTPHeaderMap`), ``msg`` (an ``http.client.HTTPMessage``, which
    ``info()`` returns; assignable, as urllib does), ``informational`` (the
    1xx responses that came first, as ``(status, HTTPHeaderMap)`` pairs),
    ``version``, ``url`` (None unless set, as urllib does; ``geturl()``).

    Concurrency: one response is read by one thread at a time.
    """

    version: HTTPVersion
    #: The protocol guarantees lowercase field names (HTTP/2, RFC 9113 8.2.1).
    _lowercase_names = False
    #: ``http.client``'s: the body is sent chunked (HTTP/1.1 sets it).
    chunked = False
    #: ``http.client``'s: the server closes the connection after this response.
    will_close = False
    #: ``http.client``'s ``debuglevel`` of the response; unused.
    debuglevel = 0
    #: The URL the response answers, when the caller set it (urllib does).
    url: str | None = None
    # Defaults kept on the class, so making a response sets only what differs
    # (a response is made per request: see bench/client.py (a)).
    #: What ``read(decode_content=None)`` does: decode unless the caller
    #: took charge of content codings (the connection sets it).
    _decode_default = True
    _taken = 0  # raw body bytes taken from the subclass
    # Decoded bytes not handed out yet: _buf[_pos:] goes out first.
    _buf = b""
    _pos = 0
    _message: http.client.HTTPMessage | None = None
    _msg: Any = _UNSET
    # Raw body chunks read ahead for the trailers, not handed out yet; None
    # when there are none (never an empty deque).
    _ahead: deque[bytes] | None = None

    def __init__(self, status: int, reason: str, raw_headers: RawHeaders) -> None:
        #: The status code returned by the server.
        self.status = status
        #: The reason phrase ('' when the server sent none, always for HTTP/2).
        self.reason = reason
        #: The response headers.
        self.headers = ResponseHeaders._from_raw(raw_headers)
        self._raw_headers = raw_headers
        #: The 1xx responses received before this one, in order.
        self.informational: list[tuple[int, HTTPHeaderMap]] = []
        self._decoder: Decoder | None = None
        self._decoder_error: BaseException | None = None
        if self._lowercase_names:
            encodings = [value for name, value in raw_headers if name == b"content-encoding"]
        else:
            encodings = [
                value for name, value in raw_headers if name.lower() == b"content-encoding"
            ]
        if encodings:
            try:
                self._decoder = make_decoder(b", ".join(encodings))
            except Exception as exc:
                self._decoder_error = exc
        self._body_done = False  # every raw body byte has been taken
        # Nothing more to hand out: the body was read to its end, or close().
        self._closed = False

    # ------------------------------------------------------------------
    # The hooks

    def _next_raw(self, limit: int | None) -> list[bytes]:
        """The next raw body chunks (at most ``limit`` bytes); [] at the end."""
        raise NotImplementedError

    def _finish(self) -> None:
        """The body has been read to its end."""
        self._body_done = True
        self._closed = True

    def _release(self) -> None:
        """Let go of an unfinished body (called by :meth:`close`)."""

    def _collected(self) -> None:
        """The response is garbage collected unclosed (no locks may be taken)."""

    def _trailer_fields(self) -> HTTPHeaderMap:
        """The trailers received so far (empty until the body's end)."""
        return HTTPHeaderMap()

    def _take_raw(self, limit: int | None) -> list[bytes]:
        chunks = self._next_raw(limit) if self._ahead is None else self._next_ahead(limit)
        if chunks:
            self._taken += len(chunks[0]) if len(chunks) == 1 else sum(map(len, chunks))
        return chunks

    def _next_ahead(self, limit: int | None) -> list[bytes]:
        """:meth:`_next_raw`, from the chunks read ahead for the trailers first."""
        ahead = self._ahead
        if not ahead:
            self._ahead = None
            return self._next_raw(limit)
        if limit is None:
            chunks = list(ahead)
            self._ahead = None
            return chunks
        data = ahead.popleft()
        if len(data) > limit:
            ahead.appendleft(data[limit:])
            data = data[:limit]
        elif not ahead:
            self._ahead = None
        return [data]

    def _read_ahead(self) -> None:
        """
        Read the rest of the raw body and keep it for the reads to come (the
        trailers follow it). What arrived before a failure (a timeout) stays
        kept, so calling again goes on where this stopped.
        """
        if self._body_done or self._closed:
            return
        ahead = self._ahead
        if ahead is None:
            ahead = self._ahead = deque()
        try:
            while True:
                chunks = self._next_raw(None)
                if not chunks:
                    return
                ahead.extend(chunks)
        finally:
            if not ahead:
                self._ahead = None

    # ------------------------------------------------------------------
    # Body

    def read(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        """
        Read the body: all of it, or ``amt`` bytes (fewer only at its end;
        ``b''`` there).

        :param decode_content: undo the ``Content-Encoding`` (gzip, deflate,
            br, zstd); False gives the bytes exactly as sent. None (the
            default): decode, unless the request was made with
            ``putrequest(skip_accept_encoding=True)`` (then the caller
            decodes, as with ``http.client``).
        :raises DecodingError: the body is not valid for its encoding.
        :raises TimeoutError: no data arrived within the read timeout (the
            response stays readable, nothing lost).

        Subclasses document the version-specific failures (a reset stream,
        a connection closed mid-body).

        Concurrency: one thread at a time per response.
        """
        if amt is None or amt < 0:
            if self._closed:
                return self._take_ahead(-1)
            if decode_content is None:
                decode_content = self._decode_default
            return self._read_all(self._get_decoder() if decode_content else None)
        if amt == 0:
            return b""
        parts: list[bytes] = []
        want = amt
        if self._pos < len(self._buf):
            first = self._take_ahead(amt)
            if len(first) == amt or self._closed:
                return first
            parts.append(first)
            want -= len(first)
        elif self._closed:
            return b""
        decoder = self._decoder_for(decode_content)
        try:
            while want > 0:
                chunk = self._read_some(decoder, want)
                if not chunk:
                    break
                if len(chunk) == amt:
                    return chunk  # the common case: one piece, nothing joined
                parts.append(chunk)
                want -= len(chunk)
        except BaseException as exc:
            self._keep(b"".join(parts), exc)
            raise
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read1(self, amt: int = -1, decode_content: bool | None = None) -> bytes:
        """
        Read what is there, waiting only for something: at most ``amt``
        bytes (any positive amount when negative); ``b''`` at the end.

        Concurrency: as :meth:`read`.
        """
        if self._pos < len(self._buf):
            return self._take_ahead(amt)
        if self._closed or amt == 0:
            return b""
        return self._read_some(self._decoder_for(decode_content), amt if amt > 0 else None)

    def peek(self, n: int = 0) -> bytes:
        """
        The bytes the next read would return, without taking them: at least
        one unless the body has ended (waiting for it), at most what is
        buffered (``n`` is a hint, as for ``io.BufferedReader``).
        """
        if self._pos >= len(self._buf) and not self._closed:
            data = self._read_some(self._decoder_for(None), None)
            self._buf, self._pos = data, 0
        return self._buf[self._pos :]

    def readinto(self, b: Any) -> int:
        """Read into the writable buffer ``b`` until it is full or the body
        ends; return how many bytes (0 at the end). Concurrency: as :meth:`read`."""
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        size = len(data)
        view[:size] = data
        return size

    def readinto1(self, b: Any) -> int:
        """As :meth:`readinto`, with :meth:`read1`'s single wait."""
        view = memoryview(b).cast("B")
        data = self.read1(len(view))
        size = len(data)
        view[:size] = data
        return size

    def readline(self, limit: int | None = -1) -> bytes:
        """
        The next line, its newline included (at most ``limit`` bytes when
        positive); ``b''`` at the end. Lines are searched for in the
        decoded body, so a line never costs more than its length.
        """
        if limit is None:
            limit = -1
        parts: list[bytes] = []
        size = 0
        while True:
            buf, pos = self._buf, self._pos
            end = len(buf)
            if limit >= 0:
                end = min(end, pos + limit - size)
            newline = buf.find(b"\n", pos, end)
            if newline >= 0:
                end = newline + 1
            if end > pos:
                parts.append(buf[pos:end])
                size += end - pos
                self._pos = end
            if newline >= 0 or (limit >= 0 and size >= limit):
                break
            if self._closed:
                break
            try:
                data = self._read_some(self._decoder_for(None), None)
            except BaseException as exc:
                self._keep(b"".join(parts), exc)
                raise
            if not data:
                break
            self._buf, self._pos = data, 0
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_chunked(self, decode_content: bool | None = None) -> Iterator[bytes]:
        """
        Yield the body as it arrives: each raw piece as received, or (when
        decoding) decoded pieces of at most 64 KiB. Never yields ``b''``.
        (Iterating the response itself yields lines, as ``http.client``'s.)

        Concurrency: as :meth:`read`.
        """
        if self._pos < len(self._buf):
            yield self._take_ahead(-1)
        if self._closed:
            return
        decoder = self._decoder_for(decode_content)
        while True:
            # Output still inside the decoder (from an earlier bounded read)
            # comes out in bounded pieces before more input goes in.
            while decoder is not None and decoder.has_unconsumed_tail:
                out = decoder.decompress(b"", _DECODED_CHUNK)
                if out:
                    yield out
            chunks = self._take_raw(None)
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

    def _decoder_for(self, decode_content: bool | None) -> Decoder | None:
        if decode_content is None:
            decode_content = self._decode_default
        return self._get_decoder() if decode_content else None

    def _get_decoder(self) -> Decoder | None:
        if self._decoder_error is not None:
            raise self._decoder_error
        return self._decoder

    def _take_ahead(self, amt: int) -> bytes:
        """Up to ``amt`` (all when negative) of the bytes not handed out yet."""
        buf, pos = self._buf, self._pos
        end = len(buf) if amt < 0 else min(len(buf), pos + amt)
        if pos == 0 and end == len(buf):
            self._buf = b""
            self._pos = 0
            return buf
        self._pos = end
        if end == len(buf):
            self._buf, self._pos = b"", 0
        return buf[pos:end]

    def _keep(self, data: bytes, exc: BaseException) -> None:
        """A read failed after collecting ``data``: hand it out first next
        time (a timeout loses nothing), or, when the body cannot go on (an
        ``http.client.IncompleteRead``), give it to the exception as its
        ``partial``, as ``http.client`` does."""
        if isinstance(exc, http.client.IncompleteRead):
            exc.partial = data + exc.partial
            return
        if data:
            self._buf = data + self._buf[self._pos :]
            self._pos = 0

    def _read_some(self, decoder: Decoder | None, amt: int | None) -> bytes:
        """At least one decoded byte (at most ``amt``), waiting for it; b''
        at the end of the body (which it finishes)."""
        if decoder is None:
            chunks = self._take_raw(amt)
            if not chunks:
                self._finish()
                return b""
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        limit = _DECODED_CHUNK if amt is None else amt
        while True:
            if decoder.has_unconsumed_tail:
                out = decoder.decompress(b"", limit)
                if out:
                    return out
            if self._body_done and self._ahead is None:
                # Nothing is left inside the decoder (no unconsumed tail), so
                # this only checks the body ended cleanly.
                out = decoder.flush()
                self._finish()
                return out
            chunks = self._take_raw(amt)
            if chunks:
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                out = decoder.decompress(data, limit)
                if out:
                    return out

    def _read_all(self, decoder: Decoder | None) -> bytes:
        parts: list[bytes] = []
        if self._pos < len(self._buf):
            parts.append(self._take_ahead(-1))
        try:
            if decoder is not None and decoder.has_unconsumed_tail:
                parts.append(decoder.decompress(b""))
            next_raw = self._next_raw if self._ahead is None else self._next_ahead
            while True:
                chunks = next_raw(None)
                if not chunks:
                    break
                self._taken += len(chunks[0]) if len(chunks) == 1 else sum(map(len, chunks))
                if decoder is None:
                    parts.extend(chunks)
                else:
                    for chunk in chunks:
                        parts.append(decoder.decompress(chunk))
            if decoder is not None:
                parts.append(decoder.flush())
        except BaseException as exc:
            self._keep(b"".join(parts), exc)
            raise
        self._finish()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # ------------------------------------------------------------------
    # Trailers

    @property
    def trailers(self) -> HTTPHeaderMap:
        """
        The trailer fields that followed the body (empty when none came).
        Asked before the body has been read to its end, this reads the rest
        of it first and keeps it, as historic hyper did: a later
        :meth:`read` returns it (so the whole body is then held in memory).
        After :meth:`close` of an unfinished body, what had arrived.

        :raises TimeoutError: the rest of the body did not arrive within the
            read timeout (what did is kept; ask again to go on waiting).

        Concurrency: as :meth:`read`.
        """
        if not self._body_done and not self._closed:
            self._read_ahead()
        return self._trailer_fields()

    def gettrailers(self) -> HTTPHeaderMap:
        """:attr:`trailers` (the spelling of ``getheaders``)."""
        return self.trailers

    # ------------------------------------------------------------------
    # Headers

    def getheader(self, name: str, default: Any = None) -> Any:
        """
        The value of header ``name`` as a str, several values joined with
        ``', '``; ``default`` when absent (joined the same way if it is a
        non-str iterable), as ``http.client`` does.
        """
        wanted = name.lower().encode("latin-1") if isinstance(name, str) else name.lower()
        values = [v.decode("latin-1") for n, v in self._raw_headers if n.lower() == wanted]
        if values:
            return ", ".join(values)
        if isinstance(default, str) or not hasattr(default, "__iter__"):
            return default
        return ", ".join(default)

    def getheaders(self) -> list[tuple[str, str]]:
        """Every header as a ``(name, value)`` pair of str, as received."""
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._raw_headers]

    def info(self) -> http.client.HTTPMessage:
        """The headers as an ``http.client.HTTPMessage`` (an
        ``email.message.Message``), as ``http.client`` and urllib return them."""
        if self._message is None:
            self._message = _message(self._raw_headers)
        return self._message

    @property
    def msg(self) -> Any:
        """The headers as an ``http.client.HTTPMessage`` (:meth:`info`)
        unless something else was assigned: urllib sets it to the reason."""
        if self._msg is _UNSET:
            return self.info()
        return self._msg

    @msg.setter
    def msg(self, value: Any) -> None:
        self._msg = value

    @property
    def code(self) -> int:
        """The status code (``http.client``'s and urllib's name)."""
        return self.status

    def getcode(self) -> int:
        """The status code (urllib's spelling)."""
        return self.status

    def geturl(self) -> str | None:
        """:attr:`url` (urllib's spelling)."""
        return self.url

    @property
    def length(self) -> int | None:
        """``http.client``'s: the body bytes (as sent, before decoding) still
        to come by the ``Content-Length``; None without one."""
        value = self.getheader("content-length")
        if value is None:
            return None
        try:
            expected = int(value.partition(",")[0])
        except ValueError:
            return None
        return max(0, expected - self._taken)

    def begin(self) -> None:
        """``http.client``'s: read the status line and headers. hyper's
        responses are made with them, so this does nothing."""

    # ------------------------------------------------------------------
    # File-like odds and ends

    def isclosed(self) -> bool:
        """``http.client``'s: True once the body was read to its end or the
        response closed (:attr:`closed` is only the latter, as there)."""
        return self._closed and self._pos >= len(self._buf)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """
        Stop reading. What happens to an unread body depends on the version
        (see the subclass); reads after this return ``b''``.

        Concurrency: thread-safe.
        """
        self._closed = True
        self._buf, self._pos = b"", 0
        self._ahead = None
        self._release()
        super().close()

    def __del__(self) -> None:
        # Not io.IOBase's close() on collection: that may run in any thread,
        # even one holding a connection's lock (see _collected).
        if not getattr(self, "_closed", True):
            self._collected()
