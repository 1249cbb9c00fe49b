"""The entry points of one group, found without parsing every installed distribution.

``importlib.metadata.entry_points(group=...)`` imports the email/metadata machinery and parses the
``entry_points.txt`` of every distribution on ``sys.path`` (50–70 ms for the ~150 an MLflow + GX
environment holds) — paid by every ``aitrace verify`` and every recorded step to learn that few or
no aitrace plug-ins are installed. Here the metadata directories are listed and their
``entry_points.txt`` read as bytes; only the files that name the group are parsed. The result is
importlib's (the first distribution of a name on ``sys.path`` wins; the same ``name = value``
syntax); where a plain directory scan cannot be sure to see what importlib sees (a zip or egg on
``sys.path``, a distribution finder of another kind), importlib is asked instead.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_METADATA_DIR = (".dist-info", ".egg-info")
# importlib.metadata.EntryPoint's value syntax: module[:attr.attr] [extras]
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


@dataclass(frozen=True)
class EntryPoint:
    """One entry point of an installed distribution."""

    name: str
    value: str
    group: str
    dist_name: str | None
    dist_version: str | None

    def load(self) -> Any:
        """Import the object the entry point names (as ``importlib.metadata`` does)."""
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"entry point {self.name!r} has a malformed value {self.value!r}")
        module = importlib.import_module(match.group("module"))
        attrs = filter(None, (match.group("attr") or "").split("."))
        return functools.reduce(getattr, attrs, module)


def _normalized(dir_name: str) -> str:
    """The distribution name importlib dedupes by (``Foo.Bar-1.0.dist-info`` → ``foo_bar``)."""
    stem = dir_name.rsplit(".", 1)[0]
    return re.sub(r"[-_.]+", "-", stem.partition("-")[0]).lower().replace("-", "_")


def _path_finder(finder: object) -> bool:
    """Whether ``finder`` finds distributions by searching ``sys.path`` (as this scan does).

    That is the interpreter's ``PathFinder``, or the ``importlib_metadata`` backport's
    ``MetadataPathFinder``, which takes its place once some library imports the backport.
    """
    from importlib.machinery import PathFinder

    cls = finder if isinstance(finder, type) else type(finder)
    return finder is PathFinder or (cls.__name__ == "MetadataPathFinder" and cls.__module__ in
                                    ("importlib.metadata", "importlib_metadata"))


def _only_path_finder() -> bool:
    return all(_path_finder(f) or not hasattr(f, "find_distributions") for f in sys.meta_path)


def _entries(text: str, group: str) -> Iterator[tuple[str, str]]:
    """``(name, value)`` of one section of an ``entry_points.txt``."""
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            yield name.strip(), value.strip()


def _header(path: str, field: str) -> str | None:
    """One header of a distribution's core metadata (``METADATA``, or ``PKG-INFO``)."""
    for name in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, name), encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if not line.strip():
                        break  # the headers end at the first blank line
                    key, sep, value = line.partition(":")
                    if sep and key.strip().lower() == field.lower():
                        return value.strip()
        except OSError:
            continue
        return None
    return None


def _scan(group: str) -> list[EntryPoint] | None:
    """The group's entry points from a plain directory scan, or ``None`` when unsure."""
    if not _only_path_finder():
        return None
    marker = f"[{group}]".encode()
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in sys.path:
        root = entry or "."
        if not os.path.isdir(root):
            if os.path.exists(root):
                return None  # a zip (or other file) on sys.path: let importlib read it
            continue
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            low = name.lower()
            if low.endswith(".egg"):
                return None
            if not low.endswith(_METADATA_DIR):
                continue
            key = _normalized(name)
            if key in seen:
                continue
            seen.add(key)
            path = os.path.join(root, name)
            try:
                with open(os.path.join(path, "entry_points.txt"), "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            if marker not in data:
                continue
            found.extend(EntryPoint(name=n, value=v, group=group,
                                    dist_name=_header(path, "Name"),
                                    dist_version=_header(path, "Version"))
                         for n, v in _entries(data.decode("utf-8", "replace"), group))
    return found


def group_entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of ``group`` that ``importlib.metadata.entry_points`` would return."""
    found = _scan(group)
    if found is not None:
        return found
    from importlib import metadata

    return [EntryPoint(name=ep.name, value=ep.value, group=group,
                       dist_name=ep.dist.name if ep.dist is not None else None,
                       dist_version=ep.dist.version if ep.dist is not None else None)
            for ep in metadata.entry_points(group=group)]
