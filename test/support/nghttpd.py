"""nghttpd, the nghttp2 project's server: TLS, push, trailers and an upload echo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from support.docroot import Docroot
from support.pki import PKI
from support.processes import (
    HOST,
    Server,
    binary,
    launch,
)

#: The trailer nghttpd adds to every response with a body (``--trailer``).
TRAILER_NAME = "x-hyper-trailer"
TRAILER_VALUE = "end-of-body"


def start_nghttpd(
    pki: PKI,
    docroot: Docroot,
    workdir: Path,
    *,
    push: Sequence[str] = ("/=/style.css",),
    trailers: Sequence[str] = (f"{TRAILER_NAME}: {TRAILER_VALUE}",),
    echo_upload: bool = True,
    extra_args: Sequence[str] = (),
) -> Server:
    """nghttpd over TLS (ALPN h2) serving ``docroot``.

    Defaults: ``-p/=/style.css`` (GET / pushes /style.css), ``--trailer`` adds
    :data:`TRAILER_NAME` to every response with a body, and ``--echo-upload`` answers
    POST and PUT with the request body.
    """
    exe = binary("nghttpd")

    def build(ports: dict[str, int]) -> list[str]:
        argv = [exe, "-a", HOST, "-d", str(docroot.path)]
        argv += [f"--push={spec}" for spec in push]
        argv += [f"--trailer={t}" for t in trailers]
        if echo_upload:
            argv.append("--echo-upload")
        argv += list(extra_args)
        argv += [str(ports["tls"]), str(pki.key_path), str(pki.cert_path)]
        return argv

    return launch("nghttpd", build, ["tls"], pki, docroot, workdir)
