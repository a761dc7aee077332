"""Interop: HTTP20Connection, HTTPConnection and HTTP11Connection against h2o, over TLS
and on its cleartext port (h2c with prior knowledge, an ``Upgrade: h2c``, HTTP/1.1).

h2o compresses on the fly (``compress: ON``: gzip and br), serves the precompressed
``text.txt.gz`` (``file.send-compressed``), and answers POST/PUT to /upload with the
body's length. One h2o serves the module. Each test runs with every connection class
unless it needs HTTP/2 (``h2_only``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator

import pytest
from support import servers
from support.clients import h2_only
from support.servers import MiB, get

try:
    import brotli
except ImportError:  # PyPy: brotlicffi, the same API through cffi
    import brotlicffi as brotli

pytestmark = pytest.mark.interop


@pytest.fixture
def connection_class(every_connection_class):
    """Every test here runs with each connection class (see interop/conftest.py)."""
    return every_connection_class


@pytest.fixture
def conn(h2o: servers.Server, connection_class):
    c = servers.connect(connection_class, h2o)
    yield c
    c.close()


@pytest.fixture
def plain_conn(h2o: servers.Server, connection_class):
    """Cleartext: HTTP20Connection speaks h2c with prior knowledge, HTTPConnection
    upgrades with ``Upgrade: h2c``, HTTP11Connection told ``force_proto='http/1.1'``
    stays on HTTP/1.1 (alone it offers h2c, as historic hyper: test_compat_historic)."""
    only_h1 = connection_class.__name__ == "HTTP11Connection"
    kwargs = {"force_proto": "http/1.1"} if only_h1 else {}
    c = connection_class(f"{h2o.host}:{h2o.ports['plain']}", secure=False, **kwargs)
    yield c
    c.close()


class TestFixture:
    """Both listeners serve HTTP/2 to a client that is not hyper."""

    def test_curl_fetches_small_file_over_h2(self, require_binary, h2o):
        require_binary("curl")
        assert servers.curl_get(h2o, "/small.txt") == ("2", servers.SMALL_BODY)

    def test_curl_fetches_small_file_over_h2c_prior_knowledge(self, require_binary, h2o):
        require_binary("curl")
        result = servers.curl_get(
            h2o,
            "/small.txt",
            port=h2o.ports["plain"],
            scheme="http",
            http="--http2-prior-knowledge",
        )
        assert result == ("2", servers.SMALL_BODY)

    def test_curl_upgrades_to_h2c(self, require_binary, h2o):
        require_binary("curl")
        result = servers.curl_get(h2o, "/small.txt", port=h2o.ports["plain"], scheme="http")
        assert result == ("2", servers.SMALL_BODY)


class TestMethods:
    def test_get_small_file(self, conn, expected_version):
        resp = get(conn, "/small.txt")
        assert (resp.status, resp.version) == (200, expected_version)
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

    def test_post_body_reaches_the_server(self, conn):
        body = os.urandom(300 * 1024)
        resp = conn.getresponse(conn.request("POST", "/upload", body=body))
        assert resp.status == 200
        assert resp.read() == b"%d\n" % len(body)


class TestBodies:
    def test_64m_download_in_pieces_matches_checksum(self, conn, docroot):
        docroot.ensure("64m.bin")
        digest, size = servers.sha256_of_stream(get(conn, "/64m.bin").read)
        assert (digest, size) == (docroot.sha256("64m.bin"), 64 * MiB)

    def test_iterable_upload_reaches_the_server(self, conn):
        def body() -> Iterator[bytes]:
            for _ in range(16):
                yield os.urandom(MiB)

        resp = conn.getresponse(conn.request("POST", "/upload", body=body()))
        assert resp.status == 200
        assert resp.read() == b"%d\n" % (16 * MiB)

    def test_64m_file_upload_reaches_the_server(self, conn, docroot):
        with open(docroot.ensure("64m.bin"), "rb") as f:
            resp = conn.getresponse(conn.request("PUT", "/upload", body=f))
        assert resp.status == 200
        assert resp.read() == b"%d\n" % (64 * MiB)


class TestCompression:
    def test_gzip_on_the_fly_is_decoded(self, conn, docroot):
        resp = get(conn, "/index.html", headers={"accept-encoding": "gzip"})
        assert resp.headers["content-encoding"] == [b"gzip"]
        assert resp.read() == docroot.read("index.html")

    def test_brotli_on_the_fly_is_decoded(self, conn, docroot):
        resp = get(conn, "/index.html", headers={"accept-encoding": "br"})
        assert resp.headers["content-encoding"] == [b"br"]
        assert resp.read() == docroot.read("index.html")

    def test_brotli_raw_bytes_decode_to_the_file(self, conn, docroot):
        resp = get(conn, "/index.html", headers={"accept-encoding": "br"})
        raw = resp.read(decode_content=False)
        assert brotli.decompress(raw) == docroot.read("index.html")

    def test_precompressed_file_is_decoded(self, conn, docroot):
        resp = get(conn, "/text.txt", headers={"accept-encoding": "gzip"})
        assert resp.headers["content-encoding"] == [b"gzip"]
        raw_expected = docroot.read("text.txt.gz")
        assert gzip.decompress(raw_expected) == docroot.read("text.txt")
        assert resp.read() == docroot.read("text.txt")

    def test_default_accept_encoding_gets_a_decoded_body(self, conn, docroot):
        resp = get(conn, "/index.html")
        assert resp.headers["content-encoding"] in ([b"gzip"], [b"br"])
        assert resp.read() == docroot.read("index.html")


class TestCleartext:
    def test_cleartext_get(self, plain_conn, docroot, expected_version):
        resp = get(plain_conn, "/1m.bin")
        assert (resp.status, resp.version) == (200, expected_version)
        assert hashlib.sha256(resp.read()).hexdigest() == docroot.sha256("1m.bin")

    def test_cleartext_upload(self, plain_conn):
        body = os.urandom(MiB)
        resp = plain_conn.getresponse(plain_conn.request("POST", "/upload", body=body))
        assert resp.read() == b"%d\n" % len(body)

    def test_cleartext_requests_after_the_first(self, plain_conn, expected_version):
        """After the upgrade (HTTPConnection), later requests go over HTTP/2 too."""
        for i in range(3):
            resp = get(plain_conn, f"/small.txt?n={i}")
            assert (resp.version, resp.read()) == (expected_version, servers.SMALL_BODY)


class TestConcurrency:
    @h2_only
    def test_100_streams_from_8_threads_on_one_connection(self, conn, docroot):
        results = servers.run_concurrent_gets(
            conn,
            docroot,
            ["small.txt", "1k.bin", "1m.bin", "text.txt", "index.html"],
            total=100,
            threads=8,
        )
        assert len(results) == 100
        assert all(results.values()), results
