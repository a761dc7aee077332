"""Real HTTP/2 servers (nghttpd, nginx, h2o) for the interop tests and the benchmark.

The entry point to the modules that each do one job, so that a test needs one import
(``from support import servers``):

- :mod:`support.processes`: launching a server process, readiness, stopping it
  (:class:`Server`, :func:`free_ports`);
- :mod:`support.pki`: the session's trustme CA and server certificate;
- :mod:`support.docroot`: the files every server serves;
- :mod:`support.nghttpd`, :mod:`support.nginx`, :mod:`support.h2o`: each server's
  configuration and ``start_*`` function;
- :mod:`support.workloads`: what tests do against a server (connect, GET, curl,
  concurrent GETs, memory-bounded downloads); :mod:`support.memory`: peak RSS.

:func:`serve` is the body of the module-scoped fixtures in ``test/conftest.py``.
This module imports nothing from hyper at import time: the benchmark and the fixture
sanity tests (curl) must work even while the client is incomplete.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

from support.docroot import (
    LAZY_FILES,
    SMALL_BODY,
    STYLE_CSS,
    Docroot,
    GiB,
    KiB,
    MiB,
    session_docroot,
)
from support.h2o import start_h2o
from support.memory import PeakRSS
from support.nghttpd import TRAILER_NAME, TRAILER_VALUE, start_nghttpd
from support.nginx import (
    NGINX_KEEPALIVE_REQUESTS,
    nginx_access_log,
    nginx_version,
    start_nginx,
    wait_for_nginx_access_log,
)
from support.pki import PKI, session_pki
from support.processes import (
    HOST,
    Server,
    ServerStartError,
    binary,
    free_ports,
    standalone_workdir,
    stop_process,
    work_dir,
)
from support.workloads import (
    assert_download_memory_flat,
    connect,
    curl_get,
    file_chunks,
    get,
    run_concurrent_gets,
    sha256_of_stream,
)

__all__ = [
    "HOST",
    "LAZY_FILES",
    "NGINX_KEEPALIVE_REQUESTS",
    "PKI",
    "SMALL_BODY",
    "STYLE_CSS",
    "TRAILER_NAME",
    "TRAILER_VALUE",
    "Docroot",
    "GiB",
    "KiB",
    "MiB",
    "PeakRSS",
    "Server",
    "ServerStartError",
    "assert_download_memory_flat",
    "binary",
    "connect",
    "curl_get",
    "file_chunks",
    "free_ports",
    "get",
    "nginx_access_log",
    "nginx_version",
    "run_concurrent_gets",
    "serve",
    "session_docroot",
    "session_pki",
    "sha256_of_stream",
    "standalone_workdir",
    "start_h2o",
    "start_nghttpd",
    "start_nginx",
    "stop_process",
    "wait_for_nginx_access_log",
    "work_dir",
]  # fmt: skip


def serve(
    require_binary: Callable[[str], str],
    tmp_path_factory: Any,
    name: str,
    start: Callable[[PKI, Docroot, Path], Server],
) -> Iterator[Server]:
    """Run the session's ``name`` server (``start`` is ``start_nginx`` and the like) for
    as long as the generator is suspended: the body of a module-scoped fixture.

    Skips (or fails in CI) when ``name`` is not installed.
    """
    require_binary(name)
    pki = session_pki(tmp_path_factory)
    docroot = session_docroot(tmp_path_factory)
    with start(pki, docroot, work_dir(tmp_path_factory, name)) as server:
        yield server
