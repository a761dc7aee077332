"""
The HTTP/1.1 side of ``hyper serve``, on h11: keep-alive, the same answers
as HTTP/2 (:meth:`FileServer.plan <hyper.serve._files.FileServer.plan>`),
and the ``Upgrade: h2c`` handshake (RFC 7540 3.2), after which the
connection is handed to a :class:`~hyper.serve._app.ServedH2`.

Timeouts (slowloris): a request's head must be complete within
``handshake_timeout`` seconds of its first byte; between requests the
connection may sit idle for ``idle_timeout`` (``handshake_timeout`` before
the first one). h11 caps an incomplete head at 16 KiB (431/400 past it).

Backpressure: the connection reads only while it waits for a request: h11
would buffer whatever a client pipelines, so reading stops once a request
is in hand and resumes when the next one is wanted (one in flight, at most
one read's worth queued). Writes wait while the transport is above its
high-water mark, with the file closed meanwhile; a client that accepts no
byte for ``send_timeout`` seconds is dropped.

Any target form a server must accept is served: origin form, and absolute
form (``GET http://host/x``, RFC 9112 3.2.2), whose path is what is served.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from typing import Any, cast
from urllib.parse import urlsplit

import h11

from hyper.drivers.async_h2 import reset
from hyper.serve._app import CHUNK, ServedH2, serve_connection
from hyper.serve._body import FileBody
from hyper.serve._files import (
    Plan,
    access_line,
    fields_of,
    internal_error,
    plan_for_open_error,
)
from hyper.serve._site import Site, log

# h11's default, and what node, tomcat and IIS allow for a request head.
MAX_HEAD = 16 * 1024
# RFC 9113 8.2.2: fields that mean nothing (or something else) in HTTP/2.
_HOP_BY_HOP = frozenset(
    (b"connection", b"upgrade", b"http2-settings", b"host", b"keep-alive",
     b"proxy-connection", b"te", b"transfer-encoding")
)  # fmt: skip


def _tokens(value: bytes) -> set[bytes]:
    return {t.strip().lower() for t in value.split(b",") if t.strip()}


def upgrade_settings(request: h11.Request) -> bytes | None:
    """
    The ``HTTP2-Settings`` value if ``request`` asks for h2c and may have
    it (no body, a valid header), else None (then it is served on HTTP/1.1).
    """
    fields: dict[bytes, list[bytes]] = {}
    for name, value in request.headers:
        fields.setdefault(name.lower(), []).append(value)
    upgrade = b",".join(fields.get(b"upgrade", []))
    connection = _tokens(b",".join(fields.get(b"connection", [])))
    settings = fields.get(b"http2-settings", [])
    if b"h2c" not in _tokens(upgrade) or len(settings) != 1:
        return None
    if b"upgrade" not in connection or b"http2-settings" not in connection:
        return None
    if b"transfer-encoding" in fields or fields.get(b"content-length", [b"0"]) != [b"0"]:
        return None  # a body would have to be read first; keep it simple and safe
    header = settings[0].strip()
    try:
        padded = header + b"=" * (-len(header) % 4)
        payload = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return header if len(payload) % 6 == 0 else None


def origin_form(target: str) -> str:
    """
    The origin-form target (path and query) of a request target: itself
    when it is one, the path of an absolute-form ``http(s)://host/path?q``
    (RFC 9112 3.2.2: a server MUST accept it), else itself (to be refused).
    """
    if target.startswith("/") or "://" not in target:
        return target
    try:
        parts = urlsplit(target)
    except ValueError:
        return target
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return target
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def h2_fields(request: h11.Request) -> list[tuple[bytes, bytes]]:
    """The HTTP/1.1 request as the HTTP/2 fields of stream 1."""
    host = b""
    rest = []
    for name, value in request.headers:
        if name == b"host":
            host = value
        elif name not in _HOP_BY_HOP:
            rest.append((name, value))
    return [
        (b":method", request.method),
        (b":scheme", b"http"),
        (b":authority", host),
        (b":path", request.target),
        *rest,
    ]


class H1Connection(asyncio.Protocol):
    """One HTTP/1.1 connection of a server (its :class:`~hyper.serve._site.Site`)."""

    def __init__(self, server: Site, peer: str, scheme: str) -> None:
        self.server = server
        self.peer = peer
        self.scheme = scheme
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._news: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._paused = False
        self._lost = False
        self._got_bytes = False
        self._closing = False
        self._busy = False
        self._handed_over = False
        # Reading is on only while a request is wanted (backpressure).
        self._reading = True
        self._sent = 0  # body bytes of the response in progress
        # Loop time since when nothing is in progress (None: busy), and
        # whether a request ever came (eviction takes those that never asked first).
        self._idle_at: float | None = None
        self._requested = False

    # asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._task = asyncio.ensure_future(self._run())
        self.server.track(self._task)

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        self._idle_at = None
        try:
            self.conn.receive_data(data)
        except RuntimeError:
            pass  # more bytes after the client said it was done: ignored
        # Nothing more is read until the next request is wanted: a client
        # that pipelines without reading fills its own socket, not our memory.
        self._pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        try:
            self.conn.receive_data(b"")
        except RuntimeError:
            pass
        self._wake()
        # Cleartext: keep writing the response in progress; we close after.
        # (TLS cannot half-close: asyncio warns if we ask, and closes anyway.)
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is None

    def _pause_reading(self) -> None:
        if self._reading and self.transport is not None and not self._lost:
            self._reading = False
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if not self._reading and self.transport is not None and not self._lost:
            self._reading = True
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._wake()
        self._wake_writer()
        if not self._handed_over:
            self.server.forget(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_writer()

    # Waking -----------------------------------------------------------

    def _wake(self) -> None:
        if self._news is not None and not self._news.done():
            self._news.set_result(None)

    def _wake_writer(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def close_gracefully(self) -> None:
        """Finish the response in progress, if any, then close."""
        self._closing = True
        if not self._busy:
            self._close()

    def abort(self) -> None:
        if self.transport is not None and not self._handed_over:
            self.transport.abort()

    def idle_key(self) -> tuple[bool, float] | None:
        if self._lost or self._idle_at is None:
            return None
        return (self._requested, self._idle_at)

    def evict(self) -> None:
        """Close it to make room: it waits for a request with none begun."""
        self._close()

    def _close(self) -> None:
        if self.transport is not None and not self._handed_over:
            self.transport.close()

    async def _write(self, data: bytes, body: FileBody | None = None) -> None:
        """
        Write ``data``, then wait while the transport is full (closing
        ``body``'s file meanwhile), at most ``send_timeout`` seconds at a time.

        :raises ConnectionError: the client left, or took nothing for that long.
        """
        transport = self.transport
        if self._lost or transport is None:
            raise ConnectionResetError("the client closed the connection")
        transport.write(data)
        if not self._paused:
            return
        if body is not None:
            body.release()
        timeout = self.server.limits.send_timeout
        while self._paused and not self._lost:
            self._writable = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._writable, timeout)
            except asyncio.TimeoutError:
                reset(transport)  # a close would wait for the full buffer forever
                raise ConnectionAbortedError(
                    f"the client accepted no data for {timeout} s"
                ) from None

    async def _next_event(self, first: bool) -> Any:
        """The next h11 event, within the slowloris timeouts (None: timed out)."""
        limits = self.server.limits
        loop = asyncio.get_running_loop()
        idle = limits.handshake_timeout if first else limits.idle_timeout
        started = loop.time()
        head_deadline: float | None = None
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self._lost:
                return h11.ConnectionClosed()
            self._resume_reading()
            now = loop.time()
            if self._got_bytes and head_deadline is None:
                head_deadline = now + limits.handshake_timeout
            deadline = head_deadline if head_deadline is not None else started + idle
            if now >= deadline:
                return None
            self._news = loop.create_future()
            try:
                await asyncio.wait_for(self._news, deadline - now)
            except asyncio.TimeoutError:
                return None

    # Serving ------------------------------------------------------------

    async def _run(self) -> None:
        first = True
        loop = asyncio.get_running_loop()
        try:
            while not self._closing:
                self._got_bytes = self.conn.trailing_data[0] != b""
                self._idle_at = None if self._got_bytes else loop.time()
                try:
                    event = await self._next_event(first)
                except h11.RemoteProtocolError as exc:
                    await self._refuse(exc.error_status_hint)
                    return
                first = False
                if event is None or type(event) is h11.ConnectionClosed:
                    return
                if type(event) is not h11.Request:
                    return  # PAUSED or stray: nothing sane to do but close
                self._idle_at = None
                self._requested = True
                if await self._serve(event):
                    return
                if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
                    self.conn.start_next_cycle()
                else:
                    return
        except (OSError, h11.LocalProtocolError, h11.RemoteProtocolError):
            return
        finally:
            self._close()

    async def _refuse(self, status: int, body: bytes | None = None) -> None:
        """Answer ``status`` and close; if a response already began, just close."""
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            if self.transport is not None:
                self.transport.abort()  # never end a response short
            return
        if body is None:
            body = f"{status} Bad Request\n".encode()
        headers = [("content-type", "text/plain"), ("content-length", str(len(body))),
                   ("connection", "close")]  # fmt: skip
        try:
            await self._write(self.conn.send(h11.Response(status_code=status, headers=headers)))
            await self._write(self.conn.send(h11.Data(data=body)))
            await self._write(self.conn.send(h11.EndOfMessage()))
        except (OSError, h11.LocalProtocolError):
            pass

    async def _serve(self, request: h11.Request) -> bool:
        """Answer one request; True when the connection is done (upgrade, close)."""
        started = time.perf_counter()
        method = request.method.decode("latin-1")
        target = request.target.decode("latin-1")
        has_body = any(
            n == b"transfer-encoding" or (n == b"content-length" and v.strip() != b"0")
            for n, v in request.headers
        )
        if not has_body:
            # No body: its end is already here; the cycle can complete.
            if type(await self._next_event(False)) is not h11.EndOfMessage:
                return True
            settings = upgrade_settings(request) if self.scheme == "http" else None
            if settings is not None and method in ("GET", "HEAD", "OPTIONS"):
                await self._upgrade(request, settings)
                return True
        fields = fields_of((n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers)
        close = self._closing
        self._busy = True
        self._sent = status = 0
        try:
            plan = await self.server.plan(method, origin_form(target), fields)
            try:
                body = FileBody.of(plan)
            except OSError as exc:
                plan, body = plan_for_open_error(exc), None
            status = plan.status
            await self._send(plan, body, close or has_body)
        except (OSError, h11.LocalProtocolError):
            raise  # the client went away (or took nothing): the caller closes
        except Exception as exc:
            status = 500
            log.error("hyper serve: internal error answering %s %s", method, target, exc_info=exc)
            await self._refuse(500, internal_error().body)
            return True
        finally:
            self._busy = False
            if self.server.log is not None:
                proto = "http/1.1"
                line = access_line(self.peer, method, target, status, self._sent, proto, started)
                self.server.log(line)
        return close or has_body

    async def _send(self, plan: Plan, body: FileBody | None, close: bool) -> None:
        """Send ``plan``, counting body bytes in ``_sent`` (for the access log)."""
        headers = list(plan.headers)
        if close:
            headers.append(("connection", "close"))
        await self._write(self.conn.send(h11.Response(status_code=plan.status, headers=headers)))
        if body is not None:
            try:
                while body.left:
                    # A file that changed raises FileChangedError (an OSError):
                    # the connection is dropped rather than the body ended short.
                    chunk = body.read(CHUNK)
                    self._sent += len(chunk)
                    await self._write(self.conn.send(h11.Data(data=chunk)), body)
            finally:
                body.close()
        elif plan.body and not plan.head_only:
            self._sent = len(plan.body)
            await self._write(self.conn.send(h11.Data(data=plan.body)))
        await self._write(self.conn.send(h11.EndOfMessage()))

    async def _upgrade(self, request: h11.Request, settings: bytes) -> None:
        info = h11.InformationalResponse(
            status_code=101, headers=[("connection", "Upgrade"), ("upgrade", "h2c")]
        )
        await self._write(self.conn.send(info))
        leftover = self.conn.trailing_data[0]
        transport = self.transport
        if transport is None or self._lost:
            return
        h2 = ServedH2(self.server)
        h2.accept_upgrade(settings, h2_fields(request))
        self._handed_over = True
        self.server.replace(self, h2)
        transport.set_protocol(h2)
        h2.connection_made(transport)
        h2.set_handler(serve_connection(self.server, h2, self.peer, "http"))
        if self._paused:
            h2.pause_writing()
        elif not self._reading:
            self._reading = True
            transport.resume_reading()  # HTTP/2 reads as it likes
        if leftover:
            h2.data_received(leftover)
