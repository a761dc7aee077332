"""Tests for hyper.common.util: string coercion, host:port and URL parsing."""

from __future__ import annotations

import pytest

from hyper.common.util import (
    HTTPVersion,
    parse_url,
    to_bytestring,
    to_bytestring_tuple,
    to_host_port_tuple,
    to_native_string,
)


class TestHTTPVersion:
    def test_values_are_the_historic_strings(self) -> None:
        assert HTTPVersion.http11.value == "HTTP/1.1"
        assert HTTPVersion.http20.value == "HTTP/2"
        assert HTTPVersion("HTTP/2") is HTTPVersion.http20


class TestStrings:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            (b"abc", b"abc"),
            ("abc", b"abc"),
            ("caf\u00e9", b"caf\xc3\xa9"),
            (b"", b""),
        ],
    )
    def test_to_bytestring(self, given: str | bytes, expected: bytes) -> None:
        assert to_bytestring(given) == expected
        assert type(to_bytestring(given)) is bytes

    @pytest.mark.parametrize("given", [1, None, 1.5, ["a"]])
    def test_to_bytestring_rejects_non_strings_with_value_error(self, given: object) -> None:
        with pytest.raises(ValueError):
            to_bytestring(given)  # type: ignore[arg-type]

    def test_to_bytestring_tuple(self) -> None:
        assert to_bytestring_tuple("a", b"b") == (b"a", b"b")

    @pytest.mark.parametrize(
        ("given", "expected"),
        [("abc", "abc"), (b"abc", "abc"), (b"caf\xc3\xa9", "caf\u00e9")],
    )
    def test_to_native_string(self, given: str | bytes, expected: str) -> None:
        assert to_native_string(given) == expected

    def test_to_native_string_honours_encoding(self) -> None:
        assert to_native_string(b"caf\xe9", "latin-1") == "caf\u00e9"


class TestToHostPortTuple:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("example.com", ("example.com", 443)),
            ("example.com:8443", ("example.com", 8443)),
            (b"example.com:80", ("example.com", 80)),
            ("localhost", ("localhost", 443)),
            ("127.0.0.1:1", ("127.0.0.1", 1)),
            ("[::1]", ("::1", 443)),
            ("[::1]:8443", ("::1", 8443)),
            ("::1", ("::1", 443)),
            ("2001:db8::1", ("2001:db8::1", 443)),
            ("[2001:db8::1]:65535", ("2001:db8::1", 65535)),
            ("fe80::1%eth0", ("fe80::1%eth0", 443)),
            ("my_host.internal", ("my_host.internal", 443)),
            ("b\u00fccher.example", ("b\u00fccher.example", 443)),
        ],
    )
    def test_valid(self, given: str | bytes, expected: tuple[str, int]) -> None:
        assert to_host_port_tuple(given, 443) == expected

    def test_default_port_is_80(self) -> None:
        assert to_host_port_tuple("example.com") == ("example.com", 80)

    @pytest.mark.parametrize(
        "given",
        [
            "",
            ":80",
            "example.com:",
            "example.com:abc",
            "example.com:+80",
            "example.com: 80",
            "example.com:8_0",
            "example.com:\uff18\uff10",
            "example.com:0",
            "example.com:65536",
            "example.com:80:90",
            "exa mple.com",
            "example.com/path",
            "user@example.com",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[::1]:port",
            "[example.com]",
            "[::1]:99999",
            "::g",
            "1:2:3",
        ],
    )
    def test_garbage_is_value_error(self, given: str) -> None:
        with pytest.raises(ValueError):
            to_host_port_tuple(given, 443)


class TestParseURL:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("https://example.com", ("https", "example.com", 443, "/")),
            ("http://example.com", ("http", "example.com", 80, "/")),
            ("HTTPS://example.com/", ("https", "example.com", 443, "/")),
            ("https://example.com:8443/a/b?q=1", ("https", "example.com", 8443, "/a/b?q=1")),
            ("https://example.com?q=1", ("https", "example.com", 443, "/?q=1")),
            ("https://example.com/p#frag", ("https", "example.com", 443, "/p")),
            ("https://example.com#frag", ("https", "example.com", 443, "/")),
            ("http://[::1]:8080/x", ("http", "::1", 8080, "/x")),
            ("http://[::1]/x", ("http", "::1", 80, "/x")),
            (b"https://example.com/b", ("https", "example.com", 443, "/b")),
            ("https://example.com/a?b=/c", ("https", "example.com", 443, "/a?b=/c")),
            ("https://example.com/a:b@c", ("https", "example.com", 443, "/a:b@c")),
        ],
    )
    def test_valid(self, url: str | bytes, expected: tuple[str, str, int, str]) -> None:
        assert parse_url(url) == expected

    @pytest.mark.parametrize(
        "url",
        [
            "",
            "example.com/path",
            "ftp://example.com/",
            "https:/example.com",
            "https://",
            "https:///path",
            "https://user:pw@example.com/",
            "https://example.com:bad/",
            "https://::1/",
            "https://exa mple.com/",
        ],
    )
    def test_invalid_is_value_error(self, url: str) -> None:
        with pytest.raises(ValueError):
            parse_url(url)
