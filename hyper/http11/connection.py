"""
:class:`HTTP11Connection`: an ``http.client``-style HTTP/1.1 client
connection on ``h11``, keeping one socket alive across requests.

One request is in flight at a time (HTTP/1.1 without pipelining). Its
response's body is read straight off the socket; once it has been read to
its end the socket serves the next request. A new request made before then
first reads what is left of the previous response (see
:mod:`hyper.http11.response` for the bound), so callers may interleave
freely without desynchronising the socket.

On a plaintext connection (no proxy, no tunnel) the first request that can
carry it offers HTTP/2 (``upgrade: h2c``, RFC 7540 3.2; the one rule is
:func:`hyper.common._request.can_offer_h2c`), as historic hyper did; a
server that switches answers ``101``, and :meth:`getresponse` raises
:class:`HTTPUpgrade` carrying the socket, which the caller then owns.
:class:`hyper.HTTPConnection` asks itself (with its own HTTP/2 connection's
settings) through :meth:`HTTP11Connection._request_h2c` and reads the answer
with :meth:`HTTP11Connection._next_answer`, which returns the switch as a
:class:`Switched` record: no socket travels in an exception it relies on.
``force_proto='http/1.1'`` makes no offer.

Reconnecting is transparent but only where it cannot repeat a request the
server may have acted on: a kept-alive socket that shows input (EOF, a
reset, an unasked 408) while idle is replaced before anything is sent; a
request that meets a closed socket after being sent, before a single byte
came back, is repeated once only if it is idempotent (RFC 9110 9.2.2) and
its body is in memory.
"""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
from collections import deque
from typing import Any, NamedTuple, NoReturn, TypeVar, Union, cast

import h11

from hyper import tls
from hyper.common._chunked import ChunkedReader
from hyper.common._request import (
    PendingRequest,
    RequestBody,
    authority,
    can_offer_h2c,
    h2c_offer_fields,
    header_pairs,
    http11_fields,
    is_prechunked,
    putheader_args,
    request_target,
    user_agent,
)
from hyper.common.debug import print_response
from hyper.common.decoder import accept_encoding
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import ConnectionResetError as HyperResetError
from hyper.common.exceptions import (
    HTTPUpgrade,
    HyperError,
    InvalidArgumentError,
    InvalidResponseError,
    NotConnected,
    TLSUpgrade,
    UnknownProtocol,
)
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.common.types import HeadersArg, Str, Timeout
from hyper.common.util import HTTPVersion, to_bytestring
from hyper.drivers.sync_h1 import Channel
from hyper.engine.config import EngineConfig
from hyper.engine.engine import Engine
from hyper.http11.response import HTTP11Response
from hyper.net.connect import HTTPClientTarget, ProxyHeaders, open_socket

__all__ = ["HTTP11Connection", "ImproperConnectionStateError"]

_T = TypeVar("_T")

# RFC 9110 9.2.2: a request with one of these methods may be repeated when
# the connection failed before any answer came.
_IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"))
# A body at most this long goes out with the head in one write.
_COALESCE = 65536
# The most bytes read from a file body at once.
_UPLOAD_CHUNK = 262144
# What one recv_into may fill: a 64 KiB TCP read, or several TLS records'
# worth when the kernel has them.
_BUFFER_SIZE = 262144
# What HTTP11Connection offers through ALPN alone: a server must not pick h2.
_HTTP11_ONLY = ("http/1.1",)

_NO_LAST_CHUNK = "the chunk-encoded request body ended before its last chunk"

#: How the body of a request is framed (historic names): chunked, or all at
#: once with a Content-Length.
BODY_CHUNKED = 1
BODY_FLAT = 2


@functools.lru_cache(maxsize=2)
def _default_h2c_settings(enable_push: bool) -> bytes:
    """The ``HTTP2-Settings`` of an offer made by an ``HTTP11Connection``
    alone: those of a default HTTP/2 client connection (computed once)."""
    engine = Engine(EngineConfig(client_side=True, enable_push=enable_push))
    return engine.initiate_upgrade_connection()


class ImproperConnectionStateError(HyperError, http.client.ImproperConnectionState):
    """A call that does not fit the connection's state: ``getresponse()``
    with no request waiting, ``putheader()`` or ``send()`` with no request
    open. Also an ``http.client.ImproperConnectionState``."""


class Switched(NamedTuple):
    """
    The server answered ``101 Switching Protocols`` to a request's
    ``Upgrade``: ``protocol`` (lower-cased, ``'h2c'``), the socket now
    speaking it, and the bytes already read past the 101 (``data``, the new
    protocol's). What :meth:`HTTP11Connection._next_answer` returns for it;
    :meth:`HTTP11Connection.getresponse` raises it as :class:`HTTPUpgrade`.
    Internal: not public API.
    """

    protocol: str
    sock: Any
    data: bytes


_Answer = Union[HTTP11Response, Switched]


class _Sent:
    """A request whose response head has not been read yet."""

    __slots__ = ("replay", "informational", "upload_error", "decode")

    def __init__(
        self, replay: tuple[h11.Request, bytes | memoryview | None] | None, decode: bool = True
    ) -> None:
        # The head and in-memory body, if repeating the request is safe.
        self.replay = replay
        # The response is decoded by default: the caller did not take
        # charge of content codings (putrequest(skip_accept_encoding=True)).
        self.decode = decode
        self.informational: list[h11.InformationalResponse] = []
        # Sending the body failed, but the server had answered already.
        self.upload_error: BaseException | None = None


class HTTP11Connection(HTTPClientTarget):
    """
    An HTTP/1.1 connection to one server, reused across requests.

    :param host: the host, optionally with a port: ``'example.com'``,
        ``'example.com:8080'``, ``'[::1]:8080'``.
    :param port: the port; default 80 (or the one in ``host``).
    :param secure: use TLS; defaults to ``port == 443``, or to True when an
        ``ssl_context`` is given. ALPN offers only ``http/1.1`` with the
        default context; a caller's context is used as given, and a server
        choosing ``h2`` through it raises :class:`TLSUpgrade` (a
        ``ConnectionError``).
    :param ssl_context: the ``ssl.SSLContext`` to use instead of hyper's.
    :param proxy_host: an HTTP proxy, optionally with a port (default 8080)
        and ``user:password@`` (sent as ``Proxy-Authorization: Basic``).
        ``https`` targets go through a CONNECT tunnel; ``http`` targets are
        requested from the proxy in absolute form.
    :param proxy_port: the proxy's port.
    :param proxy_headers: headers for the proxy: sent on the CONNECT for
        ``https`` targets, on every request for ``http`` ones.
    :param timeout: seconds, or a ``(connect, read)`` pair; the read timeout
        bounds every wait for the server and raises
        :class:`hyper.common.exceptions.TimeoutError`. ``http.client``'s
        default (``socket._GLOBAL_DEFAULT_TIMEOUT``) means the socket
        module's default timeout.
    :param source_address: the local ``(host, port)`` to connect from.
    :param blocksize: the most bytes read at once from a file body.
    :param context: ``http.client``'s name for ``ssl_context``.
    :param force_proto: ``'http/1.1'`` never offers the h2c upgrade (and
        over TLS speaks HTTP/1.1 whatever ALPN chose).

    On a plaintext connection without a proxy, the first request without a
    body offers HTTP/2 (``upgrade: h2c``; see the module docstring): a
    server that switches makes :meth:`getresponse` raise
    :class:`HTTPUpgrade`. ``enable_push`` (a keyword) goes in that offer's
    ``HTTP2-Settings``. Other keyword arguments are accepted and ignored,
    so the arguments of ``HTTP20Connection`` may be passed unchanged. The ``http.client``
    surface (``set_tunnel``, ``set_debuglevel``, ``sock``, ``auto_open``,
    ``response_class``...) is described in :doc:`compat`.

    Concurrency: NOT thread-safe. One connection (and the responses it
    returns) belongs to one thread at a time; use one per thread.
    """

    version = HTTPVersion.http11
    default_port = 80
    #: The class :meth:`getresponse` returns (``http.client``'s name); set a
    #: subclass of :class:`HTTP11Response` to get yours.
    response_class: type[HTTP11Response] = HTTP11Response

    def __init__(
        self,
        host: str,
        port: int | None = None,
        secure: bool | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy_host: str | None = None,
        proxy_port: int | None = None,
        proxy_headers: ProxyHeaders = None,
        timeout: Timeout = None,
        *,
        source_address: tuple[str, int] | None = None,
        blocksize: int | None = None,
        context: ssl.SSLContext | None = None,
        force_proto: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._channel: Channel | None = None
        super().__init__(
            host,
            port,
            secure,
            ssl_context,
            proxy_host,
            proxy_port,
            proxy_headers,
            timeout,
            source_address=source_address,
            blocksize=blocksize,
            context=context,
        )
        #: Bytes one read from the socket may take (historic name).
        self.network_buffer_size = _BUFFER_SIZE
        self._user_agent = user_agent()
        self._accept_encoding = accept_encoding()

        # The response whose body is on the socket now, if any.
        self._reading: HTTP11Response | None = None
        # The request whose response head has not been read.
        self._sent: _Sent | None = None
        # Answers (or their failures) read on the caller's behalf before a
        # new request, in request order, for getresponse().
        self._ready: deque[_Answer | BaseException] = deque()
        self._pending: PendingRequest | None = None
        # Set by hyper.HTTPConnection while it negotiates: the ALPN protocols
        # to offer (h2 too; a server choosing h2 raises TLSUpgrade), and the
        # protocol to assume whatever ALPN says.
        self._alpn_offer: list[str] | None = None
        self._force_proto = force_proto
        # The h2c upgrade is offered once, on the first request that can
        # carry it (hyper.HTTPConnection turns this off and asks itself).
        self._offer_h2c = force_proto != "http/1.1"
        self._enable_push = bool(kwargs.get("enable_push", False))
        # The caller chunk-encodes the body of the request being sent
        # (http.client's Transfer-Encoding without encode_chunked).
        self._dechunk: ChunkedReader | None = None

    def _target_changed(self) -> None:
        scheme = b"https" if self.secure else b"http"
        self._authority = authority(self.host, self.port, 443 if self.secure else 80)
        # Plain-http requests through a proxy name their target in full
        # (but through set_tunnel()'s CONNECT tunnel, as http.client does).
        self._absolute = self.proxy_host is not None and not self.secure and not self._tunnel
        self._origin = scheme + b"://" + self._authority

    def _is_connected(self) -> bool:
        channel = self._channel
        return channel is not None and not channel.closed

    @property
    def sock(self) -> Any:
        """
        The connection's socket (a ``TLSSocket`` over TLS), None when not
        connected. A response being read holds it open, as ``http.client``'s
        do, so ``sock.close()`` (urllib calls it right after
        ``getresponse()``) takes effect once that body has been read.
        Assigning None forgets it, as ``http.client`` does: the next request
        connects anew, and a response being read finishes on the old socket.
        Assigning a connected socket (in an overridden :meth:`connect`, say)
        makes the connection use it.
        """
        channel = self._channel
        return None if channel is None or channel.closed else channel.sock

    @sock.setter
    def sock(self, sock: Any) -> None:
        if sock is None:
            self._channel = None
            self._reading = None  # it finishes on the old socket, then closes it
            self._sent = None
            return
        if self._channel is not None and self._channel.sock is not sock:
            self.close()
        self._attach(sock)

    def set_debuglevel(self, level: int) -> None:
        super().set_debuglevel(level)
        if self._channel is not None:
            self._channel.debuglevel = level

    # ------------------------------------------------------------------
    # Connecting

    def connect(self) -> None:
        """
        Connect (TCP, the proxy tunnel, TLS) unless connected already.

        :raises ConnectionError: the server (or proxy) could not be reached.
        :raises TLSUpgrade: ALPN chose a protocol other than HTTP/1.1 (a
            caller's context offering ``h2``); the socket it carries is
            closed. A ``ConnectionError`` too.
        :raises ProxyError: the proxy refused the tunnel.
        :raises TimeoutError: the connect timeout passed.

        Concurrency: not thread-safe.
        """
        channel = self._channel
        if channel is None or channel.closed:
            self._channel = self._open()

    def _open(self) -> Channel:
        proxy_host, proxy_port = self.proxy_host, self.proxy_port
        if self._absolute and proxy_host is not None and proxy_port is not None:
            sock, _ = open_socket(
                proxy_host,
                proxy_port,
                secure=False,
                connect_timeout=self._connect_timeout,
                source_address=self.source_address,
            )
            where = f"the proxy {proxy_host}:{proxy_port}"
        else:
            offer = self._alpn_offer
            context = self.ssl_context
            if self.secure and context is None:
                context = tls.default_context(offer if offer is not None else _HTTP11_ONLY)
            sock, proto = open_socket(
                self.host,
                self.port,
                secure=self.secure,
                connect_timeout=self._connect_timeout,
                ssl_context=context,
                # Alone, a caller's context is used as given; for
                # HTTPConnection it offers h2 too (see _alpn_offer). hyper's
                # own default contexts already offer what they should.
                alpn_protocols=offer if self.ssl_context is not None else None,
                force_proto=self._force_proto,
                proxy_host=self.proxy_host,
                proxy_port=self.proxy_port,
                proxy_headers=self.proxy_headers,
                source_address=self.source_address,
            )
            where = f"{self.host}:{self.port}"
            if proto is not None and proto != "http/1.1":
                # The historic hand-over to HTTPConnection, which asked for h2
                # too and takes the socket. Alone, nobody would: close it.
                if offer is None:
                    sock.close()
                raise TLSUpgrade(proto, sock)
        return self._attach(sock, where)

    def _attach(self, sock: socket.socket, where: str | None = None) -> Channel:
        """Use ``sock`` (connected, past TLS and ALPN) for the next requests.
        Also the hand-over for ``hyper.HTTPConnection`` when ALPN picked
        HTTP/1.1 on a socket it opened."""
        try:
            sock.settimeout(self._read_timeout)
        except OSError as exc:
            sock.close()
            raise HyperConnectionError(f"the socket to {self.host}:{self.port} failed") from exc
        channel = Channel(sock, where or f"{self.host}:{self.port}", self.network_buffer_size)
        channel.debuglevel = self.debuglevel
        self._channel = channel
        return channel

    def _usable_channel(self) -> Channel:
        """The channel for a new request: the kept-alive one if the server
        has not closed it, else a new one."""
        channel = self._channel
        if channel is not None and (
            not channel.is_idle or (channel.reused and channel.is_stale())
        ):
            channel.close()
            channel = self._channel = None
        if channel is None:
            if not self.auto_open:
                raise NotConnected(f"not connected to {self.host}:{self.port} (auto_open is 0)")
            # Through connect(), which a subclass may override (to set
            # self.sock to a socket of its own, as with http.client).
            self.connect()
            channel = self._channel
            if channel is None or channel.closed:
                raise HyperConnectionError(f"connect() left no socket to {self.host}:{self.port}")
        return channel

    # ------------------------------------------------------------------
    # Requests

    def request(
        self,
        method: Str,
        url: Str,
        body: Any = None,
        headers: HeadersArg = None,
        *,
        encode_chunked: bool = False,
    ) -> None:
        """
        Send a request; read its response with :meth:`getresponse`.

        :param method: the method, e.g. ``'GET'``.
        :param url: the path (``'/index.html?q=1'``), or an absolute URL
            (its host becomes the ``Host`` header).
        :param body: bytes, str (sent as UTF-8), a file (sent with its size
            as Content-Length, in chunks, never read whole) or an iterable
            of bytes (sent chunked). Checked before anything is sent.
        :param headers: a dict, an :class:`HTTPHeaderMap` or a list of
            ``(name, value)`` pairs, sent with their names' case. ``Host``,
            ``Accept-Encoding`` (what hyper can decode) and ``User-Agent``
            are added unless given.
        :param encode_chunked: ``http.client``'s: with a ``Transfer-Encoding``
            header of the caller's, True means hyper chunk-encodes the body,
            False (the default) that the body is chunk-encoded already.
        :raises TypeError: the body is of an unsupported type.
        :raises ValueError: a header is invalid.
        :raises ConnectionError: the connection failed.
        :raises TimeoutError: the server took longer than the timeout.

        Concurrency: not thread-safe.
        """
        pairs = header_pairs(headers)
        if self._offer_h2c and self._can_offer_h2c(method, body, pairs):
            self._offer_h2c = False  # once, as historic hyper
            self._request_h2c(method, url, pairs, _default_h2c_settings(self._enable_push))
            return
        plan = None if body is None else RequestBody(body)
        head = self._build(method, url, pairs, plan, final=True)
        self._start(
            head,
            plan,
            final=True,
            prechunked=is_prechunked(pairs, encode_chunked),
        )

    def _can_offer_h2c(self, method: Str, body: Any, headers: list[tuple[Any, Any]]) -> bool:
        """The request may offer h2c: plaintext straight to the server (an
        ``Upgrade`` is hop-by-hop: a proxy would answer it) and
        :func:`can_offer_h2c`."""
        if self.secure or self.proxy_host is not None or self._tunnel:
            return False
        return can_offer_h2c(method, body, headers)

    def _request_h2c(
        self, method: Str, url: Str, headers: list[tuple[Any, Any]], settings: bytes
    ) -> None:
        """
        Send a bodiless request offering HTTP/2 (RFC 7540 3.2) with
        ``settings`` as its ``HTTP2-Settings``; the fields are lower-case, as
        historic hyper sent them. The answer is a response, or (``101``) a
        :class:`Switched` from :meth:`_next_answer`. The hook of
        ``hyper.HTTPConnection``, which passes its HTTP/2 connection's settings.
        """
        fields = [*headers, *h2c_offer_fields(settings)]
        self._start(self._build(method, url, fields, None, final=True), None, final=True)

    def putrequest(
        self,
        method: Str,
        selector: Str,
        skip_host: bool = False,
        skip_accept_encoding: bool = False,
        **kwargs: Any,
    ) -> None:
        """
        Start a request whose headers are added with :meth:`putheader` and
        sent by :meth:`endheaders`. ``skip_accept_encoding``: the caller
        takes charge of content codings (``http.client``'s flag, with which
        xmlrpc asks for gzip and un-gzips): no ``Accept-Encoding`` of
        hyper's, and the response is not decoded unless asked. ``skip_host``
        is accepted: a
        ``Host`` the caller puts is used, and HTTP/1.1 requires one, so
        hyper's is added otherwise. Concurrency: not thread-safe.
        """
        self._pending = PendingRequest(method, selector, skip_accept_encoding)

    def putheader(
        self,
        header: Str,
        *values: Any,
        stream_id: int | None = None,
        replace: bool = False,
    ) -> None:
        """
        Add a header to the request started with :meth:`putrequest`:
        ``putheader(name, value)``; ``http.client``'s ``putheader(name,
        value, more...)`` (one field value, joined by a space) and the
        historic ``putheader(name, value, stream_id, replace)`` too.
        ``replace`` drops earlier values of that header. (``stream_id`` is
        accepted for ``HTTP20Connection`` compatibility and ignored.)

        Concurrency: not thread-safe.
        """
        value, _, replace = putheader_args(values, stream_id, replace)
        self._pending_request().add_header(header, value, replace)

    def endheaders(
        self,
        message_body: Any = None,
        final: bool = False,
        stream_id: int | None = None,
        *,
        encode_chunked: bool = False,
    ) -> None:
        """
        Send the request started with :meth:`putrequest`, then
        ``message_body`` if given. With ``final`` the request ends here (its
        Content-Length is the body's); otherwise more body may follow with
        :meth:`send` (chunked, unless a Content-Length header was put), and
        :meth:`getresponse` ends it. ``encode_chunked``: as
        :meth:`request`'s, for this body and what :meth:`send` sends.

        Concurrency: not thread-safe.
        """
        pending = self._pending_request()
        plan = None if message_body is None else RequestBody(message_body)
        head = self._build(
            pending.method, pending.url, pending.headers, plan, final, pending.skip_accept_encoding
        )
        self._pending = None
        prechunked = is_prechunked(pending.headers, encode_chunked)
        self._start(
            head, plan, final, prechunked=prechunked, decode=not pending.skip_accept_encoding
        )

    def send(self, data: Any, final: bool = False, stream_id: int | None = None) -> None:
        """
        Send more of the body of a request begun with :meth:`endheaders`;
        ``final`` ends it. Concurrency: not thread-safe.

        :raises ImproperConnectionStateError: no request body is open.
        """
        channel = self._channel
        if self._sent is None or channel is None or channel.h11.our_state is not h11.SEND_BODY:
            raise ImproperConnectionStateError("no request body is being sent")
        plan = RequestBody(data)
        reader = self._dechunk
        try:
            if reader is not None:
                for chunk in plan.chunks(self._upload_chunk):
                    self._send_prechunked(channel, reader, chunk)
                if final and not reader.done:
                    raise InvalidArgumentError(_NO_LAST_CHUNK)
                return
            for chunk in plan.chunks(self._upload_chunk):
                channel.send_data(chunk)
            if final:
                channel.send_event(h11.EndOfMessage())
        except BaseException as exc:
            self._fail_upload(channel, exc, self._sent)

    @property
    def _upload_chunk(self) -> int:
        return self.blocksize or _UPLOAD_CHUNK

    def _send_prechunked(self, channel: Channel, reader: ChunkedReader, chunk: Any) -> None:
        """Send the payload of a piece of a body the caller chunk-encoded;
        its last chunk ends the request, with its trailers."""
        for piece in reader.feed(chunk):
            channel.send_data(piece)
        if reader.done and channel.h11.our_state is h11.SEND_BODY:
            self._dechunk = None
            trailers = h11.EndOfMessage(headers=reader.trailers) if reader.trailers else None
            channel.send_event(trailers or h11.EndOfMessage())

    def _pending_request(self) -> PendingRequest:
        if self._pending is None:
            raise ImproperConnectionStateError("no request was started with putrequest()")
        return self._pending

    def _build(
        self,
        method: Str,
        url: Str,
        user: list[tuple[Any, Any]],
        plan: RequestBody | None,
        final: bool,
        skip_accept_encoding: bool = False,
    ) -> h11.Request:
        """The request head, checked by h11 without touching the socket.
        Field names keep the caller's case; hyper's own are written as
        http.client and curl write them (``Host``, ``User-Agent``...)."""
        method_b = to_bytestring(method).upper()
        target, host_value = self._target(to_bytestring(url))
        fields = http11_fields(
            method_b,
            [(to_bytestring(name), to_bytestring(value)) for name, value in user],
            host_value,
            plan.length if plan is not None and final else None,
            # Not final: more body follows (send()), of a length not known.
            plan is not None or not final,
            accept_encoding=None if skip_accept_encoding else self._accept_encoding,
            user_agent=self._user_agent,
        )
        if self._absolute and self.proxy_headers is not None:
            fields.extend(
                (to_bytestring(name), to_bytestring(value))
                for name, value in header_pairs(self.proxy_headers)
            )
        try:
            return h11.Request(method=method_b, target=target, headers=fields)
        except h11.LocalProtocolError as exc:
            raise InvalidArgumentError(f"invalid request: {exc}") from exc

    def _target(self, url: bytes) -> tuple[bytes, bytes]:
        """The request target and the Host value for ``url``: an absolute
        URL goes out in absolute form, as ``http.client`` sends it (that is
        how urllib talks to a plain-http proxy; RFC 9112 3.2.2: servers
        accept it too), with its authority as ``Host``."""
        if url[:1] in (b"?", b"#"):
            # xmlrpc writes "?k=v" for http://host?k=v: http.client sends
            # such a target as given, and servers dispatch on it.
            return url, self._authority
        target = request_target(url, self._authority)
        if target.scheme is not None:
            return url, target.authority  # as given: a proxy's digest auth signs it
        if self._absolute:
            return self._origin + target.path, target.authority
        return target.path, target.authority

    def _start(
        self,
        head: h11.Request,
        plan: RequestBody | None,
        final: bool,
        prechunked: bool = False,
        decode: bool = True,
    ) -> None:
        """Settle what the last request left on the socket, then send."""
        self._settle()
        replay = None
        if (
            final
            and not prechunked
            and head.method in _IDEMPOTENT
            and (plan is None or plan.buffer is not None)
        ):
            replay = (head, plan.buffer if plan is not None else None)
        sent = _Sent(replay, decode)
        self._dechunk = ChunkedReader() if prechunked else None
        channel = self._usable_channel()
        try:
            self._transmit(channel, head, plan, final)
        except (HyperResetError, HyperConnectionError) as exc:
            if replay is None or not channel.reused or channel.received:
                self._fail_upload(channel, exc, sent)
            else:
                # The kept-alive socket closed under a request it cannot have
                # answered; one more try on a fresh socket.
                channel.close()
                channel = self._open()
                try:
                    self._transmit(channel, head, plan, final)
                except BaseException as again:
                    self._fail_upload(channel, again, sent)
        except BaseException as exc:
            self._fail_upload(channel, exc, sent)
        self._sent = sent

    def _transmit(
        self, channel: Channel, head: h11.Request, plan: RequestBody | None, final: bool
    ) -> None:
        conn = channel.h11
        data = conn.send(head)
        reader = self._dechunk
        if reader is not None:
            if data:
                channel.send(data)
            if plan is not None:
                for chunk in plan.chunks(self._upload_chunk):
                    self._send_prechunked(channel, reader, chunk)
            if final and not reader.done:
                raise InvalidArgumentError(_NO_LAST_CHUNK)
            return
        buffer = plan.buffer if plan is not None else None
        if buffer is not None and len(buffer) <= _COALESCE:
            # Head and a small body in one write (the cast: see Channel.send_data).
            parts = [data]
            if buffer:
                parts.extend(
                    conn.send_with_data_passthrough(h11.Data(data=cast(bytes, buffer))) or ()
                )
            if final:
                parts.append(conn.send(h11.EndOfMessage()) or b"")
            channel.send(b"".join(parts))
            return
        if data:
            channel.send(data)
        if plan is not None:
            for chunk in plan.chunks(self._upload_chunk):
                channel.send_data(chunk)
        if final:
            channel.send_event(h11.EndOfMessage())

    def _fail_upload(self, channel: Channel, exc: BaseException, sent: _Sent) -> None:
        """
        Sending failed part way. If the server has already answered (a 413
        before closing, say) the request stands and its response is
        readable (``exc`` is kept as its context); otherwise the socket is
        closed and ``exc`` raised.
        """
        if (
            isinstance(exc, (HyperResetError, HyperConnectionError))
            and not channel.closed
            and channel.h11.their_state is not h11.ERROR
            and channel.is_stale()
        ):
            sent.upload_error = exc
            return
        channel.close()
        if self._channel is channel:
            self._channel = None
        self._sent = None
        if isinstance(exc, h11.LocalProtocolError):
            raise InvalidArgumentError(f"invalid request body: {exc}") from exc
        raise exc

    # ------------------------------------------------------------------
    # Responses

    def getresponse(self, stream_id: int | None = None) -> HTTP11Response:
        """
        Wait for the response to the oldest request not yet answered and
        return it. 1xx responses are skipped (kept on
        ``response.informational``). ``stream_id`` is accepted for
        ``HTTP20Connection`` compatibility and ignored.

        :raises HTTPUpgrade: the server answered ``101 Switching Protocols``
            to the request's ``Upgrade``; it carries the socket (and the
            bytes read past the 101) and this connection forgets both.
        :raises ImproperConnectionStateError: no request is waiting.
        :raises InvalidResponseError: the server did not speak HTTP/1.1.
        :raises ConnectionResetError: the server closed the connection
            before a complete response head.
        :raises TimeoutError: no response within the read timeout (call
            again to keep waiting).

        Concurrency: not thread-safe.
        """
        answer = self._next_answer()
        if type(answer) is Switched:
            raise HTTPUpgrade(answer.protocol, answer.sock, answer.data)
        return cast(HTTP11Response, answer)

    get_response = getresponse

    def _next_answer(self) -> _Answer:
        """:meth:`getresponse`, returning a switch of protocols as a
        :class:`Switched` (the socket is then the caller's) instead of
        raising it."""
        if self._ready:
            ready = self._ready.popleft()
            if isinstance(ready, BaseException):
                raise ready
            return ready
        sent = self._sent
        channel = self._channel
        if sent is None or channel is None:
            raise ImproperConnectionStateError("no request is waiting for its response")
        return self._receive(channel, sent)

    def _receive(self, channel: Channel, sent: _Sent) -> _Answer:
        self._dechunk = None
        if channel.h11.our_state is h11.SEND_BODY and sent.upload_error is None:
            try:
                channel.send_event(h11.EndOfMessage())  # ends a putrequest() body
            except BaseException as exc:
                self._fail_upload(channel, exc, sent)
        try:
            head = self._read_head(channel, sent)
        except HyperTimeoutError:
            raise
        except HyperResetError as exc:
            if sent.replay is None or not channel.reused or channel.received:
                self._lose(channel, sent, exc)
            # RFC 9112 9.3.1.1: the server closed the kept-alive connection
            # as the request crossed it; nothing came back, so repeating an
            # idempotent request is safe. Once.
            channel.close()
            request, body = sent.replay
            try:
                channel = self._open()
                self._transmit(channel, request, RequestBody(body) if body else None, True)
                head = self._read_head(channel, sent)
            except HyperTimeoutError:
                raise
            except BaseException as again:
                self._lose(channel, sent, again)
        except BaseException as exc:
            self._lose(channel, sent, exc)
        self._sent = None
        if head.status_code == 101:
            # Switching Protocols to the request's Upgrade: the socket now
            # speaks something else. It goes to the caller, with what was
            # read past the 101; this connection forgets both.
            if self._channel is channel:
                self._channel = None
            negotiated = b",".join(v for n, v in head.headers if n == b"upgrade")
            data, _ = channel.h11.trailing_data
            protocol = negotiated.decode("latin-1").strip().lower()
            return Switched(protocol, channel.sock, bytes(data))
        if head.http_version not in (b"1.0", b"1.1"):
            self._lose(
                channel,
                sent,
                UnknownProtocol(
                    f"{channel.where} answered in HTTP/{head.http_version.decode('ascii')}",
                    f"HTTP/{head.http_version.decode('ascii')}",
                ),
            )
        response = self.response_class(head, sent.informational, channel, self._response_ended)
        response._decode_default = sent.decode
        self._reading = response
        response._take_buffered()
        if self.debuglevel > 0:
            print_response(response)
        return response

    def _read_head(
        self, channel: Channel, sent: _Sent
    ) -> h11.Response | h11.InformationalResponse:
        while True:
            event = channel.next_event()
            if type(event) is h11.Response:
                return event
            if type(event) is h11.InformationalResponse:
                if event.status_code == 101 and channel.h11.their_state is h11.SWITCHED_PROTOCOL:
                    return event
                sent.informational.append(event)
                continue
            channel.close()
            raise InvalidResponseError(f"expected a response from {channel.where}, got {event!r}")

    def _lose(self, channel: Channel, sent: _Sent, exc: BaseException) -> NoReturn:
        """Reading the response failed: drop the socket and raise (the
        failure to send the body, if any, as the context)."""
        channel.close()
        if self._channel is channel:
            self._channel = None
        self._sent = None
        if sent.upload_error is not None and exc.__context__ is None:
            exc.__context__ = sent.upload_error
        raise exc

    def _settle(self) -> None:
        """
        Before a new request: read the head of a response nobody asked for
        yet (kept for getresponse()), and the rest of an unfinished body.
        """
        if self._sent is not None and self._channel is not None:
            try:
                self._ready.append(self._receive(self._channel, self._sent))
            except HyperTimeoutError:
                raise
            except HyperError as exc:
                self._ready.append(exc)
        reading = self._reading
        if reading is not None:
            self._reading = None
            reading._drain(keep=not reading.closed)

    def _response_ended(self, response: HTTP11Response, channel: Channel) -> None:
        """A response's body was read to its end: the socket is free."""
        if self._reading is response:
            self._reading = None
        if channel is self._channel:
            if not channel.next_cycle():
                self._channel = None
        else:
            channel.close()

    # ------------------------------------------------------------------
    # Closing

    def close(self) -> None:
        """
        Close the socket. Responses still being read raise
        ``ConnectionError`` past what they hold already. The object may be
        used again: the next request connects anew.

        Concurrency: not thread-safe.
        """
        reason = "the connection was closed before the response was read"
        if self._reading is not None:
            self._reading._detach(reason)
        for ready in self._ready:
            if isinstance(ready, HTTP11Response):
                ready._detach(reason)
            elif type(ready) is Switched:
                ready.sock.close()  # nobody took it
        self._reading = None
        self._ready.clear()
        self._sent = None
        self._pending = None
        self._dechunk = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"<HTTP11Connection {scheme}://{self._authority.decode()}>"
