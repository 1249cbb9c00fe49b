"""Opening a shared record store from a workspace: the URL, the workspace's identity, the spool.

A workspace whose ``aitrace.yaml`` has ``store: postgresql://USER@HOST:PORT/DB`` (or where
``AITRACE_STORE`` names one) keeps its steps in that database, in the record named
``record.name``; ``.aitrace/`` keeps what is local: the copy of the record's identity
(``record.json``), this directory's workspace id, start markers, the digest cache, evidence
objects as they are made, and the spool. The password is never part of the URL that is kept:
libpq reads it from ``PGPASSWORD``, ``~/.pgpass`` or a service file.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from aitrace.errors import InputError, WorkspaceError
from aitrace.record.models import Record
from aitrace.store.files import create_exclusive
from aitrace.store.interface import redact_url, strip_password
from aitrace.store.spool import Spool, SpoolingStore

ENV_STORE = "AITRACE_STORE"
_SCHEMES = ("postgresql://", "postgres://")
WORKSPACE_ID_FILE = "workspace-id"


def check_url(url: str) -> str:
    """``url`` if it names a store aitrace can use; ``InputError`` (password hidden) if not."""
    if not url.startswith(_SCHEMES):
        raise InputError(f"unsupported record store {redact_url(url)!r}",
                         hint="give postgresql://USER@HOST:PORT/DATABASE, or leave `store:` "
                              "empty for the embedded file store")
    return url


def kept_url(url: str) -> str:
    """What ``aitrace.yaml`` records: the URL without any password."""
    return strip_password(check_url(url))


def workspace_id(directory: Path) -> str:
    """This directory's id in shared records (made once, at the first use)."""
    path = directory / WORKSPACE_ID_FILE
    if not path.exists():
        create_exclusive(path, secrets.token_hex(16).encode() + b"\n")
    return path.read_text().strip()


def open_shared(url: str, name: str, directory: Path) -> SpoolingStore:
    """The store at ``url`` holding record ``name``, with ``directory``'s spool in front."""
    from aitrace.store.postgres.store import PostgresStore

    check_url(url)
    objects = directory / "objects" / "sha256"

    def local_object(sha: str) -> bytes | None:
        try:
            return (objects / sha[:2] / sha[2:]).read_bytes()
        except OSError:
            return None

    wid = workspace_id(directory)
    remote = PostgresStore(url, name, local_object=local_object, workspace=wid)
    return SpoolingStore(remote, Spool(directory / "spool"), location=remote.location,
                         workspace=wid, host=socket.gethostname())


def join(url: str, name: str, directory: Path, fresh: Record) -> tuple[Record, bool]:
    """Create record ``name`` in the store (from ``fresh``) or join it; (record, created)."""
    from aitrace.store.postgres.store import PostgresStore

    directory.mkdir(parents=True, exist_ok=True)
    store = PostgresStore(check_url(url), name, workspace=workspace_id(directory))
    try:
        return store.create_or_join(fresh)
    finally:
        store.close()


def configured_url(config_store: object) -> str | None:
    """The store a workspace uses: ``AITRACE_STORE`` over ``store:`` in ``aitrace.yaml``."""
    env = os.environ.get(ENV_STORE)
    if env:
        return check_url(env)
    if config_store in (None, ""):
        return None
    if not isinstance(config_store, str):
        raise WorkspaceError("aitrace.yaml: 'store' must be a postgresql:// URL",
                             hint="write store: postgresql://USER@HOST:PORT/DATABASE")
    return check_url(config_store)
