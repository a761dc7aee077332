"""
The connection pool of both httpx transports, as decisions without I/O
(httpcore's "assign, then act"): :class:`PoolPolicy` says which connection a
request goes on, which connection to open and which to close; the transport
connects, closes and waits. The sync transport calls it under a lock, the
async one from its event loop.

The rules, httpx's ``Limits`` among them:

- a request goes on a connection to its origin with room: an HTTP/2
  connection with fewer requests on it than its stream limit (the server's
  MAX_CONCURRENT_STREAMS once known), or an idle HTTP/1.1 connection;
- an origin has at most one HTTP/2 connection: when it is full, requests
  wait for a stream slot (so they time out with ``PoolTimeout``);
- a connection still being made takes nothing more, but requests that may
  share it (it will likely speak HTTP/2) wait for it rather than each opening
  one of their own; once it turns out HTTP/1.1 they open theirs;
- at most ``max_connections`` connections (None: no limit); when every one
  is taken an idle connection to another origin is closed to make room,
  else the request waits;
- idle connections past ``max_keepalive`` are closed (the oldest idle
  first), and so is any connection idle for ``keepalive_expiry`` seconds;
- requests are served in the order they asked (a FIFO queue);
- :meth:`PoolPolicy.shut` closes the idle connections at once and the others
  when their last response is done: a response being read is never cut off.

Every method returns a :class:`Changes`: the tickets it assigned (wake
their owners) and the connections to close (outside any lock).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

__all__ = ["CONNECTING", "HTTP1", "HTTP2", "Changes", "Entry", "PoolPolicy", "Ticket"]

CONNECTING, HTTP2, HTTP1 = range(3)

# The stream limit of an HTTP/2 connection until the server's SETTINGS say
# otherwise: RFC 9113 6.5.2 recommends servers allow at least 100.
DEFAULT_STREAMS = 100

C = TypeVar("C")


class Entry(Generic[C]):
    """One pooled connection and its counters."""

    __slots__ = ("conn", "origin", "state", "active", "limit", "idle_since", "shares", "retired")

    def __init__(self, conn: C, origin: Hashable, shares: bool) -> None:
        self.conn = conn
        self.origin = origin
        self.state = CONNECTING
        #: Requests lent out on it (from assignment to release).
        self.active = 0
        #: The most requests at once (HTTP/2: the server's stream limit).
        self.limit = 1
        self.idle_since = 0.0
        #: Being made, it may turn out HTTP/2: requests wait to share it.
        self.shares = shares
        #: Takes no more requests; closed once the last is released.
        self.retired = False

    def __repr__(self) -> str:
        state = ("connecting", "HTTP/2", "HTTP/1.1")[self.state]
        return f"<Entry {self.origin!r} {state} {self.active}/{self.limit}>"


class Ticket:
    """
    One request's claim on the pool. ``entry`` is set once it is assigned;
    ``fresh`` then says the entry is new and this request's owner connects
    it. ``waker`` is the transport's to use (a future, an event).
    """

    __slots__ = ("origin", "shares", "entry", "fresh", "waker")

    def __init__(self, origin: Hashable, shares: bool, waker: Any = None) -> None:
        self.origin = origin
        self.shares = shares
        self.entry: Entry[Any] | None = None
        self.fresh = False
        self.waker = waker


class Changes:
    """What the transport must do after a decision."""

    __slots__ = ("woken", "closing")

    def __init__(self) -> None:
        #: Tickets assigned while queued: wake their owners.
        self.woken: list[Ticket] = []
        #: Connections no longer pooled: close them.
        self.closing: list[Any] = []


_NOTHING = Changes()  # returned when nothing changed; never mutated


class PoolPolicy(Generic[C]):
    """
    The pool's bookkeeping (see the module docstring).

    :param make: makes the (not yet connected) connection for an origin.
    """

    def __init__(
        self,
        make: Any,
        max_connections: int | None,
        max_keepalive: int | None,
        keepalive_expiry: float | None,
    ) -> None:
        self._make = make
        self.max_connections = max_connections
        self.max_keepalive = max_keepalive
        self.keepalive_expiry = keepalive_expiry
        self.entries: list[Entry[C]] = []
        self._by_origin: dict[Hashable, list[Entry[C]]] = {}
        self._queue: deque[Ticket] = deque()
        # The earliest time an idle connection may expire (no scan before).
        self._next_expiry = float("inf")

    # ------------------------------------------------------------------
    # Requests

    def acquire(self, ticket: Ticket, now: float) -> Changes:
        """
        Assign ``ticket`` now if it can be (``ticket.entry`` is then set),
        else queue it; either way apply what ``now`` changes (expired idle
        connections are closed).
        """
        changes = Changes()
        if now >= self._next_expiry:
            self._expire(now, changes)
        if not self._queue and self._assign(ticket, changes):
            return changes
        self._queue.append(ticket)
        self._serve(changes)
        if ticket in changes.woken:
            changes.woken.remove(ticket)  # its own caller, not a waiter
        return changes

    def cancel(self, ticket: Ticket, now: float) -> Changes:
        """The request gave up (a pool timeout, a cancel): out of the queue,
        and its assignment, if it got one meanwhile, undone."""
        try:
            self._queue.remove(ticket)
        except ValueError:
            pass
        entry = ticket.entry
        if entry is None:
            return _NOTHING
        ticket.entry = None
        if ticket.fresh:
            return self.connect_failed(entry)
        return self.release(entry, now)

    def connected(self, entry: Entry[C], http2: bool, limit: int | None, now: float) -> Changes:
        """``entry``'s connection is up, speaking HTTP/2 (with the server's
        stream ``limit`` if known) or HTTP/1.1."""
        entry.shares = False
        if http2:
            entry.state = HTTP2
            entry.limit = DEFAULT_STREAMS if limit is None else max(1, limit)
        else:
            entry.state = HTTP1
            entry.limit = 1
        changes = Changes()
        self._serve(changes)
        return changes

    def connect_failed(self, entry: Entry[C]) -> Changes:
        """``entry`` could not be connected: forgotten, its slot given to
        whoever waits (requests that waited to share it open their own)."""
        self._remove(entry)
        changes = Changes()
        self._serve(changes)
        return changes

    def update_limit(self, entry: Entry[C], limit: int | None) -> None:
        """The server's stream limit on an HTTP/2 connection, read again."""
        if entry.state == HTTP2 and limit is not None:
            entry.limit = max(1, limit)

    def release(self, entry: Entry[C], now: float, reusable: bool = True) -> Changes:
        """
        A request lent out on ``entry`` is done (its response read or
        closed, or it failed). ``reusable=False``: the connection must not
        carry another request (an HTTP/1.1 exchange cut short).
        """
        entry.active -= 1
        changes = Changes()
        if not reusable:
            entry.retired = True
        if entry.active <= 0:
            entry.active = 0
            entry.idle_since = now
            if self.keepalive_expiry is not None:
                self._next_expiry = min(self._next_expiry, now + self.keepalive_expiry)
            if entry.retired:
                self._remove(entry)
                changes.closing.append(entry.conn)
        if self._queue:
            self._serve(changes)
        if entry.active == 0 and self.max_keepalive is not None:
            self._trim_idle(changes)
        return changes

    # ------------------------------------------------------------------
    # Closing

    def shut(self) -> Changes:
        """Close the idle connections now and the others once their last
        request is released; later requests get new connections (as
        httpcore's pool, a transport may be used after ``close()``)."""
        changes = Changes()
        for entry in list(self.entries):
            entry.retired = True
            if entry.active <= 0 and entry.state != CONNECTING:
                self._remove(entry)
                changes.closing.append(entry.conn)
        return changes

    @property
    def waiting(self) -> int:
        """Requests queued for a connection or a stream slot."""
        return len(self._queue)

    # ------------------------------------------------------------------
    # Deciding

    def _serve(self, changes: Changes) -> None:
        """Assign queued tickets, in order, while anything can be."""
        queue = self._queue
        if not queue:
            return
        for ticket in list(queue):
            if self._assign(ticket, changes):
                queue.remove(ticket)
                changes.woken.append(ticket)

    def _assign(self, ticket: Ticket, changes: Changes) -> bool:
        origin = ticket.origin
        entries = self._by_origin.get(origin)
        if entries:
            wait = False
            for entry in entries:
                if entry.retired:
                    continue
                state = entry.state
                if state == HTTP2:
                    if entry.active < entry.limit:
                        entry.active += 1
                        ticket.entry = entry
                        ticket.fresh = False
                        return True
                    wait = True  # one HTTP/2 connection per origin: wait for a slot
                elif state == HTTP1:
                    if entry.active <= 0:
                        entry.active = 1
                        ticket.entry = entry
                        ticket.fresh = False
                        return True
                elif entry.shares and ticket.shares:
                    wait = True
            if wait:
                return False
        if self.max_connections is not None and len(self.entries) >= self.max_connections:
            idle = self._oldest_idle()
            if idle is None:
                return False
            self._remove(idle)
            changes.closing.append(idle.conn)
        entry = Entry(self._make(origin), origin, ticket.shares)
        entry.active = 1
        self.entries.append(entry)
        self._by_origin.setdefault(origin, []).append(entry)
        ticket.entry = entry
        ticket.fresh = True
        return True

    def _oldest_idle(self) -> Entry[C] | None:
        oldest = None
        for entry in self.entries:
            if (
                entry.active <= 0
                and entry.state != CONNECTING
                and (oldest is None or entry.idle_since < oldest.idle_since)
            ):
                oldest = entry
        return oldest

    def _expire(self, now: float, changes: Changes) -> None:
        expiry = self.keepalive_expiry
        if expiry is None:
            return
        earliest = float("inf")
        for entry in list(self.entries):
            if entry.active > 0 or entry.state == CONNECTING:
                continue
            if now - entry.idle_since >= expiry:
                self._remove(entry)
                changes.closing.append(entry.conn)
            else:
                earliest = min(earliest, entry.idle_since + expiry)
        self._next_expiry = earliest

    def _trim_idle(self, changes: Changes) -> None:
        limit = self.max_keepalive or 0
        idle = [e for e in self.entries if e.active <= 0 and e.state != CONNECTING]
        if len(idle) <= limit:
            return
        idle.sort(key=lambda e: e.idle_since)
        for entry in idle[: len(idle) - limit]:
            self._remove(entry)
            changes.closing.append(entry.conn)

    def _remove(self, entry: Entry[C]) -> None:
        try:
            self.entries.remove(entry)
        except ValueError:
            return
        siblings = self._by_origin.get(entry.origin)
        if siblings is not None:
            siblings.remove(entry)
            if not siblings:
                del self._by_origin[entry.origin]
