"""
:class:`Server`: the listening side of ``hyper serve``. Each connection
starts with a small dispatcher that picks the protocol and then hands the
transport over: over TLS by ALPN (``h2``, else HTTP/1.1); in cleartext by
the first bytes (the HTTP/2 preface means prior knowledge, anything else is
HTTP/1.1, which may still upgrade to h2c).

The server counts its connections (the cap in ``limits.max_connections``;
one over it is closed at once) and closes them all gracefully on
:meth:`Server.close`: HTTP/2 connections send GOAWAY and finish their open
streams, HTTP/1.1 ones finish the response in progress, all within
``limits.shutdown_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from hyper.aio import ServerLimits
from hyper.serve._app import ServedH2, serve_connection
from hyper.serve._h1 import H1Connection
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


class _Dispatch(asyncio.Protocol):
    """A connection's first moments: which protocol it speaks."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None
        self.peer = "-"
        self.decided = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self.peer = str(peer[0])
        server = self.server
        if not server.admit(self):
            self.decided = True
            self.transport.abort()
            return
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self._switch(tls.selected_alpn_protocol() == "h2", b"")
            return
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(server.limits.handshake_timeout, self._timed_out)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        head = buffer[: len(PREFACE)]
        if PREFACE.startswith(head) and len(head) < len(PREFACE):
            self.buffer = buffer  # at most 23 bytes: still possibly the preface
            return
        self._switch(head == PREFACE, buffer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.decided:
            self.server.forget(self)

    def close_gracefully(self) -> None:
        if self.transport is not None and not self.decided:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.decided:
            self.transport.abort()

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
    ) -> None:
        super().__init__(
            root,
            pushes=pushes,
            push_from_link=push_from_link,
            concurrency=concurrency,
            limits=limits,
            log=log,
        )
        self.host = host
        self.port = port
        self.ssl = ssl
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """Where the server listens, as a URL."""
        scheme = "https" if self.ssl is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/"

    # Life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Listen; :attr:`port` is then the real port."""
        loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = {}
        if self.ssl is not None:
            kwargs["ssl"] = self.ssl
            kwargs["ssl_handshake_timeout"] = self.limits.handshake_timeout
        self._server = await loop.create_server(
            lambda: _Dispatch(self), self.host, self.port, **kwargs
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """
        Stop listening and close every connection gracefully; connections
        still open after ``limits.shutdown_timeout`` seconds are dropped.
        """
        if self._server is not None:
            self._server.close()
        await self.close_connections()
        if self._server is not None:
            await self._server.wait_closed()


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


def stderr_log(line: str) -> None:
    """The ``-v`` access log: one line per request on stderr."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
