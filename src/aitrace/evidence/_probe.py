"""The interpreter probe: what a Python environment holds, from that interpreter's own view.

``aitrace run`` runs this file's source with the interpreter that ran the user's command
(``python -c <source>``, in the command's working directory and environment), because that
interpreter — often older than aitrace's, and in another virtualenv — is the one whose packages
made the model. It imports only the standard library (it must run on Python 3.8 and later,
with no aitrace installed there) and never imports the user's code: the working directory is
taken off ``sys.path`` before anything else is imported. In aitrace's own process the same
``scan`` is called directly.

Protocol: the cached ``key`` of a previous scan may be given as JSON on stdin; the probe prints
one JSON object (ASCII) with ``python``, ``implementation``, ``executable``, ``prefix``,
``base_prefix``, ``key`` and ``distributions`` — ``null`` when the key still matches, else the
raw metadata fields of every installed distribution (aitrace normalises licences itself).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and sys.path and sys.path[0] in ("", "."):
    del sys.path[0]  # -c puts the working directory first: never import from it

import json  # noqa: E402 - after the sys.path fix above, on purpose
import os  # noqa: E402
import platform  # noqa: E402
from typing import Any  # noqa: E402

_FIELDS = ("Name", "Version", "License", "License-Expression", "Summary", "Home-page")
_LISTS = ("Classifier", "Project-URL")


def state() -> list[object]:
    """What the installed set depends on: the interpreter and each import folder's mtime.

    Installing, upgrading or removing a distribution creates or deletes its ``*.dist-info``
    folder (and editable installs add ``.pth`` files), which changes the mtime of the folder
    that holds it.
    """
    out: list[object] = [sys.executable, sys.version]
    cwd = os.getcwd()
    for entry in sys.path:
        try:
            st = os.stat(entry or ".")
        except OSError:
            continue
        if os.path.abspath(entry or ".") == cwd and os.path.isdir(cwd):
            # The working directory (on sys.path under ``python -m``) changes whenever a step
            # writes a file there; only the metadata folders in it matter.
            out.append([entry, sorted(n for n in os.listdir(cwd)
                                      if n.endswith((".dist-info", ".egg-info", ".egg")))])
            continue
        out.append([entry, st.st_mtime_ns, st.st_ino])
    return out


def distributions() -> list[dict[str, object]]:
    """The raw core-metadata fields of every installed distribution (first of each name)."""
    from importlib import metadata

    seen: dict[str, dict[str, object]] = {}
    for dist in metadata.distributions():
        meta: Any = dist.metadata
        name = meta.get("Name")
        if not name:
            continue
        key = str(name).lower().replace("_", "-")
        if key in seen:
            continue
        entry: dict[str, object] = {}
        for f in _FIELDS:
            value = meta.get(f)
            if value:
                entry[f] = str(value)
        entry["Version"] = str(dist.version)
        for f in _LISTS:
            values = meta.get_all(f) or []
            if f == "Classifier":
                values = [v for v in values if str(v).startswith("License ::")]
            if values:
                entry[f] = [str(v) for v in values]
        seen[key] = entry
    return [seen[k] for k in sorted(seen)]


def scan(known_key: object = None) -> dict[str, object]:
    """This interpreter and its distributions (``None`` when ``known_key`` still matches)."""
    key = state()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "key": key,
        "distributions": None if known_key == key else distributions(),
    }


def main() -> None:
    """Read the known key from stdin, print the scan as ASCII JSON."""
    text = sys.stdin.read() if not sys.stdin.isatty() else ""
    try:
        known = json.loads(text) if text.strip() else None
    except ValueError:
        known = None
    sys.stdout.write(json.dumps(scan(known), ensure_ascii=True))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
