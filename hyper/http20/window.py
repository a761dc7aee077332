"""
The historic ``hyper.http20.window`` path, kept for code written against it:
the names live in :mod:`hyper.engine.window`.
"""

from hyper.engine.window import (
    BaseFlowControlManager,
    FlowControlManager,
)

__all__ = [
    "BaseFlowControlManager",
    "FlowControlManager",
]
