"""
Engine round trips: a client engine and a server engine back to back, each
driven by a small application that sends bodies as the windows allow,
acknowledges what it reads, and checks every byte on arrival.

The workload mixes body sizes around the frame size (0, 1, 16383, 16384,
16385 and 1 MiB) both ways, trailers, 1xx responses, server push, resets in
the middle of a body and a GOAWAY while requests are in flight. At the end
every body must have arrived whole and in order, and both engines must hold
no stream state at all.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from pathlib import Path

try:
    import tracemalloc
except ImportError:  # PyPy has none: these memory bounds are measured in the CPython run
    tracemalloc = None  # type: ignore[assignment]

import pytest
from hyperframe.frame import DataFrame, GoAwayFrame
from support.frames import CLIENT_REQUEST, pair, parse_frames, pump

import hyper
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

MIB = 1 << 20
SIZES = (0, 1, 16383, 16384, 16385, MIB)
# One random buffer; body ``n`` of size ``s`` is a slice of it at an offset
# derived from ``n``, so a reordered or duplicated frame cannot go unnoticed.
_NOISE = random.Random(9113).randbytes(MIB + 8192)


def body_for(key: int, size: int) -> bytes:
    offset = (key * 7919) % 8192
    return _NOISE[offset : offset + size]


class Plan:
    """What request ``n`` does: sizes and the optional extras."""

    def __init__(
        self,
        n: int,
        request_size: int,
        response_size: int,
        *,
        request_trailers: bool = False,
        response_trailers: bool = False,
        content_length: bool = False,
        informational: bool = False,
        push: bool = False,
        client_reset_after: int | None = None,
        server_reset_after: int | None = None,
    ) -> None:
        self.n = n
        self.request_body = body_for(2 * n, request_size)
        self.response_body = body_for(2 * n + 1, response_size)
        self.request_trailers = request_trailers
        self.response_trailers = response_trailers
        self.content_length = content_length
        self.informational = informational
        self.push = push
        self.client_reset_after = client_reset_after
        self.server_reset_after = server_reset_after

    @property
    def path(self) -> bytes:
        return b"/r/%d" % self.n


def mixed_plans(count: int, big_every: int = 1) -> list[Plan]:
    """
    Every size pairing, with trailers, content-length, 1xx, pushes and
    resets sprinkled over the requests by co-prime periods. ``big_every``
    thins out the 1 MiB bodies to keep the run short.
    """
    plans = []
    for n in range(count):
        req = SIZES[n % 6]
        resp = SIZES[(n // 6) % 6]
        if req == MIB and (n // 6) % big_every:
            req = 16385
        if resp == MIB and n % big_every:
            resp = 16384
        plans.append(
            Plan(
                n,
                req,
                resp,
                request_trailers=n % 7 == 0,
                response_trailers=n % 5 == 0,
                content_length=n % 3 == 0,
                informational=n % 11 == 0,
                push=n % 13 == 0,
                client_reset_after=1 if n % 17 == 3 and resp > 16384 else None,
                server_reset_after=1 if n % 19 == 4 and req > 16384 else None,
            )
        )
    return plans


class Outgoing:
    """A body being sent on one stream: what is left, then how to end."""

    __slots__ = ("view", "offset", "trailers")

    def __init__(self, body: bytes, trailers: list[tuple[bytes, bytes]] | None) -> None:
        self.view = memoryview(body)
        self.offset = 0
        self.trailers = trailers


class Received:
    """What arrived on one stream."""

    __slots__ = ("headers", "informational", "body", "trailers", "ended", "reset")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.informational = 0
        self.body = bytearray()
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.ended = False
        self.reset: int | None = None


def pushed_path(n: int) -> bytes:
    return b"/pushed/%d" % n


def pushed_body(n: int) -> bytes:
    return body_for(10_000 + n, SIZES[n % 5])


TRAILERS = [(b"x-trailer", b"done")]


class Application:
    """One side's application: feeds the engine, reacts to events, checks bytes."""

    def __init__(self, engine: Engine, plans: dict[bytes, Plan]) -> None:
        self.engine = engine
        self.plans = plans
        self.sending: dict[int, Outgoing] = {}
        self.streams: dict[int, Received] = {}
        self.stream_plan: dict[int, Plan] = {}

    # -- sending --------------------------------------------------------------

    def start_body(
        self, stream_id: int, body: bytes, trailers: list[tuple[bytes, bytes]] | None
    ) -> None:
        self.sending[stream_id] = Outgoing(body, trailers)
        self.flush_stream(stream_id)

    def flush_stream(self, stream_id: int) -> None:
        out = self.sending[stream_id]
        engine = self.engine
        remaining = len(out.view) - out.offset
        if remaining:
            end = out.trailers is None
            taken = engine.send_data(stream_id, out.view[out.offset :], end_stream=end)
            out.offset += taken
            if taken < remaining:
                return
            if end:
                del self.sending[stream_id]
                return
        if out.trailers is None:
            engine.end_stream(stream_id)
        else:
            engine.send_headers(stream_id, out.trailers, end_stream=True)
        del self.sending[stream_id]

    def flush(self) -> None:
        for stream_id in list(self.sending):
            self.flush_stream(stream_id)

    # -- receiving ------------------------------------------------------------

    def handle(self, events: list[Event]) -> None:
        for event in events:
            handler = getattr(self, "on_" + type(event).__name__, None)
            assert handler is not None, f"unexpected event {event!r}"
            handler(event)

    def received(self, stream_id: int) -> Received:
        got = self.streams.get(stream_id)
        if got is None:
            got = self.streams[stream_id] = Received()
        return got

    def on_DataReceived(self, event: DataReceived) -> None:
        got = self.received(event.stream_id)
        if got.reset is not None:
            return  # we reset it while this batch of events was already made
        assert got.headers is not None and not got.ended
        got.body += event.data
        got.ended = event.end_stream
        self.engine.acknowledge_received_data(event.stream_id, len(event.data))

    def on_TrailersReceived(self, event: TrailersReceived) -> None:
        got = self.received(event.stream_id)
        if got.reset is not None:
            return
        assert event.headers == TRAILERS
        got.trailers = event.headers
        got.ended = True

    def on_StreamReset(self, event: StreamReset) -> None:
        self.received(event.stream_id).reset = event.error_code
        self.sending.pop(event.stream_id, None)

    def on_WindowUpdated(self, event: WindowUpdated) -> None:
        pass

    def on_ConnectionTerminated(self, event: ConnectionTerminated) -> None:
        pass


class Server(Application):
    def __init__(self, engine: Engine, plans: dict[bytes, Plan]) -> None:
        super().__init__(engine, plans)
        self.next_push_id = 2
        self.requests_seen = 0
        self.on_request: Callable[[int], None] | None = None

    def on_RequestReceived(self, event: RequestReceived) -> None:
        headers = dict(event.headers)
        plan = self.plans[headers[b":path"]]
        self.stream_plan[event.stream_id] = plan
        got = self.received(event.stream_id)
        got.headers = event.headers
        got.ended = event.end_stream
        self.requests_seen += 1
        if plan.content_length:
            assert headers[b"content-length"] == b"%d" % len(plan.request_body)
        if event.end_stream:
            self.respond(event.stream_id)
        if self.on_request is not None:
            self.on_request(event.stream_id)

    def on_DataReceived(self, event: DataReceived) -> None:
        super().on_DataReceived(event)
        plan = self.stream_plan[event.stream_id]
        got = self.streams[event.stream_id]
        if got.reset is not None:
            return
        if (
            plan.server_reset_after is not None
            and not got.ended
            and len(got.body) >= plan.server_reset_after
        ):
            self.engine.reset_stream(event.stream_id, ErrorCodes.CANCEL)
            got.reset = ErrorCodes.CANCEL
            return
        if event.end_stream:
            self.respond(event.stream_id)

    def on_TrailersReceived(self, event: TrailersReceived) -> None:
        super().on_TrailersReceived(event)
        if self.streams[event.stream_id].reset is None:
            self.respond(event.stream_id)

    def respond(self, stream_id: int) -> None:
        plan = self.stream_plan[stream_id]
        got = self.streams[stream_id]
        assert bytes(got.body) == plan.request_body, f"request {plan.n} body corrupted"
        assert (got.trailers is not None) == plan.request_trailers
        engine = self.engine
        if plan.informational:
            engine.send_headers(stream_id, [(b":status", b"100")])
        if plan.push:
            promised = self.next_push_id
            self.next_push_id += 2
            request = [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":path", pushed_path(plan.n)),
                (b":authority", b"example.com"),
            ]
            engine.push_stream(stream_id, promised, request)
            engine.send_headers(promised, [(b":status", b"200")])
            self.start_body(promised, pushed_body(plan.n), None)
        response = [(b":status", b"200"), (b"x-n", b"%d" % plan.n)]
        if plan.content_length:
            response.append((b"content-length", b"%d" % len(plan.response_body)))
        no_body = not plan.response_body and not plan.response_trailers
        engine.send_headers(stream_id, response, end_stream=no_body)
        if not no_body:
            self.start_body(
                stream_id, plan.response_body, TRAILERS if plan.response_trailers else None
            )


class Client(Application):
    def __init__(self, engine: Engine, plans: dict[bytes, Plan]) -> None:
        super().__init__(engine, plans)
        self.queue: deque[Plan] = deque(plans.values())
        self.pushes: dict[int, int] = {}  # promised stream -> plan number
        self.refused: list[Plan] = []
        self.per_round = 1 << 30

    def open_streams(self) -> None:
        engine = self.engine
        for _ in range(self.per_round):
            if not (self.queue and engine.can_open_stream()):
                break
            plan = self.queue.popleft()
            stream_id = engine.get_next_available_stream_id()
            self.stream_plan[stream_id] = plan
            headers = [
                (b":method", b"POST"),
                (b":scheme", b"https"),
                (b":path", plan.path),
                (b":authority", b"example.com"),
            ]
            if plan.content_length:
                headers.append((b"content-length", b"%d" % len(plan.request_body)))
            no_body = not plan.request_body and not plan.request_trailers
            engine.send_headers(stream_id, headers, end_stream=no_body)
            self.received(stream_id)
            if not no_body:
                self.start_body(
                    stream_id, plan.request_body, TRAILERS if plan.request_trailers else None
                )

    def on_InformationalResponseReceived(self, event: InformationalResponseReceived) -> None:
        got = self.received(event.stream_id)
        assert got.headers is None
        got.informational += 1

    def on_ResponseReceived(self, event: ResponseReceived) -> None:
        got = self.received(event.stream_id)
        assert got.headers is None
        got.headers = event.headers
        got.ended = event.end_stream

    def on_PushPromiseReceived(self, event: PushPromiseReceived) -> None:
        path = dict(event.headers)[b":path"]
        n = int(path.rsplit(b"/", 1)[1])
        assert path == pushed_path(n)
        self.pushes[event.stream_id] = n

    def on_DataReceived(self, event: DataReceived) -> None:
        super().on_DataReceived(event)
        plan = self.stream_plan.get(event.stream_id)
        got = self.streams[event.stream_id]
        if (
            plan is not None
            and plan.client_reset_after is not None
            and not got.ended
            and len(got.body) >= plan.client_reset_after
        ):
            self.engine.reset_stream(event.stream_id, ErrorCodes.CANCEL)
            got.reset = ErrorCodes.CANCEL
            self.sending.pop(event.stream_id, None)

    def on_StreamReset(self, event: StreamReset) -> None:
        super().on_StreamReset(event)
        if event.error_code == ErrorCodes.REFUSED_STREAM:
            self.refused.append(self.stream_plan[event.stream_id])


def run(client: Client, server: Server, max_rounds: int = 100_000, latency: int = 0) -> None:
    """
    Step both applications until neither has anything left to do or say.
    With ``latency`` n, what the client writes reaches the server n rounds
    later, so the server's frames cross requests still in flight.
    """
    c, s = client.engine, server.engine
    wire: deque[bytes] = deque([b""] * latency)
    for _ in range(max_rounds):
        client.open_streams()
        client.flush()
        wire.append(c.data_to_send())
        to_server = wire.popleft()
        if to_server:
            server.handle(s.receive_data(to_server))
        server.flush()
        to_client = s.data_to_send()
        if to_client:
            client.handle(c.receive_data(to_client))
        if not to_server and not to_client and not any(wire):
            # Quiet: nothing can move unless someone still has work queued.
            assert not client.sending and not server.sending, "stalled on flow control"
            assert not (client.queue and c.can_open_stream()), "stalled with requests queued"
            return
    pytest.fail("the engines never went quiet")


def check_results(client: Client, server: Server, plans: list[Plan]) -> dict[str, int]:
    """Every body intact and in order, or a consistent prefix where a reset cut it short."""
    counts = {"complete": 0, "reset": 0, "pushed": 0}
    by_n = {plan.n: sid for sid, plan in client.stream_plan.items()}
    assert len(by_n) == len(plans)
    for plan in plans:
        got = client.streams[by_n[plan.n]]
        if got.reset is not None:
            assert plan.client_reset_after is not None or plan.server_reset_after is not None
            assert plan.response_body.startswith(bytes(got.body))
            counts["reset"] += 1
            continue
        assert got.ended, f"request {plan.n} never finished"
        assert got.headers == [(b":status", b"200"), (b"x-n", b"%d" % plan.n)] + (
            [(b"content-length", b"%d" % len(plan.response_body))] if plan.content_length else []
        )
        assert got.informational == (1 if plan.informational else 0)
        assert bytes(got.body) == plan.response_body, f"response {plan.n} corrupted"
        assert (got.trailers is not None) == plan.response_trailers
        counts["complete"] += 1
    for promised, n in client.pushes.items():
        got = client.streams[promised]
        if got.reset is None:
            assert got.ended and bytes(got.body) == pushed_body(n)
            counts["pushed"] += 1
    return counts


def assert_no_stream_state(client: Engine, server: Engine) -> None:
    """Nothing open on either side, no error, every stream the client opened is closed,
    and a fresh request still goes through (no header block left half-read).

    That nothing is *kept* per finished stream is the memory test's part
    (test_mixed_requests_leave_no_memory_behind)."""
    for engine in (client, server):
        assert engine.open_inbound_streams == 0
        assert engine.open_outbound_streams == 0
        assert engine.error is None
    next_id = client.get_next_available_stream_id()
    for stream_id in range(1, next_id, 2):
        assert client.stream_state(stream_id) == StreamState.CLOSED, stream_id
        assert server.stream_state(stream_id) == StreamState.CLOSED, stream_id
    if client.goaway_received is not None or server.goaway_received is not None:
        return  # a closing connection takes no new request, by design
    client.send_headers(next_id, CLIENT_REQUEST, end_stream=True)
    _, server_events = pump(client, server)
    assert [(type(e), e.stream_id) for e in server_events] == [(RequestReceived, next_id)]


def connected(
    client_kw: dict | None = None, server_kw: dict | None = None
) -> tuple[Engine, Engine]:
    return pair(dict(client_kw or {}), dict(server_kw or {}))


class TestRoundTrips:
    def test_2000_mixed_requests_arrive_intact_and_leave_no_state(self) -> None:
        plans = mixed_plans(2000)
        c, s = connected({"enable_push": True})
        client = Client(c, {p.path: p for p in plans})
        server = Server(s, client.plans)
        run(client, server)
        counts = check_results(client, server, plans)
        assert counts["complete"] + counts["reset"] == 2000
        assert counts["reset"] > 50 and counts["pushed"] > 100
        assert server.requests_seen == 2000
        assert_no_stream_state(c, s)

    def test_mixed_requests_leave_no_memory_behind(self) -> None:
        """Memory allocated by hyper's code (the test's applications not counted) does
        not grow with the number of finished, reset and pushed streams."""
        if tracemalloc is None:
            pytest.skip("no tracemalloc on PyPy; memory bounds are measured in the CPython run")
        hyper_files = tracemalloc.Filter(True, str(Path(hyper.__file__).parent / "*"))
        # Closed ids are remembered up to max_closed_streams: reached in the warm-up.
        c, s = connected(
            {"enable_push": True, "max_closed_streams": 50}, {"max_closed_streams": 50}
        )
        next_push_id = 2

        def batch(count: int) -> None:
            nonlocal next_push_id
            plans = mixed_plans(count)
            client = Client(c, {p.path: p for p in plans})
            server = Server(s, client.plans)
            server.next_push_id = next_push_id  # promised ids go on rising
            run(client, server)
            next_push_id = server.next_push_id
            counts = check_results(client, server, plans)
            assert counts["complete"] + counts["reset"] == count

        batch(100)  # warm up the HPACK tables and the engines' caches
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot().filter_traces([hyper_files])
            rounds = 400
            batch(rounds)
            after = tracemalloc.take_snapshot().filter_traces([hyper_files])
        finally:
            tracemalloc.stop()
        growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        # About 85 bytes a round here, nearly all of it one-off dict resizing; a stream
        # kept per round (its object, window manager and table slot) adds over 300.
        assert growth / rounds < 200, after.compare_to(before, "lineno")[:5]

    @pytest.mark.parametrize("size", SIZES)
    def test_every_body_size_both_ways(self, size: int) -> None:
        plans = [
            Plan(n, size, size, request_trailers=bool(n % 2), response_trailers=bool(n % 3))
            for n in range(6)
        ]
        c, s = connected()
        client = Client(c, {p.path: p for p in plans})
        server = Server(s, client.plans)
        run(client, server)
        assert check_results(client, server, plans)["complete"] == 6
        assert_no_stream_state(c, s)

    def test_small_windows_and_frames_still_deliver_everything(self) -> None:
        """Windows far below the body sizes: progress only through WINDOW_UPDATEs."""
        plans = mixed_plans(120, big_every=2)
        c, s = connected(
            {"enable_push": True, "initial_window_size": 1000, "connection_window_size": 65535},
            {"initial_window_size": 777, "connection_window_size": 65535},
        )
        client = Client(c, {p.path: p for p in plans})
        server = Server(s, client.plans)
        run(client, server)
        counts = check_results(client, server, plans)
        assert counts["complete"] + counts["reset"] == 120
        assert_no_stream_state(c, s)

    def test_frames_on_the_wire_respect_max_frame_size_and_windows(self) -> None:
        """Parse all traffic: no DATA frame beyond 16384, no window ever overdrawn."""
        plans = [Plan(n, MIB, MIB) for n in range(3)]
        c, s = connected()
        client = Client(c, {p.path: p for p in plans})
        server = Server(s, client.plans)
        sizes: list[int] = []
        original = c.data_to_send

        def spy() -> bytes:
            out = original()
            sizes.extend(len(f.data) for f in parse_frames(out) if isinstance(f, DataFrame))
            return out

        c.data_to_send = spy  # type: ignore[method-assign]
        run(client, server)
        assert check_results(client, server, plans)["complete"] == 3
        assert sum(sizes) == 3 * MIB and max(sizes) == 16384

    def test_one_byte_windows_deliver_byte_by_byte(self) -> None:
        plans = [Plan(0, 300, 300)]
        c, s = connected({"initial_window_size": 1}, {"initial_window_size": 1})
        client = Client(c, {p.path: p for p in plans})
        server = Server(s, client.plans)

        run(client, server)
        assert check_results(client, server, plans)["complete"] == 1
        assert_no_stream_state(c, s)


class TestGoawayMidFlight:
    def test_requests_above_last_stream_id_are_refused_and_retried(self) -> None:
        """G1: streams the server never saw are refused; replaying them elsewhere completes all."""
        plans = mixed_plans(300)
        plans = [p for p in plans if p.client_reset_after is None and p.server_reset_after is None]
        c, s = connected({"enable_push": True})
        client = Client(c, {p.path: p for p in plans})
        client.per_round = 5
        server = Server(s, client.plans)

        def close_after_40(stream_id: int) -> None:
            if server.requests_seen == 40:
                s.close()

        server.on_request = close_after_40
        run(client, server, latency=1)
        last = c.goaway_received
        assert last == 79
        # The batch that crossed the GOAWAY: sent, never processed, refused.
        refused = client.refused
        assert [p.n for p in refused] == [p.n for p in plans[40:45]]
        # Streams up to last-stream-id finished; the rest never reached the app.
        for sid, plan in client.stream_plan.items():
            if sid <= last:
                got = client.streams[sid]
                assert got.ended and bytes(got.body) == plan.response_body
        assert server.requests_seen == (last + 1) // 2
        assert_no_stream_state(c, s)
        goaways = [f for f in parse_frames(s.data_to_send()) if isinstance(f, GoAwayFrame)]
        assert goaways == []  # already delivered

        # A new connection takes the refused requests and the ones never sent.
        retry = refused + list(client.queue)
        assert len(retry) + (last + 1) // 2 == len(plans)
        c2, s2 = connected({"enable_push": True})
        client2 = Client(c2, {p.path: p for p in retry})
        server2 = Server(s2, client2.plans)
        run(client2, server2)
        assert check_results(client2, server2, retry)["complete"] == len(retry)
        assert_no_stream_state(c2, s2)

    def test_client_goaway_stops_new_pushes_and_streams(self) -> None:
        plans = [Plan(n, 100, 100) for n in range(10)]
        c, s = connected()
        client = Client(c, {p.path: p for p in plans})
        server = Server(s, client.plans)
        run(client, server)
        c.close()
        events = s.receive_data(c.data_to_send())
        assert events == [ConnectionTerminated(ErrorCodes.NO_ERROR, 0, b"")]
        assert not c.can_open_stream()
        assert_no_stream_state(c, s)
