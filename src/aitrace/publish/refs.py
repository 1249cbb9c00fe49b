"""The two remote references aitrace reads and writes bundles at, parsed once at the edge.

* ``oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]`` — an OCI registry, a repository, and a tag or a
  digest (a digest pins the content; a tag given with it is kept only for display). The
  grammar is the OCI distribution spec's (and Docker's): lowercase repository components joined
  by ``/``, tags of at most 128 characters. Only ``sha256`` digests are accepted.
* ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` — a version of an MLflow registered model,
  as MLflow itself spells it.

Anything else is a local path (``parse_remote`` returns ``None``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from aitrace.errors import InputError

OCI_SCHEME = "oci://"
MODELS_SCHEME = "models:/"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST_NAME = rf"{_LABEL}(?:\.{_LABEL})*"
_HOST_RE = re.compile(rf"^(?:{_HOST_NAME}|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_VERSION_RE = re.compile(r"^[1-9][0-9]*$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

_OCI_FORM = "oci://HOST[:PORT]/REPOSITORY:TAG or oci://HOST[:PORT]/REPOSITORY@sha256:<64 hex>"
_MODEL_FORM = "models:/NAME/VERSION or models:/NAME@ALIAS"


@dataclass(frozen=True)
class OciRef:
    """An artifact in an OCI registry: ``host`` (with port), ``repository``, tag and/or digest."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What the registry is asked for: the digest when there is one, else the tag."""
        ref = self.digest or self.tag
        if ref is None:
            raise InputError(f"{self} names no tag or digest", hint=f"use {_OCI_FORM}")
        return ref

    def at(self, digest: str) -> OciRef:
        """The same artifact pinned to ``digest`` (what was actually fetched or pushed)."""
        return replace(self, digest=digest)

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{OCI_SCHEME}{self.host}/{self.repository}{tag}{digest}"


@dataclass(frozen=True)
class ModelRef:
    """A version of an MLflow registered model, by number or by alias."""

    name: str
    version: str | None = None
    alias: str | None = None

    def at(self, version: str) -> ModelRef:
        """The same registered model pinned to ``version`` (what an alias resolved to)."""
        return ModelRef(self.name, version=version)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{MODELS_SCHEME}{self.name}/{self.version}"
        return f"{MODELS_SCHEME}{self.name}@{self.alias}"


def parse_oci(text: str) -> OciRef:
    """Parse ``oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]`` (``InputError`` naming the part)."""
    if not text.startswith(OCI_SCHEME):
        raise InputError(f"'{text}' is not an oci:// reference", hint=f"use {_OCI_FORM}")
    rest = text[len(OCI_SCHEME):]
    host, sep, path = rest.partition("/")
    if not sep or not host or not path:
        raise InputError(f"'{text}' names no repository", hint=f"use {_OCI_FORM}")
    if not _HOST_RE.match(host):
        raise InputError(f"'{text}': '{host}' is not a registry host[:port]",
                         hint=f"use {_OCI_FORM}")
    name_tag, at, digest = path.partition("@")
    if at and not DIGEST_RE.match(digest):
        raise InputError(f"'{text}': '{digest}' is not a sha256 digest",
                         hint="a digest is sha256: followed by 64 lowercase hex digits")
    repository, colon, tag = name_tag.partition(":")
    if not _REPO_RE.match(repository):
        raise InputError(
            f"'{text}': '{repository}' is not a valid repository name",
            hint="lowercase letters and digits, separated by '.', '_', '__' or '-', in "
                 "components joined by '/'")
    if colon and not _TAG_RE.match(tag):
        raise InputError(f"'{text}': '{tag}' is not a valid tag",
                         hint="a tag is up to 128 letters, digits, '_', '.' or '-', not "
                              "starting with '.' or '-'")
    return OciRef(host=host, repository=repository, tag=tag if colon else None,
                  digest=digest if at else None)


def parse_model(text: str) -> ModelRef:
    """Parse ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` (``InputError`` otherwise)."""
    if not text.startswith(MODELS_SCHEME):
        raise InputError(f"'{text}' is not a models:/ reference", hint=f"use {_MODEL_FORM}")
    rest = text[len(MODELS_SCHEME):]
    if "/" in rest:
        name, _, version = rest.rpartition("/")
        if name and "/" not in name and _VERSION_RE.match(version):
            return ModelRef(name=name, version=version)
    elif "@" in rest:
        name, _, alias = rest.rpartition("@")
        if name and _ALIAS_RE.match(alias):
            return ModelRef(name=name, alias=alias)
    raise InputError(f"'{text}' is not a model version reference",
                     hint=f"use {_MODEL_FORM} (a version is a number, e.g. models:/fraud/3)")


def parse_remote(text: str) -> OciRef | ModelRef | None:
    """The remote reference ``text`` names, or ``None`` when it is a local path."""
    if text.startswith(OCI_SCHEME):
        return parse_oci(text)
    if text.startswith(MODELS_SCHEME):
        return parse_model(text)
    return None
