"""
The historic ``hyper.http20.engine`` path, kept for code written against it:
the names live in :mod:`hyper.engine.engine`.
"""

from hyper.engine.engine import (
    Engine,
    EngineConfig,
    SettingCodes,
    StreamState,
    data_layout,
    data_layout_size,
)

__all__ = [
    "Engine",
    "EngineConfig",
    "SettingCodes",
    "StreamState",
    "data_layout",
    "data_layout_size",
]
