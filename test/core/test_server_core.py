"""
ServerCore from bytes alone: slots, refusals, Rapid Reset, timers, graceful
shutdown, failure.

A server core faces either the client core (``pair``, support.cores.CorePair)
or a scripted client (``factory``, support.cores.server_against) for what
the client core never does: open streams past the limit, reset what it just
opened, stall the handshake. Timers run on a fake clock moved by hand.
"""

from __future__ import annotations

import pytest
from hyperframe.frame import (
    Frame,
    GoAwayFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from support.cores import GET, POST, CorePair, EveryByte, server_against, server_core
from support.frames import RESPONSE_200, FrameFactory, parse_frames
from support.timeouts import FakeClock

from hyper.core.server import SHUTDOWN_PING, ServerCore, ServerLimits
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import ConnectionError as H2ConnectionError
from hyper.engine.exceptions import (
    ConnectionLostError,
    EnhanceYourCalmError,
    ProtocolError,
    SettingsTimeoutError,
    StreamRefusedError,
    StreamResetError,
)

MAX_STREAM_ID = 2**31 - 1
# Distinct values, so a test can tell which timer fired.
LIMITS = ServerLimits(
    handshake_timeout=5.0,
    settings_timeout=7.0,
    idle_timeout=60.0,
    shutdown_timeout=30.0,
    send_timeout=20.0,
)


def sent(core: ServerCore) -> list[Frame]:
    """The frames the server queued since the last look."""
    return parse_frames(core.data_to_send())


def resets(frames: list[Frame]) -> list[tuple[int, int]]:
    return [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)]


def goaways(frames: list[Frame]) -> list[tuple[int, int, bytes]]:
    return [
        (f.last_stream_id, f.error_code, f.additional_data)
        for f in frames
        if isinstance(f, GoAwayFrame)
    ]


def taken_ids(core: ServerCore) -> list[int]:
    """Take every queued request, as a handler would; their stream ids."""
    ids = []
    while (request := core.next_request()) is not None:
        ids.append(request.stream_id)
    return ids


class TestRequests:
    def test_requests_are_handed_out_in_order_of_arrival(self, pair: CorePair) -> None:
        for _ in range(3):
            pair.client.open_stream(GET, True)
        pair.to_server()
        assert taken_ids(pair.server) == [1, 3, 5]
        assert pair.server.next_request() is None

    def test_a_request_and_its_response_cross(self, pair: CorePair) -> None:
        stream, request = pair.request(POST, b"name=value")
        assert request.headers == POST
        assert pair.server.read(request, None) == [b"name=value"]
        assert pair.server.read(request, None) == []
        pair.respond(request, b"thanks")
        pair.to_client()
        assert pair.read_all(stream) == b"thanks"
        assert pair.server.find(request.stream_id) is None, "done both ways: forgotten"

    def test_request_body_window_comes_back_as_it_is_read(self) -> None:
        pair = CorePair(window_manager=EveryByte)
        # The upload goes on: an ended one needs no window back.
        opened = pair.client.open_stream(POST, False, b"b" * 1000, False)
        assert opened is not None
        pair.to_server()
        request = pair.server.next_request()
        assert request is not None
        arrived = sent(pair.server)
        updates = [(f.stream_id, f.window_increment) for f in arrived]
        assert all(isinstance(f, WindowUpdateFrame) for f in arrived)
        assert updates == [(0, 1000)], "the connection's window on arrival, not the stream's"
        assert pair.server.body_ready(request)
        assert b"".join(pair.server.read(request, 400)) == b"b" * 400
        assert [(f.stream_id, f.window_increment) for f in sent(pair.server)] == [(1, 400)]
        assert b"".join(pair.server.read(request, None)) == b"b" * 600
        assert [(f.stream_id, f.window_increment) for f in sent(pair.server)] == [(1, 600)]


class TestSlots:
    """A request holds a slot until the application is done with it."""

    def test_headers_past_the_concurrency_are_refused_unseen(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """Before it ACKs our SETTINGS a client may open more streams than we
        allow (the engine still applies the defaults); the core refuses them."""
        core = server_against(factory, clock, ack=False, concurrency=2)
        core.receive_data(b"".join(factory.headers(i, GET, end_stream=True) for i in (1, 3, 5)))
        assert resets(sent(core)) == [(5, ErrorCodes.REFUSED_STREAM)]
        assert taken_ids(core) == [1, 3], "the application never sees a refused stream"

    def test_a_client_sees_the_refusal_as_safe_to_retry(self) -> None:
        pair = CorePair(concurrency=1)
        first, request = pair.request()
        assert pair.server.next_request() is request
        pair.client.release(first)  # RST_STREAM: the slot stays held
        pair.to_server()
        opened = pair.client.open_stream(GET, True)
        assert opened is not None
        second = opened[0]
        pair.to_server()
        assert pair.server.next_request() is None
        pair.to_client()
        with pytest.raises(StreamRefusedError, match="safe to retry"):
            pair.client.check_response(second)

    def test_a_client_reset_frees_the_slot_only_once_the_application_learns_of_it(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """Rapid Reset (CVE-2023-44487): resetting what it opened must not let
        a client start more than ``concurrency`` requests' work at once."""
        core = server_against(factory, clock, concurrency=1)
        core.receive_data(factory.headers(1, GET, end_stream=True))
        request = core.next_request()
        assert request is not None
        core.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL))
        core.receive_data(factory.headers(3, GET, end_stream=True))
        assert resets(sent(core)) == [(3, ErrorCodes.REFUSED_STREAM)]
        with pytest.raises(StreamResetError) as info:
            core.send_headers(request, RESPONSE_200, True)
        assert info.value.error_code == ErrorCodes.CANCEL
        core.receive_data(factory.headers(5, GET, end_stream=True))
        assert resets(sent(core)) == []
        assert taken_ids(core) == [5]

    def test_a_request_reset_before_it_was_taken_is_dropped_at_once(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock, concurrency=1)
        core.receive_data(factory.headers(1, POST) + factory.rst_stream(1, ErrorCodes.CANCEL))
        core.receive_data(factory.headers(3, GET, end_stream=True))
        assert resets(sent(core)) == []
        assert taken_ids(core) == [3]

    def test_a_client_that_keeps_opening_refused_streams_is_cut_off(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        limits = ServerLimits(max_refused_streams=3)
        core = server_against(factory, clock, ack=False, concurrency=1, limits=limits)
        core.receive_data(b"".join(factory.headers(i, GET, end_stream=True) for i in (1, 3, 5, 7)))
        assert not core.is_failed, "refusals up to the limit are tolerated"
        core.receive_data(factory.headers(9, GET, end_stream=True))
        frames = sent(core)
        assert resets(frames)[-1] == (9, ErrorCodes.REFUSED_STREAM)
        assert [(last, code) for last, code, _ in goaways(frames)] == [
            (9, ErrorCodes.ENHANCE_YOUR_CALM)
        ]
        assert isinstance(core.error, EnhanceYourCalmError)
        assert core.wants_teardown
        with pytest.raises(EnhanceYourCalmError):
            core.next_request()

    def test_a_freed_slot_starts_the_refusal_count_again(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        limits = ServerLimits(max_refused_streams=2)
        core = server_against(factory, clock, ack=False, concurrency=1, limits=limits)
        core.receive_data(b"".join(factory.headers(i, GET, end_stream=True) for i in (1, 3, 5)))
        request = core.next_request()
        assert request is not None
        core.send_headers(request, RESPONSE_200, True)
        core.receive_data(b"".join(factory.headers(i, GET, end_stream=True) for i in (7, 9, 11)))
        assert not core.is_failed
        assert resets(sent(core)) == [(i, ErrorCodes.REFUSED_STREAM) for i in (3, 5, 9, 11)]

    def test_handler_gone_refuses_what_it_never_took(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock)
        core.receive_data(b"".join(factory.headers(i, GET, end_stream=True) for i in (1, 3, 5)))
        taken = core.next_request()
        assert taken is not None
        core.handler_gone(failed=False)
        assert resets(sent(core)) == [
            (3, ErrorCodes.REFUSED_STREAM),
            (5, ErrorCodes.REFUSED_STREAM),
        ]
        core.send_headers(taken, RESPONSE_200, True)  # still the handler's to answer
        assert core.next_request() is None

    def test_a_failed_handler_resets_what_it_took_with_internal_error(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock)
        core.receive_data(b"".join(factory.headers(i, GET, end_stream=True) for i in (1, 3, 5)))
        done, unfinished = core.next_request(), core.next_request()
        assert done is not None and unfinished is not None
        core.send_headers(done, RESPONSE_200, True)
        sent(core)
        core.handler_gone(failed=True)
        assert resets(sent(core)) == [
            (5, ErrorCodes.REFUSED_STREAM),
            (3, ErrorCodes.INTERNAL_ERROR),
        ]


class TestTimers:
    def test_a_client_that_sends_no_preface_is_cut_off(self, clock: FakeClock) -> None:
        """Slowloris: a connection that never speaks HTTP/2 holds nothing for long."""
        core = server_core(clock, limits=LIMITS)
        core.start()
        sent(core)
        assert core.next_deadline() == clock.now + 5.0
        clock.advance(4.9)
        core.check_timers()
        assert sent(core) == [] and not core.is_failed
        clock.advance(0.1)
        core.check_timers()
        assert [code for _, code, _ in goaways(sent(core))] == [ErrorCodes.SETTINGS_TIMEOUT]
        assert isinstance(core.error, SettingsTimeoutError)
        assert core.wants_teardown
        assert core.next_deadline() is None

    def test_a_client_that_never_acks_our_settings_is_cut_off(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """RFC 9113 6.5.3: SETTINGS_TIMEOUT."""
        start = clock.now
        core = server_against(factory, clock, ack=False, limits=LIMITS)
        deadline = core.next_deadline()
        assert deadline is not None and start + 7.0 < deadline < start + 7.1
        clock.now = deadline
        core.check_timers()
        assert [code for _, code, _ in goaways(sent(core))] == [ErrorCodes.SETTINGS_TIMEOUT]
        assert isinstance(core.error, SettingsTimeoutError)

    def test_acked_settings_leave_only_the_idle_timer(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock, limits=LIMITS)
        assert core.next_deadline() == clock.now + 60.0
        clock.advance(59.9)
        core.check_timers()
        assert sent(core) == [] and not core.is_failed

    def test_an_idle_connection_is_closed(self, factory: FrameFactory, clock: FakeClock) -> None:
        core = server_against(factory, clock, limits=LIMITS)
        clock.advance(60.0)
        core.check_timers()
        assert goaways(sent(core)) == [(0, ErrorCodes.NO_ERROR, b"idle timeout")]
        assert core.wants_teardown

    def test_a_request_in_progress_is_not_idle(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock, limits=LIMITS)
        core.receive_data(factory.headers(1, GET, end_stream=True))
        request = core.next_request()
        assert request is not None
        clock.advance(100.0)
        core.check_timers()
        assert sent(core) == [] and not core.is_failed
        core.send_headers(request, RESPONSE_200, True)
        sent(core)
        assert core.next_deadline() == clock.now + 60.0, "idle counts from the response"
        clock.advance(60.0)
        core.check_timers()
        assert goaways(sent(core)) == [(1, ErrorCodes.NO_ERROR, b"idle timeout")]

    def test_graceful_shutdown_lets_streams_in_flight_finish(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """RFC 9113 6.8: GOAWAY(2**31-1) and a PING; once the PING comes
        back, GOAWAY with the last stream really opened."""
        core = server_against(factory, clock, limits=LIMITS)
        core.receive_data(factory.headers(1, GET, end_stream=True))
        core.close_gracefully()
        frames = sent(core)
        assert goaways(frames) == [(MAX_STREAM_ID, ErrorCodes.NO_ERROR, b"")]
        assert [f.opaque_data for f in frames if isinstance(f, PingFrame)] == [SHUTDOWN_PING]
        # Sent before the client saw our GOAWAY: still served.
        core.receive_data(factory.headers(3, GET, end_stream=True))
        core.receive_data(factory.ping(SHUTDOWN_PING, ack=True))
        assert goaways(sent(core)) == [(3, ErrorCodes.NO_ERROR, b"")]
        core.receive_data(factory.headers(5, GET, end_stream=True))  # after it: ignored
        one, three = core.next_request(), core.next_request()
        assert one is not None and three is not None
        assert core.next_request() is None
        core.send_headers(one, RESPONSE_200, True)
        assert not core.wants_teardown
        core.send_headers(three, RESPONSE_200, True)
        assert core.wants_teardown and core.is_finished
        assert resets(sent(core)) == []

    def test_graceful_shutdown_gives_up_after_its_timeout(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock, limits=LIMITS)
        core.receive_data(factory.headers(1, GET, end_stream=True))
        core.close_gracefully()
        sent(core)
        assert core.next_deadline() == clock.now + 30.0
        clock.advance(30.0)
        core.check_timers()
        assert goaways(sent(core)) == [(1, ErrorCodes.NO_ERROR, b"shutdown timeout")]
        assert core.is_failed and core.wants_teardown

    def test_graceful_shutdown_between_the_cores(self, pair: CorePair) -> None:
        stream, request = pair.request()
        pair.server.close_gracefully()
        pair.pump()
        assert not pair.client.is_usable, "the client opens nothing more"
        assert pair.client.error is None and pair.server.error is None
        pair.respond(request, b"last")
        pair.to_client()
        assert pair.read_all(stream) == b"last"
        (goaway,) = [f for f in pair.to_server() if isinstance(f, GoAwayFrame)]
        assert goaway.error_code == ErrorCodes.NO_ERROR
        assert pair.client.wants_teardown and pair.server.wants_teardown


class TestStalls:
    def test_a_frame_begun_and_never_finished_is_cut_off(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """Slowloris inside HTTP/2: 5 bytes of a frame header, then silence:
        GOAWAY(NO_ERROR) after the handshake timeout, not the idle one."""
        core = server_against(factory, clock, limits=LIMITS)
        core.receive_data(factory.ping(b"12345678")[:5])
        assert core.next_deadline() == clock.now + 5.0
        clock.advance(5.0)
        core.check_timers()
        expected = (0, ErrorCodes.NO_ERROR, b"frame not completed within 5.0 s")
        assert goaways(sent(core)) == [expected]
        assert core.wants_teardown

    def test_a_header_block_left_open_is_cut_off(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock, limits=LIMITS)
        block = factory.encode(GET)
        core.receive_data(factory.headers_block(1, block, end_headers=False))
        clock.advance(5.0)
        core.check_timers()
        assert [code for _, code, _ in goaways(sent(core))] == [ErrorCodes.NO_ERROR]

    def test_a_frame_finished_in_time_leaves_the_idle_timer(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock, limits=LIMITS)
        ping = factory.ping(b"12345678")
        core.receive_data(ping[:5])
        clock.advance(4.0)
        core.receive_data(ping[5:])
        assert core.next_deadline() == clock.now - 4.0 + 60.0
        clock.advance(2.0)
        core.check_timers()
        assert not core.is_failed

    def test_a_half_read_frame_is_not_the_clients_fault_while_we_stopped_reading(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """While the transport is full the driver reads nothing: the client's
        time for the rest of the frame starts when we read again."""
        core = server_against(factory, clock, limits=LIMITS)
        core.receive_data(factory.ping(b"12345678")[:5])
        core.write_blocked(True)
        clock.advance(10.0)
        core.check_timers()
        assert not core.is_failed
        core.write_blocked(False)
        assert core.next_deadline() == clock.now + 5.0

    def test_a_transport_that_takes_nothing_for_the_send_timeout_is_aborted(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock, limits=LIMITS)
        core.receive_data(factory.headers(1, GET, end_stream=True))
        core.next_request()
        core.write_blocked(True)
        assert core.next_deadline() == clock.now + 20.0
        clock.advance(19.9)
        core.check_timers()
        assert not core.is_failed
        clock.advance(0.1)
        core.check_timers()
        assert core.wants_teardown and core.wants_abort
        assert "accepted no data for 20.0 s" in str(core.error)
        assert core.streams == {}

    def test_a_transport_that_drains_in_time_is_kept(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock, limits=LIMITS)
        core.write_blocked(True)
        clock.advance(19.0)
        core.write_blocked(False)
        clock.advance(19.0)
        core.check_timers()
        assert not core.is_failed and not core.wants_abort


class TestDiscardedBodies:
    def test_bodies_are_dropped_without_window_and_each_frame_is_a_glitch(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock)
        core.discard_bodies = True
        core.receive_data(factory.headers(1, POST) + factory.data(1, b"x" * 1000))
        request = core.next_request()
        assert request is not None and request.buffered == 0
        assert [f for f in sent(core) if isinstance(f, WindowUpdateFrame) and f.stream_id] == []
        one_byte = b"".join(factory.data(1, b"y") for _ in range(1000))
        core.receive_data(one_byte)  # 1,001 DATA frames in all: past the glitch burst
        assert isinstance(core.error, EnhanceYourCalmError)
        assert [code for _, code, _ in goaways(sent(core))] == [ErrorCodes.ENHANCE_YOUR_CALM]

    def test_without_discard_bodies_the_body_is_buffered(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock)
        core.receive_data(factory.headers(1, POST) + factory.data(1, b"x" * 1000))
        request = core.next_request()
        assert request is not None and request.buffered == 1000


class TestIdleness:
    def test_idle_since_is_none_while_a_request_is_in_progress(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock)
        assert core.idle_since == clock.now and not core.has_requested
        core.receive_data(factory.headers(1, GET, end_stream=True))
        request = core.next_request()
        assert request is not None and core.idle_since is None and core.has_requested
        clock.advance(3.0)
        core.send_headers(request, RESPONSE_200, True)
        assert core.idle_since == clock.now

    def test_evict_is_goaway_no_error_and_teardown(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock)
        core.receive_data(factory.headers(1, GET, end_stream=True))
        request = core.next_request()
        assert request is not None
        core.send_headers(request, RESPONSE_200, True)
        sent(core)
        core.evict()
        assert goaways(sent(core)) == [(1, ErrorCodes.NO_ERROR, b"connection limit reached")]
        assert core.wants_teardown and not core.wants_abort


class TestFailure:
    def test_a_lost_connection_fails_every_record(self, pair: CorePair) -> None:
        _, taken = pair.request(POST, b"part")
        pair.client.open_stream(GET, True)
        pair.to_server()
        assert pair.server.next_request() is taken
        pair.server.lost(None)
        assert pair.server.wants_teardown
        with pytest.raises(ConnectionLostError, match="the client closed") as one:
            pair.server.read(taken, None)
        with pytest.raises(ConnectionLostError) as two:
            pair.server.next_request()
        assert one.value is not two.value
        with pytest.raises(ConnectionLostError):
            pair.server.get(taken.stream_id)

    def test_a_protocol_error_is_goaway_and_fails_every_later_call(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        core = server_against(factory, clock)
        core.receive_data(factory.headers(1, POST))
        request = core.next_request()
        assert request is not None
        core.receive_data(factory.raw_frame(0x0, 0, 0, b"x"))  # DATA on stream 0
        assert [code for _, code, _ in goaways(sent(core))] == [ErrorCodes.PROTOCOL_ERROR]
        with pytest.raises(ProtocolError):
            core.send_headers(request, RESPONSE_200, True)
        with pytest.raises(ProtocolError):
            core.ping(b"12345678")
        core.receive_data(factory.ping(b"ignored!"))
        assert sent(core) == []

    def test_a_connection_over_the_cap_is_refused_politely(self, clock: FakeClock) -> None:
        core = server_core(clock)
        core.refuse_connection()
        frames = sent(core)
        assert [type(f) for f in frames] == [SettingsFrame, WindowUpdateFrame, GoAwayFrame]
        assert goaways(frames) == [(0, ErrorCodes.NO_ERROR, b"connection limit reached")]
        assert core.wants_teardown
        with pytest.raises(H2ConnectionError):
            core.next_request()
