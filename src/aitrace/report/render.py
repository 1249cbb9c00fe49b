"""The auditor's HTML report: one self-contained page over a verified (or not) bundle.

``render_report`` turns an ``AuditView`` into HTML (``report.html.page`` lays it out,
``report.html.svg`` draws the lineage, ``report.annex`` maps the evidence to EU AI Act Annex IV).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aitrace._version import __version__
from aitrace.report.annex import annex_iv_map
from aitrace.report.view import AuditView
from aitrace.store.files import write_output


def render_report(view: AuditView, *, generated_at: str | None = None) -> str:
    """The report page for ``view`` (a complete HTML document)."""
    from aitrace.report.html.page import page
    from aitrace.report.html.svg import lineage_svg

    when = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return page(view, lineage=lineage_svg(view), annex=annex_iv_map(view), generated_at=when,
                version=__version__)


def write_report(bundle: Path, out: Path, *, key_paths: Sequence[Path] = (),
                 policy_path: Path | None = None, default_policy: bool = False,
                 approver_key_paths: Sequence[Path] = (),
                 artifacts: Sequence[Path] = ()) -> AuditView:
    """Verify ``bundle``, render its report to ``out``; return the view (for the verdict)."""
    from aitrace.report.audit import audit_bundle

    view = audit_bundle(bundle, key_paths=key_paths, policy_path=policy_path,
                        default_policy=default_policy, approver_key_paths=approver_key_paths,
                        artifacts=artifacts)
    write_output(out, render_report(view).encode("utf-8"), mode=0o644)
    return view
