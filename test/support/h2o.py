"""h2o: HTTP/2 over TLS, and a cleartext port with HTTP/1.1, h2c prior knowledge and
``Upgrade: h2c``; an mruby upload sink.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from support.docroot import Docroot
from support.pki import PKI
from support.processes import (
    HOST,
    Server,
    binary,
    launch,
)

# Reads the request body in 1 MiB pieces and answers with its length: an upload sink that
# keeps up with any client here (h2load pushes 64 MiB through it in about 150 ms).
_H2O_UPLOAD_SINK = """\
        mruby.handler: |
          Proc.new do |env|
            n = 0
            input = env["rack.input"]
            if input
              while chunk = input.read(1048576)
                n += chunk.bytesize
              end
            end
            [200, {"content-type" => "text/plain"}, [n.to_s + "\\n"]]
          end
"""

_H2O_CONF = """\
pid-file: {workdir}/h2o.pid
error-log: {workdir}/error.log
{user}num-threads: {threads}
limit-request-body: 4294967296
listen:
  host: {host}
  port: {tls_port}
  ssl:
    certificate-file: {cert}
    key-file: {key}
    # No OCSP fetcher: the trustme certificate has no responder to ask.
    ocsp-update-interval: 0
listen:
  host: {host}
  port: {plain_port}
hosts:
  default:
    access-log: /dev/null
    paths:
      /upload:
{upload_sink}
      /:
        file.dir: {docroot}
        file.send-compressed: ON
        compress: ON
"""


def start_h2o(pki: PKI, docroot: Docroot, workdir: Path, *, threads: int = 1) -> Server:
    """h2o with a TLS listener (``port``, HTTP/2 via ALPN) and a cleartext one.

    ``ports["plain"]`` speaks HTTP/1.1, h2c with prior knowledge and ``Upgrade: h2c``.
    Both serve ``docroot`` with ``compress: ON`` (gzip and br on the fly) and
    ``file.send-compressed`` (``text.txt.gz``); ``/upload`` (mruby) accepts POST or PUT
    bodies of any size and answers with their length in bytes.
    """
    exe = binary("h2o")
    user = ""
    if os.geteuid() == 0:
        # Started as root, h2o switches to "nobody", which cannot read pytest's 0700
        # temporary directories. Staying the current user is what a non-root run does.
        user = f"user: {pwd.getpwuid(os.geteuid()).pw_name}\n"

    def build(ports: dict[str, int]) -> list[str]:
        conf = _H2O_CONF.format(
            workdir=workdir,
            user=user,
            threads=threads,
            host=HOST,
            tls_port=ports["tls"],
            plain_port=ports["plain"],
            cert=pki.cert_path,
            key=pki.key_path,
            docroot=docroot.path,
            upload_sink=_H2O_UPLOAD_SINK,
        )
        conf_path = workdir / "h2o.conf"
        conf_path.write_text(conf)
        return [exe, "-c", str(conf_path)]

    return launch("h2o", build, ["tls", "plain"], pki, docroot, workdir, plain_roles=["plain"])
