"""
The HTTP/1.1 side of ``hyper serve``, on h11: keep-alive, the same answers
as HTTP/2 (:meth:`FileServer.plan <hyper.serve._files.FileServer.plan>`),
and the ``Upgrade: h2c`` handshake (RFC 7540 3.2), after which the
connection is handed to a :class:`~hyper.serve._app.ServedH2`.

Timeouts (slowloris): a request's head must be complete within
``handshake_timeout`` seconds of its first byte; between requests the
connection may sit idle for ``idle_timeout`` (``handshake_timeout`` before
the first one). h11 caps an incomplete head at 16 KiB (431/400 past it).
Writes wait while the transport is above its high-water mark.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from typing import Any, cast

import h11

from hyper.serve._app import CHUNK, ServedH2, open_plan, serve_connection
from hyper.serve._files import Plan, access_line
from hyper.serve._site import Site

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

    # asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._task = asyncio.ensure_future(self._run())
        self.server.track(self._task)

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        try:
            self.conn.receive_data(data)
        except RuntimeError:
            pass  # more bytes after the client said it was done: ignored
        self._wake()

    def eof_received(self) -> bool:
        try:
            self.conn.receive_data(b"")
        except RuntimeError:
            pass
        self._wake()
        return True  # keep writing the response in progress; we close after

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

    def _close(self) -> None:
        if self.transport is not None and not self._handed_over:
            self.transport.close()

    async def _write(self, data: bytes) -> None:
        transport = self.transport
        if self._lost or transport is None:
            raise ConnectionResetError("the client closed the connection")
        transport.write(data)
        while self._paused and not self._lost:
            self._writable = asyncio.get_running_loop().create_future()
            await self._writable

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
        try:
            while not self._closing:
                self._got_bytes = self.conn.trailing_data[0] != b""
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

    async def _refuse(self, status: int) -> None:
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
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
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers]
        plan = self.server.files.plan(method, target, headers)
        close = self._closing
        self._busy = True
        sent = 0
        try:
            try:
                f = open_plan(plan)
            except OSError:
                plan, f = self.server.files.plan("GET", "/\x00", ()), None
            sent = await self._send(plan, f, close or has_body)
        finally:
            self._busy = False
            if self.server.log is not None:
                proto = "http/1.1"
                line = access_line(self.peer, method, target, plan.status, sent, proto, started)
                self.server.log(line)
        return close or has_body

    async def _send(self, plan: Plan, f: Any, close: bool) -> int:
        headers = list(plan.headers)
        if close:
            headers.append(("connection", "close"))
        await self._write(self.conn.send(h11.Response(status_code=plan.status, headers=headers)))
        sent = 0
        if f is not None:
            with f:
                left = plan.length
                while left > 0:
                    chunk = f.read(min(CHUNK, left))
                    if not chunk:
                        # The file shrank: drop the connection rather than end short.
                        raise ConnectionAbortedError("file changed while sending")
                    left -= len(chunk)
                    await self._write(self.conn.send(h11.Data(data=chunk)))
                    sent += len(chunk)
        elif plan.body and not plan.head_only:
            await self._write(self.conn.send(h11.Data(data=plan.body)))
            sent = len(plan.body)
        await self._write(self.conn.send(h11.EndOfMessage()))
        return sent

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
        if leftover:
            h2.data_received(leftover)
