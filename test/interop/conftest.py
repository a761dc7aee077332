"""Fixtures of the interop tests: every connection class against servers that speak both
HTTP versions.

``every_connection_class`` runs a test once with each of hyper's three connection
classes (:data:`support.clients.CONNECTION_CLASSES`); a module that wants it for all
its tests binds ``connection_class`` to it. A test that needs HTTP/2 narrows it with
:data:`support.clients.h2_only`.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.clients import CONNECTION_CLASSES


@pytest.fixture(params=list(CONNECTION_CLASSES))
def every_connection_class(request: pytest.FixtureRequest) -> Any:
    # Imported per test, as in the root conftest's connection_class.
    import hyper

    return getattr(hyper, request.param)


@pytest.fixture
def expected_version(every_connection_class: Any) -> Any:
    """The HTTPVersion ``every_connection_class`` speaks to nginx and h2o."""
    from hyper.common.util import HTTPVersion

    name = CONNECTION_CLASSES[every_connection_class.__name__]
    return HTTPVersion.http20 if name == "HTTP/2" else HTTPVersion.http11
