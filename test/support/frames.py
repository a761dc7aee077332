"""
What the engine tests (and the scripted HTTP/2 peer) build frames with: a
frame factory on hyperframe and hpack, a parser for everything the engine
writes (:func:`parse_frames`, :func:`drained`), ready-made engines and the
request header lists the tests share.

The factory owns its own HPACK encoder, so one factory must talk to one
engine for the whole test: every header block it builds changes the dynamic
table the engine under test decodes against.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any, Callable

import pytest
from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from hyper.http20.config import EngineConfig
from hyper.http20.engine import Engine, StreamState
from hyper.http20.events import Event, StreamReset

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

CLIENT_REQUEST = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":path", b"/"),
    (b":authority", b"example.com"),
]
#: CLIENT_REQUEST as a POST, for requests that carry a body.
POST_REQUEST = [(b":method", b"POST"), *CLIENT_REQUEST[1:]]
RESPONSE_200 = [(b":status", b"200")]

HeaderList = Iterable[tuple[Any, Any]]

_FRAME_HEADER = struct.Struct(">BHBBL")
_SETTING = struct.Struct(">HL")


def frame_header(length: int, frame_type: int, flags: int, stream_id: int) -> bytes:
    """The 9-byte frame header, with any values (reserved bit included)."""
    return _FRAME_HEADER.pack(length >> 16, length & 0xFFFF, frame_type, flags, stream_id)


class FrameFactory:
    """Builds the serialised bytes of real frames, as a peer would send them."""

    def __init__(self) -> None:
        self.encoder = Encoder()

    # -- header blocks ------------------------------------------------------

    def encode(self, headers: HeaderList) -> bytes:
        """One HPACK header block, encoded with this factory's encoder."""
        return self.encoder.encode(list(headers))  # type: ignore[no-any-return]

    # -- connection-level ---------------------------------------------------

    def preface(self) -> bytes:
        return PREFACE

    def settings(self, values: dict[int, int] | None = None, ack: bool = False) -> bytes:
        if ack:
            return SettingsFrame(0, flags=("ACK",)).serialize()  # type: ignore[no-any-return]
        return SettingsFrame(0, dict(values or {})).serialize()  # type: ignore[no-any-return]

    def raw_settings(
        self, pairs: Sequence[tuple[int, int]], flags: int = 0, stream_id: int = 0
    ) -> bytes:
        """A SETTINGS frame with entries exactly as given: ordered, duplicates kept."""
        body = b"".join(_SETTING.pack(k, v) for k, v in pairs)
        return frame_header(len(body), 0x4, flags, stream_id) + body

    def ping(self, data: bytes = b"\x00" * 8, ack: bool = False) -> bytes:
        return PingFrame(0, data, flags=("ACK",) if ack else ()).serialize()  # type: ignore[no-any-return]

    def goaway(self, last: int, code: int, debug: bytes = b"") -> bytes:
        return GoAwayFrame(0, last, code, debug).serialize()  # type: ignore[no-any-return]

    def window_update(self, stream_id: int, inc: int) -> bytes:
        if inc == 0 or inc > 2**31 - 1:
            # hyperframe refuses these; a malicious peer does not.
            return frame_header(4, 0x8, 0, stream_id) + struct.pack(">L", inc & 0xFFFFFFFF)
        return WindowUpdateFrame(stream_id, inc).serialize()  # type: ignore[no-any-return]

    # -- stream-level -------------------------------------------------------

    def headers(
        self,
        stream_id: int,
        headers: HeaderList,
        end_stream: bool = False,
        end_headers: bool = True,
        padded: int | None = None,
        priority: tuple[int, int, bool] | None = None,
    ) -> bytes:
        """
        HEADERS carrying ``headers`` encoded now. ``padded`` is a pad length;
        ``priority`` is ``(depends_on, weight, exclusive)``.
        """
        return self.headers_block(
            stream_id, self.encode(headers), end_stream, end_headers, padded, priority
        )

    def headers_block(
        self,
        stream_id: int,
        block: bytes,
        end_stream: bool = False,
        end_headers: bool = True,
        padded: int | None = None,
        priority: tuple[int, int, bool] | None = None,
    ) -> bytes:
        """HEADERS carrying an already encoded (or deliberately broken) block."""
        flags = []
        if end_stream:
            flags.append("END_STREAM")
        if end_headers:
            flags.append("END_HEADERS")
        frame = HeadersFrame(stream_id, block, flags=flags)
        if padded is not None:
            frame.flags.add("PADDED")
            frame.pad_length = padded
        if priority is not None:
            frame.flags.add("PRIORITY")
            frame.depends_on, weight, frame.exclusive = priority
            # hyperframe writes the weight byte as given; on the wire it is weight-1.
            frame.stream_weight = weight - 1
        return frame.serialize()  # type: ignore[no-any-return]

    def continuation(self, stream_id: int, block: bytes, end_headers: bool) -> bytes:
        flags = ("END_HEADERS",) if end_headers else ()
        return ContinuationFrame(stream_id, block, flags=flags).serialize()  # type: ignore[no-any-return]

    def data(
        self,
        stream_id: int,
        payload: bytes,
        end_stream: bool = False,
        pad_length: int | None = None,
    ) -> bytes:
        frame = DataFrame(stream_id, payload, flags=("END_STREAM",) if end_stream else ())
        if pad_length is not None:
            frame.flags.add("PADDED")
            frame.pad_length = pad_length
        return frame.serialize()  # type: ignore[no-any-return]

    def rst_stream(self, stream_id: int, code: int) -> bytes:
        return RstStreamFrame(stream_id, code).serialize()  # type: ignore[no-any-return]

    def priority(
        self, stream_id: int, depends_on: int, weight: int = 16, exclusive: bool = False
    ) -> bytes:
        return PriorityFrame(  # type: ignore[no-any-return]
            stream_id, depends_on=depends_on, stream_weight=weight - 1, exclusive=exclusive
        ).serialize()

    def push_promise(
        self, stream_id: int, promised: int, headers: HeaderList, end_headers: bool = True
    ) -> bytes:
        flags = ("END_HEADERS",) if end_headers else ()
        frame = PushPromiseFrame(stream_id, promised, self.encode(headers), flags=flags)
        return frame.serialize()  # type: ignore[no-any-return]

    def raw_frame(self, type: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:  # noqa: A002
        """Any frame at all: the header is built from the given numbers."""
        return frame_header(len(payload), type, flags, stream_id) + payload


def parse_frames(data: bytes) -> list[Frame]:
    """Every frame in ``data`` (a leading client preface skipped); fails on leftovers."""
    view = memoryview(data)
    if data.startswith(PREFACE):
        view = view[len(PREFACE) :]
    frames: list[Frame] = []
    while len(view) >= 9:
        frame, length = Frame.parse_frame_header(view[:9])
        if len(view) < 9 + length:
            break
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    if len(view):
        pytest.fail(f"{len(view)} bytes left over after parsing the engine's output")
    return frames


def drained(engine: Engine) -> list[Frame]:
    """Every frame the engine has queued, parsed back (its output is drained)."""
    return parse_frames(engine.data_to_send())


def _handshake(engine: Engine, factory: FrameFactory, server_side: bool) -> Engine:
    engine.initiate_connection()
    engine.data_to_send()
    first = factory.preface() if server_side else b""
    engine.receive_data(first + factory.settings() + factory.settings(ack=True))
    engine.data_to_send()  # our ACK of the peer's SETTINGS
    return engine


def make_client(factory: FrameFactory | None = None, **config_kwargs: Any) -> Engine:
    """
    A client engine after the preface exchange with ``factory`` as the server
    (our SETTINGS acknowledged, the server's empty SETTINGS applied and ACKed,
    output drained). Pass the factory the test will go on using.
    """
    engine = Engine(EngineConfig(client_side=True, **config_kwargs))
    return _handshake(engine, factory or FrameFactory(), server_side=False)


def make_server(factory: FrameFactory | None = None, **config_kwargs: Any) -> Engine:
    """A server engine after the preface exchange with ``factory`` as the client."""
    engine = Engine(EngineConfig(client_side=False, **config_kwargs))
    return _handshake(engine, factory or FrameFactory(), server_side=True)


def pump(client: Engine, server: Engine) -> tuple[list[Event], list[Event]]:
    """Move bytes both ways until neither side has anything to say."""
    client_events: list[Event] = []
    server_events: list[Event] = []
    for _ in range(1000):
        to_server = client.data_to_send()
        if to_server:
            server_events += server.receive_data(to_server)
        to_client = server.data_to_send()
        if to_client:
            client_events += client.receive_data(to_client)
        if not to_server and not to_client:
            return client_events, server_events
    pytest.fail("pump: the engines never went quiet")


def pair(
    client_kwargs: dict[str, Any] | None = None,
    server_kwargs: dict[str, Any] | None = None,
) -> tuple[Engine, Engine]:
    """A connected (client, server) pair, preface and SETTINGS exchanged."""
    client = Engine(EngineConfig(client_side=True, **(client_kwargs or {})))
    server = Engine(EngineConfig(client_side=False, **(server_kwargs or {})))
    client.initiate_connection()
    server.initiate_connection()
    pump(client, server)
    return client, server


PumpFn = Callable[[Engine, Engine], tuple[list[Event], list[Event]]]


# -- assertions shared by the engine tests ------------------------------------


def assert_connection_error(
    engine: Engine,
    data: bytes,
    exc_type: type[BaseException],
    code: int,
    last_stream_id: int | None = None,
    *,
    bytewise: bool = False,
) -> GoAwayFrame:
    """
    Feed ``data`` (whole, or one byte per call with ``bytewise``): it must
    raise ``exc_type`` carrying ``code``, and the output must end with a
    GOAWAY with that code (and ``last_stream_id``). Returns the GOAWAY frame.
    """
    with pytest.raises(exc_type) as info:
        if bytewise:
            feed_bytewise(engine, data)
        else:
            engine.receive_data(data)
    assert info.value.error_code == code  # type: ignore[attr-defined]
    frames = parse_frames(engine.data_to_send())
    assert frames, "no GOAWAY was queued"
    goaway = frames[-1]
    assert isinstance(goaway, GoAwayFrame), frames
    assert goaway.error_code == code
    if last_stream_id is not None:
        assert goaway.last_stream_id == last_stream_id
    return goaway


def assert_stream_reset(
    events: list[Event], frames: list[Frame], stream_id: int, code: int
) -> None:
    """Our own RST_STREAM(code) on ``stream_id``, reported as StreamReset(remote=False)."""
    resets = [e for e in events if isinstance(e, StreamReset)]
    assert resets == [StreamReset(stream_id, code, False)], events
    rsts = [f for f in frames if isinstance(f, RstStreamFrame)]
    assert [(f.stream_id, f.error_code) for f in rsts] == [(stream_id, code)], frames
    assert not any(isinstance(f, GoAwayFrame) for f in frames), frames


def expect_stream_error(engine: Engine, data: bytes, stream_id: int, code: int) -> list[Event]:
    """``data`` must give exactly one RST_STREAM(code), reported as StreamReset(remote=False)."""
    events = engine.receive_data(data)
    frames = drained(engine)
    assert [e for e in events if isinstance(e, StreamReset)] == [
        StreamReset(stream_id, code, False)
    ], events
    assert [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)] == [
        (stream_id, code)
    ], frames
    assert not any(isinstance(f, GoAwayFrame) for f in frames), frames
    assert engine.stream_state(stream_id) == StreamState.CLOSED
    return events


def open_request(
    server: Engine, factory: FrameFactory, stream_id: int = 1, end_stream: bool = False
) -> list[Event]:
    """Have the peer open ``stream_id`` on a server with CLIENT_REQUEST; drain output."""
    events = server.receive_data(factory.headers(stream_id, CLIENT_REQUEST, end_stream=end_stream))
    server.data_to_send()
    return events


def open_response(client: Engine, factory: FrameFactory, stream_id: int = 1) -> list[Event]:
    """Send CLIENT_REQUEST on a client and feed it RESPONSE_200 (no END_STREAM)."""
    client.send_headers(stream_id, CLIENT_REQUEST, end_stream=True)
    client.data_to_send()
    events = client.receive_data(factory.headers(stream_id, RESPONSE_200))
    client.data_to_send()
    return events


def feed_bytewise(engine: Engine, data: bytes) -> list[Event]:
    """Feed ``data`` one byte per ``receive_data`` call; return all the events."""
    events: list[Event] = []
    for i in range(len(data)):
        events += engine.receive_data(data[i : i + 1])
    return events
