"""hyper.http11.parser: the historic head parser, on h11."""

from __future__ import annotations

import pytest

from hyper.common.exceptions import InvalidResponseError
from hyper.http11.parser import ParseError, Parser

HEAD = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-Mixed-Case: a b\r\n\r\n"


class TestParser:
    def test_parses_a_head_and_says_where_the_body_starts(self) -> None:
        response = Parser().parse_response(memoryview(HEAD + b"abc"))
        assert response is not None
        assert (response.status, bytes(response.msg), response.minor_version) == (
            404,
            b"Not Found",
            1,
        )
        assert [(bytes(n), bytes(v)) for n, v in response.headers] == [
            (b"Content-Length", b"3"),
            (b"X-Mixed-Case", b"a b"),
        ]
        assert response.consumed == len(HEAD)

    def test_http_1_0_minor_version(self) -> None:
        response = Parser().parse_response(memoryview(b"HTTP/1.0 200 OK\r\n\r\n"))
        assert response is not None and response.minor_version == 0

    @pytest.mark.parametrize("cut", [0, 5, len(HEAD) - 2, len(HEAD) - 1])
    def test_incomplete_head_is_none(self, cut: int) -> None:
        assert Parser().parse_response(memoryview(HEAD[:cut])) is None

    @pytest.mark.parametrize(
        "data",
        [b"garbage\r\n\r\n", b"HTTP/2 200\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"],
    )
    def test_garbage_is_a_parse_error(self, data: bytes) -> None:
        with pytest.raises(ParseError) as info:
            Parser().parse_response(memoryview(data))
        assert isinstance(info.value, InvalidResponseError)

    def test_a_head_without_end_past_64_kib_is_a_parse_error(self) -> None:
        with pytest.raises(ParseError, match="no end"):
            Parser().parse_response(memoryview(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000))
