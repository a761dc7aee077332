"""
ClientCore from bytes alone: every policy decision the drivers rely on.

A client core faces either the server core (``pair``, support.cores.CorePair)
or a scripted server (``factory``, support.cores.client_against) for what
the server core never does: refuse an early stream, send GOAWAY with a low
last-stream-id, push for another origin, break the protocol. Tests assert on
the frames the client queues and on what its calls return or raise.
"""

from __future__ import annotations

import gc

import pytest
from hpack import Decoder
from hyperframe.frame import (
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from support.cores import GET, POST, CorePair, EveryByte, client_against, client_core
from support.frames import RESPONSE_200, FrameFactory, parse_frames

from hyper.core.client import ClientCore, normalize_origin
from hyper.engine.config import SettingCodes
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import ConnectionError as H2ConnectionError
from hyper.engine.exceptions import (
    ConnectionLostError,
    ConnectionTerminatedError,
    ProtocolError,
    StreamRefusedError,
    StreamResetError,
)

MAX_CONCURRENT_STREAMS = SettingCodes.MAX_CONCURRENT_STREAMS
INITIAL_WINDOW_SIZE = SettingCodes.INITIAL_WINDOW_SIZE


def sent(core: ClientCore) -> list[Frame]:
    """The frames the client queued since the last look."""
    return parse_frames(core.data_to_send())


def resets(frames: list[Frame]) -> list[tuple[int, int]]:
    return [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)]


def stream_updates(frames: list[Frame]) -> list[tuple[int, int]]:
    """(stream id, increment) of each stream-level WINDOW_UPDATE."""
    return [
        (f.stream_id, f.window_increment)
        for f in frames
        if isinstance(f, WindowUpdateFrame) and f.stream_id
    ]


def connection_credit(frames: list[Frame]) -> int:
    return sum(
        f.window_increment for f in frames if isinstance(f, WindowUpdateFrame) and not f.stream_id
    )


def open_get(core: ClientCore, headers: list[tuple[bytes, bytes]] = GET) -> int:
    opened = core.open_stream(headers, True)
    assert opened is not None
    core.data_to_send()
    return opened[0].stream_id


class TestExchange:
    def test_a_response_is_read_with_its_body_and_trailers(self, pair: CorePair) -> None:
        stream, request = pair.request()
        server = pair.server
        server.send_headers(request, [(b":status", b"103"), (b"link", b"</a.css>")], False)
        server.send_headers(request, RESPONSE_200, False)
        server.send_data(request, b"hello ", False)
        server.send_data(request, b"world", False)
        server.send_trailers(request, [(b"grpc-status", b"0")])
        pair.to_client()
        client = pair.client
        assert client.response_ready(stream)
        client.check_response(stream)
        assert stream.informational == [[(b":status", b"103"), (b"link", b"</a.css>")]]
        assert stream.headers == RESPONSE_200
        assert pair.read_all(stream) == b"hello world"
        assert stream.trailers == [(b"grpc-status", b"0")]
        assert client.find(stream.stream_id) is None, "a drained stream is forgotten"

    def test_nothing_is_ready_before_the_response_arrives(self, pair: CorePair) -> None:
        stream, request = pair.request()
        assert not pair.client.response_ready(stream)
        pair.server.send_headers(request, RESPONSE_200, False)
        pair.to_client()
        assert pair.client.response_ready(stream)
        assert not pair.client.body_ready(stream)
        pair.server.send_data(request, b"x", True)
        pair.to_client()
        assert pair.client.body_ready(stream)


class TestRefusedStreams:
    def test_a_refused_stream_fails_and_says_it_is_safe_to_retry(
        self, factory: FrameFactory
    ) -> None:
        core = client_against(factory)
        stream = core.find(open_get(core))
        assert stream is not None
        core.receive_data(factory.rst_stream(1, ErrorCodes.REFUSED_STREAM))
        assert core.response_ready(stream)
        with pytest.raises(StreamRefusedError, match="safe to retry") as info:
            core.check_response(stream)
        assert info.value.error_code == ErrorCodes.REFUSED_STREAM
        assert core.find(1) is None
        assert core.is_usable, "one refused stream does not end the connection"

    def test_another_reset_is_a_plain_stream_reset(self, factory: FrameFactory) -> None:
        core = client_against(factory)
        stream = core.find(open_get(core))
        assert stream is not None
        core.receive_data(factory.rst_stream(1, ErrorCodes.INTERNAL_ERROR))
        with pytest.raises(StreamResetError) as info:
            core.check_response(stream)
        assert type(info.value) is StreamResetError
        assert info.value.error_code == ErrorCodes.INTERNAL_ERROR

    def test_a_reset_after_the_whole_response_leaves_it_standing(
        self, factory: FrameFactory
    ) -> None:
        """RFC 9113 8.1: a server may reset an upload it no longer wants."""
        core = client_against(factory)
        opened = core.open_stream(POST, False)
        assert opened is not None
        stream = opened[0]
        core.receive_data(
            factory.headers(1, RESPONSE_200)
            + factory.data(1, b"done", end_stream=True)
            + factory.rst_stream(1, ErrorCodes.NO_ERROR)
        )
        core.check_response(stream)
        assert core.read(stream, None) == [b"done"]

    def test_streams_above_goaway_fail_safe_to_retry_and_those_below_finish(
        self, factory: FrameFactory
    ) -> None:
        core = client_against(factory)
        streams = [core.find(open_get(core)) for _ in range(3)]
        assert [s.stream_id for s in streams if s is not None] == [1, 3, 5]
        one, three, five = streams
        assert one is not None and three is not None and five is not None
        core.receive_data(factory.goaway(3, ErrorCodes.NO_ERROR))
        assert not core.is_usable
        assert core.open_stream(GET, True) is None, "no new stream after GOAWAY"
        with pytest.raises(StreamRefusedError, match=r"GOAWAY \(last stream 3\); safe to retry"):
            core.check_response(five)
        assert one.error is None and three.error is None
        core.receive_data(
            factory.headers(1, RESPONSE_200)
            + factory.data(1, b"one", end_stream=True)
            + factory.headers(3, RESPONSE_200)
            + factory.data(3, b"three", end_stream=True)
        )
        assert core.read(one, None) == [b"one"]
        assert sent(core) == [], "stream 3 is still to be read: no close yet"
        assert core.error is None
        assert core.read(three, None) == [b"three"]
        assert core.read(three, None) == []
        # Drain-then-close (RFC 9113 6.8): the last stream done, we close.
        (goaway,) = sent(core)
        assert isinstance(goaway, GoAwayFrame) and goaway.error_code == ErrorCodes.NO_ERROR
        assert core.wants_teardown
        assert isinstance(core.error, ConnectionTerminatedError)
        assert core.is_finished

    def test_goaway_with_nothing_in_flight_closes_at_once(self, factory: FrameFactory) -> None:
        core = client_against(factory)
        core.receive_data(factory.goaway(0, ErrorCodes.NO_ERROR))
        assert [type(f) for f in sent(core)] == [GoAwayFrame]
        assert core.wants_teardown

    def test_a_ping_in_flight_holds_the_close_until_forgotten(self, factory: FrameFactory) -> None:
        core = client_against(factory)
        core.ping(b"rtt-ping")
        sent(core)
        core.receive_data(factory.goaway(0, ErrorCodes.NO_ERROR))
        assert sent(core) == [] and not core.wants_teardown
        core.receive_data(factory.ping(b"rtt-ping", ack=True))
        assert core.ping_acked(b"rtt-ping")
        core.forget_ping(b"rtt-ping")
        assert [type(f) for f in sent(core)] == [GoAwayFrame]
        assert core.wants_teardown


class TestWindowCredit:
    """RFC 9113 5.2.2 (DESIGN, "Flow control"): a stream's window comes back
    as the application reads; the connection's as data arrives."""

    @pytest.fixture
    def core(self, factory: FrameFactory) -> ClientCore:
        return client_against(factory, window_manager=EveryByte)

    def test_stream_window_comes_back_as_the_body_is_read(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        stream = core.find(open_get(core))
        assert stream is not None
        core.receive_data(
            factory.headers(1, RESPONSE_200)
            + factory.data(1, b"a" * 1000)
            + factory.data(1, b"b" * 500)
        )
        arrived = sent(core)
        assert connection_credit(arrived) == 1500, "the connection's window: on arrival"
        assert stream_updates(arrived) == [], "the stream's window: not on arrival"
        out = core.read(stream, 300)
        assert b"".join(out) == b"a" * 300
        assert stream_updates(sent(core)) == [(1, 300)]
        out = core.read(stream, 1000)
        assert b"".join(out) == b"a" * 700 + b"b" * 300
        assert stream_updates(sent(core)) == [(1, 1000)]
        assert b"".join(core.read(stream, None)) == b"b" * 200
        assert stream_updates(sent(core)) == [(1, 200)]

    def test_an_unread_stream_gives_no_window_back(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        stream = core.find(open_get(core))
        assert stream is not None
        core.receive_data(factory.headers(1, RESPONSE_200))
        for _ in range(3):
            core.receive_data(factory.data(1, b"z" * 1000))
        assert stream_updates(sent(core)) == []
        assert stream.buffered == 3000

    def test_window_given_back_early_for_pushes_is_not_given_again(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        """``pushes_ready`` credits buffered body so the server can reach its
        pushes behind it; reading that body later credits nothing twice."""
        stream = core.find(open_get(core))
        assert stream is not None
        core.receive_data(factory.headers(1, RESPONSE_200) + factory.data(1, b"p" * 800))
        sent(core)
        assert not core.pushes_ready(stream)
        assert stream_updates(sent(core)) == [(1, 800)]
        assert b"".join(core.read(stream, 500)) == b"p" * 500
        assert b"".join(core.read(stream, None)) == b"p" * 300
        assert stream_updates(sent(core)) == []
        core.receive_data(factory.data(1, b"q" * 200))
        sent(core)
        assert b"".join(core.read(stream, None)) == b"q" * 200
        assert stream_updates(sent(core)) == [(1, 200)]


class TestRelease:
    def test_releasing_an_open_stream_resets_it_with_cancel(self, pair: CorePair) -> None:
        stream, request = pair.request()
        pair.server.send_headers(request, RESPONSE_200, False)
        pair.to_client()
        pair.client.release(stream)
        assert resets(pair.to_server()) == [(1, ErrorCodes.CANCEL)]
        assert pair.client.find(1) is None
        with pytest.raises(StreamResetError) as info:
            pair.server.send_data(request, b"late", True)
        assert info.value.error_code == ErrorCodes.CANCEL

    def test_releasing_a_finished_stream_sends_nothing(self, pair: CorePair) -> None:
        stream, request = pair.request()
        pair.respond(request, b"all of it")
        pair.to_client()
        pair.client.release(stream)
        assert pair.to_server() == []
        assert pair.client.find(1) is None

    def test_an_abandoned_stream_is_released_by_the_next_call(self, pair: CorePair) -> None:
        """``abandon`` runs in ``__del__``, in any thread: it only queues."""
        stream, _ = pair.request()
        pair.client.abandon(stream)
        assert pair.to_server() == []
        assert pair.client.has_abandoned
        pair.client.reap()
        assert resets(pair.to_server()) == [(1, ErrorCodes.CANCEL)]
        assert not pair.client.has_abandoned

    def test_bytes_arriving_reap_abandoned_streams(self, pair: CorePair) -> None:
        stream, request = pair.request()
        pair.client.abandon(stream)
        pair.server.send_headers(request, RESPONSE_200, False)
        pair.to_client()
        assert resets(pair.to_server()) == [(1, ErrorCodes.CANCEL)]

    def test_a_push_nobody_took_is_cancelled_when_its_record_is_dropped(self) -> None:
        pair = CorePair(client_config={"enable_push": True})
        stream, request = pair.request()
        pushed = pair.server.push(request, [*GET[:2], (b":path", b"/style.css"), GET[3]])
        pair.respond(request, b"page")
        pair.server.send_headers(pushed, RESPONSE_200, False)
        pair.to_client()
        assert [r.stream.stream_id for r in stream.pushes] == [pushed.stream_id]
        assert pair.read_all(stream) == b"page"
        del stream  # the parent, and with it the only reference to the record
        gc.collect()
        pair.client.reap()
        assert resets(pair.to_server()) == [(pushed.stream_id, ErrorCodes.CANCEL)]


class TestPushAuthority:
    """RFC 9113 8.4: a client accepts a push only for an origin its server
    is authoritative for."""

    @pytest.mark.parametrize(
        ("cert_names", "scheme", "authority", "accepted"),
        [
            ((), b"https", b"example.com", True),
            ((), b"https", b"EXAMPLE.com:443", True),
            ((), b"https", b"other.example", False),
            ((), b"http", b"example.com", False),
            ((), b"https", b"example.com:8443", False),
            ((b"*.example.com",), b"https", b"img.example.com", True),
            ((b"*.example.com",), b"https", b"img.example.com:8443", False),
            ((b"*.example.com",), b"https", b"a.b.example.com", False),
            ((b"other.example",), b"https", b"other.example", True),
            ((b"other.example",), b"http", b"other.example", False),
        ],
    )
    def test_a_promise_for_another_origin_is_reset_with_protocol_error(
        self,
        factory: FrameFactory,
        cert_names: tuple[bytes, ...],
        scheme: bytes,
        authority: bytes,
        accepted: bool,
    ) -> None:
        core = client_against(factory, enable_push=True)
        core.origin = normalize_origin(b"https", b"example.com:443")
        core.cert_names = cert_names
        stream = core.find(open_get(core))
        assert stream is not None
        promise = [
            (b":method", b"GET"),
            (b":scheme", scheme),
            (b":path", b"/pushed"),
            (b":authority", authority),
        ]
        core.receive_data(factory.push_promise(1, 2, promise))
        if accepted:
            assert resets(sent(core)) == []
            assert [(r.stream.stream_id, r.request_headers) for r in stream.pushes] == [
                (2, promise)
            ]
        else:
            assert resets(sent(core)) == [(2, ErrorCodes.PROTOCOL_ERROR)]
            assert stream.pushes == []
            assert core.error is None, "a stream error, not a connection error"

    def test_without_an_origin_every_promise_is_taken(self, factory: FrameFactory) -> None:
        core = client_against(factory, enable_push=True)
        stream = core.find(open_get(core))
        assert stream is not None
        promise = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"),
                   (b":authority", b"anywhere.example")]  # fmt: skip
        core.receive_data(factory.push_promise(1, 2, promise))
        assert len(stream.pushes) == 1 and resets(sent(core)) == []


class TestEarlyStream:
    """The first request leaves with the preface, before the server's SETTINGS
    (RFC 9113 3.4); refused (8.7), it goes again under a new id."""

    @pytest.fixture
    def core(self) -> ClientCore:
        core = client_core()
        core.start()
        return core

    def test_the_first_request_goes_out_before_the_servers_settings(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        assert core.can_open_stream()
        opened = core.open_stream(GET, True)
        assert opened is not None
        frames = parse_frames(core.data_to_send())
        assert [type(f) for f in frames] == [SettingsFrame, WindowUpdateFrame, HeadersFrame]
        assert not core.can_open_stream(), "the rest wait for the server's limits"
        core.receive_data(factory.settings())
        assert core.can_open_stream()

    def test_a_refused_early_stream_goes_again_under_a_new_id(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        opened = core.open_stream(GET, True)
        assert opened is not None
        stream = opened[0]
        first = parse_frames(core.data_to_send())[-1]
        core.receive_data(factory.settings() + factory.rst_stream(1, ErrorCodes.REFUSED_STREAM))
        again = [f for f in sent(core) if isinstance(f, HeadersFrame)]
        assert [f.stream_id for f in again] == [3]
        assert "END_STREAM" in again[0].flags
        decoder = Decoder()
        assert decoder.decode(first.data, raw=True) == decoder.decode(again[0].data, raw=True)
        # The application still knows the stream as 1.
        assert core.resolve(1) == 3
        assert core.find(1) is stream and stream.stream_id == 3
        assert not core.response_ready(stream)
        core.receive_data(factory.headers(3, RESPONSE_200) + factory.data(3, b"ok", True))
        core.check_response(stream)
        assert core.read(stream, None) == [b"ok"]

    def test_it_waits_for_a_free_slot(self, core: ClientCore, factory: FrameFactory) -> None:
        opened = core.open_stream(GET, True)
        assert opened is not None
        core.data_to_send()
        core.receive_data(
            factory.settings({MAX_CONCURRENT_STREAMS: 0})
            + factory.rst_stream(1, ErrorCodes.REFUSED_STREAM)
        )
        assert [f for f in sent(core) if isinstance(f, HeadersFrame)] == []
        assert not core.can_open_stream(), "the refused stream goes first"
        core.receive_data(factory.settings({MAX_CONCURRENT_STREAMS: 1}))
        assert [f.stream_id for f in sent(core) if isinstance(f, HeadersFrame)] == [3]
        assert core.find(1) is opened[0]

    def test_a_whole_body_goes_again_with_it(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        opened = core.open_stream(POST, False, b"form=1", True)
        assert opened is not None and opened[1] == 6
        core.data_to_send()
        core.receive_data(factory.settings() + factory.rst_stream(1, ErrorCodes.REFUSED_STREAM))
        frames = [f for f in sent(core) if isinstance(f, (HeadersFrame, DataFrame))]
        assert [(type(f), f.stream_id) for f in frames] == [(HeadersFrame, 3), (DataFrame, 3)]
        assert frames[1].data == b"form=1" and "END_STREAM" in frames[1].flags

    def test_a_second_refusal_is_the_callers_to_retry(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        opened = core.open_stream(GET, True)
        assert opened is not None
        core.data_to_send()
        core.receive_data(factory.settings() + factory.rst_stream(1, ErrorCodes.REFUSED_STREAM))
        core.data_to_send()
        core.receive_data(factory.rst_stream(3, ErrorCodes.REFUSED_STREAM))
        assert [f for f in sent(core) if isinstance(f, HeadersFrame)] == []
        with pytest.raises(StreamRefusedError, match="safe to retry"):
            core.check_response(opened[0])

    def test_refused_by_goaway_it_is_not_sent_again(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        opened = core.open_stream(GET, True)
        assert opened is not None
        core.data_to_send()
        core.receive_data(factory.settings() + factory.goaway(0, ErrorCodes.NO_ERROR))
        assert [f for f in sent(core) if isinstance(f, HeadersFrame)] == []
        with pytest.raises(StreamRefusedError, match=r"GOAWAY.*safe to retry"):
            core.check_response(opened[0])

    def test_a_body_the_new_window_cannot_take_is_the_callers_to_retry(
        self, core: ClientCore, factory: FrameFactory
    ) -> None:
        opened = core.open_stream(POST, False, b"x" * 100, True)
        assert opened is not None
        core.data_to_send()
        core.receive_data(
            factory.settings({INITIAL_WINDOW_SIZE: 10})
            + factory.rst_stream(1, ErrorCodes.REFUSED_STREAM)
        )
        assert resets(sent(core)) == [(3, ErrorCodes.CANCEL)]
        with pytest.raises(StreamRefusedError, match="safe to retry"):
            core.check_response(opened[0])


class TestFailure:
    def test_the_first_error_fails_every_unfinished_stream_with_a_copy_each(
        self, factory: FrameFactory
    ) -> None:
        core = client_against(factory)
        done, waiting, other = (core.find(open_get(core)) for _ in range(3))
        assert done is not None and waiting is not None and other is not None
        core.receive_data(factory.headers(1, RESPONSE_200) + factory.data(1, b"kept", True))
        # DATA on stream 0 breaks the protocol (RFC 9113 6.1).
        core.receive_data(factory.raw_frame(0x0, 0, 0, b"x"))
        (goaway,) = sent(core)
        assert isinstance(goaway, GoAwayFrame)
        assert goaway.error_code == ErrorCodes.PROTOCOL_ERROR
        assert core.wants_teardown
        first = core.error
        assert isinstance(first, ProtocolError)
        errors = []
        for stream in (waiting, other):
            assert core.response_ready(stream)
            with pytest.raises(ProtocolError) as info:
                core.check_response(stream)
            errors.append(info.value)
        assert errors[0] is not errors[1] and first not in errors
        assert all(e.__cause__ is first for e in errors)
        # A stream that had ended before the failure is still read in full.
        core.check_response(done)
        assert core.read(done, None) == [b"kept"]
        assert core.is_finished

    def test_every_later_call_gets_the_failure(self, factory: FrameFactory) -> None:
        core = client_against(factory)
        core.receive_data(factory.raw_frame(0x0, 0, 0, b"x"))
        assert [type(f) for f in sent(core)] == [GoAwayFrame]
        assert core.open_stream(GET, True) is None
        assert not core.is_usable
        with pytest.raises(ProtocolError) as one:
            core.raise_if_failed()
        with pytest.raises(ProtocolError) as two:
            core.ping(b"12345678")
        assert one.value is not two.value
        core.receive_data(factory.ping(b"ignored!"))
        assert sent(core) == [], "a failed connection answers nothing"

    @pytest.mark.parametrize(
        ("settings_seen", "cause", "message"),
        [
            (False, None, "without a word"),
            (True, None, "the server closed the connection$"),
            (True, OSError("reset by peer"), "failed: reset by peer"),
        ],
    )
    def test_a_lost_connection_fails_every_stream_saying_how(
        self,
        factory: FrameFactory,
        settings_seen: bool,
        cause: BaseException | None,
        message: str,
    ) -> None:
        core = client_core()
        core.start()
        opened = core.open_stream(GET, True)
        assert opened is not None
        if settings_seen:
            core.receive_data(factory.settings())
        core.lost(cause)
        with pytest.raises(ConnectionLostError, match=message) as info:
            core.check_response(opened[0])
        assert info.value.__cause__ is core.error
        assert core.wants_teardown

    def test_a_tls_answer_to_a_plaintext_request_says_so(self) -> None:
        core = client_core()
        core.start()
        core.receive_data(b"\x15\x03\x01\x00\x02\x02\x46")  # a TLS alert record
        assert isinstance(core.error, H2ConnectionError)
        assert "this is a TLS port" in str(core.error)

    def test_closing_fails_every_stream_and_says_goodbye(self, pair: CorePair) -> None:
        stream, _ = pair.request()
        pair.client.close()
        (goaway,) = [f for f in pair.to_server() if isinstance(f, GoAwayFrame)]
        assert goaway.error_code == ErrorCodes.NO_ERROR
        with pytest.raises(H2ConnectionError, match="closed by the client"):
            pair.client.check_response(stream)
        with pytest.raises(H2ConnectionError, match="closed by the client"):
            pair.client.raise_if_failed()


class TestWhyUnusable:
    """What the front ends' retry rule (core.origin) asks of a connection."""

    def test_a_connection_is_reused_once_a_request_went_out(self, factory: FrameFactory) -> None:
        core = client_against(factory)
        assert not core.is_reused
        open_get(core)
        assert core.is_reused

    def test_a_usable_connection_has_no_reason(self, factory: FrameFactory) -> None:
        assert client_against(factory).why_unusable() is None

    def test_its_failure(self, factory: FrameFactory) -> None:
        core = client_against(factory)
        core.receive_data(factory.raw_frame(0x4, 0, 0, b"\x00" * 5))  # SETTINGS of length 5
        assert core.why_unusable() is core.error
        assert type(core.error).__name__ == "FrameSizeError"

    def test_a_goaway_names_its_code_and_last_stream(self, factory: FrameFactory) -> None:
        core = client_against(factory)
        open_get(core)
        core.receive_data(factory.goaway(1, ErrorCodes.ENHANCE_YOUR_CALM))
        assert core.error is None  # stream 1 may still finish
        why = core.why_unusable()
        assert isinstance(why, ConnectionTerminatedError)
        assert why.error_code == ErrorCodes.ENHANCE_YOUR_CALM
        assert "GOAWAY(ENHANCE_YOUR_CALM, last stream 1)" in str(why)

    def test_used_up_stream_ids_are_no_failure(self, factory: FrameFactory) -> None:
        core = ClientCore(client_against(factory).engine, first_stream_id=2**31 + 1)
        assert not core.is_usable
        assert core.why_unusable() is None
