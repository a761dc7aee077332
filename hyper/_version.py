"""
The version of hyper, in one place (read statically by the build), and the
oldest Python it runs on: ``hyper/__init__.py`` imports this module first, so
an older interpreter gets a one-line ``ImportError`` here instead of a
``SyntaxError`` from some module inside. Keep this file in syntax every
Python parses.
"""

import sys

__version__ = "1.0.0.dev0"

#: The oldest Python hyper runs on (requires-python in pyproject.toml).
PYTHON_FLOOR = (3, 9)

if sys.version_info < PYTHON_FLOOR:
    raise ImportError(
        "hyper needs Python %d.%d or newer; this is Python %d.%d"  # noqa: UP031
        % (PYTHON_FLOOR + tuple(sys.version_info[:2]))
    )
