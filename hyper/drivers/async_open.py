"""
Opening an asyncio connection before knowing who will drive it.

A client that offers both ``h2`` and ``http/1.1`` through ALPN learns which
protocol it speaks only once the TLS handshake is done; a tunnel through a
proxy speaks HTTP/1.1 to the proxy first. :class:`Handover` is the
``asyncio.Protocol`` such a connection starts with: it keeps what arrives
(bytes, EOF, the loss of the connection) until :meth:`Handover.hand_to`
gives the transport to the protocol that will drive it, replaying all of it
there, in order. It reads the proxy's answer to CONNECT (:meth:`read_head`)
and hands over the rest.

Moves bytes and waits; decides nothing. Uses no thread.
"""

from __future__ import annotations

import asyncio
from typing import cast

from hyper.common.exceptions import ConnectionResetError as HyperResetError

__all__ = ["Handover"]

# A proxy's answer to CONNECT is a status line and a few headers; more than
# this is not a proxy we can talk to (and must not grow memory).
_MAX_HEAD = 65536


class Handover(asyncio.Protocol):
    """
    A new connection's first protocol (see the module docstring).

    ``transport`` is set once connected; :attr:`selected_alpn` says what
    ALPN chose (None in cleartext or when ALPN agreed nothing).
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._received: list[bytes] = []
        self._eof = False
        self._lost = False
        self._lost_exc: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received.append(data)
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return True  # kept open: the protocol taken over decides

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._lost_exc = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- use ----------------------------------------------------------------------

    @property
    def selected_alpn(self) -> str | None:
        transport = self.transport
        if transport is None:
            return None
        tls = transport.get_extra_info("ssl_object")
        return None if tls is None else tls.selected_alpn_protocol()

    async def read_head(self) -> bytes:
        """
        The bytes up to and including the first blank line (an HTTP/1.1
        response head); what came after stays for :meth:`hand_to`.

        :raises ConnectionResetError: the connection ended first, or the
            head passed 64 KiB.
        """
        while True:
            data = b"".join(self._received)
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                rest = data[end + 4 :]
                self._received = [rest] if rest else []
                return data[: end + 4]
            self._received = [data] if data else []
            if len(data) > _MAX_HEAD:
                raise HyperResetError("the proxy's answer to CONNECT is too long")
            if self._eof or self._lost:
                raise HyperResetError("the proxy closed the connection before answering CONNECT")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def has_pending(self) -> bool:
        """Bytes arrived that nobody read yet (or the connection ended)."""
        return bool(self._received) or self._eof or self._lost

    def hand_to(self, protocol: asyncio.Protocol) -> None:
        """Give the transport to ``protocol``: its ``connection_made``, then
        what arrived meanwhile, as it arrived."""
        transport = self.transport
        if transport is None:
            raise RuntimeError("the connection was never made")
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        received, self._received = self._received, []
        for data in received:
            protocol.data_received(data)
        if self._eof and not protocol.eof_received():
            transport.close()
        if self._lost:
            protocol.connection_lost(self._lost_exc)

    def close(self) -> None:
        """Close a connection nobody took."""
        transport = self.transport
        if transport is not None:
            transport.close()
