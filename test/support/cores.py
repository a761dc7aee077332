"""
The cores from bytes alone, as h11's tests drive a Connection pair: a client
core and a server core back to back (:class:`CorePair`), and a core facing
a scripted peer (:func:`client_against`, :func:`server_against`: a
:class:`~support.frames.FrameFactory` plays the other side) for what no
well-behaved core would send.

No socket, thread or wall clock: bytes cross only when the test moves them
(:meth:`CorePair.to_server`, :meth:`CorePair.to_client`, :meth:`CorePair.pump`),
and every crossing is parsed back into frames, so a test asserts on the wire
as well as on what the cores report. The server's clock is a
:class:`~support.timeouts.FakeClock`.
"""

from __future__ import annotations

from typing import Any

import pytest
from hyperframe.frame import Frame

from hyper.core.client import ClientCore
from hyper.core.server import Request, ServerCore, ServerLimits
from hyper.core.streams import StreamBuffer
from hyper.engine.config import EngineConfig
from hyper.engine.engine import Engine
from hyper.engine.window import BaseFlowControlManager
from support.frames import CLIENT_REQUEST, POST_REQUEST, FrameFactory, parse_frames
from support.timeouts import FakeClock

GET = CLIENT_REQUEST
POST = POST_REQUEST
Headers = list[tuple[bytes, bytes]]


class EveryByte(BaseFlowControlManager):
    """Gives back every byte at once, so each WINDOW_UPDATE shows exactly
    what was credited, and when (the default waits for half a window)."""

    def increase_window_size(self, frame_size: int) -> int:
        return frame_size

    def blocked(self) -> int:
        return 0


def client_core(**config: Any) -> ClientCore:
    """A fresh client core over a client engine made with ``config``."""
    return ClientCore(Engine(EngineConfig(client_side=True, **config)))


def server_core(
    clock: FakeClock, concurrency: int = 100, limits: ServerLimits | None = None, **kwargs: Any
) -> ServerCore:
    """A fresh server core on ``clock``."""
    return ServerCore(concurrency, limits or ServerLimits(), clock, **kwargs)


def client_against(
    factory: FrameFactory, settings: dict[int, int] | None = None, **config: Any
) -> ClientCore:
    """A started client core that ``factory`` answered as the server: its
    SETTINGS (``settings``) and the ACK of ours are in, the output drained."""
    core = client_core(**config)
    core.start()
    core.data_to_send()
    core.receive_data(factory.settings(settings) + factory.settings(ack=True))
    core.data_to_send()
    assert core.settings_seen and core.error is None
    return core


def server_against(
    factory: FrameFactory,
    clock: FakeClock,
    *,
    ack: bool = True,
    concurrency: int = 100,
    limits: ServerLimits | None = None,
) -> ServerCore:
    """A started server core that ``factory`` opened as the client: preface,
    SETTINGS and (``ack``) the ACK of ours are in, the output drained."""
    core = server_core(clock, concurrency, limits)
    core.start()
    core.data_to_send()
    acked = factory.settings(ack=True) if ack else b""
    core.receive_data(factory.preface() + factory.settings() + acked)
    core.data_to_send()
    assert core.settings_seen and core.error is None
    return core


class CorePair:
    """
    A :class:`ClientCore` and a :class:`ServerCore` wired back to back,
    started and past the SETTINGS exchange (unless ``start`` is False).

    :param client_config: more :class:`EngineConfig` values for the client.
    :param window_manager: both sides' window manager.
    """

    def __init__(
        self,
        *,
        concurrency: int = 100,
        limits: ServerLimits | None = None,
        client_config: dict[str, Any] | None = None,
        window_manager: type[BaseFlowControlManager] | None = None,
        start: bool = True,
    ) -> None:
        self.clock = FakeClock()
        config = dict(client_config or {})
        server_kwargs: dict[str, Any] = {}
        if window_manager is not None:
            config["window_manager"] = window_manager
            server_kwargs["window_manager"] = window_manager
        self.client = client_core(**config)
        self.server = server_core(self.clock, concurrency, limits, **server_kwargs)
        if start:
            self.client.start()
            self.server.start()
            self.pump()
            assert self.client.settings_seen and self.server.settings_seen

    def to_server(self) -> list[Frame]:
        """Hand what the client queued to the server; the frames that crossed."""
        data = self.client.data_to_send()
        if data:
            self.server.receive_data(data)
        return parse_frames(data)

    def to_client(self) -> list[Frame]:
        """Hand what the server queued to the client; the frames that crossed."""
        data = self.server.data_to_send()
        if data:
            self.client.receive_data(data)
        return parse_frames(data)

    def pump(self) -> None:
        """Move bytes both ways until neither side has anything to say."""
        for _ in range(100):
            if not self.to_server() + self.to_client():
                return
        pytest.fail("pump: the cores never went quiet")

    def request(
        self, headers: Headers = GET, body: bytes | None = None
    ) -> tuple[StreamBuffer, Request]:
        """Open a stream with ``headers`` (and a whole ``body``) and hand it
        to the server; the client's buffer and the request the server queued."""
        opened = self.client.open_stream(headers, body is None, body, True)
        assert opened is not None, "the client opens no more streams"
        stream, taken = opened
        assert body is None or taken == len(body)
        self.to_server()
        request = self.server.find(stream.stream_id)
        assert request is not None, "the server did not take the request"
        return stream, request

    def respond(self, request: Request, body: bytes = b"", headers: Headers | None = None) -> None:
        """The server answers ``request`` in full (200, ``body``); nothing crosses yet."""
        self.server.send_headers(request, headers or [(b":status", b"200")], not body)
        if body:
            assert self.server.send_data(request, body, True) == len(body)

    def read_all(self, stream: StreamBuffer) -> bytes:
        """Everything the client can read of ``stream`` now, through ``read``."""
        out = []
        while self.client.body_ready(stream):
            chunks = self.client.read(stream, None)
            if not chunks:
                break
            out += chunks
        return b"".join(out)
