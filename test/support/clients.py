"""hyper's three connection classes, for tests that run once with each of them."""

from __future__ import annotations

import pytest

#: Each connection class, and the HTTP version it speaks to nginx and h2o (both offer h2
#: and http/1.1 by ALPN, and h2o's cleartext port takes an h2c upgrade).
CONNECTION_CLASSES = {
    "HTTP20Connection": "HTTP/2",
    "HTTPConnection": "HTTP/2",
    "HTTP11Connection": "HTTP/1.1",
}

#: Narrow a test to the classes that speak HTTP/2 here (streams, GOAWAY, threads).
h2_only = pytest.mark.parametrize(
    "every_connection_class", ["HTTP20Connection", "HTTPConnection"], indirect=True
)
