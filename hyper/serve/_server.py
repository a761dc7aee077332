"""
:class:`Server`: the listening side of ``hyper serve``. Each connection is
counted from accept (:mod:`hyper.serve._listen`), waits for its first bytes
without a transport (a silent client costs a socket and a timer, not a TLS
buffer), starts TLS if the server has a certificate, and then a small
dispatcher picks the protocol and hands the transport over: over TLS by
ALPN (``h2``, else HTTP/1.1); in cleartext by the first bytes (the HTTP/2
preface means prior knowledge, anything else is HTTP/1.1, which may still
upgrade to h2c).

From accept to its first request, a client has ``limits.handshake_timeout``
seconds for each step (first bytes and TLS handshake; then the preface or a
request head). The server closes every connection gracefully on
:meth:`Server.close`: HTTP/2 connections send GOAWAY and finish their open
streams, HTTP/1.1 ones finish the response in progress, all within
``limits.shutdown_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from hyper.aio import ServerLimits
from hyper.serve._app import ServedH2, serve_connection
from hyper.serve._cache import CACHE_BYTES, CACHE_CHECK
from hyper.serve._h1 import H1Connection
from hyper.serve._listen import Listener, bind
from hyper.serve._site import Closable, Site

# RFC 9113 3.4: what a client speaking HTTP/2 with prior knowledge sends first.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def server_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A TLS server context offering ``h2`` and ``http/1.1`` by ALPN (RFC 9113 9.2)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


def server_url(host: str, port: int, tls: bool) -> str:
    """The URL of a server listening on ``host`` and ``port``."""
    scheme = "https" if tls else "http"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/"


class _Accepted:
    """
    A connection just accepted: a bare socket until the client sends
    something, then (TLS handshake, if any) a transport and a
    :class:`_Dispatch`. Idle all along, so the first to go at the cap.
    """

    def __init__(self, server: Server, sock: socket.socket, peer: str) -> None:
        self.server = server
        self.sock = sock
        self.peer = peer
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.accepted_at = loop.time()
        self.task: asyncio.Task[None] | None = None
        self.done = False
        self.timer: asyncio.TimerHandle | None = loop.call_later(
            server.limits.handshake_timeout, self.abort
        )
        try:
            loop.add_reader(sock.fileno(), self._readable)
            self.reading = True
        except NotImplementedError:  # pragma: no cover - loops without readers
            self.reading = False
            self._readable()

    def _readable(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.sock.fileno())
        self.task = asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        server = self.server
        kwargs: dict[str, Any] = {}
        if server.ssl is not None:
            left = self.accepted_at + server.limits.handshake_timeout - self.loop.time()
            kwargs = {"ssl": server.ssl, "ssl_handshake_timeout": max(left, 0.001)}
        try:
            await self.loop.connect_accepted_socket(
                lambda: _Dispatch(server, self), self.sock, **kwargs
            )
        except asyncio.CancelledError:
            raise  # abort() did the rest
        except (OSError, asyncio.TimeoutError, ValueError):
            # A failed or timed-out TLS handshake, or a client gone already
            # (ssl.SSLError is an OSError): nothing to log, it is the client's.
            self.task = None  # _finish() closes the socket, if asyncio did not
            self._finish()

    def made(self) -> None:
        """The transport exists (after any TLS handshake): the dispatcher has it."""
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.sock.fileno())
        task = self.task
        if task is not None and not task.done():
            task.cancel()  # asyncio closes the transport it was making
        else:
            self.sock.close()
        self.server.forget(self)

    # Closable ------------------------------------------------------------

    def idle_key(self) -> tuple[bool, float] | None:
        return (False, self.accepted_at)

    def evict(self) -> None:
        self._finish()

    def abort(self) -> None:
        self._finish()

    close_gracefully = abort


class _Dispatch(asyncio.Protocol):
    """A connection's first moments on a transport: which protocol it speaks."""

    def __init__(self, server: Server, accepted: _Accepted) -> None:
        self.server = server
        self.accepted = accepted
        self.peer = accepted.peer
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None
        self.decided = False
        self.since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.accepted.made()
        self.server.replace(self.accepted, self)
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self._switch(tls.selected_alpn_protocol() == "h2", b"")
            return
        loop = asyncio.get_running_loop()
        self.since = loop.time()
        self.timer = loop.call_later(self.server.limits.handshake_timeout, self._timed_out)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        head = buffer[: len(PREFACE)]
        if PREFACE.startswith(head) and len(head) < len(PREFACE):
            self.buffer = buffer  # at most 23 bytes: still possibly the preface
            return
        self._switch(head == PREFACE, buffer)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.decided:
            self.decided = True
            self.server.forget(self)

    def close_gracefully(self) -> None:
        if self.transport is not None and not self.decided:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.decided:
            self.transport.abort()

    def idle_key(self) -> tuple[bool, float] | None:
        return (False, self.since)

    evict = abort

    def _timed_out(self) -> None:
        # Slowloris before a protocol is even chosen.
        self.timer = None
        if not self.decided and self.transport is not None:
            self.transport.abort()

    def _switch(self, h2: bool, data: bytes) -> None:
        self.decided = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        transport = self.transport
        assert transport is not None  # connection_made ran
        server = self.server
        tls = transport.get_extra_info("ssl_object") is not None
        scheme = "https" if tls else "http"
        protocol: asyncio.Protocol
        if h2:
            served = ServedH2(server)
            protocol = served
            server.replace(self, served)
            transport.set_protocol(served)
            served.connection_made(transport)
            served.set_handler(serve_connection(server, served, self.peer, scheme))
        else:
            protocol = H1Connection(server, self.peer, scheme)
            server.replace(self, cast(Closable, protocol))
            transport.set_protocol(protocol)
            protocol.connection_made(transport)
        if data:
            protocol.data_received(data)


class Server(Site):
    """
    A static file server over HTTP/2 and HTTP/1.1 on :mod:`hyper.aio`.

    :param root: the directory to serve.
    :param host: the address to listen on.
    :param port: the port; 0 picks a free one (see :attr:`port`).
    :param ssl: a server :class:`ssl.SSLContext` (see :func:`server_context`),
        or None for cleartext.
    :param pushes: URL path -> asset paths to push with it (``--push``).
    :param push_from_link: push what an HTML file names with
        ``<link rel=preload>`` (sent as ``Link`` headers).
    :param concurrency: requests served at once per HTTP/2 connection.
    :param limits: timeouts and caps (:class:`hyper.aio.ServerLimits`).
    :param log: called with one access-log line per request, if given.
    :param cache_bytes: memory for small files answered from memory and for
        compressed bodies, in bytes (0: none; see :class:`FileServer`).
    :param cache_check: seconds a cached file is served before it is looked
        up again (a changed file is served for at most that long).
    :param reuse_port: listen with ``SO_REUSEPORT``, so that other processes
        may listen on the same port (``hyper serve --workers``).
    :param sockets: listening sockets to accept on instead of binding
        ``host`` and ``port`` (they stay open after :meth:`close`).
    """

    def __init__(
        self,
        root: str,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        ssl: ssl.SSLContext | None = None,
        pushes: Mapping[str, list[str]] | None = None,
        push_from_link: bool = False,
        concurrency: int = 100,
        limits: ServerLimits | None = None,
        log: Callable[[str], None] | None = None,
        cache_bytes: int = CACHE_BYTES,
        cache_check: float = CACHE_CHECK,
        reuse_port: bool = False,
        sockets: Sequence[socket.socket] | None = None,
    ) -> None:
        super().__init__(
            root,
            pushes=pushes,
            push_from_link=push_from_link,
            concurrency=concurrency,
            limits=limits,
            log=log,
            cache_bytes=cache_bytes,
            cache_check=cache_check,
        )
        self.host = host
        self.port = port
        self.ssl = ssl
        self.reuse_port = reuse_port
        self._given = list(sockets) if sockets is not None else None
        self._listener: Listener | None = None

    @property
    def url(self) -> str:
        """Where the server listens, as a URL."""
        return server_url(self.host, self.port, self.ssl is not None)

    # Life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Listen; :attr:`port` is then the real port."""
        if self._given is not None:
            # Shared with other processes: closing ours leaves theirs open.
            socks = [s.dup() for s in self._given]
        else:
            socks = bind(self.host, self.port, reuse_port=self.reuse_port)
        self.port = socks[0].getsockname()[1]
        self._listener = Listener(socks, self, self._accepted)
        self._listener.start()

    def _accepted(self, sock: socket.socket, address: object) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - not TCP (or already gone)
            pass
        peer = address[0] if isinstance(address, tuple) and address else "-"
        self.add(_Accepted(self, sock, str(peer)))

    async def close(self) -> None:
        """
        Stop listening and close every connection gracefully; connections
        still open after ``limits.shutdown_timeout`` seconds are dropped.
        """
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        await self.close_connections()


class ServerThread:
    """
    A :class:`Server` on its own event loop in a daemon thread, for the demo
    and tests: ``with ServerThread(root, port=0) as server: server.url``.
    Keyword arguments go to :class:`Server`.
    """

    def __init__(self, root: str, **kwargs: Any) -> None:
        kwargs.setdefault("port", 0)
        self.server = Server(root, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hyper-serve", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def __enter__(self) -> Server:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self.server

    def __exit__(self, *exc: object) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(60)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await self.server.close()
