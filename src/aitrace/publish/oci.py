"""A small client of the OCI Distribution HTTP API: blobs and manifests, digests checked.

Why not oras-py (0.2.43, the maintained Python ORAS client)? aitrace needs four things from a
registry client that it does not do, and the rest is a few requests:

* **fail fast, with a name**: its request wrapper retries *every* error — a refused connection,
  an HTTP 500, and its own "cannot respond to request for authentication" ``ValueError`` —
  sleeping 3, 5, 11, 29 and 83 s in between (measured: an unreachable registry takes over two
  minutes to report, as a bare exception). A CI gate needs "auth", "not found" or "not an
  aitrace artifact" at once;
* **check what it fetched**: ``download_blob`` writes whatever the registry sends; here every
  blob and manifest is hashed while it streams and compared with its digest;
* **write the manifest itself**: ``artifactType``, ``subject`` and annotations (oras-py has no
  artifactType and a ``subject`` that needs a dataclass despite its ``str`` hint);
* **referrers**: it has none (no API, no tag fallback) — see ``aitrace.publish.referrers``.

So this module speaks the API directly with ``requests`` (already installed with MLflow):
``/v2/<name>/blobs/…`` and ``/v2/<name>/manifests/…``, monolithic uploads, the Bearer-token
handshake of the distribution token spec (anonymous or with ``aitrace.publish.credentials``)
and Basic auth. No retries: one request, one answer, named. The Authorization header goes only
to the registry's own host and its token service; credentials never reach a message.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

from aitrace._version import __version__
from aitrace.publish.credentials import Lookup, find_credentials
from aitrace.publish.errors import (
    RegistryAuthError,
    RegistryError,
    RegistryIntegrityError,
    RegistryNotFound,
)

if TYPE_CHECKING:
    import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
MAX_MANIFEST_SIZE = 4 * 1024 * 1024  # the distribution spec's recommended limit
CHUNK = 1 << 20
TIMEOUT = (10.0, 300.0)  # connect, read (seconds)

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_NO_TLS_HINT = ("check the host and port; a registry without TLS (e.g. on localhost) needs "
                "--plain-http, a private CA needs REQUESTS_CA_BUNDLE")


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data`` (the OCI digest form)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Fetched:
    """A manifest as fetched: its exact bytes, media type and (checked) digest."""

    data: bytes
    media_type: str
    digest: str


@dataclass(frozen=True)
class Pushed:
    """What the registry answered to a manifest push."""

    digest: str
    subject: str | None  # the OCI-Subject header: the registry indexed the referrer itself


def _is_loopback(netloc: str) -> bool:
    """Whether ``host[:port]`` is this machine (plain HTTP is tolerated only there)."""
    name = urlsplit("//" + netloc).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _error_detail(response: requests.Response) -> str:
    """The registry's own error codes and messages (``{"errors": [...]}``), briefly."""
    try:
        doc = response.json()
    except ValueError:
        text = response.text.strip().splitlines()
        return text[0][:200] if text else ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for e in errors[:3]:
        if isinstance(e, dict):
            parts.append(f"{e.get('code', '?')}: {e.get('message', '')}".strip())
    return "; ".join(parts)


def error_codes(response: requests.Response) -> set[str]:
    """The ``code`` values of a registry error body (empty when there are none)."""
    try:
        doc = response.json()
    except ValueError:
        return set()
    errors = doc.get("errors") if isinstance(doc, dict) else None
    return {str(e.get("code")) for e in errors or [] if isinstance(e, dict)}


class RegistryClient:
    """One registry (``host[:port]``), over HTTPS or, with ``plain_http``, HTTP.

    Use as a context manager; it keeps one HTTP session and the last token it was given.
    """

    def __init__(self, host: str, *, plain_http: bool = False,
                 env: Mapping[str, str] | None = None) -> None:
        import requests

        self.host = host
        self.base = f"{'http' if plain_http else 'https'}://{host}"
        self._env = env
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"aitrace/{__version__}"
        self._auth: str | None = None
        self._lookup: Lookup | None = None

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _credentials(self) -> Lookup:
        if self._lookup is None:
            self._lookup = find_credentials(self.host, self._env)
        return self._lookup

    def _send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | Path | None,
              stream: bool) -> requests.Response:
        import requests

        hdrs = dict(headers)
        if self._auth and urlsplit(url).netloc.lower() == self.host.lower():
            hdrs["Authorization"] = self._auth
        fh: IO[bytes] | None = None
        try:
            data: bytes | IO[bytes] | None = body if not isinstance(body, Path) else None
            if isinstance(body, Path):
                fh = data = open(body, "rb")  # noqa: SIM115 - closed below, after the send
            return self._session.request(method, url, headers=hdrs, data=data, stream=stream,
                                         timeout=TIMEOUT, allow_redirects=method == "GET")
        except requests.exceptions.SSLError as exc:
            raise RegistryError(f"TLS with the registry {self.host} failed: "
                                f"{_reason(exc)}", hint=_NO_TLS_HINT) from None
        except requests.exceptions.Timeout:
            raise RegistryError(f"the registry {self.host} did not answer within "
                                f"{TIMEOUT[1]:.0f} s", hint="try again later") from None
        except requests.exceptions.ConnectionError as exc:
            raise RegistryError(f"cannot reach the registry {self.host}: {_reason(exc)}",
                                hint=_NO_TLS_HINT) from None
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"request to the registry {self.host} failed: "
                                f"{_reason(exc)}", hint=_NO_TLS_HINT) from None
        finally:
            if fh is not None:
                fh.close()

    def request(self, method: str, path: str, *, what: str,
                headers: Mapping[str, str] | None = None, body: bytes | Path | None = None,
                stream: bool = False) -> requests.Response:
        """Send one request (a path below the registry, or a URL it gave), authenticating once.

        Returns every answer except authentication failures, which raise ``RegistryAuthError``
        naming ``what`` and where credentials came from.
        """
        url = path if "://" in path else self.base + path
        response = self._send(method, url, headers or {}, body, stream)
        if response.status_code == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            response.close()
            self._authenticate(challenge, what)
            response = self._send(method, url, headers or {}, body, stream)
            if response.status_code == 401:
                response.close()
                raise RegistryAuthError(
                    f"{what}: the registry {self.host} refused the credentials from "
                    f"{self._credentials().describe()}",
                    hint="check the username and password (or token) and their permissions")
        if response.status_code == 403:
            detail = _error_detail(response)
            response.close()
            raise RegistryAuthError(
                f"{what}: access denied by the registry {self.host}"
                + (f" ({detail})" if detail else ""),
                hint=f"the credentials from {self._credentials().describe()} lack permission")
        return response

    def _authenticate(self, challenge: str, what: str) -> None:
        scheme, _, params_text = challenge.strip().partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        lookup = self._credentials()
        creds = lookup.credentials
        if scheme.lower() == "basic":
            if creds is None:
                raise RegistryAuthError(
                    f"{what}: the registry {self.host} requires a login; {lookup.describe()}",
                    hint="set AITRACE_REGISTRY_USERNAME and AITRACE_REGISTRY_PASSWORD, or run "
                         "`docker login` for this registry")
            token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            self._auth = f"Basic {token}"
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise RegistryAuthError(f"{what}: the registry {self.host} asks for an "
                                    f"authentication scheme aitrace does not speak "
                                    f"({scheme or 'none'})")
        self._auth = "Bearer " + self._token(params, lookup, what)

    def _token(self, params: Mapping[str, str], lookup: Lookup, what: str) -> str:
        """A token from the registry's token service (distribution token spec, GET form)."""
        import requests

        realm = params["realm"]
        parts = urlsplit(realm)
        creds = lookup.credentials
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryAuthError(f"{what}: the registry's token service '{realm}' is not "
                                    "an http(s) URL")
        if parts.scheme == "http" and creds is not None and not _is_loopback(parts.netloc):
            raise RegistryAuthError(
                f"{what}: the registry's token service {parts.netloc} is plain HTTP; aitrace "
                "does not send credentials there", hint="use a registry whose token service "
                                                        "has TLS")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query += [("scope", s) for s in params.get("scope", "").split() if s]
        try:
            response = requests.get(realm, params=query, timeout=TIMEOUT,
                                    auth=(creds.username, creds.password) if creds else None,
                                    headers={"User-Agent": f"aitrace/{__version__}"})
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"{what}: cannot reach the registry's token service "
                                f"{parts.netloc}: {_reason(exc)}", hint=_NO_TLS_HINT) from None
        with response:
            if response.status_code in (401, 403):
                who = (f"the credentials from {creds.source}" if creds else
                       f"anonymous access ({lookup.describe()})")
                raise RegistryAuthError(
                    f"{what}: the registry's token service {parts.netloc} refused {who}",
                    hint="set AITRACE_REGISTRY_USERNAME and AITRACE_REGISTRY_PASSWORD, or run "
                         "`docker login` for this registry")
            if response.status_code != 200:
                raise RegistryAuthError(f"{what}: the registry's token service answered HTTP "
                                        f"{response.status_code}")
            try:
                doc = response.json()
            except ValueError:
                doc = None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryAuthError(f"{what}: the registry's token service sent no token")
        return token

    def fail(self, response: requests.Response, what: str,
             hint: str | None = None) -> RegistryError:
        """The error for an unexpected answer (404 → ``RegistryNotFound``), response closed."""
        detail = _error_detail(response)
        status = response.status_code
        response.close()
        tail = f" ({detail})" if detail else ""
        if status == 404:
            return RegistryNotFound(f"{what}: not found in the registry {self.host}{tail}",
                                    hint=hint)
        return RegistryError(f"{what}: the registry {self.host} answered HTTP {status}{tail}",
                             hint=hint)

    # ------------------------------------------------------------------ manifests

    def get_manifest(self, repository: str, reference: str, what: str,
                     accept: tuple[str, ...] = MANIFEST_TYPES) -> Fetched:
        """A manifest by tag or digest; its bytes are checked against the digest.

        Raises:
            RegistryNotFound: no such repository, tag or digest.
            RegistryIntegrityError: the bytes do not hash to the digest asked for or announced.
        """
        response = self.request("GET", f"/v2/{repository}/manifests/{reference}", what=what,
                                headers={"Accept": ", ".join(accept)}, stream=True)
        if response.status_code != 200:
            raise self.fail(response, what)
        with response:
            data = _read_bounded(response.iter_content(CHUNK), MAX_MANIFEST_SIZE, what)
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            announced = response.headers.get("Docker-Content-Digest", "")
        actual = sha256_digest(data)
        expected = reference if reference.startswith("sha256:") else (
            announced if announced.startswith("sha256:") else actual)
        if actual != expected:
            raise RegistryIntegrityError(
                f"{what}: the manifest the registry sent hashes to {actual}, not {expected}: "
                "the registry's copy was altered or corrupted",
                hint="do not use this artifact; push it again from a trusted copy")
        return Fetched(data=data, media_type=media_type, digest=actual)

    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str,
                     what: str) -> Pushed:
        """Store a manifest under a tag or its digest; returns its digest and ``OCI-Subject``."""
        response = self.request("PUT", f"/v2/{repository}/manifests/{reference}", what=what,
                                headers={"Content-Type": media_type}, body=data)
        if response.status_code not in (200, 201):
            raise self.fail(response, what)
        with response:
            digest = response.headers.get("Docker-Content-Digest") or sha256_digest(data)
            subject = response.headers.get("OCI-Subject")
        if digest != sha256_digest(data):
            raise RegistryIntegrityError(f"{what}: the registry stored the manifest as {digest}, "
                                         f"not {sha256_digest(data)}")
        return Pushed(digest=digest, subject=subject)

    def tags(self, repository: str, limit: int = 20) -> list[str]:
        """Up to ``limit`` tags of ``repository`` (empty when it cannot be listed)."""
        try:
            response = self.request("GET", f"/v2/{repository}/tags/list?n={limit}",
                                    what=f"tags of {repository}")
        except RegistryError:
            return []
        with response:
            if response.status_code != 200:
                return []
            try:
                doc = response.json()
            except ValueError:
                return []
        tags = doc.get("tags") if isinstance(doc, dict) else None
        return [str(t) for t in tags or []][:limit]

    # ------------------------------------------------------------------ blobs

    def blob_exists(self, repository: str, digest: str, what: str) -> bool:
        """Whether the repository already holds this blob (a HEAD request)."""
        response = self.request("HEAD", f"/v2/{repository}/blobs/{digest}", what=what)
        with response:
            if response.status_code in (200, 302, 307):  # a redirect: it is in the storage
                return True
            if response.status_code == 404:
                return False
        raise self.fail(response, what)

    def push_blob(self, repository: str, digest: str, size: int, body: bytes | Path,
                  what: str) -> None:
        """Upload a blob in one request (skipped when the registry already has it)."""
        if self.blob_exists(repository, digest, what):
            return
        response = self.request("POST", f"/v2/{repository}/blobs/uploads/", what=what,
                                headers={"Content-Length": "0"})
        if response.status_code != 202 or not response.headers.get("Location"):
            raise self.fail(response, what)
        with response:
            location = urljoin(self.base + "/", response.headers["Location"])
        sep = "&" if "?" in location else "?"
        response = self.request("PUT", location + sep + urlencode({"digest": digest}),
                                what=what, body=body,
                                headers={"Content-Type": "application/octet-stream",
                                         "Content-Length": str(size)})
        if response.status_code not in (200, 201):
            raise self.fail(response, what)
        response.close()

    def fetch_blob(self, repository: str, digest: str, size: int, dest: Path,
                   what: str) -> str:
        """Stream a blob into ``dest`` while hashing it; returns the digest of what arrived.

        At most ``size`` bytes are accepted (more is an integrity error). The caller compares
        the returned digest with ``digest`` and decides what a mismatch means.
        """
        response = self.request("GET", f"/v2/{repository}/blobs/{digest}", what=what,
                                stream=True)
        if response.status_code != 200:
            raise self.fail(response, what)
        h = hashlib.sha256()
        done = 0
        with response, open(dest, "wb") as out:
            for chunk in response.iter_content(CHUNK):
                done += len(chunk)
                if done > size:
                    raise RegistryIntegrityError(
                        f"{what}: the registry sent more than the {size} bytes the manifest "
                        "declares: the registry's copy was altered or corrupted",
                        hint="do not use this artifact; push it again from a trusted copy")
                h.update(chunk)
                out.write(chunk)
        return "sha256:" + h.hexdigest()


def json_document(data: bytes, what: str) -> dict[str, Any]:
    """A manifest or index parsed as untrusted JSON (an object, no duplicate keys)."""
    from aitrace.record.jsonio import JsonLimits, parse_untrusted

    doc = parse_untrusted(data, what, limits=JsonLimits(max_size=MAX_MANIFEST_SIZE),
                          error=RegistryError, hint="this is not an artifact aitrace pushed")
    if not isinstance(doc, dict):
        raise RegistryError(f"{what} is not a JSON object",
                            hint="this is not an artifact aitrace pushed")
    return doc


def _read_bounded(chunks: Iterator[bytes], limit: int, what: str) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > limit:
            raise RegistryError(f"{what}: the manifest is over {limit} bytes",
                                hint="this is not an artifact aitrace pushed")
    return bytes(out)


_REASON = re.compile(r"\[(?:Errno -?\d+|SSL[^\]]*)\][^'\"()]*")


def _reason(exc: Any) -> str:
    """The heart of a requests error (``[Errno 111] Connection refused``), briefly."""
    text = str(exc)
    found = _REASON.search(text)
    return (found.group(0) if found else text.split(" (Caused by ")[0])[:300].strip()
