"""The single source of aitrace's version (read by packaging and by every emitted document)."""

__version__ = "0.2.0"
