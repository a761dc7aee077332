"""
Tests of :class:`hyper.common.response.BaseResponse`, the reading surface
both versions share, through a subclass whose raw body is a scripted list
of chunks (and failures): no sockets, so each case states exactly what the
hooks returned.
"""

from __future__ import annotations

import gzip
import http.client
import zlib
from collections.abc import Iterable
from typing import Any

import pytest

from hyper.common.exceptions import DecodingError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.common.response import BaseResponse
from hyper.common.util import HTTPVersion
from hyper.http11.response import HTTP11Response
from hyper.http20.response import HTTP20Response

TEXT = b"".join(b"line %05d of a compressible body\n" % i for i in range(5000))


class Scripted(BaseResponse):
    """Raw chunks handed out one per ``_next_raw`` call (cut to ``limit``);
    an exception in the script is raised once, in its turn."""

    version = HTTPVersion.http11

    def __init__(
        self, script: Iterable[Any], headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        super().__init__(200, "OK", headers or [])
        self.script = list(script)
        self.limits: list[int | None] = []
        self.finished = 0
        self.released = 0

    def _next_raw(self, limit: int | None) -> list[bytes]:
        self.limits.append(limit)
        if not self.script:
            self._body_done = True
            return []
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        if limit is not None and len(item) > limit:
            self.script.insert(0, item[limit:])
            item = item[:limit]
        return [item]

    def _finish(self) -> None:
        super()._finish()
        self.finished += 1

    def _release(self) -> None:
        self.released += 1


GZIP = [(b"Content-Encoding", b"gzip")]


class TestSubclasses:
    def test_both_versions_share_the_surface(self) -> None:
        assert issubclass(HTTP11Response, BaseResponse)
        assert issubclass(HTTP20Response, BaseResponse)
        for name in ("read", "read_chunked", "readinto", "getheader", "getheaders", "msg"):
            assert getattr(HTTP11Response, name) is getattr(BaseResponse, name)
            assert getattr(HTTP20Response, name) is getattr(BaseResponse, name)


class TestRead:
    def test_read_all_joins_and_finishes_once(self) -> None:
        response = Scripted([b"ab", b"cd", b"ef"])
        assert response.read() == b"abcdef"
        assert response.finished == 1
        assert response.isclosed() and not response.closed
        assert response.read() == b""
        assert response.read(5) == b""

    def test_bounded_read_passes_the_bound_down(self) -> None:
        response = Scripted([b"abcdef"])
        assert response.read(4) == b"abcd"
        assert response.limits == [4]
        assert response.read(4) == b"ef"
        assert response.read(4) == b""
        assert response.isclosed()

    def test_read_zero(self) -> None:
        response = Scripted([b"abc"])
        assert response.read(0) == b""
        assert response.limits == []

    def test_failure_mid_read_keeps_what_was_read(self) -> None:
        """A timeout after some chunks: the next read returns them first (the carry)."""
        response = Scripted([b"ab", b"cd", HyperTimeoutError("slow"), b"ef"])
        with pytest.raises(HyperTimeoutError):
            response.read()
        assert response.read(3) == b"abc"
        assert response.read() == b"def"

    def test_readinto(self) -> None:
        response = Scripted([b"abcdef"])
        buffer = bytearray(4)
        assert response.readinto(buffer) == 4
        assert buffer == b"abcd"
        assert response.readinto(memoryview(buffer)) == 2
        assert buffer[:2] == b"ef"
        assert response.readinto(buffer) == 0

    def test_read_chunked_never_yields_empty(self) -> None:
        response = Scripted([b"a", b"bc"])
        assert list(response.read_chunked()) == [b"a", b"bc"]
        assert response.finished == 1
        assert list(response) == []


class TestDecoding:
    def test_gzip_whole_and_in_pieces(self) -> None:
        data = gzip.compress(TEXT)
        assert Scripted([data[:10], data[10:]], GZIP).read() == TEXT
        response = Scripted([data[:10], data[10:]], GZIP)
        pieces = []
        while True:
            piece = response.read(1000)
            if not piece:
                break
            assert len(piece) <= 1000
            pieces.append(piece)
        assert b"".join(pieces) == TEXT

    def test_decode_content_false(self) -> None:
        data = gzip.compress(TEXT)
        assert Scripted([data], GZIP).read(decode_content=False) == data

    def test_read_chunked_pieces_are_at_most_64k(self) -> None:
        data = zlib.compress(bytes(1 << 22))
        response = Scripted([data], [(b"content-encoding", b"deflate")])
        sizes = [len(piece) for piece in response.read_chunked()]
        assert max(sizes) <= 65536
        assert sum(sizes) == 1 << 22

    def test_truncated_gzip_is_a_decoding_error(self) -> None:
        data = gzip.compress(TEXT)
        with pytest.raises(DecodingError):
            Scripted([data[: len(data) // 2]], GZIP).read()

    def test_too_many_encodings_fail_at_read(self) -> None:
        response = Scripted([b"x"], [(b"content-encoding", b"gzip, " * 6 + b"gzip")])
        with pytest.raises(DecodingError):
            response.read()
        assert response.read(decode_content=False) == b"x"

    def test_unknown_encoding_passes_through(self) -> None:
        assert Scripted([b"raw"], [(b"content-encoding", b"x-custom")]).read() == b"raw"


class TestHeaders:
    HEADERS = [
        (b"Content-Type", b"text/plain"),
        (b"Set-Cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ]

    def test_getheader(self) -> None:
        response = Scripted([], self.HEADERS)
        assert response.getheader("content-type") == "text/plain"
        assert response.getheader("SET-COOKIE") == "a=1, b=2"
        assert response.getheader("missing") is None
        assert response.getheader("missing", "d") == "d"
        assert response.getheader("missing", ("x", "y")) == "x, y"

    def test_getheaders_and_msg(self) -> None:
        response = Scripted([], self.HEADERS)
        assert response.getheaders()[0] == ("Content-Type", "text/plain")
        assert isinstance(response.msg, http.client.HTTPMessage)
        assert response.msg.get_all("set-cookie") == ["a=1", "b=2"]
        assert response.msg is response.msg

    def test_headers_map(self) -> None:
        response = Scripted([], self.HEADERS)
        assert response.headers[b"content-type"] == [b"text/plain"]
        assert (response.status, response.reason) == (200, "OK")
        assert response.informational == []


class TestClosing:
    def test_close_releases_and_reads_return_nothing(self) -> None:
        response = Scripted([b"abc"])
        response.close()
        assert response.released == 1
        assert response.closed
        assert response.read() == b""
        assert list(response.read_chunked()) == []

    def test_context_manager(self) -> None:
        with Scripted([b"abc"]) as response:
            assert response.readable()
        assert response.closed and response.released == 1
