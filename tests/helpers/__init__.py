"""Code shared by several test directories: data, builders and fixtures (see tests/conftest.py)."""
