"""
``hyper demo``: hyper talking HTTP/2 to itself on loopback, fully offline.

A small cleartext HTTP/2 server (prior knowledge, RFC 9113 3.3) built on the
same engine as the client runs in a thread on 127.0.0.1; the demo then uses
:class:`hyper.HTTP20Connection` against it: one GET, a gzip-encoded body, an
upload echoed back, a server push, and a burst of requests multiplexed over
the one connection from several threads. It prints what happened and how
fast, and exits non-zero if anything came back wrong.

The server is deliberately small: blocking sockets, one thread per
connection, a handful of routes. It is a demo and test peer, not a web server.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from hyper.http20 import events as ev
from hyper.http20.config import EngineConfig, SettingCodes
from hyper.http20.engine import Engine
from hyper.http20.exceptions import HTTP20Error

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


def run_demo(out: TextIO = sys.stdout, requests: int = 1000, threads: int = 8) -> int:
    """Run the demo; return a process exit status (0 when all went well)."""
    from hyper import HTTP20Connection, __version__

    with DemoServer() as server:
        target = f"127.0.0.1:{server.port}"
        out.write(f"hyper {__version__}: HTTP/2 (h2c, prior knowledge) to {target}\n")
        good = True
        with HTTP20Connection(target, secure=False, enable_push=True, timeout=10) as conn:
            conn.request("GET", "/")
            resp = conn.getresponse()
            page = resp.read()
            pushed = [push.path.decode() for push in resp.pushes]
            good &= _check("GET /", resp.status == 200 and page == _INDEX,
                           f"{resp.status}, {len(page)} bytes, pushed {pushed}", out)  # fmt: skip

            conn.request("GET", "/gzip")
            resp = conn.getresponse()
            text = resp.read()
            good &= _check("GET /gzip (decoded)", text.startswith(b"hyper decodes gzip"),
                           f"{len(text)} bytes from gzip", out)  # fmt: skip

            upload = bytes(range(256)) * 4096
            conn.request("POST", "/echo", body=upload)
            echoed = conn.getresponse().read()
            digest = hashlib.sha256(echoed).hexdigest()[:16]
            good &= _check("POST /echo (1 MiB)", echoed == upload, f"sha256 {digest}...", out)

            size = 64 << 20
            start = time.perf_counter()
            conn.request("GET", f"/bytes/{size}")
            resp = conn.getresponse()
            got = 0
            for chunk in resp.read_chunked():
                got += len(chunk)
            elapsed = time.perf_counter() - start
            good &= _check("GET 64 MiB", got == size,
                           f"{size / elapsed / 1e6:.0f} MB/s", out)  # fmt: skip

            def fetch(_: int) -> bool:
                stream_id = conn.request("GET", "/style.css")
                return conn.getresponse(stream_id).read() == _STYLE

            start = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                results = list(pool.map(fetch, range(requests)))
            elapsed = time.perf_counter() - start
            rate = f"{requests / elapsed:.0f} requests/s on one connection"
            good &= _check(f"{requests} GETs from {threads} threads", all(results), rate, out)
        out.write("all good\n" if good else "something went wrong\n")
        return 0 if good else 1


__all__ = ["DemoServer", "run_demo"]
