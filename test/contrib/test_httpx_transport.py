"""
hyper.contrib.httpx's transports under ``httpx.Client`` and ``httpx.AsyncClient``
(every test runs on both, through :class:`support.httpx_runner.Runner`): the
protocol each origin gets, multiplexing, bodies both ways, trailers, the
pool, closing. Against real servers (h2o, nginx, nghttpd) and scripted peers.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Iterator

import httpx
import pytest
from support.h1peer import H1Peer, ok, replying
from support.httpx_runner import Runner, uploading
from support.peer import Peer, serving
from support.timeouts import TIMEOUT, wait

from hyper.contrib.httpx import AsyncHTTPTransport, HTTPTransport
from hyper.engine.errors import ErrorCodes

KINDS = ["sync", "async"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def runner_factory(kind: str) -> Iterator[object]:
    made: list[Runner] = []

    def make(**kwargs: object) -> Runner:
        runner = Runner(kind, **kwargs)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()


def trusting(server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.ca_path)


def digest(name: str, docroot) -> str:
    return hashlib.sha256((docroot.path / name).read_bytes()).hexdigest()


class TestProtocols:
    def test_https_speaks_http2_where_alpn_agrees(self, runner_factory, h2o, docroot) -> None:
        client = runner_factory(verify=trusting(h2o))
        response = client.get(h2o.url("/small.txt"))
        assert response.status_code == 200
        assert response.http_version == "HTTP/2"
        assert response.extensions["stream_id"] == 1
        assert response.content == (docroot.path / "small.txt").read_bytes()
        assert response.reason_phrase == "OK"  # httpx's, as for httpcore's HTTP/2

    def test_https_falls_back_to_http11_where_alpn_says_so(self, runner_factory, nginx) -> None:
        client = runner_factory(verify=trusting(nginx))
        response = client.get(nginx.url("/small.txt", port=nginx.ports["h1"]))
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
        assert response.extensions["reason_phrase"] == b"OK"

    def test_http1_only_over_tls_speaks_http11(self, runner_factory, h2o) -> None:
        client = runner_factory(verify=trusting(h2o), http2=False)
        assert client.get(h2o.url("/small.txt")).http_version == "HTTP/1.1"

    def test_http2_only_refuses_a_server_without_it(self, runner_factory, nginx) -> None:
        client = runner_factory(verify=trusting(nginx), http1=False)
        with pytest.raises(httpx.ConnectError, match=r"HTTP/2|h2|ALPN|protocol"):
            client.get(nginx.url("/small.txt", port=nginx.ports["h1"]))

    @pytest.mark.parametrize("connection_header", [True, False], ids=["httpx", "removed"])
    def test_cleartext_speaks_http11_without_asking_to_upgrade(
        self, runner_factory, connection_header: bool
    ) -> None:
        """No h2c offer, whether or not the request carries httpx's own
        Connection header (one of the caller's also rules an offer out)."""
        with H1Peer(replying(ok(b"plain"))) as peer:
            client = runner_factory()
            if not connection_header:
                del client.client.headers["Connection"]
            response = client.get(f"http://{peer.address}/")
            assert (response.http_version, response.content) == ("HTTP/1.1", b"plain")
            client.close()
        assert peer.requests[0].header(b"upgrade") is None
        assert (peer.requests[0].header(b"connection") is not None) is connection_header

    def test_cleartext_with_http2_only_is_prior_knowledge(self, runner_factory, h2o) -> None:
        client = runner_factory(http1=False)
        url = h2o.url("/small.txt", port=h2o.ports["plain"], scheme="http")
        assert client.get(url).http_version == "HTTP/2"

    def test_headers_go_as_httpx_gives_them(self, runner_factory) -> None:
        with H1Peer(replying(ok())) as peer:
            client = runner_factory()
            client.get(f"http://{peer.address}/", headers={"X-First": "1", "x-Second": "2"})
            client.close()
        names = [name.strip() for name, _ in peer.requests[0].raw_headers]
        assert names[:2] == [b"Host", b"Accept"]
        assert names.index(b"X-First") < names.index(b"x-Second")
        # hyper adds nothing of its own: httpx already sent its User-Agent.
        assert peer.requests[0].header(b"user-agent").startswith(b"python-httpx/")


class TestMultiplexing:
    def test_concurrent_requests_share_one_connection(self, kind, h2o) -> None:
        count = 30
        if kind == "async":
            import asyncio

            async def main() -> list[httpx.Response]:
                transport = AsyncHTTPTransport(verify=trusting(h2o))
                async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
                    return list(
                        await asyncio.gather(
                            *(client.get(h2o.url("/1k.bin")) for _ in range(count))
                        )
                    )

            responses = asyncio.run(main())
        else:
            with httpx.Client(
                transport=HTTPTransport(verify=trusting(h2o)), timeout=TIMEOUT
            ) as client:
                client.get(h2o.url("/1k.bin"))  # the connection, made once
                responses = []
                lock = threading.Lock()

                def fetch() -> None:
                    response = client.get(h2o.url("/1k.bin"))
                    with lock:
                        responses.append(response)

                threads = [threading.Thread(target=fetch) for _ in range(count)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(TIMEOUT)
        ids = sorted(r.extensions["stream_id"] for r in responses)
        assert len(ids) == count and all(r.status_code == 200 for r in responses)
        # Stream ids start again at 1 on every connection: distinct, all odd, and
        # no 1 twice means one connection carried them all.
        assert len(set(ids)) == count and all(i % 2 for i in ids)

    def test_past_the_servers_stream_limit_requests_wait_for_a_slot(self, runner_factory) -> None:
        """MAX_CONCURRENT_STREAMS 1: every request gets through, one at a
        time, on the one connection."""

        def answer(conn, request) -> None:
            conn.respond(request.stream_id, body=request.path)

        with Peer(serving(answer, settings={0x3: 1})) as peer:
            client = runner_factory(http1=False)
            url = f"http://{peer.address}"
            responses = [client.get(f"{url}/{i}") for i in range(4)]
            client.close()
        assert [r.content for r in responses] == [b"/0", b"/1", b"/2", b"/3"]
        assert peer.accepted == 1


class TestBodies:
    @pytest.mark.parametrize("scheme", ["https", "http"])
    def test_upload_of_unknown_length_is_streamed(self, runner_factory, h2o, scheme) -> None:
        client = runner_factory(verify=trusting(h2o))
        size = 3 * 1024 * 1024 + 17
        port = h2o.port if scheme == "https" else h2o.ports["plain"]
        body = uploading(size, is_async=client.is_async)
        response = client.request(
            "PUT", h2o.url("/upload", port=port, scheme=scheme), content=body
        )
        assert response.status_code == 200
        assert response.text.strip() == str(size)  # h2o's sink counts what it read
        assert response.http_version == ("HTTP/2" if scheme == "https" else "HTTP/1.1")

    def test_bytes_upload(self, runner_factory, h2o) -> None:
        client = runner_factory(verify=trusting(h2o))
        response = client.request("POST", h2o.url("/upload"), content=b"y" * 100_000)
        assert response.text.strip() == "100000"

    @pytest.mark.parametrize("scheme", ["https", "http"])
    def test_streamed_download_is_whole(self, runner_factory, h2o, docroot, scheme) -> None:
        client = runner_factory(verify=trusting(h2o))
        port = h2o.port if scheme == "https" else h2o.ports["plain"]
        response = client.open("GET", h2o.url("/1m.bin", port=port, scheme=scheme))
        body = client.read(response)
        assert hashlib.sha256(body).hexdigest() == digest("1m.bin", docroot)

    def test_content_encoding_is_left_to_httpx(self, runner_factory, h2o, docroot) -> None:
        client = runner_factory(verify=trusting(h2o))
        response = client.get(h2o.url("/text.txt"), headers={"accept-encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.content == (docroot.path / "text.txt").read_bytes()

    def test_an_unread_response_closed_resets_only_its_stream(self, runner_factory, h2o) -> None:
        client = runner_factory(verify=trusting(h2o))
        response = client.open("GET", h2o.url("/1m.bin"))
        assert client.first_chunk(response)
        client.close_response(response)
        after = client.get(h2o.url("/small.txt"))
        assert after.status_code == 200
        assert after.extensions["stream_id"] == 3  # the same connection

    def test_closing_an_unread_response_sends_cancel(self, runner_factory) -> None:
        from hyperframe.frame import RstStreamFrame

        codes: list[int] = []

        def script(conn) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.send_headers(request.stream_id, [(b":status", b"200")])
            conn.send_body(request.stream_id, b"part of it", end_stream=False)
            codes.append(conn.expect_frame(RstStreamFrame, request.stream_id).error_code)
            conn.read_until_closed()

        with Peer(script) as peer:
            client = runner_factory(http1=False)
            response = client.open("GET", f"http://{peer.address}/")
            assert client.first_chunk(response) == b"part of it"
            client.close_response(response)
            client.close()
        assert codes == [ErrorCodes.CANCEL]

    def test_pushes_when_asked(self, runner_factory, nghttpd, docroot) -> None:
        client = runner_factory(verify=trusting(nghttpd), enable_push=True)
        response = client.get(nghttpd.url("/"))
        pushes = response.extensions["pushes"]()
        assert [push.path for push in pushes] == [b"/style.css"]

    def test_trailers_arrive_as_an_extension(self, runner_factory, nghttpd) -> None:
        client = runner_factory(verify=trusting(nghttpd))
        response = client.get(nghttpd.url("/small.txt"))
        assert (b"x-hyper-trailer", b"end-of-body") in response.extensions["trailers"]

    def test_push_is_refused_unless_asked(self, runner_factory) -> None:
        seen: dict[int, int] = {}

        def answer(conn, request) -> None:
            seen.update(conn.client_settings)
            conn.respond(request.stream_id)

        with Peer(serving(answer)) as peer:
            client = runner_factory(http1=False)
            client.get(f"http://{peer.address}/")
            client.close()
        assert seen.get(0x2) == 0  # SETTINGS_ENABLE_PUSH


class TestRetries:
    def test_a_refused_stream_is_sent_again(self, runner_factory) -> None:
        def script(conn) -> None:
            conn.handshake()
            first = conn.expect_complete_request()
            conn.send(conn.factory.rst_stream(first.stream_id, ErrorCodes.REFUSED_STREAM))
            again = conn.expect_complete_request()
            conn.respond(again.stream_id, body=b"second time")
            conn.read_until_closed()

        with Peer(script) as peer:
            client = runner_factory(http1=False)
            response = client.get(f"http://{peer.address}/")
            client.close()
        assert response.content == b"second time"

    def test_a_refused_stream_with_a_streamed_body_is_not_sent_again(self, runner_factory) -> None:
        def script(conn) -> None:
            conn.handshake()
            first = conn.expect_complete_request()
            conn.send(conn.factory.rst_stream(first.stream_id, ErrorCodes.REFUSED_STREAM))
            conn.read_until_closed()

        with Peer(script) as peer:
            client = runner_factory(http1=False)
            body = uploading(10, is_async=client.is_async)
            with pytest.raises(httpx.RemoteProtocolError):
                client.request("POST", f"http://{peer.address}/", content=body)
            client.close()

    def test_a_request_refused_by_goaway_goes_on_a_new_connection(self, runner_factory) -> None:
        """The GOAWAY (last stream 1) comes after the second request went out on
        the first connection: that request is sent again on a new one, and the
        first connection, nothing left on it, is closed (the scripted server
        serves its connections one after the other: it would wait forever)."""

        def first(conn) -> None:
            conn.handshake()
            one = conn.expect_complete_request()
            conn.respond(one.stream_id, body=b"one")
            conn.expect_complete_request()  # not processed: above the GOAWAY's last
            conn.goaway(one.stream_id)
            conn.read_until_closed()

        def second(conn) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.respond(request.stream_id, body=b"two")
            conn.read_until_closed()

        with Peer(first, connections=2) as peer:
            peer.scripts[1] = second
            client = runner_factory(http1=False)
            url = f"http://{peer.address}/"
            assert client.get(url).content == b"one"
            assert client.get(url).content == b"two"
            client.close()
        assert peer.accepted == 2

    def test_goaway_sends_later_requests_to_a_new_connection(self, runner_factory) -> None:
        def first(conn) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.respond(request.stream_id, body=b"one")
            conn.goaway(request.stream_id)
            conn.read_until_closed()

        def second(conn) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.respond(request.stream_id, body=b"two")
            conn.read_until_closed()

        with Peer(first, connections=2) as peer:
            peer.scripts[1] = second
            client = runner_factory(http1=False)
            url = f"http://{peer.address}/"
            assert client.get(url).content == b"one"
            assert client.get(url).content == b"two"
            client.close()
        assert peer.accepted == 2


class TestPool:
    def test_pool_timeout_when_every_connection_is_busy(self, runner_factory) -> None:
        with H1Peer(replying(ok(b"held")), connections=1) as peer:
            client = runner_factory(limits=httpx.Limits(max_connections=1))
            held = client.open("GET", f"http://{peer.address}/")
            with pytest.raises(httpx.PoolTimeout):
                client.get(f"http://{peer.address}/", timeout=httpx.Timeout(TIMEOUT, pool=0.2))
            assert client.read(held) == b"held"
            client.close()

    def test_http11_connection_is_kept_alive(self, runner_factory) -> None:
        with H1Peer(replying(ok(b"a"), ok(b"b"))) as peer:
            client = runner_factory()
            url = f"http://{peer.address}/"
            assert [client.get(url).content for _ in range(2)] == [b"a", b"b"]
            client.close()
        assert peer.accepted == 1

    def test_close_closes_idle_connections(self, runner_factory) -> None:
        closed = threading.Event()

        def script(conn) -> None:
            conn.read_request()
            conn.send(ok(b"x"))
            conn.read_until_closed()
            closed.set()

        with H1Peer(script) as peer:
            client = runner_factory()
            client.get(f"http://{peer.address}/")
            client.close()
            wait(closed, "the server to see the connection closed")

    def test_close_lets_a_response_being_read_finish(self, runner_factory, h2o, docroot) -> None:
        client = runner_factory(verify=trusting(h2o))
        response = client.open("GET", h2o.url("/1m.bin"))
        body = client.read_raw(response, after_first=client.close_transport)
        assert hashlib.sha256(body).hexdigest() == digest("1m.bin", docroot)
        # The transport is still usable: a new connection for the next request.
        assert client.get(h2o.url("/small.txt")).extensions["stream_id"] == 1
