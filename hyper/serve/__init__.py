"""
hyper.serve: ``hyper serve``, a static file server over HTTP/2 (prior
knowledge, h2c upgrade, TLS with ALPN) and HTTP/1.1, on :mod:`hyper.aio`.
"""

from hyper.serve._files import FileServer, Plan
from hyper.serve._server import Server, ServerThread, server_context

__all__ = ["FileServer", "Plan", "Server", "ServerThread", "server_context"]
