"""
The client side of :class:`hyper.aio.H2Protocol`: the shared client core
(:class:`hyper.core.client.ClientCore`, the same one the blocking client
drives) plus the few calls the aioh2 API needs that the blocking client
does not: look a stream up by id after the core is done with it, reset
with a chosen code, close gracefully, and the server core's timer and
wake-up interface (a client has no timers of its own).

Nothing here decides what an event means for a stream; the core does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hyper.core.client import ClientCore
from hyper.core.streams import PushRecord, StreamBuffer, clone_error
from hyper.engine.config import EngineConfig
from hyper.engine.engine import Engine
from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import StreamStateError
from hyper.engine.window import BaseFlowControlManager, FlowControlManager

# Finished streams still answerable by id (recv_trailers after the body,
# read_stream after the end): the aioh2 API has no call that releases a
# stream, so the oldest are forgotten past this many.
_KEEP_FINISHED = 1024


class ClientSide(ClientCore):
    """:class:`ClientCore` with the lookups and calls of the aioh2 API."""

    def __init__(
        self,
        concurrency: int,
        clock: Callable[[], float],
        *,
        enable_push: bool = False,
        window_manager: type[BaseFlowControlManager] = FlowControlManager,
        first_stream_id: int = 1,
    ) -> None:
        config = EngineConfig(
            client_side=True,
            clock=clock,
            max_concurrent_streams=concurrency,
            enable_push=enable_push,
            window_manager=window_manager,
        )
        super().__init__(Engine(config), first_stream_id=first_stream_id, track_streams=True)
        #: Connection-wide news (any frame may have moved a window or a
        #: setting): slot and window waiters re-check.
        self.conn_changed = False
        self.closing = False
        self._finished: OrderedDict[int, StreamBuffer] = OrderedDict()
        self._pushes: dict[int, list[PushRecord]] = {}

    def receive_data(self, data: Any) -> None:
        super().receive_data(data)
        self.conn_changed = True
        self._check_closing()

    def get(self, stream_id: int) -> StreamBuffer:
        """The buffer of a stream we opened or were pushed."""
        stream = self.find(stream_id)  # follows a refused early stream sent again
        if stream is None:
            stream_id = self.resolve(stream_id)
            stream = self._finished.get(stream_id)
            if stream is None:
                if self.error is not None:
                    raise clone_error(self.error)
                raise StreamStateError(f"stream {stream_id} is not open")
        return stream

    def finished(self, stream: StreamBuffer) -> None:
        """The core may have forgotten ``stream``; keep it answerable by id."""
        if stream.stream_id not in self.streams:
            finished = self._finished
            finished[stream.stream_id] = stream
            if len(finished) > _KEEP_FINISHED:
                finished.popitem(last=False)
        self._check_closing()

    def send_data(self, stream: StreamBuffer, data: Any, end_stream: bool) -> int | None:
        taken = super().send_data(stream, data, end_stream)
        if self.slot_freed:
            self.slot_freed = False
            self.conn_changed = True
        return taken

    def reset(self, stream: StreamBuffer, error_code: int) -> None:
        """Reset the stream with ``error_code`` and forget it."""
        self.release(stream, error_code)
        self.finished(stream)
        self.conn_changed = True

    # -- pushes -------------------------------------------------------------

    def next_push(self, stream: StreamBuffer) -> PushRecord | bool | None:
        """
        The next promise made on ``stream``: a record, None when no more can
        come, or False when the caller must wait.
        """
        queue = self._pushes.get(stream.stream_id)
        if not queue:
            if not self.pushes_ready(stream):
                return False
            fresh, more = self.take_pushes(stream)
            for record in fresh:
                record.wrapper = record  # kept: the application will read it
            if not fresh:
                return None if not more else False
            queue = self._pushes[stream.stream_id] = fresh
        record = queue.pop(0)
        if not queue:
            del self._pushes[stream.stream_id]
        return record

    def update_settings(self, changes: dict[int, int]) -> None:
        """Send SETTINGS; they apply once the server acknowledges them."""
        self.raise_if_failed()
        self.engine.update_settings(changes)

    # -- shutdown and the driver's interface ---------------------------------

    def close_gracefully(self) -> None:
        """GOAWAY: no new streams; the open ones finish, then teardown."""
        if self.error is None and not self.closing:
            self.closing = True
            if not self.engine.is_closed:
                self.engine.close(ErrorCodes.NO_ERROR)
            self._check_closing()

    def _check_closing(self) -> None:
        if self.closing and self.error is None and not self.streams:
            self.close()

    @property
    def has_incoming(self) -> bool:
        """Never: a push arrives on the stream it answers (:meth:`next_push`)."""
        return False

    def next_deadline(self) -> float | None:
        return None

    def check_timers(self) -> None:
        return None
