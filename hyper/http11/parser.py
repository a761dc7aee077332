"""
The historic ``hyper.http11.parser`` API: parse the head of an HTTP/1.1
response out of a buffer, on ``h11``.

hyper itself reads responses through ``h11`` directly
(:mod:`hyper.drivers.sync_h1`); this module keeps the historic entry point
for code that parsed heads with it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import h11

from hyper.common._h11 import MAX_HEAD
from hyper.common.exceptions import InvalidResponseError

__all__ = ["ParseError", "Parser", "Response"]

# The blank line that ends a head, as h11 finds it (a bare LF is tolerated).
_END_OF_HEAD = re.compile(rb"\n\r?\n")
# Only the head is parsed: any request will do to put h11 in the state where
# it reads a response.
_PROBE = h11.Request(method="GET", target="/", headers=[("Host", "parser")])


class ParseError(InvalidResponseError):
    """The buffer does not hold a valid HTTP/1.x response head."""


class Response(NamedTuple):
    """A parsed response head: ``msg`` is the reason phrase, ``headers`` a
    list of ``(name, value)`` memoryviews as sent, ``consumed`` the bytes
    the head took in the buffer (the body starts there)."""

    status: int
    msg: memoryview
    minor_version: int
    headers: list[tuple[memoryview, memoryview]]
    consumed: int


class Parser:
    """A parser of response heads. Each call stands alone: the object keeps
    no state between calls, so one may be shared."""

    def parse_response(self, buffer: memoryview | bytes | bytearray) -> Response | None:
        """
        Parse one response head from the start of ``buffer``.

        :returns: a :class:`Response`, or None when the buffer does not yet
            hold the whole head.
        :raises ParseError: the bytes are not an HTTP/1.x response head, or
            the head is longer than 64 KiB.
        """
        data = bytes(buffer)
        end = _END_OF_HEAD.search(data)
        if end is None:
            if len(data) > MAX_HEAD:
                raise ParseError(f"no end of the response head in {MAX_HEAD} bytes")
            return None
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        conn.send(_PROBE)
        conn.send(h11.EndOfMessage())
        conn.receive_data(data[: end.end()])
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ParseError(f"invalid response head: {exc}") from exc
        if not isinstance(event, (h11.Response, h11.InformationalResponse)):
            raise ParseError(f"invalid response head: {data[:80]!r}")
        minor = int(event.http_version.partition(b".")[2] or b"0")
        # raw_items(): the names as sent, not h11's lowercased ones.
        headers = [(memoryview(n), memoryview(v)) for n, v in event.headers.raw_items()]
        return Response(event.status_code, memoryview(event.reason), minor, headers, end.end())
