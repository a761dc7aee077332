"""
hyper.aio's server against a scripted client sending frames on streams that
are already closed (RFC 9113 5.1, "closed"): the answer depends on how the
stream closed (h2spec http2/5.1/8-13).
"""

from __future__ import annotations

from aio_support import RawClient, echo_handler, serving
from hyperframe.frame import GoAwayFrame, PingFrame, RstStreamFrame

import hyper.aio as aioh2
from hyper.http20.errors import ErrorCodes

STREAM_CLOSED = ErrorCodes.STREAM_CLOSED


async def _answered(client: RawClient, stream_id: int) -> None:
    assert await client.response(stream_id) == "200"
    await client.body(stream_id)


async def _nothing_but_the_ping(client: RawClient) -> list[type]:
    """Send a PING and read up to its ACK: what the server sent meanwhile."""
    start = len(client.frames)
    client.send(client.factory.ping(b"in-order"))
    await client.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags)
    return [type(f) for f in client.frames[start:] if not isinstance(f, PingFrame)]


class TestClosedStreams:
    def test_headers_after_both_end_streams_is_a_connection_error(self, run) -> None:
        """h2spec http2/5.1/12: GOAWAY(STREAM_CLOSED)."""

        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1))
                await _answered(client, 1)
                client.send(client.request(1))  # HEADERS again on the closed stream
                goaway = await client.goaway()
                assert (goaway.error_code, goaway.last_stream_id) == (STREAM_CLOSED, 1)
                client.close()

        run(main())

    def test_data_after_both_end_streams_is_a_connection_error(self, run) -> None:
        """h2spec http2/5.1/11."""

        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1))
                await _answered(client, 1)
                client.send(client.factory.data(1, b"late", end_stream=True))
                assert (await client.goaway()).error_code == STREAM_CLOSED
                client.close()

        run(main())

    def test_a_frame_after_the_clients_reset_is_a_stream_error(self, run) -> None:
        """h2spec http2/5.1/8-9: RST_STREAM(STREAM_CLOSED), the connection serves on."""

        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1, end_stream=False))
                client.send(client.factory.rst_stream(1, ErrorCodes.CANCEL))
                client.send(client.factory.data(1, b"late"))
                reset = await client.until(lambda f: isinstance(f, RstStreamFrame))
                assert (reset.stream_id, reset.error_code) == (1, STREAM_CLOSED)
                client.send(client.request(3))
                await _answered(client, 3)
                assert not any(isinstance(f, GoAwayFrame) for f in client.frames)
                client.close()

        run(main())

    def test_frames_after_the_servers_reset_are_ignored(self, run) -> None:
        """The client may not have seen our RST_STREAM yet (5.1): no answer."""

        async def resets(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            proto.reset_stream(stream_id, ErrorCodes.CANCEL)
            await echo_handler(proto)

        async def main() -> None:
            async with serving(resets) as (_, port):
                client = await RawClient.connect(port)
                client.send(client.request(1, end_stream=False))
                await client.until(lambda f: isinstance(f, RstStreamFrame))
                client.send(client.factory.data(1, b"crossed our RST", end_stream=True))
                client.send(client.factory.headers(1, [(":x", "y")], end_stream=True))
                assert await _nothing_but_the_ping(client) == []
                client.send(client.request(3))
                await _answered(client, 3)
                client.close()

        run(main())

