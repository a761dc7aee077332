"""
The asyncio driver's public surface (hyper.drivers.async_h2), used as the
asyncio front end uses it, against hyper.aio's own server on 127.0.0.1; and
H2Protocol refusing a call of the other role.
"""

from __future__ import annotations

import asyncio

import pytest
from aio_support import HOST, echo_handler, request_headers, serving

import hyper.aio as aioh2
from hyper.aio import AIOH2Exception
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.core.streams import StreamBuffer
from hyper.drivers.async_h2 import ClientDriver
from hyper.http20.exceptions import ConnectionError as H2ConnectionError

# Long enough that the server surely answered a PING meanwhile, short enough
# to keep the suite quick.
SHORT = 0.2


async def connect(port: int) -> ClientDriver:
    loop = asyncio.get_running_loop()
    driver = ClientDriver(10, loop=loop)
    await loop.create_connection(lambda: driver, HOST, port)
    return driver


async def read_body(driver: ClientDriver, stream: StreamBuffer) -> bytes:
    core = driver.core
    parts = []
    while True:
        while not core.body_ready(stream):
            await driver.wait(stream, timeout=SHORT * 10)
        chunks = core.read(stream, None)
        driver.schedule_flush()  # window given back
        if not chunks:
            return b"".join(parts)
        parts.extend(chunks)


async def silent_handler(proto: aioh2.H2Protocol) -> None:
    """Take requests and never answer them."""
    while True:
        await proto.recv_request()


class TestClientDriver:
    def test_a_request_goes_out_and_its_response_comes_back(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                driver = await connect(port)
                opened = await driver.open_stream(request_headers("/", "POST", port), False)
                assert opened is not None
                stream, taken = opened
                assert taken == 0
                sent = [0]
                assert await driver.send_body(stream, b"hello driver", True, SHORT * 10, sent)
                assert sent == [len(b"hello driver")]
                await driver.wait_response(stream, SHORT * 10)
                assert dict(stream.headers or [])[b":status"] == b"200"
                assert await read_body(driver, stream) == b"hello driver"
                driver.close_gracefully()

        run(main())

    def test_a_wait_with_a_timeout_raises_hypers_timeout_error(self, run) -> None:
        async def main() -> None:
            async with serving(silent_handler) as (_, port):
                driver = await connect(port)
                opened = await driver.open_stream(request_headers(port=port), True)
                assert opened is not None
                with pytest.raises(HyperTimeoutError):
                    await driver.wait_response(opened[0], SHORT)
                assert driver.is_usable  # only that call gave up
                driver.close_now(0)

        run(main())

    def test_ping_measures_a_round_trip(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                driver = await connect(port)
                rtt = await driver.ping(b"drv-ping", SHORT * 10)
                assert rtt >= 0
                driver.close_gracefully()

        run(main())

    def test_close_now_fails_every_waiter_and_the_connection(self, run) -> None:
        async def main() -> None:
            async with serving(silent_handler) as (_, port):
                driver = await connect(port)
                opened = await driver.open_stream(request_headers(port=port), True)
                assert opened is not None
                stream = opened[0]
                waiting = asyncio.ensure_future(driver.wait_response(stream))
                parked = []

                def close_now() -> None:
                    parked.append(stream.waiter is not None)
                    driver.close_now(0)

                # Runs after the task's first step (call_soon keeps order).
                asyncio.get_running_loop().call_soon(close_now)
                with pytest.raises(H2ConnectionError):
                    await asyncio.wait_for(waiting, SHORT * 10)
                assert parked == [True]
                assert not driver.is_usable
                # No stream on a closed connection; why_unusable says why
                # (the front end's retry rule decides what to do with it).
                assert await driver.open_stream(request_headers(port=port), True) is None
                assert isinstance(driver.why_unusable(), H2ConnectionError)

        run(main())


class TestRoles:
    def test_a_client_call_on_a_server_connection_says_so(self, run) -> None:
        refused: list[AIOH2Exception] = []

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            assert not proto.is_usable  # (client) only
            try:
                await proto.start_request({":method": "GET", ":path": "/"})
            except AIOH2Exception as exc:
                refused.append(exc)
            await proto.start_response(stream_id, {":status": "204"}, end_stream=True)

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                stream_id = await client.start_request(
                    {":method": "GET", ":path": "/"}, end_stream=True
                )
                assert dict(await client.recv_response(stream_id))[":status"] == "204"
                # The handler tried before it answered.
                assert ["start_request is a client call" in str(e) for e in refused] == [True]
                with pytest.raises(AIOH2Exception, match="recv_request is a server call"):
                    await client.recv_request()
                client.close_connection()

        run(main())
