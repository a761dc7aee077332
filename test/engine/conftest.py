"""Fixtures of the engine tests.

One FrameFactory per test, shared by the engine under test: the factory's
HPACK encoder and the engine's decoder must stay in step. ``client`` and
``server`` are engines after the preface exchange (support.frames.make_client,
support.frames.make_server); a module may override them. hyper is imported
inside the fixtures, so a broken client fails these tests, not the collection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from support.frames import FrameFactory

    from hyper.http20.engine import Engine


@pytest.fixture
def factory() -> FrameFactory:
    from support.frames import FrameFactory

    return FrameFactory()


@pytest.fixture
def client(factory: FrameFactory) -> Engine:
    from support.frames import make_client

    return make_client(factory)


@pytest.fixture
def server(factory: FrameFactory) -> Engine:
    from support.frames import make_server

    return make_server(factory)
