"""
``hyper serve`` under attack, round two (docs/security.rst, "Limits of
hyper serve"): caps that hold from accept, memory that stays bounded and is
reused (a second identical round of an attack leaves the server's RSS within
a few MB of the first), timeouts for stalled clients, descriptors, handler
failures, and what a request may say (Range numbers, redirects, target
forms).

Each test starts its own ``hyper serve`` subprocess with the options it
needs, so one test's connections never weigh on another's numbers; each
must exit 0 on SIGTERM with no traceback on its stderr. Hostile clients are
raw sockets (HTTP/2 frames from hyperframe and hpack); every wait has a
deadline and polls a condition (RSS, open descriptors, a frame), never a
sleep.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import platform
import select
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hyperframe.frame import (
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from serve_support import (
    DEADLINE,
    HOST,
    STYLE,
    TEXT,
    Bystander,
    RawH2,
    Served,
    make_docroot,
    open_fds,
    open_sockets,
    rss,
    settled_rss,
    start_serve,
    wait_until,
)
from support import servers

from hyper import HTTP20Connection
from hyper.http20.errors import ErrorCodes
from hyper.serve import FileServer, Plan, Server, ServerThread
from hyper.serve._listen import FD_RESERVE

MB = 1 << 20
# What "within a few MB" means for a second identical round of an attack:
# allocator slack, not a per-request leak (100s of MB before these fixes).
ROUND_SLACK = 8 * MB
# PyPy's GC collects only once memory grew 1.82 times since the last major
# collection: a second round may well sit above the first there. That check
# is the CPython run's; PyPy runs the attacks and every other assertion.
LAZY_GC = platform.python_implementation() == "PyPy"
# Compressible files big enough to be compressed off the event loop, and
# together bigger than the 32 MiB cache of compressed bodies.
BIG_TEXT = 3 * MB
BIG_TEXTS = 12


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = make_docroot(tmp_path_factory.mktemp("limits"))
    (docs / "evil.example").mkdir()
    (docs / "100b.bin").write_bytes(os.urandom(100))
    line = b"a line of text that compresses, with a counter: %09d\n"
    for n in range(BIG_TEXTS):
        with open(docs / f"big{n}.txt", "wb") as f:
            f.write(b"".join(line % (n * 10**6 + i) for i in range(BIG_TEXT // 53)))
    return docs


@contextlib.contextmanager
def serving(docs: Path, tmp_path: Path, *args: str, **kwargs: object) -> Iterator[Served]:
    """A ``hyper serve`` for one test; stopped cleanly, no traceback."""
    served = start_serve(docs, tmp_path, *args, **kwargs)  # type: ignore[arg-type]
    try:
        yield served
    finally:
        status = served.stop()
        stderr = served.stderr()
        assert "Traceback" not in stderr, stderr
        assert status == 0, stderr


@contextlib.contextmanager
def bystander(served: Served) -> Iterator[Bystander]:
    """A well-behaved client on its own connection, asking for a file after
    another all through the attack: every answer right, and a fresh
    connection served at the end."""
    with Bystander(served.port) as beside:
        assert beside.first.wait(DEADLINE)
        yield beside
    beside.check()


def h1_response(sock: socket.socket, head: bool = False) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (status, headers, body by content-length;
    none for a ``head`` request)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed mid-head: {data[:200]!r}")
        data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head else int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed mid-body")
        body += chunk
    return status, headers, body


def h1_get(port: int, target: str, *extra: str) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection((HOST, port), timeout=DEADLINE) as sock:
        head = f"GET {target} HTTP/1.1\r\nHost: a\r\n" + "".join(f"{h}\r\n" for h in extra)
        sock.sendall(head.encode("latin-1") + b"\r\n")
        return h1_response(sock)


def status_of(raw: RawH2, stream_id: int) -> int | str:
    """The :status ``stream_id`` got, or ``'RST <code>'``; other streams' frames skipped."""
    while True:
        frame = raw.read_frame()
        if frame is None:
            raise AssertionError(f"connection closed before stream {stream_id} was answered")
        if frame.stream_id != stream_id:
            continue
        if isinstance(frame, RstStreamFrame):
            return f"RST {frame.error_code}"
        if isinstance(frame, HeadersFrame):
            return int(dict(frame.decoded)[b":status"])


def closed(sock: socket.socket) -> bool:
    """The server closed ``sock`` (EOF or reset), reading whatever is left."""
    sock.settimeout(DEADLINE)
    try:
        while sock.recv(1 << 20):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    return True


class TestRangeNumbers:
    """Item 1: numbers of any length in Range; answered, never a dead stream."""

    HUGE = "9" * 5000

    def test_every_huge_range_is_answered_on_one_connection(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """100 requests with 5,000-digit bounds (past Python's 4,300-digit
        int() limit) on one connection: each answered (416 or 206), and the
        connection serves the next request (before: 100 dead streams, then
        REFUSED_STREAM)."""
        ranges = [f"bytes={self.HUGE}-", f"bytes=0-{self.HUGE}", f"bytes=-{self.HUGE}"]
        with serving(docs, tmp_path) as served, bystander(served), RawH2(served.port) as raw:
            raw.send(raw.factory.settings(ack=True))
            answers = []
            for i in range(100):
                sid = 2 * i + 1
                raw.send(raw.request(sid, "/text.txt", range=ranges[i % 3]))
                answers.append(status_of(raw, sid))
            assert answers == [[416, 206, 206][i % 3] for i in range(100)]
            # (The 206 bodies hold the connection window: a status is enough.)
            raw.send(raw.request(201, "/style.css"))
            assert status_of(raw, 201) == 200
        assert "Task exception" not in served.stderr()

    def test_huge_range_over_http11_keeps_the_connection(self, docs: Path, tmp_path: Path) -> None:
        with serving(docs, tmp_path) as served, socket.create_connection(
            (HOST, served.port), timeout=DEADLINE
        ) as sock:
            head = "GET /text.txt HTTP/1.1\r\nHost: a\r\nRange: bytes={}\r\n\r\n"
            sock.sendall(head.format(f"{self.HUGE}-").encode())
            status, headers, _ = h1_response(sock)
            assert (status, headers["content-range"]) == (416, f"bytes */{len(TEXT)}")
            sock.sendall(head.format(f"0-{self.HUGE}").encode())
            status, headers, body = h1_response(sock)
            assert (status, body) == (206, TEXT)

    def test_non_ascii_digits_are_not_a_range(self, docs: Path, tmp_path: Path) -> None:
        """Smaller: the grammar's DIGIT is ASCII; "bytes=\\u0660-\\u0669" is no range (200)."""
        with serving(docs, tmp_path) as served, RawH2(served.port) as raw:
            raw.send(raw.request(1, "/text.txt", range="bytes=\u0660-\u0669"))
            headers, body = raw.response(1)
            assert headers[b":status"] == b"200" and body == TEXT


class Exploding(FileServer):
    """A file server with a bug: planning ``/boom`` raises."""

    def plan_fields(self, method: str, target: str, fields: Any, **kwargs: Any) -> Plan:
        if target == "/boom":
            raise RuntimeError("a bug in the handler")
        return super().plan_fields(method, target, fields, **kwargs)


class TestHandlerFailure:
    """Item 1: any exception in a handler ends its stream (500, or
    RST_STREAM(INTERNAL_ERROR) once headers went), logged once; the
    connection lives on."""

    @pytest.fixture
    def exploding(self, docs: Path) -> Iterator[Server]:
        with ServerThread(str(docs)) as server:
            server.files = Exploding(str(docs))
            yield server

    def test_http2_gets_500_and_the_connection_lives(
        self, exploding: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        with HTTP20Connection(f"{HOST}:{exploding.port}", secure=False, timeout=DEADLINE) as conn:
            conn.request("GET", "/boom")
            response = conn.getresponse()
            assert response.status == 500
            assert response.read() == b"500 Internal Server Error\n"
            conn.request("GET", "/style.css")
            assert conn.getresponse().read() == STYLE
        failures = [r for r in caplog.records if r.name == "hyper.serve"]
        assert len(failures) == 1
        assert failures[0].exc_info is not None and "GET /boom" in failures[0].getMessage()

    def test_http11_gets_500_and_close(
        self, exploding: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        status, headers, body = h1_get(exploding.port, "/boom")
        assert (status, headers["connection"]) == (500, "close")
        assert body == b"500 Internal Server Error\n"
        assert h1_get(exploding.port, "/style.css")[2] == STYLE
        assert len([r for r in caplog.records if r.name == "hyper.serve"]) == 1


class TestTargets:
    def test_no_scheme_relative_redirect(self, docs: Path, tmp_path: Path) -> None:
        """Item 2 (CVE-2021-28861's shape): //evil.example, a directory here, is
        redirected to /evil.example/, never to //evil.example/ (another host)."""
        with serving(docs, tmp_path) as served:
            for target in ("//evil.example", "///evil.example", "/evil.example"):
                status, headers, _ = h1_get(served.port, target)
                assert (status, headers["location"]) == (301, "/evil.example/"), target

    def test_absolute_form_is_served_over_http11(self, docs: Path, tmp_path: Path) -> None:
        """Smaller: RFC 9112 3.2.2, a server MUST accept the absolute form."""
        with serving(docs, tmp_path) as served:
            assert h1_get(served.port, f"http://{HOST}:{served.port}/style.css")[:1] == (200,)
            status, _, body = h1_get(served.port, "http://other.example/text.txt?x=1")
            assert (status, body) == (200, TEXT)

    def test_a_file_with_a_trailing_slash_is_not_found(self, docs: Path, tmp_path: Path) -> None:
        with serving(docs, tmp_path) as served:
            assert h1_get(served.port, "/100b.bin/")[0] == 404
            assert h1_get(served.port, "/100b.bin")[0] == 200

    @pytest.mark.parametrize(
        ("name", "value"),
        [(":path", "style.css"), (":path", "http://a/style.css"), (":scheme", ""),
         (":authority", "")],
    )  # fmt: skip
    def test_malformed_http2_targets_are_stream_errors(
        self, docs: Path, tmp_path: Path, name: str, value: str
    ) -> None:
        """Smaller: RFC 9113 8.3.1, answered RST_STREAM(PROTOCOL_ERROR), not 404."""
        fields = {":method": "GET", ":scheme": "http", ":authority": "a", ":path": "/style.css"}
        fields[name] = value
        with serving(docs, tmp_path) as served, RawH2(served.port) as raw:
            raw.send(raw.factory.headers(1, list(fields.items()), end_stream=True))
            assert status_of(raw, 1) == f"RST {ErrorCodes.PROTOCOL_ERROR}"
            raw.send(raw.request(3, "/style.css"))
            assert raw.response(3)[1] == STYLE


class TestConnectionCap:
    CAP = 20

    def test_tls_connections_count_from_accept(self, docs: Path, tmp_path: Path) -> None:
        """Item 3: 100 TCP connections to the TLS port that never send a
        ClientHello, against a cap of 20: the server holds at most 20 of them
        (each new one takes the place of the oldest), they cost no TLS buffers,
        and a TLS client is served meanwhile."""
        pki = servers.PKI(tmp_path / "pki")
        # A handshake timeout longer than the test waits: only the cap can close them.
        args = ("--cert", str(pki.cert_path), "--key", str(pki.key_path),
                "--max-connections", str(self.CAP), "--handshake-timeout", "60")  # fmt: skip
        with serving(docs, tmp_path, *args) as served:
            pid = served.proc.pid
            base_fds, base_rss = open_fds(pid), settled_rss(pid)
            silent = [socket.create_connection((HOST, served.port)) for _ in range(100)]
            try:
                wait_until("20 connections held", lambda: open_fds(pid) <= base_fds + self.CAP)
                # The first 80 were closed to make room for the next ones.
                assert all(closed(sock) for sock in silent[:80])
                assert rss(pid) - base_rss < 4 * MB
                context = ssl.create_default_context(cafile=str(pki.ca_path))
                with HTTP20Connection(f"localhost:{served.port}", secure=True,
                                      ssl_context=context, timeout=DEADLINE) as conn:  # fmt: skip
                    conn.request("GET", "/style.css")
                    assert conn.getresponse().read() == STYLE
            finally:
                for sock in silent:
                    sock.close()

    def test_idle_http2_connections_make_room_and_half_frames_time_out(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """Item 9: the cap is full of HTTP/2 connections that finished the
        handshake and went silent, half of them after 5 bytes of a frame
        header. Those stop-half-way ones get GOAWAY(NO_ERROR) at the handshake
        timeout; a new client is served at once, in the place of the
        connection idle longest that never sent a request (GOAWAY NO_ERROR);
        one that did send requests keeps its place while others are older."""
        args = ("--max-connections", str(self.CAP), "--handshake-timeout", "1")
        with serving(docs, tmp_path, *args) as served:
            keeper = RawH2(served.port)
            keeper.send(keeper.factory.settings(ack=True) + keeper.request(1, "/style.css"))
            assert keeper.response(1)[1] == STYLE
            silent = [RawH2(served.port) for _ in range(self.CAP - 1)]
            try:
                for raw in silent:
                    raw.until(SettingsFrame)  # the handshake is done
                half = silent[1::2]
                for raw in half:
                    raw.send(raw.factory.ping(b"12345678")[:5])
                # A newcomer at the cap: the oldest silent one makes room.
                with HTTP20Connection(f"{HOST}:{served.port}", secure=False,
                                      timeout=DEADLINE) as conn:  # fmt: skip
                    conn.request("GET", "/text.txt")
                    assert conn.getresponse().read() == TEXT
                evicted = silent[0].goaway()
                assert evicted is not None
                assert (evicted.error_code, evicted.additional_data) == (
                    ErrorCodes.NO_ERROR, b"connection limit reached"
                )  # fmt: skip
                for raw in half:
                    goaway = raw.goaway()
                    assert goaway is not None
                    assert (goaway.error_code, goaway.additional_data) == (
                        ErrorCodes.NO_ERROR, b"frame not completed within 1.0 s"
                    )  # fmt: skip
                keeper.send(keeper.request(3, "/style.css"))
                assert keeper.response(3)[1] == STYLE
            finally:
                keeper.close()
                for raw in silent:
                    raw.close()


def _stalled_round(port: int, connections: int, streams: int, body: bytes = b"") -> list[RawH2]:
    """``connections`` clients, each asking for /big.bin on ``streams``
    streams with an INITIAL_WINDOW_SIZE of 0 (no DATA can flow), each
    request followed by ``body`` (then not ended); returned once the server
    answered every request's headers."""
    clients = [RawH2(port, window=0) for _ in range(connections)]
    for raw in clients:
        data = raw.factory.settings(ack=True)
        for i in range(streams):
            sid = 2 * i + 1
            data += raw.request(sid, "/big.bin", end_stream=not body)
            if body:
                data += raw.factory.data(sid, body)
        raw.send(data)
    for raw in clients:
        answered = 0
        while answered < streams:
            frame = raw.read_frame()
            assert frame is not None, "a stalled client was cut off"
            answered += isinstance(frame, HeadersFrame)
    return clients


def _two_rounds(pid: int, round_: Any) -> tuple[int, int, int, int]:
    """RSS (settled) before, during the first round, after it and after a
    second identical round; each round's clients closed and gone before the
    'after' sample (the server's descriptors back to where they were)."""
    fds = open_fds(pid)
    before = settled_rss(pid)
    samples = []
    for _ in range(2):
        clients = round_()
        samples.append(settled_rss(pid))
        for client in clients:
            client.close()
        wait_until("the round's connections closed", lambda: open_fds(pid) <= fds)
        samples.append(settled_rss(pid))
    during, after_first, _, after_second = samples
    return before, during, after_first, after_second


@pytest.mark.timeout(240)  # two rounds of floods each; PyPy under load takes minutes
class TestMemory:
    def test_stalled_streams_hold_no_file_and_no_buffer(self, docs: Path, tmp_path: Path) -> None:
        """Item 4: 40 connections x 100 GET /big.bin with INITIAL_WINDOW_SIZE 0:
        no descriptor per stream (one per connection), a few KB per stream
        (before: 139 KB, a 128 KiB chunk and an open file each), and a second
        identical round leaves RSS within a few MB of the first."""
        with serving(docs, tmp_path, "--max-connections", "100") as served:
            pid = served.proc.pid
            fds = open_fds(pid)

            def round_() -> list[RawH2]:
                clients = _stalled_round(served.port, 40, 100)
                assert open_fds(pid) <= fds + 40 + 2  # (+2: a file being read, a timer)
                return clients

            before, during, first, second = _two_rounds(pid, round_)
        per_stream = (during - before) / 4000
        print(f"RSS {before / MB:.0f} -> {during / MB:.0f} MB during "
              f"({per_stream / 1024:.1f} KB per stalled stream), "
              f"{first / MB:.0f} -> {second / MB:.0f} MB after each round")  # fmt: skip
        assert per_stream < 24 * 1024
        assert LAZY_GC or second - first < ROUND_SLACK

    def test_unread_request_bodies_are_not_buffered(self, docs: Path, tmp_path: Path) -> None:
        """Item 6: 10 connections x 60 stalled requests, each followed by 320 KiB
        of DATA without END_STREAM: nothing is buffered and no stream window
        given back; each DATA frame counts as a glitch, so each connection ends
        in ENHANCE_YOUR_CALM after 1,000 of them; a second round costs nothing
        more (before: 1 MiB buffered per stream, and kept)."""
        chunk = b"x" * 16384
        with serving(docs, tmp_path) as served, bystander(served):
            pid = served.proc.pid
            endings: list[tuple[int | None, int]] = []

            def round_() -> list[RawH2]:
                clients = []
                for _ in range(10):
                    raw = RawH2(served.port, window=0)
                    data = [raw.factory.settings(ack=True)]
                    for i in range(60):
                        sid = 2 * i + 1
                        data.append(raw.request(sid, "/big.bin", end_stream=False))
                        data += [raw.factory.data(sid, chunk) for _ in range(20)]
                    raw.send(b"".join(data))
                    clients.append(raw)
                for raw in clients:
                    stream_updates = 0
                    while True:
                        frame = raw.read_frame()
                        if frame is None or isinstance(frame, GoAwayFrame):
                            break
                        if isinstance(frame, WindowUpdateFrame) and frame.stream_id:
                            stream_updates += 1
                    endings.append((frame.error_code if frame else None, stream_updates))
                return clients

            before, during, first, second = _two_rounds(pid, round_)
        print(f"RSS {before / MB:.0f} -> {during / MB:.0f} MB during, "
              f"{first / MB:.0f} -> {second / MB:.0f} MB after each round")  # fmt: skip
        assert endings == [(ErrorCodes.ENHANCE_YOUR_CALM, 0)] * 20
        # About 16 MB reached the server per connection, 160 MB a round: kept,
        # it would all show; dropped, it is garbage (PyPy collects it late).
        assert during - before < 48 * MB
        assert LAZY_GC or second - first < ROUND_SLACK

    def test_pipelined_http11_without_reading_is_bounded(self, docs: Path, tmp_path: Path) -> None:
        """Item 7: clients that write pipelined GET /big.bin as fast as they can
        for a second and never read: the server stops reading while a response
        is pending, so the clients can push only what the sockets buffer
        (before: 5.5 GB in 20 s, all of it in the server's memory)."""
        request = b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n" * 1000
        with serving(docs, tmp_path) as served, bystander(served):
            pid = served.proc.pid
            pushed: list[int] = []

            def round_() -> list[socket.socket]:
                socks = [socket.create_connection((HOST, served.port)) for _ in range(4)]
                for sock in socks:
                    sock.setblocking(False)
                end = time.monotonic() + 1.0  # the attack's length, not a wait
                total = 0
                while time.monotonic() < end:
                    _, writable, _ = select.select([], socks, [], 0.1)
                    for sock in writable:
                        with contextlib.suppress(BlockingIOError):
                            total += sock.send(request)
                pushed.append(total)
                return socks

            before, during, first, second = _two_rounds(pid, round_)
        print(f"pushed {[p // MB for p in pushed]} MB; RSS {before / MB:.0f} -> "
              f"{during / MB:.0f} MB during, "
              f"{first / MB:.0f} -> {second / MB:.0f} MB after")  # fmt: skip
        assert max(pushed) < 64 * MB
        assert during - before < 32 * MB
        assert LAZY_GC or second - first < ROUND_SLACK


class TestSendTimeout:
    """Item 8: a client that accepts no bytes (or, over HTTP/2, gives no
    window) for ``--send-timeout`` seconds is dropped; the server's
    descriptors come back. (1 s here; 30 s by default.)"""

    def test_http11_downloads_read_by_nobody_are_closed(self, docs: Path, tmp_path: Path) -> None:
        with serving(docs, tmp_path, "--send-timeout", "1") as served, bystander(served):
            pid = served.proc.pid
            fds = open_fds(pid)
            socks = [socket.create_connection((HOST, served.port)) for _ in range(20)]
            for sock in socks:
                sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
            wait_until("every download accepted", lambda: open_fds(pid) >= fds + 20)
            wait_until("every stalled download closed", lambda: open_fds(pid) <= fds)
            for sock in socks:
                received = 0
                with contextlib.suppress(ConnectionResetError):
                    while chunk := sock.recv(1 << 20):
                        received += len(chunk)
                assert received < 8 << 20  # cut off mid-body
                sock.close()
            answer = h1_get(served.port, "/style.css")
            assert answer[2] == STYLE, answer

    def test_http2_connections_read_by_nobody_are_closed(self, docs: Path, tmp_path: Path) -> None:
        with serving(docs, tmp_path, "--send-timeout", "1") as served, bystander(served):
            pid = served.proc.pid
            fds = open_fds(pid)
            clients = [RawH2(served.port, window=2**31 - 1) for _ in range(10)]
            for raw in clients:
                requests = b"".join(raw.request(2 * i + 1, "/big.bin") for i in range(10))
                raw.send(raw.factory.window_update(0, 2**31 - 1 - 65535) + requests)
            wait_until("every connection accepted", lambda: open_fds(pid) >= fds + 10)
            wait_until("every deaf connection closed", lambda: open_fds(pid) <= fds)
            for raw in clients:
                with contextlib.suppress(ConnectionResetError):
                    while raw.read_frame() is not None:
                        pass
                raw.close()

    def test_a_stream_given_no_window_is_reset(self, docs: Path, tmp_path: Path) -> None:
        """The stream's window never opens (the connection's grows by a byte
        every 0.1 s meanwhile, news that wakes the sender each time):
        RST_STREAM(CANCEL) after the send timeout, and the connection goes on."""
        with serving(docs, tmp_path, "--send-timeout", "1") as served, bystander(
            served
        ), RawH2(served.port, window=0) as raw:
            raw.send(raw.factory.settings(ack=True) + raw.request(1, "/big.bin"))
            assert status_of(raw, 1) == 200
            end = time.monotonic() + DEADLINE
            reset = None
            while reset is None and time.monotonic() < end:
                raw.send(raw.factory.window_update(0, 1))
                if select.select([raw.sock], [], [], 0.1)[0]:  # the attack's pace
                    frame = raw.read_frame()
                    if isinstance(frame, RstStreamFrame) and frame.stream_id == 1:
                        reset = frame
            assert reset is not None and reset.error_code == ErrorCodes.CANCEL
            raw.send(raw.request(3, "/100b.bin"))
            assert status_of(raw, 3) == 200


class TestDescriptors:
    """Item 5: a process short of file descriptors."""

    @staticmethod
    def _baseline(docs: Path, tmp_path: Path) -> int:
        """Descriptors ``hyper serve`` holds with nothing to do."""
        with serving(docs, tmp_path) as served:
            return open_fds(served.proc.pid)

    def test_the_soft_limit_is_raised_to_the_hard_one(self, docs: Path, tmp_path: Path) -> None:
        with serving(docs, tmp_path, nofile=(256, 4096)) as served:
            limits = Path(f"/proc/{served.proc.pid}/limits").read_text()
            line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
            assert line.split()[3:5] == ["4096", "4096"]

    def test_at_the_limit_new_clients_wait_and_files_are_still_served(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """With 20 descriptors to spare, 40 clients: the server takes what
        leaves a few descriptors for files (their requests all succeed), stops
        accepting without a log flood (one line), and the clients it did not
        take wait in the listen backlog (not reset) until some close."""
        base = self._baseline(docs, tmp_path)
        limit = base + 20
        with serving(docs, tmp_path, nofile=(limit, limit)) as served:
            pid = served.proc.pid
            listening = open_sockets(pid)
            socks = [socket.create_connection((HOST, served.port), timeout=DEADLINE)
                     for _ in range(40)]  # fmt: skip
            try:
                for sock in socks:
                    sock.sendall(b"GET /style.css HTTP/1.1\r\nHost: a\r\n\r\n")
                # It takes connections up to FD_RESERVE descriptors short of
                # the limit, oldest first (the listen backlog is a queue).
                wait_until("accepting stopped", lambda: "not accepting" in served.stderr())
                taken = open_sockets(pid) - listening
                assert taken == limit - FD_RESERVE - base + 1
                for sock in socks[:taken]:
                    assert h1_response(sock)[2] == STYLE  # a file each: the reserve holds
                waiting = socks[taken:]
                assert select.select(waiting, [], [], 0)[0] == []  # not taken, not reset
                for sock in socks[:taken]:
                    sock.close()
                for sock in waiting:  # taken as descriptors free up
                    assert h1_response(sock)[2] == STYLE
                    sock.close()
            finally:
                for sock in socks:
                    sock.close()
        lines = [x for x in served.stderr().splitlines() if "descriptors" in x]
        assert len(lines) == 1, lines  # once a minute at most, not per accept

    def test_a_file_that_cannot_be_opened_for_lack_of_descriptors_is_503(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """One descriptor to spare: the one client is accepted (and nobody
        after it), and its request for a file finds none left: 503 with
        Retry-After, not 404. A HEAD needs no descriptor: 200."""
        limit = self._baseline(docs, tmp_path) + 1
        with serving(docs, tmp_path, nofile=(limit, limit)) as served, socket.create_connection(
            (HOST, served.port), timeout=DEADLINE
        ) as sock:
            sock.sendall(b"GET /style.css HTTP/1.1\r\nHost: a\r\n\r\n")
            status, headers, _ = h1_response(sock)
            assert (status, headers["retry-after"]) == (503, "1")
            sock.sendall(b"HEAD /style.css HTTP/1.1\r\nHost: a\r\n\r\n")
            assert h1_response(sock, head=True)[0] == 200


class TestSmaller:
    def test_tls_http11_clients_closing_leave_stderr_empty(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """No 'returning true from eof_received() has no effect when using ssl'
        per TLS client that closes (7,228 lines for 7,608 handshakes before)."""
        pki = servers.PKI(tmp_path / "pki")
        with serving(docs, tmp_path, "--cert", str(pki.cert_path),
                     "--key", str(pki.key_path)) as served:  # fmt: skip
            context = ssl.create_default_context(cafile=str(pki.ca_path))
            context.set_alpn_protocols(["http/1.1"])
            for _ in range(20):
                with socket.create_connection((HOST, served.port), timeout=DEADLINE) as sock:
                    tls = context.wrap_socket(sock, server_hostname="localhost")
                    tls.sendall(b"GET /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    assert h1_response(tls)[2] == STYLE  # type: ignore[arg-type]
                    tls.unwrap()  # close_notify: EOF to the server
        assert served.stderr() == ""

    @pytest.mark.parametrize("when", ["stalled", "answered"])
    def test_one_byte_data_frames_end_in_enhance_your_calm(
        self, docs: Path, tmp_path: Path, when: str
    ) -> None:
        """A request that never ends, then 1-byte DATA frames, while its
        response waits for window or after it (the stream reset with
        NO_ERROR): a body nobody reads, each frame a glitch; the flood ends in
        ENHANCE_YOUR_CALM (it took 76-91% of a core, unbounded, before)."""
        path = "/big.bin" if when == "stalled" else "/100b.bin"
        with serving(docs, tmp_path) as served, bystander(served), RawH2(
            served.port, window=0
        ) as raw:
            raw.send(raw.factory.settings(ack=True) + raw.request(1, path, end_stream=False))
            if when == "answered":
                raw.send(raw.factory.window_update(1, 1000))
                assert raw.until(RstStreamFrame, 1).error_code == ErrorCodes.NO_ERROR
            raw.send(b"".join(raw.factory.data(1, b"x") for _ in range(20000)))
            goaway = raw.goaway()
            assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM

    def test_priority_flood_on_an_open_stream_ends_in_enhance_your_calm(
        self, docs: Path, tmp_path: Path
    ) -> None:
        with serving(docs, tmp_path) as served, bystander(served), RawH2(
            served.port, window=0
        ) as raw:
            raw.send(raw.request(1, "/big.bin") + raw.factory.priority(1, 0) * 20000)
            goaway = raw.goaway()
            assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM

    def test_window_update_flood_ends_in_enhance_your_calm(
        self, docs: Path, tmp_path: Path
    ) -> None:
        with serving(docs, tmp_path) as served, bystander(served), RawH2(served.port) as raw:
            raw.send(b"".join(raw.factory.window_update(0, 1) for _ in range(20000)))
            goaway = raw.goaway()
            assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM

    def test_big_files_are_compressed_off_the_event_loop(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """A request that makes the server compress 3 MB (tens of ms) does not
        hold up the one behind it on the same connection: the small file's
        answer overtakes it. Then the compressed body arrives, and is right."""
        with serving(docs, tmp_path) as served, RawH2(served.port) as raw:
            raw.send(raw.factory.settings(ack=True)
                     + raw.request(1, "/big0.txt", **{"accept-encoding": "gzip"})
                     + raw.request(3, "/100b.bin"))  # fmt: skip
            heads = {}
            while len(heads) < 2:
                frame = raw.read_frame()
                assert frame is not None
                if isinstance(frame, HeadersFrame):
                    heads[frame.stream_id] = dict(frame.decoded)
            assert list(heads) == [3, 1]
            assert heads[1][b"content-encoding"] == b"gzip"
            raw.send(raw.factory.window_update(0, 2**30) + raw.factory.window_update(1, 2**30))
            _, body = raw.response(1)
            assert gzip.decompress(body) == (docs / "big0.txt").read_bytes()

    def test_compression_floods_get_identity_bodies_when_the_worker_is_busy(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """Requests for twelve 3 MB text files (more than the cache of
        compressed bodies holds) in both codings: each is answered; past the
        jobs the worker may have waiting, as the identity body."""
        with serving(docs, tmp_path) as served, RawH2(served.port) as raw:
            raw.send(raw.factory.settings(ack=True))
            sid = 1
            for n in range(BIG_TEXTS):
                for coding in ("gzip", "br"):
                    raw.send(raw.request(sid, f"/big{n}.txt", **{"accept-encoding": coding}))
                    sid += 2
            codings = []
            while len(codings) < 2 * BIG_TEXTS:
                frame = raw.read_frame()
                assert frame is not None
                if isinstance(frame, HeadersFrame):
                    headers = dict(frame.decoded)
                    assert headers[b":status"] == b"200"
                    codings.append(headers.get(b"content-encoding", b"identity"))
            assert b"identity" in codings and {b"gzip", b"br"} & set(codings), codings
