"""Plug-in discovery's directory scan finds exactly what importlib.metadata finds."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from aitrace.evidence.model import _entry_points
from aitrace.evidence.model._entry_points import group_entry_points


def _key(eps: list[metadata.EntryPoint]) -> list[tuple[str, str, str, str]]:
    return sorted((e.name, e.value, e.dist.name, e.dist.version) if e.dist else
                  (e.name, e.value, "", "") for e in eps)


def _ours(group: str) -> list[tuple[str, str, str, str]]:
    return sorted((e.name, e.value, e.dist_name or "", e.dist_version or "")
                  for e in group_entry_points(group))


@pytest.mark.parametrize("group", ["aitrace.plugins", "console_scripts",
                                   "mlflow.run_context_provider", "no.such.group"])
def test_same_entry_points_as_importlib(group: str) -> None:
    assert _entry_points._scan(group) is not None  # this venv: the fast path is taken
    assert _ours(group) == _key(list(metadata.entry_points(group=group)))


def _dist(root: Path, dir_name: str, text: str) -> None:
    d = root / dir_name
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dir_name.split('-')[0]}\n"
                                "Version: 1.0\n")
    (d / "entry_points.txt").write_text(text)


def test_first_distribution_of_a_name_wins(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _dist(first, "My_Plugin-2.0.dist-info", "[other.group]\nx = m:x\n")
    _dist(second, "my.plugin-1.0.dist-info", "[aitrace.plugins]\nshadowed = m:P\n")
    _dist(second, "real_plugin-1.0.dist-info", "[aitrace.plugins]\nreal = r:P\n")
    monkeypatch.setattr(sys, "path", [str(first), str(second)])
    got = _ours("aitrace.plugins")
    assert got == _key(list(metadata.entry_points(group="aitrace.plugins")))
    assert got == [("real", "r:P", "real_plugin", "1.0")]


def test_zip_on_sys_path_defers_to_importlib(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "lib.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty ZIP
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert _entry_points._scan("aitrace.plugins") is None
    assert group_entry_points("aitrace.plugins") == []


def test_load_imports_the_named_object() -> None:
    ep = _entry_points.EntryPoint(name="x", value="aitrace.evidence.model._entry_points:"
                                  "EntryPoint.load [extra]", group="g", dist_name=None,
                                  dist_version=None)
    assert ep.load() is _entry_points.EntryPoint.load
    with pytest.raises(ValueError, match="malformed"):
        _entry_points.EntryPoint(name="x", value="not a value!", group="g", dist_name=None,
                                 dist_version=None).load()


def test_a_foreign_distribution_finder_defers_to_importlib(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Finder:
        def find_spec(self, *args: object) -> None:
            return None

        def find_distributions(self, *args: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert _entry_points._scan("aitrace.plugins") is None
    assert _ours("aitrace.plugins") == _key(list(metadata.entry_points(group="aitrace.plugins")))


def test_the_importlib_metadata_backport_finder_is_a_path_finder() -> None:
    # Importing the backport (mlflow does) replaces the interpreter's distribution finder.
    pytest.importorskip("importlib_metadata")
    assert _entry_points._scan("aitrace.plugins") is not None
