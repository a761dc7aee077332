"""Memory probes: how far this process's peak RSS rises while a block runs
(:class:`PeakRSS`), and what hyper's own code keeps per round of a loop
(:func:`hyper_growth_per_round`)."""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Callable

import pytest

try:
    import tracemalloc
except ImportError:  # PyPy has none: these bounds are measured in the CPython run
    tracemalloc = None  # type: ignore[assignment]

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


def hyper_growth_per_round(step: Callable[[int], object], warm: int, rounds: int) -> float:
    """Bytes per round that hyper's own code still holds after ``step(i)`` ran ``rounds``
    times (after ``warm`` untraced rounds, which fill caches and tables).

    Only allocations made by modules inside the ``hyper`` package count, so the test's
    own bookkeeping and a scripted peer in the same process do not.
    """
    import hyper

    if tracemalloc is None:
        pytest.skip("no tracemalloc on PyPy; memory bounds are measured in the CPython run")
    hyper_files = tracemalloc.Filter(True, str(Path(hyper.__file__).parent / "*"))
    for i in range(warm):
        step(i)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces([hyper_files])
        for i in range(warm, warm + rounds):
            step(i)
        after = tracemalloc.take_snapshot().filter_traces([hyper_files])
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / rounds
