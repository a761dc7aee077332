"""
``hyper demo``: hyper talking HTTP/2 to itself on loopback, fully offline.

``hyper serve`` (:class:`hyper.serve.ServerThread`) serves a small site from
a temporary directory on 127.0.0.1, and every front door of hyper's clients
talks to it: :class:`hyper.HTTP20Connection` (a pushed stylesheet, a
compressed text, a 304, a Range, a large file, a burst of requests from
several threads on one connection), :class:`hyper.HTTPConnection` (the h2c
upgrade), the async client, and the requests adapter when requests is
installed. It prints what happened and how fast, and exits non-zero if
anything came back wrong.

:class:`DemoServer` is the older, smaller threaded server (it echoes
uploads); the command line's tests still use it as their peer.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib
import os
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from hyper.engine import events as ev
from hyper.engine.config import EngineConfig, SettingCodes
from hyper.engine.engine import Engine
from hyper.engine.exceptions import HTTP20Error

_READ_SIZE = 65536
_INDEX = b"<!doctype html><title>hyper demo</title><link rel=stylesheet href=/style.css>hi\n"
_STYLE = b"body { font-family: sans-serif }\n"


Headers = list[tuple[bytes, bytes]]


def _route(method: bytes, path: bytes, body: bytes) -> tuple[int, Headers, bytes]:
    """The demo's resources: (status, headers, body) for a request."""
    if path == b"/":
        return 200, [(b"content-type", b"text/html")], _INDEX
    if path == b"/style.css":
        return 200, [(b"content-type", b"text/css")], _STYLE
    if path == b"/gzip":
        text = b"hyper decodes gzip on the fly. " * 200
        return 200, [(b"content-encoding", b"gzip")], gzip.compress(text)
    if path == b"/echo":
        return 200, [(b"content-type", b"application/octet-stream")], body
    if path.startswith(b"/bytes/") and path[7:].isdigit():
        size = min(int(path[7:]), 1 << 30)
        return 200, [(b"content-type", b"application/octet-stream")], b"x" * size
    return 404, [(b"content-type", b"text/plain")], b"not found\n"


class _Outgoing:
    """A response body waiting for flow-control window."""

    __slots__ = ("view", "offset")

    def __init__(self, body: bytes) -> None:
        self.view = memoryview(body)
        self.offset = 0


class DemoServer:
    """
    A threaded cleartext HTTP/2 server on 127.0.0.1 for demos and tests.

    Use as a context manager; ``port`` is the port it listens on.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port))
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        # Open connections and their threads, so stop() can end them; guarded
        # by _lock because the accept thread adds and each connection removes.
        self._lock = threading.Lock()
        self._conns: dict[socket.socket, threading.Thread] = {}

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        thread = threading.Thread(target=self._accept_loop, name="hyper-demo-accept", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop accepting, end every connection, and wait for the threads."""
        self._stopping.set()
        # close() alone does not wake a thread blocked in accept(): the
        # kernel keeps the socket open until that call returns. shutdown()
        # does on Linux; where it refuses a listening socket, connecting to
        # it does (the accept loop then sees _stopping).
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            conns = list(self._conns.items())
        for sock, _ in conns:
            # Wakes the thread's recv() (or fails its sendall()); the thread
            # then closes the socket itself, so no descriptor is closed
            # under a call still using it.
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer already went
        for _, thread in conns:
            thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # listener shut down by stop()
            with self._lock:
                if self._stopping.is_set():
                    sock.close()
                    return
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                thread = threading.Thread(
                    target=self._serve, args=(sock,), name="hyper-demo-conn", daemon=True
                )
                self._conns[sock] = thread
                thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._converse(sock)
        finally:
            with self._lock:
                self._conns.pop(sock, None)

    def _converse(self, sock: socket.socket) -> None:
        engine = Engine(EngineConfig(client_side=False, clock=time.monotonic))
        engine.initiate_connection()
        bodies: dict[int, list[bytes]] = {}
        requests: dict[int, tuple[bytes, bytes]] = {}
        pending: dict[int, _Outgoing] = {}
        next_push = 2
        with sock:
            try:
                sock.sendall(engine.data_to_send())
                while True:
                    data = sock.recv(_READ_SIZE)
                    if not data:
                        return
                    ready: deque[int] = deque()
                    for event in engine.receive_data(data):
                        if type(event) is ev.RequestReceived:
                            fields = dict(event.headers)
                            requests[event.stream_id] = (fields[b":method"], fields[b":path"])
                            bodies[event.stream_id] = []
                            if event.end_stream:
                                ready.append(event.stream_id)
                        elif type(event) is ev.DataReceived:
                            bodies[event.stream_id].append(event.data)
                            engine.acknowledge_received_data(event.stream_id, len(event.data))
                            if event.end_stream:
                                ready.append(event.stream_id)
                        elif type(event) is ev.StreamReset:
                            pending.pop(event.stream_id, None)
                            bodies.pop(event.stream_id, None)
                    for stream_id in ready:
                        method, path = requests.pop(stream_id)
                        body = b"".join(bodies.pop(stream_id))
                        if path == b"/" and engine.remote_settings[SettingCodes.ENABLE_PUSH]:
                            # Push the stylesheet the page is about to ask for.
                            engine.push_stream(stream_id, next_push, [
                                (b":method", b"GET"), (b":scheme", b"http"),
                                (b":authority", b"localhost"), (b":path", b"/style.css"),
                            ])  # fmt: skip
                            self._respond(engine, next_push, b"GET", b"/style.css", b"", pending)
                            next_push += 2
                        self._respond(engine, stream_id, method, path, body, pending)
                    self._flush(engine, pending)
                    sock.sendall(engine.data_to_send())
            except (OSError, HTTP20Error):
                return

    @staticmethod
    def _respond(
        engine: Engine,
        stream_id: int,
        method: bytes,
        path: bytes,
        body: bytes,
        pending: dict[int, _Outgoing],
    ) -> None:
        status, headers, payload = _route(method, path, body)
        head = [(b":status", str(status).encode()), (b"content-length", b"%d" % len(payload))]
        engine.send_headers(stream_id, head + headers, end_stream=method == b"HEAD")
        if method != b"HEAD":
            pending[stream_id] = _Outgoing(payload)

    @staticmethod
    def _flush(engine: Engine, pending: dict[int, _Outgoing]) -> None:
        for stream_id in list(pending):
            out = pending[stream_id]
            out.offset += engine.send_data(stream_id, out.view[out.offset :], end_stream=True)
            if out.offset == len(out.view):
                del pending[stream_id]


def _check(label: str, ok: bool, detail: str, out: TextIO) -> bool:
    out.write(f"  {'ok ' if ok else 'BAD'} {label:<34} {detail}\n")
    return ok


# What the demo serves: a page that names its stylesheet with rel=preload
# (so ``hyper serve --push-from-link`` pushes it), a compressible text, and
# a large binary file to stream.
_PAGE = b"<!doctype html><title>hyper demo</title><link rel=preload href=/style.css as=style>hi\n"
_TEXT = b"hyper decodes br and gzip on the fly. " * 2000
_BIG = 32 << 20


def _write_site(root: str) -> None:
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(_PAGE)
    with open(os.path.join(root, "style.css"), "wb") as f:
        f.write(_STYLE)
    with open(os.path.join(root, "text.txt"), "wb") as f:
        f.write(_TEXT)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        block = bytes(range(256)) * 4096
        for _ in range(_BIG // len(block)):
            f.write(block)


def _rate(count: int, seconds: float, unit: str) -> str:
    return f"{count / max(seconds, 1e-9):.0f} {unit}"


def _blocking(port: int, requests: int, threads: int, out: TextIO) -> bool:
    from hyper import HTTP20Connection

    good = True
    target = f"127.0.0.1:{port}"
    with HTTP20Connection(target, secure=False, enable_push=True, timeout=10) as conn:
        conn.request("GET", "/")
        resp = conn.getresponse()
        page = resp.read()
        pushes = list(resp.pushes)
        pushed = [push.path.decode() for push in pushes]
        style = pushes[0].getresponse().read() if pushes else b""
        good &= _check("GET / (push from Link)", resp.status == 200 and page == _PAGE
                       and pushed == ["/style.css"] and style == _STYLE,
                       f"{resp.status}, {len(page)} bytes, pushed {pushed}", out)  # fmt: skip

        conn.request("GET", "/text.txt")
        resp = conn.getresponse()
        coding = resp.headers.get(b"content-encoding", [b"identity"])[0].decode()
        text = resp.read()
        good &= _check("GET /text.txt (decoded)", text == _TEXT,
                       f"{len(text)} bytes from {coding}", out)  # fmt: skip

        conn.request("HEAD", "/")
        head = conn.getresponse()
        head.read()
        etag = head.headers.get(b"etag", [b""])[0].decode()
        conn.request("GET", "/", headers={"if-none-match": etag})
        status = conn.getresponse().status
        good &= _check("GET / (If-None-Match)", status == 304, f"{status}", out)

        conn.request("GET", "/big.bin", headers={"range": "bytes=100-199"})
        resp = conn.getresponse()
        part = resp.read()
        ranged = resp.status == 206 and part == bytes(range(100, 200))
        good &= _check("GET /big.bin (Range)", ranged, f"{resp.status}, {len(part)} bytes", out)

        start = time.perf_counter()
        conn.request("GET", "/big.bin")
        resp = conn.getresponse()
        got = 0
        for chunk in resp.read_chunked():
            got += len(chunk)
        elapsed = time.perf_counter() - start
        good &= _check(f"GET {_BIG >> 20} MiB", got == _BIG,
                       _rate(_BIG // 1_000_000, elapsed, "MB/s"), out)  # fmt: skip

        def fetch(_: int) -> bool:
            stream_id = conn.request("GET", "/style.css")
            return conn.getresponse(stream_id).read() == _STYLE

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(fetch, range(requests)))
        elapsed = time.perf_counter() - start
        rate = _rate(requests, elapsed, "requests/s on one connection")
        good &= _check(f"{requests} GETs from {threads} threads", all(results), rate, out)
    return good


def _negotiating(port: int, out: TextIO) -> bool:
    from hyper import HTTPConnection

    conn = HTTPConnection(f"127.0.0.1:{port}", secure=False, timeout=10)
    try:
        conn.request("GET", "/style.css")
        first = conn.get_response().read()
        conn.request("GET", "/text.txt")
        text = conn.get_response().read()
        version = conn.version.value
    finally:
        conn.close()
    return _check("HTTPConnection (h2c upgrade)", first == _STYLE and text == _TEXT,
                  f"2 GETs over {version}", out)  # fmt: skip


def _async(port: int, requests: int, out: TextIO) -> bool:
    from hyper.aio.connection import AsyncHTTP20Connection

    async def run() -> tuple[bool, float]:
        async with AsyncHTTP20Connection(f"127.0.0.1:{port}", timeout=10) as conn:
            start = time.perf_counter()

            async def fetch() -> bool:
                stream_id = await conn.request("GET", "/style.css")
                return await (await conn.get_response(stream_id)).read() == _STYLE

            results = await asyncio.gather(*(fetch() for _ in range(requests)))
            return all(results), time.perf_counter() - start

    ok, elapsed = asyncio.run(run())
    rate = _rate(requests, elapsed, "requests/s, one task each")
    return _check(f"{requests} async GETs", ok, rate, out)


def _adapter(port: int, out: TextIO) -> bool:
    try:
        import requests

        # Imported by name: the adapter is optional (it needs requests).
        adapter_class: Any = importlib.import_module("hyper.contrib").HTTP2Adapter
    except (ImportError, AttributeError) as exc:
        out.write(f"  --  requests adapter                 skipped ({exc})\n")
        return True
    with requests.Session() as session:
        session.mount("http://", adapter_class())
        start = time.perf_counter()
        results = [session.get(f"http://127.0.0.1:{port}/style.css") for _ in range(100)]
        elapsed = time.perf_counter() - start
    ok = all(r.status_code == 200 and r.content == _STYLE for r in results)
    return _check("requests + HTTP2Adapter", ok, _rate(100, elapsed, "requests/s"), out)


def run_demo(out: TextIO = sys.stdout, requests: int = 1000, threads: int = 8) -> int:
    """Run the demo; return a process exit status (0 when all went well)."""
    from hyper import __version__
    from hyper.serve import ServerThread

    with tempfile.TemporaryDirectory(prefix="hyper-demo-") as root:
        _write_site(root)
        with ServerThread(root, host="127.0.0.1", port=0, push_from_link=True) as server:
            out.write(
                f"hyper {__version__}: hyper serve at {server.url}, hyper's clients against it\n"
            )
            good = True
            parts: list[tuple[str, Callable[[], bool]]] = [
                ("HTTP20Connection", lambda: _blocking(server.port, requests, threads, out)),
                ("HTTPConnection", lambda: _negotiating(server.port, out)),
                ("async client", lambda: _async(server.port, requests, out)),
                ("requests adapter", lambda: _adapter(server.port, out)),
            ]
            for label, part in parts:
                try:
                    good &= part()
                except Exception as exc:  # a failing front door is reported, not raised
                    good &= _check(label, False, f"{type(exc).__name__}: {exc}", out)
    out.write("all good\n" if good else "something went wrong\n")
    return 0 if good else 1


__all__ = ["DemoServer", "run_demo"]
