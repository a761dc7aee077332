"""
Closing an aioh2 connection, both ways:

- ``close_connection()`` closes at once, as aioh2 did: GOAWAY, the
  transport closed, every coroutine waiting on either side fails with a
  connection error (never a wait for a timeout);
- ``await shutdown(timeout=...)`` is the graceful close: GOAWAY, the
  streams already open finish, and it returns once the transport is
  closed (after ``timeout``, what is left is closed at once).
"""

from __future__ import annotations

import asyncio

import pytest
from aio_support import HOST, serving
from support.timeouts import SHORT_TIMEOUT

import hyper.aio as aioh2
from hyper.http20.exceptions import ConnectionError as H2ConnectionError
from hyper.http20.exceptions import ConnectionLostError

# Far below ServerLimits.shutdown_timeout (30 s), the wait a graceful close
# in close_connection() used to cost the client; a prompt failure takes
# milliseconds.
PROMPT = 5.0
GET = {":method": "GET", ":path": "/"}
POST = {":method": "POST", ":path": "/upload"}


class TestCloseConnection:
    def test_a_handler_closing_fails_the_clients_wait_for_its_response(self, run) -> None:
        async def handler(proto: aioh2.H2Protocol) -> None:
            await proto.recv_request()
            proto.close_connection()

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                stream_id = await client.start_request(GET, end_stream=True)
                with pytest.raises(H2ConnectionError) as info:
                    await asyncio.wait_for(client.recv_response(stream_id), PROMPT)
                assert "closed the connection" in str(info.value)
                assert not client.is_usable

        run(main())

    def test_every_waiter_on_the_closing_server_fails_at_once(self, run) -> None:
        """recv_request, read_stream and send_data (blocked on the client's
        window) in the handler's tasks all fail with ConnectionLostError."""
        failures: dict[str, BaseException] = {}
        waiting: list[asyncio.Future[None]] = []
        closed = asyncio.Event()

        async def waits(name: str, call) -> None:
            try:
                await call
            except BaseException as exc:  # recorded for the test
                failures[name] = exc

        async def handler(proto: aioh2.H2Protocol) -> None:
            upload, _ = await proto.recv_request()
            download, _ = await proto.recv_request()
            await proto.start_response(download, {":status": "200"})
            calls = {
                "recv_request": proto.recv_request(),
                "read_stream": proto.read_stream(upload, -1),
                "send_data": proto.send_data(download, b"x" * (2 << 20), end_stream=True),
            }  # send_data: twice the client's stream window
            waiting.extend(asyncio.ensure_future(waits(*call)) for call in calls.items())
            await asyncio.sleep(0)  # let each task park on its wait
            closed.set()
            # The handler itself is cancelled once the connection is lost
            # (sooner on Python 3.13): the test awaits the waiters, not it.
            proto.close_connection()

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                await client.start_request(POST)
                await client.start_request(GET, end_stream=True)
                await asyncio.wait_for(closed.wait(), PROMPT)
                await asyncio.wait_for(asyncio.gather(*waiting), PROMPT)
                client.close_connection()

        run(main())
        assert sorted(failures) == ["read_stream", "recv_request", "send_data"]
        assert isinstance(failures["recv_request"], ConnectionLostError)
        assert isinstance(failures["read_stream"], ConnectionLostError)
        send_failure = failures["send_data"]
        assert isinstance(send_failure, aioh2.SendException)
        assert isinstance(send_failure.__cause__, ConnectionLostError)

    def test_the_clients_own_waiters_fail_at_once(self, run) -> None:
        answered = asyncio.Event()

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "200"})
            answered.set()
            await proto.recv_request()  # ends when the client goes

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                waiting_body = await client.start_request(GET, end_stream=True)
                waiting_headers = await client.start_request(GET, end_stream=True)
                await asyncio.wait_for(answered.wait(), PROMPT)
                await client.recv_response(waiting_body)
                reading = asyncio.ensure_future(client.read_stream(waiting_body, -1))
                heading = asyncio.ensure_future(client.recv_response(waiting_headers))
                await asyncio.sleep(0)
                client.close_connection()
                for task in (reading, heading):
                    with pytest.raises(ConnectionLostError, match="close_connection"):
                        await asyncio.wait_for(task, PROMPT)

        run(main())


class TestShutdown:
    def test_shutdown_after_its_timeout_closes_what_is_left(self, run) -> None:
        """A stream the handler never answers: shutdown(timeout) returns once
        the timeout passed and the connection is closed; the client's wait
        fails instead of hanging."""
        returned = asyncio.Event()

        async def handler(proto: aioh2.H2Protocol) -> None:
            await proto.recv_request()
            await proto.shutdown(timeout=SHORT_TIMEOUT)
            returned.set()

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                stream_id = await client.start_request(GET, end_stream=True)
                with pytest.raises(H2ConnectionError):
                    await asyncio.wait_for(client.recv_response(stream_id), PROMPT)
                await asyncio.wait_for(returned.wait(), PROMPT)

        run(main())

    def test_a_client_shutdown_waits_for_its_open_stream(self, run) -> None:
        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, b"whole", end_stream=True)
            await proto.recv_request()  # ends when the client goes

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                stream_id = await client.start_request(GET, end_stream=True)
                closing = asyncio.ensure_future(client.shutdown())
                await client.recv_response(stream_id)
                assert await client.read_stream(stream_id, -1) == b"whole"
                await asyncio.wait_for(closing, PROMPT)
                assert client.is_finished

        run(main())
