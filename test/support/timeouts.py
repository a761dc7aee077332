"""The timeouts every test shares, by what they bound, and the fake clock of
the sans-IO tests.

Nothing here is a synchronisation delay: a test orders its steps with events
and the peer's script, and these only bound how long any one wait may take,
so that a hang fails the test instead of stalling the suite. Sans-IO code
(the engine, the cores) takes its clock as a parameter; its tests pass a
:class:`FakeClock` and move it by hand, so no timer test waits at all.
"""

from __future__ import annotations

import threading

#: Any one wait in a test's own machinery: a scripted peer's socket operation,
#: a thread join, an event. A loopback step takes milliseconds, so reaching it
#: is a bug; it stays well inside pytest's 60 s per test.
TIMEOUT = 10.0

#: The client's read timeout in tests whose subject is not a timeout.
CLIENT_TIMEOUT = TIMEOUT

#: The client's read timeout in tests whose subject *is* a timeout (the wait
#: is the behaviour under test). Nothing else in such a test may depend on it
#: firing at a given moment: the peer waits for an event, not for the clock.
SHORT_TIMEOUT = 0.2


def wait(event: threading.Event, what: str) -> None:
    """Wait until the other side of a test sets ``event``; fail after :data:`TIMEOUT`.

    This is how a test and a peer script hand over to each other: the order of
    their steps comes from events, and the timeout only turns a hang into a failure.
    """
    if not event.wait(TIMEOUT):
        raise AssertionError(f"{what} did not happen within {TIMEOUT} s")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
