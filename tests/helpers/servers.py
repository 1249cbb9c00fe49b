"""Real servers started by a test on 127.0.0.1 and stopped after it: no sleeps, bounded waits.

* ``start_process(argv, health_url, log)``: start a server in its own session, poll its health
  URL until it answers (waking early if the process exits), stop it with SIGTERM (SIGKILL to its
  own process group if it lingers);
* ``docker_registry(tmp, auth=None)``: Debian's ``docker-registry`` (CNCF distribution 2.8) with a
  filesystem root in ``tmp``; ``auth`` configures its "silly" token auth (a Bearer challenge
  naming a token service — see ``tests.helpers.oci_server.TokenService``);
* ``mlflow_server(tmp)``: ``mlflow server`` with a SQLite backend and a local artifact root.

The ``registry`` and ``mlflow_server_fixture`` fixtures are module-scoped wrappers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REGISTRY_BIN = "docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str, ok: Sequence[int]) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - 127.0.0.1 only
            return resp.status in ok
    except urllib.error.HTTPError as exc:
        return exc.code in ok
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def start_process(argv: Sequence[str], health_url: str, log: Path, *, timeout_s: float = 120,
                  ok: Sequence[int] = (200,), env: dict[str, str] | None = None
                  ) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
        try:
            deadline = time.monotonic() + timeout_s
            while not _healthy(health_url, ok):
                if proc.poll() is not None:
                    pytest.fail(f"{argv[0]} exited with {proc.returncode}:\n"
                                + log.read_text(errors="replace")[-2000:])
                if time.monotonic() > deadline:
                    pytest.fail(f"{argv[0]} not healthy within {timeout_s:.0f} s")
                # Poll, not sleep: wake as soon as the server exits or 0.1 s pass.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.1)
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what we started
                proc.wait()


def registry_binary() -> str:
    found = shutil.which(REGISTRY_BIN) or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("docker-registry is not installed but CI=true: the OCI tests need a real "
                    "registry (apt-get install -y docker-registry; .ci/run does it)")
    pytest.skip("docker-registry is not installed (apt-get install -y docker-registry)")


@dataclass
class Registry:
    """A running docker-registry: its ``host`` (127.0.0.1:port) and storage root."""

    host: str
    root: Path

    def blob_data(self, digest: str) -> Path:
        """The file the registry serves blob ``sha256:<hex>`` from (for tampering)."""
        hex_ = digest.split(":", 1)[1]
        return self.root / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"

    def ref(self, path: str) -> str:
        return f"oci://{self.host}/{path}"


@contextlib.contextmanager
def docker_registry(tmp: Path, *, token_realm: str | None = None) -> Iterator[Registry]:
    binary = registry_binary()
    port = free_port()
    root = tmp / "storage"
    root.mkdir(parents=True)
    auth = (f"auth:\n  silly:\n    realm: {token_realm}\n    service: aitrace-test\n"
            if token_realm else "")
    config = tmp / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}")
    with start_process([binary, "serve", str(config)], f"http://127.0.0.1:{port}/v2/",
                       tmp / "registry.log", timeout_s=30, ok=(200, 401)):
        yield Registry(f"127.0.0.1:{port}", root)


@dataclass
class MlflowServer:
    """A running ``mlflow server`` and the directory holding its store and artifacts."""

    port: int
    data: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def mlflow_server(data: Path) -> Iterator[MlflowServer]:
    port = free_port()
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    argv = [mlflow_bin, "server", "--backend-store-uri", f"sqlite:///{data}/server.db",
            "--default-artifact-root", (data / "artifacts").as_uri(),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with start_process(argv, f"http://127.0.0.1:{port}/health", data / "server.log",
                       env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}):
        yield MlflowServer(port, data)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Debian's docker-registry on a free port, empty storage, no auth."""
    with docker_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def mlflow_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """`mlflow server` (SQLite backend, local artifact root) on a free port."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server
