"""
HTTP/1.1 for the async transport: one request at a time over an
:class:`~hyper.drivers.async_h1.H1Driver`, kept alive between requests.

hyper has no asyncio HTTP/1.1 client of its own, and the async transport
needs one: ``http://`` URLs speak HTTP/1.1 unless told otherwise (as httpx's
own transport), and so do the servers whose ALPN says ``http/1.1``. h11 is
a dependency already, so this is the exchange over it, and nothing more:
the request as httpx built it, the response head, the body as it arrives.

Reconnecting follows :class:`hyper.http11.connection.HTTP11Connection`'s
rule: a kept-alive connection that shows input (EOF, an unasked 408) while
idle is replaced before anything is sent; a request that meets a closed
socket after being sent, before a byte came back, is sent again once, only
if it is idempotent (RFC 9110 9.2.2) and its body is in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import h11

from hyper.common.exceptions import ConnectionResetError as HyperResetError
from hyper.common.exceptions import InvalidArgumentError, InvalidResponseError
from hyper.drivers.async_h1 import H1Driver
from hyper.drivers.async_open import Handover

__all__ = ["AsyncH1Connection"]

_IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"))

Opener = Callable[[], Awaitable[Handover]]


class AsyncH1Connection:
    """
    An HTTP/1.1 connection of the async transport.

    :param opener: opens a new connection (see ``_connect``).
    :param where: ``host:port``, for messages.
    :param absolute: the ``scheme://authority`` prefix of requests sent in
        absolute form (through a forwarding proxy), else None.
    :param extra_headers: sent with every request (a proxy's).
    """

    def __init__(
        self,
        opener: Opener,
        where: str,
        absolute: bytes | None = None,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self._opener = opener
        self.where = where
        self._absolute = absolute
        self._extra = extra_headers or []
        self._driver: H1Driver | None = None
        self._sent: tuple[h11.Request, bytes | None] | None = None

    def attach(self, handover: Handover) -> None:
        """Speak on a connection already open (the first one, past ALPN)."""
        driver = H1Driver(self.where)
        handover.hand_to(driver)
        self._driver = driver

    async def connect(self) -> None:
        """Open a connection unless one is usable."""
        driver = self._driver
        if driver is None or not driver.is_idle or (driver.reused and driver.is_stale()):
            if driver is not None:
                driver.close()
            self._driver = None
            self.attach(await self._opener())

    async def send(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: Any,
        replayable: bool,
        timeout: float | None,
    ) -> None:
        """Send a request: ``body`` is None, bytes, or an async iterable of bytes."""
        await self.connect()
        driver = cast(H1Driver, self._driver)
        if self._absolute is not None:
            target = self._absolute + target
        fields = list(headers)
        if self._extra:
            fields.extend(self._extra)
        try:
            request = h11.Request(method=method, target=target, headers=fields)
        except h11.LocalProtocolError as exc:
            raise InvalidArgumentError(f"invalid request: {exc}") from exc
        replay = request, body
        self._sent = replay if (replayable and method in _IDEMPOTENT) else None
        await _transmit(driver, request, body, timeout)

    async def receive(self, timeout: float | None) -> h11.Response:
        """The response head (1xx responses skipped), each wait ``timeout``."""
        driver = cast(H1Driver, self._driver)
        try:
            return await _read_head(driver, timeout)
        except HyperResetError:
            sent = self._sent
            if sent is None or not driver.reused or driver.received:
                raise
            # RFC 9112 9.3.1.1: the kept-alive connection closed as the
            # request crossed it; nothing came back: send it again, once.
            self._sent = None
            driver.close()
            self.attach(await self._opener())
            driver = cast(H1Driver, self._driver)
            request, body = sent
            await _transmit(driver, request, body, timeout)
            return await _read_head(driver, timeout)

    async def body(
        self, timeout: float | None, trailers: list[tuple[bytes, bytes]]
    ) -> AsyncIterator[bytes]:
        """The response body as it arrives; ``trailers`` filled at its end.
        The connection is ready for the next request once it ends."""
        driver = cast(H1Driver, self._driver)
        next_event = driver.next_event
        while True:
            event = await next_event(timeout)
            kind = type(event)
            if kind is h11.Data:
                data = cast(h11.Data, event).data
                if data:
                    yield bytes(data) if type(data) is not bytes else data
            elif kind is h11.EndOfMessage:
                trailers.extend(cast(h11.EndOfMessage, event).headers.raw_items())
                if not driver.next_cycle():
                    self._driver = None
                return
            else:
                driver.close()
                raise InvalidResponseError(f"unexpected {event!r} in the body from {self.where}")

    @property
    def is_closed(self) -> bool:
        driver = self._driver
        return driver is None or driver.closed

    def close(self) -> None:
        """Drop the connection (a response being read ends with an error)."""
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()


async def _transmit(
    driver: H1Driver, request: h11.Request, body: Any, timeout: float | None
) -> None:
    send = driver.send
    if body is None or isinstance(body, (bytes, bytearray, memoryview)):
        await send(request, timeout)
        if body:
            await send(h11.Data(data=cast(bytes, body)), timeout)
        await send(h11.EndOfMessage(), timeout)
        return
    await send(request, timeout)
    async for chunk in body:
        if chunk:
            await send(h11.Data(data=chunk), timeout)
    await send(h11.EndOfMessage(), timeout)


async def _read_head(driver: H1Driver, timeout: float | None) -> h11.Response:
    while True:
        event = await driver.next_event(timeout)
        kind = type(event)
        if kind is h11.Response:
            return cast(h11.Response, event)
        if kind is h11.InformationalResponse:
            continue  # 1xx: the final response follows
        if kind is h11.ConnectionClosed:
            driver.close()
            if not driver.received:
                raise HyperResetError(f"{driver.where} closed the connection without answering")
            raise HyperResetError(f"{driver.where} closed the connection mid-response")
        driver.close()
        raise InvalidResponseError(f"expected a response from {driver.where}, got {event!r}")
