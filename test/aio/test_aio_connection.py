"""
AsyncHTTP20Connection: requests, responses (decoding, chunked and async
iteration, readinto), pushes, uploads from bytes, files and (async)
iterables under flow control, request trailers, per-call timeouts and
GOAWAY reconnection; against hyper.aio's server and h2o, nginx, nghttpd.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_support import HOST, echo_handler, serving
from support import servers

import hyper.aio as aioh2
import hyper.tls
from hyper.aio import AsyncHTTP20Connection
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.http20.errors import ErrorCodes
from hyper.http20.exceptions import StreamResetError


@contextlib.asynccontextmanager
async def connected(
    handler: Any, timeout: float = 10.0, **kwargs: Any
) -> AsyncIterator[AsyncHTTP20Connection]:
    """A hyper.aio server running ``handler``, and a connection to it."""
    async with serving(handler, **kwargs) as (_, port):
        conn = AsyncHTTP20Connection(f"{HOST}:{port}", timeout=timeout)
        try:
            yield conn
        finally:
            conn.close()


async def fetch(conn: AsyncHTTP20Connection, path: str, **kwargs) -> tuple[int, bytes]:
    stream_id = await conn.request(kwargs.pop("method", "GET"), path, **kwargs)
    response = await conn.get_response(stream_id)
    return response.status, await response.read()


async def reporting_handler(proto: aioh2.H2Protocol) -> None:
    """Answers with the request's body length, its trailers, and its headers."""
    while True:
        stream_id, headers = await proto.recv_request()
        body = await proto.read_stream(stream_id, -1)
        trailers = await proto.recv_trailers(stream_id)
        report = f"{len(body)} {trailers} {dict(headers).get('content-length')}"
        await proto.start_response(stream_id, {":status": "200"})
        await proto.send_data(stream_id, report.encode(), end_stream=True)


class TestRequests:
    def test_many_concurrent_requests_from_tasks(self, run) -> None:
        async def main() -> None:
            async with connected(echo_handler, concurrency=100, timeout=10) as conn:
                results = await asyncio.gather(*(fetch(conn, f"/{i}") for i in range(2000)))
                assert set(results) == {(200, b"ok")}

        run(main())

    def test_upload_kinds_and_trailers(self, run, tmp_path) -> None:
        upload = tmp_path / "upload.bin"
        upload.write_bytes(b"f" * 300_000)

        async def pieces():
            for _ in range(3):
                yield b"a" * 100_000

        async def main() -> None:
            # A 64 KiB stream window: every upload needs several WINDOW_UPDATEs.
            limits = aioh2.ServerLimits(max_buffered_body=65536)
            async with connected(reporting_handler, limits=limits, timeout=10) as conn:
                post = {"method": "POST"}
                assert await fetch(conn, "/", body=b"b" * 300_000, **post) == (
                    200, b"300000 [] 300000",
                )  # fmt: skip
                with upload.open("rb") as f:
                    assert await fetch(conn, "/", body=f, **post) == (
                        200, b"300000 [] 300000",
                    )  # fmt: skip
                assert await fetch(conn, "/", body=pieces(), **post) == (
                    200, b"300000 [] None",
                )  # fmt: skip
                assert await fetch(conn, "/", body=[b"x", "y", b"z"], **post) == (
                    200, b"3 [] None",
                )  # fmt: skip
                status, report = await fetch(
                    conn, "/", body=pieces(), trailers={"x-checksum": "abc"}, **post
                )
                assert (status, report) == (200, b"300000 [('x-checksum', 'abc')] None")
                status, report = await fetch(conn, "/", trailers=[("grpc-status", "0")])
                assert (status, report) == (200, b"0 [('grpc-status', '0')] None")

        run(main())

    def test_putrequest_endheaders_send_with_trailers(self, run) -> None:
        async def parts():
            yield b"async "
            yield b"part"

        async def main() -> None:
            async with connected(reporting_handler, timeout=10) as conn:
                stream_id = await conn.putrequest("POST", "/put")
                conn.putheader("x-kind", "putrequest", stream_id)
                await conn.endheaders(b"first ", stream_id=stream_id)
                await conn.send(b"second ", stream_id=stream_id)
                await conn.send(parts(), final=True, stream_id=stream_id, trailers={"x-n": "3"})
                response = await conn.get_response(stream_id)
                assert await response.read() == b"23 [('x-n', '3')] None"  # 6 + 7 + 6 + 4

                # final=True without trailers, the last piece empty.
                stream_id = await conn.putrequest("POST", "/put")
                await conn.endheaders(stream_id=stream_id)
                await conn.send(b"xyz", stream_id=stream_id)
                await conn.send(b"", final=True, stream_id=stream_id)
                response = await conn.get_response(stream_id)
                assert await response.read() == b"3 [] None"

        run(main())

    def test_a_timed_out_call_spares_the_other_streams(self, run) -> None:
        release = asyncio.Event()

        async def handler(proto: aioh2.H2Protocol) -> None:
            slow, _ = await proto.recv_request()
            fast, _ = await proto.recv_request()
            await proto.start_response(fast, {":status": "200"}, end_stream=True)
            await release.wait()
            await proto.start_response(slow, {":status": "201"}, end_stream=True)

        async def main() -> None:
            async with connected(handler, timeout=0.3) as conn:
                slow = await conn.request("GET", "/slow")
                fast = await conn.request("GET", "/fast")
                with pytest.raises(HyperTimeoutError):
                    await conn.get_response(slow)
                assert (await conn.get_response(fast)).status == 200
                release.set()
                assert (await conn.get_response(slow)).status == 201

        run(main())

    def test_a_call_may_bring_its_own_timeout(self, run) -> None:
        """get_response(timeout=...) bounds that wait, and the response's reads,
        on a connection that has none."""
        release = asyncio.Event()

        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, b"part")
            await release.wait()
            await proto.send_data(stream_id, b"rest", end_stream=True)

        async def main() -> None:
            async with connected(handler, timeout=None) as conn:
                stream_id = await conn.request("GET", "/", timeout=0.3)
                response = await conn.get_response(stream_id, timeout=0.3)
                assert await response.read(4) == b"part"
                with pytest.raises(HyperTimeoutError):
                    await response.read(4)
                release.set()
                assert await response.read() == b"rest"

        run(main())

    def test_goaway_reconnects_transparently(self, run) -> None:
        connections = []

        async def three_then_goaway(proto: aioh2.H2Protocol) -> None:
            connections.append(proto)
            for _ in range(3):
                stream_id, _ = await proto.recv_request()
                await proto.start_response(stream_id, {":status": "200"})
                await proto.send_data(stream_id, b"ok", end_stream=True)
            proto.close_connection()

        async def main() -> None:
            async with connected(three_then_goaway, timeout=10) as conn:
                ids = []
                for i in range(10):
                    stream_id = await conn.request("GET", f"/{i}")
                    ids.append(stream_id)
                    response = await conn.get_response(stream_id)
                    assert await response.read() == b"ok"
                assert ids == sorted(set(ids))  # ids keep rising across connections

        run(main())
        assert len(connections) >= 4

    def test_a_reset_mid_body_raises_on_read(self, run) -> None:
        async def handler(proto: aioh2.H2Protocol) -> None:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, b"partial")
            proto.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)
            await asyncio.Event().wait()

        async def main() -> None:
            async with connected(handler, timeout=10) as conn:
                response = await conn.get_response(await conn.request("GET", "/"))
                with pytest.raises(StreamResetError) as caught:
                    await response.read()
                assert caught.value.error_code == ErrorCodes.INTERNAL_ERROR

        run(main())


class TestResponses:
    def test_decoding_and_every_way_of_reading(self, run) -> None:
        text = b"hyper " * 20000
        packed = gzip.compress(text)

        async def handler(proto: aioh2.H2Protocol) -> None:
            while True:
                stream_id, _ = await proto.recv_request()
                await proto.start_response(
                    stream_id, {":status": "200", "content-encoding": "gzip"}
                )
                for start in range(0, len(packed), 1000):
                    await proto.send_data(stream_id, packed[start : start + 1000])
                await proto.send_trailers(stream_id, {"x-done": "yes"})

        async def main() -> None:
            async with connected(handler, timeout=10) as conn:
                async def response():
                    return await conn.get_response(await conn.request("GET", "/"))

                whole = await response()
                assert whole.getheader("content-encoding") == "gzip"
                assert await whole.read() == text
                assert whole.trailers.get("x-done") == [b"yes"]

                bounded = await response()
                pieces = []
                while piece := await bounded.read(1000):
                    assert len(piece) <= 1000
                    pieces.append(piece)
                assert b"".join(pieces) == text

                chunked = await response()
                assert b"".join([c async for c in chunked.read_chunked()]) == text

                iterated = await response()
                assert b"".join([c async for c in iterated]) == text

                raw = await response()
                assert await raw.read(decode_content=False) == packed

                into = await response()
                buffer = bytearray(4096)
                size = await into.readinto(buffer)
                assert 0 < size <= 4096 and bytes(buffer[:size]) == text[:size]
                into.close()

        run(main())


class TestDefaultTls:
    def test_the_default_context_is_hyper_tls_context(
        self, run, server_tls, client_tls, monkeypatch
    ) -> None:
        """Without ``ssl_context``, the one default of every front end is
        used: an assigned ``hyper.tls._context`` (trusting the test CA here)."""
        monkeypatch.setattr(hyper.tls, "_context", client_tls)

        async def main() -> None:
            async with serving(echo_handler, ssl=server_tls()) as (_, port):
                conn = AsyncHTTP20Connection(f"{HOST}:{port}", secure=True, timeout=10)
                try:
                    status, _ = await fetch(conn, "/")
                finally:
                    conn.close()
                assert status == 200

        run(main())


@pytest.mark.interop
class TestAgainstRealServers:
    @pytest.mark.parametrize("kind", ["nghttpd", "nginx", "h2o"])
    def test_get_over_tls(self, run, kind, request, docroot) -> None:
        server: servers.Server = request.getfixturevalue(kind)

        async def main() -> None:
            async with AsyncHTTP20Connection(
                server.authority, secure=True, ssl_context=server.ssl_context(), timeout=10
            ) as conn:
                assert await fetch(conn, "/index.html") == (200, docroot.read("index.html"))
                assert await fetch(conn, "/1m.bin") == (200, docroot.read("1m.bin"))

        run(main())

    def test_gzip_from_nginx_is_decoded(self, run, nginx, docroot) -> None:
        async def main() -> None:
            async with AsyncHTTP20Connection(
                nginx.authority, secure=True, ssl_context=nginx.ssl_context(), timeout=10
            ) as conn:
                response = await conn.get_response(await conn.request("GET", "/text.txt"))
                assert response.getheader("content-encoding") == "gzip"
                assert await response.read() == docroot.read("text.txt")

        run(main())

    def test_upload_to_h2o(self, run, h2o) -> None:
        async def main() -> None:
            async with AsyncHTTP20Connection(
                h2o.authority, secure=True, ssl_context=h2o.ssl_context(), timeout=10
            ) as conn:
                status, body = await fetch(conn, "/upload", method="POST", body=b"u" * 3_000_000)
                assert (status, body) == (200, b"3000000\n")

        run(main())

    def test_pushes_from_nghttpd(self, run, nghttpd) -> None:
        async def main() -> None:
            async with AsyncHTTP20Connection(
                nghttpd.authority,
                secure=True,
                ssl_context=nghttpd.ssl_context(),
                enable_push=True,
                timeout=10,
            ) as conn:
                stream_id = await conn.request("GET", "/")
                response = await conn.get_response(stream_id)
                await response.read()
                assert response.trailers.get(servers.TRAILER_NAME) == [
                    servers.TRAILER_VALUE.encode()
                ]
                pushes = response.pushes
                assert [p.path for p in pushes] == [b"/style.css"]
                pushed = await pushes[0].get_response()
                assert pushed.status == 200
                assert await pushed.read() == servers.STYLE_CSS

        run(main())
