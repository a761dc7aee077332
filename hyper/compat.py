"""
The historic ``hyper.compat`` aliases, kept so code written for hyper 0.7
imports unchanged.

.. deprecated:: 1.0
    hyper runs on Python 3 only; use the standard library names these stand
    for (``str``, ``bytes``, ``map``, ``urllib.parse``...). Nothing in hyper
    uses this module.
"""

from __future__ import annotations

import builtins
import contextlib
import ssl
import sys
import zlib
from collections.abc import Iterator
from urllib.parse import urlencode, urlparse, urlsplit

__all__ = [
    "bytes",
    "decode_hex",
    "ignore_missing",
    "imap",
    "is_py2",
    "is_py3",
    "ssl",
    "to_byte",
    "unicode",
    "urlencode",
    "urlparse",
    "urlsplit",
    "write_to_stdout",
    "zlib_compressobj",
]

#: Always False and True: hyper runs on Python 3 only.
is_py2 = False
is_py3 = True

bytes = builtins.bytes  # noqa: A001 - the historic alias
unicode = str
imap = map
zlib_compressobj = zlib.compressobj


def to_byte(char: int) -> int:
    """An item of a ``bytes`` object as an int: on Python 3 it already is."""
    return char


def decode_hex(data: str) -> builtins.bytes:
    """``bytes.fromhex(data)``."""
    return builtins.bytes.fromhex(data)


def write_to_stdout(data: builtins.bytes) -> None:
    """Write ``data`` and a newline to standard output as bytes, and flush."""
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.buffer.flush()


@contextlib.contextmanager
def ignore_missing() -> Iterator[None]:
    """Ignore ``AttributeError`` and ``NotImplementedError`` raised inside:
    historic code wrapped optional ``ssl`` features in it."""
    try:
        yield
    except (AttributeError, NotImplementedError):
        pass
