"""Sphinx configuration for hyper's documentation."""

from __future__ import annotations

import sys
from pathlib import Path

# Document the checkout this file lives in, not whatever hyper happens to be installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hyper

project = "hyper"
author = "hyper contributors"
copyright = "2026, hyper contributors"  # noqa: A001 (Sphinx's own setting name)
release = hyper.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Signatures stay readable; the types are listed in the description instead.
autodoc_typehints = "description"

# No intersphinx: fetching the Python inventory makes the build depend on the network,
# and under -W an unreachable inventory is a failed build.
nitpicky = False
# hyper.common.exceptions and hyper.http20.exceptions both define ConnectionError (each
# subclasses the builtin, a historic API), so a docstring's bare ":raises ConnectionError:"
# matches two targets. That ambiguity is by design; Sphinx links the first match.
suppress_warnings = ["ref.python"]

templates_path: list[str] = []
exclude_patterns = ["_build"]

html_theme = "alabaster"
html_theme_options = {
    "description": "HTTP/2 for Python, behind the http.client API",
}
