"""
Frame format, sizes, stream ids, padding and the small control frames
(RFC 9113 4, 6; checklist L1, L2, L4, F1-F6, D1-D7), plus whole exchanges fed
at once and one byte at a time.
"""

from __future__ import annotations

import struct

import pytest
from hyperframe.frame import PingFrame, RstStreamFrame, WindowUpdateFrame
from support.frames import (
    CLIENT_REQUEST,
    PREFACE,
    RESPONSE_200,
    FrameFactory,
    assert_connection_error,
    assert_stream_reset,
    feed_bytewise,
    frame_header,
    make_client,
    make_server,
    open_request,
    open_response,
    parse_frames,
)

from hyper.http20.engine import Engine, EngineConfig, StreamState
from hyper.http20.errors import ErrorCodes
from hyper.http20.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    PingAcknowledged,
    PingReceived,
    RemoteSettingsChanged,
    RequestReceived,
    StreamReset,
    WindowUpdated,
)
from hyper.http20.exceptions import FrameSizeError, ProtocolError

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE = range(9)
CONTINUATION = 0x9
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20


@pytest.fixture(params=["client", "server"])
def engine(request: pytest.FixtureRequest, factory: FrameFactory) -> Engine:
    """Either role, after the preface exchange, with stream 1 open."""
    if request.param == "client":
        engine = make_client(factory)
        open_response(engine, factory, 1)
    else:
        engine = make_server(factory)
        open_request(engine, factory, 1)
    return engine


@pytest.fixture(params=[False, True], ids=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def still_alive(engine: Engine, factory: FrameFactory) -> None:
    """The connection survived: a PING is still answered."""
    assert engine.receive_data(factory.ping(b"stillok!")) == [PingReceived(b"stillok!")]
    [ack] = parse_frames(engine.data_to_send())
    assert isinstance(ack, PingFrame) and ack.flags == {"ACK"} and ack.opaque_data == b"stillok!"


class TestFrameSizeLimit:
    """L1, F4: the 9-byte header is checked against our MAX_FRAME_SIZE first."""

    def test_data_of_exactly_max_frame_size_is_accepted(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """F4."""
        open_request(server, factory, 1)
        events = server.receive_data(factory.data(1, b"x" * 16384))
        assert events == [DataReceived(1, b"x" * 16384, 16384, False)]
        assert not any(
            not isinstance(f, WindowUpdateFrame) for f in parse_frames(server.data_to_send())
        )

    @pytest.mark.parametrize(
        ("frame_type", "stream_id"),
        [
            (DATA, 1),
            (HEADERS, 1),
            (PRIORITY, 1),
            (RST_STREAM, 1),
            (SETTINGS, 0),
            (PING, 0),
            (GOAWAY, 0),
            (WINDOW_UPDATE, 0),
            (CONTINUATION, 1),
            (0x16, 0),
        ],
    )
    @pytest.mark.parametrize("role", ["client", "server"])
    def test_oversized_frame_is_rejected_from_its_header_alone(
        self, factory: FrameFactory, role: str, frame_type: int, stream_id: int
    ) -> None:
        """L1: no body needed; the engine must not buffer 16 MiB to find out.
        (A client advertises 64 KiB frames, a server the 16 KiB minimum.)"""
        engine = make_client(factory) if role == "client" else make_server(factory)
        limit = EngineConfig(client_side=role == "client").max_frame_size
        assert limit == (65536 if role == "client" else 16384)
        header = frame_header(limit + 1, frame_type, 0, stream_id)
        assert_connection_error(engine, header, FrameSizeError, ErrorCodes.FRAME_SIZE_ERROR)

    def test_oversized_frame_is_rejected_with_no_buffering(self, factory: FrameFactory) -> None:
        """L1: a 2**24-1 length header fails at once, body or not."""
        server = make_server(factory)
        header = frame_header(2**24 - 1, DATA, 0, 1)
        assert_connection_error(
            server, header + b"\x00" * 100, FrameSizeError, ErrorCodes.FRAME_SIZE_ERROR
        )

    def test_larger_max_frame_size_is_accepted_once_acked(self, factory: FrameFactory) -> None:
        server = make_server(factory, max_frame_size=32768)
        open_request(server, factory, 1)
        events = server.receive_data(factory.data(1, b"y" * 32768))
        assert events == [DataReceived(1, b"y" * 32768, 32768, False)]
        assert_connection_error(
            server, frame_header(32769, DATA, 0, 1), FrameSizeError, ErrorCodes.FRAME_SIZE_ERROR
        )


# (name, frame bytes): connection FRAME_SIZE_ERROR whatever the role (F5, L2).
BAD_FIXED_LENGTHS = [
    ("ping-7", frame_header(7, PING, 0, 0) + b"\x00" * 7),
    ("ping-9", frame_header(9, PING, 0, 0) + b"\x00" * 9),
    ("ping-0", frame_header(0, PING, 0, 0)),
    ("ping-ack-7", frame_header(7, PING, ACK, 0) + b"\x00" * 7),
    ("rst-3", frame_header(3, RST_STREAM, 0, 1) + b"\x00" * 3),
    ("rst-5", frame_header(5, RST_STREAM, 0, 1) + b"\x00" * 5),
    ("window-update-3-conn", frame_header(3, WINDOW_UPDATE, 0, 0) + b"\x00\x00\x01"),
    ("window-update-5-conn", frame_header(5, WINDOW_UPDATE, 0, 0) + b"\x00\x00\x00\x01\x00"),
    ("window-update-3-stream", frame_header(3, WINDOW_UPDATE, 0, 1) + b"\x00\x00\x01"),
    ("goaway-7", frame_header(7, GOAWAY, 0, 0) + b"\x00" * 7),
    ("goaway-0", frame_header(0, GOAWAY, 0, 0)),
    # F6: PADDED with no room for the pad-length byte.
    ("data-padded-empty", frame_header(0, DATA, PADDED, 1)),
    ("headers-padded-empty", frame_header(0, HEADERS, PADDED | END_HEADERS, 3)),
    # The PRIORITY fields of HEADERS are mandatory once the flag is set.
    ("headers-priority-4", frame_header(4, HEADERS, PRIORITY_FLAG | END_HEADERS, 3) + b"\0" * 4),
    (
        "headers-padded-priority-5",
        frame_header(5, HEADERS, PADDED | PRIORITY_FLAG | END_HEADERS, 3) + b"\0" * 5,
    ),
]


class TestFixedLengthFrames:
    @pytest.mark.parametrize(
        "frame", [f for _, f in BAD_FIXED_LENGTHS], ids=[n for n, _ in BAD_FIXED_LENGTHS]
    )
    def test_wrong_length_is_connection_frame_size_error(
        self, engine: Engine, frame: bytes, bytewise: bool
    ) -> None:
        """F5, F6, L2."""
        assert_connection_error(
            engine,
            frame,
            FrameSizeError,
            ErrorCodes.FRAME_SIZE_ERROR,
            0 if engine.client_side else 1,
            bytewise=bytewise,
        )

    @pytest.mark.parametrize("length", [0, 4, 6])
    def test_priority_of_wrong_length_on_open_stream_is_stream_error(
        self, engine: Engine, factory: FrameFactory, length: int
    ) -> None:
        """F5, L2: only the stream is reset, with FRAME_SIZE_ERROR."""
        frame = factory.raw_frame(PRIORITY, 0, 1, b"\x00\x00\x00\x00\x10\x00"[:length])
        events = engine.receive_data(frame)
        assert_stream_reset(
            events, parse_frames(engine.data_to_send()), 1, ErrorCodes.FRAME_SIZE_ERROR
        )
        assert engine.stream_state(1) == StreamState.CLOSED
        still_alive(engine, factory)

    def test_priority_of_wrong_length_on_idle_stream_is_connection_error(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """F5: RST_STREAM must never be sent on an idle stream (6.4), so the
        stream error is raised to a connection error."""
        frame = factory.raw_frame(PRIORITY, 0, 5, b"\x00\x00\x00\x00")
        assert_connection_error(server, frame, FrameSizeError, ErrorCodes.FRAME_SIZE_ERROR, 0)

    def test_priority_of_wrong_length_on_closed_stream_is_stream_error(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        open_request(server, factory, 1, end_stream=True)
        server.send_headers(1, RESPONSE_200, end_stream=True)
        server.data_to_send()
        events = server.receive_data(factory.raw_frame(PRIORITY, 0, 1, b"\x00" * 4))
        assert_stream_reset(
            events, parse_frames(server.data_to_send()), 1, ErrorCodes.FRAME_SIZE_ERROR
        )

    def test_push_promise_too_short_for_promised_id_is_frame_size_error(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        client.data_to_send()
        frame = factory.raw_frame(PUSH_PROMISE, END_HEADERS, 1, b"\x00\x00\x02")
        assert_connection_error(client, frame, FrameSizeError, ErrorCodes.FRAME_SIZE_ERROR)

    def test_padded_push_promise_with_empty_payload_is_frame_size_error(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """F6."""
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        client.data_to_send()
        frame = factory.raw_frame(PUSH_PROMISE, END_HEADERS | PADDED, 1, b"")
        assert_connection_error(client, frame, FrameSizeError, ErrorCodes.FRAME_SIZE_ERROR)


class TestUnknownFramesAndFlags:
    @pytest.mark.parametrize("frame_type", [0x0A, 0x0C, 0x10, 0x16, 0xFF])
    @pytest.mark.parametrize("stream_id", [0, 1, 99])
    def test_unknown_frame_type_is_ignored_mid_stream(
        self, engine: Engine, factory: FrameFactory, frame_type: int, stream_id: int
    ) -> None:
        """F1: between frames of an open stream, on stream 0, 1 or an idle one."""
        frame = factory.raw_frame(frame_type, 0xFF, stream_id, b"extension payload")
        assert engine.receive_data(frame) == []
        assert engine.data_to_send() == b""
        events = engine.receive_data(factory.data(1, b"after", end_stream=True))
        assert events == [DataReceived(1, b"after", 5, True)]

    def test_unknown_frame_type_right_after_the_preface_settings(
        self, factory: FrameFactory
    ) -> None:
        """F1: ignored even as the second frame of the connection."""
        server = Engine(EngineConfig(client_side=False))
        server.initiate_connection()
        server.data_to_send()
        events = server.receive_data(
            PREFACE + factory.settings() + factory.raw_frame(0x16, 0, 0, b"x" * 100)
        )
        assert events == [RemoteSettingsChanged({})]
        assert [f.flags for f in parse_frames(server.data_to_send())] == [{"ACK"}]

    def test_unknown_flags_on_ping_are_ignored(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        """F2: 0xFE sets every flag but ACK; the reply carries only ACK."""
        frame = factory.raw_frame(PING, 0xFE, 0, b"abcdefgh")
        assert engine.receive_data(frame) == [PingReceived(b"abcdefgh")]
        [ack] = parse_frames(engine.data_to_send())
        assert ack.flags == {"ACK"} and ack.opaque_data == b"abcdefgh"

    def test_unknown_flags_on_data_are_ignored(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        """F2: 0xF6 leaves END_STREAM and PADDED clear."""
        events = engine.receive_data(factory.raw_frame(DATA, 0xF6, 1, b"body"))
        assert events == [DataReceived(1, b"body", 4, False)]

    def test_unknown_flags_on_headers_are_ignored(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """F2: END_HEADERS plus 0xD2 (neither END_STREAM, PADDED nor PRIORITY)."""
        block = factory.encode(CLIENT_REQUEST)
        events = server.receive_data(factory.raw_frame(HEADERS, END_HEADERS | 0xD2, 1, block))
        assert events == [RequestReceived(1, CLIENT_REQUEST, False)]
        assert server.data_to_send() == b""

    def test_unknown_flags_on_settings_are_ignored(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        frame = factory.raw_settings([(0x4, 1000)], flags=0xFE)
        assert engine.receive_data(frame) == [RemoteSettingsChanged({0x4: 1000})]
        assert parse_frames(engine.data_to_send())[0].flags == {"ACK"}

    def test_reserved_bit_on_stream_id_is_ignored(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """F2: the high bit of the stream id is reserved and must be ignored."""
        events = server.receive_data(
            factory.raw_frame(HEADERS, END_HEADERS, 0x80000001, factory.encode(CLIENT_REQUEST))
            + factory.raw_frame(DATA, END_STREAM, 0x80000001, b"hi")
            + factory.raw_frame(PING, 0, 0x80000000, b"12345678")
        )
        assert events == [
            RequestReceived(1, CLIENT_REQUEST, False),
            DataReceived(1, b"hi", 2, True),
            PingReceived(b"12345678"),
        ]
        [ack] = parse_frames(server.data_to_send())
        assert isinstance(ack, PingFrame) and ack.stream_id == 0

    def test_reserved_bit_in_window_increment_is_ignored(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        frame = factory.raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">L", 0x80000010))
        assert engine.receive_data(frame) == [WindowUpdated(0, 16)]

    @pytest.mark.parametrize("role", ["client", "server"])
    def test_unknown_frame_inside_a_header_block_is_protocol_error(
        self, factory: FrameFactory, role: str
    ) -> None:
        """F3: nothing but CONTINUATION may follow HEADERS without END_HEADERS."""
        if role == "server":
            engine = make_server(factory)
            block = factory.encode(CLIENT_REQUEST)
        else:
            engine = make_client(factory)
            engine.send_headers(1, CLIENT_REQUEST, end_stream=True)
            engine.data_to_send()
            block = factory.encode(RESPONSE_200)
        data = (
            factory.headers_block(1, block[:2], end_headers=False)
            + factory.raw_frame(0x16, 0, 0, b"sneaky")
            + factory.continuation(1, block[2:], end_headers=True)
        )
        assert_connection_error(engine, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR)


# (name, frame) with stream id 0 where a stream is required (D1).
STREAM_FRAMES_ON_ZERO = [
    ("data", frame_header(4, DATA, 0, 0) + b"body"),
    ("data-end-stream", frame_header(0, DATA, END_STREAM, 0)),
    ("headers", frame_header(1, HEADERS, END_HEADERS, 0) + b"\x82"),
    ("priority", frame_header(5, PRIORITY, 0, 0) + b"\x00\x00\x00\x01\x10"),
    ("rst-stream", frame_header(4, RST_STREAM, 0, 0) + b"\x00\x00\x00\x08"),
    ("continuation", frame_header(1, CONTINUATION, END_HEADERS, 0) + b"\x82"),
    ("push-promise", frame_header(5, PUSH_PROMISE, END_HEADERS, 0) + b"\x00\x00\x00\x02\x82"),
]

# (name, frame) with a stream id where only 0 is allowed (D2).
CONNECTION_FRAMES_ON_STREAM = [
    ("ping", frame_header(8, PING, 0, 1) + b"\x00" * 8),
    ("ping-high", frame_header(8, PING, 0, 0x7FFFFFFF) + b"\x00" * 8),
    ("goaway", frame_header(8, GOAWAY, 0, 1) + b"\x00" * 8),
    ("settings", frame_header(0, SETTINGS, 0, 1)),
    ("settings-ack", frame_header(0, SETTINGS, ACK, 3)),
]


class TestStreamIdentifiers:
    @pytest.mark.parametrize(
        "frame", [f for _, f in STREAM_FRAMES_ON_ZERO], ids=[n for n, _ in STREAM_FRAMES_ON_ZERO]
    )
    def test_stream_frame_on_stream_zero_is_protocol_error(
        self, engine: Engine, frame: bytes, bytewise: bool
    ) -> None:
        """D1."""
        assert_connection_error(
            engine, frame, ProtocolError, ErrorCodes.PROTOCOL_ERROR, bytewise=bytewise
        )

    @pytest.mark.parametrize(
        "frame",
        [f for _, f in CONNECTION_FRAMES_ON_STREAM],
        ids=[n for n, _ in CONNECTION_FRAMES_ON_STREAM],
    )
    def test_connection_frame_on_a_stream_is_protocol_error(
        self, engine: Engine, frame: bytes, bytewise: bool
    ) -> None:
        """D2."""
        assert_connection_error(
            engine, frame, ProtocolError, ErrorCodes.PROTOCOL_ERROR, bytewise=bytewise
        )

    def test_goaway_after_error_names_the_last_processed_stream(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """G4 through D1: the GOAWAY carries the highest stream the peer opened."""
        open_request(server, factory, 1)
        open_request(server, factory, 3)
        assert_connection_error(
            server, frame_header(0, DATA, 0, 0), ProtocolError, ErrorCodes.PROTOCOL_ERROR, 3
        )

    def test_engine_refuses_input_after_a_connection_error(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        with pytest.raises(ProtocolError):
            server.receive_data(frame_header(0, DATA, 0, 0))
        server.data_to_send()
        with pytest.raises(ConnectionError):
            server.receive_data(factory.ping(b"12345678"))
        assert server.data_to_send() == b""


class TestPadding:
    @pytest.mark.parametrize("extra", [0, 1, 200])
    def test_data_pad_length_at_or_beyond_payload_is_protocol_error(
        self, engine: Engine, factory: FrameFactory, extra: int
    ) -> None:
        """D3: pad length 5 in a 5-byte payload leaves no room for itself."""
        frame = factory.raw_frame(DATA, PADDED, 1, bytes([5 + extra]) + b"abcd")
        assert_connection_error(engine, frame, ProtocolError, ErrorCodes.PROTOCOL_ERROR)

    def test_data_with_maximal_valid_padding_is_empty(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        """D3: pad length = payload - 1 is legal and leaves no data."""
        frame = factory.raw_frame(DATA, PADDED | END_STREAM, 1, b"\x04" + b"\x00" * 4)
        assert engine.receive_data(frame) == [DataReceived(1, b"", 5, True)]

    def test_nonzero_padding_bytes_are_accepted(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        """D3: 'MAY' treat non-zero padding as an error; we accept it."""
        frame = factory.raw_frame(DATA, PADDED, 1, b"\x03hi\xff\xff\xff")
        assert engine.receive_data(frame) == [DataReceived(1, b"hi", 6, False)]

    def test_headers_pad_length_beyond_payload_is_protocol_error(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """D3."""
        block = factory.encode(CLIENT_REQUEST)
        payload = bytes([len(block) + 1]) + block
        frame = factory.raw_frame(HEADERS, PADDED | END_HEADERS, 1, payload)
        assert_connection_error(server, frame, ProtocolError, ErrorCodes.PROTOCOL_ERROR)

    def test_headers_padding_counts_the_priority_fields(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """L4: PADDED|PRIORITY, length 6, pad 4: 1 + 5 + 4 > 6 (hyperframe accepts it)."""
        payload = b"\x04" + b"\x00\x00\x00\x00\x10" + b"\x82"
        frame = factory.raw_frame(HEADERS, PADDED | PRIORITY_FLAG | END_HEADERS, 1, payload)
        assert_connection_error(server, frame, ProtocolError, ErrorCodes.PROTOCOL_ERROR)

    @pytest.mark.parametrize(
        ("padded", "priority"),
        [(0, None), (10, None), (None, (0, 16, False)), (255, (0, 256, True))],
    )
    def test_valid_padded_and_priority_headers_decode(
        self,
        server: Engine,
        factory: FrameFactory,
        padded: int | None,
        priority: tuple[int, int, bool] | None,
    ) -> None:
        frame = factory.headers(
            1, CLIENT_REQUEST, end_stream=True, padded=padded, priority=priority
        )
        assert server.receive_data(frame) == [RequestReceived(1, CLIENT_REQUEST, True)]
        assert server.data_to_send() == b""

    def test_padding_counts_against_the_stream_window(self, factory: FrameFactory) -> None:
        """D4: 100 data bytes + 251 of padding overflow a 300-byte stream window."""
        server = make_server(factory, initial_window_size=300)
        open_request(server, factory, 1)
        events = server.receive_data(factory.data(1, b"d" * 100, pad_length=250))
        assert_stream_reset(
            events, parse_frames(server.data_to_send()), 1, ErrorCodes.FLOW_CONTROL_ERROR
        )

    def test_padding_is_given_back_to_the_stream_at_once(self, factory: FrameFactory) -> None:
        """D4: the application never sees padding, so the engine returns its window."""
        server = make_server(factory, initial_window_size=300)
        open_request(server, factory, 1)
        events = server.receive_data(factory.data(1, b"d" * 49, pad_length=250))
        assert events == [DataReceived(1, b"d" * 49, 300, False)]
        updates = [
            (f.stream_id, f.window_increment)
            for f in parse_frames(server.data_to_send())
            if isinstance(f, WindowUpdateFrame)
        ]
        assert updates == [(1, 251)]

    def test_padded_data_on_a_reset_stream_counts_against_the_connection(
        self, factory: FrameFactory
    ) -> None:
        """D4: 3 x (10700 data + 256 padding) cross the half-window mark only
        if the padding is counted, so a WINDOW_UPDATE(0) shows it was."""
        server = make_server(factory, connection_window_size=65535)
        open_request(server, factory, 1)
        server.reset_stream(1, ErrorCodes.CANCEL)
        server.data_to_send()
        frame = factory.data(1, b"p" * 10700, pad_length=255)
        assert server.receive_data(frame * 3) == []
        frames = parse_frames(server.data_to_send())
        assert [(type(f), f.stream_id, f.window_increment) for f in frames] == [
            (WindowUpdateFrame, 0, 3 * 10956)
        ]


class TestWindowUpdateIncrement:
    """L2: hyperframe refuses an increment of 0 while parsing; the engine maps it."""

    def test_zero_increment_on_a_stream_is_stream_protocol_error(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        events = engine.receive_data(factory.window_update(1, 0))
        assert_stream_reset(
            events, parse_frames(engine.data_to_send()), 1, ErrorCodes.PROTOCOL_ERROR
        )
        still_alive(engine, factory)

    def test_zero_increment_on_the_connection_is_protocol_error(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        assert_connection_error(
            engine, factory.window_update(0, 0), ProtocolError, ErrorCodes.PROTOCOL_ERROR
        )

    def test_zero_increment_on_an_idle_stream_is_protocol_error(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """T1: no RST_STREAM on an idle stream; the connection goes instead."""
        assert_connection_error(
            server, factory.window_update(7, 0), ProtocolError, ErrorCodes.PROTOCOL_ERROR, 0
        )


class TestPing:
    def test_ping_is_answered_with_the_same_bytes(
        self, engine: Engine, factory: FrameFactory, bytewise: bool
    ) -> None:
        """D5."""
        data = factory.ping(b"\x00\xff\x01\xfeping")
        events = feed_bytewise(engine, data) if bytewise else engine.receive_data(data)
        assert events == [PingReceived(b"\x00\xff\x01\xfeping")]
        [ack] = parse_frames(engine.data_to_send())
        assert isinstance(ack, PingFrame)
        assert ack.flags == {"ACK"} and ack.opaque_data == b"\x00\xff\x01\xfeping"

    def test_ping_ack_is_not_answered(self, engine: Engine, factory: FrameFactory) -> None:
        """D5."""
        events = engine.receive_data(factory.ping(b"pong!!!!", ack=True))
        assert events == [PingAcknowledged(b"pong!!!!")]
        assert engine.data_to_send() == b""

    def test_our_ping_round_trip(self, engine: Engine, factory: FrameFactory) -> None:
        engine.ping(b"ours1234")
        [ping] = parse_frames(engine.data_to_send())
        assert ping.flags == set() and ping.opaque_data == b"ours1234"
        assert engine.receive_data(factory.ping(b"ours1234", ack=True)) == [
            PingAcknowledged(b"ours1234")
        ]

    def test_many_pings_get_acks_in_order(self, engine: Engine, factory: FrameFactory) -> None:
        payloads = [struct.pack(">Q", i) for i in range(20)]
        engine.receive_data(b"".join(factory.ping(p) for p in payloads))
        assert [f.opaque_data for f in parse_frames(engine.data_to_send())] == payloads


class TestUnknownCodesAndValues:
    """D6: unknown error codes and odd values change nothing special."""

    def test_rst_stream_with_unknown_code(self, engine: Engine, factory: FrameFactory) -> None:
        events = engine.receive_data(factory.rst_stream(1, 0xDEAD))
        assert events == [StreamReset(1, 0xDEAD, True)]
        assert events[0].error_code == 0xDEAD
        assert engine.data_to_send() == b""
        assert engine.stream_state(1) == StreamState.CLOSED

    def test_goaway_with_unknown_code(self, engine: Engine, factory: FrameFactory) -> None:
        events = engine.receive_data(factory.goaway(1, 0xBEEF, b"bye"))
        assert events == [ConnectionTerminated(0xBEEF, 1, b"bye")]
        assert engine.data_to_send() == b""

    @pytest.mark.parametrize("stream_id", [1, 3, 11])
    @pytest.mark.parametrize(
        ("depends_on", "weight", "exclusive"), [(0, 256, True), (7, 1, False)]
    )
    def test_priority_with_any_values_is_accepted_silently(
        self,
        server: Engine,
        factory: FrameFactory,
        stream_id: int,
        depends_on: int,
        weight: int,
        exclusive: bool,
    ) -> None:
        """D6, T7: on open, idle or any stream, PRIORITY is parsed and ignored."""
        open_request(server, factory, 1)
        events = server.receive_data(factory.priority(stream_id, depends_on, weight, exclusive))
        assert events == []
        assert server.data_to_send() == b""
        expected = StreamState.OPEN if stream_id == 1 else StreamState.IDLE
        assert server.stream_state(stream_id) == expected


class TestRstStream:
    """D7: never answer a reset with a reset (5.4.2)."""

    def test_peer_reset_is_reported_and_not_answered(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        events = engine.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL))
        assert events == [StreamReset(1, ErrorCodes.CANCEL, True)]
        assert engine.data_to_send() == b""

    def test_second_reset_on_closed_stream_is_ignored(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        engine.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL))
        assert engine.receive_data(factory.rst_stream(1, ErrorCodes.PROTOCOL_ERROR)) == []
        assert engine.data_to_send() == b""

    def test_reset_crossing_ours_is_ignored(self, engine: Engine, factory: FrameFactory) -> None:
        engine.reset_stream(1, ErrorCodes.CANCEL)
        [ours] = parse_frames(engine.data_to_send())
        assert isinstance(ours, RstStreamFrame) and ours.error_code == ErrorCodes.CANCEL
        assert engine.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL)) == []
        assert engine.data_to_send() == b""


def client_exchange(factory: FrameFactory) -> bytes:
    """Everything a client might send a server in one session, as bytes."""
    block = factory.encode([*CLIENT_REQUEST, (b"x-long", b"v" * 100)])
    post = [(b":method", b"POST"), *CLIENT_REQUEST[1:], (b"content-length", b"11")]
    return b"".join(
        [
            PREFACE,
            factory.settings({0x4: 100000, 0x1: 1024}),
            factory.settings(ack=True),
            factory.headers_block(1, block[:10], end_headers=False),
            factory.continuation(1, b"", end_headers=False),
            factory.continuation(1, block[10:], end_headers=True),
            factory.raw_frame(0x16, 0, 1, b"ignored"),
            factory.data(1, b"hello", pad_length=7),
            factory.priority(1, 0, 200),
            factory.data(1, b" world", end_stream=True),
            factory.ping(b"pingpong"),
            factory.window_update(0, 1000),
            factory.headers(3, post, padded=3, priority=(1, 32, True)),
            factory.data(3, b"0123456789a", end_stream=True),
            factory.headers(5, CLIENT_REQUEST, end_stream=True),
            factory.rst_stream(5, ErrorCodes.CANCEL),
            factory.goaway(0, ErrorCodes.NO_ERROR, b"done"),
        ]
    )


def server_exchange(factory: FrameFactory) -> bytes:
    """Everything a server might send a client with requests 1 and 3 open."""
    return b"".join(
        [
            factory.settings({0x3: 50, 0x5: 20000}),
            factory.settings(ack=True),
            factory.headers(1, [(b":status", b"103"), (b"link", b"</a>")]),
            factory.headers(1, [*RESPONSE_200, (b"content-length", b"4")]),
            factory.data(1, b"ab", pad_length=3),
            factory.window_update(1, 500),
            factory.data(1, b"cd"),
            factory.headers(1, [(b"x-trailer", b"t")], end_stream=True),
            factory.headers(3, RESPONSE_200, end_stream=True, padded=2),
            factory.ping(b"\x01" * 8),
            factory.ping(b"\x02" * 8, ack=True),
            factory.goaway(3, ErrorCodes.NO_ERROR),
        ]
    )


def new_server() -> Engine:
    engine = Engine(EngineConfig(client_side=False))
    engine.initiate_connection()
    engine.data_to_send()
    return engine


def new_client() -> Engine:
    engine = Engine(EngineConfig(client_side=True))
    engine.initiate_connection()
    engine.send_headers(1, CLIENT_REQUEST, end_stream=True)
    engine.send_headers(3, CLIENT_REQUEST, end_stream=True)
    engine.data_to_send()
    return engine


def summary(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


class TestFeedingGranularity:
    """A valid exchange gives the same events and output however it is split."""

    def test_server_side_exchange_byte_at_a_time(self) -> None:
        data = client_exchange(FrameFactory())
        whole = new_server()
        whole_events = whole.receive_data(data)
        trickle = new_server()
        trickle_events = feed_bytewise(trickle, data)
        assert trickle_events == whole_events
        assert trickle.data_to_send() == whole.data_to_send()
        assert summary(whole_events) == [
            "RemoteSettingsChanged",
            "SettingsAcknowledged",
            "RequestReceived",
            "DataReceived",
            "DataReceived",
            "PingReceived",
            "WindowUpdated",
            "RequestReceived",
            "DataReceived",
            "RequestReceived",
            "StreamReset",
            "ConnectionTerminated",
        ]

    def test_client_side_exchange_byte_at_a_time(self) -> None:
        data = server_exchange(FrameFactory())
        whole = new_client()
        whole_events = whole.receive_data(data)
        trickle = new_client()
        trickle_events = feed_bytewise(trickle, data)
        assert trickle_events == whole_events
        assert trickle.data_to_send() == whole.data_to_send()
        assert summary(whole_events) == [
            "RemoteSettingsChanged",
            "SettingsAcknowledged",
            "InformationalResponseReceived",
            "ResponseReceived",
            "DataReceived",
            "WindowUpdated",
            "DataReceived",
            "TrailersReceived",
            "ResponseReceived",
            "PingReceived",
            "PingAcknowledged",
            "ConnectionTerminated",
        ]

    @pytest.mark.parametrize("chunk", [2, 3, 7, 9, 10, 100, 1000])
    def test_server_side_exchange_in_chunks(self, chunk: int) -> None:
        data = client_exchange(FrameFactory())
        whole = new_server()
        whole_events = whole.receive_data(data)
        chunked = new_server()
        chunked_events: list[Event] = []
        for i in range(0, len(data), chunk):
            chunked_events += chunked.receive_data(data[i : i + chunk])
        assert chunked_events == whole_events
        assert chunked.data_to_send() == whole.data_to_send()

    def test_memoryview_and_bytearray_input(self) -> None:
        data = client_exchange(FrameFactory())
        reference = new_server().receive_data(data)
        assert new_server().receive_data(bytearray(data)) == reference
        assert new_server().receive_data(memoryview(data)) == reference
