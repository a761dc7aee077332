"""
One HTTP/1.1 client connection on asyncio: an ``asyncio.Protocol`` that
moves bytes between its transport and an ``h11`` state machine, and waits.

It is the asyncio twin of :class:`hyper.drivers.sync_h1.Channel` and the
seam where failures become hyper's exceptions (the original kept as
``__cause__``):

- a wait longer than its ``timeout`` raises
  :class:`hyper.common.exceptions.TimeoutError`; nothing is lost, the wait
  may be made again;
- garbage from the server, or the server closing where HTTP/1.1 does not
  allow it, raises what :func:`hyper.common._h11.response_error` says, as
  the blocking channel does (``InvalidResponseError`` and its kin,
  ``RemoteDisconnected``, ``IncompleteRead``);
- any other transport failure raises hyper's :class:`ConnectionError`.

Reading is on demand: the transport is paused after each read until the
state machine asks for more, so a response nobody reads holds at most one
read's worth of bytes. Writing waits while the transport's buffer is above
its high-water mark. Timeouts are timer callbacks on the awaited future:
no task, no cancellation.

Decides nothing about HTTP (h11 does); uses no thread.
"""

from __future__ import annotations

import asyncio
from typing import cast

import h11

from hyper.common._h11 import MAX_HEAD, Event, response_error
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import HyperError, InvalidArgumentError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.net.errors import translate_os_error

__all__ = ["H1Driver"]


class H1Driver(asyncio.Protocol):
    """
    An HTTP/1.1 client connection (see the module docstring). ``where``
    names the server in error messages.

    ``reused`` is True once a request/response cycle completed on it;
    ``received`` counts the bytes of the current cycle (none: the server
    has said nothing yet, which makes sending an idempotent request again
    safe).
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.reused = False
        self.received = 0
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._write_paused = False
        self._eof = False
        self._eof_in_body = False
        self._lost = False
        self._failure: BaseException | None = None
        self.closed = False

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self.h11.receive_data(data)
        transport = self._transport
        if transport is not None:
            transport.pause_reading()  # read on demand (see next_event)
        self._wake()

    def eof_received(self) -> bool:
        self._end_of_input()
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.closed = True
        self._transport = None
        if exc is not None:
            self._failure = translate_os_error(
                exc if isinstance(exc, OSError) else OSError(str(exc)),
                f"talking to {self.where}",
            )
        if not self._eof:
            try:
                self._end_of_input()
            except RuntimeError:
                pass  # h11 already saw the end
        self._wake()
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _end_of_input(self) -> None:
        self._eof = True
        self._eof_in_body = self.h11.their_state is h11.SEND_BODY
        self.h11.receive_data(b"")

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- writing ------------------------------------------------------------------

    async def send(self, event: h11.Event, timeout: float | None) -> None:
        """
        Serialise ``event`` with h11 and write it, then wait (up to
        ``timeout``) while the transport's buffer is full.

        :raises InvalidArgumentError: h11 refuses the event (a bad header).
        :raises ConnectionError: the connection is gone.
        """
        transport = self._transport
        if transport is None or self._lost:
            raise self._gone("sending the request")
        try:
            data = self.h11.send_with_data_passthrough(event)
        except h11.LocalProtocolError as exc:
            raise InvalidArgumentError(f"invalid request: {exc}") from exc
        if data:
            if len(data) == 1:
                transport.write(data[0])
            else:
                transport.writelines(data)
        if self._write_paused:
            await self._drain(timeout)

    async def _drain(self, timeout: float | None) -> None:
        while self._write_paused and not self._lost:
            self._drained = future = cast(asyncio.AbstractEventLoop, self._loop).create_future()
            try:
                await self._within(future, timeout, "sending the request")
            finally:
                self._drained = None
        if self._lost:
            raise self._gone("sending the request")

    # -- reading ------------------------------------------------------------------

    async def next_event(self, timeout: float | None) -> Event:
        """
        The next h11 event, reading as needed; each wait for bytes takes at
        most ``timeout``.
        """
        conn = self.h11
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self.close()
                raise self._protocol_error(exc) from exc
            if event is not h11.NEED_DATA:
                return cast(Event, event)
            if self._lost and self._failure is not None:
                raise self._failure
            if self._eof:
                raise self._gone("reading the response")
            transport = self._transport
            if transport is None:
                raise self._gone("reading the response")
            self._waiter = future = cast(asyncio.AbstractEventLoop, self._loop).create_future()
            transport.resume_reading()
            try:
                await self._within(future, timeout, "reading the response")
            finally:
                self._waiter = None

    def _protocol_error(self, exc: h11.RemoteProtocolError) -> HyperError:
        if self._failure is not None:
            return cast(HyperError, self._failure)
        return response_error(
            exc, self.where, eof=self._eof, received=self.received, eof_in_body=self._eof_in_body
        )

    async def _within(
        self, future: asyncio.Future[None], timeout: float | None, what: str
    ) -> None:
        if timeout is None:
            await future
            return
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        handle = loop.call_later(timeout, _expire, future, f"timed out {what} ({self.where})")
        try:
            await future
        finally:
            handle.cancel()

    def _gone(self, what: str) -> HyperError:
        if self._failure is not None:
            return cast(HyperError, self._failure)
        return HyperConnectionError(f"the connection to {self.where} is closed ({what})")

    # -- between requests ---------------------------------------------------------

    def next_cycle(self) -> bool:
        """After a response ended: ready for another request if both sides
        allow it (True), else closed (False)."""
        conn = self.h11
        if not self.closed and conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self.reused = True
            self.received = 0
            return True
        self.close()
        return False

    @property
    def is_idle(self) -> bool:
        """A new request may be sent."""
        return not self.closed and self.h11.our_state is h11.IDLE

    def is_stale(self) -> bool:
        """An idle connection the server closed (or sent something unasked on)."""
        return self._eof or self._lost or bool(self.h11.trailing_data[0])

    def close(self) -> None:
        """Close the transport (once)."""
        if not self.closed:
            self.closed = True
            transport = self._transport
            if transport is not None:
                transport.close()


def _expire(future: asyncio.Future[None], message: str) -> None:
    if not future.done():
        future.set_exception(HyperTimeoutError(message))
