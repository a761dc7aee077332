"""The timeouts every test shares, by what they bound.

Nothing here is a synchronisation delay: a test orders its steps with events
and the peer's script, and these only bound how long any one wait may take,
so that a hang fails the test instead of stalling the suite.
"""

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
