"""
The client's reconnect policy for one origin, without I/O, written once for
every front end (:class:`~hyper.http20.connection.HTTP20Connection` and
:class:`~hyper.aio.connection.AsyncHTTP20Connection`).

A front end object stands for "HTTP/2 to this origin" over a series of
connections. :class:`OriginPolicy` keeps the records and makes the choices;
the front end opens, closes, locks and waits ("decide first, then act"):

- new streams go on the *current* connection while it is usable. Once it is
  not (GOAWAY, failure, stream ids used up), :meth:`~OriginPolicy.choose`
  retires it and returns None: the front end opens a connection whose first
  stream id is :meth:`~OriginPolicy.first_stream_id` and hands it to
  :meth:`~OriginPolicy.adopt`;
- a retired connection *drains*: it is kept until all its streams are
  finished, so their responses can still be found by id (:meth:`find`);
- stream ids keep rising across connections, so an id names one request for
  the object's lifetime. Past 2**31-1 (RFC 9113 5.1.1) they start again at 1,
  and only when nothing drains: no id still in use can then clash;
- a request whose connection takes no new stream (:meth:`try_again`) goes
  on a new connection once, and only when that connection was *reused* (it
  carried requests before: an idle connection the server closed, a GOAWAY,
  a failure found before our request went out). A connection that never
  carried a request answers for itself: its failure is raised at once (a
  malformed first SETTINGS is the server's answer, not a reason to dial
  again). The error of a failed retry chains the first (``__cause__``);
- ``putrequest`` records wait here for their ``endheaders``. ``putrequest``
  does no I/O (historic hyper's did none): its id is set aside on the
  current connection when it takes new streams, else here
  (:meth:`reserve_id`), above every id used so far and below the first id of
  the next connection. An id that had to move to a fresh one at
  ``endheaders`` (a higher id went out first, ids must rise) is followed
  through an alias;
- a call without a stream id means the caller's last request: the front end
  says whose (per thread, or per object) through a :class:`LastStream`;
- :meth:`close` hands back every connection to close and keeps the id counter.

Nothing here locks. The front end serialises :meth:`choose`, :meth:`adopt`
and :meth:`close` (a lock, or an ``asyncio.Lock``); the readers
(:attr:`current`, :meth:`find`) may run beside them because the draining
list is replaced, never changed in place.

Internal: not public API.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from hyper.common._request import PendingRequest
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.core.streams import StreamBuffer, clone_error
from hyper.engine.exceptions import StreamRefusedError, StreamStateError

__all__ = ["Connection", "LastStream", "OriginPolicy", "may_send_again"]

# The highest stream id (RFC 9113 5.1.1: 31 bits).
_LAST_STREAM_ID = 2**31 - 1


class Connection(Protocol):
    """What the policy asks of one connection (a ``Session``, an ``H2Protocol``)."""

    @property
    def is_usable(self) -> bool:
        """New streams may still be opened on it."""

    @property
    def is_finished(self) -> bool:
        """It has ended and no stream is left on it."""

    @property
    def next_stream_id(self) -> int:
        """The id the next stream opened on it would get."""

    @property
    def is_reused(self) -> bool:
        """It carried a request before (or an h2c upgrade's)."""

    def why_unusable(self) -> BaseException | None:
        """Why it takes no new stream: its failure, or the server's GOAWAY;
        None when it merely used up its stream ids."""

    def find(self, stream_id: int) -> StreamBuffer | None:
        """The stream the application knows as ``stream_id``, if it is here."""


class LastStream(Protocol):
    """Where a front end keeps a caller's last stream id: a ``threading.local``
    for a connection shared by threads, a plain object otherwise."""

    stream_id: int | None


class _LastStream:
    __slots__ = ("stream_id",)

    def __init__(self) -> None:
        self.stream_id: int | None = None


C = TypeVar("C", bound=Connection)


class OriginPolicy(Generic[C]):
    """
    The connections to one origin and the requests on them (see the module
    docstring).

    :param where: ``host:port``, for error messages.
    :param last: where the caller's last stream id is kept; by default one
        for the whole object.
    """

    __slots__ = (
        "where",
        "current",
        "draining",
        "next_stream_id",
        "last_stream_id",
        "_last",
        "_pending",
        "_aliases",
    )

    def __init__(self, where: str, last: LastStream | None = None) -> None:
        self.where = where
        #: The connection new streams go on; None before the first and after close.
        self.current: C | None = None
        #: Replaced connections whose streams have not all finished yet.
        self.draining: list[C] = []
        #: The first stream id of the next connection (see first_stream_id).
        self.next_stream_id = 1
        #: The id of the last request made through this object, by anyone.
        self.last_stream_id: int | None = None
        self._last: LastStream = last if last is not None else _LastStream()
        self._pending: dict[int, PendingRequest] = {}
        # putrequest ids that had to move to a fresh id at endheaders.
        self._aliases: dict[int, int] = {}

    # ------------------------------------------------------------------
    # Connections

    @property
    def is_unused(self) -> bool:
        """No connection yet and no stream id used (an h2c upgrade may start)."""
        return self.current is None and self.next_stream_id == 1

    def choose(self) -> C | None:
        """
        The connection new streams go on: the current one if usable.
        Otherwise retire it (see :meth:`retire`) and return None: open a
        connection starting at :meth:`first_stream_id` and :meth:`adopt` it.

        The front end checks ``current.is_usable`` itself first, without its
        lock; this is the check under the lock.
        """
        current = self.current
        if current is not None:
            if current.is_usable:
                return current
            self.current = None
            self.retire(current)
        return None

    def retire(self, conn: C) -> None:
        """Keep a replaced connection until its streams are finished; drop
        the draining connections that are."""
        self.next_stream_id = max(self.next_stream_id, conn.next_stream_id)
        draining = self._unfinished()
        if not conn.is_finished:
            draining.append(conn)
        self.draining = draining

    def _unfinished(self) -> list[C]:
        return [c for c in self.draining if not c.is_finished]

    def first_stream_id(self, upgraded: bool = False) -> int:
        """
        The first stream id of a connection about to be opened: ids go on
        rising from the last connection's, back to 1 past 2**31-1 when
        nothing drains. After an h2c upgrade (RFC 7540 3.2) stream 1 carries
        the upgraded request's response, so the next is 3.
        """
        if upgraded:
            return 3
        first = self.next_stream_id
        if first > _LAST_STREAM_ID:
            self.draining = self._unfinished()
            if not self.draining:
                # Every id was used and no older stream is left to clash
                # with: count again from 1 (the next retire() goes on from
                # the new connection's ids, not from past the end).
                first = self.next_stream_id = 1
        return first

    def reserve_id(self) -> int:
        """
        Set a stream id aside for a request ``putrequest`` starts while no
        connection takes new streams (none yet, or the current one is done):
        no other request gets it, and the next connection's ids start above
        it (:meth:`first_stream_id`). ``endheaders`` opens the stream under
        it on whatever connection is then current, or under a fresh id
        (:meth:`opened_as`). Call where :meth:`choose` is called (under the
        same lock), and only when the current connection is not usable: a
        usable one sets its own ids aside.
        """
        current = self.current
        if current is not None:
            self.next_stream_id = max(self.next_stream_id, current.next_stream_id)
        stream_id = self.first_stream_id()
        self.next_stream_id = stream_id + 2
        return stream_id

    def adopt(self, conn: C) -> None:
        """Make a newly opened connection the current one."""
        self.current = conn
        self.next_stream_id = max(self.next_stream_id, conn.next_stream_id)

    def connections(self) -> list[C]:
        """The current connection (if any), then the draining ones."""
        current = self.current
        if current is None:
            return list(self.draining)
        return [current, *self.draining]

    def try_again(self, conn: C, earlier: BaseException | None) -> BaseException | None:
        """
        The retry rule, for every front end: ``conn`` took no new stream for
        a request (:meth:`choose` had offered it as usable); ``earlier`` is
        what this returned on the request's previous try (None on the
        first). Returns if the request may go on a new connection, with the
        value to pass as ``earlier`` next time.

        A *reused* connection found dead before the server took the request
        (closed while idle, GOAWAY, failed) earns one retry on a new
        connection. A connection that never carried a request, or a second
        failure, is the answer: its error is raised, chained
        (``__cause__``) to the first failure when there was one. A
        connection that only ran out of stream ids is no failure.

        :raises ConnectionError: the connection's failure (a copy), the
            ``HTTP20Error``/``ConnectionError`` subclass it is.
        """
        error = conn.why_unusable()
        if error is None:
            if conn.is_reused:
                return earlier  # ids used up (5.1.1): a new connection, no retry spent
            raise HyperConnectionError(
                f"{self.where}: no stream id left for a new connection while streams "
                "of an older one are still open (2**31-1 reached)"
            )
        if conn.is_reused and earlier is None:
            return clone_error(error)
        raised = clone_error(error)
        if earlier is not None:
            raised.__cause__ = earlier
        raise raised

    def found_dead(self, conn: C) -> BaseException | None:
        """
        The current connection ``conn`` was found unusable as a request
        began (the driver or an earlier call had read its end). If it was
        reused and failed or got GOAWAY, that is the request's one retry:
        returns the failure (a copy) to pass to :meth:`try_again` and
        :meth:`chain`; None otherwise.
        """
        if not conn.is_reused:
            return None
        why = conn.why_unusable()
        return None if why is None else clone_error(why)

    @staticmethod
    def chain(error: BaseException, earlier: BaseException | None) -> None:
        """Opening the connection a request retries on raised ``error``:
        the failure that sent it there becomes its ``__cause__``."""
        if earlier is not None and error is not earlier:
            error.__cause__ = earlier

    def close(self) -> list[C]:
        """
        Forget every connection and request record and return the connections
        for the front end to close. The id counter is kept: a later
        connection's ids go on rising.
        """
        connections = self.connections()
        for conn in connections:
            self.next_stream_id = max(self.next_stream_id, conn.next_stream_id)
        self.current = None
        self.draining = []
        self._pending.clear()
        self._aliases.clear()
        return connections

    # ------------------------------------------------------------------
    # Requests

    def remember(self, stream_id: int) -> None:
        """``stream_id`` is the caller's latest request (the default of later calls)."""
        self._last.stream_id = stream_id
        self.last_stream_id = stream_id

    def resolve(self, stream_id: int | None) -> int:
        """
        The stream a call names: ``stream_id``, or when None the caller's
        last request, or else the last one made through this object.

        :raises StreamStateError: None, and no request was made yet.
        """
        if stream_id is None:
            stream_id = self._last.stream_id or self.last_stream_id
            if stream_id is None:
                raise StreamStateError("no request has been made on this connection")
        return stream_id

    def find(self, stream_id: int | None) -> tuple[C, StreamBuffer]:
        """
        The connection and stream of a request (:meth:`resolve` says which),
        looked for on the current connection, then on the draining ones.

        :raises StreamStateError: no such stream (any more).
        """
        if stream_id is None:
            stream_id = self.resolve(None)
        if self._aliases:
            stream_id = self._aliases.get(stream_id, stream_id)
        current = self.current
        if current is not None:
            stream = current.find(stream_id)
            if stream is not None:
                return current, stream
        for conn in self.draining:
            stream = conn.find(stream_id)
            if stream is not None:
                return conn, stream
        raise StreamStateError(
            f"no stream {stream_id} on this connection: never requested, or its "
            "response was already read or closed"
        )

    def claimed(self, stream_id: int | None) -> None:
        """The response to ``stream_id`` was taken: forget its alias."""
        if stream_id is not None and self._aliases:
            self._aliases.pop(stream_id, None)

    def put_request(self, stream_id: int, method: str | bytes, url: str | bytes) -> None:
        """``putrequest`` reserved ``stream_id``: keep the request until
        ``endheaders``, and make it the caller's latest."""
        self._pending[stream_id] = PendingRequest(method, url)
        self.remember(stream_id)

    def pending_request(self, stream_id: int | None) -> PendingRequest:
        """
        The request started with ``putrequest`` on ``stream_id``
        (:meth:`resolve`), headers not sent yet.

        :raises StreamStateError: there is none.
        """
        stream_id = self.resolve(stream_id)
        pending = self._pending.get(stream_id)
        if pending is None:
            raise StreamStateError(
                f"stream {stream_id} has no request waiting for its headers (putrequest)"
            )
        return pending

    def take_request(self, stream_id: int | None) -> tuple[int, PendingRequest]:
        """:meth:`pending_request`, and its resolved id, no longer pending
        (``endheaders`` sends it)."""
        stream_id = self.resolve(stream_id)
        pending = self.pending_request(stream_id)
        del self._pending[stream_id]
        return stream_id, pending

    def opened_as(self, reserved: int, stream_id: int) -> None:
        """The request ``putrequest`` reserved as ``reserved`` went out as
        ``stream_id`` (equal unless a higher id had gone out first)."""
        if stream_id != reserved:
            self._aliases[reserved] = stream_id


def may_send_again(exc: BaseException, replayable: bool, sent_again: bool) -> bool:
    """
    The retry rule of a request already sent, for every front end that
    retries (the requests adapter, the httpx transports): the server refused
    its stream without processing it (REFUSED_STREAM, or above a GOAWAY's last
    stream id: RFC 9113 8.7, safe to retry), its body can be sent again, and
    it was not sent again already. Refusals before the request went out are
    the connection's to retry (:meth:`OriginPolicy.try_again`).
    """
    return replayable and not sent_again and isinstance(exc, StreamRefusedError)
