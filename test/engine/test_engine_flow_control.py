"""
Engine: flow control (RFC 9113 5.2, 6.9), checklist W1-W8, D4 and A1.

Receive side: the connection window is given back as data arrives, a stream's
only as the application acknowledges consumed bytes, both in batches chosen
by the window manager. Send side: never beyond either of the peer's windows
nor its MAX_FRAME_SIZE.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hyperframe.frame import DataFrame, Frame, RstStreamFrame, WindowUpdateFrame
from support.frames import (
    CLIENT_REQUEST,
    POST_REQUEST,
    RESPONSE_200,
    FrameFactory,
    assert_connection_error,
    drained,
    expect_stream_error,
    make_client,
    make_server,
    parse_frames,
)

from hyper.http20.config import MAX_WINDOW, EngineConfig
from hyper.http20.engine import Engine, StreamState, data_layout
from hyper.http20.errors import ErrorCodes
from hyper.http20.events import (
    DataReceived,
    RemoteSettingsChanged,
    SettingsAcknowledged,
    StreamReset,
    WindowUpdated,
)
from hyper.http20.exceptions import (
    ConnectionError as HyperConnectionError,
)
from hyper.http20.exceptions import (
    FlowControlError,
    LocalProtocolError,
    ProtocolError,
    StreamStateError,
)
from hyper.http20.window import BaseFlowControlManager, FlowControlManager

FLOW_CONTROL_ERROR = ErrorCodes.FLOW_CONTROL_ERROR
PROTOCOL_ERROR = ErrorCodes.PROTOCOL_ERROR
INITIAL_WINDOW_SIZE = 0x4
MAX_FRAME_SIZE = 0x5


def updates(frames: list[Frame]) -> list[tuple[int, int]]:
    """(stream id, increment) of every WINDOW_UPDATE."""
    return [(f.stream_id, f.window_increment) for f in frames if isinstance(f, WindowUpdateFrame)]


def data_sizes(frames: list[Frame]) -> list[int]:
    return [len(f.data) for f in frames if isinstance(f, DataFrame)]


def data_frames(factory: FrameFactory, stream_id: int, size: int) -> bytes:
    """``size`` body bytes on ``stream_id`` in DATA frames of at most 16 KiB."""
    chunks = [min(16384, size - offset) for offset in range(0, size, 16384)]
    return b"".join(factory.data(stream_id, b"d" * n) for n in chunks)


def server_with_request(factory: FrameFactory, stream_id: int = 1, **kw: Any) -> Engine:
    server = make_server(factory, **kw)
    server.receive_data(factory.headers(stream_id, POST_REQUEST))
    drained(server)
    return server


def sending_client(factory: FrameFactory, settings: dict[int, int] | None = None) -> Engine:
    """A client that opened stream 1 (no END_STREAM) after the server's ``settings``."""
    client = make_client(factory)
    if settings:
        client.receive_data(factory.settings(settings))
    client.send_headers(1, POST_REQUEST)
    drained(client)
    return client


class ExactManager(BaseFlowControlManager):
    """Gives back every byte at once and records what it was told; ``instances``
    lists every manager made, in order (a test clears it first)."""

    instances: ClassVar[list[ExactManager]] = []
    calls: list[int]

    def __init__(self, initial_window_size: int, document_size: int | None = None) -> None:
        super().__init__(initial_window_size, document_size)
        self.calls = []
        ExactManager.instances.append(self)

    def increase_window_size(self, frame_size: int) -> int:
        self.calls.append(frame_size)
        return frame_size

    def blocked(self) -> int:
        return 0


class NeverManager(BaseFlowControlManager):
    """Never gives any window back."""

    def increase_window_size(self, frame_size: int) -> int:
        return 0

    def blocked(self) -> int:
        return 0


# -- W1, W2: WINDOW_UPDATE validity -------------------------------------------------


class TestWindowUpdateFrames:
    @pytest.mark.parametrize("side", ["client", "server"])
    def test_zero_increment_on_stream_is_stream_protocol_error(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = sending_client(factory) if side == "client" else server_with_request(factory)
        expect_stream_error(engine, factory.window_update(1, 0), 1, PROTOCOL_ERROR)

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_zero_increment_on_connection_is_connection_protocol_error(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = make_client(factory) if side == "client" else make_server(factory)
        assert_connection_error(engine, factory.window_update(0, 0), ProtocolError, PROTOCOL_ERROR)

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_connection_window_above_2_31_is_flow_control_error(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = make_client(factory) if side == "client" else make_server(factory)
        # The connection window starts at 65535 whatever the settings say.
        events = engine.receive_data(factory.window_update(0, MAX_WINDOW - 65535))
        assert events == [WindowUpdated(0, MAX_WINDOW - 65535)]
        assert_connection_error(
            engine, factory.window_update(0, 1), FlowControlError, FLOW_CONTROL_ERROR
        )

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_stream_window_above_2_31_is_stream_flow_control_error(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = sending_client(factory) if side == "client" else server_with_request(factory)
        expect_stream_error(engine, factory.window_update(1, MAX_WINDOW), 1, FLOW_CONTROL_ERROR)
        # The connection is fine.
        assert engine.receive_data(factory.window_update(0, 1)) == [WindowUpdated(0, 1)]

    def test_window_updates_are_reported_and_open_the_window(self, factory: FrameFactory) -> None:
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 10})
        assert client.local_flow_control_window(1) == 10
        events = client.receive_data(factory.window_update(1, 5) + factory.window_update(0, 7))
        assert events == [WindowUpdated(1, 5), WindowUpdated(0, 7)]
        assert client.local_flow_control_window(1) == 15


# -- W3, W4, W5, S10: SETTINGS_INITIAL_WINDOW_SIZE -------------------------------------


class TestInitialWindowSize:
    def test_change_moves_open_stream_windows_by_the_delta(self, factory: FrameFactory) -> None:
        """W3: 65535 -> 100 with 40 already sent leaves 60."""
        client = sending_client(factory)
        assert client.send_data(1, b"x" * 40) == 40
        client.receive_data(factory.settings({INITIAL_WINDOW_SIZE: 100}))
        assert client.local_flow_control_window(1) == 60

    def test_change_does_not_touch_the_connection_window(self, factory: FrameFactory) -> None:
        client = sending_client(factory)
        client.receive_data(factory.settings({INITIAL_WINDOW_SIZE: 1_000_000}))
        drained(client)
        assert client.send_data(1, b"x" * 100_000) == 65535
        assert data_sizes(drained(client)) == [16384, 16384, 16384, 16383]

    def test_negative_window_blocks_sending_until_positive(self, factory: FrameFactory) -> None:
        """W3: 100 sent, window cut to 50: -50 needs 51 credit before a byte goes."""
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 100})
        assert client.send_data(1, b"a" * 100) == 100
        drained(client)
        client.receive_data(factory.settings({INITIAL_WINDOW_SIZE: 50}))
        drained(client)
        assert client.local_flow_control_window(1) == 0
        assert client.send_data(1, b"b" * 10) == 0
        client.receive_data(factory.window_update(1, 50))
        assert client.send_data(1, b"b" * 10) == 0
        assert client.data_to_send() == b""
        client.receive_data(factory.window_update(1, 3))
        assert client.send_data(1, b"b" * 10) == 3
        assert data_sizes(drained(client)) == [3]

    def test_zero_length_end_stream_goes_out_at_negative_window(
        self, factory: FrameFactory
    ) -> None:
        """W5: an empty DATA with END_STREAM needs no window."""
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 10})
        client.send_data(1, b"x" * 10)
        client.receive_data(factory.settings({INITIAL_WINDOW_SIZE: 0}))
        drained(client)
        assert client.send_data(1, b"", end_stream=True) == 0
        frames = drained(client)
        assert [(len(f.data), "END_STREAM" in f.flags) for f in frames] == [(0, True)]
        assert client.stream_state(1) == StreamState.HALF_CLOSED_LOCAL

    def test_end_stream_waits_until_all_data_is_taken(self, factory: FrameFactory) -> None:
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 4})
        assert client.send_data(1, b"abcdef", end_stream=True) == 4
        frames = drained(client)
        assert [(f.data, "END_STREAM" in f.flags) for f in frames] == [(b"abcd", False)]
        assert client.stream_state(1) == StreamState.OPEN
        client.receive_data(factory.window_update(1, 10))
        assert client.send_data(1, b"ef", end_stream=True) == 2
        frames = drained(client)
        assert [(f.data, "END_STREAM" in f.flags) for f in frames] == [(b"ef", True)]

    def test_window_of_one_sends_one_byte_frames_as_credit_arrives(
        self, factory: FrameFactory
    ) -> None:
        """W5 (h2spec 6.9.1/1)."""
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 1})
        body = b"0123456789"
        sent = client.send_data(1, body)
        assert sent == 1
        for _ in range(9):
            assert client.send_data(1, body[sent:]) == 0  # no credit: nothing queued
            client.receive_data(factory.window_update(1, 1))
            sent += client.send_data(1, body[sent:])
        frames = drained(client)
        assert data_sizes(frames) == [1] * 10
        assert b"".join(f.data for f in frames) == body

    def test_overflowing_a_stream_window_is_connection_flow_control_error(
        self, factory: FrameFactory
    ) -> None:
        """W4."""
        client = sending_client(factory)
        client.receive_data(factory.window_update(1, MAX_WINDOW - 65535))
        drained(client)
        assert_connection_error(
            client,
            factory.settings({INITIAL_WINDOW_SIZE: 65536}),
            FlowControlError,
            FLOW_CONTROL_ERROR,
        )

    def test_initial_window_size_2_31_is_flow_control_error(self, factory: FrameFactory) -> None:
        """S6."""
        client = make_client(factory)
        assert_connection_error(
            client,
            factory.raw_settings([(INITIAL_WINDOW_SIZE, 2**31)]),
            FlowControlError,
            FLOW_CONTROL_ERROR,
        )

    def test_two_values_in_one_frame_are_applied_in_order(self, factory: FrameFactory) -> None:
        """S10 (h2spec 6.5.3/1): the last value wins and the delta is taken stepwise."""
        client = sending_client(factory)
        events = client.receive_data(
            factory.raw_settings([(INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1)])
        )
        assert events == [RemoteSettingsChanged({INITIAL_WINDOW_SIZE: 1})]
        assert client.local_flow_control_window(1) == 1
        assert client.send_data(1, b"xyz") == 1

    def test_new_streams_start_with_the_new_value(self, factory: FrameFactory) -> None:
        client = make_client(factory)
        client.receive_data(factory.settings({INITIAL_WINDOW_SIZE: 7}))
        client.send_headers(1, POST_REQUEST)
        assert client.local_flow_control_window(1) == 7


# -- W6-W8, D4: receive windows ------------------------------------------------------------


class TestReceiveWindows:
    def test_data_beyond_stream_window_is_stream_flow_control_error(
        self, factory: FrameFactory
    ) -> None:
        """W6: the stream dies, the bytes still count for the connection: its manager
        hears of them (and, giving back every byte, returns them at once)."""
        ExactManager.instances.clear()
        server = server_with_request(factory, initial_window_size=100, window_manager=ExactManager)
        events = server.receive_data(factory.data(1, b"x" * 101))
        assert [e for e in events if isinstance(e, StreamReset)] == [
            StreamReset(1, FLOW_CONTROL_ERROR, False)
        ]
        frames = drained(server)
        rsts = [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)]
        assert rsts == [(1, FLOW_CONTROL_ERROR)]
        assert updates(frames) == [(0, 101)]
        connection_manager = ExactManager.instances[0]
        assert connection_manager.calls == [101]

    def test_padding_counts_against_the_stream_window(self, factory: FrameFactory) -> None:
        """D4: 50 bytes + 60 padding + the pad-length byte = 111 > 100."""
        server = server_with_request(factory, initial_window_size=100)
        expect_stream_error(
            server, factory.data(1, b"x" * 50, pad_length=60), 1, FLOW_CONTROL_ERROR
        )

    def test_data_exactly_filling_the_stream_window_is_accepted(
        self, factory: FrameFactory
    ) -> None:
        server = server_with_request(factory, initial_window_size=100)
        events = server.receive_data(factory.data(1, b"x" * 40, pad_length=59))
        assert events == [DataReceived(1, b"x" * 40, 100, False)]

    def test_data_beyond_connection_window_is_connection_flow_control_error(
        self, factory: FrameFactory
    ) -> None:
        """W6: with nothing given back, the 65536th byte breaks the connection window."""
        server = make_server(factory, window_manager=NeverManager, connection_window_size=65535)
        wire = b""
        for sid in (1, 3, 5, 7):
            wire += factory.headers(sid, POST_REQUEST) + factory.data(sid, b"x" * 16383)
        events = server.receive_data(wire + factory.headers(9, POST_REQUEST))
        assert len([e for e in events if isinstance(e, DataReceived)]) == 4
        assert drained(server) == []
        server.receive_data(factory.data(9, b"x" * 3))  # 65535 exactly
        assert_connection_error(
            server, factory.data(9, b"x"), FlowControlError, FLOW_CONTROL_ERROR
        )

    def test_shrunk_window_is_not_enforced_before_the_ack(self, factory: FrameFactory) -> None:
        """W7: data sent against the old window is fine until the peer ACKs."""
        server = server_with_request(factory, initial_window_size=65535)
        server.update_settings({INITIAL_WINDOW_SIZE: 100})
        drained(server)
        events = server.receive_data(factory.data(1, b"x" * 1000))
        assert events == [DataReceived(1, b"x" * 1000, 1000, False)]
        assert drained(server) == []
        events = server.receive_data(factory.settings(ack=True))
        assert events == [SettingsAcknowledged({INITIAL_WINDOW_SIZE: 100})]
        # Now the window is 100 - 1000: any more data overflows it.
        expect_stream_error(server, factory.data(1, b"y"), 1, FLOW_CONTROL_ERROR)

    def test_stream_window_reopens_only_when_the_application_consumes(
        self, factory: FrameFactory
    ) -> None:
        """W8: unread data keeps the stream closed; acknowledging reopens it."""
        server = server_with_request(
            factory, initial_window_size=65535, connection_window_size=65535
        )
        for _ in range(4):
            server.receive_data(factory.data(1, b"x" * 16000))
        frames = drained(server)
        assert updates(frames) == [(0, 48000)]  # the connection's comes back at once
        server.acknowledge_received_data(1, 64000)
        assert updates(drained(server)) == [(1, 64000)]

    def test_acknowledging_after_the_stream_ended_sends_nothing(
        self, factory: FrameFactory
    ) -> None:
        server = server_with_request(factory, initial_window_size=65535)
        for _ in range(3):
            server.receive_data(factory.data(1, b"x" * 16000))
        server.receive_data(factory.data(1, b"", end_stream=True))
        drained(server)
        server.acknowledge_received_data(1, 48000)
        assert drained(server) == []

    def test_acknowledging_a_negative_size_raises(self, factory: FrameFactory) -> None:
        server = server_with_request(factory)
        with pytest.raises(ValueError):
            server.acknowledge_received_data(1, -1)


# -- window managers -------------------------------------------------------------------------


class TestWindowManagers:
    def test_stream_update_waits_for_acknowledgement_connection_update_does_not(
        self, factory: FrameFactory
    ) -> None:
        server = server_with_request(
            factory, window_manager=ExactManager, connection_window_size=65535
        )
        server.receive_data(factory.data(1, b"x" * 300))
        assert updates(drained(server)) == [(0, 300)]
        server.acknowledge_received_data(1, 120)
        assert updates(drained(server)) == [(1, 120)]
        server.acknowledge_received_data(1, 180)
        assert updates(drained(server)) == [(1, 180)]

    def test_default_manager_batches_updates(self, factory: FrameFactory) -> None:
        """1000 small DATA frames, each acknowledged: a handful of updates, not 1000."""
        server = server_with_request(
            factory, initial_window_size=65535, connection_window_size=65535
        )
        frame = factory.data(1, b"x" * 100)
        conn, stream = [], []
        for _ in range(1000):
            server.receive_data(frame)
            server.acknowledge_received_data(1, 100)
            got = updates(drained(server))
            conn += [inc for sid, inc in got if sid == 0]
            stream += [inc for sid, inc in got if sid == 1]
        assert 1 <= len(conn) <= 5 and 1 <= len(stream) <= 5
        # Credit returned never exceeds what was used, and keeps the peer going.
        assert 100_000 - 65535 <= sum(conn) <= 100_000
        assert 100_000 - 65535 <= sum(stream) <= 100_000

    def test_custom_manager_class_decides_the_increments(self, factory: FrameFactory) -> None:
        class HalfBack(BaseFlowControlManager):
            def increase_window_size(self, frame_size: int) -> int:
                return frame_size // 2

            def blocked(self) -> int:
                return 0

        server = server_with_request(factory, window_manager=HalfBack)
        server.receive_data(factory.data(1, b"x" * 1000))
        assert updates(drained(server)) == [(0, 500)]
        server.acknowledge_received_data(1, 1000)
        assert updates(drained(server)) == [(1, 500)]

    def test_custom_manager_sees_consumed_sizes(self, factory: FrameFactory) -> None:
        ExactManager.instances.clear()
        server = server_with_request(factory, window_manager=ExactManager)
        server.receive_data(factory.data(1, b"x" * 10) + factory.data(1, b"y" * 20))
        server.acknowledge_received_data(1, 30)
        # One manager for the connection (made first), told of bytes as they arrive;
        # one for the stream, told of them as the application consumes them.
        connection_manager, stream_manager = ExactManager.instances[-2:]
        assert connection_manager.calls == [10, 20]
        assert stream_manager.calls == [30]

    def test_window_manager_must_be_a_subclass(self) -> None:
        with pytest.raises(TypeError):
            EngineConfig(window_manager=dict)  # type: ignore[arg-type]

    def test_padding_is_given_back_without_acknowledgement(self, factory: FrameFactory) -> None:
        server = server_with_request(factory, window_manager=ExactManager)
        events = server.receive_data(factory.data(1, b"abc", pad_length=20))
        assert events == [DataReceived(1, b"abc", 24, False)]
        frames = drained(server)
        # Connection: everything; stream: the pad-length byte and the padding.
        assert sorted(updates(frames)) == [(0, 24), (1, 21)]

    def test_default_manager_gives_padding_back_in_batches(self, factory: FrameFactory) -> None:
        server = server_with_request(factory, initial_window_size=65535)
        total = 0
        for _ in range(200):
            server.receive_data(factory.data(1, b"z", pad_length=255))
            total += sum(inc for sid, inc in updates(drained(server)) if sid == 1)
        # 200 x 256 bytes of padding, never read by anyone, came back.
        assert 0 < total <= 200 * 256
        # The peer's view of the window is open, and the engine honours all of it.
        credit = 65535 - 200 * 257 + total
        assert credit > 0
        events = server.receive_data(data_frames(factory, 1, credit))
        assert sum(e.flow_controlled_length for e in events if isinstance(e, DataReceived)) == (
            credit
        )
        assert not [f for f in drained(server) if isinstance(f, RstStreamFrame)]

    def test_stream_manager_follows_our_current_initial_window(
        self, factory: FrameFactory
    ) -> None:
        """After we lower INITIAL_WINDOW_SIZE, consuming a whole small window reopens it."""
        server = make_server(factory, initial_window_size=1 << 20)
        server.update_settings({INITIAL_WINDOW_SIZE: 1000})
        drained(server)
        server.receive_data(factory.settings(ack=True))
        server.receive_data(factory.headers(1, POST_REQUEST) + factory.data(1, b"x" * 1000))
        drained(server)
        server.acknowledge_received_data(1, 1000)
        increments = [inc for sid, inc in updates(drained(server)) if sid == 1]
        assert increments and sum(increments) >= 500, "the peer would be stuck forever"

    def test_lowering_initial_window_on_a_consumed_stream_reopens_it(
        self, factory: FrameFactory
    ) -> None:
        """6.9.3: the cut may leave a negative window with nothing unread to prompt an update."""
        server = server_with_request(factory)
        for _ in range(7):
            server.receive_data(factory.data(1, b"x" * 16000))
        server.acknowledge_received_data(1, 112_000)
        assert updates(drained(server)) == []  # 1 MiB window: no update due yet
        server.update_settings({INITIAL_WINDOW_SIZE: 1000})
        drained(server)
        server.receive_data(factory.settings(ack=True))
        increments = [inc for sid, inc in updates(drained(server)) if sid == 1]
        # The peer's view: 1000 - 112000 + increments must be positive again, and the
        # engine agrees to the byte: that much more is accepted, one byte more is not.
        credit = 1000 - 112_000 + sum(increments)
        assert credit > 0
        events = server.receive_data(data_frames(factory, 1, credit))
        assert sum(e.flow_controlled_length for e in events if isinstance(e, DataReceived)) == (
            credit
        )
        assert not [f for f in drained(server) if isinstance(f, RstStreamFrame)]
        expect_stream_error(server, factory.data(1, b"x"), 1, FLOW_CONTROL_ERROR)

    def test_a_manager_needs_only_increase_window_size(self, factory: FrameFactory) -> None:
        """``blocked()`` is not in the contract: the engine never asks it, even
        when the peer has used every byte of a stream's window."""

        class Topping(BaseFlowControlManager):
            def increase_window_size(self, frame_size: int) -> int:
                future = self.window_size - frame_size
                return self.initial_window_size - future if future == 0 else 0

            def blocked(self) -> int:
                raise AssertionError("the engine asked blocked()")

        server = server_with_request(factory, window_manager=Topping, initial_window_size=1000)
        server.receive_data(factory.data(1, b"x" * 1000))  # the sender is now stalled
        assert updates(drained(server)) == []
        server.acknowledge_received_data(1, 1000)
        assert updates(drained(server)) == [(1, 1000)]

    def test_flow_control_manager_threshold(self) -> None:
        """Driven as the engine drives it (window.py's contract for subclasses)."""
        manager = FlowControlManager(65535)
        assert manager.increase_window_size(30000) == 0  # 35535 left: above half
        manager.window_size -= 30000  # the engine keeps window_size in step
        assert manager.increase_window_size(3000) == 33000  # under half: back to full


# -- send side: frame sizes, windows, A1 ---------------------------------------------------


class TestSendSide:
    def test_data_is_split_at_the_peers_max_frame_size(self, factory: FrameFactory) -> None:
        client = sending_client(factory)
        assert client.send_data(1, b"x" * 40000) == 40000
        assert data_sizes(drained(client)) == [16384, 16384, 7232]

    def test_larger_max_frame_size_from_the_peer_is_used(self, factory: FrameFactory) -> None:
        client = sending_client(factory, {MAX_FRAME_SIZE: 20000})
        client.receive_data(factory.window_update(0, 100000))
        drained(client)
        assert client.send_data(1, b"x" * 50000) == 50000
        assert data_sizes(drained(client)) == [20000, 20000, 10000]

    def test_never_beyond_the_connection_window(self, factory: FrameFactory) -> None:
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 1 << 20})
        drained(client)
        assert client.send_data(1, b"x" * 100_000) == 65535
        assert client.local_flow_control_window(1) == 0
        assert client.send_data(1, b"x" * 100) == 0
        client.receive_data(factory.window_update(0, 10))
        assert client.send_data(1, b"x" * 100) == 10
        assert sum(data_sizes(drained(client))) == 65545

    def test_never_beyond_the_stream_window(self, factory: FrameFactory) -> None:
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 1000})
        client.receive_data(factory.window_update(0, 1 << 20))
        drained(client)
        assert client.send_data(1, b"x" * 5000) == 1000
        assert data_sizes(drained(client)) == [1000]

    def test_connection_window_is_shared_between_streams(self, factory: FrameFactory) -> None:
        client = make_client(factory)
        client.send_headers(1, POST_REQUEST)
        client.send_headers(3, POST_REQUEST)
        assert client.send_data(1, b"a" * 60000) == 60000
        assert client.local_flow_control_window(3) == 5535
        assert client.send_data(3, b"b" * 10000) == 5535

    def test_mutable_buffers_are_copied(self, factory: FrameFactory) -> None:
        client = sending_client(factory)
        buf = bytearray(b"original")
        client.send_data(1, buf)
        buf[:] = b"XXXXXXXX"
        assert [f.data for f in drained(client)] == [b"original"]

    def test_frames_laid_out_in_place_match_send_data(self, factory: FrameFactory) -> None:
        """Body bytes read straight into their frames go out exactly as
        ``send_data`` would frame them, uncopied, and use the same windows."""
        payload = bytes(range(256)) * 160  # 40,960 bytes: two full frames and a part
        client = sending_client(factory)
        buf, slots = data_layout(len(payload), 16384)
        offset = 0
        for slot in slots:
            slot[:] = payload[offset : offset + len(slot)]
            offset += len(slot)
        frames = memoryview(buf)
        assert client.send_data_in_place(1, frames, len(payload), 16384)
        assert client.data_to_send() == b""  # the caller writes the buffer itself
        other = sending_client(factory)
        other.send_data(1, payload)
        assert bytes(buf) == other.data_to_send()
        assert client.local_flow_control_window(1) == 65535 - len(payload)

    def test_frames_in_place_beyond_the_window_are_refused_whole(
        self, factory: FrameFactory
    ) -> None:
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 1000})
        drained(client)
        buf, _ = data_layout(1001, 16384)
        assert not client.send_data_in_place(1, memoryview(buf), 1001, 16384)
        assert client.local_flow_control_window(1) == 1000  # nothing was taken
        assert bytes(buf[:9]) == bytes(9)  # nor written

    def test_frames_in_place_follow_the_layouts_frame_size(self, factory: FrameFactory) -> None:
        """A layout made for 16,384-byte frames stays valid when the server
        allows larger ones; one made for frames above what it now allows is
        refused (the caller sends the bytes the other way), and a buffer that
        is not the layout it claims is the caller's error."""
        client = sending_client(factory, {MAX_FRAME_SIZE: 20000})
        buf, _ = data_layout(30000, 16384)
        assert client.send_data_in_place(1, memoryview(buf), 30000, 16384)
        assert data_sizes(parse_frames(bytes(buf))) == [16384, 13616]
        client.receive_data(factory.settings({MAX_FRAME_SIZE: 16384}))
        drained(client)
        buf, _ = data_layout(30000, 20000)
        assert not client.send_data_in_place(1, memoryview(buf), 30000, 20000)
        assert client.local_flow_control_window(1) == 65535 - 30000
        with pytest.raises(LocalProtocolError):
            client.send_data_in_place(1, memoryview(buf)[:-1], 30000, 16384)

    def test_frames_in_place_may_not_overtake_queued_bytes(self, factory: FrameFactory) -> None:
        client = sending_client(factory)
        client.ping(b"12345678")
        buf, _ = data_layout(10, 16384)
        with pytest.raises(LocalProtocolError):
            client.send_data_in_place(1, memoryview(buf), 10, 16384)
        assert client.local_flow_control_window(1) == 65535

    def test_frames_in_place_on_a_closed_stream_raise(self, factory: FrameFactory) -> None:
        client = sending_client(factory)
        client.end_stream(1)
        drained(client)
        buf, _ = data_layout(10, 16384)
        with pytest.raises(StreamStateError):
            client.send_data_in_place(1, memoryview(buf), 10, 16384)

    def test_send_data_on_unknown_stream_raises(self, factory: FrameFactory) -> None:
        client = make_client(factory)
        with pytest.raises(StreamStateError):
            client.send_data(1, b"x")
        with pytest.raises(StreamStateError):
            client.local_flow_control_window(1)

    def test_send_data_after_connection_error_raises(self, factory: FrameFactory) -> None:
        client = sending_client(factory)
        with pytest.raises(ProtocolError):
            client.receive_data(factory.window_update(0, 0))
        with pytest.raises(HyperConnectionError):
            client.send_data(1, b"x")

    def test_data_dribble_stays_bounded_by_the_window(self, factory: FrameFactory) -> None:
        """A1 (CVE-2019-9511): 1-byte credits for a 1 MB body never queue more than the credit."""
        client = sending_client(factory, {INITIAL_WINDOW_SIZE: 1})
        body = memoryview(b"\xab" * (1 << 20))
        sent = client.send_data(1, body)
        assert sent == 1
        assert len(client.data_to_send()) == 9 + 1
        credit = factory.window_update(1, 1) + factory.window_update(0, 1)
        for _ in range(2000):
            assert client.send_data(1, body[sent:]) == 0
            assert client.data_to_send() == b""
            client.receive_data(credit)
            sent += client.send_data(1, body[sent:])
            out = client.data_to_send()
            assert len(out) == 9 + 1  # one 1-byte DATA frame per credit, nothing more
        assert sent == 2001

    def test_server_response_dribble(self, factory: FrameFactory) -> None:
        """A1 on the server side: the response goes out as credit arrives, 1 byte at a time."""
        server = make_server(factory)
        server.receive_data(
            factory.settings({INITIAL_WINDOW_SIZE: 1})
            + factory.headers(1, CLIENT_REQUEST, end_stream=True)
        )
        server.send_headers(1, RESPONSE_200)
        drained(server)
        body = b"r" * 100_000
        sent = server.send_data(1, body)
        for _ in range(100):
            server.receive_data(factory.window_update(1, 1))
            sent += server.send_data(1, body[sent:])
        assert sent == 101
        assert data_sizes(drained(server)) == [1] * 101
