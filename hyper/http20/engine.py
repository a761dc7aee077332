"""
The HTTP/2 connection engine: one sans-IO state machine for both roles.

Bytes from the peer go in through :meth:`Engine.receive_data`, which returns a
list of events (:mod:`hyper.http20.events`). Commands (``send_headers``,
``send_data``, ``reset_stream``, ``ping``, ``close``...) queue bytes that the
caller drains with :meth:`Engine.data_to_send` and writes to its transport.
The engine owns no socket, thread, clock or event loop.

Invariants:

- A command either queues bytes and updates state, or raises before touching
  anything (:class:`~hyper.http20.exceptions.LocalProtocolError` subclasses).
- When the peer breaks a connection-level rule, the engine queues GOAWAY with
  the matching code and raises a :class:`~hyper.http20.exceptions.ProtocolError`
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

from collections import deque
from collections.abc import Callable, Iterable
from typing import NoReturn, Union, cast

from hpack import Decoder, Encoder, NeverIndexedHeaderTuple, OversizedHeaderListError

from hyper.http20 import _frames as fr
from hyper.http20 import _headers
from hyper.http20._frames import (
    CONTINUATION,
    DATA,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLAG_PRIORITY,
    FRAME_HEADER,
    HEADERS,
    PREFACE,
    PUSH_PROMISE,
    SETTINGS,
)
from hyper.http20._stream import (
    ACTIVE_STATES,
    CLOSED,
    HALF_CLOSED_LOCAL,
    HALF_CLOSED_REMOTE,
    IDLE,
    NEXT_STATE,
    OPEN,
    RECV_END_STREAM,
    RECV_HEADERS,
    RECV_PUSH_PROMISE,
    RECV_RST_STREAM,
    RESERVED_LOCAL,
    RESERVED_REMOTE,
    SEND_END_STREAM,
    SEND_HEADERS,
    SEND_PUSH_PROMISE,
    STATE_NAMES,
    Stream,
    illegal_receive_code,
)
from hyper.http20.config import (
    DEFAULT_SETTINGS,
    MAX_FRAME_SIZE,
    MAX_WINDOW,
    MIN_FRAME_SIZE,
    EngineConfig,
    SettingCodes,
)
from hyper.http20.errors import ErrorCodes
from hyper.http20.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    InformationalResponseReceived,
    PingAcknowledged,
    PingReceived,
    PushPromiseReceived,
    RemoteSettingsChanged,
    RequestReceived,
    ResponseReceived,
    SettingsAcknowledged,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from hyper.http20.exceptions import (
    ConnectionError,
    EnhanceYourCalmError,
    FlowControlError,
    FrameSizeError,
    HeaderListTooLargeError,
    HPACKDecodingError,
    LocalProtocolError,
    NoAvailableStreamIDError,
    ProtocolError,
    SettingsTimeoutError,
    StreamStateError,
    TooManyStreamsError,
)

__all__ = ["Engine", "EngineConfig", "SettingCodes"]

Bytes = Union[bytes, bytearray, memoryview]
HeaderInput = Iterable[tuple[Union[str, bytes], Union[str, bytes]]]

_MAX_STREAM_ID = 2**31 - 1
_CAN_SEND_DATA = frozenset({OPEN, HALF_CLOSED_REMOTE})
_CAN_RECV_PUSH_ON = frozenset({OPEN, HALF_CLOSED_LOCAL})
_CAN_SEND_PUSH_ON = frozenset({OPEN, HALF_CLOSED_REMOTE})
_SAFE_PUSH_METHODS = frozenset({b"GET", b"HEAD"})
# Statuses whose responses carry no body whatever content-length says (8.1.1).
_NO_BODY_STATUSES = frozenset({204, 304})
# A header block made only of one-byte indexed fields (0x81-0xFE: index
# 1-126) neither reads nor changes anything but the tables, so while the
# tables stay the same, the same headers give the same block and back. HPACK
# is most of the cost of a small request; these caches skip it for repeated
# header sets. Any other block may change a table and empties the cache.
_ONE_BYTE_INDEXED = bytes(range(0x80, 0xFF))
_BLOCK_CACHE_SIZE = 256


class _Budget:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` per second."""

    __slots__ = ("tokens", "burst", "rate", "clock", "stamp")

    def __init__(self, burst: int, rate: float, clock: Callable[[], float] | None) -> None:
        self.tokens = float(burst)
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self.stamp = clock() if clock is not None else 0.0

    def take(self) -> bool:
        if self.clock is not None:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Engine:
    """
    An HTTP/2 connection, client or server side, without I/O.

    :param config: an :class:`EngineConfig`; the default is a client.
    :param client_side: shorthand for ``EngineConfig(client_side=...)``.
    """

    def __init__(self, config: EngineConfig | None = None, *, client_side: bool | None = None):
        if config is None:
            config = EngineConfig(client_side=True if client_side is None else client_side)
        elif client_side is not None and client_side != config.client_side:
            raise ValueError("client_side disagrees with config.client_side")
        self.config = config
        self.client_side = config.client_side
        #: Settings in force for what we receive (ours, once ACKed) and send.
        self.local_settings: dict[int, int] = dict(DEFAULT_SETTINGS)
        self.remote_settings: dict[int, int] = dict(DEFAULT_SETTINGS)
        self._pending_settings: deque[dict[int, int]] = deque()
        self._settings_sent_at: deque[float] = deque()

        self._encoder = Encoder()
        self._decoder = Decoder(max_header_list_size=config.max_header_list_size)
        self._encode_cache: dict[tuple[tuple[bytes, bytes], ...], bytes] = {}
        self._decode_cache: dict[bytes, tuple[tuple[bytes, bytes], ...]] = {}
        self._decoder.max_allowed_table_size = DEFAULT_SETTINGS[SettingCodes.HEADER_TABLE_SIZE]

        self._out: list[Bytes] = []
        self._inbuf = bytearray()
        self._streams: dict[int, Stream] = {}
        # Recently closed stream ids -> True when *we* reset them (5.1: late
        # frames on those are ignored rather than answered).
        self._closed: dict[int, bool] = {}
        self._next_local_id = 1 if self.client_side else 2
        self._highest_remote_id = 0
        self._open_local = 0
        self._open_remote = 0
        self._reserved_remote = 0

        self._send_window = 65535
        self._recv_window = 65535
        self._conn_manager = config.window_manager(config.connection_window_size)
        self._max_inbound_frame = MIN_FRAME_SIZE
        # An unfinished header block: [stream id, frame type, flags, promised
        # id, fragments, CONTINUATION count, compressed bytes].
        self._cont: list | None = None  # type: ignore[type-arg]

        self._expect_preface = not self.client_side
        self._seen_settings = False
        self._goaway_sent: int | None = None
        self._goaway_received: int | None = None
        self._error: ConnectionError | None = None
        self._control_queued = 0
        clock = config.clock
        self._reset_budget = _Budget(config.reset_burst, config.reset_rate, clock)
        self._control_budget = _Budget(config.control_burst, config.control_rate, clock)
        self._glitch_budget = _Budget(config.glitch_burst, config.glitch_rate, clock)

        handlers: list[Callable[[int, int, memoryview, list[Event]], None] | None]
        handlers = [None] * 256
        handlers[DATA] = self._recv_data
        handlers[HEADERS] = self._recv_headers
        handlers[fr.PRIORITY] = self._recv_priority
        handlers[fr.RST_STREAM] = self._recv_rst_stream
        handlers[SETTINGS] = self._recv_settings
        handlers[PUSH_PROMISE] = self._recv_push_promise
        handlers[fr.PING] = self._recv_ping
        handlers[fr.GOAWAY] = self._recv_goaway
        handlers[fr.WINDOW_UPDATE] = self._recv_window_update
        handlers[CONTINUATION] = self._recv_continuation
        self._handlers = handlers

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
    def goaway_received(self) -> int | None:
        """The peer's last-stream-id once it sent GOAWAY, else None."""
        return self._goaway_received

    def stream_state(self, stream_id: int) -> str:
        """The RFC 9113 state name of a stream (``'IDLE'``, ``'OPEN'``...)."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            return STATE_NAMES[stream.state]
        if stream_id in self._closed or not self._is_idle(stream_id):
            return "CLOSED"
        return "IDLE"

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

    def _queue_control(self, frame: bytes) -> None:
        # Flood guard (CVE-2019-9512/9514/9515): a peer that makes us queue
        # ACKs and resets faster than we can drain them is attacking us.
        self._out.append(frame)
        self._control_queued += 1
        if self._control_queued > self.config.max_outbound_control_frames:
            self._fail(EnhanceYourCalmError, "too many queued control frames (flood)")

    # ------------------------------------------------------------------
    # Connection-level commands

    def initiate_connection(self) -> None:
        """Queue the preface (client) and our SETTINGS and window increase."""
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
            self._out.append(PREFACE)
        changes = {k: v for k, v in wanted.items() if self.local_settings[k] != v}
        self._out.append(fr.settings(changes))
        self._expect_settings_ack(changes)
        increment = cfg.connection_window_size - self._recv_window
        if increment > 0:
            self._out.append(fr.window_update(0, increment))
            self._recv_window += increment

    def update_settings(self, changes: dict[int, int]) -> None:
        """Queue a SETTINGS frame; the values take effect when the peer ACKs."""
        for setting, value in changes.items():
            _check_setting(setting, value, local=True, client_side=self.client_side)
        self._out.append(fr.settings(dict(changes)))
        self._expect_settings_ack(dict(changes))

    def _expect_settings_ack(self, changes: dict[int, int]) -> None:
        self._pending_settings.append(changes)
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
            self._close_stream(self._streams[sid], reset_by_us=True)

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
        block_headers = _headers.prepare_outbound(headers, self.client_side)
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id in self._closed:
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

    def send_data(self, stream_id: int, data: Bytes, end_stream: bool = False) -> int:
        """
        Queue as much of ``data`` as the peer's windows allow now, in frames
        of at most its MAX_FRAME_SIZE, and return how many bytes were taken
        (possibly 0). ``end_stream`` applies only once all of ``data`` is taken;
        empty data with ``end_stream`` always goes, even at window 0.

        :raises StreamStateError: the stream cannot send data.
        """
        stream = self._get_stream(stream_id)
        if stream.state not in _CAN_SEND_DATA or not stream.headers_sent:
            raise StreamStateError(
                f"cannot send data on stream {stream_id} in state {STATE_NAMES[stream.state]}"
            )
        self._check_usable()
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
        if finish:
            self._set_state(stream, NEXT_STATE[stream.state * 16 + SEND_END_STREAM])
        return take

    def end_stream(self, stream_id: int) -> None:
        """End our side of the stream with an empty DATA frame."""
        self.send_data(stream_id, b"", end_stream=True)

    def acknowledge_received_data(self, stream_id: int, size: int) -> None:
        """
        The application consumed ``size`` body bytes of the stream: let its
        window manager decide whether to give window back to the peer.
        """
        if size < 0:
            raise ValueError("size must not be negative")
        stream = self._streams.get(stream_id)
        if stream is None or stream.state not in (OPEN, HALF_CLOSED_LOCAL) or size == 0:
            return  # nothing more will arrive: no window to give back
        self._give_stream_window(stream, size)

    def reset_stream(self, stream_id: int, error_code: int = ErrorCodes.CANCEL) -> None:
        """Queue RST_STREAM and close the stream (no event is reported)."""
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id in self._closed:
                return  # already closed: resetting again is a no-op
            raise StreamStateError(f"stream {stream_id} is not open")
        self._out.append(fr.rst_stream(stream_id, error_code))
        self._close_stream(stream, reset_by_us=True)

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
        block = self._encode(_headers.prepare_outbound(request_headers, True))
        max_frame = self.max_outbound_frame_size - 4
        first, rest = block[:max_frame], block[max_frame:]
        self._out.append(fr.push_promise(stream_id, promised_stream_id, first, not rest))
        self._queue_continuations(stream_id, rest)
        stream = Stream(
            promised_stream_id,
            self.remote_settings[SettingCodes.INITIAL_WINDOW_SIZE],
            self.local_settings[SettingCodes.INITIAL_WINDOW_SIZE],
        )
        self._streams[promised_stream_id] = stream
        self._next_local_id = promised_stream_id + 2
        self._set_state(stream, NEXT_STATE[IDLE * 16 + SEND_PUSH_PROMISE])

    # ------------------------------------------------------------------
    # Command helpers

    def _check_usable(self) -> None:
        if self._error is not None:
            self._raise_failed(self._error)

    @staticmethod
    def _raise_failed(error: ConnectionError) -> NoReturn:
        raise type(error)(f"connection failed earlier: {error}", error.error_code) from error

    def _get_stream(self, stream_id: int) -> Stream:
        stream = self._streams.get(stream_id)
        if stream is None:
            state = "closed" if stream_id in self._closed else "not open"
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
        stream = Stream(
            stream_id,
            self.remote_settings[SettingCodes.INITIAL_WINDOW_SIZE],
            self.local_settings[SettingCodes.INITIAL_WINDOW_SIZE],
        )
        self._streams[stream_id] = stream
        self._next_local_id = stream_id + 2
        return stream

    def _encode(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        key = tuple(headers)
        cache = self._encode_cache
        block = cache.get(key)
        # Tuples compare equal whatever their class, so a never-indexed field
        # could match a cached indexed block: those always go through hpack.
        if block is not None and NeverIndexedHeaderTuple not in map(type, key):
            return block
        sensitive = _headers.sensitive
        fields = [
            # RFC 7541 6.2.3: a field that came never-indexed stays so.
            f if type(f) is NeverIndexedHeaderTuple or not sensitive(f[0], f[1])
            else NeverIndexedHeaderTuple(f[0], f[1])
            for f in headers
        ]  # fmt: skip
        block = self._encoder.encode(fields)
        if block.translate(None, _ONE_BYTE_INDEXED):
            cache.clear()
        elif len(cache) < _BLOCK_CACHE_SIZE:
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

    def _set_state(self, stream: Stream, new_state: int) -> None:
        old = stream.state
        if old == new_state:
            return
        stream.state = new_state
        local = (stream.stream_id % 2 == 1) == self.client_side
        was_active = old in ACTIVE_STATES
        if new_state in ACTIVE_STATES and not was_active:
            if local:
                self._open_local += 1
            else:
                self._open_remote += 1
            if old == RESERVED_REMOTE:
                self._reserved_remote -= 1
        elif new_state == RESERVED_REMOTE:
            self._reserved_remote += 1
        elif new_state == CLOSED:
            if was_active:
                if local:
                    self._open_local -= 1
                else:
                    self._open_remote -= 1
            elif old == RESERVED_REMOTE:
                self._reserved_remote -= 1
            self._forget(stream.stream_id, False)

    def _close_stream(self, stream: Stream, reset_by_us: bool) -> None:
        self._set_state(stream, CLOSED)
        if reset_by_us:
            self._closed[stream.stream_id] = True

    def _forget(self, stream_id: int, reset_by_us: bool) -> None:
        self._streams.pop(stream_id, None)
        closed = self._closed
        closed[stream_id] = reset_by_us
        if len(closed) > self.config.max_closed_streams:
            del closed[next(iter(closed))]

    def _give_stream_window(self, stream: Stream, size: int) -> None:
        manager = stream.manager
        if manager is None:
            # The window in force now, not the configured one: after we lower
            # INITIAL_WINDOW_SIZE a manager sized from the config would wait
            # for more bytes than the peer may send, and the stream would stall.
            initial = self.local_settings[SettingCodes.INITIAL_WINDOW_SIZE]
            manager = stream.manager = self.config.window_manager(initial)
        increment = manager._handle_frame(size)
        if increment > 0:
            increment = min(increment, MAX_WINDOW - stream.recv_window)
            if increment > 0:
                stream.recv_window += increment
                self._out.append(fr.window_update(stream.stream_id, increment))

    def _is_idle(self, stream_id: int) -> bool:
        """Never opened by either side (ids above each side's highest)."""
        if (stream_id % 2 == 1) == self.client_side:
            return stream_id >= self._next_local_id
        return stream_id > self._highest_remote_id

    # ------------------------------------------------------------------
    # Errors

    def _fail(self, exc_type: type[ConnectionError], message: str) -> NoReturn:
        """Connection error: queue GOAWAY with the class's code, then raise."""
        exc = exc_type(message)
        if self._error is None:
            last = self._highest_remote_id
            if self._goaway_sent is not None:
                last = min(last, self._goaway_sent)
            self._goaway_sent = last
            self._out.append(fr.goaway(last, exc.error_code, message.encode()[:256]))
            self._error = exc
        raise exc

    def _stream_error(self, stream_id: int, error_code: int, events: list[Event]) -> None:
        """Stream error: queue RST_STREAM, close the stream, report it."""
        self._glitch("stream errors")
        self._queue_control(fr.rst_stream(stream_id, error_code))
        stream = self._streams.get(stream_id)
        if stream is not None:
            self._close_stream(stream, reset_by_us=True)
        else:
            self._forget(stream_id, True)
        events.append(StreamReset(stream_id, error_code, False))

    def _glitch(self, what: str) -> None:
        # MadeYouReset (CVE-2025-8671), empty-frame and PRIORITY floods: each
        # costs a token; a peer that burns them all is not well-behaved.
        if not self._glitch_budget.take():
            self._fail(EnhanceYourCalmError, f"peer exceeded the glitch budget ({what})")

    # ------------------------------------------------------------------
    # Input

    def receive_data(self, data: Bytes) -> list[Event]:
        """
        Feed bytes from the peer; return what happened.

        :raises ProtocolError: (or a subclass) the peer broke a connection-level
            rule; GOAWAY is queued in ``data_to_send()`` and :attr:`error` set.
            Events from earlier frames of the same call are not returned: the
            connection is over, and every stream on it fails with this error.
        :raises ConnectionError: the engine failed earlier (same class and code).
        """
        if self._error is not None:
            self._raise_failed(self._error)
        if self._inbuf:
            self._inbuf += data
            view = memoryview(self._inbuf)
        else:
            view = memoryview(data)
            if view.ndim != 1 or view.itemsize != 1:
                view = view.cast("B")
        events: list[Event] = []
        end = len(view)
        pos = 0
        try:
            if self._expect_preface:
                if end < len(PREFACE):
                    if bytes(view) != PREFACE[:end]:
                        self._fail(ProtocolError, "invalid connection preface")
                    return events
                if view[: len(PREFACE)] != PREFACE:
                    self._fail(ProtocolError, "invalid connection preface")
                self._expect_preface = False
                pos = len(PREFACE)
            handlers = self._handlers
            unpack = FRAME_HEADER.unpack_from
            while end - pos >= 9:
                high, low, frame_type, flags, stream_id = unpack(view, pos)
                length = (high << 16) | low
                if length > self._max_inbound_frame:
                    # 4.2: checked on the header, before buffering the body.
                    self._fail(FrameSizeError, f"frame of {length} bytes exceeds MAX_FRAME_SIZE")
                start = pos + 9
                if end - start < length:
                    break
                pos = start + length
                if not self._seen_settings:
                    if frame_type != SETTINGS or flags & FLAG_ACK:
                        self._fail(ProtocolError, "the peer's first frame must be SETTINGS")
                    self._seen_settings = True
                if self._cont is not None and frame_type != CONTINUATION:
                    self._fail(ProtocolError, "header block interrupted by another frame")
                handler = handlers[frame_type]
                if handler is not None:
                    handler(flags, stream_id & 0x7FFFFFFF, view[start:pos], events)
        finally:
            # After a connection error nothing more is parsed: keeping the
            # rest of the input would pin a flood's bytes (A10) for nothing.
            if pos < end and self._error is None:
                self._inbuf = bytearray(view[pos:])
            else:
                self._inbuf = bytearray()
        return events

    # -- DATA -------------------------------------------------------------

    def _recv_data(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id == 0:
            self._fail(ProtocolError, "DATA on stream 0")
        flow_length = len(body)
        payload = self._unpad(body) if flags & FLAG_PADDED else body
        # Connection window first: every DATA frame counts, whatever its
        # stream's fate (6.1, 6.9).
        if flow_length > self._recv_window:
            self._fail(FlowControlError, "DATA exceeds the connection receive window")
        self._recv_window -= flow_length
        if flow_length:
            increment = self._conn_manager._handle_frame(flow_length)
            if increment > 0:
                increment = min(increment, MAX_WINDOW - self._recv_window)
                if increment > 0:
                    self._recv_window += increment
                    self._out.append(fr.window_update(0, increment))
        end_stream = flags & FLAG_END_STREAM
        stream = self._streams.get(stream_id)
        if stream is None:
            self._recv_on_missing_stream(stream_id, "DATA", events)
            return
        if flow_length > stream.recv_window:
            self._stream_error(stream_id, ErrorCodes.FLOW_CONTROL_ERROR, events)
            return
        stream.recv_window -= flow_length
        state = stream.state
        if state != OPEN and state != HALF_CLOSED_LOCAL:
            if state in (RESERVED_LOCAL, RESERVED_REMOTE):
                # 5.1: DATA on a reserved stream is a connection error (MUST).
                self._fail(ProtocolError, f"DATA on reserved stream {stream_id}")
            self._stream_error(stream_id, illegal_receive_code(state), events)
            return
        if not stream.headers_done:
            self._stream_error(stream_id, ErrorCodes.PROTOCOL_ERROR, events)
            return
        size = len(payload)
        if size == 0 and not end_stream:
            self._glitch("empty DATA frames")
        received = stream.received_length = stream.received_length + size
        expected = stream.expected_length
        if expected is not None and (received > expected or (end_stream and received != expected)):
            # 8.1.1: content-length disagrees with the body: malformed.
            self._stream_error(stream_id, ErrorCodes.PROTOCOL_ERROR, events)
            return
        if flow_length != size:
            # Padding is never seen by the application: give it back now.
            self._give_stream_window(stream, flow_length - size)
        events.append(DataReceived(stream_id, bytes(payload), flow_length, bool(end_stream)))
        if end_stream:
            self._set_state(stream, NEXT_STATE[state * 16 + RECV_END_STREAM])

    def _unpad(self, body: memoryview) -> memoryview:
        if len(body) < 1:
            self._fail(FrameSizeError, "padded frame too short for its pad length")
        pad = body[0]
        if pad >= len(body):
            self._fail(ProtocolError, "padding exceeds the frame payload")
        return body[1 : len(body) - pad]

    def _recv_on_missing_stream(self, stream_id: int, what: str, events: list[Event]) -> None:
        if stream_id in self._closed:
            if not self._closed[stream_id]:
                # Closed normally: the peer should know better (6.1, 5.1).
                self._stream_error(stream_id, ErrorCodes.STREAM_CLOSED, events)
            # Reset by us: the peer may not have seen our RST yet; ignore.
            return
        if self._is_idle(stream_id):
            self._fail(ProtocolError, f"{what} on idle stream {stream_id}")
        # Closed long ago and forgotten, or refused: stream error, never fatal.
        self._stream_error(stream_id, ErrorCodes.STREAM_CLOSED, events)

    # -- HEADERS, PUSH_PROMISE, CONTINUATION --------------------------------

    def _recv_headers(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id == 0:
            self._fail(ProtocolError, "HEADERS on stream 0")
        pos = 0
        pad = 0
        length = len(body)
        if flags & FLAG_PADDED:
            if length < 1:
                self._fail(FrameSizeError, "padded HEADERS too short")
            pad = body[0]
            pos = 1
        depends_on_self = False
        if flags & FLAG_PRIORITY:
            if length < pos + 5:
                self._fail(FrameSizeError, "HEADERS too short for its priority fields")
            depends_on_self = (fr.read_u32(body, pos) & 0x7FFFFFFF) == stream_id
            pos += 5
        if pos + pad > length:
            # L4: pad length counted together with the priority fields.
            self._fail(ProtocolError, "HEADERS padding exceeds the frame payload")
        fragment = body[pos : length - pad]
        if depends_on_self:
            flags |= 0x100  # remembered until the block is decoded
        self._start_block(stream_id, HEADERS, flags, 0, fragment, events)

    def _recv_push_promise(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id == 0:
            self._fail(ProtocolError, "PUSH_PROMISE on stream 0")
        if not self.client_side:
            self._fail(ProtocolError, "clients cannot send PUSH_PROMISE")
        pos = 0
        pad = 0
        length = len(body)
        if flags & FLAG_PADDED:
            if length < 1:
                self._fail(FrameSizeError, "padded PUSH_PROMISE too short")
            pad = body[0]
            pos = 1
        if length < pos + 4:
            self._fail(FrameSizeError, "PUSH_PROMISE too short for its promised stream id")
        promised = fr.read_u32(body, pos) & 0x7FFFFFFF
        pos += 4
        if pos + pad > length:
            self._fail(ProtocolError, "PUSH_PROMISE padding exceeds the frame payload")
        self._start_block(
            stream_id, PUSH_PROMISE, flags, promised, body[pos : length - pad], events
        )

    def _start_block(
        self,
        stream_id: int,
        frame_type: int,
        flags: int,
        promised: int,
        fragment: memoryview,
        events: list[Event],
    ) -> None:
        if len(fragment) > self.config.max_header_block_size:
            self._fail(EnhanceYourCalmError, "header block larger than the configured limit")
        if flags & FLAG_END_HEADERS:
            self._on_header_block(stream_id, frame_type, flags, promised, fragment, events)
            return
        if not fragment:
            self._glitch("empty header fragments")
        self._cont = [stream_id, frame_type, flags, promised, [bytes(fragment)], 0, len(fragment)]

    def _recv_continuation(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        cont = self._cont
        if cont is None:
            self._fail(ProtocolError, "CONTINUATION without a header block in progress")
        if stream_id != cont[0]:
            self._fail(ProtocolError, "CONTINUATION on a different stream")
        cont[5] += 1
        cont[6] += len(body)
        if cont[5] > self.config.max_continuation_frames:
            # CONTINUATION flood (CVE-2024-27316 class): keeping HPACK in sync
            # would mean decoding it all, so the connection ends.
            self._fail(EnhanceYourCalmError, "too many CONTINUATION frames in one header block")
        if cont[6] > self.config.max_header_block_size:
            self._fail(EnhanceYourCalmError, "header block larger than the configured limit")
        if not body and not flags & FLAG_END_HEADERS:
            self._glitch("empty CONTINUATION frames")
        cont[4].append(bytes(body))
        if flags & FLAG_END_HEADERS:
            self._cont = None
            block = b"".join(cont[4])
            self._on_header_block(cont[0], cont[1], cont[2], cont[3], memoryview(block), events)

    def _decode(self, block: memoryview) -> list[tuple[bytes, bytes]]:
        data = bytes(block)
        cache = self._decode_cache
        cached = cache.get(data)
        if cached is not None:
            return list(cached)
        try:
            headers = cast(list[tuple[bytes, bytes]], self._decoder.decode(data, raw=True))
        except OversizedHeaderListError as exc:
            self._fail_from(HeaderListTooLargeError, "header list larger than the limit", exc)
        except Exception as exc:  # any HPACK failure loses the table
            self._fail_from(HPACKDecodingError, f"HPACK decoding failed: {exc}", exc)
        if data.translate(None, _ONE_BYTE_INDEXED):
            cache.clear()
        elif len(cache) < _BLOCK_CACHE_SIZE:
            cache[data] = tuple(headers)
        return headers

    def _fail_from(
        self, exc_type: type[ConnectionError], message: str, cause: BaseException
    ) -> NoReturn:
        try:
            self._fail(exc_type, message)
        except ConnectionError as exc:
            raise exc from cause

    def _on_header_block(
        self,
        stream_id: int,
        frame_type: int,
        flags: int,
        promised: int,
        block: memoryview,
        events: list[Event],
    ) -> None:
        # Decode first, whatever happens to the stream: the HPACK state is
        # shared by the whole connection (4.3, C5).
        headers = self._decode(block)
        if frame_type == PUSH_PROMISE:
            self._on_push_promise(stream_id, promised, headers, events)
            return
        end_stream = bool(flags & FLAG_END_STREAM)
        stream = self._streams.get(stream_id)
        if stream is None:
            stream = self._open_remote_stream(stream_id, events)
            if stream is None:
                return
        if flags & 0x100:
            self._stream_error(stream_id, ErrorCodes.PROTOCOL_ERROR, events)
            return
        state = stream.state
        new_state = NEXT_STATE.get(state * 16 + RECV_HEADERS)
        if new_state is None:
            if state == RESERVED_LOCAL:
                # 5.1: the peer may not send HEADERS on a stream we reserved (MUST).
                self._fail(ProtocolError, f"HEADERS on reserved stream {stream_id}")
            self._stream_error(stream_id, illegal_receive_code(state), events)
            return
        if (
            state == RESERVED_REMOTE
            and self._open_remote >= self.local_settings[SettingCodes.MAX_CONCURRENT_STREAMS]
        ):
            # 5.1.2 (MUST): answering a promise opens the stream, so our
            # concurrency limit applies to pushed responses too.
            self._stream_error(stream_id, ErrorCodes.REFUSED_STREAM, events)
            return
        try:
            if stream.headers_done:
                # A second block is trailers and must end the stream (8.1).
                if not end_stream:
                    raise _headers.MalformedHeaders("trailers without END_STREAM")
                _headers.inspect_trailers(headers)
                event: Event = TrailersReceived(stream_id, headers)
            elif self.client_side:
                status, length = _headers.inspect_response(headers)
                if status < 200:
                    if end_stream or status == 101:
                        raise _headers.MalformedHeaders("invalid informational response")
                    event = InformationalResponseReceived(stream_id, headers)
                else:
                    stream.headers_done = True
                    if not stream.head_request and status not in _NO_BODY_STATUSES:
                        stream.expected_length = length
                    event = ResponseReceived(stream_id, headers, end_stream)
            else:
                headers, _method, length = _headers.inspect_request(headers)
                stream.headers_done = True
                stream.expected_length = length
                event = RequestReceived(stream_id, headers, end_stream)
            if end_stream and stream.expected_length not in (None, stream.received_length):
                raise _headers.MalformedHeaders("content-length disagrees with the body")
        except _headers.MalformedHeaders:
            self._stream_error(stream_id, ErrorCodes.PROTOCOL_ERROR, events)
            return
        self._set_state(stream, new_state)
        events.append(event)
        if end_stream:
            self._set_state(stream, NEXT_STATE[stream.state * 16 + RECV_END_STREAM])

    def _open_remote_stream(self, stream_id: int, events: list[Event]) -> Stream | None:
        """A HEADERS frame for a stream we do not track: open it, or refuse it."""
        if stream_id in self._closed or not self._is_idle(stream_id):
            if self._closed.get(stream_id):
                return None  # reset by us: already decoded, ignore (5.1)
            if self.client_side or stream_id in self._closed:
                self._stream_error(stream_id, ErrorCodes.STREAM_CLOSED, events)
                return None
            # 5.1.1: a lower id than one already opened was implicitly closed.
            self._fail(ProtocolError, f"HEADERS on stream {stream_id}, below the last one opened")
        if self.client_side or stream_id % 2 == 0:
            self._fail(ProtocolError, f"peer opened stream {stream_id} with the wrong parity")
        self._highest_remote_id = stream_id
        if self._goaway_sent is not None and stream_id > self._goaway_sent:
            self._forget(stream_id, True)  # 6.8: above our GOAWAY, ignored
            return None
        if self._open_remote >= self.local_settings[SettingCodes.MAX_CONCURRENT_STREAMS]:
            # 5.1.2: REFUSED_STREAM tells the client it is safe to retry.
            self._queue_control(fr.rst_stream(stream_id, ErrorCodes.REFUSED_STREAM))
            self._forget(stream_id, True)
            self._glitch("streams over the concurrency limit")
            return None
        stream = Stream(
            stream_id,
            self.remote_settings[SettingCodes.INITIAL_WINDOW_SIZE],
            self.local_settings[SettingCodes.INITIAL_WINDOW_SIZE],
        )
        self._streams[stream_id] = stream
        return stream

    def _on_push_promise(
        self,
        stream_id: int,
        promised: int,
        headers: list[tuple[bytes, bytes]],
        events: list[Event],
    ) -> None:
        if not self.local_settings[SettingCodes.ENABLE_PUSH]:
            # 6.5.2: push disabled and our setting acknowledged.
            self._fail(ProtocolError, "PUSH_PROMISE received with push disabled")
        if promised % 2 or promised <= self._highest_remote_id:
            self._fail(ProtocolError, f"PUSH_PROMISE promised invalid stream {promised}")
        self._highest_remote_id = promised
        parent = self._streams.get(stream_id)
        if parent is None and self._closed.get(stream_id):
            # The parent was reset by us and the promise crossed our RST.
            self._refuse_promise(promised, ErrorCodes.CANCEL)
            return
        if parent is None or parent.state not in _CAN_RECV_PUSH_ON:
            self._fail(ProtocolError, f"PUSH_PROMISE on stream {stream_id} which is not open")
        if self._goaway_sent is not None and promised > self._goaway_sent:
            self._forget(promised, True)  # 6.8: above our GOAWAY, ignored
            return
        if not self.config.enable_push:
            self._refuse_promise(promised, ErrorCodes.REFUSED_STREAM)
            return
        if self._reserved_remote >= self.config.max_reserved_streams:
            self._refuse_promise(promised, ErrorCodes.REFUSED_STREAM)
            self._glitch("too many reserved streams")
            return
        stream = Stream(
            promised,
            self.remote_settings[SettingCodes.INITIAL_WINDOW_SIZE],
            self.local_settings[SettingCodes.INITIAL_WINDOW_SIZE],
        )
        self._streams[promised] = stream
        self._set_state(stream, NEXT_STATE[IDLE * 16 + RECV_PUSH_PROMISE])
        try:
            headers, method, length = _headers.inspect_request(headers)
            if method not in _SAFE_PUSH_METHODS or length:
                # 8.4: only safe, bodiless requests can be pushed.
                raise _headers.MalformedHeaders("pushed request must be safe and bodiless")
        except _headers.MalformedHeaders:
            self._stream_error(promised, ErrorCodes.PROTOCOL_ERROR, events)
            return
        stream.head_request = method == b"HEAD"
        events.append(PushPromiseReceived(promised, stream_id, headers))

    def _refuse_promise(self, promised: int, error_code: int) -> None:
        self._queue_control(fr.rst_stream(promised, error_code))
        self._forget(promised, True)

    # -- Control frames -----------------------------------------------------

    def _recv_priority(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id == 0:
            self._fail(ProtocolError, "PRIORITY on stream 0")
        if len(body) != 5:
            if (
                stream_id not in self._streams
                and stream_id not in self._closed
                and self._is_idle(stream_id)
            ):
                # 6.4: RST_STREAM is never sent on an idle stream, so this
                # stream error can only be reported as a connection error.
                self._fail(FrameSizeError, "PRIORITY must be 5 bytes")
            self._stream_error(stream_id, ErrorCodes.FRAME_SIZE_ERROR, events)
            return
        if fr.read_u32(body) & 0x7FFFFFFF == stream_id:
            self._stream_error(stream_id, ErrorCodes.PROTOCOL_ERROR, events)
            return
        # RFC 9113 deprecates the priority tree: parsed, validated, ignored.
        if stream_id not in self._streams:
            self._glitch("PRIORITY on idle or closed streams")

    def _recv_rst_stream(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id == 0:
            self._fail(ProtocolError, "RST_STREAM on stream 0")
        if len(body) != 4:
            self._fail(FrameSizeError, "RST_STREAM must be 4 bytes")
        if not self._reset_budget.take():
            # Rapid Reset (CVE-2023-44487).
            self._fail(EnhanceYourCalmError, "too many RST_STREAM frames")
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._is_idle(stream_id) and stream_id not in self._closed:
                self._fail(ProtocolError, f"RST_STREAM on idle stream {stream_id}")
            return  # closed already; never answer a reset with a reset (5.4.2)
        self._set_state(stream, NEXT_STATE[stream.state * 16 + RECV_RST_STREAM])
        events.append(StreamReset(stream_id, fr.read_u32(body), True))

    def _recv_settings(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id != 0:
            self._fail(ProtocolError, "SETTINGS on a stream")
        if flags & FLAG_ACK:
            if len(body):
                self._fail(FrameSizeError, "SETTINGS ACK with a payload")
            if self._pending_settings:
                self._settings_sent_at.popleft()
                self._apply_local_settings(self._pending_settings.popleft(), events)
            return
        if len(body) % 6:
            self._fail(FrameSizeError, "SETTINGS length is not a multiple of 6")
        if len(body) > 6 * self.config.max_settings_entries:
            self._fail(EnhanceYourCalmError, "too many entries in one SETTINGS frame")
        if not self._control_budget.take():
            self._fail(EnhanceYourCalmError, "SETTINGS flood")
        changed: dict[int, int] = {}
        remote = self.remote_settings
        for setting, value in fr.iter_settings(body):
            try:
                _check_setting(setting, value, local=False, client_side=self.client_side)
            except LocalProtocolError as exc:
                code = (
                    FlowControlError
                    if setting == SettingCodes.INITIAL_WINDOW_SIZE
                    else ProtocolError
                )
                self._fail(code, str(exc))
            if setting == SettingCodes.INITIAL_WINDOW_SIZE:
                # 6.9.2: every stream's send window moves by the difference.
                delta = value - remote[setting]
                for stream in self._streams.values():
                    stream.send_window += delta
                    if stream.send_window > MAX_WINDOW:
                        self._fail(
                            FlowControlError, "INITIAL_WINDOW_SIZE overflows a stream window"
                        )
            elif setting == SettingCodes.HEADER_TABLE_SIZE:
                # In order, so [0, 4096] yields two size updates (L3, RFC 7541 4.2).
                size = min(value, self.config.max_encoder_table_size)
                encoder = self._encoder
                # hpack clears its "resized" flag when a size is set twice in a
                # row, dropping the pending update: only assign real changes.
                if size != encoder.header_table_size:
                    encoder.header_table_size = size
                    # RFC 7541 4.2: signal the smallest size since the last
                    # block, then the final one; hpack queues every change.
                    sizes = encoder.table_size_changes
                    if len(sizes) > 1:
                        low = min(sizes)
                        encoder.table_size_changes = [low] if low == size else [low, size]
                    self._encode_cache.clear()  # the next block must carry the update
            elif setting not in remote:
                continue  # unknown settings are ignored (6.5.2)
            remote[setting] = value
            changed[setting] = value
        self._queue_control(fr.settings_ack())
        events.append(RemoteSettingsChanged(changed))

    def _apply_local_settings(self, changes: dict[int, int], events: list[Event]) -> None:
        local = self.local_settings
        for setting, value in changes.items():
            if setting == SettingCodes.INITIAL_WINDOW_SIZE:
                delta = value - local[setting]
                for stream in self._streams.values():
                    stream.recv_window += delta
                    manager = stream.manager
                    if manager is not None and stream.state in (OPEN, HALF_CLOSED_LOCAL):
                        # 6.9.3: a cut can leave the window negative with no
                        # unread data left to prompt an update; keep the
                        # manager in step and let it top the window up now.
                        manager.initial_window_size = value
                        manager.window_size += delta
                        self._give_stream_window(stream, 0)
            elif setting == SettingCodes.HEADER_TABLE_SIZE:
                self._decoder.max_allowed_table_size = value
                # A cached block skips hpack's check that the peer shrank the
                # table to the new limit (RFC 7541 4.2, checklist C6).
                self._decode_cache.clear()
            elif setting == SettingCodes.MAX_HEADER_LIST_SIZE:
                self._decoder.max_header_list_size = value
                self._decode_cache.clear()  # cached blocks were checked against the old cap
            elif setting == SettingCodes.MAX_FRAME_SIZE:
                self._max_inbound_frame = value
            local[setting] = value
        events.append(SettingsAcknowledged(dict(changes)))

    def _recv_ping(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id != 0:
            self._fail(ProtocolError, "PING on a stream")
        if len(body) != 8:
            self._fail(FrameSizeError, "PING must be 8 bytes")
        data = bytes(body)
        if flags & FLAG_ACK:
            events.append(PingAcknowledged(data))
            return
        if not self._control_budget.take():
            self._fail(EnhanceYourCalmError, "PING flood")
        self._queue_control(fr.ping(data, ack=True))
        events.append(PingReceived(data))

    def _recv_goaway(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id != 0:
            self._fail(ProtocolError, "GOAWAY on a stream")
        if len(body) < 8:
            self._fail(FrameSizeError, "GOAWAY shorter than 8 bytes")
        last = fr.read_u32(body) & 0x7FFFFFFF
        code = fr.read_u32(body, 4)
        if self._goaway_received is not None:
            last = min(last, self._goaway_received)
        self._goaway_received = last
        events.append(ConnectionTerminated(code, last, bytes(body[8:])))
        # 6.8: our streams above last-stream-id were never processed.
        parity = 1 if self.client_side else 0
        for sid in [s for s in self._streams if s > last and s % 2 == parity]:
            stream = self._streams[sid]
            self._set_state(stream, CLOSED)
            events.append(StreamReset(sid, ErrorCodes.REFUSED_STREAM, True))

    def _recv_window_update(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if len(body) != 4:
            self._fail(FrameSizeError, "WINDOW_UPDATE must be 4 bytes")
        increment = fr.read_u32(body) & 0x7FFFFFFF
        if stream_id == 0:
            if increment == 0:
                self._fail(ProtocolError, "WINDOW_UPDATE with a zero increment")
            self._send_window += increment
            if self._send_window > MAX_WINDOW:
                self._fail(FlowControlError, "connection send window above 2**31-1")
            events.append(WindowUpdated(0, increment))
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._is_idle(stream_id) and stream_id not in self._closed:
                self._fail(ProtocolError, f"WINDOW_UPDATE on idle stream {stream_id}")
            return  # closed: may cross our END_STREAM or RST (5.1)
        if stream.state == RESERVED_REMOTE:
            # 5.1: reserved (remote) takes only HEADERS, RST_STREAM, PRIORITY (MUST).
            self._fail(ProtocolError, f"WINDOW_UPDATE on reserved stream {stream_id}")
        if increment == 0:
            self._stream_error(stream_id, ErrorCodes.PROTOCOL_ERROR, events)
            return
        stream.send_window += increment
        if stream.send_window > MAX_WINDOW:
            self._stream_error(stream_id, ErrorCodes.FLOW_CONTROL_ERROR, events)
            return
        events.append(WindowUpdated(stream_id, increment))


# Allowed values of the settings with limits (RFC 9113 6.5.2, RFC 8441 3).
_SETTING_BOUNDS = {
    SettingCodes.ENABLE_PUSH: (0, 1),
    SettingCodes.INITIAL_WINDOW_SIZE: (0, MAX_WINDOW),
    SettingCodes.MAX_FRAME_SIZE: (MIN_FRAME_SIZE, MAX_FRAME_SIZE),
    SettingCodes.ENABLE_CONNECT_PROTOCOL: (0, 1),
}


def _check_setting(setting: int, value: int, *, local: bool, client_side: bool) -> None:
    """Raise LocalProtocolError for a value RFC 9113 6.5.2 forbids."""
    low, high = _SETTING_BOUNDS.get(setting, (0, 2**32 - 1))
    if not low <= value <= high:
        raise LocalProtocolError(f"setting 0x{setting:x} = {value} outside {low}..{high}")
    if setting == SettingCodes.ENABLE_PUSH and value == 1 and client_side != local:
        raise LocalProtocolError("a server cannot enable push")
