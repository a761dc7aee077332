"""
The HTTP/2 connection engine: one sans-IO state machine for both roles.

Buffer from the peer go in through :meth:`Engine.receive_data`, which returns a
list of events (:mod:`hyper.engine.events`). Commands (``send_headers``,
``send_data``, ``reset_stream``, ``ping``, ``close``...) queue bytes that the
caller drains with :meth:`Engine.data_to_send` and writes to its transport.
The engine owns no socket, thread, clock or event loop.

Invariants:

- A command either queues bytes and updates state, or raises before touching
  anything (:class:`~hyper.engine.exceptions.LocalProtocolError` subclasses).
- When the peer breaks a connection-level rule, the engine queues GOAWAY with
  the matching code and raises a :class:`~hyper.engine.exceptions.ProtocolError`
  subclass; every later ``receive_data`` raises a ``ConnectionError``. When it
  breaks a stream-level rule, the engine queues RST_STREAM and reports a
  ``StreamReset(remote=False)`` event; the connection carries on.
- Header blocks are always decoded, even for streams we reset or refuse, so
  the HPACK state never drifts (RFC 9113 4.3).
- Receive windows: the connection's is given back as data arrives, a
  stream's only as the application acknowledges consumed bytes
  (:meth:`Engine.acknowledge_received_data`), both through the window manager.
"""

from __future__ import annotations

import base64

from hpack import NeverIndexedHeaderTuple

from hyper.common.types import Buffer, HeaderInput
from hyper.engine import frames as fr
from hyper.engine import header_rules
from hyper.engine.config import (
    EngineConfig,
    SettingCodes,
    check_setting,
)
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import (
    ConnectionError,
    InvalidHeaderError,
    LocalProtocolError,
    NoAvailableStreamIDError,
    ProtocolError,
    SettingsTimeoutError,
    StreamStateError,
    TooManyStreamsError,
)
from hyper.engine.frames import (
    CONTINUATION,
    DATA,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    HEADERS,
    PREFACE,
    data_layout,
    data_layout_size,
)
from hyper.engine.receiving import Receiver
from hyper.engine.state import BLOCK_CACHE_SIZE
from hyper.engine.stream import (
    HALF_CLOSED_LOCAL,
    HALF_CLOSED_REMOTE,
    IDLE,
    NEXT_STATE,
    OPEN,
    RECV_END_STREAM,
    RECV_HEADERS,
    RESERVED_LOCAL,
    SEND_DATA,
    SEND_END_STREAM,
    SEND_HEADERS,
    SEND_PUSH_PROMISE,
    STATE_NAMES,
    Stream,
    StreamState,
)

__all__ = [
    "Engine",
    "EngineConfig",
    "SettingCodes",
    "StreamState",
    "data_layout",
    "data_layout_size",
]


_MAX_STREAM_ID = 2**31 - 1
# Header sets kept validated per connection. A client repeats a few request
# shapes; a set with a new :path each time never hits, so the bound is small
# (about 16 KiB a connection when full).
_PREPARED_CACHE_SIZE = 32
_CAN_SEND_PUSH_ON = frozenset({OPEN, HALF_CLOSED_REMOTE})
# A block made only of one-byte indexed fields (0x81-0xFE: index 1-126)
# changes no table, so the same headers encode to the same block for as long
# as the encoder's table stays the same; any other block may change it and
# empties the cache. Repeated request header sets skip hpack's encoder.
_ONE_BYTE_INDEXED = bytes(range(0x80, 0xFF))


class Engine(Receiver):
    """
    An HTTP/2 connection, client or server side, without I/O.

    :param config: an :class:`EngineConfig`; the default is a client.
    :param client_side: shorthand for ``EngineConfig(client_side=...)``.
    """

    # ------------------------------------------------------------------
    # Introspection

    @property
    def open_outbound_streams(self) -> int:
        """Streams we opened that count against the peer's concurrency limit."""
        return self._open_local

    @property
    def open_inbound_streams(self) -> int:
        """Streams the peer opened that count against our concurrency limit."""
        return self._open_remote

    @property
    def max_outbound_frame_size(self) -> int:
        """The largest frame payload the peer accepts (its MAX_FRAME_SIZE)."""
        return self.remote_settings[SettingCodes.MAX_FRAME_SIZE]

    @property
    def is_closed(self) -> bool:
        """True once the connection failed or a GOAWAY was sent or received."""
        return (
            self._error is not None
            or self._goaway_sent is not None
            or self._goaway_received is not None
        )

    @property
    def error(self) -> ConnectionError | None:
        """The connection error that ended this engine, if any."""
        return self._error

    @property
    def has_unacked_settings(self) -> bool:
        """SETTINGS we sent still wait for the peer's ACK (RFC 9113 6.5.3)."""
        return bool(self._pending_settings)

    @property
    def goaway_received(self) -> int | None:
        """The peer's last-stream-id once it sent GOAWAY, else None."""
        return self._goaway_received

    @property
    def is_mid_frame(self) -> bool:
        """Part of a frame (or of the preface, or of a header block split over
        CONTINUATION frames) arrived and the rest has not: the peer stopped
        half-way, if it stays so."""
        return bool(self._inbuf) or self._cont is not None

    def count_glitch(self, what: str) -> None:
        """
        Charge the peer one glitch: a frame that made us work for nothing
        (what the application threw away, say). ``what`` names the kind in
        the GOAWAY's debug data.

        :raises EnhanceYourCalmError: the glitch budget is spent; GOAWAY
            (ENHANCE_YOUR_CALM) is queued and the connection has failed.
        """
        self._glitch(what)

    def stream_state(self, stream_id: int) -> StreamState:
        """The RFC 9113 state of a stream (``StreamState.OPEN``...)."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            return StreamState(stream.state)
        if stream_id in self._closed or not self._is_idle(stream_id):
            return StreamState.CLOSED
        return StreamState.IDLE

    def can_open_stream(self) -> bool:
        """Whether a new stream may be opened now without exceeding any limit."""
        return (
            self._error is None
            and self._goaway_sent is None
            and self._goaway_received is None
            and self._next_local_id <= _MAX_STREAM_ID
            and self._open_local < self.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS]
        )

    def get_next_available_stream_id(self) -> int:
        """
        The id the next new stream should use.

        :raises NoAvailableStreamIDError: ids are exhausted (open a new connection).
        """
        if self._next_local_id > _MAX_STREAM_ID:
            raise NoAvailableStreamIDError("stream ids exhausted on this connection")
        return self._next_local_id

    def local_flow_control_window(self, stream_id: int) -> int:
        """How many body bytes ``send_data`` would accept on the stream now."""
        stream = self._get_stream(stream_id)
        return max(0, min(self._send_window, stream.send_window))

    # ------------------------------------------------------------------
    # Output

    def data_to_send(self) -> bytes:
        """Drain and return every byte the engine has queued for the peer."""
        out = self._out
        if not out:
            return b""
        self._out = []
        self._control_queued = 0
        return out[0] if len(out) == 1 and type(out[0]) is bytes else b"".join(out)

    # ------------------------------------------------------------------
    # Connection-level commands

    def initiate_connection(self) -> None:
        """Queue the preface (client) and our SETTINGS and window increase."""
        changes = self._initial_settings()
        if self.client_side:
            self._out.append(PREFACE)
        self._out.append(fr.settings(changes))
        self._expect_settings_ack(changes)
        self._open_connection_window()

    def initiate_upgrade_connection(self, settings_header: bytes | None = None) -> bytes:
        """
        Start HTTP/2 over an HTTP/1.1 ``Upgrade: h2c`` exchange (RFC 7540
        3.2; RFC 9113 deprecates it, but servers such as h2o still offer it).

        Client: call before sending the upgrade request, put the returned
        value in its ``HTTP2-Settings`` header, and send ``data_to_send()``
        once the server answered 101. The request becomes stream 1,
        half-closed (local); its response arrives as on any stream.

        Server: pass the client's ``HTTP2-Settings`` header value; it is
        applied as the client's first SETTINGS (the 101 acknowledges it) and
        stream 1 opens half-closed (remote). Returns ``b''``.

        :raises ProtocolError: (server) the header is not valid SETTINGS.
        """
        if self.client_side:
            changes = self._initial_settings()
            payload = fr.settings(changes)[9:]
            self.initiate_connection()
            stream = self._new_local_stream(1)
            stream.headers_sent = True
            self._set_state(stream, NEXT_STATE[IDLE * 16 + SEND_HEADERS])
            self._set_state(stream, NEXT_STATE[stream.state * 16 + SEND_END_STREAM])
            return base64.urlsafe_b64encode(payload).rstrip(b"=")
        if settings_header is None:
            raise LocalProtocolError("a server needs the client's HTTP2-Settings header")
        try:
            padded = settings_header + b"=" * (-len(settings_header) % 4)
            payload = base64.b64decode(padded, altchars=b"-_", validate=True)
        except (ValueError, TypeError):
            self._fail(ProtocolError, "HTTP2-Settings is not base64url")
        self._recv_settings(0, 0, memoryview(payload), [])
        self._out.clear()  # the 101 response is the acknowledgement
        self._control_queued = 0
        self.initiate_connection()
        stream = self._add_stream(1)
        self._highest_remote_id = 1
        stream.headers_done = True
        self._set_state(stream, NEXT_STATE[IDLE * 16 + RECV_HEADERS])
        self._set_state(stream, NEXT_STATE[stream.state * 16 + RECV_END_STREAM])
        return b""

    def _initial_settings(self) -> dict[int, int]:
        cfg = self.config
        wanted = {
            SettingCodes.HEADER_TABLE_SIZE: cfg.header_table_size,
            SettingCodes.MAX_CONCURRENT_STREAMS: cfg.max_concurrent_streams,
            SettingCodes.INITIAL_WINDOW_SIZE: cfg.initial_window_size,
            SettingCodes.MAX_FRAME_SIZE: cfg.max_frame_size,
            SettingCodes.MAX_HEADER_LIST_SIZE: cfg.max_header_list_size,
        }
        if self.client_side:
            # A server MUST NOT send ENABLE_PUSH=1; ours just leaves it out.
            wanted[SettingCodes.ENABLE_PUSH] = 1 if cfg.enable_push else 0
        return {k: v for k, v in wanted.items() if self.local_settings[k] != v}

    def _open_connection_window(self) -> None:
        increment = self.config.connection_window_size - self._recv_window
        if increment > 0:
            self._out.append(fr.window_update(0, increment))
            self._recv_window += increment

    def update_settings(self, changes: dict[int, int]) -> None:
        """Queue a SETTINGS frame; the values take effect when the peer ACKs."""
        for setting, value in changes.items():
            check_setting(setting, value, local=True, client_side=self.client_side)
        self._out.append(fr.settings(dict(changes)))
        self._expect_settings_ack(dict(changes))

    def _expect_settings_ack(self, changes: dict[int, int]) -> None:
        self._pending_settings.append(changes)
        frame_size = changes.get(SettingCodes.MAX_FRAME_SIZE)
        if frame_size is not None and frame_size > self._max_inbound_frame:
            # A larger frame size is taken at once: peers send frames of the
            # new size as soon as they have read our SETTINGS, and their ACK
            # may come after such frames (h2o does this). A smaller one
            # applies when acknowledged (6.5.3).
            self._max_inbound_frame = frame_size
        clock = self.config.clock
        self._settings_sent_at.append(clock() if clock is not None else 0.0)

    def check_timeouts(self) -> None:
        """
        End the connection if the peer is overdue: our SETTINGS not
        acknowledged within ``config.settings_timeout`` seconds (RFC 9113
        6.5.3, SETTINGS_TIMEOUT). Needs ``config.clock``; front-ends call this
        while they wait.

        :raises SettingsTimeoutError: after queueing GOAWAY(SETTINGS_TIMEOUT).
        """
        clock = self.config.clock
        limit = self.config.settings_timeout
        if clock is None or limit is None or not self._settings_sent_at or self._error:
            return
        if clock() - self._settings_sent_at[0] > limit:
            self._fail(SettingsTimeoutError, f"SETTINGS not acknowledged within {limit} s")

    def ping(self, opaque_data: bytes) -> None:
        """Queue a PING carrying 8 bytes; the answer is a ``PingAcknowledged``."""
        if len(opaque_data) != 8:
            raise LocalProtocolError("PING data must be exactly 8 bytes")
        self._check_usable()
        self._out.append(fr.ping(bytes(opaque_data)))

    def close(
        self,
        error_code: int = ErrorCodes.NO_ERROR,
        last_stream_id: int | None = None,
        additional_data: bytes = b"",
    ) -> None:
        """
        Queue GOAWAY. Streams the peer opened up to ``last_stream_id`` (default:
        the highest it opened) may finish; those above it are closed now and
        frames on them ignored. No new stream opens after this.
        """
        if last_stream_id is None:
            last_stream_id = self._highest_remote_id
        if self._goaway_sent is not None:
            # 6.8: the last-stream-id we announce never goes up.
            last_stream_id = min(last_stream_id, self._goaway_sent)
        self._goaway_sent = last_stream_id
        self._out.append(fr.goaway(last_stream_id, error_code, additional_data))
        # 6.8: we just told the peer its streams above last-stream-id were not
        # processed; it will treat them as refused, so we drop them too.
        remote = 0 if self.client_side else 1
        for sid in [s for s in self._streams if s > last_stream_id and s % 2 == remote]:
            self._close_stream(self._streams[sid])

    # ------------------------------------------------------------------
    # Stream commands

    def send_headers(self, stream_id: int, headers: HeaderInput, end_stream: bool = False) -> None:
        """
        Send a header block: a request (client, new stream), a response or an
        informational 1xx response (server), or trailers (``end_stream=True``
        after the final headers). Headers are sanitised first: names
        lowercased, connection-specific fields dropped, pseudo-headers first.

        :raises InvalidHeaderError: a field cannot be sent (CR/LF/NUL...).
        :raises StreamStateError: the stream cannot send headers now.
        :raises TooManyStreamsError: the peer's MAX_CONCURRENT_STREAMS is reached.
        """
        self._check_usable()
        block_headers = self._prepare(headers)
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id in self._closed or (
                # Ours and below the next id: closed (see EngineState._forget).
                self.client_side and stream_id % 2 == 1 and not self._is_idle(stream_id)
            ):
                raise StreamStateError(f"stream {stream_id} is closed")
            stream = self._new_local_stream(stream_id)
        elif (
            stream.state == RESERVED_LOCAL
            and self._open_local >= self.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS]
        ):
            raise TooManyStreamsError("peer's MAX_CONCURRENT_STREAMS reached")
        new_state = NEXT_STATE.get(stream.state * 16 + SEND_HEADERS)
        if new_state is None:
            raise StreamStateError(
                f"cannot send headers on stream {stream_id} in state {STATE_NAMES[stream.state]}"
            )
        informational = False
        if not self.client_side and block_headers and block_headers[0][0] == b":status":
            informational = block_headers[0][1][:1] == b"1"
        if stream.headers_sent and not end_stream:
            raise StreamStateError("trailers must end the stream (end_stream=True)")
        if stream.headers_sent and block_headers and block_headers[0][0][:1] == b":":
            # 8.1: a trailer section carries no pseudo-headers (M2, outbound).
            raise InvalidHeaderError(f"trailers cannot carry {block_headers[0][0]!r}")
        if informational and end_stream:
            raise StreamStateError("an informational response cannot end the stream")
        if self.client_side and not stream.headers_sent:
            for name, value in block_headers:
                if name == b":method":
                    stream.head_request = value == b"HEAD"
                    break
        block = self._encode(block_headers)
        self._queue_header_block(stream_id, block, end_stream)
        if not informational:
            stream.headers_sent = True
        self._set_state(stream, new_state)
        if end_stream:
            self._set_state(stream, NEXT_STATE[stream.state * 16 + SEND_END_STREAM])

    def send_data(self, stream_id: int, data: Buffer, end_stream: bool = False) -> int:
        """
        Queue as much of ``data`` as the peer's windows allow now, in frames
        of at most its MAX_FRAME_SIZE, and return how many bytes were taken
        (possibly 0). ``end_stream`` applies only once all of ``data`` is taken;
        empty data with ``end_stream`` always goes, even at window 0.

        :raises StreamStateError: the stream cannot send data.
        """
        stream = self._data_stream(stream_id)
        size = len(data)
        window = min(self._send_window, stream.send_window)
        take = size if size <= window else max(window, 0)
        finish = end_stream and take == size
        if take == 0:
            if finish:
                self._out.append(fr.frame_header(0, DATA, FLAG_END_STREAM, stream_id))
                self._set_state(stream, NEXT_STATE[stream.state * 16 + SEND_END_STREAM])
            return 0
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        # Immutable input can be referenced until drained; anything else is
        # copied now, since the caller may reuse its buffer.
        keep = type(data) is bytes
        max_frame = self.remote_settings[SettingCodes.MAX_FRAME_SIZE]
        out = self._out
        header = fr.frame_header
        offset = 0
        while offset < take:
            # Never past ``take``: the rest of ``data`` has no window yet (6.9.1).
            chunk = view[offset : min(offset + max_frame, take)]
            offset += len(chunk)
            flags = FLAG_END_STREAM if finish and offset >= take else 0
            out.append(header(len(chunk), DATA, flags, stream_id))
            out.append(chunk if keep else bytes(chunk))
        self._send_window -= take
        stream.send_window -= take
        self._data_frames_sent += -(-take // max_frame)
        if finish:
            self._set_state(stream, NEXT_STATE[stream.state * 16 + SEND_END_STREAM])
        return take

    def send_data_in_place(
        self, stream_id: int, frames: memoryview, size: int, frame_size: int
    ) -> bool:
        """
        Frame ``size`` body bytes that the caller already placed in ``frames``
        (laid out by :func:`data_layout` for frames of
        ``frame_size``): write the DATA frame headers into the free bytes,
        uncopied. Nothing is queued: the caller writes ``frames`` itself,
        right after what :meth:`data_to_send` returned, which must be taken
        first. Never ends the stream.

        :returns: False, with nothing changed, when the windows do not take
            all ``size`` bytes now or ``frame_size`` is above the peer's
            MAX_FRAME_SIZE (lowered since the layout was made): send the
            bytes with :meth:`send_data` instead.
        :raises StreamStateError: the stream cannot send data.
        :raises LocalProtocolError: :meth:`data_to_send` was not taken first.
        """
        stream = self._data_stream(stream_id)
        if self._out:
            raise LocalProtocolError("take data_to_send() first: the frames would overtake it")
        if (
            size <= 0
            or size > min(self._send_window, stream.send_window)
            or not 0 < frame_size <= self.remote_settings[SettingCodes.MAX_FRAME_SIZE]
        ):
            return False
        if len(frames) != data_layout_size(size, frame_size):
            raise LocalProtocolError(
                f"{len(frames)} bytes are not the layout of {size} bytes in frames of {frame_size}"
            )
        pack = fr.FRAME_HEADER.pack_into
        offset = 0
        left = size
        while left > 0:
            length = left if left < frame_size else frame_size
            pack(frames, offset, length >> 16, length & 0xFFFF, DATA, 0, stream_id)
            offset += length + fr.FRAME_HEADER.size
            left -= length
        self._send_window -= size
        stream.send_window -= size
        self._data_frames_sent += -(-size // frame_size)
        return True

    def end_stream(self, stream_id: int) -> None:
        """End our side of the stream with an empty DATA frame."""
        self.send_data(stream_id, b"", end_stream=True)

    def acknowledge_received_data(self, stream_id: int, size: int) -> None:
        """
        The application consumed ``size`` body bytes of the stream: let its
        window manager decide whether to give window back to the peer.
        """
        if size < 0:
            raise LocalProtocolError("size must not be negative")
        stream = self._streams.get(stream_id)
        if stream is None or stream.state not in (OPEN, HALF_CLOSED_LOCAL) or size == 0:
            return  # nothing more will arrive: no window to give back
        self._give_stream_window(stream, size)

    def reset_stream(self, stream_id: int, error_code: int = ErrorCodes.CANCEL) -> None:
        """Queue RST_STREAM and close the stream (no event is reported)."""
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id in self._closed or not self._is_idle(stream_id):
                return  # already closed: resetting again is a no-op
            raise StreamStateError(f"stream {stream_id} is not open")
        self._out.append(fr.rst_stream(stream_id, error_code))
        self._close_stream(stream)

    def push_stream(
        self, stream_id: int, promised_stream_id: int, request_headers: HeaderInput
    ) -> None:
        """
        (server) Promise ``promised_stream_id`` on ``stream_id`` with the
        request it answers; then send its response with ``send_headers``.

        :raises LocalProtocolError: this is a client, or the peer disabled push.
        :raises ConnectionError: the peer sent GOAWAY.
        """
        if self.client_side:
            raise LocalProtocolError("clients cannot push")
        if not self.remote_settings[SettingCodes.ENABLE_PUSH]:
            raise LocalProtocolError("the peer disabled server push")
        self._check_usable()
        if self._goaway_received is not None:
            # 6.8: a promise opens a stream, which GOAWAY's receiver must not do.
            raise ConnectionError("the peer sent GOAWAY: no new pushes")
        parent = self._get_stream(stream_id)
        if parent.state not in _CAN_SEND_PUSH_ON:
            raise StreamStateError(f"cannot push on stream {stream_id}")
        if (
            promised_stream_id % 2
            or promised_stream_id < self._next_local_id
            or promised_stream_id > _MAX_STREAM_ID
        ):
            raise StreamStateError(f"{promised_stream_id} is not a fresh even stream id")
        block = self._encode(header_rules.prepare_outbound(request_headers, True))
        max_frame = self.max_outbound_frame_size - 4
        first, rest = block[:max_frame], block[max_frame:]
        self._out.append(fr.push_promise(stream_id, promised_stream_id, first, not rest))
        self._queue_continuations(stream_id, rest)
        stream = self._add_stream(promised_stream_id)
        self._next_local_id = promised_stream_id + 2
        self._set_state(stream, NEXT_STATE[IDLE * 16 + SEND_PUSH_PROMISE])

    # ------------------------------------------------------------------
    # Command helpers

    def _data_stream(self, stream_id: int) -> Stream:
        """The stream, if DATA may be sent on it now (a usable connection)."""
        stream = self._get_stream(stream_id)
        if stream.state * 16 + SEND_DATA not in NEXT_STATE or not stream.headers_sent:
            raise StreamStateError(
                f"cannot send data on stream {stream_id} in state {STATE_NAMES[stream.state]}"
            )
        self._check_usable()
        return stream

    def _get_stream(self, stream_id: int) -> Stream:
        stream = self._streams.get(stream_id)
        if stream is None:
            closed = stream_id in self._closed or not self._is_idle(stream_id)
            state = "closed" if closed else "not open"
            raise StreamStateError(f"stream {stream_id} is {state}")
        return stream

    def _new_local_stream(self, stream_id: int) -> Stream:
        parity = 1 if self.client_side else 0
        if stream_id % 2 != parity or stream_id <= 0:
            raise StreamStateError(f"stream {stream_id} has the wrong parity for this side")
        if stream_id < self._next_local_id:
            raise StreamStateError(f"stream {stream_id} was already used")
        if stream_id > _MAX_STREAM_ID:
            raise NoAvailableStreamIDError("stream ids exhausted on this connection")
        if self._goaway_received is not None:
            raise ConnectionError("the peer sent GOAWAY: open a new connection")
        if self._goaway_sent is not None:
            raise ConnectionError("this connection is closing (GOAWAY sent)")
        if not self.client_side:
            raise StreamStateError("servers open streams only with push_stream")
        if self._open_local >= self.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS]:
            raise TooManyStreamsError("peer's MAX_CONCURRENT_STREAMS reached")
        stream = self._add_stream(stream_id)
        self._next_local_id = stream_id + 2
        return stream

    def _prepare(self, headers: HeaderInput) -> list[tuple[bytes, bytes]]:
        """``prepare_outbound`` of the headers, from a cache when the same set
        (same types, same values) was prepared before: validation was about
        half of ``send_headers`` for a repeated request. The list returned
        is shared; nothing changes it."""
        key = tuple(headers)
        # Tuples compare equal whatever their class: a never-indexed field
        # must keep its class, so sets with one are never cached.
        if NeverIndexedHeaderTuple in map(type, key):
            return header_rules.prepare_outbound(key, self.client_side)
        cache = self._prepared_cache
        try:
            prepared = cache.get(key)
        except TypeError:  # an unhashable item: let validation say what is wrong
            return header_rules.prepare_outbound(key, self.client_side)
        if prepared is None:
            prepared = header_rules.prepare_outbound(key, self.client_side)
            if len(cache) >= _PREPARED_CACHE_SIZE:
                cache.clear()
            cache[key] = prepared
        return prepared

    def _encode(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        key = tuple(headers)
        cache = self._encode_cache
        block = cache.get(key)
        # Tuples compare equal whatever their class, so a never-indexed field
        # could match a cached indexed block: those always go through hpack.
        if block is not None and NeverIndexedHeaderTuple not in map(type, key):
            return block
        sensitive = header_rules.sensitive
        fields = [
            # RFC 7541 6.2.3: a field that came never-indexed stays so.
            f if type(f) is NeverIndexedHeaderTuple or not sensitive(f[0], f[1])
            else NeverIndexedHeaderTuple(f[0], f[1])
            for f in headers
        ]  # fmt: skip
        block = self._encoder.encode(fields)
        if block.translate(None, _ONE_BYTE_INDEXED):
            cache.clear()
        elif len(cache) < BLOCK_CACHE_SIZE:
            cache[key] = block
        return block

    def _queue_header_block(self, stream_id: int, block: bytes, end_stream: bool) -> None:
        max_frame = self.max_outbound_frame_size
        first, rest = block[:max_frame], block[max_frame:]
        flags = (FLAG_END_STREAM if end_stream else 0) | (0 if rest else FLAG_END_HEADERS)
        self._out.append(fr.frame_header(len(first), HEADERS, flags, stream_id))
        self._out.append(first)
        self._queue_continuations(stream_id, rest)

    def _queue_continuations(self, stream_id: int, rest: bytes) -> None:
        max_frame = self.max_outbound_frame_size
        while rest:
            chunk, rest = rest[:max_frame], rest[max_frame:]
            flags = 0 if rest else FLAG_END_HEADERS
            self._out.append(fr.frame_header(len(chunk), CONTINUATION, flags, stream_id))
            self._out.append(chunk)
