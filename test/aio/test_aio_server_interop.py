"""The hyper.aio server against real clients: curl, nghttp, h2load."""

from __future__ import annotations

import asyncio
import re
import ssl

import pytest
import trustme
from aio_support import HOST, echo_handler, serving

import hyper.aio as aioh2

pytestmark = pytest.mark.interop

# A real client process finishes well inside this.
PROCESS_TIMEOUT = 60.0


async def run_process(*argv: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), PROCESS_TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def push_handler(proto: aioh2.H2Protocol) -> None:
    """GET / pushes /style.css, then answers; anything else is echoed."""
    while True:
        stream_id, headers = await proto.recv_request()
        fields = dict(headers)
        if fields[":path"] == "/" and proto.can_push:
            pushed = proto.push(
                stream_id,
                [
                    (":method", "GET"),
                    (":scheme", fields[":scheme"]),
                    (":authority", fields[":authority"]),
                    (":path", "/style.css"),
                ],
            )
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, b"<html>index</html>", end_stream=True)
            await proto.start_response(pushed, {":status": "200", "content-type": "text/css"})
            await proto.send_data(pushed, b"body {}", end_stream=True)
        elif fields[":path"] == "/":
            await proto.start_response(stream_id, {":status": "200"})
            await proto.send_data(stream_id, b"<html>index</html>", end_stream=True)
        else:
            body = await proto.read_stream(stream_id, -1)
            await proto.start_response(stream_id, [(":status", "200")])
            await proto.send_data(stream_id, b"echo:" + body, end_stream=True)


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("aio-ca") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return context


class TestCurl:
    def test_prior_knowledge_post_is_echoed(self, run, require_binary) -> None:
        curl = require_binary("curl")

        async def main() -> None:
            async with serving(push_handler) as (_, port):
                code, out, err = await run_process(
                    curl, "-sS", "--http2-prior-knowledge", "--data-binary", "@-",
                    "-w", "\n%{http_version}", f"http://{HOST}:{port}/echo",
                    stdin=b"hello aio",
                )  # fmt: skip
                assert code == 0, err
                assert out == b"echo:hello aio\n2"

        run(main())

    def test_http2_over_tls_negotiates_h2_by_alpn(
        self, run, require_binary, tls_ca, ca_file
    ) -> None:
        curl = require_binary("curl")

        async def main() -> None:
            async with serving(push_handler, ssl=server_context(tls_ca)) as (_, port):
                code, out, err = await run_process(
                    curl, "-sS", "--http2", "--cacert", ca_file, "-w", "\n%{http_version}",
                    f"https://localhost:{port}/",
                )  # fmt: skip
                assert code == 0, err
                assert out == b"<html>index</html>\n2"

        run(main())


class TestNghttp:
    def test_push_reaches_nghttp(self, run, require_binary) -> None:
        nghttp = require_binary("nghttp")

        async def main() -> None:
            async with serving(push_handler) as (_, port):
                code, out, err = await run_process(nghttp, "-nv", f"http://{HOST}:{port}/")
                assert code == 0, err
                text = out.decode()
                assert "recv PUSH_PROMISE frame" in text
                assert ":path: /style.css" in text
                # Both the pushed stream and the response ended.
                assert len(re.findall(r"recv DATA frame <length=\d+, flags=0x01", text)) == 2

        run(main())

    def test_upload_with_nghttp_is_echoed(self, run, require_binary, tmp_path) -> None:
        nghttp = require_binary("nghttp")
        upload = tmp_path / "upload.bin"
        upload.write_bytes(bytes(range(256)) * 4096)  # 1 MiB: several windows' worth

        async def main() -> None:
            async with serving(push_handler) as (_, port):
                code, out, err = await run_process(
                    nghttp, "-d", str(upload), f"http://{HOST}:{port}/up"
                )
                assert code == 0, err
                assert out == b"echo:" + upload.read_bytes()

        run(main())


class TestH2load:
    @pytest.mark.slow
    def test_every_request_is_answered(self, run, require_binary) -> None:
        h2load = require_binary("h2load")

        async def main() -> None:
            async with serving(echo_handler, concurrency=100) as (_, port):
                code, out, err = await run_process(
                    h2load, "-n", "20000", "-c", "10", "-m", "100", f"http://{HOST}:{port}/"
                )
                text = out.decode()
                assert code == 0, err
                assert "20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, " \
                    "0 errored, 0 timeout" in text, text
                assert "status codes: 20000 2xx" in text, text

        run(main(), timeout=PROCESS_TIMEOUT)
