"""
The adapter's connection pool for one origin (one set of TLS, proxy and
timeout settings): which :class:`hyper.HTTPConnection` a request goes on.

Invariants:

- ``cond`` guards ``entries`` and every :class:`Entry`'s counters; no I/O
  happens while it is held (connecting and closing happen outside).
- ``Entry.active`` counts the requests lent out on a connection, from
  :meth:`Pool.acquire` until :meth:`Pool.release` (the response was read to
  its end, closed, or failed). The pool does this bookkeeping itself: it
  knows when a request goes out and when it is done, and needs nothing from
  the connection but its protocol.
- An HTTP/2 entry takes up to ``max_streams`` requests at once, or fewer
  when the server allows fewer (read again as each request is done: a
  server may change its SETTINGS); an HTTP/1.1 entry takes one.
- An entry made by :meth:`Pool.connection` (historic ``get_connection``)
  is not connected: the first request that picks it connects it.
- An entry whose protocol is not known yet is connecting: it takes nothing
  more. Requests that could share it (over TLS, where HTTP/2 is likely) wait
  for it rather than each opening a connection of their own; once it turns
  out to be HTTP/1.1 they open theirs.
- A broken entry (its HTTP/1.1 exchange failed midway) takes nothing more
  and is closed once its last request is released; so is every entry of a
  closed pool (:meth:`Pool.close`: the adapter closed, or dropped it from its
  cache). Closing never cuts a response being read: requests closes its
  throw-away Session before ``requests.get(url, stream=True)`` returns, and
  the body is read after that.
- Releases that come from a response's ``__del__`` (which may run in any
  thread, even one inside ``cond``) are queued, and applied by the next
  acquire or release; in a closed pool, which sees no more of either, at
  once when ``cond`` is free.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.common.util import HTTPVersion
from hyper.connection import HTTPConnection

__all__ = ["Entry", "Pool"]

# An entry's protocol: not connected yet (made by connection(), for the
# historic get_connection), connecting, or known.
UNCONNECTED, CONNECTING, HTTP2, HTTP1 = range(4)


class Entry:
    """One pooled connection and its counters (guarded by the pool's ``cond``)."""

    __slots__ = ("conn", "state", "active", "limit", "served", "broken")

    def __init__(self, conn: HTTPConnection) -> None:
        self.conn = conn
        self.state = CONNECTING
        self.active = 1
        #: The most requests at once: ours and the server's limit, whichever is lower.
        self.limit = 1
        #: Requests that were done on it: a request finding > 0 reuses it.
        self.served = 0
        self.broken = False


class Pool:
    """
    Connections to one origin with one set of settings.

    :param factory: makes a new (not yet connected) connection.
    :param maxsize: the most connections kept.
    :param max_streams: the most requests at once on one HTTP/2 connection.
    :param expect_h2: whether new connections are likely to speak HTTP/2
        (TLS with ALPN): requests then wait for one being set up.
    """

    def __init__(
        self,
        factory: Callable[[], HTTPConnection],
        maxsize: int,
        max_streams: int,
        expect_h2: bool,
    ) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.entries: list[Entry] = []
        self.retired = False
        self._factory = factory
        self._maxsize = max(1, maxsize)
        self._max_streams = max(1, max_streams)
        self._expect_h2 = expect_h2
        self._abandoned: deque[Entry] = deque()

    def acquire(self, timeout: float | None) -> tuple[Entry, bool]:
        """
        A connection for one request, connected, with the request counted
        on it; and whether it was opened for this request.

        :param timeout: how long to wait for a free connection or stream
            when ``maxsize`` connections are busy (None: as long as needed).
        :raises TimeoutError: none came free within ``timeout``.
        :raises ConnectionError: (and hyper's other connect errors) the new
            connection could not be made.
        """
        closing: list[Entry] = []
        try:
            with self.cond:
                self._apply_abandoned(closing)
                entry, fresh = self._pick_locked(timeout)
        finally:
            for done in closing:
                done.conn.close()
        if not fresh:
            return entry, False
        try:
            entry.conn.connect()
        except BaseException:
            with self.cond:
                if entry in self.entries:
                    self.entries.remove(entry)
                self.cond.notify_all()
            entry.conn.close()
            raise
        with self.cond:
            if entry.conn.version is HTTPVersion.http20:
                # The server's SETTINGS may not be in yet (the first request
                # goes out before them): until they are, the limit is ours,
                # and the connection itself holds back what exceeds theirs.
                entry.state = HTTP2
                self._update_limit(entry)
            else:
                entry.state = HTTP1
            self.cond.notify_all()
        # (Closed meanwhile? Then the entry is no longer listed, and release closes it.)
        return entry, True

    def _pick_locked(self, timeout: float | None) -> tuple[Entry, bool]:
        """(entry, fresh): a free slot on a connection, or a new connection
        still to be connected (``fresh``)."""
        deadline = None
        while True:
            connecting = False
            for entry in self.entries:
                if entry.broken:
                    continue
                state = entry.state
                if state == HTTP2:
                    if entry.active < entry.limit:
                        entry.active += 1
                        return entry, False
                elif state == HTTP1:
                    if entry.active <= 0:
                        entry.active = 1
                        return entry, False
                elif state == UNCONNECTED:
                    entry.state = CONNECTING
                    entry.active = 1
                    return entry, True
                else:
                    connecting = True
            if not (connecting and self._expect_h2) and len(self.entries) < self._maxsize:
                entry = Entry(self._factory())
                self.entries.append(entry)
                return entry, True
            if timeout is not None and deadline is None:
                deadline = time.monotonic() + timeout
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise HyperTimeoutError(
                    f"no connection or stream came free within {timeout} s "
                    f"({self._maxsize} connections busy)"
                )
            self.cond.wait(left)

    def connection(self) -> HTTPConnection:
        """
        The connection a request would go on first, made but not connected
        when the pool has none: historic hyper's ``get_connection``. The
        same object until it breaks or the pool closes; the first request
        that picks it connects it.
        """
        with self.cond:
            for entry in self.entries:
                if not entry.broken:
                    return entry.conn
            entry = Entry(self._factory())
            entry.state = UNCONNECTED
            entry.active = 0
            self.entries.append(entry)
            return entry.conn

    def live_connections(self) -> list[HTTPConnection]:
        """The pool's connections that may still take requests."""
        with self.cond:
            return [entry.conn for entry in self.entries if not entry.broken]

    def release(self, entry: Entry, broken: bool = False) -> None:
        """A request lent out on ``entry`` is done; ``broken``: the
        connection must not be used again."""
        closing: list[Entry] = []
        with self.cond:
            self._apply_abandoned(closing)
            self._release_locked(entry, broken, closing)
            self.cond.notify_all()
        for done in closing:
            done.conn.close()

    def started(self, entry: Entry) -> None:
        """The response to a request on ``entry`` began: the server's
        SETTINGS are in, so its stream limit is known (a lower one than ours
        sends the next requests to other connections)."""
        if entry.state == HTTP2:
            with self.cond:
                self._update_limit(entry)

    def _update_limit(self, entry: Entry) -> None:
        peer = entry.conn.peer_max_concurrent_streams
        entry.limit = self._max_streams if peer is None else max(1, min(self._max_streams, peer))

    def abandon(self, entry: Entry) -> None:
        """As :meth:`release`, from a ``__del__``: queued, never waits for
        the lock (it may be held by this very thread)."""
        self._abandoned.append(entry)
        if self.retired and self.cond.acquire(blocking=False):
            closing: list[Entry] = []
            try:
                self._apply_abandoned(closing)
            finally:
                self.cond.release()
            for done in closing:
                done.conn.close()

    def _apply_abandoned(self, closing: list[Entry]) -> None:
        while self._abandoned:
            self._release_locked(self._abandoned.popleft(), False, closing)

    def _release_locked(self, entry: Entry, broken: bool, closing: list[Entry]) -> None:
        entry.active -= 1
        entry.served += 1
        if broken:
            entry.broken = True
        elif entry.state == HTTP2:
            self._update_limit(entry)  # the server may have changed its SETTINGS
        elif entry.state == HTTP1 and entry.conn.version is HTTPVersion.http20:
            entry.state = HTTP2  # the h2c upgrade went through
            self._update_limit(entry)
        if entry.active > 0:
            return
        listed = entry in self.entries
        if entry.broken or self.retired or not listed:
            # Not listed: the pool was closed while this request was made.
            if listed:
                self.entries.remove(entry)
            closing.append(entry)

    def close(self) -> None:
        """
        Take no new requests: close the idle connections now, and each busy
        one once its last response is read, released or closed (as urllib3
        closes a connection returned to a closed pool). A response being
        read is never cut short.
        """
        closing: list[Entry] = []
        with self.cond:
            self.retired = True
            self._apply_abandoned(closing)
            idle = [entry for entry in self.entries if entry.active <= 0]
            for entry in idle:
                self.entries.remove(entry)
            closing.extend(idle)
            self.cond.notify_all()
        for entry in closing:
            entry.conn.close()
