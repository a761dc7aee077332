"""The version of hyper, in one place (read statically by the build)."""

__version__ = "1.0.0.dev0"
