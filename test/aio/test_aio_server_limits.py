"""
The hyper.aio server facing clients that misbehave on purpose: streams past
the concurrency limit, Rapid Reset, floods, silence, and the server's own
limits (timeouts, connection cap, buffered body), plus graceful shutdown.
A raw client (:class:`aio_support.RawClient`) writes the frames.
"""

from __future__ import annotations

import asyncio

from aio_support import RawClient, echo_handler, serving
from hyperframe.frame import DataFrame, GoAwayFrame, PingFrame, RstStreamFrame, SettingsFrame

import hyper.aio as aioh2
from hyper.http20.config import SettingCodes
from hyper.http20.errors import ErrorCodes
from hyper.http20.exceptions import ConnectionError as H2ConnectionError
from hyper.http20.exceptions import StreamResetError


class Gate:
    """A handler that takes requests, records them, and answers once opened."""

    def __init__(self) -> None:
        self.taken: list[int] = []
        self.open = asyncio.Event()
        self.errors: list[BaseException] = []
        self.took = asyncio.Event()
        self.failed = asyncio.Event()

    async def __call__(self, proto: aioh2.H2Protocol) -> None:
        while True:
            stream_id, _ = await proto.recv_request()
            self.taken.append(stream_id)
            self.took.set()
            await self.open.wait()
            try:
                await proto.start_response(stream_id, {":status": "200"}, end_stream=True)
            except StreamResetError as exc:
                self.errors.append(exc)
                self.failed.set()


class TestConcurrency:
    def test_streams_past_the_limit_are_refused_and_the_connection_lives(self, run) -> None:
        async def main() -> None:
            gate = Gate()
            async with serving(gate, concurrency=2) as (_, port):
                client = await RawClient.connect(port)
                client.send(b"".join(client.request(sid) for sid in (1, 3, 5, 7)))
                assert await client.response(5) == f"RST {ErrorCodes.REFUSED_STREAM}"
                assert await client.response(7) == f"RST {ErrorCodes.REFUSED_STREAM}"
                gate.open.set()
                assert await client.response(1) == "200"
                assert await client.response(3) == "200"
                client.send(client.request(9))
                assert await client.response(9) == "200"
                assert gate.taken == [1, 3, 9]
                client.close()

        run(main())

    def test_a_reset_stream_keeps_its_slot_until_the_handler_is_done(self, run) -> None:
        async def main() -> None:
            gate = Gate()
            async with serving(gate, concurrency=1) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1))
                await gate.took.wait()
                client.send(client.factory.rst_stream(1, ErrorCodes.CANCEL) + client.request(3))
                assert await client.response(3) == f"RST {ErrorCodes.REFUSED_STREAM}"
                gate.open.set()
                await gate.failed.wait()  # the handler learnt of the reset: its slot is free
                client.send(client.request(5))
                assert await client.response(5) == "200"
                assert gate.taken == [1, 5]
                assert [e.error_code for e in gate.errors] == [ErrorCodes.CANCEL]
                client.close()

        run(main())

    def test_rapid_reset_is_cut_off_while_another_connection_is_served(self, run) -> None:
        async def main() -> None:
            gate = Gate()
            gate.open.set()
            async with serving(gate, concurrency=8) as (_, port):
                good = await RawClient.connect(port)
                attacker = await RawClient.connect(port)
                flood = b"".join(
                    attacker.request(sid) + attacker.factory.rst_stream(sid, ErrorCodes.CANCEL)
                    for sid in range(1, 4001, 2)
                )
                attacker.send(flood)
                goaway = await attacker.goaway()
                assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
                await attacker.until_closed()
                assert len(gate.taken) <= 8
                good.send(good.request(1))
                assert await good.response(1) == "200"
                good.close()

        run(main())

    def test_a_client_that_keeps_opening_refused_streams_is_cut_off(self, run) -> None:
        async def main() -> None:
            gate = Gate()
            async with serving(gate, concurrency=1) as (_, port):
                client = await RawClient.connect(port)
                client.send(b"".join(client.request(sid) for sid in range(1, 402, 2)))
                goaway = await client.goaway()
                assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
                await client.until_closed()
                assert gate.taken == []  # the one it might have taken failed with the connection


        run(main())


class TestFloods:
    def test_ping_flood_gets_enhance_your_calm(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.factory.ping(b"12345678") * 2000)
                goaway = await client.goaway()
                assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
                await client.until_closed()

        run(main())

    def test_a_protocol_error_ends_only_that_connection(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                good = await RawClient.connect(port)
                bad = await RawClient.connect(port)
                bad.send(bad.factory.data(1, b"no such stream"))
                goaway = await bad.goaway()
                assert goaway.error_code == ErrorCodes.PROTOCOL_ERROR
                await bad.until_closed()
                good.send(good.request(1))
                assert await good.response(1) == "200"
                good.close()

        run(main())


class TestServerLimits:
    def test_a_silent_client_is_closed_after_the_handshake_timeout(self, run) -> None:
        async def main() -> None:
            limits = aioh2.ServerLimits(handshake_timeout=0.2)
            async with serving(echo_handler, limits=limits) as (_, port):
                client = await RawClient.connect(port, preface=False, answer=False)
                frames = await client.until_closed()
                goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
                assert [g.error_code for g in goaways] == [ErrorCodes.SETTINGS_TIMEOUT]

        run(main())

    def test_unacknowledged_settings_time_out(self, run) -> None:
        async def main() -> None:
            limits = aioh2.ServerLimits(settings_timeout=0.2)
            async with serving(echo_handler, limits=limits) as (_, port):
                client = await RawClient.connect(port, answer=False)
                frames = await client.until_closed()
                goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
                assert [g.error_code for g in goaways] == [ErrorCodes.SETTINGS_TIMEOUT]

        run(main())

    def test_an_idle_connection_is_closed_with_goaway(self, run) -> None:
        async def main() -> None:
            limits = aioh2.ServerLimits(idle_timeout=0.3)
            async with serving(echo_handler, limits=limits) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1))
                assert await client.body(1) == b"ok"
                frames = await client.until_closed()
                goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
                assert [(g.error_code, g.last_stream_id) for g in goaways] == [
                    (ErrorCodes.NO_ERROR, 1)
                ]

        run(main())

    def test_connections_past_the_cap_are_refused_and_the_first_is_served(self, run) -> None:
        async def main() -> None:
            limits = aioh2.ServerLimits(max_connections=1)
            async with serving(echo_handler, limits=limits) as (_, port):
                first = await RawClient.connect(port)
                await first.until(lambda f: isinstance(f, SettingsFrame))
                second = await RawClient.connect(port)
                frames = await second.until_closed()
                goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
                assert [(g.last_stream_id, g.additional_data) for g in goaways] == [
                    (0, b"connection limit reached")
                ]
                first.send(first.request(1))
                assert await first.body(1) == b"ok"
                first.close()

        run(main())

    def test_buffered_request_body_is_bounded_by_the_stream_window(self, run) -> None:
        async def main() -> None:
            gate = Gate()  # never reads the body
            limits = aioh2.ServerLimits(max_buffered_body=1024)
            async with serving(gate, limits=limits) as (_, port):
                client = await RawClient.connect(port)
                settings = await client.until(
                    lambda f: isinstance(f, SettingsFrame) and "ACK" not in f.flags
                )
                assert settings.settings[SettingCodes.INITIAL_WINDOW_SIZE] == 1024
                await client.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags)
                too_much = client.factory.data(1, b"x" * 1025)
                client.send(client.request(1, end_stream=False) + too_much)
                reset = await client.until(lambda f: isinstance(f, RstStreamFrame))
                assert (reset.stream_id, reset.error_code) == (1, ErrorCodes.FLOW_CONTROL_ERROR)
                client.close()

        run(main())


class TestGracefulShutdown:
    def test_shutdown_lets_the_open_stream_finish(self, run) -> None:
        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            closed = asyncio.ensure_future(proto.shutdown())
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, b"last words", end_stream=True)
            await closed

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1))
                assert await client.body(1) == b"last words"
                frames = await client.until_closed()
                goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
                # RFC 9113 6.8: 2**31-1 first, a PING, then the last stream really seen.
                assert [(g.error_code, g.last_stream_id) for g in goaways] == [
                    (ErrorCodes.NO_ERROR, 2**31 - 1),
                    (ErrorCodes.NO_ERROR, 1),
                ]
                assert any(isinstance(f, PingFrame) for f in frames)

        run(main())

    def test_streams_queued_when_the_handler_returns_are_refused(self, run) -> None:
        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "204"}, end_stream=True)

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1) + client.request(3))
                assert await client.response(1) == "204"
                assert await client.response(3) == f"RST {ErrorCodes.REFUSED_STREAM}"
                await client.until_closed()

        run(main())


class TestVanishingClient:
    def test_waiters_fail_when_the_client_disappears(self, run) -> None:
        """The handler is cancelled; coroutines it started get the failure."""
        failures: list[BaseException] = []
        reading = asyncio.Event()
        finished = asyncio.Event()

        async def reader(proto: aioh2.H2Protocol, stream_id: int) -> None:
            reading.set()
            try:
                await proto.read_stream(stream_id, -1)
            except H2ConnectionError as exc:
                failures.append(exc)
            try:
                await proto.send_data(stream_id, b"too late")
            except aioh2.SendException as exc:
                failures.append(exc)
            finished.set()

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "200"})
            workers.append(asyncio.ensure_future(reader(proto, stream_id)))
            await asyncio.Event().wait()

        workers: list[asyncio.Future[None]] = []

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1, end_stream=False))
                await reading.wait()
                client.writer.transport.abort()
                await finished.wait()

        run(main())
        assert [type(f).__name__ for f in failures] == ["ConnectionLostError", "SendException"]
        assert failures[1].data == b"too late"


class TestBackpressure:
    def test_send_data_waits_while_the_client_reads_nothing(self, run) -> None:
        size = 32 << 20
        done = asyncio.Event()

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, b"x" * size, end_stream=True)
            done.set()

        async def main() -> None:
            async with serving(handler) as (_, port):
                window = {SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1}
                client = await RawClient.connect(port, window)
                client.send(
                    client.factory.window_update(0, 2**31 - 1 - 65535) + client.request(1)
                )
                # Windows are wide open; only the transport can hold the sender back.
                try:
                    await asyncio.wait_for(done.wait(), 0.5)
                    raise AssertionError("send_data finished with the client reading nothing")
                except asyncio.TimeoutError:
                    pass
                received = 0
                while not done.is_set() or received < size:
                    frame = await client.read_frame()
                    assert frame is not None
                    if isinstance(frame, DataFrame):
                        received += len(frame.data)
                assert received == size
                client.close()

        run(main())

