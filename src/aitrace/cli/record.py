"""Commands over the local record: init, run, log, show, status, digest."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from aitrace.cli._common import ProgressBar, emit_json, short
from aitrace.cli.options import json_option, stage_option


@click.command("init", short_help="Create aitrace.yaml and the .aitrace/ workspace.")
@click.option("--name", help="Record (project) name; default: the directory name.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@json_option
def init_cmd(name: str | None, directory: Path, as_json: bool) -> None:
    """Create aitrace.yaml and the .aitrace/ workspace (idempotent)."""
    from aitrace.store.workspace import Workspace

    directory.mkdir(parents=True, exist_ok=True)
    ws, created = Workspace.init(directory, name=name)
    if as_json:
        emit_json({"root": str(ws.root), "record_id": ws.record.id, "name": ws.name,
                   "created": created})
        return
    verb = "Initialised" if created else "Already initialised:"
    click.echo(f"{verb} aitrace workspace in {ws.dir} (record {ws.record.id}, '{ws.name}')")


@click.command("run", short_help="Run a command as a recorded stage step.",
               context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@stage_option("One of the ten stage ids.", required=True)
@click.option("--input", "-i", "inputs", multiple=True, help="An input file or directory.")
@click.option("--output", "-o", "outputs", multiple=True, help="An output file or directory.")
@click.option("--source", "sources", multiple=True,
              help="A declared external input: PATH_OR_URI[,origin=URL][,license=SPDX]"
                   "[,sha256=HEX].")
@click.option("--description", "-m", help="What this step does, in a sentence.")
@click.option("--mlflow/--no-mlflow", default=None, help="Link the step to an MLflow run.")
@click.option("--sbom/--no-sbom", default=None,
              help="Attach an ML-BOM (default: on for training/optimization/deployment).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def run_cmd(stage: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
            sources: tuple[str, ...], description: str | None, mlflow: bool | None,
            sbom: bool | None, command: tuple[str, ...]) -> int:
    """Run COMMAND (after --) as a recorded step; exit with its exit code."""
    from aitrace.hooks.runner import parse_source, run_command

    parsed = [parse_source(s) for s in sources]
    bar = ProgressBar(True)
    try:
        result = run_command(list(command), stage=stage, inputs=inputs, outputs=outputs,
                             sources=parsed, description=description, mlflow=mlflow,
                             sbom=sbom, progress=bar)
    finally:
        bar.close()
    step = result.step
    click.echo(f"aitrace: recorded step {step.seq} ({step.stage}, {step.status}) "
               f"id {step.id}", err=True)
    return result.exit_code


def _step_row(step: Any) -> dict[str, Any]:
    return {
        "seq": step.seq, "id": step.id, "stage": step.stage, "status": step.status,
        "started_at": step.started_at, "ended_at": step.ended_at,
        "actor": f"{step.actor.user}@{step.actor.host}",
        "inputs": len(step.materials), "outputs": len(step.products),
        "evidence": len(step.evidence),
        "mlflow_run": next((m.run_id for m in step.mlflow if m.role == "step"), None),
    }


@click.command("log", short_help="List the record's steps.")
@stage_option("Only steps of this stage.")
@json_option
def log_cmd(stage: str | None, as_json: bool) -> int:
    """List the record's steps, oldest first."""
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    report = ws.chain()
    steps = [s for s in report.steps if stage is None or s.stage == stage]
    rows = [_step_row(s) for s in steps]
    if as_json:
        emit_json({"record_id": ws.record.id, "steps": rows,
                   "chain_intact": report.intact,
                   "broken": asdict(report.broken) if report.broken else None})
        return 0 if report.intact else 1
    if not rows:
        click.echo("no steps recorded yet — try `aitrace run --stage problem -- ...`")
    header = f"{'#':>3}  {'stage':<12} {'status':<11} {'started (UTC)':<19} {'actor':<18} " \
             f"{'in':>3} {'out':>3}  mlflow run"
    if rows:
        click.echo(header)
    for r in rows:
        click.echo(f"{r['seq']:>3}  {r['stage']:<12} {r['status']:<11} "
                   f"{r['started_at'][:19].replace('T', ' '):<19} {r['actor'][:18]:<18} "
                   f"{r['inputs']:>3} {r['outputs']:>3}  {short(r['mlflow_run'], 32)}")
    if report.broken:
        b = report.broken
        click.echo(f"chain BROKEN at step {b.seq} ({b.file}): {b.reason}", err=True)
        return 1
    return 0


@click.command("show", short_help="Show one step in full.")
@click.argument("step_ref")
@json_option
def show_cmd(step_ref: str, as_json: bool) -> None:
    """Show one step in full (STEP_REF: number, id or id prefix)."""
    from aitrace.hooks.tracker import step_as_json
    from aitrace.store.workspace import Workspace

    step = Workspace.find().get_step(step_ref)
    doc = step_as_json(step)
    if as_json:
        emit_json(doc)
        return
    click.echo(f"step {step.seq}  {step.id}")
    click.echo(f"  stage      {step.stage}\n  status     {step.status}")
    click.echo(f"  time       {step.started_at} → {step.ended_at}")
    click.echo(f"  actor      {step.actor.user}@{step.actor.host}")
    if step.command:
        click.echo(f"  command    {' '.join(step.command.argv)}  "
                   f"(exit {step.command.exit_code}, cwd {step.command.cwd})")
    if step.code:
        dirty = " (dirty, diff " + short(step.code.diff_sha256) + ")" if step.code.dirty else ""
        click.echo(f"  code       {step.code.commit or '-'} on {step.code.branch or '-'}{dirty}")
    if step.environment:
        e = step.environment
        click.echo(f"  env        Python {e.python} on {e.platform}, {e.cpu_count} CPUs")
    for label, arts in (("input ", step.materials), ("output", step.products)):
        for a in arts:
            extra = f"  origin {a.origin}" if a.origin else ""
            extra += f"  license {a.license}" if a.license else ""
            click.echo(f"  {label}     {a.path} [{a.type}] sha256:{short(a.sha256, 16)} "
                       f"{a.size if a.size is not None else '-'} B{extra}")
    for ev in step.evidence:
        bound = "" if ev.bound is None else (" bound" if ev.bound else " NOT BOUND")
        click.echo(f"  evidence   {ev.kind} {ev.name or ''} sha256:{short(ev.sha256, 16)}{bound}")
    for m in step.mlflow:
        click.echo(f"  mlflow     {m.role} run {m.run_id} (experiment {m.experiment_id}) "
                   f"at {m.tracking_uri}")
    for k, v in sorted(step.params.items()):
        click.echo(f"  param      {k} = {v}")
    for k, mv in sorted(step.metrics.items()):
        click.echo(f"  metric     {k} = {mv:g}")
    if step.error:
        click.echo(f"  error      {step.error}")
    click.echo(f"  prev       {step.prev or '(first step)'}\n  digest     {step.digest}")


@click.command("status", short_help="The ten stages and whether the hash chain holds.")
@json_option
def status_cmd(as_json: bool) -> int:
    """The ten stages (done / failed / missing), monitoring, and whether the hash chain holds."""
    from aitrace.store.status import record_status
    from aitrace.store.workspace import Workspace

    status = record_status(Workspace.find())
    if as_json:
        emit_json(status.to_dict())
        return 0 if status.intact else 1
    click.echo(f"record {status.record_id} '{status.name}': {len(status.chain.steps)} step(s)")
    monitored = [st for st in status.post_deployment if st.steps]
    for st in (*status.stages, *monitored):
        if monitored and st is monitored[0]:
            click.echo("  after deployment:")
        note = ""
        if st.running:
            note = "  (running now)"
        elif st.interrupted_markers:
            note = "  (a step was interrupted; recorded at the next append)"
        seq = f"step {st.latest_step}" if st.latest_step else ""
        click.echo(f"  {st.stage:<13} {st.name_zh:<5} {st.state:<12} {seq}{note}")
    if status.chain.broken:
        b = status.chain.broken
        click.echo(f"hash chain: BROKEN at step {b.seq} ({b.file}): {b.reason}")
        return 1
    click.echo(f"hash chain: intact (head sha256:{short(status.chain.head, 16)})")
    return 0


@click.command("digest", short_help="Print digests exactly as the record computes them.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-cache", is_flag=True, help="Hash everything again.")
@json_option
def digest_cmd(paths: tuple[Path, ...], no_cache: bool, as_json: bool) -> None:
    """Print `sha256:<hex>  PATH` exactly as the record computes it."""
    from aitrace.store.digest import DigestCache, Hasher
    from aitrace.store.workspace import digest_cache_path

    cache = None if no_cache else DigestCache(digest_cache_path())
    bar = ProgressBar(not as_json)
    try:
        digests = Hasher(cache=cache, progress=bar).digest_many(list(paths))
    finally:
        bar.close()
    if as_json:
        emit_json([{"path": str(p), "sha256": d.sha256, "size": d.size, "type": d.type}
                   for p, d in zip(paths, digests, strict=True)])
        return
    for p, d in zip(paths, digests, strict=True):
        sys.stdout.write(f"{d.ref}  {p}\n")
