"""
A pytest plugin that runs httpx's own test suite with hyper's transports
mounted: every ``httpx.Client`` and ``httpx.AsyncClient`` made without a
``transport=`` (and every ``httpx.HTTPTransport(...)`` a test makes itself)
gets :class:`hyper.contrib.httpx.HTTPTransport` or
:class:`~hyper.contrib.httpx.AsyncHTTPTransport`, with the arguments httpx
passes.

Usage, from the unpacked sdist of the installed httpx (``.ci/run`` does it)::

    PYTHONPATH=/path/to/hyper/test python -m pytest -p external.httpx_plugin \\
        -m "not network" tests/client tests/test_timeouts.py ...

The tests are httpx's, unmodified. Those that still fail are listed in
:data:`KNOWN_FAILURES` with the reason, marked ``xfail(strict=True)``: a
listed test that starts passing fails the run, so the list stays true.
``docs/contrib.rst`` mirrors it (``test/contrib/test_httpx_suite_list.py``
checks that).
"""

from __future__ import annotations

import httpx
import pytest

from hyper.contrib.httpx import AsyncHTTPTransport, HTTPTransport

#: The test files of httpx's suite that go over the network to its test
#: server (or make transports), run by ``.ci/run``.
SELECTION = (
    "tests/client",
    "tests/test_api.py",
    "tests/test_timeouts.py",
    "tests/test_exceptions.py",
    "tests/test_config.py",
    "tests/test_utils.py",
    "tests/test_main.py",
)

_HTTPCORE = "checks httpcore's objects inside httpx's own transport"
_TRIO = "hyper's async transport runs on asyncio; under trio it raises RuntimeError saying so"
_NO_SOCKET_EVENTS = (
    "httpx's command line prints the socket's address from the connection.connect_tcp "
    "trace event, which hyper's blocking transport does not send (its connections do "
    "not show their socket)"
)
_UVICORN_LOG = (
    "fails with httpx's own transport too: the test server's access log is "
    "captured beside httpx's log line"
)

# Each group: the tests (node ids relative to the sdist) and why they fail.

# With a proxy, the test reads httpcore's proxy object off the transport.
_PROXY_INTERNALS = (
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies3-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies5-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://www.example.com-proxies8-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies9-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://www.example.com-proxies10-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com:443-proxies12-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies13-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies14-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies15-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies16-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies17-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com:8080-proxies18-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com:8080-proxies19-http://[::1]]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies20-http://[::1]:4]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies21-http://[::1]:3]",
    "tests/client/test_proxies.py::test_transport_for_request[http://example.com-proxies22-http://[::1]:2]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-http://google.com-env1-http://example.com]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-http://google.com-env2-http://example.com]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-http://127.0.0.1-env4-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-http://127.0.0.1-env6-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-http://127.0.0.1-env7-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-https://mit.edu.info-env9-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-https://mit.edu.info-env12-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-https://foo.example.com-env13-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[Client-https://www.example2.com-env15-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-http://google.com-env1-http://example.com]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-http://google.com-env2-http://example.com]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-http://127.0.0.1-env4-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-http://127.0.0.1-env6-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-http://127.0.0.1-env7-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-https://mit.edu.info-env9-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-https://mit.edu.info-env12-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-https://foo.example.com-env13-http://localhost:123]",
    "tests/client/test_proxies.py::test_proxies_environ[AsyncClient-https://www.example2.com-env15-http://localhost:123]",
)

# Under trio, every async test that reaches the transport.
_UNDER_TRIO = (
    "tests/client/test_async_client.py::test_get[trio]",
    "tests/client/test_async_client.py::test_build_request[trio]",
    "tests/client/test_async_client.py::test_post[trio]",
    "tests/client/test_async_client.py::test_post_json[trio]",
    "tests/client/test_async_client.py::test_stream_response[trio]",
    "tests/client/test_async_client.py::test_access_content_stream_response[trio]",
    "tests/client/test_async_client.py::test_stream_request[trio]",
    "tests/client/test_async_client.py::test_raise_for_status[trio]",
    "tests/client/test_async_client.py::test_options[trio]",
    "tests/client/test_async_client.py::test_head[trio]",
    "tests/client/test_async_client.py::test_put[trio]",
    "tests/client/test_async_client.py::test_patch[trio]",
    "tests/client/test_async_client.py::test_delete[trio]",
    "tests/client/test_async_client.py::test_100_continue[trio]",
    "tests/client/test_async_client.py::test_server_extensions[trio]",
    "tests/test_timeouts.py::test_read_timeout[trio]",
    "tests/test_timeouts.py::test_write_timeout[trio]",
    "tests/test_timeouts.py::test_pool_timeout[trio]",
    "tests/test_timeouts.py::test_async_client_new_request_send_timeout[trio]",
)

#: Test node id (relative to the sdist) -> why it fails with hyper mounted.
KNOWN_FAILURES: dict[str, str] = {
    **dict.fromkeys(_PROXY_INTERNALS, _HTTPCORE),
    **dict.fromkeys(_UNDER_TRIO, _TRIO),
    "tests/client/test_proxies.py::test_socks_proxy": (
        "a socks5:// proxy: hyper's transports reach proxies over http:// only "
        "(ValueError at construction)"
    ),
    "tests/test_api.py::test_httpcore_lazy_loading": (
        "unloads httpcore, which an earlier test must have imported: hyper's "
        "transports never import it"
    ),
    "tests/test_utils.py::test_logging_request": _UVICORN_LOG,
    "tests/test_utils.py::test_logging_redirect_chain": _UVICORN_LOG,
    "tests/test_main.py::test_verbose": _NO_SOCKET_EVENTS,
    "tests/test_main.py::test_auth": _NO_SOCKET_EVENTS,
}


def _mount() -> None:
    """Make hyper's transports the ones httpx builds by default."""
    import httpx._client
    import httpx._transports
    import httpx._transports.default

    for module in (httpx, httpx._client, httpx._transports, httpx._transports.default):
        module.HTTPTransport = HTTPTransport  # type: ignore[attr-defined]
        module.AsyncHTTPTransport = AsyncHTTPTransport  # type: ignore[attr-defined]


def pytest_configure(config: pytest.Config) -> None:
    _mount()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = KNOWN_FAILURES.get(item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"httpx {httpx.__version__} with hyper's transports mounted; "
        f"{len(KNOWN_FAILURES)} tests known to fail (docs/contrib.rst says why)"
    )
