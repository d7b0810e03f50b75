"""The package version, in one place (the instrumentation scope reports it)."""

__version__ = "0.1.0"
