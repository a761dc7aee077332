"""
Frame constants and the writers the engine uses.

Reading is done by the engine itself (it must check lengths before buffering
and map every malformed frame to an RFC error code, which hyperframe leaves
to us). Writing: the rare control frames (SETTINGS, PING, GOAWAY, RST_STREAM,
WINDOW_UPDATE, PUSH_PROMISE) are serialised by hyperframe; the hot ones (DATA,
HEADERS, CONTINUATION) get a packed 9-byte header in front of the caller's
payload here, because hyperframe allocates a flag set per frame and copies a
DATA payload twice to serialise it. Tests parse everything we write back
with hyperframe.
"""

from __future__ import annotations

import struct

from hyperframe.frame import (
    GoAwayFrame,
    PingFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 section 6).
(
    DATA,
    HEADERS,
    PRIORITY,
    RST_STREAM,
    SETTINGS,
    PUSH_PROMISE,
    PING,
    GOAWAY,
    WINDOW_UPDATE,
    CONTINUATION,
) = range(10)

# Flag bits, tested directly (never as sets of strings).
FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

# length (24 bits as 8 + 16), type, flags, stream id (reserved bit included).
FRAME_HEADER = struct.Struct(">BHBBL")
_U32 = struct.Struct(">L")
_SETTING = struct.Struct(">HL")


def frame_header(length: int, frame_type: int, flags: int, stream_id: int) -> bytes:
    return FRAME_HEADER.pack(length >> 16, length & 0xFFFF, frame_type, flags, stream_id)


def data_layout(
    size: int, max_frame: int, buf: bytearray | None = None
) -> tuple[bytearray, list[memoryview]]:
    """
    Room for ``size`` body bytes as DATA frames of at most ``max_frame`` bytes
    (every one full but the last): a buffer with a frame header's nine bytes
    left free before each payload, and the payload slots, in order, for the
    caller to fill (then :meth:`Engine.send_data_in_place`). The layout of
    fewer bytes is a prefix of it (:func:`data_layout_size`). ``buf``, if
    long enough, is used again (a new one is zeroed: 1/8 of an upload's
    time); whatever was written of it must be out by then.
    """
    needed = data_layout_size(size, max_frame)
    if buf is None or len(buf) < needed:
        buf = bytearray(needed)
    view = memoryview(buf)
    slots = []
    offset = FRAME_HEADER.size
    while size > 0:
        length = size if size < max_frame else max_frame
        slots.append(view[offset : offset + length])
        offset += length + FRAME_HEADER.size
        size -= length
    return buf, slots


def data_layout_size(size: int, max_frame: int) -> int:
    """How long :func:`data_layout`'s buffer for ``size`` body bytes is."""
    return size + FRAME_HEADER.size * -(-size // max_frame)


def read_u32(data: memoryview, offset: int = 0) -> int:
    value: int = _U32.unpack_from(data, offset)[0]
    return value


def iter_settings(body: memoryview) -> list[tuple[int, int]]:
    """The raw (id, value) entries in order: duplicates kept (RFC 9113 6.5.3)."""
    return [_SETTING.unpack_from(body, i) for i in range(0, len(body), 6)]


def settings(values: dict[int, int]) -> bytes:
    return SettingsFrame(0, values).serialize()


def settings_ack() -> bytes:
    return frame_header(0, SETTINGS, FLAG_ACK, 0)


def window_update(stream_id: int, increment: int) -> bytes:
    return WindowUpdateFrame(stream_id, increment).serialize()


def rst_stream(stream_id: int, error_code: int) -> bytes:
    return RstStreamFrame(stream_id, error_code).serialize()


def ping(opaque_data: bytes, ack: bool = False) -> bytes:
    frame = PingFrame(0, opaque_data, flags=("ACK",) if ack else ())
    return frame.serialize()


def goaway(last_stream_id: int, error_code: int, debug: bytes = b"") -> bytes:
    frame = GoAwayFrame(0, last_stream_id, error_code, debug)
    return frame.serialize()


def push_promise(
    stream_id: int, promised_stream_id: int, block: bytes, end_headers: bool
) -> bytes:
    frame = PushPromiseFrame(
        stream_id, promised_stream_id, block, flags=("END_HEADERS",) if end_headers else ()
    )
    return frame.serialize()
