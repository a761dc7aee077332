"""
The hyper.aio server's stream calls, driven frame by frame from a raw
client: send_data under a 3-byte window (blocks, is cancelled, leaves
nothing queued, resumes after WINDOW_UPDATE), SendException.data after a
reset, read_stream sizes across DATA frame boundaries, 1xx responses,
trailers, and unknown frames.
"""

from __future__ import annotations

import asyncio

import pytest
from aio_support import RawClient, serving
from hyperframe.frame import DataFrame, HeadersFrame

import hyper.aio as aioh2
from hyper.http20.config import SettingCodes
from hyper.http20.errors import ErrorCodes
from hyper.http20.exceptions import StreamResetError

TINY = {SettingCodes.INITIAL_WINDOW_SIZE: 3}


class Sender:
    """A handler whose first send runs as a task the test can cancel."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.task: asyncio.Future[None] | None = None
        self.started = asyncio.Event()
        self.finish = asyncio.Event()
        self.outcome: BaseException | None = None

    async def __call__(self, proto: aioh2.H2Protocol) -> None:
        stream_id, _ = await proto.recv_request()
        await proto.start_response(stream_id, {":status": "200"})
        self.task = asyncio.ensure_future(proto.send_data(stream_id, self.payload))
        self.started.set()
        try:
            await self.task
        except (asyncio.CancelledError, aioh2.SendException) as exc:
            self.outcome = exc
        await self.finish.wait()
        await proto.send_data(stream_id, b"END", end_stream=True)


class TestSendData:
    def test_cancelled_send_leaves_nothing_queued_and_sending_resumes(self, run) -> None:
        async def main() -> None:
            sender = Sender(b"0123456789")
            async with serving(sender) as (_, port):
                client = await RawClient.connect(port, TINY)
                client.send(client.request(1))
                first = await client.until(lambda f: isinstance(f, DataFrame))
                assert first.data == b"012"  # the window's worth, then it waits
                await sender.started.wait()
                assert sender.task is not None and not sender.task.done()
                sender.task.cancel()
                client.send(client.factory.window_update(1, 100))
                sender.finish.set()
                # The next DATA is the new send: nothing of the cancelled one was queued.
                assert await client.body(1) == b"END"
                assert isinstance(sender.outcome, asyncio.CancelledError)
                client.close()

        run(main())

    def test_send_exception_holds_the_unsent_bytes_after_a_reset(self, run) -> None:
        async def main() -> None:
            sender = Sender(b"0123456789")
            async with serving(sender) as (_, port):
                client = await RawClient.connect(port, TINY)
                client.send(client.request(1))
                first = await client.until(lambda f: isinstance(f, DataFrame))
                assert first.data == b"012"
                client.send(client.factory.rst_stream(1, ErrorCodes.CANCEL))
                await sender.started.wait()
                assert sender.task is not None
                with pytest.raises(aioh2.SendException):
                    await sender.task
                outcome = sender.outcome
                assert isinstance(outcome, aioh2.SendException)
                assert outcome.data == b"3456789"
                assert isinstance(outcome.__cause__, StreamResetError)
                assert outcome.__cause__.error_code == ErrorCodes.CANCEL
                client.close()

        run(main())


class TestReadStream:
    def test_sizes_across_frame_boundaries(self, run) -> None:
        reads: list[bytes] = []

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            for size in (None, 0, 5, None, None, -1, 7):
                reads.append(await proto.read_stream(stream_id, size))
            await proto.start_response(stream_id, {":status": "204"}, end_stream=True)

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await RawClient.connect(port)
                f = client.factory
                client.send(
                    client.request(1, end_stream=False)
                    + f.data(1, b"abc")
                    + f.data(1, b"defg")
                    + f.data(1, b"hij", end_stream=True)
                )
                assert await client.response(1) == "204"
                client.close()

        run(main())
        # None: the next frame's payload (what is left of it); n: exactly n across frames.
        assert reads == [b"abc", b"", b"defgh", b"ij", b"", b"", b""]

    def test_read_all_spans_many_windows(self, run) -> None:
        """-1 reads past the stream window: window is given back as it reads."""
        body = bytes(range(256)) * 1024  # 256 KiB through a 16 KiB window

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            data = await proto.read_stream(stream_id, -1)
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, str(len(data)).encode(), end_stream=True)

        async def main() -> None:
            limits = aioh2.ServerLimits(max_buffered_body=16384)
            async with serving(handler, limits=limits) as (_, port):
                client = await aioh2.open_connection("127.0.0.1", port)
                stream_id = await client.start_request({":method": "POST", ":path": "/"})
                await client.send_data(stream_id, body, end_stream=True)
                assert dict(await client.recv_response(stream_id))[":status"] == "200"
                assert await client.read_stream(stream_id, -1) == str(len(body)).encode()
                client.close_connection()

        run(main())

    def test_a_reset_wakes_the_reader_with_the_reset(self, run) -> None:
        outcome: list[BaseException] = []
        taken = asyncio.Event()
        done = asyncio.Event()

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            taken.set()
            try:
                await proto.read_stream(stream_id, -1)
            except StreamResetError as exc:
                outcome.append(exc)
            done.set()

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1, end_stream=False) + client.factory.data(1, b"x"))
                await taken.wait()  # reset before it is taken, a request is just dropped
                client.send(client.factory.rst_stream(1, ErrorCodes.INTERNAL_ERROR))
                await done.wait()
                client.close()

        run(main())
        assert [e.error_code for e in outcome] == [ErrorCodes.INTERNAL_ERROR]


class TestResponses:
    def test_informational_then_final_response_then_trailers(self, run) -> None:
        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "103", "link": "</s.css>"})
            await proto.start_response(stream_id, [(":status", "200")])
            await proto.send_data(stream_id, b"body")
            await proto.send_trailers(stream_id, {"x-sum": "4"})

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1))
                trailers = await client.until(
                    lambda f: isinstance(f, HeadersFrame) and "END_STREAM" in f.flags
                )
                assert trailers.stream_id == 1
                data = [f.data for f in client.frames if isinstance(f, DataFrame)]
                assert data == [b"body"]
                blocks = client.blocks[1]
                assert [dict(b).get(":status") for b in blocks] == ["103", "200", None]
                assert blocks[2] == [("x-sum", "4")]
                client.close()

        run(main())

    def test_unknown_frames_are_ignored(self, run) -> None:
        async def main() -> None:
            from aio_support import echo_handler

            async with serving(echo_handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.factory.raw_frame(0x42, 0, 0, b"what is this"))
                client.send(client.request(1))
                assert await client.body(1) == b"ok"
                client.close()

        run(main())

    def test_end_stream_and_reset_stream(self, run) -> None:
        async def handler(proto: aioh2.H2Protocol) -> None:
            first, _ = await proto.recv_request()
            await proto.start_response(first, {":status": "200"})
            await proto.end_stream(first)
            second, _ = await proto.recv_request()
            proto.reset_stream(second, ErrorCodes.REFUSED_STREAM)

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1))
                assert await client.body(1) == b""
                client.send(client.request(3))
                assert await client.response(3) == f"RST {ErrorCodes.REFUSED_STREAM}"
                client.close()

        run(main())
