"""
What ``set_debuglevel(n)`` prints, for both HTTP versions: ``http.client``'s
lines on stdout (``send:``, ``reply:``, ``header:``), because a caller who
sets a debug level (urllib's ``HTTPHandler(debuglevel=1)``, xmlrpc's
``verbose=True``) asked to see the exchange there, with no logging set up.

HTTP/1.1 prints the bytes written, as ``http.client`` does; HTTP/2 prints
each request's header block as lines (its frames are binary).
"""

from __future__ import annotations

from typing import Any

__all__ = ["print_request_fields", "print_response"]


def print_request_fields(stream_id: int, fields: list[tuple[Any, Any]]) -> None:
    """``send:`` with an HTTP/2 request's header block, one field a line."""
    lines = [_text(name) + ": " + _text(value) for name, value in fields]
    print("send:", repr(f"HEADERS stream {stream_id}\r\n" + "\r\n".join(lines) + "\r\n"))


def print_response(response: Any) -> None:
    """``reply:`` with the status line, then a ``header:`` line per field."""
    version = response.version.value
    reason = f" {response.reason}" if response.reason else ""
    print("reply:", repr(f"{version} {response.status}{reason}\r\n"))
    for name, value in response.getheaders():
        print("header:", name + ":", value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
