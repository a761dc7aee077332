"""
Engine properties, checked with hypothesis.

- Whatever bytes arrive, the engine raises nothing but ``ProtocolError``
  subclasses (and ``ConnectionError`` on every later call), and what it writes
  always parses as frames.
- Random frame sequences from a vocabulary of every frame type on a handful
  of streams (every (state, input) pair, in effect) keep the stream counters
  consistent with the stream table.
- Valid conversations fed in arbitrary pieces give the same events as fed
  whole; mutated ones (flipped bytes, truncation, reordering, wrong lengths)
  still only raise ``ProtocolError``.
- Two engines driven by a random interleaving of sends, acknowledgements and
  partial deliveries never overdraw a window: both sides agree on every window
  whenever the wire is empty, and every body arrives intact.
"""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.frames import (
    CLIENT_REQUEST,
    POST_REQUEST,
    RESPONSE_200,
    FrameFactory,
    make_client,
    make_server,
    pair,
    parse_frames,
)

from hyper.engine.stream import ACTIVE_STATES, RESERVED_REMOTE
from hyper.http20.config import EngineConfig
from hyper.http20.engine import Engine, StreamState
from hyper.http20.errors import ErrorCodes
from hyper.http20.events import (
    DataReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    StreamReset,
    TrailersReceived,
)
from hyper.http20.exceptions import ConnectionError as HyperConnectionError
from hyper.http20.exceptions import ProtocolError

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_counters(engine: Engine) -> None:
    """The concurrency counters always match the stream table."""
    parity = 1 if engine.client_side else 0
    active = [s for s in engine._streams.values() if s.state in ACTIVE_STATES]
    assert engine.open_outbound_streams == sum(s.stream_id % 2 == parity for s in active)
    assert engine.open_inbound_streams == sum(s.stream_id % 2 != parity for s in active)
    reserved = [s for s in engine._streams.values() if s.state == RESERVED_REMOTE]
    assert engine._reserved_remote == len(reserved)
    assert all(sid not in engine._streams for sid in engine._closed)


def feed_all(engine: Engine, chunks: list[bytes]) -> list[Event]:
    """
    Feed each chunk: only ProtocolError may escape, once; after it every call
    raises ConnectionError. The output always parses back as frames.
    """
    events: list[Event] = []
    failed = False
    for chunk in chunks:
        if failed:
            try:
                engine.receive_data(chunk)
            except HyperConnectionError:
                continue
            raise AssertionError("a failed engine accepted more input")
        try:
            events += engine.receive_data(chunk)
        except ProtocolError as exc:
            failed = True
            assert isinstance(exc.error_code, int)
            frames = parse_frames(engine.data_to_send())
            assert frames and frames[-1].type == 0x7, "no GOAWAY after a connection error"
            continue
        parse_frames(engine.data_to_send())
        check_counters(engine)
    return events


def fresh_client(**kw: Any) -> Engine:
    engine = Engine(EngineConfig(client_side=True, **kw))
    engine.initiate_connection()
    engine.data_to_send()
    return engine


def fresh_server(**kw: Any) -> Engine:
    engine = Engine(EngineConfig(client_side=False, **kw))
    engine.initiate_connection()
    engine.data_to_send()
    return engine


chunk_lists = st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=8)


class TestRandomBytes:
    @FAST
    @given(chunks=chunk_lists)
    def test_client_survives_random_bytes(self, chunks: list[bytes]) -> None:
        feed_all(fresh_client(), chunks)

    @FAST
    @given(chunks=chunk_lists)
    def test_server_survives_random_bytes_without_preface(self, chunks: list[bytes]) -> None:
        feed_all(fresh_server(), chunks)

    @FAST
    @given(chunks=chunk_lists)
    def test_server_survives_random_bytes_after_preface(self, chunks: list[bytes]) -> None:
        feed_all(fresh_server(), [PREFACE + FrameFactory().settings(), *chunks])

    @FAST
    @given(chunks=chunk_lists)
    def test_established_engines_survive_random_bytes(self, chunks: list[bytes]) -> None:
        factory = FrameFactory()
        server = make_server(factory)
        server.receive_data(factory.headers(1, CLIENT_REQUEST))
        server.data_to_send()
        feed_all(server, chunks)
        client = make_client(FrameFactory(), enable_push=True)
        client.send_headers(1, CLIENT_REQUEST)
        client.data_to_send()
        feed_all(client, chunks)


# -- frame vocabulary ----------------------------------------------------------------

STREAM_IDS = st.sampled_from([0, 1, 2, 3, 4, 5, 7, 2**31 - 1])
HEADER_SETS = [
    CLIENT_REQUEST,
    [*POST_REQUEST, (b"content-length", b"3")],
    RESPONSE_200,
    [(b":status", b"100")],
    [(b"x-trailer", b"t")],
    [(b":status", b"200"), (b":path", b"/")],
    [(b"Bad", b"x")],
    [],
]
headers_st = st.sampled_from(HEADER_SETS)
_U32 = struct.Struct(">L")


def _on_stream(frame: bytes, stream_id: int) -> bytes:
    """``frame`` (built on stream 1) moved to any stream id, 0 included."""
    return frame[:5] + _U32.pack(stream_id) + frame[9:]


def _build(factory: FrameFactory, op: tuple[Any, ...]) -> bytes:
    # hyperframe refuses stream 0 on stream frames: build on 1, then move.
    kind = op[0]
    if kind in ("headers", "continuation", "data", "rst", "push_promise") and op[1] == 0:
        return _on_stream(_build(factory, (op[0], 1, *op[2:])), 0)
    return _build_frame(factory, op)


def _build_frame(factory: FrameFactory, op: tuple[Any, ...]) -> bytes:
    kind = op[0]
    if kind == "headers":
        _, sid, headers, end_stream, end_headers, padded, prio = op
        return factory.headers(
            sid,
            headers,
            end_stream=end_stream,
            end_headers=end_headers,
            padded=padded,
            priority=(prio, 16, False) if prio is not None else None,
        )
    if kind == "continuation":
        _, sid, headers, end_headers = op
        return factory.continuation(sid, factory.encode(headers), end_headers)
    if kind == "data":
        _, sid, size, end_stream, pad = op
        return factory.data(sid, b"d" * size, end_stream=end_stream, pad_length=pad)
    if kind == "rst":
        return factory.rst_stream(op[1], op[2])
    if kind == "window_update":
        return factory.window_update(op[1], op[2])
    if kind == "priority":
        return factory.raw_frame(0x2, 0, op[1], _U32.pack(op[2]) + b"\x10")
    if kind == "settings":
        return factory.raw_settings(op[1], flags=op[2])
    if kind == "ping":
        return factory.ping(b"p" * 8, ack=op[1])
    if kind == "goaway":
        return factory.goaway(op[1], op[2])
    if kind == "push_promise":
        return factory.push_promise(op[1], op[2], op[3], end_headers=op[4])
    if kind == "raw":
        return factory.raw_frame(op[1], op[2], op[3], op[4])
    raise AssertionError(kind)


ops = st.one_of(
    st.tuples(
        st.just("headers"),
        STREAM_IDS,
        headers_st,
        st.booleans(),
        st.booleans(),
        st.none() | st.integers(0, 3),
        st.none() | STREAM_IDS,
    ),
    st.tuples(st.just("continuation"), STREAM_IDS, headers_st, st.booleans()),
    st.tuples(
        st.just("data"),
        STREAM_IDS,
        st.sampled_from([0, 1, 3, 1000, 16384]),
        st.booleans(),
        st.none() | st.integers(0, 10),
    ),
    st.tuples(st.just("rst"), STREAM_IDS, st.sampled_from([0, 1, 7, 8, 0xFFFF])),
    st.tuples(st.just("window_update"), STREAM_IDS, st.sampled_from([0, 1, 1000, 2**31 - 1])),
    st.tuples(st.just("priority"), STREAM_IDS, STREAM_IDS),
    st.tuples(
        st.just("settings"),
        st.lists(
            st.tuples(
                st.integers(0, 9),
                st.sampled_from([0, 1, 2, 100, 16384, 65535, 2**24, 2**31 - 1, 2**31]),
            ),
            max_size=4,
        ),
        st.sampled_from([0, 1]),
    ),
    st.tuples(st.just("ping"), st.booleans()),
    st.tuples(st.just("goaway"), STREAM_IDS, st.sampled_from([0, 1, 2, 0xBEEF])),
    st.tuples(st.just("push_promise"), STREAM_IDS, STREAM_IDS, headers_st, st.booleans()),
    st.tuples(
        st.just("raw"),
        st.sampled_from([0x0, 0x1, 0x3, 0x6, 0x8, 0x9, 0x16]),
        st.integers(0, 255),
        STREAM_IDS,
        st.binary(max_size=12),
    ),
)


class TestFrameSequences:
    @settings(max_examples=400, deadline=None)
    @given(sequence=st.lists(ops, max_size=12), chunked=st.booleans())
    def test_server_any_frame_sequence(self, sequence: list[Any], chunked: bool) -> None:
        factory = FrameFactory()
        server = make_server(factory)
        wire = [_build(factory, op) for op in sequence]
        feed_all(server, wire if chunked else [b"".join(wire)])

    @settings(max_examples=400, deadline=None)
    @given(sequence=st.lists(ops, max_size=12), push=st.booleans())
    def test_client_any_frame_sequence(self, sequence: list[Any], push: bool) -> None:
        factory = FrameFactory()
        client = make_client(factory, enable_push=push)
        client.send_headers(1, CLIENT_REQUEST, end_stream=True)
        client.send_headers(3, POST_REQUEST)
        client.data_to_send()
        feed_all(client, [_build(factory, op) for op in sequence])


# -- valid conversations, split and mutated --------------------------------------------------


def conversation(factory: FrameFactory) -> list[bytes]:
    """What a busy client might send a server: each item one frame."""
    # Header blocks are encoded in wire order: they share one HPACK table.
    start = [
        PREFACE + factory.settings({0x4: 100_000}),
        factory.settings(ack=True),
        factory.headers(1, CLIENT_REQUEST, end_stream=True),
    ]
    block = factory.encode([*POST_REQUEST, (b"x-long", b"v" * 100)])
    return [
        *start,
        factory.headers_block(3, block[:40], end_headers=False),
        factory.continuation(3, block[40:], end_headers=True),
        factory.data(3, b"a" * 100, pad_length=7),
        factory.ping(b"pingpong"),
        factory.window_update(0, 1000),
        factory.priority(5, depends_on=3),
        factory.data(3, b"b" * 50),
        factory.headers(3, [(b"x-trailer", b"1")], end_stream=True),
        factory.headers(5, POST_REQUEST),
        factory.rst_stream(5, ErrorCodes.CANCEL),
        factory.raw_frame(0x20, 0, 0, b"ext"),
        factory.goaway(0, ErrorCodes.NO_ERROR),
    ]


def split_points(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


def _server_events(chunks: list[bytes]) -> tuple[list[Event], bytes]:
    server = fresh_server()
    events: list[Event] = []
    for chunk in chunks:
        events += server.receive_data(chunk)
    return events, server.data_to_send()


class TestConversations:
    @FAST
    @given(cuts=st.lists(st.integers(0, 10_000), max_size=20))
    def test_any_split_gives_the_same_events_and_output(self, cuts: list[int]) -> None:
        whole = b"".join(conversation(FrameFactory()))
        expected = _server_events([whole])
        assert len(expected[0]) > 10
        assert _server_events(split_points(whole, cuts)) == expected

    def test_one_byte_at_a_time_gives_the_same_events(self) -> None:
        whole = b"".join(conversation(FrameFactory()))
        expected = _server_events([whole])
        assert _server_events([whole[i : i + 1] for i in range(len(whole))]) == expected

    @FAST
    @given(
        flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=4),
        cut=st.none() | st.integers(0, 10_000),
    )
    def test_flipped_and_truncated_bytes(
        self, flips: list[tuple[int, int]], cut: int | None
    ) -> None:
        data = bytearray(b"".join(conversation(FrameFactory())))
        for pos, mask in flips:
            data[pos % len(data)] ^= mask
        if cut is not None:
            data = data[: cut % (len(data) + 1)]
        feed_all(fresh_server(), [bytes(data)])

    @FAST
    @given(order=st.permutations(range(1, 15)), drop=st.sets(st.integers(1, 14), max_size=3))
    def test_reordered_and_dropped_frames(self, order: list[int], drop: set[int]) -> None:
        frames = conversation(FrameFactory())
        wire = [frames[0]] + [frames[i] for i in order if i not in drop]
        feed_all(fresh_server(), wire)

    @FAST
    @given(
        index=st.integers(1, 14),
        length=st.integers(0, 2**24 - 1) | st.integers(0, 40),
        frame_type=st.none() | st.integers(0, 255),
    )
    def test_rewritten_frame_headers(
        self, index: int, length: int, frame_type: int | None
    ) -> None:
        frames = conversation(FrameFactory())
        frame = bytearray(frames[index])
        frame[0:3] = length.to_bytes(3, "big")
        if frame_type is not None:
            frame[3] = frame_type
        frames[index] = bytes(frame)
        feed_all(fresh_server(), frames)


# -- two engines, random interleavings ----------------------------------------------------------


class Side:
    """One engine with its unsent bodies, unread bytes and what arrived."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.outbox: dict[int, memoryview] = {}
        self.unacked: dict[int, int] = {}
        self.bodies: dict[int, bytearray] = {}
        self.ended: set[int] = set()
        self.wire = bytearray()  # written, not yet delivered to the peer

    def push(self, stream_id: int) -> None:
        view = self.outbox.get(stream_id)
        if view is None:
            return
        taken = self.engine.send_data(stream_id, view, end_stream=True)
        if taken == len(view):
            del self.outbox[stream_id]
        else:
            self.outbox[stream_id] = view[taken:]
        if stream_id in self.engine._streams:
            assert self.engine.local_flow_control_window(stream_id) >= 0

    def collect(self) -> None:
        self.wire += self.engine.data_to_send()

    def handle(self, events: list[Event]) -> list[Event]:
        for event in events:
            assert not isinstance(event, StreamReset), event
            if isinstance(event, DataReceived):
                self.bodies.setdefault(event.stream_id, bytearray()).extend(event.data)
                self.unacked[event.stream_id] = self.unacked.get(event.stream_id, 0) + len(
                    event.data
                )
                if event.end_stream:
                    self.ended.add(event.stream_id)
            elif (
                isinstance(event, (RequestReceived, ResponseReceived)) and event.end_stream
            ) or isinstance(event, TrailersReceived):
                self.ended.add(event.stream_id)
        return events

    def ack(self, stream_id: int, fraction: float) -> None:
        pending = self.unacked.get(stream_id, 0)
        amount = int(pending * fraction) if fraction < 1 else pending
        if amount:
            self.engine.acknowledge_received_data(stream_id, amount)
            self.unacked[stream_id] = pending - amount


def deliver(src: Side, dst: Side, fraction: float) -> list[Event]:
    src.collect()
    n = len(src.wire) if fraction >= 1 else int(len(src.wire) * fraction)
    chunk = bytes(src.wire[:n])
    del src.wire[:n]
    return dst.handle(dst.engine.receive_data(chunk)) if chunk else []


def assert_windows_agree(a: Side, b: Side) -> None:
    """With nothing in flight both ways, each window has one value on both ends."""
    ea, eb = a.engine, b.engine
    assert ea._send_window == eb._recv_window
    assert eb._send_window == ea._recv_window
    for sid, stream in ea._streams.items():
        other = eb._streams.get(sid)
        if other is not None:
            assert stream.send_window == other.recv_window, sid
            assert stream.recv_window == other.send_window, sid


actions = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.integers(0, 3)),
        st.tuples(st.just("client_send"), st.integers(0, 3)),
        st.tuples(st.just("server_send"), st.integers(0, 3)),
        st.tuples(st.just("to_server"), st.floats(0, 1)),
        st.tuples(st.just("to_client"), st.floats(0, 1)),
        st.tuples(st.just("client_ack"), st.integers(0, 3), st.floats(0, 1)),
        st.tuples(st.just("server_ack"), st.integers(0, 3), st.floats(0, 1)),
        st.tuples(st.just("sync"), st.just(0)),
    ),
    max_size=60,
)

BODY_SIZES = st.lists(st.integers(0, 100_000), min_size=4, max_size=4)
# Tiny windows move a byte or two per round trip: their bodies are kept short.
WINDOWS = st.sampled_from([1, 2, 3]) | st.integers(500, 70_000)
TINY_WINDOW_BODY = 300


class TestInterleavings:
    @settings(max_examples=100, deadline=None)
    @given(
        steps=actions,
        request_sizes=BODY_SIZES,
        response_sizes=BODY_SIZES,
        client_window=WINDOWS,
        server_window=WINDOWS,
    )
    def test_windows_are_never_overdrawn_and_bodies_arrive(
        self,
        steps: list[tuple[Any, ...]],
        request_sizes: list[int],
        response_sizes: list[int],
        client_window: int,
        server_window: int,
    ) -> None:
        c, s = pair(
            {"initial_window_size": client_window, "connection_window_size": 65535},
            {"initial_window_size": server_window, "connection_window_size": 65535},
        )
        client, server = Side(c), Side(s)
        if min(client_window, server_window) < 500:
            request_sizes = [min(n, TINY_WINDOW_BODY) for n in request_sizes]
            response_sizes = [min(n, TINY_WINDOW_BODY) for n in response_sizes]
        requests = [bytes([65 + i]) * n for i, n in enumerate(request_sizes)]
        responses = [bytes([97 + i]) * n for i, n in enumerate(response_sizes)]
        opened: list[int] = []
        answered: set[int] = set()

        def open_stream(i: int) -> None:
            sid = 2 * i + 1
            if sid in c._streams or sid in c._closed or sid < c.get_next_available_stream_id():
                return
            c.send_headers(sid, POST_REQUEST)
            client.outbox[sid] = memoryview(requests[i])
            opened.append(sid)

        def answer(events: list[Event]) -> None:
            for event in events:
                if isinstance(event, RequestReceived):
                    sid = event.stream_id
                    s.send_headers(sid, RESPONSE_200)
                    server.outbox[sid] = memoryview(responses[(sid - 1) // 2])
                    answered.add(sid)

        def sync() -> None:
            for _ in range(10_000):
                answer(deliver(client, server, 1))
                deliver(server, client, 1)
                client.collect()
                server.collect()
                if not client.wire and not server.wire:
                    return
            raise AssertionError("sync never went quiet")

        for step in steps:
            kind = step[0]
            if kind == "open":
                open_stream(step[1])
            elif kind == "client_send":
                client.push(2 * step[1] + 1)
            elif kind == "server_send":
                server.push(2 * step[1] + 1)
            elif kind == "to_server":
                answer(deliver(client, server, step[1]))
            elif kind == "to_client":
                deliver(server, client, step[1])
            elif kind == "client_ack":
                client.ack(2 * step[1] + 1, step[2])
            elif kind == "server_ack":
                server.ack(2 * step[1] + 1, step[2])
            else:
                sync()
                assert_windows_agree(client, server)

        # Finish: open everything, then keep sending and reading until done.
        for i in range(4):
            open_stream(i)
        for _ in range(10_000):
            for sid in list(client.outbox):
                client.push(sid)
            for sid in list(server.outbox):
                server.push(sid)
            sync()
            assert_windows_agree(client, server)
            for sid in list(client.unacked):
                client.ack(sid, 1)
            for sid in list(server.unacked):
                server.ack(sid, 1)
            if not client.outbox and not server.outbox and len(client.ended) == len(opened):
                sync()
                break
        else:
            raise AssertionError("the exchange never finished")

        for sid in opened:
            i = (sid - 1) // 2
            assert bytes(server.bodies.get(sid, b"")) == requests[i]
            assert bytes(client.bodies.get(sid, b"")) == responses[i]
        closed = StreamState.CLOSED
        assert all(c.stream_state(sid) == s.stream_state(sid) == closed for sid in opened)
        assert c.open_outbound_streams == 0 and s.open_inbound_streams == 0
