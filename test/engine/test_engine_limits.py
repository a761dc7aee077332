"""
Engine: limits and flood defences (checklist section 4: A2, A4, A5, A8, A9,
A12, A14, A18, A19; section 5 limits; T8 concurrency both ways).

Every flood budget is a token bucket on an injectable clock; these tests use
a fake clock, so nothing here depends on the wall clock and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hpack import Decoder
from hyperframe.frame import (
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)
from support.frames import (
    CLIENT_REQUEST,
    POST_REQUEST,
    RESPONSE_200,
    FrameFactory,
    drained,
    make_client,
    make_server,
    parse_frames,
)
from support.memory import hyper_growth_per_round
from support.timeouts import FakeClock

from hyper.http20.config import EngineConfig
from hyper.http20.engine import Engine, StreamState
from hyper.http20.errors import ErrorCodes
from hyper.http20.events import (
    DataReceived,
    Event,
    PushPromiseReceived,
    RequestReceived,
    ResponseReceived,
    StreamReset,
)
from hyper.http20.exceptions import (
    EnhanceYourCalmError,
    FrameSizeError,
    HeaderListTooLargeError,
    ProtocolError,
    TooManyStreamsError,
)

CALM = ErrorCodes.ENHANCE_YOUR_CALM
REFUSED_STREAM = ErrorCodes.REFUSED_STREAM
MAX_CONCURRENT_STREAMS = 0x3
INITIAL_WINDOW_SIZE = 0x4
ENABLE_PUSH = 0x2
PUSHED_REQUEST = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":path", b"/pushed.js"),
    (b":authority", b"example.com"),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def goaway_of(engine: Engine) -> GoAwayFrame:
    frames = drained(engine)
    assert frames and isinstance(frames[-1], GoAwayFrame), frames[-5:]
    return frames[-1]


def feed_until_error(
    engine: Engine, chunks: Callable[[int], bytes], limit: int, drain: bool = True
) -> tuple[int, list[Event], ProtocolError]:
    """
    Feed ``chunks(i)`` for i in range(limit) until the engine raises. Returns
    the index that raised, all events before it and the exception.
    """
    events: list[Event] = []
    for i in range(limit):
        try:
            events += engine.receive_data(chunks(i))
        except ProtocolError as exc:
            return i, events, exc
        if drain:
            engine.data_to_send()
    pytest.fail(f"no connection error after {limit} rounds")


# -- A2, A5, A4: control-frame floods --------------------------------------------------


class TestControlFloods:
    @pytest.mark.parametrize("side", ["client", "server"])
    def test_1001_pings_without_draining_is_enhance_your_calm(
        self, factory: FrameFactory, side: str
    ) -> None:
        """A2 (CVE-2019-9512), A19: nghttp2's test_nghttp2_session_flooding."""
        engine = make_client(factory) if side == "client" else make_server(factory)
        ping = factory.ping(b"12345678")
        with pytest.raises(EnhanceYourCalmError) as info:
            engine.receive_data(ping * 1001)
        assert info.value.error_code == CALM
        frames = drained(engine)
        acks = [f for f in frames if isinstance(f, PingFrame)]
        # At most 1000 ACKs ever queue (the peer's preface SETTINGS took one token).
        assert 999 <= len(acks) <= 1000 and all("ACK" in f.flags for f in acks)
        assert isinstance(frames[-1], GoAwayFrame) and frames[-1].error_code == CALM

    def test_undrained_ack_queue_alone_trips_the_cap(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """The outbound cap holds even when the rate budget keeps refilling."""
        engine = make_server(factory, clock=clock, max_outbound_control_frames=50)
        i, _, exc = feed_until_error(
            engine, lambda i: (clock.advance(1), factory.ping())[1], 100, drain=False
        )
        assert i == 50 and exc.error_code == CALM
        assert goaway_of(engine).error_code == CALM

    def test_pings_at_a_sane_rate_are_answered_forever(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        engine = make_server(factory, clock=clock)
        ping = factory.ping(b"abcdefgh")
        for _ in range(5000):
            clock.advance(0.011)  # 90/s, under the 100/s refill
            engine.receive_data(ping)
            frames = drained(engine)
            assert len(frames) == 1 and frames[0].opaque_data == b"abcdefgh"

    def test_pings_drained_but_too_fast_exhaust_the_budget(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        engine = make_server(factory, clock=clock)
        i, _, exc = feed_until_error(engine, lambda i: factory.ping(), 5000)
        assert exc.error_code == CALM
        # The 1000-token burst, minus the one the preface SETTINGS took; a
        # frozen clock refills nothing.
        assert i == 999
        assert goaway_of(engine).error_code == CALM

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_1001_settings_without_draining_is_enhance_your_calm(
        self, factory: FrameFactory, side: str
    ) -> None:
        """A5 (CVE-2019-9515)."""
        engine = make_client(factory) if side == "client" else make_server(factory)
        with pytest.raises(EnhanceYourCalmError):
            engine.receive_data(factory.settings({INITIAL_WINDOW_SIZE: 100}) * 1001)
        frames = drained(engine)
        acks = [f for f in frames if isinstance(f, SettingsFrame)]
        assert 999 <= len(acks) <= 1000 and all("ACK" in f.flags for f in acks)
        assert frames[-1].error_code == CALM

    def test_settings_with_too_many_entries_is_enhance_your_calm(
        self, factory: FrameFactory
    ) -> None:
        """Section 5: 32 entries per frame (nghttp2); quart #28 was a 14 KB SETTINGS."""
        engine = make_server(factory)
        engine.receive_data(factory.raw_settings([(0xF0, 1)] * 32))
        assert [f.flags for f in drained(engine)] == [{"ACK"}]
        with pytest.raises(EnhanceYourCalmError):
            engine.receive_data(factory.raw_settings([(0xF0, 1)] * 33))
        assert goaway_of(engine).error_code == CALM

    def test_invalid_requests_each_reset_trip_the_budget(self, factory: FrameFactory) -> None:
        """A4 (CVE-2019-9514): a stream of malformed requests, one RST each."""
        engine = make_server(factory)
        bad = [*CLIENT_REQUEST, (b"connection", b"close")]
        i, events, exc = feed_until_error(
            engine, lambda i: factory.headers(2 * i + 1, bad, end_stream=True), 3000
        )
        assert exc.error_code == CALM
        assert i <= 1000
        assert not any(isinstance(e, RequestReceived) for e in events)
        assert goaway_of(engine).last_stream_id == 2 * i + 1

    def test_invalid_requests_without_draining_trip_the_queue_cap(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        engine = make_server(factory, clock=clock, glitch_rate=1e9)
        bad = [*CLIENT_REQUEST, (b"connection", b"close")]
        i, _, exc = feed_until_error(
            engine,
            lambda i: (clock.advance(1), factory.headers(2 * i + 1, bad, end_stream=True))[1],
            3000,
            drain=False,
        )
        assert exc.error_code == CALM and i == 1000
        frames = drained(engine)
        # The reset that crossed the cap may be queued ahead of the GOAWAY.
        assert 1000 <= len([f for f in frames if isinstance(f, RstStreamFrame)]) <= 1001


# -- A9: Rapid Reset ----------------------------------------------------------------


def _headers_rst(factory: FrameFactory, stream_id: int) -> bytes:
    return factory.headers(stream_id, CLIENT_REQUEST, end_stream=True) + factory.rst_stream(
        stream_id, ErrorCodes.CANCEL
    )


class TestRapidReset:
    def test_2000_headers_and_resets_on_a_frozen_clock_end_in_goaway(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """A9 (CVE-2023-44487): nghttp2's bucket, 1000 burst then 33/s."""
        server = make_server(factory, clock=clock)
        i, events, exc = feed_until_error(server, lambda i: _headers_rst(factory, 2 * i + 1), 2000)
        assert exc.error_code == CALM
        requests = [e for e in events if isinstance(e, RequestReceived)]
        assert len(requests) == 1000 < 2000
        goaway = goaway_of(server)
        assert goaway.error_code == CALM and goaway.last_stream_id == 2 * i + 1

    def test_2000_pairs_in_one_read_end_in_goaway(self, factory: FrameFactory) -> None:
        server = make_server(factory, clock=FakeClock())
        wire = b"".join(_headers_rst(factory, 2 * i + 1) for i in range(2000))
        with pytest.raises(EnhanceYourCalmError):
            server.receive_data(wire)
        assert goaway_of(server).error_code == CALM

    def test_resets_at_the_refill_rate_are_tolerated(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """One second per 33 resets keeps the bucket level: 3000 pairs survive."""
        server = make_server(factory, clock=clock, max_closed_streams=20)
        seen = 0

        def pair(i: int) -> None:
            nonlocal seen
            if i % 33 == 0:
                clock.advance(1.0)
            events = server.receive_data(_headers_rst(factory, 2 * i + 1))
            seen += sum(isinstance(e, RequestReceived) for e in events)
            assert drained(server) == []

        # Nothing is kept per reset stream (beyond the bounded closed-id memory).
        assert hyper_growth_per_round(pair, warm=500, rounds=2500) < 50
        assert seen == 3000
        assert server.open_inbound_streams == 0

    def test_client_is_not_exposed_to_rapid_reset_of_its_own_streams(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        """The server resetting our requests (at a sane rate) is not an attack."""
        client = make_client(factory, clock=clock)
        for i in range(1500):
            if i % 30 == 0:
                clock.advance(1.0)
            sid = 2 * i + 1
            client.send_headers(sid, CLIENT_REQUEST, end_stream=True)
            client.data_to_send()
            events = client.receive_data(factory.rst_stream(sid, REFUSED_STREAM))
            assert events == [StreamReset(sid, REFUSED_STREAM, True)]


# -- A8: empty frames ------------------------------------------------------------------


class TestEmptyFrames:
    def test_empty_data_flood_is_enhance_your_calm(self, factory: FrameFactory) -> None:
        """A8 (CVE-2019-9518)."""
        server = make_server(factory)
        server.receive_data(factory.headers(1, POST_REQUEST))
        i, events, exc = feed_until_error(server, lambda i: factory.data(1, b""), 5000)
        assert exc.error_code == CALM and i == 1000
        assert all(isinstance(e, DataReceived) and e.data == b"" for e in events)
        assert goaway_of(server).last_stream_id == 1

    def test_server_flooding_a_client_with_empty_data_gets_goaway(
        self, factory: FrameFactory
    ) -> None:
        """A19: a malicious server gets the same treatment."""
        client = make_client(factory)
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        client.data_to_send()
        client.receive_data(factory.headers(1, RESPONSE_200))
        i, _, exc = feed_until_error(client, lambda i: factory.data(1, b""), 5000)
        assert exc.error_code == CALM and i == 1000
        goaway = goaway_of(client)
        assert goaway.error_code == CALM and goaway.last_stream_id == 0

    def test_empty_header_fragments_flood_is_enhance_your_calm(
        self, factory: FrameFactory
    ) -> None:
        # Unanswered requests would otherwise hit the concurrency limit first.
        server = make_server(factory, max_concurrent_streams=10_000)

        def empty_then_block(i: int) -> bytes:
            sid = 2 * i + 1
            block = factory.encode(CLIENT_REQUEST)
            return factory.headers_block(
                sid, b"", end_stream=True, end_headers=False
            ) + factory.continuation(sid, block, end_headers=True)

        i, _, exc = feed_until_error(server, empty_then_block, 5000)
        assert exc.error_code == CALM and i == 1000

    def test_empty_final_data_frames_are_not_glitches(self, factory: FrameFactory) -> None:
        """An empty DATA that ends the stream is the normal way to finish."""
        server = make_server(factory, max_closed_streams=20)

        def request(i: int) -> None:
            sid = 2 * i + 1
            server.receive_data(factory.headers(sid, POST_REQUEST) + factory.data(sid, b"", True))
            server.send_headers(sid, RESPONSE_200, end_stream=True)
            server.data_to_send()

        assert hyper_growth_per_round(request, warm=200, rounds=1800) < 50
        assert server.error is None and server.open_inbound_streams == 0


class TestWindowUpdateFloods:
    """W2: WINDOW_UPDATEs beyond what the DATA we send calls for are glitches
    (Envoy's allowance: 5 + 2 * (streams + 10 * DATA frames sent))."""

    def test_window_update_flood_without_data_sent_is_enhance_your_calm(
        self, factory: FrameFactory
    ) -> None:
        server = make_server(factory)
        server.receive_data(factory.headers(1, CLIENT_REQUEST, end_stream=True))
        server.send_headers(1, RESPONSE_200)
        i, _, exc = feed_until_error(server, lambda i: factory.window_update(0, 1), 5000)
        assert exc.error_code == CALM
        assert i == 5 + 2 * 1 + 1000  # the allowance, then the glitch burst
        assert b"WINDOW_UPDATE" in goaway_of(server).additional_data

    def test_window_updates_following_the_data_sent_are_tolerated(
        self, factory: FrameFactory
    ) -> None:
        """A client that answers each 1-byte DATA frame with two WINDOW_UPDATEs
        (stream and connection) for 5,000 frames is a slow reader, not a flood."""
        server = make_server(factory, max_frame_size=None)
        server.receive_data(
            factory.settings({INITIAL_WINDOW_SIZE: 1}) + factory.headers(1, CLIENT_REQUEST, True)
        )
        server.send_headers(1, RESPONSE_200)
        server.data_to_send()
        for _ in range(5000):
            assert server.send_data(1, b"x" * 10) == 1
            server.receive_data(factory.window_update(1, 1) + factory.window_update(0, 1))
        assert server.error is None

    def test_window_update_allowance_counts_new_streams(self, factory: FrameFactory) -> None:
        """Two WINDOW_UPDATEs per stream opened need no data sent first."""
        server = make_server(factory, max_concurrent_streams=10_000)
        for i in range(2000):
            sid = 2 * i + 1
            server.receive_data(
                factory.headers(sid, CLIENT_REQUEST, end_stream=True)
                + factory.window_update(sid, 100)
                + factory.window_update(0, 100)
            )
            server.data_to_send()
        assert server.error is None


class TestFramesThatReachNobody:
    def test_small_data_on_a_stream_we_reset_is_a_glitch(self, factory: FrameFactory) -> None:
        """1-byte DATA frames on a stream we reset cost a parse each and reach
        nobody: glitches, so the flood ends in ENHANCE_YOUR_CALM."""
        server = make_server(factory)
        server.receive_data(factory.headers(1, POST_REQUEST))
        server.reset_stream(1, ErrorCodes.NO_ERROR)
        server.data_to_send()
        i, events, exc = feed_until_error(server, lambda i: factory.data(1, b"x"), 5000)
        assert exc.error_code == CALM and i == 1000 and events == []
        assert b"reset" in goaway_of(server).additional_data

    def test_full_frames_crossing_our_reset_are_ignored_quietly(
        self, factory: FrameFactory
    ) -> None:
        """What a client had in flight when we reset its upload: full frames,
        as many as it likes, and a short last one ending the stream."""
        server = make_server(factory)
        server.receive_data(factory.headers(1, POST_REQUEST))
        server.reset_stream(1, ErrorCodes.NO_ERROR)
        for _ in range(3000):
            assert server.receive_data(factory.data(1, b"x" * 16384)) == []
            server.data_to_send()
        server.receive_data(factory.data(1, b"x", end_stream=True))
        assert server.error is None

    def test_priority_beyond_100_per_stream_is_a_glitch(self, factory: FrameFactory) -> None:
        """Envoy's allowance: 100 PRIORITY frames per stream made (plus 100)."""
        server = make_server(factory)
        server.receive_data(factory.headers(1, POST_REQUEST))
        i, _, exc = feed_until_error(server, lambda i: factory.priority(1, 0), 5000)
        assert exc.error_code == CALM and i == 200 + 1000


class TestPartialFrames:
    def test_is_mid_frame_while_a_frame_or_a_header_block_is_incomplete(
        self, factory: FrameFactory
    ) -> None:
        server = make_server(factory)
        assert not server.is_mid_frame
        ping = factory.ping(b"12345678")
        server.receive_data(ping[:5])
        assert server.is_mid_frame
        server.receive_data(ping[5:])
        assert not server.is_mid_frame
        block = factory.encode(CLIENT_REQUEST)
        server.receive_data(factory.headers_block(1, block[:3], end_headers=False))
        assert server.is_mid_frame  # whole frames, but the block goes on
        server.receive_data(factory.continuation(1, block[3:], end_headers=True))
        assert not server.is_mid_frame

    def test_count_glitch_spends_the_glitch_budget(self, factory: FrameFactory) -> None:
        server = make_server(factory)
        for _ in range(1000):
            server.count_glitch("bodies nobody reads")
        with pytest.raises(EnhanceYourCalmError):
            server.count_glitch("bodies nobody reads")
        goaway = goaway_of(server)
        assert goaway.error_code == CALM and b"bodies nobody reads" in goaway.additional_data


# -- A12: MadeYouReset --------------------------------------------------------------------


def _primitive_frames(factory: FrameFactory) -> dict[str, Callable[[int], bytes]]:
    """Each opens a valid request on ``sid`` and then makes *us* reset it."""
    get = CLIENT_REQUEST
    post = POST_REQUEST
    h = factory.headers

    return {
        "window-update-zero": lambda s: h(s, post) + factory.window_update(s, 0),
        "window-update-overflow": lambda s: h(s, post) + factory.window_update(s, 2**31 - 1),
        "priority-wrong-length": lambda s: h(s, post) + factory.raw_frame(0x2, 0, s, b"\0" * 4),
        "priority-on-itself": lambda s: h(s, post) + factory.priority(s, depends_on=s),
        "headers-after-end-stream": lambda s: (
            h(s, get, end_stream=True) + h(s, [(b"x-t", b"1")], end_stream=True)
        ),
        "data-after-end-stream": lambda s: h(s, get, end_stream=True) + factory.data(s, b"x"),
        "data-beyond-window": lambda s: h(s, post) + factory.data(s, b"x" * 17),
        "content-length-mismatch": lambda s: (
            h(s, [*post, (b"content-length", b"1")]) + factory.data(s, b"xy", end_stream=True)
        ),
        "malformed-trailers": lambda s: h(s, post) + h(s, [(b":path", b"/")], end_stream=True),
    }


_PRIMITIVES = list(_primitive_frames(FrameFactory()))


class TestMadeYouReset:
    @pytest.mark.parametrize("primitive", _PRIMITIVES)
    def test_each_stream_error_primitive_on_2000_streams_ends_in_goaway(
        self, factory: FrameFactory, clock: FakeClock, primitive: str
    ) -> None:
        """A12 (CVE-2025-8671): our own resets are budgeted; the peer gets GOAWAY."""
        server = make_server(factory, clock=clock, initial_window_size=16)
        build = _primitive_frames(factory)[primitive]
        resets = 0
        for i in range(2000):
            sid = 2 * i + 1
            try:
                events = server.receive_data(build(sid))
            except EnhanceYourCalmError:
                break
            frames = drained(server)
            assert [e.error_code for e in events if isinstance(e, StreamReset)] == [
                f.error_code for f in frames if isinstance(f, RstStreamFrame)
            ]
            resets += sum(isinstance(f, RstStreamFrame) for f in frames)
        else:
            pytest.fail("2000 stream errors were tolerated")
        assert resets == 1000
        assert goaway_of(server).error_code == CALM

    def test_stream_errors_at_a_slow_rate_are_tolerated(
        self, factory: FrameFactory, clock: FakeClock
    ) -> None:
        server = make_server(factory, clock=clock)
        build = _primitive_frames(factory)["window-update-zero"]
        for i in range(2000):
            clock.advance(0.01)  # 100/s, well under 330/s
            server.receive_data(build(2 * i + 1))
            drained(server)
        assert server.error is None


# -- A14: remembered closed streams --------------------------------------------------------


class TestClosedStreamMemory:
    def test_closed_stream_ids_are_bounded(self, factory: FrameFactory) -> None:
        server = make_server(factory, max_closed_streams=10)

        def stream(i: int) -> None:
            sid = 2 * i + 1
            server.receive_data(factory.headers(sid, CLIENT_REQUEST, end_stream=True))
            if i % 2:
                server.reset_stream(sid)
            else:
                server.send_headers(sid, RESPONSE_200, end_stream=True)
            server.data_to_send()

        # Past the first ten, each closed id pushes the oldest out: memory stays flat.
        assert hyper_growth_per_round(stream, warm=50, rounds=1000) < 50
        assert server.open_inbound_streams == 0

    def test_late_data_on_a_forgotten_stream_is_only_a_stream_error(
        self, factory: FrameFactory
    ) -> None:
        server = make_server(factory, max_closed_streams=2)
        for sid in (1, 3, 5, 7):
            server.receive_data(factory.headers(sid, CLIENT_REQUEST, end_stream=True))
            server.send_headers(sid, RESPONSE_200, end_stream=True)
        drained(server)  # stream 1 is the oldest of four closed: forgotten
        events = server.receive_data(factory.data(1, b"late"))
        assert events == [StreamReset(1, ErrorCodes.STREAM_CLOSED, False)]
        assert [(f.stream_id, f.error_code) for f in drained(server)] == [
            (1, ErrorCodes.STREAM_CLOSED)
        ]
        assert server.error is None

    def test_refused_streams_are_bounded_too(self, factory: FrameFactory) -> None:
        server = make_server(factory, max_concurrent_streams=1, max_closed_streams=5)
        server.receive_data(factory.headers(1, CLIENT_REQUEST))

        def refused(i: int) -> None:
            server.receive_data(factory.headers(2 * i + 3, CLIENT_REQUEST))
            server.data_to_send()

        # 199 in all, as many as the glitch budget lets a peer get refused.
        assert hyper_growth_per_round(refused, warm=49, rounds=150) < 50
        assert server.open_inbound_streams == 1
        assert server.stream_state(1) == StreamState.OPEN


# -- A18: reserved streams ------------------------------------------------------------------


class TestReservedStreams:
    def _client(self, factory: FrameFactory, **kw: Any) -> Engine:
        client = make_client(factory, enable_push=True, **kw)
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        client.data_to_send()
        return client

    def test_promises_beyond_the_reserved_cap_are_refused(self, factory: FrameFactory) -> None:
        """A18, U2: nghttp2 caps reserved(remote) streams; we refuse the excess."""
        client = self._client(factory, max_reserved_streams=3)
        wire = b"".join(factory.push_promise(1, p, PUSHED_REQUEST) for p in (2, 4, 6, 8))
        events = client.receive_data(wire)
        assert [e.stream_id for e in events if isinstance(e, PushPromiseReceived)] == [2, 4, 6]
        assert [(f.stream_id, f.error_code) for f in drained(client)] == [(8, REFUSED_STREAM)]
        # A pushed response that completes frees its reservation.
        events = client.receive_data(
            factory.headers(2, RESPONSE_200, end_stream=True)
            + factory.push_promise(1, 10, PUSHED_REQUEST)
        )
        assert [type(e) for e in events] == [ResponseReceived, PushPromiseReceived]
        # 4, 6 and 10 hold the three reservations: the next promise is refused again.
        client.receive_data(factory.push_promise(1, 12, PUSHED_REQUEST))
        assert [(f.stream_id, f.error_code) for f in drained(client)] == [(12, REFUSED_STREAM)]

    def test_promise_flood_ends_in_goaway(self, factory: FrameFactory) -> None:
        client = self._client(factory, max_reserved_streams=0)
        i, _, exc = feed_until_error(
            client, lambda i: factory.push_promise(1, 2 * i + 2, PUSHED_REQUEST), 5000
        )
        assert exc.error_code == CALM and i == 1000

    def test_default_cap_is_200(self) -> None:
        assert EngineConfig().max_reserved_streams == 200


# -- T8, T9, A19: MAX_CONCURRENT_STREAMS ----------------------------------------------------


class TestConcurrencyLimits:
    def test_server_refuses_streams_over_its_limit(self, factory: FrameFactory) -> None:
        """T8: REFUSED_STREAM, and the application never sees the request."""
        server = make_server(factory, max_concurrent_streams=2)
        server.receive_data(
            factory.headers(1, CLIENT_REQUEST) + factory.headers(3, CLIENT_REQUEST)
        )
        extra = [(b"x-refused", b"but-decoded")]
        events = server.receive_data(factory.headers(5, CLIENT_REQUEST + extra))
        assert events == []
        assert [(f.stream_id, f.error_code) for f in drained(server)] == [(5, REFUSED_STREAM)]
        # A slot frees when a stream closes; HPACK stayed in sync meanwhile.
        server.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL))
        events = server.receive_data(factory.headers(7, CLIENT_REQUEST + extra))
        assert events == [RequestReceived(7, CLIENT_REQUEST + extra, False)]
        assert server.open_inbound_streams == 2

    def test_server_limit_applies_only_after_the_client_acks_it(
        self, factory: FrameFactory
    ) -> None:
        """S11: until the ACK the RFC default (unlimited) is in force."""
        server = Engine(EngineConfig(client_side=False, max_concurrent_streams=2))
        server.initiate_connection()
        server.data_to_send()
        wire = factory.preface() + factory.settings()
        wire += b"".join(factory.headers(2 * i + 1, CLIENT_REQUEST) for i in range(5))
        events = server.receive_data(wire)
        assert len([e for e in events if isinstance(e, RequestReceived)]) == 5
        server.receive_data(factory.settings(ack=True))
        server.data_to_send()
        assert server.receive_data(factory.headers(11, CLIENT_REQUEST)) == []
        assert [(f.stream_id, f.error_code) for f in drained(server)] == [(11, REFUSED_STREAM)]

    def test_server_advertises_100_by_default(self) -> None:
        server = Engine(client_side=False)
        server.initiate_connection()
        settings = parse_frames(server.data_to_send())[0]
        assert settings.settings[MAX_CONCURRENT_STREAMS] == 100

    def test_client_stops_at_the_servers_limit(self, factory: FrameFactory) -> None:
        """T9: can_open_stream() turns false and send_headers raises, queuing nothing."""
        client = make_client(factory)
        client.receive_data(factory.settings({MAX_CONCURRENT_STREAMS: 2}))
        client.data_to_send()
        for sid in (1, 3):
            assert client.can_open_stream()
            client.send_headers(sid, CLIENT_REQUEST, end_stream=True)
        client.data_to_send()
        assert not client.can_open_stream()
        with pytest.raises(TooManyStreamsError):
            client.send_headers(5, CLIENT_REQUEST)
        assert client.data_to_send() == b""
        assert client.get_next_available_stream_id() == 5
        client.receive_data(factory.headers(1, RESPONSE_200, end_stream=True))
        assert client.can_open_stream()
        client.send_headers(5, CLIENT_REQUEST, end_stream=True)
        frames = drained(client)
        assert [(type(f), f.stream_id) for f in frames] == [(HeadersFrame, 5)]

    def test_half_closed_streams_count_and_a_reset_frees_the_slot(
        self, factory: FrameFactory
    ) -> None:
        client = make_client(factory)
        client.receive_data(factory.settings({MAX_CONCURRENT_STREAMS: 1}))
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        assert client.stream_state(1) == StreamState.HALF_CLOSED_LOCAL
        assert not client.can_open_stream()
        client.receive_data(factory.rst_stream(1, REFUSED_STREAM))
        assert client.can_open_stream()

    def test_zero_concurrent_streams_blocks_without_spinning(self, factory: FrameFactory) -> None:
        """A19: MAX_CONCURRENT_STREAMS=0 is legal; the client just cannot open."""
        client = make_client(factory)
        client.receive_data(factory.settings({MAX_CONCURRENT_STREAMS: 0}))
        client.data_to_send()
        assert not client.can_open_stream()
        with pytest.raises(TooManyStreamsError):
            client.send_headers(1, CLIENT_REQUEST)
        assert client.data_to_send() == b""

    def test_zero_initial_window_takes_nothing(self, factory: FrameFactory) -> None:
        """A19: INITIAL_WINDOW_SIZE=0 forever: send_data keeps returning 0 and queues nothing."""
        client = make_client(factory)
        client.receive_data(factory.settings({INITIAL_WINDOW_SIZE: 0}))
        client.send_headers(1, POST_REQUEST)
        client.data_to_send()
        for _ in range(100):
            assert client.send_data(1, b"payload") == 0
        assert client.local_flow_control_window(1) == 0
        assert client.data_to_send() == b""

    def test_client_refuses_pushed_responses_over_its_limit(self, factory: FrameFactory) -> None:
        """5.1.2: answering a promise opens a stream, which our limit caps (MUST)."""
        client = make_client(
            factory, enable_push=True, max_concurrent_streams=1, max_reserved_streams=2
        )
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        client.data_to_send()
        client.receive_data(
            factory.push_promise(1, 2, PUSHED_REQUEST) + factory.push_promise(1, 4, PUSHED_REQUEST)
        )
        events = client.receive_data(factory.headers(2, RESPONSE_200))
        assert events == [ResponseReceived(2, RESPONSE_200, False)]
        events = client.receive_data(factory.headers(4, RESPONSE_200))
        assert events == [StreamReset(4, REFUSED_STREAM, False)]
        assert [(f.stream_id, f.error_code) for f in drained(client)] == [(4, REFUSED_STREAM)]
        assert client.open_inbound_streams == 1
        # Neither promise holds a reservation any more: two new ones are accepted.
        events = client.receive_data(
            factory.push_promise(1, 6, PUSHED_REQUEST) + factory.push_promise(1, 8, PUSHED_REQUEST)
        )
        assert [e.stream_id for e in events if isinstance(e, PushPromiseReceived)] == [6, 8]
        assert drained(client) == []

    def test_server_pushes_respect_the_clients_limit(self, factory: FrameFactory) -> None:
        """Reserved streams don't count (5.1.2), but answering a promise opens one."""
        server = make_server(factory)
        server.receive_data(
            factory.settings({ENABLE_PUSH: 1, MAX_CONCURRENT_STREAMS: 1})
            + factory.headers(1, CLIENT_REQUEST, end_stream=True)
        )
        server.push_stream(1, 2, PUSHED_REQUEST)
        server.push_stream(1, 4, PUSHED_REQUEST)
        server.send_headers(2, RESPONSE_200)
        with pytest.raises(TooManyStreamsError):
            server.send_headers(4, RESPONSE_200)
        server.send_data(2, b"", end_stream=True)
        server.send_headers(4, RESPONSE_200, end_stream=True)
        frames = drained(server)
        assert [f.stream_id for f in frames if isinstance(f, HeadersFrame)] == [2, 4]


# -- section 5: the remaining limits ------------------------------------------------------------


class TestFrameAndHeaderLimits:
    def test_frame_above_our_max_frame_size_is_frame_size_error(
        self, factory: FrameFactory
    ) -> None:
        """Section 5 / L1: checked on the 9-byte header, before buffering the body."""
        server = make_server(factory)
        server.receive_data(factory.headers(1, POST_REQUEST))
        assert server.receive_data(factory.data(1, b"x" * 16384))[0].data == b"x" * 16384
        header = factory.data(1, b"x" * 16385)[:9]
        with pytest.raises(FrameSizeError) as info:
            server.receive_data(header)
        assert info.value.error_code == ErrorCodes.FRAME_SIZE_ERROR
        assert goaway_of(server).error_code == ErrorCodes.FRAME_SIZE_ERROR

    def test_larger_max_frame_size_is_accepted_once_acked(self, factory: FrameFactory) -> None:
        server = make_server(factory, max_frame_size=20000)
        server.receive_data(factory.headers(1, POST_REQUEST))
        events = server.receive_data(factory.data(1, b"y" * 20000))
        assert events == [DataReceived(1, b"y" * 20000, 20000, False)]

    def test_header_list_above_the_limit_is_a_connection_error(
        self, factory: FrameFactory
    ) -> None:
        """A11 / section 5: SETTINGS_MAX_HEADER_LIST_SIZE is enforced, not just advertised."""
        server = make_server(factory, max_header_list_size=1000)
        big = [*CLIENT_REQUEST, (b"x-big", b"v" * 1000)]
        with pytest.raises(HeaderListTooLargeError) as info:
            server.receive_data(factory.headers(1, big))
        assert info.value.error_code == CALM
        assert goaway_of(server).error_code == CALM

    def test_compressed_block_above_the_limit_is_enhance_your_calm(
        self, factory: FrameFactory
    ) -> None:
        server = make_server(factory, max_header_block_size=1000)
        block = factory.encode([*CLIENT_REQUEST, (b"x-big", b"v" * 2000)])
        wire = factory.headers_block(1, block[:600], end_headers=False) + factory.continuation(
            1, block[600:], end_headers=True
        )
        with pytest.raises(EnhanceYourCalmError):
            server.receive_data(wire)
        assert goaway_of(server).error_code == CALM

    @pytest.mark.parametrize(("count", "ok"), [(16, True), (17, False)])
    def test_continuation_frames_per_block_are_capped(
        self, factory: FrameFactory, count: int, ok: bool
    ) -> None:
        """A10 / section 5: 16 CONTINUATIONs per block by default."""
        server = make_server(factory)
        block = factory.encode([*CLIENT_REQUEST, (b"x-long", b"q" * 200)])
        step = -(-len(block) // (count + 1))
        pieces = [block[i : i + step] for i in range(0, len(block), step)]
        pieces += [b""] * (count + 1 - len(pieces))
        wire = factory.headers_block(1, pieces[0], end_stream=True, end_headers=False)
        for n, piece in enumerate(pieces[1:], 1):
            wire += factory.continuation(1, piece, end_headers=n == count)
        if ok:
            events = server.receive_data(wire)
            assert [type(e) for e in events] == [RequestReceived]
        else:
            with pytest.raises(EnhanceYourCalmError):
                server.receive_data(wire)
            assert goaway_of(server).error_code == CALM

    def test_peer_header_table_size_is_capped_for_our_encoder(self, factory: FrameFactory) -> None:
        """A14: a peer may advertise 2**32-1; our encoder keeps at most 64 KiB."""
        client = make_client(factory)
        client.receive_data(factory.settings({0x1: 2**32 - 1}))
        drained(client)
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        (headers,) = parse_frames(client.data_to_send())
        # The peer decodes our block with the table it allowed; the block itself
        # sets the size our encoder uses.
        decoder = Decoder()
        decoder.max_allowed_table_size = 2**32 - 1
        assert decoder.decode(headers.data, raw=True) == CLIENT_REQUEST
        assert decoder.header_table_size == 65536
