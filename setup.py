"""Shim for tools that still run ``setup.py``.

All metadata (name, version, dependencies, extras, package data, the ``hyper``
console script) lives in ``pyproject.toml``; the version is read from
``hyper/__init__.py``. Keep this file free of metadata so the two never disagree.
"""

from setuptools import setup

setup()
