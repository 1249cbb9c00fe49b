"""The files of a recorded folder: its manifest, kept as the object named by its digest.

A folder's digest is the SHA-256 of the canonical JSON of its manifest
(``{"format": "aitrace.dir/v1", "entries": [{path, sha256, size}, ...]}``, README "Formats").
When a step produces a folder, the tracker stores that manifest in the content-addressed
object store, where its own digest — the folder's — names it. Chain of custody and the ML-BOM
read it back with :func:`directory_files` to account for a file inside the folder that a later
step reads. Bytes that do not hash to the folder's digest are never believed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aitrace.record.refs import bytes_match

if TYPE_CHECKING:
    from aitrace.record.models import Artifact, Step

DIR_FORMAT = "aitrace.dir/v1"

ObjectReader = Callable[[str], "bytes | None"]
"""Reads a content-addressed object by sha256 (a workspace's or a bundle's); ``None``: absent."""


def directory_files(step: Step, artifact: Artifact,
                    read_object: ObjectReader | None) -> Mapping[str, str] | None:
    """The files of a recorded folder, ``{relative path: sha256}``, or ``None`` when unknown.

    ``step`` is where the folder was recorded (a record format that lists a folder's files in
    the step itself would be read from there; today the listing lives beside the step).
    """
    del step
    if artifact.type != "directory" or artifact.sha256 is None or read_object is None:
        return None
    try:
        data = read_object(artifact.sha256)
    except Exception:  # noqa: BLE001 - an unreadable listing is an unknown listing
        return None
    if data is None or not bytes_match(data, artifact.sha256):
        return None
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
