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
from typing import Callable

from support.listener import Listener
from support.timeouts import TIMEOUT


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


class H1Peer(Listener):
    """A listening scripted HTTP/1.1 server; use as a context manager.

    ``scripts``: one script for every connection, or a list with one per
    connection in accept order. ``accepted`` counts accepted connections.
    """

    thread_name = "test-h1peer"

    def __init__(
        self,
        scripts: Script | list[Script],
        *,
        connections: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(scripts, list):
            scripts = [scripts] * (connections or 1)
        super().__init__(scripts, tls)
        self.conns: list[H1Conn] = []

    @property
    def requests(self) -> list[H1Request]:
        """Every request received, on every connection, in order."""
        return [r for conn in self.conns for r in conn.requests]

    def __enter__(self) -> H1Peer:
        self.start()
        return self

    def make_conn(self, sock: socket.socket, index: int) -> H1Conn:
        return H1Conn(sock, index)
