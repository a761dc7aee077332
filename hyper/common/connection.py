"""
The historic ``hyper.common.connection`` path, kept for code written against it:
the names live in :mod:`hyper.connection`.
"""

from hyper.connection import (
    HTTPConnection,
    UnsupportedOperationError,
)

__all__ = [
    "HTTPConnection",
    "UnsupportedOperationError",
]
