"""
Support for the ``hyper serve`` tests: a served directory, ``hyper serve``
run as a subprocess on port 0 (its URL read from the start-up line), and a
raw HTTP/2 client on a blocking socket for what no real client does on
purpose. Every wait has a deadline (``DEADLINE``); nothing sleeps to
synchronise.
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hpack import Decoder
from hyperframe.frame import (
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
)
from support.frames import FrameFactory

from hyper import HTTP20Connection

# The most a test waits for the server's next frame. Generous: a failure only
# comes sooner for less, and PyPy's server, its JIT still warming up, took
# over 20 s to get through the memory tests' floods on a loaded machine.
DEADLINE = 45.0
HOST = "127.0.0.1"
INDEX = b"<!doctype html><link rel=preload href=/style.css as=style><p>hello</p>\n"
STYLE = b"body { font-family: sans-serif }\n" * 40
TEXT = b"".join(b"line %d of a compressible text file\n" % i for i in range(3000))
BIG_SIZE = 8 << 20


def make_docroot(root: Path) -> Path:
    """The files every serve test expects, and a symlink pointing out of it."""
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "index.html").write_bytes(INDEX)
    (docs / "style.css").write_bytes(STYLE)
    (docs / "text.txt").write_bytes(TEXT)
    (docs / "sub" / "a b.txt").write_bytes(b"spaced\n")
    (docs / "sub" / "caf\u00e9.txt").write_bytes(b"unicode\n")
    (docs / "empty.bin").write_bytes(b"")
    with open(docs / "big.bin", "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(BIG_SIZE >> 20):
            f.write(bytes([i]) + block[1:])
    secret = root / "secret.txt"
    secret.write_bytes(b"outside the served directory\n")
    (docs / "escape.txt").symlink_to(secret)
    (docs / "escape-dir").symlink_to(root)
    return docs


def big_bytes(docs: Path) -> bytes:
    return (docs / "big.bin").read_bytes()


T = TypeVar("T")


def rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


def open_fds(pid: int) -> int:
    """How many file descriptors ``pid`` has open (Linux)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def open_sockets(pid: int) -> int:
    """How many sockets ``pid`` has open (Linux): its listening and internal
    ones plus its connections, not the files it happens to be reading."""
    fds = f"/proc/{pid}/fd"
    count = 0
    for fd in os.listdir(fds):
        with contextlib.suppress(OSError):  # closed meanwhile
            count += os.readlink(f"{fds}/{fd}").startswith("socket:")
    return count


def wait_until(what: str, check: Callable[[], T], deadline: float = DEADLINE) -> T:
    """Poll ``check()`` until it returns something true; fail after ``deadline``
    seconds, naming ``what``. (Polling a condition, not sleeping to synchronise.)"""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline} s: {what}")
        time.sleep(0.02)


def settled_rss(pid: int, deadline: float = DEADLINE) -> int:
    """``pid``'s RSS once it stops moving (three samples 0.1 s apart within
    256 KiB of each other), within ``deadline``."""
    samples: list[int] = []

    def steady() -> bool:
        samples.append(rss(pid))
        recent = samples[-3:]
        return len(recent) == 3 and max(recent) - min(recent) < 256 << 10

    end = time.monotonic() + deadline
    while not steady():
        if time.monotonic() > end:
            raise AssertionError(f"RSS never settled: {samples[-5:]}")
        time.sleep(0.1)
    return samples[-1]


class Served:
    """A running ``hyper serve``: ``url``, ``port``, and its stderr when stopped."""

    def __init__(self, proc: subprocess.Popen[bytes], line: str, stderr_path: Path) -> None:
        self.proc = proc
        self.line = line
        self.url = line.rsplit(" ", 1)[1]
        self.port = int(self.url.rsplit(":", 1)[1].rstrip("/"))
        self.stderr_path = stderr_path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig: int | None = signal.SIGTERM) -> int:
        """Signal the server (unless ``sig`` is None), wait for it to exit, return its status."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(DEADLINE)
            raise AssertionError("hyper serve did not exit after the signal") from None


def start_serve(
    docs: Path, workdir: Path, *args: str, nofile: tuple[int, int] | None = None
) -> Served:
    """
    Run ``python -m hyper serve DOCS --port 0 ARGS`` and wait for its start-up
    line; ``nofile``: its (soft, hard) limit on open files. One process
    (``--workers 1``) unless ``ARGS`` say otherwise: the tests that count a
    server's descriptors and memory count them in the process they start.
    """
    if not any(arg.startswith("--workers") for arg in args):
        args = ("--workers", "1", *args)
    stderr_path = workdir / f"serve-stderr-{time.monotonic_ns()}.txt"

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hyper", "serve", str(docs), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            preexec_fn=limit if nofile is not None else None,
        )
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + DEADLINE
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not selector.select(left):
            proc.kill()
            proc.wait(DEADLINE)
            raise AssertionError(f"no start-up line: {stderr_path.read_text()}")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            proc.wait(DEADLINE)
            raise AssertionError(f"hyper serve exited: {stderr_path.read_text()}")
        line += chunk
    selector.close()
    served = Served(proc, line.decode().strip(), stderr_path)
    STARTED.append(served)
    return served


#: Every server :func:`start_serve` started, so that one a failing test left
#: running is killed (:func:`kill_left_running`) instead of outliving the run.
STARTED: list[Served] = []


def kill_left_running(since: int) -> None:
    """Kill the servers started after the first ``since`` of :data:`STARTED`
    that still run (a test that failed before it stopped them), and forget
    them. A worker of ``--workers`` exits when its supervisor is gone."""
    left = STARTED[since:]
    del STARTED[since:]
    for served in left:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait(DEADLINE)


class RawH2:
    """
    A raw HTTP/2 client on a blocking socket: send any bytes, read whole
    frames (one ``recv`` is not one frame) with a deadline.
    """

    def __init__(self, port: int, *, handshake: bool = True, window: int | None = None) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=DEADLINE)
        self.factory = FrameFactory()
        self.decoder = Decoder()
        self.buffer = b""
        self.closed = False
        if handshake:
            settings: dict[int, int] = {}
            if window is not None:
                settings[SettingsFrame.INITIAL_WINDOW_SIZE] = window
            self.send(self.factory.preface() + self.factory.settings(settings))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawH2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def request(self, stream_id: int, path: str, end_stream: bool = True, **extra: str) -> bytes:
        headers = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"),
                   (":path", path), *extra.items()]  # fmt: skip
        return self.factory.headers(stream_id, headers, end_stream=end_stream)

    def read_frame(self, deadline: float | None = None) -> Frame | None:
        """The next frame; None once the server closed the connection."""
        end = time.monotonic() + (DEADLINE if deadline is None else deadline)
        while True:
            if len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) >= 9 + length:
                    frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
                    self.buffer = self.buffer[9 + length :]
                    if isinstance(frame, (HeadersFrame, PushPromiseFrame)):
                        frame.decoded = self.decoder.decode(frame.data, raw=True)
                    return frame
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no frame from the server within the deadline")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            except socket.timeout:
                continue
            if not chunk:
                self.closed = True
                return None
            self.buffer += chunk

    def until(self, kind: type, stream_id: int | None = None) -> Any:
        """Read until a frame of ``kind`` (on ``stream_id``); fail if the connection closes."""
        while True:
            frame = self.read_frame()
            if frame is None:
                raise AssertionError(f"connection closed before a {kind.__name__}")
            if isinstance(frame, kind) and (stream_id is None or frame.stream_id == stream_id):
                return frame

    def goaway(self) -> GoAwayFrame | None:
        """Read until GOAWAY (returned) or close (None): what the server ended with."""
        goaway = None
        while True:
            try:
                frame = self.read_frame()
            except (ConnectionResetError, OSError):
                return goaway
            if frame is None:
                return goaway
            if isinstance(frame, GoAwayFrame):
                goaway = frame
                if frame.error_code != 0:
                    return goaway

    def response(self, stream_id: int) -> tuple[dict[bytes, bytes], bytes]:
        """The headers and whole body of ``stream_id``, granting window as it goes."""
        headers: dict[bytes, bytes] = {}
        body = bytearray()
        while True:
            frame = self.read_frame()
            if frame is None:
                raise AssertionError("connection closed mid-response")
            if frame.stream_id != stream_id:
                continue
            if isinstance(frame, HeadersFrame):
                headers.update(dict(frame.decoded))
            elif isinstance(frame, DataFrame):
                body += frame.data
                if frame.flow_controlled_length:
                    self.send(self.factory.window_update(0, frame.flow_controlled_length))
                    self.send(self.factory.window_update(stream_id, frame.flow_controlled_length))
            elif isinstance(frame, RstStreamFrame):
                raise AssertionError(f"stream {stream_id} reset: {frame.error_code}")
            if "END_STREAM" in frame.flags:
                return headers, bytes(body)


class Bystander:
    """
    A well-behaved client: a thread that keeps asking for a file on its own
    connection while the attack runs (so it is never idle); every answer
    must be right.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers = 0
        self.failures: list[BaseException] = []
        self._stop = threading.Event()
        self.first = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bystander", daemon=True)

    def _run(self) -> None:
        try:
            with HTTP20Connection(f"{HOST}:{self.port}", secure=False, timeout=DEADLINE) as conn:
                while not self._stop.is_set():
                    conn.request("GET", "/style.css")
                    body = conn.getresponse().read()
                    if body != STYLE:
                        raise AssertionError(f"wrong body: {body[:40]!r}")
                    self.answers += 1
                    self.first.set()
        except BaseException as exc:
            self.failures.append(exc)
            self.first.set()

    def __enter__(self) -> Bystander:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(DEADLINE)

    def check(self) -> None:
        """Right answers all along, and on a fresh connection now."""
        assert not self.failures, self.failures
        assert self.answers > 0
        with HTTP20Connection(f"{HOST}:{self.port}", secure=False, timeout=DEADLINE) as fresh:
            fresh.request("GET", "/text.txt")
            assert fresh.getresponse().read() == TEXT
