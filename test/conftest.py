"""Shared pytest fixtures for hyper's test suite.

Each section below belongs to one area of the suite; keep additions inside a
section of your own, delimited like the ones here.

Interop tests need real programs (nghttpd, nginx, h2o, curl, ...). Locally a
missing program skips the test. In CI (``.ci/run`` exports
``HYPER_REQUIRE_SERVERS=1``) a missing program fails the test instead, so an
incomplete install can never turn the interop suite into a silent pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

# ---------------------------------------------------------------------------
# Section: external binaries (packaging/CI)
# ---------------------------------------------------------------------------


def _servers_required() -> bool:
    # "0" and the empty string count as unset, so HYPER_REQUIRE_SERVERS=0 relaxes it.
    return os.environ.get("HYPER_REQUIRE_SERVERS", "") not in ("", "0")


def _require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name!r} not found on PATH (installed by .ci/run)"
    if _servers_required():
        pytest.fail(f"{message}; HYPER_REQUIRE_SERVERS is set", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def require_binary() -> Callable[[str], str]:
    """Return a function mapping a program name to its path, or skipping/failing.

    Usage: ``nghttpd = require_binary("nghttpd")``. When the program is missing
    the test fails if ``HYPER_REQUIRE_SERVERS`` is set (CI) and is skipped
    otherwise. Session-scoped, so fixtures of any scope may depend on it.
    """
    return _require_binary


# ---------------------------------------------------------------------------
# End of section: external binaries
# ---------------------------------------------------------------------------
