"""The historic ``hyper.cli`` helpers keep their names and behaviour."""

from __future__ import annotations

import argparse
import json

import pytest

from hyper import cli
from hyper.common.exceptions import InvalidArgumentError
from hyper.common.headers import HTTPHeaderMap


class _Response:
    """The one attribute get_content_type_and_charset reads."""

    def __init__(self, *headers: tuple[bytes, bytes]) -> None:
        self.headers = HTTPHeaderMap(list(headers))


class TestKeyValue:
    def test_separators_are_tried_in_the_order_given(self) -> None:
        split = cli.KeyValueArgType(*cli.SEP_GROUP_ITEMS)
        item = split("Referer:http://example.com/")
        assert (item.key, item.value, item.sep) == ("Referer", "http://example.com/", ":")
        item = split("q==a b")
        assert (item.key, item.value, item.sep, item.orig) == ("q", "a b", "==", "q==a b")
        assert split("n@=[1]").sep == cli.SEP_JSON
        assert split("name=hyper").sep == cli.SEP_DATA

    def test_an_item_without_separator_is_a_usage_error(self) -> None:
        with pytest.raises(argparse.ArgumentTypeError):
            cli.KeyValueArgType(":", "=")("nothing")


class TestParseArgument:
    def test_url_defaults_and_request_data(self) -> None:
        args = cli.parse_argument(
            ["example.com:8443/x?y=1", "a=b", "n@=[1, 2]", "X-Mine:z", "q==1 2"]
        )
        assert args.method == "POST"
        info = args.url
        assert isinstance(info, cli.UrlInfo)
        assert (info.scheme, info.secure) == ("https", True)
        assert (info.host, info.port) == ("example.com", 8443)
        assert info.path == "/x?y=1&q=1+2"
        assert info.query == "y=1"
        assert info.netloc == "example.com:8443"
        assert args.headers == {"X-Mine": "z", "content-type": "application/json"}
        assert json.loads(args.body) == {"a": "b", "n": [1, 2]}

    def test_plain_http_get(self) -> None:
        args = cli.parse_argument(["http://localhost/"])
        assert (args.method, args.url.port, args.url.secure, args.body) == ("GET", 80, False, None)

    def test_method_is_upper_cased_and_pseudo_headers_survive(self) -> None:
        ns = argparse.Namespace(_url="localhost", method="put", items=[], body=None)
        cli.set_url_info(ns)
        ns.items = [cli.KeyValueArgType(*cli.SEP_GROUP_ITEMS)(":authority:example.com")]
        cli.set_request_data(ns)
        assert ns.method == "PUT"
        assert ns.headers == {":authority": "example.com"}

    def test_bad_json_value_is_an_error(self) -> None:
        with pytest.raises(InvalidArgumentError, match="not JSON"):
            cli.parse_argument(["localhost", "n@={oops"])

    def test_bad_url_is_an_error(self) -> None:
        ns = argparse.Namespace(_url="ftp://example.com/")
        with pytest.raises(InvalidArgumentError):
            cli.set_url_info(ns)


class TestContentType:
    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            ((), ("unknown", "utf-8")),
            (((b"content-type", b"text/HTML"),), ("text/html", "utf-8")),
            (((b"content-type", b"text/plain; charset=latin-1"),), ("text/plain", "latin-1")),
        ],
    )
    def test_media_type_and_charset(self, headers: tuple, expected: tuple[str, str]) -> None:
        assert cli.get_content_type_and_charset(_Response(*headers)) == expected


@pytest.mark.interop
def test_request_fetches_the_body(nghttpd, docroot) -> None:
    args = cli.parse_argument(
        [f"https://{nghttpd.authority}/small.txt", "--cacert", nghttpd.ca_path, "--timeout", "10"]
    )
    assert cli.request(args) == docroot.read("small.txt")
