"""
Header blocks: CONTINUATION framing, HPACK decoding errors and limits, the
HPACK state kept in sync through resets and refusals, header validation
wiring and outbound sanitisation (RFC 9113 4.3, 6.2, 6.10, 8.2; RFC 7541;
checklist L5, L6, L8, C1-C6, H1-H8, A10, A11).
"""

from __future__ import annotations

import pytest
from hpack import Decoder, HeaderTuple, NeverIndexedHeaderTuple
from hyperframe.frame import ContinuationFrame, HeadersFrame
from support.frames import (
    CLIENT_REQUEST,
    RESPONSE_200,
    FrameFactory,
    assert_connection_error,
    assert_stream_reset,
    frame_header,
    make_client,
    make_server,
    open_request,
    pair,
    parse_frames,
    pump,
)

from hyper.http20.engine import Engine, StreamState
from hyper.http20.errors import ErrorCodes
from hyper.http20.events import (
    DataReceived,
    RequestReceived,
    ResponseReceived,
    StreamReset,
    TrailersReceived,
)
from hyper.http20.exceptions import (
    EnhanceYourCalmError,
    HeaderListTooLargeError,
    HPACKDecodingError,
    InvalidHeaderError,
    ProtocolError,
)

try:
    import tracemalloc
except ImportError:  # PyPy has none: these memory bounds are measured in the CPython run
    tracemalloc = None  # type: ignore[assignment]

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE = range(9)
CONTINUATION = 0x9
END_STREAM = 0x1
END_HEADERS = 0x4

# Memory budget for the flood and bomb tests: the attacks aim at tens of MB.
MEMORY_BOUND = 2 * 1024 * 1024


@pytest.fixture
def client(factory: FrameFactory) -> Engine:
    engine = make_client(factory)
    for stream_id in (1, 3, 5):
        engine.send_headers(stream_id, CLIENT_REQUEST, end_stream=True)
    engine.data_to_send()
    return engine


@pytest.fixture(params=["client", "server"])
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def engine_for(role: str, factory: FrameFactory, **kwargs: object) -> tuple[Engine, list]:  # type: ignore[type-arg]
    """
    An engine of ``role`` with streams 1, 3, 5 ready to receive a header
    block (requests sent, for a client), and the headers the peer sends.
    """
    if role == "server":
        return make_server(factory, **kwargs), CLIENT_REQUEST
    engine = make_client(factory, **kwargs)
    for stream_id in (1, 3, 5):
        engine.send_headers(stream_id, CLIENT_REQUEST, end_stream=True)
    engine.data_to_send()
    return engine, RESPONSE_200


def received_type(role: str) -> type:
    return RequestReceived if role == "server" else ResponseReceived


def split(block: bytes, pieces: int) -> list[bytes]:
    """``block`` in ``pieces`` fragments, some of them empty when it is short."""
    size = -(-len(block) // pieces)
    return [block[i * size : (i + 1) * size] for i in range(pieces)]


def measure_peak(action: object) -> int:
    if tracemalloc is None:
        pytest.skip("no tracemalloc on PyPy; memory bounds are measured in the CPython run")
    tracemalloc.start()
    try:
        action()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class TestHeaderBlockInterleaving:
    """C1, F3: once a block has started, only its CONTINUATIONs may follow."""

    INTERRUPTERS = [
        ("priority-same-stream", frame_header(5, PRIORITY, 0, 1) + b"\x00\x00\x00\x00\x10"),
        ("priority-other-stream", frame_header(5, PRIORITY, 0, 3) + b"\x00\x00\x00\x00\x10"),
        ("data-same-stream", frame_header(2, DATA, 0, 1) + b"hi"),
        ("headers-other-stream", frame_header(1, HEADERS, END_HEADERS, 3) + b"\x88"),
        ("continuation-other-stream", frame_header(1, CONTINUATION, END_HEADERS, 3) + b"\x88"),
        ("ping", frame_header(8, PING, 0, 0) + b"\x00" * 8),
        ("settings", frame_header(0, SETTINGS, 0, 0)),
        ("settings-ack", frame_header(0, SETTINGS, 0x1, 0)),
        ("window-update", frame_header(4, WINDOW_UPDATE, 0, 0) + b"\x00\x00\x00\x01"),
        ("rst-stream", frame_header(4, RST_STREAM, 0, 1) + b"\x00\x00\x00\x08"),
        ("goaway", frame_header(8, GOAWAY, 0, 0) + b"\x00" * 8),
        ("unknown", frame_header(3, 0x16, 0, 0) + b"ext"),
    ]

    @pytest.mark.parametrize(
        "interrupter", [f for _, f in INTERRUPTERS], ids=[n for n, _ in INTERRUPTERS]
    )
    def test_frame_inside_a_header_block_is_protocol_error(
        self, factory: FrameFactory, role: str, interrupter: bytes
    ) -> None:
        engine, headers = engine_for(role, factory)
        block = factory.encode(headers)
        data = factory.headers_block(1, block, end_headers=False) + interrupter
        assert_connection_error(engine, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR)

    def test_nothing_but_continuation_after_push_promise_without_end_headers(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        block = factory.encode(CLIENT_REQUEST)
        data = factory.raw_frame(PUSH_PROMISE, 0, 1, b"\x00\x00\x00\x02" + block) + factory.ping(
            b"12345678"
        )
        assert_connection_error(client, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR)

    def test_block_split_across_reads_waits_for_its_continuation(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        block = factory.encode(CLIENT_REQUEST)
        assert server.receive_data(factory.headers_block(1, block[:3], end_headers=False)) == []
        assert server.data_to_send() == b""
        events = server.receive_data(factory.continuation(1, block[3:], end_headers=True))
        assert events == [RequestReceived(1, CLIENT_REQUEST, False)]


class TestUnexpectedContinuation:
    """C2: CONTINUATION only ever follows a block without END_HEADERS."""

    def test_after_end_headers_on_the_same_stream(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        open_request(server, factory, 1)
        data = factory.continuation(1, factory.encode([(b"x-late", b"1")]), end_headers=True)
        assert_connection_error(server, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR, 1)

    def test_after_a_completed_continuation_sequence(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        block = factory.encode(CLIENT_REQUEST)
        events = server.receive_data(
            factory.headers_block(1, block[:4], end_headers=False)
            + factory.continuation(1, block[4:], end_headers=True)
        )
        assert [type(e) for e in events] == [RequestReceived]
        data = factory.continuation(1, b"", end_headers=True)
        assert_connection_error(server, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR, 1)

    def test_after_data(self, server: Engine, factory: FrameFactory) -> None:
        open_request(server, factory, 1)
        server.receive_data(factory.data(1, b"body"))
        data = factory.continuation(1, b"\x88", end_headers=True)
        assert_connection_error(server, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR, 1)

    def test_on_an_idle_stream(self, server: Engine, factory: FrameFactory) -> None:
        data = factory.continuation(3, factory.encode(CLIENT_REQUEST), end_headers=True)
        assert_connection_error(server, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR, 0)

    def test_on_a_closed_stream(self, server: Engine, factory: FrameFactory) -> None:
        open_request(server, factory, 1, end_stream=True)
        server.send_headers(1, RESPONSE_200, end_stream=True)
        server.data_to_send()
        assert server.stream_state(1) == StreamState.CLOSED
        data = factory.continuation(1, b"", end_headers=True)
        assert_connection_error(server, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR, 1)

    def test_on_the_client_after_the_response(self, client: Engine, factory: FrameFactory) -> None:
        client.receive_data(factory.headers(1, RESPONSE_200))
        data = factory.continuation(1, factory.encode([(b"x-late", b"1")]), end_headers=True)
        assert_connection_error(client, data, ProtocolError, ErrorCodes.PROTOCOL_ERROR)


class TestContinuationSequences:
    """C3, A10, L5: long blocks are fine up to the caps, and fatal beyond them."""

    @pytest.mark.parametrize("pieces", [1, 2, 5, 9, 17])
    def test_block_split_into_many_continuations_decodes(
        self, factory: FrameFactory, role: str, pieces: int
    ) -> None:
        """C3: HEADERS + up to 16 CONTINUATIONs (the default cap), empty fragments included."""
        engine, headers = engine_for(role, factory)
        headers = [*headers, (b"x-filler", b"f" * 40)]
        fragments = split(factory.encode(headers), pieces)
        data = factory.headers_block(1, fragments[0], end_stream=True, end_headers=pieces == 1)
        for i, fragment in enumerate(fragments[1:], start=2):
            data += factory.continuation(1, fragment, end_headers=i == pieces)
        events = engine.receive_data(data)
        assert [(type(e), e.stream_id, e.headers) for e in events] == [
            (received_type(role), 1, headers)
        ]
        assert events[0].end_stream is True  # END_STREAM rides on HEADERS, not the last frame
        assert engine.data_to_send() == b""

    def test_all_empty_continuations_then_the_block(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        data = factory.headers_block(1, b"", end_headers=False)
        data += factory.continuation(1, b"", end_headers=False) * 14
        data += factory.continuation(1, factory.encode(CLIENT_REQUEST), end_headers=True)
        assert server.receive_data(data) == [RequestReceived(1, CLIENT_REQUEST, False)]

    def test_one_continuation_over_the_cap_is_enhance_your_calm(
        self, factory: FrameFactory, role: str
    ) -> None:
        engine, headers = engine_for(role, factory, max_continuation_frames=4)
        fragments = split(factory.encode([*headers, (b"x-f", b"f" * 40)]), 6)
        data = factory.headers_block(1, fragments[0], end_headers=False)
        data += b"".join(factory.continuation(1, f, end_headers=False) for f in fragments[1:-1])
        data += factory.continuation(1, fragments[-1], end_headers=True)
        assert_connection_error(engine, data, EnhanceYourCalmError, ErrorCodes.ENHANCE_YOUR_CALM)

    def test_zero_continuations_allowed_by_config(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        server = make_server(factory, max_continuation_frames=0)
        block = factory.encode(CLIENT_REQUEST)
        data = factory.headers_block(1, block[:2], end_headers=False)
        data += factory.continuation(1, block[2:], end_headers=True)
        assert_connection_error(server, data, EnhanceYourCalmError, ErrorCodes.ENHANCE_YOUR_CALM)

    @pytest.mark.parametrize("read_size", [None, 65536])
    @pytest.mark.parametrize("fragment_size", [100, 16000], ids=["small", "full"])
    def test_continuation_flood_stops_at_the_cap_with_bounded_memory(
        self, factory: FrameFactory, role: str, read_size: int | None, fragment_size: int
    ) -> None:
        """A10: 1000 CONTINUATIONs that never end the block (CVE-2024-27316 class):
        the count cap (small fragments) or the byte cap (full ones) ends the
        connection, and memory does not grow with the flood, even fed in one call."""
        engine, headers = engine_for(role, factory)
        field = b"\x00\x05x-pad\x05value"
        filler = factory.raw_frame(CONTINUATION, 0, 1, field * (fragment_size // len(field)))
        flood = factory.headers_block(1, factory.encode(headers), end_headers=False)
        flood += filler * 1000
        step = read_size or len(flood)
        raised: list[BaseException] = []

        def attack() -> None:
            try:
                for i in range(0, len(flood), step):
                    engine.receive_data(flood[i : i + step])
            except ProtocolError as exc:
                raised.append(exc)

        peak = measure_peak(attack)
        assert len(flood) > 1000 * (fragment_size - len(field))
        assert peak < MEMORY_BOUND, f"peak {peak} bytes"
        [exc] = raised
        assert isinstance(exc, EnhanceYourCalmError)
        [goaway] = parse_frames(engine.data_to_send())
        assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM

    def test_compressed_block_cap_counts_headers_and_continuations(
        self, factory: FrameFactory, role: str
    ) -> None:
        """L5: 800 + 800 compressed bytes exceed a 1000-byte cap, before any decoding."""
        engine, _ = engine_for(role, factory, max_header_block_size=1000)
        garbage = b"\x80" * 800  # index 0: decoding it would be a COMPRESSION_ERROR
        data = factory.headers_block(1, garbage, end_headers=False)
        data += factory.continuation(1, garbage, end_headers=True)
        assert_connection_error(engine, data, EnhanceYourCalmError, ErrorCodes.ENHANCE_YOUR_CALM)

    def test_compressed_block_cap_applies_to_a_single_headers_frame(
        self, factory: FrameFactory
    ) -> None:
        """L5: one huge literal is refused before hpack decodes it."""
        server = make_server(factory, max_header_block_size=1000)
        data = factory.headers_block(1, b"\x80" * 1001)
        assert_connection_error(server, data, EnhanceYourCalmError, ErrorCodes.ENHANCE_YOUR_CALM)

    def test_large_continuations_hit_the_byte_cap_before_the_count_cap(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """L5: 16 KiB fragments reach the 128 KiB default after 8 frames."""
        chunk = factory.raw_frame(CONTINUATION, 0, 1, b"\x00" * 16384)
        data = factory.headers_block(1, b"\x00" * 16384, end_headers=False) + chunk * 10
        assert_connection_error(server, data, EnhanceYourCalmError, ErrorCodes.ENHANCE_YOUR_CALM)


# (name, bad part of a block): each is an RFC 7541 decoding error (C4, H1-H7).
BAD_BLOCK_TAILS = [
    ("index-0", b"\x80"),
    ("index-beyond-table", b"\xbe"),
    ("index-far-beyond", b"\xff\x80\x01"),
    ("literal-indexed-name-beyond", b"\x7e\x01a"),
    ("literal-no-index-name-beyond", b"\x0f\x2f\x01a"),
    ("size-update-after-field", b"\x20"),
    ("size-update-above-acked", b"\x3f\xe2\x1f"),
    ("huffman-padding-over-7-bits", b"\x04\x82\x1f\xff"),
    ("huffman-zero-padding", b"\x04\x81\x18"),
    ("huffman-eos", b"\x04\x84\xff\xff\xff\xff"),
    ("integer-overflow", b"\xff" + b"\xff" * 10 + b"\x01"),
    ("integer-very-long", b"\xff" + b"\xff" * 5000 + b"\x01"),
    ("string-length-overflow", b"\x04\x7f" + b"\xff" * 10 + b"\x01"),
    ("truncated-literal", b"\x04\x0aabc"),
    ("truncated-integer", b"\xff\xff"),
    ("garbage", b"\xff\xfe\xfd\xfc\xfb\xfa"),
]


class TestHpackErrors:
    @pytest.mark.parametrize(
        "tail", [t for _, t in BAD_BLOCK_TAILS], ids=[n for n, _ in BAD_BLOCK_TAILS]
    )
    def test_undecodable_block_is_compression_error(
        self, factory: FrameFactory, role: str, tail: bytes
    ) -> None:
        """C4, H1-H7, L6: the HPACK context is lost, so the connection ends."""
        engine, _ = engine_for(role, factory)
        head = b"\x82\x87\x84" if role == "server" else b"\x88"
        if tail.startswith((b"\x20", b"\x3f")) and tail != b"\x20":
            head = b""  # a size update must lead the block to be legal at all
        data = factory.headers_block(1, head + tail)
        assert_connection_error(engine, data, HPACKDecodingError, ErrorCodes.COMPRESSION_ERROR)
        with pytest.raises(ConnectionError):
            engine.receive_data(factory.ping(b"12345678"))

    def test_undecodable_block_on_a_reset_stream_still_kills_the_connection(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        open_request(server, factory, 1)
        server.reset_stream(1)
        server.data_to_send()
        data = factory.headers_block(1, b"\x80", end_stream=True)
        assert_connection_error(server, data, HPACKDecodingError, ErrorCodes.COMPRESSION_ERROR)

    def test_two_size_updates_at_the_start_are_accepted(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """H3: min then final, both before the first field."""
        block = b"\x20\x3f\xe1\x1f" + factory.encode(CLIENT_REQUEST)
        assert server.receive_data(factory.headers_block(1, block)) == [
            RequestReceived(1, CLIENT_REQUEST, False)
        ]

    def test_non_utf8_bytes_are_delivered_raw(self, server: Engine, factory: FrameFactory) -> None:
        """L8: decoded with raw=True, so bytes that are not UTF-8 are no HPACK error."""
        headers = [*CLIENT_REQUEST, (b"x-bin", b"\xff\xfe\x80")]
        events = server.receive_data(factory.headers(1, headers))
        assert events == [RequestReceived(1, headers, False)]
        assert all(type(n) is not str for n, _ in events[0].headers)

    def test_duplicate_fields_keep_their_order(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """H8: dynamic table duplicates are legal and field order is preserved."""

        # hpack's encoder never duplicates an entry, so the block is built by
        # hand: three literals with incremental indexing, then two references.
        def literal(name: bytes, value: bytes) -> bytes:
            return b"\x40" + bytes([len(name)]) + name + bytes([len(value)]) + value

        block = factory.encode(CLIENT_REQUEST)
        block += literal(b"x-a", b"1") + literal(b"x-b", b"2") + literal(b"x-a", b"1")
        block += b"\xbf\xc0"  # 63: x-b, 64: the first x-a
        x_a, x_b = (b"x-a", b"1"), (b"x-b", b"2")
        headers = [*CLIENT_REQUEST, x_a, x_b, x_a, x_b, x_a]
        assert server.receive_data(factory.headers_block(1, block)) == [
            RequestReceived(1, headers, False)
        ]

    def test_never_indexed_field_is_reported_as_such(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """H8: an intermediary must re-send it never-indexed, so the flag survives."""
        headers = [*CLIENT_REQUEST, NeverIndexedHeaderTuple(b"x-secret", b"s3cr3t")]
        [event] = server.receive_data(factory.headers(1, headers))
        secret = event.headers[-1]
        assert secret == (b"x-secret", b"s3cr3t")
        assert isinstance(secret, HeaderTuple) and not secret.indexable


class TestHpackBomb:
    """A11 (CVE-2016-6581): a 4 KiB entry referenced thousands of times."""

    @staticmethod
    def bomb(factory: FrameFactory, headers: list) -> bytes:  # type: ignore[type-arg]
        # 4058 + 6 + 32 = 4096: the entry fills the default table alone.
        block = factory.encode([*headers, (b"x-bomb", b"a" * 4058)])
        assert factory.encoder.header_table.dynamic_entries[0][0] == b"x-bomb"
        return block + b"\xbe" * 10000  # 14 KiB in, ~40 MB if decoded

    def test_bomb_is_header_list_too_large_with_bounded_memory(
        self, factory: FrameFactory, role: str
    ) -> None:
        engine, headers = engine_for(role, factory)
        frame = factory.headers_block(1, self.bomb(factory, headers), end_stream=True)
        assert len(frame) < 16384 + 9
        raised: list[BaseException] = []

        def attack() -> None:
            try:
                engine.receive_data(frame)
            except ProtocolError as exc:
                raised.append(exc)

        peak = measure_peak(attack)
        assert peak < MEMORY_BOUND, f"peak {peak} bytes"
        [exc] = raised
        assert isinstance(exc, HeaderListTooLargeError)
        assert exc.error_code == ErrorCodes.ENHANCE_YOUR_CALM
        [goaway] = parse_frames(engine.data_to_send())
        assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM

    def test_bomb_spread_over_continuations(self, server: Engine, factory: FrameFactory) -> None:
        block = self.bomb(factory, CLIENT_REQUEST)
        fragments = split(block, 4)
        data = factory.headers_block(1, fragments[0], end_headers=False)
        data += b"".join(factory.continuation(1, f, end_headers=False) for f in fragments[1:3])
        data += factory.continuation(1, fragments[3], end_headers=True)
        assert_connection_error(
            server, data, HeaderListTooLargeError, ErrorCodes.ENHANCE_YOUR_CALM
        )

    def test_list_just_under_the_limit_is_accepted(self, factory: FrameFactory) -> None:
        server = make_server(factory, max_header_list_size=4000)
        size = sum(len(n) + len(v) + 32 for n, v in CLIENT_REQUEST)
        headers = [*CLIENT_REQUEST, (b"x-fill", b"f" * (4000 - size - 6 - 32))]
        assert server.receive_data(factory.headers(1, headers)) == [
            RequestReceived(1, headers, False)
        ]
        over = [*CLIENT_REQUEST, (b"x-fill", b"f" * (4001 - size - 6 - 32))]
        assert_connection_error(
            server, factory.headers(3, over), HeaderListTooLargeError, ErrorCodes.ENHANCE_YOUR_CALM
        )


# (name, request headers): malformed requests (checklist 2.8), wired to
# RST_STREAM(PROTOCOL_ERROR). Each carries a new dynamic-table entry.
MALFORMED_REQUESTS = [
    ("no-method", CLIENT_REQUEST[1:]),
    ("no-path", [CLIENT_REQUEST[0], CLIENT_REQUEST[1], CLIENT_REQUEST[3]]),
    ("empty-path", [*CLIENT_REQUEST[:2], (b":path", b""), CLIENT_REQUEST[3]]),
    ("duplicate-method", [*CLIENT_REQUEST, (b":method", b"POST")]),
    ("unknown-pseudo", [*CLIENT_REQUEST, (b":late", b"x")]),
    ("status-in-request", [*CLIENT_REQUEST, (b":status", b"200")]),
    ("pseudo-after-regular", [*CLIENT_REQUEST[:3], (b"x-a", b"1"), CLIENT_REQUEST[3]]),
    ("uppercase-name", [*CLIENT_REQUEST, (b"X-Upper", b"1")]),
    ("connection", [*CLIENT_REQUEST, (b"connection", b"keep-alive")]),
    ("keep-alive", [*CLIENT_REQUEST, (b"keep-alive", b"timeout=5")]),
    ("transfer-encoding", [*CLIENT_REQUEST, (b"transfer-encoding", b"chunked")]),
    ("te-gzip", [*CLIENT_REQUEST, (b"te", b"gzip")]),
    ("two-hosts", [*CLIENT_REQUEST, (b"host", b"example.com"), (b"host", b"example.com")]),
    ("host-differs", [*CLIENT_REQUEST, (b"host", b"evil.example")]),
    ("nul-in-value", [*CLIENT_REQUEST, (b"x-a", b"a\x00b")]),
    ("crlf-in-value", [*CLIENT_REQUEST, (b"x-a", b"a\r\nx-b: c")]),
    ("leading-space", [*CLIENT_REQUEST, (b"x-a", b" a")]),
    ("empty-name", [*CLIENT_REQUEST, (b"", b"a")]),
    ("content-length-plus", [*CLIENT_REQUEST, (b"content-length", b"+5")]),
    (
        "content-length-conflict",
        [*CLIENT_REQUEST, (b"content-length", b"5"), (b"content-length", b"6")],
    ),
]

MALFORMED_RESPONSES = [
    ("no-status", [(b"x-a", b"1")]),
    ("status-not-digits", [(b":status", b"abc")]),
    ("status-four-digits", [(b":status", b"2000")]),
    ("two-statuses", [(b":status", b"200"), (b":status", b"204")]),
    ("request-pseudo", [(b":status", b"200"), (b":method", b"GET")]),
    ("pseudo-after-regular", [(b"x-a", b"1"), (b":status", b"200")]),
    ("connection", [(b":status", b"200"), (b"connection", b"close")]),
    ("uppercase-name", [(b":status", b"200"), (b"Server", b"x")]),
]


class TestValidationWiring:
    """A malformed block costs its stream only, and HPACK stays in sync."""

    @pytest.mark.parametrize(
        "headers", [h for _, h in MALFORMED_REQUESTS], ids=[n for n, _ in MALFORMED_REQUESTS]
    )
    def test_malformed_request_is_reset_and_hpack_stays_in_sync(
        self,
        server: Engine,
        factory: FrameFactory,
        headers: list,  # type: ignore[type-arg]
    ) -> None:
        sync = (b"x-sync", b"entry added by the malformed block")
        events = server.receive_data(factory.headers(1, [*headers, sync], end_stream=True))
        assert_stream_reset(
            events, parse_frames(server.data_to_send()), 1, ErrorCodes.PROTOCOL_ERROR
        )
        follow_up = factory.encode([*CLIENT_REQUEST, sync])
        assert follow_up.endswith(b"\xbe")  # it refers to the entry the bad block added
        events = server.receive_data(factory.headers_block(3, follow_up, end_stream=True))
        assert events == [RequestReceived(3, [*CLIENT_REQUEST, sync], True)]
        assert server.data_to_send() == b""

    @pytest.mark.parametrize(
        "headers", [h for _, h in MALFORMED_RESPONSES], ids=[n for n, _ in MALFORMED_RESPONSES]
    )
    def test_malformed_response_is_reset_and_hpack_stays_in_sync(
        self,
        client: Engine,
        factory: FrameFactory,
        headers: list,  # type: ignore[type-arg]
    ) -> None:
        sync = (b"x-sync", b"entry added by the malformed block")
        events = client.receive_data(factory.headers(1, [*headers, sync]))
        assert_stream_reset(
            events, parse_frames(client.data_to_send()), 1, ErrorCodes.PROTOCOL_ERROR
        )
        events = client.receive_data(factory.headers(3, [*RESPONSE_200, sync], end_stream=True))
        assert events == [ResponseReceived(3, [*RESPONSE_200, sync], True)]

    def test_pseudo_header_in_trailers_is_reset(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        open_request(server, factory, 1)
        events = server.receive_data(
            factory.headers(1, [(b":path", b"/x"), (b"x-t", b"1")], end_stream=True)
        )
        assert_stream_reset(
            events, parse_frames(server.data_to_send()), 1, ErrorCodes.PROTOCOL_ERROR
        )

    def test_valid_trailers_are_reported(self, server: Engine, factory: FrameFactory) -> None:
        open_request(server, factory, 1)
        events = server.receive_data(factory.headers(1, [(b"x-t", b"1")], end_stream=True))
        assert events == [TrailersReceived(1, [(b"x-t", b"1")])]


class TestHpackStateAfterDiscard:
    """C5: blocks the engine discards are decoded first, so later blocks still decode."""

    SYNC = (b"x-sync", b"only in the discarded block")

    def test_headers_on_a_stream_we_reset(self, server: Engine, factory: FrameFactory) -> None:
        open_request(server, factory, 1)
        server.reset_stream(1, ErrorCodes.CANCEL)
        server.data_to_send()
        assert server.receive_data(factory.headers(1, [self.SYNC], end_stream=True)) == []
        assert server.data_to_send() == b""
        events = server.receive_data(factory.headers(3, [*CLIENT_REQUEST, self.SYNC]))
        assert events == [RequestReceived(3, [*CLIENT_REQUEST, self.SYNC], False)]

    def test_headers_on_a_stream_the_client_reset(
        self, server: Engine, factory: FrameFactory
    ) -> None:
        """After the client's RST_STREAM: STREAM_CLOSED for that stream only
        (5.1), after decoding the block."""
        open_request(server, factory, 1)
        server.receive_data(factory.rst_stream(1, ErrorCodes.CANCEL))
        events = server.receive_data(factory.headers(1, [self.SYNC], end_stream=True))
        assert_stream_reset(
            events, parse_frames(server.data_to_send()), 1, ErrorCodes.STREAM_CLOSED
        )
        events = server.receive_data(factory.headers(3, [*CLIENT_REQUEST, self.SYNC]))
        assert events == [RequestReceived(3, [*CLIENT_REQUEST, self.SYNC], False)]

    def test_headers_above_our_goaway(self, server: Engine, factory: FrameFactory) -> None:
        """G5: stream 3 is ignored but decoded; stream 1's trailers use its entry."""
        open_request(server, factory, 1)
        server.close(last_stream_id=1)
        server.data_to_send()
        assert server.receive_data(factory.headers(3, [*CLIENT_REQUEST, self.SYNC])) == []
        assert server.data_to_send() == b""
        events = server.receive_data(factory.headers(1, [self.SYNC], end_stream=True))
        assert events == [TrailersReceived(1, [self.SYNC])]

    def test_headers_on_a_refused_stream(self, factory: FrameFactory) -> None:
        """T8: REFUSED_STREAM, yet the block's table changes are applied."""
        server = make_server(factory, max_concurrent_streams=1)
        open_request(server, factory, 1, end_stream=True)
        assert server.receive_data(factory.headers(3, [*CLIENT_REQUEST, self.SYNC])) == []
        [rst] = parse_frames(server.data_to_send())
        assert (rst.stream_id, rst.error_code) == (3, ErrorCodes.REFUSED_STREAM)
        server.send_headers(1, RESPONSE_200, end_stream=True)
        server.data_to_send()
        events = server.receive_data(factory.headers(5, [*CLIENT_REQUEST, self.SYNC]))
        assert events == [RequestReceived(5, [*CLIENT_REQUEST, self.SYNC], False)]

    def test_response_on_a_stream_the_client_reset(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        client.reset_stream(1, ErrorCodes.CANCEL)
        client.data_to_send()
        assert client.receive_data(factory.headers(1, [*RESPONSE_200, self.SYNC])) == []
        events = client.receive_data(factory.headers(3, [*RESPONSE_200, self.SYNC]))
        assert events == [ResponseReceived(3, [*RESPONSE_200, self.SYNC], False)]


def decode_sent(frames: list, decoder: Decoder | None = None) -> list:  # type: ignore[type-arg]
    """Decode the header block of the HEADERS (+ CONTINUATION) frames written."""
    block = b"".join(
        bytes(f.data) for f in frames if isinstance(f, (HeadersFrame, ContinuationFrame))
    )
    return (decoder or Decoder()).decode(block, raw=True)  # type: ignore[no-any-return]


class TestOutboundHeaders:
    """M4, M5, M7 outbound: what the caller passes is cleaned before it is sent."""

    def test_connection_specific_fields_and_host_are_dropped(self) -> None:
        client, server = pair()
        client.send_headers(
            1,
            [
                (b":method", b"GET"),
                (b"Connection", b"keep-alive, X-Hop"),
                (b"Host", b"example.com"),
                (b":scheme", b"https"),
                (b"Keep-Alive", b"timeout=5"),
                (b"Proxy-Connection", b"keep-alive"),
                (b"Transfer-Encoding", b"chunked"),
                (b"Upgrade", b"h2c"),
                (b"TE", b"gzip"),
                (b"X-Hop", b"dropped too"),
                (b":path", b"/"),
                (b":authority", b"example.com"),
                (b"X-Mixed-Case", b"kept"),
            ],
            end_stream=True,
        )
        out = client.data_to_send()
        expected = [*CLIENT_REQUEST, (b"x-mixed-case", b"kept")]
        assert decode_sent(parse_frames(out)) == expected
        events = server.receive_data(out)
        assert events == [RequestReceived(1, expected, True)]
        assert server.data_to_send() == b""

    def test_host_becomes_authority_when_missing(self) -> None:
        client, server = pair()
        client.send_headers(
            1,
            [("Host", "example.com"), (":method", "GET"), (":scheme", "https"), (":path", "/")],
            end_stream=True,
        )
        _, server_events = pump(client, server)
        [event] = server_events
        assert isinstance(event, RequestReceived)
        assert dict(event.headers)[b":authority"] == b"example.com"
        assert b"host" not in dict(event.headers)

    @pytest.mark.parametrize("side", ["client", "server"])
    def test_pseudo_header_in_outbound_trailers_is_refused(self, side: str) -> None:
        """M2 outbound: trailers carry no pseudo-headers; nothing is queued."""
        client, server = pair()
        client.send_headers(1, CLIENT_REQUEST, end_stream=False)
        pump(client, server)
        if side == "client":
            sender, bad = client, [(b":path", b"/evil"), (b"x-t", b"1")]
        else:
            server.send_headers(1, RESPONSE_200)
            pump(server, client)
            sender, bad = server, [(b":status", b"500")]
        with pytest.raises(InvalidHeaderError):
            sender.send_headers(1, bad, end_stream=True)
        assert sender.data_to_send() == b""
        sender.send_headers(1, [(b"x-t", b"1")], end_stream=True)
        assert decode_sent(parse_frames(sender.data_to_send())) == [(b"x-t", b"1")]

    def test_te_trailers_is_kept(self) -> None:
        client = make_client()
        client.send_headers(7, [*CLIENT_REQUEST, (b"TE", b"Trailers")], end_stream=True)
        assert decode_sent(parse_frames(client.data_to_send()))[-1] == (b"te", b"trailers")

    @pytest.mark.parametrize(
        "bad",
        [
            (b"x-a", b"a\r\nx-injected: 1"),
            (b"x-a", b"a\nb"),
            (b"x-a", b"a\x00b"),
            (b"x-a", b" padded"),
            (b"bad name", b"v"),
            (b"", b"v"),
            (b":unknown", b"v"),
        ],
    )
    def test_invalid_field_raises_and_sends_nothing(
        self, factory: FrameFactory, bad: tuple[bytes, bytes]
    ) -> None:
        """M6 outbound: a refused block changes neither the stream nor the HPACK state."""
        client = make_client(factory)
        with pytest.raises(InvalidHeaderError):
            client.send_headers(1, [*CLIENT_REQUEST, (b"x-first", b"1"), bad])
        assert client.data_to_send() == b""
        assert client.stream_state(1) == StreamState.IDLE
        peer = Decoder()
        client.send_headers(1, [*CLIENT_REQUEST, (b"x-first", b"1")], end_stream=True)
        assert decode_sent(parse_frames(client.data_to_send()), peer) == [
            *CLIENT_REQUEST,
            (b"x-first", b"1"),
        ]

    def test_credentials_are_never_indexed(self) -> None:
        client = make_client()
        client.send_headers(
            7,
            [*CLIENT_REQUEST, (b"authorization", b"Basic c2VjcmV0"), (b"cookie", b"short=1")],
            end_stream=True,
        )
        fields = decode_sent(parse_frames(client.data_to_send()))
        assert [type(f) for f in fields[-2:]] == [NeverIndexedHeaderTuple] * 2

    def test_never_indexed_field_from_the_caller_stays_never_indexed(self) -> None:
        """H8 / RFC 7541 6.2.3: a forwarded never-indexed field is re-sent as such."""
        client = make_client()
        field = NeverIndexedHeaderTuple(b"x-secret", b"forwarded")
        client.send_headers(7, [*CLIENT_REQUEST, field], end_stream=True)
        [sent] = decode_sent(parse_frames(client.data_to_send()))[-1:]
        assert isinstance(sent, NeverIndexedHeaderTuple)

    def test_large_block_is_split_into_continuations(self) -> None:
        client, server = pair()
        headers = [*CLIENT_REQUEST, *((f"x-h{i}".encode(), b"v" * 1000) for i in range(40))]
        client.send_headers(1, headers, end_stream=True)
        out = client.data_to_send()
        frames = parse_frames(out)
        assert [type(f) for f in frames][:1] == [HeadersFrame]
        assert all(type(f) is ContinuationFrame for f in frames[1:]) and len(frames) >= 3
        assert all(len(f.data) <= 16384 for f in frames)
        assert "END_HEADERS" in frames[-1].flags and "END_HEADERS" not in frames[0].flags
        assert "END_STREAM" in frames[0].flags
        assert server.receive_data(out) == [RequestReceived(1, headers, True)]

    def test_peer_header_list_limit_is_advisory(
        self, client: Engine, factory: FrameFactory
    ) -> None:
        """A13: the peer's tiny MAX_HEADER_LIST_SIZE does not stop or reset our request."""
        client.receive_data(factory.raw_settings([(0x6, 10)]))
        client.data_to_send()
        client.send_headers(7, [*CLIENT_REQUEST, (b"x-a", b"b" * 100)], end_stream=True)
        frames = parse_frames(client.data_to_send())
        assert [type(f) for f in frames] == [HeadersFrame]

    def test_round_trip_of_many_requests_keeps_tables_in_sync(self) -> None:
        client, server = pair()
        for i in range(50):
            stream_id = 2 * i + 1
            client.send_headers(stream_id, [*CLIENT_REQUEST, (b"x-n", str(i % 7).encode())])
            client.send_data(stream_id, b"body", end_stream=True)
        _, events = pump(client, server)
        requests = [e for e in events if isinstance(e, RequestReceived)]
        assert [dict(e.headers)[b"x-n"] for e in requests] == [
            str(i % 7).encode() for i in range(50)
        ]
        assert sum(isinstance(e, DataReceived) for e in events) == 50
        assert not any(isinstance(e, StreamReset) for e in events)


class TestPreparedHeaderCache:
    """Repeated header sets are validated once; the cache never changes what is sent."""

    def test_repeated_set_still_sends_the_same_block(self) -> None:
        client, server = pair()
        request = [*CLIENT_REQUEST, (b"x-a", b"1")]
        for stream_id in (1, 3, 5):
            client.send_headers(stream_id, list(request), end_stream=True)
        _, events = pump(client, server)
        assert [e.headers for e in events if isinstance(e, RequestReceived)] == [request] * 3

    def test_an_invalid_set_is_refused_every_time(self) -> None:
        client = make_client()
        client.data_to_send()
        bad = [*CLIENT_REQUEST, (b"x-a", b"a\r\nx-injected: 1")]
        for stream_id in (1, 3):
            with pytest.raises(InvalidHeaderError):
                client.send_headers(stream_id, bad, end_stream=True)
            assert client.data_to_send() == b""

    def test_never_indexed_fields_keep_their_class_when_repeated(self) -> None:
        """A never-indexed set and its plain twin compare equal as tuples: the
        cache must hand neither the other's class (RFC 7541 6.2.3)."""
        from hpack import Decoder, NeverIndexedHeaderTuple

        client = make_client()
        client.data_to_send()
        secret = [*CLIENT_REQUEST, NeverIndexedHeaderTuple(b"x-token", b"abc")]
        plain = [*CLIENT_REQUEST, (b"x-token", b"abc")]
        client.send_headers(1, secret, end_stream=True)
        client.send_headers(3, secret, end_stream=True)
        client.send_headers(5, plain, end_stream=True)
        decoder = Decoder()
        blocks = [f.data for f in parse_frames(client.data_to_send()) if f.stream_id]
        kinds = [type(decoder.decode(block, raw=True)[-1]) for block in blocks]
        assert kinds[:2] == [NeverIndexedHeaderTuple] * 2
        assert kinds[2] is not NeverIndexedHeaderTuple
