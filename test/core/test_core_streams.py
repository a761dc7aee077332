"""
What both cores share (hyper.core.streams): one PING rule for both roles,
reading a stream buffer with window credit, the copy of a shared failure.
"""

from __future__ import annotations

import gc
import pickle
from collections import deque
from typing import Any

import pytest
from hyperframe.frame import Frame, PingFrame, WindowUpdateFrame
from support.cores import POST, CorePair, EveryByte
from support.frames import parse_frames

from hyper.core.streams import BaseCore, PushRecord, StreamBuffer, clone_error
from hyper.engine.exceptions import ConnectionLostError, LocalProtocolError, StreamResetError

ROLES = ("client", "server")


def core_of(pair: CorePair, role: str) -> BaseCore[Any]:
    return pair.client if role == "client" else pair.server


def to_peer(pair: CorePair, role: str) -> list[Frame]:
    """Hand what ``role`` queued to the other core; the frames that crossed."""
    return pair.to_server() if role == "client" else pair.to_client()


def from_peer(pair: CorePair, role: str) -> list[Frame]:
    """Hand what the other core queued (a PING's ACK) to ``role``."""
    return pair.to_client() if role == "client" else pair.to_server()


@pytest.mark.parametrize("role", ROLES)
class TestPings:
    """RFC 9113 6.7: an ACK echoes the opaque data and nothing else, so two
    PINGs with the same data in flight could not be told apart."""

    def test_a_ping_is_acked_by_its_peer(self, pair: CorePair, role: str) -> None:
        core = core_of(pair, role)
        core.ping(b"rtt-1234")
        assert [f.opaque_data for f in to_peer(pair, role) if isinstance(f, PingFrame)] == [
            b"rtt-1234"
        ]
        assert not core.ping_acked(b"rtt-1234")
        from_peer(pair, role)
        assert core.ping_acked(b"rtt-1234")

    def test_a_second_ping_with_the_same_data_in_flight_is_refused(
        self, pair: CorePair, role: str
    ) -> None:
        core = core_of(pair, role)
        core.ping(b"same-one")
        with pytest.raises(LocalProtocolError, match="already in flight"):
            core.ping(b"same-one")
        core.ping(b"other-12")
        frames = to_peer(pair, role)
        assert [f.opaque_data for f in frames if isinstance(f, PingFrame)] == [
            b"same-one",
            b"other-12",
        ]

    def test_forgotten_its_data_may_be_used_again(self, pair: CorePair, role: str) -> None:
        core = core_of(pair, role)
        core.ping(b"again!!!")
        to_peer(pair, role)
        from_peer(pair, role)
        core.forget_ping(b"again!!!")
        assert not core.ping_acked(b"again!!!")
        core.ping(b"again!!!")
        assert len([f for f in to_peer(pair, role) if isinstance(f, PingFrame)]) == 1

    def test_an_ack_nobody_waits_for_is_ignored(self, pair: CorePair, role: str) -> None:
        core = core_of(pair, role)
        core.ping(b"waited!!")
        to_peer(pair, role)
        core.forget_ping(b"waited!!")
        from_peer(pair, role)  # its ACK arrives after the driver gave up
        assert not core.ping_acked(b"waited!!")

    def test_a_ping_on_a_failed_connection_raises_a_copy_of_the_failure(
        self, pair: CorePair, role: str
    ) -> None:
        core = core_of(pair, role)
        core.lost(None)
        with pytest.raises(ConnectionLostError) as info:
            core.ping(b"too-late")
        assert info.value is not core.error and info.value.__cause__ is core.error


class TestConsume:
    """``StreamBuffer.consume``: the one read with window credit of both cores."""

    @pytest.fixture
    def pair(self) -> CorePair:
        return CorePair(window_manager=EveryByte)

    def _buffer(self, pair: CorePair, *chunks: bytes) -> StreamBuffer:
        """A server-side request holding ``chunks`` (one DATA frame each)."""
        opened = pair.client.open_stream(POST, False)
        assert opened is not None
        for chunk in chunks:
            pair.client.send_data(opened[0], chunk, False)
        pair.to_server()
        request = pair.server.next_request()
        assert request is not None
        pair.server.data_to_send()
        return request

    def _credited(self, pair: CorePair) -> list[int]:
        return [
            f.window_increment
            for f in parse_frames(pair.server.data_to_send())
            if isinstance(f, WindowUpdateFrame) and f.stream_id
        ]

    def test_reads_across_chunks_credit_exactly_what_was_taken(self, pair: CorePair) -> None:
        buffer = self._buffer(pair, b"abc", b"defgh", b"ij")
        engine = pair.server.engine
        assert buffer.consume(engine, 2) == [b"ab"]
        assert buffer.consume(engine, 4) == [b"c", b"def"]
        assert buffer.consume(engine, None) == [b"gh", b"ij"]
        assert self._credited(pair) == [2, 4, 4]
        assert buffer.buffered == 0 and not buffer.chunks

    def test_whole_chunks_are_handed_over_uncopied(self, pair: CorePair) -> None:
        buffer = self._buffer(pair, b"first", b"second")
        head = buffer.chunks[0]
        out = buffer.consume(pair.server.engine, 5)
        assert out[0] is head

    def test_a_limit_of_nothing_takes_and_credits_nothing(self, pair: CorePair) -> None:
        buffer = self._buffer(pair, b"abc")
        assert buffer.consume(pair.server.engine, 0) == []
        assert buffer.buffered == 3
        assert self._credited(pair) == []

    def test_bytes_credited_in_advance_are_not_credited_again(self, pair: CorePair) -> None:
        buffer = self._buffer(pair, b"abcdef")
        buffer.preacked = 4
        assert buffer.consume(pair.server.engine, 3) == [b"abc"]
        assert self._credited(pair) == []
        assert buffer.consume(pair.server.engine, None) == [b"def"]
        assert self._credited(pair) == [2]
        assert buffer.preacked == 0


class TestCloneError:
    def test_each_waiter_gets_its_own_copy_caused_by_the_original(self) -> None:
        shared = StreamResetError("", 3, 8, True)
        one, two = clone_error(shared), clone_error(shared)
        assert one is not two and one is not shared
        assert type(one) is StreamResetError and one.__cause__ is shared
        assert (one.stream_id, one.error_code, str(one)) == (3, 8, str(shared))
        assert pickle.loads(pickle.dumps(one)).error_code == 8

    def test_an_error_that_cannot_be_copied_is_shared(self) -> None:
        class Stubborn(Exception):
            def __reduce_ex__(self, protocol: object) -> object:
                raise TypeError("no copies")

        error = Stubborn("x")
        assert clone_error(error) is error


class TestPushRecord:
    def test_a_record_dropped_unwrapped_queues_its_stream_for_release(self) -> None:
        abandoned: deque[StreamBuffer] = deque()
        pushed = StreamBuffer(2)
        record = PushRecord([(b":path", b"/a")], pushed, abandoned)
        del record
        gc.collect()  # PyPy frees at collection, CPython at once
        assert list(abandoned) == [pushed]

    def test_a_wrapped_or_claimed_record_queues_nothing(self) -> None:
        abandoned: deque[StreamBuffer] = deque()
        wrapped = PushRecord([], StreamBuffer(2), abandoned)
        wrapped.wrapper = object()
        claimed_stream = StreamBuffer(4)
        claimed_stream.claimed = True
        claimed = PushRecord([], claimed_stream, abandoned)
        del wrapped, claimed
        gc.collect()
        assert not abandoned
