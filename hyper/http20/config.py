"""
The historic ``hyper.http20.config`` path, kept for code written against it:
the names live in :mod:`hyper.engine.config`.
"""

from hyper.engine.config import (
    CLIENT_MAX_FRAME_SIZE,
    DEFAULT_SETTINGS,
    MAX_FRAME_SIZE,
    MAX_WINDOW,
    MIN_FRAME_SIZE,
    EngineConfig,
    SettingCodes,
    check_setting,
)

__all__ = [
    "CLIENT_MAX_FRAME_SIZE",
    "DEFAULT_SETTINGS",
    "MAX_FRAME_SIZE",
    "MAX_WINDOW",
    "MIN_FRAME_SIZE",
    "EngineConfig",
    "SettingCodes",
    "check_setting",
]
