"""
The connection preface and SETTINGS (RFC 9113 3.4, 6.5; checklist 2.1 P1-P3,
S1-S12, L3, L7): what the engine accepts, what it refuses, and which frames
it writes back.
"""

from __future__ import annotations

import pytest
from hpack import Decoder
from hyperframe.frame import GoAwayFrame, HeadersFrame, SettingsFrame
from support.frames import (
    CLIENT_REQUEST,
    PREFACE,
    FrameFactory,
    assert_connection_error,
    make_client,
    make_server,
    open_request,
    pair,
    parse_frames,
    pump,
)

from hyper.http20.config import SettingCodes
from hyper.http20.engine import Engine, EngineConfig
from hyper.http20.errors import ErrorCodes
from hyper.http20.events import (
    DataReceived,
    RemoteSettingsChanged,
    RequestReceived,
    SettingsAcknowledged,
    StreamReset,
)
from hyper.http20.exceptions import (
    ConnectionTerminatedError,
    EnhanceYourCalmError,
    FlowControlError,
    FrameSizeError,
    HeaderListTooLargeError,
    ProtocolError,
    SettingsTimeoutError,
)

HTS = SettingCodes.HEADER_TABLE_SIZE
ENABLE_PUSH = SettingCodes.ENABLE_PUSH
MCS = SettingCodes.MAX_CONCURRENT_STREAMS
IWS = SettingCodes.INITIAL_WINDOW_SIZE
MFS = SettingCodes.MAX_FRAME_SIZE
MHLS = SettingCodes.MAX_HEADER_LIST_SIZE
ECP = SettingCodes.ENABLE_CONNECT_PROTOCOL


@pytest.fixture(params=["client", "server"])
def engine(request: pytest.FixtureRequest, factory: FrameFactory) -> Engine:
    """Either role, after the preface exchange."""
    if request.param == "client":
        return make_client(factory)
    return make_server(factory)


def fresh(client_side: bool, **kwargs: object) -> Engine:
    """An engine that has sent its preface but heard nothing yet."""
    engine = Engine(EngineConfig(client_side=client_side, **kwargs))  # type: ignore[arg-type]
    engine.initiate_connection()
    engine.data_to_send()
    return engine


def block_of(frames: list[object]) -> bytes:
    headers = [f for f in frames if isinstance(f, HeadersFrame)]
    assert len(headers) == 1, frames
    return bytes(headers[0].data)


class TestPreface:
    def test_server_rejects_a_bad_preface(self, factory: FrameFactory) -> None:
        """P1: an HTTP/1.1 request instead of the preface is a PROTOCOL_ERROR."""
        server = fresh(False)
        goaway = assert_connection_error(
            server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ProtocolError, ErrorCodes.PROTOCOL_ERROR
        )
        assert goaway.last_stream_id == 0

    def test_bad_preface_is_detected_at_the_first_wrong_byte(self) -> None:
        """P1: byte by byte, the engine fails as soon as the prefix diverges."""
        server = fresh(False)
        bad = b"PRI * HTTP/1.1\r\n\r\n"
        diverges = bad.index(b"1")
        for byte in bad[:diverges]:
            assert server.receive_data(bytes([byte])) == []
        assert server.data_to_send() == b""
        assert_connection_error(
            server, bad[diverges : diverges + 1], ProtocolError, ErrorCodes.PROTOCOL_ERROR
        )

    def test_preface_and_settings_fed_one_byte_at_a_time(self, factory: FrameFactory) -> None:
        server = fresh(False)
        events = []
        for byte in PREFACE + factory.settings({IWS: 1000}):
            events += server.receive_data(bytes([byte]))
        assert events == [RemoteSettingsChanged({IWS: 1000})]
        [ack] = parse_frames(server.data_to_send())
        assert isinstance(ack, SettingsFrame) and "ACK" in ack.flags

    @pytest.mark.parametrize("client_side", [True, False], ids=["client", "server"])
    @pytest.mark.parametrize(
        "first",
        [
            FrameFactory().ping(b"12345678"),
            FrameFactory().settings(ack=True),
            FrameFactory().window_update(0, 100),
            FrameFactory().raw_frame(0x16, 0, 0, b"ext"),
            FrameFactory().raw_frame(0x7, 0, 0, b"\x00" * 4),  # too short for a GOAWAY
        ],
        ids=["ping", "settings-ack", "window-update", "unknown-type", "short-goaway"],
    )
    def test_first_frame_other_than_settings_is_protocol_error(
        self, client_side: bool, first: bytes
    ) -> None:
        """P2: the peer's preface is a SETTINGS frame, nothing else."""
        engine = fresh(client_side)
        prefix = b"" if client_side else PREFACE
        assert_connection_error(engine, prefix + first, ProtocolError, ErrorCodes.PROTOCOL_ERROR)

    @pytest.mark.parametrize("client_side", [True, False], ids=["client", "server"])
    @pytest.mark.parametrize(
        "code", [ErrorCodes.NO_ERROR, ErrorCodes.ENHANCE_YOUR_CALM], ids=["no-error", "calm"]
    )
    def test_goaway_first_is_a_peer_going_away(self, client_side: bool, code: int) -> None:
        """P2 still refuses the connection, but a peer opening with GOAWAY
        (a server shutting down) is reported as going away, with its code,
        not as a protocol violation: ConnectionTerminatedError."""
        engine = fresh(client_side)
        prefix = b"" if client_side else PREFACE
        data = prefix + FrameFactory().goaway(0, code, b"shutting down")
        goaway = assert_connection_error(engine, data, ConnectionTerminatedError, code)
        assert goaway.last_stream_id == 0
        with pytest.raises(ConnectionTerminatedError) as info:
            engine.receive_data(b"")
        assert not isinstance(info.value, ProtocolError)
        message = str(info.value)
        assert f"GOAWAY({ErrorCodes(code).name})" in message
        assert "going away" in message and "shutting down" in message

    def test_server_first_frame_is_settings_and_it_acks_the_clients(
        self, factory: FrameFactory
    ) -> None:
        """P3: the server writes SETTINGS first (no preface string) and ACKs the client's."""
        server = Engine(EngineConfig(client_side=False))
        server.initiate_connection()
        out = server.data_to_send()
        assert not out.startswith(PREFACE)
        frames = parse_frames(out)
        assert isinstance(frames[0], SettingsFrame) and "ACK" not in frames[0].flags
        # A server never offers push (6.5.2), and advertises its header list cap (A11).
        assert ENABLE_PUSH not in frames[0].settings
        assert frames[0].settings[MHLS] == 65536
        assert frames[0].settings[MCS] == 100
        server.receive_data(PREFACE + factory.settings({MFS: 20000}))
        [ack] = parse_frames(server.data_to_send())
        assert isinstance(ack, SettingsFrame) and ack.flags == {"ACK"}

    def test_client_preface_disables_push(self) -> None:
        """U1: the client's first SETTINGS carries ENABLE_PUSH=0 right after the preface."""
        client = Engine(EngineConfig(client_side=True))
        client.initiate_connection()
        out = client.data_to_send()
        assert out.startswith(PREFACE)
        frames = parse_frames(out)
        assert isinstance(frames[0], SettingsFrame)
        assert frames[0].settings[ENABLE_PUSH] == 0


class TestSettingsFrameShape:
    def test_ack_with_payload_is_frame_size_error(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        """S1."""
        frame = factory.raw_settings([(IWS, 100)], flags=0x1)
        assert_connection_error(engine, frame, FrameSizeError, ErrorCodes.FRAME_SIZE_ERROR)

    @pytest.mark.parametrize("stream_id", [1, 2, 0x7FFFFFFF])
    def test_settings_on_a_stream_is_protocol_error(
        self, engine: Engine, factory: FrameFactory, stream_id: int
    ) -> None:
        """S2, D2."""
        frame = factory.raw_settings([(IWS, 100)], stream_id=stream_id)
        assert_connection_error(engine, frame, ProtocolError, ErrorCodes.PROTOCOL_ERROR)

    @pytest.mark.parametrize("length", [1, 3, 5, 7, 11])
    def test_length_not_multiple_of_six_is_frame_size_error(
        self, engine: Engine, factory: FrameFactory, length: int
    ) -> None:
        """S3."""
        frame = factory.raw_frame(
            0x4, 0, 0, b"\x00\x04\x00\x00\x10\x00\x00\x00\x00\x00\x00"[:length]
        )
        assert_connection_error(engine, frame, FrameSizeError, ErrorCodes.FRAME_SIZE_ERROR)

    def test_too_many_entries_is_enhance_your_calm(
        self, engine: Engine, factory: FrameFactory
    ) -> None:
        """A14: a SETTINGS frame of 33 entries is a DoS attempt (nghttp2 caps at 32)."""
        frame = factory.raw_settings([(0xF0, i) for i in range(33)])
        assert_connection_error(engine, frame, EnhanceYourCalmError, ErrorCodes.ENHANCE_YOUR_CALM)

    def test_entry_cap_is_inclusive(self, engine: Engine, factory: FrameFactory) -> None:
        events = engine.receive_data(factory.raw_settings([(0xF0, i) for i in range(32)]))
        assert events == [RemoteSettingsChanged({})]
        [ack] = parse_frames(engine.data_to_send())
        assert ack.flags == {"ACK"}

    def test_entry_cap_is_configurable(self, factory: FrameFactory) -> None:
        server = make_server(factory, max_settings_entries=6)
        frame = factory.raw_settings([(IWS, i) for i in range(7)])
        assert_connection_error(server, frame, EnhanceYourCalmError, ErrorCodes.ENHANCE_YOUR_CALM)

    def test_empty_settings_is_acked(self, engine: Engine, factory: FrameFactory) -> None:
        assert engine.receive_data(factory.settings()) == [RemoteSettingsChanged({})]
        [ack] = parse_frames(engine.data_to_send())
        assert isinstance(ack, SettingsFrame) and ack.flags == {"ACK"}


# (setting, value, exception, code): values RFC 9113 6.5.2 forbids.
INVALID_VALUES = [
    (ENABLE_PUSH, 2, ProtocolError, ErrorCodes.PROTOCOL_ERROR),
    (ENABLE_PUSH, 2**32 - 1, ProtocolError, ErrorCodes.PROTOCOL_ERROR),
    (IWS, 2**31, FlowControlError, ErrorCodes.FLOW_CONTROL_ERROR),
    (IWS, 2**32 - 1, FlowControlError, ErrorCodes.FLOW_CONTROL_ERROR),
    (MFS, 16383, ProtocolError, ErrorCodes.PROTOCOL_ERROR),
    (MFS, 0, ProtocolError, ErrorCodes.PROTOCOL_ERROR),
    (MFS, 2**24, ProtocolError, ErrorCodes.PROTOCOL_ERROR),
    (ECP, 2, ProtocolError, ErrorCodes.PROTOCOL_ERROR),
]

# (setting, value): edge values that must be accepted.
VALID_VALUES = [
    (ENABLE_PUSH, 0),
    (IWS, 0),
    (IWS, 2**31 - 1),
    (MFS, 16384),
    (MFS, 2**24 - 1),
    (HTS, 0),
    (HTS, 2**32 - 1),
    (MCS, 0),
    (MHLS, 1),
    (ECP, 1),
]


class TestSettingsValues:
    @pytest.mark.parametrize(("setting", "value", "exc_type", "code"), INVALID_VALUES)
    def test_invalid_value_is_connection_error(
        self,
        engine: Engine,
        factory: FrameFactory,
        setting: int,
        value: int,
        exc_type: type[Exception],
        code: int,
    ) -> None:
        """S4, S6, S7."""
        assert_connection_error(engine, factory.raw_settings([(setting, value)]), exc_type, code)

    @pytest.mark.parametrize(("setting", "value"), VALID_VALUES)
    def test_edge_value_is_applied_and_acked(
        self, engine: Engine, factory: FrameFactory, setting: int, value: int
    ) -> None:
        """S7: 16384 and 16777215 are fine, and so are the other extremes."""
        events = engine.receive_data(factory.raw_settings([(setting, value)]))
        assert events == [RemoteSettingsChanged({setting: value})]
        assert engine.remote_settings[setting] == value
        [ack] = parse_frames(engine.data_to_send())
        assert isinstance(ack, SettingsFrame) and ack.flags == {"ACK"}

    def test_max_frame_size_from_peer_sizes_our_data_frames(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        client.receive_data(
            factory.raw_settings([(MFS, 20000)]) + factory.window_update(0, 100000)
        )
        client.send_headers(1, CLIENT_REQUEST)
        client.receive_data(factory.raw_settings([(IWS, 100000)]))
        client.data_to_send()
        assert client.send_data(1, b"x" * 50000) == 50000
        sizes = [len(f.data) for f in parse_frames(client.data_to_send())]
        assert sizes == [20000, 20000, 10000]

    def test_client_receiving_enable_push_1_is_protocol_error(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """S5: only clients may enable push; a server sending 1 broke the rule."""
        frame = factory.raw_settings([(ENABLE_PUSH, 1)])
        assert_connection_error(client, frame, ProtocolError, ErrorCodes.PROTOCOL_ERROR)

    def test_server_accepts_enable_push_1_from_the_client(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        assert server.receive_data(factory.raw_settings([(ENABLE_PUSH, 1)])) == [
            RemoteSettingsChanged({ENABLE_PUSH: 1})
        ]
        assert parse_frames(server.data_to_send())[0].flags == {"ACK"}

    @pytest.mark.parametrize("unknown", [0x7, 0xFF, 0xFFFF])
    def test_unknown_setting_is_ignored_and_acked(
        self, engine: Engine, factory: FrameFactory, unknown: int
    ) -> None:
        """S8."""
        before = dict(engine.remote_settings)
        events = engine.receive_data(factory.raw_settings([(unknown, 0xFFFFFFFF), (IWS, 1)]))
        assert events == [RemoteSettingsChanged({IWS: 1})]
        assert unknown not in engine.remote_settings
        assert engine.remote_settings == {**before, IWS: 1}
        [ack] = parse_frames(engine.data_to_send())
        assert ack.flags == {"ACK"}

    def test_ack_follows_all_values_and_one_per_frame(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """S9: one ACK per SETTINGS frame, in order, after every value is applied."""
        data = (
            factory.raw_settings([(MFS, 20000), (MCS, 5)])
            + factory.raw_settings([(MCS, 7)])
            + factory.raw_settings([])
        )
        events = client.receive_data(data)
        assert events == [
            RemoteSettingsChanged({MFS: 20000, MCS: 5}),
            RemoteSettingsChanged({MCS: 7}),
            RemoteSettingsChanged({}),
        ]
        assert client.max_outbound_frame_size == 20000
        assert client.remote_settings[MCS] == 7
        frames = parse_frames(client.data_to_send())
        assert [f.flags for f in frames] == [{"ACK"}] * 3

    def test_settings_with_an_invalid_value_is_not_acked(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """S9: a frame is applied whole or not ACKed at all; only the GOAWAY goes out."""
        with pytest.raises(ProtocolError):
            client.receive_data(factory.raw_settings([(MCS, 5), (MFS, 1)]))
        frames = parse_frames(client.data_to_send())
        assert [type(f) for f in frames] == [GoAwayFrame]


class TestSettingsOrder:
    """L3, S10: entries are processed in order, duplicates included (6.5.3)."""

    @pytest.mark.parametrize(
        ("values", "final"),
        [([10, 100], 100), ([100, 10], 10), ([2**31 - 1, 0], 0), ([0, 65535], 65535)],
    )
    def test_two_initial_window_entries_apply_in_order(
        self, client: Engine, factory: FrameFactory, values: list[int], final: int
    ) -> None:
        client.send_headers(1, CLIENT_REQUEST)
        client.data_to_send()
        client.receive_data(factory.window_update(0, 2**31 - 1 - 65535))
        events = client.receive_data(factory.raw_settings([(IWS, v) for v in values]))
        assert events == [RemoteSettingsChanged({IWS: final})]
        assert client.local_flow_control_window(1) == final
        assert parse_frames(client.data_to_send())[0].flags == {"ACK"}

    def test_invalid_entry_before_a_valid_duplicate_still_fails(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """A dict of settings would keep only the last (valid) value and miss the error."""
        frame = factory.raw_settings([(IWS, 2**31), (IWS, 10)])
        assert_connection_error(client, frame, FlowControlError, ErrorCodes.FLOW_CONTROL_ERROR)

    def test_intermediate_window_overflow_is_flow_control_error(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """W4 in order: the first entry overflows an open stream's window."""
        client.send_headers(1, CLIENT_REQUEST)
        client.receive_data(factory.window_update(1, 1000))
        client.data_to_send()
        frame = factory.raw_settings([(IWS, 2**31 - 1), (IWS, 0)])
        assert_connection_error(client, frame, FlowControlError, ErrorCodes.FLOW_CONTROL_ERROR)

    @pytest.mark.parametrize(
        ("sizes", "expected"),
        [
            ([0, 4096], [0, 4096]),
            ([0], [0]),
            ([256, 1024], [256, 1024]),
            ([100, 50, 200], [50, 200]),
            ([4096, 100, 4096], [100, 4096]),
            ([100, 200, 50], [50]),
        ],
    )
    def test_header_table_size_entries_signal_min_then_final(
        self, client: Engine, factory: FrameFactory, sizes: list[int], expected: list[int]
    ) -> None:
        """L3, H9: RFC 7541 4.2, the smallest size since the last block, then the final one."""
        client.receive_data(factory.raw_settings([(HTS, s) for s in sizes]))
        client.data_to_send()
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        block = block_of(parse_frames(client.data_to_send()))
        prefix = dtsu(*expected)
        assert block.startswith(prefix)
        assert not 0x20 <= block[len(prefix)] < 0x40, "more size updates than min and final"

    def test_repeated_header_table_size_across_frames_still_signals_it(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """L3: SETTINGS [0] then SETTINGS [0] before any block: the update is still sent."""
        client.receive_data(factory.raw_settings([(HTS, 0)]) + factory.raw_settings([(HTS, 0)]))
        client.data_to_send()
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        assert block_of(parse_frames(client.data_to_send())).startswith(dtsu(0))

    def test_header_table_size_cycle_across_frames_signals_the_minimum(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """L3: [0] then [4096] in two frames: the peer must still see the table emptied."""
        client.receive_data(factory.raw_settings([(HTS, 0)]) + factory.raw_settings([(HTS, 4096)]))
        client.data_to_send()
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        assert block_of(parse_frames(client.data_to_send())).startswith(dtsu(0, 4096))


def dtsu(*sizes: int) -> bytes:
    """HPACK dynamic table size updates (RFC 7541 6.3) for ``sizes``."""
    out = b""
    for size in sizes:
        if size < 31:
            out += bytes([0x20 | size])
            continue
        out += b"\x3f"
        size -= 31
        while size >= 128:
            out += bytes([(size & 0x7F) | 0x80])
            size >>= 7
        out += bytes([size])
    return out


class TestHeaderTableSizeSync:
    """L7, C6, H4, A14: the two HPACK tables follow SETTINGS in step."""

    def test_encoder_table_is_capped_against_huge_peer_setting(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """A14: a server may advertise 2**32-1; our encoder stops at its configured cap."""
        client.receive_data(factory.raw_settings([(HTS, 2**32 - 1)]))
        client.data_to_send()
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        block = block_of(parse_frames(client.data_to_send()))
        assert block.startswith(dtsu(65536))
        peer = Decoder()
        peer.max_allowed_table_size = 2**32 - 1
        assert peer.decode(block, raw=True) == CLIENT_REQUEST

    def test_lowered_table_size_applies_to_decoder_only_after_ack(
        self, factory: FrameFactory
    ) -> None:
        """L7, S11: before the ACK a DTSU up to the old size is fine; after it, not."""
        server = make_server(factory)
        server.update_settings({HTS: 100})
        server.data_to_send()
        block = dtsu(4096) + factory.encode(CLIENT_REQUEST)
        events = server.receive_data(factory.headers_block(1, block, end_stream=True))
        assert [type(e) for e in events] == [RequestReceived]
        assert server.receive_data(factory.settings(ack=True)) == [
            SettingsAcknowledged({HTS: 100})
        ]
        late = factory.headers_block(3, dtsu(4096) + factory.encode(CLIENT_REQUEST), True)
        assert_connection_error(
            server, late, Exception, ErrorCodes.COMPRESSION_ERROR, last_stream_id=1
        )

    def test_block_without_required_size_update_is_compression_error(
        self, factory: FrameFactory
    ) -> None:
        """C6: after our lowered HEADER_TABLE_SIZE is ACKed, the next block must shrink it."""
        server = make_server(factory)
        open_request(server, factory, 1, end_stream=True)
        server.update_settings({HTS: 0})
        server.receive_data(factory.settings(ack=True))
        server.data_to_send()
        assert_connection_error(
            server,
            factory.headers(3, CLIENT_REQUEST, end_stream=True),
            Exception,
            ErrorCodes.COMPRESSION_ERROR,
        )

    def test_block_with_required_size_update_is_accepted(self, factory: FrameFactory) -> None:
        server = make_server(factory)
        open_request(server, factory, 1, end_stream=True)
        server.update_settings({HTS: 0})
        server.receive_data(factory.settings(ack=True))
        server.data_to_send()
        factory.encoder.header_table_size = 0
        events = server.receive_data(factory.headers(3, CLIENT_REQUEST, end_stream=True))
        assert [(type(e), e.stream_id) for e in events] == [(RequestReceived, 3)]
        assert server.data_to_send() == b""

    def test_cached_block_does_not_skip_required_size_update(self, factory: FrameFactory) -> None:
        """C6: an all-indexed block seen before the ACK must still be checked after it."""
        server = make_server(factory)
        open_request(server, factory, 1, end_stream=True)
        repeat = factory.encode(CLIENT_REQUEST)
        assert all(b >= 0x80 for b in repeat)  # all indexed: the engine may cache it
        server.receive_data(factory.headers_block(3, repeat, end_stream=True))
        server.update_settings({HTS: 0})
        server.receive_data(factory.settings(ack=True))
        server.data_to_send()
        assert_connection_error(
            server,
            factory.headers_block(5, repeat, end_stream=True),
            Exception,
            ErrorCodes.COMPRESSION_ERROR,
        )

    def test_pair_stays_in_sync_when_server_shrinks_the_table(self) -> None:
        """L7, H9 end to end: the client's next request carries the update and decodes."""
        client, server = pair()
        for stream_id in (1, 3, 5):
            client.send_headers(stream_id, CLIENT_REQUEST, end_stream=True)
        pump(client, server)
        server.update_settings({HTS: 0})
        pump(client, server)
        assert server.local_settings[HTS] == 0
        client.send_headers(7, CLIENT_REQUEST, end_stream=True)
        out = client.data_to_send()
        assert block_of(parse_frames(out)).startswith(dtsu(0))
        events = server.receive_data(out)
        assert [(type(e), e.stream_id) for e in events] == [(RequestReceived, 7)]
        assert events[0].headers == CLIENT_REQUEST


class TestLocalSettingsTakeEffectOnAck:
    """S11: our new limits bind the peer only once it has ACKed them."""

    def test_concurrency_limit_applies_after_ack(self, factory: FrameFactory) -> None:
        server = make_server(factory)
        server.update_settings({MCS: 1})
        server.data_to_send()
        events = server.receive_data(
            factory.headers(1, CLIENT_REQUEST) + factory.headers(3, CLIENT_REQUEST)
        )
        assert [type(e) for e in events] == [RequestReceived, RequestReceived]
        assert server.data_to_send() == b""
        assert server.receive_data(factory.settings(ack=True)) == [SettingsAcknowledged({MCS: 1})]
        events = server.receive_data(factory.headers(5, CLIENT_REQUEST))
        assert events == []
        [rst] = parse_frames(server.data_to_send())
        assert (rst.stream_id, rst.error_code) == (5, ErrorCodes.REFUSED_STREAM)

    def test_initial_config_limits_apply_after_the_preface_ack(
        self, factory: FrameFactory
    ) -> None:
        server = fresh(False, max_concurrent_streams=1)
        server.receive_data(PREFACE + factory.settings())
        server.data_to_send()
        events = server.receive_data(
            factory.headers(1, CLIENT_REQUEST) + factory.headers(3, CLIENT_REQUEST)
        )
        assert [type(e) for e in events] == [RequestReceived, RequestReceived]
        server.receive_data(factory.settings(ack=True))
        assert server.receive_data(factory.headers(5, CLIENT_REQUEST)) == []
        [rst] = parse_frames(server.data_to_send())
        assert rst.error_code == ErrorCodes.REFUSED_STREAM

    def test_header_list_limit_applies_after_ack(self, factory: FrameFactory) -> None:
        server = make_server(factory)
        server.update_settings({MHLS: 200})
        server.data_to_send()
        big = [*CLIENT_REQUEST, (b"x-big", b"v" * 300)]
        events = server.receive_data(factory.headers(1, big, end_stream=True))
        assert [type(e) for e in events] == [RequestReceived]
        server.receive_data(factory.settings(ack=True))
        assert_connection_error(
            server,
            factory.headers(3, big, end_stream=True),
            HeaderListTooLargeError,
            ErrorCodes.ENHANCE_YOUR_CALM,
        )

    def test_larger_max_frame_size_is_accepted_before_its_ack(
        self, factory: FrameFactory
    ) -> None:
        """We offered it, so a frame of the new size is taken at once: a peer
        may send such frames before its ACK reaches us (h2o does)."""
        server = fresh(False, max_frame_size=32768)
        server.receive_data(PREFACE + factory.settings())
        server.data_to_send()
        open_request(server, factory, 1)
        events = server.receive_data(factory.data(1, b"x" * 20000))
        assert events == [DataReceived(1, b"x" * 20000, 20000, False)]
        with pytest.raises(FrameSizeError):
            server.receive_data(factory.data(1, b"x" * 32769))

    def test_smaller_max_frame_size_applies_after_ack(self, factory: FrameFactory) -> None:
        server = fresh(False, max_frame_size=32768)
        server.receive_data(PREFACE + factory.settings() + factory.settings(ack=True))
        open_request(server, factory, 1)
        server.update_settings({SettingCodes.MAX_FRAME_SIZE: 16384})
        server.data_to_send()
        # Not acknowledged yet: the peer may not have seen it.
        assert server.receive_data(factory.data(1, b"x" * 20000))[0].data == b"x" * 20000
        server.receive_data(factory.settings(ack=True))
        with pytest.raises(FrameSizeError):
            server.receive_data(factory.data(1, b"x" * 20000))

    def test_settings_acks_pop_pending_changes_in_order(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        server.update_settings({MCS: 10})
        server.update_settings({MCS: 20, IWS: 1000})
        frames = parse_frames(server.data_to_send())
        assert [f.settings for f in frames] == [{MCS: 10}, {MCS: 20, IWS: 1000}]
        assert server.receive_data(factory.settings(ack=True)) == [SettingsAcknowledged({MCS: 10})]
        assert server.local_settings[MCS] == 10
        assert server.receive_data(factory.settings(ack=True)) == [
            SettingsAcknowledged({MCS: 20, IWS: 1000})
        ]
        assert server.local_settings[MCS] == 20
        assert server.local_settings[IWS] == 1000

    def test_unsolicited_ack_changes_nothing(self, server: Engine, factory: FrameFactory) -> None:
        before = dict(server.local_settings)
        assert server.receive_data(factory.settings(ack=True)) == []
        assert server.local_settings == before
        assert server.data_to_send() == b""

    def test_refused_stream_is_reported_to_nobody_but_the_peer(
        self, factory: FrameFactory
    ) -> None:
        """T8 through S11: the refused request never surfaces as an event."""
        server = make_server(factory, max_concurrent_streams=1)
        open_request(server, factory, 1)
        events = server.receive_data(factory.headers(3, CLIENT_REQUEST))
        assert not any(isinstance(e, (RequestReceived, StreamReset)) for e in events)


class TestSettingsTimeout:
    def test_unacked_settings_times_out_with_settings_timeout(self) -> None:
        """S12: SETTINGS unacknowledged past the timeout -> GOAWAY(SETTINGS_TIMEOUT)."""
        now = [0.0]
        config = EngineConfig(client_side=False, clock=lambda: now[0], settings_timeout=10.0)
        server = Engine(config)
        server.initiate_connection()
        server.data_to_send()
        now[0] = 9.5
        server.check_timeouts()  # not yet overdue: nothing happens
        assert server.data_to_send() == b""
        now[0] = 11.0
        with pytest.raises(SettingsTimeoutError) as info:
            server.check_timeouts()
        assert info.value.error_code == ErrorCodes.SETTINGS_TIMEOUT
        [goaway] = parse_frames(server.data_to_send())
        assert goaway.error_code == ErrorCodes.SETTINGS_TIMEOUT

    def test_acknowledged_settings_never_time_out(self, factory: FrameFactory) -> None:
        now = [0.0]
        server = Engine(EngineConfig(client_side=False, clock=lambda: now[0]))
        server.initiate_connection()
        server.data_to_send()
        server.receive_data(factory.preface() + factory.settings() + factory.settings(ack=True))
        now[0] = 1000.0
        server.check_timeouts()
        assert server.error is None

    def test_without_a_clock_there_is_no_timeout(self) -> None:
        server = Engine(EngineConfig(client_side=False))
        server.initiate_connection()
        server.check_timeouts()
        assert server.error is None
