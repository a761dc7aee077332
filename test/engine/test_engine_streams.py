"""
Engine: stream states and identifiers (RFC 9113 5.1), GOAWAY and RST_STREAM
(6.4, 6.8), 1xx and content-length (8.1), and server push (6.6, 8.4).

Checklist items T1-T11, G1-G8, M3, M8, U1-U3. Every test asserts the events
(or the exception) and the frames the engine wrote, parsed back with
hyperframe.
"""

from __future__ import annotations

from typing import Any

import pytest
from hyperframe.frame import (
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PushPromiseFrame,
    RstStreamFrame,
    WindowUpdateFrame,
)
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
from support.memory import hyper_growth_per_round

from hyper.http20.engine import Engine, StreamState
from hyper.http20.errors import ErrorCodes
from hyper.http20.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    InformationalResponseReceived,
    PushPromiseReceived,
    RequestReceived,
    ResponseReceived,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from hyper.http20.exceptions import (
    ConnectionError as HyperConnectionError,
)
from hyper.http20.exceptions import (
    LocalProtocolError,
    NoAvailableStreamIDError,
    ProtocolError,
    StreamClosedError,
    StreamStateError,
)

PROTOCOL_ERROR = ErrorCodes.PROTOCOL_ERROR
STREAM_CLOSED = ErrorCodes.STREAM_CLOSED
REFUSED_STREAM = ErrorCodes.REFUSED_STREAM

TRAILERS = [(b"x-checksum", b"abc")]


# -- local helpers -------------------------------------------------------------


def expect_connection_error(
    engine: Engine, data: bytes, code: int, last_stream_id: int | None = None
) -> GoAwayFrame:
    """``data`` must raise a ProtocolError with ``code`` and queue a matching GOAWAY."""
    with pytest.raises(ProtocolError) as info:
        engine.receive_data(data)
    assert info.value.error_code == code
    frames = drained(engine)
    assert frames and isinstance(frames[-1], GoAwayFrame), frames
    goaway = frames[-1]
    assert goaway.error_code == code
    if last_stream_id is not None:
        assert goaway.last_stream_id == last_stream_id
    # The engine is finished: later input is refused with a ConnectionError.
    with pytest.raises(HyperConnectionError):
        engine.receive_data(b"")
    return goaway


def expect_quiet(engine: Engine, data: bytes) -> list[Event]:
    """``data`` is accepted: no error, nothing but (possibly) WINDOW_UPDATEs written."""
    events = engine.receive_data(data)
    frames = drained(engine)
    assert all(isinstance(f, WindowUpdateFrame) for f in frames), frames
    assert not any(isinstance(e, StreamReset) for e in events), events
    return events


def server_with_request(factory: FrameFactory, end_stream: bool = False, **kw: Any) -> Engine:
    server = make_server(factory, **kw)
    events = server.receive_data(factory.headers(1, CLIENT_REQUEST, end_stream=end_stream))
    assert [type(e) for e in events] == [RequestReceived]
    drained(server)
    return server


def client_with_request(factory: FrameFactory, end_stream: bool = True, **kw: Any) -> Engine:
    client = make_client(factory, **kw)
    client.send_headers(1, CLIENT_REQUEST, end_stream=end_stream)
    drained(client)
    return client


# -- T1: idle streams ----------------------------------------------------------


def _idle_frames(f: FrameFactory, sid: int) -> dict[str, bytes]:
    return {
        "DATA": f.data(sid, b"x"),
        "RST_STREAM": f.rst_stream(sid, ErrorCodes.CANCEL),
        "WINDOW_UPDATE": f.window_update(sid, 100),
        "CONTINUATION": f.continuation(sid, f.encode(CLIENT_REQUEST), end_headers=True),
    }


class TestIdleStreams:
    """T1: only HEADERS (and PRIORITY) may touch an idle stream."""

    @pytest.mark.parametrize("kind", ["DATA", "RST_STREAM", "WINDOW_UPDATE", "CONTINUATION"])
    def test_frame_on_idle_stream_is_connection_protocol_error_on_server(
        self, factory: FrameFactory, kind: str
    ) -> None:
        server = make_server(factory)
        expect_connection_error(server, _idle_frames(factory, 1)[kind], PROTOCOL_ERROR, 0)

    @pytest.mark.parametrize("kind", ["DATA", "RST_STREAM", "WINDOW_UPDATE", "CONTINUATION"])
    @pytest.mark.parametrize("stream_id", [1, 2])
    def test_frame_on_idle_stream_is_connection_protocol_error_on_client(
        self, factory: FrameFactory, kind: str, stream_id: int
    ) -> None:
        client = make_client(factory)
        expect_connection_error(client, _idle_frames(factory, stream_id)[kind], PROTOCOL_ERROR, 0)

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_priority_on_idle_stream_is_accepted_without_creating_it(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = make_client(factory) if side == "client" else make_server(factory)
        assert expect_quiet(engine, factory.priority(7, depends_on=0)) == []
        assert engine.stream_state(7) == StreamState.IDLE

    def test_priority_on_idle_streams_costs_no_memory(self, factory: FrameFactory) -> None:
        """A PRIORITY flood on idle ids creates nothing (the reason 5.3 lets us ignore it)."""
        server = make_server(factory)

        def priority(i: int) -> None:
            assert server.receive_data(factory.priority(2 * i + 7, depends_on=0)) == []

        # As many as the glitch budget allows (each one is a glitch, A11).
        assert hyper_growth_per_round(priority, warm=50, rounds=300) < 20
        assert drained(server) == []

    def test_headers_on_stream_named_by_priority_still_opens_it(
        self, factory: FrameFactory
    ) -> None:
        server = make_server(factory)
        server.receive_data(factory.priority(3, depends_on=0))
        events = server.receive_data(factory.headers(3, CLIENT_REQUEST, end_stream=True))
        assert [type(e) for e in events] == [RequestReceived]


# -- T2, T3, T9, T10: identifiers -----------------------------------------------


class TestStreamIdentifiers:
    def test_server_rejects_request_on_even_stream(self, factory: FrameFactory) -> None:
        """T2: a client-initiated stream must be odd."""
        server = make_server(factory)
        expect_connection_error(server, factory.headers(2, CLIENT_REQUEST), PROTOCOL_ERROR)

    def test_client_rejects_headers_on_even_stream_never_promised(
        self, factory: FrameFactory
    ) -> None:
        client = client_with_request(factory)
        expect_connection_error(client, factory.headers(2, RESPONSE_200), PROTOCOL_ERROR)

    def test_client_rejects_headers_on_odd_stream_it_never_opened(
        self, factory: FrameFactory
    ) -> None:
        client = client_with_request(factory)
        expect_connection_error(client, factory.headers(3, RESPONSE_200), PROTOCOL_ERROR)

    def test_lower_stream_id_after_higher_is_connection_error(self, factory: FrameFactory) -> None:
        """T3: opening stream 5 implicitly closes 1 and 3; HEADERS on 3 is fatal."""
        server = make_server(factory)
        events = server.receive_data(factory.headers(5, CLIENT_REQUEST))
        assert [e.stream_id for e in events] == [5]  # type: ignore[attr-defined]
        assert server.stream_state(3) == StreamState.CLOSED
        expect_connection_error(server, factory.headers(3, CLIENT_REQUEST), PROTOCOL_ERROR, 5)

    def test_client_stream_ids_must_be_odd_and_increasing(self, factory: FrameFactory) -> None:
        """T9: misuse raises before anything is queued."""
        client = make_client(factory)
        with pytest.raises(StreamStateError):
            client.send_headers(2, CLIENT_REQUEST)
        client.send_headers(5, CLIENT_REQUEST)
        drained(client)
        for bad in (1, 3, 5):
            with pytest.raises(StreamStateError):
                client.send_headers(bad, CLIENT_REQUEST)
        assert client.data_to_send() == b""
        assert client.get_next_available_stream_id() == 7

    def test_get_next_available_stream_id_follows_the_last_used(
        self, factory: FrameFactory
    ) -> None:
        client = make_client(factory)
        ids = []
        for _ in range(3):
            sid = client.get_next_available_stream_id()
            client.send_headers(sid, CLIENT_REQUEST, end_stream=True)
            ids.append(sid)
        frames = drained(client)
        assert ids == [1, 3, 5]
        assert [f.stream_id for f in frames if isinstance(f, HeadersFrame)] == ids

    def test_server_cannot_open_streams_with_send_headers(self, factory: FrameFactory) -> None:
        server = make_server(factory)
        with pytest.raises(StreamStateError):
            server.send_headers(2, RESPONSE_200)
        assert server.data_to_send() == b""

    def test_client_at_the_last_stream_id_has_no_more(self, factory: FrameFactory) -> None:
        """T10: after 2**31-1 the client must open a new connection."""
        client = make_client(factory)
        client.send_headers(2**31 - 1, CLIENT_REQUEST, end_stream=True)
        frames = drained(client)
        assert [f.stream_id for f in frames] == [2**31 - 1]
        assert not client.can_open_stream()
        with pytest.raises(NoAvailableStreamIDError):
            client.get_next_available_stream_id()
        with pytest.raises(NoAvailableStreamIDError):
            client.send_headers(2**31 + 1, CLIENT_REQUEST)
        assert client.data_to_send() == b""

    def test_sending_on_closed_stream_raises(self, factory: FrameFactory) -> None:
        """T9: the API refuses to send on a closed stream and queues nothing."""
        client = client_with_request(factory)
        client.receive_data(factory.headers(1, RESPONSE_200, end_stream=True))
        drained(client)
        assert client.stream_state(1) == StreamState.CLOSED
        with pytest.raises(StreamStateError):
            client.send_data(1, b"late")
        with pytest.raises(StreamStateError):
            client.send_headers(1, TRAILERS, end_stream=True)
        assert client.data_to_send() == b""


# -- T11: a second header block ----------------------------------------------------


class TestSecondHeaderBlock:
    """T11: only trailers (with END_STREAM) may follow the final headers."""

    def test_second_request_headers_without_end_stream_is_stream_error(
        self, factory: FrameFactory
    ) -> None:
        server = server_with_request(factory)
        expect_stream_error(server, factory.headers(1, TRAILERS), 1, PROTOCOL_ERROR)

    def test_headers_after_final_response_without_end_stream_is_stream_error(
        self, factory: FrameFactory
    ) -> None:
        client = client_with_request(factory)
        client.receive_data(factory.headers(1, RESPONSE_200))
        expect_stream_error(client, factory.headers(1, TRAILERS), 1, PROTOCOL_ERROR)

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_trailers_with_end_stream_are_accepted(self, factory: FrameFactory, side: str) -> None:
        if side == "server":
            engine = server_with_request(factory)
        else:
            engine = client_with_request(factory)
            engine.receive_data(factory.headers(1, RESPONSE_200))
        engine.receive_data(factory.data(1, b"body"))
        events = expect_quiet(engine, factory.headers(1, TRAILERS, end_stream=True))
        assert events == [TrailersReceived(1, TRAILERS)]

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_pseudo_header_in_trailers_is_stream_error(
        self, factory: FrameFactory, side: str
    ) -> None:
        if side == "server":
            engine = server_with_request(factory)
        else:
            engine = client_with_request(factory)
            engine.receive_data(factory.headers(1, RESPONSE_200))
        expect_stream_error(
            engine, factory.headers(1, [(b":status", b"200")], end_stream=True), 1, PROTOCOL_ERROR
        )


# -- T4: half-closed (remote) ------------------------------------------------------


def _half_closed_remote(factory: FrameFactory, side: str) -> Engine:
    """An engine whose peer has ended stream 1 while we have not."""
    if side == "server":
        return server_with_request(factory, end_stream=True)
    client = client_with_request(factory, end_stream=False)
    client.receive_data(factory.headers(1, RESPONSE_200, end_stream=True))
    drained(client)
    return client


class TestHalfClosedRemote:
    @pytest.mark.parametrize("side", ["client", "server"])
    def test_data_after_end_stream_is_stream_closed(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = _half_closed_remote(factory, side)
        assert engine.stream_state(1) == StreamState.HALF_CLOSED_REMOTE
        expect_stream_error(engine, factory.data(1, b"more"), 1, STREAM_CLOSED)

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_headers_after_end_stream_is_stream_closed(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = _half_closed_remote(factory, side)
        expect_stream_error(
            engine, factory.headers(1, TRAILERS, end_stream=True), 1, STREAM_CLOSED
        )

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_window_update_and_priority_are_accepted(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = _half_closed_remote(factory, side)
        events = expect_quiet(
            engine, factory.window_update(1, 10) + factory.priority(1, depends_on=0)
        )
        assert events == [WindowUpdated(1, 10)]
        assert engine.stream_state(1) == StreamState.HALF_CLOSED_REMOTE

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_rst_stream_is_accepted_and_not_answered(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = _half_closed_remote(factory, side)
        events = engine.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL))
        assert events == [StreamReset(1, ErrorCodes.CANCEL, True)]
        assert drained(engine) == []  # D7: never RST in reply to RST
        assert engine.stream_state(1) == StreamState.CLOSED


# -- T5, T6: closed streams -------------------------------------------------------


def _open_stream(factory: FrameFactory, side: str) -> Engine:
    """Stream 1 open both ways (a request without END_STREAM, answered)."""
    if side == "server":
        server = server_with_request(factory)
        server.send_headers(1, RESPONSE_200)
        drained(server)
        return server
    client = make_client(factory)
    client.send_headers(1, CLIENT_REQUEST)
    client.receive_data(factory.headers(1, RESPONSE_200))
    drained(client)
    return client


def _fully_closed(factory: FrameFactory, side: str) -> Engine:
    """Stream 1 closed by END_STREAM both ways."""
    if side == "server":
        server = server_with_request(factory, end_stream=True)
        server.send_headers(1, RESPONSE_200, end_stream=True)
        drained(server)
        return server
    client = client_with_request(factory)
    client.receive_data(factory.headers(1, RESPONSE_200, end_stream=True))
    drained(client)
    return client


class TestClosedStreams:
    """RFC 9113 5.1 (closed): the answer to a late frame depends on how the
    stream closed, which the engine remembers for its recently closed
    streams (``max_closed_streams``)."""

    @pytest.mark.parametrize("frame", ["data", "headers"])
    def test_a_frame_after_the_peers_end_stream_is_a_connection_error(
        self, factory: FrameFactory, frame: str
    ) -> None:
        """T5: "any frames after receiving a frame with the END_STREAM flag":
        connection error STREAM_CLOSED (h2spec http2/5.1/11-12)."""
        engine = _fully_closed(factory, "server")
        assert engine.stream_state(1) == StreamState.CLOSED
        late = factory.data(1, b"late") if frame == "data" else factory.headers(1, TRAILERS)
        assert_connection_error(engine, late, StreamClosedError, STREAM_CLOSED, 1)

    def test_a_header_block_split_over_continuation_is_answered_the_same(
        self, factory: FrameFactory
    ) -> None:
        """h2spec http2/5.1/13: HEADERS then CONTINUATION on the closed stream."""
        engine = _fully_closed(factory, "server")
        block = factory.encode(TRAILERS)
        late = factory.raw_frame(0x1, 0x1, 1, block[:1]) + factory.continuation(
            1, block[1:], end_headers=True
        )
        assert_connection_error(engine, late, StreamClosedError, STREAM_CLOSED, 1)

    @pytest.mark.parametrize("frame", ["data", "headers"])
    def test_a_clients_finished_request_stream_is_not_remembered(
        self, factory: FrameFactory, frame: str
    ) -> None:
        """A client keeps no record per finished request (its memory stays
        flat): a late frame on one gets the forgotten-stream answer, a
        stream error STREAM_CLOSED."""
        engine = _fully_closed(factory, "client")
        late = factory.data(1, b"late") if frame == "data" else factory.headers(1, TRAILERS)
        expect_stream_error(engine, late, 1, STREAM_CLOSED)

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_window_update_and_rst_stream_on_closed_stream_are_ignored(
        self, factory: FrameFactory, side: str
    ) -> None:
        engine = _fully_closed(factory, side)
        data = (
            factory.window_update(1, 100)
            + factory.rst_stream(1, ErrorCodes.CANCEL)
            + factory.priority(1, depends_on=0)
        )
        assert engine.receive_data(data) == []
        assert drained(engine) == []

    @pytest.mark.parametrize("side", ["client", "server"])
    @pytest.mark.parametrize("frame", ["data", "headers", "window_update"])
    def test_a_frame_after_the_peers_rst_stream_is_a_stream_error(
        self, factory: FrameFactory, side: str, frame: str
    ) -> None:
        """ "any frame other than PRIORITY after receiving a RST_STREAM": stream
        error STREAM_CLOSED (h2spec http2/5.1/8-10 from the client's side)."""
        engine = _open_stream(factory, side)
        events = engine.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL))
        assert events == [StreamReset(1, ErrorCodes.CANCEL, True)]
        late = {
            "data": factory.data(1, b"late"),
            "headers": factory.headers(1, TRAILERS, end_stream=True),
            "window_update": factory.window_update(1, 100),
        }[frame]
        expect_stream_error(engine, late, 1, STREAM_CLOSED)
        # Our RST answered it: what follows is ignored, as after any RST of ours.
        assert engine.receive_data(factory.data(1, b"later")) == []
        assert not any(isinstance(f, RstStreamFrame) for f in drained(engine))

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_priority_and_rst_stream_after_the_peers_rst_stream_are_ignored(
        self, factory: FrameFactory, side: str
    ) -> None:
        """PRIORITY is allowed; a reset is never answered with a reset (5.4.2)."""
        engine = _open_stream(factory, side)
        engine.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL))
        late = factory.priority(1, depends_on=0) + factory.rst_stream(1, ErrorCodes.CANCEL)
        assert engine.receive_data(late) == []
        assert drained(engine) == []

    def test_past_the_record_a_stream_is_answered_as_forgotten(
        self, factory: FrameFactory
    ) -> None:
        """With ``max_closed_streams`` closed streams newer than it, a stream
        is forgotten: DATA on it is a stream error STREAM_CLOSED, and HEADERS
        on a server a connection error PROTOCOL_ERROR (a lower id than one
        opened since: 5.1.1), whatever way it had closed."""
        server = make_server(factory, max_closed_streams=1)
        for sid in (1, 3):
            server.receive_data(factory.headers(sid, CLIENT_REQUEST, end_stream=True))
            server.send_headers(sid, RESPONSE_200, end_stream=True)
        drained(server)
        expect_stream_error(server, factory.data(1, b"late"), 1, STREAM_CLOSED)
        server.receive_data(factory.headers(5, CLIENT_REQUEST, end_stream=True))
        server.send_headers(5, RESPONSE_200, end_stream=True)
        drained(server)  # stream 1's RST record is now the oldest, and gone
        assert_connection_error(
            server, factory.headers(3, TRAILERS, end_stream=True), ProtocolError, PROTOCOL_ERROR
        )

    def test_data_on_stream_we_reset_is_ignored_but_counts_for_the_connection(
        self, factory: FrameFactory
    ) -> None:
        """T6, D4: late DATA after our RST is dropped, yet the connection window moves."""
        server = server_with_request(factory, connection_window_size=65535)
        server.reset_stream(1, ErrorCodes.CANCEL)
        assert [(f.stream_id, f.error_code) for f in drained(server)] == [(1, ErrorCodes.CANCEL)]
        events = server.receive_data(factory.data(1, b"x" * 16000, pad_length=100) * 3)
        assert events == []
        frames = drained(server)
        # 3 x 16101 flow-controlled bytes drain the 65535 window below half.
        assert [(type(f), f.stream_id, f.window_increment) for f in frames] == [
            (WindowUpdateFrame, 0, 3 * 16101)
        ]

    def test_headers_on_stream_we_reset_are_decoded_to_keep_hpack_in_sync(
        self, factory: FrameFactory
    ) -> None:
        """T6, C5: a block on a reset stream updates the dynamic table we share."""
        server = server_with_request(factory)
        server.reset_stream(1)
        drained(server)
        added = [(b"x-only-in-this-block", b"v" * 30)]
        assert server.receive_data(factory.headers(1, added, end_stream=True)) == []
        assert drained(server) == []
        # The factory's encoder now refers to that field by its dynamic index.
        block = factory.encode(CLIENT_REQUEST + added)
        assert len(block) < 20
        events = server.receive_data(factory.headers_block(3, block, end_stream=True))
        assert events == [RequestReceived(3, CLIENT_REQUEST + added, True)]

    def test_reset_stream_twice_is_a_no_op(self, factory: FrameFactory) -> None:
        server = server_with_request(factory)
        server.reset_stream(1)
        server.reset_stream(1)
        assert [type(f) for f in drained(server)] == [RstStreamFrame]

    def test_reset_unknown_stream_raises(self, factory: FrameFactory) -> None:
        server = make_server(factory)
        with pytest.raises(StreamStateError):
            server.reset_stream(9)
        assert server.data_to_send() == b""

    def test_closed_streams_release_their_memory(self, factory: FrameFactory) -> None:
        """Nothing is kept per closed stream beyond the bounded memory of closed ids."""
        server = make_server(factory, max_closed_streams=20)

        def one_stream(i: int) -> None:
            sid = 2 * i + 1
            server.receive_data(factory.headers(sid, CLIENT_REQUEST, end_stream=True))
            server.send_headers(sid, RESPONSE_200, end_stream=True)
            drained(server)

        assert hyper_growth_per_round(one_stream, warm=100, rounds=1000) < 50
        assert server.open_inbound_streams == 0


# -- T7: PRIORITY -------------------------------------------------------------------


class TestPriority:
    @pytest.mark.parametrize("state", ["idle", "open", "closed"])
    def test_priority_is_accepted_in_any_state(self, factory: FrameFactory, state: str) -> None:
        server = make_server(factory)
        if state != "idle":
            server.receive_data(factory.headers(1, CLIENT_REQUEST, end_stream=True))
        if state == "closed":
            server.send_headers(1, RESPONSE_200, end_stream=True)
        drained(server)
        assert expect_quiet(server, factory.priority(1, depends_on=0, weight=256)) == []

    def test_priority_frame_depending_on_itself_is_stream_error(
        self, factory: FrameFactory
    ) -> None:
        server = server_with_request(factory)
        expect_stream_error(server, factory.priority(1, depends_on=1), 1, PROTOCOL_ERROR)

    def test_headers_depending_on_itself_is_stream_error_and_request_never_seen(
        self, factory: FrameFactory
    ) -> None:
        server = make_server(factory)
        frame = factory.headers(1, CLIENT_REQUEST, priority=(1, 16, False))
        events = expect_stream_error(server, frame, 1, PROTOCOL_ERROR)
        assert not any(isinstance(e, RequestReceived) for e in events)
        # The block was decoded: the next request still decodes.
        events = server.receive_data(factory.headers(3, CLIENT_REQUEST))
        assert events == [RequestReceived(3, CLIENT_REQUEST, False)]


# -- G1-G8: GOAWAY and RST_STREAM -------------------------------------------------


class TestGoawayReceived:
    def test_streams_above_last_stream_id_are_refused_and_below_keep_running(
        self, factory: FrameFactory
    ) -> None:
        """G1: streams above last-stream-id fail as retryable; the others finish."""
        client = make_client(factory)
        for sid in (1, 3, 5):
            client.send_headers(sid, CLIENT_REQUEST, end_stream=True)
        drained(client)
        events = client.receive_data(factory.goaway(1, ErrorCodes.NO_ERROR, b"bye"))
        assert events == [
            ConnectionTerminated(ErrorCodes.NO_ERROR, 1, b"bye"),
            StreamReset(3, REFUSED_STREAM, True),
            StreamReset(5, REFUSED_STREAM, True),
        ]
        assert drained(client) == []
        assert client.goaway_received == 1
        assert not client.can_open_stream()
        with pytest.raises(HyperConnectionError):
            client.send_headers(7, CLIENT_REQUEST)
        events = client.receive_data(
            factory.headers(1, RESPONSE_200) + factory.data(1, b"ok", end_stream=True)
        )
        assert events == [
            ResponseReceived(1, RESPONSE_200, False),
            DataReceived(1, b"ok", 2, True),
        ]
        assert client.stream_state(1) == StreamState.CLOSED
        assert client.open_outbound_streams == 0

    def test_later_goaway_never_raises_last_stream_id(self, factory: FrameFactory) -> None:
        """G2: the smallest last-stream-id seen stays in force."""
        client = make_client(factory)
        for sid in (1, 3):
            client.send_headers(sid, CLIENT_REQUEST, end_stream=True)
        events = client.receive_data(factory.goaway(3, ErrorCodes.NO_ERROR))
        assert events == [ConnectionTerminated(ErrorCodes.NO_ERROR, 3, b"")]
        events = client.receive_data(factory.goaway(1, ErrorCodes.NO_ERROR))
        assert events == [
            ConnectionTerminated(ErrorCodes.NO_ERROR, 1, b""),
            StreamReset(3, REFUSED_STREAM, True),
        ]
        events = client.receive_data(factory.goaway(2**31 - 1, ErrorCodes.NO_ERROR))
        assert events == [ConnectionTerminated(ErrorCodes.NO_ERROR, 1, b"")]
        assert client.goaway_received == 1

    def test_server_receiving_goaway_refuses_its_pushed_streams(
        self, factory: FrameFactory
    ) -> None:
        server = make_server(factory)
        server.receive_data(factory.settings({0x2: 1}) + factory.headers(1, CLIENT_REQUEST))
        server.push_stream(1, 2, CLIENT_REQUEST)
        drained(server)
        events = server.receive_data(factory.goaway(1, ErrorCodes.NO_ERROR))
        assert events == [
            ConnectionTerminated(ErrorCodes.NO_ERROR, 1, b""),
            StreamReset(2, REFUSED_STREAM, True),
        ]
        assert server.stream_state(1) == StreamState.OPEN

    def test_goaway_with_unknown_error_code_keeps_the_raw_code(
        self, factory: FrameFactory
    ) -> None:
        """D6: unknown codes carry no special meaning."""
        client = make_client(factory)
        events = client.receive_data(factory.goaway(0, 0xDEAD))
        assert events == [ConnectionTerminated(0xDEAD, 0, b"")]
        assert drained(client) == []


class TestGoawaySent:
    def test_last_stream_id_we_send_never_goes_up(self, factory: FrameFactory) -> None:
        """G2: a later close() cannot announce a higher last-stream-id."""
        server = make_server(factory)
        for sid in (1, 3, 5):
            server.receive_data(factory.headers(sid, CLIENT_REQUEST))
        drained(server)
        server.close(last_stream_id=3)
        server.close(last_stream_id=5)
        server.close()
        frames = drained(server)
        assert [(type(f), f.last_stream_id) for f in frames] == [(GoAwayFrame, 3)] * 3

    def test_streams_above_an_explicit_last_stream_id_are_dropped(
        self, factory: FrameFactory
    ) -> None:
        """6.8: announcing last-stream-id 1 says 3 and 5 were never processed."""
        server = make_server(factory)
        for sid in (1, 3, 5):
            server.receive_data(factory.headers(sid, POST_REQUEST))
        server.close(last_stream_id=1)
        assert [f.last_stream_id for f in drained(server)] == [1]
        assert server.open_inbound_streams == 1
        assert server.stream_state(3) == server.stream_state(5) == StreamState.CLOSED
        with pytest.raises(StreamStateError):
            server.send_headers(3, RESPONSE_200)
        # The client's frames on them are ignored, and stream 1 carries on.
        events = server.receive_data(
            factory.data(3, b"x", end_stream=True)
            + factory.headers(5, TRAILERS, end_stream=True)
            + factory.data(1, b"y", end_stream=True)
        )
        assert events == [DataReceived(1, b"y", 1, True)]
        assert [type(f) for f in drained(server)] == []
        server.send_headers(1, RESPONSE_200, end_stream=True)
        assert server.stream_state(1) == StreamState.CLOSED and server.open_inbound_streams == 0

    def test_graceful_shutdown_keeps_streams_below_and_ignores_those_above(
        self, factory: FrameFactory
    ) -> None:
        """G3, G5: GOAWAY(2**31-1), then GOAWAY(last real id); later streams decoded, dropped."""
        server = make_server(factory, connection_window_size=65535)
        server.receive_data(factory.headers(1, CLIENT_REQUEST))
        server.close(last_stream_id=2**31 - 1)
        # A request already in flight is still accepted.
        events = server.receive_data(factory.headers(3, CLIENT_REQUEST))
        assert events == [RequestReceived(3, CLIENT_REQUEST, False)]
        server.close()
        frames = drained(server)
        assert [(f.last_stream_id, f.error_code) for f in frames] == [
            (2**31 - 1, ErrorCodes.NO_ERROR),
            (3, ErrorCodes.NO_ERROR),
        ]
        added = [(b"x-after-goaway", b"y" * 20)]
        events = server.receive_data(
            factory.headers(5, CLIENT_REQUEST + added)
            + factory.data(5, b"z" * 16000) * 2
            + factory.data(5, b"z" * 8000)
        )
        assert events == []
        frames = drained(server)
        assert [(type(f), f.stream_id) for f in frames] == [(WindowUpdateFrame, 0)]
        assert frames[0].window_increment == 40000
        # Streams 1 and 3 still run, and HPACK followed the ignored block.
        block = factory.encode(added)
        events = server.receive_data(
            factory.data(1, b"body", end_stream=True)
            + factory.headers_block(3, block, end_stream=True)
        )
        assert events == [DataReceived(1, b"body", 4, True), TrailersReceived(3, added)]

    def test_connection_error_goaway_names_last_processed_stream(
        self, factory: FrameFactory
    ) -> None:
        """G4: GOAWAY carries the code and the highest stream id the peer opened."""
        server = make_server(factory)
        server.receive_data(
            factory.headers(1, CLIENT_REQUEST) + factory.headers(7, CLIENT_REQUEST)
        )
        drained(server)
        bad_ping = factory.raw_frame(0x6, 0, 1, b"\x00" * 8)
        expect_connection_error(server, bad_ping, PROTOCOL_ERROR, last_stream_id=7)
        with pytest.raises(HyperConnectionError):
            server.send_headers(1, RESPONSE_200)

    def test_no_new_stream_after_we_sent_goaway(self, factory: FrameFactory) -> None:
        client = make_client(factory)
        client.close()
        drained(client)
        assert not client.can_open_stream()
        with pytest.raises(HyperConnectionError):
            client.send_headers(1, CLIENT_REQUEST)
        assert client.data_to_send() == b""


class TestEventsBeforeConnectionError:
    def test_fatal_frame_after_a_complete_response_fails_the_whole_read(
        self, factory: FrameFactory
    ) -> None:
        """
        G4, by design: a connection error raises at once, even after frames
        that completed a response in the same read. GOAWAY is queued and every
        later call raises the same class, so no waiter is left hanging.
        """
        client = client_with_request(factory)
        wire = factory.headers(1, RESPONSE_200) + factory.data(1, b"all of it", end_stream=True)
        wire += factory.raw_frame(0x6, 0, 1, b"\x00" * 8)  # PING on a stream: fatal
        with pytest.raises(ProtocolError):
            client.receive_data(wire)
        assert client.error is not None
        assert isinstance(drained(client)[-1], GoAwayFrame)
        with pytest.raises(ProtocolError):
            client.receive_data(b"")


class TestRstStream:
    def test_refused_stream_reports_a_retryable_reset(self, factory: FrameFactory) -> None:
        """G7: REFUSED_STREAM reaches the caller as such; no reply is sent."""
        client = client_with_request(factory)
        events = client.receive_data(factory.rst_stream(1, REFUSED_STREAM))
        assert events == [StreamReset(1, REFUSED_STREAM, True)]
        assert drained(client) == []
        assert client.stream_state(1) == StreamState.CLOSED
        assert client.open_outbound_streams == 0

    def test_no_error_reset_after_complete_response_keeps_the_response(
        self, factory: FrameFactory
    ) -> None:
        """G8: the server may stop our upload once it answered in full."""
        client = client_with_request(factory, end_stream=False)
        events = client.receive_data(
            factory.headers(1, RESPONSE_200)
            + factory.data(1, b"done", end_stream=True)
            + factory.rst_stream(1, ErrorCodes.NO_ERROR)
        )
        assert events == [
            ResponseReceived(1, RESPONSE_200, False),
            DataReceived(1, b"done", 4, True),
            StreamReset(1, ErrorCodes.NO_ERROR, True),
        ]
        assert drained(client) == []
        with pytest.raises(StreamStateError):
            client.send_data(1, b"more upload")

    def test_rst_stream_with_unknown_code_is_reported_raw(self, factory: FrameFactory) -> None:
        server = server_with_request(factory)
        assert server.receive_data(factory.rst_stream(1, 0xBEEF)) == [StreamReset(1, 0xBEEF, True)]
        assert drained(server) == []

    def test_reset_stream_command_queues_rst_and_reports_nothing(
        self, factory: FrameFactory
    ) -> None:
        server = server_with_request(factory)
        server.reset_stream(1, ErrorCodes.INTERNAL_ERROR)
        frames = drained(server)
        assert [(type(f), f.stream_id, f.error_code) for f in frames] == [
            (RstStreamFrame, 1, ErrorCodes.INTERNAL_ERROR)
        ]
        assert server.stream_state(1) == StreamState.CLOSED
        assert server.open_inbound_streams == 0


# -- M3: informational responses ---------------------------------------------------


class TestInformationalResponses:
    def test_1xx_responses_precede_the_final_one(self, factory: FrameFactory) -> None:
        client = client_with_request(factory)
        events = client.receive_data(
            factory.headers(1, [(b":status", b"100")])
            + factory.headers(1, [(b":status", b"103"), (b"link", b"</a.css>")])
            + factory.headers(1, RESPONSE_200, end_stream=True)
        )
        assert events == [
            InformationalResponseReceived(1, [(b":status", b"100")]),
            InformationalResponseReceived(1, [(b":status", b"103"), (b"link", b"</a.css>")]),
            ResponseReceived(1, RESPONSE_200, True),
        ]
        assert drained(client) == []

    @pytest.mark.parametrize(
        ("headers", "end_stream"),
        [
            pytest.param([(b":status", b"100")], True, id="1xx-with-end-stream"),
            pytest.param([(b":status", b"101")], False, id="101-switching-protocols"),
            pytest.param([(b"server", b"x")], False, id="no-status"),
            pytest.param([(b":status", b"200"), (b":status", b"200")], False, id="two-status"),
            pytest.param([(b":status", b"20")], False, id="two-digits"),
            pytest.param([(b":status", b"2000")], False, id="four-digits"),
            pytest.param([(b":status", b"abc")], False, id="not-digits"),
            pytest.param(
                [(b":status", b"200"), (b":path", b"/")], False, id="request-pseudo-in-response"
            ),
            pytest.param(
                [(b":status", b"200"), (b":method", b"GET")], False, id="method-in-response"
            ),
        ],
    )
    def test_malformed_response_is_stream_protocol_error(
        self, factory: FrameFactory, headers: list[tuple[bytes, bytes]], end_stream: bool
    ) -> None:
        client = client_with_request(factory)
        events = expect_stream_error(
            client, factory.headers(1, headers, end_stream=end_stream), 1, PROTOCOL_ERROR
        )
        assert not any(isinstance(e, ResponseReceived) for e in events)

    def test_server_sends_1xx_then_final_response(self, factory: FrameFactory) -> None:
        server = server_with_request(factory, end_stream=True)
        server.send_headers(1, [(b":status", b"100")])
        server.send_headers(1, RESPONSE_200, end_stream=True)
        frames = drained(server)
        assert [(type(f), f.stream_id, sorted(f.flags)) for f in frames] == [
            (HeadersFrame, 1, ["END_HEADERS"]),
            (HeadersFrame, 1, ["END_HEADERS", "END_STREAM"]),
        ]
        assert server.stream_state(1) == StreamState.CLOSED

    def test_server_cannot_end_stream_with_1xx(self, factory: FrameFactory) -> None:
        server = server_with_request(factory, end_stream=True)
        with pytest.raises(StreamStateError):
            server.send_headers(1, [(b":status", b"103")], end_stream=True)
        assert server.data_to_send() == b""
        assert server.stream_state(1) == StreamState.HALF_CLOSED_REMOTE

    def test_data_before_final_response_is_stream_error(self, factory: FrameFactory) -> None:
        client = client_with_request(factory)
        client.receive_data(factory.headers(1, [(b":status", b"100")]))
        expect_stream_error(client, factory.data(1, b"early"), 1, PROTOCOL_ERROR)


# -- M8: content-length ----------------------------------------------------------------

# (content-length values, DATA payloads, END_STREAM on trailers instead of DATA, accepted)
_LENGTH_CASES = [
    pytest.param([b"5"], [b"hello"], False, True, id="exact-one-frame"),
    pytest.param([b"5"], [b"he", b"", b"llo"], False, True, id="exact-several-frames"),
    pytest.param([b"0"], [], False, True, id="zero-no-data"),
    pytest.param([b"5"], [b"hell"], False, False, id="too-few"),
    pytest.param([b"5"], [b"hello!"], False, False, id="too-much-one-frame"),
    pytest.param([b"5"], [b"hel", b"lo", b"!"], False, False, id="too-much-several"),
    pytest.param([b"5"], [], False, False, id="no-body"),
    pytest.param([b"5"], [b"hel"], True, False, id="trailers-end-short"),
    pytest.param([b"5"], [b"hello"], True, True, id="trailers-end-exact"),
    pytest.param([b"5", b"5"], [b"hello"], False, True, id="duplicate-agreeing"),
    pytest.param([b"5", b"6"], [b"hello"], False, False, id="duplicate-conflicting"),
    pytest.param([b"5, 6"], [b"hello"], False, False, id="list-conflicting"),
    pytest.param([b"+5"], [b"hello"], False, False, id="plus-sign"),
    pytest.param([b"0x5"], [b"hello"], False, False, id="hex"),
    pytest.param([b"-1"], [], False, False, id="negative"),
]


def _body_frames(factory: FrameFactory, payloads: list[bytes], trailers_end: bool) -> bytes:
    out = b""
    for i, chunk in enumerate(payloads):
        last = i == len(payloads) - 1 and not trailers_end
        out += factory.data(1, chunk, end_stream=last)
    if trailers_end:
        out += factory.headers(1, TRAILERS, end_stream=True)
    return out


class TestContentLength:
    """M8: content-length must equal the sum of DATA payloads (8.1.1)."""

    @pytest.mark.parametrize(("lengths", "payloads", "trailers_end", "ok"), _LENGTH_CASES)
    def test_request_body_against_content_length(
        self,
        factory: FrameFactory,
        lengths: list[bytes],
        payloads: list[bytes],
        trailers_end: bool,
        ok: bool,
    ) -> None:
        server = make_server(factory)
        headers = POST_REQUEST + [(b"content-length", v) for v in lengths]
        no_body = not payloads and not trailers_end
        wire = factory.headers(1, headers, end_stream=no_body)
        if not no_body:
            wire += _body_frames(factory, payloads, trailers_end)
        if ok:
            events = expect_quiet(server, wire)
            assert isinstance(events[0], RequestReceived)
            assert b"".join(e.data for e in events if isinstance(e, DataReceived)) == b"".join(
                payloads
            )
            assert server.stream_state(1) == StreamState.HALF_CLOSED_REMOTE
        else:
            events = expect_stream_error(server, wire, 1, PROTOCOL_ERROR)
            assert not any(e.end_stream for e in events if isinstance(e, DataReceived))

    @pytest.mark.parametrize(("lengths", "payloads", "trailers_end", "ok"), _LENGTH_CASES)
    def test_response_body_against_content_length(
        self,
        factory: FrameFactory,
        lengths: list[bytes],
        payloads: list[bytes],
        trailers_end: bool,
        ok: bool,
    ) -> None:
        client = client_with_request(factory)
        headers = RESPONSE_200 + [(b"content-length", v) for v in lengths]
        no_body = not payloads and not trailers_end
        wire = factory.headers(1, headers, end_stream=no_body)
        if not no_body:
            wire += _body_frames(factory, payloads, trailers_end)
        if ok:
            expect_quiet(client, wire)
            assert client.stream_state(1) == StreamState.CLOSED
        else:
            expect_stream_error(client, wire, 1, PROTOCOL_ERROR)

    @pytest.mark.parametrize(
        ("method", "status"),
        [(b"HEAD", b"200"), (b"GET", b"204"), (b"GET", b"304")],
    )
    def test_bodiless_responses_ignore_content_length(
        self, factory: FrameFactory, method: bytes, status: bytes
    ) -> None:
        client = make_client(factory)
        request = [(b":method", method), *CLIENT_REQUEST[1:]]
        client.send_headers(1, request, end_stream=True)
        drained(client)
        headers = [(b":status", status), (b"content-length", b"1234")]
        events = expect_quiet(client, factory.headers(1, headers, end_stream=True))
        assert events == [ResponseReceived(1, headers, True)]

    def test_content_length_error_leaves_other_streams_alone(self, factory: FrameFactory) -> None:
        server = make_server(factory)
        server.receive_data(factory.headers(3, POST_REQUEST))
        headers = [*POST_REQUEST, (b"content-length", b"2")]
        wire = factory.headers(5, headers) + factory.data(5, b"abc")
        expect_stream_error(server, wire, 5, PROTOCOL_ERROR)
        events = server.receive_data(factory.data(3, b"fine", end_stream=True))
        assert events == [DataReceived(3, b"fine", 4, True)]


# -- U1-U3, A18: server push ------------------------------------------------------------

PUSHED_REQUEST = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":path", b"/style.css"),
    (b":authority", b"example.com"),
]


def push_client(factory: FrameFactory, **kw: Any) -> Engine:
    """A client with push enabled (and ACKed) and request 1 sent."""
    return client_with_request(factory, enable_push=True, **kw)


def assert_reservation_free(client: Engine, factory: FrameFactory, promised: int) -> None:
    """On a client with ``max_reserved_streams=1``: a new promise (on a new request) is
    accepted, so no earlier promise still holds the one reservation."""
    parent = client.get_next_available_stream_id()
    client.send_headers(parent, CLIENT_REQUEST, end_stream=True)
    drained(client)
    events = client.receive_data(factory.push_promise(parent, promised, PUSHED_REQUEST))
    assert events == [PushPromiseReceived(promised, parent, PUSHED_REQUEST)]
    assert drained(client) == []


class TestPushDisabled:
    def test_push_promise_after_enable_push_0_acked_is_connection_error(
        self, factory: FrameFactory
    ) -> None:
        """U1: make_client has had its ENABLE_PUSH=0 acknowledged."""
        client = client_with_request(factory)
        assert client.local_settings[0x2] == 0
        expect_connection_error(client, factory.push_promise(1, 2, PUSHED_REQUEST), PROTOCOL_ERROR)

    def test_client_sends_enable_push_0_in_its_preface(self) -> None:
        client = Engine(client_side=True)
        client.initiate_connection()
        frames = parse_frames(client.data_to_send())
        assert frames[0].settings[0x2] == 0

    def test_push_promise_before_ack_is_refused(self, factory: FrameFactory) -> None:
        """Until our ENABLE_PUSH=0 is ACKed the promise is refused, not fatal."""
        client = Engine(client_side=True)
        client.initiate_connection()
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        client.data_to_send()
        events = client.receive_data(
            factory.settings() + factory.push_promise(1, 2, PUSHED_REQUEST)
        )
        assert not any(isinstance(e, PushPromiseReceived) for e in events)
        frames = drained(client)
        assert [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)] == [
            (2, REFUSED_STREAM)
        ]
        # The pushed response that crossed our RST is dropped quietly.
        assert client.receive_data(factory.headers(2, RESPONSE_200, end_stream=True)) == []
        assert drained(client) == []

    def test_server_rejects_push_promise_from_client(self, factory: FrameFactory) -> None:
        """U3."""
        server = server_with_request(factory)
        expect_connection_error(server, factory.push_promise(1, 2, PUSHED_REQUEST), PROTOCOL_ERROR)

    def test_server_cannot_push_when_client_disabled_it(self, factory: FrameFactory) -> None:
        server = server_with_request(factory)
        server.receive_data(factory.settings({0x2: 0}))
        drained(server)
        with pytest.raises(LocalProtocolError):
            server.push_stream(1, 2, PUSHED_REQUEST)
        assert server.data_to_send() == b""

    def test_client_cannot_push(self, factory: FrameFactory) -> None:
        client = client_with_request(factory, end_stream=False)
        with pytest.raises(LocalProtocolError):
            client.push_stream(1, 2, PUSHED_REQUEST)


class TestPushEnabled:
    def test_promise_then_pushed_response(self, factory: FrameFactory) -> None:
        client = push_client(factory, max_reserved_streams=1)
        events = client.receive_data(factory.push_promise(1, 2, PUSHED_REQUEST))
        assert events == [PushPromiseReceived(2, 1, PUSHED_REQUEST)]
        assert client.stream_state(2) == StreamState.RESERVED_REMOTE
        events = client.receive_data(
            factory.headers(1, RESPONSE_200, end_stream=True)
            + factory.headers(2, RESPONSE_200)
            + factory.data(2, b"body{}", end_stream=True)
        )
        assert events == [
            ResponseReceived(1, RESPONSE_200, True),
            ResponseReceived(2, RESPONSE_200, False),
            DataReceived(2, b"body{}", 6, True),
        ]
        assert drained(client) == []
        assert client.stream_state(1) == client.stream_state(2) == StreamState.CLOSED
        assert client.open_inbound_streams == 0
        assert_reservation_free(client, factory, promised=4)

    @pytest.mark.parametrize(
        ("parent", "promised"),
        [
            pytest.param(3, 2, id="parent-idle"),
            pytest.param(1, 3, id="odd-promised-id"),
            pytest.param(1, 0, id="promised-zero"),
        ],
    )
    def test_invalid_promise_is_connection_error(
        self, factory: FrameFactory, parent: int, promised: int
    ) -> None:
        """U2: promise on a stream not open, or of a non-idle or odd id."""
        client = push_client(factory)
        expect_connection_error(
            client, factory.push_promise(parent, promised, PUSHED_REQUEST), PROTOCOL_ERROR
        )

    def test_promising_an_id_already_used_is_connection_error(self, factory: FrameFactory) -> None:
        client = push_client(factory)
        client.receive_data(factory.push_promise(1, 4, PUSHED_REQUEST))
        expect_connection_error(client, factory.push_promise(1, 2, PUSHED_REQUEST), PROTOCOL_ERROR)

    def test_promise_on_stream_the_server_ended_is_connection_error(
        self, factory: FrameFactory
    ) -> None:
        """U2: the parent must be open or half-closed (local) on our side."""
        client = push_client(factory)
        client.receive_data(factory.headers(1, RESPONSE_200, end_stream=True))
        # Stream 1 is now closed on the client: the promise may not use it.
        expect_connection_error(client, factory.push_promise(1, 2, PUSHED_REQUEST), PROTOCOL_ERROR)

    def test_promise_on_half_closed_remote_stream_is_connection_error(
        self, factory: FrameFactory
    ) -> None:
        client = push_client(factory, end_stream=False)
        client.receive_data(factory.headers(1, RESPONSE_200, end_stream=True))
        assert client.stream_state(1) == StreamState.HALF_CLOSED_REMOTE
        expect_connection_error(client, factory.push_promise(1, 2, PUSHED_REQUEST), PROTOCOL_ERROR)

    @pytest.mark.parametrize(
        "request_headers",
        [
            pytest.param([(b":method", b"POST"), *PUSHED_REQUEST[1:]], id="unsafe-method"),
            pytest.param([*PUSHED_REQUEST, (b"content-length", b"10")], id="with-body"),
            pytest.param(PUSHED_REQUEST[1:], id="no-method"),
        ],
    )
    def test_bad_pushed_request_is_stream_error_on_promised_stream(
        self, factory: FrameFactory, request_headers: list[tuple[bytes, bytes]]
    ) -> None:
        client = push_client(factory)
        events = expect_stream_error(
            client, factory.push_promise(1, 2, request_headers), 2, PROTOCOL_ERROR
        )
        assert not any(isinstance(e, PushPromiseReceived) for e in events)
        assert client.stream_state(1) == StreamState.HALF_CLOSED_LOCAL

    @pytest.mark.parametrize("kind", ["DATA", "WINDOW_UPDATE", "CONTINUATION"])
    def test_frames_other_than_headers_on_reserved_remote_are_connection_errors(
        self, factory: FrameFactory, kind: str
    ) -> None:
        """5.1 reserved (remote): only HEADERS, RST_STREAM and PRIORITY (MUST)."""
        client = push_client(factory)
        client.receive_data(factory.push_promise(1, 2, PUSHED_REQUEST))
        frame = {
            "DATA": factory.data(2, b"too early"),
            "WINDOW_UPDATE": factory.window_update(2, 10),
            "CONTINUATION": factory.continuation(2, factory.encode(RESPONSE_200), True),
        }[kind]
        expect_connection_error(client, frame, PROTOCOL_ERROR, last_stream_id=2)

    @pytest.mark.parametrize("kind", ["RST_STREAM", "PRIORITY"])
    def test_rst_and_priority_on_reserved_remote_are_accepted(
        self, factory: FrameFactory, kind: str
    ) -> None:
        client = push_client(factory, max_reserved_streams=1)
        client.receive_data(factory.push_promise(1, 2, PUSHED_REQUEST))
        if kind == "PRIORITY":
            assert expect_quiet(client, factory.priority(2, depends_on=1)) == []
            assert client.stream_state(2) == StreamState.RESERVED_REMOTE
        else:
            events = client.receive_data(factory.rst_stream(2, ErrorCodes.CANCEL))
            assert events == [StreamReset(2, ErrorCodes.CANCEL, True)]
            assert drained(client) == []
            assert_reservation_free(client, factory, promised=4)

    def test_promise_after_our_goaway_is_ignored(self, factory: FrameFactory) -> None:
        """6.8: after our GOAWAY, new streams the server initiates are not processed."""
        client = push_client(factory)
        client.receive_data(factory.push_promise(1, 2, PUSHED_REQUEST))
        client.close()
        frames = drained(client)
        assert [(type(f), f.last_stream_id) for f in frames] == [(GoAwayFrame, 2)]
        added = [(b"x-late", b"z" * 20)]
        events = client.receive_data(
            factory.push_promise(1, 4, PUSHED_REQUEST + added)
            + factory.headers(4, RESPONSE_200)
            + factory.data(4, b"ignored", end_stream=True)
        )
        assert events == []
        assert drained(client) == []
        assert client.stream_state(4) == StreamState.CLOSED
        # Promised stream 2 is below last-stream-id and still completes; HPACK kept up.
        events = client.receive_data(
            factory.headers(2, RESPONSE_200 + added, end_stream=True)
            + factory.headers(1, RESPONSE_200, end_stream=True)
        )
        assert events == [
            ResponseReceived(2, RESPONSE_200 + added, True),
            ResponseReceived(1, RESPONSE_200, True),
        ]
        assert client.stream_state(1) == client.stream_state(2) == StreamState.CLOSED
        assert client.open_inbound_streams == client.open_outbound_streams == 0

    def test_client_can_cancel_a_promise(self, factory: FrameFactory) -> None:
        client = push_client(factory, max_reserved_streams=1)
        client.receive_data(factory.push_promise(1, 2, PUSHED_REQUEST))
        client.reset_stream(2, ErrorCodes.CANCEL)
        assert [(f.stream_id, f.error_code) for f in drained(client)] == [(2, ErrorCodes.CANCEL)]
        # The response that crossed our RST is dropped.
        assert client.receive_data(factory.headers(2, RESPONSE_200, end_stream=True)) == []
        assert drained(client) == []
        assert_reservation_free(client, factory, promised=4)


class TestServerPushSending:
    def _server(self, factory: FrameFactory) -> Engine:
        server = make_server(factory)
        server.receive_data(factory.settings({0x2: 1}) + factory.headers(1, CLIENT_REQUEST))
        drained(server)
        return server

    def test_push_stream_sends_promise_and_reserves_the_stream(
        self, factory: FrameFactory
    ) -> None:
        server = self._server(factory)
        server.push_stream(1, 2, PUSHED_REQUEST)
        frames = drained(server)
        assert [(type(f), f.stream_id, f.promised_stream_id) for f in frames] == [
            (PushPromiseFrame, 1, 2)
        ]
        assert server.stream_state(2) == StreamState.RESERVED_LOCAL
        assert server.open_outbound_streams == 0  # reserved streams don't count (5.1.2)
        server.send_headers(2, RESPONSE_200)
        server.send_data(2, b"pushed", end_stream=True)
        frames = drained(server)
        assert [(type(f), f.stream_id) for f in frames] == [(HeadersFrame, 2), (DataFrame, 2)]
        assert server.stream_state(2) == StreamState.CLOSED
        assert server.open_outbound_streams == 0

    @pytest.mark.parametrize("promised", [3, 0, 2**31])
    def test_push_with_bad_promised_id_raises(self, factory: FrameFactory, promised: int) -> None:
        server = self._server(factory)
        with pytest.raises(StreamStateError):
            server.push_stream(1, promised, PUSHED_REQUEST)
        assert server.data_to_send() == b""

    @pytest.mark.parametrize("kind", ["DATA", "HEADERS"])
    def test_data_or_headers_on_reserved_local_are_connection_errors(
        self, factory: FrameFactory, kind: str
    ) -> None:
        """5.1 reserved (local): only RST_STREAM, PRIORITY and WINDOW_UPDATE (MUST)."""
        server = self._server(factory)
        server.push_stream(1, 2, PUSHED_REQUEST)
        drained(server)
        frame = {
            "DATA": factory.data(2, b"x"),
            "HEADERS": factory.headers(2, TRAILERS, end_stream=True),
        }[kind]
        expect_connection_error(server, frame, PROTOCOL_ERROR, last_stream_id=1)

    def test_window_update_on_reserved_local_is_accepted(self, factory: FrameFactory) -> None:
        server = self._server(factory)
        server.push_stream(1, 2, PUSHED_REQUEST)
        drained(server)
        assert expect_quiet(server, factory.window_update(2, 5)) == [WindowUpdated(2, 5)]

    def test_promised_ids_increase(self, factory: FrameFactory) -> None:
        server = self._server(factory)
        server.push_stream(1, 4, PUSHED_REQUEST)
        with pytest.raises(StreamStateError):
            server.push_stream(1, 2, PUSHED_REQUEST)
        drained(server)

    def test_no_push_after_the_client_sent_goaway(self, factory: FrameFactory) -> None:
        """6.8: the receiver of GOAWAY opens no new streams, pushed ones included."""
        server = self._server(factory)
        server.receive_data(factory.goaway(1, ErrorCodes.NO_ERROR))
        with pytest.raises(HyperConnectionError):
            server.push_stream(1, 2, PUSHED_REQUEST)
        assert server.data_to_send() == b""
        assert server.stream_state(2) == StreamState.IDLE
        server.send_headers(1, RESPONSE_200, end_stream=True)
        assert [type(f) for f in drained(server)] == [HeadersFrame]

    def test_push_on_closed_parent_raises(self, factory: FrameFactory) -> None:
        server = self._server(factory)
        server.send_headers(1, RESPONSE_200, end_stream=True)
        drained(server)
        with pytest.raises(StreamStateError):
            server.push_stream(1, 2, PUSHED_REQUEST)
        assert server.data_to_send() == b""
