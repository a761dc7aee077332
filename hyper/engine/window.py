"""
Receive-window policy: how much window to give back to the peer, and when.

The engine makes one manager for the connection and one per stream, from the
class the user passes. A stream's manager hears about bytes once the
application has *consumed* them, so a reader that stops reading stops that
stream's sender; the connection's manager hears about bytes as they arrive,
so one unread stream never starves the others.

Contract for subclasses: implement :meth:`increase_window_size`; read
``initial_window_size``, ``window_size`` and ``document_size`` but never
assign them: the engine keeps ``window_size`` in step with what the peer may
send. The increment returned becomes a WINDOW_UPDATE frame (none for 0). It
must keep the window at or below 2**31 - 1; the engine clamps anything
larger.

``blocked()`` is no longer part of the contract. Historic hyper called it
when a BLOCKED frame came; BLOCKED existed only in drafts of HTTP/2 and
RFC 7540 dropped it, so no peer sends one and nothing tells a receiver that
its sender is stalled. The engine never calls it; it stays so that old
managers defining it, and old code calling it, keep working.
"""

from __future__ import annotations


class BaseFlowControlManager:
    """
    The interface the engine drives.

    :param initial_window_size: the window the peer starts with for this
        stream (or connection).
    :param document_size: the size of the body, when known in advance.
    """

    def __init__(self, initial_window_size: int, document_size: int | None = None) -> None:
        self.initial_window_size = initial_window_size
        self.window_size = initial_window_size
        self.document_size = document_size

    def increase_window_size(self, frame_size: int) -> int:
        """
        ``frame_size`` more bytes were used; return how much window to give
        back now (0 for none). ``window_size`` does not yet include them.
        """
        raise NotImplementedError

    def blocked(self) -> int:
        """
        Historic, never called by hyper (see the module docstring): the
        increment to give when the peer said it was blocked. Returns 0;
        subclasses may still define it.
        """
        return 0

    def _handle_frame(self, frame_size: int) -> int:
        increment = self.increase_window_size(frame_size)
        self.window_size += increment - frame_size
        return increment


class FlowControlManager(BaseFlowControlManager):
    """
    The default policy: let the window drain to half its initial size (or
    under 1000 bytes), then top it back up in one increment: one WINDOW_UPDATE
    per half-window, never one per frame. Half rather than the historic
    quarter keeps a fast sender from stalling while the update is in flight.
    """

    def increase_window_size(self, frame_size: int) -> int:
        future = self.window_size - frame_size
        if future < self.initial_window_size // 2 or future < 1000:
            return self.initial_window_size - future
        return 0

    def blocked(self) -> int:
        """Historic, never called by hyper: what would top the window back up."""
        return self.initial_window_size - self.window_size
