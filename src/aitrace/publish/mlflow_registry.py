"""The MLflow Model Registry: a new model version of the released files, with its bundle attached.

``publish_version`` (``aitrace publish``) registers the bundle's *released artifacts* — the
signed subjects, taken from the local project and checked against their digests first — as a
new version of a registered model, and attaches the bundle:

* a run in the record's experiment (``aitrace/<record name>``, or the workspace's configured
  one) holds ``model/…`` (the version's files) and ``aitrace/<bundle file>`` plus
  ``aitrace/released-files.json`` (a listing of the version's files by sha256, used only to
  *name* files inside a changed directory: the verdict never rests on it);
* the version's source is ``runs:/<run>/model`` — MLflow copies nothing itself, but a version
  made from a plain folder would read that folder for ever (API notes), so the files are
  logged into the run's artifact store once;
* the version is tagged ``aitrace.bundle`` (the bundle's artifact path in that run),
  ``aitrace.bundle_sha256``, ``aitrace.chain_head``, ``aitrace.verified_by`` (the key ids that
  verified it) and ``aitrace.record_id``.

Where files sit in the version: when the record releases exactly one directory (an MLflow model
folder, say), its contents are the version's root, so ``mlflow.pyfunc.load_model("models:/…")``
loads it; otherwise each released artifact keeps its recorded path (``dist/model.bin``).

``fetch_version`` downloads a version's bundle and files for ``aitrace verify models:/…``;
``version_file_checks`` compares every file with the released subjects: a file that changed is
named as overwritten, one that is no released artifact as added, one that is gone as missing.
MLflow keeps no content digest of registered files and lets them be overwritten afterwards —
this check is what notices.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aitrace.errors import AitraceError, InputError, WorkspaceError
from aitrace.publish.errors import (
    NotAnAitraceArtifact,
    PublishRefused,
    RegistryError,
    RegistryNotFound,
)
from aitrace.publish.refs import ModelRef
from aitrace.record.jsonio import canonical_bytes, parse_untrusted
from aitrace.verify.checks import Check, abbrev

MODEL_DIR = "model"
BUNDLE_DIR = "aitrace"
LISTING = f"{BUNDLE_DIR}/released-files.json"
LISTING_FORMAT = "aitrace.mlflow-files/v1"
TAG_BUNDLE = "aitrace.bundle"
TAG_BUNDLE_SHA256 = "aitrace.bundle_sha256"
TAG_CHAIN_HEAD = "aitrace.chain_head"
TAG_VERIFIED_BY = "aitrace.verified_by"
TAG_RECORD_ID = "aitrace.record_id"
_FILES_CHECK = "registry.files"
_FILES_TITLE = "Every file of the registered version is a released artifact, unchanged"


# =========================================================================== layout


@dataclass(frozen=True)
class ReleasedArtifact:
    """A signed subject of the bundle: its recorded path, digest, and whether it is a folder."""

    path: str
    sha256: str
    directory: bool = False


@dataclass(frozen=True)
class VersionLayout:
    """Where each released artifact sits in a model version (see the module docstring)."""

    artifacts: tuple[ReleasedArtifact, ...]

    @property
    def root(self) -> ReleasedArtifact | None:
        """The one released directory that is the version's root, if the record has one."""
        if len(self.artifacts) == 1 and self.artifacts[0].directory:
            return self.artifacts[0]
        return None

    def location(self, artifact: ReleasedArtifact) -> str:
        """The artifact's path inside the version (``""``: the version's root)."""
        return "" if artifact is self.root else artifact.path


def _placeable(path: str) -> bool:
    """Whether a recorded path can be a path inside a model version (relative, no ``..``)."""
    parts = path.split("/")
    return bool(path) and "://" not in path and not path.startswith("/") and \
        all(p not in ("", ".", "..") for p in parts)


def released_artifacts(bundle: Path, subjects: Sequence[tuple[str, str]]) -> VersionLayout:
    """The layout of ``subjects`` (name, sha256), folders told apart by the release step.

    ``subjects`` are the statement's (``VerifyReport.subjects``); whether one is a directory
    comes from the product of the same path in the bundle's release step.
    """
    from aitrace.bundle.format import MANIFEST_MEMBER
    from aitrace.bundle.read import OpenedBundle
    from aitrace.bundle.release import release_source

    kinds: dict[str, str] = {}
    with contextlib.suppress(AitraceError), OpenedBundle.open(bundle) as ob:
        step, _ = release_source(ob.steps)
        kinds = {p.path: p.type for p in step.products} if step else {}
    return VersionLayout(tuple(ReleasedArtifact(n, s, kinds.get(n) == "directory")
                               for n, s in subjects if n != MANIFEST_MEMBER))


# =========================================================================== MLflow access


@contextlib.contextmanager
def _mlflow() -> Iterator[None]:
    """MLflow quiet, its errors turned into ours.

    No progress bars, no INFO lines, and nothing on stdout: MLflow writes "View run … at: <the
    tracking server's URL>" there when a run ends, which would break ``REF=$(aitrace publish
    …)`` and could show credentials embedded in the URL.
    """
    from aitrace.evidence.mlflow.link import quiet_mlflow

    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        with quiet_mlflow(), contextlib.redirect_stdout(io.StringIO()):
            from mlflow.exceptions import MlflowException

            try:
                yield
            except MlflowException as exc:
                code = getattr(exc, "error_code", "")
                text = str(getattr(exc, "message", exc)).splitlines()[0][:300]
                if code == "RESOURCE_DOES_NOT_EXIST" or "not found" in text:
                    raise RegistryNotFound(f"MLflow: {text}",
                                           hint="check the model name and version "
                                                "(and --tracking-uri)") from None
                raise RegistryError(f"MLflow refused the request: {text}",
                                    hint="check --tracking-uri and the server") from None
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def resolve_tracking_uri(explicit: str | None) -> str:
    """``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else the current workspace's store."""
    if explicit:
        return explicit
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    from aitrace.evidence.mlflow.link import tracking_uri
    from aitrace.store.workspace import Workspace

    try:
        return tracking_uri(Workspace.find())
    except WorkspaceError:
        raise InputError("no MLflow tracking server to use",
                         hint="pass --tracking-uri URI, set MLFLOW_TRACKING_URI, or run inside "
                              "the aitrace workspace of the record") from None


def _experiment(client: Any, uri: str, record_name: str) -> str:
    """The experiment publish runs go to: the workspace's for its own store, else by name."""
    from aitrace.evidence.mlflow.link import (
        artifact_location,
        ensure_experiment,
        experiment_name,
        tracking_uri,
    )
    from aitrace.store.workspace import Workspace

    with contextlib.suppress(WorkspaceError):
        ws = Workspace.find()
        if tracking_uri(ws) == uri:
            return ensure_experiment(client, experiment_name(ws), artifact_location(ws, uri))
    location = None
    if uri.startswith("sqlite:///"):
        # A local store keeps artifacts beside its database, never in ./mlruns of the cwd.
        db = Path(unquote(uri[len("sqlite:///"):].split("?", 1)[0]))
        location = (db.resolve().parent / "mlruns").as_uri()
    return ensure_experiment(client, f"aitrace/{record_name}", location)


def _local_sources(layout: VersionLayout, root: Path) -> list[tuple[ReleasedArtifact, Path]]:
    """Each released artifact's local copy under ``root``, its digest checked first."""
    from aitrace.store.digest import Hasher

    out = []
    hasher = Hasher()
    for a in layout.artifacts:
        if not _placeable(a.path):
            raise PublishRefused(f"the released artifact '{a.path}' is not a path inside the "
                                 "project, so it cannot be placed in a model version",
                                 hint="release files below the project root")
        local = root / a.path
        if not local.exists():
            raise InputError(f"the released artifact '{a.path}' is not in {root}",
                             hint="run in the project that made the record, or pass --from "
                                  "DIR (the directory the recorded paths are relative to)")
        got = hasher.digest(local).sha256
        if got != a.sha256:
            raise PublishRefused(
                f"{local} hashes to {abbrev(got)} but the bundle released {abbrev(a.sha256)}: "
                "it changed after the release", hint="publish the files the record released "
                                                     "(or record and bundle a new release)")
        out.append((a, local))
    return out


def _listing(layout: VersionLayout, sources: Sequence[tuple[ReleasedArtifact, Path]]) -> bytes:
    from aitrace.store.digest import Hasher, hash_file

    files: list[dict[str, Any]] = []
    for a, local in sources:
        loc = layout.location(a)
        if not a.directory:
            sha, size = hash_file(local)
            files.append({"path": loc, "sha256": sha, "size": size, "released": a.path})
            continue
        manifest: Any = Hasher().manifest(local)
        for e in manifest["entries"]:
            if "sha256" in e:
                files.append({"path": posixpath.join(loc, e["path"]) if loc else e["path"],
                              "sha256": e["sha256"], "size": e["size"], "released": a.path})
    return canonical_bytes({"format": LISTING_FORMAT,
                            "files": sorted(files, key=lambda f: str(f["path"]))})


@dataclass(frozen=True)
class Published:
    """A registered model version carrying a bundle."""

    ref: ModelRef
    run_id: str
    tracking_uri: str
    bundle_sha256: str
    files: tuple[str, ...]
    verified_by: tuple[str, ...]
    alias: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``aitrace publish --json``)."""
        return {"model": str(self.ref), "name": self.ref.name, "version": self.ref.version,
                "run_id": self.run_id, "tracking_uri": self.tracking_uri,
                "bundle_sha256": self.bundle_sha256, "files": list(self.files),
                "verified_by": list(self.verified_by), "alias": self.alias}


def publish_version(bundle: Path, *, name: str, subjects: Sequence[tuple[str, str]],
                    verified_by: Sequence[str], chain_head: str, record_id: str,
                    record_name: str, source_root: Path, tracking_uri: str) -> Published:
    """Register the released files of a *verified* bundle as a new version of ``name``.

    The caller verified the bundle (``aitrace.publish.remote.publish_bundle`` does) and passes
    what the verification established: the signed subjects and the verifying key ids.

    Raises:
        PublishRefused: a released file changed since the release, or is not in the project.
        InputError: a released file is not under ``source_root``.
        RegistryError: MLflow refused (``RegistryNotFound`` for a missing model or server).
    """
    from aitrace.evidence.mlflow.link import public_uri
    from aitrace.store.digest import hash_file

    layout = released_artifacts(bundle, subjects)
    if not layout.artifacts:
        raise PublishRefused(f"{bundle} releases no model artifact, so there is nothing to "
                             "register", hint="record a deployment (or training) step whose "
                                              "outputs are the model, and bundle again")
    sources = _local_sources(layout, source_root)
    bundle_sha, _ = hash_file(bundle)
    with _mlflow():
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        try:  # first: a name MLflow refuses stops us before anything is uploaded
            client.create_registered_model(name, description="Model versions published by "
                                                             "aitrace with their record")
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise
        experiment_id = _experiment(client, tracking_uri, record_name)
        run = client.create_run(experiment_id, run_name=f"publish-{name}",
                                tags={TAG_RECORD_ID: record_id, "aitrace.run_role": "publish",
                                      TAG_BUNDLE_SHA256: bundle_sha})
        run_id = run.info.run_id
        for a, local in sources:
            loc = layout.location(a)
            if a.directory:
                client.log_artifacts(run_id, str(local),
                                     posixpath.join(MODEL_DIR, loc) if loc else MODEL_DIR)
            else:
                client.log_artifact(run_id, str(local),
                                    posixpath.join(MODEL_DIR, posixpath.dirname(loc)).rstrip("/"))
        client.log_artifact(run_id, str(bundle), BUNDLE_DIR)
        client.log_text(run_id, _listing(layout, sources).decode("utf-8"), LISTING)
        client.set_terminated(run_id)
        tags = {TAG_BUNDLE: f"{BUNDLE_DIR}/{bundle.name}", TAG_BUNDLE_SHA256: bundle_sha,
                TAG_CHAIN_HEAD: chain_head, TAG_VERIFIED_BY: ",".join(verified_by),
                TAG_RECORD_ID: record_id}
        mv = client.create_model_version(
            name, source=f"runs:/{run_id}/{MODEL_DIR}", run_id=run_id, tags=tags,
            description=f"aitrace record {record_name} ({record_id}), chain head "
                        f"sha256:{chain_head}")
    files = tuple(a.path + ("/ (the version's root)" if a is layout.root else "")
                  for a, _ in sources)
    return Published(ref=ModelRef(name, version=str(mv.version)), run_id=run_id,
                     tracking_uri=public_uri(tracking_uri), bundle_sha256=bundle_sha,
                     files=files, verified_by=tuple(verified_by))


def set_alias(ref: ModelRef, alias: str, tracking_uri: str) -> None:
    """Point ``alias`` of the registered model at ``ref``'s version."""
    with _mlflow():
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        client.set_registered_model_alias(ref.name, alias, str(ref.version))


# =========================================================================== fetching


@dataclass(frozen=True)
class FetchedVersion:
    """A model version downloaded for verification."""

    ref: ModelRef
    bundle: Path
    bundle_sha256: str
    published_sha256: str
    files: Path
    listing: dict[str, str]


def fetch_version(ref: ModelRef, dest: Path, tracking_uri: str, *,
                  with_files: bool = True) -> FetchedVersion:
    """Download the version's bundle and (``with_files``) its files into ``dest``.

    Raises:
        RegistryNotFound: no such registered model, version or alias.
        NotAnAitraceArtifact: the version carries no aitrace bundle tag.
    """
    from aitrace.store.digest import hash_file

    with _mlflow():
        import mlflow
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        if ref.version is None:
            try:
                mv = client.get_model_version_by_alias(ref.name, str(ref.alias))
            except MlflowException as exc:
                raise RegistryNotFound(f"{ref}: the registered model has no alias "
                                       f"'{ref.alias}' ({str(exc).splitlines()[0][:200]})",
                                       hint="check the name and alias") from None
        else:
            mv = client.get_model_version(ref.name, ref.version)
        pinned = ref.at(str(mv.version))
        tags = dict(mv.tags or {})
        path = tags.get(TAG_BUNDLE, "")
        if not path or not mv.run_id:
            raise NotAnAitraceArtifact(f"{pinned} carries no aitrace bundle (no {TAG_BUNDLE} tag)",
                                       hint="register versions with `aitrace publish`")
        if not path.startswith(f"{BUNDLE_DIR}/") or not _placeable(path):
            raise NotAnAitraceArtifact(f"{pinned}: its {TAG_BUNDLE} tag '{path}' is not a "
                                       f"path under {BUNDLE_DIR}/",
                                       hint="the tag was edited; publish the version again")
        (dest / "bundle").mkdir(parents=True)
        local = Path(client.download_artifacts(mv.run_id, path, str(dest / "bundle")))
        listing: dict[str, str] = {}
        with contextlib.suppress(MlflowException, OSError, AitraceError):
            raw = Path(client.download_artifacts(mv.run_id, LISTING, str(dest / "listing")))
            doc = parse_untrusted(raw.read_bytes(), f"{pinned}: {LISTING}", error=RegistryError)
            listing = {str(f["path"]): str(f["sha256"]) for f in doc.get("files", [])
                       if isinstance(f, dict) and "path" in f and "sha256" in f}
        files = dest / "files"
        files.mkdir()
        if with_files:
            uri = client.get_model_version_download_uri(ref.name, str(mv.version))
            files = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(files), tracking_uri=tracking_uri))
    return FetchedVersion(ref=pinned, bundle=local, bundle_sha256=hash_file(local)[0],
                          published_sha256=tags.get(TAG_BUNDLE_SHA256, ""), files=files,
                          listing=listing)


# =========================================================================== checking


def _tree(root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            out[p.relative_to(root).as_posix()] = p
    return out


def version_file_checks(fetched: FetchedVersion, layout: VersionLayout) -> list[Check]:
    """One check per problem (or one pass): every file of the version against the subjects."""
    from aitrace.store.digest import Hasher, hash_file

    ref = fetched.ref
    tree = _tree(fetched.files) if fetched.files.is_dir() else {"": fetched.files}
    problems: list[str] = []
    claimed: set[str] = set()
    for a in layout.artifacts:
        if not _placeable(a.path):
            problems.append(f"the released artifact '{a.path}' is not a path a model version "
                            "can hold")
            continue
        loc = layout.location(a)
        if not a.directory:
            claimed.add(loc)
            if loc not in tree:
                problems.append(f"the released file '{loc}' is missing from {ref}")
            elif (sha := hash_file(tree[loc])[0]) != a.sha256:
                problems.append(f"file '{loc}' of {ref} has sha256 {abbrev(sha)} but the record "
                                f"released {abbrev(a.sha256)}: it was overwritten after "
                                "publishing")
            continue
        prefix = f"{loc}/" if loc else ""
        inside = sorted(p for p in tree if p.startswith(prefix))
        claimed.update(inside)
        base = fetched.files / loc if loc else fetched.files
        if not inside:
            problems.append(f"the released directory '{a.path}' is missing from {ref}")
            continue
        got = Hasher().digest(base).sha256
        if got == a.sha256:
            continue
        named = []
        for p in inside:
            expected = fetched.listing.get(p)
            if expected is None:
                named.append(f"file '{p}' of {ref} is not part of the released directory "
                             f"'{a.path}': it was added after publishing")
            elif hash_file(tree[p])[0] != expected:
                named.append(f"file '{p}' of {ref} (in the released directory '{a.path}') was "
                             "overwritten after publishing")
        named += [f"file '{p}' of the released directory '{a.path}' is missing from {ref}"
                  for p in sorted(fetched.listing) if p.startswith(prefix) and p not in tree]
        problems += named or [f"the directory '{a.path}' in {ref} hashes to {abbrev(got)} but "
                              f"the record released {abbrev(a.sha256)}"]
    problems += [f"file '{p}' of {ref} is not a released artifact: it was added after "
                 "publishing" for p in sorted(set(tree) - claimed)]
    if not problems:
        return [Check(_FILES_CHECK, _FILES_TITLE, "passed",
                      f"{len(tree)} file(s) of {ref} match the released artifacts")]
    return [Check(_FILES_CHECK, _FILES_TITLE, "failed", p) for p in problems]
