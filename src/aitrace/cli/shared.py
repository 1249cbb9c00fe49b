"""``aitrace sync``: append the steps a shared record's spool holds (``aitrace.store.spool``)."""

from __future__ import annotations

import click

from aitrace.cli._common import emit_json
from aitrace.cli.options import json_option
from aitrace.report.terminal import terminal_safe as t


@click.command("sync", short_help="Append spooled steps to the shared record store.")
@json_option
def sync_cmd(as_json: bool) -> None:
    """Append the steps kept in .aitrace/spool/ while the shared store was unreachable.

    Each is appended in the order it ended, at the store's head as it is now (its seq and prev
    are set then, so the chain stays linear); what it records is unchanged.
    """
    from aitrace.errors import InputError
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    shared = ws.shared
    if shared is None:
        raise InputError(f"{ws.root} keeps its record in .aitrace/ (no `store:`): nothing to sync",
                         hint="`aitrace init --store URL --name NAME` shares a record")
    with ws.lock():
        done = shared.sync()
    if as_json:
        emit_json({"store": shared.location,
                   "appended": [{"seq": s.seq, "id": s.id, "stage": s.stage,
                                 "digest": s.digest} for s in done]})
        return
    for s in done:
        click.echo(f"appended step {s.seq} ({t(s.stage)}) id {t(s.id)}")
    click.echo(f"{len(done)} spooled step(s) appended to {t(shared.location)}")
