"""
:class:`Site`: what every connection of one ``hyper serve`` server shares
and calls on, apart from the listening socket. The HTTP/2 and HTTP/1.1
connection modules (``_app``, ``_h1``) hold a :class:`Site`;
:class:`~hyper.serve._server.Server` is one that also listens, so neither of
them needs the module that starts them (imports stay one way:
``_server`` -> ``_h1`` -> ``_app`` -> ``_site``).

Invariants:

- ``connections`` holds every connection from accept to close, whatever
  stage it is in (waiting for its first bytes, in its TLS handshake, HTTP/2,
  HTTP/1.1): that is what ``limits.max_connections`` caps.
- At the cap, a new connection takes the place of an idle one, which is
  closed (:meth:`Closable.evict`: GOAWAY(NO_ERROR) on HTTP/2): first those
  that never sent a request (the silent, the half-open, the slow TLS
  handshakes), oldest first, then keep-alive connections, idle longest
  first. With none idle, the listener stops accepting until one closes
  (nginx drains idle connections the same way when it runs out of them).
- Compression of a file too big to compress at once runs in one worker
  thread, one job per variant however many requests want it, and at most
  :data:`MAX_COMPRESS_JOBS` waiting: past that a request gets the identity
  body. The event loop never compresses more than
  :data:`~hyper.serve._files.COMPRESS_INLINE` bytes at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from hyper.core.server import ServerLimits
from hyper.serve._cache import CACHE_BYTES, CACHE_CHECK
from hyper.serve._files import FileServer, Plan, compress_file, plan_for_open_error

__all__ = ["Closable", "Site", "log"]

#: Where ``hyper serve`` reports what is not a client's doing (a failure in
#: a handler, the process out of file descriptors): once per occurrence.
log = logging.getLogger("hyper.serve")

# Compressions waiting for the worker at most; more requests for uncached
# variants are answered with the identity body (correct, just bigger).
MAX_COMPRESS_JOBS = 8


class Closable(Protocol):
    """A live connection, as the site counts, evicts and closes it."""

    def close_gracefully(self) -> None: ...

    def abort(self) -> None: ...

    def idle_key(self) -> tuple[bool, float] | None:
        """None while a request is in progress; else (whether it ever sent a
        request, loop time since when it is idle): the least is evicted first."""

    def evict(self) -> None:
        """Close it now to make room (it was idle)."""


class Site:
    """
    The files a server answers from, what it pushes, its limits and access
    log, the register of its live connections (for the cap and the graceful
    close) and of the tasks they start, and the compression worker.
    Parameters as :class:`~hyper.serve._server.Server`'s.
    """

    def __init__(
        self,
        root: str,
        *,
        pushes: Mapping[str, list[str]] | None,
        push_from_link: bool,
        concurrency: int,
        limits: ServerLimits | None,
        log: Callable[[str], None] | None,
        cache_bytes: int = CACHE_BYTES,
        cache_check: float = CACHE_CHECK,
    ) -> None:
        self.files = FileServer(
            root, links=push_from_link, cache_bytes=cache_bytes, cache_check=cache_check
        )
        self.pushes = dict(pushes or {})
        self.push_from_link = push_from_link
        self.concurrency = concurrency
        self.limits = limits if limits is not None else ServerLimits()
        self.log = log
        self.connections: set[Closable] = set()
        #: Called when a connection goes away (the listener resumes accepting).
        self.on_room: Callable[[], None] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._idle: asyncio.Event | None = None
        self._compressor: ThreadPoolExecutor | None = None
        self._compressing: dict[tuple[str, str], asyncio.Future[bytes | None]] = {}

    # Connections ------------------------------------------------------------

    def can_admit(self) -> bool:
        """One more connection may come in: under the cap, or a connection
        is idle (:meth:`make_room` would evict it)."""
        return len(self.connections) < self.limits.max_connections or self._idlest() is not None

    def make_room(self) -> None:
        """At the cap, evict the connection idle longest (if one is idle)."""
        if len(self.connections) < self.limits.max_connections:
            return
        idlest = self._idlest()
        if idlest is not None:
            self.connections.discard(idlest)  # its slot is the newcomer's now
            idlest.evict()

    def _idlest(self) -> Closable | None:
        # A linear scan, only at the cap: cheaper than keeping an order up to
        # date on every request.
        idlest: Closable | None = None
        least = (True, float("inf"))
        for conn in self.connections:
            key = conn.idle_key()
            if key is not None and key < least:
                idlest, least = conn, key
        return idlest

    def add(self, conn: Closable) -> None:
        """Count a connection just accepted (after :meth:`make_room`)."""
        self.connections.add(conn)

    def replace(self, old: Closable, new: Closable) -> None:
        self.connections.discard(old)
        self.connections.add(new)

    def forget(self, conn: Closable) -> None:
        self.connections.discard(conn)
        if not self.connections and self._idle is not None:
            self._idle.set()
        if self.on_room is not None:
            self.on_room()

    def track(self, task: asyncio.Future[Any]) -> None:
        """Keep a reference to a task the connections started."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_connections(self) -> None:
        """
        Close every connection gracefully; drop those still open after
        ``limits.shutdown_timeout`` seconds, then cancel the tasks left.
        """
        self._idle = asyncio.Event()
        for conn in list(self.connections):
            conn.close_gracefully()
        if self.connections:
            try:
                await asyncio.wait_for(self._idle.wait(), self.limits.shutdown_timeout)
            except asyncio.TimeoutError:
                pass
        for conn in list(self.connections):
            conn.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._compressor is not None:
            self._compressor.shutdown(wait=False)
            self._compressor = None

    # Answers ----------------------------------------------------------------

    async def plan(self, method: str, target: str, fields: dict[str, str]) -> Plan:
        """
        :meth:`FileServer.plan_fields`, with big files compressed off the
        event loop; a file system that fails under it (out of descriptors,
        say) gives :func:`plan_for_open_error`'s answer.
        """
        try:
            plan = self.files.plan_fields(method, target, fields, compress_now=False)
        except OSError as exc:
            return plan_for_open_error(exc)
        return await self.compressed(plan)

    async def compressed(self, plan: Plan) -> Plan:
        """The answer for ``plan`` once the compression it asks for is done
        (in the worker thread), or its identity answer when the worker is busy."""
        job = plan.compress
        if job is None:
            return plan
        path, etag, coding = job
        key = (path, etag)
        future = self._compressing.get(key)
        if future is None:
            if len(self._compressing) >= MAX_COMPRESS_JOBS:
                return self.files.with_compressed(plan, None)  # busy: identity
            if self._compressor is None:
                self._compressor = ThreadPoolExecutor(1, thread_name_prefix="hyper-serve-gzip")
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(
                loop.run_in_executor(self._compressor, compress_file, path, coding)
            )
            self._compressing[key] = future
            future.add_done_callback(lambda _: self._compressing.pop(key, None))
        # Shielded: one client going away does not cancel the others' job.
        body = await asyncio.shield(future)
        return self.files.with_compressed(plan, body)
