"""
:class:`DemoServer`: a small threaded cleartext HTTP/2 server on 127.0.0.1,
written on hyper's engine, that the command line's tests (``test/cli``) run
against: it echoes uploads (``/echo``), serves a gzip body (``/gzip``), any
number of bytes (``/bytes/N``), a 404, and pushes ``/style.css`` with ``/``.

It ships with the tests, not the package: ``hyper demo`` runs
:mod:`hyper.serve` instead.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections import deque

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
