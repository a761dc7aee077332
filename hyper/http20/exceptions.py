"""
The historic ``hyper.http20.exceptions`` path, kept for code written against it:
the names live in :mod:`hyper.engine.exceptions`.
"""

from hyper.engine.exceptions import (
    ConnectionError,
    ConnectionLostError,
    ConnectionTerminatedError,
    EnhanceYourCalmError,
    FlowControlError,
    FrameSizeError,
    HeaderListTooLargeError,
    HPACKDecodingError,
    HPACKEncodingError,
    HTTP20Error,
    InvalidHeaderError,
    LocalProtocolError,
    NoAvailableStreamIDError,
    ProtocolError,
    SettingsTimeoutError,
    StreamClosedError,
    StreamRefusedError,
    StreamResetError,
    StreamStateError,
    TooManyStreamsError,
)

__all__ = [
    "ConnectionError",
    "ConnectionLostError",
    "ConnectionTerminatedError",
    "EnhanceYourCalmError",
    "FlowControlError",
    "FrameSizeError",
    "HPACKDecodingError",
    "HPACKEncodingError",
    "HTTP20Error",
    "HeaderListTooLargeError",
    "InvalidHeaderError",
    "LocalProtocolError",
    "NoAvailableStreamIDError",
    "ProtocolError",
    "SettingsTimeoutError",
    "StreamClosedError",
    "StreamRefusedError",
    "StreamResetError",
    "StreamStateError",
    "TooManyStreamsError",
]
