"""
What ``hyper serve`` answers for a request, without any I/O on the wire:
mapping a request target to a file under the served directory (never one
outside it), content types, validators (``etag``, ``last-modified``), the
conditional requests that give 304, a single ``Range`` (206, 416), and
whether to compress. Both HTTP versions' front-ends ask :func:`plan` and
send what it says.

Invariants:

- A path is served only if, after percent-decoding and resolving every
  symlink, it lies inside the served directory's own resolved path. ``..``
  segments, NUL, backslashes and encoded slashes are refused before the file
  system is asked, so nothing outside the directory is even probed.
- Every refusal looks like a missing file (404): a client learns nothing
  about what lies outside the directory.
- A plan holds either a small in-memory body (a cached file, listings,
  compressed files, error pages) or a file region to stream; never a whole
  large file.
- A file of at most :data:`~hyper.serve._cache.CACHE_FILE_MAX` bytes is
  answered from memory (:mod:`hyper.serve._cache`): located, read and its
  headers prepared once, looked up again (as strictly) once its route is
  older than the cache's check interval.
- Nothing a client sends makes :meth:`FileServer.plan` raise: numbers of
  any length, non-ASCII digits, any bytes in a target.
"""

from __future__ import annotations

import errno
import gzip
import html
import mimetypes
import os
import re
import stat
import time
import zlib
from collections.abc import Iterable, Sequence
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from hyper.common.types import StrHeaders
from hyper.serve._cache import (
    CACHE_BYTES,
    CACHE_CHECK,
    CACHE_FILE_MAX,
    Entry,
    FileCache,
    identity_of,
)

# brotli on CPython, brotlicffi (the same API) elsewhere: one of the two is a
# declared dependency, as in hyper.common.decoder.
try:
    import brotli

    _HAVE_BROTLI = True
except ImportError:
    try:
        import brotlicffi as brotli

        _HAVE_BROTLI = True
    except ImportError:  # pragma: no cover
        _HAVE_BROTLI = False


# Files up to this size are compressed whole in memory when the client
# accepts it; bigger ones are sent as they are (streamed, bounded memory).
COMPRESS_MAX = 4 << 20
# Up to this size a file is compressed at once, inside plan() (about 1 ms
# with brotli quality 5, measured); a bigger one (up to 70 ms for 4 MiB) is
# left to the caller when it asks (``compress_now=False``: hyper serve
# compresses it in a thread, so one client cannot stall the event loop).
COMPRESS_INLINE = 64 * 1024
# Below this, compression saves less than the header costs.
COMPRESS_MIN = 256
# How much of an HTML file is scanned for <link rel=preload> (push-from-link).
_LINK_SCAN = 64 * 1024

_COMPRESSIBLE = re.compile(
    r"text/|application/(json|javascript|xml|wasm|manifest\+json)|image/svg\+xml"
)
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".md": "text/markdown",
}
_PRELOAD = re.compile(rb"<link\b[^>]*\brel\s*=\s*[\"']?preload\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(rb"\bhref\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.IGNORECASE)
_AS = re.compile(rb"\bas\s*=\s*[\"']?([a-z]+)", re.IGNORECASE)
# RFC 9110 14.1.1: DIGIT is ASCII (re.ASCII: "\\d" would take any Unicode
# digit, and int() reads "\u0660" as 0); the unit is case-insensitive.
_RANGE = re.compile(r"bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*\Z", re.I | re.A)
# A range bound with more significant digits than this is past the end of
# any file; int() is never asked to read it (CPython refuses more than 4,300
# digits, with a ValueError).
_RANGE_DIGITS = 18
_PAST_ANY_END: int = 10**_RANGE_DIGITS
# Accept-Encoding values remembered with the coding chosen for them (a few
# per kind of client; cleared when a client sends ever new ones).
_CHOSEN: dict[str, str] = {}
_CHOSEN_MAX = 256


class Plan:
    """
    One answer: ``status`` and ``headers`` to send, then either ``body``
    (bytes in memory) or, when ``body`` is empty, ``length`` bytes of the
    file at ``path`` from ``offset``. ``path`` names the file answered from
    in both cases (None for an answer that is no file's: an error, a
    listing). ``head_only`` (HEAD, 304) sends the headers alone. ``pushes``
    lists paths the response links to with ``rel=preload``. ``headers`` and
    ``pushes`` may be shared with other plans (a cached file's): read only.
    """

    __slots__ = (
        "status", "headers", "body", "path", "offset", "length", "head_only", "pushes",
        "identity", "compress",
    )  # fmt: skip

    def __init__(self, status: int, headers: StrHeaders, body: bytes = b"") -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.path: str | None = None
        self.offset = 0
        self.length = len(body)
        self.head_only = False
        self.pushes: list[str] = []
        #: The planned file's (device, inode, size, mtime in ns): what the
        #: validators were made from; a file that no longer matches is not sent.
        self.identity: tuple[int, int, int, int] | None = None
        #: (``compress_now=False``) The compressed variant to make, as
        #: ``(path, etag, coding)``, for :meth:`FileServer.with_compressed`;
        #: meanwhile the plan is the identity answer.
        self.compress: tuple[str, str, str] | None = None

    def __repr__(self) -> str:
        return f"<Plan {self.status} {self.path or len(self.body)} length={self.length}>"


def content_type(name: str) -> str:
    """The content type for a file name (``charset=utf-8`` on text)."""
    ext = os.path.splitext(name)[1].lower()
    ctype = _TYPES.get(ext) or mimetypes.guess_type(name, strict=False)[0]
    if ctype is None:
        return "application/octet-stream"
    if ctype.startswith("text/") or ctype in ("application/json", "image/svg+xml"):
        return f"{ctype}; charset=utf-8"
    return ctype


def is_compressible(ctype: str) -> bool:
    return _COMPRESSIBLE.match(ctype) is not None


def split_target(target: str) -> str | None:
    """
    The decoded path of a request target (``/a%20b?q`` -> ``/a b``), or
    None when it is not one we serve: not origin-form, NUL, a backslash,
    an encoded ``/``, a ``.`` or ``..`` segment, or not UTF-8.
    """
    path = target.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        return None
    try:
        raw = unquote_to_bytes(path)
        decoded = raw.decode("utf-8")
    except (UnicodeDecodeError, ValueError):
        return None
    if "\x00" in decoded or "\\" in decoded or "%2f" in path.lower():
        return None
    for segment in decoded.split("/"):
        if segment in (".", ".."):
            return None
    return decoded


def resolve(root: str, url_path: str) -> str | None:
    """
    The real file system path for a decoded URL path under ``root`` (an
    absolute, resolved directory), or None if it does not exist or lies
    outside ``root`` once symlinks are followed.
    """
    parts = [p for p in url_path.split("/") if p]
    candidate = os.path.join(root, *parts)
    try:
        # realpath(strict=True) is 3.10+: resolve, then insist the result exists.
        real = os.path.realpath(candidate)
        if not os.path.exists(real):
            return None
    except (OSError, ValueError):
        return None
    if real != root and not real.startswith(root + os.sep):
        return None
    return real


def etag_for(st: os.stat_result, coding: str = "") -> str:
    """A strong validator from size and modification time (a coding tags its variant)."""
    tag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
    return f'"{tag}-{coding}"' if coding else f'"{tag}"'


def _etag_matches(header: str, etag: str, weak: bool) -> bool:
    """If-None-Match (weak comparison) or If-Range / If-Match (strong)."""
    if header.strip() == "*":
        return True
    plain = etag[2:] if etag.startswith("W/") else etag
    for item in header.split(","):
        item = item.strip()
        if item.startswith("W/"):
            if not weak:
                continue
            item = item[2:]
        if item == plain or (weak and item.startswith(plain[:-1] + "-")):
            # Weak comparison also matches our compressed variants of the file.
            return True
    return False


def _http_date(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)


def _parse_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _range_number(digits: str) -> int:
    """A range bound; one past the end of any file when it has too many digits."""
    digits = digits.lstrip("0")
    if len(digits) > _RANGE_DIGITS:
        return _PAST_ANY_END
    return int(digits) if digits else 0


def parse_range(value: str, size: int) -> tuple[int, int] | bool | None:
    """
    One ``bytes=`` range against ``size``: ``(start, end)`` inclusive, None
    to ignore the header (not a single byte range: serve it all), or False
    when it cannot be satisfied (416). Bounds past the end of the file are
    cut to it (RFC 9110 14.1.2), whatever their number of digits.
    """
    match = _RANGE.match(value.strip(" \t"))
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = _range_number(last)
        if suffix == 0:
            return False
        return max(0, size - suffix), size - 1
    start = _range_number(first)
    if last and _range_number(last) < start:
        return None  # invalid: RFC 9110 14.1.1 lets us ignore it
    if start >= size:
        return False
    end = _range_number(last) if last else size - 1
    return start, min(end, size - 1)


def accepted_codings(header: str) -> dict[str, float]:
    """``Accept-Encoding`` as {coding: q}."""
    result: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, val = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        result[name] = q
    return result


def choose_coding(header: str | None) -> str:
    """``br`` or ``gzip`` if acceptable (br first), else ``""``."""
    if not header:
        return ""
    # Clients send one Accept-Encoding for every request: parsed once.
    chosen = _CHOSEN.get(header)
    if chosen is None:
        chosen = _choose_coding(header)
        if len(_CHOSEN) >= _CHOSEN_MAX:
            _CHOSEN.clear()
        _CHOSEN[header] = chosen
    return chosen


def _choose_coding(header: str) -> str:
    accepted = accepted_codings(header)
    star = accepted.get("*", 0.0)
    for coding in ("br", "gzip"):
        if coding == "br" and not _HAVE_BROTLI:
            continue
        if accepted.get(coding, star) > 0:
            return coding
    return ""


def compress(data: bytes, coding: str) -> bytes:
    """``data`` in ``coding`` (``gzip`` or ``br``)."""
    if coding == "br":
        return bytes(brotli.compress(data, quality=5))
    return gzip.compress(data, compresslevel=6, mtime=0)


def compress_file(path: str, coding: str) -> bytes | None:
    """
    The file at ``path`` (at most :data:`COMPRESS_MAX` bytes of it) in
    ``coding``; None when it cannot be read. Safe in any thread: zlib and
    brotli release the GIL while they work.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(COMPRESS_MAX + 1)
    except OSError:
        return None
    try:
        return compress(data, coding)
    except (zlib.error, MemoryError):  # pragma: no cover - not for sane input
        return None


def preload_links(head: bytes) -> list[tuple[str, str]]:
    """``(href, as)`` of every ``<link rel=preload>`` in an HTML prefix."""
    found = []
    for tag in _PRELOAD.findall(head):
        href = _HREF.search(tag)
        if href is None:
            continue
        value = next(g for g in href.groups() if g is not None)
        kind = _AS.search(tag)
        name = kind.group(1).decode() if kind else ""
        found.append((html.unescape(value.decode("utf-8", "replace")), name))
    return found


def _listing(url_path: str, real: str) -> bytes:
    try:
        entries = sorted(os.scandir(real), key=lambda e: e.name)
    except OSError:
        entries = []
    title = html.escape(url_path)
    rows = []
    if url_path != "/":
        rows.append('<li><a href="../">../</a></li>')
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        name = entry.name + ("/" if is_dir else "")
        rows.append(f'<li><a href="{quote(name)}">{html.escape(name)}</a></li>')
    page = (
        f"<!doctype html>\n<meta charset=utf-8>\n<title>Index of {title}</title>\n"
        f"<h1>Index of {title}</h1>\n<ul>\n" + "\n".join(rows) + "\n</ul>\n"
    )
    return page.encode("utf-8")


def _error(status: int, reason: str, extra: Sequence[tuple[str, str]] = ()) -> Plan:
    body = f"{status} {reason}\n".encode()
    headers = [
        ("content-type", "text/plain; charset=utf-8"),
        ("content-length", str(len(body))),
        *extra,
    ]
    return Plan(status, headers, body)


def not_found() -> Plan:
    """The 404 answer (also for everything that must look missing)."""
    return _error(404, "Not Found")


def internal_error() -> Plan:
    """The 500 answer: the request broke something in the server."""
    return _error(500, "Internal Server Error")


def unavailable() -> Plan:
    """The 503 answer: out of file descriptors or memory for now (RFC 9110 15.6.4)."""
    return _error(503, "Service Unavailable", [("retry-after", "1")])


# Errors of open() that say "not now" rather than "not there".
_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS))


def plan_for_open_error(error: OSError) -> Plan:
    """
    What to answer when a planned file cannot be opened: 503 when the
    process is out of descriptors or memory (the file is there; try again),
    else 404 (it went away, or cannot be read: it looks missing).
    """
    if error.errno in _OUT_OF_RESOURCES:
        return unavailable()
    return not_found()


#: The request fields a plan depends on (lower case).
PLAN_FIELDS = frozenset(
    ("accept-encoding", "range", "if-range", "if-none-match", "if-modified-since")
)


def fields_of(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers as {lower-case name: value}, a repeated field's values
    joined with ``", "`` (RFC 9110 5.3)."""
    fields: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return fields


class FileServer:
    """
    The policy of one served directory: :meth:`plan` answers a request.

    :param root: the directory to serve (resolved once, here).
    :param links: read ``<link rel=preload>`` from HTML files and answer
        with ``Link`` headers naming them (and list them in ``Plan.pushes``).
    :param cache_bytes: memory for files answered from memory (up to
        :data:`~hyper.serve._cache.CACHE_FILE_MAX` bytes each) and compressed
        bodies, in bytes; 0 reads every file from disk for every request.
    :param cache_check: seconds a cached path is trusted before the file is
        looked up again (``os.stat``, symlinks resolved and checked): a changed
        file is served from memory for at most that long; 0 checks on every
        request (and still spares the read).
    """

    def __init__(
        self,
        root: str,
        *,
        links: bool = False,
        cache_bytes: int = CACHE_BYTES,
        cache_check: float = CACHE_CHECK,
    ) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"not a directory: {root}")
        self.links = links
        #: What is kept in memory (:class:`~hyper.serve._cache.FileCache`).
        self.cache = FileCache(cache_bytes, cache_check)
        # Read the system's MIME types now, not on the first request (where
        # it takes file descriptors a busy server may not have).
        if not mimetypes.inited:
            mimetypes.init()

    def plan(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        *,
        compress_now: bool = True,
    ) -> Plan:
        """
        What to answer ``method target`` with the request ``headers``
        (names in lower case). Never raises for anything a client sends.

        :param compress_now: compress a file the client may have compressed
            here, whatever its size. False: a file above
            :data:`COMPRESS_INLINE` bytes whose variant is not cached comes
            back as the identity answer with :attr:`Plan.compress` set; the
            caller compresses (:func:`compress_file`, anywhere) and calls
            :meth:`with_compressed`.
        """
        return self.plan_fields(method, target, fields_of(headers), compress_now=compress_now)

    def plan_fields(
        self, method: str, target: str, fields: dict[str, str], *, compress_now: bool = True
    ) -> Plan:
        """:meth:`plan`, with the request's fields as :func:`fields_of` gives
        them (only the names in :data:`PLAN_FIELDS` are read)."""
        if method not in ("GET", "HEAD"):
            plan = _error(405, "Method Not Allowed", [("allow", "GET, HEAD")])
            return plan
        plan = self._plan_get(target, fields, compress_now)
        if method == "HEAD":
            plan.head_only = True
        return plan

    def _plan_get(self, target: str, fields: dict[str, str], compress_now: bool) -> Plan:
        cache = self.cache
        # The route's key: the path as sent (every spelling is its own route).
        key = target.split("?", 1)[0]
        entry = cache.hit(key)
        if entry is None:
            checked = cache.clock()
            located = self._locate(target, fields)
            if isinstance(located, Plan):
                cache.forget(key)
                return located
            entry = self._entry(*located)
            if entry.body is not None:
                cache.route(key, entry.real, checked)
            else:
                cache.forget(key)
        return self._plan_entry(entry, fields, compress_now)

    def _locate(self, target: str, fields: dict[str, str]) -> tuple[str, os.stat_result] | Plan:
        """The regular file ``target`` names (resolved path and stat), or the
        answer when it names none: 404, a redirect, a directory listing."""
        url_path = split_target(target)
        if url_path is None:
            return not_found()
        real = resolve(self.root, url_path)
        if real is None:
            return not_found()
        try:
            st = os.stat(real)
        except OSError:
            return not_found()
        if stat.S_ISDIR(st.st_mode):
            if not url_path.endswith("/"):
                # One leading slash: "//evil.example/" would be a
                # scheme-relative URL, another host to a browser (the open
                # redirect of CVE-2021-28861 in CPython's http.server).
                location = quote("/" + url_path.lstrip("/") + "/")
                return _error(301, "Moved Permanently", [("location", location)])
            index = os.path.join(real, "index.html")
            try:
                st_index = os.stat(index)
            except OSError:
                body = _listing(url_path, real)
                return self._in_memory(body, "text/html; charset=utf-8", fields)
            if not stat.S_ISREG(st_index.st_mode):
                return not_found()
            return index, st_index
        if not stat.S_ISREG(st.st_mode) or url_path.endswith("/"):
            # "/file.txt/" names a directory that does not exist (as nginx
            # and Apache answer it); serving the file would give relative
            # links in it another base.
            return not_found()
        return real, st

    def _in_memory(self, body: bytes, ctype: str, fields: dict[str, str]) -> Plan:
        headers = [("content-type", ctype), ("cache-control", "no-cache")]
        coding = choose_coding(fields.get("accept-encoding")) if len(body) >= COMPRESS_MIN else ""
        if coding:
            body = compress(body, coding)
            headers += [("content-encoding", coding), ("vary", "accept-encoding")]
        headers.append(("content-length", str(len(body))))
        return Plan(200, headers, body)

    def _entry(self, real: str, st: os.stat_result) -> Entry:
        """The prepared answers of the file ``real`` (stat ``st``): the cached
        entry if it is of this very file, else a new one (held in memory when
        small enough)."""
        cache = self.cache
        identity = identity_of(st)
        entry = cache.known(real, identity)
        if entry is not None:
            return entry
        body = None
        if cache.enabled and st.st_size <= CACHE_FILE_MAX:
            body = _read_whole(real, identity)
        ctype = content_type(real)
        compressible = is_compressible(ctype)
        base_tag = etag_for(st)
        headers: StrHeaders = [
            ("content-type", ctype),
            ("last-modified", _http_date(st.st_mtime)),
            ("etag", base_tag),
            ("accept-ranges", "bytes"),
        ]
        if compressible:
            headers.append(("vary", "accept-encoding"))
        pushes: list[str] = []
        if self.links and ctype.startswith("text/html"):
            pushes = self._links(real, body, headers)
        headers.append(("content-length", str(st.st_size)))
        entry = Entry(real, st, ctype, compressible, base_tag, headers, body, pushes)
        if body is not None:
            cache.put(entry)
        return entry

    def _plan_entry(self, entry: Entry, fields: dict[str, str], compress_now: bool) -> Plan:
        """The answer from a file's prepared entry, given the request's fields."""
        size = entry.size
        coding = ""
        if entry.compressible and COMPRESS_MIN <= size <= COMPRESS_MAX and "range" not in fields:
            coding = choose_coding(fields.get("accept-encoding"))
        mtime = entry.st.st_mtime
        deferred = None
        if coding:
            variant = entry.variants.get(coding)
            etag = variant[0] if variant is not None else etag_for(entry.st, coding)
            if self._not_modified(fields, etag, mtime):
                return _not_modified_plan(_with_etag(entry.not_modified, etag))
            if variant is not None:
                plan = Plan(200, variant[1], variant[2])
                plan.path = entry.real
                plan.pushes = entry.pushes
                return plan
            compressed = self._compressed(entry, etag, coding, compress_now)
            if compressed is not None:
                return compressed
            if not compress_now:
                deferred = (entry.real, etag, coding)
            # Meanwhile (or unreadable now) the identity answer; an unreadable
            # file fails the same way when it is opened.
        elif self._not_modified(fields, entry.base_tag, mtime):
            return _not_modified_plan(entry.not_modified)
        status = 200
        offset, length = 0, size
        headers = entry.headers
        wanted = fields.get("range")
        if_range = fields.get("if-range")
        if wanted is not None and self._range_applies(if_range, entry.base_tag, mtime):
            span = parse_range(wanted, size)
            if span is False:
                return _error(416, "Range Not Satisfiable", [("content-range", f"bytes */{size}")])
            if isinstance(span, tuple):
                start, end = span
                status, offset, length = 206, start, end - start + 1
                headers = [
                    *headers[:-1],
                    ("content-range", f"bytes {start}-{end}/{size}"),
                    ("content-length", str(length)),
                ]
        body = entry.body
        if body is None:
            plan = Plan(status, headers)
            plan.offset, plan.length = offset, length
            plan.identity = entry.identity[:4]
            plan.compress = deferred
        elif status == 206:
            plan = Plan(status, headers, body[offset : offset + length])
            plan.offset = offset
        else:
            plan = Plan(status, headers, body)
        plan.path = entry.real
        plan.pushes = entry.pushes
        return plan

    def _compressed(
        self, entry: Entry, etag: str, coding: str, compress_now: bool
    ) -> Plan | None:
        """The compressed answer, if its body is at hand or can be made now."""
        body = entry.body
        cache = self.cache
        if body is not None:
            variant = entry.variants.get(coding)
            if variant is None:
                # Small: compressed here, once (about 1 ms for 64 KiB).
                zipped = compress(body, coding)
                variant = (etag, _compressed_headers(entry.headers, etag, coding, zipped), zipped)
                cache.add_variant(entry, coding, variant)
            plan = Plan(200, variant[1], variant[2])
        else:
            key = (entry.real, etag)
            blob = cache.get_blob(key)
            if blob is None and (compress_now or entry.size <= COMPRESS_INLINE):
                blob = compress_file(entry.real, coding)
                if blob is not None:
                    cache.put_blob(key, blob)
            if blob is None:
                return None
            plan = Plan(200, _compressed_headers(entry.headers, etag, coding, blob), blob)
        plan.path = entry.real
        plan.pushes = entry.pushes
        return plan

    def with_compressed(self, plan: Plan, body: bytes | None) -> Plan:
        """
        The answer for a plan with :attr:`Plan.compress` once its variant is
        made (``body``; kept in the cache), or ``plan`` itself (identity)
        when ``body`` is None.
        """
        job = plan.compress
        if job is None or body is None:
            plan.compress = None
            return plan
        path, etag, coding = job
        self.cache.put_blob((path, etag), body)
        compressed = Plan(200, _compressed_headers(plan.headers, etag, coding, body), body)
        compressed.path = path
        compressed.pushes = plan.pushes
        compressed.head_only = plan.head_only
        return compressed

    @staticmethod
    def _not_modified(fields: dict[str, str], etag: str, mtime: float) -> bool:
        # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only without it.
        inm = fields.get("if-none-match")
        if inm is not None:
            return _etag_matches(inm, etag, weak=True)
        ims = fields.get("if-modified-since")
        if ims is not None:
            since = _parse_date(ims)
            return since is not None and int(mtime) <= since
        return False

    @staticmethod
    def _range_applies(if_range: str | None, etag: str, mtime: float) -> bool:
        if if_range is None:
            return True
        if_range = if_range.strip()
        if if_range.startswith('"') or if_range.startswith("W/"):
            return _etag_matches(if_range, etag, weak=False)
        since = _parse_date(if_range)
        return since is not None and int(mtime) <= since

    def _links(self, real: str, body: bytes | None, headers: StrHeaders) -> list[str]:
        if body is not None:
            head = body[:_LINK_SCAN]
        else:
            try:
                with open(real, "rb") as f:
                    head = f.read(_LINK_SCAN)
            except OSError:
                return []
        pushes = []
        for href, kind in preload_links(head):
            if not href.startswith("/") or href.startswith("//"):
                continue  # only same-origin absolute paths can be pushed
            value = f"<{href}>; rel=preload" + (f"; as={kind}" if kind else "")
            headers.append(("link", value))
            pushes.append(href)
        return pushes


def _read_whole(real: str, identity: tuple[int, int, int, int, int]) -> bytes | None:
    """The file's bytes if they are those of the file ``identity`` names
    (else, or unreadable now, None: the file is streamed as it is then)."""
    try:
        with open(real, "rb", buffering=0) as f:
            data = f.read(identity[2] + 1)
            st = os.fstat(f.fileno())
    except OSError:
        return None
    if len(data) != identity[2] or identity_of(st) != identity:
        return None  # changed while we looked: not a version to remember
    return data


def _with_etag(headers: StrHeaders, etag: str) -> StrHeaders:
    return [("etag", etag) if name == "etag" else (name, value) for name, value in headers]


def _compressed_headers(headers: StrHeaders, etag: str, coding: str, body: bytes) -> StrHeaders:
    """A file's 200 headers for its ``coding`` variant (own etag, own length)."""
    out = _with_etag([h for h in headers if h[0] != "content-length"], etag)
    out.append(("content-encoding", coding))
    out.append(("content-length", str(len(body))))
    return out


def _not_modified_plan(headers: StrHeaders) -> Plan:
    plan = Plan(304, headers)
    plan.head_only = True
    return plan


def access_line(
    peer: str, method: str, target: str, status: int, sent: int, protocol: str, started: float
) -> str:
    """One access-log line: who, what, status, body bytes, protocol, milliseconds."""
    ms = (time.perf_counter() - started) * 1000
    safe = target.encode("ascii", "backslashreplace").decode("ascii")
    return f'{peer} "{method} {safe}" {status} {sent} {protocol} {ms:.1f}ms'


__all__: Sequence[str] = [
    "PLAN_FIELDS", "FileServer", "Plan", "content_type", "fields_of", "parse_range",
    "split_target",
]  # fmt: skip
