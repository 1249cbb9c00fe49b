"""Strict ZIP reading (untrusted input) and deterministic ZIP writing."""
