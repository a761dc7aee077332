"""
The historic ``hyper.http20.errors`` path, kept for code written against it:
the names live in :mod:`hyper.engine.errors`.
"""

from hyper.engine.errors import (
    CANCEL,
    COMPRESSION_ERROR,
    CONNECT_ERROR,
    ENHANCE_YOUR_CALM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    H2_ERRORS,
    HTTP_1_1_REQUIRED,
    INADEQUATE_SECURITY,
    INTERNAL_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    SETTINGS_TIMEOUT,
    STREAM_CLOSED,
    ErrorCodes,
    error_name,
    get_data,
    to_error_code,
)

__all__ = [
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "FLOW_CONTROL_ERROR",
    "FRAME_SIZE_ERROR",
    "H2_ERRORS",
    "HTTP_1_1_REQUIRED",
    "INADEQUATE_SECURITY",
    "INTERNAL_ERROR",
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "REFUSED_STREAM",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "ErrorCodes",
    "error_name",
    "get_data",
    "to_error_code",
]
