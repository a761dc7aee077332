"""
Historic hyper's public behaviour, the last differences (issue 20): code
written for hyper 0.7/0.8 runs unchanged. Each class is one item, driven
through public API against a real listener: the scripted peers
(``support.peer``, ``support.h1peer``) where the bytes on the wire are the
point, h2o and nghttpd otherwise. Where both client front ends have the
behaviour (the blocking ``HTTP20Connection`` and ``AsyncHTTP20Connection``),
one test runs on both through :class:`Front` (one implementation each,
below the front ends).

The CLI's method (item 9) is tested in ``test/cli/test_cli.py``; a server
opening with GOAWAY (item 7) in ``test/client/test_retry_rule.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from support.h1peer import H1Conn, H1Peer, ok
from support.peer import Peer, echo, serving
from support.timeouts import CLIENT_TIMEOUT, TIMEOUT

from hyper import HTTP11Connection, HTTP20Connection, HTTPConnection
from hyper.aio import AsyncHTTP20Connection
from hyper.common.exceptions import InvalidArgumentTypeError


class Front:
    """One HTTP/2 client front end behind blocking calls: the blocking
    ``HTTP20Connection`` or ``AsyncHTTP20Connection`` on a loop of its own."""

    def __init__(
        self, kind: str, address: str, timeout: Any = CLIENT_TIMEOUT, **kwargs: Any
    ) -> None:
        self.kind = kind
        self.loop: asyncio.AbstractEventLoop | None = None
        self.conn: Any
        if kind == "async":
            self.loop = asyncio.new_event_loop()
            self.conn = AsyncHTTP20Connection(address, timeout=timeout, **kwargs)
        else:
            cls = {"sync": HTTP20Connection, "http11": HTTP11Connection}.get(kind, HTTPConnection)
            self.conn = cls(address, timeout=timeout, **kwargs)

    def run(self, call: Callable[[], Any]) -> Any:
        """``call()``, awaited when it returns a coroutine (bounded by TIMEOUT)."""
        result = call()
        if self.loop is None or not asyncio.iscoroutine(result):
            return result
        return self.loop.run_until_complete(asyncio.wait_for(result, TIMEOUT))

    def response(self, stream_id: int | None = None) -> Any:
        return self.run(lambda: self.conn.getresponse(stream_id))

    def trailers(self, response: Any) -> Any:
        """What historic code wrote: ``response.trailers`` (awaited
        ``gettrailers()`` for the async response, whose property cannot wait)."""
        if self.loop is None:
            return response.trailers
        return self.run(response.gettrailers)

    def read(self, response: Any, **kwargs: Any) -> bytes:
        return bytes(self.run(lambda: response.read(**kwargs)))

    def close(self) -> None:
        self.conn.close()
        if self.loop is not None:
            self.loop.run_until_complete(asyncio.sleep(0))  # let the transports close
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def front_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.contextmanager
def front(
    kind: str, address: str, timeout: Any = CLIENT_TIMEOUT, **kwargs: Any
) -> Iterator[Front]:
    client = Front(kind, address, timeout, **kwargs)
    try:
        yield client
    finally:
        client.close()


# ---------------------------------------------------------------------------
# Item 6: bad argument types are ValueError and TypeError


class TestBadArgumentTypes:
    @pytest.mark.parametrize("kind", ["sync", "async", "http11", "http"])
    def test_body_and_headers_of_the_wrong_type(self, kind: str) -> None:
        """One exception class, both builtins, saying what was given and what
        is accepted, whichever front end; nothing is sent, the connection
        works on."""

        def echo_h1(conn: H1Conn) -> None:
            while (request := conn.read_request()) is not None:
                conn.send(ok(request.target + b"\n"))

        listener: Any = H1Peer(echo_h1) if kind in ("http11", "http") else Peer(serving(echo))
        with listener as peer, front(kind, peer.address) as client:
            for call, given, accepted in [
                (lambda: client.conn.request("POST", "/", body=1234), "int 1234", "bytes"),
                (lambda: client.conn.request("GET", "/", headers=42), "int 42", "dict"),
            ]:
                with pytest.raises(ValueError) as info:
                    client.run(call)
                error = info.value
                assert isinstance(error, TypeError)
                assert isinstance(error, InvalidArgumentTypeError)
                assert given in str(error) and accepted in str(error)
            stream_id = client.run(lambda: client.conn.request("GET", "/after"))
            assert client.read(client.response(stream_id)) == b"/after\n"

    def test_historic_message_words(self) -> None:
        conn = HTTP20Connection("127.0.0.1:1")  # nothing is dialled for a bad body
        with pytest.raises(ValueError, match="request body must be bytes, str, a file-like"):
            conn.request("POST", "/", body=object())
