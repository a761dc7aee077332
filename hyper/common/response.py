"""
The reading surface every hyper response shares, whichever HTTP version
answered: ``http.client.HTTPResponse``'s API with the historic hyper
spellings beside it.

A subclass supplies the body as raw (still content-encoded) chunks through
two hooks:

- ``_next_raw(limit)`` returns the next chunks of the body, at most
  ``limit`` bytes in all when ``limit`` is not None (None: whatever is
  ready), waiting for at least one byte; an empty list means the body has
  ended (and sets ``_body_done``);
- ``_finish()`` runs once the body has been read to its end (call the base
  version from an override).

Content decoding is bounded per call here, once for both versions:
``read(amt)`` returns at most ``amt`` decoded bytes and ``read_chunked``
yields pieces of at most 64 KiB, so a decompression bomb cannot exhaust
memory unless the caller asks for the whole body at once.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any, TypeVar

from hyper.common.decoder import Decoder, make_decoder
from hyper.common.headers import HTTPHeaderMap
from hyper.common.types import RawHeaders
from hyper.common.util import HTTPVersion

__all__ = ["BaseResponse"]

_T = TypeVar("_T")

# The most decoded bytes one step of ``read_chunked`` yields.
_DECODED_CHUNK = 65536


class BaseResponse:
    """
    A response's status, headers and body; see the module docstring for what
    a subclass provides.

    Attributes: ``status`` (int), ``reason`` (str), ``headers``
    (:class:`HTTPHeaderMap`), ``informational`` (the 1xx responses that came
    first, as ``(status, HTTPHeaderMap)`` pairs) and ``version``.

    Concurrency: one response is read by one thread at a time.
    """

    version: HTTPVersion
    #: The protocol guarantees lowercase field names (HTTP/2, RFC 9113 8.2.1).
    _lowercase_names = False

    def __init__(self, status: int, reason: str, raw_headers: RawHeaders) -> None:
        #: The status code returned by the server.
        self.status = status
        #: The reason phrase ('' when the server sent none, always for HTTP/2).
        self.reason = reason
        #: The response headers.
        self.headers = HTTPHeaderMap._from_raw(raw_headers)
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
        # Decoded bytes a read() collected before it failed (a timeout, say):
        # handed out first by the next read, so nothing is lost.
        self._carry = b""
        self._closed = False
        self._msg: http.client.HTTPMessage | None = None

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

    # ------------------------------------------------------------------
    # Body

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        """
        Read the body: all of it, or up to ``amt`` bytes, returned as soon as
        some are available (``b''`` only at the end).

        :param decode_content: undo the ``Content-Encoding`` (gzip, deflate,
            br, zstd); False gives the bytes exactly as sent.
        :raises DecodingError: the body is not valid for its encoding.
        :raises TimeoutError: no data arrived within the read timeout (the
            response stays readable).

        Subclasses document the version-specific failures (a reset stream,
        a connection closed mid-body).

        Concurrency: one thread at a time per response.
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
            if not chunks:
                self._finish()
                return b""
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._read_decoded(decoder, amt)

    def read_chunked(self, decode_content: bool = True) -> Iterator[bytes]:
        """
        Yield the body as it arrives: each raw piece as received, or (when
        decoding) decoded pieces of at most 64 KiB. Never yields ``b''``.

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
                # this only checks the body ended cleanly.
                out = decoder.flush()
                self._finish()
                return out
            chunks = self._next_raw(amt)
            if chunks:
                out = decoder.decompress(chunks[0] if len(chunks) == 1 else b"".join(chunks), amt)
                if out:
                    return out

    # ------------------------------------------------------------------
    # RawHeaders

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

    def close(self) -> None:
        """
        Stop reading. What happens to an unread body depends on the version
        (see the subclass); reads after this return ``b''``.

        Concurrency: thread-safe.
        """
        self._closed = True
        self._release()

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
