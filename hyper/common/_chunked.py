"""
Reading a request body the caller already chunk-encoded.

``http.client`` sends a body as given when the caller set
``Transfer-Encoding: chunked`` without ``encode_chunked=True``: the caller
wrote the chunk framing. hyper's HTTP/1.1 connection frames bodies itself
(``h11``) and HTTP/2 has no chunked coding at all (RFC 9113 8.2.2), so such
a body is unframed here, in pieces as it is sent, and framed again by the
protocol in use: the bytes a server reads are the same, the chunk sizes
may differ. Trailers in the last chunk become the request's trailers.
"""

from __future__ import annotations

from hyper.common.exceptions import InvalidArgumentError

__all__ = ["ChunkedReader"]

# A chunk-size line (with extensions) or a trailer line longer than this is
# not framing anyone meant to write.
_MAX_LINE = 65536

_SIZE, _DATA, _DATA_END, _TRAILERS, _DONE = range(5)


class ChunkedReader:
    """
    Turns chunk-encoded bytes, fed in pieces of any size, back into the
    payload (RFC 9112 7.1).

    :meth:`feed` returns the payload pieces found so far; :attr:`done` is
    True once the last chunk and its trailer section have been read, and
    :attr:`trailers` then holds the trailer fields.

    :raises InvalidArgumentError: the bytes are not chunked framing, or
        more follows the end.
    """

    __slots__ = ("_state", "_line", "_left", "trailers")

    def __init__(self) -> None:
        self._state = _SIZE
        self._line = bytearray()
        self._left = 0
        #: The trailer fields of the last chunk, as ``(name, value)`` bytes.
        self.trailers: list[tuple[bytes, bytes]] = []

    @property
    def done(self) -> bool:
        """True once the terminating chunk and trailers have been read."""
        return self._state == _DONE

    def feed(self, data: bytes | memoryview) -> list[bytes | memoryview]:
        """The payload in ``data`` (views of it where possible)."""
        view = memoryview(data).cast("B")
        out: list[bytes | memoryview] = []
        pos, end = 0, len(view)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._left, end - pos)
                out.append(view[pos : pos + take])
                pos += take
                self._left -= take
                if not self._left:
                    self._state = _DATA_END
                continue
            if state == _DONE:
                raise InvalidArgumentError("request body: bytes after the last chunk")
            newline = bytes(view[pos:end]).find(b"\n")
            if newline < 0:
                self._add_line(view[pos:end])
                break
            self._add_line(view[pos : pos + newline + 1])
            pos += newline + 1
            line = bytes(self._line).rstrip(b"\r\n")
            self._line.clear()
            self._end_of_line(line)
        return out

    def _add_line(self, piece: memoryview) -> None:
        self._line += piece
        if len(self._line) > _MAX_LINE:
            raise InvalidArgumentError("request body: a chunk-size line is too long")

    def _end_of_line(self, line: bytes) -> None:
        state = self._state
        if state == _SIZE:
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                size = -1
            if size < 0 or not size_text:
                raise InvalidArgumentError(f"request body: bad chunk size line {line[:40]!r}")
            if size:
                self._left = size
                self._state = _DATA
            else:
                self._state = _TRAILERS
        elif state == _DATA_END:
            if line:
                raise InvalidArgumentError("request body: a chunk is longer than its size")
            self._state = _SIZE
        elif state == _TRAILERS:
            if not line:
                self._state = _DONE
                return
            name, colon, value = line.partition(b":")
            if not colon or not name.strip():
                raise InvalidArgumentError(f"request body: bad trailer line {line[:40]!r}")
            self.trailers.append((name.strip(), value.strip()))
