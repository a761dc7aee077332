"""
:class:`HTTP20Connection`: the ``http.client``-style, thread-safe HTTP/2
client connection.

One object stands for "HTTP/2 to this origin". Underneath it is a
:class:`~hyper.drivers.sync_h2.Session` (one socket, one engine), replaced
transparently by a new one when the server sends GOAWAY or the connection
fails: streams already open on the old session finish there, new requests go
to the new one. Stream ids keep rising across sessions, so an id names one
request for the object's lifetime. That policy is
:class:`~hyper.core.origin.OriginPolicy`'s; this module connects, under
``_connect_lock``, when it says so.

Requests may be made, and responses read, from any number of threads at
once; see :mod:`hyper.drivers.sync_h2` for how the socket is shared without
a background thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, TypeVar

from hyper.common._chunked import ChunkedReader
from hyper.common._request import (
    UPLOAD_CHUNK,
    RequestBody,
    RequestDefaults,
    header_pairs,
    is_prechunked,
    lower_name,
    putheader_args,
    upload_read_size,
)
from hyper.common.debug import print_request_fields, print_response
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import InvalidArgumentError, NotConnected, RemoteDisconnected
from hyper.common.types import HeadersArg, Str, Timeout
from hyper.common.util import HTTPVersion
from hyper.core.client import normalize_origin
from hyper.core.origin import OriginPolicy
from hyper.core.streams import StreamBuffer, ping_data
from hyper.drivers.sync_h2 import Session
from hyper.engine.config import EngineConfig, SettingCodes
from hyper.engine.engine import Engine
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import ConnectionLostError, StreamStateError
from hyper.engine.frames import data_layout, data_layout_size
from hyper.engine.window import BaseFlowControlManager, FlowControlManager
from hyper.http20.response import HTTP20Push, HTTP20Response, push_for
from hyper.net.connect import HTTPClientTarget, ProxyHeaders, open_socket
from hyper.tls import H2_NPN_PROTOCOLS as H2_NPN_PROTOCOLS
from hyper.tls import H2C_PROTOCOL as H2C_PROTOCOL

# Historic module-level names (hyper 0.7): the two above, and the window
# every HTTP/2 stream starts with before SETTINGS change it (RFC 9113 6.9.2).
DEFAULT_WINDOW_SIZE = 65535

__all__ = ["HTTP20Connection"]

_T = TypeVar("_T")


class _LastStream(threading.local):
    """Each thread's last stream id: ``getresponse()`` without one means the
    calling thread's last request."""

    stream_id: int | None = None


def _certificate_names(sock: socket.socket) -> tuple[bytes, ...]:
    """The DNS names a verified server certificate covers (none in cleartext
    or unverified TLS): the hosts whose pushes the connection accepts."""
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return ()
    try:
        cert = getpeercert()
    except (OSError, ValueError):
        return ()
    if not cert:
        return ()
    return tuple(
        str(value).lower().encode("ascii", "ignore")
        for kind, value in cert.get("subjectAltName", ())
        if kind == "DNS"
    )


class _LostBeforeAnswer(ConnectionLostError, RemoteDisconnected):
    """The connection was lost before a byte of this stream's response
    came: what ``http.client`` calls ``RemoteDisconnected`` (xmlrpc sends
    the request again on it), still a :class:`ConnectionLostError`."""


def _has_length(headers: list[tuple[Any, Any]]) -> bool:
    return any(lower_name(name) == b"content-length" for name, _ in headers)


class HTTP20Connection(HTTPClientTarget):
    """
    An HTTP/2 connection to one server, shared safely by any number of threads.

    :param host: the host to connect to, optionally with a port:
        ``'example.com'``, ``'example.com:8443'``, ``'[::1]:8443'``.
    :param port: the port; default 443 (or the one in ``host``).
    :param secure: use TLS; defaults to True when ``port == 443`` or an
        ``ssl_context`` is given. A plaintext connection speaks HTTP/2 with
        prior knowledge (h2c).
    :param window_manager: the :class:`BaseFlowControlManager` subclass that
        decides when to give receive window back (default
        :class:`FlowControlManager`).
    :param enable_push: let the server push responses (see
        :meth:`get_pushes` and :attr:`HTTP20Response.pushes`).
    :param ssl_context: the ``ssl.SSLContext`` to use instead of hyper's
        default (:func:`hyper.tls.init_context`).
    :param proxy_host: an HTTP proxy to tunnel through (CONNECT), optionally
        with a port (default 8080) and ``user:password@`` (sent as
        ``Proxy-Authorization: Basic``).
    :param proxy_port: the proxy's port.
    :param proxy_headers: extra headers for the CONNECT request (e.g.
        ``Proxy-Authorization``), sent to the proxy only.
    :param force_proto: the protocol to assume instead of what ALPN says.
    :param timeout: seconds, or a ``(connect, read)`` pair. The read timeout
        bounds each waiting call (a ``getresponse``, a ``read``, a wait for
        flow-control window or a free stream slot) and raises
        :class:`hyper.common.exceptions.TimeoutError` for that call only.
    :param initial_window_size: the receive window advertised for each
        stream (SETTINGS_INITIAL_WINDOW_SIZE); default 1 MiB.
    :param source_address: the local ``(host, port)`` to connect from.
    :param blocksize: the most bytes read at once from a file body.
    :param context: ``http.client``'s name for ``ssl_context``.

    The rest of the ``http.client`` surface (``set_tunnel``,
    ``set_debuglevel``, ``sock``, ``auto_open``, ``response_class``,
    ``encode_chunked``...) is described in :doc:`compat`.
    """

    version = HTTPVersion.http20
    default_port = 443
    #: The class :meth:`getresponse` returns (``http.client``'s name); set a
    #: subclass of :class:`HTTP20Response` to get yours.
    response_class: type[HTTP20Response] = HTTP20Response
    # connect() is running (auto_open=0 lets only it connect).
    _connecting = False

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
        initial_window_size: int | None = None,
        *,
        source_address: tuple[str, int] | None = None,
        blocksize: int | None = None,
        context: Any = None,
        **kwargs: Any,
    ) -> None:
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
        self._window_manager = window_manager or FlowControlManager
        # Given to the engine only when set, so its defaults live in one place.
        self._engine_options: dict[str, Any] = {}
        if initial_window_size is not None:
            self._engine_options["initial_window_size"] = initial_window_size
        self._enable_push = enable_push

        self._origin: OriginPolicy[Session] = OriginPolicy(
            f"{self.host}:{self.port}", _LastStream()
        )
        # Serialises connecting (and the policy's choices that go with it);
        # held while a new socket is set up, and only then.
        self._connect_lock = threading.Lock()
        # The engine of an h2c upgrade in progress (see _prepare_upgrade).
        self._upgrade_engine: Engine | None = None
        # Streams of putrequest(skip_accept_encoding=True): the caller takes
        # charge of content codings, so their responses are not decoded by
        # default (see BaseResponse).
        self._raw_streams: set[int] = set()
        # Streams endheaders() left open with a Content-Length put (the
        # http.client way): getresponse() ends them.
        self._open_uploads: set[int] = set()
        # Streams whose body the caller chunk-encodes (http.client's
        # Transfer-Encoding without encode_chunked), with their readers.
        self._dechunkers: dict[int, ChunkedReader] = {}

    def _target_changed(self) -> None:
        self._defaults = RequestDefaults(self.host, self.port, self.secure)
        origin = getattr(self, "_origin", None)
        if origin is not None:
            origin.where = f"{self.host}:{self.port}"

    def _is_connected(self) -> bool:
        return self._origin.current is not None

    @property
    def sock(self) -> Any:
        """
        The socket of the connection new streams go on (a ``TLSSocket``
        over TLS), None when not connected. ``sock.close()`` closes it once
        hyper is done with it: the connection keeps the descriptor while
        streams are being read (urllib closes it right after
        ``getresponse()``). Assigning None is accepted and changes nothing:
        HTTP/2 carries the next requests on the same connection. Assigning a
        connected socket (in an overridden :meth:`connect`, say) speaks
        HTTP/2 on it.
        """
        session = self._origin.current
        return None if session is None else session.sock

    @sock.setter
    def sock(self, sock: Any) -> None:
        if sock is not None:
            self._adopt_socket(sock)

    # ------------------------------------------------------------------
    # Connecting

    def connect(self) -> None:
        """
        Connect (TCP, TLS with ALPN ``h2``, preface) unless already
        connected, and complete the SETTINGS exchange: return once the
        server's SETTINGS have arrived (so its limits, a small
        INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS or MAX_FRAME_SIZE,
        govern everything sent after) and it acknowledged ours, as historic
        ``connect()`` did. A request without ``connect()`` first does not
        wait: it goes out right behind the preface, a round trip sooner.

        :raises ConnectionError: the server could not be reached or does not
            speak HTTP/2.
        :raises TimeoutError: the handshake took longer than the connect
            timeout (the read timeout when only that is set).
        :raises SettingsTimeoutError: no timeout set, and the server left our
            SETTINGS unacknowledged past the engine's ``settings_timeout``.

        Concurrency: thread-safe; concurrent calls make one connection.
        """
        self._connecting = True
        try:
            session = self._usable_session()
        finally:
            self._connecting = False
        session.wait_handshake(self._handshake_timeout())

    def _usable_session(self) -> Session:
        """The session new streams go on, connecting when there is none. A
        new session does not wait for the server's SETTINGS: the first
        request goes out behind the preface (see ClientCore)."""
        session = self._origin.current
        if session is not None and session.is_usable:
            return session
        return self._choose_session()

    def _choose_session(self) -> Session:
        """The session new streams go on, connecting if there is none
        (another thread may have, while this one waited for the lock)."""
        with self._connect_lock:
            origin = self._origin
            session = origin.choose()
            if session is None:
                if not self.auto_open and not self._connecting:
                    where = f"{self.host}:{self.port}"
                    raise NotConnected(f"not connected to {where} (auto_open is 0)")
                session = self._new_session()
                origin.adopt(session)
            return session

    def _new_session(self) -> Session:
        sock, proto = open_socket(
            self.host,
            self.port,
            secure=self.secure,
            connect_timeout=self._connect_timeout,
            ssl_context=self.ssl_context,
            force_proto=self.force_proto,
            proxy_host=self.proxy_host,
            proxy_port=self.proxy_port,
            proxy_headers=self.proxy_headers,
            alpn_protocols=H2_NPN_PROTOCOLS,
            source_address=self.source_address,
        )
        if self.secure and proto != "h2" and self.force_proto is None:
            sock.close()
            raise HyperConnectionError(
                f"{self.host}:{self.port} did not agree to HTTP/2 (ALPN chose {proto!r}); "
                "hyper.HTTPConnection falls back to HTTP/1.1"
            )
        return self._start_session(sock, self._new_engine())

    def _new_engine(self) -> Engine:
        return Engine(
            EngineConfig(
                client_side=True,
                window_manager=self._window_manager,
                clock=time.monotonic,
                enable_push=self._enable_push,
                **self._engine_options,
            )
        )

    def _start_session(
        self, sock: socket.socket, engine: Engine, upgraded: bool = False, received: bytes = b""
    ) -> Session:
        first_id = self._origin.first_stream_id(upgraded)
        session = Session(sock, engine, read_timeout=self._read_timeout, first_stream_id=first_id)
        if self._enable_push:
            defaults = self._defaults
            session.core.origin = normalize_origin(defaults.scheme, defaults.authority)
            session.core.cert_names = _certificate_names(sock)
        # After an h2c upgrade the server speaks first (SETTINGS, then the
        # response on stream 1); waiting for it costs nothing.
        session.start(
            self._handshake_timeout(),
            upgraded=upgraded,
            received=received,
            wait_settings=upgraded,
        )
        return session

    # Hooks for hyper.HTTPConnection, private by convention: nothing else
    # calls them (and _usable_session, to connect without waiting for the
    # server's SETTINGS). HTTPConnection opens the socket (to learn what ALPN
    # chose, or to try an h2c upgrade over HTTP/1.1) and hands it over here,
    # so no socket travels inside an exception or into a private attribute.

    def _prepare_upgrade(self) -> bytes:
        """
        Begin an h2c upgrade (RFC 7540 3.2) on a connection not yet
        connected: returns the ``HTTP2-Settings`` value for the HTTP/1.1
        request carrying ``Upgrade: h2c``. After the server's ``101``, call
        :meth:`_adopt_socket`; without one, drop this object.

        Concurrency: call before the connection is shared.
        """
        if not self._origin.is_unused:
            raise StreamStateError("an h2c upgrade must be the connection's first request")
        engine = self._new_engine()
        settings = engine.initiate_upgrade_connection()
        self._upgrade_engine = engine
        return settings

    def _adopt_socket(self, sock: socket.socket, received: bytes = b"") -> None:
        """
        Speak HTTP/2 on ``sock``, a socket already connected: TLS where ALPN
        chose ``h2``, plaintext with prior knowledge, or plaintext after a
        ``101`` answering :meth:`_prepare_upgrade`'s request, whose response
        then arrives on stream 1 (``received``: what was read past the 101).
        Sends the preface and waits for the server's SETTINGS; the socket is
        closed if that fails. Later reconnections open their own sockets.

        :raises ConnectionError: the connection failed during the handshake.
        :raises TimeoutError: no SETTINGS within the connect timeout.

        Concurrency: call before the connection is shared.
        """
        engine, self._upgrade_engine = self._upgrade_engine, None
        upgraded = engine is not None
        origin = self._origin
        with self._connect_lock:
            if origin.current is not None:
                sock.close()
                raise StreamStateError("this connection already has a socket")
            session = self._start_session(
                sock, engine or self._new_engine(), upgraded=upgraded, received=received
            )
            origin.adopt(session)
        if upgraded:
            origin.remember(1)

    # ------------------------------------------------------------------
    # Requests

    def request(
        self,
        method: Str,
        url: Str,
        body: Any = None,
        headers: HeadersArg = None,
        *,
        trailers: HeadersArg = None,
        encode_chunked: bool = False,
    ) -> int:
        """
        Send a request and return its stream id (for :meth:`getresponse`).

        :param method: the method, e.g. ``'GET'``.
        :param url: the path (``'/index.html?q=1'``), or an absolute URL.
        :param body: bytes, str (sent as UTF-8), a file-like object, or an
            iterable of bytes. Streamed at the server's frame size as flow
            control allows, never read whole into memory; a content-length is
            sent when the size is known.
        :param headers: a dict, an :class:`HTTPHeaderMap` or a list of
            ``(name, value)`` pairs; str or bytes.
        :param trailers: header fields sent after the body, ending the
            request (gRPC-style status, a checksum of the body); the same
            shapes as ``headers``, no pseudo-headers.
        :param encode_chunked: ``http.client``'s; HTTP/2 has no chunked
            coding, so it only matters with a ``Transfer-Encoding: chunked``
            header of the caller's: False (the default) then says the body
            is chunk-encoded already, and hyper sends its payload (and its
            trailers as trailers).
        :raises StreamResetError: the server reset the stream before
            answering while the body was being sent.
        :raises TimeoutError: no stream slot or send window within the read
            timeout.

        Concurrency: thread-safe. When the server's MAX_CONCURRENT_STREAMS is
        reached, waits for a slot (bounded by the read timeout).
        """
        if headers is not None:
            pairs = header_pairs(headers)
            if is_prechunked(pairs, encode_chunked):
                return self._request_prechunked(method, url, body, pairs)
        plan = None if body is None else RequestBody(body)
        fields = self._defaults.fields(method, url, headers, plan.length if plan else None)
        trailer_fields = header_pairs(trailers)
        end_stream = (plan is None or plan.length == 0) and not trailer_fields
        data = plan.buffer if plan is not None and not end_stream else None
        session, stream, taken = self._open(fields, end_stream, data, not trailer_fields)
        if not end_stream:
            try:
                if plan is not None:
                    self._upload(
                        session,
                        stream,
                        plan,
                        taken if data is not None else None,
                        final=not trailer_fields,
                    )
                if trailer_fields:
                    session.send_trailers(stream, trailer_fields)
            except BaseException:
                # The caller never learns this stream's id: free it (reset).
                session.release(stream)
                raise
        self._origin.remember(stream.stream_id)
        if self.debuglevel > 0:
            print_request_fields(stream.stream_id, fields)
        return stream.stream_id

    def _request_prechunked(
        self, method: Str, url: Str, body: Any, headers: list[tuple[Any, Any]]
    ) -> int:
        """:meth:`request` with a body the caller chunk-encoded."""
        fields = self._defaults.fields(method, url, headers, None)
        session, stream, _ = self._open(fields, False, None, False)
        if self.debuglevel > 0:
            print_request_fields(stream.stream_id, fields)
        self._dechunkers[stream.stream_id] = ChunkedReader()
        try:
            self._send_prechunked(session, stream, body, True)
        except BaseException:
            session.release(stream)
            raise
        self._origin.remember(stream.stream_id)
        return stream.stream_id

    def _send_prechunked(
        self, session: Session, stream: StreamBuffer, data: Any, final: bool
    ) -> None:
        """Send the payload of chunk-encoded ``data``; the last chunk ends
        the stream, with its trailers."""
        reader = self._dechunkers[stream.stream_id]
        plan = RequestBody(data) if data is not None else None
        if plan is not None:
            for chunk in plan.chunks(self.blocksize or UPLOAD_CHUNK):
                for piece in reader.feed(chunk):
                    if piece and not session.send_data(stream, piece, False):
                        return
                if reader.done:
                    break
        if not reader.done:
            if final:
                raise InvalidArgumentError("the chunk-encoded body ended before its last chunk")
            return
        del self._dechunkers[stream.stream_id]
        self._open_uploads.discard(stream.stream_id)
        if reader.trailers:
            session.send_trailers(stream, reader.trailers)
        else:
            session.send_data(stream, b"", True)

    def putrequest(
        self,
        method: Str,
        selector: Str,
        skip_host: bool = False,
        skip_accept_encoding: bool = False,
        **kwargs: Any,
    ) -> int:
        """
        Start a request whose headers are added with :meth:`putheader` and
        sent by :meth:`endheaders`; returns its stream id.
        ``skip_accept_encoding``: the caller takes charge of content codings
        (no ``accept-encoding`` of hyper's; the response is not decoded
        unless asked);
        ``skip_host`` is accepted (a ``Host`` the caller puts becomes the
        ``:authority``, hyper's otherwise).

        No I/O: the connection is opened by :meth:`endheaders` (as in
        historic hyper), so a request may be built, and its headers set,
        before deciding to send it, against a host not reachable yet. The id
        is the stream's when it goes out in order; if a higher id went out
        first (ids must rise, RFC 9113 5.1.1) the stream gets a fresh one
        and every call taking this id still finds it.

        Concurrency: thread-safe; each call gets its own id.
        """
        stream_id = self._reserve_id()
        self._origin.put_request(stream_id, method, selector)
        if skip_accept_encoding:
            self._origin.pending_request(stream_id).skip_accept_encoding = True
        return stream_id

    def _reserve_id(self) -> int:
        """A stream id for :meth:`putrequest`, without connecting."""
        session = self._origin.current
        if session is not None and session.is_usable:
            return session.reserve_id()
        with self._connect_lock:  # the policy's ids move only under it
            session = self._origin.current
            if session is not None and session.is_usable:
                return session.reserve_id()
            return self._origin.reserve_id()

    def putheader(
        self,
        header: Str,
        *values: Any,
        stream_id: int | None = None,
        replace: bool = False,
    ) -> None:
        """
        Add a header to a request started with :meth:`putrequest` (sent by
        :meth:`endheaders`): ``putheader(name, value)``; ``http.client``'s
        ``putheader(name, value, more...)`` (one field value, joined by a
        space) and the historic ``putheader(name, value, stream_id,
        replace)`` too. ``replace`` drops earlier values of that header.

        Concurrency: thread-safe for different requests.
        """
        value, stream_id, replace = putheader_args(values, stream_id, replace)
        self._origin.pending_request(stream_id).add_header(header, value, replace)

    def endheaders(
        self,
        message_body: Any = None,
        final: bool = False,
        stream_id: int | None = None,
        trailers: HeadersArg = None,
        *,
        encode_chunked: bool = False,
    ) -> None:
        """
        Send the headers of a request started with :meth:`putrequest`, then
        ``message_body`` if given. ``final`` ends the request (after
        ``trailers``, if given); otherwise more body may follow with
        :meth:`send`. With a ``Content-Length`` put (``http.client``'s way:
        nothing can follow the announced bytes), :meth:`getresponse` ends
        the request if the caller has not; without one, ``send(...,
        final=True)`` does, and a response may arrive while the body still
        streams.
        ``encode_chunked``: as :meth:`request`'s, for this body and what
        :meth:`send` sends.

        Concurrency: thread-safe for different requests.
        """
        stream_id, pending = self._origin.take_request(stream_id)
        prechunked = is_prechunked(pending.headers, encode_chunked)
        plan = None if message_body is None or prechunked else RequestBody(message_body)
        length = plan.length if plan is not None and final else None
        fields = self._defaults.fields(
            pending.method, pending.url, pending.headers, length, pending.skip_accept_encoding
        )
        trailer_fields = header_pairs(trailers) if final else []
        ends = final and not trailer_fields and not prechunked
        end_stream = ends and (plan is None or plan.length == 0)
        data = plan.buffer if plan is not None and not end_stream else None
        session, stream, taken = self._open(fields, end_stream, data, ends, stream_id)
        self._origin.opened_as(stream_id, stream.stream_id)
        if self.debuglevel > 0:
            print_request_fields(stream.stream_id, fields)
        if pending.skip_accept_encoding:
            self._raw_streams.add(stream.stream_id)
        if prechunked:
            self._dechunkers[stream.stream_id] = ChunkedReader()
            self._open_uploads.add(stream.stream_id)
            self._send_prechunked(session, stream, message_body, final)
            return
        if not end_stream and not final and _has_length(pending.headers):
            self._open_uploads.add(stream.stream_id)
        if plan is not None and not end_stream:
            self._upload(session, stream, plan, taken if data is not None else None, ends)
        if trailer_fields:
            session.send_trailers(stream, trailer_fields)

    def send(
        self,
        data: Any,
        final: bool = False,
        stream_id: int | None = None,
        trailers: HeadersArg = None,
    ) -> None:
        """
        Send more of a request body (after ``endheaders`` without ``final``),
        waiting for flow-control window as needed; ``final`` ends the request,
        after ``trailers`` if given.

        Concurrency: thread-safe for different requests.
        """
        session, stream = self._origin.find(stream_id)
        if stream.stream_id in self._dechunkers:
            self._send_prechunked(session, stream, data, final)
            return
        trailer_fields = header_pairs(trailers) if final else []
        if final:
            self._open_uploads.discard(stream.stream_id)
        self._upload(session, stream, RequestBody(data), None, final and not trailer_fields)
        if trailer_fields:
            session.send_trailers(stream, trailer_fields)

    def _open(
        self,
        fields: list[tuple[Any, Any]],
        end_stream: bool,
        data: bytes | memoryview | None = None,
        data_ends: bool = True,
        stream_id: int | None = None,
    ) -> tuple[Session, StreamBuffer, int]:
        origin = self._origin
        failed: BaseException | None = None
        while True:
            # _usable_session inline: this is every request's path.
            session = origin.current
            if session is None or not session.is_usable:
                if session is not None and failed is None:
                    failed = origin.found_dead(session)
                try:
                    session = self._choose_session()
                except BaseException as exc:
                    origin.chain(exc, failed)
                    raise
            opened = session.open_stream(fields, end_stream, data, data_ends, stream_id)
            if opened is not None:
                stream, taken = opened
                return session, stream, taken
            # Dead before our request went out: the policy says whether
            # another connection may take it, or raises.
            failed = origin.try_again(session, failed)

    def _upload(
        self,
        session: Session,
        stream: StreamBuffer,
        plan: RequestBody,
        taken: int | None,
        final: bool,
    ) -> None:
        """
        Send the rest of a body. ``taken`` is how much of a buffer body
        ``open_stream`` already sent (with END_STREAM if ``final`` and it all
        went), None if nothing was attempted yet.
        """
        if plan.buffer is not None:
            rest = plan.buffer
            if taken is not None:
                if taken >= len(rest):
                    return
                rest = memoryview(rest)[taken:]
            session.send_data(stream, rest, final)
            return
        if plan.can_read_into and not self._upload_in_place(session, stream, plan):
            return
        while True:
            size = UPLOAD_CHUNK
            if plan.file is not None:
                # Read what may go out now, so the bytes held here stay
                # bounded by the window.
                size = upload_read_size(session.wait_send_window(stream), session.max_frame_size)
            chunk = plan.next_chunk(size)
            if chunk is None:
                break
            if not session.send_data(stream, chunk, False):
                return
        if final:
            session.send_data(stream, b"", True)

    def _upload_in_place(self, session: Session, stream: StreamBuffer, plan: RequestBody) -> bool:
        """
        Send a binary file's bytes read straight into their DATA frames (the
        frames are the buffer the file reads into: no copy between the file
        and TLS). Bytes the windows no longer take when read (another upload
        took the connection's window meanwhile) go the ordinary way.

        :returns: False if the server answered in full meanwhile.
        """
        buf: bytearray | None = None  # filled again once its frames are out
        while True:
            window = session.wait_send_window(stream)
            max_frame = session.max_frame_size
            size = min(window, UPLOAD_CHUNK) if window > 0 else 1
            buf, slots = data_layout(size, max_frame, buf)
            size = plan.read_into(slots)
            if not size:
                return True
            frames = memoryview(buf)[: data_layout_size(size, max_frame)]
            sent = session.send_frames(stream, frames, size, max_frame)
            if sent is None:
                return False
            if not sent:
                parts = []
                for slot in slots:
                    if size <= 0:
                        break
                    parts.append(slot[:size])
                    size -= len(slot)
                if not session.send_data(stream, b"".join(parts), False):
                    return False

    # ------------------------------------------------------------------
    # Responses

    def getresponse(self, stream_id: int | None = None) -> HTTP20Response:
        """
        Wait for the response to a request and return it. 1xx responses are
        skipped (kept on ``response.informational``).

        :param stream_id: the id :meth:`request` returned; None means the
            most recent request made by this thread.
        :raises StreamRefusedError: the server did not process the request
            (REFUSED_STREAM, or above a GOAWAY's last stream); safe to retry.
        :raises StreamResetError: the server reset the stream.
        :raises TimeoutError: no response within the read timeout (the
            request stays pending; call again to keep waiting).
        :raises ConnectionError: the connection failed.

        Concurrency: thread-safe.
        """
        session, stream = self._origin.find(stream_id)
        if stream.claimed:
            raise StreamStateError(f"the response on stream {stream.stream_id} was already taken")
        if self._open_uploads and stream.stream_id in self._open_uploads:
            # endheaders() left the request open: asking for the response
            # says it is complete, as with http.client.
            self._open_uploads.discard(stream.stream_id)
            self._dechunkers.pop(stream.stream_id, None)
            session.send_data(stream, b"", True)
        try:
            session.wait_response(stream)
        except ConnectionLostError as error:
            if isinstance(error, RemoteDisconnected):
                raise
            raise _LostBeforeAnswer(str(error)) from error
        stream.claimed = True
        self._origin.claimed(stream_id)
        response = self.response_class(stream, session)
        if self._raw_streams and stream.stream_id in self._raw_streams:
            self._raw_streams.discard(stream.stream_id)
            response._decode_default = False
        if self.debuglevel > 0:
            print_response(response)
        return response

    get_response = getresponse

    @property
    def peer_max_concurrent_streams(self) -> int | None:
        """The most streams the server lets this connection have open at
        once (its SETTINGS_MAX_CONCURRENT_STREAMS); None until its SETTINGS
        arrived. A hint for pools: ``request()`` itself waits for a slot."""
        session = self._origin.current
        if session is None or not session.core.settings_seen:
            return None
        return session.core.engine.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS]

    def reset_stream(self, stream_id: int) -> None:
        """
        Give up on a request whose response was not taken (after a
        ``getresponse`` timed out, say): reset its stream (CANCEL) so the
        server stops, and forget it.

        Concurrency: thread-safe.
        """
        session, stream = self._origin.find(stream_id)
        self._forget_stream(stream.stream_id)
        session.release(stream)

    def _forget_stream(self, stream_id: int) -> None:
        self._raw_streams.discard(stream_id)
        self._open_uploads.discard(stream_id)
        self._dechunkers.pop(stream_id, None)

    def get_pushes(
        self, stream_id: int | None = None, capture_all: bool = False
    ) -> Iterator[HTTP20Push]:
        """
        Yield the resources the server promised on a stream. Not idempotent:
        a promise is yielded once. Without ``capture_all`` only the promises
        already received are yielded; with it, the generator also waits for
        more until the stream ends (its body is then buffered, unread).

        Concurrency: thread-safe; one generator per stream at a time.
        """
        session, stream = self._origin.find(stream_id)
        while True:
            fresh, more = session.next_pushes(stream, capture_all)
            for record in fresh:
                yield push_for(record, session)
            if not capture_all or not more:
                return

    def ping(self, opaque_data: Str) -> float:
        """
        Send a PING with 8 bytes of ``opaque_data`` and wait for its ACK.

        Concurrency: thread-safe.

        :returns: the round-trip time in seconds.
        """
        data = ping_data(opaque_data)
        return self._usable_session().ping(data)

    # ------------------------------------------------------------------
    # Closing

    def close(self, error_code: int | None = None) -> None:
        """
        Close the connection: send GOAWAY (``error_code``, default NO_ERROR),
        fail every waiting call, close the socket. The object may be used
        again afterwards: the next request connects anew.

        Concurrency: thread-safe.
        """
        with self._connect_lock:
            sessions = self._origin.close()
        self._raw_streams.clear()
        self._open_uploads.clear()
        self._dechunkers.clear()
        code = ErrorCodes.NO_ERROR if error_code is None else error_code
        for session in sessions:
            session.close(code)

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        defaults = self._defaults
        return f"<HTTP20Connection {defaults.scheme.decode()}://{defaults.authority.decode()}>"
