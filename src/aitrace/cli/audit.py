"""Auditor commands over bundles: ``inspect``, ``report`` and ``diff``.

``inspect`` and ``report`` verify first and exit 1 when verification did not pass (including
when no ``--key`` was given: an unchecked signature is not a pass); the view is still shown,
with its content marked untrusted. ``diff`` exits 0 whatever changed (1 only when ``--key`` is
given and a bundle fails verification).
"""

from __future__ import annotations

from pathlib import Path

import click

from aitrace.cli._common import emit_json
from aitrace.cli.options import (
    PolicyChoice,
    approver_keys_option,
    json_option,
    policy_options,
    trusted_keys_option,
)
from aitrace.errors import EXIT_CHECK_FAILED, EXIT_OK
from aitrace.report.terminal import terminal_safe

_bundle_arg = click.argument("bundle", type=click.Path(exists=True, dir_okay=False,
                                                       path_type=Path))
_KEYS_HELP = ("A release key (.pub) trusted to sign the attestation (repeatable; reviewers' "
              "keys go with --approver-key). Without one the signature cannot be checked and "
              "nothing is shown as trusted.")
_artifact_option = click.option(
    "--artifact", "artifacts", multiple=True, type=click.Path(path_type=Path),
    help="A deployed file or folder that must be a released artifact (as `aitrace verify "
         "--artifact`).")


@click.command("inspect", short_help="Summarise a verified bundle in the terminal.")
@_bundle_arg
@trusted_keys_option(_KEYS_HELP)
@approver_keys_option
@policy_options
@_artifact_option
@json_option
def inspect_cmd(bundle: Path, keys: tuple[Path, ...], approver_keys: tuple[Path, ...],
                policy: PolicyChoice, artifacts: tuple[Path, ...], as_json: bool) -> int:
    """Verify BUNDLE, then summarise it: stages, evidence, licences, completeness."""
    from aitrace.report.audit import audit_bundle
    from aitrace.report.text import inspect_text
    from aitrace.report.view import view_json

    view = audit_bundle(bundle, key_paths=keys, approver_key_paths=approver_keys,
                        policy_path=policy.path, default_policy=policy.default,
                        artifacts=artifacts)
    if as_json:
        emit_json(view_json(view))
    else:
        click.echo(inspect_text(view), nl=False)
    return EXIT_OK if view.verification.ok else EXIT_CHECK_FAILED


@click.command("report", short_help="Write a self-contained HTML report of a bundle.")
@_bundle_arg
@trusted_keys_option(_KEYS_HELP)
@approver_keys_option
@policy_options
@_artifact_option
@click.option("--output", "-o", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The HTML file to write.")
@json_option
def report_cmd(bundle: Path, keys: tuple[Path, ...], approver_keys: tuple[Path, ...],
               policy: PolicyChoice, artifacts: tuple[Path, ...], output: Path,
               as_json: bool) -> int:
    """Verify BUNDLE and write a self-contained HTML report of it."""
    from aitrace.report.render import write_report

    view = write_report(bundle, output, key_paths=keys, approver_key_paths=approver_keys,
                        policy_path=policy.path, default_policy=policy.default,
                        artifacts=artifacts)
    v = view.verification
    if as_json:
        # "verified" is the integrity and signature answer; "ok" is the whole verdict.
        emit_json({"report": str(output), "ok": v.ok, "verified": v.authentic,
                   "verdict": v.verdict, "headline": v.headline,
                   "answers": v.answers.to_dict() if v.answers is not None else None,
                   "completeness": view.completeness.get("score")})
    else:
        click.echo("\n".join(terminal_safe(line) for line in
                              [v.headline, *v.lines(), f"Wrote {output}"]))
    return EXIT_OK if v.ok else EXIT_CHECK_FAILED


@click.command("diff", short_help="Compare two bundles.")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trusted_keys_option(_KEYS_HELP)
@approver_keys_option
@json_option
def diff_cmd(old: Path, new: Path, keys: tuple[Path, ...], approver_keys: tuple[Path, ...],
             as_json: bool) -> int:
    """Show what changed from bundle OLD to bundle NEW."""
    from aitrace.report.audit import audit_bundle, open_unverified
    from aitrace.report.diff import diff_text, diff_views

    if keys:
        a = audit_bundle(old, key_paths=keys, approver_key_paths=approver_keys)
        b = audit_bundle(new, key_paths=keys, approver_key_paths=approver_keys)
    else:
        a, b = open_unverified(old), open_unverified(new)
    d = diff_views(a, b)
    if as_json:
        emit_json(d)
    else:
        click.echo(diff_text(d), nl=False)
    if keys and not (a.verification.ok and b.verification.ok):
        return EXIT_CHECK_FAILED
    return EXIT_OK
