"""
The exceptions of :mod:`hyper.aio` beyond hyper's HTTP/2 ones.

The names are aioh2's, so ``except aioh2.SendException`` keeps working after
``import hyper.aio as aioh2``. Everything else a call can raise comes from
:mod:`hyper.engine.exceptions` (``StreamResetError``, ``ConnectionError``
subclasses) and :mod:`hyper.common.exceptions`.
"""

from __future__ import annotations

from typing import Any

from hyper.common.exceptions import HyperError


class AIOH2Exception(HyperError):
    """The base of the aioh2-compatible exceptions."""


class SendException(AIOH2Exception):
    """
    ``send_data`` could not finish: the stream was reset or the connection
    lost. ``data`` holds the bytes that were not sent; the cause
    (``__cause__``) says why.
    """

    def __init__(self, data: bytes, message: str = "") -> None:
        super().__init__(message or f"{len(data)} bytes not sent")
        self.data = data

    def __reduce__(self) -> Any:
        return (type(self), (self.data, self.args[0]))
