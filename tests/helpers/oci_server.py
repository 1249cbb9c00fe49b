"""Small in-test HTTP servers on 127.0.0.1 for what no registry here provides.

* ``ReferrersRegistry``: a minimal OCI distribution 1.1 registry *with* the referrers API
  (``GET /v2/<name>/referrers/<digest>``, ``OCI-Subject`` on manifest pushes). Debian's
  docker-registry 2.8 lacks that API, so the API path of ``aitrace.publish.referrers`` is tested
  against this server; the fallback path is tested against the real registry. It implements
  just what aitrace uses: blob HEAD/GET/upload (POST + PUT), manifest PUT/GET, tags list and
  referrers, keeping everything in memory and checking every digest it is given. It can also
  demand HTTP Basic auth (docker-registry's htpasswd auth needs bcrypt hashes, which nothing
  here makes) and answers 403 for repositories under ``denied/``.
* ``TokenService``: the token endpoint of the distribution token spec for docker-registry's
  "silly" auth: it hands out a token only for the expected Basic credentials (or to anyone when
  ``anonymous``), and records the scopes it was asked for.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

INDEX = "application/vnd.oci.image.index.v1+json"
_ROUTE = re.compile(r"^/v2/(?P<name>.+?)/(?P<kind>blobs/uploads|blobs|manifests|referrers|tags)"
                    r"/(?P<rest>[^?]*)$")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class _State:
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # digest -> (data, type)
    tags: dict[tuple[str, str], str] = field(default_factory=dict)  # (repo, tag) -> digest
    referrers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # subject -> descs
    uploads: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    basic: str | None = None  # "user:password" when Basic auth is required


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str) -> None:
        body = json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode()
        self._send(status, body, {"Content-Type": "application/json"})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _route(self) -> None:
        st = self.server.state
        st.requests.append(f"{self.command} {self.path}")
        st.authorizations.append(self.headers.get("Authorization", ""))
        if st.basic is not None and self.headers.get("Authorization") != "Basic " + \
                base64.b64encode(st.basic.encode()).decode():
            self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"login"}]}',
                       {"WWW-Authenticate": 'Basic realm="aitrace-test"'})
            return
        parts = urlsplit(self.path)
        if parts.path.startswith("/v2/denied/"):
            self._error(403, "DENIED")
            return
        if parts.path == "/v2/":
            self._send(200, b"{}")
            return
        m = _ROUTE.match(parts.path)
        if not m:
            self._send(404, b"404 page not found")
            return
        name, kind, rest = m["name"], m["kind"], m["rest"]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if kind == "blobs/uploads":
            if self.command == "POST":
                uid = uuid.uuid4().hex
                st.uploads.add(uid)
                self._send(202, headers={"Location": f"/v2/{name}/blobs/uploads/{uid}"})
            elif self.command == "PUT" and rest in st.uploads:
                data = self._body()
                if _digest(data) != query.get("digest"):
                    self._error(400, "DIGEST_INVALID")
                    return
                st.blobs[_digest(data)] = data
                self._send(201, headers={"Docker-Content-Digest": _digest(data)})
            else:
                self._error(404, "BLOB_UPLOAD_UNKNOWN")
        elif kind == "blobs":
            data = st.blobs.get(rest)
            if data is None:
                self._error(404, "BLOB_UNKNOWN")
            else:
                self._send(200, data, {"Docker-Content-Digest": rest,
                                       "Content-Type": "application/octet-stream"})
        elif kind == "manifests":
            self._manifest(name, rest)
        elif kind == "referrers":
            wanted = query.get("artifactType")
            found = [d for d in st.referrers.get(rest, [])
                     if wanted is None or d.get("artifactType") == wanted]
            headers = {"Content-Type": INDEX}
            if wanted:
                headers["OCI-Filters-Applied"] = "artifactType"
            doc = {"schemaVersion": 2, "mediaType": INDEX, "manifests": found}
            self._send(200, json.dumps(doc).encode(), headers)
        else:  # tags
            tags = sorted(t for (repo, t) in st.tags if repo == name)
            self._send(200, json.dumps({"name": name, "tags": tags}).encode(),
                       {"Content-Type": "application/json"})

    def _manifest(self, name: str, ref: str) -> None:
        st = self.server.state
        if self.command == "PUT":
            data = self._body()
            media = self.headers.get("Content-Type", "")
            digest = _digest(data)
            if ref.startswith("sha256:") and ref != digest:
                self._error(400, "DIGEST_INVALID")
                return
            st.manifests[digest] = (data, media)
            if not ref.startswith("sha256:"):
                st.tags[(name, ref)] = digest
            headers = {"Docker-Content-Digest": digest}
            doc = json.loads(data)
            subject = doc.get("subject")
            if isinstance(subject, dict):
                desc = {"mediaType": media, "digest": digest, "size": len(data)}
                if doc.get("artifactType"):
                    desc["artifactType"] = doc["artifactType"]
                if doc.get("annotations"):
                    desc["annotations"] = doc["annotations"]
                st.referrers.setdefault(subject["digest"], []).append(desc)
                headers["OCI-Subject"] = subject["digest"]
            self._send(201, headers=headers)
            return
        digest = ref if ref.startswith("sha256:") else st.tags.get((name, ref))
        if digest is None or digest not in st.manifests:
            self._error(404, "MANIFEST_UNKNOWN")
            return
        data, media = st.manifests[digest]
        self._send(200, data, {"Content-Type": media, "Docker-Content-Digest": digest})

    do_GET = do_HEAD = do_PUT = do_POST = _route  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = _State()


@dataclass
class ReferrersRegistry:
    host: str
    state: _State

    def ref(self, path: str) -> str:
        return f"oci://{self.host}/{path}"


@contextmanager
def referrers_registry(basic: str | None = None) -> Iterator[ReferrersRegistry]:
    """The in-memory registry; with ``basic="user:password"`` every request needs Basic auth."""
    server = _Server()
    server.state.basic = basic
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ReferrersRegistry(f"127.0.0.1:{server.server_address[1]}", server.state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ----------------------------------------------------------------------------- token service


class _TokenHandler(BaseHTTPRequestHandler):
    server: _TokenServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        srv = self.server
        query = parse_qs(urlsplit(self.path).query)
        srv.asked.append(" ".join(query.get("scope", [])))
        header = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{srv.user}:{srv.password}".encode()).decode()
        if header == expected or (srv.anonymous and not header):
            body = json.dumps({"token": f"token-{len(srv.asked)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b'{"details":"unauthorized"}'
            self.send_response(401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TokenServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, user: str, password: str, anonymous: bool) -> None:
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        self.user, self.password, self.anonymous = user, password, anonymous
        self.asked: list[str] = []


@dataclass
class TokenService:
    realm: str
    asked: list[str]


@contextmanager
def token_service(user: str, password: str, *, anonymous: bool = False
                  ) -> Iterator[TokenService]:
    server = _TokenServer(user, password, anonymous)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TokenService(f"http://127.0.0.1:{server.server_address[1]}/token", server.asked)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
