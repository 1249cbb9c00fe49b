"""``aitrace sbom``: write a CycloneDX 1.6 ML-BOM from the record, a step, or model files (CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from aitrace.cli._common import emit_json
from aitrace.cli.options import json_option
from aitrace.report.terminal import terminal_safe


@click.command("sbom", short_help="Write a CycloneDX 1.6 ML-BOM.")
@click.option("--output", "-o", "output", metavar="FILE",
              help="Where to write the BOM ('-' or omitted: standard output).")
@click.option("--step", "step", metavar="STEP_ID",
              help="The step to describe (number or id); default: the latest deployment, "
                   "else optimization, else training step.")
@click.option("--model", "models", multiple=True, metavar="PATH",
              help="CI mode, no record needed: describe this model file or directory "
                   "(repeatable).")
@click.option("--env", "include_env", is_flag=True,
              help="CI mode: add the current Python environment's distributions as libraries.")
@json_option
def sbom_cmd(output: str | None, step: str | None, models: tuple[str, ...], include_env: bool,
             as_json: bool) -> None:
    """Write a CycloneDX 1.6 ML-BOM (validated against the schema before it is written).

    From the record: `aitrace sbom -o bom.cdx.json` (the deployed, optimised or trained model)
    or `aitrace sbom --step 7 -o bom.cdx.json`.

    In CI, without a record: `aitrace sbom --model m.onnx --env -o bom.cdx.json`.

    With --json a summary (components, model, licences, flagged licences) is printed instead of
    the BOM; the BOM is then written only to the -o FILE.
    """
    from aitrace.errors import InputError

    ci_mode = bool(models) or include_env
    if ci_mode and step is not None:
        raise InputError("--step describes a recorded step; --model/--env describe files "
                         "without a record", hint="use one or the other")
    if as_json and output == "-":
        raise InputError("--json prints the summary on standard output, so the BOM cannot go "
                         "there too", hint="write the BOM to a file with -o FILE")
    from aitrace.evidence.sbom.assemble import write_bom
    from aitrace.evidence.sbom.build import bom_from_files, bom_from_record, summarize

    doc: dict[str, Any]
    if ci_mode:
        doc = bom_from_files([Path(m) for m in models], include_env)
    else:
        from aitrace.store.workspace import Workspace

        doc = bom_from_record(Workspace.find(), step)
    data = write_bom(doc)
    target = None if output is None or output == "-" else Path(output)
    if target is not None:
        from aitrace.store.files import write_output

        write_output(target, data)
    if as_json:
        emit_json({**summarize(doc), "output": str(target) if target else None,
                   "valid": True})
        return
    if target is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    summary = summarize(doc)
    comps = summary["components"]
    click.echo(f"wrote {target}: CycloneDX {summary['spec_version']} ML-BOM, "
               f"{comps['total']} components, {summary['serial_number']}", err=True)
    for f in summary["flagged_licenses"]:
        click.echo(f"  licence needs review: {terminal_safe(f['component'])}: "
                   f"{terminal_safe(f['license'] or '(none)')} ({f['reason']})", err=True)
