"""
The input half of the engine: ``receive_data`` and one handler per frame type.

Frames are read by hand, not by hyperframe: the length is checked against our
MAX_FRAME_SIZE on the 9-byte header before the body is buffered (RFC 9113
4.2), padding and priority fields are validated together, SETTINGS entries
are applied in order with duplicates kept, and every malformed frame maps to
its RFC error code. Dispatch is a list indexed by the frame type byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, cast

from hpack import OversizedHeaderListError

from hyper.common.types import Buffer
from hyper.engine import frames as fr
from hyper.engine import header_rules
from hyper.engine.config import (
    MAX_WINDOW,
    EngineConfig,
    SettingCodes,
    check_setting,
)
from hyper.engine.errors import ErrorCodes, error_name
from hyper.engine.events import (
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
from hyper.engine.exceptions import (
    ConnectionError,
    ConnectionTerminatedError,
    EnhanceYourCalmError,
    FlowControlError,
    FrameSizeError,
    HeaderListTooLargeError,
    HPACKDecodingError,
    LocalProtocolError,
    ProtocolError,
    StreamClosedError,
)
from hyper.engine.frames import (
    CONTINUATION,
    DATA,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLAG_PRIORITY,
    FRAME_HEADER,
    GOAWAY,
    HEADERS,
    PREFACE,
    PUSH_PROMISE,
    SETTINGS,
)
from hyper.engine.hpack_fast import decode_stateless
from hyper.engine.state import (
    BLOCK_CACHE_SIZE,
    CLOSED_ENDED,
    CLOSED_RESET_RECEIVED,
    CLOSED_RESET_SENT,
    EngineState,
)
from hyper.engine.stream import (
    CLOSED,
    HALF_CLOSED_LOCAL,
    IDLE,
    NEXT_STATE,
    OPEN,
    RECV_DATA,
    RECV_END_STREAM,
    RECV_HEADERS,
    RECV_PUSH_PROMISE,
    RECV_RST_STREAM,
    RESERVED_LOCAL,
    RESERVED_REMOTE,
    Stream,
    illegal_receive_code,
)

_CAN_RECV_PUSH_ON = frozenset({OPEN, HALF_CLOSED_LOCAL})
_SAFE_PUSH_METHODS = frozenset({b"GET", b"HEAD"})
# Statuses whose responses carry no body whatever content-length says (8.1.1).
_NO_BODY_STATUSES = frozenset({204, 304})


class Receiver(EngineState):
    """:class:`EngineState` plus the frame handlers and ``receive_data``."""

    def __init__(self, config: EngineConfig | None = None, *, client_side: bool | None = None):
        super().__init__(config, client_side=client_side)
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
    # Input

    def receive_data(self, data: Buffer) -> list[Event]:
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
        events: list[Event] = []
        if self._inbuf and not self._expect_preface:
            # Complete the frame that was cut off, then parse the rest from
            # ``data`` itself: appending all of ``data`` to the leftover
            # would copy every byte received once more.
            rest = self._complete_frame(data, events)
            if rest is not None:
                self._parse(rest, events)
            return events
        if self._inbuf:
            self._inbuf += data
            view = memoryview(self._inbuf)
        else:
            view = memoryview(data)
            if view.ndim != 1 or view.itemsize != 1:
                view = view.cast("B")
        self._parse(view, events)
        return events

    def _complete_frame(self, data: Buffer, events: list[Event]) -> memoryview | None:
        """
        Add to the cut-off frame in ``_inbuf`` what ``data`` has of it; parse
        it once whole (or once its header shows it too large). Returns the
        rest of ``data``, or None if the frame is still incomplete.
        """
        buf = self._inbuf
        src = memoryview(data)
        if src.ndim != 1 or src.itemsize != 1:
            src = src.cast("B")
        taken = 0
        if len(buf) < 9:
            taken = min(9 - len(buf), len(src))
            buf += src[:taken]
            if len(buf) < 9:
                return None
        length = (buf[0] << 16) | (buf[1] << 8) | buf[2]
        if length <= self._max_inbound_frame:
            more = min(9 + length - len(buf), len(src) - taken)
            buf += src[taken : taken + more]
            taken += more
            if len(buf) < 9 + length:
                return None
        self._inbuf = bytearray()
        self._parse(memoryview(buf), events)  # one frame (or a FrameSizeError)
        return src[taken:]

    def _parse(self, view: memoryview, events: list[Event]) -> None:
        """Handle every whole frame in ``view``; keep the cut-off rest in ``_inbuf``."""
        end = len(view)
        pos = 0
        try:
            if self._expect_preface:
                if end < len(PREFACE):
                    if bytes(view) != PREFACE[:end]:
                        self._fail(ProtocolError, "invalid connection preface")
                    return
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
                    if frame_type == GOAWAY and not stream_id and length >= 8:
                        self._goaway_first(view[start:pos])
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

    def _goaway_first(self, body: memoryview) -> NoReturn:
        """
        The peer opened with GOAWAY: RFC 9113 3.4 wants SETTINGS first, so
        the connection is refused all the same; but a peer that says GOAWAY
        before anything else is going away (shutting down, full), which is
        what this error says, with its code, rather than calling it a
        protocol violation.
        """
        code = fr.read_u32(body, 4)
        message = (
            f"the peer sent GOAWAY({error_name(code)}) instead of its SETTINGS: "
            "it is going away and refused this connection"
        )
        debug = bytes(body[8:200])
        if debug:
            message += f" ({debug.decode('utf-8', 'replace')})"
        self._fail(ConnectionTerminatedError, message, code)

    # -- DATA -------------------------------------------------------------

    def _recv_data(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id == 0:
            self._fail(ProtocolError, "DATA on stream 0")
        flow_length = len(body)
        if flags & FLAG_PADDED:
            start, stop = self._unpad(body, 0, "DATA")
            payload = body[start:stop]
        else:
            payload = body
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
        if state * 16 + RECV_DATA not in NEXT_STATE:
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

    def _unpad(self, body: memoryview, fixed: int, what: str) -> tuple[int, int]:
        """
        Where a padded frame's fields start (after the pad-length byte) and its
        payload stops (before the padding), with ``fixed`` bytes of fields
        required. Too short for the fields: FRAME_SIZE_ERROR (4.2); padding
        past the payload, counting the fields too: PROTOCOL_ERROR (6.1, 6.2, L4).
        """
        length = len(body)
        if length < 1 + fixed:
            self._fail(FrameSizeError, f"padded {what} too short for its fields")
        stop = length - body[0]
        if stop < 1 + fixed:
            self._fail(ProtocolError, f"{what} padding exceeds the frame payload")
        return 1, stop

    def _recv_on_missing_stream(self, stream_id: int, what: str, events: list[Event]) -> None:
        """DATA (or a header block) on a stream we do not track (5.1)."""
        how = self._closed.get(stream_id)
        if how == CLOSED_RESET_SENT:
            return  # the peer may not have seen our RST yet: ignore (5.1, 5.4.2)
        if how == CLOSED_ENDED:
            # The peer ended the stream and sends on it anyway (5.1, MUST).
            self._fail(StreamClosedError, f"{what} on stream {stream_id} after its END_STREAM")
        if how is None and self._is_idle(stream_id):
            self._fail(ProtocolError, f"{what} on idle stream {stream_id}")
        # After the peer's own RST_STREAM (5.1, MUST), or closed long ago and
        # forgotten (past max_closed_streams; a client's own finished
        # requests), or refused: a stream error, never fatal.
        self._stream_error(stream_id, ErrorCodes.STREAM_CLOSED, events)

    # -- HEADERS, PUSH_PROMISE, CONTINUATION --------------------------------

    def _recv_headers(
        self, flags: int, stream_id: int, body: memoryview, events: list[Event]
    ) -> None:
        if stream_id == 0:
            self._fail(ProtocolError, "HEADERS on stream 0")
        fixed = 5 if flags & FLAG_PRIORITY else 0
        if flags & FLAG_PADDED:
            pos, stop = self._unpad(body, fixed, "HEADERS")
        else:
            pos, stop = 0, len(body)
            if stop < fixed:
                self._fail(FrameSizeError, "HEADERS too short for its priority fields")
        depends_on_self = bool(fixed) and (fr.read_u32(body, pos) & 0x7FFFFFFF) == stream_id
        fragment = body[pos + fixed : stop]
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
        if flags & FLAG_PADDED:
            pos, stop = self._unpad(body, 4, "PUSH_PROMISE")
        else:
            pos, stop = 0, len(body)
            if stop < 4:
                self._fail(FrameSizeError, "PUSH_PROMISE too short for its promised stream id")
        promised = fr.read_u32(body, pos) & 0x7FFFFFFF
        self._start_block(stream_id, PUSH_PROMISE, flags, promised, body[pos + 4 : stop], events)

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

    def _decode(self, block: memoryview) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        """The block's headers, and its key in the block cache (None when
        it is not there: the block changed the table, or the cache is full)."""
        # A block that cannot change the dynamic table decodes the same way
        # until something else changes it: such blocks are cached, and the
        # cache (and the fast path's memoised lookups) emptied whenever hpack
        # decodes a block itself or our table limits change.
        data = bytes(block)
        cache = self._decode_cache
        cached = cache.get(data)
        if cached is not None:
            return list(cached), data
        headers = decode_stateless(data, self._decoder, self._index_cache)
        if headers is None:
            self._clear_block_caches()
            try:
                decoded = self._decoder.decode(data, raw=True)
            except OversizedHeaderListError as exc:
                self._fail_from(HeaderListTooLargeError, "header list larger than the limit", exc)
            except Exception as exc:  # any HPACK failure loses the table
                self._fail_from(HPACKDecodingError, f"HPACK decoding failed: {exc}", exc)
            return cast(list[tuple[bytes, bytes]], decoded), None
        if len(cache) >= BLOCK_CACHE_SIZE:
            return headers, None
        cache[data] = tuple(headers)
        return headers, data

    def _clear_block_caches(self) -> None:
        self._decode_cache.clear()
        self._index_cache.clear()
        self._inspected.clear()

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
        headers, key = self._decode(block)
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
                    raise header_rules.MalformedHeaders("trailers without END_STREAM")
                header_rules.inspect_trailers(headers)
                event: Event = TrailersReceived(stream_id, headers)
            elif self.client_side:
                verdict = None if key is None else self._inspected.get(key)
                if verdict is None:
                    verdict = header_rules.inspect_response(headers)
                    if key is not None:
                        self._inspected[key] = verdict
                status, length = verdict
                if status < 200:
                    if end_stream or status == 101:
                        raise header_rules.MalformedHeaders("invalid informational response")
                    event = InformationalResponseReceived(stream_id, headers)
                else:
                    stream.headers_done = True
                    if not stream.head_request and status not in _NO_BODY_STATUSES:
                        stream.expected_length = length
                    event = ResponseReceived(stream_id, headers, end_stream)
            else:
                headers, _method, length = header_rules.inspect_request(headers)
                stream.headers_done = True
                stream.expected_length = length
                event = RequestReceived(stream_id, headers, end_stream)
            if end_stream and stream.expected_length not in (None, stream.received_length):
                raise header_rules.MalformedHeaders("content-length disagrees with the body")
        except header_rules.MalformedHeaders:
            self._stream_error(stream_id, ErrorCodes.PROTOCOL_ERROR, events)
            return
        self._set_state(stream, new_state)
        events.append(event)
        if end_stream:
            self._set_state(stream, NEXT_STATE[stream.state * 16 + RECV_END_STREAM])

    def _open_remote_stream(self, stream_id: int, events: list[Event]) -> Stream | None:
        """A HEADERS frame for a stream we do not track: open it, or refuse it."""
        if stream_id in self._closed or not self._is_idle(stream_id):
            if self.client_side or stream_id in self._closed:
                # Already decoded (the HPACK state is kept); the stream's
                # end decides the answer (5.1).
                self._recv_on_missing_stream(stream_id, "HEADERS", events)
                return None
            # 5.1.1: a lower id than one already opened was implicitly closed
            # (or closed and forgotten, past max_closed_streams).
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
        stream = self._add_stream(stream_id)
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
        if parent is None and self._closed.get(stream_id) == CLOSED_RESET_SENT:
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
        stream = self._add_stream(promised)
        self._set_state(stream, NEXT_STATE[IDLE * 16 + RECV_PUSH_PROMISE])
        try:
            headers, method, length = header_rules.inspect_request(headers)
            if method not in _SAFE_PUSH_METHODS or length:
                # 8.4: only safe, bodiless requests can be pushed.
                raise header_rules.MalformedHeaders("pushed request must be safe and bodiless")
        except header_rules.MalformedHeaders:
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
        self._remember_closed(stream_id, CLOSED_RESET_RECEIVED)
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
                check_setting(setting, value, local=False, client_side=self.client_side)
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
                self._clear_block_caches()
            elif setting == SettingCodes.MAX_HEADER_LIST_SIZE:
                self._decoder.max_header_list_size = value
                self._clear_block_caches()  # cached blocks were checked against the old cap
            elif setting == SettingCodes.MAX_FRAME_SIZE:
                # Never below a larger value still waiting for its ACK.
                self._max_inbound_frame = max(
                    [value]
                    + [
                        pending[SettingCodes.MAX_FRAME_SIZE]
                        for pending in self._pending_settings
                        if SettingCodes.MAX_FRAME_SIZE in pending
                    ]
                )
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
            how = self._closed.get(stream_id)
            if how == CLOSED_RESET_RECEIVED:
                # Only PRIORITY may follow the peer's own RST_STREAM (5.1, MUST).
                self._stream_error(stream_id, ErrorCodes.STREAM_CLOSED, events)
            elif how is None and self._is_idle(stream_id):
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
