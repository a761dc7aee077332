"""TLS material for the real servers: one trustme CA per test session.

The server certificate is issued for ``127.0.0.1`` and ``localhost``, so hostname
verification stays on; :func:`session_pki` hands every server the same CA.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import trustme


class PKI:
    """A trustme CA and one server certificate for 127.0.0.1/localhost, written as PEMs."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = directory / "ca.pem"
        self.cert_path = directory / "server-chain.pem"
        self.key_path = directory / "server-key.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self.server_cert.private_key_pem.write_to_path(str(self.key_path))
        # Leaf first, then the CA: every server here wants the full chain in one file.
        with open(self.cert_path, "wb") as f:
            for pem in self.server_cert.cert_chain_pems:
                f.write(pem.bytes())


_lock = threading.Lock()
_session_pki: PKI | None = None


def session_pki(tmp_path_factory: Any) -> PKI:
    """The CA shared by every server in this pytest session (created on first use)."""
    global _session_pki
    with _lock:
        if _session_pki is None:
            _session_pki = PKI(tmp_path_factory.mktemp("pki"))
        return _session_pki
