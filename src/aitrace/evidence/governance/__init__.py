"""Governance evidence: the source guide's risk register and self-check table, typed."""
