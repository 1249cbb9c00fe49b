"""Key files shared by the signing tests (the fixtures live in tests/signing/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aitrace.signing.keys import KeyType

PASSPHRASE = b"correct horse battery staple"


@dataclass(frozen=True)
class KeyFiles:
    key_type: KeyType
    private: Path
    public: Path
    passphrase: bytes | None = None
