"""
:class:`Site`: what every connection of one ``hyper serve`` server shares
and calls on, apart from the listening socket. The HTTP/2 and HTTP/1.1
connection modules (``_app``, ``_h1``) hold a :class:`Site`;
:class:`~hyper.serve._server.Server` is one that also listens, so neither of
them needs the module that starts them (imports stay one way:
``_server`` -> ``_h1`` -> ``_app`` -> ``_site``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hyper.core.server import ServerLimits
from hyper.serve._files import FileServer

__all__ = ["Closable", "Site"]


class Closable(Protocol):
    """A live connection, as the site closes it."""

    def close_gracefully(self) -> None: ...

    def abort(self) -> None: ...


class Site:
    """
    The files a server answers from, what it pushes, its limits and access
    log, and the register of its live connections (for the cap and the
    graceful close) and of the tasks they start. Parameters as
    :class:`~hyper.serve._server.Server`'s.
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
    ) -> None:
        self.files = FileServer(root, links=push_from_link)
        self.pushes = dict(pushes or {})
        self.push_from_link = push_from_link
        self.concurrency = concurrency
        self.limits = limits if limits is not None else ServerLimits()
        self.log = log
        self.connections: set[Closable] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._idle: asyncio.Event | None = None

    def admit(self, conn: Closable) -> bool:
        if len(self.connections) >= self.limits.max_connections:
            return False
        self.connections.add(conn)
        return True

    def replace(self, old: Closable, new: Closable) -> None:
        self.connections.discard(old)
        self.connections.add(new)

    def forget(self, conn: Closable) -> None:
        self.connections.discard(conn)
        if not self.connections and self._idle is not None:
            self._idle.set()

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
