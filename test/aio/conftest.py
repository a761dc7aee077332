"""Fixtures of the hyper.aio tests: ``run`` (every test on asyncio's loop and uvloop's)."""

from aio_support import run

__all__ = ["run"]
