"""
The type aliases shared across hyper's modules, in one place: each names a
shape that crosses a module boundary. A shape one module alone uses stays
in that module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Optional, Union

__all__ = [
    "Buffer",
    "HeaderFields",
    "HeaderInput",
    "HeadersArg",
    "RawHeaders",
    "Str",
    "StrHeaders",
    "Timeout",
]

#: A run of bytes as the engine, the cores and the sockets take it.
Buffer = Union[bytes, bytearray, memoryview]
#: A name or a value as a caller may give it.
Str = Union[str, bytes]
#: A decoded header block, ``(name, value)`` pairs as they arrived.
RawHeaders = list[tuple[bytes, bytes]]
#: Header fields as aioh2's API and ``hyper serve`` hand them out.
StrHeaders = list[tuple[str, str]]
#: Header fields as the engine takes them.
HeaderInput = Iterable[tuple[Str, Str]]
#: Header fields as aioh2's API takes them: a mapping, or pairs.
HeaderFields = Union[Mapping[Str, Str], Iterable[tuple[Str, Str]]]
#: A front end's ``headers=``: a mapping, pairs (an ``HTTPHeaderMap`` is an
#: iterable of pairs), or None.
HeadersArg = Union[Mapping[Any, Any], Iterable[tuple[Any, Any]], None]
#: A connection's ``timeout=``: seconds for both, a ``(connect, read)`` pair,
#: or None to wait forever.
Timeout = Union[float, tuple[Optional[float], Optional[float]], None]
