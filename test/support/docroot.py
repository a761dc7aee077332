"""The files every real server serves, one docroot per test session.

Small files exist from the start; large ones are written only when a test asks for them
(:meth:`Docroot.ensure`). Every file's SHA-256 is recorded as it is written, so tests
check content without reading the file twice.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


#: Files the docroot makes on demand (name -> size); random bytes, so a reordered or
#: truncated body cannot pass a checksum.
LAZY_FILES = {
    "64m.bin": 64 * MiB,
    "256m.bin": 256 * MiB,
    "1g.bin": 1 * GiB,
}

SMALL_BODY = b"hello from hyper's test docroot\n"
STYLE_CSS = b"body { font-family: sans-serif; }\n"


def _text_body() -> bytes:
    # Compressible, but not a single repeated line, so a decoder that drops or repeats a
    # block produces a different checksum.
    lines = [f"line {i:05d}: the quick brown fox jumps over the lazy dog\n" for i in range(2000)]
    return "".join(lines).encode()


def _index_html() -> bytes:
    items = "".join(f"<li>item {i}</li>\n" for i in range(100))
    return (
        b"<!DOCTYPE html>\n<html><head><title>hyper interop</title>"
        b'<link rel="stylesheet" href="/style.css"></head>\n<body><ul>\n'
        + items.encode()
        + b"</ul></body></html>\n"
    )


class Docroot:
    """Files every server serves: small ones at once, large ones on demand.

    ``small.txt``, ``1k.bin``, ``1m.bin``, ``index.html``, ``style.css`` and ``text.txt``
    (with a gzip-precompressed ``text.txt.gz`` beside it for nginx ``gzip_static`` and h2o
    ``file.send-compressed``) exist from the start; :data:`LAZY_FILES` are written by
    :meth:`ensure`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()
        self._write("small.txt", SMALL_BODY)
        self._write("1k.bin", os.urandom(1 * KiB))
        self._write("1m.bin", os.urandom(1 * MiB))
        self._write("index.html", _index_html())
        self._write("style.css", STYLE_CSS)
        text = _text_body()
        self._write("text.txt", text)
        self._write("text.txt.gz", gzip.compress(text, compresslevel=9, mtime=0))

    def _write(self, name: str, data: bytes) -> None:
        (self.path / name).write_bytes(data)
        self._digests[name] = hashlib.sha256(data).hexdigest()

    def ensure(self, name: str) -> Path:
        """Create ``name`` (one of :data:`LAZY_FILES`) unless it exists; return its path.

        Written in 1 MiB chunks so the test process's own memory does not grow by the
        file size before a memory measurement starts.
        """
        with self._lock:
            path = self.path / name
            if name in self._digests:
                return path
            size = LAZY_FILES[name]
            digest = hashlib.sha256()
            partial = path.with_suffix(".partial")
            with open(partial, "wb") as f:
                for _ in range(size // MiB):
                    chunk = os.urandom(MiB)
                    digest.update(chunk)
                    f.write(chunk)
            # The rename makes the file appear complete or not at all to the servers.
            partial.rename(path)
            self._digests[name] = digest.hexdigest()
            return path

    def remove(self, name: str) -> None:
        """Delete a lazily created file (the 1 GiB one is not worth keeping on disk)."""
        with self._lock:
            self._digests.pop(name, None)
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def sha256(self, name: str) -> str:
        """The hex SHA-256 of a file in the docroot (creating a lazy one if needed)."""
        if name not in self._digests:
            self.ensure(name)
        return self._digests[name]

    def size(self, name: str) -> int:
        return (self.path / name).stat().st_size


_lock = threading.Lock()
_session_docroot: Docroot | None = None


def session_docroot(tmp_path_factory: Any) -> Docroot:
    """The docroot shared by every server in this pytest session (created on first use)."""
    global _session_docroot
    with _lock:
        if _session_docroot is None:
            _session_docroot = Docroot(tmp_path_factory.mktemp("docroot"))
        return _session_docroot
