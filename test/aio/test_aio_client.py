"""
The hyper.aio client (``H2Protocol(client_side=True)``): against hyper.aio's
own server (many streams, limits, GOAWAY, a vanishing peer), and against
nghttpd, nginx and h2o over TLS with ALPN (push from nghttpd).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

import pytest
from aio_support import HOST, echo_handler, serving
from support import servers

import hyper.aio as aioh2
import hyper.tls
from hyper.aio import AsyncHTTP20Connection
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.http20.config import SettingCodes
from hyper.http20.exceptions import ConnectionError as H2ConnectionError
from hyper.http20.exceptions import ConnectionLostError, StreamRefusedError


async def get(client: aioh2.H2Protocol, path: str) -> tuple[dict[str, str], bytes]:
    stream_id = await client.start_request(
        {":method": "GET", ":path": path}, end_stream=True
    )
    headers = dict(await client.recv_response(stream_id))
    return headers, await client.read_stream(stream_id, -1)


class TestAgainstHyperServer:
    @pytest.mark.slow
    def test_ten_thousand_streams_over_one_connection(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler, concurrency=100) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                results = await asyncio.gather(*(get(client, f"/{i}") for i in range(10000)))
                assert all(h[":status"] == "200" and b == b"ok" for h, b in results)
                client.close_connection()

        run(main(), timeout=120)

    def test_start_request_waits_for_a_free_slot(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler, concurrency=2) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                results = await asyncio.gather(*(get(client, "/") for _ in range(20)))
                assert [h[":status"] for h, _ in results] == ["200"] * 20
                client.close_connection()

        run(main())

    def test_shutdown_lets_open_streams_finish_and_refuses_new_ones(self, run) -> None:
        proceed = asyncio.Event()

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            closed = asyncio.ensure_future(proto.shutdown())
            await proceed.wait()
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, b"finished", end_stream=True)
            await closed  # returns once the transport is closed

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                stream_id = await client.start_request({":method": "GET", ":path": "/"})
                await client.end_stream(stream_id)
                # The server's final GOAWAY needs our PING answer; then no new streams.
                rtt = await client.wait_functional()
                assert rtt is None or rtt >= 0
                proceed.set()
                assert dict(await client.recv_response(stream_id))[":status"] == "200"
                assert await client.read_stream(stream_id, -1) == b"finished"
                with pytest.raises(H2ConnectionError):
                    await client.start_request({":method": "GET", ":path": "/again"})

        run(main())

    def test_refused_stream_is_safe_to_retry(self, run) -> None:
        async def handler(proto: aioh2.H2Protocol) -> None:
            while True:  # the core sends a refused first request once more
                stream_id, _ = await proto.recv_request()
                proto.reset_stream(stream_id, 7)  # REFUSED_STREAM: never processed

        async def main() -> None:
            async with serving(handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                stream_id = await client.start_request(
                    {":method": "GET", ":path": "/"}, end_stream=True
                )
                with pytest.raises(StreamRefusedError):
                    await client.recv_response(stream_id)

        run(main())

    def test_wait_functional_measures_a_round_trip(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                client = await aioh2.open_connection(HOST, port, functional_timeout=0)
                rtt = await client.wait_functional()
                assert rtt is not None and rtt >= 0
                assert client.functional_timeout == 0
                client.close_connection()

        run(main())

    def test_settings_properties_follow_acknowledged_settings(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                await client.wait_functional()
                client.max_frame_size = 32768
                client.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 12345})
                client.functional_timeout = 0
                await client.wait_functional()  # a PING answered after the SETTINGS
                assert client.max_frame_size == 32768
                assert client.initial_window_size == 12345
                assert client.max_concurrent_streams == 8
                client.close_connection()

        run(main())


class TestVanishingServer:
    def test_every_waiter_fails_when_the_server_disappears(self, run) -> None:
        accepted: list[asyncio.StreamWriter] = []
        got_request = asyncio.Event()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)
            # An empty SETTINGS frame (the client may open streams), then silence.
            writer.write(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            await reader.read(65536)  # preface, SETTINGS and the first request
            got_request.set()

        async def main() -> list[BaseException]:
            server = await asyncio.start_server(silent, HOST, 0)
            port = server.sockets[0].getsockname()[1]
            client = await aioh2.open_connection(HOST, port)
            first = await client.start_request({":method": "GET", ":path": "/a"})
            second = await client.start_request({":method": "GET", ":path": "/b"})
            waiters = [
                asyncio.ensure_future(client.recv_response(first)),
                asyncio.ensure_future(client.read_stream(second, -1)),
                asyncio.ensure_future(client.recv_trailers(second)),
            ]
            await got_request.wait()
            accepted[0].transport.abort()
            outcomes = await asyncio.gather(*waiters, return_exceptions=True)
            server.close()
            return list(outcomes)

        outcomes = run(main())
        assert [type(o) for o in outcomes] == [ConnectionLostError] * 3


class TestAlpn:
    def test_a_server_that_does_not_choose_h2_is_a_clear_error(self, run, server_tls, client_tls):
        async def main() -> None:
            context = server_tls(("http/1.1",))
            server = await asyncio.start_server(lambda r, w: None, HOST, 0, ssl=context)
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(HyperConnectionError, match="did not agree to HTTP/2"):
                await aioh2.open_connection(HOST, port, ssl=client_tls)
            server.close()

        run(main())

    def test_ssl_true_uses_a_verifying_context(self, run, server_tls) -> None:
        async def main() -> None:
            server = await aioh2.start_server(echo_handler, HOST, 0, ssl=server_tls())
            port = server.sockets[0].getsockname()[1]
            # The test CA is not in the default store: verification must fail.
            with pytest.raises(ssl.SSLCertVerificationError):
                await aioh2.open_connection(HOST, port, ssl=True)
            server.close()

        run(main())

    def test_ssl_true_uses_an_assigned_hyper_tls_context(
        self, run, server_tls, client_tls, monkeypatch
    ) -> None:
        """``ssl=True`` is hyper's one default context: an assigned
        ``hyper.tls._context`` (here trusting the test CA) is the one used."""
        monkeypatch.setattr(hyper.tls, "_context", client_tls)

        async def main() -> None:
            async with serving(echo_handler, ssl=server_tls()) as (_, port):
                client = await aioh2.open_connection(
                    HOST, port, ssl=True, server_hostname="localhost"
                )
                stream_id = await client.start_request(
                    {":method": "GET", ":path": "/"}, end_stream=True
                )
                assert dict(await client.recv_response(stream_id))[":status"] == "200"
                client.close_connection()

        run(main())


@pytest.mark.interop
class TestAgainstRealServers:
    @pytest.mark.parametrize("kind", ["nghttpd", "nginx", "h2o"])
    def test_get_over_tls(self, run, kind, request, docroot) -> None:
        server: servers.Server = request.getfixturevalue(kind)

        async def main() -> None:
            client = await aioh2.open_connection(
                HOST, server.port, ssl=server.ssl_context(), server_hostname="localhost"
            )
            headers, body = await get(client, "/index.html")
            assert headers[":status"] == "200"
            assert body == docroot.read("index.html")
            stream_id = await client.start_request(
                {":method": "GET", ":path": "/1m.bin"}, end_stream=True
            )
            assert dict(await client.recv_response(stream_id))[":status"] == "200"
            assert await client.read_stream(stream_id, -1) == docroot.read("1m.bin")
            client.close_connection()

        run(main())

    def test_push_from_nghttpd(self, run, nghttpd, docroot) -> None:
        async def main() -> None:
            client = await aioh2.open_connection(
                HOST, nghttpd.port, ssl=nghttpd.ssl_context(), enable_push=True
            )
            stream_id = await client.start_request(
                {":method": "GET", ":path": "/"}, end_stream=True
            )
            promise = await client.recv_push(stream_id)
            assert promise is not None
            pushed_id, request_headers = promise
            assert dict(request_headers)[":path"] == "/style.css"
            assert dict(await client.recv_response(pushed_id))[":status"] == "200"
            assert await client.read_stream(pushed_id, -1) == servers.STYLE_CSS
            assert dict(await client.recv_response(stream_id))[":status"] == "200"
            await client.read_stream(stream_id, -1)
            assert dict(await client.recv_trailers(stream_id)) == {
                servers.TRAILER_NAME: servers.TRAILER_VALUE
            }
            assert await client.recv_push(stream_id) is None
            client.close_connection()

        run(main())


async def _echo_app(scope: dict, receive, send) -> None:
    """An ASGI app: the request body back (or ``hello`` for an empty one)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body or b"hello"})


@contextlib.asynccontextmanager
async def hypercorn_serving():
    """hypercorn (an h2-based server) in this loop, h2c by prior knowledge."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock = socket.socket()
    sock.bind((HOST, 0))
    sock.listen(100)  # connections wait in the backlog until hypercorn accepts them
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.ensure_future(serve(_echo_app, config, shutdown_trigger=stop.wait))
    try:
        yield port
    finally:
        stop.set()
        await task  # hypercorn closes the socket it was handed


class TestAgainstHypercorn:
    def test_h2protocol_and_async_connection(self, run) -> None:
        pytest.importorskip("hypercorn")
        upload = bytes(range(256)) * 4096  # 1 MiB: many windows' worth both ways

        async def main() -> None:
            async with hypercorn_serving() as port:
                client = await aioh2.open_connection(HOST, port)
                headers, body = await get(client, "/")
                assert (headers[":status"], body) == ("200", b"hello")
                client.close_connection()
                async with AsyncHTTP20Connection(f"{HOST}:{port}", timeout=10) as conn:
                    stream_id = await conn.request("POST", "/echo", body=upload)
                    response = await conn.get_response(stream_id)
                    assert response.status == 200
                    assert await response.read() == upload

        run(main())


class TestAioh2Extras:
    """aioh2 0.2.3's signatures: ``loop=`` on the four helpers, and
    ``H2Protocol.reprioritize``."""

    def test_loop_keyword_is_accepted_with_a_deprecation_warning(self, run, tmp_path) -> None:
        path = str(tmp_path / "h2.sock")

        async def main() -> None:
            loop = asyncio.get_running_loop()
            with pytest.warns(DeprecationWarning, match="loop argument"):
                server = await aioh2.start_server(echo_handler, HOST, 0, loop=loop)
            with pytest.warns(DeprecationWarning, match="loop argument"):
                unix_server = await aioh2.start_unix_server(echo_handler, path, loop=loop)
            try:
                port = server.sockets[0].getsockname()[1]
                with pytest.warns(DeprecationWarning):
                    client = await aioh2.open_connection(HOST, port, loop=loop)
                with pytest.warns(DeprecationWarning):
                    unix_client = await aioh2.open_unix_connection(path, loop=loop)
                for proto in (client, unix_client):
                    sid = await proto.start_request(
                        {":method": "GET", ":path": "/"}, end_stream=True
                    )
                    assert dict(await proto.recv_response(sid))[":status"] == "200"
                    proto.close_connection()
            finally:
                server.close()
                unix_server.close()

        run(main())

    def test_another_loop_is_refused(self, run) -> None:
        other = asyncio.new_event_loop()

        async def main() -> None:
            with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="running"):
                await aioh2.open_connection(HOST, 1, loop=other)

        try:
            run(main())
        finally:
            other.close()

    def test_reprioritize_is_an_accepted_no_op(self, run) -> None:
        async def main() -> None:
            async with serving(echo_handler) as (_, port):
                client = await aioh2.open_connection(HOST, port)
                sid = await client.start_request({":method": "GET", ":path": "/"})
                client.reprioritize(sid, depends_on=0, weight=200, exclusive=True)
                client.reprioritize(sid)
                with pytest.raises(ValueError):
                    client.reprioritize(sid, weight=0)
                with pytest.raises(ValueError):
                    client.reprioritize(sid, depends_on=sid)
                await client.end_stream(sid)
                assert dict(await client.recv_response(sid))[":status"] == "200"
                client.close_connection()

        run(main())
