"""
``hyper serve`` as a subprocess on port 0, against real clients: curl (prior
knowledge, the h2c upgrade, HTTP/1.1, TLS with ALPN), nghttp (push), h2load,
and hyper's own blocking, negotiating and async clients.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from serve_support import BIG_SIZE, DEADLINE, INDEX, STYLE, TEXT, Served, start_serve
from support import servers

from hyper import HTTP20Connection, HTTPConnection
from hyper.aio.connection import AsyncHTTP20Connection
from hyper.tls import init_context


def _curl(require_binary, *args: str) -> subprocess.CompletedProcess[bytes]:
    curl = require_binary("curl")
    return subprocess.run(
        [curl, "-sS", "--max-time", str(DEADLINE), *args],
        capture_output=True,
        timeout=DEADLINE + 5,
        check=False,
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TestStartup:
    def test_startup_line_names_the_directory_and_the_real_port(
        self, served: Served, docs: Path
    ) -> None:
        assert served.line == f"serving {docs} at http://127.0.0.1:{served.port}/"
        assert served.port != 0
        socket.create_connection(("127.0.0.1", served.port), timeout=DEADLINE).close()

    def test_not_a_directory_is_a_usage_error(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "hyper", "serve", str(tmp_path / "nope")],
            capture_output=True,
            timeout=DEADLINE,
            check=False,
        )
        assert result.returncode == 2
        assert b"not a directory" in result.stderr


class TestCurl:
    def test_prior_knowledge_gets_a_large_file_intact(
        self, served: Served, docs: Path, require_binary
    ) -> None:
        result = _curl(
            require_binary, "--http2-prior-knowledge", "-w", "%{http_version}",
            "-o", "-", served.url + "big.bin",
        )  # fmt: skip
        body, version = result.stdout[:-1], result.stdout[-1:]
        assert result.returncode == 0, result.stderr
        assert version == b"2"
        assert len(body) == BIG_SIZE
        assert _sha(body) == _sha((docs / "big.bin").read_bytes())

    def test_h2c_upgrade(self, served: Served, require_binary) -> None:
        """curl --http2 on http:// sends Upgrade: h2c; the answer comes over HTTP/2."""
        result = _curl(
            require_binary, "--http2", "-w", "\n%{http_version}", served.url + "text.txt"
        )
        body, _, version = result.stdout.rpartition(b"\n")
        assert version == b"2", (result.stdout[-200:], result.stderr)
        assert body == TEXT

    def test_http11_keeps_the_connection_alive(self, served: Served, require_binary) -> None:
        result = _curl(
            require_binary, "--http1.1", "-w", "%{http_version} %{num_connects}\n",
            "-o", "/dev/null", served.url + "style.css",
            "-o", "/dev/null", served.url + "text.txt",
        )  # fmt: skip
        assert result.stdout.split(b"\n")[:2] == [b"1.1 1", b"1.1 0"]

    @pytest.mark.parametrize("flag", ["--http2-prior-knowledge", "--http1.1"])
    def test_range_head_304_and_gzip(self, served: Served, require_binary, flag: str) -> None:
        url = served.url + "text.txt"
        ranged = _curl(require_binary, flag, "-r", "10-19", "-w", "|%{http_code}", url)
        assert ranged.stdout == TEXT[10:20] + b"|206"
        head = _curl(require_binary, flag, "-I", url)
        assert f"content-length: {len(TEXT)}".encode() in head.stdout.lower()
        etag = re.search(rb"etag: (\S+)", head.stdout, re.IGNORECASE)
        assert etag is not None
        cached = _curl(
            require_binary, flag, "-H", "If-None-Match: " + etag.group(1).decode(),
            "-w", "%{http_code}", url,
        )  # fmt: skip
        assert cached.stdout == b"304"
        zipped = _curl(require_binary, flag, "--compressed", "-D", "-", url)
        assert b"content-encoding: br" in zipped.stdout.lower()
        assert zipped.stdout.endswith(TEXT)

    def test_416_and_404(self, served: Served, require_binary) -> None:
        url = served.url
        bad = _curl(require_binary, "--http2-prior-knowledge", "-r", "99999999-",
                    "-w", "%{http_code}", "-o", "/dev/null", url + "text.txt")  # fmt: skip
        assert bad.stdout == b"416"
        for path in ("nope", "escape.txt", "escape-dir/secret.txt", "%2e%2e/secret.txt"):
            miss = _curl(require_binary, "--http2-prior-knowledge", "--path-as-is",
                         "-w", "|%{http_code}", url + path)  # fmt: skip
            assert miss.stdout == b"404 Not Found\n|404", path

    @pytest.mark.parametrize(("flag", "version"), [("--http2", b"2"), ("--http1.1", b"1.1")])
    def test_tls_with_alpn(
        self, served_tls: Served, pki: servers.PKI, require_binary, flag: str, version: bytes
    ) -> None:
        url = served_tls.url.replace("127.0.0.1", "localhost")
        result = _curl(
            require_binary, flag, "--cacert", str(pki.ca_path),
            "--resolve", f"localhost:{served_tls.port}:127.0.0.1",
            "-w", "\n%{http_version}", url + "style.css",
        )  # fmt: skip
        body, _, got = result.stdout.rpartition(b"\n")
        assert result.returncode == 0, result.stderr
        assert (body, got) == (STYLE, version)


class TestNghttp:
    def test_push_from_link_and_push_option(self, served: Served, require_binary) -> None:
        nghttp = require_binary("nghttp")
        for path, pushed in (("", "/style.css"), ("pushing.html", "/text.txt")):
            result = subprocess.run(
                [nghttp, "-nv", served.url + path],
                capture_output=True, timeout=DEADLINE, check=False,
            )  # fmt: skip
            out = result.stdout.decode()
            assert result.returncode == 0, out
            assert "recv PUSH_PROMISE" in out
            assert f":path: {pushed}" in out

    def test_no_push_when_the_client_disables_it(self, served: Served, require_binary) -> None:
        nghttp = require_binary("nghttp")
        result = subprocess.run(
            [nghttp, "-nv", "--no-push", served.url],
            capture_output=True, timeout=DEADLINE, check=False,
        )  # fmt: skip
        assert result.returncode == 0
        assert b"PUSH_PROMISE" not in result.stdout


class TestH2load:
    def test_thousands_of_requests_all_succeed(self, served: Served, require_binary) -> None:
        h2load = require_binary("h2load")
        result = subprocess.run(
            [h2load, "-n", "5000", "-c", "4", "-m", "20", served.url + "style.css"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        out = result.stdout.decode()
        assert "5000 succeeded, 0 failed, 0 errored" in out, out
        assert "status codes: 5000 2xx" in out

    def test_over_tls(self, served_tls: Served, require_binary) -> None:
        h2load = require_binary("h2load")
        result = subprocess.run(
            [h2load, "-n", "2000", "-c", "2", "-m", "10", served_tls.url + "style.css"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        out = result.stdout.decode()
        assert "2000 succeeded, 0 failed, 0 errored" in out, out
        assert "Application protocol: h2" in out


class TestHyperClients:
    def test_http20_connection(self, served: Served, docs: Path) -> None:
        with HTTP20Connection(f"127.0.0.1:{served.port}", secure=False, enable_push=True,
                              timeout=DEADLINE) as conn:  # fmt: skip
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.read() == INDEX
            pushes = list(resp.pushes)
            assert [p.path for p in pushes] == [b"/style.css"]
            assert pushes[0].getresponse().read() == STYLE
            conn.request("GET", "/big.bin")
            big = conn.getresponse()
            got = b"".join(big.read_chunked())
            assert _sha(got) == _sha((docs / "big.bin").read_bytes())

    def test_http20_connection_over_tls(self, served_tls: Served, pki: servers.PKI) -> None:
        context = init_context(cert_path=str(pki.ca_path))
        with HTTP20Connection(f"localhost:{served_tls.port}", secure=True, ssl_context=context,
                              timeout=DEADLINE) as conn:  # fmt: skip
            conn.request("GET", "/text.txt")
            assert conn.getresponse().read() == TEXT

    def test_http_connection_upgrades_to_h2c(self, served: Served) -> None:
        conn = HTTPConnection(f"127.0.0.1:{served.port}", secure=False, timeout=DEADLINE)
        try:
            conn.request("GET", "/text.txt")
            resp = conn.get_response()
            assert resp.read() == TEXT
            conn.request("GET", "/style.css")
            assert conn.get_response().read() == STYLE
        finally:
            conn.close()

    def test_async_connection(self, served: Served) -> None:
        async def fetch() -> list[bytes]:
            async with AsyncHTTP20Connection(f"127.0.0.1:{served.port}", timeout=DEADLINE) as conn:
                ids = [await conn.request("GET", p) for p in ("/text.txt", "/style.css") * 20]
                return [await (await conn.get_response(i)).read() for i in ids]

        bodies = asyncio.run(fetch())
        assert bodies == [TEXT, STYLE] * 20


class TestShutdown:
    def test_sigterm_lets_the_response_in_flight_finish_and_exits_0(
        self, docs: Path, tmp_path: Path
    ) -> None:
        served = start_serve(docs, tmp_path, "-v")
        with HTTP20Connection(f"127.0.0.1:{served.port}", secure=False, timeout=DEADLINE) as conn:
            conn.request("GET", "/big.bin")
            resp = conn.getresponse()
            first = resp.read(65536)  # the transfer is under way, far from done
            served.proc.send_signal(signal.SIGTERM)
            rest = resp.read()
        assert len(first) + len(rest) == BIG_SIZE
        assert served.stop(None) == 0  # signalled once already
        stderr = served.stderr()
        assert f'"GET /big.bin" 200 {BIG_SIZE} h2' in stderr
        assert "Traceback" not in stderr
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", served.port), timeout=DEADLINE).close()

    def test_sigint_exits_0(self, docs: Path, tmp_path: Path) -> None:
        served = start_serve(docs, tmp_path)
        assert served.stop(signal.SIGINT) == 0
        assert served.stderr() == ""

    def test_access_log_names_method_path_status_bytes_protocol_and_ms(
        self, docs: Path, tmp_path: Path, require_binary
    ) -> None:
        served = start_serve(docs, tmp_path, "-v")
        _curl(require_binary, "--http1.1", "-o", "/dev/null", served.url + "style.css")
        _curl(require_binary, "--http2-prior-knowledge", "-o", "/dev/null", served.url + "x")
        assert served.stop() == 0
        lines = served.stderr().splitlines()
        assert re.fullmatch(
            rf'127\.0\.0\.1 "GET /style\.css" 200 {len(STYLE)} http/1\.1 \d+\.\dms', lines[0]
        )
        assert re.fullmatch(r'127\.0\.0\.1 "GET /x" 404 14 h2 \d+\.\dms', lines[1])
