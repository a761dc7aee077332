"""
The one listener every in-process test server uses: a socket on 127.0.0.1,
port 0; one thread, started behind a ready event, that accepts one connection
per script in turn, optionally wraps it in TLS, and runs the script on it; and
a ``stop`` that wakes the thread, waits for it and re-raises what a script
raised (a failed assertion in a script fails the test).

``Listener(scripts)`` on its own hands each script a :class:`Conn` (a socket
with a buffered ``read_until``); the scripted HTTP/2 peer (:mod:`support.peer`)
and HTTP/1.1 peer (:mod:`support.h1peer`) subclass it and say how an accepted
socket becomes their connection object (:meth:`Listener.make_conn`).
:func:`in_thread` runs a stdlib ``socketserver`` server the same way, and
:func:`silent_listener` and :func:`refused_port` are the two ports that never
answer. Every socket operation has a timeout (:data:`TIMEOUT`); nothing sleeps.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from typing import Any, Callable

from support.timeouts import TIMEOUT

#: How long a stdlib server's loop (:func:`in_thread`) may take to notice shutdown().
SERVER_POLL = 0.05


class Conn:
    """One accepted connection as a plain script drives it."""

    def __init__(self, sock: socket.socket, index: int) -> None:
        self.sock = sock
        self.index = index
        sock.settimeout(TIMEOUT)
        self.buf = bytearray()

    def read_until(self, marker: bytes) -> bytes:
        """Everything up to and including ``marker`` (what follows stays buffered).

        Returns what arrived (without the marker) if the client closes first.
        """
        while True:
            end = self.buf.find(marker)
            if end != -1:
                data = bytes(self.buf[: end + len(marker)])
                del self.buf[: end + len(marker)]
                return data
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                data = bytes(self.buf)
                self.buf.clear()
                return data
            self.buf += chunk

    def read_until_closed(self) -> bytes:
        """Everything the client sends until it closes (a reset counts as a close)."""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                data = bytes(self.buf)
                self.buf.clear()
                return data
            self.buf += chunk

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Listener:
    """A listening scripted server; use as a context manager.

    ``scripts`` holds one script per connection, in accept order. ``accepted``
    counts accepted connections; ``finished[i]`` is set once script ``i`` has
    returned and its socket is closed.
    """

    #: The name of the serving thread.
    thread_name = "test-listener"
    #: Whether a failed TLS handshake is only recorded in ``tls_errors`` (and the
    #: next connection awaited) rather than failing the test.
    tolerate_tls_errors = False

    def __init__(
        self, scripts: list[Callable[[Any], None]], tls: ssl.SSLContext | None = None
    ) -> None:
        self.scripts = scripts
        self.tls = tls
        self.host = "127.0.0.1"
        self.port = 0
        self.errors: list[BaseException] = []
        #: TLS handshakes that failed (expected when a test provokes it).
        self.tls_errors: list[BaseException] = []
        self.conns: list[Any] = []
        self.accepted = 0
        self.finished = [threading.Event() for _ in self.scripts]
        self._ready = threading.Event()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def prepare(self, sock: socket.socket) -> None:
        """Adjust a freshly accepted socket (before TLS); nothing by default."""

    def make_conn(self, sock: socket.socket, index: int) -> Any:
        """The connection object a script drives (it has ``sock`` and ``close()``)."""
        return Conn(sock, index)

    def start(self) -> None:
        listener = socket.create_server((self.host, 0))
        listener.settimeout(TIMEOUT)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(TIMEOUT):
            raise AssertionError("the peer thread did not start")

    def _run(self) -> None:
        assert self._listener is not None
        self._ready.set()
        for index, script in enumerate(self.scripts):
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # stopped, or nobody came
            self.accepted += 1
            conn = None
            try:
                self.prepare(sock)
                if self.tls is not None:
                    sock.settimeout(TIMEOUT)
                    try:
                        sock = self.tls.wrap_socket(sock, server_side=True)
                    except (ssl.SSLError, OSError) as exc:
                        if not self.tolerate_tls_errors:
                            raise
                        self.tls_errors.append(exc)
                        continue
                conn = self.make_conn(sock, index)
                self.conns.append(conn)
                script(conn)
            except BaseException as exc:
                self.errors.append(exc)
            finally:
                if conn is not None:
                    conn.close()
                else:
                    sock.close()
                self.finished[index].set()

    def wait_finished(self, index: int = 0) -> None:
        """Wait until connection ``index``'s script has ended and its socket closed."""
        if not self.finished[index].wait(TIMEOUT):
            raise AssertionError(f"script {index} did not finish within {TIMEOUT} s")

    def stop(self) -> None:
        """Stop listening, wait for the scripts, re-raise what they raised."""
        if self._listener is not None:
            try:
                # Wakes the thread if it is still waiting in accept().
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        if self._thread is not None:
            self._thread.join(TIMEOUT)
            if self._thread.is_alive():
                for conn in self.conns:
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                self._thread.join(TIMEOUT)
                self.errors.append(AssertionError("the peer script did not finish"))
        if self.errors:
            raise self.errors[0]


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A listening socket that never accepts: TCP connects, TLS never answers.

    The kernel completes the handshake from the backlog, so a client gets as far as
    sending its ClientHello and then waits forever for the reply.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A port bound (so nobody else takes it) but not listening: connects are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextlib.contextmanager
def in_thread(server: socketserver.BaseServer) -> Iterator[None]:
    """Run a stdlib ``socketserver`` server (``http.server`` and the like) in a thread
    for the ``with`` block; shut it down and join the thread after."""
    thread = threading.Thread(
        target=server.serve_forever, args=(SERVER_POLL,), name="test-stdlib-server", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise AssertionError("the stdlib server thread did not stop")
