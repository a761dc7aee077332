"""
The HTTP/2 side of ``hyper serve``: one :class:`hyper.aio.H2Protocol` per
connection; each request answered as
:meth:`FileServer.plan_fields <hyper.serve._files.FileServer.plan_fields>`
says.

A small file is answered from memory (:mod:`hyper.serve._cache`), at once
by the connection's handler when the windows take it whole: no task, no
wait. Anything else gets a task. A bigger file is sent in pieces of at
most :data:`CHUNK` bytes, each no bigger than the flow-control window open
at the time, read (one ``readv``) straight into its DATA frames just
before they are written, uncopied. A response that must wait (no window,
or a transport that accepts nothing) closes its file first and holds no
buffer: a stalled stream costs its bookkeeping, not a descriptor nor a
chunk (CVE-2019-9517), and is reset (CANCEL) once it has waited
``limits.send_timeout`` seconds for window. Once a response has ended, the
stream is reset with NO_ERROR if the client has not ended its side (RFC
9113 8.1); request bodies are never read, never buffered and never given
window (the connection's core discards them).

Whatever goes wrong inside a handler ends its stream: a 500 response if no
header was sent yet, else RST_STREAM(INTERNAL_ERROR); logged once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence
from typing import Any, cast

from hyper.aio.exceptions import SendException
from hyper.aio.protocol import H2Protocol
from hyper.common.exceptions import HyperError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.core.server import Request, ServerCore
from hyper.drivers.async_h2 import ServerDriver
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import ConnectionError as H2ConnectionError
from hyper.engine.exceptions import StreamResetError, StreamStateError
from hyper.engine.frames import data_layout, data_layout_size
from hyper.serve._body import FileBody, FileChangedError
from hyper.serve._files import (
    PLAN_FIELDS,
    Plan,
    access_line,
    internal_error,
    plan_for_open_error,
    split_target,
)
from hyper.serve._site import Site, log

# Bytes read from a file and handed to the connection at once: large enough
# to keep the per-chunk cost low, small enough to interleave streams. 64 MiB
# downloads (h2load -n32 -c4) took 118-162 cs of server CPU in 128 KiB
# chunks, 81-105 in 512 KiB ones (nghttpd: 87-110), 103-108 in 1 MiB ones.
CHUNK = 512 * 1024
# Pushes promised for one request at most (more is a misconfiguration, and
# each holds a stream the client must keep in reserve).
MAX_PUSHES = 16
# What ends a response without it being our fault: the stream or the
# connection went away, or the client gave no window in time.
GONE = (StreamResetError, StreamStateError, H2ConnectionError, SendException,
        HyperTimeoutError, OSError)  # fmt: skip


class ServedH2(H2Protocol):
    """An :class:`H2Protocol` that tells its server when it goes away, and
    drops request bodies (a static file server reads none)."""

    def __init__(self, server: Site) -> None:
        super().__init__(False, concurrency=server.concurrency, limits=server.limits)
        self.server = server
        self.transport: asyncio.BaseTransport | None = None
        #: Set once the client sent anything over HTTP/2 (or left).
        self.heard = asyncio.Event()
        self.server_core.discard_bodies = True

    @property
    def server_driver(self) -> ServerDriver:
        """The driver (always a server's here)."""
        driver = self.driver
        if not isinstance(driver, ServerDriver):  # pragma: no cover - made False above
            raise TypeError("not a server connection")
        return driver

    @property
    def server_core(self) -> ServerCore:
        """The connection's server core."""
        return self.server_driver.core

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.heard.set()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.heard.set()
        super().connection_lost(exc)
        self.transport = None
        self.server.forget(self)

    def close_gracefully(self) -> None:
        # SIGTERM (Site.close_connections): GOAWAY, the requests in flight
        # finish; the site drops whatever is left after its shutdown timeout.
        self.server.track(asyncio.ensure_future(self.shutdown()))

    def abort(self) -> None:
        if self.transport is not None:
            cast(asyncio.Transport, self.transport).abort()

    def idle_key(self) -> tuple[bool, float] | None:
        core = self.server_core
        since = core.idle_since
        if self.transport is None or since is None:
            return None
        return (core.has_requested, since)

    def evict(self) -> None:
        self.server_core.evict()
        self.server_driver.schedule_flush()  # GOAWAY out, then the transport closes


class _Progress:
    """How far a response got: its head sent, body bytes sent."""

    __slots__ = ("headers_sent", "sent")

    def __init__(self) -> None:
        self.headers_sent = False
        self.sent = 0


class _Head:
    """What ``hyper serve`` reads of a request's header block."""

    __slots__ = ("method", "target", "authority", "fields")

    def __init__(self, block: Sequence[tuple[bytes, bytes]]) -> None:
        method = target = authority = host = ""
        fields: dict[str, str] = {}
        wanted = _WANTED
        for name, value in block:
            if name[:1] == b":":
                if name == b":method":
                    method = value.decode("utf-8", "surrogateescape")
                elif name == b":path":
                    target = value.decode("utf-8", "surrogateescape")
                elif name == b":authority":
                    authority = value.decode("utf-8", "surrogateescape")
                continue
            key = wanted.get(name)
            if key is None:
                continue  # no answer depends on it
            text = value.decode("utf-8", "surrogateescape")
            if key == "host":
                host = text
            else:
                fields[key] = f"{fields[key]}, {text}" if key in fields else text
        self.method = method
        self.target = target
        self.authority = authority or host
        #: The fields a plan reads (:data:`~hyper.serve._files.PLAN_FIELDS`).
        self.fields = fields


# Field names (bytes, as HTTP/2 has them: lower case) -> str, for the fields
# an answer depends on.
_WANTED = {name.encode(): name for name in (*PLAN_FIELDS, "host")}


async def serve_connection(server: Site, proto: ServedH2, peer: str, scheme: str) -> None:
    """
    The connection's handler: each request in turn, answered here at once
    when its answer is in memory and the windows take it whole (the
    common case for a small file: no task, no wait), else by a task of its
    own; until the connection ends.
    """
    driver = proto.server_driver
    core = driver.core
    tasks: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                request = core.next_request()
            except (HyperError, OSError):
                return
            if request is None:
                await driver.incoming_waiter()
                continue
            later = _answer_now(server, proto, request, peer, scheme)
            if later is not None:
                task = asyncio.ensure_future(later)
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in list(tasks):
            task.cancel()


def _answer_now(
    server: Site, proto: ServedH2, request: Request, peer: str, scheme: str
) -> Coroutine[Any, Any, None] | None:
    """
    Answer ``request`` now if that needs no wait: an answer in memory that
    the flow-control windows and the transport take whole. Else return the
    coroutine that answers it (a file to stream, a compression to wait for,
    no window, the h2c upgrade's first request).
    """
    stream_id = request.stream_id
    head = _Head(request.headers or ())
    if stream_id == 1 and not proto.heard.is_set():
        return _answer(server, proto, stream_id, head, peer, scheme)
    started = time.perf_counter()
    method = head.method
    try:
        plan = server.files.plan_fields(method, head.target, head.fields, compress_now=False)
    except Exception:
        # The task plans again and answers what goes wrong (a file system
        # out of descriptors: 503; a bug: 500, logged).
        return _answer(server, proto, stream_id, head, peer, scheme)
    body = b"" if plan.head_only else plan.body
    if plan.compress is not None or (plan.length and not plan.head_only and not body):
        return _answer(server, proto, stream_id, head, peer, scheme, plan)
    driver = proto.server_driver
    room = driver.send_room(request)
    if room <= 0 or room < len(body):
        return _answer(server, proto, stream_id, head, peer, scheme, plan)
    status = plan.status
    progress = _Progress()
    core = driver.core
    try:
        if status < 300 and method in ("GET", "HEAD"):
            _push(server, proto, stream_id, head, plan, scheme)
        core.send_headers(request, [(":status", str(status)), *plan.headers], not body)
        progress.headers_sent = True
        if body:
            core.send_data(request, body, True)  # it fits the windows: taken whole
            progress.sent = len(body)
        if not request.remote_closed:
            core.reset(request, ErrorCodes.NO_ERROR)  # RFC 9113 8.1, as _answer
    except GONE:
        status = 499
        proto.reset_stream(stream_id, ErrorCodes.CANCEL)
    except Exception as exc:
        status = 500
        failed = _failed(proto, stream_id, progress, exc, f"{method} {head.target}")
        server.track(asyncio.ensure_future(failed))
    driver.schedule_flush()
    if server.log is not None:
        server.log(access_line(peer, method, head.target, status, progress.sent, "h2", started))
    return None


async def _answer(
    server: Site,
    proto: ServedH2,
    stream_id: int,
    head: _Head,
    peer: str,
    scheme: str,
    planned: Plan | None = None,
) -> None:
    started = time.perf_counter()
    method, target = head.method, head.target
    status = 0
    progress = _Progress()
    try:
        if planned is None:
            if stream_id == 1 and not proto.heard.is_set():
                # The h2c upgrade: answer once the client's preface shows it
                # read the 101. curl 7.88 fails when more than 32 KiB follow
                # the 101 before it does ("connection buffer size is too small").
                await proto.heard.wait()
            plan = await server.plan(method, target, head.fields)
        else:
            plan = await server.compressed(planned)
        try:
            body = FileBody.of(plan)
        except OSError as exc:
            plan, body = plan_for_open_error(exc), None
        if plan.status < 300 and method in ("GET", "HEAD"):
            _push(server, proto, stream_id, head, plan, scheme)
        status = plan.status
        await _send(server, proto, stream_id, plan, body, progress)
        # RFC 9113 8.1: the response is complete; a request still open (a
        # body we do not want, or one that never comes) is reset.
        proto.reset_stream(stream_id, ErrorCodes.NO_ERROR)
    except FileChangedError:
        proto.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)  # never end it short
    except GONE:
        status = status or 499  # the stream or connection went away
        proto.reset_stream(stream_id, ErrorCodes.CANCEL)
    except Exception as exc:
        status = 500
        await _failed(proto, stream_id, progress, exc, f"{method} {target}")
    finally:
        if server.log is not None:
            line = access_line(peer, method, target, status, progress.sent, "h2", started)
            server.log(line)


async def _failed(
    proto: ServedH2, stream_id: int, progress: _Progress, exc: BaseException, what: str
) -> None:
    """A bug answering ``what``: log it once, answer 500 or reset the stream."""
    log.error("hyper serve: internal error answering %s", what, exc_info=exc)
    if not progress.headers_sent:
        plan = internal_error()
        try:
            await proto.start_response(
                stream_id, [(":status", "500"), *plan.headers], end_stream=False
            )
            await proto.send_data(stream_id, plan.body, end_stream=True)
            proto.reset_stream(stream_id, ErrorCodes.NO_ERROR)
            return
        except Exception:  # the stream cannot take a response: reset it
            pass
    proto.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)


async def _send(
    server: Site,
    proto: ServedH2,
    stream_id: int,
    plan: Plan,
    body: FileBody | None,
    progress: _Progress,
) -> None:
    """Send ``plan`` on ``stream_id``, counting in ``progress``."""
    head = [(":status", str(plan.status)), *plan.headers]
    if plan.head_only or not plan.length:
        if body is not None:
            body.close()
        await proto.start_response(stream_id, head, end_stream=True)
        progress.headers_sent = True
        return
    try:
        await proto.start_response(stream_id, head)
        progress.headers_sent = True
        if body is None:
            await proto.send_data(stream_id, plan.body, end_stream=True)
            progress.sent = len(plan.body)
            return
        driver = proto.server_driver
        stream = driver.core.get(stream_id)
        send_timeout = server.limits.send_timeout
        buf: bytearray | None = None
        while body.left:
            room = driver.send_room(stream)
            if room == 0:
                body.release()  # a stalled stream holds no descriptor
                buf = None  # nor a buffer
                room = await driver.wait_send_room(stream, send_timeout)
            if room < 0:
                driver.core.get(stream_id)  # raises the stream's failure
                raise StreamStateError(f"stream {stream_id} can no longer send")
            # Read straight into DATA frames (one readv), written uncopied:
            # it fits the window, so it goes at once and is never held here.
            size = min(room, CHUNK, body.left)
            frame_size = driver.max_frame_size
            buf, slots = data_layout(size, frame_size, buf)
            body.read_into(slots)
            frames = memoryview(buf)[: data_layout_size(size, frame_size)]
            if not driver.send_frames(stream, frames, size, frame_size):  # pragma: no cover
                raise StreamStateError(f"stream {stream_id} lost its window")  # (no await since)
            progress.sent += size
            if not driver.is_drained:
                buf = None  # the transport keeps a view of it: use another
        await proto.end_stream(stream_id)
    finally:
        if body is not None:
            body.close()


def _push(
    server: Site, proto: ServedH2, stream_id: int, head: _Head, plan: Plan, scheme: str
) -> None:
    """Promise what ``--push`` and ``--push-from-link`` name for this request."""
    if not proto.can_push:
        return
    target = head.target
    url_path = split_target(target)
    assets = list(server.pushes.get(url_path or "", ()))
    if server.push_from_link:
        assets += [a for a in plan.pushes if a not in assets]
    if not assets:
        return
    coding = head.fields.get("accept-encoding")
    accept = {"accept-encoding": coding} if coding is not None else {}
    for asset in assets[:MAX_PUSHES]:
        if asset == target:
            continue
        pushed = server.files.plan_fields("GET", asset, accept, compress_now=False)
        if pushed.status != 200:
            continue  # push only what exists: a pushed 404 helps nobody
        fields = [(":method", "GET"), (":scheme", scheme), (":authority", head.authority),
                  (":path", asset)]  # fmt: skip
        promised = proto.push(stream_id, fields)
        server.track(asyncio.ensure_future(_answer_push(server, proto, promised, asset, pushed)))


async def _answer_push(
    server: Site, proto: ServedH2, stream_id: int, asset: str, plan: Plan
) -> None:
    started = time.perf_counter()
    status = plan.status
    progress = _Progress()
    try:
        plan = await server.compressed(plan)
        try:
            body = FileBody.of(plan)
        except OSError as exc:
            plan, body = plan_for_open_error(exc), None
            status = plan.status
        await _send(server, proto, stream_id, plan, body, progress)
    except FileChangedError:
        proto.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)
    except GONE:
        status = 499
        proto.reset_stream(stream_id, ErrorCodes.CANCEL)
    except Exception as exc:
        status = 500
        await _failed(proto, stream_id, progress, exc, f"push {asset}")
    finally:
        if server.log is not None:
            line = access_line("push", "GET", asset, status, progress.sent, "h2", started)
            server.log(line)
