"""
The historic ``hyper.http20.events`` path, kept for code written against it:
the names live in :mod:`hyper.engine.events`.
"""

from hyper.engine.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    Headers,
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

__all__ = [
    "ConnectionTerminated",
    "DataReceived",
    "Event",
    "Headers",
    "InformationalResponseReceived",
    "PingAcknowledged",
    "PingReceived",
    "PushPromiseReceived",
    "RemoteSettingsChanged",
    "RequestReceived",
    "ResponseReceived",
    "SettingsAcknowledged",
    "StreamReset",
    "TrailersReceived",
    "WindowUpdated",
]
