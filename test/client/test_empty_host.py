"""
An empty host (``http://:1/``, ``HTTP20Connection('', 1)``) is the
caller's mistake: a ``ValueError``-kind error at once, with no DNS lookup of
``''`` (which resolves to nothing, slowly) and no connection attempt.
"""

from __future__ import annotations

import pytest
import requests

from hyper import HTTP11Connection, HTTP20Connection, HTTPConnection
from hyper.aio import AsyncHTTP20Connection
from hyper.common.exceptions import InvalidArgumentError
from hyper.contrib import HTTP2Adapter

CLASSES = [HTTP20Connection, HTTP11Connection, HTTPConnection, AsyncHTTP20Connection]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("args", [(":1",), ("", 1), (":443",)], ids=["colon-port", "port", "443"])
def test_connection_classes_refuse_an_empty_host(cls: type, args: tuple) -> None:
    with pytest.raises(InvalidArgumentError, match="No host") as info:
        cls(*args)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("url", ["http://:1/", "https://:443/x"])
def test_the_adapter_raises_requests_invalid_url(url: str) -> None:
    """A request whose URL lost its host (requests' prepare() refuses one it
    is given; a redirect or a hand-made PreparedRequest can still carry it)."""
    prepared = requests.Request("GET", "http://example.com/").prepare()
    prepared.url = url
    with pytest.raises(requests.exceptions.InvalidURL, match=r"No host specified\."):
        HTTP2Adapter().send(prepared)


def test_the_adapter_raises_invalid_url_for_a_port_out_of_range() -> None:
    prepared = requests.Request("GET", "http://example.com/").prepare()
    prepared.url = "http://localhost:99999/"
    with pytest.raises(requests.exceptions.InvalidURL, match=r"99999|range"):
        HTTP2Adapter().send(prepared)
