"""
Streaming ``Content-Encoding`` decoding for HTTP/1.1 and HTTP/2 responses.

:func:`make_decoder` turns a ``Content-Encoding`` value into a
:class:`Decoder`. Every decoder bounds its output: ``decompress(data,
max_length)`` returns at most ``max_length`` bytes and keeps the rest of its
input (and any output the codec produced past the bound) for the next call.
That bound is what stops decompression bombs (urllib3 CVE-2025-66471,
CVE-2026-44432): a response read with ``read(65536)`` holds about 64 KiB of
decoded data per call however small the compressed input was. Memory beyond
the caller's bound is at most one codec step (16 KiB of input, or one zstd
block, 128 KiB of output).

How a caller uses a decoder::

    out = decoder.decompress(chunk, amt)      # at most amt bytes
    while decoder.has_unconsumed_tail:        # more without new input?
        out = decoder.decompress(b"", amt)
    ...
    tail = decoder.flush()                    # end of body: check it is whole

A call that returns ``b""`` with ``max_length != 0`` always leaves
``has_unconsumed_tail`` false, so the loop above cannot spin.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from hyper.common.exceptions import DecodingError

# brotli (the C extension, CPython) or brotlicffi (the same API through cffi,
# PyPy): the dependency is declared per implementation, either one will do.
# brotlicffi takes bytes only, not a memoryview of our buffer.
try:
    import brotli

    _HAVE_BROTLI_MODULE = True
    _BROTLI_WANTS_BYTES = False
except ImportError:
    try:
        import brotlicffi as brotli

        _HAVE_BROTLI_MODULE = True
        _BROTLI_WANTS_BYTES = True
    except ImportError:  # pragma: no cover - one of the two is a declared dependency
        _HAVE_BROTLI_MODULE = False
        _BROTLI_WANTS_BYTES = False

try:
    import zstandard

    _HAVE_ZSTD = True
except ImportError:  # pragma: no cover - zstandard is an optional extra
    _HAVE_ZSTD = False

__all__ = ["Decoder", "DeflateDecoder", "accept_encoding", "decompressors", "make_decoder"]

#: The most codings one ``Content-Encoding`` may stack. Each layer costs a
#: decoder and a pass over the data, so an unbounded chain is a CPU and memory
#: attack (urllib3 CVE-2025-66418 also settled on 5).
_MAX_STACKED_ENCODINGS = 5

# Compressed input handed to a codec per step. zlib copies what it did not
# consume into ``unconsumed_tail`` on every bounded call, so this caps that
# copy; 16 KiB of ordinary text still yields about 64 KiB, one typical read.
_IN_CHUNK = 16384

# Output asked of a codec per step when the caller set no bound, and what one
# stage of a stacked decoder asks of the stage before it. It keeps each step's
# intermediate buffers small without adding many Python-level calls.
_STEP = 65536

# RFC 9659 3: zstd Content-Encoding windows are limited to 8 MiB, so a frame
# asking for more is refused instead of allocating it.
_ZSTD_MAX_WINDOW = 8 * 1024 * 1024


class Decoder:
    """One response body's content decoder; see the module docstring.

    Subclasses implement ``_step`` and ``_check_complete``; the input buffer,
    output bound and leftover output are handled here.
    """

    __slots__ = ("_name", "_buf", "_pos", "_stash", "_stash_pos", "_more")

    def __init__(self, name: str) -> None:
        # The coding's name, for error messages.
        self._name = name
        # Input not yet handed to the codec: _buf[_pos:].
        self._buf = b""
        self._pos = 0
        # Output the codec produced beyond the caller's bound: _stash[_stash_pos:].
        self._stash = b""
        self._stash_pos = 0
        # The last call stopped at its bound, so another may produce more.
        self._more = False

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        """Feed ``data`` and return decoded bytes, at most ``max_length`` of
        them when ``max_length >= 0``.

        Input that could not be decoded within the bound is kept; call again
        (with ``b""`` or more data) to continue.

        :raises DecodingError: the data is not valid for this coding.
        """
        if data:
            self._feed(data)
        if max_length == 0:
            self._more = self._more or self._pos < len(self._buf)
            return b""
        want = max_length
        parts: list[bytes] = []
        if self._stash_pos < len(self._stash):
            stashed = self._unstash(want)
            parts.append(stashed)
            if want > 0:
                want -= len(stashed)
        while want != 0:
            piece = self._step(want)
            if piece is None:
                break
            if not piece:
                continue
            if want > 0:
                if len(piece) > want:
                    self._stash = piece
                    self._stash_pos = want
                    piece = piece[:want]
                want -= len(piece)
            parts.append(piece)
        self._more = want == 0
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    @property
    def has_unconsumed_tail(self) -> bool:
        """True when ``decompress(b"", n)`` may return more output."""
        return self._more or self._stash_pos < len(self._stash)

    @property
    def needs_input(self) -> bool:
        """True when only more input can produce more output."""
        return not self.has_unconsumed_tail

    def flush(self) -> bytes:
        """Return all remaining output and check the stream ended properly.

        Call it once, at the end of the body. It is not bounded: drain with
        ``decompress(b"", n)`` first if the caller needs a bound.

        :raises DecodingError: the body ended mid-stream (truncated), or the
            remaining data is invalid.
        """
        out = self.decompress(b"", -1)
        self._check_complete()
        return out

    def _feed(self, data: bytes) -> None:
        if self._pos >= len(self._buf):
            self._buf = data if type(data) is bytes else bytes(data)
        else:
            # Only when the caller feeds more before draining what it gave.
            self._buf = self._buf[self._pos :] + data
        self._pos = 0

    def _unstash(self, want: int) -> bytes:
        stash, pos = self._stash, self._stash_pos
        if want < 0 or len(stash) - pos <= want:
            piece = stash[pos:] if pos else stash
            self._stash = b""
            self._stash_pos = 0
        else:
            piece = stash[pos : pos + want]
            self._stash_pos = pos + want
        return piece

    def _step(self, limit: int) -> bytes | None:
        """Make one step of progress and return its output, which should not
        be much more than ``limit`` (``-1``: no bound). ``b""`` means input was
        consumed without output; ``None`` means nothing can be done until
        more input arrives."""
        raise NotImplementedError

    def _check_complete(self) -> None:
        """Raise DecodingError unless the data fed so far ends cleanly."""
        raise NotImplementedError

    def _error(self, problem: str) -> DecodingError:
        return DecodingError(f"{self._name} content-encoding: {problem}")


class _ZlibDecoder(Decoder):
    """gzip (all members) and deflate (zlib-wrapped or raw)."""

    __slots__ = ("_obj", "_gzip", "_members", "_member_fed", "_pending", "_done")

    def __init__(self, gzip: bool) -> None:
        super().__init__("gzip" if gzip else "deflate")
        self._gzip = gzip
        # deflate's framing is chosen once its first two bytes are in.
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._members = 0
        self._member_fed = False
        # zlib stopped at the output bound and may still hold output.
        self._pending = False
        self._done = False

    def _step(self, limit: int) -> bytes | None:
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if self._done:
            # Bytes after the end of the stream: ignored, as browsers do.
            self._pos = len(buf)
            return None
        obj = self._obj
        if obj is None:
            if avail < 2:
                return None
            obj = self._obj = zlib.decompressobj(_deflate_wbits(buf[pos], buf[pos + 1]))
        if not avail and not self._pending:
            return None
        chunk = memoryview(buf)[pos : pos + _IN_CHUNK]
        room = limit if limit > 0 else 0  # zlib: 0 means no bound
        try:
            piece: bytes = obj.decompress(chunk, room)
        except zlib.error as exc:
            if self._members:
                # Garbage after a complete gzip member (padding is common):
                # ignored, as urllib3 and browsers do.
                self._done = True
                self._pos = len(buf)
                return None
            raise self._error(f"invalid data ({exc})") from exc
        if chunk:
            self._member_fed = True
        if obj.eof:
            self._pos = pos + len(chunk) - len(obj.unused_data)
            self._pending = False
            self._end_of_member()
        else:
            self._pos = pos + len(chunk) - len(obj.unconsumed_tail)
            self._pending = room > 0 and len(piece) == room
            if not piece and self._pos == pos:
                return None  # no progress; cannot happen with zlib, but never spin
        return piece

    def _end_of_member(self) -> None:
        self._members += 1
        self._member_fed = False
        if self._gzip:
            # RFC 1952 2.2: a gzip file is a series of members.
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            self._done = True

    def _check_complete(self) -> None:
        if self._done:
            return
        if self._member_fed or self._pos < len(self._buf):
            raise self._error("truncated stream")


class DeflateDecoder(_ZlibDecoder):
    """A decoder for ``deflate``, zlib-wrapped or raw (historic name)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(gzip=False)


def _deflate_wbits(cmf: int, flg: int) -> int:
    # RFC 7230 4.2.2 says deflate is zlib-wrapped (RFC 1950), but some servers
    # send raw deflate (RFC 1951). A zlib header has compression method 8, a
    # window of at most 32 KiB, no preset dictionary (useless in HTTP) and
    # (CMF * 256 + FLG) % 31 == 0; anything else is taken as raw deflate.
    if cmf & 0x0F == 8 and cmf >> 4 <= 7 and not flg & 0x20 and (cmf * 256 + flg) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


def _brotli_has_output_limit() -> bool:
    # Only brotli >= 1.2 can bound output per call; an older one could expand
    # a small body into gigabytes in one call, so br is then not offered.
    if not _HAVE_BROTLI_MODULE:
        return False
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=1)
    except TypeError:
        return False
    return True


_HAVE_BROTLI = _brotli_has_output_limit()


class _BrotliDecoder(Decoder):
    """br (RFC 7932) through the ``brotli`` (or ``brotlicffi``) package."""

    __slots__ = ("_obj", "_pending", "_fed")

    def __init__(self) -> None:
        super().__init__("br")
        self._obj = brotli.Decompressor()
        self._pending = False
        self._fed = False

    def _step(self, limit: int) -> bytes | None:
        obj = self._obj
        buf, pos = self._buf, self._pos
        if obj.is_finished():
            self._pos = len(buf)  # trailing bytes after the stream: ignored
            return None
        # process() may overshoot the limit by up to one internal buffer
        # (about 32 KiB); the base class keeps the excess.
        out_limit = limit if limit > 0 else _STEP
        try:
            # brotli takes new input only when can_accept_more_data(); until
            # then, and while it keeps producing, it is drained with b"".
            if pos < len(buf) and obj.can_accept_more_data():
                chunk = memoryview(buf)[pos : pos + _IN_CHUNK]
                self._pos = pos + len(chunk)
                self._fed = True
                data = bytes(chunk) if _BROTLI_WANTS_BYTES else chunk
                piece: bytes = obj.process(data, output_buffer_limit=out_limit)
            elif self._pending or not obj.can_accept_more_data():
                piece = obj.process(b"", output_buffer_limit=out_limit)
                if not piece:
                    self._pending = False
                    return None
            else:
                return None
        except brotli.error as exc:
            raise self._error(f"invalid data ({exc})") from exc
        self._pending = bool(piece)
        return piece

    def _check_complete(self) -> None:
        if self._fed and not self._obj.is_finished():
            raise self._error("truncated stream")


# zstd frame layout (RFC 8878 3.1), parsed only to cut the input at block
# boundaries: one block decodes to at most 128 KiB, so feeding the codec a
# block at a time bounds each step's output even though ``zstandard``'s
# decompressobj has no output limit. The codec still validates everything;
# a cut in the wrong place could only change how output is batched.
_ZSTD_MAGIC = 0xFD2FB528
_ZSTD_SKIPPABLE_MASK = 0xFFFFFFF0
_ZSTD_SKIPPABLE = 0x184D2A50
# Units of input, in stream order.
_ZS_FRAME, _ZS_HEADER, _ZS_BLOCK, _ZS_CHECKSUM, _ZS_SKIP, _ZS_OPAQUE = range(6)
_ZSTD_FCS_SIZES = (0, 2, 4, 8)
_ZSTD_DID_SIZES = (0, 1, 2, 4)


class _ZstdDecoder(Decoder):
    """zstd (RFC 8878) through the ``zstandard`` package, when installed."""

    __slots__ = ("_dctx", "_obj", "_unit", "_left", "_last", "_checksum")

    def __init__(self) -> None:
        super().__init__("zstd")
        self._dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        self._obj: Any = None
        self._unit = _ZS_FRAME  # the unit being fed, or the next to parse
        self._left = 0  # input bytes left in the current unit
        self._last = False  # the current block is the frame's last
        self._checksum = False  # the current frame ends with a checksum

    def _step(self, limit: int) -> bytes | None:
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if not avail:
            return None
        if not self._left and not self._next_unit(buf, pos, avail):
            return None
        n = min(avail, self._left)
        self._pos = pos + n
        self._left -= n
        piece = b""
        if self._unit != _ZS_SKIP:
            try:
                piece = self._obj.decompress(memoryview(buf)[pos : pos + n])
            except zstandard.ZstdError as exc:
                raise self._error(f"invalid data ({exc})") from exc
        if not self._left:
            self._end_of_unit()
        return piece

    def _next_unit(self, buf: bytes, pos: int, avail: int) -> bool:
        """Work out the unit starting at ``pos``; False if more bytes are
        needed to know its length."""
        unit = self._unit
        if unit == _ZS_FRAME:
            if avail < 4:
                return False
            magic = int.from_bytes(buf[pos : pos + 4], "little")
            if magic & _ZSTD_SKIPPABLE_MASK == _ZSTD_SKIPPABLE:
                if avail < 8:
                    return False
                self._unit = _ZS_SKIP
                self._left = 8 + int.from_bytes(buf[pos + 4 : pos + 8], "little")
                return True
            self._obj = self._dctx.decompressobj()
            if magic != _ZSTD_MAGIC:
                # Not zstd: hand everything to the codec, which rejects it.
                self._unit = _ZS_OPAQUE
                self._left = len(buf) - pos
                return True
            if avail < 5:
                return False
            fhd = buf[pos + 4]
            single_segment = fhd >> 5 & 1
            fcs_size = _ZSTD_FCS_SIZES[fhd >> 6] or single_segment
            self._checksum = bool(fhd & 0x04)
            self._unit = _ZS_HEADER
            window_size = 0 if single_segment else 1
            self._left = 5 + window_size + _ZSTD_DID_SIZES[fhd & 0x03] + fcs_size
            return True
        if unit == _ZS_BLOCK:
            if avail < 3:
                return False
            header = int.from_bytes(buf[pos : pos + 3], "little")
            self._last = bool(header & 1)
            block_type = header >> 1 & 3
            size = header >> 3
            # An RLE block (type 1) carries one byte repeated ``size`` times.
            self._left = 3 + (1 if block_type == 1 else size)
            return True
        # _ZS_OPAQUE: more bytes after a rejected start; keep feeding them.
        self._left = len(buf) - pos
        return True

    def _end_of_unit(self) -> None:
        unit = self._unit
        if unit == _ZS_HEADER:
            self._unit = _ZS_BLOCK
        elif unit == _ZS_BLOCK and self._last:
            if self._checksum:
                self._unit = _ZS_CHECKSUM
                self._left = 4
            else:
                self._end_of_frame()
        elif unit == _ZS_CHECKSUM:
            self._end_of_frame()
        elif unit == _ZS_SKIP:
            self._unit = _ZS_FRAME

    def _end_of_frame(self) -> None:
        if not self._obj.eof:
            raise self._error("frame did not end after its last block")
        self._obj = None
        self._unit = _ZS_FRAME

    def _check_complete(self) -> None:
        if self._unit != _ZS_FRAME or self._pos < len(self._buf):
            raise self._error("truncated stream")


class _MultiDecoder(Decoder):
    """Stacked codings, e.g. ``Content-Encoding: gzip, br``.

    ``_stages[0]`` decodes the wire bytes (the coding listed last); each later
    stage pulls from the one before it in steps of ``_STEP`` bytes, so no
    intermediate layer ever holds a whole body.
    """

    __slots__ = ("_stages",)

    def __init__(self, stages: list[Decoder]) -> None:
        super().__init__(", ".join(stage._name for stage in reversed(stages)))
        self._stages = stages

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if data:
            self._stages[0].decompress(data, 0)
        if max_length == 0:
            return b""
        return self._pull(len(self._stages) - 1, max_length)

    def _pull(self, index: int, limit: int) -> bytes:
        stage = self._stages[index]
        if index == 0:
            return stage.decompress(b"", limit)
        parts: list[bytes] = []
        want = limit
        while want != 0:
            piece = stage.decompress(b"", want) if stage.has_unconsumed_tail else b""
            if not piece:
                upstream = self._pull(index - 1, _STEP)
                if not upstream:
                    break
                piece = stage.decompress(upstream, want)
            if piece:
                parts.append(piece)
                if want > 0:
                    want -= len(piece)
        return b"".join(parts)

    @property
    def has_unconsumed_tail(self) -> bool:
        return any(stage.has_unconsumed_tail for stage in self._stages)

    def flush(self) -> bytes:
        parts = [self.decompress(b"", -1)]
        stages = self._stages
        for index, stage in enumerate(stages):
            tail = stage.flush()
            for later in stages[index + 1 :]:
                if not tail:
                    break
                tail = later.decompress(tail, -1)
            parts.append(tail)
        return b"".join(parts)


_FACTORIES: dict[str, Callable[[], Decoder]] = {
    "gzip": lambda: _ZlibDecoder(gzip=True),
    "x-gzip": lambda: _ZlibDecoder(gzip=True),
    "deflate": DeflateDecoder,
}
if _HAVE_BROTLI:
    _FACTORIES["br"] = _BrotliDecoder
if _HAVE_ZSTD:
    _FACTORIES["zstd"] = _ZstdDecoder


#: The decoder factory of each coding hyper can decode here, by its name as
#: bytes (historic name, from ``hyper.http20.response``): calling one gives a
#: fresh :class:`Decoder`.
decompressors: dict[bytes, Callable[[], Decoder]] = {
    name.encode("ascii"): factory for name, factory in _FACTORIES.items()
}


def make_decoder(
    content_encoding: bytes | str | None,
    max_encodings: int = _MAX_STACKED_ENCODINGS,
) -> Decoder | None:
    """Return a decoder for a ``Content-Encoding`` value, or ``None``.

    Stacked codings (``gzip, br``) are undone in reverse order. ``identity``
    is skipped. ``None`` means: pass the body through unchanged, either
    because there is nothing to undo or because a coding is unknown (or its
    library is not installed); the caller then hands the bytes on undecoded,
    as a browser saving the file would.

    :param max_encodings: how many stacked codings to accept.
    :raises DecodingError: more than ``max_encodings`` codings are stacked.
    """
    if not content_encoding:
        return None
    if isinstance(content_encoding, bytes):
        content_encoding = content_encoding.decode("latin-1")
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c]
    if len(codings) > max_encodings:
        raise DecodingError(
            f"{len(codings)} stacked content-encodings, more than the limit of {max_encodings}"
        )
    stages: list[Decoder] = []
    for coding in reversed(codings):
        if coding == "identity":
            continue
        factory = _FACTORIES.get(coding)
        if factory is None:
            return None
        stages.append(factory())
    if not stages:
        return None
    if len(stages) == 1:
        return stages[0]
    return _MultiDecoder(stages)


def accept_encoding() -> bytes:
    """The ``Accept-Encoding`` value listing every coding hyper can decode
    here: ``gzip, deflate``, plus ``br`` and ``zstd`` when their libraries
    are installed."""
    return _ACCEPT_ENCODING


_ACCEPT_ENCODING = b", ".join(
    name.encode() for name in ("gzip", "deflate", "br", "zstd") if name in _FACTORIES
)
