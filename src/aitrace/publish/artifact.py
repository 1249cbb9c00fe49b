r"""A bundle as an OCI artifact: pushed with its facts as annotations, pulled back byte-identical.

The artifact (OCI image spec 1.1 "artifact" guidance)::

    {"schemaVersion": 2,
     "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "artifactType": "application/vnd.aitrace.bundle.v1+zip",
     "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:4413…",
                "size": 2},
     "layers": [{"mediaType": "application/vnd.aitrace.bundle.v1+zip",
                 "digest": "sha256:<the .aitrace file>", "size": N,
                 "annotations": {"org.opencontainers.image.title": "<file name>"}}],
     "subject": {…the model's manifest…},                  # with --subject only
     "annotations": {"org.opencontainers.image.created": "<the bundle's created_at>",
                     "dev.aitrace.record.id": "…", "dev.aitrace.record.name": "…",
                     "dev.aitrace.chain-head": "sha256:…",
                     "dev.aitrace.released": "[{\\"digest\\":{\\"sha256\\":…},\\"name\\":…}]",
                     "dev.aitrace.verified-by": "<key ids>"}}   # when push verified it

The layer *is* the bundle file, byte for byte, so its digest is the file's sha256. The
manifest is canonical JSON, so the same bundle pushed twice has the same manifest digest. The
``v1`` in the media type versions this packaging, not the bundle format (the bundle says its
own format inside). Annotations are read from the bundle for people and registry UIs; they are
not trusted by anything — ``aitrace verify`` checks the bundle itself.

Pulling a reference that is not an aitrace artifact (the model's own image or artifact) looks
for aitrace bundles among its referrers and takes the newest (by ``created``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import AitraceError, InputError
from aitrace.publish.errors import NotAnAitraceArtifact, RegistryIntegrityError, RegistryNotFound
from aitrace.publish.oci import (
    OCI_MANIFEST,
    Fetched,
    RegistryClient,
    json_document,
    sha256_digest,
)
from aitrace.publish.referrers import Descriptor, Via, attach, list_referrers
from aitrace.publish.refs import OciRef
from aitrace.record.jsonio import as_list, as_map, canonical_bytes

ARTIFACT_TYPE = "application/vnd.aitrace.bundle.v1+zip"
LAYER_TYPE = ARTIFACT_TYPE
EMPTY_CONFIG = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
ANN_TITLE = "org.opencontainers.image.title"
ANN_CREATED = "org.opencontainers.image.created"
ANN_RECORD_ID = "dev.aitrace.record.id"
ANN_RECORD_NAME = "dev.aitrace.record.name"
ANN_CHAIN_HEAD = "dev.aitrace.chain-head"
ANN_RELEASED = "dev.aitrace.released"
ANN_VERIFIED_BY = "dev.aitrace.verified-by"
_REFERRERS_TAG = re.compile(r"^sha256-[0-9a-f]{64}$")


def bundle_annotations(path: Path) -> dict[str, str]:
    """The manifest annotations for the bundle at ``path`` (read, not verified).

    Raises:
        InvalidBundle: the file is not a readable aitrace bundle.
    """
    from aitrace.bundle.read import OpenedBundle

    out: dict[str, str] = {}
    with OpenedBundle.open(path) as ob:
        if ob.record_id:
            out[ANN_RECORD_ID] = ob.record_id
        if ob.record_name:
            out[ANN_RECORD_NAME] = ob.record_name
        with contextlib.suppress(AitraceError):
            pred = ob.predicate
            out[ANN_CHAIN_HEAD] = f"sha256:{pred.chain_head}"
            out[ANN_CREATED] = pred.created_at
            out[ANN_RELEASED] = canonical_bytes(
                [{"name": r.path, "digest": {"sha256": r.sha256}} for r in pred.released]
            ).decode("utf-8")
    return out


def artifact_manifest(layer: Descriptor, annotations: Mapping[str, str],
                      subject: Descriptor | None = None) -> bytes:
    """The canonical manifest bytes of a bundle artifact (see the module docstring)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_TYPE, "digest": sha256_digest(EMPTY_CONFIG),
                   "size": len(EMPTY_CONFIG)},
        "layers": [layer.to_json()],
    }
    if subject is not None:
        doc["subject"] = subject.to_json()
    if annotations:
        doc["annotations"] = dict(annotations)
    return canonical_bytes(doc)


@dataclass(frozen=True)
class PushResult:
    """Where a bundle went: the pinned reference, its blob, and how a subject was attached."""

    ref: OciRef
    digest: str
    size: int
    bundle_sha256: str
    subject: OciRef | None = None
    referrers: Via | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``aitrace push --json``)."""
        return {"reference": str(self.ref), "digest": self.digest, "size": self.size,
                "bundle_sha256": self.bundle_sha256,
                "subject": str(self.subject) if self.subject else None,
                "referrers": self.referrers}


def _subject_descriptor(client: RegistryClient, target: OciRef, subject: OciRef) -> Descriptor:
    if (subject.host, subject.repository) != (target.host, target.repository):
        raise InputError(f"--subject {subject} is not in "
                         f"{OciRef(target.host, target.repository)}",
                         hint="a referrer lives in its subject's repository: push the bundle "
                              "to the model's repository")
    fetched = client.get_manifest(subject.repository, subject.reference, str(subject))
    doc = json_document(fetched.data, str(subject))
    media = fetched.media_type or str(doc.get("mediaType", OCI_MANIFEST))
    return Descriptor(media_type=media, digest=fetched.digest, size=len(fetched.data))


def push_bundle(bundle: Path, target: OciRef, *, subject: OciRef | None = None,
                plain_http: bool = False, verified_by: Sequence[str] = (),
                env: Mapping[str, str] | None = None) -> PushResult:
    """Push the bundle at ``bundle`` to ``target`` (a tag; or no tag with ``subject``).

    Raises:
        InputError: no tag and no subject, or a subject in another repository.
        InvalidBundle: the file is not an aitrace bundle.
        RegistryError: the registry refused (subclasses name auth and not-found).
    """
    from aitrace.store.digest import hash_file

    if target.digest is not None:
        raise InputError(f"cannot push to {target}: a digest names existing content",
                         hint="push to a tag, e.g. oci://HOST/REPO:v1")
    if target.tag is None and subject is None:
        raise InputError(f"{target} names no tag", hint="push to oci://HOST/REPO:TAG, or "
                         "give --subject to attach the bundle to the model without a tag")
    annotations = bundle_annotations(bundle)
    if verified_by:
        annotations[ANN_VERIFIED_BY] = ",".join(verified_by)
    sha, size = hash_file(bundle)
    layer = Descriptor(LAYER_TYPE, f"sha256:{sha}", size, annotations={ANN_TITLE: bundle.name})
    what = str(target)
    with RegistryClient(target.host, plain_http=plain_http, env=env) as client:
        subject_desc = _subject_descriptor(client, target, subject) if subject else None
        client.push_blob(target.repository, sha256_digest(EMPTY_CONFIG), len(EMPTY_CONFIG),
                         EMPTY_CONFIG, f"{what} (config blob)")
        client.push_blob(target.repository, layer.digest, size, bundle, f"{what} (bundle blob)")
        data = artifact_manifest(layer, annotations, subject_desc)
        pushed = client.put_manifest(target.repository, target.tag or sha256_digest(data),
                                     data, OCI_MANIFEST, what)
        via: Via | None = None
        if subject_desc is not None:
            desc = Descriptor(OCI_MANIFEST, pushed.digest, len(data), ARTIFACT_TYPE, annotations)
            via = attach(client, target.repository, subject_desc.digest, desc, pushed, what)
    return PushResult(ref=target.at(pushed.digest), digest=pushed.digest, size=len(data),
                      bundle_sha256=sha, subject=subject.at(subject_desc.digest)
                      if subject and subject_desc else None, referrers=via)


# =========================================================================== pulling


@dataclass(frozen=True)
class Located:
    """The bundle artifact a reference leads to, and how it was found."""

    ref: OciRef
    layer: Descriptor
    annotations: Mapping[str, str]
    referrer_of: str | None = None
    referrers: Via | None = None
    others: tuple[str, ...] = ()


def _bundle_layer(doc: Mapping[str, Any], what: str) -> Descriptor | None:
    """The bundle layer of an aitrace artifact; None when the manifest is not one."""
    config = as_map(doc.get("config"))
    if doc.get("artifactType") != ARTIFACT_TYPE and config.get("mediaType") != ARTIFACT_TYPE:
        return None
    layers = as_list(doc.get("layers"))
    found = [d for d in (Descriptor.from_json(x) for x in layers)
             if d is not None and d.media_type == LAYER_TYPE]
    if len(found) != 1 or len(layers) != 1:
        raise NotAnAitraceArtifact(
            f"{what} says it is an aitrace bundle but has {len(layers)} layer(s), "
            f"{len(found)} of type {LAYER_TYPE}", hint="it was not pushed by aitrace")
    return found[0]


def _fetch(client: RegistryClient, ref: OciRef) -> Fetched:
    try:
        return client.get_manifest(ref.repository, ref.reference, str(ref))
    except RegistryNotFound as exc:
        if ref.digest is None:
            tags = [t for t in client.tags(ref.repository) if not _REFERRERS_TAG.match(t)]
            exc.hint = (f"tags in {ref.repository}: {', '.join(tags)}" if tags else
                        f"the repository {ref.repository} has no tags (or cannot be listed)")
        else:
            exc.hint = "check the digest (`aitrace push` prints it)"
        raise


def locate_bundle(client: RegistryClient, ref: OciRef) -> Located:
    """Resolve ``ref`` to an aitrace bundle artifact: itself, or its newest aitrace referrer.

    Raises:
        RegistryNotFound: no such tag or digest (the hint lists the repository's tags).
        NotAnAitraceArtifact: neither the artifact nor any referrer of it is an aitrace bundle.
    """
    fetched = _fetch(client, ref)
    doc = json_document(fetched.data, str(ref))
    layer = _bundle_layer(doc, str(ref))
    notes = as_map(doc.get("annotations"))
    if layer is not None:
        return Located(ref.at(fetched.digest), layer, dict(notes))
    found, via = list_referrers(client, ref.repository, fetched.digest, ARTIFACT_TYPE, str(ref))
    if not found:
        kind = doc.get("artifactType")
        if not isinstance(kind, str):
            kind = as_map(doc.get("config")).get("mediaType")
        shown = f"artifact type {kind}" if isinstance(kind, str) else \
            f"media type {fetched.media_type or 'unknown'}"
        raise NotAnAitraceArtifact(
            f"{ref} is not an aitrace bundle ({shown}) and no aitrace bundle refers to it",
            hint=f"attach one: aitrace push BUNDLE oci://{ref.host}/{ref.repository}:TAG "
                 f"--subject {ref.at(fetched.digest)}")
    ordered = sorted(enumerate(found),
                     key=lambda p: (p[1].annotations.get(ANN_CREATED, ""), p[0]))
    chosen = ordered[-1][1]
    target = OciRef(ref.host, ref.repository, digest=chosen.digest)
    bundle_manifest = client.get_manifest(ref.repository, chosen.digest, str(target))
    bdoc = json_document(bundle_manifest.data, str(target))
    blayer = _bundle_layer(bdoc, str(target))
    if blayer is None:
        raise NotAnAitraceArtifact(f"{target}, listed as an aitrace referrer of {ref}, is not "
                                   "an aitrace bundle", hint="the referrers index is wrong")
    bnotes = as_map(bdoc.get("annotations"))
    return Located(target, blayer, dict(bnotes), referrer_of=fetched.digest, referrers=via,
                   others=tuple(d.digest for _, d in ordered[:-1]))


@dataclass(frozen=True)
class PullResult:
    """A pulled bundle: where it was written, what was asked for and what arrived."""

    located: Located
    path: Path
    size: int
    actual: str

    @property
    def ok(self) -> bool:
        """Whether the bytes that arrived are the ones the manifest names."""
        return self.actual == self.located.layer.digest

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``aitrace pull --json``)."""
        loc = self.located
        return {"reference": str(loc.ref), "file": str(self.path), "size": self.size,
                "bundle_sha256": self.actual.removeprefix("sha256:"),
                "referrer_of": loc.referrer_of, "referrers": loc.referrers,
                "other_referrers": list(loc.others), "annotations": dict(loc.annotations)}


def pull_bundle(ref: OciRef, dest: Path, *, plain_http: bool = False,
                env: Mapping[str, str] | None = None, keep_mismatch: bool = False) -> PullResult:
    """Pull the bundle ``ref`` leads to into ``dest`` (atomically; the blob digest checked).

    With ``keep_mismatch`` a blob that does not match its digest is kept (``result.ok`` is
    False) so ``aitrace verify`` can report what in it was altered; otherwise it is deleted and
    ``RegistryIntegrityError`` raised.
    """
    with RegistryClient(ref.host, plain_http=plain_http, env=env) as client:
        located = locate_bundle(client, ref)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-pull-", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            layer = located.layer
            actual = client.fetch_blob(ref.repository, layer.digest, layer.size, tmp,
                                       f"{located.ref} (bundle blob {layer.digest})")
            size = tmp.stat().st_size
            if (actual != layer.digest or size != layer.size) and not keep_mismatch:
                raise RegistryIntegrityError(
                    f"{located.ref}: the bundle blob the registry sent hashes to {actual} "
                    f"({size} bytes), not {layer.digest} ({layer.size} bytes): the registry's "
                    "copy was altered or corrupted",
                    hint="do not use it; push the bundle again from a trusted copy")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return PullResult(located, dest, size, actual)
