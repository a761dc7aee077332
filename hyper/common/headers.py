"""
hyper's structure for HTTP header fields, shared by HTTP/1.1 and HTTP/2.

Invariants:

- ``_items`` is a list of ``(name, value)`` tuples of ``bytes``, exactly as
  they were added (original case, unsplit), in order. Nothing else is stored,
  so building a map is one list and :meth:`HTTPHeaderMap.iter_raw` can always
  reproduce what the peer sent.
- Every read path compares names case-insensitively and returns names
  lower-cased and values in "canonical form": split on commas and stripped,
  except ``set-cookie``/``set-cookie2``, whose values may contain commas.

This is the historic ``hyper.common.headers`` contract, including its
tuple-yielding iteration: ``for name, value in headers`` works, ``keys()``
yields one name per canonical value (duplicates included) so it is as long as
``len()``. Because that is not the shape ``typing.MutableMapping`` describes,
the class is *registered* as a ``collections.abc.MutableMapping`` (so
``isinstance`` checks keep working) instead of inheriting from it.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar, Union, overload

from hyper.common.exceptions import HeaderNotFoundError
from hyper.common.types import Str
from hyper.common.util import to_bytestring

__all__ = ["HTTPHeaderMap", "canonical_form"]

_T = TypeVar("_T")
_MISSING = object()

# Mapping is invariant in its key type, so each key type is listed.
_HeaderSource = Union[
    "HTTPHeaderMap",
    Mapping[str, Str],
    Mapping[bytes, Str],
    Mapping[Str, Str],
    Iterable[tuple[Str, Str]],
]

# Set-Cookie values contain commas in their Expires attribute (RFC 6265 3),
# so splitting them would corrupt every cookie with an expiry date.
_NO_SPLIT = frozenset((b"set-cookie", b"set-cookie2"))


def _pair(name: Str, value: Str) -> tuple[bytes, bytes]:
    # Exact type checks first: nearly every pair is already bytes.
    if type(name) is bytes and type(value) is bytes:
        return (name, value)
    return (to_bytestring(name), to_bytestring(value))


def _split(name_lower: bytes, value: bytes) -> list[bytes]:
    if name_lower in _NO_SPLIT:
        return [value]
    if b"," not in value:
        return [value.strip()]
    return [part.strip() for part in value.split(b",")]


def canonical_form(k: bytes, v: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(lower-cased name, value)`` for each value in a raw header,
    splitting on commas unless the header is ``set-cookie``/``set-cookie2``."""
    k = k.lower()
    for value in _split(k, v):
        yield k, value


class HTTPHeaderMap:
    """HTTP header fields: ordered, with duplicate and case-insensitive names.

    Names and values come out as ``bytes``; ``str`` going in is encoded as
    UTF-8. ``headers[name]`` returns the list of that header's values in
    canonical form (comma-split, stripped); assignment *appends*; ``del``
    removes every field with that name. Lookup and deletion are O(n) in the
    number of fields; appending is O(1).

    ``HTTPHeaderMap(*sources, **kwargs)`` takes any number of header maps,
    mappings or iterables of ``(name, value)`` pairs, then keyword fields.
    """

    __slots__ = ("_items",)

    def __init__(self, *args: _HeaderSource, **kwargs: Str) -> None:
        self._items: list[tuple[bytes, bytes]] = []
        for arg in args:
            self._extend(arg)
        for name, value in kwargs.items():
            self._items.append(_pair(name, value))

    @classmethod
    def _from_raw(cls, pairs: Iterable[tuple[bytes, bytes]]) -> HTTPHeaderMap:
        """Build a map from ``(bytes, bytes)`` pairs without checking them.

        For the protocol layers, whose decoders already produce bytes pairs:
        one C-level list copy, no per-field Python work.
        """
        new = cls.__new__(cls)
        new._items = list(pairs)
        return new

    def _extend(self, other: _HeaderSource) -> None:
        if isinstance(other, HTTPHeaderMap):
            self._items.extend(other._items)
            return
        pairs: Iterable[tuple[Str, Str]] = other.items() if isinstance(other, Mapping) else other
        append = self._items.append
        for name, value in pairs:
            # Inline fast path: this loop runs once per field of every response.
            if type(name) is bytes and type(value) is bytes:
                append((name, value))
            else:
                append(_pair(name, value))

    # -- mapping interface -------------------------------------------------

    def __getitem__(self, key: Str) -> list[bytes]:
        """Return every value of header ``key`` in canonical form, in order.

        :raises KeyError: no header has that name.
        """
        key = to_bytestring(key).lower()
        values: list[bytes] = []
        for name, value in self._items:
            if name.lower() == key:
                values.extend(_split(key, value))
        if not values:
            raise HeaderNotFoundError(f"Nonexistent header key: {key!r}")
        return values

    def __setitem__(self, key: Str, value: Str) -> None:
        """Append a field; existing fields with that name are kept."""
        self._items.append(_pair(key, value))

    def __delitem__(self, key: Str) -> None:
        """Remove every field named ``key``.

        :raises KeyError: no header has that name.
        """
        key = to_bytestring(key).lower()
        kept = [item for item in self._items if item[0].lower() != key]
        if len(kept) == len(self._items):
            raise HeaderNotFoundError(f"Nonexistent header key: {key!r}")
        self._items = kept

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(lower-cased name, value)`` for every canonical value."""
        for name, value in self._items:
            name = name.lower()
            for part in _split(name, value):
                yield name, part

    def __len__(self) -> int:
        """The number of values in canonical form (not of distinct names)."""
        size = 0
        for name, value in self._items:
            if name.lower() in _NO_SPLIT:
                size += 1
            else:
                size += value.count(b",") + 1
        return size

    def __contains__(self, key: object) -> bool:
        """True when any field is named ``key`` (case-insensitive)."""
        if not isinstance(key, (str, bytes)):
            return False
        key = to_bytestring(key).lower()
        return any(name.lower() == key for name, _ in self._items)

    def keys(self) -> Iterator[bytes]:
        """Yield the lower-cased name of every canonical value; duplicates are
        kept so this is as long as ``len()`` (historic behaviour)."""
        for name, _ in self:
            yield name

    def values(self) -> Iterator[bytes]:
        """Yield every value in canonical form."""
        for _, value in self:
            yield value

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(lower-cased name, value)`` pairs, as iteration does."""
        return iter(self)

    @overload
    def get(self, name: Str) -> list[bytes] | None: ...
    @overload
    def get(self, name: Str, default: _T) -> list[bytes] | _T: ...

    def get(self, name: Str, default: object = None) -> object:
        """Return the values of ``name`` as :meth:`__getitem__` does, or
        ``default`` when it is absent."""
        try:
            return self[name]
        except KeyError:
            return default

    @overload
    def pop(self, key: Str) -> list[bytes]: ...
    @overload
    def pop(self, key: Str, default: _T) -> list[bytes] | _T: ...

    def pop(self, key: Str, default: object = _MISSING) -> object:
        """Remove every field named ``key`` and return its values.

        :raises KeyError: absent and no default given.
        """
        try:
            values = self[key]
        except KeyError:
            if default is _MISSING:
                raise
            return default
        del self[key]
        return values

    def popitem(self) -> tuple[bytes, bytes]:
        """Remove and return the last raw field.

        :raises KeyError: the map is empty.
        """
        if not self._items:
            raise HeaderNotFoundError("popitem(): header map is empty")
        return self._items.pop()

    def setdefault(self, key: Str, default: Str) -> list[bytes]:
        """Return the values of ``key``, first appending ``default`` if the
        header is absent."""
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        """Remove every field."""
        self._items.clear()

    def update(self, *args: _HeaderSource, **kwargs: Str) -> None:
        """Append the fields of every argument, as :meth:`merge` does."""
        for arg in args:
            self.merge(arg)
        for name, value in kwargs.items():
            self._items.append(_pair(name, value))

    # -- header-specific interface ------------------------------------------

    def iter_raw(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield the fields exactly as added: original case, unsplit, in
        order. Use this to rebuild or forward what the peer sent."""
        return iter(self._items)

    def replace(self, key: Str, value: Str) -> None:
        """Set header ``key`` to the single field ``value``.

        The first field with that name is replaced in place (keeping its
        position) and the others are removed; if there is none, this appends.
        """
        pair = _pair(key, value)
        wanted = pair[0].lower()
        items = self._items
        for index, (name, _) in enumerate(items):
            if name.lower() == wanted:
                rest = items[index + 1 :]
                del items[index:]
                items.append(pair)
                items.extend(item for item in rest if item[0].lower() != wanted)
                return
        items.append(pair)

    def merge(self, other: _HeaderSource) -> None:
        """Append the fields of another header map, a mapping, or an iterable
        of ``(name, value)`` pairs. Merging a map into itself does nothing."""
        if other is self:
            return
        self._extend(other)

    def copy(self) -> HTTPHeaderMap:
        """Return a new map with the same raw fields."""
        return self._from_raw(self._items)

    # -- comparison and display ---------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Maps are equal when their raw fields match in order, comparing
        names case-insensitively and values exactly."""
        if not isinstance(other, HTTPHeaderMap):
            return NotImplemented
        if len(self._items) != len(other._items):
            return False
        return all(
            a_value == b_value and a_name.lower() == b_name.lower()
            for (a_name, a_value), (b_name, b_value) in zip(self._items, other._items)
        )

    # Defining __eq__ leaves __hash__ None: a mutable container must not hash,
    # and __ne__ is derived from __eq__.

    def __repr__(self) -> str:
        return f"HTTPHeaderMap({self._items!r})"

    __str__ = __repr__


collections.abc.MutableMapping.register(HTTPHeaderMap)
