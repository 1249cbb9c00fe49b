"""``aitrace migrate``: carry a format v1 record over into format v2 (appends; never rewrites).

The design is documented in :mod:`aitrace.store.migrate` and README "Formats".
"""

from __future__ import annotations

import click

from aitrace.cli._common import emit_json, short
from aitrace.cli.options import json_option


@click.command("migrate", short_help="Carry a format v1 record over into format v2.")
@json_option
def migrate_cmd(as_json: bool) -> None:
    """Append the step that carries a format v1 chain over into format v2.

    Nothing recorded is rewritten: the v1 step files stay byte for byte, and the new step pins
    each of them by the plain SHA-256 of its file. Every later step is format v2 (RFC 8785
    files, `sha256sum` of a file = the next step's prev, in-toto dirHash for directories).
    """
    from aitrace.hooks.capture import capture_actor
    from aitrace.store.migrate import migrate
    from aitrace.store.workspace import Workspace

    result = migrate(Workspace.find(), capture_actor())
    if as_json:
        emit_json(result.to_dict())
        return
    step = result.step
    pinned = len(step.migration.steps) if step.migration else 0
    click.echo(f"appended step {step.seq} (migration): {pinned} format v1 step(s) pinned by "
               f"sha256, head sha256:{short(step.digest, 16)}")
    for path in result.bridged:
        click.echo(f"  directory {path}: recorded again by its dirHash")
    for path, reason in result.not_bridged:
        click.echo(f"  directory {path}: not carried over ({reason}); a later step reading it "
                   "will need it recorded again")
    click.echo("new steps are written in format v2")
