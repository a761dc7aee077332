"""The ``hyper`` command line, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hyper import __version__

_REPO_ROOT = Path(__file__).resolve().parent.parent
_TIMEOUT = 60  # seconds; the demo moves ~66 MB and 1000 requests, with room for slow CI


def _run_hyper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyper", *args],
        cwd=_REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )


class TestCLI:
    def test_version_prints_version_and_exits_0(self) -> None:
        result = _run_hyper("--version")
        assert result.returncode == 0, result.stderr
        assert __version__ in result.stdout

    def test_demo_talks_http2_to_itself_and_reports_success(self) -> None:
        """The demo runs its own server on loopback; every check must pass."""
        result = _run_hyper("demo")
        assert result.returncode == 0, result.stdout + result.stderr
        assert __version__ in result.stdout
        assert "h2c" in result.stdout
        assert "BAD" not in result.stdout
        assert result.stdout.rstrip().endswith("all good")

    def test_no_command_prints_usage_and_exits_2(self) -> None:
        result = _run_hyper()
        assert result.returncode == 2
        assert "usage: hyper" in result.stderr
