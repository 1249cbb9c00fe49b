"""Commands over the local record: init, run, log, show, status, digest."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from aitrace.cli._common import ProgressBar, emit_json, shell_join, short
from aitrace.cli.options import json_option, stage_option
from aitrace.report.terminal import terminal_safe as t


@click.command("init", short_help="Create aitrace.yaml and the .aitrace/ workspace.")
@click.option("--name", help="Record (project) name; default: the directory name.")
@click.option("--store", metavar="URL",
              help="A shared record store, postgresql://USER@HOST:PORT/DB: create the record "
                   "NAME there or join it (AITRACE_STORE overrides; no password is kept).")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@json_option
def init_cmd(name: str | None, store: str | None, directory: Path, as_json: bool) -> None:
    """Create aitrace.yaml and the .aitrace/ workspace (idempotent).

    With --store, the record lives in a shared database: every directory (on any machine)
    that runs `aitrace init --store URL --name NAME` appends to the same chain.
    """
    from aitrace.store.workspace import Workspace

    directory.mkdir(parents=True, exist_ok=True)
    ws, created = Workspace.init(directory, name=name, store=store)
    ignored = name is not None and name != ws.name
    note = (f"--name {name!r} was not applied: this workspace exists and its record is named "
            f"{ws.name!r}; to rename it, edit record.name in {ws.root / 'aitrace.yaml'}"
            if ignored else None)
    shared = ws.shared
    where = shared.location if shared is not None else None
    if as_json:
        emit_json({"root": str(ws.root), "record_id": ws.record.id, "name": ws.name,
                   "created": created, "note": note, "store": where})
        return
    verb = "Initialised" if created else "Already initialised:"
    click.echo(f"{verb} aitrace workspace in {t(ws.dir)} (record {t(ws.record.id)}, "
               f"'{t(ws.name)}')" + (f", shared in {t(where)}" if where else ""))
    if note:
        click.echo(f"aitrace: note: {t(note)}", err=True)


@click.command("run", short_help="Run a command as a recorded stage step.",
               context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@stage_option("One of the ten stage ids.", required=True)
@click.option("--input", "-i", "inputs", multiple=True, help="An input file or directory.")
@click.option("--output", "-o", "outputs", multiple=True,
              help="An output file, directory or glob (quoted; `**` spans folders), found "
                   "when the command ends.")
@click.option("--source", "sources", multiple=True,
              help="A declared external input: PATH_OR_URI[,origin=URL][,license=SPDX]"
                   "[,sha256=HEX].")
@click.option("--description", "-m", help="What this step does, in a sentence.")
@click.option("--mlflow/--no-mlflow", default=None, help="Link the step to an MLflow run.")
@click.option("--sbom/--no-sbom", default=None,
              help="Attach an ML-BOM (default: on for training/optimization/deployment).")
@click.option("--metrics", "metrics_files", multiple=True, metavar="FILE",
              help="A JSON/YAML file of metrics the command writes (read when it ends).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter to record in the step.")
@click.option("--metric", "metrics", multiple=True, metavar="KEY=NUMBER",
              help="A metric to record in the step.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def run_cmd(stage: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
            sources: tuple[str, ...], description: str | None, mlflow: bool | None,
            sbom: bool | None, metrics_files: tuple[str, ...], params: tuple[str, ...],
            metrics: tuple[str, ...], command: tuple[str, ...]) -> int:
    """Run COMMAND (after --) as a recorded step; exit with its exit code."""
    from aitrace.hooks.runner import parse_source, run_command
    from aitrace.hooks.values import clean_metrics, parse_assignment

    parsed = [parse_source(s) for s in sources]
    param_values = dict(parse_assignment(p, option="--param") for p in params)
    metric_values = clean_metrics(dict(parse_assignment(m, option="--metric") for m in metrics))
    bar = ProgressBar(True)
    try:
        result = run_command(list(command), stage=stage, inputs=inputs, outputs=outputs,
                             sources=parsed, description=description, mlflow=mlflow,
                             sbom=sbom, progress=bar, params=param_values,
                             metrics=metric_values, metrics_files=metrics_files)
    finally:
        bar.close()
    step = result.step
    click.echo(f"aitrace: recorded step {step.seq} ({t(step.stage)}, {t(step.status)}) "
               f"id {t(step.id)}", err=True)
    return result.exit_code


def _step_row(step: Any) -> dict[str, Any]:
    return {
        "seq": step.seq, "id": step.id, "stage": step.stage, "status": step.status,
        "started_at": step.started_at, "ended_at": step.ended_at,
        "actor": f"{step.actor.user}@{step.actor.host}",
        "workspace": step.origin.workspace if step.origin else None,
        "commit": step.code.commit if step.code else None,
        "inputs": len(step.materials), "outputs": len(step.products),
        "evidence": len(step.evidence),
        "mlflow_run": next((m.run_id for m in step.mlflow if m.role == "step"), None),
    }


def _log_steps(ws: Any, start: int, limit: int | None) -> tuple[Iterator[Any], Any]:
    """The steps to list (a shared store is read page by page) and the chain's first break."""
    from aitrace.store.postgres.store import PAGE_ROWS

    shared = ws.shared
    if shared is None:
        report = ws.chain()
        end = None if limit is None else start - 1 + limit
        return iter(report.steps[start - 1:end]), report.broken
    shared.sync_quietly()
    _count, _head, broken = shared.remote.quick_check()

    def pages() -> Iterator[Any]:
        at, left = start, limit
        while left is None or left > 0:
            page = shared.remote.page(at, PAGE_ROWS if left is None else min(left, PAGE_ROWS))
            if not page.steps:
                return
            yield from page.steps
            at = page.steps[-1].seq + 1
            left = None if left is None else left - len(page.steps)

    return pages(), broken


@click.command("log", short_help="List the record's steps.")
@stage_option("Only steps of this stage.")
@click.option("--from", "start", type=click.IntRange(min=1), default=1,
              help="Start at this step number.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="List at most this many steps (a big shared record is read page by page).")
@json_option
def log_cmd(stage: str | None, start: int, limit: int | None, as_json: bool) -> int:
    """List the record's steps, oldest first."""
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    found, broken = _log_steps(ws, start, limit)
    rows = (_step_row(s) for s in found if stage is None or s.stage == stage)
    if as_json:
        emit_json({"record_id": ws.record.id, "steps": list(rows),
                   "chain_intact": broken is None,
                   "broken": asdict(broken) if broken else None})
        return 0 if broken is None else 1
    header = f"{'#':>3}  {'stage':<12} {'status':<11} {'started (UTC)':<19} {'actor':<18} " \
             f"{'in':>3} {'out':>3}  mlflow run"
    any_rows = False
    for r in rows:
        if not any_rows:
            click.echo(header)
            any_rows = True
        click.echo(f"{r['seq']:>3}  {t(r['stage']):<12} {t(r['status']):<11} "
                   f"{t(r['started_at'][:19].replace('T', ' ')):<19} {t(r['actor'][:18]):<18} "
                   f"{r['inputs']:>3} {r['outputs']:>3}  {t(short(r['mlflow_run'], 32))}")
    if not any_rows:
        click.echo("no steps recorded yet — try `aitrace run --stage problem -- ...`")
    if broken:
        b = broken
        click.echo(f"chain BROKEN at step {b.seq} ({t(b.file)}): {t(b.reason)}", err=True)
        click.echo("  hint: `aitrace doctor` explains it and how to recover", err=True)
        return 1
    return 0


@click.command("show", short_help="Show one step in full.")
@click.argument("step_ref")
@json_option
def show_cmd(step_ref: str, as_json: bool) -> None:
    """Show one step in full (STEP_REF: number, id or id prefix)."""
    from aitrace.record._model import to_json
    from aitrace.store.workspace import Workspace

    step = Workspace.find().get_step(step_ref)
    # The documented JSON form of a step: as stored, with its digest.
    doc = {**to_json(step), "prev": step.prev, "digest": step.digest}
    if as_json:
        emit_json(doc)
        return
    click.echo(f"step {step.seq}  {t(step.id)}")
    click.echo(f"  stage      {t(step.stage)}\n  status     {t(step.status)}")
    click.echo(f"  time       {t(step.started_at)} → {t(step.ended_at)}")
    click.echo(f"  actor      {t(step.actor.user)}@{t(step.actor.host)}")
    if step.origin:
        waited = (f" (spooled {t(step.origin.spooled_at)}, synced {t(step.origin.synced_at)})"
                  if step.origin.spooled_at else "")
        click.echo(f"  origin     workspace {t(step.origin.workspace)} on "
                   f"{t(step.origin.host)}{waited}")
    if step.command:
        click.echo(f"  command    {t(shell_join(step.command.argv))}  "
                   f"(exit {step.command.exit_code}, cwd {t(step.command.cwd)})")
        if step.command.script:
            click.echo(f"  script     {t(step.command.script.path)} "
                       f"sha256:{short(step.command.script.sha256, 16)}")
    if step.code:
        dirty = (" (dirty, diff " + t(short(step.code.diff_sha256)) + ")" if step.code.dirty
                 else "")
        click.echo(f"  code       {t(step.code.commit or '-')} on {t(step.code.branch or '-')}"
                   f"{dirty}")
    if step.environment:
        e = step.environment
        where = f" ({t(e.executable)}, found by {t(e.detected_by)})" if e.executable else ""
        click.echo(f"  env        {t(e.python_text)}{where} on {t(e.platform)}, {e.cpu_count} CPUs")
    for label, arts in (("input ", step.materials), ("output", step.products)):
        for a in arts:
            extra = f"  origin {t(a.origin)}" if a.origin else ""
            extra += f"  license {t(a.license)}" if a.license else ""
            alg, value = a.digest or ("sha256", None)
            click.echo(f"  {label}     {t(a.path)} [{t(a.type)}] {alg}:{t(short(value, 16))} "
                       f"{a.size if a.size is not None else '-'} B{extra}")
    for ev in step.evidence:
        bound = "" if ev.bound is None else (" bound" if ev.bound else " NOT BOUND")
        click.echo(f"  evidence   {t(ev.kind)} {t(ev.name or '')} "
                   f"sha256:{t(short(ev.sha256, 16))}{bound}")
    for m in step.mlflow:
        click.echo(f"  mlflow     {t(m.role)} run {t(m.run_id)} (experiment "
                   f"{t(m.experiment_id)}) at {t(m.tracking_uri)}")
    for k, v in sorted(step.params.items()):
        click.echo(f"  param      {t(k)} = {t(v)}")
    for k, mv in sorted(step.metrics.items()):
        click.echo(f"  metric     {t(k)} = {mv:g}")
    if step.error:
        click.echo(f"  error      {t(step.error)}")
    if step.migration is not None:
        click.echo(f"  migration  {len(step.migration.steps)} {step.migration.from_format} "
                   f"step(s) pinned by the sha256 of their files; record.json "
                   f"sha256:{short(step.migration.record_file_sha256, 16)}")
        for pin in step.migration.steps:
            click.echo(f"  pinned     step {pin.seq}  file sha256:{short(pin.file_sha256, 16)}  "
                       f"v1 digest {short(pin.digest, 16)}")
    click.echo(f"  prev       {t(step.prev or '(first step)')}\n  digest     {step.digest}")


@click.command("status", short_help="The ten stages and whether the hash chain holds.")
@json_option
def status_cmd(as_json: bool) -> int:
    """The ten stages (done / failed / interrupted / missing), monitoring, and the hash chain.

    Exit 0 when the chain holds, 1 when it is broken (see `aitrace doctor`).
    """
    from aitrace.store.status import record_status
    from aitrace.store.workspace import Workspace

    status = record_status(Workspace.find())
    if as_json:
        emit_json(status.to_dict())
        return 0 if status.intact else 1
    click.echo(f"record {t(status.record_id)} '{t(status.name)}': {status.step_count} "
               "step(s)" + (f" in {t(status.store)}" if status.store else ""))
    monitored = [st for st in status.post_deployment if st.steps]
    here = socket.gethostname()
    for st in (*status.stages, *monitored):
        if monitored and st is monitored[0]:
            click.echo("  after deployment:")
        note = ""
        if st.running:
            elsewhere = sorted({p.host for p in status.pending if p.stage == st.stage
                                and p.state == "running" and p.host not in ("", here)})
            note = "  (running now" + (f" on {t(', '.join(elsewhere))}" if elsewhere else "") + ")"
        elif st.interrupted_markers:
            note = "  (a step was interrupted; recorded at the next append)"
        seq = f"step {st.latest_step}" if st.latest_step else ""
        click.echo(f"  {st.stage:<13} {st.name_zh:<5} {st.state:<12} {seq}{note}")
    if status.chain.broken:
        b = status.chain.broken
        click.echo(f"hash chain: BROKEN at step {b.seq} ({t(b.file)}): {t(b.reason)}")
        click.echo("  hint: `aitrace doctor` explains it and how to recover without losing "
                   "anything")
        return 1
    click.echo(f"hash chain: intact (head sha256:{short(status.chain.head, 16)})")
    if status.chain.steps and status.chain.steps[-1].format == "aitrace.step/v1":
        click.echo("format v1 (aitrace 0.1): `aitrace migrate` carries it over to v2, whose "
                   "chain sha256sum can check")
    return 0


@click.command("digest", short_help="Print digests exactly as the record computes them.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-cache", is_flag=True, help="Hash everything again.")
@json_option
def digest_cmd(paths: tuple[Path, ...], no_cache: bool, as_json: bool) -> None:
    """Print `sha256:<hex>  FILE` / `dirHash:<hex>  DIR` exactly as the record computes it."""
    from aitrace.errors import WorkspaceError
    from aitrace.record.models import STEP_FORMAT_V1
    from aitrace.store.digest import DigestCache, Hasher
    from aitrace.store.workspace import Workspace, digest_cache_path

    cache = None if no_cache else DigestCache(digest_cache_path())
    try:  # a workspace not yet migrated records directories in format v1
        legacy = Workspace.find().append_format() == STEP_FORMAT_V1
    except WorkspaceError:
        legacy = False
    bar = ProgressBar(not as_json)
    try:
        digests = Hasher(cache=cache, progress=bar, legacy_dirs=legacy).digest_many(list(paths))
    finally:
        bar.close()
    if as_json:
        emit_json([{"path": str(p), d.algorithm: d.sha256, "size": d.size, "type": d.type}
                   for p, d in zip(paths, digests, strict=True)])
        return
    for p, d in zip(paths, digests, strict=True):
        sys.stdout.write(f"{d.ref}  {t(p)}\n")


@click.command("doctor", short_help="Explain damage to the workspace and repair it safely.")
@click.option("--repair", is_flag=True,
              help="Move the damaged tail of the chain to .aitrace/quarantine/ and record a "
                   "step naming it (nothing is deleted).")
@json_option
def doctor_cmd(repair: bool, as_json: bool) -> int:
    """Explain what is damaged in the workspace and how to recover without losing anything.

    Exit 0 when the workspace is healthy (or was repaired), 1 when damage was found.
    """
    from aitrace.hooks.capture import capture_actor
    from aitrace.store.doctor import diagnose, quarantine
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    diagnosis = diagnose(ws)
    if repair and diagnosis.broken is not None:
        done = quarantine(ws, actor=capture_actor())
        if as_json:
            emit_json({"repaired": True, "directory": str(done.directory),
                       "files": [vars(f) for f in done.files],
                       "step": {"seq": done.step.seq, "id": done.step.id,
                                "stage": done.step.stage, "digest": done.step.digest},
                       "after": diagnose(ws).to_dict()})
            return 0
        click.echo(f"moved {len(done.files)} damaged step file(s) to "
                   f"{ws.relpath(done.directory)}/:")
        for f in done.files:
            click.echo(f"  {t(f.name)}  sha256:{f.sha256}  {f.size} B")
        click.echo(f"recorded step {done.step.seq} ({done.step.stage}, failed) naming them; the "
                   "hash chain is intact again")
        return 0
    if as_json:
        emit_json(diagnosis.to_dict())
    else:
        for line in diagnosis.explain():
            click.echo(t(line))
        if diagnosis.healthy:
            click.echo("nothing to repair")
    return 0 if diagnosis.healthy else 1
