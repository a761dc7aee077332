"""
The RFC 9113 section 5.1 stream state machine, as data.

``NEXT_STATE`` lists every legal (state, input) move, keyed by the small int
``state * 16 + input`` so a lookup is one dict probe on an int. A missing key
is an illegal move. The machine does not know which role it plays: "local"
and "remote" are relative to whoever owns the engine. What an illegal move
costs (connection or stream error, and which code) is decided next to the
table, in ``illegal_receive_code``.
"""

from __future__ import annotations

import enum

from hyper.engine.errors import ErrorCodes
from hyper.engine.window import BaseFlowControlManager


class StreamState(enum.IntEnum):
    """The RFC 9113 5.1 stream states, as :meth:`Engine.stream_state` names them."""

    IDLE = 0
    RESERVED_LOCAL = 1
    RESERVED_REMOTE = 2
    OPEN = 3
    HALF_CLOSED_LOCAL = 4
    HALF_CLOSED_REMOTE = 5
    CLOSED = 6


# The engine keeps states as plain ints (a dict probe on an int is about
# twice as fast as one on an enum member; see STYLE.md on h2's tables).
IDLE, RESERVED_LOCAL, RESERVED_REMOTE, OPEN, HALF_CLOSED_LOCAL, HALF_CLOSED_REMOTE, CLOSED = (
    int(state) for state in StreamState
)
STATE_NAMES = tuple(state.name for state in StreamState)

# Inputs.
(
    SEND_HEADERS,
    RECV_HEADERS,
    SEND_PUSH_PROMISE,
    RECV_PUSH_PROMISE,
    SEND_DATA,
    RECV_DATA,
    SEND_END_STREAM,
    RECV_END_STREAM,
    SEND_RST_STREAM,
    RECV_RST_STREAM,
) = range(10)
_MOVES = [
    (IDLE, SEND_HEADERS, OPEN),
    (IDLE, RECV_HEADERS, OPEN),
    (IDLE, SEND_PUSH_PROMISE, RESERVED_LOCAL),
    (IDLE, RECV_PUSH_PROMISE, RESERVED_REMOTE),
    (RESERVED_LOCAL, SEND_HEADERS, HALF_CLOSED_REMOTE),
    (RESERVED_LOCAL, SEND_RST_STREAM, CLOSED),
    (RESERVED_LOCAL, RECV_RST_STREAM, CLOSED),
    (RESERVED_REMOTE, RECV_HEADERS, HALF_CLOSED_LOCAL),
    (RESERVED_REMOTE, SEND_RST_STREAM, CLOSED),
    (RESERVED_REMOTE, RECV_RST_STREAM, CLOSED),
    (OPEN, SEND_HEADERS, OPEN),
    (OPEN, RECV_HEADERS, OPEN),
    (OPEN, SEND_DATA, OPEN),
    (OPEN, RECV_DATA, OPEN),
    (OPEN, SEND_END_STREAM, HALF_CLOSED_LOCAL),
    (OPEN, RECV_END_STREAM, HALF_CLOSED_REMOTE),
    (OPEN, SEND_RST_STREAM, CLOSED),
    (OPEN, RECV_RST_STREAM, CLOSED),
    (HALF_CLOSED_LOCAL, RECV_HEADERS, HALF_CLOSED_LOCAL),
    (HALF_CLOSED_LOCAL, RECV_DATA, HALF_CLOSED_LOCAL),
    (HALF_CLOSED_LOCAL, RECV_END_STREAM, CLOSED),
    (HALF_CLOSED_LOCAL, SEND_RST_STREAM, CLOSED),
    (HALF_CLOSED_LOCAL, RECV_RST_STREAM, CLOSED),
    (HALF_CLOSED_REMOTE, SEND_HEADERS, HALF_CLOSED_REMOTE),
    (HALF_CLOSED_REMOTE, SEND_DATA, HALF_CLOSED_REMOTE),
    (HALF_CLOSED_REMOTE, SEND_END_STREAM, CLOSED),
    (HALF_CLOSED_REMOTE, SEND_RST_STREAM, CLOSED),
    (HALF_CLOSED_REMOTE, RECV_RST_STREAM, CLOSED),
]

NEXT_STATE: dict[int, int] = {state * 16 + event: new for state, event, new in _MOVES}

# Streams that count against MAX_CONCURRENT_STREAMS (5.1.2: reserved do not).
ACTIVE_STATES = frozenset({OPEN, HALF_CLOSED_LOCAL, HALF_CLOSED_REMOTE})


def illegal_receive_code(state: int) -> int:
    """
    The stream error for a HEADERS or DATA frame the table refuses. A peer
    writing to a stream it already ended gets STREAM_CLOSED (5.1, 6.1);
    anything else is a PROTOCOL_ERROR. The engine never gets here for a
    reserved stream: 5.1 makes those connection errors.
    """
    if state in (HALF_CLOSED_REMOTE, CLOSED):
        return ErrorCodes.STREAM_CLOSED
    return ErrorCodes.PROTOCOL_ERROR


class Stream:
    """One stream's state, windows and body accounting. Owned by the engine."""

    __slots__ = (
        "stream_id",
        "state",
        "send_window",
        "recv_window",
        "manager",
        "headers_done",
        "headers_sent",
        "expected_length",
        "received_length",
        "head_request",
    )

    def __init__(self, stream_id: int, send_window: int, recv_window: int) -> None:
        self.stream_id = stream_id
        self.state = IDLE
        self.send_window = send_window
        self.recv_window = recv_window
        # The window manager, made when the application first consumes data.
        self.manager: BaseFlowControlManager | None = None
        self.headers_done = False  # final (non-1xx) inbound headers seen
        self.headers_sent = False  # final outbound headers sent
        self.expected_length: int | None = None  # inbound content-length
        self.received_length = 0
        self.head_request = False  # we sent HEAD: ignore content-length (8.1.1)

    def __repr__(self) -> str:
        return f"<Stream {self.stream_id} {STATE_NAMES[self.state]}>"
