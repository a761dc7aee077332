"""
``response.raw`` for responses from the adapter: the file-like surface
requests and its users expect of urllib3's ``HTTPResponse`` (``read`` with
``decode_content``, ``stream``, ``release_conn``, ``version``...), over a
hyper response.

The body is never buffered here: each read goes to the hyper response. The
first time the body is known to be done (read to its end, closed, failed,
or the object dropped unread) the request is reported finished, once: its
connection slot goes back to the pool and the metrics are emitted.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any, Protocol, Union

from hyper.contrib._errors import body_error
from hyper.http11.response import HTTP11Response
from hyper.http20.response import HTTP20Push, HTTP20Response

__all__ = ["RawResponse"]

_Response = Union[HTTP11Response, HTTP20Response]


class Exchange(Protocol):
    """The adapter's side of one request: told once when its body is done."""

    def finish(self, received: int, error: BaseException | None) -> None:
        """The body is done: ``received`` bytes were read; ``error`` if it failed."""

    def abandon(self, received: int) -> None:
        """The response was dropped unread (called from ``__del__``: no locks)."""


# What ``stream()`` reads at a time when the caller gives no size.
_STREAM_CHUNK = 65536


class RawResponse:
    """
    The response as read from the connection (``response.raw``).

    Attributes: ``status``, ``reason``, ``headers`` (the same mapping as
    ``response.headers``), ``version`` (20 for HTTP/2, 11 for HTTP/1.1, as
    ``http.client`` and urllib3 spell it), ``stream_id`` (None on HTTP/1.1)
    and :attr:`pushes`. As with requests' own adapter, :meth:`read` returns
    the body as sent (still content-encoded) unless ``decode_content=True``.

    Concurrency: one thread at a time, like the response it belongs to.
    """

    __slots__ = (
        "status",
        "reason",
        "headers",
        "version",
        "stream_id",
        "decode_content",
        "_original_response",
        "_resp",
        "_exchange",
        "_done",
        "_received",
    )

    def __init__(
        self,
        resp: _Response,
        reason: str,
        headers: Any,
        stream_id: int | None,
        has_cookies: bool,
        exchange: Exchange,
    ) -> None:
        self.status = resp.status
        self.reason = reason
        self.headers = headers
        self.version = 20 if type(resp) is HTTP20Response else 11
        self.stream_id = stream_id
        #: What ``read()`` does when not told (urllib3's attribute; requests
        #: leaves it off).
        self.decode_content = False
        # requests' cookie extraction reads ``_original_response.msg``; with
        # no Set-Cookie it is skipped altogether.
        self._original_response: Any = self if has_cookies else None
        self._resp = resp
        self._exchange = exchange
        self._done = False
        self._received = 0

    # ------------------------------------------------------------------
    # The body

    def read(self, amt: int | None = None, decode_content: bool | None = None, **_: Any) -> bytes:
        """
        Read the body: all of it, or up to ``amt`` bytes (``b''`` at the end).

        :param decode_content: undo the ``Content-Encoding``; default
            :attr:`decode_content` (False, as in requests).
        :raises requests.exceptions.ChunkedEncodingError: the body was cut
            short (connection lost, stream reset).
        :raises requests.exceptions.ContentDecodingError: the body is not
            valid for its encoding.
        :raises requests.exceptions.ReadTimeout: the read timeout passed (also
            a ``requests.exceptions.ConnectionError``).
        """
        if self._done:
            return b""
        decode = self.decode_content if decode_content is None else decode_content
        try:
            if amt is None or amt < 0:
                data = self._resp.read(None, decode_content=decode)
            else:
                # What is there, as soon as something is (the response's
                # read(amt) would wait to fill amt, as io's does).
                data = self._resp.read1(amt, decode_content=decode)
        except BaseException as exc:
            self._fail(exc)
            raise  # _fail raised the translation unless exc is not ours
        self._received += len(data)
        if amt is None or not data:
            self._end()
        return data

    def stream(
        self, amt: int | None = _STREAM_CHUNK, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        """Yield the body in pieces of at most ``amt`` bytes until it ends
        (what requests' ``iter_content`` uses); raises as :meth:`read`."""
        size = amt or _STREAM_CHUNK
        while True:
            data = self.read(size, decode_content)
            if not data:
                return
            yield data

    def readinto(self, b: Any) -> int:
        """Read up to ``len(b)`` body bytes into ``b``; 0 at the end."""
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _end(self) -> None:
        if not self._done:
            self._done = True
            self._exchange.finish(self._received, None)

    def _fail(self, exc: BaseException) -> None:
        translated = body_error(exc)
        if not self._done:
            self._done = True
            try:
                self._resp.close()
            finally:
                self._exchange.finish(self._received, translated or exc)
        if translated is not None:
            raise translated from exc

    def close(self) -> None:
        """Stop reading: an unfinished HTTP/2 body resets its stream (the
        connection serves on); an HTTP/1.1 one is drained or its connection
        closed (see :class:`hyper.HTTP11Response`)."""
        if not self._done:
            self._done = True
            try:
                self._resp.close()
            finally:
                self._exchange.finish(self._received, None)

    def release_conn(self) -> None:
        """Give the connection back (urllib3's name): as :meth:`close`."""
        self.close()

    def __del__(self) -> None:
        # May run in any thread, even one inside the pool's lock: only queue.
        if not getattr(self, "_done", True):
            self._done = True
            self._exchange.abandon(self._received)

    # ------------------------------------------------------------------
    # File-like odds and ends, and what urllib3 users reach for

    @property
    def closed(self) -> bool:
        """True once the body was read to its end or the response closed."""
        return self._done

    def isclosed(self) -> bool:
        return self._done

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._resp.fileno()

    @property
    def msg(self) -> http.client.HTTPMessage:
        """The headers as an ``http.client.HTTPMessage`` (every field kept)."""
        return self._resp.info()

    def info(self) -> http.client.HTTPMessage:
        return self._resp.info()

    def getheader(self, name: str, default: Any = None) -> Any:
        return self._resp.getheader(name, default)

    def getheaders(self) -> list[tuple[str, str]]:
        return self._resp.getheaders()

    @property
    def pushes(self) -> list[HTTP20Push]:
        """The resources the server pushed with this response (HTTP/2 with
        ``enable_push=True``; complete once the body has been read). Each is
        a :class:`hyper.HTTP20Push`: ``push.path``, ``push.getresponse()``."""
        resp = self._resp
        return resp.pushes if type(resp) is HTTP20Response else []

    @property
    def trailers(self) -> Any:
        """The trailers (a :class:`hyper.HTTPHeaderMap`), once the body was read."""
        return self._resp.trailers

    def __repr__(self) -> str:
        return f"<hyper.contrib RawResponse [{self.status}] HTTP/{self.version / 10:.1f}>"
