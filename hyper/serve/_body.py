"""
:class:`FileBody`: the file region a plan sends, read piece by piece by
either HTTP version's sender.

The file is open only while the body is being read. A sender that has to
wait (no flow-control window, a transport that accepts nothing) calls
:meth:`FileBody.release` first, and the next :meth:`FileBody.read` opens
it again where it left off: a stalled client holds no file descriptor and
no buffer, however many of its streams are stalled. Each opening checks that
the file is still the one planned (device, inode, size, modification time),
so a body is never made of two versions of a file.
"""

from __future__ import annotations

import io
import os

from hyper.serve._files import Plan

__all__ = ["FileBody", "FileChangedError"]


def _readv(f: io.FileIO, slots: list[memoryview]) -> int:
    """Read into ``slots`` in order: one ``readv`` where the platform has it
    (PyPy's ``os`` has none: then one ``readinto`` per slot, stopping at the
    first that comes back short). The bytes read; 0 at the end of the file."""
    readv = getattr(os, "readv", None)
    if readv is not None:
        return int(readv(f.fileno(), slots))
    total = 0
    for slot in slots:
        n = f.readinto(slot) or 0
        total += n
        if n < len(slot):
            break
    return total


class FileChangedError(OSError):
    """The planned file changed (or shrank) while its body was being sent."""


class FileBody:
    """
    ``left`` bytes of the file at ``path`` from ``position``; ``identity``
    is the planned file's (device, inode, size, mtime in ns), if known.

    :raises OSError: (:meth:`open`, :meth:`read`) the file cannot be
        opened or read; :class:`FileChangedError` when it is no longer the
        file planned.
    """

    __slots__ = ("path", "position", "left", "identity", "_file")

    def __init__(
        self,
        path: str,
        position: int,
        left: int,
        identity: tuple[int, int, int, int] | None = None,
    ) -> None:
        self.path = path
        self.position = position
        self.left = left
        self.identity = identity
        self._file: io.FileIO | None = None

    @classmethod
    def of(cls, plan: Plan) -> FileBody | None:
        """The plan's body, opened; None when the plan sends no file."""
        if plan.path is None or plan.head_only or not plan.length or plan.body:
            return None  # nothing to send, or the bytes are in memory
        body = cls(plan.path, plan.offset, plan.length, plan.identity)
        body.open()
        return body

    def open(self) -> None:
        """Open the file at the current position (if it is not open)."""
        if self._file is not None:
            return
        # Unbuffered: one read() is one system call of the size asked for,
        # and no 8 KiB buffer per open file.
        f = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed by release()
        try:
            st = os.fstat(f.fileno())
            if self.identity is not None and self.identity != (
                st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
            ):  # fmt: skip
                raise FileChangedError(f"{self.path} changed while it was being sent")
            f.seek(self.position)
        except BaseException:
            f.close()
            raise
        self._file = f

    def read(self, size: int) -> bytes:
        """The next ``size`` bytes at most (never empty while bytes are left)."""
        self.open()
        f = self._file
        data = f.read(min(size, self.left)) if f is not None else b""
        if not data:
            self.release()
            raise FileChangedError(f"{self.path} shrank while it was being sent")
        self.position += len(data)
        self.left -= len(data)
        if not self.left:
            self.release()
        return data

    def read_into(self, slots: list[memoryview]) -> int:
        """Fill ``slots`` in order with the next bytes (one ``readv`` when the
        file gives them all at once); the number of bytes read, all of
        ``slots`` unless the body ends before."""
        self.open()
        f = self._file
        want = min(sum(len(s) for s in slots), self.left)
        got = 0
        while got < want and f is not None:
            # Skip what the previous readv filled.
            pending, skip = [], got
            for slot in slots:
                if skip >= len(slot):
                    skip -= len(slot)
                    continue
                pending.append(slot[skip:] if skip else slot)
                skip = 0
            n = _readv(f, pending)
            if not n:
                self.release()
                raise FileChangedError(f"{self.path} shrank while it was being sent")
            got += n
        self.position += got
        self.left -= got
        if not self.left:
            self.release()
        return got

    def release(self) -> None:
        """Close the file; the next :meth:`read` opens it again."""
        f = self._file
        if f is not None:
            self._file = None
            f.close()

    close = release
