"""
hyper.contrib.httpx's failures as httpx's exceptions, on both transports:
each timeout by where it happened, the one table for the rest (hyper's
exception kept as ``__cause__``, nothing of hyper's escaping
``except httpx.HTTPError``); proxies; the arguments a transport takes or
refuses; and the async transport under trio.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
import threading
from collections.abc import Iterator

import httpx
import pytest
from support.h1peer import H1Peer, ok, replying
from support.httpx_runner import Runner, uploading
from support.listener import refused_port, silent_listener
from support.peer import Peer
from support.timeouts import SHORT_TIMEOUT, TIMEOUT, wait

from hyper.common.exceptions import HyperError
from hyper.contrib.httpx import AsyncHTTPTransport, HTTPTransport
from hyper.engine.errors import ErrorCodes


@pytest.fixture(params=["sync", "async"])
def runner_factory(request: pytest.FixtureRequest) -> Iterator[object]:
    made: list[Runner] = []

    def make(**kwargs: object) -> Runner:
        runner = Runner(str(request.param), **kwargs)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()


def trusting(server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.ca_path)


def causes(exc: BaseException) -> list[BaseException]:
    chain = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def assert_from_hyper(exc: BaseException) -> None:
    """An httpx exception whose cause is hyper's (or the OS's) own."""
    assert type(exc).__module__.startswith("httpx")
    assert not isinstance(exc, HyperError)
    cause = exc.__cause__
    assert isinstance(cause, (HyperError, OSError)), cause


class TestTimeouts:
    def test_no_response_in_time_is_read_timeout_h2(self, runner_factory) -> None:
        """...and the request's stream is reset (CANCEL): the server stops."""
        from hyperframe.frame import RstStreamFrame

        codes: list[int] = []

        def script(conn) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            codes.append(conn.expect_frame(RstStreamFrame, request.stream_id).error_code)
            conn.read_until_closed()

        with Peer(script) as peer:
            client = runner_factory(
                http1=False, timeout=httpx.Timeout(TIMEOUT, read=SHORT_TIMEOUT)
            )
            with pytest.raises(httpx.ReadTimeout) as info:
                client.get(f"http://{peer.address}/")
            client.close()
        assert_from_hyper(info.value)
        assert codes == [ErrorCodes.CANCEL]

    def test_no_response_in_time_is_read_timeout_h1(self, runner_factory) -> None:
        done = threading.Event()

        def script(conn) -> None:
            conn.read_request()
            wait(done, "the client to give up")

        with H1Peer(script) as peer:
            client = runner_factory(timeout=httpx.Timeout(TIMEOUT, read=SHORT_TIMEOUT))
            try:
                with pytest.raises(httpx.ReadTimeout):
                    client.get(f"http://{peer.address}/")
            finally:
                done.set()
            client.close()

    def test_a_stalled_body_is_read_timeout(self, runner_factory) -> None:
        done = threading.Event()

        def script(conn) -> None:
            conn.read_request()
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            wait(done, "the client to give up")

        with H1Peer(script) as peer:
            client = runner_factory(timeout=httpx.Timeout(TIMEOUT, read=SHORT_TIMEOUT))
            response = client.open("GET", f"http://{peer.address}/")
            try:
                with pytest.raises(httpx.ReadTimeout):
                    client.read(response)
            finally:
                done.set()
            client.close()

    def test_a_server_that_grants_no_window_is_write_timeout(self, runner_factory) -> None:
        done = threading.Event()

        def script(conn) -> None:
            conn.auto_window = False
            conn.handshake({0x4: 0})  # SETTINGS_INITIAL_WINDOW_SIZE 0: not a byte of body
            conn.expect_request()
            wait(done, "the client to give up")

        with Peer(script) as peer:
            # The blocking connections bound writes by the read timeout.
            short = httpx.Timeout(TIMEOUT, write=SHORT_TIMEOUT, read=SHORT_TIMEOUT)
            client = runner_factory(http1=False, timeout=short)
            try:
                with pytest.raises(httpx.WriteTimeout) as info:
                    # More than the 65,535 bytes a client may send before the
                    # server's SETTINGS (the first request does not wait for them).
                    client.request("POST", f"http://{peer.address}/", content=b"z" * 200_000)
            finally:
                done.set()
            client.close()
        assert_from_hyper(info.value)

    def test_a_tls_server_that_never_answers_is_connect_timeout(self, runner_factory) -> None:
        with silent_listener() as port:
            client = runner_factory(timeout=httpx.Timeout(TIMEOUT, connect=SHORT_TIMEOUT))
            with pytest.raises(httpx.ConnectTimeout) as info:
                client.get(f"https://127.0.0.1:{port}/")
        assert_from_hyper(info.value)


class TestTable:
    def test_refused_port_is_connect_error(self, runner_factory) -> None:
        with refused_port() as port:
            client = runner_factory()
            with pytest.raises(httpx.ConnectError) as info:
                client.get(f"http://127.0.0.1:{port}/")
        assert_from_hyper(info.value)
        assert info.value.request.url.port == port

    def test_retries_try_connecting_again(self, runner_factory) -> None:
        """A TLS handshake the server cuts short is a failure to connect:
        ``retries=2`` makes three attempts."""
        from support.listener import Listener

        def hang_up(conn) -> None:
            conn.close()

        with Listener([hang_up] * 3) as listener:
            client = runner_factory(retries=2)
            with pytest.raises(httpx.ConnectError):
                client.get(f"https://{listener.address}/")
            listener.wait_finished(2)
        assert listener.accepted == 3

    @pytest.mark.parametrize("url", ["ftp://example.org/", "//example.org/"])
    def test_not_http_is_unsupported_protocol(self, runner_factory, url) -> None:
        client = runner_factory()
        with pytest.raises(httpx.UnsupportedProtocol):
            client.get(url)

    def test_stream_reset_is_remote_protocol_error(self, runner_factory) -> None:
        def script(conn) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.send(conn.factory.rst_stream(request.stream_id, ErrorCodes.INTERNAL_ERROR))
            conn.read_until_closed()

        with Peer(script) as peer:
            client = runner_factory(http1=False)
            with pytest.raises(httpx.RemoteProtocolError, match=r"INTERNAL_ERROR|reset") as info:
                client.get(f"http://{peer.address}/")
            client.close()
        assert_from_hyper(info.value)

    def test_garbage_instead_of_a_response_is_remote_protocol_error(self, runner_factory) -> None:
        with H1Peer(replying(b"SPDY/3 200 OK\r\n\r\n", then_close=True)) as peer:
            client = runner_factory()
            with pytest.raises(httpx.RemoteProtocolError) as info:
                client.get(f"http://{peer.address}/")
            client.close()
        assert_from_hyper(info.value)
        # Both HTTP/1.1 drivers say it as http.client would.
        assert isinstance(info.value.__cause__, http.client.BadStatusLine)

    def test_connection_closed_mid_body_is_read_error(self, runner_factory) -> None:
        body = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
        with H1Peer(replying(body, then_close=True)) as peer:
            client = runner_factory()
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as info:
                client.get(f"http://{peer.address}/")
            client.close()
        assert_from_hyper(info.value)
        assert isinstance(info.value.__cause__, http.client.IncompleteRead)

    def test_an_untrusted_certificate_is_connect_error(self, runner_factory, h2o) -> None:
        client = runner_factory()  # certifi's CAs: not the test CA
        with pytest.raises(httpx.ConnectError) as info:
            client.get(h2o.url("/small.txt"))
        assert any(isinstance(e, ssl.SSLCertVerificationError) for e in causes(info.value))

    def test_verify_false_accepts_any_certificate(self, runner_factory, h2o) -> None:
        client = runner_factory(verify=False)
        assert client.get(h2o.url("/small.txt")).status_code == 200

    def test_exceptions_of_the_callers_body_pass_through(self, runner_factory) -> None:
        class Broken(Exception):
            pass

        client = runner_factory()
        if client.is_async:

            async def body():
                yield b"a"
                raise Broken

            content = body()
        else:

            def gen():
                yield b"a"
                raise Broken

            content = gen()
        with H1Peer(lambda conn: conn.read_until_closed()) as peer:
            with pytest.raises(Broken):
                client.request("POST", f"http://{peer.address}/", content=content)
            client.close()


class TestProxies:
    def test_https_through_a_connect_tunnel_speaks_http2(self, runner_factory, proxy, h2o) -> None:
        client = runner_factory(verify=trusting(h2o), proxy=f"http://{proxy.authority}")
        response = client.get(h2o.url("/small.txt"))
        assert (response.status_code, response.http_version) == (200, "HTTP/2")
        assert "CONNECT" in proxy.log()

    def test_http_is_forwarded_in_absolute_form(self, runner_factory, proxy, h2o) -> None:
        client = runner_factory(proxy=f"http://{proxy.authority}")
        url = h2o.url("/small.txt", port=h2o.ports["plain"], scheme="http")
        response = client.get(url)
        assert response.status_code == 200
        assert f"GET {url}" in proxy.log()

    def test_proxy_credentials(self, runner_factory, auth_proxy, h2o) -> None:
        user, password = auth_proxy.basic_auth
        proxy = httpx.Proxy(f"http://{auth_proxy.authority}", auth=(user, password))
        client = runner_factory(verify=trusting(h2o), proxy=proxy)
        assert client.get(h2o.url("/small.txt")).status_code == 200

    def test_a_refused_tunnel_is_proxy_error(self, runner_factory, auth_proxy, h2o) -> None:
        client = runner_factory(verify=trusting(h2o), proxy=f"http://{auth_proxy.authority}")
        with pytest.raises(httpx.ProxyError, match="407") as info:
            client.get(h2o.url("/small.txt"))
        assert_from_hyper(info.value)


class TestArguments:
    @pytest.mark.parametrize("transport", [HTTPTransport, AsyncHTTPTransport])
    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"socket_options": [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]}, "socket_options"),
            ({"proxy": "socks5://127.0.0.1:1080"}, "http://"),
            ({"proxy": "https://127.0.0.1:3128"}, "http://"),
            ({"http1": False, "http2": False}, "http1 and http2"),
            ({"retries": -1}, "retries"),
        ],
    )
    def test_what_hyper_cannot_honour_raises_at_once(self, transport, kwargs, match) -> None:
        with pytest.raises(ValueError, match=match):
            transport(**kwargs)

    def test_the_blocking_transport_has_no_uds(self) -> None:
        with pytest.raises(ValueError, match="AsyncHTTPTransport can"):
            HTTPTransport(uds="/tmp/x.sock")

    def test_uds_reaches_a_unix_socket_server(self, tmp_path) -> None:
        import hyper.aio

        path = str(tmp_path / "h2.sock")

        async def handler(protocol) -> None:
            while True:
                stream_id, _headers = await protocol.recv_request()
                await protocol.start_response(stream_id, [(":status", "200")])
                await protocol.send_data(stream_id, b"over a unix socket", end_stream=True)

        async def main() -> httpx.Response:
            server = await hyper.aio.start_unix_server(handler, path)
            try:
                transport = AsyncHTTPTransport(uds=path, http1=False)
                async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
                    return await client.get("http://localhost/")
            finally:
                server.close()

        response = asyncio.run(main())
        assert (response.http_version, response.content) == ("HTTP/2", b"over a unix socket")

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_local_address_is_where_the_connection_comes_from(self, kind: str) -> None:
        """127.0.0.2 is loopback too on Linux, and not the default source:
        the server seeing it proves the transport bound it."""
        seen: list[str] = []

        def script(conn) -> None:
            seen.append(conn.sock.getpeername()[0])
            conn.read_request()
            conn.send(ok(b"from"))
            conn.read_until_closed()

        async def main(url: str) -> httpx.Response:
            transport = AsyncHTTPTransport(local_address="127.0.0.2")
            async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
                return await client.get(url)

        def main_sync(url: str) -> httpx.Response:
            transport = HTTPTransport(local_address="127.0.0.2")
            with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
                return client.get(url)

        with H1Peer(script) as peer:
            url = f"http://{peer.address}/"
            response = asyncio.run(main(url)) if kind == "async" else main_sync(url)
            assert response.content == b"from"
        assert seen == ["127.0.0.2"]


def test_the_async_transport_under_trio_says_it_runs_on_asyncio() -> None:
    trio = pytest.importorskip("trio")

    async def main() -> None:
        async with httpx.AsyncClient(transport=AsyncHTTPTransport()) as client:
            await client.get("http://127.0.0.1:9/")

    with pytest.raises(RuntimeError, match="runs on asyncio"):
        trio.run(main)


def test_a_streamed_upload_to_a_server_that_answers_early() -> None:
    """A server may answer (413) before reading the body: the answer is what
    the caller gets, on both transports."""
    for kind in ("sync", "async"):
        with H1Peer(
            replying(ok(b"too big", status=b"413 Payload Too Large"), then_close=True)
        ) as peer:
            client = Runner(kind)
            try:
                response = client.request(
                    "POST",
                    f"http://{peer.address}/",
                    content=uploading(1024, is_async=client.is_async),
                )
            except httpx.TransportError:
                response = None
            finally:
                client.close()
        # A small body fits in the socket buffers: the server's answer is read.
        assert response is not None and response.status_code == 413


def test_import_without_httpx_names_the_extra() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['httpx'] = None\n"
        "try:\n"
        "    import hyper.contrib.httpx\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert "pip install 'hyper[httpx]'" in out.stdout
