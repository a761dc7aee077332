"""Interop: HTTP20Connection, HTTPConnection and HTTP11Connection against nginx over TLS.

One nginx serves the module on three ports: HTTP/2 with gzip, WebDAV PUT under /dav/ and
a POST sink at /post; HTTP/2 with ``keepalive_requests 50`` (GOAWAY after the 50th
request); and HTTP/1.1 only (no ``h2`` in ALPN). Each test runs with every connection
class unless it needs HTTP/2 (``h2_only``).
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import itertools
import os
from collections.abc import Iterator

import pytest
from support import servers
from support.clients import h2_only
from support.servers import MiB, get

pytestmark = pytest.mark.interop

_upload_names = (f"/dav/upload-{n}.bin" for n in itertools.count())


@pytest.fixture
def connection_class(every_connection_class):
    """Every test here runs with each connection class (see interop/conftest.py)."""
    return every_connection_class


@pytest.fixture
def conn(nginx: servers.Server, connection_class):
    c = servers.connect(connection_class, nginx)
    yield c
    c.close()


class TestFixture:
    """The fixture's three ports serve what they claim to a client that is not hyper."""

    def test_curl_fetches_small_file_over_h2(self, require_binary, nginx):
        require_binary("curl")
        assert servers.curl_get(nginx, "/small.txt") == ("2", servers.SMALL_BODY)

    def test_curl_fetches_small_file_from_goaway_port(self, require_binary, nginx):
        require_binary("curl")
        port = nginx.ports["goaway"]
        assert servers.curl_get(nginx, "/small.txt", port=port) == ("2", servers.SMALL_BODY)

    def test_h1_port_negotiates_http11(self, require_binary, nginx):
        require_binary("curl")
        port = nginx.ports["h1"]
        assert servers.curl_get(nginx, "/small.txt", port=port) == ("1.1", servers.SMALL_BODY)


class TestMethods:
    def test_get_small_file(self, conn, expected_version):
        resp = get(conn, "/small.txt")
        assert (resp.status, resp.version) == (200, expected_version)
        assert resp.getheader("content-length") == str(len(servers.SMALL_BODY))
        assert resp.read() == servers.SMALL_BODY

    def test_head_has_headers_and_no_body(self, conn):
        resp = conn.getresponse(conn.request("HEAD", "/1k.bin"))
        assert resp.status == 200
        assert resp.headers["content-length"] == [b"1024"]
        assert resp.read() == b""

    def test_get_missing_file_is_404(self, conn):
        resp = get(conn, "/no-such-file")
        assert resp.status == 404
        resp.read()

    def test_post_body_is_accepted(self, conn):
        resp = conn.getresponse(conn.request("POST", "/post", body=os.urandom(64 * 1024)))
        assert resp.status == 200
        assert resp.read() == b"posted\n"

    def test_put_then_get_returns_the_body(self, conn):
        path = next(_upload_names)
        body = os.urandom(100 * 1024)
        resp = conn.getresponse(conn.request("PUT", path, body=body))
        assert resp.status == 201
        resp.read()
        assert get(conn, path).read() == body


class TestBodies:
    def test_64m_download_in_pieces_matches_checksum(self, conn, docroot):
        docroot.ensure("64m.bin")
        digest, size = servers.sha256_of_stream(get(conn, "/64m.bin").read)
        assert (digest, size) == (docroot.sha256("64m.bin"), 64 * MiB)

    def test_iterable_put_is_stored_intact(self, conn):
        """A generator body (no content-length) reaches the disk byte for byte."""
        path = next(_upload_names)
        sent = hashlib.sha256()

        def body() -> Iterator[bytes]:
            for _ in range(16):
                chunk = os.urandom(MiB)
                sent.update(chunk)
                yield chunk

        resp = conn.getresponse(conn.request("PUT", path, body=body()))
        assert resp.status == 201
        resp.read()
        digest, size = servers.sha256_of_stream(get(conn, path).read)
        assert (digest, size) == (sent.hexdigest(), 16 * MiB)

    def test_64m_file_put_is_stored_intact(self, conn, docroot):
        source = docroot.ensure("64m.bin")
        path = next(_upload_names)
        with open(source, "rb") as f:
            resp = conn.getresponse(conn.request("PUT", path, body=f))
        assert resp.status == 201
        resp.read()
        digest, size = servers.sha256_of_stream(get(conn, path).read)
        assert (digest, size) == (docroot.sha256("64m.bin"), 64 * MiB)


class TestCompression:
    def test_gzip_on_the_fly_is_decoded(self, conn, docroot):
        resp = get(conn, "/index.html", headers={"accept-encoding": "gzip"})
        assert resp.headers["content-encoding"] == [b"gzip"]
        assert resp.read() == docroot.read("index.html")

    def test_gzip_static_is_decoded(self, conn, docroot):
        resp = get(conn, "/text.txt", headers={"accept-encoding": "gzip"})
        assert resp.headers["content-encoding"] == [b"gzip"]
        assert resp.read() == docroot.read("text.txt")

    def test_default_accept_encoding_gets_a_decoded_body(self, conn, docroot):
        """hyper advertises what it can decode, so nginx compresses and hyper decodes."""
        resp = get(conn, "/text.txt")
        assert resp.headers["content-encoding"] == [b"gzip"]
        assert resp.read() == docroot.read("text.txt")

    def test_decode_content_false_gives_bytes_as_sent(self, conn, docroot):
        resp = get(conn, "/text.txt", headers={"accept-encoding": "gzip"})
        raw = resp.read(decode_content=False)
        assert raw == docroot.read("text.txt.gz")
        assert gzip.decompress(raw) == docroot.read("text.txt")

    def test_gzip_decoded_in_small_reads(self, conn, docroot):
        resp = get(conn, "/text.txt", headers={"accept-encoding": "gzip"})
        pieces = []
        while chunk := resp.read(1000):
            assert len(chunk) <= 1000
            pieces.append(chunk)
        assert b"".join(pieces) == docroot.read("text.txt")


class TestConcurrency:
    @h2_only
    def test_100_streams_from_8_threads_on_one_connection(self, conn, docroot):
        results = servers.run_concurrent_gets(
            conn, docroot, ["small.txt", "1k.bin", "1m.bin", "text.txt"], total=100, threads=8
        )
        assert len(results) == 100
        assert all(results.values()), results


class TestGoaway:
    def test_requests_past_keepalive_requests_reconnect_transparently(
        self, connection_class, nginx
    ):
        """nginx ends the connection after 50 requests (GOAWAY, or ``Connection: close``
        over HTTP/1.1); all 120 still succeed."""
        total = 120
        before = len(servers.nginx_access_log(nginx))
        c = servers.connect(connection_class, nginx, port=nginx.ports["goaway"])
        try:
            for i in range(total):
                resp = get(c, f"/small.txt?request={i}")
                assert resp.status == 200, f"request {i}"
                assert resp.read() == servers.SMALL_BODY, f"request {i}"
        finally:
            c.close()
        log = servers.wait_for_nginx_access_log(nginx, before, total)
        assert [uri for _, _, _, uri in log] == [f"/small.txt?request={i}" for i in range(total)]
        # nginx's view: 50 + 50 + 20 requests on three connections, so hyper reconnected
        # after each GOAWAY (or close) instead of failing or opening a connection per request.
        per_connection = collections.Counter(conn for conn, _, _, _ in log)
        limit = servers.NGINX_KEEPALIVE_REQUESTS
        assert sorted(per_connection.values(), reverse=True) == [limit, limit, total - 2 * limit]

    @h2_only
    def test_pipelined_requests_past_last_stream_id_are_safe_to_retry(
        self, connection_class, nginx
    ):
        """60 requests at once: nginx serves 50, then GOAWAY. Each of the other 10 either
        went out on a new connection (hyper saw the GOAWAY first) and succeeded, or fails
        as not processed; nginx's log confirms that those were never processed, and a
        retry succeeds."""
        from hyper.http20.exceptions import StreamRefusedError

        limit = servers.NGINX_KEEPALIVE_REQUESTS
        before = len(servers.nginx_access_log(nginx))
        c = servers.connect(connection_class, nginx, port=nginx.ports["goaway"])
        refused = []
        try:
            stream_ids = [c.request("GET", f"/small.txt?pipelined={i}") for i in range(60)]
            for i, stream_id in enumerate(stream_ids):
                try:
                    resp = c.getresponse(stream_id)
                except StreamRefusedError as e:
                    assert "safe to retry" in str(e)
                    refused.append(i)
                    continue
                assert (resp.status, resp.read()) == (200, servers.SMALL_BODY), f"request {i}"
            log = servers.wait_for_nginx_access_log(nginx, before, 60 - len(refused))
            served = {uri for _, _, _, uri in log}
            assert served == {f"/small.txt?pipelined={i}" for i in range(60) if i not in refused}
            assert all(i >= limit for i in refused)
            for i in refused:
                resp = get(c, f"/small.txt?pipelined={i}")
                assert (resp.status, resp.read()) == (200, servers.SMALL_BODY)
        finally:
            c.close()


class TestALPN:
    @pytest.mark.parametrize("every_connection_class", ["HTTP20Connection"], indirect=True)
    def test_http11_only_server_is_a_clear_error(self, connection_class, nginx):
        """No h2 in ALPN: the error names the protocol the server chose."""
        from hyper.common.exceptions import HyperError

        c = servers.connect(connection_class, nginx, port=nginx.ports["h1"])
        try:
            with pytest.raises(HyperError, match=r"http/1\.1"):
                c.request("GET", "/small.txt")
        finally:
            c.close()

    @pytest.mark.parametrize(
        "every_connection_class", ["HTTPConnection", "HTTP11Connection"], indirect=True
    )
    def test_http11_only_server_is_spoken_to_in_http11(self, connection_class, nginx):
        from hyper.common.util import HTTPVersion

        c = servers.connect(connection_class, nginx, port=nginx.ports["h1"])
        try:
            resp = get(c, "/small.txt")
            assert (resp.version, resp.read()) == (HTTPVersion.http11, servers.SMALL_BODY)
        finally:
            c.close()
