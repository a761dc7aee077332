"""How far this process's peak memory rises while a block runs (:class:`PeakRSS`)."""

from __future__ import annotations

import resource
import sys

KiB = 1024


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


class PeakRSS:
    """Measure how far this process's peak RSS rises inside a ``with`` block.

    On Linux the kernel's high-water mark is reset at the start (``/proc/self/clear_refs``),
    so ``growth`` is exactly ``VmHWM`` at the end minus ``VmRSS`` at the start, whatever
    earlier tests did. Elsewhere it falls back to ``ru_maxrss``, which only sees growth
    beyond the process's previous peak (so it can under-report, never over-report).
    """

    def __init__(self) -> None:
        self.start = 0
        self.peak = 0
        self._precise = False

    def __enter__(self) -> PeakRSS:
        self._precise = _reset_peak_rss()
        if self._precise:
            self.start = (_status_kib("VmRSS") or 0) * KiB
        else:
            self.start = _ru_maxrss_bytes()
        self.peak = self.start
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._precise:
            self.peak = (_status_kib("VmHWM") or 0) * KiB
        else:
            self.peak = _ru_maxrss_bytes()

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.start)


def _ru_maxrss_bytes() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # kilobytes on Linux, bytes on macOS
    return usage if sys.platform == "darwin" else usage * KiB
