"""HTTP2Adapter's pool, timeouts, retries, body errors and metrics.

Real servers where they can show it (h2o, nginx); the scripted peer
(test/peer.py) for what no real server does on purpose: stall one stream,
refuse with GOAWAY, die while idle, reset or garble a body midway.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import pickle
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import trustme
from support import servers
from support.h1peer import H1Conn, H1Peer, ok, replying
from support.listener import refused_port
from support.peer import Peer, PeerConnection, Request, echo, serving
from support.timeouts import TIMEOUT

from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.contrib import BodyReadTimeout, HTTP2Adapter
from hyper.http20.errors import ErrorCodes
from hyper.http20.exceptions import StreamRefusedError, StreamResetError


def _session(adapter: HTTP2Adapter) -> requests.Session:
    s = requests.Session()
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    return s


@pytest.fixture
def metrics() -> list[dict[str, Any]]:
    return []


@pytest.fixture(scope="module")
def nghttpd_one_stream(require_binary, tmp_path_factory) -> Iterator[servers.Server]:
    """nghttpd allowing one stream at a time per connection."""

    def start(pki, docroot, workdir):
        return servers.start_nghttpd(pki, docroot, workdir, extra_args=["-m", "1"])

    yield from servers.serve(require_binary, tmp_path_factory, "nghttpd", start)


@pytest.fixture
def peer_tls(server_tls):
    return server_tls(("h2",))


def _partial(conn: PeerConnection, request: Request, body: bytes = b"x" * 100) -> None:
    """Headers and some body, without ending the stream."""
    conn.send_headers(request.stream_id, [(b":status", b"200")])
    conn.send_body(request.stream_id, body, end_stream=False)


@pytest.mark.interop
class TestPooling:
    def test_32_threads_5000_requests_over_few_connections(self, nginx, metrics) -> None:
        # nginx, not h2o: h2o 2.2.5 drops the connection (EOF, no GOAWAY) in about
        # one run of 5,000 in 8 under 32 threads, hyper's HTTPConnection alone too.
        adapter = HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))
        expected = nginx.docroot.sha256("1k.bin")
        url = nginx.url("/1k.bin")
        with _session(adapter) as s:

            def get(_: int) -> bool:
                r = s.get(url, verify=nginx.ca_path)
                return r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == expected

            with ThreadPoolExecutor(max_workers=32) as pool:
                results = list(pool.map(get, range(5000)))
        assert results.count(True) == 5000
        assert len(metrics) == 5000
        assert {m["protocol"] for m in metrics} == {"HTTP/2"}
        opened = sum(1 for m in metrics if not m["connection_reused"])
        assert 1 <= opened <= 3, f"{opened} connections for 32 threads"

    def test_full_connections_open_more_then_requests_wait(self, h2o, metrics) -> None:
        adapter = HTTP2Adapter(
            pool_maxsize=3,
            max_concurrent_streams=2,
            metrics_callback=lambda **kw: metrics.append(kw),
        )
        url = h2o.url("/small.txt")
        with _session(adapter) as s:
            # Unread streamed responses keep their streams: 3 connections x 2.
            # (One timeout for all: a timeout is part of what a pool is for.)
            timeout = (0.2, 5)
            held = [s.get(url, stream=True, timeout=timeout, verify=h2o.ca_path) for _ in range(6)]
            with pytest.raises(requests.exceptions.ConnectTimeout) as info:
                s.get(url, timeout=timeout, verify=h2o.ca_path)
            assert isinstance(info.value.__cause__, HyperTimeoutError)
            assert "came free" in str(info.value)
            held[0].close()
            r = s.get(url, timeout=timeout, verify=h2o.ca_path)
            assert r.content == servers.SMALL_BODY
            for h in held[1:]:
                assert h.content == servers.SMALL_BODY
        done = [m for m in metrics if m["error"] is None]
        assert len(done) == 7 and len(metrics) == 8  # and the one that could not go out
        assert sum(1 for m in done if not m["connection_reused"]) == 3

    def test_the_servers_stream_limit_opens_more_connections(
        self, nghttpd_one_stream, metrics
    ) -> None:
        server = nghttpd_one_stream
        adapter = HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))
        with _session(adapter) as s:
            url = server.url("/small.txt")
            held = [s.get(url, stream=True, timeout=5, verify=server.ca_path) for _ in range(3)]
            assert [r.content for r in held] == [servers.SMALL_BODY] * 3
        assert [m["connection_reused"] for m in metrics] == [False, False, False]

    def test_a_closed_streamed_response_frees_its_stream(self, nginx, metrics) -> None:
        adapter = HTTP2Adapter(
            pool_maxsize=1,
            max_concurrent_streams=1,
            metrics_callback=lambda **kw: metrics.append(kw),
        )
        timeout = (2, 5)
        with _session(adapter) as s:
            with s.get(
                nginx.url("/1m.bin"), stream=True, timeout=timeout, verify=nginx.ca_path
            ) as r:
                assert len(r.raw.read(1000)) == 1000  # the rest is never read: CANCEL
            again = s.get(nginx.url("/small.txt"), timeout=timeout, verify=nginx.ca_path)
            assert again.content == servers.SMALL_BODY
        assert [m["connection_reused"] for m in metrics] == [False, True]
        assert metrics[0]["bytes_received"] == 1000

    def test_a_dropped_unread_response_frees_its_stream(self, nginx, metrics) -> None:
        adapter = HTTP2Adapter(
            pool_maxsize=1,
            max_concurrent_streams=1,
            metrics_callback=lambda **kw: metrics.append(kw),
        )
        timeout = (2, 5)
        with _session(adapter) as s:
            r = s.get(nginx.url("/1m.bin"), stream=True, timeout=timeout, verify=nginx.ca_path)
            del r
            gc.collect()
            again = s.get(nginx.url("/small.txt"), timeout=timeout, verify=nginx.ca_path)
            assert again.content == servers.SMALL_BODY
        assert [m["connection_reused"] for m in metrics] == [False, True]

    def test_an_http11_response_closed_early_leaves_the_connection_usable(self, nginx) -> None:
        url = f"https://{nginx.host}:{nginx.ports['h1']}"
        with _session(HTTP2Adapter(pool_maxsize=1)) as s:
            r = s.get(url + "/1m.bin", stream=True, timeout=5, verify=nginx.ca_path)
            assert r.raw.version == 11
            r.raw.read(10)
            r.close()
            again = s.get(url + "/small.txt", timeout=5, verify=nginx.ca_path)
            assert again.content == servers.SMALL_BODY

    def test_an_evicted_pool_lets_its_requests_finish(self, h2o, nginx, metrics) -> None:
        adapter = HTTP2Adapter(
            pool_connections=1, metrics_callback=lambda **kw: metrics.append(kw)
        )
        with _session(adapter) as s:
            held = s.get(h2o.url("/1m.bin"), stream=True, verify=h2o.ca_path)
            assert s.get(nginx.url("/small.txt"), verify=nginx.ca_path).ok  # evicts h2o's pool
            digest = hashlib.sha256(held.content).hexdigest()
            assert digest == h2o.docroot.sha256("1m.bin")
            assert s.get(h2o.url("/small.txt"), verify=h2o.ca_path).ok
        assert [m["connection_reused"] for m in metrics] == [False, False, False]

    def test_http11_connections_are_shared_one_request_at_a_time(self, nginx, metrics) -> None:
        adapter = HTTP2Adapter(pool_maxsize=4, metrics_callback=lambda **kw: metrics.append(kw))
        url = f"https://{nginx.host}:{nginx.ports['h1']}/1k.bin"
        expected = nginx.docroot.sha256("1k.bin")
        with _session(adapter) as s:

            def get(_: int) -> bool:
                r = s.get(url, verify=nginx.ca_path)
                return hashlib.sha256(r.content).hexdigest() == expected

            with ThreadPoolExecutor(max_workers=8) as pool:
                results = list(pool.map(get, range(400)))
        assert results.count(True) == 400
        assert {m["protocol"] for m in metrics} == {"HTTP/1.1"}
        assert sum(1 for m in metrics if not m["connection_reused"]) <= 4

    def test_a_pickled_session_keeps_the_adapter_settings(self, h2o) -> None:
        with _session(HTTP2Adapter(pool_maxsize=3, max_concurrent_streams=7)) as s:
            assert s.get(h2o.url("/small.txt"), verify=h2o.ca_path).ok
            copy = pickle.loads(pickle.dumps(s))
        adapter = copy.get_adapter("https://example.org/")
        assert isinstance(adapter, HTTP2Adapter)
        assert (adapter.pool_maxsize, adapter.max_concurrent_streams) == (3, 7)
        with copy:
            assert (
                copy.get(h2o.url("/small.txt"), verify=h2o.ca_path).content == servers.SMALL_BODY
            )

    def test_least_recently_used_pool_is_closed(self, h2o, nginx, metrics) -> None:
        adapter = HTTP2Adapter(
            pool_connections=1, metrics_callback=lambda **kw: metrics.append(kw)
        )
        with _session(adapter) as s:
            for server in (nginx, nginx, h2o, nginx):
                assert s.get(server.url("/small.txt"), verify=server.ca_path).ok
        assert [m["connection_reused"] for m in metrics] == [False, True, False, False]

    def test_different_timeouts_get_their_own_connections(self, h2o, metrics) -> None:
        adapter = HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))
        url = h2o.url("/small.txt")
        with _session(adapter) as s:
            for timeout in (5, 5, (1, 5), 5):
                s.get(url, timeout=timeout, verify=h2o.ca_path)
        assert [m["connection_reused"] for m in metrics] == [False, True, False, True]


@pytest.mark.interop
def _throwaway_get(url: str, **kwargs: Any) -> requests.Response:
    """What ``requests.get`` does, with the adapter mounted: a Session of its
    own, closed before the response is returned."""
    with _session(HTTP2Adapter()) as s:
        return s.get(url, **kwargs)


@pytest.mark.interop
class TestClosing:
    """Closing a Session (its adapter) never cuts a response being read: the
    idle connections close at once, busy ones when their response is done.
    A 64 MiB body is far more than the socket buffers and stream window hold,
    so most of it is still on the wire when the Session closes."""

    @pytest.mark.parametrize("protocol", ["h2", "h1"])
    def test_a_streamed_response_is_read_whole_after_its_session_closed(
        self, nginx, protocol: str
    ) -> None:
        url = _nginx_url(nginx, protocol, "/64m.bin")
        with _session(HTTP2Adapter()) as s:
            r = s.get(url, stream=True, timeout=TIMEOUT, verify=nginx.ca_path)
        assert r.raw.version == (20 if protocol == "h2" else 11)
        digest = hashlib.sha256()
        for chunk in r.iter_content(1 << 20):
            digest.update(chunk)
        assert digest.hexdigest() == nginx.docroot.sha256("64m.bin")

    @pytest.mark.parametrize("protocol", ["h2", "h1"])
    def test_requests_get_stream_then_iter_lines(self, nginx, protocol: str) -> None:
        """requests.get(url, stream=True).iter_lines() (the Session closed first)."""
        url = _nginx_url(nginx, protocol, "/64m.bin")
        r = _throwaway_get(url, stream=True, timeout=TIMEOUT, verify=nginx.ca_path)
        kept = sum(len(line) for line in r.iter_lines(1 << 20))
        data = nginx.docroot.read("64m.bin")
        assert kept == len(data) - data.count(b"\n") - data.count(b"\r")

    def test_an_idle_connection_is_closed_at_once(self, peer_tls, peer_ca_path) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            echo(conn, conn.expect_complete_request())
            conn.read_until_closed()  # returns once the adapter closed it

        with Peer(script, tls=peer_tls) as peer:
            adapter = HTTP2Adapter()
            s = _session(adapter)
            assert s.get(f"https://127.0.0.1:{peer.port}/", verify=peer_ca_path).ok
            s.close()
            peer.wait_finished(0)

    def test_a_busy_connection_closes_once_its_response_is_read(
        self, peer_tls, peer_ca_path
    ) -> None:
        closed = threading.Event()

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.send_headers(request.stream_id, [(b":status", b"200")])
            conn.send_body(request.stream_id, b"before close;", end_stream=False)
            assert closed.wait(TIMEOUT), "the test never closed its Session"
            conn.send_body(request.stream_id, b"after close")
            conn.read_until_closed()

        with Peer(script, tls=peer_tls) as peer:
            s = _session(HTTP2Adapter())
            r = s.get(f"https://127.0.0.1:{peer.port}/", stream=True, verify=peer_ca_path)
            s.close()
            closed.set()
            assert r.content == b"before close;after close"
            peer.wait_finished(0)  # and the connection closed once the body was read

    def test_a_request_after_close_opens_a_fresh_pool(self, h2o, metrics) -> None:
        adapter = HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))
        with _session(adapter) as s:
            url = h2o.url("/small.txt")
            assert s.get(url, verify=h2o.ca_path).content == servers.SMALL_BODY
            adapter.close()
            assert s.get(url, verify=h2o.ca_path).content == servers.SMALL_BODY
        assert [m["connection_reused"] for m in metrics] == [False, False]


def _nginx_url(nginx: servers.Server, protocol: str, path: str) -> str:
    nginx.docroot.ensure(path.lstrip("/"))
    if protocol == "h2":
        return nginx.url(path)
    return f"https://{nginx.host}:{nginx.ports['h1']}{path}"


class TestMetrics:
    def test_a_raising_callback_never_breaks_the_request(self, h2o, caplog) -> None:
        def broken(**kwargs: Any) -> None:
            raise RuntimeError("metrics backend down")

        adapter = HTTP2Adapter(metrics_callback=broken)
        with _session(adapter) as s, caplog.at_level(logging.ERROR, logger="hyper.contrib"):
            r = s.get(h2o.url("/small.txt"), verify=h2o.ca_path)
        assert r.content == servers.SMALL_BODY
        assert any("metrics callback raised" in rec.getMessage() for rec in caplog.records)

    def test_a_failed_request_is_reported_with_its_error(self, metrics) -> None:
        adapter = HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))
        failed = pytest.raises(requests.ConnectionError)
        with refused_port() as port, _session(adapter) as s, failed as info:
            s.get(f"https://127.0.0.1:{port}/")
        assert len(metrics) == 1
        assert metrics[0]["status"] is None
        assert metrics[0]["error"] is info.value

    def test_a_streamed_response_reports_when_its_body_is_done(self, h2o, metrics) -> None:
        with _session(HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))) as s:
            r = s.get(h2o.url("/1m.bin"), stream=True, verify=h2o.ca_path)
            assert metrics == []
            for _ in r.iter_content(65536):
                pass
        assert [m["bytes_received"] for m in metrics] == [1024 * 1024]


class TestStreamTimeouts:
    def test_a_timeout_resets_only_its_stream(self, peer_tls, peer_ca_path) -> None:
        stalled = threading.Event()

        def handler(conn: PeerConnection, request: Request) -> None:
            if request.path == b"/stall":
                stalled.set()  # never answered
            else:
                conn.respond(request.stream_id, body=b"ok " + request.path)

        errors: list[BaseException] = []
        with Peer(serving(handler), tls=peer_tls) as peer:
            base = f"https://127.0.0.1:{peer.port}"
            with _session(HTTP2Adapter()) as s:

                def stall() -> None:
                    try:
                        s.get(base + "/stall", timeout=1.0, verify=peer_ca_path)
                    except BaseException as exc:
                        errors.append(exc)

                waiter = threading.Thread(target=stall)
                waiter.start()
                assert stalled.wait(TIMEOUT)
                # Siblings on the same connection are answered while /stall waits.
                for i in range(5):
                    r = s.get(f"{base}/ok{i}", timeout=1.0, verify=peer_ca_path)
                    assert r.content == f"ok /ok{i}".encode()
                waiter.join(TIMEOUT)
                assert len(errors) == 1
                assert isinstance(errors[0], requests.exceptions.ReadTimeout)
                assert isinstance(errors[0].__cause__, HyperTimeoutError)
                after = s.get(base + "/after", timeout=1.0, verify=peer_ca_path)
                assert after.content == b"ok /after"
        assert peer.accepted == 1
        (conn,) = peer.conns
        (stalled_request,) = [r for r in conn.requests.values() if r.path == b"/stall"]
        assert stalled_request.reset == ErrorCodes.CANCEL

    def test_a_body_that_stalls_times_out_and_resets(self, peer_tls, peer_ca_path) -> None:
        with Peer(serving(_partial), tls=peer_tls) as peer, _session(HTTP2Adapter()) as s:
            base = f"https://127.0.0.1:{peer.port}"
            r = s.get(base + "/slow", stream=True, timeout=0.5, verify=peer_ca_path)
            with pytest.raises(BodyReadTimeout) as info:
                r.raw.read()
            # Both what requests raises for a body timeout, and a ReadTimeout.
            assert isinstance(info.value, requests.ConnectionError)
            assert isinstance(info.value, requests.exceptions.ReadTimeout)
            assert isinstance(info.value.__cause__, HyperTimeoutError)
            assert r.raw.closed
            # The connection serves on (the same pool: the same timeout).
            again = s.get(base + "/x", stream=True, timeout=0.5, verify=peer_ca_path)
            assert again.status_code == 200
            again.close()  # unread: its connection would outlive the Session
        (conn,) = peer.conns
        assert conn.requests[1].reset == ErrorCodes.CANCEL

    def test_an_http11_timeout_closes_that_connection(self) -> None:
        def stall(conn: H1Conn) -> None:
            assert conn.read_request() is not None  # never answered
            conn.read_until_closed()

        peer = H1Peer([stall, replying(ok(b"fine"))])
        with peer, _session(HTTP2Adapter()) as s:
            base = f"http://127.0.0.1:{peer.port}"
            with pytest.raises(requests.exceptions.ReadTimeout):
                s.get(base + "/stall", timeout=0.5)
            assert s.get(base + "/next", timeout=0.5).content == b"fine"
        assert peer.accepted == 2  # the connection left mid-exchange was not reused


class TestBodyErrors:
    def test_reset_mid_body_is_chunked_encoding_error(self, peer_tls, peer_ca_path) -> None:
        def handler(conn: PeerConnection, request: Request) -> None:
            _partial(conn, request)
            conn.send(conn.factory.rst_stream(request.stream_id, ErrorCodes.INTERNAL_ERROR))

        with Peer(serving(handler), tls=peer_tls) as peer:
            url = f"https://127.0.0.1:{peer.port}/"
            with _session(HTTP2Adapter()) as s:
                with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
                    s.get(url, verify=peer_ca_path)
                assert isinstance(info.value.__cause__, StreamResetError)
                r = s.get(url, stream=True, verify=peer_ca_path)
                with pytest.raises(requests.exceptions.ChunkedEncodingError):
                    b"".join(r.iter_content(10))

    def test_garbled_gzip_is_content_decoding_error(self, peer_tls, peer_ca_path) -> None:
        def handler(conn: PeerConnection, request: Request) -> None:
            conn.respond(
                request.stream_id, headers=[(b"content-encoding", b"gzip")], body=b"not gzip"
            )

        with Peer(serving(handler), tls=peer_tls) as peer:
            url = f"https://127.0.0.1:{peer.port}/"
            with _session(HTTP2Adapter()) as s:
                with pytest.raises(requests.exceptions.ContentDecodingError):
                    s.get(url, verify=peer_ca_path)
                r = s.get(url, stream=True, verify=peer_ca_path)
                assert r.raw.read(decode_content=False) == b"not gzip"


class TestRetries:
    def test_a_request_refused_by_goaway_is_retried_once(self, peer_tls, peer_ca_path) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            if conn.index == 0:
                conn.expect_complete_request()
                conn.goaway(0)  # nothing processed: safe to retry
                return
            serving(echo)(conn)

        with Peer(script, tls=peer_tls, connections=2) as peer, _session(HTTP2Adapter()) as s:
            r = s.post(f"https://127.0.0.1:{peer.port}/p", data=b"body", verify=peer_ca_path)
            assert r.content == b"/p\nbody"
        assert peer.accepted == 2

    def test_refused_twice_is_an_error(self, peer_tls, peer_ca_path) -> None:
        def script(conn: PeerConnection) -> None:
            conn.handshake()
            conn.expect_complete_request()
            conn.goaway(0)

        with Peer(script, tls=peer_tls, connections=3) as peer, _session(HTTP2Adapter()) as s:
            with pytest.raises(requests.ConnectionError) as info:
                s.get(f"https://127.0.0.1:{peer.port}/", verify=peer_ca_path)
            assert isinstance(info.value.__cause__, StreamRefusedError)
        assert peer.accepted == 2

    @staticmethod
    def _dies_when_reused(conn: PeerConnection) -> None:
        conn.handshake()
        if conn.index == 0:
            first = conn.expect_complete_request()
            conn.respond(first.stream_id, body=b"first")
            conn.expect_complete_request()
            return  # the idle connection turns out dead: closed, no answer
        serving(echo)(conn)

    def test_a_get_on_a_connection_dead_while_idle_is_retried(
        self, peer_tls, peer_ca_path
    ) -> None:
        with Peer(self._dies_when_reused, tls=peer_tls, connections=2) as peer:
            base = f"https://127.0.0.1:{peer.port}"
            with _session(HTTP2Adapter()) as s:
                assert s.get(base + "/1", verify=peer_ca_path).content == b"first"
                assert s.get(base + "/2", verify=peer_ca_path).content == b"/2\n"
        assert peer.accepted == 2

    def test_a_post_on_a_dead_connection_is_not_retried(self, peer_tls, peer_ca_path) -> None:
        with Peer(self._dies_when_reused, tls=peer_tls, connections=2) as peer:
            base = f"https://127.0.0.1:{peer.port}"
            with _session(HTTP2Adapter()) as s:
                assert s.get(base + "/1", verify=peer_ca_path).content == b"first"
                with pytest.raises(requests.ConnectionError):
                    s.post(base + "/2", data=b"once", verify=peer_ca_path)
        assert peer.accepted == 1

    def test_max_retries_retries_failed_connects(self, peer_ca_path) -> None:
        untrusted = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert("127.0.0.1").configure_cert(untrusted)  # another CA
        adapter = HTTP2Adapter(max_retries=2)
        refused = pytest.raises(requests.exceptions.SSLError)
        peer = Peer(serving(echo), tls=untrusted, connections=3)
        with peer, _session(adapter) as s, refused:
            s.get(f"https://127.0.0.1:{peer.port}/", verify=peer_ca_path)
        assert len(peer.tls_errors) == 3


class TestWindow:
    def test_initial_window_size_is_advertised(self, peer_tls, peer_ca_path) -> None:
        seen: list[int | None] = []

        def handler(conn: PeerConnection, request: Request) -> None:
            seen.append(conn.client_settings.get(0x4))
            echo(conn, request)

        adapter = HTTP2Adapter(initial_window_size=200_000)
        with Peer(serving(handler), tls=peer_tls) as peer, _session(adapter) as s:
            s.get(f"https://127.0.0.1:{peer.port}/", verify=peer_ca_path)
        assert seen == [200_000]


class TestFirstRequest:
    def test_goes_out_before_the_servers_settings(self, peer_tls, peer_ca_path) -> None:
        """A new pooled connection does not wait a round trip for the
        server's SETTINGS before the request that opened it."""

        def script(conn: PeerConnection) -> None:
            request = conn.expect_complete_request()  # nothing sent by us yet
            conn.handshake()
            conn.respond(request.stream_id, body=b"early")
            conn.read_until_closed()

        with Peer(script, tls=peer_tls) as peer, _session(HTTP2Adapter()) as s:
            r = s.get(f"https://127.0.0.1:{peer.port}/", timeout=TIMEOUT, verify=peer_ca_path)
            assert r.content == b"early"
            assert r.raw.version == 20
