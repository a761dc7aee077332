"""The httpx transports' pool policy (hyper/contrib/httpx/_pool.py), without I/O:
which connection a request gets, what waits, what is closed, on a clock the test moves."""

from __future__ import annotations

import pytest

from hyper.contrib.httpx._pool import HTTP1, HTTP2, Changes, PoolPolicy, Ticket

A = ("https", "a.example", 443)
B = ("https", "b.example", 443)


class FakeConn:
    def __init__(self, origin: object) -> None:
        self.origin = origin

    def __repr__(self) -> str:
        return f"<FakeConn {self.origin}>"


def policy(
    max_connections: int | None = None,
    max_keepalive: int | None = None,
    keepalive_expiry: float | None = None,
) -> PoolPolicy[FakeConn]:
    return PoolPolicy(FakeConn, max_connections, max_keepalive, keepalive_expiry)


def take(pool: PoolPolicy[FakeConn], origin: object, shares: bool = True, now: float = 0.0):
    ticket = Ticket(origin, shares)
    changes = pool.acquire(ticket, now)
    return ticket, changes


def connected_h2(pool, ticket, limit=None, now=0.0) -> Changes:
    return pool.connected(ticket.entry, True, limit, now)


class TestAssigning:
    def test_first_request_opens_a_connection_for_its_owner_to_connect(self) -> None:
        pool = policy()
        ticket, changes = take(pool, A)
        assert ticket.entry is not None and ticket.fresh
        assert changes.woken == [] and changes.closing == []

    def test_requests_that_may_share_wait_for_a_connection_being_made(self) -> None:
        pool = policy()
        first, _ = take(pool, A)
        second, _ = take(pool, A)
        assert second.entry is None  # queued, not a second connection
        woken = connected_h2(pool, first).woken
        assert woken == [second]
        assert second.entry is first.entry and not second.fresh

    def test_requests_that_cannot_share_open_their_own(self) -> None:
        pool = policy()
        first, _ = take(pool, A, shares=False)
        second, _ = take(pool, A, shares=False)
        assert second.fresh and second.entry is not first.entry

    def test_http11_connection_turns_the_waiters_away_to_open_their_own(self) -> None:
        pool = policy()
        first, _ = take(pool, A)
        second, _ = take(pool, A)
        changes = pool.connected(first.entry, False, None, 0.0)
        assert changes.woken == [second]
        assert second.fresh and second.entry is not first.entry

    def test_one_http2_connection_per_origin_and_waiting_for_a_stream_slot(self) -> None:
        pool = policy()
        first, _ = take(pool, A)
        connected_h2(pool, first, limit=2)
        second, _ = take(pool, A)
        third, _ = take(pool, A)
        assert second.entry is first.entry and third.entry is None
        woken = pool.release(first.entry, 1.0).woken
        assert woken == [third] and third.entry is first.entry
        assert len(pool.entries) == 1

    def test_server_limit_read_again_changes_the_room(self) -> None:
        pool = policy()
        first, _ = take(pool, A)
        connected_h2(pool, first)  # the server's SETTINGS not in yet: 100
        pool.update_limit(first.entry, 1)
        second, _ = take(pool, A)
        assert second.entry is None

    def test_idle_http11_connection_is_reused(self) -> None:
        pool = policy()
        first, _ = take(pool, A, shares=False)
        pool.connected(first.entry, False, None, 0.0)
        pool.release(first.entry, 1.0)
        again, _ = take(pool, A, shares=False)
        assert again.entry is first.entry and not again.fresh

    def test_waiters_are_served_in_the_order_they_asked(self) -> None:
        pool = policy(max_connections=1)
        first, _ = take(pool, A, shares=False)
        pool.connected(first.entry, False, None, 0.0)
        queued = [take(pool, A, shares=False)[0] for _ in range(3)]
        for expected in queued:
            woken = pool.release(first.entry, 1.0).woken
            assert woken == [expected]


class TestLimits:
    def test_max_connections_makes_requests_wait(self) -> None:
        pool = policy(max_connections=1)
        first, _ = take(pool, A)
        connected_h2(pool, first)
        other, _ = take(pool, B)
        assert other.entry is None

    def test_an_idle_connection_to_another_origin_makes_room(self) -> None:
        pool = policy(max_connections=1)
        first, _ = take(pool, A)
        connected_h2(pool, first)
        pool.release(first.entry, 1.0)
        other, changes = take(pool, B, now=2.0)
        assert other.fresh
        assert [c.origin for c in changes.closing] == [A]

    def test_idle_connections_past_max_keepalive_are_closed_oldest_first(self) -> None:
        pool = policy(max_keepalive=1)
        tickets = [take(pool, origin, shares=False)[0] for origin in (A, B)]
        for ticket in tickets:
            pool.connected(ticket.entry, False, None, 0.0)
        assert pool.release(tickets[0].entry, 1.0).closing == []
        closing = pool.release(tickets[1].entry, 2.0).closing
        assert [c.origin for c in closing] == [A]

    def test_no_keepalive_closes_every_connection_once_idle(self) -> None:
        pool = policy(max_keepalive=0)
        ticket, _ = take(pool, A)
        connected_h2(pool, ticket)
        assert [c.origin for c in pool.release(ticket.entry, 1.0).closing] == [A]

    def test_a_connection_idle_past_keepalive_expiry_is_closed(self) -> None:
        pool = policy(keepalive_expiry=5.0)
        ticket, _ = take(pool, A)
        connected_h2(pool, ticket)
        pool.release(ticket.entry, 10.0)
        kept, changes = take(pool, A, now=14.9)
        assert not kept.fresh and changes.closing == []
        pool.release(kept.entry, 15.0)
        fresh, changes = take(pool, A, now=20.0)
        assert fresh.fresh and [c.origin for c in changes.closing] == [A]


class TestFailuresAndCancels:
    def test_a_failed_connect_lets_the_waiters_open_their_own(self) -> None:
        pool = policy()
        first, _ = take(pool, A)
        second, _ = take(pool, A)
        changes = pool.connect_failed(first.entry)
        assert changes.woken == [second] and second.fresh
        assert pool.entries == [second.entry]

    def test_cancel_takes_a_ticket_out_of_the_queue(self) -> None:
        pool = policy(max_connections=1)
        first, _ = take(pool, A, shares=False)
        pool.connected(first.entry, False, None, 0.0)
        waiting, _ = take(pool, A, shares=False)
        pool.cancel(waiting, 1.0)
        assert pool.waiting == 0
        assert pool.release(first.entry, 2.0).woken == []

    def test_cancel_after_being_assigned_gives_the_slot_back(self) -> None:
        pool = policy()
        first, _ = take(pool, A)
        connected_h2(pool, first, limit=1)
        waiting, _ = take(pool, A)
        pool.release(first.entry, 1.0)  # assigns the waiter...
        assert waiting.entry is not None
        pool.cancel(waiting, 1.0)  # ...which gave up at that moment
        assert first.entry.active == 0

    def test_an_unusable_http11_connection_is_closed_on_release(self) -> None:
        pool = policy()
        ticket, _ = take(pool, A, shares=False)
        pool.connected(ticket.entry, False, None, 0.0)
        closing = pool.release(ticket.entry, 1.0, reusable=False).closing
        assert [c.origin for c in closing] == [A] and pool.entries == []


class TestShut:
    def test_idle_connections_close_now_and_busy_ones_when_done(self) -> None:
        pool = policy()
        idle, _ = take(pool, A)
        connected_h2(pool, idle)
        pool.release(idle.entry, 1.0)
        busy, _ = take(pool, B)
        connected_h2(pool, busy)
        changes = pool.shut()
        assert [c.origin for c in changes.closing] == [A]
        assert busy.entry.state == HTTP2  # still reading: not cut off
        assert [c.origin for c in pool.release(busy.entry, 2.0).closing] == [B]

    def test_requests_after_shut_get_new_connections(self) -> None:
        pool = policy()
        busy, _ = take(pool, A)
        connected_h2(pool, busy)
        pool.shut()
        later, _ = take(pool, A)
        assert later.fresh and later.entry is not busy.entry


@pytest.mark.parametrize("state", [HTTP1, HTTP2])
def test_entry_repr_names_its_state(state: int) -> None:
    pool = policy()
    ticket, _ = take(pool, A)
    pool.connected(ticket.entry, state == HTTP2, None, 0.0)
    assert ("HTTP/2" if state == HTTP2 else "HTTP/1.1") in repr(ticket.entry)
