"""
The HTTP/2 error codes (RFC 9113 section 7), as one enum.

``ErrorCodes`` is the single source; the historic ``H2_ERRORS`` table, its
per-code dicts (``NO_ERROR`` ... ``HTTP_1_1_REQUIRED``, each with ``Name``,
``Code`` and ``Description``) and the ``get_data`` lookup are derived from it
so they can never disagree. Codes
received from the wire that are not in the enum stay plain ints.
"""

from __future__ import annotations

import enum

from hyper.common.exceptions import InvalidArgumentError


class ErrorCodes(enum.IntEnum):
    """HTTP/2 error codes (RFC 9113 section 7)."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


_DESCRIPTIONS = {
    ErrorCodes.NO_ERROR: "Graceful shutdown",
    ErrorCodes.PROTOCOL_ERROR: "Protocol error detected",
    ErrorCodes.INTERNAL_ERROR: "Implementation fault",
    ErrorCodes.FLOW_CONTROL_ERROR: "Flow control limits exceeded",
    ErrorCodes.SETTINGS_TIMEOUT: "Settings not acknowledged",
    ErrorCodes.STREAM_CLOSED: "Frame received for closed stream",
    ErrorCodes.FRAME_SIZE_ERROR: "Frame size incorrect",
    ErrorCodes.REFUSED_STREAM: "Stream not processed",
    ErrorCodes.CANCEL: "Stream cancelled",
    ErrorCodes.COMPRESSION_ERROR: "Compression state not updated",
    ErrorCodes.CONNECT_ERROR: "TCP connection error for CONNECT method",
    ErrorCodes.ENHANCE_YOUR_CALM: "Processing capacity exceeded",
    ErrorCodes.INADEQUATE_SECURITY: "Negotiated TLS parameters not acceptable",
    ErrorCodes.HTTP_1_1_REQUIRED: "Use HTTP/1.1 for the request",
}

# Historic shape: one dict per code, indexed by the code itself.
H2_ERRORS = [
    {"Name": code.name, "Code": hex(code.value), "Description": _DESCRIPTIONS[code]}
    for code in ErrorCodes
]
# ... and each of them under its own name (``hyper.engine.errors.CANCEL``...).
(
    NO_ERROR,
    PROTOCOL_ERROR,
    INTERNAL_ERROR,
    FLOW_CONTROL_ERROR,
    SETTINGS_TIMEOUT,
    STREAM_CLOSED,
    FRAME_SIZE_ERROR,
    REFUSED_STREAM,
    CANCEL,
    COMPRESSION_ERROR,
    CONNECT_ERROR,
    ENHANCE_YOUR_CALM,
    INADEQUATE_SECURITY,
    HTTP_1_1_REQUIRED,
) = H2_ERRORS


def to_error_code(value: int) -> ErrorCodes | int:
    """Return the enum member for ``value``, or ``value`` itself if unknown."""
    try:
        return ErrorCodes(value)
    except ValueError:
        return value


def error_name(value: int) -> str:
    """A readable name for any error code, known or not (``'0x1f'``)."""
    code = to_error_code(value)
    return code.name if isinstance(code, ErrorCodes) else hex(value)


def get_data(error_code: int) -> tuple[str, str, str]:
    """
    Look up ``(name, hex code, description)`` for an error code.

    :raises InvalidArgumentError: (a ``ValueError``) the code is not a
        registered HTTP/2 error code.
    """
    if error_code < 0 or error_code >= len(H2_ERRORS):
        raise InvalidArgumentError(f"Error code is invalid: {error_code!r}")
    entry = H2_ERRORS[error_code]
    return entry["Name"], entry["Code"], entry["Description"]
