"""
The typed interface a driver drives: what it may call on a core, whichever
role the core plays.

:class:`DrivenCore` is everything the asyncio driver
(:class:`hyper.drivers.async_h2.AsyncH2Driver`) calls on every core: bytes in
and out, the connection's news (``touched``, ``conn_changed``,
``has_incoming``, ``error``, ``wants_teardown``), the core's timers, a body
sent under flow control, PINGs and the graceful close. :class:`StreamCore`
adds the stream calls both roles answer alike (a stream by id, reading with
window credit, trailers, reset, settings), which a front end serving either
role (aioh2's :class:`~hyper.aio.H2Protocol`) makes without knowing which.

Both :class:`~hyper.core.client_side.ClientSide` (``S`` is
:class:`~hyper.core.streams.StreamBuffer`) and
:class:`~hyper.core.server.ServerCore` (``S`` is
:class:`~hyper.core.server.Request`) implement both protocols; mypy checks it
below. What only one role does (opening streams and waiting for responses;
admitting and upgrading connections) the role's driver calls on its own core
type.

The blocking driver (:mod:`hyper.drivers.sync_h2`) drives a
:class:`~hyper.core.client.ClientCore` through a subset of the same calls
(``start``, ``receive_data``, ``data_to_send``, ``lost``, ``error``,
``wants_teardown``, ``streams``, ``send_window``, ``send_data``, the PING
calls, ``find``, ``body_ready``, ``read``, ``send_trailers``) plus the
client's own; it has no timers and wakes threads, not streams, so it reads
neither ``touched``, ``conn_changed`` nor ``has_incoming``.

Stream records are the core's own type (``S``): a driver hands back what the
core gave it, and reads only :class:`StreamBuffer`'s fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hyper.common.types import Buffer
from hyper.core.streams import StreamBuffer
from hyper.engine.engine import Engine

__all__ = ["DrivenCore", "StreamCore"]

S = TypeVar("S", bound=StreamBuffer)


class DrivenCore(Protocol[S]):
    """What a driver calls on a core of either role."""

    #: Something connection-wide changed (a window, a setting, a free slot,
    #: GOAWAY, failure) since the driver cleared it: connection waiters re-check.
    conn_changed: bool

    @property
    def error(self) -> BaseException | None:
        """The failure that ended the connection, if it ended."""

    @property
    def wants_teardown(self) -> bool:
        """The driver should flush what is queued and close the transport."""

    @property
    def streams(self) -> Mapping[int, S]:
        """The streams still kept, by id."""

    @property
    def touched(self) -> list[S] | None:
        """Streams that got news since the driver last emptied the list."""

    @property
    def has_incoming(self) -> bool:
        """A stream the peer opened waits for the application to take it."""

    @property
    def is_finished(self) -> bool:
        """The connection ended and no stream is left on it."""

    def start(self) -> None:
        """Queue the preface and our SETTINGS."""

    def receive_data(self, data: bytes, /) -> None:
        """Feed bytes from the transport."""

    def data_to_send(self) -> bytes:
        """Every byte queued for the peer, in order."""

    def lost(self, cause: BaseException | None, /) -> None:
        """The transport closed (None) or failed (``cause``)."""

    def next_deadline(self) -> float | None:
        """When :meth:`check_timers` must run next (the clock's time), if ever."""

    def check_timers(self) -> None:
        """Apply every timeout that has passed."""

    def close_gracefully(self) -> None:
        """GOAWAY: no new streams; the open ones finish, then teardown."""

    def close(self, error_code: int = ..., error: BaseException | None = None, /) -> None:
        """Close now: GOAWAY(``error_code``); everything waiting fails with ``error``."""

    def send_window(self, stream: S, /) -> int:
        """Bytes ``stream`` may send now; -1 if it can no longer send."""

    def send_data(self, stream: S, data: Buffer, end_stream: bool, /) -> int | None:
        """Queue what the windows allow of ``data``; how much was taken
        (None: the peer wants no more of this body)."""

    def ping(self, data: bytes, /) -> None:
        """Queue a PING with these 8 bytes."""

    def ping_acked(self, data: bytes, /) -> bool:
        """The PING's ACK arrived."""

    def forget_ping(self, data: bytes, /) -> None:
        """The driver is done waiting for that PING."""


class StreamCore(DrivenCore[S], Protocol[S]):
    """:class:`DrivenCore` and the stream calls both roles answer alike."""

    @property
    def engine(self) -> Engine:
        """The engine (its settings in force)."""

    def get(self, stream_id: int, /) -> S:
        """The stream's record; its failure, or the connection's, is raised."""

    def find(self, stream_id: int, /) -> S | None:
        """The stream's record, if it is still kept."""

    def body_ready(self, stream: S, /) -> bool:
        """:meth:`read` would return without waiting."""

    def read(self, stream: S, limit: int | None, /) -> list[bytes]:
        """Take up to ``limit`` body bytes, giving their window back; ``[]``: ended."""

    def finished(self, stream: S, /) -> None:
        """The application read the whole stream."""

    def send_trailers(self, stream: S, headers: list[tuple[Any, Any]], /) -> object:
        """End our side of the stream with a trailer block."""

    def reset(self, stream: S, error_code: int, /) -> None:
        """Reset the stream with ``error_code`` and forget it."""

    def update_settings(self, changes: dict[int, int], /) -> None:
        """Send SETTINGS."""


if TYPE_CHECKING:
    # mypy proves both cores implement the interface, each with its own records.
    from hyper.core.client_side import ClientSide
    from hyper.core.server import Request, ServerCore

    def _client_side_is_driven(core: ClientSide) -> StreamCore[StreamBuffer]:
        return core

    def _server_core_is_driven(core: ServerCore) -> StreamCore[Request]:
        return core
