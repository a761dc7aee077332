"""
:class:`FileCache`: what ``hyper serve`` remembers of the files it served,
so that a small file is answered from memory.

Two tables:

- *routes*: a request's path (the target before ``?``, as sent) -> the
  resolved file it named and when that was last checked. Path resolution
  and every traversal check run when a route is made or checked again, never
  on a hit: a hit costs two dictionary look-ups.
- *entries*: a resolved path -> :class:`Entry`, the file's bytes and the
  headers of its answers, prepared once (content type, validators, length,
  the 304 answer, compressed variants as they are asked for).

Invariants:

- Memory is bounded by ``max_bytes``: entries (bodies and variants) and the
  compressed bodies of bigger files (:meth:`get_blob`, :meth:`put_blob`)
  share that budget, least recently used out first; routes are bounded by
  count (:data:`MAX_ROUTES`) and hold no bytes of a file.
- A route older than ``check_interval`` seconds is not used: the caller
  resolves the path again (``os.stat`` and the symlink checks, exactly as
  strictly as without a cache) and keeps the entry only if the file is the
  same (device, inode, size, modification and change times). So a changed
  file is never served for longer than ``check_interval`` after it changed.
- An entry is made only of bytes read while the file matched the stat that
  located it; one whose modification time was too recent to trust (see
  :data:`RACY`) is read again at its next check.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable

from hyper.common.types import StrHeaders

__all__ = ["CACHE_BYTES", "CACHE_CHECK", "CACHE_FILE_MAX", "Entry", "FileCache", "identity_of"]

#: Default bound on the bytes a cache holds (per process: each worker of
#: ``hyper serve --workers`` has its own).
CACHE_BYTES = 32 << 20
#: Default seconds a route is trusted before the file is checked again.
CACHE_CHECK = 1.0
#: Files up to this size are held in memory; bigger ones are streamed.
CACHE_FILE_MAX = 64 * 1024
#: Routes kept at most (a client can spell one path many ways: ``%61``...).
MAX_ROUTES = 4096
#: Seconds: a file modified this recently may change again within the file
#: system's timestamp granularity (2 s on FAT, a clock tick elsewhere)
#: without its stat changing, so its entry is read again at the next check
#: (Git's "racy clean" problem).
RACY = 2.0
# What an entry costs beyond its bodies (headers, the objects): a rough
# figure, so that a cache of many tiny files is bounded too.
_ENTRY_OVERHEAD = 1024

Identity = tuple[int, int, int, int, int]
#: A compressed variant: its etag, its 200 headers, its body.
Variant = tuple[str, StrHeaders, bytes]


def identity_of(st: os.stat_result) -> Identity:
    """What says a file is still the one read: device, inode, size, mtime, ctime."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Entry:
    """
    One file's answers, prepared. ``body`` is the whole file (None for a
    file too big to hold: then only the headers are prepared, for this
    request). ``headers`` answer a plain GET (200); ``not_modified`` a
    matching conditional request (304); ``variants`` maps a coding to its
    ``(etag, headers, body)`` once made. Shared by every request: nothing
    changes an entry's lists after it is built.
    """

    __slots__ = (
        "real", "st", "identity", "size", "ctype", "compressible", "base_tag",
        "headers", "not_modified", "body", "pushes", "variants", "nbytes", "racy",
    )  # fmt: skip

    def __init__(
        self,
        real: str,
        st: os.stat_result,
        ctype: str,
        compressible: bool,
        base_tag: str,
        headers: StrHeaders,
        body: bytes | None,
        pushes: list[str],
    ) -> None:
        self.real = real
        self.st = st
        self.identity = identity_of(st)
        self.size = st.st_size
        self.ctype = ctype
        self.compressible = compressible
        self.base_tag = base_tag
        #: The 200 answer's headers, content-length last.
        self.headers = headers
        self.not_modified = [h for h in headers if h[0] not in ("accept-ranges", "content-length")]
        self.body = body
        self.pushes = pushes
        self.variants: dict[str, Variant] = {}
        self.nbytes = _ENTRY_OVERHEAD + (len(body) if body is not None else 0)
        self.racy = time.time() - st.st_mtime < RACY


def _size(item: Entry | bytes) -> int:
    return item.nbytes if isinstance(item, Entry) else len(item)


class _Route:
    __slots__ = ("real", "checked")

    def __init__(self, real: str, checked: float) -> None:
        self.real = real
        self.checked = checked


class FileCache:
    """
    The routes and entries of one served directory (see the module's
    docstring). ``max_bytes`` 0 keeps nothing.

    :param max_bytes: bytes of entries and compressed bodies at most.
    :param check_interval: seconds a route is used before it is checked again
        (0: every request checks).
    :param clock: a monotonic clock in seconds.
    """

    def __init__(
        self,
        max_bytes: int = CACHE_BYTES,
        check_interval: float = CACHE_CHECK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes!r}")
        if not check_interval >= 0:
            raise ValueError(f"check_interval must be >= 0, got {check_interval!r}")
        self.max_bytes = max_bytes
        self.check_interval = check_interval
        self.clock = clock
        #: Bytes held now (entries, with their variants, and blobs).
        self.size = 0
        self._routes: dict[str, _Route] = {}
        self._items: OrderedDict[object, Entry | bytes] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Anything is kept (``max_bytes`` above 0)."""
        return self.max_bytes > 0

    @property
    def route_count(self) -> int:
        """How many request paths are remembered."""
        return len(self._routes)

    def hit(self, key: str) -> Entry | None:
        """The entry the route ``key`` leads to, if it was checked recently
        enough and the entry is still held; else None (resolve it again)."""
        route = self._routes.get(key)
        if route is None or self.clock() - route.checked >= self.check_interval:
            return None
        items = self._items
        entry = items.get(route.real)
        if type(entry) is not Entry:
            return None
        items.move_to_end(route.real)
        return entry

    def known(self, real: str, identity: Identity) -> Entry | None:
        """The entry held for ``real`` if it is of that very file and not racy."""
        entry = self._items.get(real)
        if type(entry) is Entry and entry.identity == identity and not entry.racy:
            return entry
        return None

    def route(self, key: str, real: str, checked: float) -> None:
        """Remember that ``key`` named ``real`` when checked at ``checked``."""
        routes = self._routes
        route = routes.get(key)
        if route is not None:
            route.real, route.checked = real, checked
            return
        if len(routes) >= MAX_ROUTES:
            del routes[next(iter(routes))]  # the oldest made: cheap, and bounded
        routes[key] = _Route(real, checked)

    def forget(self, key: str) -> None:
        """The route ``key`` no longer names a file held here."""
        self._routes.pop(key, None)

    def put(self, entry: Entry) -> bool:
        """Hold ``entry`` (replacing any for its path); False if it cannot fit."""
        return self._put(entry.real, entry, entry.nbytes)

    def add_variant(self, entry: Entry, coding: str, variant: Variant) -> None:
        """Give ``entry`` a compressed variant: kept only while the entry is
        held, and counted in the budget (others are evicted to make room)."""
        size = len(variant[2])
        items = self._items
        if items.get(entry.real) is not entry or entry.nbytes + size > self.max_bytes:
            return
        entry.variants[coding] = variant
        entry.nbytes += size
        self.size += size
        items.move_to_end(entry.real)
        self._evict()

    def get_blob(self, key: tuple[str, str]) -> bytes | None:
        """A compressed body of a file too big to hold, by (path, etag)."""
        blob = self._items.get(key)
        if type(blob) is bytes:
            self._items.move_to_end(key)
            return blob
        return None

    def put_blob(self, key: tuple[str, str], blob: bytes) -> None:
        self._put(key, blob, len(blob))

    def _put(self, key: object, value: Entry | bytes, size: int) -> bool:
        if size > self.max_bytes:
            return False
        items = self._items
        old = items.pop(key, None)
        if old is not None:
            self.size -= _size(old)
        items[key] = value
        self.size += size
        self._evict()
        return True

    def _evict(self) -> None:
        # The newest item is last and fits on its own: the loop stops before it.
        items = self._items
        while self.size > self.max_bytes:
            _, old = items.popitem(last=False)
            self.size -= _size(old)
