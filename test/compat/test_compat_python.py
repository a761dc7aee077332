"""
Importing hyper on a Python older than the oldest it supports raises
``ImportError`` with a one-line reason (historic hyper did so for 3.2 and
older), not a ``SyntaxError`` from some module inside. Run with the older
interpreters this machine's pyenv carries.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
TIMEOUT = 30


def _old_interpreters() -> list[Path]:
    found = []
    for python in sorted(PYENV.glob("versions/*/bin/python")):
        version = python.parent.parent.name
        parts = version.split(".")
        numeric = len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit()
        if numeric and (int(parts[0]), int(parts[1])) < (3, 9):
            found.append(python)
    return found


OLD = _old_interpreters()


@pytest.mark.skipif(
    not OLD and not os.environ.get("HYPER_REQUIRE_SERVERS"),
    reason="no Python older than 3.9 under pyenv",
)
def test_there_is_an_old_python_to_try() -> None:
    assert OLD, f"no Python older than 3.9 under {PYENV}/versions"


@pytest.mark.parametrize("python", OLD, ids=[p.parent.parent.name for p in OLD])
def test_an_old_python_gets_a_one_line_import_error(python: Path) -> None:
    version = ".".join(python.parent.parent.name.split(".")[:2])
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    result = subprocess.run(
        [str(python), "-c", "import hyper"],
        cwd=ROOT,  # the source tree's hyper, whatever is installed
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"ImportError: hyper needs Python 3.9 or newer; this is Python {version}"


def test_the_floor_is_the_packages_requires_python() -> None:
    """One floor: the check says what pyproject.toml's requires-python says."""
    from hyper._version import PYTHON_FLOOR

    text = (ROOT / "pyproject.toml").read_text()
    assert f'requires-python = ">={PYTHON_FLOOR[0]}.{PYTHON_FLOOR[1]}"' in text
