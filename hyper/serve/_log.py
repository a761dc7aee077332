"""
The access log of ``hyper serve``: one line per request, on stderr (``-v``)
or appended to a file (``--access-log``), which SIGHUP reopens.
"""

from __future__ import annotations

import os
import sys

from hyper.serve._site import log

__all__ = ["AccessLog", "stderr_log"]


def stderr_log(line: str) -> None:
    """The ``-v`` access log: one line per request on stderr."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class AccessLog:
    """
    The ``--access-log`` file: each line appended with one ``write`` (whole
    lines from every worker, never interleaved: ``O_APPEND``);
    :meth:`reopen` opens the path again (after logrotate moved the file).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = self._open()
        self._failed = False

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def __call__(self, line: str) -> None:
        try:
            os.write(self.fd, (line + "\n").encode("utf-8", "backslashreplace"))
        except OSError as exc:
            if not self._failed:  # a full disk: say it once, keep serving
                self._failed = True
                log.warning("hyper serve: cannot write the access log %s: %s", self.path, exc)

    def reopen(self) -> None:
        try:
            fd = self._open()
        except OSError as exc:
            log.warning("hyper serve: cannot reopen the access log %s: %s", self.path, exc)
            return
        os.close(self.fd)
        self.fd = fd
        self._failed = False

    def close(self) -> None:
        os.close(self.fd)
