"""
What the engine reports happened: the results of ``Engine.receive_data``.

Each event is complete when built and never changed afterwards. Headers are
lists of ``(name, value)`` byte pairs, exactly as decoded, pseudo-headers
first. Stream events carry ``stream_id``; facts that belong together travel
together (a DATA event says whether it also ended the stream).
"""

from __future__ import annotations

from hyper.common.types import RawHeaders

#: The historic name of a decoded header block.
Headers = RawHeaders


class Event:
    """Base class of engine events."""

    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__
        )

    # Value equality with mutable fields (headers): unhashable, like a list.
    __hash__ = None  # type: ignore[assignment]


class RequestReceived(Event):
    """(server) A request's headers arrived and opened ``stream_id``."""

    __slots__ = ("stream_id", "headers", "end_stream")

    def __init__(self, stream_id: int, headers: Headers, end_stream: bool) -> None:
        self.stream_id = stream_id
        self.headers = headers
        self.end_stream = end_stream


class ResponseReceived(Event):
    """(client) The final (non-1xx) response headers arrived."""

    __slots__ = ("stream_id", "headers", "end_stream")

    def __init__(self, stream_id: int, headers: Headers, end_stream: bool) -> None:
        self.stream_id = stream_id
        self.headers = headers
        self.end_stream = end_stream


class InformationalResponseReceived(Event):
    """(client) A 1xx interim response arrived; the final one follows."""

    __slots__ = ("stream_id", "headers")

    def __init__(self, stream_id: int, headers: Headers) -> None:
        self.stream_id = stream_id
        self.headers = headers


class TrailersReceived(Event):
    """Trailing headers arrived; they always end the stream's inbound side."""

    __slots__ = ("stream_id", "headers")

    def __init__(self, stream_id: int, headers: Headers) -> None:
        self.stream_id = stream_id
        self.headers = headers

    @property
    def end_stream(self) -> bool:
        return True


class DataReceived(Event):
    """
    Body bytes arrived. ``flow_controlled_length`` counts padding too; the
    engine gives the padding back by itself, so acknowledge ``len(data)`` with
    ``Engine.acknowledge_received_data`` once the application consumed it.
    """

    __slots__ = ("stream_id", "data", "flow_controlled_length", "end_stream")

    def __init__(
        self, stream_id: int, data: bytes, flow_controlled_length: int, end_stream: bool
    ) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flow_controlled_length = flow_controlled_length
        self.end_stream = end_stream


class StreamReset(Event):
    """
    A stream ended abnormally. ``remote`` is True when the peer sent
    RST_STREAM (or refused the stream through GOAWAY), False when the engine
    reset it because the peer broke a stream-level rule (RST_STREAM queued).
    ``error_code`` REFUSED_STREAM means the request was not processed and is
    safe to retry.
    """

    __slots__ = ("stream_id", "error_code", "remote")

    def __init__(self, stream_id: int, error_code: int, remote: bool) -> None:
        self.stream_id = stream_id
        self.error_code = error_code
        self.remote = remote


class PushPromiseReceived(Event):
    """(client, push enabled) The server promised ``promised_stream_id``."""

    __slots__ = ("stream_id", "parent_stream_id", "headers")

    def __init__(self, stream_id: int, parent_stream_id: int, headers: Headers) -> None:
        self.stream_id = stream_id
        self.parent_stream_id = parent_stream_id
        self.headers = headers

    @property
    def promised_stream_id(self) -> int:
        return self.stream_id


class WindowUpdated(Event):
    """The peer gave us send window; ``stream_id`` 0 is the connection."""

    __slots__ = ("stream_id", "delta")

    def __init__(self, stream_id: int, delta: int) -> None:
        self.stream_id = stream_id
        self.delta = delta


class RemoteSettingsChanged(Event):
    """The peer's SETTINGS were applied (and ACKed). ``changed``: id -> value."""

    __slots__ = ("changed",)

    def __init__(self, changed: dict[int, int]) -> None:
        self.changed = changed


class SettingsAcknowledged(Event):
    """The peer ACKed our SETTINGS; ``changed`` are the values now in force."""

    __slots__ = ("changed",)

    def __init__(self, changed: dict[int, int]) -> None:
        self.changed = changed


class PingReceived(Event):
    """The peer sent a PING; the engine already queued the ACK."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class PingAcknowledged(Event):
    """The peer answered one of our PINGs."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class ConnectionTerminated(Event):
    """
    The peer sent GOAWAY. Streams up to ``last_stream_id`` may still finish;
    ours above it are reported as ``StreamReset(REFUSED_STREAM, remote=True)``
    right after this event. No new stream may be opened.
    """

    __slots__ = ("error_code", "last_stream_id", "additional_data")

    def __init__(self, error_code: int, last_stream_id: int, additional_data: bytes) -> None:
        self.error_code = error_code
        self.last_stream_id = last_stream_id
        self.additional_data = additional_data
