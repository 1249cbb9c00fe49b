"""The handle a running step gives its code: ``StepRecorder`` (it satisfies ``StepHandle``).

Inputs are hashed when declared, outputs when the step ends (globs expanded then, links out of
the project refused, untouched outputs marked ``unchanged``); evidence is stored content-
addressed as it is attached. What the step holds so far is read with ``snapshot()``; evidence
sources see a frozen ``FinishingStep`` and never reach into the recorder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace.errors import InputError, user_facing
from aitrace.hooks.capture import capture_actor
from aitrace.hooks.handle import (
    Contribution,
    FinishingStep,
    Launch,
    StepContributor,
    StepOptions,
    data_checker,
    read_license,
)
from aitrace.hooks.outputs import OutputWatch, unbound_warning
from aitrace.hooks.redact import scrub, scrub_tokens
from aitrace.hooks.values import clean_metrics, clean_params
from aitrace.record.jsonio import canonical_bytes, document_bytes, legacy_canonical_bytes
from aitrace.record.models import (
    STEP_FORMAT_V1,
    Artifact,
    CodeVersion,
    Command,
    Environment,
    EvidenceRef,
    MlflowLink,
    Step,
    StepStatus,
    Subject,
    subject_for,
)
from aitrace.record.refs import DIR_HASH, SHA256, file_uri_path, is_remote, is_uri, normalize_sha256
from aitrace.record.stages import EVIDENCE_SBOM, SOURCE_ANY_STAGE_ROLES, SOURCE_STAGES, StageId
from aitrace.record.times import utc_now
from aitrace.store.digest import DigestCache, Hasher, Progress, link_escape
from aitrace.store.workspace import Workspace, new_id

if TYPE_CHECKING:
    pass


class StepRecorder:
    """The handle a running stage gives its code: declare outputs, log values, attach evidence.

    It satisfies ``aitrace.hooks.handle.StepHandle``; what the step holds so far is read with
    ``snapshot()``. Nothing outside the hooks touches its internal state.
    """

    def __init__(self, workspace: Workspace, stage: StageId, *, description: str | None,
                 progress: Progress | None) -> None:
        self._workspace = workspace
        self._stage: StageId = stage
        self._id = new_id()
        self._record_id = workspace.record.id
        self.description = description
        self.started_at = utc_now()
        self.ended_at: str | None = None
        self.actor = capture_actor()
        self.command: Command | None = None
        self.code: CodeVersion | None = None
        self.environment: Environment | None = None
        self.materials: list[Artifact] = []
        self.products: list[Artifact] = []
        self.evidence: list[EvidenceRef] = []
        self.mlflow: list[MlflowLink] = []
        self.params: dict[str, str] = {}
        self.metrics: dict[str, float] = {}
        self.status: StepStatus | None = None
        self.error: str | None = None
        self.exit_code: int | None = None
        self.options = StepOptions()
        self.contributors: Sequence[StepContributor] = ()
        self._mlflow_stores: list[str] = []
        self._license_warned: set[str] = set()
        self._declared_outputs: list[tuple[str, dict[str, Any]]] = []
        # The chain head's format: a workspace not yet migrated goes on recording v1 steps.
        self._format = workspace.append_format()
        self.launch: Launch | None = None
        self.watch = OutputWatch()
        self._hasher = Hasher(cache=DigestCache(workspace.digest_cache_path),
                              progress=progress, legacy_dirs=self._format == STEP_FORMAT_V1)

    # ---------------------------------------------------------------- identity

    @property
    def id(self) -> str:
        """The step's id."""
        return self._id

    @property
    def stage(self) -> StageId:
        """The stage this step records."""
        return self._stage

    @property
    def record_id(self) -> str:
        """The record the step belongs to."""
        return self._record_id

    @property
    def workspace(self) -> Workspace:
        """The workspace the step is recorded in."""
        return self._workspace

    # ---------------------------------------------------------------- artifacts

    def _artifact(self, path: str | os.PathLike[str], *, origin: str | None,
                  license: str | None, role: str | None, sha256: str | None = None) -> Artifact:
        text = os.fspath(path)
        origin = scrub(origin) if origin else origin
        license = self._license(license)
        if sha256 is not None:
            sha256 = normalize_sha256(sha256, what=f"{text}: sha256")
        if is_remote(text):
            return Artifact(path=scrub(text), type="uri", sha256=sha256, origin=origin,
                            license=license, role=role)
        real = Path(file_uri_path(text) or text)
        self._refuse_link_escape(str(real))
        d = self._hasher.digest(real)
        if sha256 is not None and sha256 != d.sha256:
            raise InputError(f"{text}: expected {d.algorithm} {sha256} but it hashes to "
                             f"{d.sha256}", hint="the data changed; update the expected digest")
        if d.listing is not None:  # a v2 directory: its listing is the object of its dirHash
            self._workspace.put_object(d.listing)
        dir_hash = d.sha256 if d.algorithm == DIR_HASH else None
        # A token in a file name (data/ghp_…/x.csv) is not recorded either.
        return Artifact(path=scrub_tokens(self._workspace.relpath(real)), type=d.type,
                        sha256=None if dir_hash else d.sha256, dirHash=dir_hash,
                        size=d.size, origin=origin, license=license, role=role)

    def _refuse_link_escape(self, text: str) -> None:
        """Refuse a project path that a symbolic link takes out of the project."""
        escape = link_escape(Path(text), self._workspace.root)
        if escape is not None:
            raise InputError(f"{text} is a path in the project, but a symbolic link takes it to "
                             f"{escape}, outside the project: aitrace does not follow links out "
                             "of the project", hint=f"copy the file into the project, or give "
                             f"its real path {escape}")

    @user_facing
    def input(self, *paths: str | os.PathLike[str], origin: str | None = None,
              license: str | None = None, role: str | None = None,
              sha256: str | None = None) -> list[Artifact]:
        """Declare and hash inputs now (a URI is recorded by name, with ``sha256`` if given).

        ``origin`` declares an external source (where the data or base model came from); chain of
        custody accepts declared external sources without an earlier producing step. Returns
        the recorded artifacts.
        """
        added = [self._artifact(p, origin=origin, license=license, role=role, sha256=sha256)
                 for p in paths]
        if origin is not None and self._stage not in SOURCE_STAGES and (
                role or "") not in SOURCE_ANY_STAGE_ROLES:
            _warn(f"{', '.join(a.path for a in added)}: an external source (origin) declared at "
                  f"stage '{self._stage}' will fail chain of custody at verify — external data "
                  "enters at " + ", ".join(SOURCE_STAGES) + " (or give role='code', 'config' "
                  "or 'document')")
        self.materials.extend(added)
        return added

    @user_facing
    def output(self, *paths: str | os.PathLike[str], license: str | None = None,
               role: str | None = None) -> None:
        """Declare outputs; they are hashed when the stage ends, whatever they hold then."""
        license = self._license(license)
        for p in paths:
            self._declared_outputs.append((os.fspath(p), {"license": license, "role": role}))

    def _license(self, value: str | None) -> str | None:
        """A declared licence in SPDX form when it is one; a warning once when it is not."""
        if value is None:
            return None
        normal, problem = read_license(value)
        if problem is not None and normal not in self._license_warned:
            self._license_warned.add(normal)
            _warn(problem)
        return normal

    # ---------------------------------------------------------------- values

    @user_facing
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters (kept in the step and logged to the step's MLflow run)."""
        self.params.update(clean_params(params))

    def log_param(self, key: str, value: Any) -> None:
        """Record one parameter."""
        self.log_params({key: value})

    @user_facing
    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record metrics (kept in the step and logged to the step's MLflow run)."""
        self.metrics.update(clean_metrics(metrics))

    def log_metric(self, key: str, value: float) -> None:
        """Record one metric."""
        self.log_metrics({key: value})

    def describe(self, text: str) -> None:
        """A free-text description of the step."""
        self.description = text

    def note_mlflow_store(self, tracking_uri: str) -> None:
        """Remember a tracking URI user code started a run against (to find and link the run)."""
        if tracking_uri not in self._mlflow_stores:
            self._mlflow_stores.append(tracking_uri)

    # ---------------------------------------------------------------- evidence

    @user_facing
    def attach(self, kind: str, data: bytes | Mapping[str, Any] | list[Any], *,
               media_type: str, summary: Mapping[str, Any] | None = None,
               name: str | None = None, subject: str | os.PathLike[str] | None = None,
               subject_sha256: str | None = None) -> EvidenceRef:
        """Store evidence content-addressed and reference it from the step.

        ``subject`` is the data file the evidence is about; its digest (computed now, or given
        as ``subject_sha256``) binds the evidence to those exact bytes.
        """
        canonical_bytes(dict(summary or {}), what=f"the {kind} evidence summary")
        raw = data if isinstance(data, bytes) else document_bytes(data)
        sha = self._workspace.put_object(raw)
        subj = None
        if subject is not None:
            text = os.fspath(subject)
            remote = is_remote(text)
            local = None if remote else Path(file_uri_path(text) or text)
            if subject_sha256 is not None:
                subject_sha256 = normalize_sha256(subject_sha256, what=f"{text}: subject_sha256")
            elif local is not None:
                self._refuse_link_escape(str(local))
            subj = self._subject(text if remote else self._workspace.relpath(text), local,
                                 subject_sha256)
        ref = EvidenceRef(kind=kind, media_type=media_type, sha256=sha, size=len(raw),
                          name=name, summary=dict(summary or {}), subject=subj)
        self.evidence.append(ref)
        return ref

    def _subject(self, rel: str, where: Path | None, sha256: str | None) -> Subject:
        """The subject naming ``rel`` (on disk at ``where``) by its digest, given or hashed now.

        A directory is named by its dirHash (format v2).
        """
        if sha256 is None:
            d = self._hasher.digest(where or Path(rel))  # a URI has nothing to hash: refused
            return subject_for(rel, d.sha256, d.algorithm)
        directory = where is not None and where.is_dir() and not self._hasher.legacy_dirs
        return subject_for(rel, sha256, DIR_HASH if directory else SHA256)

    @user_facing
    def check(self, data: Any, suite: str | os.PathLike[str] | Mapping[str, Any] | None = None,
              *, pack: str | None = None, path: str | os.PathLike[str] | None = None,
              **options: Any) -> Any:
        """Validate data with Great Expectations and attach the result (see ``aitrace check``).

        ``data`` is a CSV/Parquet/JSON Lines path or a pandas DataFrame (then ``path`` names
        the file it was written to, which binds the evidence to those bytes).
        """
        return data_checker()(self, data, suite, pack=pack, path=path, **options)

    @user_facing
    def sbom(self, **options: Any) -> EvidenceRef:
        """Attach a CycloneDX ML-BOM for this step's model outputs now.

        Option ``models``: the outputs (or one output) to describe as models (default: outputs
        with role ``model`` or a model file suffix).
        """
        unknown = set(options) - {"models"}
        if unknown:
            raise InputError(f"step.sbom(): unknown option(s) {sorted(unknown)}",
                             hint="the only option is models=[paths]")
        models = options.get("models")
        if isinstance(models, (str, os.PathLike)):
            models = [models]
        source = next((c for c in self.contributors if c.kind == EVIDENCE_SBOM), None)
        if source is None:  # pragma: no cover - the SBOM source is always wired
            raise InputError("no ML-BOM source is installed")
        chosen = tuple(os.fspath(m) for m in models) if models is not None else None
        view = replace(self.finishing(), options=replace(self.options, sbom_models=chosen))
        before = len(self.evidence)
        self.apply(source.contribute(view))
        if len(self.evidence) == before:  # pragma: no cover - the source always attaches
            raise InputError("the ML-BOM source attached nothing")
        return self.evidence[before]

    # ---------------------------------------------------------------- finishing

    def set_result(self, status: StepStatus, *, exit_code: int | None = None,
                   error: str | None = None) -> None:
        """Force the final status (``aitrace run`` sets it from the child's exit code)."""
        self.status = status
        self.exit_code = exit_code
        if error:
            self.error = scrub(error)

    def _pending_outputs(self) -> list[Artifact]:
        """Declared outputs not hashed yet that exist now, hashed (for a snapshot)."""
        have = {a.path for a in self.products}
        out: list[Artifact] = []
        for text, meta in self._declared_outputs:
            for match in self.watch.expand(text):
                rel = self._workspace.relpath(match) if not is_remote(match) else match
                if rel in have or (not is_remote(match) and (
                        not _local(match).exists()
                        or link_escape(_local(match), self._workspace.root))):
                    continue
                out.append(self._artifact(match, origin=None, **meta))
                have.add(rel)
        return out

    def _product(self, text: str, *, license: str | None, role: str | None) -> Artifact:
        """An output, hashed; a folder's file listing is kept as the object its digest names.

        Format v2 stores a folder's dirHash listing as it hashes it (``_artifact``); a workspace
        still on format v1 stores the folder's ``aitrace.dir/v1`` manifest here. Either lets
        chain of custody account for a file inside the folder that a later step reads.
        """
        art = self._artifact(text, origin=None, license=license, role=role)
        if art.type == "directory" and art.dirHash is None and art.sha256 is not None:
            manifest = legacy_canonical_bytes(self._hasher.manifest(_local(text)))
            if self._workspace.put_object(manifest) != art.sha256:  # pragma: no cover - raced
                _warn(f"{art.path} changed while it was being recorded")
        return art

    def hash_outputs(self) -> tuple[list[str], list[str]]:
        """Hash the declared outputs into the step's products.

        A glob is expanded now, after the step's code ran. An output that was declared when the
        step started and was neither created nor modified since is kept and marked
        ``unchanged`` (a glob keeps only its created or modified matches, if it has any).

        Returns:
            The outputs that do not exist, and those a symbolic link takes out of the project
            (``path → target``): neither is recorded.
        """
        missing: list[str] = []
        escaped: list[str] = []
        for text, meta in self._declared_outputs:
            matches = self.watch.expand(text)
            if not matches:
                missing.append(text)
                continue
            kept = self.watch.produced(matches) or matches
            for match in kept:
                escape = None if is_remote(match) else \
                    link_escape(_local(match), self._workspace.root)
                if escape is not None:
                    escaped.append(f"{match} → {escape}")
                    continue
                art = self._product(match, **meta)
                if self.watch.unchanged(match):
                    art = replace(art, unchanged=True)
                self.products.append(art)
        self._declared_outputs = []
        return missing, escaped

    def _bind_evidence(self) -> None:
        digests = {a.value for a in (*self.materials, *self.products) if a.value}
        self.evidence = [
            e if e.subject is None else replace(e, bound=e.subject.value in digests)
            for e in self.evidence
        ]
        for e in self.evidence:
            if e.subject is not None and not e.bound:
                _warn(unbound_warning(e.kind, e.subject.path, e.subject.value or "", self._stage))

    def snapshot(self, seq: int = 0, prev: str | None = None) -> Step:
        """What the step holds now, as a ``Step`` (declared outputs that exist are hashed).

        ``seq`` and ``prev`` are placeholders unless given: the chain position is only known
        under the append lock.
        """
        command = self.command
        if command is not None:
            command = replace(command, exit_code=self.exit_code)
        return Step(
            format=self._format, id=self._id, record_id=self._record_id, seq=max(seq, 1),
            stage=self._stage, status=self.status or "succeeded", started_at=self.started_at,
            ended_at=self.ended_at or utc_now(), actor=self.actor, prev=prev, command=command,
            code=self.code, environment=self.environment, materials=tuple(self.materials),
            products=(*self.products, *self._pending_outputs()), evidence=tuple(self.evidence),
            mlflow=tuple(self.mlflow), params=dict(self.params), metrics=dict(self.metrics),
            description=self.description, error=self.error)

    def finishing(self) -> FinishingStep:
        """The step as contributors see it now."""
        return FinishingStep(step=self.snapshot(), workspace=self._workspace,
                             options=self.options, mlflow_stores=tuple(self._mlflow_stores),
                             launch=self.launch)

    def apply(self, contribution: Contribution) -> None:
        """Add what a contributor contributed (evidence, environment, links, values)."""
        for a in contribution.evidence:
            canonical_bytes(dict(a.summary), what=f"the {a.kind} evidence summary")
            raw = a.data if isinstance(a.data, bytes) else document_bytes(a.data)
            sha = self._workspace.put_object(raw)
            subj = (self._subject(a.subject_path, None if is_uri(a.subject_path) else
                                  self._workspace.resolve(a.subject_path), a.subject_sha256)
                    if a.subject_path is not None and a.subject_sha256 is not None else None)
            self.evidence.append(EvidenceRef(
                kind=a.kind, media_type=a.media_type, sha256=sha, size=len(raw),
                name=a.name, summary=dict(a.summary), subject=subj))
        have = {a.path for a in self.products}
        for found in contribution.outputs:
            if not _local(found.path).exists() or self._workspace.relpath(found.path) in have:
                continue
            art = self._product(found.path, license=None, role=found.role)
            self.products.append(art)
            have.add(art.path)
        if contribution.environment is not None:
            self.environment = contribution.environment
        self.mlflow.extend(contribution.mlflow)
        if contribution.params:
            self.log_params(contribution.params)
        if contribution.metrics:
            self.log_metrics(contribution.metrics)

    def build(self, seq: int, prev: str | None) -> Step:
        """The immutable step, once the chain position is known (called under the lock)."""
        if self.status is None or self.ended_at is None:
            raise RuntimeError("build() called before the step finished")
        return self.snapshot(seq, prev)


def _local(text: str) -> Path:
    return Path(file_uri_path(text) or text)


def _warn(msg: str) -> None:
    print(f"aitrace: warning: {msg}", file=sys.stderr)




