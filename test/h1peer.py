"""
A scripted HTTP/1.1 server on 127.0.0.1 for socket-level tests of
:class:`hyper.HTTP11Connection`: what no real server does on purpose
(garbage, truncated bodies, closing between requests, stalls) plus plain
serving.

``H1Peer(script)`` listens on port 0 and, in one thread started behind a
ready event, accepts up to ``connections`` connections in turn and runs
``script(conn)`` on each (:class:`H1Conn`). A script reads a whole request
head (looping on ``recv`` until the blank line: one recv is not one head),
optionally its body, then writes scripted bytes. Exceptions raised by a
script are re-raised by :meth:`H1Peer.stop`. Every socket operation has a
timeout (:data:`TIMEOUT`); nothing sleeps.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Callable

#: Seconds any one peer socket operation (or join) may take.
TIMEOUT = 10.0


class H1Request:
    """A request as the peer received it."""

    def __init__(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self.method, self.target, self.version = lines[0].split(b" ", 2)
        self.raw_headers = [tuple(line.split(b":", 1)) for line in lines[1:]]
        #: (lower-cased name, stripped value) pairs, in order.
        self.headers = [(n.strip().lower(), v.strip()) for n, v in self.raw_headers]
        self.head = head
        self.body = b""
        self.chunk_sizes: list[int] = []
        self.trailers: list[tuple[bytes, bytes]] = []

    def header(self, name: bytes) -> bytes | None:
        values = [v for n, v in self.headers if n == name]
        return b", ".join(values) if values else None

    def names(self) -> list[bytes]:
        return [n for n, _ in self.headers]

    def __repr__(self) -> str:
        return f"<H1Request {self.method!r} {self.target!r}>"


class H1Conn:
    """One accepted connection, as a script drives it."""

    def __init__(self, sock: socket.socket, index: int) -> None:
        self.sock = sock
        self.index = index
        sock.settimeout(TIMEOUT)
        self.buf = bytearray()
        #: Every request read on this connection.
        self.requests: list[H1Request] = []

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(262144)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            return False
        self.buf += data
        return True

    def _take_line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end != -1:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return line
            if not self._fill():
                raise AssertionError("EOF inside a line")

    def _take(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not self._fill():
                raise AssertionError(f"EOF with {size - len(self.buf)} body bytes to come")
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data

    def read_head(self) -> H1Request | None:
        """The next request head (None at EOF before any byte of it)."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end != -1:
                head = bytes(self.buf[:end])
                del self.buf[: end + 4]
                request = H1Request(head)
                self.requests.append(request)
                return request
            if not self._fill():
                if self.buf:
                    raise AssertionError(f"EOF inside a request head: {bytes(self.buf)!r}")
                return None

    def read_body(self, request: H1Request) -> bytes:
        """Read the request's body as its headers frame it."""
        if request.header(b"transfer-encoding") == b"chunked":
            parts = []
            while True:
                size = int(self._take_line().split(b";")[0], 16)
                if size == 0:
                    break
                request.chunk_sizes.append(size)
                parts.append(self._take(size))
                if self._take_line() != b"":
                    raise AssertionError("chunk not followed by CRLF")
            while True:
                line = self._take_line()
                if not line:
                    break
                name, _, value = line.partition(b":")
                request.trailers.append((name.strip(), value.strip()))
            request.body = b"".join(parts)
        else:
            request.body = self._take(int(request.header(b"content-length") or 0))
        return request.body

    def read_request(self) -> H1Request | None:
        """The next whole request (head and body); None at EOF."""
        request = self.read_head()
        if request is not None:
            self.read_body(request)
        return request

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until_closed(self) -> bytes:
        """Everything the client sends until it closes (or resets)."""
        while self._fill():
            pass
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


Script = Callable[[H1Conn], None]


def replying(*responses: bytes, then_close: bool = False) -> Script:
    """Answer one whole request with each of ``responses`` in turn, then
    wait for the client to close (or close first, with ``then_close``)."""

    def script(conn: H1Conn) -> None:
        for response in responses:
            if conn.read_request() is None:
                raise AssertionError(f"the client closed after {len(conn.requests)} requests")
            conn.send(response)
        if not then_close:
            conn.read_until_closed()

    return script


def ok(body: bytes = b"", *headers: bytes, status: bytes = b"200 OK") -> bytes:
    """A response with a Content-Length body."""
    lines = [b"HTTP/1.1 " + status, b"Content-Length: %d" % len(body), *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(*chunks: bytes, trailers: bytes = b"", headers: tuple[bytes, ...] = ()) -> bytes:
    """A 200 response with a chunked body (and optional trailer lines)."""
    lines = [b"HTTP/1.1 200 OK", b"Transfer-Encoding: chunked", *headers]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + b"0\r\n" + trailers + b"\r\n"


class H1Peer:
    """A listening scripted HTTP/1.1 server; use as a context manager.

    ``scripts``: one script for every connection, or a list with one per
    connection in accept order. ``accepted`` counts accepted connections.
    """

    def __init__(
        self,
        scripts: Script | list[Script],
        *,
        connections: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if isinstance(scripts, list):
            self.scripts = scripts
        else:
            self.scripts = [scripts] * (connections or 1)
        self.tls = tls
        self.host = "127.0.0.1"
        self.port = 0
        self.errors: list[BaseException] = []
        self.conns: list[H1Conn] = []
        self.accepted = 0
        #: Set once a script has returned and its socket is closed (per index).
        self.finished = [threading.Event() for _ in self.scripts]
        self._ready = threading.Event()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def requests(self) -> list[H1Request]:
        """Every request received, on every connection, in order."""
        return [r for conn in self.conns for r in conn.requests]

    def __enter__(self) -> H1Peer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        listener = socket.create_server((self.host, 0))
        listener.settimeout(TIMEOUT)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="test-h1peer", daemon=True)
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
            conn: H1Conn | None = None
            try:
                if self.tls is not None:
                    sock.settimeout(TIMEOUT)
                    sock = self.tls.wrap_socket(sock, server_side=True)
                conn = H1Conn(sock, index)
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
