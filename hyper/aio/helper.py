"""
Opening connections and starting servers, with aioh2's signatures.

``ssl=`` is passed to asyncio as given, with ALPN set to ``h2`` on the
context (a client's ``ssl=True`` gets hyper's default verified context,
:func:`hyper.tls.default_context`, unchanged). The other keyword arguments go to
``loop.create_connection`` / ``loop.create_server`` unchanged; a TLS server's
``ssl_handshake_timeout`` defaults to ``limits.handshake_timeout``.

A server counts a connection against ``limits.max_connections`` from the
moment it is accepted: for TLS, asyncio makes the protocol at accept but
calls ``connection_made`` only once the handshake is done, and tells nothing
of a handshake that fails. So a TLS connection takes its slot when its
protocol is made and keeps it until the handshake ends, or at most for the
handshake timeout: clients that connect and never finish the handshake are
counted, and the cap holds.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as _ssl
import warnings
from collections.abc import Callable
from typing import Any

from hyper.aio.protocol import H2Protocol
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import InvalidArgumentError
from hyper.core.server import ServerLimits
from hyper.drivers.async_h2 import ServerDriver
from hyper.tls import H2_NPN_PROTOCOLS, default_context

__all__ = ["open_connection", "open_unix_connection", "start_server", "start_unix_server"]

ConnectedCallback = Callable[[H2Protocol], Any]


class _ConnectionSlots:
    """The live connections of one server, capped at ``limit`` (an
    :class:`~hyper.drivers.async_h2.Admission`), and those still in their
    TLS handshake (:meth:`reserve`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: set[object] = set()
        self._reserved: dict[object, asyncio.TimerHandle] = {}

    def reserve(self, connection: object, seconds: float) -> None:
        """Count ``connection`` now, for at most ``seconds`` unless it is
        admitted meanwhile (a TLS handshake in progress)."""
        if len(self.open) >= self.limit:
            return  # admit() decides once the handshake is done
        self.open.add(connection)
        loop = asyncio.get_running_loop()
        self._reserved[connection] = loop.call_later(seconds, self.release, connection)

    def admit(self, connection: object) -> bool:
        timer = self._reserved.pop(connection, None)
        if timer is not None:
            timer.cancel()
            return True
        if len(self.open) >= self.limit:
            return False
        self.open.add(connection)
        return True

    def release(self, connection: object) -> None:
        timer = self._reserved.pop(connection, None)
        if timer is not None:
            timer.cancel()
        self.open.discard(connection)


def _client_tls(value: Any) -> Any:
    if value is True:
        # hyper's shared default for HTTP/2 clients (an assigned
        # hyper.tls._context wins): never changed here, since others use it.
        return default_context(H2_NPN_PROTOCOLS)
    if isinstance(value, _ssl.SSLContext):
        # RFC 9113 3.2: over TLS, HTTP/2 is negotiated as "h2" only.
        value.set_alpn_protocols(list(H2_NPN_PROTOCOLS))
    return value


def _protocol_kwargs(
    concurrency: int,
    functional_timeout: float,
    limits: ServerLimits | None,
    enable_push: bool = False,
) -> dict[str, Any]:
    # Only what differs from the defaults, so a subclass written for aioh2's
    # signature keeps working.
    kwargs: dict[str, Any] = {"concurrency": concurrency, "functional_timeout": functional_timeout}
    if limits is not None:
        kwargs["limits"] = limits
    if enable_push:
        kwargs["enable_push"] = True
    return kwargs


def _running_loop(loop: asyncio.AbstractEventLoop | None) -> asyncio.AbstractEventLoop:
    """
    The running loop. aioh2 0.2.3 took ``loop=`` on its four helpers; asyncio
    dropped the argument (deprecated in 3.8, gone in 3.10) because a
    coroutine only ever runs on the running loop. It is accepted and never
    passed on: a warning, as asyncio gave, and an error if it names
    another loop than the one running.
    """
    running = asyncio.get_running_loop()
    if loop is not None:
        warnings.warn(
            "the loop argument is deprecated (as in asyncio since Python 3.8): "
            "hyper.aio runs on the running loop",
            DeprecationWarning,
            stacklevel=3,
        )
        if loop is not running:
            raise InvalidArgumentError("loop= must be the running event loop")
    return running


async def _connected(protocol: H2Protocol) -> H2Protocol:
    problem = protocol.driver.alpn_problem
    if problem is not None:
        raise HyperConnectionError(problem)
    return protocol


async def open_connection(
    host: str | None = None,
    port: int | None = None,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    cls: type[H2Protocol] = H2Protocol,
    concurrency: int = 8,
    functional_timeout: float = 2,
    enable_push: bool = False,
    **kwargs: Any,
) -> H2Protocol:
    """
    Connect to an HTTP/2 server and return the client :class:`H2Protocol`.

    :param enable_push: accept server push (see :meth:`H2Protocol.recv_push`).

    :raises hyper.common.exceptions.ConnectionError: over TLS, the server
        did not choose ``h2`` by ALPN.
    :raises OSError: the connection could not be made.
    """
    loop = _running_loop(loop)
    if "ssl" in kwargs:
        kwargs["ssl"] = _client_tls(kwargs["ssl"])
    protocol = cls(True, **_protocol_kwargs(concurrency, functional_timeout, None, enable_push))
    where: tuple[Any, Any] = (host, port)  # None is fine with sock=
    await loop.create_connection(lambda: protocol, *where, **kwargs)
    return await _connected(protocol)


async def open_unix_connection(
    path: str | None = None,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    cls: type[H2Protocol] = H2Protocol,
    concurrency: int = 8,
    functional_timeout: float = 2,
    enable_push: bool = False,
    **kwargs: Any,
) -> H2Protocol:
    """Like :func:`open_connection`, over a unix socket."""
    loop = _running_loop(loop)
    if "ssl" in kwargs:
        kwargs["ssl"] = _client_tls(kwargs["ssl"])
    protocol = cls(True, **_protocol_kwargs(concurrency, functional_timeout, None, enable_push))
    await loop.create_unix_connection(lambda: protocol, path, **kwargs)
    return await _connected(protocol)


def _server_factory(
    client_connected_cb: ConnectedCallback,
    cls: type[H2Protocol],
    concurrency: int,
    functional_timeout: float,
    limits: ServerLimits | None,
    kwargs: dict[str, Any],
) -> Callable[[], H2Protocol]:
    server_limits = limits or ServerLimits()
    context = kwargs.get("ssl")
    handshake = 0.0
    if context:
        if isinstance(context, _ssl.SSLContext):
            context.set_alpn_protocols(list(H2_NPN_PROTOCOLS))
        kwargs.setdefault("ssl_handshake_timeout", server_limits.handshake_timeout)
        handshake = kwargs["ssl_handshake_timeout"]
    slots = _ConnectionSlots(server_limits.max_connections)
    protocol_kwargs = _protocol_kwargs(concurrency, functional_timeout, limits)

    def factory() -> H2Protocol:
        protocol = cls(False, **protocol_kwargs)
        driver = protocol.driver
        if not isinstance(driver, ServerDriver):
            raise TypeError(f"{cls.__name__}(False, ...) made a client connection")
        driver.set_admission(slots)
        if handshake:
            # Made at accept; connection_made comes after the handshake, if
            # ever. The slot is the connection's from now on.
            slots.reserve(driver, handshake)
        driver.call_when_connected(lambda: protocol.set_handler(client_connected_cb(protocol)))
        return protocol

    return factory


async def start_server(
    client_connected_cb: ConnectedCallback,
    host: str | None = None,
    port: int | None = None,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    cls: type[H2Protocol] = H2Protocol,
    concurrency: int = 8,
    functional_timeout: float = 2,
    limits: ServerLimits | None = None,
    **kwargs: Any,
) -> asyncio.Server:
    """
    Serve HTTP/2. For each connection ``client_connected_cb(protocol)`` is
    called once the connection is up (after the TLS handshake); what it
    returns (a coroutine, a task, or None) is that connection's handler,
    cancelled when the connection is lost.

    :param limits: the server's :class:`ServerLimits` (timeouts, the
        connection cap, buffered body per stream).
    :param kwargs: go to ``loop.create_server``: ``ssl=`` (ALPN ``h2`` is
        offered), ``sock=``, ``backlog=``, ``reuse_port=True``... With
        ``reuse_port=True`` several processes of one user may each run a
        server on the same host and port (one per core, say); Linux spreads
        new connections over them (by a hash of the client's address and
        port; FreeBSD only with ``SO_REUSEPORT_LB``, macOS not at all).
        Each process has its own ``limits`` (``max_connections`` counts its
        connections only), and connections waiting in a closed server's
        backlog are reset, so close one only when its process is going
        away. ``hyper serve --workers`` runs this way.
    """
    loop = _running_loop(loop)
    factory = _server_factory(
        client_connected_cb, cls, concurrency, functional_timeout, limits, kwargs
    )
    if host is None and port == 0 and "sock" not in kwargs and socket.has_dualstack_ipv6():
        # asyncio would bind 0.0.0.0 and :: to two different free ports, in no
        # fixed order, so ``server.sockets[0]``'s port (aioh2's example uses
        # it) would reach only one family. One dual-stack socket serves both.
        sock = socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True)
        return await loop.create_server(factory, sock=sock, **kwargs)
    return await loop.create_server(factory, host, port, **kwargs)


async def start_unix_server(
    client_connected_cb: ConnectedCallback,
    path: str | None = None,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    cls: type[H2Protocol] = H2Protocol,
    concurrency: int = 8,
    functional_timeout: float = 2,
    limits: ServerLimits | None = None,
    **kwargs: Any,
) -> asyncio.Server:
    """Like :func:`start_server`, on a unix socket."""
    loop = _running_loop(loop)
    factory = _server_factory(
        client_connected_cb, cls, concurrency, functional_timeout, limits, kwargs
    )
    return await loop.create_unix_server(factory, path, **kwargs)
