"""A GX ValidationAction that attaches a Checkpoint's validation results to an aitrace step.

For teams that already run GX Checkpoints::

    import great_expectations as gx
    from aitrace.integrations.gx_action import AttachToAitraceStep

    checkpoint = ctx.checkpoints.add(gx.Checkpoint(
        name="clean", validation_definitions=[vd],
        actions=[AttachToAitraceStep(stage="cleaning")]))
    with aitrace.stage("cleaning", inputs=["data/clean.csv"]):
        checkpoint.run()          # every validation result becomes gx-validation evidence

Inside a running stage the results go to that step (``aitrace.tracker.current_step()``).
Outside one, the action records a step of its own of ``stage`` (with the validated files as
inputs), in ``workspace`` or the workspace found from the current directory; without ``stage``
it refuses rather than lose the evidence.

Each result is stored like ``aitrace check`` stores it (GX's JSON without row-level values;
``redact=True`` keeps counts only) and bound to the file GX read — the batch spec's ``path``
(resolved against the datasource's ``base_directory``), or ``data_path`` when the batch came
from a DataFrame. With neither, the evidence has no subject and is therefore not bound. The
file is hashed when the action runs, right after GX validated it. ``suite_sha256`` is the
canonical-JSON digest of the suite as GX serialises it (``suite.to_json_dict()``).

GX 1.x finds actions by their ``type`` when the class is defined (a registry filled on
import), not through entry points: a file-backed GX project whose checkpoint config says
``type: aitrace_attach`` must ``import aitrace.integrations.gx_action`` before loading it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from great_expectations.checkpoint.actions import ValidationAction

from aitrace.errors import InputError
from aitrace.evidence.gx import _context as _gx  # noqa: F401 - registers aitrace's expectations (suites may use them)
from aitrace.record.jsonio import document_digest
from aitrace.record.refs import is_uri


class AttachToAitraceStep(ValidationAction):  # type: ignore[misc]
    """Attach every validation result of a Checkpoint run to the current aitrace step."""

    type: Literal["aitrace_attach"] = "aitrace_attach"
    name: str = "aitrace_attach"
    stage: str | None = None
    data_path: str | None = None
    workspace: str | None = None
    redact: bool = False

    def run(self, checkpoint_result: Any, action_context: Any = None) -> dict[str, Any]:
        """Attach the results; return ``{"aitrace": [{suite, sha256, subject, success}]}``."""
        from aitrace.hooks.tracker import current_step, stage

        rec = current_step()
        if rec is not None:
            return {"aitrace": self._attach_all(rec, checkpoint_result)}
        if self.stage is None:
            raise InputError(
                "AttachToAitraceStep: no aitrace step is running and no stage is configured",
                hint="run the checkpoint inside `with aitrace.stage(...)`, or configure "
                     "AttachToAitraceStep(stage=...)")
        planned = [p for p in (self._data_file(vr, checkpoint_result)
                               for vr in checkpoint_result.run_results.values()) if p]
        inputs = sorted(set(planned))
        with stage(self.stage, inputs=inputs, workspace=self.workspace) as own:
            refs = self._attach_all(own, checkpoint_result)
        return {"aitrace": refs}

    # ------------------------------------------------------------------ helpers

    def _data_file(self, vr: Any, checkpoint_result: Any) -> str | None:
        if self.data_path is not None:
            return self.data_path
        meta = getattr(vr, "meta", None) or {}
        spec = meta.get("batch_spec") or {}
        path = spec.get("path") if hasattr(spec, "get") else None
        if not isinstance(path, str) or is_uri(path):
            return None
        p = Path(path)
        if not p.is_absolute():
            base = self._base_directory(meta, checkpoint_result)
            if base is not None:
                p = Path(base) / p
        return os.fspath(p) if p.is_file() else None

    def _base_directory(self, meta: dict[str, Any], checkpoint_result: Any) -> str | None:
        name = (meta.get("active_batch_definition") or {}).get("datasource_name")
        for vd in checkpoint_result.checkpoint_config.validation_definitions:
            ds = getattr(getattr(vd, "data", None), "data_asset", None)
            ds = getattr(ds, "datasource", None)
            if ds is not None and getattr(ds, "name", None) == name:
                base = getattr(ds, "base_directory", None)
                return os.fspath(base) if base is not None else None
        return None

    def _suite_doc(self, suite_name: str, checkpoint_result: Any) -> dict[str, Any]:
        for vd in checkpoint_result.checkpoint_config.validation_definitions:
            suite = getattr(vd, "suite", None)
            if suite is not None and suite.name == suite_name:
                doc: dict[str, Any] = suite.to_json_dict()
                return doc
        return {"name": suite_name}

    def _attach_all(self, rec: Any, checkpoint_result: Any) -> list[dict[str, Any]]:
        from aitrace.evidence.gx.data import Dataset
        from aitrace.evidence.gx.quality import CheckResult, attach_check, scrub_result, summarize
        from aitrace.evidence.gx.suites import Suite
        from aitrace.store.digest import hash_file

        out: list[dict[str, Any]] = []
        for vr in checkpoint_result.run_results.values():
            raw = vr.to_json_dict()
            path = self._data_file(vr, checkpoint_result)
            sha = hash_file(Path(path))[0] if path else ""
            suite_doc = self._suite_doc(str(raw.get("suite_name")), checkpoint_result)
            suite = Suite(doc=suite_doc, name=str(raw.get("suite_name")),
                          sha256=document_digest(_jsonable(suite_doc)),
                          source=f"<checkpoint {checkpoint_result.checkpoint_config.name}>",
                          redact=self.redact)
            engine = "spark" if "spark" in str((raw.get("meta") or {}).get("batch_spec")
                                               ).lower() else "pandas"
            data = Dataset(sha256=sha, source=path or "<checkpoint batch>", path=path,
                           engine=engine)
            doc = scrub_result(raw, redact=self.redact)
            summary = summarize(doc, suite, data)
            summary["checkpoint"] = checkpoint_result.checkpoint_config.name
            check = attach_check(rec, data, CheckResult(success=bool(summary["success"]),
                                                        summary=summary, result=doc))
            ref = check.evidence
            out.append({"suite": suite.name, "success": check.success,
                        "sha256": ref.sha256 if ref else None,
                        "subject": path})
        return out


def _jsonable(doc: Any) -> Any:
    """The suite JSON with anything non-JSON (ids, enums) as text, for a stable digest."""
    import json

    return json.loads(json.dumps(doc, default=str))
