"""hyper: HTTP/2 for Python, behind the ``http.client`` API."""

__version__ = "1.0.0.dev0"

__all__ = ["__version__"]
