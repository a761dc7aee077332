"""aioh2's README example, verbatim, with ``import hyper.aio as aioh2``: TCP and unix socket."""

from __future__ import annotations

import asyncio

import hyper.aio as aioh2


class TestReadmeExample:
    def test_over_tcp(self, run) -> None:
        async def example():
            # -- aioh2's README, verbatim --------------------------------------
            async def on_connected(proto):
                while True:
                    stream_id, headers = await proto.recv_request()
                    await proto.start_response(stream_id, {':status': '200'})
                    await proto.send_data(stream_id, b'hello, ')
                    resp = await proto.read_stream(stream_id, -1)
                    await proto.send_data(stream_id, resp)
                    await proto.send_trailers(stream_id, {'len': str(len(resp))})

            server = await aioh2.start_server(
                lambda p: asyncio.get_event_loop().create_task(on_connected(p)), port=0, concurrency=3)
            port = server.sockets[0].getsockname()[1]
            client = await aioh2.open_connection('0.0.0.0', port)
            stream_id = await client.start_request({':method': 'GET', ':path': '/index.html'})
            await client.send_data(stream_id, b'world', end_stream=True)
            headers = await client.recv_response(stream_id)
            resp = await client.read_stream(stream_id, -1)
            trailers = await client.recv_trailers(stream_id)
            # ------------------------------------------------------------------
            client.close_connection()
            server.close()
            return headers, resp, trailers

        headers, resp, trailers = run(example())
        assert headers == [(":status", "200")]
        assert resp == b"hello, world"
        assert trailers == [("len", "5")]

    def test_over_a_unix_socket(self, run, tmp_path) -> None:
        path = str(tmp_path / "h2.sock")

        async def example():
            async def on_connected(proto):
                while True:
                    stream_id, headers = await proto.recv_request()
                    await proto.start_response(stream_id, {':status': '200'})
                    await proto.send_data(stream_id, b'hello, ')
                    resp = await proto.read_stream(stream_id, -1)
                    await proto.send_data(stream_id, resp)
                    await proto.send_trailers(stream_id, {'len': str(len(resp))})

            server = await aioh2.start_unix_server(
                lambda p: asyncio.get_event_loop().create_task(on_connected(p)), path,
                concurrency=3)
            client = await aioh2.open_unix_connection(path)
            stream_id = await client.start_request({':method': 'GET', ':path': '/index.html'})
            await client.send_data(stream_id, b'world', end_stream=True)
            headers = await client.recv_response(stream_id)
            resp = await client.read_stream(stream_id, -1)
            trailers = await client.recv_trailers(stream_id)
            client.close_connection()
            server.close()
            return headers, resp, trailers

        headers, resp, trailers = run(example())
        assert headers == [(":status", "200")]
        assert resp == b"hello, world"
        assert trailers == [("len", "5")]
