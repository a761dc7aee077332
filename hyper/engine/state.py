"""
The engine's state and the helpers both of its halves share.

:class:`EngineState` holds everything one HTTP/2 connection remembers
(settings, HPACK tables, streams, windows, budgets) and the moves that keep
it consistent: stream state changes with their concurrency counts, closing
and remembering streams, giving receive window back, and the two kinds of
error (connection: GOAWAY then raise; stream: RST_STREAM and an event).
:mod:`hyper.engine.receiving` adds the frame handlers on top and
:mod:`hyper.engine.engine` the public commands.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn

from hpack import Decoder, Encoder

from hyper.common.types import Buffer
from hyper.engine import frames as fr
from hyper.engine.config import (
    DEFAULT_SETTINGS,
    MAX_WINDOW,
    MIN_FRAME_SIZE,
    EngineConfig,
    SettingCodes,
)
from hyper.engine.events import (
    Event,
    StreamReset,
)
from hyper.engine.exceptions import (
    ConnectionError,
    EnhanceYourCalmError,
    LocalProtocolError,
)
from hyper.engine.stream import (
    ACTIVE_STATES,
    CLOSED,
    NEXT_STATE,
    RESERVED_REMOTE,
    SEND_RST_STREAM,
    Stream,
)

# Entries in each of the engine's HPACK block caches (encoding and decoding).
BLOCK_CACHE_SIZE = 256



# How a recently closed stream ended (EngineState._closed), which decides the
# answer to a late frame on it (RFC 9113 5.1, "closed"): after the peer's
# END_STREAM any DATA or HEADERS is a connection error (STREAM_CLOSED); after
# a RST_STREAM we sent, frames in flight are ignored; after one we received,
# any frame but PRIORITY (and RST_STREAM: never a reset for a reset, 5.4.2)
# is a stream error (STREAM_CLOSED).
CLOSED_ENDED, CLOSED_RESET_SENT, CLOSED_RESET_RECEIVED = range(3)

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


class EngineState:
    """State and shared moves of :class:`hyper.engine.engine.Engine`."""

    def __init__(self, config: EngineConfig | None = None, *, client_side: bool | None = None):
        if config is None:
            config = EngineConfig(client_side=True if client_side is None else client_side)
        elif client_side is not None and client_side != config.client_side:
            raise LocalProtocolError("client_side disagrees with config.client_side")
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
        # Caller header sets already validated and sanitised (prepare_outbound),
        # by the tuple of what the caller passed: a client repeats the same set.
        self._prepared_cache: dict[tuple[Any, ...], list[tuple[bytes, bytes]]] = {}
        self._decode_cache: dict[bytes, tuple[tuple[bytes, bytes], ...]] = {}
        # Dynamic-table lookups of the HPACK fast path, until the table changes.
        self._index_cache: dict[int, tuple[bytes, bytes]] = {}
        # What inspect_response made of a block in _decode_cache (same
        # bytes, same headers, same verdict), emptied with it.
        self._inspected: dict[bytes, tuple[int, int | None]] = {}
        self._decoder.max_allowed_table_size = DEFAULT_SETTINGS[SettingCodes.HEADER_TABLE_SIZE]

        self._out: list[Buffer] = []
        self._inbuf = bytearray()
        self._streams: dict[int, Stream] = {}
        # Recently closed stream ids -> how they closed (CLOSED_ENDED,
        # CLOSED_RESET_SENT, CLOSED_RESET_RECEIVED): RFC 9113 5.1 answers a
        # late frame by that. At most config.max_closed_streams, oldest
        # forgotten first. A client's own streams that ended normally are not
        # listed (see _forget).
        self._closed: dict[int, int] = {}
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
        self._cont: list[Any] | None = None

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

    def _queue_control(self, frame: bytes) -> None:
        # Flood guard (CVE-2019-9512/9514/9515): a peer that makes us queue
        # ACKs and resets faster than we can drain them is attacking us.
        self._out.append(frame)
        self._control_queued += 1
        if self._control_queued > self.config.max_outbound_control_frames:
            self._fail(EnhanceYourCalmError, "too many queued control frames (flood)")

    def _check_usable(self) -> None:
        if self._error is not None:
            self._raise_failed(self._error)

    @staticmethod
    def _raise_failed(error: ConnectionError) -> NoReturn:
        raise type(error)(f"connection failed earlier: {error}", error.error_code) from error

    def _add_stream(self, stream_id: int) -> Stream:
        """Track a new idle stream with the initial windows now in force."""
        stream = Stream(
            stream_id,
            self.remote_settings[SettingCodes.INITIAL_WINDOW_SIZE],
            self.local_settings[SettingCodes.INITIAL_WINDOW_SIZE],
        )
        self._streams[stream_id] = stream
        return stream

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

    def _close_stream(self, stream: Stream) -> None:
        """Close a stream we reset (or dropped above our GOAWAY's last id)."""
        # Every state a stream in ``_streams`` can be in has this move.
        self._set_state(stream, NEXT_STATE.get(stream.state * 16 + SEND_RST_STREAM, CLOSED))
        self._remember_closed(stream.stream_id, CLOSED_RESET_SENT)

    def _forget(self, stream_id: int, reset_by_us: bool) -> None:
        self._streams.pop(stream_id, None)
        if not reset_by_us and self.client_side and stream_id % 2 == 1:
            # A request stream that ended normally needs no entry: every id
            # of ours below the next one is closed (not idle) unless listed
            # as reset, so a client's memory does not grow per request.
            return
        self._remember_closed(stream_id, CLOSED_RESET_SENT if reset_by_us else CLOSED_ENDED)

    def _remember_closed(self, stream_id: int, how: int) -> None:
        closed = self._closed
        closed[stream_id] = how
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

    def _fail(
        self, exc_type: type[ConnectionError], message: str, error_code: int | None = None
    ) -> NoReturn:
        """Connection error: queue GOAWAY with the class's code (or
        ``error_code``), then raise."""
        exc = exc_type(message, error_code)
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
            self._close_stream(stream)
        else:
            self._forget(stream_id, True)
        events.append(StreamReset(stream_id, error_code, False))

    def _glitch(self, what: str) -> None:
        # MadeYouReset (CVE-2025-8671), empty-frame and PRIORITY floods: each
        # costs a token; a peer that burns them all is not well-behaved.
        if not self._glitch_budget.take():
            self._fail(EnhanceYourCalmError, f"peer exceeded the glitch budget ({what})")
