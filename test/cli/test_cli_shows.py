"""
What the ``hyper`` command shows, against ``hyper serve`` (TLS with h2 and
http/1.1 by ALPN, a trustme certificate) and scripted peers that record what
arrived: ``-v`` (the connection, TLS, the request exactly as sent, the
response head), ``-o`` with its progress meter on a terminal, ``-s``,
curl's warning for a binary body on a terminal (``-o -`` to have it anyway),
``--http1.1``; and ``hyper demo`` naming the extras it skipped.

The command runs as a subprocess; terminals are pseudo-terminals. Every run
has a timeout.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import servers
from support.h1peer import H1Peer, ok, replying
from support.peer import Peer, serving

from hyper import __version__
from hyper.cli import EXIT_USAGE, EXIT_WRITE, _Progress
from hyper.serve import ServerThread
from hyper.serve._server import server_context

_REPO_ROOT = Path(__file__).resolve().parents[2]
# One request of a few MiB on loopback takes well under a second; this is for slow CI.
_RUN_TIMEOUT = 30
_PTY_READ_TIMEOUT = 10.0
_BINARY = bytes(range(256)) * 64  # NUL bytes: binary by curl's test
_TEXT = b"plain text for a terminal\n" * 10
_LARGE = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> servers.PKI:
    return servers.PKI(tmp_path_factory.mktemp("cli-pki"))


@pytest.fixture(scope="module")
def site(pki: servers.PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """hyper serve over TLS (h2 and http/1.1 by ALPN); yields its https:// base."""
    root = tmp_path_factory.mktemp("cli-site")
    (root / "binary.bin").write_bytes(_BINARY)
    (root / "text.txt").write_bytes(_TEXT)
    (root / "large.bin").write_bytes(os.urandom(_LARGE))
    context = server_context(str(pki.cert_path), str(pki.key_path))
    with ServerThread(str(root), host="127.0.0.1", port=0, ssl=context) as server:
        yield f"https://localhost:{server.port}"


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "hyper", *args],
        cwd=_REPO_ROOT,
        input=stdin,
        capture_output=True,
        timeout=_RUN_TIMEOUT,
        check=False,
    )


def _err(result: subprocess.CompletedProcess[bytes]) -> str:
    return result.stderr.decode("utf-8", "replace")


def _run_on_terminal(*args: str, stream: str) -> tuple[int, str, bytes]:
    """Run with ``stream`` ("stdout" or "stderr") on a pseudo-terminal: the exit
    status, what the terminal got, and what the other stream got."""
    master, slave = pty.openpty()
    kwargs = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, stream: slave}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hyper", *args],
            cwd=_REPO_ROOT,
            stdin=subprocess.DEVNULL,
            **kwargs,  # type: ignore[arg-type]
        )
    finally:
        os.close(slave)
    try:
        terminal = _read_pty(master)
    finally:
        os.close(master)
    other = proc.stderr if stream == "stdout" else proc.stdout
    assert other is not None
    rest = other.read()
    other.close()
    return proc.wait(_RUN_TIMEOUT), terminal, rest


def _read_pty(fd: int) -> str:
    """Everything written to a pseudo-terminal whose writers have all closed it."""
    data = b""
    deadline = time.monotonic() + _PTY_READ_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed and drained
            break
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


class TestVerbose:
    def test_tls_and_the_http2_request_as_sent(self, site: str, pki: servers.PKI) -> None:
        result = _run("-v", "--cacert", str(pki.ca_path), f"{site}/text.txt")
        assert result.returncode == 0, _err(result)
        assert result.stdout == _TEXT
        err = _err(result)
        port = site.rpartition(":")[2]
        assert f"* connected to localhost port {port}" in err
        assert re.search(r"^\* TLS: TLSv1\.[23], cipher \S+$", err, re.M), err
        assert "* ALPN: server accepted h2" in err
        request = [line for line in err.splitlines() if line.startswith(">")]
        assert request[:5] == [
            "> GET /text.txt HTTP/2",
            "> :method: GET",
            "> :scheme: https",
            f"> :authority: localhost:{port}",
            "> :path: /text.txt",
        ]
        # What hyper adds of its own is listed too.
        assert f"> user-agent: hyper/{__version__}" in request
        assert any(line.startswith("> accept-encoding: ") for line in request)
        assert "< HTTP/2 200" in err
        assert re.search(r"^< content-length: \d+$", err, re.M), err

    def test_http11_forced_over_tls(self, site: str, pki: servers.PKI) -> None:
        result = _run("-v", "--http1.1", "--cacert", str(pki.ca_path), f"{site}/text.txt")
        assert result.returncode == 0, _err(result)
        err = _err(result)
        assert "* ALPN: server accepted http/1.1" in err
        assert "> GET /text.txt HTTP/1.1" in err
        assert f"> Host: localhost:{site.rpartition(':')[2]}" in err
        assert "< HTTP/1.1 200" in err
        assert result.stdout == _TEXT

    def test_http11_forced_in_plaintext_makes_no_h2c_offer(self, tmp_path: Path) -> None:
        """hyper serve accepts h2c: --http1.1 must not offer it (a standalone
        HTTP11Connection does, as historic hyper's did)."""
        (tmp_path / "text.txt").write_bytes(_TEXT)
        with ServerThread(str(tmp_path), host="127.0.0.1", port=0) as server:
            result = _run("-v", "--http1.1", f"http://127.0.0.1:{server.port}/text.txt")
        assert result.returncode == 0, _err(result)
        err = _err(result)
        assert "< HTTP/1.1 200" in err
        assert "h2c" not in err.lower()
        assert result.stdout == _TEXT

    def test_h2_and_http11_together_is_a_usage_error(self) -> None:
        result = _run("--h2", "--http1.1", "https://localhost/")
        assert result.returncode == EXIT_USAGE
        assert "cannot be combined" in _err(result)

    def test_the_http2_block_shown_is_the_block_received(self) -> None:
        received: list[list[tuple[bytes, bytes]]] = []

        def answer(conn, request) -> None:
            received.append(request.headers)
            conn.respond(request.stream_id, body=b"ok")

        with Peer(serving(answer)) as peer:
            result = _run("-v", "--h2", f"http://{peer.address}/p?q=1", "X-Mine:yes", "a=b")
        assert result.returncode == 0, _err(result)
        shown = [
            tuple(line[2:].split(": ", 1))
            for line in _err(result).splitlines()
            if line.startswith("> ") and ": " in line
        ]
        sent = [(n.decode(), v.decode()) for n, v in received[0]]
        assert shown == sent
        assert ("content-length", "10") in sent  # {"a": "b"}, counted by hyper

    def test_the_http11_head_shown_is_the_head_received(self) -> None:
        with H1Peer(replying(ok(b"fine"))) as peer:
            result = _run("-v", "--http1.1", f"http://{peer.address}/x", "--data", "body!")
        assert result.returncode == 0, _err(result)
        request = peer.requests[0]
        shown = [
            line[2:]
            for line in _err(result).splitlines()
            if line.startswith("> ") and ": " in line
        ]
        sent = [f"{n.strip().decode()}: {v.strip().decode()}" for n, v in request.raw_headers]
        assert shown == sent
        assert "Content-Length: 5" in sent


class TestOutput:
    def test_progress_meter_on_a_terminal(self, site: str, pki: servers.PKI, tmp_path) -> None:
        out = tmp_path / "large.bin"
        status, terminal, stdout = _run_on_terminal(
            "--cacert", str(pki.ca_path), "-o", str(out), f"{site}/large.bin", stream="stderr"
        )
        assert status == 0, terminal
        assert out.stat().st_size == _LARGE and stdout == b""
        assert "3.0 MiB / 3.0 MiB  100%" in terminal
        assert "/s" in terminal

    def test_silent_draws_nothing(self, site: str, pki: servers.PKI, tmp_path) -> None:
        out = tmp_path / "large.bin"
        status, terminal, _ = _run_on_terminal(
            "-s", "--cacert", str(pki.ca_path), "-o", str(out), f"{site}/large.bin",
            stream="stderr",
        )  # fmt: skip
        assert status == 0
        assert terminal == ""
        assert out.stat().st_size == _LARGE

    def test_no_meter_when_stderr_is_not_a_terminal(self, site, pki, tmp_path) -> None:
        out = tmp_path / "large.bin"
        result = _run("--cacert", str(pki.ca_path), "-o", str(out), f"{site}/large.bin")
        assert result.returncode == 0 and result.stderr == b""

    def test_a_binary_body_to_a_terminal_gets_curls_warning(self, site, pki) -> None:
        status, terminal, stderr = _run_on_terminal(
            "--cacert", str(pki.ca_path), f"{site}/binary.bin", stream="stdout"
        )
        assert status == EXIT_WRITE
        assert "\x00" not in terminal and terminal == ""
        warning = stderr.decode()
        assert "Binary output can mess up your terminal" in warning
        assert '"--output -"' in warning

    def test_output_dash_writes_a_binary_body_to_the_terminal(self, site, pki) -> None:
        status, terminal, stderr = _run_on_terminal(
            "--cacert", str(pki.ca_path), "-o", "-", f"{site}/binary.bin", stream="stdout"
        )
        assert status == 0, stderr
        assert stderr == b""
        assert terminal.count("\x00") == _BINARY.count(0)

    def test_text_to_a_terminal_is_just_written(self, site, pki) -> None:
        status, terminal, stderr = _run_on_terminal(
            "--cacert", str(pki.ca_path), f"{site}/text.txt", stream="stdout"
        )
        assert status == 0, stderr
        assert terminal.replace("\r\n", "\n") == _TEXT.decode()

    def test_silent_binary_body_to_a_terminal_exits_23_quietly(self, site, pki) -> None:
        status, terminal, stderr = _run_on_terminal(
            "-s", "--cacert", str(pki.ca_path), f"{site}/binary.bin", stream="stdout"
        )
        assert (status, terminal, stderr) == (EXIT_WRITE, "", b"")

    def test_a_binary_body_into_a_pipe_is_written(self, site, pki) -> None:
        result = _run("--cacert", str(pki.ca_path), f"{site}/binary.bin")
        assert result.returncode == 0 and result.stdout == _BINARY


class TestProgressLine:
    def test_eta_while_the_length_is_known(self) -> None:
        now = [0.0]
        progress = _Progress(io.StringIO(), 10 * 1024 * 1024, lambda: now[0])
        progress.update(1024 * 1024)
        now[0] = 1.0
        line = progress.line(now[0])
        assert "1.0 MiB / 10.0 MiB   10%" in line
        assert "1.0 MiB/s" in line
        assert line.endswith("ETA 0:09")

    def test_no_eta_without_a_length(self) -> None:
        progress = _Progress(io.StringIO(), None, lambda: 1.0)
        progress.update(100)
        assert "ETA" not in progress.line(2.0)

    def test_eta_past_an_hour_shows_hours(self) -> None:
        progress = _Progress(io.StringIO(), 7200 * 1000, lambda: 0.0)
        progress.update(1000)
        assert progress.line(1.0).endswith("ETA 1:59:59")


def test_demo_says_how_to_install_what_it_skipped() -> None:
    code = (
        "import sys; sys.modules['httpx'] = None; sys.modules['requests'] = None\n"
        "from hyper.demo import run_demo\n"
        "sys.exit(run_demo(requests=20, threads=2))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=_REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped: requests is not installed: pip install 'hyper[requests]'" in result.stdout
    assert "skipped: httpx is not installed: pip install 'hyper[httpx]'" in result.stdout
    assert "pip install 'hyper[requests,httpx]'" in result.stdout
