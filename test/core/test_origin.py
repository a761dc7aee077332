"""
The reconnect policy (hyper.core.origin) from plain calls.

The connections here are small objects that answer the policy's questions
(``is_usable``, ``is_finished``, ``next_stream_id``, ``is_reused``,
``why_unusable``, ``find``): the
``Connection`` protocol the policy is written against, which ``Session`` and
``H2Protocol`` meet with a socket or a transport behind them. Each test acts
as a front end does: choose, open when told to, adopt, open streams.
"""

from __future__ import annotations

import pytest

from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.core.origin import OriginPolicy
from hyper.core.streams import StreamBuffer
from hyper.engine.exceptions import (
    ConnectionLostError,
    ConnectionTerminatedError,
    FrameSizeError,
    StreamStateError,
)

LAST_ID = 2**31 - 1


class FakeConnection:
    """
    A connection as the policy sees it. Streams get odd ids from
    ``first_stream_id`` up; after GOAWAY (or once its ids are used up) it
    opens no more, and it is finished once it opens no more and no stream is
    left, as a client core is after drain-then-close.
    """

    def __init__(self, first_stream_id: int = 1, refuses: BaseException | None = None) -> None:
        self.next_stream_id = first_stream_id
        self.streams: dict[int, StreamBuffer] = {}
        self.goaway_received = False
        self.error: BaseException | None = None
        self.is_reused = False
        # What the connection turns out to have suffered when the next
        # stream is opened (a GOAWAY, a malformed SETTINGS, EOF while idle,
        # read just before sending): usable when chosen, it then takes none.
        self.refuses = refuses

    @property
    def is_usable(self) -> bool:
        return self.why_unusable() is None and self.next_stream_id <= LAST_ID

    def why_unusable(self) -> BaseException | None:
        if self.error is not None:
            return self.error
        if self.goaway_received:
            return ConnectionTerminatedError("GOAWAY")
        return None

    @property
    def is_finished(self) -> bool:
        return not self.is_usable and not self.streams

    def find(self, stream_id: int) -> StreamBuffer | None:
        return self.streams.get(stream_id)

    def open_stream(self, stream_id: int | None = None) -> StreamBuffer | None:
        """A new stream (``stream_id``: one reserved earlier, used unless a
        higher id went out first); None if this connection takes no more."""
        if self.refuses is not None:
            self.error, self.refuses = self.refuses, None
        if not self.is_usable:
            return None
        if stream_id is None or stream_id < self.highest_opened():
            stream_id = self.reserve_id()
        stream = self.streams[stream_id] = StreamBuffer(stream_id)
        self.is_reused = True
        return stream

    def reserve_id(self) -> int:
        stream_id = self.next_stream_id
        self.next_stream_id += 2
        return stream_id

    def highest_opened(self) -> int:
        return max(self.streams, default=0)

    def goaway(self) -> None:
        self.goaway_received = True

    def finish(self, stream_id: int) -> None:
        del self.streams[stream_id]


class Server:
    """Makes the connections a front end opens; the next ones fail as
    ``failing`` lists (before the request goes out)."""

    def __init__(self) -> None:
        self.opened: list[FakeConnection] = []
        self.failing: list[BaseException] = []

    def connect(self, first_stream_id: int) -> FakeConnection:
        refuses = self.failing.pop(0) if self.failing else None
        conn = FakeConnection(first_stream_id, refuses=refuses)
        self.opened.append(conn)
        return conn


def connection_for(
    policy: OriginPolicy[FakeConnection], server: Server
) -> tuple[FakeConnection, bool]:
    """A front end's connecting step: the chosen connection, or a new one."""
    conn = policy.choose()
    if conn is not None:
        return conn, False
    conn = server.connect(policy.first_stream_id())
    policy.adopt(conn)
    return conn, True


def request(
    policy: OriginPolicy[FakeConnection], server: Server, reserved: int | None = None
) -> tuple[FakeConnection, StreamBuffer]:
    """A front end's request: a usable connection, a stream on it, another
    connection when it takes none (as the policy allows)."""
    failed: BaseException | None = None
    while True:
        conn = policy.current
        if conn is None or not conn.is_usable:
            conn, _ = connection_for(policy, server)
        stream = conn.open_stream(reserved)
        if stream is not None:
            policy.remember(stream.stream_id)
            return conn, stream
        failed = policy.try_again(conn, failed)


@pytest.fixture
def policy() -> OriginPolicy[FakeConnection]:
    return OriginPolicy("example.com:443")


@pytest.fixture
def server() -> Server:
    return Server()


class TestChoosing:
    def test_nothing_is_chosen_before_a_connection_is_adopted(
        self, policy: OriginPolicy[FakeConnection]
    ) -> None:
        assert policy.choose() is None
        assert policy.first_stream_id() == 1
        assert policy.connections() == []

    def test_a_usable_connection_is_reused(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        first, _ = request(policy, server)
        second, _ = request(policy, server)
        assert first is second
        assert policy.choose() is first
        assert server.opened == [first]

    def test_goaway_retires_the_connection_which_drains_while_new_streams_go_elsewhere(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        old, open_stream = request(policy, server)
        old.goaway()
        new, new_stream = request(policy, server)
        assert new is not old
        assert policy.current is new
        assert policy.draining == [old]
        assert policy.find(open_stream.stream_id) == (old, open_stream)
        assert policy.find(new_stream.stream_id) == (new, new_stream)

    def test_a_drained_connection_is_dropped_at_the_next_retirement(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        old, stream = request(policy, server)
        old.goaway()
        middle, _ = request(policy, server)
        old.finish(stream.stream_id)
        middle.goaway()
        request(policy, server)
        assert policy.draining == [middle]

    def test_a_connection_with_no_stream_left_is_not_kept(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        old, stream = request(policy, server)
        old.finish(stream.stream_id)
        old.goaway()
        request(policy, server)
        assert policy.draining == []

    def test_a_call_that_opens_the_connection_says_so(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        """The front end learns whether the connection it got was opened for this call."""
        conn, opened = connection_for(policy, server)
        assert opened
        assert connection_for(policy, server) == (conn, False)


class TestStreamIds:
    def test_ids_continue_across_connections(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        old, _ = request(policy, server)
        request(policy, server)
        old.goaway()
        _, stream = request(policy, server)
        assert stream.stream_id == 5
        assert server.opened[1].next_stream_id == 7

    def test_ids_past_the_last_start_again_at_1_when_nothing_drains(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        policy.next_stream_id = LAST_ID
        last, stream = request(policy, server)
        assert stream.stream_id == LAST_ID
        assert not last.is_usable  # every id used
        last.finish(stream.stream_id)
        _, stream = request(policy, server)
        assert stream.stream_id == 1

    def test_ids_do_not_wrap_while_an_old_stream_drains(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        """Stream 1 is still open on the old connection: no new stream may be 1."""
        old, early = request(policy, server)
        old.next_stream_id = LAST_ID + 2  # every id used
        assert policy.choose() is None
        assert policy.draining == [old]
        assert policy.first_stream_id() > LAST_ID
        old.finish(early.stream_id)
        assert policy.first_stream_id() == 1

    def test_ids_rise_again_from_the_wrapped_connection(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        policy.next_stream_id = LAST_ID + 2
        wrapped, _ = request(policy, server)
        request(policy, server)
        wrapped.goaway()
        _, stream = request(policy, server)
        assert stream.stream_id == 5

    def test_after_an_h2c_upgrade_the_next_stream_is_3(
        self, policy: OriginPolicy[FakeConnection]
    ) -> None:
        unused_before = policy.is_unused
        assert policy.first_stream_id(upgraded=True) == 3
        policy.adopt(FakeConnection(3))
        policy.remember(1)
        assert unused_before and not policy.is_unused
        assert policy.resolve(None) == 1


class TestRetryRule:
    """One retry, for a reused connection found dead before the request went
    out; a connection opened for the request answers with its own error."""

    def test_a_reused_connection_found_dead_is_retried_once_on_a_new_one(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        old, _ = request(policy, server)
        old.refuses = ConnectionLostError("the server closed the connection")
        conn, stream = request(policy, server)
        assert server.opened == [old, conn]
        assert stream.stream_id == 3

    @pytest.mark.parametrize(
        "failure",
        [
            FrameSizeError("SETTINGS length is not a multiple of 6"),
            ConnectionTerminatedError("GOAWAY"),
        ],
        ids=["malformed-settings", "goaway"],
    )
    def test_a_connection_that_never_carried_a_request_answers_for_itself(
        self, policy: OriginPolicy[FakeConnection], server: Server, failure: BaseException
    ) -> None:
        server.failing = [failure]
        with pytest.raises(type(failure)) as info:
            request(policy, server)
        assert str(info.value) == str(failure)
        assert info.value.__cause__ is failure  # a copy: each caller gets its own
        assert len(server.opened) == 1

    def test_a_failed_retry_raises_its_error_caused_by_the_first(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        old, _ = request(policy, server)
        first = ConnectionLostError("the server closed the connection")
        old.refuses = first
        server.failing = [FrameSizeError("SETTINGS length is not a multiple of 6")]
        with pytest.raises(FrameSizeError) as info:
            request(policy, server)
        cause = info.value.__cause__
        assert isinstance(cause, ConnectionLostError)
        assert cause.__cause__ is first
        assert len(server.opened) == 2

    def test_a_second_reused_connection_found_dead_is_not_retried(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        """Another caller's new connection, reused by this one, died too: the
        request already had its one retry."""
        first, _ = request(policy, server)
        first.goaway()
        earlier = policy.try_again(first, None)
        assert isinstance(earlier, ConnectionTerminatedError)
        second, _ = request(policy, server)
        second.error = ConnectionLostError("reset")
        with pytest.raises(ConnectionLostError) as info:
            policy.try_again(second, earlier)
        assert info.value.__cause__ is earlier

    def test_running_out_of_stream_ids_is_no_failure(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        used, _ = request(policy, server)
        used.next_stream_id = LAST_ID + 2
        assert policy.try_again(used, None) is None

    def test_a_new_connection_without_stream_ids_is_an_error(
        self, policy: OriginPolicy[FakeConnection]
    ) -> None:
        """Ids past 2**31-1 while an older stream still drains (see TestStreamIds)."""
        with pytest.raises(HyperConnectionError, match="no stream id left"):
            policy.try_again(FakeConnection(LAST_ID + 2), None)


class TestPendingRequests:
    def test_putheader_without_an_id_means_the_last_putrequest(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        conn, _ = connection_for(policy, server)
        policy.put_request(conn.reserve_id(), "GET", "/")
        policy.pending_request(None).add_header("accept", "*/*")
        stream_id, pending = policy.take_request(None)
        assert stream_id == 1
        assert (pending.method, pending.url, pending.headers) == ("GET", "/", [("accept", "*/*")])

    def test_a_request_taken_is_no_longer_pending(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        conn, _ = connection_for(policy, server)
        policy.put_request(conn.reserve_id(), "GET", "/")
        policy.take_request(1)
        with pytest.raises(StreamStateError, match=r"stream 1 has no request waiting"):
            policy.take_request(1)

    def test_ids_set_aside_before_any_connection(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        """putrequest does no I/O: without a connection its ids are set aside
        here, and the connection opened later starts above them; the first
        request goes out under its reserved id."""
        assert (policy.reserve_id(), policy.reserve_id()) == (1, 3)
        conn, opened = connection_for(policy, server)
        assert opened and conn.next_stream_id == 5
        _, stream = request(policy, server, reserved=1)
        assert stream.stream_id == 1
        _, other = request(policy, server)
        assert other.stream_id == 5

    def test_ids_set_aside_past_a_connection_that_takes_no_more(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        conn, _ = connection_for(policy, server)
        request(policy, server)  # stream 1
        conn.goaway_received = True
        assert policy.reserve_id() == 3
        new, opened = connection_for(policy, server)
        assert opened and new is not conn and new.next_stream_id == 5

    def test_a_reserved_id_overtaken_is_found_under_its_alias(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        """putrequest 1 and 3, endheaders 3 then 1: ids must rise, so 1 goes out as 5."""
        conn, _ = connection_for(policy, server)
        policy.put_request(conn.reserve_id(), "GET", "/a")
        policy.put_request(conn.reserve_id(), "GET", "/b")
        for reserved in (3, 1):
            stream_id, _ = policy.take_request(reserved)
            _, stream = request(policy, server, reserved=stream_id)
            policy.opened_as(stream_id, stream.stream_id)
        found = policy.find(1)
        assert found == (conn, conn.streams[5])
        assert policy.find(3)[1].stream_id == 3

    def test_a_claimed_response_forgets_its_alias(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        conn, _ = connection_for(policy, server)
        policy.put_request(conn.reserve_id(), "GET", "/")
        conn.reserve_id()
        conn.open_stream(3)
        stream = conn.open_stream(1)
        assert stream is not None
        policy.opened_as(1, stream.stream_id)
        policy.claimed(1)
        with pytest.raises(StreamStateError, match=r"no stream 1 on this connection"):
            policy.find(1)


class TestResolve:
    def test_no_request_yet_is_an_error(self, policy: OriginPolicy[FakeConnection]) -> None:
        with pytest.raises(StreamStateError, match="no request has been made on this connection"):
            policy.resolve(None)

    def test_the_callers_last_request_then_anyones(self) -> None:
        """The front end keeps each caller's last id (a thread's, say) where it likes."""

        class Caller:
            stream_id: int | None = None

        caller = Caller()
        policy: OriginPolicy[FakeConnection] = OriginPolicy("example.com:443", caller)
        policy.remember(5)
        assert caller.stream_id == 5
        caller.stream_id = 3  # this caller's own last request
        assert policy.resolve(None) == 3
        caller.stream_id = None  # a caller that made none: the last made by anyone
        assert policy.resolve(None) == 5
        assert policy.resolve(7) == 7


class TestFind:
    def test_streams_are_found_on_the_current_and_the_draining_connections(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        first, one = request(policy, server)
        first.goaway()
        second, three = request(policy, server)
        second.goaway()
        third, five = request(policy, server)
        assert policy.find(1) == (first, one)
        assert policy.find(3) == (second, three)
        assert policy.find(5) == (third, five)
        assert policy.find(None) == (third, five)

    def test_an_unknown_stream_has_the_historic_message(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        request(policy, server)
        with pytest.raises(StreamStateError) as info:
            policy.find(9)
        assert str(info.value) == (
            "no stream 9 on this connection: never requested, or its response was "
            "already read or closed"
        )


class TestClose:
    def test_close_returns_every_connection_and_keeps_the_id_counter(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        first, _ = request(policy, server)
        first.goaway()
        second, _ = request(policy, server)
        request(policy, server)
        assert policy.close() == [second, first]
        assert policy.current is None
        assert policy.draining == []
        assert not policy.is_unused
        _, stream = request(policy, server)
        assert stream.stream_id == 7

    def test_close_forgets_pending_requests_and_aliases(
        self, policy: OriginPolicy[FakeConnection], server: Server
    ) -> None:
        conn, _ = connection_for(policy, server)
        policy.put_request(conn.reserve_id(), "GET", "/")
        policy.opened_as(3, 5)
        policy.close()
        with pytest.raises(StreamStateError, match="stream 1 has no request waiting"):
            policy.pending_request(1)
        with pytest.raises(StreamStateError, match="no stream 3 on this connection"):
            policy.find(3)

    def test_close_with_no_connection_returns_none(
        self, policy: OriginPolicy[FakeConnection]
    ) -> None:
        assert policy.close() == []
        assert policy.is_unused
