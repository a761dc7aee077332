"""
Opening the socket a connection runs on: TCP, an optional proxy tunnel, TLS.

This is the one seam where connect-time ``OSError``\\ s, ``ssl`` errors and
timeouts become hyper exceptions (the original is kept as ``__cause__``):

- a timeout (TCP connect, proxy answer, TLS handshake) raises
  :class:`hyper.common.exceptions.TimeoutError` (also a builtin ``TimeoutError``);
- a TLS failure, a refused or unreachable host, a name that does not resolve
  raise :class:`hyper.common.exceptions.ConnectionError` (also a builtin
  ``ConnectionError``), with ``errno`` copied from the cause when it has one;
- a proxy that refuses the tunnel raises :class:`hyper.common.exceptions.ProxyError`.

Shared by the HTTP/1.1 and HTTP/2 front-ends: it knows nothing about either.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Union, cast
from urllib.parse import unquote

from hyper.common._request import split_timeout
from hyper.common.exceptions import HyperError, InvalidArgumentError, ProxyError
from hyper.common.headers import HTTPHeaderMap
from hyper.common.types import Str
from hyper.common.util import to_bytestring, to_host_port_tuple
from hyper.net.errors import translate_os_error
from hyper.net.tls_socket import handshake

__all__ = ["ConnectionTarget", "HTTPClientTarget", "ProxyResponse", "open_socket", "split_proxy"]

ProxyHeaders = Union[HTTPHeaderMap, Mapping[Str, Str], Iterable[tuple[Str, Str]], None]

# A proxy's answer to CONNECT is a status line and a few headers; anything
# longer is not a proxy we can talk to (and must not grow memory).
_MAX_PROXY_HEAD = 65536
# The body of a refused tunnel is an error page (tinyproxy's is about 400
# bytes, squid's about 4 KiB); more than this is cut off.
_MAX_PROXY_BODY = 65536
# The most time spent reading that error page: the error is the refusal, so a
# proxy that sends a page without ending it must not turn it into a hang.
_PROXY_BODY_TIMEOUT = 2.0
# The port of a proxy given without one (the historic hyper default).
DEFAULT_PROXY_PORT = 8080
# What open_socket offers on a caller's context unless told otherwise.
_H2_ONLY = ("h2",)
# OpenSSL's text for the no_application_protocol alert (RFC 7301 3.2).
_NO_ALPN_MATCH = "no application protocol"


class ProxyResponse(NamedTuple):
    """What a proxy answered to CONNECT, carried by :class:`ProxyError`.

    ``body`` is the proxy's error page, up to 64 KiB of it (empty when the
    answer had none, or was chunked).
    """

    status: int
    reason: str
    headers: HTTPHeaderMap
    body: bytes = b""


def split_proxy(
    proxy_host: str | None,
    proxy_port: int | None = None,
    proxy_headers: ProxyHeaders = None,
) -> tuple[str | None, int | None, ProxyHeaders]:
    """
    Read a ``proxy_host`` that may carry a port and ``user:password@``
    (percent-encoded as in a URL), and an optional ``http://`` prefix.

    :returns: ``(host, port, headers)``: the port defaults to 8080, and the
        headers gain ``Proxy-Authorization: Basic ...`` built from the
        userinfo unless ``proxy_headers`` already has one. ``(None, None,
        proxy_headers)`` when there is no proxy.
    :raises ValueError: the host or port is not valid.
    """
    if not proxy_host:
        return None, None, proxy_headers
    text = proxy_host
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower() != "http":
            raise InvalidArgumentError(f"only http:// proxies are supported, not {proxy_host!r}")
        text = rest.rstrip("/")
    userinfo, at, hostport = text.rpartition("@")
    if not at:
        hostport = text
    if proxy_port is None:
        host, port = to_host_port_tuple(hostport, default_port=DEFAULT_PROXY_PORT)
    else:
        host, port = hostport, int(proxy_port)
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
    if at and not _has_header(proxy_headers, b"proxy-authorization"):
        user, _, password = userinfo.partition(":")
        credentials = f"{unquote(user)}:{unquote(password)}".encode()
        auth = b"Basic " + base64.b64encode(credentials)
        proxy_headers = [*_header_pairs(proxy_headers), (b"Proxy-Authorization", auth)]
    return host, port, proxy_headers


class ConnectionTarget:
    """
    Where a connection goes, parsed once from the constructor arguments
    :class:`~hyper.http11.connection.HTTP11Connection`,
    :class:`~hyper.http20.connection.HTTP20Connection`,
    :class:`~hyper.connection.HTTPConnection` and the asyncio client share;
    each of them starts by calling this ``__init__``.

    Sets ``host`` and ``port`` (from ``host`` when ``port`` is None, else
    ``default_port``), ``secure`` (default: True when an ``ssl_context`` is
    given or ``port == 443``; ``secure=False`` overrides),
    ``ssl_context``, the proxy's ``proxy_host``, ``proxy_port`` and
    ``proxy_headers`` (see :func:`split_proxy`), ``timeout`` as given, and
    its ``(connect, read)`` split as ``_connect_timeout`` and ``_read_timeout``.

    ``timeout`` may also be ``http.client``'s "no timeout given" sentinel
    (``socket._GLOBAL_DEFAULT_TIMEOUT``, which urllib passes): it means the
    socket module's default, ``socket.getdefaulttimeout()``, as there. And a
    number where ``secure`` goes (``http.client.HTTPConnection(host, port,
    timeout)``'s call shape) is the timeout: ``secure`` is a bool.

    :raises ValueError: a host, port or proxy that is not valid.
    """

    #: The port of a host given without one.
    default_port = 443

    def __init__(
        self,
        host: str,
        port: int | None,
        secure: bool | None,
        ssl_context: Any,
        proxy_host: str | None,
        proxy_port: int | None,
        proxy_headers: ProxyHeaders,
        timeout: Any,
        default_port: int | None = None,
    ) -> None:
        if _is_timeout(secure):
            # http.client's third positional argument is the timeout.
            if timeout is None or timeout is _DEFAULT_TIMEOUT:
                timeout = secure
            secure = None
        if default_port is None:
            default_port = self.default_port
        if port is None:
            self.host, self.port = to_host_port_tuple(host, default_port=default_port)
        else:
            if not host:
                # Never a DNS lookup of '' (which resolves to nothing, slowly).
                raise InvalidArgumentError("No host given (an empty host name)")
            self.host, self.port = host, int(port)
        if secure is None:
            # A context is only ever given to be used: passing one to a port
            # other than 443 must not quietly speak plaintext to it.
            secure = ssl_context is not None or self.port == 443
        self.secure = bool(secure)
        self.ssl_context = ssl_context
        self.proxy_host, self.proxy_port, self.proxy_headers = split_proxy(
            proxy_host, proxy_port, proxy_headers
        )
        self.timeout = timeout
        if timeout is _DEFAULT_TIMEOUT:
            timeout = socket.getdefaulttimeout()
        self._connect_timeout, self._read_timeout = split_timeout(timeout)

    def _handshake_timeout(self) -> float | None:
        """How long an HTTP/2 handshake (SETTINGS both ways) may take: the
        connect timeout, or the read timeout when only that is set."""
        if self._connect_timeout is None:
            return self._read_timeout
        return self._connect_timeout


#: http.client's "no timeout given" (the socket module's default applies).
_DEFAULT_TIMEOUT: Any = getattr(socket, "_GLOBAL_DEFAULT_TIMEOUT", object())


def _is_timeout(value: Any) -> bool:
    """A timeout given where a bool was expected (a number, or the sentinel)."""
    if value is _DEFAULT_TIMEOUT:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class HTTPClientTarget(ConnectionTarget):
    """
    :class:`ConnectionTarget` with the connection attributes and calls of
    ``http.client.HTTPConnection`` that every blocking connection class
    shares: ``set_tunnel``, ``set_debuglevel`` and ``debuglevel``,
    ``default_port``, ``auto_open``, ``source_address``, ``blocksize``.

    A class using it recomputes what it derives from the target in
    :meth:`_target_changed` (``set_tunnel`` moves the target).
    """

    #: Print each request and response head to stdout when positive (see
    #: :meth:`set_debuglevel`).
    debuglevel = 0
    #: http.client's flag: 1 (the default) connects again, transparently,
    #: when a request finds the connection closed; 0 raises
    #: :class:`~hyper.common.exceptions.NotConnected` unless ``connect()``
    #: was called.
    auto_open = 1

    def __init__(
        self,
        host: str,
        port: int | None,
        secure: bool | None,
        ssl_context: Any,
        proxy_host: str | None,
        proxy_port: int | None,
        proxy_headers: ProxyHeaders,
        timeout: Any,
        *,
        source_address: tuple[str, int] | None = None,
        blocksize: int | None = None,
        context: Any = None,
    ) -> None:
        if context is not None:
            if ssl_context is not None and ssl_context is not context:
                raise InvalidArgumentError("give ssl_context or context, not both")
            ssl_context = context
        super().__init__(
            host, port, secure, ssl_context, proxy_host, proxy_port, proxy_headers, timeout
        )
        #: The local ``(host, port)`` the socket binds to before connecting
        #: (``socket.create_connection``'s), or None.
        self.source_address = source_address
        if blocksize is not None and blocksize <= 0:
            raise InvalidArgumentError(f"blocksize must be positive, not {blocksize}")
        #: The most bytes read at once from a file-like request body; None:
        #: hyper's own sizes (larger than http.client's 8192).
        self.blocksize = blocksize
        # set_tunnel() was called: a CONNECT tunnel even for plain http.
        self._tunnel = False
        self._target_changed()

    def _target_changed(self) -> None:
        """The target (host, port, proxy) was set or moved: recompute what
        depends on it."""

    def set_tunnel(
        self, host: str, port: int | None = None, headers: ProxyHeaders = None
    ) -> None:
        """
        ``http.client``'s proxy API: the host and port given to the
        constructor are an HTTP proxy's, and requests go, through a CONNECT
        tunnel it opens, to ``host:port`` (``port`` defaults to the class's
        :attr:`default_port`, or comes from ``host``). ``headers`` go on the
        CONNECT request only (``Proxy-Authorization``...). The same as giving
        ``proxy_host`` to the constructor, except that plain-http targets
        are tunnelled too, as ``http.client`` does.

        :raises RuntimeError: the connection is already connected (as
            ``http.client``).
        """
        if self._is_connected():
            raise RuntimeError("Can't set up tunnel for established connection")
        if port is None:
            target_host, target_port = to_host_port_tuple(host, default_port=self.default_port)
        else:
            target_host, target_port = host, int(port)
        self.proxy_host, self.proxy_port = self.host, self.port
        self.proxy_headers = headers
        self.host, self.port = target_host, target_port
        self._tunnel = True
        self._target_changed()

    def _is_connected(self) -> bool:
        """True while a socket is open (set_tunnel is refused then)."""
        raise NotImplementedError

    def set_debuglevel(self, level: int) -> None:
        """
        ``level > 0`` prints what goes out and comes back to stdout, as
        ``http.client`` does (``send:``, ``reply:``, ``header:`` lines): an
        explicit request to see the exchange, which ``urllib.request``'s
        ``debuglevel`` and ``xmlrpc.client``'s ``verbose`` make, and which
        a logger nobody configured would swallow.
        """
        self.debuglevel = level


def _header_pairs(headers: ProxyHeaders) -> list[tuple[Str, Str]]:
    if headers is None:
        return []
    if isinstance(headers, HTTPHeaderMap):
        return list(headers.iter_raw())
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _has_header(headers: ProxyHeaders, name: bytes) -> bool:
    return any(to_bytestring(n).lower() == name for n, _ in _header_pairs(headers))


def open_socket(
    host: str,
    port: int,
    *,
    secure: bool,
    connect_timeout: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
    force_proto: str | None = None,
    proxy_host: str | None = None,
    proxy_port: int | None = None,
    proxy_headers: ProxyHeaders = None,
    alpn_protocols: Sequence[str] | None = _H2_ONLY,
    source_address: tuple[str, int] | None = None,
) -> tuple[socket.socket, str | None]:
    """
    Connect to ``host:port`` (through an HTTP proxy's CONNECT tunnel when
    ``proxy_host`` is given), set TCP_NODELAY, and wrap the socket in TLS
    with ALPN when ``secure``.

    :param connect_timeout: seconds for the whole set-up (TCP, tunnel, TLS
        handshake); None waits as long as the OS does.
    :param alpn_protocols: the ALPN protocols set on a caller's
        ``ssl_context`` before the handshake, as httpcore does (a context
        from ``ssl.create_default_context()`` offers none, and the server
        would then pick HTTP/1.1). The default, ``['h2']``, is what
        ``HTTP20Connection`` needs; None leaves the context as it is.
        hyper's own default context is never changed.
    :param source_address: the local ``(host, port)`` to bind to first.
    :returns: ``(sock, protocol)``: the ALPN protocol the server chose
        (``force_proto`` when given), or None for a plaintext socket. The
        socket is left with ``connect_timeout`` as its timeout.
    :raises TimeoutError: the set-up took longer than ``connect_timeout``.
    :raises ProxyError: the proxy refused the tunnel.
    :raises ConnectionError: anything else went wrong (refused, DNS, TLS).
    """
    deadline = None if connect_timeout is None else time.monotonic() + connect_timeout
    if proxy_host:
        dial_host, dial_port = proxy_host, proxy_port or DEFAULT_PROXY_PORT
    else:
        dial_host, dial_port = host, port
    where = f"{dial_host}:{dial_port}"
    with _translate(f"connecting to {where}"):
        sock = socket.create_connection(
            (dial_host, dial_port), timeout=connect_timeout, source_address=source_address
        )
    try:
        with _translate(f"connecting to {where}"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if proxy_host:
            with _translate(f"opening a tunnel to {host}:{port} through {where}"):
                sock.settimeout(_remaining(deadline))
                _tunnel(sock, host, port, proxy_headers)
        if not secure:
            return sock, None
        offered = None
        if ssl_context is not None and alpn_protocols is not None:
            offered = list(alpn_protocols)
        with _translate(f"the TLS handshake with {host}:{port}", offered):
            sock.settimeout(_remaining(deadline))
            if offered is not None and ssl_context is not None:
                ssl_context.set_alpn_protocols(offered)
            return _wrap_tls(sock, host, ssl_context, force_proto)
    except BaseException:
        sock.close()
        raise


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("timed out")
    return left


def _wrap_tls(
    sock: socket.socket,
    host: str,
    ssl_context: ssl.SSLContext | None,
    force_proto: str | None,
) -> tuple[socket.socket, str | None]:
    # hyper.tls builds the default context (certifi, ALPN, TLS 1.2+) only
    # when a secure connection is made; plaintext users never pay for it.
    # The connection's TLS state lives in memory (TLSSocket); the handshake
    # takes at most the socket's timeout.
    from hyper import tls

    context = ssl_context if ssl_context is not None else tls.default_context()
    tls_sock = handshake(sock, context, host, sock.gettimeout())
    proto = force_proto or tls_sock.selected_alpn_protocol() or tls.DEFAULT_PROTOCOL
    return cast(socket.socket, tls_sock), proto


@contextlib.contextmanager
def _translate(what: str, offered: list[str] | None = None) -> Iterator[None]:
    """Turn OS, TLS and timeout errors raised inside into hyper exceptions.
    ``offered``: the ALPN protocols set on the caller's context, named when
    the server refused them all."""
    try:
        yield
    except HyperError:
        raise
    except OSError as exc:  # timeouts, TLS failures, refused, unreachable, DNS...
        hint = ""
        if offered is not None and _NO_ALPN_MATCH in str(exc).lower():
            # RFC 7301 3.2: the server speaks none of what was offered. (The
            # ssl module leaves ``reason`` unset for this alert.)
            hint = (
                f"; the server accepts none of the protocols offered through ALPN "
                f"({', '.join(offered)}), so it probably speaks only http/1.1 "
                "(hyper.HTTPConnection falls back to it)"
            )
        raise translate_os_error(exc, what, resets=False, hint=hint) from exc


def _tunnel(sock: socket.socket, host: str, port: int, headers: ProxyHeaders) -> None:
    """Ask the proxy on ``sock`` for a tunnel to ``host:port`` (RFC 9110 9.3.6)."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    target = authority.encode("ascii")
    lines = [b"CONNECT " + target + b" HTTP/1.1", b"Host: " + target]
    for name, value in _header_pairs(headers):
        field = to_bytestring(name) + b": " + to_bytestring(value)
        if b"\r" in field or b"\n" in field or b"\x00" in field:
            raise InvalidArgumentError(f"invalid proxy header {name!r}")
        lines.append(field)
    sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
    head = _read_head(sock)
    status_line, _, rest = head.partition(b"\r\n")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProxyError(f"the proxy sent an invalid answer to CONNECT: {status_line[:80]!r}")
    status = int(parts[1])
    reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
    fields = []
    for line in rest.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            fields.append((name.strip(), value.strip()))
    if not 200 <= status < 300:
        header_map = HTTPHeaderMap._from_raw(fields)
        answer = ProxyResponse(status, reason, header_map, _read_error_body(sock, header_map))
        raise ProxyError(f"the proxy refused the tunnel to {authority}: {status} {reason}", answer)


def _read_error_body(sock: socket.socket, headers: HTTPHeaderMap) -> bytes:
    """
    Read the error page that came with a refused CONNECT: ``content-length``
    bytes, or up to EOF when there is no length (proxies close after a
    refusal). A chunked page is not decoded and left unread. Best effort and
    bounded in size and time: whatever arrived is returned, never an error.
    """
    if b"chunked" in b",".join(headers.get(b"transfer-encoding", [])).lower():
        return b""
    lengths = headers.get(b"content-length", [])
    want = _MAX_PROXY_BODY
    if lengths:
        try:
            want = min(int(lengths[0]), _MAX_PROXY_BODY)
        except ValueError:
            return b""
    body = bytearray()
    timeout = sock.gettimeout()
    deadline = time.monotonic() + min(timeout or _PROXY_BODY_TIMEOUT, _PROXY_BODY_TIMEOUT)
    try:
        while len(body) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(want - len(body))
            if not chunk:
                break
            body += chunk
    except OSError:  # a timeout or a reset ends the page where it is
        pass
    return bytes(body)


def _read_head(sock: socket.socket) -> bytes:
    """
    Read up to and including the blank line that ends the proxy's answer, and
    not one byte further: what follows belongs to the tunnelled protocol (a
    server speaking first over h2c, say). Peeking finds the end; only the
    bytes up to it are then consumed.
    """
    head = bytearray()
    while True:
        peeked = sock.recv(_MAX_PROXY_HEAD, socket.MSG_PEEK)
        if not peeked:
            raise ProxyError("the proxy closed the connection before answering CONNECT")
        # The terminator may straddle what was consumed before and this peek.
        start = max(0, len(head) - 3)
        window = bytes(head[start:]) + peeked
        end = window.find(b"\r\n\r\n")
        take = len(peeked) if end == -1 else end + 4 - (len(head) - start)
        while take > 0:  # peeked bytes are there: this never waits
            got = sock.recv(take)
            if not got:
                raise ProxyError("the proxy closed the connection while answering CONNECT")
            head += got
            take -= len(got)
        if end != -1:
            return bytes(head)
        if len(head) > _MAX_PROXY_HEAD:
            raise ProxyError("the proxy's answer to CONNECT is too long")
