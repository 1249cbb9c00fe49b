"""Governance evidence: the source guide's risk register and self-check table, as typed documents."""
