"""Fixtures of the core tests.

``pair`` is a client core and a server core back to back, past the SETTINGS
exchange (support.cores.CorePair). ``factory`` plays a scripted peer against
one core (support.cores.client_against, server_against): one factory per
test, so its HPACK encoder stays in step with the core's decoder. ``clock``
is the fake clock a server core under test runs on.
"""

from __future__ import annotations

import pytest
from support.cores import CorePair
from support.frames import FrameFactory
from support.timeouts import FakeClock


@pytest.fixture
def factory() -> FrameFactory:
    return FrameFactory()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pair() -> CorePair:
    return CorePair()
