"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a temp dir.

Debian's ``postgresql`` package puts its binaries in ``/usr/lib/postgresql/<major>/bin``.
``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user; the
data directory is a ``mkdtemp`` chowned to it (pytest's ``tmp_path`` lives under a 0700 directory
that user cannot enter). The server listens on 127.0.0.1 on a free port, trusts local
connections, and is stopped (``pg_ctl stop -m immediate``) by ``stop()``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def pg_bindir() -> Path | None:
    """The newest installed PostgreSQL bin directory holding ``initdb``, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running (or stopped) test cluster."""

    bindir: Path
    base: Path
    port: int
    user: str
    as_postgres: bool
    durable: bool = False
    """fsync on (a production setting); tests run with fsync off, which is faster."""

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.base / "data"

    def url(self, db: str = "aitrace", password: str | None = None) -> str:
        """A ``postgresql://`` URL for database ``db`` (optionally with a planted password)."""
        cred = f"{self.user}:{password}" if password else self.user
        return f"postgresql://{cred}@127.0.0.1:{self.port}/{db}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        extra: dict[str, Any] = {}
        if self.as_postgres:
            extra = {"user": "postgres", "group": "postgres", "extra_groups": []}
        return subprocess.run(list(args), check=check, capture_output=True, cwd=self.base,
                              **extra, timeout=60)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        fsync = "on" if self.durable else "off"
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync={fsync} " \
               "-c max_connections=60"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.base / "log"), "-w", "-t", "30", "-o", opts, "start")

    def stop(self) -> None:
        """Stop the server at once (clients see their connection break)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                  "stop", check=False)

    def createdb(self, name: str) -> None:
        """Create database ``name`` (owned by the test user)."""
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", self.user, name)

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def start_server(durable: bool = False) -> PgServer:
    """initdb + start a cluster in a fresh temp dir; the caller stops it (``cleanup``)."""
    bindir = pg_bindir()
    if bindir is None:
        raise FileNotFoundError("no /usr/lib/postgresql/*/bin/initdb")
    base = Path(tempfile.mkdtemp(prefix="aitrace-pg-"))
    as_postgres = os.geteuid() == 0
    user = "postgres" if as_postgres else pwd.getpwuid(os.geteuid()).pw_name
    if as_postgres:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    server = PgServer(bindir, base, _free_port(), user, as_postgres, durable)
    server._run(str(bindir / "initdb"), "--no-sync", "-A", "trust", "-U", user, "-E", "UTF8",
                "-D", str(server.data))
    server.start()
    deadline = time.monotonic() + 30
    while True:
        done = server._run(str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p",
                           str(server.port), check=False)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
    server.createdb("aitrace")
    return server
