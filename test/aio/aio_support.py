"""
Support for the hyper.aio tests: running a coroutine on each event loop
(asyncio's, and uvloop's when installed) with a deadline, a raw HTTP/2
client for what no real client does on purpose (floods, rapid resets,
ignored limits), and a server started in the test's loop.

Every wait has a deadline (``DEADLINE``); nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from helpers import FrameFactory
from hpack import Decoder
from hyperframe.frame import (
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

import hyper.aio as aioh2

T = TypeVar("T")

# Generous: a loaded CI machine; a hung test fails at this point, not at pytest-timeout.
DEADLINE = 20.0
HOST = "127.0.0.1"

LOOPS = ["asyncio"]
if importlib.util.find_spec("uvloop") is not None:
    LOOPS.append("uvloop")


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``run(coro)``: run it on a fresh loop of each kind, within ``DEADLINE``."""
    loop = new_loop(request.param)
    # Python 3.9 binds an asyncio.Event to the current loop when it is made,
    # and tests make theirs before they run: this loop is the current one.
    asyncio.set_event_loop(loop)

    def runner(coro: Coroutine[Any, Any, T], timeout: float = DEADLINE) -> T:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))

    yield runner
    try:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


Handler = Callable[[aioh2.H2Protocol], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Handler, **kwargs: Any) -> AsyncIterator[tuple[asyncio.Server, int]]:
    """A hyper.aio server on 127.0.0.1 (port 0) running ``handler`` per connection."""
    server = await aioh2.start_server(lambda p: handler(p), HOST, 0, **kwargs)
    try:
        yield server, server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def echo_handler(proto: aioh2.H2Protocol) -> None:
    """Answer every request with 200 and its body, one at a time."""
    while True:
        stream_id, _headers = await proto.recv_request()
        body = await proto.read_stream(stream_id, -1)
        await proto.start_response(stream_id, {":status": "200"})
        await proto.send_data(stream_id, body or b"ok", end_stream=True)


def request_headers(path: str = "/", method: str = "GET", port: int = 0) -> list[tuple[str, str]]:
    return [
        (":method", method),
        (":scheme", "http"),
        (":path", path),
        (":authority", f"{HOST}:{port}"),
    ]


class RawClient:
    """
    A client that writes whatever frames a test builds (with a
    :class:`FrameFactory`) and parses every frame the server sends.
    """

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bool
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.factory = FrameFactory()
        self.frames: list[Frame] = []
        #: ACK the server's SETTINGS and PINGs as they are read.
        self.answer = answer
        self.decoder = Decoder()
        #: Decoded header blocks by stream id, in order.
        self.blocks: dict[int, list[list[tuple[str, str]]]] = {}

    @classmethod
    async def connect(
        cls,
        port: int,
        settings: dict[int, int] | None = None,
        *,
        preface: bool = True,
        answer: bool = True,
    ) -> RawClient:
        reader, writer = await asyncio.open_connection(HOST, port)
        client = cls(reader, writer, answer)
        if preface:
            client.send(client.factory.preface() + client.factory.settings(settings))
        return client

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_frame(self) -> Frame | None:
        """The next frame, or None at EOF."""
        try:
            header = await self.reader.readexactly(9)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        frame, length = Frame.parse_frame_header(memoryview(header))
        try:
            body = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        frame.parse_body(memoryview(body))
        if isinstance(frame, HeadersFrame):
            block = self.decoder.decode(frame.data)
            self.blocks.setdefault(frame.stream_id, []).append(block)
        if self.answer and "ACK" not in frame.flags:
            if isinstance(frame, SettingsFrame):
                self.send(self.factory.settings(ack=True))
            elif isinstance(frame, PingFrame):
                self.send(self.factory.ping(frame.opaque_data, ack=True))
        self.frames.append(frame)
        return frame

    async def until(self, predicate: Callable[[Frame], bool]) -> Frame:
        """Read until a frame matches; fail at EOF."""
        while True:
            frame = await self.read_frame()
            if frame is None:
                pytest.fail(f"connection closed before the expected frame; got {self.frames}")
            if predicate(frame):
                return frame

    async def until_closed(self) -> list[Frame]:
        while await self.read_frame() is not None:
            pass
        return self.frames

    async def goaway(self) -> GoAwayFrame:
        frame = await self.until(lambda f: isinstance(f, GoAwayFrame))
        assert isinstance(frame, GoAwayFrame)
        return frame

    async def response(self, stream_id: int) -> str:
        """How ``stream_id`` was answered: its ``:status``, or ``'RST <code>'``."""
        frame = await self.until(
            lambda f: isinstance(f, (HeadersFrame, RstStreamFrame)) and f.stream_id == stream_id
        )
        if isinstance(frame, RstStreamFrame):
            return f"RST {frame.error_code}"
        return dict(self.blocks[stream_id][-1])[":status"]

    async def body(self, stream_id: int) -> bytes:
        """The DATA payloads of ``stream_id`` up to END_STREAM."""
        parts = []
        while True:
            frame = await self.until(
                lambda f: isinstance(f, (DataFrame, RstStreamFrame)) and f.stream_id == stream_id
            )
            if isinstance(frame, RstStreamFrame):
                pytest.fail(f"stream {stream_id} reset ({frame.error_code})")
            parts.append(frame.data)
            if "END_STREAM" in frame.flags:
                return b"".join(parts)

    def request(self, stream_id: int, path: str = "/", end_stream: bool = True) -> bytes:
        """The bytes of a GET on ``stream_id``."""
        return self.factory.headers(stream_id, request_headers(path), end_stream=end_stream)

    def close(self) -> None:
        self.writer.close()

