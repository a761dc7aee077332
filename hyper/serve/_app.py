"""
The HTTP/2 side of ``hyper serve``: one :class:`hyper.aio.H2Protocol` per
connection and a task per request, each answering what
:meth:`FileServer.plan <hyper.serve._files.FileServer.plan>` says.

A file is read and sent in :data:`CHUNK` steps, each awaiting flow control
and the transport, so a slow or stalled reader holds at most one chunk per
stream (CVE-2019-9517). Once a response has ended, the stream is reset with
NO_ERROR if the client has not ended its side (RFC 9113 8.1), so a request
whose body never comes holds nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import BinaryIO, cast

from hyper.aio.protocol import H2Protocol
from hyper.common.exceptions import HyperError
from hyper.engine.errors import ErrorCodes
from hyper.serve._files import Plan, access_line, split_target
from hyper.serve._site import Site

# Bytes read from a file and handed to the connection at once: large enough
# to keep the per-call cost low, small enough that 100 streams stuck on
# flow control hold ~12 MiB.
CHUNK = 128 * 1024
# Pushes promised for one request at most (more is a misconfiguration, and
# each holds a stream the client must keep in reserve).
MAX_PUSHES = 16


class ServedH2(H2Protocol):
    """An :class:`H2Protocol` that tells its server when it goes away."""

    def __init__(self, server: Site) -> None:
        super().__init__(False, concurrency=server.concurrency, limits=server.limits)
        self.server = server
        self.transport: asyncio.BaseTransport | None = None
        #: Set once the client sent anything over HTTP/2 (or left).
        self.heard = asyncio.Event()

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


def open_plan(plan: Plan) -> BinaryIO | None:
    """The plan's file, opened and positioned; None when it has no file."""
    if plan.path is None or plan.head_only or not plan.length:
        return None
    f = open(plan.path, "rb")  # noqa: SIM115 - closed by the sender
    try:
        f.seek(plan.offset)
    except OSError:
        f.close()
        raise
    return f


def _fields(headers: Sequence[tuple[str, str]]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    pseudo: dict[str, str] = {}
    regular: list[tuple[str, str]] = []
    for name, value in headers:
        if name.startswith(":"):
            pseudo[name] = value
        else:
            regular.append((name, value))
    return pseudo, regular


async def serve_connection(server: Site, proto: ServedH2, peer: str, scheme: str) -> None:
    """The connection's handler: a task per request until the connection ends."""
    tasks: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                stream_id, headers = await proto.recv_request()
            except (HyperError, OSError):
                return
            task = asyncio.ensure_future(_answer(server, proto, stream_id, headers, peer, scheme))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in list(tasks):
            task.cancel()


async def _answer(
    server: Site,
    proto: ServedH2,
    stream_id: int,
    headers: list[tuple[str, str]],
    peer: str,
    scheme: str,
) -> None:
    started = time.perf_counter()
    pseudo, regular = _fields(headers)
    method = pseudo.get(":method", "")
    target = pseudo.get(":path", "")
    status, sent = 0, 0
    try:
        if stream_id == 1 and not proto.heard.is_set():
            # The h2c upgrade: answer once the client's preface shows it read
            # the 101. curl 7.88 fails when more than 32 KiB follow the 101
            # before it does ("connection buffer size is too small").
            await proto.heard.wait()
        plan = server.files.plan(method, target, regular)
        try:
            f = open_plan(plan)
        except OSError:
            plan = server.files.plan(method, "/\x00", ())  # the 404 answer
            f = None
        if plan.status < 300 and method in ("GET", "HEAD"):
            authority = pseudo.get(":authority") or dict(regular).get("host", "")
            _push(server, proto, stream_id, target, plan, scheme, authority, regular)
        status = plan.status
        sent = await _send(proto, stream_id, plan, f)
        # RFC 9113 8.1: the response is complete; a request still open (a
        # body we do not want, or one that never comes) is reset.
        proto.reset_stream(stream_id, ErrorCodes.NO_ERROR)
    except (HyperError, OSError):
        status = status or 499  # the stream or connection went away
        proto.reset_stream(stream_id, ErrorCodes.CANCEL)
    finally:
        if server.log is not None:
            server.log(access_line(peer, method, target, status, sent, "h2", started))


async def _send(proto: ServedH2, stream_id: int, plan: Plan, f: BinaryIO | None) -> int:
    """Send ``plan`` on ``stream_id``; return the body bytes sent."""
    head = [(":status", str(plan.status)), *plan.headers]
    if plan.head_only or not plan.length:
        if f is not None:
            f.close()
        await proto.start_response(stream_id, head, end_stream=True)
        return 0
    await proto.start_response(stream_id, head)
    if f is None:
        await proto.send_data(stream_id, plan.body, end_stream=True)
        return len(plan.body)
    sent = 0
    with f:
        left = plan.length
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                # The file shrank under us: never end the stream short.
                proto.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)
                return sent
            left -= len(chunk)
            await proto.send_data(stream_id, chunk, end_stream=not left)
            sent += len(chunk)
    return sent


def _push(
    server: Site,
    proto: ServedH2,
    stream_id: int,
    target: str,
    plan: Plan,
    scheme: str,
    authority: str,
    regular: list[tuple[str, str]],
) -> None:
    """Promise what ``--push`` and ``--push-from-link`` name for this request."""
    if not proto.can_push:
        return
    url_path = split_target(target)
    assets = list(server.pushes.get(url_path or "", ()))
    if server.push_from_link:
        assets += [a for a in plan.pushes if a not in assets]
    accept = [(n, v) for n, v in regular if n == "accept-encoding"]
    for asset in assets[:MAX_PUSHES]:
        if asset == target:
            continue
        pushed = server.files.plan("GET", asset, accept)
        if pushed.status != 200:
            continue  # push only what exists: a pushed 404 helps nobody
        promised = proto.push(
            stream_id,
            [(":method", "GET"), (":scheme", scheme), (":authority", authority), (":path", asset)],
        )
        server.track(asyncio.ensure_future(_answer_push(server, proto, promised, asset, pushed)))


async def _answer_push(
    server: Site, proto: ServedH2, stream_id: int, asset: str, plan: Plan
) -> None:
    started = time.perf_counter()
    status, sent = plan.status, 0
    try:
        try:
            f = open_plan(plan)
        except OSError:
            plan, f = server.files.plan("GET", "/\x00", ()), None
        sent = await _send(proto, stream_id, plan, f)
    except (HyperError, OSError):
        status = 499
        proto.reset_stream(stream_id, ErrorCodes.CANCEL)
    finally:
        if server.log is not None:
            server.log(access_line("push", "GET", asset, status, sent, "h2", started))
