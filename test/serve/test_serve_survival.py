"""
``hyper serve`` against hostile clients (docs/security.rst; checklist
codes in each test's docstring): every attack gets its documented reaction
(GOAWAY code, closed socket, bounded memory, bounded time) while a
well-behaved client on its own connection keeps getting correct answers,
and no traceback ever reaches the server's stderr.

The server runs as a subprocess with short timeouts so that the slowloris
reactions are seen in about a second.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hpack import Encoder
from hyperframe.frame import GoAwayFrame, HeadersFrame, RstStreamFrame, SettingsFrame
from serve_support import (
    DEADLINE,
    HOST,
    STYLE,
    TEXT,
    Bystander,
    RawH2,
    Served,
    make_docroot,
    start_serve,
)
from support import servers

from hyper import HTTP20Connection
from hyper.http20.errors import ErrorCodes

MAX_CONNECTIONS = 60
HANDSHAKE = 1.0
IDLE = 2.0


def _rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_docroot(tmp_path_factory.mktemp("survive"))


@pytest.fixture(scope="module")
def hostile_target(docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_serve(
        docs, tmp_path_factory.mktemp("survive-run"),
        "--handshake-timeout", str(HANDSHAKE), "--idle-timeout", str(IDLE),
        "--max-connections", str(MAX_CONNECTIONS), "--concurrency", "20",
    )  # fmt: skip
    yield server
    status = server.stop()
    stderr = server.stderr()
    assert "Traceback" not in stderr, stderr
    assert status == 0, stderr


@pytest.fixture
def attack(hostile_target: Served) -> Iterator[Served]:
    """The target; a bystander is served all through the attack and after it."""
    with Bystander(hostile_target.port) as bystander:
        assert bystander.first.wait(DEADLINE)  # served before the attack starts
        yield hostile_target
    bystander.check()
    assert hostile_target.proc.poll() is None
    assert "Traceback" not in hostile_target.stderr()


class Reaction(int):
    """A GOAWAY code that shows the server's debug data when a test fails."""

    debug = b""

    def __repr__(self) -> str:
        return f"{ErrorCodes(int(self))!r} {self.debug!r}"


def _reaction(raw: RawH2) -> int | None:
    """The GOAWAY code the server ended with (None: closed without one)."""
    goaway = raw.goaway()
    if goaway is None:
        return None
    code = Reaction(goaway.error_code)
    code.debug = goaway.additional_data
    return code


class TestFloods:
    @pytest.mark.parametrize(
        "flood",
        ["ping", "settings", "priority", "window_update_0", "empty_data", "empty_headers"],
    )
    def test_control_and_empty_frame_floods_get_enhance_your_calm(
        self, attack: Served, flood: str
    ) -> None:
        """A2, A3, A5, A8, W1: 20,000 frames in one burst -> GOAWAY(ENHANCE_YOUR_CALM)
        (WINDOW_UPDATE(0) on stream 0: PROTOCOL_ERROR at the first)."""
        with RawH2(attack.port) as raw:
            f = raw.factory
            frames = {
                "ping": lambda i: f.ping(i.to_bytes(8, "big")),
                "settings": lambda i: f.settings({}),
                "priority": lambda i: f.priority(2 * i + 1, 0),
                "window_update_0": lambda i: f.window_update(0, 0),
                "empty_data": lambda i: f.data(1, b""),
                "empty_headers": lambda i: f.headers_block(2 * i + 1, b"", end_headers=True),
            }[flood]
            prefix = raw.request(1, "/big.bin", end_stream=False) if flood == "empty_data" else b""
            raw.send(prefix + b"".join(frames(i) for i in range(20000)))
            code = _reaction(raw)
        if flood == "window_update_0":
            # W1: the very first WINDOW_UPDATE(0) on stream 0 ends the connection.
            assert code == ErrorCodes.PROTOCOL_ERROR
        else:
            assert code == ErrorCodes.ENHANCE_YOUR_CALM

    def test_rapid_reset_gets_goaway(self, attack: Served) -> None:
        """A9 (CVE-2023-44487): 5,000 HEADERS+RST_STREAM pairs -> ENHANCE_YOUR_CALM."""
        with RawH2(attack.port) as raw:
            burst = b"".join(
                raw.request(2 * i + 1, "/text.txt") + raw.factory.rst_stream(2 * i + 1, 8)
                for i in range(5000)
            )
            raw.send(burst)
            assert _reaction(raw) == ErrorCodes.ENHANCE_YOUR_CALM

    def test_made_you_reset_gets_goaway(self, attack: Served) -> None:
        """A12 (CVE-2025-8671): requests each followed by a WINDOW_UPDATE(0) on the
        stream (a stream error we must raise) -> ENHANCE_YOUR_CALM before long."""
        with RawH2(attack.port) as raw:
            burst = b"".join(
                raw.request(2 * i + 1, "/big.bin") + raw.factory.window_update(2 * i + 1, 0)
                for i in range(5000)
            )
            raw.send(burst)
            assert _reaction(raw) == ErrorCodes.ENHANCE_YOUR_CALM

    def test_continuation_without_end_is_cut_off_with_bounded_memory(self, attack: Served) -> None:
        """A10 (CVE-2024-27316): HEADERS and CONTINUATION frames that never end the
        block -> a connection error after the cap, server memory flat."""
        before = _rss(attack.proc.pid)
        with RawH2(attack.port) as raw:
            block = raw.factory.encode([(":method", "GET"), (":path", "/"), (":scheme", "http")])
            raw.send(raw.factory.headers_block(1, block, end_headers=False))
            junk = b"x" * 16000
            for _ in range(200):
                raw.send(raw.factory.continuation(1, junk, end_headers=False))
                if raw.closed:
                    break
            code = _reaction(raw)
        assert code in (ErrorCodes.ENHANCE_YOUR_CALM, ErrorCodes.PROTOCOL_ERROR), code
        assert _rss(attack.proc.pid) - before < 20 << 20

    def test_hpack_bomb_is_a_connection_error_with_bounded_memory(self, attack: Served) -> None:
        """A11 (CVE-2016-6581): a 4 KiB entry referenced 4,000 times (16 MB decoded
        from ~4 KiB) -> ENHANCE_YOUR_CALM at the header list cap, memory flat."""
        before = _rss(attack.proc.pid)
        with RawH2(attack.port) as raw:
            encoder = Encoder()
            first = encoder.encode([("x-bomb", "b" * 4000)])
            again = encoder.encode([("x-bomb", "b" * 4000)])  # one index byte or two
            block = first + again * 4000
            pseudo = encoder.encode(
                [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "a")]
            )
            raw.send(raw.factory.headers_block(1, pseudo + block, end_stream=True))
            code = _reaction(raw)
        assert code in (ErrorCodes.ENHANCE_YOUR_CALM, ErrorCodes.FRAME_SIZE_ERROR), code
        assert _rss(attack.proc.pid) - before < 20 << 20

    def test_huge_header_list_is_refused(self, attack: Served) -> None:
        """A11/L5: a 200 KB literal header over CONTINUATION frames -> ENHANCE_YOUR_CALM."""
        # Encoded before connecting: pure-Python HPACK takes seconds over 200 KB,
        # longer than the idle timeout of a connection that sent no request.
        block = Encoder().encode(
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("x-big", "v" * 200000)]
        )
        with RawH2(attack.port) as raw:
            pieces = [block[i : i + 16384] for i in range(0, len(block), 16384)]
            data = raw.factory.headers_block(1, pieces[0], end_stream=True, end_headers=False)
            for i, piece in enumerate(pieces[1:], 2):
                data += raw.factory.continuation(1, piece, end_headers=i == len(pieces))
            raw.send(data)
            code = _reaction(raw)
        assert code in (ErrorCodes.ENHANCE_YOUR_CALM, ErrorCodes.PROTOCOL_ERROR), code


class TestResourceHolding:
    def test_zero_window_readers_hold_no_memory(self, attack: Served) -> None:
        """A1/A7: clients granting no window, or not reading TCP at all, for 20
        streams of 8 MiB each: the server's memory stays flat (it waits)."""
        before = _rss(attack.proc.pid)
        zero = RawH2(attack.port, window=0)
        deaf = RawH2(attack.port, window=2**31 - 1)
        try:
            deaf.send(deaf.factory.window_update(0, 2**31 - 1 - 65535))
            for raw in (zero, deaf):
                raw.send(b"".join(raw.request(2 * i + 1, "/big.bin") for i in range(20)))
            zero.until(HeadersFrame)  # headers go out; no body can
            # While both hold their streams, a fresh client is served too.
            with HTTP20Connection(f"{HOST}:{attack.port}", secure=False, timeout=DEADLINE) as c:
                c.request("GET", "/text.txt")
                assert c.getresponse().read() == TEXT
            assert _rss(attack.proc.pid) - before < 40 << 20  # 160 MiB were asked for
        finally:
            zero.close()
            deaf.close()

    def test_silent_connections_are_closed_after_the_handshake_timeout(
        self, attack: Served
    ) -> None:
        """A15 slowloris: 40 connections that never send a byte are closed within
        the handshake timeout (1 s here), plus a margin."""
        socks = [
            socket.create_connection((HOST, attack.port), timeout=DEADLINE) for _ in range(40)
        ]
        started = time.monotonic()
        try:
            for sock in socks:
                assert sock.recv(1) == b""  # closed by the server
        finally:
            for sock in socks:
                sock.close()
        assert time.monotonic() - started < HANDSHAKE + DEADLINE / 2

    @pytest.mark.parametrize("sent", ["preface", "partial_preface", "http1_head"])
    def test_half_open_handshakes_are_closed(self, attack: Served, sent: str) -> None:
        """A15: a preface without SETTINGS (SETTINGS_TIMEOUT), half a preface, or an
        HTTP/1.1 head dribbled byte by byte: closed after the handshake timeout."""
        with RawH2(attack.port, handshake=False) as raw:
            if sent == "preface":
                raw.send(raw.factory.preface())
                assert _reaction(raw) in (ErrorCodes.SETTINGS_TIMEOUT, None)
            elif sent == "partial_preface":
                raw.send(raw.factory.preface()[:10])
                assert raw.read_frame() is None
            else:
                raw.send(b"GET / HTTP/1.1\r\n")
                deadline = time.monotonic() + DEADLINE
                closed = False
                while not closed and time.monotonic() < deadline:
                    raw.send(b"X")
                    raw.sock.settimeout(0.2)
                    try:
                        closed = raw.sock.recv(4096) == b"" or True
                    except socket.timeout:
                        continue
                    except OSError:
                        closed = True
                assert closed

    def test_idle_connection_gets_goaway_no_error(self, attack: Served) -> None:
        """A15: one request, then idle past the idle timeout -> GOAWAY(NO_ERROR)."""
        with RawH2(attack.port) as raw:
            raw.send(raw.factory.settings(ack=True) + raw.request(1, "/style.css"))
            assert raw.response(1)[1] == STYLE
            started = time.monotonic()
            goaway = raw.until(GoAwayFrame)
            assert goaway.error_code == ErrorCodes.NO_ERROR
            assert time.monotonic() - started >= IDLE * 0.9

    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_a_body_that_never_comes_holds_nothing(self, attack: Served, method: str) -> None:
        """A15: HEADERS without END_STREAM (and a body that never follows, or comes
        one byte at a time): answered at once, then RST_STREAM(NO_ERROR)."""
        with RawH2(attack.port) as raw:
            headers = [(":method", method), (":scheme", "http"), (":authority", "a"),
                       (":path", "/style.css")]  # fmt: skip
            raw.send(raw.factory.headers(1, headers, end_stream=False) + raw.factory.data(1, b"x"))
            status, _ = raw.response(1) if method == "GET" else (None, None)
            if method == "POST":
                head = raw.until(HeadersFrame, 1)
                assert dict(head.decoded)[b":status"] == b"405"
            reset = raw.until(RstStreamFrame, 1)
            assert reset.error_code == ErrorCodes.NO_ERROR
            del status

    def test_http11_body_dribbled_is_answered_and_closed(self, attack: Served) -> None:
        """A15: an HTTP/1.1 POST announcing 1 MB and sending it a byte at a time: 405
        at once and the connection closed, nothing waits for the body."""
        with socket.create_connection((HOST, attack.port), timeout=DEADLINE) as sock:
            sock.sendall(
                b"POST /style.css HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nx"
            )
            answer = b""
            while True:
                try:
                    sock.sendall(b"x")
                    chunk = sock.recv(65536)
                except (BrokenPipeError, ConnectionResetError):
                    break
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 405 ")
        assert b"connection: close" in answer.lower()


class TestGarbage:
    @pytest.mark.parametrize(
        "data",
        [
            os.urandom(4096),
            b"\x16\x03\x01\x02\x00" + os.urandom(500),  # a TLS ClientHello to a cleartext port
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
            b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
        ],
    )
    def test_garbage_instead_of_a_preface_is_closed(self, attack: Served, data: bytes) -> None:
        """P1: not the preface: read as HTTP/1.1, answered 400/431 or closed."""
        with RawH2(attack.port, handshake=False) as raw:
            raw.send(data)
            raw.sock.settimeout(DEADLINE)
            answer = b""
            while True:
                try:
                    chunk = raw.sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                answer += chunk
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100]

    @pytest.mark.parametrize("kind", ["random", "truncated", "oversized", "unknown_then_bad"])
    def test_garbage_after_the_preface(self, attack: Served, kind: str) -> None:
        """L1/L2/P2: bytes after the preface that are not frames, a frame cut short,
        a frame larger than MAX_FRAME_SIZE: GOAWAY with the code, or a close."""
        with RawH2(attack.port, handshake=False) as raw:
            f = raw.factory
            if kind == "random":
                raw.send(f.preface() + b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + os.urandom(4000))
                expected: tuple[int | None, ...] = (ErrorCodes.PROTOCOL_ERROR,
                                                    ErrorCodes.FRAME_SIZE_ERROR)  # fmt: skip
            elif kind == "truncated":
                raw.send(f.preface() + f.settings({}) + f.raw_frame(0, 0, 1, b"x" * 100)[:50])
                raw.sock.shutdown(socket.SHUT_WR)
                expected = (None, ErrorCodes.NO_ERROR, ErrorCodes.PROTOCOL_ERROR)
            elif kind == "oversized":
                raw.send(f.preface() + f.settings({}) + b"\xff\xff\xff\x00\x00\x00\x00\x00\x01")
                expected = (ErrorCodes.FRAME_SIZE_ERROR,)
            else:
                raw.send(f.preface() + f.settings({}) + f.raw_frame(0x16, 0, 0, b"ignored")
                         + f.raw_frame(0x4, 0, 1, b""))  # fmt: skip
                expected = (ErrorCodes.PROTOCOL_ERROR,)
            assert _reaction(raw) in expected

    def test_http11_to_an_h2_only_tls_port(self, docs: Path, tmp_path: Path) -> None:
        """An HTTP/1.1 request on a TLS connection that chose h2 by ALPN: GOAWAY, close."""
        pki = servers.PKI(tmp_path / "pki")
        served = start_serve(docs, tmp_path, "--cert", str(pki.cert_path),
                             "--key", str(pki.key_path))  # fmt: skip
        try:
            context = ssl.create_default_context(cafile=str(pki.ca_path))
            context.set_alpn_protocols(["h2"])
            with socket.create_connection((HOST, served.port), timeout=DEADLINE) as sock, \
                    context.wrap_socket(sock, server_hostname="localhost") as tls:  # fmt: skip
                assert tls.selected_alpn_protocol() == "h2"
                tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                data = b""
                while True:
                    try:
                        chunk = tls.recv(65536)
                    except (ssl.SSLError, ConnectionResetError):
                        break
                    if not chunk:
                        break
                    data += chunk
            frames = [f for f in _frames(data) if isinstance(f, GoAwayFrame)]
            assert frames and frames[-1].error_code == ErrorCodes.PROTOCOL_ERROR
        finally:
            assert served.stop() == 0
            assert "Traceback" not in served.stderr()


def _frames(data: bytes) -> list[object]:
    from hyperframe.frame import Frame

    frames = []
    view = memoryview(data)
    while len(view) >= 9:
        frame, length = Frame.parse_frame_header(view[:9])
        if len(view) < 9 + length:
            break
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    return frames


def test_settings_frame_constants_match() -> None:
    """(RawH2 names settings by hyperframe's constants.)"""
    assert SettingsFrame.INITIAL_WINDOW_SIZE == 4


class TestTLSGarbage:
    def test_non_tls_bytes_and_silent_tls_clients_are_closed_quietly(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """Cleartext HTTP/1.1, random bytes, a broken ClientHello to the TLS port, and a
        client that never starts the handshake (closed after the handshake timeout):
        each a closed socket, nothing on stderr, and TLS clients still served."""
        pki = servers.PKI(tmp_path / "pki")
        served = start_serve(docs, tmp_path, "--cert", str(pki.cert_path),
                             "--key", str(pki.key_path),
                             "--handshake-timeout", str(HANDSHAKE))  # fmt: skip
        try:
            for data in (b"GET / HTTP/1.1\r\n\r\n", os.urandom(3000),
                         b"\x16\x03\x01\x00\x05hello", b""):  # fmt: skip
                with socket.create_connection((HOST, served.port), timeout=DEADLINE) as sock:
                    if data:
                        sock.sendall(data)
                    assert sock.recv(100) == b""
            context = ssl.create_default_context(cafile=str(pki.ca_path))
            with HTTP20Connection(f"localhost:{served.port}", secure=True,
                                  ssl_context=context, timeout=DEADLINE) as conn:  # fmt: skip
                conn.request("GET", "/text.txt")
                assert conn.getresponse().read() == TEXT
        finally:
            assert served.stop() == 0
        assert served.stderr() == ""
