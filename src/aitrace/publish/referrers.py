"""Artifacts that refer to another: the OCI 1.1 referrers API and its tag-schema fallback.

An aitrace bundle pushed with ``--subject`` names the model's own artifact in its manifest's
``subject`` field. How it is found again depends on the registry (OCI distribution spec 1.1,
"Listing referrers" and "Referrers tag schema"):

* a registry with the **referrers API** indexes the referrer itself: it answers the manifest
  push with an ``OCI-Subject`` header, and ``GET /v2/<name>/referrers/<digest>`` returns an
  image index of every manifest whose subject is that digest;
* a registry without it (Debian's docker-registry 2.8, many others) ignores ``subject``, and the
  client keeps the index itself, under the tag ``sha256-<hex>`` of the subject's digest: read
  it (absent: empty), add the referrer's descriptor, push it back. That read-modify-write is
  racy: two clients attaching at once can each write an index without the other's entry. After
  writing, the index is read again and the write repeated (up to three times) until it holds
  the new referrer; a later writer can still drop it, which the registry cannot prevent.

Listing tries the API first and falls back to the tag when the registry answers 404 (or 405),
as the spec prescribes. Both paths are tested (the API against a small in-test server, since no
registry available here implements it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from aitrace.publish.errors import RegistryError, RegistryNotFound
from aitrace.publish.oci import OCI_INDEX, json_document
from aitrace.record.jsonio import as_list, canonical_bytes

if TYPE_CHECKING:
    from aitrace.publish.oci import Pushed, RegistryClient

Via = Literal["api", "tag"]
"""How referrers were attached or listed: the registry's API, or the fallback tag."""

_TAG_MAX = 128
_ATTEMPTS = 3


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor (the entries of an image index)."""

    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The descriptor as the OCI image spec writes it."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_json(cls, doc: Any) -> Descriptor | None:
        """Parse an untrusted descriptor; ``None`` when it is malformed (skipped, not fatal)."""
        if not isinstance(doc, dict):
            return None
        media, digest, size = doc.get("mediaType"), doc.get("digest"), doc.get("size")
        if not isinstance(media, str) or not isinstance(digest, str) or \
                not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return None
        kind = doc.get("artifactType")
        notes = doc.get("annotations")
        annotations = {str(k): v for k, v in notes.items() if isinstance(v, str)} \
            if isinstance(notes, dict) else {}
        return cls(media, digest, size, kind if isinstance(kind, str) else None, annotations)


def fallback_tag(digest: str) -> str:
    """The referrers tag of a subject: ``sha256:<hex>`` → ``sha256-<hex>`` (≤ 128 chars)."""
    return digest.replace(":", "-", 1)[:_TAG_MAX]


def _descriptors(doc: Mapping[str, Any]) -> list[Descriptor]:
    entries = doc.get("manifests")
    found = [Descriptor.from_json(e) for e in entries] if isinstance(entries, list) else []
    return [d for d in found if d is not None]


def _read_tag_index(client: RegistryClient, repository: str, subject: str,
                    what: str) -> dict[str, Any] | None:
    """The fallback index of ``subject`` as a JSON object, or None when there is none yet."""
    tag = fallback_tag(subject)
    try:
        fetched = client.get_manifest(repository, tag, f"{what} (referrers tag {tag})",
                                      accept=(OCI_INDEX,))
    except RegistryNotFound:
        return None
    return json_document(fetched.data, f"{what}: referrers tag {tag}")


def attach(client: RegistryClient, repository: str, subject: str, referrer: Descriptor,
           pushed: Pushed, what: str) -> Via:
    """Make ``referrer`` findable from ``subject`` (its manifest is already pushed).

    Nothing to do when the registry indexed it (``OCI-Subject`` answered); otherwise the
    fallback tag's index is updated (see the module docstring for the race).
    """
    if pushed.subject == subject:
        return "api"
    tag = fallback_tag(subject)
    for _ in range(_ATTEMPTS):
        doc = _read_tag_index(client, repository, subject, what) or {
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        entries = as_list(doc.get("manifests"))
        if any(isinstance(e, dict) and e.get("digest") == referrer.digest for e in entries):
            return "tag"
        updated = {**doc, "manifests": [*entries, referrer.to_json()]}
        client.put_manifest(repository, tag, canonical_bytes(updated), OCI_INDEX,
                            f"{what} (referrers tag {tag})")
        again = _read_tag_index(client, repository, subject, what) or {}
        if any(d.digest == referrer.digest for d in _descriptors(again)):
            return "tag"
    raise RegistryError(
        f"{what}: the referrers tag {tag} kept losing the new entry (another client is "
        "rewriting it at the same time)",
        hint="push again when the other client is done; the bundle itself was pushed")


def list_referrers(client: RegistryClient, repository: str, subject: str,
                   artifact_type: str | None, what: str) -> tuple[list[Descriptor], Via]:
    """Descriptors of the manifests that refer to ``subject`` (of ``artifact_type`` if given).

    The referrers API first; on 404/405 the fallback tag (absent: no referrers).
    """
    path = f"/v2/{repository}/referrers/{subject}"
    if artifact_type:
        path += "?" + urlencode({"artifactType": artifact_type})
    response = client.request("GET", path, what=f"{what} (referrers)",
                              headers={"Accept": OCI_INDEX})
    if response.status_code == 200:
        with response:
            data = response.content
        found = _descriptors(json_document(data, f"{what}: referrers"))
        via: Via = "api"
    elif response.status_code in (404, 405):
        response.close()
        found = _descriptors(_read_tag_index(client, repository, subject, what) or {})
        via = "tag"
    else:
        raise client.fail(response, f"{what} (referrers)")
    if artifact_type:
        found = [d for d in found if d.artifact_type == artifact_type]
    return found, via
