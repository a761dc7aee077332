"""
The historic ``hyper.http20.util`` helpers for header lists: joining and
splitting repeated fields, and dropping what HTTP/2 must not carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar, Union

from hyper.common.util import to_bytestring

__all__ = ["combine_repeated_headers", "h2_safe_headers", "split_repeated_headers"]

_K = TypeVar("_K")
_Pair = tuple[Union[str, bytes], Union[str, bytes]]
_P = TypeVar("_P", bound=_Pair)


def combine_repeated_headers(kvset: Iterable[tuple[_K, bytes]]) -> list[tuple[_K, bytes]]:
    """
    Join the values of repeated names with NUL bytes (the historic
    representation), keeping the order in which names first appear.
    """
    joined: dict[_K, list[bytes]] = {}
    for key, value in kvset:
        joined.setdefault(key, []).append(value)
    return [(key, b"\x00".join(values)) for key, values in joined.items()]


def split_repeated_headers(kvset: Iterable[tuple[_K, bytes]]) -> dict[_K, list[bytes]]:
    """The inverse of :func:`combine_repeated_headers`: a dict from each
    name to the list of its NUL-separated values."""
    return {key: value.split(b"\x00") for key, value in kvset}


def h2_safe_headers(headers: Iterable[_P]) -> list[_P]:
    """
    The fields of ``headers`` that may travel over HTTP/2: every
    ``connection`` field, and every field a ``connection`` field names, is
    dropped (RFC 9113 8.2.2); the rest keep their order and spelling. Names
    and values may be str or bytes; names compare case-insensitively.
    (Requests hyper sends go through the full outbound check, which also
    drops the other connection-specific fields.)
    """
    fields = list(headers)
    dropped = {b"connection"}
    for name, value in fields:
        if to_bytestring(name).lower() == b"connection":
            dropped.update(option.strip().lower() for option in to_bytestring(value).split(b","))
    return [field for field in fields if to_bytestring(field[0]).lower() not in dropped]
