"""
:class:`HTTPConnection`: one connection to an origin that speaks HTTP/2 when
the server does and HTTP/1.1 otherwise, behind the same API.

How the protocol is chosen, once per connection (again after ``close()``):

- TLS: an :class:`HTTP11Connection` connects (through the proxy's CONNECT
  tunnel if any) offering ``h2`` and ``http/1.1`` through ALPN (set on a
  caller's ``ssl_context`` too). If the server picks ``h2`` (or
  ``force_proto`` says so) it raises :class:`TLSUpgrade` carrying the socket,
  and the socket goes to an :class:`HTTP20Connection`; otherwise the
  HTTP/1.1 connection carries on.
- Plaintext, ``force_proto='h2'`` (or ``'h2c'``): HTTP/2 with prior knowledge.
- Plaintext otherwise: HTTP/1.1. The first request that can carry it also
  offers HTTP/2 (``upgrade: h2c``, RFC 7540 3.2; the rule is
  :func:`hyper.common._request.can_offer_h2c`, the one ``HTTP11Connection``
  follows alone: no body, no proxy). A ``101`` hands the socket to an
  :class:`HTTP20Connection`, where the response to that request arrives on
  stream 1; any other answer is that request's HTTP/1.1 response, and the
  connection stays on HTTP/1.1 without asking again.

Sockets change hands without exceptions: over TLS
:class:`HTTP11Connection` raises :class:`TLSUpgrade` only towards this class
(which asked for h2 too, the historic hand-over), and the h2c answer is read
with ``HTTP11Connection._next_answer``, which returns the switch as a record
(:class:`~hyper.http11.connection.Switched`); either socket goes to
``HTTP20Connection._adopt_socket``. ``HTTP11Connection.getresponse`` raises
that record as :class:`HTTPUpgrade` (carrying the socket) for historic
callers only.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from typing import Any, TypeVar, Union, cast

from hyper import tls
from hyper.common._request import header_pairs, putheader_args
from hyper.common.exceptions import HyperError, InvalidResponseError, TLSUpgrade
from hyper.common.types import HeadersArg, Str, Timeout
from hyper.common.util import HTTPVersion
from hyper.engine.window import BaseFlowControlManager
from hyper.http11.connection import HTTP11Connection, ImproperConnectionStateError, Switched
from hyper.http11.response import HTTP11Response
from hyper.http20.connection import HTTP20Connection
from hyper.http20.response import HTTP20Push, HTTP20Response
from hyper.net.connect import _DEFAULT_TIMEOUT, HTTPClientTarget, ProxyHeaders
from hyper.tls import H2_NPN_PROTOCOLS, H2C_PROTOCOL, SUPPORTED_NPN_PROTOCOLS

__all__ = ["HTTPConnection", "HTTPSConnection", "UnsupportedOperationError"]

_T = TypeVar("_T")
_C = TypeVar("_C", HTTP11Connection, HTTP20Connection)
_Conn = Union[HTTP11Connection, HTTP20Connection]

# force_proto values meaning HTTP/2 with prior knowledge on a plaintext socket.
_PRIOR_KNOWLEDGE = {*H2_NPN_PROTOCOLS, H2C_PROTOCOL}


class UnsupportedOperationError(HyperError, NotImplementedError):
    """The operation exists only in the other HTTP version (``ping`` on HTTP/1.1)."""


class HTTPConnection(HTTPClientTarget):
    """
    A connection to one origin speaking HTTP/2 or HTTP/1.1, whichever the
    server supports (see the module docstring for how that is decided).

    Takes :class:`HTTP20Connection`'s parameters; ``window_manager`` and
    ``enable_push`` only matter once HTTP/2 is in use, and ``**kwargs`` are
    passed on to whichever connection class is used.

    :param ssl_context: a context of your own (TLS unless ``secure=False``);
        ALPN ``h2`` and ``http/1.1`` are set on it when connecting.
    :param force_proto: over TLS, the protocol to speak whatever ALPN says
        (``'h2'`` or ``'http/1.1'``); over plaintext, ``'h2'`` (or ``'h2c'``)
        means HTTP/2 with prior knowledge and ``'http/1.1'`` never asks for
        the upgrade.
    :param source_address: the local ``(host, port)`` to connect from.
    :param blocksize: the most bytes read at once from a file body.
    :param context: ``http.client``'s name for ``ssl_context``.

    ``http.client.HTTPConnection``'s calls and attributes work as there
    (see :doc:`compat`); :class:`HTTPSConnection` takes
    ``http.client.HTTPSConnection``'s arguments.

    ``version`` is the protocol in use (:class:`HTTPVersion`): before the
    first connection, the one that will be tried first (HTTP/2 over TLS or
    with prior knowledge, HTTP/1.1 otherwise); it may change when the server
    answers, and is final once a response arrived.

    Concurrency: once HTTP/2 is in use, as thread-safe as
    :class:`HTTP20Connection`. While on HTTP/1.1 (and until an upgrade has
    been answered), one request and response at a time, as with
    :class:`HTTP11Connection`; switching protocols is serialised by a lock.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        secure: bool | None = None,
        window_manager: type[BaseFlowControlManager] | None = None,
        enable_push: bool = False,
        ssl_context: Any = None,
        proxy_host: str | None = None,
        proxy_port: int | None = None,
        proxy_headers: ProxyHeaders = None,
        force_proto: str | None = None,
        timeout: Timeout = None,
        *,
        source_address: tuple[str, int] | None = None,
        blocksize: int | None = None,
        context: Any = None,
        **kwargs: Any,
    ) -> None:
        self._conn: _Conn | None = None
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
        self.force_proto = force_proto
        self._window_manager = window_manager
        self._enable_push = enable_push
        self._kwargs = kwargs
        # Guards _conn, _upgrade and _early; held while a protocol is chosen
        # (connecting) and while an HTTP/1.1 request or response is under way.
        # Never held for HTTP/2 requests once the choice is made.
        self._lock = threading.Lock()
        # The HTTP/2 connection waiting for the answer to an upgrade request.
        self._upgrade: HTTP20Connection | None = None
        # The server answered an upgrade request without switching: don't ask again.
        self._upgrade_declined = force_proto is not None
        # That answer, an HTTP/1.1 response read while looking for a 101.
        self._early: HTTP11Response | None = None
        # Per thread: whether its last request asked for the upgrade (its
        # response is then on stream 1 if the server switched).
        self._local = threading.local()
        self._version = self._first_version()

    def _first_version(self) -> HTTPVersion:
        if self.secure:
            if self.force_proto is not None and self.force_proto not in H2_NPN_PROTOCOLS:
                return HTTPVersion.http11
            return HTTPVersion.http20
        if self.force_proto in _PRIOR_KNOWLEDGE:
            return HTTPVersion.http20
        return HTTPVersion.http11

    @property
    def version(self) -> HTTPVersion:
        """The HTTP version in use (see the class docstring)."""
        conn = self._conn
        return self._version if conn is None else conn.version

    # ------------------------------------------------------------------
    # Choosing the protocol (called with _lock held)

    def _h2(self) -> HTTP20Connection:
        return self._inherit(
            HTTP20Connection(
                self.host,
                self.port,
                secure=self.secure,
                window_manager=self._window_manager,
                enable_push=self._enable_push,
                ssl_context=self.ssl_context,
                proxy_host=self.proxy_host,
                proxy_port=self.proxy_port,
                proxy_headers=self.proxy_headers,
                force_proto=self.force_proto,
                timeout=self.timeout,
                source_address=self.source_address,
                blocksize=self.blocksize,
                **self._kwargs,
            )
        )

    def _h1(self) -> HTTP11Connection:
        h1 = self._inherit(
            HTTP11Connection(
                self.host,
                self.port,
                secure=self.secure,
                ssl_context=self.ssl_context,
                proxy_host=self.proxy_host,
                proxy_port=self.proxy_port,
                proxy_headers=self.proxy_headers,
                timeout=self.timeout,
                source_address=self.source_address,
                blocksize=self.blocksize,
                **self._kwargs,
            )
        )
        h1._offer_h2c = False  # this class offers h2c itself, with its h2's settings
        return h1

    def _inherit(self, conn: _C) -> _C:
        """What set_tunnel, set_debuglevel and auto_open set here, on the
        connection chosen."""
        if self._tunnel:
            conn._tunnel = True
            conn._target_changed()
        conn.set_debuglevel(self.debuglevel)
        conn.auto_open = self.auto_open
        return conn

    # ------------------------------------------------------------------
    # http.client's connection attributes

    def _is_connected(self) -> bool:
        conn = self._conn
        return conn is not None and conn._is_connected()

    @property
    def sock(self) -> Any:
        """The socket of the connection in use (see
        :attr:`HTTP20Connection.sock` and :attr:`HTTP11Connection.sock`);
        None when not connected. Assigning None is harmless as there."""
        conn = self._conn
        return None if conn is None else conn.sock

    @sock.setter
    def sock(self, sock: Any) -> None:
        conn = self._conn
        if sock is None:
            if conn is not None:
                conn.sock = None
            return
        with self._lock:
            if self._conn is not None:
                self._conn.sock = sock
                return
            selected = getattr(sock, "selected_alpn_protocol", None)
            proto = selected() if selected is not None else None
            prior = not self.secure and self.force_proto in _PRIOR_KNOWLEDGE
            if proto in H2_NPN_PROTOCOLS or prior:
                new: _Conn = self._h2()
            else:
                new = self._h1()
            new.sock = sock
            self._conn = new
            self._version = new.version

    @property
    def response_class(self) -> type[HTTP11Response] | type[HTTP20Response]:
        """The class of the responses of the protocol in use (``http.client``'s
        name): :class:`HTTP20Response` or :class:`HTTP11Response`."""
        conn = self._conn
        if conn is not None:
            return conn.response_class
        return HTTP20Response if self.version is HTTPVersion.http20 else HTTP11Response

    def set_debuglevel(self, level: int) -> None:
        super().set_debuglevel(level)
        conn = self._conn
        if conn is not None:
            conn.set_debuglevel(level)

    def _choose(self) -> _Conn:
        """The connection to use from now on; over TLS this connects."""
        if self.secure:
            conn: _Conn = self._negotiate_tls()
        elif self.force_proto in _PRIOR_KNOWLEDGE:
            conn = self._h2()
        else:
            conn = self._h1()
        self._version = conn.version
        return conn

    def _negotiate_tls(self) -> _Conn:
        h1 = self._h1()
        forced = self.force_proto
        # A forced protocol is the only one offered: forcing HTTP/1.1 while
        # offering h2 too would speak HTTP/1.1 on a connection the server
        # took for HTTP/2.
        h1._alpn_offer = SUPPORTED_NPN_PROTOCOLS if forced is None else [forced]
        h1._force_proto = forced
        try:
            h1.connect()
        except TLSUpgrade as upgrade:
            sock = upgrade.sock
            try:
                if upgrade.negotiated not in H2_NPN_PROTOCOLS:
                    raise
                h2 = self._h2()
                h2._adopt_socket(sock)
            except BaseException:
                sock.close()
                raise
            return h2
        finally:
            # Reconnecting later (a kept-alive socket the server closed) is
            # HTTP/1.1's own business: it offers only http/1.1 again.
            h1._alpn_offer = None
        return h1

    def _current(self) -> _Conn:
        """The chosen connection, choosing (and settling an upgrade) if needed."""
        conn = self._conn
        if isinstance(conn, HTTP20Connection):
            return conn
        with self._lock:
            if self._upgrade is not None:
                self._settle_upgrade()
            if self._conn is None:
                self._conn = self._choose()
            return self._conn

    # ------------------------------------------------------------------
    # The h2c upgrade

    def _can_upgrade(
        self, h1: HTTP11Connection, method: Str, body: Any, headers: list[tuple[Any, Any]]
    ) -> bool:
        if self._upgrade_declined:
            return False
        return h1._can_offer_h2c(method, body, headers)

    def _request_upgrade(
        self, h1: HTTP11Connection, method: Str, url: Str, headers: list[tuple[Any, Any]]
    ) -> None:
        h2 = self._h2()
        h1._request_h2c(method, url, headers, h2._prepare_upgrade())
        self._upgrade = h2
        self._local.upgrading = True

    def _settle_upgrade(self) -> None:
        """
        Read the answer to the upgrade request: on ``101`` switch to the
        waiting HTTP/2 connection (the response is then on stream 1), else
        keep the HTTP/1.1 response for the next ``getresponse``.
        """
        h2, self._upgrade = self._upgrade, None
        h1 = self._conn
        if h2 is None or not isinstance(h1, HTTP11Connection):
            return
        try:
            answer = h1._next_answer()
        except BaseException:
            self._upgrade = h2  # a timeout, say: the next call reads on
            raise
        if type(answer) is Switched:
            self._switch_to_h2c(h2, answer)
            return
        self._upgrade_declined = True  # it will say no again: ask only once
        self._early = cast(HTTP11Response, answer)

    def _switch_to_h2c(self, h2: HTTP20Connection, upgrade: Switched) -> None:
        self._conn = None
        self._upgrade_declined = True  # whatever happens next, never ask again
        try:
            # A 101 names the protocol switched to (RFC 9110 15.2.2); one
            # that names none is taken as the h2c we asked for.
            if upgrade.protocol not in (H2C_PROTOCOL, ""):
                raise InvalidResponseError(
                    f"{self.host}:{self.port} switched to {upgrade.protocol!r}, not h2c"
                )
            h2._adopt_socket(upgrade.sock, upgrade.data)
        except BaseException:
            upgrade.sock.close()
            raise
        self._upgrade_declined = False
        self._conn = h2
        self._version = HTTPVersion.http20

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
    ) -> int | None:
        """
        Send a request. Returns the stream id over HTTP/2 (pass it to
        :meth:`getresponse`), None over HTTP/1.1; see
        :meth:`HTTP20Connection.request` for the arguments.

        Concurrency: thread-safe once on HTTP/2; see the class docstring.
        """
        self._local.upgrading = False
        conn = self._conn
        if isinstance(conn, HTTP20Connection):
            return conn.request(method, url, body, headers, encode_chunked=encode_chunked)
        with self._lock:
            if self._upgrade is not None:
                self._settle_upgrade()
            if self._conn is None:
                self._conn = self._choose()
            conn = self._conn
            if isinstance(conn, HTTP11Connection):
                pairs = header_pairs(headers)
                if self._can_upgrade(conn, method, body, pairs):
                    self._request_upgrade(conn, method, url, pairs)
                    return None
                conn.request(method, url, body, pairs, encode_chunked=encode_chunked)
                return None
        return conn.request(method, url, body, headers, encode_chunked=encode_chunked)

    def putrequest(
        self,
        method: Str,
        selector: Str,
        skip_host: bool = False,
        skip_accept_encoding: bool = False,
        **kwargs: Any,
    ) -> int | None:
        """
        Start a request to be completed with :meth:`putheader` and
        :meth:`endheaders` (never asks for an upgrade); the flags are
        ``http.client``'s (see :meth:`HTTP11Connection.putrequest`).

        Concurrency: as :meth:`request`.
        """
        return self._current().putrequest(
            method, selector, skip_host, skip_accept_encoding, **kwargs
        )

    def putheader(
        self, header: Str, *values: Any, stream_id: int | None = None, replace: bool = False
    ) -> None:
        """Add a header to the request started by :meth:`putrequest` (see
        :meth:`HTTP20Connection.putheader` for the call shapes)."""
        value, stream_id, replace = putheader_args(values, stream_id, replace)
        self._current().putheader(header, value, stream_id=stream_id, replace=replace)

    def endheaders(
        self,
        message_body: Any = None,
        final: bool = False,
        stream_id: int | None = None,
        *,
        encode_chunked: bool = False,
    ) -> None:
        """Send the headers of the request started by :meth:`putrequest`."""
        self._current().endheaders(
            message_body, final, stream_id, encode_chunked=encode_chunked
        )

    def send(self, data: Any, final: bool = False, stream_id: int | None = None) -> None:
        """Send more of the body of the request started by :meth:`putrequest`."""
        self._current().send(data, final, stream_id)

    # ------------------------------------------------------------------
    # Responses

    def getresponse(self, stream_id: int | None = None) -> HTTP11Response | HTTP20Response:
        """
        The response to a request: by ``stream_id`` over HTTP/2 (None: this
        thread's last request), the pending one over HTTP/1.1. The response
        to a request that asked for the upgrade is an :class:`HTTP20Response`
        on stream 1 when the server switched.

        Concurrency: thread-safe once on HTTP/2; see the class docstring.
        """
        upgrading = getattr(self._local, "upgrading", False)
        self._local.upgrading = False
        conn = self._conn
        if not isinstance(conn, HTTP20Connection) or upgrading:
            with self._lock:
                if self._upgrade is not None:
                    self._settle_upgrade()
                early, self._early = self._early, None
                if early is not None:
                    return early
                conn = self._conn
                if conn is None:
                    raise ImproperConnectionStateError("no request is waiting for its response")
                if isinstance(conn, HTTP11Connection):
                    # A 101 here answers an Upgrade of the caller's own: its
                    # HTTPUpgrade hands the socket to the caller.
                    return conn.getresponse()
            if upgrading and stream_id is None:
                stream_id = 1
        return conn.getresponse(stream_id)

    get_response = getresponse

    @property
    def peer_max_concurrent_streams(self) -> int | None:
        """Over HTTP/2, see :attr:`HTTP20Connection.peer_max_concurrent_streams`;
        None otherwise."""
        conn = self._conn
        return conn.peer_max_concurrent_streams if isinstance(conn, HTTP20Connection) else None

    def reset_stream(self, stream_id: int) -> None:
        """
        Over HTTP/2, give up on a request whose response was not taken: see
        :meth:`HTTP20Connection.reset_stream`. Over HTTP/1.1 there is no
        stream to reset: close the connection instead.

        Concurrency: thread-safe.
        """
        conn = self._conn
        if isinstance(conn, HTTP20Connection):
            conn.reset_stream(stream_id)
        else:
            raise UnsupportedOperationError("only HTTP/2 streams can be reset; close instead")

    def get_pushes(
        self, stream_id: int | None = None, capture_all: bool = False
    ) -> Iterator[HTTP20Push]:
        """
        The resources the server pushed on a stream (see
        :meth:`HTTP20Connection.get_pushes`); HTTP/1.1 has none.

        Concurrency: as :meth:`HTTP20Connection.get_pushes`.
        """
        conn = self._current()
        if isinstance(conn, HTTP20Connection):
            return conn.get_pushes(stream_id, capture_all)
        return iter(())

    def ping(self, opaque_data: Str) -> float:
        """
        Send an HTTP/2 PING and return the round-trip time in seconds.

        :raises UnsupportedOperationError: the connection speaks HTTP/1.1.

        Concurrency: thread-safe.
        """
        conn = self._current()
        if isinstance(conn, HTTP20Connection):
            return conn.ping(opaque_data)
        raise UnsupportedOperationError("PING exists only in HTTP/2; this connection is HTTP/1.1")

    # ------------------------------------------------------------------
    # Connecting and closing

    def connect(self) -> None:
        """
        Connect now (and over TLS learn which protocol the server speaks)
        instead of at the first request.

        :raises ConnectionError: the server could not be reached.
        :raises ProxyError: the proxy refused the tunnel.
        :raises TimeoutError: the connect timeout passed.

        Concurrency: thread-safe.
        """
        conn = self._current()
        if isinstance(conn, HTTP20Connection):
            # Connected, the protocol chosen; the server's SETTINGS are not
            # waited for, so the first request still goes out behind the
            # preface (HTTP20Connection.connect() waits for them).
            conn._usable_session()
        else:
            conn.connect()

    def close(self, error_code: int | None = None) -> None:
        """
        Close the connection (over HTTP/2 with GOAWAY carrying
        ``error_code``). The object may be used again: the next request
        connects anew and chooses the protocol again.

        Concurrency: thread-safe; waits for an HTTP/1.1 exchange (or an
        upgrade being answered) in progress on another thread to finish.
        """
        with self._lock:
            conn, self._conn = self._conn, None
            upgrade, self._upgrade = self._upgrade, None
            early, self._early = self._early, None
        if early is not None:
            early.close()
        if upgrade is not None:
            upgrade.close()
        if isinstance(conn, HTTP20Connection):
            conn.close(error_code)
        elif conn is not None:
            conn.close()

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        name = type(self).__name__
        return f"<{name} {scheme}://{host}:{self.port} {self.version.value}>"


class HTTPSConnection(HTTPConnection):
    """
    :class:`HTTPConnection` over TLS, with ``http.client.HTTPSConnection``'s
    arguments (and HTTPConnection's others as keywords): HTTP/2 when the
    server agrees through ALPN, HTTP/1.1 otherwise.

    :param context: the ``ssl.SSLContext`` to use (hyper's default when
        None); ALPN ``h2`` and ``http/1.1`` are set on it.
    :param key_file, cert_file: a client certificate, loaded into the
        context (``http.client``'s deprecated arguments; Python 3.12 removed
        them there).
    :param check_hostname: set on the context when given (likewise).
    """

    default_port = 443

    def __init__(
        self,
        host: str,
        port: int | None = None,
        key_file: str | None = None,
        cert_file: str | None = None,
        timeout: Any = _DEFAULT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
        *,
        context: ssl.SSLContext | None = None,
        check_hostname: bool | None = None,
        blocksize: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("secure", None)
        ssl_context = kwargs.pop("ssl_context", None)
        if context is None:
            context = ssl_context
        if key_file is not None or cert_file is not None or check_hostname is not None:
            if context is None:
                context = tls.init_context()
            if check_hostname is not None:
                context.check_hostname = check_hostname
            if cert_file is not None:
                context.load_cert_chain(cert_file, key_file)
        super().__init__(
            host,
            port,
            secure=True,
            timeout=timeout,
            source_address=source_address,
            blocksize=blocksize,
            context=context,
            **kwargs,
        )
