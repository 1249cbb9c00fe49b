r"""The files of a recorded folder, read back from the object its own digest names.

Format v2 names a folder by its in-toto ``dirHash`` — the SHA-256 of its sorted
``"<sha256>  <path>\n"`` listing — and the tracker stores that listing as the object of that
digest. Format v1 named a folder by the SHA-256 of its ``aitrace.dir/v1`` manifest and stored the
manifest under it. Either way the bytes are believed only when they hash to the folder's
digest. Chain of custody and the ML-BOM use :func:`directory_files` to account for a file
inside a produced folder that a later step reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aitrace.errors import AitraceError
from aitrace.record.dirhash import parse_listing
from aitrace.record.refs import bytes_match

if TYPE_CHECKING:
    from aitrace.record.models import Artifact, Step

DIR_FORMAT = "aitrace.dir/v1"

ObjectReader = Callable[[str], "bytes | None"]
"""Reads a content-addressed object by sha256 (a workspace's or a bundle's); ``None``: absent."""


def directory_files(step: Step, artifact: Artifact,
                    read_object: ObjectReader | None) -> Mapping[str, str] | None:
    """The files of a recorded folder, ``{relative path: sha256}``, or ``None`` when unknown.

    ``step`` is where the folder was recorded (kept for a format that would list a folder's
    files in the step itself; today the listing lives beside the step, content-addressed).
    """
    del step
    if artifact.type != "directory" or read_object is None:
        return None
    digest = artifact.dirHash or artifact.aitrace_dir_v1 or artifact.sha256
    if digest is None:
        return None
    try:
        data = read_object(digest)
    except Exception:  # noqa: BLE001 - an unreadable listing is an unknown listing
        return None
    if data is None or not bytes_match(data, digest):
        return None
    if artifact.dirHash is not None:
        try:
            return dict(parse_listing(data, f"the listing of {artifact.path}"))
        except AitraceError:
            return None
    return _v1_manifest(data)


def _v1_manifest(data: bytes) -> Mapping[str, str] | None:
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != DIR_FORMAT or \
            not isinstance(doc.get("entries"), list):
        return None
    return {str(e["path"]): str(e["sha256"]) for e in doc["entries"]
            if isinstance(e, dict) and isinstance(e.get("path"), str)
            and isinstance(e.get("sha256"), str)}
