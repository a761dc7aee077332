"""
Opening the async transport's connections: TCP (from ``local_address``) or a
unix socket (``uds``), an HTTP proxy's CONNECT tunnel for ``https://``
targets, then TLS with the ALPN offer; handed back as a
:class:`~hyper.drivers.async_open.Handover` for the driver of whichever
protocol ALPN chose.

Failures are hyper's exceptions (the OS's become hyper's
``ConnectionError``, a slow one hyper's ``TimeoutError``, a refused tunnel
``ProxyError``), for the transport's one table to translate.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import NamedTuple

from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import HyperError, ProxyError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.contrib.httpx._options import ProxySpec
from hyper.drivers.async_open import Handover
from hyper.net.errors import translate_os_error

__all__ = ["Dial", "open_connection"]


class Dial(NamedTuple):
    """Where one connection goes and how."""

    host: str
    port: int
    #: TLS with this context (its ALPN set), or None for cleartext.
    tls: ssl.SSLContext | None
    #: Dial this proxy instead: a CONNECT tunnel when ``tunnel``, else the
    #: proxy itself is the peer (HTTP/1.1 forwarding).
    proxy: ProxySpec | None
    tunnel: bool
    uds: str | None
    local_address: str | None


async def open_connection(dial: Dial, timeout: float | None) -> Handover:
    """
    Open the connection ``dial`` describes within ``timeout`` seconds.

    :raises TimeoutError: it took longer.
    :raises ProxyError: the proxy refused the tunnel.
    :raises ConnectionError: anything else went wrong (refused, DNS, TLS).
    """
    where = f"{dial.host}:{dial.port}"
    try:
        return await asyncio.wait_for(_open(dial), timeout)
    except asyncio.TimeoutError:
        raise HyperTimeoutError(f"timed out connecting to {where}") from None
    except HyperError:
        raise
    except OSError as exc:
        raise translate_os_error(exc, f"connecting to {where}", resets=False) from exc


async def _open(dial: Dial) -> Handover:
    loop = asyncio.get_running_loop()
    handover: Handover
    proxy = dial.proxy
    if proxy is not None:
        _, plain = await loop.create_connection(Handover, proxy.host, proxy.port)
        handover = plain
        if not dial.tunnel:
            return handover
        try:
            await _tunnel(handover, dial.host, dial.port, proxy)
            if dial.tls is None:
                return handover
            return await _start_tls(loop, handover, dial.tls, dial)
        except BaseException:
            handover.close()
            raise
    server_hostname = dial.host if dial.tls is not None else None
    if dial.uds is not None:
        _, handover = await loop.create_unix_connection(
            Handover, dial.uds, ssl=dial.tls, server_hostname=server_hostname
        )
        return handover
    local = (dial.local_address, 0) if dial.local_address is not None else None
    _, handover = await loop.create_connection(
        Handover,
        dial.host,
        dial.port,
        ssl=dial.tls,
        server_hostname=server_hostname,
        local_addr=local,
    )
    return handover


async def _start_tls(
    loop: asyncio.AbstractEventLoop, plain: Handover, context: ssl.SSLContext, dial: Dial
) -> Handover:
    if plain.has_pending() or plain.transport is None:
        raise HyperConnectionError("the proxy sent bytes past its answer to CONNECT")
    secured = Handover()
    transport = await loop.start_tls(plain.transport, secured, context, server_hostname=dial.host)
    if transport is None:  # pragma: no cover - only if the transport closed meanwhile
        raise HyperConnectionError(f"the tunnel to {dial.host}:{dial.port} closed")
    # start_tls does not call connection_made on the protocol it is given.
    secured.connection_made(transport)
    return secured


async def _tunnel(handover: Handover, host: str, port: int, proxy: ProxySpec) -> None:
    """Ask the proxy for a tunnel to ``host:port`` (RFC 9110 9.3.6)."""
    authority = (f"[{host}]:{port}" if ":" in host else f"{host}:{port}").encode("idna")
    lines = [b"CONNECT " + authority + b" HTTP/1.1", b"Host: " + authority]
    for name, value in proxy.headers:
        if b"\r" in value or b"\n" in value or b"\x00" in value:
            raise ProxyError(f"invalid proxy header {name!r}")
        lines.append(name + b": " + value)
    transport = handover.transport
    if transport is None:  # pragma: no cover - create_connection returned it connected
        raise HyperConnectionError("the proxy connection closed")
    transport.write(b"\r\n".join(lines) + b"\r\n\r\n")
    head = await handover.read_head()
    status_line = head.split(b"\r\n", 1)[0]
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProxyError(f"the proxy sent an invalid answer to CONNECT: {status_line[:80]!r}")
    status = int(parts[1])
    if not 200 <= status < 300:
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        raise ProxyError(
            f"the proxy refused the tunnel to {authority.decode('ascii')}: {status} {reason}"
        )
