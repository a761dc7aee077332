"""
Request-side pieces both HTTP versions need: sorting a body by kind (and
knowing its length without reading it), turning the many header shapes
callers pass into pairs, a request started with ``putrequest``, the
``Host``/``:authority`` value, the ``(connect, read)`` timeout split and the
default ``User-Agent``.

This is hyper's shared internal module: the leading underscore keeps it out
of the public API, while the names in ``__all__`` carry none because
:mod:`hyper.http11`, :mod:`hyper.http20` and :mod:`hyper.common` are meant to
import them (each is written once, here). Names that do start with ``_``
stay private to this module.

A body is classified before anything is sent, so an unsupported type
raises :class:`~hyper.common.exceptions.InvalidArgumentTypeError` (a
``TypeError`` and a ``ValueError``) while the connection is still
untouched. The items of an iterable (and what a file's ``read`` returns)
can only be checked as they are sent.
"""

from __future__ import annotations

import io
import os
import reprlib
import stat
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from hyper._version import __version__
from hyper.common.decoder import accept_encoding
from hyper.common.exceptions import InvalidArgumentTypeError
from hyper.common.headers import HTTPHeaderMap
from hyper.common.types import HeadersArg, Timeout
from hyper.common.util import parse_url, to_bytestring

__all__ = [
    "UPLOAD_CHUNK",
    "PendingRequest",
    "RequestBody",
    "RequestDefaults",
    "authority",
    "body_chunk",
    "can_offer_h2c",
    "file_length",
    "given",
    "h2c_offer_fields",
    "header_pairs",
    "http11_fields",
    "is_prechunked",
    "lower_name",
    "putheader_args",
    "request_target",
    "split_timeout",
    "upload_read_size",
    "user_agent",
]


# The most bytes read from a file-like body at once (and asked of an
# iterable's pieces); the peer's window and frame size bound a read further
# (upload_read_size), so the memory one upload holds stays bounded.
UPLOAD_CHUNK = 1 << 20


def upload_read_size(window: int, max_frame_size: int) -> int:
    """How much of a file body to read next: what the send ``window`` takes
    now, but at least a frame (a window of a few bytes would otherwise mean
    reads of a few bytes) and at most :data:`UPLOAD_CHUNK`."""
    return min(max(window, max_frame_size), UPLOAD_CHUNK)


def split_timeout(timeout: Timeout) -> tuple[float | None, float | None]:
    """``(connect, read)`` from a number (both) or a pair."""
    if timeout is None:
        return None, None
    if isinstance(timeout, tuple):
        connect, read = timeout
        return connect, read
    return float(timeout), float(timeout)


def user_agent() -> bytes:
    """``hyper/<version>``."""
    return b"hyper/" + __version__.encode("ascii")


def header_pairs(headers: HeadersArg) -> list[tuple[Any, Any]]:
    """
    The caller's headers as a list of ``(name, value)``; numbers become
    str, as ``http.client`` accepts them (``content-length=5``).

    :raises InvalidArgumentTypeError: not a mapping nor an iterable of
        pairs (``headers=42``), or an item that is not a pair.
    """
    if headers is None:
        return []
    if isinstance(headers, HTTPHeaderMap):
        return list(headers.iter_raw())
    if isinstance(headers, Mapping):
        pairs: Iterable[tuple[Any, Any]] = headers.items()
    elif type(headers) is list:
        pairs = headers
    elif isinstance(headers, (str, bytes, bytearray)) or not isinstance(headers, Iterable):
        raise InvalidArgumentTypeError(
            f"headers must be a dict, an HTTPHeaderMap or an iterable of (name, value) "
            f"pairs; got {given(headers)}"
        )
    else:
        pairs = headers
    out = []
    try:
        for name, value in pairs:
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            out.append((name, value))
    except (TypeError, ValueError) as exc:
        # An item did not unpack into a pair: name it (the happy path pays
        # nothing for this search).
        for pair in pairs if isinstance(pairs, (list, tuple)) else ():
            if isinstance(pair, (str, bytes)) or not _is_pair(pair):
                raise InvalidArgumentTypeError(
                    f"each header must be a (name, value) pair; got {given(pair)}"
                ) from None
        raise InvalidArgumentTypeError(
            f"headers must be a dict, an HTTPHeaderMap or an iterable of (name, value) "
            f"pairs; got {given(headers)}"
        ) from exc
    return out


def _is_pair(item: Any) -> bool:
    try:
        return len(item) == 2
    except TypeError:
        return False


def given(value: Any) -> str:
    """What a caller passed, for an error message: its type and a short repr."""
    return f"{type(value).__name__} {reprlib.repr(value)}"


def lower_name(name: Any) -> bytes:
    """A header name lower-cased as bytes (b'' for what is not a name)."""
    if isinstance(name, str):
        return name.lower().encode("utf-8", "replace")
    if isinstance(name, bytes):
        return name.lower()
    return b""


def authority(host: str, port: int, default_port: int) -> bytes:
    """The ``Host`` (``:authority``) value for ``host`` and ``port``: IPv6
    literals bracketed, IDNA for non-ASCII names, the port only when it is
    not ``default_port``."""
    text = f"[{host}]" if ":" in host else host
    if not text.isascii():
        text = text.encode("idna").decode("ascii")
    if port != default_port:
        text = f"{text}:{port}"
    return text.encode("ascii")


class RequestTarget(NamedTuple):
    """Where a request goes: the URL's scheme (None for a bare path), the
    ``Host``/``:authority`` value and the path (with its query)."""

    scheme: bytes | None
    authority: bytes
    path: bytes


def request_target(url: bytes, default_authority: bytes) -> RequestTarget:
    """
    The one rule, for both HTTP versions, of what a request's ``url`` means:
    an absolute ``http``/``https`` URL names its own authority (validated:
    a host, no userinfo, brackets around IPv6); anything else is a path on
    ``default_authority``, given a leading ``/`` unless it is ``*``.

    :raises ValueError: an absolute URL that is not valid.
    """
    if url[:7].lower() == b"http://" or url[:8].lower() == b"https://":
        scheme, host, port, path = parse_url(url)
        value = authority(host, port, 443 if scheme == "https" else 80)
        return RequestTarget(scheme.encode("ascii"), value, path.encode("ascii"))
    if not url.startswith(b"/") and url != b"*":
        url = b"/" + url
    return RequestTarget(None, default_authority, url)


# Header blocks RequestDefaults keeps for requests made without headers.
_FIELDS_CACHE_SIZE = 64


class RequestDefaults:
    """
    What every HTTP/2 request of one connection object carries unless the
    caller sets it: its origin's ``:scheme`` and ``:authority``, hyper's
    ``user-agent`` and the content codings it decodes; and the rule that
    builds a request's header block from them (:meth:`fields`), written once
    for every HTTP/2 client.
    """

    __slots__ = ("scheme", "authority", "user_agent", "accept_encoding", "_cache")

    def __init__(self, host: str, port: int, secure: bool) -> None:
        self.scheme = b"https" if secure else b"http"
        self.authority = authority(host, port, 443 if secure else 80)
        self.user_agent = user_agent()
        self.accept_encoding = accept_encoding()
        # The blocks of requests made without headers, by (method, url,
        # content length, skip_accept_encoding): a client repeats the same
        # few, and building one was a tenth of a small request's own work.
        self._cache: dict[tuple[Any, Any, int | None, bool], list[tuple[Any, Any]]] = {}

    def fields(
        self,
        method: str | bytes,
        url: str | bytes,
        headers: HeadersArg,
        content_length: int | None,
        skip_accept_encoding: bool = False,
    ) -> list[tuple[Any, Any]]:
        """
        A request's header block: pseudo-headers (``url`` read by
        :func:`request_target`), the caller's fields, then the defaults the
        caller did not set (accept-encoding unless ``skip_accept_encoding``,
        user-agent, content-length). Without ``headers`` the block may be
        one built before: the list returned is never to be changed.
        """
        if headers is not None:
            return self._build(method, url, headers, content_length, skip_accept_encoding)
        key = (method, url, content_length, skip_accept_encoding)
        try:
            fields = self._cache.get(key)
        except TypeError:  # an unhashable url: building it says what is wrong
            return self._build(method, url, None, content_length, skip_accept_encoding)
        if fields is None:
            fields = self._build(method, url, None, content_length, skip_accept_encoding)
            if len(self._cache) >= _FIELDS_CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = fields
        return fields

    def _build(
        self,
        method: str | bytes,
        url: str | bytes,
        headers: HeadersArg,
        content_length: int | None,
        skip_accept_encoding: bool,
    ) -> list[tuple[Any, Any]]:
        target = request_target(to_bytestring(url), self.authority)
        user = header_pairs(headers)
        present = {lower_name(name) for name, _ in user}
        fields: list[tuple[Any, Any]] = []
        if b":method" not in present:
            fields.append((b":method", to_bytestring(method)))
        if b":scheme" not in present:
            fields.append((b":scheme", self.scheme))
        if b":authority" not in present and b"host" not in present:
            fields.append((b":authority", target.authority))
        if b":path" not in present:
            fields.append((b":path", target.path))
        fields.extend(user)
        if b"accept-encoding" not in present and not skip_accept_encoding:
            fields.append((b"accept-encoding", self.accept_encoding))
        if b"user-agent" not in present:
            fields.append((b"user-agent", self.user_agent))
        if content_length is not None and b"content-length" not in present:
            fields.append((b"content-length", b"%d" % content_length))
        return fields


# http.client sends Content-Length: 0 for these when there is no body, so a
# server expecting a body does not wait for one.
_EXPECT_BODY = frozenset((b"POST", b"PUT", b"PATCH"))


def http11_fields(
    method: bytes,
    user: list[tuple[bytes, bytes]],
    host: bytes,
    length: int | None,
    has_body: bool,
    *,
    accept_encoding: bytes | None,
    user_agent: bytes,
) -> list[tuple[bytes, bytes]]:
    """
    An HTTP/1.1 request's fields, written once for every HTTP/1.1 client
    (``HTTP11Connection`` and the command line, which shows them): the
    caller's, their case kept, with ``Host`` first and hyper's defaults
    after them, spelled as http.client and curl spell them, then the framing
    (``Content-Length`` when ``length`` is known, chunked for a body of
    unknown length, ``Content-Length: 0`` for a body-less POST, PUT or PATCH).

    :param accept_encoding: the codings to ask for; None asks for none (the
        caller takes charge of content codings).
    """
    present = {lower_name(name) for name, _ in user}
    fields = list(user)
    if b"host" not in present:
        fields.insert(0, (b"Host", host))
    if b"accept-encoding" not in present and accept_encoding is not None:
        fields.append((b"Accept-Encoding", accept_encoding))
    if b"user-agent" not in present:
        fields.append((b"User-Agent", user_agent))
    if b"content-length" not in present and b"transfer-encoding" not in present:
        if length is not None:
            fields.append((b"Content-Length", b"%d" % length))
        elif has_body:
            fields.append((b"Transfer-Encoding", b"chunked"))
        elif method.upper() in _EXPECT_BODY:
            fields.append((b"Content-Length", b"0"))
    return fields


class PendingRequest:
    """A request started with ``putrequest`` whose headers are not sent yet.

    ``skip_accept_encoding``: ``putrequest``'s flag (``http.client``'s): the
    default ``Accept-Encoding`` is not added.
    """

    __slots__ = ("method", "url", "headers", "skip_accept_encoding")

    def __init__(
        self, method: str | bytes, url: str | bytes, skip_accept_encoding: bool = False
    ) -> None:
        self.method = method
        self.url = url
        self.headers: list[tuple[Any, Any]] = []
        self.skip_accept_encoding = skip_accept_encoding

    def add_header(self, name: Any, value: Any, replace: bool = False) -> None:
        """Add a field; ``replace`` first drops earlier ones of that name."""
        if replace:
            wanted = lower_name(name)
            self.headers = [(n, v) for n, v in self.headers if lower_name(n) != wanted]
        self.headers.append((name, value))


def putheader_args(
    values: tuple[Any, ...], stream_id: int | None, replace: bool
) -> tuple[Any, int | None, bool]:
    """
    ``putheader(header, *values, stream_id=None, replace=False)`` read both
    ways: historic hyper's ``putheader(header, argument, stream_id,
    replace)`` when the second value is an int or None (a stream id), else
    ``http.client``'s ``putheader(header, *values)``, whose several values
    make one field value. ``http.client`` writes them as folded lines; a
    recipient reads a fold as one space (RFC 9112 5.2), and folding is no
    longer allowed on the wire (nor in HTTP/2), so they are joined with one.

    :returns: ``(value, stream_id, replace)``.
    :raises TypeError: no value.
    """
    if not values:
        raise InvalidArgumentTypeError("putheader() needs a value")
    if len(values) >= 2 and (values[1] is None or _is_int(values[1])):
        if len(values) > 3:
            raise InvalidArgumentTypeError("putheader(header, argument, stream_id, replace)")
        stream_id = values[1]
        if len(values) == 3:
            replace = bool(values[2])
        values = values[:1]
    parts = [str(v) if _is_int(v) else v for v in values]
    if len(parts) == 1:
        return parts[0], stream_id, replace
    return b" ".join(to_bytestring(part) for part in parts), stream_id, replace


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# A request carrying any of these already says something about upgrading or
# about the connection: adding the h2c offer could contradict it.
_UPGRADE_FIELDS = frozenset((b"upgrade", b"connection", b"http2-settings"))


def can_offer_h2c(method: Any, body: Any, headers: list[tuple[Any, Any]]) -> bool:
    """
    The one rule (for ``HTTP11Connection`` and ``HTTPConnection``) of which
    plaintext request may offer the h2c upgrade (RFC 7540 3.2): one without
    a body (a body would have to go whole, in HTTP/1.1, before the server's
    answer could be read), not CONNECT, and with no ``Upgrade``,
    ``Connection`` or ``HTTP2-Settings`` of the caller's.
    """
    if body is not None and not (isinstance(body, (bytes, bytearray, str)) and not body):
        return False
    if lower_name(method) == b"connect":
        return False
    return not any(lower_name(name) in _UPGRADE_FIELDS for name, _ in headers)


def h2c_offer_fields(settings: bytes) -> list[tuple[bytes, bytes]]:
    """
    The fields offering h2c, ``settings`` as ``HTTP2-Settings``. Lower-case,
    as historic hyper sent them (and servers and test peers of its time
    matched the bytes ``upgrade: h2c``); field names are case-insensitive,
    so nothing is lost.
    """
    return [
        (b"upgrade", b"h2c"),
        (b"http2-settings", settings),
        (b"connection", b"Upgrade, HTTP2-Settings"),
    ]


def is_prechunked(headers: list[tuple[Any, Any]], encode_chunked: bool) -> bool:
    """
    ``http.client``'s rule: the caller set ``Transfer-Encoding: chunked``
    and did not ask for ``encode_chunked``, so the body it sends is already
    chunk-encoded (hyper takes the framing off again: see
    :mod:`hyper.common._chunked`).
    """
    if encode_chunked:
        return False
    for name, value in headers:
        if lower_name(name) == b"transfer-encoding" and b"chunked" in to_bytestring(value).lower():
            return True
    return False


class RequestBody:
    """
    A request body sorted by kind: ``buffer`` (bytes, or a str as UTF-8, or
    a bytes-like object), ``file`` (anything with ``read``) or ``iterable``;
    ``length`` when it is known without reading.

    :raises InvalidArgumentTypeError: none of those kinds.
    """

    __slots__ = ("buffer", "file", "iterable", "length", "_iterator", "_done")

    def __init__(self, body: Any) -> None:
        self.buffer: bytes | memoryview | None = None
        self.file: Any = None
        self.iterable: Iterable[Any] | None = None
        self.length: int | None = None
        self._iterator: Iterator[Any] | None = None
        self._done = False
        if isinstance(body, str):
            body = body.encode("utf-8")
        if isinstance(body, bytes):
            self.buffer = body
            self.length = len(body)
        elif isinstance(body, (bytearray, memoryview)):
            view = memoryview(body).cast("B")
            self.buffer = view
            self.length = len(view)
        elif hasattr(body, "read"):
            self.file = body
            self.length = file_length(body)
        elif isinstance(body, Iterable) and not isinstance(body, Mapping):
            self.iterable = body
        else:
            raise InvalidArgumentTypeError(
                "a request body must be bytes, str, a file-like object or an iterable "
                f"of bytes; got {given(body)}"
            )

    def next_chunk(self, size: int) -> bytes | memoryview | None:
        """
        The next piece of the body, or None at its end: a buffer whole (once),
        a file's next ``read(size)`` (``size``: what the transport may send
        now), an iterable's next non-empty item. str pieces are encoded as
        UTF-8.

        :raises InvalidArgumentTypeError: an item that is not bytes-like or str.
        """
        if self._done:
            return None
        if self.buffer is not None:
            self._done = True
            return self.buffer if self.buffer else None
        if self.file is not None:
            chunk = self.file.read(size)
            if not chunk:
                self._done = True
                return None
            return body_chunk(chunk)
        if self._iterator is None:
            self._iterator = iter(self.iterable or ())
        for chunk in self._iterator:
            if chunk:
                return body_chunk(chunk)
        self._done = True
        return None

    @property
    def can_read_into(self) -> bool:
        """The body is a plain binary file (``open(path, "rb")``, a
        ``BytesIO``) that can read into a buffer (:meth:`read_into`). A
        subclass or wrapper may count or change what its ``read`` returns
        (a progress bar, say), so it is read with ``read``."""
        return not self._done and type(self.file) in _READ_INTO_FILES

    def read_into(self, slots: list[memoryview]) -> int:
        """
        Fill ``slots`` in order from the file (``readinto``), each whole unless
        the file ends; return how many bytes were read (0 at its end).
        """
        readinto = self.file.readinto
        total = 0
        for slot in slots:
            want = len(slot)
            filled = 0
            while filled < want:
                count = readinto(slot[filled:] if filled else slot)
                if not count:
                    self._done = True
                    return total + filled
                filled += count
            total += filled
        return total

    def chunks(self, size: int) -> Iterator[bytes | memoryview]:
        """The body in pieces (:meth:`next_chunk`, ``size`` at a time)."""
        while True:
            chunk = self.next_chunk(size)
            if chunk is None:
                return
            yield chunk


# Exactly these types: their readinto reads what their read would.
_READ_INTO_FILES = (io.BufferedReader, io.BufferedRandom, io.BytesIO, io.FileIO)


def body_chunk(chunk: Any) -> bytes | memoryview:
    """One piece of a request body as bytes (str as UTF-8, bytes-likes as a
    memoryview, uncopied).

    :raises InvalidArgumentTypeError: anything else.
    """
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return memoryview(chunk).cast("B")
    raise InvalidArgumentTypeError(
        f"a request body's pieces must be bytes or str; got {given(chunk)}"
    )


def file_length(body: Any) -> int | None:
    """The bytes left in a file-like body, when that can be known cheaply."""
    if isinstance(body, io.TextIOBase):
        return None  # characters, not bytes; and tell() is opaque
    try:
        info = os.fstat(body.fileno())
        if stat.S_ISREG(info.st_mode):
            return max(0, info.st_size - int(body.tell()))
    except (AttributeError, OSError, ValueError):
        pass
    try:
        if body.seekable():
            position = body.tell()
            end = body.seek(0, io.SEEK_END)
            body.seek(position)
            return max(0, int(end) - int(position))
    except (AttributeError, OSError, ValueError):
        pass
    return None
